/* fanout.h: new lines from serve's ring to the clients that were caught up, as soon as the
 * lines arrive: written directly with send() by the loop's thread and the send threads
 * (the fast path), or, with --send-path lws, all through libwebsockets' writable callback,
 * so that the two can be compared. The assumptions of the fast path are at the top of
 * fanout.c. */
#ifndef SERVE_FANOUT_H
#define SERVE_FANOUT_H

#include "met.h"

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

struct client;

enum send_path {
	SEND_DIRECT, /* caught-up clients get send() at once; the rest goes through libwebsockets */
	SEND_LWS,    /* every write goes through libwebsockets (lws_write in the writable callback) */
};

/* "direct" or "lws" as --send-path takes them; -1 for any other NAME. */
int fanout_path_parse(const char *name);
const char *fanout_path_name(enum send_path path);

/* What one thread sent, added to the metrics by the loop's thread. */
struct fanout_tally {
	uint64_t msgs;
	double bytes;
	uint64_t sends;  /* send() calls of the fast path */
	struct met *lat; /* the latency histogram itself, or a thread's own copy */
};

/* Registers the fan-out's metrics in REG and, on the direct path, starts THREADS send
 * threads beside the loop's. EXTS are the WebSocket extensions the context offers (NULL:
 * none, as serve's). Returns 0, or -1 with errno set. */
int fanout_start(struct met_reg *reg, enum send_path path, int threads, const struct lws_extension *exts,
		 uint32_t relay_lag, int relay_wait_ms);
void fanout_stop(void);

/* New lines are in the ring: every caught-up client is written to now (or asks for its
 * writable callback). Runs on the loop's thread, and returns when the round is over. */
void fanout_wake(void);

/* Called once a client's WebSocket is established: notes what about its connection keeps
 * it off the fast path for good (TLS, a stream inside HTTP/2, an extension). */
void fanout_client_start(struct client *c);

/* The list of caught-up clients: a client joins it when it has nothing more to send, and
 * leaves it when anything else is to be written to it (a reply, the cache, a close). */
void fanout_idle_add(struct client *c);
void fanout_idle_remove(struct client *c);

/* The relay gate. A client of this node gets a line only once every follower's relay in
 * step has it: should this node die, what any of its clients got is on every follower,
 * which is where the client resumes (a new leader then publishes again only what nobody
 * had). A relay more than --relay-lag lines behind, or one that took nothing for
 * --relay-wait while lines wait for it, leaves the gate (counted) and holds nobody back; it
 * rejoins once it moves again within the lag. */
void fanout_relay_add(struct client *c);
void fanout_relay_remove(struct client *c);
/* The ring sequence a client may be written up to (not including): the head for a relay
 * and when no relay is in the gate, else the slowest relay's position. */
uint64_t fanout_limit(const struct client *c);
/* Recomputes the gate after relays moved, and on the tick (a stalled relay moves nothing);
 * returns 1 when it opened further (the held clients are then due a wake). */
int fanout_gate_update(void);

/* Appends to OUT (CAP bytes) the ring messages from the client's position on that its
 * filter takes, looking at 8192 at most, and moves its position past them. Returns the
 * bytes written; *NEED is the length of a message that did not fit an empty OUT (the
 * caller needs a bigger one), else 0. Counts into T. */
size_t fanout_fill(struct client *c, unsigned char *out, size_t cap, struct fanout_tally *t, size_t *need);

#endif
