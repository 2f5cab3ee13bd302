/* control.c: the control socket (one command per line, one answer line each) and the
 * faults it injects: drops, closes, stalls, crafted frames, lost frames, bad checksums,
 * refused or unanswered upgrades, messages that never end. */

#include "fakex.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_LINE_MAX	(1024 * 1024 + 64)	/* room for "send <1 MiB>" */
#define CTL_OUT_MAX	(1024 * 1024)
#define MAX_HUGE	(64L * 1024 * 1024)
#define MAX_SKIP	1000000000L
#define ENDLESS_TICK_US	50000			/* pace of an endless message */
#define MAX_ENDLESS_BPS	(64L * 1024 * 1024)

/* ------------------------------------------------------------------ */
/* faults that never end: connections left unanswered, endless messages */

/* hang on: the connection was accepted (the client's connect() succeeded); keep a
 * duplicate of its socket and let lws drop its own, so the upgrade request is never read
 * nor answered, and no TLS handshake either. */
int
hang_take(int fd)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (d < 0) {
		fxlog(LV_ERROR, "cannot keep a connection unanswered", NULL);
		return 1;
	}
	if (g.nhung == MAX_HUNG) {
		close(g.hung[0]);
		memmove(g.hung, g.hung + 1, (MAX_HUNG - 1) * sizeof(g.hung[0]));
		g.nhung--;
	}
	g.hung[g.nhung++] = d;
	g.st.hung++;
	event_simple("hang");
	fxlog(LV_INFO, "connection accepted and left unanswered", "held=%d", g.nhung);
	return 1;	/* lws closes its descriptor; ours keeps the connection */
}

void
hang_release(void)
{
	while (g.nhung)
		close(g.hung[--g.nhung]);
}

static void
endless_tick(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_endless);
	int64_t now = mono_us();

	c->endless_due += (uint64_t)((double)c->endless_bps * (double)(now - c->endless_at) / 1e6);
	c->endless_at = now;
	if (c->endless_due)
		lws_callback_on_writable(c->wsi);
	lws_sul_schedule(g.ctx, 0, &c->sul_endless, endless_tick, ENDLESS_TICK_US);
}

static void
endless_start(struct conn *c, int kind, long bps)
{
	c->endless = kind;
	c->endless_bps = bps;
	c->endless_at = mono_us();
	c->endless_due = (uint64_t)(bps / 20 ? bps / 20 : 1);	/* the first bytes at once */
	lws_callback_on_writable(c->wsi);
	lws_sul_schedule(g.ctx, 0, &c->sul_endless, endless_tick, ENDLESS_TICK_US);
}

/* ENDLESS_LENGTH: past lws, a text frame header announcing 2^63 - 1 bytes and then that
 * payload, byte by byte as due, never reaching its end. */
