/* clock.h: microsecond clocks and conversion of exchange timestamps to microseconds. */
#ifndef CLOCK_H
#define CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Wall-clock time in microseconds since the Unix epoch. */
int64_t clk_now_us(void);
/* Monotonic time in microseconds, for timeouts and rates. */
int64_t clk_mono_us(void);

/* Converts an epoch timestamp in s, ms, µs or ns to µs, telling the unit by its magnitude
 * (any date between 2001 and 2286 is recognised in every unit). Returns -1 for values
 * that fit no unit (negative, or too small to be a date in seconds). */
int64_t clk_epoch_to_us(int64_t v);

/* Parses an epoch time written as digits with an optional fraction ("1606292218213.4578"
 * ms, "1700000000.5" s), telling the unit by the integer part's magnitude as
 * clk_epoch_to_us does. Returns 0 and sets *out (µs), or -1. */
int clk_parse_epoch(const char *s, size_t len, int64_t *out);

/* Parses an RFC 3339 / ISO 8601 UTC time ("2024-05-01T12:00:00.123456789Z", offsets
 * allowed) into µs since the epoch; fractional digits past µs are truncated.
 * Returns 0 and sets *out, or -1 when S is not such a time. */
int clk_parse_rfc3339(const char *s, size_t len, int64_t *out);

#endif
