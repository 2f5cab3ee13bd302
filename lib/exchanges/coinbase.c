/* Coinbase Advanced Trade (see shared/exchanges/coinbase.md). Not implemented yet: every frame is skipped. */
#include "norm.h"
#include "xch.h"

#include <stdio.h>
#include <string.h>

static int coinbase_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		       size_t errlen)
{
	int k = snprintf(out, n, "%s", base);
	if (k < 0 || (size_t)k >= n) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	return 0;
}

static int coinbase_subscribe(const struct xch_sub *sub, int i, char *out, size_t n)
{
	return 0;
}

static int coinbase_resync(const struct xch_sub *sub, const char *symbol, int i, char *out, size_t n)
{
	return 0;
}

static enum xch_frame coinbase_classify(const char *f, size_t n)
{
	return XCH_FORWARD;
}

static int coinbase_normalize(struct norm *n, const struct js_doc *d, int data)
{
	return norm_fail(n, NR_SHAPE, "not implemented");
}

const struct xch xch_coinbase = {
	.name = "coinbase",
	.default_url = "wss://advanced-trade-ws.coinbase.com",
	.default_symbols = "BTC-USD,ETH-USD",
	.proto = {
		.url = coinbase_url,
		.subscribe = coinbase_subscribe,
		.resync = coinbase_resync,
		.classify = coinbase_classify,
		.keepalive_ms = 20000,
		.idle_timeout_ms = 60000,
	},
	.normalize = coinbase_normalize,
};
