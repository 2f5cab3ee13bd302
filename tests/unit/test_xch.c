#include "exchanges/xch.h"
#include "unit.h"

#include <stdio.h>
#include <unistd.h>

static struct xch_sub sub; /* large: kept out of the stack */

static const struct xch *setup(const char *name, const char *sym, int channels)
{
	memset(&sub, 0, sizeof sub);
	sub.channels = channels;
	sub.nsym = 1;
	snprintf(sub.sym[0], SYM_MAX, "%s", sym);
	return xch_find(name, strlen(name));
}

/* Resync message I for SYM on connection C, as text ("" when there is none, "ERR" when it
 * cannot be built). */
static const char *resync(const struct xch *x, struct xch_conn *c, const char *sym, int i)
{
	static char out[4096];
	int k = x->proto.resync(&sub, c, sym, i, out, sizeof out);
	if (k < 0)
		return "ERR";
	out[k] = 0;
	return out;
}

static const char *subscribe(const struct xch *x, struct xch_conn *c, int i)
{
	static char out[65536];
	int k = x->proto.subscribe(&sub, c, i, out, sizeof out);
	if (k < 0)
		return "ERR";
	out[k] = 0;
	return out;
}

#define HAS(text, part) CHECK(strstr((text), (part)) != NULL)

static void test_request_ids(void)
{
	struct xch_conn a = { 0 }, b = { 0 };
	const struct xch *x = setup("binance", "BTC-USDT", XCH_BOOK);
	HAS(resync(x, &a, "BTC-USDT", 0), "\"id\":1000}");
	HAS(resync(x, &a, "BTC-USDT", 0), "\"id\":1001}");
	HAS(resync(x, &b, "BTC-USDT", 0), "\"id\":1000}"); /* another connection, its own ids */
	HAS(resync(x, &a, "BTC-USDT", 0), "\"id\":1002}");

	struct xch_conn k = { 0 };
	x = setup("kraken", "BTC-USD", XCH_BOOK);
	HAS(subscribe(x, &k, 1), "\"req_id\":4}"); /* subscribe ids are the channel's */
	HAS(resync(x, &k, "BTC-USD", 0), "\"method\":\"unsubscribe\"");
	HAS(resync(x, &k, "BTC-USD", 0), "\"req_id\":1001}");
	HAS(resync(x, &k, "BTC-USD", 1), "\"req_id\":1002}");

	struct xch_conn y = { 0 };
	x = setup("bybit", "BTC-USDT", XCH_BOOK);
	HAS(resync(x, &y, "BTC-USDT", 0), "\"req_id\":\"resync-1-unsub\"");
	HAS(resync(x, &y, "BTC-USDT", 1), "\"req_id\":\"resync-1-sub\"");
	HAS(resync(x, &y, "BTC-USDT", 0), "\"req_id\":\"resync-2-unsub\"");

	/* Upbit and Bithumb share their code, not their tickets. */
	struct xch_conn u = { 0 }, h = { 0 };
	char ticket[64];
	x = setup("upbit", "BTC-KRW", XCH_BOOK);
	snprintf(ticket, sizeof ticket, "\"relay-%d-1\"", (int)getpid());
	HAS(subscribe(x, &u, 0), ticket);
	snprintf(ticket, sizeof ticket, "\"relay-%d-2\"", (int)getpid());
	HAS(resync(x, &u, "BTC-KRW", 0), ticket);
	x = setup("bithumb", "BTC-KRW", XCH_BOOK);
	snprintf(ticket, sizeof ticket, "\"relay-%d-1\"", (int)getpid());
	HAS(subscribe(x, &h, 0), ticket);
}

/* Bitget allows 240 subscribe requests an hour per connection, of which the relay spends
 * 230; a resync (unsubscribe + subscribe) that the budget cannot pay for is a reconnect. */
static void test_bitget_budget(void)
{
	struct xch_conn a = { 0 }, b = { 0 };
	const struct xch *x = setup("bitget", "BTC-USDT", XCH_BOOK);
	HAS(subscribe(x, &a, 0), "\"op\":\"subscribe\"");
	CHECK_STR(subscribe(x, &a, 1), "");
	int pairs = 0;
	while (pairs < 200 && resync(x, &a, "BTC-USDT", 0)[0]) {
		HAS(resync(x, &a, "BTC-USDT", 1), "\"op\":\"subscribe\"");
		pairs++;
	}
	CHECK_INT(pairs, (230 - 1) / 2); /* 1 subscribe, then 2 per resync */
	CHECK_STR(resync(x, &a, "BTC-USDT", 0), "");
	/* Another connection has its own allowance. */
	HAS(resync(x, &b, "BTC-USDT", 0), "\"op\":\"unsubscribe\"");
	/* Subscribe message 0 starts a new connection, with a new allowance. */
	HAS(subscribe(x, &a, 0), "\"op\":\"subscribe\"");
	HAS(resync(x, &a, "BTC-USDT", 0), "\"op\":\"unsubscribe\"");
}

