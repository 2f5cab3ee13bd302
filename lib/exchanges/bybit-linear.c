/* Bybit v5 linear: USDT and USDC perpetuals and dated futures on the public WebSocket (see
 * shared/exchanges/bybit-derivatives.md). Sizes are in base units. Spellings:
 *   BTCUSDT          BTC-USDT-PERP        BTCPERP       BTC-USDC-PERP
 *   BTCUSDT-21FEB25  BTC-USDT-20250221    BTC-26DEC25   BTC-USDC-20251226
 * Trades, books and replies read as on spot (bybit.h). The tickers topic is a snapshot, then
 * deltas in which a missing field means "unchanged": the reader keeps every field per symbol
 * and each message sends the whole merged ticker, and the merged derivative fields when the
 * message touched one (mark, index, funding, open interest). allLiquidation's S is the side
 * of the liquidated position, the opposite of the order's: it is turned round. Inverse
 * contracts (counted in USD) have a socket of their own and are not read here. */
#include "bybit.h"
#include "book.h"
#include "dec.h"
#include "norm.h"
#include "xch.h"

#include <stdio.h>
#include <string.h>

/* Requests have no topic count limit on derivatives (their topics add up to at most 21 000
 * characters per connection, as on spot), so a generous batch keeps the request count low. */
#define MAX_ARGS_PER_REQUEST 100
#define BOOK_TOPIC "orderbook.50."

/* ---- talking ---- */

/* Bybit's name of a relay symbol (OUT SYM_MAX bytes), or -1 for one it has no linear
 * contract for (spot symbols, inverse perpetuals in USD). */
static int wire_name(const char *sym, char *out)
{
	char base[SYM_MAX], quote[SYM_MAX], expiry[9], date[8];
	int kind = sym_parse_contract(sym, base, quote, expiry), k;
	int usdc = !strcmp(quote, "USDC");
	if (kind == SYM_PERP && (usdc || !strcmp(quote, "USDT")))
		k = usdc ? snprintf(out, SYM_MAX, "%sPERP", base) : snprintf(out, SYM_MAX, "%s%s", base, quote);
	else if (kind == SYM_DATED && (usdc || !strcmp(quote, "USDT")) && !sym_date_to_ddmmmyy(expiry, date))
		k = usdc ? snprintf(out, SYM_MAX, "%s-%s", base, date)
			 : snprintf(out, SYM_MAX, "%s%s-%s", base, quote, date);
	else
		return -1;
	return k < 0 || k >= SYM_MAX ? -1 : k;
}

/* The topics of one symbol, in order: trades, tickers (for the ticker and the derivative
 * data alike), the book, liquidations. */
static const struct bybit_topic topics[] = {
	{ XCH_TRADE, "publicTrade." },
	{ XCH_TICKER | XCH_DERIVATIVE, "tickers." },
	{ XCH_BOOK, BOOK_TOPIC },
	{ XCH_LIQUIDATION, "allLiquidation." },
};

static const struct bybit_product linear = {
	.topics = topics,
	.ntopics = sizeof topics / sizeof topics[0],
	.max_args = MAX_ARGS_PER_REQUEST,
	.name = wire_name,
	.hint = " (linear contracts are BASE-USDT or BASE-USDC, -PERP or -YYYYMMDD)",
};

static int bl_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		  size_t errlen)
{
	return bybit_url_of(&linear, sub, base, out, n, err, errlen);
}

static int bl_subscribe(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out, size_t n)
{
	return bybit_subscribe_of(&linear, sub, conn, i, out, n);
}

static int bl_resync(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i,
		     char *out, size_t n)
{
	return bybit_resync_of(&linear, sub, conn, symbol, i, out, n);
}

/* ---- reading ---- */

/* The relay symbol of a linear contract's name. */
static int symbol_text(const char *s, size_t len, char *sym)
{
	char pair[SYM_MAX], date[9];
	const char *dash = memchr(s, '-', len);
	size_t pl = dash ? (size_t)(dash - s) : len;
	if (dash && sym_date_dmmmyy(dash + 1, len - pl - 1, date) < 0)
		return -1;
	if (pl > 4 && !memcmp(s + pl - 4, "PERP", 4) && !dash) /* BTCPERP: the USDC perpetual */
		return sym_join_contract(s, pl - 4, "USDC", 4, NULL, sym);
	if (dash && sym_split_concat(s, pl, pair) < 0) /* BTC-26DEC25: a USDC future */
		return sym_join_contract(s, pl, "USDC", 4, date, sym);
	if (sym_split_concat(s, pl, pair) < 0)
		return -1;
	const char *p = strchr(pair, '-');
	return sym_join_contract(pair, (size_t)(p - pair), p + 1, strlen(p + 1), dash ? date : NULL, sym);
}

