/* binance.h: what Binance's spot and USDⓈ-M futures feeds share (binance.c;
 * binance-futures.c uses it): resubscribe requests and the shutdown notice, trade and ticker
 * events; a full book is
 * the diff stream bridged to a REST snapshot, and the diff events that come before the
 * snapshot wait in a bounded queue. Only the rule that chains one event to the next differs,
 * and stays with each reader. */
#ifndef BINANCE_H
#define BINANCE_H

#include "book.h"
#include "norm.h"
#include "xch.h"

/* The request that subscribes STREAM again after a gap, numbered from the connection's
 * request ids (CONN). Returns its length, or -1 when it does not fit. */
int binance_resubscribe(struct xch_conn *conn, const char *stream, char *out, size_t n);
/* A "serverShutdown" notice asks for a reconnect. */
enum xch_frame binance_classify(const char *f, size_t n);

/* The line of trade event O (aggTrade with AGG, else trade) about SYM at TS; M is its m
 * token (the buyer is the maker: the taker sold), checked to be a boolean. */
int binance_trade_line(struct norm *n, const struct js_doc *d, int o, int agg, int m, const char *sym,
		       int64_t ts);
/* The line of ticker event O (24hrTicker, 24hrMiniTicker, bookTicker: the fields each
 * carries) about SYM at TS. */
int binance_ticker_line(struct norm *n, const struct js_doc *d, int o, const char *sym, int64_t ts);

/* Diff events wait here, as sent, while the snapshot is on its way. */
struct binance_event {
	char *text;
	size_t len;
	int64_t first, last; /* U and u */
};
struct binance_pending {
	struct binance_event *ev;
	int n, cap;
	size_t bytes;
};
/* Queues a copy of event TEXT (LEN bytes); -1 when the queue is full or memory runs out. */
int binance_pending_add(struct binance_pending *p, const char *text, size_t len, int64_t first,
			int64_t last);
/* Frees every queued event; the queue is empty and usable again. */
void binance_pending_clear(struct binance_pending *p);

/* Sets every level of side ARR, an array of [price, amount] pairs, into B; fails on a level
 * that is no such pair or that the book rejects. */
int binance_set_side(struct norm *n, struct book *b, enum book_side side, const struct js_doc *d, int arr);

/* Asks for a (new) snapshot of SYM with a resync line saying WHY, unless one was asked for
 * less than ten seconds ago; *ASKED_AT is the local_ts of the last request (0: ask now). */
void binance_want_snapshot(struct norm *n, int64_t *asked_at, const char *sym, const char *why);

/* The feed's parser for buffered events, kept for the whole feed (norm_stream_state);
 * NULL when out of memory. */
struct js_doc *binance_feed_parser(struct norm *n);

#endif
