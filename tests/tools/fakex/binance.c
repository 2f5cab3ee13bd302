/* binance.c: Binance's dialect, spot and (with binance-futures.c's rules) USDⓈ-M futures:
 * streams named in the URL or subscribed by request, combined (/stream) or raw (/ws)
 * frames, server WS pings, and the REST order book snapshot. */

#include "binance.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define R ((const struct binance_rules *)dl->rules)

/* <symbol>@<channel>[@<speed>], symbol lower case; or an all-market stream. */
static int
stream_ok(const char *s, size_t n)
{
	static const char *const kline[] = {
		"1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h",
		"8h", "12h", "1d", "3d", "1w", "1M", NULL
	};
	const char *at, *ch, *end = s + n, *sfx;
	size_t chn, i;

	if (!n || n > 64)
		return 0;
	for (i = 0; R->all && R->all[i]; i++)
		if (span_is(s, n, R->all[i]))
			return 1;
	if (!(at = memchr(s, '@', n)) || at == s)
		return 0;
	for (ch = s; ch < at; ch++)
		if (!((*ch >= 'a' && *ch <= 'z') || (*ch >= '0' && *ch <= '9') ||
		      (*ch == '_' && R->underscore)))
			return 0;
	ch = at + 1;
	sfx = memchr(ch, '@', (size_t)(end - ch));
	chn = (size_t)((sfx ? sfx : end) - ch);
	for (i = 0; R->depth[i]; i++)
		if (span_is(ch, chn, R->depth[i]))
			return !sfx || in_list_span(sfx, (size_t)(end - sfx), R->speeds);
	for (i = 0; R->per_second && R->per_second[i]; i++)
		if (span_is(ch, chn, R->per_second[i]))
			return !sfx || span_is(sfx, (size_t)(end - sfx), "@1s");
	if (sfx)
		return 0;
	for (i = 0; R->plain[i]; i++)
		if (span_is(ch, chn, R->plain[i]))
			return 1;
	if (chn > 6 && !memcmp(ch, "kline_", 6))
		for (i = 0; kline[i]; i++)
			if (span_is(ch + 6, chn - 6, kline[i]))
				return 1;
	return 0;
}

/* Splits "a/b/c" into validated, de-duplicated streams.  Returns 0, or an HTTP status
 * with a reason in WHY. */
static int
stream_list(const char *list, struct keyset *ks, char *why, size_t wl)
{
	const char *p = list, *slash;
	char name[72];
	size_t n;

	if (!*p)
		return 0;
	for (;;) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (!stream_ok(p, n)) {
			snprintf(why, wl, "invalid stream: %.*s", (int)(n > 80 ? 80 : n), p);
			return 400;
		}
		memcpy(name, p, n);	/* stream_ok took at most 64 bytes */
		name[n] = '\0';
		if (ks_find(ks, name) < 0) {
			if (ks->n >= R->max_streams) {
				snprintf(why, wl, "too many streams (max %d)", R->max_streams);
				return 400;
			}
			if (ks_push(ks, name, WANT_ALL)) {
				snprintf(why, wl, "out of memory");
				return 500;
			}
		}
		if (!slash)
			return 0;
		p = slash + 1;
	}
}

/* /stream?streams=a/b (combined frames), /ws (raw, subscribe later), /ws/a/b (raw); with
 * routes (futures), each under /public or /market as well. */
static int
binance_target_list(const char *path, struct keyset *ks, int *combined, char *why, size_t wl)
{
	const char *q = strchr(path, '?'), *a;
	size_t pn = q ? (size_t)(q - path) : strlen(path);
	char *list;
	int r;

	if (R->routed && (span_starts(path, pn, "/public/") || span_starts(path, pn, "/market/"))) {
		path += 7;
		pn -= 7;
	}
	*combined = span_is(path, pn, "/stream");
	if (*combined) {
		for (a = q; a; a = strchr(a, '&')) {
			a++;
			if (strncmp(a, "streams=", 8))
				continue;
			if (!(list = strndup(a + 8, strcspn(a + 8, "&"))))
				return 500;
			r = stream_list(list, ks, why, wl);
			free(list);
			return r;
		}
		return 0;
	}
	if (span_is(path, pn, "/ws"))
		return 0;
	if (pn > 4 && !memcmp(path, "/ws/", 4)) {
		if (!(list = strndup(path + 4, pn - 4)))
			return 500;
		r = stream_list(list, ks, why, wl);
		free(list);
		return r;
	}
	snprintf(why, wl, "unknown path");
	return 404;
}

