/*
 * wsclient: a WebSocket client for tests and benchmarks.
 *
 * Opens one or many connections to a ws:// or wss:// URL from a single lws
 * event loop (no threads, every delay is an lws_sul timer), optionally sends
 * a few text messages on each, and then either prints what it receives (one
 * message per stdout line) or just counts it.  It can keep a latency
 * histogram from the "local_ts" field of received lines, stop reading to act
 * as a slow client, reconnect with back-off, and write a one-line JSON
 * summary that tests and the benchmark read.  What it shares with wsload
 * (options, counters, when to stop, stats JSON, latency) is common/ws.c; the
 * libwebsockets side is here.
 *
 * Usage and formats: tests/tools/wsclient.md, or `wsclient --help`.
 */

#include "clock.h"
#include "common/ws.h"
#include "exitcode.h"
#include "loop.h"
#include "seq.h"
#include "sig.h"

#include <libwebsockets.h>
#include <openssl/ssl.h>

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define WSCLIENT_VERSION "1.0"

#define KEEP_BUF	(1u * 1024 * 1024)	/* larger buffers are freed after use */
#define BACKOFF_MIN_MS	200
#define BACKOFF_MAX_MS	2000

/* ------------------------------------------------------------------ */
/* options (beside ws_opt, those wsload takes too)                     */

static struct {
	const char *ca;
	int insecure;
	char **headers;			/* "Name: value" */
	size_t nheaders;
	const char *host_header;	/* a -H Host: goes to the handshake's Host */
	char **sends;
	size_t *send_lens;
	uint8_t *send_raw;		/* 1: bytes written as they are, no framing */
	size_t nsends, send_max;
	int unmasked;			/* text messages as unmasked frames */
	long resume_after_ms;		/* a stalled connection reads again (0: never) */
	long rcvbuf;			/* SO_RCVBUF for each connection (0: the kernel's) */
	int print, prefix;
	long long stall_after;		/* -1: never */
	long stall_ping_ms;		/* 0: no pings while stalled */
	int reconnect;
	int no_resume;
} opt = {
	.stall_after = -1, .stall_ping_ms = 1000,
};

static struct ws_url target;

/* ------------------------------------------------------------------ */
/* logging                                                             */

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
	logm(level & LLL_ERR ? LV_ERROR : LV_WARN, msg, NULL);
}

/* ------------------------------------------------------------------ */
/* the last bytes read on each socket                                  */

/*
 * libwebsockets 4.1 rewrites a received close code in 1012..2999 (1012
 * "service restart", 1013 "try again later", ...) to 1002 before the
 * application sees it.  To report what the server really sent, recv() and
 * SSL_read() are wrapped to keep the last bytes read on each socket: when
 * lws hands us a 1002, the original close frame (server frames are not
 * masked) is still among them.  The cost is one small copy per read.
 */
#define TAIL_LEN 128		/* a close frame is at most 2 + 125 bytes */

struct read_tail {
	unsigned char b[TAIL_LEN];
	uint8_t n;
};

static struct read_tail *tails;
static int ntails;

static void
tail_note(int fd, const void *buf, ssize_t n)
{
	struct read_tail *t;
	size_t keep;

	if (n <= 0 || fd < 0 || fd >= ntails)
		return;
	t = &tails[fd];
	if (n >= TAIL_LEN) {
		memcpy(t->b, (const unsigned char *)buf + n - TAIL_LEN, TAIL_LEN);
		t->n = TAIL_LEN;
		return;
	}
	keep = t->n < TAIL_LEN - (size_t)n ? t->n : TAIL_LEN - (size_t)n;
	memmove(t->b, t->b + t->n - keep, keep);
	memcpy(t->b + keep, buf, (size_t)n);
	t->n = (uint8_t)(keep + (size_t)n);
}

static void
tail_reset(int fd)
{
	if (fd >= 0 && fd < ntails)
		tails[fd].n = 0;
}

/* The close code of the frame whose payload lws reported as in/len with
 * its code turned into 1002, or 0 when it is not found. */
static unsigned
tail_close_code(int fd, const unsigned char *in, size_t len)
{
	const struct read_tail *t;
	int i;

	if (fd < 0 || fd >= ntails || len < 2 || len > 125)
		return 0;
	t = &tails[fd];
	for (i = (int)t->n - 2 - (int)len; i >= 0; i--) {
		unsigned code;

		if (t->b[i] != 0x88 || t->b[i + 1] != len)
			continue;
		if (memcmp(t->b + i + 4, in + 2, len - 2))
			continue;
		code = (unsigned)(t->b[i + 2] << 8 | t->b[i + 3]);
		if (code >= 1012 && code < 3000)
			return code;
	}
	return 0;
}

typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef int (*ssl_read_fn)(SSL *, void *, int);

ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
	static recv_fn real;
	ssize_t n;

	if (!real) {
		real = (recv_fn)dlsym(RTLD_NEXT, "recv");
		if (!real) {
			errno = ENOSYS;
			return -1;
		}
	}
	n = real(fd, buf, len, flags);
	if (n > 0 && !(flags & MSG_PEEK))
		tail_note(fd, buf, n);
	return n;
}

int
SSL_read(SSL *ssl, void *buf, int num)
{
	static ssl_read_fn real;
	int n;

	if (!real) {
		real = (ssl_read_fn)dlsym(RTLD_NEXT, "SSL_read");
		if (!real)
			return -1;
	}
	n = real(ssl, buf, num);
	if (n > 0)
		tail_note(SSL_get_fd(ssl), buf, n);
	return n;
}

