/* OKX v5 public WebSocket (see shared/exchanges/okx.md): trades, tickers and the 400-level
 * `books` channel (a snapshot, then updates chained by seqId/prevSeqId). Spot only: the
 * relay's BASE-QUOTE symbols are OKX's spot instIds as they are ("BTC-USDT"). The reader
 * also knows the channels a recording made with other subscriptions may hold: trades-all,
 * books5, bbo-tbt and the tick-by-tick books. */
#include "book.h"
#include "dec.h"
#include "norm.h"
#include "xch.h"

#include <stdio.h>
#include <string.h>

/* The documented limit on one subscribe request's size. */
#define REQUEST_MAX 65536

/* A kept book may briefly hold more than its channel's depth while one update inserts
 * levels before others are deleted or cut; this bounds what a malformed frame can allocate. */
#define BOOK_MAX_LEVELS 4096

/* A resync request that brought no snapshot (lost, or ingest's queue was full) is repeated
 * after this long, judged by local_ts, as long as updates for the symbol keep coming. */
#define RESYNC_RETRY_US (60 * 1000000LL)

/* Levels per side of the books channels, and of the checksum. */
#define BOOKS_DEPTH 400
#define BOOKS50_DEPTH 50
#define CHECKSUM_LEVELS 25

/* The maintenance notice is small: longer frames are never scanned for it. */
#define NOTICE_MAX 512
/* The longest {"channel":..,"instId":..} argument of a subscribe request. */
#define ARG_MAX 128

/* What is kept per instrument (norm_state). */
struct inst {
	struct book *book;
	int synced;       /* a snapshot was applied and no fault seen since */
	int64_t seq;      /* seqId of the last message applied */
	int asked;        /* a resync was asked for since the book was last synced */
	int64_t asked_at; /* local_ts of that request */
};

static void inst_release(void *p)
{
	book_free(((struct inst *)p)->book);
}

static const struct {
	int channel;
	const char *name;
} channels[] = {
	{ XCH_TRADE, "trades" },
	{ XCH_TICKER, "tickers" },
	{ XCH_BOOK, "books" },
};
#define NCHANNELS (sizeof channels / sizeof channels[0])

/* OKX's instId for a relay symbol: the same BASE-QUOTE spelling, upper case. */
static int inst_id(const char *sym, char *out, size_t n)
{
	char base[SYM_MAX], quote[SYM_MAX];
	if (sym_parse(sym, base, quote))
		return -1;
	int k = snprintf(out, n, "%s-%s", base, quote);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

static int okx_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		   size_t errlen)
{
	int k = snprintf(out, n, "%s", base);
	if (k < 0 || (size_t)k >= n) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	for (int i = 0; i < sub->nsym; i++) {
		char id[SYM_MAX];
		if (inst_id(sub->sym[i], id, sizeof id) < 0) {
			snprintf(err, errlen, "bad symbol %s", sub->sym[i]);
			return -1;
		}
	}
	return 0;
}

/* Message I of the subscription: {"op":"subscribe","args":[{"channel":..,"instId":..},..]},
 * one arg per (symbol, channel), packed into as few requests as the 64 KB limit allows
 * (480 subscribe requests per hour per connection are allowed, so fewer is better). */
static int okx_subscribe(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out, size_t n)
{
	static const char head[] = "{\"op\":\"subscribe\",\"args\":[", tail[] = "]}";
	const size_t hl = sizeof head - 1, tl = sizeof tail - 1;
	size_t len = hl;
	int msg = 0, args = 0;
	if (n < hl + tl + ARG_MAX)
		return -1;
	size_t limit = n - 1 < REQUEST_MAX ? n - 1 : REQUEST_MAX;
	memcpy(out, head, hl); /* every message starts so; the one wanted is built behind it */
	for (int s = 0; s < sub->nsym; s++) {
		char id[SYM_MAX], arg[ARG_MAX];
		if (inst_id(sub->sym[s], id, sizeof id) < 0)
			return -1;
		for (size_t c = 0; c < NCHANNELS; c++) {
			if (!(sub->channels & channels[c].channel))
				continue;
			int al = snprintf(arg, sizeof arg, "%s{\"channel\":\"%s\",\"instId\":\"%s\"}",
					  args ? "," : "", channels[c].name, id);
			if (al < 0 || (size_t)al >= sizeof arg)
				return -1;
			if (args && len + (size_t)al + tl > limit) {
				if (msg == i)
					goto done;
				msg++;
				len = hl;
				args = 0;
				al = snprintf(arg, sizeof arg, "{\"channel\":\"%s\",\"instId\":\"%s\"}",
					      channels[c].name, id);
			}
			if (msg == i)
				memcpy(out + len, arg, (size_t)al);
			len += (size_t)al;
			args++;
		}
	}
done:
	if (msg != i || !args)
		return 0;
	memcpy(out + len, tail, tl + 1);
	return (int)(len + tl);
}

