/* distribute: carries normalized lines from the pipeline to serve.
 * Direct mode: the leader copies stdin to stdout; a follower relays the leader's serve.
 * Kafka mode (--kafka): the leader produces stdin to Kafka; every node consumes the topic
 * to stdout. When Kafka is unusable for --fallback-after seconds the node switches to
 * direct mode, and back when Kafka is healthy again. Neither side ever blocks: a slow
 * reader costs counted drops. */
#include "clock.h"
#include "dist.h"
#include "exitcode.h"
#include "loop.h"
#include "opt.h"
#include "sig.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_US (250 * LWS_US_PER_MS)
#define RECOVER_AFTER_US (2 * 1000000) /* Kafka healthy this long before going back to it */
#define RECENT_MAX 65536              /* lines the leader keeps to replay after a fallback */

struct dist D;

/* Lines the leader produced recently: after a fallback to direct mode, the ones no
 * consumer gave back are written directly, so the switch loses nothing here. */
static struct {
	char *line[RECENT_MAX];
	uint32_t len[RECENT_MAX];
	int64_t ts[RECENT_MAX];
	uint32_t head, n;
} recent;

static int kinds[5];
enum { RAW_IN = 1, RAW_OUT = 2, RAW_SIGNALS = 3, RAW_KAFKA = 4 };

