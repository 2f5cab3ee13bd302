/* OKX v5 public WebSocket (see shared/exchanges/okx.md and okx-derivatives.md): spot and
 * derivatives on one connection. Spot instIds are the relay's symbols as they are
 * ("BTC-USDT"); perpetual swaps BTC-USDT-SWAP are BTC-USDT-PERP (BTC-USD-SWAP, coin-margined,
 * BTC-USD-PERP), dated futures BTC-USDT-250328 are BTC-USDT-20250328.
 *
 * Trades, tickers and the 400-level `books` channel (a snapshot, then updates chained by
 * seqId/prevSeqId) serve both; derivatives add mark-price, funding-rate, open-interest,
 * index-tickers (keyed by the underlying), liquidation-orders (per instrument type, left
 * out for instruments not subscribed) and the instruments channel. Derivative sizes count
 * contracts: base amount = contracts x ctVal x ctMult, learnt from the instrument metadata
 * (REST, fetched by ingest before it subscribes, and the instruments channel after), exact
 * in decimal. Until an instrument's contract size is known its amounts are left out,
 * counted, with one status line; coin-margined (inverse) contracts count USD, which has no
 * exact base amount, and their amounts are left out the same way. The reader also knows the
 * channels a recording made with other subscriptions may hold: trades-all, books5, bbo-tbt
 * and the tick-by-tick books. */
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
/* The metadata's stream name (ingest's envelope of the REST instruments answer). */
#define META_TAG "instruments"
#define REST_DEFAULT "https://www.okx.com"
#define WS_DEFAULT "wss://ws.okx.com"

/* What a relay symbol is on OKX. */
enum inst_kind { SPOT, SWAP, FUTURES };

/* What the metadata says of a derivative's contracts. */
enum contract { CT_UNKNOWN, CT_LINEAR, CT_INVERSE, CT_OTHER };

/* What is kept per instrument (norm_state). */
struct inst {
	struct book *book;
	int synced;       /* a snapshot was applied and no fault seen since */
	int64_t seq;      /* seqId of the last message applied */
	int asked;        /* a resync was asked for since the book was last synced */
	int64_t asked_at; /* local_ts of that request */
	/* Derivatives: */
	enum contract ct;   /* from the metadata */
	char mult[BOOK_TEXT]; /* ctVal x ctMult, canonical, when CT_LINEAR */
	int told;           /* the status line saying amounts are left out was written */
	int dead;           /* the metadata says expired or suspended: said once */
	int subscribed;     /* an ack or data named it: liquidations of it are relayed */
};

static void inst_release(void *p)
{
	book_free(((struct inst *)p)->book);
}

/* What is kept for the feed (norm_stream_state): the derivatives subscribed, for the
 * channels keyed by underlying (index-tickers). */
struct feed {
	int n;
	char sym[XCH_MAX_SYMBOLS][SYM_MAX];
};

/* Channels of every instrument, and of derivatives only. */
static const struct {
	int channel, derivatives_only, perp_only;
	const char *name;
} channels[] = {
	{ XCH_TRADE, 0, 0, "trades" },
	{ XCH_TICKER, 0, 0, "tickers" },
	{ XCH_BOOK, 0, 0, "books" },
	{ XCH_DERIVATIVE, 1, 0, "mark-price" },
	{ XCH_DERIVATIVE, 1, 1, "funding-rate" },
	{ XCH_DERIVATIVE, 1, 0, "open-interest" },
};
#define NCHANNELS (int)(sizeof channels / sizeof channels[0])

/* OKX's instId for a relay symbol, and what it is. */
static int inst_id(const char *sym, char *out, size_t n, enum inst_kind *kind)
{
	char base[SYM_MAX], quote[SYM_MAX], expiry[9], yymmdd[8];
	int k, c = sym_parse_contract(sym, base, quote, expiry);
	if (c == SYM_SPOT)
		k = snprintf(out, n, "%s-%s", base, quote);
	else if (c == SYM_PERP)
		k = snprintf(out, n, "%s-%s-SWAP", base, quote);
	else if (c == SYM_DATED && !sym_date_to_yymmdd(expiry, yymmdd))
		k = snprintf(out, n, "%s-%s-%s", base, quote, yymmdd);
	else
		return -1;
	if (kind)
		*kind = c == SYM_SPOT ? SPOT : c == SYM_PERP ? SWAP : FUTURES;
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
		if (inst_id(sub->sym[i], id, sizeof id, NULL) < 0) {
			snprintf(err, errlen, "bad symbol %s", sub->sym[i]);
			return -1;
		}
	}
	return 0;
}

