/* sig.h: signals delivered to the event loop through a self-pipe. */
#ifndef SIG_H
#define SIG_H

#include <stddef.h>

/* Installs handlers for SIGNALS (terminated by 0) that write the signal number as one byte
 * to a non-blocking pipe, ignores SIGPIPE, and returns the pipe's read end for the loop to
 * watch; -1 with ERRBUF on failure. The handlers do nothing else. */
int sig_init(const int *signals, char *errbuf, size_t errlen);

/* Next pending signal number from the pipe, or 0 when none is pending. */
int sig_next(int fd);

/* Blocks every handled signal in the calling thread (use before starting library threads,
 * so signals reach the main thread), and restores them. */
void sig_block_all(void);
void sig_unblock_all(void);

#endif
