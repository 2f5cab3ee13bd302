/* recording.c: the recording in memory, one entry per replayable line, and the routing
 * keys the dialect reads from each frame, interned so that a connection's subscription
 * is one byte per key. */

#include "fakex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct recording rec;

static uint32_t
key_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

int
key_lookup(const char *s, size_t n)
{
	size_t i;
	int id;

	if (!rec.nslots)
		return -1;
	for (i = key_hash(s, n) & (rec.nslots - 1); (id = rec.slots[i]);
	     i = (i + 1) & (rec.nslots - 1))
		if (strlen(rec.keys[id - 1]) == n && !memcmp(rec.keys[id - 1], s, n))
			return id - 1;
	return -1;
}

/* Doubles the hash table when it is half full. */
static int
key_grow(void)
{
	size_t ns = rec.nslots ? rec.nslots * 2 : 256, i, j;
	int *nsl;

	if ((rec.nkeys + 1) * 2 <= rec.nslots)
		return 0;
	if (!(nsl = calloc(ns, sizeof(*nsl))))
		return -1;
	for (j = 0; j < rec.nkeys; j++) {
		const char *k = rec.keys[j];

		for (i = key_hash(k, strlen(k)) & (ns - 1); nsl[i]; i = (i + 1) & (ns - 1))
			;
		nsl[i] = (int)j + 1;
	}
	free(rec.slots);
	rec.slots = nsl;
	rec.nslots = ns;
	return 0;
}

int
key_intern(const char *s, size_t n)
{
	size_t i;
	int id = key_lookup(s, n);

	if (id >= 0)
		return id;
	if (key_grow())
		return -1;
	if (rec.nkeys == rec.keycap) {
		size_t nc = rec.keycap ? rec.keycap * 2 : 64;
		char **nk = realloc(rec.keys, nc * sizeof(*nk));

		if (!nk)
			return -1;
		rec.keys = nk;
		rec.keycap = nc;
	}
	if (!(rec.keys[rec.nkeys] = strndup(s, n)))
		return -1;
	for (i = key_hash(s, n) & (rec.nslots - 1); rec.slots[i];
	     i = (i + 1) & (rec.nslots - 1))
		;
	rec.slots[i] = (int)rec.nkeys + 1;
	return (int)rec.nkeys++;
}

int
key_join(const char *a, size_t an, const char *b, size_t bn, const char *c, size_t cn)
{
	char key[256];
	int n;

	if (c)
		n = snprintf(key, sizeof(key), "%.*s|%.*s|%.*s", (int)an, a,
			     (int)bn, b, (int)cn, c);
	else
		n = snprintf(key, sizeof(key), "%.*s|%.*s", (int)an, a, (int)bn, b);
	if (n < 0 || (size_t)n >= sizeof(key))
		return -1;
	return key_intern(key, (size_t)n);
}

/* ------------------------------------------------------------------ */
/* reading frames */

int
fr_str(const struct js_doc *d, int o, const char *key, const char **s, size_t *n)
{
	int t = js_getn(d, o, key, strlen(key));

	/* routing keys are plain ASCII: a string with escapes is none */
	if (js_type(d, t) != JS_STRING || (d->tok[t].flags & JS_ESCAPED))
		return 0;
	*s = js_ptr(d, t);
	*n = js_len(d, t);
	return 1;
}

int
fr_is(const struct js_doc *d, int o, const char *key, const char *lit)
{
	const char *s;
	size_t n;

	return fr_str(d, o, key, &s, &n) && span_is(s, n, lit);
}

int
span_is(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && !memcmp(s, lit, n);
}

int
span_starts(const char *s, size_t n, const char *lit)
{
	return n >= strlen(lit) && !memcmp(s, lit, strlen(lit));
}

/* ------------------------------------------------------------------ */
/* loading */

enum { RL_OK, RL_EMPTY, RL_OTHER, RL_EVENT, RL_BAD, RL_OOM };

