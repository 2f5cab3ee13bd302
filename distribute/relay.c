/* relay.c: in direct mode a follower has no Kafka to read, so it connects to the leader's
 * serve as a WebSocket client (the URL is in RUN_DIR/leader) and relays what it sends. */
#include "clock.h"
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RELAY_MAX_MSG (4 << 20)

static const uint32_t backoff_ms[] = { 250, 500, 1000, 2000, 4000 };
static const lws_retry_bo_t retry = {
	.retry_ms_table = backoff_ms,
	.retry_ms_table_count = sizeof backoff_ms / sizeof backoff_ms[0],
	.conceal_count = LWS_RETRY_CONCEAL_ALWAYS,
	.jitter_percent = 20,
};

/* The leader's client URL from RUN_DIR/leader ("NODE_ID URL"); "" when unknown, and "" when
 * the leader is this node: relaying our own serve would feed every line back in forever. */
static void read_leader_url(char *out, size_t n)
{
	char buf[1200];
	out[0] = 0;
	if (!D.o.run_dir || rundir_read(D.o.run_dir, "leader", buf, sizeof buf) <= 0)
		return;
	const char *sp = strchr(buf, ' ');
	if (!sp)
		return;
	if (D.o.node_id && (size_t)(sp - buf) == strlen(D.o.node_id) && !memcmp(buf, D.o.node_id, (size_t)(sp - buf)))
		return;
	snprintf(out, n, "%s", sp + 1);
}

/* Relaying is right only for a follower that still wants it, from the leader named now. A
 * connection begun under another role or leader can complete after the change (a pending
 * kill does not stop a handshake in flight), so each stage checks again. */
static int relay_current(void)
{
	char url[1024];
	if (D.role != ROLE_FOLLOWER || !D.relay_want)
		return 0;
	read_leader_url(url, sizeof url);
	return url[0] && !strcmp(url, D.relay_url);
}

static void connect_now(void);

static void retry_cb(lws_sorted_usec_list_t *sul)
{
	if (D.relay_want && !D.relay_wsi)
		connect_now();
}

static void schedule(void)
{
	char conceal;
	unsigned ms = lws_retry_get_delay_ms(D.ctx, &retry, &D.relay_retries, &conceal);
	lws_sul_schedule(D.ctx, 0, &D.sul_relay, retry_cb, (lws_usec_t)ms * LWS_US_PER_MS);
}

static void connect_now(void)
{
	char url[1024], buf[1024], path[1100];
	const char *prot, *addr, *p;
	int port;
	read_leader_url(url, sizeof url);
	if (!url[0]) {
		log_warn("no leader known yet; relay waits", NULL);
		schedule();
		return;
	}
	snprintf(D.relay_url, sizeof D.relay_url, "%s", url);
	snprintf(buf, sizeof buf, "%s", url);
	if (lws_parse_uri(buf, &prot, &addr, &port, &p)) {
		log_error("bad leader URL", " url=%s", url);
		schedule();
		return;
	}
	snprintf(path, sizeof path, "/%s", p);
	struct lws_client_connect_info i;
	memset(&i, 0, sizeof i);
	i.context = D.ctx;
	i.vhost = D.vh;
	i.address = addr;
	i.port = port;
	i.path = path;
	i.host = addr;
	i.local_protocol_name = "relay";
	i.pwsi = &D.relay_wsi;
	if (!strcmp(prot, "wss") || !strcmp(prot, "https"))
		i.ssl_connection = LCCSCF_USE_SSL;
	log_info("relaying from the leader", " url=%s", url);
	if (!lws_client_connect_via_info(&i)) {
		D.relay_wsi = NULL;
		schedule();
	}
}

void relay_start(void)
{
	char url[1024];
	read_leader_url(url, sizeof url);
	if (D.relay_want && D.relay_wsi && !strcmp(url, D.relay_url))
		return; /* already relaying from this leader */
	D.relay_want = 1;
	D.relay_retries = 0;
	if (D.relay_wsi) {
		/* A new leader: drop the old connection; its close reconnects to the new one. */
		lws_set_timeout(D.relay_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	lws_sul_cancel(&D.sul_relay);
	connect_now();
}

void relay_stop(void)
{
	D.relay_want = 0;
	lws_sul_cancel(&D.sul_relay);
	if (D.relay_wsi)
		lws_set_timeout(D.relay_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

int cb_relay(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (!relay_current()) {
			D.m_relay_stale->v++;
			log_info("relay no longer wanted; closing it", " url=%s role=%s", D.relay_url, role_name(D.role));
			return -1;
		}
		D.relay_retries = 0;
		D.m_relay_connected->v = 1;
		log_info("relay connected", " url=%s", D.relay_url);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (D.role != ROLE_FOLLOWER || !D.relay_want) {
			/* Became the leader: nothing more from this connection reaches stdout. */
			D.m_relay_stale->v++;
			return -1;
		}
		if (lws_is_first_fragment(wsi))
			D.relay_len = 0;
		if (D.relay_len + len <= RELAY_MAX_MSG) {
			char *p = realloc(D.relay_rx, D.relay_len + len + 1);
			if (!p)
				return -1;
			D.relay_rx = p;
			memcpy(p + D.relay_len, in, len);
			D.relay_len += len;
		}
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			D.m_relayed->v++;
			if (D.relay_len <= RELAY_MAX_MSG)
				emit_line(D.relay_rx, D.relay_len, 1);
			D.relay_len = 0;
		}
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_CLIENT_CLOSED:
		D.relay_wsi = NULL;
		D.m_relay_connected->v = 0;
		log_info("relay closed", " reason=\"%s\"", reason == LWS_CALLBACK_CLIENT_CLOSED ? "closed" :
			 in && len ? (const char *)in : "connection error");
		if (D.relay_want)
			schedule();
		break;
	default:
		break;
	}
	return 0;
}
