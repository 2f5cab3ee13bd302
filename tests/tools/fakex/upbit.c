/* upbit.c: Upbit's dialect, which Bithumb's current API speaks too: one JSON array
 * request that replaces the whole subscription, no ack, binary data frames, text PING
 * answered with {"status":"UP"}. */

#include "fakex.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct utype {			/* one type object of a request */
	char *type;
	char **codes;
	int ncodes;
	int only_snapshot, only_realtime;
};

/* A connection's subscription. */
struct upbit_conn {
	struct conn *c;
	struct utype *types;
	int ntypes;
	char format[16];
	char *ticket;
	lws_sorted_usec_list_t sul_status;
};

static struct upbit_conn *
ux(struct conn *c)
{
	return c->x;
}

static void
utypes_free(struct utype *t, int n)
{
	int i, j;

	for (i = 0; i < n; i++) {
		free(t[i].type);
		for (j = 0; j < t[i].ncodes; j++)
			free(t[i].codes[j]);
		free(t[i].codes);
	}
	free(t);
}

static void
upbit_open(struct conn *c)
{
	ux(c)->c = c;
	snprintf(ux(c)->format, sizeof(ux(c)->format), "DEFAULT");
}

static void
upbit_closed(struct conn *c)
{
	struct upbit_conn *u = ux(c);

	lws_sul_cancel(&u->sul_status);
	utypes_free(u->types, u->ntypes);
	free(u->ticket);
}

/* Member A of object O, else member B: a string without escapes. */
static int
either_str(const struct js_doc *d, int o, const char *a, const char *b, const char **s,
	   size_t *n)
{
	int t = js_getn(d, o, a, strlen(a));

	if (t < 0)
		t = js_getn(d, o, b, strlen(b));
	if (js_type(d, t) != JS_STRING || (d->tok[t].flags & JS_ESCAPED))
		return 0;
	*s = js_ptr(d, t);
	*n = js_len(d, t);
	return 1;
}

/* Key "type|code" from the frame's type/code (DEFAULT or SIMPLE format); a list format
 * is routed by its first item. */
static int
upbit_frame(struct rline *l, const struct js_doc *d, int f)
{
	const char *t, *c, *st;
	size_t tn, cn, stn;
	char key[128];

	if (js_type(d, f) == JS_ARRAY)
		f = js_at(d, f, 0);
	if (!either_str(d, f, "type", "ty", &t, &tn) || !either_str(d, f, "code", "cd", &c, &cn))
		return -1;
	if (either_str(d, f, "stream_type", "st", &st, &stn))
		l->snapshot = (signed char)span_is(st, stn, "SNAPSHOT");
	if (tn + cn + 2 > sizeof(key))
		return -1;
	memcpy(key, t, tn);
	key[tn] = '|';
	memcpy(key + tn + 1, c, cn);
	return key_intern(key, tn + 1 + cn);
}

/* Each type's codes, without an orderbook code's ".N" depth. */
static void
upbit_want(struct conn *c)
{
	struct upbit_conn *u = ux(c);
	int i, j, id;

	for (i = 0; i < u->ntypes; i++) {
		const struct utype *t = &u->types[i];
		unsigned bits = t->only_snapshot ? WANT_SNAP : t->only_realtime ? WANT_RT : WANT_ALL;

		for (j = 0; j < t->ncodes; j++) {
			char key[128];
			size_t cn = strcspn(t->codes[j], ".");
			int kn = snprintf(key, sizeof(key), "%s|%.*s", t->type, (int)cn,
					  t->codes[j]);

			if (kn > 0 && (size_t)kn < sizeof(key) &&
			    (id = key_lookup(key, (size_t)kn)) >= 0)
				c->want[id] |= (unsigned char)bits;
		}
	}
	c->has_sub = u->ntypes > 0;
}

/* ------------------------------------------------------------------ */
/* keep-alive: a text PING is answered at once and then every --status-interval */

static void
status_now(struct conn *c)
{
	static const char up[] = "{\"status\":\"UP\"}";

	conn_send(c, up, sizeof(up) - 1, LWS_WRITE_TEXT, MK_STATUS);
}

