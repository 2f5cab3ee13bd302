/*
 * fakex.h: the fake exchange's core, and the table each exchange's dialect fills in.
 *
 * The core knows no exchange: it serves WebSocket connections (server.c), loads and
 * replays a recording (recording.c, replay.c), keeps connections alive or cuts them
 * (keepalive.c), takes control commands and injects faults (control.c), and parses
 * client requests with the project's JSON tokenizer (request.c).  What differs between
 * exchanges is one struct dialect per exchange, in one file each (binance.c, upbit.c,
 * coinbase.c, bybit.c, okx.c, kraken.c, bitget.c, gateio.c, and the derivatives venues'
 * binance-futures.c, bybit-linear.c, bitget-futures.c, gateio-futures.c, hyperliquid.c;
 * OKX plays spot and swaps alike), listed in main.c.
 * fakex.md says what each dialect does and how to add one.
 *
 * One lws event loop, no threads; every delay is an lws_sul timer or the replay timerfd.
 */
#ifndef FAKEX_H
#define FAKEX_H

#include <libwebsockets.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"
#include "../common/tool.h"

#define MAX_IN_MSG	(64 * 1024)		/* bigger client messages: close 1009 */
#define QUEUE_CAP	(1024 * 1024)		/* per-connection data backlog */
#define PING_RING	16			/* our WS pings remembered per connection */
#define MAX_HUNG	64			/* connections left unanswered (hang on) */

/* ------------------------------------------------------------------ */
/* small utilities (util.c) */

int64_t mono_us(void);
int64_t wall_us(void);

/* A growable, always NUL-terminated byte string.  Allocation failure is sticky (oom) so
 * callers can build a whole line and check once. */
struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

int sb_reserve(struct sbuf *b, size_t extra);
void sb_add(struct sbuf *b, const void *s, size_t n);
void sb_adds(struct sbuf *b, const char *s);
void sb_addc(struct sbuf *b, char ch);
__attribute__((format(printf, 2, 3)))
void sb_addf(struct sbuf *b, const char *fmt, ...);
void sb_free(struct sbuf *b);
/* Appends S as a JSON string literal; invalid UTF-8 becomes U+FFFD, so the events file
 * stays valid JSON whatever a client sends. */
void sb_json_str(struct sbuf *b, const char *s, size_t n);

extern int log_level;
/* One logfmt line on stderr: ts, level, tool, msg (always quoted: the tests that read
 * fakex's log rely on it), then the caller's key=value pairs, quoted with lq(). */
__attribute__((format(printf, 3, 4)))
void fxlog(int lv, const char *msg, const char *kvfmt, ...);
/* lws's own warnings and errors, in our log format. */
void lws_log_emit(int level, const char *line);
/* LOG_LEVEL's value when it names a level, else LV_INFO. */
int log_level_from(const char *name);

void rng_seed(uint64_t seed);
uint64_t rng_next(void);
/* DIGITS random lower-case hex digits and a NUL. */
void hex_id(char *out, size_t digits);
/* RFC 3339 UTC with DIGITS fraction digits (6 or 9) from µs. */
void fmt_rfc3339(char *buf, size_t n, int64_t us, int digits);

/* Shapes of names in requests. */
int in_list(const char *s, const char *const *list);
int in_list_span(const char *s, size_t n, const char *const *list);
int alnum_up(const char *s, size_t n);	/* upper-case letters and digits, 1..40 */
int pair_ok(const char *s, char sep, int maxparts); /* BASE<sep>QUOTE[<sep>...] */
int alnum_id(const char *s, size_t max);	/* letters and digits, 1..MAX */

/* The events file: one compact JSON line per event, flushed at once. */
void event_emit(struct sbuf *b);
void event_simple(const char *name);
/* {"event":NAME,"streams":[KEYS...]} */
void event_keys(const char *name, char *const *keys, int n);

/* ------------------------------------------------------------------ */
/* the recording (recording.c) */

/* One replayable line. */
struct rline {
	const char *frame;	/* the "data" value of the envelope, as written */
	size_t frame_len;
	const char *inner;	/* the frame's payload without its wrapper, when the dialect
				 * sends it so on some connections (Binance's raw streams) */
	size_t inner_len;
	int64_t ts;		/* local_ts, µs */
	int key;		/* interned routing key, -1 if none */
	signed char snapshot;	/* 1 a snapshot, 0 a realtime frame, -1 neither (filtering
				 * by WANT_SNAP/WANT_RT: Upbit's stream_type, Kraken's type) */
	unsigned char book;	/* a frame of an order book stream */
	unsigned char book_snap; /* ... that holds the whole book */
	uint32_t mark_off, mark_len; /* a span of the frame the dialect rewrites when it sends
				      * the frame (Coinbase's sequence_num); len 0: none */
};

