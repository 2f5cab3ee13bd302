/* http.c: /health, /ready, /metrics and /api/status on serve's port. */
#include "clock.h"
#include "events.h"
#include "jw.h"
#include "metnames.h"
#include "rundir.h"
#include "serve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct http_req {
	char *body;
	size_t len, off;
	int status;
	const char *type;
};

/* Every tool rewrites its RUN_DIR/<tool>.prom once a second. One that has not for this long
 * has stopped (or hangs): its numbers describe the past and are not served as current. */
#define TEXTFILE_STALE_S 10.0

/* Reads a whole (small) file; caller frees. */
static char *slurp(const char *path, size_t *len, double *age_s)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) || st.st_size > (16 << 20)) {
		close(fd);
		return NULL;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	*len = (size_t)n;
	if (age_s) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		*age_s = (double)(now.tv_sec - st.st_mtim.tv_sec) +
			 (double)(now.tv_nsec - st.st_mtim.tv_nsec) / 1e9;
	}
	return buf;
}

int serve_ready(char *why, size_t n)
{
	if (S.draining) {
		snprintf(why, n, "shutting down");
		return 0;
	}
	if (!S.last_line_mono) {
		snprintf(why, n, "no data received yet");
		return 0;
	}
	int64_t quiet = (clk_mono_us() - S.last_line_mono) / 1000;
	if (quiet > S.o.ready_timeout_ms) {
		snprintf(why, n, "no data for %lld ms", (long long)quiet);
		return 0;
	}
	snprintf(why, n, "receiving data");
	return 1;
}

/* ---- /metrics: serve's own registry plus every RUN_DIR/<tool>.prom ---- */

static char *render_metrics(size_t *len)
{
	const char *texts[STAGE_COUNT + 1];
	size_t lens[STAGE_COUNT + 1];
	char *owned[STAGE_COUNT + 1] = { 0 };
	int n = 1; /* serve's own metrics go first, rendered once the files are counted */
	char reason[64];
	if (S.o.run_dir) {
		for (enum stage i = 0; i < STAGE_COUNT; i++) {
			char path[4096], name[64];
			if (i == STAGE_SERVE)
				continue;
			snprintf(name, sizeof name, "%s.prom", stage_name(i));
			if (rundir_path(S.o.run_dir, name, path, sizeof path))
				continue;
			double age;
			owned[n] = slurp(path, &lens[n], &age);
			if (owned[n] && age > TEXTFILE_STALE_S) {
				static struct log_limit rl;
				char q[512];
				S.m_stale_textfiles->v++;
				if (log_allow(&rl, clk_mono_us()) >= 0)
					log_warn("metrics file not rewritten for a while, left out of /metrics",
						 " file=%s age_s=%.0f limit_s=%.0f",
						 log_quote(q, sizeof q, path, strlen(path)), age, TEXTFILE_STALE_S);
				free(owned[n]);
				owned[n] = NULL;
			}
			if (owned[n]) {
				texts[n] = owned[n];
				n++;
			}
		}
	}
	S.m_ready->v = serve_ready(reason, sizeof reason);
	S.m_rss->v = met_rss_bytes();
	owned[0] = met_render(S.reg, &lens[0]);
	texts[0] = owned[0];
	char *merged = owned[0] ? met_merge(texts, lens, n, len) : NULL;
	for (int i = 0; i < n; i++)
		free(owned[i]);
	return merged;
}

/* ---- /api/status, rebuilt once a second ---- */

#define WINDOW 11 /* seconds of histogram snapshots: quantiles cover the last 10 s */

struct hist_snap {
	uint64_t b[MET_MAX_BUCKETS + 1];
	uint64_t count;
};

struct status_state {
	double prev_counter[STAGE_COUNT];
	double prev_frames[64];
	char prev_names[64][24];
	double prev_sent, prev_lines;
	int64_t prev_mono;
	struct hist_snap pipe[WINDOW], feed[WINDOW];
	int slot;
	int filled;
};
static struct status_state st;