static void
status_tick(lws_sorted_usec_list_t *sul)
{
	struct upbit_conn *u = lws_container_of(sul, struct upbit_conn, sul_status);

	if (!g.stalled && !u->c->closing)
		status_now(u->c);
	lws_sul_schedule(g.ctx, 0, &u->sul_status, status_tick,
			 (lws_usec_t)opt.status_ms * 1000);
}

/* ------------------------------------------------------------------ */
/* requests */

static void
upbit_error(struct conn *c, const char *name, const char *message)
{
	struct sbuf b = { 0 };

	sb_addf(&b, "{\"error\":{\"name\":\"%s\",\"message\":", name);
	sb_json_str(&b, message, strlen(message));
	sb_adds(&b, "}}");
	conn_sb(c, &b, MK_OTHER);
	fxlog(LV_WARN, "rejected request", "conn=%u error=%s", c->id, name);
}

static int
type_ok(const char *t)
{
	static const char *const types[] = {
		"trade", "ticker", "orderbook", "candle.1s", "candle.1m",
		"candle.3m", "candle.5m", "candle.10m", "candle.15m",
		"candle.30m", "candle.60m", "candle.240m", NULL
	};

	return in_list(t, types);
}

/* QUOTE-BASE in upper case, with an optional .N depth for orderbook. */
static int
code_ok(const char *s, int orderbook)
{
	const char *p = s;
	int dash = 0, n = 0;

	for (; *p && *p != '.'; p++, n++) {
		if (*p == '-') {
			if (dash || n == 0 || !p[1] || p[1] == '.')
				return 0;
			dash = 1;
		} else if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) {
			return 0;
		}
	}
	if (!dash || n > 40)
		return 0;
	if (*p == '.') {
		if (!orderbook || !p[1])
			return 0;
		for (p++; *p; p++)
			if (*p < '0' || *p > '9')
				return 0;
	}
	return 1;
}

/* A request being read: what it will replace the subscription with, or its error. */
struct upreq {
	const struct req *r;
	struct utype *types;
	int ntypes;
	int list;
	char format[16];
	const char *err;
	char msg[160];
};

