/* clients.c: WebSocket clients — filters, the cache replay, fan-out from the ring, client
 * messages, and cutting off clients that cannot keep up. */
#include "clock.h"
#include "guard.h"
#include "jw.h"
#include "seq.h"
#include "serve.h"
#include "sig.h"
#include "sym.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char *const type_names[MT_COUNT] = { "trade", "ticker", "book", "status", "other" };

/* ---- filters ----
 *
 * Names a client gives never enter the tables of the data path (ring.c's interned names):
 * an exchange must be one the relay knows (lib/exchanges, interned at start) or one the
 * feed has produced; a symbol the feed has not produced yet is kept in the client's own
 * filter, as text, and turned into the feed's id when the first line of it goes by. So no
 * client can fill those tables, and each filter is bounded (MAX_FILTER_SYMS). */

#define SYM_PENDING UINT32_MAX /* syms[i]: not produced by the feed yet, name in pending[i] */

void filter_free(struct filter *f)
{
	free(f->pending);
	f->pending = NULL;
	f->npending = 0;
}

static void filter_all(struct filter *f)
{
	f->types = MT_ALL;
	f->exchanges = ~(uint64_t)0;
	f->nsyms = 0;
	f->npending = 0;
	f->pending = NULL;
}

/* "value" quoted for an error text, cut to 40 bytes. */
static void quote_value(char *out, size_t n, const char *s, size_t len)
{
	snprintf(out, n, "\"%.*s%s\"", (int)(len > 40 ? 40 : len), s, len > 40 ? "..." : "");
}

static int add_type(struct filter *f, const char *s, size_t n, char *err, size_t errlen)
{
	char v[64];
	for (int t = 0; t < MT_OTHER; t++)
		if (strlen(type_names[t]) == n && !memcmp(type_names[t], s, n)) {
			f->types |= 1u << t;
			return 0;
		}
	quote_value(v, sizeof v, s, n);
	snprintf(err, errlen, "unknown type %s in types (known: trade, ticker, book, status)", v);
	return -1;
}

static int add_exchange(struct filter *f, const char *s, size_t n, char *err, size_t errlen)
{
	unsigned id = find_exchange(s, n);
	if (id) {
		f->exchanges |= (uint64_t)1 << id;
		return 0;
	}
	char v[64], known[256];
	size_t k = 0;
	known[0] = 0;
	for (unsigned i = 1; exchange_name(i); i++)
		k += (size_t)snprintf(known + k, k < sizeof known ? sizeof known - k : 0, "%s%s",
				      i > 1 ? ", " : "", exchange_name(i));
	quote_value(v, sizeof v, s, n);
	snprintf(err, errlen, "unknown exchange %s in exchanges (known: %s)", v, known);
	return -1;
}

/* A client's symbol in the relay's spelling: BASE-QUOTE, or BASE-QUOTE-SUFFIX for
 * derivatives (PERP, a date), upper case, aliases applied. Returns the length or -1. */