struct scan {
	/* per stage */
	double counter, rss;
	/* ingest */
	int nex;
	char ex[64][24];
	double frames[64], connected[64], reconnects[64], dropped[64], age[64];
	/* distribute */
	double kafka_up, kafka_mode, lag, produced, consumed, have_kafka;
	double kafka_configured, have_kafka_configured; /* distribute says whether it has --kafka */
	/* feed latency buckets summed over exchanges */
	struct hist_snap feed;
	const char *counter_name;
};

static int label_value(const char *labels, size_t llen, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i + kl + 2 < llen; i++) {
		if ((i == 0 || labels[i - 1] == ',') && !memcmp(labels + i, key, kl) && labels[i + kl] == '=' &&
		    labels[i + kl + 1] == '"') {
			const char *v = labels + i + kl + 2;
			const char *e = memchr(v, '"', llen - (size_t)(v - labels));
			if (!e || (size_t)(e - v) >= n)
				return -1;
			memcpy(out, v, (size_t)(e - v));
			out[e - v] = 0;
			return 0;
		}
	}
	return -1;
}

static int exchange_slot(struct scan *sc, const char *name)
{
	for (int i = 0; i < sc->nex; i++)
		if (!strcmp(sc->ex[i], name))
			return i;
	if (sc->nex == 64)
		return -1;
	snprintf(sc->ex[sc->nex], sizeof sc->ex[0], "%s", name);
	return sc->nex++;
}

#define IS(lit) (nlen == sizeof(lit) - 1 && !memcmp(name, lit, nlen))

static void scan_cb(void *ctx, const char *name, size_t nlen, const char *labels, size_t llen, double v)
{
	struct scan *sc = ctx;
	char ex[24], le[32];
	if (IS(MN_RSS)) {
		sc->rss = v;
		return;
	}
	if (sc->counter_name && nlen == strlen(sc->counter_name) && !memcmp(name, sc->counter_name, nlen))
		sc->counter += v;
	if (nlen > sizeof MN_INGEST_PREFIX - 1 && !memcmp(name, MN_INGEST_PREFIX, sizeof MN_INGEST_PREFIX - 1) &&
	    !label_value(labels, llen, "exchange", ex, sizeof ex)) {
		int i = exchange_slot(sc, ex);
		if (i < 0)
			return;
		if (IS(MN_INGEST_FRAMES))
			sc->frames[i] = v;
		else if (IS(MN_INGEST_CONNECTED))
			sc->connected[i] = v;
		else if (IS(MN_INGEST_RECONNECTS))
			sc->reconnects[i] = v;
		else if (IS(MN_INGEST_DROPPED))
			sc->dropped[i] = v;
		else if (IS(MN_INGEST_FRAME_AGE))
			sc->age[i] = v;
		return;
	}
	if (IS(MN_FEED_LATENCY "_bucket") && !label_value(labels, llen, "le", le, sizeof le)) {
		for (int b = 0; b < met_latency_nbounds; b++) {
			char want[32];
			snprintf(want, sizeof want, "%g", met_latency_bounds[b]);
			if (!strcmp(want, le)) {
				sc->feed.b[b] += (uint64_t)v;
				return;
			}
		}
		if (!strcmp(le, "+Inf")) {
			sc->feed.b[met_latency_nbounds] += (uint64_t)v;
			sc->feed.count += (uint64_t)v;
		}
		return;
	}
	if (IS(MN_KAFKA_UP)) {
		sc->kafka_up = v;
		sc->have_kafka = 1;
	} else if (IS(MN_DIST_KAFKA_CONFIGURED)) {
		sc->kafka_configured = v;
		sc->have_kafka_configured = 1;
	} else if (IS(MN_DIST_KAFKA_MODE)) {
		sc->kafka_mode = v;
	} else if (IS(MN_DIST_CONSUMER_LAG)) {
		sc->lag = v;
	} else if (IS(MN_DIST_PRODUCED)) {
		sc->produced = v;
	} else if (IS(MN_DIST_CONSUMED)) {
		sc->consumed = v;
	}
}

