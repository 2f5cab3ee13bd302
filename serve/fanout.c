/* fanout.c: caught-up clients written to as soon as lines arrive.
 *
 * Most of a busy server's time goes into send(), one per client per batch of lines. When
 * lines arrive, the clients that were caught up are written to at once, from the loop's
 * thread and from the send threads together: each takes the next client from a shared
 * counter until none is left, so a send thread that is not running costs nothing and the
 * loop's thread does the rest itself. Everything else — replies, the cache replay, close
 * frames, clients that are behind — goes through libwebsockets' writable callback
 * (clients.c), and so does everything with --send-path lws.
 *
 * Writing to a client's socket behind libwebsockets' back is sound only under these
 * assumptions. refusal() checks every client against 1-5 before its write; a client that
 * fails one is written through libwebsockets instead, and counted by reason
 * (exchange_serve_fast_path_refused_total). Failing 1-3 is expected; failing 4 or 5 means
 * an assumption does not hold, and is logged too. 6 and 7 hold by the way a round runs
 * (fanout_wake).
 *
 *  1. No TLS: send() on a TLS connection's socket would put clear text inside the TLS
 *     stream. TLS clients (--tls-cert) always go through libwebsockets.
 *  2. Nothing partly buffered inside libwebsockets: what it still holds of an earlier
 *     write must leave first, so a client with some is left to it (usual after a write
 *     that went through libwebsockets and that the kernel took only part of).
 *  3. The client's position is in the ring: one the ring moved past is cut off (1013) by
 *     the writable callback.
 *  4. The socket is the client's own and carries the ring's frames byte for byte: no
 *     WebSocket extension (permessage-deflate, the one libwebsockets has, would reframe
 *     them; serve's context offers none, so none is negotiated) and no stream inside an
 *     HTTP/2 connection (which shares its socket with the connection's framing). Checked
 *     once per connection, when it is established (fanout_client_start).
 *  5. Nothing else is due to the client first: no reply, no cache replay, no close. What
 *     queues them takes the client off the caught-up list first (clients.c).
 *  6. A round ends before the loop goes on. While the threads write, the loop's thread is
 *     in the round too, so the ring, the cache, the symbol table and the clients do not
 *     change under them, and libwebsockets, which only the loop's thread calls, writes
 *     nothing to these sockets meanwhile. A client is in one job, written by one thread.
 *     The send threads call nothing of libwebsockets and touch only their job's client
 *     (position, filter, counts) and their own buffer and tally.
 *  7. A batch the kernel takes only part of is handed, the rest of it, to libwebsockets
 *     (LWS_WRITE_RAW) before the loop goes on, so nothing libwebsockets writes later (a
 *     pong, a close frame) can land inside a frame.
 */
#include "fanout.h"

#include "clock.h"
#include "filter.h"
#include "serve.h"
#include "sig.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Why a caught-up client is written through libwebsockets rather than directly. */
enum refusal {
	REF_NONE,
	/* expected */
	REF_TLS,
	REF_BUFFERED,
	REF_BEHIND,
	/* broken assumptions */
	REF_EXTENSION,
	REF_STREAM,
	REF_CLOSING,
	REF_REPLIES,
	REF_CACHE,
	REF_COUNT
};
#define REF_LAST_EXPECTED REF_BEHIND

static const char *const refusal_names[REF_COUNT] = {
	[REF_TLS] = "tls",           [REF_BUFFERED] = "buffered", [REF_BEHIND] = "behind",
	[REF_EXTENSION] = "extension", [REF_STREAM] = "http2_stream", [REF_CLOSING] = "closing",
	[REF_REPLIES] = "replies",   [REF_CACHE] = "cache",
};

/* Followers' relays the gate follows (a node has a few followers). */
#define MAX_RELAYS 64

static const char *const path_names[] = { [SEND_DIRECT] = "direct", [SEND_LWS] = "lws" };

/* How a client's round ended: caught up; more to send; the kernel took part of the batch
 * (the rest is in pend); a message too big for the fast path; lines that could not be
 * kept (out of memory), so the client is dropped rather than left with a gap. */
enum { R_DONE, R_MORE, R_PARTIAL, R_SLOW, R_LOST };

struct job {
	struct client *c;
	int fd;
	int res;
};

struct sender {
	pthread_t th;
	unsigned char *buf; /* SCRATCH */
	struct met lat;     /* latency observations of this thread's round */
	struct fanout_tally t;
};

