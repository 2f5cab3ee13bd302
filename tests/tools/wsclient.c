/*
 * wsclient: a WebSocket client for tests and benchmarks.
 *
 * Opens one or many connections to a ws:// or wss:// URL from a single lws
 * event loop (no threads, every delay is an lws_sul timer), optionally sends
 * a few text messages on each, and then either prints what it receives (one
 * message per stdout line) or just counts it.  It can keep a latency
 * histogram from the "local_ts" field of received lines, stop reading to act
 * as a slow client, reconnect with back-off, and write a one-line JSON
 * summary that tests and the benchmark read.
 *
 * Usage and formats: tests/tools/wsclient.md, or `wsclient --help`.
 */

#include "common/tool.h"
#include "seq.h"

#include <libwebsockets.h>
#include <openssl/ssl.h>

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WSCLIENT_VERSION "1.0"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

#define MAX_MSG		(16u * 1024 * 1024)	/* reassembly cap */
#define KEEP_BUF	(1u * 1024 * 1024)	/* larger buffers are freed after use */
#define SCAN_MAX	300			/* bytes searched for "local_ts": */
#define MAX_CLIENTS	1000000
#define MAX_CODES	5000			/* close codes are 1000..4999 */
#define SHUTDOWN_MS	3000			/* wait for our close handshakes */
#define BACKOFF_MIN_MS	200
#define BACKOFF_MAX_MS	2000
#define REASON_MAX	124			/* a close frame carries <= 123 */

/* ------------------------------------------------------------------ */
/* options                                                             */

static struct {
	const char *url;
	long clients;
	long connect_timeout_ms;
	long max_inflight;
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
	int print, prefix, quiet;
	const char *stats;
	long stats_interval_ms;
	long long count;
	long duration_ms;
	int exit_on_close;
	long long stall_after;		/* -1: never */
	long stall_ping_ms;		/* 0: no pings while stalled */
	int reconnect;
	int no_resume;
} opt = {
	.clients = 1, .connect_timeout_ms = 30000, .max_inflight = 200,
	.stats_interval_ms = 1000, .stall_after = -1, .stall_ping_ms = 1000,
};

/* parsed URL */
static struct {
	int tls;
	char host[256];
	int port;
	char path[4096];
} target;

/* ------------------------------------------------------------------ */
/* time and logging                                                    */

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

/* Logging (logm, lq) and the latency histogram (h_add, h_pct), the same as
 * wsload's: tests/tools/common/tool.c. */

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

enum cstate { CS_QUEUED, CS_CONNECTING, CS_OPEN, CS_BACKOFF, CS_DONE };

struct client {
	struct lws *wsi;
	lws_sorted_usec_list_t sul;	/* reconnect back-off */
	uint64_t msgs;			/* over all its connections */
	uint64_t conn_msgs;		/* on the current connection */
	char *buf;			/* fragment reassembly */
	size_t len, cap;
	size_t nsent;			/* --send messages written */
	int idx;
	unsigned backoff_ms;
	uint16_t close_code;
	uint8_t state;
	uint8_t ever;			/* has been connected once */
	uint8_t reached;		/* got --count messages */
	uint8_t stalled;		/* rx flow control off */
	uint8_t closing;		/* our own close is under way */
	uint8_t peer_closed;		/* a close frame came in */
	uint8_t assembling, too_big;
	uint8_t timed_out;		/* abandoned at --connect-timeout */
	uint8_t want_ping;		/* stalled: a ping is due */
	int64_t last_seq;		/* newest stream position received, -1 none */
	char *path;			/* the URL's path, with since= when resuming */
	uint8_t resumed;		/* read again after a stall (--resume-after) */
	lws_sorted_usec_list_t sul_resume;
	char reason[REASON_MAX];
};

static struct client *clients;
static struct lws_context *context;
static volatile sig_atomic_t got_signal;
static volatile sig_atomic_t got_usr1;	/* SIGUSR1: stalled connections read again */

static struct {
	/* live counts of client states */
	long queued, connecting, open, backoff;
	long connected;		/* open, not counting our own final closes */
	long connected_ever, connects, failed, rejected, closed;
	long reconnects, stalled, too_big;
	long resumes;			/* reconnections that asked for since= */
	long gaps;			/* gap lines received */
	long seq_repeats;		/* lines whose position was not above the last one */
	long reached;		/* clients that got --count messages */
	long given_up;		/* finished without getting them */
	uint64_t messages, bytes;
	uint64_t close_codes[MAX_CODES];
	int64_t start_mono, start_wall;
	int64_t first_us, last_us;	/* since start, -1 = none yet */
	int64_t connect_ms;		/* whole initial set open; -1 = not yet */
	int stopping, stop_status, done, destroying;
	int stdout_broken;
} st = { .first_us = -1, .last_us = -1, .connect_ms = -1 };

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
static void set_done(struct client *c);
static void pump_soon(void);
static void check_progress(void);
static void after_connection(struct client *c);

/* ------------------------------------------------------------------ */
/* stats output                                                        */

