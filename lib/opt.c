#include "opt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int opt_long(const char *s, long long min, long long max, long long *out, char *errbuf,
	     size_t errlen)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno == ERANGE || (end != s && !*end && (v < min || v > max))) {
		snprintf(errbuf, errlen, "%.40s is out of range (%lld-%lld)", s, min, max);
		return -1;
	}
	if (errno || end == s || *end) {
		snprintf(errbuf, errlen, "\"%.40s\" is not a whole number (%lld-%lld)", s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

const char *opt_name(const struct option *longopts, int c, char *buf, size_t size)
{
	for (const struct option *o = longopts; o && o->name; o++)
		if (!o->flag && o->val == c) {
			snprintf(buf, size, "--%s", o->name);
			return buf;
		}
	snprintf(buf, size, "-%c", c);
	return buf;
}
