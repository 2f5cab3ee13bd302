/* Kraken spot: WebSocket API v2 (see shared/exchanges/kraken.md).
 *
 * Order books come as a snapshot followed by updates, with no sequence number: the only
 * integrity check is a CRC32 of the best ten levels of each side, sent with the snapshot
 * and with every update. Kraken computes it over each price and amount written with the
 * pair's price and quantity precisions, which v2 messages do not carry (their numbers are
 * JSON floats that drop trailing zeros). The precisions come from the instrument channel,
 * which ingest subscribes first when books are wanted; convert keeps them per pair in
 * struct pair. Until the instrument list has been read (it is one large frame, and a
 * recording may not hold it) the precisions are found from the book snapshot itself: the
 * smallest ones, no fewer decimals than its levels show, that reproduce its checksum. When
 * even that fails the book is relayed unverified until its next snapshot, and a status line
 * says so once per symbol. Books are cut to the depth the subscribe ack states (one ack
 * per symbol); without an ack, to the smallest depth Kraken offers that holds the snapshot.
 */
#include "book.h"
#include "dec.h"
#include "norm.h"
#include "xch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define KRAKEN_DEPTH 25        /* book levels per side we subscribe to (10, 25, 100, 500, 1000) */
#define KRAKEN_MAX_LEVELS 1000 /* the deepest book Kraken sends */
#define KRAKEN_MAX_DP 18       /* the most decimals a precision search tries */
/* A book left unsynced this long after its resync request asks again (the request is best
 * effort: ingest may not have been listening). */
#define RESYNC_RETRY_US ((int64_t)30 * 1000000)
/* Request ids: subscribe requests take 1.. by channel, resync requests count from here. */
#define RESYNC_FIRST_ID 1000
/* Heartbeats and pongs are small: longer frames are market data, never scanned for them. */
#define HEARTBEAT_MAX 64
#define PONG_MAX 256

enum {
	PREC_LISTED = 1,     /* precisions read from the instrument channel */
	PREC_FOUND = 2,      /* precisions found from a snapshot's checksum */
	PREC_NOTICE = 4,     /* the "not verified" status line was written for this symbol */
	BOOK_UNVERIFIED = 8, /* no precisions: this book's checksums wait for its next snapshot */
};

/* What is kept per pair (norm_state). */
struct pair {
	int64_t last_trade;    /* trade_id of the newest trade relayed; <= 0: none yet */
	int64_t px_dp, qty_dp; /* the pair's precisions, when flags say they are known */
	int64_t flags;         /* PREC_*, BOOK_UNVERIFIED */
	int64_t ack_depth;     /* book depth the subscribe ack stated; 0: no ack */
	struct book *book;     /* NULL until the pair's first book message */
	int64_t depth;         /* levels per side the book is cut to (set by each snapshot) */
	int synced;            /* a snapshot was applied and no fault seen since */
	int64_t asked_at;      /* local_ts of the last resync request while unsynced; 0: none */
};

static void pair_release(void *p)
{
	book_free(((struct pair *)p)->book);
}

static struct pair *pair_of(struct norm *n, const char *sym)
{
	return norm_state(n, sym, sizeof(struct pair), pair_release);
}

/* ---- talking to Kraken ---- */

/* The relay's BTC-USD is Kraken's BTC/USD (v2 spells Bitcoin BTC and Dogecoin DOGE, the
 * names sym_join maps XBT and XDG to). */
static int pair_name(const char *sym, char *out, size_t n)
{
	char base[SYM_MAX], quote[SYM_MAX];
	if (sym_parse(sym, base, quote))
		return -1;
	int k = snprintf(out, n, "%s/%s", base, quote);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

static int kraken_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		      size_t errlen)
{
	char pair[SYM_MAX + 2];
	int k = snprintf(out, n, "%s", base);
	if (k < 0 || (size_t)k >= n) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	for (int i = 0; i < sub->nsym; i++)
		if (pair_name(sub->sym[i], pair, sizeof pair) < 0) {
			snprintf(err, errlen, "bad symbol %s", sub->sym[i]);
			return -1;
		}
	return 0;
}