static void
write_stats_to(FILE *f)
{
	uint64_t mn = 0, mx = 0;
	long i;
	int first = 1;
	unsigned code;
	int64_t now = mono_us();

	for (i = 0; i < opt.clients; i++) {
		uint64_t m = clients[i].msgs;

		if (!i || m < mn)
			mn = m;
		if (m > mx)
			mx = m;
	}
	fprintf(f, "{\"clients\":%ld,\"connected\":%ld,\"connected_ever\":%ld,"
		"\"connects\":%ld,\"failed\":%ld,\"rejected\":%ld,\"closed\":%ld,"
		"\"reconnects\":%ld,\"stalled\":%ld,\"close_codes\":{",
		opt.clients, st.connected, st.connected_ever, st.connects,
		st.failed, st.rejected, st.closed, st.reconnects, st.stalled);
	for (code = 0; code < MAX_CODES; code++) {
		if (!st.close_codes[code])
			continue;
		fprintf(f, "%s\"%u\":%" PRIu64, first ? "" : ",", code,
			st.close_codes[code]);
		first = 0;
	}
	fprintf(f, "},\"messages\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"too_big\":%ld,\"resumes\":%ld,\"gaps\":%ld,\"seq_repeats\":%ld",
		st.messages, st.bytes, st.too_big, st.resumes, st.gaps, st.seq_repeats);
	if (st.first_us >= 0)
		fprintf(f, ",\"first_ms\":%.3f,\"last_ms\":%.3f",
			(double)st.first_us / 1000.0,
			(double)st.last_us / 1000.0);
	else
		fputs(",\"first_ms\":null,\"last_ms\":null", f);
	fprintf(f, ",\"elapsed_ms\":%.3f", (double)(now - st.start_mono) / 1000.0);
	if (st.connect_ms >= 0)
		fprintf(f, ",\"connect_ms\":%" PRId64, st.connect_ms);
	else
		fputs(",\"connect_ms\":null", f);
	fprintf(f, ",\"latency_us\":{\"count\":%" PRIu64 ",\"p50\":%" PRId64
		",\"p90\":%" PRId64 ",\"p99\":%" PRId64 ",\"p999\":%" PRId64
		",\"max\":%" PRId64 "}", hist.count, h_pct(0.50), h_pct(0.90),
		h_pct(0.99), h_pct(0.999), hist.max);
	fprintf(f, ",\"per_client_min\":%" PRIu64 ",\"per_client_max\":%" PRIu64
		"}\n", mn, mx);
}

/* Rewrites the --stats file: a temp file renamed over it, or straight
 * into it when it is not a regular file (/dev/stderr, a fifo). */
static void
write_stats(void)
{
	char tmp[PATH_MAX];
	struct stat sb;
	FILE *f;

	if (!opt.stats)
		return;
	if (!stat(opt.stats, &sb) && !S_ISREG(sb.st_mode)) {
		f = fopen(opt.stats, "w");
		if (!f)
			goto fail;
		write_stats_to(f);
		fclose(f);
		return;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", opt.stats,
			     (int)getpid()) >= sizeof(tmp))
		goto fail;
	f = fopen(tmp, "w");
	if (!f)
		goto fail;
	write_stats_to(f);
	if (fflush(f) || ferror(f)) {
		fclose(f);
		unlink(tmp);
		goto fail;
	}
	fclose(f);
	if (rename(tmp, opt.stats)) {
		unlink(tmp);
		goto fail;
	}
	return;
fail:
	logm(LV_ERROR, "cannot write stats", "path=%s error=\"%s\"", opt.stats,
	     strerror(errno));
}

