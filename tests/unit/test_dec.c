#include "dec.h"
#include "unit.h"

static const char *canon(const char *s)
{
	static char out[DEC_MAX];
	if (dec_canon(s, strlen(s), out) < 0)
		return "ERR";
	return out;
}

static void test_design_examples(void)
{
	CHECK_STR(canon("0.35130000"), "0.3513");
	CHECK_STR(canon("6195.00000000"), "6195");
	CHECK_STR(canon("127.0"), "127");
	CHECK_STR(canon("1e-05"), "0.00001");
	CHECK_STR(canon("100473000.00000000"), "100473000");
}

static void test_leading_zeros_and_points(void)
{
	CHECK_STR(canon("007.50"), "7.5");
	CHECK_STR(canon("0.001"), "0.001");
	CHECK_STR(canon("0"), "0");
	CHECK_STR(canon("0.0000"), "0");
	CHECK_STR(canon("-0.0"), "0");
	CHECK_STR(canon("5."), "5");
	CHECK_STR(canon(".5"), "0.5");
	CHECK_STR(canon("+1.20"), "1.2");
	CHECK_STR(canon("-12.3400"), "-12.34");
	CHECK_STR(canon("1000"), "1000");
	CHECK_STR(canon("10.01"), "10.01");
}

static void test_exponents(void)
{
	CHECK_STR(canon("1E+3"), "1000");
	CHECK_STR(canon("1.5e3"), "1500");
	CHECK_STR(canon("1.2345e2"), "123.45");
	CHECK_STR(canon("12345e-2"), "123.45");
	CHECK_STR(canon("0.00012e2"), "0.012");
	CHECK_STR(canon("-2.5E-3"), "-0.0025");
	CHECK_STR(canon("0e10"), "0");
	CHECK_STR(canon("1e0"), "1");
}

static void test_rejects(void)
{
	const char *bad[] = { "", "-", ".", "abc", "1.2.3", "1e", "1e+", "--1", "1 ", " 1", "0x10",
			      "NaN", "Infinity", "1,5", "e5" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_STR(canon(bad[i]), "ERR");
}

static void test_absurd_values(void)
{
	CHECK_STR(canon("1e100000"), "ERR");
	CHECK_STR(canon("1e-100000"), "ERR");
	CHECK_STR(canon("1e999999999999999999999"), "ERR");
	char big[200];
	memset(big, '9', sizeof big - 1);
	big[sizeof big - 1] = 0;
	CHECK_STR(canon(big), "ERR");
	/* The largest accepted: DEC_MAX - 1 characters. */
	CHECK_STR(canon("1e70"), "10000000000000000000000000000000000000000000000000000000000000000000000");
}

static int cmp(const char *a, const char *b)
{
	return dec_cmp(a, strlen(a), b, strlen(b));
}

static void test_compare(void)
{
	CHECK_INT(cmp("1", "2"), -1);
	CHECK_INT(cmp("10", "9"), 1);
	CHECK_INT(cmp("0.5", "0.45"), 1);
	CHECK_INT(cmp("0.45", "0.5"), -1);
	CHECK_INT(cmp("1.5", "1.5"), 0);
	CHECK_INT(cmp("1.5", "1.55"), -1);
	CHECK_INT(cmp("-1", "1"), -1);
	CHECK_INT(cmp("-2", "-1"), -1);
	CHECK_INT(cmp("-1.5", "-1.25"), -1);
	CHECK_INT(cmp("0", "0.0001"), -1);
	CHECK_INT(cmp("137002000", "137001000"), 1);
}

UNIT_SUITE(dec_tests) = {
	{ "dec: design.md examples", test_design_examples },
	{ "dec: leading zeros, signs and bare points", test_leading_zeros_and_points },
	{ "dec: exponents are expanded", test_exponents },
	{ "dec: non-decimals are rejected", test_rejects },
	{ "dec: absurd values are rejected", test_absurd_values },
	{ "dec: numeric comparison", test_compare },
	{ NULL, NULL },
};
