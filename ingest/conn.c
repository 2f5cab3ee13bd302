/* conn.c: an exchange connection: its state machine, its messages in and out. */
#include "conn.h"

#include "clock.h"
#include "json.h"
#include "metnames.h"
#include "rest.h"

#include <netdb.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_OUT_MSG 65536
/* Consecutive failed attempts to an endpoint off this machine before the hint at make demo. */
#define OFFLINE_HINT_AFTER 3
/* The least pause after a symbol's resync messages, whatever the exchange's own pace. */
#define RESYNC_GAP_US 200000
/* A receive buffer grown past this for one big message is not kept for the connection's life. */
#define RX_KEEP_MAX (1 << 20)
#define RX_FIRST_CAP 65536
/* Metadata requests of a connection start at least this far apart: OKX, the strictest,
 * answers 20 instrument requests per 2 s. */
#define META_GAP_US 110000
/* The subscription waits for the metadata at most this long (OKX closes a connection that
 * subscribed nothing within 30 s); answers still on their way then are read when they come. */
#define META_WAIT_US (15 * LWS_US_PER_SEC)

static struct lws_context *conn_ctx;
static struct lws_vhost *conn_vh;
static struct conn_limits lim;
static struct js_doc doc;            /* checks that a frame is JSON before it goes out */
static struct log_limit rl_invalid;  /* "not JSON", over every connection */
static int offline_hinted;           /* the make demo hint is given once per process */

static const uint32_t backoff_ms[] = { 500, 1000, 2000, 4000, 8000, 15000, 30000 };
static const lws_retry_bo_t retry_policy = {
	.retry_ms_table = backoff_ms,
	.retry_ms_table_count = sizeof backoff_ms / sizeof backoff_ms[0],
	.conceal_count = LWS_RETRY_CONCEAL_ALWAYS,
	.jitter_percent = 20,
};

static const char *const state_names[CONN_NSTATES] = {
	"idle", "connecting", "open", "backoff", "closing", "stopping",
};
static const char *const fail_names[CONN_F_NONE] = {
	"dns", "refused", "tls", "http", "handshake", "timeout", "closed", "other",
};

/* ---- the state machine ---- */

/* What each event means when it ends a connection: the reason the log and the event line
 * give (unless whoever raised it says more), the failure it makes of an attempt that had not
 * opened (CLOSED's comes from lws), and whether the next attempt skips the back-off. */
static const struct ev_info {
	const char *name;
	const char *why;
	enum conn_fail fails_as;
	int at_once;
} ev_info[CONN_NEVENTS] = {
	[CONN_EV_START] = { "start", NULL, CONN_F_NONE, 0 },
	[CONN_EV_STOP] = { "stop", "stopped", CONN_F_NONE, 0 },
	[CONN_EV_RECONNECT] = { "reconnect", "reconnect requested", CONN_F_NONE, 1 },
	[CONN_EV_RETRY] = { "retry", NULL, CONN_F_NONE, 0 },
	[CONN_EV_CONNECTED] = { "connected", NULL, CONN_F_NONE, 0 },
	[CONN_EV_CLOSED] = { "closed", "connection closed", CONN_F_CLOSED, 0 },
	[CONN_EV_ANNOUNCED] = { "announced", "server shutdown announced", CONN_F_NONE, 1 },
	[CONN_EV_RESYNC] = { "resync", "resync", CONN_F_NONE, 1 },
	[CONN_EV_TOO_LARGE] = { "too-large", "message too large", CONN_F_NONE, 0 },
	[CONN_EV_CONNECT_TIMEOUT] = { "connect-timeout", "connect timeout", CONN_F_TIMEOUT, 0 },
	[CONN_EV_SILENT] = { "silent", "idle timeout", CONN_F_NONE, 0 },
	[CONN_EV_SLOW_MESSAGE] = { "slow-message", "idle timeout", CONN_F_NONE, 0 },
	[CONN_EV_AGE_LIMIT] = { "age-limit", "connection age limit", CONN_F_NONE, 1 },
};

/* One event as dispatched: which, the failure it means and why, in words. */
struct ev_arg {
	enum conn_ev ev;
	enum conn_fail fail;
	const char *why;
};

typedef void conn_action(struct conn *c, const struct ev_arg *a);
static conn_action act_connect, act_opened, act_end, act_end_too_large, act_hurry,
	act_retry_later, act_report_end, act_cancel_retry, act_nothing;

struct step {
	enum conn_state to;
	conn_action *act;
};
#define GO(state, action) { CONN_##state, action }

/* Every transition of a connection is a cell here: the state it goes to and what is done on
 * the way. An event with no cell in a state is ignored there. Only START makes an idle
 * connection wanted: the role decides, so a follower's or a stopping ingest's stays idle
 * whoever asks for a reconnect. Whatever ends a connection from our side goes to CLOSING (or
 * STOPPING), and only lws's report of the end (CLOSED) leaves those: the end of a connection is
 * reported once, whichever way it came. */
