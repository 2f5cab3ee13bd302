#include "oq.h"

#include "clock.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int oq_init(struct oq *q, int fd, size_t cap)
{
	memset(q, 0, sizeof *q);
	q->fd = fd;
	q->cap = cap;
	q->buf = malloc(cap);
	return q->buf ? 0 : -1;
}

void oq_free(struct oq *q)
{
	free(q->buf);
	q->buf = NULL;
}

int oq_push(struct oq *q, const char *s, size_t n)
{
	if (n > q->cap - q->len) {
		q->dropped++;
		return -1;
	}
	if (q->head + q->len + n > q->cap) {
		memmove(q->buf, q->buf + q->head, q->len);
		q->head = 0;
	}
	memcpy(q->buf + q->head + q->len, s, n);
	q->len += n;
	return 0;
}

int oq_flush(struct oq *q)
{
	while (q->len) {
		ssize_t w = write(q->fd, q->buf + q->head, q->len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -1;
		}
		q->head += (size_t)w;
		q->len -= (size_t)w;
		q->written += (uint64_t)w;
	}
	q->head = 0;
	return 0;
}

int oq_drain(struct oq *q, int timeout_ms)
{
	int64_t deadline = clk_mono_us() + (int64_t)timeout_ms * 1000;
	for (;;) {
		int r = oq_flush(q);
		if (r <= 0)
			return r;
		int wait = -1;
		if (timeout_ms >= 0) {
			int64_t left = deadline - clk_mono_us();
			if (left <= 0)
				return 1;
			wait = (int)(left / 1000) + 1;
		}
		struct pollfd p = { .fd = q->fd, .events = POLLOUT };
		if (poll(&p, 1, wait) < 0 && errno != EINTR)
			return -1;
	}
}
