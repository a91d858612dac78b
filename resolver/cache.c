/*
 * resolver/cache.c - the short answer cache of resolver/cache.h: a hash
 * table of copies, also on a list in insertion order so that the oldest
 * entry (the first to expire, or to make room) is found at once.
 * Expiry uses CLOCK_MONOTONIC: a clock step changes nothing.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "resolver/cache.h"
#include "relay/util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#define DNS_CACHE_BUCKETS	512	/* a power of two */

struct dns_cache_entry {
	TAILQ_ENTRY(dns_cache_entry)	 age;		/* oldest first */
	struct dns_cache_entry		*next;		/* in its bucket */
	uint64_t			 expires;	/* monotonic ms */
	unsigned			 bucket;
	struct dns_result		*res;
};

struct dns_cache {
	struct dns_cache_entry		*buckets[DNS_CACHE_BUCKETS];
	TAILQ_HEAD(, dns_cache_entry)	 byage;
	size_t				 n;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* FNV-1a of the (normalized, lower-case) name and the type. */
static unsigned
bucket_of(const char *qname, int qtype)
{
	uint32_t h = 2166136261u;

	for (; *qname != '\0'; qname++)
		h = (h ^ (unsigned char)*qname) * 16777619u;
	h = (h ^ (uint32_t)qtype) * 16777619u;
	return h & (DNS_CACHE_BUCKETS - 1);
}

struct dns_cache *
dns_cache_new(void)
{
	struct dns_cache *c = xcalloc(1, sizeof(*c));

	TAILQ_INIT(&c->byage);
	return c;
}

static void
entry_drop(struct dns_cache *c, struct dns_cache_entry *e)
{
	struct dns_cache_entry **pp;

	for (pp = &c->buckets[e->bucket]; *pp != e; pp = &(*pp)->next)
		;
	*pp = e->next;
	TAILQ_REMOVE(&c->byage, e, age);
	c->n--;
	dns_result_free(e->res);
	free(e);
}

/* Drop the expired entries at the old end of the list. */
static void
expire(struct dns_cache *c, uint64_t now)
{
	struct dns_cache_entry *e;

	while ((e = TAILQ_FIRST(&c->byage)) != NULL && e->expires <= now)
		entry_drop(c, e);
}

void
dns_cache_free(struct dns_cache *c)
{
	struct dns_cache_entry *e;

	if (c == NULL)
		return;
	while ((e = TAILQ_FIRST(&c->byage)) != NULL)
		entry_drop(c, e);
	free(c);
}

static struct dns_cache_entry *
find(struct dns_cache *c, const char *qname, int qtype)
{
	struct dns_cache_entry *e;

	for (e = c->buckets[bucket_of(qname, qtype)]; e != NULL; e = e->next)
		if (e->res->qtype == qtype && strcmp(e->res->qname, qname) == 0)
			return e;
	return NULL;
}

struct dns_result *
dns_cache_get(struct dns_cache *c, const char *qname, int qtype)
{
	struct dns_cache_entry *e;
	uint64_t now;

	if (c == NULL || c->n == 0)
		return NULL;
	now = now_ms();
	expire(c, now);
	if ((e = find(c, qname, qtype)) == NULL || e->expires <= now)
		return NULL;
	return dns_result_copy(e->res);
}

void
dns_cache_put(struct dns_cache *c, const struct dns_result *res)
{
	struct dns_cache_entry *e;
	uint64_t now;
	uint32_t secs;

	if (c == NULL || res == NULL || !dns_result_answered(res) ||
	    res->ttl == 0 || res->qname == NULL)
		return;
	now = now_ms();
	expire(c, now);
	if ((e = find(c, res->qname, res->qtype)) != NULL)
		entry_drop(c, e);
	if (c->n >= DNS_CACHE_MAX)
		entry_drop(c, TAILQ_FIRST(&c->byage));
	secs = res->ttl < DNS_CACHE_SECS ? res->ttl : DNS_CACHE_SECS;
	e = xcalloc(1, sizeof(*e));
	e->res = dns_result_copy(res);
	e->expires = now + (uint64_t)secs * 1000u;
	e->bucket = bucket_of(res->qname, res->qtype);
	e->next = c->buckets[e->bucket];
	c->buckets[e->bucket] = e;
	TAILQ_INSERT_TAIL(&c->byage, e, age);
	c->n++;
}

struct dns_result *
dns_result_copy(const struct dns_result *res)
{
	struct dns_result *r;
	size_t i;

	r = xcalloc(1, sizeof(*r));
	*r = *res;
	r->qname = res->qname ? xstrdup(res->qname) : NULL;
	r->canonname = res->canonname ? xstrdup(res->canonname) : NULL;
	r->reason = res->reason ? xstrdup(res->reason) : NULL;
	r->rr = NULL;
	if (res->rr != NULL) {
		r->rr = xcalloc(res->nrr ? res->nrr : 1, sizeof(*r->rr));
		memcpy(r->rr, res->rr, res->nrr * sizeof(*r->rr));
	}
	for (i = 0; i < res->nrr; i++) {
		struct dns_rr *d = &r->rr[i];

		switch (res->qtype) {
		case DNS_T_MX:
			if (d->mx.host != NULL)
				d->mx.host = xstrdup(d->mx.host);
			break;
		case DNS_T_CNAME:
			if (d->target != NULL)
				d->target = xstrdup(d->target);
			break;
		case DNS_T_TLSA:
			if (d->tlsa.data != NULL) {
				d->tlsa.data = xmalloc(d->tlsa.datalen ?
				    d->tlsa.datalen : 1);
				memcpy(d->tlsa.data, res->rr[i].tlsa.data,
				    d->tlsa.datalen);
			}
			break;
		default:	/* A, AAAA: plain values; others: zeroed */
			break;
		}
	}
	return r;
}
