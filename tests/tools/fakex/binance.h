/* binance.h: Binance's dialect as its spot and USDⓈ-M futures variants share it
 * (binance.c); binance-futures.c gives the futures' rules. */
#ifndef FAKEX_BINANCE_H
#define FAKEX_BINANCE_H

#include "fakex.h"

/* What tells the variants apart (the dialect's rules). */
struct binance_rules {
	int max_streams;		/* per connection */
	const char *const *plain;	/* channels that take no suffix */
	const char *const *depth;	/* book channels, which take an update speed ... */
	const char *const *speeds;	/* ... one of these ("@100ms") */
	const char *const *per_second;	/* channels that take "@1s" (markPrice); NULL: none */
	const char *const *all;		/* all-market streams ("!forceOrder@arr"); NULL: none */
	int underscore;			/* symbols may hold '_' (quarterlies, btcusdt_250627) */
	int routed;			/* books on /public, the rest on /market (futures) */
	const char *rest_path;		/* the REST depth snapshot's path */
};

int binance_target(const char *path, struct conn *c, char *why, size_t wl);
int binance_frame(struct rline *l, const struct js_doc *d, int f);
void binance_want(struct conn *c);
void binance_request(struct conn *c, const char *text, size_t len);
int binance_http(struct lws *wsi, const char *uri, const char *body, size_t len);

extern const char *const binance_retime_keys[], *const binance_reid_keys[];

#endif
