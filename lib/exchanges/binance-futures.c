/* Binance USDⓈ-M futures: combined-stream WebSocket API on fstream (see
 * shared/exchanges/binance-futures.md). Perpetuals BTCUSDT are BTC-USDT-PERP, quarterlies
 * BTCUSDT_250627 are BTC-USDT-20250627; amounts are in base units already.
 *
 * Binance routes streams by path: book streams on /public, everything else on /market, and
 * a connection on the wrong path receives nothing, silently. So books need a connection of
 * their own (proto.split), and url() routes by the channels it is given. Books come from
 * the partial-depth stream (a top-20 snapshot every 100 ms), or with "book:full" from the
 * diff stream bridged to a REST snapshot, chained by pu (the previous event's u) as Binance
 * documents for futures. Mark, index and funding come from markPrice@1s, liquidations from
 * forceOrder (at most the latest one per symbol and second: a sample, not a tape). There is
 * no open-interest stream. The queue of diff events waiting for a snapshot is spot's
 * (binance.h). */
#include "binance.h"
#include "book.h"
#include "norm.h"
#include "xch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUTE_PUBLIC "/public" /* book streams */
#define ROUTE_MARKET "/market" /* every other stream */
#define PARTIAL_SUFFIX "@depth20@100ms"
#define FULL_SUFFIX "@depth@100ms"
#define SNAPSHOT_SUFFIX "@depthSnapshot"
#define REST_DEFAULT "https://fapi.binance.com"
#define WS_DEFAULT "wss://fstream.binance.com"
#define SNAPSHOT_LIMIT 1000  /* levels per side a REST snapshot asks for (the most allowed) */
#define MAX_STREAMS 200      /* streams one connection may combine (futures; spot allows 1024) */
#define BOOK_CHANNELS (XCH_BOOK | XCH_BOOK_FULL)
#define MARKET_CHANNELS (XCH_TRADE | XCH_TICKER | XCH_DERIVATIVE | XCH_LIQUIDATION)

static const struct {
	int channel;
	const char *suffix;
} streams[] = {
	{ XCH_TRADE, "@aggTrade" },
	{ XCH_TICKER, "@ticker" },
	{ XCH_BOOK, PARTIAL_SUFFIX },
	{ XCH_DERIVATIVE, "@markPrice@1s" },
	{ XCH_LIQUIDATION, "@forceOrder" },
};

/* ---- talking ---- */

/* Binance's name of a relay symbol, lower case: BTC-USDT-PERP -> "btcusdt",
 * BTC-USDT-20250627 -> "btcusdt_250627". Spot symbols have none. */
static int wire_name(const char *sym, char *out, size_t n)
{
	char base[SYM_MAX], quote[SYM_MAX], expiry[9], yymmdd[8];
	int kind = sym_parse_contract(sym, base, quote, expiry), k;
	if (kind == SYM_PERP)
		k = snprintf(out, n, "%s%s", base, quote);
	else if (kind == SYM_DATED && !sym_date_to_yymmdd(expiry, yymmdd))
		k = snprintf(out, n, "%s%s_%s", base, quote, yymmdd);
	else
		return -1;
	if (k < 0 || (size_t)k >= n)
		return -1;
	sym_lower(out, (size_t)k, out);
	return k;
}

