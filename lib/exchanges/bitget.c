/* Bitget v2 spot: public WebSocket API (see shared/exchanges/bitget.md). USDT-margined
 * futures are the same protocol with another instType (bitget-futures.c): both halves are
 * written for either product (struct bitget_product, bitget.h). */
#include "bitget.h"
#include "book.h"
#include "clock.h"
#include "dec.h"
#include "norm.h"
#include "xch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The channels subscribed per symbol. `books` is the full-depth book: a snapshot, then
 * updates carrying a sequence number and a checksum of the top 25 levels. */
static const struct {
	int channel;
	const char *name;
} channels[] = {
	{ XCH_TRADE, "trade" },
	{ XCH_TICKER, "ticker" },
	{ XCH_BOOK, "books" },
};
#define NCHANNELS (sizeof channels / sizeof channels[0])

#define MAX_REQUEST 4096      /* bytes in one subscribe request, as documented */
#define MAX_SUBSCRIPTIONS 1000 /* channels per connection */
/* 240 subscribe requests per hour per connection; unsubscribes are counted too, since the
 * documentation does not say they are free, and a few are kept in reserve. */
#define HOURLY_REQUESTS 230
#define HOUR_US ((int64_t)3600 * 1000000)
_Static_assert(HOURLY_REQUESTS <= XCH_BUDGET_MAX, "the budget must fit struct xch_conn");

/* ---- talking ---- */

/* The channels to subscribe: on futures the derivative data comes with the ticker. */
static int wanted(const struct bitget_product *pr, const struct xch_sub *sub)
{
	return sub->channels | (pr->futures && (sub->channels & XCH_DERIVATIVE) ? XCH_TICKER : 0);
}

