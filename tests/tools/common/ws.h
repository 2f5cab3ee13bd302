/*
 * ws.h: what the WebSocket test clients (wsclient, wsload) share beyond their
 * log and histogram (tool.h): the URL, the options both take, one run's
 * clients and counters with the decisions taken on them (when to stop, the
 * exit status), the stats JSON, the per-message bookkeeping and latency scan,
 * client frames, and the fd limit.  The transport stays in each tool: wsclient
 * drives libwebsockets, wsload its own epoll loop, so both report the same
 * figures and log the same event lines whatever carries the bytes.
 *
 * One run per process (ws_opt, ws_run).  Each tool's client struct starts
 * with a struct ws_peer, and ws_run_start() is given the array.
 */
#ifndef TESTS_TOOLS_WS_H
#define TESTS_TOOLS_WS_H

#include "tool.h"

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#define WS_MAX_MSG	(16u * 1024 * 1024)	/* bigger messages count in too_big */
#define WS_SCAN_MAX	300u			/* bytes searched for "local_ts": */
#define WS_MAX_CLIENTS	1000000
#define WS_MAX_CODES	5000			/* close codes are 1000..4999 */
#define WS_SHUTDOWN_MS	3000			/* wait for our close handshakes */
#define WS_REASON_MAX	124			/* a close frame carries <= 123 */
#define WS_FRAME_HEAD_MAX 14			/* a client frame's header, mask included */

/* ---- the URL ---- */

struct ws_url {
	int tls;			/* wss:// */
	char host[256];			/* without the brackets of an IPv6 address */
	int port;
	char path[4096];		/* path and query, never empty, no fragment */
	char host_header[300];		/* host[:port] as a Host header writes it */
};

/* Parses ws://HOST[:PORT][/PATH][?QUERY] or wss://...  Returns 0, or -1 when
 * URL is not one (a path with a space or a line break included). */
int ws_url_parse(const char *url, struct ws_url *u);

/* ---- the options both tools take ---- */

extern struct ws_opts {
	const char *url;
	long clients;			/* -n */
	long connect_timeout_ms;
	long max_inflight;
	const char *stats;		/* --stats FILE, or NULL */
	long stats_interval_ms;
	long long count;		/* 0: no --count */
	long duration_ms;		/* 0: no --duration */
	int print, quiet;		/* -p, -q as given; each tool decides what they mean */
	int exit_on_close;		/* wsclient's --exit-on-close */
} ws_opt;

/* Their long options, to start each tool's table with; the tools' own values
 * start at WS_O_TOOL. */
enum {
	WS_O_CONNECT_TIMEOUT = 256, WS_O_COUNT, WS_O_DURATION, WS_O_MAX_INFLIGHT,
	WS_O_STATS, WS_O_STATS_INTERVAL, WS_O_VERSION, WS_O_TOOL,
};
#define WS_LONGOPTS \
	{ "clients", required_argument, NULL, 'n' }, \
	{ "connect-timeout", required_argument, NULL, WS_O_CONNECT_TIMEOUT }, \
	{ "count", required_argument, NULL, WS_O_COUNT }, \
	{ "duration", required_argument, NULL, WS_O_DURATION }, \
	{ "help", no_argument, NULL, 'h' }, \
	{ "max-inflight", required_argument, NULL, WS_O_MAX_INFLIGHT }, \
	{ "print", no_argument, NULL, 'p' }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "stats", required_argument, NULL, WS_O_STATS }, \
	{ "stats-interval", required_argument, NULL, WS_O_STATS_INTERVAL }, \
	{ "version", no_argument, NULL, WS_O_VERSION }
#define WS_SHORTOPTS	"hn:pq"

/* Their lines of --help, in the order of the tools' synopses. */
#define WS_USAGE_CONNECT \
"  -n, --clients N           open N connections (default 1)\n" \
"      --max-inflight N      at most N handshakes at once (default 200)\n" \
"      --connect-timeout MS  the whole set must connect within MS (default 30000)\n"
#define WS_USAGE_RUN \
"      --stats FILE          write a JSON summary every interval and at exit\n" \
"      --stats-interval MS   (default 1000)\n" \
"      --count N             exit when every client has received N messages\n" \
"      --duration MS         exit after MS\n"

/* ARG as a whole number of [MIN, MAX] into *OUT.  Returns 0, or -1 with ERR
 * naming OPTION and saying why ("--count: 0 is out of range (1-...)"). */
int ws_opt_number(const char *option, const char *arg, long long min,
		  long long max, long long *out, char *err, size_t errlen);

