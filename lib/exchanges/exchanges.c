/* The table of exchanges. Adding an exchange: its file in lib/exchanges/, one line here. */
#include "xch.h"

#include <stdio.h>
#include <string.h>

extern const struct xch xch_binance;
extern const struct xch xch_upbit;
extern const struct xch xch_bithumb;
extern const struct xch xch_coinbase;
extern const struct xch xch_bybit;
extern const struct xch xch_okx;
extern const struct xch xch_kraken;
extern const struct xch xch_bitget;
extern const struct xch xch_gateio;
extern const struct xch xch_binance_futures;
extern const struct xch xch_bybit_linear;
extern const struct xch xch_bitget_futures;
extern const struct xch xch_gateio_futures;
extern const struct xch xch_hyperliquid;

const struct xch *const xch_all[] = {
	&xch_binance,
	&xch_upbit,
	&xch_bithumb,
	&xch_coinbase,
	&xch_bybit,
	&xch_okx,
	&xch_kraken,
	&xch_bitget,
	&xch_gateio,
	&xch_binance_futures,
	&xch_bybit_linear,
	&xch_bitget_futures,
	&xch_gateio_futures,
	&xch_hyperliquid,
	NULL,
};

const struct xch *xch_find(const char *name, size_t len)
{
	for (const struct xch *const *x = xch_all; *x; x++)
		if (strlen((*x)->name) == len && !memcmp((*x)->name, name, len))
			return *x;
	return NULL;
}

int xch_rest_host(const char *ws_base, const char *ws_default, const char *rest_default, char *out,
		  size_t n)
{
	if (!strncmp(ws_base, ws_default, strlen(ws_default))) {
		snprintf(out, n, "%s", rest_default);
		return 0;
	}
	const char *p = strstr(ws_base, "://");
	if (!p)
		return -1;
	p += 3;
	snprintf(out, n, "%s://%.*s", !strncmp(ws_base, "wss", 3) ? "https" : "http", (int)strcspn(p, "/?"), p);
	return 0;
}

int xch_parse_channels(const char *list)
{
	int bits = 0;
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n == 5 && !memcmp(p, "trade", 5))
			bits |= XCH_TRADE;
		else if (n == 6 && !memcmp(p, "ticker", 6))
			bits |= XCH_TICKER;
		else if (n == 4 && !memcmp(p, "book", 4))
			bits |= XCH_BOOK;
		else if (n == 9 && !memcmp(p, "book:full", 9))
			bits |= XCH_BOOK | XCH_BOOK_FULL;
		else if (n == 10 && !memcmp(p, "derivative", 10))
			bits |= XCH_DERIVATIVE;
		else if (n == 11 && !memcmp(p, "liquidation", 11))
			bits |= XCH_LIQUIDATION;
		else if (n)
			return -1;
		p += n;
		if (*p == ',')
			p++;
	}
	return bits ? bits : -1;
}
