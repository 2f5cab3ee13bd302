/* distribute: carries normalized lines from the pipeline to serve.
 * Direct mode: the leader copies stdin to stdout; a follower relays the leader's serve.
 * Kafka mode (--kafka): the leader produces stdin to Kafka; every node consumes the topic
 * to stdout. When Kafka is unusable for --fallback-after seconds the node switches to
 * direct mode, and back when Kafka is healthy again. Neither side ever blocks: a slow
 * reader costs counted drops. */
#include "clock.h"
#include "dist.h"
#include "exitcode.h"
#include "loop.h"
#include "metnames.h"
#include "opt.h"
#include "sig.h"

#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_US (250 * LWS_US_PER_MS)
#define RECOVER_AFTER_US (2 * 1000000) /* Kafka healthy this long before going back to it */
#define RECENT_MAX 65536              /* lines the leader keeps to replay after a fallback */
/* A new leader takes in the old leader's last lines until they stop for this long. */
#define PROMOTE_QUIET_US (200 * 1000)
#define PROMOTE_POLL_US (20 * LWS_US_PER_MS)
#define STANDBY_MAX_LINES (1u << 20)
#define CATCHUP_MAX_US ((int64_t)10 * 1000000)

struct dist D;

/* Lines the leader produced recently: after a fallback to direct mode, the ones no
 * consumer gave back are written directly, so the switch loses nothing here. */
static struct {
	char *line[RECENT_MAX];
	uint32_t len[RECENT_MAX];
	int64_t ts[RECENT_MAX];
	uint32_t head, n;
} recent;

static int kinds[5];
enum { RAW_IN = 1, RAW_OUT = 2, RAW_SIGNALS = 3, RAW_KAFKA = 4 };

/* ---- writing for serve ---- */

/* Puts LINE and a newline in the output queue. When serve is slow the line is dropped and
 * counted: upstream must never wait for the slowest reader. Returns 0 when queued. */
static int out_put(const char *line, size_t len, const char *suffix, size_t slen)
{
	if (oq_room(&D.out) < len + slen + 1) {
		D.m_dropped->v++;
		long sup = log_allow(&D.rl_drop, clk_mono_us());
		if (sup >= 0)
			log_warn("output full, line dropped", " suppressed=%ld", sup);
		return -1;
	}
	oq_push(&D.out, line, len);
	if (slen)
		oq_push(&D.out, suffix, slen);
	oq_push(&D.out, "\n", 1);
	D.m_out->v++;
	if (D.out.len && D.out_wsi && !D.out_waiting) {
		D.out_waiting = 1;
		lws_callback_on_writable(D.out_wsi);
	}
	return 0;
}

/* A line of the stream, at position SEQ, for serve. Whatever path brought it (the leader's
 * own input, Kafka, the relay, a replay after a mode switch), a position not newer than
 * the last one written was written already, and a trade already passed on (the same trade
 * published by two leaders around a failover) is dropped: no client gets anything twice. */
static void emit_line(const char *line, size_t len, int64_t seq)
{
	uint64_t key;
	if (seq <= D.last_seq) {
		D.m_duplicates->v++;
		return;
	}
	D.last_seq = seq;
	int trade = line_trade_key(line, len, &key);
	if (trade && seen_has(&D.seen, key)) {
		D.m_trade_dups->v++;
		return;
	}
	if (!out_put(line, len, NULL, 0) && trade) {
		int64_t ts = line_local_ts(line, len);
		seen_add(&D.seen, key, ts);
		if (!D.judged_from)
			D.judged_from = ts;
	}
}

/* A line of this node only (a mode change): it carries the position of the stream line
 * before it, so it never moves a client's place in the stream. */
static void emit_local(const char *line, size_t len)
{
	char suffix[SEQ_SUFFIX_MAX];
	long n = seq_body_len(line, len);
	if (n < 2) /* not an object with a key */
		return;
	out_put(line, (size_t)n, suffix, seq_suffix(suffix, D.last_seq));
}

/* LINE (without any position it had) stamped with position SEQ, in D.stamp. NULL when it
 * is not a JSON object or there is no memory. */
static const char *stamp(const char *line, size_t len, int64_t seq, size_t *out)
{
	long n = seq_body_len(line, len);
	if (n < 2) /* not an object with a key */
		return NULL;
	if ((size_t)n + SEQ_SUFFIX_MAX > D.stamp_cap) {
		size_t cap = (size_t)n + SEQ_SUFFIX_MAX + 4096;
		char *p = realloc(D.stamp, cap);
		if (!p)
			return NULL;
		D.stamp = p;
		D.stamp_cap = cap;
	}
	memcpy(D.stamp, line, (size_t)n);
	*out = (size_t)n + seq_suffix(D.stamp + n, seq);
	return D.stamp;
}

static void remember(const char *line, size_t len)
{
	uint32_t i = (recent.head + recent.n) % RECENT_MAX;
	if (recent.n == RECENT_MAX) {
		free(recent.line[recent.head]);
		recent.head = (recent.head + 1) % RECENT_MAX;
		recent.n--;
		i = (recent.head + recent.n) % RECENT_MAX;
	}
	recent.line[i] = malloc(len);
	if (!recent.line[i])
		return;
	memcpy(recent.line[i], line, len);
	recent.len[i] = (uint32_t)len;
	recent.ts[i] = line_local_ts(line, len);
	recent.n++;
}

static void forget_recent(int64_t older_than)
{
	while (recent.n && recent.ts[recent.head] < older_than) {
		free(recent.line[recent.head]);
		recent.head = (recent.head + 1) % RECENT_MAX;
		recent.n--;
	}
}

/* ---- where this node stood: what its serve took in before ---- */

/* Reads one of serve's journal files: the newest position and the trades in it. */
static void learn_journal(const char *path, uint64_t *lines)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t key;
	if (!f)
		return;
	D.journal_found = 1;
	while ((n = getline(&buf, &cap, f)) > 0) {
		if (buf[n - 1] != '\n')
			break; /* a line cut by a crash */
		n--;
		int64_t pos = seq_of_line(buf, (size_t)n);
		if (pos > D.last_seq)
			D.last_seq = pos;
		if (line_trade_key(buf, (size_t)n, &key)) {
			int64_t ts = line_local_ts(buf, (size_t)n);
			seen_add(&D.seen, key, ts);
			if (!D.judged_from)
				D.judged_from = ts;
		}
		(*lines)++;
	}
	free(buf);
	fclose(f);
}

/* A distribute that restarts under a running serve picks up where the node stood: serve's
 * journal holds what it took in, so the relay resumes after its newest position, and the
 * trades in it are not passed on again (a new leader may publish some once more). */
