/* hyperliquid.c: Hyperliquid's public WebSocket (/ws): one subscription per message,
 * {"method":"subscribe"|"unsubscribe","subscription":{"type":..,"coin":..}}, acked with a
 * subscriptionResponse echoing it; an unknown coin, a subscription made twice or one not
 * held gets {"channel":"error","data":"..."}; {"method":"ping"} is answered
 * {"channel":"pong"}; a connection the server has sent nothing to for 60 s is closed.
 * Every l2Book push is a whole book.  POST /info answers {"type":"meta"} and
 * {"type":"spotMeta"} from the metadata the recording holds, which also tells the coins
 * that exist: perpetuals by name (BTC, kPEPE), spot pairs by name (PURR/USDC) or index
 * (@107). */

#include "fakex.h"

#include <stdio.h>
#include <string.h>

/* {"channel":T,"data":{"coin":C,..}} or {"channel":"trades","data":[{"coin":C,..}]}:
 * routed by the subscription type and coin (activeSpotAssetCtx answers an activeAssetCtx
 * subscription).  Metadata lines are REST answers, never replayed. */
static int
hl_frame(struct rline *l, const struct js_doc *d, int f)
{
	const char *ch, *coin;
	size_t chn, cn;
	int data = js_get(d, f, "data"), one;

	if ((fr_is(d, f, "stream", "meta") || fr_is(d, f, "stream", "spotMeta")) && data >= 0) {
		tok_span(d, data, &l->inner, &l->inner_len);
		return -1;
	}
	if (!fr_str(d, f, "channel", &ch, &chn) || data < 0)
		return -1;
	one = js_type(d, data) == JS_ARRAY ? js_at(d, data, 0) : data;
	if (!fr_str(d, one, "coin", &coin, &cn))
		return -1;
	if (span_is(ch, chn, "activeSpotAssetCtx")) {
		ch = "activeAssetCtx";
		chn = 14;
	}
	l->book = l->book_snap = span_is(ch, chn, "l2Book");
	return key_join(ch, chn, coin, cn, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* the coins the recording's metadata names */

static struct keyset coins;
static int coins_read;

static void
note_name(const struct js_doc *d, int o, const char *key)
{
	const char *s;
	size_t n;
	char name[64];

	if (fr_str(d, o, key, &s, &n) && n < sizeof name) {
		memcpy(name, s, n);
		name[n] = '\0';
		if (ks_find(&coins, name) < 0)
			ks_push(&coins, name, WANT_ALL);
	}
}

/* meta: perpetuals by name; spotMeta: pairs by name and by index (@N). */
static void
note_universe(const struct js_doc *d, int body, void *arg)
{
	int uni = js_get(d, body, "universe"), spot = arg != NULL;
	char at[32];
	int64_t idx;

	for (int i = 0, o; (o = js_at(d, uni, (uint32_t)i)) >= 0; i++) {
		note_name(d, o, "name");
		if (spot && !js_int64(d, js_get(d, o, "index"), &idx)) {
			snprintf(at, sizeof at, "@%lld", (long long)idx);
			if (ks_find(&coins, at) < 0)
				ks_push(&coins, at, WANT_ALL);
		}
	}
}

static int
coin_exists(const char *coin)
{
	if (!coins_read) {
		coins_read = 1;
		rest_each("meta", note_universe, NULL);
		rest_each("spotMeta", note_universe, (void *)1);
	}
	return !coins.n || ks_find(&coins, coin) >= 0;
}

/* ------------------------------------------------------------------ */
/* requests */

static void
hl_error(struct conn *c, const char *fmt, const struct req *r, int sub)
{
	struct sbuf what = { 0 }, msg = { 0 }, b = { 0 };

	if (sub >= 0)
		rq_print(r, sub, &what);
	sb_addf(&msg, fmt, what.p ? what.p : "");
	sb_adds(&b, "{\"channel\":\"error\",\"data\":");
	sb_json_str(&b, msg.p ? msg.p : "", msg.len);
	sb_addc(&b, '}');
	conn_sb(c, &b, MK_OTHER);
	request_rejected(c, msg.p ? msg.p : "");
	sb_free(&what);
	sb_free(&msg);
}

static void
read_request(struct conn *c, const struct req *r)
{
	static const char *const types[] = {
		"trades", "l2Book", "bbo", "activeAssetCtx", "allMids", "candle", NULL
	};
	const char *method = rq_gets(r, 0, "method");
	int sub = rq_get(r, 0, "subscription"), on;
	const char *type = rq_gets(r, sub, "type"), *coin = rq_gets(r, sub, "coin");
	struct keyset ks = { 0 };
	struct sbuf b = { 0 };
	char key[128];

	if (method && !strcmp(method, "ping")) {
		conn_text(c, "{\"channel\":\"pong\"}", MK_PONG);
		pong_sent_event(c);
		return;
	}
	if (!method || (strcmp(method, "subscribe") && strcmp(method, "unsubscribe")) ||
	    rq_type(r, sub) != JS_OBJECT) {
		hl_error(c, "Error parsing JSON into valid websocket request", r, -1);
		return;
	}
	on = method[0] == 's';
	if (!type || !in_list(type, types) || (strcmp(type, "allMids") && (!coin || !*coin)) ||
	    (coin && !coin_exists(coin))) {
		hl_error(c, "Invalid subscription %s", r, sub);
		return;
	}
	snprintf(key, sizeof key, "%.40s|%.60s", type, coin ? coin : "");
	if (on == (ks_find(&c->subs, key) >= 0)) {
		hl_error(c, on ? "Already subscribed: %s" : "Already unsubscribed: %s", r, sub);
		return;
	}
	if (ks_push(&ks, key, WANT_ALL))
		return;
	keys_apply(c, &ks, on);
	sb_adds(&b, "{\"channel\":\"subscriptionResponse\",\"data\":");
	rq_print(r, 0, &b);
	sb_addc(&b, '}');
	conn_sb(c, &b, MK_OTHER);
	keys_done(c, &ks, on);
	ks_free(&ks);
}

static void
hl_request(struct conn *c, const char *text, size_t len)
{
	struct req r;

	if (rq_parse(&r, text, len) || rq_type(&r, 0) != JS_OBJECT)
		hl_error(c, "Error parsing JSON into valid websocket request", &r, -1);
	else
		read_request(c, &r);
	rq_free(&r);
}

/* The server closes a connection it has sent nothing to. */
static int64_t
hl_idle_since(struct conn *c, int64_t now, const char **why)
{
	*why = "nothing sent";
	return c->last_tx_us;
}

/* ------------------------------------------------------------------ */
/* REST: POST /info {"type":"meta"|"spotMeta"} */

static int
any(const struct js_doc *d, int body, void *arg)
{
	return 1;
}

static int
hl_http(struct lws *wsi, const char *uri, const char *body, size_t len)
{
	static const char bad[] = "Failed to deserialize the JSON body into the target type";
	const struct rline *l;
	const char *type;
	struct req r;
	int rc;

	if (strcmp(uri, "/info") || !body)
		return 1;
	rest_event(wsi, uri, body);
	if (rq_parse(&r, body, len) || !(type = rq_gets(&r, 0, "type")) ||
	    (strcmp(type, "meta") && strcmp(type, "spotMeta"))) {
		rq_free(&r);
		return http_reply(wsi, 422, bad, sizeof bad - 1);
	}
	l = rest_answer(type, any, NULL);
	rq_free(&r);
	if (!l)
		return http_reply(wsi, HTTP_STATUS_INTERNAL_SERVER_ERROR, "null", 4);
	rc = http_reply(wsi, HTTP_STATUS_OK, l->inner, l->inner_len);
	return rc;
}

static const char *const retime_keys[] = { "\"time\":", NULL };
static const char *const reid_keys[] = { "\"tid\":", NULL };

const struct dialect dl_hyperliquid = {
	.name = "hyperliquid",
	.path = "/ws",
	.idle_ms = 60000,
	.retime_keys = retime_keys,
	.reid_keys = reid_keys,
	.frame = hl_frame,
	.request = hl_request,
	.idle_since = hl_idle_since,
	.http = hl_http,
};
