#include "rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int rundir_ensure(const char *dir, char *errbuf, size_t errlen)
{
	char tmp[4096];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof tmp) {
		snprintf(errbuf, errlen, "bad run directory");
		return -1;
	}
	memcpy(tmp, dir, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) && errno != EEXIST) {
			snprintf(errbuf, errlen, "%s: %s", tmp, strerror(errno));
			return -1;
		}
		*p = '/';
	}
	if (mkdir(tmp, 0755) && errno != EEXIST) {
		snprintf(errbuf, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	return 0;
}

int rundir_path(const char *dir, const char *name, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int rundir_read(const char *dir, const char *name, char *buf, size_t size)
{
	char path[4096];
	if (rundir_path(dir, name, path, sizeof path))
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = 0;
	return (int)n;
}

enum role rundir_role(const char *dir)
{
	char buf[64];
	if (rundir_read(dir, "role", buf, sizeof buf) < 0)
		return ROLE_LEADER;
	if (!strcmp(buf, "follower"))
		return ROLE_FOLLOWER;
	return strcmp(buf, "standby") ? ROLE_LEADER : ROLE_STANDBY;
}

const char *role_name(enum role r)
{
	return r == ROLE_LEADER ? "leader" : r == ROLE_STANDBY ? "standby" : "follower";
}

int rundir_write(const char *dir, const char *name, const char *content, char *errbuf,
		 size_t errlen)
{
	char path[4096], tmp[4200];
	if (rundir_path(dir, name, path, sizeof path)) {
		snprintf(errbuf, errlen, "path too long");
		return -1;
	}
	snprintf(tmp, sizeof tmp, "%s/.%s.%d", dir, name, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(errbuf, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	size_t len = strlen(content);
	ssize_t w = write(fd, content, len);
	close(fd);
	if (w < 0 || (size_t)w != len || rename(tmp, path)) {
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int rundir_write_pid(const char *dir, const char *tool, char *errbuf, size_t errlen)
{
	char name[128], pid[32];
	snprintf(name, sizeof name, "%s.pid", tool);
	snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	return rundir_write(dir, name, pid, errbuf, errlen);
}

void rundir_remove_pid(const char *dir, const char *tool)
{
	char name[128], buf[32], path[4096];
	snprintf(name, sizeof name, "%s.pid", tool);
	if (rundir_read(dir, name, buf, sizeof buf) > 0 && atoi(buf) == (int)getpid() &&
	    !rundir_path(dir, name, path, sizeof path))
		unlink(path);
}

int rundir_listen_unix(const char *path, struct rundir_file *file, char *errbuf, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(errbuf, errlen, "%s: path too long for a unix socket", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	/* A socket that accepts a connection is another process's, alive: never take it over. */
	int probe = rundir_connect_unix(path);
	if (probe >= 0) {
		close(probe);
		snprintf(errbuf, errlen, "%s: another process listens on it", path);
		errno = EADDRINUSE;
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(errbuf, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (!lstat(path, &st) && S_ISSOCK(st.st_mode))
		unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 16) || stat(path, &st)) {
		int e = errno;
		snprintf(errbuf, errlen, "%s: %s", path, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	file->dev = st.st_dev;
	file->ino = st.st_ino;
	return fd;
}

void rundir_remove_unix(const char *path, const struct rundir_file *file)
{
	struct stat st;
	if (!lstat(path, &st) && st.st_dev == file->dev && st.st_ino == file->ino)
		unlink(path);
}

int rundir_connect_unix(const char *path)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int fd_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void fd_grow_pipe(int fd)
{
	struct stat st;
	if (!fstat(fd, &st) && S_ISFIFO(st.st_mode))
		fcntl(fd, F_SETPIPE_SZ, 1 << 20); /* capped by /proc/sys/fs/pipe-max-size: best effort */
}