static struct {
	enum send_path path;
	int exts_offered; /* the context offers WebSocket extensions (serve's offers none) */
	struct client *idle; /* caught up and waiting for data */
	int nthreads;
	struct sender *snd; /* nthreads + 1: the last one is the loop thread's; NULL on the lws path */
	pthread_mutex_t mu;
	pthread_cond_t go, finished;
	uint64_t round; /* under mu */
	int stop;       /* under mu */
	struct job *job;
	int njob, jobcap;
	/* round (16 bits) | job count (24) | next job (24): a thread claims a job with one
	 * compare-and-swap, which fails for a thread still on an earlier round (unless 65536
	 * rounds passed between its load and its swap) */
	_Atomic uint64_t next;
	_Atomic int left; /* jobs not finished */
	struct met *m_sends, *m_refused[REF_COUNT];
	struct log_limit rl_refused;
	/* the relay gate */
	struct client *relay[MAX_RELAYS];
	int nrelays;
	uint32_t relay_lag;
	int64_t relay_wait_us;
	uint64_t floor;    /* clients other than relays are written up to here; 0: the head */
	struct met *m_gate_held, *m_relay_out;
} F = { .mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER,
	.finished = PTHREAD_COND_INITIALIZER };

#define ROUNDS_BITS 16
#define JOB_BITS 24
#define JOB_MASK ((1u << JOB_BITS) - 1)
/* Fewer clients than this are written by the loop's thread alone: waking another thread
 * costs more than it saves. */
#define PARALLEL_MIN 16
/* Ring messages looked at for one client per fill: bounds the time one client takes. */
#define FILL_SCAN_MAX 8192

int fanout_path_parse(const char *name)
{
	for (int p = SEND_DIRECT; p <= SEND_LWS; p++)
		if (!strcmp(name, path_names[p]))
			return p;
	return -1;
}

const char *fanout_path_name(enum send_path path)
{
	return path_names[path];
}

/* ---- the list of caught-up clients ---- */

void fanout_idle_remove(struct client *c)
{
	if (!c->idle)
		return;
	if (c->idle_prev)
		c->idle_prev->idle_next = c->idle_next;
	else
		F.idle = c->idle_next;
	if (c->idle_next)
		c->idle_next->idle_prev = c->idle_prev;
	c->idle = 0;
	c->idle_next = c->idle_prev = NULL;
}

void fanout_idle_add(struct client *c)
{
	if (c->idle || c->peer_closing)
		return;
	c->idle = 1;
	c->idle_prev = NULL;
	c->idle_next = F.idle;
	if (F.idle)
		F.idle->idle_prev = c;
	F.idle = c;
}

/* ---- the relay gate ---- */

void fanout_relay_add(struct client *c)
{
	c->relay_seen = c->tail;
	c->relay_moved = clk_mono_us();
	if (F.nrelays < MAX_RELAYS)
		F.relay[F.nrelays++] = c;
	else
		c->relay = 0; /* beyond what the gate follows: an ordinary client */
	fanout_gate_update();
}

void fanout_relay_remove(struct client *c)
{
	for (int i = 0; i < F.nrelays; i++)
		if (F.relay[i] == c) {
			F.relay[i] = F.relay[--F.nrelays];
			break;
		}
	fanout_gate_update();
}

uint64_t fanout_limit(const struct client *c)
{
	return c->relay || !F.floor ? S.ring.head : F.floor;
}

int fanout_gate_update(void)
{
	uint64_t was = F.floor ? F.floor : S.ring.head, floor = 0;
	int64_t now = F.nrelays ? clk_mono_us() : 0;
	for (int i = 0; i < F.nrelays; i++) {
		struct client *r = F.relay[i];
		if (r->closing)
			continue;
		if (r->tail != r->relay_seen || r->tail == S.ring.head) {
			r->relay_seen = r->tail;
			r->relay_moved = now;
		}
		uint64_t behind = S.ring.head - r->tail;
		int stalled = now - r->relay_moved > F.relay_wait_us;
		int out = behind > F.relay_lag || stalled;
		if (out != r->relay_out) {
			r->relay_out = out;
			if (out)
				F.m_relay_out->v++;
			log_info(out ? "a follower's relay fell behind: clients no longer wait for it"
				     : "a follower's relay caught up: clients wait for it again",
				 " peer=%s behind=%llu lag=%u reason=%s", r->peer, (unsigned long long)behind,
				 F.relay_lag, !out ? "moving" : behind > F.relay_lag ? "lag" : "stalled");
		}
		if (!out && (!floor || r->tail < floor))
			floor = r->tail;
	}
	F.floor = floor;
	return (floor ? floor : S.ring.head) > was;
}