int64_t line_local_ts(const char *line, size_t len)
{
	const char *p = memmem(line, len < 256 ? len : 256, "\"local_ts\":", 11);
	int64_t v = 0;
	if (!p)
		return 0;
	for (p += 11; p < line + len && *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (*p - '0');
	return v;
}

/* One line for serve. CHECK_BOUNDARY drops a line no newer than the mode switch (it was
 * delivered already, by the other path). When serve is slow the line is dropped and
 * counted: upstream must never wait for the slowest reader. */
void emit_line(const char *line, size_t len, int check_boundary)
{
	char nl = '\n';
	int64_t ts = check_boundary ? line_local_ts(line, len) : 0;
	if (ts && ts <= D.boundary_ts) {
		D.m_duplicates->v++;
		return;
	}
	if (oq_room(&D.out) < len + 1) {
		D.m_dropped->v++;
		long sup = log_allow(&D.rl_drop, clk_mono_us());
		if (sup >= 0)
			log_warn("output full, line dropped", " suppressed=%ld", sup);
		return;
	}
	oq_push(&D.out, line, len);
	oq_push(&D.out, &nl, 1);
	D.m_out->v++;
	if (ts > D.last_out_ts)
		D.last_out_ts = ts;
	if (D.out.len && D.out_wsi && !D.out_waiting) {
		D.out_waiting = 1;
		lws_callback_on_writable(D.out_wsi);
	}
}

static void remember(const char *line, size_t len)
{
	uint32_t i = (recent.head + recent.n) % RECENT_MAX;
	if (recent.n == RECENT_MAX) {
		free(recent.line[recent.head]);
		recent.head = (recent.head + 1) % RECENT_MAX;
		recent.n--;
		i = (recent.head + recent.n) % RECENT_MAX;
	}
	recent.line[i] = malloc(len);
	if (!recent.line[i])
		return;
	memcpy(recent.line[i], line, len);
	recent.len[i] = (uint32_t)len;
	recent.ts[i] = line_local_ts(line, len);
	recent.n++;
}

static void forget_recent(int64_t older_than)
{
	while (recent.n && recent.ts[recent.head] < older_than) {
		free(recent.line[recent.head]);
		recent.head = (recent.head + 1) % RECENT_MAX;
		recent.n--;
	}
}

static void on_input_line(const char *line, size_t len)
{
	D.m_in->v++;
	if (D.role != ROLE_LEADER) {
		D.m_discarded->v++; /* a follower's ingest is idle; anything here is stale */
		return;
	}
	if (D.mode == MODE_KAFKA) {
		kafka_produce(line, len);
		remember(line, len);
	} else {
		emit_line(line, len, 1);
	}
}

/* Passes on every complete line buffered (and the last one, at end of input). */
static void drain_lines(void)
{
	const char *line;
	size_t len;
	for (;;) {
		enum ndj_status st = ndj_next(&D.in, &line, &len);
		if (st == NDJ_LINE) {
			on_input_line(line, len);
		} else if (st == NDJ_TOOLONG) {
			D.m_too_long->v++;
			log_warn("input line too long, skipped", NULL);
		} else {
			break;
		}
	}
}

/* Writes what is queued now, rather than one loop turn later from the writeable callback:
 * each turn can be a scheduler wait on a busy machine. Called when lws_service returns, so
 * whatever one turn brought (input, records, relayed frames) goes out in one write. What
 * does not fit waits for the writeable callback. */
static void out_flush_now(void)
{
	if (!D.out.len || !D.out_wsi)
		return;
	int r = oq_flush(&D.out);
	if (r < 0) {
		log_info("reader closed the output", " error=\"%s\"", strerror(errno));
		D.exit_code = errno == EPIPE ? EXIT_OK : EXIT_RUNTIME;
		D.out.len = 0;
		D.stopping = 1;
	} else if (r > 0 && !D.out_waiting) {
		D.out_waiting = 1;
		lws_callback_on_writable(D.out_wsi);
	}
}

static void read_input(void)
{
	long r = ndj_fill(&D.in);
	if (r < 0 && errno != EAGAIN) {
		log_error("cannot read input", " error=\"%s\"", strerror(errno));
		D.in.eof = 1;
	}
	drain_lines();
	if (D.in.eof) {
		log_info("end of input", NULL);
		D.stopping = 1;
	}
}

static void read_epoch(void)
{
	char buf[32];
	if (D.o.run_dir && rundir_read(D.o.run_dir, "epoch", buf, sizeof buf) > 0)
		D.epoch = atoll(buf);
}

static void status_line(const char *event, const char *detail)
{
	char line[512];
	int n = snprintf(line, sizeof line,
			 "{\"type\":\"status\",\"exchange\":\"relay\",\"local_ts\":%lld,\"event\":\"%s\",\"detail\":\"%s\"}",
			 (long long)clk_now_us(), event, detail);
	emit_line(line, (size_t)n, 0);
}

/* The mode machine: every switch happens here. */
static void set_mode(enum mode m, const char *why)
{
	if (D.mode == m)
		return;
	D.mode = m;
	D.m_kafka_mode->v = m == MODE_KAFKA;
	D.m_mode_switches->v++;
	D.boundary_ts = D.last_out_ts;
	log_info(m == MODE_KAFKA ? "Kafka mode" : "direct mode", " role=%s reason=\"%s\"", role_name(D.role), why);
	char detail[256];
	snprintf(detail, sizeof detail, "%s: %s", m == MODE_KAFKA ? "kafka" : "direct", why);
	status_line("mode", detail);
	if (m == MODE_DIRECT) {
		if (D.role == ROLE_LEADER) {
			/* Give serve what was produced but never came back from Kafka. */
			for (uint32_t k = 0; k < recent.n; k++) {
				uint32_t i = (recent.head + k) % RECENT_MAX;
				if (recent.ts[i] > D.last_out_ts)
					emit_line(recent.line[i], recent.len[i], 1);
			}
		} else {
			relay_start();
		}
	} else {
		relay_stop();
	}
	forget_recent(INT64_MAX);
}

static void mode_tick(int64_t now)
{
	if (!D.o.brokers) {
		/* Without Kafka: direct mode for good; a follower relays from the leader. */
		if (D.role == ROLE_FOLLOWER && !D.relay_want)
			relay_start();
		return;
	}
	int ok = kafka_healthy();
	D.m_kafka_up->v = ok;
	if (ok) {
		D.unhealthy_since = 0;
		if (!D.healthy_since)
			D.healthy_since = now;
	} else {
		D.healthy_since = 0;
		if (!D.unhealthy_since)
			D.unhealthy_since = now;
	}
	if (D.mode == MODE_KAFKA && D.unhealthy_since && now - D.unhealthy_since >= (int64_t)D.o.fallback_after_s * 1000000) {
		char why[64];
		snprintf(why, sizeof why, "Kafka unusable for %d s", D.o.fallback_after_s);
		set_mode(MODE_DIRECT, why);
	} else if (D.mode == MODE_DIRECT && D.healthy_since && now - D.healthy_since >= RECOVER_AFTER_US) {
		set_mode(MODE_KAFKA, "Kafka healthy again");
	}
	/* The leader keeps a few seconds of produced lines for a fallback, no more. */
	if (D.mode == MODE_KAFKA)
		forget_recent(clk_now_us() - (int64_t)(D.o.fallback_after_s + 2) * 1000000);
}

static void set_role(enum role r)
{
	read_epoch();
	if (D.role == r) {
		log_info("role unchanged", " role=%s epoch=%lld", role_name(r), (long long)D.epoch);
	} else {
		D.role = r;
		D.m_leader->v = r == ROLE_LEADER;
		log_info("role", " role=%s epoch=%lld", role_name(r), (long long)D.epoch);
	}
	/* A follower in direct mode relays from the (possibly new) leader; a leader never relays. */
	if (r == ROLE_LEADER)
		relay_stop();
	else if (D.mode == MODE_DIRECT)
		relay_start();
}

static int cb_raw(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	void *op = lws_get_opaque_user_data(wsi);
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (op == &kinds[RAW_IN]) {
			read_input();
			if (D.stopping)
				return -1;
		} else if (op == &kinds[RAW_KAFKA]) {
			kafka_service();
		} else if (op == &kinds[RAW_SIGNALS]) {
			int sig;
			while ((sig = sig_next(D.sigfd))) {
				if (sig == SIGUSR1)
					set_role(ROLE_LEADER);
				else if (sig == SIGUSR2)
					set_role(ROLE_FOLLOWER);
				else if (sig == SIGTERM || sig == SIGINT) {
					log_info("stopping", " signal=%d", sig);
					D.stopping = 1;
				}
			}
		}
		break;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (op == &kinds[RAW_OUT]) {
			D.out_waiting = 0;
			out_flush_now();
		}
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (op == &kinds[RAW_OUT]) {
			D.out_wsi = NULL;
		} else if (op == &kinds[RAW_IN] && !D.stopping) {
			/* A pipe whose writer left reports a hang-up, not a read of 0 bytes. */
			D.in.eof = 1;
			drain_lines();
			log_info("end of input", NULL);
			D.stopping = 1;
		}
		break;
	default:
		break;
	}
	return 0;
}

