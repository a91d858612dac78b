/*
 * tests/unit/test_dns_cache.c - resolver/cache.c: only answers are kept
 * (never BOGUS, INDETERMINATE or a zero TTL), a hit is a deep copy with
 * its DNSSEC state, the key is name and type, an answer lives for its TTL
 * but at most DNS_CACHE_SECS, and a full cache drops its oldest entry.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "resolver/cache.h"
#include "relay/util.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct dns_result *
mk(const char *qname, int qtype, enum dns_state st, enum dns_answer ans,
    uint32_t ttl)
{
	struct dns_result *r = xcalloc(1, sizeof(*r));

	r->qtype = qtype;
	r->qname = xstrdup(qname);
	r->canonname = xstrdup(qname);
	r->state = st;
	r->answer = ans;
	r->rcode = ans == DNS_ANSWER_NXDOMAIN ? 3 : 0;
	r->ttl = ttl;
	return r;
}

static struct dns_result *
mk_tlsa(const char *qname, enum dns_state st, uint32_t ttl)
{
	struct dns_result *r = mk(qname, DNS_T_TLSA, st, DNS_ANSWER_DATA, ttl);

	r->nrr = 2;
	r->rr = xcalloc(2, sizeof(*r->rr));
	r->rr[0].tlsa.usage = 3;
	r->rr[0].tlsa.selector = 1;
	r->rr[0].tlsa.mtype = 1;
	r->rr[0].tlsa.datalen = 32;
	r->rr[0].tlsa.data = xmalloc(32);
	memset(r->rr[0].tlsa.data, 0xab, 32);
	r->rr[1].malformed = true;
	r->nmalformed = 1;
	return r;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_copy_and_key(void)
{
	struct dns_cache	*c = dns_cache_new();
	struct dns_result	*r, *g;

	r = mk_tlsa("_25._tcp.mx1.secure.test", DNS_SECURE, 60);
	dns_cache_put(c, r);
	g = dns_cache_get(c, "_25._tcp.mx1.secure.test", DNS_T_TLSA);
	CHECK(g != NULL && g != r);
	if (g != NULL) {
		CHECK_INT(g->state, DNS_SECURE);
		CHECK_INT(g->answer, DNS_ANSWER_DATA);
		CHECK_INT(g->nrr, 2);
		CHECK_INT(g->nmalformed, 1);
		CHECK(g->rr[0].tlsa.data != r->rr[0].tlsa.data);
		CHECK(memcmp(g->rr[0].tlsa.data, r->rr[0].tlsa.data, 32) == 0);
		CHECK_INT(g->rr[0].tlsa.usage, 3);
		CHECK(g->rr[1].malformed);
		CHECK_STR(g->canonname, "_25._tcp.mx1.secure.test");
	}
	dns_result_free(r);	/* the cache holds its own copy */
	dns_result_free(g);
	g = dns_cache_get(c, "_25._tcp.mx1.secure.test", DNS_T_TLSA);
	CHECK(g != NULL && g->rr[0].tlsa.data[31] == 0xab);
	dns_result_free(g);
	/* same name, other type; other name, same type */
	CHECK(dns_cache_get(c, "_25._tcp.mx1.secure.test", DNS_T_A) == NULL);
	CHECK(dns_cache_get(c, "_25._tcp.mx2.secure.test", DNS_T_TLSA) == NULL);

	/* MX: the host names are copies */
	r = mk("secure.test", DNS_T_MX, DNS_INSECURE, DNS_ANSWER_DATA, 60);
	r->nrr = 1;
	r->rr = xcalloc(1, sizeof(*r->rr));
	r->rr[0].mx.pref = 10;
	r->rr[0].mx.host = xstrdup("mx1.secure.test");
	dns_cache_put(c, r);
	g = dns_cache_get(c, "secure.test", DNS_T_MX);
	CHECK(g != NULL && g->rr[0].mx.host != r->rr[0].mx.host);
	if (g != NULL) {
		CHECK_STR(g->rr[0].mx.host, "mx1.secure.test");
		CHECK_INT(g->state, DNS_INSECURE);
	}
	dns_result_free(g);
	/* a newer answer replaces the older */
	free(r->rr[0].mx.host);
	r->rr[0].mx.host = xstrdup("mx2.secure.test");
	r->state = DNS_SECURE;
	dns_cache_put(c, r);
	g = dns_cache_get(c, "secure.test", DNS_T_MX);
	CHECK(g != NULL && strcmp(g->rr[0].mx.host, "mx2.secure.test") == 0 &&
	    g->state == DNS_SECURE);
	dns_result_free(g);
	dns_result_free(r);
	dns_cache_free(c);
}

