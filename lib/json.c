#include "json.h"

#include <stdlib.h>
#include <string.h>

struct parser {
	struct js_doc *d;
	const unsigned char *s;
	size_t len, i;
	int depth;
};

void js_init(struct js_doc *d, uint32_t max_tokens)
{
	memset(d, 0, sizeof *d);
	d->max_tokens = max_tokens;
}

void js_free(struct js_doc *d)
{
	free(d->tok);
	d->tok = NULL;
	d->n = d->cap = 0;
}

const char *js_strerror(enum js_err e)
{
	switch (e) {
	case JS_OK: return "ok";
	case JS_ESYNTAX: return "malformed JSON";
	case JS_EUTF8: return "invalid UTF-8";
	case JS_EDEPTH: return "nested too deep";
	case JS_ETOKENS: return "too many values";
	case JS_ENOMEM: return "out of memory";
	}
	return "unknown";
}

static inline int new_tok(struct parser *p, int type, uint32_t *idx)
{
	struct js_doc *d = p->d;
	if (d->max_tokens && d->n >= d->max_tokens)
		return JS_ETOKENS;
	if (d->n == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 256;
		struct js_tok *t = realloc(d->tok, cap * sizeof *t);
		if (!t)
			return JS_ENOMEM;
		d->tok = t;
		d->cap = cap;
	}
	*idx = d->n++;
	struct js_tok *t = &d->tok[*idx];
	t->type = (uint8_t)type;
	t->flags = 0;
	t->size = 0;
	t->start = (uint32_t)p->i;
	t->len = 0;
	t->next = *idx + 1;
	return JS_OK;
}

