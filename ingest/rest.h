/* rest.h: ingest's REST client — an HTTP GET (or a POST of a JSON body) whose JSON answer
 * becomes one envelope line, {"stream":TAG,"data":BODY}, bounded in size and in time, each
 * outcome counted. Order book snapshots and instrument metadata use it, and share its
 * slots. */
#ifndef INGEST_REST_H
#define INGEST_REST_H

#include "met.h"
#include "out.h"

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#define REST_MAX 8                  /* requests in flight at once */
#define REST_MAX_BODY (32u << 20)   /* a longer answer fails the request */
#define REST_MAX_POST 4096          /* the longest body a request may send */

struct rest_get {
	const struct out_src *src; /* whose line it is (must outlive the request) */
	const char *what;          /* what is fetched, a noun for log lines and events ("snapshot") */
	const char *symbol;        /* the symbol it is for; NULL or "": the detail names the
	                            * request's path instead */
	const char *url;           /* http:// or https:// */
	const char *post;          /* NULL or "": a GET; else this JSON is POSTed */
	const char *tag;           /* the line's stream name; plain text, no JSON escapes needed */
	struct met *ok, *failed;   /* outcomes counted here (must outlive the request) */
	/* Who waits for the answer (NULL: nobody): LEARN sees a good answer's body before its
	 * line is written, DONE hears of every end, good or not. OWNER and GEN come back as
	 * given, and rest_pending() counts by them. */
	void (*learn)(void *owner, const char *tag, const char *body, size_t len);
	void (*done)(void *owner);
	void *owner;
	unsigned gen;
};

/* What rest_fetch did. */
enum rest_start {
	REST_STARTED,    /* on its way */
	REST_JOINED,     /* the same request (source, URL, body) was on its way: its answer now
	                  * goes to this caller's LEARN and DONE, and counts for its OWNER and GEN */
	REST_BUSY,       /* every slot is taken: try again later */
	REST_REFUSED,    /* a bad URL, too long a field, or lws refused it */
};

/* Where requests are made; before the first. */
void rest_setup(struct lws_context *ctx, struct lws_vhost *vh, int timeout_ms);
/* Frees what the module holds; after the lws context is gone (which ends what is in flight). */
void rest_teardown(void);

/* Starts G. Its outcome is an envelope line (the body, or an error event) and a count in
 * G's counters. The strings are copied. */
enum rest_start rest_fetch(const struct rest_get *g);

/* Requests in flight for OWNER with generation GEN. */
int rest_pending(const void *owner, unsigned gen);
/* Slots free now. */
int rest_free_slots(void);

/* Ends the requests that passed the timeout given to rest_setup; called by the loop's tick. */
void rest_tick(int64_t now);

/* The lws protocol of REST requests; each one's user data is its request. */
int rest_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len);

#endif
