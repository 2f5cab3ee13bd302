/* input.c: serve's input of lines, taken from a pipe only once journaled (see input.h). */
#include "input.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A pipe holds up to 1 MiB when the system allows it (fs.pipe-max-size, 1 MiB by default). */
#define PIPE_WANT (1 << 20)

static struct {
	int peek;      /* peeking: lines are taken from the pipe once journaled */
	int fd;        /* the input */
	int copy[2];   /* the private pipe tee(2) copies into */
	size_t size;   /* what the input pipe holds at most */
	size_t copied; /* bytes of the last fill, still in the input pipe */
} I = { .fd = -1, .copy = { -1, -1 } };

static void plain(struct ndj *r, const char *why)
{
	if (!I.peek)
		return;
	if (why)
		log_warn("input read as it comes from now on: a crash may lose the lines in hand",
			 " reason=\"%s\"", why);
	I.peek = 0;
	r->fd = I.fd;
}

void input_start(struct ndj *r, int peek)
{
	struct stat st;
	I.fd = r->fd;
	if (!peek || fstat(I.fd, &st) || !S_ISFIFO(st.st_mode))
		return;
	if (pipe2(I.copy, O_CLOEXEC | O_NONBLOCK)) {
		log_warn("input read as it comes: no pipe to peek through", " error=\"%s\"", strerror(errno));
		return;
	}
	/* Both pipes alike, as large as allowed, so one copy takes what the input holds. */
	fcntl(I.fd, F_SETPIPE_SZ, PIPE_WANT);
	int size = fcntl(I.fd, F_GETPIPE_SZ);
	if (size <= 0 || fcntl(I.copy[1], F_SETPIPE_SZ, size) < size) {
		log_warn("input read as it comes: pipe sizes cannot match", NULL);
		input_stop();
		return;
	}
	I.size = (size_t)size;
	I.peek = 1;
	r->fd = I.copy[0];
	log_info("input taken from its pipe once journaled", " pipe_bytes=%d", size);
}

void input_stop(void)
{
	for (int i = 0; i < 2; i++)
		if (I.copy[i] >= 0)
			close(I.copy[i]);
	I.copy[0] = I.copy[1] = -1;
	I.peek = 0;
}

long input_fill(struct ndj *r)
{
	if (!I.peek)
		return ndj_fill(r);
	ssize_t n = tee(I.fd, I.copy[1], I.size, SPLICE_F_NONBLOCK);
	if (n < 0 && errno == EAGAIN)
		return -1;
	if (n <= 0) {
		/* 0: the writers are gone and the pipe is empty; or tee refuses this pipe. */
		plain(r, n < 0 ? strerror(errno) : NULL);
		return ndj_fill(r);
	}
	I.copied = (size_t)n;
	size_t got = 0;
	while (got < I.copied) {
		long k = ndj_fill(r);
		if (k <= 0) { /* cannot happen: the bytes are in the private pipe */
			plain(r, "the copy of the input could not be read back");
			return got ? (long)got : -1;
		}
		got += (size_t)k;
	}
	return (long)got;
}

int input_done(struct ndj *r)
{
	if (!I.peek || !I.copied)
		return 0;
	size_t rest = r->end - r->start, take = I.copied - rest;
	if (r->discarding || (!take && I.copied >= I.size)) {
		/* A line longer than the pipe holds can never be copied whole: take it as it comes
		 * (the bytes in hand are taken from the pipe, R keeps them). */
		take = I.copied;
		rest = 0;
		plain(r, "a line longer than the input pipe holds");
	}
	char sink[65536];
	while (take) {
		ssize_t k = read(I.fd, sink, take < sizeof sink ? take : sizeof sink);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) { /* cannot happen: only this process reads the input */
			log_error("cannot take journaled lines from the input", " error=\"%s\"",
				  k < 0 ? strerror(errno) : "end of input");
			break;
		}
		take -= (size_t)k;
	}
	int stalled = I.copied == rest;
	r->end -= rest; /* the incomplete rest comes again with the next copy */
	I.copied = 0;
	return stalled && I.peek;
}

void input_plain(struct ndj *r)
{
	plain(r, NULL);
}
