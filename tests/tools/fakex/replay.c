/* replay.c: each connection's replay of the recording: what it wants, pacing (--rate,
 * --pace real, --live, --tick-us), the frame as sent (--retime, the trade ids of --loop,
 * the dialect's rewrite, the `corrupt` fault), book catch-up after a subscription. */

#include "fakex.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define TICK_BUDGET	10000			/* lines looked at per replay tick */
/* --loop: trade ids move on by PASS * REID_STEP in each pass after the first */
#define REID_STEP	1000000000ULL

int
replay_can_run(const struct conn *c)
{
	return rec.n && c->has_sub && !c->starved && !c->done && !c->closing &&
	       !c->endless && !g.paused && !g.stalled;
}

static int
line_wanted(const struct conn *c, const struct rline *l)
{
	unsigned bits;

	if (l->key < 0)
		return 0;
	bits = c->want[l->key];
	if (l->snapshot == 1)
		bits &= WANT_SNAP;
	else if (l->snapshot == 0)
		bits &= WANT_RT;
	if (!bits)
		return 0;
	/* a connection that takes inner payloads gets only frames that have one */
	return !c->unwrapped || l->inner;
}

static void
line_text(const struct conn *c, const struct rline *l, const char **s, size_t *n)
{
	if (c->unwrapped) {
		*s = l->inner;
		*n = l->inner_len;
	} else {
		*s = l->frame;
		*n = l->frame_len;
	}
}

/* Moves the cursor one line on; at the end either wraps (--loop) or marks the connection
 * done.  In real-pace mode it also advances the due time by the recorded gap. */
static void
replay_advance(struct conn *c)
{
	int64_t gap;
	size_t from = c->cursor;

	c->cursor++;
	if (c->cursor >= rec.n) {
		if (!opt.loop) {
			c->done = 1;
			return;
		}
		c->cursor = 0;
		c->pass++;
		gap = rec.avg_gap;
	} else {
		gap = rec.lines[c->cursor].ts - rec.lines[from].ts;
		if (gap < 0)
			gap = 0;
	}
	c->due_us += (int64_t)((double)gap / opt.speed);
}

/* Finds the next line this connection wants, looking at most at one whole pass of the
 * recording, and the pass it belongs to.  Returns NULL when there is none right now. */
const struct rline *
replay_take(struct conn *c, uint64_t *pass)
{
	size_t looked, from = c->cursor;

	for (looked = 0; looked < rec.n && !c->done; looked++) {
		const struct rline *l = &rec.lines[c->cursor];

		*pass = c->pass;
		replay_advance(c);
		if (line_wanted(c, l)) {
			if (c->done)
				fxlog(LV_INFO, "replay reached the end of the recording",
				      "conn=%u", c->id);
			return l;
		}
	}
	/* Nothing this connection wants lies ahead: it keeps its place, so a subscription
	 * made later (one request per channel, say) starts here, not past the end. */
	if (c->done && from < rec.n)
		c->done = 0;
	c->cursor = from;
	c->starved = 1;
	return NULL;
}

size_t
replay_reach(void)
{
	const struct conn *c;
	size_t reach = 0;

	for (c = g.conns; c; c = c->next) {
		size_t at = opt.live ? (size_t)(c->live_at % (rec.n ? rec.n : 1)) : c->cursor;

		if (at > reach)
			reach = at;
	}
	return reach;
}

/* ------------------------------------------------------------------ */
/* the frame as sent */

/* Moves the numbers under KEYS in frame S (N bytes) by BY: numbers or strings of digits
 * right after one of the keys.  EPOCH_MS (--retime): values of exactly 13 digits move,
 * the exchange's epoch-millisecond times, so a replayed recording carries current times
 * (a fraction after them, as Gate's create_time_ms has, stays); other numbers under these
 * keys stay.  Otherwise (--loop's trade ids): every whole digit string moves, so a looped
 * recording never repeats a trade, as no exchange does (the relay drops a trade it
 * already passed on).  Returns the moved copy in OUT, or S. */
