/* access.c: serve's access control, applied before a WebSocket upgrade (so a rejected client
 * receives nothing but the HTTP status) and before the admin endpoints. */
#include "clock.h"
#include "serve.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- connections per client address ---- */

struct ipcount {
	char ip[64];
	int n;
	struct ipcount *next;
};
#define IP_BUCKETS 1024
static struct ipcount *buckets[IP_BUCKETS];

static struct ipcount **ip_slot(const char *ip)
{
	uint32_t h = 2166136261u;
	for (const char *p = ip; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	struct ipcount **pp = &buckets[h % IP_BUCKETS];
	while (*pp && strcmp((*pp)->ip, ip))
		pp = &(*pp)->next;
	return pp;
}

int per_ip_add(const char *ip)
{
	if (!S.o.max_per_ip)
		return 0;
	struct ipcount **pp = ip_slot(ip);
	if (!*pp) {
		*pp = calloc(1, sizeof **pp);
		if (!*pp)
			return -1;
		snprintf((*pp)->ip, sizeof (*pp)->ip, "%s", ip);
	}
	if ((*pp)->n >= S.o.max_per_ip)
		return -1;
	(*pp)->n++;
	return 0;
}

void per_ip_remove(const char *ip)
{
	if (!S.o.max_per_ip)
		return;
	struct ipcount **pp = ip_slot(ip), *e = *pp;
	if (e && --e->n <= 0) {
		*pp = e->next;
		free(e);
	}
}

/* ---- tokens ---- */

/* The token from "?token=..." or "Authorization: Bearer ...", into BUF; length or -1. */
static int find_token(struct lws *wsi, char *buf, size_t n)
{
	char arg[2048];
	for (int i = 0; lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++)
		if (!strncmp(arg, "token=", 6)) {
			snprintf(buf, n, "%s", arg + 6);
			return (int)strlen(buf);
		}
	int k = lws_hdr_copy(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_AUTHORIZATION);
	if (k > 7 && !strncasecmp(arg, "Bearer ", 7)) {
		snprintf(buf, n, "%s", arg + 7);
		return (int)strlen(buf);
	}
	return -1;
}

static int origin_allowed(struct lws *wsi)
{
	char origin[512];
	if (!S.o.norigins)
		return 1;
	/* Origin is a browser's statement; programs send none and are judged by token only. */
	if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
		return 1;
	for (int i = 0; i < S.o.norigins; i++)
		if (!strcasecmp(origin, S.o.origins[i]))
			return 1;
	return 0;
}

int access_upgrade(struct lws *wsi, char *why, size_t whylen)
{
	char tok[2048];
	if (!origin_allowed(wsi)) {
		S.m_rejected_origin->v++;
		snprintf(why, whylen, "origin not allowed");
		return 403;
	}
	if (auth_enabled()) {
		int n = find_token(wsi, tok, sizeof tok);
		if (n < 0 || auth_check(tok, (size_t)n, clk_now_us() / 1000000, why, whylen)) {
			if (n < 0)
				snprintf(why, whylen, "token required");
			S.m_rejected_auth->v++;
			return 401;
		}
	}
	return 0;
}

int access_admin(struct lws *wsi)
{
	char peer[64], tok[2048], why[64];
	int admin = 0;
	if (!S.o.nadmin_nets)
		return 1;
	lws_get_peer_simple(wsi, peer, sizeof peer);
	for (int i = 0; i < S.o.nadmin_nets; i++)
		if (cidr_match_text(&S.o.admin_nets[i], peer))
			return 1;
	int n = auth_enabled() ? find_token(wsi, tok, sizeof tok) : -1;
	if (n > 0 && !auth_check_scope(tok, (size_t)n, clk_now_us() / 1000000, &admin, why, sizeof why) && admin)
		return 1;
	S.m_rejected_admin->v++;
	return 0;
}
