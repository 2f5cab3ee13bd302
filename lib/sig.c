#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int sig_wfd = -1;
static sigset_t sig_handled;

static void on_signal(int signo)
{
	int saved = errno;
	unsigned char b = (unsigned char)signo;
	ssize_t w = write(sig_wfd, &b, 1); /* a full pipe already holds a wake-up */
	(void)w;
	errno = saved;
}

int sig_init(const int *signals, char *errbuf, size_t errlen)
{
	int p[2];
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC)) {
		snprintf(errbuf, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	sig_wfd = p[1];
	sigemptyset(&sig_handled);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (const int *s = signals; *s; s++) {
		if (sigaction(*s, &sa, NULL)) {
			snprintf(errbuf, errlen, "sigaction %d: %s", *s, strerror(errno));
			return -1;
		}
		sigaddset(&sig_handled, *s);
	}
	signal(SIGPIPE, SIG_IGN);
	return p[0];
}

int sig_next(int fd)
{
	unsigned char b;
	ssize_t n = read(fd, &b, 1);
	return n == 1 ? b : 0;
}

void sig_block_all(void)
{
	pthread_sigmask(SIG_BLOCK, &sig_handled, NULL);
}

void sig_unblock_all(void)
{
	pthread_sigmask(SIG_UNBLOCK, &sig_handled, NULL);
}
