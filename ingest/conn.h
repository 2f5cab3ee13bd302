/* conn.h: one exchange connection of ingest — a state machine written as a table of state x
 * event, the messages it receives turned into envelope lines, and the ones it sends
 * (subscriptions, resyncs, keep-alives) at the exchange's pace. */
#ifndef INGEST_CONN_H
#define INGEST_CONN_H

#include "exchanges/xch.h"
#include "log.h"
#include "met.h"
#include "out.h"
#include "resolve.h"

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#define CONN_RESYNC_QUEUE 32 /* symbols waiting for a resync, per connection */

enum conn_state {
	CONN_IDLE,       /* not wanted (a follower, or stopped): no connection, no timer */
	CONN_CONNECTING, /* an attempt is in lws's hands, the WebSocket handshake not done */
	CONN_OPEN,       /* the WebSocket is up */
	CONN_BACKOFF,    /* waiting out the back-off before the next attempt */
	CONN_CLOSING,    /* ending the connection, to make a new one */
	CONN_STOPPING,   /* ending the connection, to stay idle */
	CONN_NSTATES
};

/* What happens to a connection. START, STOP and RECONNECT come from outside (role, signals,
 * the control socket); the others from lws, the back-off timer, the tick (the timeouts),
 * and what the connection itself receives and sends. */
enum conn_ev {
	CONN_EV_START,           /* become active (leader or standby) */
	CONN_EV_STOP,            /* become idle (follower, shutdown) */
	CONN_EV_RECONNECT,       /* the operator asks for a new connection (SIGHUP, control socket) */
	CONN_EV_RETRY,           /* the back-off timer fired */
	CONN_EV_CONNECTED,       /* the WebSocket handshake completed */
	CONN_EV_CLOSED,          /* lws reported the end of the connection, or it could not start */
	CONN_EV_ANNOUNCED,       /* the exchange announced that it will close the connection */
	CONN_EV_RESYNC,          /* a resync this exchange can only make with a new connection */
	CONN_EV_TOO_LARGE,       /* a message passed the frame limit */
	CONN_EV_CONNECT_TIMEOUT, /* no WebSocket connection within the connect timeout */
	CONN_EV_SILENT,          /* no complete message within the idle timeout */
	CONN_EV_SLOW_MESSAGE,    /* one message took longer than the idle timeout */
	CONN_EV_AGE_LIMIT,       /* the connection reached the exchange's age limit */
	CONN_NEVENTS
};

/* Why an attempt to connect failed (the reason label of exchange_ingest_connect_failures_total).
 * refused: lws 4.1 reports a failed TCP connect without its errno, so a host that is
 * unreachable is counted here too. */
enum conn_fail {
	CONN_F_DNS,
	CONN_F_REFUSED,
	CONN_F_TLS,
	CONN_F_HTTP,
	CONN_F_HANDSHAKE,
	CONN_F_TIMEOUT,
	CONN_F_CLOSED,
	CONN_F_OTHER,
	CONN_F_NONE /* not a failure (ended on purpose); also the number of reasons */
};

/* What the command line sets for every connection. */
struct conn_limits {
	size_t max_frame;    /* a longer message ends its connection (the exchange's own may be higher) */
	int idle_timeout_ms; /* 0: the exchange's */
	int keepalive_ms;    /* 0: the exchange's */
	int meta_every_ms;   /* instrument metadata is fetched again this often while open */
	int connect_timeout_ms; /* a connection not open by then is ended and tried again */
};

