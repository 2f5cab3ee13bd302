/* Bitget v2 USDT-margined futures (see shared/exchanges/bitget-futures.md): Bitget's spot
 * protocol (bitget.h) with instType "USDT-FUTURES". BTCUSDT is BTC-USDT-PERP; sizes are in
 * the base currency. The ticker carries the derivative data: mark and index prices, the
 * funding rate, the next funding time and the open interest. Bitget publishes no
 * liquidation channel. */
#include "bitget.h"

static const struct bitget_product futures = { "USDT-FUTURES", 1 };

static int bgf_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		   size_t errlen)
{
	return bitget_url_of(&futures, sub, base, out, n, err, errlen);
}

static int bgf_subscribe(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out, size_t n)
{
	return bitget_subscribe_of(&futures, sub, conn, i, out, n);
}

static int bgf_resync(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i,
		      char *out, size_t n)
{
	return bitget_resync_of(&futures, sub, conn, symbol, i, out, n);
}

static int bgf_normalize(struct norm *n, const struct js_doc *d, int o)
{
	return bitget_normalize_of(&futures, n, d, o);
}

const struct xch xch_bitget_futures = {
	.name = "bitget-futures",
	.default_url = "wss://ws.bitget.com/v2/ws/public",
	.default_symbols = "BTC-USDT-PERP,ETH-USDT-PERP",
	.proto = {
		.url = bgf_url,
		.subscribe = bgf_subscribe,
		.resync = bgf_resync,
		.classify = bitget_classify,
		/* As on spot: 10 messages a second, pings included; text "ping" every 25 s
		 * (the server cuts after 2 minutes without one). */
		.sub_gap_ms = 200,
		.keepalive_ms = 25000,
		.keepalive_text = "ping",
		.idle_timeout_ms = 65000,
	},
	.normalize = bgf_normalize,
};