static int
endless_length(struct conn *c, unsigned char *pad, size_t n)
{
	static const unsigned char hdr[10] = {
		0x81, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
	};
	int fd = lws_get_socket_fd(c->wsi);
	ssize_t w;

	if (c->endless_hdr_off < sizeof(hdr)) {
		w = send(fd, hdr + c->endless_hdr_off, sizeof(hdr) - c->endless_hdr_off,
			 MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (w > 0)
			c->endless_hdr_off += (size_t)w;
		if (c->endless_hdr_off < sizeof(hdr)) {
			lws_callback_on_writable(c->wsi);
			return 1;
		}
	}
	if (!n)
		return 1;
	memset(pad, 'x', n);
	w = send(fd, pad, n, MSG_NOSIGNAL);
	if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return -1;
	if (w > 0) {
		c->endless_due -= (uint64_t)w;
		g.st.endless_bytes += (uint64_t)w;
	}
	return 0;
}

/* ENDLESS_FRAGMENTS: a data frame without FIN, then continuation frames without FIN. */
static int
endless_fragment(struct conn *c, unsigned char *pad, size_t n)
{
	enum lws_write_protocol wp = c->endless_started ? LWS_WRITE_CONTINUATION : data_wp();

	if (!n)
		return 1;
	memset(pad + LWS_PRE, 'x', n);
	if (lws_write(c->wsi, pad + LWS_PRE, n, wp | LWS_WRITE_NO_FIN) < (int)n)
		return -1;
	c->endless_started = 1;
	c->endless_due -= n;
	g.st.endless_bytes += n;
	g.st.frames_sent++;
	return 0;
}

/* One write of the endless message. */
int
endless_write(struct conn *c)
{
	static unsigned char pad[LWS_PRE + 65536];
	size_t n = c->endless_due > 65536 ? 65536 : (size_t)c->endless_due;
	int r = c->endless == ENDLESS_LENGTH ? endless_length(c, pad, n) :
		endless_fragment(c, pad, n);

	if (r)
		return r < 0 ? -1 : 0;
	c->last_tx_us = mono_us();
	if (c->endless_due)
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* ------------------------------------------------------------------ */
/* commands: each acts on every connected client and appends its answer line to O */

static void
cmd_drop(char *arg, struct sbuf *o)
{
	struct conn *c;
	int n = 0;

	/* Linger 0 turns the close into a RST, and a quiet TLS shutdown skips
	 * close_notify: the client sees the line die. */
	for (c = g.conns; c; c = c->next) {
		struct linger lg = { 1, 0 };
		SSL *ssl = lws_get_ssl(c->wsi);

		setsockopt(lws_get_socket_fd(c->wsi), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (ssl)
			SSL_set_quiet_shutdown(ssl, 1);
		c->closing = 1;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		n++;
	}
	sb_addf(o, "ok dropped %d\n", n);
}

static int
close_code_ok(long code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

static void
cmd_close(char *arg, struct sbuf *o)
{
	struct conn *c;
	long v = 1001;
	char *end;
	int n = 0;

	if (*arg) {
		v = strtol(arg, &end, 10);
		if (*end || !close_code_ok(v)) {
			sb_adds(o, "error close code must be 1000-1003, 1007-1014 or 3000-4999\n");
			return;
		}
	}
	for (c = g.conns; c; c = c->next) {
		if (c->closing)
			continue;
		conn_close(c, (int)v, v == 1001 ? "going away" : "closed by fakex");
		n++;
	}
	sb_addf(o, "ok closing %d code %ld\n", n, v);
}

static void
cmd_stall(char *arg, struct sbuf *o)
{
	struct conn *c;

	if (!g.stalled) {
		g.stalled = 1;
		for (c = g.conns; c; c = c->next)
			lws_rx_flow_control(c->wsi, 0);
	}
	sb_adds(o, "ok stalled\n");
}

static void
cmd_resume(char *arg, struct sbuf *o)
{
	struct conn *c;
	int64_t now = mono_us();

	if (g.stalled) {
		g.stalled = 0;
		for (c = g.conns; c; c = c->next) {
			/* the silence was ours: do not blame the client */
			c->nping = 0;
			c->last_rx_us = now;
			lws_rx_flow_control(c->wsi, 1);
			lws_callback_on_writable(c->wsi);
			replay_kick(c);
		}
	}
	sb_adds(o, "ok resumed\n");
}

static void
cmd_pause(char *arg, struct sbuf *o)
{
	live_pause();
	sb_adds(o, "ok paused\n");
}

static void
cmd_play(char *arg, struct sbuf *o)
{
	live_play();
	sb_adds(o, "ok playing\n");
}

/* Queues M on every connection and answers how many. */
static void
send_all(struct msg *m, struct sbuf *o)
{
	if (!m) {
		sb_adds(o, "error out of memory\n");
		return;
	}
	sb_addf(o, "ok sent %d\n", broadcast(m));
}

static void
cmd_garbage(char *arg, struct sbuf *o)
{
	static const char junk[] = "this is not json {{{";

	send_all(msg_new(junk, sizeof(junk) - 1, LWS_WRITE_TEXT, MK_OTHER), o);
}

static void
cmd_huge(char *arg, struct sbuf *o)
{
	struct msg *m;
	char *end;
	long v = strtol(arg, &end, 10);

	if (!*arg || *end || v < 1 || v > MAX_HUGE) {
		sb_addf(o, "error usage: huge N (1..%ld)\n", MAX_HUGE);
		return;
	}
	if (!(m = msg_new(NULL, (size_t)v, data_wp(), MK_OTHER))) {
		sb_adds(o, "error out of memory\n");
		return;
	}
	/* {"huge":"xxxx"} padded to exactly N bytes when N allows */
	memset(m->buf + LWS_PRE, 'x', (size_t)v);
	if (v >= 11) {
		memcpy(m->buf + LWS_PRE, "{\"huge\":\"", 9);
		memcpy(m->buf + LWS_PRE + v - 2, "\"}", 2);
	}
	sb_addf(o, "ok sent %d bytes %ld\n", broadcast(m), v);
}

static void
cmd_send(char *arg, struct sbuf *o)
{
	if (!*arg)
		sb_adds(o, "error usage: send TEXT\n");
	else
		send_all(msg_new(arg, strlen(arg), data_wp(), MK_OTHER), o);
}

static void
cmd_skip(char *arg, struct sbuf *o)
{
	struct conn *c;
	char *end;
	long v = strtol(arg, &end, 10);
	int n = 0;

	if (!*arg || *end || v < 1 || v > MAX_SKIP) {
		sb_addf(o, "error usage: skip N (1..%ld)\n", MAX_SKIP);
		return;
	}
	for (c = g.conns; c; c = c->next) {
		if (c->closing)
			continue;
		c->skip_left = v;
		n++;
	}
	sb_addf(o, "ok skip %ld on %d\n", v, n);
}

static void
cmd_corrupt(char *arg, struct sbuf *o)
{
	struct conn *c;
	int n = 0;

	for (c = g.conns; c; c = c->next) {
		if (c->closing)
			continue;
		c->corrupt_pending = 1;
		n++;
	}
	sb_addf(o, "ok corrupt on %d\n", n);
}

/* "on" or "off" into *FLAG; returns -1 for anything else. */
static int
on_off(const char *arg, int *flag)
{
	if (strcmp(arg, "on") && strcmp(arg, "off"))
		return -1;
	*flag = arg[1] == 'n';
	return 0;
}

static void
cmd_refuse(char *arg, struct sbuf *o)
{
	if (on_off(arg, &g.refusing))
		sb_adds(o, "error usage: refuse on|off\n");
	else
		sb_addf(o, "ok refuse %s\n", arg);
}

static void
cmd_hang(char *arg, struct sbuf *o)
{
	if (on_off(arg, &g.hanging)) {
		sb_adds(o, "error usage: hang on|off\n");
		return;
	}
	if (!g.hanging)
		hang_release();
	sb_addf(o, "ok hang %s\n", arg);
}

static void
cmd_endless(char *arg, struct sbuf *o)
{
	char *bps = strchr(arg, ' '), *end = NULL;
	struct conn *c;
	int kind = 0, n = 0;
	long v;

	if (bps)
		*bps++ = '\0';
	if (!strcmp(arg, "length"))
		kind = ENDLESS_LENGTH;
	else if (!strcmp(arg, "fragments"))
		kind = ENDLESS_FRAGMENTS;
	v = bps && *bps ? strtol(bps, &end, 10) : -1;
	if (!kind || v < 1 || v > MAX_ENDLESS_BPS || *end) {
		sb_addf(o, "error usage: endless length|fragments BYTES_PER_S (1..%ld)\n",
			MAX_ENDLESS_BPS);
		return;
	}
	for (c = g.conns; c; c = c->next) {
		/* The raw header needs the plain socket. */
		if (c->closing || c->endless || (kind == ENDLESS_LENGTH && c->tls))
			continue;
		endless_start(c, kind, v);
		n++;
	}
	sb_addf(o, "ok endless %s on %d\n", arg, n);
}

static void
cmd_stats(char *arg, struct sbuf *o)
{
	const struct stats *s = &g.st;

	sb_addf(o, "{\"connections\":%" PRIu64 ",\"accepted\":%" PRIu64
		",\"messages_sent\":%" PRIu64 ",\"pings_sent\":%" PRIu64
		",\"pongs_received\":%" PRIu64 ",\"status_sent\":%" PRIu64
		",\"subscriptions\":%" PRIu64 ",\"skipped\":%" PRIu64
		",\"rejected\":%" PRIu64 ",\"frames_sent\":%" PRIu64
		",\"pongs_sent\":%" PRIu64 ",\"heartbeats_sent\":%" PRIu64
		",\"errors_sent\":%" PRIu64 ",\"snapshots_sent\":%" PRIu64
		",\"fault_skipped\":%" PRIu64 ",\"corrupted\":%" PRIu64
		",\"hung\":%" PRIu64 ",\"endless_bytes\":%" PRIu64
		",\"rest_requests\":%" PRIu64 "}\n",
		s->connections, s->accepted, s->messages_sent, s->pings_sent,
		s->pongs_received, s->status_sent, s->subscriptions, s->skipped, s->rejected,
		s->frames_sent, s->pongs_sent, s->heartbeats_sent, s->errors_sent,
		s->snapshots_sent, s->fault_skipped, s->corrupted, s->hung, s->endless_bytes,
		s->rest_requests);
}

static void cmd_help(char *arg, struct sbuf *o);

static const struct command {
	const char *name;
	const char *usage;	/* as `help` lists it; NULL: not listed */
	void (*run)(char *arg, struct sbuf *o);
} commands[] = {
	{ "drop", "drop", cmd_drop },
	{ "close", "close [CODE]", cmd_close },
	{ "stall", "stall", cmd_stall },
	{ "resume", "resume", cmd_resume },
	{ "pause", "pause", cmd_pause },
	{ "play", "play", cmd_play },
	{ "garbage", "garbage", cmd_garbage },
	{ "huge", "huge N", cmd_huge },
	{ "send", "send TEXT", cmd_send },
	{ "skip", "skip N", cmd_skip },
	{ "corrupt", "corrupt", cmd_corrupt },
	{ "refuse", "refuse on|off", cmd_refuse },
	{ "hang", "hang on|off", cmd_hang },
	{ "endless", "endless length|fragments BYTES_PER_S", cmd_endless },
	{ "stats", "stats", cmd_stats },
	{ "help", NULL, cmd_help },
};

static void
cmd_help(char *arg, struct sbuf *o)
{
	size_t i;
	const char *sep = "ok commands: ";

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!commands[i].usage)
			continue;
		sb_adds(o, sep);
		sb_adds(o, commands[i].usage);
		sep = ", ";
	}
	sb_addc(o, '\n');
}

static void
ctl_command(char *line, size_t len, struct sbuf *o)
{
	char *cmd = line, *arg;
	char q[256];
	size_t i;

	while (len && (line[len - 1] == '\r'))
		line[--len] = '\0';
	arg = strchr(cmd, ' ');
	if (arg)
		*arg++ = '\0';
	else
		arg = cmd + strlen(cmd);
	/* send's text is verbatim, leading spaces included */
	if (strcmp(cmd, "send"))
		while (*arg == ' ')
			arg++;
	fxlog(LV_INFO, "control command", "cmd=%s", lq(q, sizeof(q), cmd, strlen(cmd)));
	if (!*cmd) {
		sb_adds(o, "error empty command\n");
		return;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(cmd, commands[i].name)) {
			commands[i].run(arg, o);
			return;
		}
	}
	sb_adds(o, "error unknown command: ");
	sb_add(o, cmd, strlen(cmd) > 64 ? 64 : strlen(cmd));
	sb_addc(o, '\n');
}

/* ------------------------------------------------------------------ */
/* the socket */

static int
ctl_flush(struct lws *wsi, struct ctl *x)
{
	ssize_t n;

	while (x->out_off < x->out.len) {
		n = write(lws_get_socket_fd(wsi), x->out.p + x->out_off, x->out.len - x->out_off);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				lws_callback_on_writable(wsi);
				return 0;
			}
			if (errno == EINTR)
				continue;
			return -1;
		}
		x->out_off += (size_t)n;
	}
	x->out.len = x->out_off = 0;
	if (x->out.p)
		x->out.p[0] = '\0';
	return 0;
}