/* A fresh `books` snapshot comes only with a new subscription: unsubscribe, then subscribe. */
static int okx_resync(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i,
		      char *out, size_t n)
{
	char id[SYM_MAX];
	if (i > 1)
		return 0;
	if (inst_id(symbol, id, sizeof id) < 0)
		return -1;
	int k = snprintf(out, n, "{\"op\":\"%s\",\"args\":[{\"channel\":\"books\",\"instId\":\"%s\"}]}",
			 i == 0 ? "unsubscribe" : "subscribe", id);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

/* The keep-alive answer is the bare text `pong`, which is not JSON. The maintenance notice
 * is small; market data (which starts with "arg") is never scanned for it. */
static enum xch_frame okx_classify(const char *f, size_t n)
{
	if (n == 4 && !memcmp(f, "pong", 4))
		return XCH_HEARTBEAT;
	if (n >= 7 && !memcmp(f, "{\"arg\":", 7))
		return XCH_FORWARD;
	if (n < NOTICE_MAX && memmem(f, n, "\"event\":\"notice\"", 16))
		return XCH_RECONNECT;
	return XCH_FORWARD;
}

/* ---- reading ---- */

static int symbol_of(struct norm *n, const struct js_doc *d, int t, char *sym)
{
	if (js_type(d, t) != JS_STRING)
		return norm_fail(n, NR_FIELD, "instId: missing or not a string");
	if (sym_split_sep(js_ptr(d, t), js_len(d, t), '-', 0, sym) < 0)
		return norm_fail(n, NR_SYMBOL, "cannot read instId %.*s", (int)(js_len(d, t) < 32 ? js_len(d, t) : 32),
				 js_ptr(d, t));
	return 0;
}

/* The instId of a data element, or of the channel argument when the element has none. */
static int symbol_of2(struct norm *n, const struct js_doc *d, int o, int arg, char *sym)
{
	int t = js_get(d, o, "instId");
	return symbol_of(n, d, t >= 0 ? t : js_get(d, arg, "instId"), sym);
}

/* Optional decimal: OKX writes "" where it has no value (no bid yet, say). */
static int dec_opt(struct norm *n, const char *key, const struct js_doc *d, int t)
{
	if (js_type(d, t) == JS_STRING && js_len(d, t) == 0)
		return 0;
	return norm_dec_opt(n, key, d, t);
}

static int read_trades(struct norm *n, const struct js_doc *d, int arg, int data)
{
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next) {
		char sym[SYM_MAX];
		int64_t ts;
		if (d->tok[o].type != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "trade is not an object");
		if (symbol_of2(n, d, (int)o, arg, sym) || norm_ts(n, d, js_get(d, (int)o, "ts"), &ts))
			return -1;
		int sd = js_get(d, (int)o, "side");
		const char *side = "unknown"; /* OKX may send "" */
		if (!js_streq(d, sd, "") && norm_side(n, d, sd, "side", "buy", "sell", &side))
			return -1;
		norm_head(n, "trade", sym, ts);
		if (norm_id(n, "id", d, js_get(d, (int)o, "tradeId")) ||
		    norm_price_amount(n, d, js_get(d, (int)o, "px"), js_get(d, (int)o, "sz")))
			return -1;
		jw_key(n->w, "side");
		jw_str(n->w, side, strlen(side));
		norm_end_trade(n);
	}
	return 0;
}

/* Spot tickers: vol24h is in the base currency and volCcy24h in the quote currency (the
 * other way round for derivatives, whose instIds are not BASE-QUOTE and are refused). */
