#include "norm.h"
#include "book.h"
#include "clock.h"
#include "xch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const reason_names[NR_COUNT] = {
	[NR_TOO_LONG] = "too_long", [NR_JSON] = "json",     [NR_UTF8] = "utf8",
	[NR_ENVELOPE] = "envelope", [NR_EXCHANGE] = "exchange", [NR_SHAPE] = "shape",
	[NR_FIELD] = "field",       [NR_NUMBER] = "number", [NR_SYMBOL] = "symbol",
	[NR_BOOK] = "book",         [NR_PRICE] = "price",   [NR_AMOUNT] = "amount",
	[NR_CONTRACT] = "contract", [NR_UNSUBSCRIBED] = "unsubscribed", [NR_INTERNAL] = "internal",
};

struct norm_sym {
	const struct xch *x;
	char sym[SYM_MAX];
	int64_t book_emitted;   /* local_ts of the last book line sent */
	char *pending;          /* conflated book line waiting for its slot (malloc'd) */
	size_t pending_len;
	void *state;            /* the reader's state (norm_state), NULL until first used */
	void (*state_release)(void *state);
};

const char *norm_reason_name(enum norm_reason r)
{
	return r < NR_COUNT ? reason_names[r] : "unknown";
}

void norm_init(struct norm *n, struct jw *w)
{
	memset(n, 0, sizeof *n);
	n->w = w;
	n->book_depth = 20;
	n->drop = NR_COUNT;
}

void norm_free(struct norm *n)
{
	for (size_t i = 0; i < n->nsyms; i++) {
		struct norm_sym *s = n->syms[i];
		if (s->state && s->state_release)
			s->state_release(s->state);
		free(s->state);
		free(s->pending);
		free(s);
	}
	free(n->syms);
	n->syms = NULL;
	n->nsyms = n->capsyms = 0;
}

int norm_fail(struct norm *n, enum norm_reason r, const char *fmt, ...)
{
	va_list ap;
	n->reason = r;
	va_start(ap, fmt);
	vsnprintf(n->why, sizeof n->why, fmt, ap);
	va_end(ap);
	return -1;
}

/* A small open-addressing table would be faster for thousands of symbols; a sorted array
 * with binary search keeps it simple and is fast enough for the few hundred a node serves. */
static int sym_cmp(const struct norm_sym *s, const struct xch *x, const char *sym)
{
	if (s->x != x)
		return s->x < x ? -1 : 1;
	return strcmp(s->sym, sym);
}

