/* kafka.c: distribute's Kafka producer (leader) and consumer (every node).
 * librdkafka's threads never call into the event loop: both clients' queues signal a pipe
 * (rd_kafka_queue_io_event_enable), and the loop serves the queues when it is readable. */
#include "clock.h"
#include "dist.h"
#include "json.h"
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct kafka {
	rd_kafka_t *prod, *cons;
	rd_kafka_queue_t *prod_q, *cons_q;
	int pipe[2];
	int prod_up, cons_up;          /* brokers UP in the last statistics */
	int all_down;                  /* the last error said every broker is down */
	int64_t last_failure;          /* last delivery failure (mono µs) */
	int64_t last_stats;
	int64_t last_record;           /* when the consumer last got one (mono µs) */
	struct kafka_cfg cfg;
	struct kafka_sink sink;
	struct kafka_stats stats;
	struct js_doc doc;
	struct log_limit rl_err;
};

static struct kafka K;

int kafka_fd(void)
{
	return K.pipe[0];
}

static int64_t mono_now(void)
{
	return clk_mono_us();
}

/* ---- callbacks (run on the loop's thread, from the queue polls below) ---- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	if (!m->err)
		return;
	K.stats.delivery_failed++;
	K.last_failure = mono_now();
	if (log_allow(&K.rl_err, mono_now()) >= 0)
		log_warn("Kafka delivery failed", " error=\"%s\"", rd_kafka_err2str(m->err));
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		K.all_down = 1;
	if (log_allow(&K.rl_err, mono_now()) >= 0)
		log_warn("Kafka error", " client=%s error=\"%s\" reason=\"%s\"", rd_kafka_name(rk),
			 rd_kafka_err2str((rd_kafka_resp_err_t)err), reason);
}

/* The statistics tell which brokers are UP, and the consumer's lag. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	struct js_doc *d = &K.doc;
	int up = 0;
	if (js_parse(d, json, len) != JS_OK)
		return 0;
	int brokers = js_get(d, 0, "brokers");
	if (js_type(d, brokers) == JS_OBJECT) {
		uint32_t end = d->tok[brokers].next;
		for (uint32_t k = (uint32_t)brokers + 1; k < end; k = d->tok[k + 1].next) {
			int b = (int)k + 1;
			int64_t nodeid = -1;
			js_int64(d, js_get(d, b, "nodeid"), &nodeid);
			if (nodeid >= 0 && js_streq(d, js_get(d, b, "state"), "UP"))
				up++;
		}
	}
	if (rk == K.prod) {
		K.prod_up = up;
	} else {
		K.cons_up = up;
		int topics = js_get(d, 0, "topics");
		int t = js_getn(d, topics, K.cfg.topic, strlen(K.cfg.topic));
		int parts = js_get(d, t, "partitions");
		int64_t lag = 0, l;
		int active = 0;
		if (js_type(d, parts) == JS_OBJECT) {
			uint32_t end = d->tok[parts].next;
			for (uint32_t k = (uint32_t)parts + 1; k < end; k = d->tok[k + 1].next) {
				int p = (int)k + 1;
				if (!js_int64(d, js_get(d, p, "consumer_lag"), &l) && l > 0)
					lag += l;
				active |= js_streq(d, js_get(d, p, "fetch_state"), "active");
			}
		}
		K.stats.lag = lag;
		K.stats.ready = active;
	}
	if (up)
		K.all_down = 0;
	K.last_stats = mono_now();
	return 0; /* librdkafka frees json */
}

/* librdkafka logs from its own threads: one write per line, in our format. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	static int64_t window;
	static int count;
	char q[400];
	int64_t now = clk_mono_us();
	if (now - window > 10000000) {
		window = now;
		count = 0;
	}
	if (++count > 20)
		return; /* an outage repeats the same complaint from every thread */
	log_write(level <= 3 ? LOG_WARN : LOG_DEBUG, "librdkafka", " client=%s facility=%s detail=%s",
		  rd_kafka_name(rk), fac, log_quote(q, sizeof q, buf, strlen(buf)));
}

/* ---- set-up ---- */

