/* lib/resolve.c: lookups on threads of their own. */
#include "resolve.h"
#include "unit.h"

#include <unistd.h>

/* Asks until the lookup answers (5 s at most); its last answer. */
static int settle(struct lookup *l, const char *host, char *addr, size_t n, char *err, size_t en)
{
	int got = 0;
	for (int i = 0; i < 500 && !(got = lookup_addr(l, host, addr, n, err, en)); i++)
		usleep(10000);
	return got;
}

static void test_numeric(void)
{
	struct lookup l = { 0 };
	char addr[64], err[320];
	CHECK_INT(lookup_addr(&l, "127.0.0.1", addr, sizeof addr, err, sizeof err), 1);
	CHECK_STR(addr, "127.0.0.1");
	CHECK_INT(lookup_addr(&l, "::1", addr, sizeof addr, err, sizeof err), 1);
	CHECK_STR(addr, "::1");
	CHECK(l.r == NULL);
	CHECK_INT(lookup_elapsed(&l), 0);
}

static void test_name(void)
{
	struct lookup l = { 0 };
	char addr[64] = "", err[320];
	CHECK_INT(settle(&l, "localhost", addr, sizeof addr, err, sizeof err), 1);
	CHECK_STR(addr, "127.0.0.1"); /* IPv4 first */
	CHECK(l.r == NULL);
	/* asked again: a fresh lookup, and an answer */
	CHECK_INT(settle(&l, "localhost", addr, sizeof addr, err, sizeof err), 1);
	for (int i = 0; i < 100 && lookup_threads(); i++)
		usleep(10000);
	CHECK_INT(lookup_threads(), 0);
}

static void test_cancel(void)
{
	struct lookup l = { 0 };
	char addr[64], err[320];
	int got = lookup_addr(&l, "localhost", addr, sizeof addr, err, sizeof err);
	CHECK(got == 0 || got == 1);
	lookup_cancel(&l); /* the thread ends on its own and frees what it shares */
	CHECK(l.r == NULL);
	for (int i = 0; i < 100 && lookup_threads(); i++)
		usleep(10000);
	CHECK_INT(lookup_threads(), 0);
	/* a name given instead of the one being looked up starts over */
	lookup_addr(&l, "localhost", addr, sizeof addr, err, sizeof err);
	CHECK_INT(settle(&l, "127.0.0.1", addr, sizeof addr, err, sizeof err), 1);
	CHECK_STR(addr, "127.0.0.1");
	CHECK(l.r == NULL);
}

static void test_bounds(void)
{
	struct lookup l = { 0 };
	char addr[64], err[320], name[300];
	memset(name, 'a', sizeof name - 1);
	name[sizeof name - 1] = 0;
	int threads = lookup_threads(); /* an earlier test's may still be ending */
	CHECK_INT(lookup_addr(&l, name, addr, sizeof addr, err, sizeof err), -1);
	CHECK_STR(err, "cannot resolve a host name of 299 bytes");
	CHECK(l.r == NULL);
	CHECK(lookup_threads() <= threads);
	/* a lookup that answered before it was a second old is never called slow */
	CHECK_INT(settle(&l, "localhost", addr, sizeof addr, err, sizeof err), 1);
	CHECK_INT(lookup_slow(&l), 0);
}

const struct unit_test resolve_tests[] = {
	{ "resolve: a numeric address answers at once, with no thread", test_numeric },
	{ "resolve: a name is looked up on a thread; IPv4 first", test_name },
	{ "resolve: a lookup let go of ends on its own; another name starts over", test_cancel },
	{ "resolve: a name longer than DNS allows fails at once, with no thread", test_bounds },
	{ NULL, NULL },
};