static void learn_where_we_stood(void)
{
	char path[4200];
	uint64_t lines = 0;
	if (!D.o.run_dir)
		return;
	snprintf(path, sizeof path, "%s/serve.journal.1", D.o.run_dir);
	learn_journal(path, &lines);
	snprintf(path, sizeof path, "%s/serve.journal", D.o.run_dir);
	learn_journal(path, &lines);
	if (lines)
		log_info("took in serve's journal", " lines=%llu position=%lld trades=%u",
			 (unsigned long long)lines, (long long)D.last_seq, D.seen.n);
}

/* RUN_DIR/kafka.offset: where this node stood in the topic, noted once a second and on
 * stopping, the oldest first, one mark a line: "TOPIC OFFSET POSITION", OFFSET the next
 * record the consumer would read and POSITION the newest of the records before it. A
 * distribute that restarts reads on from the newest mark serve's journal covers (every
 * record before it had a position the journal reaches): what was read but never got into
 * serve (it stopped first, or the lines were still in the pipe) is read again, and what
 * serve has is dropped by position. Without a journal, from the newest mark. */
#define OFFSET_MARKS 64
static struct {
	int64_t offset[OFFSET_MARKS], pos[OFFSET_MARKS];
	int n;
} marks;

static void mark_add(int64_t offset, int64_t pos)
{
	if (marks.n == OFFSET_MARKS) {
		memmove(marks.offset, marks.offset + 1, (OFFSET_MARKS - 1) * sizeof marks.offset[0]);
		memmove(marks.pos, marks.pos + 1, (OFFSET_MARKS - 1) * sizeof marks.pos[0]);
		marks.n--;
	}
	marks.offset[marks.n] = offset;
	marks.pos[marks.n] = pos;
	marks.n++;
}

/* The marks in the file for this topic (a line without a position, as older versions
 * wrote, counts as covered by any journal). */
static void read_marks(void)
{
	char path[4200], *buf = NULL, topic[512];
	size_t cap = 0;
	long long off, pos;
	FILE *f;
	snprintf(path, sizeof path, "%s/kafka.offset", D.o.run_dir);
	if (!(f = fopen(path, "re")))
		return;
	while (getline(&buf, &cap, f) > 0) {
		int got = sscanf(buf, "%511s %lld %lld", topic, &off, &pos);
		if (got < 2 || strcmp(topic, D.o.topic) || off < 0)
			continue;
		mark_add(off, got == 3 ? pos : -1);
	}
	free(buf);
	fclose(f);
}

/* Where the consumer starts: -1 (the end of the topic) when this node never read it. */
static int64_t read_offset(void)
{
	int i;
	if (!D.o.run_dir)
		return -1;
	read_marks();
	if (!marks.n)
		return -1;
	for (i = marks.n - 1; D.journal_found && i >= 0 && marks.pos[i] > D.last_seq; i--)
		;
	if (i < 0) {
		/* serve's journal ends before every mark: the oldest one, and the relay fills
		 * what lies between (catchup_check) */
		D.catchup_forced = 1;
		D.topic_seq = marks.pos[0];
		log_warn("serve's journal ends before every place noted in the topic", " topic=%s offset=%lld mark_position=%lld position=%lld",
			 D.o.topic, (long long)marks.offset[0], (long long)marks.pos[0], (long long)D.last_seq);
		return marks.offset[0];
	}
	D.topic_seq = marks.pos[i]; /* the records before it stay covered by the marks to come */
	int64_t furthest = marks.offset[i];
	for (int k = i + 1; k < marks.n; k++)
		if (marks.offset[k] > furthest)
			furthest = marks.offset[k];
	log_info("reading the topic on from where this node stopped", " topic=%s offset=%lld mark_position=%lld position=%lld records_again=%lld",
		 D.o.topic, (long long)marks.offset[i], (long long)marks.pos[i], (long long)D.last_seq,
		 (long long)(furthest - marks.offset[i]));
	return marks.offset[i];
}

static void write_offset(void)
{
	static struct log_limit rl;
	const struct kafka_stats *ks = kafka_stats();
	char err[256], *buf, *p;
	size_t cap = (size_t)OFFSET_MARKS * (strlen(D.o.topic) + 48);
	if (!D.o.run_dir || ks->offset < 0 || (marks.n && marks.offset[marks.n - 1] == ks->offset + 1))
		return;
	mark_add(ks->offset + 1, D.topic_seq);
	if (!(p = buf = malloc(cap)))
		return;
	for (int i = 0; i < marks.n; i++)
		p += snprintf(p, cap - (size_t)(p - buf), "%s %lld %lld\n", D.o.topic, (long long)marks.offset[i], (long long)marks.pos[i]);
	if (rundir_write(D.o.run_dir, "kafka.offset", buf, err, sizeof err) && log_allow(&rl, clk_mono_us()) >= 0)
		log_warn("cannot note where this node stands in the topic", " error=\"%s\"", err);
	free(buf);
}

/* ---- the leader numbers what it publishes ---- */

/* A leader's positions are consecutive. A new term (this process leading for the first
 * time, or again) starts after every position this node has seen and no lower than the
 * time in µs: a new leader's first position is above any its predecessor gave out (which
 * stay below the clock while fewer than a million lines a second are published), so a
 * position means the same line on every node, across leaders and restarts. */
static void term_start(void)
{
	int64_t t = clk_now_us();
	if (D.next_seq <= D.last_seq)
		D.next_seq = D.last_seq + 1;
	if (D.next_seq < t)
		D.next_seq = t;
	log_info("numbering the stream", " from=%lld epoch=%lld", (long long)D.next_seq, (long long)D.epoch);
}

/* The leader publishes LINE: numbered, then to Kafka or straight to serve. */
static void publish(const char *line, size_t len)
{
	uint64_t key;
	size_t n;
	if (line_trade_key(line, len, &key) && seen_has(&D.seen, key)) {
		D.m_trade_dups->v++;
		return;
	}
	int64_t seq = D.next_seq;
	const char *s = stamp(line, len, seq, &n);
	if (!s) {
		D.m_not_object->v++;
		return;
	}
	D.next_seq++;
	if (D.mode == MODE_KAFKA) {
		kafka_produce(s, n, D.epoch, seq);
		remember(s, n);
	} else {
		emit_line(s, n, seq);
	}
}