static int client_symbol(const char *s, size_t n, char *out)
{
	const char *d1 = memchr(s, '-', n);
	const char *d2 = d1 ? memchr(d1 + 1, '-', n - (size_t)(d1 + 1 - s)) : NULL;
	if (!d2)
		return sym_split_sep(s, n, '-', 0, out);
	size_t sl = n - (size_t)(d2 + 1 - s);
	int len = sym_join(s, (size_t)(d1 - s), d1 + 1, (size_t)(d2 - d1 - 1), out);
	if (len < 0 || !sl || (size_t)len + 1 + sl >= SYM_MAX)
		return -1;
	out[len++] = '-';
	for (size_t i = 0; i < sl; i++) {
		char c = d2[1 + i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return -1;
		out[len++] = c;
	}
	out[len] = 0;
	return len;
}

static int add_symbol(struct filter *f, const char *s, size_t n, char *err, size_t errlen)
{
	char norm[SYM_MAX], v[64];
	if (client_symbol(s, n, norm) < 0) {
		quote_value(v, sizeof v, s, n);
		snprintf(err, errlen, "bad symbol %s in symbols (want BASE-QUOTE such as BTC-USDT, or BTC-USDT-PERP)", v);
		return -1;
	}
	unsigned id = find_symbol(norm, strlen(norm));
	for (int i = 0; i < f->nsyms; i++)
		if ((id && f->syms[i] == id) || (f->syms[i] == SYM_PENDING && !strcmp(f->pending[i], norm)))
			return 0; /* named twice */
	if (f->nsyms == MAX_FILTER_SYMS) {
		snprintf(err, errlen, "too many symbols (at most %d)", MAX_FILTER_SYMS);
		return -1;
	}
	if (!id) {
		/* Not seen on the feed yet: it may appear later. */
		if (!f->pending && !(f->pending = calloc(MAX_FILTER_SYMS, sizeof *f->pending))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		memcpy(f->pending[f->nsyms], norm, sizeof norm);
		f->npending++;
		id = SYM_PENDING;
	}
	f->syms[f->nsyms++] = id;
	return 0;
}

enum { F_TYPES, F_EXCHANGES, F_SYMBOLS };
static int (*const adders[])(struct filter *, const char *, size_t, char *, size_t) = {
	add_type, add_exchange, add_symbol
};
static const char *const list_names[] = { "types", "exchanges", "symbols" };

/* Empties one part of F before a list is read into it. */
static void filter_clear(struct filter *f, int kind)
{
	if (kind == F_TYPES) {
		f->types = 0;
	} else if (kind == F_EXCHANGES) {
		f->exchanges = 0;
	} else {
		f->nsyms = 0;
		f->npending = 0;
	}
}

/* An empty list means all. */
static void filter_default(struct filter *f, int kind)
{
	if (kind == F_TYPES && !f->types)
		f->types = MT_ALL;
	if (kind == F_EXCHANGES && !f->exchanges)
		f->exchanges = ~(uint64_t)0;
}

/* A comma list from the query string ("trade,ticker"). Empty items are ignored. */
static int filter_list(struct filter *f, int kind, const char *s, char *err, size_t errlen)
{
	filter_clear(f, kind);
	while (*s) {
		size_t n = strcspn(s, ",");
		if (n && adders[kind](f, s, n, err, errlen))
			return -1;
		s += n;
		if (*s)
			s++;
	}
	filter_default(f, kind);
	return 0;
}

/* A symbol the filter waits for has appeared on the feed as id SYM: the entry takes the
 * id, so later lines match by number. Runs on whichever thread writes to the client;
 * the filter is that client's alone, and the symbol table does not change during a round. */
static int resolve_pending(struct filter *f, uint32_t sym)
{
	const char *name = symbol_name(sym);
	for (int i = 0; i < f->nsyms; i++)
		if (f->syms[i] == SYM_PENDING && !strcmp(f->pending[i], name)) {
			f->syms[i] = sym;
			f->npending--;
			return 1;
		}
	return 0;
}

static inline int match(struct filter *f, const struct msg *m)
{
	if (!((f->types >> m->type) & 1) || !((f->exchanges >> m->exch) & 1))
		return 0;
	if (!f->nsyms || (m->sym == 0 && m->type == MT_STATUS))
		return 1;
	for (int i = 0; i < f->nsyms; i++)
		if (f->syms[i] == m->sym)
			return 1;
	return f->npending && m->sym && resolve_pending(f, m->sym);
}

/* ---- replies (subscribed, pong, error), framed here like ring messages ---- */

static void start_close(struct client *c, uint16_t code, const char *why);

static int queue_reply(struct client *c, const char *text, size_t len)
{
	if (c->nreplies == MAX_REPLIES) {
		/* The client asks faster than it reads its answers. */
		start_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many requests pending");
		return -1;
	}
	struct msg *m = msg_new(text, len, NULL, 0, MT_OTHER, 0, 0, 0);
	if (!m)
		return -1;
	char *copy = malloc(m->len);
	if (copy)
		memcpy(copy, m->data, m->len);
	c->reply_len[c->nreplies] = (uint16_t)m->len;
	msg_unref(m);
	if (!copy)
		return -1;
	c->reply[c->nreplies++] = copy;
	return 0;
}

/* An error line with TEXT, not counted again. */
static void reply_text_error(struct client *c, const char *text)
{
	struct jw w;
	/* room for the worst case jw_str reserves: every byte escaped as \u00XX */
	jw_init(&w, 64 + 6 * strlen(text));
	jw_lit(&w, "{\"type\":\"error\",\"error\":");
	jw_str(&w, text, strlen(text));
	jw_char(&w, '}');
	if (!w.err)
		queue_reply(c, w.buf, w.len);
	jw_free(&w);
}

static void reply_error(struct client *c, const char *why)
{
	reply_text_error(c, why);
	S.m_client_errors->v++;
}

static void names_json(struct jw *w, const char *key, const struct filter *f, int kind);

static void reply_subscribed(struct client *c)
{
	struct jw w;
	jw_init(&w, 4096);
	jw_lit(&w, "{\"type\":\"subscribed\"");
	names_json(&w, "types", &c->f, F_TYPES);
	names_json(&w, "exchanges", &c->f, F_EXCHANGES);
	names_json(&w, "symbols", &c->f, F_SYMBOLS);
	jw_char(&w, '}');
	if (!w.err)
		queue_reply(c, w.buf, w.len);
	jw_free(&w);
}

/* ---- stream positions: where a client starts ---- */

/* A position from a client: a whole number below 2^53 (what a JavaScript number holds). */
static int parse_since(const char *v, size_t n, int64_t *out, char *err, size_t errlen)
{
	int64_t x = 0;
	if (!n || n > 16) {
		snprintf(err, errlen, "since takes a stream position, a whole number from 0 to %lld",
			 (long long)(SEQ_MAX - 1));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9') {
			snprintf(err, errlen, "since takes a stream position, a whole number from 0 to %lld, not \"%.*s\"",
				 (long long)(SEQ_MAX - 1), (int)(n > 24 ? 24 : n), v);
			return -1;
		}
		x = x * 10 + (v[i] - '0');
	}
	if (x >= SEQ_MAX) {
		snprintf(err, errlen, "since takes a stream position, a whole number from 0 to %lld",
			 (long long)(SEQ_MAX - 1));
		return -1;
	}
	*out = x;
	return 0;
}

static int by_ring_seq(const void *a, const void *b)
{
	uint64_t x = S.cache.entry[*(const uint32_t *)a]->seq, y = S.cache.entry[*(const uint32_t *)b]->seq;
	return (x > y) - (x < y);
}

/* The cache replay: the latest ticker, book and status of every stream the ring will not
 * bring from the client's position, oldest position first, so a client (a follower's relay
 * among them) sees positions go up. */
static void cache_start(struct client *c)
{
	free(c->cache_order);
	c->cache_order = NULL;
	c->cache_n = c->cache_pos = 0;
	c->cache_todo = 0;
	if (!S.cache.n)
		return;
	c->cache_order = malloc(S.cache.n * sizeof *c->cache_order);
	if (!c->cache_order)
		return; /* without memory for the order there is no replay; live data follows */
	for (uint32_t i = 0; i < S.cache.n; i++)
		if (S.cache.entry[i]->seq < c->tail)
			c->cache_order[c->cache_n++] = i;
	qsort(c->cache_order, c->cache_n, sizeof *c->cache_order, by_ring_seq);
	c->cache_todo = 1;
}

/* {"type":"status","event":"gap","from":F,"to":T,...}: lines from F up to, not including, T
 * may be missing (the ring no longer holds them). */
static void reply_gap(struct client *c, int64_t from, int64_t to)
{
	char text[256];
	int k = snprintf(text, sizeof text,
			 "{\"type\":\"status\",\"event\":\"gap\",\"from\":%lld,\"to\":%lld,\"local_ts\":%lld,"
			 "\"detail\":\"positions from %lld to %lld are no longer held here\",\"seq\":%lld}",
			 (long long)from, (long long)to, (long long)clk_now_us(), (long long)from,
			 (long long)to - 1, (long long)from - 1);
	queue_reply(c, text, (size_t)k);
}

/* A resume further ahead of every position seen and of the clock than this is no position
 * of this stream: a leader starts numbering at the time in µs and numbers one per line. */
#define SINCE_AHEAD_US ((int64_t)3600 * 1000000)

/* Where C starts: SINCE < 0 as a new client (the cache, then live data); else after stream
 * position SINCE. */
static void client_position(struct client *c, int64_t since)
{
	c->min_pos = -1;
	c->live_from = 0;
	c->tail = S.ring.head;
	if (since < 0) {
		cache_start(c);
		return;
	}
	int64_t clock = clk_now_us();
	if (since > S.last_pos && since > (S.last_pos > clock ? S.last_pos : clock) + SINCE_AHEAD_US) {
		char err[200];
		snprintf(err, sizeof err, "since %lld is ahead of the stream (newest position %lld); live data from now",
			 (long long)since, (long long)S.last_pos);
		reply_error(c, err);
		S.m_resume_errors->v++;
		cache_start(c);
		return;
	}
	S.m_resumes->v++;
	if (S.ring.oldest == S.ring.head || since >= S.last_pos) {
		c->min_pos = since; /* nothing held after it yet: only what comes after it */
		return;
	}
	struct msg *oldest = ring_get(&S.ring, S.ring.oldest);
	if (oldest->pos > since + 1 && S.ring.evicted) {
		/* The ring has let go of what followed SINCE: say so, then the latest state of
		 * every stream from before what is held, then all that is held. */
		S.m_resume_gaps->v++;
		reply_gap(c, since + 1, oldest->pos);
		c->tail = S.ring.oldest;
		cache_start(c);
	} else {
		c->tail = ring_after_pos(&S.ring, since);
	}
	c->live_from = S.ring.head;
	S.m_resume_lines->v += (double)(S.ring.head - c->tail);
}

/* ---- client messages ---- */

/* Reads a JSON array of strings into one part of the filter; a missing key means "all". */
static int filter_array(struct filter *f, int kind, const struct js_doc *d, int arr, char *err,
			size_t errlen)
{
	filter_clear(f, kind);
	if (arr >= 0 && js_type(d, arr) != JS_NULL) {
		if (js_type(d, arr) != JS_ARRAY) {
			snprintf(err, errlen, "%s must be an array of strings", list_names[kind]);
			return -1;
		}
		for (uint32_t i = 0, k = (uint32_t)arr + 1; i < d->tok[arr].size; i++, k = d->tok[k].next) {
			if (d->tok[k].type != JS_STRING || (d->tok[k].flags & JS_ESCAPED)) {
				snprintf(err, errlen, "%s must be an array of plain strings (entry %u is not)",
					 list_names[kind], i + 1);
				return -1;
			}
			if (adders[kind](f, js_ptr(d, (int)k), js_len(d, (int)k), err, errlen))
				return -1;
		}
	}
	filter_default(f, kind);
	return 0;
}

static void on_client_message(struct client *c, const char *s, size_t n, int binary)
{
	struct js_doc *d = &S.doc;
	char err[512];
	S.m_client_msgs->v++;
	if (binary) {
		reply_error(c, "binary messages are not supported; send JSON text");
		return;
	}
	enum js_err e = js_parse(d, s, n);
	if (e != JS_OK) {
		reply_error(c, e == JS_EUTF8 ? "invalid UTF-8" : "invalid JSON");
		return;
	}
	int op = js_get(d, 0, "op");
	if (js_type(d, 0) != JS_OBJECT || js_type(d, op) != JS_STRING) {
		reply_error(c, "expected {\"op\":...}");
		return;
	}
	if (js_streq(d, op, "ping")) {
		struct jw w;
		jw_init(&w, 256);
		jw_lit(&w, "{\"type\":\"pong\",\"local_ts\":");
		jw_int(&w, clk_now_us());
		int id = js_get(d, 0, "id");
		if ((js_type(d, id) == JS_NUMBER || js_type(d, id) == JS_STRING) && js_len(d, id) <= 64) {
			jw_lit(&w, ",\"id\":");
			if (js_type(d, id) == JS_STRING)
				jw_json_str(&w, js_ptr(d, id), js_len(d, id));
			else
				jw_raw(&w, js_ptr(d, id), js_len(d, id));
		}
		jw_char(&w, '}');
		if (!w.err)
			queue_reply(c, w.buf, w.len);
		jw_free(&w);
		return;
	}
	if (js_streq(d, op, "subscribe")) {
		struct filter f;
		filter_all(&f);
		if (filter_array(&f, F_TYPES, d, js_get(d, 0, "types"), err, sizeof err) ||
		    filter_array(&f, F_EXCHANGES, d, js_get(d, 0, "exchanges"), err, sizeof err) ||
		    filter_array(&f, F_SYMBOLS, d, js_get(d, 0, "symbols"), err, sizeof err)) {
			/* the previous filter stays */
			filter_free(&f);
			reply_error(c, err);
			return;
		}
		int64_t since = -1;
		int st = js_get(d, 0, "since");
		if (st >= 0 && js_type(d, st) != JS_NULL &&
		    (js_type(d, st) != JS_NUMBER || parse_since(js_ptr(d, st), js_len(d, st), &since, err, sizeof err))) {
			if (js_type(d, st) != JS_NUMBER)
				snprintf(err, sizeof err, "since takes a stream position, a whole number from 0 to %lld",
					 (long long)(SEQ_MAX - 1));
			reply_error(c, err);
			S.m_resume_errors->v++;
			since = -1;
		}
		filter_free(&c->f);
		c->f = f;
		reply_subscribed(c);
		/* The new filter's streams start from their latest ticker and book, or after the
		 * position the client names. */
		client_position(c, since);
		return;
	}
	reply_error(c, "unknown op (use subscribe or ping)");
}

/* ---- lists ---- */

static void idle_remove(struct client *c)
{
	if (!c->idle)
		return;
	if (c->idle_prev)
		c->idle_prev->idle_next = c->idle_next;
	else
		S.idle = c->idle_next;
	if (c->idle_next)
		c->idle_next->idle_prev = c->idle_prev;
	c->idle = 0;
	c->idle_next = c->idle_prev = NULL;
}

static void idle_add(struct client *c)
{
	if (c->idle || c->peer_closing)
		return;
	c->idle = 1;
	c->idle_prev = NULL;
	c->idle_next = S.idle;
	if (S.idle)
		S.idle->idle_prev = c;
	S.idle = c;
}

/* Closes C with CODE at the next chance (WHY goes in the close frame): what it has not
 * received yet is dropped, so the close frame is the next thing written to its socket. */
static void start_close(struct client *c, uint16_t code, const char *why)
{
	if (c->closing)
		return;
	c->closing = 1;
	c->close_code = code;
	c->close_why = why;
	c->closing_since = clk_mono_us();
	idle_remove(c);
	lws_callback_on_writable(c->wsi);
}

void clients_close_all(uint16_t code)
{
	for (struct client *c = S.clients; c; c = c->next)
		start_close(c, code, "going away");
}

/* The client broke RFC 6455 (1002) or announced a message over the limit (1009). */
static void protocol_error(struct client *c, int code, const char *why)
{
	if ((c->closing && c->close_code == code) || c->close_sent)
		return;
	(code == LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE ? S.m_proto_too_large : S.m_proto_errors)->v++;
	if (log_allow(&S.rl_client, clk_mono_us()) >= 0)
		log_info("client broke the WebSocket protocol, closing", " peer=%s code=%d reason=\"%s\"",
			 c->peer, code, why); /* WHY is one of guard.c's fixed texts */
	/* A close already under way for another reason gives way to this one. */
	c->closing = 0;
	c->close_after_replies = 0;
	start_close(c, (uint16_t)code, why);
}

/* A client that fell too far behind is cut off (1013): one slow reader must not hold the
 * ring, or anyone else. Its close frame goes out as soon as its socket takes anything;
 * a client that takes nothing for --close-timeout is dropped without one (counted). */
void clients_check(int64_t now)
{
	for (struct client *c = S.clients; c; c = c->next) {
		const char *why;
		int code;
		if (c->closing) {
			int64_t limit = (int64_t)S.o.close_timeout_ms * 1000;
			if (c->close_handed || c->killed)
				continue;
			if (!c->close_sent && now - c->closing_since > limit) {
				/* its socket took nothing, not even the close frame */
				c->killed = 1;
				S.m_close_timeouts->v++;
				if (log_allow(&S.rl_client, now) >= 0)
					log_warn("client took no close frame in time, dropping it",
						 " peer=%s code=%d timeout_ms=%d", c->peer, c->close_code,
						 S.o.close_timeout_ms);
				lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			} else if (c->close_sent && now - c->close_sent_at > limit) {
				/* the close frame went out; no answer came */
				c->killed = 1;
				log_debug("client did not answer the close frame", " peer=%s code=%d",
					  c->peer, c->close_code);
				lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			}
			continue;
		}
		if ((code = guard_error(c->fd, &why))) {
			/* a frame header with nothing after it: no callback came */
			protocol_error(c, code, why);
			continue;
		}
		/* A resuming client is behind by what it asked for: only what came after its
		 * resume counts (it is cut only when the ring lets go of what it still needs). */
		uint64_t from = c->tail > c->live_from ? c->tail : c->live_from;
		uint64_t behind = S.ring.head - from;
		if (c->tail < S.ring.oldest || behind > S.o.max_backlog ||
		    ring_backlog_bytes(&S.ring, from) > S.o.max_backlog_bytes) {
			S.m_slow->v++;
			if (log_allow(&S.rl_client, now) >= 0)
				log_warn("client too slow, closing", " peer=%s behind=%llu sent=%llu", c->peer,
					 (unsigned long long)behind, (unsigned long long)c->sent);
			start_close(c, CLOSE_TRY_AGAIN_LATER, "too slow");
		}
	}
}

/* ---- writing: one lws_write of a batch of pre-framed messages ---- */

static int grow_scratch(size_t need)
{
	static size_t cap = SCRATCH;
	if (need <= cap)
		return 0;
	unsigned char *p = realloc(S.scratch, LWS_PRE + need);
	if (!p)
		return -1;
	S.scratch = p;
	cap = need;
	return 0;
}

/* What one thread sent: added to the metrics by the loop's thread. */
struct tally {
	uint64_t msgs;
	double bytes;
	struct met *lat; /* the latency histogram itself, or a thread's own copy */
};

/* Appends to OUT (CAP bytes) the ring messages from the client's position on that its
 * filter takes, looking at 8192 at most. Returns the bytes written; *NEED is the length of
 * a message that did not fit an empty OUT (the caller needs a bigger one), else 0. */
static size_t fill_ring(struct client *c, unsigned char *out, size_t cap, struct tally *t,
			size_t *need)
{
	int64_t now = clk_now_us();
	size_t n = 0;
	int scanned = 0;
	*need = 0;
	while (c->tail < S.ring.head) {
		struct msg *m = ring_get(&S.ring, c->tail);
		if (m->pos > c->min_pos && match(&c->f, m)) {
			if (n + m->len > cap) {
				if (!n)
					*need = m->len;
				break;
			}
			memcpy(out + n, m->data, m->len);
			n += m->len;
			c->sent++;
			t->msgs++;
			if (m->local_ts > 0)
				met_observe(t->lat, (double)(now - m->local_ts) / 1e6);
		}
		c->tail++;
		if (++scanned == 8192)
			break;
	}
	return n;
}

/* Moves queued replies into OUT (CAP bytes), oldest first; returns the bytes. */
static size_t take_replies(struct client *c, unsigned char *out, size_t cap)
{
	size_t n = 0;
	while (c->nreplies && n + c->reply_len[0] <= cap) {
		memcpy(out + n, c->reply[0], c->reply_len[0]);
		n += c->reply_len[0];
		free(c->reply[0]);
		memmove(c->reply, c->reply + 1, (size_t)(c->nreplies - 1) * sizeof c->reply[0]);
		memmove(c->reply_len, c->reply_len + 1, (size_t)(c->nreplies - 1) * sizeof c->reply_len[0]);
		c->nreplies--;
	}
	return n;
}

/* The close frame, written by serve rather than by libwebsockets: libwebsockets 4.1 shuts
 * the socket right after its own close frame and closes it at the next byte the client
 * sends, and a client that sends anything (a ping) before it has read that far gets a
 * reset that throws away what it had not read, the close frame included. Written here,
 * the connection stays open until the client answers the close (or --close-timeout). */
static int close_write(struct client *c, unsigned char *out)
{
	size_t n = 0;
	if (c->close_sent)
		return 0; /* waiting for the client's answer: nothing more goes out */
	if (c->close_after_replies) /* the error that explains the close goes first */
		n = take_replies(c, out, SCRATCH - 2 - 125);
	const char *why = c->close_why ? c->close_why : "";
	size_t wl = strlen(why);
	if (wl > 123)
		wl = 123;
	out[n++] = 0x88; /* FIN + close */
	out[n++] = (unsigned char)(2 + wl);
	out[n++] = (unsigned char)(c->close_code >> 8);
	out[n++] = (unsigned char)c->close_code;
	memcpy(out + n, why, wl);
	n += wl;
	if (lws_write(c->wsi, out, n, LWS_WRITE_RAW) < (int)n)
		return -1;
	S.m_bytes_sent->v += (double)n;
	c->close_sent = 1;
	c->close_sent_at = clk_mono_us();
	return 0;
}

static int client_write(struct client *c)
{
	unsigned char *out = S.scratch + LWS_PRE;
	size_t n = 0;
	int more = 0;

	if (c->closing)
		return close_write(c, out);
	n = take_replies(c, out, SCRATCH);
	if (c->nreplies)
		more = 1;
	/* Latest tickers and books first, except those the ring will bring anyway. */
	while (!more && c->cache_todo) {
		if (c->cache_pos >= c->cache_n) {
			c->cache_todo = 0;
			free(c->cache_order);
			c->cache_order = NULL;
			break;
		}
		/* an entry replaced since the order was taken comes from the ring */
		struct msg *m = S.cache.entry[c->cache_order[c->cache_pos]];
		if (m->seq < c->tail && m->pos > c->min_pos && match(&c->f, m)) {
			if (n + m->len > SCRATCH) {
				if (n) {
					more = 1;
					break;
				}
				if (grow_scratch(m->len))
					return -1;
				out = S.scratch + LWS_PRE;
			}
			memcpy(out + n, m->data, m->len);
			n += m->len;
			c->sent++;
		}
		c->cache_pos++;
	}
	/* Then the ring from the client's position, skipping what its filter excludes. */
	if (!more && !c->cache_todo) {
		if (c->tail < S.ring.oldest) {
			start_close(c, CLOSE_TRY_AGAIN_LATER, "too slow");
			S.m_slow->v++;
			return 0;
		}
		struct tally t = { 0, 0, S.m_latency };
		size_t need;
		n += fill_ring(c, out + n, SCRATCH - n, &t, &need);
		if (need && !n) {
			/* one message bigger than the buffer: grow it for this one */
			if (grow_scratch(need))
				return -1;
			out = S.scratch + LWS_PRE;
			n = fill_ring(c, out, need, &t, &need);
		}
		S.m_sent->v += (double)t.msgs;
		more = c->tail < S.ring.head;
	} else {
		more = 1;
	}
	if (n) {
		if (lws_write(c->wsi, out, n, LWS_WRITE_RAW) < (int)n)
			return -1;
		S.m_bytes_sent->v += (double)n;
	}
	if (more || c->nreplies || c->cache_todo)
		lws_callback_on_writable(c->wsi);
	else
		idle_add(c);
	return 0;
}

/* ---- fan-out: caught-up clients written to as soon as lines arrive ----
 *
 * Most of a busy server's time goes into send(), one per client per batch of lines. When
 * lines arrive, the clients that were caught up are written to at once, from the loop's
 * thread and from the send threads together: each takes the next client from a shared
 * counter until none is left, so a send thread that is not running costs nothing and the
 * loop's thread does the rest itself. A round ends before the loop goes on, so the ring,
 * the cache and the clients do not change under the threads, and a client is written by
 * one thread at a time. Only what is simple stays on this path: plain TCP, nothing
 * queued in libwebsockets, no replies or cache replay pending. Everything else, and a
 * batch the kernel takes only part of, goes through the writable callback as before. */

/* How a client's round ended: caught up; more to send; the kernel took part of the batch
 * (the rest is in pend); a message too big for the fast path; lines that could not be
 * kept (out of memory), so the client is dropped rather than left with a gap. */
enum { R_DONE, R_MORE, R_PARTIAL, R_SLOW, R_LOST };

struct job {
	struct client *c;
	int fd;
	int res;
};

struct sender {
	pthread_t th;
	unsigned char *buf; /* SCRATCH */
	struct met lat;     /* latency observations of this thread's round */
	struct tally t;
};

static struct {
	int nthreads;
	struct sender *snd; /* nthreads + 1: the last one is the loop thread's */
	pthread_mutex_t mu;
	pthread_cond_t go, finished;
	uint64_t round; /* under mu */
	int stop;       /* under mu */
	struct job *job;
	int njob, jobcap;
	/* round (16 bits) | job count (24) | next job (24): a thread claims a job with one
	 * compare-and-swap, which fails for a thread still on an earlier round (unless 65536
	 * rounds passed between its load and its swap) */
	_Atomic uint64_t next;
	_Atomic int left; /* jobs not finished */
} F = { .mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER,
	.finished = PTHREAD_COND_INITIALIZER };

#define ROUNDS_BITS 16
#define JOB_BITS 24
#define JOB_MASK ((1u << JOB_BITS) - 1)
/* Fewer clients than this are written by the loop's thread alone: waking another thread
 * costs more than it saves. */
#define PARALLEL_MIN 16

static int send_batch(struct job *j, struct sender *s)
{
	struct client *c = j->c;
	size_t need;
	size_t n = fill_ring(c, s->buf, SCRATCH, &s->t, &need);
	if (!n)
		return need ? R_SLOW : R_DONE;
	ssize_t k;
	do
		k = send(j->fd, s->buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (k < 0 && errno == EINTR);
	s->t.bytes += (double)n;
	if (k == (ssize_t)n)
		return c->tail < S.ring.head ? R_MORE : R_DONE;
	/* The socket is full (EAGAIN), or the connection failed, which libwebsockets finds out
	 * when it writes the rest. */
	if (k < 0)
		k = 0;
	c->pend = malloc(LWS_PRE + n - (size_t)k);
	if (!c->pend)
		return R_LOST;
	memcpy(c->pend + LWS_PRE, s->buf + k, n - (size_t)k);
	c->pend_len = n - (size_t)k;
	return R_PARTIAL;
}

static void work(uint64_t round, struct sender *s)
{
	for (;;) {
		uint64_t v = atomic_load_explicit(&F.next, memory_order_acquire);
		uint64_t i = v & JOB_MASK, n = (v >> JOB_BITS) & JOB_MASK;
		if ((v >> (2 * JOB_BITS)) != (round & ((1u << ROUNDS_BITS) - 1)) || i >= n)
			return;
		if (!atomic_compare_exchange_weak_explicit(&F.next, &v, v + 1, memory_order_acq_rel,
							   memory_order_acquire))
			continue;
		F.job[i].res = send_batch(&F.job[i], s);
		if (atomic_fetch_sub_explicit(&F.left, 1, memory_order_acq_rel) == 1) {
			pthread_mutex_lock(&F.mu);
			pthread_cond_signal(&F.finished);
			pthread_mutex_unlock(&F.mu);
		}
	}
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	uint64_t seen = 0;
	sig_block_all(); /* signals are the event loop's business */
	pthread_mutex_lock(&F.mu);
	for (;;) {
		while (!F.stop && F.round == seen)
			pthread_cond_wait(&F.go, &F.mu);
		if (F.stop)
			break;
		seen = F.round;
		pthread_mutex_unlock(&F.mu);
		work(seen, s);
		pthread_mutex_lock(&F.mu);
	}
	pthread_mutex_unlock(&F.mu);
	return NULL;
}

static int sender_init(struct sender *s)
{
	memset(s, 0, sizeof *s);
	s->buf = malloc(SCRATCH);
	s->lat.bounds = S.m_latency->bounds;
	s->lat.nbounds = S.m_latency->nbounds;
	s->t.lat = &s->lat;
	return s->buf ? 0 : -1;
}

int fanout_start(int threads)
{
	F.snd = calloc((size_t)threads + 1, sizeof *F.snd);
	if (!F.snd)
		return -1;
	for (int i = 0; i <= threads; i++)
		if (sender_init(&F.snd[i]))
			return -1;
	for (int i = 0; i < threads; i++) {
		int e = pthread_create(&F.snd[i].th, NULL, sender_main, &F.snd[i]);
		if (e) {
			errno = e;
			return -1;
		}
		F.nthreads++;
	}
	return 0;
}

void fanout_stop(void)
{
	pthread_mutex_lock(&F.mu);
	F.stop = 1;
	pthread_cond_broadcast(&F.go);
	pthread_mutex_unlock(&F.mu);
	for (int i = 0; i < F.nthreads; i++)
		pthread_join(F.snd[i].th, NULL);
	if (F.snd)
		for (int i = 0; i <= F.nthreads; i++)
			free(F.snd[i].buf);
	free(F.snd);
	free(F.job);
	F.nthreads = 0;
	F.snd = NULL;
	F.job = NULL;
	F.njob = F.jobcap = 0;
}

/* One round over the jobs built by clients_wake. */
static void run_round(void)
{
	int wake = F.nthreads && F.njob >= PARALLEL_MIN;
	uint64_t round;
	pthread_mutex_lock(&F.mu);
	round = ++F.round;
	atomic_store_explicit(&F.left, F.njob, memory_order_relaxed);
	atomic_store_explicit(&F.next,
			      ((round & ((1u << ROUNDS_BITS) - 1)) << (2 * JOB_BITS)) |
				      ((uint64_t)F.njob << JOB_BITS),
			      memory_order_release);
	if (wake)
		pthread_cond_broadcast(&F.go);
	pthread_mutex_unlock(&F.mu);
	work(round, &F.snd[F.nthreads]);
	/* At most one job per send thread is still being written: wait for it. */
	if (atomic_load_explicit(&F.left, memory_order_acquire)) {
		pthread_mutex_lock(&F.mu);
		while (atomic_load_explicit(&F.left, memory_order_acquire))
			pthread_cond_wait(&F.finished, &F.mu);
		pthread_mutex_unlock(&F.mu);
	}
	for (int i = 0; i <= F.nthreads; i++) {
		struct sender *s = &F.snd[i];
		S.m_sent->v += (double)s->t.msgs;
		S.m_bytes_sent->v += s->t.bytes;
		for (int b = 0; b <= s->lat.nbounds; b++)
			S.m_latency->buckets[b] += s->lat.buckets[b];
		S.m_latency->count += s->lat.count;
		S.m_latency->sum += s->lat.sum;
		memset(s->lat.buckets, 0, sizeof s->lat.buckets);
		s->lat.count = 0;
		s->lat.sum = 0;
		s->t.msgs = 0;
		s->t.bytes = 0;
	}
}

static int fast_path_ok(struct client *c)
{
	return !c->closing && !c->peer_closing && !c->nreplies && !c->cache_todo &&
	       c->tail >= S.ring.oldest && !lws_is_ssl(c->wsi) && !lws_partial_buffered(c->wsi);
}

/* A slot for one more job this round; NULL when there is no room (the client then takes
 * the writable callback). */
static struct job *job_add(void)
{
	if (F.njob == (int)JOB_MASK)
		return NULL;
	if (F.njob == F.jobcap) {
		int cap = F.jobcap ? 2 * F.jobcap : 256;
		struct job *j = realloc(F.job, (size_t)cap * sizeof *j);
		if (!j)
			return NULL;
		F.job = j;
		F.jobcap = cap;
	}
	return &F.job[F.njob++];
}

/* New messages arrived: every client that was caught up is written to now (or, when it
 * cannot take the fast path, gets a writable callback). Busy clients ask for their own
 * callback after each write, so they need nothing here. */
void clients_wake(void)
{
	struct client *c = S.idle;
	S.idle = NULL;
	F.njob = 0;
	while (c) {
		struct client *next = c->idle_next;
		c->idle = 0;
		c->idle_next = c->idle_prev = NULL;
		struct job *j = F.snd && fast_path_ok(c) ? job_add() : NULL;
		if (j)
			*j = (struct job){ c, lws_get_socket_fd(c->wsi), R_SLOW };
		else
			lws_callback_on_writable(c->wsi);
		c = next;
	}
	if (!F.njob)
		return;
	/* Followers' relays first: should this node die during the round, its followers hold
	 * at least what any client of it got, which is what that client resumes from on them. */
	for (int i = 0, k = 0; i < F.njob; i++)
		if (F.job[i].c->relay) {
			struct job t = F.job[k];
			F.job[k++] = F.job[i];
			F.job[i] = t;
		}
	run_round();
	for (int i = 0; i < F.njob; i++) {
		struct job *j = &F.job[i];
		c = j->c;
		if (j->res == R_PARTIAL) {
			/* libwebsockets sends the rest (or keeps it until the socket drains) before
			 * anything else it writes to this client */
			if (lws_write(c->wsi, c->pend + LWS_PRE, c->pend_len, LWS_WRITE_RAW) < (int)c->pend_len)
				lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			free(c->pend);
			c->pend = NULL;
			c->pend_len = 0;
		}
		if (j->res == R_LOST)
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		else if (j->res == R_DONE)
			idle_add(c);
		else
			lws_callback_on_writable(c->wsi);
	}
}

/* ---- the protocol callback ---- */

static int reject(struct lws *wsi, int status, struct met *counter, const char *why)
{
	if (counter)
		counter->v++;
	log_debug("connection rejected", " status=%d reason=\"%s\"", status, why);
	lws_return_http_status(wsi, (unsigned)status, why);
	return -1;
}

/* Query filters: ?types=trade,ticker&exchanges=upbit&symbols=BTC-KRW */
static int query_filter(struct lws *wsi, struct filter *f, char *err, size_t errlen)
{
	static const char *const keys[] = { "types=", "exchanges=", "symbols=" };
	char arg[4096];
	filter_all(f);
	for (int i = 0; lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
		if (lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
			snprintf(err, errlen, "a query parameter is longer than %zu bytes", sizeof arg - 1);
			return -1;
		}
		for (int k = 0; k < 3; k++)
			if (!strncmp(arg, keys[k], strlen(keys[k])) &&
			    filter_list(f, k, arg + strlen(keys[k]), err, errlen))
				return -1;
	}
	return 0;
}

/* ?since=N (where to resume) and ?relay=1 (a follower's distribute). A bad since is told
 * once connected, and the client gets live data from now. */
static void query_position(struct lws *wsi, struct client *c)
{
	char arg[4096], err[200];
	c->since = -1;
	for (int i = 0; lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
		int n = lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n >= 6 && !strncmp(arg, "since=", 6)) {
			if (parse_since(arg + 6, (size_t)n - 6, &c->since, err, sizeof err)) {
				c->since = -1;
				free(c->since_error);
				c->since_error = strdup(err);
			}
		} else if (n == 7 && !strcmp(arg, "relay=1")) {
			c->relay = 1;
		}
	}
}

int cb_client(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct client *c = user;
	char buf[256];

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		/* Plain HTTP lands here when no mount has the file. */
		if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		/* A file from the web UI mount went out: keep the connection for the next request. */
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		int n = lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_GET_URI);
		if (n < 0 || strcmp(buf, S.o.path))
			return reject(wsi, 404, S.m_rejected_path, "no WebSocket endpoint here");
		if (S.draining)
			return reject(wsi, 503, S.m_rejected_drain, "shutting down");
		if (S.o.max_clients && S.nclients >= S.o.max_clients)
			return reject(wsi, 503, S.m_rejected_full, "too many clients");
		int status = access_upgrade(wsi, buf, sizeof buf);
		if (status)
			return reject(wsi, status, NULL, buf);
		memset(c, 0, sizeof *c);
		lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
		if (per_ip_add(c->peer)) {
			S.m_rejected_ip->v++;
			return reject(wsi, 429, NULL, "too many connections from this address");
		}
		c->counted = 1;
		char err[512];
		query_position(wsi, c);
		if (query_filter(wsi, &c->f, err, sizeof err)) {
			/* Told in the connection, which every client can read (a browser cannot
			 * read the body of a refused upgrade): the error, then 1008. */
			filter_free(&c->f);
			filter_all(&c->f);
			if (!(c->bad_filter = strdup(err))) {
				per_ip_remove(c->peer);
				c->counted = 0;
				return reject(wsi, 400, S.m_client_errors, err);
			}
			S.m_client_errors->v++;
			char q[600];
			if (log_allow(&S.rl_client, clk_mono_us()) >= 0)
				log_info("client filter refused", " peer=%s error=%s", c->peer,
					 log_quote(q, sizeof q, err, strlen(err)));
		}
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED: {
		struct filter f = c->f;
		int counted = c->counted, relay = c->relay;
		char *bad_filter = c->bad_filter, *since_error = c->since_error;
		int64_t since = c->since;
		memset(c, 0, sizeof *c);
		c->f = f;
		c->counted = counted;
		c->relay = relay;
		c->wsi = wsi;
		c->fd = lws_get_socket_fd(wsi);
		if (since_error) {
			reply_error(c, since_error);
			S.m_resume_errors->v++;
			free(since_error);
		}
		client_position(c, since_error ? -1 : since);
		lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
		const char *why;
		int code = 0;
		if (lws_get_network_wsi(wsi) != wsi)
			guard_stop(c->fd); /* one stream of an HTTP/2 connection: no frames of ours */
		else
			code = guard_start(c->fd, MAX_CLIENT_MSG, &why);
		c->next = S.clients;
		if (S.clients)
			S.clients->prev = c;
		S.clients = c;
		S.nclients++;
		S.m_clients->v = S.nclients;
		S.m_accepted->v++;
		log_debug("client connected", " peer=%s clients=%d", c->peer, S.nclients);
		if (bad_filter) {
			reply_text_error(c, bad_filter);
			free(bad_filter);
			c->cache_todo = 0;
			free(c->cache_order);
			c->cache_order = NULL;
			start_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "bad filter");
			c->close_after_replies = 1;
		} else if (code) {
			protocol_error(c, code, why);
		}
		lws_callback_on_writable(wsi);
		break;
	}
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return client_write(c);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE: {
		/* libwebsockets answers the close frame; no line may follow its answer */
		if (!c)
			break;
		c->peer_closing = 1;
		idle_remove(c);
		if (c->close_sent) {
			/* the answer to serve's close frame: done, nothing to echo */
			c->close_handed = 1;
			return -1;
		}
		const char *why;
		int code = guard_error(c->fd, &why);
		if (code) {
			/* a close frame with a code no endpoint may send: 1002, not an echo */
			protocol_error(c, code, why);
			lws_close_reason(wsi, (enum lws_close_status)code, (unsigned char *)why, strlen(why));
			c->close_handed = 1;
			return -1;
		}
		int sent = guard_peer_close_code(c->fd);
		if (len >= 2 && sent && (((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1]) != sent) {
			/* libwebsockets 4.1 turns the registered codes 1012..1014 into 1002 before
			 * it echoes them: echo what the client sent */
			lws_close_reason(wsi, (enum lws_close_status)sent, NULL, 0);
			c->close_handed = 1;
			return -1;
		}
		break;
	}
	case LWS_CALLBACK_RECEIVE: {
		const char *why;
		int code = guard_error(c->fd, &why);
		if (code)
			protocol_error(c, code, why);
		if (c->closing)
			break; /* nothing it sends now is read; the close frame goes out when writable */
		int first = lws_is_first_fragment(wsi), last = lws_is_final_fragment(wsi) &&
								    !lws_remaining_packet_payload(wsi);
		if (first) {
			c->rx_len = 0;
			c->rx_bad = 0;
		}
		if (c->rx_len + len > MAX_CLIENT_MSG) {
			S.m_client_errors->v++;
			lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)"message too large", 17);
			return -1;
		}
		if (first && last) {
			on_client_message(c, in, len, lws_frame_is_binary(wsi));
		} else {
			if (!c->rx && !(c->rx = malloc(MAX_CLIENT_MSG)))
				return -1;
			memcpy(c->rx + c->rx_len, in, len);
			c->rx_len += len;
			if (last) {
				on_client_message(c, c->rx, c->rx_len, lws_frame_is_binary(wsi));
				free(c->rx);
				c->rx = NULL;
				c->rx_len = 0;
			}
		}
		if (c->closing)
			break; /* start_close asked for the writable callback */
		if (c->nreplies || c->cache_todo) {
			idle_remove(c);
			lws_callback_on_writable(wsi);
		}
		break;
	}
	case LWS_CALLBACK_CLOSED:
		if (c->counted) {
			per_ip_remove(c->peer);
			c->counted = 0;
		}
		filter_free(&c->f);
		free(c->bad_filter);
		c->bad_filter = NULL;
		free(c->since_error);
		c->since_error = NULL;
		free(c->cache_order);
		c->cache_order = NULL;
		if (!c->wsi)
			break;
		guard_stop(c->fd);
		idle_remove(c);
		if (c->prev)
			c->prev->next = c->next;
		else
			S.clients = c->next;
		if (c->next)
			c->next->prev = c->prev;
		S.nclients--;
		S.m_clients->v = S.nclients;
		for (int i = 0; i < c->nreplies; i++)
			free(c->reply[i]);
		free(c->rx);
		log_debug("client closed", " peer=%s sent=%llu clients=%d", c->peer,
			  (unsigned long long)c->sent, S.nclients);
		c->wsi = NULL;
		break;
	default:
		break;
	}
	return 0;
}

