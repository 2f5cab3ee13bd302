/* log.h: logfmt diagnostics on stderr, one line per event, filtered by LOG_LEVEL. */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Remembers the tool name and reads LOG_LEVEL (debug|info|warn|error, default info). */
void log_init(const char *tool);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

/* Writes `ts=... level=... tool=... msg="MSG"` followed by the caller's key=value pairs
 * (KVFMT is printf-style and should start with a space, or be NULL). */
void log_write(enum log_level level, const char *msg, const char *kvfmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Quotes and escapes S for use as a logfmt value; returns BUF. */
const char *log_quote(char *buf, size_t size, const char *s, size_t len);

/* Rate limit for a repeated message: at most `burst` lines per `period_us`;
 * the first line after a quiet period reports how many were suppressed. */
struct log_limit {
	int64_t window_start;
	unsigned in_window;
	unsigned long suppressed;
};
/* Returns the number suppressed since the last line (>= 0) when the caller may log now,
 * or -1 when the line must be suppressed. */
long log_allow(struct log_limit *rl, int64_t now_us);

#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_write(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)  log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
