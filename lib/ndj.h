/* ndj.h: a bounded reader of newline-delimited lines from a file descriptor. */
#ifndef NDJ_H
#define NDJ_H

#include <stddef.h>
#include <stdint.h>

enum ndj_status {
	NDJ_LINE,    /* a line is ready (without its newline) */
	NDJ_AGAIN,   /* no complete line buffered: call ndj_fill when the fd is readable */
	NDJ_TOOLONG, /* a line longer than the limit was skipped whole */
	NDJ_EOF,     /* end of input and nothing left */
};

struct ndj {
	int fd;
	char *buf;
	size_t max_line; /* longest accepted line, newline excluded */
	size_t cap, start, end;
	int discarding;  /* inside an over-long line, skipping to its newline */
	int eof;
	uint64_t too_long; /* lines skipped for their length */
	uint64_t bytes;    /* bytes read */
};

/* Prepares a reader for FD accepting lines of up to MAX_LINE bytes. Returns 0 or -1 (no memory). */
int ndj_init(struct ndj *r, int fd, size_t max_line);
void ndj_free(struct ndj *r);

/* Reads once from the fd. Returns bytes read (> 0), 0 at end of input, or -1 with errno
 * (EAGAIN when a non-blocking fd has nothing). */
long ndj_fill(struct ndj *r);

/* Hands out the next buffered line; the pointer stays valid until the next ndj_fill.
 * A last line without a newline is returned at end of input. Empty lines are skipped. */
enum ndj_status ndj_next(struct ndj *r, const char **line, size_t *len);

/* Feeds bytes from memory instead of the fd (for tests and fuzzing); same rules as ndj_fill. */
long ndj_feed(struct ndj *r, const char *s, size_t n);

#endif
