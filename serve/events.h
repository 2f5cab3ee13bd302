/* events.h: serve's incident history — the status lines it relays and its own events (start,
 * role changes, slow clients cut) — kept in memory and in two bounded files in the run
 * directory, so a restart keeps it, and served as JSON at /api/events. */
#ifndef SERVE_EVENTS_H
#define SERVE_EVENTS_H

#include "json.h"
#include "met.h"

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTS_MAX 4096             /* events held in memory */
#define EVENTS_FILE_MAX (1 << 20)   /* bytes per file: RUN_DIR/events.ndjson and its .1 */
#define EVENTS_PER_SECOND 1000      /* recorded at most, with a burst as large; the rest counted */
#define EVENTS_DETAIL_MAX 400       /* bytes of a status line's detail kept */

/* Loads the history of RUN_DIR (NULL: memory only) and registers the metrics in REG.
 * Returns 0, or -1 with ERRBUF (out of memory). An unreadable history is logged, not fatal. */
int events_init(struct met_reg *reg, const char *run_dir, const char *node, char *errbuf,
		size_t errlen);
void events_free(void);

/* Records the status line parsed in D (token 0 its object). */
void events_status(const struct js_doc *d);

/* Records one of serve's own events. KIND and EXCHANGE must need no JSON escaping. */
void events_local(const char *exchange, const char *kind, const char *detail);

/* Once a second: notices role changes in the run directory and clients cut for being slow
 * (SLOW_TOTAL is the running count). */
void events_tick(double slow_total);

/* The body of /api/events for the request WSI (query: exchange=, kind=, limit=); caller
 * frees. *STATUS is set to 200, 400 (bad query, body says why) or 500 (NULL returned). */
char *events_http(struct lws *wsi, size_t *len, int *status);

/* The same for a query given as text ("exchange=a,b&kind=resync&limit=10"). */
char *events_query(const char *query, size_t *len, int *status);

#endif
