/* Tests for serve's strict base64url decoder (JWT segments). serve's files are not a
 * library, so the module is compiled into the test binary here. */
#include "../../serve/b64url.c"

#include "unit.h"

static long dec(const char *s, unsigned char *out, size_t cap)
{
	return b64url_decode(s, strlen(s), out, cap);
}

static void test_b64url_valid(void)
{
	unsigned char out[64];
	CHECK_INT(dec("", out, sizeof out), 0);
	CHECK_INT(dec("QQ", out, sizeof out), 1);
	CHECK(out[0] == 'A');
	CHECK_INT(dec("QUI", out, sizeof out), 2);
	CHECK(!memcmp(out, "AB", 2));
	CHECK_INT(dec("QUJD", out, sizeof out), 3);
	CHECK(!memcmp(out, "ABC", 3));
	/* '-' and '_' where standard base64 has '+' and '/' */
	CHECK_INT(dec("-_-_", out, sizeof out), 3);
	CHECK(out[0] == 0xfb && out[1] == 0xff && out[2] == 0xbf);
	CHECK_INT(dec("eyJhbGciOiJIUzI1NiJ9", out, sizeof out), 15);
	CHECK(!memcmp(out, "{\"alg\":\"HS256\"}", 15));
}

static void test_b64url_rejects(void)
{
	unsigned char out[64];
	/* padding, and anything after it */
	CHECK_INT(dec("QQ==", out, sizeof out), -1);
	CHECK_INT(dec("QQ=junk", out, sizeof out), -1);
	CHECK_INT(dec("QUJD=", out, sizeof out), -1);
	/* characters of standard base64, whitespace, dots, NUL */
	CHECK_INT(dec("QU+D", out, sizeof out), -1);
	CHECK_INT(dec("QU/D", out, sizeof out), -1);
	CHECK_INT(dec("QU JD", out, sizeof out), -1);
	CHECK_INT(dec("QUJD\n", out, sizeof out), -1);
	CHECK_INT(dec("QU.D", out, sizeof out), -1);
	CHECK_INT(b64url_decode("QU\0D", 4, out, sizeof out), -1);
	/* a lone last character encodes no whole byte */
	CHECK_INT(dec("Q", out, sizeof out), -1);
	CHECK_INT(dec("QUJDQ", out, sizeof out), -1);
	/* non-zero bits after the last byte: "QR" would also decode to "A" */
	CHECK_INT(dec("QR", out, sizeof out), -1);
	CHECK_INT(dec("QUJ", out, sizeof out), -1);
	CHECK_INT(dec("QUK", out, sizeof out), -1);
	/* too small an output */
	CHECK_INT(dec("QUJD", out, 2), -1);
	CHECK_INT(dec("QUJD", out, 3), 3);
	CHECK_INT(dec("QUI", out, 1), -1);
}

/* Every byte string round-trips, and its encoding is the only one accepted. */
static void test_b64url_canonical(void)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char out[4];
	char s[4];
	int accepted = 0;
	/* all 64^3 three-character strings: exactly 2^16 decode (one per 2-byte value) */
	for (int a = 0; a < 64; a++)
		for (int b = 0; b < 64; b++)
			for (int c = 0; c < 64; c++) {
				s[0] = alphabet[a];
				s[1] = alphabet[b];
				s[2] = alphabet[c];
				if (b64url_decode(s, 3, out, sizeof out) == 2)
					accepted++;
			}
	CHECK_INT(accepted, 65536);
}

UNIT_SUITE(b64url_tests) = {
	{ "b64url: valid encodings", test_b64url_valid },
	{ "b64url: padding, junk, lone and non-canonical characters", test_b64url_rejects },
	{ "b64url: one encoding per byte string", test_b64url_canonical },
	{ NULL, NULL },
};