static void on_input_line(const char *line, size_t len)
{
	D.m_in->v++;
	if (D.role == ROLE_LEADER && !D.promoting) {
		publish(line, len);
	} else if (D.o.standby_s) {
		/* A standby's own pipeline runs: what it says is kept, to publish if this node
		 * leads (what the leader never got out). */
		standby_keep(&D.sb, line, len, clk_mono_us());
	} else {
		D.m_discarded->v++; /* a follower's ingest is idle; anything here is stale */
	}
}

/* Passes on every complete line buffered (and the last one, at end of input). */
static void drain_lines(void)
{
	const char *line;
	size_t len;
	for (;;) {
		enum ndj_status st = ndj_next(&D.in, &line, &len);
		if (st == NDJ_LINE) {
			on_input_line(line, len);
		} else if (st == NDJ_TOOLONG) {
			D.m_too_long->v++;
			log_warn("input line too long, skipped", NULL);
		} else {
			break;
		}
	}
}

/* Writes what is queued now, rather than one loop turn later from the writeable callback:
 * each turn can be a scheduler wait on a busy machine. Called when lws_service returns, so
 * whatever one turn brought (input, records, relayed frames) goes out in one write. What
 * does not fit waits for the writeable callback. */
static void out_flush_now(void)
{
	if (!D.out.len || !D.out_wsi)
		return;
	int r = oq_flush(&D.out);
	if (r < 0) {
		log_info("reader closed the output", " error=\"%s\"", strerror(errno));
		D.exit_code = errno == EPIPE ? EXIT_OK : EXIT_RUNTIME;
		D.out.len = 0;
		D.stopping = 1;
	} else if (r > 0 && !D.out_waiting) {
		D.out_waiting = 1;
		lws_callback_on_writable(D.out_wsi);
	}
}

static void read_input(void)
{
	long r = ndj_fill(&D.in);
	if (r < 0 && errno != EAGAIN) {
		log_error("cannot read input", " error=\"%s\"", strerror(errno));
		D.in.eof = 1;
	}
	drain_lines();
	if (D.in.eof) {
		log_info("end of input", NULL);
		D.stopping = 1;
	}
}

static void read_epoch(void)
{
	char buf[32];
	if (D.o.run_dir && rundir_read(D.o.run_dir, "epoch", buf, sizeof buf) > 0)
		D.epoch = atoll(buf);
}

static void status_line(const char *event, const char *detail)
{
	char line[512];
	int n = snprintf(line, sizeof line,
			 "{\"type\":\"status\",\"exchange\":\"relay\",\"local_ts\":%lld,\"event\":\"%s\",\"detail\":\"%s\"}",
			 (long long)clk_now_us(), event, detail);
	emit_local(line, (size_t)n);
}

/* The mode machine: every switch happens here. */
static void set_mode(enum mode m, const char *why)
{
	if (D.mode == m)
		return;
	D.mode = m;
	D.m_kafka_mode->v = m == MODE_KAFKA;
	D.m_mode_switches->v++;
	log_info(m == MODE_KAFKA ? "Kafka mode" : "direct mode", " role=%s reason=\"%s\"", role_name(D.role), why);
	char detail[256];
	snprintf(detail, sizeof detail, "%s: %s", m == MODE_KAFKA ? "kafka" : "direct", why);
	status_line("mode", detail);
	if (m == MODE_DIRECT) {
		if (D.role == ROLE_LEADER) {
			/* Give serve what was produced but never came back from Kafka (what did
			 * come back has a position not newer than the last one written). */
			for (uint32_t k = 0; k < recent.n; k++) {
				uint32_t i = (recent.head + k) % RECENT_MAX;
				emit_line(recent.line[i], recent.len[i], seq_of_line(recent.line[i], recent.len[i]));
			}
		} else {
			relay_start();
		}
	} else if (D.role == ROLE_FOLLOWER && relay_active()) {
		/* The leader may still be in direct mode: relay on until Kafka brings a line past
		 * what the relay brought (on_record), or nothing would come meanwhile. */
		D.relay_until = D.last_seq;
	} else {
		relay_stop();
	}
	forget_recent(INT64_MAX);
}

static void mode_tick(int64_t now)
{
	if (!D.o.brokers) {
		/* Without Kafka: direct mode for good; a follower relays from the leader. */
		if (D.role == ROLE_FOLLOWER && !relay_active())
			relay_start();
		return;
	}
	int ok = kafka_healthy(D.role == ROLE_LEADER);
	D.m_kafka_up->v = ok;
	if (ok) {
		D.unhealthy_since = 0;
		if (!D.healthy_since)
			D.healthy_since = now;
	} else {
		D.healthy_since = 0;
		if (!D.unhealthy_since)
			D.unhealthy_since = now;
	}
	if (D.mode == MODE_KAFKA && D.unhealthy_since && now - D.unhealthy_since >= (int64_t)D.o.fallback_after_s * 1000000) {
		char why[64];
		snprintf(why, sizeof why, "Kafka unusable for %d s", D.o.fallback_after_s);
		set_mode(MODE_DIRECT, why);
	} else if (D.mode == MODE_DIRECT && D.healthy_since && now - D.healthy_since >= RECOVER_AFTER_US) {
		set_mode(MODE_KAFKA, "Kafka healthy again");
	}
	/* The leader keeps a few seconds of produced lines for a fallback, no more. */
	if (D.mode == MODE_KAFKA)
		forget_recent(clk_now_us() - (int64_t)(D.o.fallback_after_s + 2) * 1000000);
}

/* ---- promotion: what the old leader got out, then what it did not ---- */

static void promote_check(lws_sorted_usec_list_t *sul);

/* Publishes what the standby kept and the cluster never got: every trade not passed on
 * (trade ids are the key), and the newest ticker, book and derivative line of each stream
 * (older ones are stale). A trade older than what the set of trades passed on remembers
 * cannot be judged and is left out, counted. */
