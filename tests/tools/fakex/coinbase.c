/* coinbase.c: Coinbase Advanced Trade's dialect: one channel per request, every answer
 * the connection's whole subscription list, a heartbeats channel, and a sequence_num
 * on every message of a connection. */

#include "fakex.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

struct coinbase_conn {
	uint64_t seqnum;	/* sequence_num of the next message */
	uint64_t hb_count;	/* heartbeat_counter */
	int hb_sub;		/* subscribed to heartbeats */
};

static struct coinbase_conn *
cx(struct conn *c)
{
	return c->x;
}

/* {"channel","sequence_num","events":[{...}]}: the key is the subscription's channel
 * and the product of the first event (of its first trade, ticker or candle); the
 * sequence_num is marked for the connection's own number. */
static int
coinbase_frame(struct rline *l, const struct js_doc *d, int f)
{
	static const struct { const char *frame, *sub, *list; } map[] = {
		{ "l2_data", "level2", NULL },
		{ "market_trades", "market_trades", "trades" },
		{ "ticker", "ticker", "tickers" },
		{ "ticker_batch", "ticker_batch", "tickers" },
		{ "candles", "candles", "candles" },
	};
	const char *ch, *sy, *s;
	size_t chn, syn, n, i;
	int t = js_get(d, f, "sequence_num"), e;

	if (t >= 0) {
		tok_span(d, t, &s, &n);
		l->mark_off = (uint32_t)(s - l->frame);
		l->mark_len = (uint32_t)n;
	}
	if (!fr_str(d, f, "channel", &ch, &chn) || (e = js_at(d, js_get(d, f, "events"), 0)) < 0)
		return -1;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (span_is(ch, chn, map[i].frame))
			break;
	if (i == sizeof(map) / sizeof(map[0]))
		return -1;
	if (map[i].list && (e = js_at(d, js_getn(d, e, map[i].list, strlen(map[i].list)), 0)) < 0)
		return -1;
	if (!fr_str(d, e, "product_id", &sy, &syn))
		return -1;
	if (!map[i].list) {
		l->book = 1;
		l->book_snap = (unsigned char)fr_is(d, e, "type", "snapshot");
	}
	return key_join(map[i].sub, strlen(map[i].sub), sy, syn, NULL, 0);
}

/* Every message of a connection carries the next sequence_num: a recorded frame's is
 * rewritten. */
static const char *
coinbase_render(struct conn *c, const struct rline *l, const char *s, size_t *n)
{
	static struct sbuf out;

	if (!l->mark_len)
		return s;
	out.len = 0;
	out.oom = 0;
	sb_add(&out, s, l->mark_off);
	sb_addf(&out, "%" PRIu64, cx(c)->seqnum++);
	sb_add(&out, s + l->mark_off + l->mark_len, *n - l->mark_off - l->mark_len);
	if (out.oom)
		return s;
	*n = out.len;
	return out.p;
}

/* A lost message leaves a hole in the numbers. */
static void
coinbase_lost(struct conn *c)
{
	cx(c)->seqnum++;
}

static void
coinbase_begin(struct conn *c, struct sbuf *b, const char *channel)
{
	char ts[64];

	fmt_rfc3339(ts, sizeof(ts), wall_us(), 9);
	sb_addf(b, "{\"channel\":\"%s\",\"client_id\":\"\",\"timestamp\":\"%s\","
		"\"sequence_num\":%" PRIu64 ",\"events\":", channel, ts, cx(c)->seqnum++);
}

