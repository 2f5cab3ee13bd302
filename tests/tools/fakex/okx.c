/* okx.c: OKX v5 public's dialect: args of channel and instId, one ack per arg, text
 * ping answered with text pong, and an idle rule that also counts a connection that
 * never subscribes. */

#include "fakex.h"

#include <string.h>

/* 8 hex digits name the connection. */
static void
okx_open(struct conn *c)
{
	hex_id(c->conn_id, 8);
}

/* {"arg":{"channel","instId"},["action",]"data":[...]}: routed by channel and instId;
 * books5 and bbo-tbt pushes are whole books, books sends a snapshot and updates. */
static int
okx_frame(struct rline *l, const struct js_doc *d, int f)
{
	const char *ch, *sy;
	size_t chn, syn;
	int arg = js_get(d, f, "arg");

	if (js_get(d, f, "data") < 0 || js_get(d, f, "event") >= 0 ||
	    !fr_str(d, arg, "channel", &ch, &chn) || !fr_str(d, arg, "instId", &sy, &syn))
		return -1;
	l->book = span_starts(ch, chn, "books") || span_is(ch, chn, "bbo-tbt");
	l->book_snap = l->book && (js_get(d, f, "action") < 0 || fr_is(d, f, "action", "snapshot"));
	return key_join(ch, chn, sy, syn, NULL, 0);
}

/* Nothing went either way, or no subscription came since connecting. */
static int64_t
okx_idle_since(struct conn *c, int64_t now, const char **why)
{
	if (!c->ever_sub) {
		*why = "no subscription";
		return c->since_us;
	}
	return c->last_rx_us > c->last_tx_us ? c->last_rx_us : c->last_tx_us;
}

/* Every answer opens with the request's id, when it had one. */
static void
okx_begin(struct sbuf *b, const char *id)
{
	sb_addc(b, '{');
	if (id) {
		sb_adds(b, "\"id\":");
		sb_json_str(b, id, strlen(id));
		sb_addc(b, ',');
	}
}

static void
okx_error(struct conn *c, const char *id, const char *code, const char *msg)
{
	struct sbuf b = { 0 };

	okx_begin(&b, id);
	sb_addf(&b, "\"event\":\"error\",\"code\":\"%s\",\"msg\":", code);
	sb_json_str(&b, msg, strlen(msg));
	sb_adds(&b, ",\"connId\":");
	sb_json_str(&b, c->conn_id, strlen(c->conn_id));
	sb_addc(&b, '}');
	conn_sb(c, &b, MK_OTHER);
	request_rejected(c, msg);
}

static void
okx_ack(struct conn *c, const char *id, const char *op, const char *ch, const char *inst)
{
	struct sbuf b = { 0 };

	okx_begin(&b, id);
	sb_addf(&b, "\"event\":\"%s\",\"arg\":{\"channel\":", op);
	sb_json_str(&b, ch, strlen(ch));
	sb_adds(&b, ",\"instId\":");
	sb_json_str(&b, inst, strlen(inst));
	sb_adds(&b, "},\"connId\":");
	sb_json_str(&b, c->conn_id, strlen(c->conn_id));
	sb_addc(&b, '}');
	conn_sb(c, &b, MK_OTHER);
}

/* The args' keys, or an error frame (and -1).  INV is the 60012 message. */
static int
read_args(struct conn *c, const struct req *r, int args, const char *id, const char *inv,
	  struct keyset *ks)
{
	static const char *const channels[] = {
		"tickers", "trades", "books", "books5", "bbo-tbt", "books-l2-tbt",
		"books50-l2-tbt", "index-tickers", "mark-price", "open-interest",
		"funding-rate", "price-limit", "estimated-price", "opt-summary", NULL
	};
	char msg[512];

	RQ_EACH(r, args, it) {
		const char *ch = rq_gets(r, it, "channel"), *inst = rq_gets(r, it, "instId");

		if (!ch || !inst) {
			okx_error(c, id, "60012", inv);
			return -1;
		}
		if (!strcmp(ch, "books-l2-tbt") || !strcmp(ch, "books50-l2-tbt")) {
			okx_error(c, id, "60011", "Please log in");
			return -1;
		}
		if (!in_list(ch, channels) || !pair_ok(inst, '-', 4)) {
			snprintf(msg, sizeof(msg), "Wrong URL or channel:%.60s,instId:%.60s "
				 "doesn't exist. Please use the correct URL, channel and "
				 "parameters referring to API document.", ch, inst);
			okx_error(c, id, "60018", msg);
			return -1;
		}
		if (ks_pushf(ks, WANT_ALL, ch, inst, NULL))
			return -1;
	}
	return 0;
}

/* {"id":"..","op":"subscribe"|"unsubscribe","args":[{"channel":..,"instId":..},...]} */
static void
read_request(struct conn *c, const struct req *r, const char *inv)
{
	int id = rq_get(r, 0, "id"), args = rq_get(r, 0, "args");
	const char *ids = NULL, *op = rq_gets(r, 0, "op");
	struct keyset ks = { 0 };
	int sub;

	if (id >= 0) {
		if (!(ids = rq_str(r, id)) || !alnum_id(ids, 32)) {
			okx_error(c, NULL, "60012", inv);
			return;
		}
	}
	if (!op || (strcmp(op, "subscribe") && strcmp(op, "unsubscribe")) || !rq_size(r, args)) {
		okx_error(c, ids, "60012", inv);
		return;
	}
	sub = op[0] == 's';
	if (!read_args(c, r, args, ids, inv, &ks)) {
		keys_apply(c, &ks, sub);
		RQ_EACH(r, args, it)
			okx_ack(c, ids, op, rq_gets(r, it, "channel"), rq_gets(r, it, "instId"));
		keys_done(c, &ks, sub);
	}
	ks_free(&ks);
}

static void
okx_request(struct conn *c, const char *text, size_t len)
{
	struct sbuf inv = { 0 };
	struct req r;

	if (span_is(text, len, "ping")) {
		conn_text(c, "pong", MK_PONG);
		pong_sent_event(c);
		return;
	}
	sb_adds(&inv, "Invalid request: ");
	sb_add(&inv, text, len > 400 ? 400 : len);
	if (rq_parse(&r, text, len) || rq_type(&r, 0) != JS_OBJECT)
		okx_error(c, NULL, "60012", inv.oom ? "Invalid request" : inv.p);
	else
		read_request(c, &r, inv.oom ? "Invalid request" : inv.p);
	rq_free(&r);
	sb_free(&inv);
}

static const char *const retime_keys[] = { "\"ts\":", NULL };
static const char *const reid_keys[] = { "\"tradeId\":", NULL };

const struct dialect dl_okx = {
	.name = "okx",
	.path = "/ws/v5/public",
	.idle_ms = 30000,
	.retime_keys = retime_keys,
	.reid_keys = reid_keys,
	.checksum_key = "\"checksum\":",
	.frame = okx_frame,
	.open = okx_open,
	.request = okx_request,
	.idle_since = okx_idle_since,
};