/* ------------------------------------------------------------------ */
/* state                                                               */

struct client {
	struct ws_peer p;		/* first: the run's view of it (common/ws.h) */
	struct lws *wsi;
	lws_sorted_usec_list_t sul;	/* reconnect back-off */
	uint64_t conn_msgs;		/* on the current connection */
	char *buf;			/* fragment reassembly */
	size_t len, cap;
	size_t nsent;			/* --send messages written */
	unsigned backoff_ms;
	uint16_t close_code;
	uint8_t stalled;		/* rx flow control off */
	uint8_t closing;		/* our own close is under way */
	uint8_t peer_closed;		/* a close frame came in */
	uint8_t assembling, too_big;
	uint8_t want_ping;		/* stalled: a ping is due */
	uint8_t resumed;		/* read again after a stall (--resume-after) */
	int64_t last_seq;		/* newest stream position received, -1 none */
	char *path;			/* the URL's path, with since= when resuming */
	lws_sorted_usec_list_t sul_resume;
	char reason[WS_REASON_MAX];
};

static struct client *clients;
static struct lws_context *context;
static int sigfd = -1;
static int destroying;		/* lws_context_destroy() under way: no more events */

/* clients waiting for a connection slot */
static struct {
	int *q;
	size_t head, n, cap;
} cq;

static lws_sorted_usec_list_t sul_pump, sul_stats, sul_duration,
			      sul_connect_deadline, sul_shutdown, sul_stall_ping;
/*
 * No validity pings and no idle hang-up: lws would otherwise re-arm a
 * per-connection timer on every read, a sorted insert among thousands.
 */
static const lws_retry_bo_t no_validity = {
	.secs_since_valid_ping = 0,
	.secs_since_valid_hangup = 0,
};
static unsigned char *send_scratch;	/* LWS_PRE + the longest message */
static int stats_on;

static void stop(int status, const char *why);
static void pump_soon(void);
static void after_connection(struct client *c);

/* ws_check_progress(), and a wake-up for the loop when the run is over (a
 * timer's callback is followed by a wait for the next event otherwise). */
static void
check_progress(void)
{
	ws_check_progress();
	if (ws_run.done)
		lws_cancel_service(context);
}

static void
stats_tick(lws_sorted_usec_list_t *sul)
{
	ws_stats_write();
	if (!ws_run.done)
		lws_sul_schedule(context, 0, &sul_stats, stats_tick,
				 (lws_usec_t)ws_opt.stats_interval_ms * 1000);
}

/*
 * A connection that stopped reading never sees the peer's close frame, nor
 * its FIN (it waits behind the unread data).  A ping now and then fixes
 * that: data arriving at a socket the server has closed is answered with
 * a reset, and lws reports the connection closed.
 */
static void
stall_ping_tick(lws_sorted_usec_list_t *sul)
{
	long i;

	if (ws_run.stopping)
		return;
	for (i = 0; i < ws_opt.clients; i++) {
		struct client *c = &clients[i];

		if (c->p.state == WS_OPEN && c->stalled && c->wsi) {
			c->want_ping = 1;
			lws_callback_on_writable(c->wsi);
		}
	}
	lws_sul_schedule(context, 0, &sul_stall_ping, stall_ping_tick,
			 (lws_usec_t)opt.stall_ping_ms * 1000);
}

/* ------------------------------------------------------------------ */
/* connecting                                                          */

static void
queue_push(struct client *c)
{
	cq.q[(cq.head + cq.n) % cq.cap] = c->p.idx;
	cq.n++;
}

static void
launch(struct client *c)
{
	struct lws_client_connect_info i;
	struct lws *wsi;

	memset(&i, 0, sizeof(i));
	i.context = context;
	i.address = target.host;
	i.port = target.port;
	i.path = target.path;
	/* --reconnect resumes after the newest position this client has: what it missed while
	 * away comes first, and nothing twice (serve's ?since=). */
	if (opt.reconnect && !opt.no_resume && c->last_seq >= 0) {
		size_t n = strlen(target.path) + 40;
		char *p = realloc(c->path, n);
		if (p) {
			c->path = p;
			snprintf(p, n, "%s%csince=%lld", target.path, strchr(target.path, '?') ? '&' : '?',
				 (long long)c->last_seq);
			i.path = p;
			ws_run.resumes++;
		}
	}
	i.host = opt.host_header ? opt.host_header : target.host;
	i.origin = NULL;		/* -H Origin: is sent verbatim */
	i.protocol = NULL;
	i.ietf_version_or_minus_one = -1;
	i.local_protocol_name = "wsclient";
	i.opaque_user_data = c;
	i.retry_and_idle_policy = &no_validity;
	if (target.tls) {
		i.ssl_connection = LCCSCF_USE_SSL;
		if (opt.insecure)
			i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
				LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
				LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
	}
	ws_set_state(&c->p, WS_CONNECTING);
	c->wsi = NULL;
	c->closing = c->peer_closed = c->stalled = c->want_ping = 0;
	c->resumed = 0;
	lws_sul_cancel(&c->sul_resume);
	c->assembling = c->too_big = 0;
	c->len = 0;
	c->conn_msgs = 0;
	c->nsent = 0;
	c->close_code = 0;
	c->reason[0] = '\0';
	wsi = lws_client_connect_via_info(&i);
	if (c->p.state != WS_CONNECTING)
		return;			/* failed inside, already handled */
	if (!wsi) {
		/* failed synchronously without a callback */
		ws_failed(&c->p, "connect failed");
		after_connection(c);
		return;
	}
	c->wsi = wsi;
}

