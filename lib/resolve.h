/* resolve.h: host names looked up off the event loop.
 *
 * lws looks a name up with a blocking getaddrinfo inside lws_client_connect_via_info. A
 * resolver that stops answering (a container network's while containers come and go, a
 * DNS server that went away) would hold the tool's whole loop meanwhile: every other
 * connection, the pipes, the timers. Here each lookup runs on a thread of its own; the loop
 * asks again until it has the answer, then connects to the numeric address, with the name
 * still in Host and in TLS's SNI and certificate check. */
#ifndef RESOLVE_H
#define RESOLVE_H

#include <stddef.h>
#include <stdint.h>

/* Lookup threads alive at once, over the whole process: lookups that hang are not waited
 * for, so a name that never answers cannot pile threads up. */
#define LOOKUP_MAX_THREADS 32
/* How often a loop asks whether its lookup has answered, and when a lookup counts as slow
 * (said once, counted). */
#define LOOKUP_POLL_US 20000
#define LOOKUP_SLOW_US 1000000

struct resolve;

/* One caller's lookup: zeroed to start, one at a time. */
struct lookup {
	struct resolve *r; /* running or answered, not yet taken */
	char host[256];    /* the name it is for */
	int64_t started;   /* when it began (monotonic µs) */
	int slow;          /* lookup_slow said so already */
	unsigned turn;     /* the next answer's address, round-robin over what the name gives */
};

/* HOST's numeric address in ADDR: 1 when there (at once for an address already numeric),
 * 0 while the lookup runs (ask again later), -1 when it failed, ERR saying why. A name with
 * several addresses gives the next one each time, IPv4 before IPv6. */
int lookup_addr(struct lookup *l, const char *host, char *addr, size_t n, char *err, size_t errn);

/* How long the running lookup has taken so far (µs), 0 when none runs. */
int64_t lookup_elapsed(const struct lookup *l);

/* 1 once per lookup, the first time it is asked after LOOKUP_SLOW_US without an answer: the
 * moment to say so. */
int lookup_slow(struct lookup *l);

/* Forgets the lookup; a thread still waiting for the resolver ends on its own. */
void lookup_cancel(struct lookup *l);

/* Lookup threads alive now (for tests and metrics). */
int lookup_threads(void);

#endif