static const struct step table[CONN_NSTATES][CONN_NEVENTS] = {
	[CONN_IDLE] = {
		[CONN_EV_START]           = GO(CONNECTING, act_connect),
	},
	[CONN_CONNECTING] = {
		[CONN_EV_CONNECTED]       = GO(OPEN, act_opened),
		[CONN_EV_CLOSED]          = GO(BACKOFF, act_retry_later),
		[CONN_EV_STOP]            = GO(STOPPING, act_end),
		[CONN_EV_RECONNECT]       = GO(CLOSING, act_end),
		[CONN_EV_CONNECT_TIMEOUT] = GO(CLOSING, act_end),
	},
	[CONN_OPEN] = {
		[CONN_EV_CLOSED]          = GO(BACKOFF, act_retry_later),
		[CONN_EV_STOP]            = GO(STOPPING, act_end),
		[CONN_EV_RECONNECT]       = GO(CLOSING, act_end),
		[CONN_EV_ANNOUNCED]       = GO(CLOSING, act_end),
		[CONN_EV_RESYNC]          = GO(CLOSING, act_end),
		[CONN_EV_TOO_LARGE]       = GO(CLOSING, act_end_too_large),
		[CONN_EV_SILENT]          = GO(CLOSING, act_end),
		[CONN_EV_SLOW_MESSAGE]    = GO(CLOSING, act_end),
		[CONN_EV_AGE_LIMIT]       = GO(CLOSING, act_end),
	},
	[CONN_BACKOFF] = {
		[CONN_EV_RETRY]           = GO(CONNECTING, act_connect),
		[CONN_EV_START]           = GO(CONNECTING, act_connect),
		[CONN_EV_RECONNECT]       = GO(CONNECTING, act_connect),
		[CONN_EV_STOP]            = GO(IDLE, act_cancel_retry),
	},
	[CONN_CLOSING] = {
		[CONN_EV_CLOSED]          = GO(BACKOFF, act_retry_later),
		[CONN_EV_STOP]            = GO(STOPPING, act_nothing),
		[CONN_EV_RECONNECT]       = GO(CLOSING, act_hurry),
		[CONN_EV_ANNOUNCED]       = GO(CLOSING, act_hurry),
	},
	[CONN_STOPPING] = {
		[CONN_EV_CLOSED]          = GO(IDLE, act_report_end),
		[CONN_EV_START]           = GO(CLOSING, act_nothing),
	},
};

/* The one dispatch. The state is entered before the action runs, and nothing follows the
 * action: an action may raise an event itself (an attempt that cannot even start ends at
 * once, from inside act_connect), and that event finds the state it expects. WHY may be
 * NULL (the event's own reason); FAIL counts only for CLOSED. Returns 0, or -1 when the
 * state ignores the event. */
static int dispatch(struct conn *c, enum conn_ev ev, enum conn_fail fail, const char *why)
{
	const struct step *s = &table[c->state][ev];
	struct ev_arg a = {
		.ev = ev,
		.fail = ev == CONN_EV_CLOSED ? fail : ev_info[ev].fails_as,
		.why = why ? why : ev_info[ev].why,
	};
	if (!s->act) {
		log_debug("event ignored", " exchange=%s state=%s event=%s", c->x->name,
			  state_names[c->state], ev_info[ev].name);
		return -1;
	}
	if (c->state != s->to) {
		log_debug("state", " exchange=%s event=%s from=%s to=%s", c->x->name, ev_info[ev].name,
			  state_names[c->state], state_names[s->to]);
		c->state = s->to;
		c->state_since = clk_mono_us();
	}
	s->act(c, &a);
	return 0;
}

int conn_event(struct conn *c, enum conn_ev ev)
{
	return dispatch(c, ev, CONN_F_NONE, NULL);
}

/* ---- the actions ---- */

static void start_connect(struct conn *c);
static void ended(struct conn *c, enum conn_fail f, const char *why);

static void lookup_abandon(struct conn *c)
{
	lookup_cancel(&c->lk);
	lws_sul_cancel(&c->sul_lookup);
	c->resolving = 0;
}

static void retry_cb(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_retry);
	dispatch(c, CONN_EV_RETRY, CONN_F_NONE, NULL);
}

static void act_connect(struct conn *c, const struct ev_arg *a)
{
	lws_sul_cancel(&c->sul_retry); /* a retry due later is this one */
	start_connect(c);
}

static void meta_begin(struct conn *c, int gate);

static void act_opened(struct conn *c, const struct ev_arg *a)
{
	c->opened = 1;
	c->fails = 0;
	c->last_rx = c->last_tx = c->last_keepalive = clk_mono_us();
	log_info("connected", " exchange=%s", c->x->name);
	out_event(&c->src, "connected", c->url);
	meta_begin(c, 1);
	lws_callback_on_writable(c->wsi);
}

/* Ends the connection from our side; lws reports its end (CLOSED) later. The first reason
 * given is the one reported, and the first failure meant: a timeout that ends an attempt
 * fails it, a stop or a reconnect asked for does not. */