__attribute__((format(printf, 3, 4)))
static int
fail(struct upreq *q, const char *err, const char *fmt, ...)
{
	va_list ap;

	q->err = err;
	va_start(ap, fmt);
	vsnprintf(q->msg, sizeof(q->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* Member A, else B, of object O: absent leaves *OUT, a boolean sets it. */
static int
bool_field(const struct req *r, int o, const char *a, const char *b, int *out)
{
	int v = js_getn(&r->d, o, a, strlen(a));

	if (v < 0)
		v = js_getn(&r->d, o, b, strlen(b));
	if (v < 0)
		return 0;
	if (rq_type(r, v) != JS_TRUE && rq_type(r, v) != JS_FALSE)
		return -1;
	*out = rq_type(r, v) == JS_TRUE;
	return 0;
}

static int
take_codes(struct upreq *q, struct utype *t, int codes)
{
	const struct req *r = q->r;

	RQ_EACH(r, codes, code) {
		const char *s = rq_str(r, code);
		char **ncodes;

		if (!s || !code_ok(s, !strcmp(t->type, "orderbook")))
			return fail(q, "INVALID_PARAM", "invalid code: %.60s", s ? s : "?");
		ncodes = realloc(t->codes, (size_t)(t->ncodes + 1) * sizeof(*ncodes));
		if (ncodes)
			t->codes = ncodes;
		if (!ncodes || !(ncodes[t->ncodes] = strdup(s)))
			return fail(q, "WRONG_FORMAT", "out of memory");
		t->ncodes++;
	}
	return 0;
}

/* {"type","codes",["is_only_snapshot"],["is_only_realtime"]} */
static int
take_type(struct upreq *q, int it, const char *type)
{
	const struct req *r = q->r;
	int codes = rq_get(r, it, "codes");
	struct utype *nt, *t;

	if (!type || !type_ok(type))
		return fail(q, "INVALID_PARAM", "unsupported type");
	if (codes < 0 || (rq_type(r, codes) == JS_ARRAY && !rq_size(r, codes)))
		return fail(q, "NO_CODES", "codes is required for %s", type);
	if (rq_type(r, codes) != JS_ARRAY)
		return fail(q, "WRONG_FORMAT", "codes must be an array");
	if (!(nt = realloc(q->types, (size_t)(q->ntypes + 1) * sizeof(*nt))))
		return fail(q, "WRONG_FORMAT", "out of memory");
	q->types = nt;
	t = &q->types[q->ntypes++];
	memset(t, 0, sizeof(*t));
	if (!(t->type = strdup(type)))
		return fail(q, "WRONG_FORMAT", "out of memory");
	if (bool_field(r, it, "is_only_snapshot", "isOnlySnapshot", &t->only_snapshot) ||
	    bool_field(r, it, "is_only_realtime", "isOnlyRealtime", &t->only_realtime))
		return fail(q, "WRONG_FORMAT", "is_only_* must be booleans");
	return take_codes(q, t, codes);
}

/* Element N (after the ticket): a type, a format or a method. */
static int
take_element(struct upreq *q, int it, int n)
{
	static const char *const formats[] = {
		"DEFAULT", "SIMPLE", "JSON_LIST", "SIMPLE_LIST", NULL
	};
	const struct req *r = q->r;
	int type = rq_get(r, it, "type"), fmt = rq_get(r, it, "format");
	int meth = rq_get(r, it, "method");
	const char *s;

	if (rq_type(r, it) != JS_OBJECT)
		return fail(q, "WRONG_FORMAT", "element %d is not an object", n);
	if (type >= 0)
		return take_type(q, it, rq_str(r, type));
	if (fmt >= 0) {
		if (!(s = rq_str(r, fmt)) || !in_list(s, formats))
			return fail(q, "INVALID_PARAM", "unsupported format");
		snprintf(q->format, sizeof(q->format), "%s", s);
		return 0;
	}
	if (meth >= 0) {
		if (!(s = rq_str(r, meth)) || strcmp(s, "LIST_SUBSCRIPTIONS"))
			return fail(q, "INVALID_PARAM", "unsupported method");
		q->list = 1;
		return 0;
	}
	return fail(q, "WRONG_FORMAT", "element %d has no type, format or method", n);
}

/* {"event":"subscribe","types":{"trade":["KRW-BTC"],...},"format":"DEFAULT"}, the codes
 * of a type named twice merged under one key. */
static void
event_subscribe(const struct upbit_conn *u)
{
	struct sbuf b = { 0 };
	int i, j, k, firstc;

	sb_adds(&b, "{\"event\":\"subscribe\",\"types\":{");
	for (i = 0; i < u->ntypes; i++) {
		for (k = 0; k < i && strcmp(u->types[k].type, u->types[i].type); k++)
			;
		if (k < i)
			continue;	/* already merged into an earlier key */
		if (i)
			sb_addc(&b, ',');
		sb_json_str(&b, u->types[i].type, strlen(u->types[i].type));
		sb_adds(&b, ":[");
		firstc = 1;
		for (k = i; k < u->ntypes; k++) {
			if (strcmp(u->types[k].type, u->types[i].type))
				continue;
			for (j = 0; j < u->types[k].ncodes; j++) {
				if (!firstc)
					sb_addc(&b, ',');
				firstc = 0;
				sb_json_str(&b, u->types[k].codes[j], strlen(u->types[k].codes[j]));
			}
		}
		sb_addc(&b, ']');
	}
	sb_adds(&b, "},\"format\":");
	sb_json_str(&b, u->format, strlen(u->format));
	sb_addc(&b, '}');
	event_emit(&b);
	sb_free(&b);
}

static void
list_subscriptions(struct conn *c, const char *ticket)
{
	struct upbit_conn *u = ux(c);
	struct sbuf b = { 0 };
	int i, j;

	sb_adds(&b, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"result\":[");
	for (i = 0; i < u->ntypes; i++) {
		if (i)
			sb_addc(&b, ',');
		sb_adds(&b, "{\"type\":");
		sb_json_str(&b, u->types[i].type, strlen(u->types[i].type));
		sb_adds(&b, ",\"codes\":[");
		for (j = 0; j < u->types[i].ncodes; j++) {
			if (j)
				sb_addc(&b, ',');
			sb_json_str(&b, u->types[i].codes[j], strlen(u->types[i].codes[j]));
		}
		sb_adds(&b, "]}");
	}
	sb_adds(&b, "],\"ticket\":");
	sb_json_str(&b, ticket, strlen(ticket));
	sb_addc(&b, '}');
	if (!b.oom)
		conn_send(c, b.p, b.len, LWS_WRITE_BINARY, MK_OTHER);
	sb_free(&b);
}

/* The request's types replace the subscription. */
static void
subscribe(struct conn *c, struct upreq *q, const char *ticket)
{
	struct upbit_conn *u = ux(c);
	int i, n;

	utypes_free(u->types, u->ntypes);
	u->types = q->types;
	u->ntypes = q->ntypes;
	q->types = NULL;
	q->ntypes = 0;
	snprintf(u->format, sizeof(u->format), "%s", q->format);
	free(u->ticket);
	u->ticket = strdup(ticket);
	want_recompute(c);
	g.st.subscriptions++;
	event_subscribe(u);
	for (n = 0, i = 0; i < u->ntypes; i++)
		n += u->types[i].ncodes;
	fxlog(LV_INFO, "subscribe", "conn=%u types=%d codes=%d format=%s", c->id, u->ntypes, n,
	      u->format);
	replay_kick(c);
}

/* [{"ticket"},{"type","codes",...}...,{"format"}] replaces the whole subscription;
 * anything malformed gets an Upbit-style error and leaves the previous subscription in
 * place. */
static void
read_request(struct conn *c, const struct req *r)
{
	struct upreq q = { .r = r, .format = "DEFAULT" };
	const char *ticket;
	int n = 0;

	if (rq_type(r, 0) != JS_ARRAY) {
		upbit_error(c, "WRONG_FORMAT", "request must be a JSON array");
		return;
	}
	ticket = rq_gets(r, rq_at(r, 0, 0), "ticket");
	if (!ticket || !*ticket) {
		upbit_error(c, "NO_TICKET", "the first element must hold a ticket");
		return;
	}
	RQ_EACH(r, 0, it) {
		if (n++ && take_element(&q, it, n - 1))
			break;
	}
	if (!q.err && !q.ntypes && !q.list)
		fail(&q, "NO_TYPE", "at least one type object is required");
	if (q.err)
		upbit_error(c, q.err, q.msg);
	else if (q.ntypes)
		subscribe(c, &q, ticket);
	if (!q.err && q.list)
		list_subscriptions(c, ticket);
	utypes_free(q.types, q.ntypes);
}

static void
upbit_request(struct conn *c, const char *text, size_t len)
{
	struct upbit_conn *u = ux(c);
	struct req r;

	if (span_is(text, len, "PING")) {
		status_now(c);
		if (opt.status_ms > 0)
			lws_sul_schedule(g.ctx, 0, &u->sul_status, status_tick,
					 (lws_usec_t)opt.status_ms * 1000);
		return;
	}
	if (rq_parse(&r, text, len))
		upbit_error(c, "WRONG_FORMAT", "request must be a JSON array");
	else
		read_request(c, &r);
	rq_free(&r);
}

static const char *const retime_keys[] = { "\"timestamp\":", "\"trade_timestamp\":",
	"\"tms\":", "\"ttms\":", NULL };
static const char *const reid_keys[] = { "\"sequential_id\":", "\"sid\":", NULL };

/* Bithumb's current API speaks Upbit's protocol on the same path. */
#define UPBIT_DIALECT(exchange) {		\
	.name = exchange,			\
	.path = "/websocket/v1",		\
	.binary = 1,				\
	.idle_ms = 120000,			\
	.conn_size = sizeof(struct upbit_conn),	\
	.retime_keys = retime_keys,		\
	.reid_keys = reid_keys,			\
	.frame = upbit_frame,			\
	.open = upbit_open,			\
	.closed = upbit_closed,			\
	.request = upbit_request,		\
	.want = upbit_want,			\
}

const struct dialect dl_upbit = UPBIT_DIALECT("upbit");
const struct dialect dl_bithumb = UPBIT_DIALECT("bithumb");