static void
pump(lws_sorted_usec_list_t *sul)
{
	while (!ws_run.stopping && cq.n && ws_inflight() < ws_opt.max_inflight) {
		struct client *c = &clients[cq.q[cq.head]];

		cq.head = (cq.head + 1) % cq.cap;
		cq.n--;
		if (c->p.state == WS_QUEUED)	/* else abandoned while waiting */
			launch(c);
	}
}

static void
pump_soon(void)
{
	if (!ws_run.stopping && cq.n && ws_inflight() < ws_opt.max_inflight)
		lws_sul_schedule(context, 0, &sul_pump, pump, 1);
}

static void
reconnect_due(lws_sorted_usec_list_t *sul)
{
	struct client *c = lws_container_of(sul, struct client, sul);

	if (c->p.state != WS_BACKOFF || ws_run.stopping)
		return;
	ws_set_state(&c->p, WS_QUEUED);
	queue_push(c);
	pump_soon();
}

/* After a failed attempt or a close: retry later or give up. */
static void
after_connection(struct client *c)
{
	c->wsi = NULL;
	lws_sul_cancel(&c->sul_resume);
	if (c->buf && c->cap > KEEP_BUF) {
		free(c->buf);
		c->buf = NULL;
		c->cap = 0;
	}
	c->len = 0;
	c->assembling = 0;
	if (opt.reconnect && !ws_run.stopping && !c->p.timed_out) {
		unsigned ms = c->backoff_ms ? c->backoff_ms : BACKOFF_MIN_MS;
		unsigned jitter = (unsigned)(random() % (ms / 4 + 1));

		c->backoff_ms = ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms * 2;
		ws_set_state(&c->p, WS_BACKOFF);
		lws_sul_schedule(context, 0, &c->sul, reconnect_due,
				 (lws_usec_t)(ms - ms / 8 + jitter) * 1000);
	} else {
		ws_end(&c->p);
	}
	pump_soon();
	check_progress();
}

/* A client not connected by --connect-timeout. */
static void
abandon(struct ws_peer *p)
{
	struct client *c = (struct client *)p;

	if (p->state == WS_BACKOFF) {
		lws_sul_cancel(&c->sul);
		ws_run.failed++;
		ws_end(p);
	} else if (p->state == WS_CONNECTING && c->wsi) {
		/* counted when CONNECTION_ERROR reports it */
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
}

static void
connect_deadline(lws_sorted_usec_list_t *sul)
{
	ws_connect_timeout(abandon);
	check_progress();
}

/* ------------------------------------------------------------------ */
/* stopping                                                            */

static void
shutdown_deadline(lws_sorted_usec_list_t *sul)
{
	ws_run.done = 1;
	lws_cancel_service(context);
}

/* At the end of the run: every client not queued or done. */
static void
close_one(struct ws_peer *p)
{
	struct client *c = (struct client *)p;

	switch (p->state) {
	case WS_BACKOFF:
		lws_sul_cancel(&c->sul);
		ws_set_state(p, WS_DONE);
		break;
	case WS_CONNECTING:
		c->closing = 1;
		if (c->wsi)
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
					LWS_TO_KILL_ASYNC);
		break;
	case WS_OPEN:
		c->closing = 1;
		if (c->stalled)
			/* read again so the close handshake can finish;
			 * what arrives is not counted */
			lws_rx_flow_control(c->wsi, 1);
		lws_callback_on_writable(c->wsi);
		break;
	default:
		break;
	}
}

static void
stop(int status, const char *why)
{
	if (ws_stop(status, why, close_one))
		return;
	lws_sul_cancel(&sul_pump);
	lws_sul_cancel(&sul_duration);
	lws_sul_cancel(&sul_connect_deadline);
	lws_sul_cancel(&sul_stall_ping);
	cq.n = 0;
	lws_sul_schedule(context, 0, &sul_shutdown, shutdown_deadline,
			 (lws_usec_t)WS_SHUTDOWN_MS * 1000);
	check_progress();
}

static void
duration_up(lws_sorted_usec_list_t *sul)
{
	stop(EXIT_OK, "duration");
}

/* ------------------------------------------------------------------ */
/* receiving                                                           */

/* A stalled connection reads again, for good (--resume-after, SIGUSR1). */
static void
resume(struct client *c)
{
	if (c->p.state != WS_OPEN || !c->stalled || !c->wsi || c->closing)
		return;
	lws_sul_cancel(&c->sul_resume);
	c->stalled = 0;
	c->resumed = 1;
	c->want_ping = 0;
	lws_rx_flow_control(c->wsi, 1);
	logm(LV_INFO, "resumed", "client=%d messages=%" PRIu64, c->p.idx,
	     c->conn_msgs);
}

static void
resume_due(lws_sorted_usec_list_t *sul)
{
	resume(lws_container_of(sul, struct client, sul_resume));
}

