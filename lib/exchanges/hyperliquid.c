/* Hyperliquid: the public WebSocket of its perpetuals and spot markets (see
 * shared/exchanges/hyperliquid.md). Perpetuals are linear, USDC-margined and never expire:
 * coin BTC is BTC-USDC-PERP ("kPEPE", a thousand PEPE, is KPEPE-USDC-PERP). Spot pairs are
 * "PURR/USDC" (PURR-USDC) or "@107", an index that only the spotMeta metadata names. Sizes
 * are in coin units: no conversion.
 *
 * Talking: one subscription per message, {"method":"subscribe","subscription":{"type":..,
 * "coin":..}}: trades, l2Book (a full snapshot every push, at least 0.5 s apart), bbo (best
 * bid and ask, on change) and activeAssetCtx (mark, oracle price, funding, open interest,
 * 24 h figures). The metadata ingest fetches (POST /info, {"type":"meta"} and
 * {"type":"spotMeta"}) gives the exchange's own names ("kPEPE", "@107") to proto.learn
 * before subscribing, and to the reader after. The server closes a socket it has sent
 * nothing to for 60 s; {"method":"ping"} is answered {"channel":"pong"}.
 *
 * Reading: the ticker merges bbo's best bid and ask with activeAssetCtx's 24 h figures, per
 * coin, so every ticker line is whole. activeAssetCtx has no time: its lines have no ts, and
 * no next funding time either (funding is hourly). Hyperliquid publishes no liquidations. */
#include "dec.h"
#include "norm.h"
#include "xch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REST_DEFAULT "https://api.hyperliquid.xyz"
#define WS_DEFAULT "wss://api.hyperliquid.xyz"
#define PONG_MAX 64          /* {"channel":"pong"}: longer frames are never scanned for it */
#define MAX_SPOT_PAIRS 8192  /* spot pairs kept from spotMeta; more means something is wrong */
#define MAX_TOKENS 16384     /* tokens read from spotMeta */

/* ---- talking ---- */

static const struct {
	int channels;
	const char *type;
} subscriptions[] = {
	{ XCH_TRADE, "trades" },
	{ XCH_BOOK, "l2Book" },
	{ XCH_TICKER, "bbo" },
	{ XCH_TICKER | XCH_DERIVATIVE, "activeAssetCtx" },
};
#define NSUBS (int)(sizeof subscriptions / sizeof subscriptions[0])

/* The coin of symbol I: the learnt name, else BASE for a perpetual (BASE-USDC-PERP) and
 * "BASE/QUOTE" for a spot pair. */
static int coin_of(const struct xch_sub *sub, const struct xch_conn *conn, int i, char *out, size_t n)
{
	char base[SYM_MAX], quote[SYM_MAX], expiry[9];
	int kind = sym_parse_contract(sub->sym[i], base, quote, expiry), k;
	if (kind == SYM_DATED || (kind == SYM_PERP && strcmp(quote, "USDC")) || kind < 0)
		return -1;
	if (conn && conn->wire[i][0])
		k = snprintf(out, n, "%s", conn->wire[i]);
	else if (kind == SYM_PERP)
		k = snprintf(out, n, "%s", base);
	else
		k = snprintf(out, n, "%s/%s", base, quote);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

static int hl_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		  size_t errlen)
{
	char coin[SYM_MAX];
	int k = snprintf(out, n, "%s", base);
	if (k < 0 || (size_t)k >= n) {
		snprintf(err, errlen, "URL too long");
		return -1;
	}
	for (int i = 0; i < sub->nsym; i++)
		if (coin_of(sub, NULL, i, coin, sizeof coin) < 0) {
			snprintf(err, errlen, "bad symbol %s (perpetuals are BASE-USDC-PERP, spot pairs "
				 "BASE-QUOTE)", sub->sym[i]);
			return -1;
		}
	return 0;
}

