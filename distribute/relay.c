/* relay.c: in direct mode a follower has no Kafka to read, so it connects to the leader's
 * serve as a WebSocket client (the URL is in RUN_DIR/leader) and relays what it sends. */
#include "clock.h"
#include "dist.h"
#include "resolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RELAY_MAX_MSG (4 << 20)
#define RELAY_URL_MAX 1024

static const uint32_t backoff_ms[] = { 250, 500, 1000, 2000, 4000 };
static const lws_retry_bo_t retry = {
	.retry_ms_table = backoff_ms,
	.retry_ms_table_count = sizeof backoff_ms / sizeof backoff_ms[0],
	.conceal_count = LWS_RETRY_CONCEAL_ALWAYS,
	.jitter_percent = 20,
};

static struct {
	struct relay_cfg cfg;
	struct relay_sink sink;
	struct relay_stats stats;
	struct lws *wsi;
	char url[RELAY_URL_MAX]; /* the leader this connection is to */
	int want;
	uint16_t retries;
	lws_sorted_usec_list_t sul;
	char *rx; /* a message being reassembled from fragments */
	size_t rx_len;
	struct lookup lk; /* the leader's name, looked up off the loop */
} R;

void relay_init(const struct relay_cfg *cfg, const struct relay_sink *sink)
{
	R.cfg = *cfg;
	R.sink = *sink;
}

const struct relay_stats *relay_stats(void)
{
	return &R.stats;
}

int relay_active(void)
{
	return R.want;
}

/* The leader's client URL from RUN_DIR/leader ("NODE_ID URL"); "" when unknown, and "" when
 * the leader is this node: relaying our own serve would feed every line back in forever. */
static void read_leader_url(char *out, size_t n)
{
	char buf[1200];
	const char *me = R.cfg.node_id;
	out[0] = 0;
	if (!R.cfg.run_dir || rundir_read(R.cfg.run_dir, "leader", buf, sizeof buf) <= 0)
		return;
	const char *sp = strchr(buf, ' ');
	if (!sp)
		return;
	if (me && (size_t)(sp - buf) == strlen(me) && !memcmp(buf, me, (size_t)(sp - buf)))
		return;
	snprintf(out, n, "%s", sp + 1);
}

/* Relaying is right only for a follower that still wants it, from the leader named now. A
 * connection begun under another role or leader can complete after the change (a pending
 * kill does not stop a handshake in flight), so each stage checks again. */
static int relay_current(void)
{
	char url[RELAY_URL_MAX];
	if (!R.want || !R.sink.wanted(R.sink.ctx))
		return 0;
	read_leader_url(url, sizeof url);
	return url[0] && !strcmp(url, R.url);
}

static void connect_now(void);

static void retry_cb(lws_sorted_usec_list_t *sul)
{
	if (R.want && !R.wsi)
		connect_now();
}

static void schedule(void)
{
	char conceal;
	unsigned ms = lws_retry_get_delay_ms(R.cfg.ctx, &retry, &R.retries, &conceal);
	lws_sul_schedule(R.cfg.ctx, 0, &R.sul, retry_cb, (lws_usec_t)ms * LWS_US_PER_MS);
}