static void act_end(struct conn *c, const struct ev_arg *a)
{
	if (a->why && !c->close_reason[0])
		snprintf(c->close_reason, sizeof c->close_reason, "%s", a->why);
	if (!c->killed) {
		c->killed = 1;
		c->kill_fail = a->fail;
	}
	if (ev_info[a->ev].at_once)
		c->reconnect_now = 1;
	if (c->resolving) {
		/* Still looking the host up: no connection to close, the attempt ends here. */
		lookup_abandon(c);
		ended(c, CONN_F_NONE, a->why);
		return;
	}
	if (c->attempt && c->wsi)
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* A message passed the limit: the connection ends here with close code 1009, whatever the
 * exchange announced or keeps sending. (The end is asynchronous: returning -1 from a
 * client's RECEIVE after lws_close_reason() makes lws 4.1 free memory twice.) */
static void act_end_too_large(struct conn *c, const struct ev_arg *a)
{
	static const char why[] = "message too big";
	if (c->wsi)
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why,
				 sizeof why - 1);
	act_end(c, a);
}

/* Already closing: the next attempt skips the back-off. */
static void act_hurry(struct conn *c, const struct ev_arg *a)
{
	c->reconnect_now = 1;
}

static void act_cancel_retry(struct conn *c, const struct ev_arg *a)
{
	lws_sul_cancel(&c->sul_retry);
}

static void act_nothing(struct conn *c, const struct ev_arg *a)
{
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
static void attempt_failed(struct conn *c, enum conn_fail f, const char *detail)
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
	out_event(&c->src, "error", detail);
	if (c->fails >= OFFLINE_HINT_AFTER && !endpoint_local(c) && !offline_hinted) {
		offline_hinted = 1;
		log_warn("exchange out of reach; without internet, make demo runs the same pipeline "
			 "on a fake exchange that replays recordings",
			 " exchange=%s host=%s attempts=%u", c->x->name, c->host, c->fails);
	}
}

/* The end of a connection, said once: disconnected (it had opened), a failed attempt, or
 * an attempt given up on purpose. Our own reason for ending it comes first. */
static void act_report_end(struct conn *c, const struct ev_arg *a)
{
	char detail[640];
	enum conn_fail f = c->killed ? c->kill_fail : a->fail;
	snprintf(detail, sizeof detail, "%s", c->close_reason[0] ? c->close_reason : a->why);
	if (c->opened) {
		log_info("disconnected", " exchange=%s reason=\"%s\"", c->x->name, detail);
		out_event(&c->src, "disconnected", detail);
	} else if (f != CONN_F_NONE) {
		attempt_failed(c, f, detail);
	} else {
		/* Stopped or replaced on purpose before it opened: no failure. */
		log_info("connection abandoned", " exchange=%s reason=\"%s\"", c->x->name, detail);
		out_event(&c->src, "disconnected", detail);
	}
}

/* Reported, counted as a reconnect (failed attempts too), and the next attempt scheduled
 * after the back-off, or at once when that was asked for. */
static void act_retry_later(struct conn *c, const struct ev_arg *a)
{
	unsigned ms = 0;
	char conceal;
	act_report_end(c, a);
	c->m_reconnects->v++;
	if (!c->reconnect_now)
		ms = lws_retry_get_delay_ms(conn_ctx, &retry_policy, &c->retries, &conceal);
	c->reconnect_now = 0;
	if (ms)
		log_info("reconnecting", " exchange=%s in_ms=%u attempt=%u", c->x->name, ms, c->retries);
	lws_sul_schedule(conn_ctx, 0, &c->sul_retry, retry_cb, (lws_usec_t)ms * LWS_US_PER_MS);
}

/* ---- making a connection, and its end ---- */

/* lws reported the end of the connection (the first of CONNECTION_ERROR, CLIENT_CLOSED and
 * WSI_DESTROY), or it could not start: F and WHY are its cause as lws gave it. */
static void ended(struct conn *c, enum conn_fail f, const char *why)
{
	c->attempt = 0;
	c->last_rx = 0;
	c->msg_since = 0;
	c->rx_len = 0;
	dispatch(c, CONN_EV_CLOSED, f, why);
}

/* lws could not even start a connection to the address looked up. */
static void start_failed(struct conn *c, const char *addr)
{
	char detail[sizeof c->host + 128];
	snprintf(detail, sizeof detail, "cannot start a connection to %s:%d (%s)", c->host, c->port, addr);
	ended(c, CONN_F_OTHER, detail);
}

static void connect_to(struct conn *c, const char *num);
static void lookup_cb(lws_sorted_usec_list_t *sul);

/* The host's address, looked up off the loop: the attempt goes on when it is known. */
static void lookup_step(struct conn *c)
{
	char num[64], err[sizeof c->host + 128];
	int got = lookup_addr(&c->lk, c->host, num, sizeof num, err, sizeof err);
	if (got == 0) {
		if (lookup_slow(&c->lk)) {
			c->m_slow_lookups->v++;
			log_warn("looking the exchange's host up is slow; the other connections go on",
				 " exchange=%s host=%s waited_ms=%lld", c->x->name, c->host,
				 (long long)(lookup_elapsed(&c->lk) / 1000));
		}
		lws_sul_schedule(conn_ctx, 0, &c->sul_lookup, lookup_cb, LOOKUP_POLL_US);
		return;
	}
	c->resolving = 0;
	if (got < 0)
		ended(c, CONN_F_DNS, err);
	else
		connect_to(c, num);
}

static void lookup_cb(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_lookup);
	if (c->resolving)
		lookup_step(c);
}