static void names_json(struct jw *w, const char *key, const struct filter *f, int kind)
{
	jw_lit(w, ",\"");
	jw_raw(w, key, strlen(key));
	jw_lit(w, "\":[");
	int first = 1;
	if (kind == F_TYPES && f->types != MT_ALL) {
		for (int t = 0; t < MT_OTHER; t++)
			if ((f->types >> t) & 1) {
				if (!first)
					jw_char(w, ',');
				first = 0;
				jw_str(w, type_names[t], strlen(type_names[t]));
			}
	} else if (kind == F_EXCHANGES && f->exchanges != ~(uint64_t)0) {
		for (unsigned id = 1; id < 64; id++)
			if ((f->exchanges >> id) & 1) {
				const char *name = exchange_name(id);
				if (!name)
					continue;
				if (!first)
					jw_char(w, ',');
				first = 0;
				jw_str(w, name, strlen(name));
			}
	} else if (kind == F_SYMBOLS) {
		for (int i = 0; i < f->nsyms; i++) {
			const char *name = f->syms[i] == SYM_PENDING ? f->pending[i] : symbol_name(f->syms[i]);
			if (!first)
				jw_char(w, ',');
			first = 0;
			jw_str(w, name, strlen(name));
		}
	}
	jw_char(w, ']');
}
