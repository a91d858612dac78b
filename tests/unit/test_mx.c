/*
 * tests/unit/test_mx.c - resolver/mx.c: preference order, shuffle of equal
 * preferences (seeded), duplicates, null MX, implicit MX, NXDOMAIN, failed
 * lookups (never any host), host and address caps.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "resolver/mx.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

struct mxin {
	uint16_t	 pref;
	const char	*host;		/* NULL: a malformed record */
};

/* A dns_result as resolver.c would build it. */
static struct dns_result *
mkres(enum dns_state state, enum dns_answer answer, const struct mxin *in, size_t n)
{
	struct dns_result *res;
	size_t i;

	res = calloc(1, sizeof(*res));
	res->qtype = DNS_T_MX;
	res->qname = strdup("example.test");
	res->canonname = strdup("example.test");
	res->state = state;
	res->answer = answer;
	res->rr = calloc(n ? n : 1, sizeof(*res->rr));
	res->nrr = n;
	for (i = 0; i < n; i++) {
		res->rr[i].mx.pref = in[i].pref;
		if (in[i].host != NULL)
			res->rr[i].mx.host = strdup(in[i].host);
		else {
			res->rr[i].malformed = true;
			res->nmalformed++;
		}
	}
	return res;
}

static void
test_order(void)
{
	static const struct mxin in[] = {
		{ 20, "c.test" }, { 10, "b.test" }, { 5, "a.test" },
		{ 30, "d.test" }, { 10, "e.test" },
	};
	struct dns_result	*res = mkres(DNS_SECURE, DNS_ANSWER_DATA, in, 5);
	struct mx_list		 l;
	size_t			 i;

	mx_list_build(&l, res, 0, 0, 42);
	CHECK_INT(l.status, MX_HOSTS);
	CHECK_INT(l.state, DNS_SECURE);
	CHECK_STR(l.domain, "example.test");
	CHECK_STR(l.canonname, "example.test");
	CHECK_INT(l.nhosts, 5);
	CHECK_INT(l.ncut, 0);
	CHECK_STR(l.hosts[0].name, "a.test");
	CHECK_INT(l.hosts[0].pref, 5);
	CHECK_INT(l.hosts[1].pref, 10);
	CHECK_INT(l.hosts[2].pref, 10);
	CHECK(strcmp(l.hosts[1].name, "b.test") == 0 || strcmp(l.hosts[1].name, "e.test") == 0);
	CHECK(strcmp(l.hosts[1].name, l.hosts[2].name) != 0);
	CHECK_STR(l.hosts[3].name, "c.test");
	CHECK_STR(l.hosts[4].name, "d.test");
	for (i = 1; i < l.nhosts; i++)
		CHECK(l.hosts[i - 1].pref <= l.hosts[i].pref);
	CHECK_INT(l.addr_budget, SIZE_MAX);
	mx_list_clear(&l);
	dns_result_free(res);
}

/* Equal preferences: every order shows up across seeds, same seed = same order. */
static void
test_shuffle(void)
{
	static const struct mxin in[] = {
		{ 10, "a.test" }, { 10, "b.test" }, { 10, "c.test" }, { 0, "first.test" },
	};
	struct dns_result	*res = mkres(DNS_INSECURE, DNS_ANSWER_DATA, in, 4);
	struct mx_list		 l, l2;
	int			 seen[3][3] = { { 0 } };
	uint64_t		 seed;
	int			 i, j, allpos = 1;

	for (seed = 1; seed <= 300; seed++) {
		mx_list_build(&l, res, 0, 0, seed);
		CHECK_INT(l.nhosts, 4);
		CHECK_STR(l.hosts[0].name, "first.test");
		for (i = 1; i < 4; i++)
			seen[l.hosts[i].name[0] - 'a'][i - 1]++;
		mx_list_build(&l2, res, 0, 0, seed);
		for (i = 0; i < 4; i++)
			CHECK_STR(l2.hosts[i].name, l.hosts[i].name);
		mx_list_clear(&l2);
		mx_list_clear(&l);
	}
	/* each host in each position a fair share of 300 runs (100 expected) */
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++)
			if (seen[i][j] < 50)
				allpos = 0;
	CHECK(allpos);
	/* seed 0: random, still a valid order */
	mx_list_build(&l, res, 0, 0, 0);
	CHECK_STR(l.hosts[0].name, "first.test");
	CHECK_INT(l.nhosts, 4);
	mx_list_clear(&l);
	dns_result_free(res);
}

