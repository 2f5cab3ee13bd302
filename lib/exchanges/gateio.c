/* Gate (Gate.io): Spot WebSocket v4, public market data (see shared/exchanges/gateio.md).
 *
 * Talking: one connection to wss://api.gateio.ws/ws/v4/; once connected, one subscribe
 * request per channel names every pair: spot.trades and spot.tickers take "BTC_USDT",
 * spot.obu (order book V2) takes stream names "ob.BTC_USDT.50". The server pings with
 * WebSocket ping frames, which lws answers; we also send the application ping spot.ping,
 * whose spot.pong answer is a heartbeat.
 *
 * Reading: trades, tickers, book tickers, the top-N spot.order_book snapshots and the two
 * incremental books. spot.obu is the one ingest subscribes to: a full:true snapshot, then
 * increments that must each start at the previous one's end + 1 (U == u + 1). The older
 * spot.order_book_update is read from its full:true snapshots with Gate's rule for it
 * (stale updates are dropped, U <= u + 1 <= u' applies, U > u + 1 is a gap). Gate sends no
 * book checksum. The request frame, acks, errors and kept books are shared with
 * gateio-futures.c (gateio.h). */
#include "gateio.h"
#include "book.h"
#include "norm.h"
#include "xch.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Depth of the spot.obu streams we subscribe: 50 levels every 20 ms (400 levels come only
 * every 100 ms, and clients get the top 20 by default). */
#define OBU_DEPTH "50"
/* The pong is small: longer frames are market data, never scanned for it. */
#define PONG_MAX 400

/* ---- talking ---- */

static const struct gateio_channel channels[] = {
	{ XCH_TRADE, "spot.trades" },
	{ XCH_TICKER, "spot.tickers" },
	{ XCH_BOOK, "spot.obu" },
};

/* "BTC-USDT" -> "BTC_USDT", or for the book "ob.BTC_USDT.50". */
static int pair_name(const char *sym, int book, char *out, size_t n)
{
	char base[SYM_MAX], quote[SYM_MAX];
	if (sym_parse(sym, base, quote))
		return -1;
	int k = book ? snprintf(out, n, "ob.%s_%s." OBU_DEPTH, base, quote)
		     : snprintf(out, n, "%s_%s", base, quote);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

static const struct gateio_product spot;

/* {"time":<s>,"channel":CHANNEL,"event":EVENT,"payload":[...]} naming every symbol of SUB,
 * or only ONLY; obu stream names for the book. */
static int request(const struct gateio_product *pr, const struct xch_sub *sub, const char *channel,
		   const char *event, const char *only, char *out, size_t n)
{
	int book = !strcmp(channel, pr->obu);
	int k = snprintf(out, n, "{\"time\":%lld,\"channel\":\"%s\",\"event\":\"%s\",\"payload\":[",
			 (long long)time(NULL), channel, event);
	if (k < 0 || (size_t)k >= n)
		return -1;
	size_t o = (size_t)k;
	int count = 0;
	for (int i = 0; i < sub->nsym; i++) {
		char name[SYM_MAX + 16];
		if (only && strcmp(only, sub->sym[i]))
			continue;
		if (pr->name(sub->sym[i], book, name, sizeof name) < 0)
			return -1;
		k = snprintf(out + o, n - o, "%s\"%s\"", count ? "," : "", name);
		if (k < 0 || (size_t)k >= n - o)
			return -1;
		o += (size_t)k;
		count++;
	}
	if (!count)
		return -1;
	k = snprintf(out + o, n - o, "]}");
	if (k < 0 || (size_t)k >= n - o)
		return -1;
	return (int)(o + (size_t)k);
}

int gateio_url_of(const struct gateio_product *pr, const struct xch_sub *sub, const char *base, char *out,
		  size_t n, char *err, size_t errlen)
{
	char name[SYM_MAX + 16];
	for (int i = 0; i < sub->nsym; i++)
		if (pr->name(sub->sym[i], 1, name, sizeof name) < 0) {
			snprintf(err, errlen, "bad symbol %s%s", sub->sym[i], pr->hint);
			return -1;
		}
	int k = snprintf(out, n, "%s", base);
	if (k < 0 || (size_t)k >= n) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	return 0;
}

/* Message I is the subscribe request of the I-th chosen channel. */
int gateio_subscribe_of(const struct gateio_product *pr, const struct xch_sub *sub, int i, char *out,
			size_t n)
{
	for (int c = 0; c < pr->nchannels; c++) {
		if (!(sub->channels & pr->channels[c].channels))
			continue;
		if (i-- == 0)
			return request(pr, sub, pr->channels[c].name, "subscribe", NULL, out, n);
	}
	return 0;
}

/* Gate's rule after a gap: unsubscribe the symbol's obu stream and subscribe it again; the
 * first message of the new subscription is a full snapshot. A symbol we do not keep a book
 * for is skipped (-1), never a reason to reconnect. */
int gateio_resync_of(const struct gateio_product *pr, const struct xch_sub *sub, const char *symbol, int i,
		     char *out, size_t n)
{
	if (i > 1)
		return 0;
	if (!(sub->channels & XCH_BOOK))
		return -1;
	return request(pr, sub, pr->obu, i == 0 ? "unsubscribe" : "subscribe", symbol, out, n);
}

static int gateio_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		      size_t errlen)
{
	return gateio_url_of(&spot, sub, base, out, n, err, errlen);
}

