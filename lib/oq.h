/* oq.h: a bounded output queue of whole lines in front of a non-blocking file descriptor. */
#ifndef OQ_H
#define OQ_H

#include <stddef.h>
#include <stdint.h>

struct oq {
	int fd;
	char *buf;
	size_t cap, head, len; /* pending bytes are buf[head .. head+len) */
	uint64_t dropped;      /* lines refused because the queue was full */
	uint64_t written;      /* bytes written to fd */
};

/* Allocates a queue of CAP bytes for FD (which the caller made non-blocking).
 * Returns 0, or -1 when out of memory. */
int oq_init(struct oq *q, int fd, size_t cap);
void oq_free(struct oq *q);

/* Queues the line S (its newline included by the caller). Returns 0, or -1 when it does not
 * fit: the line is dropped whole and counted, never cut. */
int oq_push(struct oq *q, const char *s, size_t n);
/* Room left, in bytes. */
static inline size_t oq_room(const struct oq *q) { return q->cap - q->len; }

/* Writes what the fd accepts. Returns 0 when the queue is empty, 1 when bytes remain
 * (wait for POLLOUT), -1 when the fd failed (errno set; EPIPE: the reader is gone). */
int oq_flush(struct oq *q);

/* Flushes until the queue is empty, waiting for the fd up to TIMEOUT_MS in all (-1: no
 * limit). Returns 0 when empty, 1 on timeout, -1 when the fd failed. */
int oq_drain(struct oq *q, int timeout_ms);

#endif
