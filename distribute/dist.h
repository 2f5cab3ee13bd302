/* dist.h: distribute's parts — the line paths and the mode machine (main.c), the Kafka
 * producer and consumer (kafka.c), and the follower's relay from the leader (relay.c).
 * kafka.c and relay.c know nothing of main.c: each is set up with what it needs and hands
 * what it receives to a sink, so the policy (fencing, de-duplication, roles) stays here. */
#ifndef DIST_H
#define DIST_H

#include "log.h"
#include "met.h"
#include "ndj.h"
#include "oq.h"
#include "rundir.h"
#include "stream.h"

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
	int standby_s;          /* seconds of input a follower keeps (0: none) */
	uint64_t standby_bytes;
	uint32_t trade_window;  /* trades remembered to drop a second copy */
	int promote_wait_ms;
	const char *xprops[MAX_XPROPS][2];
	int nxprops;
	int check;
};

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
	int64_t epoch;        /* this node's view of the leader's epoch (RUN_DIR/epoch) */
	int64_t newest_epoch; /* the newest epoch seen on a consumed record */
	int64_t unhealthy_since, healthy_since;
	/* the stream: positions, trades passed on, a standby's lines */
	int64_t next_seq;     /* the leader's next position */
	int64_t last_seq;     /* the newest position written for serve */
	struct seen seen;
	int64_t judged_from;  /* local_ts of the first trade this node passed on or found in
	                       * serve's journal: a kept trade older than that went by
	                       * before this node took part, and is not judged */
	struct standby sb;
	int promoting;        /* leading, but still taking in what the old leader got out */
	int64_t promote_started;
	lws_sorted_usec_list_t sul_promote;
	char *stamp;          /* a line being numbered */
	size_t stamp_cap;
	/* a follower back in Kafka mode relays on until Kafka carries the stream past this */
	int64_t relay_until;
	/* a restart whose place in the topic is gone (retention): the relay fills the hole */
	enum { CU_NONE, CU_CHECK, CU_RELAY } catchup;
	int64_t kafka_start;  /* offset the consumer was asked to start at */
	int catchup_forced;   /* serve's journal ends before it: the relay fills the rest */
	int journal_found;    /* serve's journal was there to read at start */
	int64_t topic_seq;    /* the newest position of the records consumed */
	struct standby held;  /* Kafka's lines while the relay fills the hole */
	int64_t held_first;   /* position of the first of them */
	int64_t catchup_started;
	/* metrics */
	struct met_reg *reg;
	struct met *m_in, *m_out, *m_dropped, *m_too_long, *m_kafka_mode, *m_leader, *m_rss, *m_produced,
		*m_delivery_failed, *m_consumed, *m_fenced, *m_lag, *m_kafka_up, *m_relay_connected,
		*m_relayed, *m_relay_stale, *m_relay_slow_lookups, *m_relay_lookup_failures, *m_duplicates, *m_discarded, *m_assigned, *m_mode_switches, *m_ready,
		*m_trade_dups, *m_position, *m_standby_lines, *m_standby_bytes, *m_standby_dropped,
		*m_standby_published, *m_standby_unjudged, *m_promotions, *m_promote_wait, *m_not_object,
		*m_catchups, *m_catchup_gaps;
};

extern struct dist D;

/* ---- kafka.c: everything librdkafka. Its threads only write to a pipe (kafka_fd) that the
 * loop watches; kafka_service, called when it is readable, runs the callbacks. ---- */
struct kafka_cfg {
	const char *brokers, *topic, *group_prefix, *node_id;
	const char *const (*xprops)[2]; /* -X key=value, given to both clients */
	int nxprops;
	int64_t start_offset; /* where the consumer starts in partition 0; -1: its end */
};
/* Where consumed records go: the payload and its epoch and seq headers (-1 when absent). */
struct kafka_sink {
	void (*record)(void *ctx, const char *line, size_t len, int64_t epoch, int64_t seq);
	void *ctx;
};
struct kafka_stats {
	uint64_t produced;        /* records handed to the producer */
	uint64_t delivery_failed; /* records the producer refused or could not deliver */
	uint64_t consumed;
	int64_t lag;              /* records behind the end of the topic */
	int64_t offset;           /* of the last record consumed, -1 none */
	int ready;                /* the consumer fetches the topic */
};
int kafka_start(const struct kafka_cfg *cfg, const struct kafka_sink *sink, char *err, size_t errlen);
void kafka_stop(void);
void kafka_service(void);
/* Produces LINE (at stream position SEQ) with the epoch and position as record headers. */
int kafka_produce(const char *line, size_t len, int64_t epoch, int64_t seq);
/* Brokers reachable now (from the last statistics); PRODUCING also asks for a producer that
 * sees a broker and had no delivery failure for two seconds. */
int kafka_healthy(int producing);
/* The consumer is at the end of the topic as far as it knows, and nothing came for QUIET_US. */
int kafka_caught_up(int64_t quiet_us);
int kafka_fd(void);
const struct kafka_stats *kafka_stats(void);

/* ---- relay.c: a follower's WebSocket client to the leader's serve (direct mode). ---- */
struct relay_cfg {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	const char *run_dir, *node_id; /* the leader's URL is in RUN_DIR/leader */
};
struct relay_sink {
	void (*line)(void *ctx, const char *line, size_t len); /* one message from the leader */
	int (*wanted)(void *ctx); /* still a follower: otherwise what arrives is dropped */
	int64_t (*position)(void *ctx); /* the newest position this node has: resume after it */
	void *ctx;
};
struct relay_stats {
	int connected;
	uint64_t relayed; /* messages received from the leader */
	uint64_t stale;   /* connections closed because the role or the leader changed first */
	int64_t last_rx;  /* when the last message came (mono µs) */
	uint64_t slow_lookups;    /* lookups of the leader's name that took a second or more */
	uint64_t lookup_failures; /* lookups of the leader's name that failed */
};
void relay_init(const struct relay_cfg *cfg, const struct relay_sink *sink);
/* Relays from the leader named in RUN_DIR/leader (again, when it changed); idempotent. */
void relay_start(void);
void relay_stop(void);
int relay_active(void); /* relay_start was called and relay_stop was not since */
void relay_free(void);
const struct relay_stats *relay_stats(void);
int cb_relay(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

#endif