int
ctl_adopt(int fd, int role)
{
	lws_sock_file_fd_type u;
	struct lws *w;
	struct ctl *x;

	u.filefd = fd;
	w = lws_adopt_descriptor_vhost(g.vh, LWS_ADOPT_RAW_FILE_DESC, u, "fakex-control", NULL);
	if (!w)
		return -1;
	x = lws_wsi_user(w);
	if (!x)	/* cb_ctl closes a connection without state; the others are needed */
		return role == CTL_CONN ? 0 : -1;
	x->role = role;
	return 0;
}

static void
ctl_accept(void)
{
	int i, fd;

	for (i = 0; i < 16; i++) {
		fd = accept4(g.ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (ctl_adopt(fd, CTL_CONN)) {
			fxlog(LV_WARN, "cannot adopt control connection", NULL);
			close(fd);
		}
	}
}

/* Appends CHUNK to the line being read; runs it when NL ends it. */
static int
ctl_take(struct ctl *x, const char *p, size_t chunk, int nl)
{
	if (x->discarding) {
		if (nl)
			x->discarding = 0;
		return 0;
	}
	if (x->in.len + chunk > CTL_LINE_MAX) {
		sb_adds(&x->out, "error line too long\n");
		x->in.len = 0;
		x->discarding = !nl;
		return 0;
	}
	sb_add(&x->in, p, chunk);
	if (x->in.oom)
		return -1;
	if (nl) {
		ctl_command(x->in.p, x->in.len, &x->out);
		x->in.len = 0;
	}
	return 0;
}

static int
ctl_read(struct lws *wsi, struct ctl *x)
{
	char buf[65536];
	ssize_t n = read(lws_get_socket_fd(wsi), buf, sizeof(buf));
	char *p, *e, *nl;

	if (n == 0)
		return -1;
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	for (p = buf, e = buf + n; p < e; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(e - p));
		if (ctl_take(x, p, (size_t)((nl ? nl : e) - p), nl != NULL))
			return -1;
		if (!nl)
			break;
	}
	if (x->out.oom || x->out.len > CTL_OUT_MAX)
		return -1;	/* a client that never reads its answers */
	return ctl_flush(wsi, x);
}

