/* b64url.h: strict base64url without padding (RFC 4648 section 5), as JWTs use it. */
#ifndef SERVE_B64URL_H
#define SERVE_B64URL_H

#include <stddef.h>

/* Decodes the N characters at S into OUT (CAP bytes). Only the canonical encoding is
 * accepted: characters of the base64url alphabet, no '=' padding, no length that leaves a
 * lone character (N % 4 == 1), and zero bits after the last full byte, so that every byte
 * string has one encoding and nothing can be appended to it. Returns the decoded length,
 * or -1 when S is not such an encoding or OUT is too small. */
long b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap);

#endif