static void publish_kept(void)
{
	uint32_t n = D.sb.n, cap = 16;
	uint64_t published = 0, key;
	while (cap < 2 * n)
		cap <<= 1;
	/* stream key -> index + 1 of its newest kept line */
	uint64_t *keys = calloc(cap, sizeof *keys);
	uint32_t *last = calloc(cap, sizeof *last);
	if (n && (!keys || !last)) {
		log_error("out of memory publishing the standby's lines", NULL);
		goto done;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct kept *k = standby_at(&D.sb, i);
		if (!line_state_key(k->line, k->len, &key))
			continue;
		uint32_t h = (uint32_t)key & (cap - 1);
		while (keys[h] && keys[h] != key)
			h = (h + 1) & (cap - 1);
		keys[h] = key;
		last[h] = i + 1;
	}
	int64_t horizon = seen_horizon(&D.seen);
	/* before this node took part in the stream, nothing tells what the cluster had */
	if (D.judged_from > horizon)
		horizon = D.judged_from - 1;
	for (uint32_t i = 0; i < n; i++) {
		const struct kept *k = standby_at(&D.sb, i);
		if (line_trade_key(k->line, k->len, &key)) {
			if (seen_has(&D.seen, key))
				continue;
			if (horizon && line_local_ts(k->line, k->len) <= horizon) {
				D.m_standby_unjudged->v++;
				continue;
			}
		} else if (line_state_key(k->line, k->len, &key)) {
			uint32_t h = (uint32_t)key & (cap - 1);
			while (keys[h] != key)
				h = (h + 1) & (cap - 1);
			if (last[h] != i + 1)
				continue;
		} else {
			continue; /* the standby's own connection events say nothing of the cluster */
		}
		publish(k->line, k->len);
		published++;
	}
done:
	free(keys);
	free(last);
	D.m_standby_published->v += (double)published;
	log_info("published what the standby kept", " kept=%u published=%llu", n, (unsigned long long)published);
	standby_clear(&D.sb);
}

/* The promotion is complete: number from here, publish the kept lines, then live input. */
static void promote_finish(const char *why)
{
	lws_sul_cancel(&D.sul_promote);
	D.promoting = 0;
	relay_stop();
	int64_t waited = clk_mono_us() - D.promote_started;
	D.m_promote_wait->v = (double)waited / 1e6;
	log_info("leading", " waited_ms=%lld reason=\"%s\"", (long long)(waited / 1000), why);
	term_start();
	publish_kept();
}

/* Before it publishes anything, a new leader takes in what the old one got out: in direct
 * mode the rest of the relay from it (until it closes or goes quiet), in Kafka mode the
 * topic up to its end. Its own input waits in the standby buffer meanwhile. */
static void promote_check(lws_sorted_usec_list_t *sul)
{
	int64_t now = clk_mono_us();
	if (now - D.promote_started >= (int64_t)D.o.promote_wait_ms * 1000) {
		promote_finish("waited the longest allowed (--promote-wait)");
		return;
	}
	if (D.mode == MODE_DIRECT) {
		const struct relay_stats *rs = relay_stats();
		if (!rs->connected) {
			promote_finish("the old leader's relay is closed");
			return;
		}
		if (now - rs->last_rx >= PROMOTE_QUIET_US && now - D.promote_started >= PROMOTE_QUIET_US) {
			promote_finish("the old leader's relay went quiet");
			return;
		}
	} else if (kafka_caught_up(PROMOTE_QUIET_US)) {
		promote_finish("consumed the topic to its end");
		return;
	}
	lws_sul_schedule(D.ctx, 0, &D.sul_promote, promote_check, PROMOTE_POLL_US);
}

static void set_role(enum role r)
{
	read_epoch();
	if (D.role == r) {
		log_info("role unchanged", " role=%s epoch=%lld", role_name(r), (long long)D.epoch);
	} else {
		D.role = r;
		D.m_leader->v = r == ROLE_LEADER;
		log_info("role", " role=%s epoch=%lld", role_name(r), (long long)D.epoch);
		if (r == ROLE_LEADER) {
			D.m_promotions->v++;
			D.promoting = 1;
			D.promote_started = clk_mono_us();
			promote_check(&D.sul_promote);
			return;
		}
		/* Demoted: nothing is published any more; what arrives is kept as a standby. */
		lws_sul_cancel(&D.sul_promote);
		D.promoting = 0;
	}
	/* A follower in direct mode relays from the (possibly new) leader; a leader never relays. */
	if (r == ROLE_LEADER)
		relay_stop();
	else if (D.mode == MODE_DIRECT)
		relay_start();
}

static int cb_raw(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	void *op = lws_get_opaque_user_data(wsi);
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (op == &kinds[RAW_IN]) {
			read_input();
			if (D.stopping)
				return -1;
		} else if (op == &kinds[RAW_KAFKA]) {
			kafka_service();
		} else if (op == &kinds[RAW_SIGNALS]) {
			int sig;
			while ((sig = sig_next(D.sigfd))) {
				if (sig == SIGUSR1)
					set_role(ROLE_LEADER);
				else if (sig == SIGUSR2)
					set_role(ROLE_FOLLOWER);
				else if (sig == SIGTERM || sig == SIGINT) {
					log_info("stopping", " signal=%d", sig);
					D.stopping = 1;
				}
			}
		}
		break;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		/* The loop flushes when lws_service returns: a writable wait asked for from
		 * inside this callback would be undone by lws after it (lib/loop.h). */
		if (op == &kinds[RAW_OUT])
			D.out_waiting = 0;
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (op == &kinds[RAW_OUT]) {
			D.out_wsi = NULL;
		} else if (op == &kinds[RAW_IN] && !D.stopping) {
			/* A pipe whose writer left reports a hang-up, not a read of 0 bytes. */
			D.in.eof = 1;
			drain_lines();
			log_info("end of input", NULL);
			D.stopping = 1;
		}
		break;
	default:
		break;
	}
	return 0;
}

/* ---- what the Kafka consumer and the relay hand over ---- */

/* The relay has filled the hole the topic had: Kafka's held lines follow. */
static void catchup_finish(const char *why)
{
	log_info("caught up through the relay; on with the topic", " reason=\"%s\" held=%u", why, D.held.n);
	D.catchup = CU_NONE;
	if (D.mode == MODE_KAFKA) {
		relay_stop();
		D.relay_until = -1;
	}
	for (uint32_t i = 0; i < D.held.n; i++) {
		const struct kept *k = standby_at(&D.held, i);
		emit_line(k->line, k->len, seq_of_line(k->line, k->len));
	}
	standby_clear(&D.held);
}

/* Kafka's lines wait (from the one at position FIRST, -1: the next) until the relay brings
 * what lies before them (on_relayed) or gives up (catchup_tick). */
static void hold_for_relay(int64_t first)
{
	D.catchup = CU_RELAY;
	D.catchup_started = clk_mono_us();
	D.held_first = first;
}

/* The first record after a restart: when it is not the one asked for, the topic no longer
 * holds what came while this node was away (its retention), and the leader's serve has it
 * still: the relay fetches it after our newest position, while Kafka's lines wait. */
