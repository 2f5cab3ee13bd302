/* book.h: a full order book kept from snapshots and deltas, for exchanges that send deltas. */
#ifndef BOOK_H
#define BOOK_H

#include <stddef.h>
#include <stdint.h>

#define BOOK_TEXT 32 /* longest price or amount text kept, NUL included */

enum book_side { BOOK_BID, BOOK_ASK };

struct book_level {
	char px[BOOK_TEXT];  /* canonical decimal: the key and what clients see */
	char qty[BOOK_TEXT]; /* canonical decimal */
	char raw_px[BOOK_TEXT], raw_qty[BOOK_TEXT]; /* as the exchange wrote them (checksums) */
};

/* One side is sorted so that its best level is last: inserts and deletes near the top of
 * the book, the common case, move little memory. */
struct book_half {
	struct book_level *lv;
	uint32_t n, cap;
};

struct book {
	struct book_half side[2];
	uint32_t max_levels; /* per side; a delta that would exceed it fails */
};

/* Creates an empty book holding at most MAX_LEVELS per side; NULL when out of memory. */
struct book *book_new(uint32_t max_levels);
/* Frees B and its levels (NULL is fine). */
void book_free(struct book *b);
/* Empties both sides. Whether the book is in step with the exchange is its reader's to
 * know (the reader's own state, lib/exchanges/norm.h). */
void book_clear(struct book *b);

/* Sets the amount at a price (a zero amount deletes the level; deleting a level that is not
 * there is fine). Returns 0, or -1 when the text is not a decimal, is negative, or too long,
 * or the side is full. */
int book_set(struct book *b, enum book_side s, const char *px, size_t pn, const char *qty, size_t qn);

/* Drops every level beyond the best DEPTH of each side (Kraken, Bybit: levels that leave
 * the subscribed depth are not deleted explicitly). */
void book_truncate(struct book *b, uint32_t depth);

/* I-th best level of a side (0 = best), or NULL. */
static inline const struct book_level *book_level(const struct book *b, enum book_side s, uint32_t i)
{
	const struct book_half *h = &b->side[s];
	return i < h->n ? &h->lv[h->n - 1 - i] : NULL;
}
static inline uint32_t book_depth(const struct book *b, enum book_side s) { return b->side[s].n; }

/* True when the best bid is at or above the best ask. */
int book_crossed(const struct book *b);

/* CRC32 of "bid1px:bid1qty:ask1px:ask1qty:bid2px:..." over the best N of each side, with
 * the exchange's original text, skipping missing entries (OKX, Bitget). */
uint32_t book_crc_interleaved(const struct book *b, uint32_t n);

/* Levels per side that Kraken's checksum covers. */
#define BOOK_CRC_KRAKEN_LEVELS 10

/* Kraken's CRC32: the best 10 asks then the best 10 bids, each price and amount written
 * with PX_DP / QTY_DP decimals, points removed and leading zeros stripped. */
uint32_t book_crc_kraken(const struct book *b, int px_dp, int qty_dp);

#endif
