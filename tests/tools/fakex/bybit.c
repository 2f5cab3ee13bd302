/* bybit.c: Bybit v5's dialect, spot and (with bybit-linear.c's rules) linear: topics
 * subscribed by request (ten at a time on spot), one ack per request carrying the
 * connection's UUID, {"op":"ping"} answered with a pong. */

#include "bybit.h"

#include <string.h>

#define R ((const struct bybit_rules *)dl->rules)

/* A UUID names the connection. */
void
bybit_open(struct conn *c)
{
	hex_id(c->conn_id, 36);
	c->conn_id[8] = c->conn_id[13] = c->conn_id[18] = c->conn_id[23] = '-';
}

/* {"topic","type","data"}: routed by topic. */
int
bybit_frame(struct rline *l, const struct js_doc *d, int f)
{
	const char *ch;
	size_t chn;

	if (js_get(d, f, "data") < 0 || !fr_str(d, f, "topic", &ch, &chn))
		return -1;
	l->book = (unsigned char)span_starts(ch, chn, "orderbook.");
	l->book_snap = l->book && fr_is(d, f, "type", "snapshot");
	return key_intern(ch, chn);
}

/* {"success":..,"ret_msg":..,"conn_id":..,["req_id":..,]"op":..} */
static void
bybit_reply(struct conn *c, int ok, const char *ret_msg, const char *req_id, const char *op,
	    enum mkind kind)
{
	struct sbuf b = { 0 };

	sb_addf(&b, "{\"success\":%s,\"ret_msg\":", ok ? "true" : "false");
	sb_json_str(&b, ret_msg, strlen(ret_msg));
	sb_adds(&b, ",\"conn_id\":");
	sb_json_str(&b, c->conn_id, strlen(c->conn_id));
	if (req_id) {
		sb_adds(&b, ",\"req_id\":");
		sb_json_str(&b, req_id, strlen(req_id));
	}
	sb_adds(&b, ",\"op\":");
	sb_json_str(&b, op, strlen(op));
	sb_addc(&b, '}');
	conn_sb(c, &b, kind);
	if (!ok)
		request_rejected(c, ret_msg);
}

/* publicTrade.S, tickers.S, orderbook.{1,50,200,1000}.S, orderbook.full.S, kline.I.S, and
 * the variant's own (allLiquidation.S on linear); S upper-case letters, digits and, where
 * the variant allows, '-' (linear dated futures BTCUSDT-21FEB25). */
static int
symbol_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (!R->dash)
		return alnum_up(s, n);
	for (i = 0; i < n; i++)
		if (s[i] != '-' && !alnum_up(s + i, 1))
			return 0;
	return n && n <= 40 && s[0] != '-' && s[n - 1] != '-';
}

static int
topic_ok(const char *t)
{
	static const char *const depths[] = { "1", "50", "200", "1000", "full", NULL };
	static const char *const kl[] = {
		"1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D",
		"W", "M", NULL
	};
	const char *dot = strchr(t, '.'), *dot2;
	char mid[16];

	if (!dot)
		return 0;
	if (span_is(t, (size_t)(dot - t), "publicTrade") || span_is(t, (size_t)(dot - t), "tickers") ||
	    in_list_span(t, (size_t)(dot - t), R->extra))
		return symbol_ok(dot + 1);
	if (!(dot2 = strchr(dot + 1, '.')) || (size_t)(dot2 - dot - 1) >= sizeof(mid))
		return 0;
	memcpy(mid, dot + 1, (size_t)(dot2 - dot - 1));
	mid[dot2 - dot - 1] = '\0';
	if (!symbol_ok(dot2 + 1))
		return 0;
	if (span_is(t, (size_t)(dot - t), "orderbook"))
		return in_list(mid, depths);
	if (span_is(t, (size_t)(dot - t), "kline"))
		return in_list(mid, kl);
	return 0;
}