static const char *
move_numbers(const char *const *keys, int epoch_ms, const char *s, size_t n, int64_t by,
	     struct sbuf *out, size_t *outlen)
{
	size_t i = 0, from = 0;
	char num[24];

	out->len = 0;
	out->oom = 0;
	while (i < n) {
		size_t k, kl = 0, q = 0, d, e;
		uint64_t v = 0;

		if (s[i] != '"') {	/* every key starts with its quote */
			i++;
			continue;
		}
		for (k = 0; keys[k]; k++) {
			kl = strlen(keys[k]);
			q = i + kl < n && s[i + kl] == '"';
			if (i + kl + q < n && !memcmp(s + i, keys[k], kl) &&
			    s[i + kl + q] >= '0' && s[i + kl + q] <= '9')
				break;
		}
		if (!keys[k]) {
			i++;
			continue;
		}
		d = e = i + kl + q;
		while (e < n && s[e] >= '0' && s[e] <= '9' && e - d < 19)
			v = v * 10 + (uint64_t)(s[e++] - '0');
		i = e;
		if (epoch_ms ? e - d != 13 :
		    q ? e >= n || s[e] != '"' : e < n && s[e] >= '0' && s[e] <= '9')
			continue;
		if (epoch_ms)
			k = (size_t)snprintf(num, sizeof(num), "%lld", (long long)((int64_t)v + by));
		else
			k = (size_t)snprintf(num, sizeof(num), "%llu",
					     (unsigned long long)(v + (uint64_t)by));
		sb_add(out, s + from, d - from);
		sb_add(out, num, k);
		from = e;
	}
	if (!from || out->oom) {
		*outlen = n;
		return s;
	}
	sb_add(out, s + from, n - from);
	*outlen = out->len;
	return out->oom ? s : out->p;
}

/* The last digit of the integer after the first KEY in [s, s+n), or NULL. */
static char *
find_checksum(const char *key, char *s, size_t n)
{
	char *p = s, *e = s + n, *d;
	size_t kl = strlen(key);

	while (p < e && (p = memmem(p, (size_t)(e - p), key, kl))) {
		p += kl;
		while (p < e && *p == ' ')
			p++;
		if (p < e && *p == '-')
			p++;
		for (d = p; d < e && *d >= '0' && *d <= '9'; d++)
			;
		if (d > p)
			return d - 1;
	}
	return NULL;
}

/* A pending `corrupt` fault: the frame goes out with another checksum of the same width
 * and sign.  Returns S, or the changed copy in OUT. */
static const char *
corrupt(struct conn *c, struct sbuf *out, const char *s, size_t *n)
{
	char *d;

	if (!dl->checksum_key || !memmem(s, *n, dl->checksum_key, strlen(dl->checksum_key)))
		return s;
	out->len = 0;
	out->oom = 0;
	sb_add(out, s, *n);
	if (out->oom || !(d = find_checksum(dl->checksum_key, out->p, out->len)))
		return s;
	*d = *d == '0' ? '1' : (char)(*d - 1);
	c->corrupt_pending = 0;
	g.st.corrupted++;
	event_simple("corrupt");
	fxlog(LV_INFO, "checksum corrupted", "conn=%u", c->id);
	*n = out->len;
	return out->p;
}

const char *
line_render(struct conn *c, const struct rline *l, uint64_t pass, size_t *n)
{
	static struct sbuf retimed, reided, corrupted;
	const char *s;
	size_t len;

	line_text(c, l, &s, &len);
	if (dl->render)
		s = dl->render(c, l, s, &len);
	if (opt.retime && l->ts > 0 && dl->retime_keys)
		s = move_numbers(dl->retime_keys, 1, s, len, (wall_us() - l->ts) / 1000, &retimed,
				 &len);
	if (pass && dl->reid_keys)
		s = move_numbers(dl->reid_keys, 0, s, len, (int64_t)(pass * REID_STEP), &reided,
				 &len);
	if (c->corrupt_pending)
		s = corrupt(c, &corrupted, s, &len);
	*n = len;
	return s;
}