static void
test_duplicates(void)
{
	static const struct mxin in[] = {
		{ 30, "mx.test" }, { 10, "MX.test." }, { 20, "other.test" }, { 10, "mx.test" },
	};
	struct dns_result	*res = mkres(DNS_SECURE, DNS_ANSWER_DATA, in, 4);
	struct mx_list		 l;

	mx_list_build(&l, res, 0, 0, 7);
	CHECK_INT(l.status, MX_HOSTS);
	CHECK_INT(l.nhosts, 2);
	CHECK_STR(l.hosts[0].name, "mx.test");
	CHECK_INT(l.hosts[0].pref, 10);
	CHECK_STR(l.hosts[1].name, "other.test");
	mx_list_clear(&l);
	dns_result_free(res);
}

static void
test_null(void)
{
	static const struct mxin nullmx[] = { { 0, "." } };
	static const struct mxin nullmx10[] = { { 10, "." } };
	static const struct mxin mixed[] = { { 0, "." }, { 10, "mx.test" } };
	struct dns_result	*res;
	struct mx_list		 l;

	res = mkres(DNS_SECURE, DNS_ANSWER_DATA, nullmx, 1);
	mx_list_build(&l, res, 0, 0, 1);
	CHECK_INT(l.status, MX_NULL);
	CHECK_INT(l.nhosts, 0);
	CHECK_INT(l.state, DNS_SECURE);
	mx_list_clear(&l);
	dns_result_free(res);

	res = mkres(DNS_INSECURE, DNS_ANSWER_DATA, nullmx10, 1);
	mx_list_build(&l, res, 0, 0, 1);
	CHECK_INT(l.status, MX_NULL);
	CHECK_INT(l.state, DNS_INSECURE);
	mx_list_clear(&l);
	dns_result_free(res);

	/* "." beside a real MX is noise, not a null MX */
	res = mkres(DNS_SECURE, DNS_ANSWER_DATA, mixed, 2);
	mx_list_build(&l, res, 0, 0, 1);
	CHECK_INT(l.status, MX_HOSTS);
	CHECK_INT(l.nhosts, 1);
	CHECK_STR(l.hosts[0].name, "mx.test");
	mx_list_clear(&l);
	dns_result_free(res);
}

static void
test_negative(void)
{
	struct dns_result	*res;
	struct mx_list		 l;

	/* NODATA: the domain itself, preference 0 */
	res = mkres(DNS_SECURE, DNS_ANSWER_NODATA, NULL, 0);
	mx_list_build(&l, res, 0, 0, 1);
	CHECK_INT(l.status, MX_IMPLICIT);
	CHECK_INT(l.nhosts, 1);
	CHECK_STR(l.hosts[0].name, "example.test");
	CHECK_INT(l.hosts[0].pref, 0);
	CHECK_INT(l.state, DNS_SECURE);
	mx_list_clear(&l);
	dns_result_free(res);

	res = mkres(DNS_INSECURE, DNS_ANSWER_NODATA, NULL, 0);
	mx_list_build(&l, res, 0, 0, 1);
	CHECK_INT(l.status, MX_IMPLICIT);
	CHECK_INT(l.state, DNS_INSECURE);
	mx_list_clear(&l);
	dns_result_free(res);

	/* NXDOMAIN: the domain does not exist, no fallback */
	res = mkres(DNS_SECURE, DNS_ANSWER_NXDOMAIN, NULL, 0);
	mx_list_build(&l, res, 0, 0, 1);
	CHECK_INT(l.status, MX_NXDOMAIN);
	CHECK_INT(l.nhosts, 0);
	mx_list_clear(&l);
	dns_result_free(res);
	res = mkres(DNS_INSECURE, DNS_ANSWER_NXDOMAIN, NULL, 0);
	mx_list_build(&l, res, 0, 0, 1);
	CHECK_INT(l.status, MX_NXDOMAIN);
	CHECK_INT(l.state, DNS_INSECURE);
	mx_list_clear(&l);
	dns_result_free(res);
}

