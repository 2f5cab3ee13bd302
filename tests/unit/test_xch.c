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

UNIT_SUITE(xch_tests) = {
	{ "xch: request ids are the connection's, kept across its messages", test_request_ids },
	{ "xch: Bitget's request budget is the connection's", test_bitget_budget },
	{ NULL, NULL },
};
