#include "ring.h"

#include <stdlib.h>
#include <string.h>

const unsigned char *msg_text(const struct msg *m, size_t *n)
{
	size_t hdr = (m->data[1] & 0x7f) < 126 ? 2 : (m->data[1] & 0x7f) == 126 ? 4 : 10;
	*n = m->len - hdr;
	return m->data + hdr;
}

struct msg *msg_new(const char *line, size_t body, const char *tail, size_t tlen, int type, unsigned exch,
		    unsigned sym, int64_t local_ts)
{
	size_t len = body + tlen;
	size_t hdr = len < 126 ? 2 : len < 65536 ? 4 : 10;
	struct msg *m = malloc(sizeof *m + hdr + len);
	if (!m)
		return NULL;
	memset(m, 0, sizeof *m);
	unsigned char *p = m->data;
	/* Server frames are never masked: FIN + text opcode, then the length. */
	*p++ = 0x81;
	if (len < 126) {
		*p++ = (unsigned char)len;
	} else if (len < 65536) {
		*p++ = 126;
		*p++ = (unsigned char)(len >> 8);
		*p++ = (unsigned char)len;
	} else {
		*p++ = 127;
		for (int i = 7; i >= 0; i--)
			*p++ = (unsigned char)((uint64_t)len >> (8 * i));
	}
	memcpy(p, line, body);
	if (tlen)
		memcpy(p + body, tail, tlen);
	m->len = (uint32_t)(hdr + len);
	m->type = (uint8_t)type;
	m->exch = (uint16_t)exch;
	m->sym = sym;
	m->local_ts = local_ts;
	m->refs = 1;
	return m;
}

void msg_unref(struct msg *m)
{
	if (m && --m->refs == 0)
		free(m);
}

int ring_init(struct ring *r, uint32_t cap, uint64_t max_bytes)
{
	uint32_t c = 1;
	while (c < cap)
		c <<= 1;
	memset(r, 0, sizeof *r);
	r->slot = calloc(c, sizeof *r->slot);
	if (!r->slot)
		return -1;
	r->cap = c;
	r->head = r->oldest = 1;
	r->max_bytes = max_bytes;
	return 0;
}

static void evict_one(struct ring *r)
{
	struct msg **s = &r->slot[r->oldest & (r->cap - 1)];
	r->bytes -= (*s)->len;
	msg_unref(*s);
	*s = NULL;
	r->oldest++;
	r->evicted++;
}

void ring_free(struct ring *r)
{
	while (r->oldest < r->head)
		evict_one(r);
	free(r->slot);
	r->slot = NULL;
}

void ring_push(struct ring *r, struct msg *m)
{
	while (r->head - r->oldest >= r->cap || (r->head > r->oldest && r->bytes + m->len > r->max_bytes))
		evict_one(r);
	m->seq = r->head++;
	r->cum += m->len;
	m->cum = r->cum;
	m->refs++;
	r->bytes += m->len;
	r->slot[m->seq & (r->cap - 1)] = m;
}