static int stream_name(const char *sym, const char *suffix, char *out, size_t n)
{
	char name[SYM_MAX];
	if (wire_name(sym, name, sizeof name) < 0)
		return -1;
	int k = snprintf(out, n, "%s%s", name, suffix);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

static int bf_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		  size_t errlen)
{
	int books = sub->channels & XCH_BOOK, market = sub->channels & MARKET_CHANNELS;
	if (books && market) {
		snprintf(err, errlen, "book streams travel on %s and the others on %s: one connection "
			 "each (ingest opens one per group of proto.split)", ROUTE_PUBLIC, ROUTE_MARKET);
		return -1;
	}
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	int k = snprintf(out, n, "%.*s%s/stream?streams=", (int)bl, base, books ? ROUTE_PUBLIC : ROUTE_MARKET);
	if (k < 0 || (size_t)k >= n)
		goto toolong;
	size_t o = (size_t)k;
	int count = 0;
	for (int i = 0; i < sub->nsym; i++)
		for (size_t s = 0; s < sizeof streams / sizeof streams[0]; s++) {
			if (!(sub->channels & streams[s].channel))
				continue;
			const char *suffix = streams[s].suffix;
			if (streams[s].channel == XCH_BOOK && (sub->channels & XCH_BOOK_FULL))
				suffix = FULL_SUFFIX;
			if (count && o + 1 < n)
				out[o++] = '/';
			int w = stream_name(sub->sym[i], suffix, out + o, n - o);
			if (w < 0) {
				if (o + SYM_MAX + 20 < n) {
					snprintf(err, errlen, "bad symbol %s (perpetuals are BASE-QUOTE-PERP, "
						 "quarterlies BASE-QUOTE-YYYYMMDD)", sub->sym[i]);
					return -1;
				}
				goto toolong;
			}
			o += (size_t)w;
			count++;
		}
	if (!count) {
		snprintf(err, errlen, "no channel Binance USDⓈ-M futures offers");
		return -1;
	}
	if (count > MAX_STREAMS) {
		snprintf(err, errlen, "%d streams: Binance futures allows %d per connection", count, MAX_STREAMS);
		return -1;
	}
	return 0;
toolong:
	snprintf(err, errlen, "URL too long");
	return -1;
}

static int bf_subscribe(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out, size_t n)
{
	return 0; /* every stream is named in the URL */
}

/* Partial depth is a snapshot stream: subscribing it again is enough. */
static int bf_resync(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i,
		     char *out, size_t n)
{
	char name[SYM_MAX + 32];
	if (i > 0)
		return 0;
	if (stream_name(symbol, PARTIAL_SUFFIX, name, sizeof name) < 0)
		return -1;
	return binance_resubscribe(conn, name, out, n);
}

/* The REST snapshot lives on fapi.binance.com for the public endpoint; for any other endpoint
 * (a test's fake exchange) on the same host and port, over http(s) to match. */
static int bf_rest(const struct xch_sub *sub, const char *ws_base, const char *symbol, char *url,
		   size_t urln, char *tag, size_t tagn)
{
	char name[SYM_MAX], host[512];
	if (wire_name(symbol, name, sizeof name) < 0 || stream_name(symbol, SNAPSHOT_SUFFIX, tag, tagn) < 0)
		return -1;
	if (xch_rest_host(ws_base, WS_DEFAULT, REST_DEFAULT, host, sizeof host))
		return -1;
	for (char *c = name; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 32);
	int k = snprintf(url, urln, "%s/fapi/v1/depth?symbol=%s&limit=%d", host, name, SNAPSHOT_LIMIT);
	return k < 0 || (size_t)k >= urln ? -1 : 0;
}

/* ---- reading ---- */

#define FULL_MAX_LEVELS 20000 /* per side of a full book; deeper means something is wrong */
#define PARTIAL_MAX_LEVELS 1000

/* What is kept per symbol (norm_state). */
struct inst {
	int streamed;          /* a stream of the symbol's own has been seen: it is subscribed */
	struct book *book;     /* partial depth's or the full book; NULL until needed */
	int synced;            /* full book: a snapshot was bridged and no gap seen since */
	int bridged;           /* full book: an event has continued the snapshot */
	int64_t last;          /* full book: u of the last event applied (lastUpdateId at first) */
	int64_t asked_at;      /* full book: local_ts of the last snapshot request; 0: ask now */
	struct binance_pending pending; /* full book: events buffered while no snapshot is in place */
};

static void inst_release(void *p)
{
	struct inst *in = p;
	binance_pending_clear(&in->pending);
	book_free(in->book);
}

