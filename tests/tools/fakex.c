/*
 * fakex: a fake crypto exchange for tests.
 *
 * A WebSocket server that speaks the public market-data dialect of one
 * exchange (Binance, Upbit, Bithumb, Coinbase Advanced Trade, Bybit v5, OKX
 * v5, Kraken v2, Bitget v2 or Gate v4) closely enough that a real client
 * (ingest) cannot tell it from the exchange: the same URL path, subscribe
 * requests, acks and errors, keep-alives and frame types.  Each connection
 * replays a recording (envelope lines, see design.md) filtered by what it
 * subscribed to, and a new subscription to a book stream first gets the
 * stream's latest recorded snapshot and what followed it, as the exchanges
 * send a fresh snapshot.  A unix control socket lets a test break things the
 * way real exchanges do (drops, close frames, half-open stalls, garbage, huge
 * frames, refused or unanswered upgrades, messages that never end, lost frames,
 * bad checksums), and an events file
 * records what clients did, one JSON line per event, so tests can grep it.
 *
 * One lws event loop, no threads; every delay is an lws_sul timer.
 * Usage and formats: tests/tools/fakex.md, or `fakex --help`.
 */

#include <libwebsockets.h>
#include <cjson/cJSON.h>
#include <openssl/ssl.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/tool.h"

#define FAKEX_VERSION "1.0"

enum { FX_EXIT_OK = 0, FX_EXIT_RUNTIME = 1, FX_EXIT_USAGE = 2 };

#define MAX_IN_MSG	(64 * 1024)		/* bigger client messages: close 1009 */
#define QUEUE_CAP	(1024 * 1024)		/* per-connection data backlog */
#define MAX_STREAMS	1024			/* Binance's per-connection limit */
#define MAX_HUGE	(64L * 1024 * 1024)
#define CTL_LINE_MAX	(1024 * 1024 + 64)	/* room for "send <1 MiB>" */
#define CTL_OUT_MAX	(1024 * 1024)
#define PING_RING	16
#define TICK_BUDGET	10000			/* lines looked at per replay tick */
#define RATE_MAX	1000000L
#define MAX_SKIP	1000000000L
#define MAX_HUNG	64			/* connections left unanswered (hang on) */
#define ENDLESS_TICK_US	50000			/* pace of an endless message */
#define MAX_ENDLESS_BPS	(64L * 1024 * 1024)

enum exch {
	EX_BINANCE, EX_UPBIT, EX_BITHUMB, EX_COINBASE, EX_BYBIT, EX_OKX,
	EX_KRAKEN, EX_BITGET, EX_GATEIO, EX_COUNT
};

/* What differs between exchanges beyond their requests and frames. */
static const struct xinfo {
	const char *name;
	const char *path;	/* the WebSocket path (Binance: its own rules) */
	int binary;		/* data frames are binary (Upbit, Bithumb) */
	long idle_ms;		/* default --idle-timeout; 0: the doc gives no such rule */
	long ping_ms;		/* default --ping-interval: server WS pings; 0: none */
	int msg_limit;		/* client messages per second before we close; 0: none */
} xinfo[EX_COUNT] = {
	/* Binance says 5 messages a second, Bitget 10: we allow twice that. */
	[EX_BINANCE]  = { "binance", NULL, 0, 0, 20000, 10 },
	[EX_UPBIT]    = { "upbit", "/websocket/v1", 1, 120000, 0, 0 },
	[EX_BITHUMB]  = { "bithumb", "/websocket/v1", 1, 120000, 0, 0 },
	[EX_COINBASE] = { "coinbase", "/", 0, 90000, 0, 0 },
	[EX_BYBIT]    = { "bybit", "/v5/public/spot", 0, 600000, 0, 0 },
	[EX_OKX]      = { "okx", "/ws/v5/public", 0, 30000, 0, 0 },
	[EX_KRAKEN]   = { "kraken", "/v2", 0, 0, 0, 0 },
	[EX_BITGET]   = { "bitget", "/v2/ws/public", 0, 120000, 0, 20 },
	[EX_GATEIO]   = { "gateio", "/ws/v4/", 0, 0, 20000, 0 },
};

static struct {
	enum exch exchange;
	const char *exchange_name;
	long port;
	const char *tls_cert, *tls_key;
	const char *recording, *control, *events;
	long rate;
	int pace_real;
	double speed;
	int loop;
	int retime;
	int live;
	long tick_us;
	long ping_ms, pong_timeout_ms, status_ms, idle_ms, heartbeat_ms;
} opt = {
	.port = -1, .rate = 100, .speed = 1.0,
	.ping_ms = -1, .pong_timeout_ms = 60000,
	.status_ms = 10000, .idle_ms = -1, .heartbeat_ms = 1000,
};

#define UPBIT_LIKE (opt.exchange == EX_UPBIT || opt.exchange == EX_BITHUMB)
/* Exchanges whose subscriptions are a set of stream keys built from
 * channel and symbol (everything but Binance's streams and Upbit's types). */
#define KEYED (opt.exchange >= EX_COINBASE)

/* ------------------------------------------------------------------ */
/* small utilities: time, growable strings, logging                    */

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A growable, always NUL-terminated byte string.  Allocation failure is
 * sticky (oom) so callers can build a whole line and check once. */
struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static int
sb_reserve(struct sbuf *b, size_t extra)
{
	size_t need, ncap;
	char *np;

	if (b->oom)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap *= 2;
	np = realloc(b->p, ncap);
	if (!np) {
		b->oom = 1;
		return -1;
	}
	b->p = np;
	b->cap = ncap;
	return 0;
}