static int gateio_subscribe(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out, size_t n)
{
	return gateio_subscribe_of(&spot, sub, i, out, n);
}

static int gateio_resync(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i,
			 char *out, size_t n)
{
	return gateio_resync_of(&spot, sub, symbol, i, out, n);
}

static enum xch_frame gateio_classify(const char *f, size_t n)
{
	if (n < PONG_MAX && memmem(f, n, "\"spot.pong\"", 11))
		return XCH_HEARTBEAT;
	return XCH_FORWARD;
}

/* ---- reading ---- */

static void pair_book_release(void *p)
{
	book_free(((struct gateio_book *)p)->book);
}

static struct gateio_book *pair_book_of(struct norm *n, const char *sym)
{
	return norm_state(n, sym, sizeof(struct gateio_book), pair_book_release);
}

/* "BTC_USDT" -> BTC-USDT (LEN bytes of S). */
static int pair_text(const char *s, size_t len, char *sym)
{
	return sym_split_sep(s, len, '_', 0, sym) < 0 ? -1 : 0;
}

static const struct gateio_product spot = {
	.channels = channels,
	.nchannels = sizeof channels / sizeof channels[0],
	.obu = "spot.obu",
	.name = pair_name,
	.hint = "",
	.symbol = pair_text,
	.what = "currency pair",
	.state = pair_book_of,
};

static int symbol_of(struct norm *n, const struct js_doc *d, int t, char *sym)
{
	return gateio_symbol_of(&spot, n, d, t, sym);
}

/* The taker's side: Gate's spot.trades sends only taker trades, side = the taker's. */
static int read_trade(struct norm *n, const struct js_doc *d, int r)
{
	char sym[SYM_MAX];
	int64_t ts;
	int side = js_get(d, r, "side");
	if (symbol_of(n, d, js_get(d, r, "currency_pair"), sym) ||
	    norm_ts(n, d, js_get(d, r, "create_time_ms"), &ts))
		return -1;
	if (ts < 0 && norm_ts(n, d, js_get(d, r, "create_time"), &ts))
		return -1;
	const char *s;
	if (norm_side(n, d, side, "side", "buy", "sell", &s))
		return -1;
	norm_head(n, "trade", sym, ts);
	if (norm_id(n, "id", d, js_get(d, r, "id")) ||
	    norm_price_amount(n, d, js_get(d, r, "price"), js_get(d, r, "amount")))
		return -1;
	jw_key(n->w, "side");
	jw_str(n->w, s, strlen(s));
	norm_end_trade(n);
	return 0;
}

/* Member KEY of R, with an empty string (Gate's "no value") taken as missing. */
static int opt(const struct js_doc *d, int r, const char *key)
{
	int t = js_getn(d, r, key, strlen(key));
	return js_type(d, t) == JS_STRING && js_len(d, t) == 0 ? -1 : t;
}