static struct inst *inst_of(struct norm *n, const char *sym)
{
	return norm_state(n, sym, sizeof(struct inst), inst_release);
}

/* A relay symbol from Binance's name: "BTCUSDT" (perpetual), "BTCUSDT_250627" (quarterly). */
static int symbol_text(const char *s, size_t len, char *sym)
{
	char pair[SYM_MAX], base[SYM_MAX], quote[SYM_MAX], date[9];
	const char *us = memchr(s, '_', len);
	size_t pl = us ? (size_t)(us - s) : len;
	if (sym_split_concat(s, pl, pair) < 0)
		return -1;
	if (us && sym_date_yymmdd(us + 1, len - pl - 1, date) < 0)
		return -1;
	const char *dash = strchr(pair, '-');
	snprintf(base, sizeof base, "%.*s", (int)(dash - pair), pair);
	snprintf(quote, sizeof quote, "%s", dash + 1);
	return sym_join_contract(base, strlen(base), quote, strlen(quote), us ? date : NULL, sym);
}

static int symbol_of(struct norm *n, const struct js_doc *d, int t, char *sym)
{
	if (js_type(d, t) != JS_STRING)
		return norm_fail(n, NR_FIELD, "s: missing symbol");
	if (symbol_text(js_ptr(d, t), js_len(d, t), sym) < 0)
		return norm_fail(n, NR_SYMBOL, "cannot read symbol %.*s", (int)js_len(d, t) & 31, js_ptr(d, t));
	return 0;
}

/* The symbol a stream name ("btcusdt@markPrice@1s") is about; -1 for "!markPrice@arr". */
static int stream_symbol(const struct js_doc *d, int stream, char *sym)
{
	if (stream < 0)
		return -1;
	const char *s = js_ptr(d, stream), *at = memchr(s, '@', js_len(d, stream));
	if (!at || at == s || s[0] == '!')
		return -1;
	return symbol_text(s, (size_t)(at - s), sym);
}

/* Decides whether a line for SYM goes out: a frame of a symbol's own stream marks it
 * subscribed (and must be about that symbol); an element of an all-symbols stream
 * (!markPrice@arr, !forceOrder@arr) goes out only for a symbol seen on a stream of its own,
 * and is otherwise left out and counted. Returns 1 to write it, 0 to leave it out, -1 after
 * norm_fail. */
static int wanted(struct norm *n, const char *sym, const char *stream_sym)
{
	struct inst *in = inst_of(n, sym);
	if (!in)
		return norm_fail(n, NR_SYMBOL, "no memory for %s", sym);
	if (stream_sym) {
		if (strcmp(sym, stream_sym))
			return norm_fail(n, NR_FIELD, "s: %s on the stream of %s", sym, stream_sym);
		in->streamed = 1;
		return 1;
	}
	if (in->streamed)
		return 1;
	char why[96];
	snprintf(why, sizeof why, "%s is not subscribed", sym);
	norm_skip(n, NR_UNSUBSCRIBED, why);
	return 0;
}

/* aggTrade (and trade, should it come): the taker sold when the buyer is the maker. */
static int read_trade(struct norm *n, const struct js_doc *d, int o, int agg, const char *ss)
{
	char sym[SYM_MAX];
	int64_t ts;
	int m = js_get(d, o, "m"), w;
	if (symbol_of(n, d, js_get(d, o, "s"), sym) || norm_ts(n, d, js_get(d, o, "T"), &ts))
		return -1;
	if (js_type(d, m) != JS_TRUE && js_type(d, m) != JS_FALSE)
		return norm_fail(n, NR_FIELD, "m: missing or not a boolean");
	if ((w = wanted(n, sym, ss)) <= 0)
		return w;
	return binance_trade_line(n, d, o, agg, m, sym, ts);
}