/* The underlying of a derivative's relay symbol ("BTC-USDT" for BTC-USDT-PERP): its
 * index's instId. */
static int underlying(const char *sym, char *out)
{
	char base[SYM_MAX], quote[SYM_MAX], expiry[9];
	if (sym_parse_contract(sym, base, quote, expiry) <= SYM_SPOT)
		return -1;
	return sym_join(base, strlen(base), quote, strlen(quote), out) < 0 ? -1 : 0;
}

/* Packs subscribe arguments into message WANT: {"op":"subscribe","args":[...]}, as many per
 * request as the 64 KB limit allows. */
struct packer {
	char *out;
	size_t len, limit;
	int want, msg, args, stop;
};

static const char pack_head[] = "{\"op\":\"subscribe\",\"args\":[", pack_tail[] = "]}";

/* Adds one argument (TEXT, AL bytes); sets p->stop once message WANT is complete. */
static void pack(struct packer *p, const char *text, size_t al)
{
	const size_t hl = sizeof pack_head - 1, tl = sizeof pack_tail - 1;
	if (p->stop)
		return;
	if (p->args && p->len + 1 + al + tl > p->limit) {
		if (p->msg == p->want) {
			p->stop = 1;
			return;
		}
		p->msg++;
		p->len = hl;
		p->args = 0;
	}
	if (p->args) {
		if (p->msg == p->want)
			p->out[p->len] = ',';
		p->len++;
	}
	if (p->msg == p->want)
		memcpy(p->out + p->len, text, al);
	p->len += al;
	p->args++;
}

/* Every argument of the subscription, in order, to pack(): each symbol's channels, then per
 * derivative underlying its index, then per instrument type present its liquidations and
 * the instruments channel. Returns 0, or -1 when a symbol cannot be named. One pass: the
 * underlyings seen are kept, so a long list costs no more than its length squared in
 * string comparisons. */
static int each_arg(const struct xch_sub *sub, struct packer *p)
{
	char seen[XCH_MAX_SYMBOLS][SYM_MAX], id[SYM_MAX], u[SYM_MAX], arg[ARG_MAX];
	enum inst_kind kind;
	int nseen = 0, types = 0, w;
	for (int s = 0; s < sub->nsym; s++) {
		if (inst_id(sub->sym[s], id, sizeof id, &kind) < 0)
			return -1;
		types |= kind == SWAP ? 1 : kind == FUTURES ? 2 : 0;
		for (int c = 0; c < NCHANNELS; c++) {
			if (!(sub->channels & channels[c].channel) || (channels[c].derivatives_only && kind == SPOT) ||
			    (channels[c].perp_only && kind != SWAP))
				continue;
			w = snprintf(arg, sizeof arg, "{\"channel\":\"%s\",\"instId\":\"%s\"}", channels[c].name, id);
			if (w < 0 || (size_t)w >= sizeof arg)
				return -1;
			pack(p, arg, (size_t)w);
		}
	}
	for (int s = 0; s < sub->nsym && (sub->channels & XCH_DERIVATIVE); s++) {
		int dup = 0;
		if (underlying(sub->sym[s], u) < 0)
			continue;
		for (int t = 0; t < nseen && !dup; t++)
			dup = !strcmp(seen[t], u);
		if (dup)
			continue;
		strcpy(seen[nseen++], u);
		w = snprintf(arg, sizeof arg, "{\"channel\":\"index-tickers\",\"instId\":\"%s\"}", u);
		if (w < 0 || (size_t)w >= sizeof arg)
			return -1;
		pack(p, arg, (size_t)w);
	}
	for (int t = 0; t < 2; t++) {
		if (!(types & (1 << t)))
			continue;
		for (int c = 0; c < 2; c++) {
			if (c == 0 && !(sub->channels & XCH_LIQUIDATION))
				continue;
			w = snprintf(arg, sizeof arg, "{\"channel\":\"%s\",\"instType\":\"%s\"}",
				     c ? "instruments" : "liquidation-orders", t ? "FUTURES" : "SWAP");
			pack(p, arg, (size_t)w);
		}
	}
	return 0;
}

