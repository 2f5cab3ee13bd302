/* Gate (Gate.io) futures WebSocket v4, USDT-settled perpetuals (see
 * shared/exchanges/gateio-futures.md). Contract BTC_USDT is BTC-USDT-PERP.
 *
 * Talking: one connection to wss://fx-ws.gateio.ws/v4/ws/usdt; one subscribe request per
 * channel names every contract: futures.trades, futures.tickers (the ticker and the
 * derivative data), futures.obu (order book V2, "ob.BTC_USDT.50") and
 * futures.public_liquidates. The server pings with WebSocket frames, which lws answers; the
 * application ping futures.ping is answered by futures.pong, a heartbeat.
 *
 * Reading: sizes count contracts (signed on trades and liquidations, the sign giving the
 * side): base amount = |size| x quanto_multiplier, learnt from each contract's metadata
 * (GET /api/v4/futures/usdt/contracts/<contract>, fetched by ingest before it subscribes),
 * exact in decimal. Until a contract's multiplier is known its amounts are left out,
 * counted, with one status line; its books are kept meanwhile. futures.obu is a full:true
 * snapshot, then increments that must each start at the previous one's end + 1. Trades
 * marked is_internal (insurance-fund and ADL takeovers) are no market trades: left out,
 * counted. Gate sends no book checksum and no next funding time on the socket. Requests,
 * acks, errors and kept books are read as on spot (gateio.h). */
#include "gateio.h"
#include "book.h"
#include "dec.h"
#include "norm.h"
#include "xch.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define OBU_DEPTH "50"        /* levels of the obu streams subscribed (every 20 ms) */
#define PONG_MAX 400          /* the pong is small: longer frames are never scanned for it */
#define META_TAG "contract"   /* the stream name of ingest's envelope of the metadata */
#define REST_DEFAULT "https://api.gateio.ws"
#define WS_DEFAULT "wss://fx-ws.gateio.ws"

/* ---- talking ---- */

static const struct gateio_channel channels[] = {
	{ XCH_TRADE, "futures.trades" },
	{ XCH_TICKER | XCH_DERIVATIVE, "futures.tickers" },
	{ XCH_BOOK, "futures.obu" },
	{ XCH_LIQUIDATION, "futures.public_liquidates" },
};

/* BTC-USDT-PERP -> "BTC_USDT", or for the book "ob.BTC_USDT.50". */
static int contract_name(const char *sym, int book, char *out, size_t n)
{
	char base[SYM_MAX], quote[SYM_MAX], expiry[9];
	if (sym_parse_contract(sym, base, quote, expiry) != SYM_PERP || strcmp(quote, "USDT"))
		return -1;
	int k = book ? snprintf(out, n, "ob.%s_%s." OBU_DEPTH, base, quote) : snprintf(out, n, "%s_%s", base, quote);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

static const struct gateio_product futures;

static int gf_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		  size_t errlen)
{
	return gateio_url_of(&futures, sub, base, out, n, err, errlen);
}

static int gf_subscribe(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out, size_t n)
{
	return gateio_subscribe_of(&futures, sub, i, out, n);
}

static int gf_resync(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i,
		     char *out, size_t n)
{
	return gateio_resync_of(&futures, sub, symbol, i, out, n);
}

/* Metadata request I: the contract of the I-th symbol, from api.gateio.ws for the public
 * endpoint, else from the endpoint's own host (a test's fake exchange). */
static int gf_meta(const struct xch_sub *sub, const char *ws_base, int i, char *url, size_t urln,
		   char *body, size_t bodyn, char *tag, size_t tagn)
{
	char name[SYM_MAX + 16], host[512];
	if (i < 0 || i >= sub->nsym)
		return 0;
	if (contract_name(sub->sym[i], 0, name, sizeof name) < 0)
		return -1;
	if (xch_rest_host(ws_base, WS_DEFAULT, REST_DEFAULT, host, sizeof host))
		return -1;
	int k = snprintf(url, urln, "%s/api/v4/futures/usdt/contracts/%s", host, name);
	if (k < 0 || (size_t)k >= urln || bodyn < 1 || snprintf(tag, tagn, META_TAG) >= (int)tagn)
		return -1;
	body[0] = 0;
	return 1;
}