static void
stats_tick(lws_sorted_usec_list_t *sul)
{
	write_stats();
	if (!st.done)
		lws_sul_schedule(context, 0, &sul_stats, stats_tick,
				 (lws_usec_t)opt.stats_interval_ms * 1000);
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

	if (st.stopping)
		return;
	for (i = 0; i < opt.clients; i++) {
		struct client *c = &clients[i];

		if (c->state == CS_OPEN && c->stalled && c->wsi) {
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
	cq.q[(cq.head + cq.n) % cq.cap] = c->idx;
	cq.n++;
	c->state = CS_QUEUED;
	st.queued++;
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
			st.resumes++;
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
	c->state = CS_CONNECTING;
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
	st.connecting++;
	wsi = lws_client_connect_via_info(&i);
	if (c->state != CS_CONNECTING)
		return;			/* failed inside, already handled */
	if (!wsi) {
		/* failed synchronously without a callback */
		st.connecting--;
		st.failed++;
		logm(LV_WARN, "failed", "client=%d error=\"connect failed\"",
		     c->idx);
		after_connection(c);
		return;
	}
	c->wsi = wsi;
}

static void
pump(lws_sorted_usec_list_t *sul)
{
	while (!st.stopping && cq.n && st.connecting < opt.max_inflight) {
		struct client *c = &clients[cq.q[cq.head]];

		cq.head = (cq.head + 1) % cq.cap;
		cq.n--;
		if (c->state != CS_QUEUED)
			continue;	/* abandoned while waiting */
		st.queued--;
		launch(c);
	}
}

static void
pump_soon(void)
{
	if (!st.stopping && cq.n && st.connecting < opt.max_inflight)
		lws_sul_schedule(context, 0, &sul_pump, pump, 1);
}

static void
reconnect_due(lws_sorted_usec_list_t *sul)
{
	struct client *c = lws_container_of(sul, struct client, sul);

	if (c->state != CS_BACKOFF || st.stopping)
		return;
	st.backoff--;
	queue_push(c);
	pump_soon();
}

/* A client that will not connect again. */
static void
set_done(struct client *c)
{
	c->state = CS_DONE;
	if (!c->reached)
		st.given_up++;
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
	if (opt.reconnect && !st.stopping && !c->timed_out) {
		unsigned ms = c->backoff_ms ? c->backoff_ms : BACKOFF_MIN_MS;
		unsigned jitter = (unsigned)(random() % (ms / 4 + 1));

		c->backoff_ms = ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms * 2;
		c->state = CS_BACKOFF;
		st.backoff++;
		lws_sul_schedule(context, 0, &c->sul, reconnect_due,
				 (lws_usec_t)(ms - ms / 8 + jitter) * 1000);
	} else {
		set_done(c);
	}
	pump_soon();
	check_progress();
}

static void
connect_deadline(lws_sorted_usec_list_t *sul)
{
	long i, n = 0;

	for (i = 0; i < opt.clients; i++) {
		struct client *c = &clients[i];

		if (c->ever || c->state == CS_DONE)
			continue;
		c->timed_out = 1;
		n++;
		logm(LV_WARN, "timeout", "client=%ld error=\"not connected after %ld ms\"",
		     i, opt.connect_timeout_ms);
		switch (c->state) {
		case CS_QUEUED:		/* pump() skips it */
			st.queued--;
			set_done(c);
			st.failed++;
			break;
		case CS_BACKOFF:
			lws_sul_cancel(&c->sul);
			st.backoff--;
			set_done(c);
			st.failed++;
			break;
		case CS_CONNECTING:	/* reported by CONNECTION_ERROR */
			if (c->wsi)
				lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
						LWS_TO_KILL_ASYNC);
			break;
		default:
			break;
		}
	}
	if (n)
		logm(LV_WARN, "connect timeout", "clients=%ld timeout_ms=%ld",
		     n, opt.connect_timeout_ms);
	check_progress();
}

/* ------------------------------------------------------------------ */
/* stopping                                                            */

static void
shutdown_deadline(lws_sorted_usec_list_t *sul)
{
	st.done = 1;
	lws_cancel_service(context);
}

static void
stop(int status, const char *why)
{
	long i;

	if (st.stopping)
		return;
	st.stopping = 1;
	st.stop_status = status;
	logm(LV_INFO, "stopping", "reason=\"%s\"", why);
	lws_sul_cancel(&sul_pump);
	lws_sul_cancel(&sul_duration);
	lws_sul_cancel(&sul_connect_deadline);
	lws_sul_cancel(&sul_stall_ping);
	for (i = 0; i < opt.clients; i++) {
		struct client *c = &clients[i];

		switch (c->state) {
		case CS_QUEUED:
			c->state = CS_DONE;
			break;
		case CS_BACKOFF:
			lws_sul_cancel(&c->sul);
			c->state = CS_DONE;
			break;
		case CS_CONNECTING:
			c->closing = 1;
			if (c->wsi)
				lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
						LWS_TO_KILL_ASYNC);
			break;
		case CS_OPEN:
			c->closing = 1;
			if (c->stalled)
				/* read again so the close handshake can
				 * finish; what arrives is not counted */
				lws_rx_flow_control(c->wsi, 1);
			lws_callback_on_writable(c->wsi);
			break;
		default:
			break;
		}
	}
	st.queued = st.backoff = 0;
	cq.n = 0;
	lws_sul_schedule(context, 0, &sul_shutdown, shutdown_deadline,
			 (lws_usec_t)SHUTDOWN_MS * 1000);
	check_progress();
}

static void
duration_up(lws_sorted_usec_list_t *sul)
{
	stop(EXIT_OK, "duration");
}

/* Called after every state change: decides whether the run is over. */
static void
check_progress(void)
{
	if (st.stopping) {
		if (!st.connecting && !st.open) {
			st.done = 1;
			lws_cancel_service(context);
		}
		return;
	}
	if (!st.queued && !st.connecting && !st.open && !st.backoff) {
		stop(EXIT_OK, "all connections closed");
		return;
	}
	if (opt.exit_on_close && !st.queued && !st.connecting && !st.open &&
	    st.connects) {
		stop(EXIT_OK, "all connections closed");
		return;
	}
	if (opt.count > 0 && st.reached && st.reached + st.given_up >= opt.clients)
		stop(EXIT_OK, "count reached");
}

/* ------------------------------------------------------------------ */
/* receiving                                                           */

static void
out_line(struct client *c, const char *p, size_t len)
{
	if (st.stdout_broken)
		return;
	if (opt.prefix)
		fprintf(stdout, "%d ", c->idx);
	fwrite(p, 1, len, stdout);
	putc('\n', stdout);
	if (fflush(stdout) || ferror(stdout)) {
		st.stdout_broken = 1;
		if (errno == EPIPE) {
			stop(EXIT_OK, "stdout closed");
		} else {
			logm(LV_ERROR, "stdout write failed", "error=\"%s\"",
			     strerror(errno));
			stop(EXIT_RUNTIME, "stdout write failed");
		}
	}
}

