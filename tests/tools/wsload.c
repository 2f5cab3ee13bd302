/*
 * wsload: a light WebSocket load client for fan-out benchmarks.
 *
 * Opens many ws:// connections from one thread and one epoll loop, and
 * counts what they receive.  It keeps the same statistics as wsclient (the
 * same JSON summary and latency histogram) at a fraction of the cost per
 * message: plain non-blocking sockets, one shared read buffer, frames parsed
 * where they lie, and one clock read per read() rather than per message.
 * No TLS, no sending, no reconnects: tests/tools/wsload.md says why and what
 * it leaves to wsclient.
 *
 * Usage and formats: tests/tools/wsload.md, or `wsload --help`.
 */

#include "clock.h"
#include "common/tool.h"
#include "exitcode.h"
#include "opt.h"
#include "sig.h"

#include <openssl/evp.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WSLOAD_VERSION	"1.0"

#define RBUF_SIZE	(256u * 1024)		/* the one read buffer */
#define MAX_MSG		(16u * 1024 * 1024)	/* bigger messages: too_big */
#define SCAN_MAX	300u			/* bytes searched for "local_ts": */
#define MAX_CLIENTS	1000000
#define MAX_CODES	5000			/* close codes are 1000..4999 */
#define SHUTDOWN_MS	3000			/* wait for our close handshakes */
#define HS_MAX		8192			/* longest upgrade response */
#define OUT_MAX		65536			/* unsent control frames per connection */
#define REASON_MAX	124			/* a close frame carries <= 123 */
#define MAX_EVENTS	512
#define SIG_TAG		UINT64_MAX		/* epoll tag of the signal pipe */

enum {
	OP_CONT = 0x0, OP_TEXT = 0x1, OP_BINARY = 0x2,
	OP_CLOSE = 0x8, OP_PING = 0x9, OP_PONG = 0xa,
};

/* ------------------------------------------------------------------ */
/* options                                                             */

static struct {
	const char *url;
	long clients;
	long connect_timeout_ms;
	long max_inflight;
	int print;			/* client 0's messages on stdout */
	const char *stats;
	long stats_interval_ms;
	long long count;
	long duration_ms;
} opt = {
	.clients = 1, .connect_timeout_ms = 30000, .max_inflight = 200,
	.stats_interval_ms = 1000,
};

/* parsed URL */
static struct {
	char host[256];
	int port;
	char path[4096];
	char host_header[300];		/* host[:port], IPv6 in brackets */
	struct sockaddr_storage addr;
	socklen_t addrlen;
} target;

/* Logging (logm, lq) and the latency histogram (h_add, h_pct), the same as
 * wsclient's: tests/tools/common/tool.c. */

/* ------------------------------------------------------------------ */
/* state                                                               */

/*
 * A connection goes QUEUED -> CONNECTING (TCP) -> HANDSHAKE (upgrade sent)
 * -> OPEN, and ends in DONE.  CLOSING is an open connection that we are
 * closing at the end of the run: what it receives is read and dropped until
 * the server hangs up.  Every change goes through set_state(), which keeps
 * the count of connections in each state.
 */
enum cstate { CS_QUEUED, CS_CONNECTING, CS_HANDSHAKE, CS_OPEN, CS_CLOSING,
	      CS_DONE, CS_NSTATES };

struct conn {
	int fd;
	int idx;
	uint8_t state;
	uint8_t ever;			/* has been open */
	uint8_t reached;		/* got --count messages */
	uint8_t want_out;		/* EPOLLOUT is armed */
	/* frame parser: a frame's header may be split across reads */
	uint8_t hlen;			/* header bytes held in hdr */
	uint8_t hdr[14];
	uint8_t in_frame;		/* a frame's payload is coming */
	uint8_t opcode, fin;
	uint8_t in_msg;			/* a data message is being received */
	uint8_t too_big;
	uint8_t clen;			/* control payload held in ctl */
	uint16_t plen;			/* message prefix held in pre */
	uint64_t remain;		/* payload bytes of the frame still due */
	uint64_t mlen;			/* bytes of the message so far */
	uint64_t msgs;
	/* the upgrade: our key, then the response as it arrives */
	char key[25];
	char *hs;
	size_t hs_len;
	/* control frames the socket did not take at once */
	unsigned char *out;
	size_t out_len;
	/* the printed client's message, reassembled (--print) */
	char *pbuf;
	size_t pcap;
	unsigned char ctl[125];
	char pre[SCAN_MAX];		/* first bytes of a split message */
};

static struct conn *conns;
static int epfd = -1;
static unsigned char *rbuf;

static struct {
	long nstate[CS_NSTATES];
	long next_queued;		/* index of the next client to launch */
	long connected;			/* open, not counting our own final closes */
	long connected_ever, connects, failed, rejected, closed, too_big;
	long reached;			/* clients that got --count messages */
	long given_up;			/* finished without getting them */
	uint64_t messages, bytes;
	uint64_t close_codes[MAX_CODES];
	int64_t start_mono, start_wall;
	int64_t first_us, last_us;	/* since start, -1 = none yet */
	int64_t connect_ms;		/* every client open; -1 = not yet */
	int64_t next_stats, end_at, connect_deadline, shutdown_at;
	int stopping, stop_status, done, got_signal;
	int stdout_broken;
} st = { .first_us = -1, .last_us = -1, .connect_ms = -1 };

static uint64_t prng_state;

/* xorshift64*: masks and keys need to be unpredictable to a proxy's cache,
 * not secret. */
