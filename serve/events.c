/* events.c: serve's incident history. Every status line serve relays (feed connects and
 * disconnects with their cause, book resyncs, mode switches, ...) and serve's own events
 * (start, role changes, slow clients cut) become one compact record:
 *
 *   {"type":"status","exchange":"upbit","symbol":"BTC-KRW","local_ts":N,"event":"resync","detail":"..."}
 *
 * The newest EVENTS_MAX are held in memory for /api/events; each is also appended to
 * RUN_DIR/events.ndjson, which is renamed to events.ndjson.1 when it would pass
 * EVENTS_FILE_MAX bytes, so the history survives a restart and takes at most two files. */
#include "events.h"
#include "clock.h"
#include "jw.h"
#include "log.h"
#include "rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EX_MAX 32
#define KIND_MAX 24
#define SYM_MAX 40
#define QUERY_NAMES 16
#define HOURS_MAX 48
#define HOUR_KINDS 16
#define LIMIT_DEFAULT 500

struct ev {
	int64_t ts;
	char ex[EX_MAX + 1];
	char kind[KIND_MAX + 1];
	char *line; /* the record, no newline */
	uint32_t len;
};

static struct {
	struct ev ring[EVENTS_MAX];
	uint64_t n; /* records held so far; the newest is ring[(n - 1) % EVENTS_MAX] */
	const char *run_dir;
	const char *node;
	int fd;
	off_t size;
	double tokens;
	int64_t refill_mono;
	char role[600];
	int role_known;
	double slow_seen;
	int slow_known;
	struct js_doc doc;
	struct log_limit rl;
	struct met *m_recorded, *m_dropped_rate, *m_dropped_shape, *m_write_errors;
} E = { .fd = -1 };

/* ---- records ---- */

/* Length of the longest prefix of the escaped JSON string text S (N bytes) that fits in MAX
 * bytes and ends between characters: never inside an escape, a UTF-8 sequence, or a
 * surrogate pair written as two escapes. */
static size_t cut_escaped(const char *s, size_t n, size_t max)
{
	size_t i = 0, good = 0;
	while (i < n) {
		size_t k = 1;
		unsigned char c = (unsigned char)s[i];
		int high = 0;
		if (c == '\\') {
			k = i + 1 < n && s[i + 1] == 'u' ? 6 : 2;
			if (k == 6 && i + 2 < n && (s[i + 2] == 'd' || s[i + 2] == 'D') && i + 3 < n &&
			    strchr("89abAB", s[i + 3]))
				high = 1; /* the first half of a surrogate pair: keep it with the second */
		} else if (c >= 0xf0) {
			k = 4;
		} else if (c >= 0xe0) {
			k = 3;
		} else if (c >= 0xc0) {
			k = 2;
		}
		if (i + k > max || i + k > n)
			break;
		i += k;
		if (!high)
			good = i;
	}
	return good;
}

/* Builds the record into W (reset first). Strings marked RAW are escaped JSON text taken
 * from a parsed line; the others are plain text. SYM and DETAIL may be NULL. */
static void build(struct jw *w, const char *ex, const char *kind, int64_t ts, const char *sym, size_t symn,
		  int sym_raw, const char *detail, size_t detn, int det_raw)
{
	jw_reset(w);
	jw_lit(w, "{\"type\":\"status\",\"exchange\":");
	jw_str(w, ex, strlen(ex));
	if (sym && symn) {
		jw_lit(w, ",\"symbol\":");
		if (sym_raw)
			jw_json_str(w, sym, symn);
		else
			jw_str(w, sym, symn);
	}
	jw_lit(w, ",\"local_ts\":");
	jw_int(w, ts);
	jw_lit(w, ",\"event\":");
	jw_str(w, kind, strlen(kind));
	if (detail && detn) {
		size_t keep = detn <= EVENTS_DETAIL_MAX ? detn : cut_escaped(detail, detn, EVENTS_DETAIL_MAX);
		jw_lit(w, ",\"detail\":");
		if (keep == detn) {
			if (det_raw)
				jw_json_str(w, detail, detn);
			else
				jw_str(w, detail, detn);
		} else if (det_raw) {
			/* Cut: the text so far, and a mark that says so. */
			jw_char(w, '"');
			jw_raw(w, detail, keep);
			jw_lit(w, "...\"");
		} else {
			char cut[EVENTS_DETAIL_MAX + 4];
			memcpy(cut, detail, keep);
			memcpy(cut + keep, "...", 3);
			jw_str(w, cut, keep + 3);
		}
	}
	jw_char(w, '}');
}

