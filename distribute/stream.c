/* stream.c: positions, the set of trades passed on, and a standby's kept lines. */
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- line fields ---- */

int64_t line_local_ts(const char *line, size_t len)
{
	const char *p = memmem(line, len < 256 ? len : 256, "\"local_ts\":", 11);
	int64_t v = 0;
	if (!p)
		return 0;
	for (p += 11; p < line + len && *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (*p - '0');
	return v;
}

/* FNV-1a, then a finalizer that spreads the bits (murmur3's fmix64). */
static uint64_t hash_add(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= 0xff; /* separator: "ab","c" differs from "a","bc" */
	h *= 0x100000001b3ULL;
	return h;
}

static uint64_t hash_end(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h ? h : 1;
}

/* The string value after KEY ("key":"), searched from P; its text in *V, *VN. */
static int str_field(const char *p, const char *end, const char *key, size_t kn, const char **v, size_t *vn)
{
	const char *k = memmem(p, (size_t)(end - p), key, kn);
	if (!k)
		return -1;
	const char *s = k + kn, *q = memchr(s, '"', (size_t)(end - s));
	if (!q)
		return -1;
	*v = s;
	*vn = (size_t)(q - s);
	return 0;
}

#define TRADE_HEAD "{\"type\":\"trade\",\"exchange\":\""

/* {"type":T,"exchange":"X","symbol":"S",...: the type's text, X and S. */
static int head_fields(const char *line, size_t len, const char **t, size_t *tn, const char **x, size_t *xn,
		       const char **s, size_t *sn)
{
	const char *end = line + len;
	if (len < 16 || memcmp(line, "{\"type\":\"", 9))
		return -1;
	*t = line + 9;
	const char *q = memchr(*t, '"', (size_t)(end - *t));
	if (!q)
		return -1;
	*tn = (size_t)(q - *t);
	if (str_field(q, end, ",\"exchange\":\"", 13, x, xn) ||
	    str_field(*x + *xn, end, ",\"symbol\":\"", 11, s, sn))
		return -1;
	return 0;
}

int line_trade_key(const char *line, size_t len, uint64_t *key)
{
	const char *t, *x, *s, *id;
	size_t tn, xn, sn, idn;
	if (len < sizeof TRADE_HEAD || memcmp(line, TRADE_HEAD, sizeof TRADE_HEAD - 1) ||
	    head_fields(line, len, &t, &tn, &x, &xn, &s, &sn) ||
	    str_field(s + sn, line + len, "\"id\":\"", 6, &id, &idn))
		return 0;
	uint64_t h = 0xcbf29ce484222325ULL;
	h = hash_add(h, x, xn);
	h = hash_add(h, s, sn);
	h = hash_add(h, id, idn);
	*key = hash_end(h);
	return 1;
}

int line_state_key(const char *line, size_t len, uint64_t *key)
{
	const char *t, *x, *s;
	size_t tn, xn, sn;
	if (head_fields(line, len, &t, &tn, &x, &xn, &s, &sn))
		return 0;
	if (!(tn == 6 && !memcmp(t, "ticker", 6)) && !(tn == 4 && !memcmp(t, "book", 4)) &&
	    !(tn == 10 && !memcmp(t, "derivative", 10)))
		return 0;
	uint64_t h = 0x84222325cbf29ce4ULL;
	h = hash_add(h, t, tn);
	h = hash_add(h, x, xn);
	h = hash_add(h, s, sn);
	*key = hash_end(h);
	return 1;
}

/* ---- the set of trades passed on ---- */

int seen_init(struct seen *s, uint32_t cap)
{
	memset(s, 0, sizeof *s);
	s->cap = cap;
	s->mask = 2 * cap - 1; /* at most half full: short probes */
	s->slot = calloc((size_t)cap * 2, sizeof *s->slot);
	s->fifo = malloc((size_t)cap * sizeof *s->fifo);
	s->fifo_ts = malloc((size_t)cap * sizeof *s->fifo_ts);
	if (!s->slot || !s->fifo || !s->fifo_ts) {
		seen_free(s);
		return -1;
	}
	return 0;
}

void seen_free(struct seen *s)
{
	free(s->slot);
	free(s->fifo);
	free(s->fifo_ts);
	memset(s, 0, sizeof *s);
}

int seen_has(const struct seen *s, uint64_t key)
{
	for (uint32_t i = (uint32_t)key & s->mask; s->slot[i]; i = (i + 1) & s->mask)
		if (s->slot[i] == key)
			return 1;
	return 0;
}

/* Removes KEY, moving back the entries of its probe run so no lookup stops early. */
static void seen_remove(struct seen *s, uint64_t key)
{
	uint32_t i = (uint32_t)key & s->mask;
	while (s->slot[i] && s->slot[i] != key)
		i = (i + 1) & s->mask;
	if (!s->slot[i])
		return;
	for (uint32_t j = (i + 1) & s->mask; s->slot[j]; j = (j + 1) & s->mask) {
		uint32_t home = (uint32_t)s->slot[j] & s->mask;
		/* Entry j may move to i when its home is not in the cyclic range (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			s->slot[i] = s->slot[j];
			i = j;
		}
	}
	s->slot[i] = 0;
}

void seen_add(struct seen *s, uint64_t key, int64_t local_ts)
{
	if (!s->cap || seen_has(s, key))
		return;
	if (s->n == s->cap) {
		seen_remove(s, s->fifo[s->head]);
		if (s->fifo_ts[s->head] > s->forgot_ts)
			s->forgot_ts = s->fifo_ts[s->head];
		s->head = (s->head + 1) % s->cap;
		s->n--;
	}
	uint32_t i = (uint32_t)key & s->mask;
	while (s->slot[i])
		i = (i + 1) & s->mask;
	s->slot[i] = key;
	uint32_t at = (s->head + s->n) % s->cap;
	s->fifo[at] = key;
	s->fifo_ts[at] = local_ts;
	s->n++;
}

int64_t seen_horizon(const struct seen *s)
{
	return s->forgot_ts;
}

/* ---- a standby's kept lines ---- */

int standby_init(struct standby *b, uint32_t cap, uint64_t max_bytes, int64_t max_age_us)
{
	memset(b, 0, sizeof *b);
	b->k = calloc(cap, sizeof *b->k);
	if (!b->k)
		return -1;
	b->cap = cap;
	b->max_bytes = max_bytes;
	b->max_age_us = max_age_us;
	return 0;
}

static void standby_pop(struct standby *b)
{
	struct kept *k = &b->k[b->head];
	b->bytes -= k->len;
	free(k->line);
	k->line = NULL;
	b->head = (b->head + 1) % b->cap;
	b->n--;
}

void standby_expire(struct standby *b, int64_t now)
{
	while (b->n && now - b->k[b->head].at > b->max_age_us)
		standby_pop(b);
}

void standby_keep(struct standby *b, const char *line, size_t len, int64_t now)
{
	if (!b->cap || len > b->max_bytes)
		return;
	standby_expire(b, now);
	while (b->n && (b->n == b->cap || b->bytes + len > b->max_bytes)) {
		standby_pop(b);
		b->dropped++;
	}
	char *copy = malloc(len);
	if (!copy) {
		b->dropped++;
		return;
	}
	memcpy(copy, line, len);
	struct kept *k = &b->k[(b->head + b->n) % b->cap];
	k->line = copy;
	k->len = (uint32_t)len;
	k->at = now;
	b->bytes += len;
	b->n++;
}

void standby_clear(struct standby *b)
{
	while (b->n)
		standby_pop(b);
}

void standby_free(struct standby *b)
{
	standby_clear(b);
	free(b->k);
	memset(b, 0, sizeof *b);
}