static __attribute__((format(printf, 4, 5))) int put(char *out, size_t n, size_t *o, const char *fmt,
						       ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(out + *o, n - *o, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= n - *o)
		return -1;
	*o += (size_t)k;
	return 0;
}

/* {"method":METHOD,"params":{"channel":CHANNEL,"symbol":[...],...},"req_id":ID} for every
 * subscribed symbol, or only ONLY. The instrument channel takes no symbols. */
static int request(const struct xch_sub *sub, const char *only, const char *method,
		   const char *channel, unsigned id, char *out, size_t n)
{
	char pair[SYM_MAX + 2];
	size_t o = 0;
	int book = !strcmp(channel, "book");
	if (put(out, n, &o, "{\"method\":\"%s\",\"params\":{\"channel\":\"%s\"", method, channel))
		return -1;
	if (strcmp(channel, "instrument")) {
		if (put(out, n, &o, ",\"symbol\":["))
			return -1;
		for (int i = 0; i < (only ? 1 : sub->nsym); i++) {
			if (pair_name(only ? only : sub->sym[i], pair, sizeof pair) < 0 ||
			    put(out, n, &o, "%s\"%s\"", i ? "," : "", pair))
				return -1;
		}
		if (put(out, n, &o, "]"))
			return -1;
	}
	if (book && put(out, n, &o, ",\"depth\":%d", KRAKEN_DEPTH))
		return -1;
	/* A trade snapshot (the last 50 trades) lets convert relay what a reconnect missed. */
	if (!strcmp(method, "subscribe") && put(out, n, &o, ",\"snapshot\":true"))
		return -1;
	if (put(out, n, &o, "},\"req_id\":%u}", id))
		return -1;
	return (int)o;
}

/* The instrument list first, so that precisions are known before the first book. */
static int kraken_subscribe(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out,
			    size_t n)
{
	static const struct {
		int channel;
		const char *name;
	} order[] = {
		{ XCH_BOOK, "instrument" },
		{ XCH_TRADE, "trade" },
		{ XCH_TICKER, "ticker" },
		{ XCH_BOOK, "book" },
	};
	int k = 0;
	for (size_t c = 0; c < sizeof order / sizeof order[0]; c++) {
		if (!(sub->channels & order[c].channel))
			continue;
		if (k++ == i)
			return request(sub, NULL, "subscribe", order[c].name, (unsigned)c + 1, out, n);
	}
	return 0;
}

/* Unsubscribe the book, then subscribe it again: the new subscription starts with a
 * snapshot. Kraken handles a connection's requests in order, so no update of the old
 * subscription follows the new snapshot. */
static int kraken_resync(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i,
			 char *out, size_t n)
{
	char pair[SYM_MAX + 2], other[SYM_MAX + 2];
	int found = 0;
	if (i > 1)
		return 0;
	if (!(sub->channels & XCH_BOOK) || pair_name(symbol, pair, sizeof pair) < 0)
		return -1;
	for (int k = 0; k < sub->nsym && !found; k++)
		found = pair_name(sub->sym[k], other, sizeof other) >= 0 && !strcmp(pair, other);
	if (!found)
		return -1; /* not ours: subscribing it would add a book the user did not ask for */
	return request(sub, symbol, i == 0 ? "unsubscribe" : "subscribe", "book",
		       RESYNC_FIRST_ID + conn->next_id++, out, n);
}

/* {"channel":"heartbeat"} comes every second or so when nothing else does, and our
 * {"method":"ping"} is answered {"method":"pong","req_id":..,"time_in":..,"time_out":..}. */
static enum xch_frame kraken_classify(const char *f, size_t n)
{
	if (n < HEARTBEAT_MAX && memmem(f, n, "\"heartbeat\"", 11))
		return XCH_HEARTBEAT;
	if (n < PONG_MAX && memmem(f, n, "\"pong\"", 6))
		return XCH_HEARTBEAT;
	return XCH_FORWARD;
}

/* ---- reading ---- */