/* 24hrTicker (statistics, no best bid/ask on futures) and bookTicker (best bid/ask). */
static int read_ticker(struct norm *n, const struct js_doc *d, int o, const char *ss)
{
	char sym[SYM_MAX];
	int64_t ts;
	int w;
	if (symbol_of(n, d, js_get(d, o, "s"), sym) || norm_ts(n, d, js_get(d, o, "E"), &ts))
		return -1;
	if ((w = wanted(n, sym, ss)) <= 0)
		return w;
	return binance_ticker_line(n, d, o, sym, ts);
}

/* markPriceUpdate: mark p, index i, the current period's funding rate r and the next
 * funding time T. A delivery contract sends r "" and T 0: no funding then. P, the estimated
 * settlement price, has no field in the contract. */
static int read_mark(struct norm *n, const struct js_doc *d, int o, const char *ss)
{
	char sym[SYM_MAX];
	int64_t ts;
	int w;
	if (js_type(d, o) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "mark price update is not an object");
	if (symbol_of(n, d, js_get(d, o, "s"), sym) || norm_ts(n, d, js_get(d, o, "E"), &ts))
		return -1;
	if ((w = wanted(n, sym, ss)) <= 0)
		return w;
	norm_derivative_begin(n, sym, ts);
	if (norm_dec_sent(n, "mark", d, js_get(d, o, "p")) ||
	    norm_dec_sent(n, "index", d, js_get(d, o, "i")) ||
	    norm_dec_sent(n, "funding_rate", d, js_get(d, o, "r")) ||
	    norm_ts_sent(n, "funding_ts", d, js_get(d, o, "T")))
		return -1;
	norm_derivative_end(n);
	return 0;
}

/* forceOrder: o.S is the side of the liquidation order (SELL: a long was liquidated), ap
 * its average fill price and z the amount filled. Binance gives no id. */
static int read_force_order(struct norm *n, const struct js_doc *d, int e, const char *ss)
{
	char sym[SYM_MAX];
	int64_t ts;
	const char *side;
	int o = js_get(d, e, "o"), w;
	if (js_type(d, o) != JS_OBJECT)
		return norm_fail(n, NR_FIELD, "o: missing or not an object");
	if (symbol_of(n, d, js_get(d, o, "s"), sym) || norm_ts(n, d, js_get(d, o, "T"), &ts))
		return -1;
	int s = js_get(d, o, "S");
	if (!js_streq(d, s, "BUY") && !js_streq(d, s, "SELL"))
		return norm_fail(n, NR_FIELD, "S: neither BUY nor SELL");
	side = js_streq(d, s, "BUY") ? "buy" : "sell";
	if ((w = wanted(n, sym, ss)) <= 0)
		return w;
	int px = js_get(d, o, "ap"), amt = js_get(d, o, "z");
	norm_head(n, "liquidation", sym, ts);
	if (norm_price_amount(n, d, px >= 0 ? px : js_get(d, o, "p"), amt >= 0 ? amt : js_get(d, o, "q")))
		return -1;
	jw_key(n->w, "side");
	jw_str(n->w, side, strlen(side));
	norm_end_liquidation(n);
	return 0;
}

/* Partial depth: a depthUpdate event holding the top N of each side, replaced as a whole.
 * The levels are set into a scratch book, so any order they come in gives a sorted line. */
static int read_partial(struct norm *n, const struct js_doc *d, int o, const char *sym)
{
	int64_t ts;
	struct inst *in = inst_of(n, sym);
	if (!in || (!in->book && !(in->book = book_new(PARTIAL_MAX_LEVELS))))
		return norm_fail(n, NR_BOOK, "out of memory");
	if (norm_ts(n, d, js_get(d, o, "E"), &ts))
		return -1;
	in->streamed = 1;
	book_clear(in->book);
	if (binance_set_side(n, in->book, BOOK_BID, d, js_get(d, o, "b")) ||
	    binance_set_side(n, in->book, BOOK_ASK, d, js_get(d, o, "a"))) {
		book_clear(in->book);
		return -1;
	}
	return norm_book_from(n, in->book, sym, ts);
}