static void catchup_check(void)
{
	const struct kafka_stats *ks = kafka_stats();
	D.catchup = CU_NONE;
	if ((ks->offset <= D.kafka_start && !D.catchup_forced) || D.role != ROLE_FOLLOWER)
		return;
	log_warn("the topic no longer holds where this node stopped; catching up from the leader's serve",
		 " wanted_offset=%lld got_offset=%lld position=%lld reason=%s", (long long)D.kafka_start,
		 (long long)ks->offset, (long long)D.last_seq, ks->offset > D.kafka_start ? "retention" : "journal");
	D.m_catchups->v++;
	hold_for_relay(-1);
	relay_start();
}

static void on_record(void *ctx, const char *line, size_t len, int64_t epoch, int64_t hseq)
{
	if (D.catchup == CU_CHECK)
		catchup_check();
	int64_t seq = seq_of_line(line, len);
	if (seq > D.topic_seq)
		D.topic_seq = seq; /* for the marks of where this node stands (write_offset) */
	/* Fencing, by the topic's own order: a record from an older epoch than the newest seen
	 * on a record before it is a zombie leader's. Every node reads the same order, so every
	 * node takes and drops the same records (RUN_DIR/epoch, which elect writes when it
	 * learns of a new leader, changes at a different moment on each node). */
	int64_t floor = D.newest_epoch;
	if (epoch < floor) {
		D.m_fenced->v++;
		return;
	}
	if (epoch > D.newest_epoch)
		D.newest_epoch = epoch;
	if (seq < 0) {
		emit_local(line, len); /* a producer that does not number its lines */
		return;
	}
	/* Kafka back while the relay runs on: a record past the next position means the relay
	 * has not yet brought what lies before it (lines the leader wrote directly while Kafka
	 * was down come only through the relay, and either may be first). */
	if (D.catchup == CU_NONE && D.relay_until >= 0 && relay_active() && seq > D.last_seq + 1) {
		log_info("the topic is ahead of the relay; its lines wait for the relay to reach them",
			 " position=%lld topic_position=%lld", (long long)D.last_seq, (long long)seq);
		hold_for_relay(seq);
	}
	if (D.catchup == CU_RELAY) {
		if (D.held_first < 0)
			D.held_first = seq;
		standby_keep(&D.held, line, len, clk_mono_us());
		return;
	}
	/* In direct mode too: the relay and the topic bring the same positions, and whichever
	 * comes second is dropped. */
	emit_line(line, len, seq);
	if (D.relay_until >= 0 && seq > D.relay_until) {
		D.relay_until = -1;
		if (D.mode == MODE_KAFKA && relay_active()) {
			log_info("Kafka carries the stream again; relay no longer needed", " position=%lld", (long long)seq);
			relay_stop();
		}
	}
}

static void on_relayed(void *ctx, const char *line, size_t len)
{
	static const char gap[] = "{\"type\":\"status\",\"event\":\"gap\"";
	int64_t seq = seq_of_line(line, len);
	/* The leader's serve could not replay from our position: our clients missed it too. */
	if (seq < 0 || (len > sizeof gap && !memcmp(line, gap, sizeof gap - 1)))
		emit_local(line, len); /* (a leader that does not number its lines, too) */
	else
		emit_line(line, len, seq); /* the leader's own notices repeat a position: dropped */
	if (D.catchup == CU_RELAY && D.held_first >= 0 && seq >= D.held_first - 1)
		catchup_finish("the relay reached the topic's first line");
}

static int relay_wanted(void *ctx)
{
	return D.role == ROLE_FOLLOWER || D.promoting;
}

/* A catch-up that gets nowhere (no leader to relay from) ends: what the topic has follows,
 * and the hole stays, counted. */
static void catchup_tick(int64_t now)
{
	if (D.catchup != CU_RELAY || now - D.catchup_started < CATCHUP_MAX_US)
		return;
	D.m_catchup_gaps->v++;
	log_warn("the relay could not fill the topic's hole; going on without it", " held=%u", D.held.n);
	catchup_finish("gave up");
}

static int64_t relay_position(void *ctx)
{
	return D.last_seq;
}

static void write_metrics(void)
{
	char err[256];
	if (D.o.brokers) {
		const struct kafka_stats *ks = kafka_stats();
		write_offset();
		D.m_produced->v = (double)ks->produced;
		D.m_delivery_failed->v = (double)ks->delivery_failed;
		D.m_consumed->v = (double)ks->consumed;
		D.m_lag->v = (double)ks->lag;
		D.m_ready->v = ks->ready;
	}
	const struct relay_stats *rs = relay_stats();
	D.m_relay_connected->v = rs->connected;
	D.m_relayed->v = (double)rs->relayed;
	D.m_relay_stale->v = (double)rs->stale;
	D.m_relay_slow_lookups->v = (double)rs->slow_lookups;
	D.m_relay_lookup_failures->v = (double)rs->lookup_failures;
	standby_expire(&D.sb, clk_mono_us());
	D.m_standby_lines->v = D.sb.n;
	D.m_standby_bytes->v = (double)D.sb.bytes;
	D.m_standby_dropped->v = (double)D.sb.dropped;
	D.m_position->v = (double)D.last_seq;
	D.m_too_long->v = (double)D.in.too_long;
	D.m_rss->v = met_rss_bytes();
	if (D.o.run_dir && met_write_file(D.reg, D.o.run_dir, "distribute", err, sizeof err))
		log_warn("cannot write metrics", " error=\"%s\"", err);
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	int64_t now = clk_mono_us();
	mode_tick(now);
	catchup_tick(now);
	if (now - D.last_epoch_read >= 1000000) {
		D.last_epoch_read = now;
		read_epoch(); /* fencing uses the newest epoch this node knows of */
	}
	if (now - D.last_metrics >= 1000000) {
		D.last_metrics = now;
		write_metrics();
	}
	if (D.stopping) {
		lws_cancel_service(D.ctx);
		D.stopping = 2;
		return;
	}
	lws_sul_schedule(D.ctx, 0, &D.sul_tick, tick_cb, TICK_US);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: distribute [OPTIONS] < normalized.ndjson > for-serve.ndjson\n"
		"Direct mode (default): the leader copies stdin to stdout; a follower relays the\n"
		"leader's serve (URL in RUN_DIR/leader). Kafka mode: the leader produces stdin to the\n"
		"topic and every node consumes it to stdout, falling back to direct mode while Kafka\n"
		"is unusable. A slow reader costs counted drops, never a stalled pipeline.\n\n"
		"  -k, --kafka BROKERS        Kafka bootstrap servers (enables Kafka mode)\n"
		"  -t, --topic NAME           topic (default exchange.normalized)\n"
		"  -g, --group-prefix P       consumer group prefix (default exchange-relay)\n"
		"  -i, --node-id ID           this node's name, in the group id (default $NODE_ID or host)\n"
		"  -f, --fallback-after S     seconds of unusable Kafka before direct mode (default 3)\n"
		"  -X key=value               any librdkafka property, for both clients (SASL, SSL, ...)\n"
		"  -r, --run-dir DIR          role, leader, epoch and metrics live in DIR (default $RUN_DIR)\n"
		"  -l, --max-line BYTES       longest line accepted (default 4194304)\n"
		"  -b, --buffer BYTES         output buffer (default 4194304)\n"
		"  -S, --standby-seconds S    input a follower keeps, to publish what the cluster never\n"
		"                             got if it is promoted (default 30; 0 keeps nothing)\n"
		"  -B, --standby-bytes BYTES  most bytes kept for that (default 67108864)\n"
		"  -w, --trade-window N       trades remembered to drop a second copy (default 262144)\n"
		"  -p, --promote-wait MS      most a new leader waits for the old one's last lines\n"
		"                             before it publishes (default 2000)\n"
		"  -n, --check                validate the options and exit\n"
		"  -h, --help                 this text\n"
		"  -V, --version              the version\n\n"
		"Signals: USR1 leader, USR2 follower (both re-read RUN_DIR/epoch and leader), TERM/INT stop.\n"
		EXITCODE_HELP);
}

