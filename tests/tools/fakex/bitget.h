/* bitget.h: Bitget v2's dialect as its spot and USDT-futures variants share it
 * (bitget.c); bitget-futures.c gives the futures' instType. */
#ifndef FAKEX_BITGET_H
#define FAKEX_BITGET_H

#include "fakex.h"

struct bitget_rules {
	const char *inst_type;	/* the instType every arg must name ("SPOT") */
};

/* Per connection. */
struct bitget_conn {
	int64_t last_ping_us;	/* the client's last text ping */
};

void bitget_open(struct conn *c);
int bitget_frame(struct rline *l, const struct js_doc *d, int f);
int64_t bitget_idle_since(struct conn *c, int64_t now, const char **why);
void bitget_request(struct conn *c, const char *text, size_t len);

extern const char *const bitget_retime_keys[], *const bitget_reid_keys[];

#endif
