/* ingest: connects to exchanges' WebSocket feeds and writes envelope lines on stdout.
 *
 * Its rooms: conn.c is one exchange connection (its state machine, what it receives and
 * sends, the instrument metadata it fetches), rest.c the REST client (order book snapshots,
 * metadata), ctl.c the control socket, out.c the bounded output queue; this file holds the
 * options, the connections (one per exchange, or per channel group where an exchange routes
 * groups apart), the metrics, roles and signals, and the loop. */
#include "conn.h"
#include "ctl.h"
#include "out.h"
#include "rest.h"

#include "clock.h"
#include "exchanges/xch.h"
#include "exitcode.h"
#include "log.h"
#include "loop.h"
#include "met.h"
#include "metnames.h"
#include "opt.h"
#include "rundir.h"
#include "sig.h"

#include <errno.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VERSION "0.1.0"
#define MAX_EXCHANGES 16
/* Connections: one per exchange, or one per channel group where the exchange routes groups
 * apart (xch_proto.split). */
#define MAX_CONNS (MAX_EXCHANGES * XCH_MAX_GROUPS)
#define TICK_US (250 * LWS_US_PER_MS)
#define METRICS_EVERY_US LWS_US_PER_SEC
/* lws's own handshake timeouts are only a backstop behind ours, which can say why. */
#define LWS_TIMEOUT_SECS 20
/* How long connections get to close on a stop, and the reader to take what is queued. */
#define STOP_GRACE_US (2 * LWS_US_PER_SEC)
#define DRAIN_MS 500
/* Room in an envelope line beyond the frame it carries. */
#define ENV_HEAD_ROOM 4096

struct opts {
	const char *run_dir;
	const char *ca;
	int channels;
	size_t max_frame;
	size_t out_buffer;
	int idle_timeout_ms;
	int keepalive_ms;
	int meta_every_s;
	int connect_timeout_ms;
	int rest_timeout_ms;
	int check;
};

struct ingest {
	struct opts o;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct conn conns[MAX_CONNS];
	int nconns;
	enum role role;
	int stopping;            /* 1: connections told to stop; 2: the loop ends */
	int64_t stop_deadline;
	int sigfd;
	lws_sorted_usec_list_t sul_tick;
	int64_t last_metrics;
	struct met_reg *reg;
	struct met *m_rss, *m_active;
	int exit_code;
};

static struct ingest g; /* the one process-wide state, reached from lws callbacks */

/* ---- roles and signals ---- */

/* The leader ingests, and so does a standby (to publish what the leader never got out if it
 * is promoted); a plain follower keeps no exchange connection. */
static int role_ingests(enum role r)
{
	return r != ROLE_FOLLOWER;
}

static void set_role(enum role r)
{
	if (g.role == r) {
		log_info("role unchanged", " role=%s", role_name(r));
		return;
	}
	int was = role_ingests(g.role);
	g.role = r;
	g.m_active->v = role_ingests(r);
	log_info("role", " role=%s", role_name(r));
	if (role_ingests(r) != was)
		for (int i = 0; i < g.nconns; i++)
			conn_event(&g.conns[i], role_ingests(r) ? CONN_EV_START : CONN_EV_STOP);
}

static void begin_stop(void)
{
	if (g.stopping)
		return;
	g.stopping = 1;
	g.stop_deadline = clk_mono_us() + STOP_GRACE_US;
	for (int i = 0; i < g.nconns; i++)
		conn_event(&g.conns[i], CONN_EV_STOP);
}

static void on_signal(int sig)
{
	switch (sig) {
	case SIGUSR1:
		if (!g.stopping)
			set_role(ROLE_LEADER);
		break;
	case SIGUSR2: /* a follower; RUN_DIR/role says whether a standby */
		if (!g.stopping)
			set_role(g.o.run_dir && rundir_role(g.o.run_dir) == ROLE_STANDBY ? ROLE_STANDBY : ROLE_FOLLOWER);
		break;
	case SIGHUP:
		log_info("reconnecting every exchange", " signal=HUP");
		if (role_ingests(g.role) && !g.stopping)
			for (int i = 0; i < g.nconns; i++)
				conn_event(&g.conns[i], CONN_EV_RECONNECT);
		break;
	case SIGTERM:
	case SIGINT:
		log_info("stopping", " signal=%d", sig);
		begin_stop();
		break;
	}
}

