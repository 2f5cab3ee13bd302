#include "met.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct family {
	char *name, *help;
	enum met_type type;
	struct met *first, *last;
};

struct met_reg {
	struct family *fam;
	int nfam, capfam;
};

const double met_latency_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				      0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 10 };
const int met_latency_nbounds = sizeof met_latency_bounds / sizeof met_latency_bounds[0];

struct met_reg *met_new(void)
{
	return calloc(1, sizeof(struct met_reg));
}

void met_free(struct met_reg *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->nfam; i++) {
		struct met *m = r->fam[i].first;
		while (m) {
			struct met *n = m->next_in_family;
			free(m->labels);
			free(m);
			m = n;
		}
		free(r->fam[i].name);
		free(r->fam[i].help);
	}
	free(r->fam);
	free(r);
}

struct met *met_add(struct met_reg *r, enum met_type type, const char *name, const char *help,
		    const char *labels)
{
	int f;
	const char *lab = labels ? labels : "";
	for (f = 0; f < r->nfam; f++)
		if (!strcmp(r->fam[f].name, name))
			break;
	if (f == r->nfam) {
		if (r->nfam == r->capfam) {
			int cap = r->capfam ? r->capfam * 2 : 32;
			struct family *nf = realloc(r->fam, (size_t)cap * sizeof *nf);
			if (!nf)
				return NULL;
			r->fam = nf;
			r->capfam = cap;
		}
		struct family *fam = &r->fam[r->nfam];
		memset(fam, 0, sizeof *fam);
		fam->name = strdup(name);
		fam->help = strdup(help ? help : name);
		fam->type = type;
		if (!fam->name || !fam->help) {
			free(fam->name);
			free(fam->help);
			return NULL;
		}
		r->nfam++;
	} else {
		for (struct met *m = r->fam[f].first; m; m = m->next_in_family)
			if (!strcmp(m->labels, lab))
				return m;
	}
	struct met *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->labels = strdup(lab);
	if (!m->labels) {
		free(m);
		return NULL;
	}
	m->family = f;
	if (r->fam[f].last)
		r->fam[f].last->next_in_family = m;
	else
		r->fam[f].first = m;
	r->fam[f].last = m;
	return m;
}

struct met *met_add_hist(struct met_reg *r, const char *name, const char *help, const char *labels,
			 const double *bounds, int nbounds)
{
	struct met *m = met_add(r, MET_HISTOGRAM, name, help, labels);
	if (m) {
		m->bounds = bounds;
		m->nbounds = nbounds > MET_MAX_BUCKETS ? MET_MAX_BUCKETS : nbounds;
	}
	return m;
}

void met_observe(struct met *m, double value)
{
	int i = 0;
	while (i < m->nbounds && value > m->bounds[i])
		i++;
	m->buckets[i]++;
	m->count++;
	m->sum += value;
}

double met_quantile(const struct met *m, double q)
{
	if (!m->count)
		return 0;
	double rank = q * (double)m->count;
	uint64_t cum = 0;
	for (int i = 0; i <= m->nbounds; i++) {
		uint64_t prev = cum;
		cum += m->buckets[i];
		if ((double)cum >= rank && m->buckets[i]) {
			double lo = i ? m->bounds[i - 1] : 0;
			if (i == m->nbounds)
				return lo; /* beyond the last bound: all we know is "at least" */
			double hi = m->bounds[i];
			return lo + (hi - lo) * ((rank - (double)prev) / (double)m->buckets[i]);
		}
	}
	return m->nbounds ? m->bounds[m->nbounds - 1] : 0;
}

struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		if (b->err)
			return;
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = 1;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 8192;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->err = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

/* Prometheus wants "+Inf", integers without exponents, and full precision otherwise. */
static void sb_value(struct sbuf *b, double v)
{
	if (v == (double)(int64_t)v && v < 9e15 && v > -9e15)
		sb_printf(b, "%lld", (long long)v);
	else
		sb_printf(b, "%.9g", v);
}

char *met_render(const struct met_reg *r, size_t *len)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	struct sbuf b = { 0 };
	sb_printf(&b, "%s", "");
	for (int f = 0; f < r->nfam; f++) {
		const struct family *fam = &r->fam[f];
		sb_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help, fam->name,
			  types[fam->type]);
		for (const struct met *m = fam->first; m; m = m->next_in_family) {
			const char *sep = m->labels[0] ? "," : "";
			if (fam->type != MET_HISTOGRAM) {
				if (m->labels[0])
					sb_printf(&b, "%s{%s} ", fam->name, m->labels);
				else
					sb_printf(&b, "%s ", fam->name);
				sb_value(&b, m->v);
				sb_printf(&b, "\n");
				continue;
			}
			uint64_t cum = 0;
			for (int i = 0; i <= m->nbounds; i++) {
				cum += m->buckets[i];
				if (i < m->nbounds)
					sb_printf(&b, "%s_bucket{%s%sle=\"%g\"} %llu\n", fam->name, m->labels, sep,
						  m->bounds[i], (unsigned long long)cum);
				else
					sb_printf(&b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", fam->name, m->labels,
						  sep, (unsigned long long)cum);
			}
			const char *lb = m->labels[0] ? "{" : "", *rb = m->labels[0] ? "}" : "";
			sb_printf(&b, "%s_sum%s%s%s ", fam->name, lb, m->labels, rb);
			sb_value(&b, m->sum);
			sb_printf(&b, "\n%s_count%s%s%s %llu\n", fam->name, lb, m->labels, rb,
				  (unsigned long long)m->count);
		}
	}
	if (b.err) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

