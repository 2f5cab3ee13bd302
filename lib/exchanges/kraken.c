/* Kraken v2 (see shared/exchanges/kraken.md). Not implemented yet: every frame is skipped. */
#include "norm.h"
#include "xch.h"

#include <stdio.h>
#include <string.h>

static int kraken_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		       size_t errlen)
{
	int k = snprintf(out, n, "%s", base);
	if (k < 0 || (size_t)k >= n) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	return 0;
}

static int kraken_subscribe(const struct xch_sub *sub, int i, char *out, size_t n)
{
	return 0;
}

static int kraken_resync(const struct xch_sub *sub, const char *symbol, int i, char *out, size_t n)
{
	return 0;
}

static enum xch_frame kraken_classify(const char *f, size_t n)
{
	return XCH_FORWARD;
}

static int kraken_normalize(struct norm *n, const struct js_doc *d, int data)
{
	return norm_fail(n, NR_SHAPE, "not implemented");
}

const struct xch xch_kraken = {
	.name = "kraken",
	.default_url = "wss://ws.kraken.com/v2",
	.default_symbols = "BTC-USD,ETH-USD",
	.proto = {
		.url = kraken_url,
		.subscribe = kraken_subscribe,
		.resync = kraken_resync,
		.classify = kraken_classify,
		.keepalive_ms = 20000,
		.idle_timeout_ms = 60000,
	},
	.normalize = kraken_normalize,
};
