/* norm.h: writing normalized lines (design.md's contract), shared by every exchange's reader.
 *
 * What a reader remembers between lines (a kept book, where its sequence stands, the last
 * trade relayed) is a struct of its own, defined in its file and reached through
 * norm_state() per symbol or norm_stream_state() for the exchange's whole feed: created
 * zeroed on first use, freed by norm_free. Nothing else here is a reader's to borrow. */
#ifndef NORM_H
#define NORM_H

#include <stddef.h>
#include <stdint.h>

#include "dec.h"
#include "json.h"
#include "jw.h"
#include "sym.h"

struct xch;

/* Why a line could not be converted; each has a counter (exchange_convert_errors_total{reason}). */
enum norm_reason {
	NR_TOO_LONG,  /* longer than the line limit */
	NR_JSON,      /* not JSON */
	NR_UTF8,      /* invalid UTF-8 */
	NR_ENVELOPE,  /* JSON, but not an envelope line */
	NR_EXCHANGE,  /* an exchange this build does not know */
	NR_SHAPE,     /* valid JSON of a shape the exchange's reader does not know */
	NR_FIELD,     /* a field missing or of the wrong type */
	NR_NUMBER,    /* a number that is not a decimal, or absurd */
	NR_SYMBOL,    /* a symbol that cannot be mapped to BASE-QUOTE */
	NR_BOOK,      /* an order book that cannot be right (crossed, out of order) */
	NR_PRICE,     /* a trade or book level priced at zero or below (that one is left out) */
	NR_AMOUNT,    /* a trade amount not above zero, a negative book amount (left out) */
	NR_CONTRACT,  /* amounts of an instrument whose contract size is not known (yet), or that
	               * cannot be given in base units exactly (inverse contracts): left out */
	NR_UNSUBSCRIBED, /* a line of an all-instruments channel for an instrument the feed did
	                  * not subscribe (left out) */
	NR_INTERNAL,  /* a trade the venue marks as no market trade (Gate's is_internal: left out) */
	NR_COUNT
};
const char *norm_reason_name(enum norm_reason r);

/* Per (exchange, symbol) state kept across lines: book conflation, and the reader's own
 * (norm_state). Private to norm.c. */
struct norm_sym;

struct norm {
	struct jw *w;                /* lines are appended here */
	const struct xch *x;         /* exchange of the current line */
	int64_t local_ts;            /* its receive time */
	int book_depth;              /* top-N of book lines */
	int64_t book_interval_us;    /* conflation interval; 0: every book */
	/* Called when a book must be rebuilt from scratch (gap, bad checksum, crossed). */
	void (*resync)(void *ctx, const struct xch *x, const char *symbol, const char *why);
	/* Called when a book's checksum did not match (before the resync). */
	void (*checksum)(void *ctx, const struct xch *x);
	/* Called for every line with an exchange time: local_ts - ts in µs. */
	void (*latency)(void *ctx, const struct xch *x, int64_t us);
	/* Called for each trade or book level left out of a frame whose other lines and levels
	 * are kept (NR_PRICE, NR_AMOUNT); WHY says what was wrong. */
	void (*skipped)(void *ctx, const struct xch *x, enum norm_reason r, const char *why);
	void *ctx;
	/* Set by norm_fail. */
	enum norm_reason reason;
	char why[160];
	/* Counts of lines written per type, for metrics. */
	uint64_t lines_trade, lines_ticker, lines_book, lines_status, lines_derivative,
		lines_liquidation, resyncs;
	/* private */
	size_t line_start, line_start_book, line_head, line_fields;
	enum norm_reason drop; /* NR_COUNT, or why the trade line being written is left out */
	int crossed;
	size_t npending;
	struct norm_sym **syms;
	size_t nsyms, capsyms;
	char prev_px[DEC_MAX], best_bid[DEC_MAX];
	size_t prev_len, best_bid_len;
	int side, nlevels, have_bid;
	const char *book_sym;
};

void norm_init(struct norm *n, struct jw *w);
void norm_free(struct norm *n);