static void
sb_add(struct sbuf *b, const void *s, size_t n)
{
	if (sb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_adds(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void
sb_addc(struct sbuf *b, char ch)
{
	sb_add(b, &ch, 1);
}

__attribute__((format(printf, 2, 3)))
static void
sb_addf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sb_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void
sb_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t need, i;
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4;
	else
		return 0;
	if (n < need)
		return 0;
	for (i = 1; i < need; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong three/four byte forms, surrogates, beyond U+10FFFF */
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return 0;
	return need;
}

/* Appends s as a JSON string literal.  Invalid UTF-8 becomes U+FFFD so the
 * events file stays valid JSON whatever a client sends. */
static void
sb_json_str(struct sbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;

	sb_addc(b, '"');
	while (i < n) {
		unsigned c = u[i];

		if (c == '"' || c == '\\') {
			sb_addc(b, '\\');
			sb_addc(b, (char)c);
			i++;
		} else if (c == '\n') {
			sb_adds(b, "\\n");
			i++;
		} else if (c == '\r') {
			sb_adds(b, "\\r");
			i++;
		} else if (c == '\t') {
			sb_adds(b, "\\t");
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			sb_addf(b, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			sb_addc(b, (char)c);
			i++;
		} else if ((k = utf8_seq(u + i, n - i))) {
			sb_add(b, u + i, k);
			i += k;
		} else {
			sb_adds(b, "\\ufffd");
			i++;
		}
	}
	sb_addc(b, '"');
}

static const char *const lv_names[] = { "debug", "info", "warn", "error" };
static int log_level = LV_INFO;

/* One logfmt line on stderr: ts, level, tool, msg, then the caller's
 * key=value pairs (kvfmt may be NULL).  Values with spaces must be quoted
 * by the caller with lq() (common/tool.h).  fakex keeps its own writer: its
 * msg is always quoted, which the tests that read its log rely on. */
__attribute__((format(printf, 3, 4)))
static void
fxlog(int lv, const char *msg, const char *kvfmt, ...)
{
	struct sbuf b = { 0 };
	char tbuf[40];
	struct tm tm;
	int64_t now = wall_us();
	time_t secs = (time_t)(now / 1000000);
	va_list ap;
	const char *m;

	if (lv < log_level)
		return;
	gmtime_r(&secs, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	sb_addf(&b, "ts=%s.%03dZ level=%s tool=fakex msg=\"", tbuf,
		(int)(now / 1000 % 1000), lv_names[lv]);
	for (m = msg; *m; m++) {
		if (*m == '"' || *m == '\\')
			sb_addc(&b, '\\');
		sb_addc(&b, *m == '\n' ? ' ' : *m);
	}
	sb_addc(&b, '"');
	if (kvfmt && *kvfmt) {
		int n;

		sb_addc(&b, ' ');
		va_start(ap, kvfmt);
		n = vsnprintf(NULL, 0, kvfmt, ap);
		va_end(ap);
		if (n > 0 && !sb_reserve(&b, (size_t)n)) {
			va_start(ap, kvfmt);
			vsnprintf(b.p + b.len, (size_t)n + 1, kvfmt, ap);
			va_end(ap);
			b.len += (size_t)n;
		}
	}
	sb_addc(&b, '\n');
	if (!b.oom)
		fputs(b.p, stderr);
	sb_free(&b);
}

/* lws's own warnings and errors, in our log format. */
static void
lws_log_emit(int level, const char *line)
{
	char msg[512];
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (n >= sizeof(msg) - 6)
		n = sizeof(msg) - 6;
	memcpy(msg, "lws: ", 5);
	memcpy(msg + 5, line, n);
	msg[5 + n] = '\0';
	fxlog(level & LLL_ERR ? LV_ERROR : LV_WARN, msg, NULL);
}

/* ------------------------------------------------------------------ */
/* A minimal JSON scanner.  It locates values as byte spans so recorded
 * frames and request ids are sent back exactly as written, never
 * re-serialized. */

static const char *
js_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p at '"': returns the byte after the closing quote, or NULL. */
static const char *
js_string_end(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '\\') {
			p++;
			continue;
		}
		if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* p at the first byte of a value: returns the byte after it, or NULL. */
static const char *
js_value_end(const char *p, const char *e, int depth)
{
	char close;

	if (p >= e || depth > 128)
		return NULL;
	if (*p == '"')
		return js_string_end(p, e);
	if (*p == '{' || *p == '[') {
		close = *p == '{' ? '}' : ']';
		p = js_ws(p + 1, e);
		if (p < e && *p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (p >= e || *p != '"' || !(p = js_string_end(p, e)))
					return NULL;
				p = js_ws(p, e);
				if (p >= e || *p != ':')
					return NULL;
				p = js_ws(p + 1, e);
			}
			if (!(p = js_value_end(p, e, depth + 1)))
				return NULL;
			p = js_ws(p, e);
			if (p >= e)
				return NULL;
			if (*p == close)
				return p + 1;
			if (*p != ',')
				return NULL;
			p = js_ws(p + 1, e);
		}
	}
	if (!strchr("-0123456789tfn", *p))
		return NULL;
	while (p < e && !strchr(",}] \t\r\n", *p))
		p++;
	return p;
}

/* Finds the top-level member key of the object in [p, e).  Returns 1 and
 * the value span, 0 if absent, -1 if the text is not a JSON object. */
static int
js_obj_get(const char *p, const char *e, const char *key,
	   const char **vs, const char **ve)
{
	size_t klen = strlen(key);
	const char *ks, *kend, *v;

	p = js_ws(p, e);
	if (p >= e || *p != '{')
		return -1;
	p = js_ws(p + 1, e);
	if (p < e && *p == '}')
		return 0;
	for (;;) {
		if (p >= e || *p != '"')
			return -1;
		ks = p + 1;
		if (!(kend = js_string_end(p, e)))
			return -1;
		p = js_ws(kend, e);
		if (p >= e || *p != ':')
			return -1;
		v = js_ws(p + 1, e);
		if (!(p = js_value_end(v, e, 1)))
			return -1;
		if ((size_t)(kend - 1 - ks) == klen && !memcmp(ks, key, klen)) {
			*vs = v;
			*ve = p;
			return 1;
		}
		p = js_ws(p, e);
		if (p < e && *p == '}')
			return 0;
		if (p >= e || *p != ',')
			return -1;
		p = js_ws(p + 1, e);
	}
}

/* The contents of a string value without escapes (all routing keys are
 * plain ASCII), or 0 if the span is not such a string. */
static int
js_plain_str(const char *vs, const char *ve, const char **s, size_t *n)
{
	const char *q;

	if (ve - vs < 2 || *vs != '"' || ve[-1] != '"')
		return 0;
	for (q = vs + 1; q < ve - 1; q++)
		if (*q == '\\')
			return 0;
	*s = vs + 1;
	*n = (size_t)(ve - vs - 2);
	return 1;
}

/* ------------------------------------------------------------------ */
/* The recording: the file in memory, one entry per replayable line, and
 * the routing keys (Binance stream name, Upbit "type|code") interned so a
 * connection's subscription is one byte per key. */

struct rline {
	const char *frame;	/* the "data" value of the envelope */
	size_t frame_len;
	const char *inner;	/* Binance: the frame's own "data", for raw /ws */
	size_t inner_len;
	int64_t ts;		/* local_ts, µs */
	int key;		/* interned routing key, -1 if none */
	signed char snapshot;	/* Upbit stream_type, Kraken type: 1 SNAPSHOT, 0 REALTIME, -1 */
	unsigned char book;	/* a frame of an order book stream */
	unsigned char book_snap; /* ... that holds the whole book (a snapshot) */
};

static struct {
	char *buf;
	size_t size;
	struct rline *lines;
	size_t n, cap;
	char **keys;
	size_t nkeys, keycap;
	int *slots;		/* open addressing: key id + 1, 0 = empty */
	size_t nslots;
	int shutdown_key;	/* Binance "!serverShutdown": sent to everyone */
	int64_t avg_gap;	/* µs between lines, used when --pace real loops */
} rec = { .shutdown_key = -1 };

static uint32_t
key_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static int
key_lookup(const char *s, size_t n)
{
	size_t i;
	int id;

	if (!rec.nslots)
		return -1;
	for (i = key_hash(s, n) & (rec.nslots - 1); (id = rec.slots[i]);
	     i = (i + 1) & (rec.nslots - 1))
		if (strlen(rec.keys[id - 1]) == n && !memcmp(rec.keys[id - 1], s, n))
			return id - 1;
	return -1;
}

static int
key_intern(const char *s, size_t n)
{
	size_t i, j;
	int id = key_lookup(s, n);

	if (id >= 0)
		return id;
	if ((rec.nkeys + 1) * 2 > rec.nslots) {
		size_t ns = rec.nslots ? rec.nslots * 2 : 256;
		int *nsl = calloc(ns, sizeof(*nsl));

		if (!nsl)
			return -1;
		for (j = 0; j < rec.nkeys; j++) {
			const char *k = rec.keys[j];

			for (i = key_hash(k, strlen(k)) & (ns - 1); nsl[i];
			     i = (i + 1) & (ns - 1))
				;
			nsl[i] = (int)j + 1;
		}
		free(rec.slots);
		rec.slots = nsl;
		rec.nslots = ns;
	}
	if (rec.nkeys == rec.keycap) {
		size_t nc = rec.keycap ? rec.keycap * 2 : 64;
		char **nk = realloc(rec.keys, nc * sizeof(*nk));

		if (!nk)
			return -1;
		rec.keys = nk;
		rec.keycap = nc;
	}
	if (!(rec.keys[rec.nkeys] = strndup(s, n)))
		return -1;
	for (i = key_hash(s, n) & (rec.nslots - 1); rec.slots[i];
	     i = (i + 1) & (rec.nslots - 1))
		;
	rec.slots[i] = (int)rec.nkeys + 1;
	return (int)rec.nkeys++;
}

/* Upbit key "type|code" from the frame's type/code (DEFAULT or SIMPLE). */
static int
upbit_frame_key(const char *fs, const char *fe, signed char *snapshot)
{
	const char *vs, *ve, *t, *c, *st;
	size_t tn, cn, stn;
	char key[128];

	fs = js_ws(fs, fe);
	if (fs < fe && *fs == '[') {	/* JSON_LIST / SIMPLE_LIST: first item */
		fs = js_ws(fs + 1, fe);
		if (!(ve = js_value_end(fs, fe, 1)))
			return -1;
		fe = ve;
	}
	if ((js_obj_get(fs, fe, "type", &vs, &ve) != 1 &&
	     js_obj_get(fs, fe, "ty", &vs, &ve) != 1) ||
	    !js_plain_str(vs, ve, &t, &tn))
		return -1;
	if ((js_obj_get(fs, fe, "code", &vs, &ve) != 1 &&
	     js_obj_get(fs, fe, "cd", &vs, &ve) != 1) ||
	    !js_plain_str(vs, ve, &c, &cn))
		return -1;
	*snapshot = -1;
	if ((js_obj_get(fs, fe, "stream_type", &vs, &ve) == 1 ||
	     js_obj_get(fs, fe, "st", &vs, &ve) == 1) &&
	    js_plain_str(vs, ve, &st, &stn))
		*snapshot = stn == 8 && !memcmp(st, "SNAPSHOT", 8);
	if (tn + cn + 2 > sizeof(key))
		return -1;
	memcpy(key, t, tn);
	key[tn] = '|';
	memcpy(key + tn + 1, c, cn);
	return key_intern(key, tn + 1 + cn);
}

/* The first element of the array value [vs, ve), if any. */
static int
js_arr_first(const char *vs, const char *ve, const char **es, const char **ee)
{
	const char *p = js_ws(vs, ve), *e;

	if (p >= ve || *p != '[')
		return 0;
	p = js_ws(p + 1, ve);
	if (p >= ve || *p == ']' || !(e = js_value_end(p, ve, 1)))
		return 0;
	*es = p;
	*ee = e;
	return 1;
}

/* The plain string member KEY of the object [fs, fe). */
static int
js_get_str(const char *fs, const char *fe, const char *key, const char **s,
	   size_t *n)
{
	const char *vs, *ve;

	return js_obj_get(fs, fe, key, &vs, &ve) == 1 && js_plain_str(vs, ve, s, n);
}

static int
js_get_is(const char *fs, const char *fe, const char *key, const char *lit)
{
	const char *s;
	size_t n;

	return js_get_str(fs, fe, key, &s, &n) && n == strlen(lit) &&
	       !memcmp(s, lit, n);
}

static int
span_is(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && !memcmp(s, lit, n);
}

static int
span_starts(const char *s, size_t n, const char *lit)
{
	return n >= strlen(lit) && !memcmp(s, lit, strlen(lit));
}

/* Interns "A|B" (or "A|B|C" when c is given). */
static int
key_join(const char *a, size_t an, const char *b, size_t bn, const char *c,
	 size_t cn)
{
	char key[256];
	int n;

	if (c)
		n = snprintf(key, sizeof(key), "%.*s|%.*s|%.*s", (int)an, a,
			     (int)bn, b, (int)cn, c);
	else
		n = snprintf(key, sizeof(key), "%.*s|%.*s", (int)an, a, (int)bn, b);
	if (n < 0 || (size_t)n >= sizeof(key))
		return -1;
	return key_intern(key, (size_t)n);
}

/* Routing keys of the keyed exchanges, the same strings their subscribe
 * requests are turned into (see fakex.md).  Acks, errors, pongs and
 * heartbeats in a recording get no key: they are never replayed. */
static int
keyed_frame_key(const char *fs, const char *fe, struct rline *l)
{
	const char *vs, *ve, *as, *ae, *es, *ee, *ch, *sy, *it;
	size_t chn, syn, itn;

	fs = js_ws(fs, fe);
	switch (opt.exchange) {
	case EX_OKX:	/* {"arg":{"channel","instId"},["action",]"data":[...]} */
	case EX_BITGET:	/* {"action","arg":{"instType","channel","instId"},"data":[...]} */
		if (js_obj_get(fs, fe, "data", &vs, &ve) != 1 ||
		    js_obj_get(fs, fe, "event", &vs, &ve) == 1 ||
		    js_obj_get(fs, fe, "arg", &as, &ae) != 1 ||
		    !js_get_str(as, ae, "channel", &ch, &chn) ||
		    !js_get_str(as, ae, "instId", &sy, &syn))
			return -1;
		if (opt.exchange == EX_OKX) {
			l->book = span_starts(ch, chn, "books") || span_is(ch, chn, "bbo-tbt");
			l->book_snap = l->book && (js_obj_get(fs, fe, "action", &vs, &ve) != 1 ||
						   js_get_is(fs, fe, "action", "snapshot"));
			return key_join(ch, chn, sy, syn, NULL, 0);
		}
		if (!js_get_str(as, ae, "instType", &it, &itn))
			return -1;
		l->book = span_starts(ch, chn, "books");
		l->book_snap = l->book && (!span_is(ch, chn, "books") ||
					   js_get_is(fs, fe, "action", "snapshot"));
		return key_join(it, itn, ch, chn, sy, syn);
	case EX_BYBIT:	/* {"topic","type","data"} */
		if (js_obj_get(fs, fe, "data", &vs, &ve) != 1 ||
		    !js_get_str(fs, fe, "topic", &ch, &chn))
			return -1;
		l->book = span_starts(ch, chn, "orderbook.");
		l->book_snap = l->book && js_get_is(fs, fe, "type", "snapshot");
		return key_intern(ch, chn);
	case EX_KRAKEN:	/* {"channel","type","data":[{"symbol",...}]} */
		if (js_get_is(fs, fe, "channel", "instrument")) {
			/* {"channel":"instrument","type","data":{"assets","pairs"}} */
			l->book = 1;
			l->book_snap = js_get_is(fs, fe, "type", "snapshot");
			l->snapshot = (signed char)l->book_snap;
			return key_intern("instrument", 10);
		}
		if (!js_get_str(fs, fe, "channel", &ch, &chn) ||
		    js_obj_get(fs, fe, "data", &vs, &ve) != 1 ||
		    !js_arr_first(vs, ve, &es, &ee) ||
		    !js_get_str(es, ee, "symbol", &sy, &syn))
			return -1;
		if (js_get_is(fs, fe, "type", "snapshot"))
			l->snapshot = 1;
		else if (js_get_is(fs, fe, "type", "update"))
			l->snapshot = 0;
		l->book = span_is(ch, chn, "book");
		l->book_snap = l->book && l->snapshot == 1;
		return key_join(ch, chn, sy, syn, NULL, 0);
	case EX_GATEIO:	/* {"channel","event":"update","result":{...}}; spot.obu has no event */
		if (!js_get_str(fs, fe, "channel", &ch, &chn) ||
		    js_obj_get(fs, fe, "result", &as, &ae) != 1 ||
		    (js_obj_get(fs, fe, "event", &vs, &ve) == 1 &&
		     !js_get_is(fs, fe, "event", "update")))
			return -1;
		if (!js_get_str(as, ae, "currency_pair", &sy, &syn) &&
		    !js_get_str(as, ae, "s", &sy, &syn))
			return -1;
		l->book = span_is(ch, chn, "spot.obu") ||
			  span_is(ch, chn, "spot.order_book_update") ||
			  span_is(ch, chn, "spot.order_book");
		if (l->book) {
			l->book_snap = span_is(ch, chn, "spot.order_book") ||
				       (js_obj_get(as, ae, "full", &vs, &ve) == 1 &&
					ve - vs == 4 && !memcmp(vs, "true", 4));
		}
		return key_join(ch, chn, sy, syn, NULL, 0);
	case EX_COINBASE: {	/* {"channel","sequence_num","events":[{...}]} */
		static const struct { const char *frame, *sub, *list; } map[] = {
			{ "l2_data", "level2", NULL },
			{ "market_trades", "market_trades", "trades" },
			{ "ticker", "ticker", "tickers" },
			{ "ticker_batch", "ticker_batch", "tickers" },
			{ "candles", "candles", "candles" },
		};
		size_t i;

		if (!js_get_str(fs, fe, "channel", &ch, &chn) ||
		    js_obj_get(fs, fe, "events", &vs, &ve) != 1 ||
		    !js_arr_first(vs, ve, &es, &ee))
			return -1;
		for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (span_is(ch, chn, map[i].frame))
				break;
		if (i == sizeof(map) / sizeof(map[0]))
			return -1;
		if (map[i].list) {	/* the first item's product */
			if (js_obj_get(es, ee, map[i].list, &vs, &ve) != 1 ||
			    !js_arr_first(vs, ve, &es, &ee))
				return -1;
		}
		if (!js_get_str(es, ee, "product_id", &sy, &syn))
			return -1;
		if (!map[i].list) {
			l->book = 1;
			l->book_snap = js_get_is(es, ee, "type", "snapshot");
		}
		return key_join(map[i].sub, strlen(map[i].sub), sy, syn, NULL, 0);
	}
	default:
		return -1;
	}
}

enum { RL_OK, RL_EMPTY, RL_OTHER, RL_EVENT, RL_BAD, RL_OOM };

static int
rec_parse_line(const char *s, const char *e)
{
	const char *vs, *ve, *fs, *fe, *str;
	size_t n;
	struct rline l = { .key = -1, .snapshot = -1 };
	char num[32];

	s = js_ws(s, e);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	if (s == e)
		return RL_EMPTY;
	if (js_obj_get(s, e, "exchange", &vs, &ve) != 1 ||
	    !js_plain_str(vs, ve, &str, &n))
		return RL_BAD;
	if (n != strlen(opt.exchange_name) || memcmp(str, opt.exchange_name, n))
		return RL_OTHER;
	if (js_obj_get(s, e, "data", &fs, &fe) != 1)
		return js_obj_get(s, e, "event", &vs, &ve) == 1 ? RL_EVENT : RL_BAD;
	if (js_obj_get(s, e, "local_ts", &vs, &ve) == 1 &&
	    (size_t)(ve - vs) < sizeof(num)) {
		memcpy(num, vs, (size_t)(ve - vs));
		num[ve - vs] = '\0';
		l.ts = strtoll(num, NULL, 10);
	}
	l.frame = fs;
	l.frame_len = (size_t)(fe - fs);
	if (opt.exchange == EX_BINANCE) {
		if (js_obj_get(fs, fe, "stream", &vs, &ve) == 1 &&
		    js_plain_str(vs, ve, &str, &n)) {
			l.key = key_intern(str, n);
			if (l.key < 0)
				return RL_OOM;
			if (n == 15 && !memcmp(str, "!serverShutdown", 15))
				rec.shutdown_key = l.key;
		}
		if (js_obj_get(fs, fe, "data", &vs, &ve) == 1) {
			l.inner = vs;
			l.inner_len = (size_t)(ve - vs);
		}
	} else if (UPBIT_LIKE) {
		l.key = upbit_frame_key(fs, fe, &l.snapshot);
	} else {
		l.key = keyed_frame_key(fs, fe, &l);
	}
	if (rec.n == rec.cap) {
		size_t nc = rec.cap ? rec.cap * 2 : 1024;
		struct rline *nl = realloc(rec.lines, nc * sizeof(*nl));

		if (!nl)
			return RL_OOM;
		rec.lines = nl;
		rec.cap = nc;
	}
	rec.lines[rec.n++] = l;
	return RL_OK;
}

static int
rec_load(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 0, nread, counts[RL_OOM + 1] = { 0 }, unroutable = 0, i;
	char *p, *e, *nl, q[512], qe[128];

	if (!f) {
		const char *why = strerror(errno);

		fxlog(LV_ERROR, "cannot open recording", "path=%s error=%s",
		     lq(q, sizeof(q), path, strlen(path)),
		     lq(qe, sizeof(qe), why, strlen(why)));
		return -1;
	}
	/* Read to EOF rather than stat the size, so a FIFO works too. */
	for (;;) {
		if (rec.size + 65536 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 1 << 20;
			if (!(nb = realloc(rec.buf, cap))) {
				fclose(f);
				fxlog(LV_ERROR, "out of memory reading recording", NULL);
				return -1;
			}
			rec.buf = nb;
		}
		nread = fread(rec.buf + rec.size, 1, cap - rec.size - 1, f);
		rec.size += nread;
		if (!nread)
			break;
	}
	if (ferror(f)) {
		fclose(f);
		fxlog(LV_ERROR, "cannot read recording", "path=%s",
		     lq(q, sizeof(q), path, strlen(path)));
		return -1;
	}
	fclose(f);
	if (!rec.buf && !(rec.buf = malloc(1)))
		return -1;
	rec.buf[rec.size] = '\0';

	for (p = rec.buf, e = rec.buf + rec.size; p < e; p = nl + 1) {
		int r;

		if (!(nl = memchr(p, '\n', (size_t)(e - p))))
			nl = e;
		r = rec_parse_line(p, nl);
		if (r == RL_OOM) {
			fxlog(LV_ERROR, "out of memory indexing recording", NULL);
			return -1;
		}
		counts[r]++;
	}
	for (i = 0; i < rec.n; i++)
		unroutable += rec.lines[i].key < 0;
	if (rec.n > 1)
		rec.avg_gap = (rec.lines[rec.n - 1].ts - rec.lines[0].ts) /
			      (int64_t)(rec.n - 1);
	if (rec.avg_gap < 1000)
		rec.avg_gap = 1000;
	fxlog(LV_INFO, "recording loaded",
	     "path=%s lines=%zu keys=%zu other_exchange=%zu events=%zu bad=%zu unroutable=%zu",
	     lq(q, sizeof(q), path, strlen(path)), rec.n, rec.nkeys,
	     counts[RL_OTHER], counts[RL_EVENT], counts[RL_BAD], unroutable);
	if (counts[RL_BAD])
		fxlog(LV_WARN, "recording has lines that are not envelopes",
		     "count=%zu", counts[RL_BAD]);
	return 0;
}

static void
rec_free(void)
{
	size_t i;

	for (i = 0; i < rec.nkeys; i++)
		free(rec.keys[i]);
	free(rec.keys);
	free(rec.slots);
	free(rec.lines);
	free(rec.buf);
}

/* ------------------------------------------------------------------ */
/* Connections, outgoing messages and global state */

enum mkind { MK_DATA, MK_STATUS, MK_PONG, MK_HEARTBEAT, MK_OTHER };

/* One outgoing frame, shared by reference when broadcast (huge frames
 * would otherwise be copied per client).  lws_write() needs LWS_PRE bytes
 * of headroom in front of the payload, and rewrites them on each write. */
struct msg {
	int refs;
	enum mkind kind;
	enum lws_write_protocol wp;
	size_t len;
	unsigned char buf[];
};

struct qnode {
	struct qnode *next;
	struct msg *m;
};

struct utype {			/* one Upbit type object */
	char *type;
	char **codes;
	int ncodes;
	int only_snapshot, only_realtime;
};

#define WANT_SNAP 1
#define WANT_RT   2
#define WANT_ALL  3

struct conn {
	struct lws *wsi;
	struct conn *prev, *next;
	unsigned id;
	int established, closing, tls;
	int64_t since_us;
	char *path;

	/* output */
	struct qnode *qhead, *qtail;
	size_t queued;
	int close_code;
	char close_reason[64];
	int ping_pending;
	unsigned char *scratch;
	size_t scratch_cap;

	/* input */
	char *rx;
	size_t rx_len, rx_cap;
	int rx_in_msg, rx_binary;
	int64_t last_rx_us;
	int64_t rl_start_us;
	int rl_count;

	/* replay */
	unsigned char *want;	/* per routing key: WANT_* bits */
	int has_sub;
	int ever_sub;		/* has_sub was true once */
	int starved;		/* a whole pass matched nothing: wait for a change */
	int done;		/* end of recording reached (no --loop) */
	int running;		/* replay timer is scheduled */
	int64_t replay_at;	/* when it runs (mono_us) */
	size_t cursor;
	uint64_t pass;		/* --loop: passes of the recording completed (reid) */
	uint64_t live_at;	/* --live: absolute line count reached */
	int live_joined;
	int64_t base_us, due_us;
	uint64_t paced, sent, skipped;
	lws_sorted_usec_list_t sul_ping, sul_pong, sul_status, sul_idle, sul_hb;
	int64_t last_tx_us;	/* a frame was written */
	int64_t last_ping_us;	/* Bitget: the client's last text ping */

	/* faults on command */
	long skip_left;		/* recorded frames still to drop (skip N) */
	int corrupt_pending;	/* the next "checksum":N sent gets another N */
	int endless;		/* an endless message (ENDLESS_*) replaces everything else */
	long endless_bps;	/* its pace, bytes a second */
	int endless_started;	/* its header (or first fragment) went out */
	size_t endless_hdr_off;	/* bytes of the raw header written (ENDLESS_LENGTH) */
	uint64_t endless_due;	/* payload bytes due and not yet written */
	int64_t endless_at;	/* when endless_due was last brought up to date */
	lws_sorted_usec_list_t sul_endless;

	/* Binance stream names, or the keyed exchanges' subscription keys */
	char **streams;
	unsigned char *sbits;	/* keyed: WANT_* bits per key */
	int nstreams;
	int combined;

	/* keyed exchanges */
	char conn_id[40];
	uint64_t seqnum;	/* Coinbase: sequence_num of the next message */
	uint64_t hb_count;	/* Coinbase: heartbeat_counter */
	int hb_sub;		/* Coinbase: subscribed to heartbeats */
	int hb_on;		/* heartbeat timer running */
	struct {
		uint64_t payload;
		int64_t sent_us;
	} pings[PING_RING];
	int nping, pong_armed;

	/* Upbit */
	struct utype *types;
	int ntypes;
	char format[16];
	char *ticket;
	int status_on;
};

static struct {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct conn *conns;
	unsigned next_id;
	int paused, stalled, refusing, hanging;
	int hung[MAX_HUNG];	/* accepted sockets left unanswered, oldest first */
	int nhung;
	FILE *events;
	int ctl_fd;
	int ctl_created;
	int replay_fd;		/* timerfd: the earliest connection's next line */
	int64_t replay_armed;	/* when it fires (mono_us), 0 when disarmed */
	int64_t start_us;
	struct {
		uint64_t connections, accepted, messages_sent, frames_sent;
		uint64_t pings_sent, pongs_received, status_sent;
		uint64_t subscriptions, skipped, rejected;
		uint64_t pongs_sent, heartbeats_sent, errors_sent;
		uint64_t fault_skipped, corrupted, snapshots_sent;
		uint64_t hung, endless_bytes;
	} st;
} g = { .ctl_fd = -1, .replay_fd = -1 };

static volatile sig_atomic_t got_signal;

static void
event_emit(struct sbuf *b)
{
	if (!g.events || b->oom)
		return;
	fwrite(b->p, 1, b->len, g.events);
	fputc('\n', g.events);
	fflush(g.events);
}

static void
event_simple(const char *name)
{
	struct sbuf b = { 0 };

	sb_addf(&b, "{\"event\":\"%s\"}", name);
	event_emit(&b);
	sb_free(&b);
}

static struct msg *
msg_new(const void *data, size_t len, enum lws_write_protocol wp,
	enum mkind kind)
{
	struct msg *m = malloc(sizeof(*m) + LWS_PRE + len);

	if (!m)
		return NULL;
	m->refs = 0;
	m->kind = kind;
	m->wp = wp;
	m->len = len;
	if (data)
		memcpy(m->buf + LWS_PRE, data, len);
	return m;
}

static void
msg_unref(struct msg *m)
{
	if (m && --m->refs <= 0)
		free(m);
}

static int
conn_push(struct conn *c, struct msg *m)
{
	struct qnode *q = malloc(sizeof(*q));

	if (!q)
		return -1;
	q->next = NULL;
	q->m = m;
	m->refs++;
	if (c->qtail)
		c->qtail->next = q;
	else
		c->qhead = q;
	c->qtail = q;
	c->queued += m->len;
	lws_callback_on_writable(c->wsi);
	return 0;
}

/* Queues a control-plane answer (acks, errors, status): always kept, as
 * they are small and bounded by the client's own request rate. */
static void
conn_send(struct conn *c, const char *text, size_t len,
	  enum lws_write_protocol wp, enum mkind kind)
{
	struct msg *m = msg_new(text, len, wp, kind);

	if (!m || conn_push(c, m))
		fxlog(LV_ERROR, "out of memory queueing a frame", "conn=%u", c->id);
	if (m && !m->refs)
		free(m);
}

/* Asks lws for a chance to send a close frame; if the client never lets
 * us write, the timeout kills the connection anyway. */
static void
conn_close(struct conn *c, int code, const char *reason)
{
	if (c->close_code)
		return;
	c->closing = 1;
	c->close_code = code;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
	lws_callback_on_writable(c->wsi);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 5);
}

/* ------------------------------------------------------------------ */
/* Replay */

static int
replay_can_run(const struct conn *c)
{
	return rec.n && c->has_sub && !c->starved && !c->done && !c->closing &&
	       !c->endless && !g.paused && !g.stalled;
}

static int
line_wanted(const struct conn *c, const struct rline *l)
{
	unsigned bits;

	if (l->key < 0)
		return 0;
	bits = c->want[l->key];
	if (l->snapshot == 1)
		bits &= WANT_SNAP;
	else if (l->snapshot == 0)
		bits &= WANT_RT;
	if (!bits)
		return 0;
	/* a raw /ws Binance connection gets the inner payload */
	return opt.exchange != EX_BINANCE || c->combined || l->inner;
}

static void
line_text(const struct conn *c, const struct rline *l, const char **s,
	  size_t *n)
{
	if (opt.exchange == EX_BINANCE && !c->combined) {
		*s = l->inner;
		*n = l->inner_len;
	} else {
		*s = l->frame;
		*n = l->frame_len;
	}
}

/* Moves the cursor one line on; at the end either wraps (--loop) or marks
 * the connection done.  In real-pace mode it also advances the due time by
 * the recorded gap. */
static void
replay_advance(struct conn *c)
{
	int64_t gap;
	size_t from = c->cursor;

	c->cursor++;
	if (c->cursor >= rec.n) {
		if (!opt.loop) {
			c->done = 1;
			return;
		}
		c->cursor = 0;
		c->pass++;
		gap = rec.avg_gap;
	} else {
		gap = rec.lines[c->cursor].ts - rec.lines[from].ts;
		if (gap < 0)
			gap = 0;
	}
	c->due_us += (int64_t)((double)gap / opt.speed);
}

/* Finds the next line this connection wants, looking at most at one whole
 * pass of the recording.  Returns NULL when there is none right now. */
static const struct rline *
replay_take(struct conn *c)
{
	size_t looked, from = c->cursor;

	for (looked = 0; looked < rec.n && !c->done; looked++) {
		const struct rline *l = &rec.lines[c->cursor];

		replay_advance(c);
		if (line_wanted(c, l)) {
			if (c->done)
				fxlog(LV_INFO, "replay reached the end of the recording",
				     "conn=%u", c->id);
			return l;
		}
	}
	/* Nothing this connection wants lies ahead: it keeps its place, so a
	 * subscription made later (one request per channel, say) starts here,
	 * not past the end. */
	if (c->done && from < rec.n)
		c->done = 0;
	c->cursor = from;
	c->starved = 1;
	return NULL;
}

/* --retime: the exchange's own millisecond times in a frame are moved by OFFSET_MS, so a
 * replayed recording carries current times (the demo's feed latency stays meaningful).
 * The keys are the exchange's epoch-ms fields, numbers or strings of 13 digits (a
 * fraction after them, as Gate's create_time_ms has, stays). RFC 3339 times (Kraken,
 * Coinbase) are left as recorded. */
static const char *
retime(const char *s, size_t n, int64_t offset_ms, size_t *outlen)
{
	static const char *const k_binance[] = { "\"E\":", "\"T\":", "\"timestamp\":",
		"\"trade_timestamp\":", "\"tms\":", "\"ttms\":", NULL };
	static const char *const k_bybit[] = { "\"ts\":", "\"T\":", "\"cts\":", NULL };
	static const char *const k_ts[] = { "\"ts\":", NULL };
	static const char *const k_gate[] = { "\"time_ms\":", "\"t\":", "\"create_time_ms\":",
		NULL };
	static const char *const k_none[] = { NULL };
	const char *const *keys;
	static char *buf;
	static size_t cap;
	size_t o = 0, i = 0;

	switch (opt.exchange) {
	case EX_BYBIT: keys = k_bybit; break;
	case EX_OKX: case EX_BITGET: keys = k_ts; break;
	case EX_GATEIO: keys = k_gate; break;
	case EX_KRAKEN: case EX_COINBASE: keys = k_none; break;
	default: keys = k_binance; break;
	}
	if (!keys[0]) {
		*outlen = n;
		return s;
	}
	if (cap < n + 64) {
		char *nb = realloc(buf, n + 64);
		if (!nb) {
			*outlen = n;
			return s;
		}
		buf = nb;
		cap = n + 64;
	}
	while (i < n) {
		size_t k, kl = 0, q;
		if (s[i] != '"') {	/* every key starts with its quote */
			buf[o++] = s[i++];
			continue;
		}
		for (k = 0; keys[k]; k++) {
			kl = strlen(keys[k]);
			q = i + kl < n && s[i + kl] == '"';
			if (i + kl + q < n && !memcmp(s + i, keys[k], kl) &&
			    s[i + kl + q] >= '0' && s[i + kl + q] <= '9')
				break;
		}
		if (!keys[k]) {
			buf[o++] = s[i++];
			continue;
		}
		q = s[i + kl] == '"';
		kl += q;	/* the opening quote of a string value is copied with the key */
		size_t d = i + kl, e = d;
		int64_t v = 0;
		while (e < n && s[e] >= '0' && s[e] <= '9' && e - d < 18)
			v = v * 10 + (s[e++] - '0');
		memcpy(buf + o, s + i, kl);
		o += kl;
		/* Only epoch milliseconds move; other numbers under these keys stay. */
		if (e - d == 13)
			o += (size_t)snprintf(buf + o, cap - o, "%lld", (long long)(v + offset_ms));
		else {
			memcpy(buf + o, s + d, e - d);
			o += e - d;
		}
		i = e;
		if (o + 64 > cap)
			break;
	}
	if (i < n) {
		*outlen = n;
		return s;
	}
	*outlen = o;
	return buf;
}

/* --loop: every pass after the first moves the trade ids by PASS * REID_STEP, so a
 * replayed recording never repeats a trade, as no exchange does (the relay drops a trade
 * it already passed on). Numbers and digit strings under each exchange's trade-id keys
 * move; anything else stays. */
#define REID_STEP 1000000000ULL
static const char *
reid(const char *s, size_t n, uint64_t pass, size_t *outlen)
{
	static const char *const k_binance[] = { "\"t\":", "\"a\":", NULL };
	static const char *const k_upbit[] = { "\"sequential_id\":", "\"sid\":", NULL };
	static const char *const k_trade_id[] = { "\"trade_id\":", NULL };
	static const char *const k_bybit[] = { "\"i\":", NULL };
	static const char *const k_trade_id2[] = { "\"tradeId\":", NULL };
	static const char *const k_gate[] = { "\"id\":", NULL };
	const char *const *keys;
	static char *buf;
	static size_t cap;
	size_t o = 0, i = 0;

	switch (opt.exchange) {
	case EX_UPBIT: case EX_BITHUMB: keys = k_upbit; break;
	case EX_COINBASE: case EX_KRAKEN: keys = k_trade_id; break;
	case EX_BYBIT: keys = k_bybit; break;
	case EX_OKX: case EX_BITGET: keys = k_trade_id2; break;
	case EX_GATEIO: keys = k_gate; break;
	default: keys = k_binance; break;
	}
	if (cap < n + 256) {
		char *nb = realloc(buf, n + 256);
		if (!nb) {
			*outlen = n;
			return s;
		}
		buf = nb;
		cap = n + 256;
	}
	while (i < n) {
		size_t k, kl = 0;
		if (s[i] != '"') {
			buf[o++] = s[i++];
			continue;
		}
		for (k = 0; keys[k]; k++) {
			kl = strlen(keys[k]);
			if (i + kl + 1 < n && !memcmp(s + i, keys[k], kl))
				break;
		}
		if (!keys[k]) {
			buf[o++] = s[i++];
			continue;
		}
		size_t q = s[i + kl] == '"', d = i + kl + q, e = d;
		uint64_t v = 0;
		while (e < n && s[e] >= '0' && s[e] <= '9' && e - d < 19)
			v = v * 10 + (uint64_t)(s[e++] - '0');
		memcpy(buf + o, s + i, kl + q);
		o += kl + q;
		/* a whole digit string (closed by its quote when quoted) moves */
		if (e > d && (!q || (e < n && s[e] == '"')) && (q || e >= n || s[e] < '0' || s[e] > '9'))
			o += (size_t)snprintf(buf + o, cap - o, "%llu", (unsigned long long)(v + pass * REID_STEP));
		else {
			memcpy(buf + o, s + d, e - d);
			o += e - d;
		}
		i = e;
		if (o + 64 > cap)
			break;
	}
	if (i < n) {
		*outlen = n;
		return s;
	}
	*outlen = o;
	return buf;
}

static enum lws_write_protocol
data_wp(void)
{
	return xinfo[opt.exchange].binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT;
}

/* The integer after the first "checksum": in [s, s+n): its last digit. */
static char *
find_checksum(char *s, size_t n)
{
	char *p = s, *e = s + n, *d;

	while (p < e && (p = memmem(p, (size_t)(e - p), "\"checksum\":", 11))) {
		p += 11;
		while (p < e && *p == ' ')
			p++;
		if (p < e && *p == '-')
			p++;
		for (d = p; d < e && *d >= '0' && *d <= '9'; d++)
			;
		if (d > p)
			return d - 1;
	}
	return NULL;
}

/* The frame sent for line L: the recorded text, moved in time (--retime),
 * carrying this connection's sequence_num (Coinbase numbers every message of
 * a connection) and a pending `corrupt` fault.  Valid until the next call. */
static const char *
line_render(struct conn *c, const struct rline *l, size_t *n)
{
	static struct sbuf out;
	const char *s, *vs, *ve;
	char *d;
	size_t len;

	line_text(c, l, &s, &len);
	if (opt.retime && l->ts > 0)
		s = retime(s, len, (wall_us() - l->ts) / 1000, &len);
	if (c->pass)
		s = reid(s, len, c->pass, &len);
	if (opt.exchange == EX_COINBASE &&
	    js_obj_get(s, s + len, "sequence_num", &vs, &ve) == 1) {
		out.len = 0;
		out.oom = 0;
		sb_add(&out, s, (size_t)(vs - s));
		sb_addf(&out, "%" PRIu64, c->seqnum++);
		sb_add(&out, ve, (size_t)(s + len - ve));
		if (!out.oom) {
			s = out.p;
			len = out.len;
		}
	}
	if (c->corrupt_pending && memmem(s, len, "\"checksum\":", 11)) {
		if (s != out.p) {
			out.len = 0;
			out.oom = 0;
			sb_add(&out, s, len);
		}
		if (!out.oom && (d = find_checksum(out.p, out.len))) {
			/* another integer of the same width and sign, in range */
			*d = *d == '0' ? '1' : (char)(*d - 1);
			c->corrupt_pending = 0;
			g.st.corrupted++;
			event_simple("corrupt");
			fxlog(LV_INFO, "checksum corrupted", "conn=%u", c->id);
			s = out.p;
			len = out.len;
		}
	}
	*n = len;
	return s;
}

/* A `skip` fault eats this line.  Returns 1 when it did. */
static int
fault_skip(struct conn *c, const struct rline *l)
{
	struct sbuf b = { 0 };

	if (c->skip_left <= 0)
		return 0;
	c->skip_left--;
	g.st.fault_skipped++;
	if (opt.exchange == EX_COINBASE)
		c->seqnum++;	/* a lost message leaves a hole in the numbers */
	sb_adds(&b, "{\"event\":\"skip\",\"key\":");
	if (l->key >= 0)
		sb_json_str(&b, rec.keys[l->key], strlen(rec.keys[l->key]));
	else
		sb_adds(&b, "null");
	sb_addc(&b, '}');
	event_emit(&b);
	sb_free(&b);
	return 1;
}

/* Queues line L for C.  Past QUEUE_CAP a line is dropped (a slow client)
 * unless FORCE: catch-up frames after a subscription must all go out. */
static void
queue_line(struct conn *c, const struct rline *l, int force)
{
	const char *s;
	size_t n;
	struct msg *m;

	if (fault_skip(c, l))
		return;
	line_text(c, l, &s, &n);
	/* A slow client loses lines instead of growing our memory. */
	if (!force && c->queued + n > QUEUE_CAP) {
		c->skipped++;
		g.st.skipped++;
		if (opt.exchange == EX_COINBASE)
			c->seqnum++;
		return;
	}
	s = line_render(c, l, &n);
	m = msg_new(s, n, data_wp(), MK_DATA);
	if (!m || conn_push(c, m)) {
		free(m);
		c->skipped++;
		g.st.skipped++;
	}
}

/* Replay runs on a timerfd rather than libwebsockets' timers: those wait in whole
 * milliseconds, rounded down, so each wait ends in up to a millisecond of zero-timeout
 * polls, and at a line every millisecond the server would spin. */
static void
replay_arm(int64_t at)
{
	struct itimerspec it;

	memset(&it, 0, sizeof(it));
	if (at > 0) {
		it.it_value.tv_sec = at / 1000000;
		it.it_value.tv_nsec = (long)(at % 1000000) * 1000;
	}
	if (g.replay_fd >= 0 && !timerfd_settime(g.replay_fd, TFD_TIMER_ABSTIME, &it, NULL))
		g.replay_armed = at;
}

static void
replay_schedule(struct conn *c, int64_t delay_us)
{
	if (delay_us < 0)
		delay_us = 0;
	/* --tick-us: a wait is never shorter than a tick; what falls due meanwhile goes out
	 * together, one frame per line, as bursts of trades do on a busy exchange. */
	if (delay_us > 0 && delay_us < opt.tick_us)
		delay_us = opt.tick_us;
	c->running = 1;
	c->replay_at = mono_us() + delay_us;
	if (!g.replay_armed || c->replay_at < g.replay_armed)
		replay_arm(c->replay_at);
}

/* --live: one clock for every connection, like a real exchange's feed. The recording moves
 * on at --rate lines a second whoever listens; a connection that subscribes joins where it
 * is now (a reconnecting client misses what passed meanwhile and never gets it twice).
 * pause freezes this clock. */
static struct {
	int64_t t0, paused_at, paused_total;
} live;

static uint64_t
live_pos(int64_t now)
{
	int64_t at = live.paused_at ? live.paused_at : now;
	int64_t el = at - live.t0 - live.paused_total;
	return el > 0 ? (uint64_t)el * (uint64_t)opt.rate / 1000000u : 0;
}

static void
live_tick(struct conn *c, int64_t now)
{
	uint64_t target = live_pos(now);
	int budget;

	for (budget = 0; budget < TICK_BUDGET && c->live_at < target; budget++) {
		if (!opt.loop && c->live_at >= rec.n) {
			c->done = 1;
			return;
		}
		const struct rline *l = &rec.lines[c->live_at % rec.n];

		c->pass = c->live_at / rec.n;
		c->live_at++;
		if (line_wanted(c, l))
			queue_line(c, l, 0);
	}
	if (budget == TICK_BUDGET) {
		replay_schedule(c, 1000);
		return;
	}
	/* Next line is due when the clock reaches it. */
	int64_t due = live.t0 + live.paused_total + (int64_t)((c->live_at + 1) * 1000000u / (uint64_t)opt.rate);
	replay_schedule(c, due - now);
}

static void
replay_run(struct conn *c)
{
	int64_t now = mono_us();
	int budget;

	c->running = 0;
	if (!replay_can_run(c))
		return;

	if (opt.live) {
		live_tick(c, now);
		return;
	}
	if (opt.pace_real) {
		/* Every line, wanted or not, takes its recorded time. */
		for (budget = 0; budget < TICK_BUDGET && c->due_us <= now; budget++) {
			const struct rline *l = &rec.lines[c->cursor];

			replay_advance(c);
			if (line_wanted(c, l))
				queue_line(c, l, 0);
			if (c->done) {
				fxlog(LV_INFO, "replay reached the end of the recording",
				     "conn=%u", c->id);
				return;
			}
		}
		replay_schedule(c, budget == TICK_BUDGET ? 1000 : c->due_us - now);
		return;
	}

	/* --rate N: the k-th wanted line is due at base + k/N s.  Lines the
	 * connection did not subscribe to take no time. */
	{
		uint64_t target = (uint64_t)(now - c->base_us) *
				  (uint64_t)opt.rate / 1000000u + 1;

		for (budget = 0; budget < TICK_BUDGET && c->paced < target; budget++) {
			const struct rline *l = replay_take(c);

			if (!l)
				return;
			queue_line(c, l, 0);
			c->paced++;
		}
		if (c->done)
			return;
		if (c->paced < target) {
			replay_schedule(c, 1000);
			return;
		}
		replay_schedule(c, c->base_us + (int64_t)(c->paced * 1000000u /
				(uint64_t)opt.rate) - now);
	}
}

/* The replay timer fired: run every connection that is due, then arm it for the next. */
static void
replays_due(void)
{
	uint64_t expirations;
	struct conn *c, *next;
	int64_t now = mono_us(), first = 0;

	while (read(g.replay_fd, &expirations, sizeof(expirations)) > 0)
		;
	g.replay_armed = 0;
	for (c = g.conns; c; c = next) {
		next = c->next;
		if (c->running && c->replay_at <= now) {
			c->running = 0;
			replay_run(c);
		}
	}
	for (c = g.conns; c; c = c->next)
		if (c->running && (!first || c->replay_at < first))
			first = c->replay_at;
	if (first != g.replay_armed)
		replay_arm(first);
}

/* (Re)starts replay after anything that may have stopped it: first
 * subscription, a subscription change, play, resume.  Pacing restarts
 * from now so a pause is not followed by a burst. */
static void
replay_kick(struct conn *c)
{
	c->starved = 0;
	if (!replay_can_run(c))
		return;
	if (opt.rate == 0 && !opt.pace_real) {
		lws_callback_on_writable(c->wsi);
		return;
	}
	if (c->running)
		return;
	if (opt.live && !c->live_joined) {
		c->live_joined = 1;
		c->live_at = live_pos(mono_us());
	}
	c->base_us = c->due_us = mono_us();
	c->paced = 0;
	replay_schedule(c, 0);
}

/* ------------------------------------------------------------------ */
/* Subscriptions */

static void
want_recompute(struct conn *c)
{
	int i, j, id;

	if (!c->want)
		return;
	memset(c->want, 0, rec.nkeys ? rec.nkeys : 1);
	if (opt.exchange == EX_BINANCE) {
		for (i = 0; i < c->nstreams; i++)
			if ((id = key_lookup(c->streams[i], strlen(c->streams[i]))) >= 0)
				c->want[id] = WANT_ALL;
		c->has_sub = c->nstreams > 0;
		if (c->has_sub && rec.shutdown_key >= 0)
			c->want[rec.shutdown_key] = WANT_ALL;
	} else if (KEYED) {
		for (i = 0; i < c->nstreams; i++)
			if ((id = key_lookup(c->streams[i], strlen(c->streams[i]))) >= 0)
				c->want[id] |= c->sbits[i];
		c->has_sub = c->nstreams > 0;
	} else {
		for (i = 0; i < c->ntypes; i++) {
			const struct utype *t = &c->types[i];
			unsigned bits = t->only_snapshot ? WANT_SNAP :
					t->only_realtime ? WANT_RT : WANT_ALL;

			for (j = 0; j < t->ncodes; j++) {
				char key[128];
				const char *dot = strchr(t->codes[j], '.');
				size_t cn = dot ? (size_t)(dot - t->codes[j]) :
					    strlen(t->codes[j]);
				int kn = snprintf(key, sizeof(key), "%s|%.*s",
						  t->type, (int)cn, t->codes[j]);

				if (kn > 0 && (size_t)kn < sizeof(key) &&
				    (id = key_lookup(key, (size_t)kn)) >= 0)
					c->want[id] |= (unsigned char)bits;
			}
		}
		c->has_sub = c->ntypes > 0;
	}
	c->ever_sub |= c->has_sub;
}

static void
streams_free(char **s, int n)
{
	while (n-- > 0)
		free(s[n]);
	free(s);
}

/* Keyed exchanges: the connection's subscriptions are a list of keys. */
static int
sub_find(const struct conn *c, const char *key)
{
	int i;

	for (i = 0; i < c->nstreams; i++)
		if (!strcmp(c->streams[i], key))
			return i;
	return -1;
}

/* Adds KEY (or updates its bits).  Returns 1 if added, 0 if it was there,
 * -1 when out of memory. */
static int
sub_add(struct conn *c, const char *key, unsigned bits)
{
	int k = sub_find(c, key);
	char **ns;
	unsigned char *nb;

	if (k >= 0) {
		c->sbits[k] = (unsigned char)bits;
		return 0;
	}
	if (!(ns = realloc(c->streams, (size_t)(c->nstreams + 1) * sizeof(*ns))))
		return -1;
	c->streams = ns;
	if (!(nb = realloc(c->sbits, (size_t)(c->nstreams + 1))))
		return -1;
	c->sbits = nb;
	if (!(ns[c->nstreams] = strdup(key)))
		return -1;
	nb[c->nstreams] = (unsigned char)bits;
	c->nstreams++;
	return 1;
}

/* Returns 1 if KEY was subscribed. */
static int
sub_del(struct conn *c, const char *key)
{
	int k = sub_find(c, key);

	if (k < 0)
		return 0;
	free(c->streams[k]);
	memmove(&c->streams[k], &c->streams[k + 1],
		(size_t)(c->nstreams - k - 1) * sizeof(*c->streams));
	memmove(&c->sbits[k], &c->sbits[k + 1], (size_t)(c->nstreams - k - 1));
	c->nstreams--;
	return 1;
}

/* A new subscription to a book stream starts with a whole book, as on the
 * exchanges: the stream's latest snapshot before the connection's replay
 * position, then every frame of the stream recorded after it, so the book
 * the client builds is the current one and the frames that follow chain on
 * (sequence numbers, checksums).  Nothing when the stream has no snapshot
 * yet: the replay will come to it. */
static void
book_catch_up(struct conn *c, const char *key)
{
	int id = key_lookup(key, strlen(key));
	size_t j, m, n = 0;

	if (id < 0 || !(c->want[id] & WANT_SNAP))
		return;
	for (j = c->cursor; j-- > 0;)
		if (rec.lines[j].key == id && rec.lines[j].book_snap)
			break;
	if (j == (size_t)-1)
		return;
	for (m = j; m < c->cursor && m < rec.n; m++) {
		if (rec.lines[m].key != id)
			continue;
		queue_line(c, &rec.lines[m], 1);
		n++;
	}
	g.st.snapshots_sent++;
	fxlog(LV_INFO, "book snapshot sent", "conn=%u key=%s line=%zu frames=%zu",
	     c->id, key, j, n);
}

static void
utypes_free(struct utype *t, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(t[i].type);
		streams_free(t[i].codes, t[i].ncodes);
	}
	free(t);
}

/* <symbol>@<channel>[@100ms], symbol lower case. */
static int
binance_stream_ok(const char *s, size_t n)
{
	static const char *const plain[] = {
		"trade", "aggTrade", "ticker", "miniTicker", "bookTicker",
		"avgPrice", "ticker_1h", "ticker_4h", "ticker_1d", NULL
	};
	static const char *const depth[] = {
		"depth", "depth5", "depth10", "depth20", NULL
	};
	static const char *const kline[] = {
		"1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h",
		"8h", "12h", "1d", "3d", "1w", "1M", NULL
	};
	const char *at, *ch, *end = s + n, *sfx;
	size_t chn, i;

	if (!n || n > 64)
		return 0;
	if (!(at = memchr(s, '@', n)) || at == s)
		return 0;
	for (ch = s; ch < at; ch++)
		if (!((*ch >= 'a' && *ch <= 'z') || (*ch >= '0' && *ch <= '9')))
			return 0;
	ch = at + 1;
	sfx = memchr(ch, '@', (size_t)(end - ch));
	chn = (size_t)((sfx ? sfx : end) - ch);
	for (i = 0; depth[i]; i++)
		if (chn == strlen(depth[i]) && !memcmp(ch, depth[i], chn))
			return !sfx || ((size_t)(end - sfx) == 6 &&
					!memcmp(sfx, "@100ms", 6));
	if (sfx)
		return 0;
	for (i = 0; plain[i]; i++)
		if (chn == strlen(plain[i]) && !memcmp(ch, plain[i], chn))
			return 1;
	if (chn > 6 && !memcmp(ch, "kline_", 6))
		for (i = 0; kline[i]; i++)
			if (chn - 6 == strlen(kline[i]) &&
			    !memcmp(ch + 6, kline[i], chn - 6))
				return 1;
	return 0;
}

static int
stream_index(const struct conn *c, const char *s)
{
	int i;

	for (i = 0; i < c->nstreams; i++)
		if (!strcmp(c->streams[i], s))
			return i;
	return -1;
}

/* What the upgrade URL asks for. */
struct target {
	int combined;
	char **streams;
	int nstreams;
};

/* Splits "a/b/c" into validated, de-duplicated streams.  Returns 0, or an
 * HTTP status with a reason in why. */
static int
parse_stream_list(const char *list, struct target *t, char *why, size_t wl)
{
	const char *p = list, *slash;
	size_t n;
	int i, dup;

	if (!*p)
		return 0;
	for (;;) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (!binance_stream_ok(p, n)) {
			snprintf(why, wl, "invalid stream: %.*s",
				 (int)(n > 80 ? 80 : n), p);
			return 400;
		}
		for (dup = 0, i = 0; i < t->nstreams && !dup; i++)
			dup = strlen(t->streams[i]) == n &&
			      !memcmp(t->streams[i], p, n);
		if (!dup) {
			char **ns;

			if (t->nstreams >= MAX_STREAMS) {
				snprintf(why, wl, "too many streams (max %d)",
					 MAX_STREAMS);
				return 400;
			}
			ns = realloc(t->streams, (size_t)(t->nstreams + 1) *
				     sizeof(*ns));
			if (!ns || !(ns[t->nstreams] = strndup(p, n))) {
				if (ns)
					t->streams = ns;
				snprintf(why, wl, "out of memory");
				return 500;
			}
			t->streams = ns;
			t->nstreams++;
		}
		if (!slash)
			return 0;
		p = slash + 1;
	}
}

/* full = path plus "?args" as rebuilt by request_path(). */
static int
target_parse(const char *full, struct target *t, char *why, size_t wl)
{
	const char *q = strchr(full, '?');
	size_t pn = q ? (size_t)(q - full) : strlen(full);

	memset(t, 0, sizeof(*t));
	if (opt.exchange != EX_BINANCE) {
		if (span_is(full, pn, xinfo[opt.exchange].path))
			return 0;
		snprintf(why, wl, "unknown path");
		return 404;
	}
	if (pn == 7 && !memcmp(full, "/stream", 7)) {
		const char *a = q;

		t->combined = 1;
		while (a) {
			a++;
			if (!strncmp(a, "streams=", 8)) {
				char *list = strdup(a + 8), *amp;
				int r;

				if (!list)
					return 500;
				if ((amp = strchr(list, '&')))
					*amp = '\0';
				r = parse_stream_list(list, t, why, wl);
				free(list);
				return r;
			}
			a = strchr(a, '&');
		}
		return 0;
	}
	if (pn == 3 && !memcmp(full, "/ws", 3))
		return 0;
	if (pn > 4 && !memcmp(full, "/ws/", 4)) {
		char *list = strndup(full + 4, pn - 4);
		int r;

		if (!list)
			return 500;
		r = parse_stream_list(list, t, why, wl);
		free(list);
		return r;
	}
	snprintf(why, wl, "unknown path");
	return 404;
}

/* The request path with its query, as lws decoded it. */
static char *
request_path(struct lws *wsi)
{
	struct sbuf b = { 0 };
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI), i, fl;

	sb_reserve(&b, 0);
	if (n > 0 && !sb_reserve(&b, (size_t)n) &&
	    lws_hdr_copy(wsi, b.p, n + 1, WSI_TOKEN_GET_URI) >= 0)
		b.len = strlen(b.p);
	for (i = 0; (fl = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS,
						    i)) > 0; i++) {
		sb_addc(&b, i ? '&' : '?');
		if (sb_reserve(&b, (size_t)fl) ||
		    lws_hdr_copy_fragment(wsi, b.p + b.len, fl + 1,
					  WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
			break;
		b.len += strlen(b.p + b.len);
	}
	if (b.oom) {
		sb_free(&b);
		return strdup("");
	}
	return b.p;
}

/* ------------------------------------------------------------------ */
/* Binance requests on the socket */

static void
binance_reply_error(struct conn *c, int code, const char *msg, const char *id,
		    size_t idlen)
{
	struct sbuf b = { 0 };

	sb_addf(&b, "{\"error\":{\"code\":%d,\"msg\":", code);
	sb_json_str(&b, msg, strlen(msg));
	sb_adds(&b, "},\"id\":");
	if (id)
		sb_add(&b, id, idlen);
	else
		sb_adds(&b, "null");
	sb_addc(&b, '}');
	if (!b.oom)
		conn_send(c, b.p, b.len, LWS_WRITE_TEXT, MK_OTHER);
	sb_free(&b);
}

static void
event_streams(const char *name, cJSON *params)
{
	struct sbuf b = { 0 };
	cJSON *it;
	int first = 1;

	sb_addf(&b, "{\"event\":\"%s\",\"streams\":[", name);
	cJSON_ArrayForEach(it, params) {
		if (!first)
			sb_addc(&b, ',');
		first = 0;
		sb_json_str(&b, it->valuestring, strlen(it->valuestring));
	}
	sb_adds(&b, "]}");
	event_emit(&b);
	sb_free(&b);
}

/* Line and column of a cJSON parse error, for code 3 messages. */
static void
json_error_pos(const char *text, size_t len, int *line, int *col)
{
	const char *ep = cJSON_GetErrorPtr(), *p;

	*line = 1;
	*col = 1;
	if (!ep || ep < text || ep > text + len)
		return;
	for (p = text; p < ep; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* id: signed 64-bit integer, short alphanumeric string, or null. */
static int
binance_id_ok(const cJSON *id, const char *raw, size_t rawlen)
{
	size_t i;

	if (cJSON_IsNull(id))
		return 1;
	if (cJSON_IsNumber(id)) {
		char num[32];
		char *end;

		if (rawlen >= sizeof(num))
			return 0;
		memcpy(num, raw, rawlen);
		num[rawlen] = '\0';
		errno = 0;
		(void)strtoll(num, &end, 10);
		return !errno && *end == '\0';
	}
	if (cJSON_IsString(id)) {
		const char *s = id->valuestring;

		if (!*s || strlen(s) > 36)
			return 0;
		for (i = 0; s[i]; i++)
			if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
				return 0;
		return 1;
	}
	return 0;
}

static void
binance_request(struct conn *c, const char *text, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(text, len), *method, *params, *id, *it;
	const char *idraw = NULL, *ve, *m;
	size_t idlen = 0;
	struct sbuf b = { 0 };
	char q[256];

	if (!root) {
		int line, col;
		char msg[96];

		json_error_pos(text, len, &line, &col);
		snprintf(msg, sizeof(msg),
			 "Invalid JSON: expected value at line %d column %d", line, col);
		binance_reply_error(c, 3, msg, NULL, 0);
		return;
	}
	if (!cJSON_IsObject(root)) {
		binance_reply_error(c, 2, "Invalid request: request must be an object",
				    NULL, 0);
		goto out;
	}
	id = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (id && js_obj_get(text, text + len, "id", &idraw, &ve) == 1)
		idlen = (size_t)(ve - idraw);
	if (!id || !idraw) {
		binance_reply_error(c, 2, "Invalid request: missing field `id`", NULL, 0);
		goto out;
	}
	if (!binance_id_ok(id, idraw, idlen)) {
		binance_reply_error(c, 2, "Invalid request: invalid id", NULL, 0);
		goto out;
	}
	method = cJSON_GetObjectItemCaseSensitive(root, "method");
	if (!cJSON_IsString(method)) {
		binance_reply_error(c, 2, "Invalid request: missing field `method`",
				    idraw, idlen);
		goto out;
	}
	m = method->valuestring;
	params = cJSON_GetObjectItemCaseSensitive(root, "params");

	if (!strcmp(m, "SUBSCRIBE") || !strcmp(m, "UNSUBSCRIBE")) {
		int sub = m[0] == 'S', added = 0;

		if (!cJSON_IsArray(params)) {
			binance_reply_error(c, 2, "Invalid request: params must be an array of strings",
					    idraw, idlen);
			goto out;
		}
		cJSON_ArrayForEach(it, params) {
			if (!cJSON_IsString(it)) {
				binance_reply_error(c, 2, "Invalid request: params must be an array of strings",
						    idraw, idlen);
				goto out;
			}
			if (!binance_stream_ok(it->valuestring, strlen(it->valuestring))) {
				fxlog(LV_WARN, "invalid stream in request", "conn=%u stream=%s",
				     c->id, lq(q, sizeof(q), it->valuestring,
						 strlen(it->valuestring)));
				binance_reply_error(c, 2, "Invalid request: invalid stream",
						    idraw, idlen);
				goto out;
			}
			if (sub && stream_index(c, it->valuestring) < 0)
				added++;
		}
		if (sub && c->nstreams + added > MAX_STREAMS) {
			binance_reply_error(c, 2, "Invalid request: too many streams",
					    idraw, idlen);
			goto out;
		}
		cJSON_ArrayForEach(it, params) {
			int k = stream_index(c, it->valuestring);

			if (sub && k < 0) {
				char **ns = realloc(c->streams, (size_t)(c->nstreams + 1) *
						    sizeof(*ns));

				if (!ns)
					break;
				c->streams = ns;
				if (!(ns[c->nstreams] = strdup(it->valuestring)))
					break;
				c->nstreams++;
			} else if (!sub && k >= 0) {
				free(c->streams[k]);
				memmove(&c->streams[k], &c->streams[k + 1],
					(size_t)(c->nstreams - k - 1) * sizeof(*c->streams));
				c->nstreams--;
			}
		}
		want_recompute(c);
		if (sub)
			g.st.subscriptions++;
		event_streams(sub ? "subscribe" : "unsubscribe", params);
		fxlog(LV_INFO, sub ? "subscribe" : "unsubscribe",
		     "conn=%u count=%d streams=%d", c->id, cJSON_GetArraySize(params),
		     c->nstreams);
		sb_adds(&b, "{\"result\":null,\"id\":");
		sb_add(&b, idraw, idlen);
		sb_addc(&b, '}');
		replay_kick(c);
	} else if (!strcmp(m, "LIST_SUBSCRIPTIONS")) {
		int i;

		sb_adds(&b, "{\"result\":[");
		for (i = 0; i < c->nstreams; i++) {
			if (i)
				sb_addc(&b, ',');
			sb_json_str(&b, c->streams[i], strlen(c->streams[i]));
		}
		sb_adds(&b, "],\"id\":");
		sb_add(&b, idraw, idlen);
		sb_addc(&b, '}');
	} else if (!strcmp(m, "SET_PROPERTY") || !strcmp(m, "GET_PROPERTY")) {
		int set = m[0] == 'S';
		cJSON *name = cJSON_GetArrayItem(params, 0);
		cJSON *val = cJSON_GetArrayItem(params, 1);

		if (!cJSON_IsArray(params) || !cJSON_IsString(name) ||
		    cJSON_GetArraySize(params) != (set ? 2 : 1)) {
			binance_reply_error(c, 2, "Invalid request: invalid params",
					    idraw, idlen);
			goto out;
		}
		if (strcmp(name->valuestring, "combined")) {
			binance_reply_error(c, 0, "Unknown property", idraw, idlen);
			goto out;
		}
		if (set && !cJSON_IsBool(val)) {
			binance_reply_error(c, 1, "Invalid value type: expected Boolean",
					    idraw, idlen);
			goto out;
		}
		if (set) {
			c->combined = cJSON_IsTrue(val);
			sb_adds(&b, "{\"result\":null,\"id\":");
		} else {
			sb_addf(&b, "{\"result\":%s,\"id\":",
				c->combined ? "true" : "false");
		}
		sb_add(&b, idraw, idlen);
		sb_addc(&b, '}');
	} else {
		binance_reply_error(c, 2, "Invalid request: unknown method", idraw, idlen);
		goto out;
	}
	if (!b.oom)
		conn_send(c, b.p, b.len, LWS_WRITE_TEXT, MK_OTHER);
out:
	sb_free(&b);
	cJSON_Delete(root);
}

/* ------------------------------------------------------------------ */
/* Upbit requests on the socket */

static void
upbit_error(struct conn *c, const char *name, const char *message)
{
	struct sbuf b = { 0 };

	sb_addf(&b, "{\"error\":{\"name\":\"%s\",\"message\":", name);
	sb_json_str(&b, message, strlen(message));
	sb_adds(&b, "}}");
	if (!b.oom)
		conn_send(c, b.p, b.len, LWS_WRITE_TEXT, MK_OTHER);
	sb_free(&b);
	fxlog(LV_WARN, "rejected request", "conn=%u error=%s", c->id, name);
}

static int
upbit_type_ok(const char *t)
{
	static const char *const types[] = {
		"trade", "ticker", "orderbook", "candle.1s", "candle.1m",
		"candle.3m", "candle.5m", "candle.10m", "candle.15m",
		"candle.30m", "candle.60m", "candle.240m", NULL
	};
	int i;

	for (i = 0; types[i]; i++)
		if (!strcmp(t, types[i]))
			return 1;
	return 0;
}

/* QUOTE-BASE in upper case, with an optional .N depth for orderbook. */
static int
upbit_code_ok(const char *s, int orderbook)
{
	const char *p = s;
	int dash = 0, n = 0;

	for (; *p && *p != '.'; p++, n++) {
		if (*p == '-') {
			if (dash || n == 0 || !p[1] || p[1] == '.')
				return 0;
			dash = 1;
		} else if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) {
			return 0;
		}
	}
	if (!dash || n > 40)
		return 0;
	if (*p == '.') {
		if (!orderbook || !p[1])
			return 0;
		for (p++; *p; p++)
			if (*p < '0' || *p > '9')
				return 0;
	}
	return 1;
}

static int
json_bool_field(const cJSON *obj, const char *a, const char *b, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, a);

	if (!v)
		v = cJSON_GetObjectItemCaseSensitive(obj, b);
	if (!v)
		return 0;
	if (!cJSON_IsBool(v))
		return -1;
	*out = cJSON_IsTrue(v);
	return 0;
}

static void
upbit_event_subscribe(const struct conn *c)
{
	struct sbuf b = { 0 };
	int i, j, k, firstc;

	sb_adds(&b, "{\"event\":\"subscribe\",\"types\":{");
	for (i = 0; i < c->ntypes; i++) {
		for (k = 0; k < i && strcmp(c->types[k].type, c->types[i].type); k++)
			;
		if (k < i)
			continue;	/* already merged into an earlier key */
		if (i)
			sb_addc(&b, ',');
		sb_json_str(&b, c->types[i].type, strlen(c->types[i].type));
		sb_adds(&b, ":[");
		firstc = 1;
		for (k = i; k < c->ntypes; k++) {
			if (strcmp(c->types[k].type, c->types[i].type))
				continue;
			for (j = 0; j < c->types[k].ncodes; j++) {
				if (!firstc)
					sb_addc(&b, ',');
				firstc = 0;
				sb_json_str(&b, c->types[k].codes[j],
					    strlen(c->types[k].codes[j]));
			}
		}
		sb_addc(&b, ']');
	}
	sb_adds(&b, "},\"format\":");
	sb_json_str(&b, c->format, strlen(c->format));
	sb_addc(&b, '}');
	event_emit(&b);
	sb_free(&b);
}

static void
upbit_list_subscriptions(struct conn *c, const char *ticket)
{
	struct sbuf b = { 0 };
	int i, j;

	sb_adds(&b, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"result\":[");
	for (i = 0; i < c->ntypes; i++) {
		if (i)
			sb_addc(&b, ',');
		sb_adds(&b, "{\"type\":");
		sb_json_str(&b, c->types[i].type, strlen(c->types[i].type));
		sb_adds(&b, ",\"codes\":[");
		for (j = 0; j < c->types[i].ncodes; j++) {
			if (j)
				sb_addc(&b, ',');
			sb_json_str(&b, c->types[i].codes[j], strlen(c->types[i].codes[j]));
		}
		sb_adds(&b, "]}");
	}
	sb_adds(&b, "],\"ticket\":");
	sb_json_str(&b, ticket, strlen(ticket));
	sb_addc(&b, '}');
	if (!b.oom)
		conn_send(c, b.p, b.len, LWS_WRITE_BINARY, MK_OTHER);
	sb_free(&b);
}

static void status_tick(lws_sorted_usec_list_t *sul);

static void
upbit_status_now(struct conn *c)
{
	static const char up[] = "{\"status\":\"UP\"}";

	conn_send(c, up, sizeof(up) - 1, LWS_WRITE_TEXT, MK_STATUS);
}

static void
status_tick(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_status);

	if (!g.stalled && !c->closing)
		upbit_status_now(c);
	lws_sul_schedule(g.ctx, 0, &c->sul_status, status_tick,
			 (lws_usec_t)opt.status_ms * 1000);
}