struct conn {
	const struct xch *x;
	struct xch_sub sub;
	struct xch_conn xc;    /* the protocol's own: request ids, request budget */
	char url[16384];
	char base[1024];       /* the endpoint the URL was built on (REST snapshots derive from it) */
	struct out_src src;    /* the envelope lines it writes */
	enum conn_state state; /* changed by the table in conn.c only */
	int64_t state_since;
	int reconnect_now;     /* after the coming close, skip the back-off delay */
	/* The connection lws holds for us: set by lws when it creates it (pwsi), cleared when
	 * lws destroys it (WSI_DESTROY), so it is never used after lws freed it. */
	struct lws *wsi;
	int attempt;           /* a connection is in lws's hands and its end not yet reported */
	int opened;            /* that connection completed the WebSocket handshake */
	int killed;            /* we are ending it ... */
	enum conn_fail kill_fail; /* ... and this is the failure it means (CONN_F_NONE: on purpose) */
	char close_reason[128];
	char host[256];
	int port;
	/* Before an attempt goes to lws, the host's name is looked up off the loop (resolve.h):
	 * while that runs (resolving) no connection exists, and every way of ending the attempt
	 * ends the lookup instead. */
	struct lookup lk;
	int resolving;
	lws_sorted_usec_list_t sul_lookup;
	unsigned fails;        /* consecutive failed attempts */
	lws_sorted_usec_list_t sul_retry;
	uint16_t retries;
	int64_t last_tx;
	int64_t last_rx;       /* the last complete message (or pong): idleness is the time since */
	int64_t last_keepalive; /* some exchanges want their keep-alive itself, whatever else is sent */
	/* receive: one message reassembled from fragments */
	char *rx;
	size_t rx_len, rx_cap;
	int64_t msg_since;     /* the first fragment of the message being received (0: none) */
	int rx_discard;        /* a message passed the limit: ignore the rest, the end is near */
	struct log_limit rl_fail;
	/* send queue: subscribe messages first, then resyncs, then keep-alives */
	int sub_next;          /* next subscribe message index, -1 when done */
	int want_keepalive;
	char resync_q[CONN_RESYNC_QUEUE][SYM_MAX];
	int resync_n;
	int resync_msg;        /* next message index of the symbol at the queue's head */
	int64_t next_send;     /* subscribe and resync messages wait until then (pacing) */
	/* instrument metadata (proto.meta): a pass of requests on every open, which the
	 * subscription waits for (a while), and again every meta_every_ms while open */
	int meta_next;         /* the pass's next request; -1: every request of it started */
	unsigned meta_gen;     /* the pass: answers to an older one hold nothing up */
	int meta_gate;         /* the subscription waits for this pass */
	int64_t meta_since;    /* the pass began (clk_mono_us) */
	int64_t meta_next_at;  /* its next request may start then (pacing) */
	int64_t meta_due;      /* the next pass (0: none planned) */
	lws_sorted_usec_list_t sul_meta; /* the pass's next request, when pacing holds it */
	/* metrics; the series are the exchange's, shared by its connections */
	struct met *m_frames, *m_bytes, *m_connected, *m_reconnects, *m_dropped, *m_age, *m_invalid,
		*m_oversize, *m_heartbeats, *m_rest_ok, *m_rest_failed, *m_meta_ok, *m_meta_failed,
		*m_slow_lookups;
	struct met *m_fail[CONN_F_NONE];
};

/* Where connections are made, and what the command line sets for all of them; before any
 * event. */
void conn_setup(struct lws_context *ctx, struct lws_vhost *vh, const struct conn_limits *lim);
/* Frees what the module holds; after every connection was freed. */
void conn_teardown(void);

/* A connection to exchange X, idle, with no symbols yet. */
void conn_init(struct conn *c, const struct xch *x);
/* Registers the connection's series in REG. Returns 0, or -1 when out of memory. */
int conn_add_metrics(struct conn *c, struct met_reg *reg);
/* Cancels its timers (back-off, metadata pacing); before the lws context is destroyed. */
void conn_cancel_timer(struct conn *c);
/* Frees its buffers; after the lws context is gone. */
void conn_free(struct conn *c);

/* Dispatches EV through the table. From outside: START, STOP and RECONNECT. Returns 0, or -1
 * when the connection's state ignores EV (RECONNECT while idle or stopping). */
int conn_event(struct conn *c, enum conn_ev ev);
/* Called every tick: raises the timeout events that fell due, asks to send what is due. */
void conn_tick(struct conn *c, int64_t now);

/* What became of a resync request (control socket). */
enum conn_resync {
	CONN_RESYNC_QUEUED,        /* resubscribe messages will go out */
	CONN_RESYNC_SNAPSHOT,      /* a REST snapshot is on its way */
	CONN_RESYNC_NOT_OPEN,      /* nothing to resync on */
	CONN_RESYNC_FULL,          /* the queue is full (or the symbol is too long) */
	CONN_RESYNC_NO_SNAPSHOT,   /* the snapshot cannot be fetched now */
};
/* Asks for SYMBOL's book again: a REST snapshot where books are built from one
 * (book:full), otherwise resubscribe messages, paced with the others. */
enum conn_resync conn_resync(struct conn *c, const char *symbol);

/* What became of a request for instrument metadata now (control socket). */
enum conn_meta {
	CONN_META_STARTED,   /* a pass of metadata requests has begun */
	CONN_META_UNDERWAY,  /* one is still running */
	CONN_META_NONE,      /* the exchange has no metadata */
	CONN_META_NOT_OPEN,  /* nothing to fetch it for */
};
/* Fetches the exchange's instrument metadata again, now (an instrument listed or expired
 * since the last pass). */
enum conn_meta conn_meta_refresh(struct conn *c);

/* The longest message the connection takes: --max-frame or the exchange's own, if larger. */
size_t conn_frame_limit(const struct conn *c);
const char *conn_state_name(enum conn_state s);

/* The lws protocol of exchange connections; each one's user data is its struct conn. */
int conn_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len);

#endif