static int cb_signals(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	if (reason == LWS_CALLBACK_RAW_RX_FILE) {
		int sig;
		while ((sig = sig_next(g.sigfd)))
			on_signal(sig);
	}
	return 0;
}

/* ---- metrics ---- */

static int setup_metrics(void)
{
	g.reg = met_new();
	if (!g.reg)
		return -1;
	for (int i = 0; i < g.nconns; i++)
		if (conn_add_metrics(&g.conns[i], g.reg))
			return -1;
	g.m_active = met_add(g.reg, MET_GAUGE, "exchange_ingest_active",
			     "1 while ingest holds the leader role and connects to exchanges.", NULL);
	g.m_rss = met_add(g.reg, MET_GAUGE, MN_RSS,
			  "Resident memory of each tool's process.", "tool=\"ingest\"");
	return g.m_active && g.m_rss ? 0 : -1;
}

/* An exchange's connection gauges, over its connections (one, or one per channel group
 * it routes apart): connected while every one is open, and the age of the stalest frame. */
static void exchange_gauges(int64_t now)
{
	for (int i = 0; i < g.nconns; i++) {
		struct conn *c = &g.conns[i];
		int first = 1, open = 1;
		double age = -1;
		for (int j = 0; j < g.nconns; j++) {
			const struct conn *o = &g.conns[j];
			if (o->x != c->x)
				continue;
			first &= j >= i;
			open &= o->state == CONN_OPEN;
			if (o->last_rx && (double)(now - o->last_rx) / 1e6 > age)
				age = (double)(now - o->last_rx) / 1e6;
		}
		if (first) {
			c->m_connected->v = open;
			c->m_age->v = age;
		}
	}
}

static void write_metrics(void)
{
	char err[256];
	exchange_gauges(clk_mono_us());
	g.m_rss->v = met_rss_bytes();
	if (g.o.run_dir && met_write_file(g.reg, g.o.run_dir, "ingest", err, sizeof err))
		log_warn("cannot write metrics", " error=\"%s\"", err);
}

/* ---- the periodic tick: timeouts, what fell due, metrics, the end of a stop ---- */

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	int64_t now = clk_mono_us();
	int active = 0;
	for (int i = 0; i < g.nconns; i++) {
		conn_tick(&g.conns[i], now);
		active += g.conns[i].state != CONN_IDLE;
	}
	rest_tick(now);
	if (now - g.last_metrics >= METRICS_EVERY_US) {
		g.last_metrics = now;
		write_metrics();
	}
	if (g.stopping && ((!active && !out_pending()) || now > g.stop_deadline)) {
		lws_cancel_service(g.ctx);
		g.stopping = 2;
		return;
	}
	lws_sul_schedule(g.ctx, 0, &g.sul_tick, tick_cb, TICK_US);
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ingest -x EXCHANGE[:SYMBOL,...] [-x ...] [OPTIONS] > envelope.ndjson\n"
		"Connects to exchanges' public WebSocket feeds and writes one envelope line per frame.\n\n"
		"  -x, --exchange EX[:SYMS]  an exchange and its symbols (default symbols when none\n"
		"                            are given): spot BASE-QUOTE, perpetuals BASE-QUOTE-PERP,\n"
		"                            dated futures BASE-QUOTE-YYYYMMDD; repeat for more\n"
		"  -c, --channels LIST       trade,ticker,book,derivative,liquidation (default all;\n"
		"                            spot exchanges have no derivative or liquidation);\n"
		"                            book:full keeps the whole book from deltas and a REST\n"
		"                            snapshot (Binance, Binance USD-M futures)\n"
		"  -u, --url EX=URL          connect EX to URL instead of its public endpoint\n"
		"      --ca FILE             trust the CA certificates in FILE for wss://\n"
		"  -r, --run-dir DIR         role, pid, metrics and ingest.sock live in DIR\n"
		"                            (default: $RUN_DIR; none when unset: always leader)\n"
		"      --max-frame BYTES     a longer message closes its connection (default 1048576)\n"
		"  -b, --buffer BYTES        output buffer; full means lines are dropped (default 4194304)\n"
		"      --idle-timeout MS     reconnect after MS without a complete message, or when one\n"
		"                            takes longer (default per exchange)\n"
		"      --keepalive MS        send the exchange's keep-alive every MS (default per exchange)\n"
		"      --connect-timeout MS  a connection not open within MS is ended and tried again\n"
		"                            (default 15000)\n"
		"      --rest-timeout MS     a snapshot or metadata request not answered within MS\n"
		"                            fails (default 10000)\n"
		"      --meta-interval S     fetch instrument metadata (contract sizes, names) again\n"
		"                            every S seconds while connected (default 600); it is\n"
		"                            always fetched when a connection opens\n"
		"  -n, --check               validate the options and exit\n"
		"  -h, --help                this text\n"
		"  -V, --version             the version\n\n"
		"Exchanges:");
	for (const struct xch *const *x = xch_all; *x; x++)
		fprintf(f, " %s", (*x)->name);
	fprintf(f, "\nSignals: USR1 leader (connect), USR2 follower (disconnect), HUP reconnect,\n"
		   "TERM/INT stop. Control socket commands: status, resync EX SYMBOL, reconnect EX,\n"
		   "meta EX (fetch instrument metadata again now).\n"
		   EXITCODE_HELP);
}

