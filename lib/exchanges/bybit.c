/* Bybit v5 spot (see shared/exchanges/bybit.md). Not implemented yet: every frame is skipped. */
#include "norm.h"
#include "xch.h"

#include <stdio.h>
#include <string.h>

static int bybit_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		       size_t errlen)
{
	int k = snprintf(out, n, "%s", base);
	if (k < 0 || (size_t)k >= n) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	return 0;
}

static int bybit_subscribe(const struct xch_sub *sub, int i, char *out, size_t n)
{
	return 0;
}

static int bybit_resync(const struct xch_sub *sub, const char *symbol, int i, char *out, size_t n)
{
	return 0;
}

static enum xch_frame bybit_classify(const char *f, size_t n)
{
	return XCH_FORWARD;
}

static int bybit_normalize(struct norm *n, const struct js_doc *d, int data)
{
	return norm_fail(n, NR_SHAPE, "not implemented");
}

const struct xch xch_bybit = {
	.name = "bybit",
	.default_url = "wss://stream.bybit.com/v5/public/spot",
	.default_symbols = "BTC-USDT,ETH-USDT",
	.proto = {
		.url = bybit_url,
		.subscribe = bybit_subscribe,
		.resync = bybit_resync,
		.classify = bybit_classify,
		.keepalive_ms = 20000,
		.idle_timeout_ms = 60000,
	},
	.normalize = bybit_normalize,
};
