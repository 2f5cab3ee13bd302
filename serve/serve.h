/* serve.h: state shared by serve's parts — the input, the client fan-out, and HTTP. */
#ifndef SERVE_H
#define SERVE_H

#include "auth.h"
#include "fanout.h"
#include "filter.h"
#include "json.h"
#include "log.h"
#include "met.h"
#include "ndj.h"
#include "ring.h"
#include "sym.h"

#include <libwebsockets.h>
#include <stdint.h>

#define SERVE_VERSION "0.1.0"
#define MAX_CLIENT_MSG 4096 /* client messages beyond this close with 1009 */
#define MAX_REPLIES 64 /* answers a client has not read yet; past it, 1008 */
#define CLOSE_TRY_AGAIN_LATER 1013 /* RFC 6455 registry: "Try Again Later" */

struct opts {
	const char *bind;
	int port;
	const char *path;
	const char *www;
	const char *run_dir;
	const char *node_id;
	const char *input;
	const char *tls_cert, *tls_key;
	int max_clients;
	uint32_t ring;
	uint64_t ring_bytes;
	uint64_t journal_bytes;
	uint32_t max_backlog;
	uint32_t relay_lag;      /* a relay further behind leaves the gate */
	int relay_wait_ms;       /* so does one that took nothing for this long while lines wait */
	uint64_t max_backlog_bytes;
	int ready_timeout_ms;
	int close_timeout_ms;  /* a client that takes no close frame for this long is dropped */
	int send_threads;      /* threads beside the loop's that write to clients */
	enum send_path send_path;
	int exit_on_eof;
	int check;
	/* access control */
	const char *auth_secret;
	const char *origins[16];
	int norigins;
	struct cidr admin_nets[16];
	int nadmin_nets;
	int max_per_ip;
};

struct client {
	struct lws *wsi;
	struct filter f;
	uint64_t tail;         /* next ring sequence to send */
	uint32_t cache_pos;    /* next of cache_order to consider; cache_todo while replaying */
	int cache_todo;
	uint32_t *cache_order; /* the cache entries to replay, oldest stream position first */
	uint32_t cache_n;
	int64_t min_pos_until; /* the wait for min_pos gives up then (monotonic us; 0: none) */
	int64_t min_pos;       /* lines at or before this stream position are not sent: a
	                        * resume from a position the ring has not reached yet */
	uint64_t live_from;    /* ring sequence where a resume meets the live stream: its
	                        * backlog counts from there */
	int64_t since;         /* ?since= of the upgrade, -1 when none */
	char *since_error;     /* a bad ?since=, told once connected */
	int relay;             /* a follower's relay (?relay=1): written first */
	int relay_out;         /* that relay is out of the gate (too far behind, or stalled) */
	uint64_t relay_seen;   /* its position when the gate last looked, */
	int64_t relay_moved;   /* and when that position last moved (monotonic us) */
	char *reply[MAX_REPLIES];
	uint16_t reply_len[MAX_REPLIES];
	int nreplies;
	char *rx;              /* a client message being reassembled (rare) */
	size_t rx_len;
	int rx_bad;
	int closing;           /* close with close_code at the next chance */
	uint16_t close_code;
	const char *close_why; /* static text for the close frame */
	int64_t closing_since;
	int close_after_replies; /* closing, but the queued replies go out first */
	int close_sent;        /* serve's close frame went out: waiting for the answer */
	int64_t close_sent_at;
	int close_handed;      /* the close is libwebsockets' now */
	int killed;            /* dropped without a close frame after --close-timeout */
	char *bad_filter;      /* the query filter's error, told once connected */
	int fd;
	int idle;              /* caught up and waiting for data: on fanout.c's idle list */
	int fixed_refusal;     /* what keeps it off the fast path for good (fanout.c), or 0 */
	int peer_closing;      /* the client sent a close frame: nothing more goes to it */
	unsigned char *pend;   /* LWS_PRE + pend_len: a batch the kernel took only part of */
	size_t pend_len;
	struct client *idle_next, *idle_prev;
	struct client *next, *prev; /* every client */
	uint64_t sent;
	char peer[64];
	int counted;           /* holds a slot in the per-IP count */
};

struct serve {
	struct opts o;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct ring ring;
	struct cache cache;
	struct ndj in;
	struct js_doc doc;
	int in_fd;             /* the input as opened (S.in may read a copy of it, see input.h) */
	int in_open;
	int sigfd;
	int draining;
	int64_t drain_deadline;
	int done;
	int64_t started_us, last_line_mono;
	int input_paused;      /* only part of a line is in the input pipe: watched again on the tick */
	int gate_moved;        /* a relay took more: the clients it held are due a wake */
	int64_t catchup_start; /* when clients far behind were first written this turn of the
	                        * loop (us); 0: not yet */
	int64_t last_pos;      /* the newest stream position taken in */
	int numbered;          /* the input carries positions (from distribute) */
	int64_t own_pos;       /* serve's own numbering, while the input carries none */
	struct client *clients;
	int nclients;
	lws_sorted_usec_list_t sul_tick;
	int64_t last_second;
	unsigned char *scratch; /* LWS_PRE + SCRATCH: batches of frames for one write */
	char *status_json;
	size_t status_len;
	struct log_limit rl_input, rl_client;
	/* metrics */
	struct met_reg *reg;
	struct met *m_clients, *m_accepted, *m_rejected_full, *m_rejected_path, *m_rejected_drain,
		*m_resumes, *m_resume_gaps, *m_resume_lines, *m_resume_errors, *m_pos_back, *m_catchup_waits,
		*m_journal_lines, *m_journal_errors, *m_journal_replayed, *m_position,
		*m_slow, *m_lines, *m_bad_lines, *m_sent, *m_bytes_sent, *m_latency, *m_rss,
		*m_client_errors, *m_evicted, *m_streams, *m_ready, *m_client_msgs, *m_rejected_auth,
		*m_rejected_origin, *m_rejected_ip, *m_rejected_admin, *m_close_timeouts,
		*m_proto_errors, *m_proto_too_large, *m_names_full_exch, *m_names_full_sym,
		*m_stale_textfiles;
};

/* Most bytes one client gets in one send(): a batch of pre-framed messages. */
#define SCRATCH (64 * 1024)
#define MAX_SEND_THREADS 16
/* Most bytes of an HTTP response body written at once. */
#define HTTP_CHUNK (32 * 1024)

extern struct serve S;

/* clients.c */
int cb_client(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
void clients_check(int64_t now);
void clients_close_all(uint16_t code);

/* access.c: the checks made before a WebSocket upgrade or an admin endpoint */
int access_upgrade(struct lws *wsi, char *why, size_t whylen); /* 0 ok, else an HTTP status */
int access_admin(struct lws *wsi);                             /* 1 allowed */
int per_ip_add(const char *ip);                                /* 0 ok, -1 over the limit */
void per_ip_remove(const char *ip);

/* http.c */
int cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
void status_refresh(int64_t now_mono);
int serve_ready(char *why, size_t n);

#endif
