/* gateio.h: what Gate's spot and USDT-settled futures readers share (gateio.c;
 * gateio-futures.c uses it): the v4 request frame, errors and acks, and the obu order book
 * come alike on both; only the names of what they trade differ. */
#ifndef GATEIO_H
#define GATEIO_H

#include "norm.h"
#include "xch.h"

/* Limits that keep a hostile frame from growing a kept book without bound. */
#define GATEIO_MAX_DEPTH 5000        /* largest depth a stream name may announce */
#define GATEIO_MAX_FRAME_LEVELS 5000 /* levels per side in one frame */

/* A kept book, and where the reader keeps it per symbol (in its norm_state). */
struct gateio_book {
	struct book *book; /* NULL until the symbol's first book message */
	int synced;        /* a snapshot was applied and no gap seen since */
	int64_t last;      /* u of the last message applied */
};
typedef struct gateio_book *(*gateio_book_fn)(struct norm *n, const char *sym);

/* The amounts of SYM's book are sent x *MULT (NULL: as they are). Returns 0, 1 when its
 * book line is to be left out (said and counted already), -1 after norm_fail. */
typedef int (*gateio_scale_fn)(struct norm *n, const char *sym, const char **mult);

/* A channel, subscribed when the chosen channels include one of CHANNELS. */
struct gateio_channel {
	int channels;
	const char *name;
};

/* What talking to one product and reading it needs to know. */
struct gateio_product {
	/* Its channels, one subscribe request each, in order; OBU is the order book's. */
	const struct gateio_channel *channels;
	int nchannels;
	const char *obu;
	/* Gate's name of relay symbol SYM ("BTC_USDT"), or with BOOK its obu stream name
	 * ("ob.BTC_USDT.50"), into OUT (N bytes). Returns its length, or -1 for a symbol the
	 * product has no market for. */
	int (*name)(const char *sym, int book, char *out, size_t n);
	const char *hint; /* said after "bad symbol X": what the product's symbols look like */
	/* The relay symbol of Gate's name S (LEN bytes) into SYM (SYM_MAX bytes); -1 when it
	 * names none. */
	int (*symbol)(const char *s, size_t len, char *sym);
	const char *what;      /* what the names name, for messages: "currency pair", "contract" */
	gateio_book_fn state;  /* the symbol's kept book */
	gateio_scale_fn scale; /* NULL: amounts as sent */
};

int gateio_url_of(const struct gateio_product *pr, const struct xch_sub *sub, const char *base, char *out,
		  size_t n, char *err, size_t errlen);
int gateio_subscribe_of(const struct gateio_product *pr, const struct xch_sub *sub, int i, char *out,
			size_t n);
int gateio_resync_of(const struct gateio_product *pr, const struct xch_sub *sub, const char *symbol, int i,
		     char *out, size_t n);

/* Reads string token T as PR's symbol into SYM, or fails. */
int gateio_symbol_of(const struct gateio_product *pr, struct norm *n, const struct js_doc *d, int t,
		     char *sym);

/* The incremental books. GATEIO_OBU (order book V2, spot.obu and futures.obu): a full:true
 * snapshot, then increments that must each start at the previous one's end + 1 (U == u + 1).
 * GATEIO_UPDATE_V1 (spot.order_book_update) is read from its full:true snapshots with Gate's
 * rule for it: stale updates are dropped, U <= u + 1 <= u' applies, U > u + 1 is a gap. */
enum gateio_book_kind { GATEIO_OBU, GATEIO_UPDATE_V1 };
/* Applies book message R (a channel's result object) to its symbol's kept book and writes
 * the book line; a gap or a crossed book drops the book and asks for a resync. */
int gateio_read_book(const struct gateio_product *pr, struct norm *n, const struct js_doc *d, int r,
		     enum gateio_book_kind kind);

/* Reads FRAME when it is an exchange error or the ack of a subscribe or unsubscribe request
 * (CH, EV and ERR: its channel, event and error members, CH a string): returns 1 when it was
 * one, 0 when it is data. */
int gateio_read_reply(struct norm *n, const struct js_doc *d, int frame, int ch, int ev, int err);

#endif