static rd_kafka_conf_t *base_conf(char *err, size_t errlen)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (rd_kafka_conf_set(c, "bootstrap.servers", K.cfg.brokers, err, errlen) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(c, "statistics.interval.ms", "500", err, errlen) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(c, "socket.nagle.disable", "true", err, errlen) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(c, "log_level", log_enabled(LOG_DEBUG) ? "6" : "3", err, errlen) != RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(c);
		return NULL;
	}
	rd_kafka_conf_set_error_cb(c, on_error);
	rd_kafka_conf_set_stats_cb(c, on_stats);
	rd_kafka_conf_set_log_cb(c, on_log);
	return c;
}

/* Every -X key=value goes to both clients, as kcat does; a property that only fits one of
 * them draws a librdkafka warning from the other. */
static int apply_x(rd_kafka_conf_t *c, char *err, size_t errlen)
{
	for (int i = 0; i < K.cfg.nxprops; i++)
		if (rd_kafka_conf_set(c, K.cfg.xprops[i][0], K.cfg.xprops[i][1], err, errlen) != RD_KAFKA_CONF_OK)
			return -1;
	return 0;
}

const struct kafka_stats *kafka_stats(void)
{
	return &K.stats;
}

int kafka_start(const struct kafka_cfg *cfg, const struct kafka_sink *sink, char *err, size_t errlen)
{
	char group[512], rnd[16];
	memset(&K, 0, sizeof K);
	K.cfg = *cfg;
	K.sink = *sink;
	K.stats.offset = -1;
	js_init(&K.doc, 0);
	if (pipe2(K.pipe, O_CLOEXEC | O_NONBLOCK)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}

	rd_kafka_conf_t *pc = base_conf(err, errlen);
	if (!pc)
		return -1;
	/* Latency first: no batching delay; idempotent so a retried send is never doubled. */
	if (rd_kafka_conf_set(pc, "enable.idempotence", "true", err, errlen) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(pc, "linger.ms", "0", err, errlen) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(pc, "queue.buffering.max.messages", "200000", err, errlen) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(pc, "message.timeout.ms", "10000", err, errlen) != RD_KAFKA_CONF_OK ||
	    apply_x(pc, err, errlen)) {
		rd_kafka_conf_destroy(pc);
		return -1;
	}
	rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);

	rd_kafka_conf_t *cc = base_conf(err, errlen);
	if (!cc)
		return -1;
	snprintf(rnd, sizeof rnd, "%08x", (unsigned)(clk_now_us() ^ (getpid() << 16)));
	snprintf(group, sizeof group, "%s-%s-%s", K.cfg.group_prefix, K.cfg.node_id, rnd);
	/* Every node its own group, so every node gets every record, from the end of the topic. */
	if (rd_kafka_conf_set(cc, "group.id", group, err, errlen) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(cc, "auto.offset.reset", "latest", err, errlen) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(cc, "enable.auto.commit", "false", err, errlen) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(cc, "fetch.wait.max.ms", "5", err, errlen) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(cc, "fetch.error.backoff.ms", "50", err, errlen) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(cc, "session.timeout.ms", "6000", err, errlen) != RD_KAFKA_CONF_OK ||
	    apply_x(cc, err, errlen)) {
		rd_kafka_conf_destroy(cc);
		return -1;
	}

	/* librdkafka's threads must not take our signals. */
	sig_block_all();
	K.prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, errlen);
	K.cons = K.prod ? rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, errlen) : NULL;
	sig_unblock_all();
	if (!K.prod || !K.cons)
		return -1;
	rd_kafka_poll_set_consumer(K.cons);
	K.prod_q = rd_kafka_queue_get_main(K.prod);
	K.cons_q = rd_kafka_queue_get_consumer(K.cons);
	rd_kafka_queue_io_event_enable(K.prod_q, K.pipe[1], "p", 1);
	rd_kafka_queue_io_event_enable(K.cons_q, K.pipe[1], "c", 1);

	/* The stream is partition 0 (the producer writes only there, so every node sees one
	 * order). Assigning it directly, from the end (or where this node stopped reading, when
	 * it restarts), starts at once — no group join to wait
	 * for — and keeps the position through a Kafka outage: nothing is revoked. */
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(parts, K.cfg.topic, 0)->offset =
		K.cfg.start_offset >= 0 ? K.cfg.start_offset : RD_KAFKA_OFFSET_END;
	rd_kafka_resp_err_t e = rd_kafka_assign(K.cons, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	if (e) {
		snprintf(err, errlen, "assign: %s", rd_kafka_err2str(e));
		return -1;
	}
	log_info("Kafka clients started", " brokers=%s topic=%s group=%s", K.cfg.brokers, K.cfg.topic, group);
	return 0;
}