/* SUB with several symbols. */
static const struct xch *setup_n(const char *name, const char *const *syms, int channels)
{
	memset(&sub, 0, sizeof sub);
	sub.channels = channels;
	for (; *syms; syms++)
		snprintf(sub.sym[sub.nsym++], SYM_MAX, "%s", *syms);
	return xch_find(name, strlen(name));
}

static const char *url(const struct xch *x, const char *base)
{
	static char out[8192];
	char err[256];
	if (x->proto.url(&sub, base ? base : x->default_url, out, sizeof out, err, sizeof err) < 0)
		snprintf(out, sizeof out, "ERR %s", err);
	return out;
}

/* Metadata request I as "URL BODY TAG", "" when there is none. */
static const char *meta(const struct xch *x, const char *base, int i)
{
	static char out[4096];
	char u[2048], b[256], t[64];
	int k = x->proto.meta(&sub, base ? base : x->default_url, i, u, sizeof u, b, sizeof b, t, sizeof t);
	if (k < 0)
		return "ERR";
	if (!k)
		return "";
	snprintf(out, sizeof out, "%s %s %s", u, b[0] ? b : "-", t);
	return out;
}

static void test_channels(void)
{
	CHECK_INT(xch_parse_channels("derivative"), XCH_DERIVATIVE);
	CHECK_INT(xch_parse_channels("trade,liquidation"), XCH_TRADE | XCH_LIQUIDATION);
	CHECK_INT(xch_parse_channels("funding"), -1);
	CHECK(XCH_ALL_CHANNELS & XCH_DERIVATIVE);
	CHECK(XCH_ALL_CHANNELS & XCH_LIQUIDATION);
	static const char *const ids[] = { "binance-futures", "bybit-linear", "okx", "bitget-futures",
					   "gateio-futures", "hyperliquid" };
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
		CHECK(xch_find(ids[i], strlen(ids[i])) != NULL);
}

static void test_binance_futures(void)
{
	static const char *const syms[] = { "BTC-USDT-PERP", "ETH-USDT-20250627", NULL };
	const struct xch *x = setup_n("binance-futures", syms, XCH_BOOK);
	CHECK_STR(url(x, NULL), "wss://fstream.binance.com/public/stream?streams=btcusdt@depth20@100ms/ethusdt_250627@depth20@100ms");
	sub.channels = XCH_BOOK | XCH_BOOK_FULL;
	CHECK_STR(url(x, "ws://127.0.0.1:9/"), "ws://127.0.0.1:9/public/stream?streams=btcusdt@depth@100ms/ethusdt_250627@depth@100ms");
	sub.channels = XCH_TRADE | XCH_TICKER | XCH_DERIVATIVE | XCH_LIQUIDATION;
	CHECK_STR(url(x, NULL), "wss://fstream.binance.com/market/stream?streams=btcusdt@aggTrade/btcusdt@ticker/btcusdt@markPrice@1s/btcusdt@forceOrder/ethusdt_250627@aggTrade/ethusdt_250627@ticker/ethusdt_250627@markPrice@1s/ethusdt_250627@forceOrder");
	sub.channels = XCH_ALL_CHANNELS;
	HAS(url(x, NULL), "ERR book streams travel on /public");
	/* The split: books in one group, the rest in the other. */
	CHECK_INT(x->proto.split[0], XCH_BOOK | XCH_BOOK_FULL);
	CHECK_INT(x->proto.split[1], XCH_TRADE | XCH_TICKER | XCH_DERIVATIVE | XCH_LIQUIDATION);
	char u[512], t[64];
	CHECK_INT(x->proto.rest(&sub, x->default_url, "ETH-USDT-20250627", u, sizeof u, t, sizeof t), 0);
	CHECK_STR(u, "https://fapi.binance.com/fapi/v1/depth?symbol=ETHUSDT_250627&limit=1000");
	CHECK_STR(t, "ethusdt_250627@depthSnapshot");
	struct xch_conn c = { 0 };
	CHECK_STR(resync(x, &c, "BTC-USDT-PERP", 0), "{\"method\":\"SUBSCRIBE\",\"params\":[\"btcusdt@depth20@100ms\"],\"id\":1000}");
	static const char *const spot[] = { "BTC-USDT", NULL };
	setup_n("binance-futures", spot, XCH_TRADE);
	HAS(url(x, NULL), "ERR bad symbol BTC-USDT");
}

