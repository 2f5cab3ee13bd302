/* dec.h: exact decimal text (canonical spelling, comparison, subtraction, multiplication), so
 * prices keep the exchange's digits and contract counts become base amounts without a float. */
#ifndef DEC_H
#define DEC_H

#include <stddef.h>

/* Longest canonical spelling dec_canon produces (sign, digits, point, NUL). */
#define DEC_MAX 80

/* Writes the canonical JSON-number spelling of decimal text S into OUT (at least DEC_MAX
 * bytes): optional '-', no leading zeros, no trailing fractional zeros, no bare point, no
 * exponent ("0.35130000" -> "0.3513", "1e-05" -> "0.00001", "-0.0" -> "0"). Accepts JSON
 * number syntax, plus a leading '+' and a missing integer or fraction part (".5", "5."),
 * since exchanges put such text in strings. Returns the length, or -1 when S is not a
 * decimal or its canonical form would exceed DEC_MAX - 1 characters (an absurd value). */
int dec_canon(const char *s, size_t n, char *out);

/* Compares two canonical decimals numerically: <0, 0, >0. */
int dec_cmp(const char *a, size_t an, const char *b, size_t bn);

/* Writes A - B, exactly and in canonical form, into OUT (at least DEC_MAX bytes); A and B
 * are canonical decimals (dec_canon's output). Returns the length, or -1 when the longer
 * integer part and the longer fraction of the two add up to more than DEC_MAX - 4 digits
 * (no room left for a carry, the sign, the point and the NUL). */
int dec_sub(const char *a, size_t an, const char *b, size_t bn, char *out);

/* Writes A x B, exactly and in canonical form, into OUT (at least DEC_MAX bytes); A and B
 * are canonical decimals (dec_canon's output). Returns the length, or -1 when the product's
 * canonical form would exceed DEC_MAX - 1 characters. Contracts times a contract size
 * ("1.25" x "0.01" -> "0.0125") is the use: cost grows with A's digits times B's non-zero
 * digits, so the usual power-of-ten size is a shift. */
int dec_mul(const char *a, size_t an, const char *b, size_t bn, char *out);

/* When canonical B is a positive power of ten (1, 1000, 0.01), sets *E to its exponent and
 * returns 1; else 0. */
int dec_pow10(const char *b, size_t bn, long *e);
/* Writes A x 10^E, canonical A moved by E places, into OUT (DEC_MAX bytes). Returns the
 * length, or -1 when it would not fit. dec_mul by a power of ten, its exponent known. */
int dec_shift(const char *a, size_t an, long e, char *out);

/* True when canonical decimal S is zero. */
static inline int dec_is_zero(const char *s, size_t n) { return n == 1 && s[0] == '0'; }

#endif