extern struct recording {
	char *buf;
	size_t size;
	struct rline *lines;
	size_t n, cap;
	char **keys;
	size_t nkeys, keycap;
	int *slots;		/* open addressing: key id + 1, 0 = empty */
	size_t nslots;
	int64_t avg_gap;	/* µs between lines, used when --pace real loops */
} rec;

int rec_load(const char *path);
void rec_free(void);
int key_lookup(const char *s, size_t n);
/* Returns the key's id, or -1 when out of memory. */
int key_intern(const char *s, size_t n);
/* Interns "A|B" (or "A|B|C" when c is given). */
int key_join(const char *a, size_t an, const char *b, size_t bn, const char *c, size_t cn);
#define KEY_OOM (-2)	/* a frame hook's answer when interning failed and loading must stop */

/* Frame hooks read the recorded frame with lib/json: the plain (unescaped) string value of
 * member KEY of object O, and whether it equals LIT. */
int fr_str(const struct js_doc *d, int o, const char *key, const char **s, size_t *n);
int fr_is(const struct js_doc *d, int o, const char *key, const char *lit);
int span_is(const char *s, size_t n, const char *lit);
int span_starts(const char *s, size_t n, const char *lit);
/* The exact text of token T: a string with its quotes. */
void tok_span(const struct js_doc *d, int t, const char **s, size_t *n);

/* ------------------------------------------------------------------ */
/* connections (server.c) */

enum mkind { MK_DATA, MK_STATUS, MK_PONG, MK_HEARTBEAT, MK_OTHER };

/* One outgoing frame, shared by reference when broadcast (huge frames would otherwise be
 * copied per client).  lws_write() needs LWS_PRE bytes of headroom in front of the
 * payload, and rewrites them on each write. */
struct msg {
	int refs;
	enum mkind kind;
	enum lws_write_protocol wp;
	size_t len;
	unsigned char buf[];
};

struct qnode {
	struct qnode *next;
	struct msg *m;
};

/* What a connection wants of a routing key. */
#define WANT_SNAP 1
#define WANT_RT   2
#define WANT_ALL  3

/* A list of keys with WANT_* bits: a connection's subscriptions, or a request's keys
 * before they are applied. */
struct keyset {
	char **k;
	unsigned char *bits;
	int n;
};

int ks_find(const struct keyset *s, const char *key);
/* Appends KEY.  Returns 0, or -1 when out of memory. */
int ks_push(struct keyset *s, const char *key, unsigned bits);
/* Appends "A|B" (or "A|B|C" when c is given). */
int ks_pushf(struct keyset *s, unsigned bits, const char *a, const char *b, const char *c);
/* Adds KEY, or sets its bits when it is there.  Returns 1 if added, 0 if it was there,
 * -1 when out of memory. */
int ks_add(struct keyset *s, const char *key, unsigned bits);
/* Returns 1 if KEY was there. */
int ks_del(struct keyset *s, const char *key);
void ks_free(struct keyset *s);

enum { ENDLESS_LENGTH = 1, ENDLESS_FRAGMENTS };

struct conn {
	struct lws *wsi;
	struct conn *prev, *next;
	unsigned id;
	int established, closing, tls;
	int64_t since_us;
	char *path;
	void *x;		/* the dialect's own state (dialect.conn_size bytes, zeroed) */
	char conn_id[40];	/* the exchange's name for the connection, if it gives one */
	struct keyset subs;	/* subscribed routing keys (not Upbit's: its want hook) */
	int unwrapped;		/* send a frame's inner payload where it has one */

	/* output */
	struct qnode *qhead, *qtail;
	size_t queued;
	int close_code;
	char close_reason[64];
	unsigned char *scratch;
	size_t scratch_cap;

	/* input */
	struct sbuf rx;		/* the client message being read */
	int rx_in_msg, rx_binary;
	int64_t last_rx_us;
	int64_t rl_start_us;
	int rl_count;