static void
test_only_answers(void)
{
	struct dns_cache	*c = dns_cache_new();
	struct dns_result	*r, *g;

	r = mk_tlsa("_25._tcp.mx1.bogus.test", DNS_BOGUS, 60);
	r->answer = DNS_ANSWER_NONE;
	dns_cache_put(c, r);
	CHECK(dns_cache_get(c, "_25._tcp.mx1.bogus.test", DNS_T_TLSA) == NULL);
	dns_result_free(r);

	r = mk("dead.test", DNS_T_MX, DNS_INDETERMINATE, DNS_ANSWER_NONE, 60);
	r->reason = xstrdup("SERVFAIL");
	dns_cache_put(c, r);
	CHECK(dns_cache_get(c, "dead.test", DNS_T_MX) == NULL);
	dns_result_free(r);

	r = mk("zero.test", DNS_T_A, DNS_SECURE, DNS_ANSWER_NODATA, 0);
	dns_cache_put(c, r);
	CHECK(dns_cache_get(c, "zero.test", DNS_T_A) == NULL);
	dns_result_free(r);

	/* a proven NXDOMAIN is an answer */
	r = mk("nx.secure.test", DNS_T_MX, DNS_SECURE, DNS_ANSWER_NXDOMAIN, 5);
	dns_cache_put(c, r);
	g = dns_cache_get(c, "nx.secure.test", DNS_T_MX);
	CHECK(g != NULL && g->answer == DNS_ANSWER_NXDOMAIN &&
	    g->state == DNS_SECURE && g->rcode == 3);
	dns_result_free(g);
	dns_result_free(r);
	dns_cache_free(c);
}

/* Poll until name is gone; seconds it took (or -1 after limit seconds). */
static double
gone_after(struct dns_cache *c, const char *name, int qtype, double limit)
{
	double t0 = now_s();
	struct dns_result *g;

	for (;;) {
		if ((g = dns_cache_get(c, name, qtype)) == NULL)
			return now_s() - t0;
		dns_result_free(g);
		if (now_s() - t0 > limit)
			return -1;
		usleep(20000);
	}
}

static void
test_expiry(void)
{
	struct dns_cache	*c = dns_cache_new();
	struct dns_result	*r;
	double			 t;

	/* its own TTL (1 s) */
	r = mk("one.test", DNS_T_A, DNS_SECURE, DNS_ANSWER_NODATA, 1);
	dns_cache_put(c, r);
	dns_result_free(r);
	t = gone_after(c, "one.test", DNS_T_A, 10);
	CHECK(t >= 0.9 && t <= 10);
	/* a long TTL is cut to DNS_CACHE_SECS */
	r = mk("long.test", DNS_T_A, DNS_SECURE, DNS_ANSWER_NODATA, 86400);
	dns_cache_put(c, r);
	dns_result_free(r);
	t = gone_after(c, "long.test", DNS_T_A, DNS_CACHE_SECS + 10);
	CHECK(t >= DNS_CACHE_SECS - 0.1 && t <= DNS_CACHE_SECS + 10);
	dns_cache_free(c);
}

static void
test_full(void)
{
	struct dns_cache	*c = dns_cache_new();
	struct dns_result	*r, *g;
	char			 name[64];
	int			 i;

	for (i = 0; i < DNS_CACHE_MAX + 10; i++) {
		snprintf(name, sizeof(name), "d%d.test", i);
		r = mk(name, DNS_T_MX, DNS_SECURE, DNS_ANSWER_NODATA, 60);
		dns_cache_put(c, r);
		dns_result_free(r);
	}
	CHECK((g = dns_cache_get(c, "d0.test", DNS_T_MX)) == NULL);
	dns_result_free(g);
	CHECK((g = dns_cache_get(c, "d9.test", DNS_T_MX)) == NULL);
	dns_result_free(g);
	CHECK((g = dns_cache_get(c, "d10.test", DNS_T_MX)) != NULL);
	dns_result_free(g);
	snprintf(name, sizeof(name), "d%d.test", DNS_CACHE_MAX + 9);
	CHECK((g = dns_cache_get(c, name, DNS_T_MX)) != NULL);
	dns_result_free(g);
	dns_cache_free(c);
}

int
main(void)
{
	test_copy_and_key();
	test_only_answers();
	test_full();
	test_expiry();
	return check_done("test_dns_cache");
}