/* "BTC-USDT" -> "BTCUSDT" on spot; "BTC-USDT-PERP" -> "BTCUSDT" on USDT-margined futures. */
static int inst_id(const struct bitget_product *pr, const char *sym, char *out, size_t n)
{
	char base[SYM_MAX], quote[SYM_MAX], expiry[9];
	int kind = sym_parse_contract(sym, base, quote, expiry);
	if (kind != (pr->futures ? SYM_PERP : SYM_SPOT) || (pr->futures && strcmp(quote, "USDT")))
		return -1;
	int k = snprintf(out, n, "%s%s", base, quote);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

static int arg_text(const struct bitget_product *pr, const char *sym, const char *channel, char *out,
		    size_t n)
{
	char id[SYM_MAX * 2];
	if (inst_id(pr, sym, id, sizeof id) < 0)
		return -1;
	int k = snprintf(out, n, "{\"instType\":\"%s\",\"channel\":\"%s\",\"instId\":\"%s\"}",
			 pr->inst_type, channel, id);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

int bitget_url_of(const struct bitget_product *pr, const struct xch_sub *sub, const char *base,
		  char *out, size_t n, char *err, size_t errlen)
{
	int k = snprintf(out, n, "%s", base), per_symbol = 0;
	char id[SYM_MAX * 2];
	if (k < 0 || (size_t)k >= n) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	for (int i = 0; i < sub->nsym; i++)
		if (inst_id(pr, sub->sym[i], id, sizeof id) < 0) {
			snprintf(err, errlen, "bad symbol %s%s", sub->sym[i],
				 pr->futures ? " (USDT-margined perpetuals are BASE-USDT-PERP)" : "");
			return -1;
		}
	for (size_t c = 0; c < NCHANNELS; c++)
		per_symbol += (wanted(pr, sub) & channels[c].channel) != 0;
	if (sub->nsym * per_symbol > MAX_SUBSCRIPTIONS) {
		snprintf(err, errlen, "%d subscriptions: Bitget allows %d per connection",
			 sub->nsym * per_symbol, MAX_SUBSCRIPTIONS);
		return -1;
	}
	return 0;
}

/* Subscribe requests per connection are limited per hour, so the connection's requests
 * are remembered in its budget (subscribe message 0 starts a new connection and with it a
 * new allowance). */
static int budget_left(struct xch_conn *c, int64_t now)
{
	int old = 0;
	while (old < c->budget_n && now - c->budget_at[old] >= HOUR_US)
		old++;
	memmove(c->budget_at, c->budget_at + old, (size_t)(c->budget_n - old) * sizeof c->budget_at[0]);
	c->budget_n -= old;
	return HOURLY_REQUESTS - c->budget_n;
}

static void budget_spend(struct xch_conn *c, int64_t now)
{
	if (budget_left(c, now) > 0)
		c->budget_at[c->budget_n++] = now;
}

/* Subscribe message I: the (symbol, channel) pairs in order, as many per request as fit in
 * MAX_REQUEST bytes. */
static int request(const struct bitget_product *pr, const struct xch_sub *sub, int i, char *out,
		   size_t n)
{
	static const char head[] = "{\"op\":\"subscribe\",\"args\":[";
	const size_t hl = sizeof head - 1;
	char arg[128];
	size_t o = 0, size = 0;
	int msg = 0, count = 0;
	if (n < MAX_REQUEST + 1)
		return -1;
	for (int s = 0; s < sub->nsym; s++)
		for (size_t c = 0; c < NCHANNELS; c++) {
			if (!(wanted(pr, sub) & channels[c].channel))
				continue;
			int al = arg_text(pr, sub->sym[s], channels[c].name, arg, sizeof arg);
			if (al < 0)
				return -1;
			if (count && size + 1 + (size_t)al + 2 > MAX_REQUEST) {
				if (msg == i)
					goto done;
				msg++;
				count = 0;
			}
			if (!count)
				size = hl;
			size += (count ? 1 : 0) + (size_t)al;
			if (msg == i) {
				if (!count) {
					memcpy(out, head, hl);
					o = hl;
				} else {
					out[o++] = ',';
				}
				memcpy(out + o, arg, (size_t)al);
				o += (size_t)al;
			}
			count++;
		}
done:
	if (msg != i || !count)
		return 0;
	memcpy(out + o, "]}", 3);
	return (int)(o + 2);
}

int bitget_subscribe_of(const struct bitget_product *pr, const struct xch_sub *sub,
			struct xch_conn *conn, int i, char *out, size_t n)
{
	int64_t now = clk_mono_us();
	if (i == 0)
		conn->budget_n = 0;
	int k = request(pr, sub, i, out, n);
	if (k > 0)
		budget_spend(conn, now);
	return k;
}

/* A new `books` snapshot takes an unsubscribe and a subscribe. When the hour's allowance
 * cannot pay for both, a new connection (with a new allowance) brings every book afresh. */
int bitget_resync_of(const struct bitget_product *pr, const struct xch_sub *sub,
		     struct xch_conn *conn, const char *symbol, int i, char *out, size_t n)
{
	int64_t now = clk_mono_us();
	char arg[128];
	if (i > 1)
		return 0;
	if (i == 0 && budget_left(conn, now) < 2)
		return 0;
	if (arg_text(pr, symbol, "books", arg, sizeof arg) < 0)
		return -1;
	int k = snprintf(out, n, "{\"op\":\"%s\",\"args\":[%s]}", i ? "subscribe" : "unsubscribe", arg);
	if (k < 0 || (size_t)k >= n)
		return -1;
	budget_spend(conn, now);
	return k;
}

/* The answer to our text "ping" is a text "pong", which is not JSON. */
enum xch_frame bitget_classify(const char *f, size_t n)
{
	if (n >= 4 && n <= 6 && !memcmp(f, "pong", 4))
		return XCH_HEARTBEAT;
	return XCH_FORWARD;
}

/* ---- reading ---- */

#define MAX_LEVELS 10000 /* per side of a kept book; deeper means something is wrong */
#define STR_(x) #x
#define STR(x) STR_(x)
#define TOO_DEEP "book deeper than " STR(MAX_LEVELS) " levels"
#define CHECKSUM_LEVELS 25
#define RESYNC_RETRY_US ((int64_t)30 * 1000000)

/* Why a kept book is not synced. */
enum { UNSYNCED_NEVER, UNSYNCED_DROPPED, UNSYNCED_BAD_FRAME };

/* What is kept per symbol (norm_state). */
struct inst {
	int64_t last_trade;  /* tradeId of the newest trade seen; 0: none */
	struct book *book;   /* NULL until the symbol's first `books` element */
	int synced;          /* a snapshot was applied and no fault seen since */
	int64_t seq;         /* seq of the last snapshot or update applied, */
	int seq_known;       /* when it carried one */
	int64_t asked_at;    /* local_ts when a snapshot was last asked for; 0: not yet */
	int unsynced;        /* UNSYNCED_*: why the book is not synced */
};

static void inst_release(void *p)
{
	book_free(((struct inst *)p)->book);
}

static struct inst *inst_of(struct norm *n, const char *sym)
{
	return norm_state(n, sym, sizeof(struct inst), inst_release);
}

/* The relay symbol of an instId: a pair on spot, its perpetual on futures. */
static int symbol_of(const struct bitget_product *pr, struct norm *n, const struct js_doc *d, int t,
		     char *sym)
{
	char pair[SYM_MAX];
	if (js_type(d, t) != JS_STRING)
		return norm_fail(n, NR_FIELD, "instId: missing or not a string");
	if (sym_split_concat(js_ptr(d, t), js_len(d, t), pr->futures ? pair : sym) < 0)
		return norm_fail(n, NR_SYMBOL, "cannot split symbol %.*s", (int)js_len(d, t) & 31,
				 js_ptr(d, t));
	if (pr->futures) {
		const char *dash = strchr(pair, '-');
		if (sym_join_contract(pair, (size_t)(dash - pair), dash + 1, strlen(dash + 1), NULL, sym) < 0)
			return norm_fail(n, NR_SYMBOL, "symbol %s too long", pair);
	}
	return 0;
}

/* Event time of data element O, falling back on the frame's own. */
static int event_ts(struct norm *n, const struct js_doc *d, int o, int frame_ts, int64_t *ts)
{
	if (norm_ts(n, d, js_get(d, o, "ts"), ts))
		return -1;
	if (*ts < 0 && norm_ts(n, d, frame_ts, ts))
		return -1;
	return 0;
}

/* Ticker values: a missing, null or empty string means "not sent". */
static int dec_field(struct norm *n, const char *key, const struct js_doc *d, int o, const char *name)
{
	int t = js_getn(d, o, name, strlen(name));
	if (js_type(d, t) == JS_STRING && js_len(d, t) == 0)
		return 0;
	return norm_dec_opt(n, key, d, t);
}

static int read_trade(struct norm *n, const struct js_doc *d, int o, const char *sym, int frame_ts,
		      int snapshot, int64_t last_id, int64_t *max_id)
{
	int64_t ts, id;
	if (js_type(d, o) != JS_OBJECT)
		return norm_fail(n, NR_FIELD, "trade is not an object");
	int side = js_get(d, o, "side"), tid = js_get(d, o, "tradeId");
	if (event_ts(n, d, o, frame_ts, &ts))
		return -1;
	/* The snapshot that opens every subscription repeats trades relayed before a
	 * reconnect; trade ids grow with time. */
	if (!js_int64(d, tid, &id)) {
		if (snapshot && id <= last_id)
			return 0;
		if (id > *max_id)
			*max_id = id;
	}
	const char *s;
	if (norm_side(n, d, side, "side", "buy", "sell", &s))
		return -1;
	norm_head(n, "trade", sym, ts);
	if (norm_id(n, "id", d, tid) || norm_price_amount(n, d, js_get(d, o, "price"), js_get(d, o, "size")))
		return -1;
	jw_key(n->w, "side");
	jw_str(n->w, s, strlen(s));
	norm_end_trade(n);
	return 0;
}

/* True when trade A is known to be newer than trade B (by time, then by id). */
static int newer(const struct js_doc *d, int a, int b)
{
	int64_t ta, tb, ia, ib;
	if (js_int64(d, js_get(d, a, "ts"), &ta) || js_int64(d, js_get(d, b, "ts"), &tb))
		return 0;
	if (ta != tb)
		return ta > tb;
	return !js_int64(d, js_get(d, a, "tradeId"), &ia) && !js_int64(d, js_get(d, b, "tradeId"), &ib) &&
	       ia > ib;
}

/* Trades are sent newest first in a snapshot; they go out oldest first. */
static int read_trades(struct norm *n, const struct js_doc *d, int arr, const char *sym, int frame_ts,
		       int snapshot)
{
	uint32_t local[64], *idx = local, cnt = d->tok[arr].size, last = (uint32_t)arr + 1;
	struct inst *in = inst_of(n, sym);
	int64_t last_id = in ? in->last_trade : 0, max_id = last_id;
	int r = 0;
	for (uint32_t i = 1; i < cnt; i++)
		last = d->tok[last].next;
	if (cnt > 1 && js_type(d, arr + 1) == JS_OBJECT && js_type(d, (int)last) == JS_OBJECT &&
	    newer(d, arr + 1, (int)last)) {
		/* Tokens only lead forward: note where each trade starts, then go back. */
		if (cnt > sizeof local / sizeof local[0] && !(idx = malloc(cnt * sizeof *idx)))
			return norm_fail(n, NR_SHAPE, "out of memory");
		for (uint32_t i = 0, k = (uint32_t)arr + 1; i < cnt; i++, k = d->tok[k].next)
			idx[i] = k;
		for (uint32_t i = cnt; i-- > 0 && !r;)
			r = read_trade(n, d, (int)idx[i], sym, frame_ts, snapshot, last_id, &max_id);
		if (idx != local)
			free(idx);
	} else {
		for (uint32_t i = 0, k = (uint32_t)arr + 1; i < cnt && !r; i++, k = d->tok[k].next)
			r = read_trade(n, d, (int)k, sym, frame_ts, snapshot, last_id, &max_id);
	}
	if (!r && in)
		in->last_trade = max_id;
	return r;
}

/* Member NAME of O, or else member ALT (the futures docs' pages disagree on names). */
static int either(const struct js_doc *d, int o, const char *name, const char *alt)
{
	int t = js_getn(d, o, name, strlen(name));
	return t >= 0 ? t : js_getn(d, o, alt, strlen(alt));
}

/* The ticker; on futures also the derivative line it carries: mark and index prices, the
 * current funding rate, the next funding time and the open interest (holdingAmount, in the
 * base currency; "quantity" on the demo-trading page's older spelling, "last" for lastPr). */
static int read_ticker(const struct bitget_product *pr, struct norm *n, const struct js_doc *d, int o,
		       const char *arg_sym, int frame_ts)
{
	char own[SYM_MAX];
	const char *sym = arg_sym;
	int64_t ts;
	if (js_type(d, o) != JS_OBJECT)
		return norm_fail(n, NR_FIELD, "ticker is not an object");
	int id = js_get(d, o, "instId");
	if (id >= 0) {
		if (symbol_of(pr, n, d, id, own))
			return -1;
		sym = own;
	}
	if (event_ts(n, d, o, frame_ts, &ts))
		return -1;
	norm_head(n, "ticker", sym, ts);
	if (dec_field(n, "bid", d, o, "bidPr") || dec_field(n, "bid_size", d, o, "bidSz") ||
	    dec_field(n, "ask", d, o, "askPr") || dec_field(n, "ask_size", d, o, "askSz") ||
	    norm_dec(n, "last", d, pr->futures ? either(d, o, "lastPr", "last") : js_get(d, o, "lastPr")) ||
	    dec_field(n, "open", d, o, "open24h") || dec_field(n, "high", d, o, "high24h") ||
	    dec_field(n, "low", d, o, "low24h") || dec_field(n, "volume", d, o, "baseVolume") ||
	    dec_field(n, "quote_volume", d, o, "quoteVolume"))
		return -1;
	norm_end(n);
	n->lines_ticker++;
	if (!pr->futures)
		return 0;
	norm_derivative_begin(n, sym, ts);
	if (norm_dec_sent(n, "mark", d, js_get(d, o, "markPrice")) ||
	    norm_dec_sent(n, "index", d, js_get(d, o, "indexPrice")) ||
	    norm_dec_sent(n, "funding_rate", d, js_get(d, o, "fundingRate")) ||
	    norm_ts_sent(n, "funding_ts", d, js_get(d, o, "nextFundingTime")) ||
	    norm_dec_sent(n, "open_interest", d, either(d, o, "holdingAmount", "quantity")))
		return -1;
	norm_derivative_end(n);
	return 0;
}

/* Level K of a book side: [price, size] as strings (numbers accepted). */
static int level(const struct js_doc *d, uint32_t k, const char **p, size_t *pn, const char **q,
		 size_t *qn)
{
	return d->tok[k].type != JS_ARRAY || d->tok[k].size < 2 || js_numtext(d, (int)k + 1, p, pn) ||
	       js_numtext(d, (int)d->tok[k + 1].next, q, qn);
}

/* Checks every level of a side before the book is touched, so a bad frame never leaves
 * a half-applied book behind. A missing side is an empty one. */
static int check_side(struct norm *n, const struct js_doc *d, int arr, const char *name)
{
	if (arr < 0)
		return 0;
	if (js_type(d, arr) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "%s: not an array", name);
	for (uint32_t i = 0, k = (uint32_t)arr + 1; i < d->tok[arr].size; i++, k = d->tok[k].next) {
		const char *p, *q;
		size_t pn, qn;
		char cp[DEC_MAX], cq[DEC_MAX];
		if (level(d, k, &p, &pn, &q, &qn))
			return norm_fail(n, NR_FIELD, "%s: level is not [price, size]", name);
		int pl = dec_canon(p, pn, cp), ql = dec_canon(q, qn, cq);
		if (pl < 0 || ql < 0 || cp[0] == '-' || cq[0] == '-' || pn >= BOOK_TEXT ||
		    qn >= BOOK_TEXT || pl >= BOOK_TEXT || ql >= BOOK_TEXT)
			return norm_fail(n, NR_NUMBER, "%s: bad level %.*s %.*s", name, (int)pn & 31, p,
					 (int)qn & 31, q);
		if (dec_is_zero(cp, (size_t)pl) && !dec_is_zero(cq, (size_t)ql))
			return norm_fail(n, NR_NUMBER, "%s: level at price zero", name);
	}
	return 0;
}

/* Applies a checked side; fails only when the side would exceed MAX_LEVELS. */
static int apply_side(struct book *b, enum book_side s, const struct js_doc *d, int arr)
{
	if (arr < 0)
		return 0;
	for (uint32_t i = 0, k = (uint32_t)arr + 1; i < d->tok[arr].size; i++, k = d->tok[k].next) {
		const char *p, *q;
		size_t pn, qn;
		level(d, k, &p, &pn, &q, &qn);
		if (book_set(b, s, p, pn, q, qn))
			return -1;
	}
	return 0;
}

/* A line with the kept book's best book_depth levels per side. Its text is canonical and
 * each side is in order (book_set keeps it so; the caller checked it is not crossed), so
 * the levels are copied as they are instead of being read again by norm_book_level: at
 * 20 levels a side this is most of the cost of an update. */
static int emit_book(struct norm *n, const struct book *b, const char *sym, int64_t ts)
{
	char buf[4 * BOOK_TEXT];
	norm_book_begin(n, sym, ts);
	for (int s = 0; s < 2; s++) {
		if (s)
			norm_book_asks(n);
		for (uint32_t i = 0; i < (uint32_t)n->book_depth; i++) {
			const struct book_level *l = book_level(b, (enum book_side)s, i);
			if (!l)
				break;
			size_t pl = strlen(l->px), ql = strlen(l->qty), o = 0;
			buf[o++] = '[';
			memcpy(buf + o, l->px, pl);
			o += pl;
			buf[o++] = ',';
			memcpy(buf + o, l->qty, ql);
			o += ql;
			buf[o++] = ']';
			jw_elem(n->w);
			jw_raw(n->w, buf, o);
		}
	}
	return norm_book_end(n);
}

/* An optional integer field: 0 and *v set when present, 1 when absent, -1 when mistyped. */
static int opt_int(const struct js_doc *d, int o, const char *key, int64_t *v)
{
	int t = js_getn(d, o, key, strlen(key));
	if (t < 0 || js_type(d, t) == JS_NULL)
		return 1;
	return js_int64(d, t, v) ? -1 : 0;
}

/* The book cannot be trusted any more: drop it, say why once, and ask for a snapshot.
 * Updates are ignored until one arrives. */
static void drop_book(struct norm *n, struct inst *in, const char *sym, int checksum,
		      const char *why)
{
	book_clear(in->book);
	in->synced = 0;
	in->asked_at = n->local_ts > 0 ? n->local_ts : 1;
	in->unsynced = UNSYNCED_DROPPED;
	if (checksum)
		norm_checksum_failed(n, sym, why);
	else
		norm_resync(n, sym, why);
}

/* An update for a book without a snapshot: after a bad frame, or when convert started in
 * the middle of a feed. A snapshot is asked for once (again after RESYNC_RETRY_US if none
 * came); meanwhile updates are ignored. */
static int unsynced_update(struct norm *n, struct inst *in, const char *sym)
{
	if (in->asked_at && n->local_ts - in->asked_at < RESYNC_RETRY_US)
		return 0;
	const char *why = in->unsynced == UNSYNCED_BAD_FRAME ? "book dropped after an unreadable frame"
			  : in->asked_at                     ? "no snapshot since the last resync"
							     : "update without a snapshot";
	in->asked_at = n->local_ts > 0 ? n->local_ts : 1;
	norm_resync(n, sym, why);
	return 0;
}

/* One element of a `books` frame: a snapshot replaces the book, an update is checked
 * against the sequence number and the checksum, then applied. */
static int read_book(struct norm *n, const struct js_doc *d, int o, const char *sym, int frame_ts,
		     int snapshot)
{
	char why[160];
	int64_t ts, seq = 0, pseq = 0, cs = 0;
	if (js_type(d, o) != JS_OBJECT)
		return norm_fail(n, NR_FIELD, "book is not an object");
	struct inst *in = inst_of(n, sym);
	if (!in || (!in->book && !(in->book = book_new(MAX_LEVELS))))
		return norm_fail(n, NR_BOOK, "out of memory");
	struct book *b = in->book;
	int bids = js_get(d, o, "bids"), asks = js_get(d, o, "asks");
	int has_seq = opt_int(d, o, "seq", &seq), has_pseq = opt_int(d, o, "pseq", &pseq);
	int has_cs = opt_int(d, o, "checksum", &cs);
	int bad = event_ts(n, d, o, frame_ts, &ts) || check_side(n, d, bids, "bids") ||
		  check_side(n, d, asks, "asks");
	if (!bad && (has_seq < 0 || has_pseq < 0 || has_cs < 0))
		bad = norm_fail(n, NR_FIELD, "seq, pseq or checksum is not an integer");
	if (bad) {
		/* The exchange moved on without us: what we keep is no longer its book. */
		if (in->synced || snapshot) {
			book_clear(b);
			in->synced = 0;
			in->asked_at = 0;
			in->unsynced = UNSYNCED_BAD_FRAME;
		}
		return -1;
	}
	if (snapshot) {
		book_clear(b);
		in->synced = 1;
		in->seq = seq;
		in->seq_known = has_seq == 0;
		in->asked_at = 0;
		/* The snapshot's checksum is not checked: live clients (ccxt) verify updates
		 * only, and the first update checks the same 25 levels anyway. */
		if (apply_side(b, BOOK_BID, d, bids) || apply_side(b, BOOK_ASK, d, asks)) {
			drop_book(n, in, sym, 0, TOO_DEEP);
			return 0;
		}
	} else {
		if (!in->synced)
			return unsynced_update(n, in, sym);
		if (has_seq == 0 && in->seq_known && seq < in->seq) {
			snprintf(why, sizeof why, "sequence went back %lld -> %lld", (long long)in->seq,
				 (long long)seq);
			drop_book(n, in, sym, 0, why);
			return 0;
		}
		/* The previous sequence, where sent, links each update to the one before; an
		 * update that repeats the last sequence number repeats its absolute sizes. */
		if (has_pseq == 0 && pseq > 0 && in->seq_known && pseq != in->seq &&
		    !(has_seq == 0 && seq == in->seq)) {
			snprintf(why, sizeof why, "sequence gap %lld -> %lld", (long long)in->seq,
				 (long long)pseq);
			drop_book(n, in, sym, 0, why);
			return 0;
		}
		if (apply_side(b, BOOK_BID, d, bids) || apply_side(b, BOOK_ASK, d, asks)) {
			drop_book(n, in, sym, 0, TOO_DEEP);
			return 0;
		}
		if (has_cs == 0) {
			int32_t mine = (int32_t)book_crc_interleaved(b, CHECKSUM_LEVELS);
			/* Signed 32-bit as documented; an unsigned spelling is accepted too. */
			if (cs != mine && cs != (int64_t)(uint32_t)mine) {
				snprintf(why, sizeof why, "checksum mismatch: got %lld, computed %d",
					 (long long)cs, mine);
				drop_book(n, in, sym, 1, why);
				return 0;
			}
		}
		if (has_seq == 0) {
			in->seq = seq;
			in->seq_known = 1;
		}
	}
	if (book_crossed(b)) {
		drop_book(n, in, sym, 0, "crossed book");
		return 0;
	}
	return emit_book(n, b, sym, ts);
}

/* books1, books5, books15: every push is a whole top-N snapshot. */
static int read_depth_snapshot(struct norm *n, const struct js_doc *d, int o, const char *sym,
			       int frame_ts)
{
	int64_t ts;
	if (js_type(d, o) != JS_OBJECT)
		return norm_fail(n, NR_FIELD, "book is not an object");
	int sides[2] = { js_get(d, o, "bids"), js_get(d, o, "asks") };
	if (event_ts(n, d, o, frame_ts, &ts))
		return -1;
	norm_book_begin(n, sym, ts);
	for (int s = 0; s < 2; s++) {
		int arr = sides[s];
		if (s)
			norm_book_asks(n);
		if (arr < 0)
			continue;
		if (js_type(d, arr) != JS_ARRAY)
			return norm_fail(n, NR_FIELD, "%s: not an array", s ? "asks" : "bids");
		for (uint32_t i = 0, k = (uint32_t)arr + 1; i < d->tok[arr].size; i++, k = d->tok[k].next) {
			const char *p, *q;
			size_t pn, qn;
			if (level(d, k, &p, &pn, &q, &qn))
				return norm_fail(n, NR_FIELD, "book level is not [price, size]");
			if (norm_book_level(n, p, pn, q, qn))
				return -1;
		}
	}
	return norm_book_end(n);
}

static int read_event(const struct bitget_product *pr, struct norm *n, const struct js_doc *d, int o,
		      int ev)
{
	if (js_streq(d, ev, "subscribe")) {
		char sym[SYM_MAX], detail[64];
		int arg = js_get(d, o, "arg"), ch = js_get(d, arg, "channel"), id = js_get(d, arg, "instId");
		int have_sym = js_type(d, id) == JS_STRING && !symbol_of(pr, n, d, id, sym);
		detail[0] = 0;
		if (js_type(d, ch) == JS_STRING && !(d->tok[ch].flags & JS_ESCAPED))
			snprintf(detail, sizeof detail, "%.*s", (int)js_len(d, ch) & 63, js_ptr(d, ch));
		norm_status(n, "subscribed", have_sym ? sym : NULL, detail[0] ? detail : NULL);
		return 0;
	}
	if (js_streq(d, ev, "error")) {
		norm_status_error(n, d, js_get(d, o, "code"), js_get(d, o, "msg"));
		return 0;
	}
	/* The first half of our own resync, and a login we never send: nothing to relay. */
	if (js_streq(d, ev, "unsubscribe") || js_streq(d, ev, "login"))
		return 0;
	return norm_fail(n, NR_SHAPE, "unknown event");
}

int bitget_normalize_of(const struct bitget_product *pr, struct norm *n, const struct js_doc *d, int o)
{
	char sym[SYM_MAX];
	if (js_type(d, o) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "frame is not an object");
	int ev = js_get(d, o, "event");
	if (ev >= 0)
		return read_event(pr, n, d, o, ev);
	int action = js_get(d, o, "action"), arg = js_get(d, o, "arg"), data = js_get(d, o, "data");
	if (action < 0 || arg < 0) {
		int code = js_get(d, o, "code"), msg = js_get(d, o, "msg");
		if (code >= 0 && msg >= 0) { /* an error without "event", should one come */
			norm_status_error(n, d, code, msg);
			return 0;
		}
		return norm_fail(n, NR_SHAPE, "unknown message");
	}
	if (js_type(d, arg) != JS_OBJECT || js_type(d, data) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "arg or data missing");
	int snapshot = js_streq(d, action, "snapshot");
	if (!snapshot && !js_streq(d, action, "update"))
		return norm_fail(n, NR_FIELD, "action: neither snapshot nor update");
	int ch = js_get(d, arg, "channel"), frame_ts = js_get(d, o, "ts");
	if (js_type(d, ch) != JS_STRING)
		return norm_fail(n, NR_FIELD, "channel: missing");
	if (pr->futures && !js_streq(d, js_get(d, arg, "instType"), "USDT-FUTURES") &&
	    !js_streq(d, js_get(d, arg, "instType"), "SUSDT-FUTURES"))
		return norm_fail(n, NR_SYMBOL, "instType: not USDT-FUTURES");
	if (symbol_of(pr, n, d, js_get(d, arg, "instId"), sym))
		return -1;
	if (js_streq(d, ch, "trade"))
		return read_trades(n, d, data, sym, frame_ts, snapshot);
	int books = js_streq(d, ch, "books");
	int depth = js_streq(d, ch, "books1") || js_streq(d, ch, "books5") || js_streq(d, ch, "books15");
	int ticker = js_streq(d, ch, "ticker");
	if (!books && !depth && !ticker)
		return norm_fail(n, NR_SHAPE, "unknown channel %.*s", (int)js_len(d, ch) & 31, js_ptr(d, ch));
	for (uint32_t i = 0, k = (uint32_t)data + 1; i < d->tok[data].size; i++, k = d->tok[k].next) {
		int r = books ? read_book(n, d, (int)k, sym, frame_ts, snapshot)
			: depth ? read_depth_snapshot(n, d, (int)k, sym, frame_ts)
				: read_ticker(pr, n, d, (int)k, sym, frame_ts);
		if (r)
			return -1;
	}
	return 0;
}

static const struct bitget_product spot = { "SPOT", 0 };

static int bitget_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		      size_t errlen)
{
	return bitget_url_of(&spot, sub, base, out, n, err, errlen);
}

static int bitget_subscribe(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out,
			    size_t n)
{
	return bitget_subscribe_of(&spot, sub, conn, i, out, n);
}

static int bitget_resync(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i,
			 char *out, size_t n)
{
	return bitget_resync_of(&spot, sub, conn, symbol, i, out, n);
}

static int bitget_normalize(struct norm *n, const struct js_doc *d, int o)
{
	return bitget_normalize_of(&spot, n, d, o);
}

const struct xch xch_bitget = {
	.name = "bitget",
	.default_url = "wss://ws.bitget.com/v2/ws/public",
	.default_symbols = "BTC-USDT,ETH-USDT,SOL-USDT,XRP-USDT",
	.proto = {
		.url = bitget_url,
		.subscribe = bitget_subscribe,
		.resync = bitget_resync,
		.classify = bitget_classify,
		/* 10 messages per second per connection, pings included: at most 5 paced
		 * requests a second leave room for the keep-alive. */
		.sub_gap_ms = 200,
		/* Text "ping" on a 30 s timer is the documented rule (the server cuts after
		 * 2 min without one); 25 s keeps a margin. Each ping is answered by "pong",
		 * so a silent connection for 65 s is a dead one. */
		.keepalive_ms = 25000,
		.keepalive_text = "ping",
		.idle_timeout_ms = 65000,
		.max_age_ms = 0,
	},
	.normalize = bitget_normalize,
};
