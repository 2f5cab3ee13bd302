/* Bybit v5 spot: public WebSocket API (see shared/exchanges/bybit.md). The trade, book and
 * reply readers are shared with bybit-linear.c (bybit.h): derivatives use the same frames. */
#include "bybit.h"
#include "book.h"
#include "dec.h"
#include "norm.h"
#include "xch.h"

#include <stdio.h>
#include <string.h>

/* Spot rejects a subscribe request with more than 10 topics, and a connection whose topics
 * add up to more than 21 000 characters (as linear does). */
#define MAX_ARGS_PER_REQUEST 10
#define MAX_ARGS_CHARS 21000

/* Depth of the book topic we subscribe: 50 levels, pushed every 20 ms. */
#define BOOK_TOPIC "orderbook.50."

/* A kept book holds at most this many levels per side: the deepest topic (1000) plus one
 * frame's worth of new levels before the book is cut back to the topic's depth. */
#define FRAME_MAX_LEVELS 1000
#define BOOK_MAX_LEVELS 2048

/* When a resync request brought no snapshot (the request was lost, or Bybit did not answer
 * it), it is sent again once this much time has passed. */
#define RESYNC_RETRY_US (30 * 1000000LL)

/* Pongs are small: longer frames are market data, never scanned for them. */
#define PONG_MAX 256

/* What is kept per symbol (norm_state): the book. */
static void topic_book_release(void *p)
{
	book_free(((struct bybit_book *)p)->book);
}

static struct bybit_book *book_of(struct norm *n, const char *sym)
{
	return norm_state(n, sym, sizeof(struct bybit_book), topic_book_release);
}

static const struct bybit_topic topics[] = {
	{ XCH_TRADE, "publicTrade." },
	{ XCH_TICKER, "tickers." },
	{ XCH_BOOK, BOOK_TOPIC },
};

/* "BTC-USDT" -> "BTCUSDT" (OUT holds SYM_MAX bytes). */
static int pair_name(const char *sym, char *out)
{
	char base[SYM_MAX], quote[SYM_MAX];
	if (sym_parse(sym, base, quote))
		return -1;
	int k = snprintf(out, SYM_MAX, "%s%s", base, quote);
	return k < 0 || k >= SYM_MAX ? -1 : k;
}

static const struct bybit_product spot = {
	.topics = topics,
	.ntopics = sizeof topics / sizeof topics[0],
	.max_args = MAX_ARGS_PER_REQUEST,
	.name = pair_name,
	.hint = "",
};

static int topics_per_symbol(const struct bybit_product *pr, const struct xch_sub *sub)
{
	int k = 0;
	for (int t = 0; t < pr->ntopics; t++)
		k += (sub->channels & pr->topics[t].channels) != 0;
	return k;
}

/* Topic K of SUB, symbol by symbol (a symbol's topics travel together). Returns the
 * length written to OUT, or -1. */
static int nth_topic(const struct bybit_product *pr, const struct xch_sub *sub, int k, char *out, size_t n)
{
	int per = topics_per_symbol(pr, sub);
	if (!per || k < 0 || k >= sub->nsym * per)
		return -1;
	int want = k % per, t;
	for (t = 0; t < pr->ntopics; t++)
		if ((sub->channels & pr->topics[t].channels) && want-- == 0)
			break;
	char name[SYM_MAX];
	if (pr->name(sub->sym[k / per], name) < 0)
		return -1;
	int w = snprintf(out, n, "%s%s", pr->topics[t].prefix, name);
	return w < 0 || (size_t)w >= n ? -1 : w;
}

int bybit_url_of(const struct bybit_product *pr, const struct xch_sub *sub, const char *base, char *out,
		 size_t n, char *err, size_t errlen)
{
	int k = snprintf(out, n, "%s", base);
	if (k < 0 || (size_t)k >= n) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	char name[SYM_MAX], topic[64];
	for (int i = 0; i < sub->nsym; i++)
		if (pr->name(sub->sym[i], name) < 0) {
			snprintf(err, errlen, "bad symbol %s%s", sub->sym[i], pr->hint);
			return -1;
		}
	long chars = 0;
	for (int t = 0; t < sub->nsym * topics_per_symbol(pr, sub); t++) {
		int w = nth_topic(pr, sub, t, topic, sizeof topic);
		if (w < 0) {
			snprintf(err, errlen, "topic %d does not fit", t);
			return -1;
		}
		chars += w;
	}
	if (chars > MAX_ARGS_CHARS) {
		snprintf(err, errlen, "topics add up to %ld characters: Bybit allows %d per connection",
			 chars, MAX_ARGS_CHARS);
		return -1;
	}
	return 0;
}

