/* serve: fans normalized lines out to WebSocket clients, and serves the web UI, health,
 * readiness, metrics and status on the same port. */
#include "clock.h"
#include "exchanges/xch.h"
#include "events.h"
#include "exitcode.h"
#include "guard.h"
#include "input.h"
#include "journal.h"
#include "loop.h"
#include "metnames.h"
#include "opt.h"
#include "rundir.h"
#include "seq.h"
#include "serve.h"
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct serve S;

#define TICK_US (100 * LWS_US_PER_MS)

/* ---- input: normalized lines from stdin or --input ---- */

static int type_of(const struct js_doc *d, int t)
{
	for (int i = 0; i < MT_OTHER; i++)
		if (js_streqn(d, t, msg_type_names[i], strlen(msg_type_names[i])))
			return i;
	return MT_OTHER;
}

/* The feed produced a name serve cannot keep: its table is full (63 exchanges, 65535
 * symbols) or the name is too long. The line still goes out, to clients that do not
 * filter on that part; it is not cached. */
static void name_dropped(struct met *counter, const char *kind, const char *s, size_t n)
{
	static struct log_limit rl;
	char q[128];
	counter->v++;
	if (log_allow(&rl, clk_mono_us()) >= 0)
		log_warn("name not kept: table full or name too long; its lines are not cached",
			 " kind=%s name=%s bytes=%zu", kind, log_quote(q, sizeof q, s, n > 40 ? 40 : n), n);
}

/* The stream position of a line: its own "seq" when distribute numbered it. While the input
 * carries no positions at all (serve fed straight from convert), serve numbers the lines as
 * a leader would, from the clock in µs; once it carries positions, a line without one is a
 * node's own notice and repeats the position before it. Positions never go back along the
 * ring: a line below the newest position taken in was taken in already (distribute
 * restarted, and resumed a little early): -1, dropped and counted. */
static int64_t position_of(int64_t own)
{
	if (own >= 0) {
		S.numbered = 1;
		if (own >= S.last_pos)
			return own;
		S.m_pos_back->v++;
		return -1;
	}
	if (S.numbered)
		return S.last_pos;
	if (S.own_pos <= S.last_pos)
		S.own_pos = S.last_pos + 1 > clk_now_us() ? S.last_pos + 1 : clk_now_us();
	return S.own_pos++;
}

/* Whether LINE, at the newest position POS, was taken in already, byte for byte: several
 * lines share a position (a node's notices repeat the one before them), so the position
 * alone cannot tell; a serve that restarts reads again what its journal has and the pipe
 * still held (see input.h). The ring's newest lines at POS are looked at, 16 at most (a
 * numbered line is kept as it came). */
static int taken_at(int64_t pos, const char *line, size_t len)
{
	int n = 0;
	for (uint64_t s = S.ring.head; s > S.ring.oldest && n < 16; n++) {
		const struct msg *m = ring_get(&S.ring, --s);
		size_t tn;
		const unsigned char *t = msg_text(m, &tn);
		if (m->pos != pos)
			break;
		if (tn == len && !memcmp(t, line, len))
			return 1;
	}
	return 0;
}

/* One line into the ring and the cache (and the journal, unless it comes from there). */
static void take_line(const char *line, size_t len, int live)
{
	struct js_doc *d = &S.doc;
	if (js_parse(d, line, len) != JS_OK || js_type(d, 0) != JS_OBJECT) {
		S.m_bad_lines->v++;
		if (log_allow(&S.rl_input, clk_mono_us()) >= 0)
			log_warn("input line is not a JSON object, skipped", " bytes=%zu", len);
		return;
	}
	int type = type_of(d, js_get(d, 0, "type"));
	int ex = js_get(d, 0, "exchange"), sy = js_get(d, 0, "symbol");
	unsigned exch = 0, sym = 0;
	if (js_type(d, ex) == JS_STRING && !(exch = intern_exchange(js_ptr(d, ex), js_len(d, ex))))
		name_dropped(S.m_names_full_exch, "exchange", js_ptr(d, ex), js_len(d, ex));
	if (js_type(d, sy) == JS_STRING && !(sym = intern_symbol(js_ptr(d, sy), js_len(d, sy))))
		name_dropped(S.m_names_full_sym, "symbol", js_ptr(d, sy), js_len(d, sy));
	int64_t local_ts = 0;
	if (js_int64(d, js_get(d, 0, "local_ts"), &local_ts))
		local_ts = 0;
	/* Every line a client gets ends with its position: the line's own, or one set here. */
	int64_t own = seq_of_line(line, len);
	int64_t pos = position_of(own);
	if (pos < 0)
		return;
	if (own >= 0 && own == S.last_pos && taken_at(pos, line, len)) {
		S.m_pos_back->v++;
		return;
	}
	long body = seq_body_len(line, len);
	char suffix[SEQ_SUFFIX_MAX];
	size_t slen = 0;
	if (pos != own && body > 1)
		slen = seq_suffix(suffix, pos);
	else
		body = (long)len; /* as it came (or not an object we can end: sent as it is) */
	struct msg *m = msg_new(line, (size_t)body, suffix, slen, type, exch, sym, local_ts);
	if (!m) {
		S.m_bad_lines->v++;
		return;
	}
	m->pos = pos;
	S.last_pos = pos;
	ring_push(&S.ring, m);
	if (live)
		journal_add(line, (size_t)body, suffix, slen);
	if ((type == MT_TICKER || type == MT_BOOK || type == MT_DERIVATIVE) && exch && sym &&
	    !cache_put(&S.cache, m))
		S.m_streams->v = S.cache.n;
	/* The latest status line of each exchange, for pages that open later; and the history
	 * (already kept for lines read back from the journal). */
	if (type == MT_STATUS && exch) {
		cache_put(&S.cache, m);
		if (live)
			events_status(d);
	}
	msg_unref(m);
}