/* Starts a connection attempt; its end, whether now or later, comes back through ended()
 * and CLOSED, like that of any connection. The host is looked up first (off the loop). */
static void start_connect(struct conn *c)
{
	char buf[sizeof c->url];
	const char *prot, *addr, *path;
	int port;

	c->rx_len = 0;
	c->msg_since = 0;
	c->rx_discard = 0;
	c->opened = 0;
	c->killed = 0;
	c->kill_fail = CONN_F_NONE;
	c->close_reason[0] = 0;
	memcpy(buf, c->url, sizeof buf);
	if (lws_parse_uri(buf, &prot, &addr, &port, &path)) {
		log_error("bad URL", " exchange=%s url=%s", c->x->name, c->url);
		ended(c, CONN_F_OTHER, "bad URL");
		return;
	}
	snprintf(c->host, sizeof c->host, "%s", addr);
	c->port = port;
	/* While attempts fail, each one's warning says enough. */
	if (c->fails)
		log_debug("connecting", " exchange=%s url=%s", c->x->name, c->url);
	else
		log_info("connecting", " exchange=%s url=%s", c->x->name, c->url);
	c->resolving = 1;
	lookup_step(c);
}

/* Hands the attempt to lws, to the numeric address NUM; the name stays in Host and in TLS's
 * SNI and certificate check. */
static void connect_to(struct conn *c, const char *num)
{
	char buf[sizeof c->url];
	const char *prot, *addr, *path;
	char fullpath[sizeof c->url + 1];
	int port;
	struct lws_client_connect_info i;

	memcpy(buf, c->url, sizeof buf);
	if (lws_parse_uri(buf, &prot, &addr, &port, &path)) { /* parsed once already */
		ended(c, CONN_F_OTHER, "bad URL");
		return;
	}
	c->attempt = 1;
	snprintf(fullpath, sizeof fullpath, "/%s", path);
	memset(&i, 0, sizeof i);
	i.context = conn_ctx;
	i.vhost = conn_vh;
	i.address = num;
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
	if (!lws_client_connect_via_info(&i)) {
		c->wsi = NULL;
		/* lws may have reported the failure already, from inside the call. */
		if (c->attempt)
			start_failed(c, num);
	}
}

/* The cause of a connection error as lws words it (4.1), sorted by reason, in DETAIL. */
static enum conn_fail classify(struct conn *c, struct lws *wsi, const char *msg, char *detail,
			       size_t n)
{
	if (!strcmp(msg, "Unable to connect")) {
		snprintf(detail, n, "cannot connect to %s:%d: refused or unreachable", c->host, c->port);
		return CONN_F_REFUSED;
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
		return CONN_F_TLS;
	}
	if (!strncmp(msg, "HS:", 3)) {
		unsigned status = lws_http_client_http_response(wsi);
		if (status && status != 101) {
			snprintf(detail, n, "%s:%d answered the WebSocket upgrade with HTTP %u", c->host,
				 c->port, status);
			return CONN_F_HTTP;
		}
		snprintf(detail, n, "WebSocket handshake with %s:%d failed: %s", c->host, c->port, msg + 3);
		return CONN_F_HANDSHAKE;
	}
	if (strstr(msg, "read failed") || strstr(msg, "closed")) {
		snprintf(detail, n, "%s:%d closed the connection before the WebSocket upgrade completed (%s)",
			 c->host, c->port, msg);
		return CONN_F_CLOSED;
	}
	if (strstr(msg, "timeout") || strstr(msg, "timed out")) {
		snprintf(detail, n, "%s:%d: %s", c->host, c->port, msg);
		return CONN_F_TIMEOUT;
	}
	snprintf(detail, n, "%s:%d: %s", c->host, c->port, msg);
	return CONN_F_OTHER;
}

/* ---- receiving: one complete message from an exchange ---- */

size_t conn_frame_limit(const struct conn *c)
{
	return c->x->proto.max_frame > lim.max_frame ? c->x->proto.max_frame : lim.max_frame;
}

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
		dispatch(c, CONN_EV_ANNOUNCED, CONN_F_NONE, NULL);
		return;
	case XCH_FORWARD:
		break;
	}
	enum js_err e = js_parse(&doc, c->rx, c->rx_len);
	if (e != JS_OK) {
		c->m_invalid->v++;
		long sup = log_allow(&rl_invalid, clk_mono_us());
		if (sup >= 0) {
			char detail[160];
			log_warn("frame is not JSON, skipped",
				 " exchange=%s bytes=%zu error=\"%s\" frame=%s suppressed=%ld", c->x->name,
				 c->rx_len, js_strerror(e),
				 log_quote(q, sizeof q, c->rx, c->rx_len > 60 ? 60 : c->rx_len), sup);
			snprintf(detail, sizeof detail, "frame of %zu bytes is not JSON (%s)", c->rx_len,
				 js_strerror(e));
			out_event(&c->src, "error", detail);
		}
		return;
	}
	/* The first good frame proves the connection: the next failure starts the back-off
	 * from its first step. */
	c->retries = 0;
	out_frame(&c->src, c->rx, c->rx_len, now);
}