static int sub_message(const char *method, const char *type, const char *coin, char *out, size_t n)
{
	int k = snprintf(out, n, "{\"method\":\"%s\",\"subscription\":{\"type\":\"%s\",\"coin\":\"%s\"}}",
			 method, type, coin);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

/* Message I: the I-th (symbol, subscription) pair. Spot pairs have no derivative data, but
 * their activeAssetCtx carries the 24 h figures of the ticker. */
static int hl_subscribe(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out, size_t n)
{
	for (int s = 0; s < sub->nsym; s++)
		for (int t = 0; t < NSUBS; t++) {
			if (!(sub->channels & subscriptions[t].channels) || i-- > 0)
				continue;
			char coin[SYM_MAX];
			if (coin_of(sub, conn, s, coin, sizeof coin) < 0)
				return -1;
			return sub_message("subscribe", subscriptions[t].type, coin, out, n);
		}
	return 0;
}

/* Every l2Book push is a whole book; a resync subscribes it again all the same, so a book
 * refused (crossed) is followed by a fresh one at once. */
static int hl_resync(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i,
		     char *out, size_t n)
{
	char coin[SYM_MAX];
	if (i > 1)
		return 0;
	for (int s = 0; s < sub->nsym; s++)
		if (!strcmp(sub->sym[s], symbol)) {
			if (coin_of(sub, conn, s, coin, sizeof coin) < 0)
				return -1;
			return sub_message(i ? "subscribe" : "unsubscribe", "l2Book", coin, out, n);
		}
	return -1;
}

/* Metadata: request 0 the perpetuals' ({"type":"meta"}), request 1 the spot pairs'
 * ({"type":"spotMeta"}), each only when a symbol of that kind is subscribed. */
static int hl_meta(const struct xch_sub *sub, const char *ws_base, int i, char *url, size_t urln,
		   char *body, size_t bodyn, char *tag, size_t tagn)
{
	char host[512], base[SYM_MAX], quote[SYM_MAX], expiry[9];
	int perp = 0, spot = 0;
	for (int s = 0; s < sub->nsym; s++) {
		int kind = sym_parse_contract(sub->sym[s], base, quote, expiry);
		perp |= kind == SYM_PERP;
		spot |= kind == SYM_SPOT;
	}
	if (i == 0 && !perp)
		i = 1;
	else if (i == 1 && !perp)
		i = 2;
	if (i > 1 || (i == 1 && !spot))
		return 0;
	if (xch_rest_host(ws_base, WS_DEFAULT, REST_DEFAULT, host, sizeof host))
		return -1;
	const char *type = i ? "spotMeta" : "meta";
	int k = snprintf(url, urln, "%s/info", host);
	int b = snprintf(body, bodyn, "{\"type\":\"%s\"}", type);
	int t = snprintf(tag, tagn, "%s", type);
	return k < 0 || (size_t)k >= urln || b < 0 || (size_t)b >= bodyn || t < 0 || (size_t)t >= tagn ? -1 : 1;
}

/* Names of the spot pairs in a spotMeta answer: pair P of universe is tokens[a]/tokens[b]. */
struct spot_names {
	int ntok;
	const char **tok; /* token index -> name token text (NULL: none) */
	uint32_t *toklen;
};

/* The relay symbol of spotMeta universe entry O, into SYM; its name token in *NAME. */
static int spot_pair(const struct js_doc *d, int o, const struct spot_names *sn, char *sym, int *name)
{
	int toks = js_get(d, o, "tokens");
	int64_t a, b;
	*name = js_get(d, o, "name");
	if (js_type(d, *name) != JS_STRING || js_type(d, toks) != JS_ARRAY || d->tok[toks].size != 2 ||
	    js_int64(d, toks + 1, &a) || js_int64(d, (int)d->tok[toks + 1].next, &b) || a < 0 || b < 0 ||
	    a >= sn->ntok || b >= sn->ntok || !sn->tok[a] || !sn->tok[b])
		return -1;
	return sym_join(sn->tok[a], sn->toklen[a], sn->tok[b], sn->toklen[b], sym);
}

/* Collects the token names of a spotMeta answer at BODY (object token), by their index
 * (indexes need not be dense; those past MAX_TOKENS are passed over). */
static int spot_tokens(const struct js_doc *d, int body, struct spot_names *sn)
{
	int tokens = js_get(d, body, "tokens");
	int64_t idx, max = -1;
	sn->ntok = 0;
	if (js_type(d, tokens) != JS_ARRAY)
		return -1;
	for (uint32_t i = 0, k = (uint32_t)tokens + 1; i < d->tok[tokens].size; i++, k = d->tok[k].next)
		if (!js_int64(d, js_get(d, (int)k, "index"), &idx) && idx >= 0 && idx < MAX_TOKENS && idx > max)
			max = idx;
	sn->ntok = (int)max + 1;
	sn->tok = calloc((size_t)sn->ntok + 1, sizeof *sn->tok);
	sn->toklen = calloc((size_t)sn->ntok + 1, sizeof *sn->toklen);
	if (!sn->tok || !sn->toklen)
		return -1;
	for (uint32_t i = 0, k = (uint32_t)tokens + 1; i < d->tok[tokens].size; i++, k = d->tok[k].next) {
		int nm = js_get(d, (int)k, "name");
		if (js_int64(d, js_get(d, (int)k, "index"), &idx) || idx < 0 || idx >= sn->ntok ||
		    js_type(d, nm) != JS_STRING)
			continue;
		sn->tok[idx] = js_ptr(d, nm);
		sn->toklen[idx] = js_len(d, nm);
	}
	return 0;
}

static void spot_names_free(struct spot_names *sn)
{
	free(sn->tok);
	free(sn->toklen);
}

/* Learns the exchange's names of SUB's symbols: a perpetual's coin from meta (matched
 * without regard to case: "kPEPE" for KPEPE-USDC-PERP), a spot pair's from spotMeta
 * ("@107" for HYPE-USDC). */
static int hl_learn(const struct xch_sub *sub, struct xch_conn *conn, const char *tag, const char *body,
		    size_t len)
{
	struct js_doc d;
	int spot = !strcmp(tag, "spotMeta"), rc = -1;
	struct spot_names sn = { 0 };
	if (!spot && strcmp(tag, "meta"))
		return 0;
	js_init(&d, 0);
	if (js_parse(&d, body, len) != JS_OK || js_type(&d, 0) != JS_OBJECT)
		goto done;
	int uni = js_get(&d, 0, "universe");
	if (js_type(&d, uni) != JS_ARRAY || (spot && spot_tokens(&d, 0, &sn)))
		goto done;
	for (uint32_t i = 0, k = (uint32_t)uni + 1; i < d.tok[uni].size; i++, k = d.tok[k].next) {
		char sym[SYM_MAX];
		int name = js_get(&d, (int)k, "name");
		if (spot ? spot_pair(&d, (int)k, &sn, sym, &name) < 0
			 : js_type(&d, name) != JS_STRING ||
				   sym_join_contract(js_ptr(&d, name), js_len(&d, name), "USDC", 4, NULL, sym) < 0)
			continue;
		if (js_len(&d, name) >= SYM_MAX || (d.tok[name].flags & JS_ESCAPED))
			continue;
		for (int s = 0; s < sub->nsym; s++)
			if (!strcmp(sub->sym[s], sym)) {
				memcpy(conn->wire[s], js_ptr(&d, name), js_len(&d, name));
				conn->wire[s][js_len(&d, name)] = 0;
			}
	}
	rc = 0;
done:
	spot_names_free(&sn);
	js_free(&d);
	return rc;
}

static enum xch_frame hl_classify(const char *f, size_t n)
{
	if (n < PONG_MAX && memmem(f, n, "\"channel\":\"pong\"", 16))
		return XCH_HEARTBEAT;
	return XCH_FORWARD;
}

/* ---- reading ---- */

/* The spot pairs' names learnt from spotMeta (norm_stream_state): index N is "@N". */
struct feed {
	int n;
	struct {
		int index;
		char sym[SYM_MAX];
	} *pair;
};

static void feed_release(void *p)
{
	free(((struct feed *)p)->pair);
}

/* The merged ticker of a coin (norm_state): bbo's best bid and ask, activeAssetCtx's 24 h
 * figures. */
enum { BID, BID_SIZE, ASK, ASK_SIZE, OPEN, VOLUME, QUOTE_VOLUME, NTICK };
static const char *const tick_keys[NTICK] = { "bid", "bid_size", "ask", "ask_size", "open", "volume",
					      "quote_volume" };
struct inst {
	char val[NTICK][DEC_MAX]; /* canonical; "" unknown */
	int delisted;             /* meta says so */
	int told;                 /* ... and a status line said it */
};

static struct inst *inst_of(struct norm *n, const char *sym)
{
	return norm_state(n, sym, sizeof(struct inst), NULL);
}

/* The relay symbol of a coin: "BTC" a perpetual, "PURR/USDC" a spot pair, "@107" the spot
 * pair spotMeta names so. */
static int symbol_of(struct norm *n, const struct js_doc *d, int t, char *sym, int *spot)
{
	if (js_type(d, t) != JS_STRING)
		return norm_fail(n, NR_FIELD, "coin: missing or not a string");
	const char *s = js_ptr(d, t);
	size_t len = js_len(d, t);
	*spot = 1;
	if (len > 1 && s[0] == '@') {
		struct feed *f = norm_stream_state(n, sizeof *f, feed_release);
		int64_t idx = 0;
		for (size_t i = 1; i < len && idx < 1000000000; i++) {
			if (s[i] < '0' || s[i] > '9')
				return norm_fail(n, NR_SYMBOL, "cannot read coin %.*s", (int)len & 31, s);
			idx = idx * 10 + (s[i] - '0');
		}
		for (int i = 0; f && i < f->n; i++)
			if (f->pair[i].index == idx) {
				strcpy(sym, f->pair[i].sym);
				return 0;
			}
		return norm_fail(n, NR_SYMBOL, "spot pair %.*s unknown (no spotMeta names it)", (int)len & 31, s);
	}
	const char *slash = memchr(s, '/', len);
	if (slash ? sym_split_sep(s, len, '/', 0, sym) < 0
		  : sym_join_contract(s, len, "USDC", 4, NULL, sym) < 0)
		return norm_fail(n, NR_SYMBOL, "cannot read coin %.*s", (int)len & 31, s);
	*spot = slash != NULL;
	return 0;
}

/* trades: side is the aggressor's, B (bought) or A (sold the ask... the bid: sold). tid
 * alone is not unique across coins; it is the id Hyperliquid gives. */
static int read_trades(struct norm *n, const struct js_doc *d, int data)
{
	if (js_type(d, data) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "data: trades are not an array");
	for (uint32_t i = 0, k = (uint32_t)data + 1; i < d->tok[data].size; i++, k = d->tok[k].next) {
		char sym[SYM_MAX];
		int64_t ts;
		int o = (int)k, spot;
		const char *side;
		if (d->tok[k].type != JS_OBJECT)
			return norm_fail(n, NR_SHAPE, "trade is not an object");
		if (symbol_of(n, d, js_get(d, o, "coin"), sym, &spot) || norm_ts(n, d, js_get(d, o, "time"), &ts) ||
		    norm_side(n, d, js_get(d, o, "side"), "side", "B", "A", &side))
			return -1;
		norm_head(n, "trade", sym, ts);
		if (norm_id(n, "id", d, js_get(d, o, "tid")) ||
		    norm_price_amount(n, d, js_get(d, o, "px"), js_get(d, o, "sz")))
			return -1;
		jw_key(n->w, "side");
		jw_str(n->w, side, strlen(side));
		norm_end_trade(n);
	}
	return 0;
}

/* Level K of a side: {"px":..,"sz":..,"n":..}. */
static int level_text(const struct js_doc *d, int k, const char **p, size_t *pn, const char **q, size_t *qn)
{
	return js_type(d, k) != JS_OBJECT || js_numtext(d, js_get(d, k, "px"), p, pn) ||
	       js_numtext(d, js_get(d, k, "sz"), q, qn);
}

/* l2Book: levels[0] the bids, levels[1] the asks, best first; a whole book every push. */
static int read_book(struct norm *n, const struct js_doc *d, int data)
{
	char sym[SYM_MAX];
	int64_t ts;
	int spot, levels = js_get(d, data, "levels");
	if (js_type(d, data) != JS_OBJECT)
		return norm_fail(n, NR_FIELD, "data: book is not an object");
	if (js_type(d, levels) != JS_ARRAY || d->tok[levels].size != 2)
		return norm_fail(n, NR_FIELD, "levels: not [bids, asks]");
	if (symbol_of(n, d, js_get(d, data, "coin"), sym, &spot) || norm_ts(n, d, js_get(d, data, "time"), &ts))
		return -1;
	int side[2] = { levels + 1, (int)d->tok[levels + 1].next };
	norm_book_begin(n, sym, ts);
	for (int s = 0; s < 2; s++) {
		if (s)
			norm_book_asks(n);
		if (js_type(d, side[s]) != JS_ARRAY)
			return norm_fail(n, NR_FIELD, "book side is not an array");
		for (uint32_t j = 0, k = (uint32_t)side[s] + 1; j < d->tok[side[s]].size; j++, k = d->tok[k].next) {
			const char *p, *q;
			size_t pn, qn;
			if (level_text(d, (int)k, &p, &pn, &q, &qn))
				return norm_fail(n, NR_FIELD, "book level is not {px, sz}");
			if (norm_book_level(n, p, pn, q, qn))
				return -1;
		}
	}
	return norm_book_end(n);
}

/* Keeps the canonical decimal of token T as ticker value V (a missing or null T: unknown). */
static int keep(struct norm *n, struct inst *in, int v, const struct js_doc *d, int t)
{
	const char *s;
	size_t len;
	char c[DEC_MAX];
	if (t < 0 || js_type(d, t) == JS_NULL) {
		in->val[v][0] = 0;
		return 0;
	}
	if (js_numtext(d, t, &s, &len) || dec_canon(s, len, c) < 0)
		return norm_fail(n, NR_NUMBER, "%s: not a decimal", tick_keys[v]);
	strcpy(in->val[v], c);
	return 0;
}

/* The merged ticker line of SYM. */
static void write_ticker(struct norm *n, const struct inst *in, const char *sym, int64_t ts)
{
	norm_head(n, "ticker", sym, ts);
	for (int v = 0; v < NTICK; v++)
		if (in->val[v][0]) {
			jw_key(n->w, tick_keys[v]);
			jw_raw(n->w, in->val[v], strlen(in->val[v]));
		}
	norm_end(n);
	n->lines_ticker++;
}

/* A frame about SYM: once, a status line if meta says it is delisted. */
static struct inst *inst_said(struct norm *n, const char *sym)
{
	struct inst *in = inst_of(n, sym);
	if (in && in->delisted && !in->told) {
		char why[80];
		in->told = 1;
		snprintf(why, sizeof why, "%s: delisted", sym);
		norm_status(n, "error", sym, why);
	}
	return in;
}

/* bbo: [bid, ask], either null. The values are checked before any is kept. */
static int read_bbo(struct norm *n, const struct js_doc *d, int data)
{
	char sym[SYM_MAX];
	int64_t ts;
	int spot, bbo = js_get(d, data, "bbo");
	if (js_type(d, data) != JS_OBJECT || js_type(d, bbo) != JS_ARRAY || d->tok[bbo].size != 2)
		return norm_fail(n, NR_FIELD, "bbo: not [bid, ask]");
	if (symbol_of(n, d, js_get(d, data, "coin"), sym, &spot) || norm_ts(n, d, js_get(d, data, "time"), &ts))
		return -1;
	int lv[2] = { bbo + 1, (int)d->tok[bbo + 1].next };
	for (int s = 0; s < 2; s++) {
		const char *p, *q;
		size_t pn, qn;
		char c[DEC_MAX];
		if (js_type(d, lv[s]) != JS_NULL &&
		    (level_text(d, lv[s], &p, &pn, &q, &qn) || dec_canon(p, pn, c) < 0 || dec_canon(q, qn, c) < 0))
			return norm_fail(n, NR_FIELD, "bbo level is not {px, sz} or null");
	}
	struct inst *in = inst_said(n, sym);
	if (!in)
		return norm_fail(n, NR_SYMBOL, "no memory for %s", sym);
	for (int s = 0; s < 2; s++) {
		int null = js_type(d, lv[s]) == JS_NULL;
		if (keep(n, in, s ? ASK : BID, d, null ? -1 : js_get(d, lv[s], "px")) ||
		    keep(n, in, s ? ASK_SIZE : BID_SIZE, d, null ? -1 : js_get(d, lv[s], "sz")))
			return -1;
	}
	write_ticker(n, in, sym, ts);
	return 0;
}

/* activeAssetCtx: the 24 h figures (prevDayPx, the price a day ago, is the open) for the
 * ticker; for a perpetual also mark, oracle price (the index), the current hour's funding
 * rate and the open interest in coins. */
static int read_ctx(struct norm *n, const struct js_doc *d, int data)
{
	char sym[SYM_MAX], c[DEC_MAX];
	int spot, ctx = js_get(d, data, "ctx");
	if (js_type(d, data) != JS_OBJECT || js_type(d, ctx) != JS_OBJECT)
		return norm_fail(n, NR_FIELD, "ctx: missing or not an object");
	if (symbol_of(n, d, js_get(d, data, "coin"), sym, &spot))
		return -1;
	static const char *const names[3] = { "prevDayPx", "dayBaseVlm", "dayNtlVlm" };
	for (int i = 0; i < 3; i++) {
		const char *s;
		size_t len;
		int t = js_getn(d, ctx, names[i], strlen(names[i]));
		if (t >= 0 && js_type(d, t) != JS_NULL && (js_numtext(d, t, &s, &len) || dec_canon(s, len, c) < 0))
			return norm_fail(n, NR_NUMBER, "%s: not a decimal", names[i]);
	}
	struct inst *in = inst_said(n, sym);
	if (!in)
		return norm_fail(n, NR_SYMBOL, "no memory for %s", sym);
	for (int i = 0; i < 3; i++)
		if (keep(n, in, OPEN + i, d, js_getn(d, ctx, names[i], strlen(names[i]))))
			return -1;
	write_ticker(n, in, sym, -1);
	if (spot)
		return 0;
	norm_derivative_begin(n, sym, -1);
	if (norm_dec_sent(n, "mark", d, js_get(d, ctx, "markPx")) ||
	    norm_dec_sent(n, "index", d, js_get(d, ctx, "oraclePx")) ||
	    norm_dec_sent(n, "funding_rate", d, js_get(d, ctx, "funding")) ||
	    norm_dec_sent(n, "open_interest", d, js_get(d, ctx, "openInterest")))
		return -1;
	norm_derivative_end(n);
	return 0;
}

/* meta (ingest's {"stream":"meta","data":BODY}): perpetuals marked isDelisted are said to
 * be so, once, when a frame of theirs comes. */
static int read_meta(struct norm *n, const struct js_doc *d, int body)
{
	int uni = js_get(d, body, "universe");
	if (js_type(d, body) != JS_OBJECT || js_type(d, uni) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "meta: universe missing");
	for (uint32_t i = 0, k = (uint32_t)uni + 1; i < d->tok[uni].size; i++, k = d->tok[k].next) {
		char sym[SYM_MAX];
		int name = js_get(d, (int)k, "name");
		if (js_type(d, name) != JS_STRING ||
		    sym_join_contract(js_ptr(d, name), js_len(d, name), "USDC", 4, NULL, sym) < 0)
			continue; /* a name the relay cannot spell (a builder dex's "dex:COIN") */
		int dl = js_type(d, js_get(d, (int)k, "isDelisted")) == JS_TRUE;
		struct inst *in = dl ? inst_of(n, sym) : NULL;
		if (in)
			in->delisted = 1;
	}
	return 0;
}

/* spotMeta: the names of the "@N" pairs, kept for the feed. */
static int read_spot_meta(struct norm *n, const struct js_doc *d, int body)
{
	struct spot_names sn = { 0 };
	struct feed *f = norm_stream_state(n, sizeof *f, feed_release);
	int uni = js_get(d, body, "universe"), rc = -1;
	if (!f)
		return norm_fail(n, NR_SYMBOL, "out of memory");
	if (js_type(d, body) != JS_OBJECT || js_type(d, uni) != JS_ARRAY || spot_tokens(d, body, &sn)) {
		rc = norm_fail(n, NR_FIELD, "spotMeta: tokens or universe missing");
		goto done;
	}
	uint32_t cnt = d->tok[uni].size < MAX_SPOT_PAIRS ? d->tok[uni].size : MAX_SPOT_PAIRS;
	void *np = realloc(f->pair, (cnt ? cnt : 1) * sizeof *f->pair);
	if (!np) {
		rc = norm_fail(n, NR_SYMBOL, "out of memory");
		goto done;
	}
	f->pair = np;
	f->n = 0;
	for (uint32_t i = 0, k = (uint32_t)uni + 1; i < cnt; i++, k = d->tok[k].next) {
		int64_t idx;
		int name;
		if (js_int64(d, js_get(d, (int)k, "index"), &idx) || idx < 0 || idx > 1000000000 ||
		    spot_pair(d, (int)k, &sn, f->pair[f->n].sym, &name) < 0)
			continue;
		f->pair[f->n++].index = (int)idx;
	}
	rc = 0;
done:
	spot_names_free(&sn);
	return rc;
}

/* subscriptionResponse: the subscription's coin and type. */
static int read_ack(struct norm *n, const struct js_doc *d, int data)
{
	char sym[SYM_MAX];
	int spot, sub = js_get(d, data, "subscription"), coin = js_get(d, sub, "coin");
	int have = js_type(d, coin) == JS_STRING && !symbol_of(n, d, coin, sym, &spot);
	if (js_streq(d, js_get(d, data, "method"), "unsubscribe"))
		return 0; /* the first half of a resync */
	if (have)
		inst_said(n, sym);
	norm_status_tok(n, "subscribed", have ? sym : NULL, d, js_get(d, sub, "type"));
	return 0;
}

static int hl_normalize(struct norm *n, const struct js_doc *d, int frame)
{
	if (js_type(d, frame) != JS_OBJECT)
		return norm_fail(n, NR_SHAPE, "frame is not an object");
	int ch = js_get(d, frame, "channel"), data = js_get(d, frame, "data"), stream = js_get(d, frame, "stream");
	if (js_streq(d, stream, "meta"))
		return read_meta(n, d, data);
	if (js_streq(d, stream, "spotMeta"))
		return read_spot_meta(n, d, data);
	if (js_streq(d, ch, "trades"))
		return read_trades(n, d, data);
	if (js_streq(d, ch, "l2Book"))
		return read_book(n, d, data);
	if (js_streq(d, ch, "bbo"))
		return read_bbo(n, d, data);
	if (js_streq(d, ch, "activeAssetCtx") || js_streq(d, ch, "activeSpotAssetCtx"))
		return read_ctx(n, d, data);
	if (js_streq(d, ch, "subscriptionResponse"))
		return read_ack(n, d, data);
	if (js_streq(d, ch, "error")) {
		norm_status_error(n, d, -1, data);
		return 0;
	}
	if (js_streq(d, ch, "pong"))
		return 0; /* a keep-alive answer, when a recording holds one */
	return norm_fail(n, NR_SHAPE, "unknown channel");
}

const struct xch xch_hyperliquid = {
	.name = "hyperliquid",
	.default_url = "wss://api.hyperliquid.xyz/ws",
	.default_symbols = "BTC-USDC-PERP,ETH-USDC-PERP",
	.proto = {
		.url = hl_url,
		.subscribe = hl_subscribe,
		.resync = hl_resync,
		.meta = hl_meta,
		.learn = hl_learn,
		.classify = hl_classify,
		/* 2000 messages a minute across an address's connections: a pause between the
		 * one-per-subscription requests keeps a long list from arriving as a burst. */
		.sub_gap_ms = 50,
		/* The server closes a socket it has sent nothing to for 60 s; a ping every 20 s
		 * is answered, so a quiet connection still shows a frame. */
		.keepalive_ms = 20000,
		.keepalive_text = "{\"method\":\"ping\"}",
		.idle_timeout_ms = 50000,
	},
	.normalize = hl_normalize,
};