/* ---- filling a batch: shared by both paths ---- */

size_t fanout_fill(struct client *c, unsigned char *out, size_t cap, struct fanout_tally *t, size_t *need)
{
	int64_t now = clk_now_us();
	size_t n = 0;
	int scanned = 0;
	uint64_t limit = fanout_limit(c);
	*need = 0;
	while (c->tail < limit) {
		struct msg *m = ring_get(&S.ring, c->tail);
		if (m->pos > c->min_pos && filter_match(&c->f, m)) {
			if (n + m->len > cap) {
				if (!n)
					*need = m->len;
				break;
			}
			memcpy(out + n, m->data, m->len);
			n += m->len;
			c->sent++;
			t->msgs++;
			if (m->local_ts > 0)
				met_observe(t->lat, (double)(now - m->local_ts) / 1e6);
		}
		c->tail++;
		if (++scanned == FILL_SCAN_MAX)
			break;
	}
	return n;
}

/* ---- the check: assumptions 1-5, for each client before its direct write ---- */

void fanout_client_start(struct client *c)
{
	c->fixed_refusal = REF_NONE;
	if (lws_is_ssl(c->wsi))
		c->fixed_refusal = REF_TLS;
	else if (lws_get_network_wsi(c->wsi) != c->wsi)
		c->fixed_refusal = REF_STREAM;
	/* libwebsockets tells no one whether an extension is active on a connection; one can
	 * be only where the context offers extensions and the client asked for one */
	else if (F.exts_offered && lws_hdr_total_length(c->wsi, WSI_TOKEN_EXTENSIONS) > 0)
		c->fixed_refusal = REF_EXTENSION;
}

static enum refusal refusal(const struct client *c)
{
	if (c->closing || c->peer_closing)
		return REF_CLOSING;
	if (c->nreplies)
		return REF_REPLIES;
	if (c->cache_todo)
		return REF_CACHE;
	if (c->fixed_refusal)
		return (enum refusal)c->fixed_refusal;
	if (lws_partial_buffered(c->wsi))
		return REF_BUFFERED;
	if (c->tail < S.ring.oldest)
		return REF_BEHIND;
	return REF_NONE;
}

/* Whether C may be written directly now; a refusal is counted, and logged when it means
 * an assumption of the fast path does not hold. */
static int admit(const struct client *c)
{
	enum refusal why = refusal(c);
	if (why == REF_NONE)
		return 1;
	F.m_refused[why]->v++;
	if (why > REF_LAST_EXPECTED && log_allow(&F.rl_refused, clk_mono_us()) >= 0)
		log_warn("client refused the fast path for a reason that should not happen; written through libwebsockets",
			 " peer=%s reason=%s", c->peer, refusal_names[why]);
	return 0;
}

/* ---- the round: the loop's thread and the send threads ---- */