static int add_symbols(struct conn *c, const char *list)
{
	char buf[8192];
	snprintf(buf, sizeof buf, "%s", list);
	for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
		if (c->sub.nsym == XCH_MAX_SYMBOLS) {
			fprintf(stderr, "ingest: --exchange: at most %d symbols per exchange\n", XCH_MAX_SYMBOLS);
			return -1;
		}
		if (sym_split_sep(tok, strlen(tok), '-', 0, c->sub.sym[c->sub.nsym]) < 0) {
			fprintf(stderr, "ingest: --exchange: \"%s\": symbols are BASE-QUOTE (BTC-USDT), "
				"BASE-QUOTE-PERP (BTC-USDT-PERP) or BASE-QUOTE-YYYYMMDD\n", tok);
			return -1;
		}
		c->sub.nsym++;
	}
	return 0;
}

/* -x EXCHANGE[:SYMBOLS]: one more connection. */
static int add_exchange(const char *arg)
{
	size_t n = strcspn(arg, ":");
	const struct xch *x = xch_find(arg, n);
	if (!x) {
		fprintf(stderr, "ingest: --exchange: unknown exchange \"%.*s\" (one of", (int)n, arg);
		for (const struct xch *const *e = xch_all; *e; e++)
			fprintf(stderr, " %s", (*e)->name);
		fprintf(stderr, ")\n");
		return -1;
	}
	for (int i = 0; i < g.nconns; i++)
		if (g.conns[i].x == x) {
			fprintf(stderr, "ingest: --exchange: %s is listed twice\n", x->name);
			return -1;
		}
	if (g.nconns == MAX_EXCHANGES) {
		fprintf(stderr, "ingest: --exchange: %d exchanges at most\n", MAX_EXCHANGES);
		return -1;
	}
	struct conn *cn = &g.conns[g.nconns++];
	conn_init(cn, x);
	return add_symbols(cn, arg[n] ? arg + n + 1 : x->default_symbols);
}

/* The name of exchange X is the part of --url's EX=URL before '='. */
static int url_names(const char *const u[2], const struct xch *x)
{
	return strlen(x->name) == (size_t)(u[1] - 1 - u[0]) && !strncmp(u[0], x->name, strlen(x->name));
}

/* Where its exchange routes channel groups apart (proto.split), connection AT becomes one
 * per group holding a chosen channel, each subscribing to that group's channels only; the
 * copies follow it in the table. Returns how many connections it became, or -1 when the
 * table is full. */
static int split_groups(int at)
{
	const struct xch_proto *p = &g.conns[at].x->proto;
	int groups[XCH_MAX_GROUPS], n = 0;
	for (int k = 0; k < XCH_MAX_GROUPS; k++)
		if (p->split[k] & g.conns[at].sub.channels)
			groups[n++] = p->split[k] & g.conns[at].sub.channels;
	if (n < 2) {
		if (n == 1)
			g.conns[at].sub.channels = groups[0];
		return 1;
	}
	if (g.nconns + n - 1 > MAX_CONNS) {
		fprintf(stderr, "ingest: --exchange: %d connections at most\n", MAX_CONNS);
		return -1;
	}
	memmove(&g.conns[at + n], &g.conns[at + 1], (size_t)(g.nconns - at - 1) * sizeof g.conns[0]);
	for (int k = 1; k < n; k++)
		g.conns[at + k] = g.conns[at];
	for (int k = 0; k < n; k++)
		g.conns[at + k].sub.channels = groups[k];
	g.nconns += n - 1;
	return n;
}

/* Each connection's URL, from its endpoint (--url, or the exchange's own) and what it
 * subscribes to; every --url must name an exchange given with -x. */
