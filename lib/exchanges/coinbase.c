/* Coinbase Advanced Trade: the public market-data WebSocket (see shared/exchanges/coinbase.md).
 *
 * Wire: one subscribe message per channel (heartbeats, level2, market_trades, ticker), the
 * product ids spelled as the relay spells symbols ("BTC-USD"). Every frame is forwarded,
 * heartbeats included, because the reader needs all of them to check the sequence.
 *
 * Reading: every frame is {"channel":..,"timestamp":..,"sequence_num":N,"events":[..]}.
 * level2 arrives as channel "l2_data": a snapshot of the full book, then updates holding
 * absolute quantities ("0" deletes). No checksum exists. */
#include "book.h"
#include "clock.h"
#include "dec.h"
#include "norm.h"
#include "xch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Levels kept per side. The level2 snapshot is the whole book (tens of thousands of levels
 * on the big products); past this limit the worst levels are dropped, which only matters
 * if the book were ever eaten that deep. */
#define MAX_LEVELS 100000
#define KEEP_LEVELS 75000

/* A book waiting for the snapshot it asked for asks again after this long (the request or
 * its answer may have been lost). */
#define RESYNC_RETRY_US (30 * INT64_C(1000000))

/* The largest message ingest sends (its MAX_OUT_MSG): every subscribe message must fit. */
#define MAX_MESSAGE 65536

/* The detail of a "subscribed" status line stops listing subscriptions past this length. */
#define DETAIL_MAX 400

/* ---- talking: subscribe and resync messages ---- */

static const struct {
	int channel;
	const char *name;
} channels[] = {
	{ XCH_BOOK, "level2" },
	{ XCH_TRADE, "market_trades" },
	{ XCH_TICKER, "ticker" },
};

static int product_id(const char *sym, char *out, size_t n)
{
	char base[SYM_MAX], quote[SYM_MAX];
	if (sym_parse(sym, base, quote))
		return -1;
	int k = snprintf(out, n, "%s-%s", base, quote);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

/* {"type":TYPE,"product_ids":[...],"channel":CHANNEL}: every subscribed symbol, or only
 * ONE when it is given. Returns the length, or -1 when it does not fit. */
static int request(const char *type, const char *channel, const struct xch_sub *sub, const char *one,
		   char *out, size_t n)
{
	int k = snprintf(out, n, "{\"type\":\"%s\",\"product_ids\":[", type);
	if (k < 0 || (size_t)k >= n)
		return -1;
	size_t o = (size_t)k;
	int count = one ? 1 : sub->nsym;
	for (int i = 0; i < count; i++) {
		char id[SYM_MAX];
		if (product_id(one ? one : sub->sym[i], id, sizeof id) < 0)
			return -1;
		k = snprintf(out + o, n - o, "%s\"%s\"", i ? "," : "", id);
		if (k < 0 || (size_t)k >= n - o)
			return -1;
		o += (size_t)k;
	}
	k = snprintf(out + o, n - o, "],\"channel\":\"%s\"}", channel);
	if (k < 0 || (size_t)k >= n - o)
		return -1;
	return (int)(o + (size_t)k);
}

/* Message 0 subscribes heartbeats (which take no products): besides keeping quiet channels
 * open, they give the sequence a frame every second, so a gap shows at once. Then one
 * message per wanted channel, level2 first so books start early. */
static int coinbase_subscribe(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out,
			      size_t n)
{
	if (i == 0) {
		int k = snprintf(out, n, "{\"type\":\"subscribe\",\"channel\":\"heartbeats\"}");
		return k < 0 || (size_t)k >= n ? -1 : k;
	}
	int seen = 0;
	for (size_t c = 0; c < sizeof channels / sizeof channels[0]; c++) {
		if (!(sub->channels & channels[c].channel))
			continue;
		if (++seen == i)
			return request("subscribe", channels[c].name, sub, NULL, out, n);
	}
	return 0;
}

static int coinbase_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
			size_t errlen)
{
	int k = snprintf(out, n, "%s", base);
	if (k < 0 || (size_t)k >= n) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	for (int i = 0; i < sub->nsym; i++) {
		char id[SYM_MAX];
		if (product_id(sub->sym[i], id, sizeof id) < 0) {
			snprintf(err, errlen, "bad symbol %s", sub->sym[i]);
			return -1;
		}
	}
	struct xch_conn conn = { 0 };
	char *msg = malloc(MAX_MESSAGE);
	if (!msg) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = 0;
	for (int i = 0; (k = coinbase_subscribe(sub, &conn, i, msg, MAX_MESSAGE)) != 0; i++)
		if (k < 0) {
			snprintf(err, errlen, "too many symbols for one subscribe message");
			rc = -1;
			break;
		}
	free(msg);
	return rc;
}

