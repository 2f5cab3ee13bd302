/* bybit.h: Bybit v5's dialect as its spot and linear variants share it (bybit.c);
 * bybit-linear.c gives the linear rules. */
#ifndef FAKEX_BYBIT_H
#define FAKEX_BYBIT_H

#include "fakex.h"

/* What tells the variants apart (the dialect's rules). */
struct bybit_rules {
	int max_args;			/* topics per request; 0: no limit (derivatives) */
	size_t max_chars;		/* characters of every topic of a connection; 0: none */
	const char *ack_text;		/* ret_msg of an ack; NULL: the op (spot's "subscribe") */
	const char *req_id_default;	/* req_id of answers to requests without one; NULL: none */
	const char *const *extra;	/* topic prefixes besides the common ones; NULL: none */
	int dash;			/* symbols may hold '-' (dated futures) */
};

void bybit_open(struct conn *c);
int bybit_frame(struct rline *l, const struct js_doc *d, int f);
void bybit_request(struct conn *c, const char *text, size_t len);

extern const char *const bybit_retime_keys[], *const bybit_reid_keys[];

#endif