/* [{"ticket"},{"type","codes",...}...,{"format"}] replaces the whole
 * subscription; anything malformed gets an Upbit-style error and leaves the
 * previous subscription in place. */
static void
upbit_request(struct conn *c, const char *text, size_t len)
{
	cJSON *root, *first, *it, *tk;
	struct utype *types = NULL;
	int ntypes = 0, list = 0, n, i;
	char format[16] = "DEFAULT", msg[160];
	const char *err = NULL;

	if (len == 4 && !memcmp(text, "PING", 4)) {
		upbit_status_now(c);
		c->status_on = 1;
		if (opt.status_ms > 0)
			lws_sul_schedule(g.ctx, 0, &c->sul_status, status_tick,
					 (lws_usec_t)opt.status_ms * 1000);
		return;
	}
	root = cJSON_ParseWithLength(text, len);
	if (!root || !cJSON_IsArray(root)) {
		upbit_error(c, "WRONG_FORMAT", "request must be a JSON array");
		cJSON_Delete(root);
		return;
	}
	first = cJSON_GetArrayItem(root, 0);
	tk = cJSON_IsObject(first) ? cJSON_GetObjectItemCaseSensitive(first, "ticket") : NULL;
	if (!cJSON_IsString(tk) || !*tk->valuestring) {
		upbit_error(c, "NO_TICKET", "the first element must hold a ticket");
		cJSON_Delete(root);
		return;
	}
	n = 0;
	cJSON_ArrayForEach(it, root) {
		cJSON *type, *codes, *fmt, *meth, *code;

		if (n++ == 0)
			continue;
		if (!cJSON_IsObject(it)) {
			err = "WRONG_FORMAT";
			snprintf(msg, sizeof(msg), "element %d is not an object", n - 1);
			break;
		}
		type = cJSON_GetObjectItemCaseSensitive(it, "type");
		fmt = cJSON_GetObjectItemCaseSensitive(it, "format");
		meth = cJSON_GetObjectItemCaseSensitive(it, "method");
		if (type) {
			struct utype *nt, *t;

			if (!cJSON_IsString(type) || !upbit_type_ok(type->valuestring)) {
				err = "INVALID_PARAM";
				snprintf(msg, sizeof(msg), "unsupported type");
				break;
			}
			codes = cJSON_GetObjectItemCaseSensitive(it, "codes");
			if (!codes || (cJSON_IsArray(codes) && !cJSON_GetArraySize(codes))) {
				err = "NO_CODES";
				snprintf(msg, sizeof(msg), "codes is required for %s",
					 type->valuestring);
				break;
			}
			if (!cJSON_IsArray(codes)) {
				err = "WRONG_FORMAT";
				snprintf(msg, sizeof(msg), "codes must be an array");
				break;
			}
			if (!(nt = realloc(types, (size_t)(ntypes + 1) * sizeof(*nt)))) {
				err = "WRONG_FORMAT";
				snprintf(msg, sizeof(msg), "out of memory");
				break;
			}
			types = nt;
			t = &types[ntypes++];
			memset(t, 0, sizeof(*t));
			if (!(t->type = strdup(type->valuestring))) {
				err = "WRONG_FORMAT";
				snprintf(msg, sizeof(msg), "out of memory");
				break;
			}
			if (json_bool_field(it, "is_only_snapshot", "isOnlySnapshot",
					    &t->only_snapshot) ||
			    json_bool_field(it, "is_only_realtime", "isOnlyRealtime",
					    &t->only_realtime)) {
				err = "WRONG_FORMAT";
				snprintf(msg, sizeof(msg), "is_only_* must be booleans");
				break;
			}
			cJSON_ArrayForEach(code, codes) {
				char **ncodes;

				if (!cJSON_IsString(code) ||
				    !upbit_code_ok(code->valuestring,
						   !strcmp(type->valuestring, "orderbook"))) {
					err = "INVALID_PARAM";
					snprintf(msg, sizeof(msg), "invalid code: %.60s",
						 cJSON_IsString(code) ? code->valuestring : "?");
					break;
				}
				ncodes = realloc(t->codes, (size_t)(t->ncodes + 1) * sizeof(*ncodes));
				if (ncodes)
					t->codes = ncodes;
				if (!ncodes || !(ncodes[t->ncodes] = strdup(code->valuestring))) {
					err = "WRONG_FORMAT";
					snprintf(msg, sizeof(msg), "out of memory");
					break;
				}
				t->ncodes++;
			}
			if (err)
				break;
		} else if (fmt) {
			if (!cJSON_IsString(fmt) ||
			    (strcmp(fmt->valuestring, "DEFAULT") &&
			     strcmp(fmt->valuestring, "SIMPLE") &&
			     strcmp(fmt->valuestring, "JSON_LIST") &&
			     strcmp(fmt->valuestring, "SIMPLE_LIST"))) {
				err = "INVALID_PARAM";
				snprintf(msg, sizeof(msg), "unsupported format");
				break;
			}
			snprintf(format, sizeof(format), "%s", fmt->valuestring);
		} else if (meth) {
			if (!cJSON_IsString(meth) ||
			    strcmp(meth->valuestring, "LIST_SUBSCRIPTIONS")) {
				err = "INVALID_PARAM";
				snprintf(msg, sizeof(msg), "unsupported method");
				break;
			}
			list = 1;
		} else {
			err = "WRONG_FORMAT";
			snprintf(msg, sizeof(msg), "element %d has no type, format or method",
				 n - 1);
			break;
		}
	}
	if (!err && !ntypes && !list) {
		err = "NO_TYPE";
		snprintf(msg, sizeof(msg), "at least one type object is required");
	}
	if (err) {
		upbit_error(c, err, msg);
		utypes_free(types, ntypes);
		cJSON_Delete(root);
		return;
	}
	if (ntypes) {
		utypes_free(c->types, c->ntypes);
		c->types = types;
		c->ntypes = ntypes;
		types = NULL;
		snprintf(c->format, sizeof(c->format), "%s", format);
		free(c->ticket);
		c->ticket = strdup(tk->valuestring);
		want_recompute(c);
		g.st.subscriptions++;
		upbit_event_subscribe(c);
		for (n = 0, i = 0; i < c->ntypes; i++)
			n += c->types[i].ncodes;
		fxlog(LV_INFO, "subscribe", "conn=%u types=%d codes=%d format=%s",
		     c->id, c->ntypes, n, c->format);
		replay_kick(c);
	}
	if (list)
		upbit_list_subscriptions(c, tk->valuestring);
	utypes_free(types, 0);
	cJSON_Delete(root);
}

