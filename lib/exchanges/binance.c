/* Binance spot: combined-stream WebSocket API (see shared/exchanges/binance.md).
 * Books come from the partial-depth stream (a top-20 snapshot every 100 ms) by default, or
 * with "book:full" from the diff stream bridged to a REST snapshot, as Binance documents; the
 * queue of events waiting for it is shared with binance-futures.c (binance.h). */
#include "binance.h"
#include "book.h"
#include "norm.h"
#include "xch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FULL_SUFFIX "@depth@100ms"
#define SNAPSHOT_SUFFIX "@depthSnapshot"
#define REST_DEFAULT "https://api.binance.com"
#define WS_DEFAULT "wss://stream.binance.com" /* the public endpoint, whatever its port */
#define SNAPSHOT_LIMIT 1000   /* levels per side a REST snapshot asks for */
#define MAX_STREAMS 1024      /* streams one connection may combine */
#define RESYNC_FIRST_ID 1000  /* request ids of resync messages count from here */
#define PARTIAL_SUFFIX "@depth20@100ms" /* partial depth: the top 20 levels every 100 ms */
/* The shutdown notice is small: longer frames are market data, never scanned for it. */
#define NOTICE_MAX 160

/* The streams one symbol needs for the chosen channels. Partial depth (top 20, 100 ms) is
 * a full snapshot each time, so a book never depends on earlier messages. */
static const struct {
	int channel;
	const char *suffix;
} streams[] = {
	{ XCH_TRADE, "@trade" },
	{ XCH_TICKER, "@ticker" },
	{ XCH_BOOK, PARTIAL_SUFFIX },
};

static int stream_name(const char *sym, const char *suffix, char *out, size_t n)
{
	char base[SYM_MAX], quote[SYM_MAX], pair[SYM_MAX * 2];
	if (sym_parse(sym, base, quote))
		return -1;
	snprintf(pair, sizeof pair, "%s%s", base, quote);
	sym_lower(pair, strlen(pair), pair);
	int k = snprintf(out, n, "%s%s", pair, suffix);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

static int binance_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		       size_t errlen)
{
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	int k = snprintf(out, n, "%.*s/stream?streams=", (int)bl, base);
	if (k < 0 || (size_t)k >= n)
		goto toolong;
	size_t o = (size_t)k;
	int count = 0;
	for (int i = 0; i < sub->nsym; i++)
		for (size_t s = 0; s < sizeof streams / sizeof streams[0]; s++) {
			if (!(sub->channels & streams[s].channel))
				continue;
			if (count && o + 1 < n)
				out[o++] = '/';
			const char *suffix = streams[s].suffix;
			if (streams[s].channel == XCH_BOOK && (sub->channels & XCH_BOOK_FULL))
				suffix = FULL_SUFFIX;
			int w = stream_name(sub->sym[i], suffix, out + o, n - o);
			if (w < 0) {
				if (o + SYM_MAX + 20 < n) {
					snprintf(err, errlen, "bad symbol %s", sub->sym[i]);
					return -1;
				}
				goto toolong;
			}
			o += (size_t)w;
			count++;
		}
	if (count > MAX_STREAMS) {
		snprintf(err, errlen, "%d streams: Binance allows %d per connection", count, MAX_STREAMS);
		return -1;
	}
	return 0;
toolong:
	snprintf(err, errlen, "URL too long");
	return -1;
}

static int binance_subscribe(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out,
			     size_t n)
{
	return 0; /* every stream is named in the URL */
}

/* Partial depth is a snapshot stream, so re-subscribing it is enough: the next message
 * (within 100 ms) replaces the book. */
static int binance_resync(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i,
			  char *out, size_t n)
{
	char name[SYM_MAX + 32];
	if (i > 0)
		return 0;
	if (stream_name(symbol, PARTIAL_SUFFIX, name, sizeof name) < 0)
		return -1;
	return binance_resubscribe(conn, name, out, n);
}