static void on_line(const char *line, size_t len)
{
	S.m_lines->v++;
	S.last_line_mono = clk_mono_us();
	take_line(line, len, 1);
}

static void from_journal(const char *line, size_t len)
{
	take_line(line, len, 0);
}

static void drain_lines(void)
{
	const char *line;
	size_t len;
	for (;;) {
		enum ndj_status st = ndj_next(&S.in, &line, &len);
		if (st == NDJ_LINE) {
			on_line(line, len);
		} else if (st == NDJ_TOOLONG) {
			S.m_bad_lines->v++;
			log_warn("input line too long, skipped", NULL);
		} else {
			break;
		}
	}
	/* Into the journal before any client has them: what a client got survives a restart. */
	journal_flush();
	fanout_wake();
}

static struct lws *input_wsi;

static void read_input(void)
{
	if (input_fill(&S.in) < 0 && errno != EAGAIN) {
		log_error("cannot read input", " error=\"%s\"", strerror(errno));
		S.in.eof = 1;
	}
	drain_lines();
	/* Only part of a line in the pipe: look again on the tick rather than spin on it. */
	if (input_done(&S.in) && input_wsi && !S.input_paused) {
		S.input_paused = 1;
		lws_rx_flow_control(input_wsi, 0);
	}
	if (S.in.eof) {
		S.in_open = 0;
		if (S.o.exit_on_eof) {
			log_info("end of input, stopping", NULL);
			kill(getpid(), SIGTERM);
		} else {
			log_warn("end of input; clients stay connected and wait", NULL);
		}
	}
}

/* ---- raw descriptors: input and signals ---- */

static int kinds[4];
enum { RAW_INPUT = 1, RAW_SIGNALS = 2, RAW_LISTEN = 3 };
static int listen_fd = -1;
static struct lws *listen_wsi;

/* serve owns its listening socket, so that draining can close it while every client
 * connection stays up (and so the accept backlog fits bursts of thousands of clients). */
