/* json.h: a strict zero-copy JSON tokenizer that keeps string and number text exactly as sent. */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>
#include <stdint.h>

enum js_type { JS_NONE, JS_OBJECT, JS_ARRAY, JS_STRING, JS_NUMBER, JS_TRUE, JS_FALSE, JS_NULL };

enum js_err {
	JS_OK = 0,
	JS_ESYNTAX,  /* not JSON */
	JS_EUTF8,    /* a string holds invalid UTF-8 */
	JS_EDEPTH,   /* nested deeper than JS_MAX_DEPTH */
	JS_ETOKENS,  /* more tokens than the document's limit */
	JS_ENOMEM,
};

#define JS_MAX_DEPTH 64
#define JS_ESCAPED 1 /* string token contains backslash escapes */

/* One value. Strings point inside the quotes; `next` is the index of the first token after
 * this value's subtree, so siblings are reached without walking children. In an object the
 * children alternate key, value. */
struct js_tok {
	uint32_t start;
	uint32_t len;
	uint32_t next;
	uint32_t size;  /* object: member count; array: element count */
	uint8_t type;
	uint8_t flags;
};

/* A parsed document. The token array is owned by the document and reused across parses;
 * the source text is borrowed and must outlive every use of the tokens. */
struct js_doc {
	const char *src;
	struct js_tok *tok;
	uint32_t n, cap;
	uint32_t max_tokens; /* 0: no limit beyond the source length */
	size_t err_at;       /* byte offset of the first error */
};

void js_init(struct js_doc *d, uint32_t max_tokens);
void js_free(struct js_doc *d);
/* Parses exactly one value surrounded by optional whitespace. Token 0 is the root. */
enum js_err js_parse(struct js_doc *d, const char *s, size_t len);
const char *js_strerror(enum js_err e);

/* Member KEY of object token OBJ, or -1. Keys are compared as raw text. */
int js_getn(const struct js_doc *d, int obj, const char *key, size_t keylen);
#define js_get(d, obj, lit) js_getn((d), (obj), (lit), sizeof(lit) - 1)
/* Element IDX of array token ARR, or -1. */
int js_at(const struct js_doc *d, int arr, uint32_t idx);

static inline int js_type(const struct js_doc *d, int t)
{
	return t < 0 ? JS_NONE : d->tok[t].type;
}
static inline const char *js_ptr(const struct js_doc *d, int t) { return d->src + d->tok[t].start; }
static inline uint32_t js_len(const struct js_doc *d, int t) { return d->tok[t].len; }

/* True when token T is a string equal to LIT (raw text comparison). */
int js_streqn(const struct js_doc *d, int t, const char *s, size_t n);
#define js_streq(d, t, lit) js_streqn((d), (t), (lit), sizeof(lit) - 1)

/* Integer value of a number token without fraction or exponent, or of a string of digits.
 * Returns 0 on success, -1 when T is no such integer or it overflows int64. */
int js_int64(const struct js_doc *d, int t, int64_t *out);

/* Decimal text of a number token, or of a string token holding a number (the form most
 * exchanges use for prices). Returns 0 and the span, or -1. The text is not validated. */
int js_numtext(const struct js_doc *d, int t, const char **s, size_t *n);

/* The number text (js_numtext) of the first two elements of array token T, as order book
 * levels are sent: [price, amount, ...]. Returns 0, or -1 when T is no array of two or more
 * elements or either of them is no number. */
static inline int js_numpair(const struct js_doc *d, int t, const char **a, size_t *an, const char **b,
			     size_t *bn)
{
	if (js_type(d, t) != JS_ARRAY || d->tok[t].size < 2)
		return -1;
	return js_numtext(d, t + 1, a, an) || js_numtext(d, (int)d->tok[t + 1].next, b, bn) ? -1 : 0;
}

/* Validates that S is UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
int js_utf8_valid(const char *s, size_t len);

#endif
