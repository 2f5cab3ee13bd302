#include "dec.h"

#include <string.h>

int dec_canon(const char *s, size_t n, char *out)
{
	size_t i = 0;
	int neg = 0;
	const char *ip, *fp;
	size_t il = 0, fl = 0;
	long exp = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	ip = s + i;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, il++;
	fp = s + i;
	if (i < n && s[i] == '.') {
		i++;
		fp = s + i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, fl++;
	}
	if (il + fl == 0)
		return -1;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		int eneg = 0;
		size_t ed = 0;
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			eneg = s[i++] == '-';
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (exp < 100000)
				exp = exp * 10 + (s[i] - '0');
			i++, ed++;
		}
		if (!ed)
			return -1;
		if (eneg)
			exp = -exp;
	}
	if (i != n)
		return -1;

	/* The digit string is ip[0..il) fp[0..fl); the point sits after il + exp digits.
	 * Trim leading and trailing zeros of the combined digit string, tracking the point. */
	char dig[2 * DEC_MAX];
	size_t nd = 0;
	long point = (long)il + exp; /* position of the decimal point within dig */
	size_t k = 0;
	/* Skip leading zeros. */
	while (k < il && ip[k] == '0')
		k++, point--;
	size_t fk = 0;
	if (k == il)
		while (fk < fl && fp[fk] == '0')
			fk++, point--;
	/* Trailing zeros of the fraction are dropped later, once we know where the point is. */
	size_t total = (il - k) + (fl - fk);
	if (total >= sizeof dig)
		return -1;
	for (; k < il; k++)
		dig[nd++] = ip[k];
	for (; fk < fl; fk++)
		dig[nd++] = fp[fk];
	while (nd && dig[nd - 1] == '0' && (long)nd > point)
		nd--;
	if (nd == 0) {
		out[0] = '0';
		out[1] = 0;
		return 1;
	}
	/* Output: integer part = dig[0..point) padded with zeros, fraction = the rest. */
	size_t len = 0;
	long int_digits = point > 0 ? point : 0;
	long lead_zeros = point < 0 ? -point : 0;
	long frac_digits = (long)nd - int_digits;
	if (frac_digits < 0)
		frac_digits = 0;
	long need = neg + (int_digits ? int_digits : 1) + (frac_digits ? 1 + lead_zeros + frac_digits : 0);
	if (need > DEC_MAX - 1)
		return -1;
	if (neg)
		out[len++] = '-';
	if (int_digits) {
		for (long d = 0; d < int_digits; d++)
			out[len++] = d < (long)nd ? dig[d] : '0';
	} else {
		out[len++] = '0';
	}
	if (frac_digits) {
		out[len++] = '.';
		for (long z = 0; z < lead_zeros; z++)
			out[len++] = '0';
		for (long d = int_digits; d < (long)nd; d++)
			out[len++] = dig[d];
	}
	out[len] = 0;
	return (int)len;
}

int dec_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int na = an && a[0] == '-', nb = bn && b[0] == '-';
	if (na != nb)
		return na ? -1 : 1;
	const char *ad = memchr(a, '.', an), *bd = memchr(b, '.', bn);
	size_t ai = (ad ? (size_t)(ad - a) : an) - (size_t)na;
	size_t bi = (bd ? (size_t)(bd - b) : bn) - (size_t)nb;
	int r;
	if (ai != bi) {
		r = ai < bi ? -1 : 1;
	} else {
		r = memcmp(a + na, b + nb, ai);
		if (!r) {
			const char *af = ad ? ad + 1 : "", *bf = bd ? bd + 1 : "";
			size_t afl = ad ? an - (size_t)(ad - a) - 1 : 0, bfl = bd ? bn - (size_t)(bd - b) - 1 : 0;
			size_t m = afl < bfl ? afl : bfl;
			r = memcmp(af, bf, m);
			if (!r && afl != bfl)
				r = afl < bfl ? -1 : 1;
		}
	}
	if (r)
		r = r < 0 ? -1 : 1;
	return na ? -r : r;
}

/* One operand of dec_sub and dec_mul: sign, integer digits and fraction digits. */
struct operand {
	int neg;
	const char *ip, *fp;
	size_t il, fl;
};