static int parse_opts(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "buffer", required_argument, NULL, 'b' },
		{ "check", no_argument, NULL, 'n' },
		{ "fallback-after", required_argument, NULL, 'f' },
		{ "group-prefix", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ "kafka", required_argument, NULL, 'k' },
		{ "max-line", required_argument, NULL, 'l' },
		{ "node-id", required_argument, NULL, 'i' },
		{ "promote-wait", required_argument, NULL, 'p' },
		{ "standby-bytes", required_argument, NULL, 'B' },
		{ "standby-seconds", required_argument, NULL, 'S' },
		{ "trade-window", required_argument, NULL, 'w' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "topic", required_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static char host[256];
	char err[128], name[32];
	long long v;
	int c;
	struct opts *o = &D.o;
	o->run_dir = getenv("RUN_DIR");
	o->node_id = getenv("NODE_ID");
	o->max_line = 4 << 20;
	o->out_buffer = 4 << 20;
	o->topic = "exchange.normalized";
	o->group_prefix = "exchange-relay";
	o->fallback_after_s = 3;
	o->standby_s = 30;
	o->standby_bytes = 64 << 20;
	o->trade_window = 1 << 18;
	o->promote_wait_ms = 2000;
	while ((c = getopt_long(argc, argv, "B:b:f:g:hi:k:l:np:r:S:t:Vw:X:", longopts, NULL)) != -1) {
		switch (c) {
		case 'B':
			if (opt_long(optarg, 65536, 1L << 34, &v, err, sizeof err))
				goto bad;
			o->standby_bytes = (uint64_t)v;
			break;
		case 'p':
			if (opt_long(optarg, 0, 60000, &v, err, sizeof err))
				goto bad;
			o->promote_wait_ms = (int)v;
			break;
		case 'S':
			if (opt_long(optarg, 0, 3600, &v, err, sizeof err))
				goto bad;
			o->standby_s = (int)v;
			break;
		case 'w':
			if (opt_long(optarg, 1024, 1L << 26, &v, err, sizeof err))
				goto bad;
			/* a power of two, for the set's arithmetic */
			o->trade_window = 1024;
			while (o->trade_window < (uint64_t)v)
				o->trade_window <<= 1;
			break;
		case 'b':
			if (opt_long(optarg, 65536, 1L << 30, &v, err, sizeof err))
				goto bad;
			o->out_buffer = (size_t)v;
			break;
		case 'f':
			if (opt_long(optarg, 1, 3600, &v, err, sizeof err))
				goto bad;
			o->fallback_after_s = (int)v;
			break;
		case 'g': o->group_prefix = optarg; break;
		case 'h': usage(stdout); exit(EXIT_OK);
		case 'i': o->node_id = optarg; break;
		case 'k': o->brokers = optarg; break;
		case 'l':
			if (opt_long(optarg, 1024, 1L << 30, &v, err, sizeof err))
				goto bad;
			o->max_line = (size_t)v;
			break;
		case 'n': o->check = 1; break;
		case 'r': o->run_dir = optarg; break;
		case 't': o->topic = optarg; break;
		case 'V': printf("distribute %s\n", DIST_VERSION); exit(EXIT_OK);
		case 'X': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || o->nxprops == MAX_XPROPS) {
				fprintf(stderr, "distribute: -X takes key=value (%d at most)\n", MAX_XPROPS);
				return -1;
			}
			*eq = 0;
			o->xprops[o->nxprops][0] = optarg;
			o->xprops[o->nxprops++][1] = eq + 1;
			break;
		}
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "distribute: unexpected argument %s\n", argv[optind]);
		return -1;
	}
	if (o->run_dir && !*o->run_dir)
		o->run_dir = NULL;
	if (o->brokers && !*o->brokers)
		o->brokers = NULL;
	if (!o->node_id || !*o->node_id) {
		if (gethostname(host, sizeof host))
			snprintf(host, sizeof host, "node");
		o->node_id = host;
	}
	return 0;
bad:
	fprintf(stderr, "distribute: %s: %s\n", opt_name(longopts, c, name, sizeof name), err);
	return -1;
}

/* What librdkafka says about a client made only to be checked is beside the point. */
static void check_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
}

/* Every -X goes through librdkafka's own check of names and values, so that --check (and
 * the supervisor's fail-fast start) refuses what kafka_start would refuse later. */
static int check_xprops(void)
{
	char err[512];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	for (int i = 0; i < D.o.nxprops; i++)
		if (rd_kafka_conf_set(c, D.o.xprops[i][0], D.o.xprops[i][1], err, sizeof err) !=
		    RD_KAFKA_CONF_OK) {
			fprintf(stderr, "distribute: -X %s=%s: %s\n", D.o.xprops[i][0], D.o.xprops[i][1], err);
			rd_kafka_conf_destroy(c);
			return -1;
		}
	if (!D.o.check || !D.o.brokers) {
		rd_kafka_conf_destroy(c);
		return 0;
	}
	/* Some values are only refused when a client is made from them (an unknown SASL
	 * mechanism, an unreadable ssl.ca.location): make one, without brokers so that it
	 * connects nowhere, and drop it. */
	rd_kafka_conf_set_log_cb(c, check_log);
	rd_kafka_conf_set(c, "bootstrap.servers", "", err, sizeof err);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
	if (!rk) {
		rd_kafka_conf_destroy(c);
		fprintf(stderr, "distribute: -X: %s\n", err);
		return -1;
	}
	rd_kafka_destroy(rk);
	return 0;
}

