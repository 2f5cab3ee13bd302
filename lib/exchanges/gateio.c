/* Gate v4 spot (see shared/exchanges/gateio.md). Not implemented yet: every frame is skipped. */
#include "norm.h"
#include "xch.h"

#include <stdio.h>
#include <string.h>

static int gateio_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		       size_t errlen)
{
	int k = snprintf(out, n, "%s", base);
	if (k < 0 || (size_t)k >= n) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	return 0;
}

static int gateio_subscribe(const struct xch_sub *sub, int i, char *out, size_t n)
{
	return 0;
}

static int gateio_resync(const struct xch_sub *sub, const char *symbol, int i, char *out, size_t n)
{
	return 0;
}

static enum xch_frame gateio_classify(const char *f, size_t n)
{
	return XCH_FORWARD;
}

static int gateio_normalize(struct norm *n, const struct js_doc *d, int data)
{
	return norm_fail(n, NR_SHAPE, "not implemented");
}

const struct xch xch_gateio = {
	.name = "gateio",
	.default_url = "wss://api.gateio.ws/ws/v4/",
	.default_symbols = "BTC-USDT,ETH-USDT",
	.proto = {
		.url = gateio_url,
		.subscribe = gateio_subscribe,
		.resync = gateio_resync,
		.classify = gateio_classify,
		.keepalive_ms = 20000,
		.idle_timeout_ms = 60000,
	},
	.normalize = gateio_normalize,
};