/* ------------------------------------------------------------------ */
/* The keyed exchanges: Coinbase, Bybit, OKX, Kraken, Bitget, Gate.  Each
 * request is validated whole and either rejected with the exchange's error
 * frame (nothing changes) or applied; subscriptions become keys (fakex.md). */

static uint64_t rng_state = 88172645463325252ull;

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
hex_id(char *out, size_t digits)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < digits; i++)
		out[i] = hx[rng_next() >> 60];
	out[digits] = '\0';
}

/* The exchange's name for a connection: Bybit a UUID, OKX 8 hex digits,
 * Gate 16. */
static void
conn_id_new(struct conn *c)
{
	if (opt.exchange == EX_BYBIT) {
		hex_id(c->conn_id, 36);
		c->conn_id[8] = c->conn_id[13] = c->conn_id[18] = c->conn_id[23] = '-';
	} else {
		hex_id(c->conn_id, opt.exchange == EX_GATEIO ? 16 : 8);
	}
}

/* RFC 3339 UTC with DIGITS fraction digits (6 or 9) from µs. */
static void
fmt_rfc3339(char *buf, size_t n, int64_t us, int digits)
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;
	char d[32];

	gmtime_r(&secs, &tm);
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
	if (digits == 9)
		snprintf(buf, n, "%s.%06d%03dZ", d, (int)(us % 1000000),
			 (int)(rng_next() % 1000));
	else
		snprintf(buf, n, "%s.%06dZ", d, (int)(us % 1000000));
}

static void
conn_sb(struct conn *c, struct sbuf *b, enum mkind kind)
{
	if (!b->oom)
		conn_send(c, b->p, b->len, LWS_WRITE_TEXT, kind);
	sb_free(b);
}

static void
conn_text(struct conn *c, const char *s, enum mkind kind)
{
	conn_send(c, s, strlen(s), LWS_WRITE_TEXT, kind);
}

/* A rejected request: counted, logged, written to the events file. */
static void
request_rejected(struct conn *c, const char *why)
{
	struct sbuf b = { 0 };
	char q[256];

	g.st.errors_sent++;
	sb_adds(&b, "{\"event\":\"request_rejected\",\"reason\":");
	sb_json_str(&b, why, strlen(why));
	sb_addc(&b, '}');
	event_emit(&b);
	sb_free(&b);
	fxlog(LV_WARN, "rejected request", "conn=%u reason=%s", c->id,
	     lq(q, sizeof(q), why, strlen(why)));
}

static void
pong_sent_event(struct conn *c)
{
	event_simple("pong_sent");
	fxlog(LV_DEBUG, "keep-alive answered", "conn=%u", c->id);
}

/* A request's keys before they are applied. */
struct keylist {
	char **k;
	unsigned char *bits;
	int n;
};

static int
kl_push(struct keylist *kl, const char *key, unsigned bits)
{
	char **nk;
	unsigned char *nb;

	if (!(nk = realloc(kl->k, (size_t)(kl->n + 1) * sizeof(*nk))))
		return -1;
	kl->k = nk;
	if (!(nb = realloc(kl->bits, (size_t)(kl->n + 1))))
		return -1;
	kl->bits = nb;
	if (!(nk[kl->n] = strdup(key)))
		return -1;
	nb[kl->n++] = (unsigned char)bits;
	return 0;
}

static int
kl_pushf(struct keylist *kl, unsigned bits, const char *a, const char *b,
	 const char *c)
{
	char key[256];
	int n = c ? snprintf(key, sizeof(key), "%s|%s|%s", a, b, c) :
		    snprintf(key, sizeof(key), "%s|%s", a, b);

	if (n < 0 || (size_t)n >= sizeof(key))
		return -1;
	return kl_push(kl, key, bits);
}

static void
kl_free(struct keylist *kl)
{
	streams_free(kl->k, kl->n);
	free(kl->bits);
	memset(kl, 0, sizeof(*kl));
}

static void hb_start(struct conn *c);

/* Applies a validated request's keys, writes the event line.  The caller
 * sends the acks, then calls keys_done(). */
static void
keys_apply(struct conn *c, const struct keylist *kl, int sub)
{
	struct sbuf b = { 0 };
	int i;

	for (i = 0; i < kl->n; i++) {
		if (sub)
			sub_add(c, kl->k[i], kl->bits[i]);
		else
			sub_del(c, kl->k[i]);
	}
	want_recompute(c);
	if (sub)
		g.st.subscriptions++;
	sb_addf(&b, "{\"event\":\"%s\",\"streams\":[", sub ? "subscribe" : "unsubscribe");
	for (i = 0; i < kl->n; i++) {
		if (i)
			sb_addc(&b, ',');
		sb_json_str(&b, kl->k[i], strlen(kl->k[i]));
	}
	sb_adds(&b, "]}");
	event_emit(&b);
	sb_free(&b);
	fxlog(LV_INFO, sub ? "subscribe" : "unsubscribe", "conn=%u count=%d streams=%d",
	     c->id, kl->n, c->nstreams);
	if (sub && opt.exchange == EX_KRAKEN)
		hb_start(c);
}