static int open_listener(char *err, size_t errlen)
{
	struct sockaddr_in6 sa6;
	struct sockaddr_in sa4;
	struct sockaddr *sa;
	socklen_t salen;
	int family = AF_INET6, one = 1;
	memset(&sa6, 0, sizeof sa6);
	memset(&sa4, 0, sizeof sa4);
	if (S.o.bind && inet_pton(AF_INET, S.o.bind, &sa4.sin_addr) == 1) {
		family = AF_INET;
		sa4.sin_family = AF_INET;
		sa4.sin_port = htons((uint16_t)S.o.port);
		sa = (struct sockaddr *)&sa4;
		salen = sizeof sa4;
	} else {
		sa6.sin6_family = AF_INET6;
		sa6.sin6_port = htons((uint16_t)S.o.port);
		if (S.o.bind && inet_pton(AF_INET6, S.o.bind, &sa6.sin6_addr) != 1) {
			snprintf(err, errlen, "bad --bind address %s", S.o.bind);
			return -1;
		}
		sa = (struct sockaddr *)&sa6;
		salen = sizeof sa6;
	}
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (family == AF_INET6) {
		int zero = 0; /* accept IPv4 too on the wildcard address */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	}
	if (bind(fd, sa, salen) || listen(fd, 4096)) {
		snprintf(err, errlen, "port %d: %s", S.o.port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void accept_clients(void)
{
	lws_adoption_type type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP;
	if (S.o.tls_cert)
		type |= LWS_ADOPT_ALLOW_SSL;
	for (int i = 0; i < 256; i++) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		guard_accept(fd);
		lws_sock_file_fd_type f;
		f.sockfd = fd;
		if (!lws_adopt_descriptor_vhost(S.vh, type, f, NULL, NULL))
			log_warn("cannot adopt a connection", NULL);
	}
}

static void begin_drain(void)
{
	if (S.draining)
		return;
	S.draining = 1;
	S.drain_deadline = clk_mono_us() + 9 * 1000000;
	log_info("draining: no new clients, closing every client with 1001", " clients=%d", S.nclients);
	if (listen_wsi)
		lws_set_timeout(listen_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	clients_close_all(LWS_CLOSE_STATUS_GOINGAWAY);
}

static int cb_raw(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	void *op = lws_get_opaque_user_data(wsi);
	if (reason == LWS_CALLBACK_RAW_RX_FILE) {
		if (op == &kinds[RAW_LISTEN]) {
			if (!S.draining)
				accept_clients();
		} else if (op == &kinds[RAW_INPUT]) {
			read_input();
			if (!S.in_open)
				return -1;
		} else if (op == &kinds[RAW_SIGNALS]) {
			int sig;
			while ((sig = sig_next(S.sigfd))) {
				if (sig == SIGTERM || sig == SIGINT)
					begin_drain();
				else
					log_info("signal has no effect on serve", " signal=%d", sig);
			}
		}
	}
	if (reason == LWS_CALLBACK_RAW_CLOSE_FILE && op == &kinds[RAW_INPUT] && S.in_open && !S.done) {
		/* A pipe whose writer left reports a hang-up, not a read of 0 bytes: what it still
		 * holds is read as it comes. */
		input_plain(&S.in);
		while (ndj_fill(&S.in) > 0)
			drain_lines();
		S.in.eof = 1;
		drain_lines();
		S.in_open = 0;
		log_warn("end of input; clients stay connected and wait", NULL);
		if (S.o.exit_on_eof)
			kill(getpid(), SIGTERM);
	}
	if (reason == LWS_CALLBACK_RAW_CLOSE_FILE && op == &kinds[RAW_LISTEN]) {
		listen_wsi = NULL;
		listen_fd = -1;
		log_debug("listening socket closed", NULL);
	}
	return 0;
}

/* ---- the tick: slow clients, status, metrics, shutdown ---- */

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	int64_t now = clk_mono_us();
	clients_check(now);
	if (S.input_paused) {
		S.input_paused = 0;
		lws_rx_flow_control(input_wsi, 1);
	}
	/* A relay that stopped taking lines leaves the gate by time alone. */
	if (fanout_gate_update())
		fanout_wake();
	if (now - S.last_second >= 1000000) {
		char err[256];
		S.last_second = now;
		S.m_evicted->v = (double)S.ring.evicted;
		const struct journal_stats *js = journal_stats();
		S.m_journal_lines->v = (double)js->lines;
		S.m_journal_errors->v = (double)js->errors;
		S.m_journal_replayed->v = (double)js->replayed;
		S.m_position->v = (double)S.last_pos;
		S.m_rss->v = met_rss_bytes();
		char why[64];
		S.m_ready->v = serve_ready(why, sizeof why);
		status_refresh(now);
		events_tick(S.m_slow->v);
		if (S.o.run_dir && met_write_file(S.reg, S.o.run_dir, stage_name(STAGE_SERVE), err, sizeof err))
			log_warn("cannot write metrics", " error=\"%s\"", err);
	}
	if (S.draining && (!S.nclients || now > S.drain_deadline)) {
		S.done = 1;
		lws_cancel_service(S.ctx);
		return;
	}
	lws_sul_schedule(S.ctx, 0, &S.sul_tick, tick_cb, TICK_US);
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: serve [OPTIONS] < normalized.ndjson\n"
		"Fans normalized lines out to WebSocket clients; serves the web UI, /health, /ready,\n"
		"/metrics, /api/status and /api/events (the incident history, kept in the run\n"
		"directory's events.ndjson and events.ndjson.1) on the same port.\n\n"
		"  -p, --port N               TCP port (default 8080)\n"
		"  -a, --bind ADDR            address to listen on (default all)\n"
		"      --path PATH            WebSocket path (default /ws/exchange)\n"
		"  -w, --www DIR              web UI files (default serve/www next to bin/)\n"
		"  -r, --run-dir DIR          role, metrics of the other tools (default $RUN_DIR)\n"
		"  -i, --input PATH           read lines from PATH (a FIFO is reopened at EOF)\n"
		"      --node-id ID           name in /api/status (default $NODE_ID or the host name)\n"
		"  -m, --max-clients N        refuse upgrades beyond N clients with 503 (default 10000)\n"
		"      --ring N               messages kept for clients to catch up and resume\n"
		"                             (default 1048576)\n"
		"      --ring-bytes BYTES     bytes kept in the ring (default 268435456)\n"
		"      --journal-bytes BYTES  the newest lines kept in RUN_DIR too, so a restarted\n"
		"                             serve still has them (default 67108864; 0: none)\n"
		"      --max-backlog N        a client further behind is closed with 1013 (default 16384)\n"
		"      --max-backlog-bytes B  same, in bytes (default 8388608)\n"
		"      --close-timeout MS     a client serve closes has MS for its socket to take the\n"
		"                             close frame, and MS to answer it; else it is dropped\n"
		"                             (default 5000)\n"
		"      --ready-timeout MS     /ready fails after MS without input (default 10000)\n"
		"      --relay-lag N          a follower's relay (?relay=1) holds this node's other\n"
		"                             clients back to what it took, unless it is more than N\n"
		"                             lines behind (default 4096)\n"
		"      --relay-wait MS        ... or unless it took nothing for MS while lines wait\n"
		"                             for it (default 1000)\n"
		"      --send-path PATH       how lines reach caught-up clients: direct (send() at once,\n"
		"                             by the loop's thread and the send threads) or lws\n"
		"                             (everything through libwebsockets' writable callback,\n"
		"                             slower; to compare) (default direct)\n"
		"      --send-threads N       threads beside the event loop's that write lines to\n"
		"                             clients on the direct path (default: one per other CPU,\n"
		"                             at most 3)\n"
		"      --auth-secret FILE     clients need a token signed with this secret (HS256 JWT\n"
		"                             with exp; ?token= or Authorization: Bearer), else 401\n"
		"      --allow-origin ORIGIN  browsers from other origins get 403 (repeatable)\n"
		"      --max-per-ip N         connections per client address, beyond that 429\n"
		"      --admin-allow CIDR     /metrics and /api/* only from these networks, or\n"
		"                             with an admin token (\"scope\":\"admin\"); else 403\n"
		"      --tls-cert FILE        serve wss:// and https:// with this certificate\n"
		"      --tls-key FILE         and this key\n"
		"      --exit-on-eof          stop at the end of the input instead of waiting\n"
		"  -n, --check                validate the options and the files they name (TLS\n"
		"                             certificate and key, --www, --auth-secret) and exit\n"
		"  -h, --help                 this text\n"
		"  -V, --version              the version\n\n"
		"Client protocol: ?types=&exchanges=&symbols= filters (a bad one: an error line, then\n"
		"1008); {\"op\":\"subscribe\",...} and {\"op\":\"ping\"}. Too slow: 1013; RFC 6455\n"
		"broken: 1002; a message over 4 KiB: 1009. SIGTERM closes every client with 1001 and\n"
		"exits within 10 s.\n"
		EXITCODE_HELP);
}

static char www_default[PATH_MAX + 32];
static int www_given;

/* The defaults that depend on the machine: the page next to the binary, the host name. */
static void default_www_and_node(struct opts *o)
{
	if (!o->www) {
		/* bin/serve -> ../serve/www, so the page works from a checkout without options. */
		char exe[PATH_MAX - 32];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (n > 0) {
			exe[n] = 0;
			char *slash = strrchr(exe, '/');
			if (slash)
				*slash = 0;
			snprintf(www_default, sizeof www_default, "%s/../serve/www", exe);
			char *real = realpath(www_default, NULL);
			if (real) {
				snprintf(www_default, sizeof www_default, "%s", real);
				free(real);
			}
		}
		o->www = www_default;
	}
	static char host[256];
	if (!o->node_id || !*o->node_id) {
		if (gethostname(host, sizeof host))
			snprintf(host, sizeof host, "node");
		o->node_id = host;
	}
}

static int parse_opts(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "admin-allow", required_argument, NULL, 'A' },
		{ "allow-origin", required_argument, NULL, 'O' },
		{ "auth-secret", required_argument, NULL, 'S' },
		{ "bind", required_argument, NULL, 'a' },
		{ "check", no_argument, NULL, 'n' },
		{ "close-timeout", required_argument, NULL, 'c' },
		{ "exit-on-eof", no_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ "input", required_argument, NULL, 'i' },
		{ "max-backlog", required_argument, NULL, 'B' },
		{ "max-backlog-bytes", required_argument, NULL, 'Y' },
		{ "max-clients", required_argument, NULL, 'm' },
		{ "max-per-ip", required_argument, NULL, 'I' },
		{ "node-id", required_argument, NULL, 'N' },
		{ "path", required_argument, NULL, 'P' },
		{ "port", required_argument, NULL, 'p' },
		{ "ready-timeout", required_argument, NULL, 'T' },
		{ "journal-bytes", required_argument, NULL, 'J' },
		{ "relay-lag", required_argument, NULL, 'L' },
		{ "relay-wait", required_argument, NULL, 'Q' },
		{ "ring", required_argument, NULL, 'R' },
		{ "ring-bytes", required_argument, NULL, 'G' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "send-path", required_argument, NULL, 'D' },
		{ "send-threads", required_argument, NULL, 'H' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "version", no_argument, NULL, 'V' },
		{ "www", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts *o = &S.o;
	char err[128], name[32];
	long long v;
	int c;
	o->port = 8080;
	o->path = "/ws/exchange";
	o->run_dir = getenv("RUN_DIR");
	o->node_id = getenv("NODE_ID");
	o->max_clients = 10000;
	o->ring = 1 << 20;
	o->relay_lag = 4096;
	o->relay_wait_ms = 1000;
	o->ring_bytes = 256 << 20;
	o->journal_bytes = 64 << 20;
	o->max_backlog = 16384;
	o->max_backlog_bytes = 8 << 20;
	o->ready_timeout_ms = 10000;
	o->close_timeout_ms = 5000;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	o->send_threads = cpus > 4 ? 3 : cpus > 1 ? (int)cpus - 1 : 0;
	while ((c = getopt_long(argc, argv, "a:hi:m:np:r:Vw:", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': {
			unsigned char addr[16];
			if (inet_pton(AF_INET, optarg, addr) != 1 && inet_pton(AF_INET6, optarg, addr) != 1) {
				fprintf(stderr, "serve: --bind takes an IPv4 or IPv6 address such as 127.0.0.1 or ::1, not \"%s\"\n",
					optarg);
				return -1;
			}
			o->bind = optarg;
			break;
		}
		case 'A':
			if (o->nadmin_nets == 16 || cidr_parse(optarg, &o->admin_nets[o->nadmin_nets])) {
				fprintf(stderr, "serve: --admin-allow takes a network such as 10.0.0.0/8 (16 at most), not \"%s\"\n",
					optarg);
				return -1;
			}
			o->nadmin_nets++;
			break;
		case 'I':
			if (opt_long(optarg, 0, 1000000, &v, err, sizeof err))
				goto bad;
			o->max_per_ip = (int)v;
			break;
		case 'O':
			if (o->norigins == 16) {
				fprintf(stderr, "serve: at most 16 --allow-origin\n");
				return -1;
			}
			o->origins[o->norigins++] = optarg;
			break;
		case 'S': o->auth_secret = optarg; break;
		case 'B':
			if (opt_long(optarg, 16, 1 << 24, &v, err, sizeof err))
				goto bad;
			o->max_backlog = (uint32_t)v;
			break;
		case 'C': o->tls_cert = optarg; break;
		case 'c':
			if (opt_long(optarg, 100, 600000, &v, err, sizeof err))
				goto bad;
			o->close_timeout_ms = (int)v;
			break;
		case 'L':
			if (opt_long(optarg, 1, 1 << 24, &v, err, sizeof err))
				goto bad;
			o->relay_lag = (uint32_t)v;
			break;
		case 'Q':
			if (opt_long(optarg, 10, 600000, &v, err, sizeof err))
				goto bad;
			o->relay_wait_ms = (int)v;
			break;
		case 'D': {
			int p = fanout_path_parse(optarg);
			if (p < 0) {
				fprintf(stderr, "serve: --send-path takes direct or lws, not \"%s\"\n", optarg);
				return -1;
			}
			o->send_path = (enum send_path)p;
			break;
		}
		case 'E': o->exit_on_eof = 1; break;
		case 'G':
			if (opt_long(optarg, 1 << 16, 1LL << 34, &v, err, sizeof err))
				goto bad;
			o->ring_bytes = (uint64_t)v;
			break;
		case 'h': usage(stdout); exit(EXIT_OK);
		case 'H':
			if (opt_long(optarg, 0, MAX_SEND_THREADS, &v, err, sizeof err))
				goto bad;
			o->send_threads = (int)v;
			break;
		case 'i': o->input = optarg; break;
		case 'K': o->tls_key = optarg; break;
		case 'm':
			if (opt_long(optarg, 0, 1000000, &v, err, sizeof err))
				goto bad;
			o->max_clients = (int)v;
			break;
		case 'n': o->check = 1; break;
		case 'N': o->node_id = optarg; break;
		case 'p':
			if (opt_long(optarg, 0, 65535, &v, err, sizeof err))
				goto bad;
			o->port = (int)v;
			break;
		case 'P':
			if (optarg[0] != '/') {
				fprintf(stderr, "serve: --path must start with /, not \"%s\"\n", optarg);
				return -1;
			}
			o->path = optarg;
			break;
		case 'r': o->run_dir = optarg; break;
		case 'J':
			if (opt_long(optarg, 0, 1LL << 34, &v, err, sizeof err))
				goto bad;
			o->journal_bytes = (uint64_t)v;
			break;
		case 'R':
			if (opt_long(optarg, 64, 1 << 24, &v, err, sizeof err))
				goto bad;
			o->ring = (uint32_t)v;
			break;
		case 'T':
			if (opt_long(optarg, 100, 86400000, &v, err, sizeof err))
				goto bad;
			o->ready_timeout_ms = (int)v;
			break;
		case 'V': printf("serve %s\n", SERVE_VERSION); exit(EXIT_OK);
		case 'w':
			o->www = optarg;
			www_given = 1;
			break;
		case 'Y':
			if (opt_long(optarg, 4096, 1LL << 34, &v, err, sizeof err))
				goto bad;
			o->max_backlog_bytes = (uint64_t)v;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "serve: unexpected argument %s\n", argv[optind]);
		return -1;
	}
	if (!o->tls_cert != !o->tls_key) {
		fprintf(stderr, "serve: --tls-cert and --tls-key go together\n");
		return -1;
	}
	if (o->max_backlog >= o->ring) {
		/* A client must be cut before the ring forgets what it still needs. */
		o->max_backlog = o->ring / 2;
	}
	if (o->run_dir && !*o->run_dir)
		o->run_dir = NULL;
	default_www_and_node(o);
	return 0;
bad:
	fprintf(stderr, "serve: %s: %s\n", opt_name(longopts, c, name, sizeof name), err);
	return -1;
}

/* ---- what --check validates beyond the command line (and a start does too) ---- */

static const char *ssl_why(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());
	return r ? r : "unknown error";
}

