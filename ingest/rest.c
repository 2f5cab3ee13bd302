/* rest.c: HTTP requests whose JSON answers travel as envelope lines, like frames. */
#include "rest.h"

#include "clock.h"
#include "json.h"
#include "log.h"
#include "resolve.h"
#include "sym.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for the envelope around a body: its head, the wrapper and the tag's quotes. */
#define REST_LINE_ROOM 4096
/* How much of an error answer's body a failure's detail quotes. */
#define ERR_BODY_QUOTE 160

struct rest_req {
	int in_use;
	const struct out_src *src;
	struct met *ok, *failed;
	char what[32];
	char sym[SYM_MAX];
	char tag[128];
	char url[1024];
	char host[256];           /* the URL's host, looked up before the request goes out */
	char post[REST_MAX_POST]; /* the body to send; empty: a GET */
	size_t postlen;
	int posted;
	void (*learn)(void *owner, const char *tag, const char *body, size_t len);
	void (*done)(void *owner);
	void *owner;
	unsigned gen;
	/* The connection lws holds for this request: set by lws when it creates it (pwsi),
	 * cleared when lws destroys it, so that a late callback of an old one is told apart. */
	struct lws *wsi;
	int64_t deadline;      /* clk_mono_us: past it, the request fails */
	int timed_out;         /* ended by rest_tick: that is why, whatever lws says */
	int status;            /* HTTP status of the answer (0: none yet) */
	char *body;
	size_t len;
	int oversize;          /* the body passed the limit: the rest is read and dropped */
	/* The host is looked up off the loop first (resolve.h); no connection exists meanwhile. */
	struct lookup lk;
	int resolving;
	lws_sorted_usec_list_t sul_lookup;
};

static struct rest_req reqs[REST_MAX];
static struct lws_context *rest_ctx;
static struct lws_vhost *rest_vh;
static struct js_doc doc; /* checks that a body is JSON before it goes out as a line */
static int timeout_ms;    /* a request not done by then fails */

void rest_setup(struct lws_context *ctx, struct lws_vhost *vh, int timeout)
{
	timeout_ms = timeout;
	rest_ctx = ctx;
	rest_vh = vh;
	js_init(&doc, 0);
}

void rest_teardown(void)
{
	for (int i = 0; i < REST_MAX; i++) {
		lws_sul_cancel(&reqs[i].sul_lookup);
		lookup_cancel(&reqs[i].lk);
		free(reqs[i].body);
	}
	memset(reqs, 0, sizeof reqs);
	js_free(&doc);
}

/* What a request is for, in a detail: its symbol, else its URL's path and query. */
static const char *subject(const struct rest_req *r)
{
	if (r->sym[0])
		return r->sym;
	const char *p = strstr(r->url, "://");
	p = p ? strchr(p + 3, '/') : NULL;
	return p ? p : r->url;
}

/* The request's end: ERR (NULL when it succeeded) is logged, counted and written as the
 * exchange's error event; the slot is free again, and then whoever waits is told (it may
 * start its next request in this very slot). */
static void done(struct rest_req *r, const char *err)
{
	void (*tell)(void *) = r->done;
	void *owner = r->owner;
	if (err) {
		char msg[64], detail[1400], q[1200];
		if (r->failed)
			r->failed->v++;
		snprintf(msg, sizeof msg, "%s request failed", r->what);
		log_warn(msg, " exchange=%s symbol=%s url=%s error=%s", r->src->exchange,
			 r->sym[0] ? r->sym : "-", r->url, log_quote(q, sizeof q, err, strlen(err)));
		snprintf(detail, sizeof detail, "%s %s%s failed: %s", r->what, r->sym[0] ? "for " : "",
			 subject(r), err);
		out_event(r->src, "error", detail);
	}
	lws_sul_cancel(&r->sul_lookup);
	lookup_cancel(&r->lk);
	free(r->body);
	memset(r, 0, sizeof *r);
	if (tell)
		tell(owner);
}

