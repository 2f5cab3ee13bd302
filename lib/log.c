#include "log.h"
#include "clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *log_tool = "?";
static enum log_level log_min = LOG_INFO;
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_init(const char *tool)
{
	const char *env = getenv("LOG_LEVEL");
	log_tool = tool;
	if (env) {
		for (int i = LOG_DEBUG; i <= LOG_ERROR; i++)
			if (!strcasecmp(env, level_names[i]))
				log_min = (enum log_level)i;
		if (!strcasecmp(env, "warning"))
			log_min = LOG_WARN;
	}
}

void log_set_level(enum log_level level) { log_min = level; }
int log_enabled(enum log_level level) { return level >= log_min; }

const char *log_quote(char *buf, size_t size, const char *s, size_t len)
{
	size_t o = 0;
	if (size < 3) {
		if (size)
			buf[0] = 0;
		return buf;
	}
	buf[o++] = '"';
	for (size_t i = 0; i < len && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o++] = '"';
	buf[o] = 0;
	return buf;
}

void log_write(enum log_level level, const char *msg, const char *kvfmt, ...)
{
	char line[2048], q[512], stamp[40];
	struct tm tm;
	int64_t now = clk_now_us();
	time_t secs = (time_t)(now / 1000000);
	size_t n;

	if (level < log_min)
		return;
	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	n = (size_t)snprintf(line, sizeof line, "ts=%s.%03dZ level=%s tool=%s msg=%s", stamp,
			     (int)(now / 1000 % 1000), level_names[level], log_tool,
			     log_quote(q, sizeof q, msg, strlen(msg)));
	if (kvfmt && n < sizeof line) {
		va_list ap;
		va_start(ap, kvfmt);
		int k = vsnprintf(line + n, sizeof line - n, kvfmt, ap);
		va_end(ap);
		if (k > 0)
			n += (size_t)k;
	}
	if (n >= sizeof line - 1)
		n = sizeof line - 2;
	line[n++] = '\n';
	/* One write per line so lines from several processes sharing stderr do not interleave. */
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}

long log_allow(struct log_limit *rl, int64_t now_us)
{
	const int64_t period = 10 * 1000000;
	const unsigned burst = 5;
	if (now_us - rl->window_start >= period) {
		rl->window_start = now_us;
		rl->in_window = 0;
	}
	if (rl->in_window >= burst) {
		rl->suppressed++;
		return -1;
	}
	rl->in_window++;
	long s = (long)rl->suppressed;
	rl->suppressed = 0;
	return s;
}
