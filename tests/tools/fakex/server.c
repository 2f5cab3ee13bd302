/* server.c: the WebSocket side: upgrades, connections, what they receive and the one
 * lws_write per WRITEABLE callback that sends their frames. */

#include "fakex.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* outgoing frames */

struct msg *
msg_new(const void *data, size_t len, enum lws_write_protocol wp, enum mkind kind)
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

void
msg_unref(struct msg *m)
{
	if (m && --m->refs <= 0)
		free(m);
}

int
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

void
conn_send(struct conn *c, const char *text, size_t len, enum lws_write_protocol wp,
	  enum mkind kind)
{
	struct msg *m = msg_new(text, len, wp, kind);

	if (!m || conn_push(c, m))
		fxlog(LV_ERROR, "out of memory queueing a frame", "conn=%u", c->id);
	if (m && !m->refs)
		free(m);
}

void
conn_sb(struct conn *c, struct sbuf *b, enum mkind kind)
{
	if (!b->oom)
		conn_send(c, b->p, b->len, LWS_WRITE_TEXT, kind);
	sb_free(b);
}

void
conn_text(struct conn *c, const char *s, enum mkind kind)
{
	conn_send(c, s, strlen(s), LWS_WRITE_TEXT, kind);
}

/* Asks lws for a chance to send a close frame; if the client never lets us write, the
 * timeout kills the connection anyway. */
void
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

int
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

enum lws_write_protocol
data_wp(void)
{
	return dl->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT;
}