	/* replay */
	unsigned char *want;	/* per routing key: WANT_* bits */
	int has_sub;
	int ever_sub;		/* has_sub was true once */
	int starved;		/* a whole pass matched nothing: wait for a change */
	int done;		/* end of recording reached (no --loop) */
	int running;		/* replay timer is scheduled */
	int64_t replay_at;	/* when it runs (mono_us) */
	size_t cursor;
	uint64_t pass;		/* --loop: passes of the recording completed */
	uint64_t live_at;	/* --live: absolute line count reached */
	int live_joined;
	int64_t base_us, due_us;
	uint64_t paced, sent, skipped;

	/* keep-alive */
	lws_sorted_usec_list_t sul_ping, sul_pong, sul_idle, sul_hb;
	int64_t last_tx_us;	/* a frame was written */
	int ping_pending;
	struct {
		uint64_t payload;
		int64_t sent_us;
	} pings[PING_RING];
	int nping, pong_armed;
	int hb_on;		/* heartbeat timer running */

	/* faults on command */
	long skip_left;		/* recorded frames still to drop (skip N) */
	int corrupt_pending;	/* the next checksum sent gets another value */
	int endless;		/* an endless message (ENDLESS_*) replaces everything else */
	long endless_bps;	/* its pace, bytes a second */
	int endless_started;	/* its header (or first fragment) went out */
	size_t endless_hdr_off;	/* bytes of the raw header written (ENDLESS_LENGTH) */
	uint64_t endless_due;	/* payload bytes due and not yet written */
	int64_t endless_at;	/* when endless_due was last brought up to date */
	lws_sorted_usec_list_t sul_endless;
};

struct msg *msg_new(const void *data, size_t len, enum lws_write_protocol wp,
		    enum mkind kind);
void msg_unref(struct msg *m);
int conn_push(struct conn *c, struct msg *m);
/* Queues a control-plane answer (acks, errors, status): always kept, as they are small
 * and bounded by the client's own request rate. */
void conn_send(struct conn *c, const char *text, size_t len, enum lws_write_protocol wp,
	       enum mkind kind);
/* conn_send of B's text as a text frame, then B is freed. */
void conn_sb(struct conn *c, struct sbuf *b, enum mkind kind);
void conn_text(struct conn *c, const char *s, enum mkind kind);
void conn_close(struct conn *c, int code, const char *reason);
/* Queues M on every connection that takes frames; returns how many. */
int broadcast(struct msg *m);
/* The frame type of recorded data: binary for the dialects that send it so. */
enum lws_write_protocol data_wp(void);
int cb_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	  size_t len);

/* ------------------------------------------------------------------ */
/* replay (replay.c) */

int replay_can_run(const struct conn *c);
/* (Re)starts replay after anything that may have stopped it. */
void replay_kick(struct conn *c);
/* The replay timer fired: run every connection that is due. */
void replays_due(void);
int replay_timer_start(void);
/* The furthest line any connection's replay has reached. */
size_t replay_reach(void);
/* The next line C wants and the pass of the recording it belongs to, or NULL. */
const struct rline *replay_take(struct conn *c, uint64_t *pass);
/* The frame sent for L of pass PASS on C; valid until the next call. */
const char *line_render(struct conn *c, const struct rline *l, uint64_t pass, size_t *n);
/* A `skip` fault eats this line.  Returns 1 when it did. */
int fault_skip(struct conn *c, const struct rline *l);
/* Recomputes C's want[] from its subscriptions (and the dialect's want hook). */
void want_recompute(struct conn *c);
/* A new subscription to a book stream starts with a whole book. */
void book_catch_up(struct conn *c, const char *key);
void live_pause(void);
void live_play(void);
void live_start(void);
/* REST answers from the recording, which holds them as ingest wrote them:
 * {"stream":TAG,"data":BODY}.  Returns the latest such line that MATCH accepts (its
 * BODY at token DATA of D) not after the replay's furthest position, else the first it
 * accepts, or NULL.  The answer is the line's inner span (the frame hook sets it). */
const struct rline *rest_answer(const char *tag,
				int (*match)(const struct js_doc *d, int data, void *arg),
				void *arg);
/* Calls EACH for every recorded REST answer with stream name TAG (its BODY at token DATA
 * of D), in order. */
void rest_each(const char *tag, void (*each)(const struct js_doc *d, int data, void *arg),
	       void *arg);

/* ------------------------------------------------------------------ */
/* keep-alive (keepalive.c) */

void keepalive_start(struct conn *c);
void keepalive_stop(struct conn *c);
/* Starts the --heartbeat-interval timer (dialect.heartbeat is called on each tick). */
void hb_start(struct conn *c);
void ping_sent(struct conn *c, uint64_t payload);
int pong_received(struct conn *c, const char *in, size_t len);
/* The last time the client sent anything, WS pings included. */
int64_t client_last_rx(struct conn *c, int64_t now);