static void test_bybit_linear(void)
{
	static const char *const syms[] = { "BTC-USDT-PERP", "BTC-USDC-PERP", "BTC-USDT-20250221",
					    "BTC-USDC-20251226", NULL };
	struct xch_conn c = { 0 };
	const struct xch *x = setup_n("bybit-linear", syms, XCH_ALL_CHANNELS);
	CHECK_STR(url(x, NULL), "wss://stream.bybit.com/v5/public/linear");
	CHECK_STR(subscribe(x, &c, 0),
		  "{\"op\":\"subscribe\",\"args\":[\"publicTrade.BTCUSDT\",\"tickers.BTCUSDT\",\"orderbook.50.BTCUSDT\",\"allLiquidation.BTCUSDT\","
		  "\"publicTrade.BTCPERP\",\"tickers.BTCPERP\",\"orderbook.50.BTCPERP\",\"allLiquidation.BTCPERP\","
		  "\"publicTrade.BTCUSDT-21FEB25\",\"tickers.BTCUSDT-21FEB25\",\"orderbook.50.BTCUSDT-21FEB25\",\"allLiquidation.BTCUSDT-21FEB25\","
		  "\"publicTrade.BTC-26DEC25\",\"tickers.BTC-26DEC25\",\"orderbook.50.BTC-26DEC25\",\"allLiquidation.BTC-26DEC25\"],\"req_id\":\"sub-1\"}");
	CHECK_STR(subscribe(x, &c, 1), "");
	/* The derivative data comes with the tickers topic. */
	setup_n("bybit-linear", syms, XCH_DERIVATIVE);
	HAS(subscribe(x, &c, 0), "\"args\":[\"tickers.BTCUSDT\",\"tickers.BTCPERP\",");
	setup_n("bybit-linear", syms, XCH_BOOK);
	CHECK_STR(resync(x, &c, "BTC-USDC-PERP", 0), "{\"op\":\"unsubscribe\",\"args\":[\"orderbook.50.BTCPERP\"],\"req_id\":\"resync-1-unsub\"}");
	CHECK_STR(resync(x, &c, "BTC-USDC-PERP", 1), "{\"op\":\"subscribe\",\"args\":[\"orderbook.50.BTCPERP\"],\"req_id\":\"resync-1-sub\"}");
	static const char *const inverse[] = { "BTC-USD-PERP", NULL };
	setup_n("bybit-linear", inverse, XCH_TRADE);
	HAS(url(x, NULL), "ERR bad symbol BTC-USD-PERP");
}

