/* kraken.c: Kraken v2's dialect: a status greeting, one answer per symbol, channel
 * heartbeats when nothing else flows, {"method":"ping"} answered with a pong. */

#include "fakex.h"

#include <inttypes.h>
#include <string.h>

/* Kraken greets every connection with the system status. */
static void
kraken_open(struct conn *c)
{
	struct sbuf b = { 0 };

	sb_addf(&b, "{\"channel\":\"status\",\"data\":[{\"api_version\":\"v2\","
		"\"connection_id\":%" PRIu64 ",\"system\":\"online\",\"version\":\"2.0.10\"}],"
		"\"type\":\"update\"}", rng_next() >> 1);
	conn_sb(c, &b, MK_OTHER);
}

/* {"channel","type","data":[{"symbol",...}]}: routed by channel and the first symbol;
 * {"channel":"instrument","type","data":{"assets","pairs"}} by channel alone. */
static int
kraken_frame(struct rline *l, const struct js_doc *d, int f)
{
	const char *ch, *sy;
	size_t chn, syn;

	if (fr_is(d, f, "channel", "instrument")) {
		l->book = 1;
		l->book_snap = (unsigned char)fr_is(d, f, "type", "snapshot");
		l->snapshot = (signed char)l->book_snap;
		return key_intern("instrument", 10);
	}
	if (!fr_str(d, f, "channel", &ch, &chn) ||
	    !fr_str(d, js_at(d, js_get(d, f, "data"), 0), "symbol", &sy, &syn))
		return -1;
	if (fr_is(d, f, "type", "snapshot"))
		l->snapshot = 1;
	else if (fr_is(d, f, "type", "update"))
		l->snapshot = 0;
	l->book = (unsigned char)span_is(ch, chn, "book");
	l->book_snap = l->book && l->snapshot == 1;
	return key_join(ch, chn, sy, syn, NULL, 0);
}

/* {"channel":"heartbeat"} in every --heartbeat-interval in which nothing else was sent. */
static void
kraken_heartbeat(struct conn *c, int64_t now)
{
	if (now - c->last_tx_us >= opt.heartbeat_ms * 1000 - 50000 && !c->qhead)
		conn_text(c, "{\"channel\":\"heartbeat\"}", MK_HEARTBEAT);
}

/* A request being answered. */
struct krq {
	struct conn *c;
	const struct req *r;
	const char *method;
	const char *req_id;	/* the number as sent, echoed byte for byte */
	size_t req_len;
	int64_t t_in;
};

/* {"error":..,"method":..,[req_id,][symbol,]"success":false,"time_in","time_out"} */
static void
kraken_error(const struct krq *q, const char *err, const char *symbol)
{
	struct sbuf b = { 0 };
	char ti[64], to[64];

	fmt_rfc3339(ti, sizeof(ti), q->t_in, 6);
	fmt_rfc3339(to, sizeof(to), wall_us(), 6);
	sb_adds(&b, "{\"error\":");
	sb_json_str(&b, err, strlen(err));
	sb_adds(&b, ",\"method\":");
	sb_json_str(&b, q->method, strlen(q->method));
	if (q->req_id) {
		sb_adds(&b, ",\"req_id\":");
		sb_add(&b, q->req_id, q->req_len);
	}
	if (symbol) {
		sb_adds(&b, ",\"symbol\":");
		sb_json_str(&b, symbol, strlen(symbol));
	}
	sb_addf(&b, ",\"success\":false,\"time_in\":\"%s\",\"time_out\":\"%s\"}", ti, to);
	conn_sb(q->c, &b, MK_OTHER);
	request_rejected(q->c, err);
}

static void
kraken_pong(const struct krq *q)
{
	struct sbuf b = { 0 };
	char ti[64], to[64];

	fmt_rfc3339(ti, sizeof(ti), q->t_in, 6);
	fmt_rfc3339(to, sizeof(to), wall_us(), 6);
	sb_adds(&b, "{\"method\":\"pong\"");
	if (q->req_id) {
		sb_adds(&b, ",\"req_id\":");
		sb_add(&b, q->req_id, q->req_len);
	}
	sb_addf(&b, ",\"time_in\":\"%s\",\"time_out\":\"%s\"}", ti, to);
	conn_sb(q->c, &b, MK_PONG);
	pong_sent_event(q->c);
}

/* What a subscription asks for, once checked. */
struct ksub {
	const char *channel;
	int syms;		/* the symbol array; -1 for the instrument channel */
	long depth;
	int snapshot;
	int sub;
};

/* One symbol's answer: success, with what was subscribed. */
static int
ack(const struct krq *q, const struct ksub *s, const char *sy, struct sbuf *b)
{
	char ti[64], to[64];

	fmt_rfc3339(ti, sizeof(ti), q->t_in, 6);
	fmt_rfc3339(to, sizeof(to), wall_us(), 6);
	b->len = 0;
	sb_addf(b, "{\"method\":\"%s\"", q->method);
	if (q->req_id) {
		sb_adds(b, ",\"req_id\":");
		sb_add(b, q->req_id, q->req_len);
	}
	sb_adds(b, ",\"result\":{\"channel\":");
	sb_json_str(b, s->channel, strlen(s->channel));
	if (!strcmp(s->channel, "book"))
		sb_addf(b, ",\"depth\":%ld", s->depth);
	if (s->sub)
		sb_addf(b, ",\"snapshot\":%s", s->snapshot ? "true" : "false");
	if (s->syms >= 0) {
		sb_adds(b, ",\"symbol\":");
		sb_json_str(b, sy, strlen(sy));
	}
	sb_addf(b, "},\"success\":true,\"time_in\":\"%s\",\"time_out\":\"%s\"}", ti, to);
	return b->oom ? -1 : 0;
}

