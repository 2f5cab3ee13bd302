/* util.c: fakex's small pieces: clocks, growable strings, the log, random ids, name
 * shapes, the events file and key lists. */

#include "fakex.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------------ */
/* growable strings */

int
sb_reserve(struct sbuf *b, size_t extra)
{
	size_t need, ncap;
	char *np;

	if (b->oom)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap *= 2;
	np = realloc(b->p, ncap);
	if (!np) {
		b->oom = 1;
		return -1;
	}
	b->p = np;
	b->cap = ncap;
	return 0;
}

void
sb_add(struct sbuf *b, const void *s, size_t n)
{
	if (sb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
sb_adds(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

void
sb_addc(struct sbuf *b, char ch)
{
	sb_add(b, &ch, 1);
}

static void
sb_vaddf(struct sbuf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || sb_reserve(b, (size_t)n))
		return;
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void
sb_addf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vaddf(b, fmt, ap);
	va_end(ap);
}

void
sb_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Length of the valid UTF-8 sequence at S (2..4 bytes), or 0. */
static size_t
utf8_len(const char *s, size_t n)
{
	unsigned c = (unsigned char)s[0];
	size_t need = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
		      c >= 0xf0 && c <= 0xf4 ? 4 : 0;

	return need && need <= n && js_utf8_valid(s, need) ? need : 0;
}

void
sb_json_str(struct sbuf *b, const char *s, size_t n)
{
	size_t i = 0, k;

	sb_addc(b, '"');
	while (i < n) {
		unsigned c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			sb_addc(b, '\\');
			sb_addc(b, (char)c);
			i++;
		} else if (c == '\n') {
			sb_adds(b, "\\n");
			i++;
		} else if (c == '\r') {
			sb_adds(b, "\\r");
			i++;
		} else if (c == '\t') {
			sb_adds(b, "\\t");
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			sb_addf(b, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			sb_addc(b, (char)c);
			i++;
		} else if ((k = utf8_len(s + i, n - i))) {
			sb_add(b, s + i, k);
			i += k;
		} else {
			sb_adds(b, "\\ufffd");
			i++;
		}
	}
	sb_addc(b, '"');
}

/* ------------------------------------------------------------------ */
/* the log */

static const char *const lv_names[] = { "debug", "info", "warn", "error" };
int log_level = LV_INFO;

int
log_level_from(const char *name)
{
	int i;

	for (i = 0; name && i < 4; i++)
		if (!strcasecmp(name, lv_names[i]))
			return i;
	return LV_INFO;
}

void
fxlog(int lv, const char *msg, const char *kvfmt, ...)
{
	struct sbuf b = { 0 };
	char tbuf[40];
	struct tm tm;
	int64_t now = wall_us();
	time_t secs = (time_t)(now / 1000000);
	va_list ap;
	const char *m;

	if (lv < log_level)
		return;
	gmtime_r(&secs, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	sb_addf(&b, "ts=%s.%03dZ level=%s tool=fakex msg=\"", tbuf,
		(int)(now / 1000 % 1000), lv_names[lv]);
	for (m = msg; *m; m++) {
		if (*m == '"' || *m == '\\')
			sb_addc(&b, '\\');
		sb_addc(&b, *m == '\n' ? ' ' : *m);
	}
	sb_addc(&b, '"');
	if (kvfmt && *kvfmt) {
		sb_addc(&b, ' ');
		va_start(ap, kvfmt);
		sb_vaddf(&b, kvfmt, ap);
		va_end(ap);
	}
	sb_addc(&b, '\n');
	if (!b.oom)
		fputs(b.p, stderr);
	sb_free(&b);
}

void
lws_log_emit(int level, const char *line)
{
	char msg[512];
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (n >= sizeof(msg) - 6)
		n = sizeof(msg) - 6;
	memcpy(msg, "lws: ", 5);
	memcpy(msg + 5, line, n);
	msg[5 + n] = '\0';
	fxlog(level & LLL_ERR ? LV_ERROR : LV_WARN, msg, NULL);
}

/* ------------------------------------------------------------------ */
/* random ids and times */

static uint64_t rng_state = 88172645463325252ull;

void
rng_seed(uint64_t seed)
{
	rng_state ^= seed;
	if (!rng_state)
		rng_state = 1;
}

uint64_t
rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

void
hex_id(char *out, size_t digits)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < digits; i++)
		out[i] = hx[rng_next() >> 60];
	out[digits] = '\0';
}

void
fmt_rfc3339(char *buf, size_t n, int64_t us, int digits)
{
	time_t secs = (time_t)(us / 1000000);
	struct tm tm;
	char d[32];

	gmtime_r(&secs, &tm);
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
	if (digits == 9)
		snprintf(buf, n, "%s.%06d%03dZ", d, (int)(us % 1000000),
			 (int)(rng_next() % 1000));
	else
		snprintf(buf, n, "%s.%06dZ", d, (int)(us % 1000000));
}

/* ------------------------------------------------------------------ */
/* name shapes */

int
in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

int
in_list_span(const char *s, size_t n, const char *const *list)
{
	for (; list && *list; list++)
		if (span_is(s, n, *list))
			return 1;
	return 0;
}

int
alnum_up(const char *s, size_t n)
{
	size_t i;

	if (!n || n > 40)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

int
pair_ok(const char *s, char sep, int maxparts)
{
	int parts = 0;
	const char *p = s, *q;

	for (;;) {
		q = strchr(p, sep);
		if (!alnum_up(p, q ? (size_t)(q - p) : strlen(p)))
			return 0;
		parts++;
		if (!q)
			break;
		p = q + 1;
	}
	return parts >= 2 && parts <= maxparts;
}

int
alnum_id(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return i > 0 && i <= max;
}

/* ------------------------------------------------------------------ */
/* the events file */

void
event_emit(struct sbuf *b)
{
	if (!g.events || b->oom)
		return;
	fwrite(b->p, 1, b->len, g.events);
	fputc('\n', g.events);
	fflush(g.events);
}

void
event_simple(const char *name)
{
	struct sbuf b = { 0 };

	sb_addf(&b, "{\"event\":\"%s\"}", name);
	event_emit(&b);
	sb_free(&b);
}

void
event_keys(const char *name, char *const *keys, int n)
{
	struct sbuf b = { 0 };
	int i;

	sb_addf(&b, "{\"event\":\"%s\",\"streams\":[", name);
	for (i = 0; i < n; i++) {
		if (i)
			sb_addc(&b, ',');
		sb_json_str(&b, keys[i], strlen(keys[i]));
	}
	sb_adds(&b, "]}");
	event_emit(&b);
	sb_free(&b);
}

/* ------------------------------------------------------------------ */
/* key lists */

int
ks_find(const struct keyset *s, const char *key)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->k[i], key))
			return i;
	return -1;
}

