#include "exchanges/norm.h"
#include "exchanges/xch.h"
#include "unit.h"

static int resyncs;
static char resync_sym[SYM_MAX];

static void on_resync(void *ctx, const struct xch *x, const char *sym, const char *why)
{
	resyncs++;
	snprintf(resync_sym, sizeof resync_sym, "%s", sym);
}

static void setup(struct norm *n, struct jw *w)
{
	jw_init(w, 1 << 20);
	norm_init(n, w);
	n->x = xch_find("upbit", 5);
	n->local_ts = 1000000;
	n->resync = on_resync;
	resyncs = 0;
}

static const char *text(struct jw *w)
{
	jw_raw(w, "", 1);
	w->len--;
	return w->buf;
}

#define LVL(p, q) norm_book_level(&n, p, strlen(p), q, strlen(q))

static void test_book_line(void)
{
	struct norm n;
	struct jw w;
	setup(&n, &w);
	n.book_depth = 2;
	norm_book_begin(&n, "BTC-KRW", 5);
	CHECK_INT(LVL("100.0", "1"), 0);
	CHECK_INT(LVL("99", "0"), 0); /* zero amount: skipped */
	CHECK_INT(LVL("98", "2.50"), 0);
	CHECK_INT(LVL("97", "3"), 0); /* past the depth */
	norm_book_asks(&n);
	CHECK_INT(LVL("0", "5"), 0); /* empty Upbit unit */
	CHECK_INT(LVL("101", "1e-3"), 0);
	CHECK_INT(norm_book_end(&n), 0);
	CHECK_STR(text(&w), "{\"type\":\"book\",\"exchange\":\"upbit\",\"symbol\":\"BTC-KRW\",\"ts\":5,"
			    "\"local_ts\":1000000,\"bids\":[[100,1],[98,2.5]],\"asks\":[[101,0.001]]}\n");
	norm_free(&n);
	jw_free(&w);
}

static void test_book_order_and_cross(void)
{
	struct norm n;
	struct jw w;
	setup(&n, &w);
	norm_book_begin(&n, "BTC-KRW", -1);
	CHECK_INT(LVL("100", "1"), 0);
	CHECK_INT(LVL("100.5", "1"), -1);
	CHECK_INT(n.reason, NR_BOOK);
	norm_frame_rollback(&n);
	w.len = 0;
	norm_book_begin(&n, "ETH-KRW", -1);
	CHECK_INT(LVL("100", "1"), 0);
	norm_book_asks(&n);
	CHECK_INT(LVL("99", "1"), 0);
	CHECK_INT(norm_book_end(&n), 0);
	CHECK_INT(resyncs, 1);
	CHECK_STR(resync_sym, "ETH-KRW");
	CHECK_STR(text(&w), "{\"type\":\"status\",\"exchange\":\"upbit\",\"symbol\":\"ETH-KRW\","
			    "\"local_ts\":1000000,\"event\":\"resync\",\"detail\":\"crossed book\"}\n");
	norm_free(&n);
	jw_free(&w);
}

static void book(struct norm *n, int64_t local_ts, const char *bid)
{
	n->local_ts = local_ts;
	norm_book_begin(n, "BTC-KRW", -1);
	norm_book_level(n, bid, strlen(bid), "1", 1);
	norm_book_asks(n);
	norm_book_level(n, "200", 3, "1", 1);
	norm_book_end(n);
}

static int lines(struct jw *w)
{
	int k = 0;
	for (size_t i = 0; i < w->len; i++)
		k += w->buf[i] == '\n';
	return k;
}

static void test_conflation(void)
{
	struct norm n;
	struct jw w;
	setup(&n, &w);
	n.book_interval_us = 100000;
	book(&n, 1000000, "1");
	CHECK_INT(lines(&w), 1); /* the first goes at once */
	book(&n, 1050000, "2");
	book(&n, 1060000, "3");
	CHECK_INT(lines(&w), 1); /* held back, newest kept */
	norm_flush(&n, 1080000, 0);
	CHECK_INT(lines(&w), 1); /* slot not open yet */
	norm_flush(&n, 1100000, 0);
	CHECK_INT(lines(&w), 2);
	CHECK(strstr(text(&w), "[[3,1]]") != NULL);
	CHECK(strstr(text(&w), "[[2,1]]") == NULL);
	book(&n, 1300000, "4"); /* a later slot: straight through */
	CHECK_INT(lines(&w), 3);
	book(&n, 1310000, "5");
	norm_flush(&n, 0, 1); /* end of input: everything held goes out */
	CHECK_INT(lines(&w), 4);
	CHECK_INT(n.lines_book, 4);
	norm_free(&n);
	jw_free(&w);
}