/* A failed lookup never gives hosts, whatever else the result holds. */
static void
test_errors(void)
{
	static const struct mxin in[] = { { 10, "mx.test" } };
	static const struct mxin bad[] = { { 10, "mx.test" }, { 20, NULL } };
	struct dns_result	*res;
	struct mx_list		 l;

	res = mkres(DNS_BOGUS, DNS_ANSWER_NONE, in, 1);	/* bogus keeps rr for display */
	mx_list_build(&l, res, 0, 0, 1);
	CHECK_INT(l.status, MX_ERROR);
	CHECK_INT(l.nhosts, 0);
	CHECK(l.hosts == NULL);
	CHECK_INT(l.state, DNS_BOGUS);
	mx_list_clear(&l);
	res->answer = DNS_ANSWER_DATA;			/* even if inconsistent */
	mx_list_build(&l, res, 0, 0, 1);
	CHECK_INT(l.status, MX_ERROR);
	CHECK_INT(l.nhosts, 0);
	mx_list_clear(&l);
	dns_result_free(res);

	res = mkres(DNS_INDETERMINATE, DNS_ANSWER_NONE, NULL, 0);
	mx_list_build(&l, res, 0, 0, 1);
	CHECK_INT(l.status, MX_ERROR);
	CHECK_INT(l.nhosts, 0);
	CHECK_INT(l.state, DNS_INDETERMINATE);
	mx_list_clear(&l);
	res->answer = DNS_ANSWER_NODATA;		/* never an implicit MX */
	mx_list_build(&l, res, 0, 0, 1);
	CHECK_INT(l.status, MX_ERROR);
	CHECK_INT(l.nhosts, 0);
	mx_list_clear(&l);
	res->answer = DNS_ANSWER_NXDOMAIN;
	mx_list_build(&l, res, 0, 0, 1);
	CHECK_INT(l.status, MX_ERROR);
	mx_list_clear(&l);
	dns_result_free(res);

	/* secure but no answer kind: inconsistent, fail closed */
	res = mkres(DNS_SECURE, DNS_ANSWER_NONE, in, 1);
	mx_list_build(&l, res, 0, 0, 1);
	CHECK_INT(l.status, MX_ERROR);
	CHECK_INT(l.nhosts, 0);
	mx_list_clear(&l);
	dns_result_free(res);

	/* a malformed record that slipped through: error, no partial list */
	res = mkres(DNS_SECURE, DNS_ANSWER_DATA, bad, 2);
	mx_list_build(&l, res, 0, 0, 1);
	CHECK_INT(l.status, MX_ERROR);
	CHECK_INT(l.nhosts, 0);
	CHECK_INT(l.state, DNS_SECURE);
	mx_list_clear(&l);
	dns_result_free(res);
}

static void
test_caps(void)
{
	static const struct mxin in[] = {
		{ 40, "d.test" }, { 10, "a.test" }, { 30, "c.test" }, { 20, "b.test" },
	};
	struct dns_result	*res = mkres(DNS_SECURE, DNS_ANSWER_DATA, in, 4);
	struct mx_list		 l;

	mx_list_build(&l, res, 2, 5, 1);
	CHECK_INT(l.nhosts, 2);
	CHECK_INT(l.ncut, 2);
	CHECK_STR(l.hosts[0].name, "a.test");
	CHECK_STR(l.hosts[1].name, "b.test");
	CHECK_INT(l.addr_budget, 5);
	CHECK_INT(mx_take_addresses(&l, 2), 2);
	CHECK_INT(mx_take_addresses(&l, 4), 3);
	CHECK_INT(mx_take_addresses(&l, 1), 0);
	CHECK_INT(l.addr_budget, 0);
	mx_list_clear(&l);

	mx_list_build(&l, res, 4, 0, 1);
	CHECK_INT(l.nhosts, 4);
	CHECK_INT(l.ncut, 0);
	CHECK_INT(mx_take_addresses(&l, 1000), 1000);
	mx_list_clear(&l);
	dns_result_free(res);

	CHECK_STR(mx_status_name(MX_NULL), "null");
	CHECK_STR(mx_status_name(MX_IMPLICIT), "implicit");
	CHECK_STR(mx_status_name(MX_ERROR), "error");
}

int
main(void)
{
	test_order();
	test_shuffle();
	test_duplicates();
	test_null();
	test_negative();
	test_errors();
	test_caps();
	return check_done("test_mx");
}
