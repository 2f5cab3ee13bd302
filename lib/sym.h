/* sym.h: symbols in the relay's one spelling, BASE-QUOTE in upper case, and the exchanges' spellings. */
#ifndef SYM_H
#define SYM_H

#include <stddef.h>

#define SYM_MAX 32 /* buffer size for a symbol, NUL included */

/* Writes "BASE-QUOTE" (upper case, aliases such as XBT->BTC applied) into OUT (SYM_MAX bytes).
 * Returns the length, or -1 when a part is empty, too long or not alphanumeric. */
int sym_join(const char *base, size_t bl, const char *quote, size_t ql, char *out);

/* Splits a separated spelling: "BTC_KRW" (sep '_'), "KRW-BTC" (sep '-', quote first),
 * "XBT/USD" (sep '/'). Returns sym_join's result. */
int sym_split_sep(const char *s, size_t n, char sep, int quote_first, char *out);

/* Splits a concatenated spelling such as "BTCUSDT" or "ethbtc" by the longest known quote
 * asset at its end (the table is in sym.c and documented in the README). */
int sym_split_concat(const char *s, size_t n, char *out);

/* Parses a user's "BASE-QUOTE" into its parts (each SYM_MAX bytes, upper case).
 * Returns 0, or -1 when SYM is not of that form. */
int sym_parse(const char *sym, char *base, char *quote);

/* Copies S to OUT in lower case (OUT holds n + 1 bytes). */
void sym_lower(const char *s, size_t n, char *out);

#endif