static void connect_now(void)
{
	char url[RELAY_URL_MAX], buf[RELAY_URL_MAX], path[RELAY_URL_MAX + 64];
	const char *prot, *addr, *p;
	int port;
	read_leader_url(url, sizeof url);
	if (!url[0]) {
		log_warn("no leader known yet; relay waits", NULL);
		schedule();
		return;
	}
	snprintf(R.url, sizeof R.url, "%s", url);
	snprintf(buf, sizeof buf, "%s", url);
	if (lws_parse_uri(buf, &prot, &addr, &port, &p)) {
		log_error("bad leader URL", " url=%s", url);
		schedule();
		return;
	}
	/* The name is looked up off the loop: a resolver that hangs (the old leader's name,
	 * gone with its container) must not stop this node keeping and publishing its lines. */
	char num[64], err[320];
	int got = lookup_addr(&R.lk, addr, num, sizeof num, err, sizeof err);
	if (got == 0) {
		if (lookup_slow(&R.lk)) {
			R.stats.slow_lookups++;
			log_warn("looking the leader's name up is slow; the relay waits for it, the rest goes on",
				 " host=%s waited_ms=%lld", addr, (long long)(lookup_elapsed(&R.lk) / 1000));
		}
		lws_sul_schedule(R.cfg.ctx, 0, &R.sul, retry_cb, LOOKUP_POLL_US);
		return;
	}
	if (got < 0) {
		R.stats.lookup_failures++;
		log_warn("cannot look the leader's name up; the relay tries again", " url=%s error=\"%s\"", url, err);
		schedule();
		return;
	}
	/* Resume after the newest position we have: a reconnect, or a new leader, loses and
	 * repeats nothing that its serve still holds. */
	int64_t since = R.sink.position(R.sink.ctx);
	char sep = strchr(p, '?') ? '&' : '?';
	if (since > 0)
		snprintf(path, sizeof path, "/%s%crelay=1&since=%lld", p, sep, (long long)since);
	else
		snprintf(path, sizeof path, "/%s%crelay=1", p, sep);
	struct lws_client_connect_info i;
	memset(&i, 0, sizeof i);
	i.context = R.cfg.ctx;
	i.vhost = R.cfg.vh;
	i.address = num;
	i.port = port;
	i.path = path;
	i.host = addr; /* the name: Host, and TLS's SNI and certificate check */
	i.local_protocol_name = "relay";
	i.pwsi = &R.wsi;
	if (!strcmp(prot, "wss") || !strcmp(prot, "https"))
		i.ssl_connection = LCCSCF_USE_SSL;
	log_info("relaying from the leader", " url=%s since=%lld", url, (long long)since);
	if (!lws_client_connect_via_info(&i)) {
		R.wsi = NULL;
		schedule();
	}
}

void relay_start(void)
{
	char url[RELAY_URL_MAX];
	read_leader_url(url, sizeof url);
	if (R.want && R.wsi && !strcmp(url, R.url))
		return; /* already relaying from this leader */
	R.want = 1;
	R.retries = 0;
	if (R.wsi) {
		/* A new leader: drop the old connection; its close reconnects to the new one. */
		lws_set_timeout(R.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	lws_sul_cancel(&R.sul);
	connect_now();
}

void relay_stop(void)
{
	R.want = 0;
	lws_sul_cancel(&R.sul);
	lookup_cancel(&R.lk);
	if (R.wsi)
		lws_set_timeout(R.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void relay_free(void)
{
	lws_sul_cancel(&R.sul);
	lookup_cancel(&R.lk);
	free(R.rx);
	R.rx = NULL;
	R.rx_len = 0;
}

int cb_relay(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (!relay_current()) {
			R.stats.stale++;
			log_info("relay no longer wanted; closing it", " url=%s", R.url);
			return -1;
		}
		R.retries = 0;
		R.stats.connected = 1;
		R.stats.last_rx = clk_mono_us();
		log_info("relay connected", " url=%s", R.url);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (!R.want || !R.sink.wanted(R.sink.ctx)) {
			/* Became the leader: nothing more from this connection is passed on. */
			R.stats.stale++;
			return -1;
		}
		R.stats.last_rx = clk_mono_us();
		if (lws_is_first_fragment(wsi))
			R.rx_len = 0;
		if (R.rx_len + len <= RELAY_MAX_MSG) {
			char *p = realloc(R.rx, R.rx_len + len + 1);
			if (!p)
				return -1;
			R.rx = p;
			memcpy(p + R.rx_len, in, len);
			R.rx_len += len;
		}
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			R.stats.relayed++;
			if (R.rx_len <= RELAY_MAX_MSG)
				R.sink.line(R.sink.ctx, R.rx, R.rx_len);
			R.rx_len = 0;
		}
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_CLIENT_CLOSED:
		R.wsi = NULL;
		R.stats.connected = 0;
		log_info("relay closed", " reason=\"%s\"", reason == LWS_CALLBACK_CLIENT_CLOSED ? "closed" :
			 in && len ? (const char *)in : "connection error");
		if (R.want)
			schedule();
		break;
	default:
		break;
	}
	return 0;
}