static inline void skip_ws(struct parser *p)
{
	while (p->i < p->len) {
		unsigned char c = p->s[p->i];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->i++;
	}
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Length of the UTF-8 sequence at S (>= 1), or 0 when it is invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return avail >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (avail < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0; /* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (avail < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;
		if (c == 0xf4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

int js_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		size_t k = utf8_seq(u + i, len - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

/* Bytes a string may hold as they are: printable ASCII other than '"' and '\\'. */
static const unsigned char plain_byte[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
	R16(0), R16(0),
	/* 0x20..0x2f: '"' (0x22) is not plain */
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	R16(1), R16(1),
	/* 0x50..0x5f: '\\' (0x5c) is not plain */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	R16(1), R16(1),
	R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0),
#undef R16
};

static int parse_string(struct parser *p)
{
	uint32_t idx;
	int rc;
	p->i++; /* opening quote */
	if ((rc = new_tok(p, JS_STRING, &idx)))
		return rc;
	const unsigned char *s = p->s;
	size_t i = p->i, len = p->len;
	uint8_t flags = 0;
	for (;;) {
		/* Plain printable ASCII is the common case: skip it quickly. */
		while (i < len && plain_byte[s[i]])
			i++;
		if (i >= len)
			return JS_ESYNTAX;
		unsigned char c = s[i];
		if (c == '"')
			break;
		if (c == '\\') {
			flags |= JS_ESCAPED;
			if (i + 1 >= len)
				return JS_ESYNTAX;
			unsigned char e = s[i + 1];
			if (e == 'u') {
				if (i + 6 > len)
					return JS_ESYNTAX;
				for (int k = 2; k < 6; k++)
					if (hexval(s[i + k]) < 0)
						return JS_ESYNTAX;
				i += 6;
			} else if (strchr("\"\\/bfnrt", e) && e) {
				i += 2;
			} else {
				return JS_ESYNTAX;
			}
			continue;
		}
		if (c < 0x20) {
			p->i = i;
			return JS_ESYNTAX;
		}
		size_t k = utf8_seq(s + i, len - i);
		if (!k) {
			p->i = i;
			return JS_EUTF8;
		}
		i += k;
	}
	struct js_tok *t = &p->d->tok[idx];
	t->len = (uint32_t)(i - p->i);
	t->flags = flags;
	p->i = i + 1;
	return JS_OK;
}

static int parse_number(struct parser *p)
{
	uint32_t idx;
	int rc;
	if ((rc = new_tok(p, JS_NUMBER, &idx)))
		return rc;
	const unsigned char *s = p->s;
	size_t i = p->i, len = p->len;
	if (i < len && s[i] == '-')
		i++;
	if (i >= len)
		return JS_ESYNTAX;
	if (s[i] == '0') {
		i++;
	} else if (s[i] >= '1' && s[i] <= '9') {
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	} else {
		return JS_ESYNTAX;
	}
	if (i < len && s[i] == '.') {
		i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return JS_ESYNTAX;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return JS_ESYNTAX;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	p->d->tok[idx].len = (uint32_t)(i - p->i);
	p->i = i;
	return JS_OK;
}

static int parse_literal(struct parser *p, const char *word, int type)
{
	size_t n = strlen(word);
	uint32_t idx;
	int rc;
	if (p->len - p->i < n || memcmp(p->s + p->i, word, n))
		return JS_ESYNTAX;
	if ((rc = new_tok(p, type, &idx)))
		return rc;
	p->d->tok[idx].len = (uint32_t)n;
	p->i += n;
	return JS_OK;
}

static int parse_value(struct parser *p);

static int parse_container(struct parser *p, int type)
{
	uint32_t idx, count = 0;
	int rc;
	const unsigned char close = type == JS_OBJECT ? '}' : ']';
	if (++p->depth > JS_MAX_DEPTH)
		return JS_EDEPTH;
	if ((rc = new_tok(p, type, &idx)))
		return rc;
	p->i++;
	skip_ws(p);
	if (p->i < p->len && p->s[p->i] == close) {
		p->i++;
	} else {
		for (;;) {
			skip_ws(p);
			if (type == JS_OBJECT) {
				if (p->i >= p->len || p->s[p->i] != '"')
					return JS_ESYNTAX;
				if ((rc = parse_string(p)))
					return rc;
				skip_ws(p);
				if (p->i >= p->len || p->s[p->i] != ':')
					return JS_ESYNTAX;
				p->i++;
				skip_ws(p);
			}
			if ((rc = parse_value(p)))
				return rc;
			count++;
			skip_ws(p);
			if (p->i >= p->len)
				return JS_ESYNTAX;
			if (p->s[p->i] == ',') {
				p->i++;
				continue;
			}
			if (p->s[p->i] != close)
				return JS_ESYNTAX;
			p->i++;
			break;
		}
	}
	struct js_tok *t = &p->d->tok[idx];
	t->len = (uint32_t)(p->i - t->start);
	t->size = count;
	t->next = p->d->n;
	p->depth--;
	return JS_OK;
}

static int parse_value(struct parser *p)
{
	if (p->i >= p->len)
		return JS_ESYNTAX;
	switch (p->s[p->i]) {
	case '{': return parse_container(p, JS_OBJECT);
	case '[': return parse_container(p, JS_ARRAY);
	case '"': return parse_string(p);
	case 't': return parse_literal(p, "true", JS_TRUE);
	case 'f': return parse_literal(p, "false", JS_FALSE);
	case 'n': return parse_literal(p, "null", JS_NULL);
	default: return parse_number(p);
	}
}

enum js_err js_parse(struct js_doc *d, const char *s, size_t len)
{
	struct parser p = { .d = d, .s = (const unsigned char *)s, .len = len };
	int rc;
	d->src = s;
	d->n = 0;
	d->err_at = 0;
	if (len > UINT32_MAX - 1)
		return JS_ETOKENS;
	skip_ws(&p);
	rc = parse_value(&p);
	if (!rc) {
		skip_ws(&p);
		if (p.i != len)
			rc = JS_ESYNTAX;
	}
	if (rc) {
		d->err_at = p.i;
		d->n = 0;
	}
	return (enum js_err)rc;
}

int js_getn(const struct js_doc *d, int obj, const char *key, size_t keylen)
{
	if (obj < 0 || d->tok[obj].type != JS_OBJECT)
		return -1;
	uint32_t end = d->tok[obj].next;
	for (uint32_t k = (uint32_t)obj + 1; k < end; k = d->tok[k + 1].next) {
		const struct js_tok *t = &d->tok[k];
		if (t->len == keylen && !memcmp(d->src + t->start, key, keylen))
			return (int)k + 1;
	}
	return -1;
}

int js_at(const struct js_doc *d, int arr, uint32_t idx)
{
	if (arr < 0 || d->tok[arr].type != JS_ARRAY || idx >= d->tok[arr].size)
		return -1;
	uint32_t k = (uint32_t)arr + 1;
	while (idx--)
		k = d->tok[k].next;
	return (int)k;
}

int js_streqn(const struct js_doc *d, int t, const char *s, size_t n)
{
	return t >= 0 && d->tok[t].type == JS_STRING && d->tok[t].len == n &&
	       !memcmp(d->src + d->tok[t].start, s, n);
}

int js_int64(const struct js_doc *d, int t, int64_t *out)
{
	if (t < 0 || (d->tok[t].type != JS_NUMBER && d->tok[t].type != JS_STRING))
		return -1;
	const char *s = d->src + d->tok[t].start;
	size_t n = d->tok[t].len, i = 0;
	int neg = 0;
	uint64_t v = 0;
	if (n && s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i >= n)
		return -1;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_C(9223372036854775807) - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

int js_numtext(const struct js_doc *d, int t, const char **s, size_t *n)
{
	if (t < 0)
		return -1;
	const struct js_tok *k = &d->tok[t];
	if (k->type != JS_NUMBER && (k->type != JS_STRING || (k->flags & JS_ESCAPED)))
		return -1;
	*s = d->src + k->start;
	*n = k->len;
	return 0;
}