/* Latency from the "local_ts":<us> field, searched in the first bytes. */
static inline void
scan_latency(const char *p, size_t len, int64_t now_wall)
{
	static const char key[] = "\"local_ts\":";
	const char *q, *end = p + len;
	int64_t v = 0;
	int nd = 0;

	q = memmem(p, len < SCAN_MAX ? len : SCAN_MAX, key, sizeof(key) - 1);
	if (!q)
		return;
	q += sizeof(key) - 1;
	while (q < end && *q == ' ')
		q++;
	while (q < end && *q >= '0' && *q <= '9' && nd < 18) {
		v = v * 10 + (*q++ - '0');
		nd++;
	}
	if (!nd || !v)
		return;		/* 0: a placeholder, not a time */
	h_add(now_wall - v);
}

/* A stalled connection reads again, for good (--resume-after, SIGUSR1). */
static void
resume(struct client *c)
{
	if (c->state != CS_OPEN || !c->stalled || !c->wsi || c->closing)
		return;
	lws_sul_cancel(&c->sul_resume);
	c->stalled = 0;
	c->resumed = 1;
	c->want_ping = 0;
	lws_rx_flow_control(c->wsi, 1);
	logm(LV_INFO, "resumed", "client=%d messages=%" PRIu64, c->idx,
	     c->conn_msgs);
}

static void
resume_due(lws_sorted_usec_list_t *sul)
{
	resume(lws_container_of(sul, struct client, sul_resume));
}

static void
resume_all(void)
{
	long i;

	got_usr1 = 0;
	for (i = 0; i < opt.clients; i++)
		resume(&clients[i]);
}

/* The connection stops reading (--no-read, --stall-after). */
static void
stall(struct client *c, struct lws *wsi)
{
	c->stalled = 1;
	st.stalled++;
	lws_rx_flow_control(wsi, 0);
	logm(LV_DEBUG, "stalled", "client=%d messages=%" PRIu64, c->idx,
	     c->conn_msgs);
	if (opt.resume_after_ms)
		lws_sul_schedule(context, 0, &c->sul_resume, resume_due,
				 (lws_usec_t)opt.resume_after_ms * 1000);
}

/* One whole message. */
static void
on_message(struct client *c, const char *p, size_t len)
{
	c->msgs++;
	c->conn_msgs++;
	st.messages++;
	st.bytes += len;
	int64_t seq = seq_of_line(p, len);
	if (len > 30 && !memcmp(p, "{\"type\":\"status\",\"event\":\"gap\"", 30)) {
		st.gaps++;
		logm(LV_WARN, "gap", "client=%d line=%.*s", c->idx, (int)(len > 300 ? 300 : len), p);
	} else if (seq >= 0) {
		/* a node's own notice repeats the position before it; a stream line never does */
		if (seq <= c->last_seq && memcmp(p, "{\"type\":\"status\"", 16))
			st.seq_repeats++;
		if (seq > c->last_seq)
			c->last_seq = seq;
	}
	if (stats_on) {
		int64_t now = wall_us();
		int64_t rel = now - st.start_wall;

		if (st.first_us < 0)
			st.first_us = rel;
		st.last_us = rel;
		scan_latency(p, len, now);
	}
	if (opt.print)
		out_line(c, p, len);
	if (opt.count > 0 && !c->reached && c->msgs >= (uint64_t)opt.count) {
		c->reached = 1;
		st.reached++;
		if (st.reached + st.given_up >= opt.clients)
			check_progress();
	}
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
		if (c->len + len > MAX_MSG) {
			c->too_big = 1;
		} else if (c->len + len > c->cap) {
			size_t ncap = c->cap ? c->cap : 4096;
			size_t want = c->len + len;
			size_t rem = lws_remaining_packet_payload(wsi);
			char *nb;

			if (want + rem <= MAX_MSG && want + rem > want)
				want += rem;
			while (ncap < want)
				ncap *= 2;
			if (ncap > MAX_MSG)
				ncap = MAX_MSG;
			nb = realloc(c->buf, ncap);
			if (!nb) {
				c->too_big = 1;
			} else {
				c->buf = nb;
				c->cap = ncap;
			}
		}
		if (!c->too_big) {
			memcpy(c->buf + c->len, in, len);
			c->len += len;
		} else {
			c->len += len;
		}
	} else {
		c->len += len;
	}
	if (!final)
		return;
	if (c->too_big) {
		st.too_big++;
		logm(LV_ERROR, "message too big", "client=%d bytes=%zu limit=%u",
		     c->idx, c->len, MAX_MSG);
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
	char ebuf[300];

	if (c->state != CS_CONNECTING || (c->wsi && c->wsi != wsi))
		return;
	st.connecting--;
	if (c->closing) {
		/* our stop() killed it */
		c->state = CS_DONE;
		c->wsi = NULL;
		check_progress();
		return;
	}
	st.failed++;
	if (c->timed_out) {
		/* already logged by connect_deadline() */
	} else if (status && status != 101) {
		/* the upgrade was answered with another HTTP status */
		st.rejected++;
		logm(LV_WARN, "rejected", "client=%d status=%u", c->idx, status);
	} else {
		if (!err)
			err = "unknown";
		logm(LV_WARN, "failed", "client=%d error=%s", c->idx,
		     lq(ebuf, sizeof(ebuf), err, strlen(err)));
	}
	after_connection(c);
}