/* Why a request ended without its body, when lws says WHY: a timeout of ours wins. */
static void ended(struct rest_req *r, const char *why)
{
	char err[64];
	if (r->timed_out) {
		snprintf(err, sizeof err, "no complete answer within %g s", timeout_ms / 1000.0);
		why = err;
	}
	done(r, why);
}

/* "HTTP 400", and the start of the body the server gave with it (an exchange says there
 * why: Gate's {"label":"CONTRACT_NOT_FOUND",...}), control characters made spaces and
 * anything not ASCII '?', so that a cut never leaves half a character in the event. */
static void http_error(const struct rest_req *r, char *why, size_t n)
{
	int k = snprintf(why, n, "HTTP %d", r->status);
	size_t q = r->len < ERR_BODY_QUOTE ? r->len : ERR_BODY_QUOTE;
	if (!q || k < 0 || (size_t)k + q + 8 >= n)
		return;
	why[k++] = ':';
	why[k++] = ' ';
	for (size_t i = 0; i < q; i++)
		why[k++] = (unsigned char)r->body[i] < 0x20 ? ' ' : (unsigned char)r->body[i] > 0x7e ? '?' : r->body[i];
	if (q < r->len) {
		memcpy(why + k, "...", 3);
		k += 3;
	}
	why[k] = 0;
}

/* The body becomes an envelope line like a frame: {"stream":TAG,"data":BODY}. */
static void deliver(struct rest_req *r)
{
	if (r->status != 200) {
		char why[ERR_BODY_QUOTE + 64];
		http_error(r, why, sizeof why);
		done(r, why);
		return;
	}
	size_t tl = strlen(r->tag);
	if (r->len + tl + REST_LINE_ROOM > out_max_line())
		r->oversize = 1;
	if (r->oversize || js_parse(&doc, r->body, r->len) != JS_OK) {
		done(r, r->oversize ? "body too large" : "body is not JSON");
		return;
	}
	char *frame = malloc(r->len + tl + 32);
	if (!frame) {
		done(r, "out of memory");
		return;
	}
	/* Whoever waits learns from the answer before its line goes out: the names it teaches
	 * are used for the subscription that follows. */
	if (r->learn)
		r->learn(r->owner, r->tag, r->body, r->len);
	int k = snprintf(frame, r->len + tl + 32, "{\"stream\":\"%s\",\"data\":", r->tag);
	memcpy(frame + k, r->body, r->len);
	frame[(size_t)k + r->len] = '}';
	if (r->ok)
		r->ok->v++;
	char msg[64];
	snprintf(msg, sizeof msg, "%s received", r->what);
	log_info(msg, " exchange=%s symbol=%s bytes=%zu", r->src->exchange, r->sym[0] ? r->sym : "-",
		 r->len);
	out_frame(r->src, frame, (size_t)k + r->len + 1, clk_now_us());
	free(frame);
	done(r, NULL);
}

/* Appends IN to the body, up to REST_MAX_BODY; past it the rest is read and dropped, and
 * the request fails when the answer ends. Returns 0, or -1 when out of memory. */
static int append(struct rest_req *r, const void *in, size_t len)
{
	if (r->oversize || r->len + len > REST_MAX_BODY) {
		r->oversize = 1;
		return 0;
	}
	char *nb = realloc(r->body, r->len + len + 1);
	if (!nb)
		return -1;
	r->body = nb;
	memcpy(r->body + r->len, in, len);
	r->len += len;
	return 0;
}

/* A POST's headers: its body is JSON of a known length, sent when the socket is writable. */
static int post_headers(struct rest_req *r, struct lws *wsi, void *in, size_t len)
{
	unsigned char **p = in, *end = *p + len;
	if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
					 (const unsigned char *)"application/json", 16, p, end) ||
	    lws_add_http_header_content_length(wsi, r->postlen, p, end))
		return -1;
	lws_client_http_body_pending(wsi, 1);
	lws_callback_on_writable(wsi);
	return 0;
}

static int post_body(struct rest_req *r, struct lws *wsi)
{
	unsigned char buf[LWS_PRE + REST_MAX_POST];
	if (r->posted)
		return 0;
	memcpy(buf + LWS_PRE, r->post, r->postlen);
	r->posted = 1;
	lws_client_http_body_pending(wsi, 0);
	return lws_write(wsi, buf + LWS_PRE, r->postlen, LWS_WRITE_HTTP_FINAL) < (int)r->postlen ? -1 : 0;
}

