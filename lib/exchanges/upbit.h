/* upbit.h: Upbit's protocol, which Bithumb's current API shares (bithumb.c uses it). */
#ifndef UPBIT_H
#define UPBIT_H

#include "xch.h"

int upbit_url(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err, size_t errlen);
int upbit_subscribe(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out, size_t n);
int upbit_resync(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i, char *out,
		 size_t n);
enum xch_frame upbit_classify(const char *f, size_t n);
int upbit_normalize(struct norm *n, const struct js_doc *d, int data);

#endif