static void
on_established(struct client *c, struct lws *wsi)
{
	if (c->state != CS_CONNECTING)
		return;
	c->wsi = wsi;
	st.connecting--;
	st.open++;
	st.connected++;
	st.connects++;
	c->state = CS_OPEN;
	c->backoff_ms = 0;
	tail_reset(lws_get_socket_fd(wsi));
	if (opt.rcvbuf) {
		int v = (int)opt.rcvbuf;

		/* set, the size is fixed: the kernel no longer grows it */
		if (setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_RCVBUF,
			       &v, sizeof(v)))
			logm(LV_WARN, "cannot set SO_RCVBUF", "client=%d error=\"%s\"",
			     c->idx, strerror(errno));
	}
	pump_soon();
	if (!c->ever) {
		c->ever = 1;
		st.connected_ever++;
		if (st.connected_ever == opt.clients) {
			st.connect_ms = (mono_us() - st.start_mono) / 1000;
			logm(LV_INFO, "all connected", "clients=%ld ms=%" PRId64,
			     opt.clients, st.connect_ms);
		}
	} else {
		st.reconnects++;
		logm(LV_INFO, "reconnected", "client=%d", c->idx);
	}
	logm(LV_DEBUG, "connected", "client=%d", c->idx);
	if (opt.stall_after == 0)
		stall(c, wsi);
	if (opt.nsends)
		lws_callback_on_writable(wsi);
	if (st.stopping) {
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
		logm(LV_ERROR, "send failed", "client=%d", c->idx);
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
	char rbuf[REASON_MAX * 2 + 4];
	unsigned code;

	if (c->state != CS_OPEN || c->wsi != wsi)
		return;
	st.open--;
	if (c->closing && st.stopping) {
		/* our own close at the end of the run */
		c->state = CS_DONE;
		c->wsi = NULL;
		check_progress();
		return;
	}
	st.connected--;
	st.closed++;
	code = c->peer_closed ? c->close_code : 1006;
	if (code < MAX_CODES)
		st.close_codes[code]++;
	logm(LV_INFO, "closed", "client=%d code=%u reason=%s", c->idx, code,
	     lq(rbuf, sizeof(rbuf), c->reason, strlen(c->reason)));
	after_connection(c);
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
	 void *in, size_t len)
{
	struct client *c;

	if (st.destroying)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (got_signal && !st.stopping)
			stop(EXIT_OK, got_signal == SIGINT ? "SIGINT" : "SIGTERM");
		if (got_usr1 && !st.stopping)
			resume_all();
		return 0;
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
			if (c->state == CS_OPEN)
				on_closed(c, wsi);
			else if (c->state == CS_CONNECTING)
				on_connection_error(c, wsi, "closed before established");
			c->wsi = NULL;
		}
		return 0;
	default:
		return 0;
	}
}

