/* sym.h: symbols in the relay's one spelling — BASE-QUOTE in upper case for spot, BASE-QUOTE-PERP
 * for perpetuals, BASE-QUOTE-YYYYMMDD for dated futures — and the exchanges' spellings. */
#ifndef SYM_H
#define SYM_H

#include <stddef.h>

#define SYM_MAX 32 /* buffer size for a symbol, NUL included */

/* Writes "BASE-QUOTE" (upper case, aliases such as XBT->BTC applied) into OUT (SYM_MAX bytes).
 * Returns the length, or -1 when a part is empty, too long or not alphanumeric. */
int sym_join(const char *base, size_t bl, const char *quote, size_t ql, char *out);

/* Splits a separated spelling: "BTC_KRW" (sep '_'), "KRW-BTC" (sep '-', quote first),
 * "XBT/USD" (sep '/'). Returns sym_join's result. With SEP '-' and the base first, the relay's
 * own derivative spellings are read too ("btc-usdt-perp" -> "BTC-USDT-PERP",
 * "BTC-USDT-20261225"): this is how users name symbols. */
int sym_split_sep(const char *s, size_t n, char sep, int quote_first, char *out);

/* Splits a concatenated spelling such as "BTCUSDT" or "ethbtc" by the longest known quote
 * asset at its end (the table is in sym.c and documented in the README). */
int sym_split_concat(const char *s, size_t n, char *out);

/* Parses a user's spot "BASE-QUOTE" into its parts (each SYM_MAX bytes, upper case).
 * Returns 0, or -1 when SYM is not of that form (a derivative's symbol included, so that a
 * spot exchange refuses it). */
int sym_parse(const char *sym, char *base, char *quote);

/* What a relay symbol names. */
enum sym_kind { SYM_SPOT, SYM_PERP, SYM_DATED };

/* Writes a derivative's symbol into OUT (SYM_MAX bytes): "BASE-QUOTE-PERP" when EXPIRY is
 * NULL, else "BASE-QUOTE-YYYYMMDD" with EXPIRY a date of eight digits. Returns the length, or
 * -1 like sym_join, for a bad date, or when it does not fit. */
int sym_join_contract(const char *base, size_t bl, const char *quote, size_t ql, const char *expiry,
		      char *out);

/* Parses any relay symbol into BASE and QUOTE (SYM_MAX bytes each, upper case) and EXPIRY
 * (9 bytes: the YYYYMMDD of a dated future, else ""). Returns its sym_kind, or -1. */
int sym_parse_contract(const char *sym, char *base, char *quote, char *expiry);

/* The exchanges' spellings of an expiry date, read into YYYYMMDD (OUT 9 bytes): "250627"
 * (YYMMDD: Binance, OKX) and "21FEB25" or "7MAR25" (DMMMYY: Bybit). 0, or -1 when S is no
 * such date. Years are 2000 to 2099. */
int sym_date_yymmdd(const char *s, size_t n, char *out);
int sym_date_dmmmyy(const char *s, size_t n, char *out);
/* YYYYMMDD written as "YYMMDD" or as Bybit's "DDMMMYY" (OUT 8 bytes). 0, or -1. */
int sym_date_to_yymmdd(const char *yyyymmdd, char *out);
int sym_date_to_ddmmmyy(const char *yyyymmdd, char *out);

/* Copies S to OUT in lower case (OUT holds n + 1 bytes). */
void sym_lower(const char *s, size_t n, char *out);

#endif