/* Unsubscribing and subscribing level2 again brings a fresh snapshot of that product. */
static int coinbase_resync(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i,
			   char *out, size_t n)
{
	if (i > 1)
		return 0;
	return request(i == 0 ? "unsubscribe" : "subscribe", "level2", sub, symbol, out, n);
}

/* Heartbeats are data here: each one carries the connection's sequence number. */
static enum xch_frame coinbase_classify(const char *f, size_t n)
{
	return XCH_FORWARD;
}

/* ---- reading: common parts ---- */

/* What is kept per product (norm_state). */
struct product {
	int64_t last_trade;  /* trade_id of the newest trade relayed, */
	int trade_seen;      /* once there was one */
	struct book *book;   /* NULL until the product's first l2_data event */
	int synced;          /* the book's state, as "level2: full books" below tells: */
	int64_t asked_at;    /* synced, asked (local_ts of the request) or waiting (0) */
	char sym[SYM_MAX];   /* the product's symbol, for the feed's list of books */
};

static void product_release(void *p)
{
	book_free(((struct product *)p)->book);
}

static struct product *product_of(struct norm *n, const char *sym)
{
	return norm_state(n, sym, sizeof(struct product), product_release);
}

static int symbol_of(struct norm *n, const struct js_doc *d, int o, char *sym)
{
	int t = js_get(d, o, "product_id");
	if (js_type(d, t) != JS_STRING)
		return norm_fail(n, NR_FIELD, "product_id: missing");
	if (sym_split_sep(js_ptr(d, t), js_len(d, t), '-', 0, sym) < 0)
		return norm_fail(n, NR_SYMBOL, "cannot read product id %.*s", (int)js_len(d, t) & 31,
				 js_ptr(d, t));
	return 0;
}

/* Optional decimals: absent, null and "" all mean "not sent". */
static int dec_opt(struct norm *n, const char *key, const struct js_doc *d, int t)
{
	if (js_type(d, t) == JS_STRING && js_len(d, t) == 0)
		return 0;
	return norm_dec_opt(n, key, d, t);
}

static int get2(const struct js_doc *d, int o, const char *a, const char *b)
{
	int t = js_getn(d, o, a, strlen(a));
	return t >= 0 ? t : js_getn(d, o, b, strlen(b));
}

/* ---- market_trades ---- */

/* The side Coinbase reports is the maker's: the taker took the other one. */
static int taker_side(struct norm *n, const struct js_doc *d, int t, const char **side)
{
	if (js_streq(d, t, "") || js_streq(d, t, "UNKNOWN_ORDER_SIDE")) {
		*side = "unknown";
		return 0;
	}
	/* a maker's SELL is a taker's buy */
	return norm_side(n, d, t, "side", "SELL", "BUY", side);
}

/* A snapshot of recent trades starts every subscription; after a reconnect it repeats
 * trades already relayed, which are dropped by id (per product, ids only grow). */
static int seen_before(struct norm *n, const struct js_doc *d, int tr, const char *sym)
{
	int64_t id;
	struct product *p = product_of(n, sym);
	return p && p->trade_seen && !js_int64(d, js_get(d, tr, "trade_id"), &id) && id <= p->last_trade;
}