static void write_metrics(void)
{
	char err[256];
	D.m_too_long->v = (double)D.in.too_long;
	D.m_rss->v = met_rss_bytes();
	if (D.o.run_dir && met_write_file(D.reg, D.o.run_dir, "distribute", err, sizeof err))
		log_warn("cannot write metrics", " error=\"%s\"", err);
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	int64_t now = clk_mono_us();
	mode_tick(now);
	if (now - D.last_epoch_read >= 1000000) {
		D.last_epoch_read = now;
		read_epoch(); /* fencing uses the newest epoch this node knows of */
	}
	if (now - D.last_metrics >= 1000000) {
		D.last_metrics = now;
		write_metrics();
	}
	if (D.stopping) {
		lws_cancel_service(D.ctx);
		D.stopping = 2;
		return;
	}
	lws_sul_schedule(D.ctx, 0, &D.sul_tick, tick_cb, TICK_US);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: distribute [OPTIONS] < normalized.ndjson > for-serve.ndjson\n"
		"Direct mode (default): the leader copies stdin to stdout; a follower relays the\n"
		"leader's serve (URL in RUN_DIR/leader). Kafka mode: the leader produces stdin to the\n"
		"topic and every node consumes it to stdout, falling back to direct mode while Kafka\n"
		"is unusable. A slow reader costs counted drops, never a stalled pipeline.\n\n"
		"  -k, --kafka BROKERS        Kafka bootstrap servers (enables Kafka mode)\n"
		"  -t, --topic NAME           topic (default exchange.normalized)\n"
		"  -g, --group-prefix P       consumer group prefix (default exchange-relay)\n"
		"  -i, --node-id ID           this node's name, in the group id (default $NODE_ID or host)\n"
		"  -f, --fallback-after S     seconds of unusable Kafka before direct mode (default 3)\n"
		"  -X key=value               any librdkafka property, for both clients (SASL, SSL, ...)\n"
		"  -r, --run-dir DIR          role, leader, epoch and metrics live in DIR (default $RUN_DIR)\n"
		"  -l, --max-line BYTES       longest line accepted (default 4194304)\n"
		"  -b, --buffer BYTES         output buffer (default 4194304)\n"
		"  -n, --check                validate the options and exit\n"
		"  -h, --help                 this text\n"
		"  -V, --version              the version\n\n"
		"Signals: USR1 leader, USR2 follower (both re-read RUN_DIR/epoch and leader), TERM/INT stop.\n"
		EXITCODE_HELP);
}

