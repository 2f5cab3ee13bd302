/* Runs every unit test table and prints TAP. */
#include "unit.h"

#include <signal.h>

int unit_failed;

extern const struct unit_test dec_tests[], json_tests[], sym_tests[], ndj_tests[], clock_tests[],
	met_tests[], oq_tests[], jw_tests[], norm_tests[], book_tests[], xch_tests[], b64url_tests[],
	resolve_tests[];

int main(void)
{
	const struct unit_test *suites[] = { dec_tests, json_tests, sym_tests, ndj_tests, clock_tests,
					     met_tests, oq_tests,  jw_tests,  norm_tests, book_tests,
					     xch_tests, b64url_tests, resolve_tests };
	int n = 0, failed = 0;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++)
		for (const struct unit_test *t = suites[s]; t->name; t++)
			n++;
	printf("1..%d\n", n);
	n = 0;
	for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++)
		for (const struct unit_test *t = suites[s]; t->name; t++) {
			unit_failed = 0;
			t->fn();
			printf("%s %d - %s\n", unit_failed ? "not ok" : "ok", ++n, t->name);
			failed += unit_failed != 0;
		}
	return failed ? 1 : 0;
}