/* The heartbeats channel, every --heartbeat-interval while subscribed. */
static void
coinbase_heartbeat(struct conn *c, int64_t now)
{
	struct sbuf b = { 0 };
	char ct[128], ts[64];
	int64_t w = wall_us();
	time_t secs = (time_t)(w / 1000000);
	struct tm tm;

	if (!cx(c)->hb_sub)
		return;
	gmtime_r(&secs, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(ct, sizeof(ct), "%s.%06d%03d +0000 UTC m=+%.9f", ts, (int)(w % 1000000),
		 (int)(rng_next() % 1000), (double)(now - g.start_us) / 1e6);
	coinbase_begin(c, &b, "heartbeats");
	sb_adds(&b, "[{\"current_time\":");
	sb_json_str(&b, ct, strlen(ct));
	sb_addf(&b, ",\"heartbeat_counter\":\"%" PRIu64 "\"}]}", ++cx(c)->hb_count);
	conn_sb(c, &b, MK_HEARTBEAT);
}

/* Nothing was sent: its heartbeats keep a connection open. */
static int64_t
coinbase_idle_since(struct conn *c, int64_t now, const char **why)
{
	*why = "no updates";
	return c->last_tx_us;
}

static void
coinbase_error(struct conn *c, const char *msg)
{
	struct sbuf b = { 0 };

	sb_adds(&b, "{\"type\":\"error\",\"message\":");
	sb_json_str(&b, msg, strlen(msg));
	sb_addc(&b, '}');
	conn_sb(c, &b, MK_OTHER);
	request_rejected(c, msg);
}

/* The answer to every accepted request lists the connection's subscriptions, by
 * channel. */
static void
coinbase_subscriptions(struct conn *c)
{
	const struct keyset *s = &c->subs;
	struct sbuf b = { 0 };
	int i, j, first = 1;

	coinbase_begin(c, &b, "subscriptions");
	sb_adds(&b, "[{\"subscriptions\":{");
	for (i = 0; i < s->n; i++) {
		size_t cn = strcspn(s->k[i], "|");

		for (j = 0; j < i; j++)
			if (!strncmp(s->k[j], s->k[i], cn + 1))
				break;
		if (j < i)
			continue;	/* channel already listed */
		if (!first)
			sb_addc(&b, ',');
		first = 0;
		sb_json_str(&b, s->k[i], cn);
		sb_adds(&b, ":[");
		for (j = i; j < s->n; j++) {
			if (strncmp(s->k[j], s->k[i], cn + 1))
				continue;
			if (j > i)
				sb_addc(&b, ',');
			sb_json_str(&b, s->k[j] + cn + 1, strlen(s->k[j] + cn + 1));
		}
		sb_addc(&b, ']');
	}
	if (cx(c)->hb_sub)
		sb_addf(&b, "%s\"heartbeats\":[\"heartbeats\"]", first ? "" : ",");
	sb_adds(&b, "}}]}");
	conn_sb(c, &b, MK_OTHER);
}

/* What is wrong with the request's type, channel or jwt, or NULL. */
static const char *
request_error(const struct req *r, char *msg, size_t ml)
{
	static const char *const channels[] = {
		"heartbeats", "candles", "status", "ticker", "ticker_batch", "level2",
		"market_trades", NULL
	};
	const char *type = rq_gets(r, 0, "type"), *ch = rq_gets(r, 0, "channel");
	int jwt = rq_get(r, 0, "jwt");

	if (!type || (strcmp(type, "subscribe") && strcmp(type, "unsubscribe")))
		return "type must be subscribe or unsubscribe";
	if (!ch)
		return "channel is required";
	if (!strcmp(ch, "user") || !strcmp(ch, "futures_balance_summary"))
		return "authentication failure";
	if (!in_list(ch, channels)) {
		snprintf(msg, ml, "Failed to subscribe: unknown channel %.60s", ch);
		return msg;
	}
	if (jwt >= 0 && rq_type(r, jwt) != JS_STRING)
		return "jwt must be a string";
	return NULL;
}

/* {"type":"subscribe"|"unsubscribe","channel":C,"product_ids":[...],"jwt":...} */
static void
read_request(struct conn *c, const struct req *r)
{
	const char *ch = rq_gets(r, 0, "channel"), *err;
	int pids = rq_get(r, 0, "product_ids"), sub;
	struct keyset ks = { 0 };
	char msg[256];

	if ((err = request_error(r, msg, sizeof(msg)))) {
		coinbase_error(c, err);
		return;
	}
	sub = rq_gets(r, 0, "type")[0] == 's';
	if (!strcmp(ch, "heartbeats")) {
		cx(c)->hb_sub = sub;
		event_simple(sub ? "subscribe_heartbeats" : "unsubscribe_heartbeats");
		if (sub) {
			g.st.subscriptions++;
			hb_start(c);
		}
		coinbase_subscriptions(c);
		return;
	}
	if (!rq_size(r, pids)) {
		coinbase_error(c, "Failed to subscribe: product_ids is required");
		return;
	}
	RQ_EACH(r, pids, it) {
		const char *p = rq_str(r, it);

		if (!p || !pair_ok(p, '-', 2)) {
			snprintf(msg, sizeof(msg), "Failed to subscribe: unknown product id %.60s",
				 p ? p : "");
			coinbase_error(c, msg);
			goto out;
		}
		if (ks_pushf(&ks, WANT_ALL, ch, p, NULL))
			goto out;
	}
	keys_apply(c, &ks, sub);
	coinbase_subscriptions(c);
	keys_done(c, &ks, sub);
out:
	ks_free(&ks);
}

static void
coinbase_request(struct conn *c, const char *text, size_t len)
{
	struct req r;

	if (rq_parse(&r, text, len) || rq_type(&r, 0) != JS_OBJECT)
		coinbase_error(c, "failure to parse the message");
	else
		read_request(c, &r);
	rq_free(&r);
}

static const char *const reid_keys[] = { "\"trade_id\":", NULL };

/* Times are RFC 3339: --retime leaves them. */
const struct dialect dl_coinbase = {
	.name = "coinbase",
	.path = "/",
	.idle_ms = 90000,
	.conn_size = sizeof(struct coinbase_conn),
	.reid_keys = reid_keys,
	.frame = coinbase_frame,
	.request = coinbase_request,
	.idle_since = coinbase_idle_since,
	.heartbeat = coinbase_heartbeat,
	.render = coinbase_render,
	.lost = coinbase_lost,
};