/* Keeps a record in memory (copying LINE). */
static int hold(int64_t ts, const char *ex, const char *kind, const char *line, size_t len)
{
	char *copy = malloc(len);
	if (!copy)
		return -1;
	memcpy(copy, line, len);
	struct ev *e = &E.ring[E.n % EVENTS_MAX];
	free(e->line);
	e->ts = ts;
	snprintf(e->ex, sizeof e->ex, "%s", ex);
	snprintf(e->kind, sizeof e->kind, "%s", kind);
	e->line = copy;
	e->len = (uint32_t)len;
	E.n++;
	return 0;
}

static void file_path(const char *name, char *buf, size_t n)
{
	if (rundir_path(E.run_dir, name, buf, n))
		buf[0] = 0;
}

static void open_file(int truncate)
{
	char path[4096];
	file_path("events.ndjson", path, sizeof path);
	if (!path[0])
		return;
	E.fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0644);
	struct stat st;
	E.size = E.fd >= 0 && !fstat(E.fd, &st) ? st.st_size : 0;
	if (E.fd < 0 && log_allow(&E.rl, clk_mono_us()) >= 0)
		log_warn("cannot open the event history", " path=%s error=\"%s\"", path, strerror(errno));
}

/* Appends LINE and a newline to the file, starting a new file when this one is full. */
static void append(const char *line, size_t len)
{
	if (!E.run_dir)
		return;
	if (E.fd >= 0 && E.size + (off_t)len + 1 > EVENTS_FILE_MAX) {
		char cur[4096], old[4096];
		file_path("events.ndjson", cur, sizeof cur);
		file_path("events.ndjson.1", old, sizeof old);
		close(E.fd);
		E.fd = -1;
		if (rename(cur, old) && log_allow(&E.rl, clk_mono_us()) >= 0)
			log_warn("cannot rotate the event history", " path=%s error=\"%s\"", cur, strerror(errno));
		open_file(1);
	}
	if (E.fd < 0)
		open_file(0);
	if (E.fd < 0) {
		E.m_write_errors->v++;
		return;
	}
	/* One write() per record, newline included, so a crash leaves at most one partial line. */
	char stackbuf[1024];
	char *buf = len + 1 <= sizeof stackbuf ? stackbuf : malloc(len + 1);
	if (!buf) {
		E.m_write_errors->v++;
		return;
	}
	memcpy(buf, line, len);
	buf[len] = '\n';
	ssize_t w = write(E.fd, buf, len + 1);
	if (buf != stackbuf)
		free(buf);
	if (w != (ssize_t)len + 1) {
		E.m_write_errors->v++;
		if (log_allow(&E.rl, clk_mono_us()) >= 0)
			log_warn("cannot write the event history", " error=\"%s\"", w < 0 ? strerror(errno) : "short write");
		if (w > 0)
			E.size += w;
		return;
	}
	E.size += w;
}

/* A flood of status lines must not turn into a flood of writes: a token bucket. */
static int allowed(void)
{
	int64_t now = clk_mono_us();
	if (!E.refill_mono) {
		E.refill_mono = now;
		E.tokens = EVENTS_PER_SECOND;
	}
	E.tokens += (double)(now - E.refill_mono) * EVENTS_PER_SECOND / 1e6;
	if (E.tokens > EVENTS_PER_SECOND)
		E.tokens = EVENTS_PER_SECOND;
	E.refill_mono = now;
	if (E.tokens < 1) {
		E.m_dropped_rate->v++;
		if (log_allow(&E.rl, now) >= 0)
			log_warn("status lines arrive faster than the event history records them; some not recorded",
				 " max_per_second=%d", EVENTS_PER_SECOND);
		return 0;
	}
	E.tokens -= 1;
	return 1;
}

