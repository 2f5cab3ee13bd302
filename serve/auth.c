#include "auth.h"
#include "b64url.h"
#include "json.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char secret[512];
static size_t secret_len;

int auth_load_secret(const char *file, char *err, size_t errlen)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	ssize_t n = read(fd, secret, sizeof secret);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	while (n > 0 && (secret[n - 1] == '\n' || secret[n - 1] == '\r'))
		n--;
	if (n < 16) {
		snprintf(err, errlen, "%s: the secret must have at least 16 bytes", file);
		return -1;
	}
	secret_len = (size_t)n;
	return 0;
}

int auth_enabled(void)
{
	return secret_len > 0;
}

int auth_check(const char *tok, size_t n, int64_t now_s, char *why, size_t whylen)
{
	int admin;
	return auth_check_scope(tok, n, now_s, &admin, why, whylen);
}

/* A NumericDate claim (RFC 7519 2): a JSON number of whole seconds. Returns 1 and *V
 * when present and well formed, 0 when absent, -1 when present but not such a number
 * (a string "9999999999" included). */
static int claim_time(const struct js_doc *d, const char *key, size_t keylen, int64_t *v)
{
	int t = js_getn(d, 0, key, keylen);
	if (t < 0)
		return 0;
	if (js_type(d, t) != JS_NUMBER || js_int64(d, t, v))
		return -1;
	return 1;
}

int auth_check_scope(const char *tok, size_t n, int64_t now_s, int *admin, char *why, size_t whylen)
{
	unsigned char mac[EVP_MAX_MD_SIZE], sig[64], json[1024];
	unsigned maclen = 0;
	*admin = 0;
	if (!secret_len) {
		snprintf(why, whylen, "no secret configured");
		return -1;
	}
	const char *d1 = memchr(tok, '.', n);
	const char *d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - tok)) : NULL;
	if (!d1 || !d2 || n > 4096 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - tok))) {
		snprintf(why, whylen, "not a token");
		return -1;
	}
	/* The signature is the whole rest, in its one canonical encoding: nothing may follow
	 * it or hide in its padding bits. */
	long sl = b64url_decode(d2 + 1, n - (size_t)(d2 + 1 - tok), sig, sizeof sig);
	if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)tok, (size_t)(d2 - tok), mac, &maclen) ||
	    sl != (long)maclen || CRYPTO_memcmp(sig, mac, maclen)) {
		snprintf(why, whylen, "bad signature");
		return -1;
	}
	/* Signed by us: now read what it says. */
	struct js_doc d;
	js_init(&d, 256);
	long hl = b64url_decode(tok, (size_t)(d1 - tok), json, sizeof json);
	int ok = hl > 0 && js_parse(&d, (char *)json, (size_t)hl) == JS_OK && js_type(&d, 0) == JS_OBJECT &&
		 js_streq(&d, js_get(&d, 0, "alg"), "HS256");
	if (!ok) {
		js_free(&d);
		snprintf(why, whylen, "header is not HS256");
		return -1;
	}
	long pl = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), json, sizeof json);
	int64_t exp = 0, nbf = 0, iat = 0;
	int has_exp = -1, has_nbf = -1, has_iat = -1;
	ok = pl > 0 && js_parse(&d, (char *)json, (size_t)pl) == JS_OK && js_type(&d, 0) == JS_OBJECT;
	if (ok) {
		has_exp = claim_time(&d, "exp", 3, &exp);
		has_nbf = claim_time(&d, "nbf", 3, &nbf);
		has_iat = claim_time(&d, "iat", 3, &iat);
		*admin = js_streq(&d, js_get(&d, 0, "scope"), "admin");
	}
	js_free(&d);
	if (!ok)
		snprintf(why, whylen, "payload is not a JSON object");
	else if (has_exp != 1)
		snprintf(why, whylen, has_exp ? "exp is not a number of seconds" : "payload without exp");
	else if (has_nbf < 0 || has_iat < 0)
		snprintf(why, whylen, "%s is not a number of seconds", has_nbf < 0 ? "nbf" : "iat");
	else if (exp <= now_s)
		snprintf(why, whylen, "expired");
	else if (has_nbf && nbf > now_s)
		snprintf(why, whylen, "not valid yet (nbf)");
	else if (has_iat && iat > now_s)
		snprintf(why, whylen, "issued in the future (iat)");
	else
		return 0;
	*admin = 0;
	return -1;
}

int cidr_parse(const char *s, struct cidr *out)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = 0;
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		out->bits = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		out->bits = 128;
	} else {
		return -1;
	}
	if (slash) {
		char *end;
		long b = strtol(slash + 1, &end, 10);
		if (*end || b < 0 || b > out->bits)
			return -1;
		out->bits = (int)b;
	}
	return 0;
}

static int prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
	int full = bits / 8, rest = bits % 8;
	if (memcmp(a, b, (size_t)full))
		return 0;
	if (!rest)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

int cidr_match_text(const struct cidr *c, const char *ip)
{
	unsigned char a[16];
	if (inet_pton(AF_INET, ip, a) == 1) {
		if (c->family == AF_INET)
			return prefix_eq(a, c->addr, c->bits);
		/* An IPv4 network also matches its IPv4-mapped IPv6 form, and the reverse below. */
		return 0;
	}
	if (inet_pton(AF_INET6, ip, a) != 1)
		return 0;
	if (c->family == AF_INET6)
		return prefix_eq(a, c->addr, c->bits);
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	return !memcmp(a, mapped, 12) && prefix_eq(a + 12, c->addr, c->bits);
}
