/* gateio.c: Gate v4 spot's dialect: one channel per request with its payload, one
 * answer echoing it, server WS pings, {"channel":"spot.ping"} answered with spot.pong.
 * gateio-futures.c shares its answers (gateio.h). */

#include "gateio.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

/* 16 hex digits name the connection. */
void
gate_open(struct conn *c)
{
	hex_id(c->conn_id, 16);
}

/* {"channel","event":"update","result":{...}} (spot.obu has no event): routed by channel
 * and result's currency_pair or s. */
static int
gate_frame(struct rline *l, const struct js_doc *d, int f)
{
	const char *ch, *sy;
	size_t chn, syn;
	int res = js_get(d, f, "result");

	if (!fr_str(d, f, "channel", &ch, &chn) || res < 0 ||
	    (js_get(d, f, "event") >= 0 && !fr_is(d, f, "event", "update")))
		return -1;
	if (!fr_str(d, res, "currency_pair", &sy, &syn) && !fr_str(d, res, "s", &sy, &syn))
		return -1;
	l->book = span_is(ch, chn, "spot.obu") || span_is(ch, chn, "spot.order_book_update") ||
		  span_is(ch, chn, "spot.order_book");
	if (l->book)
		l->book_snap = span_is(ch, chn, "spot.order_book") ||
			       js_type(d, js_get(d, res, "full")) == JS_TRUE;
	return key_join(ch, chn, sy, syn, NULL, 0);
}

/* The answer to a request: {"time","time_ms",["id",]"conn_id","trace_id","channel",
 * "event",["payload",]["error",]"result"}; CODE 0 is a success. */
void
gate_reply(struct grq *q, int code, const char *msg)
{
	struct sbuf b = { 0 };
	int64_t now = wall_us();
	char trace[40];

	hex_id(trace, 32);
	sb_addf(&b, "{\"time\":%" PRId64 ",\"time_ms\":%" PRId64, now / 1000000, now / 1000);
	if (q->id) {
		sb_adds(&b, ",\"id\":");
		sb_add(&b, q->id, q->idlen);
	}
	sb_adds(&b, ",\"conn_id\":");
	sb_json_str(&b, q->c->conn_id, strlen(q->c->conn_id));
	sb_addf(&b, ",\"trace_id\":\"%s\",\"channel\":", trace);
	sb_json_str(&b, q->channel, strlen(q->channel));
	sb_adds(&b, ",\"event\":");
	sb_json_str(&b, q->event, strlen(q->event));
	if (q->payload >= 0) {
		sb_adds(&b, ",\"payload\":");
		rq_print(q->r, q->payload, &b);
	}
	if (code) {
		sb_addf(&b, ",\"error\":{\"code\":%d,\"message\":", code);
		sb_json_str(&b, msg, strlen(msg));
		sb_adds(&b, "},\"result\":{\"status\":\"fail\"}}");
	} else {
		sb_adds(&b, ",\"result\":{\"status\":\"success\"}}");
	}
	conn_sb(q->c, &b, MK_OTHER);
	if (code)
		request_rejected(q->c, msg);
}

int gate_request_start(struct grq *q, int well_formed)
{
	const struct req *r = q->r;
	if (!well_formed || !q->event ||
	    (strcmp(q->event, "subscribe") && strcmp(q->event, "unsubscribe"))) {
		if (!q->event)
			q->event = "";
		q->payload = -1;
		gate_reply(q, 1, "invalid request body");
		return -1;
	}
	if (rq_type(r, rq_get(r, 0, "time")) != JS_NUMBER)
		return bad_arg(q, "invalid argument: time is required");
	if (!rq_size(r, q->payload))
		return bad_arg(q, "invalid argument: payload is required");
	return q->event[0] == 's';
}

/* Code 2 with MSG; returns -1. */
int
bad_arg(struct grq *q, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gate_reply(q, 2, msg);
	return -1;
}

static int
gate_pair_ok(const char *s)
{
	return s && pair_ok(s, '_', 2);
}

/* spot.tickers, spot.trades, spot.book_ticker: pairs. */
static int
pairs_payload(struct grq *q)
{
	RQ_EACH(q->r, q->payload, it) {
		const char *s = rq_str(q->r, it);

		if (!gate_pair_ok(s))
			return bad_arg(q, "invalid argument: unknown currency pair %.60s", s ? s : "");
		if (ks_pushf(&q->keys, WANT_ALL, q->channel, s, NULL))
			return -1;
	}
	return 0;
}

/* spot.order_book_update: [pair, "20ms"|"100ms"]; spot.order_book: [pair, level,
 * "100ms"|"1000ms"]. */
