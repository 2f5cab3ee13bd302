/* met.h: Prometheus metrics kept in memory and written as a textfile (RUN_DIR/<tool>.prom). */
#ifndef MET_H
#define MET_H

#include <stddef.h>
#include <stdint.h>

enum met_type { MET_COUNTER, MET_GAUGE, MET_HISTOGRAM };

#define MET_MAX_BUCKETS 16

/* One series: a metric name with one set of labels. Update `v` directly (counters only
 * grow). Histograms use met_observe. */
struct met {
	double v;
	/* histogram state */
	const double *bounds;
	int nbounds;
	uint64_t buckets[MET_MAX_BUCKETS + 1];
	uint64_t count;
	double sum;
	/* registry bookkeeping */
	char *labels;
	int family;
	struct met *next_in_family;
};

struct met_reg;

/* Creates an empty registry; NULL when out of memory. */
struct met_reg *met_new(void);
void met_free(struct met_reg *r);

/* Adds (or finds) the series NAME{LABELS}. LABELS is the text inside the braces, such as
 * `exchange="binance"`, or NULL. HELP is used by the first series of a name. The registry
 * owns the series; the pointer stays valid until met_free. NULL when out of memory. */
struct met *met_add(struct met_reg *r, enum met_type type, const char *name, const char *help,
		    const char *labels);
/* Histogram series with the given upper bounds (ascending, at most MET_MAX_BUCKETS; the
 * array must outlive the registry). */
struct met *met_add_hist(struct met_reg *r, const char *name, const char *help, const char *labels,
			 const double *bounds, int nbounds);
void met_observe(struct met *m, double value);

/* Latency bounds in seconds, from 100 µs to 10 s, shared by every latency histogram. */
extern const double met_latency_bounds[];
extern const int met_latency_nbounds;

/* Estimates quantile Q (0..1) of a histogram by linear interpolation in its bucket. */
double met_quantile(const struct met *m, double q);

/* Renders every series in the text exposition format into a malloc'd string (caller frees);
 * NULL when out of memory. */
char *met_render(const struct met_reg *r, size_t *len);

/* Writes DIR/TOOL.prom atomically (temp file, then rename). Returns 0, or -1 with ERRBUF. */
int met_write_file(const struct met_reg *r, const char *dir, const char *tool, char *errbuf,
		   size_t errlen);

/* Calls CB for every sample line of exposition text TEXT: metric name, label text (inside
 * the braces, may be empty) and value. Comment and malformed lines are skipped. */
typedef void (*met_scan_cb)(void *ctx, const char *name, size_t nlen, const char *labels,
			    size_t llen, double value);
void met_scan(const char *text, size_t len, met_scan_cb cb, void *ctx);

/* Merges several exposition texts into one in which every metric family appears once,
 * with one HELP and TYPE (tools share names such as the resident-memory gauge).
 * Returns a malloc'd string (caller frees) or NULL when out of memory. */
char *met_merge(const char *const *texts, const size_t *lens, int n, size_t *outlen);

/* Resident memory of this process in bytes (from /proc/self/statm), or 0. */
double met_rss_bytes(void);

#endif