static enum xch_frame gf_classify(const char *f, size_t n)
{
	if (n < PONG_MAX && memmem(f, n, "\"futures.pong\"", 14))
		return XCH_HEARTBEAT;
	return XCH_FORWARD;
}

/* ---- reading ---- */

/* What is kept per contract (norm_state). */
struct inst {
	struct gateio_book ob; /* the obu book, kept in contracts */
	char mult[BOOK_TEXT]; /* quanto_multiplier, canonical; "" unknown */
	int told;            /* the status line saying amounts are left out was written */
	int delisting;       /* the metadata said so, once */
	int subscribed;      /* metadata or the contract's own channel data came */
};

static void inst_release(void *p)
{
	book_free(((struct inst *)p)->ob.book);
}

static struct inst *inst_of(struct norm *n, const char *sym)
{
	return norm_state(n, sym, sizeof(struct inst), inst_release);
}

/* "BTC_USDT" -> BTC-USDT-PERP (LEN bytes of S). */
static int symbol_text(const char *s, size_t len, char *sym)
{
	const char *us = memchr(s, '_', len);
	if (!us)
		return -1;
	return sym_join_contract(s, (size_t)(us - s), us + 1, len - (size_t)(us - s) - 1, NULL, sym);
}

/* The contract size of SYM (its own channel's data: it is subscribed). Returns 0 with
 * *MULT set, 1 when it is not known (the line's amounts are left out, counted, and said
 * once), -1 after norm_fail. */
static int multiplier(struct norm *n, const char *sym, const char **mult)
{
	struct inst *in = inst_of(n, sym);
	if (!in)
		return norm_fail(n, NR_SYMBOL, "no memory for %s", sym);
	in->subscribed = 1;
	if (in->mult[0]) {
		*mult = in->mult;
		return 0;
	}
	norm_contract_skip(n, sym, &in->told, "contract size (quanto_multiplier) not known: amounts left out");
	return 1;
}

static struct gateio_book *book_of(struct norm *n, const char *sym)
{
	struct inst *in = inst_of(n, sym);
	return in ? &in->ob : NULL;
}

static const struct gateio_product futures = {
	.channels = channels,
	.nchannels = sizeof channels / sizeof channels[0],
	.obu = "futures.obu",
	.name = contract_name,
	.hint = " (USDT-settled perpetuals are BASE-USDT-PERP)",
	.symbol = symbol_text,
	.what = "contract",
	.state = book_of,
	.scale = multiplier,
};

static int symbol_of(struct norm *n, const struct js_doc *d, int t, char *sym)
{
	return gateio_symbol_of(&futures, n, d, t, sym);
}

/* Member KEY of R, with an empty string (Gate's "no value") taken as missing. */
static int opt(const struct js_doc *d, int r, const char *key)
{
	int t = js_getn(d, r, key, strlen(key));
	return js_type(d, t) == JS_STRING && js_len(d, t) == 0 ? -1 : t;
}

/* The side a signed size gives: positive buy, negative sell; SIZE_T is the token. */
static const char *signed_side(const struct js_doc *d, int t)
{
	const char *s;
	size_t len;
	if (js_numtext(d, t, &s, &len) || !len)
		return NULL;
	return s[0] == '-' ? "sell" : "buy";
}