static int symbol_of(struct norm *n, const struct js_doc *d, int t, char *sym)
{
	if (js_type(d, t) != JS_STRING)
		return norm_fail(n, NR_FIELD, "symbol: missing or not a string");
	if (sym_split_sep(js_ptr(d, t), js_len(d, t), '/', 0, sym) < 0)
		return norm_fail(n, NR_SYMBOL, "cannot read symbol %.*s", (int)js_len(d, t) & 31,
				 js_ptr(d, t));
	return 0;
}

/* An exchange error as a status line: "<method>: <error>", with the symbol when named. */
static void status_error(struct norm *n, const struct js_doc *d, int o)
{
	char sym[SYM_MAX];
	int method = js_get(d, o, "method"), err = js_get(d, o, "error"), s = js_get(d, o, "symbol");
	if (err < 0)
		err = js_get(d, o, "Error");
	if (s < 0)
		s = js_get(d, js_get(d, o, "result"), "symbol");
	int have_sym = js_type(d, s) == JS_STRING &&
		       sym_split_sep(js_ptr(d, s), js_len(d, s), '/', 0, sym) >= 0;
	norm_head(n, "status", have_sym ? sym : NULL, -1);
	jw_key(n->w, "event");
	jw_lit(n->w, "\"error\"");
	jw_key(n->w, "detail");
	jw_char(n->w, '"');
	if (js_type(d, method) == JS_STRING) {
		jw_raw(n->w, js_ptr(d, method), js_len(d, method));
		jw_lit(n->w, ": ");
	}
	if (js_type(d, err) == JS_STRING)
		jw_raw(n->w, js_ptr(d, err), js_len(d, err));
	else
		jw_lit(n->w, "request failed");
	jw_char(n->w, '"');
	norm_end(n);
	n->lines_status++;
}

/* {"method":"subscribe","result":{"channel":"book","depth":25,"symbol":"BTC/USD",..},
 * "success":true,..}: one per symbol. A book ack also tells the depth its updates are
 * truncated to. */
static int read_reply(struct norm *n, const struct js_doc *d, int o, int method)
{
	int success = js_get(d, o, "success");
	if (js_type(d, success) == JS_FALSE || (success < 0 && js_get(d, o, "error") >= 0)) {
		status_error(n, d, o);
		return 0;
	}
	if (!js_streq(d, method, "subscribe"))
		return 0; /* pong, unsubscribe acks (resyncs): nothing to relay */
	int res = js_get(d, o, "result");
	int ch = js_get(d, res, "channel"), s = js_get(d, res, "symbol");
	char sym[SYM_MAX], chan[16];
	int have_sym = js_type(d, s) == JS_STRING &&
		       sym_split_sep(js_ptr(d, s), js_len(d, s), '/', 0, sym) >= 0;
	snprintf(chan, sizeof chan, "%.*s", js_type(d, ch) == JS_STRING ? (int)js_len(d, ch) : 0,
		 js_type(d, ch) == JS_STRING ? js_ptr(d, ch) : "");
	if (have_sym && js_streq(d, ch, "book")) {
		int64_t depth;
		struct pair *pr = pair_of(n, sym);
		if (pr && !js_int64(d, js_get(d, res, "depth"), &depth) && depth > 0 &&
		    depth <= KRAKEN_MAX_LEVELS)
			pr->ack_depth = depth;
	}
	norm_status(n, "subscribed", have_sym ? sym : NULL, chan[0] ? chan : NULL);
	return 0;
}

/* The instrument channel: every pair's precisions, remembered for book checksums. Pairs
 * this relay cannot name are skipped; nothing is written. */
