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

static const char *sub(const char *a, const char *b)
{
	static char out[DEC_MAX];
	int k = dec_sub(a, strlen(a), b, strlen(b), out);
	if (k < 0)
		return "ERR";
	return (size_t)k == strlen(out) ? out : "BAD LENGTH";
}

static void test_sub_carries_and_borrows(void)
{
	CHECK_STR(sub("5", "3"), "2");
	CHECK_STR(sub("68000.5", "1200.25"), "66800.25");
	/* A carry into a new integer digit, from the fraction and from the units. */
	CHECK_STR(sub("9.99", "-0.01"), "10");
	CHECK_STR(sub("999", "-1"), "1000");
	CHECK_STR(sub("0.5", "-0.5"), "1");
	CHECK_STR(sub("-9.9", "0.1"), "-10");
	/* Borrows across the point and across several digits. */
	CHECK_STR(sub("10", "0.01"), "9.99");
	CHECK_STR(sub("1000", "1"), "999");
	CHECK_STR(sub("100.1", "0.2"), "99.9");
	CHECK_STR(sub("1", "0.000001"), "0.999999");
}

static void test_sub_signs_and_zero(void)
{
	CHECK_STR(sub("3", "5"), "-2");
	CHECK_STR(sub("0.01", "1"), "-0.99");
	CHECK_STR(sub("-1", "2"), "-3");
	CHECK_STR(sub("-1", "-3"), "2");
	CHECK_STR(sub("-3", "-1"), "-2");
	CHECK_STR(sub("0", "5"), "-5");
	CHECK_STR(sub("5", "0"), "5");
	CHECK_STR(sub("0", "-0.001"), "0.001");
	/* Zero is "0", never "-0" or "0.0". */
	CHECK_STR(sub("0", "0"), "0");
	CHECK_STR(sub("1.5", "1.5"), "0");
	CHECK_STR(sub("-2.25", "-2.25"), "0");
}

static void test_sub_fraction_lengths(void)
{
	CHECK_STR(sub("1.5", "0.25"), "1.25");
	CHECK_STR(sub("0.25", "1.5"), "-1.25");
	CHECK_STR(sub("0.123456789", "0.1"), "0.023456789");
	CHECK_STR(sub("2", "1.999"), "0.001");
	CHECK_STR(sub("1.25", "0.05"), "1.2"); /* trailing zeros of the result dropped */
	CHECK_STR(sub("123.45", "23.45"), "100");
}

/* Canonical text of I / 10^SCALE. */
static void scaled(long long i, int scale, char *out)
{
	char digits[48], text[48];
	int n = snprintf(digits, sizeof digits, "%lld", i < 0 ? -i : i), k = 0;
	while (n < scale + 1) { /* at least one digit before the point */
		memmove(digits + 1, digits, (size_t)n + 1);
		digits[0] = '0';
		n++;
	}
	if (i < 0)
		text[k++] = '-';
	for (int j = 0; j < n; j++) {
		if (j == n - scale)
			text[k++] = '.';
		text[k++] = digits[j];
	}
	text[k] = 0;
	if (dec_canon(text, (size_t)k, out) < 0)
		strcpy(out, "ERR");
}

/* Every pair of a grid of values with 0 to 3 decimals against integer arithmetic. */
static void test_sub_grid(void)
{
	int bad = 0;
	for (int sa = 0; sa <= 3; sa++)
		for (int sb = 0; sb <= 3; sb++)
			for (long long i = -2500; i <= 2500; i += 113)
				for (long long j = -2500; j <= 2500; j += 127) {
					char a[DEC_MAX], b[DEC_MAX], want[DEC_MAX];
					int s = sa > sb ? sa : sb;
					long long ia = i, jb = j;
					for (int k = sa; k < s; k++)
						ia *= 10;
					for (int k = sb; k < s; k++)
						jb *= 10;
					scaled(i, sa, a);
					scaled(j, sb, b);
					scaled(ia - jb, s, want);
					if (strcmp(sub(a, b), want) && bad++ < 5)
						CHECK_STR(sub(a, b), want);
				}
	CHECK_INT(bad, 0);
}

