/* out.c: envelope lines through a bounded queue; a slow reader costs lines, never a connection. */
#include "out.h"

#include "clock.h"
#include "jw.h"
#include "log.h"
#include "loop.h"
#include "oq.h"
#include "rundir.h"

#include <errno.h>
#include <string.h>

static struct {
	struct oq q;
	struct jw env;         /* the line being written */
	struct lws *wsi;       /* the output in the loop; NULL once it closed */
	int waiting;           /* a writable callback is asked for and has not come */
	struct log_limit rl_drop;
} out;

int out_init(int fd, size_t cap, size_t max_line)
{
	if (cap < 2 * max_line)
		cap = 2 * max_line;
	if (oq_init(&out.q, fd, cap))
		return -1;
	fd_nonblock(fd);
	fd_grow_pipe(fd);
	jw_init(&out.env, max_line);
	return 0;
}

int out_watch(struct lws_vhost *vh, const char *protocol)
{
	out.wsi = loop_adopt_output(vh, out.q.fd, protocol, NULL);
	return out.wsi ? 0 : -1;
}

void out_free(void)
{
	jw_free(&out.env);
	oq_free(&out.q);
}

size_t out_max_line(void)
{
	return out.env.max;
}

size_t out_pending(void)
{
	return out.q.len;
}

/* Queues the line being written; when the reader is slow it is dropped and counted, and
 * the connection goes on (pings are still answered). */
static void push(const struct out_src *s)
{
	if (out.env.err || !oq_push(&out.q, out.env.buf, out.env.len))
		return;
	if (s->dropped)
		s->dropped->v++;
	long sup = log_allow(&out.rl_drop, clk_mono_us());
	if (sup >= 0)
		log_warn("output full, line dropped", " exchange=%s suppressed=%ld", s->exchange, sup);
}

static void head(const struct out_src *s, int64_t ts)
{
	jw_reset(&out.env);
	jw_lit(&out.env, "{\"exchange\":");
	jw_str(&out.env, s->exchange, strlen(s->exchange));
	jw_lit(&out.env, ",\"local_ts\":");
	jw_int(&out.env, ts);
}

void out_event(const struct out_src *s, const char *event, const char *detail)
{
	head(s, clk_now_us());
	jw_lit(&out.env, ",\"event\":");
	jw_str(&out.env, event, strlen(event));
	if (detail) {
		jw_lit(&out.env, ",\"detail\":");
		jw_str(&out.env, detail, strlen(detail));
	}
	jw_lit(&out.env, "}\n");
	push(s);
}

void out_frame(const struct out_src *s, char *f, size_t n, int64_t local_ts)
{
	/* Valid JSON has raw newlines only between tokens, so they can become spaces. */
	for (char *p = memchr(f, '\n', n); p; p = memchr(p, '\n', n - (size_t)(p - f)))
		*p = ' ';
	for (char *p = memchr(f, '\r', n); p; p = memchr(p, '\r', n - (size_t)(p - f)))
		*p = ' ';
	head(s, local_ts);
	jw_lit(&out.env, ",\"data\":");
	jw_raw(&out.env, f, n);
	jw_lit(&out.env, "}\n");
	push(s);
}

int out_flush(void)
{
	if (!out.q.len || !out.wsi || out.waiting)
		return 0;
	int r = oq_flush(&out.q);
	if (r < 0) {
		int e = errno;
		log_info("reader closed the output", " error=\"%s\"", strerror(e));
		out.q.len = 0;
		return e ? e : EIO;
	}
	if (r > 0) {
		/* The reader took part of it: the rest when its pipe is writable again. */
		out.waiting = 1;
		lws_callback_on_writable(out.wsi);
	}
	return 0;
}

void out_drain(int timeout_ms)
{
	oq_drain(&out.q, timeout_ms);
}

int out_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		/* Only note it: the loop flushes right after this service pass. lws stops waiting
		 * for POLLOUT once this callback returns, so a wait asked for from in here (the
		 * reader took part of the queue) would be lost, and stdout never written again. */
		out.waiting = 0;
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		out.wsi = NULL;
		break;
	default:
		/* RAW_RX_FILE: the read end closed (poll reports it as readable/hup); the next
		 * write says so. */
		break;
	}
	return 0;
}
