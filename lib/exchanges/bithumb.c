/* Bithumb (Korea): its current public WebSocket API speaks Upbit's protocol — the same
 * request array, QUOTE-BASE codes, DEFAULT/SIMPLE formats, PING/{"status":"UP"} keep-alive
 * and full-snapshot order books (see shared/exchanges/bithumb.md). What differs is read by
 * the shared code: ids and timestamps may come as strings, timestamps in ms or µs. */
#include "norm.h"
#include "upbit.h"
#include "xch.h"

const struct xch xch_bithumb = {
	.name = "bithumb",
	.default_url = "wss://ws-api.bithumb.com/websocket/v1",
	.default_symbols = "BTC-KRW,ETH-KRW,XRP-KRW,USDT-KRW",
	.proto = {
		.url = upbit_url,
		.subscribe = upbit_subscribe,
		.resync = upbit_resync,
		.classify = upbit_classify,
		.keepalive_ms = 20000,
		.keepalive_text = "PING",
		.idle_timeout_ms = 45000,
		.binary_is_text = 1,
		.resync_all = 1,
	},
	.normalize = upbit_normalize,
};