int
fault_skip(struct conn *c, const struct rline *l)
{
	struct sbuf b = { 0 };

	if (c->skip_left <= 0)
		return 0;
	c->skip_left--;
	g.st.fault_skipped++;
	if (dl->lost)
		dl->lost(c);
	sb_adds(&b, "{\"event\":\"skip\",\"key\":");
	if (l->key >= 0)
		sb_json_str(&b, rec.keys[l->key], strlen(rec.keys[l->key]));
	else
		sb_adds(&b, "null");
	sb_addc(&b, '}');
	event_emit(&b);
	sb_free(&b);
	return 1;
}

/* Queues line L of pass PASS for C.  Past QUEUE_CAP a line is dropped (a slow client)
 * unless FORCE: catch-up frames after a subscription must all go out. */
static void
queue_line(struct conn *c, const struct rline *l, uint64_t pass, int force)
{
	const char *s;
	size_t n;
	struct msg *m;

	if (fault_skip(c, l))
		return;
	line_text(c, l, &s, &n);
	/* A slow client loses lines instead of growing our memory. */
	if (!force && c->queued + n > QUEUE_CAP) {
		c->skipped++;
		g.st.skipped++;
		if (dl->lost)
			dl->lost(c);
		return;
	}
	s = line_render(c, l, pass, &n);
	m = msg_new(s, n, data_wp(), MK_DATA);
	if (!m || conn_push(c, m)) {
		free(m);
		c->skipped++;
		g.st.skipped++;
	}
}

/* ------------------------------------------------------------------ */
/* pacing */

/* Replay runs on a timerfd rather than libwebsockets' timers: those wait in whole
 * milliseconds, rounded down, so each wait ends in up to a millisecond of zero-timeout
 * polls, and at a line every millisecond the server would spin. */
static void
replay_arm(int64_t at)
{
	struct itimerspec it;

	memset(&it, 0, sizeof(it));
	if (at > 0) {
		it.it_value.tv_sec = at / 1000000;
		it.it_value.tv_nsec = (long)(at % 1000000) * 1000;
	}
	if (g.replay_fd >= 0 && !timerfd_settime(g.replay_fd, TFD_TIMER_ABSTIME, &it, NULL))
		g.replay_armed = at;
}

static void
replay_schedule(struct conn *c, int64_t delay_us)
{
	if (delay_us < 0)
		delay_us = 0;
	/* --tick-us: a wait is never shorter than a tick; what falls due meanwhile goes out
	 * together, one frame per line, as bursts of trades do on a busy exchange. */
	if (delay_us > 0 && delay_us < opt.tick_us)
		delay_us = opt.tick_us;
	c->running = 1;
	c->replay_at = mono_us() + delay_us;
	if (!g.replay_armed || c->replay_at < g.replay_armed)
		replay_arm(c->replay_at);
}

int
replay_timer_start(void)
{
	g.replay_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (g.replay_fd < 0) {
		fxlog(LV_ERROR, "cannot create the replay timer", NULL);
		return -1;
	}
	if (ctl_adopt(g.replay_fd, CTL_TIMER)) {
		fxlog(LV_ERROR, "cannot watch the replay timer", NULL);
		return -1;
	}
	return 0;
}

/* --live: one clock for every connection, like a real exchange's feed.  The recording
 * moves on at --rate lines a second whoever listens; a connection that subscribes joins
 * where it is now (a reconnecting client misses what passed meanwhile and never gets it
 * twice).  pause freezes this clock. */
static struct {
	int64_t t0, paused_at, paused_total;
} live;

void
live_start(void)
{
	live.t0 = mono_us();
}

void
live_pause(void)
{
	if (!g.paused)
		live.paused_at = mono_us();
	g.paused = 1;
}