/* Message I of the subscription (480 subscribe requests per hour per connection are
 * allowed, so fewer is better). */
static int okx_subscribe(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out, size_t n)
{
	const size_t hl = sizeof pack_head - 1, tl = sizeof pack_tail - 1;
	if (n < hl + tl + ARG_MAX)
		return -1;
	struct packer p = { .out = out, .len = hl, .limit = n - 1 < REQUEST_MAX ? n - 1 : REQUEST_MAX, .want = i };
	memcpy(out, pack_head, hl); /* every message starts so; the one wanted is built behind it */
	if (each_arg(sub, &p))
		return -1;
	if (p.msg != i || !p.args)
		return 0;
	memcpy(out + p.len, pack_tail, tl + 1);
	return (int)(p.len + tl);
}

/* A fresh `books` snapshot comes only with a new subscription: unsubscribe, then subscribe. */
static int okx_resync(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i,
		      char *out, size_t n)
{
	char id[SYM_MAX];
	if (i > 1)
		return 0;
	if (inst_id(symbol, id, sizeof id, NULL) < 0)
		return -1;
	int k = snprintf(out, n, "{\"op\":\"%s\",\"args\":[{\"channel\":\"books\",\"instId\":\"%s\"}]}",
			 i == 0 ? "unsubscribe" : "subscribe", id);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

/* Metadata: request I is the instruments answer for the I-th derivative symbol, from
 * www.okx.com for the public endpoint, else from the endpoint's own host (a test's fake
 * exchange) over http(s) to match. */
static int okx_meta(const struct xch_sub *sub, const char *ws_base, int i, char *url, size_t urln,
		    char *body, size_t bodyn, char *tag, size_t tagn)
{
	char id[SYM_MAX], host[512];
	enum inst_kind kind;
	int s;
	for (s = 0; s < sub->nsym; s++) {
		if (inst_id(sub->sym[s], id, sizeof id, &kind) < 0)
			return -1;
		if (kind != SPOT && i-- == 0)
			break;
	}
	if (s == sub->nsym)
		return 0;
	if (xch_rest_host(ws_base, WS_DEFAULT, REST_DEFAULT, host, sizeof host))
		return -1;
	int k = snprintf(url, urln, "%s/api/v5/public/instruments?instType=%s&instId=%s", host,
			 kind == SWAP ? "SWAP" : "FUTURES", id);
	if (k < 0 || (size_t)k >= urln || bodyn < 1 || snprintf(tag, tagn, META_TAG) >= (int)tagn)
		return -1;
	body[0] = 0;
	return 1;
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

/* A relay symbol from an instId, and what it is: "BTC-USDT" spot, "BTC-USDT-SWAP" a
 * perpetual, "BTC-USDT-250328" a future (options and spreads are none of these). */
static int inst_text(const char *s, size_t len, char *sym, enum inst_kind *kind)
{
	char date[9];
	const char *d1 = memchr(s, '-', len);
	if (!d1)
		return -1;
	size_t rest = len - (size_t)(d1 + 1 - s);
	const char *d2 = memchr(d1 + 1, '-', rest);
	if (!d2) {
		*kind = SPOT;
		return sym_join(s, (size_t)(d1 - s), d1 + 1, rest, sym);
	}
	const char *tail = d2 + 1;
	size_t tl = len - (size_t)(tail - s);
	if (tl == 4 && !memcmp(tail, "SWAP", 4))
		*kind = SWAP;
	else if (!sym_date_yymmdd(tail, tl, date))
		*kind = FUTURES;
	else
		return -1;
	return sym_join_contract(s, (size_t)(d1 - s), d1 + 1, (size_t)(d2 - d1 - 1),
				 *kind == SWAP ? NULL : date, sym);
}

static int symbol_of(struct norm *n, const struct js_doc *d, int t, char *sym, enum inst_kind *kind)
{
	if (js_type(d, t) != JS_STRING)
		return norm_fail(n, NR_FIELD, "instId: missing or not a string");
	if (inst_text(js_ptr(d, t), js_len(d, t), sym, kind) < 0)
		return norm_fail(n, NR_SYMBOL, "cannot read instId %.*s", (int)(js_len(d, t) < 32 ? js_len(d, t) : 32),
				 js_ptr(d, t));
	return 0;
}

/* The instId of a data element, or of the channel argument when the element has none. */
static int symbol_of2(struct norm *n, const struct js_doc *d, int o, int arg, char *sym, enum inst_kind *kind)
{
	int t = js_get(d, o, "instId");
	return symbol_of(n, d, t >= 0 ? t : js_get(d, arg, "instId"), sym, kind);
}

static struct inst *inst_of(struct norm *n, const char *sym)
{
	return norm_state(n, sym, sizeof(struct inst), inst_release);
}

/* Derivative SYM is subscribed: an ack or its own channel's data named it. */
static struct inst *seen(struct norm *n, const char *sym)
{
	struct inst *in = inst_of(n, sym);
	if (!in)
		return NULL;
	if (!in->subscribed) {
		struct feed *f = norm_stream_state(n, sizeof *f, NULL);
		in->subscribed = 1;
		if (f && f->n < XCH_MAX_SYMBOLS)
			strcpy(f->sym[f->n++], sym);
	}
	return in;
}

/* The contract size to turn SYM's amounts into base units: *MULT NULL for spot (amounts as
 * they are), else ctVal x ctMult. Returns 0, 1 when the amounts cannot be given (size not
 * known yet, coin-margined contracts: counted, and said once in a status line), -1 after
 * norm_fail. */
static int contract_size(struct norm *n, const char *sym, enum inst_kind kind, const char **mult)
{
	*mult = NULL;
	if (kind == SPOT)
		return 0;
	struct inst *in = seen(n, sym);
	if (!in)
		return norm_fail(n, NR_SYMBOL, "no memory for %s", sym);
	if (in->ct == CT_LINEAR) {
		*mult = in->mult;
		return 0;
	}
	norm_contract_skip(n, sym, &in->told,
			   in->ct == CT_INVERSE ? "coin-margined contracts count USD, which has no exact base amount: amounts left out"
			   : in->ct == CT_OTHER ? "contracts not counted in the base currency: amounts left out"
						: "contract size not known (no instrument metadata yet): amounts left out");
	return 1;
}

/* Optional decimal: OKX writes "" where it has no value (no bid yet, say). */
static int dec_opt(struct norm *n, const char *key, const struct js_doc *d, int t)
{
	return norm_dec_sent(n, key, d, t);
}

static int read_trades(struct norm *n, const struct js_doc *d, int arg, int data)
{
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next) {
		char sym[SYM_MAX];
		int64_t ts;
		enum inst_kind kind;
		const char *mult;
		if (d->tok[o].type != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "trade is not an object");
		if (symbol_of2(n, d, (int)o, arg, sym, &kind) || norm_ts(n, d, js_get(d, (int)o, "ts"), &ts))
			return -1;
		int sd = js_get(d, (int)o, "side");
		const char *side = "unknown"; /* OKX may send "" */
		if (!js_streq(d, sd, "") && norm_side(n, d, sd, "side", "buy", "sell", &side))
			return -1;
		int c = contract_size(n, sym, kind, &mult);
		if (c < 0)
			return -1;
		if (c)
			continue;
		norm_head(n, "trade", sym, ts);
		if (norm_id(n, "id", d, js_get(d, (int)o, "tradeId")) ||
		    (mult ? norm_price_amount_scaled(n, d, js_get(d, (int)o, "px"), js_get(d, (int)o, "sz"), mult, 0)
			  : norm_price_amount(n, d, js_get(d, (int)o, "px"), js_get(d, (int)o, "sz"))))
			return -1;
		jw_key(n->w, "side");
		jw_str(n->w, side, strlen(side));
		norm_end_trade(n);
	}
	return 0;
}

/* Tickers. Spot: vol24h is in the base currency and volCcy24h in the quote currency.
 * Derivatives: vol24h counts contracts and volCcy24h is in the base currency, the sizes
 * count contracts, and no quote volume is sent. */
static int read_tickers(struct norm *n, const struct js_doc *d, int arg, int data)
{
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next) {
		char sym[SYM_MAX];
		int64_t ts;
		int t = (int)o;
		enum inst_kind kind;
		const char *mult;
		if (d->tok[o].type != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "ticker is not an object");
		if (symbol_of2(n, d, t, arg, sym, &kind) || norm_ts(n, d, js_get(d, t, "ts"), &ts))
			return -1;
		int c = contract_size(n, sym, kind, &mult);
		if (c < 0)
			return -1;
		norm_head(n, "ticker", sym, ts);
		if (dec_opt(n, "bid", d, js_get(d, t, "bidPx")) ||
		    (!c && norm_dec_scaled(n, "bid_size", d, js_get(d, t, "bidSz"), mult)) ||
		    dec_opt(n, "ask", d, js_get(d, t, "askPx")) ||
		    (!c && norm_dec_scaled(n, "ask_size", d, js_get(d, t, "askSz"), mult)) ||
		    dec_opt(n, "last", d, js_get(d, t, "last")) ||
		    dec_opt(n, "open", d, js_get(d, t, "open24h")) ||
		    dec_opt(n, "high", d, js_get(d, t, "high24h")) ||
		    dec_opt(n, "low", d, js_get(d, t, "low24h")))
			return -1;
		if (kind == SPOT ? dec_opt(n, "volume", d, js_get(d, t, "vol24h")) ||
					   dec_opt(n, "quote_volume", d, js_get(d, t, "volCcy24h"))
				 : dec_opt(n, "volume", d, js_get(d, t, "volCcy24h")))
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
		enum inst_kind kind;
		const char *mult;
		if (symbol_of2(n, d, t, arg, sym, &kind) || norm_ts(n, d, js_get(d, t, "ts"), &ts))
			return -1;
		int c = contract_size(n, sym, kind, &mult);
		if (c < 0)
			return -1;
		norm_head(n, "ticker", sym, ts);
		for (int s = 0; s < 2; s++) {
			int lv = js_at(d, s ? asks : bids, 0);
			if (lv < 0)
				continue; /* that side is empty */
			if (js_type(d, lv) != JS_ARRAY || d->tok[lv].size < 2)
				return norm_fail(n, NR_FIELD, "book level is not [price, size, ...]");
			if (norm_dec(n, s ? "ask" : "bid", d, lv + 1))
				return -1;
			if (!c && (mult ? norm_dec_scaled(n, s ? "ask_size" : "bid_size", d, (int)d->tok[lv + 1].next, mult)
				       : norm_dec(n, s ? "ask_size" : "bid_size", d, (int)d->tok[lv + 1].next)))
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
		enum inst_kind kind;
		const char *mult;
		if (symbol_of2(n, d, t, arg, sym, &kind) || norm_ts(n, d, js_get(d, t, "ts"), &ts))
			return -1;
		int c = contract_size(n, sym, kind, &mult);
		if (c)
			return c < 0 ? -1 : 0;
		norm_book_begin(n, sym, ts);
		for (int s = 0; s < 2; s++) {
			if (s)
				norm_book_asks(n);
			for (uint32_t j = 0, k = (uint32_t)side[s] + 1; j < d->tok[side[s]].size;
			     j++, k = d->tok[k].next) {
				const char *p, *q;
				char base[DEC_MAX];
				size_t pn, qn;
				if (level_text(d, k, &p, &pn, &q, &qn))
					return norm_fail(n, NR_FIELD, "book level is not [price, size, ...]");
				if (mult) {
					int bl = norm_scale(q, qn, mult, base);
					if (bl < 0)
						return norm_fail(n, NR_NUMBER, "book level is not a decimal");
					q = base;
					qn = (size_t)bl;
				}
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
		       const char *sym, enum inst_kind kind, int snapshot, uint32_t depth)
{
	struct inst *in = inst_of(n, sym);
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
	/* A derivative's book is kept in contracts (as the checksum is computed) and sent in
	 * base units; while the contract size is unknown the book is kept, not sent. */
	const char *mult;
	int c = contract_size(n, sym, kind, &mult);
	if (c)
		return c < 0 ? -1 : 0;
	return norm_book_from_scaled(n, b, sym, it->ts, mult);
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
	enum inst_kind kind;
	int snapshot;
	if (js_streq(d, action, "snapshot"))
		snapshot = 1;
	else if (js_streq(d, action, "update"))
		snapshot = 0;
	else
		return norm_fail(n, NR_FIELD, "action: neither snapshot nor update");
	if (symbol_of(n, d, js_get(d, arg, "instId"), sym, &kind))
		return -1;
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next)
		if (books_fields(n, d, (int)o, &it) || check_side(n, d, it.bids) || check_side(n, d, it.asks))
			return -1;
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next)
		if (books_fields(n, d, (int)o, &it) || books_apply(n, d, &it, sym, kind, snapshot, depth))
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

/* ---- derivatives ---- */

/* The derivative an element of a derivatives channel is about (an instId of its own, or the
 * argument's), now marked subscribed. Spot instIds have no such channels. */
static int deriv_of(struct norm *n, const struct js_doc *d, int o, int arg, char *sym, int64_t *ts)
{
	enum inst_kind kind;
	if (js_type(d, o) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "element is not an object");
	if (symbol_of2(n, d, o, arg, sym, &kind) || norm_ts(n, d, js_get(d, o, "ts"), ts))
		return -1;
	if (kind == SPOT)
		return norm_fail(n, NR_SYMBOL, "%s is no derivative", sym);
	if (!seen(n, sym))
		return norm_fail(n, NR_SYMBOL, "no memory for %s", sym);
	return 0;
}

/* mark-price: the mark price. */
static int read_mark(struct norm *n, const struct js_doc *d, int arg, int data)
{
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next) {
		char sym[SYM_MAX];
		int64_t ts;
		if (deriv_of(n, d, (int)o, arg, sym, &ts))
			return -1;
		norm_derivative_begin(n, sym, ts);
		if (norm_dec_sent(n, "mark", d, js_get(d, (int)o, "markPx")))
			return -1;
		norm_derivative_end(n);
	}
	return 0;
}

/* funding-rate: the current period's rate, settled at fundingTime (the next funding time);
 * nextFundingRate, the forecast for the period after, is "" since OKX charges the current
 * period's rate only, and is sent when it is not. */
static int read_funding(struct norm *n, const struct js_doc *d, int arg, int data)
{
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next) {
		char sym[SYM_MAX];
		int64_t ts;
		int t = (int)o;
		if (deriv_of(n, d, t, arg, sym, &ts))
			return -1;
		norm_derivative_begin(n, sym, ts);
		if (norm_dec_sent(n, "funding_rate", d, js_get(d, t, "fundingRate")) ||
		    norm_dec_sent(n, "predicted_funding_rate", d, js_get(d, t, "nextFundingRate")) ||
		    norm_ts_sent(n, "funding_ts", d, js_get(d, t, "fundingTime")))
			return -1;
		norm_derivative_end(n);
	}
	return 0;
}

/* open-interest: oiCcy is in the base currency already (for coin-margined contracts too);
 * without it, oi contracts x the contract size. oiUsd is the value, in USD. */
static int read_open_interest(struct norm *n, const struct js_doc *d, int arg, int data)
{
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next) {
		char sym[SYM_MAX];
		int64_t ts;
		int t = (int)o, ccy = js_get(d, t, "oiCcy");
		const char *mult = NULL;
		if (deriv_of(n, d, t, arg, sym, &ts))
			return -1;
		int c = js_type(d, ccy) == JS_STRING && js_len(d, ccy) ? 0 : contract_size(n, sym, FUTURES, &mult);
		if (c < 0)
			return -1;
		norm_derivative_begin(n, sym, ts);
		if ((!c && (mult ? norm_dec_scaled(n, "open_interest", d, js_get(d, t, "oi"), mult)
				 : norm_dec_sent(n, "open_interest", d, ccy))) ||
		    norm_dec_sent(n, "open_interest_value", d, js_get(d, t, "oiUsd")))
			return -1;
		norm_derivative_end(n);
	}
	return 0;
}

