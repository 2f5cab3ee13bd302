/* Binance spot: combined-stream WebSocket API (see shared/exchanges/binance.md). */
#include "norm.h"
#include "xch.h"

#include <stdio.h>
#include <string.h>

/* The streams one symbol needs for the chosen channels. Partial depth (top 20, 100 ms) is
 * a full snapshot each time, so a book never depends on earlier messages. */
static const struct {
	int channel;
	const char *suffix;
} streams[] = {
	{ XCH_TRADE, "@trade" },
	{ XCH_TICKER, "@ticker" },
	{ XCH_BOOK, "@depth20@100ms" },
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
			int w = stream_name(sub->sym[i], streams[s].suffix, out + o, n - o);
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
	if (count > 1024) {
		snprintf(err, errlen, "%d streams: Binance allows 1024 per connection", count);
		return -1;
	}
	return 0;
toolong:
	snprintf(err, errlen, "URL too long");
	return -1;
}

static int binance_subscribe(const struct xch_sub *sub, int i, char *out, size_t n)
{
	return 0; /* every stream is named in the URL */
}

/* Partial depth is a snapshot stream, so re-subscribing it is enough: the next message
 * (within 100 ms) replaces the book. */
static int binance_resync(const struct xch_sub *sub, const char *symbol, int i, char *out, size_t n)
{
	char name[SYM_MAX + 32];
	static unsigned id = 1000;
	if (i > 0)
		return 0;
	if (stream_name(symbol, "@depth20@100ms", name, sizeof name) < 0)
		return -1;
	int k = snprintf(out, n, "{\"method\":\"SUBSCRIBE\",\"params\":[\"%s\"],\"id\":%u}", name, id++);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

static enum xch_frame binance_classify(const char *f, size_t n)
{
	/* The notice is tiny; do not scan market data for it. */
	if (n < 160 && memmem(f, n, "\"serverShutdown\"", 16))
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
	norm_head(n, "trade", sym, ts);
	if (norm_id(n, "id", d, agg ? js_get(d, o, "a") : js_get(d, o, "t")) ||
	    norm_dec(n, "price", d, js_get(d, o, "p")) || norm_dec(n, "amount", d, js_get(d, o, "q")))
		return -1;
	jw_key(n->w, "side");
	jw_str(n->w, js_type(d, m) == JS_TRUE ? "sell" : "buy", js_type(d, m) == JS_TRUE ? 4 : 3);
	norm_end(n);
	n->lines_trade++;
	return 0;
}

/* 24hrTicker, 24hrMiniTicker and bookTicker all become ticker lines with what they carry. */
static int read_ticker(struct norm *n, const struct js_doc *d, int o)
{
	char sym[SYM_MAX];
	int64_t ts;
	if (symbol_of(n, d, js_get(d, o, "s"), sym) || norm_ts(n, d, js_get(d, o, "E"), &ts))
		return -1;
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

static int read_side(struct norm *n, const struct js_doc *d, int arr)
{
	if (js_type(d, arr) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "book side is not an array");
	for (uint32_t i = 0, k = (uint32_t)arr + 1; i < d->tok[arr].size; i++, k = d->tok[k].next) {
		const char *p, *q;
		size_t pn, qn;
		if (d->tok[k].type != JS_ARRAY || d->tok[k].size < 2 ||
		    js_numtext(d, (int)k + 1, &p, &pn) || js_numtext(d, (int)d->tok[k + 1].next, &q, &qn))
			return norm_fail(n, NR_FIELD, "book level is not [price, amount]");
		if (norm_book_level(n, p, pn, q, qn))
			return -1;
	}
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
	if (read_side(n, d, js_get(d, o, "bids")))
		return -1;
	norm_book_asks(n);
	if (read_side(n, d, js_get(d, o, "asks")))
		return -1;
	return norm_book_end(n);
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
		if (js_streq(d, e, "serverShutdown")) {
			norm_status(n, "disconnected", NULL, "server shutdown announced");
			return 0;
		}
		return norm_fail(n, NR_SHAPE, "unknown event type");
	}
	if (js_get(d, o, "lastUpdateId") >= 0 && js_get(d, o, "bids") >= 0)
		return read_depth(n, d, o, stream);
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
		.classify = binance_classify,
		/* The server pings every 20 s and lws answers; our own ping every 30 s makes a
		 * quiet but alive connection produce a pong we can see. */
		.keepalive_ms = 30000,
		.keepalive_text = NULL,
		.idle_timeout_ms = 65000,
		.max_age_ms = (int64_t)23 * 3600 * 1000 + 30 * 60 * 1000,
	},
	.normalize = binance_normalize,
};
