/*
 * resolver/mx.c - pure MX processing (see mx.h). The only randomness is
 * the shuffle of equal preferences, from a splitmix64 stream seeded by the
 * caller so tests can pin the order. A failed lookup never yields hosts.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "resolver/mx.h"
#include "relay/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static uint64_t
mx_rand(uint64_t *s)
{
	uint64_t z;

	z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * No seed from the caller: the next value of a per-thread stream seeded
 * once by getrandom(2), not a system call for every MX list (one per
 * message on a busy relay).
 */
static uint64_t
mx_seed(uint64_t seed)
{
	static _Thread_local uint64_t stream;

	if (seed != 0)
		return seed;
	if (stream == 0 && getrandom(&stream, sizeof(stream), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(stream))
		stream = (uint64_t)(uintptr_t)&stream ^ 0x5bd1e995u;
	if ((seed = mx_rand(&stream)) == 0)
		seed = 1;
	return seed;
}

static int
mx_cmp_pref(const void *a, const void *b)
{
	const struct mx_host *x = a, *y = b;

	return (int)x->pref - (int)y->pref;
}

static void
mx_add(struct mx_list *l, const char *name, uint16_t pref)
{
	size_t i;

	for (i = 0; i < l->nhosts; i++) {
		if (rr_name_equal(l->hosts[i].name, name)) {
			if (pref < l->hosts[i].pref)
				l->hosts[i].pref = pref;
			return;
		}
	}
	l->hosts = xreallocarray(l->hosts, l->nhosts + 1, sizeof(*l->hosts));
	l->hosts[l->nhosts].name = xstrdup(name);
	l->hosts[l->nhosts].pref = pref;
	l->nhosts++;
}

void
mx_list_build(struct mx_list *l, const struct dns_result *res,
    unsigned max_hosts, unsigned max_addresses, uint64_t seed)
{
	size_t	 i, j, k, n;
	uint64_t rs;

	memset(l, 0, sizeof(*l));
	l->state = res->state;
	l->domain = xstrdup(res->qname);
	l->canonname = xstrdup(res->canonname != NULL ? res->canonname : res->qname);
	l->addr_budget = max_addresses == 0 ? SIZE_MAX : max_addresses;

	if (res->state != DNS_SECURE && res->state != DNS_INSECURE) {
		l->status = MX_ERROR;
		return;
	}
	switch (res->answer) {
	case DNS_ANSWER_NXDOMAIN:
		l->status = MX_NXDOMAIN;
		return;
	case DNS_ANSWER_NODATA:
		l->status = MX_IMPLICIT;
		mx_add(l, res->qname, 0);
		return;
	case DNS_ANSWER_DATA:
		break;
	default:
		l->status = MX_ERROR;	/* an answered lookup always has an answer */
		return;
	}

	for (i = 0; i < res->nrr; i++) {
		const struct dns_rr *rr = &res->rr[i];

		if (rr->malformed || rr->mx.host == NULL) {
			/* the resolver makes such answers indeterminate */
			mx_list_clear(l);
			l->state = res->state;
			l->status = MX_ERROR;
			return;
		}
		/* "." is no host: alone it is a null MX, else noise (RFC 7505 3) */
		if (strcmp(rr->mx.host, ".") == 0)
			continue;
		mx_add(l, rr->mx.host, rr->mx.pref);
	}
	if (l->nhosts == 0) {
		l->status = MX_NULL;
		return;
	}
	l->status = MX_HOSTS;

	qsort(l->hosts, l->nhosts, sizeof(*l->hosts), mx_cmp_pref);
	rs = mx_seed(seed);
	for (i = 0; i < l->nhosts; i = j) {
		for (j = i + 1; j < l->nhosts && l->hosts[j].pref == l->hosts[i].pref; j++)
			;
		/* Fisher-Yates over hosts[i..j) */
		for (n = j - i; n > 1; n--) {
			struct mx_host tmp;

			k = (size_t)(mx_rand(&rs) % n);
			tmp = l->hosts[i + n - 1];
			l->hosts[i + n - 1] = l->hosts[i + k];
			l->hosts[i + k] = tmp;
		}
	}
	if (max_hosts != 0 && l->nhosts > max_hosts) {
		for (i = max_hosts; i < l->nhosts; i++)
			free(l->hosts[i].name);
		l->ncut = l->nhosts - max_hosts;
		l->nhosts = max_hosts;
	}
}

void
mx_list_clear(struct mx_list *l)
{
	size_t i;

	for (i = 0; i < l->nhosts; i++)
		free(l->hosts[i].name);
	free(l->hosts);
	free(l->domain);
	free(l->canonname);
	memset(l, 0, sizeof(*l));
}

size_t
mx_take_addresses(struct mx_list *l, size_t n)
{
	if (n > l->addr_budget)
		n = l->addr_budget;
	l->addr_budget -= n;
	return n;
}

const char *
mx_status_name(enum mx_status s)
{
	switch (s) {
	case MX_HOSTS:		return "hosts";
	case MX_IMPLICIT:	return "implicit";
	case MX_NULL:		return "null";
	case MX_NXDOMAIN:	return "nxdomain";
	case MX_ERROR:		return "error";
	}
	return "error";
}