/* index-tickers: keyed by the index ("BTC-USDT"), which is every derivative's of that
 * underlying: a line with the index for each one subscribed. */
static int read_index(struct norm *n, const struct js_doc *d, int arg, int data)
{
	struct feed *f = norm_stream_state(n, sizeof *f, NULL);
	if (!f)
		return norm_fail(n, NR_SYMBOL, "out of memory");
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next) {
		char index[SYM_MAX], u[SYM_MAX];
		enum inst_kind kind;
		int64_t ts;
		int t = (int)o, found = 0;
		if (d->tok[o].type != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "index ticker is not an object");
		if (symbol_of2(n, d, t, arg, index, &kind) || norm_ts(n, d, js_get(d, t, "ts"), &ts))
			return -1;
		if (kind != SPOT)
			return norm_fail(n, NR_SYMBOL, "%s is no index", index);
		for (int k = 0; k < f->n; k++) {
			if (underlying(f->sym[k], u) < 0 || strcmp(u, index))
				continue;
			found = 1;
			norm_derivative_begin(n, f->sym[k], ts);
			if (norm_dec_sent(n, "index", d, js_get(d, t, "idxPx")))
				return -1;
			norm_derivative_end(n);
		}
		if (!found) {
			char why[80];
			snprintf(why, sizeof why, "index %s: no derivative of it subscribed", index);
			norm_skip(n, NR_UNSUBSCRIBED, why);
		}
	}
	return 0;
}

