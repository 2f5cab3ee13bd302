/* slowdns.so, for LD_PRELOAD: getaddrinfo of a name (not of a numeric address) hangs while
 * the file named by $SLOWDNS_FILE exists (60 s at most), as a resolver that stops answering
 * does, then answers. Each lookup made while it hangs is counted in $SLOWDNS_FILE.count, one
 * line each, so a test can tell whether a program looked names up at all. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res)
{
	getaddrinfo_fn real = (getaddrinfo_fn)dlsym(RTLD_NEXT, "getaddrinfo");
	const char *file = getenv("SLOWDNS_FILE");
	unsigned char a[16];
	int numeric = node && (inet_pton(AF_INET, node, a) == 1 || inet_pton(AF_INET6, node, a) == 1);
	if (file && node && !numeric && access(file, F_OK) == 0) {
		char count[4096];
		snprintf(count, sizeof count, "%s.count", file);
		int fd = open(count, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0) {
			ssize_t w = write(fd, "lookup\n", 7);
			(void)w;
			close(fd);
		}
		for (int i = 0; i < 600 && access(file, F_OK) == 0; i++)
			usleep(100000);
	}
	return real ? real(node, service, hints, res) : EAI_SYSTEM;
}
