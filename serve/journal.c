/* journal.c: serve's lines in the run directory, for a serve that restarts. */
#include "journal.h"
#include "clock.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_BUF (256 * 1024)

static struct {
	int fd;
	char path[4096], old[4096];
	uint64_t max_file; /* each of the two files */
	uint64_t size;     /* of the current file */
	char *buf;
	size_t len;
	struct journal_stats st;
	struct log_limit rl;
} J = { .fd = -1 };

const struct journal_stats *journal_stats(void)
{
	return &J.st;
}

/* Hands every complete line of PATH to LINE. A line cut by a crash (no newline) is left
 * out; the file is cut back to its last newline so what follows starts a line. */
static void replay(const char *path, void (*line)(const char *, size_t), int cut)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	struct stat sb;
	if (fd < 0)
		return;
	if (fstat(fd, &sb) || sb.st_size <= 0 || (uint64_t)sb.st_size > 2 * J.max_file) {
		if (!fstat(fd, &sb) && (uint64_t)sb.st_size > 2 * J.max_file)
			log_warn("journal file bigger than its budget, not read", " path=%s bytes=%lld", path,
				 (long long)sb.st_size);
		close(fd);
		return;
	}
	char *data = malloc((size_t)sb.st_size);
	size_t got = 0;
	while (data && got < (size_t)sb.st_size) {
		ssize_t r = read(fd, data + got, (size_t)sb.st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	size_t start = 0, end = 0;
	for (size_t i = 0; data && i < got; i++)
		if (data[i] == '\n') {
			if (i > start) {
				line(data + start, i - start);
				J.st.replayed++;
			}
			start = i + 1;
			end = i + 1;
		}
	if (cut && data && end < got && ftruncate(fd, (off_t)end) == 0)
		log_info("journal: a line cut by a crash left out", " path=%s bytes=%zu", path, got - end);
	free(data);
	close(fd);
}

int journal_open(const char *dir, uint64_t max_bytes, void (*line)(const char *s, size_t n), char *err,
		 size_t errlen)
{
	struct stat sb;
	J.max_file = max_bytes / 2;
	snprintf(J.path, sizeof J.path, "%s/serve.journal", dir);
	snprintf(J.old, sizeof J.old, "%s/serve.journal.1", dir);
	int64_t t0 = clk_mono_us();
	replay(J.old, line, 0);
	replay(J.path, line, 1);
	if (J.st.replayed)
		log_info("journal read back", " lines=%llu ms=%lld", (unsigned long long)J.st.replayed,
			 (long long)(clk_mono_us() - t0) / 1000);
	J.buf = malloc(JOURNAL_BUF);
	J.fd = open(J.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (!J.buf || J.fd < 0) {
		snprintf(err, errlen, "journal %s: %s", J.path, J.buf ? strerror(errno) : "out of memory");
		free(J.buf);
		J.buf = NULL;
		return -1;
	}
	J.size = fstat(J.fd, &sb) ? 0 : (uint64_t)sb.st_size;
	return 0;
}

static void write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(J.fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			J.st.errors++;
			if (log_allow(&J.rl, clk_mono_us()) >= 0)
				log_warn("cannot write the journal: these lines will not survive a restart",
					 " path=%s error=\"%s\"", J.path, strerror(errno));
			return;
		}
		p += w;
		n -= (size_t)w;
		J.size += (uint64_t)w;
		J.st.bytes += (uint64_t)w;
	}
}

void journal_flush(void)
{
	if (J.fd < 0 || !J.len)
		return;
	write_all(J.buf, J.len);
	J.len = 0;
	if (J.size < J.max_file)
		return;
	/* The current file is full: it becomes the older one, and a new one starts. */
	if (rename(J.path, J.old)) {
		J.st.errors++;
		log_warn("cannot rotate the journal", " path=%s error=\"%s\"", J.path, strerror(errno));
		return;
	}
	close(J.fd);
	J.fd = open(J.path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	J.size = 0;
	J.st.rotations++;
	if (J.fd < 0)
		log_error("cannot start a new journal file; lines are no longer kept", " path=%s error=\"%s\"",
			  J.path, strerror(errno));
}

void journal_add(const char *a, size_t an, const char *b, size_t bn)
{
	if (J.fd < 0)
		return;
	size_t n = an + bn + 1;
	if (J.len + n > JOURNAL_BUF)
		journal_flush();
	if (n > JOURNAL_BUF) { /* a line bigger than the buffer goes straight out */
		write_all(a, an);
		write_all(b, bn);
		write_all("\n", 1);
	} else {
		memcpy(J.buf + J.len, a, an);
		if (bn)
			memcpy(J.buf + J.len + an, b, bn);
		J.buf[J.len + an + bn] = '\n';
		J.len += n;
	}
	J.st.lines++;
}

void journal_close(void)
{
	journal_flush();
	if (J.fd >= 0)
		close(J.fd);
	J.fd = -1;
	free(J.buf);
	J.buf = NULL;
}