static int read_trades(struct norm *n, const struct js_doc *d, int ev)
{
	int trades = js_get(d, ev, "trades");
	int snapshot = js_streq(d, js_get(d, ev, "type"), "snapshot");
	if (js_type(d, trades) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "trades: missing");
	for (uint32_t i = 0, k = (uint32_t)trades + 1; i < d->tok[trades].size; i++, k = d->tok[k].next) {
		int tr = (int)k;
		char sym[SYM_MAX];
		const char *side = "unknown";
		int64_t ts;
		if (d->tok[k].type != JS_OBJECT)
			return norm_fail(n, NR_FIELD, "trade is not an object");
		if (symbol_of(n, d, tr, sym) || norm_ts(n, d, js_get(d, tr, "time"), &ts) ||
		    taker_side(n, d, js_get(d, tr, "side"), &side))
			return -1;
		if (snapshot && seen_before(n, d, tr, sym))
			continue;
		norm_head(n, "trade", sym, ts);
		if (norm_id(n, "id", d, js_get(d, tr, "trade_id")) ||
		    norm_price_amount(n, d, js_get(d, tr, "price"), js_get(d, tr, "size")))
			return -1;
		jw_key(n->w, "side");
		jw_str(n->w, side, strlen(side));
		norm_end_trade(n);
	}
	/* Only once every trade converted: remember the newest id of each product. */
	for (uint32_t i = 0, k = (uint32_t)trades + 1; i < d->tok[trades].size; i++, k = d->tok[k].next) {
		char sym[SYM_MAX];
		int64_t id;
		struct product *p;
		if (symbol_of(n, d, (int)k, sym) || js_int64(d, js_get(d, (int)k, "trade_id"), &id) ||
		    !(p = product_of(n, sym)))
			continue;
		if (!p->trade_seen || id > p->last_trade) {
			p->last_trade = id;
			p->trade_seen = 1;
		}
	}
	return 0;
}

/* ---- ticker and ticker_batch ---- */

/* The ticker has no open price (only a percent change, which would need arithmetic) and no
 * quote volume; ticker_batch has no best bid/ask. */
static int read_tickers(struct norm *n, const struct js_doc *d, int ev, int64_t ts)
{
	int tickers = js_get(d, ev, "tickers");
	if (js_type(d, tickers) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "tickers: missing");
	for (uint32_t i = 0, k = (uint32_t)tickers + 1; i < d->tok[tickers].size; i++, k = d->tok[k].next) {
		int t = (int)k;
		char sym[SYM_MAX];
		if (d->tok[k].type != JS_OBJECT)
			return norm_fail(n, NR_FIELD, "ticker is not an object");
		if (symbol_of(n, d, t, sym))
			return -1;
		norm_head(n, "ticker", sym, ts);
		if (dec_opt(n, "bid", d, js_get(d, t, "best_bid")) ||
		    dec_opt(n, "bid_size", d, get2(d, t, "best_bid_quantity", "best_bid_size")) ||
		    dec_opt(n, "ask", d, js_get(d, t, "best_ask")) ||
		    dec_opt(n, "ask_size", d, get2(d, t, "best_ask_quantity", "best_ask_size")) ||
		    norm_dec(n, "last", d, js_get(d, t, "price")) ||
		    dec_opt(n, "high", d, js_get(d, t, "high_24_h")) ||
		    dec_opt(n, "low", d, js_get(d, t, "low_24_h")) ||
		    dec_opt(n, "volume", d, js_get(d, t, "volume_24_h")))
			return -1;
		norm_end(n);
		n->lines_ticker++;
	}
	return 0;
}

/* ---- subscriptions acks ---- */

/* The ack lists every active subscription of the connection:
 * {"subscriptions":{"level2":["BTC-USD"],"heartbeats":[]}}; the detail says the same,
 * "level2: BTC-USD; heartbeats". An empty list means nothing was accepted. */