static void test_okx_derivatives(void)
{
	static const char *const syms[] = { "BTC-USDT-PERP", "BTC-USDT-20250328", "ETH-USD-PERP", "BTC-USDT", NULL };
	struct xch_conn c = { 0 };
	const struct xch *x = setup_n("okx", syms, XCH_ALL_CHANNELS);
	CHECK_STR(subscribe(x, &c, 0),
		  "{\"op\":\"subscribe\",\"args\":["
		  "{\"channel\":\"trades\",\"instId\":\"BTC-USDT-SWAP\"},{\"channel\":\"tickers\",\"instId\":\"BTC-USDT-SWAP\"},"
		  "{\"channel\":\"books\",\"instId\":\"BTC-USDT-SWAP\"},{\"channel\":\"mark-price\",\"instId\":\"BTC-USDT-SWAP\"},"
		  "{\"channel\":\"funding-rate\",\"instId\":\"BTC-USDT-SWAP\"},{\"channel\":\"open-interest\",\"instId\":\"BTC-USDT-SWAP\"},"
		  "{\"channel\":\"trades\",\"instId\":\"BTC-USDT-250328\"},{\"channel\":\"tickers\",\"instId\":\"BTC-USDT-250328\"},"
		  "{\"channel\":\"books\",\"instId\":\"BTC-USDT-250328\"},{\"channel\":\"mark-price\",\"instId\":\"BTC-USDT-250328\"},"
		  "{\"channel\":\"open-interest\",\"instId\":\"BTC-USDT-250328\"},"
		  "{\"channel\":\"trades\",\"instId\":\"ETH-USD-SWAP\"},{\"channel\":\"tickers\",\"instId\":\"ETH-USD-SWAP\"},"
		  "{\"channel\":\"books\",\"instId\":\"ETH-USD-SWAP\"},{\"channel\":\"mark-price\",\"instId\":\"ETH-USD-SWAP\"},"
		  "{\"channel\":\"funding-rate\",\"instId\":\"ETH-USD-SWAP\"},{\"channel\":\"open-interest\",\"instId\":\"ETH-USD-SWAP\"},"
		  "{\"channel\":\"trades\",\"instId\":\"BTC-USDT\"},{\"channel\":\"tickers\",\"instId\":\"BTC-USDT\"},"
		  "{\"channel\":\"books\",\"instId\":\"BTC-USDT\"},"
		  "{\"channel\":\"index-tickers\",\"instId\":\"BTC-USDT\"},{\"channel\":\"index-tickers\",\"instId\":\"ETH-USD\"},"
		  "{\"channel\":\"liquidation-orders\",\"instType\":\"SWAP\"},{\"channel\":\"instruments\",\"instType\":\"SWAP\"},"
		  "{\"channel\":\"liquidation-orders\",\"instType\":\"FUTURES\"},{\"channel\":\"instruments\",\"instType\":\"FUTURES\"}]}");
	CHECK_STR(subscribe(x, &c, 1), "");
	/* A spot symbol alone subscribes as before. */
	static const char *const spot[] = { "BTC-USDT", NULL };
	setup_n("okx", spot, XCH_ALL_CHANNELS);
	CHECK_STR(subscribe(x, &c, 0), "{\"op\":\"subscribe\",\"args\":[{\"channel\":\"trades\",\"instId\":\"BTC-USDT\"},{\"channel\":\"tickers\",\"instId\":\"BTC-USDT\"},{\"channel\":\"books\",\"instId\":\"BTC-USDT\"}]}");
	CHECK_STR(meta(x, NULL, 0), "");
	/* One metadata request per derivative. */
	setup_n("okx", syms, XCH_TRADE);
	CHECK_STR(meta(x, NULL, 0), "https://www.okx.com/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP - instruments");
	CHECK_STR(meta(x, NULL, 1), "https://www.okx.com/api/v5/public/instruments?instType=FUTURES&instId=BTC-USDT-250328 - instruments");
	CHECK_STR(meta(x, "ws://127.0.0.1:8443/ws/v5/public", 2), "http://127.0.0.1:8443/api/v5/public/instruments?instType=SWAP&instId=ETH-USD-SWAP - instruments");
	CHECK_STR(meta(x, NULL, 3), "");
	CHECK_STR(resync(x, &c, "BTC-USDT-PERP", 0), "{\"op\":\"unsubscribe\",\"args\":[{\"channel\":\"books\",\"instId\":\"BTC-USDT-SWAP\"}]}");
}

/* The most symbols a connection takes, all derivatives: every argument once, in requests
 * within OKX's 64 KB. */
static void test_okx_many(void)
{
	struct xch_conn c = { 0 };
	memset(&sub, 0, sizeof sub);
	sub.channels = XCH_ALL_CHANNELS;
	for (int i = 0; i < XCH_MAX_SYMBOLS; i++)
		snprintf(sub.sym[sub.nsym++], SYM_MAX, "C%03d-USDT-%s", i / 2, i % 2 ? "20261225" : "PERP");
	const struct xch *x = xch_find("okx", 3);
	int args = 0, index = 0, msgs = 0;
	for (int i = 0;; i++) {
		const char *m = subscribe(x, &c, i);
		if (!m[0])
			break;
		msgs++;
		CHECK(strlen(m) <= 65536);
		for (const char *p = m; (p = strstr(p, "\"channel\"")); p++)
			args++;
		for (const char *p = m; (p = strstr(p, "index-tickers")); p++)
			index++;
	}
	/* 128 swaps x 6 channels, 128 futures x 5, 128 underlyings, 2 types x 2. */
	CHECK_INT(args, 128 * 6 + 128 * 5 + 128 + 4);
	CHECK_INT(index, 128);
	CHECK(msgs >= 2);
}