int
cb_ctl(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct ctl *x = user;

	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (!x)
			return -1;
		if (x->role == CTL_TIMER) {
			replays_due();
			return 0;
		}
		if (x->role == CTL_LISTENER) {
			ctl_accept();
			return 0;
		}
		return ctl_read(wsi, x);
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		return x && x->role == CTL_CONN ? ctl_flush(wsi, x) : 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (x) {
			sb_free(&x->in);
			sb_free(&x->out);
		}
		return 0;
	default:
		return 0;
	}
}

int
ctl_listen(const char *path)
{
	struct sockaddr_un sa;
	struct stat stt;
	char q[256];

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fxlog(LV_ERROR, "control socket path too long", NULL);
		return -1;
	}
	/* A socket left by a killed run would make bind fail; anything else at that path
	 * is not ours to remove. */
	if (!lstat(path, &stt)) {
		if (!S_ISSOCK(stt.st_mode)) {
			fxlog(LV_ERROR, "control path exists and is not a socket", "path=%s",
			      lq(q, sizeof(q), path, strlen(path)));
			return -1;
		}
		unlink(path);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	g.ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (g.ctl_fd < 0 || bind(g.ctl_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(g.ctl_fd, 16)) {
		const char *why = strerror(errno);
		char qe[128];

		fxlog(LV_ERROR, "cannot listen on control socket", "path=%s error=%s",
		      lq(q, sizeof(q), path, strlen(path)), lq(qe, sizeof(qe), why, strlen(why)));
		return -1;
	}
	g.ctl_created = 1;
	if (ctl_adopt(g.ctl_fd, CTL_LISTENER)) {
		fxlog(LV_ERROR, "cannot watch control socket", NULL);
		return -1;
	}
	return 0;
}