static int read_instrument(struct norm *n, const struct js_doc *d, int o)
{
	int data = js_get(d, o, "data");
	int pairs = js_get(d, data, "pairs");
	if (js_type(d, data) != JS_OBJECT || (pairs >= 0 && js_type(d, pairs) != JS_ARRAY))
		return norm_fail(n, NR_FIELD, "instrument: data.pairs is not an array");
	if (pairs < 0)
		return 0;
	for (uint32_t i = 0, k = (uint32_t)pairs + 1; i < d->tok[pairs].size; i++, k = d->tok[k].next) {
		char sym[SYM_MAX];
		int64_t pdp, qdp;
		int s = js_get(d, (int)k, "symbol");
		if (js_type(d, (int)k) != JS_OBJECT || js_type(d, s) != JS_STRING ||
		    sym_split_sep(js_ptr(d, s), js_len(d, s), '/', 0, sym) < 0 ||
		    js_int64(d, js_get(d, (int)k, "price_precision"), &pdp) ||
		    js_int64(d, js_get(d, (int)k, "qty_precision"), &qdp) || pdp < 0 ||
		    pdp > KRAKEN_MAX_DP || qdp < 0 || qdp > KRAKEN_MAX_DP)
			continue;
		struct pair *pr = pair_of(n, sym);
		if (!pr)
			return norm_fail(n, NR_BOOK, "out of memory");
		pr->px_dp = pdp;
		pr->qty_dp = qdp;
		/* A book relayed unverified is checked from its next update on. */
		pr->flags = (pr->flags & ~(PREC_FOUND | BOOK_UNVERIFIED)) | PREC_LISTED;
	}
	return 0;
}

/* The status channel reports the trading engine's state; only trouble is relayed. */
static int read_system(struct norm *n, const struct js_doc *d, int o)
{
	int data = js_get(d, o, "data");
	if (js_type(d, data) != JS_ARRAY)
		return 0;
	for (uint32_t i = 0, k = (uint32_t)data + 1; i < d->tok[data].size; i++, k = d->tok[k].next) {
		int sys = js_get(d, (int)k, "system");
		if (js_type(d, sys) != JS_STRING || js_streq(d, sys, "online"))
			continue;
		norm_head(n, "status", NULL, -1);
		jw_key(n->w, "event");
		jw_lit(n->w, "\"error\"");
		jw_key(n->w, "detail");
		jw_lit(n->w, "\"system ");
		jw_raw(n->w, js_ptr(d, sys), js_len(d, sys));
		jw_char(n->w, '"');
		norm_end(n);
		n->lines_status++;
	}
	return 0;
}

/* Trades. The snapshot that starts a subscription repeats the last 50 trades: on the first
 * subscription they are history and only mark where the stream stands; after a reconnect
 * the ones newer than the last trade relayed are exactly what the gap missed. trade_id
 * counts up per pair. */
static int read_trades(struct norm *n, const struct js_doc *d, int data, int snapshot)
{
	for (uint32_t i = 0, k = (uint32_t)data + 1; i < d->tok[data].size; i++, k = d->tok[k].next) {
		int o = (int)k;
		char sym[SYM_MAX];
		int64_t ts, id;
		if (js_type(d, o) != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "trade is not an object");
		int tid = js_get(d, o, "trade_id"), side = js_get(d, o, "side");
		if (symbol_of(n, d, js_get(d, o, "symbol"), sym) ||
		    norm_ts(n, d, js_get(d, o, "timestamp"), &ts))
			return -1;
		if (js_int64(d, tid, &id))
			return norm_fail(n, NR_FIELD, "trade_id: missing or not an integer");
		struct pair *pr = pair_of(n, sym);
		if (pr && snapshot && (pr->last_trade <= 0 || id <= pr->last_trade))
			continue;
		if (pr && !snapshot)
			pr->last_trade = id;
		const char *taker;
		if (norm_side(n, d, side, "side", "buy", "sell", &taker))
			return -1;
		norm_head(n, "trade", sym, ts);
		if (norm_id(n, "id", d, tid) || norm_price_amount(n, d, js_get(d, o, "price"), js_get(d, o, "qty")))
			return -1;
		jw_key(n->w, "side");
		jw_str(n->w, taker, strlen(taker));
		norm_end_trade(n);
	}
	/* Where a snapshot leaves each pair's stream, once all of it was judged by where the
	 * stream stood before. */
	for (uint32_t i = 0, k = (uint32_t)data + 1; snapshot && i < d->tok[data].size;
	     i++, k = d->tok[k].next) {
		char sym[SYM_MAX];
		int64_t id;
		int s = js_get(d, (int)k, "symbol");
		struct pair *pr;
		if (!js_int64(d, js_get(d, (int)k, "trade_id"), &id) && js_type(d, s) == JS_STRING &&
		    sym_split_sep(js_ptr(d, s), js_len(d, s), '/', 0, sym) >= 0 && (pr = pair_of(n, sym)) &&
		    id > pr->last_trade)
			pr->last_trade = id;
	}
	return 0;
}

