/* elect: ZooKeeper leader election for one node. Writes RUN_DIR/role, leader and epoch, and
 * tells ingest and distribute (SIGUSR1 leader, SIGUSR2 follower) whenever the role changes.
 *
 * The standard recipe: an ephemeral sequential znode under the election path holding
 * "NODE_ID URL"; the lowest sequence leads and its number is the epoch (the fencing token);
 * every other node watches only its predecessor (and the leader's znode, to keep
 * RUN_DIR/leader current). A leader demotes itself as soon as its session is lost or
 * expired, or its connection has been down for 2/3 of the session timeout, so two leaders
 * never act at once: ZooKeeper only expires the session after the whole timeout. */
#include "clock.h"
#include "exitcode.h"
#include "log.h"
#include "met.h"
#include "metnames.h"
#include "opt.h"
#include "rundir.h"
#include "sig.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#define VERSION "0.1.0"

struct opts {
	const char *zk, *path, *node_id, *url, *run_dir;
	const char *auth; /* "digest:user:password": authenticate, and create znodes creator-only */
	int session_ms;
	int standbys; /* followers next in line that keep ingesting (ROLE_STANDBY) */
	int check;
};

/* The states of one node's membership, and what moves it (one dispatch: elect_event). */
enum estate {
	ES_DISCONNECTED, /* no usable session yet (starting, or ZooKeeper unreachable) */
	ES_CONNECTED,    /* session up, no znode of ours yet */
	ES_ENROLLED,     /* our znode exists: follower or leader, see role */
	ES_SUSPENDED,    /* connection lost, session maybe alive: demoted after 2/3 timeout */
};
enum eevent { EE_CONNECTED, EE_CONNECTION_LOST, EE_EXPIRED, EE_WATCH, EE_TICK, EE_STOP };
static const char *const state_names[] = { "disconnected", "connected", "enrolled", "suspended" };

struct zev {
	int type, state;
};

struct elect {
	struct opts o;
	zhandle_t *zh;
	int evfd[2];
	int sigfd;
	enum estate st;
	enum role role;
	char node[1024];      /* our znode's full path, "" when none */
	long long seq;        /* our sequence number */
	long long epoch;      /* the leader's sequence number, -1 when unknown */
	char leader[1024];    /* the leader's data: "NODE_ID URL" */
	int64_t lost_since;   /* when the connection went down (mono µs) */
	int stopping;
	int64_t last_metrics, last_wait_log;
	struct met_reg *reg;
	struct met *m_leader, *m_epoch, *m_connected, *m_elections, *m_changes, *m_rss;
};

static struct elect E;

/* ---- the ZooKeeper thread only writes events to a pipe ---- */

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	struct zev ev = { type, state };
	ssize_t w = write(E.evfd[1], &ev, sizeof ev);
	(void)w;
}

/* ---- run directory and signals to the other tools ---- */

static void signal_tool(const char *tool, int sig)
{
	char name[64], buf[32];
	snprintf(name, sizeof name, "%s.pid", tool);
	if (!E.o.run_dir || rundir_read(E.o.run_dir, name, buf, sizeof buf) <= 0)
		return;
	pid_t pid = (pid_t)atoi(buf);
	if (pid > 1 && kill(pid, sig) == 0)
		log_debug("signalled", " tool=%s pid=%d signal=%s", tool, (int)pid, sig == SIGUSR1 ? "USR1" : "USR2");
}

static void write_file(const char *name, const char *content)
{
	char err[256];
	if (E.o.run_dir && rundir_write(E.o.run_dir, name, content, err, sizeof err))
		log_error("cannot write the run directory", " error=\"%s\"", err);
}

static void publish_leader(void)
{
	char buf[64];
	char line[1100];
	snprintf(line, sizeof line, "%s\n", E.leader);
	write_file("leader", line);
	snprintf(buf, sizeof buf, "%lld\n", E.epoch);
	write_file("epoch", buf);
	E.m_epoch->v = (double)E.epoch;
}

/* The role file is written before the signal, so a tool that (re)starts in between still
 * reads the right role. SIGUSR2 is also sent when a follower learns of a new leader, so
 * distribute relays from the right node. */
