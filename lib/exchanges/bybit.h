/* bybit.h: what Bybit's spot and linear feeds share (bybit.c): requests, trades, books and
 * replies come in the same frames on every category; only the topics and the spelling of
 * symbols differ. */
#ifndef BYBIT_H
#define BYBIT_H

#include "norm.h"
#include "xch.h"

/* A topic of one symbol: PREFIX + Bybit's name of the symbol, subscribed when the chosen
 * channels include one of CHANNELS. */
struct bybit_topic {
	int channels;
	const char *prefix;
};

/* What talking to one category needs: its topics, in the order a symbol's travel
 * together, and its names. */
struct bybit_product {
	const struct bybit_topic *topics;
	int ntopics;
	int max_args; /* topics per subscribe request */
	/* Bybit's name of relay symbol SYM into OUT (SYM_MAX bytes): its length, or -1 for a
	 * symbol the category has no market for. */
	int (*name)(const char *sym, char *out);
	const char *hint; /* said after "bad symbol X": what the category's symbols look like */
};

int bybit_url_of(const struct bybit_product *pr, const struct xch_sub *sub, const char *base, char *out,
		 size_t n, char *err, size_t errlen);
int bybit_subscribe_of(const struct bybit_product *pr, const struct xch_sub *sub, struct xch_conn *conn,
		       int i, char *out, size_t n);
int bybit_resync_of(const struct bybit_product *pr, const struct xch_sub *sub, struct xch_conn *conn,
		    const char *symbol, int i, char *out, size_t n);

/* Reads the relay symbol of Bybit's symbol token T into SYM (SYM_MAX bytes), or fails. */
typedef int (*bybit_symbol_fn)(struct norm *n, const struct js_doc *d, int t, char *sym);

/* A kept book, and where the reader keeps it per symbol (in its norm_state). */
struct bybit_book {
	struct book *book;
	int synced;        /* a snapshot was applied and no fault seen since */
	int64_t u;         /* u of the last message applied */
	int64_t cross_seq; /* seq of the last message applied; -1: it had none */
	int64_t resync_at; /* local_ts + 1 of the last resync request, 0: none pending */
};
typedef struct bybit_book *(*bybit_book_fn)(struct norm *n, const char *sym);

/* publicTrade.<symbol> frames' DATA (an array of trades). */
int bybit_read_trades(struct norm *n, const struct js_doc *d, int data, bybit_symbol_fn symbol);
/* orderbook.<depth>.<symbol>: FRAME, its TOPIC token and its DATA. */
int bybit_read_book(struct norm *n, const struct js_doc *d, int frame, int topic, int data,
		    bybit_symbol_fn symbol, bybit_book_fn state);
/* {"success":..,"ret_msg":..,"op":OP} answers to requests. */
int bybit_read_reply(struct norm *n, const struct js_doc *d, int o, int op);
enum xch_frame bybit_classify(const char *f, size_t n);

#endif