/* futures.trades: "Positive size means taker is buyer, negative seller." */
static int read_trades(struct norm *n, const struct js_doc *d, int res)
{
	if (js_type(d, res) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "result: trades are not an array");
	for (uint32_t i = 0, k = (uint32_t)res + 1; i < d->tok[res].size; i++, k = d->tok[k].next) {
		char sym[SYM_MAX];
		int64_t ts;
		int r = (int)k, size = js_get(d, r, "size");
		const char *side, *mult;
		if (d->tok[k].type != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "trade is not an object");
		if (symbol_of(n, d, js_get(d, r, "contract"), sym) ||
		    norm_ts(n, d, js_get(d, r, "create_time_ms"), &ts))
			return -1;
		if (ts < 0 && norm_ts(n, d, js_get(d, r, "create_time"), &ts))
			return -1;
		if (!(side = signed_side(d, size)))
			return norm_fail(n, NR_FIELD, "size: missing or not a number");
		if (js_type(d, js_get(d, r, "is_internal")) == JS_TRUE) {
			char why[96];
			snprintf(why, sizeof why, "%s trade marked is_internal (not a market trade)", sym);
			norm_skip(n, NR_INTERNAL, why);
			continue;
		}
		int c = multiplier(n, sym, &mult);
		if (c < 0)
			return -1;
		if (c)
			continue;
		norm_head(n, "trade", sym, ts);
		if (norm_id(n, "id", d, js_get(d, r, "id")) ||
		    norm_price_amount_scaled(n, d, js_get(d, r, "price"), size, mult, 1))
			return -1;
		jw_key(n->w, "side");
		jw_str(n->w, side, strlen(side));
		norm_end_trade(n);
	}
	return 0;
}

/* futures.tickers: a ticker line (no best bid and ask on this channel) and a derivative
 * line: mark, index, the current funding rate (funding_rate_indicative is deprecated: "use
 * funding_rate") and the open interest, total_size contracts. The push time is the
 * exchange's. */
static int read_tickers(struct norm *n, const struct js_doc *d, int frame, int res)
{
	int64_t ts;
	if (js_type(d, res) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "result: tickers are not an array");
	if (norm_ts(n, d, js_get(d, frame, "time_ms"), &ts))
		return -1;
	if (ts < 0 && norm_ts(n, d, js_get(d, frame, "time"), &ts))
		return -1;
	for (uint32_t i = 0, k = (uint32_t)res + 1; i < d->tok[res].size; i++, k = d->tok[k].next) {
		char sym[SYM_MAX];
		const char *mult = NULL;
		int r = (int)k;
		if (d->tok[k].type != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "ticker is not an object");
		if (symbol_of(n, d, js_get(d, r, "contract"), sym))
			return -1;
		norm_head(n, "ticker", sym, ts);
		if (norm_dec_sent(n, "last", d, opt(d, r, "last")) ||
		    norm_dec_sent(n, "high", d, opt(d, r, "high_24h")) ||
		    norm_dec_sent(n, "low", d, opt(d, r, "low_24h")) ||
		    norm_dec_sent(n, "volume", d, opt(d, r, "volume_24h_base")) ||
		    norm_dec_sent(n, "quote_volume", d, opt(d, r, "volume_24h_quote")))
			return -1;
		norm_end(n);
		n->lines_ticker++;
		int oi = opt(d, r, "total_size");
		int c = oi >= 0 ? multiplier(n, sym, &mult) : 0;
		if (c < 0)
			return -1;
		norm_derivative_begin(n, sym, ts);
		if (norm_dec_sent(n, "mark", d, opt(d, r, "mark_price")) ||
		    norm_dec_sent(n, "index", d, opt(d, r, "index_price")) ||
		    norm_dec_sent(n, "funding_rate", d, opt(d, r, "funding_rate")) ||
		    (!c && norm_dec_scaled(n, "open_interest", d, oi, mult)))
			return -1;
		norm_derivative_end(n);
	}
	return 0;
}