static int read_tickers(struct norm *n, const struct js_doc *d, int arg, int data)
{
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next) {
		char sym[SYM_MAX];
		int64_t ts;
		int t = (int)o;
		if (d->tok[o].type != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "ticker is not an object");
		if (symbol_of2(n, d, t, arg, sym) || norm_ts(n, d, js_get(d, t, "ts"), &ts))
			return -1;
		norm_head(n, "ticker", sym, ts);
		if (dec_opt(n, "bid", d, js_get(d, t, "bidPx")) ||
		    dec_opt(n, "bid_size", d, js_get(d, t, "bidSz")) ||
		    dec_opt(n, "ask", d, js_get(d, t, "askPx")) ||
		    dec_opt(n, "ask_size", d, js_get(d, t, "askSz")) ||
		    dec_opt(n, "last", d, js_get(d, t, "last")) ||
		    dec_opt(n, "open", d, js_get(d, t, "open24h")) ||
		    dec_opt(n, "high", d, js_get(d, t, "high24h")) ||
		    dec_opt(n, "low", d, js_get(d, t, "low24h")) ||
		    dec_opt(n, "volume", d, js_get(d, t, "vol24h")) ||
		    dec_opt(n, "quote_volume", d, js_get(d, t, "volCcy24h")))
			return -1;
		norm_end(n);
		n->lines_ticker++;
	}
	return 0;
}

/* bbo-tbt (best bid and offer, tick by tick) reads like Binance's book ticker: a ticker
 * line with only bid and ask. */
static int read_bbo(struct norm *n, const struct js_doc *d, int arg, int data)
{
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next) {
		char sym[SYM_MAX];
		int64_t ts;
		int t = (int)o;
		if (d->tok[o].type != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "bbo is not an object");
		int bids = js_get(d, t, "bids"), asks = js_get(d, t, "asks");
		if (js_type(d, bids) != JS_ARRAY || js_type(d, asks) != JS_ARRAY)
			return norm_fail(n, NR_FIELD, "bids/asks: missing or not arrays");
		if (symbol_of2(n, d, t, arg, sym) || norm_ts(n, d, js_get(d, t, "ts"), &ts))
			return -1;
		norm_head(n, "ticker", sym, ts);
		for (int s = 0; s < 2; s++) {
			int lv = js_at(d, s ? asks : bids, 0);
			if (lv < 0)
				continue; /* that side is empty */
			if (js_type(d, lv) != JS_ARRAY || d->tok[lv].size < 2)
				return norm_fail(n, NR_FIELD, "book level is not [price, size, ...]");
			if (norm_dec(n, s ? "ask" : "bid", d, lv + 1) ||
			    norm_dec(n, s ? "ask_size" : "bid_size", d, (int)d->tok[lv + 1].next))
				return -1;
		}
		norm_end(n);
		n->lines_ticker++;
	}
	return 0;
}

/* Price and size text of book level K, [price, size, "0", orders]. */
static int level_text(const struct js_doc *d, uint32_t k, const char **p, size_t *pn, const char **q,
		      size_t *qn)
{
	if (d->tok[k].type != JS_ARRAY || d->tok[k].size < 2)
		return -1;
	return js_numtext(d, (int)k + 1, p, pn) || js_numtext(d, (int)d->tok[k + 1].next, q, qn) ? -1 : 0;
}

/* books5: five levels a side, complete in every message. */
static int read_books5(struct norm *n, const struct js_doc *d, int arg, int data)
{
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next) {
		char sym[SYM_MAX];
		int64_t ts;
		int t = (int)o;
		if (d->tok[o].type != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "book is not an object");
		int side[2] = { js_get(d, t, "bids"), js_get(d, t, "asks") };
		if (js_type(d, side[0]) != JS_ARRAY || js_type(d, side[1]) != JS_ARRAY)
			return norm_fail(n, NR_FIELD, "bids/asks: missing or not arrays");
		if (symbol_of2(n, d, t, arg, sym) || norm_ts(n, d, js_get(d, t, "ts"), &ts))
			return -1;
		norm_book_begin(n, sym, ts);
		for (int s = 0; s < 2; s++) {
			if (s)
				norm_book_asks(n);
			for (uint32_t j = 0, k = (uint32_t)side[s] + 1; j < d->tok[side[s]].size;
			     j++, k = d->tok[k].next) {
				const char *p, *q;
				size_t pn, qn;
				if (level_text(d, k, &p, &pn, &q, &qn))
					return norm_fail(n, NR_FIELD, "book level is not [price, size, ...]");
				if (norm_book_level(n, p, pn, q, qn))
					return -1;
			}
		}
		if (norm_book_end(n))
			return -1;
	}
	return 0;
}