static int read_subscriptions(struct norm *n, const struct js_doc *d, int events)
{
	for (uint32_t i = 0, k = (uint32_t)events + 1; i < d->tok[events].size; i++, k = d->tok[k].next) {
		int subs = js_get(d, (int)k, "subscriptions");
		if (js_type(d, subs) != JS_OBJECT)
			return norm_fail(n, NR_FIELD, "subscriptions: missing");
		if (d->tok[subs].size == 0) {
			norm_status(n, "error", NULL, "subscription rejected: no active subscriptions");
			continue;
		}
		norm_head(n, "status", NULL, -1);
		jw_key(n->w, "event");
		jw_lit(n->w, "\"subscribed\"");
		jw_key(n->w, "detail");
		jw_char(n->w, '"');
		/* Names are copied as escaped in the frame, so the detail stays valid JSON; a
		 * long list is cut between names. */
		size_t start = n->w->len;
		uint32_t key = (uint32_t)subs + 1;
		for (uint32_t c = 0; c < d->tok[subs].size; c++) {
			uint32_t val = d->tok[key].next;
			if (n->w->len - start > DETAIL_MAX) {
				jw_lit(n->w, "; ...");
				break;
			}
			if (c)
				jw_lit(n->w, "; ");
			jw_raw(n->w, js_ptr(d, (int)key), js_len(d, (int)key));
			if (d->tok[val].type == JS_ARRAY) {
				int listed = 0;
				for (uint32_t j = 0, p = val + 1; j < d->tok[val].size; j++, p = d->tok[p].next) {
					if (d->tok[p].type != JS_STRING)
						continue;
					if (listed++)
						jw_char(n->w, ',');
					else
						jw_lit(n->w, ": ");
					jw_raw(n->w, js_ptr(d, (int)p), js_len(d, (int)p));
				}
			}
			key = d->tok[val].next;
		}
		jw_char(n->w, '"');
		norm_end(n);
		n->lines_status++;
	}
	return 0;
}

/* ---- level2: full books ----
 *
 * A book is in one of three states:
 *   synced                 a snapshot was applied and no frame was lost since;
 *   asked (asked_at > 0)   dropped after a fault, a resync was requested at local_ts asked_at;
 *   waiting (asked_at = 0) dropped because the connection is new: its snapshot comes unasked.
 * Updates for a book that is not synced are ignored; one for a waiting book means its
 * snapshot will not come (convert started mid-stream, or the snapshot was lost), so it
 * asks; an asked book asks again after RESYNC_RETRY_US. */

/* One level of an l2_data frame as read by l2_read, and one event (a product's snapshot or
 * update) with its run of levels. */
struct l2_level {
	const char *px, *qty;
	uint32_t pn, qn;
	enum book_side side;
	int et;                /* event_time token, or -1 */
};

struct l2_event {
	char sym[SYM_MAX];
	int snapshot;
	uint32_t first, count; /* its levels in the scratch array */
};

/* The feed's state (norm_stream_state): the connection's sequence, the list of every
 * product with a book, so a gap reaches all of them, and the scratch arrays a frame is read
 * into. */
struct feed {
	int64_t seq;             /* sequence_num of the last frame counted, */
	int seq_seen;            /* once there was one */
	size_t n, cap;
	struct product **books;  /* norm_state entries never move: each is allocated alone */
	struct l2_level *lv;
	size_t nlv, caplv;
	struct l2_event *ev;
	size_t nev, capev;
};

static void feed_release(void *p)
{
	struct feed *c = p;
	free(c->books);
	free(c->lv);
	free(c->ev);
}

/* ARR (of *CAP elements of SIZE bytes) grown to hold more, or NULL (ARR is kept). */
static void *grow(void *arr, size_t *cap, size_t size)
{
	size_t nc = *cap ? *cap * 2 : 64;
	void *p = realloc(arr, nc * size);
	if (p)
		*cap = nc;
	return p;
}