/* Characters of the connection's topics once KS is subscribed too. */
static size_t
topic_chars(const struct conn *c, const struct keyset *ks)
{
	size_t n = 0;
	int i;

	for (i = 0; i < c->subs.n; i++)
		n += strlen(c->subs.k[i]);
	for (i = 0; i < ks->n; i++)
		n += strlen(ks->k[i]);
	return n;
}

/* {"req_id":"..","op":"subscribe"|"unsubscribe","args":[topics]}, op already checked. */
static void
subscribe(struct conn *c, const struct req *r, const char *op, const char *req_id)
{
	int args = rq_get(r, 0, "args"), sub = op[0] == 's';
	struct keyset ks = { 0 };
	char msg[256];

	if (!rq_size(r, args)) {
		bybit_reply(c, 0, "error:args is empty", req_id, op, MK_OTHER);
		return;
	}
	if (R->max_args && rq_size(r, args) > (unsigned)R->max_args) {
		snprintf(msg, sizeof(msg), "error:args size exceeds the limit of %d", R->max_args);
		bybit_reply(c, 0, msg, req_id, op, MK_OTHER);
		return;
	}
	RQ_EACH(r, args, it) {
		const char *t = rq_str(r, it);

		if (!t || !topic_ok(t)) {
			snprintf(msg, sizeof(msg), "error:handler not found,topic:%.100s", t ? t : "");
			bybit_reply(c, 0, msg, req_id, op, MK_OTHER);
			goto out;
		}
		if (sub && ks_find(&c->subs, t) >= 0) {
			snprintf(msg, sizeof(msg), "error:already subscribed,topic:%.100s", t);
			bybit_reply(c, 0, msg, req_id, op, MK_OTHER);
			goto out;
		}
		if (ks_push(&ks, t, WANT_ALL))
			goto out;
	}
	if (sub && R->max_chars && topic_chars(c, &ks) > R->max_chars) {
		snprintf(msg, sizeof(msg), "error:args length exceeds the limit of %zu characters",
			 R->max_chars);
		bybit_reply(c, 0, msg, req_id, op, MK_OTHER);
		goto out;
	}
	keys_apply(c, &ks, sub);
	bybit_reply(c, 1, R->ack_text ? R->ack_text : op, req_id ? req_id : R->req_id_default, op,
		    MK_OTHER);
	keys_done(c, &ks, sub);
out:
	ks_free(&ks);
}

static void
read_request(struct conn *c, const struct req *r)
{
	const char *req_id = rq_gets(r, 0, "req_id"), *op = rq_gets(r, 0, "op");
	char msg[256];

	if (op && !strcmp(op, "ping")) {
		/* "op" stays "ping"; spot's pong has no req_id, linear's an empty one */
		bybit_reply(c, 1, "pong", R->req_id_default, "ping", MK_PONG);
		pong_sent_event(c);
	} else if (!op || (strcmp(op, "subscribe") && strcmp(op, "unsubscribe"))) {
		snprintf(msg, sizeof(msg), "error:unsupported op:%.40s", op ? op : "");
		bybit_reply(c, 0, msg, req_id, op ? op : "", MK_OTHER);
	} else {
		subscribe(c, r, op, req_id);
	}
}

void
bybit_request(struct conn *c, const char *text, size_t len)
{
	struct req r;

	if (rq_parse(&r, text, len) || rq_type(&r, 0) != JS_OBJECT)
		bybit_reply(c, 0, "error:request must be a JSON object", NULL, "", MK_OTHER);
	else
		read_request(c, &r);
	rq_free(&r);
}

const char *const bybit_retime_keys[] = { "\"ts\":", "\"T\":", "\"cts\":", NULL };
const char *const bybit_reid_keys[] = { "\"i\":", NULL };

static const struct bybit_rules spot = { .max_args = 10 };

const struct dialect dl_bybit = {
	.name = "bybit",
	.path = "/v5/public/spot",
	.idle_ms = 600000,
	.retime_keys = bybit_retime_keys,
	.reid_keys = bybit_reid_keys,
	.frame = bybit_frame,
	.open = bybit_open,
	.request = bybit_request,
	.rules = &spot,
};
