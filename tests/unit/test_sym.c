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

static void test_contracts(void)
{
	char b[SYM_MAX], q[SYM_MAX], e[9];
	/* Users name derivatives in the relay's spelling, in any case. */
	CHECK_STR(sep("btc-usdt-perp", '-', 0), "BTC-USDT-PERP");
	CHECK_STR(sep("XBT-USD-PERP", '-', 0), "BTC-USD-PERP");
	CHECK_STR(sep("BTC-USDT-20261225", '-', 0), "BTC-USDT-20261225");
	CHECK_STR(sep("BTC-USDT-20240229", '-', 0), "BTC-USDT-20240229"); /* a leap day */
	CHECK_STR(sep("BTC-USDT-20250229", '-', 0), "ERR");
	CHECK_STR(sep("BTC-USDT-20261325", '-', 0), "ERR");
	CHECK_STR(sep("BTC-USDT-261225", '-', 0), "ERR");
	CHECK_STR(sep("BTC-USDT-SWAP", '-', 0), "ERR"); /* OKX's spelling is not the relay's */
	CHECK_STR(sep("BTC-USDT-PERP-X", '-', 0), "ERR");
	CHECK_STR(sep("BTC--PERP", '-', 0), "ERR");
	CHECK_STR(sep("USDT-BTC-PERP", '-', 1), "ERR"); /* quote-first spellings have no suffix */
	CHECK_STR(sep("AVERYLONGASSET-ANOTHERLONGONE-PERP", '-', 0), "ERR"); /* does not fit */

	CHECK_INT(sym_parse_contract("BTC-USDT-PERP", b, q, e), SYM_PERP);
	CHECK_STR(b, "BTC");
	CHECK_STR(q, "USDT");
	CHECK_STR(e, "");
	CHECK_INT(sym_parse_contract("eth-usd-20250328", b, q, e), SYM_DATED);
	CHECK_STR(q, "USD");
	CHECK_STR(e, "20250328");
	CHECK_INT(sym_parse_contract("BTC-KRW", b, q, e), SYM_SPOT);
	CHECK_STR(q, "KRW");
	CHECK_INT(sym_parse_contract("BTC-USDT-SOON", b, q, e), -1);
	/* Spot exchanges take spot symbols only. */
	CHECK_INT(sym_parse("BTC-USDT-PERP", b, q), -1);
	CHECK_INT(sym_parse("BTC-USDT-20261225", b, q), -1);

	char out[SYM_MAX];
	CHECK_INT(sym_join_contract("btc", 3, "usdc", 4, NULL, out), 13);
	CHECK_STR(out, "BTC-USDC-PERP");
	CHECK_INT(sym_join_contract("BTC", 3, "USDT", 4, "20250627", out), 17);
	CHECK_STR(out, "BTC-USDT-20250627");
	CHECK_INT(sym_join_contract("BTC", 3, "USDT", 4, "2025062", out), -1);
	CHECK_INT(sym_join_contract("B-C", 3, "USDT", 4, NULL, out), -1);
}

static void test_dates(void)
{
	char d[9], w[8];
	CHECK_INT(sym_date_yymmdd("250627", 6, d), 0);
	CHECK_STR(d, "20250627");
	CHECK_INT(sym_date_yymmdd("251332", 6, d), -1);
	CHECK_INT(sym_date_yymmdd("25062", 5, d), -1);
	CHECK_INT(sym_date_yymmdd("25O627", 6, d), -1);
	CHECK_INT(sym_date_dmmmyy("21FEB25", 7, d), 0);
	CHECK_STR(d, "20250221");
	CHECK_INT(sym_date_dmmmyy("26dec25", 7, d), 0);
	CHECK_STR(d, "20251226");
	CHECK_INT(sym_date_dmmmyy("7MAR25", 6, d), 0);
	CHECK_STR(d, "20250307");
	CHECK_INT(sym_date_dmmmyy("31FEB25", 7, d), -1);
	CHECK_INT(sym_date_dmmmyy("21FOO25", 7, d), -1);
	CHECK_INT(sym_date_dmmmyy("H23", 3, d), -1);
	CHECK_INT(sym_date_to_ddmmmyy("20250221", w), 0);
	CHECK_STR(w, "21FEB25");
	CHECK_INT(sym_date_to_ddmmmyy("20250307", w), 0);
	CHECK_STR(w, "07MAR25");
	CHECK_INT(sym_date_to_yymmdd("20250328", w), 0);
	CHECK_STR(w, "250328");
	CHECK_INT(sym_date_to_yymmdd("20251328", w), -1);
}

UNIT_SUITE(sym_tests) = {
	{ "sym: concatenated symbols split by quote asset", test_concat },
	{ "sym: separated symbols, quote-first and aliases", test_separated },
	{ "sym: user symbols parse into parts", test_parse },
	{ "sym: perpetuals and dated futures in the relay's spelling", test_contracts },
	{ "sym: the exchanges' expiry dates", test_dates },
	{ NULL, NULL },
};
