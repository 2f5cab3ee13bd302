/* okx.c: OKX v5 public's dialect, spot and derivatives on one socket: args of channel and
 * instId (instType for liquidation-orders and instruments), one ack per arg, text ping
 * answered with text pong, an idle rule that also counts a connection that never
 * subscribes, and the REST instruments endpoint, answered from the metadata the recording
 * holds (which also tells the swaps and futures that exist). */

#include "fakex.h"

#include <stdlib.h>
#include <string.h>

#define META_TAG	"instruments"	/* the stream name of ingest's metadata lines */

/* 8 hex digits name the connection. */
static void
okx_open(struct conn *c)
{
	hex_id(c->conn_id, 8);
}

/* {"arg":{"channel","instId"},["action",]"data":[...]}: routed by channel and instId (or
 * instType: liquidation-orders, instruments); books5 and bbo-tbt pushes are whole books,
 * books sends a snapshot and updates.  Metadata lines ({"stream":"instruments",...}) are
 * REST answers, never replayed. */
static int
okx_frame(struct rline *l, const struct js_doc *d, int f)
{
	const char *ch, *sy;
	size_t chn, syn;
	int arg = js_get(d, f, "arg"), t;

	if (fr_is(d, f, "stream", META_TAG) && (t = js_get(d, f, "data")) >= 0) {
		tok_span(d, t, &l->inner, &l->inner_len);
		return -1;
	}
	if (js_get(d, f, "data") < 0 || js_get(d, f, "event") >= 0 ||
	    !fr_str(d, arg, "channel", &ch, &chn) ||
	    (!fr_str(d, arg, "instId", &sy, &syn) && !fr_str(d, arg, "instType", &sy, &syn)))
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

/* The arg as acked: {"channel":C,"instId":I} or {"channel":C,"instType":T}. */
static void
okx_ack(struct conn *c, const char *id, const char *op, const char *ch, const char *inst,
	const char *type)
{
	struct sbuf b = { 0 };

	okx_begin(&b, id);
	sb_addf(&b, "\"event\":\"%s\",\"arg\":{\"channel\":", op);
	sb_json_str(&b, ch, strlen(ch));
	sb_adds(&b, inst ? ",\"instId\":" : ",\"instType\":");
	sb_json_str(&b, inst ? inst : type, strlen(inst ? inst : type));
	sb_adds(&b, "},\"connId\":");
	sb_json_str(&b, c->conn_id, strlen(c->conn_id));
	sb_addc(&b, '}');
	conn_sb(c, &b, MK_OTHER);
}

/* ------------------------------------------------------------------ */
/* the instruments the recording's metadata names */

static struct keyset known;	/* "SWAP|BTC-USDT-SWAP", from the metadata lines */
static int known_read;

static void
note_instruments(const struct js_doc *d, int body, void *arg)
{
	int data = js_get(d, body, "data");

	for (int i = 0, it; (it = js_at(d, data, (uint32_t)i)) >= 0; i++) {
		const char *ty, *id;
		size_t tn, idn;
		char key[128];

		if (!fr_str(d, it, "instType", &ty, &tn) || !fr_str(d, it, "instId", &id, &idn) ||
		    tn + idn + 2 > sizeof key)
			continue;
		snprintf(key, sizeof key, "%.*s|%.*s", (int)tn, ty, (int)idn, id);
		if (ks_find(&known, key) < 0)
			ks_push(&known, key, WANT_ALL);
	}
}

static const struct keyset *
known_instruments(void)
{
	if (!known_read) {
		known_read = 1;
		rest_each(META_TAG, note_instruments, NULL);
	}
	return &known;
}

/* A swap (BTC-USDT-SWAP) or dated future (BTC-USDT-250328): its instType, else NULL. */
static const char *
derivative_type(const char *inst)
{
	const char *last = strrchr(inst, '-');
	size_t i;

	if (!last || last == strchr(inst, '-'))
		return NULL;
	if (!strcmp(last, "-SWAP"))
		return "SWAP";
	for (i = 1; last[i] >= '0' && last[i] <= '9'; i++)
		;
	return i == 7 && !last[i] ? "FUTURES" : NULL;
}

/* A derivative the recording's metadata does not list does not exist (when it lists any). */
static int
instrument_exists(const char *inst)
{
	const char *type = derivative_type(inst);
	char key[128];

	if (!type || !known_instruments()->n)
		return 1;
	snprintf(key, sizeof key, "%s|%s", type, inst);
	return ks_find(&known, key) >= 0;
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
	/* channels of an instrument type rather than an instrument */
	static const char *const by_type[] = { "liquidation-orders", "instruments", NULL };
	static const char *const types[] = { "SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION", NULL };
	char msg[512];

	RQ_EACH(r, args, it) {
		const char *ch = rq_gets(r, it, "channel"), *inst = rq_gets(r, it, "instId");
		const char *type = rq_gets(r, it, "instType");
		int typed = ch && in_list(ch, by_type);

		if (!ch || (typed ? !type : !inst)) {
			okx_error(c, id, "60012", inv);
			return -1;
		}
		if (!strcmp(ch, "books-l2-tbt") || !strcmp(ch, "books50-l2-tbt")) {
			okx_error(c, id, "60011", "Please log in");
			return -1;
		}
		if (typed ? !in_list(type, types) || (ch[0] == 'l' && !strcmp(type, "SPOT"))
			  : !in_list(ch, channels) || !pair_ok(inst, '-', 4) ||
				    !instrument_exists(inst) ||
				    (!strcmp(ch, "funding-rate") && !(derivative_type(inst) &&
								      !strcmp(derivative_type(inst), "SWAP")))) {
			snprintf(msg, sizeof(msg), "Wrong URL or channel:%.60s,%s:%.60s "
				 "doesn't exist. Please use the correct URL, channel and "
				 "parameters referring to API document.", ch,
				 typed ? "instType" : "instId", typed ? type : inst);
			okx_error(c, id, "60018", msg);
			return -1;
		}
		if (ks_pushf(ks, WANT_ALL, ch, typed ? type : inst, NULL))
			return -1;
	}
	return 0;
}

/* The instruments channel's first push: every instrument of TYPE the metadata knows, as
 * it stands at the replay's position. */
static void send_instruments(struct conn *c, const char *type);

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
		RQ_EACH(r, args, it) {
			const char *ch = rq_gets(r, it, "channel"), *type = rq_gets(r, it, "instType");

			if (!strcmp(ch, "instruments") || !strcmp(ch, "liquidation-orders"))
				okx_ack(c, ids, op, ch, NULL, type);
			else
				okx_ack(c, ids, op, ch, rq_gets(r, it, "instId"), NULL);
			if (sub && !strcmp(ch, "instruments"))
				send_instruments(c, type);
		}
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

/* ------------------------------------------------------------------ */
/* REST: GET /api/v5/public/instruments?instType=T[&instId=I] */

struct inst_query {
	const char *type, *id;
};

/* A metadata answer about instrument Q->id of type Q->type. */
static int
answer_about(const struct js_doc *d, int body, void *arg)
{
	const struct inst_query *q = arg;
	int it = js_at(d, js_get(d, body, "data"), 0);

	return fr_is(d, it, "instType", q->type) && fr_is(d, it, "instId", q->id);
}

/* The "data" elements of every instrument of TYPE, comma-separated, into B. */
static void
instruments_of(const char *type, struct sbuf *b)
{
	int first = 1;

	known_instruments();
	for (int i = 0; i < known.n; i++) {
		const char *bar = strchr(known.k[i], '|');
		struct inst_query q = { type, bar + 1 };
		const struct rline *l;
		struct js_doc d;
		const char *s;
		size_t n;

		if ((size_t)(bar - known.k[i]) != strlen(type) || strncmp(known.k[i], type, strlen(type)) ||
		    !(l = rest_answer(META_TAG, answer_about, &q)))
			continue;
		js_init(&d, 0);
		if (js_parse(&d, l->inner, l->inner_len) == JS_OK) {
			tok_span(&d, js_at(&d, js_get(&d, 0, "data"), 0), &s, &n);
			if (!first)
				sb_addc(b, ',');
			sb_add(b, s, n);
			first = 0;
		}
		js_free(&d);
	}
}

static void
send_instruments(struct conn *c, const char *type)
{
	struct sbuf b = { 0 };

	sb_adds(&b, "{\"arg\":{\"channel\":\"instruments\",\"instType\":");
	sb_json_str(&b, type, strlen(type));
	sb_adds(&b, "},\"data\":[");
	instruments_of(type, &b);
	sb_adds(&b, "]}");
	conn_sb(c, &b, MK_DATA);
}

static int
okx_http(struct lws *wsi, const char *uri, const char *body, size_t len)
{
	static const char unknown[] = "{\"code\":\"51001\",\"data\":[],"
		"\"msg\":\"Instrument ID or Spread ID doesn't exist.\"}";
	static const char bad_type[] = "{\"code\":\"51000\",\"data\":[],"
		"\"msg\":\"Parameter instType error\"}";
	char type[32], id[64];
	struct inst_query q = { type, id };
	const struct rline *l;
	struct sbuf b = { 0 };
	int r;

	if (body || strcmp(uri, "/api/v5/public/instruments"))
		return 1;
	rest_event(wsi, uri, NULL);
	http_arg(wsi, "instType", type, sizeof type);
	http_arg(wsi, "instId", id, sizeof id);
	if (strcmp(type, "SWAP") && strcmp(type, "FUTURES"))
		return http_reply(wsi, HTTP_STATUS_BAD_REQUEST, bad_type, sizeof bad_type - 1);
	if (id[0]) {
		if (!(l = rest_answer(META_TAG, answer_about, &q)))
			return http_reply(wsi, HTTP_STATUS_OK, unknown, sizeof unknown - 1);
		return http_reply(wsi, HTTP_STATUS_OK, l->inner, l->inner_len);
	}
	sb_adds(&b, "{\"code\":\"0\",\"msg\":\"\",\"data\":[");
	instruments_of(type, &b);
	sb_adds(&b, "]}");
	r = b.oom ? -1 : http_reply(wsi, HTTP_STATUS_OK, b.p, b.len);
	sb_free(&b);
	return r;
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
	.http = okx_http,
};