static void test_sub_bound(void)
{
	/* 40 integer and 36 fraction digits: with the carry digit, sign, point and NUL the
	 * result takes all of DEC_MAX. */
	char a[DEC_MAX], na[DEC_MAX + 1], want[DEC_MAX];
	memset(a, '9', 77);
	a[40] = '.';
	a[77] = 0;
	snprintf(na, sizeof na, "-%s", a);
	memset(want, '9', 78);
	want[0] = '-';
	want[1] = '1';
	want[42] = '.';
	want[78] = '8';
	want[79] = 0;
	CHECK_STR(sub(na, a), want);
	CHECK_INT(strlen(sub(na, a)), DEC_MAX - 1);
	CHECK_STR(sub(a, na), want + 1);
	/* One fraction digit more, on either side, and the result might not fit. */
	char longer[DEC_MAX + 1];
	snprintf(longer, sizeof longer, "%s1", a);
	CHECK_STR(sub(longer, "1"), "ERR");
	CHECK_STR(sub("1", longer), "ERR");
	CHECK_STR(sub(longer, longer), "ERR");
}

static const char *mul(const char *a, const char *b)
{
	static char out[DEC_MAX];
	int k = dec_mul(a, strlen(a), b, strlen(b), out);
	if (k < 0)
		return "ERR";
	return (size_t)k == strlen(out) ? out : "BAD LENGTH";
}

/* Contracts times a contract size: the venues' own examples. */
static void test_mul_contract_sizes(void)
{
	CHECK_STR(mul("415", "0.01"), "4.15");            /* OKX BTC-USDT-SWAP, ctVal 0.01 */
	CHECK_STR(mul("2216113.01000000309", "0.01"), "22161.1301000000309");
	CHECK_STR(mul("30166", "0.0001"), "3.0166");      /* Gate BTC_USDT, quanto_multiplier */
	CHECK_STR(mul("108", "0.0001"), "0.0108");
	CHECK_STR(mul("13", "1000"), "13000");
	CHECK_STR(mul("0.5", "10"), "5");
	CHECK_STR(mul("1", "0.00000001"), "0.00000001");
	CHECK_STR(mul("3", "0.25"), "0.75");
	CHECK_STR(mul("1.5", "1.5"), "2.25");
	CHECK_STR(mul("99.99", "99.99"), "9998.0001");
	CHECK_STR(mul("123456789", "987654321"), "121932631112635269");
}

static void test_mul_signs_and_zero(void)
{
	CHECK_STR(mul("-108", "0.0001"), "-0.0108");
	CHECK_STR(mul("-2", "-0.5"), "1");
	CHECK_STR(mul("2", "-0.5"), "-1");
	/* Zero is "0", never "-0" or "0.00". */
	CHECK_STR(mul("0", "0.01"), "0");
	CHECK_STR(mul("-5", "0"), "0");
	CHECK_STR(mul("0", "0"), "0");
	/* Trailing zeros of the product go, and so do leading ones. */
	CHECK_STR(mul("0.2", "0.5"), "0.1");
	CHECK_STR(mul("0.25", "4"), "1");
	CHECK_STR(mul("0.001", "0.001"), "0.000001");
	CHECK_STR(mul("100", "100"), "10000");
}

/* Every pair of a grid of values with 0 to 3 decimals against integer arithmetic. */
static void test_mul_grid(void)
{
	int bad = 0;
	for (int sa = 0; sa <= 3; sa++)
		for (int sb = 0; sb <= 3; sb++)
			for (long long i = -2500; i <= 2500; i += 113)
				for (long long j = -2500; j <= 2500; j += 127) {
					char a[DEC_MAX], b[DEC_MAX], want[DEC_MAX];
					scaled(i, sa, a);
					scaled(j, sb, b);
					scaled(i * j, sa + sb, want);
					if (strcmp(mul(a, b), want) && bad++ < 5)
						CHECK_STR(mul(a, b), want);
				}
	CHECK_INT(bad, 0);
}