/* Records why the current frame failed; returns -1 for the reader to return. */
int norm_fail(struct norm *n, enum norm_reason r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The current exchange's reader state for SYM: SIZE bytes, zeroed when first asked for.
 * RELEASE, unless NULL, frees what the state holds (a book, buffers) at norm_free, before
 * norm frees the state itself. Every call for one reader passes the same SIZE and RELEASE.
 * NULL when out of memory or SYM is too long. */
void *norm_state(struct norm *n, const char *sym, size_t size, void (*release)(void *));
/* The same for the exchange's feed as a whole (a sequence that spans every symbol, scratch
 * space): one per exchange, whatever the symbol. */
void *norm_stream_state(struct norm *n, size_t size, void (*release)(void *));

/* Starts a line: {"type":TYPE,"exchange":...,"symbol":SYM,"ts":TS,"local_ts":...
 * SYM may be NULL (status lines without a symbol); TS < 0 omits "ts". */
void norm_head(struct norm *n, const char *type, const char *sym, int64_t ts);
/* Ends the line: "}\n". */
void norm_end(struct norm *n);

/* "key":<canonical decimal of token T>. Fails (NR_FIELD / NR_NUMBER) when T is missing or
 * not a decimal. norm_dec_opt writes nothing for a missing or null T. */
int norm_dec(struct norm *n, const char *key, const struct js_doc *d, int t);
int norm_dec_opt(struct norm *n, const char *key, const struct js_doc *d, int t);
/* "price":P,"amount":A of a trade from number tokens PX and AMT (norm_dec's rules). A
 * price or an amount that is not above zero does not fail the frame: norm_end_trade leaves
 * that one trade out (NR_PRICE, NR_AMOUNT) and the frame's other trades are kept. */
int norm_price_amount(struct norm *n, const struct js_doc *d, int px, int amt);
/* Ends a trade line begun with norm_head: counts it, or takes it back out when
 * norm_price_amount found it unusable, and tells the skipped hook. */
void norm_end_trade(struct norm *n);

/* "key":<canonical decimal of token T>, unless T is missing, null or "" (how venues say
 * "no value": OKX, Bybit, Binance's funding rate of a delivery contract). */
int norm_dec_sent(struct norm *n, const char *key, const struct js_doc *d, int t);
/* "key":<T x MULT>, T a decimal token counting contracts and MULT a canonical decimal (the
 * contract size; NULL: T as it is); nothing for a missing, null or "" T. Fails (NR_NUMBER)
 * when T is no decimal or the product does not fit. */
int norm_dec_scaled(struct norm *n, const char *key, const struct js_doc *d, int t, const char *mult);
/* Canonical S x MULT (MULT NULL: canonical S) into OUT (DEC_MAX bytes); its length or -1. */
int norm_scale(const char *s, size_t len, const char *mult, char *out);
/* "key":<µs> of time token T (norm_ts's rules), unless T is missing, null, "" or 0 (how
 * venues say "none": Binance's next funding time of a delivery contract). */
int norm_ts_sent(struct norm *n, const char *key, const struct js_doc *d, int t);

/* "price":P,"amount":A with A = token AMT x MULT (norm_dec_scaled), under norm_price_amount's
 * rule for values not above zero. With ABS a negative AMT counts by its size (Gate's signed
 * sizes, whose sign is the side). */
int norm_price_amount_scaled(struct norm *n, const struct js_doc *d, int px, int amt, const char *mult,
			     int abs);

/* Derivative lines (design.md): norm_derivative_begin, the fields present (norm_dec_sent,
 * norm_dec_scaled, norm_ts_sent), norm_derivative_end, which counts the line, or takes it
 * back out when no field was written after local_ts. */
void norm_derivative_begin(struct norm *n, const char *sym, int64_t ts);
void norm_derivative_end(struct norm *n);

/* Liquidation lines: norm_head(n, "liquidation", ...), "id" when sent, norm_price_amount or
 * norm_price_amount_scaled, "side" (that of the liquidation order: "sell" when a long was
 * liquidated), then norm_end_liquidation, which counts the line or, when the price or the
 * amount was not above zero, takes it out and tells the skipped hook (as norm_end_trade). */
void norm_end_liquidation(struct norm *n);

/* SYM's amounts cannot be given in base units (WHY: its contract size is not known yet, it
 * is an inverse contract, ...): the caller leaves the line out, and this counts it and tells
 * the skipped hook (NR_CONTRACT); the first time (*TOLD clear; it is set) it also writes a
 * status line ("error", DETAIL "SYM: WHY"). */
void norm_contract_skip(struct norm *n, const char *sym, int *told, const char *why);
/* A line left out for reason R (NR_UNSUBSCRIBED, NR_INTERNAL, ...): told to the skipped hook. */
void norm_skip(struct norm *n, enum norm_reason r, const char *why);

/* "key":"<text of string token T>" (copied as escaped in the source). */
int norm_str(struct norm *n, const char *key, const struct js_doc *d, int t);
/* "id":"<T as text>" for a number or string token. */
int norm_id(struct norm *n, const char *key, const struct js_doc *d, int t);
/* The taker side from token T of field FIELD: the word BUY gives "buy", SELL gives "sell",
 * a missing or null T "unknown"; anything else fails (NR_FIELD). Words an exchange uses for
 * an unknown side, or a maker's side, are the caller's to map first. */
int norm_side(struct norm *n, const struct js_doc *d, int t, const char *field, const char *buy,
	      const char *sell, const char **side);

/* A whole status line. DETAIL is plain text (escaped here); it may be NULL. */
void norm_status(struct norm *n, const char *event, const char *sym, const char *detail);
/* Same, with the detail taken from string token T of D (already escaped). */
void norm_status_tok(struct norm *n, const char *event, const char *sym, const struct js_doc *d,
		     int t);

/* An exchange error as a status line: detail "<code>: <message>" from tokens CODE and MSG
 * (either may be missing). */
void norm_status_error(struct norm *n, const struct js_doc *d, int code, int msg);

/* Timestamp token T in µs (*us = -1 when T is missing or null): an epoch number in s, ms,
 * µs or ns (told by magnitude, a fraction allowed), the same as a string, or an RFC 3339
 * string ("2023-02-09T20:32:50.714964855Z"). Fails with NR_FIELD otherwise. */
int norm_ts(struct norm *n, const struct js_doc *d, int t, int64_t *us);

/* Book lines. Levels are given best first; prices and amounts are decimal text. Levels with
 * a zero amount are skipped; any other level priced at zero or below, or with a negative
 * amount, is left out and told to the skipped hook; at most book_depth are kept per side. Out-of-order
 * levels fail with NR_BOOK; a crossed book emits a resync status, asks for a resync, and
 * fails. With a conflation interval the finished line may be held back (norm_flush). */
void norm_book_begin(struct norm *n, const char *sym, int64_t ts);
int norm_book_level(struct norm *n, const char *px, size_t pn, const char *qty, size_t qn);
void norm_book_asks(struct norm *n);
/* Every level of side ARR, an array of [price, amount, ...] arrays (js_numpair), by
 * norm_book_level. Fails (NR_FIELD) when ARR or one of its levels is not of that shape. */
int norm_book_side(struct norm *n, const struct js_doc *d, int arr);
int norm_book_end(struct norm *n);

/* A whole book line from a kept book (lib/book.h): its best book_depth levels per side,
 * copied as they are (a kept book's levels are canonical, ordered and non-zero). A crossed
 * book writes a resync status line and calls the resync hook instead, and returns 0. */
struct book;
int norm_book_from(struct norm *n, const struct book *b, const char *sym, int64_t ts);
/* The same with every amount x MULT (a kept book in contracts, sent in base units; MULT NULL:
 * as norm_book_from). A level whose product does not fit is left out (NR_NUMBER, told to
 * the skipped hook). */
int norm_book_from_scaled(struct norm *n, const struct book *b, const char *sym, int64_t ts,
			  const char *mult);

/* A book must be rebuilt: writes the resync status line and calls the resync hook. The
 * caller drops its book first, so clients never see one built across a gap. */
void norm_resync(struct norm *n, const char *sym, const char *why);
/* Same, for a checksum mismatch: also counted as such. */
void norm_checksum_failed(struct norm *n, const char *sym, const char *why);

/* Appends conflated book lines whose interval has passed by NOW (a local_ts), or all of
 * them when ALL is set (end of input). */
void norm_flush(struct norm *n, int64_t now, int all);

/* Rolls back everything written for the current frame (called by the frame's driver). */
static inline void norm_frame_begin(struct norm *n) { n->line_start = n->w->len; }
static inline void norm_frame_rollback(struct norm *n) { n->w->len = n->line_start; n->w->err = 0; }

#endif