static uint64_t
prng(void)
{
	uint64_t x = prng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	prng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void stop(int status, const char *why);

static void
set_state(struct conn *c, enum cstate s)
{
	st.nstate[c->state]--;
	st.nstate[s]++;
	c->state = (uint8_t)s;
}

static long
inflight(void)
{
	return st.nstate[CS_CONNECTING] + st.nstate[CS_HANDSHAKE];
}

/* ------------------------------------------------------------------ */
/* stats output                                                        */

static void
write_stats_to(FILE *f)
{
	uint64_t mn = 0, mx = 0;
	long i;
	int first = 1;
	unsigned code;
	int64_t now = clk_mono_us();

	for (i = 0; i < opt.clients; i++) {
		uint64_t m = conns[i].msgs;

		if (!i || m < mn)
			mn = m;
		if (m > mx)
			mx = m;
	}
	fprintf(f, "{\"clients\":%ld,\"connected\":%ld,\"connected_ever\":%ld,"
		"\"connects\":%ld,\"failed\":%ld,\"rejected\":%ld,\"closed\":%ld,"
		"\"reconnects\":0,\"stalled\":0,\"close_codes\":{",
		opt.clients, st.connected, st.connected_ever, st.connects,
		st.failed, st.rejected, st.closed);
	for (code = 0; code < MAX_CODES; code++) {
		if (!st.close_codes[code])
			continue;
		fprintf(f, "%s\"%u\":%" PRIu64, first ? "" : ",", code,
			st.close_codes[code]);
		first = 0;
	}
	fprintf(f, "},\"messages\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"too_big\":%ld", st.messages, st.bytes, st.too_big);
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

/* ------------------------------------------------------------------ */
/* sockets                                                             */

static void
arm(struct conn *c, uint32_t events, int op)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = (uint64_t)c->idx;
	if (epoll_ctl(epfd, op, c->fd, &ev))
		logm(LV_ERROR, "epoll_ctl failed", "client=%d error=\"%s\"",
		     c->idx, strerror(errno));
	c->want_out = (events & EPOLLOUT) != 0;
}

/* Ends a connection for good: it will not be opened again. */
static void
conn_end(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);	/* also leaves the epoll set */
	c->fd = -1;
	free(c->hs);
	c->hs = NULL;
	free(c->out);
	c->out = NULL;
	c->out_len = 0;
	free(c->pbuf);
	c->pbuf = NULL;
	c->pcap = 0;
	set_state(c, CS_DONE);
	if (!c->reached)
		st.given_up++;
}

/*
 * Sends bytes that must go whole (a handshake, a control frame).  What the
 * socket does not take now waits in c->out for EPOLLOUT.  Returns -1 when
 * the socket failed or too much is waiting already (the caller drops it).
 */
static int
conn_send(struct conn *c, const void *p, size_t n)
{
	unsigned char *nb;
	ssize_t w = 0;

	if (!c->out_len) {
		w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			w = 0;
		}
		if ((size_t)w == n)
			return 0;
	}
	if (c->out_len + (n - (size_t)w) > OUT_MAX)
		return -1;
	nb = realloc(c->out, c->out_len + (n - (size_t)w));
	if (!nb)
		return -1;
	c->out = nb;
	memcpy(c->out + c->out_len, (const unsigned char *)p + w, n - (size_t)w);
	c->out_len += n - (size_t)w;
	if (!c->want_out)
		arm(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
	return 0;
}

/* Writes what waits in c->out; 0, or -1 when the socket failed. */
static int
conn_flush(struct conn *c)
{
	ssize_t w;

	while (c->out_len) {
		w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		memmove(c->out, c->out + w, c->out_len - (size_t)w);
		c->out_len -= (size_t)w;
	}
	free(c->out);
	c->out = NULL;
	arm(c, EPOLLIN, EPOLL_CTL_MOD);
	return 0;
}

/* A masked control frame, as a client must send it; returns its size. */
static size_t
ctl_frame(unsigned char *dst, unsigned opcode, const unsigned char *pl,
	  size_t n)
{
	uint32_t m = (uint32_t)prng();
	unsigned char mask[4];
	size_t i;

	mask[0] = (unsigned char)(m >> 24);
	mask[1] = (unsigned char)(m >> 16);
	mask[2] = (unsigned char)(m >> 8);
	mask[3] = (unsigned char)m;
	dst[0] = (unsigned char)(0x80 | opcode);
	dst[1] = (unsigned char)(0x80 | n);
	memcpy(dst + 2, mask, 4);
	for (i = 0; i < n; i++)
		dst[6 + i] = pl[i] ^ mask[i & 3];
	return 6 + n;
}

/* Sends a close frame with CODE (0: none), best effort: the connection is
 * about to end, and a pong still waiting would be cut by it. */
static void
send_close(struct conn *c, unsigned code)
{
	unsigned char f[8], pl[2];
	size_t n;

	if (c->out_len)
		return;
	pl[0] = (unsigned char)(code >> 8);
	pl[1] = (unsigned char)code;
	n = ctl_frame(f, OP_CLOSE, pl, code ? 2 : 0);
	conn_send(c, f, n);
}

/* The open connection C was lost or closed by the peer with CODE. */
static void
peer_gone(struct conn *c, unsigned code, const char *reason, size_t rlen)
{
	char rbuf_q[REASON_MAX * 2 + 4];

	st.connected--;
	st.closed++;
	if (code < MAX_CODES)
		st.close_codes[code]++;
	logm(LV_INFO, "closed", "client=%d code=%u reason=%s", c->idx, code,
	     lq(rbuf_q, sizeof(rbuf_q), reason, rlen));
	conn_end(c);
}