/* The connection stops reading (--no-read, --stall-after). */
static void
stall(struct client *c, struct lws *wsi)
{
	c->stalled = 1;
	ws_run.stalled++;
	lws_rx_flow_control(wsi, 0);
	logm(LV_DEBUG, "stalled", "client=%d messages=%" PRIu64, c->p.idx,
	     c->conn_msgs);
	if (opt.resume_after_ms)
		lws_sul_schedule(context, 0, &c->sul_resume, resume_due,
				 (lws_usec_t)opt.resume_after_ms * 1000);
}

/* One whole message. */
static void
on_message(struct client *c, const char *p, size_t len)
{
	int64_t seq = seq_of_line(p, len);

	ws_count_message(&c->p, len);
	c->conn_msgs++;
	if (len > 30 && !memcmp(p, "{\"type\":\"status\",\"event\":\"gap\"", 30)) {
		ws_run.gaps++;
		logm(LV_WARN, "gap", "client=%d line=%.*s", c->p.idx, (int)(len > 300 ? 300 : len), p);
	} else if (seq >= 0) {
		/* a node's own notice repeats the position before it; a stream line never does */
		if (seq <= c->last_seq && memcmp(p, "{\"type\":\"status\"", 16))
			ws_run.seq_repeats++;
		if (seq > c->last_seq)
			c->last_seq = seq;
	}
	if (stats_on) {
		int64_t now = clk_now_us();

		ws_received_at(now);
		ws_scan_latency(p, len < WS_SCAN_MAX ? len : WS_SCAN_MAX, now);
	}
	if (opt.print)
		ws_print(opt.prefix ? c->p.idx : -1, p, len);
	if (ws_reached(&c->p) && ws_run.reached + ws_run.given_up >= ws_opt.clients)
		check_progress();
	if (opt.stall_after > 0 && !c->stalled && !c->resumed &&
	    c->conn_msgs >= (uint64_t)opt.stall_after && c->wsi)
		stall(c, c->wsi);
}

static void
on_receive(struct client *c, struct lws *wsi, const char *in, size_t len)
{
	int final;

	if (c->stalled || c->closing)
		return;		/* read after we stopped reading: dropped */
	final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
	if (!c->assembling && final) {
		on_message(c, in, len);
		return;
	}
	c->assembling = 1;
	if (!c->too_big) {
		size_t want = c->len + len;
		size_t rem = lws_remaining_packet_payload(wsi);

		/* room for the rest of the frame at once, when it fits */
		if (want > c->cap && want + rem <= WS_MAX_MSG && want + rem > want)
			want += rem;
		if (ws_buf_reserve(&c->buf, &c->cap, want))
			c->too_big = 1;
		else
			memcpy(c->buf + c->len, in, len);
	}
	c->len += len;
	if (!final)
		return;
	if (c->too_big) {
		ws_run.too_big++;
		logm(LV_ERROR, "message too big", "client=%d bytes=%zu limit=%u",
		     c->p.idx, c->len, WS_MAX_MSG);
	} else {
		on_message(c, c->buf, c->len);
	}
	c->assembling = 0;
	c->too_big = 0;
	c->len = 0;
	if (c->buf && c->cap > KEEP_BUF) {
		free(c->buf);
		c->buf = NULL;
		c->cap = 0;
	}
}

/* ------------------------------------------------------------------ */
/* the lws protocol                                                    */

static int
append_headers(char **pp, size_t avail)
{
	char *p = *pp;
	size_t i;

	for (i = 0; i < opt.nheaders; i++) {
		size_t n = strlen(opt.headers[i]);

		if (n + 2 >= avail)
			return -1;
		memcpy(p, opt.headers[i], n);
		p[n] = '\r';
		p[n + 1] = '\n';
		p += n + 2;
		avail -= n + 2;
	}
	*pp = p;
	return 0;
}

static void
on_connection_error(struct client *c, struct lws *wsi, const char *err)
{
	unsigned status = lws_http_client_http_response(wsi);

	if (c->p.state != WS_CONNECTING || (c->wsi && c->wsi != wsi))
		return;
	if (c->closing) {
		/* our stop() killed it */
		ws_set_state(&c->p, WS_DONE);
		c->wsi = NULL;
		check_progress();
		return;
	}
	if (c->p.timed_out)
		ws_run.failed++;	/* logged at the deadline */
	else if (status && status != 101)
		ws_rejected(&c->p, status);
	else
		ws_failed(&c->p, err ? err : "unknown");
	after_connection(c);
}

static void
on_established(struct client *c, struct lws *wsi)
{
	if (c->p.state != WS_CONNECTING)
		return;
	c->wsi = wsi;
	c->backoff_ms = 0;
	tail_reset(lws_get_socket_fd(wsi));
	if (opt.rcvbuf) {
		int v = (int)opt.rcvbuf;

		/* set, the size is fixed: the kernel no longer grows it */
		if (setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_RCVBUF,
			       &v, sizeof(v)))
			logm(LV_WARN, "cannot set SO_RCVBUF", "client=%d error=\"%s\"",
			     c->p.idx, strerror(errno));
	}
	ws_opened(&c->p);
	pump_soon();
	if (opt.stall_after == 0)
		stall(c, wsi);
	if (opt.nsends)
		lws_callback_on_writable(wsi);
	if (ws_run.stopping) {
		c->closing = 1;
		lws_callback_on_writable(wsi);
	}
}