static int parse_opts(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "buffer", required_argument, NULL, 'b' },
		{ "check", no_argument, NULL, 'n' },
		{ "fallback-after", required_argument, NULL, 'f' },
		{ "group-prefix", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ "kafka", required_argument, NULL, 'k' },
		{ "max-line", required_argument, NULL, 'l' },
		{ "node-id", required_argument, NULL, 'i' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "topic", required_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static char host[256];
	long long v;
	int c;
	struct opts *o = &D.o;
	o->run_dir = getenv("RUN_DIR");
	o->node_id = getenv("NODE_ID");
	o->max_line = 4 << 20;
	o->out_buffer = 4 << 20;
	o->topic = "exchange.normalized";
	o->group_prefix = "exchange-relay";
	o->fallback_after_s = 3;
	while ((c = getopt_long(argc, argv, "b:f:g:hi:k:l:nr:t:VX:", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (opt_long(optarg, 65536, 1L << 30, &v))
				goto bad;
			o->out_buffer = (size_t)v;
			break;
		case 'f':
			if (opt_long(optarg, 1, 3600, &v))
				goto bad;
			o->fallback_after_s = (int)v;
			break;
		case 'g': o->group_prefix = optarg; break;
		case 'h': usage(stdout); exit(EXIT_OK);
		case 'i': o->node_id = optarg; break;
		case 'k': o->brokers = optarg; break;
		case 'l':
			if (opt_long(optarg, 1024, 1L << 30, &v))
				goto bad;
			o->max_line = (size_t)v;
			break;
		case 'n': o->check = 1; break;
		case 'r': o->run_dir = optarg; break;
		case 't': o->topic = optarg; break;
		case 'V': printf("distribute %s\n", DIST_VERSION); exit(EXIT_OK);
		case 'X': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || o->nxprops == MAX_XPROPS) {
				fprintf(stderr, "distribute: -X takes key=value\n");
				return -1;
			}
			*eq = 0;
			o->xprops[o->nxprops][0] = optarg;
			o->xprops[o->nxprops++][1] = eq + 1;
			break;
		}
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "distribute: unexpected argument %s\n", argv[optind]);
		return -1;
	}
	if (o->run_dir && !*o->run_dir)
		o->run_dir = NULL;
	if (o->brokers && !*o->brokers)
		o->brokers = NULL;
	if (!o->node_id || !*o->node_id) {
		if (gethostname(host, sizeof host))
			snprintf(host, sizeof host, "node");
		o->node_id = host;
	}
	return 0;
bad:
	fprintf(stderr, "distribute: bad value: %s\n", optarg);
	return -1;
}