static int send_batch(struct job *j, struct sender *s)
{
	struct client *c = j->c;
	size_t need;
	size_t n = fanout_fill(c, s->buf, SCRATCH, &s->t, &need);
	if (!n)
		return need ? R_SLOW : R_DONE;
	ssize_t k;
	do
		k = send(j->fd, s->buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (k < 0 && errno == EINTR);
	s->t.bytes += (double)n;
	s->t.sends++;
	if (k == (ssize_t)n)
		return c->tail < fanout_limit(c) ? R_MORE : R_DONE;
	/* The socket is full (EAGAIN), or the connection failed, which libwebsockets finds out
	 * when it writes the rest. */
	if (k < 0)
		k = 0;
	c->pend = malloc(LWS_PRE + n - (size_t)k);
	if (!c->pend)
		return R_LOST;
	memcpy(c->pend + LWS_PRE, s->buf + k, n - (size_t)k);
	c->pend_len = n - (size_t)k;
	return R_PARTIAL;
}

static void work(uint64_t round, struct sender *s)
{
	for (;;) {
		uint64_t v = atomic_load_explicit(&F.next, memory_order_acquire);
		uint64_t i = v & JOB_MASK, n = (v >> JOB_BITS) & JOB_MASK;
		if ((v >> (2 * JOB_BITS)) != (round & ((1u << ROUNDS_BITS) - 1)) || i >= n)
			return;
		if (!atomic_compare_exchange_weak_explicit(&F.next, &v, v + 1, memory_order_acq_rel,
							   memory_order_acquire))
			continue;
		F.job[i].res = send_batch(&F.job[i], s);
		if (atomic_fetch_sub_explicit(&F.left, 1, memory_order_acq_rel) == 1) {
			pthread_mutex_lock(&F.mu);
			pthread_cond_signal(&F.finished);
			pthread_mutex_unlock(&F.mu);
		}
	}
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	uint64_t seen = 0;
	sig_block_all(); /* signals are the event loop's business */
	pthread_mutex_lock(&F.mu);
	for (;;) {
		while (!F.stop && F.round == seen)
			pthread_cond_wait(&F.go, &F.mu);
		if (F.stop)
			break;
		seen = F.round;
		pthread_mutex_unlock(&F.mu);
		work(seen, s);
		pthread_mutex_lock(&F.mu);
	}
	pthread_mutex_unlock(&F.mu);
	return NULL;
}

static int sender_init(struct sender *s)
{
	memset(s, 0, sizeof *s);
	s->buf = malloc(SCRATCH);
	s->lat.bounds = S.m_latency->bounds;
	s->lat.nbounds = S.m_latency->nbounds;
	s->t.lat = &s->lat;
	return s->buf ? 0 : -1;
}

static int register_metrics(struct met_reg *reg)
{
	static const char refused_help[] =
		"Caught-up clients written through libwebsockets instead of directly, by reason: tls, buffered "
		"(libwebsockets holds part of an earlier write) and behind (the ring moved past the client) are "
		"expected; any other is an assumption of the fast path that does not hold, and is logged.";
	F.m_sends = met_add(reg, MET_COUNTER, "exchange_serve_direct_sends_total",
			    "Batches of lines written to clients with send() by the fast path, bypassing libwebsockets.",
			    NULL);
	F.m_relay_out = met_add(reg, MET_COUNTER, "exchange_serve_relays_out_of_step_total",
				"Times a follower's relay fell more than --relay-lag lines behind and stopped holding clients back.",
				NULL);
	F.m_gate_held = met_add(reg, MET_GAUGE, "exchange_serve_relay_gate_lines",
				"Lines the clients wait for followers' relays to take first (0 when none is behind).", NULL);
	if (!F.m_sends || !F.m_relay_out || !F.m_gate_held)
		return -1;
	for (int r = REF_NONE + 1; r < REF_COUNT; r++) {
		char label[64];
		snprintf(label, sizeof label, "reason=\"%s\"", refusal_names[r]);
		if (!(F.m_refused[r] = met_add(reg, MET_COUNTER, "exchange_serve_fast_path_refused_total",
					       refused_help, label)))
			return -1;
	}
	return 0;
}

int fanout_start(struct met_reg *reg, enum send_path path, int threads, const struct lws_extension *exts,
		 uint32_t relay_lag, int relay_wait_ms)
{
	F.path = path;
	F.relay_lag = relay_lag;
	F.relay_wait_us = (int64_t)relay_wait_ms * 1000;
	F.exts_offered = exts && exts->name;
	if (register_metrics(reg)) {
		errno = ENOMEM;
		return -1;
	}
	if (path == SEND_LWS)
		return 0; /* no direct writes: no buffers, no threads */
	F.snd = calloc((size_t)threads + 1, sizeof *F.snd);
	if (!F.snd)
		return -1;
	for (int i = 0; i <= threads; i++)
		if (sender_init(&F.snd[i]))
			return -1;
	for (int i = 0; i < threads; i++) {
		int e = pthread_create(&F.snd[i].th, NULL, sender_main, &F.snd[i]);
		if (e) {
			errno = e;
			return -1;
		}
		F.nthreads++;
	}
	return 0;
}

void fanout_stop(void)
{
	pthread_mutex_lock(&F.mu);
	F.stop = 1;
	pthread_cond_broadcast(&F.go);
	pthread_mutex_unlock(&F.mu);
	for (int i = 0; i < F.nthreads; i++)
		pthread_join(F.snd[i].th, NULL);
	if (F.snd)
		for (int i = 0; i <= F.nthreads; i++)
			free(F.snd[i].buf);
	free(F.snd);
	free(F.job);
	F.nthreads = 0;
	F.snd = NULL;
	F.job = NULL;
	F.njob = F.jobcap = 0;
}

/* One round over the jobs built by fanout_wake. */
static void run_round(void)
{
	int wake = F.nthreads && F.njob >= PARALLEL_MIN;
	uint64_t round;
	pthread_mutex_lock(&F.mu);
	round = ++F.round;
	atomic_store_explicit(&F.left, F.njob, memory_order_relaxed);
	atomic_store_explicit(&F.next,
			      ((round & ((1u << ROUNDS_BITS) - 1)) << (2 * JOB_BITS)) |
				      ((uint64_t)F.njob << JOB_BITS),
			      memory_order_release);
	if (wake)
		pthread_cond_broadcast(&F.go);
	pthread_mutex_unlock(&F.mu);
	work(round, &F.snd[F.nthreads]);
	/* At most one job per send thread is still being written: wait for it. */
	if (atomic_load_explicit(&F.left, memory_order_acquire)) {
		pthread_mutex_lock(&F.mu);
		while (atomic_load_explicit(&F.left, memory_order_acquire))
			pthread_cond_wait(&F.finished, &F.mu);
		pthread_mutex_unlock(&F.mu);
	}
	for (int i = 0; i <= F.nthreads; i++) {
		struct sender *s = &F.snd[i];
		S.m_sent->v += (double)s->t.msgs;
		S.m_bytes_sent->v += s->t.bytes;
		F.m_sends->v += (double)s->t.sends;
		for (int b = 0; b <= s->lat.nbounds; b++)
			S.m_latency->buckets[b] += s->lat.buckets[b];
		S.m_latency->count += s->lat.count;
		S.m_latency->sum += s->lat.sum;
		memset(s->lat.buckets, 0, sizeof s->lat.buckets);
		s->lat.count = 0;
		s->lat.sum = 0;
		s->t.msgs = 0;
		s->t.bytes = 0;
		s->t.sends = 0;
	}
}

/* A slot for one more job this round; NULL when there is no room (the client then takes
 * the writable callback). */
static struct job *job_add(void)
{
	if (F.njob == (int)JOB_MASK)
		return NULL;
	if (F.njob == F.jobcap) {
		int cap = F.jobcap ? 2 * F.jobcap : 256;
		struct job *j = realloc(F.job, (size_t)cap * sizeof *j);
		if (!j)
			return NULL;
		F.job = j;
		F.jobcap = cap;
	}
	return &F.job[F.njob++];
}

/* After the round, on the loop's thread: each client's outcome, told to libwebsockets. */
static void round_outcomes(void)
{
	for (int i = 0; i < F.njob; i++) {
		struct job *j = &F.job[i];
		struct client *c = j->c;
		if (j->res == R_PARTIAL) {
			/* libwebsockets sends the rest (or keeps it until the socket drains) before
			 * anything else it writes to this client */
			if (lws_write(c->wsi, c->pend + LWS_PRE, c->pend_len, LWS_WRITE_RAW) < (int)c->pend_len)
				lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			free(c->pend);
			c->pend = NULL;
			c->pend_len = 0;
		}
		if (j->res == R_LOST)
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		else if (j->res == R_DONE)
			fanout_idle_add(c);
		else
			lws_callback_on_writable(c->wsi);
	}
}

/* Busy clients ask for their own writable callback after each write, so only the
 * caught-up ones need anything here. */
/* One round over the caught-up clients that RELAYS says (followers' relays, or the rest). */
static void wake_some(int relays)
{
	struct client *c = F.idle;
	F.njob = 0;
	while (c) {
		struct client *next = c->idle_next;
		if (!c->relay == !relays) {
			fanout_idle_remove(c);
			struct job *j = F.snd && admit(c) ? job_add() : NULL;
			if (j)
				*j = (struct job){ c, lws_get_socket_fd(c->wsi), R_SLOW };
			else
				lws_callback_on_writable(c->wsi);
		}
		c = next;
	}
	if (!F.njob)
		return;
	run_round();
	round_outcomes();
}

void fanout_wake(void)
{
	/* The followers' relays first, in a round of their own: what they took sets how far
	 * the other clients may go (the gate). */
	if (F.nrelays)
		wake_some(1);
	fanout_gate_update();
	F.m_gate_held->v = F.floor ? (double)(S.ring.head - F.floor) : 0;
	wake_some(0);
}
