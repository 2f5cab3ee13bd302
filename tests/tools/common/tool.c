/* tool.c: the log and the latency histogram of the WebSocket test clients. */
#include "tool.h"

#include "clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct hist hist;

static const char *const lv_names[] = { "debug", "info", "warn", "error" };
static int log_level = LV_INFO;
static const char *tool_name = "tool";

void
tool_log_init(const char *tool)
{
	const char *s = getenv("LOG_LEVEL");
	int i;

	tool_name = tool;
	if (!s)
		return;
	for (i = 0; i <= LV_ERROR; i++)
		if (!strcasecmp(s, lv_names[i]))
			log_level = i;
}

static int
plain_word(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s == '"' || *s == '=' || *s == '\\' ||
		    *s == 0x7f)
			return 0;
	return 1;
}

void
logm(int lv, const char *msg, const char *kvfmt, ...)
{
	char line[2048], tbuf[40];
	size_t o;
	int64_t now;
	time_t secs;
	struct tm tm;
	va_list ap;
	int n;

	if (lv < log_level)
		return;
	now = clk_now_us();
	secs = (time_t)(now / 1000000);
	gmtime_r(&secs, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "ts=%s.%03dZ level=%s tool=%s msg=",
		     tbuf, (int)(now / 1000 % 1000), lv_names[lv], tool_name);
	o = (size_t)n;
	if (plain_word(msg)) {
		n = snprintf(line + o, sizeof(line) - o, "%s", msg);
		o += (size_t)n < sizeof(line) - o ? (size_t)n : sizeof(line) - o - 1;
	} else {
		line[o++] = '"';
		for (; *msg && o + 8 < sizeof(line); msg++) {
			if (*msg == '"' || *msg == '\\')
				line[o++] = '\\';
			line[o++] = (*msg == '\n' || *msg == '\r') ? ' ' : *msg;
		}
		line[o++] = '"';
	}
	if (kvfmt && *kvfmt && o + 2 < sizeof(line)) {
		line[o++] = ' ';
		va_start(ap, kvfmt);
		n = vsnprintf(line + o, sizeof(line) - o - 1, kvfmt, ap);
		va_end(ap);
		if (n > 0)
			o += (size_t)n < sizeof(line) - o - 1 ? (size_t)n :
				sizeof(line) - o - 2;
	}
	line[o++] = '\n';
	fwrite(line, 1, o, stderr);
}

const char *
lq(char *buf, size_t size, const char *s, size_t n)
{
	size_t o = 0, i;

	buf[o++] = '"';
	for (i = 0; i < n && o + 4 < size; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			buf[o++] = ' ';
		} else {
			buf[o++] = (char)ch;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* The highest value that falls into bucket i. */
static int64_t
h_upper(unsigned i)
{
	unsigned shift;

	if (i < 2 * H_SUB)
		return i;
	shift = i / H_SUB - 1;
	return ((int64_t)(i - H_SUB * shift) << shift) + ((1LL << shift) - 1);
}

int64_t
h_pct(double p)
{
	uint64_t rank, seen = 0;
	unsigned i;
	int64_t v;

	if (!hist.count)
		return 0;
	rank = (uint64_t)(p * (double)hist.count + 0.999999);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < H_BUCKETS; i++) {
		seen += hist.b[i];
		if (seen >= rank) {
			v = h_upper(i);
			return v > hist.max ? hist.max : v;
		}
	}
	return hist.max;
}
