/* ws.c: the URL, options, run bookkeeping and stats of the WebSocket test clients. */
#include "ws.h"

#include "clock.h"
#include "exitcode.h"
#include "opt.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct ws_opts ws_opt = {
	.clients = 1, .connect_timeout_ms = 30000, .max_inflight = 200,
	.stats_interval_ms = 1000,
};

struct ws_run ws_run = { .first_us = -1, .last_us = -1, .connect_ms = -1 };

/* ------------------------------------------------------------------ */
/* the URL                                                             */

int
ws_url_parse(const char *url, struct ws_url *u)
{
	const char *p, *h, *he;
	size_t n;

	if (!strncasecmp(url, "ws://", 5)) {
		u->tls = 0;
		p = url + 5;
	} else if (!strncasecmp(url, "wss://", 6)) {
		u->tls = 1;
		p = url + 6;
	} else {
		return -1;
	}
	u->port = u->tls ? 443 : 80;
	if (*p == '[') {
		h = p + 1;
		he = strchr(h, ']');
		if (!he)
			return -1;
		p = he + 1;
	} else {
		h = p;
		he = p + strcspn(p, ":/?#");
		p = he;
	}
	n = (size_t)(he - h);
	if (!n || n >= sizeof(u->host))
		return -1;
	memcpy(u->host, h, n);
	u->host[n] = '\0';
	if (*p == ':') {
		long long v;
		char num[8], err[64];
		size_t dl = strspn(p + 1, "0123456789");

		if (!dl || dl >= sizeof(num))
			return -1;
		memcpy(num, p + 1, dl);
		num[dl] = '\0';
		if (opt_long(num, 1, 65535, &v, err, sizeof err))
			return -1;
		u->port = (int)v;
		p += 1 + dl;
	}
	if (*p && *p != '/' && *p != '?')
		return -1;
	if (snprintf(u->path, sizeof(u->path), "%s%s", *p == '/' ? "" : "/", p) >=
	    (int)sizeof(u->path))
		return -1;
	/* no fragment on the wire, and nothing that would break the request line */
	u->path[strcspn(u->path, "#")] = '\0';
	if (strpbrk(u->path, " \r\n"))
		return -1;
	snprintf(u->host_header, sizeof(u->host_header),
		 strchr(u->host, ':') ? "[%s]" : "%s", u->host);
	if (u->port != (u->tls ? 443 : 80)) {
		n = strlen(u->host_header);
		snprintf(u->host_header + n, sizeof(u->host_header) - n, ":%d",
			 u->port);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* options                                                             */

int
ws_opt_number(const char *option, const char *arg, long long min, long long max,
	      long long *out, char *err, size_t errlen)
{
	char why[128];

	if (!opt_long(arg, min, max, out, why, sizeof why))
		return 0;
	snprintf(err, errlen, "%s: %s", option, why);
	return -1;
}

int
ws_opt_take(int ch, const char *arg, char *err, size_t errlen)
{
	long long v;

	switch (ch) {
	case 'n':
		if (ws_opt_number("--clients", arg, 1, WS_MAX_CLIENTS, &v, err, errlen))
			return -1;
		ws_opt.clients = (long)v;
		return 1;
	case WS_O_CONNECT_TIMEOUT:
		if (ws_opt_number("--connect-timeout", arg, 1, 86400000LL, &v, err, errlen))
			return -1;
		ws_opt.connect_timeout_ms = (long)v;
		return 1;
	case WS_O_COUNT:
		if (ws_opt_number("--count", arg, 1, LLONG_MAX, &v, err, errlen))
			return -1;
		ws_opt.count = v;
		return 1;
	case WS_O_DURATION:
		if (ws_opt_number("--duration", arg, 1, 86400000LL * 365, &v, err, errlen))
			return -1;
		ws_opt.duration_ms = (long)v;
		return 1;
	case WS_O_MAX_INFLIGHT:
		if (ws_opt_number("--max-inflight", arg, 1, 100000, &v, err, errlen))
			return -1;
		ws_opt.max_inflight = (long)v;
		return 1;
	case 'p':
		ws_opt.print = 1;
		return 1;
	case 'q':
		ws_opt.quiet = 1;
		return 1;
	case WS_O_STATS:
		ws_opt.stats = arg;
		return 1;
	case WS_O_STATS_INTERVAL:
		if (ws_opt_number("--stats-interval", arg, 10, 86400000LL, &v, err, errlen))
			return -1;
		ws_opt.stats_interval_ms = (long)v;
		return 1;
	default:
		return 0;
	}
}

int
ws_opt_url(int argc, char **argv, struct ws_url *u, char *err, size_t errlen)
{
	if (optind != argc - 1) {
		snprintf(err, errlen, "%s", optind < argc ? "exactly one URL expected" :
			 "missing URL");
		return -1;
	}
	ws_opt.url = argv[optind];
	if (ws_url_parse(ws_opt.url, u)) {
		snprintf(err, errlen, "bad URL '%.200s' (want ws:// or wss://HOST[:PORT][/PATH])",
			 ws_opt.url);
		return -1;
	}
	return 0;
}

int
ws_usage_error(const char *tool, const char *msg)
{
	fprintf(stderr, "%s: %s\nTry '%s --help'.\n", tool, msg, tool);
	return EXIT_USAGE;
}

/* ------------------------------------------------------------------ */
/* the run                                                             */

void
ws_run_start(void *peers, size_t peer_size, void (*stop)(int, const char *))
{
	long i;

	ws_run.peers = peers;
	ws_run.peer_size = peer_size;
	ws_run.stop = stop;
	ws_run.start_mono = clk_mono_us();
	ws_run.start_wall = clk_now_us();
	ws_run.nstate[WS_QUEUED] = ws_opt.clients;
	for (i = 0; i < ws_opt.clients; i++) {
		ws_peer(i)->idx = (int)i;
		ws_peer(i)->state = WS_QUEUED;
	}
	logm(LV_INFO, "starting", "url=\"%s\" clients=%ld", ws_opt.url, ws_opt.clients);
}

void
ws_end(struct ws_peer *p)
{
	ws_set_state(p, WS_DONE);
	if (!p->reached)
		ws_run.given_up++;
}

void
ws_opened(struct ws_peer *p)
{
	ws_set_state(p, WS_OPEN);
	ws_run.connected++;
	ws_run.connects++;
	if (p->ever) {
		ws_run.reconnects++;
		logm(LV_INFO, "reconnected", "client=%d", p->idx);
	} else {
		p->ever = 1;
		ws_run.connected_ever++;
		if (ws_run.connected_ever == ws_opt.clients) {
			ws_run.connect_ms = (clk_mono_us() - ws_run.start_mono) / 1000;
			logm(LV_INFO, "all connected", "clients=%ld ms=%" PRId64,
			     ws_opt.clients, ws_run.connect_ms);
		}
	}
	logm(LV_DEBUG, "connected", "client=%d", p->idx);
}

void
ws_failed(struct ws_peer *p, const char *err)
{
	char ebuf[300];

	ws_run.failed++;
	logm(LV_WARN, "failed", "client=%d error=%s", p->idx,
	     lq(ebuf, sizeof(ebuf), err, strlen(err)));
}

void
ws_rejected(struct ws_peer *p, unsigned status)
{
	ws_run.failed++;
	ws_run.rejected++;
	logm(LV_WARN, "rejected", "client=%d status=%u", p->idx, status);
}

void
ws_closed(struct ws_peer *p, unsigned code, const char *reason, size_t rlen)
{
	char rbuf[WS_REASON_MAX * 2 + 4];

	ws_run.connected--;
	ws_run.closed++;
	if (code < WS_MAX_CODES)
		ws_run.close_codes[code]++;
	logm(LV_INFO, "closed", "client=%d code=%u reason=%s", p->idx, code,
	     lq(rbuf, sizeof(rbuf), reason, rlen));
}

void
ws_connect_timeout(void (*abandon)(struct ws_peer *p))
{
	long i, n = 0;

	for (i = 0; i < ws_opt.clients; i++) {
		struct ws_peer *p = ws_peer(i);

		if (p->ever || p->state == WS_DONE)
			continue;
		p->timed_out = 1;
		n++;
		logm(LV_WARN, "timeout", "client=%ld error=\"not connected after %ld ms\"",
		     i, ws_opt.connect_timeout_ms);
		if (p->state == WS_QUEUED) {
			ws_run.failed++;
			ws_end(p);
		} else {
			abandon(p);
		}
	}
	if (n)
		logm(LV_WARN, "connect timeout", "clients=%ld timeout_ms=%ld",
		     n, ws_opt.connect_timeout_ms);
}

int
ws_stop(int status, const char *why, void (*close_one)(struct ws_peer *p))
{
	long i;

	if (ws_run.stopping)
		return -1;
	ws_run.stopping = 1;
	ws_run.stop_status = status;
	logm(LV_INFO, "stopping", "reason=\"%s\"", why);
	for (i = 0; i < ws_opt.clients; i++) {
		struct ws_peer *p = ws_peer(i);

		if (p->state == WS_QUEUED)
			ws_set_state(p, WS_DONE);
		else if (p->state != WS_DONE)
			close_one(p);
	}
	return 0;
}

static long
live(void)
{
	return ws_opt.clients - ws_run.nstate[WS_DONE];
}

void
ws_check_progress(void)
{
	const char *why = NULL;

	if (!ws_run.stopping) {
		if (!live())
			why = "all connections closed";
		else if (ws_opt.exit_on_close && ws_run.connects &&
			 !ws_run.nstate[WS_QUEUED] && !ws_inflight() &&
			 !ws_run.nstate[WS_OPEN] && !ws_run.nstate[WS_CLOSING])
			why = "all connections closed";
		else if (ws_opt.count > 0 && ws_run.reached &&
			 ws_run.reached + ws_run.given_up >= ws_opt.clients)
			why = "count reached";
		if (why)
			ws_run.stop(EXIT_OK, why);
	}
	if (ws_run.stopping && !live())
		ws_run.done = 1;
}

void
ws_on_signal(int sig)
{
	ws_run.got_signal = 1;
	if (ws_run.stopping)
		ws_run.done = 1;	/* a second signal: do not wait */
	else
		ws_run.stop(EXIT_OK, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

static void
per_client(uint64_t *mn, uint64_t *mx)
{
	long i;

	*mn = *mx = 0;
	for (i = 0; i < ws_opt.clients; i++) {
		uint64_t m = ws_peer(i)->msgs;

		if (!i || m < *mn)
			*mn = m;
		if (m > *mx)
			*mx = m;
	}
}

int
ws_finish(void)
{
	uint64_t mn, mx;
	int rc = ws_run.stop_status;
	long i, never = 0;

	if (!ws_run.got_signal && rc == EXIT_OK) {
		for (i = 0; i < ws_opt.clients; i++)
			if (!ws_peer(i)->ever)
				never++;
		if (never) {
			logm(LV_ERROR, "some clients never connected",
			     "clients=%ld", never);
			rc = EXIT_RUNTIME;
		}
	}
	if (live())
		logm(LV_WARN, "closing handshakes unfinished", "open=%ld", live());
	ws_stats_write();
	per_client(&mn, &mx);
	logm(LV_INFO, "done",
	     "clients=%ld connected_ever=%ld failed=%ld rejected=%ld closed=%ld "
	     "reconnects=%ld messages=%" PRIu64 " bytes=%" PRIu64 " too_big=%ld"
	     " per_client_min=%" PRIu64 " per_client_max=%" PRIu64
	     " elapsed_ms=%" PRId64 " status=%d",
	     ws_opt.clients, ws_run.connected_ever, ws_run.failed, ws_run.rejected,
	     ws_run.closed, ws_run.reconnects, ws_run.messages, ws_run.bytes,
	     ws_run.too_big, mn, mx, (clk_mono_us() - ws_run.start_mono) / 1000, rc);
	fflush(stdout);
	return rc;
}

void
ws_print(int idx, const char *p, size_t len)
{
	if (ws_run.stdout_broken)
		return;
	if (idx >= 0)
		fprintf(stdout, "%d ", idx);
	fwrite(p, 1, len, stdout);
	putc('\n', stdout);
	if (fflush(stdout) || ferror(stdout)) {
		ws_run.stdout_broken = 1;
		if (errno == EPIPE) {
			ws_run.stop(EXIT_OK, "stdout closed");
		} else {
			logm(LV_ERROR, "stdout write failed", "error=\"%s\"",
			     strerror(errno));
			ws_run.stop(EXIT_RUNTIME, "stdout write failed");
		}
	}
}

/* ------------------------------------------------------------------ */
/* stats                                                               */

static void
stats_to(FILE *f)
{
	uint64_t mn, mx;
	int first = 1;
	unsigned code;

	per_client(&mn, &mx);
	fprintf(f, "{\"clients\":%ld,\"connected\":%ld,\"connected_ever\":%ld,"
		"\"connects\":%ld,\"failed\":%ld,\"rejected\":%ld,\"closed\":%ld,"
		"\"reconnects\":%ld,\"stalled\":%ld,\"close_codes\":{",
		ws_opt.clients, ws_run.connected, ws_run.connected_ever,
		ws_run.connects, ws_run.failed, ws_run.rejected, ws_run.closed,
		ws_run.reconnects, ws_run.stalled);
	for (code = 0; code < WS_MAX_CODES; code++) {
		if (!ws_run.close_codes[code])
			continue;
		fprintf(f, "%s\"%u\":%" PRIu64, first ? "" : ",", code,
			ws_run.close_codes[code]);
		first = 0;
	}
	fprintf(f, "},\"messages\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"too_big\":%ld,\"resumes\":%ld,\"gaps\":%ld,\"seq_repeats\":%ld",
		ws_run.messages, ws_run.bytes, ws_run.too_big, ws_run.resumes,
		ws_run.gaps, ws_run.seq_repeats);
	if (ws_run.first_us >= 0)
		fprintf(f, ",\"first_ms\":%.3f,\"last_ms\":%.3f",
			(double)ws_run.first_us / 1000.0,
			(double)ws_run.last_us / 1000.0);
	else
		fputs(",\"first_ms\":null,\"last_ms\":null", f);
	fprintf(f, ",\"elapsed_ms\":%.3f",
		(double)(clk_mono_us() - ws_run.start_mono) / 1000.0);
	if (ws_run.connect_ms >= 0)
		fprintf(f, ",\"connect_ms\":%" PRId64, ws_run.connect_ms);
	else
		fputs(",\"connect_ms\":null", f);
	fprintf(f, ",\"latency_us\":{\"count\":%" PRIu64 ",\"p50\":%" PRId64
		",\"p90\":%" PRId64 ",\"p99\":%" PRId64 ",\"p999\":%" PRId64
		",\"max\":%" PRId64 "}", hist.count, h_pct(0.50), h_pct(0.90),
		h_pct(0.99), h_pct(0.999), hist.max);
	fprintf(f, ",\"per_client_min\":%" PRIu64 ",\"per_client_max\":%" PRIu64
		"}\n", mn, mx);
}

void
ws_stats_write(void)
{
	const char *path = ws_opt.stats;
	char tmp[PATH_MAX];
	struct stat sb;
	FILE *f;

	if (!path)
		return;
	if (!stat(path, &sb) && !S_ISREG(sb.st_mode)) {
		f = fopen(path, "w");
		if (!f)
			goto fail;
		stats_to(f);
		fclose(f);
		return;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    sizeof(tmp))
		goto fail;
	f = fopen(tmp, "w");
	if (!f)
		goto fail;
	stats_to(f);
	if (fflush(f) || ferror(f)) {
		fclose(f);
		unlink(tmp);
		goto fail;
	}
	fclose(f);
	if (rename(tmp, path)) {
		unlink(tmp);
		goto fail;
	}
	return;
fail:
	logm(LV_ERROR, "cannot write stats", "path=%s error=\"%s\"", path,
	     strerror(errno));
}

/* ------------------------------------------------------------------ */
/* frames, buffers, limits                                             */

size_t
ws_frame(unsigned char *dst, unsigned opcode, const unsigned char *p, size_t len,
	 const unsigned char key[4])
{
	unsigned char m = key ? 0x80 : 0;
	size_t h = 0, i;

	dst[h++] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		dst[h++] = (unsigned char)(m | len);
	} else if (len < 65536) {
		dst[h++] = (unsigned char)(m | 126);
		dst[h++] = (unsigned char)(len >> 8);
		dst[h++] = (unsigned char)len;
	} else {
		dst[h++] = (unsigned char)(m | 127);
		for (i = 0; i < 8; i++)
			dst[h++] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	if (key) {
		memcpy(dst + h, key, 4);
		h += 4;
	}
	for (i = 0; i < len; i++)
		dst[h + i] = key ? p[i] ^ key[i & 3] : p[i];
	return h + len;
}

int
ws_buf_reserve(char **buf, size_t *cap, size_t want)
{
	size_t ncap = *cap ? *cap : 4096;
	char *nb;

	if (want <= *cap)
		return 0;
	if (want > WS_MAX_MSG)
		return -1;
	while (ncap < want)
		ncap *= 2;
	if (ncap > WS_MAX_MSG)
		ncap = WS_MAX_MSG;
	nb = realloc(*buf, ncap);
	if (!nb)
		return -1;
	*buf = nb;
	*cap = ncap;
	return 0;
}

void
ws_raise_fd_limit(struct rlimit *rl)
{
	if (getrlimit(RLIMIT_NOFILE, rl))
		return;
	if (rl->rlim_cur < rl->rlim_max) {
		rlim_t want = rl->rlim_max;

		if (want == RLIM_INFINITY || want > (1u << 20))
			want = 1u << 20;
		if (want > rl->rlim_cur) {
			struct rlimit nr = { want, rl->rlim_max };

			if (!setrlimit(RLIMIT_NOFILE, &nr))
				rl->rlim_cur = want;
		}
	}
	if ((long long)rl->rlim_cur < ws_opt.clients + 32)
		logm(LV_WARN, "fd limit too low for the clients",
		     "limit=%llu clients=%ld", (unsigned long long)rl->rlim_cur,
		     ws_opt.clients);
}
