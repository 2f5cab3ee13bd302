/*
 * wsload: a light WebSocket load client for fan-out benchmarks.
 *
 * Opens many ws:// connections from one thread and one epoll loop, and
 * counts what they receive.  It keeps the same statistics as wsclient, with
 * the code they share (common/ws.c: options, counters, stats JSON, latency),
 * at a fraction of the cost per message: plain non-blocking sockets, one
 * shared read buffer, frames parsed where they lie, and one clock read per
 * read() rather than per message.
 * No TLS, no sending, no reconnects: tests/tools/wsload.md says why and what
 * it leaves to wsclient.
 *
 * Usage and formats: tests/tools/wsload.md, or `wsload --help`.
 */

#include "clock.h"
#include "common/ws.h"
#include "exitcode.h"
#include "sig.h"

#include <openssl/evp.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define WSLOAD_VERSION	"1.0"

#define RBUF_SIZE	(256u * 1024)		/* the one read buffer */
#define HS_MAX		8192			/* longest upgrade response */
#define OUT_MAX		65536			/* unsent control frames per connection */
#define MAX_EVENTS	512
#define SIG_TAG		UINT64_MAX		/* epoll tag of the signal pipe */

enum {
	OP_CONT = 0x0, OP_TEXT = 0x1, OP_BINARY = 0x2,
	OP_CLOSE = 0x8, OP_PING = 0x9, OP_PONG = 0xa,
};

/* the URL (common/ws.h) and the address it names */
static struct ws_url target;
static struct sockaddr_storage target_addr;
static socklen_t target_addrlen;
static int print;			/* -p: client 0's messages on stdout */

/* ------------------------------------------------------------------ */
/* state                                                               */

/*
 * A connection goes QUEUED -> CONNECTING (TCP) -> HANDSHAKE (upgrade sent)
 * -> OPEN, and ends in DONE (common/ws.h counts them).  CLOSING is an open
 * connection that we are closing at the end of the run: what it receives is
 * read and dropped until the server hangs up.
 */
struct conn {
	struct ws_peer p;		/* first: the run's view of it (common/ws.h) */
	int fd;
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
	char pre[WS_SCAN_MAX];		/* first bytes of a split message */
};

static struct conn *conns;
static int epfd = -1;
static unsigned char *rbuf;

/* the loop's timers (monotonic us, 0: not set) */
static struct {
	int64_t next_stats, end_at, connect_deadline, shutdown_at;
} tm;

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

/* ------------------------------------------------------------------ */
/* sockets                                                             */

static void
arm(struct conn *c, uint32_t events, int op)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = (uint64_t)c->p.idx;
	if (epoll_ctl(epfd, op, c->fd, &ev))
		logm(LV_ERROR, "epoll_ctl failed", "client=%d error=\"%s\"",
		     c->p.idx, strerror(errno));
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
	ws_end(&c->p);
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

	mask[0] = (unsigned char)(m >> 24);
	mask[1] = (unsigned char)(m >> 16);
	mask[2] = (unsigned char)(m >> 8);
	mask[3] = (unsigned char)m;
	return ws_frame(dst, opcode, pl, n, mask);
}

/* Sends a close frame with CODE (0: none), best effort: the connection is
 * about to end, and a pong still waiting would be cut by it. */
static void
send_close(struct conn *c, unsigned code)
{
	unsigned char f[WS_FRAME_HEAD_MAX + 2], pl[2];
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
	ws_closed(&c->p, code, reason, rlen);
	conn_end(c);
}

/* A connection attempt that did not make it. */
static void
conn_failed(struct conn *c, const char *err)
{
	ws_failed(&c->p, err);
	conn_end(c);
}