static int setup_metrics(void)
{
	struct met_reg *r = D.reg = met_new();
	if (!r)
		return -1;
	D.m_in = met_add(r, MET_COUNTER, "exchange_distribute_lines_in_total", "Lines read from stdin.", NULL);
	D.m_out = met_add(r, MET_COUNTER, "exchange_distribute_lines_out_total", "Lines written for serve.", NULL);
	D.m_dropped = met_add(r, MET_COUNTER, "exchange_distribute_dropped_total",
			      "Lines dropped because the reader was slow.", NULL);
	D.m_too_long = met_add(r, MET_COUNTER, "exchange_distribute_too_long_total",
			       "Input lines skipped for their length.", NULL);
	D.m_kafka_mode = met_add(r, MET_GAUGE, "exchange_distribute_kafka_mode", "1 in Kafka mode, 0 in direct mode.", NULL);
	D.m_mode_switches = met_add(r, MET_COUNTER, "exchange_distribute_mode_switches_total",
				    "Switches between Kafka and direct mode.", NULL);
	D.m_leader = met_add(r, MET_GAUGE, "exchange_distribute_leader", "1 while distribute acts as leader.", NULL);
	D.m_produced = met_add(r, MET_COUNTER, "exchange_distribute_produced_total", "Records handed to the Kafka producer.", NULL);
	D.m_delivery_failed = met_add(r, MET_COUNTER, "exchange_distribute_delivery_failures_total",
				      "Records Kafka did not take (queue full or delivery failed).", NULL);
	D.m_consumed = met_add(r, MET_COUNTER, "exchange_distribute_consumed_total", "Records consumed from Kafka.", NULL);
	D.m_fenced = met_add(r, MET_COUNTER, "exchange_distribute_fenced_total",
			     "Consumed records dropped for an epoch older than the newest known.", NULL);
	D.m_lag = met_add(r, MET_GAUGE, "exchange_distribute_consumer_lag", "Records behind the end of the topic.", NULL);
	D.m_kafka_up = met_add(r, MET_GAUGE, "exchange_kafka_up", "1 while Kafka is usable.", NULL);
	/* So a dashboard can tell a node without Kafka from one whose Kafka is down. */
	struct met *configured = met_add(r, MET_GAUGE, "exchange_distribute_kafka_configured",
					 "1 when distribute was given Kafka brokers (--kafka).", NULL);
	if (configured)
		configured->v = D.o.brokers != NULL;
	D.m_assigned = met_add(r, MET_GAUGE, "exchange_distribute_partitions_assigned",
			       "Topic partitions assigned to this node's consumer.", NULL);
	D.m_ready = met_add(r, MET_GAUGE, "exchange_distribute_consumer_ready",
			    "1 once the consumer fetches the topic (records produced from then on arrive).", NULL);
	D.m_relay_connected = met_add(r, MET_GAUGE, "exchange_distribute_relay_connected",
				      "1 while a follower relays the leader's serve (direct mode).", NULL);
	D.m_relayed = met_add(r, MET_COUNTER, "exchange_distribute_relayed_total", "Messages relayed from the leader.", NULL);
	D.m_relay_stale = met_add(r, MET_COUNTER, "exchange_distribute_relay_stale_total",
				  "Relay connections closed because this node led, or the leader changed, before they opened or spoke.", NULL);
	D.m_duplicates = met_add(r, MET_COUNTER, "exchange_distribute_duplicates_dropped_total",
				 "Lines not newer than a mode switch, dropped so no client gets one twice.", NULL);
	D.m_discarded = met_add(r, MET_COUNTER, "exchange_distribute_discarded_total",
				"Lines on a follower's stdin (its ingest is idle), not passed on.", NULL);
	D.m_rss = met_add(r, MET_GAUGE, "exchange_process_resident_memory_bytes",
			  "Resident memory of each tool's process.", "tool=\"distribute\"");
	return D.m_in && D.m_out && D.m_dropped && D.m_too_long && D.m_kafka_mode && D.m_mode_switches &&
			       D.m_leader && D.m_produced && D.m_delivery_failed && D.m_consumed && D.m_fenced &&
			       D.m_lag && D.m_kafka_up && D.m_assigned && D.m_relay_connected && D.m_relayed && D.m_relay_stale &&
			       D.m_duplicates && D.m_discarded && D.m_ready && D.m_rss
		       ? 0
		       : -1;
}

