/* request.c: client requests read with the project's JSON tokenizer (lib/json.h), and
 * the flow the keyed exchanges share: validate a whole request, apply its keys, ack,
 * send fresh books. */

#include "fakex.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void
tok_span(const struct js_doc *d, int t, const char **s, size_t *n)
{
	int q = d->tok[t].type == JS_STRING;

	*s = js_ptr(d, t) - q;
	*n = js_len(d, t) + 2 * (size_t)q;
}

static int
hex4(const char *s, unsigned *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		char ch = s[i];
		unsigned x = ch >= '0' && ch <= '9' ? (unsigned)(ch - '0') :
			     ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10) :
			     ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10) : 16;

		if (x > 15)
			return -1;
		*v = *v << 4 | x;
	}
	return 0;
}

/* Decodes the escapes of string S (N bytes, already checked by js_parse) into OUT, which
 * has room for N + 1 bytes.  A lone surrogate makes it fail, as it makes cJSON fail the
 * whole parse; \u0000 ends the C string there, as it does in cJSON. */
static int
unescape(const char *s, size_t n, char *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		unsigned cp, lo;

		if (s[i] != '\\') {
			out[o++] = s[i++];
			continue;
		}
		switch (s[i + 1]) {
		case 'b': out[o++] = '\b'; i += 2; continue;
		case 'f': out[o++] = '\f'; i += 2; continue;
		case 'n': out[o++] = '\n'; i += 2; continue;
		case 'r': out[o++] = '\r'; i += 2; continue;
		case 't': out[o++] = '\t'; i += 2; continue;
		case 'u': break;
		default: out[o++] = s[i + 1]; i += 2; continue;
		}
		if (hex4(s + i + 2, &cp))
			return -1;
		i += 6;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return -1;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u' || hex4(s + i + 2, &lo) ||
			    lo < 0xdc00 || lo > 0xdfff)
				return -1;
			i += 6;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		if (cp < 0x80) {
			out[o++] = (char)cp;
		} else if (cp < 0x800) {
			out[o++] = (char)(0xc0 | cp >> 6);
			out[o++] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			out[o++] = (char)(0xe0 | cp >> 12);
			out[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		} else {
			out[o++] = (char)(0xf0 | cp >> 18);
			out[o++] = (char)(0x80 | (cp >> 12 & 0x3f));
			out[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	out[o] = '\0';
	return 0;
}

int
rq_parse(struct req *r, const char *text, size_t len)
{
	uint32_t i;

	memset(r, 0, sizeof(*r));
	js_init(&r->d, 0);
	r->text = text;
	r->len = len;
	if (js_parse(&r->d, text, len) != JS_OK || !(r->dec = malloc(len + 1)))
		return -1;
	/* A string's decoded text is never longer than its source, and the closing quote
	 * stands between it and the next token: each fits at its own offset. */
	for (i = 0; i < r->d.n; i++) {
		const struct js_tok *t = &r->d.tok[i];
		char *out = r->dec + t->start;

		if (t->type != JS_STRING)
			continue;
		if (!(t->flags & JS_ESCAPED)) {
			memcpy(out, text + t->start, t->len);
			out[t->len] = '\0';
		} else if (unescape(text + t->start, t->len, out)) {
			return -1;
		}
	}
	return 0;
}

void
rq_free(struct req *r)
{
	js_free(&r->d);
	free(r->dec);
	r->dec = NULL;
}

const char *
rq_str(const struct req *r, int t)
{
	return rq_type(r, t) == JS_STRING ? r->dec + r->d.tok[t].start : NULL;
}

uint32_t
rq_size(const struct req *r, int a)
{
	return rq_type(r, a) == JS_ARRAY ? r->d.tok[a].size : 0;
}

int
rq_at(const struct req *r, int a, uint32_t i)
{
	return js_at(&r->d, a, i);
}

int
rq_first(const struct req *r, int a)
{
	return rq_size(r, a) ? a + 1 : -1;
}

int
rq_after(const struct req *r, int a, int e)
{
	uint32_t nx = r->d.tok[e].next;

	return nx < r->d.tok[a].next ? (int)nx : -1;
}

void
rq_raw(const struct req *r, int t, const char **s, size_t *n)
{
	tok_span(&r->d, t, s, n);
}

int
rq_num(const struct req *r, int t, double *v)
{
	char num[64];
	size_t n;

	if (rq_type(r, t) != JS_NUMBER)
		return -1;
	n = js_len(&r->d, t);
	if (n >= sizeof(num))
		n = sizeof(num) - 1;
	memcpy(num, js_ptr(&r->d, t), n);
	num[n] = '\0';
	*v = strtod(num, NULL);
	return 0;
}

/* A string as cJSON prints it: '"', '\\' and control characters escaped, the rest as is. */
static void
print_str(struct sbuf *b, const char *s)
{
	sb_addc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"': sb_adds(b, "\\\""); break;
		case '\\': sb_adds(b, "\\\\"); break;
		case '\b': sb_adds(b, "\\b"); break;
		case '\f': sb_adds(b, "\\f"); break;
		case '\n': sb_adds(b, "\\n"); break;
		case '\r': sb_adds(b, "\\r"); break;
		case '\t': sb_adds(b, "\\t"); break;
		default:
			if (c < 0x20)
				sb_addf(b, "\\u%04x", c);
			else
				sb_addc(b, (char)c);
		}
	}
	sb_addc(b, '"');
}