static void record(struct jw *w, int64_t ts, const char *ex, const char *kind, int persist)
{
	if (w->err) {
		E.m_dropped_shape->v++;
		return;
	}
	if (hold(ts, ex, kind, w->buf, w->len)) {
		E.m_dropped_shape->v++;
		return;
	}
	if (persist) {
		E.m_recorded->v++;
		append(w->buf, w->len);
	}
}

/* A plain string member of D's object (no escapes) of 1..MAX bytes, copied into OUT. */
static int plain_member(const struct js_doc *d, int t, size_t max, char *out)
{
	if (js_type(d, t) != JS_STRING || !js_len(d, t) || js_len(d, t) > max || (d->tok[t].flags & JS_ESCAPED))
		return -1;
	memcpy(out, js_ptr(d, t), js_len(d, t));
	out[js_len(d, t)] = 0;
	return 0;
}

/* The record for the status line in D into W; 0, or -1 when the line is not one. */
static int from_doc(const struct js_doc *d, struct jw *w, int64_t *ts, char *ex, char *kind)
{
	if (js_type(d, 0) != JS_OBJECT || plain_member(d, js_get(d, 0, "exchange"), EX_MAX, ex) ||
	    plain_member(d, js_get(d, 0, "event"), KIND_MAX, kind))
		return -1;
	if (js_int64(d, js_get(d, 0, "local_ts"), ts) || *ts <= 0)
		*ts = clk_now_us();
	int sy = js_get(d, 0, "symbol"), de = js_get(d, 0, "detail");
	int has_sym = js_type(d, sy) == JS_STRING && js_len(d, sy) <= SYM_MAX;
	int has_det = js_type(d, de) == JS_STRING;
	build(w, ex, kind, *ts, has_sym ? js_ptr(d, sy) : NULL, has_sym ? js_len(d, sy) : 0, 1,
	      has_det ? js_ptr(d, de) : NULL, has_det ? js_len(d, de) : 0, 1);
	return 0;
}

static struct jw W; /* reused for every record */

void events_status(const struct js_doc *d)
{
	char ex[EX_MAX + 1], kind[KIND_MAX + 1];
	int64_t ts;
	if (!E.m_recorded)
		return;
	if (from_doc(d, &W, &ts, ex, kind)) {
		E.m_dropped_shape->v++;
		return;
	}
	if (allowed())
		record(&W, ts, ex, kind, 1);
}

void events_local(const char *exchange, const char *kind, const char *detail)
{
	if (!E.m_recorded || !allowed())
		return;
	int64_t ts = clk_now_us();
	build(&W, exchange, kind, ts, NULL, 0, 0, detail, detail ? strlen(detail) : 0, 0);
	record(&W, ts, exchange, kind, 1);
}

/* ---- the history at start ---- */

/* Loads the records of one file, oldest first; a partial or foreign line is skipped. */
static void load_file(const char *name, int *bad)
{
	char path[4096];
	file_path(name, path, sizeof path);
	int fd = path[0] ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	/* Only the last EVENTS_FILE_MAX bytes: a file grown by someone else is not read whole. */
	off_t from = st.st_size > EVENTS_FILE_MAX ? st.st_size - EVENTS_FILE_MAX : 0;
	size_t size = (size_t)(st.st_size - from);
	char *buf = malloc(size + 1);
	ssize_t got = buf ? pread(fd, buf, size, from) : -1;
	close(fd);
	if (got < 0) {
		free(buf);
		return;
	}
	char *p = buf, *end = buf + got;
	if (from > 0) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		char ex[EX_MAX + 1], kind[KIND_MAX + 1];
		int64_t ts;
		if (len && js_parse(&E.doc, p, len) == JS_OK && !from_doc(&E.doc, &W, &ts, ex, kind))
			record(&W, ts, ex, kind, 0);
		else if (len)
			(*bad)++;
		p += len + 1;
	}
	free(buf);
}