/* State of SYM on the current exchange, created on first use (NULL when out of memory). */
static struct norm_sym *norm_sym(struct norm *n, const char *sym)
{
	size_t lo = 0, hi = n->nsyms;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = sym_cmp(n->syms[mid], n->x, sym);
		if (!c)
			return n->syms[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (strlen(sym) >= SYM_MAX)
		return NULL;
	if (n->nsyms == n->capsyms) {
		size_t cap = n->capsyms ? n->capsyms * 2 : 64;
		struct norm_sym **ns = realloc(n->syms, cap * sizeof *ns);
		if (!ns)
			return NULL;
		n->syms = ns;
		n->capsyms = cap;
	}
	struct norm_sym *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->x = n->x;
	strcpy(s->sym, sym);
	memmove(n->syms + lo + 1, n->syms + lo, (n->nsyms - lo) * sizeof *n->syms);
	n->syms[lo] = s;
	n->nsyms++;
	return s;
}

void *norm_state(struct norm *n, const char *sym, size_t size, void (*release)(void *))
{
	struct norm_sym *s = norm_sym(n, sym);
	if (!s)
		return NULL;
	if (!s->state) {
		if (!(s->state = calloc(1, size)))
			return NULL;
		s->state_release = release;
	}
	return s->state;
}

/* Kept as the state of the empty symbol, which no symbol is. */
void *norm_stream_state(struct norm *n, size_t size, void (*release)(void *))
{
	return norm_state(n, "", size, release);
}

void norm_head(struct norm *n, const char *type, const char *sym, int64_t ts)
{
	struct jw *w = n->w;
	n->line_head = w->len;
	n->drop = NR_COUNT;
	jw_open(w, '{');
	jw_key(w, "type");
	jw_str(w, type, strlen(type));
	jw_key(w, "exchange");
	jw_str(w, n->x->name, strlen(n->x->name));
	if (sym) {
		jw_key(w, "symbol");
		jw_str(w, sym, strlen(sym));
	}
	if (ts >= 0) {
		jw_key(w, "ts");
		jw_int(w, ts);
		if (n->latency)
			n->latency(n->ctx, n->x, n->local_ts - ts);
	}
	jw_key(w, "local_ts");
	jw_int(w, n->local_ts);
}

void norm_end(struct norm *n)
{
	jw_lit(n->w, "}\n");
	n->w->first = 1;
}

int norm_dec(struct norm *n, const char *key, const struct js_doc *d, int t)
{
	const char *s;
	size_t len;
	if (js_numtext(d, t, &s, &len))
		return norm_fail(n, NR_FIELD, "%s: missing or not a number", key);
	size_t mark = n->w->len;
	jw_key(n->w, key);
	if (jw_dec(n->w, s, len)) {
		n->w->len = mark;
		return norm_fail(n, NR_NUMBER, "%s: not a decimal: %.*s", key, (int)(len > 40 ? 40 : len), s);
	}
	return 0;
}

/* The type of the line being written ("trade", "liquidation"): norm_head wrote it first. */
static const char *line_type(const struct norm *n)
{
	size_t at = n->line_head + sizeof "{\"type\":\"" - 1;
	if (!n->w->buf || n->w->len < at + 11)
		return "trade";
	return !memcmp(n->w->buf + at, "liquidation", 11) ? "liquidation" : "trade";
}

/* "key":<decimal> like norm_dec; notes in n->drop when the value is not above zero. */
static int dec_positive(struct norm *n, const char *key, const struct js_doc *d, int t,
			enum norm_reason r)
{
	size_t mark = n->w->len;
	if (norm_dec(n, key, d, t))
		return -1;
	if (n->w->err || n->drop != NR_COUNT)
		return 0;
	/* The canonical decimal is what follows the key's colon (it has none of its own). */
	const char *colon = memchr(n->w->buf + mark, ':', n->w->len - mark);
	const char *v = colon + 1;
	size_t len = (size_t)(n->w->buf + n->w->len - v);
	if (v[0] == '-' || dec_is_zero(v, len)) {
		n->drop = r;
		snprintf(n->why, sizeof n->why, "%s %s %.*s", line_type(n), key, (int)(len > 40 ? 40 : len), v);
	}
	return 0;
}

int norm_price_amount(struct norm *n, const struct js_doc *d, int px, int amt)
{
	return dec_positive(n, "price", d, px, NR_PRICE) || dec_positive(n, "amount", d, amt, NR_AMOUNT);
}

/* Ends a line whose price or amount may have been found unusable: counts it in *LINES, or
 * takes it back out and tells the skipped hook. */
static void end_counted(struct norm *n, uint64_t *lines)
{
	norm_end(n);
	if (n->drop == NR_COUNT) {
		(*lines)++;
		return;
	}
	n->w->len = n->line_head;
	if (n->skipped)
		n->skipped(n->ctx, n->x, n->drop, n->why);
	n->drop = NR_COUNT;
}

void norm_end_trade(struct norm *n)
{
	end_counted(n, &n->lines_trade);
}

void norm_end_liquidation(struct norm *n)
{
	end_counted(n, &n->lines_liquidation);
}

int norm_scale(const char *s, size_t len, const char *mult, char *out)
{
	char c[DEC_MAX];
	int k = dec_canon(s, len, mult ? c : out);
	if (k < 0 || !mult)
		return k;
	return dec_mul(c, (size_t)k, mult, strlen(mult), out);
}

/* Token T is a value: not missing, not null, not "". */
static int sent(const struct js_doc *d, int t)
{
	int ty = js_type(d, t);
	return t >= 0 && ty != JS_NULL && !(ty == JS_STRING && js_len(d, t) == 0);
}

int norm_dec_sent(struct norm *n, const char *key, const struct js_doc *d, int t)
{
	return sent(d, t) ? norm_dec(n, key, d, t) : 0;
}

int norm_dec_scaled(struct norm *n, const char *key, const struct js_doc *d, int t, const char *mult)
{
	const char *s;
	size_t len;
	char v[DEC_MAX];
	if (!sent(d, t))
		return 0;
	if (js_numtext(d, t, &s, &len))
		return norm_fail(n, NR_FIELD, "%s: not a number", key);
	int k = norm_scale(s, len, mult, v);
	if (k < 0)
		return norm_fail(n, NR_NUMBER, "%s: not a decimal, or too large: %.*s", key,
				 (int)(len > 40 ? 40 : len), s);
	jw_key(n->w, key);
	jw_raw(n->w, v, (size_t)k);
	return 0;
}

int norm_ts_sent(struct norm *n, const char *key, const struct js_doc *d, int t)
{
	int64_t us;
	if (!sent(d, t) || (js_len(d, t) == 1 && js_ptr(d, t)[0] == '0'))
		return 0;
	if (norm_ts(n, d, t, &us))
		return norm_fail(n, NR_FIELD, "%s: not a time", key);
	jw_key(n->w, key);
	jw_int(n->w, us);
	return 0;
}

int norm_price_amount_scaled(struct norm *n, const struct js_doc *d, int px, int amt, const char *mult,
			     int abs)
{
	const char *s;
	size_t len;
	char v[DEC_MAX];
	if (dec_positive(n, "price", d, px, NR_PRICE))
		return -1;
	if (js_numtext(d, amt, &s, &len))
		return norm_fail(n, NR_FIELD, "amount: missing or not a number");
	if (abs && len > 1 && s[0] == '-')
		s++, len--;
	int k = norm_scale(s, len, mult, v);
	if (k < 0)
		return norm_fail(n, NR_NUMBER, "amount: not a decimal, or too large: %.*s",
				 (int)(len > 40 ? 40 : len), s);
	jw_key(n->w, "amount");
	jw_raw(n->w, v, (size_t)k);
	if (n->drop == NR_COUNT && (v[0] == '-' || dec_is_zero(v, (size_t)k))) {
		n->drop = NR_AMOUNT;
		snprintf(n->why, sizeof n->why, "%s amount %.40s", line_type(n), v);
	}
	return 0;
}

void norm_derivative_begin(struct norm *n, const char *sym, int64_t ts)
{
	norm_head(n, "derivative", sym, ts);
	n->line_fields = n->w->len;
}

void norm_derivative_end(struct norm *n)
{
	if (n->w->len == n->line_fields) {
		n->w->len = n->line_head;
		return;
	}
	norm_end(n);
	n->lines_derivative++;
}

void norm_skip(struct norm *n, enum norm_reason r, const char *why)
{
	if (n->skipped)
		n->skipped(n->ctx, n->x, r, why);
}

void norm_contract_skip(struct norm *n, const char *sym, int *told, const char *why)
{
	char detail[160];
	snprintf(detail, sizeof detail, "%s: %s", sym, why);
	norm_skip(n, NR_CONTRACT, detail);
	if (*told)
		return;
	*told = 1;
	norm_status(n, "error", sym, detail);
}

int norm_dec_opt(struct norm *n, const char *key, const struct js_doc *d, int t)
{
	if (t < 0 || js_type(d, t) == JS_NULL)
		return 0;
	return norm_dec(n, key, d, t);
}

int norm_str(struct norm *n, const char *key, const struct js_doc *d, int t)
{
	if (js_type(d, t) != JS_STRING)
		return norm_fail(n, NR_FIELD, "%s: missing or not a string", key);
	jw_key(n->w, key);
	jw_json_str(n->w, js_ptr(d, t), js_len(d, t));
	return 0;
}

int norm_id(struct norm *n, const char *key, const struct js_doc *d, int t)
{
	int ty = js_type(d, t);
	if (ty != JS_STRING && ty != JS_NUMBER)
		return norm_fail(n, NR_FIELD, "%s: missing", key);
	if (js_len(d, t) == 0 || js_len(d, t) > 64)
		return norm_fail(n, NR_FIELD, "%s: empty or too long", key);
	jw_key(n->w, key);
	jw_json_str(n->w, js_ptr(d, t), js_len(d, t));
	return 0;
}

int norm_side(struct norm *n, const struct js_doc *d, int t, const char *field, const char *buy,
	      const char *sell, const char **side)
{
	if (js_streqn(d, t, buy, strlen(buy)))
		*side = "buy";
	else if (js_streqn(d, t, sell, strlen(sell)))
		*side = "sell";
	else if (t < 0 || js_type(d, t) == JS_NULL)
		*side = "unknown";
	else
		return norm_fail(n, NR_FIELD, "%s: neither %s nor %s", field, buy, sell);
	return 0;
}

void norm_status(struct norm *n, const char *event, const char *sym, const char *detail)
{
	norm_head(n, "status", sym, -1);
	jw_key(n->w, "event");
	jw_str(n->w, event, strlen(event));
	if (detail) {
		jw_key(n->w, "detail");
		jw_str(n->w, detail, strlen(detail));
	}
	norm_end(n);
	n->lines_status++;
}

void norm_status_tok(struct norm *n, const char *event, const char *sym, const struct js_doc *d,
		     int t)
{
	norm_head(n, "status", sym, -1);
	jw_key(n->w, "event");
	jw_str(n->w, event, strlen(event));
	if (js_type(d, t) == JS_STRING) {
		jw_key(n->w, "detail");
		jw_json_str(n->w, js_ptr(d, t), js_len(d, t));
	}
	norm_end(n);
	n->lines_status++;
}

void norm_status_error(struct norm *n, const struct js_doc *d, int code, int msg)
{
	norm_head(n, "status", NULL, -1);
	jw_key(n->w, "event");
	jw_lit(n->w, "\"error\"");
	jw_key(n->w, "detail");
	jw_char(n->w, '"');
	int tc = js_type(d, code);
	if (tc == JS_STRING || tc == JS_NUMBER) {
		jw_raw(n->w, js_ptr(d, code), js_len(d, code));
		if (js_type(d, msg) == JS_STRING)
			jw_lit(n->w, ": ");
	}
	if (js_type(d, msg) == JS_STRING)
		jw_raw(n->w, js_ptr(d, msg), js_len(d, msg));
	jw_char(n->w, '"');
	norm_end(n);
	n->lines_status++;
}

int norm_ts(struct norm *n, const struct js_doc *d, int t, int64_t *us)
{
	int ty = js_type(d, t);
	if (t < 0 || ty == JS_NULL) {
		*us = -1;
		return 0;
	}
	if (ty == JS_NUMBER || ty == JS_STRING) {
		const char *s = js_ptr(d, t);
		size_t len = js_len(d, t);
		if (!clk_parse_epoch(s, len, us))
			return 0;
		if (ty == JS_STRING && len > 10 && s[4] == '-' && !clk_parse_rfc3339(s, len, us))
			return 0;
	}
	return norm_fail(n, NR_FIELD, "timestamp is not an epoch or RFC 3339 time");
}

void norm_book_begin(struct norm *n, const char *sym, int64_t ts)
{
	n->line_start_book = n->w->len;
	n->book_sym = sym;
	norm_head(n, "book", sym, ts);
	jw_key(n->w, "bids");
	jw_open(n->w, '[');
	n->side = 0;
	n->nlevels = 0;
	n->prev_len = 0;
	n->have_bid = 0;
}

void norm_book_asks(struct norm *n)
{
	jw_close(n->w, ']');
	jw_key(n->w, "asks");
	jw_open(n->w, '[');
	n->side = 1;
	n->nlevels = 0;
	n->prev_len = 0;
}

int norm_book_level(struct norm *n, const char *px, size_t pn, const char *qty, size_t qn)
{
	char p[DEC_MAX], q[DEC_MAX];
	int pl = dec_canon(px, pn, p), ql = dec_canon(qty, qn, q);
	if (pl < 0 || ql < 0)
		return norm_fail(n, NR_NUMBER, "book level is not a decimal");
	/* An empty level is no level (Upbit pads its units with zeros). */
	if (dec_is_zero(q, (size_t)ql))
		return 0;
	if (p[0] == '-' || dec_is_zero(p, (size_t)pl) || q[0] == '-') {
		/* One bad level costs that level; the rest of the book is still the exchange's. */
		int bad_px = p[0] == '-' || dec_is_zero(p, (size_t)pl);
		char why[120];
		snprintf(why, sizeof why, "book level price %.40s amount %.40s", p, q);
		if (n->skipped)
			n->skipped(n->ctx, n->x, bad_px ? NR_PRICE : NR_AMOUNT, why);
		return 0;
	}
	if (n->prev_len) {
		int c = dec_cmp(p, (size_t)pl, n->prev_px, n->prev_len);
		if (n->side == 0 ? c >= 0 : c <= 0)
			return norm_fail(n, NR_BOOK, "%s levels out of order", n->side ? "ask" : "bid");
	}
	memcpy(n->prev_px, p, (size_t)pl);
	n->prev_len = (size_t)pl;
	if (n->side == 0 && !n->have_bid) {
		memcpy(n->best_bid, p, (size_t)pl);
		n->best_bid_len = (size_t)pl;
		n->have_bid = 1;
	}
	if (n->side == 1 && n->nlevels == 0 && n->have_bid &&
	    dec_cmp(p, (size_t)pl, n->best_bid, n->best_bid_len) <= 0) {
		n->crossed = 1;
	}
	if (n->nlevels >= n->book_depth)
		return 0;
	n->nlevels++;
	jw_elem(n->w);
	jw_char(n->w, '[');
	jw_raw(n->w, p, (size_t)pl);
	jw_char(n->w, ',');
	jw_raw(n->w, q, (size_t)ql);
	jw_char(n->w, ']');
	return 0;
}

int norm_book_side(struct norm *n, const struct js_doc *d, int arr)
{
	if (js_type(d, arr) != JS_ARRAY)
		return norm_fail(n, NR_FIELD, "book side is not an array");
	for (uint32_t i = 0, k = (uint32_t)arr + 1; i < d->tok[arr].size; i++, k = d->tok[k].next) {
		const char *p, *q;
		size_t pn, qn;
		if (js_numpair(d, (int)k, &p, &pn, &q, &qn))
			return norm_fail(n, NR_FIELD, "book level is not [price, amount]");
		if (norm_book_level(n, p, pn, q, qn))
			return -1;
	}
	return 0;
}

void norm_checksum_failed(struct norm *n, const char *sym, const char *why)
{
	if (n->checksum)
		n->checksum(n->ctx, n->x);
	norm_resync(n, sym, why);
}

void norm_resync(struct norm *n, const char *sym, const char *why)
{
	norm_status(n, "resync", sym, why);
	n->resyncs++;
	if (n->resync)
		n->resync(n->ctx, n->x, sym, why);
}

int norm_book_end(struct norm *n)
{
	jw_close(n->w, ']');
	norm_end(n);
	if (n->crossed) {
		n->crossed = 0;
		n->w->len = n->line_start_book;
		norm_resync(n, n->book_sym, "crossed book");
		return 0;
	}
	n->lines_book++;
	if (!n->book_interval_us || n->w->err)
		return 0;
	struct norm_sym *s = norm_sym(n, n->book_sym);
	if (!s)
		return 0;
	if (n->local_ts - s->book_emitted >= n->book_interval_us) {
		if (s->pending) {
			free(s->pending);
			s->pending = NULL;
			n->npending--;
		}
		s->book_emitted = n->local_ts;
		return 0;
	}
	/* Inside the interval: keep only the newest line, to be sent when the slot opens. */
	size_t len = n->w->len - n->line_start_book;
	char *p = realloc(s->pending, len);
	if (p) {
		if (!s->pending)
			n->npending++;
		memcpy(p, n->w->buf + n->line_start_book, len);
		s->pending = p;
		s->pending_len = len;
	}
	n->w->len = n->line_start_book;
	n->lines_book--;
	return 0;
}

void norm_flush(struct norm *n, int64_t now, int all)
{
	for (size_t i = 0; n->npending && i < n->nsyms; i++) {
		struct norm_sym *s = n->syms[i];
		if (!s->pending || (!all && now - s->book_emitted < n->book_interval_us))
			continue;
		jw_raw(n->w, s->pending, s->pending_len);
		s->book_emitted = now;
		free(s->pending);
		s->pending = NULL;
		n->npending--;
		n->lines_book++;
	}
}

int norm_book_from(struct norm *n, const struct book *b, const char *sym, int64_t ts)
{
	return norm_book_from_scaled(n, b, sym, ts, NULL);
}

int norm_book_from_scaled(struct norm *n, const struct book *b, const char *sym, int64_t ts,
			  const char *mult)
{
	/* A kept book holds canonical, ordered, non-zero levels: they are copied as they are,
	 * or with each amount multiplied (a product of canonical non-zero decimals is one). */
	if (book_crossed(b)) {
		norm_resync(n, sym, "crossed book");
		return 0;
	}
	/* A contract size is most often a power of ten: found out once per line. */
	long e = 0;
	size_t ml = mult ? strlen(mult) : 0;
	int pow10 = mult && dec_pow10(mult, ml, &e);
	norm_book_begin(n, sym, ts);
	for (int s = 0; s < 2; s++) {
		if (s)
			norm_book_asks(n);
		int first = 1;
		for (uint32_t i = 0; i < (uint32_t)n->book_depth; i++) {
			const struct book_level *l = book_level(b, (enum book_side)s, i);
			char buf[BOOK_TEXT + DEC_MAX + 4], scaled[DEC_MAX];
			const char *qty;
			if (!l)
				break;
			size_t pl = strlen(l->px), ql = strlen(l->qty), k = 0;
			qty = l->qty;
			if (mult) {
				int m = pow10 ? dec_shift(l->qty, ql, e, scaled) : dec_mul(l->qty, ql, mult, ml, scaled);
				if (m < 0) {
					if (n->skipped)
						n->skipped(n->ctx, n->x, NR_NUMBER, "book amount times the contract size is too large");
					continue;
				}
				qty = scaled;
				ql = (size_t)m;
			}
			if (!first)
				buf[k++] = ',';
			first = 0;
			buf[k++] = '[';
			memcpy(buf + k, l->px, pl);
			k += pl;
			buf[k++] = ',';
			memcpy(buf + k, qty, ql);
			k += ql;
			buf[k++] = ']';
			jw_raw(n->w, buf, k);
			n->w->first = 0;
		}
	}
	return norm_book_end(n);
}
