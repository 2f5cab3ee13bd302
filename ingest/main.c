/* ingest: connects to exchanges' WebSocket feeds and writes envelope lines on stdout. */
#include "clock.h"
#include "exchanges/xch.h"
#include "exitcode.h"
#include "json.h"
#include "jw.h"
#include "log.h"
#include "met.h"
#include "metnames.h"
#include "oq.h"
#include "opt.h"
#include "loop.h"
#include "rundir.h"
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define VERSION "0.1.0"
#define MAX_EXCHANGES 16
#define MAX_OUT_MSG 65536
#define RESYNC_QUEUE 32
#define TICK_US (250 * LWS_US_PER_MS)
#define CONNECT_TIMEOUT_US (15 * LWS_US_PER_SEC)
/* lws's own handshake timeouts are only a backstop behind ours, which can say why. */
#define LWS_TIMEOUT_SECS 20
/* Consecutive failed attempts to an endpoint off this machine before the hint at make demo. */
#define OFFLINE_HINT_AFTER 3

/* ---- connection state machine ---- */

enum cstate { CS_IDLE, CS_CONNECTING, CS_OPEN, CS_BACKOFF, CS_CLOSING };
enum cevent {
	EV_START,     /* become active (leader) */
	EV_STOP,      /* become idle (follower, shutdown) */
	EV_CONNECTED, /* the WebSocket handshake completed */
	EV_CLOSED,    /* the connection ended or could not be made */
	EV_RECONNECT, /* drop this connection and make a new one */
	EV_RETRY,     /* the back-off timer fired */
};
static const char *const state_names[] = { "idle", "connecting", "open", "backoff", "closing" };

/* Why an attempt to connect failed (the reason label of exchange_ingest_connect_failures_total).
 * refused: lws 4.1 reports a failed TCP connect without its errno, so a host that is
 * unreachable is counted here too. */
enum fail { F_DNS, F_REFUSED, F_TLS, F_HTTP, F_HANDSHAKE, F_TIMEOUT, F_CLOSED, F_OTHER, F_NONE };
static const char *const fail_names[F_NONE] = { "dns", "refused", "tls", "http", "handshake",
						 "timeout", "closed", "other" };

struct conn {
	const struct xch *x;
	struct xch_sub sub;
	struct xch_conn xc;    /* the protocol's own: request ids, request budget */
	char url[16384];
	char base[1024];       /* the endpoint the URL was built on (REST snapshots derive from it) */
	enum cstate state;
	int want;              /* should be connected (we are leader and not stopping) */
	int reconnect_now;     /* after the coming close, skip the back-off delay */
	/* The connection lws holds for us: set by lws when it creates it (pwsi), cleared when
	 * lws destroys it (WSI_DESTROY), so it is never used after lws freed it. */
	struct lws *wsi;
	int attempt;           /* a connection is in lws's hands and its end not yet reported */
	int opened;            /* that connection completed the WebSocket handshake */
	int killed;            /* we are ending it (kill_wsi) ... */
	enum fail kill_fail;   /* ... and this is the failure it means (F_NONE: on purpose) */
	char host[256];
	int port;
	unsigned fails;        /* consecutive failed attempts */
	lws_sorted_usec_list_t sul_retry;
	uint16_t retries;
	int64_t state_since, last_tx;
	int64_t last_rx;       /* the last complete message (or pong): idleness is the time since */
	int64_t last_keepalive; /* some exchanges want their keep-alive itself, whatever else is sent */
	char close_reason[128];
	/* receive: one message reassembled from fragments */
	char *rx;
	size_t rx_len, rx_cap;
	int64_t msg_since;     /* the first fragment of the message being received (0: none) */
	int rx_discard;        /* a message passed the limit: ignore the rest, the end is near */
	struct log_limit rl_fail;
	/* send queue: subscribe messages first, then resyncs, then keep-alives */
	int sub_next;          /* next subscribe message index, -1 when done */
	int want_keepalive;
	char resync_q[RESYNC_QUEUE][SYM_MAX];
	int resync_n;
	int resync_msg;        /* next message index of the symbol at the queue's head */
	int64_t last_resync;
	int64_t next_send;     /* subscribe and resync messages wait until then (pacing) */
	/* metrics */
	struct met *m_frames, *m_bytes, *m_connected, *m_reconnects, *m_dropped, *m_age, *m_invalid,
		*m_oversize, *m_heartbeats, *m_rest_ok, *m_rest_failed;
	struct met *m_fail[F_NONE];
};

struct ctl_client {
	int fd;
	char buf[1024];
	size_t len;
};

struct opts {
	const char *run_dir;
	const char *ca;
	int channels;
	size_t max_frame;
	size_t out_buffer;
	int idle_timeout_ms;
	int keepalive_ms;
	int check;
};

struct ingest {
	struct opts o;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct conn conns[MAX_EXCHANGES];
	int nconns;
	enum role role;
	int stopping;
	int64_t stop_deadline;
	struct oq out;
	struct lws *out_wsi;
	int out_waiting;
	struct jw env;
	struct js_doc doc;
	int sigfd, ctlfd;
	struct rundir_file ctl_file; /* ingest.sock as made, removed only if still ours */
	lws_sorted_usec_list_t sul_tick;
	int64_t last_metrics;
	struct met_reg *reg;
	struct met *m_rss, *m_active;
	struct log_limit rl_invalid, rl_drop;
	int offline_hinted;
	int exit_code;
};

static struct ingest g; /* the one process-wide state, reached from lws callbacks */

static const uint32_t backoff_ms[] = { 500, 1000, 2000, 4000, 8000, 15000, 30000 };
static const lws_retry_bo_t retry_policy = {
	.retry_ms_table = backoff_ms,
	.retry_ms_table_count = sizeof backoff_ms / sizeof backoff_ms[0],
	.conceal_count = LWS_RETRY_CONCEAL_ALWAYS,
	.jitter_percent = 20,
};

static void conn_event(struct conn *c, enum cevent ev);

/* ---- output: envelope lines through a bounded queue ---- */

/* Queues one envelope line; when the reader is slow the line is dropped and counted, and
 * the connection goes on (pings are still answered). */
static void out_line(struct conn *c, const char *s, size_t n)
{
	if (oq_push(&g.out, s, n)) {
		if (c)
			c->m_dropped->v++;
		long sup = log_allow(&g.rl_drop, clk_mono_us());
		if (sup >= 0)
			log_warn("output full, line dropped", " exchange=%s suppressed=%ld",
				 c ? c->x->name : "-", sup);
		return;
	}
}

static void env_head(struct conn *c, int64_t ts)
{
	jw_reset(&g.env);
	jw_lit(&g.env, "{\"exchange\":");
	jw_str(&g.env, c->x->name, strlen(c->x->name));
	jw_lit(&g.env, ",\"local_ts\":");
	jw_int(&g.env, ts);
}

/* A connection event as an envelope line: connected, disconnected, error. */
static void emit_event(struct conn *c, const char *event, const char *detail)
{
	env_head(c, clk_now_us());
	jw_lit(&g.env, ",\"event\":");
	jw_str(&g.env, event, strlen(event));
	if (detail) {
		jw_lit(&g.env, ",\"detail\":");
		jw_str(&g.env, detail, strlen(detail));
	}
	jw_lit(&g.env, "}\n");
	if (!g.env.err)
		out_line(c, g.env.buf, g.env.len);
}

static void emit_frame(struct conn *c, char *f, size_t n, int64_t ts)
{
	/* Valid JSON has raw newlines only between tokens, so they can become spaces. */
	for (char *p = memchr(f, '\n', n); p; p = memchr(p, '\n', n - (size_t)(p - f)))
		*p = ' ';
	for (char *p = memchr(f, '\r', n); p; p = memchr(p, '\r', n - (size_t)(p - f)))
		*p = ' ';
	env_head(c, ts);
	jw_lit(&g.env, ",\"data\":");
	jw_raw(&g.env, f, n);
	jw_lit(&g.env, "}\n");
	if (!g.env.err)
		out_line(c, g.env.buf, g.env.len);
}