/* {"op":OP,"args":[topics FIRST .. FIRST+COUNT-1, or ONE],"req_id":"ID"} */
static int request(const struct bybit_product *pr, const struct xch_sub *sub, const char *op, int first,
		   int count, const char *one, const char *req_id, char *out, size_t n)
{
	int k = snprintf(out, n, "{\"op\":\"%s\",\"args\":[", op);
	if (k < 0 || (size_t)k >= n)
		return -1;
	size_t o = (size_t)k;
	for (int i = 0; i < (one ? 1 : count); i++) {
		char topic[64];
		if (one)
			snprintf(topic, sizeof topic, "%s", one);
		else if (nth_topic(pr, sub, first + i, topic, sizeof topic) < 0)
			return -1;
		k = snprintf(out + o, n - o, "%s\"%s\"", i ? "," : "", topic);
		if (k < 0 || (size_t)k >= n - o)
			return -1;
		o += (size_t)k;
	}
	k = snprintf(out + o, n - o, "],\"req_id\":\"%s\"}", req_id);
	if (k < 0 || (size_t)k >= n - o)
		return -1;
	return (int)(o + (size_t)k);
}

/* Message I carries topics MAX_ARGS I .. MAX_ARGS I + MAX_ARGS - 1. */
int bybit_subscribe_of(const struct bybit_product *pr, const struct xch_sub *sub, struct xch_conn *conn,
		       int i, char *out, size_t n)
{
	int total = sub->nsym * topics_per_symbol(pr, sub), first = i * pr->max_args;
	if (i < 0 || first >= total)
		return 0;
	int count = total - first < pr->max_args ? total - first : pr->max_args;
	char req_id[32];
	snprintf(req_id, sizeof req_id, "sub-%d", i + 1);
	return request(pr, sub, "subscribe", first, count, NULL, req_id, out, n);
}

/* Unsubscribing and subscribing the book topic again makes Bybit send a fresh snapshot;
 * the other topics of the connection are left alone. */
int bybit_resync_of(const struct bybit_product *pr, const struct xch_sub *sub, struct xch_conn *conn,
		    const char *symbol, int i, char *out, size_t n)
{
	char name[SYM_MAX], other[SYM_MAX], topic[64], req_id[32];
	const char *book = NULL;
	if (i > 1)
		return 0;
	for (int t = 0; t < pr->ntopics; t++)
		if (pr->topics[t].channels & XCH_BOOK)
			book = pr->topics[t].prefix;
	if (!book || !(sub->channels & XCH_BOOK) || pr->name(symbol, name) < 0)
		return -1;
	int found = 0;
	for (int s = 0; s < sub->nsym && !found; s++)
		found = pr->name(sub->sym[s], other) >= 0 && !strcmp(name, other);
	if (!found)
		return -1; /* not ours: subscribing it now would add a topic the user did not ask for */
	snprintf(topic, sizeof topic, "%s%s", book, name);
	if (i == 0)
		conn->next_id++;
	snprintf(req_id, sizeof req_id, "resync-%u-%s", conn->next_id, i ? "sub" : "unsub");
	return request(pr, sub, i ? "subscribe" : "unsubscribe", 0, 0, topic, req_id, out, n);
}

static int bybit_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		     size_t errlen)
{
	return bybit_url_of(&spot, sub, base, out, n, err, errlen);
}

static int bybit_subscribe(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out, size_t n)
{
	return bybit_subscribe_of(&spot, sub, conn, i, out, n);
}

static int bybit_resync(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i,
			char *out, size_t n)
{
	return bybit_resync_of(&spot, sub, conn, symbol, i, out, n);
}

/* The spot pong is {"success":true,"ret_msg":"pong",...,"op":"ping"}; other categories
 * answer {"args":[...],"op":"pong"}. */
enum xch_frame bybit_classify(const char *f, size_t n)
{
	if (n < PONG_MAX && (memmem(f, n, "\"ret_msg\":\"pong\"", 16) || memmem(f, n, "\"op\":\"pong\"", 11)))
		return XCH_HEARTBEAT;
	return XCH_FORWARD;
}

/* ---- reading ---- */

