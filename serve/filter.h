/* filter.h: what one WebSocket client of serve wants — types, exchanges and symbols, read
 * from the upgrade's query or from a subscribe message — and whether a line matches it.
 *
 * Names a client gives never enter the tables of the data path (ring.c's interned names):
 * an exchange must be one the relay knows (lib/exchanges, interned at start) or one the
 * feed has produced; a symbol the feed has not produced yet is kept in the client's own
 * filter, as text, and turned into the feed's id when the first line of it goes by. So no
 * client can fill those tables, and each filter is bounded (MAX_FILTER_SYMS). */
#ifndef SERVE_FILTER_H
#define SERVE_FILTER_H

#include "json.h"
#include "jw.h"
#include "ring.h"
#include "sym.h"

#include <stddef.h>
#include <stdint.h>

#define MAX_FILTER_SYMS 64
#define FILTER_SYM_PENDING UINT32_MAX /* syms[i]: not produced by the feed yet, name in pending[i] */

/* Type bits, exchange bits (bit = interned id), and symbols: ids of names the feed has
 * produced, or names it has not produced yet, kept here. */
struct filter {
	uint32_t types;
	uint64_t exchanges;
	uint32_t syms[MAX_FILTER_SYMS];
	int nsyms;             /* 0: every symbol */
	int npending;          /* entries still waiting for the feed to produce their name */
	char (*pending)[SYM_MAX]; /* their names, by entry; allocated on the first one */
};

/* Everything: no type, exchange or symbol left out. Owns nothing yet. */
void filter_all(struct filter *f);
/* Frees what F owns (the pending names); F may be filled again after filter_all. */
void filter_free(struct filter *f);

/* One parameter of the upgrade's query: types=, exchanges= or symbols= with a comma list
 * (empty items ignored, an empty list means all); any other parameter is left alone.
 * Returns 0, or -1 with ERR naming the value and what is allowed. */
int filter_query_param(struct filter *f, const char *arg, char *err, size_t errlen);

/* The filter of a subscribe message: the arrays "types", "exchanges" and "symbols" of the
 * object that is token 0 of D (a missing key or null means all). Returns 0, or -1 with ERR;
 * F owns its pending names either way (filter_free). */
int filter_from_subscribe(struct filter *f, const struct js_doc *d, char *err, size_t errlen);

/* ,"types":[...],"exchanges":[...],"symbols":[...] as the client named them ([] for all). */
void filter_json(struct jw *w, const struct filter *f);

/* A symbol the filter waits for has appeared on the feed as id SYM: the entry takes the
 * id, so later lines match by number. Returns 1 when F waited for it. Runs on whichever
 * thread writes to the client: the filter is that client's alone, and the symbol table
 * does not change while a fan-out round runs. */
int filter_resolve(struct filter *f, uint32_t sym);

/* Whether F takes M. Inline: it runs once per client per line. */
static inline int filter_match(struct filter *f, const struct msg *m)
{
	if (!((f->types >> m->type) & 1) || !((f->exchanges >> m->exch) & 1))
		return 0;
	if (!f->nsyms || (m->sym == 0 && m->type == MT_STATUS))
		return 1;
	for (int i = 0; i < f->nsyms; i++)
		if (f->syms[i] == m->sym)
			return 1;
	return f->npending && m->sym && filter_resolve(f, m->sym);
}

#endif