int
binance_target(const char *path, struct conn *c, char *why, size_t wl)
{
	struct keyset ks = { 0 };
	int combined, r = binance_target_list(path, &ks, &combined, why, wl);

	if (r || !c) {
		ks_free(&ks);
		return r;
	}
	c->subs = ks;
	c->unwrapped = !combined;
	return 0;
}

/* {"stream":"btcusdt@trade","data":{...}}: routed by stream; a raw connection gets
 * data. */
int
binance_frame(struct rline *l, const struct js_doc *d, int f)
{
	const char *s;
	size_t n;
	int key = -1, t;

	if (fr_str(d, f, "stream", &s, &n) && (key = key_intern(s, n)) < 0)
		return KEY_OOM;
	if ((t = js_get(d, f, "data")) >= 0)
		tok_span(d, t, &l->inner, &l->inner_len);
	return key;
}

/* Futures' routes: book streams travel on /public (and on a path with no route), every
 * other stream on /market. */
static int
route_public(const char *stream)
{
	const char *at = strchr(stream, '@');

	return at && (!strncmp(at, "@depth", 6) || !strncmp(at, "@bookTicker", 11));
}

/* "!serverShutdown" goes to every subscribed connection.  With routes, a stream subscribed
 * on the other route's connection is accepted and never sent, as Binance does. */
void
binance_want(struct conn *c)
{
	int id = key_lookup("!serverShutdown", 15), i, k;
	int market = c->path && !strncmp(c->path, "/market/", 8);

	if (c->has_sub && id >= 0)
		c->want[id] = WANT_ALL;
	for (i = 0; R->routed && i < c->subs.n; i++)
		if (route_public(c->subs.k[i]) == market &&
		    (k = key_lookup(c->subs.k[i], strlen(c->subs.k[i]))) >= 0)
			c->want[k] = 0;
}

/* ------------------------------------------------------------------ */
/* requests on the socket */

static void
reply_error(struct conn *c, int code, const char *msg, const char *id, size_t idlen)
{
	struct sbuf b = { 0 };

	sb_addf(&b, "{\"error\":{\"code\":%d,\"msg\":", code);
	sb_json_str(&b, msg, strlen(msg));
	sb_adds(&b, "},\"id\":");
	if (id)
		sb_add(&b, id, idlen);
	else
		sb_adds(&b, "null");
	sb_addc(&b, '}');
	conn_sb(c, &b, MK_OTHER);
}

