/* Upbit (Korea): quotation WebSocket API (see shared/exchanges/upbit.md). Bithumb speaks the
 * same protocol and uses these functions too. */
#include "norm.h"
#include "upbit.h"
#include "xch.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* {"status":"UP"} is small: longer frames are market data, never scanned for it. */
#define STATUS_MAX 40

/* Upbit spells markets QUOTE-BASE: BTC-KRW is "KRW-BTC". */
static int market_code(const char *sym, char *out, size_t n)
{
	char base[SYM_MAX], quote[SYM_MAX];
	if (sym_parse(sym, base, quote))
		return -1;
	int k = snprintf(out, n, "%s-%s", quote, base);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

int upbit_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		     size_t errlen)
{
	int k = snprintf(out, n, "%s", base);
	if (k < 0 || (size_t)k >= n) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	for (int i = 0; i < sub->nsym; i++) {
		char code[SYM_MAX];
		if (market_code(sub->sym[i], code, sizeof code) < 0) {
			snprintf(err, errlen, "bad symbol %s", sub->sym[i]);
			return -1;
		}
	}
	return 0;
}

/* One request holds every type: [{"ticket":..},{"type":"trade","codes":[..]},..,{"format":"DEFAULT"}].
 * A new request replaces the connection's subscriptions, so a resync sends it whole. */
static int request(const struct xch_sub *sub, struct xch_conn *conn, char *out, size_t n)
{
	static const struct {
		int channel;
		const char *type;
	} types[] = { { XCH_TRADE, "trade" }, { XCH_TICKER, "ticker" }, { XCH_BOOK, "orderbook" } };
	size_t o = 0;
	int k = snprintf(out, n, "[{\"ticket\":\"relay-%d-%u\"}", (int)getpid(), ++conn->next_id);
	if (k < 0 || (size_t)k >= n)
		return -1;
	o = (size_t)k;
	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
		if (!(sub->channels & types[t].channel))
			continue;
		k = snprintf(out + o, n - o, ",{\"type\":\"%s\",\"codes\":[", types[t].type);
		if (k < 0 || (size_t)k >= n - o)
			return -1;
		o += (size_t)k;
		for (int i = 0; i < sub->nsym; i++) {
			char code[SYM_MAX];
			if (market_code(sub->sym[i], code, sizeof code) < 0)
				return -1;
			k = snprintf(out + o, n - o, "%s\"%s\"", i ? "," : "", code);
			if (k < 0 || (size_t)k >= n - o)
				return -1;
			o += (size_t)k;
		}
		k = snprintf(out + o, n - o, "]}");
		if (k < 0 || (size_t)k >= n - o)
			return -1;
		o += (size_t)k;
	}
	k = snprintf(out + o, n - o, ",{\"format\":\"DEFAULT\"}]");
	if (k < 0 || (size_t)k >= n - o)
		return -1;
	return (int)(o + (size_t)k);
}

int upbit_subscribe(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out, size_t n)
{
	return i == 0 ? request(sub, conn, out, n) : 0;
}

/* Every orderbook message is a full snapshot; sending the request again brings a fresh
 * SNAPSHOT of every subscribed market at once. */
int upbit_resync(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i, char *out,
		 size_t n)
{
	return i == 0 ? request(sub, conn, out, n) : 0;
}

enum xch_frame upbit_classify(const char *f, size_t n)
{
	if (n < STATUS_MAX && memmem(f, n, "\"status\"", 8) && memmem(f, n, "\"UP\"", 4))
		return XCH_HEARTBEAT;
	return XCH_FORWARD;
}

/* ---- reading: DEFAULT keys and their SIMPLE abbreviations ---- */

/* What is kept per market (norm_state). */
struct market {
	int64_t last_trade; /* sequential_id of the newest trade relayed; 0: none */
};

static int get2(const struct js_doc *d, int o, const char *full, const char *simple)
{
	int t = js_getn(d, o, full, strlen(full));
	return t >= 0 ? t : js_getn(d, o, simple, strlen(simple));
}

static int symbol_of(struct norm *n, const struct js_doc *d, int o, char *sym)
{
	int t = get2(d, o, "code", "cd");
	if (js_type(d, t) != JS_STRING)
		return norm_fail(n, NR_FIELD, "code: missing market code");
	const char *s = js_ptr(d, t);
	size_t len = js_len(d, t);
	const char *dot = memchr(s, '.', len); /* orderbook depth suffix, "KRW-BTC.15" */
	if (dot)
		len = (size_t)(dot - s);
	if (sym_split_sep(s, len, '-', 1, sym) < 0)
		return norm_fail(n, NR_SYMBOL, "cannot read market code %.*s", (int)len & 31, s);
	return 0;
}

static int read_trade(struct norm *n, const struct js_doc *d, int o)
{
	char sym[SYM_MAX];
	int64_t ts, seq;
	int ab = get2(d, o, "ask_bid", "ab"), sid = get2(d, o, "sequential_id", "sid");
	if (symbol_of(n, d, o, sym) || norm_ts(n, d, get2(d, o, "trade_timestamp", "ttms"), &ts))
		return -1;
	if (ts < 0 && norm_ts(n, d, get2(d, o, "timestamp", "tms"), &ts))
		return -1;
	if (js_int64(d, sid, &seq))
		return norm_fail(n, NR_FIELD, "sequential_id: missing or not an integer");
	/* Each subscription starts with a SNAPSHOT of the latest trade, which after a
	 * reconnect is one we already relayed. */
	struct market *m = norm_state(n, sym, sizeof *m, NULL);
	if (m && js_streq(d, get2(d, o, "stream_type", "st"), "SNAPSHOT") && seq <= m->last_trade)
		return 0;
	if (m && seq > m->last_trade)
		m->last_trade = seq;
	const char *side;
	if (norm_side(n, d, ab, "ask_bid", "BID", "ASK", &side))
		return -1;
	norm_head(n, "trade", sym, ts);
	if (norm_id(n, "id", d, sid) ||
	    norm_price_amount(n, d, get2(d, o, "trade_price", "tp"), get2(d, o, "trade_volume", "tv")))
		return -1;
	jw_key(n->w, "side");
	jw_str(n->w, side, strlen(side));
	norm_end_trade(n);
	return 0;
}