static int
book_payload(struct grq *q, int full)
{
	static const char *const levels[] = { "5", "10", "20", "50", "100", NULL };
	static const char *const fast[] = { "20ms", "100ms", NULL };
	static const char *const slow[] = { "100ms", "1000ms", NULL };
	const struct req *r = q->r;
	const char *p0 = rq_str(r, rq_at(r, q->payload, 0)), *p1 = rq_str(r, rq_at(r, q->payload, 1));
	const char *p2 = rq_str(r, rq_at(r, q->payload, 2));

	if (!full && (rq_size(r, q->payload) != 2 || !gate_pair_ok(p0) || !p1 ||
		      !in_list(p1, fast)))
		return bad_arg(q, "invalid argument: payload must be [currency_pair, "
			       "\"20ms\"|\"100ms\"]");
	if (full && (rq_size(r, q->payload) != 3 || !gate_pair_ok(p0) || !p1 ||
		     !in_list(p1, levels) || !p2 || !in_list(p2, slow)))
		return bad_arg(q, "invalid argument: payload must be [currency_pair, level, "
			       "interval]");
	return ks_pushf(&q->keys, WANT_ALL, q->channel, p0, NULL);
}

/* spot.obu: stream names ob.PAIR.50 or ob.PAIR.400, each subscribed once. */
static int
obu_payload(struct grq *q, int sub)
{
	RQ_EACH(q->r, q->payload, it) {
		const char *s = rq_str(q->r, it), *dot;
		char pair[64], key[128];

		if (!s)
			s = "";
		dot = strrchr(s, '.');
		if (strncmp(s, "ob.", 3) || !dot || dot < s + 3 ||
		    (size_t)(dot - s - 3) >= sizeof(pair) || (strcmp(dot, ".50") && strcmp(dot, ".400")))
			return bad_arg(q, "invalid argument: %.60s", s);
		memcpy(pair, s + 3, (size_t)(dot - s - 3));
		pair[dot - s - 3] = '\0';
		if (!pair_ok(pair, '_', 2))
			return bad_arg(q, "invalid argument: %.60s", s);
		snprintf(key, sizeof(key), "spot.obu|%s", s);
		if (sub && ks_find(&q->c->subs, key) >= 0)
			return bad_arg(q, "Alert sub %.60s", s);
		if (ks_push(&q->keys, key, WANT_ALL))
			return -1;
	}
	return 0;
}

/* {"time":<s>,"id":N,"channel":C,"event":"subscribe"|"unsubscribe","payload":[...]} */
static void
subscribe(struct grq *q)
{
	static const char *const lists[] = { "spot.tickers", "spot.trades", "spot.book_ticker",
					     NULL };
	int sub = gate_request_start(q, rq_gets(q->r, 0, "channel") != NULL), rc;

	if (sub < 0)
		return;
	if (in_list(q->channel, lists))
		rc = pairs_payload(q);
	else if (!strcmp(q->channel, "spot.order_book_update"))
		rc = book_payload(q, 0);
	else if (!strcmp(q->channel, "spot.order_book"))
		rc = book_payload(q, 1);
	else if (!strcmp(q->channel, "spot.obu"))
		rc = obu_payload(q, sub);
	else
		rc = bad_arg(q, "unknown channel %.60s", q->channel);
	if (rc)
		return;
	keys_apply(q->c, &q->keys, sub);
	gate_reply(q, 0, NULL);
	keys_done(q->c, &q->keys, sub);
}

static void
read_request(struct grq *q)
{
	const struct req *r = q->r;
	int id = rq_get(r, 0, "id");
	const char *ch = rq_gets(r, 0, "channel");
	struct sbuf b = { 0 };

	if (rq_type(r, id) == JS_NUMBER)
		rq_raw(r, id, &q->id, &q->idlen);
	q->channel = ch ? ch : "";
	if (!strcmp(q->channel, "spot.ping")) {
		sb_addf(&b, "{\"time\":%" PRId64 ",\"channel\":\"spot.pong\",\"event\":\"\","
			"\"error\":null,\"result\":null}", wall_us() / 1000000);
		conn_sb(q->c, &b, MK_PONG);
		pong_sent_event(q->c);
		return;
	}
	q->event = rq_gets(r, 0, "event");
	q->payload = rq_get(r, 0, "payload");
	subscribe(q);
}

static void
gate_request(struct conn *c, const char *text, size_t len)
{
	struct req r;
	struct grq q = { .c = c, .r = &r, .channel = "", .event = "", .payload = -1 };

	if (rq_parse(&r, text, len) || rq_type(&r, 0) != JS_OBJECT)
		gate_reply(&q, 1, "invalid request body");
	else
		read_request(&q);
	ks_free(&q.keys);
	rq_free(&r);
}

static const char *const retime_keys[] = { "\"time_ms\":", "\"t\":", "\"create_time_ms\":",
	NULL };
static const char *const reid_keys[] = { "\"id\":", NULL };

const struct dialect dl_gateio = {
	.name = "gateio",
	.path = "/ws/v4/",
	.ping_ms = 20000,
	.retime_keys = retime_keys,
	.reid_keys = reid_keys,
	.frame = gate_frame,
	.open = gate_open,
	.request = gate_request,
};
