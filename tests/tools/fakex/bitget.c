/* bitget.c: Bitget v2 public's dialect, spot and (bitget-futures.c) USDT-margined
 * futures, told apart by the instType their args name: args of instType, channel and
 * instId, one ack per arg, text ping answered with text pong, and an idle rule that counts
 * only those pings. */

#include "bitget.h"

#include <string.h>

#define MAX_REQUEST	4096	/* bytes in one request */

#define R ((const struct bitget_rules *)dl->rules)


static struct bitget_conn *
bx(struct conn *c)
{
	return c->x;
}

void
bitget_open(struct conn *c)
{
	bx(c)->last_ping_us = mono_us();
}

/* {"action","arg":{"instType","channel","instId"},"data":[...]}: routed by all three;
 * books1/5/15 pushes are whole books, books sends a snapshot and updates. */
int
bitget_frame(struct rline *l, const struct js_doc *d, int f)
{
	const char *ch, *sy, *it;
	size_t chn, syn, itn;
	int arg = js_get(d, f, "arg");

	if (js_get(d, f, "data") < 0 || js_get(d, f, "event") >= 0 ||
	    !fr_str(d, arg, "channel", &ch, &chn) || !fr_str(d, arg, "instId", &sy, &syn) ||
	    !fr_str(d, arg, "instType", &it, &itn))
		return -1;
	l->book = (unsigned char)span_starts(ch, chn, "books");
	l->book_snap = l->book && (!span_is(ch, chn, "books") || fr_is(d, f, "action", "snapshot"));
	return key_join(it, itn, ch, chn, sy, syn);
}

/* No text ping, even while data flows. */
int64_t
bitget_idle_since(struct conn *c, int64_t now, const char **why)
{
	*why = "no ping";
	return bx(c)->last_ping_us;
}

static void
bitget_error(struct conn *c, const char *code, const char *msg)
{
	struct sbuf b = { 0 };

	sb_addf(&b, "{\"event\":\"error\",\"code\":\"%s\",\"msg\":", code);
	sb_json_str(&b, msg, strlen(msg));
	sb_addc(&b, '}');
	conn_sb(c, &b, MK_OTHER);
	request_rejected(c, msg);
}

static int
channel_ok(const char *ch)
{
	static const char *const channels[] = {
		"ticker", "trade", "books", "books1", "books5", "books15", "auction",
		"candle1m", "candle5m", "candle15m", "candle30m", "candle1H",
		"candle4H", "candle6H", "candle12H", "candle1D", "candle3D",
		"candle1W", "candle1M", NULL
	};

	return in_list(ch, channels);
}

static void
bitget_ack(struct conn *c, const struct req *r, const char *op, int arg)
{
	static const char *const fields[] = { "instType", "channel", "instId" };
	struct sbuf b = { 0 };
	size_t i;

	sb_addf(&b, "{\"event\":\"%s\",\"arg\":{", op);
	for (i = 0; i < 3; i++) {
		const char *v = rq_str(r, js_getn(&r->d, arg, fields[i], strlen(fields[i])));

		sb_addf(&b, "%s\"%s\":", i ? "," : "", fields[i]);
		sb_json_str(&b, v, strlen(v));
	}
	sb_adds(&b, "}}");
	conn_sb(c, &b, MK_OTHER);
}

/* The args' keys, or an error frame (and -1). */
static int
read_args(struct conn *c, const struct req *r, int args, struct keyset *ks)
{
	char msg[256];

	RQ_EACH(r, args, it) {
		const char *ty = rq_gets(r, it, "instType"), *ch = rq_gets(r, it, "channel");
		const char *inst = rq_gets(r, it, "instId");

		if (!ty || !ch || !inst) {
			bitget_error(c, "30002", "illegal request");
			return -1;
		}
		if (strcmp(ty, R->inst_type) || !channel_ok(ch) || !alnum_up(inst, strlen(inst))) {
			snprintf(msg, sizeof(msg), "instType:%.40s,channel:%.40s,instId:%.40s "
				 "doesn't exist", ty, ch, inst);
			bitget_error(c, "30001", msg);
			return -1;
		}
		if (ks_pushf(ks, WANT_ALL, ty, ch, inst))
			return -1;
	}
	return 0;
}

/* {"op":"subscribe"|"unsubscribe","args":[{"instType":T,"channel":C,"instId":I}]} */
static void
read_request(struct conn *c, const struct req *r)
{
	const char *op = rq_gets(r, 0, "op");
	int args = rq_get(r, 0, "args"), sub;
	struct keyset ks = { 0 };

	if (!op || (strcmp(op, "subscribe") && strcmp(op, "unsubscribe"))) {
		bitget_error(c, "30003", "invalid op");
		return;
	}
	if (!rq_size(r, args)) {
		bitget_error(c, "30002", "illegal request");
		return;
	}
	sub = op[0] == 's';
	if (!read_args(c, r, args, &ks)) {
		keys_apply(c, &ks, sub);
		RQ_EACH(r, args, it)
			bitget_ack(c, r, op, it);
		keys_done(c, &ks, sub);
	}
	ks_free(&ks);
}

void
bitget_request(struct conn *c, const char *text, size_t len)
{
	struct req r;

	if (span_is(text, len, "ping")) {
		bx(c)->last_ping_us = mono_us();
		conn_text(c, "pong", MK_PONG);
		pong_sent_event(c);
		return;
	}
	if (len > MAX_REQUEST) {
		bitget_error(c, "30002", "request too large (max 4096 bytes)");
		return;
	}
	if (rq_parse(&r, text, len) || rq_type(&r, 0) != JS_OBJECT)
		bitget_error(c, "30002", "illegal request");
	else
		read_request(c, &r);
	rq_free(&r);
}

const char *const bitget_retime_keys[] = { "\"ts\":", NULL };
const char *const bitget_reid_keys[] = { "\"tradeId\":", NULL };

static const struct bitget_rules spot = { "SPOT" };

/* Bitget says 10 messages a second: we allow twice that. */
const struct dialect dl_bitget = {
	.name = "bitget",
	.path = "/v2/ws/public",
	.idle_ms = 120000,
	.msg_limit = 20,
	.conn_size = sizeof(struct bitget_conn),
	.retime_keys = bitget_retime_keys,
	.reid_keys = bitget_reid_keys,
	.checksum_key = "\"checksum\":",
	.frame = bitget_frame,
	.open = bitget_open,
	.request = bitget_request,
	.idle_since = bitget_idle_since,
	.rules = &spot,
};
