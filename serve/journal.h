/* journal.h: the lines serve took in, kept in the run directory too, so that a serve that
 * restarts (a crash, an upgrade) still has them for the clients that resume from it. Two
 * files, RUN_DIR/serve.journal and its predecessor serve.journal.1, each at most half the
 * budget: the newest lines, bounded in bytes. */
#ifndef SERVE_JOURNAL_H
#define SERVE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct journal_stats {
	uint64_t lines, bytes;  /* written */
	uint64_t rotations;
	uint64_t errors;        /* writes that failed (disk full...): those lines are not kept */
	uint64_t replayed;      /* lines read back at the start */
};

/* Opens the journal in DIR with a budget of MAX_BYTES, first handing every line it holds,
 * oldest first, to LINE. Returns 0, or -1 with ERR. */
int journal_open(const char *dir, uint64_t max_bytes, void (*line)(const char *s, size_t n), char *err,
		 size_t errlen);
/* Adds one line: A then B (B may be empty), and a newline. Buffered until journal_flush. */
void journal_add(const char *a, size_t an, const char *b, size_t bn);
/* Writes what was added: called before the lines go to any client, so that whatever a
 * client got is in the journal. */
void journal_flush(void);
void journal_close(void);
const struct journal_stats *journal_stats(void);

#endif
