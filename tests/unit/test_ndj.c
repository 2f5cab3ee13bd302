#include "ndj.h"
#include "unit.h"

#include <stdlib.h>
#include <unistd.h>

static void test_lines_across_reads(void)
{
	struct ndj r;
	const char *line;
	size_t len;
	CHECK_INT(ndj_init(&r, -1, 100), 0);
	ndj_feed(&r, "ab", 2);
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_AGAIN);
	ndj_feed(&r, "c\n\r\nde\r\nf", 9);
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_LINE);
	CHECK(len == 3 && !memcmp(line, "abc", 3));
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_LINE); /* the empty "\r" line is skipped */
	CHECK(len == 2 && !memcmp(line, "de", 2));
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_AGAIN);
	ndj_feed(&r, "", 0); /* end of input: the last line needs no newline */
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_LINE);
	CHECK(len == 1 && line[0] == 'f');
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_EOF);
	ndj_free(&r);
}

static void test_too_long(void)
{
	struct ndj r;
	const char *line;
	size_t len;
	char big[300];
	memset(big, 'x', sizeof big);
	CHECK_INT(ndj_init(&r, -1, 100), 0);
	ndj_feed(&r, "ok\n", 3);
	ndj_feed(&r, big, 150); /* no newline yet, already over the limit */
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_LINE);
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_TOOLONG);
	ndj_feed(&r, big, 300); /* the rest of the long line is skipped as it arrives */
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_AGAIN);
	ndj_feed(&r, "xxx\nnext\n", 9);
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_LINE);
	CHECK(len == 4 && !memcmp(line, "next", 4));
	CHECK_INT(r.too_long, 1);
	/* A long line that arrives whole, newline included. */
	ndj_feed(&r, big, 120);
	ndj_feed(&r, "\nafter\n", 7);
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_TOOLONG);
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_LINE);
	CHECK(len == 5 && !memcmp(line, "after", 5));
	/* Exactly the limit is accepted. */
	ndj_feed(&r, big, 100);
	ndj_feed(&r, "\n", 1);
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_LINE);
	CHECK_INT(len, 100);
	CHECK_INT(r.too_long, 2);
	ndj_free(&r);
}

static void test_from_fd(void)
{
	int p[2];
	struct ndj r;
	const char *line;
	size_t len;
	CHECK_INT(pipe(p), 0);
	CHECK_INT(write(p[1], "one\ntwo", 7), 7);
	close(p[1]);
	CHECK_INT(ndj_init(&r, p[0], 1000), 0);
	CHECK(ndj_fill(&r) == 7);
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_LINE);
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_AGAIN);
	CHECK(ndj_fill(&r) == 0);
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_LINE);
	CHECK(len == 3 && !memcmp(line, "two", 3));
	CHECK_INT(ndj_next(&r, &line, &len), NDJ_EOF);
	ndj_free(&r);
	close(p[0]);
}

UNIT_SUITE(ndj_tests) = {
	{ "ndj: lines split across reads, CRLF, last line at EOF", test_lines_across_reads },
	{ "ndj: over-long lines are skipped whole and counted", test_too_long },
	{ "ndj: reading a pipe", test_from_fd },
	{ NULL, NULL },
};