/* ------------------------------------------------------------------ */
/* faults and the control socket (control.c) */

int ctl_listen(const char *path);
/* Watches FD in the event loop as a control connection, the control listener or the
 * replay timer.  Returns 0, or -1. */
enum { CTL_CONN, CTL_LISTENER, CTL_TIMER };
int ctl_adopt(int fd, int role);
int cb_ctl(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
	   size_t len);
/* The per-session state of the raw descriptors adopted into the loop. */
struct ctl {
	int role;		/* CTL_* */
	struct sbuf in;		/* the line being read */
	int discarding;		/* inside an over-long line: skip to '\n' */
	struct sbuf out;
	size_t out_off;
};
int hang_take(int fd);
void hang_release(void);
int endless_write(struct conn *c);

/* ------------------------------------------------------------------ */
/* client requests (request.c) */

/* A client request parsed with lib/json: its tokens, and a decoded copy of every string
 * value at the string's own offset, so rq_str() is a plain C string. */
struct req {
	struct js_doc d;
	const char *text;
	size_t len;
	char *dec;
};

/* Parses TEXT (one JSON value).  Returns 0, or -1 when it is not JSON (d.err_at tells
 * where), holds a lone UTF-16 surrogate escape, or memory ran out.  The root is token 0.
 * The caller frees with rq_free, whatever this returned. */
int rq_parse(struct req *r, const char *text, size_t len);
void rq_free(struct req *r);
static inline int rq_type(const struct req *r, int t) { return js_type(&r->d, t); }
/* Member KEY of object O, or -1 (also when O is no object). */
#define rq_get(r, o, lit) js_get(&(r)->d, (o), (lit))
/* The decoded value of string token T, or NULL when T is no string. */
const char *rq_str(const struct req *r, int t);
#define rq_gets(r, o, lit) rq_str((r), rq_get((r), (o), (lit)))
/* Elements of array A (0 when A is no array). */
uint32_t rq_size(const struct req *r, int a);
/* Element I of array A, or -1. */
int rq_at(const struct req *r, int a, uint32_t i);
/* Iterates the elements E of array A. */
#define RQ_EACH(r, a, e) \
	for (int e = rq_first((r), (a)); e >= 0; e = rq_after((r), (a), e))
int rq_first(const struct req *r, int a);
int rq_after(const struct req *r, int a, int e);
/* The exact text of token T (a string with its quotes). */
void rq_raw(const struct req *r, int t, const char **s, size_t *n);
/* The value of number token T.  Returns 0, or -1 when T is no number. */
int rq_num(const struct req *r, int t, double *v);
/* Appends token T as compact JSON: no white space, strings re-escaped and numbers
 * written as cJSON prints them, as an exchange echoes what it parsed. */
void rq_print(const struct req *r, int t, struct sbuf *b);

/* The keyed exchanges' request flow: applies a validated request's keys and writes the
 * event line; the dialect sends its acks, then calls keys_done(). */
void keys_apply(struct conn *c, const struct keyset *ks, int sub);
/* After the acks: fresh books for the new book subscriptions, then replay. */
void keys_done(struct conn *c, const struct keyset *ks, int sub);
/* A rejected request: counted, logged, written to the events file. */
void request_rejected(struct conn *c, const char *why);
/* An application ping was answered. */
void pong_sent_event(struct conn *c);

/* ------------------------------------------------------------------ */
/* the dialect table */

/* One exchange's dialect: everything fakex knows about it.  Hooks may be NULL (the core's
 * default is said at each). */
struct dialect {
	const char *name;	/* --exchange */
	const char *path;	/* the WebSocket path; NULL: the target hook decides */
	int binary;		/* data frames are binary (Upbit, Bithumb) */
	long idle_ms;		/* default --idle-timeout; 0: the doc gives no such rule */
	long ping_ms;		/* default --ping-interval: server WS pings; 0: none */
	int msg_limit;		/* client messages a second before we close; 0: none */
	int pongs_limited;	/* unsolicited WS pongs count against msg_limit */
	size_t conn_size;	/* bytes of per-connection state at conn->x */
	/* --retime: keys of epoch-millisecond times ("\"E\":"), NULL-terminated; NULL: none */
	const char *const *retime_keys;
	/* --loop: keys of trade ids moved on each pass, NULL-terminated; NULL: none */
	const char *const *reid_keys;
	/* `corrupt`: the key whose integer is a book checksum ("\"checksum\":"); NULL: none */
	const char *checksum_key;