/* One answer per symbol, each accepted or refused on its own (the instrument channel:
 * one answer).  The acks are queued after the keys are applied, so acks precede data. */
static void
subscribe_symbols(const struct krq *q, const struct ksub *s)
{
	struct keyset keys = { 0 }, acks = { 0 };
	struct sbuf b = { 0 };
	const struct req *r = q->r;
	int it = s->syms >= 0 ? rq_first(r, s->syms) : 0, i;

	for (; it >= 0; it = s->syms >= 0 ? rq_after(r, s->syms, it) : -1) {
		const char *sy = s->syms >= 0 && rq_str(r, it) ? rq_str(r, it) : "";
		char key[128], err[160];

		if (s->syms >= 0)
			snprintf(key, sizeof(key), "%s|%.100s", s->channel, sy);
		else
			snprintf(key, sizeof(key), "instrument");
		if (s->syms >= 0 && !pair_ok(sy, '/', 2)) {
			snprintf(err, sizeof(err), "Currency pair not supported %.100s", sy);
			kraken_error(q, err, sy);
			continue;
		}
		if (s->sub == (ks_find(&q->c->subs, key) >= 0)) {
			kraken_error(q, s->sub ? "Already subscribed" : "Subscription Not Found",
				     s->syms >= 0 ? sy : NULL);
			continue;
		}
		if (ks_push(&keys, key, s->snapshot ? WANT_ALL : WANT_RT) ||
		    ack(q, s, sy, &b) || ks_push(&acks, b.p, 0))
			goto out;
	}
	if (keys.n) {
		keys_apply(q->c, &keys, s->sub);
		if (s->sub)
			hb_start(q->c);
		for (i = 0; i < acks.n; i++)
			conn_text(q->c, acks.k[i], MK_OTHER);
		keys_done(q->c, &keys, s->sub);
	}
out:
	sb_free(&b);
	ks_free(&keys);
	ks_free(&acks);
}

/* params: {"channel","symbol":[...],"depth","snapshot"}.  Returns 0, or -1 after an
 * error frame. */
static int
read_params(const struct krq *q, struct ksub *s)
{
	static const char *const channels[] = { "book", "trade", "ticker", "ohlc",
						"instrument", NULL };
	static const long depths[] = { 10, 25, 100, 500, 1000 };
	const struct req *r = q->r;
	int params = rq_get(r, 0, "params"), depth, snap, i, ok = 0;
	double v = 0;

	if (!(s->channel = rq_gets(r, params, "channel"))) {
		kraken_error(q, "Missing field: params.channel", NULL);
		return -1;
	}
	if (!in_list(s->channel, channels)) {
		kraken_error(q, "Channel not found", NULL);
		return -1;
	}
	s->syms = rq_get(r, params, "symbol");
	if (!strcmp(s->channel, "instrument")) {
		s->syms = -1;	/* every pair, no symbols */
	} else if (!rq_size(r, s->syms)) {
		kraken_error(q, "Missing field: params.symbol", NULL);
		return -1;
	}
	s->depth = 10;
	depth = rq_get(r, params, "depth");
	if (depth >= 0 && !strcmp(s->channel, "book")) {
		for (i = 0; i < 5; i++)
			ok |= !rq_num(r, depth, &v) && v == (double)depths[i];
		if (!ok) {
			kraken_error(q, "Invalid depth: must be one of 10, 25, 100, 500, 1000", NULL);
			return -1;
		}
		s->depth = (long)v;
	}
	snap = rq_get(r, params, "snapshot");
	if (snap >= 0 && rq_type(r, snap) != JS_TRUE && rq_type(r, snap) != JS_FALSE) {
		kraken_error(q, "snapshot must be a boolean", NULL);
		return -1;
	}
	s->snapshot = snap >= 0 ? rq_type(r, snap) == JS_TRUE : strcmp(s->channel, "trade") != 0;
	return 0;
}

/* {"method":"subscribe"|"unsubscribe"|"ping","params":{...},"req_id":N} */
static void
read_request(struct krq *q)
{
	const struct req *r = q->r;
	int rid = rq_get(r, 0, "req_id");
	struct ksub s = { 0 };

	q->method = rq_gets(r, 0, "method");
	if (!q->method)
		q->method = "";
	if (rid >= 0) {
		if (rq_type(r, rid) != JS_NUMBER) {
			kraken_error(q, "req_id must be an integer", NULL);
			return;
		}
		rq_raw(r, rid, &q->req_id, &q->req_len);
	}
	if (!strcmp(q->method, "ping")) {
		kraken_pong(q);
		return;
	}
	if (strcmp(q->method, "subscribe") && strcmp(q->method, "unsubscribe")) {
		kraken_error(q, "Method not found", NULL);
		return;
	}
	s.sub = q->method[0] == 's';
	if (!read_params(q, &s))
		subscribe_symbols(q, &s);
}

static void
kraken_request(struct conn *c, const char *text, size_t len)
{
	struct req r;
	struct krq q = { .c = c, .r = &r, .method = "", .t_in = wall_us() };

	if (rq_parse(&r, text, len) || rq_type(&r, 0) != JS_OBJECT)
		kraken_error(&q, "Malformed request", NULL);
	else
		read_request(&q);
	rq_free(&r);
}

static const char *const reid_keys[] = { "\"trade_id\":", NULL };

/* Times are RFC 3339: --retime leaves them.  No idle rule is documented. */
const struct dialect dl_kraken = {
	.name = "kraken",
	.path = "/v2",
	.reid_keys = reid_keys,
	.checksum_key = "\"checksum\":",
	.frame = kraken_frame,
	.open = kraken_open,
	.request = kraken_request,
	.heartbeat = kraken_heartbeat,
};