/* ---- full depth: the diff stream bridged to a REST snapshot ---- */

static void drop_full(struct inst *in)
{
	book_clear(in->book);
	in->synced = in->bridged = 0;
	binance_pending_clear(&in->pending);
}

/* Applies one diff event (tokens of D at O, U = FIRST, u = LAST, pu = PREV) to a synced
 * book. Returns 1 when applied, 0 when it is older than the book, -1 on a gap (the book is
 * then dropped and a snapshot asked for), -2 when it cannot be read. */
static int apply_diff(struct norm *n, struct inst *in, const char *sym, const struct js_doc *d, int o,
		      int64_t first, int64_t last, int64_t prev)
{
	char why[96];
	if (!in->bridged) {
		/* The first event after the snapshot must contain it: U <= lastUpdateId <= u. */
		if (last < in->last)
			return 0;
		if (first > in->last) {
			snprintf(why, sizeof why, "snapshot %lld older than the next event (U %lld)",
				 (long long)in->last, (long long)first);
			goto gap;
		}
	} else if (prev != in->last) {
		snprintf(why, sizeof why, "sequence gap: pu %lld after u %lld", (long long)prev, (long long)in->last);
		goto gap;
	}
	if (binance_set_side(n, in->book, BOOK_BID, d, js_get(d, o, "b")) ||
	    binance_set_side(n, in->book, BOOK_ASK, d, js_get(d, o, "a")))
		return -2;
	in->last = last;
	in->bridged = 1;
	return 1;
gap:
	drop_full(in);
	in->asked_at = 0;
	binance_want_snapshot(n, &in->asked_at, sym, why);
	return -1;
}

/* The fields of a diff event that order it. */
static int diff_ids(const struct js_doc *d, int o, int64_t *first, int64_t *last, int64_t *prev)
{
	return js_int64(d, js_get(d, o, "U"), first) || js_int64(d, js_get(d, o, "u"), last) ||
	       js_int64(d, js_get(d, o, "pu"), prev) || *first > *last;
}

static int read_diff(struct norm *n, const struct js_doc *d, int o, const char *sym)
{
	int64_t first, last, prev, ts;
	if (norm_ts(n, d, js_get(d, o, "E"), &ts))
		return -1;
	if (diff_ids(d, o, &first, &last, &prev))
		return norm_fail(n, NR_FIELD, "U/u/pu: missing or out of order");
	struct inst *in = inst_of(n, sym);
	if (!in || (!in->book && !(in->book = book_new(FULL_MAX_LEVELS))))
		return norm_fail(n, NR_BOOK, "out of memory");
	in->streamed = 1;
	if (in->synced) {
		int r = apply_diff(n, in, sym, d, o, first, last, prev);
		if (r == -1)
			binance_pending_add(&in->pending, js_ptr(d, o), js_len(d, o), first, last);
		if (r == -2) {
			/* A half-applied event leaves the book unknown: rebuild it. */
			drop_full(in);
			in->asked_at = 0;
			binance_want_snapshot(n, &in->asked_at, sym, "unreadable diff event");
			return -1;
		}
		return r == 1 ? norm_book_from(n, in->book, sym, ts) : 0;
	}
	if (binance_pending_add(&in->pending, js_ptr(d, o), js_len(d, o), first, last)) {
		/* No snapshot for too long: start over. */
		binance_pending_clear(&in->pending);
		in->asked_at = 0;
		binance_pending_add(&in->pending, js_ptr(d, o), js_len(d, o), first, last);
	}
	binance_want_snapshot(n, &in->asked_at, sym, "waiting for the order book snapshot");
	return 0;
}

/* The REST snapshot (ingest wraps it as {"stream":"<sym>@depthSnapshot","data":...}),
 * bridged to the buffered events: those with u < lastUpdateId are dropped, the first kept
 * one must have U <= lastUpdateId <= u, every later one pu == the u before. */