/* Code 3, with the line and column where the JSON went wrong. */
static void
reply_bad_json(struct conn *c, const char *text, size_t len, size_t at)
{
	int line = 1, col = 1;
	size_t i;
	char msg[96];

	if (len && at >= len)
		at = len - 1;	/* cJSON's way: the last byte, when the text ran out */
	for (i = 0; i < at; i++) {
		if (text[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	snprintf(msg, sizeof(msg), "Invalid JSON: expected value at line %d column %d", line,
		 col);
	reply_error(c, 3, msg, NULL, 0);
}

/* id: signed 64-bit integer, short alphanumeric string, or null. */
static int
id_ok(const struct req *r, int id)
{
	const char *s = rq_str(r, id), *raw;
	char num[32], *end;
	size_t i, n;

	if (rq_type(r, id) == JS_NULL)
		return 1;
	if (rq_type(r, id) == JS_NUMBER) {
		rq_raw(r, id, &raw, &n);
		if (n >= sizeof(num))
			return 0;
		memcpy(num, raw, n);
		num[n] = '\0';
		errno = 0;
		(void)strtoll(num, &end, 10);
		return !errno && *end == '\0';
	}
	if (!s || !*s || strlen(s) > 36)
		return 0;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

struct request {
	struct conn *c;
	const struct req *r;
	const char *id;		/* the id as sent, echoed byte for byte */
	size_t idlen;
	int params;
	struct sbuf out;	/* the answer */
};

static void
event_params(const char *name, const struct req *r, int params)
{
	struct sbuf b = { 0 };
	int first = 1;

	sb_addf(&b, "{\"event\":\"%s\",\"streams\":[", name);
	RQ_EACH(r, params, it) {
		const char *s = rq_str(r, it);

		if (!first)
			sb_addc(&b, ',');
		first = 0;
		sb_json_str(&b, s, strlen(s));
	}
	sb_adds(&b, "]}");
	event_emit(&b);
	sb_free(&b);
}

/* Every param a valid stream; returns how many SUBSCRIBE adds, or -1 after an error. */
static int
check_streams(struct request *q, int sub)
{
	const struct req *r = q->r;
	char lqb[256];
	int added = 0;

	if (rq_type(r, q->params) != JS_ARRAY) {
		reply_error(q->c, 2, "Invalid request: params must be an array of strings",
			    q->id, q->idlen);
		return -1;
	}
	RQ_EACH(r, q->params, it) {
		const char *s = rq_str(r, it);

		if (!s) {
			reply_error(q->c, 2, "Invalid request: params must be an array of strings",
				    q->id, q->idlen);
			return -1;
		}
		if (!stream_ok(s, strlen(s))) {
			fxlog(LV_WARN, "invalid stream in request", "conn=%u stream=%s", q->c->id,
			      lq(lqb, sizeof(lqb), s, strlen(s)));
			reply_error(q->c, 2, "Invalid request: invalid stream", q->id, q->idlen);
			return -1;
		}
		if (sub && ks_find(&q->c->subs, s) < 0)
			added++;
	}
	return added;
}

static int
do_subscribe(struct request *q, int sub)
{
	struct conn *c = q->c;
	const struct req *r = q->r;
	int added = check_streams(q, sub);

	if (added < 0)
		return -1;
	if (sub && c->subs.n + added > R->max_streams) {
		reply_error(c, 2, "Invalid request: too many streams", q->id, q->idlen);
		return -1;
	}
	RQ_EACH(r, q->params, it) {
		const char *s = rq_str(r, it);
		int k = ks_find(&c->subs, s);

		if (sub && k < 0) {
			if (ks_push(&c->subs, s, WANT_ALL))
				break;
		} else if (!sub && k >= 0) {
			ks_del(&c->subs, s);
		}
	}
	want_recompute(c);
	if (sub)
		g.st.subscriptions++;
	event_params(sub ? "subscribe" : "unsubscribe", r, q->params);
	fxlog(LV_INFO, sub ? "subscribe" : "unsubscribe", "conn=%u count=%u streams=%d", c->id,
	      rq_size(r, q->params), c->subs.n);
	sb_adds(&q->out, "{\"result\":null,\"id\":");
	replay_kick(c);
	return 0;
}

static int
do_list(struct request *q)
{
	int i;

	sb_adds(&q->out, "{\"result\":[");
	for (i = 0; i < q->c->subs.n; i++) {
		if (i)
			sb_addc(&q->out, ',');
		sb_json_str(&q->out, q->c->subs.k[i], strlen(q->c->subs.k[i]));
	}
	sb_adds(&q->out, "],\"id\":");
	return 0;
}

/* SET_PROPERTY / GET_PROPERTY "combined": wrapped frames or their data. */
static int
do_property(struct request *q, int set)
{
	const struct req *r = q->r;
	const char *name = rq_str(r, rq_at(r, q->params, 0));
	int val = rq_at(r, q->params, 1);

	if (!name || rq_size(r, q->params) != (set ? 2u : 1u)) {
		reply_error(q->c, 2, "Invalid request: invalid params", q->id, q->idlen);
		return -1;
	}
	if (strcmp(name, "combined")) {
		reply_error(q->c, 0, "Unknown property", q->id, q->idlen);
		return -1;
	}
	if (set && rq_type(r, val) != JS_TRUE && rq_type(r, val) != JS_FALSE) {
		reply_error(q->c, 1, "Invalid value type: expected Boolean", q->id, q->idlen);
		return -1;
	}
	if (set) {
		q->c->unwrapped = rq_type(r, val) != JS_TRUE;
		sb_adds(&q->out, "{\"result\":null,\"id\":");
	} else {
		sb_addf(&q->out, "{\"result\":%s,\"id\":", q->c->unwrapped ? "false" : "true");
	}
	return 0;
}

static void
binance_dispatch(struct request *q)
{
	const struct req *r = q->r;
	int id = rq_get(r, 0, "id"), rc;
	const char *m;

	if (rq_type(r, 0) != JS_OBJECT) {
		reply_error(q->c, 2, "Invalid request: request must be an object", NULL, 0);
		return;
	}
	if (id < 0) {
		reply_error(q->c, 2, "Invalid request: missing field `id`", NULL, 0);
		return;
	}
	if (!id_ok(r, id)) {
		reply_error(q->c, 2, "Invalid request: invalid id", NULL, 0);
		return;
	}
	rq_raw(r, id, &q->id, &q->idlen);
	if (!(m = rq_gets(r, 0, "method"))) {
		reply_error(q->c, 2, "Invalid request: missing field `method`", q->id, q->idlen);
		return;
	}
	q->params = rq_get(r, 0, "params");
	if (!strcmp(m, "SUBSCRIBE") || !strcmp(m, "UNSUBSCRIBE")) {
		rc = do_subscribe(q, m[0] == 'S');
	} else if (!strcmp(m, "LIST_SUBSCRIPTIONS")) {
		rc = do_list(q);
	} else if (!strcmp(m, "SET_PROPERTY") || !strcmp(m, "GET_PROPERTY")) {
		rc = do_property(q, m[0] == 'S');
	} else {
		reply_error(q->c, 2, "Invalid request: unknown method", q->id, q->idlen);
		return;
	}
	if (rc)
		return;
	sb_add(&q->out, q->id, q->idlen);
	sb_addc(&q->out, '}');
	conn_sb(q->c, &q->out, MK_OTHER);
}

void
binance_request(struct conn *c, const char *text, size_t len)
{
	struct req r;
	struct request q = { .c = c, .r = &r, .params = -1 };

	if (rq_parse(&r, text, len))
		reply_bad_json(c, text, len, r.d.err_at);
	else
		binance_dispatch(&q);
	sb_free(&q.out);
	rq_free(&r);
}

/* ------------------------------------------------------------------ */
/* REST */

/* The latest "<sym>@depthSnapshot" frame of the recording (what the relay's ingest records
 * for a REST snapshot) not after the replay's furthest position, or its first one. */
static const struct rline *
depth_snapshot(const char *sym)
{
	const struct rline *best = NULL, *first = NULL;
	size_t reach = replay_reach(), i;
	char want[96];

	snprintf(want, sizeof want, "%s@depthSnapshot", sym);
	for (i = 0; sym[0] && i < rec.n; i++) {
		const struct rline *l = &rec.lines[i];

		if (l->key < 0 || strcmp(rec.keys[l->key], want) || !l->inner)
			continue;
		if (!first)
			first = l;
		if (i <= reach)
			best = l;
	}
	return best ? best : first;
}

/* GET <rest_path>?symbol=BTCUSDT: the recorded snapshot (depth_snapshot); 400 for a
 * symbol the recording has none of. */
int
binance_http(struct lws *wsi, const char *uri, const char *body, size_t len)
{
	char sym[64], *p;
	const struct rline *best;
	struct sbuf b = { 0 };

	if (body || strcmp(uri, R->rest_path))
		return 1;
	http_arg(wsi, "symbol", sym, sizeof sym);
	for (p = sym; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (!(best = depth_snapshot(sym))) {
		fxlog(LV_INFO, "REST depth: no snapshot", "symbol=%s", sym);
		return http_reply(wsi, HTTP_STATUS_BAD_REQUEST,
				  "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}", 39);
	}
	g.st.rest_requests++;
	sb_addf(&b, "{\"event\":\"rest\",\"path\":\"%s\",\"symbol\":\"%s\"}", R->rest_path, sym);
	event_emit(&b);
	sb_free(&b);
	return http_reply(wsi, HTTP_STATUS_OK, best->inner, best->inner_len);
}

const char *const binance_retime_keys[] = { "\"E\":", "\"T\":", NULL };
const char *const binance_reid_keys[] = { "\"t\":", "\"a\":", NULL };

static const char *const spot_plain[] = {
	"trade", "aggTrade", "ticker", "miniTicker", "bookTicker",
	"avgPrice", "ticker_1h", "ticker_4h", "ticker_1d", NULL
};
static const char *const spot_depth[] = { "depth", "depth5", "depth10", "depth20", NULL };
static const char *const spot_speeds[] = { "@100ms", NULL };

static const struct binance_rules spot = {
	.max_streams = 1024,
	.plain = spot_plain,
	.depth = spot_depth,
	.speeds = spot_speeds,
	.rest_path = "/api/v3/depth",
};

/* Binance says 5 messages a second: we allow twice that. */
const struct dialect dl_binance = {
	.name = "binance",
	.ping_ms = 20000,
	.msg_limit = 10,
	.pongs_limited = 1,
	.retime_keys = binance_retime_keys,
	.reid_keys = binance_reid_keys,
	.target = binance_target,
	.frame = binance_frame,
	.request = binance_request,
	.want = binance_want,
	.http = binance_http,
	.rules = &spot,
};
