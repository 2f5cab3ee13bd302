/* jw.h: a JSON line writer that emits keys in the order they are written, for byte-exact output. */
#ifndef JW_H
#define JW_H

#include <stddef.h>
#include <stdint.h>

/* A growable buffer holding one or more lines. Grows up to `max` bytes; past it every write
 * fails and `err` is set, so callers check once at the end of a line. */
struct jw {
	char *buf;
	size_t len, cap, max;
	int err;
	int first; /* no member written yet in the innermost open object or array */
};

void jw_init(struct jw *w, size_t max);
void jw_free(struct jw *w);
static inline void jw_reset(struct jw *w) { w->len = 0; w->err = 0; w->first = 1; }

void jw_raw(struct jw *w, const char *s, size_t n);
/* Appends a string literal. */
#define jw_lit(w, lit) jw_raw((w), (lit), sizeof(lit) - 1)
static inline void jw_char(struct jw *w, char c) { jw_raw(w, &c, 1); }
/* Opens '{' or '[' and closes '}' or ']'. */
void jw_open(struct jw *w, char c);
void jw_close(struct jw *w, char c);
/* Writes the separator if needed and "key": (KEY must need no escaping). */
void jw_key(struct jw *w, const char *key);
/* Writes the separator for the next array element. */
void jw_elem(struct jw *w);
/* String values: S escaped as JSON; jw_json_str copies text already escaped (taken from
 * a JSON document) between quotes. */
void jw_str(struct jw *w, const char *s, size_t n);
void jw_json_str(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, int64_t v);
/* Canonical decimal (see dec.h) of decimal text S. Returns 0, or -1 (and writes nothing)
 * when S is not a decimal. */
int jw_dec(struct jw *w, const char *s, size_t n);

#endif