/* The 24 h open is not sent, but "change" is last - open in the quote currency. */
static int write_open(struct norm *n, const struct js_doc *d, int last, int change)
{
	const char *ls, *cs;
	size_t ln, cn;
	char l[DEC_MAX], c[DEC_MAX], open[DEC_MAX];
	if (change < 0 || js_type(d, change) == JS_NULL || last < 0 || js_type(d, last) == JS_NULL)
		return 0;
	int ll, cl;
	if (js_numtext(d, last, &ls, &ln) || js_numtext(d, change, &cs, &cn) ||
	    (ll = dec_canon(ls, ln, l)) < 0 || (cl = dec_canon(cs, cn, c)) < 0)
		return norm_fail(n, NR_NUMBER, "change: not a decimal");
	int k = dec_sub(l, (size_t)ll, c, (size_t)cl, open);
	if (k < 0)
		return norm_fail(n, NR_NUMBER, "change: absurd");
	jw_key(n->w, "open");
	jw_raw(n->w, open, (size_t)k);
	return 0;
}

/* Tickers: best bid/ask, last, 24 h high, low and base volume; "timestamp" where sent. */
static int read_tickers(struct norm *n, const struct js_doc *d, int data)
{
	for (uint32_t i = 0, k = (uint32_t)data + 1; i < d->tok[data].size; i++, k = d->tok[k].next) {
		int o = (int)k;
		char sym[SYM_MAX];
		int64_t ts;
		if (js_type(d, o) != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "ticker is not an object");
		if (symbol_of(n, d, js_get(d, o, "symbol"), sym) ||
		    norm_ts(n, d, js_get(d, o, "timestamp"), &ts))
			return -1;
		int last = js_get(d, o, "last");
		norm_head(n, "ticker", sym, ts);
		if (norm_dec_opt(n, "bid", d, js_get(d, o, "bid")) ||
		    norm_dec_opt(n, "bid_size", d, js_get(d, o, "bid_qty")) ||
		    norm_dec_opt(n, "ask", d, js_get(d, o, "ask")) ||
		    norm_dec_opt(n, "ask_size", d, js_get(d, o, "ask_qty")) ||
		    norm_dec_opt(n, "last", d, last) || write_open(n, d, last, js_get(d, o, "change")) ||
		    norm_dec_opt(n, "high", d, js_get(d, o, "high")) ||
		    norm_dec_opt(n, "low", d, js_get(d, o, "low")) ||
		    norm_dec_opt(n, "volume", d, js_get(d, o, "volume")))
			return -1;
		norm_end(n);
		n->lines_ticker++;
	}
	return 0;
}

/* ---- books ---- */

/* Checks that SIDE (token, or -1 when absent) can be a list of levels. */
static int check_side(struct norm *n, const struct js_doc *d, int side, const char *name)
{
	if (side < 0)
		return 0;
	if (js_type(d, side) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "%s: not an array", name);
	if (d->tok[side].size > 2 * KRAKEN_MAX_LEVELS)
		return norm_fail(n, NR_BOOK, "%s: %u levels", name, d->tok[side].size);
	return 0;
}

/* Applies SIDE's {price, qty} levels in order. A failure leaves the book half changed:
 * the caller drops it. */
static int apply_side(struct norm *n, struct book *b, const struct js_doc *d, int side,
		      enum book_side s)
{
	const char *name = s == BOOK_BID ? "bids" : "asks";
	if (side < 0)
		return 0;
	for (uint32_t i = 0, k = (uint32_t)side + 1; i < d->tok[side].size; i++, k = d->tok[k].next) {
		const char *p, *q;
		size_t pn, qn;
		if (d->tok[k].type != JS_OBJECT || js_numtext(d, js_get(d, (int)k, "price"), &p, &pn) ||
		    js_numtext(d, js_get(d, (int)k, "qty"), &q, &qn))
			return norm_fail(n, NR_FIELD, "%s: level without price or qty", name);
		if (book_set(b, s, p, pn, q, qn))
			return norm_fail(n, NR_NUMBER, "%s: bad level %.*s / %.*s", name, (int)pn & 31, p,
					 (int)qn & 31, q);
	}
	return 0;
}

