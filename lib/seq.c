/* seq.c: stream positions at the end of a line. */
#include "seq.h"

#include <stdio.h>
#include <string.h>

int64_t seq_of_line(const char *line, size_t len)
{
	/* Read backwards from the closing brace: digits, then ,"seq": */
	if (len < 9 || line[len - 1] != '}')
		return -1;
	size_t i = len - 1;
	int64_t v = 0, mul = 1;
	int digits = 0;
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9') {
		if (++digits > 16)
			return -1;
		v += (line[i - 1] - '0') * mul;
		mul *= 10;
		i--;
	}
	if (!digits || i < 7 || memcmp(line + i - 7, ",\"seq\":", 7) || v >= SEQ_MAX)
		return -1;
	return v;
}

long seq_body_len(const char *line, size_t len)
{
	if (!len || line[len - 1] != '}')
		return -1;
	if (seq_of_line(line, len) < 0)
		return (long)len - 1;
	const char *p = line + len - 1;
	while (*--p != ',')
		;
	return (long)(p - line);
}

size_t seq_suffix(char *out, int64_t seq)
{
	return (size_t)snprintf(out, SEQ_SUFFIX_MAX, ",\"seq\":%lld}", (long long)seq);
}
