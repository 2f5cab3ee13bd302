#include "clock.h"

#include <time.h>

int64_t clk_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clk_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clk_epoch_to_us(int64_t v)
{
	/* 1e9 s is 2001-09-09; 1e10 s is 2286. Each unit owns a factor-of-1000 band. */
	if (v >= 1000000000LL && v < 10000000000LL)
		return v * 1000000;
	if (v >= 1000000000000LL && v < 10000000000000LL)
		return v * 1000;
	if (v >= 1000000000000000LL && v < 10000000000000000LL)
		return v;
	if (v >= 1000000000000000000LL)
		return v / 1000;
	return -1;
}

static int digits(const char *s, size_t len, size_t *i, int n, int *out)
{
	int v = 0;
	for (int k = 0; k < n; k++, (*i)++) {
		if (*i >= len || s[*i] < '0' || s[*i] > '9')
			return -1;
		v = v * 10 + (s[*i] - '0');
	}
	*out = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int clk_parse_rfc3339(const char *s, size_t len, int64_t *out)
{
	size_t i = 0;
	int y, mo, d, h, mi, sec, oh, om;
	int64_t frac = 0;
	int fd = 0;

	if (digits(s, len, &i, 4, &y) || i >= len || s[i++] != '-' || digits(s, len, &i, 2, &mo) ||
	    i >= len || s[i++] != '-' || digits(s, len, &i, 2, &d) || i >= len ||
	    (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
		return -1;
	i++;
	if (digits(s, len, &i, 2, &h) || i >= len || s[i++] != ':' || digits(s, len, &i, 2, &mi) ||
	    i >= len || s[i++] != ':' || digits(s, len, &i, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	if (i < len && s[i] == '.') {
		i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return -1;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (fd < 6) {
				frac = frac * 10 + (s[i] - '0');
				fd++;
			}
			i++;
		}
		while (fd < 6) {
			frac *= 10;
			fd++;
		}
	}
	int64_t offset = 0;
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i++] == '-' ? -1 : 1;
		if (digits(s, len, &i, 2, &oh) || i >= len || s[i++] != ':' || digits(s, len, &i, 2, &om))
			return -1;
		offset = sign * (int64_t)(oh * 3600 + om * 60);
	} else {
		return -1;
	}
	if (i != len)
		return -1;
	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
	*out = t * 1000000 + frac;
	return 0;
}

int clk_parse_epoch(const char *s, size_t len, int64_t *out)
{
	size_t i = 0;
	int64_t ip = 0;
	int nd = 0;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		if (++nd > 19 || ip > (INT64_MAX - (s[i] - '0')) / 10)
			return -1;
		ip = ip * 10 + (s[i++] - '0');
	}
	if (!nd)
		return -1;
	int64_t us = clk_epoch_to_us(ip);
	if (us < 0)
		return -1;
	/* The unit is whatever turned the integer part into µs: 10^6, 10^3, 1 or 10^-3. */
	int64_t unit = ip ? us / ip : 0;
	if (i < len && s[i] == '.') {
		int64_t frac = 0, scale = 1;
		i++;
		if (i >= len)
			return -1;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (scale < 1000000000) {
				frac = frac * 10 + (s[i] - '0');
				scale *= 10;
			}
			i++;
		}
		if (unit > 0)
			us += frac * unit / scale;
	}
	if (i != len)
		return -1;
	*out = us;
	return 0;
}
