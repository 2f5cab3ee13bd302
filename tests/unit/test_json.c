#include "json.h"
#include "unit.h"

static enum js_err parse(struct js_doc *d, const char *s)
{
	return js_parse(d, s, strlen(s));
}

static void test_valid(void)
{
	struct js_doc d;
	js_init(&d, 0);
	const char *ok[] = { "{}", "[]", "0", "-0.5e+10", "\"x\"", "true", "null", " { \"a\" : [1, 2, {\"b\":null}] } ",
			     "{\"u\":\"\\u00e9\\n\\\"\"}", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"" };
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int rc = parse(&d, ok[i]);
		if (rc)
			printf("#   rejected %s\n", ok[i]);
		CHECK(rc == JS_OK);
	}
	js_free(&d);
}

static void test_invalid(void)
{
	struct js_doc d;
	js_init(&d, 0);
	const char *bad[] = { "", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\"}", "{a:1}", "01", "1.", ".5", "+1",
			      "-", "1e", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "{} {}", "[1 2]",
			      "\"a\tb\"", "NaN", "{\"a\":1}}", "'a'" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = parse(&d, bad[i]);
		if (rc == JS_OK)
			printf("#   accepted %s\n", bad[i]);
		CHECK(rc != JS_OK);
	}
	js_free(&d);
}

static void test_utf8(void)
{
	struct js_doc d;
	js_init(&d, 0);
	CHECK_INT(parse(&d, "\"\xff\""), JS_EUTF8);
	CHECK_INT(parse(&d, "\"\xc0\xaf\""), JS_EUTF8);         /* overlong */
	CHECK_INT(parse(&d, "\"\xed\xa0\x80\""), JS_EUTF8);     /* surrogate */
	CHECK_INT(parse(&d, "\"\xf4\x90\x80\x80\""), JS_EUTF8); /* above U+10FFFF */
	CHECK_INT(parse(&d, "\"\xe2\x82\""), JS_EUTF8);         /* truncated */
	CHECK(js_utf8_valid("\xec\x9d\xb8\xec\xa6\x9d", 6));
	CHECK(!js_utf8_valid("\x80", 1));
	js_free(&d);
}

static void test_depth_and_limits(void)
{
	struct js_doc d;
	char deep[200];
	js_init(&d, 0);
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	CHECK_INT(js_parse(&d, deep, 200), JS_EDEPTH);
	memset(deep, '[', 64);
	memset(deep + 64, ']', 64);
	CHECK_INT(js_parse(&d, deep, 128), JS_OK);
	js_free(&d);
	js_init(&d, 4);
	CHECK_INT(parse(&d, "[1,2,3,4,5]"), JS_ETOKENS);
	js_free(&d);
}

static void test_lookup(void)
{
	struct js_doc d;
	js_init(&d, 0);
	CHECK_INT(parse(&d, "{\"a\":{\"x\":[1,2]},\"b\":\"text\",\"c\":17303368620470000,\"d\":[[\"1.5\",\"2\"],[3,4]]}"), JS_OK);
	int b = js_get(&d, 0, "b");
	CHECK(js_streq(&d, b, "text"));
	CHECK(js_get(&d, 0, "x") < 0); /* not a member of the root */
	int a = js_get(&d, 0, "a");
	CHECK_INT(js_type(&d, js_get(&d, a, "x")), JS_ARRAY);
	int64_t v = 0;
	CHECK_INT(js_int64(&d, js_get(&d, 0, "c"), &v), 0);
	CHECK_INT(v, 17303368620470000LL); /* beyond 2^53, exact */
	int arr = js_get(&d, 0, "d");
	int second = js_at(&d, arr, 1);
	CHECK_INT(js_type(&d, second), JS_ARRAY);
	const char *s;
	size_t n;
	CHECK_INT(js_numtext(&d, js_at(&d, js_at(&d, arr, 0), 0), &s, &n), 0);
	CHECK_INT(n, 3);
	CHECK(!memcmp(s, "1.5", 3));
	CHECK(js_at(&d, arr, 2) < 0);
	CHECK_INT(js_int64(&d, b, &v), -1);
	js_free(&d);
}

static void test_int64_edges(void)
{
	struct js_doc d;
	int64_t v;
	js_init(&d, 0);
	CHECK_INT(parse(&d, "9223372036854775807"), JS_OK);
	CHECK_INT(js_int64(&d, 0, &v), 0);
	CHECK_INT(parse(&d, "9223372036854775808"), JS_OK);
	CHECK_INT(js_int64(&d, 0, &v), -1);
	CHECK_INT(parse(&d, "1.5"), JS_OK);
	CHECK_INT(js_int64(&d, 0, &v), -1);
	CHECK_INT(parse(&d, "\"1700000000000\""), JS_OK);
	CHECK_INT(js_int64(&d, 0, &v), 0);
	CHECK_INT(v, 1700000000000LL);
	js_free(&d);
}

static void test_numpair(void)
{
	struct js_doc d;
	const char *a, *b;
	size_t an, bn;
	js_init(&d, 0);
	CHECK_INT(parse(&d, "[[\"1.5\",2,\"x\"],[[1],2],[1],3,[\"1\",null],[\"1\\u0030\",\"2\"],[\"7\",\"8\"]]"), JS_OK);
	CHECK_INT(js_numpair(&d, js_at(&d, 0, 0), &a, &an, &b, &bn), 0);
	CHECK(an == 3 && !memcmp(a, "1.5", 3) && bn == 1 && b[0] == '2');
	CHECK_INT(js_numpair(&d, js_at(&d, 0, 1), &a, &an, &b, &bn), -1); /* a nested array first */
	CHECK_INT(js_numpair(&d, js_at(&d, 0, 2), &a, &an, &b, &bn), -1); /* one element */
	CHECK_INT(js_numpair(&d, js_at(&d, 0, 3), &a, &an, &b, &bn), -1); /* no array */
	CHECK_INT(js_numpair(&d, js_at(&d, 0, 4), &a, &an, &b, &bn), -1); /* null second */
	CHECK_INT(js_numpair(&d, js_at(&d, 0, 5), &a, &an, &b, &bn), -1); /* escaped text */
	CHECK_INT(js_numpair(&d, js_at(&d, 0, 6), &a, &an, &b, &bn), 0);  /* after nested ones */
	CHECK(an == 1 && a[0] == '7' && bn == 1 && b[0] == '8');
	CHECK_INT(js_numpair(&d, -1, &a, &an, &b, &bn), -1);
	js_free(&d);
}

UNIT_SUITE(json_tests) = {
	{ "json: valid documents parse", test_valid },
	{ "json: invalid documents are rejected", test_invalid },
	{ "json: invalid UTF-8 is rejected", test_utf8 },
	{ "json: nesting and token limits", test_depth_and_limits },
	{ "json: member and element lookup keep exact text", test_lookup },
	{ "json: int64 edges", test_int64_edges },
	{ "json: number pairs as book levels send them", test_numpair },
	{ NULL, NULL },
};
