/* ctl.c: the control socket — convert asks for resyncs here, operators for status and reconnects. */
#include "ctl.h"

#include "clock.h"
#include "jw.h"
#include "loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CTL_LINE_MAX 1024     /* a longer line is no command: the client is cut off */
#define CTL_STATUS_MAX (1 << 20)

struct ctl_client {
	int fd;
	char buf[CTL_LINE_MAX];
	size_t len;
};

static struct {
	int fd;                  /* the listening socket; -1: none */
	char path[4096];
	struct rundir_file file; /* ingest.sock as made, removed only if still ours */
	struct lws_vhost *vh;
	const char *protocol;
	struct conn *conns;
	int nconns;
	const enum role *role;
} ctl = { .fd = -1 };

static int listener; /* the listening socket's opaque user data: told apart from clients */

int ctl_open(struct lws_vhost *vh, const char *protocol, const char *run_dir, struct conn *conns,
	     int nconns, const enum role *role, char *err, size_t errlen)
{
	ctl.vh = vh;
	ctl.protocol = protocol;
	ctl.conns = conns;
	ctl.nconns = nconns;
	ctl.role = role;
	if (rundir_path(run_dir, "ingest.sock", ctl.path, sizeof ctl.path)) {
		snprintf(err, errlen, "%s/ingest.sock: path too long for a unix socket", run_dir);
		return -1;
	}
	ctl.fd = rundir_listen_unix(ctl.path, &ctl.file, err, errlen);
	if (ctl.fd < 0)
		return errno == EADDRINUSE ? -2 : -1;
	if (!loop_adopt(vh, ctl.fd, protocol, &listener)) {
		snprintf(err, errlen, "cannot watch the control socket");
		return -1;
	}
	return 0;
}

void ctl_close(void)
{
	if (ctl.fd >= 0)
		rundir_remove_unix(ctl.path, &ctl.file);
}

/* The connection of exchange NAME holding CHANNEL (an exchange that routes channel groups
 * apart has one per group), else its first; NULL for an exchange not ingested. */
static struct conn *find_conn(const char *name, int channel)
{
	struct conn *first = NULL;
	for (int i = 0; i < ctl.nconns; i++) {
		struct conn *c = &ctl.conns[i];
		if (strcmp(c->x->name, name))
			continue;
		if (c->sub.channels & channel)
			return c;
		if (!first)
			first = c;
	}
	return first;
}

/* "trade,ticker,book:full": the channels a connection subscribes to. */
static void channel_list(struct jw *w, int ch)
{
	static const struct {
		int bit;
		const char *name;
	} names[] = {
		{ XCH_TRADE, "trade" }, { XCH_TICKER, "ticker" }, { XCH_BOOK, "book" },
		{ XCH_DERIVATIVE, "derivative" }, { XCH_LIQUIDATION, "liquidation" },
	};
	char buf[96];
	size_t o = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (ch & names[i].bit)
			o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s%s", o ? "," : "", names[i].name,
					      names[i].bit == XCH_BOOK && (ch & XCH_BOOK_FULL) ? ":full" : "");
	jw_str(w, buf, o);
}

static void reply(struct ctl_client *cl, const char *s)
{
	ssize_t w = write(cl->fd, s, strlen(s)); /* replies are small; a client that does not read loses them */
	(void)w;
}