/* The ticker carries no best bid/ask; volumes are the rolling 24 h ones. */
static int read_ticker(struct norm *n, const struct js_doc *d, int o)
{
	char sym[SYM_MAX];
	int64_t ts;
	if (symbol_of(n, d, o, sym) || norm_ts(n, d, get2(d, o, "timestamp", "tms"), &ts))
		return -1;
	norm_head(n, "ticker", sym, ts);
	if (norm_dec(n, "last", d, get2(d, o, "trade_price", "tp")) ||
	    norm_dec_opt(n, "open", d, get2(d, o, "opening_price", "op")) ||
	    norm_dec_opt(n, "high", d, get2(d, o, "high_price", "hp")) ||
	    norm_dec_opt(n, "low", d, get2(d, o, "low_price", "lp")) ||
	    norm_dec_opt(n, "volume", d, get2(d, o, "acc_trade_volume_24h", "atv24h")) ||
	    norm_dec_opt(n, "quote_volume", d, get2(d, o, "acc_trade_price_24h", "atp24h")))
		return -1;
	norm_end(n);
	n->lines_ticker++;
	return 0;
}

/* Units pair the i-th bid with the i-th ask; near an empty book one side may be 0. */
static int read_units(struct norm *n, const struct js_doc *d, int units, const char *pk,
		      const char *pks, const char *qk, const char *qks)
{
	for (uint32_t i = 0, k = (uint32_t)units + 1; i < d->tok[units].size; i++, k = d->tok[k].next) {
		const char *p, *q;
		size_t pn, qn;
		if (d->tok[k].type != JS_OBJECT || js_numtext(d, get2(d, (int)k, pk, pks), &p, &pn) ||
		    js_numtext(d, get2(d, (int)k, qk, qks), &q, &qn))
			return norm_fail(n, NR_FIELD, "orderbook unit without price or size");
		if (norm_book_level(n, p, pn, q, qn))
			return -1;
	}
	return 0;
}

static int read_orderbook(struct norm *n, const struct js_doc *d, int o)
{
	char sym[SYM_MAX];
	int64_t ts;
	int units = get2(d, o, "orderbook_units", "obu");
	if (symbol_of(n, d, o, sym) || norm_ts(n, d, get2(d, o, "timestamp", "tms"), &ts))
		return -1;
	if (js_type(d, units) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "orderbook_units: missing");
	norm_book_begin(n, sym, ts);
	if (read_units(n, d, units, "bid_price", "bp", "bid_size", "bs"))
		return -1;
	norm_book_asks(n);
	if (read_units(n, d, units, "ask_price", "ap", "ask_size", "as"))
		return -1;
	return norm_book_end(n);
}

static int read_one(struct norm *n, const struct js_doc *d, int o)
{
	if (js_type(d, o) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "frame is not an object");
	int type = get2(d, o, "type", "ty");
	if (js_streq(d, type, "trade"))
		return read_trade(n, d, o);
	if (js_streq(d, type, "ticker"))
		return read_ticker(n, d, o);
	if (js_streq(d, type, "orderbook"))
		return read_orderbook(n, d, o);
	int err = js_get(d, o, "error");
	if (js_type(d, err) == JS_OBJECT) {
		norm_status_error(n, d, js_get(d, err, "name"), js_get(d, err, "message"));
		return 0;
	}
	if (js_get(d, o, "status") >= 0)
		return 0; /* {"status":"UP"} keep-alive answers, when a recording holds them */
	return norm_fail(n, NR_SHAPE, "unknown message type");
}

/* JSON_LIST and SIMPLE_LIST formats send arrays of messages. */
int upbit_normalize(struct norm *n, const struct js_doc *d, int data)
{
	if (js_type(d, data) != JS_ARRAY)
		return read_one(n, d, data);
	for (uint32_t i = 0, k = (uint32_t)data + 1; i < d->tok[data].size; i++, k = d->tok[k].next)
		if (read_one(n, d, (int)k))
			return -1;
	return 0;
}

const struct xch xch_upbit = {
	.name = "upbit",
	.default_url = "wss://api.upbit.com/websocket/v1",
	.default_symbols = "BTC-KRW,ETH-KRW,XRP-KRW,SOL-KRW,USDT-KRW",
	.proto = {
		.url = upbit_url,
		.subscribe = upbit_subscribe,
		.resync = upbit_resync,
		.classify = upbit_classify,
		/* Text PING makes the server answer {"status":"UP"} every 10 s, so even an idle
		 * market shows the connection is alive; the server cuts at 120 s of silence. */
		.keepalive_ms = 20000,
		.keepalive_text = "PING",
		.idle_timeout_ms = 45000,
		.max_age_ms = 0,
		.binary_is_text = 1,
		.resync_all = 1,
	},
	.normalize = upbit_normalize,
};
