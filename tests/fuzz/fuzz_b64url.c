/* Fuzz harness for serve's strict base64url decoder (the JWT segments of client tokens):
 * whatever it accepts must be the one canonical encoding of what it returns, every byte
 * string's encoding must decode back to it, and the output bound must hold. serve's files
 * are not a library, so the module is compiled in here. */
#include "../../serve/b64url.c"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t encode(const uint8_t *p, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		out[o++] = a[p[i] >> 2];
		out[o++] = a[(p[i] & 3) << 4];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 8 | p[i + 1];
		out[o++] = a[v >> 10];
		out[o++] = a[(v >> 4) & 63];
		out[o++] = a[(v & 15) << 2];
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	/* the first byte picks the output room, so short buffers are tried too */
	size_t cap = size ? data[0] : 0;
	const char *s = size ? (const char *)data + 1 : "";
	size_t n = size ? size - 1 : 0;
	unsigned char *out = malloc(cap ? cap : 1);
	char *again = malloc(n / 3 * 4 + 8);
	if (!out || !again)
		abort();
	long k = b64url_decode(s, n, out, cap);
	if (k >= 0) {
		if ((size_t)k > cap || encode(out, (size_t)k, again) != n || memcmp(again, s, n))
			abort(); /* accepted something that is not the canonical encoding */
	}
	/* the input as bytes: its encoding decodes back to it */
	unsigned char *back = malloc(n + 1);
	char *enc = malloc(n / 3 * 4 + 8);
	if (!back || !enc)
		abort();
	size_t el = encode((const uint8_t *)s, n, enc);
	if (b64url_decode(enc, el, back, n) != (long)n || memcmp(back, s, n))
		abort();
	free(out);
	free(again);
	free(back);
	free(enc);
	return 0;
}
