#include "jw.h"
#include "dec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct jw *w, size_t max)
{
	memset(w, 0, sizeof *w);
	w->max = max;
	w->first = 1;
}

void jw_free(struct jw *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

static int reserve(struct jw *w, size_t n)
{
	if (w->err)
		return -1;
	if (w->len + n <= w->cap)
		return 0;
	size_t need = w->len + n;
	if (need > w->max) {
		w->err = 1;
		return -1;
	}
	size_t cap = w->cap ? w->cap : 4096;
	while (cap < need)
		cap *= 2;
	if (cap > w->max)
		cap = w->max;
	char *b = realloc(w->buf, cap);
	if (!b) {
		w->err = 1;
		return -1;
	}
	w->buf = b;
	w->cap = cap;
	return 0;
}

void jw_raw(struct jw *w, const char *s, size_t n)
{
	if (reserve(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

void jw_open(struct jw *w, char c)
{
	jw_char(w, c);
	w->first = 1;
}

void jw_close(struct jw *w, char c)
{
	jw_char(w, c);
	w->first = 0;
}

void jw_elem(struct jw *w)
{
	if (!w->first)
		jw_char(w, ',');
	w->first = 0;
}

void jw_key(struct jw *w, const char *key)
{
	size_t n = strlen(key);
	if (reserve(w, n + 4))
		return;
	if (!w->first)
		w->buf[w->len++] = ',';
	w->first = 0;
	w->buf[w->len++] = '"';
	memcpy(w->buf + w->len, key, n);
	w->len += n;
	w->buf[w->len++] = '"';
	w->buf[w->len++] = ':';
}

void jw_json_str(struct jw *w, const char *s, size_t n)
{
	if (reserve(w, n + 2))
		return;
	w->buf[w->len++] = '"';
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len++] = '"';
}

void jw_str(struct jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (reserve(w, n * 6 + 2))
		return;
	char *o = w->buf + w->len;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c < 0x20) {
			*o++ = '\\';
			switch (c) {
			case '\n': *o++ = 'n'; break;
			case '\r': *o++ = 'r'; break;
			case '\t': *o++ = 't'; break;
			default:
				*o++ = 'u';
				*o++ = '0';
				*o++ = '0';
				*o++ = hex[c >> 4];
				*o++ = hex[c & 15];
			}
		} else {
			*o++ = (char)c;
		}
	}
	*o++ = '"';
	w->len = (size_t)(o - w->buf);
}

void jw_int(struct jw *w, int64_t v)
{
	char tmp[24];
	char *p = tmp + sizeof tmp;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	jw_raw(w, p, (size_t)(tmp + sizeof tmp - p));
}

int jw_dec(struct jw *w, const char *s, size_t n)
{
	char out[DEC_MAX];
	int k = dec_canon(s, n, out);
	if (k < 0)
		return -1;
	jw_raw(w, out, (size_t)k);
	return 0;
}
