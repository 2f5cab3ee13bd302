/*
 * tool.h: the logfmt log and the latency histogram of the WebSocket test
 * clients (wsclient, wsload), so both write the same lines and the same
 * figures; ws.h has the rest they share.  Linked into every test tool (see
 * the Makefile).
 */
#ifndef TESTS_TOOLS_TOOL_H
#define TESTS_TOOLS_TOOL_H

#include <stdint.h>
#include <stddef.h>

/* ---- logging ---- */

enum { LV_DEBUG, LV_INFO, LV_WARN, LV_ERROR };

/* Names the tool in every line and takes LOG_LEVEL (debug|info|warn|error,
 * default info) from the environment. */
void tool_log_init(const char *tool);

/* One logfmt line on stderr: ts, level, tool, msg, then the caller's
 * key=value pairs (kvfmt may be NULL); values with spaces are quoted by the
 * caller with lq().  A msg that is one plain word is written unquoted, so an
 * event line reads `... msg=closed client=3 code=1001 reason="bye"` and tests
 * grep `closed client=3 code=1001` in either tool's log. */
__attribute__((format(printf, 3, 4)))
void logm(int lv, const char *msg, const char *kvfmt, ...);

/* Quotes s (n bytes) as a logfmt value into buf, truncated to fit. */
const char *lq(char *buf, size_t size, const char *s, size_t n);

/* ---- latency histogram ----
 *
 * Log-linear buckets: values below 128 us are exact; above, each power of
 * two is split in 64 buckets (relative error < 1.6%).  Values are clamped at
 * 2^27 us (~134 s).  Percentiles are the upper bound of their bucket, the
 * maximum is exact.  One per tool. */
#define H_SUB_BITS	6
#define H_SUB		(1 << H_SUB_BITS)		/* 64 */
#define H_CLAMP		((1LL << 27) - 1)
#define H_BUCKETS	(H_SUB * (27 - H_SUB_BITS) + 2 * H_SUB)

extern struct hist {
	uint64_t b[H_BUCKETS];
	uint64_t count;
	int64_t max;
} hist;

static inline unsigned
h_index(int64_t v)
{
	unsigned msb, shift;

	if (v < 2 * H_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll((unsigned long long)v);
	shift = msb - H_SUB_BITS;
	return H_SUB * shift + (unsigned)(v >> shift);
}

/* Counts one latency in us (per message: inline). */
static inline void
h_add(int64_t v)
{
	if (v < 0)
		v = 0;
	if (v > hist.max)
		hist.max = v;
	if (v > H_CLAMP)
		v = H_CLAMP;
	hist.b[h_index(v)]++;
	hist.count++;
}

/* The p-th quantile (0 < p <= 1), 0 when nothing was counted. */
int64_t h_pct(double p);

#endif
