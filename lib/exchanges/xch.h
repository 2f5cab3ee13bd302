/* xch.h: what the relay knows about one exchange — how to talk to it and how to read it.
 *
 * Adding an exchange is adding its file (lib/exchanges/<name>.c) and a line in exchanges.c.
 * Its code keeps no mutable static state: what the talking half remembers between messages
 * (request ids, a request budget) lives in the struct xch_conn ingest keeps per connection,
 * and what the reading half remembers between lines in its own struct behind norm_state()
 * (norm.h). */
#ifndef XCH_H
#define XCH_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "sym.h"

struct norm;

enum xch_channel {
	XCH_TRADE = 1,
	XCH_TICKER = 2,
	XCH_BOOK = 4,
	XCH_BOOK_FULL = 8, /* with XCH_BOOK ("book:full"): the whole book from deltas and a REST
	                    * snapshot, where the exchange offers both (Binance) */
	XCH_DERIVATIVE = 16,  /* mark and index prices, funding, open interest ("derivative") */
	XCH_LIQUIDATION = 32, /* liquidations ("liquidation") */
};
/* Spot exchanges have no derivative or liquidation channels and ignore those bits. */
#define XCH_ALL_CHANNELS (XCH_TRADE | XCH_TICKER | XCH_BOOK | XCH_DERIVATIVE | XCH_LIQUIDATION)
#define XCH_MAX_SYMBOLS 256
/* Channel groups an exchange may need separate connections for (xch_proto.split). */
#define XCH_MAX_GROUPS 4

/* What one ingest connection subscribes to. Symbols are in the relay's form: BASE-QUOTE,
 * BASE-QUOTE-PERP, BASE-QUOTE-YYYYMMDD (sym.h). */
struct xch_sub {
	int channels;
	int nsym;
	char sym[XCH_MAX_SYMBOLS][SYM_MAX];
};

/* Requests a connection may spend in a rolling window (xch_budget_*): room for the largest
 * allowance any exchange gives. */
#define XCH_BUDGET_MAX 256

/* What the talking half remembers about one connection between messages. ingest keeps one
 * per connection, zeroed when the process starts and kept across reconnects; each protocol
 * resets what it counts per connection itself (subscribe message 0 starts a connection). */
struct xch_conn {
	unsigned next_id;                   /* request ids: each numbered request takes one */
	int budget_n;                       /* requests spent in the window, oldest first: */
	int64_t budget_at[XCH_BUDGET_MAX];  /* when each was sent (clk_mono_us) */
	/* The exchange's name of each subscribed symbol (xch_sub.sym[i]) where only its
	 * metadata tells it (proto.learn: Hyperliquid's "kPEPE", spot pairs "@107"); "" where
	 * the name follows from the symbol. */
	char wire[XCH_MAX_SYMBOLS][SYM_MAX];
};

/* What ingest does with a frame it received. */
enum xch_frame {
	XCH_FORWARD,   /* data, acks, exchange errors: write an envelope line */
	XCH_HEARTBEAT, /* keep-alive replies: counted, not forwarded */
	XCH_RECONNECT, /* the exchange announced it will close: reconnect now */
};

