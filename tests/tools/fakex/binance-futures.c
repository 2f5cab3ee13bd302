/* binance-futures.c: Binance USDⓈ-M futures (fstream): Binance's protocol (binance.c) with
 * routed paths — book streams on /public, every other stream on /market, and a stream on
 * the wrong route accepted and never sent, as Binance does — futures stream names
 * (markPrice[@1s], forceOrder, quarterlies' btcusdt_250627), 200 streams a connection,
 * server pings every 3 minutes with 10 minutes to answer, and the REST depth snapshot on
 * /fapi/v1/depth. */

#include "binance.h"

static const char *const plain[] = {
	"aggTrade", "trade", "ticker", "miniTicker", "bookTicker", "forceOrder", NULL
};
static const char *const depth[] = { "depth", "depth5", "depth10", "depth20", NULL };
static const char *const speeds[] = { "@100ms", "@250ms", "@500ms", NULL };
static const char *const per_second[] = { "markPrice", NULL };
static const char *const all[] = {
	"!forceOrder@arr", "!markPrice@arr", "!markPrice@arr@1s", "!bookTicker", "!ticker@arr",
	"!miniTicker@arr", NULL
};

static const struct binance_rules futures = {
	.max_streams = 200,
	.plain = plain,
	.depth = depth,
	.speeds = speeds,
	.per_second = per_second,
	.all = all,
	.underscore = 1,
	.routed = 1,
	.rest_path = "/fapi/v1/depth",
};

/* Binance futures says 10 messages a second: we allow twice that. */
const struct dialect dl_binance_futures = {
	.name = "binance-futures",
	.ping_ms = 180000,
	.msg_limit = 20,
	.pongs_limited = 1,
	.retime_keys = binance_retime_keys,
	.reid_keys = binance_reid_keys,
	.target = binance_target,
	.frame = binance_frame,
	.request = binance_request,
	.want = binance_want,
	.http = binance_http,
	.rules = &futures,
};