static int topic_is(const struct js_doc *d, int topic, const char *prefix)
{
	size_t pl = strlen(prefix);
	return js_len(d, topic) > pl && !memcmp(js_ptr(d, topic), prefix, pl);
}

static int symbol_of(struct norm *n, const struct js_doc *d, int t, char *sym)
{
	if (js_type(d, t) != JS_STRING)
		return norm_fail(n, NR_FIELD, "symbol missing or not a string");
	if (sym_split_concat(js_ptr(d, t), js_len(d, t), sym) < 0)
		return norm_fail(n, NR_SYMBOL, "cannot split symbol %.*s", (int)js_len(d, t) & 31,
				 js_ptr(d, t));
	return 0;
}

/* publicTrade: an array of trades, sorted by match time; S is the taker's side. */
int bybit_read_trades(struct norm *n, const struct js_doc *d, int data, bybit_symbol_fn symbol)
{
	if (js_type(d, data) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "data: trades are not an array");
	for (uint32_t i = 0, k = (uint32_t)data + 1; i < d->tok[data].size; i++, k = d->tok[k].next) {
		int o = (int)k;
		char sym[SYM_MAX];
		int64_t ts;
		if (d->tok[k].type != JS_OBJECT)
			return norm_fail(n, NR_FIELD, "trade is not an object");
		if (symbol(n, d, js_get(d, o, "s"), sym) || norm_ts(n, d, js_get(d, o, "T"), &ts))
			return -1;
		int side = js_get(d, o, "S");
		const char *sd;
		if (norm_side(n, d, side, "S", "Buy", "Sell", &sd))
			return -1;
		norm_head(n, "trade", sym, ts);
		if (norm_id(n, "id", d, js_get(d, o, "i")) ||
		    norm_price_amount(n, d, js_get(d, o, "p"), js_get(d, o, "v")))
			return -1;
		jw_key(n->w, "side");
		jw_str(n->w, sd, strlen(sd));
		norm_end_trade(n);
	}
	return 0;
}

/* tickers: 24 h statistics. The spot ticker has no best bid/ask; the bid1/ask1 fields of
 * the derivatives tickers are read when present. Volumes are rolling 24 h. */
static int read_ticker(struct norm *n, const struct js_doc *d, int frame, int data)
{
	char sym[SYM_MAX];
	int64_t ts;
	if (js_type(d, data) != JS_OBJECT)
		return norm_fail(n, NR_FIELD, "data: ticker is not an object");
	if (symbol_of(n, d, js_get(d, data, "symbol"), sym) || norm_ts(n, d, js_get(d, frame, "ts"), &ts))
		return -1;
	norm_head(n, "ticker", sym, ts);
	if (norm_dec_opt(n, "bid", d, js_get(d, data, "bid1Price")) ||
	    norm_dec_opt(n, "bid_size", d, js_get(d, data, "bid1Size")) ||
	    norm_dec_opt(n, "ask", d, js_get(d, data, "ask1Price")) ||
	    norm_dec_opt(n, "ask_size", d, js_get(d, data, "ask1Size")) ||
	    norm_dec_opt(n, "last", d, js_get(d, data, "lastPrice")) ||
	    norm_dec_opt(n, "open", d, js_get(d, data, "prevPrice24h")) ||
	    norm_dec_opt(n, "high", d, js_get(d, data, "highPrice24h")) ||
	    norm_dec_opt(n, "low", d, js_get(d, data, "lowPrice24h")) ||
	    norm_dec_opt(n, "volume", d, js_get(d, data, "volume24h")) ||
	    norm_dec_opt(n, "quote_volume", d, js_get(d, data, "turnover24h")))
		return -1;
	norm_end(n);
	n->lines_ticker++;
	return 0;
}

/* Checks every level of one side before the book is touched, so a bad frame is skipped
 * whole and never leaves a half-applied book behind. */