static void read_role(char *out, size_t n)
{
	char role[32] = "leader", epoch[32] = "", leader[512] = "";
	if (rundir_read(E.run_dir, "role", role, sizeof role) < 0)
		snprintf(role, sizeof role, "leader");
	if (rundir_read(E.run_dir, "epoch", epoch, sizeof epoch) < 0)
		epoch[0] = 0;
	if (rundir_read(E.run_dir, "leader", leader, sizeof leader) < 0)
		leader[0] = 0;
	if (!strcmp(role, "leader"))
		snprintf(out, n, "leader%s%s", epoch[0] ? ", epoch " : "", epoch);
	else
		snprintf(out, n, "follower, leader %s", leader[0] ? leader : "unknown");
}

int events_init(struct met_reg *reg, const char *run_dir, const char *node, char *errbuf, size_t errlen)
{
	E.run_dir = run_dir;
	E.node = node;
	E.m_recorded = met_add(reg, MET_COUNTER, "exchange_serve_events_total",
			       "Incidents recorded in the event history (/api/events).", NULL);
	E.m_dropped_rate = met_add(reg, MET_COUNTER, "exchange_serve_events_dropped_total",
				   "Incidents not recorded, by reason.", "reason=\"rate\"");
	E.m_dropped_shape = met_add(reg, MET_COUNTER, "exchange_serve_events_dropped_total",
				    "Incidents not recorded, by reason.", "reason=\"shape\"");
	E.m_write_errors = met_add(reg, MET_COUNTER, "exchange_serve_events_write_errors_total",
				   "Records the event history file did not take.", NULL);
	jw_init(&W, 4096);
	js_init(&E.doc, 256);
	if (!E.m_recorded || !E.m_dropped_rate || !E.m_dropped_shape || !E.m_write_errors) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	char detail[700];
	if (run_dir) {
		int bad = 0;
		load_file("events.ndjson.1", &bad);
		load_file("events.ndjson", &bad);
		if (bad)
			log_warn("event history: lines skipped", " lines=%d", bad);
		log_info("event history loaded", " events=%llu", (unsigned long long)(E.n < EVENTS_MAX ? E.n : EVENTS_MAX));
		open_file(0);
		/* A line cut short by a crash must not swallow the next record. */
		char last = '\n';
		char path[4096];
		file_path("events.ndjson", path, sizeof path);
		int fd = E.size > 0 && path[0] ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		if (fd >= 0) {
			if (pread(fd, &last, 1, E.size - 1) != 1)
				last = '\n';
			close(fd);
		}
		if (last != '\n' && E.fd >= 0 && write(E.fd, "\n", 1) == 1)
			E.size++;
		read_role(E.role, sizeof E.role);
		E.role_known = 1;
		snprintf(detail, sizeof detail, "serve started on node %s, %s", node, E.role);
	} else {
		snprintf(detail, sizeof detail, "serve started on node %s", node);
	}
	events_local("relay", "start", detail);
	return 0;
}

void events_free(void)
{
	for (int i = 0; i < EVENTS_MAX; i++) {
		free(E.ring[i].line);
		E.ring[i].line = NULL;
	}
	if (E.fd >= 0)
		close(E.fd);
	E.fd = -1;
	jw_free(&W);
	js_free(&E.doc);
}

void events_tick(double slow_total)
{
	if (!E.m_recorded)
		return;
	if (E.slow_known && slow_total > E.slow_seen) {
		char detail[96];
		snprintf(detail, sizeof detail, "%.0f client%s closed with 1013: too slow to keep up",
			 slow_total - E.slow_seen, slow_total - E.slow_seen == 1 ? "" : "s");
		events_local("relay", "slow_client", detail);
	}
	E.slow_seen = slow_total;
	E.slow_known = 1;
	if (E.run_dir) {
		char role[sizeof E.role];
		read_role(role, sizeof role);
		if (E.role_known && strcmp(role, E.role))
			events_local("relay", "role", role);
		memcpy(E.role, role, sizeof role);
		E.role_known = 1;
	}
}

/* ---- /api/events ---- */