/* Quantile over the window: cumulative bucket counts now minus those WINDOW-1 s ago. */
static void window_quantiles(struct jw *w, const char *key, const struct hist_snap *ring, int cur,
			     int filled)
{
	const struct hist_snap *now = &ring[cur];
	const struct hist_snap *then = &ring[(cur + 1) % WINDOW];
	struct met m;
	memset(&m, 0, sizeof m);
	m.bounds = met_latency_bounds;
	m.nbounds = met_latency_nbounds;
	uint64_t prev_now = 0, prev_then = 0;
	for (int b = 0; b <= m.nbounds; b++) {
		/* The snapshots are cumulative ("le") counts: turn them into per-bucket counts. */
		uint64_t cn = now->b[b], ct = filled >= WINDOW ? then->b[b] : 0;
		uint64_t in_now = cn - prev_now, in_then = ct - prev_then;
		prev_now = cn;
		prev_then = ct;
		m.buckets[b] = in_now >= in_then ? in_now - in_then : 0;
		m.count += m.buckets[b];
	}
	jw_lit(w, ",\"");
	jw_raw(w, key, strlen(key));
	jw_lit(w, "\":");
	if (!m.count) {
		jw_lit(w, "null");
		return;
	}
	char num[160];
	snprintf(num, sizeof num, "{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"count\":%llu}",
		 met_quantile(&m, 0.5) * 1e3, met_quantile(&m, 0.9) * 1e3, met_quantile(&m, 0.99) * 1e3,
		 (unsigned long long)m.count);
	jw_raw(w, num, strlen(num));
}

static void jw_num(struct jw *w, const char *key, double v)
{
	char num[64];
	int n = snprintf(num, sizeof num, ",\"%s\":%.6g", key, v);
	jw_raw(w, num, (size_t)n);
}

static void jw_kint(struct jw *w, const char *key, int64_t v)
{
	jw_lit(w, ",\"");
	jw_raw(w, key, strlen(key));
	jw_lit(w, "\":");
	jw_int(w, v);
}

static void jw_kstr(struct jw *w, const char *key, const char *v)
{
	jw_lit(w, ",\"");
	jw_raw(w, key, strlen(key));
	jw_lit(w, "\":");
	if (v)
		jw_str(w, v, strlen(v));
	else
		jw_lit(w, "null");
}

/* What the stages' files said: a missing file is not present; a stale one is present with
 * its age and none of its numbers. */
struct stages {
	struct scan sc[STAGE_COUNT];
	double age[STAGE_COUNT];
	int present[STAGE_COUNT];
};

/* The counter whose rate is the stage's rate (serve's is its own lines). */
static const char *const stage_counters[STAGE_COUNT] = {
	[STAGE_INGEST] = MN_INGEST_FRAMES,
	[STAGE_CONVERT] = MN_CONVERT_LINES,
	[STAGE_DISTRIBUTE] = MN_DIST_LINES_OUT,
};

static void read_stages(struct stages *sg)
{
	memset(sg, 0, sizeof *sg);
	for (enum stage i = 0; i < STAGE_COUNT; i++) {
		char path[4096], name[64];
		size_t len;
		sg->present[i] = 0;
		sg->age[i] = -1;
		sg->sc[i].counter_name = stage_counters[i];
		if (i == STAGE_SERVE || !S.o.run_dir)
			continue;
		snprintf(name, sizeof name, "%s.prom", stage_name(i));
		if (rundir_path(S.o.run_dir, name, path, sizeof path))
			continue;
		char *text = slurp(path, &len, &sg->age[i]);
		if (!text)
			continue;
		sg->present[i] = 1;
		/* a stale file shows its age, not its numbers */
		if (sg->age[i] <= TEXTFILE_STALE_S)
			met_scan(text, len, scan_cb, &sg->sc[i]);
		free(text);
	}
	/* serve itself */
	sg->sc[STAGE_SERVE].counter = S.m_lines->v;
	sg->sc[STAGE_SERVE].rss = met_rss_bytes();
	sg->present[STAGE_SERVE] = 1;
	sg->age[STAGE_SERVE] = 0;
}

/* This second's latency histograms into the window: serve's pipeline latency and the feed
 * latency of every stage's file. */
