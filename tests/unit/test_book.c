#include "book.h"
#include "exchanges/norm.h"
#include "exchanges/xch.h"
#include "unit.h"

#define SET(b, s, p, q) book_set((b), (s), (p), strlen(p), (q), strlen(q))

static void test_set_delete_order(void)
{
	struct book *b = book_new(100);
	CHECK_INT(SET(b, BOOK_BID, "100.0", "1"), 0);
	CHECK_INT(SET(b, BOOK_BID, "101", "2"), 0);
	CHECK_INT(SET(b, BOOK_BID, "99.5", "3"), 0);
	CHECK_INT(SET(b, BOOK_ASK, "102", "1"), 0);
	CHECK_INT(SET(b, BOOK_ASK, "101.50", "4"), 0);
	CHECK_STR(book_level(b, BOOK_BID, 0)->px, "101");
	CHECK_STR(book_level(b, BOOK_BID, 2)->px, "99.5");
	CHECK_STR(book_level(b, BOOK_ASK, 0)->px, "101.5");
	CHECK_STR(book_level(b, BOOK_ASK, 0)->raw_px, "101.50");
	CHECK_INT(SET(b, BOOK_BID, "100", "5"), 0); /* same price, other spelling: replaces */
	CHECK_INT(book_depth(b, BOOK_BID), 3);
	CHECK_STR(book_level(b, BOOK_BID, 1)->qty, "5");
	CHECK_INT(SET(b, BOOK_BID, "101.000", "0"), 0); /* delete */
	CHECK_INT(SET(b, BOOK_BID, "55", "0"), 0);      /* deleting what is not there is fine */
	CHECK_INT(book_depth(b, BOOK_BID), 2);
	CHECK_STR(book_level(b, BOOK_BID, 0)->px, "100");
	CHECK(!book_crossed(b));
	CHECK_INT(SET(b, BOOK_BID, "101.5", "1"), 0);
	CHECK(book_crossed(b));
	CHECK_INT(SET(b, BOOK_BID, "abc", "1"), -1);
	CHECK_INT(SET(b, BOOK_BID, "-1", "1"), -1);
	CHECK_INT(SET(b, BOOK_BID, "1", "-1"), -1);
	book_truncate(b, 1);
	CHECK_INT(book_depth(b, BOOK_BID), 1);
	CHECK_STR(book_level(b, BOOK_BID, 0)->px, "101.5");
	book_free(b);
}

static void test_capacity(void)
{
	struct book *b = book_new(3);
	CHECK_INT(SET(b, BOOK_ASK, "1", "1"), 0);
	CHECK_INT(SET(b, BOOK_ASK, "2", "1"), 0);
	CHECK_INT(SET(b, BOOK_ASK, "3", "1"), 0);
	CHECK_INT(SET(b, BOOK_ASK, "4", "1"), -1);
	CHECK_INT(SET(b, BOOK_ASK, "3", "2"), 0);
	book_free(b);
}

static void test_okx_checksum(void)
{
	/* The worked examples of OKX's and Bitget's documentation. */
	struct book *b = book_new(100);
	SET(b, BOOK_BID, "3366.1", "7");
	SET(b, BOOK_BID, "3366", "6");
	SET(b, BOOK_ASK, "3366.8", "9");
	SET(b, BOOK_ASK, "3368", "8");
	CHECK_INT((int32_t)book_crc_interleaved(b, 25), -1881014294);
	book_clear(b);
	SET(b, BOOK_BID, "3366.1", "7");
	SET(b, BOOK_ASK, "3366.8", "9");
	SET(b, BOOK_ASK, "3368", "8");
	SET(b, BOOK_ASK, "3372", "8");
	CHECK_INT((int32_t)book_crc_interleaved(b, 25), 831078360);
	book_free(b);
}

static void test_kraken_checksum(void)
{
	/* Kraken's documented book snapshot (MATIC/USD: 4 price, 8 amount decimals). */
	struct book *b = book_new(100);
	static const char *bids[][2] = { { "0.5666", "4831.75496356" }, { "0.5665", "6658.22734739" }, { "0.5664", "18724.91513344" }, { "0.5663", "11563.92544914" }, { "0.5662", "14006.65365711" }, { "0.5661", "17454.85679807" }, { "0.566", "18097.1547" }, { "0.5659", "33644.89175666" }, { "0.5658", "148.3464" }, { "0.5657", "606.70854372" } };
	static const char *asks[][2] = { { "0.5668", "4410.79769741" }, { "0.5669", "4655.40412487" }, { "0.567", "49844.89424998" }, { "0.5671", "24306.41678" }, { "0.5672", "29783.25223475" }, { "0.5673", "57234.71239278" }, { "0.5674", "45065.04744" }, { "0.5675", "5912.76380354" }, { "0.5676", "42514.92434778" }, { "0.5677", "36304.0847022" } };
	for (int i = 0; i < 10; i++) {
		SET(b, BOOK_BID, bids[i][0], bids[i][1]);
		SET(b, BOOK_ASK, asks[i][0], asks[i][1]);
	}
	CHECK_INT(book_crc_kraken(b, 4, 8), 2439117997u);
	book_free(b);
}

static void test_emit(void)
{
	struct jw w;
	struct norm n;
	struct book *b = book_new(100);
	jw_init(&w, 1 << 16);
	norm_init(&n, &w);
	n.x = xch_find("binance", 7);
	n.local_ts = 5;
	n.book_depth = 2;
	SET(b, BOOK_BID, "10", "1");
	SET(b, BOOK_BID, "9", "1");
	SET(b, BOOK_BID, "8", "1");
	SET(b, BOOK_ASK, "11.50", "2.0");
	CHECK_INT(norm_book_from(&n, b, "BTC-USDT", 7), 0);
	jw_raw(&w, "", 1);
	CHECK_STR(w.buf, "{\"type\":\"book\",\"exchange\":\"binance\",\"symbol\":\"BTC-USDT\",\"ts\":7,\"local_ts\":5,"
			 "\"bids\":[[10,1],[9,1]],\"asks\":[[11.5,2]]}\n");
	norm_free(&n);
	jw_free(&w);
	book_free(b);
}

UNIT_SUITE(book_tests) = {
	{ "book: set, replace, delete, order, crossed, truncate", test_set_delete_order },
	{ "book: a side never grows past its limit", test_capacity },
	{ "book: OKX/Bitget interleaved CRC32 (documented examples)", test_okx_checksum },
	{ "book: Kraken CRC32 with the pair's precision (documented example)", test_kraken_checksum },
	{ "book: emitted as a top-N book line", test_emit },
	{ NULL, NULL },
};