static void test_bitget_futures(void)
{
	static const char *const syms[] = { "BTC-USDT-PERP", NULL };
	struct xch_conn c = { 0 };
	const struct xch *x = setup_n("bitget-futures", syms, XCH_TRADE | XCH_DERIVATIVE);
	CHECK_STR(subscribe(x, &c, 0), "{\"op\":\"subscribe\",\"args\":[{\"instType\":\"USDT-FUTURES\",\"channel\":\"trade\",\"instId\":\"BTCUSDT\"},{\"instType\":\"USDT-FUTURES\",\"channel\":\"ticker\",\"instId\":\"BTCUSDT\"}]}");
	setup_n("bitget-futures", syms, XCH_BOOK);
	CHECK_STR(resync(x, &c, "BTC-USDT-PERP", 0), "{\"op\":\"unsubscribe\",\"args\":[{\"instType\":\"USDT-FUTURES\",\"channel\":\"books\",\"instId\":\"BTCUSDT\"}]}");
	/* Spot Bitget does not take the derivative bit as a ticker. */
	static const char *const spot[] = { "BTC-USDT", NULL };
	x = setup_n("bitget", spot, XCH_DERIVATIVE);
	CHECK_STR(subscribe(x, &c, 0), "");
}

static void test_gateio_futures(void)
{
	static const char *const syms[] = { "BTC-USDT-PERP", "ETH-USDT-PERP", NULL };
	struct xch_conn c = { 0 };
	const struct xch *x = setup_n("gateio-futures", syms, XCH_ALL_CHANNELS);
	HAS(subscribe(x, &c, 0), "\"channel\":\"futures.trades\",\"event\":\"subscribe\",\"payload\":[\"BTC_USDT\",\"ETH_USDT\"]}");
	HAS(subscribe(x, &c, 1), "\"channel\":\"futures.tickers\",\"event\":\"subscribe\",\"payload\":[\"BTC_USDT\",\"ETH_USDT\"]}");
	HAS(subscribe(x, &c, 2), "\"channel\":\"futures.obu\",\"event\":\"subscribe\",\"payload\":[\"ob.BTC_USDT.50\",\"ob.ETH_USDT.50\"]}");
	HAS(subscribe(x, &c, 3), "\"channel\":\"futures.public_liquidates\",\"event\":\"subscribe\",\"payload\":[\"BTC_USDT\",\"ETH_USDT\"]}");
	CHECK_STR(subscribe(x, &c, 4), "");
	HAS(resync(x, &c, "ETH-USDT-PERP", 0), "\"channel\":\"futures.obu\",\"event\":\"unsubscribe\",\"payload\":[\"ob.ETH_USDT.50\"]}");
	HAS(resync(x, &c, "ETH-USDT-PERP", 1), "\"event\":\"subscribe\",\"payload\":[\"ob.ETH_USDT.50\"]}");
	CHECK_STR(meta(x, NULL, 0), "https://api.gateio.ws/api/v4/futures/usdt/contracts/BTC_USDT - contract");
	CHECK_STR(meta(x, "wss://127.0.0.1:9443/v4/ws/usdt", 1), "https://127.0.0.1:9443/api/v4/futures/usdt/contracts/ETH_USDT - contract");
	CHECK_STR(meta(x, NULL, 2), "");
}