static int resolve_urls(const char *const urls[][2], int nurls)
{
	char err[256];
	for (int i = 0; i < g.nconns; i++)
		g.conns[i].sub.channels = g.o.channels;
	for (int i = 0, n; i < g.nconns; i += n)
		if ((n = split_groups(i)) < 0)
			return -1;
	for (int i = 0; i < g.nconns; i++) {
		struct conn *cn = &g.conns[i];
		const char *base = cn->x->default_url;
		for (int u = 0; u < nurls; u++)
			if (url_names(urls[u], cn->x))
				base = urls[u][1];
		snprintf(cn->base, sizeof cn->base, "%s", base);
		if (cn->x->proto.url(&cn->sub, base, cn->url, sizeof cn->url, err, sizeof err)) {
			fprintf(stderr, "ingest: %s: %s\n", cn->x->name, err);
			return -1;
		}
		if (strncmp(cn->url, "ws://", 5) && strncmp(cn->url, "wss://", 6)) {
			fprintf(stderr, "ingest: --url %s: the URL must start with ws:// or wss://\n", cn->x->name);
			return -1;
		}
	}
	for (int u = 0; u < nurls; u++) {
		int found = 0;
		for (int i = 0; i < g.nconns; i++)
			found |= url_names(urls[u], g.conns[i].x);
		if (!found) {
			fprintf(stderr, "ingest: --url %s names no exchange given with -x\n", urls[u][0]);
			return -1;
		}
	}
	return 0;
}