static int
on_writeable(struct client *c, struct lws *wsi)
{
	size_t k;
	int n;

	if (c->closing) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return -1;
	}
	if (c->want_ping) {
		c->want_ping = 0;
		if (lws_write(wsi, send_scratch + LWS_PRE, 0, LWS_WRITE_PING) < 0)
			return -1;
		if (c->nsent < opt.nsends)
			lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->nsent >= opt.nsends)
		return 0;
	k = c->nsent++;
	memcpy(send_scratch + LWS_PRE, opt.sends[k], opt.send_lens[k]);
	/* raw sends (--send-raw, --send-close, --unmasked) are whole frames
	 * built by us: lws writes them without a header of its own */
	n = lws_write(wsi, send_scratch + LWS_PRE, opt.send_lens[k],
		      opt.send_raw[k] ? LWS_WRITE_RAW : LWS_WRITE_TEXT);
	if (n < (int)opt.send_lens[k]) {
		logm(LV_ERROR, "send failed", "client=%d", c->p.idx);
		return -1;
	}
	if (c->nsent < opt.nsends)
		lws_callback_on_writable(wsi);
	return 0;
}

static void
on_peer_close(struct client *c, struct lws *wsi, const unsigned char *in,
	      size_t len)
{
	size_t n;

	c->peer_closed = 1;
	if (len >= 2) {
		c->close_code = (uint16_t)((in[0] << 8) | in[1]);
		if (c->close_code == LWS_CLOSE_STATUS_PROTOCOL_ERR) {
			unsigned orig = tail_close_code(lws_get_socket_fd(wsi),
							in, len);

			if (orig)
				c->close_code = (uint16_t)orig;
		}
		n = len - 2 < sizeof(c->reason) - 1 ? len - 2 : sizeof(c->reason) - 1;
		memcpy(c->reason, in + 2, n);
		c->reason[n] = '\0';
	} else {
		c->close_code = 1005;	/* no status in the close frame */
		c->reason[0] = '\0';
	}
}