static int
rec_parse_line(struct js_doc *d, const char *s, const char *e)
{
	const char *str;
	size_t n;
	struct rline l = { .key = -1, .snapshot = -1 };
	char num[32];
	int data, ts;

	while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	if (s == e)
		return RL_EMPTY;
	if (js_parse(d, s, (size_t)(e - s)) != JS_OK || !fr_str(d, 0, "exchange", &str, &n))
		return RL_BAD;
	if (!span_is(str, n, dl->name))
		return RL_OTHER;
	if ((data = js_get(d, 0, "data")) < 0)
		return js_get(d, 0, "event") >= 0 ? RL_EVENT : RL_BAD;
	if ((ts = js_get(d, 0, "local_ts")) >= 0) {
		tok_span(d, ts, &str, &n);
		if (n < sizeof(num)) {
			memcpy(num, str, n);
			num[n] = '\0';
			l.ts = strtoll(num, NULL, 10);
		}
	}
	tok_span(d, data, &l.frame, &l.frame_len);
	l.key = dl->frame(&l, d, data);
	if (l.key == KEY_OOM)
		return RL_OOM;
	if (rec.n == rec.cap) {
		size_t nc = rec.cap ? rec.cap * 2 : 1024;
		struct rline *nl = realloc(rec.lines, nc * sizeof(*nl));

		if (!nl)
			return RL_OOM;
		rec.lines = nl;
		rec.cap = nc;
	}
	rec.lines[rec.n++] = l;
	return RL_OK;
}

/* Reads the whole file to EOF rather than stat its size, so a FIFO works too. */
static int
rec_read(FILE *f)
{
	size_t cap = 0, nread;

	for (;;) {
		if (rec.size + 65536 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 1 << 20;
			if (!(nb = realloc(rec.buf, cap)))
				return -1;
			rec.buf = nb;
		}
		nread = fread(rec.buf + rec.size, 1, cap - rec.size - 1, f);
		rec.size += nread;
		if (!nread)
			break;
	}
	if (!rec.buf && !(rec.buf = malloc(1)))
		return -1;
	rec.buf[rec.size] = '\0';
	return 0;
}

int
rec_load(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t counts[RL_OOM + 1] = { 0 }, unroutable = 0, i;
	char *p, *e, *nl, q[512], qe[128];
	struct js_doc d;
	int r = RL_OK;

	if (!f) {
		const char *why = strerror(errno);

		fxlog(LV_ERROR, "cannot open recording", "path=%s error=%s",
		      lq(q, sizeof(q), path, strlen(path)), lq(qe, sizeof(qe), why, strlen(why)));
		return -1;
	}
	if (rec_read(f) || ferror(f)) {
		int oom = !ferror(f);

		fclose(f);
		if (oom)
			fxlog(LV_ERROR, "out of memory reading recording", NULL);
		else
			fxlog(LV_ERROR, "cannot read recording", "path=%s",
			      lq(q, sizeof(q), path, strlen(path)));
		return -1;
	}
	fclose(f);

	js_init(&d, 0);
	for (p = rec.buf, e = rec.buf + rec.size; p < e && r != RL_OOM; p = nl + 1) {
		if (!(nl = memchr(p, '\n', (size_t)(e - p))))
			nl = e;
		r = rec_parse_line(&d, p, nl);
		counts[r]++;
	}
	js_free(&d);
	if (r == RL_OOM) {
		fxlog(LV_ERROR, "out of memory indexing recording", NULL);
		return -1;
	}
	for (i = 0; i < rec.n; i++)
		unroutable += rec.lines[i].key < 0;
	if (rec.n > 1)
		rec.avg_gap = (rec.lines[rec.n - 1].ts - rec.lines[0].ts) / (int64_t)(rec.n - 1);
	if (rec.avg_gap < 1000)
		rec.avg_gap = 1000;
	fxlog(LV_INFO, "recording loaded",
	      "path=%s lines=%zu keys=%zu other_exchange=%zu events=%zu bad=%zu unroutable=%zu",
	      lq(q, sizeof(q), path, strlen(path)), rec.n, rec.nkeys,
	      counts[RL_OTHER], counts[RL_EVENT], counts[RL_BAD], unroutable);
	if (counts[RL_BAD])
		fxlog(LV_WARN, "recording has lines that are not envelopes", "count=%zu",
		      counts[RL_BAD]);
	return 0;
}

void
rec_free(void)
{
	size_t i;

	for (i = 0; i < rec.nkeys; i++)
		free(rec.keys[i]);
	free(rec.keys);
	free(rec.slots);
	free(rec.lines);
	free(rec.buf);
}