/* ---- one complete message from an exchange ---- */

static void on_message(struct conn *c)
{
	int64_t now = clk_now_us();
	char q[120];
	c->m_frames->v++;
	c->m_bytes->v += (double)c->rx_len;
	switch (c->x->proto.classify(c->rx, c->rx_len)) {
	case XCH_HEARTBEAT:
		c->m_heartbeats->v++;
		return;
	case XCH_RECONNECT:
		log_info("exchange announced a disconnect", " exchange=%s", c->x->name);
		snprintf(c->close_reason, sizeof c->close_reason, "server shutdown announced");
		c->reconnect_now = 1;
		conn_event(c, EV_RECONNECT);
		return;
	case XCH_FORWARD:
		break;
	}
	enum js_err e = js_parse(&g.doc, c->rx, c->rx_len);
	if (e != JS_OK) {
		c->m_invalid->v++;
		long sup = log_allow(&g.rl_invalid, clk_mono_us());
		if (sup >= 0) {
			char detail[160];
			log_warn("frame is not JSON, skipped",
				 " exchange=%s bytes=%zu error=\"%s\" frame=%s suppressed=%ld", c->x->name,
				 c->rx_len, js_strerror(e),
				 log_quote(q, sizeof q, c->rx, c->rx_len > 60 ? 60 : c->rx_len), sup);
			snprintf(detail, sizeof detail, "frame of %zu bytes is not JSON (%s)", c->rx_len,
				 js_strerror(e));
			emit_event(c, "error", detail);
		}
		return;
	}
	/* The first good frame proves the connection: the next failure starts the back-off
	 * from its first step. */
	c->retries = 0;
	emit_frame(c, c->rx, c->rx_len, now);
}

/* ---- the state machine ----
 * conn_event dispatches events by state; two more paths close a connection through
 * kill_wsi without it: conn_write (a resync done by reconnecting) and the tick (connect
 * timeout, idle timeout, age limit). */

static void set_state(struct conn *c, enum cstate s)
{
	if (c->state != s)
		log_debug("state", " exchange=%s from=%s to=%s", c->x->name, state_names[c->state],
			  state_names[s]);
	c->state = s;
	c->state_since = clk_mono_us();
	c->m_connected->v = s == CS_OPEN;
}

static void retry_cb(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_retry);
	conn_event(c, EV_RETRY);
}

static void conn_closed(struct conn *c, enum fail f, const char *why);

/* Why lws could not even start a connection: it resolves names before it returns, and says
 * nothing of a failure there, so ask the resolver again. */
static void start_failed(struct conn *c)
{
	char detail[sizeof c->host + 128];
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	int e = getaddrinfo(c->host, NULL, &hints, &res);
	if (res)
		freeaddrinfo(res);
	if (e) {
		snprintf(detail, sizeof detail, "cannot resolve %s: %s", c->host, gai_strerror(e));
		conn_closed(c, F_DNS, detail);
	} else {
		snprintf(detail, sizeof detail, "cannot start a connection to %s:%d", c->host, c->port);
		conn_closed(c, F_OTHER, detail);
	}
}

/* Starts a connection attempt; its end, whether now or later, comes back through
 * conn_closed() and EV_CLOSED, like that of any connection. */
static void start_connect(struct conn *c)
{
	char buf[sizeof c->url];
	const char *prot, *addr, *path;
	char fullpath[sizeof c->url + 1];
	int port;
	struct lws_client_connect_info i;

	c->rx_len = 0;
	c->msg_since = 0;
	c->rx_discard = 0;
	c->opened = 0;
	c->killed = 0;
	c->kill_fail = F_NONE;
	c->close_reason[0] = 0;
	c->attempt = 1;
	memcpy(buf, c->url, sizeof buf);
	if (lws_parse_uri(buf, &prot, &addr, &port, &path)) {
		c->attempt = 0;
		log_error("bad URL", " exchange=%s url=%s", c->x->name, c->url);
		conn_closed(c, F_OTHER, "bad URL");
		return;
	}
	snprintf(c->host, sizeof c->host, "%s", addr);
	c->port = port;
	snprintf(fullpath, sizeof fullpath, "/%s", path);
	memset(&i, 0, sizeof i);
	i.context = g.ctx;
	i.vhost = g.vh;
	i.address = addr;
	i.port = port;
	i.path = fullpath;
	i.host = addr;
	i.origin = NULL; /* Upbit rate-limits requests that carry an Origin (browsers) hard */
	i.protocol = NULL;
	i.local_protocol_name = "exchange";
	i.userdata = c;
	i.pwsi = &c->wsi;
	if (!strcmp(prot, "wss") || !strcmp(prot, "https"))
		i.ssl_connection = LCCSCF_USE_SSL;
	c->sub_next = 0;
	c->want_keepalive = 0;
	c->resync_n = 0;
	c->resync_msg = 0;
	c->next_send = 0;
	c->reconnect_now = 0;
	/* While attempts fail, each one's warning says enough. */
	if (c->fails)
		log_debug("connecting", " exchange=%s url=%s", c->x->name, c->url);
	else
		log_info("connecting", " exchange=%s url=%s", c->x->name, c->url);
	if (!lws_client_connect_via_info(&i)) {
		c->wsi = NULL;
		/* lws may have reported the failure already, from inside the call. */
		if (c->attempt)
			start_failed(c);
	}
}

static void schedule_retry(struct conn *c)
{
	unsigned ms = 0;
	char conceal;
	if (!c->reconnect_now)
		ms = lws_retry_get_delay_ms(g.ctx, &retry_policy, &c->retries, &conceal);
	c->reconnect_now = 0;
	if (ms)
		log_info("reconnecting", " exchange=%s in_ms=%u attempt=%u", c->x->name, ms, c->retries);
	set_state(c, CS_BACKOFF);
	lws_sul_schedule(g.ctx, 0, &c->sul_retry, retry_cb, (lws_usec_t)ms * LWS_US_PER_MS);
}

/* Ends the connection from our side; lws reports its end (conn_closed) later. F says why
 * when that makes the attempt a failure (a timeout), F_NONE when it does not. */
