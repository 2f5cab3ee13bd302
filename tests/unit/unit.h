/* unit.h: a minimal test harness for lib/ that prints TAP, one line per test function. */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>

extern int unit_failed; /* checks failed in the current test */

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			printf("#   %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			unit_failed++;                                               \
		}                                                                    \
	} while (0)

#define CHECK_STR(got, want)                                                         \
	do {                                                                         \
		const char *g_ = (got), *w_ = (want);                                \
		if (strcmp(g_, w_)) {                                                \
			printf("#   %s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, g_, w_); \
			unit_failed++;                                               \
		}                                                                    \
	} while (0)

#define CHECK_INT(got, want)                                                         \
	do {                                                                         \
		long long g_ = (long long)(got), w_ = (long long)(want);             \
		if (g_ != w_) {                                                      \
			printf("#   %s:%d: %s = %lld, want %lld\n", __FILE__, __LINE__, #got, g_, w_); \
			unit_failed++;                                               \
		}                                                                    \
	} while (0)

struct unit_test {
	const char *name;
	void (*fn)(void);
};

/* Each test file defines a table ending with {NULL, NULL}. */
#define UNIT_SUITE(name) const struct unit_test name[]

#endif
