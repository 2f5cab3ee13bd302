/* dist.h: distribute's parts — the line paths and the mode machine (main.c), the Kafka
 * producer and consumer (kafka.c), and the follower's relay from the leader (relay.c). */
#ifndef DIST_H
#define DIST_H

#include "log.h"
#include "met.h"
#include "ndj.h"
#include "oq.h"
#include "rundir.h"

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#define DIST_VERSION "0.1.0"
#define MAX_XPROPS 64

enum mode { MODE_DIRECT, MODE_KAFKA };

struct opts {
	const char *run_dir;
	size_t max_line, out_buffer;
	const char *brokers, *topic, *group_prefix, *node_id;
	int fallback_after_s;
	const char *xprops[MAX_XPROPS][2];
	int nxprops;
	int check;
};

struct kafka; /* kafka.c */

struct dist {
	struct opts o;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct ndj in;
	struct oq out;
	struct lws *out_wsi;
	int out_waiting;
	int sigfd;
	enum role role;
	enum mode mode;
	int stopping;
	int exit_code;
	lws_sorted_usec_list_t sul_tick;
	int64_t last_metrics, last_epoch_read;
	struct log_limit rl_drop;
	/* Across a mode switch, lines not newer than the last one written are dropped: no client
	 * gets a line twice. Ingest stamps local_ts in receive order, so it orders the stream. */
	int64_t last_out_ts, boundary_ts;
	int64_t epoch;        /* this node's view of the leader's epoch (RUN_DIR/epoch) */
	int64_t newest_epoch; /* the newest epoch seen on a consumed record */
	struct kafka *k;
	int64_t unhealthy_since, healthy_since;
	/* the follower's relay from the leader's serve (direct mode) */
	struct lws *relay_wsi;
	char relay_url[1024];
	int relay_want;
	uint16_t relay_retries;
	lws_sorted_usec_list_t sul_relay;
	char *relay_rx;
	size_t relay_len;
	/* metrics */
	struct met_reg *reg;
	struct met *m_in, *m_out, *m_dropped, *m_too_long, *m_kafka_mode, *m_leader, *m_rss, *m_produced,
		*m_delivery_failed, *m_consumed, *m_fenced, *m_lag, *m_kafka_up, *m_relay_connected,
		*m_relayed, *m_relay_stale, *m_duplicates, *m_discarded, *m_assigned, *m_mode_switches, *m_ready;
};

extern struct dist D;

/* main.c */
void emit_line(const char *line, size_t len, int check_boundary);
int64_t line_local_ts(const char *line, size_t len);

/* kafka.c: everything librdkafka; its threads only write to a pipe the loop watches. */
int kafka_start(char *err, size_t errlen);
void kafka_stop(void);
void kafka_service(void);            /* the pipe is readable: serve the queues */
int kafka_produce(const char *line, size_t len);
int kafka_healthy(void);             /* brokers reachable now (from the last statistics) */
int kafka_fd(void);

/* relay.c */
void relay_start(void);
void relay_stop(void);
int cb_relay(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

#endif