/* After the acks: fresh books for the new book subscriptions, then replay. */
static void
keys_done(struct conn *c, const struct keylist *kl, int sub)
{
	int i;

	for (i = 0; sub && i < kl->n; i++)
		book_catch_up(c, kl->k[i]);
	replay_kick(c);
}

static int
in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

/* Upper-case letters and digits, 1..40 of them. */
static int
alnum_up(const char *s, size_t n)
{
	size_t i;

	if (!n || n > 40)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

/* BASE<sep>QUOTE, both alnum_up (more parts with MAXPARTS > 2: OKX's
 * BTC-USD-SWAP). */
static int
pair_ok(const char *s, char sep, int maxparts)
{
	int parts = 0;
	const char *p = s, *q;

	for (;;) {
		q = strchr(p, sep);
		if (!alnum_up(p, q ? (size_t)(q - p) : strlen(p)))
			return 0;
		parts++;
		if (!q)
			break;
		p = q + 1;
	}
	return parts >= 2 && parts <= maxparts;
}

/* Letters and digits, 1..MAX of them. */
static int
alnum_id(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return i > 0 && i <= max;
}

static const cJSON *
obj_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v : NULL;
}

/* ---- OKX ---- */

static void
okx_error(struct conn *c, const char *id, const char *code, const char *msg)
{
	struct sbuf b = { 0 };

	sb_addc(&b, '{');
	if (id) {
		sb_adds(&b, "\"id\":");
		sb_json_str(&b, id, strlen(id));
		sb_addc(&b, ',');
	}
	sb_addf(&b, "\"event\":\"error\",\"code\":\"%s\",\"msg\":", code);
	sb_json_str(&b, msg, strlen(msg));
	sb_adds(&b, ",\"connId\":");
	sb_json_str(&b, c->conn_id, strlen(c->conn_id));
	sb_addc(&b, '}');
	conn_sb(c, &b, MK_OTHER);
	request_rejected(c, msg);
}

static void
okx_request(struct conn *c, const char *text, size_t len)
{
	static const char *const channels[] = {
		"tickers", "trades", "books", "books5", "bbo-tbt", "books-l2-tbt",
		"books50-l2-tbt", "index-tickers", "mark-price", "open-interest",
		"funding-rate", "price-limit", "estimated-price", "opt-summary", NULL
	};
	cJSON *root, *it;
	const cJSON *id, *op, *args;
	const char *ids = NULL;
	struct keylist kl = { 0 };
	struct sbuf b = { 0 }, inv = { 0 };
	char msg[512];
	int sub;

	if (span_is(text, len, "ping")) {
		conn_text(c, "pong", MK_PONG);
		pong_sent_event(c);
		return;
	}
	sb_adds(&inv, "Invalid request: ");
	sb_add(&inv, text, len > 400 ? 400 : len);
	root = cJSON_ParseWithLength(text, len);
	if (!cJSON_IsObject(root)) {
		okx_error(c, NULL, "60012", inv.oom ? "Invalid request" : inv.p);
		goto out;
	}
	id = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (id) {
		if (!cJSON_IsString(id) || !alnum_id(id->valuestring, 32)) {
			okx_error(c, NULL, "60012", inv.oom ? "Invalid request" : inv.p);
			goto out;
		}
		ids = id->valuestring;
	}
	op = obj_str(root, "op");
	args = cJSON_GetObjectItemCaseSensitive(root, "args");
	if (!op || (strcmp(op->valuestring, "subscribe") &&
		    strcmp(op->valuestring, "unsubscribe")) ||
	    !cJSON_IsArray(args) || !cJSON_GetArraySize(args)) {
		okx_error(c, ids, "60012", inv.oom ? "Invalid request" : inv.p);
		goto out;
	}
	sub = op->valuestring[0] == 's';
	cJSON_ArrayForEach(it, args) {
		const cJSON *ch = obj_str(it, "channel"), *inst = obj_str(it, "instId");

		if (!cJSON_IsObject(it) || !ch || !inst) {
			okx_error(c, ids, "60012", inv.oom ? "Invalid request" : inv.p);
			goto out;
		}
		if (!strcmp(ch->valuestring, "books-l2-tbt") ||
		    !strcmp(ch->valuestring, "books50-l2-tbt")) {
			okx_error(c, ids, "60011", "Please log in");
			goto out;
		}
		if (!in_list(ch->valuestring, channels) ||
		    !pair_ok(inst->valuestring, '-', 4)) {
			snprintf(msg, sizeof(msg), "Wrong URL or channel:%.60s,instId:%.60s "
				 "doesn't exist. Please use the correct URL, channel and "
				 "parameters referring to API document.", ch->valuestring,
				 inst->valuestring);
			okx_error(c, ids, "60018", msg);
			goto out;
		}
		if (kl_pushf(&kl, WANT_ALL, ch->valuestring, inst->valuestring, NULL))
			goto out;
	}
	keys_apply(c, &kl, sub);
	cJSON_ArrayForEach(it, args) {
		const cJSON *ch = obj_str(it, "channel"), *inst = obj_str(it, "instId");

		sb_addc(&b, '{');
		if (ids) {
			sb_adds(&b, "\"id\":");
			sb_json_str(&b, ids, strlen(ids));
			sb_addc(&b, ',');
		}
		sb_addf(&b, "\"event\":\"%s\",\"arg\":{\"channel\":", op->valuestring);
		sb_json_str(&b, ch->valuestring, strlen(ch->valuestring));
		sb_adds(&b, ",\"instId\":");
		sb_json_str(&b, inst->valuestring, strlen(inst->valuestring));
		sb_adds(&b, "},\"connId\":");
		sb_json_str(&b, c->conn_id, strlen(c->conn_id));
		sb_addc(&b, '}');
		conn_sb(c, &b, MK_OTHER);
	}
	keys_done(c, &kl, sub);
out:
	sb_free(&inv);
	kl_free(&kl);
	cJSON_Delete(root);
}

/* ---- Bitget ---- */

static void
bitget_error(struct conn *c, const char *code, const char *msg)
{
	struct sbuf b = { 0 };

	sb_addf(&b, "{\"event\":\"error\",\"code\":\"%s\",\"msg\":", code);
	sb_json_str(&b, msg, strlen(msg));
	sb_addc(&b, '}');
	conn_sb(c, &b, MK_OTHER);
	request_rejected(c, msg);
}

static int
bitget_channel_ok(const char *ch)
{
	static const char *const channels[] = {
		"ticker", "trade", "books", "books1", "books5", "books15", "auction",
		"candle1m", "candle5m", "candle15m", "candle30m", "candle1H",
		"candle4H", "candle6H", "candle12H", "candle1D", "candle3D",
		"candle1W", "candle1M", NULL
	};

	return in_list(ch, channels);
}

static void
bitget_request(struct conn *c, const char *text, size_t len)
{
	cJSON *root = NULL, *it;
	const cJSON *op, *args;
	struct keylist kl = { 0 };
	struct sbuf b = { 0 };
	char msg[256];
	int sub;

	if (span_is(text, len, "ping")) {
		c->last_ping_us = mono_us();
		conn_text(c, "pong", MK_PONG);
		pong_sent_event(c);
		return;
	}
	if (len > 4096) {
		bitget_error(c, "30002", "request too large (max 4096 bytes)");
		return;
	}
	root = cJSON_ParseWithLength(text, len);
	if (!cJSON_IsObject(root)) {
		bitget_error(c, "30002", "illegal request");
		goto out;
	}
	op = obj_str(root, "op");
	args = cJSON_GetObjectItemCaseSensitive(root, "args");
	if (!op || (strcmp(op->valuestring, "subscribe") &&
		    strcmp(op->valuestring, "unsubscribe"))) {
		bitget_error(c, "30003", "invalid op");
		goto out;
	}
	if (!cJSON_IsArray(args) || !cJSON_GetArraySize(args)) {
		bitget_error(c, "30002", "illegal request");
		goto out;
	}
	sub = op->valuestring[0] == 's';
	cJSON_ArrayForEach(it, args) {
		const cJSON *ty = obj_str(it, "instType"), *ch = obj_str(it, "channel"),
			    *inst = obj_str(it, "instId");

		if (!cJSON_IsObject(it) || !ty || !ch || !inst) {
			bitget_error(c, "30002", "illegal request");
			goto out;
		}
		if (strcmp(ty->valuestring, "SPOT") || !bitget_channel_ok(ch->valuestring) ||
		    !alnum_up(inst->valuestring, strlen(inst->valuestring))) {
			snprintf(msg, sizeof(msg), "instType:%.40s,channel:%.40s,instId:%.40s "
				 "doesn't exist", ty->valuestring, ch->valuestring,
				 inst->valuestring);
			bitget_error(c, "30001", msg);
			goto out;
		}
		if (kl_pushf(&kl, WANT_ALL, ty->valuestring, ch->valuestring,
			     inst->valuestring))
			goto out;
	}
	keys_apply(c, &kl, sub);
	cJSON_ArrayForEach(it, args) {
		sb_addf(&b, "{\"event\":\"%s\",\"arg\":{\"instType\":", op->valuestring);
		sb_json_str(&b, obj_str(it, "instType")->valuestring,
			    strlen(obj_str(it, "instType")->valuestring));
		sb_adds(&b, ",\"channel\":");
		sb_json_str(&b, obj_str(it, "channel")->valuestring,
			    strlen(obj_str(it, "channel")->valuestring));
		sb_adds(&b, ",\"instId\":");
		sb_json_str(&b, obj_str(it, "instId")->valuestring,
			    strlen(obj_str(it, "instId")->valuestring));
		sb_adds(&b, "}}");
		conn_sb(c, &b, MK_OTHER);
	}
	keys_done(c, &kl, sub);
out:
	kl_free(&kl);
	cJSON_Delete(root);
}

/* ---- Bybit ---- */

/* {"success":..,"ret_msg":..,"conn_id":..,["req_id":..,]"op":..} */
static void
bybit_reply(struct conn *c, int ok, const char *ret_msg, const char *req_id,
	    const char *op, enum mkind kind)
{
	struct sbuf b = { 0 };

	sb_addf(&b, "{\"success\":%s,\"ret_msg\":", ok ? "true" : "false");
	sb_json_str(&b, ret_msg, strlen(ret_msg));
	sb_adds(&b, ",\"conn_id\":");
	sb_json_str(&b, c->conn_id, strlen(c->conn_id));
	if (req_id) {
		sb_adds(&b, ",\"req_id\":");
		sb_json_str(&b, req_id, strlen(req_id));
	}
	sb_adds(&b, ",\"op\":");
	sb_json_str(&b, op, strlen(op));
	sb_addc(&b, '}');
	conn_sb(c, &b, kind);
	if (!ok)
		request_rejected(c, ret_msg);
}

/* publicTrade.S, tickers.S, orderbook.{1,50,200,1000}.S, orderbook.full.S,
 * kline.I.S */
static int
bybit_topic_ok(const char *t)
{
	static const char *const depths[] = { "1", "50", "200", "1000", "full", NULL };
	static const char *const kl[] = {
		"1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D",
		"W", "M", NULL
	};
	const char *dot = strchr(t, '.'), *dot2;
	char mid[16];

	if (!dot)
		return 0;
	if ((size_t)(dot - t) == 11 && !memcmp(t, "publicTrade", 11))
		return alnum_up(dot + 1, strlen(dot + 1));
	if ((size_t)(dot - t) == 7 && !memcmp(t, "tickers", 7))
		return alnum_up(dot + 1, strlen(dot + 1));
	if (!(dot2 = strchr(dot + 1, '.')) || (size_t)(dot2 - dot - 1) >= sizeof(mid))
		return 0;
	memcpy(mid, dot + 1, (size_t)(dot2 - dot - 1));
	mid[dot2 - dot - 1] = '\0';
	if (!alnum_up(dot2 + 1, strlen(dot2 + 1)))
		return 0;
	if ((size_t)(dot - t) == 9 && !memcmp(t, "orderbook", 9))
		return in_list(mid, depths);
	if ((size_t)(dot - t) == 5 && !memcmp(t, "kline", 5))
		return in_list(mid, kl);
	return 0;
}

static void
bybit_request(struct conn *c, const char *text, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(text, len), *it;
	const cJSON *op, *args, *rid;
	const char *req_id = NULL;
	struct keylist kl = { 0 };
	char msg[256];
	int sub;

	if (!cJSON_IsObject(root)) {
		bybit_reply(c, 0, "error:request must be a JSON object", NULL, "", MK_OTHER);
		goto out;
	}
	if ((rid = obj_str(root, "req_id")))
		req_id = rid->valuestring;
	op = obj_str(root, "op");
	if (op && !strcmp(op->valuestring, "ping")) {
		/* the spot pong: "op" stays "ping", no req_id */
		bybit_reply(c, 1, "pong", NULL, "ping", MK_PONG);
		pong_sent_event(c);
		goto out;
	}
	if (!op || (strcmp(op->valuestring, "subscribe") &&
		    strcmp(op->valuestring, "unsubscribe"))) {
		snprintf(msg, sizeof(msg), "error:unsupported op:%.40s",
			 op ? op->valuestring : "");
		bybit_reply(c, 0, msg, req_id, op ? op->valuestring : "", MK_OTHER);
		goto out;
	}
	sub = op->valuestring[0] == 's';
	args = cJSON_GetObjectItemCaseSensitive(root, "args");
	if (!cJSON_IsArray(args) || !cJSON_GetArraySize(args)) {
		bybit_reply(c, 0, "error:args is empty", req_id, op->valuestring, MK_OTHER);
		goto out;
	}
	if (cJSON_GetArraySize(args) > 10) {
		bybit_reply(c, 0, "error:args size exceeds the limit of 10", req_id,
			    op->valuestring, MK_OTHER);
		goto out;
	}
	cJSON_ArrayForEach(it, args) {
		if (!cJSON_IsString(it) || !bybit_topic_ok(it->valuestring)) {
			snprintf(msg, sizeof(msg), "error:handler not found,topic:%.100s",
				 cJSON_IsString(it) ? it->valuestring : "");
			bybit_reply(c, 0, msg, req_id, op->valuestring, MK_OTHER);
			goto out;
		}
		if (sub && sub_find(c, it->valuestring) >= 0) {
			snprintf(msg, sizeof(msg), "error:already subscribed,topic:%.100s",
				 it->valuestring);
			bybit_reply(c, 0, msg, req_id, op->valuestring, MK_OTHER);
			goto out;
		}
		if (kl_push(&kl, it->valuestring, WANT_ALL))
			goto out;
	}
	keys_apply(c, &kl, sub);
	bybit_reply(c, 1, op->valuestring, req_id, op->valuestring, MK_OTHER);
	keys_done(c, &kl, sub);
out:
	kl_free(&kl);
	cJSON_Delete(root);
}

/* ---- Kraken ---- */

/* {"error":..,"method":..,[req_id,][symbol,]"success":false,"time_in","time_out"} */
static void
kraken_error(struct conn *c, const char *err, const char *method,
	     const char *req_id, size_t req_len, const char *symbol, int64_t t_in)
{
	struct sbuf b = { 0 };
	char ti[64], to[64];

	fmt_rfc3339(ti, sizeof(ti), t_in, 6);
	fmt_rfc3339(to, sizeof(to), wall_us(), 6);
	sb_adds(&b, "{\"error\":");
	sb_json_str(&b, err, strlen(err));
	sb_adds(&b, ",\"method\":");
	sb_json_str(&b, method, strlen(method));
	if (req_id) {
		sb_adds(&b, ",\"req_id\":");
		sb_add(&b, req_id, req_len);
	}
	if (symbol) {
		sb_adds(&b, ",\"symbol\":");
		sb_json_str(&b, symbol, strlen(symbol));
	}
	sb_addf(&b, ",\"success\":false,\"time_in\":\"%s\",\"time_out\":\"%s\"}", ti, to);
	conn_sb(c, &b, MK_OTHER);
	request_rejected(c, err);
}

static void
kraken_request(struct conn *c, const char *text, size_t len)
{
	static const char *const channels[] = { "book", "trade", "ticker", "ohlc",
						"instrument", NULL };
	static const long depths[] = { 10, 25, 100, 500, 1000 };
	int64_t t_in = wall_us();
	cJSON *root = cJSON_ParseWithLength(text, len), *it;
	const cJSON *method, *params, *ch, *syms, *depth, *snap, *rid;
	const char *req_id = NULL, *ve, *m;
	size_t req_len = 0;
	struct keylist kl = { 0 };
	struct sbuf b = { 0 };
	char ti[64], to[64];
	long d = 10;
	int sub, snapshot, i, ok;

	if (!cJSON_IsObject(root)) {
		kraken_error(c, "Malformed request", "", NULL, 0, NULL, t_in);
		goto out;
	}
	method = obj_str(root, "method");
	m = method ? method->valuestring : "";
	rid = cJSON_GetObjectItemCaseSensitive(root, "req_id");
	if (rid) {
		if (!cJSON_IsNumber(rid) ||
		    js_obj_get(text, text + len, "req_id", &req_id, &ve) != 1) {
			kraken_error(c, "req_id must be an integer", m, NULL, 0, NULL, t_in);
			goto out;
		}
		req_len = (size_t)(ve - req_id);
	}
	if (!strcmp(m, "ping")) {
		fmt_rfc3339(ti, sizeof(ti), t_in, 6);
		fmt_rfc3339(to, sizeof(to), wall_us(), 6);
		sb_adds(&b, "{\"method\":\"pong\"");
		if (req_id) {
			sb_adds(&b, ",\"req_id\":");
			sb_add(&b, req_id, req_len);
		}
		sb_addf(&b, ",\"time_in\":\"%s\",\"time_out\":\"%s\"}", ti, to);
		conn_sb(c, &b, MK_PONG);
		pong_sent_event(c);
		goto out;
	}
	if (strcmp(m, "subscribe") && strcmp(m, "unsubscribe")) {
		kraken_error(c, "Method not found", m, req_id, req_len, NULL, t_in);
		goto out;
	}
	sub = m[0] == 's';
	params = cJSON_GetObjectItemCaseSensitive(root, "params");
	ch = obj_str(params, "channel");
	if (!cJSON_IsObject(params) || !ch) {
		kraken_error(c, "Missing field: params.channel", m, req_id, req_len, NULL, t_in);
		goto out;
	}
	if (!in_list(ch->valuestring, channels)) {
		kraken_error(c, "Channel not found", m, req_id, req_len, NULL, t_in);
		goto out;
	}
	syms = cJSON_GetObjectItemCaseSensitive(params, "symbol");
	if (!strcmp(ch->valuestring, "instrument")) {
		syms = NULL;	/* every pair, no symbols */
	} else if (!cJSON_IsArray(syms) || !cJSON_GetArraySize(syms)) {
		kraken_error(c, "Missing field: params.symbol", m, req_id, req_len, NULL, t_in);
		goto out;
	}
	depth = cJSON_GetObjectItemCaseSensitive(params, "depth");
	if (depth && !strcmp(ch->valuestring, "book")) {
		ok = 0;
		for (i = 0; i < 5; i++)
			ok |= cJSON_IsNumber(depth) && depth->valuedouble == (double)depths[i];
		if (!ok) {
			kraken_error(c, "Invalid depth: must be one of 10, 25, 100, 500, 1000",
				     m, req_id, req_len, NULL, t_in);
			goto out;
		}
		d = (long)depth->valuedouble;
	}
	snap = cJSON_GetObjectItemCaseSensitive(params, "snapshot");
	if (snap && !cJSON_IsBool(snap)) {
		kraken_error(c, "snapshot must be a boolean", m, req_id, req_len, NULL, t_in);
		goto out;
	}
	snapshot = snap ? cJSON_IsTrue(snap) : strcmp(ch->valuestring, "trade") != 0;
	/* One answer per symbol, each accepted or refused on its own (the
	 * instrument channel: one answer). */
	for (it = syms ? syms->child : NULL, i = 0; syms ? it != NULL : i < 1;
	     it = it ? it->next : NULL, i++) {
		char key[128];
		const char *sy = it && cJSON_IsString(it) ? it->valuestring : "";

		if (syms)
			snprintf(key, sizeof(key), "%s|%.100s", ch->valuestring, sy);
		else
			snprintf(key, sizeof(key), "instrument");
		if (syms && !pair_ok(sy, '/', 2)) {
			char err[160];

			snprintf(err, sizeof(err), "Currency pair not supported %.100s", sy);
			kraken_error(c, err, m, req_id, req_len, sy, t_in);
			continue;
		}
		if (sub && sub_find(c, key) >= 0) {
			kraken_error(c, "Already subscribed", m, req_id, req_len,
				     syms ? sy : NULL, t_in);
			continue;
		}
		if (!sub && sub_find(c, key) < 0) {
			kraken_error(c, "Subscription Not Found", m, req_id, req_len,
				     syms ? sy : NULL, t_in);
			continue;
		}
		if (kl_push(&kl, key, snapshot ? WANT_ALL : WANT_RT))
			goto out;
		fmt_rfc3339(ti, sizeof(ti), t_in, 6);
		fmt_rfc3339(to, sizeof(to), wall_us(), 6);
		sb_addf(&b, "{\"method\":\"%s\"", m);
		if (req_id) {
			sb_adds(&b, ",\"req_id\":");
			sb_add(&b, req_id, req_len);
		}
		sb_adds(&b, ",\"result\":{\"channel\":");
		sb_json_str(&b, ch->valuestring, strlen(ch->valuestring));
		if (!strcmp(ch->valuestring, "book"))
			sb_addf(&b, ",\"depth\":%ld", d);
		if (sub)
			sb_addf(&b, ",\"snapshot\":%s", snapshot ? "true" : "false");
		if (syms) {
			sb_adds(&b, ",\"symbol\":");
			sb_json_str(&b, sy, strlen(sy));
		}
		sb_addf(&b, "},\"success\":true,\"time_in\":\"%s\",\"time_out\":\"%s\"}", ti, to);
		/* queued after keys_apply() below, so acks precede data */
		if (b.oom)
			goto out;
		if (kl_push(&kl, b.p, 0))
			goto out;
		b.len = 0;
	}
	if (kl.n) {
		struct keylist keys = { 0 };

		/* kl alternates key, ack */
		for (i = 0; i < kl.n; i += 2)
			if (kl_push(&keys, kl.k[i], kl.bits[i])) {
				kl_free(&keys);
				goto out;
			}
		keys_apply(c, &keys, sub);
		for (i = 1; i < kl.n; i += 2)
			conn_text(c, kl.k[i], MK_OTHER);
		keys_done(c, &keys, sub);
		kl_free(&keys);
	}
out:
	sb_free(&b);
	kl_free(&kl);
	cJSON_Delete(root);
}

