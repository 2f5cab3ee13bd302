/* guard.c: follows the frames each WebSocket client sends, byte by byte in their headers
 * and by length over their payloads, and records the first rule they break.
 *
 * libwebsockets 4.1 parses client frames itself and gives serve only their payloads: it
 * takes unmasked frames, echoes close codes such as 5000, and keeps a connection whose
 * frame header announces 1 GiB open until the payload fills its buffer. serve cannot see
 * headers through its API, so it sees the bytes instead: recv() and SSL_read(), which
 * libwebsockets calls for every read from a client, are wrapped here (the dynamic linker
 * resolves the library's calls to serve's definitions, which call the real functions).
 * Only the event loop's thread reads from clients. The verdict is acted on by clients.c
 * in the callbacks that follow the read and on the tick, never inside the read. */
#include "guard.h"

#include <dlfcn.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

enum { G_OFF, G_HTTP, G_FRAMES, G_FAILED };

struct guard {
	uint8_t phase;
	uint8_t crlf;       /* HTTP: how much of "\r\n\r\n" the last bytes matched */
	uint8_t hlen, need; /* frame header bytes held, and the header's length once known */
	uint8_t in_msg;     /* a fragmented data message is open */
	uint8_t opcode;     /* of the frame whose payload is coming */
	uint8_t hdr[14];
	uint8_t key[4];     /* that frame's masking key */
	uint8_t status[2];  /* a close frame's status code, unmasked */
	uint16_t code;      /* the close code a violation calls for */
	uint16_t peer_close;
	uint64_t received, req_end; /* HTTP: bytes read, and where the last request ended */
	uint64_t left;      /* payload bytes of the current frame still to come */
	uint64_t pos;       /* payload bytes of the current frame already seen */
	uint64_t msg_len;   /* payload bytes of the current data message */
	uint64_t max_msg;
	const char *why;
};

static struct guard *tab;
static int cap;

typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef int (*ssl_read_fn)(SSL *, void *, int);
static recv_fn real_recv;
static ssl_read_fn real_ssl_read;

int guard_init(void)
{
	real_recv = (recv_fn)dlsym(RTLD_NEXT, "recv");
	real_ssl_read = (ssl_read_fn)dlsym(RTLD_NEXT, "SSL_read");
	return real_recv && real_ssl_read ? 0 : -1;
}

void guard_free(void)
{
	free(tab);
	tab = NULL;
	cap = 0;
}

static struct guard *get(int fd)
{
	return fd >= 0 && fd < cap && tab[fd].phase != G_OFF ? &tab[fd] : NULL;
}

void guard_accept(int fd)
{
	if (fd < 0)
		return;
	if (fd >= cap) {
		int ncap = cap ? cap : 1024;
		while (ncap <= fd)
			ncap *= 2;
		struct guard *t = realloc(tab, (size_t)ncap * sizeof *t);
		if (!t)
			return; /* not followed: libwebsockets' own checks still apply */
		memset(t + cap, 0, (size_t)(ncap - cap) * sizeof *t);
		tab = t;
		cap = ncap;
	}
	memset(&tab[fd], 0, sizeof tab[fd]);
	tab[fd].phase = G_HTTP;
}

static void fail(struct guard *g, int code, const char *why)
{
	g->phase = G_FAILED;
	g->code = (uint16_t)code;
	g->why = why;
}

int guard_start(int fd, size_t max_msg, const char **why)
{
	struct guard *g = get(fd);
	if (!g || g->phase != G_HTTP)
		return 0;
	g->max_msg = max_msg;
	if (g->received != g->req_end) {
		fail(g, 1002, "data sent before the upgrade was answered");
		*why = g->why;
		return g->code;
	}
	g->phase = G_FRAMES;
	return 0;
}

void guard_stop(int fd)
{
	if (fd >= 0 && fd < cap)
		tab[fd].phase = G_OFF;
}

int guard_error(int fd, const char **why)
{
	struct guard *g = get(fd);
	if (!g || g->phase != G_FAILED)
		return 0;
	*why = g->why;
	return g->code;
}

int guard_peer_close_code(int fd)
{
	struct guard *g = get(fd);
	return g ? g->peer_close : 0;
}

/* RFC 6455 7.4 and the IANA registry: what an endpoint may put in a close frame. 1004 is
 * reserved, 1005, 1006 and 1015 stand for "none" and are never sent, 1016..2999 belong to
 * future RFCs, 3000..4999 to libraries and applications. */