/* futures.book_ticker: best bid and ask, sizes in contracts (left out while unknown). */
static int read_book_ticker(struct norm *n, const struct js_doc *d, int r)
{
	char sym[SYM_MAX];
	int64_t ts;
	const char *mult;
	if (js_type(d, r) != JS_OBJECT)
		return norm_fail(n, NR_FIELD, "result: missing or not an object");
	if (symbol_of(n, d, js_get(d, r, "s"), sym) || norm_ts(n, d, js_get(d, r, "t"), &ts))
		return -1;
	int c = multiplier(n, sym, &mult);
	if (c < 0)
		return -1;
	norm_head(n, "ticker", sym, ts);
	if (norm_dec_sent(n, "bid", d, opt(d, r, "b")) ||
	    (!c && norm_dec_scaled(n, "bid_size", d, opt(d, r, "B"), mult)) ||
	    norm_dec_sent(n, "ask", d, opt(d, r, "a")) ||
	    (!c && norm_dec_scaled(n, "ask_size", d, opt(d, r, "A"), mult)))
		return -1;
	norm_end(n);
	n->lines_ticker++;
	return 0;
}

/* futures.contract_stats: open interest (contracts, and in USD) and the mark price. */
static int read_contract_stats(struct norm *n, const struct js_doc *d, int res)
{
	if (js_type(d, res) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "result: not an array");
	for (uint32_t i = 0, k = (uint32_t)res + 1; i < d->tok[res].size; i++, k = d->tok[k].next) {
		char sym[SYM_MAX];
		int64_t ts;
		const char *mult;
		int r = (int)k;
		if (d->tok[k].type != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "contract stats are not an object");
		if (symbol_of(n, d, js_get(d, r, "contract"), sym) || norm_ts(n, d, js_get(d, r, "time"), &ts))
			return -1;
		int c = multiplier(n, sym, &mult);
		if (c < 0)
			return -1;
		norm_derivative_begin(n, sym, ts);
		if (norm_dec_sent(n, "mark", d, opt(d, r, "mark_price")) ||
		    (!c && norm_dec_scaled(n, "open_interest", d, opt(d, r, "open_interest"), mult)) ||
		    norm_dec_sent(n, "open_interest_value", d, opt(d, r, "open_interest_usd")))
			return -1;
		norm_derivative_end(n);
	}
	return 0;
}

/* futures.public_liquidates: price and a signed size. Gate does not document the sign; it
 * is read as on its trades: negative is a sell order (a long was liquidated). Contracts not
 * subscribed (a "!all" subscription) are left out, counted. */
static int read_liquidations(struct norm *n, const struct js_doc *d, int res)
{
	if (js_type(d, res) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "result: liquidations are not an array");
	for (uint32_t i = 0, k = (uint32_t)res + 1; i < d->tok[res].size; i++, k = d->tok[k].next) {
		char sym[SYM_MAX];
		int64_t ts;
		int r = (int)k, size = js_get(d, r, "size");
		const char *side, *mult;
		if (d->tok[k].type != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "liquidation is not an object");
		if (symbol_of(n, d, js_get(d, r, "contract"), sym) || norm_ts(n, d, js_get(d, r, "time_ms"), &ts))
			return -1;
		if (!(side = signed_side(d, size)))
			return norm_fail(n, NR_FIELD, "size: missing or not a number");
		struct inst *in = inst_of(n, sym);
		if (!in)
			return norm_fail(n, NR_SYMBOL, "no memory for %s", sym);
		if (!in->subscribed) {
			char why[80];
			snprintf(why, sizeof why, "liquidation of %s, not subscribed", sym);
			norm_skip(n, NR_UNSUBSCRIBED, why);
			continue;
		}
		int c = multiplier(n, sym, &mult);
		if (c < 0)
			return -1;
		if (c)
			continue;
		norm_head(n, "liquidation", sym, ts);
		if (norm_price_amount_scaled(n, d, js_get(d, r, "price"), size, mult, 1))
			return -1;
		jw_key(n->w, "side");
		jw_str(n->w, side, strlen(side));
		norm_end_liquidation(n);
	}
	return 0;
}

/* ---- metadata, acks, dispatch ---- */

/* One contract's metadata (ingest's {"stream":"contract","data":BODY}): quanto_multiplier,
 * the base units of a contract, and whether it is being delisted. An error answer (an
 * unknown contract) becomes a status line. */