/* liquidation-orders: every instrument of a type; each element's details are liquidation
 * orders, side being the order's (buy: a short was closed), bkPx the bankruptcy price, sz
 * contracts. Instruments not subscribed are left out, counted. */
static int read_liquidations(struct norm *n, const struct js_doc *d, int arg, int data)
{
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next) {
		char sym[SYM_MAX];
		enum inst_kind kind;
		int t = (int)o, det = js_get(d, t, "details");
		if (d->tok[o].type != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "liquidation is not an object");
		if (js_type(d, det) != JS_ARRAY)
			return norm_fail(n, NR_FIELD, "details: missing or not an array");
		if (symbol_of(n, d, js_get(d, t, "instId"), sym, &kind))
			return -1;
		struct inst *in = kind == SPOT ? NULL : inst_of(n, sym);
		if (!in || !in->subscribed) {
			char why[80];
			snprintf(why, sizeof why, "liquidation of %s, not subscribed", sym);
			for (uint32_t j = 0; j < d->tok[det].size; j++)
				norm_skip(n, NR_UNSUBSCRIBED, why);
			continue;
		}
		for (uint32_t j = 0, k = (uint32_t)det + 1; j < d->tok[det].size; j++, k = d->tok[k].next) {
			const char *side, *mult;
			int64_t ts;
			int l = (int)k;
			if (d->tok[k].type != JS_OBJECT)
				return norm_fail(n, NR_SHAPE, "liquidation detail is not an object");
			if (norm_ts(n, d, js_get(d, l, "ts"), &ts) ||
			    norm_side(n, d, js_get(d, l, "side"), "side", "buy", "sell", &side))
				return -1;
			if (!strcmp(side, "unknown"))
				return norm_fail(n, NR_FIELD, "side: missing");
			int c = contract_size(n, sym, kind, &mult);
			if (c < 0)
				return -1;
			if (c)
				continue;
			norm_head(n, "liquidation", sym, ts);
			if (norm_price_amount_scaled(n, d, js_get(d, l, "bkPx"), js_get(d, l, "sz"), mult, 0))
				return -1;
			jw_key(n->w, "side");
			jw_str(n->w, side, strlen(side));
			norm_end_liquidation(n);
		}
	}
	return 0;
}