/* A connection attempt that did not make it. */
static void
conn_failed(struct conn *c, const char *err)
{
	char ebuf[300];

	st.failed++;
	logm(LV_WARN, "failed", "client=%d error=%s", c->idx,
	     lq(ebuf, sizeof(ebuf), err, strlen(err)));
	conn_end(c);
}

/* Starts the TCP connection of the next queued client. */
static void
launch(struct conn *c)
{
	int fd, one = 1;

	fd = socket(target.addr.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	set_state(c, CS_CONNECTING);
	if (fd < 0) {
		conn_failed(c, strerror(errno));
		return;
	}
	c->fd = fd;
	/* only small control frames go out: send them at once */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&target.addr, target.addrlen) &&
	    errno != EINPROGRESS) {
		conn_failed(c, strerror(errno));
		return;
	}
	arm(c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void
pump(void)
{
	while (!st.stopping && st.next_queued < opt.clients &&
	       inflight() < opt.max_inflight) {
		struct conn *c = &conns[st.next_queued++];

		if (c->state == CS_QUEUED)
			launch(c);
	}
}

/* ------------------------------------------------------------------ */
/* the upgrade                                                         */

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* base64(SHA-1(key + GUID)) into out (29 bytes); 0 or -1. */
static int
accept_for(const char *key, char *out)
{
	unsigned char in[64], md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t kl = strlen(key);

	if (kl + sizeof(ws_guid) > sizeof(in))
		return -1;
	memcpy(in, key, kl);
	memcpy(in + kl, ws_guid, sizeof(ws_guid) - 1);
	if (!EVP_Digest(in, kl + sizeof(ws_guid) - 1, md, &mdlen, EVP_sha1(),
			NULL) || mdlen != 20)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, md, 20);
	return 0;
}

/* TCP is up: send the upgrade request. */
static void
on_connected(struct conn *c)
{
	char req[5000];
	unsigned char raw[16];
	uint64_t a = prng(), b = prng();
	int err = 0, n;
	socklen_t el = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) || err) {
		conn_failed(c, strerror(err ? err : errno));
		return;
	}
	memcpy(raw, &a, 8);
	memcpy(raw + 8, &b, 8);
	EVP_EncodeBlock((unsigned char *)c->key, raw, 16);
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\n"
		     "\r\n", target.path, target.host_header, c->key);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		conn_failed(c, "request too long");
		return;
	}
	c->hs = malloc(HS_MAX + 1);
	if (!c->hs) {
		conn_failed(c, "out of memory");
		return;
	}
	c->hs_len = 0;
	set_state(c, CS_HANDSHAKE);
	arm(c, EPOLLIN, EPOLL_CTL_MOD);
	if (conn_send(c, req, (size_t)n))
		conn_failed(c, strerror(errno ? errno : EIO));
}

/* Whether the comma-separated header value v (n bytes) holds token tok. */
static int
has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && !strncasecmp(v + s, tok, tl))
			return 1;
	}
	return 0;
}

static void open_conn(struct conn *c);
static void on_bytes(struct conn *c, const unsigned char *p, size_t n,
		     int64_t now);

/*
 * Checks the upgrade response held in c->hs (hl bytes of header, blank line
 * included).  Returns 0 when the connection is a WebSocket now, or -1 once
 * the connection has been ended.
 */
static int
check_response(struct conn *c, size_t hl)
{
	char want[32];
	const char *p = c->hs, *end = c->hs + hl, *eol;
	int status = 0, upgrade = 0, connection = 0, accepted = 0;

	eol = memmem(p, (size_t)(end - p), "\r\n", 2);
	if (eol - p < 12 || strncmp(p, "HTTP/1.", 7) || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9') {
		conn_failed(c, "bad HTTP status line");
		return -1;
	}
	status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (status != 101) {
		st.failed++;
		st.rejected++;
		logm(LV_WARN, "rejected", "client=%d status=%d", c->idx, status);
		conn_end(c);
		return -1;
	}
	if (accept_for(c->key, want)) {
		conn_failed(c, "SHA-1 failed");
		return -1;
	}
	for (p = eol + 2; p < end; p = eol + 2) {
		const char *colon, *v;
		size_t nl, vl;

		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol || eol == p)
			break;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon)
			continue;
		nl = (size_t)(colon - p);
		v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		vl = (size_t)(eol - v);
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		if (nl == 7 && !strncasecmp(p, "upgrade", 7))
			upgrade = has_token(v, vl, "websocket");
		else if (nl == 10 && !strncasecmp(p, "connection", 10))
			connection = has_token(v, vl, "upgrade");
		else if (nl == 20 && !strncasecmp(p, "sec-websocket-accept", 20))
			accepted = vl == strlen(want) && !memcmp(v, want, vl);
		else if (nl == 24 && !strncasecmp(p, "sec-websocket-extensions", 24)) {
			conn_failed(c, "server chose an extension we did not offer");
			return -1;
		}
	}
	if (!upgrade || !connection) {
		conn_failed(c, "101 without Upgrade: websocket and Connection: upgrade");
		return -1;
	}
	if (!accepted) {
		conn_failed(c, "wrong or missing Sec-WebSocket-Accept");
		return -1;
	}
	return 0;
}

