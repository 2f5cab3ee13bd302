/* keepalive.c: server WS pings and the pong deadline (--ping-interval, --pong-timeout),
 * the dialect's idle rule (--idle-timeout) and its heartbeat timer
 * (--heartbeat-interval). */

#include "fakex.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void pong_check(lws_sorted_usec_list_t *sul);

static void
ping_tick(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_ping);

	if (!g.stalled && !c->closing) {
		c->ping_pending = 1;
		lws_callback_on_writable(c->wsi);
	}
	lws_sul_schedule(g.ctx, 0, &c->sul_ping, ping_tick, (lws_usec_t)opt.ping_ms * 1000);
}

static void
pong_arm(struct conn *c, int64_t delay_us)
{
	c->pong_armed = 1;
	lws_sul_schedule(g.ctx, 0, &c->sul_pong, pong_check,
			 (lws_usec_t)(delay_us < 0 ? 0 : delay_us));
}

/* Closes the connection when the oldest unanswered ping is older than the pong timeout.
 * While stalled we are the broken side, so we wait. */
static void
pong_check(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_pong);
	int64_t now = mono_us(), deadline;

	c->pong_armed = 0;
	if (!c->nping || c->closing || opt.pong_timeout_ms <= 0)
		return;
	if (g.stalled) {
		pong_arm(c, opt.pong_timeout_ms * 1000);
		return;
	}
	deadline = c->pings[0].sent_us + opt.pong_timeout_ms * 1000;
	if (now < deadline) {
		pong_arm(c, deadline - now);
		return;
	}
	event_simple("pong_timeout");
	fxlog(LV_WARN, "pong timeout", "conn=%u unanswered=%d", c->id, c->nping);
	conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "pong timeout");
}

void
ping_sent(struct conn *c, uint64_t payload)
{
	if (c->nping == PING_RING) {
		memmove(&c->pings[0], &c->pings[1], sizeof(c->pings[0]) * (PING_RING - 1));
		c->nping--;
	}
	c->pings[c->nping].payload = payload;
	c->pings[c->nping].sent_us = mono_us();
	c->nping++;
	g.st.pings_sent++;
	event_simple("ping_sent");
	if (!c->pong_armed && opt.pong_timeout_ms > 0)
		pong_arm(c, opt.pong_timeout_ms * 1000);
}

/* A pong answering one of our pings also answers every older one; pongs that match
 * nothing are recorded but keep nothing alive (as on Binance).  Returns 1 if the pong
 * answered a ping. */
int
pong_received(struct conn *c, const char *in, size_t len)
{
	struct sbuf b = { 0 };
	char num[24];
	uint64_t v;
	char *end;
	int i;

	g.st.pongs_received++;
	sb_adds(&b, "{\"event\":\"pong\",\"payload\":");
	sb_json_str(&b, in, len);
	sb_addc(&b, '}');
	event_emit(&b);
	sb_free(&b);
	if (!len || len >= sizeof(num))
		return 0;
	memcpy(num, in, len);
	num[len] = '\0';
	v = strtoull(num, &end, 10);
	if (*end)
		return 0;
	for (i = c->nping - 1; i >= 0; i--) {
		if (c->pings[i].payload == v) {
			memmove(&c->pings[0], &c->pings[i + 1],
				sizeof(c->pings[0]) * (size_t)(c->nping - i - 1));
			c->nping -= i + 1;
			return 1;
		}
	}
	return 0;
}

/* lws answers the client's WS pings without telling us, so the kernel's "last data
 * received" fills that gap. */
int64_t
client_last_rx(struct conn *c, int64_t now)
{
	struct tcp_info ti;
	socklen_t sl = sizeof(ti);
	int fd = lws_get_socket_fd(c->wsi);
	int64_t tcp;

	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &sl))
		return c->last_rx_us;
	tcp = now - (int64_t)ti.tcpi_last_data_recv * 1000;
	return tcp > c->last_rx_us ? tcp : c->last_rx_us;
}

/* The exchanges that cut a connection after a while, each by its own rule (the doc's,
 * see fakex.md): the dialect's idle_since says since when, by default the client's last
 * traffic. */
static void
idle_check(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_idle);
	int64_t now = mono_us(), last;
	int64_t idle_us = opt.idle_ms * 1000;
	const char *why = "idle timeout";

	if (c->closing)
		return;
	if (g.stalled) {
		lws_sul_schedule(g.ctx, 0, &c->sul_idle, idle_check, (lws_usec_t)idle_us);
		return;
	}
	last = dl->idle_since ? dl->idle_since(c, now, &why) : client_last_rx(c, now);
	if (now - last < idle_us) {
		lws_sul_schedule(g.ctx, 0, &c->sul_idle, idle_check,
				 (lws_usec_t)(last + idle_us - now));
		return;
	}
	event_simple("idle_timeout");
	fxlog(LV_WARN, "idle timeout", "conn=%u idle_ms=%" PRId64 " rule=\"%s\"", c->id,
	      (now - last) / 1000, why);
	conn_close(c, LWS_CLOSE_STATUS_NORMAL, why);
}

static void
hb_tick(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_hb);

	if (!g.stalled && !c->closing && dl->heartbeat)
		dl->heartbeat(c, mono_us());
	lws_sul_schedule(g.ctx, 0, &c->sul_hb, hb_tick, (lws_usec_t)opt.heartbeat_ms * 1000);
}

void
hb_start(struct conn *c)
{
	if (c->hb_on || opt.heartbeat_ms <= 0)
		return;
	c->hb_on = 1;
	lws_sul_schedule(g.ctx, 0, &c->sul_hb, hb_tick, (lws_usec_t)opt.heartbeat_ms * 1000);
}

void
keepalive_start(struct conn *c)
{
	if (opt.ping_ms > 0)
		lws_sul_schedule(g.ctx, 0, &c->sul_ping, ping_tick,
				 (lws_usec_t)opt.ping_ms * 1000);
	if (opt.idle_ms > 0)
		lws_sul_schedule(g.ctx, 0, &c->sul_idle, idle_check,
				 (lws_usec_t)opt.idle_ms * 1000);
}

void
keepalive_stop(struct conn *c)
{
	lws_sul_cancel(&c->sul_ping);
	lws_sul_cancel(&c->sul_pong);
	lws_sul_cancel(&c->sul_idle);
	lws_sul_cancel(&c->sul_hb);
}
