/*
 * fakex: a fake crypto exchange for tests.
 *
 * A WebSocket server that speaks the public market-data dialect of one exchange
 * (Binance, Upbit, Bithumb, Coinbase Advanced Trade, Bybit v5, OKX v5, Kraken v2,
 * Bitget v2 or Gate v4, and the derivatives venues Binance USDⓈ-M futures, Bybit linear,
 * Bitget USDT-futures, Gate USDT futures and Hyperliquid) closely enough that a real client (ingest) cannot tell it from
 * the exchange: the same URL path, subscribe requests, acks and errors, keep-alives and
 * frame types.  Each connection replays a recording (envelope lines, see design.md)
 * filtered by what it subscribed to, and a new subscription to a book stream first gets
 * the stream's latest recorded snapshot and what followed it, as the exchanges send a
 * fresh snapshot.  A unix control socket lets a test break things the way real exchanges
 * do (drops, close frames, half-open stalls, garbage, huge frames, refused or unanswered
 * upgrades, messages that never end, lost frames, bad checksums), and an events file
 * records what clients did, one JSON line per event, so tests can grep it.
 *
 * This file: the dialect table, options, and the loop.  fakex.h says where the rest is.
 * Usage and formats: tests/tools/fakex.md, or `fakex --help`.
 */

#include "fakex.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAKEX_VERSION "1.0"
#define RATE_MAX	1000000L
#define INTERVAL_MAX	86400000L		/* a day, in ms */

enum { FX_EXIT_OK = 0, FX_EXIT_RUNTIME = 1, FX_EXIT_USAGE = 2 };

/* Every exchange fakex plays, by --exchange name. */
static const struct dialect *const dialects[] = {
	&dl_binance, &dl_upbit, &dl_bithumb, &dl_coinbase, &dl_bybit, &dl_okx, &dl_kraken,
	&dl_bitget, &dl_gateio, &dl_binance_futures, &dl_bybit_linear, &dl_bitget_futures,
	&dl_gateio_futures, &dl_hyperliquid,
};
#define NDIALECTS (sizeof(dialects) / sizeof(dialects[0]))

const struct dialect *dl;

struct options opt = {
	.port = -1, .rate = 100, .speed = 1.0,
	.ping_ms = -1, .pong_timeout_ms = 60000,
	.status_ms = 10000, .idle_ms = -1, .heartbeat_ms = 1000,
};

struct server g = { .ctl_fd = -1, .replay_fd = -1 };

static volatile sig_atomic_t got_signal;

/* tx_packet_size (last): left at 0, libwebsockets would send a frame in pieces of its
 * 4 KiB service buffer, one loop turn apart. */
