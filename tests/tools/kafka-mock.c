/* kafka-mock: a Kafka cluster for tests, from librdkafka's built-in mock (rdkafka_mock.h),
 * since no broker is packaged for this machine. Prints "bootstrap HOST:PORT,..." on stdout
 * once ready; brokers can be taken down and brought back through a control socket. */
#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]... [--control PATH]\n"
		   "A mock Kafka cluster on loopback; prints \"bootstrap LIST\" when ready.\n"
		   "Control socket commands (one per line, answered \"ok\" or \"error ...\"):\n"
		   "  down [ID]   take broker ID (default: every broker) down\n"
		   "  up [ID]     bring it back\n"
		   "  topic NAME[:PARTITIONS]   create a topic\n"
		   "Exit status: 0 ok, 1 runtime failure, 2 usage error.\n");
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (fd < 0 || strlen(path) >= sizeof sa.sun_path)
		return -1;
	strcpy(sa.sun_path, path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 8)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int create_topic(rd_kafka_mock_cluster_t *mc, const char *spec)
{
	char name[256];
	int parts = 1;
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	if (!n || n >= sizeof name)
		return -1;
	memcpy(name, spec, n);
	name[n] = 0;
	if (colon)
		parts = atoi(colon + 1);
	if (parts < 1)
		return -1;
	return rd_kafka_mock_topic_create(mc, name, parts, 1) ? -1 : 0;
}

static void command(rd_kafka_mock_cluster_t *mc, int nbrokers, char *line, char *reply, size_t rn)
{
	char *arg = strchr(line, ' ');
	if (arg)
		*arg++ = 0;
	int id = arg ? atoi(arg) : 0;
	if (!strcmp(line, "down") || !strcmp(line, "up")) {
		int up = !strcmp(line, "up");
		for (int b = 1; b <= nbrokers; b++)
			if (!arg || b == id) {
				if (up)
					rd_kafka_mock_broker_set_up(mc, b);
				else
					rd_kafka_mock_broker_set_down(mc, b);
			}
		fprintf(stderr, "kafka-mock: brokers %s %s\n", arg ? arg : "all", up ? "up" : "down");
		snprintf(reply, rn, "ok\n");
	} else if (!strcmp(line, "topic") && arg) {
		snprintf(reply, rn, create_topic(mc, arg) ? "error cannot create topic\n" : "ok\n");
	} else {
		snprintf(reply, rn, "error commands: down [ID], up [ID], topic NAME[:PARTITIONS]\n");
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "brokers", required_argument, NULL, 'b' },
		{ "control", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "topic", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *control = NULL, *topics[16];
	int ntopics = 0, nbrokers = 3, c;
	char err[512];

	while ((c = getopt_long(argc, argv, "b:c:ht:", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			nbrokers = atoi(optarg);
			if (nbrokers < 1 || nbrokers > 9) {
				fprintf(stderr, "kafka-mock: --brokers takes 1..9\n");
				return 2;
			}
			break;
		case 'c': control = optarg; break;
		case 'h': usage(stdout); return 0;
		case 't':
			if (ntopics < 16)
				topics[ntopics++] = optarg;
			break;
		default: usage(stderr); return 2;
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);

	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!rk) {
		fprintf(stderr, "kafka-mock: %s\n", err);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, nbrokers);
	if (!mc) {
		fprintf(stderr, "kafka-mock: cannot create the mock cluster\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	for (int i = 0; i < ntopics; i++)
		if (create_topic(mc, topics[i]))
			fprintf(stderr, "kafka-mock: cannot create topic %s\n", topics[i]);
	int lfd = -1;
	if (control && (lfd = listen_unix(control)) < 0) {
		fprintf(stderr, "kafka-mock: cannot listen on %s: %s\n", control, strerror(errno));
		return 1;
	}
	printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);

	while (!stop) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		if (poll(&p, lfd >= 0 ? 1 : 0, 200) > 0 && (p.revents & POLLIN)) {
			int cfd = accept(lfd, NULL, NULL);
			if (cfd >= 0) {
				char line[512], reply[256];
				ssize_t n = read(cfd, line, sizeof line - 1);
				if (n > 0) {
					line[n] = 0;
					line[strcspn(line, "\r\n")] = 0;
					command(mc, nbrokers, line, reply, sizeof reply);
					ssize_t w = write(cfd, reply, strlen(reply));
					(void)w;
				}
				close(cfd);
			}
		}
		rd_kafka_poll(rk, 0);
	}
	if (control)
		unlink(control);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
