/* distribute: carries normalized lines from the pipeline to serve. Direct mode copies
 * stdin to stdout without ever blocking on either side. */
#include "clock.h"
#include "exitcode.h"
#include "log.h"
#include "met.h"
#include "ndj.h"
#include "oq.h"
#include "rundir.h"
#include "sig.h"

#include <errno.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VERSION "0.1.0"
#define TICK_US (250 * LWS_US_PER_MS)

struct opts {
	const char *run_dir;
	size_t max_line, out_buffer;
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
	int stopping;
	int exit_code;
	lws_sorted_usec_list_t sul_tick;
	int64_t last_metrics;
	struct log_limit rl_drop;
	struct met_reg *reg;
	struct met *m_in, *m_out, *m_dropped, *m_too_long, *m_kafka_mode, *m_leader, *m_rss;
};

static struct dist D;

static int kinds[4];
enum { RAW_IN = 1, RAW_OUT = 2, RAW_SIGNALS = 3 };

static void out_kick(void)
{
	if (D.out.len && D.out_wsi && !D.out_waiting) {
		D.out_waiting = 1;
		lws_callback_on_writable(D.out_wsi);
	}
}

/* One line for serve. When serve is slow the line is dropped and counted: upstream must
 * never wait for the slowest reader. */
static void emit(const char *line, size_t len)
{
	char nl = '\n';
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
}

/* Passes on every complete line buffered (and the last one, at end of input). */
static void drain_lines(void)
{
	const char *line;
	size_t len;
	for (;;) {
		enum ndj_status st = ndj_next(&D.in, &line, &len);
		if (st == NDJ_LINE) {
			D.m_in->v++;
			emit(line, len);
		} else if (st == NDJ_TOOLONG) {
			D.m_too_long->v++;
			log_warn("input line too long, skipped", NULL);
		} else {
			break;
		}
	}
	out_kick();
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

static void set_role(enum role r)
{
	if (D.role == r) {
		log_info("role unchanged", " role=%s", role_name(r));
		return;
	}
	D.role = r;
	D.m_leader->v = r == ROLE_LEADER;
	log_info("role", " role=%s", role_name(r));
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
			int r = oq_flush(&D.out);
			if (r < 0) {
				log_info("reader closed the output", " error=\"%s\"", strerror(errno));
				D.exit_code = errno == EPIPE ? EXIT_OK : EXIT_RUNTIME;
				D.out.len = 0;
				D.stopping = 1;
			} else if (r > 0) {
				D.out_waiting = 1;
				lws_callback_on_writable(wsi);
			}
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

static struct lws *adopt(int fd, void *opaque)
{
	lws_adopt_desc_t ad;
	memset(&ad, 0, sizeof ad);
	ad.vh = D.vh;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = fd;
	ad.vh_prot_name = "raw";
	ad.opaque = opaque;
	return lws_adopt_descriptor_vhost_via_info(&ad);
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
		"Direct mode: copies lines from stdin to stdout; when the reader is slow, lines are\n"
		"dropped and counted, never queued without bound.\n\n"
		"  -r, --run-dir DIR     role and metrics live in DIR (default: $RUN_DIR)\n"
		"  -l, --max-line BYTES  longest line accepted (default 4194304)\n"
		"  -b, --buffer BYTES    output buffer (default 4194304)\n"
		"  -n, --check           validate the options and exit\n"
		"  -h, --help            this text\n"
		"  -V, --version         the version\n\n"
		"Signals: USR1 leader, USR2 follower, TERM/INT stop.\n" EXITCODE_HELP);
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_opts(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "buffer", required_argument, NULL, 'b' },
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "max-line", required_argument, NULL, 'l' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	long v;
	int c;
	D.o.run_dir = getenv("RUN_DIR");
	D.o.max_line = 4 << 20;
	D.o.out_buffer = 4 << 20;
	while ((c = getopt_long(argc, argv, "b:hl:nr:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (parse_long(optarg, 65536, 1L << 30, &v))
				goto bad;
			D.o.out_buffer = (size_t)v;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case 'l':
			if (parse_long(optarg, 1024, 1L << 30, &v))
				goto bad;
			D.o.max_line = (size_t)v;
			break;
		case 'n':
			D.o.check = 1;
			break;
		case 'r':
			D.o.run_dir = optarg;
			break;
		case 'V':
			printf("distribute %s\n", VERSION);
			exit(EXIT_OK);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "distribute: unexpected argument %s\n", argv[optind]);
		return -1;
	}
	if (D.o.run_dir && !*D.o.run_dir)
		D.o.run_dir = NULL;
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
	D.m_kafka_mode = met_add(r, MET_GAUGE, "exchange_distribute_kafka_mode",
				 "1 in Kafka mode, 0 in direct mode.", NULL);
	D.m_leader = met_add(r, MET_GAUGE, "exchange_distribute_leader", "1 while distribute acts as leader.", NULL);
	D.m_rss = met_add(r, MET_GAUGE, "exchange_process_resident_memory_bytes",
			  "Resident memory of each tool's process.", "tool=\"distribute\"");
	return D.m_in && D.m_out && D.m_dropped && D.m_too_long && D.m_kafka_mode && D.m_leader && D.m_rss ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, 0 };
	static const struct lws_protocols protocols[] = {
		{ "raw", cb_raw, 0, 0, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	struct lws_context_creation_info info;
	char err[256];

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

	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	D.ctx = lws_create_context(&info);
	if (!D.ctx) {
		log_error("cannot create the event loop", NULL);
		return EXIT_RUNTIME;
	}
	D.vh = lws_get_vhost_by_name(D.ctx, "default");
	D.out_wsi = adopt(STDOUT_FILENO, &kinds[RAW_OUT]);
	if (!D.vh || !D.out_wsi || !adopt(D.sigfd, &kinds[RAW_SIGNALS]) || !adopt(STDIN_FILENO, &kinds[RAW_IN])) {
		log_error("cannot watch stdin, stdout and signals", NULL);
		lws_context_destroy(D.ctx);
		return EXIT_RUNTIME;
	}
	if (D.o.run_dir)
		rundir_write_pid(D.o.run_dir, "distribute", err, sizeof err);
	D.role = D.o.run_dir ? rundir_role(D.o.run_dir) : ROLE_LEADER;
	D.m_leader->v = D.role == ROLE_LEADER;
	log_info("started", " mode=direct role=%s", role_name(D.role));
	lws_sul_schedule(D.ctx, 0, &D.sul_tick, tick_cb, TICK_US);

	while (D.stopping < 2)
		if (lws_service(D.ctx, 0) < 0)
			break;

	oq_drain(&D.out, 2000);
	write_metrics();
	lws_sul_cancel(&D.sul_tick);
	lws_context_destroy(D.ctx);
	if (D.o.run_dir)
		rundir_remove_pid(D.o.run_dir, "distribute");
	ndj_free(&D.in);
	oq_free(&D.out);
	met_free(D.reg);
	log_info("stopped", NULL);
	return D.exit_code;
}