void
live_play(void)
{
	struct conn *c;

	if (g.paused && live.paused_at) {
		live.paused_total += mono_us() - live.paused_at;
		live.paused_at = 0;
	}
	g.paused = 0;
	for (c = g.conns; c; c = c->next)
		replay_kick(c);
}

static uint64_t
live_pos(int64_t now)
{
	int64_t at = live.paused_at ? live.paused_at : now;
	int64_t el = at - live.t0 - live.paused_total;

	return el > 0 ? (uint64_t)el * (uint64_t)opt.rate / 1000000u : 0;
}

static void
live_tick(struct conn *c, int64_t now)
{
	uint64_t target = live_pos(now), pass;
	int64_t due;
	int budget;

	for (budget = 0; budget < TICK_BUDGET && c->live_at < target; budget++) {
		const struct rline *l;

		if (!opt.loop && c->live_at >= rec.n) {
			c->done = 1;
			return;
		}
		l = &rec.lines[c->live_at % rec.n];
		pass = c->live_at / rec.n;
		c->live_at++;
		if (line_wanted(c, l))
			queue_line(c, l, pass, 0);
	}
	if (budget == TICK_BUDGET) {
		replay_schedule(c, 1000);
		return;
	}
	/* Next line is due when the clock reaches it. */
	due = live.t0 + live.paused_total +
	      (int64_t)((c->live_at + 1) * 1000000u / (uint64_t)opt.rate);
	replay_schedule(c, due - now);
}

/* --pace real: every line, wanted or not, takes its recorded time. */
static void
real_tick(struct conn *c, int64_t now)
{
	int budget;

	for (budget = 0; budget < TICK_BUDGET && c->due_us <= now; budget++) {
		const struct rline *l = &rec.lines[c->cursor];
		uint64_t pass = c->pass;

		replay_advance(c);
		if (line_wanted(c, l))
			queue_line(c, l, pass, 0);
		if (c->done) {
			fxlog(LV_INFO, "replay reached the end of the recording", "conn=%u",
			      c->id);
			return;
		}
	}
	replay_schedule(c, budget == TICK_BUDGET ? 1000 : c->due_us - now);
}

/* --rate N: the k-th wanted line is due at base + k/N s.  Lines the connection did not
 * subscribe to take no time. */
static void
rate_tick(struct conn *c, int64_t now)
{
	uint64_t target = (uint64_t)(now - c->base_us) * (uint64_t)opt.rate / 1000000u + 1;
	uint64_t pass;
	int budget;

	for (budget = 0; budget < TICK_BUDGET && c->paced < target; budget++) {
		const struct rline *l = replay_take(c, &pass);

		if (!l)
			return;
		queue_line(c, l, pass, 0);
		c->paced++;
	}
	if (c->done)
		return;
	if (c->paced < target) {
		replay_schedule(c, 1000);
		return;
	}
	replay_schedule(c, c->base_us + (int64_t)(c->paced * 1000000u / (uint64_t)opt.rate) -
			now);
}

static void
replay_run(struct conn *c)
{
	int64_t now = mono_us();

	c->running = 0;
	if (!replay_can_run(c))
		return;
	if (opt.live)
		live_tick(c, now);
	else if (opt.pace_real)
		real_tick(c, now);
	else
		rate_tick(c, now);
}

void
replays_due(void)
{
	uint64_t expirations;
	struct conn *c, *next;
	int64_t now = mono_us(), first = 0;

	while (read(g.replay_fd, &expirations, sizeof(expirations)) > 0)
		;
	g.replay_armed = 0;
	for (c = g.conns; c; c = next) {
		next = c->next;
		if (c->running && c->replay_at <= now) {
			c->running = 0;
			replay_run(c);
		}
	}
	for (c = g.conns; c; c = c->next)
		if (c->running && (!first || c->replay_at < first))
			first = c->replay_at;
	if (first != g.replay_armed)
		replay_arm(first);
}