static int read_meta(struct norm *n, const struct js_doc *d, int o)
{
	char sym[SYM_MAX], v[DEC_MAX];
	const char *s;
	size_t sl;
	int k;
	if (js_type(d, o) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "contract metadata is not an object");
	int label = js_get(d, o, "label"), name = js_get(d, o, "name");
	if (js_type(d, label) == JS_STRING) {
		norm_status_error(n, d, label, js_get(d, o, "message"));
		return 0;
	}
	if (symbol_of(n, d, name, sym))
		return -1;
	if (!js_streq(d, js_get(d, o, "type"), "direct"))
		return norm_fail(n, NR_FIELD, "%s: not a direct (linear) contract", sym);
	if (js_numtext(d, js_get(d, o, "quanto_multiplier"), &s, &sl) || (k = dec_canon(s, sl, v)) < 0 ||
	    k >= BOOK_TEXT || v[0] == '-' || dec_is_zero(v, (size_t)k))
		return norm_fail(n, NR_NUMBER, "%s: quanto_multiplier not above zero", sym);
	struct inst *in = inst_of(n, sym);
	if (!in)
		return norm_fail(n, NR_SYMBOL, "no memory for %s", sym);
	if (strcmp(in->mult, v))
		in->told = 0;
	memcpy(in->mult, v, (size_t)k + 1);
	in->subscribed = 1;
	int delisting = js_type(d, js_get(d, o, "in_delisting")) == JS_TRUE ||
			(js_type(d, js_get(d, o, "status")) == JS_STRING && !js_streq(d, js_get(d, o, "status"), "trading"));
	if (delisting && !in->delisting) {
		char why[96];
		snprintf(why, sizeof why, "%s: contract being delisted", sym);
		norm_status(n, "error", sym, why);
	}
	in->delisting = delisting;
	return 0;
}

static int gf_normalize(struct norm *n, const struct js_doc *d, int data)
{
	if (js_type(d, data) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "frame is not an object");
	int ch = js_get(d, data, "channel"), ev = js_get(d, data, "event");
	int err = js_get(d, data, "error"), res = js_get(d, data, "result");
	if (js_streq(d, js_get(d, data, "stream"), META_TAG))
		return read_meta(n, d, js_get(d, data, "data"));
	if (js_type(d, ch) != JS_STRING)
		return norm_fail(n, NR_SHAPE, "no channel");
	if (gateio_read_reply(n, d, data, ch, ev, err))
		return 0;
	if (js_streq(d, ch, "futures.pong"))
		return 0; /* a keep-alive answer, when a recording holds one */
	if (js_streq(d, ch, "futures.obu"))
		return gateio_read_book(&futures, n, d, res, GATEIO_OBU);
	if (js_streq(d, ch, "futures.trades"))
		return read_trades(n, d, res);
	if (js_streq(d, ch, "futures.tickers"))
		return read_tickers(n, d, data, res);
	if (js_streq(d, ch, "futures.book_ticker"))
		return read_book_ticker(n, d, res);
	if (js_streq(d, ch, "futures.public_liquidates"))
		return read_liquidations(n, d, res);
	if (js_streq(d, ch, "futures.contract_stats"))
		return read_contract_stats(n, d, res);
	return norm_fail(n, NR_SHAPE, "unknown channel");
}

const struct xch xch_gateio_futures = {
	.name = "gateio-futures",
	.default_url = "wss://fx-ws.gateio.ws/v4/ws/usdt",
	.default_symbols = "BTC-USDT-PERP,ETH-USDT-PERP",
	.proto = {
		.url = gf_url,
		.subscribe = gf_subscribe,
		.resync = gf_resync,
		.meta = gf_meta,
		.classify = gf_classify,
		/* The server pings with WebSocket frames and lws answers them; futures.ping's
		 * futures.pong shows a quiet connection alive. */
		.keepalive_ms = 15000,
		.keepalive_text = "{\"channel\":\"futures.ping\"}",
		.idle_timeout_ms = 45000,
		/* Unsubscribe and subscribe of a resync must reach the server in order and
		 * apart; the request rate limit is not documented. */
		.sub_gap_ms = 150,
	},
	.normalize = gf_normalize,
};