/* SYM's state with its book, listed in C on first use; NULL when out of memory. */
static struct product *book_of(struct norm *n, struct feed *c, const char *sym)
{
	struct product *pr = product_of(n, sym);
	if (!pr)
		return NULL;
	if (!pr->book) {
		if (c->n == c->cap) {
			void *p = grow(c->books, &c->cap, sizeof *c->books);
			if (!p)
				return NULL;
			c->books = p;
		}
		if (!(pr->book = book_new(MAX_LEVELS)))
			return NULL;
		snprintf(pr->sym, sizeof pr->sym, "%s", sym);
		c->books[c->n++] = pr;
	}
	return pr;
}

static void book_drop(struct product *p)
{
	book_clear(p->book);
	p->synced = 0;
	p->asked_at = 0;
}

/* Drops the book and asks for a fresh snapshot: one status line, one request. */
static void book_fault(struct norm *n, struct product *p, const char *why)
{
	book_drop(p);
	p->asked_at = n->local_ts > 0 ? n->local_ts : 1;
	norm_resync(n, p->sym, why);
}

/* True for the text Coinbase sends, plain digits with at most one point; *NONZERO tells
 * whether a digit is not 0. */
static int plain_decimal(const char *s, size_t n, int *nonzero)
{
	int digits = 0, points = 0;
	*nonzero = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			digits++;
			*nonzero |= s[i] != '0';
		} else if (s[i] != '.' || points++) {
			return 0;
		}
	}
	return digits > 0;
}

/* True when book_set will take this level: decimal texts it can keep, no negative, no zero
 * price with an amount. Plain texts are checked by a scan; anything else (exponents,
 * signs) as book_set will read it. */
static int level_ok(const char *p, size_t pn, const char *q, size_t qn)
{
	char cp[DEC_MAX], cq[DEC_MAX];
	int pz, qz;
	if (pn >= BOOK_TEXT || qn >= BOOK_TEXT)
		return 0;
	if (plain_decimal(p, pn, &pz) && plain_decimal(q, qn, &qz))
		return pz || !qz;
	int pl = dec_canon(p, pn, cp), ql = dec_canon(q, qn, cq);
	if (pl < 0 || ql < 0 || pl >= BOOK_TEXT || ql >= BOOK_TEXT || cp[0] == '-' || cq[0] == '-')
		return 0;
	return !dec_is_zero(cp, (size_t)pl) || dec_is_zero(cq, (size_t)ql);
}

/* The members of one update, found in one pass (the first of a repeated key counts). */
static void update_fields(const struct js_doc *d, uint32_t o, int *side, int *px, int *qty, int *et)
{
	*side = *px = *qty = *et = -1;
	for (uint32_t m = 0, k = o + 1; m < d->tok[o].size; m++, k = d->tok[d->tok[k].next].next) {
		int v = (int)d->tok[k].next;
		if (*side < 0 && js_streq(d, (int)k, "side"))
			*side = v;
		else if (*px < 0 && js_streq(d, (int)k, "price_level"))
			*px = v;
		else if (*qty < 0 && js_streq(d, (int)k, "new_quantity"))
			*qty = v;
		else if (*et < 0 && js_streq(d, (int)k, "event_time"))
			*et = v;
	}
}

/* Reads a whole l2_data frame into C's scratch arrays without changing any book, so that
 * applying it cannot fail half way. */