/* The checksum into *CK, or -1 when none was sent. */
static int read_checksum(struct norm *n, const struct js_doc *d, int o, int64_t *ck)
{
	int t = js_get(d, o, "checksum");
	*ck = -1;
	if (t < 0 || js_type(d, t) == JS_NULL)
		return 0;
	if (js_int64(d, t, ck) || *ck < 0 || *ck > (int64_t)UINT32_MAX) {
		*ck = -1;
		return norm_fail(n, NR_FIELD, "checksum: not a 32-bit unsigned integer");
	}
	return 0;
}

static uint32_t side_len(const struct js_doc *d, int side)
{
	return side < 0 ? 0 : d->tok[side].size;
}

/* Kraken offers these depths; a snapshot holds min(depth, levels in the book). */
static int64_t guess_depth(uint32_t levels)
{
	static const int64_t depths[] = { 10, 25, 100, 500, 1000 };
	for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++)
		if (levels <= depths[i])
			return depths[i];
	return levels;
}

static int decimals(const char *canon)
{
	const char *dot = strchr(canon, '.');
	return dot ? (int)strlen(dot + 1) : 0;
}

/* The precisions that reproduce checksum WANT over B's best ten levels: the search starts
 * at the decimals the levels show, since the true precisions cannot be fewer. A wrong pair
 * matching by chance is a one in ten million event. */
static int find_precisions(const struct book *b, uint32_t want, int *pdp, int *qdp)
{
	int pmin = 0, qmin = 0, levels = 0;
	for (int s = 0; s < 2; s++)
		for (uint32_t i = 0; i < BOOK_CRC_KRAKEN_LEVELS; i++) {
			const struct book_level *l = book_level(b, (enum book_side)s, i);
			if (!l)
				break;
			levels++;
			if (decimals(l->px) > pmin)
				pmin = decimals(l->px);
			if (decimals(l->qty) > qmin)
				qmin = decimals(l->qty);
		}
	if (!levels)
		return -1; /* an empty book's checksum holds for any precision */
	for (int p = pmin; p <= KRAKEN_MAX_DP; p++)
		for (int q = qmin; q <= KRAKEN_MAX_DP; q++)
			if (book_crc_kraken(b, p, q) == want) {
				*pdp = p;
				*qdp = q;
				return 0;
			}
	return -1;
}

/* Drops a book that cannot be trusted: clients never see it again before a snapshot. */
static void drop_book(struct norm *n, struct pair *pr)
{
	book_clear(pr->book);
	pr->synced = 0;
	pr->asked_at = n->local_ts > 0 ? n->local_ts : 1;
}

/* Verifies B against checksum CK. Returns 0 when it holds (or cannot be checked yet), -1
 * after the book was dropped and a resync asked for. */
static int verify(struct norm *n, struct pair *pr, const char *sym, uint32_t ck, int snapshot)
{
	const struct book *b = pr->book;
	int64_t *flags = &pr->flags;
	int pdp, qdp;
	char why[96];
	if (snapshot)
		*flags &= ~BOOK_UNVERIFIED;
	if (*flags & BOOK_UNVERIFIED)
		return 0;
	if ((*flags & (PREC_LISTED | PREC_FOUND)) &&
	    book_crc_kraken(b, (int)pr->px_dp, (int)pr->qty_dp) == ck)
		return 0;
	/* Precisions found earlier are only a deduction: a new snapshot may correct them. */
	if (!(*flags & PREC_LISTED) && (snapshot || !(*flags & PREC_FOUND))) {
		if (!find_precisions(b, ck, &pdp, &qdp)) {
			pr->px_dp = pdp;
			pr->qty_dp = qdp;
			*flags |= PREC_FOUND;
			return 0;
		}
		if (!(*flags & PREC_FOUND)) {
			if (book_depth(b, BOOK_BID) + book_depth(b, BOOK_ASK) == 0)
				return 0;
			*flags |= BOOK_UNVERIFIED;
			if (!(*flags & PREC_NOTICE)) {
				*flags |= PREC_NOTICE;
				norm_status(n, "error", sym,
					    "book checksum not verified: price and qty precisions unknown");
			}
			return 0;
		}
	}
	snprintf(why, sizeof why, "checksum mismatch: computed %u, expected %u",
		 book_crc_kraken(b, (int)pr->px_dp, (int)pr->qty_dp), ck);
	drop_book(n, pr);
	norm_checksum_failed(n, sym, why);
	return -1;
}

