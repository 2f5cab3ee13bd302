/* gateio.h: what Gate v4's spot and futures dialects share (gateio.c): the connection's
 * name, and the answer to a request. */
#ifndef FAKEX_GATEIO_H
#define FAKEX_GATEIO_H

#include "fakex.h"

/* A request being answered. */
struct grq {
	struct conn *c;
	const struct req *r;
	const char *id;		/* a numeric id as sent, echoed byte for byte */
	size_t idlen;
	const char *channel;
	const char *event;
	int payload;		/* -1: none */
	struct keyset keys;
};

void gate_open(struct conn *c);
/* {"time","time_ms",["id",]"conn_id","trace_id","channel","event",["payload",]["error",]
 * "result"}; CODE 0 is a success, else MSG says why (and the request is counted as
 * rejected). */
void gate_reply(struct grq *q, int code, const char *msg);
/* The checks every request takes first (WELL_FORMED: what the dialect checked before, such
 * as a channel): an event that is subscribe or unsubscribe, a time, a payload. Returns 1 for
 * subscribe, 0 for unsubscribe, -1 when the request was refused (and answered). */
int gate_request_start(struct grq *q, int well_formed);
/* Code 2 with the message; returns -1. */
__attribute__((format(printf, 2, 3)))
int bad_arg(struct grq *q, const char *fmt, ...);

#endif