static int read_snapshot(struct norm *n, const struct js_doc *d, int o, const char *sym)
{
	int64_t id, ts;
	if (js_int64(d, js_get(d, o, "lastUpdateId"), &id))
		return norm_fail(n, NR_FIELD, "lastUpdateId: missing");
	if (norm_ts(n, d, js_get(d, o, "E"), &ts))
		return -1;
	struct inst *in = inst_of(n, sym);
	struct js_doc *pd = binance_feed_parser(n);
	if (!in || !pd || (!in->book && !(in->book = book_new(FULL_MAX_LEVELS))))
		return norm_fail(n, NR_BOOK, "out of memory");
	/* Older than the events buffered: they are kept for the next snapshot. */
	int next = 0;
	while (next < in->pending.n && in->pending.ev[next].last < id)
		next++;
	if (next < in->pending.n && in->pending.ev[next].first > id) {
		char why[96];
		snprintf(why, sizeof why, "snapshot %lld older than the next event (U %lld)", (long long)id,
			 (long long)in->pending.ev[next].first);
		in->asked_at = 0;
		binance_want_snapshot(n, &in->asked_at, sym, why);
		return 0;
	}
	book_clear(in->book);
	in->synced = in->bridged = 0;
	if (binance_set_side(n, in->book, BOOK_BID, d, js_get(d, o, "bids")) ||
	    binance_set_side(n, in->book, BOOK_ASK, d, js_get(d, o, "asks"))) {
		drop_full(in);
		return -1;
	}
	in->last = id;
	in->synced = 1;
	for (int i = 0; i < in->pending.n; i++) {
		int64_t first, last, prev;
		struct binance_event *e = &in->pending.ev[i];
		if (js_parse(pd, e->text, e->len) != JS_OK || diff_ids(pd, 0, &first, &last, &prev)) {
			drop_full(in);
			return norm_fail(n, NR_BOOK, "buffered diff event unreadable");
		}
		int r = apply_diff(n, in, sym, pd, 0, first, last, prev);
		if (r == -1)
			return 0; /* the gap is told and a snapshot asked for */
		if (r == -2) {
			drop_full(in);
			return norm_fail(n, NR_BOOK, "buffered diff event unreadable");
		}
	}
	binance_pending_clear(&in->pending);
	in->asked_at = 0;
	return norm_book_from(n, in->book, sym, ts);
}

static int read_depth(struct norm *n, const struct js_doc *d, int o, int stream, const char *ss)
{
	char sym[SYM_MAX];
	if (symbol_of(n, d, js_get(d, o, "s"), sym))
		return -1;
	if (!ss || strcmp(sym, ss))
		return norm_fail(n, NR_FIELD, "depth event of %s without its stream name", sym);
	/* "btcusdt@depth20@100ms" is partial depth; "btcusdt@depth" and "@depth@100ms" diffs. */
	const char *at = memchr(js_ptr(d, stream), '@', js_len(d, stream));
	size_t rest = js_len(d, stream) - (size_t)(at - js_ptr(d, stream));
	int partial = rest > 6 && at[6] >= '0' && at[6] <= '9';
	return partial ? read_partial(n, d, o, sym) : read_diff(n, d, o, sym);
}

/* One event: O is its object, STREAM the combined stream's name token (or -1). */
static int read_event(struct norm *n, const struct js_doc *d, int o, int stream)
{
	char ssym[SYM_MAX];
	const char *ss = stream_symbol(d, stream, ssym) < 0 ? NULL : ssym;
	int e = js_get(d, o, "e");
	if (js_streq(d, e, "aggTrade"))
		return read_trade(n, d, o, 1, ss);
	if (js_streq(d, e, "trade"))
		return read_trade(n, d, o, 0, ss);
	if (js_streq(d, e, "markPriceUpdate"))
		return read_mark(n, d, o, ss);
	if (js_streq(d, e, "forceOrder"))
		return read_force_order(n, d, o, ss);
	if (js_streq(d, e, "24hrTicker") || js_streq(d, e, "24hrMiniTicker") || js_streq(d, e, "bookTicker"))
		return read_ticker(n, d, o, ss);
	if (js_streq(d, e, "depthUpdate"))
		return read_depth(n, d, o, stream, ss);
	if (js_streq(d, e, "serverShutdown")) {
		norm_status(n, "disconnected", NULL, "server shutdown announced");
		return 0;
	}
	return norm_fail(n, NR_SHAPE, "unknown event type");
}

