/* resolve.c: host names looked up on threads of their own (see resolve.h). */
#include "resolve.h"
#include "clock.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_ADDRS 8

/* Shared by the caller and its thread; whichever lets go last frees it. */
struct resolve {
	pthread_mutex_t mu;
	int refs;
	int done;
	int rc; /* getaddrinfo's, or EAI_SYSTEM when the thread could not start */
	int naddr;
	char host[256];
	char addr[MAX_ADDRS][INET6_ADDRSTRLEN];
};

static int threads; /* alive; under threads_mu */
static pthread_mutex_t threads_mu = PTHREAD_MUTEX_INITIALIZER;

static void put(struct resolve *r)
{
	pthread_mutex_lock(&r->mu);
	int last = --r->refs == 0;
	pthread_mutex_unlock(&r->mu);
	if (last) {
		pthread_mutex_destroy(&r->mu);
		free(r);
	}
}

/* Numeric addresses of RES into R, IPv4 first. */
static void take_addrs(struct resolve *r, const struct addrinfo *res)
{
	for (int family = 0; family < 2; family++)
		for (const struct addrinfo *a = res; a && r->naddr < MAX_ADDRS; a = a->ai_next) {
			if (a->ai_family != (family ? AF_INET6 : AF_INET))
				continue;
			if (!getnameinfo(a->ai_addr, a->ai_addrlen, r->addr[r->naddr], sizeof r->addr[0], NULL, 0,
					 NI_NUMERICHOST))
				r->naddr++;
		}
}

static void *worker(void *arg)
{
	struct resolve *r = arg;
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int rc = getaddrinfo(r->host, NULL, &hints, &res);
	pthread_mutex_lock(&r->mu);
	r->rc = rc;
	if (!rc)
		take_addrs(r, res);
	r->done = 1;
	pthread_mutex_unlock(&r->mu);
	if (res)
		freeaddrinfo(res);
	put(r);
	pthread_mutex_lock(&threads_mu);
	threads--;
	pthread_mutex_unlock(&threads_mu);
	return NULL;
}

int lookup_threads(void)
{
	pthread_mutex_lock(&threads_mu);
	int n = threads;
	pthread_mutex_unlock(&threads_mu);
	return n;
}

/* Begins the lookup of HOST on a thread; -1 with ERR when it cannot. */
static int begin(struct lookup *l, const char *host, char *err, size_t errn)
{
	pthread_mutex_lock(&threads_mu);
	int room = threads < LOOKUP_MAX_THREADS;
	if (room)
		threads++;
	pthread_mutex_unlock(&threads_mu);
	if (!room) {
		snprintf(err, errn, "%d name lookups are waiting for the resolver already", LOOKUP_MAX_THREADS);
		return -1;
	}
	struct resolve *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errn, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&r->mu, NULL);
	r->refs = 2;
	snprintf(r->host, sizeof r->host, "%s", host);
	/* The thread takes no signal: the tools handle theirs on the main thread. */
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&t, &attr, worker, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (e) {
		snprintf(err, errn, "cannot start a lookup thread: %s", strerror(e));
		pthread_mutex_destroy(&r->mu);
		free(r);
		goto fail;
	}
	l->r = r;
	snprintf(l->host, sizeof l->host, "%s", host);
	l->started = clk_mono_us();
	l->slow = 0;
	return 0;
fail:
	pthread_mutex_lock(&threads_mu);
	threads--;
	pthread_mutex_unlock(&threads_mu);
	return -1;
}

static int numeric(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int lookup_addr(struct lookup *l, const char *host, char *addr, size_t n, char *err, size_t errn)
{
	if (numeric(host)) {
		lookup_cancel(l);
		snprintf(addr, n, "%s", host);
		return 1;
	}
	if (strlen(host) >= sizeof l->host) { /* DNS names end at 253 */
		lookup_cancel(l);
		snprintf(err, errn, "cannot resolve a host name of %zu bytes", strlen(host));
		return -1;
	}
	if (l->r && strcmp(l->host, host))
		lookup_cancel(l); /* asked for another name meanwhile */
	if (!l->r && begin(l, host, err, errn))
		return -1;
	struct resolve *r = l->r;
	pthread_mutex_lock(&r->mu);
	int done = r->done, rc = r->rc, naddr = r->naddr;
	if (done && !rc && naddr)
		snprintf(addr, n, "%s", r->addr[l->turn++ % (unsigned)naddr]);
	pthread_mutex_unlock(&r->mu);
	if (!done)
		return 0;
	lookup_cancel(l);
	if (rc) {
		snprintf(err, errn, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	if (!naddr) {
		snprintf(err, errn, "cannot resolve %s: no IPv4 or IPv6 address", host);
		return -1;
	}
	return 1;
}

int64_t lookup_elapsed(const struct lookup *l)
{
	return l->r ? clk_mono_us() - l->started : 0;
}

int lookup_slow(struct lookup *l)
{
	if (!l->r || l->slow || lookup_elapsed(l) < LOOKUP_SLOW_US)
		return 0;
	l->slow = 1;
	return 1;
}

void lookup_cancel(struct lookup *l)
{
	if (l->r)
		put(l->r);
	l->r = NULL;
}