/* A number as cJSON prints it: an integer in int's range as one, else the shortest of
 * %1.15g and %1.17g that reads back the same. */
static void
print_num(struct sbuf *b, double d)
{
	char buf[32];
	double back;
	int vi = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;

	if (isnan(d) || isinf(d)) {
		sb_adds(b, "null");
		return;
	}
	if (d == (double)vi) {
		sb_addf(b, "%d", vi);
		return;
	}
	snprintf(buf, sizeof(buf), "%1.15g", d);
	back = strtod(buf, NULL);
	if (fabs(back - d) > fmax(fabs(back), fabs(d)) * DBL_EPSILON)
		snprintf(buf, sizeof(buf), "%1.17g", d);
	sb_adds(b, buf);
}

void
rq_print(const struct req *r, int t, struct sbuf *b)
{
	const struct js_doc *d = &r->d;
	double v;
	int e;

	switch (d->tok[t].type) {
	case JS_STRING:
		print_str(b, rq_str(r, t));
		break;
	case JS_NUMBER:
		rq_num(r, t, &v);
		print_num(b, v);
		break;
	case JS_ARRAY:
	case JS_OBJECT:
		sb_addc(b, d->tok[t].type == JS_ARRAY ? '[' : '{');
		for (e = t + 1; e < (int)d->tok[t].next; e = (int)d->tok[e].next) {
			if (e > t + 1)
				sb_addc(b, ',');
			if (d->tok[t].type == JS_OBJECT) {
				print_str(b, rq_str(r, e));
				sb_addc(b, ':');
				e = (int)d->tok[e].next;
			}
			rq_print(r, e, b);
		}
		sb_addc(b, d->tok[t].type == JS_ARRAY ? ']' : '}');
		break;
	default:
		sb_add(b, js_ptr(d, t), js_len(d, t));
	}
}

/* ------------------------------------------------------------------ */
/* the keyed exchanges' flow */

void
keys_apply(struct conn *c, const struct keyset *ks, int sub)
{
	int i;

	for (i = 0; i < ks->n; i++) {
		if (sub)
			ks_add(&c->subs, ks->k[i], ks->bits[i]);
		else
			ks_del(&c->subs, ks->k[i]);
	}
	want_recompute(c);
	if (sub)
		g.st.subscriptions++;
	event_keys(sub ? "subscribe" : "unsubscribe", ks->k, ks->n);
	fxlog(LV_INFO, sub ? "subscribe" : "unsubscribe", "conn=%u count=%d streams=%d",
	      c->id, ks->n, c->subs.n);
}

void
keys_done(struct conn *c, const struct keyset *ks, int sub)
{
	int i;

	for (i = 0; sub && i < ks->n; i++)
		book_catch_up(c, ks->k[i]);
	replay_kick(c);
}

void
request_rejected(struct conn *c, const char *why)
{
	struct sbuf b = { 0 };
	char q[256];

	g.st.errors_sent++;
	sb_adds(&b, "{\"event\":\"request_rejected\",\"reason\":");
	sb_json_str(&b, why, strlen(why));
	sb_addc(&b, '}');
	event_emit(&b);
	sb_free(&b);
	fxlog(LV_WARN, "rejected request", "conn=%u reason=%s", c->id,
	      lq(q, sizeof(q), why, strlen(why)));
}

void
pong_sent_event(struct conn *c)
{
	event_simple("pong_sent");
	fxlog(LV_DEBUG, "keep-alive answered", "conn=%u", c->id);
}