static struct lws_protocols protocols[] = {
	{ "wsclient", callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ------------------------------------------------------------------ */
/* setup                                                               */

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_signal = sig;
	if (context)
		lws_cancel_service(context);
}

static int
parse_url(const char *url)
{
	const char *p, *h, *he;
	size_t n;

	if (!strncasecmp(url, "ws://", 5)) {
		target.tls = 0;
		p = url + 5;
	} else if (!strncasecmp(url, "wss://", 6)) {
		target.tls = 1;
		p = url + 6;
	} else {
		return -1;
	}
	target.port = target.tls ? 443 : 80;
	if (*p == '[') {
		h = p + 1;
		he = strchr(h, ']');
		if (!he)
			return -1;
		p = he + 1;
	} else {
		h = p;
		he = p + strcspn(p, ":/?#");
		p = he;
	}
	n = (size_t)(he - h);
	if (!n || n >= sizeof(target.host))
		return -1;
	memcpy(target.host, h, n);
	target.host[n] = '\0';
	if (*p == ':') {
		char *e;
		long port;

		errno = 0;
		port = strtol(p + 1, &e, 10);
		if (errno || e == p + 1 || port < 1 || port > 65535)
			return -1;
		target.port = (int)port;
		p = e;
	}
	if (*p && *p != '/' && *p != '?')
		return -1;
	if (snprintf(target.path, sizeof(target.path), "%s%s",
		     *p == '/' ? "" : "/", p) >= (int)sizeof(target.path))
		return -1;
	/* no fragment on the wire */
	target.path[strcspn(target.path, "#")] = '\0';
	return 0;
}

static int
parse_num(const char *s, long long lo, long long hi, long long *out)
{
	char *e;
	long long v;

	errno = 0;
	v = strtoll(s, &e, 10);
	if (errno || e == s || *e || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

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
 * rules (--unmasked, --send-close with any code): FIN, OPCODE, and the
 * payload P, masked with a fixed key unless MASKED is 0.  Added to the sends
 * as raw bytes.
 */
static int
add_frame(int opcode, const unsigned char *p, size_t len, int masked)
{
	static const unsigned char key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	unsigned char *f = malloc(len + 14);
	size_t h = 0, i;
	int rc;

	if (!f)
		return -1;
	f[h++] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		f[h++] = (unsigned char)((masked ? 0x80 : 0) | len);
	} else if (len < 65536) {
		f[h++] = (unsigned char)((masked ? 0x80 : 0) | 126);
		f[h++] = (unsigned char)(len >> 8);
		f[h++] = (unsigned char)len;
	} else {
		f[h++] = (unsigned char)((masked ? 0x80 : 0) | 127);
		for (i = 0; i < 8; i++)
			f[h++] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	if (masked) {
		memcpy(f + h, key, 4);
		h += 4;
	}
	for (i = 0; i < len; i++)
		f[h + i] = masked ? p[i] ^ key[i & 3] : p[i];
	rc = add_send_as((char *)f, h + len, 1);
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
"  URL                     ws://HOST[:PORT]/PATH?QUERY or wss://...\n"
"  -n, --clients N         open N connections (default 1)\n"
"      --max-inflight N    at most N handshakes at once (default 200)\n"
"      --connect-timeout MS  the whole set must connect within MS (default 30000)\n"
"      --ca FILE           trust this CA for wss:// (verification is on)\n"
"  -k, --insecure          do not verify the server certificate\n"
"  -H, --header 'N: v'     extra upgrade header (repeatable)\n"
"  -s, --send TEXT         send TEXT after connecting (repeatable, in order)\n"
"      --send-file FILE    send each non-empty line of FILE after connecting\n"
"  -p, --print             print messages even with several clients\n"
"      --prefix            print '<client-index> <message>'\n"
"  -q, --quiet             do not print messages\n"
"      --stats FILE        write a JSON summary every interval and at exit\n"
"      --stats-interval MS (default 1000)\n"
"      --count N           exit when every client has received N messages\n"
"      --duration MS       exit after MS\n"
"      --exit-on-close     exit when no connection is open (even with --reconnect)\n"
"      --no-read           never read (same as --stall-after 0)\n"
"      --stall-after N     stop reading after N messages on a connection\n"
"      --stall-ping MS     while not reading, ping every MS so a server-side\n"
"                          close is noticed (default 1000, 0 = never)\n"
"      --resume-after MS   a stalled connection reads again after MS (SIGUSR1:\n"
"                          every stalled connection reads again now)\n"
"      --send-raw HEX      send these bytes as they are, in order with -s\n"
"      --send-close CODE   send a close frame with CODE (any 0..65535), in order\n"
"      --unmasked          send the -s messages as unmasked frames\n"
"      --rcvbuf BYTES      fixed socket receive buffer (no autotuning), so a\n"
"                          stalled connection fills the server's socket sooner\n"
"      --reconnect         reconnect closed connections (200 ms .. 2 s back-off),\n"
"                          resuming after the newest stream position received\n"
"      --no-resume         reconnect without asking to resume (live data from then)\n"
"  -h, --help              this text\n"
"Messages are printed by default only with one client. Logs go to stderr.\n"
"Exit: 0 ok, 1 runtime failure (a client never connected, stdout error),\n"
"2 usage.  SIGINT/SIGTERM close every connection (1000) and exit 0.\n"
"SIGUSR1 makes stalled connections read again.\n"
"LOG_LEVEL=debug|info|warn|error (default info).\n", f);
}

enum {
	O_CONNECT_TIMEOUT = 256, O_CA, O_SEND_FILE, O_PREFIX, O_STATS,
	O_STATS_INTERVAL, O_COUNT, O_DURATION, O_EXIT_ON_CLOSE, O_NO_READ,
	O_STALL_AFTER, O_RECONNECT, O_MAX_INFLIGHT, O_VERSION, O_STALL_PING,
	O_RESUME_AFTER, O_SEND_RAW, O_SEND_CLOSE, O_UNMASKED, O_RCVBUF, O_NO_RESUME,
};

static const struct option long_opts[] = {
	{ "clients", required_argument, NULL, 'n' },
	{ "connect-timeout", required_argument, NULL, O_CONNECT_TIMEOUT },
	{ "max-inflight", required_argument, NULL, O_MAX_INFLIGHT },
	{ "ca", required_argument, NULL, O_CA },
	{ "insecure", no_argument, NULL, 'k' },
	{ "header", required_argument, NULL, 'H' },
	{ "send", required_argument, NULL, 's' },
	{ "send-file", required_argument, NULL, O_SEND_FILE },
	{ "print", no_argument, NULL, 'p' },
	{ "prefix", no_argument, NULL, O_PREFIX },
	{ "quiet", no_argument, NULL, 'q' },
	{ "stats", required_argument, NULL, O_STATS },
	{ "stats-interval", required_argument, NULL, O_STATS_INTERVAL },
	{ "count", required_argument, NULL, O_COUNT },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "exit-on-close", no_argument, NULL, O_EXIT_ON_CLOSE },
	{ "no-read", no_argument, NULL, O_NO_READ },
	{ "stall-after", required_argument, NULL, O_STALL_AFTER },
	{ "stall-ping", required_argument, NULL, O_STALL_PING },
	{ "resume-after", required_argument, NULL, O_RESUME_AFTER },
	{ "send-raw", required_argument, NULL, O_SEND_RAW },
	{ "send-close", required_argument, NULL, O_SEND_CLOSE },
	{ "unmasked", no_argument, NULL, O_UNMASKED },
	{ "rcvbuf", required_argument, NULL, O_RCVBUF },
	{ "reconnect", no_argument, NULL, O_RECONNECT },
	{ "no-resume", no_argument, NULL, O_NO_RESUME },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 }
};

static int
bad_arg(const char *name, const char *val)
{
	fprintf(stderr, "wsclient: bad value for %s: '%s'\n", name, val);
	fputs("Try 'wsclient --help'.\n", stderr);
	return EXIT_USAGE;
}