static const struct lws_protocols protocols[] = {
	{ "fakex", cb_ws, sizeof(struct conn), 0, 0, NULL, 65536 },
	{ "fakex-control", cb_ctl, sizeof(struct ctl), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void
on_signal(int sig)
{
	got_signal = sig;
	if (g.ctx)
		lws_cancel_service(g.ctx);
}

static void
usage(FILE *f)
{
	fputs(
"Usage: fakex --exchange NAME --port N [options]\n"
"A fake exchange WebSocket server on 127.0.0.1 for tests.\n"
"Prints \"listening PORT\" on stdout once ready; logs go to stderr.\n"
"\n"
"  -x, --exchange NAME        binance, upbit, bithumb, coinbase, bybit, okx,\n"
"                             kraken, bitget, gateio, binance-futures,\n"
"                             bybit-linear, bitget-futures, gateio-futures or\n"
"                             hyperliquid (required)\n"
"  -p, --port N               TCP port, 0 picks a free one (required)\n"
"      --tls-cert FILE        serve wss:// with this PEM certificate ...\n"
"      --tls-key FILE         ... and this PEM private key\n"
"      --recording FILE       envelope lines (NDJSON) to replay\n"
"      --rate N               wanted lines per second per connection\n"
"                             (default 100; 0 = as fast as the socket takes)\n"
"      --pace real            follow the recorded local_ts gaps instead\n"
"      --speed F              with --pace real: F times faster (default 1)\n"
"      --loop                 start the recording over at its end\n"
"      --live                 one clock for all connections: the recording moves on at\n"
"                             --rate lines/s (all lines); a new subscriber joins where it is\n"
"      --tick-us N            send what fell due at most every N us, in bursts\n"
"                             (default 0: each line at its own time)\n"
"      --retime               shift the exchange's epoch-ms times in each frame so\n"
"                             they read as now (E, T, timestamp, trade_timestamp, tms, ttms)\n"
"      --ping-interval MS     binance, gateio, gateio-futures: server WS ping period\n"
"                             (default 20000; binance-futures 180000; 0 off)\n"
"      --pong-timeout MS      the same: close if a ping is unanswered\n"
"                             this long (default 60000, 0 off)\n"
"      --status-interval MS   upbit, bithumb: {\"status\":\"UP\"} period after\n"
"                             PING (default 10000)\n"
"      --heartbeat-interval MS  kraken, coinbase: heartbeat period (default 1000)\n"
"      --idle-timeout MS      close by the exchange's idle rule after MS (0 off;\n"
"                             defaults: upbit, bithumb 120000, bitget and\n"
"                             bitget-futures 120000, okx 30000, coinbase 90000,\n"
"                             bybit and bybit-linear 600000, hyperliquid 60000)\n"
"      --control PATH         unix socket taking line commands (see fakex.md)\n"
"      --events FILE          append one JSON line per client event\n"
"  -h, --help                 this text\n"
"  -V, --version              print the version\n"
"\n"
"Environment: LOG_LEVEL=debug|info|warn|error (default info).\n"
"Exit status: 0 ok, 1 runtime failure, 2 usage error.\n", f);
}

static int
parse_long(const char *name, const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "fakex: --%s: expected an integer in %ld..%ld, got '%s'\n",
			name, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int
set_exchange(const char *name)
{
	size_t i;

	for (i = 0; i < NDIALECTS; i++) {
		if (!strcmp(name, dialects[i]->name)) {
			dl = dialects[i];
			return 0;
		}
	}
	fputs("fakex: --exchange must be one of ", stderr);
	for (i = 0; i < NDIALECTS; i++)
		fprintf(stderr, "%s%s", i ? ", " : "", dialects[i]->name);
	fputc('\n', stderr);
	return -1;
}

static int
set_speed(const char *s)
{
	char *end;

	errno = 0;
	opt.speed = strtod(s, &end);
	if (errno || end == s || *end || !(opt.speed > 0.0) || opt.speed > 1e6) {
		fprintf(stderr, "fakex: --speed must be a number > 0\n");
		return -1;
	}
	return 0;
}

enum {
	O_TLS_CERT = 256, O_TLS_KEY, O_RECORDING, O_RATE, O_PACE, O_SPEED, O_LOOP, O_RETIME,
	O_LIVE, O_TICK, O_PING, O_PONG, O_STATUS, O_IDLE, O_CONTROL, O_EVENTS, O_HEARTBEAT
};

/* One option other than --help and --version.  Returns 0, or -1 after saying why. */
static int
set_option(int ch, const char *arg)
{
	switch (ch) {
	case 'x': return set_exchange(arg);
	case 'p': return parse_long("port", arg, 0, 65535, &opt.port);
	case O_TLS_CERT: opt.tls_cert = arg; return 0;
	case O_TLS_KEY: opt.tls_key = arg; return 0;
	case O_RECORDING: opt.recording = arg; return 0;
	case O_CONTROL: opt.control = arg; return 0;
	case O_EVENTS: opt.events = arg; return 0;
	case O_LOOP: opt.loop = 1; return 0;
	case O_RETIME: opt.retime = 1; return 0;
	case O_LIVE: opt.live = 1; return 0;
	case O_TICK: return parse_long("tick-us", arg, 0, 1000000, &opt.tick_us);
	case O_RATE: return parse_long("rate", arg, 0, RATE_MAX, &opt.rate);
	case O_SPEED: return set_speed(arg);
	case O_PING: return parse_long("ping-interval", arg, 0, INTERVAL_MAX, &opt.ping_ms);
	case O_PONG:
		return parse_long("pong-timeout", arg, 0, INTERVAL_MAX, &opt.pong_timeout_ms);
	case O_STATUS:
		return parse_long("status-interval", arg, 0, INTERVAL_MAX, &opt.status_ms);
	case O_IDLE: return parse_long("idle-timeout", arg, 0, INTERVAL_MAX, &opt.idle_ms);
	case O_HEARTBEAT:
		return parse_long("heartbeat-interval", arg, 0, INTERVAL_MAX, &opt.heartbeat_ms);
	case O_PACE:
		if (!strcmp(arg, "real") || !strcmp(arg, "rate")) {
			opt.pace_real = arg[1] == 'e';
			return 0;
		}
		fprintf(stderr, "fakex: --pace must be real or rate\n");
		return -1;
	default:
		return -1;
	}
}

/* What the options say together. */
static int
check_options(void)
{
	if (opt.live && (opt.pace_real || opt.rate <= 0)) {
		fprintf(stderr, "fakex: --live runs on --rate N (N > 0), not --pace real\n");
		return -1;
	}
	if (!dl || opt.port < 0) {
		fprintf(stderr, "fakex: --exchange and --port are required\n");
		return -1;
	}
	if (!opt.tls_cert != !opt.tls_key) {
		fprintf(stderr, "fakex: --tls-cert and --tls-key go together\n");
		return -1;
	}
	/* What this exchange does unless told otherwise. */
	if (opt.ping_ms < 0)
		opt.ping_ms = dl->ping_ms;
	if (opt.idle_ms < 0)
		opt.idle_ms = dl->idle_ms;
	return 0;
}

static int
parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "control", required_argument, NULL, O_CONTROL },
		{ "events", required_argument, NULL, O_EVENTS },
		{ "exchange", required_argument, NULL, 'x' },
		{ "heartbeat-interval", required_argument, NULL, O_HEARTBEAT },
		{ "help", no_argument, NULL, 'h' },
		{ "idle-timeout", required_argument, NULL, O_IDLE },
		{ "live", no_argument, NULL, O_LIVE },
		{ "loop", no_argument, NULL, O_LOOP },
		{ "pace", required_argument, NULL, O_PACE },
		{ "ping-interval", required_argument, NULL, O_PING },
		{ "pong-timeout", required_argument, NULL, O_PONG },
		{ "port", required_argument, NULL, 'p' },
		{ "rate", required_argument, NULL, O_RATE },
		{ "recording", required_argument, NULL, O_RECORDING },
		{ "retime", no_argument, NULL, O_RETIME },
		{ "speed", required_argument, NULL, O_SPEED },
		{ "status-interval", required_argument, NULL, O_STATUS },
		{ "tick-us", required_argument, NULL, O_TICK },
		{ "tls-cert", required_argument, NULL, O_TLS_CERT },
		{ "tls-key", required_argument, NULL, O_TLS_KEY },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	log_level = log_level_from(getenv("LOG_LEVEL"));
	while ((ch = getopt_long(argc, argv, "hVx:p:", lo, NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			exit(FX_EXIT_OK);
		}
		if (ch == 'V') {
			printf("fakex %s\n", FAKEX_VERSION);
			exit(FX_EXIT_OK);
		}
		if (set_option(ch, optarg))
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "fakex: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return check_options();
}

/* The lws context and the vhost listening on 127.0.0.1.  Returns the port, or -1. */
static int
listen_ws(void)
{
	struct lws_context_creation_info info;

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
	if (opt.tls_cert)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	/* Up to 1024 streams fit in a /stream?streams= URL. */
	info.max_http_header_data2 = 65536;
	if (!(g.ctx = lws_create_context(&info))) {
		fxlog(LV_ERROR, "cannot create lws context", NULL);
		return -1;
	}
	info.port = (int)opt.port;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.vhost_name = "fakex";
	info.alpn = "http/1.1";
	info.ssl_cert_filepath = opt.tls_cert;
	info.ssl_private_key_filepath = opt.tls_key;
	if (!(g.vh = lws_create_vhost(g.ctx, &info))) {
		fxlog(LV_ERROR, "cannot listen", "port=%ld tls=%d", opt.port, opt.tls_cert != NULL);
		return -1;
	}
	return lws_get_vhost_listen_port(g.vh);
}

static int
open_events(void)
{
	char q[512], qe[128];
	const char *why;

	if (!opt.events || (g.events = fopen(opt.events, "a")))
		return 0;
	why = strerror(errno);
	fxlog(LV_ERROR, "cannot open events file", "path=%s error=%s",
	      lq(q, sizeof(q), opt.events, strlen(opt.events)), lq(qe, sizeof(qe), why, strlen(why)));
	return -1;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	int rc = FX_EXIT_RUNTIME, port;

	if (parse_args(argc, argv)) {
		fprintf(stderr, "Try 'fakex --help'.\n");
		return FX_EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	g.start_us = mono_us();
	rng_seed((uint64_t)wall_us() * 2654435761u ^ (uint64_t)getpid() << 32);

	if ((opt.recording && rec_load(opt.recording)) || open_events() ||
	    (port = listen_ws()) < 0 || (opt.control && ctl_listen(opt.control)) ||
	    replay_timer_start())
		goto out;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	fxlog(LV_INFO, "listening", "exchange=%s port=%d tls=%d recording_lines=%zu", dl->name,
	      port, opt.tls_cert != NULL, rec.n);
	live_start();
	printf("listening %d\n", port);
	fflush(stdout);

	while (!got_signal)
		if (lws_service(g.ctx, 0) < 0)
			break;
	if (got_signal) {
		fxlog(LV_INFO, "exiting", "signal=%d", (int)got_signal);
		rc = FX_EXIT_OK;
	} else {
		fxlog(LV_ERROR, "event loop failed", NULL);
	}
out:
	if (g.ctx) {
		struct lws_context *ctx = g.ctx;

		/* a late signal must not poke a context being destroyed */
		g.ctx = NULL;
		lws_context_destroy(ctx);
	}
	hang_release();
	if (g.ctl_created)
		unlink(opt.control);
	if (g.events)
		fclose(g.events);
	rec_free();
	return rc;
}