static int l2_read(struct norm *n, struct feed *c, const struct js_doc *d, int events)
{
	c->nev = c->nlv = 0;
	for (uint32_t i = 0, k = (uint32_t)events + 1; i < d->tok[events].size; i++, k = d->tok[k].next) {
		int ev = (int)k;
		if (d->tok[k].type != JS_OBJECT)
			return norm_fail(n, NR_FIELD, "event is not an object");
		int type = js_get(d, ev, "type"), ups = js_get(d, ev, "updates");
		int snapshot = js_streq(d, type, "snapshot");
		if (!snapshot && !js_streq(d, type, "update"))
			return norm_fail(n, NR_SHAPE, "l2_data event neither snapshot nor update");
		if (js_type(d, ups) != JS_ARRAY)
			return norm_fail(n, NR_FIELD, "updates: missing");
		if (c->nev == c->capev) {
			void *p = grow(c->ev, &c->capev, sizeof *c->ev);
			if (!p)
				return norm_fail(n, NR_BOOK, "out of memory");
			c->ev = p;
		}
		struct l2_event *e = &c->ev[c->nev];
		if (symbol_of(n, d, ev, e->sym))
			return -1;
		e->snapshot = snapshot;
		e->first = (uint32_t)c->nlv;
		e->count = d->tok[ups].size;
		for (uint32_t j = 0, u = (uint32_t)ups + 1; j < e->count; j++, u = d->tok[u].next) {
			const char *p, *q;
			size_t pn, qn;
			int side = -1, st = -1, pt = -1, qt = -1, et = -1;
			if (d->tok[u].type == JS_OBJECT) {
				update_fields(d, u, &st, &pt, &qt, &et);
				side = js_streq(d, st, "bid") ? BOOK_BID : js_streq(d, st, "offer") ? BOOK_ASK : -1;
			}
			if (side < 0)
				return norm_fail(n, NR_FIELD, "update without side bid or offer");
			if (js_numtext(d, pt, &p, &pn) || js_numtext(d, qt, &q, &qn))
				return norm_fail(n, NR_FIELD, "update without price_level or new_quantity");
			if (!level_ok(p, pn, q, qn))
				return norm_fail(n, NR_NUMBER, "update level is not a usable decimal");
			if (c->nlv == c->caplv) {
				void *more = grow(c->lv, &c->caplv, sizeof *c->lv);
				if (!more)
					return norm_fail(n, NR_BOOK, "out of memory");
				c->lv = more;
			}
			c->lv[c->nlv++] = (struct l2_level){ p, q, (uint32_t)pn, (uint32_t)qn,
							     (enum book_side)side, et };
		}
		c->nev++;
	}
	return 0;
}

/* Sets one level. A full side gives up its worst levels; what still fails (out of memory)
 * is a fault of the book. */
static int level_set(struct book *b, const struct l2_level *l)
{
	if (!book_set(b, l->side, l->px, l->pn, l->qty, l->qn))
		return 0;
	if (book_depth(b, l->side) < MAX_LEVELS)
		return -1;
	book_truncate(b, KEEP_LEVELS);
	return book_set(b, l->side, l->px, l->pn, l->qty, l->qn);
}

/* A snapshot lists each side best first, the order in which every insert would move the
 * whole side; applying it backwards appends instead. */
static int snapshot_apply(struct book *b, const struct l2_level *lv, uint32_t count)
{
	book_clear(b);
	for (uint32_t j = count; j-- > 0;)
		if (level_set(b, &lv[j]))
			return -1;
	return 0;
}

/* The newest matching-engine time of an update's levels, or -1 (snapshot levels carry
 * 1970-01-01T00:00:00Z). The levels of one update mostly share one time: each distinct
 * text is parsed once. */
static int64_t update_time(const struct js_doc *d, const struct l2_level *lv, uint32_t count)
{
	int64_t best = -1, t;
	int prev = -1;
	for (uint32_t j = 0; j < count; j++) {
		int et = lv[j].et;
		if (js_type(d, et) != JS_STRING)
			continue;
		if (prev >= 0 && js_len(d, et) == js_len(d, prev) &&
		    !memcmp(js_ptr(d, et), js_ptr(d, prev), js_len(d, et)))
			continue;
		prev = et;
		if (!clk_parse_rfc3339(js_ptr(d, et), js_len(d, et), &t) && t > best)
			best = t;
	}
	return best > 0 ? best : -1;
}