/* A message passed the limit: the rest of it is ignored, and the connection ends. */
static void too_large(struct conn *c, size_t have)
{
	char why[sizeof c->close_reason];
	c->rx_discard = 1;
	c->rx_len = 0;
	c->m_oversize->v++;
	log_warn("message larger than --max-frame, closing the connection",
		 " exchange=%s limit=%zu received=%zu", c->x->name, conn_frame_limit(c), have);
	snprintf(why, sizeof why, "message larger than %zu bytes (--max-frame), connection closed",
		 conn_frame_limit(c));
	dispatch(c, CONN_EV_TOO_LARGE, CONN_F_NONE, why);
}

/* A fragment of a message. Fragments do not count as life: only whole messages do (last_rx),
 * and one message may take no longer than the idle timeout (msg_since, see conn_tick).
 * Returns 0, or -1 when out of memory. */
static int receive(struct conn *c, struct lws *wsi, const void *in, size_t len)
{
	if (c->rx_discard)
		return 0;
	if (lws_is_first_fragment(wsi)) {
		c->rx_len = 0;
		c->msg_since = clk_mono_us();
	}
	if (c->rx_len + len > conn_frame_limit(c)) {
		too_large(c, c->rx_len + len);
		return 0;
	}
	if (c->rx_len + len > c->rx_cap) {
		size_t cap = c->rx_cap ? c->rx_cap : RX_FIRST_CAP;
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
		if (c->rx_cap > RX_KEEP_MAX) {
			free(c->rx);
			c->rx = NULL;
			c->rx_cap = 0;
		}
	}
	return 0;
}

/* ---- sending: one lws_write per WRITEABLE callback ---- */

/* Subscribe and resync messages respect the exchange's pace; keep-alives go any time. */
static int may_send(const struct conn *c, int64_t now)
{
	return now >= c->next_send;
}

/* The next subscribe message into MSG: its length, or 0 when none is due. */
static int next_subscribe(struct conn *c, int64_t now, char *msg)
{
	if (c->sub_next < 0 || c->meta_gate || !may_send(c, now))
		return 0;
	int n = c->x->proto.subscribe(&c->sub, &c->xc, c->sub_next, msg, MAX_OUT_MSG);
	if (n > 0) {
		c->sub_next++;
		log_debug("subscribe", " exchange=%s message=%.*s", c->x->name, n, msg);
		return n;
	}
	c->sub_next = -1;
	if (n < 0)
		log_error("subscription does not fit in a message", " exchange=%s", c->x->name);
	return 0;
}

/* The next resync message into MSG: its length, 0 when none is due, or -1 when this
 * exchange resyncs by reconnecting (the queue is emptied: a new connection brings every
 * book again). */
static int next_resync(struct conn *c, int64_t now, char *msg)
{
	int64_t gap = (int64_t)c->x->proto.sub_gap_ms * 1000;
	while (c->sub_next < 0 && c->resync_n && may_send(c, now)) {
		int n = c->x->proto.resync(&c->sub, &c->xc, c->resync_q[0], c->resync_msg, msg, MAX_OUT_MSG);
		if (n > 0) {
			if (c->resync_msg == 0)
				log_info("resubscribing", " exchange=%s symbol=%s", c->x->name, c->resync_q[0]);
			c->resync_msg++;
			return n;
		}
		if (n == 0 && c->resync_msg == 0) {
			log_info("resync by reconnecting", " exchange=%s symbol=%s", c->x->name, c->resync_q[0]);
			c->resync_n = 0;
			return -1;
		}
		if (n < 0)
			log_warn("resync message could not be built", " exchange=%s symbol=%s", c->x->name,
				 c->resync_q[0]);
		/* Done with this symbol (or its message did not fit). */
		c->resync_msg = 0;
		c->next_send = now + (gap > RESYNC_GAP_US ? gap : RESYNC_GAP_US);
		if (c->x->proto.resync_all) {
			c->resync_n = 0;
		} else {
			memmove(c->resync_q[0], c->resync_q[1], (size_t)(c->resync_n - 1) * SYM_MAX);
			c->resync_n--;
		}
	}
	return 0;
}

