/* gateio-futures.c: Gate v4 USDT-settled futures (wss://fx-ws.gateio.ws/v4/ws/usdt): one
 * channel per request with its payload of contracts (BTC_USDT), answered as on spot
 * (gateio.h); futures.trades, futures.tickers, futures.book_ticker,
 * futures.public_liquidates (contracts or "!all"), futures.obu (ob.BTC_USDT.50 or .400,
 * each subscribed once), futures.order_book_update and futures.contract_stats; server WS
 * pings; {"channel":"futures.ping"} answered with futures.pong; and the REST contract
 * endpoints, answered from the metadata the recording holds (which also tells the
 * contracts that exist). */

#include "gateio.h"

#include <inttypes.h>
#include <string.h>

#define META_TAG	"contract"	/* the stream name of ingest's metadata lines */
#define REST_PATH	"/api/v4/futures/usdt/contracts"

/* {"channel","event":"update","result":[{..,"contract":C}]} (trades, tickers,
 * liquidations) or {"channel","result":{"s":..}} (obu, book_ticker, order_book_update):
 * routed by channel and contract (the obu stream name for obu).  Metadata lines
 * ({"stream":"contract",...}) are REST answers, never replayed. */
static int
gf_frame(struct rline *l, const struct js_doc *d, int f)
{
	const char *ch, *sy;
	size_t chn, syn;
	int res = js_get(d, f, "result"), one, t;

	if (fr_is(d, f, "stream", META_TAG) && (t = js_get(d, f, "data")) >= 0) {
		tok_span(d, t, &l->inner, &l->inner_len);
		return -1;
	}
	if (!fr_str(d, f, "channel", &ch, &chn) || res < 0 ||
	    (js_get(d, f, "event") >= 0 && !fr_is(d, f, "event", "update")))
		return -1;
	one = js_type(d, res) == JS_ARRAY ? js_at(d, res, 0) : res;
	if (!fr_str(d, one, "contract", &sy, &syn) && !fr_str(d, one, "s", &sy, &syn))
		return -1;
	l->book = span_is(ch, chn, "futures.obu") || span_is(ch, chn, "futures.order_book_update");
	l->book_snap = l->book && js_type(d, js_get(d, one, "full")) == JS_TRUE;
	return key_join(ch, chn, sy, syn, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* the contracts the recording's metadata names */

static struct keyset known;
static int known_read;

static void
note_contract(const struct js_doc *d, int body, void *arg)
{
	const char *s;
	size_t n;
	char name[64];

	if (fr_str(d, body, "name", &s, &n) && n < sizeof name) {
		memcpy(name, s, n);
		name[n] = '\0';
		if (ks_find(&known, name) < 0)
			ks_push(&known, name, WANT_ALL);
	}
}

static const struct keyset *
known_contracts(void)
{
	if (!known_read) {
		known_read = 1;
		rest_each(META_TAG, note_contract, NULL);
	}
	return &known;
}

/* BTC_USDT, and listed by the metadata when the recording has any. */
static int
contract_ok(const char *s)
{
	return s && pair_ok(s, '_', 2) && (!known_contracts()->n || ks_find(&known, s) >= 0);
}

/* ------------------------------------------------------------------ */
/* requests */

/* Contracts (futures.tickers, futures.trades, futures.book_ticker; "!all" too for
 * futures.public_liquidates). */
static int
contracts_payload(struct grq *q, int all_ok)
{
	RQ_EACH(q->r, q->payload, it) {
		const char *s = rq_str(q->r, it);

		if (!(all_ok && s && !strcmp(s, "!all")) && !contract_ok(s))
			return bad_arg(q, "invalid argument: unknown contract %.60s", s ? s : "");
		if (ks_pushf(&q->keys, WANT_ALL, q->channel, s, NULL))
			return -1;
	}
	return 0;
}

/* futures.obu: ob.CONTRACT.50 or .400, each subscribed once. */
static int
obu_payload(struct grq *q, int sub)
{
	RQ_EACH(q->r, q->payload, it) {
		const char *s = rq_str(q->r, it), *dot;
		char contract[64], key[128];

		if (!s)
			s = "";
		dot = strrchr(s, '.');
		if (strncmp(s, "ob.", 3) || !dot || dot < s + 3 ||
		    (size_t)(dot - s - 3) >= sizeof contract || (strcmp(dot, ".50") && strcmp(dot, ".400")))
			return bad_arg(q, "invalid argument: %.60s", s);
		memcpy(contract, s + 3, (size_t)(dot - s - 3));
		contract[dot - s - 3] = '\0';
		if (!contract_ok(contract))
			return bad_arg(q, "invalid argument: unknown contract %.60s", contract);
		snprintf(key, sizeof key, "futures.obu|%s", s);
		if (sub && ks_find(&q->c->subs, key) >= 0)
			return bad_arg(q, "Alert sub %.60s", s);
		if (ks_push(&q->keys, key, WANT_ALL))
			return -1;
	}
	return 0;
}

/* futures.order_book_update: [contract, "20ms"|"100ms", level];
 * futures.contract_stats: [contract, interval]. */
static int
pair_payload(struct grq *q, int book)
{
	static const char *const speeds[] = { "20ms", "100ms", NULL };
	static const char *const levels[] = { "20", "50", "100", NULL };
	static const char *const intervals[] = { "1s", "10s", "1m", "5m", "1h", "1d", NULL };
	const struct req *r = q->r;
	const char *c0 = rq_str(r, rq_at(r, q->payload, 0)), *p1 = rq_str(r, rq_at(r, q->payload, 1));
	const char *p2 = rq_str(r, rq_at(r, q->payload, 2));

	if (book ? rq_size(r, q->payload) != 3 || !p1 || !in_list(p1, speeds) || !p2 ||
			   !in_list(p2, levels)
		 : rq_size(r, q->payload) != 2 || !p1 || !in_list(p1, intervals))
		return bad_arg(q, book ? "invalid argument: payload must be [contract, "
				   "\"20ms\"|\"100ms\", level]" : "invalid argument: payload must "
				   "be [contract, interval]");
	if (!contract_ok(c0))
		return bad_arg(q, "invalid argument: unknown contract %.60s", c0 ? c0 : "");
	return ks_pushf(&q->keys, WANT_ALL, q->channel, c0, NULL);
}

static void
subscribe(struct grq *q)
{
	static const char *const lists[] = { "futures.tickers", "futures.trades",
					     "futures.book_ticker", NULL };
	int sub = gate_request_start(q, 1), rc;

	if (sub < 0)
		return;
	if (in_list(q->channel, lists))
		rc = contracts_payload(q, 0);
	else if (!strcmp(q->channel, "futures.public_liquidates"))
		rc = contracts_payload(q, 1);
	else if (!strcmp(q->channel, "futures.obu"))
		rc = obu_payload(q, sub);
	else if (!strcmp(q->channel, "futures.order_book_update"))
		rc = pair_payload(q, 1);
	else if (!strcmp(q->channel, "futures.contract_stats"))
		rc = pair_payload(q, 0);
	else
		rc = bad_arg(q, "unknown channel %.60s", q->channel);
	if (rc)
		return;
	keys_apply(q->c, &q->keys, sub);
	gate_reply(q, 0, NULL);
	keys_done(q->c, &q->keys, sub);
}

static void
gf_request(struct conn *c, const char *text, size_t len)
{
	struct req r;
	struct grq q = { .c = c, .r = &r, .channel = "", .event = "", .payload = -1 };
	struct sbuf b = { 0 };
	int64_t now = wall_us();

	if (rq_parse(&r, text, len) || rq_type(&r, 0) != JS_OBJECT) {
		gate_reply(&q, 1, "invalid request body");
		goto out;
	}
	if (rq_type(&r, rq_get(&r, 0, "id")) == JS_NUMBER)
		rq_raw(&r, rq_get(&r, 0, "id"), &q.id, &q.idlen);
	q.channel = rq_gets(&r, 0, "channel") ? rq_gets(&r, 0, "channel") : "";
	if (!strcmp(q.channel, "futures.ping")) {
		sb_addf(&b, "{\"time\":%" PRId64 ",\"time_ms\":%" PRId64 ",\"channel\":"
			"\"futures.pong\",\"event\":\"\",\"result\":null}", now / 1000000, now / 1000);
		conn_sb(c, &b, MK_PONG);
		pong_sent_event(c);
		goto out;
	}
	q.event = rq_gets(&r, 0, "event");
	q.payload = rq_get(&r, 0, "payload");
	subscribe(&q);
out:
	ks_free(&q.keys);
	rq_free(&r);
}

/* A "!all" liquidations subscription takes every contract's. */
static void
gf_want(struct conn *c)
{
	static const char prefix[] = "futures.public_liquidates|";

	if (ks_find(&c->subs, "futures.public_liquidates|!all") < 0)
		return;
	for (size_t k = 0; k < rec.nkeys; k++)
		if (!strncmp(rec.keys[k], prefix, sizeof prefix - 1))
			c->want[k] = WANT_ALL;
	c->has_sub = 1;
}

/* ------------------------------------------------------------------ */
/* REST: GET /api/v4/futures/usdt/contracts[/NAME] */

static int
answer_about(const struct js_doc *d, int body, void *arg)
{
	return fr_is(d, body, "name", arg);
}

static int
gf_http(struct lws *wsi, const char *uri, const char *body, size_t len)
{
	static const char unknown[] = "{\"label\":\"CONTRACT_NOT_FOUND\","
		"\"message\":\"Contract not found\"}";
	const size_t pl = sizeof REST_PATH - 1;
	const struct rline *l;
	struct sbuf b = { 0 };
	int r;

	if (body || strncmp(uri, REST_PATH, pl) || (uri[pl] && uri[pl] != '/'))
		return 1;
	rest_event(wsi, uri, NULL);
	if (uri[pl] == '/') {
		if (!(l = rest_answer(META_TAG, answer_about, (void *)(uri + pl + 1))))
			return http_reply(wsi, HTTP_STATUS_BAD_REQUEST, unknown, sizeof unknown - 1);
		return http_reply(wsi, HTTP_STATUS_OK, l->inner, l->inner_len);
	}
	known_contracts();
	sb_addc(&b, '[');
	for (int i = 0; i < known.n; i++) {
		if (!(l = rest_answer(META_TAG, answer_about, known.k[i])))
			continue;
		if (b.len > 1)
			sb_addc(&b, ',');
		sb_add(&b, l->inner, l->inner_len);
	}
	sb_addc(&b, ']');
	r = b.oom ? -1 : http_reply(wsi, HTTP_STATUS_OK, b.p, b.len);
	sb_free(&b);
	return r;
}

static const char *const retime_keys[] = { "\"time_ms\":", "\"t\":", "\"create_time_ms\":",
	NULL };
static const char *const reid_keys[] = { "\"id\":", NULL };

const struct dialect dl_gateio_futures = {
	.name = "gateio-futures",
	.path = "/v4/ws/usdt",
	.ping_ms = 20000,
	.retime_keys = retime_keys,
	.reid_keys = reid_keys,
	.frame = gf_frame,
	.open = gate_open,
	.request = gf_request,
	.want = gf_want,
	.http = gf_http,
};