void kafka_stop(void)
{
	if (K.prod) {
		/* What the leader produced must reach Kafka before we go. */
		rd_kafka_resp_err_t e = rd_kafka_flush(K.prod, 3000);
		if (e)
			log_warn("Kafka flush incomplete at exit", " pending=%d", rd_kafka_outq_len(K.prod));
	}
	if (K.cons)
		rd_kafka_consumer_close(K.cons);
	if (K.prod_q)
		rd_kafka_queue_destroy(K.prod_q);
	if (K.cons_q)
		rd_kafka_queue_destroy(K.cons_q);
	if (K.cons)
		rd_kafka_destroy(K.cons);
	if (K.prod)
		rd_kafka_destroy(K.prod);
	js_free(&K.doc);
	close(K.pipe[0]);
	close(K.pipe[1]);
}

/* ---- the loop's side ---- */

static int64_t header_int(const rd_kafka_message_t *m, const char *name)
{
	rd_kafka_headers_t *h;
	const void *v;
	size_t n;
	char buf[24];
	if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &v, &n) || !v || n >= sizeof buf)
		return -1;
	memcpy(buf, v, n);
	buf[n] = 0;
	return atoll(buf);
}


void kafka_service(void)
{
	char drain[64];
	while (read(K.pipe[0], drain, sizeof drain) > 0)
		;
	rd_kafka_poll(K.prod, 0);
	/* Serve the consumer queue until it is empty: the pipe only signals when it fills again. */
	for (;;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(K.cons, 0);
		if (!m)
			break;
		if (!m->err) {
			K.stats.consumed++;
			K.stats.offset = m->offset;
			K.last_record = mono_now();
			K.sink.record(K.sink.ctx, m->payload, m->len, header_int(m, "epoch"), header_int(m, "seq"));
		}
		else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && log_allow(&K.rl_err, mono_now()) >= 0)
			log_warn("Kafka consumer error", " error=\"%s\"", rd_kafka_message_errstr(m));
		rd_kafka_message_destroy(m);
	}
}

int kafka_produce(const char *line, size_t len, int64_t epoch_no, int64_t seq_no)
{
	char epoch[24], seq[24];
	int el = snprintf(epoch, sizeof epoch, "%lld", (long long)epoch_no);
	int sl = snprintf(seq, sizeof seq, "%lld", (long long)seq_no);
	rd_kafka_resp_err_t e = rd_kafka_producev(
		K.prod, RD_KAFKA_V_TOPIC(K.cfg.topic), RD_KAFKA_V_PARTITION(0),
		RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE((void *)line, len),
		RD_KAFKA_V_HEADER("epoch", epoch, el), RD_KAFKA_V_HEADER("seq", seq, sl), RD_KAFKA_V_END);
	if (e) {
		K.stats.delivery_failed++;
		K.last_failure = mono_now();
		return -1;
	}
	K.stats.produced++;
	return 0;
}

/* Usable: the consumer sees a broker UP and, when we produce, so does the producer and no
 * delivery failed in the last two seconds. Statistics come every 500 ms; none for two
 * seconds means librdkafka itself is stuck, which is not healthy either. */
int kafka_caught_up(int64_t quiet_us)
{
	int64_t lo, hi;
	rd_kafka_topic_partition_list_t *parts;
	if (mono_now() - K.last_record < quiet_us)
		return 0;
	parts = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(parts, K.cfg.topic, 0);
	int at_end = !rd_kafka_position(K.cons, parts) && parts->elems[0].offset >= 0 &&
		     !rd_kafka_get_watermark_offsets(K.cons, K.cfg.topic, 0, &lo, &hi) &&
		     parts->elems[0].offset >= hi;
	/* No position yet (nothing consumed since the start, from the end): nothing to take in. */
	if (!at_end && parts->elems[0].offset < 0)
		at_end = 1;
	rd_kafka_topic_partition_list_destroy(parts);
	return at_end;
}

int kafka_healthy(int producing)
{
	int64_t now = mono_now();
	if (K.all_down || !K.cons_up || now - K.last_stats > 2000000)
		return 0;
	if (producing && (!K.prod_up || now - K.last_failure < 2000000))
		return 0;
	return 1;
}