static void snapshot_latency(const struct stages *sg)
{
	st.slot = (st.slot + 1) % WINDOW;
	if (st.filled < WINDOW)
		st.filled++;
	uint64_t cum = 0;
	for (int b = 0; b <= S.m_latency->nbounds; b++) {
		cum += S.m_latency->buckets[b];
		st.pipe[st.slot].b[b] = cum;
	}
	st.pipe[st.slot].count = S.m_latency->count;
	memset(&st.feed[st.slot], 0, sizeof st.feed[st.slot]);
	for (int i = 0; i < STAGE_COUNT; i++)
		for (int b = 0; b <= met_latency_nbounds; b++)
			st.feed[st.slot].b[b] += sg->sc[i].feed.b[b];
}

/* "node" up to "ready_reason": who this node is, its role and mode, whether it is ready. */
static void json_node(struct jw *w, const struct scan *dist)
{
	char role[32] = "leader", leader[512], epoch[32] = "0", node[256];
	int have_leader = 0;
	if (S.o.run_dir) {
		if (rundir_read(S.o.run_dir, "role", role, sizeof role) < 0)
			snprintf(role, sizeof role, "leader");
		have_leader = rundir_read(S.o.run_dir, "leader", leader, sizeof leader) >= 0;
		if (rundir_read(S.o.run_dir, "epoch", epoch, sizeof epoch) < 0)
			snprintf(epoch, sizeof epoch, "0");
	}
	snprintf(node, sizeof node, "%s", S.o.node_id);

	jw_lit(w, "{\"node\":");
	jw_str(w, node, strlen(node));
	jw_kstr(w, "version", SERVE_VERSION);
	jw_kstr(w, "role", role);
	jw_kstr(w, "mode", dist->kafka_mode > 0 ? "kafka" : "direct");
	jw_kint(w, "epoch", atoll(epoch));
	jw_kstr(w, "leader", have_leader ? leader : NULL);
	jw_num(w, "uptime_s", (double)(clk_now_us() - S.started_us) / 1e6);
	jw_kint(w, "now_us", clk_now_us());
	char reason[64];
	int ready = serve_ready(reason, sizeof reason);
	if (ready)
		jw_lit(w, ",\"ready\":true");
	else
		jw_lit(w, ",\"ready\":false");
	jw_kstr(w, "ready_reason", reason);
}

/* "clients", "messages" and "latency_ms": serve's own traffic (drops include ingest's). */
static void json_traffic(struct jw *w, const struct scan *in, double dt)
{
	jw_lit(w, ",\"clients\":{\"current\":");
	jw_int(w, S.nclients);
	jw_kint(w, "total", (int64_t)S.m_accepted->v);
	jw_num(w, "rejected", S.m_rejected_full->v + S.m_rejected_path->v + S.m_rejected_drain->v +
				      S.m_rejected_auth->v + S.m_rejected_origin->v + S.m_rejected_ip->v);
	jw_num(w, "slow_closed", S.m_slow->v);
	jw_char(w, '}');

	jw_lit(w, ",\"messages\":{\"received\":");
	jw_int(w, (int64_t)S.m_lines->v);
	jw_num(w, "received_rate", dt > 0 ? (S.m_lines->v - st.prev_lines) / dt : 0);
	jw_kint(w, "sent", (int64_t)S.m_sent->v);
	jw_num(w, "sent_rate", dt > 0 ? (S.m_sent->v - st.prev_sent) / dt : 0);
	double dropped = S.m_slow->v;
	for (int i = 0; i < in->nex; i++)
		dropped += in->dropped[i];
	jw_num(w, "dropped", dropped);
	jw_char(w, '}');

	jw_lit(w, ",\"latency_ms\":{\"window_s\":10");
	window_quantiles(w, "pipeline", st.pipe, st.slot, st.filled);
	window_quantiles(w, "feed", st.feed, st.slot, st.filled);
	jw_char(w, '}');
}