/* One instrument of the metadata (REST or the instruments channel): its contract size, or
 * why its amounts cannot be given, and whether it still trades. Other instrument types
 * (spot, options) are passed over. */
static int learn(struct norm *n, const struct js_doc *d, int o)
{
	char sym[SYM_MAX], base[SYM_MAX], quote[SYM_MAX], expiry[9], val[DEC_MAX], mul[DEC_MAX], size[DEC_MAX];
	enum inst_kind kind;
	int id = js_get(d, o, "instId"), state = js_get(d, o, "state");
	if (js_type(d, o) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "instrument is not an object");
	if (!js_streq(d, js_get(d, o, "instType"), "SWAP") && !js_streq(d, js_get(d, o, "instType"), "FUTURES"))
		return 0;
	if (symbol_of(n, d, id, sym, &kind))
		return -1;
	sym_parse_contract(sym, base, quote, expiry);
	struct inst *in = inst_of(n, sym);
	if (!in)
		return norm_fail(n, NR_SYMBOL, "no memory for %s", sym);
	enum contract ct = CT_OTHER;
	const char *s;
	size_t sl;
	int vt = js_get(d, o, "ctVal"), mt = js_get(d, o, "ctMult"), ccy = js_get(d, o, "ctValCcy");
	if (js_streq(d, js_get(d, o, "ctType"), "inverse")) {
		ct = CT_INVERSE;
	} else if (js_streq(d, js_get(d, o, "ctType"), "linear") && js_type(d, ccy) == JS_STRING &&
		   js_len(d, ccy) == strlen(base) && !memcmp(js_ptr(d, ccy), base, strlen(base))) {
		int vl, ml = 1, pl;
		mul[0] = '1';
		mul[1] = 0;
		if (js_numtext(d, vt, &s, &sl) || (vl = dec_canon(s, sl, val)) < 0)
			return norm_fail(n, NR_NUMBER, "ctVal of %s: not a decimal", sym);
		if (js_type(d, mt) == JS_STRING && js_len(d, mt) &&
		    (js_numtext(d, mt, &s, &sl) || (ml = dec_canon(s, sl, mul)) < 0))
			return norm_fail(n, NR_NUMBER, "ctMult of %s: not a decimal", sym);
		if ((pl = dec_mul(val, (size_t)vl, mul, (size_t)ml, size)) < 0 || pl >= BOOK_TEXT ||
		    size[0] == '-' || dec_is_zero(size, (size_t)pl))
			return norm_fail(n, NR_NUMBER, "contract size of %s: not above zero, or too long", sym);
		ct = CT_LINEAR;
		memcpy(in->mult, size, (size_t)pl + 1);
	}
	if (ct != in->ct)
		in->told = 0; /* a change of what can be said is said again */
	in->ct = ct;
	int dead = js_streq(d, state, "expired") || js_streq(d, state, "suspend");
	if (dead && !in->dead && in->subscribed) {
		char why[96];
		snprintf(why, sizeof why, "%s: instrument %.*s", sym, (int)js_len(d, state) & 31, js_ptr(d, state));
		norm_status(n, "error", sym, why);
	}
	in->dead = dead;
	return 0;
}

