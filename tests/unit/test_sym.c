#include "sym.h"
#include "unit.h"

static const char *concat(const char *s)
{
	static char out[SYM_MAX];
	return sym_split_concat(s, strlen(s), out) < 0 ? "ERR" : out;
}

static const char *sep(const char *s, char c, int quote_first)
{
	static char out[SYM_MAX];
	return sym_split_sep(s, strlen(s), c, quote_first, out) < 0 ? "ERR" : out;
}

static void test_concat(void)
{
	CHECK_STR(concat("BTCUSDT"), "BTC-USDT");
	CHECK_STR(concat("btcusdt"), "BTC-USDT");
	CHECK_STR(concat("ETHBTC"), "ETH-BTC");
	CHECK_STR(concat("BTCFDUSD"), "BTC-FDUSD");
	CHECK_STR(concat("BTCUSDC"), "BTC-USDC");
	CHECK_STR(concat("BNBBTC"), "BNB-BTC");
	CHECK_STR(concat("BTCTUSD"), "BTC-TUSD");
	CHECK_STR(concat("XBTEUR"), "BTC-EUR");
	CHECK_STR(concat("1INCHUSDT"), "1INCH-USDT");
	CHECK_STR(concat("USDT"), "ERR");
	CHECK_STR(concat("FOOBAR"), "ERR");
}

static void test_separated(void)
{
	CHECK_STR(sep("KRW-BTC", '-', 1), "BTC-KRW");
	CHECK_STR(sep("BTC_KRW", '_', 0), "BTC-KRW");
	CHECK_STR(sep("XBT/USD", '/', 0), "BTC-USD");
	CHECK_STR(sep("krw-usdt", '-', 1), "USDT-KRW");
	CHECK_STR(sep("BTC", '-', 0), "ERR");
	CHECK_STR(sep("-BTC", '-', 0), "ERR");
	CHECK_STR(sep("BTC-", '-', 0), "ERR");
	CHECK_STR(sep("BT C-USD", '-', 0), "ERR");
	CHECK_STR(sep("BTC-US\"D", '-', 0), "ERR");
}

static void test_parse(void)
{
	char b[SYM_MAX], q[SYM_MAX];
	CHECK_INT(sym_parse("btc-usdt", b, q), 0);
	CHECK_STR(b, "BTC");
	CHECK_STR(q, "USDT");
	CHECK_INT(sym_parse("BTCUSDT", b, q), -1);
	CHECK_INT(sym_parse("A-B-C", b, q), -1);
	CHECK_INT(sym_parse("AVERYVERYLONGASSETNAME-USDT", b, q), -1);
}

UNIT_SUITE(sym_tests) = {
	{ "sym: concatenated symbols split by quote asset", test_concat },
	{ "sym: separated symbols, quote-first and aliases", test_separated },
	{ "sym: user symbols parse into parts", test_parse },
	{ NULL, NULL },
};