static int parse_opts(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "buffer", required_argument, NULL, 'b' },
		{ "ca", required_argument, NULL, 'A' },
		{ "channels", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "connect-timeout", required_argument, NULL, 'T' },
		{ "exchange", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "keepalive", required_argument, NULL, 'K' },
		{ "max-frame", required_argument, NULL, 'M' },
		{ "meta-interval", required_argument, NULL, 'E' },
		{ "rest-timeout", required_argument, NULL, 'R' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "url", required_argument, NULL, 'u' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *urls[MAX_EXCHANGES][2];
	char err[256], name[32];
	int nurls = 0, c;
	long long v;
	struct opts *o = &g.o;
	o->run_dir = getenv("RUN_DIR");
	o->channels = XCH_ALL_CHANNELS;
	o->max_frame = 1 << 20;
	o->out_buffer = 4 << 20;
	o->meta_every_s = 600;
	o->connect_timeout_ms = 15000;
	o->rest_timeout_ms = 10000;
	while ((c = getopt_long(argc, argv, "b:c:hnr:u:Vx:", longopts, NULL)) != -1) {
		switch (c) {
		case 'A':
			o->ca = optarg;
			break;
		case 'b':
			if (opt_long(optarg, 65536, 1L << 30, &v, err, sizeof err))
				goto bad;
			o->out_buffer = (size_t)v;
			break;
		case 'c':
			if ((o->channels = xch_parse_channels(optarg)) < 0) {
				fprintf(stderr, "ingest: --channels: \"%s\" is not a list of trade, ticker, book, "
					"book:full, derivative, liquidation\n", optarg);
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case 'I':
			if (opt_long(optarg, 100, 3600000, &v, err, sizeof err))
				goto bad;
			o->idle_timeout_ms = (int)v;
			break;
		case 'K':
			if (opt_long(optarg, 100, 3600000, &v, err, sizeof err))
				goto bad;
			o->keepalive_ms = (int)v;
			break;
		case 'M':
			if (opt_long(optarg, 1024, 64L << 20, &v, err, sizeof err))
				goto bad;
			o->max_frame = (size_t)v;
			break;
		case 'E':
			if (opt_long(optarg, 1, 86400, &v, err, sizeof err))
				goto bad;
			o->meta_every_s = (int)v;
			break;
		case 'T':
			if (opt_long(optarg, 1000, 600000, &v, err, sizeof err))
				goto bad;
			o->connect_timeout_ms = (int)v;
			break;
		case 'R':
			if (opt_long(optarg, 1000, 600000, &v, err, sizeof err))
				goto bad;
			o->rest_timeout_ms = (int)v;
			break;
		case 'n':
			o->check = 1;
			break;
		case 'r':
			o->run_dir = optarg;
			break;
		case 'u': {
			const char *eq = strchr(optarg, '=');
			if (!eq || nurls == MAX_EXCHANGES) {
				fprintf(stderr, "ingest: --url takes EXCHANGE=URL (%d at most)\n", MAX_EXCHANGES);
				return -1;
			}
			urls[nurls][0] = optarg;
			urls[nurls++][1] = eq + 1;
			break;
		}
		case 'V':
			printf("ingest %s\n", VERSION);
			exit(EXIT_OK);
		case 'x':
			if (add_exchange(optarg))
				return -1;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ingest: unexpected argument %s\n", argv[optind]);
		return -1;
	}
	if (!g.nconns) {
		fprintf(stderr, "ingest: name at least one exchange with -x (try --help)\n");
		return -1;
	}
	if (o->run_dir && !*o->run_dir)
		o->run_dir = NULL;
	return resolve_urls(urls, nurls);
	return 0;
bad:
	fprintf(stderr, "ingest: %s: %s\n", opt_name(longopts, c, name, sizeof name), err);
	return -1;
}

/* The --ca file must be one OpenSSL reads certificates from (PEM), as the TLS set-up will:
 * checked before anything starts, so that a wrong path is a configuration error, not a
 * connection that fails on every retry. */
static int check_ca(const char *path, char *err, size_t errlen)
{
	struct stat st;
	FILE *f = fopen(path, "r");
	if (!f || fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s", f ? "not a regular file" : strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	ERR_clear_error();
	STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read(f, NULL, NULL, NULL);
	int certs = 0;
	for (int i = 0; infos && i < sk_X509_INFO_num(infos); i++)
		certs += sk_X509_INFO_value(infos, i)->x509 != NULL;
	unsigned long e = ERR_peek_last_error();
	fclose(f);
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (!infos || !certs) {
		if (!infos && e)
			snprintf(err, errlen, "not a PEM certificate file (%s)", ERR_reason_error_string(e));
		else
			snprintf(err, errlen, "holds no PEM certificate");
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* The longest line: the longest message any connection takes, in its envelope. */
static size_t max_line(void)
{
	size_t biggest = g.o.max_frame;
	for (int i = 0; i < g.nconns; i++)
		if (conn_frame_limit(&g.conns[i]) > biggest)
			biggest = conn_frame_limit(&g.conns[i]);
	return biggest + ENV_HEAD_ROOM;
}

static const struct lws_extension extensions[] = {
	{ "permessage-deflate", lws_extension_callback_pm_deflate,
	  "permessage-deflate; client_max_window_bits" },
	{ NULL, NULL, NULL },
};

/* lws calls the vhost's first protocol, not a connection's own, for some of a connection's
 * events: its destruction (WSI_DESTROY) always, some failures to connect, the extensions it
 * may offer. This first protocol serves nothing and hands each on to the connection's own,
 * so that every room hears of its own connections only, and never reads another room's
 * user data as its own. */
static int cb_first(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	const struct lws_protocols *p = wsi ? lws_get_protocol(wsi) : NULL;
	if (p && p->callback && p->callback != cb_first)
		return p->callback(wsi, reason, user, in, len);
	return 0;
}

static struct lws_context *create_context(void)
{
	static const struct lws_protocols protocols[] = {
		{ "first", cb_first, 0, 0, 0, NULL, 0 },
		{ "exchange", conn_lws_callback, 0, 65536, 0, NULL, 0 },
		{ "rest", rest_lws_callback, 0, 16384, 0, NULL, 0 },
		{ "ctl", ctl_lws_callback, 0, 0, 0, NULL, 0 },
		{ "out", out_lws_callback, 0, 0, 0, NULL, 0 },
		{ "signals", cb_signals, 0, 0, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	struct lws_context_creation_info info;
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.extensions = extensions;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = g.o.ca;
	info.timeout_secs = LWS_TIMEOUT_SECS;
	info.connect_timeout_secs = LWS_TIMEOUT_SECS;
	return lws_create_context(&info);
}

/* The control socket and the pid file in the run directory. Returns an exit status, or -1
 * when both are in place. */
static int open_run_dir(void)
{
	char err[256];
	int r = ctl_open(g.vh, "ctl", g.o.run_dir, g.conns, g.nconns, &g.role, err, sizeof err);
	if (r) {
		/* Another ingest on this run directory: two would feed one node twice. */
		int taken = r == -2;
		char other[32] = "unknown";
		if (taken)
			rundir_read(g.o.run_dir, "ingest.pid", other, sizeof other);
		log_error(taken ? "another ingest runs on this run directory" : "cannot open the control socket",
			  " error=\"%s\" pid=%s", err, taken ? other : "-");
		return taken ? EXIT_USAGE : EXIT_RUNTIME;
	}
	rundir_write_pid(g.o.run_dir, "ingest", err, sizeof err);
	return -1;
}

static void run(void)
{
	while (g.stopping < 2) {
		if (lws_service(g.ctx, 0) < 0)
			break;
		int e = out_flush();
		if (e) {
			/* The reader is gone: nothing more can be delivered. */
			g.exit_code = e == EPIPE ? EXIT_OK : EXIT_RUNTIME;
			begin_stop();
			g.stop_deadline = clk_mono_us();
		}
	}
}

/* The loop and what joins it: the rooms, stdout, signals, the control socket. Returns -1,
 * or the exit status to end with. */
static int setup_loop(void)
{
	g.ctx = create_context();
	if (!g.ctx) {
		log_error("cannot create the WebSocket context", NULL);
		return EXIT_RUNTIME;
	}
	g.vh = lws_get_vhost_by_name(g.ctx, "default");
	const struct conn_limits lim = {
		.max_frame = g.o.max_frame,
		.idle_timeout_ms = g.o.idle_timeout_ms,
		.keepalive_ms = g.o.keepalive_ms,
		.meta_every_ms = g.o.meta_every_s * 1000,
		.connect_timeout_ms = g.o.connect_timeout_ms,
	};
	conn_setup(g.ctx, g.vh, &lim);
	rest_setup(g.ctx, g.vh, g.o.rest_timeout_ms);
	int status = -1;
	if (out_init(STDOUT_FILENO, g.o.out_buffer, max_line())) {
		log_error("cannot start", " error=\"out of memory\"");
		status = EXIT_RUNTIME;
	} else if (!g.vh || out_watch(g.vh, "out") || !loop_adopt(g.vh, g.sigfd, "signals", NULL)) {
		log_error("cannot watch stdout and signals", NULL);
		status = EXIT_RUNTIME;
	} else if (g.o.run_dir) {
		status = open_run_dir();
	}
	if (status >= 0)
		lws_context_destroy(g.ctx);
	return status;
}

/* Takes the role RUN_DIR/role gives (leader without one) and connects if it ingests. */
static void start(void)
{
	g.role = g.o.run_dir ? rundir_role(g.o.run_dir) : ROLE_LEADER;
	g.m_active->v = role_ingests(g.role);
	log_info("started", " role=%s connections=%d", role_name(g.role), g.nconns);
	if (role_ingests(g.role))
		for (int i = 0; i < g.nconns; i++)
			conn_event(&g.conns[i], CONN_EV_START);
	lws_sul_schedule(g.ctx, 0, &g.sul_tick, tick_cb, TICK_US);
}

static void cleanup(void)
{
	/* Give the reader what is still queued, briefly: shutdown must not hang on it. */
	out_drain(DRAIN_MS); /* the loop already waited for the reader */
	write_metrics();
	for (int i = 0; i < g.nconns; i++)
		conn_cancel_timer(&g.conns[i]);
	lws_sul_cancel(&g.sul_tick);
	lws_context_destroy(g.ctx);
	if (g.o.run_dir) {
		ctl_close();
		rundir_remove_pid(g.o.run_dir, "ingest");
	}
	for (int i = 0; i < g.nconns; i++)
		conn_free(&g.conns[i]);
	rest_teardown();
	conn_teardown();
	met_free(g.reg);
	out_free();
	log_info("stopped", NULL);
}

int main(int argc, char **argv)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, 0 };
	char err[256];

	if (parse_opts(argc, argv))
		return EXIT_USAGE;
	if (g.o.ca && check_ca(g.o.ca, err, sizeof err)) {
		fprintf(stderr, "ingest: --ca %s: %s\n", g.o.ca, err);
		return EXIT_USAGE;
	}
	log_init("ingest");
	if (g.o.check)
		return EXIT_OK;
	if (g.o.run_dir && rundir_ensure(g.o.run_dir, err, sizeof err)) {
		log_error("cannot use the run directory", " error=\"%s\"", err);
		return EXIT_USAGE;
	}
	g.sigfd = sig_init(signals, err, sizeof err);
	if (g.sigfd < 0 || setup_metrics()) {
		log_error("cannot start", " error=\"%s\"", g.sigfd < 0 ? err : "out of memory");
		return EXIT_RUNTIME;
	}
	int status = setup_loop();
	if (status >= 0)
		return status;
	start();
	run();
	cleanup();
	return g.exit_code;
}
