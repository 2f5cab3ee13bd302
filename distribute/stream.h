/* stream.h: what distribute knows about the cluster's one stream — the position ("seq") at
 * the end of each line, the trades already passed on (by exchange, symbol and trade id), and
 * the lines a standby keeps to publish when it is promoted. */
#ifndef DIST_STREAM_H
#define DIST_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "seq.h"

/* local_ts of LINE (0 when it has none). */
int64_t line_local_ts(const char *line, size_t len);
/* For a trade line: a 64-bit key of (exchange, symbol, id); returns 1. 0 for other lines. */
int line_trade_key(const char *line, size_t len, uint64_t *key);
/* For a ticker, book or derivative line: a key of (type, exchange, symbol); returns 1. */
int line_state_key(const char *line, size_t len, uint64_t *key);

/* ---- the trades passed on recently: a bounded set, oldest out first ---- */

struct seen {
	uint64_t *slot;    /* open addressing, linear probing; 0 = empty */
	uint32_t mask;
	uint64_t *fifo;    /* keys in insertion order, to forget the oldest */
	int64_t *fifo_ts;  /* their local_ts */
	uint32_t cap, head, n;
	int64_t forgot_ts; /* the newest local_ts among the keys forgotten */
};
int seen_init(struct seen *s, uint32_t cap); /* CAP: a power of two. 0, or -1 (no memory) */
void seen_free(struct seen *s);
int seen_has(const struct seen *s, uint64_t key);
/* Adds KEY (when not there), forgetting the oldest key when full. */
void seen_add(struct seen *s, uint64_t key, int64_t local_ts);
/* The newest local_ts of a key the set forgot (0: none yet): a trade no newer than this
 * cannot be told apart from one passed on. */
int64_t seen_horizon(const struct seen *s);

/* ---- a standby's lines: the newest, within an age and a byte budget ---- */

struct kept {
	char *line;
	uint32_t len;
	int64_t at; /* when kept, mono µs */
};
struct standby {
	struct kept *k;
	uint32_t cap, head, n;
	uint64_t bytes, max_bytes;
	int64_t max_age_us;
	uint64_t dropped; /* lines forgotten for the byte budget or the count */
};
int standby_init(struct standby *b, uint32_t cap, uint64_t max_bytes, int64_t max_age_us);
void standby_free(struct standby *b);
/* Keeps a copy of LINE; forgets what is too old or over the budget. */
void standby_keep(struct standby *b, const char *line, size_t len, int64_t now);
void standby_expire(struct standby *b, int64_t now);
void standby_clear(struct standby *b);
/* The I-th kept line, oldest first. */
static inline const struct kept *standby_at(const struct standby *b, uint32_t i)
{
	return &b->k[(b->head + i) % b->cap];
}

#endif
