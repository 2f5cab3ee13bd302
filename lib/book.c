#include "book.h"
#include "dec.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct book *book_new(uint32_t max_levels)
{
	struct book *b = calloc(1, sizeof *b);
	if (b)
		b->max_levels = max_levels;
	return b;
}

void book_free(struct book *b)
{
	if (!b)
		return;
	free(b->side[0].lv);
	free(b->side[1].lv);
	free(b);
}

void book_clear(struct book *b)
{
	b->side[0].n = b->side[1].n = 0;
}

/* Position of PX in side S: *found set when present; else where it would be inserted. Bids
 * ascend and asks descend, so the best of each is last. */
static uint32_t find(const struct book_half *h, enum book_side s, const char *px, size_t pl, int *found)
{
	uint32_t lo = 0, hi = h->n;
	*found = 0;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = dec_cmp(h->lv[mid].px, strlen(h->lv[mid].px), px, pl);
		if (s == BOOK_ASK)
			c = -c;
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int book_set(struct book *b, enum book_side s, const char *px, size_t pn, const char *qty, size_t qn)
{
	char p[DEC_MAX], q[DEC_MAX];
	int pl = dec_canon(px, pn, p), ql = dec_canon(qty, qn, q);
	if (pl < 0 || ql < 0 || p[0] == '-' || q[0] == '-' || pl >= BOOK_TEXT || ql >= BOOK_TEXT ||
	    pn >= BOOK_TEXT || qn >= BOOK_TEXT)
		return -1;
	struct book_half *h = &b->side[s];
	int found;
	uint32_t i = find(h, s, p, (size_t)pl, &found);
	if (dec_is_zero(q, (size_t)ql)) {
		if (found) {
			memmove(h->lv + i, h->lv + i + 1, (h->n - i - 1) * sizeof *h->lv);
			h->n--;
		}
		return 0;
	}
	if (dec_is_zero(p, (size_t)pl))
		return -1;
	if (!found) {
		if (h->n >= b->max_levels)
			return -1;
		if (h->n == h->cap) {
			uint32_t cap = h->cap ? h->cap * 2 : 64;
			if (cap > b->max_levels)
				cap = b->max_levels;
			struct book_level *nl = realloc(h->lv, cap * sizeof *nl);
			if (!nl)
				return -1;
			h->lv = nl;
			h->cap = cap;
		}
		memmove(h->lv + i + 1, h->lv + i, (h->n - i) * sizeof *h->lv);
		h->n++;
		memcpy(h->lv[i].px, p, (size_t)pl + 1);
		memcpy(h->lv[i].raw_px, px, pn);
		h->lv[i].raw_px[pn] = 0;
	}
	memcpy(h->lv[i].qty, q, (size_t)ql + 1);
	memcpy(h->lv[i].raw_qty, qty, qn);
	h->lv[i].raw_qty[qn] = 0;
	return 0;
}

void book_truncate(struct book *b, uint32_t depth)
{
	for (int s = 0; s < 2; s++) {
		struct book_half *h = &b->side[s];
		if (h->n > depth) {
			memmove(h->lv, h->lv + (h->n - depth), depth * sizeof *h->lv);
			h->n = depth;
		}
	}
}

int book_crossed(const struct book *b)
{
	const struct book_level *bid = book_level(b, BOOK_BID, 0), *ask = book_level(b, BOOK_ASK, 0);
	return bid && ask && dec_cmp(bid->px, strlen(bid->px), ask->px, strlen(ask->px)) >= 0;
}

static size_t put(char *buf, size_t o, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (o + n < cap) {
		memcpy(buf + o, s, n);
		o += n;
	}
	return o;
}

uint32_t book_crc_interleaved(const struct book *b, uint32_t n)
{
	char buf[8192];
	size_t o = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct book_level *bid = book_level(b, BOOK_BID, i), *ask = book_level(b, BOOK_ASK, i);
		if (!bid && !ask)
			break;
		if (bid) {
			if (o)
				o = put(buf, o, sizeof buf, ":");
			o = put(buf, o, sizeof buf, bid->raw_px);
			o = put(buf, o, sizeof buf, ":");
			o = put(buf, o, sizeof buf, bid->raw_qty);
		}
		if (ask) {
			if (o)
				o = put(buf, o, sizeof buf, ":");
			o = put(buf, o, sizeof buf, ask->raw_px);
			o = put(buf, o, sizeof buf, ":");
			o = put(buf, o, sizeof buf, ask->raw_qty);
		}
	}
	return (uint32_t)crc32(0, (const Bytef *)buf, (uInt)o);
}

/* A canonical decimal written with exactly DP decimals, point removed, leading zeros
 * stripped: ("0.5666", 4) -> "5666"; ("18097.1547", 8) -> "1809715470000". */
static size_t kraken_digits(const char *canon, int dp, char *out, size_t cap)
{
	char tmp[BOOK_TEXT + 32];
	size_t o = 0;
	const char *dot = strchr(canon, '.');
	size_t il = dot ? (size_t)(dot - canon) : strlen(canon);
	const char *frac = dot ? dot + 1 : "";
	size_t fl = strlen(frac);
	memcpy(tmp, canon, il);
	o = il;
	for (int k = 0; k < dp && o < sizeof tmp - 1; k++)
		tmp[o++] = (size_t)k < fl ? frac[k] : '0';
	tmp[o] = 0;
	size_t z = 0;
	while (z + 1 < o && tmp[z] == '0')
		z++;
	size_t n = o - z;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, tmp + z, n);
	out[n] = 0;
	return n;
}

uint32_t book_crc_kraken(const struct book *b, int px_dp, int qty_dp)
{
	char buf[4096], digits[BOOK_TEXT + 32];
	size_t o = 0;
	static const enum book_side order[2] = { BOOK_ASK, BOOK_BID };
	for (int s = 0; s < 2; s++)
		for (uint32_t i = 0; i < BOOK_CRC_KRAKEN_LEVELS; i++) {
			const struct book_level *l = book_level(b, order[s], i);
			if (!l)
				break;
			kraken_digits(l->px, px_dp, digits, sizeof digits);
			o = put(buf, o, sizeof buf, digits);
			kraken_digits(l->qty, qty_dp, digits, sizeof digits);
			o = put(buf, o, sizeof buf, digits);
		}
	return (uint32_t)crc32(0, (const Bytef *)buf, (uInt)o);
}