/* Reads the upgrade response; frames that follow it go to the parser. */
static void
on_handshake_readable(struct conn *c)
{
	ssize_t n;
	char *e;
	size_t hl, rest;

	n = recv(c->fd, c->hs + c->hs_len, HS_MAX - c->hs_len, 0);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_failed(c, strerror(errno));
		return;
	}
	if (n == 0) {
		conn_failed(c, "connection closed during the handshake");
		return;
	}
	c->hs_len += (size_t)n;
	c->hs[c->hs_len] = '\0';
	e = memmem(c->hs, c->hs_len, "\r\n\r\n", 4);
	if (!e) {
		if (c->hs_len >= HS_MAX)
			conn_failed(c, "upgrade response too long");
		return;
	}
	hl = (size_t)(e + 4 - c->hs);
	if (check_response(c, hl))
		return;
	rest = c->hs_len - hl;
	open_conn(c);
	if (rest) {
		/* keep the handshake buffer alive while its tail is parsed */
		char *hs = c->hs;

		c->hs = NULL;
		on_bytes(c, (unsigned char *)hs + hl, rest, clk_now_us());
		free(hs);
	} else {
		free(c->hs);
		c->hs = NULL;
	}
}

static void
open_conn(struct conn *c)
{
	set_state(c, CS_OPEN);
	st.connected++;
	st.connects++;
	c->ever = 1;
	st.connected_ever++;
	logm(LV_DEBUG, "connected", "client=%d", c->idx);
	if (st.connected_ever == opt.clients) {
		st.connect_ms = (clk_mono_us() - st.start_mono) / 1000;
		logm(LV_INFO, "all connected", "clients=%ld ms=%" PRId64,
		     opt.clients, st.connect_ms);
	}
}

/* ------------------------------------------------------------------ */
/* receiving                                                           */