/* ------------------------------------------------------------------ */
/* upgrades */

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
	for (i = 0; (fl = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i)) > 0; i++) {
		sb_addc(&b, i ? '&' : '?');
		if (sb_reserve(&b, (size_t)fl) ||
		    lws_hdr_copy_fragment(wsi, b.p + b.len, fl + 1, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
			break;
		b.len += strlen(b.p + b.len);
	}
	if (b.oom) {
		sb_free(&b);
		return strdup("");
	}
	return b.p;
}

/* Whether PATH (with its "?query") is the dialect's; sets up C from it when C is given.
 * Returns 0, or an HTTP status with a reason in WHY. */
static int
target(const char *path, struct conn *c, char *why, size_t wl)
{
	if (dl->target)
		return dl->target(path, c, why, wl);
	if (span_is(path, strcspn(path, "?"), dl->path))
		return 0;
	snprintf(why, wl, "unknown path");
	return 404;
}

/* Refused upgrades, bad paths and bad stream names are answered with a plain HTTP
 * status, as the exchanges do. */
static int
upgrade_check(struct lws *wsi, const char *up)
{
	char why[160], q1[512], q2[256];
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
		status = target(path, NULL, why, sizeof(why));
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

/* ------------------------------------------------------------------ */
/* connections */

static void
conn_free(struct conn *c)
{
	struct qnode *q;

	while ((q = c->qhead)) {
		c->qhead = q->next;
		msg_unref(q->m);
		free(q);
	}
	c->qtail = NULL;
	free(c->scratch);
	sb_free(&c->rx);
	free(c->want);
	free(c->path);
	free(c->x);
	ks_free(&c->subs);
	c->scratch = NULL;
	c->want = NULL;
	c->path = NULL;
	c->x = NULL;
}

static int
conn_open(struct conn *c, struct lws *wsi)
{
	char why[160], q[512];
	struct sbuf b = { 0 };

	c->wsi = wsi;
	c->id = ++g.next_id;
	c->tls = lws_is_ssl(wsi);
	c->since_us = c->last_rx_us = c->last_tx_us = mono_us();
	if (!(c->path = request_path(wsi)))
		return -1;
	if (target(c->path, c, why, sizeof(why)) ||
	    !(c->x = calloc(1, dl->conn_size ? dl->conn_size : 1)) ||
	    !(c->want = calloc(rec.nkeys ? rec.nkeys : 1, 1))) {
		conn_free(c);
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
	fxlog(LV_INFO, "connected", "conn=%u tls=%d path=%s streams=%d", c->id, c->tls,
	      lq(q, sizeof(q), c->path, strlen(c->path)), c->subs.n);

	keepalive_start(c);
	if (dl->open)
		dl->open(c);
	if (g.stalled)
		lws_rx_flow_control(wsi, 0);
	replay_kick(c);
	return 0;
}

static void
conn_closed(struct conn *c)
{
	if (!c->established)
		return;
	c->running = 0;
	keepalive_stop(c);
	lws_sul_cancel(&c->sul_endless);
	if (dl->closed)
		dl->closed(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		g.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	g.st.connections--;
	event_simple("disconnect");
	fxlog(LV_INFO, "disconnected", "conn=%u seconds=%.3f sent=%" PRIu64 " skipped=%" PRIu64,
	      c->id, (double)(mono_us() - c->since_us) / 1e6, c->sent, c->skipped);
	conn_free(c);
	c->established = 0;
}

/* One complete client message (text or binary). */
static int
conn_message(struct conn *c, const char *text, size_t len)
{
	struct sbuf b = { 0 };

	c->last_rx_us = mono_us();
	sb_adds(&b, "{\"event\":\"message\",\"text\":");
	sb_json_str(&b, text, len);
	sb_addc(&b, '}');
	event_emit(&b);
	sb_free(&b);
	dl->request(c, text, len);
	return 0;
}

/* Some exchanges disconnect clients that send too much (dialect.msg_limit); we allow
 * twice their documented rates before doing the same. */
static int
rate_exceeded(struct conn *c)
{
	int64_t now = mono_us();
	int limit = dl->msg_limit;

	if (!limit)
		return 0;
	if (now - c->rl_start_us >= 1000000) {
		c->rl_start_us = now;
		c->rl_count = 0;
	}
	if (++c->rl_count <= limit)
		return 0;
	event_simple("rate_limited");
	fxlog(LV_WARN, "too many messages, closing", "conn=%u limit_per_s=%d", c->id, limit);
	lws_close_reason(c->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
			 (unsigned char *)"too many requests", 17);
	return 1;
}

static int
conn_receive(struct conn *c, const char *in, size_t len)
{
	int r;

	if (!c->rx_in_msg) {
		c->rx.len = 0;
		c->rx_binary = lws_frame_is_binary(c->wsi);
	}
	if (c->rx.len + len > MAX_IN_MSG) {
		fxlog(LV_WARN, "client message too big, closing", "conn=%u limit=%d", c->id,
		      MAX_IN_MSG);
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
				 (unsigned char *)"message too big", 15);
		return -1;
	}
	sb_add(&c->rx, in, len);
	if (c->rx.oom)
		return -1;
	c->last_rx_us = mono_us();
	if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi)) {
		c->rx_in_msg = 1;
		return 0;
	}
	c->rx_in_msg = 0;
	if (rate_exceeded(c))
		return -1;
	r = conn_message(c, c->rx.p, c->rx.len);
	/* Do not keep a 64 KiB buffer around for one big message. */
	if (c->rx.cap > 16384)
		sb_free(&c->rx);
	return r;
}

/* ------------------------------------------------------------------ */
/* writing */

static int
write_ping(struct conn *c)
{
	unsigned char buf[LWS_PRE + 32];
	uint64_t payload = (uint64_t)(wall_us() / 1000);
	int plen = snprintf((char *)buf + LWS_PRE, 32, "%" PRIu64, payload);

	c->ping_pending = 0;
	if (lws_write(c->wsi, buf + LWS_PRE, (size_t)plen, LWS_WRITE_PING) < plen)
		return -1;
	c->last_tx_us = mono_us();
	ping_sent(c, payload);
	return 0;
}

static int
write_queued(struct conn *c)
{
	struct qnode *q = c->qhead;
	struct msg *m = q->m;
	int n;

	c->qhead = q->next;
	if (!c->qhead)
		c->qtail = NULL;
	c->queued -= m->len;
	free(q);
	n = lws_write(c->wsi, m->buf + LWS_PRE, m->len, m->wp);
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
	return 0;
}

/* --rate 0: the next recorded line, straight from the recording. */
static int
write_next_line(struct conn *c)
{
	uint64_t pass;
	const struct rline *l = replay_take(c, &pass);
	const char *s;
	size_t len;
	int n;

	if (!l || fault_skip(c, l))
		return 0;
	s = line_render(c, l, pass, &len);
	if (LWS_PRE + len > c->scratch_cap) {
		unsigned char *nb = realloc(c->scratch, LWS_PRE + len);

		if (!nb)
			return -1;
		c->scratch = nb;
		c->scratch_cap = LWS_PRE + len;
	}
	memcpy(c->scratch + LWS_PRE, s, len);
	n = lws_write(c->wsi, c->scratch + LWS_PRE, len, data_wp());
	if (n < 0 || (size_t)n < len)
		return -1;
	c->last_tx_us = mono_us();
	g.st.frames_sent++;
	g.st.messages_sent++;
	c->sent++;
	return 0;
}

static int
unpaced(const struct conn *c)
{
	return opt.rate == 0 && !opt.pace_real && replay_can_run(c);
}

/* Exactly one lws_write per WRITEABLE, in priority order: ping, queued frames, close,
 * then (with --rate 0) the next recorded line. */
static int
conn_writeable(struct conn *c)
{
	int r = 0;

	/* The close frame follows what was queued before it, except when stalled: then
	 * nothing else may go out, so it goes alone. */
	if (c->close_code && (!c->qhead || g.stalled || c->endless)) {
		lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
				 (unsigned char *)c->close_reason, strlen(c->close_reason));
		return -1;
	}
	if (g.stalled)
		return 0;
	if (c->endless)
		return endless_write(c);
	if (c->ping_pending && !c->closing)
		r = write_ping(c);
	else if (c->qhead)
		r = write_queued(c);
	else if (unpaced(c))
		r = write_next_line(c);
	if (r)
		return r;
	if (c->ping_pending || c->qhead || c->close_code || unpaced(c))
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the protocol callback */

int
http_reply(struct lws *wsi, unsigned status, const char *body, size_t n)
{
	unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start;
	unsigned char *end = hdr + sizeof hdr, *buf;
	int w;

	if (lws_add_http_common_headers(wsi, status, "application/json", n, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (!(buf = malloc(LWS_PRE + n + 1)))
		return -1;
	memcpy(buf + LWS_PRE, body, n);
	w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_FINAL);
	free(buf);
	if (w < (int)n)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void
http_arg(struct lws *wsi, const char *name, char *out, size_t n)
{
	char arg[256];
	size_t nl = strlen(name);
	int i;

	out[0] = '\0';
	for (i = 0; lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) > 0;
	     i++)
		if (!strncmp(arg, name, nl) && arg[nl] == '=')
			snprintf(out, n, "%s", arg + nl + 1);
}

void
rest_event(struct lws *wsi, const char *uri, const char *body)
{
	struct sbuf b = { 0 }, path = { 0 };
	char arg[256];
	int i;

	g.st.rest_requests++;
	sb_adds(&path, uri);
	for (i = 0; lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) > 0;
	     i++) {
		sb_addc(&path, i ? '&' : '?');
		sb_adds(&path, arg);
	}
	sb_adds(&b, "{\"event\":\"rest\",\"path\":");
	sb_json_str(&b, path.p ? path.p : "", path.len);
	if (body) {
		sb_adds(&b, ",\"body\":");
		sb_json_str(&b, body, strlen(body));
	}
	sb_addc(&b, '}');
	event_emit(&b);
	sb_free(&b);
	sb_free(&path);
}

static int
http_answer(struct lws *wsi, const char *uri, const char *body, size_t len)
{
	int r = dl->http && uri ? dl->http(wsi, uri, body, len) : 1;

	if (r <= 0)
		return r;
	if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* A plain HTTP request: a GET is answered at once; a POST once its body is in (kept in
 * the session's path and rx until then, at most MAX_IN_MSG bytes). */
static int
http_begin(struct conn *c, struct lws *wsi, const char *uri)
{
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) <= 0 || !c)
		return http_answer(wsi, uri, NULL, 0);
	free(c->path);
	sb_free(&c->rx);
	if (!(c->path = strdup(uri ? uri : "")))
		return -1;
	return 0;
}

static int
http_body_in(struct conn *c, struct lws *wsi, const void *in, size_t len)
{
	if (!c || !c->path)
		return -1;
	if (c->rx.len + len > MAX_IN_MSG) {
		free(c->path);
		c->path = NULL;
		sb_free(&c->rx);
		if (lws_return_http_status(wsi, HTTP_STATUS_REQ_ENTITY_TOO_LARGE, NULL))
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	sb_add(&c->rx, in, len);
	return c->rx.oom ? -1 : 0;
}

static int
http_body_done(struct conn *c, struct lws *wsi)
{
	int r;

	if (!c || !c->path)
		return -1;
	sb_reserve(&c->rx, 0);
	r = c->rx.oom ? -1 : http_answer(wsi, c->path, c->rx.p ? c->rx.p : "", c->rx.len);
	free(c->path);
	c->path = NULL;
	sb_free(&c->rx);
	return r;
}

/* A plain HTTP session ends: what a POST left behind. */
static void
http_forget(struct conn *c)
{
	if (!c || c->established)
		return;
	free(c->path);
	c->path = NULL;
	sb_free(&c->rx);
}

static void
peer_close(struct conn *c, const unsigned char *p, size_t len)
{
	int code = len >= 2 ? (p[0] << 8) | p[1] : 0;
	char q[256];

	fxlog(LV_INFO, "client sent close", "conn=%u code=%d reason=%s", c->id, code,
	      lq(q, sizeof(q), len > 2 ? (const char *)p + 2 : "", len > 2 ? len - 2 : 0));
}

int
cb_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		/* IN is the socket just accepted; non-zero makes lws close its copy. */
		return g.hanging ? hang_take((int)(lws_intptr_t)in) : 0;
	case LWS_CALLBACK_HTTP:
		/* Plain HTTP: the dialect's REST, if any; the rest is WebSocket. */
		return http_begin(c, wsi, in);
	case LWS_CALLBACK_HTTP_BODY:
		return http_body_in(c, wsi, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return http_body_done(c, wsi);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		http_forget(c);
		return 0;
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
		/* Answers to our own pings never count against the limit, so a short
		 * --ping-interval cannot get a client cut off. */
		if (pong_received(c, in, len) || !dl->pongs_limited)
			return 0;
		return rate_exceeded(c) ? -1 : 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!c->established)
			return 0;
		return conn_writeable(c);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (c->established)
			peer_close(c, in, len);
		return 0;
	case LWS_CALLBACK_CLOSED:
		conn_closed(c);
		return 0;
	default:
		return 0;
	}
}
