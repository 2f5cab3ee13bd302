/* bitget.h: Bitget's v2 protocol, which its spot and USDT-margined futures share (bitget.c;
 * bitget-futures.c uses it): the same channels, acks, books and checksums, told apart by the
 * instType of every argument. */
#ifndef BITGET_H
#define BITGET_H

#include "norm.h"
#include "xch.h"

/* Which product a connection talks about. */
struct bitget_product {
	const char *inst_type; /* "SPOT", "USDT-FUTURES" */
	int futures;           /* symbols are BASE-USDT-PERP, tickers carry derivative data */
};

int bitget_url_of(const struct bitget_product *pr, const struct xch_sub *sub, const char *base,
		  char *out, size_t n, char *err, size_t errlen);
int bitget_subscribe_of(const struct bitget_product *pr, const struct xch_sub *sub,
			struct xch_conn *conn, int i, char *out, size_t n);
int bitget_resync_of(const struct bitget_product *pr, const struct xch_sub *sub,
		     struct xch_conn *conn, const char *symbol, int i, char *out, size_t n);
enum xch_frame bitget_classify(const char *f, size_t n);
int bitget_normalize_of(const struct bitget_product *pr, struct norm *n, const struct js_doc *d, int o);

#endif