/* The wire protocol half, used by ingest. */
struct xch_proto {
	/* Full URL for SUB, built on BASE (the default or the user's --url). Returns 0, or -1
	 * with ERR when the subscription cannot be expressed (too many streams, bad symbol). */
	int (*url)(const struct xch_sub *sub, const char *base, char *out, size_t n, char *err,
		   size_t errlen);
	/* Message I (0, 1, ...) to send once connected on connection CONN. Returns its length,
	 * 0 when there are no more, -1 when it does not fit. */
	int (*subscribe)(const struct xch_sub *sub, struct xch_conn *conn, int i, char *out, size_t n);
	/* Message I (0, 1, ...) that resubscribes SYMBOL's book after a gap (unsubscribe, then
	 * subscribe, say). Returns its length, 0 when there are no more (0 for I = 0 means
	 * "reconnect instead"), -1 when it does not fit. */
	int (*resync)(const struct xch_sub *sub, struct xch_conn *conn, const char *symbol, int i,
		      char *out, size_t n);
	int resync_all;             /* one resync request refreshes every symbol (Upbit) */
	/* Where books come from a REST snapshot (XCH_BOOK_FULL): the snapshot's URL for SYMBOL,
	 * derived from the WebSocket base WS_BASE, and the stream name its envelope line carries
	 * (the body is wrapped as {"stream":TAG,"data":BODY}). A resync then fetches it instead
	 * of sending messages. Returns 0, or -1 when it does not fit. NULL: no REST snapshots. */
	int (*rest)(const struct xch_sub *sub, const char *ws_base, const char *symbol, char *url,
		    size_t urln, char *tag, size_t tagn);
	/* Instrument metadata the reader needs before it can convert amounts (contract sizes)
	 * or name instruments: request I (0, 1, ...) for SUB. URL is derived from WS_BASE as
	 * for `rest`; BODY, when not empty, is sent with POST as application/json (Hyperliquid's
	 * info endpoint), else the request is a GET; TAG is the stream name of its envelope
	 * line, {"stream":TAG,"data":BODY}, as for `rest`. ingest fetches every request when a
	 * connection opens, before it subscribes, so a recording holds the metadata ahead of
	 * the data it explains. Returns 1 when request I was written, 0 when there are no more,
	 * -1 when it does not fit. NULL: no metadata. */
	int (*meta)(const struct xch_sub *sub, const char *ws_base, int i, char *url, size_t urln,
		    char *body, size_t bodyn, char *tag, size_t tagn);
	/* Reads metadata request TAG's answer BODY (LEN bytes) for the talking half: names the
	 * exchange gives SUB's symbols only there go to CONN->wire before subscribing. ingest
	 * calls it for every metadata answer before it writes its envelope line. Returns 0, or
	 * -1 when BODY cannot be read (the defaults stay). NULL: nothing to learn. */
	int (*learn)(const struct xch_sub *sub, struct xch_conn *conn, const char *tag, const char *body,
		     size_t len);
	/* Channel groups that need a connection each (Binance USDⓈ-M routes books to /public
	 * and the rest to /market): ingest opens one connection per group holding a chosen
	 * channel, its xch_sub's channels cut to the group, and url() routes by the channels it
	 * is given; a book resync goes to the connection holding XCH_BOOK. All zero: one
	 * connection for everything. */
	int split[XCH_MAX_GROUPS];
	int sub_gap_ms;             /* pause between subscribe messages (rate limits) */
	enum xch_frame (*classify)(const char *frame, size_t n);
	int keepalive_ms;           /* the client sends a keep-alive this often (0: never) */
	const char *keepalive_text; /* as a text frame; NULL: as a WebSocket ping frame */
	int idle_timeout_ms;        /* nothing received for this long: the connection is dead */
	int64_t max_age_ms;         /* reconnect before the exchange's connection limit (0: none) */
	int binary_is_text;         /* binary frames carry JSON text (Upbit) */
	size_t max_frame;           /* largest frame the exchange sends, when above ingest's
	                             * default (Coinbase's full-depth book snapshots) */
};

struct xch {
	const char *name;           /* lower-case id, used in every line */
	const char *default_url;
	const char *default_symbols; /* comma list used when the user names none */
	struct xch_proto proto;
	/* The reading half, used by convert: appends normalized lines for the frame DATA
	 * (token index in D) to N. Returns 0, or -1 after norm_fail() said why. */
	int (*normalize)(struct norm *n, const struct js_doc *d, int data);
};

/* Every exchange the relay knows, NULL-terminated (exchanges.c). */
extern const struct xch *const xch_all[];
/* The exchange called NAME, or NULL. */
const struct xch *xch_find(const char *name, size_t len);
/* The scheme and host of the REST endpoint beside WebSocket endpoint WS_BASE, into OUT (N
 * bytes, cut to fit): REST_DEFAULT when WS_BASE is the exchange's own WS_DEFAULT, else
 * WS_BASE's own host and port over http(s) to match (a test's fake exchange, a proxy).
 * Returns 0, or -1 when WS_BASE has no scheme. */
int xch_rest_host(const char *ws_base, const char *ws_default, const char *rest_default, char *out,
		  size_t n);
/* Parses a comma list of channels ("trade,ticker,book", "book:full", "derivative",
 * "liquidation") into XCH_* bits; -1 when unknown. */
int xch_parse_channels(const char *list);

#endif
