#include "ndj.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ndj_init(struct ndj *r, int fd, size_t max_line)
{
	memset(r, 0, sizeof *r);
	r->fd = fd;
	r->max_line = max_line;
	/* Room for one whole line plus a read's worth, so a maximal line never needs a second pass. */
	r->cap = max_line + 1 + 65536;
	r->buf = malloc(r->cap);
	return r->buf ? 0 : -1;
}

void ndj_free(struct ndj *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* Moves unread bytes to the front so a read has room. */
static void compact(struct ndj *r)
{
	if (r->start == 0)
		return;
	memmove(r->buf, r->buf + r->start, r->end - r->start);
	r->end -= r->start;
	r->start = 0;
}

long ndj_fill(struct ndj *r)
{
	compact(r);
	if (r->end == r->cap)
		return -1; /* cannot happen: ndj_next always consumes or discards a full buffer */
	ssize_t n;
	do
		n = read(r->fd, r->buf + r->end, r->cap - r->end);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		r->eof = 1;
	r->end += (size_t)n;
	r->bytes += (uint64_t)n;
	return (long)n;
}

long ndj_feed(struct ndj *r, const char *s, size_t n)
{
	compact(r);
	if (n == 0) {
		r->eof = 1;
		return 0;
	}
	if (n > r->cap - r->end)
		n = r->cap - r->end;
	memcpy(r->buf + r->end, s, n);
	r->end += n;
	r->bytes += n;
	return (long)n;
}

enum ndj_status ndj_next(struct ndj *r, const char **line, size_t *len)
{
	for (;;) {
		char *p = r->buf + r->start;
		size_t avail = r->end - r->start;
		char *nl = memchr(p, '\n', avail);
		if (r->discarding) {
			if (!nl) {
				r->start = r->end = 0;
				if (r->eof)
					return NDJ_EOF;
				return NDJ_AGAIN;
			}
			r->discarding = 0;
			r->start += (size_t)(nl - p) + 1;
			continue;
		}
		if (nl) {
			size_t n = (size_t)(nl - p);
			r->start += n + 1;
			if (n > r->max_line) {
				r->too_long++;
				return NDJ_TOOLONG;
			}
			if (n && p[n - 1] == '\r')
				n--;
			if (n == 0)
				continue;
			*line = p;
			*len = n;
			return NDJ_LINE;
		}
		if (avail > r->max_line) {
			/* No newline within the limit: skip the rest of this line as it arrives. */
			r->discarding = 1;
			r->start = r->end = 0;
			r->too_long++;
			return NDJ_TOOLONG;
		}
		if (r->eof) {
			if (avail == 0)
				return NDJ_EOF;
			r->start = r->end;
			*line = p;
			*len = avail;
			return NDJ_LINE;
		}
		return NDJ_AGAIN;
	}
}