/* Applies what l2_read read: one book line per event, unless the book is waiting or has
 * just become faulty. */
static int l2_apply(struct norm *n, struct feed *c, const struct js_doc *d, int64_t ts)
{
	for (size_t i = 0; i < c->nev; i++) {
		const struct l2_event *e = &c->ev[i];
		const struct l2_level *lv = c->lv + e->first;
		struct product *p = book_of(n, c, e->sym);
		if (!p)
			return norm_fail(n, NR_BOOK, "out of memory for the book of %s", e->sym);
		struct book *b = p->book;
		int64_t bts = ts;
		if (e->snapshot) {
			if (snapshot_apply(b, lv, e->count)) {
				book_fault(n, p, "book too large");
				continue;
			}
			p->synced = 1;
			p->asked_at = 0;
		} else {
			if (!p->synced) {
				if (!p->asked_at || n->local_ts - p->asked_at > RESYNC_RETRY_US)
					book_fault(n, p, "update without snapshot");
				continue;
			}
			int rc = 0;
			for (uint32_t j = 0; j < e->count && !rc; j++)
				rc = level_set(b, &lv[j]);
			if (rc) {
				book_fault(n, p, "book too large");
				continue;
			}
			int64_t et = update_time(d, lv, e->count);
			if (et > 0)
				bts = et;
		}
		if (book_crossed(b)) {
			book_fault(n, p, "crossed book");
			continue;
		}
		if (norm_book_from(n, b, e->sym, bts))
			return -1;
	}
	return 0;
}

/* ---- the sequence ----
 *
 * sequence_num is one counter per connection across all channels (the subscriptions ack,
 * heartbeats and every data channel share it), so continuity is checked on every frame,
 * not per product. Hence ingest forwards heartbeats: each one is a number the check needs,
 * and its steady beat makes a lost frame show within a second.
 *   next number:         fine;
 *   a jump forward:      frames were lost (ingest dropped lines, skipped a frame, or this
 *                        reader could not read one); the lost frame may have been an update
 *                        of any book, so every synced or resyncing book is dropped and asks
 *                        for a fresh snapshot;
 *   the same or smaller: a new connection (convert does not see ingest's connection
 *                        events); its subscriptions bring fresh snapshots, so every book
 *                        is dropped silently to wait for them.
 * An l2_data frame that cannot be read is not counted, so the next frame shows the gap. */

enum seq_kind { SEQ_NONE, SEQ_FIRST, SEQ_NEXT, SEQ_GAP, SEQ_NEW_CONNECTION };

static enum seq_kind seq_classify(const struct feed *c, int has, int64_t seq)
{
	if (!has || !c)
		return SEQ_NONE;
	if (!c->seq_seen)
		return SEQ_FIRST;
	if (seq == c->seq + 1)
		return SEQ_NEXT;
	return seq > c->seq ? SEQ_GAP : SEQ_NEW_CONNECTION;
}

static void seq_commit(struct norm *n, struct feed *c, enum seq_kind kind, int64_t seq)
{
	if (kind == SEQ_NONE)
		return;
	if (kind == SEQ_GAP || kind == SEQ_NEW_CONNECTION) {
		char why[96];
		snprintf(why, sizeof why, "sequence gap %lld -> %lld", (long long)c->seq, (long long)seq);
		for (size_t i = 0; i < c->n; i++) {
			struct product *p = c->books[i];
			if (kind == SEQ_NEW_CONNECTION)
				book_drop(p);
			else if (p->synced || p->asked_at)
				book_fault(n, p, why);
		}
	}
	c->seq = seq;
	c->seq_seen = 1;
}

/* ---- the frame ---- */