static void set_role(enum role r, const char *why)
{
	int changed = E.role != r;
	E.role = r;
	E.m_leader->v = r == ROLE_LEADER;
	write_file("role", r == ROLE_LEADER ? "leader\n" : r == ROLE_STANDBY ? "standby\n" : "follower\n");
	if (changed) {
		E.m_changes->v++;
		log_info(r == ROLE_LEADER ? "leading" : r == ROLE_STANDBY ? "following, as a standby" : "following",
			 " epoch=%lld reason=\"%s\" leader=\"%s\"", E.epoch, why, E.leader);
	}
	signal_tool("ingest", r == ROLE_LEADER ? SIGUSR1 : SIGUSR2);
	signal_tool("distribute", r == ROLE_LEADER ? SIGUSR1 : SIGUSR2);
}

/* ---- the election ---- */

static long long seq_of(const char *name)
{
	const char *p = strrchr(name, '_');
	return p ? atoll(p + 1) : -1;
}

static int by_seq(const void *a, const void *b)
{
	long long x = seq_of(*(char *const *)a), y = seq_of(*(char *const *)b);
	return (x > y) - (x < y);
}

/* With --auth the election's znodes belong to the authenticated identity (digest): other
 * clients cannot delete or write them. Without it they are open, as ZooKeeper's default. */
static struct ACL_vector *acl(void)
{
	return E.o.auth ? &ZOO_CREATOR_ALL_ACL : &ZOO_OPEN_ACL_UNSAFE;
}