/* ---- Gate ---- */

/* The answer to a request: {"time","time_ms",["id",]"conn_id","trace_id",
 * "channel","event",["payload",]["error",]"result"}. */
static void
gate_reply(struct conn *c, const char *id, size_t idlen, const char *channel,
	   const char *event, const cJSON *payload, int code, const char *msg)
{
	struct sbuf b = { 0 };
	int64_t now = wall_us();
	char trace[40];
	char *pl = payload ? cJSON_PrintUnformatted(payload) : NULL;

	hex_id(trace, 32);
	sb_addf(&b, "{\"time\":%" PRId64 ",\"time_ms\":%" PRId64, now / 1000000, now / 1000);
	if (id) {
		sb_adds(&b, ",\"id\":");
		sb_add(&b, id, idlen);
	}
	sb_adds(&b, ",\"conn_id\":");
	sb_json_str(&b, c->conn_id, strlen(c->conn_id));
	sb_addf(&b, ",\"trace_id\":\"%s\",\"channel\":", trace);
	sb_json_str(&b, channel, strlen(channel));
	sb_adds(&b, ",\"event\":");
	sb_json_str(&b, event, strlen(event));
	if (pl) {
		sb_adds(&b, ",\"payload\":");
		sb_adds(&b, pl);
	}
	if (code) {
		sb_addf(&b, ",\"error\":{\"code\":%d,\"message\":", code);
		sb_json_str(&b, msg, strlen(msg));
		sb_adds(&b, "},\"result\":{\"status\":\"fail\"}}");
	} else {
		sb_adds(&b, ",\"result\":{\"status\":\"success\"}}");
	}
	free(pl);
	conn_sb(c, &b, MK_OTHER);
	if (code)
		request_rejected(c, msg);
}

static int
gate_pair_ok(const cJSON *v)
{
	return cJSON_IsString(v) && pair_ok(v->valuestring, '_', 2);
}

static void
gate_request(struct conn *c, const char *text, size_t len)
{
	static const char *const lists[] = { "spot.tickers", "spot.trades",
					     "spot.book_ticker", NULL };
	static const char *const levels[] = { "5", "10", "20", "50", "100", NULL };
	cJSON *root = cJSON_ParseWithLength(text, len), *it;
	const cJSON *ch, *ev, *payload, *tm, *id, *p0, *p1, *p2;
	const char *idraw = NULL, *ve, *chs;
	size_t idlen = 0;
	struct keylist kl = { 0 };
	char msg[256];
	int sub, n;

	if (!cJSON_IsObject(root)) {
		gate_reply(c, NULL, 0, "", "", NULL, 1, "invalid request body");
		goto out;
	}
	id = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (id && cJSON_IsNumber(id) &&
	    js_obj_get(text, text + len, "id", &idraw, &ve) == 1)
		idlen = (size_t)(ve - idraw);
	else
		idraw = NULL;
	ch = obj_str(root, "channel");
	chs = ch ? ch->valuestring : "";
	if (!strcmp(chs, "spot.ping")) {
		struct sbuf b = { 0 };

		sb_addf(&b, "{\"time\":%" PRId64 ",\"channel\":\"spot.pong\",\"event\":\"\","
			"\"error\":null,\"result\":null}", wall_us() / 1000000);
		conn_sb(c, &b, MK_PONG);
		pong_sent_event(c);
		goto out;
	}
	ev = obj_str(root, "event");
	payload = cJSON_GetObjectItemCaseSensitive(root, "payload");
	tm = cJSON_GetObjectItemCaseSensitive(root, "time");
	if (!ch || !ev || (strcmp(ev->valuestring, "subscribe") &&
			   strcmp(ev->valuestring, "unsubscribe"))) {
		gate_reply(c, idraw, idlen, chs, ev ? ev->valuestring : "", NULL, 1,
			   "invalid request body");
		goto out;
	}
	sub = ev->valuestring[0] == 's';
	if (!cJSON_IsNumber(tm)) {
		gate_reply(c, idraw, idlen, chs, ev->valuestring, payload, 2,
			   "invalid argument: time is required");
		goto out;
	}
	n = cJSON_GetArraySize(payload);
	if (!cJSON_IsArray(payload) || !n) {
		gate_reply(c, idraw, idlen, chs, ev->valuestring, payload, 2,
			   "invalid argument: payload is required");
		goto out;
	}
	p0 = cJSON_GetArrayItem(payload, 0);
	p1 = cJSON_GetArrayItem(payload, 1);
	p2 = cJSON_GetArrayItem(payload, 2);
	if (in_list(chs, lists)) {
		cJSON_ArrayForEach(it, payload) {
			if (!gate_pair_ok(it)) {
				snprintf(msg, sizeof(msg), "invalid argument: unknown currency pair %.60s",
					 cJSON_IsString(it) ? it->valuestring : "");
				gate_reply(c, idraw, idlen, chs, ev->valuestring, payload, 2, msg);
				goto out;
			}
			if (kl_pushf(&kl, WANT_ALL, chs, it->valuestring, NULL))
				goto out;
		}
	} else if (!strcmp(chs, "spot.order_book_update")) {
		if (n != 2 || !gate_pair_ok(p0) || !cJSON_IsString(p1) ||
		    (strcmp(p1->valuestring, "20ms") && strcmp(p1->valuestring, "100ms"))) {
			gate_reply(c, idraw, idlen, chs, ev->valuestring, payload, 2,
				   "invalid argument: payload must be [currency_pair, \"20ms\"|\"100ms\"]");
			goto out;
		}
		if (kl_pushf(&kl, WANT_ALL, chs, p0->valuestring, NULL))
			goto out;
	} else if (!strcmp(chs, "spot.order_book")) {
		if (n != 3 || !gate_pair_ok(p0) || !cJSON_IsString(p1) ||
		    !in_list(p1->valuestring, levels) || !cJSON_IsString(p2) ||
		    (strcmp(p2->valuestring, "100ms") && strcmp(p2->valuestring, "1000ms"))) {
			gate_reply(c, idraw, idlen, chs, ev->valuestring, payload, 2,
				   "invalid argument: payload must be [currency_pair, level, interval]");
			goto out;
		}
		if (kl_pushf(&kl, WANT_ALL, chs, p0->valuestring, NULL))
			goto out;
	} else if (!strcmp(chs, "spot.obu")) {
		cJSON_ArrayForEach(it, payload) {
			const char *s = cJSON_IsString(it) ? it->valuestring : "", *dot;
			char pair[64];
			char key[128];

			dot = strrchr(s, '.');
			if (strncmp(s, "ob.", 3) || !dot || dot < s + 3 ||
			    (size_t)(dot - s - 3) >= sizeof(pair) ||
			    (strcmp(dot, ".50") && strcmp(dot, ".400"))) {
				snprintf(msg, sizeof(msg), "invalid argument: %.60s", s);
				gate_reply(c, idraw, idlen, chs, ev->valuestring, payload, 2, msg);
				goto out;
			}
			memcpy(pair, s + 3, (size_t)(dot - s - 3));
			pair[dot - s - 3] = '\0';
			if (!pair_ok(pair, '_', 2)) {
				snprintf(msg, sizeof(msg), "invalid argument: %.60s", s);
				gate_reply(c, idraw, idlen, chs, ev->valuestring, payload, 2, msg);
				goto out;
			}
			snprintf(key, sizeof(key), "spot.obu|%s", s);
			if (sub && sub_find(c, key) >= 0) {
				snprintf(msg, sizeof(msg), "Alert sub %.60s", s);
				gate_reply(c, idraw, idlen, chs, ev->valuestring, payload, 2, msg);
				goto out;
			}
			if (kl_push(&kl, key, WANT_ALL))
				goto out;
		}
	} else {
		snprintf(msg, sizeof(msg), "unknown channel %.60s", chs);
		gate_reply(c, idraw, idlen, chs, ev->valuestring, payload, 2, msg);
		goto out;
	}
	keys_apply(c, &kl, sub);
	gate_reply(c, idraw, idlen, chs, ev->valuestring, payload, 0, NULL);
	keys_done(c, &kl, sub);
out:
	kl_free(&kl);
	cJSON_Delete(root);
}

/* ---- Coinbase Advanced Trade ---- */

/* Every message of a connection carries the next sequence_num. */
static void
coinbase_begin(struct conn *c, struct sbuf *b, const char *channel)
{
	char ts[64];

	fmt_rfc3339(ts, sizeof(ts), wall_us(), 9);
	sb_addf(b, "{\"channel\":\"%s\",\"client_id\":\"\",\"timestamp\":\"%s\","
		"\"sequence_num\":%" PRIu64 ",\"events\":", channel, ts, c->seqnum++);
}

static void
coinbase_error(struct conn *c, const char *msg)
{
	struct sbuf b = { 0 };

	sb_adds(&b, "{\"type\":\"error\",\"message\":");
	sb_json_str(&b, msg, strlen(msg));
	sb_addc(&b, '}');
	conn_sb(c, &b, MK_OTHER);
	request_rejected(c, msg);
}

/* The ack lists every subscription of the connection, by channel. */
static void
coinbase_subscriptions(struct conn *c)
{
	struct sbuf b = { 0 };
	int i, j, first = 1;

	coinbase_begin(c, &b, "subscriptions");
	sb_adds(&b, "[{\"subscriptions\":{");
	for (i = 0; i < c->nstreams; i++) {
		const char *bar = strchr(c->streams[i], '|');
		size_t cn = (size_t)(bar - c->streams[i]);

		for (j = 0; j < i; j++)
			if (!strncmp(c->streams[j], c->streams[i], cn + 1))
				break;
		if (j < i)
			continue;	/* channel already listed */
		if (!first)
			sb_addc(&b, ',');
		first = 0;
		sb_json_str(&b, c->streams[i], cn);
		sb_adds(&b, ":[");
		for (j = i; j < c->nstreams; j++) {
			if (strncmp(c->streams[j], c->streams[i], cn + 1))
				continue;
			if (j > i)
				sb_addc(&b, ',');
			sb_json_str(&b, c->streams[j] + cn + 1, strlen(c->streams[j] + cn + 1));
		}
		sb_addc(&b, ']');
	}
	if (c->hb_sub)
		sb_addf(&b, "%s\"heartbeats\":[\"heartbeats\"]", first ? "" : ",");
	sb_adds(&b, "}}]}");
	conn_sb(c, &b, MK_OTHER);
}

static void
coinbase_request(struct conn *c, const char *text, size_t len)
{
	static const char *const channels[] = {
		"heartbeats", "candles", "status", "ticker", "ticker_batch", "level2",
		"market_trades", NULL
	};
	cJSON *root = cJSON_ParseWithLength(text, len), *it;
	const cJSON *type, *ch, *pids, *jwt;
	struct keylist kl = { 0 };
	char msg[256];
	int sub;

	if (!cJSON_IsObject(root)) {
		coinbase_error(c, "failure to parse the message");
		goto out;
	}
	type = obj_str(root, "type");
	if (!type || (strcmp(type->valuestring, "subscribe") &&
		      strcmp(type->valuestring, "unsubscribe"))) {
		coinbase_error(c, "type must be subscribe or unsubscribe");
		goto out;
	}
	sub = type->valuestring[0] == 's';
	ch = obj_str(root, "channel");
	if (!ch) {
		coinbase_error(c, "channel is required");
		goto out;
	}
	if (!strcmp(ch->valuestring, "user") ||
	    !strcmp(ch->valuestring, "futures_balance_summary")) {
		coinbase_error(c, "authentication failure");
		goto out;
	}
	if (!in_list(ch->valuestring, channels)) {
		snprintf(msg, sizeof(msg), "Failed to subscribe: unknown channel %.60s",
			 ch->valuestring);
		coinbase_error(c, msg);
		goto out;
	}
	jwt = cJSON_GetObjectItemCaseSensitive(root, "jwt");
	if (jwt && !cJSON_IsString(jwt)) {
		coinbase_error(c, "jwt must be a string");
		goto out;
	}
	if (!strcmp(ch->valuestring, "heartbeats")) {
		c->hb_sub = sub;
		event_simple(sub ? "subscribe_heartbeats" : "unsubscribe_heartbeats");
		if (sub) {
			g.st.subscriptions++;
			hb_start(c);
		}
		coinbase_subscriptions(c);
		goto out;
	}
	pids = cJSON_GetObjectItemCaseSensitive(root, "product_ids");
	if (!cJSON_IsArray(pids) || !cJSON_GetArraySize(pids)) {
		coinbase_error(c, "Failed to subscribe: product_ids is required");
		goto out;
	}
	cJSON_ArrayForEach(it, pids) {
		if (!cJSON_IsString(it) || !pair_ok(it->valuestring, '-', 2)) {
			snprintf(msg, sizeof(msg), "Failed to subscribe: unknown product id %.60s",
				 cJSON_IsString(it) ? it->valuestring : "");
			coinbase_error(c, msg);
			goto out;
		}
		if (kl_pushf(&kl, WANT_ALL, ch->valuestring, it->valuestring, NULL))
			goto out;
	}
	keys_apply(c, &kl, sub);
	coinbase_subscriptions(c);
	keys_done(c, &kl, sub);
out:
	kl_free(&kl);
	cJSON_Delete(root);
}

/* ---- server heartbeats: Kraken when nothing else flows, Coinbase's
 * heartbeats channel ---- */

static void
hb_tick(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_hb);
	int64_t now = mono_us();
	struct sbuf b = { 0 };
	char ct[128], ts[64];

	if (g.stalled || c->closing) {
		/* nothing */
	} else if (opt.exchange == EX_KRAKEN) {
		if (now - c->last_tx_us >= opt.heartbeat_ms * 1000 - 50000 && !c->qhead)
			conn_text(c, "{\"channel\":\"heartbeat\"}", MK_HEARTBEAT);
	} else if (c->hb_sub) {
		int64_t w = wall_us();
		time_t secs = (time_t)(w / 1000000);
		struct tm tm;

		gmtime_r(&secs, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(ct, sizeof(ct), "%s.%06d%03d +0000 UTC m=+%.9f", ts,
			 (int)(w % 1000000), (int)(rng_next() % 1000),
			 (double)(now - g.start_us) / 1e6);
		coinbase_begin(c, &b, "heartbeats");
		sb_adds(&b, "[{\"current_time\":");
		sb_json_str(&b, ct, strlen(ct));
		sb_addf(&b, ",\"heartbeat_counter\":\"%" PRIu64 "\"}]}", ++c->hb_count);
		conn_sb(c, &b, MK_HEARTBEAT);
	}
	lws_sul_schedule(g.ctx, 0, &c->sul_hb, hb_tick,
			 (lws_usec_t)opt.heartbeat_ms * 1000);
}

static void
hb_start(struct conn *c)
{
	if (c->hb_on || opt.heartbeat_ms <= 0)
		return;
	c->hb_on = 1;
	lws_sul_schedule(g.ctx, 0, &c->sul_hb, hb_tick,
			 (lws_usec_t)opt.heartbeat_ms * 1000);
}

/* Kraken greets every connection with the system status. */
static void
kraken_status(struct conn *c)
{
	struct sbuf b = { 0 };

	sb_addf(&b, "{\"channel\":\"status\",\"data\":[{\"api_version\":\"v2\","
		"\"connection_id\":%" PRIu64 ",\"system\":\"online\",\"version\":\"2.0.10\"}],"
		"\"type\":\"update\"}", rng_next() >> 1);
	conn_sb(c, &b, MK_OTHER);
}

static void
keyed_request(struct conn *c, const char *text, size_t len)
{
	switch (opt.exchange) {
	case EX_OKX: okx_request(c, text, len); break;
	case EX_BITGET: bitget_request(c, text, len); break;
	case EX_BYBIT: bybit_request(c, text, len); break;
	case EX_KRAKEN: kraken_request(c, text, len); break;
	case EX_GATEIO: gate_request(c, text, len); break;
	case EX_COINBASE: coinbase_request(c, text, len); break;
	default: break;
	}
}

/* ------------------------------------------------------------------ */
/* Keep-alives: server WS pings and pong deadline (Binance, Gate), idle cuts */

static void ping_tick(lws_sorted_usec_list_t *sul);
static void pong_check(lws_sorted_usec_list_t *sul);

static void
ping_tick(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_ping);

	if (!g.stalled && !c->closing) {
		c->ping_pending = 1;
		lws_callback_on_writable(c->wsi);
	}
	lws_sul_schedule(g.ctx, 0, &c->sul_ping, ping_tick,
			 (lws_usec_t)opt.ping_ms * 1000);
}

static void
pong_arm(struct conn *c, int64_t delay_us)
{
	c->pong_armed = 1;
	lws_sul_schedule(g.ctx, 0, &c->sul_pong, pong_check,
			 (lws_usec_t)(delay_us < 0 ? 0 : delay_us));
}

/* Closes the connection when the oldest unanswered ping is older than the
 * pong timeout.  While stalled we are the broken side, so we wait. */
static void
pong_check(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_pong);
	int64_t now = mono_us(), deadline;

	c->pong_armed = 0;
	if (!c->nping || c->closing || opt.pong_timeout_ms <= 0)
		return;
	if (g.stalled) {
		pong_arm(c, opt.pong_timeout_ms * 1000);
		return;
	}
	deadline = c->pings[0].sent_us + opt.pong_timeout_ms * 1000;
	if (now < deadline) {
		pong_arm(c, deadline - now);
		return;
	}
	event_simple("pong_timeout");
	fxlog(LV_WARN, "pong timeout", "conn=%u unanswered=%d", c->id, c->nping);
	conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "pong timeout");
}

static void
ping_sent(struct conn *c, uint64_t payload)
{
	if (c->nping == PING_RING) {
		memmove(&c->pings[0], &c->pings[1], sizeof(c->pings[0]) * (PING_RING - 1));
		c->nping--;
	}
	c->pings[c->nping].payload = payload;
	c->pings[c->nping].sent_us = mono_us();
	c->nping++;
	g.st.pings_sent++;
	event_simple("ping_sent");
	if (!c->pong_armed && opt.pong_timeout_ms > 0)
		pong_arm(c, opt.pong_timeout_ms * 1000);
}

/* A pong answering one of our pings also answers every older one; pongs
 * that match nothing are recorded but keep nothing alive (as on Binance).
 * Returns 1 if the pong answered a ping. */
static int
pong_received(struct conn *c, const char *in, size_t len)
{
	struct sbuf b = { 0 };
	char num[24];
	uint64_t v;
	char *end;
	int i;

	g.st.pongs_received++;
	sb_adds(&b, "{\"event\":\"pong\",\"payload\":");
	sb_json_str(&b, in, len);
	sb_addc(&b, '}');
	event_emit(&b);
	sb_free(&b);
	if (!len || len >= sizeof(num))
		return 0;
	memcpy(num, in, len);
	num[len] = '\0';
	v = strtoull(num, &end, 10);
	if (*end)
		return 0;
	for (i = c->nping - 1; i >= 0; i--) {
		if (c->pings[i].payload == v) {
			memmove(&c->pings[0], &c->pings[i + 1],
				sizeof(c->pings[0]) * (size_t)(c->nping - i - 1));
			c->nping -= i + 1;
			return 1;
		}
	}
	return 0;
}

static int64_t
tcp_last_rx_us(struct lws *wsi, int64_t now)
{
	struct tcp_info ti;
	socklen_t sl = sizeof(ti);
	int fd = lws_get_socket_fd(wsi);

	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &sl))
		return 0;
	return now - (int64_t)ti.tcpi_last_data_recv * 1000;
}

/* The exchanges that cut a connection after a while, each by its own rule
 * (the doc's, see fakex.md): Upbit, Bithumb and Bybit without client
 * traffic (WS pings included: lws answers those without telling us, so the
 * kernel's "last data received" fills that gap); Bitget without a text
 * ping; OKX when nothing went either way, or no subscription came; Coinbase
 * when nothing was sent (its heartbeats channel keeps a connection alive). */
static void
idle_check(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_idle);
	int64_t now = mono_us(), last, wall = wall_us(), tcp;
	int64_t idle_us = opt.idle_ms * 1000;
	const char *why = "idle timeout";

	if (c->closing)
		return;
	if (g.stalled) {
		lws_sul_schedule(g.ctx, 0, &c->sul_idle, idle_check, (lws_usec_t)idle_us);
		return;
	}
	switch (opt.exchange) {
	case EX_BITGET:
		last = c->last_ping_us;
		why = "no ping";
		break;
	case EX_COINBASE:
		last = c->last_tx_us;
		why = "no updates";
		break;
	case EX_OKX:
		last = c->last_rx_us > c->last_tx_us ? c->last_rx_us : c->last_tx_us;
		if (!c->ever_sub) {
			last = c->since_us;
			why = "no subscription";
		}
		break;
	default:
		last = c->last_rx_us;
		tcp = tcp_last_rx_us(c->wsi, wall);
		if (tcp && now - (wall - tcp) > last)
			last = now - (wall - tcp);
		break;
	}
	if (now - last < idle_us) {
		lws_sul_schedule(g.ctx, 0, &c->sul_idle, idle_check,
				 (lws_usec_t)(last + idle_us - now));
		return;
	}
	event_simple("idle_timeout");
	fxlog(LV_WARN, "idle timeout", "conn=%u idle_ms=%" PRId64 " rule=\"%s\"", c->id,
	     (now - last) / 1000, why);
	conn_close(c, LWS_CLOSE_STATUS_NORMAL, why);
}

/* ------------------------------------------------------------------ */
/* The WebSocket protocol callback */

/* Refused upgrades, bad paths and bad stream names are answered with a
 * plain HTTP status, as the exchanges do. */