static int setup_metrics(void)
{
	struct met_reg *r = D.reg = met_new();
	if (!r)
		return -1;
	D.m_in = met_add(r, MET_COUNTER, "exchange_distribute_lines_in_total", "Lines read from stdin.", NULL);
	D.m_out = met_add(r, MET_COUNTER, MN_DIST_LINES_OUT, "Lines written for serve.", NULL);
	D.m_dropped = met_add(r, MET_COUNTER, "exchange_distribute_dropped_total",
			      "Lines dropped because the reader was slow.", NULL);
	D.m_too_long = met_add(r, MET_COUNTER, "exchange_distribute_too_long_total",
			       "Input lines skipped for their length.", NULL);
	D.m_kafka_mode = met_add(r, MET_GAUGE, MN_DIST_KAFKA_MODE, "1 in Kafka mode, 0 in direct mode.", NULL);
	D.m_mode_switches = met_add(r, MET_COUNTER, "exchange_distribute_mode_switches_total",
				    "Switches between Kafka and direct mode.", NULL);
	D.m_leader = met_add(r, MET_GAUGE, "exchange_distribute_leader", "1 while distribute acts as leader.", NULL);
	D.m_produced = met_add(r, MET_COUNTER, MN_DIST_PRODUCED, "Records handed to the Kafka producer.", NULL);
	D.m_delivery_failed = met_add(r, MET_COUNTER, "exchange_distribute_delivery_failures_total",
				      "Records Kafka did not take (queue full or delivery failed).", NULL);
	D.m_consumed = met_add(r, MET_COUNTER, MN_DIST_CONSUMED, "Records consumed from Kafka.", NULL);
	D.m_fenced = met_add(r, MET_COUNTER, "exchange_distribute_fenced_total",
			     "Consumed records dropped for an epoch older than the newest known.", NULL);
	D.m_lag = met_add(r, MET_GAUGE, MN_DIST_CONSUMER_LAG, "Records behind the end of the topic.", NULL);
	D.m_kafka_up = met_add(r, MET_GAUGE, MN_KAFKA_UP, "1 while Kafka is usable.", NULL);
	/* So a dashboard can tell a node without Kafka from one whose Kafka is down. */
	struct met *configured = met_add(r, MET_GAUGE, MN_DIST_KAFKA_CONFIGURED,
					 "1 when distribute was given Kafka brokers (--kafka).", NULL);
	if (configured)
		configured->v = D.o.brokers != NULL;
	D.m_assigned = met_add(r, MET_GAUGE, "exchange_distribute_partitions_assigned",
			       "Topic partitions assigned to this node's consumer.", NULL);
	D.m_ready = met_add(r, MET_GAUGE, "exchange_distribute_consumer_ready",
			    "1 once the consumer fetches the topic (records produced from then on arrive).", NULL);
	D.m_relay_connected = met_add(r, MET_GAUGE, "exchange_distribute_relay_connected",
				      "1 while a follower relays the leader's serve (direct mode).", NULL);
	D.m_relayed = met_add(r, MET_COUNTER, "exchange_distribute_relayed_total", "Messages relayed from the leader.", NULL);
	D.m_relay_stale = met_add(r, MET_COUNTER, "exchange_distribute_relay_stale_total",
				  "Relay connections closed because this node led, or the leader changed, before they opened or spoke.", NULL);
	D.m_relay_slow_lookups = met_add(r, MET_COUNTER, "exchange_distribute_relay_lookups_slow_total",
					 "Lookups of the leader's name that took a second or more (the loop went on meanwhile).", NULL);
	D.m_relay_lookup_failures = met_add(r, MET_COUNTER, "exchange_distribute_relay_lookups_failed_total",
					    "Lookups of the leader's name that failed.", NULL);
	D.m_duplicates = met_add(r, MET_COUNTER, "exchange_distribute_duplicates_dropped_total",
				 "Lines not newer than a mode switch, dropped so no client gets one twice.", NULL);
	D.m_discarded = met_add(r, MET_COUNTER, "exchange_distribute_discarded_total",
				"Lines on a follower's stdin (its ingest is idle), not passed on.", NULL);
	D.m_trade_dups = met_add(r, MET_COUNTER, "exchange_distribute_trade_duplicates_dropped_total",
				 "Trades already passed on (same exchange, symbol and id), dropped.", NULL);
	D.m_position = met_add(r, MET_GAUGE, "exchange_distribute_position",
			       "The newest stream position written for serve.", NULL);
	D.m_standby_lines = met_add(r, MET_GAUGE, "exchange_distribute_standby_lines",
				    "Lines a standby keeps to publish if it is promoted.", NULL);
	D.m_standby_bytes = met_add(r, MET_GAUGE, "exchange_distribute_standby_bytes",
				    "Bytes of the lines a standby keeps.", NULL);
	D.m_standby_dropped = met_add(r, MET_COUNTER, "exchange_distribute_standby_dropped_total",
				      "Kept lines forgotten early for the byte budget (--standby-bytes).", NULL);
	D.m_standby_published = met_add(r, MET_COUNTER, "exchange_distribute_standby_published_total",
					"Kept lines published at a promotion: trades the cluster never got, the newest state of each stream.", NULL);
	D.m_standby_unjudged = met_add(r, MET_COUNTER, "exchange_distribute_standby_unjudged_total",
				       "Kept trades older than the trades remembered (--trade-window), left out at a promotion.", NULL);
	D.m_promotions = met_add(r, MET_COUNTER, "exchange_distribute_promotions_total", "Times this node became the leader.", NULL);
	D.m_promote_wait = met_add(r, MET_GAUGE, "exchange_distribute_promotion_wait_seconds",
				   "How long the last promotion took in the old leader's last lines before publishing.", NULL);
	D.m_not_object = met_add(r, MET_COUNTER, "exchange_distribute_not_object_total",
				 "Input lines that are not a JSON object, skipped.", NULL);
	D.m_catchups = met_add(r, MET_COUNTER, "exchange_distribute_catchups_total",
			       "Restarts that found the topic no longer held where the node stopped, filled from the leader's serve.", NULL);
	D.m_catchup_gaps = met_add(r, MET_COUNTER, "exchange_distribute_catchup_gaps_total",
				   "Catch-ups that gave up: the node's clients miss what the topic no longer held.", NULL);
	D.m_rss = met_add(r, MET_GAUGE, MN_RSS,
			  "Resident memory of each tool's process.", "tool=\"distribute\"");
	return D.m_catchups && D.m_catchup_gaps && D.m_trade_dups && D.m_position && D.m_standby_lines && D.m_standby_bytes && D.m_standby_dropped &&
			       D.m_standby_published && D.m_standby_unjudged && D.m_promotions && D.m_promote_wait &&
			       D.m_not_object && D.m_in && D.m_out && D.m_dropped && D.m_too_long && D.m_kafka_mode && D.m_mode_switches &&
			       D.m_leader && D.m_produced && D.m_delivery_failed && D.m_consumed && D.m_fenced &&
			       D.m_lag && D.m_kafka_up && D.m_assigned && D.m_relay_connected && D.m_relayed && D.m_relay_stale &&
			       D.m_relay_slow_lookups && D.m_relay_lookup_failures &&
			       D.m_duplicates && D.m_discarded && D.m_ready && D.m_rss
		       ? 0
		       : -1;
}