static int emit_book(struct norm *n, const struct book *b, const char *sym, int64_t ts);

/* One book message for one symbol. A snapshot replaces the book; an update applies its
 * levels in order (qty 0 deletes), then each side is cut to the subscribed depth (levels
 * pushed out are not deleted explicitly), then the checksum is verified. */
static int read_book(struct norm *n, const struct js_doc *d, int o, int snapshot)
{
	char sym[SYM_MAX], why[200];
	int64_t ts, ck64 = -1;
	if (js_type(d, o) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "book is not an object");
	if (symbol_of(n, d, js_get(d, o, "symbol"), sym))
		return -1;
	struct pair *pr = pair_of(n, sym);
	if (!pr || (!pr->book && !(pr->book = book_new(KRAKEN_DEPTH))))
		return norm_fail(n, NR_BOOK, "out of memory");
	struct book *b = pr->book;
	if (!snapshot && !pr->synced) {
		/* Updates wait for a snapshot. One that comes with none on the way (convert
		 * restarted under a running ingest) asks for it, again if it never comes. */
		if (!pr->asked_at || n->local_ts - pr->asked_at >= RESYNC_RETRY_US ||
		    n->local_ts < pr->asked_at) {
			pr->asked_at = n->local_ts > 0 ? n->local_ts : 1;
			norm_resync(n, sym, "book update without a snapshot");
		}
		return 0;
	}
	int bids = js_get(d, o, "bids"), asks = js_get(d, o, "asks");
	uint32_t nb = side_len(d, bids), na = side_len(d, asks);
	if (check_side(n, d, bids, "bids") || check_side(n, d, asks, "asks") ||
	    norm_ts(n, d, js_get(d, o, "timestamp"), &ts) || read_checksum(n, d, o, &ck64) ||
	    (snapshot && (nb > KRAKEN_MAX_LEVELS || na > KRAKEN_MAX_LEVELS) &&
	     norm_fail(n, NR_BOOK, "snapshot deeper than %d levels", KRAKEN_MAX_LEVELS)))
		goto unreadable;
	if (snapshot) {
		book_clear(b);
		pr->depth = pr->ack_depth ? pr->ack_depth : guess_depth(nb > na ? nb : na);
		if (pr->depth < nb || pr->depth < na)
			pr->depth = nb > na ? nb : na;
		b->max_levels = (uint32_t)pr->depth;
	} else {
		/* Room for every level of the message before the cut to the depth. */
		b->max_levels = (uint32_t)pr->depth + (nb > na ? nb : na);
	}
	if (apply_side(n, b, d, bids, BOOK_BID) || apply_side(n, b, d, asks, BOOK_ASK))
		goto unreadable;
	book_truncate(b, (uint32_t)pr->depth);
	if (ck64 >= 0 && verify(n, pr, sym, (uint32_t)ck64, snapshot))
		return 0;
	if (book_crossed(b)) {
		drop_book(n, pr);
		norm_resync(n, sym, "crossed book");
		return 0;
	}
	pr->synced = 1;
	pr->asked_at = 0;
	return emit_book(n, b, sym, ts);

unreadable:
	if (snapshot) {
		/* The next update asks for another snapshot (norm_fail's line is not written). */
		book_clear(b);
		pr->synced = 0;
		pr->asked_at = 0;
		return -1;
	}
	/* An update we cannot read is one we missed. */
	snprintf(why, sizeof why, "unreadable update: %s", n->why);
	drop_book(n, pr);
	norm_resync(n, sym, why);
	return 0;
}