static void kill_wsi(struct conn *c, const char *why, enum fail f)
{
	if (why && !c->close_reason[0])
		snprintf(c->close_reason, sizeof c->close_reason, "%s", why);
	if (!c->killed)
		c->kill_fail = f;
	c->killed = 1;
	set_state(c, CS_CLOSING);
	if (c->attempt && c->wsi)
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void connect_or_backoff(struct conn *c)
{
	set_state(c, CS_CONNECTING);
	start_connect(c);
}

static void conn_event(struct conn *c, enum cevent ev)
{
	switch (c->state) {
	case CS_IDLE:
		if (ev == EV_START || ev == EV_RECONNECT) {
			c->want = 1;
			connect_or_backoff(c);
		}
		break;
	case CS_CONNECTING:
	case CS_OPEN:
		if (ev == EV_CONNECTED && c->state == CS_CONNECTING) {
			set_state(c, CS_OPEN);
			c->opened = 1;
			c->fails = 0;
			c->last_rx = c->last_tx = c->last_keepalive = clk_mono_us();
			log_info("connected", " exchange=%s", c->x->name);
			emit_event(c, "connected", c->url);
			lws_callback_on_writable(c->wsi);
		} else if (ev == EV_STOP) {
			c->want = 0;
			kill_wsi(c, "stopped", F_NONE);
		} else if (ev == EV_RECONNECT) {
			kill_wsi(c, "reconnect requested", F_NONE);
		} else if (ev == EV_CLOSED) {
			c->m_reconnects->v++;
			schedule_retry(c);
		}
		break;
	case CS_BACKOFF:
		if (ev == EV_RETRY) {
			connect_or_backoff(c);
		} else if (ev == EV_STOP) {
			c->want = 0;
			lws_sul_cancel(&c->sul_retry);
			set_state(c, CS_IDLE);
		} else if (ev == EV_RECONNECT || ev == EV_START) {
			lws_sul_cancel(&c->sul_retry);
			connect_or_backoff(c);
		}
		break;
	case CS_CLOSING:
		if (ev == EV_CLOSED) {
			if (c->want) {
				c->m_reconnects->v++;
				schedule_retry(c);
			} else {
				set_state(c, CS_IDLE);
			}
		} else if (ev == EV_STOP) {
			c->want = 0;
		} else if (ev == EV_START) {
			c->want = 1;
		}
		break;
	}
}

/* An endpoint on this machine (a fake exchange, a tunnel): no hint at make demo for it. */
static int endpoint_local(const struct conn *c)
{
	return !strcmp(c->host, "localhost") || !strncmp(c->host, "127.", 4) ||
	       !strcmp(c->host, "::1") || !strcmp(c->host, "[::1]");
}

/* A connection that never opened failed: count it by reason, say why at warn level (and in
 * the error event, which becomes the feed's status line), hint at make demo when the
 * internet seems out of reach. */
static void attempt_failed(struct conn *c, enum fail f, const char *detail)
{
	c->m_fail[f]->v++;
	c->fails++;
	long sup = log_allow(&c->rl_fail, clk_mono_us());
	if (sup >= 0) {
		char q[700];
		log_warn("cannot connect", " exchange=%s reason=%s detail=%s attempt=%u suppressed=%ld",
			 c->x->name, fail_names[f], log_quote(q, sizeof q, detail, strlen(detail)),
			 c->fails, sup);
	}
	emit_event(c, "error", detail);
	if (c->fails >= OFFLINE_HINT_AFTER && !endpoint_local(c) && !g.offline_hinted) {
		g.offline_hinted = 1;
		log_warn("exchange out of reach; without internet, make demo runs the same pipeline "
			 "on a fake exchange that replays recordings",
			 " exchange=%s host=%s attempts=%u", c->x->name, c->host, c->fails);
	}
}

/* lws reports the end of a connection once (the first of CONNECTION_ERROR, CLIENT_CLOSED and
 * WSI_DESTROY, or nothing when the connection could not start); F and WHY are its cause as
 * lws gave it. Turned into EV_CLOSED, with an event line. */
static void conn_closed(struct conn *c, enum fail f, const char *why)
{
	char detail[640];
	c->attempt = 0;
	if (c->killed)
		f = c->kill_fail;
	snprintf(detail, sizeof detail, "%s", c->close_reason[0] ? c->close_reason : why);
	if (c->opened) {
		log_info("disconnected", " exchange=%s reason=\"%s\"", c->x->name, detail);
		emit_event(c, "disconnected", detail);
	} else if (f != F_NONE) {
		attempt_failed(c, f, detail);
	} else {
		/* Stopped or replaced on purpose before it opened: no failure. */
		log_info("connection abandoned", " exchange=%s reason=\"%s\"", c->x->name, detail);
		emit_event(c, "disconnected", detail);
	}
	c->last_rx = 0;
	c->msg_since = 0;
	c->rx_len = 0;
	conn_event(c, EV_CLOSED);
}

/* The cause of a connection error as lws words it (4.1), sorted by reason, in DETAIL. */
static enum fail classify(struct conn *c, struct lws *wsi, const char *msg, char *detail, size_t n)
{
	if (!strcmp(msg, "Unable to connect")) {
		snprintf(detail, n, "cannot connect to %s:%d: refused or unreachable", c->host, c->port);
		return F_REFUSED;
	}
	if (strstr(msg, "SSL") || strstr(msg, "ssl") || strstr(msg, "TLS") || strstr(msg, "tls") ||
	    strstr(msg, "cert")) {
		/* lws's own words say little ("SSL err 1"); OpenSSL knows what it disliked. */
		SSL *ssl = lws_get_ssl(wsi);
		long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
		if (v != X509_V_OK)
			snprintf(detail, n, "TLS: certificate of %s not trusted: %s (--ca adds a CA)", c->host,
				 X509_verify_cert_error_string(v));
		else
			snprintf(detail, n, "TLS handshake with %s:%d failed: %s", c->host, c->port, msg);
		return F_TLS;
	}
	if (!strncmp(msg, "HS:", 3)) {
		unsigned status = lws_http_client_http_response(wsi);
		if (status && status != 101) {
			snprintf(detail, n, "%s:%d answered the WebSocket upgrade with HTTP %u", c->host,
				 c->port, status);
			return F_HTTP;
		}
		snprintf(detail, n, "WebSocket handshake with %s:%d failed: %s", c->host, c->port, msg + 3);
		return F_HANDSHAKE;
	}
	if (strstr(msg, "read failed") || strstr(msg, "closed")) {
		snprintf(detail, n, "%s:%d closed the connection before the WebSocket upgrade completed (%s)",
			 c->host, c->port, msg);
		return F_CLOSED;
	}
	if (strstr(msg, "timeout") || strstr(msg, "timed out")) {
		snprintf(detail, n, "%s:%d: %s", c->host, c->port, msg);
		return F_TIMEOUT;
	}
	snprintf(detail, n, "%s:%d: %s", c->host, c->port, msg);
	return F_OTHER;
}

/* ---- sending: one lws_write per WRITEABLE callback ---- */

/* Subscribe and resync messages respect the exchange's pace; keep-alives go any time. */
static int may_send(const struct conn *c, int64_t now)
{
	return now >= c->next_send;
}

static int conn_write(struct conn *c)
{
	unsigned char buf[LWS_PRE + MAX_OUT_MSG];
	char *msg = (char *)buf + LWS_PRE;
	int n = 0, paced = 0;
	enum lws_write_protocol kind = LWS_WRITE_TEXT;
	int64_t now = clk_mono_us();
	int64_t gap = (int64_t)c->x->proto.sub_gap_ms * 1000;

	if (c->state != CS_OPEN)
		return 0;
	if (c->sub_next >= 0 && may_send(c, now)) {
		n = c->x->proto.subscribe(&c->sub, &c->xc, c->sub_next, msg, MAX_OUT_MSG);
		if (n > 0) {
			c->sub_next++;
			paced = 1;
			log_debug("subscribe", " exchange=%s message=%.*s", c->x->name, n, msg);
		} else {
			c->sub_next = -1;
			if (n < 0)
				log_error("subscription does not fit in a message", " exchange=%s", c->x->name);
			n = 0;
		}
	}
	while (!n && c->sub_next < 0 && c->resync_n && may_send(c, now)) {
		n = c->x->proto.resync(&c->sub, &c->xc, c->resync_q[0], c->resync_msg, msg, MAX_OUT_MSG);
		if (n > 0) {
			if (c->resync_msg == 0)
				log_info("resubscribing", " exchange=%s symbol=%s", c->x->name, c->resync_q[0]);
			c->resync_msg++;
			paced = 1;
			break;
		}
		if (n == 0 && c->resync_msg == 0) {
			/* This exchange cannot resubscribe one book: a new connection brings them all. */
			log_info("resync by reconnecting", " exchange=%s symbol=%s", c->x->name, c->resync_q[0]);
			c->resync_n = 0;
			c->reconnect_now = 1;
			kill_wsi(c, "resync", F_NONE);
			return 0;
		}
		if (n < 0)
			log_warn("resync message could not be built", " exchange=%s symbol=%s", c->x->name,
				 c->resync_q[0]);
		/* Done with this symbol (or its message did not fit). */
		c->resync_msg = 0;
		c->last_resync = now;
		c->next_send = now + (gap > 200000 ? gap : 200000);
		if (c->x->proto.resync_all) {
			c->resync_n = 0;
		} else {
			memmove(c->resync_q[0], c->resync_q[1], (size_t)(c->resync_n - 1) * SYM_MAX);
			c->resync_n--;
		}
		n = 0;
	}
	if (!n && c->want_keepalive) {
		c->want_keepalive = 0;
		c->last_keepalive = now;
		if (c->x->proto.keepalive_text) {
			n = snprintf(msg, MAX_OUT_MSG, "%s", c->x->proto.keepalive_text);
		} else {
			if (lws_write(c->wsi, buf + LWS_PRE, 0, LWS_WRITE_PING) < 0)
				return -1;
			c->last_tx = now;
			n = 0;
		}
	}
	if (n) {
		if (lws_write(c->wsi, buf + LWS_PRE, (size_t)n, kind) < n)
			return -1;
		c->last_tx = now;
		if (paced)
			c->next_send = now + gap;
	}
	/* More to send now: ask again; paced messages wait for the tick. */
	if (c->want_keepalive || ((c->sub_next >= 0 || c->resync_n) && may_send(c, now)))
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* The larger of --max-frame and what the exchange is known to send. */
static size_t frame_limit(const struct conn *c)
{
	return c->x->proto.max_frame > g.o.max_frame ? c->x->proto.max_frame : g.o.max_frame;
}

/* WSI is the connection of C whose end is still to be reported. */
static int live_attempt(const struct conn *c, const struct lws *wsi)
{
	return c && c->attempt && (!c->wsi || c->wsi == wsi);
}

/* A message passed the limit: the connection ends here, whatever the exchange announced or
 * keeps sending, and the next one starts after the back-off. (The end is asynchronous:
 * returning -1 from a client's RECEIVE after lws_close_reason() makes lws 4.1 free memory
 * twice.) */
static void too_large(struct conn *c, struct lws *wsi, size_t have)
{
	static const char why[] = "message too big";
	c->rx_discard = 1;
	c->rx_len = 0;
	c->m_oversize->v++;
	log_warn("message larger than --max-frame, closing the connection",
		 " exchange=%s limit=%zu received=%zu", c->x->name, frame_limit(c), have);
	snprintf(c->close_reason, sizeof c->close_reason,
		 "message larger than %zu bytes (--max-frame), connection closed", frame_limit(c));
	c->killed = 1;
	c->kill_fail = F_NONE;
	set_state(c, CS_CLOSING);
	lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why, sizeof why - 1);
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static int cb_exchange(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	struct conn *c = user;
	char msg[160], detail[sizeof msg + sizeof c->host + 128];

	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		conn_event(c, EV_CONNECTED);
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (live_attempt(c, wsi)) {
			snprintf(msg, sizeof msg, "%.*s", in ? (int)len : 0, in ? (const char *)in : "");
			conn_closed(c, classify(c, wsi, msg[0] ? msg : "connection error", detail, sizeof detail),
				    detail);
		}
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (live_attempt(c, wsi))
			conn_closed(c, F_CLOSED, "connection closed");
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		/* Whatever lws reported before, the connection is gone now. Before the upgrade
		 * completes lws may end one (its timeout, or ours) with no report at all. */
		if (live_attempt(c, wsi)) {
			c->wsi = NULL;
			snprintf(detail, sizeof detail, c->opened ? "connection closed"
				 : "%s:%d closed the connection before the WebSocket upgrade completed",
				 c->host, c->port);
			conn_closed(c, F_CLOSED, detail);
		}
		if (c && c->wsi == wsi)
			c->wsi = NULL;
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (c && !c->close_reason[0]) {
			unsigned code = len >= 2 ? ((unsigned)((unsigned char *)in)[0] << 8) |
							   ((unsigned char *)in)[1]
						 : 0;
			snprintf(c->close_reason, sizeof c->close_reason, "closed by the exchange (code %u)",
				 code);
		}
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		c->last_rx = clk_mono_us();
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		/* Fragments do not count as life: only whole messages do (last_rx), and one
		 * message may take no longer than the idle timeout (msg_since, see tick_cb). */
		if (c->rx_discard)
			break;
		if (lws_is_first_fragment(wsi)) {
			c->rx_len = 0;
			c->msg_since = clk_mono_us();
		}
		if (c->rx_len + len > frame_limit(c)) {
			too_large(c, wsi, c->rx_len + len);
			break;
		}
		if (c->rx_len + len > c->rx_cap) {
			size_t cap = c->rx_cap ? c->rx_cap : 65536;
			while (cap < c->rx_len + len)
				cap *= 2;
			char *p = realloc(c->rx, cap);
			if (!p)
				return -1;
			c->rx = p;
			c->rx_cap = cap;
		}
		memcpy(c->rx + c->rx_len, in, len);
		c->rx_len += len;
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			c->last_rx = clk_mono_us();
			c->msg_since = 0;
			on_message(c);
			c->rx_len = 0;
			/* A huge buffer from one big frame is not kept for the connection's life. */
			if (c->rx_cap > (1 << 20)) {
				free(c->rx);
				c->rx = NULL;
				c->rx_cap = 0;
			}
		}
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return conn_write(c);
	default:
		break;
	}
	return 0;
}