/* The ticker has no time of its own: the push time (time_ms) is the exchange's. It has no
 * opening price either; change_percentage is rounded, so open cannot be derived exactly
 * and is left out. */
static int read_ticker(struct norm *n, const struct js_doc *d, int frame, int r)
{
	char sym[SYM_MAX];
	int64_t ts;
	if (symbol_of(n, d, js_get(d, r, "currency_pair"), sym) ||
	    norm_ts(n, d, js_get(d, frame, "time_ms"), &ts))
		return -1;
	if (ts < 0 && norm_ts(n, d, js_get(d, frame, "time"), &ts))
		return -1;
	norm_head(n, "ticker", sym, ts);
	if (norm_dec_opt(n, "bid", d, opt(d, r, "highest_bid")) ||
	    norm_dec_opt(n, "ask", d, opt(d, r, "lowest_ask")) ||
	    norm_dec(n, "last", d, js_get(d, r, "last")) ||
	    norm_dec_opt(n, "high", d, opt(d, r, "high_24h")) ||
	    norm_dec_opt(n, "low", d, opt(d, r, "low_24h")) ||
	    norm_dec_opt(n, "volume", d, opt(d, r, "base_volume")) ||
	    norm_dec_opt(n, "quote_volume", d, opt(d, r, "quote_volume")))
		return -1;
	norm_end(n);
	n->lines_ticker++;
	return 0;
}

/* spot.book_ticker: best bid and ask with their sizes. */
static int read_book_ticker(struct norm *n, const struct js_doc *d, int r)
{
	char sym[SYM_MAX];
	int64_t ts;
	if (symbol_of(n, d, js_get(d, r, "s"), sym) || norm_ts(n, d, js_get(d, r, "t"), &ts))
		return -1;
	norm_head(n, "ticker", sym, ts);
	if (norm_dec_opt(n, "bid", d, opt(d, r, "b")) ||
	    norm_dec_opt(n, "bid_size", d, opt(d, r, "B")) ||
	    norm_dec_opt(n, "ask", d, opt(d, r, "a")) ||
	    norm_dec_opt(n, "ask_size", d, opt(d, r, "A")))
		return -1;
	norm_end(n);
	n->lines_ticker++;
	return 0;
}

/* spot.order_book: a self-contained top-N snapshot, best first. */
static int read_order_book(struct norm *n, const struct js_doc *d, int r)
{
	char sym[SYM_MAX];
	int64_t ts;
	if (symbol_of(n, d, js_get(d, r, "s"), sym) || norm_ts(n, d, js_get(d, r, "t"), &ts))
		return -1;
	norm_book_begin(n, sym, ts);
	if (norm_book_side(n, d, js_get(d, r, "bids")))
		return -1;
	norm_book_asks(n);
	if (norm_book_side(n, d, js_get(d, r, "asks")))
		return -1;
	return norm_book_end(n);
}

/* ---- kept books: spot.obu and futures.obu, spot.order_book_update ---- */

int gateio_symbol_of(const struct gateio_product *pr, struct norm *n, const struct js_doc *d, int t,
		     char *sym)
{
	if (js_type(d, t) != JS_STRING)
		return norm_fail(n, NR_FIELD, "%s: missing or not a string", pr->what);
	if (pr->symbol(js_ptr(d, t), js_len(d, t), sym) < 0)
		return norm_fail(n, NR_SYMBOL, "cannot read %s %.*s", pr->what, (int)js_len(d, t) & 31,
				 js_ptr(d, t));
	return 0;
}

/* Checks every level of side ARR before anything is applied, so that a frame we cannot
 * read leaves the book as it was (and the next increment then shows the gap). A missing
 * or null side is an empty one. */