int main(int argc, char **argv)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, 0 };
	static const struct lws_protocols protocols[] = {
		{ "raw", cb_raw, 0, 0, 0, NULL, 0 },
		{ "relay", cb_relay, 0, 65536, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	struct lws_context_creation_info info;
	char err[512];

	if (parse_opts(argc, argv) || check_xprops())
		return EXIT_USAGE;
	log_init("distribute");
	if (D.o.check)
		return EXIT_OK;
	if (D.o.run_dir && rundir_ensure(D.o.run_dir, err, sizeof err)) {
		log_error("cannot use the run directory", " error=\"%s\"", err);
		return EXIT_USAGE;
	}
	D.sigfd = sig_init(signals, err, sizeof err);
	if (D.sigfd < 0 || setup_metrics() || ndj_init(&D.in, STDIN_FILENO, D.o.max_line) ||
	    oq_init(&D.out, STDOUT_FILENO, D.o.out_buffer) || seen_init(&D.seen, D.o.trade_window) ||
	    standby_init(&D.sb, STANDBY_MAX_LINES, D.o.standby_bytes, (int64_t)D.o.standby_s * 1000000) ||
	    standby_init(&D.held, STANDBY_MAX_LINES, 256 << 20, CATCHUP_MAX_US * 2)) {
		log_error("cannot start", " error=\"%s\"", D.sigfd < 0 ? err : "out of memory");
		return EXIT_RUNTIME;
	}
	fd_nonblock(STDIN_FILENO);
	fd_nonblock(STDOUT_FILENO);
	fd_grow_pipe(STDOUT_FILENO);
	/* The pid file first, then the role: elect either signals us or wrote the role already. */
	if (D.o.run_dir)
		rundir_write_pid(D.o.run_dir, "distribute", err, sizeof err);
	D.relay_until = -1;
	learn_where_we_stood();
	D.role = D.o.run_dir ? rundir_role(D.o.run_dir) : ROLE_LEADER;
	if (D.role == ROLE_STANDBY)
		D.role = ROLE_FOLLOWER; /* whether ingest runs is ingest's business; we keep what comes */
	D.m_leader->v = D.role == ROLE_LEADER;
	read_epoch();
	D.mode = D.o.brokers ? MODE_KAFKA : MODE_DIRECT;
	D.m_kafka_mode->v = D.mode == MODE_KAFKA;
	if (D.o.brokers) {
		const struct kafka_cfg kc = {
			.brokers = D.o.brokers, .topic = D.o.topic, .group_prefix = D.o.group_prefix,
			.node_id = D.o.node_id, .xprops = D.o.xprops, .nxprops = D.o.nxprops,
			.start_offset = D.kafka_start = read_offset(),
		};
		D.catchup = D.kafka_start >= 0 ? CU_CHECK : CU_NONE;
		const struct kafka_sink ksink = { .record = on_record };
		if (kafka_start(&kc, &ksink, err, sizeof err)) {
			log_error("cannot start the Kafka clients", " error=\"%s\"", err);
			return EXIT_USAGE;
		}
		D.m_assigned->v = 1;
	}

	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	D.ctx = lws_create_context(&info);
	if (!D.ctx) {
		log_error("cannot create the event loop", NULL);
		return EXIT_RUNTIME;
	}
	D.vh = lws_get_vhost_by_name(D.ctx, "default");
	const struct relay_cfg rc = { .ctx = D.ctx, .vh = D.vh, .run_dir = D.o.run_dir, .node_id = D.o.node_id };
	const struct relay_sink rsink = { .line = on_relayed, .wanted = relay_wanted, .position = relay_position };
	relay_init(&rc, &rsink);
	D.out_wsi = loop_adopt_output(D.vh, STDOUT_FILENO, "raw", &kinds[RAW_OUT]);
	if (!D.vh || !D.out_wsi || !loop_adopt(D.vh, D.sigfd, "raw", &kinds[RAW_SIGNALS]) ||
	    !loop_adopt(D.vh, STDIN_FILENO, "raw", &kinds[RAW_IN]) || (D.o.brokers && !loop_adopt(D.vh, kafka_fd(), "raw", &kinds[RAW_KAFKA]))) {
		log_error("cannot watch stdin, stdout, Kafka and signals", NULL);
		lws_context_destroy(D.ctx);
		return EXIT_RUNTIME;
	}
	log_info("started", " mode=%s role=%s epoch=%lld", D.mode == MODE_KAFKA ? "kafka" : "direct",
		 role_name(D.role), (long long)D.epoch);
	D.unhealthy_since = clk_mono_us();
	if (D.role == ROLE_LEADER)
		term_start();
	else if (D.mode == MODE_DIRECT)
		relay_start();
	lws_sul_schedule(D.ctx, 0, &D.sul_tick, tick_cb, TICK_US);

	while (D.stopping < 2) {
		if (lws_service(D.ctx, 0) < 0)
			break;
		out_flush_now();
	}

	if (D.o.brokers)
		kafka_stop();
	oq_drain(&D.out, 500);
	write_metrics();
	relay_stop();
	relay_free();
	lws_sul_cancel(&D.sul_tick);
	lws_context_destroy(D.ctx);
	if (D.o.run_dir)
		rundir_remove_pid(D.o.run_dir, "distribute");
	forget_recent(INT64_MAX);
	seen_free(&D.seen);
	standby_free(&D.sb);
	standby_free(&D.held);
	free(D.stamp);
	ndj_free(&D.in);
	oq_free(&D.out);
	met_free(D.reg);
	log_info("stopped", NULL);
	return D.exit_code;
}