static int read_instruments(struct norm *n, const struct js_doc *d, int data)
{
	for (uint32_t i = 0, o = (uint32_t)data + 1; i < d->tok[data].size; i++, o = d->tok[o].next)
		if (learn(n, d, (int)o))
			return -1;
	return 0;
}

/* The REST answer ingest fetched: {"code":"0","msg":"","data":[...]}, or an error such as
 * 51001 (no such instrument), which becomes a status line. */
static int read_meta(struct norm *n, const struct js_doc *d, int body)
{
	int code = js_get(d, body, "code"), items = js_get(d, body, "data");
	if (js_type(d, body) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "instruments answer is not an object");
	if (!js_streq(d, code, "0")) {
		norm_status_error(n, d, code, js_get(d, body, "msg"));
		return 0;
	}
	if (js_type(d, items) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "data: missing or not an array");
	return read_instruments(n, d, items);
}

static int read_event(struct norm *n, const struct js_doc *d, int o, int ev)
{
	if (js_streq(d, ev, "subscribe")) {
		/* One ack per channel argument: the symbol it names and the channel as detail. A
		 * derivative named counts as subscribed. */
		char sym[SYM_MAX];
		enum inst_kind kind;
		int arg = js_get(d, o, "arg"), inst = js_get(d, arg, "instId"), ch = js_get(d, arg, "channel");
		int ok = js_type(d, inst) == JS_STRING && !js_streq(d, ch, "index-tickers") &&
			 inst_text(js_ptr(d, inst), js_len(d, inst), sym, &kind) >= 0;
		if (ok && kind != SPOT && !seen(n, sym))
			return norm_fail(n, NR_SYMBOL, "no memory for %s", sym);
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
	int ev = js_get(d, data, "event"), stream = js_get(d, data, "stream");
	if (js_type(d, ev) == JS_STRING)
		return read_event(n, d, data, ev);
	if (js_streq(d, stream, META_TAG))
		return read_meta(n, d, js_get(d, data, "data"));
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
	if (js_streq(d, ch, "mark-price"))
		return read_mark(n, d, arg, items);
	if (js_streq(d, ch, "funding-rate"))
		return read_funding(n, d, arg, items);
	if (js_streq(d, ch, "open-interest"))
		return read_open_interest(n, d, arg, items);
	if (js_streq(d, ch, "index-tickers"))
		return read_index(n, d, arg, items);
	if (js_streq(d, ch, "liquidation-orders"))
		return read_liquidations(n, d, arg, items);
	if (js_streq(d, ch, "instruments"))
		return read_instruments(n, d, items);
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
		.meta = okx_meta,
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