/* ---- role changes, signals, the control socket ---- */

/* The leader ingests, and so does a standby (to publish what the leader never got out if it
 * is promoted); a plain follower keeps no exchange connection. */
static int role_ingests(enum role r)
{
	return r != ROLE_FOLLOWER;
}

static void set_role(enum role r)
{
	if (g.role == r) {
		log_info("role unchanged", " role=%s", role_name(r));
		return;
	}
	int was = role_ingests(g.role);
	g.role = r;
	g.m_active->v = role_ingests(r);
	log_info("role", " role=%s", role_name(r));
	if (role_ingests(r) != was)
		for (int i = 0; i < g.nconns; i++)
			conn_event(&g.conns[i], role_ingests(r) ? EV_START : EV_STOP);
}

static void begin_stop(void)
{
	if (g.stopping)
		return;
	g.stopping = 1;
	g.stop_deadline = clk_mono_us() + 2000000;
	for (int i = 0; i < g.nconns; i++)
		conn_event(&g.conns[i], EV_STOP);
}

/* Writes what is queued now, at the end of the loop turn that queued it: a line costs no
 * extra turn through poll, and the frames of one turn go out in one write. A reader that
 * does not take it all gets the rest when its pipe is writable again. Called from the loop
 * only, never from a callback of stdout (see cb_raw). */
static void out_flush(void)
{
	if (!g.out.len || !g.out_wsi || g.out_waiting)
		return;
	int r = oq_flush(&g.out);
	if (r < 0) {
		log_info("reader closed the output", " error=\"%s\"", strerror(errno));
		g.exit_code = errno == EPIPE ? EXIT_OK : EXIT_RUNTIME;
		g.out.len = 0;
		begin_stop();
		g.stop_deadline = clk_mono_us();
	} else if (r > 0) {
		g.out_waiting = 1;
		lws_callback_on_writable(g.out_wsi);
	}
}

static void on_signal(int sig)
{
	switch (sig) {
	case SIGUSR1:
		if (!g.stopping)
			set_role(ROLE_LEADER);
		break;
	case SIGUSR2: /* a follower; RUN_DIR/role says whether a standby */
		if (!g.stopping)
			set_role(g.o.run_dir && rundir_role(g.o.run_dir) == ROLE_STANDBY ? ROLE_STANDBY : ROLE_FOLLOWER);
		break;
	case SIGHUP:
		log_info("reconnecting every exchange", " signal=HUP");
		if (role_ingests(g.role) && !g.stopping)
			for (int i = 0; i < g.nconns; i++) {
				g.conns[i].reconnect_now = 1;
				conn_event(&g.conns[i], EV_RECONNECT);
			}
		break;
	case SIGTERM:
	case SIGINT:
		log_info("stopping", " signal=%d", sig);
		begin_stop();
		break;
	}
}

static struct conn *find_conn(const char *name)
{
	for (int i = 0; i < g.nconns; i++)
		if (!strcmp(g.conns[i].x->name, name))
			return &g.conns[i];
	return NULL;
}

static void ctl_reply(struct ctl_client *cl, const char *s)
{
	size_t n = strlen(s);
	ssize_t w = write(cl->fd, s, n); /* replies are small; a client that does not read loses them */
	(void)w;
}