struct query {
	char ex[QUERY_NAMES][EX_MAX + 1];
	int nex;
	char kind[QUERY_NAMES][EX_MAX + 1]; /* rows as wide as ex's: one parser for both */
	int nkind;
	long limit;
};

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A comma list into NAMES (at most QUERY_NAMES of at most MAX bytes); -1 when it does not fit. */
static int parse_list(const char *v, size_t vlen, char names[][EX_MAX + 1], size_t max, int *n)
{
	size_t i = 0;
	while (i < vlen) {
		size_t j = i;
		while (j < vlen && v[j] != ',')
			j++;
		if (j > i) {
			if (*n == QUERY_NAMES || j - i > max)
				return -1;
			memcpy(names[*n], v + i, j - i);
			names[*n][j - i] = 0;
			(*n)++;
		}
		i = j + 1;
	}
	return 0;
}

static int parse_query(const char *q, struct query *out, char *why, size_t whylen)
{
	memset(out, 0, sizeof *out);
	out->limit = LIMIT_DEFAULT;
	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t plen = amp ? (size_t)(amp - q) : strlen(q);
		char arg[1024];
		size_t n = 0;
		/* Percent-decoding: %2C for the commas some clients encode. */
		for (size_t i = 0; i < plen && n + 1 < sizeof arg; i++) {
			if (q[i] == '%' && i + 2 < plen && hexval(q[i + 1]) >= 0 && hexval(q[i + 2]) >= 0) {
				arg[n++] = (char)(hexval(q[i + 1]) * 16 + hexval(q[i + 2]));
				i += 2;
			} else {
				arg[n++] = q[i] == '+' ? ' ' : q[i];
			}
		}
		arg[n] = 0;
		char *eq = strchr(arg, '=');
		const char *val = eq ? eq + 1 : "";
		size_t klen = eq ? (size_t)(eq - arg) : n;
#define KEY(lit) (klen == sizeof(lit) - 1 && !memcmp(arg, lit, klen))
		if (KEY("exchange") || KEY("exchanges")) {
			if (parse_list(val, strlen(val), out->ex, EX_MAX, &out->nex)) {
				snprintf(why, whylen, "exchange: at most %d names of at most %d characters", QUERY_NAMES, EX_MAX);
				return -1;
			}
		} else if (KEY("kind") || KEY("kinds") || KEY("event")) {
			if (parse_list(val, strlen(val), out->kind, KIND_MAX, &out->nkind)) {
				snprintf(why, whylen, "kind: at most %d names of at most %d characters", QUERY_NAMES, KIND_MAX);
				return -1;
			}
		} else if (KEY("limit")) {
			char *end;
			errno = 0;
			long v = strtol(val, &end, 10);
			if (!*val || *end || errno || v < 1 || v > EVENTS_MAX) {
				snprintf(why, whylen, "limit must be a whole number from 1 to %d", EVENTS_MAX);
				return -1;
			}
			out->limit = v;
		}
#undef KEY
		/* Other parameters (a token, say) are not this endpoint's business. */
		q = amp ? amp + 1 : NULL;
	}
	return 0;
}

static int listed(const char names[][EX_MAX + 1], int n, const char *s)
{
	if (!n)
		return 1;
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return 1;
	return 0;
}

struct hour {
	int64_t start;
	uint32_t total;
	int nkinds;
	char kind[HOUR_KINDS][KIND_MAX + 1];
	uint32_t count[HOUR_KINDS];
};

static void count_hour(struct hour *hours, int *nhours, const struct ev *e)
{
	int64_t start = e->ts - e->ts % 3600000000LL;
	struct hour *h = NULL;
	for (int i = 0; i < *nhours; i++)
		if (hours[i].start == start)
			h = &hours[i];
	if (!h) {
		if (*nhours == HOURS_MAX)
			return; /* older than the hours shown */
		h = &hours[(*nhours)++];
		memset(h, 0, sizeof *h);
		h->start = start;
	}
	h->total++;
	for (int k = 0; k < h->nkinds; k++)
		if (!strcmp(h->kind[k], e->kind)) {
			h->count[k]++;
			return;
		}
	if (h->nkinds < HOUR_KINDS - 1) {
		snprintf(h->kind[h->nkinds], sizeof h->kind[0], "%s", e->kind);
		h->count[h->nkinds++] = 1;
		return;
	}
	/* The last slot counts every kind beyond the others. */
	if (h->nkinds == HOUR_KINDS - 1) {
		snprintf(h->kind[h->nkinds], sizeof h->kind[0], "other");
		h->count[h->nkinds++] = 0;
	}
	h->count[HOUR_KINDS - 1]++;
}

