/* rest.h: ingest's REST client — an HTTP GET whose JSON body becomes one envelope line,
 * {"stream":TAG,"data":BODY}, bounded in size and in time, each outcome counted. Order book
 * snapshots use it today; instrument metadata is the next. */
#ifndef INGEST_REST_H
#define INGEST_REST_H

#include "met.h"
#include "out.h"

#include <libwebsockets.h>
#include <stdint.h>

#define REST_MAX 8                  /* requests in flight at once */
#define REST_MAX_BODY (32u << 20)   /* a longer body fails the request */
#define REST_TIMEOUT_MS 10000       /* a request not done by then fails */

struct rest_get {
	const struct out_src *src; /* whose line it is (must outlive the request) */
	const char *what;          /* what is fetched, a noun for log lines and events ("snapshot") */
	const char *symbol;        /* the symbol it is for */
	const char *url;           /* http:// or https:// */
	const char *tag;           /* the line's stream name; plain text, no JSON escapes needed */
	struct met *ok, *failed;   /* outcomes counted here (must outlive the request) */
};

/* Where requests are made; before the first. */
void rest_setup(struct lws_context *ctx, struct lws_vhost *vh);
/* Frees what the module holds; after the lws context is gone (which ends what is in flight). */
void rest_teardown(void);

/* Starts G, unless the same URL is already on its way for the same exchange. Its outcome is
 * an envelope line (the body, or an error event) and a count in G's counters. The strings are
 * copied. Returns 0, or -1 when it cannot start now (all requests busy, a bad URL, lws
 * refused it). */
int rest_fetch(const struct rest_get *g);

/* Ends the requests that passed REST_TIMEOUT_MS; called by the loop's tick. */
void rest_tick(int64_t now);

/* The lws protocol of REST requests; each one's user data is its request. */
int rest_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len);

#endif