static void ctl_status(struct ctl_client *cl)
{
	struct jw w;
	jw_init(&w, 1 << 20);
	jw_lit(&w, "{\"role\":");
	jw_str(&w, role_name(g.role), strlen(role_name(g.role)));
	jw_lit(&w, ",\"exchanges\":[");
	int64_t now = clk_mono_us();
	for (int i = 0; i < g.nconns; i++) {
		struct conn *c = &g.conns[i];
		if (i)
			jw_char(&w, ',');
		jw_lit(&w, "{\"exchange\":");
		jw_str(&w, c->x->name, strlen(c->x->name));
		jw_lit(&w, ",\"state\":");
		jw_str(&w, state_names[c->state], strlen(state_names[c->state]));
		jw_lit(&w, ",\"url\":");
		jw_str(&w, c->url, strlen(c->url));
		jw_lit(&w, ",\"frames\":");
		jw_int(&w, (int64_t)c->m_frames->v);
		jw_lit(&w, ",\"reconnects\":");
		jw_int(&w, (int64_t)c->m_reconnects->v);
		jw_lit(&w, ",\"dropped\":");
		jw_int(&w, (int64_t)c->m_dropped->v);
		jw_lit(&w, ",\"last_frame_age_ms\":");
		jw_int(&w, c->last_rx ? (now - c->last_rx) / 1000 : -1);
		jw_char(&w, '}');
	}
	jw_lit(&w, "]}\n");
	if (!w.err) {
		ssize_t k = write(cl->fd, w.buf, w.len);
		(void)k;
	}
	jw_free(&w);
}

/* ---- REST snapshots (books built from deltas and a snapshot, e.g. Binance book:full) ---- */

#define MAX_REST 8
#define MAX_REST_BODY (32u << 20)

struct rest_req {
	struct conn *c;
	char sym[SYM_MAX];
	char tag[128];
	char url[1024];
	struct lws *wsi;
	char *body;
	size_t len;
	int status, in_use, oversize;
};
static struct rest_req rest_reqs[MAX_REST];

static void rest_done(struct rest_req *r, const char *err)
{
	if (err) {
		char detail[256];
		r->c->m_rest_failed->v++;
		log_warn("snapshot request failed", " exchange=%s symbol=%s url=%s error=\"%s\"", r->c->x->name, r->sym,
			 r->url, err);
		snprintf(detail, sizeof detail, "snapshot for %s failed: %s", r->sym, err);
		emit_event(r->c, "error", detail);
	}
	free(r->body);
	memset(r, 0, sizeof *r);
}

/* The body becomes an envelope line like a frame: {"stream":TAG,"data":BODY}. */
static void rest_deliver(struct rest_req *r)
{
	if (r->status != 200) {
		char why[64];
		snprintf(why, sizeof why, "HTTP %d", r->status);
		rest_done(r, why);
		return;
	}
	if (r->len + strlen(r->tag) + 4096 > g.env.max)
		r->oversize = 1;
	if (r->oversize || js_parse(&g.doc, r->body, r->len) != JS_OK) {
		rest_done(r, r->oversize ? "body too large" : "body is not JSON");
		return;
	}
	size_t tl = strlen(r->tag);
	char *frame = malloc(r->len + tl + 32);
	if (!frame) {
		rest_done(r, "out of memory");
		return;
	}
	int k = snprintf(frame, r->len + tl + 32, "{\"stream\":\"%s\",\"data\":", r->tag);
	memcpy(frame + k, r->body, r->len);
	frame[(size_t)k + r->len] = '}';
	r->c->m_rest_ok->v++;
	log_info("snapshot received", " exchange=%s symbol=%s bytes=%zu", r->c->x->name, r->sym, r->len);
	emit_frame(r->c, frame, (size_t)k + r->len + 1, clk_now_us());
	free(frame);
	rest_done(r, NULL);
}

static int cb_rest(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct rest_req *r = user;
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		r->status = (int)lws_http_client_http_response(wsi);
		break;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
		char buf[LWS_PRE + 16384], *p = buf + LWS_PRE;
		int n = (int)sizeof buf - LWS_PRE;
		if (lws_http_client_read(wsi, &p, &n) < 0)
			return -1;
		break;
	}
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		if (r->len + len > MAX_REST_BODY) {
			r->oversize = 1;
			break;
		}
		if (!r->oversize) {
			char *nb = realloc(r->body, r->len + len + 1);
			if (!nb)
				return -1;
			r->body = nb;
			memcpy(r->body + r->len, in, len);
			r->len += len;
		}
		break;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		if (r && r->in_use)
			rest_deliver(r);
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (r && r->in_use)
			rest_done(r, in && len ? (const char *)in : "connection error");
		break;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		if (r && r->in_use)
			rest_done(r, "closed before the body ended");
		break;
	default:
		break;
	}
	return 0;
}

/* Fetches SYM's snapshot unless one is on its way. Returns 0, or -1 when it cannot start. */
static int rest_fetch(struct conn *c, const char *sym)
{
	struct rest_req *r = NULL;
	for (int i = 0; i < MAX_REST; i++) {
		if (rest_reqs[i].in_use && rest_reqs[i].c == c && !strcmp(rest_reqs[i].sym, sym))
			return 0;
		if (!rest_reqs[i].in_use && !r)
			r = &rest_reqs[i];
	}
	if (!r)
		return -1;
	memset(r, 0, sizeof *r);
	r->c = c;
	snprintf(r->sym, sizeof r->sym, "%s", sym);
	if (c->x->proto.rest(&c->sub, c->base, sym, r->url, sizeof r->url, r->tag, sizeof r->tag))
		return -1;
	char buf[sizeof r->url], path[sizeof r->url + 1];
	const char *prot, *addr, *p;
	int port;
	snprintf(buf, sizeof buf, "%s", r->url);
	if (lws_parse_uri(buf, &prot, &addr, &port, &p))
		return -1;
	snprintf(path, sizeof path, "/%s", p);
	struct lws_client_connect_info i;
	memset(&i, 0, sizeof i);
	i.context = g.ctx;
	i.vhost = g.vh;
	i.address = addr;
	i.port = port;
	i.path = path;
	i.host = addr;
	i.method = "GET";
	i.local_protocol_name = "rest";
	i.userdata = r;
	i.pwsi = &r->wsi;
	if (!strcmp(prot, "https"))
		i.ssl_connection = LCCSCF_USE_SSL;
	r->in_use = 1;
	log_info("fetching a snapshot", " exchange=%s symbol=%s url=%s", c->x->name, sym, r->url);
	if (!lws_client_connect_via_info(&i)) {
		memset(r, 0, sizeof *r);
		return -1;
	}
	return 0;
}

static void ctl_command(struct ctl_client *cl, char *line)
{
	char *argv[4] = { 0 };
	int argc = 0;
	for (char *tok = strtok(line, " \t"); tok && argc < 4; tok = strtok(NULL, " \t"))
		argv[argc++] = tok;
	if (!argc)
		return;
	if (!strcmp(argv[0], "status")) {
		ctl_status(cl);
	} else if (!strcmp(argv[0], "resync") && argc == 3) {
		struct conn *c = find_conn(argv[1]);
		if (!c) {
			ctl_reply(cl, "error unknown exchange\n");
		} else if (c->state != CS_OPEN) {
			ctl_reply(cl, "error not connected\n");
		} else if (c->x->proto.rest && (c->sub.channels & XCH_BOOK_FULL)) {
			ctl_reply(cl, rest_fetch(c, argv[2]) ? "error cannot fetch a snapshot now\n"
							      : "ok snapshot requested\n");
		} else {
			int dup = 0;
			for (int i = 0; i < c->resync_n; i++)
				dup |= !strcmp(c->resync_q[i], argv[2]);
			if (dup) {
				ctl_reply(cl, "ok resync queued\n");
			} else if (c->resync_n == RESYNC_QUEUE || strlen(argv[2]) >= SYM_MAX) {
				log_warn("resync request refused: queue full", " exchange=%s symbol=%s", c->x->name, argv[2]);
				ctl_reply(cl, "error resync queue full\n");
			} else {
				strcpy(c->resync_q[c->resync_n++], argv[2]);
				ctl_reply(cl, "ok resync queued\n");
			}
		}
	} else if (!strcmp(argv[0], "reconnect") && argc == 2) {
		struct conn *c = find_conn(argv[1]);
		if (!c) {
			ctl_reply(cl, "error unknown exchange\n");
		} else {
			c->reconnect_now = 1;
			conn_event(c, EV_RECONNECT);
			ctl_reply(cl, "ok\n");
		}
	} else {
		ctl_reply(cl, "error commands: status | resync EXCHANGE SYMBOL | reconnect EXCHANGE\n");
	}
}