static int read_channel(struct norm *n, const struct js_doc *d, int ch, int events, int64_t ts)
{
	if (js_streq(d, ch, "heartbeats") || js_streq(d, ch, "candles") || js_streq(d, ch, "status"))
		return 0; /* not relayed */
	if (js_streq(d, ch, "subscriptions"))
		return read_subscriptions(n, d, events);
	int trades = js_streq(d, ch, "market_trades");
	if (!trades && !js_streq(d, ch, "ticker") && !js_streq(d, ch, "ticker_batch"))
		return norm_fail(n, NR_SHAPE, "unknown channel");
	for (uint32_t i = 0, k = (uint32_t)events + 1; i < d->tok[events].size; i++, k = d->tok[k].next) {
		if (d->tok[k].type != JS_OBJECT)
			return norm_fail(n, NR_FIELD, "event is not an object");
		if (trades ? read_trades(n, d, (int)k) : read_tickers(n, d, (int)k, ts))
			return -1;
	}
	return 0;
}

static int coinbase_normalize(struct norm *n, const struct js_doc *d, int data)
{
	if (js_type(d, data) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "frame is not an object");
	int ch = js_get(d, data, "channel"), type = js_get(d, data, "type");
	if (js_streq(d, type, "error")) {
		/* {"type":"error","message":"..."}, sometimes with a "reason". */
		int msg = js_get(d, data, "message"), reason = js_get(d, data, "reason");
		if (js_type(d, reason) == JS_STRING)
			norm_status_error(n, d, msg, reason);
		else
			norm_status_error(n, d, -1, msg);
		return 0;
	}
	if (js_type(d, ch) != JS_STRING)
		return norm_fail(n, NR_SHAPE, "frame without channel");
	int events = js_get(d, data, "events"), st = js_get(d, data, "sequence_num");
	int64_t seq = 0, ts;
	if (st >= 0 && (js_type(d, st) != JS_NUMBER || js_int64(d, st, &seq) || seq < 0))
		return norm_fail(n, NR_FIELD, "sequence_num: not a number");
	struct feed *c = norm_stream_state(n, sizeof *c, feed_release);
	enum seq_kind kind = seq_classify(c, st >= 0, seq);
	int rc = norm_ts(n, d, js_get(d, data, "timestamp"), &ts);
	if (!rc && js_type(d, events) != JS_ARRAY)
		rc = norm_fail(n, NR_FIELD, "events: missing");

	if (js_streq(d, ch, "l2_data")) {
		/* Unreadable: not counted, so the next frame's gap drops the books. */
		if (!rc && !c)
			rc = norm_fail(n, NR_BOOK, "out of memory");
		if (rc || l2_read(n, c, d, events))
			return -1;
		seq_commit(n, c, kind, seq);
		return l2_apply(n, c, d, ts);
	}
	/* Other channels are read first and the sequence checked after, so resync lines are
	 * never rolled back with a frame that failed. A failed frame still counts when that
	 * needs no line; a gap is left for the next frame to report. */
	if (!rc)
		rc = read_channel(n, d, ch, events, ts);
	if (!rc || kind != SEQ_GAP)
		seq_commit(n, c, kind, seq);
	return rc;
}

const struct xch xch_coinbase = {
	.name = "coinbase",
	.default_url = "wss://advanced-trade-ws.coinbase.com",
	.default_symbols = "BTC-USD,ETH-USD",
	.proto = {
		.url = coinbase_url,
		.subscribe = coinbase_subscribe,
		.resync = coinbase_resync,
		.classify = coinbase_classify,
		/* Unauthenticated clients may send 8 messages per second per IP: 5 leaves room. */
		.sub_gap_ms = 200,
		/* The heartbeats channel sends a frame every second; our WebSocket pings only
		 * keep idle middleboxes from forgetting the connection. */
		.keepalive_ms = 30000,
		.keepalive_text = NULL,
		.idle_timeout_ms = 15000,
		.max_age_ms = 0,
		/* level2 snapshots carry the whole book: several MB on busy products. */
		.max_frame = 32 << 20,
	},
	.normalize = coinbase_normalize,
};