/* The certificate chain and key load, and belong together: what libwebsockets will do
 * with them, so a bad pair is a configuration error and not a failure at run time. */
static int check_tls(char *err, size_t errlen)
{
	const struct opts *o = &S.o;
	SSL_CTX *ctx, *keyctx;
	int rc = -1;
	if (access(o->tls_cert, R_OK)) {
		snprintf(err, errlen, "--tls-cert %s: %s", o->tls_cert, strerror(errno));
		return -1;
	}
	if (access(o->tls_key, R_OK)) {
		snprintf(err, errlen, "--tls-key %s: %s", o->tls_key, strerror(errno));
		return -1;
	}
	/* the key alone first, so that "not a key" and "not this certificate's key" differ */
	keyctx = SSL_CTX_new(TLS_server_method());
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !keyctx) {
		snprintf(err, errlen, "cannot set up TLS: out of memory");
		goto out;
	}
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1)
		snprintf(err, errlen, "--tls-cert %s: not a PEM certificate (%s)", o->tls_cert, ssl_why());
	else if (SSL_CTX_use_PrivateKey_file(keyctx, o->tls_key, SSL_FILETYPE_PEM) != 1)
		snprintf(err, errlen, "--tls-key %s: not a PEM private key (%s)", o->tls_key, ssl_why());
	else if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key, SSL_FILETYPE_PEM) != 1 ||
		 SSL_CTX_check_private_key(ctx) != 1)
		snprintf(err, errlen, "--tls-key %s is not the key of the certificate in --tls-cert %s",
			 o->tls_key, o->tls_cert);
	else
		rc = 0;
out:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	SSL_CTX_free(keyctx);
	return rc;
}

/* A --www given on the command line must hold the page; the default one may be missing
 * (an installation without the web UI), which is only worth a warning. */
static int check_www(int given, char *err, size_t errlen)
{
	char index[PATH_MAX + 64];
	struct stat st;
	const char *why = NULL;
	snprintf(index, sizeof index, "%s/index.html", S.o.www);
	if (stat(S.o.www, &st))
		why = strerror(errno);
	else if (!S_ISDIR(st.st_mode))
		why = "not a directory";
	else if (access(index, R_OK))
		why = "no readable index.html in it";
	if (!why)
		return 0;
	if (!given) {
		log_warn("no web UI: the default --www directory is unusable", " www=%s reason=\"%s\"", S.o.www, why);
		return 0;
	}
	snprintf(err, errlen, "--www %s: %s", S.o.www, why);
	return -1;
}

static int check_files(char *err, size_t errlen)
{
	char e[256];
	if (S.o.auth_secret && auth_load_secret(S.o.auth_secret, e, sizeof e)) {
		snprintf(err, errlen, "--auth-secret %s", e);
		return -1;
	}
	if (S.o.tls_cert && check_tls(err, errlen))
		return -1;
	return check_www(www_given, err, errlen);
}