/* Checks every level of a books side before the kept book is touched, with the same rules
 * book_set applies, so a bad frame is refused whole and the book stays as it was. */
static int check_side(struct norm *n, const struct js_doc *d, int arr)
{
	for (uint32_t j = 0, k = (uint32_t)arr + 1; j < d->tok[arr].size; j++, k = d->tok[k].next) {
		const char *p, *q;
		size_t pn, qn;
		char cp[DEC_MAX], cq[DEC_MAX];
		if (level_text(d, k, &p, &pn, &q, &qn))
			return norm_fail(n, NR_FIELD, "book level is not [price, size, ...]");
		int pl = dec_canon(p, pn, cp), ql = dec_canon(q, qn, cq);
		if (pl < 0 || ql < 0 || pn >= BOOK_TEXT || qn >= BOOK_TEXT || pl >= BOOK_TEXT ||
		    ql >= BOOK_TEXT)
			return norm_fail(n, NR_NUMBER, "book level is not a decimal, or too long: %.*s",
					 (int)(pn < 32 ? pn : 32), p);
		if (cp[0] == '-' || cq[0] == '-' ||
		    (dec_is_zero(cp, (size_t)pl) && !dec_is_zero(cq, (size_t)ql)))
			return norm_fail(n, NR_NUMBER, "book level negative, or priced zero");
	}
	return 0;
}

/* Applies a checked side; fails only when the side is full. */
static int apply_side(struct book *b, enum book_side s, const struct js_doc *d, int arr)
{
	for (uint32_t j = 0, k = (uint32_t)arr + 1; j < d->tok[arr].size; j++, k = d->tok[k].next) {
		const char *p, *q;
		size_t pn, qn;
		if (level_text(d, k, &p, &pn, &q, &qn) || book_set(b, s, p, pn, q, qn))
			return -1;
	}
	return 0;
}

/* Drops a book that can no longer be trusted and asks for a fresh snapshot: until one
 * arrives, updates for the symbol are ignored. */
static void drop_book(struct norm *n, struct inst *in, const char *sym, const char *why, int checksum)
{
	book_clear(in->book);
	in->synced = 0;
	in->asked = 1;
	in->asked_at = n->local_ts;
	if (checksum)
		norm_checksum_failed(n, sym, why);
	else
		norm_resync(n, sym, why);
}

/* The fields of one element of a books message. */
struct books_item {
	int bids, asks;
	int64_t ts, seq, prev, crc;
};

static int books_fields(struct norm *n, const struct js_doc *d, int t, struct books_item *it)
{
	if (js_type(d, t) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "book is not an object");
	int ck = js_get(d, t, "checksum");
	it->bids = js_get(d, t, "bids");
	it->asks = js_get(d, t, "asks");
	it->crc = 0;
	if (js_type(d, it->bids) != JS_ARRAY || js_type(d, it->asks) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "bids/asks: missing or not arrays");
	if (js_int64(d, js_get(d, t, "seqId"), &it->seq) ||
	    js_int64(d, js_get(d, t, "prevSeqId"), &it->prev))
		return norm_fail(n, NR_FIELD, "seqId/prevSeqId: missing or not integers");
	if (ck >= 0 && js_type(d, ck) != JS_NULL && js_int64(d, ck, &it->crc))
		return norm_fail(n, NR_FIELD, "checksum: not an integer");
	return norm_ts(n, d, js_get(d, t, "ts"), &it->ts);
}