static int check_side(struct norm *n, const struct js_doc *d, int arr, const char *name)
{
	if (js_type(d, arr) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "%s: missing or not an array", name);
	if (d->tok[arr].size > FRAME_MAX_LEVELS)
		return norm_fail(n, NR_FIELD, "%s: %u levels, more than %d", name, d->tok[arr].size,
				 FRAME_MAX_LEVELS);
	for (uint32_t i = 0, k = (uint32_t)arr + 1; i < d->tok[arr].size; i++, k = d->tok[k].next) {
		const char *p, *q;
		size_t pn, qn;
		char pc[DEC_MAX], qc[DEC_MAX];
		if (d->tok[k].type != JS_ARRAY || d->tok[k].size < 2 || js_numtext(d, (int)k + 1, &p, &pn) ||
		    js_numtext(d, (int)d->tok[k + 1].next, &q, &qn))
			return norm_fail(n, NR_FIELD, "%s: level is not [price, size]", name);
		int pl = dec_canon(p, pn, pc), ql = dec_canon(q, qn, qc);
		if (pl < 0 || ql < 0 || pn >= BOOK_TEXT || qn >= BOOK_TEXT || pl >= BOOK_TEXT ||
		    ql >= BOOK_TEXT)
			return norm_fail(n, NR_NUMBER, "%s: level is not a decimal, or too long", name);
		if (pc[0] == '-' || qc[0] == '-' || (dec_is_zero(pc, (size_t)pl) && !dec_is_zero(qc, (size_t)ql)))
			return norm_fail(n, NR_NUMBER, "%s: negative or zero price", name);
	}
	return 0;
}

static int apply_side(struct book *b, enum book_side s, const struct js_doc *d, int arr)
{
	for (uint32_t i = 0, k = (uint32_t)arr + 1; i < d->tok[arr].size; i++, k = d->tok[k].next) {
		const char *p, *q;
		size_t pn, qn;
		js_numtext(d, (int)k + 1, &p, &pn);
		js_numtext(d, (int)d->tok[k + 1].next, &q, &qn);
		if (book_set(b, s, p, pn, q, qn))
			return -1;
	}
	return 0;
}

/* The book cannot be trusted any more: drop it, tell downstream, ask for a fresh snapshot,
 * and ignore deltas until it comes. */
static void drop_book(struct norm *n, struct bybit_book *tb, const char *sym, const char *why)
{
	book_clear(tb->book);
	tb->synced = 0;
	tb->resync_at = n->local_ts + 1;
	norm_resync(n, sym, why);
}

/* orderbook.{depth}: a snapshot, then deltas (absolute sizes, "0" deletes).
 *
 * Continuity: Bybit documents no rule for these topics beyond "a new snapshot resets the
 * book" and "u = 1 means a restart: treat it as a snapshot". Within one subscription u
 * counts the topic's messages, so a delta must carry exactly the previous u + 1; anything
 * else (a skipped u, or one that went back) means the book may have missed or reordered an
 * update, and it is rebuilt. seq, the cross sequence, must not go back either. Levels that
 * leave the subscribed depth are not deleted explicitly: the book is cut to the topic's
 * depth after every message. */
