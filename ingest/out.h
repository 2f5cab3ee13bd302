/* out.h: ingest's output — envelope lines through one bounded queue to stdout. */
#ifndef INGEST_OUT_H
#define INGEST_OUT_H

#include "met.h"

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

/* Whose lines: the exchange they name, and where a line dropped for want of room is counted
 * (NULL: not counted). The caller keeps it for as long as it writes lines. */
struct out_src {
	const char *exchange;
	struct met *dropped;
};

/* Sets up the queue for FD (made non-blocking, its pipe grown): CAP bytes, and at least
 * twice MAX_LINE, the longest line, or such a line could never pass. Returns 0, or -1 when
 * out of memory. */
int out_init(int fd, size_t cap, size_t max_line);
/* Watches the fd in VH's loop through the protocol PROTOCOL, whose callback is
 * out_lws_callback. Returns 0, or -1. */
int out_watch(struct lws_vhost *vh, const char *protocol);
void out_free(void);

/* The longest line the queue takes. */
size_t out_max_line(void);
/* Bytes queued and not yet written. */
size_t out_pending(void);

/* A connection's event as an envelope line: connected, disconnected, error. DETAIL may be NULL. */
void out_event(const struct out_src *s, const char *event, const char *detail);
/* FRAME (JSON) as the data of an envelope line received at LOCAL_TS (µs); the raw newlines
 * and carriage returns in it become spaces, in place. */
void out_frame(const struct out_src *s, char *frame, size_t n, int64_t local_ts);

/* Writes what is queued, at the end of the loop turn that queued it: a line costs no extra
 * turn through poll, and the lines of one turn go out in one write. Called from the loop
 * only, never from a callback of the output (see out_lws_callback). Returns 0, or the errno
 * of a failed write (EPIPE: the reader closed it), after which the queue is empty. */
int out_flush(void);
/* Gives the reader what is still queued, waiting for it at most TIMEOUT_MS in all. */
void out_drain(int timeout_ms);

int out_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len);

#endif