struct state {
	int64_t a;
	char text[100];
};
static int released;

static void release(void *p)
{
	struct state *st = p;
	released += st->a == 7;
}

static void test_reader_state(void)
{
	struct norm n;
	struct jw w;
	setup(&n, &w);
	released = 0;
	struct state *s1 = norm_state(&n, "BTC-KRW", sizeof *s1, release);
	CHECK(s1 != NULL);
	CHECK_INT(s1->a, 0);
	CHECK_INT(s1->text[99], 0);
	s1->a = 7;
	CHECK(norm_state(&n, "BTC-KRW", sizeof *s1, release) == s1);
	struct state *s2 = norm_state(&n, "ETH-KRW", sizeof *s2, release);
	CHECK(s2 != NULL && s2 != s1);
	CHECK_INT(s2->a, 0);
	/* The feed's state is apart from every symbol's. */
	struct state *f = norm_stream_state(&n, sizeof *f, release);
	CHECK(f != NULL && f != s1 && f != s2);
	CHECK(norm_stream_state(&n, sizeof *f, release) == f);
	f->a = 7;
	/* Another exchange, other states. */
	n.x = xch_find("bithumb", 7);
	struct state *o = norm_state(&n, "BTC-KRW", sizeof *o, release);
	CHECK(o != NULL && o != s1);
	CHECK_INT(o->a, 0);
	CHECK(norm_stream_state(&n, sizeof *f, release) != f);
	CHECK(norm_state(&n, "WAY-TOO-LONG-FOR-A-SYMBOL-XXXXXXX", sizeof *o, release) == NULL);
	norm_free(&n);
	CHECK_INT(released, 2);
	jw_free(&w);
}

static void test_book_side(void)
{
	struct norm n;
	struct jw w;
	struct js_doc d;
	const char *f = "{\"b\":[[\"100.0\",\"1\",7],[99,\"0\"],[\"98\",2.5]],\"a\":[[\"101\",\"1\"]],"
			"\"x\":[[\"97\"]],\"y\":{\"p\":1},\"z\":[[\"97\",\"1\"],[\"98\",\"1\"]]}";
	setup(&n, &w);
	n.book_depth = 5;
	js_init(&d, 0);
	CHECK_INT(js_parse(&d, f, strlen(f)), JS_OK);
	norm_book_begin(&n, "BTC-KRW", 5);
	CHECK_INT(norm_book_side(&n, &d, js_get(&d, 0, "b")), 0);
	norm_book_asks(&n);
	CHECK_INT(norm_book_side(&n, &d, js_get(&d, 0, "a")), 0);
	CHECK_INT(norm_book_end(&n), 0);
	CHECK_STR(text(&w), "{\"type\":\"book\",\"exchange\":\"upbit\",\"symbol\":\"BTC-KRW\",\"ts\":5,"
			    "\"local_ts\":1000000,\"bids\":[[100,1],[98,2.5]],\"asks\":[[101,1]]}\n");
	w.len = 0;
	norm_book_begin(&n, "BTC-KRW", 5);
	CHECK_INT(norm_book_side(&n, &d, js_get(&d, 0, "x")), -1); /* a level of one number */
	CHECK_INT(n.reason, NR_FIELD);
	CHECK_INT(norm_book_side(&n, &d, js_get(&d, 0, "y")), -1); /* no array */
	CHECK_INT(norm_book_side(&n, &d, js_get(&d, 0, "missing")), -1);
	CHECK_INT(norm_book_side(&n, &d, js_get(&d, 0, "z")), -1); /* bids out of order */
	CHECK_INT(n.reason, NR_BOOK);
	js_free(&d);
	norm_free(&n);
	jw_free(&w);
}

UNIT_SUITE(norm_tests) = {
	{ "norm: book lines skip zeros and keep the depth", test_book_line },
	{ "norm: out-of-order levels fail, a crossed book resyncs", test_book_order_and_cross },
	{ "norm: book conflation keeps the newest per interval", test_conflation },
	{ "norm: reader state per symbol and per feed, zeroed, released", test_reader_state },
	{ "norm: a side of [price, amount] levels", test_book_side },
	{ NULL, NULL },
};