static int setup_metrics(void)
{
	struct met_reg *r = S.reg = met_new();
	if (!r)
		return -1;
	S.m_clients = met_add(r, MET_GAUGE, "exchange_serve_clients", "WebSocket clients connected.", NULL);
	S.m_accepted = met_add(r, MET_COUNTER, "exchange_serve_clients_total", "WebSocket clients accepted.", NULL);
	S.m_rejected_full = met_add(r, MET_COUNTER, "exchange_serve_rejected_total",
				    "WebSocket upgrades refused, by reason.", "reason=\"max_clients\"");
	S.m_rejected_path = met_add(r, MET_COUNTER, "exchange_serve_rejected_total",
				    "WebSocket upgrades refused, by reason.", "reason=\"path\"");
	S.m_rejected_drain = met_add(r, MET_COUNTER, "exchange_serve_rejected_total",
				     "WebSocket upgrades refused, by reason.", "reason=\"draining\"");
	S.m_rejected_auth = met_add(r, MET_COUNTER, "exchange_serve_rejected_total",
				    "WebSocket upgrades refused, by reason.", "reason=\"auth\"");
	S.m_rejected_origin = met_add(r, MET_COUNTER, "exchange_serve_rejected_total",
				      "WebSocket upgrades refused, by reason.", "reason=\"origin\"");
	S.m_rejected_ip = met_add(r, MET_COUNTER, "exchange_serve_rejected_total",
				  "WebSocket upgrades refused, by reason.", "reason=\"per_ip\"");
	S.m_rejected_admin = met_add(r, MET_COUNTER, "exchange_serve_admin_rejected_total",
				     "Requests for /metrics or /api/status refused.", NULL);
	S.m_slow = met_add(r, MET_COUNTER, "exchange_serve_slow_clients_closed_total",
			   "Clients closed with 1013 because they fell too far behind.", NULL);
	S.m_close_timeouts = met_add(r, MET_COUNTER, "exchange_serve_close_timeouts_total",
				     "Clients dropped without a close frame: their socket took none for --close-timeout.",
				     NULL);
	S.m_proto_errors = met_add(r, MET_COUNTER, "exchange_serve_protocol_errors_total",
				   "Clients closed for what they sent, by close code (1002 protocol error, 1009 too large).",
				   "code=\"1002\"");
	S.m_proto_too_large = met_add(r, MET_COUNTER, "exchange_serve_protocol_errors_total",
				      "Clients closed for what they sent, by close code (1002 protocol error, 1009 too large).",
				      "code=\"1009\"");
	S.m_names_full_exch = met_add(r, MET_COUNTER, "exchange_serve_names_dropped_total",
				      "Input lines whose exchange or symbol serve could not keep (table full, name too long): not cached, sent only to clients that do not filter on it.",
				      "kind=\"exchange\"");
	S.m_names_full_sym = met_add(r, MET_COUNTER, "exchange_serve_names_dropped_total",
				     "Input lines whose exchange or symbol serve could not keep (table full, name too long): not cached, sent only to clients that do not filter on it.",
				     "kind=\"symbol\"");
	S.m_stale_textfiles = met_add(r, MET_COUNTER, "exchange_serve_stale_textfiles_total",
				      "Metrics files in RUN_DIR left out of /metrics because their tool had not rewritten them for 10 s.",
				      NULL);
	S.m_lines = met_add(r, MET_COUNTER, "exchange_serve_lines_total", "Normalized lines received.", NULL);
	S.m_bad_lines = met_add(r, MET_COUNTER, "exchange_serve_input_errors_total",
				"Input lines skipped (not JSON objects, too long).", NULL);
	S.m_sent = met_add(r, MET_COUNTER, "exchange_serve_messages_sent_total",
			   "Messages delivered to clients (one per client per line).", NULL);
	S.m_bytes_sent = met_add(r, MET_COUNTER, "exchange_serve_bytes_sent_total", "Bytes written to clients.", NULL);
	S.m_client_errors = met_add(r, MET_COUNTER, "exchange_serve_client_errors_total",
				    "Client messages answered with an error, or that closed the client.", NULL);
	S.m_client_msgs = met_add(r, MET_COUNTER, "exchange_serve_client_messages_total",
				  "Messages received from clients.", NULL);
	S.m_evicted = met_add(r, MET_COUNTER, "exchange_serve_ring_evicted_total",
			      "Messages that left the shared ring.", NULL);
	S.m_resumes = met_add(r, MET_COUNTER, "exchange_serve_resumes_total",
			      "Clients that resumed after a stream position (?since= or a subscribe's since).", NULL);
	S.m_resume_gaps = met_add(r, MET_COUNTER, "exchange_serve_resume_gaps_total",
				  "Resumes from a position the ring no longer holds (told with a gap line).", NULL);
	S.m_resume_lines = met_add(r, MET_COUNTER, "exchange_serve_resume_lines_total",
				   "Ring lines behind the live position when resumes started (before filters).", NULL);
	S.m_catchup_waits = met_add(r, MET_COUNTER, "exchange_serve_catchup_waits_total",
				    "Writes to clients far behind put off to the next turn of the loop (their share of it was used).", NULL);
	S.m_resume_errors = met_add(r, MET_COUNTER, "exchange_serve_resume_errors_total",
				    "Bad since values (not a position, or ahead of the stream): told, and live data given.", NULL);
	S.m_pos_back = met_add(r, MET_COUNTER, "exchange_serve_positions_back_total",
			       "Input lines taken in already (a position below the newest, or a line of the newest again): dropped.", NULL);
	S.m_journal_lines = met_add(r, MET_COUNTER, "exchange_serve_journal_lines_total",
				    "Lines written to the journal (RUN_DIR/serve.journal).", NULL);
	S.m_journal_errors = met_add(r, MET_COUNTER, "exchange_serve_journal_errors_total",
				     "Journal writes that failed: those lines would not survive a restart.", NULL);
	S.m_journal_replayed = met_add(r, MET_GAUGE, "exchange_serve_journal_replayed_lines",
				       "Lines read back from the journal when serve started.", NULL);
	S.m_position = met_add(r, MET_GAUGE, "exchange_serve_position", "The newest stream position taken in.", NULL);
	S.m_streams = met_add(r, MET_GAUGE, "exchange_serve_cached_streams",
			      "Cached lines for new clients: the latest ticker, book and derivative per stream, status line per exchange.", NULL);
	S.m_ready = met_add(r, MET_GAUGE, "exchange_serve_ready", "1 when /ready answers 200.", NULL);
	S.m_latency = met_add_hist(r, "exchange_pipeline_latency_seconds",
				   "Ingest receive time (local_ts) to the write to a client.", NULL,
				   met_latency_bounds, met_latency_nbounds);
	S.m_rss = met_add(r, MET_GAUGE, MN_RSS,
			  "Resident memory of each tool's process.", "tool=\"serve\"");
	return S.m_clients && S.m_accepted && S.m_rejected_full && S.m_rejected_path && S.m_rejected_drain &&
			       S.m_slow && S.m_lines && S.m_bad_lines && S.m_sent && S.m_bytes_sent &&
			       S.m_client_errors && S.m_client_msgs && S.m_evicted && S.m_streams && S.m_ready &&
			       S.m_latency && S.m_rss && S.m_rejected_auth && S.m_rejected_origin &&
			       S.m_rejected_ip && S.m_rejected_admin && S.m_close_timeouts && S.m_proto_errors &&
			       S.m_proto_too_large && S.m_names_full_exch && S.m_names_full_sym &&
			       S.m_stale_textfiles && S.m_resumes && S.m_resume_gaps && S.m_resume_lines && S.m_catchup_waits &&
			       S.m_resume_errors && S.m_pos_back && S.m_journal_lines && S.m_journal_errors &&
			       S.m_journal_replayed && S.m_position
		       ? 0
		       : -1;
}