static int symbol_of(struct norm *n, const struct js_doc *d, int t, char *sym)
{
	if (js_type(d, t) != JS_STRING)
		return norm_fail(n, NR_FIELD, "symbol missing or not a string");
	if (symbol_text(js_ptr(d, t), js_len(d, t), sym) < 0)
		return norm_fail(n, NR_SYMBOL, "cannot read symbol %.*s", (int)js_len(d, t) & 31, js_ptr(d, t));
	return 0;
}

/* The ticker fields kept per symbol: Bybit's name and the line's key, ticker fields first. */
static const struct {
	const char *name, *key;
} fields[] = {
	{ "bid1Price", "bid" },
	{ "bid1Size", "bid_size" },
	{ "ask1Price", "ask" },
	{ "ask1Size", "ask_size" },
	{ "lastPrice", "last" },
	{ "prevPrice24h", "open" },
	{ "highPrice24h", "high" },
	{ "lowPrice24h", "low" },
	{ "volume24h", "volume" },
	{ "turnover24h", "quote_volume" },
	/* Derivative fields. openInterest counts both sides of every contract, twice what the
	 * other venues call open interest: the single-side figures are the ones sent. */
	{ "markPrice", "mark" },
	{ "indexPrice", "index" },
	{ "fundingRate", "funding_rate" },
	{ "singleOpenInterest", "open_interest" },
	{ "singleOpenInterestValue", "open_interest_value" },
};
#define NFIELDS (sizeof fields / sizeof fields[0])
#define FIRST_DERIVATIVE 10
#define FIRST_OPEN_INTEREST 13 /* funding_ts goes before it */

/* What is kept per symbol (norm_state). */
struct inst {
	struct bybit_book book;
	char val[NFIELDS][BOOK_TEXT]; /* canonical values; "" unknown */
	int64_t funding_ts;           /* µs; -1 unknown */
	int ticker_seen;              /* a tickers message came: funding_ts is meaningful */
};

static void inst_release(void *p)
{
	book_free(((struct inst *)p)->book.book);
}

static struct inst *inst_of(struct norm *n, const char *sym)
{
	return norm_state(n, sym, sizeof(struct inst), inst_release);
}

static struct bybit_book *book_of(struct norm *n, const char *sym)
{
	struct inst *in = inst_of(n, sym);
	return in ? &in->book : NULL;
}

/* tickers: the snapshot sets every field it has, a delta the ones it has; "" clears a
 * field (fundingRate of a dated future). Everything is checked before anything is kept,
 * so a bad message changes nothing. */
static int read_ticker(struct norm *n, const struct js_doc *d, int frame, int data)
{
	char sym[SYM_MAX], v[NFIELDS][DEC_MAX];
	int len[NFIELDS], tick = 0, deriv = 0;
	int64_t ts, fts = -1;
	if (js_type(d, data) != JS_OBJECT)
		return norm_fail(n, NR_FIELD, "data: ticker is not an object");
	int type = js_get(d, frame, "type");
	int snapshot = js_streq(d, type, "snapshot");
	if (!snapshot && !js_streq(d, type, "delta"))
		return norm_fail(n, NR_FIELD, "type: neither snapshot nor delta");
	if (symbol_of(n, d, js_get(d, data, "symbol"), sym) || norm_ts(n, d, js_get(d, frame, "ts"), &ts))
		return -1;
	for (size_t f = 0; f < NFIELDS; f++) {
		int t = js_getn(d, data, fields[f].name, strlen(fields[f].name));
		const char *s;
		size_t sl;
		len[f] = -1; /* not in the message */
		if (t < 0)
			continue;
		tick |= f < FIRST_DERIVATIVE;
		deriv |= f >= FIRST_DERIVATIVE;
		if (js_type(d, t) == JS_NULL || (js_type(d, t) == JS_STRING && !js_len(d, t))) {
			len[f] = 0;
			continue;
		}
		if (js_numtext(d, t, &s, &sl) || (len[f] = dec_canon(s, sl, v[f])) < 0 || len[f] >= BOOK_TEXT)
			return norm_fail(n, NR_NUMBER, "%s: not a decimal, or too long", fields[f].name);
	}
	int nft = js_get(d, data, "nextFundingTime");
	if (nft >= 0) {
		deriv = 1;
		if (norm_ts(n, d, js_type(d, nft) == JS_STRING && !js_len(d, nft) ? -1 : nft, &fts))
			return -1;
	}
	struct inst *in = inst_of(n, sym);
	if (!in)
		return norm_fail(n, NR_SYMBOL, "no memory for %s", sym);
	if (snapshot || !in->ticker_seen) {
		for (size_t f = 0; f < NFIELDS; f++)
			in->val[f][0] = 0;
		in->funding_ts = -1;
		in->ticker_seen = 1;
	}
	for (size_t f = 0; f < NFIELDS; f++)
		if (len[f] >= 0) {
			memcpy(in->val[f], v[f], (size_t)len[f]);
			in->val[f][len[f]] = 0;
		}
	if (nft >= 0 || snapshot)
		in->funding_ts = fts;
	if (tick || snapshot) {
		norm_head(n, "ticker", sym, ts);
		size_t fields_at = n->w->len;
		for (size_t f = 0; f < FIRST_DERIVATIVE; f++)
			if (in->val[f][0]) {
				jw_key(n->w, fields[f].key);
				jw_raw(n->w, in->val[f], strlen(in->val[f]));
			}
		if (n->w->len == fields_at) {
			n->w->len = n->line_head; /* nothing known yet */
		} else {
			norm_end(n);
			n->lines_ticker++;
		}
	}
	if (!deriv && !snapshot)
		return 0;
	norm_derivative_begin(n, sym, ts);
	for (size_t f = FIRST_DERIVATIVE; f < NFIELDS; f++) {
		if (f == FIRST_OPEN_INTEREST && in->funding_ts >= 0) {
			jw_key(n->w, "funding_ts");
			jw_int(n->w, in->funding_ts);
		}
		if (in->val[f][0]) {
			jw_key(n->w, fields[f].key);
			jw_raw(n->w, in->val[f], strlen(in->val[f]));
		}
	}
	norm_derivative_end(n);
	return 0;
}