static int hour_cmp(const void *a, const void *b)
{
	const struct hour *x = a, *y = b;
	return x->start < y->start ? 1 : x->start > y->start ? -1 : 0;
}

char *events_query(const char *query, size_t *len, int *status)
{
	struct query q;
	char why[160];
	struct jw w;
	if (parse_query(query, &q, why, sizeof why)) {
		jw_init(&w, 1024);
		jw_lit(&w, "{\"error\":");
		jw_str(&w, why, strlen(why));
		jw_lit(&w, "}\n");
		*status = 400;
		*len = w.len;
		if (w.err) {
			jw_free(&w);
			*status = 500;
			return NULL;
		}
		return w.buf;
	}
	static struct hour hours[HOURS_MAX];
	int nhours = 0;
	uint64_t held = E.n < EVENTS_MAX ? E.n : EVENTS_MAX;
	jw_init(&w, 16 << 20);
	jw_lit(&w, "{\"node\":");
	jw_str(&w, E.node ? E.node : "", E.node ? strlen(E.node) : 0);
	jw_lit(&w, ",\"now_us\":");
	jw_int(&w, clk_now_us());
	jw_lit(&w, ",\"capacity\":");
	jw_int(&w, EVENTS_MAX);
	jw_lit(&w, ",\"held\":");
	jw_int(&w, (int64_t)held);
	jw_lit(&w, ",\"recorded_total\":");
	jw_int(&w, E.m_recorded ? (int64_t)E.m_recorded->v : 0);
	jw_lit(&w, ",\"dropped_total\":");
	jw_int(&w, E.m_recorded ? (int64_t)(E.m_dropped_rate->v + E.m_dropped_shape->v) : 0);
	jw_lit(&w, ",\"events\":[");
	long shown = 0, matched = 0;
	for (uint64_t i = 0; i < held; i++) {
		const struct ev *e = &E.ring[(E.n - 1 - i) % EVENTS_MAX];
		if (!listed(q.ex, q.nex, e->ex) || !listed(q.kind, q.nkind, e->kind))
			continue;
		matched++;
		count_hour(hours, &nhours, e);
		if (shown < q.limit) {
			if (shown++)
				jw_char(&w, ',');
			jw_raw(&w, e->line, e->len);
		}
	}
	jw_lit(&w, "],\"matched\":");
	jw_int(&w, matched);
	qsort(hours, (size_t)nhours, sizeof hours[0], hour_cmp);
	jw_lit(&w, ",\"per_hour\":[");
	for (int i = 0; i < nhours; i++) {
		if (i)
			jw_char(&w, ',');
		jw_lit(&w, "{\"hour_us\":");
		jw_int(&w, hours[i].start);
		jw_lit(&w, ",\"total\":");
		jw_int(&w, hours[i].total);
		jw_lit(&w, ",\"kinds\":{");
		for (int k = 0; k < hours[i].nkinds; k++) {
			if (k)
				jw_char(&w, ',');
			jw_str(&w, hours[i].kind[k], strlen(hours[i].kind[k]));
			jw_char(&w, ':');
			jw_int(&w, hours[i].count[k]);
		}
		jw_lit(&w, "}}");
	}
	jw_lit(&w, "]}\n");
	if (w.err) {
		jw_free(&w);
		*status = 500;
		return NULL;
	}
	*status = 200;
	*len = w.len;
	return w.buf;
}

char *events_http(struct lws *wsi, size_t *len, int *status)
{
	char query[2048], arg[512];
	size_t n = 0;
	query[0] = 0;
	for (int i = 0; lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
		int k = snprintf(query + n, sizeof query - n, "%s%s", n ? "&" : "", arg);
		if (k < 0 || (size_t)k >= sizeof query - n)
			break;
		n += (size_t)k;
	}
	return events_query(query, len, status);
}