static void
print_message(const char *p, size_t len)
{
	if (st.stdout_broken)
		return;
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

/*
 * Where the value of "local_ts": starts in p (len bytes), or NULL.  It
 * looks for the '_', rare in market data, and checks what is around it:
 * a third of the cost of memmem() on a trade line.
 */
static inline const char *
find_local_ts(const char *p, size_t len)
{
	const char *q = p, *end = p + len;

	while ((q = memchr(q, '_', (size_t)(end - q)))) {
		if (q - p >= 6 && end - q >= 5 && !memcmp(q - 6, "\"local", 6) &&
		    !memcmp(q + 1, "ts\":", 4))
			return q + 5;
		q++;
	}
	return NULL;
}

/* Latency from the "local_ts":<us> field, searched in the first bytes. */
static inline void
scan_latency(const char *p, size_t len, int64_t now)
{
	const char *q, *end = p + len;
	int64_t v = 0;
	int nd = 0;

	q = find_local_ts(p, len);
	if (!q)
		return;
	while (q < end && *q == ' ')
		q++;
	while (q < end && *q >= '0' && *q <= '9' && nd < 18) {
		v = v * 10 + (*q++ - '0');
		nd++;
	}
	if (!nd || !v)
		return;		/* 0: a placeholder, not a time */
	h_add(now - v);
}

/*
 * One whole message of total bytes; its first scan_len bytes are at scan.
 * whole is the complete payload when it is at hand (for --print), else
 * NULL.  now is the wall clock of the read() that completed it.
 */
static inline void
on_message(struct conn *c, const char *scan, size_t scan_len, uint64_t total,
	   const char *whole, int64_t now)
{
	c->msgs++;
	st.messages++;
	st.bytes += total;
	scan_latency(scan, scan_len < SCAN_MAX ? scan_len : SCAN_MAX, now);
	if (opt.print && c->idx == 0 && whole)
		print_message(whole, (size_t)total);
	if (opt.count > 0 && !c->reached && c->msgs >= (uint64_t)opt.count) {
		c->reached = 1;
		st.reached++;
	}
}

static size_t
hdr_size(unsigned char b1)
{
	size_t n = 2;

	if ((b1 & 0x7f) == 126)
		n += 2;
	else if ((b1 & 0x7f) == 127)
		n += 8;
	if (b1 & 0x80)
		n += 4;
	return n;
}

/* A frame the client must refuse: close with 1002 and end the connection,
 * reported as lost (1006), as wsclient does. */
static void
protocol_error(struct conn *c, const char *what)
{
	logm(LV_WARN, "protocol error", "client=%d error=\"%s\"", c->idx, what);
	send_close(c, 1002);
	peer_gone(c, 1006, "", 0);
}

/* Takes a frame header; 0, or -1 once the connection has been ended. */
static int
start_frame(struct conn *c, const unsigned char *h)
{
	unsigned len7 = h[1] & 0x7f;
	uint64_t len;
	unsigned op = h[0] & 0x0f;
	int i;

	if (h[0] & 0x70) {
		protocol_error(c, "reserved bits set");
		return -1;
	}
	if (h[1] & 0x80) {
		protocol_error(c, "masked frame from the server");
		return -1;
	}
	if (len7 == 126) {
		len = (uint64_t)h[2] << 8 | h[3];
	} else if (len7 == 127) {
		len = 0;
		for (i = 2; i < 10; i++)
			len = len << 8 | h[i];
		if (len >> 63) {
			protocol_error(c, "frame length over 2^63");
			return -1;
		}
	} else {
		len = len7;
	}
	c->fin = (h[0] & 0x80) != 0;
	switch (op) {
	case OP_CONT:
		if (!c->in_msg) {
			protocol_error(c, "continuation outside a message");
			return -1;
		}
		break;
	case OP_TEXT:
	case OP_BINARY:
		if (c->in_msg) {
			protocol_error(c, "new message inside a fragmented one");
			return -1;
		}
		c->in_msg = 1;
		c->mlen = 0;
		c->plen = 0;
		c->too_big = 0;
		break;
	case OP_CLOSE:
	case OP_PING:
	case OP_PONG:
		if (!c->fin || len > 125) {
			protocol_error(c, "fragmented or long control frame");
			return -1;
		}
		c->clen = 0;
		break;
	default:
		protocol_error(c, "unknown opcode");
		return -1;
	}
	c->opcode = (uint8_t)op;
	c->remain = len;
	c->in_frame = 1;
	return 0;
}

/* Payload bytes of the current frame. */
static void
frame_bytes(struct conn *c, const unsigned char *p, size_t k)
{
	if (c->opcode >= OP_CLOSE) {
		memcpy(c->ctl + c->clen, p, k);
		c->clen = (uint8_t)(c->clen + k);
		return;
	}
	if (c->plen < SCAN_MAX) {
		size_t t = SCAN_MAX - c->plen < k ? SCAN_MAX - c->plen : k;

		memcpy(c->pre + c->plen, p, t);
		c->plen = (uint16_t)(c->plen + t);
	}
	if (!c->too_big && c->mlen + k > MAX_MSG)
		c->too_big = 1;
	if (opt.print && c->idx == 0 && !c->too_big) {
		if (c->mlen + k > c->pcap) {
			size_t ncap = c->pcap ? c->pcap : 4096;
			char *nb;

			while (ncap < c->mlen + k)
				ncap *= 2;
			nb = realloc(c->pbuf, ncap);
			if (!nb) {
				c->too_big = 1;
				goto count;
			}
			c->pbuf = nb;
			c->pcap = ncap;
		}
		memcpy(c->pbuf + c->mlen, p, k);
	}
count:
	c->mlen += k;
}

/* The current frame is complete; 0, or -1 once the connection has ended. */
static int
end_frame(struct conn *c, int64_t now)
{
	unsigned char f[6 + 125];
	unsigned code;

	c->in_frame = 0;
	switch (c->opcode) {
	case OP_PING:
		/* a pong that does not fit is dropped: only the last counts */
		conn_send(c, f, ctl_frame(f, OP_PONG, c->ctl, c->clen));
		return 0;
	case OP_PONG:
		return 0;
	case OP_CLOSE:
		code = c->clen >= 2 ? (unsigned)(c->ctl[0] << 8 | c->ctl[1]) : 1005;
		send_close(c, c->clen >= 2 ? code : 0);
		peer_gone(c, code, c->clen > 2 ? (const char *)c->ctl + 2 : "",
			  c->clen > 2 ? c->clen - 2u : 0);
		return -1;
	default:
		break;
	}
	if (!c->fin)
		return 0;
	c->in_msg = 0;
	if (c->too_big) {
		st.too_big++;
		logm(LV_ERROR, "message too big", "client=%d bytes=%" PRIu64
		     " limit=%u", c->idx, c->mlen, MAX_MSG);
		return 0;
	}
	on_message(c, c->pre, c->plen, c->mlen, c->pbuf ? c->pbuf : "", now);
	return c->state == CS_OPEN ? 0 : -1;
}

/*
 * Parses n received bytes of an open connection.  A message that lies
 * whole in the buffer is counted where it is, without a copy; the others
 * keep their first SCAN_MAX bytes for the latency scan and only their
 * length otherwise.  Stops when the connection ends or starts closing.
 */
static void
on_bytes(struct conn *c, const unsigned char *p, size_t n, int64_t now)
{
	while (n) {
		size_t k;

		if (!c->in_frame) {
			const unsigned char *h;
			size_t need;

			if (!c->hlen && n >= 2 && n >= (need = hdr_size(p[1]))) {
				h = p;
			} else {
				/* a header split across reads */
				while (c->hlen < 2 && n) {
					c->hdr[c->hlen++] = *p++;
					n--;
				}
				if (c->hlen < 2)
					return;
				need = hdr_size(c->hdr[1]);
				k = need - c->hlen < n ? need - c->hlen : n;
				memcpy(c->hdr + c->hlen, p, k);
				c->hlen = (uint8_t)(c->hlen + k);
				p += k;
				n -= k;
				if (c->hlen < need)
					return;
				h = c->hdr;
				c->hlen = 0;
				need = 0;
			}
			if (start_frame(c, h))
				return;
			p += need;
			n -= need;
			if (c->opcode != OP_CONT && c->opcode < OP_CLOSE &&
			    c->fin && c->remain <= n) {
				/* the common case: a whole message at hand */
				size_t len = (size_t)c->remain;

				c->in_frame = 0;
				c->in_msg = 0;
				on_message(c, (const char *)p, len, len,
					   (const char *)p, now);
				if (c->state != CS_OPEN)
					return;
				p += len;
				n -= len;
				continue;
			}
			if (!c->remain) {
				if (end_frame(c, now))
					return;
				continue;
			}
		}
		k = c->remain < n ? (size_t)c->remain : n;
		frame_bytes(c, p, k);
		p += k;
		n -= k;
		c->remain -= k;
		if (!c->remain && end_frame(c, now))
			return;
	}
}

/* The socket of an open connection is readable. */
static void
on_open_readable(struct conn *c)
{
	uint64_t before = st.messages;
	ssize_t n;
	int64_t now;

	n = read(c->fd, rbuf, RBUF_SIZE);
	if (n > 0) {
		/* one clock read for the whole batch: it arrived at once */
		now = clk_now_us();
		on_bytes(c, rbuf, (size_t)n, now);
		if (st.messages != before) {
			int64_t rel = now - st.start_wall;

			if (st.first_us < 0)
				st.first_us = rel;
			st.last_us = rel;
		}
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	/* EOF or a reset without a close frame */
	peer_gone(c, 1006, "", 0);
}

/* Our own close at the end of the run: drop what comes until the server
 * hangs up. */
static void
on_closing_readable(struct conn *c)
{
	ssize_t n = read(c->fd, rbuf, RBUF_SIZE);

	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
				errno == EINTR)))
		return;
	conn_end(c);
}