static int conn_write(struct conn *c)
{
	unsigned char buf[LWS_PRE + MAX_OUT_MSG];
	char *msg = (char *)buf + LWS_PRE;
	int64_t now = clk_mono_us();

	if (c->state != CONN_OPEN)
		return 0;
	int n = next_subscribe(c, now, msg);
	if (!n)
		n = next_resync(c, now, msg);
	if (n < 0) {
		dispatch(c, CONN_EV_RESYNC, CONN_F_NONE, NULL);
		return 0;
	}
	int paced = n > 0;
	if (!n && c->want_keepalive) {
		c->want_keepalive = 0;
		c->last_keepalive = now;
		if (c->x->proto.keepalive_text) {
			n = snprintf(msg, MAX_OUT_MSG, "%s", c->x->proto.keepalive_text);
		} else {
			if (lws_write(c->wsi, buf + LWS_PRE, 0, LWS_WRITE_PING) < 0)
				return -1;
			c->last_tx = now;
		}
	}
	if (n) {
		if (lws_write(c->wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n)
			return -1;
		c->last_tx = now;
		if (paced)
			c->next_send = now + (int64_t)c->x->proto.sub_gap_ms * 1000;
	}
	/* More to send now: ask again; paced messages wait for the tick (and the subscription
	 * for the metadata). */
	if (c->want_keepalive || ((c->sub_next >= 0 || c->resync_n) && !c->meta_gate && may_send(c, now)))
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* ---- what lws says of a connection ---- */

/* WSI is the connection of C whose end is still to be reported. */
static int live_attempt(const struct conn *c, const struct lws *wsi)
{
	return c && c->attempt && (!c->wsi || c->wsi == wsi);
}

int conn_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	struct conn *c = user;
	char msg[160], detail[sizeof msg + sizeof c->host + 128];

	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		dispatch(c, CONN_EV_CONNECTED, CONN_F_NONE, NULL);
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (live_attempt(c, wsi)) {
			snprintf(msg, sizeof msg, "%.*s", in ? (int)len : 0, in ? (const char *)in : "");
			enum conn_fail f = classify(c, wsi, msg[0] ? msg : "connection error", detail,
						    sizeof detail);
			ended(c, f, detail);
		}
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (live_attempt(c, wsi))
			ended(c, CONN_F_CLOSED, "connection closed");
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		/* Whatever lws reported before, the connection is gone now. Before the upgrade
		 * completes lws may end one (its timeout, or ours) with no report at all. */
		if (live_attempt(c, wsi)) {
			c->wsi = NULL;
			snprintf(detail, sizeof detail, c->opened ? "connection closed"
				 : "%s:%d closed the connection before the WebSocket upgrade completed",
				 c->host, c->port);
			ended(c, CONN_F_CLOSED, detail);
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
		return receive(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return conn_write(c);
	default:
		break;
	}
	return 0;
}

/* ---- instrument metadata ---- */

/* A metadata answer, before its line is written: what the talking half learns from it
 * (names of instruments) is used by the subscription that follows. */
static void meta_learn(void *owner, const char *tag, const char *body, size_t len)
{
	struct conn *c = owner;
	if (c->x->proto.learn && c->x->proto.learn(&c->sub, &c->xc, tag, body, len))
		log_warn("metadata answer not understood; the default names stay", " exchange=%s tag=%s",
			 c->x->name, tag);
}

/* The subscription goes once every request of the pass has ended, or once it waited long
 * enough. */
static void meta_release(struct conn *c, int64_t now)
{
	if (!c->meta_gate)
		return;
	int pending = rest_pending(c, c->meta_gen);
	if (c->meta_next >= 0 || pending) {
		if (now - c->meta_since < META_WAIT_US)
			return;
		log_warn("metadata incomplete; subscribing without waiting longer",
			 " exchange=%s waited_ms=%lld pending=%d", c->x->name,
			 (long long)((now - c->meta_since) / 1000), pending + (c->meta_next >= 0));
	}
	c->meta_gate = 0;
	if (c->wsi)
		lws_callback_on_writable(c->wsi);
}

static void meta_done(void *owner);
static void meta_pump(struct conn *c, int64_t now);

static void meta_timer_cb(lws_sorted_usec_list_t *sul)
{
	meta_pump(lws_container_of(sul, struct conn, sul_meta), clk_mono_us());
}

/* Starts the pass's next requests, as far as pacing and free REST slots allow (snapshots
 * share the slots and take precedence: one is always left for them). Pacing wakes it with
 * a timer, the end of a request with a call, and the tick looks in as well. */
static void meta_pump(struct conn *c, int64_t now)
{
	char url[1024], body[REST_MAX_POST], tag[128];
	if (c->state != CONN_OPEN)
		return;
	if (c->meta_next >= 0 && now < c->meta_next_at)
		lws_sul_schedule(conn_ctx, 0, &c->sul_meta, meta_timer_cb, c->meta_next_at - now);
	while (c->meta_next >= 0 && now >= c->meta_next_at && rest_free_slots() > 1) {
		int k = c->x->proto.meta(&c->sub, c->base, c->meta_next, url, sizeof url, body,
					 sizeof body, tag, sizeof tag);
		if (k == 0) {
			c->meta_next = -1;
			break;
		}
		if (k < 0) {
			log_error("metadata request does not fit; the rest of the pass is skipped",
				  " exchange=%s request=%d", c->x->name, c->meta_next);
			c->m_meta_failed->v++;
			out_event(&c->src, "error", "metadata request does not fit");
			c->meta_next = -1;
			break;
		}
		if (c->meta_next == 0 && !c->meta_gate)
			log_info("fetching metadata again", " exchange=%s", c->x->name);
		const struct rest_get g = {
			.src = &c->src, .what = "metadata", .url = url, .post = body, .tag = tag,
			.ok = c->m_meta_ok, .failed = c->m_meta_failed,
			.learn = meta_learn, .done = meta_done, .owner = c, .gen = c->meta_gen,
		};
		enum rest_start r = rest_fetch(&g);
		if (r == REST_BUSY)
			break;
		if (r == REST_REFUSED) {
			char detail[sizeof url + 64];
			c->m_meta_failed->v++;
			log_warn("metadata request refused", " exchange=%s url=%s", c->x->name, url);
			snprintf(detail, sizeof detail, "metadata request %s could not be made", url);
			out_event(&c->src, "error", detail);
		}
		c->meta_next++;
		c->meta_next_at = now + META_GAP_US;
		lws_sul_schedule(conn_ctx, 0, &c->sul_meta, meta_timer_cb, META_GAP_US);
	}
	meta_release(c, now);
}

/* A request of ours ended: the next may go, or the subscription. */
static void meta_done(void *owner)
{
	meta_pump(owner, clk_mono_us());
}

/* A pass of metadata requests; GATE: the subscription waits for it. */
static void meta_begin(struct conn *c, int gate)
{
	int64_t now = clk_mono_us();
	c->meta_gate = 0;
	if (!c->x->proto.meta)
		return;
	c->meta_gen++;
	c->meta_next = 0;
	c->meta_gate = gate;
	c->meta_since = now;
	c->meta_next_at = now;
	c->meta_due = lim.meta_every_ms ? now + (int64_t)lim.meta_every_ms * 1000 : 0;
	meta_pump(c, now);
}

enum conn_meta conn_meta_refresh(struct conn *c)
{
	if (!c->x->proto.meta)
		return CONN_META_NONE;
	if (c->state != CONN_OPEN)
		return CONN_META_NOT_OPEN;
	if (c->meta_next >= 0 || rest_pending(c, c->meta_gen))
		return CONN_META_UNDERWAY;
	meta_begin(c, 0);
	return CONN_META_STARTED;
}

/* ---- the tick: timeouts become events; what fell due is sent ---- */

void conn_tick(struct conn *c, int64_t now)
{
	const struct xch_proto *p = &c->x->proto;
	int idle_ms = lim.idle_timeout_ms ? lim.idle_timeout_ms : p->idle_timeout_ms;
	int ka_ms = lim.keepalive_ms ? lim.keepalive_ms : p->keepalive_ms;
	char why[sizeof c->host + 96];

	if (c->state == CONN_CONNECTING && now - c->state_since > (int64_t)lim.connect_timeout_ms * 1000) {
		if (c->resolving)
			snprintf(why, sizeof why, "no answer from the resolver for %s within %g s", c->host,
				 lim.connect_timeout_ms / 1000.0);
		else
			snprintf(why, sizeof why, "no WebSocket connection to %s:%d within %g s", c->host,
				 c->port, lim.connect_timeout_ms / 1000.0);
		dispatch(c, CONN_EV_CONNECT_TIMEOUT, CONN_F_NONE, why);
	}
	if (c->state != CONN_OPEN)
		return;
	if (now - c->last_rx > (int64_t)idle_ms * 1000) {
		log_warn("no message from the exchange, reconnecting", " exchange=%s idle_ms=%d",
			 c->x->name, idle_ms);
		snprintf(why, sizeof why, "idle timeout (%d ms without a complete message)", idle_ms);
		dispatch(c, CONN_EV_SILENT, CONN_F_NONE, why);
	} else if (c->msg_since && now - c->msg_since > (int64_t)idle_ms * 1000) {
		log_warn("a message is taking too long, reconnecting",
			 " exchange=%s idle_ms=%d received=%zu", c->x->name, idle_ms, c->rx_len);
		snprintf(why, sizeof why, "idle timeout (a message unfinished after %d ms)", idle_ms);
		dispatch(c, CONN_EV_SLOW_MESSAGE, CONN_F_NONE, why);
	} else if (p->max_age_ms && now - c->state_since > p->max_age_ms * 1000) {
		dispatch(c, CONN_EV_AGE_LIMIT, CONN_F_NONE, NULL);
	} else {
		if (ka_ms && now - c->last_keepalive >= (int64_t)ka_ms * 1000 && !c->want_keepalive) {
			c->want_keepalive = 1;
			lws_callback_on_writable(c->wsi);
		}
		if (c->meta_due && now >= c->meta_due && c->meta_next < 0 && !rest_pending(c, c->meta_gen))
			meta_begin(c, 0);
		meta_pump(c, now);
		if ((c->sub_next >= 0 || c->resync_n) && !c->meta_gate && now >= c->next_send)
			lws_callback_on_writable(c->wsi);
	}
}

/* ---- resyncs ---- */

static int fetch_snapshot(struct conn *c, const char *symbol)
{
	char url[1024], tag[128];
	if (c->x->proto.rest(&c->sub, c->base, symbol, url, sizeof url, tag, sizeof tag))
		return -1;
	const struct rest_get g = {
		.src = &c->src, .what = "snapshot", .symbol = symbol, .url = url, .tag = tag,
		.ok = c->m_rest_ok, .failed = c->m_rest_failed,
	};
	enum rest_start r = rest_fetch(&g);
	return r == REST_STARTED || r == REST_JOINED ? 0 : -1;
}

enum conn_resync conn_resync(struct conn *c, const char *symbol)
{
	if (c->state != CONN_OPEN)
		return CONN_RESYNC_NOT_OPEN;
	if (c->x->proto.rest && (c->sub.channels & XCH_BOOK_FULL))
		return fetch_snapshot(c, symbol) ? CONN_RESYNC_NO_SNAPSHOT : CONN_RESYNC_SNAPSHOT;
	/* The same symbol waiting is asked for once; but the head's messages may be out
	 * already (resync_msg), and a request after them needs messages of its own. */
	for (int i = c->resync_msg ? 1 : 0; i < c->resync_n; i++)
		if (!strcmp(c->resync_q[i], symbol))
			return CONN_RESYNC_QUEUED;
	if (c->resync_n == CONN_RESYNC_QUEUE || strlen(symbol) >= SYM_MAX) {
		log_warn("resync request refused: queue full", " exchange=%s symbol=%s", c->x->name, symbol);
		return CONN_RESYNC_FULL;
	}
	strcpy(c->resync_q[c->resync_n++], symbol);
	return CONN_RESYNC_QUEUED;
}

/* ---- set-up ---- */

void conn_setup(struct lws_context *ctx, struct lws_vhost *vh, const struct conn_limits *l)
{
	conn_ctx = ctx;
	conn_vh = vh;
	lim = *l;
	js_init(&doc, 0);
}

void conn_teardown(void)
{
	js_free(&doc);
}

void conn_init(struct conn *c, const struct xch *x)
{
	memset(c, 0, sizeof *c);
	c->x = x;
	c->src.exchange = x->name;
	c->state = CONN_IDLE;
	c->meta_next = -1;
}

int conn_add_metrics(struct conn *c, struct met_reg *reg)
{
	char lab[96];
	snprintf(lab, sizeof lab, "exchange=\"%s\"", c->x->name);
	c->m_frames = met_add(reg, MET_COUNTER, MN_INGEST_FRAMES,
			      "Frames received from the exchange.", lab);
	c->m_bytes = met_add(reg, MET_COUNTER, "exchange_ingest_bytes_total",
			     "Bytes of frames received from the exchange.", lab);
	c->m_connected = met_add(reg, MET_GAUGE, MN_INGEST_CONNECTED,
				 "1 while the exchange connection is open.", lab);
	c->m_reconnects = met_add(reg, MET_COUNTER, MN_INGEST_RECONNECTS,
				  "Connections lost or attempts failed that were retried.", lab);
	c->m_dropped = met_add(reg, MET_COUNTER, MN_INGEST_DROPPED,
			       "Lines dropped because stdout was full.", lab);
	c->m_age = met_add(reg, MET_GAUGE, MN_INGEST_FRAME_AGE,
			   "Seconds since the last frame (-1: none on this connection).", lab);
	c->m_invalid = met_add(reg, MET_COUNTER, "exchange_ingest_invalid_frames_total",
			       "Frames skipped because they were not JSON.", lab);
	c->m_oversize = met_add(reg, MET_COUNTER, "exchange_ingest_oversize_frames_total",
				"Messages that passed --max-frame; each closed its connection.", lab);
	c->m_heartbeats = met_add(reg, MET_COUNTER, "exchange_ingest_heartbeats_total",
				  "Keep-alive answers received (not forwarded).", lab);
	c->m_rest_ok = met_add(reg, MET_COUNTER, "exchange_ingest_snapshots_total",
			       "REST order book snapshots fetched.", lab);
	c->m_rest_failed = met_add(reg, MET_COUNTER, "exchange_ingest_snapshot_failures_total",
				   "REST order book snapshots that failed.", lab);
	c->m_meta_ok = met_add(reg, MET_COUNTER, "exchange_ingest_metadata_total",
			       "Instrument metadata answers fetched over REST.", lab);
	c->m_meta_failed = met_add(reg, MET_COUNTER, "exchange_ingest_metadata_failures_total",
				   "Instrument metadata requests that failed.", lab);
	c->m_slow_lookups = met_add(reg, MET_COUNTER, "exchange_ingest_lookups_slow_total",
				    "Lookups of the exchange's host that took a second or more (the other connections went on).", lab);
	if (!c->m_slow_lookups || !c->m_meta_ok || !c->m_meta_failed || !c->m_rest_ok || !c->m_rest_failed || !c->m_frames || !c->m_bytes || !c->m_connected ||
	    !c->m_reconnects || !c->m_dropped || !c->m_age || !c->m_invalid || !c->m_oversize ||
	    !c->m_heartbeats)
		return -1;
	for (int f = 0; f < CONN_F_NONE; f++) {
		char fl[128];
		snprintf(fl, sizeof fl, "exchange=\"%s\",reason=\"%s\"", c->x->name, fail_names[f]);
		c->m_fail[f] = met_add(reg, MET_COUNTER, "exchange_ingest_connect_failures_total",
				       "Connection attempts that failed, by reason.", fl);
		if (!c->m_fail[f])
			return -1;
	}
	c->src.dropped = c->m_dropped;
	return 0;
}

void conn_cancel_timer(struct conn *c)
{
	lws_sul_cancel(&c->sul_retry);
	lws_sul_cancel(&c->sul_meta);
	lws_sul_cancel(&c->sul_lookup);
}

void conn_free(struct conn *c)
{
	lookup_cancel(&c->lk);
	free(c->rx);
	c->rx = NULL;
	c->rx_cap = 0;
}

const char *conn_state_name(enum conn_state s)
{
	return s < CONN_NSTATES ? state_names[s] : "?";
}