enum raw_kind { RAW_STDOUT = 1, RAW_SIGNALS, RAW_CTL_LISTEN, RAW_CTL_CLIENT };
static int kinds[5] = { 0, RAW_STDOUT, RAW_SIGNALS, RAW_CTL_LISTEN, RAW_CTL_CLIENT };

static int cb_raw(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	void *op = lws_get_opaque_user_data(wsi);
	int kind = op == &kinds[RAW_STDOUT] ? RAW_STDOUT
		   : op == &kinds[RAW_SIGNALS] ? RAW_SIGNALS
		   : op == &kinds[RAW_CTL_LISTEN] ? RAW_CTL_LISTEN
		   : op ? RAW_CTL_CLIENT : 0;

	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (kind == RAW_SIGNALS) {
			int sig;
			while ((sig = sig_next(g.sigfd)))
				on_signal(sig);
		} else if (kind == RAW_CTL_LISTEN) {
			int fd = accept4(g.ctlfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd >= 0) {
				struct ctl_client *cl = calloc(1, sizeof *cl);
				if (!cl) {
					close(fd);
					break;
				}
				cl->fd = fd;
				if (!loop_adopt(g.vh, fd, "raw", cl)) {
					free(cl);
				}
			}
		} else if (kind == RAW_CTL_CLIENT) {
			struct ctl_client *cl = op;
			ssize_t n = read(cl->fd, cl->buf + cl->len, sizeof cl->buf - 1 - cl->len);
			if (n <= 0)
				return n < 0 && errno == EAGAIN ? 0 : -1;
			cl->len += (size_t)n;
			cl->buf[cl->len] = 0;
			char *nl;
			while ((nl = memchr(cl->buf, '\n', cl->len))) {
				*nl = 0;
				ctl_command(cl, cl->buf);
				size_t used = (size_t)(nl - cl->buf) + 1;
				memmove(cl->buf, nl + 1, cl->len - used);
				cl->len -= used;
			}
			if (cl->len == sizeof cl->buf - 1)
				return -1; /* a line longer than any command */
		} else if (kind == RAW_STDOUT) {
			/* The read end of our stdout closed (poll reports it as readable/hup). */
		}
		break;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		/* Only note it: the loop flushes right after this service pass. lws stops waiting
		 * for POLLOUT once this callback returns, so a wait asked for from in here (the
		 * reader took part of the queue) would be lost, and stdout never written again. */
		if (kind == RAW_STDOUT)
			g.out_waiting = 0;
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (kind == RAW_CTL_CLIENT)
			free(op);
		else if (kind == RAW_STDOUT)
			g.out_wsi = NULL;
		break;
	default:
		break;
	}
	return 0;
}

/* ---- the periodic tick: keep-alives, idle and age limits, resync pacing, metrics ---- */

static void write_metrics(void)
{
	char err[256];
	int64_t now = clk_mono_us();
	for (int i = 0; i < g.nconns; i++) {
		struct conn *c = &g.conns[i];
		c->m_age->v = c->last_rx ? (double)(now - c->last_rx) / 1e6 : -1;
	}
	g.m_rss->v = met_rss_bytes();
	if (g.o.run_dir && met_write_file(g.reg, g.o.run_dir, "ingest", err, sizeof err))
		log_warn("cannot write metrics", " error=\"%s\"", err);
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	int64_t now = clk_mono_us();
	int active = 0;
	for (int i = 0; i < g.nconns; i++) {
		struct conn *c = &g.conns[i];
		const struct xch_proto *p = &c->x->proto;
		int idle_ms = g.o.idle_timeout_ms ? g.o.idle_timeout_ms : p->idle_timeout_ms;
		int ka_ms = g.o.keepalive_ms ? g.o.keepalive_ms : p->keepalive_ms;
		if (c->state != CS_IDLE)
			active++;
		if (c->state == CS_CONNECTING && now - c->state_since > CONNECT_TIMEOUT_US) {
			char why[sizeof c->host + 96];
			snprintf(why, sizeof why, "no WebSocket connection to %s:%d within %d s", c->host,
				 c->port, (int)(CONNECT_TIMEOUT_US / LWS_US_PER_SEC));
			kill_wsi(c, why, F_TIMEOUT);
		} else if (c->state == CS_OPEN) {
			if (now - c->last_rx > (int64_t)idle_ms * 1000) {
				log_warn("no message from the exchange, reconnecting", " exchange=%s idle_ms=%d",
					 c->x->name, idle_ms);
				char why[80];
				snprintf(why, sizeof why, "idle timeout (%d ms without a complete message)", idle_ms);
				kill_wsi(c, why, F_NONE);
			} else if (c->msg_since && now - c->msg_since > (int64_t)idle_ms * 1000) {
				log_warn("a message is taking too long, reconnecting",
					 " exchange=%s idle_ms=%d received=%zu", c->x->name, idle_ms, c->rx_len);
				char why[80];
				snprintf(why, sizeof why, "idle timeout (a message unfinished after %d ms)", idle_ms);
				kill_wsi(c, why, F_NONE);
			} else if (p->max_age_ms && now - c->state_since > p->max_age_ms * 1000) {
				c->reconnect_now = 1;
				kill_wsi(c, "connection age limit", F_NONE);
			} else {
				if (ka_ms && now - c->last_keepalive >= (int64_t)ka_ms * 1000 && !c->want_keepalive) {
					c->want_keepalive = 1;
					lws_callback_on_writable(c->wsi);
				}
				if ((c->sub_next >= 0 || c->resync_n) && now >= c->next_send)
					lws_callback_on_writable(c->wsi);
			}
		}
	}
	if (now - g.last_metrics >= 1000000) {
		g.last_metrics = now;
		write_metrics();
	}
	if (g.stopping && ((!active && !g.out.len) || now > g.stop_deadline)) {
		lws_cancel_service(g.ctx);
		g.stopping = 2;
		return;
	}
	lws_sul_schedule(g.ctx, 0, &g.sul_tick, tick_cb, TICK_US);
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ingest -x EXCHANGE[:SYMBOL,...] [-x ...] [OPTIONS] > envelope.ndjson\n"
		"Connects to exchanges' public WebSocket feeds and writes one envelope line per frame.\n\n"
		"  -x, --exchange EX[:SYMS]  an exchange and its BASE-QUOTE symbols (default symbols\n"
		"                            when none are given); repeat for more exchanges\n"
		"  -c, --channels LIST       trade,ticker,book (default all three); book:full keeps the\n"
		"                            whole book from deltas and a REST snapshot (Binance)\n"
		"  -u, --url EX=URL          connect EX to URL instead of its public endpoint\n"
		"      --ca FILE             trust the CA certificates in FILE for wss://\n"
		"  -r, --run-dir DIR         role, pid, metrics and ingest.sock live in DIR\n"
		"                            (default: $RUN_DIR; none when unset: always leader)\n"
		"      --max-frame BYTES     a longer message closes its connection (default 1048576)\n"
		"  -b, --buffer BYTES        output buffer; full means lines are dropped (default 4194304)\n"
		"      --idle-timeout MS     reconnect after MS without a complete message, or when one\n"
		"                            takes longer (default per exchange)\n"
		"      --keepalive MS        send the exchange's keep-alive every MS (default per exchange)\n"
		"  -n, --check               validate the options and exit\n"
		"  -h, --help                this text\n"
		"  -V, --version             the version\n\n"
		"Exchanges:");
	for (const struct xch *const *x = xch_all; *x; x++)
		fprintf(f, " %s", (*x)->name);
	fprintf(f, "\nSignals: USR1 leader (connect), USR2 follower (disconnect), HUP reconnect,\n"
		   "TERM/INT stop. Control socket commands: status, resync EX SYMBOL, reconnect EX.\n"
		   EXITCODE_HELP);
}