int met_write_file(const struct met_reg *r, const char *dir, const char *tool, char *errbuf,
		   size_t errlen)
{
	char path[4096], tmp[4096];
	size_t len;
	char *text = met_render(r, &len);
	if (!text) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	snprintf(path, sizeof path, "%s/%s.prom", dir, tool);
	snprintf(tmp, sizeof tmp, "%s/.%s.prom.%d", dir, tool, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(errbuf, errlen, "%s: %s", tmp, strerror(errno));
		free(text);
		return -1;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			snprintf(errbuf, errlen, "%s: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			free(text);
			return -1;
		}
		off += (size_t)w;
	}
	free(text);
	close(fd);
	if (rename(tmp, path)) {
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

double met_rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return (double)rss * (double)sysconf(_SC_PAGESIZE);
}

static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	return nl ? nl : end;
}

void met_scan(const char *text, size_t len, met_scan_cb cb, void *ctx)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *e = line_end(p, end);
		if (*p != '#' && e > p) {
			const char *q = p;
			while (q < e && *q != '{' && *q != ' ')
				q++;
			const char *name = p, *labels = "";
			size_t nlen = (size_t)(q - p), llen = 0;
			if (q < e && *q == '{') {
				const char *close = q + 1;
				int inq = 0;
				while (close < e && (inq || *close != '}')) {
					if (*close == '"' && close[-1] != '\\')
						inq = !inq;
					close++;
				}
				labels = q + 1;
				llen = (size_t)(close - labels);
				q = close + 1;
			}
			while (q < e && *q == ' ')
				q++;
			char num[64];
			size_t k = 0;
			while (q + k < e && q[k] != ' ' && k < sizeof num - 1) {
				num[k] = q[k];
				k++;
			}
			num[k] = 0;
			char *endp;
			double v = strtod(num, &endp);
			if (nlen && k && *endp == 0)
				cb(ctx, name, nlen, labels, llen, v);
		}
		p = e + 1;
	}
}

/* A family's base name: histogram and summary series end in _bucket, _sum or _count. */
struct mfam {
	char name[160];
	char *head;   /* HELP and TYPE lines */
	struct sbuf body;
	int is_hist;
};

static struct mfam *mfam_find(struct mfam *f, int n, const char *name, size_t len)
{
	for (int i = 0; i < n; i++)
		if (strlen(f[i].name) == len && !memcmp(f[i].name, name, len))
			return &f[i];
	return NULL;
}

char *met_merge(const char *const *texts, const size_t *lens, int n, size_t *outlen)
{
	int cap = 64, nf = 0;
	struct mfam *f = calloc((size_t)cap, sizeof *f);
	struct sbuf out = { 0 };
	if (!f)
		return NULL;
	for (int t = 0; t < n; t++) {
		const char *p = texts[t], *end = texts[t] + lens[t];
		while (p < end) {
			const char *e = line_end(p, end);
			size_t ll = (size_t)(e - p);
			const char *name;
			size_t nlen;
			if (ll > 7 && (!memcmp(p, "# HELP ", 7) || !memcmp(p, "# TYPE ", 7))) {
				name = p + 7;
				nlen = strcspn(name, " \n");
				if (name + nlen > e)
					nlen = (size_t)(e - name);
			} else if (ll && *p != '#') {
				name = p;
				nlen = strcspn(p, "{ \n");
				/* Samples of a histogram belong to its base name. */
				static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
				for (int s = 0; s < 3; s++) {
					size_t sl = strlen(suffixes[s]);
					if (nlen > sl && !memcmp(name + nlen - sl, suffixes[s], sl) &&
					    mfam_find(f, nf, name, nlen - sl) && mfam_find(f, nf, name, nlen - sl)->is_hist) {
						nlen -= sl;
						break;
					}
				}
			} else {
				p = e + 1;
				continue;
			}
			if (nlen >= sizeof f->name) {
				p = e + 1;
				continue;
			}
			struct mfam *m = mfam_find(f, nf, name, nlen);
			if (!m) {
				if (nf == cap) {
					struct mfam *nfp = realloc(f, (size_t)cap * 2 * sizeof *f);
					if (!nfp)
						goto oom;
					f = nfp;
					memset(f + cap, 0, (size_t)cap * sizeof *f);
					cap *= 2;
				}
				m = &f[nf++];
				memcpy(m->name, name, nlen);
				m->name[nlen] = 0;
			}
			if (*p == '#') {
				if (!memcmp(p, "# TYPE ", 7) && memmem(p, ll, " histogram", 10))
					m->is_hist = 1;
				/* Keep the first HELP and TYPE of a family only. */
				size_t have = m->head ? strlen(m->head) : 0;
				if (!m->head || !memmem(m->head, have, p, 6)) {
					char *nh = realloc(m->head, have + ll + 2);
					if (!nh)
						goto oom;
					memcpy(nh + have, p, ll);
					nh[have + ll] = '\n';
					nh[have + ll + 1] = 0;
					m->head = nh;
				}
			} else {
				sb_printf(&m->body, "%.*s\n", (int)ll, p);
			}
			p = e + 1;
		}
	}
	for (int i = 0; i < nf; i++) {
		if (f[i].head)
			sb_printf(&out, "%s", f[i].head);
		if (f[i].body.p)
			sb_printf(&out, "%.*s", (int)f[i].body.len, f[i].body.p);
	}
	for (int i = 0; i < nf; i++) {
		free(f[i].head);
		free(f[i].body.p);
	}
	free(f);
	if (out.err) {
		free(out.p);
		return NULL;
	}
	*outlen = out.len;
	return out.p ? out.p : calloc(1, 1);
oom:
	for (int i = 0; i < nf; i++) {
		free(f[i].head);
		free(f[i].body.p);
	}
	free(f);
	free(out.p);
	return NULL;
}
