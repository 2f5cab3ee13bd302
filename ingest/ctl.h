/* ctl.h: ingest's control socket, RUN_DIR/ingest.sock — one command a line (status, resync
 * EXCHANGE SYMBOL, reconnect EXCHANGE, meta EXCHANGE), each answered with one line. */
#ifndef INGEST_CTL_H
#define INGEST_CTL_H

#include "conn.h"
#include "rundir.h"

#include <libwebsockets.h>
#include <stddef.h>

/* Listens on RUN_DIR/ingest.sock in VH's loop, through the protocol PROTOCOL (whose callback
 * is ctl_lws_callback), for the NCONNS connections CONNS; *ROLE is the role status reports.
 * Returns 0; -1 with ERR; -2 when another process answers on the socket. */
int ctl_open(struct lws_vhost *vh, const char *protocol, const char *run_dir, struct conn *conns,
	     int nconns, const enum role *role, char *err, size_t errlen);
/* Removes the socket file, if it is still the one ctl_open made. */
void ctl_close(void);

int ctl_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len);

#endif