static int add_symbols(struct conn *c, const char *list)
{
	char buf[8192];
	snprintf(buf, sizeof buf, "%s", list);
	for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
		if (c->sub.nsym == XCH_MAX_SYMBOLS) {
			fprintf(stderr, "ingest: --exchange: at most %d symbols per exchange\n", XCH_MAX_SYMBOLS);
			return -1;
		}
		if (sym_split_sep(tok, strlen(tok), '-', 0, c->sub.sym[c->sub.nsym]) < 0) {
			fprintf(stderr, "ingest: --exchange: \"%s\": symbols are BASE-QUOTE, such as BTC-USDT\n", tok);
			return -1;
		}
		c->sub.nsym++;
	}
	return 0;
}

static int parse_opts(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "buffer", required_argument, NULL, 'b' },
		{ "ca", required_argument, NULL, 'A' },
		{ "channels", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "exchange", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "keepalive", required_argument, NULL, 'K' },
		{ "max-frame", required_argument, NULL, 'M' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "url", required_argument, NULL, 'u' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *urls[MAX_EXCHANGES][2];
	char err[256], name[32];
	int nurls = 0, c;
	long long v;
	struct opts *o = &g.o;
	o->run_dir = getenv("RUN_DIR");
	o->channels = XCH_ALL_CHANNELS;
	o->max_frame = 1 << 20;
	o->out_buffer = 4 << 20;
	while ((c = getopt_long(argc, argv, "b:c:hnr:u:Vx:", longopts, NULL)) != -1) {
		switch (c) {
		case 'A':
			o->ca = optarg;
			break;
		case 'b':
			if (opt_long(optarg, 65536, 1L << 30, &v, err, sizeof err))
				goto bad;
			o->out_buffer = (size_t)v;
			break;
		case 'c':
			if ((o->channels = xch_parse_channels(optarg)) < 0) {
				fprintf(stderr, "ingest: --channels: \"%s\" is not a list of trade, ticker, book\n", optarg);
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case 'I':
			if (opt_long(optarg, 100, 3600000, &v, err, sizeof err))
				goto bad;
			o->idle_timeout_ms = (int)v;
			break;
		case 'K':
			if (opt_long(optarg, 100, 3600000, &v, err, sizeof err))
				goto bad;
			o->keepalive_ms = (int)v;
			break;
		case 'M':
			if (opt_long(optarg, 1024, 64L << 20, &v, err, sizeof err))
				goto bad;
			o->max_frame = (size_t)v;
			break;
		case 'n':
			o->check = 1;
			break;
		case 'r':
			o->run_dir = optarg;
			break;
		case 'u': {
			const char *eq = strchr(optarg, '=');
			if (!eq || nurls == MAX_EXCHANGES) {
				fprintf(stderr, "ingest: --url takes EXCHANGE=URL (%d at most)\n", MAX_EXCHANGES);
				return -1;
			}
			urls[nurls][0] = optarg;
			urls[nurls++][1] = eq + 1;
			break;
		}
		case 'V':
			printf("ingest %s\n", VERSION);
			exit(EXIT_OK);
		case 'x': {
			size_t n = strcspn(optarg, ":");
			const struct xch *x = xch_find(optarg, n);
			if (!x) {
				fprintf(stderr, "ingest: --exchange: unknown exchange \"%.*s\" (one of", (int)n, optarg);
				for (const struct xch *const *e = xch_all; *e; e++)
					fprintf(stderr, " %s", (*e)->name);
				fprintf(stderr, ")\n");
				return -1;
			}
			for (int i = 0; i < g.nconns; i++)
				if (g.conns[i].x == x) {
					fprintf(stderr, "ingest: --exchange: %s is listed twice\n", x->name);
					return -1;
				}
			if (g.nconns == MAX_EXCHANGES) {
				fprintf(stderr, "ingest: --exchange: %d exchanges at most\n", MAX_EXCHANGES);
				return -1;
			}
			struct conn *cn = &g.conns[g.nconns++];
			cn->x = x;
			if (add_symbols(cn, optarg[n] ? optarg + n + 1 : x->default_symbols))
				return -1;
			break;
		}
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ingest: unexpected argument %s\n", argv[optind]);
		return -1;
	}
	if (!g.nconns) {
		fprintf(stderr, "ingest: name at least one exchange with -x (try --help)\n");
		return -1;
	}
	if (o->run_dir && !*o->run_dir)
		o->run_dir = NULL;
	for (int i = 0; i < g.nconns; i++) {
		struct conn *cn = &g.conns[i];
		const char *base = cn->x->default_url;
		for (int u = 0; u < nurls; u++)
			if (strlen(cn->x->name) == (size_t)(urls[u][1] - 1 - urls[u][0]) &&
			    !strncmp(urls[u][0], cn->x->name, strlen(cn->x->name)))
				base = urls[u][1];
		cn->sub.channels = o->channels;
		snprintf(cn->base, sizeof cn->base, "%s", base);
		if (cn->x->proto.url(&cn->sub, base, cn->url, sizeof cn->url, err, sizeof err)) {
			fprintf(stderr, "ingest: %s: %s\n", cn->x->name, err);
			return -1;
		}
		if (strncmp(cn->url, "ws://", 5) && strncmp(cn->url, "wss://", 6)) {
			fprintf(stderr, "ingest: --url %s: the URL must start with ws:// or wss://\n", cn->x->name);
			return -1;
		}
	}
	for (int u = 0; u < nurls; u++) {
		int found = 0;
		for (int i = 0; i < g.nconns; i++)
			found |= strlen(g.conns[i].x->name) == (size_t)(urls[u][1] - 1 - urls[u][0]) &&
				 !strncmp(urls[u][0], g.conns[i].x->name, strlen(g.conns[i].x->name));
		if (!found) {
			fprintf(stderr, "ingest: --url %s names no exchange given with -x\n", urls[u][0]);
			return -1;
		}
	}
	return 0;
bad:
	fprintf(stderr, "ingest: %s: %s\n", opt_name(longopts, c, name, sizeof name), err);
	return -1;
}

/* ---- set-up and the loop ---- */

/* The --ca file must be one OpenSSL reads certificates from (PEM), as the TLS set-up will:
 * checked before anything starts, so that a wrong path is a configuration error, not a
 * connection that fails on every retry. */
static int check_ca(const char *path, char *err, size_t errlen)
{
	struct stat st;
	FILE *f = fopen(path, "r");
	if (!f || fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s", f ? "not a regular file" : strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	ERR_clear_error();
	STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read(f, NULL, NULL, NULL);
	int certs = 0;
	for (int i = 0; infos && i < sk_X509_INFO_num(infos); i++)
		certs += sk_X509_INFO_value(infos, i)->x509 != NULL;
	unsigned long e = ERR_peek_last_error();
	fclose(f);
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (!infos || !certs) {
		if (!infos && e)
			snprintf(err, errlen, "not a PEM certificate file (%s)", ERR_reason_error_string(e));
		else
			snprintf(err, errlen, "holds no PEM certificate");
		ERR_clear_error();
		return -1;
	}
	return 0;
}

static int setup_metrics(void)
{
	char lab[96];
	g.reg = met_new();
	if (!g.reg)
		return -1;
	for (int i = 0; i < g.nconns; i++) {
		struct conn *c = &g.conns[i];
		snprintf(lab, sizeof lab, "exchange=\"%s\"", c->x->name);
		c->m_frames = met_add(g.reg, MET_COUNTER, MN_INGEST_FRAMES,
				      "Frames received from the exchange.", lab);
		c->m_bytes = met_add(g.reg, MET_COUNTER, "exchange_ingest_bytes_total",
				     "Bytes of frames received from the exchange.", lab);
		c->m_connected = met_add(g.reg, MET_GAUGE, MN_INGEST_CONNECTED,
					 "1 while the exchange connection is open.", lab);
		c->m_reconnects = met_add(g.reg, MET_COUNTER, MN_INGEST_RECONNECTS,
					  "Connections lost or attempts failed that were retried.", lab);
		c->m_dropped = met_add(g.reg, MET_COUNTER, MN_INGEST_DROPPED,
				       "Lines dropped because stdout was full.", lab);
		c->m_age = met_add(g.reg, MET_GAUGE, MN_INGEST_FRAME_AGE,
				   "Seconds since the last frame (-1: none on this connection).", lab);
		c->m_invalid = met_add(g.reg, MET_COUNTER, "exchange_ingest_invalid_frames_total",
				       "Frames skipped because they were not JSON.", lab);
		c->m_oversize = met_add(g.reg, MET_COUNTER, "exchange_ingest_oversize_frames_total",
					"Messages that passed --max-frame; each closed its connection.", lab);
		c->m_heartbeats = met_add(g.reg, MET_COUNTER, "exchange_ingest_heartbeats_total",
					  "Keep-alive answers received (not forwarded).", lab);
		c->m_rest_ok = met_add(g.reg, MET_COUNTER, "exchange_ingest_snapshots_total",
				       "REST order book snapshots fetched.", lab);
		c->m_rest_failed = met_add(g.reg, MET_COUNTER, "exchange_ingest_snapshot_failures_total",
					   "REST order book snapshots that failed.", lab);
		if (!c->m_rest_ok || !c->m_rest_failed || !c->m_frames || !c->m_bytes || !c->m_connected || !c->m_reconnects || !c->m_dropped ||
		    !c->m_age || !c->m_invalid || !c->m_oversize || !c->m_heartbeats)
			return -1;
		for (int f = 0; f < F_NONE; f++) {
			char fl[128];
			snprintf(fl, sizeof fl, "exchange=\"%s\",reason=\"%s\"", c->x->name, fail_names[f]);
			c->m_fail[f] = met_add(g.reg, MET_COUNTER, "exchange_ingest_connect_failures_total",
					       "Connection attempts that failed, by reason.", fl);
			if (!c->m_fail[f])
				return -1;
		}
	}
	g.m_active = met_add(g.reg, MET_GAUGE, "exchange_ingest_active",
			     "1 while ingest holds the leader role and connects to exchanges.", NULL);
	g.m_rss = met_add(g.reg, MET_GAUGE, MN_RSS,
			  "Resident memory of each tool's process.", "tool=\"ingest\"");
	return g.m_active && g.m_rss ? 0 : -1;
}

static const struct lws_extension extensions[] = {
	{ "permessage-deflate", lws_extension_callback_pm_deflate,
	  "permessage-deflate; client_max_window_bits" },
	{ NULL, NULL, NULL },
};

int main(int argc, char **argv)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, 0 };
	static const struct lws_protocols protocols[] = {
		{ "exchange", cb_exchange, 0, 65536, 0, NULL, 0 },
		{ "rest", cb_rest, 0, 16384, 0, NULL, 0 },
		{ "raw", cb_raw, 0, 0, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	struct lws_context_creation_info info;
	char err[256];

	if (parse_opts(argc, argv))
		return EXIT_USAGE;
	if (g.o.ca && check_ca(g.o.ca, err, sizeof err)) {
		fprintf(stderr, "ingest: --ca %s: %s\n", g.o.ca, err);
		return EXIT_USAGE;
	}
	log_init("ingest");
	if (g.o.check)
		return EXIT_OK;
	if (g.o.run_dir && rundir_ensure(g.o.run_dir, err, sizeof err)) {
		log_error("cannot use the run directory", " error=\"%s\"", err);
		return EXIT_USAGE;
	}
	g.sigfd = sig_init(signals, err, sizeof err);
	if (g.sigfd < 0 || setup_metrics() || oq_init(&g.out, STDOUT_FILENO, g.o.out_buffer)) {
		log_error("cannot start", " error=\"%s\"", g.sigfd < 0 ? err : "out of memory");
		return EXIT_RUNTIME;
	}
	fd_nonblock(STDOUT_FILENO);
	fd_grow_pipe(STDOUT_FILENO);
	size_t biggest = g.o.max_frame;
	for (int i = 0; i < g.nconns; i++)
		if (frame_limit(&g.conns[i]) > biggest)
			biggest = frame_limit(&g.conns[i]);
	jw_init(&g.env, biggest + 4096);
	/* The queue must hold the biggest line at least twice, or such a line could never pass. */
	if (g.out.cap < 2 * (biggest + 4096)) {
		oq_free(&g.out);
		if (oq_init(&g.out, STDOUT_FILENO, 2 * (biggest + 4096))) {
			log_error("out of memory", NULL);
			return EXIT_RUNTIME;
		}
	}
	js_init(&g.doc, 0);

	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.extensions = extensions;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = g.o.ca;
	info.timeout_secs = LWS_TIMEOUT_SECS;
	info.connect_timeout_secs = LWS_TIMEOUT_SECS;
	g.ctx = lws_create_context(&info);
	if (!g.ctx) {
		log_error("cannot create the WebSocket context", NULL);
		return EXIT_RUNTIME;
	}
	g.vh = lws_get_vhost_by_name(g.ctx, "default");
	g.out_wsi = loop_adopt_output(g.vh, STDOUT_FILENO, "raw", &kinds[RAW_STDOUT]);
	if (!g.vh || !g.out_wsi || !loop_adopt(g.vh, g.sigfd, "raw", &kinds[RAW_SIGNALS])) {
		log_error("cannot watch stdout and signals", NULL);
		lws_context_destroy(g.ctx);
		return EXIT_RUNTIME;
	}
	g.ctlfd = -1;
	if (g.o.run_dir) {
		char path[4096];
		if (rundir_path(g.o.run_dir, "ingest.sock", path, sizeof path) ||
		    (g.ctlfd = rundir_listen_unix(path, &g.ctl_file, err, sizeof err)) < 0 ||
		    !loop_adopt(g.vh, g.ctlfd, "raw", &kinds[RAW_CTL_LISTEN])) {
			/* Another ingest on this run directory: two would feed one node twice. */
			int taken = g.ctlfd < 0 && errno == EADDRINUSE;
			char other[32] = "unknown";
			if (taken)
				rundir_read(g.o.run_dir, "ingest.pid", other, sizeof other);
			log_error(taken ? "another ingest runs on this run directory" : "cannot open the control socket",
				  " error=\"%s\" pid=%s", err, taken ? other : "-");
			lws_context_destroy(g.ctx);
			return taken ? EXIT_USAGE : EXIT_RUNTIME;
		}
		rundir_write_pid(g.o.run_dir, "ingest", err, sizeof err);
	}

	g.role = g.o.run_dir ? rundir_role(g.o.run_dir) : ROLE_LEADER;
	g.m_active->v = role_ingests(g.role);
	log_info("started", " role=%s exchanges=%d", role_name(g.role), g.nconns);
	if (role_ingests(g.role))
		for (int i = 0; i < g.nconns; i++)
			conn_event(&g.conns[i], EV_START);
	lws_sul_schedule(g.ctx, 0, &g.sul_tick, tick_cb, TICK_US);

	while (g.stopping < 2) {
		if (lws_service(g.ctx, 0) < 0)
			break;
		out_flush();
	}

	/* Give the reader what is still queued, briefly: shutdown must not hang on it. */
	oq_drain(&g.out, 500); /* the loop already waited for the reader */
	write_metrics();
	for (int i = 0; i < g.nconns; i++)
		lws_sul_cancel(&g.conns[i].sul_retry);
	lws_sul_cancel(&g.sul_tick);
	lws_context_destroy(g.ctx);
	if (g.o.run_dir) {
		char path[4096];
		if (g.ctlfd >= 0 && !rundir_path(g.o.run_dir, "ingest.sock", path, sizeof path))
			rundir_remove_unix(path, &g.ctl_file);
		rundir_remove_pid(g.o.run_dir, "ingest");
	}
	for (int i = 0; i < g.nconns; i++)
		free(g.conns[i].rx);
	met_free(g.reg);
	jw_free(&g.env);
	js_free(&g.doc);
	oq_free(&g.out);
	log_info("stopped", NULL);
	return g.exit_code;
}