static int
upgrade_check(struct lws *wsi, const char *up)
{
	char why[160], q1[512], q2[256];
	struct target t;
	char *path = request_path(wsi);
	int status;
	struct sbuf b = { 0 };

	why[0] = '\0';
	if (strcasecmp(up, "websocket")) {
		status = 400;
		snprintf(why, sizeof(why), "unsupported upgrade");
	} else if (g.refusing) {
		status = 503;
		snprintf(why, sizeof(why), "refused");
	} else {
		status = target_parse(path, &t, why, sizeof(why));
		streams_free(t.streams, t.nstreams);
	}
	if (!status) {
		free(path);
		return 0;
	}
	g.st.rejected++;
	fxlog(LV_WARN, "upgrade rejected", "status=%d reason=%s path=%s", status,
	     lq(q2, sizeof(q2), why, strlen(why)), lq(q1, sizeof(q1), path, strlen(path)));
	sb_adds(&b, "{\"event\":\"rejected\",\"reason\":");
	sb_json_str(&b, why, strlen(why));
	sb_addc(&b, '}');
	event_emit(&b);
	sb_free(&b);
	free(path);
	if (lws_return_http_status(wsi, (unsigned)status, why))
		return -1;
	return 1;
}

static int
conn_open(struct conn *c, struct lws *wsi)
{
	struct target t;
	char why[160], q[512];
	struct sbuf b = { 0 };

	c->wsi = wsi;
	c->id = ++g.next_id;
	c->tls = lws_is_ssl(wsi);
	c->since_us = c->last_rx_us = c->last_tx_us = c->last_ping_us = mono_us();
	conn_id_new(c);
	c->path = request_path(wsi);
	if (!c->path)
		return -1;
	snprintf(c->format, sizeof(c->format), "DEFAULT");
	if (target_parse(c->path, &t, why, sizeof(why))) {
		streams_free(t.streams, t.nstreams);
		free(c->path);
		c->path = NULL;
		return -1;
	}
	c->streams = t.streams;
	c->nstreams = t.nstreams;
	c->combined = t.combined;
	if (!(c->want = calloc(rec.nkeys ? rec.nkeys : 1, 1))) {
		streams_free(c->streams, c->nstreams);
		free(c->path);
		c->path = NULL;
		c->streams = NULL;
		return -1;
	}
	c->established = 1;
	c->next = g.conns;
	if (g.conns)
		g.conns->prev = c;
	g.conns = c;
	g.st.connections++;
	g.st.accepted++;
	want_recompute(c);

	sb_adds(&b, "{\"event\":\"connect\",\"path\":");
	sb_json_str(&b, c->path, strlen(c->path));
	sb_addf(&b, ",\"tls\":%s}", c->tls ? "true" : "false");
	event_emit(&b);
	sb_free(&b);
	fxlog(LV_INFO, "connected", "conn=%u tls=%d path=%s streams=%d", c->id,
	     c->tls, lq(q, sizeof(q), c->path, strlen(c->path)), c->nstreams);

	if (opt.ping_ms > 0)
		lws_sul_schedule(g.ctx, 0, &c->sul_ping, ping_tick,
				 (lws_usec_t)opt.ping_ms * 1000);
	if (opt.idle_ms > 0)
		lws_sul_schedule(g.ctx, 0, &c->sul_idle, idle_check,
				 (lws_usec_t)opt.idle_ms * 1000);
	if (opt.exchange == EX_KRAKEN)
		kraken_status(c);
	if (g.stalled)
		lws_rx_flow_control(wsi, 0);
	replay_kick(c);
	return 0;
}

static void
conn_closed(struct conn *c)
{
	struct qnode *q;

	if (!c->established)
		return;
	c->running = 0;
	lws_sul_cancel(&c->sul_ping);
	lws_sul_cancel(&c->sul_pong);
	lws_sul_cancel(&c->sul_status);
	lws_sul_cancel(&c->sul_idle);
	lws_sul_cancel(&c->sul_hb);
	lws_sul_cancel(&c->sul_endless);
	if (c->prev)
		c->prev->next = c->next;
	else
		g.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	g.st.connections--;
	event_simple("disconnect");
	fxlog(LV_INFO, "disconnected", "conn=%u seconds=%.3f sent=%" PRIu64
	     " skipped=%" PRIu64, c->id, (double)(mono_us() - c->since_us) / 1e6,
	     c->sent, c->skipped);
	while ((q = c->qhead)) {
		c->qhead = q->next;
		msg_unref(q->m);
		free(q);
	}
	c->qtail = NULL;
	free(c->scratch);
	free(c->rx);
	free(c->want);
	free(c->path);
	free(c->ticket);
	streams_free(c->streams, c->nstreams);
	free(c->sbits);
	utypes_free(c->types, c->ntypes);
	c->established = 0;
}

/* One complete client message (text or binary). */
static int
conn_message(struct conn *c, const char *text, size_t len)
{
	struct sbuf b = { 0 };
	int64_t now = mono_us();

	c->last_rx_us = now;
	sb_adds(&b, "{\"event\":\"message\",\"text\":");
	sb_json_str(&b, text, len);
	sb_addc(&b, '}');
	event_emit(&b);
	sb_free(&b);

	if (UPBIT_LIKE)
		upbit_request(c, text, len);
	else if (opt.exchange == EX_BINANCE)
		binance_request(c, text, len);
	else
		keyed_request(c, text, len);
	return 0;
}

/* Binance and Bitget disconnect clients that send too much; we allow twice
 * their documented rates (Binance: requests and unsolicited pongs) before
 * doing the same. */
static int
rate_exceeded(struct conn *c)
{
	int64_t now = mono_us();
	int limit = xinfo[opt.exchange].msg_limit;

	if (!limit)
		return 0;
	if (now - c->rl_start_us >= 1000000) {
		c->rl_start_us = now;
		c->rl_count = 0;
	}
	if (++c->rl_count <= limit)
		return 0;
	event_simple("rate_limited");
	fxlog(LV_WARN, "too many messages, closing", "conn=%u limit_per_s=%d",
	     c->id, limit);
	lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
			 (unsigned char *)"too many requests", 17);
	return 1;
}

static int
conn_receive(struct conn *c, const char *in, size_t len)
{
	int r;

	if (!c->rx_in_msg) {
		c->rx_len = 0;
		c->rx_binary = lws_frame_is_binary(c->wsi);
	}
	if (c->rx_len + len > MAX_IN_MSG) {
		fxlog(LV_WARN, "client message too big, closing", "conn=%u limit=%d",
		     c->id, MAX_IN_MSG);
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
				 (unsigned char *)"message too big", 15);
		return -1;
	}
	if (c->rx_len + len + 1 > c->rx_cap) {
		size_t nc = c->rx_cap ? c->rx_cap : 1024;
		char *nb;

		while (nc < c->rx_len + len + 1)
			nc *= 2;
		if (!(nb = realloc(c->rx, nc)))
			return -1;
		c->rx = nb;
		c->rx_cap = nc;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	c->rx[c->rx_len] = '\0';
	c->last_rx_us = mono_us();
	if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi)) {
		c->rx_in_msg = 1;
		return 0;
	}
	c->rx_in_msg = 0;
	if (rate_exceeded(c))
		return -1;
	r = conn_message(c, c->rx, c->rx_len);
	/* Do not keep a 64 KiB buffer around for one big message. */
	if (c->rx_cap > 16384) {
		free(c->rx);
		c->rx = NULL;
		c->rx_cap = 0;
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* Faults that never end: connections left unanswered, endless messages */

/* hang on: the connection was accepted (the client's connect() succeeded);
 * keep a duplicate of its socket and let lws drop its own, so the upgrade
 * request is never read nor answered, and no TLS handshake either. */
static int
hang_take(int fd)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (d < 0) {
		fxlog(LV_ERROR, "cannot keep a connection unanswered", NULL);
		return 1;
	}
	if (g.nhung == MAX_HUNG) {
		close(g.hung[0]);
		memmove(g.hung, g.hung + 1, (MAX_HUNG - 1) * sizeof(g.hung[0]));
		g.nhung--;
	}
	g.hung[g.nhung++] = d;
	g.st.hung++;
	event_simple("hang");
	fxlog(LV_INFO, "connection accepted and left unanswered", "held=%d", g.nhung);
	return 1;	/* lws closes its descriptor; ours keeps the connection */
}

static void
hang_release(void)
{
	while (g.nhung)
		close(g.hung[--g.nhung]);
}

enum { ENDLESS_LENGTH = 1, ENDLESS_FRAGMENTS };

static void
endless_tick(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_endless);
	int64_t now = mono_us();

	c->endless_due += (uint64_t)((double)c->endless_bps * (double)(now - c->endless_at) / 1e6);
	c->endless_at = now;
	if (c->endless_due)
		lws_callback_on_writable(c->wsi);
	lws_sul_schedule(g.ctx, 0, &c->sul_endless, endless_tick, ENDLESS_TICK_US);
}

static void
endless_start(struct conn *c, int kind, long bps)
{
	c->endless = kind;
	c->endless_bps = bps;
	c->endless_at = mono_us();
	c->endless_due = (uint64_t)(bps / 20 ? bps / 20 : 1);	/* the first bytes at once */
	lws_callback_on_writable(c->wsi);
	lws_sul_schedule(g.ctx, 0, &c->sul_endless, endless_tick, ENDLESS_TICK_US);
}

/* One write of the endless message: ENDLESS_LENGTH writes, past lws, a text
 * frame header announcing 2^63 - 1 bytes and then that payload, byte by byte
 * as due, never reaching its end; ENDLESS_FRAGMENTS sends a text (binary for
 * Upbit and Bithumb) frame without FIN, then continuation frames without FIN. */