static struct operand operand(const char *s, size_t n)
{
	struct operand x;
	x.neg = n && s[0] == '-';
	s += x.neg;
	n -= (size_t)x.neg;
	const char *dot = memchr(s, '.', n);
	x.ip = s;
	x.il = dot ? (size_t)(dot - s) : n;
	x.fp = dot ? dot + 1 : s + n;
	x.fl = dot ? n - x.il - 1 : 0;
	return x;
}

int dec_sub(const char *a, size_t an, const char *b, size_t bn, char *out)
{
	struct operand x[2] = { operand(a, an), operand(b, bn) };
	x[1].neg = !x[1].neg; /* A + (-B) */
	size_t il = x[0].il > x[1].il ? x[0].il : x[1].il;
	size_t fl = x[0].fl > x[1].fl ? x[0].fl : x[1].fl;
	size_t nd = il + fl + 1; /* digits, one more for a carry; the point after 1 + il */
	if (nd + 3 > DEC_MAX)    /* room for the sign, the point and the NUL too */
		return -1;
	/* Both operands aligned on the point, one digit a byte. */
	unsigned char v[2][DEC_MAX];
	for (int k = 0; k < 2; k++) {
		memset(v[k], 0, nd);
		for (size_t j = 0; j < x[k].il; j++)
			v[k][1 + il - x[k].il + j] = (unsigned char)(x[k].ip[j] - '0');
		for (size_t j = 0; j < x[k].fl; j++)
			v[k][1 + il + j] = (unsigned char)(x[k].fp[j] - '0');
	}
	unsigned char r[DEC_MAX];
	int neg;
	if (x[0].neg == x[1].neg) {
		int carry = 0;
		for (size_t j = nd; j-- > 0;) {
			int t = v[0][j] + v[1][j] + carry;
			r[j] = (unsigned char)(t % 10);
			carry = t / 10;
		}
		neg = x[0].neg;
	} else {
		/* The smaller magnitude from the larger; the sign is the larger's. */
		int big = memcmp(v[0], v[1], nd) >= 0 ? 0 : 1, borrow = 0;
		for (size_t j = nd; j-- > 0;) {
			int t = v[big][j] - v[!big][j] - borrow;
			borrow = t < 0;
			r[j] = (unsigned char)(t < 0 ? t + 10 : t);
		}
		neg = x[big].neg;
	}
	/* Canonical: no leading zeros but the units digit, no trailing fraction zeros, no "-0". */
	size_t start = 0, end = nd;
	while (start < il && r[start] == 0)
		start++;
	while (end > 1 + il && r[end - 1] == 0)
		end--;
	size_t o = 0;
	int zero = 1;
	for (size_t j = start; j < end; j++)
		zero &= r[j] == 0;
	if (neg && !zero)
		out[o++] = '-';
	for (size_t j = start; j < 1 + il; j++)
		out[o++] = (char)('0' + r[j]);
	if (end > 1 + il) {
		out[o++] = '.';
		for (size_t j = 1 + il; j < end; j++)
			out[o++] = (char)('0' + r[j]);
	}
	out[o] = 0;
	return (int)o;
}

/* When X is plus or minus a power of ten, sets *E to its exponent (10^E) and returns 1. */
static int power_of_ten(const struct operand *x, long *e)
{
	int found = 0;
	for (size_t j = 0; j < x->il + x->fl; j++) {
		char c = j < x->il ? x->ip[j] : x->fp[j - x->il];
		if (c == '0')
			continue;
		if (c != '1' || found)
			return 0;
		found = 1;
		*e = j < x->il ? (long)(x->il - 1 - j) : -(long)(j - x->il + 1);
	}
	return found;
}

/* X x 10^E, negative when NEG, in canonical form into OUT; its length, or -1 when too long.
 * X's digits (integer, then fraction) are D; the point moves to after IL + E of them, and
 * the zeros outside D are written as needed. */
