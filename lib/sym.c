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

/* A date of eight digits YYYYMMDD that exists (2000 to 2099). */
static int valid_date(const char *s, size_t n)
{
	static const int days[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (n != 8)
		return 0;
	for (size_t i = 0; i < 8; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	int m = (s[4] - '0') * 10 + (s[5] - '0'), d = (s[6] - '0') * 10 + (s[7] - '0');
	if (y < 2000 || y > 2099 || m < 1 || m > 12 || d < 1 || d > days[m - 1])
		return 0;
	return m != 2 || d < 29 || y % 4 == 0;
}

int sym_join_contract(const char *base, size_t bl, const char *quote, size_t ql, const char *expiry,
		      char *out)
{
	char pair[SYM_MAX];
	int k = sym_join(base, bl, quote, ql, pair);
	size_t el = expiry ? strlen(expiry) : 4;
	if (k < 0 || (expiry && !valid_date(expiry, el)) || (size_t)k + 1 + el >= SYM_MAX)
		return -1;
	memcpy(out, pair, (size_t)k);
	out[k] = '-';
	memcpy(out + k + 1, expiry ? expiry : "PERP", el + 1);
	return k + 1 + (int)el;
}

int sym_split_sep(const char *s, size_t n, char sep, int quote_first, char *out)
{
	const char *p = memchr(s, sep, n);
	if (!p)
		return -1;
	size_t a = (size_t)(p - s), b = n - a - 1;
	const char *third = sep == '-' && !quote_first ? memchr(p + 1, '-', b) : NULL;
	if (third) {
		/* The relay's own spelling of a perpetual or a dated future. */
		char suffix[16];
		size_t sl = n - (size_t)(third + 1 - s);
		if (sl == 0 || sl >= sizeof suffix)
			return -1;
		for (size_t i = 0; i < sl; i++)
			suffix[i] = (third[1 + i] >= 'a' && third[1 + i] <= 'z') ? (char)(third[1 + i] - 32) : third[1 + i];
		suffix[sl] = 0;
		int perp = !strcmp(suffix, "PERP");
		if (!perp && !valid_date(suffix, sl))
			return -1;
		return sym_join_contract(s, a, p + 1, (size_t)(third - p - 1), perp ? NULL : suffix, out);
	}
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
	char expiry[9];
	return sym_parse_contract(sym, base, quote, expiry) == SYM_SPOT ? 0 : -1;
}

int sym_parse_contract(const char *sym, char *base, char *quote, char *expiry)
{
	char norm[SYM_MAX];
	size_t n = strlen(sym);
	if (sym_split_sep(sym, n, '-', 0, norm) < 0)
		return -1;
	const char *dash = strchr(norm, '-'), *third = strchr(dash + 1, '-');
	memcpy(base, norm, (size_t)(dash - norm));
	base[dash - norm] = 0;
	expiry[0] = 0;
	if (!third) {
		strcpy(quote, dash + 1);
		return SYM_SPOT;
	}
	memcpy(quote, dash + 1, (size_t)(third - dash - 1));
	quote[third - dash - 1] = 0;
	if (!strcmp(third + 1, "PERP"))
		return SYM_PERP;
	strcpy(expiry, third + 1);
	return SYM_DATED;
}

static const char months[12][4] = { "JAN", "FEB", "MAR", "APR", "MAY", "JUN",
				    "JUL", "AUG", "SEP", "OCT", "NOV", "DEC" };

int sym_date_yymmdd(const char *s, size_t n, char *out)
{
	if (n != 6)
		return -1;
	out[0] = '2';
	out[1] = '0';
	memcpy(out + 2, s, 6);
	out[8] = 0;
	return valid_date(out, 8) ? 0 : -1;
}

int sym_date_dmmmyy(const char *s, size_t n, char *out)
{
	size_t dl = n == 7 ? 2 : n == 6 ? 1 : 0;
	if (!dl)
		return -1;
	int m = -1;
	for (int i = 0; i < 12; i++) {
		size_t k;
		for (k = 0; k < 3; k++) {
			char c = s[dl + k];
			if (c >= 'a' && c <= 'z')
				c = (char)(c - 32);
			if (c != months[i][k])
				break;
		}
		if (k == 3)
			m = i + 1;
	}
	if (m < 0)
		return -1;
	out[0] = '2';
	out[1] = '0';
	out[2] = s[dl + 3];
	out[3] = s[dl + 4];
	out[4] = (char)('0' + m / 10);
	out[5] = (char)('0' + m % 10);
	out[6] = dl == 2 ? s[0] : '0';
	out[7] = s[dl - 1];
	out[8] = 0;
	return valid_date(out, 8) ? 0 : -1;
}

int sym_date_to_yymmdd(const char *yyyymmdd, char *out)
{
	if (!valid_date(yyyymmdd, strlen(yyyymmdd)))
		return -1;
	memcpy(out, yyyymmdd + 2, 6);
	out[6] = 0;
	return 0;
}

int sym_date_to_ddmmmyy(const char *yyyymmdd, char *out)
{
	if (!valid_date(yyyymmdd, strlen(yyyymmdd)))
		return -1;
	int m = (yyyymmdd[4] - '0') * 10 + (yyyymmdd[5] - '0');
	out[0] = yyyymmdd[6];
	out[1] = yyyymmdd[7];
	memcpy(out + 2, months[m - 1], 3);
	out[5] = yyyymmdd[2];
	out[6] = yyyymmdd[3];
	out[7] = 0;
	return 0;
}

void sym_lower(const char *s, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	out[n] = 0;
}