int main(int argc, char **argv)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, 0 };
	static const struct lws_protocols protocols[] = {
		{ "raw", cb_raw, 0, 0, 0, NULL, 0 },
		{ "relay", cb_relay, 0, 65536, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	struct lws_context_creation_info info;
	char err[512];

	if (parse_opts(argc, argv))
		return EXIT_USAGE;
	log_init("distribute");
	if (D.o.check)
		return EXIT_OK;
	if (D.o.run_dir && rundir_ensure(D.o.run_dir, err, sizeof err)) {
		log_error("cannot use the run directory", " error=\"%s\"", err);
		return EXIT_USAGE;
	}
	D.sigfd = sig_init(signals, err, sizeof err);
	if (D.sigfd < 0 || setup_metrics() || ndj_init(&D.in, STDIN_FILENO, D.o.max_line) ||
	    oq_init(&D.out, STDOUT_FILENO, D.o.out_buffer)) {
		log_error("cannot start", " error=\"%s\"", D.sigfd < 0 ? err : "out of memory");
		return EXIT_RUNTIME;
	}
	fd_nonblock(STDIN_FILENO);
	fd_nonblock(STDOUT_FILENO);
	fd_grow_pipe(STDOUT_FILENO);
	/* The pid file first, then the role: elect either signals us or wrote the role already. */
	if (D.o.run_dir)
		rundir_write_pid(D.o.run_dir, "distribute", err, sizeof err);
	D.role = D.o.run_dir ? rundir_role(D.o.run_dir) : ROLE_LEADER;
	D.m_leader->v = D.role == ROLE_LEADER;
	read_epoch();
	D.mode = D.o.brokers ? MODE_KAFKA : MODE_DIRECT;
	D.m_kafka_mode->v = D.mode == MODE_KAFKA;
	if (D.o.brokers && kafka_start(err, sizeof err)) {
		log_error("cannot start the Kafka clients", " error=\"%s\"", err);
		return EXIT_USAGE;
	}

	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	D.ctx = lws_create_context(&info);
	if (!D.ctx) {
		log_error("cannot create the event loop", NULL);
		return EXIT_RUNTIME;
	}
	D.vh = lws_get_vhost_by_name(D.ctx, "default");
	D.out_wsi = loop_adopt_output(D.vh, STDOUT_FILENO, "raw", &kinds[RAW_OUT]);
	if (!D.vh || !D.out_wsi || !loop_adopt(D.vh, D.sigfd, "raw", &kinds[RAW_SIGNALS]) ||
	    !loop_adopt(D.vh, STDIN_FILENO, "raw", &kinds[RAW_IN]) || (D.o.brokers && !loop_adopt(D.vh, kafka_fd(), "raw", &kinds[RAW_KAFKA]))) {
		log_error("cannot watch stdin, stdout, Kafka and signals", NULL);
		lws_context_destroy(D.ctx);
		return EXIT_RUNTIME;
	}
	log_info("started", " mode=%s role=%s epoch=%lld", D.mode == MODE_KAFKA ? "kafka" : "direct",
		 role_name(D.role), (long long)D.epoch);
	D.unhealthy_since = clk_mono_us();
	if (D.role == ROLE_FOLLOWER && D.mode == MODE_DIRECT)
		relay_start();
	lws_sul_schedule(D.ctx, 0, &D.sul_tick, tick_cb, TICK_US);

	while (D.stopping < 2) {
		if (lws_service(D.ctx, 0) < 0)
			break;
		out_flush_now();
	}

	if (D.o.brokers)
		kafka_stop();
	oq_drain(&D.out, 500);
	write_metrics();
	relay_stop();
	lws_sul_cancel(&D.sul_tick);
	lws_sul_cancel(&D.sul_relay);
	lws_context_destroy(D.ctx);
	if (D.o.run_dir)
		rundir_remove_pid(D.o.run_dir, "distribute");
	forget_recent(INT64_MAX);
	free(D.relay_rx);
	ndj_free(&D.in);
	oq_free(&D.out);
	met_free(D.reg);
	log_info("stopped", NULL);
	return D.exit_code;
}