static int shifted(const struct operand *x, int neg, long e, char *out)
{
	char d[2 * DEC_MAX];
	long nd = (long)(x->il + x->fl), point = (long)x->il + e, start = 0, end = nd;
	if (nd > (long)sizeof d)
		return -1;
	memcpy(d, x->ip, x->il);
	memcpy(d + x->il, x->fp, x->fl);
	while (start < nd && d[start] == '0')
		start++;
	while (end > start && d[end - 1] == '0')
		end--;
	if (start == end) {
		out[0] = '0';
		out[1] = 0;
		return 1;
	}
	long ints = start < point ? point - start : 0, fracs = end > point ? end - point : 0;
	long need = neg + (ints ? ints : 1) + (fracs ? 1 + fracs : 0);
	if (need > DEC_MAX - 1)
		return -1;
	char *o = out;
	if (neg)
		*o++ = '-';
	if (!ints) {
		*o++ = '0';
	} else {
		long have = (end < point ? end : point) - start; /* digits of D before the point */
		memcpy(o, d + start, (size_t)have);
		memset(o + have, '0', (size_t)(ints - have));
		o += ints;
	}
	if (fracs) {
		*o++ = '.';
		long zeros = start > point ? start - point : 0, from = start > point ? start : point;
		memset(o, '0', (size_t)zeros);
		memcpy(o + zeros, d + from, (size_t)(end - from));
		o += fracs;
	}
	*o = 0;
	return (int)(o - out);
}

int dec_pow10(const char *b, size_t bn, long *e)
{
	struct operand x = operand(b, bn);
	return !x.neg && power_of_ten(&x, e);
}

int dec_shift(const char *a, size_t an, long e, char *out)
{
	struct operand x = operand(a, an);
	if (e > DEC_MAX || e < -DEC_MAX)
		return -1;
	return shifted(&x, x.neg, e, out);
}

int dec_mul(const char *a, size_t an, const char *b, size_t bn, char *out)
{
	struct operand x[2] = { operand(a, an), operand(b, bn) };
	/* A contract size is most often a power of ten: the product is the other operand with
	 * its point moved by the exponent. */
	long e;
	int p = power_of_ten(&x[1], &e) ? 0 : power_of_ten(&x[0], &e) ? 1 : -1;
	if (p >= 0)
		return shifted(&x[p], x[0].neg != x[1].neg, e, out);
	/* Each operand as one digit string (integer digits, then fraction digits). */
	unsigned char v[2][DEC_MAX];
	size_t len[2], nz[2] = { 0, 0 };
	for (int k = 0; k < 2; k++) {
		len[k] = x[k].il + x[k].fl;
		if (len[k] > DEC_MAX)
			return -1;
		for (size_t j = 0; j < x[k].il; j++)
			v[k][j] = (unsigned char)(x[k].ip[j] - '0');
		for (size_t j = 0; j < x[k].fl; j++)
			v[k][x[k].il + j] = (unsigned char)(x[k].fp[j] - '0');
		for (size_t j = 0; j < len[k]; j++)
			nz[k] += v[k][j] != 0;
	}
	/* The operand with fewer non-zero digits drives the loop. */
	int s = nz[1] <= nz[0] ? 1 : 0, l = !s;
	size_t nd = len[0] + len[1], fl = x[0].fl + x[1].fl;
	unsigned acc[2 * DEC_MAX];
	memset(acc, 0, nd * sizeof acc[0]);
	/* Digit i of the long one times digit j of the short one lands in column i + j + 1
	 * (column 0 takes the last carry). Columns hold at most 81 x DEC_MAX: no overflow. */
	for (size_t j = 0; j < len[s]; j++) {
		unsigned d = v[s][j];
		if (!d)
			continue;
		for (size_t i = 0; i < len[l]; i++)
			acc[i + j + 1] += d * v[l][i];
	}
	for (size_t c = nd; c-- > 1;) {
		acc[c - 1] += acc[c] / 10;
		acc[c] %= 10;
	}
	/* Canonical: the point sits before the last FL digits. */
	size_t ip = nd - fl, start = 0, end = nd;
	while (start < ip && acc[start] == 0)
		start++;
	while (end > ip && acc[end - 1] == 0)
		end--;
	int zero = start == end;
	size_t need = (size_t)(x[0].neg != x[1].neg && !zero) + (start < ip ? ip - start : 1) +
		      (end > ip ? 1 + end - ip : 0);
	if (need > DEC_MAX - 1)
		return -1;
	size_t o = 0;
	if (x[0].neg != x[1].neg && !zero)
		out[o++] = '-';
	if (start == ip)
		out[o++] = '0';
	for (size_t c = start; c < ip; c++)
		out[o++] = (char)('0' + acc[c]);
	if (end > ip) {
		out[o++] = '.';
		for (size_t c = ip; c < end; c++)
			out[o++] = (char)('0' + acc[c]);
	}
	out[o] = 0;
	return (int)o;
}