int binance_resubscribe(struct xch_conn *conn, const char *stream, char *out, size_t n)
{
	int k = snprintf(out, n, "{\"method\":\"SUBSCRIBE\",\"params\":[\"%s\"],\"id\":%u}", stream,
			 RESYNC_FIRST_ID + conn->next_id++);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

/* The REST snapshot lives on api.binance.com for the public endpoint; for any other
 * endpoint (a test's fake exchange) on the same host and port, over http(s) to match. */
static int binance_rest(const struct xch_sub *sub, const char *ws_base, const char *symbol, char *url,
			size_t urln, char *tag, size_t tagn)
{
	char base[SYM_MAX], quote[SYM_MAX], host[512];
	if (sym_parse(symbol, base, quote) || stream_name(symbol, SNAPSHOT_SUFFIX, tag, tagn) < 0)
		return -1;
	if (xch_rest_host(ws_base, WS_DEFAULT, REST_DEFAULT, host, sizeof host))
		return -1;
	int k = snprintf(url, urln, "%s/api/v3/depth?symbol=%s%s&limit=%d", host, base, quote,
			 SNAPSHOT_LIMIT);
	return k < 0 || (size_t)k >= urln ? -1 : 0;
}

enum xch_frame binance_classify(const char *f, size_t n)
{
	if (n < NOTICE_MAX && memmem(f, n, "\"serverShutdown\"", 16))
		return XCH_RECONNECT;
	return XCH_FORWARD;
}

/* ---- reading ---- */

static int symbol_of(struct norm *n, const struct js_doc *d, int t, char *sym)
{
	if (js_type(d, t) != JS_STRING)
		return norm_fail(n, NR_FIELD, "s: missing symbol");
	if (sym_split_concat(js_ptr(d, t), js_len(d, t), sym) < 0)
		return norm_fail(n, NR_SYMBOL, "cannot split symbol %.*s", (int)js_len(d, t) & 31,
				 js_ptr(d, t));
	return 0;
}

/* trade and aggTrade: the taker sold when the buyer is the maker (m = true). */
static int read_trade(struct norm *n, const struct js_doc *d, int o, int agg)
{
	char sym[SYM_MAX];
	int64_t ts;
	int m = js_get(d, o, "m");
	if (symbol_of(n, d, js_get(d, o, "s"), sym) || norm_ts(n, d, js_get(d, o, "T"), &ts))
		return -1;
	if (js_type(d, m) != JS_TRUE && js_type(d, m) != JS_FALSE)
		return norm_fail(n, NR_FIELD, "m: missing or not a boolean");
	return binance_trade_line(n, d, o, agg, m, sym, ts);
}

int binance_trade_line(struct norm *n, const struct js_doc *d, int o, int agg, int m, const char *sym,
		       int64_t ts)
{
	int sold = js_type(d, m) == JS_TRUE;
	norm_head(n, "trade", sym, ts);
	if (norm_id(n, "id", d, agg ? js_get(d, o, "a") : js_get(d, o, "t")) ||
	    norm_price_amount(n, d, js_get(d, o, "p"), js_get(d, o, "q")))
		return -1;
	jw_key(n->w, "side");
	jw_str(n->w, sold ? "sell" : "buy", sold ? 4 : 3);
	norm_end_trade(n);
	return 0;
}

/* 24hrTicker, 24hrMiniTicker and bookTicker all become ticker lines with what they carry. */
static int read_ticker(struct norm *n, const struct js_doc *d, int o)
{
	char sym[SYM_MAX];
	int64_t ts;
	if (symbol_of(n, d, js_get(d, o, "s"), sym) || norm_ts(n, d, js_get(d, o, "E"), &ts))
		return -1;
	return binance_ticker_line(n, d, o, sym, ts);
}

int binance_ticker_line(struct norm *n, const struct js_doc *d, int o, const char *sym, int64_t ts)
{
	norm_head(n, "ticker", sym, ts);
	if (norm_dec_opt(n, "bid", d, js_get(d, o, "b")) ||
	    norm_dec_opt(n, "bid_size", d, js_get(d, o, "B")) ||
	    norm_dec_opt(n, "ask", d, js_get(d, o, "a")) ||
	    norm_dec_opt(n, "ask_size", d, js_get(d, o, "A")) ||
	    norm_dec_opt(n, "last", d, js_get(d, o, "c")) ||
	    norm_dec_opt(n, "open", d, js_get(d, o, "o")) ||
	    norm_dec_opt(n, "high", d, js_get(d, o, "h")) ||
	    norm_dec_opt(n, "low", d, js_get(d, o, "l")) ||
	    norm_dec_opt(n, "volume", d, js_get(d, o, "v")) ||
	    norm_dec_opt(n, "quote_volume", d, js_get(d, o, "q")))
		return -1;
	norm_end(n);
	n->lines_ticker++;
	return 0;
}

/* Partial depth has no symbol of its own: it comes from the stream name. */
static int read_depth(struct norm *n, const struct js_doc *d, int o, int stream)
{
	char sym[SYM_MAX];
	if (stream < 0)
		return norm_fail(n, NR_FIELD, "partial depth without a stream name");
	const char *s = js_ptr(d, stream);
	const char *at = memchr(s, '@', js_len(d, stream));
	if (!at || sym_split_concat(s, (size_t)(at - s), sym) < 0)
		return norm_fail(n, NR_SYMBOL, "cannot read the symbol of stream %.*s",
				 (int)js_len(d, stream) & 63, s);
	norm_book_begin(n, sym, -1);
	if (norm_book_side(n, d, js_get(d, o, "bids")))
		return -1;
	norm_book_asks(n);
	if (norm_book_side(n, d, js_get(d, o, "asks")))
		return -1;
	return norm_book_end(n);
}

/* ---- full depth: the diff stream bridged to a REST snapshot ---- */

#define PENDING_MAX_EVENTS 20000
#define PENDING_MAX_BYTES (64u << 20)
#define SNAPSHOT_RETRY_US (10 * 1000000)
#define FULL_MAX_LEVELS 20000 /* per side of a full book; deeper means something is wrong */

/* What is kept per symbol with a full book (norm_state). */
struct full {
	struct book *book;       /* NULL until the symbol's first diff event or snapshot */
	int synced;              /* a snapshot was bridged and no gap seen since */
	int64_t last;            /* u of the last event in the book (lastUpdateId at first) */
	int64_t asked_at;        /* local_ts of the last snapshot request; 0: ask at once */
	struct binance_pending pending; /* buffered events while no snapshot is in place */
};

/* What is kept for the whole feed (norm_stream_state): a parser for buffered events. */
struct feed {
	struct js_doc pd;
	int pd_ready;
};

void binance_pending_clear(struct binance_pending *p)
{
	for (int i = 0; i < p->n; i++)
		free(p->ev[i].text);
	free(p->ev);
	*p = (struct binance_pending){ 0 };
}

static void full_release(void *p)
{
	struct full *f = p;
	binance_pending_clear(&f->pending);
	book_free(f->book);
}

static void feed_release(void *p)
{
	struct feed *fd = p;
	if (fd->pd_ready)
		js_free(&fd->pd);
}

int binance_pending_add(struct binance_pending *p, const char *text, size_t len, int64_t first,
			int64_t last)
{
	if (p->n == PENDING_MAX_EVENTS || p->bytes + len > PENDING_MAX_BYTES)
		return -1;
	if (p->n == p->cap) {
		int cap = p->cap ? p->cap * 2 : 64;
		struct binance_event *ne = realloc(p->ev, (size_t)cap * sizeof *ne);
		if (!ne)
			return -1;
		p->ev = ne;
		p->cap = cap;
	}
	char *t = malloc(len);
	if (!t)
		return -1;
	memcpy(t, text, len);
	p->ev[p->n++] = (struct binance_event){ t, len, first, last };
	p->bytes += len;
	return 0;
}

struct js_doc *binance_feed_parser(struct norm *n)
{
	struct feed *fd = norm_stream_state(n, sizeof *fd, feed_release);
	if (fd && !fd->pd_ready) {
		js_init(&fd->pd, 0);
		fd->pd_ready = 1;
	}
	return fd ? &fd->pd : NULL;
}

int binance_set_side(struct norm *n, struct book *b, enum book_side side, const struct js_doc *d, int arr)
{
	if (js_type(d, arr) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "book side is not an array");
	for (uint32_t i = 0, k = (uint32_t)arr + 1; i < d->tok[arr].size; i++, k = d->tok[k].next) {
		const char *p, *q;
		size_t pn, qn;
		if (js_numpair(d, (int)k, &p, &pn, &q, &qn))
			return norm_fail(n, NR_FIELD, "book level is not [price, amount]");
		if (book_set(b, side, p, pn, q, qn))
			return norm_fail(n, NR_NUMBER, "book level rejected: %.*s %.*s", (int)pn & 31, p,
					 (int)qn & 31, q);
	}
	return 0;
}

/* SYM's full-book state, its book created; NULL when out of memory. */
static struct full *full_of(struct norm *n, const char *sym)
{
	struct full *f = norm_state(n, sym, sizeof *f, full_release);
	if (f && !f->book)
		f->book = book_new(FULL_MAX_LEVELS);
	return f && f->book ? f : NULL;
}

void binance_want_snapshot(struct norm *n, int64_t *asked_at, const char *sym, const char *why)
{
	if (*asked_at && n->local_ts - *asked_at < SNAPSHOT_RETRY_US)
		return;
	*asked_at = n->local_ts;
	norm_resync(n, sym, why);
}

static void drop_book(struct full *f)
{
	book_clear(f->book);
	f->synced = 0;
	binance_pending_clear(&f->pending);
}

/* depthUpdate: applied when it continues the book (U == last u + 1), buffered while no
 * snapshot is in place; a gap drops the book and asks for a new snapshot. */
static int read_diff(struct norm *n, const struct js_doc *d, int o)
{
	char sym[SYM_MAX], why[96];
	int64_t first, last, ts;
	if (symbol_of(n, d, js_get(d, o, "s"), sym) || norm_ts(n, d, js_get(d, o, "E"), &ts))
		return -1;
	if (js_int64(d, js_get(d, o, "U"), &first) || js_int64(d, js_get(d, o, "u"), &last) || first > last)
		return norm_fail(n, NR_FIELD, "U/u: missing or out of order");
	struct full *f = full_of(n, sym);
	if (!f)
		return norm_fail(n, NR_BOOK, "out of memory");
	struct book *b = f->book;
	if (f->synced) {
		if (last <= f->last)
			return 0; /* older than the book: already in it */
		if (first > f->last + 1) {
			snprintf(why, sizeof why, "sequence gap %lld -> %lld", (long long)f->last, (long long)first);
			drop_book(f);
			f->asked_at = 0;
			binance_want_snapshot(n, &f->asked_at, sym, why);
			binance_pending_add(&f->pending, js_ptr(d, o), js_len(d, o), first, last);
			return 0;
		}
		if (binance_set_side(n, b, BOOK_BID, d, js_get(d, o, "b")) || binance_set_side(n, b, BOOK_ASK, d, js_get(d, o, "a"))) {
			/* A half-applied event leaves the book unknown: rebuild it. */
			drop_book(f);
			f->asked_at = 0;
			binance_want_snapshot(n, &f->asked_at, sym, "unreadable diff event");
			return -1;
		}
		f->last = last;
		return norm_book_from(n, b, sym, ts);
	}
	if (binance_pending_add(&f->pending, js_ptr(d, o), js_len(d, o), first, last)) {
		/* No snapshot for too long: start over. */
		binance_pending_clear(&f->pending);
		f->asked_at = 0;
		binance_pending_add(&f->pending, js_ptr(d, o), js_len(d, o), first, last);
	}
	binance_want_snapshot(n, &f->asked_at, sym, "waiting for the order book snapshot");
	return 0;
}

/* The REST snapshot (ingest wraps it as {"stream":"<sym>@depthSnapshot","data":...}),
 * bridged to the buffered diffs exactly as Binance documents: drop events with
 * u <= lastUpdateId, the first kept one must have U <= lastUpdateId + 1 <= u. */
static int read_snapshot(struct norm *n, const struct js_doc *d, int o, int stream)
{
	char sym[SYM_MAX], why[96];
	int64_t id;
	const char *s = js_ptr(d, stream);
	const char *at = memchr(s, '@', js_len(d, stream));
	if (!at || sym_split_concat(s, (size_t)(at - s), sym) < 0)
		return norm_fail(n, NR_SYMBOL, "cannot read the symbol of a snapshot");
	if (js_int64(d, js_get(d, o, "lastUpdateId"), &id))
		return norm_fail(n, NR_FIELD, "lastUpdateId: missing");
	struct full *f = full_of(n, sym);
	struct js_doc *pd = binance_feed_parser(n);
	if (!f || !pd)
		return norm_fail(n, NR_BOOK, "out of memory");
	struct book *b = f->book;
	struct binance_pending *p = &f->pending;
	if (p->n && id < p->ev[0].first - 1) {
		/* Older than everything buffered: it cannot be bridged. */
		f->asked_at = 0;
		binance_want_snapshot(n, &f->asked_at, sym, "snapshot older than the buffered events");
		return 0;
	}
	book_clear(b);
	if (binance_set_side(n, b, BOOK_BID, d, js_get(d, o, "bids")) || binance_set_side(n, b, BOOK_ASK, d, js_get(d, o, "asks"))) {
		drop_book(f);
		return -1;
	}
	f->last = id;
	for (int i = 0; i < p->n; i++) {
		struct binance_event *e = &p->ev[i];
		if (e->last <= f->last)
			continue;
		if (e->first > f->last + 1) {
			snprintf(why, sizeof why, "sequence gap %lld -> %lld", (long long)f->last, (long long)e->first);
			drop_book(f);
			f->asked_at = 0;
			binance_want_snapshot(n, &f->asked_at, sym, why);
			return 0;
		}
		if (js_parse(pd, e->text, e->len) != JS_OK ||
		    binance_set_side(n, b, BOOK_BID, pd, js_get(pd, 0, "b")) ||
		    binance_set_side(n, b, BOOK_ASK, pd, js_get(pd, 0, "a"))) {
			drop_book(f);
			return norm_fail(n, NR_BOOK, "buffered diff event unreadable");
		}
		f->last = e->last;
	}
	binance_pending_clear(p);
	f->synced = 1;
	f->asked_at = 0;
	return norm_book_from(n, b, sym, -1);
}

static int binance_normalize(struct norm *n, const struct js_doc *d, int data)
{
	int stream = -1, o = data;
	if (js_type(d, data) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "frame is not an object");
	/* Combined streams wrap every event: {"stream":"btcusdt@trade","data":{...}}. */
	int inner = js_get(d, data, "data");
	if (inner >= 0 && js_type(d, js_get(d, data, "stream")) == JS_STRING) {
		stream = js_get(d, data, "stream");
		o = inner;
		if (js_type(d, o) != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "data is not an object");
	}
	int e = js_get(d, o, "e");
	if (e >= 0) {
		if (js_streq(d, e, "trade"))
			return read_trade(n, d, o, 0);
		if (js_streq(d, e, "aggTrade"))
			return read_trade(n, d, o, 1);
		if (js_streq(d, e, "24hrTicker") || js_streq(d, e, "24hrMiniTicker"))
			return read_ticker(n, d, o);
		if (js_streq(d, e, "depthUpdate"))
			return read_diff(n, d, o);
		if (js_streq(d, e, "serverShutdown")) {
			norm_status(n, "disconnected", NULL, "server shutdown announced");
			return 0;
		}
		return norm_fail(n, NR_SHAPE, "unknown event type");
	}
	if (js_get(d, o, "lastUpdateId") >= 0 && js_get(d, o, "bids") >= 0) {
		size_t sl = stream >= 0 ? js_len(d, stream) : 0, tl = sizeof SNAPSHOT_SUFFIX - 1;
		if (sl > tl && !memcmp(js_ptr(d, stream) + sl - tl, SNAPSHOT_SUFFIX, tl))
			return read_snapshot(n, d, o, stream);
		return read_depth(n, d, o, stream);
	}
	if (js_get(d, o, "u") >= 0 && js_get(d, o, "b") >= 0 && js_get(d, o, "a") >= 0)
		return read_ticker(n, d, o); /* bookTicker */
	int err = js_get(d, o, "error");
	if (err >= 0 || (js_get(d, o, "code") >= 0 && js_get(d, o, "msg") >= 0)) {
		int eo = err >= 0 ? err : o;
		norm_status_error(n, d, js_get(d, eo, "code"), js_get(d, eo, "msg"));
		return 0;
	}
	if (js_get(d, o, "result") >= 0 && js_get(d, o, "id") >= 0) {
		if (js_type(d, js_get(d, o, "result")) == JS_NULL) {
			norm_status(n, "subscribed", NULL, NULL);
			return 0;
		}
		return 0; /* an answer to a query such as LIST_SUBSCRIPTIONS: nothing to relay */
	}
	return norm_fail(n, NR_SHAPE, "unknown message");
}

const struct xch xch_binance = {
	.name = "binance",
	.default_url = "wss://stream.binance.com:9443",
	.default_symbols = "BTC-USDT,ETH-USDT,SOL-USDT,XRP-USDT",
	.proto = {
		.url = binance_url,
		.subscribe = binance_subscribe,
		.resync = binance_resync,
		.rest = binance_rest,
		.classify = binance_classify,
		/* The server pings every 20 s and lws answers; our own ping every 30 s makes a
		 * quiet but alive connection produce a pong we can see. */
		.keepalive_ms = 30000,
		.keepalive_text = NULL,
		.idle_timeout_ms = 65000,
		/* Binance ends a connection at 24 h: a new one half an hour before. */
		.max_age_ms = (int64_t)23 * 3600 * 1000 + 30 * 60 * 1000,
	},
	.normalize = binance_normalize,
};