static void status(struct ctl_client *cl)
{
	struct jw w;
	const char *role = role_name(*ctl.role);
	jw_init(&w, CTL_STATUS_MAX);
	jw_lit(&w, "{\"role\":");
	jw_str(&w, role, strlen(role));
	jw_lit(&w, ",\"exchanges\":[");
	int64_t now = clk_mono_us();
	for (int i = 0; i < ctl.nconns; i++) {
		struct conn *c = &ctl.conns[i];
		const char *state = conn_state_name(c->state);
		if (i)
			jw_char(&w, ',');
		jw_lit(&w, "{\"exchange\":");
		jw_str(&w, c->x->name, strlen(c->x->name));
		jw_lit(&w, ",\"state\":");
		jw_str(&w, state, strlen(state));
		jw_lit(&w, ",\"channels\":");
		channel_list(&w, c->sub.channels);
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

static void resync(struct ctl_client *cl, const char *exchange, const char *symbol)
{
	static const char *const replies[] = {
		[CONN_RESYNC_QUEUED] = "ok resync queued\n",
		[CONN_RESYNC_SNAPSHOT] = "ok snapshot requested\n",
		[CONN_RESYNC_NOT_OPEN] = "error not connected\n",
		[CONN_RESYNC_FULL] = "error resync queue full\n",
		[CONN_RESYNC_NO_SNAPSHOT] = "error cannot fetch a snapshot now\n",
	};
	/* A book is resynced on the connection that carries books. */
	struct conn *c = find_conn(exchange, XCH_BOOK);
	reply(cl, c ? replies[conn_resync(c, symbol)] : "error unknown exchange\n");
}

/* Every connection of the exchange is replaced. */
static void reconnect(struct ctl_client *cl, const char *exchange)
{
	int found = 0, done = 0;
	for (int i = 0; i < ctl.nconns; i++)
		if (!strcmp(ctl.conns[i].x->name, exchange)) {
			found++;
			done += !conn_event(&ctl.conns[i], CONN_EV_RECONNECT);
		}
	if (!found)
		reply(cl, "error unknown exchange\n");
	else if (!done)
		reply(cl, "error not active (a follower, or stopping)\n");
	else
		reply(cl, "ok\n");
}

/* Instrument metadata fetched again now, on every connection of the exchange. */
static void meta(struct ctl_client *cl, const char *exchange)
{
	static const char *const replies[] = {
		[CONN_META_STARTED] = "ok metadata requested\n",
		[CONN_META_UNDERWAY] = "ok metadata on its way\n",
		[CONN_META_NONE] = "error the exchange has no instrument metadata\n",
		[CONN_META_NOT_OPEN] = "error not connected\n",
	};
	enum conn_meta best = CONN_META_NOT_OPEN + 1;
	for (int i = 0; i < ctl.nconns; i++)
		if (!strcmp(ctl.conns[i].x->name, exchange)) {
			enum conn_meta r = conn_meta_refresh(&ctl.conns[i]);
			if (r < best)
				best = r;
		}
	reply(cl, best <= CONN_META_NOT_OPEN ? replies[best] : "error unknown exchange\n");
}

static void command(struct ctl_client *cl, char *line)
{
	char *argv[4] = { 0 };
	int argc = 0;
	for (char *tok = strtok(line, " \t"); tok && argc < 4; tok = strtok(NULL, " \t"))
		argv[argc++] = tok;
	if (!argc)
		return;
	if (!strcmp(argv[0], "status"))
		status(cl);
	else if (!strcmp(argv[0], "resync") && argc == 3)
		resync(cl, argv[1], argv[2]);
	else if (!strcmp(argv[0], "reconnect") && argc == 2)
		reconnect(cl, argv[1]);
	else if (!strcmp(argv[0], "meta") && argc == 2)
		meta(cl, argv[1]);
	else
		reply(cl, "error commands: status | resync EXCHANGE SYMBOL | reconnect EXCHANGE | meta EXCHANGE\n");
}

static void accept_client(void)
{
	int fd = accept4(ctl.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct ctl_client *cl = calloc(1, sizeof *cl);
	if (!cl) {
		close(fd);
		return;
	}
	cl->fd = fd;
	if (!loop_adopt(ctl.vh, fd, ctl.protocol, cl))
		free(cl);
}

/* Reads what the client sent and runs each complete line. Returns 0, or -1 to close it. */
static int client_read(struct ctl_client *cl)
{
	ssize_t n = read(cl->fd, cl->buf + cl->len, sizeof cl->buf - 1 - cl->len);
	if (n <= 0)
		return n < 0 && errno == EAGAIN ? 0 : -1;
	cl->len += (size_t)n;
	cl->buf[cl->len] = 0;
	char *nl;
	while ((nl = memchr(cl->buf, '\n', cl->len))) {
		*nl = 0;
		command(cl, cl->buf);
		size_t used = (size_t)(nl - cl->buf) + 1;
		memmove(cl->buf, nl + 1, cl->len - used);
		cl->len -= used;
	}
	return cl->len == sizeof cl->buf - 1 ? -1 : 0; /* a line longer than any command */
}

int ctl_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	void *op = lws_get_opaque_user_data(wsi);
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (op == &listener) {
			accept_client();
			return 0;
		}
		return op ? client_read(op) : 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (op && op != &listener)
			free(op);
		break;
	default:
		break;
	}
	return 0;
}