	/* The upgrade path (with its "?query").  C is NULL when the upgrade is only checked,
	 * else the new connection to set up (its subscriptions from the URL).  Returns 0, or
	 * an HTTP status with a reason in WHY.  NULL: the path must be `path`. */
	int (*target)(const char *path, struct conn *c, char *why, size_t wl);
	/* Reads recorded frame T of D into L: the routing key's id (or -1: never replayed,
	 * KEY_OOM: stop), book flags, snapshot, inner payload, mark. */
	int (*frame)(struct rline *l, const struct js_doc *d, int t);
	/* A connection was established (state zeroed at c->x) / is gone: free what x holds. */
	void (*open)(struct conn *c);
	void (*closed)(struct conn *c);
	/* One complete client message, text or binary. */
	void (*request)(struct conn *c, const char *text, size_t len);
	/* Adds to c->want and c->has_sub what c->subs does not say. */
	void (*want)(struct conn *c);
	/* The time the idle rule counts from, and the rule's name for the close reason.
	 * NULL: the last client traffic ("idle timeout"). */
	int64_t (*idle_since)(struct conn *c, int64_t now, const char **why);
	/* Each --heartbeat-interval once hb_start() was called, unless stalled. */
	void (*heartbeat)(struct conn *c, int64_t now);
	/* Rewrites L's frame S for C before it is sent (Coinbase's sequence_num). */
	const char *(*render)(struct conn *c, const struct rline *l, const char *s, size_t *n);
	/* A recorded frame meant for C was not sent (skip fault, slow client). */
	void (*lost)(struct conn *c);
	/* A plain HTTP request of URI (its path; the query is read with lws): a GET when
	 * BODY is NULL, else a POST of BODY (LEN bytes, NUL-terminated).  Returns 0 when
	 * answered, 1 when not ours (404), -1 to close. */
	int (*http)(struct lws *wsi, const char *uri, const char *body, size_t len);
	/* The dialect's own constants, for a file that plays several exchanges. */
	const void *rules;
};

extern const struct dialect dl_binance, dl_upbit, dl_bithumb, dl_coinbase, dl_bybit,
	dl_okx, dl_kraken, dl_bitget, dl_gateio, dl_binance_futures, dl_bybit_linear,
	dl_bitget_futures, dl_gateio_futures, dl_hyperliquid;

/* ------------------------------------------------------------------ */
/* REST answers (server.c) */

/* Answers the request on WSI with STATUS and the JSON BODY.  Returns what the http hook
 * returns: 0, or -1 to close. */
int http_reply(struct lws *wsi, unsigned status, const char *body, size_t n);
/* The request's query argument NAME ("instId") into OUT, or "" when absent. */
void http_arg(struct lws *wsi, const char *name, char *out, size_t n);
/* Counts and writes {"event":"rest","path":PATH_AND_QUERY[,"body":BODY]}. */
void rest_event(struct lws *wsi, const char *uri, const char *body);

/* The dialect being played. */
extern const struct dialect *dl;

/* ------------------------------------------------------------------ */
/* the options (main.c) and the server's state, which every file reads */

extern struct options {
	long port;
	const char *tls_cert, *tls_key;
	const char *recording, *control, *events;
	long rate;
	int pace_real;
	double speed;
	int loop;
	int retime;
	int live;
	long tick_us;
	long ping_ms, pong_timeout_ms, status_ms, idle_ms, heartbeat_ms;
} opt;

struct stats {
	uint64_t connections, accepted, messages_sent, frames_sent;
	uint64_t pings_sent, pongs_received, status_sent;
	uint64_t subscriptions, skipped, rejected;
	uint64_t pongs_sent, heartbeats_sent, errors_sent;
	uint64_t fault_skipped, corrupted, snapshots_sent;
	uint64_t hung, endless_bytes, rest_requests;
};

extern struct server {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct conn *conns;
	unsigned next_id;
	int paused, stalled, refusing, hanging;
	int hung[MAX_HUNG];	/* accepted sockets left unanswered, oldest first */
	int nhung;
	FILE *events;
	int ctl_fd;
	int ctl_created;
	int replay_fd;		/* timerfd: the earliest connection's next line */
	int64_t replay_armed;	/* when it fires (mono_us), 0 when disarmed */
	int64_t start_us;
	struct stats st;
} g;

#endif