static int check_side(struct norm *n, const struct js_doc *d, int arr)
{
	if (arr < 0 || js_type(d, arr) == JS_NULL)
		return 0;
	if (js_type(d, arr) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "book side is not an array");
	if (d->tok[arr].size > GATEIO_MAX_FRAME_LEVELS)
		return norm_fail(n, NR_FIELD, "%u levels in one side", d->tok[arr].size);
	for (uint32_t i = 0, k = (uint32_t)arr + 1; i < d->tok[arr].size; i++, k = d->tok[k].next) {
		const char *p, *q;
		size_t pn, qn;
		char cp[DEC_MAX], cq[DEC_MAX];
		if (js_numpair(d, (int)k, &p, &pn, &q, &qn))
			return norm_fail(n, NR_FIELD, "book level is not [price, amount]");
		int pl = dec_canon(p, pn, cp), ql = dec_canon(q, qn, cq);
		if (pl < 0 || ql < 0 || pn >= BOOK_TEXT || qn >= BOOK_TEXT || pl >= BOOK_TEXT ||
		    ql >= BOOK_TEXT)
			return norm_fail(n, NR_NUMBER, "book level is not a decimal");
		if (cp[0] == '-' || cq[0] == '-')
			return norm_fail(n, NR_NUMBER, "negative book level");
		if (dec_is_zero(cp, (size_t)pl) && !dec_is_zero(cq, (size_t)ql))
			return norm_fail(n, NR_NUMBER, "book level at price zero");
	}
	return 0;
}

/* Applies a checked side; fails only when memory or the book's level limit runs out. */
static int apply_side(struct book *b, enum book_side s, const struct js_doc *d, int arr)
{
	if (js_type(d, arr) != JS_ARRAY)
		return 0;
	for (uint32_t i = 0, k = (uint32_t)arr + 1; i < d->tok[arr].size; i++, k = d->tok[k].next) {
		const char *p, *q;
		size_t pn, qn;
		js_numpair(d, (int)k, &p, &pn, &q, &qn);
		if (book_set(b, s, p, pn, q, qn))
			return -1;
	}
	return 0;
}

/* Drops the book and asks for it again; deltas are ignored until the next snapshot. */
static int drop_book(struct norm *n, struct gateio_book *gb, const char *sym, const char *why)
{
	book_clear(gb->book);
	gb->synced = 0;
	norm_resync(n, sym, why);
	return 0;
}

/* The symbol and depth of an obu stream name, "ob.BTC_USDT.50" (depth 0: none given). */
static int obu_stream(const struct gateio_product *pr, struct norm *n, const struct js_doc *d, int t,
		      char *sym, int64_t *depth)
{
	if (js_type(d, t) != JS_STRING)
		return norm_fail(n, NR_FIELD, "s: missing stream name");
	const char *s = js_ptr(d, t);
	size_t len = js_len(d, t);
	if (len < 4 || memcmp(s, "ob.", 3))
		return norm_fail(n, NR_SYMBOL, "stream name %.*s is not ob.NAME.DEPTH", (int)len & 31, s);
	s += 3;
	len -= 3;
	*depth = 0;
	const char *dot = memrchr(s, '.', len);
	if (dot) {
		size_t dl = len - (size_t)(dot - s) - 1;
		int64_t v = 0;
		if (!dl || dl > 6)
			return norm_fail(n, NR_SYMBOL, "bad depth in stream name");
		for (size_t i = 0; i < dl; i++) {
			if (dot[1 + i] < '0' || dot[1 + i] > '9')
				return norm_fail(n, NR_SYMBOL, "bad depth in stream name");
			v = v * 10 + (dot[1 + i] - '0');
		}
		if (v < 1 || v > GATEIO_MAX_DEPTH)
			return norm_fail(n, NR_SYMBOL, "depth %lld in stream name", (long long)v);
		*depth = v;
		len = (size_t)(dot - s);
	}
	if (pr->symbol(s, len, sym) < 0)
		return norm_fail(n, NR_SYMBOL, "cannot read the %s of stream %.*s", pr->what, (int)len & 31, s);
	return 0;
}