/* Takes option CH (getopt_long's) with ARG when it is one of WS_LONGOPTS but
 * -h and --version.  Returns 1 when taken, 0 when CH is the tool's own, -1
 * with ERR saying which option and why ("--clients: ...") when ARG is bad. */
int ws_opt_take(int ch, const char *arg, char *err, size_t errlen);

/* Takes the one URL left after the options (argv[optind], the last) into
 * ws_opt.url and U.  Returns 0, or -1 with ERR. */
int ws_opt_url(int argc, char **argv, struct ws_url *u, char *err, size_t errlen);

/* "TOOL: MSG" and the hint to --help on stderr; returns EXIT_USAGE. */
int ws_usage_error(const char *tool, const char *msg);

/* ---- the run ---- */

/*
 * A client is QUEUED for its turn to connect, CONNECTING (TCP, and for
 * wsclient the whole upgrade), in the HANDSHAKE (wsload: upgrade sent), OPEN,
 * CLOSING (wsload: our own close at the end of the run), in BACKOFF before
 * reconnecting (wsclient), or DONE for good.  Changes go through
 * ws_set_state(), which keeps the count of clients in each state.
 */
enum ws_state { WS_QUEUED, WS_CONNECTING, WS_HANDSHAKE, WS_OPEN, WS_CLOSING,
		WS_BACKOFF, WS_DONE, WS_NSTATES };

/* The first member of each tool's client struct. */
struct ws_peer {
	uint64_t msgs;			/* messages over all its connections */
	int idx;
	uint8_t state;			/* enum ws_state */
	uint8_t ever;			/* has been open once */
	uint8_t reached;		/* got --count messages */
	uint8_t timed_out;		/* abandoned at --connect-timeout */
};

extern struct ws_run {
	/* The tool's stop: closes every connection (ws_stop() does the rest). */
	void (*stop)(int status, const char *why);
	char *peers;			/* the tool's clients... */
	size_t peer_size;		/* ...each this big */
	long nstate[WS_NSTATES];
	long connected;			/* open, not counting our own final closes */
	long connected_ever, connects, failed, rejected, closed;
	long reconnects, stalled, too_big;
	long resumes;			/* reconnections that asked for since= */
	long gaps;			/* gap lines received */
	long seq_repeats;		/* lines whose position was not above the last one */
	long reached;			/* clients that got --count messages */
	long given_up;			/* finished without getting them */
	uint64_t messages, bytes;
	uint64_t close_codes[WS_MAX_CODES];
	int64_t start_mono, start_wall;
	int64_t first_us, last_us;	/* since start, -1 = none yet */
	int64_t connect_ms;		/* every client open; -1 = not yet */
	int stopping, stop_status, done;
	int got_signal;			/* SIGINT or SIGTERM: exit 0 whatever happened */
	int stdout_broken;
} ws_run;

/* Starts the clock; PEERS (ws_opt.clients of PEER_SIZE bytes, zeroed) are
 * numbered and QUEUED.  STOP is the tool's stop. */
void ws_run_start(void *peers, size_t peer_size, void (*stop)(int, const char *));

static inline struct ws_peer *
ws_peer(long i)
{
	return (struct ws_peer *)(void *)(ws_run.peers + (size_t)i * ws_run.peer_size);
}

static inline void
ws_set_state(struct ws_peer *p, enum ws_state s)
{
	ws_run.nstate[p->state]--;
	ws_run.nstate[s]++;
	p->state = (uint8_t)s;
}

/* Handshakes under way, for --max-inflight. */
static inline long
ws_inflight(void)
{
	return ws_run.nstate[WS_CONNECTING] + ws_run.nstate[WS_HANDSHAKE];
}

/* Client P is DONE: it will not connect again. */
void ws_end(struct ws_peer *p);

/* P's upgrade succeeded: it is OPEN, counted, and the first time every
 * client is, "all connected" is logged; a client open before counts a
 * reconnection. */
void ws_opened(struct ws_peer *p);

/* A connection attempt of P failed (ERR, logged) or was answered with an
 * HTTP STATUS other than 101.  Counted; P's state is the caller's. */
void ws_failed(struct ws_peer *p, const char *err);
void ws_rejected(struct ws_peer *p, unsigned status);

/* P's open connection was closed by the peer with CODE (1005: no code, 1006:
 * no close frame) and REASON (RLEN bytes).  Counted and logged; P's state is
 * the caller's. */
void ws_closed(struct ws_peer *p, unsigned code, const char *reason, size_t rlen);

/* At --connect-timeout: each client never open and not done is logged and
 * marked timed out; queued ones count as failed and are done, the others go
 * to ABANDON (the tool ends or cancels the attempt). */