/* Powers of ten move the point: the same result as the exponent form through dec_canon. */
static void test_mul_powers_of_ten(void)
{
	static const char *const values[] = { "0", "1", "7", "-7", "12.5", "-0.001", "30166", "2216113.01000000309",
					      "99999999", "0.000000123" };
	int bad = 0;
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
		for (int k = -12; k <= 12; k++) {
			char p[40], want[DEC_MAX], e[64];
			/* 10^k spelt canonically: "1000", "0.001" */
			snprintf(e, sizeof e, "1e%d", k);
			dec_canon(e, strlen(e), p);
			snprintf(e, sizeof e, "%se%d", values[i], k);
			if (dec_canon(e, strlen(e), want) < 0)
				strcpy(want, "ERR");
			if (strcmp(mul(values[i], p), want) && bad++ < 5)
				CHECK_STR(mul(values[i], p), want);
			if (strcmp(mul(p, values[i]), want) && bad++ < 5)
				CHECK_STR(mul(p, values[i]), want);
			char neg[48];
			snprintf(neg, sizeof neg, "-%s", p);
			snprintf(e, sizeof e, "-%se%d", values[i][0] == '-' ? values[i] + 1 : values[i], k);
			if (values[i][0] == '-')
				snprintf(e, sizeof e, "%se%d", values[i] + 1, k);
			if (dec_canon(e, strlen(e), want) < 0)
				strcpy(want, "ERR");
			if (strcmp(mul(values[i], neg), want) && bad++ < 5)
				CHECK_STR(mul(values[i], neg), want);
		}
	CHECK_INT(bad, 0);
	/* What the book writer uses: the exponent found once, then shifts. */
	long e = 99;
	char out[DEC_MAX];
	CHECK_INT(dec_pow10("0.0001", 6, &e), 1);
	CHECK_INT(e, -4);
	CHECK_INT(dec_pow10("1000", 4, &e), 1);
	CHECK_INT(e, 3);
	CHECK_INT(dec_pow10("1", 1, &e), 1);
	CHECK_INT(e, 0);
	CHECK_INT(dec_pow10("0.5", 3, &e), 0);
	CHECK_INT(dec_pow10("-10", 3, &e), 0);
	CHECK_INT(dec_pow10("11", 2, &e), 0);
	CHECK_INT(dec_shift("30166", 5, -4, out), 6);
	CHECK_STR(out, "3.0166");
	CHECK_INT(dec_shift("0.25", 4, 3, out), 3);
	CHECK_STR(out, "250");
	CHECK_INT(dec_shift("1", 1, 80, out), -1);
	/* Not powers of ten: the long way. */
	CHECK_STR(mul("3", "11"), "33");
	CHECK_STR(mul("3", "0.11"), "0.33");
	CHECK_STR(mul("3", "2"), "6");
}

static void test_mul_bound(void)
{
	/* 10^39 squared has 79 digits: all of DEC_MAX but the NUL. */
	char a[DEC_MAX], want[DEC_MAX];
	a[0] = '1';
	memset(a + 1, '0', 39);
	a[40] = 0;
	want[0] = '1';
	memset(want + 1, '0', 78);
	want[79] = 0;
	CHECK_STR(mul(a, a), want);
	CHECK_INT(strlen(mul(a, "10")), 41);
	/* One digit more does not fit; neither does a fraction that long. */
	char b[DEC_MAX + 1];
	snprintf(b, sizeof b, "%s0", a);
	CHECK_STR(mul(a, b), "ERR");
	/* 1e-40 squared needs 82 characters; 1e-38 squared, 78. */
	CHECK_STR(mul("0.0000000000000000000000000000000000000001", "0.0000000000000000000000000000000000000001"), "ERR");
	CHECK_STR(mul("0.00000000000000000000000000000000000001", "0.00000000000000000000000000000000000001"),
		  "0.0000000000000000000000000000000000000000000000000000000000000000000000000001");
}

UNIT_SUITE(dec_tests) = {
	{ "dec: design.md examples", test_design_examples },
	{ "dec: leading zeros, signs and bare points", test_leading_zeros_and_points },
	{ "dec: exponents are expanded", test_exponents },
	{ "dec: non-decimals are rejected", test_rejects },
	{ "dec: absurd values are rejected", test_absurd_values },
	{ "dec: numeric comparison", test_compare },
	{ "dec: subtraction carries and borrows", test_sub_carries_and_borrows },
	{ "dec: subtraction signs and zero", test_sub_signs_and_zero },
	{ "dec: subtraction across fraction lengths", test_sub_fraction_lengths },
	{ "dec: subtraction against integer arithmetic on a grid", test_sub_grid },
	{ "dec: subtraction bounded by DEC_MAX", test_sub_bound },
	{ "dec: multiplication by contract sizes", test_mul_contract_sizes },
	{ "dec: multiplication signs and zero", test_mul_signs_and_zero },
	{ "dec: multiplication against integer arithmetic on a grid", test_mul_grid },
	{ "dec: multiplication by powers of ten moves the point", test_mul_powers_of_ten },
	{ "dec: multiplication bounded by DEC_MAX", test_mul_bound },
	{ NULL, NULL },
};