int bybit_read_book(struct norm *n, const struct js_doc *d, int frame, int topic, int data,
		    bybit_symbol_fn symbol, bybit_book_fn state)
{
	char sym[SYM_MAX];
	int64_t ts, u, cs = -1;
	if (js_type(d, data) != JS_OBJECT)
		return norm_fail(n, NR_FIELD, "data: book is not an object");
	int type = js_get(d, frame, "type"), bids = js_get(d, data, "b"), asks = js_get(d, data, "a");
	int s = js_get(d, data, "s");
	int snapshot = js_streq(d, type, "snapshot");
	if (!snapshot && !js_streq(d, type, "delta"))
		return norm_fail(n, NR_FIELD, "type: neither snapshot nor delta");
	if (symbol(n, d, s, sym) || norm_ts(n, d, js_get(d, frame, "ts"), &ts))
		return -1;
	if (js_int64(d, js_get(d, data, "u"), &u) || u < 1)
		return norm_fail(n, NR_FIELD, "u: missing or not a positive integer");
	int seqt = js_get(d, data, "seq");
	if (seqt >= 0 && js_type(d, seqt) != JS_NULL && (js_int64(d, seqt, &cs) || cs < 0))
		return norm_fail(n, NR_FIELD, "seq: not a positive integer");
	if (check_side(n, d, bids, "b") || check_side(n, d, asks, "a"))
		return -1;
	/* "orderbook.50.BTCUSDT": the depth the book is cut to. */
	const char *tp = js_ptr(d, topic) + strlen("orderbook.");
	uint32_t depth = 0;
	size_t left = js_len(d, topic) - strlen("orderbook.");
	for (; left && *tp >= '0' && *tp <= '9' && depth <= FRAME_MAX_LEVELS; tp++, left--)
		depth = depth * 10 + (uint32_t)(*tp - '0');
	if (!left || *tp != '.' || depth < 1 || depth > FRAME_MAX_LEVELS)
		return norm_fail(n, NR_SHAPE, "not a book topic of known depth");
	/* The book kept is the topic's: a symbol that disagrees with it is a damaged frame. */
	if (left - 1 != js_len(d, s) || memcmp(tp + 1, js_ptr(d, s), left - 1))
		return norm_fail(n, NR_FIELD, "s: not the symbol of the topic");

	struct bybit_book *tb = state(n, sym);
	if (!tb)
		return norm_fail(n, NR_SYMBOL, "no state for %s", sym);
	if (!tb->book && !(tb->book = book_new(BOOK_MAX_LEVELS)))
		return norm_fail(n, NR_BOOK, "out of memory");
	struct book *b = tb->book;
	if (snapshot || u == 1) {
		book_clear(b);
	} else if (!tb->synced) {
		/* Waiting for the snapshot a resync asked for. A book never seen since convert
		 * started (it came up mid-stream), or a request that brought nothing, asks. */
		if (!tb->resync_at || n->local_ts + 1 - tb->resync_at >= RESYNC_RETRY_US)
			drop_book(n, tb, sym, "no snapshot for the deltas");
		return 0;
	} else if (u != tb->u + 1) {
		char why[96];
		snprintf(why, sizeof why, "update id gap: %lld after %lld", (long long)u, (long long)tb->u);
		drop_book(n, tb, sym, why);
		return 0;
	} else if (cs >= 0 && tb->cross_seq >= 0 && cs < tb->cross_seq) {
		drop_book(n, tb, sym, "cross sequence went back");
		return 0;
	}
	if (apply_side(b, BOOK_BID, d, bids) || apply_side(b, BOOK_ASK, d, asks)) {
		drop_book(n, tb, sym, "book too deep");
		return 0;
	}
	book_truncate(b, depth);
	tb->u = u;
	tb->cross_seq = cs;
	tb->synced = 1;
	tb->resync_at = 0;
	if (book_crossed(b)) {
		drop_book(n, tb, sym, "crossed book");
		return 0;
	}
	return norm_book_from(n, b, sym, ts);
}

/* Answers to our requests: {"success":true|false,"ret_msg":...,"op":...}. */
int bybit_read_reply(struct norm *n, const struct js_doc *d, int o, int op)
{
	int ok = js_get(d, o, "success"), msg = js_get(d, o, "ret_msg");
	if (js_streq(d, msg, "pong") || js_streq(d, op, "pong"))
		return 0; /* keep-alive answers, when a recording holds them */
	if (js_type(d, ok) == JS_FALSE) {
		norm_status_error(n, d, op, msg);
		return 0;
	}
	if (js_type(d, ok) != JS_TRUE)
		return norm_fail(n, NR_FIELD, "success: missing or not a boolean");
	if (js_streq(d, op, "subscribe"))
		norm_status(n, "subscribed", NULL, NULL);
	return 0; /* unsubscribe (part of a resync) and other acks: nothing to relay */
}

static int bybit_normalize(struct norm *n, const struct js_doc *d, int frame)
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
		return norm_fail(n, NR_SHAPE, "unknown topic");
	}
	int op = js_get(d, frame, "op");
	if (js_type(d, op) == JS_STRING)
		return bybit_read_reply(n, d, frame, op);
	return norm_fail(n, NR_SHAPE, "unknown message");
}

const struct xch xch_bybit = {
	.name = "bybit",
	.default_url = "wss://stream.bybit.com/v5/public/spot",
	.default_symbols = "BTC-USDT,ETH-USDT,SOL-USDT,XRP-USDT",
	.proto = {
		.url = bybit_url,
		.subscribe = bybit_subscribe,
		.resync = bybit_resync,
		.classify = bybit_classify,
		/* 10 topics per request; Bybit publishes no request rate for public streams,
		 * so a short pause keeps a long subscription from arriving as one burst. */
		.sub_gap_ms = 50,
		/* The documented keep-alive: a JSON ping every 20 s, answered with a pong that
		 * proves a quiet connection alive. Without traffic the server cuts it. */
		.keepalive_ms = 20000,
		.keepalive_text = "{\"op\":\"ping\"}",
		.idle_timeout_ms = 45000,
		.max_age_ms = 0,
	},
	.normalize = bybit_normalize,
};
