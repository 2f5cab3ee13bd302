/* auth.h: who may connect to serve — signed client tokens (HS256 JWT), origins, networks. */
#ifndef SERVE_AUTH_H
#define SERVE_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Loads the HMAC secret from FILE (trailing newline removed; at least 16 bytes).
 * Returns 0, or -1 with ERR. */
int auth_load_secret(const char *file, char *err, size_t errlen);
int auth_enabled(void);

/* Checks a token "header.payload.signature" (strict base64url, HS256): the signature with
 * the secret (constant-time), "alg":"HS256", an "exp" (a JSON number of seconds since the
 * epoch) after NOW, and "nbf" and "iat", when present, numbers not after NOW.
 * Returns 0, or -1 with WHY (safe to log, never to the client in detail). */
int auth_check(const char *tok, size_t n, int64_t now_s, char *why, size_t whylen);
/* Same, and *ADMIN set when the payload carries "scope":"admin" (access to /metrics and
 * /api/status when those are restricted). */
int auth_check_scope(const char *tok, size_t n, int64_t now_s, int *admin, char *why, size_t whylen);

/* A network in CIDR notation, IPv4 or IPv6 ("10.0.0.0/8", "::1/128", "127.0.0.1"). */
struct cidr {
	int family;
	unsigned char addr[16];
	int bits;
};
int cidr_parse(const char *s, struct cidr *out);
/* True when the textual address IP (as lws_get_peer_simple gives it) is inside C. */
int cidr_match_text(const struct cidr *c, const char *ip);

#endif
