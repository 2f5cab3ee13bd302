/* clients.c: WebSocket clients — the connection (upgrade checks, establishment, what they
 * send, close), replies, where a client starts in the stream (the cache replay, resume),
 * the writes that go through libwebsockets, and cutting off clients that cannot keep up.
 * Filters are filter.c's; writes to caught-up clients as lines arrive are fanout.c's. */
#include "clock.h"
#include "fanout.h"
#include "filter.h"
#include "guard.h"
#include "jw.h"
#include "seq.h"
#include "serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void reply_subscribed(struct client *c)
{
	struct jw w;
	jw_init(&w, 4096);
	jw_lit(&w, "{\"type\":\"subscribed\"");
	filter_json(&w, &c->f);
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

/* The cache replay: the latest ticker, book, derivative and status of every stream the ring will not
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
/* A position this node has not reached is waited for this long: in a cluster a node is
 * behind the one a client left by well under a second (the relay gate); a node that numbers
 * its own stream (a standalone node behind the same proxy) may never reach it. */
#define SINCE_WAIT_US ((int64_t)5 * 1000000)

/* Where C starts: SINCE < 0 as a new client (the cache, then live data); else after stream
 * position SINCE. */
static void client_position(struct client *c, int64_t since)
{
	c->min_pos = -1;
	c->min_pos_until = 0;
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
		if (since > S.last_pos)
			c->min_pos_until = clk_mono_us() + SINCE_WAIT_US;
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
		if (filter_from_subscribe(&f, d, err, sizeof err)) {
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
		/* The new filter's streams start from their latest ticker, book and derivative, or after the
		 * position the client names. */
		client_position(c, since);
		return;
	}
	reply_error(c, "unknown op (use subscribe or ping)");
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
	fanout_idle_remove(c);
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

/* The position C waits for was not reached in time: it is told, and gets the latest state
 * of its streams and live data from now. */
static void resume_gave_up(struct client *c)
{
	char err[200];
	c->min_pos_until = 0;
	if (S.last_pos >= c->min_pos)
		return; /* reached after all */
	snprintf(err, sizeof err, "since %lld was not reached within %d s (newest position %lld): "
		 "not a position of this node's stream; live data from now",
		 (long long)c->min_pos, (int)(SINCE_WAIT_US / 1000000), (long long)S.last_pos);
	reply_error(c, err);
	S.m_resume_errors->v++;
	c->min_pos = -1;
	c->tail = S.ring.head;
	cache_start(c);
	fanout_idle_remove(c);
	lws_callback_on_writable(c->wsi);
}

/* A client that fell too far behind is cut off (1013): one slow reader must not hold the
 * ring, or anyone else. Its close frame goes out as soon as its socket takes anything;
 * a client that takes nothing for --close-timeout is dropped without one (counted). A
 * resume waiting for a position gives up after SINCE_WAIT_US. */
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
		if (c->min_pos_until && now > c->min_pos_until) {
			resume_gave_up(c);
			continue;
		}
		/* A resuming client is behind by what it asked for: only what came after its
		 * resume counts (it is cut only when the ring lets go of what it still needs). */
		/* And a client the relay gate holds back is not behind by what it may not take. */
		uint64_t from = c->tail > c->live_from ? c->tail : c->live_from;
		uint64_t limit = fanout_limit(c);
		uint64_t behind = limit > from ? limit - from : 0;
		if (c->tail < S.ring.oldest || behind > S.o.max_backlog ||
		    ring_backlog_bytes(&S.ring, from) - ring_backlog_bytes(&S.ring, limit) > S.o.max_backlog_bytes) {
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

/* Clients far behind (a resume from long ago, a reader that stalled) share CATCHUP_SLICE_US
 * of each turn of the loop between them; the rest waits for the next turn, which comes at
 * once. A turn never grows long with them, so new input and the caught-up clients' writes
 * come round every few ms however many catch up at once (a resume storm). Followers'
 * relays are never held back: the relay gate waits for them. */
#define CATCHUP_SLICE_US 2000
#define CATCHUP_FAR 1024 /* lines behind */

static int catching_up_waits(struct client *c)
{
	if (c->relay || c->tail + CATCHUP_FAR >= S.ring.head)
		return 0;
	int64_t now = clk_mono_us();
	if (!S.catchup_start) {
		S.catchup_start = now;
		return 0;
	}
	if (now - S.catchup_start < CATCHUP_SLICE_US)
		return 0;
	S.m_catchup_waits->v++;
	lws_callback_on_writable(c->wsi);
	return 1;
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
	/* Latest tickers, books and derivatives first, except those the ring will bring anyway. */
	while (!more && c->cache_todo) {
		if (c->cache_pos >= c->cache_n) {
			c->cache_todo = 0;
			free(c->cache_order);
			c->cache_order = NULL;
			break;
		}
		/* an entry replaced since the order was taken comes from the ring */
		struct msg *m = S.cache.entry[c->cache_order[c->cache_pos]];
		if (m->seq < c->tail && m->pos > c->min_pos && filter_match(&c->f, m)) {
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
		if (!n && catching_up_waits(c))
			return 0;
		struct fanout_tally t = { .lat = S.m_latency };
		size_t need;
		n += fanout_fill(c, out + n, SCRATCH - n, &t, &need);
		if (need && !n) {
			/* one message bigger than the buffer: grow it for this one */
			if (grow_scratch(need))
				return -1;
			out = S.scratch + LWS_PRE;
			n = fanout_fill(c, out, need, &t, &need);
		}
		S.m_sent->v += (double)t.msgs;
		more = c->tail < fanout_limit(c);
		/* A relay that took more may let the clients it held go further. */
		if (c->relay && fanout_gate_update())
			S.gate_moved = 1;
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
		fanout_idle_add(c);
	return 0;
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
	char arg[4096];
	filter_all(f);
	for (int i = 0; lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
		if (lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) < 0) {
			snprintf(err, errlen, "a query parameter is longer than %zu bytes", sizeof arg - 1);
			return -1;
		}
		if (filter_query_param(f, arg, err, errlen))
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

/* The upgrade: the path, draining, the client limit, access rules, the per-address limit;
 * then the query's position and filter. A bad filter is not refused here: it is told in
 * the connection, which every client can read (a browser cannot read the body of a refused
 * upgrade): the error, then 1008. */
static int on_upgrade(struct lws *wsi, struct client *c)
{
	char buf[256], err[512];
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
	query_position(wsi, c);
	if (query_filter(wsi, &c->f, err, sizeof err)) {
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

/* The WebSocket is open: the client joins the list, starts where it asked (or gets its
 * errors), and its frames are checked from now on. */
static int on_established(struct lws *wsi, struct client *c)
{
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
	fanout_client_start(c);
	if (c->relay)
		fanout_relay_add(c);
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
	return 0;
}

/* The client sent a close frame (IN, LEN: its payload). libwebsockets answers it; no line
 * may follow its answer. Returns -1 when serve has answered it itself. */
static int on_peer_close(struct lws *wsi, struct client *c, const unsigned char *in, size_t len)
{
	c->peer_closing = 1;
	fanout_idle_remove(c);
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
	if (len >= 2 && sent && (in[0] << 8 | in[1]) != sent) {
		/* libwebsockets 4.1 turns the registered codes 1012..1014 into 1002 before
		 * it echoes them: echo what the client sent */
		lws_close_reason(wsi, (enum lws_close_status)sent, NULL, 0);
		c->close_handed = 1;
		return -1;
	}
	return 0;
}

/* A piece of a client message: whole messages are read at once, fragmented ones are
 * put together first (at most MAX_CLIENT_MSG). */
static int on_receive(struct lws *wsi, struct client *c, const char *in, size_t len)
{
	const char *why;
	int code = guard_error(c->fd, &why);
	if (code)
		protocol_error(c, code, why);
	if (c->closing)
		return 0; /* nothing it sends now is read; the close frame goes out when writable */
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
		return 0; /* start_close asked for the writable callback */
	if (c->nreplies || c->cache_todo) {
		fanout_idle_remove(c);
		lws_callback_on_writable(wsi);
	}
	return 0;
}

/* The connection is gone (also one refused before it was established: no wsi yet). */
static void on_closed(struct client *c)
{
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
		return;
	guard_stop(c->fd);
	fanout_idle_remove(c);
	if (c->relay) {
		fanout_relay_remove(c);
		S.gate_moved = 1;
	}
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
}

int cb_client(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct client *c = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		/* Plain HTTP lands here when no mount has the file. */
		if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		/* A file from the web UI mount went out: keep the connection for the next request. */
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return on_upgrade(wsi, c);
	case LWS_CALLBACK_ESTABLISHED:
		return on_established(wsi, c);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return client_write(c);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		return c ? on_peer_close(wsi, c, in, len) : 0;
	case LWS_CALLBACK_RECEIVE:
		return on_receive(wsi, c, in, len);
	case LWS_CALLBACK_CLOSED:
		on_closed(c);
		return 0;
	default:
		return 0;
	}
}