/* "stages": each stage up or not, its rate, memory and the age of its file. */
static void json_stages(struct jw *w, const struct stages *sg, double dt)
{
	jw_lit(w, ",\"stages\":[");
	for (enum stage i = 0; i < STAGE_COUNT; i++) {
		const struct scan *sc = &sg->sc[i];
		if (i)
			jw_char(w, ',');
		jw_lit(w, "{\"name\":");
		jw_str(w, stage_name(i), strlen(stage_name(i)));
		int up = sg->present[i] && sg->age[i] < 5;
		if (up)
			jw_lit(w, ",\"up\":true");
		else
			jw_lit(w, ",\"up\":false");
		if (!sg->present[i] && i == STAGE_ELECT)
			jw_lit(w, ",\"configured\":false"); /* no elect: a standalone node */
		if (sg->present[i]) {
			double rate = dt > 0 && st.prev_counter[i] <= sc->counter ? (sc->counter - st.prev_counter[i]) / dt : 0;
			if (stage_counters[i] || i == STAGE_SERVE)
				jw_num(w, "rate", rate);
			jw_kint(w, "memory_bytes", (int64_t)sc->rss);
			jw_num(w, "metrics_age_s", sg->age[i]);
		}
		jw_char(w, '}');
		st.prev_counter[i] = sc->counter;
	}
	jw_char(w, ']');
}

/* "exchanges": ingest's figures per exchange, with the frame rate since the last refresh. */
static void json_exchanges(struct jw *w, const struct scan *in, double dt)
{
	jw_lit(w, ",\"exchanges\":[");
	for (int i = 0; i < in->nex; i++) {
		double prev = 0;
		for (int k = 0; k < 64; k++)
			if (!strcmp(st.prev_names[k], in->ex[i]))
				prev = st.prev_frames[k];
		if (i)
			jw_char(w, ',');
		jw_lit(w, "{\"exchange\":");
		jw_str(w, in->ex[i], strlen(in->ex[i]));
		if (in->connected[i] > 0)
			jw_lit(w, ",\"connected\":true");
		else
			jw_lit(w, ",\"connected\":false");
		jw_kint(w, "frames", (int64_t)in->frames[i]);
		jw_num(w, "rate", dt > 0 && prev <= in->frames[i] ? (in->frames[i] - prev) / dt : 0);
		jw_num(w, "last_frame_age_s", in->age[i]);
		jw_num(w, "reconnects", in->reconnects[i]);
		jw_num(w, "dropped", in->dropped[i]);
		jw_char(w, '}');
	}
	jw_char(w, ']');
	memset(st.prev_names, 0, sizeof st.prev_names);
	for (int i = 0; i < in->nex; i++) {
		snprintf(st.prev_names[i], sizeof st.prev_names[i], "%s", in->ex[i]);
		st.prev_frames[i] = in->frames[i];
	}
}

/* "kafka": distribute's view of Kafka; not configured, or null when distribute says nothing. */
static void json_kafka(struct jw *w, const struct scan *dist)
{
	jw_lit(w, ",\"kafka\":");
	if (dist->have_kafka_configured && !dist->kafka_configured) {
		jw_lit(w, "{\"configured\":false}");
	} else if (dist->have_kafka) {
		if (dist->kafka_up > 0)
			jw_lit(w, "{\"up\":true");
		else
			jw_lit(w, "{\"up\":false");
		jw_num(w, "lag", dist->lag);
		jw_num(w, "produced", dist->produced);
		jw_num(w, "consumed", dist->consumed);
		jw_char(w, '}');
	} else {
		jw_lit(w, "null");
	}
}

void status_refresh(int64_t now_mono)
{
	struct stages sg;
	struct jw w;
	double dt = st.prev_mono ? (double)(now_mono - st.prev_mono) / 1e6 : 0;
	read_stages(&sg);
	snapshot_latency(&sg);
	jw_init(&w, 1 << 20);
	json_node(&w, &sg.sc[STAGE_DISTRIBUTE]);
	json_traffic(&w, &sg.sc[STAGE_INGEST], dt);
	json_stages(&w, &sg, dt);
	json_exchanges(&w, &sg.sc[STAGE_INGEST], dt);
	json_kafka(&w, &sg.sc[STAGE_DISTRIBUTE]);
	jw_lit(&w, "}\n");

	st.prev_sent = S.m_sent->v;
	st.prev_lines = S.m_lines->v;
	st.prev_mono = now_mono;
	if (!w.err) {
		free(S.status_json);
		S.status_json = w.buf;
		S.status_len = w.len;
	} else {
		jw_free(&w);
	}
}