/* WSI is request R's connection, and its end is not reported yet. */
static int live_on(const struct rest_req *r, const struct lws *wsi)
{
	return r && r->in_use && !r->resolving && (!r->wsi || r->wsi == wsi);
}

int rest_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	struct rest_req *r = user;
	int live;
	char why[160];

	/* USER is the request's only for a request's own events: during an https handshake
	 * lws calls with the certificate store in its place (certificate verification). */
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
	case LWS_CALLBACK_WSI_DESTROY:
		live = live_on(r, wsi);
		break;
	default:
		return 0;
	}

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		if (live && r->postlen)
			return post_headers(r, wsi, in, len);
		break;
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
		if (live && r->postlen)
			return post_body(r, wsi);
		break;
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		if (live)
			r->status = (int)lws_http_client_http_response(wsi);
		break;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
		char buf[LWS_PRE + 16384], *p = buf + LWS_PRE;
		int n = (int)sizeof buf - LWS_PRE;
		if (!live || lws_http_client_read(wsi, &p, &n) < 0)
			return -1;
		break;
	}
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		if (live && append(r, in, len))
			return -1;
		break;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		if (live)
			deliver(r);
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (live) {
			snprintf(why, sizeof why, "%.*s", in ? (int)len : 0, in ? (const char *)in : "");
			ended(r, why[0] ? why : "connection error");
		}
		break;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		if (live)
			ended(r, "closed before the body ended");
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		/* lws may end a connection (its timeout, or ours) with no report at all. */
		if (live) {
			r->wsi = NULL;
			ended(r, "connection ended before the answer");
		}
		break;
	default:
		break;
	}
	return 0;
}

static void lookup_step(struct rest_req *r);
static void lookup_cb(lws_sorted_usec_list_t *sul);
static void send_request(struct rest_req *r, const char *num);

/* The same request on its way: same source, URL and body. */
static int same(const struct rest_req *q, const struct rest_get *g, const char *post)
{
	return q->in_use && q->src == g->src && !strcmp(q->url, g->url) && !strcmp(q->post, post);
}

enum rest_start rest_fetch(const struct rest_get *g)
{
	const char *post = g->post ? g->post : "";
	struct rest_req *r = NULL;
	for (int i = 0; i < REST_MAX; i++) {
		struct rest_req *q = &reqs[i];
		if (same(q, g, post)) {
			/* One answer serves both; the newer caller is the one that still waits. */
			q->learn = g->learn;
			q->done = g->done;
			q->owner = g->owner;
			q->gen = g->gen;
			return REST_JOINED;
		}
		if (!q->in_use && !r)
			r = q;
	}
	if (!r)
		return REST_BUSY;
	if (strlen(g->url) >= sizeof r->url || strlen(g->tag) >= sizeof r->tag ||
	    (g->symbol && strlen(g->symbol) >= sizeof r->sym) || strlen(post) >= sizeof r->post)
		return REST_REFUSED;

	char buf[sizeof r->url];
	const char *prot, *addr, *p;
	int port;
	snprintf(buf, sizeof buf, "%s", g->url);
	if (lws_parse_uri(buf, &prot, &addr, &port, &p) || strlen(addr) >= sizeof r->host)
		return REST_REFUSED;