int gateio_read_book(const struct gateio_product *pr, struct norm *n, const struct js_doc *d, int r,
		     enum gateio_book_kind kind)
{
	char sym[SYM_MAX], why[96];
	int64_t ts, depth = 0, first = -1, last;
	const char *mult = NULL;
	if (js_type(d, r) != JS_OBJECT)
		return norm_fail(n, NR_FIELD, "result: missing or not an object");
	int full = js_type(d, js_get(d, r, "full")) == JS_TRUE;
	int bids = js_get(d, r, "b"), asks = js_get(d, r, "a");

	if (kind == GATEIO_OBU) {
		if (obu_stream(pr, n, d, js_get(d, r, "s"), sym, &depth))
			return -1;
	} else {
		int l = js_get(d, r, "l");
		if (gateio_symbol_of(pr, n, d, js_get(d, r, "s"), sym))
			return -1;
		if (l >= 0 && (js_int64(d, l, &depth) || depth < 1 || depth > GATEIO_MAX_DEPTH))
			return norm_fail(n, NR_FIELD, "l: not a depth");
	}
	if (norm_ts(n, d, js_get(d, r, "t"), &ts))
		return -1;
	if (js_int64(d, js_get(d, r, "u"), &last) || last < 0)
		return norm_fail(n, NR_FIELD, "u: missing or not an update id");
	if (!full || kind == GATEIO_UPDATE_V1) {
		if (js_int64(d, js_get(d, r, "U"), &first) || first < 0 || first > last)
			return norm_fail(n, NR_FIELD, "U: missing or not an update id up to u");
	}
	if (check_side(n, d, bids) || check_side(n, d, asks))
		return -1;

	struct gateio_book *gb = pr->state(n, sym);
	if (!gb || (!gb->book && !(gb->book = book_new(GATEIO_MAX_DEPTH + GATEIO_MAX_FRAME_LEVELS))))
		return norm_fail(n, NR_BOOK, "out of memory");
	struct book *b = gb->book;

	if (full) {
		book_clear(b);
		gb->synced = 1;
	} else if (!gb->synced) {
		return 0; /* waiting for the snapshot of a new subscription */
	} else if (kind == GATEIO_UPDATE_V1 && last <= gb->last) {
		return 0; /* already contained in what we have */
	} else if (kind == GATEIO_OBU ? first - 1 != gb->last : first - 1 > gb->last) {
		snprintf(why, sizeof why, "sequence gap: update %lld follows %lld", (long long)first,
			 (long long)gb->last);
		return drop_book(n, gb, sym, why);
	}
	if (apply_side(b, BOOK_BID, d, bids) || apply_side(b, BOOK_ASK, d, asks))
		return drop_book(n, gb, sym, "book too large");
	gb->last = last;
	/* Levels that leave the stream's depth need not be deleted by the exchange. */
	if (depth)
		book_truncate(b, (uint32_t)depth);
	if (book_crossed(b))
		return drop_book(n, gb, sym, "crossed book");
	if (pr->scale) {
		int c = pr->scale(n, sym, &mult);
		if (c)
			return c < 0 ? -1 : 0;
	}
	return norm_book_from_scaled(n, b, sym, ts, mult);
}

/* ---- acks, errors, dispatch ---- */

/* Appends the text of string token T to BUF (no escapes expected in names). */
static int append_tok(char *buf, size_t *o, size_t cap, const struct js_doc *d, int t)
{
	if (js_type(d, t) != JS_STRING || (d->tok[t].flags & JS_ESCAPED) || *o + js_len(d, t) + 1 >= cap)
		return -1;
	memcpy(buf + *o, js_ptr(d, t), js_len(d, t));
	*o += js_len(d, t);
	buf[*o] = 0;
	return 0;
}

/* "spot.obu ob.BTC_USDT.50,ob.ETH_USDT.50": what was subscribed, when it is short. */
static void ack_detail(const struct js_doc *d, int ch, int payload, char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = 0;
	if (append_tok(buf, &o, cap, d, ch) || js_type(d, payload) != JS_ARRAY)
		return;
	size_t keep = o;
	for (uint32_t i = 0, k = (uint32_t)payload + 1; i < d->tok[payload].size; i++, k = d->tok[k].next) {
		if (o + 2 >= cap)
			goto toolong;
		buf[o++] = i ? ',' : ' ';
		if (append_tok(buf, &o, cap, d, (int)k))
			goto toolong;
	}
	return;
toolong:
	snprintf(buf + keep, cap - keep, " (%u streams)", d->tok[payload].size);
}