uint64_t ring_after_pos(const struct ring *r, int64_t pos)
{
	uint64_t lo = r->oldest, hi = r->head;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (r->slot[mid & (r->cap - 1)]->pos <= pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t ring_backlog_bytes(const struct ring *r, uint64_t seq)
{
	const struct msg *m = ring_get(r, seq);
	if (!m)
		return seq >= r->head ? 0 : r->bytes;
	return r->cum - m->cum + m->len;
}

/* ---- interning ---- */

#define MAX_EXCH 63
#define MAX_SYMS 65536

static char *exch_names[MAX_EXCH + 1];
static unsigned exch_n;

struct symtab {
	char **name;   /* by id */
	uint32_t *idx; /* open addressing: id or 0 */
	uint32_t n, cap;
};
static struct symtab syms;

static uint32_t hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

unsigned find_exchange(const char *s, size_t n)
{
	for (unsigned i = 1; i <= exch_n; i++)
		if (strlen(exch_names[i]) == n && !memcmp(exch_names[i], s, n))
			return i;
	return 0;
}

unsigned intern_exchange(const char *s, size_t n)
{
	unsigned id = find_exchange(s, n);
	if (id || exch_n == MAX_EXCH || n == 0 || n > 32)
		return id;
	char *c = strndup(s, n);
	if (!c)
		return 0;
	exch_names[++exch_n] = c;
	return exch_n;
}

static uint32_t *sym_slot(const char *s, size_t n)
{
	uint32_t mask = syms.cap - 1;
	for (uint32_t i = hash(s, n) & mask;; i = (i + 1) & mask) {
		uint32_t id = syms.idx[i];
		if (!id || (strlen(syms.name[id]) == n && !memcmp(syms.name[id], s, n)))
			return &syms.idx[i];
	}
}

unsigned find_symbol(const char *s, size_t n)
{
	return syms.cap ? *sym_slot(s, n) : 0;
}

unsigned intern_symbol(const char *s, size_t n)
{
	if (!syms.cap) {
		syms.cap = 1024;
		syms.idx = calloc(syms.cap, sizeof *syms.idx);
		syms.name = calloc(syms.cap / 2 + 1, sizeof *syms.name);
		if (!syms.idx || !syms.name)
			return 0;
	}
	uint32_t *slot = sym_slot(s, n);
	if (*slot)
		return *slot;
	if (syms.n + 1 >= MAX_SYMS || n == 0 || n > 40)
		return 0;
	if ((syms.n + 1) * 2 >= syms.cap) {
		/* Grow: double the index and rehash every name. */
		uint32_t ncap = syms.cap * 2;
		uint32_t *nidx = calloc(ncap, sizeof *nidx);
		char **nname = realloc(syms.name, (ncap / 2 + 1) * sizeof *nname);
		if (!nidx || !nname) {
			free(nidx);
			if (nname)
				syms.name = nname;
			return 0;
		}
		syms.name = nname;
		free(syms.idx);
		syms.idx = nidx;
		syms.cap = ncap;
		for (uint32_t id = 1; id <= syms.n; id++)
			*sym_slot(syms.name[id], strlen(syms.name[id])) = id;
		slot = sym_slot(s, n);
	}
	char *c = strndup(s, n);
	if (!c)
		return 0;
	syms.name[++syms.n] = c;
	*slot = syms.n;
	return syms.n;
}

const char *exchange_name(unsigned id)
{
	return id && id <= exch_n ? exch_names[id] : NULL;
}

const char *symbol_name(unsigned id)
{
	return id && id <= syms.n ? syms.name[id] : "";
}

void intern_free(void)
{
	for (unsigned i = 1; i <= exch_n; i++)
		free(exch_names[i]);
	exch_n = 0;
	for (uint32_t i = 1; i <= syms.n; i++)
		free(syms.name[i]);
	free(syms.name);
	free(syms.idx);
	memset(&syms, 0, sizeof syms);
}

const char *const msg_type_names[MT_COUNT] = {
	"trade", "ticker", "book", "status", "derivative", "liquidation", "other",
};

/* ---- cache ---- */

void cache_init(struct cache *c)
{
	memset(c, 0, sizeof *c);
}

void cache_free(struct cache *c)
{
	for (uint32_t i = 0; i < c->n; i++)
		msg_unref(c->entry[i]);
	free(c->entry);
	free(c->index);
	memset(c, 0, sizeof *c);
}

/* Status lines are kept one per exchange, whatever their symbol. */
static uint32_t key_sym(const struct msg *m)
{
	return m->type == MT_STATUS ? 0 : m->sym;
}

static uint32_t key_hash(const struct msg *m)
{
	return ((uint32_t)m->type * 2654435761u) ^ ((uint32_t)m->exch * 40503u) ^ (key_sym(m) * 2246822519u);
}

static uint32_t *cache_slot(struct cache *c, const struct msg *m)
{
	uint32_t mask = c->index_cap - 1;
	for (uint32_t i = key_hash(m) & mask;; i = (i + 1) & mask) {
		uint32_t pos = c->index[i];
		if (!pos)
			return &c->index[i];
		const struct msg *e = c->entry[pos - 1];
		if (e->type == m->type && e->exch == m->exch && key_sym(e) == key_sym(m))
			return &c->index[i];
	}
}

int cache_put(struct cache *c, struct msg *m)
{
	if (!c->index_cap) {
		c->index_cap = 256;
		c->index = calloc(c->index_cap, sizeof *c->index);
		if (!c->index)
			return -1;
	}
	uint32_t *slot = cache_slot(c, m);
	if (*slot) {
		struct msg **e = &c->entry[*slot - 1];
		msg_unref(*e);
		m->refs++;
		*e = m;
		return 0;
	}
	if (c->n == c->cap) {
		uint32_t cap = c->cap ? c->cap * 2 : 64;
		struct msg **ne = realloc(c->entry, cap * sizeof *ne);
		if (!ne)
			return -1;
		c->entry = ne;
		c->cap = cap;
	}
	if ((c->n + 1) * 2 > c->index_cap) {
		uint32_t ncap = c->index_cap * 2;
		uint32_t *ni = calloc(ncap, sizeof *ni);
		if (!ni)
			return -1;
		free(c->index);
		c->index = ni;
		c->index_cap = ncap;
		for (uint32_t i = 0; i < c->n; i++)
			*cache_slot(c, c->entry[i]) = i + 1;
		slot = cache_slot(c, m);
	}
	m->refs++;
	c->entry[c->n++] = m;
	*slot = c->n;
	return 0;
}