/* ---- the HTTP callback for the dynamic paths ---- */

static int respond(struct lws *wsi, struct http_req *r, int status, const char *type, char *body,
		   size_t len)
{
	unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
	r->body = body;
	r->len = len;
	r->off = 0;
	if (lws_add_http_common_headers(wsi, (unsigned)status, type, len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
					(const unsigned char *)"no-store", 8, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return 1;
	lws_callback_on_writable(wsi);
	return 0;
}

static char *dup_text(const char *s, size_t *len)
{
	*len = strlen(s);
	return strdup(s);
}

int cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct http_req *r = user;
	char uri[256], why[96];
	size_t blen;

	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		memset(r, 0, sizeof *r);
		if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0)
			return lws_return_http_status(wsi, 405, NULL) ? -1 : -1;
		if (!strcmp(uri, "/health")) {
			char *body = dup_text("ok\n", &blen);
			return respond(wsi, r, 200, "text/plain", body, blen);
		}
		if (!strcmp(uri, "/ready")) {
			int ok = serve_ready(why, sizeof why);
			strcat(why, "\n");
			char *body = dup_text(why, &blen);
			return respond(wsi, r, ok ? 200 : 503, "text/plain", body, blen);
		}
		if ((!strcmp(uri, "/metrics") || !strcmp(uri, "/api/status")) && !access_admin(wsi)) {
			char *body = dup_text("forbidden\n", &blen);
			return respond(wsi, r, 403, "text/plain", body, blen);
		}
		if (!strcmp(uri, "/metrics")) {
			char *body = render_metrics(&blen);
			if (!body) {
				body = dup_text("out of memory\n", &blen);
				return respond(wsi, r, 500, "text/plain", body, blen);
			}
			return respond(wsi, r, 200, "text/plain; version=0.0.4", body, blen);
		}
		if (!strcmp(uri, "/api/status")) {
			if (!S.status_json)
				status_refresh(clk_mono_us());
			char *body = S.status_json ? malloc(S.status_len) : NULL;
			if (!body) {
				body = dup_text("status not ready\n", &blen);
				return respond(wsi, r, 503, "text/plain", body, blen);
			}
			memcpy(body, S.status_json, S.status_len);
			return respond(wsi, r, 200, "application/json", body, S.status_len);
		}
		if (!strcmp(uri, "/api/events")) {
			/* The incident history (events.c), behind the same access rule as /api/status. */
			int code = 403;
			char *body = access_admin(wsi) ? events_http(wsi, &blen, &code) : dup_text("forbidden\n", &blen);
			if (!body)
				return lws_return_http_status(wsi, 500, NULL) ? -1 : -1;
			return respond(wsi, r, code, code == 403 ? "text/plain" : "application/json", body, blen);
		}
		char *body = dup_text("not found\n", &blen);
		return respond(wsi, r, 404, "text/plain", body, blen);
	}
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		if (!r->body)
			break;
		size_t chunk = r->len - r->off;
		if (chunk > HTTP_CHUNK)
			chunk = HTTP_CHUNK;
		unsigned char *buf = malloc(LWS_PRE + chunk);
		if (!buf)
			return -1;
		memcpy(buf + LWS_PRE, r->body + r->off, chunk);
		int final = r->off + chunk == r->len;
		int w = lws_write(wsi, buf + LWS_PRE, chunk, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
		free(buf);
		if (w < (int)chunk)
			return -1;
		r->off += chunk;
		if (!final) {
			lws_callback_on_writable(wsi);
			return 0;
		}
		free(r->body);
		r->body = NULL;
		if (lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	}
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (r) {
			free(r->body);
			r->body = NULL;
		}
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}