static void
on_event(struct conn *c, uint32_t ev)
{
	if (c->state == CS_CONNECTING) {
		on_connected(c);
		return;
	}
	if ((ev & EPOLLOUT) && c->out_len && conn_flush(c)) {
		if (c->state == CS_OPEN)
			peer_gone(c, 1006, "", 0);
		else if (c->state == CS_HANDSHAKE)
			conn_failed(c, strerror(errno));
		else
			conn_end(c);
		return;
	}
	if (!(ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	switch (c->state) {
	case CS_HANDSHAKE:
		on_handshake_readable(c);
		break;
	case CS_OPEN:
		on_open_readable(c);
		break;
	case CS_CLOSING:
		on_closing_readable(c);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------------ */
/* stopping and timers                                                 */

static void
stop(int status, const char *why)
{
	long i;

	if (st.stopping)
		return;
	st.stopping = 1;
	st.stop_status = status;
	st.shutdown_at = clk_mono_us() + (int64_t)SHUTDOWN_MS * 1000;
	logm(LV_INFO, "stopping", "reason=\"%s\"", why);
	for (i = 0; i < opt.clients; i++) {
		struct conn *c = &conns[i];

		switch (c->state) {
		case CS_QUEUED:
			set_state(c, CS_DONE);
			break;
		case CS_CONNECTING:
		case CS_HANDSHAKE:
			conn_end(c);
			break;
		case CS_OPEN:
			send_close(c, 1000);
			set_state(c, CS_CLOSING);
			break;
		default:
			break;
		}
	}
}

static void
connect_timeout(void)
{
	char ebuf[80];
	long i, n = 0;

	st.connect_deadline = 0;
	snprintf(ebuf, sizeof(ebuf), "not connected after %ld ms",
		 opt.connect_timeout_ms);
	for (i = 0; i < opt.clients; i++) {
		struct conn *c = &conns[i];

		if (c->ever || c->state == CS_DONE)
			continue;
		n++;
		st.failed++;
		logm(LV_WARN, "timeout", "client=%ld error=\"%s\"", i, ebuf);
		if (c->state == CS_QUEUED) {
			set_state(c, CS_DONE);
			st.given_up++;
		} else {
			conn_end(c);
		}
	}
	if (n)
		logm(LV_WARN, "connect timeout", "clients=%ld timeout_ms=%ld",
		     n, opt.connect_timeout_ms);
}

/* Due timers; returns the epoll timeout to the next one (ms, -1: none). */
static int
run_timers(void)
{
	int64_t now = clk_mono_us(), next = INT64_MAX;

	if (st.next_stats && now >= st.next_stats) {
		write_stats();
		st.next_stats = now + (int64_t)opt.stats_interval_ms * 1000;
	}
	if (st.end_at && now >= st.end_at) {
		st.end_at = 0;
		stop(EXIT_OK, "duration");
	}
	if (st.connect_deadline && now >= st.connect_deadline)
		connect_timeout();
	if (st.stopping && now >= st.shutdown_at) {
		st.done = 1;
		return 0;
	}
	if (st.next_stats)
		next = st.next_stats;
	if (st.end_at && st.end_at < next)
		next = st.end_at;
	if (st.connect_deadline && st.connect_deadline < next)
		next = st.connect_deadline;
	if (st.stopping && st.shutdown_at < next)
		next = st.shutdown_at;
	if (next == INT64_MAX)
		return -1;
	return next <= now ? 0 : (int)((next - now + 999) / 1000);
}

/* After each round of events: decides whether the run is over. */
static void
check_progress(void)
{
	long live = st.nstate[CS_QUEUED] + inflight() + st.nstate[CS_OPEN] +
		    st.nstate[CS_CLOSING];

	if (st.stopping) {
		if (!live)
			st.done = 1;
		return;
	}
	if (!live) {
		stop(EXIT_OK, "all connections closed");
		st.done = 1;
		return;
	}
	if (st.connect_ms >= 0)
		st.connect_deadline = 0;
	if (opt.count > 0 && st.reached && st.reached + st.given_up >= opt.clients)
		stop(EXIT_OK, "count reached");
}

static void
on_signals(int sfd)
{
	int sig;

	while ((sig = sig_next(sfd)) > 0) {
		st.got_signal = 1;
		if (st.stopping)
			st.done = 1;	/* a second signal: do not wait */
		else
			stop(EXIT_OK, sig == SIGINT ? "SIGINT" : "SIGTERM");
	}
}

/* ------------------------------------------------------------------ */
/* setup                                                               */

static int
parse_url(const char *url)
{
	const char *p, *h, *he;
	size_t n;
	char port[8];
	struct addrinfo hints, *res = NULL;
	int rc;

	if (strncasecmp(url, "ws://", 5))
		return -1;
	p = url + 5;
	target.port = 80;
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
		long long v;
		char num[8], err[64];
		size_t dl = strspn(p + 1, "0123456789");

		if (!dl || dl >= sizeof(num))
			return -1;
		memcpy(num, p + 1, dl);
		num[dl] = '\0';
		if (opt_long(num, 1, 65535, &v, err, sizeof err))
			return -1;
		target.port = (int)v;
		p += 1 + dl;
	}
	if (*p && *p != '/' && *p != '?')
		return -1;
	if (snprintf(target.path, sizeof(target.path), "%s%s",
		     *p == '/' ? "" : "/", p) >= (int)sizeof(target.path))
		return -1;
	target.path[strcspn(target.path, "#")] = '\0';
	if (strpbrk(target.path, " \r\n"))
		return -1;
	snprintf(target.host_header, sizeof(target.host_header),
		 strchr(target.host, ':') ? "[%s]" : "%s", target.host);
	if (target.port != 80) {
		n = strlen(target.host_header);
		snprintf(target.host_header + n, sizeof(target.host_header) - n,
			 ":%d", target.port);
	}

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", target.port);
	rc = getaddrinfo(target.host, port, &hints, &res);
	if (rc || !res) {
		fprintf(stderr, "wsload: %s: %s\n", target.host,
			rc ? gai_strerror(rc) : "no address");
		return -2;
	}
	memcpy(&target.addr, res->ai_addr, res->ai_addrlen);
	target.addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void
usage(FILE *f)
{
	fputs(
"usage: wsload [options] ws://HOST[:PORT]/PATH?QUERY\n"
"  -n, --clients N           open N connections (default 1)\n"
"      --max-inflight N      at most N handshakes at once (default 200)\n"
"      --connect-timeout MS  the whole set must connect within MS (default 30000)\n"
"  -p, --print               print client 0's messages on stdout, one a line\n"
"  -q, --quiet               print nothing on stdout (the default)\n"
"      --stats FILE          write a JSON summary every interval and at exit\n"
"      --stats-interval MS   (default 1000)\n"
"      --count N             exit when every client has received N messages\n"
"      --duration MS         exit after MS\n"
"  -h, --help, --version\n"
"Counts what the server sends, as wsclient does, at a fraction of its cost;\n"
"ws:// only, sends nothing but control frames. Logs go to stderr.\n"
"SIGINT/SIGTERM close every connection (1000) and exit 0.\n"
"LOG_LEVEL=debug|info|warn|error (default info).\n"
EXITCODE_HELP, f);
}

enum {
	O_CONNECT_TIMEOUT = 256, O_MAX_INFLIGHT, O_STATS, O_STATS_INTERVAL,
	O_COUNT, O_DURATION, O_VERSION,
};

static const struct option long_opts[] = {
	{ "clients", required_argument, NULL, 'n' },
	{ "connect-timeout", required_argument, NULL, O_CONNECT_TIMEOUT },
	{ "count", required_argument, NULL, O_COUNT },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "help", no_argument, NULL, 'h' },
	{ "max-inflight", required_argument, NULL, O_MAX_INFLIGHT },
	{ "print", no_argument, NULL, 'p' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "stats", required_argument, NULL, O_STATS },
	{ "stats-interval", required_argument, NULL, O_STATS_INTERVAL },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 }
};

static int
bad_arg(const char *name, const char *why)
{
	fprintf(stderr, "wsload: %s: %s\n", name, why);
	fputs("Try 'wsload --help'.\n", stderr);
	return EXIT_USAGE;
}

/* Returns -1 to go on, or the exit status. */
static int
parse_args(int argc, char **argv)
{
	int ch, quiet = 0, rc;
	char err[128];
	long long v;

	while ((ch = getopt_long(argc, argv, "hn:pq", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (opt_long(optarg, 1, MAX_CLIENTS, &v, err, sizeof err))
				return bad_arg("--clients", err);
			opt.clients = (long)v;
			break;
		case O_CONNECT_TIMEOUT:
			if (opt_long(optarg, 1, 86400000LL, &v, err, sizeof err))
				return bad_arg("--connect-timeout", err);
			opt.connect_timeout_ms = (long)v;
			break;
		case O_COUNT:
			if (opt_long(optarg, 1, LLONG_MAX, &v, err, sizeof err))
				return bad_arg("--count", err);
			opt.count = v;
			break;
		case O_DURATION:
			if (opt_long(optarg, 1, 86400000LL * 365, &v, err, sizeof err))
				return bad_arg("--duration", err);
			opt.duration_ms = (long)v;
			break;
		case O_MAX_INFLIGHT:
			if (opt_long(optarg, 1, 100000, &v, err, sizeof err))
				return bad_arg("--max-inflight", err);
			opt.max_inflight = (long)v;
			break;
		case 'p':
			opt.print = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case O_STATS:
			opt.stats = optarg;
			break;
		case O_STATS_INTERVAL:
			if (opt_long(optarg, 10, 86400000LL, &v, err, sizeof err))
				return bad_arg("--stats-interval", err);
			opt.stats_interval_ms = (long)v;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case O_VERSION:
			printf("wsload %s\n", WSLOAD_VERSION);
			return EXIT_OK;
		default:
			fputs("Try 'wsload --help'.\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "wsload: %s\n", optind < argc ?
			"exactly one URL expected" : "missing URL");
		fputs("Try 'wsload --help'.\n", stderr);
		return EXIT_USAGE;
	}
	opt.url = argv[optind];
	rc = parse_url(opt.url);
	if (rc == -1) {
		fprintf(stderr, "wsload: bad URL '%s' (want ws://HOST[:PORT][/PATH])\n",
			opt.url);
		return EXIT_USAGE;
	}
	if (rc)
		return EXIT_RUNTIME;
	if (quiet)
		opt.print = 0;
	return -1;
}

static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;

		if (want == RLIM_INFINITY || want > (1u << 20))
			want = 1u << 20;
		if (want > rl.rlim_cur) {
			struct rlimit nr = { want, rl.rlim_max };

			if (!setrlimit(RLIMIT_NOFILE, &nr))
				rl.rlim_cur = want;
		}
	}
	if ((long long)rl.rlim_cur < opt.clients + 32)
		logm(LV_WARN, "fd limit too low for the clients",
		     "limit=%llu clients=%ld", (unsigned long long)rl.rlim_cur,
		     opt.clients);
}

static void
seed(void)
{
	if (getrandom(&prng_state, sizeof(prng_state), 0) !=
	    (ssize_t)sizeof(prng_state))
		prng_state = (uint64_t)clk_now_us() ^ ((uint64_t)getpid() << 32);
	if (!prng_state)
		prng_state = 0x9E3779B97F4A7C15ULL;
}

static void
log_done(int rc)
{
	uint64_t mn = 0, mx = 0;
	long i;

	for (i = 0; i < opt.clients; i++) {
		if (!i || conns[i].msgs < mn)
			mn = conns[i].msgs;
		if (conns[i].msgs > mx)
			mx = conns[i].msgs;
	}
	logm(LV_INFO, "done",
	     "clients=%ld connected_ever=%ld failed=%ld rejected=%ld closed=%ld "
	     "messages=%" PRIu64 " bytes=%" PRIu64 " too_big=%ld"
	     " per_client_min=%" PRIu64 " per_client_max=%" PRIu64
	     " elapsed_ms=%" PRId64 " status=%d",
	     opt.clients, st.connected_ever, st.failed, st.rejected, st.closed,
	     st.messages, st.bytes, st.too_big, mn, mx,
	     (clk_mono_us() - st.start_mono) / 1000, rc);
}

int
main(int argc, char **argv)
{
	static const int sigs[] = { SIGINT, SIGTERM, 0 };
	struct epoll_event evs[MAX_EVENTS], ev;
	char err[256];
	long i;
	int rc, sfd;

	rc = parse_args(argc, argv);
	if (rc >= 0)
		return rc;
	tool_log_init("wsload");
	raise_fd_limit();
	seed();

	conns = calloc((size_t)opt.clients, sizeof(*conns));
	rbuf = malloc(RBUF_SIZE);
	if (!conns || !rbuf) {
		logm(LV_ERROR, "out of memory", NULL);
		return EXIT_RUNTIME;
	}
	sfd = sig_init(sigs, err, sizeof(err));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || epfd < 0) {
		logm(LV_ERROR, "setup failed", "error=\"%s\"",
		     sfd < 0 ? err : strerror(errno));
		return EXIT_RUNTIME;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = SIG_TAG;
	epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);

	st.start_mono = clk_mono_us();
	st.start_wall = clk_now_us();
	st.nstate[CS_QUEUED] = opt.clients;
	for (i = 0; i < opt.clients; i++) {
		conns[i].idx = (int)i;
		conns[i].fd = -1;
		conns[i].state = CS_QUEUED;
	}
	st.connect_deadline = st.start_mono + (int64_t)opt.connect_timeout_ms * 1000;
	if (opt.duration_ms)
		st.end_at = st.start_mono + (int64_t)opt.duration_ms * 1000;
	if (opt.stats)
		st.next_stats = st.start_mono + (int64_t)opt.stats_interval_ms * 1000;
	logm(LV_INFO, "starting", "url=\"%s\" clients=%ld", opt.url, opt.clients);

	while (!st.done) {
		int n, k, timeout;

		pump();
		timeout = run_timers();
		if (st.done)
			break;
		n = epoll_wait(epfd, evs, MAX_EVENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			logm(LV_ERROR, "epoll_wait failed", "error=\"%s\"",
			     strerror(errno));
			stop(EXIT_RUNTIME, "epoll_wait failed");
			break;
		}
		for (k = 0; k < n; k++) {
			if (evs[k].data.u64 == SIG_TAG)
				on_signals(sfd);
			else
				on_event(&conns[evs[k].data.u64], evs[k].events);
		}
		check_progress();
	}

	rc = st.stop_status;
	if (!st.got_signal && rc == EXIT_OK) {
		long never = 0;

		for (i = 0; i < opt.clients; i++)
			if (!conns[i].ever)
				never++;
		if (never) {
			logm(LV_ERROR, "some clients never connected",
			     "clients=%ld", never);
			rc = EXIT_RUNTIME;
		}
	}
	if (st.nstate[CS_CLOSING])
		logm(LV_WARN, "closing handshakes unfinished", "open=%ld",
		     st.nstate[CS_CLOSING]);
	write_stats();
	log_done(rc);
	fflush(stdout);

	for (i = 0; i < opt.clients; i++)
		if (conns[i].state != CS_DONE)
			conn_end(&conns[i]);
	close(epfd);
	free(conns);
	free(rbuf);
	return rc;
}
