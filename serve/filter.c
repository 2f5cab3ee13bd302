/* filter.c: a client's filter — read from the upgrade's query and from subscribe, matched
 * against lines, and written back in the answer to a subscribe (see filter.h). */
#include "filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[MT_COUNT] = { "trade", "ticker", "book", "status", "other" };

void filter_free(struct filter *f)
{
	free(f->pending);
	f->pending = NULL;
	f->npending = 0;
}

void filter_all(struct filter *f)
{
	f->types = MT_ALL;
	f->exchanges = ~(uint64_t)0;
	f->nsyms = 0;
	f->npending = 0;
	f->pending = NULL;
}

/* "value" quoted for an error text, cut to 40 bytes. */
static void quote_value(char *out, size_t n, const char *s, size_t len)
{
	snprintf(out, n, "\"%.*s%s\"", (int)(len > 40 ? 40 : len), s, len > 40 ? "..." : "");
}

static int add_type(struct filter *f, const char *s, size_t n, char *err, size_t errlen)
{
	char v[64];
	for (int t = 0; t < MT_OTHER; t++)
		if (strlen(type_names[t]) == n && !memcmp(type_names[t], s, n)) {
			f->types |= 1u << t;
			return 0;
		}
	quote_value(v, sizeof v, s, n);
	snprintf(err, errlen, "unknown type %s in types (known: trade, ticker, book, status)", v);
	return -1;
}

static int add_exchange(struct filter *f, const char *s, size_t n, char *err, size_t errlen)
{
	unsigned id = find_exchange(s, n);
	if (id) {
		f->exchanges |= (uint64_t)1 << id;
		return 0;
	}
	char v[64], known[256];
	size_t k = 0;
	known[0] = 0;
	for (unsigned i = 1; exchange_name(i); i++)
		k += (size_t)snprintf(known + k, k < sizeof known ? sizeof known - k : 0, "%s%s",
				      i > 1 ? ", " : "", exchange_name(i));
	quote_value(v, sizeof v, s, n);
	snprintf(err, errlen, "unknown exchange %s in exchanges (known: %s)", v, known);
	return -1;
}

/* A client's symbol in the relay's spelling: BASE-QUOTE, or BASE-QUOTE-SUFFIX for
 * derivatives (PERP, a date), upper case, aliases applied. Returns the length or -1. */