static int read_ack(struct norm *n, const struct js_doc *d, int frame, int ch, int ev)
{
	char detail[160];
	int res = js_get(d, frame, "result");
	ack_detail(d, ch, js_get(d, frame, "payload"), detail, sizeof detail);
	if (js_streq(d, js_get(d, res, "status"), "fail")) {
		char why[200];
		snprintf(why, sizeof why, "%.*s failed: %s", (int)js_len(d, ev) & 31, js_ptr(d, ev), detail);
		norm_status(n, "error", NULL, why);
		return 0;
	}
	if (js_streq(d, ev, "subscribe"))
		norm_status(n, "subscribed", NULL, detail[0] ? detail : NULL);
	return 0; /* an unsubscribe, part of a resync: its resync line was already written */
}

int gateio_read_reply(struct norm *n, const struct js_doc *d, int frame, int ch, int ev, int err)
{
	if (js_type(d, err) == JS_OBJECT) {
		norm_status_error(n, d, js_get(d, err, "code"), js_get(d, err, "message"));
		return 1;
	}
	if (js_type(d, err) == JS_STRING) {
		norm_status_error(n, d, -1, err);
		return 1;
	}
	if (js_streq(d, ev, "subscribe") || js_streq(d, ev, "unsubscribe")) {
		read_ack(n, d, frame, ch, ev);
		return 1;
	}
	return 0;
}

static int gateio_normalize(struct norm *n, const struct js_doc *d, int data)
{
	if (js_type(d, data) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "frame is not an object");
	int ch = js_get(d, data, "channel"), ev = js_get(d, data, "event");
	int err = js_get(d, data, "error"), res = js_get(d, data, "result");
	if (js_type(d, ch) != JS_STRING)
		return norm_fail(n, NR_SHAPE, "no channel");
	if (gateio_read_reply(n, d, data, ch, ev, err))
		return 0;
	if (js_streq(d, ch, "spot.pong"))
		return 0; /* a keep-alive answer, when a recording holds one */
	if (js_type(d, res) != JS_OBJECT)
		return norm_fail(n, NR_FIELD, "result: missing or not an object");
	if (js_streq(d, ch, "spot.obu"))
		return gateio_read_book(&spot, n, d, res, GATEIO_OBU);
	if (js_streq(d, ch, "spot.trades"))
		return read_trade(n, d, res);
	if (js_streq(d, ch, "spot.tickers"))
		return read_ticker(n, d, data, res);
	if (js_streq(d, ch, "spot.book_ticker"))
		return read_book_ticker(n, d, res);
	if (js_streq(d, ch, "spot.order_book"))
		return read_order_book(n, d, res);
	if (js_streq(d, ch, "spot.order_book_update"))
		return gateio_read_book(&spot, n, d, res, GATEIO_UPDATE_V1);
	return norm_fail(n, NR_SHAPE, "unknown channel");
}

const struct xch xch_gateio = {
	.name = "gateio",
	.default_url = "wss://api.gateio.ws/ws/v4/",
	.default_symbols = "BTC-USDT,ETH-USDT",
	.proto = {
		.url = gateio_url,
		.subscribe = gateio_subscribe,
		.resync = gateio_resync,
		.classify = gateio_classify,
		/* The server pings with WebSocket frames and lws answers them. spot.ping is the
		 * documented way to reset the server's idle timer, and its spot.pong shows a
		 * quiet pair's connection alive. */
		.keepalive_ms = 15000,
		.keepalive_text = "{\"channel\":\"spot.ping\"}",
		.idle_timeout_ms = 45000,
		/* Unsubscribe and subscribe of a resync must reach the server in order and
		 * apart; the request rate limit is not documented. */
		.sub_gap_ms = 150,
	},
	.normalize = gateio_normalize,
};
