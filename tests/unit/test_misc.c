/* Tests for the smaller lib modules: clock, metrics, output queue, JSON writer. */
#include "clock.h"
#include "jw.h"
#include "met.h"
#include "oq.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static void test_epoch_units(void)
{
	CHECK_INT(clk_epoch_to_us(1700000000LL), 1700000000000000LL);
	CHECK_INT(clk_epoch_to_us(1700000000123LL), 1700000000123000LL);
	CHECK_INT(clk_epoch_to_us(1700000000123456LL), 1700000000123456LL);
	CHECK_INT(clk_epoch_to_us(1700000000123456789LL), 1700000000123456LL);
	CHECK_INT(clk_epoch_to_us(0), -1);
	CHECK_INT(clk_epoch_to_us(-5), -1);
	CHECK_INT(clk_epoch_to_us(12345), -1);
}

static int64_t rfc(const char *s)
{
	int64_t v;
	return clk_parse_rfc3339(s, strlen(s), &v) ? -1 : v;
}

static void test_rfc3339(void)
{
	CHECK_INT(rfc("1970-01-01T00:00:00Z"), 0);
	CHECK_INT(rfc("2023-02-09T20:32:50.714964855Z"), 1675974770714964LL);
	CHECK_INT(rfc("2022-12-25T21:19:27.123456Z"), 1672003167123456LL);
	CHECK_INT(rfc("2024-02-29T12:00:00.5Z"), 1709208000500000LL);
	CHECK_INT(rfc("2024-01-01T09:00:00+09:00"), 1704067200000000LL);
	CHECK_INT(rfc("2024-01-01T00:00:00"), -1);
	CHECK_INT(rfc("2024-13-01T00:00:00Z"), -1);
	CHECK_INT(rfc("garbage"), -1);
}

static void test_metrics_render(void)
{
	struct met_reg *r = met_new();
	struct met *c = met_add(r, MET_COUNTER, "exchange_x_total", "Things.", "exchange=\"a\"");
	struct met *c2 = met_add(r, MET_COUNTER, "exchange_x_total", "Things.", "exchange=\"b\"");
	CHECK(met_add(r, MET_COUNTER, "exchange_x_total", "Things.", "exchange=\"a\"") == c);
	struct met *h = met_add_hist(r, "exchange_lat_seconds", "Latency.", NULL, met_latency_bounds,
				     met_latency_nbounds);
	c->v = 3;
	c2->v = 1.5;
	met_observe(h, 0.0002);
	met_observe(h, 0.003);
	met_observe(h, 100);
	size_t len;
	char *text = met_render(r, &len);
	CHECK(text != NULL);
	CHECK(strstr(text, "# TYPE exchange_x_total counter\nexchange_x_total{exchange=\"a\"} 3\n"
			   "exchange_x_total{exchange=\"b\"} 1.5\n") != NULL);
	CHECK(strstr(text, "exchange_lat_seconds_bucket{le=\"0.00025\"} 1\n") != NULL);
	CHECK(strstr(text, "exchange_lat_seconds_bucket{le=\"0.005\"} 2\n") != NULL);
	CHECK(strstr(text, "exchange_lat_seconds_bucket{le=\"+Inf\"} 3\n") != NULL);
	CHECK(strstr(text, "exchange_lat_seconds_count 3\n") != NULL);
	free(text);
	double p50 = met_quantile(h, 0.5);
	CHECK(p50 > 0.0025 && p50 <= 0.005);
	met_free(r);
}

static void test_metrics_file(void)
{
	char dir[] = "/tmp/unit-met-XXXXXX", err[256], path[512], buf[256];
	CHECK(mkdtemp(dir) != NULL);
	struct met_reg *r = met_new();
	met_add(r, MET_GAUGE, "exchange_g", "G.", NULL)->v = 7;
	CHECK_INT(met_write_file(r, dir, "tool", err, sizeof err), 0);
	snprintf(path, sizeof path, "%s/tool.prom", dir);
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	CHECK(strstr(buf, "exchange_g 7\n") != NULL);
	unlink(path);
	rmdir(dir);
	CHECK_INT(met_write_file(r, "/nonexistent/dir", "tool", err, sizeof err), -1);
	CHECK(strstr(err, "/nonexistent/dir") != NULL);
	met_free(r);
	CHECK(met_rss_bytes() > 0);
}

static void test_oq_bounded(void)
{
	int p[2];
	struct oq q;
	char buf[4096];
	CHECK_INT(pipe(p), 0);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	CHECK_INT(oq_init(&q, p[1], 100), 0);
	CHECK_INT(oq_push(&q, "hello\n", 6), 0);
	memset(buf, 'x', 200);
	CHECK_INT(oq_push(&q, buf, 95), -1); /* does not fit: refused whole */
	CHECK_INT(q.dropped, 1);
	CHECK_INT(oq_push(&q, buf, 94), 0);
	CHECK_INT(oq_flush(&q), 0);
	CHECK_INT(read(p[0], buf, sizeof buf), 100);
	/* A reader that stops reading: the queue fills and reports pending bytes. */
	int pushed = 0, pending = 0;
	for (int i = 0; i < 100000 && !pending; i++) {
		if (oq_push(&q, "0123456789\n", 11) == 0)
			pushed++;
		pending = oq_flush(&q);
	}
	CHECK_INT(pending, 1);
	close(p[0]);
	CHECK_INT(oq_flush(&q), -1);
	CHECK_INT(errno, EPIPE);
	oq_free(&q);
	close(p[1]);
}

static void test_jw(void)
{
	struct jw w;
	jw_init(&w, 64);
	jw_open(&w, '{');
	jw_key(&w, "a");
	jw_str(&w, "q\"\\\n\x01", 5);
	jw_key(&w, "b");
	jw_int(&w, -9223372036854775807LL - 1);
	jw_key(&w, "c");
	CHECK_INT(jw_dec(&w, "1.50", 4), 0);
	jw_close(&w, '}');
	CHECK(!w.err);
	w.buf[w.len] = 0;
	CHECK(w.len < 64);
	jw_raw(&w, "", 0);
	CHECK(!memcmp(w.buf, "{\"a\":\"q\\\"\\\\\\n\\u0001\",\"b\":-9223372036854775808,\"c\":1.5}", w.len));
	jw_raw(&w, "0123456789012345678901234567890123456789", 40); /* past max */
	CHECK(w.err);
	jw_free(&w);
}

UNIT_SUITE(clock_tests) = {
	{ "clock: epoch units told by magnitude", test_epoch_units },
	{ "clock: RFC 3339 times", test_rfc3339 },
	{ NULL, NULL },
};
UNIT_SUITE(met_tests) = {
	{ "met: text format, families, histograms, quantiles", test_metrics_render },
	{ "met: textfile written atomically, errors reported", test_metrics_file },
	{ NULL, NULL },
};
UNIT_SUITE(oq_tests) = {
	{ "oq: bounded, drops whole lines, reports EPIPE", test_oq_bounded },
	{ NULL, NULL },
};
UNIT_SUITE(jw_tests) = {
	{ "jw: escaping, integers, decimals, size limit", test_jw },
	{ NULL, NULL },
};