static int client_symbol(const char *s, size_t n, char *out)
{
	const char *d1 = memchr(s, '-', n);
	const char *d2 = d1 ? memchr(d1 + 1, '-', n - (size_t)(d1 + 1 - s)) : NULL;
	if (!d2)
		return sym_split_sep(s, n, '-', 0, out);
	size_t sl = n - (size_t)(d2 + 1 - s);
	int len = sym_join(s, (size_t)(d1 - s), d1 + 1, (size_t)(d2 - d1 - 1), out);
	if (len < 0 || !sl || (size_t)len + 1 + sl >= SYM_MAX)
		return -1;
	out[len++] = '-';
	for (size_t i = 0; i < sl; i++) {
		char c = d2[1 + i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return -1;
		out[len++] = c;
	}
	out[len] = 0;
	return len;
}

static int add_symbol(struct filter *f, const char *s, size_t n, char *err, size_t errlen)
{
	char norm[SYM_MAX], v[64];
	if (client_symbol(s, n, norm) < 0) {
		quote_value(v, sizeof v, s, n);
		snprintf(err, errlen, "bad symbol %s in symbols (want BASE-QUOTE such as BTC-USDT, or BTC-USDT-PERP)", v);
		return -1;
	}
	unsigned id = find_symbol(norm, strlen(norm));
	for (int i = 0; i < f->nsyms; i++)
		if ((id && f->syms[i] == id) || (f->syms[i] == FILTER_SYM_PENDING && !strcmp(f->pending[i], norm)))
			return 0; /* named twice */
	if (f->nsyms == MAX_FILTER_SYMS) {
		snprintf(err, errlen, "too many symbols (at most %d)", MAX_FILTER_SYMS);
		return -1;
	}
	if (!id) {
		/* Not seen on the feed yet: it may appear later. */
		if (!f->pending && !(f->pending = calloc(MAX_FILTER_SYMS, sizeof *f->pending))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		memcpy(f->pending[f->nsyms], norm, sizeof norm);
		f->npending++;
		id = FILTER_SYM_PENDING;
	}
	f->syms[f->nsyms++] = id;
	return 0;
}

enum { F_TYPES, F_EXCHANGES, F_SYMBOLS };
static int (*const adders[])(struct filter *, const char *, size_t, char *, size_t) = {
	add_type, add_exchange, add_symbol
};
static const char *const list_names[] = { "types", "exchanges", "symbols" };

/* Empties one part of F before a list is read into it. */
static void filter_clear(struct filter *f, int kind)
{
	if (kind == F_TYPES) {
		f->types = 0;
	} else if (kind == F_EXCHANGES) {
		f->exchanges = 0;
	} else {
		f->nsyms = 0;
		f->npending = 0;
	}
}

/* An empty list means all. */
static void filter_default(struct filter *f, int kind)
{
	if (kind == F_TYPES && !f->types)
		f->types = MT_ALL;
	if (kind == F_EXCHANGES && !f->exchanges)
		f->exchanges = ~(uint64_t)0;
}

/* A comma list from the query string ("trade,ticker"). Empty items are ignored. */
static int filter_list(struct filter *f, int kind, const char *s, char *err, size_t errlen)
{
	filter_clear(f, kind);
	while (*s) {
		size_t n = strcspn(s, ",");
		if (n && adders[kind](f, s, n, err, errlen))
			return -1;
		s += n;
		if (*s)
			s++;
	}
	filter_default(f, kind);
	return 0;
}

int filter_resolve(struct filter *f, uint32_t sym)
{
	const char *name = symbol_name(sym);
	for (int i = 0; i < f->nsyms; i++)
		if (f->syms[i] == FILTER_SYM_PENDING && !strcmp(f->pending[i], name)) {
			f->syms[i] = sym;
			f->npending--;
			return 1;
		}
	return 0;
}

/* ---- the query of the upgrade: ?types=trade,ticker&exchanges=upbit&symbols=BTC-KRW ---- */

int filter_query_param(struct filter *f, const char *arg, char *err, size_t errlen)
{
	for (int k = F_TYPES; k <= F_SYMBOLS; k++) {
		size_t n = strlen(list_names[k]);
		if (!strncmp(arg, list_names[k], n) && arg[n] == '=')
			return filter_list(f, k, arg + n + 1, err, errlen);
	}
	return 0;
}

/* ---- a subscribe message ---- */

/* Reads a JSON array of strings into one part of the filter; a missing key means "all". */
static int filter_array(struct filter *f, int kind, const struct js_doc *d, int arr, char *err,
			size_t errlen)
{
	filter_clear(f, kind);
	if (arr >= 0 && js_type(d, arr) != JS_NULL) {
		if (js_type(d, arr) != JS_ARRAY) {
			snprintf(err, errlen, "%s must be an array of strings", list_names[kind]);
			return -1;
		}
		for (uint32_t i = 0, k = (uint32_t)arr + 1; i < d->tok[arr].size; i++, k = d->tok[k].next) {
			if (d->tok[k].type != JS_STRING || (d->tok[k].flags & JS_ESCAPED)) {
				snprintf(err, errlen, "%s must be an array of plain strings (entry %u is not)",
					 list_names[kind], i + 1);
				return -1;
			}
			if (adders[kind](f, js_ptr(d, (int)k), js_len(d, (int)k), err, errlen))
				return -1;
		}
	}
	filter_default(f, kind);
	return 0;
}

int filter_from_subscribe(struct filter *f, const struct js_doc *d, char *err, size_t errlen)
{
	filter_all(f);
	if (filter_array(f, F_TYPES, d, js_get(d, 0, "types"), err, errlen) ||
	    filter_array(f, F_EXCHANGES, d, js_get(d, 0, "exchanges"), err, errlen) ||
	    filter_array(f, F_SYMBOLS, d, js_get(d, 0, "symbols"), err, errlen))
		return -1;
	return 0;
}

/* ---- the answer to a subscribe ---- */

static void names_json(struct jw *w, const char *key, const struct filter *f, int kind)
{
	jw_lit(w, ",\"");
	jw_raw(w, key, strlen(key));
	jw_lit(w, "\":[");
	int first = 1;
	if (kind == F_TYPES && f->types != MT_ALL) {
		for (int t = 0; t < MT_OTHER; t++)
			if ((f->types >> t) & 1) {
				if (!first)
					jw_char(w, ',');
				first = 0;
				jw_str(w, type_names[t], strlen(type_names[t]));
			}
	} else if (kind == F_EXCHANGES && f->exchanges != ~(uint64_t)0) {
		for (unsigned id = 1; id < 64; id++)
			if ((f->exchanges >> id) & 1) {
				const char *name = exchange_name(id);
				if (!name)
					continue;
				if (!first)
					jw_char(w, ',');
				first = 0;
				jw_str(w, name, strlen(name));
			}
	} else if (kind == F_SYMBOLS) {
		for (int i = 0; i < f->nsyms; i++) {
			const char *name = f->syms[i] == FILTER_SYM_PENDING ? f->pending[i] : symbol_name(f->syms[i]);
			if (!first)
				jw_char(w, ',');
			first = 0;
			jw_str(w, name, strlen(name));
		}
	}
	jw_char(w, ']');
}

void filter_json(struct jw *w, const struct filter *f)
{
	names_json(w, "types", f, F_TYPES);
	names_json(w, "exchanges", f, F_EXCHANGES);
	names_json(w, "symbols", f, F_SYMBOLS);
}