/* The book line: the best book_depth levels of each side, copied as they are (a kept book
 * holds canonical, strictly ordered, non-zero levels), as norm_book_from does. It differs in
 * two ways: the caller has checked the book for crossing already, and each side's levels are
 * gathered in one buffer and appended at once rather than level by level. Each Kraken book
 * message ends in a whole book line, and one append per side saves about 3% of convert's
 * instructions on Kraken's traffic (bench/gen-kraken). */
static int emit_book(struct norm *n, const struct book *b, const char *sym, int64_t ts)
{
	char buf[4096];
	norm_book_begin(n, sym, ts);
	for (int s = 0; s < 2; s++) {
		size_t o = 0;
		if (s)
			norm_book_asks(n);
		for (uint32_t i = 0; i < (uint32_t)n->book_depth; i++) {
			const struct book_level *l = book_level(b, (enum book_side)s, i);
			if (!l)
				break;
			if (o + 2 * BOOK_TEXT + 4 > sizeof buf) {
				jw_raw(n->w, buf, o);
				o = 0;
			}
			if (i)
				buf[o++] = ',';
			buf[o++] = '[';
			for (const char *c = l->px; *c; c++)
				buf[o++] = *c;
			buf[o++] = ',';
			for (const char *c = l->qty; *c; c++)
				buf[o++] = *c;
			buf[o++] = ']';
		}
		jw_raw(n->w, buf, o);
	}
	return norm_book_end(n);
}

static int kraken_normalize(struct norm *n, const struct js_doc *d, int data)
{
	if (js_type(d, data) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "frame is not an object");
	int ch = js_get(d, data, "channel");
	if (js_type(d, ch) == JS_STRING) {
		int type = js_get(d, data, "type"), arr = js_get(d, data, "data");
		int snapshot = js_streq(d, type, "snapshot");
		if (js_streq(d, ch, "heartbeat"))
			return 0;
		if (js_streq(d, ch, "status"))
			return read_system(n, d, data);
		if (js_streq(d, ch, "instrument"))
			return read_instrument(n, d, data);
		if (!snapshot && !js_streq(d, type, "update"))
			return norm_fail(n, NR_FIELD, "type: neither snapshot nor update");
		if (js_type(d, arr) != JS_ARRAY)
			return norm_fail(n, NR_FIELD, "data: missing or not an array");
		if (js_streq(d, ch, "trade"))
			return read_trades(n, d, arr, snapshot);
		if (js_streq(d, ch, "ticker"))
			return read_tickers(n, d, arr);
		if (js_streq(d, ch, "book")) {
			for (uint32_t i = 0, k = (uint32_t)arr + 1; i < d->tok[arr].size; i++, k = d->tok[k].next)
				if (read_book(n, d, (int)k, snapshot))
					return -1;
			return 0;
		}
		return norm_fail(n, NR_SHAPE, "unknown channel");
	}
	int method = js_get(d, data, "method");
	if (js_type(d, method) == JS_STRING)
		return read_reply(n, d, data, method);
	if (js_get(d, data, "error") >= 0 || js_get(d, data, "Error") >= 0) {
		status_error(n, d, data);
		return 0;
	}
	return norm_fail(n, NR_SHAPE, "unknown message");
}

const struct xch xch_kraken = {
	.name = "kraken",
	.default_url = "wss://ws.kraken.com/v2",
	.default_symbols = "BTC-USD,ETH-USD,SOL-USD",
	.proto = {
		.url = kraken_url,
		.subscribe = kraken_subscribe,
		.resync = kraken_resync,
		.classify = kraken_classify,
		/* The server sends a heartbeat every second when no data flows, so a silent
		 * connection is a dead one; our ping makes sure something answers even so. */
		.keepalive_ms = 10000,
		.keepalive_text = "{\"method\":\"ping\"}",
		.idle_timeout_ms = 15000,
		/* Kraken's message rate limit is load dependent; a short pause between the
		 * few subscribe requests and between a resync's two messages stays clear of it. */
		.sub_gap_ms = 100,
	},
	.normalize = kraken_normalize,
};