static void test_hyperliquid(void)
{
	static const char *const syms[] = { "BTC-USDC-PERP", "KPEPE-USDC-PERP", "HYPE-USDC", "PURR-USDC", NULL };
	struct xch_conn c = { 0 };
	const struct xch *x = setup_n("hyperliquid", syms, XCH_ALL_CHANNELS);
	CHECK_STR(subscribe(x, &c, 0), "{\"method\":\"subscribe\",\"subscription\":{\"type\":\"trades\",\"coin\":\"BTC\"}}");
	CHECK_STR(subscribe(x, &c, 3), "{\"method\":\"subscribe\",\"subscription\":{\"type\":\"activeAssetCtx\",\"coin\":\"BTC\"}}");
	CHECK_STR(subscribe(x, &c, 4), "{\"method\":\"subscribe\",\"subscription\":{\"type\":\"trades\",\"coin\":\"KPEPE\"}}");
	CHECK_STR(subscribe(x, &c, 8), "{\"method\":\"subscribe\",\"subscription\":{\"type\":\"trades\",\"coin\":\"HYPE/USDC\"}}");
	CHECK_STR(subscribe(x, &c, 16), "");
	CHECK_STR(meta(x, NULL, 0), "https://api.hyperliquid.xyz/info {\"type\":\"meta\"} meta");
	CHECK_STR(meta(x, "ws://127.0.0.1:9/ws", 1), "http://127.0.0.1:9/info {\"type\":\"spotMeta\"} spotMeta");
	CHECK_STR(meta(x, NULL, 2), "");
	/* The metadata names "kPEPE" and the "@107" pair; subscriptions use them. */
	static const char m[] = "{\"universe\":[{\"name\":\"BTC\",\"szDecimals\":5},{\"name\":\"kPEPE\",\"szDecimals\":0}]}";
	static const char sm[] = "{\"tokens\":[{\"name\":\"USDC\",\"index\":0},{\"name\":\"PURR\",\"index\":1},{\"name\":\"HYPE\",\"index\":150}],"
				 "\"universe\":[{\"name\":\"PURR/USDC\",\"tokens\":[1,0],\"index\":0},{\"name\":\"@107\",\"tokens\":[150,0],\"index\":107}]}";
	CHECK_INT(x->proto.learn(&sub, &c, "meta", m, sizeof m - 1), 0);
	CHECK_INT(x->proto.learn(&sub, &c, "spotMeta", sm, sizeof sm - 1), 0);
	CHECK_INT(x->proto.learn(&sub, &c, "meta", "{", 1), -1);
	CHECK_STR(subscribe(x, &c, 4), "{\"method\":\"subscribe\",\"subscription\":{\"type\":\"trades\",\"coin\":\"kPEPE\"}}");
	CHECK_STR(subscribe(x, &c, 8), "{\"method\":\"subscribe\",\"subscription\":{\"type\":\"trades\",\"coin\":\"@107\"}}");
	CHECK_STR(subscribe(x, &c, 12), "{\"method\":\"subscribe\",\"subscription\":{\"type\":\"trades\",\"coin\":\"PURR/USDC\"}}");
	CHECK_STR(resync(x, &c, "HYPE-USDC", 0), "{\"method\":\"unsubscribe\",\"subscription\":{\"type\":\"l2Book\",\"coin\":\"@107\"}}");
	/* Perpetuals only: spot needs no meta, perpetuals no spotMeta. */
	static const char *const perps[] = { "BTC-USDC-PERP", NULL };
	setup_n("hyperliquid", perps, XCH_TRADE);
	CHECK_STR(meta(x, NULL, 1), "");
	static const char *const spots[] = { "PURR-USDC", NULL };
	setup_n("hyperliquid", spots, XCH_TRADE);
	CHECK_STR(meta(x, NULL, 0), "https://api.hyperliquid.xyz/info {\"type\":\"spotMeta\"} spotMeta");
	CHECK_STR(meta(x, NULL, 1), "");
}

static void test_rest_host(void)
{
	char h[64];
	const char *ws = "wss://ws.example.com", *rest = "https://api.example.com";
	CHECK_INT(xch_rest_host("wss://ws.example.com/ws/v4/", ws, rest, h, sizeof h), 0);
	CHECK_STR(h, "https://api.example.com");
	CHECK_INT(xch_rest_host("ws://127.0.0.1:9443/ws?x=1", ws, rest, h, sizeof h), 0);
	CHECK_STR(h, "http://127.0.0.1:9443");
	CHECK_INT(xch_rest_host("wss://proxy.local:8443", ws, rest, h, sizeof h), 0);
	CHECK_STR(h, "https://proxy.local:8443");
	CHECK_INT(xch_rest_host("proxy.local", ws, rest, h, sizeof h), -1);
	CHECK_INT(xch_rest_host("wss://a-very-long-host-name-that-does-not-fit.example.com", ws, rest, h, 16), 0);
	CHECK_STR(h, "https://a-very-");
}

UNIT_SUITE(xch_tests) = {
	{ "xch: request ids are the connection's, kept across its messages", test_request_ids },
	{ "xch: Bitget's request budget is the connection's", test_bitget_budget },
	{ "xch: derivative and liquidation channels, the derivatives venues listed", test_channels },
	{ "xch: binance-futures routes books to /public and the rest to /market", test_binance_futures },
	{ "xch: the REST host beside a WebSocket endpoint, default or its own", test_rest_host },
	{ "xch: bybit-linear topics and spellings", test_bybit_linear },
	{ "xch: okx subscribes derivatives' channels and fetches their metadata", test_okx_derivatives },
	{ "xch: okx packs the most symbols' arguments into 64 KB requests, each once", test_okx_many },
	{ "xch: bitget-futures arguments carry USDT-FUTURES", test_bitget_futures },
	{ "xch: gateio-futures requests, resyncs and contract metadata", test_gateio_futures },
	{ "xch: hyperliquid subscriptions, metadata and the names it teaches", test_hyperliquid },
	{ NULL, NULL },
};