static int bf_normalize(struct norm *n, const struct js_doc *d, int data)
{
	int stream = -1, o = data;
	if (js_type(d, data) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "frame is not an object");
	/* Combined streams wrap every event: {"stream":"btcusdt@aggTrade","data":{...}}. */
	int inner = js_get(d, data, "data");
	if (inner >= 0 && js_type(d, js_get(d, data, "stream")) == JS_STRING) {
		stream = js_get(d, data, "stream");
		o = inner;
	}
	if (js_type(d, o) == JS_ARRAY) {
		/* !markPrice@arr, !forceOrder@arr: every symbol's events in one frame. */
		for (uint32_t i = 0, k = (uint32_t)o + 1; i < d->tok[o].size; i++, k = d->tok[k].next) {
			if (d->tok[k].type != JS_OBJECT)
				return norm_fail(n, NR_SHAPE, "array element is not an object");
			if (read_event(n, d, (int)k, -1))
				return -1;
		}
		return 0;
	}
	if (js_type(d, o) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "data is neither an object nor an array");
	if (js_get(d, o, "e") >= 0)
		return read_event(n, d, o, stream);
	if (stream >= 0 && js_get(d, o, "lastUpdateId") >= 0) {
		char sym[SYM_MAX];
		size_t sl = js_len(d, stream), tl = sizeof SNAPSHOT_SUFFIX - 1;
		if (sl <= tl || memcmp(js_ptr(d, stream) + sl - tl, SNAPSHOT_SUFFIX, tl) ||
		    stream_symbol(d, stream, sym) < 0)
			return norm_fail(n, NR_SYMBOL, "a snapshot without a symbol's stream name");
		return read_snapshot(n, d, o, sym);
	}
	int err = js_get(d, o, "error");
	if (err >= 0 || (js_get(d, o, "code") >= 0 && js_get(d, o, "msg") >= 0)) {
		int eo = err >= 0 ? err : o;
		norm_status_error(n, d, js_get(d, eo, "code"), js_get(d, eo, "msg"));
		return 0;
	}
	if (js_get(d, o, "result") >= 0 && js_get(d, o, "id") >= 0) {
		if (js_type(d, js_get(d, o, "result")) == JS_NULL)
			norm_status(n, "subscribed", NULL, NULL);
		return 0; /* an answer to a query: nothing to relay */
	}
	return norm_fail(n, NR_SHAPE, "unknown message");
}

const struct xch xch_binance_futures = {
	.name = "binance-futures",
	.default_url = "wss://fstream.binance.com",
	.default_symbols = "BTC-USDT-PERP,ETH-USDT-PERP",
	.proto = {
		.url = bf_url,
		.subscribe = bf_subscribe,
		.resync = bf_resync,
		.rest = bf_rest,
		.split = { BOOK_CHANNELS, MARKET_CHANNELS },
		.classify = binance_classify,
		/* The server pings every 3 minutes and lws answers; our own ping every 30 s
		 * makes a quiet connection produce a pong we can see (10 messages a second
		 * are allowed, pings included). */
		.keepalive_ms = 30000,
		.keepalive_text = NULL,
		.idle_timeout_ms = 65000,
		/* Binance ends a connection at 24 h: a new one half an hour before. */
		.max_age_ms = (int64_t)23 * 3600 * 1000 + 30 * 60 * 1000,
	},
	.normalize = bf_normalize,
};