/* One checked element applied to the kept book of SYM; writes its book line, or a resync. */
static int books_apply(struct norm *n, const struct js_doc *d, const struct books_item *it,
		       const char *sym, int snapshot, uint32_t depth)
{
	struct inst *in = norm_state(n, sym, sizeof *in, inst_release);
	if (!in)
		return norm_fail(n, NR_SYMBOL, "no memory for %s", sym);
	if (!in->book && !(in->book = book_new(BOOK_MAX_LEVELS)))
		return norm_fail(n, NR_BOOK, "no memory for the book of %s", sym);
	struct book *b = in->book;
	if (snapshot) {
		book_clear(b);
		in->synced = 1;
		in->asked = 0;
	} else if (!in->synced) {
		/* No snapshot yet (convert started mid-stream), or one is on its way. */
		if (!in->asked)
			drop_book(n, in, sym, "update before any snapshot", 0);
		else if (n->local_ts - in->asked_at >= RESYNC_RETRY_US)
			drop_book(n, in, sym, "no snapshot since the resync request", 0);
		return 0;
	} else if (it->prev != in->seq) {
		char why[96];
		snprintf(why, sizeof why, "sequence gap: prevSeqId %lld after seqId %lld",
			 (long long)it->prev, (long long)in->seq);
		drop_book(n, in, sym, why, 0);
		return 0;
	}
	in->seq = it->seq;
	if (apply_side(b, BOOK_BID, d, it->bids) || apply_side(b, BOOK_ASK, d, it->asks)) {
		drop_book(n, in, sym, "more levels than a book may hold", 0);
		return 0;
	}
	book_truncate(b, depth);
	if (it->crc) {
		int32_t crc = (int32_t)book_crc_interleaved(b, CHECKSUM_LEVELS);
		if (crc != (int32_t)it->crc) {
			char why[96];
			snprintf(why, sizeof why, "checksum mismatch: got %lld, computed %d",
				 (long long)it->crc, (int)crc);
			drop_book(n, in, sym, why, 1);
			return 0;
		}
	}
	if (book_crossed(b)) {
		drop_book(n, in, sym, "crossed book", 0);
		return 0;
	}
	if (!snapshot && !d->tok[it->bids].size && !d->tok[it->asks].size)
		return 0; /* keep-alive: the book did not change */
	return norm_book_from(n, b, sym, it->ts);
}

/* books, books50-l2-tbt, books-l2-tbt: a snapshot (prevSeqId -1), then updates whose
 * prevSeqId must be the seqId of the message before (values jump: they are compared, never
 * counted). An update with prevSeqId == seqId and no levels is a keep-alive; after
 * maintenance seqId may go down, which is fine as long as prevSeqId chains. The checksum
 * (CRC32 of the top 25 interleaved) is checked only when non-zero: OKX now always sends 0.
 * The whole message is checked before any book changes, so a bad one leaves no trace. */
static int read_books(struct norm *n, const struct js_doc *d, int arg, int action, int data,
		      uint32_t depth)
{
	char sym[SYM_MAX];
	struct books_item it;
	int snapshot;
	if (js_streq(d, action, "snapshot"))
		snapshot = 1;
	else if (js_streq(d, action, "update"))
		snapshot = 0;
	else
		return norm_fail(n, NR_FIELD, "action: neither snapshot nor update");
	if (symbol_of(n, d, js_get(d, arg, "instId"), sym))
		return -1;
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next)
		if (books_fields(n, d, (int)o, &it) || check_side(n, d, it.bids) || check_side(n, d, it.asks))
			return -1;
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next)
		if (books_fields(n, d, (int)o, &it) || books_apply(n, d, &it, sym, snapshot, depth))
			return -1;
	return 0;
}

/* A status line for an event frame: DETAIL "<code>: <msg>" from its tokens when present. */
static void status_code_msg(struct norm *n, const char *event, const char *sym, const struct js_doc *d,
			    int code, int msg)
{
	norm_head(n, "status", sym, -1);
	jw_key(n->w, "event");
	jw_str(n->w, event, strlen(event));
	int tc = js_type(d, code), tm = js_type(d, msg);
	if ((tc == JS_STRING || tc == JS_NUMBER) && js_len(d, code)) {
		jw_key(n->w, "detail");
		jw_char(n->w, '"');
		jw_raw(n->w, js_ptr(d, code), js_len(d, code));
		if (tm == JS_STRING && js_len(d, msg)) {
			jw_lit(n->w, ": ");
			jw_raw(n->w, js_ptr(d, msg), js_len(d, msg));
		}
		jw_char(n->w, '"');
	} else if (tm == JS_STRING) {
		jw_key(n->w, "detail");
		jw_json_str(n->w, js_ptr(d, msg), js_len(d, msg));
	}
	norm_end(n);
	n->lines_status++;
}