/* After anything that may have stopped replay: first subscription, a subscription
 * change, play, resume.  Pacing restarts from now so a pause is not followed by a
 * burst. */
void
replay_kick(struct conn *c)
{
	c->starved = 0;
	if (!replay_can_run(c))
		return;
	if (opt.rate == 0 && !opt.pace_real) {
		lws_callback_on_writable(c->wsi);
		return;
	}
	if (c->running)
		return;
	if (opt.live && !c->live_joined) {
		c->live_joined = 1;
		c->live_at = live_pos(mono_us());
	}
	c->base_us = c->due_us = mono_us();
	c->paced = 0;
	replay_schedule(c, 0);
}

/* ------------------------------------------------------------------ */
/* subscriptions */

void
want_recompute(struct conn *c)
{
	int i, id;

	if (!c->want)
		return;
	memset(c->want, 0, rec.nkeys ? rec.nkeys : 1);
	for (i = 0; i < c->subs.n; i++)
		if ((id = key_lookup(c->subs.k[i], strlen(c->subs.k[i]))) >= 0)
			c->want[id] |= c->subs.bits[i];
	c->has_sub = c->subs.n > 0;
	if (dl->want)
		dl->want(c);
	c->ever_sub |= c->has_sub;
}

/* As on the exchanges: the stream's latest snapshot before the connection's replay
 * position, then every frame of the stream recorded after it, so the book the client
 * builds is the current one and the frames that follow chain on (sequence numbers,
 * checksums).  Nothing when the stream has no snapshot yet: the replay will come to it. */
void
book_catch_up(struct conn *c, const char *key)
{
	int id = key_lookup(key, strlen(key));
	size_t j, m, n = 0;

	if (id < 0 || !(c->want[id] & WANT_SNAP))
		return;
	for (j = c->cursor; j-- > 0;)
		if (rec.lines[j].key == id && rec.lines[j].book_snap)
			break;
	if (j == (size_t)-1)
		return;
	for (m = j; m < c->cursor && m < rec.n; m++) {
		if (rec.lines[m].key != id)
			continue;
		queue_line(c, &rec.lines[m], c->pass, 1);
		n++;
	}
	g.st.snapshots_sent++;
	fxlog(LV_INFO, "book snapshot sent", "conn=%u key=%s line=%zu frames=%zu", c->id, key,
	      j, n);
}

/* ------------------------------------------------------------------ */
/* REST answers held in the recording */

/* Whether line L is a REST answer {"stream":TAG,"data":...} as ingest writes them. */
static int
rest_line(const struct rline *l, const char *tag)
{
	size_t tl = strlen(tag);

	return l->key < 0 && l->inner && l->frame_len > tl + 12 &&
	       !memcmp(l->frame, "{\"stream\":\"", 11) && !memcmp(l->frame + 11, tag, tl) &&
	       l->frame[11 + tl] == '"';
}

const struct rline *
rest_answer(const char *tag, int (*match)(const struct js_doc *d, int data, void *arg),
	    void *arg)
{
	const struct rline *best = NULL, *first = NULL;
	size_t reach = replay_reach(), i;
	struct js_doc d;

	js_init(&d, 0);
	for (i = 0; i < rec.n; i++) {
		const struct rline *l = &rec.lines[i];

		if (!rest_line(l, tag) || js_parse(&d, l->inner, l->inner_len) != JS_OK ||
		    !match(&d, 0, arg))
			continue;
		if (!first)
			first = l;
		if (i <= reach)
			best = l;
	}
	js_free(&d);
	return best ? best : first;
}

void
rest_each(const char *tag, void (*each)(const struct js_doc *d, int data, void *arg), void *arg)
{
	struct js_doc d;
	size_t i;

	js_init(&d, 0);
	for (i = 0; i < rec.n; i++) {
		const struct rline *l = &rec.lines[i];

		if (rest_line(l, tag) && js_parse(&d, l->inner, l->inner_len) == JS_OK)
			each(&d, 0, arg);
	}
	js_free(&d);
}