static int
endless_write(struct conn *c)
{
	static unsigned char pad[LWS_PRE + 65536];
	size_t n = c->endless_due > 65536 ? 65536 : (size_t)c->endless_due;
	ssize_t w;

	if (c->endless == ENDLESS_LENGTH) {
		static const unsigned char hdr[10] = {
			0x81, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
		};
		int fd = lws_get_socket_fd(c->wsi);

		if (c->endless_hdr_off < sizeof(hdr)) {
			w = send(fd, hdr + c->endless_hdr_off,
				 sizeof(hdr) - c->endless_hdr_off, MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if (w > 0)
				c->endless_hdr_off += (size_t)w;
			if (c->endless_hdr_off < sizeof(hdr)) {
				lws_callback_on_writable(c->wsi);
				return 0;
			}
		}
		if (!n)
			return 0;
		memset(pad, 'x', n);
		w = send(fd, pad, n, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (w > 0) {
			c->endless_due -= (uint64_t)w;
			g.st.endless_bytes += (uint64_t)w;
		}
	} else {
		enum lws_write_protocol wp = c->endless_started ? LWS_WRITE_CONTINUATION : data_wp();

		if (!n)
			return 0;
		memset(pad + LWS_PRE, 'x', n);
		if (lws_write(c->wsi, pad + LWS_PRE, n, wp | LWS_WRITE_NO_FIN) < (int)n)
			return -1;
		c->endless_started = 1;
		c->endless_due -= n;
		g.st.endless_bytes += n;
		g.st.frames_sent++;
	}
	c->last_tx_us = mono_us();
	if (c->endless_due)
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* Exactly one lws_write per WRITEABLE, in priority order: ping, queued
 * frames, close, then (with --rate 0) the next recorded line. */
static int
conn_writeable(struct conn *c)
{
	struct lws *wsi = c->wsi;
	int n;

	/* The close frame follows what was queued before it, except when
	 * stalled: then nothing else may go out, so it goes alone. */
	if (c->close_code && (!c->qhead || g.stalled || c->endless)) {
		lws_close_reason(wsi, (enum lws_close_status)c->close_code,
				 (unsigned char *)c->close_reason, strlen(c->close_reason));
		return -1;
	}
	if (g.stalled)
		return 0;
	if (c->endless)
		return endless_write(c);
	if (c->ping_pending && !c->closing) {
		unsigned char buf[LWS_PRE + 32];
		uint64_t payload = (uint64_t)(wall_us() / 1000);
		int plen = snprintf((char *)buf + LWS_PRE, 32, "%" PRIu64, payload);

		c->ping_pending = 0;
		if (lws_write(wsi, buf + LWS_PRE, (size_t)plen, LWS_WRITE_PING) < plen)
			return -1;
		c->last_tx_us = mono_us();
		ping_sent(c, payload);
	} else if (c->qhead) {
		struct qnode *q = c->qhead;
		struct msg *m = q->m;

		c->qhead = q->next;
		if (!c->qhead)
			c->qtail = NULL;
		c->queued -= m->len;
		free(q);
		n = lws_write(wsi, m->buf + LWS_PRE, m->len, m->wp);
		if (n < 0 || (size_t)n < m->len) {
			msg_unref(m);
			return -1;
		}
		g.st.frames_sent++;
		c->last_tx_us = mono_us();
		if (m->kind == MK_DATA) {
			g.st.messages_sent++;
			c->sent++;
		} else if (m->kind == MK_STATUS) {
			g.st.status_sent++;
		} else if (m->kind == MK_PONG) {
			g.st.pongs_sent++;
		} else if (m->kind == MK_HEARTBEAT) {
			g.st.heartbeats_sent++;
		}
		msg_unref(m);
	} else if (opt.rate == 0 && !opt.pace_real && replay_can_run(c)) {
		const struct rline *l = replay_take(c);
		const char *s;
		size_t len;

		if (l && !fault_skip(c, l)) {
			s = line_render(c, l, &len);
			if (LWS_PRE + len > c->scratch_cap) {
				unsigned char *nb = realloc(c->scratch, LWS_PRE + len);

				if (!nb)
					return -1;
				c->scratch = nb;
				c->scratch_cap = LWS_PRE + len;
			}
			memcpy(c->scratch + LWS_PRE, s, len);
			n = lws_write(wsi, c->scratch + LWS_PRE, len, data_wp());
			if (n < 0 || (size_t)n < len)
				return -1;
			c->last_tx_us = mono_us();
			g.st.frames_sent++;
			g.st.messages_sent++;
			c->sent++;
		}
	}
	if (c->ping_pending || c->qhead || c->close_code ||
	    (opt.rate == 0 && !opt.pace_real && replay_can_run(c)))
		lws_callback_on_writable(wsi);
	return 0;
}

/* GET /api/v3/depth?symbol=BTCUSDT (Binance): the recording's latest "<sym>@depthSnapshot"
 * frame (what the relay's ingest records for a REST snapshot) not after the replay's
 * furthest position, or its first one; 400 for a symbol the recording has none of. */
static int
rest_depth(struct lws *wsi)
{
	char sym[64] = "", want[96];
	char arg[128];
	const struct rline *best = NULL, *first = NULL;
	size_t reach = 0;
	struct conn *c;

	for (int i = 0; lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++)
		if (!strncmp(arg, "symbol=", 7))
			snprintf(sym, sizeof sym, "%.60s", arg + 7);
	for (char *p = sym; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	snprintf(want, sizeof want, "%s@depthSnapshot", sym);
	for (c = g.conns; c; c = c->next) {
		size_t at = opt.live ? (size_t)(c->live_at % (rec.n ? rec.n : 1)) : c->cursor;
		if (at > reach)
			reach = at;
	}
	for (size_t i = 0; sym[0] && i < rec.n; i++) {
		const struct rline *l = &rec.lines[i];
		if (l->key < 0 || strcmp(rec.keys[l->key], want) || !l->inner)
			continue;
		if (!first)
			first = l;
		if (i <= reach)
			best = l;
	}
	if (!best)
		best = first;
	if (!best) {
		fxlog(LV_INFO, "REST depth: no snapshot", "symbol=%s", sym);
		if (lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST, NULL))
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	{
		struct sbuf b = { 0 };
		sb_addf(&b, "{\"event\":\"rest\",\"path\":\"/api/v3/depth\",\"symbol\":\"%s\"}", sym);
		event_emit(&b);
		sb_free(&b);
	}
	unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr;
	if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "application/json", best->inner_len, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	unsigned char *body = malloc(LWS_PRE + best->inner_len);
	if (!body)
		return -1;
	memcpy(body + LWS_PRE, best->inner, best->inner_len);
	int w = lws_write(wsi, body + LWS_PRE, best->inner_len, LWS_WRITE_HTTP_FINAL);
	free(body);
	if (w < (int)best->inner_len)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int
cb_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user,
      void *in, size_t len)
{
	struct conn *c = user;
	char q[256];

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		/* IN is the socket just accepted; non-zero makes lws close its copy. */
		return g.hanging ? hang_take((int)(lws_intptr_t)in) : 0;

	case LWS_CALLBACK_HTTP:
		/* Plain HTTP: only Binance's REST order book snapshot; the rest is WebSocket. */
		if (opt.exchange == EX_BINANCE && in && !strcmp((const char *)in, "/api/v3/depth"))
			return rest_depth(wsi);
		if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;

	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return upgrade_check(wsi, in ? in : "");

	case LWS_CALLBACK_ESTABLISHED:
		return conn_open(c, wsi);

	case LWS_CALLBACK_RECEIVE:
		if (!c->established)
			return -1;
		return conn_receive(c, in, len);

	case LWS_CALLBACK_RECEIVE_PONG:
		if (!c->established)
			return 0;
		c->last_rx_us = mono_us();
		/* Answers to our own pings never count against the limit,
		 * so a short --ping-interval cannot get a client cut off. */
		if (pong_received(c, in, len) || opt.exchange != EX_BINANCE)
			return 0;
		return rate_exceeded(c) ? -1 : 0;

	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!c->established)
			return 0;
		return conn_writeable(c);

	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (c->established) {
			const unsigned char *p = in;
			int code = len >= 2 ? (p[0] << 8) | p[1] : 0;

			fxlog(LV_INFO, "client sent close", "conn=%u code=%d reason=%s",
			     c->id, code, lq(q, sizeof(q), len > 2 ? (const char *)p + 2 : "",
					      len > 2 ? len - 2 : 0));
		}
		return 0;

	case LWS_CALLBACK_CLOSED:
		conn_closed(c);
		return 0;

	default:
		return 0;
	}
}

/* ------------------------------------------------------------------ */
/* The control socket: line commands, one answer line each */

struct ctl {
	int listener;
	int timer;		/* the replay timerfd, not a control connection */
	char *in;
	size_t in_len, in_cap;
	int discarding;		/* inside an over-long line: skip to '\n' */
	struct sbuf out;
	size_t out_off;
};

static int
broadcast(struct msg *m)
{
	struct conn *c;
	int n = 0;

	m->refs++;	/* hold it while pushing */
	for (c = g.conns; c; c = c->next) {
		if (c->closing || c->endless)
			continue;
		if (!conn_push(c, m))
			n++;
	}
	msg_unref(m);
	return n;
}

static void
ctl_stats(struct sbuf *o)
{
	sb_addf(o, "{\"connections\":%" PRIu64 ",\"accepted\":%" PRIu64
		",\"messages_sent\":%" PRIu64 ",\"pings_sent\":%" PRIu64
		",\"pongs_received\":%" PRIu64 ",\"status_sent\":%" PRIu64
		",\"subscriptions\":%" PRIu64 ",\"skipped\":%" PRIu64
		",\"rejected\":%" PRIu64 ",\"frames_sent\":%" PRIu64
		",\"pongs_sent\":%" PRIu64 ",\"heartbeats_sent\":%" PRIu64
		",\"errors_sent\":%" PRIu64 ",\"snapshots_sent\":%" PRIu64
		",\"fault_skipped\":%" PRIu64 ",\"corrupted\":%" PRIu64
		",\"hung\":%" PRIu64 ",\"endless_bytes\":%" PRIu64 "}\n",
		g.st.connections, g.st.accepted, g.st.messages_sent,
		g.st.pings_sent, g.st.pongs_received, g.st.status_sent,
		g.st.subscriptions, g.st.skipped, g.st.rejected, g.st.frames_sent,
		g.st.pongs_sent, g.st.heartbeats_sent, g.st.errors_sent,
		g.st.snapshots_sent, g.st.fault_skipped, g.st.corrupted,
		g.st.hung, g.st.endless_bytes);
}

static int
close_code_ok(long code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

static void
ctl_command(char *line, size_t len, struct sbuf *o)
{
	char *cmd = line, *arg, *end;
	struct conn *c;
	struct msg *m;
	long v;
	int n = 0;
	char q[256];

	while (len && (line[len - 1] == '\r'))
		line[--len] = '\0';
	arg = strchr(cmd, ' ');
	if (arg)
		*arg++ = '\0';
	else
		arg = cmd + strlen(cmd);
	if (strcmp(cmd, "send"))
		while (*arg == ' ')
			arg++;
	fxlog(LV_INFO, "control command", "cmd=%s", lq(q, sizeof(q), cmd, strlen(cmd)));

	if (!*cmd) {
		sb_adds(o, "error empty command\n");
	} else if (!strcmp(cmd, "drop")) {
		/* Linger 0 turns the close into a RST, and a quiet TLS
		 * shutdown skips close_notify: the client sees the line die. */
		for (c = g.conns; c; c = c->next) {
			struct linger lg = { 1, 0 };
			SSL *ssl = lws_get_ssl(c->wsi);

			setsockopt(lws_get_socket_fd(c->wsi), SOL_SOCKET, SO_LINGER,
				   &lg, sizeof(lg));
			if (ssl)
				SSL_set_quiet_shutdown(ssl, 1);
			c->closing = 1;
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			n++;
		}
		sb_addf(o, "ok dropped %d\n", n);
	} else if (!strcmp(cmd, "close")) {
		v = 1001;
		if (*arg) {
			v = strtol(arg, &end, 10);
			if (*end || !close_code_ok(v)) {
				sb_adds(o, "error close code must be 1000-1003, 1007-1014 or 3000-4999\n");
				return;
			}
		}
		for (c = g.conns; c; c = c->next) {
			if (c->closing)
				continue;
			conn_close(c, (int)v, v == 1001 ? "going away" : "closed by fakex");
			n++;
		}
		sb_addf(o, "ok closing %d code %ld\n", n, v);
	} else if (!strcmp(cmd, "stall")) {
		if (!g.stalled) {
			g.stalled = 1;
			for (c = g.conns; c; c = c->next)
				lws_rx_flow_control(c->wsi, 0);
		}
		sb_adds(o, "ok stalled\n");
	} else if (!strcmp(cmd, "resume")) {
		if (g.stalled) {
			int64_t now = mono_us();

			g.stalled = 0;
			for (c = g.conns; c; c = c->next) {
				/* the silence was ours: do not blame the client */
				c->nping = 0;
				c->last_rx_us = now;
				lws_rx_flow_control(c->wsi, 1);
				lws_callback_on_writable(c->wsi);
				replay_kick(c);
			}
		}
		sb_adds(o, "ok resumed\n");
	} else if (!strcmp(cmd, "pause")) {
		if (!g.paused)
			live.paused_at = mono_us();
		g.paused = 1;
		sb_adds(o, "ok paused\n");
	} else if (!strcmp(cmd, "play")) {
		if (g.paused && live.paused_at) {
			live.paused_total += mono_us() - live.paused_at;
			live.paused_at = 0;
		}
		g.paused = 0;
		for (c = g.conns; c; c = c->next)
			replay_kick(c);
		sb_adds(o, "ok playing\n");
	} else if (!strcmp(cmd, "garbage")) {
		static const char junk[] = "this is not json {{{";

		if (!(m = msg_new(junk, sizeof(junk) - 1, LWS_WRITE_TEXT, MK_OTHER))) {
			sb_adds(o, "error out of memory\n");
			return;
		}
		sb_addf(o, "ok sent %d\n", broadcast(m));
	} else if (!strcmp(cmd, "huge")) {
		v = strtol(arg, &end, 10);
		if (!*arg || *end || v < 1 || v > MAX_HUGE) {
			sb_addf(o, "error usage: huge N (1..%ld)\n", MAX_HUGE);
			return;
		}
		m = msg_new(NULL, (size_t)v, data_wp(), MK_OTHER);
		if (!m) {
			sb_adds(o, "error out of memory\n");
			return;
		}
		/* {"huge":"xxxx"} padded to exactly N bytes when N allows */
		memset(m->buf + LWS_PRE, 'x', (size_t)v);
		if (v >= 11) {
			memcpy(m->buf + LWS_PRE, "{\"huge\":\"", 9);
			memcpy(m->buf + LWS_PRE + v - 2, "\"}", 2);
		}
		sb_addf(o, "ok sent %d bytes %ld\n", broadcast(m), v);
	} else if (!strcmp(cmd, "send")) {
		if (!*arg) {
			sb_adds(o, "error usage: send TEXT\n");
			return;
		}
		m = msg_new(arg, strlen(arg), data_wp(), MK_OTHER);
		if (!m) {
			sb_adds(o, "error out of memory\n");
			return;
		}
		sb_addf(o, "ok sent %d\n", broadcast(m));
	} else if (!strcmp(cmd, "skip")) {
		v = strtol(arg, &end, 10);
		if (!*arg || *end || v < 1 || v > MAX_SKIP) {
			sb_addf(o, "error usage: skip N (1..%ld)\n", MAX_SKIP);
			return;
		}
		for (c = g.conns; c; c = c->next) {
			if (c->closing)
				continue;
			c->skip_left = v;
			n++;
		}
		sb_addf(o, "ok skip %ld on %d\n", v, n);
	} else if (!strcmp(cmd, "corrupt")) {
		for (c = g.conns; c; c = c->next) {
			if (c->closing)
				continue;
			c->corrupt_pending = 1;
			n++;
		}
		sb_addf(o, "ok corrupt on %d\n", n);
	} else if (!strcmp(cmd, "refuse")) {
		if (!strcmp(arg, "on") || !strcmp(arg, "off")) {
			g.refusing = arg[1] == 'n';
			sb_addf(o, "ok refuse %s\n", arg);
		} else {
			sb_adds(o, "error usage: refuse on|off\n");
		}
	} else if (!strcmp(cmd, "hang")) {
		if (!strcmp(arg, "on") || !strcmp(arg, "off")) {
			g.hanging = arg[1] == 'n';
			if (!g.hanging)
				hang_release();
			sb_addf(o, "ok hang %s\n", arg);
		} else {
			sb_adds(o, "error usage: hang on|off\n");
		}
	} else if (!strcmp(cmd, "endless")) {
		char *bps = strchr(arg, ' ');
		int kind = 0;

		if (bps)
			*bps++ = '\0';
		if (!strcmp(arg, "length"))
			kind = ENDLESS_LENGTH;
		else if (!strcmp(arg, "fragments"))
			kind = ENDLESS_FRAGMENTS;
		v = bps && *bps ? strtol(bps, &end, 10) : -1;
		if (!kind || v < 1 || v > MAX_ENDLESS_BPS || *end) {
			sb_addf(o, "error usage: endless length|fragments BYTES_PER_S (1..%ld)\n",
				MAX_ENDLESS_BPS);
			return;
		}
		for (c = g.conns; c; c = c->next) {
			/* The raw header needs the plain socket. */
			if (c->closing || c->endless || (kind == ENDLESS_LENGTH && c->tls))
				continue;
			endless_start(c, kind, v);
			n++;
		}
		sb_addf(o, "ok endless %s on %d\n", arg, n);
	} else if (!strcmp(cmd, "stats")) {
		ctl_stats(o);
	} else if (!strcmp(cmd, "help")) {
		sb_adds(o, "ok commands: drop, close [CODE], stall, resume, pause, play, "
			"garbage, huge N, send TEXT, skip N, corrupt, refuse on|off, hang on|off, "
			"endless length|fragments BYTES_PER_S, stats\n");
	} else {
		sb_adds(o, "error unknown command: ");
		sb_add(o, cmd, strlen(cmd) > 64 ? 64 : strlen(cmd));
		sb_addc(o, '\n');
	}
}

static int
ctl_flush(struct lws *wsi, struct ctl *x)
{
	ssize_t n;

	while (x->out_off < x->out.len) {
		n = write(lws_get_socket_fd(wsi), x->out.p + x->out_off,
			  x->out.len - x->out_off);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				lws_callback_on_writable(wsi);
				return 0;
			}
			if (errno == EINTR)
				continue;
			return -1;
		}
		x->out_off += (size_t)n;
	}
	x->out.len = x->out_off = 0;
	if (x->out.p)
		x->out.p[0] = '\0';
	return 0;
}

static void
ctl_accept(void)
{
	int i, fd;

	for (i = 0; i < 16; i++) {
		lws_sock_file_fd_type u;
		struct lws *w;

		fd = accept4(g.ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		u.filefd = fd;
		w = lws_adopt_descriptor_vhost(g.vh, LWS_ADOPT_RAW_FILE_DESC, u,
					       "fakex-control", NULL);
		if (!w) {
			fxlog(LV_WARN, "cannot adopt control connection", NULL);
			close(fd);
		}
	}
}

static int
ctl_read(struct lws *wsi, struct ctl *x)
{
	char buf[65536];
	ssize_t n = read(lws_get_socket_fd(wsi), buf, sizeof(buf));
	char *p, *e, *nl;

	if (n == 0)
		return -1;
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	for (p = buf, e = buf + n; p < e; p = nl + 1) {
		size_t chunk;

		nl = memchr(p, '\n', (size_t)(e - p));
		chunk = (size_t)((nl ? nl : e) - p);
		if (x->discarding) {
			if (nl)
				x->discarding = 0;
		} else if (x->in_len + chunk > CTL_LINE_MAX) {
			sb_adds(&x->out, "error line too long\n");
			x->in_len = 0;
			x->discarding = !nl;
		} else {
			if (x->in_len + chunk + 1 > x->in_cap) {
				size_t nc = x->in_cap ? x->in_cap : 256;
				char *nb;

				while (nc < x->in_len + chunk + 1)
					nc *= 2;
				if (!(nb = realloc(x->in, nc)))
					return -1;
				x->in = nb;
				x->in_cap = nc;
			}
			memcpy(x->in + x->in_len, p, chunk);
			x->in_len += chunk;
			x->in[x->in_len] = '\0';
			if (nl) {
				ctl_command(x->in, x->in_len, &x->out);
				x->in_len = 0;
			}
		}
		if (!nl)
			break;
	}
	if (x->out.oom || x->out.len > CTL_OUT_MAX)
		return -1;	/* a client that never reads its answers */
	return ctl_flush(wsi, x);
}

static int
cb_ctl(struct lws *wsi, enum lws_callback_reasons reason, void *user,
       void *in, size_t len)
{
	struct ctl *x = user;

	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (!x)
			return -1;
		if (x->timer) {
			replays_due();
			return 0;
		}
		if (x->listener) {
			ctl_accept();
			return 0;
		}
		return ctl_read(wsi, x);
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		return x && !x->listener ? ctl_flush(wsi, x) : 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (x) {
			free(x->in);
			x->in = NULL;
			sb_free(&x->out);
		}
		return 0;
	default:
		return 0;
	}
}

static int
ctl_listen(const char *path)
{
	struct sockaddr_un sa;
	struct stat stt;
	lws_sock_file_fd_type u;
	struct lws *w;
	char q[256];

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fxlog(LV_ERROR, "control socket path too long", NULL);
		return -1;
	}
	/* A socket left by a killed run would make bind fail; anything
	 * else at that path is not ours to remove. */
	if (!lstat(path, &stt)) {
		if (!S_ISSOCK(stt.st_mode)) {
			fxlog(LV_ERROR, "control path exists and is not a socket", "path=%s",
			     lq(q, sizeof(q), path, strlen(path)));
			return -1;
		}
		unlink(path);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	g.ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (g.ctl_fd < 0 || bind(g.ctl_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(g.ctl_fd, 16)) {
		const char *why = strerror(errno);
		char qe[128];

		fxlog(LV_ERROR, "cannot listen on control socket", "path=%s error=%s",
		     lq(q, sizeof(q), path, strlen(path)), lq(qe, sizeof(qe), why, strlen(why)));
		return -1;
	}
	g.ctl_created = 1;
	u.filefd = g.ctl_fd;
	w = lws_adopt_descriptor_vhost(g.vh, LWS_ADOPT_RAW_FILE_DESC, u,
				       "fakex-control", NULL);
	if (!w || !lws_wsi_user(w)) {
		fxlog(LV_ERROR, "cannot watch control socket", NULL);
		return -1;
	}
	((struct ctl *)lws_wsi_user(w))->listener = 1;
	return 0;
}

static int
replay_timer_start(void)
{
	lws_sock_file_fd_type u;
	struct lws *w;

	g.replay_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (g.replay_fd < 0) {
		fxlog(LV_ERROR, "cannot create the replay timer", NULL);
		return -1;
	}
	u.filefd = g.replay_fd;
	w = lws_adopt_descriptor_vhost(g.vh, LWS_ADOPT_RAW_FILE_DESC, u,
				       "fakex-control", NULL);
	if (!w || !lws_wsi_user(w)) {
		fxlog(LV_ERROR, "cannot watch the replay timer", NULL);
		return -1;
	}
	((struct ctl *)lws_wsi_user(w))->timer = 1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* main */

/* tx_packet_size (last): left at 0, libwebsockets would send a frame in pieces of
 * its 4 KiB service buffer, one loop turn apart. */
static const struct lws_protocols protocols[] = {
	{ "fakex", cb_ws, sizeof(struct conn), 0, 0, NULL, 65536 },
	{ "fakex-control", cb_ctl, sizeof(struct ctl), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void
on_signal(int sig)
{
	got_signal = sig;
	if (g.ctx)
		lws_cancel_service(g.ctx);
}

static void
usage(FILE *f)
{
	fputs(
"Usage: fakex --exchange NAME --port N [options]\n"
"A fake exchange WebSocket server on 127.0.0.1 for tests.\n"
"Prints \"listening PORT\" on stdout once ready; logs go to stderr.\n"
"\n"
"  -x, --exchange NAME        binance, upbit, bithumb, coinbase, bybit, okx,\n"
"                             kraken, bitget or gateio (required)\n"
"  -p, --port N               TCP port, 0 picks a free one (required)\n"
"      --tls-cert FILE        serve wss:// with this PEM certificate ...\n"
"      --tls-key FILE         ... and this PEM private key\n"
"      --recording FILE       envelope lines (NDJSON) to replay\n"
"      --rate N               wanted lines per second per connection\n"
"                             (default 100; 0 = as fast as the socket takes)\n"
"      --pace real            follow the recorded local_ts gaps instead\n"
"      --speed F              with --pace real: F times faster (default 1)\n"
"      --loop                 start the recording over at its end\n"
"      --live                 one clock for all connections: the recording moves on at\n"
"                             --rate lines/s (all lines); a new subscriber joins where it is\n"
"      --tick-us N            send what fell due at most every N us, in bursts\n"
"                             (default 0: each line at its own time)\n"
"      --retime               shift the exchange's epoch-ms times in each frame so\n"
"                             they read as now (E, T, timestamp, trade_timestamp, tms, ttms)\n"
"      --ping-interval MS     binance, gateio: server WS ping period\n"
"                             (default 20000, 0 off)\n"
"      --pong-timeout MS      binance, gateio: close if a ping is unanswered\n"
"                             this long (default 60000, 0 off)\n"
"      --status-interval MS   upbit, bithumb: {\"status\":\"UP\"} period after\n"
"                             PING (default 10000)\n"
"      --heartbeat-interval MS  kraken, coinbase: heartbeat period (default 1000)\n"
"      --idle-timeout MS      close by the exchange's idle rule after MS (0 off;\n"
"                             defaults: upbit, bithumb 120000, bitget 120000,\n"
"                             okx 30000, coinbase 90000, bybit 600000)\n"
"      --control PATH         unix socket taking line commands (see fakex.md)\n"
"      --events FILE          append one JSON line per client event\n"
"  -h, --help                 this text\n"
"  -V, --version              print the version\n"
"\n"
"Environment: LOG_LEVEL=debug|info|warn|error (default info).\n"
"Exit status: 0 ok, 1 runtime failure, 2 usage error.\n", f);
}

static int
parse_long(const char *name, const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "fakex: --%s: expected an integer in %ld..%ld, got '%s'\n",
			name, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int
parse_args(int argc, char **argv)
{
	enum {
		O_TLS_CERT = 256, O_TLS_KEY, O_RECORDING, O_RATE, O_PACE, O_SPEED,
		O_LOOP, O_RETIME, O_LIVE, O_TICK, O_PING, O_PONG, O_STATUS, O_IDLE, O_CONTROL, O_EVENTS,
		O_HEARTBEAT
	};
	static const struct option lo[] = {
		{ "control", required_argument, NULL, O_CONTROL },
		{ "events", required_argument, NULL, O_EVENTS },
		{ "exchange", required_argument, NULL, 'x' },
		{ "heartbeat-interval", required_argument, NULL, O_HEARTBEAT },
		{ "help", no_argument, NULL, 'h' },
		{ "idle-timeout", required_argument, NULL, O_IDLE },
		{ "loop", no_argument, NULL, O_LOOP },
		{ "retime", no_argument, NULL, O_RETIME },
		{ "tick-us", required_argument, NULL, O_TICK },
		{ "live", no_argument, NULL, O_LIVE },
		{ "pace", required_argument, NULL, O_PACE },
		{ "ping-interval", required_argument, NULL, O_PING },
		{ "pong-timeout", required_argument, NULL, O_PONG },
		{ "port", required_argument, NULL, 'p' },
		{ "rate", required_argument, NULL, O_RATE },
		{ "recording", required_argument, NULL, O_RECORDING },
		{ "speed", required_argument, NULL, O_SPEED },
		{ "status-interval", required_argument, NULL, O_STATUS },
		{ "tls-cert", required_argument, NULL, O_TLS_CERT },
		{ "tls-key", required_argument, NULL, O_TLS_KEY },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;
	char *end;
	const char *lvl = getenv("LOG_LEVEL");

	if (lvl) {
		for (ch = 0; ch < 4; ch++)
			if (!strcasecmp(lvl, lv_names[ch]))
				log_level = ch;
	}
	while ((ch = getopt_long(argc, argv, "hVx:p:", lo, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			exit(FX_EXIT_OK);
		case 'V':
			printf("fakex %s\n", FAKEX_VERSION);
			exit(FX_EXIT_OK);
		case 'x':
			for (ch = 0; ch < EX_COUNT && strcmp(optarg, xinfo[ch].name); ch++)
				;
			if (ch == EX_COUNT) {
				fprintf(stderr, "fakex: --exchange must be one of binance, upbit, "
					"bithumb, coinbase, bybit, okx, kraken, bitget, gateio\n");
				return -1;
			}
			opt.exchange = (enum exch)ch;
			opt.exchange_name = xinfo[ch].name;
			break;
		case 'p':
			if (parse_long("port", optarg, 0, 65535, &opt.port))
				return -1;
			break;
		case O_TLS_CERT: opt.tls_cert = optarg; break;
		case O_TLS_KEY: opt.tls_key = optarg; break;
		case O_RECORDING: opt.recording = optarg; break;
		case O_CONTROL: opt.control = optarg; break;
		case O_EVENTS: opt.events = optarg; break;
		case O_LOOP: opt.loop = 1; break;
		case O_RETIME: opt.retime = 1; break;
		case O_TICK:
			if (parse_long("tick-us", optarg, 0, 1000000, &opt.tick_us))
				return -1;
			break;
		case O_LIVE: opt.live = 1; break;
		case O_RATE:
			if (parse_long("rate", optarg, 0, RATE_MAX, &opt.rate))
				return -1;
			break;
		case O_PACE:
			if (!strcmp(optarg, "real"))
				opt.pace_real = 1;
			else if (!strcmp(optarg, "rate"))
				opt.pace_real = 0;
			else {
				fprintf(stderr, "fakex: --pace must be real or rate\n");
				return -1;
			}
			break;
		case O_SPEED:
			errno = 0;
			opt.speed = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(opt.speed > 0.0) ||
			    opt.speed > 1e6) {
				fprintf(stderr, "fakex: --speed must be a number > 0\n");
				return -1;
			}
			break;
		case O_PING:
			if (parse_long("ping-interval", optarg, 0, 86400000, &opt.ping_ms))
				return -1;
			break;
		case O_PONG:
			if (parse_long("pong-timeout", optarg, 0, 86400000, &opt.pong_timeout_ms))
				return -1;
			break;
		case O_STATUS:
			if (parse_long("status-interval", optarg, 0, 86400000, &opt.status_ms))
				return -1;
			break;
		case O_IDLE:
			if (parse_long("idle-timeout", optarg, 0, 86400000, &opt.idle_ms))
				return -1;
			break;
		case O_HEARTBEAT:
			if (parse_long("heartbeat-interval", optarg, 0, 86400000, &opt.heartbeat_ms))
				return -1;
			break;
		default:
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fakex: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (opt.live && (opt.pace_real || opt.rate <= 0)) {
		fprintf(stderr, "fakex: --live runs on --rate N (N > 0), not --pace real\n");
		return -1;
	}
	if (!opt.exchange_name || opt.port < 0) {
		fprintf(stderr, "fakex: --exchange and --port are required\n");
		return -1;
	}
	if (!opt.tls_cert != !opt.tls_key) {
		fprintf(stderr, "fakex: --tls-cert and --tls-key go together\n");
		return -1;
	}
	/* What this exchange does unless told otherwise. */
	if (opt.ping_ms < 0)
		opt.ping_ms = xinfo[opt.exchange].ping_ms;
	if (opt.idle_ms < 0)
		opt.idle_ms = xinfo[opt.exchange].idle_ms;
	return 0;
}

int
main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct sigaction sa;
	int rc = FX_EXIT_RUNTIME, port;
	char q[512];

	if (parse_args(argc, argv)) {
		fprintf(stderr, "Try 'fakex --help'.\n");
		return FX_EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	g.start_us = mono_us();
	rng_state ^= (uint64_t)wall_us() * 2654435761u ^ (uint64_t)getpid() << 32;
	if (!rng_state)
		rng_state = 1;

	if (opt.recording && rec_load(opt.recording))
		goto out;
	if (opt.events && !(g.events = fopen(opt.events, "a"))) {
		const char *why = strerror(errno);
		char qe[128];

		fxlog(LV_ERROR, "cannot open events file", "path=%s error=%s",
		     lq(q, sizeof(q), opt.events, strlen(opt.events)),
		     lq(qe, sizeof(qe), why, strlen(why)));
		goto out;
	}

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
		       LWS_SERVER_OPTION_DISABLE_IPV6;
	if (opt.tls_cert)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	/* Up to 1024 streams fit in a /stream?streams= URL. */
	info.max_http_header_data2 = 65536;
	g.ctx = lws_create_context(&info);
	if (!g.ctx) {
		fxlog(LV_ERROR, "cannot create lws context", NULL);
		goto out;
	}

	info.port = (int)opt.port;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.vhost_name = "fakex";
	info.alpn = "http/1.1";
	info.ssl_cert_filepath = opt.tls_cert;
	info.ssl_private_key_filepath = opt.tls_key;
	g.vh = lws_create_vhost(g.ctx, &info);
	if (!g.vh) {
		fxlog(LV_ERROR, "cannot listen", "port=%ld tls=%d", opt.port,
		     opt.tls_cert != NULL);
		goto out;
	}
	port = lws_get_vhost_listen_port(g.vh);
	if (opt.control && ctl_listen(opt.control))
		goto out;
	if (replay_timer_start())
		goto out;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	fxlog(LV_INFO, "listening", "exchange=%s port=%d tls=%d recording_lines=%zu",
	     opt.exchange_name, port, opt.tls_cert != NULL, rec.n);
	live.t0 = mono_us();
	printf("listening %d\n", port);
	fflush(stdout);

	while (!got_signal)
		if (lws_service(g.ctx, 0) < 0)
			break;
	if (got_signal) {
		fxlog(LV_INFO, "exiting", "signal=%d", (int)got_signal);
		rc = FX_EXIT_OK;
	} else {
		fxlog(LV_ERROR, "event loop failed", NULL);
	}
out:
	if (g.ctx) {
		struct lws_context *ctx = g.ctx;

		/* a late signal must not poke a context being destroyed */
		g.ctx = NULL;
		lws_context_destroy(ctx);
	}
	hang_release();
	if (g.ctl_created)
		unlink(opt.control);
	if (g.events)
		fclose(g.events);
	rec_free();
	return rc;
}