void ws_connect_timeout(void (*abandon)(struct ws_peer *p));

/* Begins the end of the run with STATUS: logs WHY; queued clients are done,
 * and CLOSE_ONE gets every other client not done yet.  Returns -1 when the
 * run was stopping already (nothing done), else 0. */
int ws_stop(int status, const char *why, void (*close_one)(struct ws_peer *p));

/* After every change of state: stops the run when it has nothing left to do
 * (no connection left, --exit-on-close, --count reached), and sets
 * ws_run.done when a stopping run has no connection left. */
void ws_check_progress(void);

/* SIGINT or SIGTERM: the run stops, and a second one ends the wait for the
 * close handshakes at once. */
void ws_on_signal(int sig);

/* The end: the exit status (1 when some client never connected, unless a
 * signal stopped the run), the last stats and the "done" log line. */
int ws_finish(void);

/* One whole message of LEN payload bytes for P. */
static inline void
ws_count_message(struct ws_peer *p, uint64_t len)
{
	p->msgs++;
	ws_run.messages++;
	ws_run.bytes += len;
}

/* After ws_count_message(): 1 when P has just got its --count messages
 * (ws_check_progress() may then stop the run), else 0. */
static inline int
ws_reached(struct ws_peer *p)
{
	if (ws_opt.count > 0 && !p->reached && p->msgs >= (uint64_t)ws_opt.count) {
		p->reached = 1;
		ws_run.reached++;
		return 1;
	}
	return 0;
}

/* Messages arrived at NOW (wall clock, us): first_ms and last_ms. */
static inline void
ws_received_at(int64_t now)
{
	int64_t rel = now - ws_run.start_wall;

	if (ws_run.first_us < 0)
		ws_run.first_us = rel;
	ws_run.last_us = rel;
}

/*
 * Where the value of "local_ts": starts in p (len bytes), or NULL.  It looks
 * for the '_', rare in market data, and checks what is around it: a third of
 * the cost of memmem() on a trade line.
 */
static inline const char *
ws_find_local_ts(const char *p, size_t len)
{
	const char *q = p, *end = p + len;

	while ((q = memchr(q, '_', (size_t)(end - q)))) {
		if (q - p >= 6 && end - q >= 5 && !memcmp(q - 6, "\"local", 6) &&
		    !memcmp(q + 1, "ts\":", 4))
			return q + 5;
		q++;
	}
	return NULL;
}

/* One latency sample, NOW - "local_ts":<us>, when the LEN bytes at P hold
 * one (0 is a placeholder, not a time).  Callers pass a message's first
 * WS_SCAN_MAX bytes at most: the field is near the start of a line. */
static inline void
ws_scan_latency(const char *p, size_t len, int64_t now)
{
	const char *q, *end = p + len;
	int64_t v = 0;
	int nd = 0;

	q = ws_find_local_ts(p, len);
	if (!q)
		return;
	while (q < end && *q == ' ')
		q++;
	while (q < end && *q >= '0' && *q <= '9' && nd < 18) {
		v = v * 10 + (*q++ - '0');
		nd++;
	}
	if (!nd || !v)
		return;
	h_add(now - v);
}

/* Writes a message as one line on stdout, "IDX " first when IDX >= 0, and
 * flushes it.  When stdout fails the run stops (EPIPE: a reader that went
 * away, exit 0) and nothing more is printed. */
void ws_print(int idx, const char *p, size_t len);

/* Rewrites the --stats file: a temp file renamed over it, or straight into
 * it when it is not a regular file (/dev/stderr, a fifo). */
void ws_stats_write(void);

/* ---- frames, buffers, limits ---- */

/* A final client frame of OPCODE carrying P (LEN bytes) into DST (LEN +
 * WS_FRAME_HEAD_MAX bytes), masked with KEY, or unmasked when KEY is NULL (a
 * frame that breaks the rules, for testing a server).  Returns its size. */
size_t ws_frame(unsigned char *dst, unsigned opcode, const unsigned char *p,
		size_t len, const unsigned char key[4]);

/* Makes *BUF (*CAP bytes) hold at least WANT bytes, doubling from 4 KiB,
 * never past WS_MAX_MSG.  0, or -1 when WANT is over it or memory ran out
 * (the buffer is kept). */
int ws_buf_reserve(char **buf, size_t *cap, size_t want);

/* Raises the fd limit to the hard limit (at most 2^20), warns when it is too
 * low for ws_opt.clients, and leaves the limit in RL. */
void ws_raise_fd_limit(struct rlimit *rl);

#endif