static int
parse_args(int argc, char **argv)
{
	int ch, print_flag = 0;
	long long v;

	while ((ch = getopt_long(argc, argv, "n:kH:s:pqh", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (parse_num(optarg, 1, MAX_CLIENTS, &v))
				return bad_arg("--clients", optarg);
			opt.clients = (long)v;
			break;
		case O_CONNECT_TIMEOUT:
			if (parse_num(optarg, 1, 86400000LL, &v))
				return bad_arg("--connect-timeout", optarg);
			opt.connect_timeout_ms = (long)v;
			break;
		case O_MAX_INFLIGHT:
			if (parse_num(optarg, 1, 100000, &v))
				return bad_arg("--max-inflight", optarg);
			opt.max_inflight = (long)v;
			break;
		case O_CA:
			if (access(optarg, R_OK)) {
				fprintf(stderr, "wsclient: --ca %s: %s\n", optarg,
					strerror(errno));
				return EXIT_USAGE;
			}
			opt.ca = optarg;
			break;
		case 'k':
			opt.insecure = 1;
			break;
		case 'H':
			if (add_header(optarg))
				return bad_arg("--header", optarg);
			break;
		case 's':
			if (add_send(optarg, strlen(optarg)))
				return EXIT_RUNTIME;
			break;
		case O_SEND_FILE:
			if (add_send_file(optarg))
				return EXIT_USAGE;
			break;
		case 'p':
			print_flag = 1;
			break;
		case O_PREFIX:
			opt.prefix = 1;
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case O_STATS:
			opt.stats = optarg;
			break;
		case O_STATS_INTERVAL:
			if (parse_num(optarg, 10, 86400000LL, &v))
				return bad_arg("--stats-interval", optarg);
			opt.stats_interval_ms = (long)v;
			break;
		case O_COUNT:
			if (parse_num(optarg, 1, LLONG_MAX, &v))
				return bad_arg("--count", optarg);
			opt.count = v;
			break;
		case O_DURATION:
			if (parse_num(optarg, 1, 86400000LL * 365, &v))
				return bad_arg("--duration", optarg);
			opt.duration_ms = (long)v;
			break;
		case O_EXIT_ON_CLOSE:
			opt.exit_on_close = 1;
			break;
		case O_NO_READ:
			opt.stall_after = 0;
			break;
		case O_STALL_AFTER:
			if (parse_num(optarg, 0, LLONG_MAX, &v))
				return bad_arg("--stall-after", optarg);
			opt.stall_after = v;
			break;
		case O_STALL_PING:
			if (parse_num(optarg, 0, 86400000LL, &v))
				return bad_arg("--stall-ping", optarg);
			opt.stall_ping_ms = (long)v;
			break;
		case O_RESUME_AFTER:
			if (parse_num(optarg, 1, 86400000LL, &v))
				return bad_arg("--resume-after", optarg);
			opt.resume_after_ms = (long)v;
			break;
		case O_SEND_RAW:
			if (add_send_hex(optarg))
				return bad_arg("--send-raw", optarg);
			break;
		case O_SEND_CLOSE: {
			unsigned char code[2];

			if (parse_num(optarg, 0, 65535, &v))
				return bad_arg("--send-close", optarg);
			code[0] = (unsigned char)(v >> 8);
			code[1] = (unsigned char)v;
			if (add_frame(8, code, 2, 1))
				return EXIT_RUNTIME;
			break;
		}
		case O_UNMASKED:
			opt.unmasked = 1;
			break;
		case O_RCVBUF:
			if (parse_num(optarg, 1024, 1 << 30, &v))
				return bad_arg("--rcvbuf", optarg);
			opt.rcvbuf = (long)v;
			break;
		case O_NO_RESUME:
			opt.no_resume = 1;
			break;
		case O_RECONNECT:
			opt.reconnect = 1;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case O_VERSION:
			printf("wsclient %s (libwebsockets %s)\n", WSCLIENT_VERSION,
			       lws_get_library_version());
			exit(EXIT_OK);
		default:
			fputs("Try 'wsclient --help'.\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "wsclient: %s\n", optind < argc ?
			"exactly one URL expected" : "missing URL");
		fputs("Try 'wsclient --help'.\n", stderr);
		return EXIT_USAGE;
	}
	opt.url = argv[optind];
	if (parse_url(opt.url)) {
		fprintf(stderr, "wsclient: bad URL '%s' (want ws:// or wss://HOST[:PORT][/PATH])\n",
			opt.url);
		return EXIT_USAGE;
	}
	if (opt.ca && opt.insecure) {
		fputs("wsclient: --ca and --insecure exclude each other\n", stderr);
		return EXIT_USAGE;
	}
	if (opt.unmasked && unmask_sends())
		return EXIT_RUNTIME;
	opt.print = !opt.quiet && (opt.clients == 1 || print_flag || opt.prefix);
	return -1;
}

static void
raise_fd_limit(struct rlimit *rl)
{
	if (getrlimit(RLIMIT_NOFILE, rl))
		return;
	if (rl->rlim_cur < rl->rlim_max) {
		rlim_t want = rl->rlim_max;

		if (want == RLIM_INFINITY || want > (1u << 20))
			want = 1u << 20;
		if (want > rl->rlim_cur) {
			struct rlimit nr = { want, rl->rlim_max };

			if (!setrlimit(RLIMIT_NOFILE, &nr))
				rl->rlim_cur = want;
		}
	}
	if ((long long)rl->rlim_cur < opt.clients + 32)
		logm(LV_WARN, "fd limit too low for the clients",
		     "limit=%llu clients=%ld", (unsigned long long)rl->rlim_cur,
		     opt.clients);
}

int
main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct sigaction sa;
	struct rlimit rl = { 0, 0 };
	long i;
	int rc;

	rc = parse_args(argc, argv);
	if (rc >= 0)
		return rc;
	tool_log_init("wsclient");

	raise_fd_limit(&rl);
	clients = calloc((size_t)opt.clients, sizeof(*clients));
	cq.cap = (size_t)opt.clients;
	cq.q = calloc(cq.cap, sizeof(*cq.q));
	send_scratch = malloc(LWS_PRE + opt.send_max + 1);
	ntails = (int)(opt.clients * 2 + 256);
	if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)ntails > rl.rlim_cur)
		ntails = (int)rl.rlim_cur;
	tails = calloc((size_t)ntails, sizeof(*tails));
	if (!clients || !cq.q || !send_scratch || !tails) {
		logm(LV_ERROR, "out of memory", NULL);
		return EXIT_RUNTIME;
	}
	stats_on = opt.stats != NULL;
	srandom((unsigned)(getpid() ^ (unsigned)mono_us()));

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* big frames arrive in fewer pieces, but each connection holds one
	 * buffer of this size: keep it small when there are many */
	protocols[0].rx_buffer_size = opt.clients <= 16 ? 65536 :
				      opt.clients <= 500 ? 16384 : 4096;

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
	if (rl.rlim_cur && rl.rlim_cur != RLIM_INFINITY)
		info.fd_limit_per_thread = (unsigned)(rl.rlim_cur > (1u << 20) ?
						      (1u << 20) : rl.rlim_cur);
	context = lws_create_context(&info);
	if (!context) {
		logm(LV_ERROR, "cannot create the lws context", NULL);
		return EXIT_RUNTIME;
	}
	if (got_signal)
		lws_cancel_service(context);

	st.start_mono = mono_us();
	st.start_wall = wall_us();
	for (i = 0; i < opt.clients; i++) {
		clients[i].idx = (int)i;
		clients[i].last_seq = -1;
		queue_push(&clients[i]);
	}
	logm(LV_INFO, "starting", "url=\"%s\" clients=%ld", opt.url, opt.clients);
	lws_sul_schedule(context, 0, &sul_pump, pump, 1);
	lws_sul_schedule(context, 0, &sul_connect_deadline, connect_deadline,
			 (lws_usec_t)opt.connect_timeout_ms * 1000);
	if (opt.duration_ms)
		lws_sul_schedule(context, 0, &sul_duration, duration_up,
				 (lws_usec_t)opt.duration_ms * 1000);
	if (opt.stats)
		lws_sul_schedule(context, 0, &sul_stats, stats_tick,
				 (lws_usec_t)opt.stats_interval_ms * 1000);
	if (opt.stall_after >= 0 && opt.stall_ping_ms)
		lws_sul_schedule(context, 0, &sul_stall_ping, stall_ping_tick,
				 (lws_usec_t)opt.stall_ping_ms * 1000);

	while (!st.done) {
		if (got_signal && !st.stopping)
			stop(EXIT_OK, got_signal == SIGINT ? "SIGINT" : "SIGTERM");
		if (got_usr1 && !st.stopping)
			resume_all();
		if (lws_service(context, 0) < 0)
			break;
	}
	st.done = 1;

	rc = st.stop_status;
	if (!got_signal && rc == EXIT_OK) {
		long never = 0;

		for (i = 0; i < opt.clients; i++)
			if (!clients[i].ever)
				never++;
		if (never) {
			logm(LV_ERROR, "some clients never connected",
			     "clients=%ld", never);
			rc = EXIT_RUNTIME;
		}
	}
	if (st.open || st.connecting)
		logm(LV_WARN, "closing handshakes unfinished", "open=%ld",
		     st.open + st.connecting);
	write_stats();
	{
		uint64_t mn = 0, mx = 0;

		for (i = 0; i < opt.clients; i++) {
			if (!i || clients[i].msgs < mn)
				mn = clients[i].msgs;
			if (clients[i].msgs > mx)
				mx = clients[i].msgs;
		}
		logm(LV_INFO, "done",
		     "clients=%ld connected_ever=%ld failed=%ld rejected=%ld closed=%ld "
		     "reconnects=%ld messages=%" PRIu64 " bytes=%" PRIu64
		     " per_client_min=%" PRIu64 " per_client_max=%" PRIu64
		     " elapsed_ms=%" PRId64 " status=%d",
		     opt.clients, st.connected_ever, st.failed, st.rejected,
		     st.closed, st.reconnects, st.messages, st.bytes, mn, mx,
		     (mono_us() - st.start_mono) / 1000, rc);
	}
	fflush(stdout);

	st.destroying = 1;
	lws_context_destroy(context);
	context = NULL;
	for (i = 0; i < opt.clients; i++)
		free(clients[i].buf);
	for (i = 0; i < opt.clients; i++)
		free(clients[i].path);
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
