/* convert: envelope lines from ingest -> normalized lines (design.md), stdin to stdout. */
#include "clock.h"
#include "exchanges/norm.h"
#include "exchanges/xch.h"
#include "exitcode.h"
#include "json.h"
#include "jw.h"
#include "log.h"
#include "met.h"
#include "metnames.h"
#include "ndj.h"
#include "oq.h"
#include "opt.h"
#include "rundir.h"
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VERSION "0.1.0"
/* Room for every exchange's metrics. */
#define MAX_EXCHANGES 32

struct opts {
	int book_depth;
	long book_interval_ms;
	const char *run_dir;
	size_t max_line;
	size_t out_buffer;
	int drop;
	int check;
};

struct convert {
	struct opts o;
	struct ndj in;
	struct oq out;
	struct jw w;
	struct js_doc doc;
	struct norm norm;
	struct met_reg *reg;
	struct met *m_lines, *m_bytes, *m_dropped, *m_errors[NR_COUNT], *m_rss;
	struct met *m_type[6];
	struct met *m_resync[MAX_EXCHANGES], *m_checksum[MAX_EXCHANGES], *m_latency[MAX_EXCHANGES];
	struct log_limit rl_bad, rl_resync, rl_skipped;
	int64_t last_metrics;
};

static const char *const type_names[6] = { "trade", "ticker", "book", "status", "derivative",
					   "liquidation" };

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: convert [OPTIONS] < envelope.ndjson > normalized.ndjson\n"
		"Turns ingest's envelope lines into the relay's normalized lines.\n\n"
		"  -d, --book-depth N       levels per side in book lines (default 20)\n"
		"  -i, --book-interval MS   at most one book line per symbol per MS (default 0: all)\n"
		"  -r, --run-dir DIR        write DIR/convert.prom and send resyncs to DIR/ingest.sock\n"
		"                           (default: $RUN_DIR; none when unset)\n"
		"  -l, --max-line BYTES     longest input line accepted (default 41943040)\n"
		"  -b, --buffer BYTES       output buffer (default 4194304)\n"
		"      --drop               when the reader is slow, drop output lines (counted)\n"
		"                           instead of pausing input (the default)\n"
		"  -n, --check              validate the options and exit\n"
		"  -h, --help               this text\n"
		"  -V, --version            the version\n\n"
		"Lines that cannot be converted are skipped, counted by reason and logged.\n" EXITCODE_HELP);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "book-depth", required_argument, NULL, 'd' },
		{ "book-interval", required_argument, NULL, 'i' },
		{ "buffer", required_argument, NULL, 'b' },
		{ "check", no_argument, NULL, 'n' },
		{ "drop", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "max-line", required_argument, NULL, 'l' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char err[128], name[32];
	long long v;
	int c;
	o->book_depth = 20;
	o->run_dir = getenv("RUN_DIR");
	o->max_line = 40 << 20; /* Coinbase's full-book snapshots run to tens of MB */
	o->out_buffer = 4 << 20;
	while ((c = getopt_long(argc, argv, "b:d:hi:l:nr:V", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (opt_long(optarg, 65536, 1L << 30, &v, err, sizeof err))
				goto bad;
			o->out_buffer = (size_t)v;
			break;
		case 'd':
			if (opt_long(optarg, 1, 1000, &v, err, sizeof err))
				goto bad;
			o->book_depth = (int)v;
			break;
		case 'D':
			o->drop = 1;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case 'i':
			if (opt_long(optarg, 0, 3600000, &v, err, sizeof err))
				goto bad;
			o->book_interval_ms = v;
			break;
		case 'l':
			if (opt_long(optarg, 1024, 1L << 30, &v, err, sizeof err))
				goto bad;
			o->max_line = (size_t)v;
			break;
		case 'n':
			o->check = 1;
			break;
		case 'r':
			o->run_dir = optarg;
			break;
		case 'V':
			printf("convert %s\n", VERSION);
			exit(EXIT_OK);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "convert: unexpected argument %s\n", argv[optind]);
		return -1;
	}
	if (o->run_dir && !*o->run_dir)
		o->run_dir = NULL;
	return 0;
bad:
	fprintf(stderr, "convert: %s: %s\n", opt_name(longopts, c, name, sizeof name), err);
	return -1;
}

static int exchange_index(const struct xch *x)
{
	for (int i = 0; xch_all[i]; i++)
		if (xch_all[i] == x)
			return i;
	return 0;
}

/* Asks ingest to resubscribe, through the control socket. Best effort: offline there is
 * no ingest, and the resync status line already tells downstream what happened. */
static void request_resync(void *ctx, const struct xch *x, const char *symbol, const char *why)
{
	struct convert *cv = ctx;
	char path[4096], line[256];
	int i = exchange_index(x);
	if (cv->m_resync[i])
		cv->m_resync[i]->v++;
	if (!cv->o.run_dir || rundir_path(cv->o.run_dir, "ingest.sock", path, sizeof path))
		return;
	int fd = rundir_connect_unix(path);
	if (fd < 0) {
		if (log_allow(&cv->rl_resync, clk_mono_us()) >= 0)
			log_warn("cannot ask ingest for a resync", " exchange=%s symbol=%s error=\"%s\"",
				 x->name, symbol ? symbol : "-", strerror(errno));
		return;
	}
	int n = snprintf(line, sizeof line, "resync %s %s\n", x->name, symbol ? symbol : "*");
	if (write(fd, line, (size_t)n) != n)
		log_warn("resync request failed", " exchange=%s error=\"%s\"", x->name, strerror(errno));
	close(fd);
	log_info("resync requested", " exchange=%s symbol=%s reason=\"%s\"", x->name,
		 symbol ? symbol : "-", why);
}

static void setup_metrics(struct convert *cv)
{
	char lab[128];
	cv->reg = met_new();
	if (!cv->reg)
		return;
	cv->m_lines = met_add(cv->reg, MET_COUNTER, MN_CONVERT_LINES,
			      "Envelope lines read by convert.", NULL);
	cv->m_bytes = met_add(cv->reg, MET_COUNTER, "exchange_convert_bytes_total",
			      "Bytes read by convert.", NULL);
	for (int t = 0; t < 6; t++) {
		snprintf(lab, sizeof lab, "type=\"%s\"", type_names[t]);
		cv->m_type[t] = met_add(cv->reg, MET_COUNTER, "exchange_convert_messages_total",
					"Normalized lines written, by type.", lab);
	}
	for (int r = 0; r < NR_COUNT; r++) {
		snprintf(lab, sizeof lab, "reason=\"%s\"", norm_reason_name((enum norm_reason)r));
		cv->m_errors[r] = met_add(cv->reg, MET_COUNTER, "exchange_convert_errors_total",
					  "Input lines skipped, by reason; price and amount count single "
					  "trades and book levels left out of a line.", lab);
	}
	for (int i = 0; xch_all[i] && i < MAX_EXCHANGES; i++) {
		snprintf(lab, sizeof lab, "exchange=\"%s\"", xch_all[i]->name);
		cv->m_resync[i] = met_add(cv->reg, MET_COUNTER, "exchange_convert_book_resyncs_total",
					  "Order books dropped and rebuilt (gap, checksum, crossed).", lab);
		cv->m_checksum[i] = met_add(cv->reg, MET_COUNTER, "exchange_convert_checksum_failures_total",
					    "Order book checksums that did not match.", lab);
		cv->m_latency[i] = met_add_hist(cv->reg, MN_FEED_LATENCY,
						"Exchange event time to ingest receive time.", lab,
						met_latency_bounds, met_latency_nbounds);
	}
	cv->m_dropped = met_add(cv->reg, MET_COUNTER, "exchange_convert_dropped_total",
				"Output lines dropped because the reader was slow (--drop).", NULL);
	cv->m_rss = met_add(cv->reg, MET_GAUGE, MN_RSS,
			    "Resident memory of each tool's process.", "tool=\"convert\"");
}

static void write_metrics(struct convert *cv)
{
	char err[256];
	if (!cv->reg || !cv->o.run_dir)
		return;
	cv->m_bytes->v = (double)cv->in.bytes;
	cv->m_type[0]->v = (double)cv->norm.lines_trade;
	cv->m_type[1]->v = (double)cv->norm.lines_ticker;
	cv->m_type[2]->v = (double)cv->norm.lines_book;
	cv->m_type[3]->v = (double)cv->norm.lines_status;
	cv->m_type[4]->v = (double)cv->norm.lines_derivative;
	cv->m_type[5]->v = (double)cv->norm.lines_liquidation;
	cv->m_errors[NR_TOO_LONG]->v = (double)cv->in.too_long;
	cv->m_dropped->v = (double)cv->out.dropped;
	cv->m_rss->v = met_rss_bytes();
	if (met_write_file(cv->reg, cv->o.run_dir, "convert", err, sizeof err))
		log_warn("cannot write metrics", " error=\"%s\"", err);
}

static void bad_line(struct convert *cv, enum norm_reason r, const char *why, const char *line,
		     size_t len)
{
	char q[200];
	if (r != NR_TOO_LONG)
		cv->m_errors[r]->v++;
	long suppressed = log_allow(&cv->rl_bad, clk_mono_us());
	if (suppressed < 0)
		return;
	log_warn("line skipped", " reason=%s detail=%s line=%s suppressed=%ld", norm_reason_name(r),
		 log_quote(q, 120, why, strlen(why)),
		 log_quote(q + 120, 80, line, len > 60 ? 60 : len), suppressed);
}

/* A trade or book level left out for its price or amount, the rest of its line kept; or a
 * line of a frame left out on its own (a liquidation of size zero, an amount in contracts of
 * unknown size, an instrument not subscribed). */
static void value_skipped(void *ctx, const struct xch *x, enum norm_reason r, const char *why)
{
	struct convert *cv = ctx;
	char q[120];
	cv->m_errors[r]->v++;
	long suppressed = log_allow(&cv->rl_skipped, clk_mono_us());
	if (suppressed < 0)
		return;
	int level = (r == NR_PRICE || r == NR_AMOUNT) && (!strncmp(why, "trade", 5) || !strncmp(why, "book", 4));
	log_warn(level ? "trade or book level skipped" : "line left out",
		 " exchange=%s reason=%s detail=%s suppressed=%ld", x->name, norm_reason_name(r),
		 log_quote(q, sizeof q, why, strlen(why)), suppressed);
}

static int known_event(const struct js_doc *d, int t)
{
	static const char *const events[] = { "connected", "disconnected", "error", "subscribed",
					      "resync", "mode", "role" };
	for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
		if (js_streqn(d, t, events[i], strlen(events[i])))
			return 1;
	return 0;
}

static void checksum_failed(void *ctx, const struct xch *x)
{
	struct convert *cv = ctx;
	struct met *m = cv->m_checksum[exchange_index(x)];
	if (m)
		m->v++;
}

static void feed_latency(void *ctx, const struct xch *x, int64_t us)
{
	struct convert *cv = ctx;
	struct met *m = cv->m_latency[exchange_index(x)];
	if (m)
		met_observe(m, (double)us / 1e6);
}

/* One envelope line -> zero or more normalized lines appended to cv->w. */
static void convert_line(struct convert *cv, const char *line, size_t len)
{
	struct js_doc *d = &cv->doc;
	struct norm *n = &cv->norm;
	enum js_err e;

	cv->m_lines->v++;
	if ((e = js_parse(d, line, len)) != JS_OK) {
		bad_line(cv, e == JS_EUTF8 ? NR_UTF8 : NR_JSON, js_strerror(e), line, len);
		return;
	}
	int exch = js_get(d, 0, "exchange"), ts = js_get(d, 0, "local_ts");
	int data = js_get(d, 0, "data"), event = js_get(d, 0, "event");
	int64_t local_ts;
	if (js_type(d, exch) != JS_STRING || js_type(d, ts) != JS_NUMBER || js_int64(d, ts, &local_ts) ||
	    local_ts < 0 || (data < 0 && js_type(d, event) != JS_STRING)) {
		bad_line(cv, NR_ENVELOPE, "not an envelope line", line, len);
		return;
	}
	const struct xch *x = xch_find(js_ptr(d, exch), js_len(d, exch));
	if (!x) {
		bad_line(cv, NR_EXCHANGE, "unknown exchange", line, len);
		return;
	}
	n->x = x;
	n->local_ts = local_ts;
	norm_frame_begin(n);
	if (data < 0) {
		if (!known_event(d, event)) {
			bad_line(cv, NR_ENVELOPE, "unknown event", line, len);
			return;
		}
		/* Event lines name the event in the envelope: copy it through as written. */
		norm_head(n, "status", NULL, -1);
		jw_key(n->w, "event");
		jw_json_str(n->w, js_ptr(d, event), js_len(d, event));
		int detail = js_get(d, 0, "detail");
		if (js_type(d, detail) == JS_STRING) {
			jw_key(n->w, "detail");
			jw_json_str(n->w, js_ptr(d, detail), js_len(d, detail));
		}
		norm_end(n);
		n->lines_status++;
		return;
	}
	if (x->normalize(n, d, data)) {
		norm_frame_rollback(n);
		bad_line(cv, n->reason, n->why, line, len);
		return;
	}
	if (cv->w.err) {
		norm_frame_rollback(n);
		bad_line(cv, NR_SHAPE, "output line too long", line, len);
		return;
	}
}

int main(int argc, char **argv)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, 0 };
	struct convert cv;
	char err[256];
	memset(&cv, 0, sizeof cv);

	if (parse_opts(argc, argv, &cv.o))
		return EXIT_USAGE;
	log_init("convert");
	if (cv.o.check)
		return EXIT_OK;

	int sigfd = sig_init(signals, err, sizeof err);
	if (sigfd < 0) {
		log_error("cannot set up signals", " error=\"%s\"", err);
		return EXIT_RUNTIME;
	}
	if (cv.o.run_dir && rundir_ensure(cv.o.run_dir, err, sizeof err)) {
		log_error("cannot use the run directory", " error=\"%s\"", err);
		return EXIT_USAGE;
	}
	if (ndj_init(&cv.in, STDIN_FILENO, cv.o.max_line) || oq_init(&cv.out, STDOUT_FILENO, cv.o.out_buffer)) {
		log_error("out of memory", NULL);
		return EXIT_RUNTIME;
	}
	fd_nonblock(STDIN_FILENO);
	fd_nonblock(STDOUT_FILENO);
	fd_grow_pipe(STDOUT_FILENO);
	jw_init(&cv.w, cv.o.max_line * 4 + (1 << 20));
	js_init(&cv.doc, 0);
	norm_init(&cv.norm, &cv.w);
	cv.norm.book_depth = cv.o.book_depth;
	cv.norm.book_interval_us = cv.o.book_interval_ms * 1000;
	cv.norm.resync = request_resync;
	cv.norm.latency = feed_latency;
	cv.norm.checksum = checksum_failed;
	cv.norm.skipped = value_skipped;
	cv.norm.ctx = &cv;
	setup_metrics(&cv);
	if (cv.o.run_dir)
		rundir_write_pid(cv.o.run_dir, "convert", err, sizeof err);

	int rc = EXIT_OK, done = 0;
	while (!done) {
		/* Convert everything buffered; stop early when the output has no room left. */
		const char *line;
		size_t len;
		enum ndj_status st = NDJ_AGAIN;
		while (cv.w.len < cv.o.out_buffer / 2) {
			st = ndj_next(&cv.in, &line, &len);
			if (st == NDJ_LINE)
				convert_line(&cv, line, len);
			else if (st == NDJ_TOOLONG)
				bad_line(&cv, NR_TOO_LONG, "line longer than --max-line", "", 0);
			else
				break;
		}
		if (st == NDJ_EOF) {
			norm_flush(&cv.norm, 0, 1);
			done = 1;
		}
		/* Hand the converted text to the output queue. */
		if (cv.w.len) {
			if (oq_push(&cv.out, cv.w.buf, cv.w.len) == 0) {
				cv.w.len = 0;
			} else if (cv.o.drop || cv.w.len > cv.out.cap) {
				/* The queue counted one refusal; count the lines instead. */
				cv.out.dropped--;
				for (size_t i = 0; i < cv.w.len; i++)
					cv.out.dropped += cv.w.buf[i] == '\n';
				cv.w.len = 0;
			}
		}
		int pending = oq_flush(&cv.out);
		if (pending < 0) {
			if (errno == EPIPE)
				log_info("reader closed the output", NULL);
			else
				log_error("cannot write", " error=\"%s\"", strerror(errno));
			rc = errno == EPIPE ? EXIT_OK : EXIT_RUNTIME;
			break;
		}
		if (done) {
			/* End of input: what was converted reaches the reader, unless --drop says a
			 * stalled reader must not hold us (then two seconds at most). */
			int wait = cv.o.drop ? 2000 : -1;
			if (cv.w.len && oq_push(&cv.out, cv.w.buf, cv.w.len)) {
				/* The queue is full: let the reader take it, then queue the rest. */
				if (oq_drain(&cv.out, wait) == 0 && cv.w.len <= cv.out.cap) {
					cv.out.dropped--; /* the refusal above was only a wait */
					oq_push(&cv.out, cv.w.buf, cv.w.len);
				} else
					log_warn("output lost at exit", " bytes=%zu", cv.w.len);
			}
			if (oq_drain(&cv.out, wait) < 0 && errno != EPIPE)
				rc = EXIT_RUNTIME;
			break;
		}

		struct pollfd pfd[3];
		int np = 0, want_input = cv.w.len == 0;
		pfd[np++] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
		int in_i = -1;
		if (want_input && st == NDJ_AGAIN) {
			in_i = np;
			pfd[np++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		}
		if (pending) {
			pfd[np++] = (struct pollfd){ .fd = STDOUT_FILENO, .events = POLLOUT };
		}
		int timeout = 1000;
		if (cv.norm.npending)
			timeout = (int)(cv.o.book_interval_ms ? cv.o.book_interval_ms : 1000);
		if (want_input && st != NDJ_AGAIN)
			timeout = 0;
		int pr = poll(pfd, (nfds_t)np, timeout);
		if (pr < 0 && errno != EINTR) {
			log_error("poll failed", " error=\"%s\"", strerror(errno));
			rc = EXIT_RUNTIME;
			break;
		}
		int sig;
		while ((sig = sig_next(sigfd))) {
			if (sig == SIGTERM || sig == SIGINT) {
				log_info("stopping", " signal=%d", sig);
				done = 1;
			} else {
				log_debug("signal ignored", " signal=%d", sig);
			}
		}
		if (done) {
			norm_flush(&cv.norm, 0, 1);
			if (cv.w.len)
				oq_push(&cv.out, cv.w.buf, cv.w.len);
			oq_drain(&cv.out, 2000);
			break;
		}
		if (in_i >= 0 && (pfd[in_i].revents & (POLLIN | POLLHUP | POLLERR))) {
			long r = ndj_fill(&cv.in);
			if (r < 0 && errno != EAGAIN) {
				log_error("cannot read", " error=\"%s\"", strerror(errno));
				rc = EXIT_RUNTIME;
				break;
			}
		}
		int64_t now = clk_now_us();
		if (cv.norm.npending)
			norm_flush(&cv.norm, now, 0);
		if (now - cv.last_metrics >= 1000000) {
			cv.last_metrics = now;
			write_metrics(&cv);
		}
	}
	write_metrics(&cv);
	if (cv.o.run_dir)
		rundir_remove_pid(cv.o.run_dir, "convert");
	norm_free(&cv.norm);
	js_free(&cv.doc);
	jw_free(&cv.w);
	ndj_free(&cv.in);
	oq_free(&cv.out);
	met_free(cv.reg);
	return rc;
}