static int close_code_ok(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

/* Bytes of extended length after the first two header bytes (0, 2 or 8). */
static int ext_len(const struct guard *g)
{
	int len7 = g->hdr[1] & 0x7f;
	return len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
}

/* A data frame announcing LEN payload bytes: 1009 when its message would pass the limit.
 * Decided from the length alone, before any payload arrives. */
static int too_large(struct guard *g, uint64_t len)
{
	uint64_t total = (g->hdr[0] & 0x0f) == 0 ? g->msg_len + len : len;
	if (len <= g->max_msg && total <= g->max_msg)
		return 0;
	fail(g, 1009, "message too large");
	return 1;
}

/* The whole header is in g->hdr: set up its payload. */
static void header_done(struct guard *g)
{
	const uint8_t *h = g->hdr;
	int fin = h[0] & 0x80, op = h[0] & 0x0f;
	uint64_t len = h[1] & 0x7f;
	if (ext_len(g)) {
		len = 0;
		for (int i = 0; i < ext_len(g); i++)
			len = len << 8 | h[2 + i];
	}
	memcpy(g->key, h + g->need - 4, 4);
	g->opcode = (uint8_t)op;
	g->left = len;
	g->pos = 0;
	g->hlen = g->need = 0;
	if (op == 8) {
		if (len == 1)
			fail(g, 1002, "close frame with a 1-byte payload");
		return;
	}
	if (op & 8)
		return;
	if (op == 0 && !g->in_msg) {
		fail(g, 1002, "continuation frame outside a message");
		return;
	}
	if (op != 0 && g->in_msg) {
		fail(g, 1002, "new message inside a fragmented one");
		return;
	}
	g->msg_len = op == 0 ? g->msg_len + len : len;
	g->in_msg = !fin;
}

/* One byte of a frame header. Each rule is checked as soon as the bytes it needs are in. */
static void header_byte(struct guard *g, uint8_t c)
{
	g->hdr[g->hlen++] = c;
	if (g->hlen == 1) {
		int op = c & 0x0f;
		if (c & 0x70)
			fail(g, 1002, "reserved bits set (no extension was agreed)");
		else if (!(op <= 2 || (op >= 8 && op <= 10)))
			fail(g, 1002, "reserved opcode");
		else if ((op & 8) && !(c & 0x80))
			fail(g, 1002, "fragmented control frame");
		return;
	}
	if (g->hlen == 2) {
		int len7 = c & 0x7f;
		if (!(c & 0x80)) {
			fail(g, 1002, "client frames must be masked");
			return;
		}
		if (g->hdr[0] & 0x08) {
			if (len7 > 125)
				fail(g, 1002, "control frame longer than 125 bytes");
		} else if (len7 < 126 && too_large(g, (uint64_t)len7)) {
			return;
		}
		g->need = (uint8_t)(2 + ext_len(g) + 4);
	} else if (ext_len(g) && g->hlen == 2 + ext_len(g)) {
		uint64_t len = 0;
		for (int i = 2; i < g->hlen; i++)
			len = len << 8 | g->hdr[i];
		if (len >> 63) {
			fail(g, 1002, "frame length with the top bit set");
			return;
		}
		if (too_large(g, len))
			return;
	}
	if (g->phase == G_FRAMES && g->hlen == g->need)
		header_done(g);
}

/* Payload bytes P (N of them) of the current frame. Only a close frame's status code is
 * read (unmasked with the frame's key); the rest is skipped. Returns the bytes used. */
static size_t payload(struct guard *g, const uint8_t *p, size_t n)
{
	size_t take = n < g->left ? n : (size_t)g->left;
	for (size_t i = 0; g->opcode == 8 && g->pos + i < 2 && i < take; i++) {
		g->status[g->pos + i] = p[i] ^ g->key[(g->pos + i) & 3];
		if (g->pos + i == 1) {
			unsigned code = (unsigned)g->status[0] << 8 | g->status[1];
			g->peer_close = (uint16_t)code;
			if (!close_code_ok(code))
				fail(g, 1002, "invalid close code");
		}
	}
	g->pos += take;
	g->left -= take;
	return take;
}

static void feed_frames(struct guard *g, const uint8_t *p, size_t n)
{
	while (n && g->phase == G_FRAMES) {
		if (!g->hlen && g->left) {
			size_t k = payload(g, p, n);
			p += k;
			n -= k;
		} else {
			header_byte(g, *p++);
			n--;
		}
	}
}

static void feed(int fd, const void *buf, size_t n)
{
	struct guard *g = get(fd);
	const uint8_t *p = buf;
	if (!g)
		return;
	if (g->phase == G_HTTP) {
		static const uint8_t end[4] = { '\r', '\n', '\r', '\n' };
		for (size_t i = 0; i < n; i++) {
			g->crlf = p[i] == end[g->crlf] ? (uint8_t)(g->crlf + 1) : p[i] == '\r' ? 1 : 0;
			if (g->crlf == 4) {
				g->crlf = 0;
				g->req_end = g->received + i + 1;
			}
		}
		g->received += n;
		return;
	}
	feed_frames(g, p, n);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	if (!real_recv) {
		errno = ENOSYS;
		return -1;
	}
	ssize_t n = real_recv(fd, buf, len, flags);
	if (n > 0 && !(flags & MSG_PEEK))
		feed(fd, buf, (size_t)n);
	return n;
}

int SSL_read(SSL *ssl, void *buf, int num)
{
	if (!real_ssl_read)
		return -1;
	int n = real_ssl_read(ssl, buf, num);
	if (n > 0)
		feed(SSL_get_fd(ssl), buf, (size_t)n);
	return n;
}