static void
on_closed(struct client *c, struct lws *wsi)
{
	if (c->p.state != WS_OPEN || c->wsi != wsi)
		return;
	if (c->closing && ws_run.stopping) {
		/* our own close at the end of the run */
		ws_set_state(&c->p, WS_DONE);
		c->wsi = NULL;
		check_progress();
		return;
	}
	ws_closed(&c->p, c->peer_closed ? c->close_code : 1006, c->reason,
		  strlen(c->reason));
	after_connection(c);
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	 void *in, size_t len)
{
	struct client *c;

	if (destroying)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
	case LWS_CALLBACK_CLIENT_RECEIVE:
	case LWS_CALLBACK_CLIENT_WRITEABLE:
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		break;
	default:
		return 0;
	}
	c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	if (!c)
		return 0;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return append_headers((char **)in, len);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		on_connection_error(c, wsi, in ? (const char *)in : NULL);
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		on_established(c, wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		on_receive(c, wsi, (const char *)in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return on_writeable(c, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		on_peer_close(c, wsi, (const unsigned char *)in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		on_closed(c, wsi);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		/* backstop: a connection that went away unreported */
		if (c->wsi == wsi) {
			if (c->p.state == WS_OPEN)
				on_closed(c, wsi);
			else if (c->p.state == WS_CONNECTING)
				on_connection_error(c, wsi, "closed before established");
			c->wsi = NULL;
		}
		return 0;
	default:
		return 0;
	}
}

/* The signal pipe (lib/sig), read in the loop.  SIGUSR1 makes every stalled
 * connection read again. */
static int
on_signals(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	   void *in, size_t len)
{
	int sig;
	long i;

	if (destroying || reason != LWS_CALLBACK_RAW_RX_FILE)
		return 0;
	while ((sig = sig_next(sigfd)) > 0) {
		if (sig != SIGUSR1)
			ws_on_signal(sig);
		else if (!ws_run.stopping)
			for (i = 0; i < ws_opt.clients; i++)
				resume(&clients[i]);
	}
	return 0;
}

static struct lws_protocols protocols[] = {
	{ "wsclient", callback, 0, 0, 0, NULL, 0 },
	{ "signals", on_signals, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ------------------------------------------------------------------ */
/* options                                                             */

static int
add_send_as(const char *s, size_t n, int raw)
{
	char **ns = realloc(opt.sends, (opt.nsends + 1) * sizeof(*ns));
	size_t *nl;
	uint8_t *nr;

	if (!ns)
		return -1;
	opt.sends = ns;
	nl = realloc(opt.send_lens, (opt.nsends + 1) * sizeof(*nl));
	if (!nl)
		return -1;
	opt.send_lens = nl;
	nr = realloc(opt.send_raw, opt.nsends + 1);
	if (!nr)
		return -1;
	opt.send_raw = nr;
	opt.send_raw[opt.nsends] = (uint8_t)raw;
	opt.sends[opt.nsends] = malloc(n + 1);
	if (!opt.sends[opt.nsends])
		return -1;
	memcpy(opt.sends[opt.nsends], s, n);
	opt.sends[opt.nsends][n] = '\0';
	opt.send_lens[opt.nsends] = n;
	if (n > opt.send_max)
		opt.send_max = n;
	opt.nsends++;
	return 0;
}

static int
add_send(const char *s, size_t n)
{
	return add_send_as(s, n, 0);
}

/* --send-raw: hex digits, optionally separated by spaces, written verbatim. */
static int
add_send_hex(const char *hex)
{
	unsigned char *b = malloc(strlen(hex) / 2 + 1);
	size_t n = 0;
	int hi = -1, rc;

	if (!b)
		return -1;
	for (; *hex; hex++) {
		int v;

		if (*hex == ' ')
			continue;
		if (*hex >= '0' && *hex <= '9')
			v = *hex - '0';
		else if (*hex >= 'a' && *hex <= 'f')
			v = *hex - 'a' + 10;
		else if (*hex >= 'A' && *hex <= 'F')
			v = *hex - 'A' + 10;
		else
			break;
		if (hi < 0) {
			hi = v;
		} else {
			b[n++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	rc = *hex || hi >= 0 || !n ? -1 : add_send_as((char *)b, n, 1);
	free(b);
	return rc;
}

/*
 * A client frame built here rather than by lws, so that it may break the
 * rules (--unmasked, --send-close with any code): OPCODE and the payload P,
 * masked with a fixed key unless MASKED is 0.  Added to the sends as raw
 * bytes.
 */
static int
add_frame(int opcode, const unsigned char *p, size_t len, int masked)
{
	static const unsigned char key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	unsigned char *f = malloc(len + WS_FRAME_HEAD_MAX);
	int rc;

	if (!f)
		return -1;
	rc = add_send_as((char *)f, ws_frame(f, (unsigned)opcode, p, len,
					     masked ? key : NULL), 1);
	free(f);
	return rc;
}

/* --unmasked: the text messages given so far become unmasked frames. */
static int
unmask_sends(void)
{
	size_t i, n = opt.nsends;
	char **old = opt.sends;
	size_t *old_lens = opt.send_lens;
	uint8_t *old_raw = opt.send_raw;
	int rc = 0;

	opt.sends = NULL;
	opt.send_lens = NULL;
	opt.send_raw = NULL;
	opt.nsends = opt.send_max = 0;
	for (i = 0; i < n; i++) {
		if (!rc)
			rc = old_raw[i] ? add_send_as(old[i], old_lens[i], 1)
					: add_frame(1, (unsigned char *)old[i],
						    old_lens[i], 0);
		free(old[i]);
	}
	free(old);
	free(old_lens);
	free(old_raw);
	return rc;
}

static int
add_send_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	if (!f) {
		fprintf(stderr, "wsclient: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (!n)
			continue;
		if (add_send(line, (size_t)n)) {
			rc = -1;
			break;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

static int
add_header(const char *h)
{
	const char *colon = strchr(h, ':');
	const char *v;
	size_t nl;
	char **nh, *s;

	if (!colon || colon == h || strpbrk(h, "\r\n"))
		return -1;
	nl = (size_t)(colon - h);
	if (strcspn(h, " \t") < nl)
		return -1;
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (nl == 4 && !strncasecmp(h, "host", 4)) {
		opt.host_header = v;
		return 0;
	}
	nh = realloc(opt.headers, (opt.nheaders + 1) * sizeof(*nh));
	if (!nh)
		return -1;
	opt.headers = nh;
	if (asprintf(&s, "%.*s: %s", (int)nl, h, v) < 0)
		return -1;
	opt.headers[opt.nheaders++] = s;
	return 0;
}

static void
usage(FILE *f)
{
	fputs(
"usage: wsclient [options] URL\n"
"  URL                       ws://HOST[:PORT]/PATH?QUERY or wss://...\n"
WS_USAGE_CONNECT
"      --ca FILE             trust this CA for wss:// (verification is on)\n"
"  -k, --insecure            do not verify the server certificate\n"
"  -H, --header 'N: v'       extra upgrade header (repeatable)\n"
"  -s, --send TEXT           send TEXT after connecting (repeatable, in order)\n"
"      --send-file FILE      send each non-empty line of FILE after connecting\n"
"  -p, --print               print messages even with several clients\n"
"      --prefix              print '<client-index> <message>'\n"
"  -q, --quiet               do not print messages\n"
WS_USAGE_RUN
"      --exit-on-close       exit when no connection is open (even with --reconnect)\n"
"      --no-read             never read (same as --stall-after 0)\n"
"      --stall-after N       stop reading after N messages on a connection\n"
"      --stall-ping MS       while not reading, ping every MS so a server-side\n"
"                            close is noticed (default 1000, 0 = never)\n"
"      --resume-after MS     a stalled connection reads again after MS (SIGUSR1:\n"
"                            every stalled connection reads again now)\n"
"      --send-raw HEX        send these bytes as they are, in order with -s\n"
"      --send-close CODE     send a close frame with CODE (any 0..65535), in order\n"
"      --unmasked            send the -s messages as unmasked frames\n"
"      --rcvbuf BYTES        fixed socket receive buffer (no autotuning), so a\n"
"                            stalled connection fills the server's socket sooner\n"
"      --reconnect           reconnect closed connections (200 ms .. 2 s back-off),\n"
"                            resuming after the newest stream position received\n"
"      --no-resume           reconnect without asking to resume (live data from then)\n"
"  -h, --help, --version\n"
"Messages are printed by default only with one client. Logs go to stderr.\n"
"Exit: 0 ok, 1 runtime failure (a client never connected, stdout error),\n"
"2 usage.  SIGINT/SIGTERM close every connection (1000) and exit 0; a second\n"
"one ends the wait for the close handshakes.\n"
"SIGUSR1 makes stalled connections read again.\n"
"LOG_LEVEL=debug|info|warn|error (default info).\n", f);
}

enum {
	O_CA = WS_O_TOOL, O_EXIT_ON_CLOSE, O_NO_READ, O_NO_RESUME, O_PREFIX,
	O_RCVBUF, O_RECONNECT, O_RESUME_AFTER, O_SEND_CLOSE, O_SEND_FILE,
	O_SEND_RAW, O_STALL_AFTER, O_STALL_PING, O_UNMASKED,
};

static const struct option long_opts[] = {
	WS_LONGOPTS,
	{ "ca", required_argument, NULL, O_CA },
	{ "exit-on-close", no_argument, NULL, O_EXIT_ON_CLOSE },
	{ "header", required_argument, NULL, 'H' },
	{ "insecure", no_argument, NULL, 'k' },
	{ "no-read", no_argument, NULL, O_NO_READ },
	{ "no-resume", no_argument, NULL, O_NO_RESUME },
	{ "prefix", no_argument, NULL, O_PREFIX },
	{ "rcvbuf", required_argument, NULL, O_RCVBUF },
	{ "reconnect", no_argument, NULL, O_RECONNECT },
	{ "resume-after", required_argument, NULL, O_RESUME_AFTER },
	{ "send", required_argument, NULL, 's' },
	{ "send-close", required_argument, NULL, O_SEND_CLOSE },
	{ "send-file", required_argument, NULL, O_SEND_FILE },
	{ "send-raw", required_argument, NULL, O_SEND_RAW },
	{ "stall-after", required_argument, NULL, O_STALL_AFTER },
	{ "stall-ping", required_argument, NULL, O_STALL_PING },
	{ "unmasked", no_argument, NULL, O_UNMASKED },
	{ NULL, 0, NULL, 0 }
};

/* The options only wsclient takes; -1 to go on, or the exit status. */
static int
take(int ch, const char *arg)
{
	char err[256];
	long long v;

	switch (ch) {
	case O_CA:
		if (access(arg, R_OK)) {
			snprintf(err, sizeof(err), "--ca: %s: %s", arg, strerror(errno));
			return ws_usage_error("wsclient", err);
		}
		opt.ca = arg;
		return -1;
	case O_EXIT_ON_CLOSE:
		ws_opt.exit_on_close = 1;
		return -1;
	case 'H':
		if (add_header(arg)) {
			snprintf(err, sizeof(err), "--header: '%.200s' is not 'Name: value'", arg);
			return ws_usage_error("wsclient", err);
		}
		return -1;
	case 'k':
		opt.insecure = 1;
		return -1;
	case O_NO_READ:
		opt.stall_after = 0;
		return -1;
	case O_NO_RESUME:
		opt.no_resume = 1;
		return -1;
	case O_PREFIX:
		opt.prefix = 1;
		return -1;
	case O_RCVBUF:
		if (ws_opt_number("--rcvbuf", arg, 1024, 1 << 30, &v, err, sizeof(err)))
			return ws_usage_error("wsclient", err);
		opt.rcvbuf = (long)v;
		return -1;
	case O_RECONNECT:
		opt.reconnect = 1;
		return -1;
	case O_RESUME_AFTER:
		if (ws_opt_number("--resume-after", arg, 1, 86400000LL, &v, err, sizeof(err)))
			return ws_usage_error("wsclient", err);
		opt.resume_after_ms = (long)v;
		return -1;
	case 's':
		return add_send(arg, strlen(arg)) ? EXIT_RUNTIME : -1;
	case O_SEND_CLOSE: {
		unsigned char code[2];

		if (ws_opt_number("--send-close", arg, 0, 65535, &v, err, sizeof(err)))
			return ws_usage_error("wsclient", err);
		code[0] = (unsigned char)(v >> 8);
		code[1] = (unsigned char)v;
		return add_frame(8, code, 2, 1) ? EXIT_RUNTIME : -1;
	}
	case O_SEND_FILE:
		return add_send_file(arg) ? EXIT_USAGE : -1;
	case O_SEND_RAW:
		if (add_send_hex(arg)) {
			snprintf(err, sizeof(err), "--send-raw: '%.200s' is not whole bytes in hex", arg);
			return ws_usage_error("wsclient", err);
		}
		return -1;
	case O_STALL_AFTER:
		if (ws_opt_number("--stall-after", arg, 0, LLONG_MAX, &v, err, sizeof(err)))
			return ws_usage_error("wsclient", err);
		opt.stall_after = v;
		return -1;
	case O_STALL_PING:
		if (ws_opt_number("--stall-ping", arg, 0, 86400000LL, &v, err, sizeof(err)))
			return ws_usage_error("wsclient", err);
		opt.stall_ping_ms = (long)v;
		return -1;
	case O_UNMASKED:
		opt.unmasked = 1;
		return -1;
	case 'h':
		usage(stdout);
		return EXIT_OK;
	case WS_O_VERSION:
		printf("wsclient %s (libwebsockets %s)\n", WSCLIENT_VERSION,
		       lws_get_library_version());
		return EXIT_OK;
	default:
		fputs("Try 'wsclient --help'.\n", stderr);
		return EXIT_USAGE;
	}
}

/* Returns -1 to go on, or the exit status. */
static int
parse_args(int argc, char **argv)
{
	char err[256];
	int ch, rc;

	while ((ch = getopt_long(argc, argv, WS_SHORTOPTS "H:ks:", long_opts, NULL)) != -1) {
		rc = ws_opt_take(ch, optarg, err, sizeof(err));
		if (rc < 0)
			return ws_usage_error("wsclient", err);
		if (!rc && (rc = take(ch, optarg)) >= 0)
			return rc;
	}
	if (ws_opt_url(argc, argv, &target, err, sizeof(err)))
		return ws_usage_error("wsclient", err);
	if (opt.ca && opt.insecure)
		return ws_usage_error("wsclient", "--ca and --insecure exclude each other");
	if (opt.unmasked && unmask_sends())
		return EXIT_RUNTIME;
	opt.print = !ws_opt.quiet && (ws_opt.clients == 1 || ws_opt.print || opt.prefix);
	return -1;
}

/* ------------------------------------------------------------------ */
/* main                                                                */

/* One lws context for every connection; NULL when it cannot be made. */
static struct lws_context *
create_context(const struct rlimit *rl)
{
	struct lws_context_creation_info info;

	/* big frames arrive in fewer pieces, but each connection holds one
	 * buffer of this size: keep it small when there are many */
	protocols[0].rx_buffer_size = ws_opt.clients <= 16 ? 65536 :
				      ws_opt.clients <= 500 ? 16384 : 4096;

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = opt.ca;
	info.ka_time = 0;
	info.pt_serv_buf_size = 65536;	/* one per thread: fewer, bigger reads */
	info.retry_and_idle_policy = &no_validity;
	info.gid = (gid_t)-1;
	info.uid = (uid_t)-1;
	if (rl->rlim_cur && rl->rlim_cur != RLIM_INFINITY)
		info.fd_limit_per_thread = (unsigned)(rl->rlim_cur > (1u << 20) ?
						      (1u << 20) : rl->rlim_cur);
	return lws_create_context(&info);
}

int
main(int argc, char **argv)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGUSR1, 0 };
	struct rlimit rl = { 0, 0 };
	char err[256];
	long i;
	int rc;

	rc = parse_args(argc, argv);
	if (rc >= 0)
		return rc;
	tool_log_init("wsclient");

	ws_raise_fd_limit(&rl);
	clients = calloc((size_t)ws_opt.clients, sizeof(*clients));
	cq.cap = (size_t)ws_opt.clients;
	cq.q = calloc(cq.cap, sizeof(*cq.q));
	send_scratch = malloc(LWS_PRE + opt.send_max + 1);
	ntails = (int)(ws_opt.clients * 2 + 256);
	if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)ntails > rl.rlim_cur)
		ntails = (int)rl.rlim_cur;
	tails = calloc((size_t)ntails, sizeof(*tails));
	if (!clients || !cq.q || !send_scratch || !tails) {
		logm(LV_ERROR, "out of memory", NULL);
		return EXIT_RUNTIME;
	}
	stats_on = ws_opt.stats != NULL;
	srandom((unsigned)(getpid() ^ (unsigned)clk_mono_us()));

	sigfd = sig_init(sigs, err, sizeof(err));
	if (sigfd < 0) {
		logm(LV_ERROR, "setup failed", "error=\"%s\"", err);
		return EXIT_RUNTIME;
	}
	context = create_context(&rl);
	if (!context || !loop_adopt(lws_get_vhost_by_name(context, "default"),
				    sigfd, "signals", NULL)) {
		logm(LV_ERROR, "cannot create the lws context", NULL);
		return EXIT_RUNTIME;
	}

	ws_run_start(clients, sizeof(*clients), stop);
	for (i = 0; i < ws_opt.clients; i++) {
		clients[i].last_seq = -1;
		queue_push(&clients[i]);
	}
	lws_sul_schedule(context, 0, &sul_pump, pump, 1);
	lws_sul_schedule(context, 0, &sul_connect_deadline, connect_deadline,
			 (lws_usec_t)ws_opt.connect_timeout_ms * 1000);
	if (ws_opt.duration_ms)
		lws_sul_schedule(context, 0, &sul_duration, duration_up,
				 (lws_usec_t)ws_opt.duration_ms * 1000);
	if (ws_opt.stats)
		lws_sul_schedule(context, 0, &sul_stats, stats_tick,
				 (lws_usec_t)ws_opt.stats_interval_ms * 1000);
	if (opt.stall_after >= 0 && opt.stall_ping_ms)
		lws_sul_schedule(context, 0, &sul_stall_ping, stall_ping_tick,
				 (lws_usec_t)opt.stall_ping_ms * 1000);

	while (!ws_run.done)
		if (lws_service(context, 0) < 0)
			break;
	ws_run.done = 1;
	rc = ws_finish();

	destroying = 1;
	lws_context_destroy(context);
	context = NULL;
	for (i = 0; i < ws_opt.clients; i++) {
		free(clients[i].buf);
		free(clients[i].path);
	}
	free(clients);
	free(cq.q);
	free(send_scratch);
	ntails = 0;
	free(tails);
	tails = NULL;
	for (i = 0; i < (long)opt.nsends; i++)
		free(opt.sends[i]);
	free(opt.sends);
	free(opt.send_lens);
	free(opt.send_raw);
	for (i = 0; i < (long)opt.nheaders; i++)
		free(opt.headers[i]);
	free(opt.headers);
	return rc;
}