/* allLiquidation: S is the side of the liquidated position ("Buy": a long), so the
 * liquidation order's side is the other one. v is the executed size, p the bankruptcy
 * price. */
static int read_liquidations(struct norm *n, const struct js_doc *d, int data)
{
	if (js_type(d, data) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "data: liquidations are not an array");
	for (uint32_t i = 0, k = (uint32_t)data + 1; i < d->tok[data].size; i++, k = d->tok[k].next) {
		int o = (int)k;
		char sym[SYM_MAX];
		int64_t ts;
		const char *pos;
		if (d->tok[k].type != JS_OBJECT)
			return norm_fail(n, NR_FIELD, "liquidation is not an object");
		if (symbol_of(n, d, js_get(d, o, "s"), sym) || norm_ts(n, d, js_get(d, o, "T"), &ts) ||
		    norm_side(n, d, js_get(d, o, "S"), "S", "Buy", "Sell", &pos))
			return -1;
		if (!strcmp(pos, "unknown"))
			return norm_fail(n, NR_FIELD, "S: missing");
		norm_head(n, "liquidation", sym, ts);
		if (norm_price_amount(n, d, js_get(d, o, "p"), js_get(d, o, "v")))
			return -1;
		jw_key(n->w, "side");
		if (!strcmp(pos, "buy"))
			jw_lit(n->w, "\"sell\"");
		else
			jw_lit(n->w, "\"buy\"");
		norm_end_liquidation(n);
	}
	return 0;
}

static int topic_is(const struct js_doc *d, int topic, const char *prefix)
{
	size_t pl = strlen(prefix);
	return js_len(d, topic) > pl && !memcmp(js_ptr(d, topic), prefix, pl);
}

static int bl_normalize(struct norm *n, const struct js_doc *d, int frame)
{
	if (js_type(d, frame) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "frame is not an object");
	int topic = js_get(d, frame, "topic");
	if (js_type(d, topic) == JS_STRING) {
		int data = js_get(d, frame, "data");
		if (topic_is(d, topic, "publicTrade."))
			return bybit_read_trades(n, d, data, symbol_of);
		if (topic_is(d, topic, "tickers."))
			return read_ticker(n, d, frame, data);
		if (topic_is(d, topic, "orderbook."))
			return bybit_read_book(n, d, frame, topic, data, symbol_of, book_of);
		if (topic_is(d, topic, "allLiquidation."))
			return read_liquidations(n, d, data);
		return norm_fail(n, NR_SHAPE, "unknown topic");
	}
	int op = js_get(d, frame, "op");
	if (js_type(d, op) == JS_STRING)
		return bybit_read_reply(n, d, frame, op);
	return norm_fail(n, NR_SHAPE, "unknown message");
}

const struct xch xch_bybit_linear = {
	.name = "bybit-linear",
	.default_url = "wss://stream.bybit.com/v5/public/linear",
	.default_symbols = "BTC-USDT-PERP,ETH-USDT-PERP",
	.proto = {
		.url = bl_url,
		.subscribe = bl_subscribe,
		.resync = bl_resync,
		.classify = bybit_classify,
		.sub_gap_ms = 50,
		/* A JSON ping every 20 s, as documented; its pong proves a quiet connection
		 * alive. Without traffic the server cuts the connection. */
		.keepalive_ms = 20000,
		.keepalive_text = "{\"op\":\"ping\"}",
		.idle_timeout_ms = 45000,
	},
	.normalize = bl_normalize,
};