static int read_event(struct norm *n, const struct js_doc *d, int o, int ev)
{
	if (js_streq(d, ev, "subscribe")) {
		/* One ack per channel argument: the symbol it names and the channel as detail. */
		char sym[SYM_MAX];
		int arg = js_get(d, o, "arg"), inst = js_get(d, arg, "instId"), ch = js_get(d, arg, "channel");
		int ok = js_type(d, inst) == JS_STRING &&
			 sym_split_sep(js_ptr(d, inst), js_len(d, inst), '-', 0, sym) >= 0;
		norm_status_tok(n, "subscribed", ok ? sym : NULL, d, ch);
		return 0;
	}
	if (js_streq(d, ev, "error") || js_streq(d, ev, "channel-conn-count-error")) {
		norm_status_error(n, d, js_get(d, o, "code"), js_get(d, o, "msg"));
		return 0;
	}
	/* Announced maintenance: ingest reconnects at once on this frame (okx_classify), so it
	 * only reaches convert from recordings made by other means. */
	if (js_streq(d, ev, "notice")) {
		status_code_msg(n, "disconnected", NULL, d, js_get(d, o, "code"), js_get(d, o, "msg"));
		return 0;
	}
	/* Acks of a resync's unsubscribe and connection-count reports: nothing to relay. */
	if (js_streq(d, ev, "unsubscribe") || js_streq(d, ev, "channel-conn-count"))
		return 0;
	return norm_fail(n, NR_SHAPE, "unknown event");
}

static int okx_normalize(struct norm *n, const struct js_doc *d, int data)
{
	if (js_type(d, data) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "frame is not an object");
	int ev = js_get(d, data, "event");
	if (js_type(d, ev) == JS_STRING)
		return read_event(n, d, data, ev);
	int arg = js_get(d, data, "arg"), items = js_get(d, data, "data");
	if (js_type(d, arg) != JS_OBJECT || js_type(d, items) != JS_ARRAY)
		return norm_fail(n, NR_SHAPE, "neither an event nor {arg, data}");
	int ch = js_get(d, arg, "channel");
	if (js_streq(d, ch, "trades") || js_streq(d, ch, "trades-all"))
		return read_trades(n, d, arg, items);
	if (js_streq(d, ch, "tickers"))
		return read_tickers(n, d, arg, items);
	if (js_streq(d, ch, "books") || js_streq(d, ch, "books-l2-tbt"))
		return read_books(n, d, arg, js_get(d, data, "action"), items, BOOKS_DEPTH);
	if (js_streq(d, ch, "books50-l2-tbt"))
		return read_books(n, d, arg, js_get(d, data, "action"), items, BOOKS50_DEPTH);
	if (js_streq(d, ch, "books5"))
		return read_books5(n, d, arg, items);
	if (js_streq(d, ch, "bbo-tbt"))
		return read_bbo(n, d, arg, items);
	return norm_fail(n, NR_SHAPE, "unknown channel");
}

const struct xch xch_okx = {
	.name = "okx",
	.default_url = "wss://ws.okx.com:8443/ws/v5/public",
	.default_symbols = "BTC-USDT,ETH-USDT",
	.proto = {
		.url = okx_url,
		.subscribe = okx_subscribe,
		.resync = okx_resync,
		.classify = okx_classify,
		/* OKX closes a connection after 30 s without traffic; a text `ping` every 20 s
		 * is answered `pong`, so a live but quiet connection still shows a frame at
		 * least that often and two missed answers mean it is dead. */
		.keepalive_ms = 20000,
		.keepalive_text = "ping",
		.idle_timeout_ms = 45000,
		/* Subscribe requests are limited (480 an hour per connection): a resync's
		 * unsubscribe and subscribe go a quarter second apart. */
		.sub_gap_ms = 250,
	},
	.normalize = okx_normalize,
};