	memset(r, 0, sizeof *r);
	r->src = g->src;
	r->ok = g->ok;
	r->failed = g->failed;
	r->learn = g->learn;
	r->done = g->done;
	r->owner = g->owner;
	r->gen = g->gen;
	snprintf(r->what, sizeof r->what, "%s", g->what);
	snprintf(r->sym, sizeof r->sym, "%s", g->symbol ? g->symbol : "");
	snprintf(r->tag, sizeof r->tag, "%s", g->tag);
	snprintf(r->url, sizeof r->url, "%s", g->url);
	snprintf(r->host, sizeof r->host, "%s", addr);
	r->postlen = strlen(post);
	memcpy(r->post, post, r->postlen + 1);
	r->in_use = 1;
	r->deadline = clk_mono_us() + (int64_t)timeout_ms * 1000;
	char msg[64];
	/* "fetching a snapshot", "fetching metadata" */
	snprintf(msg, sizeof msg, "fetching %s%s", strcmp(r->what, "metadata") ? "a " : "", r->what);
	log_info(msg, " exchange=%s symbol=%s url=%s method=%s", r->src->exchange,
		 r->sym[0] ? r->sym : "-", r->url, r->postlen ? "POST" : "GET");
	/* Looked up and sent from the loop, never from inside this call: whatever befalls the
	 * request reaches the caller through its done callback, after it has this answer. */
	r->resolving = 1;
	lws_sul_schedule(rest_ctx, 0, &r->sul_lookup, lookup_cb, 0);
	return REST_STARTED;
}

/* The request's host, looked up off the loop: the request goes out when it is known; a
 * lookup past the request's deadline fails it (rest_tick). */
static void lookup_step(struct rest_req *r)
{
	char num[64], err[320];
	int got = lookup_addr(&r->lk, r->host, num, sizeof num, err, sizeof err);
	if (got == 0) {
		lws_sul_schedule(rest_ctx, 0, &r->sul_lookup, lookup_cb, LOOKUP_POLL_US);
		return;
	}
	r->resolving = 0;
	if (got < 0)
		done(r, err);
	else
		send_request(r, num);
}

static void lookup_cb(lws_sorted_usec_list_t *sul)
{
	struct rest_req *r = lws_container_of(sul, struct rest_req, sul_lookup);
	if (r->in_use && r->resolving)
		lookup_step(r);
}

/* Hands request R to lws, to the numeric address NUM; the name stays in Host and in TLS's
 * SNI and certificate check. */
static void send_request(struct rest_req *r, const char *num)
{
	char buf[sizeof r->url], path[sizeof r->url + 1];
	const char *prot, *addr, *p;
	int port;
	snprintf(buf, sizeof buf, "%s", r->url);
	if (lws_parse_uri(buf, &prot, &addr, &port, &p)) {
		done(r, "bad URL");
		return;
	}
	snprintf(path, sizeof path, "/%s", p);
	struct lws_client_connect_info i;
	memset(&i, 0, sizeof i);
	i.context = rest_ctx;
	i.vhost = rest_vh;
	i.address = num;
	i.port = port;
	i.path = path;
	i.host = addr;
	i.method = r->postlen ? "POST" : "GET";
	i.local_protocol_name = "rest";
	i.userdata = r;
	i.pwsi = &r->wsi;
	if (!strcmp(prot, "https")) {
		i.ssl_connection = LCCSCF_USE_SSL;
		/* A POST's body is written by hand, as HTTP/1.1 frames it. */
		if (r->postlen)
			i.alpn = "http/1.1";
	}
	if (!lws_client_connect_via_info(&i) && r->in_use && !r->wsi) {
		/* Refused at once (lws may have reported it already, from inside the call). */
		char why[sizeof r->url + 64];
		snprintf(why, sizeof why, "cannot start a connection to %s:%d (%s)", addr, port, num);
		done(r, why);
	}
}

int rest_pending(const void *owner, unsigned gen)
{
	int n = 0;
	for (int i = 0; i < REST_MAX; i++)
		n += reqs[i].in_use && reqs[i].owner == owner && reqs[i].gen == gen;
	return n;
}

int rest_free_slots(void)
{
	int n = 0;
	for (int i = 0; i < REST_MAX; i++)
		n += !reqs[i].in_use;
	return n;
}

void rest_tick(int64_t now)
{
	for (int i = 0; i < REST_MAX; i++) {
		struct rest_req *r = &reqs[i];
		if (!r->in_use || r->timed_out || now < r->deadline)
			continue;
		r->timed_out = 1;
		if (r->resolving) {
			char why[320];
			snprintf(why, sizeof why, "no answer from the resolver within %g s", timeout_ms / 1000.0);
			done(r, why);
		} else if (r->wsi)
			lws_set_timeout(r->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		else
			ended(r, NULL);
	}
}
