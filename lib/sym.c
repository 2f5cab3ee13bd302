#include "sym.h"

#include <string.h>

/* Quote assets recognised at the end of concatenated symbols, longest first so that
 * "BTCUSDT" reads as BTC-USDT and not BTCU-SDT. */
static const char *const quotes[] = {
	"FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "USDE", "EURI", "AEUR", "BIDR", "DOGE",
	"DAI",   "USD",  "EUR",  "GBP",  "TRY",  "BRL",  "AUD",  "JPY",  "KRW",  "RUB",  "UAH",
	"IDR",   "ZAR",  "PLN",  "RON",  "ARS",  "MXN",  "CZK",  "BTC",  "ETH",  "BNB",  "XRP",
	"TRX",   "SOL",  "DOT",
};

/* Exchange-specific asset names mapped to the common one. */
static const struct {
	const char *from, *to;
} aliases[] = {
	{ "XBT", "BTC" },
	{ "XDG", "DOGE" },
};

static int put_part(const char *s, size_t n, char *out, size_t *o)
{
	char tmp[SYM_MAX];
	if (n == 0 || n >= SYM_MAX / 2)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return -1;
		tmp[i] = c;
	}
	tmp[n] = 0;
	for (size_t a = 0; a < sizeof aliases / sizeof aliases[0]; a++)
		if (!strcmp(tmp, aliases[a].from)) {
			n = strlen(aliases[a].to);
			memcpy(tmp, aliases[a].to, n);
		}
	memcpy(out + *o, tmp, n);
	*o += n;
	return 0;
}

int sym_join(const char *base, size_t bl, const char *quote, size_t ql, char *out)
{
	size_t o = 0;
	if (put_part(base, bl, out, &o))
		return -1;
	out[o++] = '-';
	if (put_part(quote, ql, out, &o))
		return -1;
	out[o] = 0;
	return (int)o;
}

int sym_split_sep(const char *s, size_t n, char sep, int quote_first, char *out)
{
	const char *p = memchr(s, sep, n);
	if (!p)
		return -1;
	size_t a = (size_t)(p - s), b = n - a - 1;
	if (quote_first)
		return sym_join(p + 1, b, s, a, out);
	return sym_join(s, a, p + 1, b, out);
}

int sym_split_concat(const char *s, size_t n, char *out)
{
	for (size_t q = 0; q < sizeof quotes / sizeof quotes[0]; q++) {
		size_t ql = strlen(quotes[q]);
		if (n <= ql)
			continue;
		size_t k;
		for (k = 0; k < ql; k++) {
			char c = s[n - ql + k];
			if (c >= 'a' && c <= 'z')
				c = (char)(c - 'a' + 'A');
			if (c != quotes[q][k])
				break;
		}
		if (k == ql)
			return sym_join(s, n - ql, s + n - ql, ql, out);
	}
	return -1;
}

int sym_parse(const char *sym, char *base, char *quote)
{
	char norm[SYM_MAX];
	size_t n = strlen(sym);
	if (sym_split_sep(sym, n, '-', 0, norm) < 0)
		return -1;
	const char *dash = strchr(norm, '-');
	memcpy(base, norm, (size_t)(dash - norm));
	base[dash - norm] = 0;
	strcpy(quote, dash + 1);
	return 0;
}

void sym_lower(const char *s, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	out[n] = 0;
}
