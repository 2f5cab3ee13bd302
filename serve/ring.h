/* ring.h: serve's shared ring of pre-framed messages and the cache of latest tickers, books and derivatives. */
#ifndef SERVE_RING_H
#define SERVE_RING_H

#include <stddef.h>
#include <stdint.h>

enum msg_type { MT_TRADE, MT_TICKER, MT_BOOK, MT_STATUS, MT_DERIVATIVE, MT_LIQUIDATION, MT_OTHER, MT_COUNT };
/* The names of the types, as lines and filters spell them ("other" is never asked for). */
extern const char *const msg_type_names[MT_COUNT];
#define MT_ALL ((1u << MT_COUNT) - 1)

/* One normalized line, framed once as a WebSocket text frame for every client. Shared by
 * the ring and the cache, freed when neither holds it. */
struct msg {
	uint64_t seq;      /* place in this serve's ring */
	int64_t pos;       /* place in the cluster's stream ("seq" at the line's end) */
	uint64_t cum;      /* framed bytes of every message up to and including this one */
	int64_t local_ts;  /* µs, for the pipeline latency; 0 when the line had none */
	uint32_t len;      /* framed length: header + payload */
	uint32_t sym;      /* interned symbol, 0 for none */
	uint16_t exch;     /* interned exchange, 0 for none */
	uint8_t type;      /* enum msg_type */
	uint8_t refs;
	unsigned char data[];
};

/* Builds a message for the line LINE (no newline) followed by TAIL (TLEN bytes, may be 0).
 * NULL when out of memory. */
struct msg *msg_new(const char *line, size_t len, const char *tail, size_t tlen, int type, unsigned exch,
		    unsigned sym, int64_t local_ts);
void msg_unref(struct msg *m);
/* The line a message carries (its frame's payload); *N its length. */
const unsigned char *msg_text(const struct msg *m, size_t *n);

/* The ring keeps the newest messages within a count and a byte budget. Sequence numbers
 * start at 1; a client's position is the next sequence it needs. */
struct ring {
	struct msg **slot;
	uint32_t cap;          /* power of two */
	uint64_t head;         /* sequence the next message gets */
	uint64_t oldest;       /* oldest sequence still held */
	uint64_t bytes, max_bytes, cum;
	uint64_t evicted;
};

int ring_init(struct ring *r, uint32_t cap, uint64_t max_bytes);
void ring_free(struct ring *r);
/* Appends M (the ring takes a reference), evicting the oldest messages as needed. */
void ring_push(struct ring *r, struct msg *m);
/* Message SEQ, or NULL when it was evicted or does not exist yet. */
static inline struct msg *ring_get(const struct ring *r, uint64_t seq)
{
	if (seq < r->oldest || seq >= r->head)
		return NULL;
	return r->slot[seq & (r->cap - 1)];
}
/* Bytes between position SEQ and the head (what a client at SEQ still has to receive). */
uint64_t ring_backlog_bytes(const struct ring *r, uint64_t seq);
/* The ring sequence of the oldest message held whose stream position is above POS (the
 * head when none is): stream positions never go down along the ring. */
uint64_t ring_after_pos(const struct ring *r, int64_t pos);

/* Interned names: exchanges (ids 1..63) and symbols (ids 1..). 0 means none or full. */
unsigned intern_exchange(const char *s, size_t n);
unsigned intern_symbol(const char *s, size_t n);
/* Looks up without adding; 0 when unknown. */
unsigned find_exchange(const char *s, size_t n);
unsigned find_symbol(const char *s, size_t n);
void intern_free(void);
/* Names of interned ids (NULL when unknown). */
const char *exchange_name(unsigned id);
const char *symbol_name(unsigned id);

/* The latest ticker, book and derivative per stream, and status line per exchange, in first-seen order,
 * for new subscribers. */
struct cache {
	struct msg **entry;
	uint32_t n, cap;
	/* open-addressing index from (type, exch, sym) to entry position + 1 */
	uint32_t *index;
	uint32_t index_cap;
};
void cache_init(struct cache *c);
void cache_free(struct cache *c);
/* Keeps M as the latest of its stream (takes a reference). Returns 0 or -1 (no memory). */
int cache_put(struct cache *c, struct msg *m);

#endif