/* The input: stdin or --input, read by the line reader (and peeked at, see input.h).
 * Returns 0, or the exit status. */
static int open_input(void)
{
	int fd = STDIN_FILENO;
	if (S.o.input) {
		struct stat st;
		int fifo = !stat(S.o.input, &st) && S_ISFIFO(st.st_mode);
		/* O_RDWR keeps a FIFO open across writers: an upstream restart is no end of input. */
		fd = open(S.o.input, (fifo ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (fd < 0) {
			log_error("cannot open the input", " path=%s error=\"%s\"", S.o.input, strerror(errno));
			return EXIT_USAGE;
		}
	}
	S.scratch = malloc(LWS_PRE + SCRATCH);
	if (!S.scratch || ndj_init(&S.in, fd, 4 << 20)) {
		log_error("out of memory", NULL);
		return EXIT_RUNTIME;
	}
	fd_nonblock(fd);
	S.in_fd = fd;
	input_start(&S.in, S.o.run_dir && S.o.journal_bytes);
	S.in_open = 1;
	return 0;
}

/* The libwebsockets context: the client protocol, the HTTP API and the page, the raw
 * descriptors; no listening socket of its own (open_listener). INFO is filled for later. */
static struct lws_context *create_context(struct lws_context_creation_info *info)
{
	/* The last field is the most one send() may carry. Left at 0, libwebsockets caps it at
	 * the receive buffer (4 KiB) and sends the rest of a write a loop turn later, so a
	 * client catching up would get 4 KiB per turn. */
	static const struct lws_protocols protocols[] = {
		{ "exchange", cb_client, sizeof(struct client), 4096, 0, NULL, SCRATCH },
		{ "http-api", cb_http, 64, 0, 0, NULL, HTTP_CHUNK },
		{ "raw", cb_raw, 0, 0, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	static struct lws_http_mount mounts[6];
	static const char *const api_paths[] = { "/health", "/ready", "/metrics", "/api/status" };

	for (int i = 0; i < 4; i++) {
		mounts[i].mount_next = &mounts[i + 1];
		mounts[i].mountpoint = api_paths[i];
		mounts[i].mountpoint_len = (unsigned char)strlen(api_paths[i]);
		mounts[i].origin = "http-api";
		mounts[i].origin_protocol = LWSMPRO_CALLBACK;
	}
	mounts[4].mountpoint = "/";
	mounts[4].mountpoint_len = 1;
	mounts[4].origin = S.o.www;
	mounts[4].def = "index.html";
	mounts[4].origin_protocol = LWSMPRO_FILE;
	mounts[4].cache_max_age = 0;
	/* The event history (events.c); mounts match by longest prefix, so order does not matter. */
	mounts[4].mount_next = &mounts[5];
	mounts[5].mountpoint = "/api/events";
	mounts[5].mountpoint_len = (unsigned char)strlen(mounts[5].mountpoint);
	mounts[5].origin = "http-api";
	mounts[5].origin_protocol = LWSMPRO_CALLBACK;

	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	memset(info, 0, sizeof *info);
	info->port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info->protocols = protocols;
	info->mounts = mounts;
	info->vhost_name = "serve";
	info->options = 0;
	/* No info->extensions: clients get the ring's frames as they are (fanout.c). */
	info->fd_limit_per_thread = (unsigned)(S.o.max_clients + 256);
	info->timeout_secs = 30;
	if (S.o.tls_cert) {
		info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info->ssl_cert_filepath = S.o.tls_cert;
		info->ssl_private_key_filepath = S.o.tls_key;
	}
	return lws_create_context(info);
}

static void free_all(void)
{
	journal_close();
	ring_free(&S.ring);
	cache_free(&S.cache);
	events_free();
	intern_free();
	guard_free();
	js_free(&S.doc);
	input_stop();
	ndj_free(&S.in);
	free(S.scratch);
	free(S.status_json);
	met_free(S.reg);
}

int main(int argc, char **argv)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, 0 };
	struct lws_context_creation_info info;
	char err[1024];

	if (parse_opts(argc, argv))
		return EXIT_USAGE;
	log_init("serve");
	if (check_files(err, sizeof err)) {
		fprintf(stderr, "serve: %s\n", err);
		return EXIT_USAGE;
	}
	if (S.o.check)
		return EXIT_OK;
	S.started_us = clk_now_us();
	if (S.o.run_dir && rundir_ensure(S.o.run_dir, err, sizeof err)) {
		log_error("cannot use the run directory", " error=\"%s\"", err);
		return EXIT_USAGE;
	}
	S.sigfd = sig_init(signals, err, sizeof err);
	if (guard_init()) {
		log_error("cannot find recv and SSL_read to check client frames", NULL);
		return EXIT_RUNTIME;
	}
	if (S.sigfd < 0 || setup_metrics() || ring_init(&S.ring, S.o.ring, S.o.ring_bytes)) {
		log_error("cannot start", " error=\"%s\"", S.sigfd < 0 ? err : "out of memory");
		return EXIT_RUNTIME;
	}
	cache_init(&S.cache);
	/* The exchanges the relay knows have ids from the start, so clients can name them
	 * before the feed does; other names come from the feed alone. */
	for (const struct xch *const *x = xch_all; *x; x++)
		intern_exchange((*x)->name, strlen((*x)->name));
	if (events_init(S.reg, S.o.run_dir, S.o.node_id, err, sizeof err)) {
		log_error("cannot start", " error=\"%s\"", err);
		return EXIT_RUNTIME;
	}
	js_init(&S.doc, 0);
	/* What the previous serve took in, back into the ring and the cache first. */
	if (S.o.run_dir && S.o.journal_bytes &&
	    journal_open(S.o.run_dir, S.o.journal_bytes, from_journal, err, sizeof err))
		log_warn("no journal: lines will not survive a restart", " error=\"%s\"", err);
	S.numbered = 0; /* whether the input numbers its lines is the input's to say */
	int status = open_input();
	if (status)
		return status;

	/* Thousands of clients need thousands of descriptors. */
	struct rlimit rl;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	S.ctx = create_context(&info);
	if (!S.ctx) {
		log_error("cannot listen", " port=%d", S.o.port);
		return EXIT_RUNTIME;
	}
	S.vh = lws_get_vhost_by_name(S.ctx, "serve");
	listen_fd = open_listener(err, sizeof err);
	if (listen_fd < 0) {
		log_error("cannot listen", " error=\"%s\"", err);
		lws_context_destroy(S.ctx);
		return EXIT_RUNTIME;
	}
	if (!S.vh || !loop_adopt(S.vh, S.sigfd, "raw", &kinds[RAW_SIGNALS]) ||
	    !(input_wsi = loop_adopt(S.vh, S.in_fd, "raw", &kinds[RAW_INPUT])) ||
	    !(listen_wsi = loop_adopt(S.vh, listen_fd, "raw", &kinds[RAW_LISTEN]))) {
		log_error("cannot watch the input and signals", NULL);
		lws_context_destroy(S.ctx);
		return EXIT_RUNTIME;
	}
	if (S.o.run_dir)
		rundir_write_pid(S.o.run_dir, "serve", err, sizeof err);
	log_info("listening", " port=%d path=%s www=%s tls=%s send_path=%s", S.o.port, S.o.path, S.o.www,
		 S.o.tls_cert ? "yes" : "no", fanout_path_name(S.o.send_path));
	lws_sul_schedule(S.ctx, 0, &S.sul_tick, tick_cb, TICK_US);
	if (fanout_start(S.reg, S.o.send_path, S.o.send_threads, info.extensions, S.o.relay_lag,
			 S.o.relay_wait_ms)) {
		log_error("cannot start the send threads", " error=\"%s\"", strerror(errno));
		lws_context_destroy(S.ctx);
		return EXIT_RUNTIME;
	}

	while (!S.done) {
		S.catchup_start = 0; /* a new turn (clients.c) */
		if (lws_service(S.ctx, 0) < 0)
			break;
		/* A follower's relay took more in its writable callback: the clients the relay
		 * gate held may go on. */
		if (S.gate_moved) {
			S.gate_moved = 0;
			fanout_wake();
		}
	}

	log_info("stopped", " clients_left=%d", S.nclients);
	fanout_stop();
	lws_sul_cancel(&S.sul_tick);
	lws_context_destroy(S.ctx);
	if (S.o.run_dir)
		rundir_remove_pid(S.o.run_dir, "serve");
	free_all();
	return EXIT_OK;
}