/* Creates the election path's parents (persistent) if missing. */
static int ensure_path(void)
{
	char p[1024];
	snprintf(p, sizeof p, "%s", E.o.path);
	for (char *s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;
			*s = 0;
			int rc = zoo_create(E.zh, p, NULL, -1, acl(), 0, NULL, 0);
			if (rc != ZOK && rc != ZNODEEXISTS) {
				log_warn("cannot create the election path", " path=%s error=\"%s\"", p, zerror(rc));
				return -1;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	return 0;
}

static int enroll(void)
{
	char prefix[1100], data[1024];
	if (ensure_path())
		return -1;
	snprintf(prefix, sizeof prefix, "%s/n_", E.o.path);
	snprintf(data, sizeof data, "%s %s", E.o.node_id, E.o.url);
	int rc = zoo_create(E.zh, prefix, data, (int)strlen(data), acl(), ZOO_EPHEMERAL_SEQUENTIAL,
			    E.node, sizeof E.node);
	if (rc != ZOK) {
		log_warn("cannot join the election", " error=\"%s\"", zerror(rc));
		E.node[0] = 0;
		return -1;
	}
	E.seq = seq_of(E.node);
	log_info("joined the election", " znode=%s seq=%lld", E.node, E.seq);
	return 0;
}

/* Reads the members, decides the role, and watches what can change it. Returns -1 when
 * ZooKeeper could not answer (the caller retries on the next event or tick). */
static int evaluate(void)
{
	struct String_vector kids = { 0, NULL };
	for (int attempt = 0; attempt < 5; attempt++) {
		/* With standbys, every change of membership can change our place in line. */
		int rc = zoo_wget_children(E.zh, E.o.path, E.o.standbys ? watcher : NULL, NULL, &kids);
		if (rc != ZOK) {
			log_warn("cannot list the election", " error=\"%s\"", zerror(rc));
			return -1;
		}
		qsort(kids.data, (size_t)kids.count, sizeof *kids.data, by_seq);
		const char *mine = strrchr(E.node, '/') ? strrchr(E.node, '/') + 1 : E.node;
		int me = -1;
		for (int i = 0; i < kids.count; i++)
			if (!strcmp(kids.data[i], mine))
				me = i;
		if (me < 0) {
			/* Our znode is gone (deleted by hand, or an old session): join again. */
			deallocate_String_vector(&kids);
			E.node[0] = 0;
			if (enroll())
				return -1;
			continue;
		}
		char lpath[1200], data[1024];
		int len = sizeof data - 1;
		snprintf(lpath, sizeof lpath, "%s/%s", E.o.path, kids.data[0]);
		struct Stat stat;
		/* Followers watch the leader's znode too, to keep RUN_DIR/leader current. */
		rc = zoo_wget(E.zh, lpath, me ? watcher : NULL, NULL, data, &len, &stat);
		if (rc == ZNONODE) {
			deallocate_String_vector(&kids);
			continue;
		}
		if (rc != ZOK) {
			deallocate_String_vector(&kids);
			return -1;
		}
		data[len > 0 ? len : 0] = 0;
		/* The first --standbys followers in line are standbys: the next leader is one. */
		enum role follow = me <= E.o.standbys ? ROLE_STANDBY : ROLE_FOLLOWER;
		long long epoch = seq_of(kids.data[0]);
		if (epoch != E.epoch || strcmp(data, E.leader)) {
			E.epoch = epoch;
			snprintf(E.leader, sizeof E.leader, "%s", data);
			E.m_elections->v++;
			publish_leader();
			if (me)
				set_role(follow, "new leader");
		}
		if (me == 0) {
			deallocate_String_vector(&kids);
			if (E.role != ROLE_LEADER)
				set_role(ROLE_LEADER, "lowest sequence");
			return 0;
		}
		/* Watch only the predecessor: when it goes, we may lead. */
		char ppath[1200];
		snprintf(ppath, sizeof ppath, "%s/%s", E.o.path, kids.data[me - 1]);
		rc = zoo_wexists(E.zh, ppath, watcher, NULL, &stat);
		deallocate_String_vector(&kids);
		if (rc == ZNONODE)
			continue; /* it left meanwhile: look again */
		if (rc != ZOK)
			return -1;
		if (E.role != follow)
			set_role(follow, follow == ROLE_STANDBY ? "next in line" : "not the lowest sequence");
		return 0;
	}
	return -1;
}

static void new_session(void)
{
	if (E.zh)
		zookeeper_close(E.zh);
	E.node[0] = 0;
	E.zh = zookeeper_init(E.o.zk, watcher, E.o.session_ms, NULL, NULL, 0);
	if (!E.zh) {
		log_error("cannot start a ZooKeeper session", " zk=%s error=\"%s\"", E.o.zk, strerror(errno));
	} else {
		/* The client would look the servers' names up again on every turn of its I/O
		 * thread. A resolver that stops answering (a container network's, while
		 * containers come and go) then holds that thread: no pings go out, ZooKeeper
		 * expires the session, another node leads, and no event ever tells this one,
		 * which still believes it leads. Names are looked up when (re)connecting only;
		 * a lost connection is reported before that. */
		zoo_set_servers_resolution_delay(E.zh, -1);
	}
	if (E.zh && E.o.auth) {
		const char *colon = strchr(E.o.auth, ':');
		char scheme[32];
		snprintf(scheme, sizeof scheme, "%.*s", (int)(colon - E.o.auth), E.o.auth);
		int rc = zoo_add_auth(E.zh, scheme, colon + 1, (int)strlen(colon + 1), NULL, NULL);
		if (rc != ZOK)
			log_error("ZooKeeper authentication could not be sent", " error=\"%s\"", zerror(rc));
	}
	E.st = ES_DISCONNECTED;
	E.lost_since = clk_mono_us();
}

static void set_state(enum estate s)
{
	if (E.st != s)
		log_debug("state", " from=%s to=%s", state_names[E.st], state_names[s]);
	E.st = s;
	E.m_connected->v = s == ES_CONNECTED || s == ES_ENROLLED;
}

static void elect_event(enum eevent ev)
{
	int64_t now = clk_mono_us();
	switch (ev) {
	case EE_CONNECTED:
		if (E.st == ES_DISCONNECTED || E.st == ES_SUSPENDED) {
			log_info("connected to ZooKeeper", " session_timeout_ms=%d", zoo_recv_timeout(E.zh));
			E.lost_since = 0;
			set_state(E.node[0] ? ES_ENROLLED : ES_CONNECTED);
		}
		/* Being connected, take part: */
		__attribute__((fallthrough));
	case EE_WATCH:
	case EE_TICK:
		if (E.st == ES_CONNECTED && !enroll())
			set_state(ES_ENROLLED);
		if (E.st == ES_ENROLLED && (ev != EE_TICK || E.epoch < 0) && evaluate() && ev == EE_TICK)
			log_debug("election not settled, retrying", NULL);
		if ((E.st == ES_SUSPENDED || E.st == ES_DISCONNECTED) && E.lost_since && E.role == ROLE_LEADER &&
		    now - E.lost_since >= (int64_t)E.o.session_ms * 1000 * 2 / 3)
			set_role(ROLE_FOLLOWER, "ZooKeeper unreachable for 2/3 of the session timeout");
		if (E.st == ES_DISCONNECTED && now - E.last_wait_log > 10000000) {
			E.last_wait_log = now;
			log_warn("waiting for ZooKeeper", " zk=%s role=%s", E.o.zk, role_name(E.role));
		}
		break;
	case EE_CONNECTION_LOST:
		if (E.st != ES_SUSPENDED && E.st != ES_DISCONNECTED) {
			log_warn("ZooKeeper connection lost", " role=%s", role_name(E.role));
			E.lost_since = now;
			set_state(ES_SUSPENDED);
		}
		break;
	case EE_EXPIRED:
		log_warn("ZooKeeper session expired: joining again with a new session", NULL);
		if (E.role == ROLE_LEADER)
			set_role(ROLE_FOLLOWER, "session expired");
		new_session();
		break;
	case EE_STOP:
		/* Leave at once so the next node leads without waiting for the session to time out. */
		if (E.node[0] && (E.st == ES_ENROLLED)) {
			int rc = zoo_delete(E.zh, E.node, -1);
			log_info("left the election", " znode=%s result=\"%s\"", E.node, zerror(rc));
		}
		if (E.role == ROLE_LEADER)
			set_role(ROLE_FOLLOWER, "stopping");
		E.stopping = 1;
		break;
	}
}

static void on_zk_event(const struct zev *ev)
{
	if (ev->type == ZOO_SESSION_EVENT) {
		if (ev->state == ZOO_CONNECTED_STATE)
			elect_event(EE_CONNECTED);
		else if (ev->state == ZOO_EXPIRED_SESSION_STATE)
			elect_event(EE_EXPIRED);
		else if (ev->state == ZOO_CONNECTING_STATE || ev->state == ZOO_ASSOCIATING_STATE)
			elect_event(EE_CONNECTION_LOST);
		else if (ev->state == ZOO_AUTH_FAILED_STATE)
			log_error("ZooKeeper authentication failed", NULL);
	} else {
		elect_event(EE_WATCH);
	}
}

/* ---- options, metrics, loop ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: elect --zk HOSTS --node-id ID --url ADVERTISED_URL [OPTIONS]\n"
		"ZooKeeper leader election for one node: writes RUN_DIR/role, leader and epoch and\n"
		"signals ingest and distribute (USR1 leader, USR2 follower or standby) on every change.\n\n"
		"  -z, --zk HOSTS              ZooKeeper hosts, host:port[,host:port...][/chroot]\n"
		"  -p, --path PATH             election path (default /exchange/election)\n"
		"  -i, --node-id ID            this node's name (default $NODE_ID)\n"
		"  -u, --url URL               this node's client URL (default $ADVERTISED_URL)\n"
		"  -s, --session-timeout MS    ZooKeeper session timeout (default 6000)\n"
		"  -S, --standbys N            followers next in line that keep their exchange\n"
		"                              connections, to take over without a gap (default 1)\n"
		"  -r, --run-dir DIR           run directory (default $RUN_DIR)\n"
		"  -a, --auth SCHEME:CRED      authenticate (e.g. digest:user:password; default $ZK_AUTH)\n"
		"                              and create the election's znodes for that identity only\n"
		"  -n, --check                 validate the options and exit\n"
		"  -h, --help                  this text\n"
		"  -V, --version               the version\n\n"
		"Until it is elected, and whenever ZooKeeper is unreachable, the node is a follower.\n"
		EXITCODE_HELP);
}

/* The syntax the ZooKeeper client takes, checked without connecting: HOST:PORT[,HOST:PORT]...
 * and an optional /chroot. zookeeper_init would take a bad string and fail on every retry;
 * here it is a configuration error. */
static int check_zk(const char *s, char *err, size_t errlen)
{
	const char *chroot = strchr(s, '/');
	size_t hosts_len = chroot ? (size_t)(chroot - s) : strlen(s);
	if (!hosts_len) {
		snprintf(err, errlen, "\"%.60s\": no HOST:PORT before the chroot path", s);
		return -1;
	}
	for (const char *h = s; h < s + hosts_len;) {
		size_t n = strcspn(h, ",");
		if (h + n > s + hosts_len)
			n = (size_t)(s + hosts_len - h);
		const char *colon = memrchr(h, ':', n);
		char port[8];
		long long v;
		size_t pn = colon ? (size_t)(h + n - colon - 1) : 0;
		if (!colon || colon == h) {
			snprintf(err, errlen, "\"%.*s\" is not HOST:PORT", (int)(n > 60 ? 60 : n), h);
			return -1;
		}
		for (const char *c = h; c < colon; c++)
			if (!isalnum((unsigned char)*c) && !strchr(".-_:", *c)) {
				snprintf(err, errlen, "\"%.*s\": a host name has no '%c'", (int)(n > 60 ? 60 : n), h, *c);
				return -1;
			}
		snprintf(port, sizeof port, "%.*s", (int)(pn < sizeof port ? pn : sizeof port - 1), colon + 1);
		if (!pn || pn >= sizeof port || strspn(port, "0123456789") != pn ||
		    opt_long(port, 1, 65535, &v, err, errlen)) {
			snprintf(err, errlen, "\"%.*s\": the port is a number (1-65535)", (int)(n > 60 ? 60 : n), h);
			return -1;
		}
		h += n;
		if (h < s + hosts_len && ++h == s + hosts_len) {
			snprintf(err, errlen, "\"%.60s\": a comma with no HOST:PORT after it", s);
			return -1;
		}
	}
	if (chroot && strcmp(chroot, "/") &&
	    (chroot[strlen(chroot) - 1] == '/' || strstr(chroot, "//") || strstr(chroot, "/./") ||
	     strstr(chroot, "/../") || strpbrk(chroot, " ,:"))) {
		snprintf(err, errlen, "\"%.60s\": the chroot is not a ZooKeeper path", chroot);
		return -1;
	}
	return 0;
}

static int parse_opts(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "auth", required_argument, NULL, 'a' },
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "node-id", required_argument, NULL, 'i' },
		{ "path", required_argument, NULL, 'p' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "session-timeout", required_argument, NULL, 's' },
		{ "standbys", required_argument, NULL, 'S' },
		{ "url", required_argument, NULL, 'u' },
		{ "version", no_argument, NULL, 'V' },
		{ "zk", required_argument, NULL, 'z' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts *o = &E.o;
	char err[128];
	long long v;
	int c;
	o->path = "/exchange/election";
	o->node_id = getenv("NODE_ID");
	o->url = getenv("ADVERTISED_URL");
	o->run_dir = getenv("RUN_DIR");
	o->session_ms = 6000;
	o->standbys = 1;
	o->auth = getenv("ZK_AUTH");
	while ((c = getopt_long(argc, argv, "a:hi:np:r:S:s:u:Vz:", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': o->auth = optarg; break;
		case 'h': usage(stdout); exit(EXIT_OK);
		case 'i': o->node_id = optarg; break;
		case 'n': o->check = 1; break;
		case 'p': o->path = optarg; break;
		case 'r': o->run_dir = optarg; break;
		case 's':
			if (opt_long(optarg, 400, 120000, &v, err, sizeof err)) {
				fprintf(stderr, "elect: --session-timeout: %s\n", err);
				return -1;
			}
			o->session_ms = (int)v;
			break;
		case 'S':
			if (opt_long(optarg, 0, 64, &v, err, sizeof err)) {
				fprintf(stderr, "elect: --standbys: %s\n", err);
				return -1;
			}
			o->standbys = (int)v;
			break;
		case 'u': o->url = optarg; break;
		case 'V': printf("elect %s\n", VERSION); exit(EXIT_OK);
		case 'z': o->zk = optarg; break;
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc || !o->zk || !*o->zk || !o->node_id || !*o->node_id || !o->url || !*o->url) {
		fprintf(stderr, "elect: --zk, --node-id and --url are required (try --help)\n");
		return -1;
	}
	if (check_zk(o->zk, err, sizeof err)) {
		fprintf(stderr, "elect: --zk: %s; the form is HOST:PORT[,HOST:PORT]...[/CHROOT]\n", err);
		return -1;
	}
	if (o->path[0] != '/' || o->path[strlen(o->path) - 1] == '/') {
		fprintf(stderr, "elect: --path: \"%s\" must start with / and not end with one\n", o->path);
		return -1;
	}
	if (strchr(o->node_id, ' ')) {
		fprintf(stderr, "elect: --node-id: \"%s\" has a space; a node id has none\n", o->node_id);
		return -1;
	}
	if (o->run_dir && !*o->run_dir)
		o->run_dir = NULL;
	if (o->auth && !*o->auth)
		o->auth = NULL;
	if (o->auth && (!strchr(o->auth, ':') || strchr(o->auth, ':') - o->auth >= 32)) {
		fprintf(stderr, "elect: --auth takes SCHEME:CREDENTIALS, e.g. digest:relay:secret\n");
		return -1;
	}
	return 0;
}

static int setup_metrics(void)
{
	struct met_reg *r = E.reg = met_new();
	if (!r)
		return -1;
	E.m_leader = met_add(r, MET_GAUGE, "exchange_elect_leader", "1 while this node leads.", NULL);
	E.m_epoch = met_add(r, MET_GAUGE, "exchange_elect_epoch",
			    "The leader's epoch (its election znode sequence), -1 when unknown.", NULL);
	E.m_connected = met_add(r, MET_GAUGE, "exchange_zookeeper_connected",
				"1 while the ZooKeeper session is connected.", NULL);
	E.m_elections = met_add(r, MET_COUNTER, "exchange_elect_elections_total",
				"Leader changes seen (including the first).", NULL);
	E.m_changes = met_add(r, MET_COUNTER, "exchange_elect_role_changes_total",
			      "Role changes of this node.", NULL);
	E.m_rss = met_add(r, MET_GAUGE, MN_RSS,
			  "Resident memory of each tool's process.", "tool=\"elect\"");
	return E.m_leader && E.m_epoch && E.m_connected && E.m_elections && E.m_changes && E.m_rss ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, 0 };
	char err[256];

	if (parse_opts(argc, argv))
		return EXIT_USAGE;
	log_init("elect");
	if (E.o.check)
		return EXIT_OK;
	if (E.o.run_dir && rundir_ensure(E.o.run_dir, err, sizeof err)) {
		log_error("cannot use the run directory", " error=\"%s\"", err);
		return EXIT_USAGE;
	}
	E.sigfd = sig_init(signals, err, sizeof err);
	if (E.sigfd < 0 || setup_metrics() || pipe2(E.evfd, O_CLOEXEC)) {
		log_error("cannot start", " error=\"%s\"", E.sigfd < 0 ? err : strerror(errno));
		return EXIT_RUNTIME;
	}
	fd_nonblock(E.evfd[0]);
	E.epoch = -1;
	E.m_epoch->v = -1;
	if (E.o.run_dir)
		rundir_write_pid(E.o.run_dir, "elect", err, sizeof err);
	/* Nobody leads until ZooKeeper says so. */
	E.role = ROLE_LEADER;
	set_role(ROLE_FOLLOWER, "starting");
	zoo_set_debug_level(log_enabled(LOG_DEBUG) ? ZOO_LOG_LEVEL_INFO : ZOO_LOG_LEVEL_ERROR);
	/* ZooKeeper's threads must not take our signals: block them while the session starts. */
	sig_block_all();
	new_session();
	sig_unblock_all();
	log_info("started", " zk=%s path=%s node=%s url=%s session_timeout_ms=%d", E.o.zk, E.o.path, E.o.node_id,
		 E.o.url, E.o.session_ms);

	while (!E.stopping) {
		struct pollfd pfd[2] = { { .fd = E.evfd[0], .events = POLLIN }, { .fd = E.sigfd, .events = POLLIN } };
		int64_t now = clk_mono_us();
		/* Tick fast enough to demote within 2/3 of the session timeout, and to retry. */
		int timeout = E.o.session_ms / 12 > 100 ? E.o.session_ms / 12 : 100;
		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			break;
		struct zev ev;
		while (read(E.evfd[0], &ev, sizeof ev) == (ssize_t)sizeof ev && !E.stopping)
			on_zk_event(&ev);
		int sig;
		while ((sig = sig_next(E.sigfd)))
			if (sig == SIGTERM || sig == SIGINT) {
				log_info("stopping", " signal=%d", sig);
				elect_event(EE_STOP);
			}
		if (!E.stopping)
			elect_event(EE_TICK);
		if (now - E.last_metrics >= 1000000 && E.o.run_dir) {
			E.last_metrics = now;
			E.m_rss->v = met_rss_bytes();
			if (met_write_file(E.reg, E.o.run_dir, "elect", err, sizeof err))
				log_warn("cannot write metrics", " error=\"%s\"", err);
		}
	}
	if (E.zh)
		zookeeper_close(E.zh);
	if (E.o.run_dir) {
		E.m_connected->v = 0;
		met_write_file(E.reg, E.o.run_dir, "elect", err, sizeof err);
		rundir_remove_pid(E.o.run_dir, "elect");
	}
	met_free(E.reg);
	log_info("stopped", NULL);
	return EXIT_OK;
}