int
ks_push(struct keyset *s, const char *key, unsigned bits)
{
	char **nk;
	unsigned char *nb;

	if (!(nk = realloc(s->k, (size_t)(s->n + 1) * sizeof(*nk))))
		return -1;
	s->k = nk;
	if (!(nb = realloc(s->bits, (size_t)(s->n + 1))))
		return -1;
	s->bits = nb;
	if (!(nk[s->n] = strdup(key)))
		return -1;
	nb[s->n++] = (unsigned char)bits;
	return 0;
}

int
ks_pushf(struct keyset *s, unsigned bits, const char *a, const char *b, const char *c)
{
	char key[256];
	int n = c ? snprintf(key, sizeof(key), "%s|%s|%s", a, b, c) :
		    snprintf(key, sizeof(key), "%s|%s", a, b);

	if (n < 0 || (size_t)n >= sizeof(key))
		return -1;
	return ks_push(s, key, bits);
}

int
ks_add(struct keyset *s, const char *key, unsigned bits)
{
	int k = ks_find(s, key);

	if (k >= 0) {
		s->bits[k] = (unsigned char)bits;
		return 0;
	}
	return ks_push(s, key, bits) ? -1 : 1;
}

int
ks_del(struct keyset *s, const char *key)
{
	int k = ks_find(s, key);

	if (k < 0)
		return 0;
	free(s->k[k]);
	memmove(&s->k[k], &s->k[k + 1], (size_t)(s->n - k - 1) * sizeof(*s->k));
	memmove(&s->bits[k], &s->bits[k + 1], (size_t)(s->n - k - 1));
	s->n--;
	return 1;
}

void
ks_free(struct keyset *s)
{
	while (s->n > 0)
		free(s->k[--s->n]);
	free(s->k);
	free(s->bits);
	memset(s, 0, sizeof(*s));
}