/* Starts the TCP connection of the next queued client. */
static void
launch(struct conn *c)
{
	int fd, one = 1;

	fd = socket(target_addr.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ws_set_state(&c->p, WS_CONNECTING);
	if (fd < 0) {
		conn_failed(c, strerror(errno));
		return;
	}
	c->fd = fd;
	/* only small control frames go out: send them at once */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&target_addr, target_addrlen) &&
	    errno != EINPROGRESS) {
		conn_failed(c, strerror(errno));
		return;
	}
	arm(c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void
pump(void)
{
	static long next;		/* clients connect in index order */

	while (!ws_run.stopping && next < ws_opt.clients &&
	       ws_inflight() < ws_opt.max_inflight) {
		struct conn *c = &conns[next++];

		if (c->p.state == WS_QUEUED)
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
	ws_set_state(&c->p, WS_HANDSHAKE);
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
		ws_rejected(&c->p, (unsigned)status);
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
	ws_opened(&c->p);
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

/* ------------------------------------------------------------------ */
/* receiving                                                           */

/*
 * One whole message of total bytes; its first scan_len bytes are at scan.
 * whole is the complete payload when it is at hand (for --print), else
 * NULL.  now is the wall clock of the read() that completed it.
 */
static inline void
on_message(struct conn *c, const char *scan, size_t scan_len, uint64_t total,
	   const char *whole, int64_t now)
{
	ws_count_message(&c->p, total);
	ws_scan_latency(scan, scan_len < WS_SCAN_MAX ? scan_len : WS_SCAN_MAX, now);
	if (print && c->p.idx == 0 && whole)
		ws_print(-1, whole, (size_t)total);
	ws_reached(&c->p);
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
	logm(LV_WARN, "protocol error", "client=%d error=\"%s\"", c->p.idx, what);
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
	if (c->plen < WS_SCAN_MAX) {
		size_t t = WS_SCAN_MAX - c->plen < k ? WS_SCAN_MAX - c->plen : k;

		memcpy(c->pre + c->plen, p, t);
		c->plen = (uint16_t)(c->plen + t);
	}
	if (!c->too_big && c->mlen + k > WS_MAX_MSG)
		c->too_big = 1;
	if (print && c->p.idx == 0 && !c->too_big) {
		if (ws_buf_reserve(&c->pbuf, &c->pcap, (size_t)c->mlen + k))
			c->too_big = 1;
		else
			memcpy(c->pbuf + c->mlen, p, k);
	}
	c->mlen += k;
}

/* The current frame is complete; 0, or -1 once the connection has ended. */
static int
end_frame(struct conn *c, int64_t now)
{
	unsigned char f[WS_FRAME_HEAD_MAX + 125];
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
		ws_run.too_big++;
		logm(LV_ERROR, "message too big", "client=%d bytes=%" PRIu64
		     " limit=%u", c->p.idx, c->mlen, WS_MAX_MSG);
		return 0;
	}
	on_message(c, c->pre, c->plen, c->mlen, c->pbuf ? c->pbuf : "", now);
	return c->p.state == WS_OPEN ? 0 : -1;
}

/*
 * Parses n received bytes of an open connection.  A message that lies
 * whole in the buffer is counted where it is, without a copy; the others
 * keep their first WS_SCAN_MAX bytes for the latency scan and only their
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
				if (c->p.state != WS_OPEN)
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
	uint64_t before = ws_run.messages;
	ssize_t n;
	int64_t now;

	n = read(c->fd, rbuf, RBUF_SIZE);
	if (n > 0) {
		/* one clock read for the whole batch: it arrived at once */
		now = clk_now_us();
		on_bytes(c, rbuf, (size_t)n, now);
		if (ws_run.messages != before)
			ws_received_at(now);
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
	if (c->p.state == WS_CONNECTING) {
		on_connected(c);
		return;
	}
	if ((ev & EPOLLOUT) && c->out_len && conn_flush(c)) {
		if (c->p.state == WS_OPEN)
			peer_gone(c, 1006, "", 0);
		else if (c->p.state == WS_HANDSHAKE)
			conn_failed(c, strerror(errno));
		else
			conn_end(c);
		return;
	}
	if (!(ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	switch (c->p.state) {
	case WS_HANDSHAKE:
		on_handshake_readable(c);
		break;
	case WS_OPEN:
		on_open_readable(c);
		break;
	case WS_CLOSING:
		on_closing_readable(c);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------------ */
/* stopping and timers                                                 */

/* At the end of the run: every client not queued or done. */
static void
close_one(struct ws_peer *p)
{
	struct conn *c = (struct conn *)p;

	if (p->state == WS_OPEN) {
		send_close(c, 1000);
		ws_set_state(p, WS_CLOSING);
	} else {
		conn_end(c);
	}
}

static void
stop(int status, const char *why)
{
	if (!ws_stop(status, why, close_one))
		tm.shutdown_at = clk_mono_us() + (int64_t)WS_SHUTDOWN_MS * 1000;
}

/* A client not connected by --connect-timeout. */
static void
abandon(struct ws_peer *p)
{
	ws_run.failed++;
	conn_end((struct conn *)p);
}

/* Due timers; returns the epoll timeout to the next one (ms, -1: none). */
static int
run_timers(void)
{
	int64_t now = clk_mono_us(), next = INT64_MAX;

	if (tm.next_stats && now >= tm.next_stats) {
		ws_stats_write();
		tm.next_stats = now + (int64_t)ws_opt.stats_interval_ms * 1000;
	}
	if (tm.end_at && now >= tm.end_at) {
		tm.end_at = 0;
		stop(EXIT_OK, "duration");
	}
	if (tm.connect_deadline && now >= tm.connect_deadline) {
		tm.connect_deadline = 0;
		ws_connect_timeout(abandon);
	}
	if (ws_run.stopping && now >= tm.shutdown_at) {
		ws_run.done = 1;
		return 0;
	}
	if (tm.next_stats)
		next = tm.next_stats;
	if (tm.end_at && tm.end_at < next)
		next = tm.end_at;
	if (tm.connect_deadline && tm.connect_deadline < next)
		next = tm.connect_deadline;
	if (ws_run.stopping && tm.shutdown_at < next)
		next = tm.shutdown_at;
	if (next == INT64_MAX)
		return -1;
	return next <= now ? 0 : (int)((next - now + 999) / 1000);
}

/* ------------------------------------------------------------------ */
/* setup                                                               */

/* The address of the URL's host (its first); 0, or -1 with ERR. */
static int
resolve(char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char port[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", target.port);
	rc = getaddrinfo(target.host, port, &hints, &res);
	if (rc || !res) {
		snprintf(err, errlen, "%.100s: %s", target.host,
			 rc ? gai_strerror(rc) : "no address");
		return -1;
	}
	memcpy(&target_addr, res->ai_addr, res->ai_addrlen);
	target_addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void
usage(FILE *f)
{
	fputs(
"usage: wsload [options] ws://HOST[:PORT]/PATH?QUERY\n"
WS_USAGE_CONNECT
"  -p, --print               print client 0's messages on stdout, one a line\n"
"  -q, --quiet               print nothing on stdout (the default)\n"
WS_USAGE_RUN
"  -h, --help, --version\n"
"Counts what the server sends, as wsclient does, at a fraction of its cost;\n"
"ws:// only, sends nothing but control frames. Logs go to stderr.\n"
"SIGINT/SIGTERM close every connection (1000) and exit 0.\n"
"LOG_LEVEL=debug|info|warn|error (default info).\n"
EXITCODE_HELP, f);
}

static const struct option long_opts[] = {
	WS_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

/* Returns -1 to go on, or the exit status. */
static int
parse_args(int argc, char **argv)
{
	char err[256];
	int ch, rc;

	while ((ch = getopt_long(argc, argv, WS_SHORTOPTS, long_opts, NULL)) != -1) {
		rc = ws_opt_take(ch, optarg, err, sizeof(err));
		if (rc < 0)
			return ws_usage_error("wsload", err);
		if (rc)
			continue;
		switch (ch) {
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case WS_O_VERSION:
			printf("wsload %s\n", WSLOAD_VERSION);
			return EXIT_OK;
		default:
			fputs("Try 'wsload --help'.\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (ws_opt_url(argc, argv, &target, err, sizeof(err)))
		return ws_usage_error("wsload", err);
	if (target.tls)
		return ws_usage_error("wsload", "wss:// is for wsclient: wsload has no TLS");
	if (resolve(err, sizeof(err))) {
		fprintf(stderr, "wsload: %s\n", err);
		return EXIT_RUNTIME;
	}
	print = ws_opt.print && !ws_opt.quiet;
	return -1;
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

int
main(int argc, char **argv)
{
	static const int sigs[] = { SIGINT, SIGTERM, 0 };
	struct epoll_event evs[MAX_EVENTS], ev;
	struct rlimit rl;
	char err[256];
	long i;
	int rc, sfd, sig;

	rc = parse_args(argc, argv);
	if (rc >= 0)
		return rc;
	tool_log_init("wsload");
	ws_raise_fd_limit(&rl);
	seed();

	conns = calloc((size_t)ws_opt.clients, sizeof(*conns));
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

	for (i = 0; i < ws_opt.clients; i++)
		conns[i].fd = -1;
	ws_run_start(conns, sizeof(*conns), stop);
	tm.connect_deadline = ws_run.start_mono + (int64_t)ws_opt.connect_timeout_ms * 1000;
	if (ws_opt.duration_ms)
		tm.end_at = ws_run.start_mono + (int64_t)ws_opt.duration_ms * 1000;
	if (ws_opt.stats)
		tm.next_stats = ws_run.start_mono + (int64_t)ws_opt.stats_interval_ms * 1000;

	while (!ws_run.done) {
		int n, k, timeout;

		pump();
		timeout = run_timers();
		if (ws_run.done)
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
			if (evs[k].data.u64 != SIG_TAG)
				on_event(&conns[evs[k].data.u64], evs[k].events);
			else
				while ((sig = sig_next(sfd)) > 0)
					ws_on_signal(sig);
		}
		ws_check_progress();
		if (ws_run.connect_ms >= 0)
			tm.connect_deadline = 0;
	}
	rc = ws_finish();

	for (i = 0; i < ws_opt.clients; i++)
		if (conns[i].p.state != WS_DONE)
			conn_end(&conns[i]);
	close(epfd);
	free(conns);
	free(rbuf);
	return rc;
}
