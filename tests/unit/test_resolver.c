/*
 * tests/unit/test_resolver.c - resolver/resolver.c without the network:
 * start-up errors (trust anchor, resolver_config), answers from
 * libunbound's local data (decoding, NODATA vs NXDOMAIN, host and TLSA
 * helpers), a server that never answers (our deadline makes the lookup
 * indeterminate, and the loop keeps running meanwhile), callbacks never
 * synchronous, cancel and resolver_free with lookups pending (no callback),
 * and resolver_host_settle() (RFC 7672 2.1.3) on hand-made CNAME facts.
 * The only "server" is a UDP socket of this test on 127.0.0.1 that reads
 * nothing. The world tests (tests/e2e/t_resolve_*.sh) cover real DNSSEC.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "resolver/resolver.h"
#include "resolver/mx.h"
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

static char	 dir[] = "/tmp/test_resolver.XXXXXX";
static char	 ta_path[256], conf_path[256];
static int	 hole_fd = -1;
static int	 hole_port;

static struct event_base *base;
static int	 outstanding;		/* callbacks still expected */
static int	 in_start;		/* set while a lookup is being started */
static int	 sync_calls;		/* callbacks run from inside a start call */

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) == EOF) {
		perror(path);
		exit(1);
	}
}

/* A UDP "name server" that never answers: bound, never read. */
static void
hole_open(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);

	hole_fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (hole_fd == -1 || bind(hole_fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(hole_fd, (struct sockaddr *)&sin, &len) == -1) {
		perror("hole");
		exit(1);
	}
	hole_port = ntohs(sin.sin_port);
}

static void
setup_files(void)
{
	char conf[4096];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(ta_path, sizeof(ta_path), "%s/root.key", dir);
	write_file(ta_path, "; the real root KSK-2017 DS\n"
	    ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n");
	snprintf(conf_path, sizeof(conf_path), "%s/unbound.conf", dir);
	snprintf(conf, sizeof(conf),
	    "server:\n"
	    "\tdo-not-query-localhost: no\n"
	    "\tlocal-zone: \"example.\" static\n"
	    "\tlocal-data: \"example. MX 10 mx.example.\"\n"
	    "\tlocal-data: \"example. MX 20 MX2.Example.\"\n"
	    "\tlocal-data: \"mx.example. 300 A 192.0.2.1\"\n"
	    "\tlocal-data: \"mx.example. A 192.0.2.2\"\n"
	    "\tlocal-data: \"mx2.example. AAAA 2001:db8::25\"\n"
	    "\tlocal-data: \"null.example. MX 0 .\"\n"
	    "\tlocal-data: \"_25._tcp.mx.example. TLSA 3 1 1 "
	    "0102030405060708091011121314151617181920212223242526272829303132\"\n"
	    "\tlocal-data: \"_25._tcp.mx2.example. TLSA 1 1 1 0102\"\n"
	    "stub-zone:\n"
	    "\tname: \".\"\n"
	    "\tstub-addr: 127.0.0.1@%d\n", hole_port);
	write_file(conf_path, conf);
}

static void
cleanup_files(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static void
safety_cb(evutil_socket_t fd, short what, void *arg)
{
	fprintf(stderr, "test_resolver: the loop ran too long; %d callbacks missing\n",
	    outstanding);
	check_failed++;
	event_base_loopbreak(base);
}

/* Run the loop until every expected callback came (bounded). */
static void
run_loop(int seconds)
{
	struct timeval	 tv = { seconds, 0 };
	struct event	*safety = evtimer_new(base, safety_cb, NULL);

	evtimer_add(safety, &tv);
	while (outstanding > 0)
		if (event_base_loop(base, EVLOOP_ONCE) == -1)
			break;
	event_free(safety);
}

static void
test_startup_errors(void)
{
	struct resolver	*r;
	char		 err[512], path[300];

	err[0] = '\0';
	snprintf(path, sizeof(path), "%s/missing.key", dir);
	r = resolver_new(base, NULL, path, err, sizeof(err));
	CHECK(r == NULL);
	CHECK(strstr(err, "missing.key") != NULL);
	CHECK(strstr(err, "No such file") != NULL);

	snprintf(path, sizeof(path), "%s/empty.key", dir);
	write_file(path, "; nothing here\n\n");
	r = resolver_new(base, NULL, path, err, sizeof(err));
	CHECK(r == NULL);
	CHECK(strstr(err, "no DS or DNSKEY") != NULL);

	snprintf(path, sizeof(path), "%s/garbage.key", dir);
	write_file(path, ". IN DS this is not a DS record\n");
	err[0] = '\0';
	r = resolver_new(base, NULL, path, err, sizeof(err));
	CHECK(r == NULL);
	CHECK(strstr(err, "garbage.key") != NULL);

	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	r = resolver_new(base, path, ta_path, err, sizeof(err));
	CHECK(r == NULL);
	CHECK(strstr(err, "missing.conf") != NULL);

	snprintf(path, sizeof(path), "%s/bad.conf", dir);
	write_file(path, "server:\n\tno-such-option-at-all: yes\n");
	r = resolver_new(base, path, ta_path, err, sizeof(err));
	CHECK(r == NULL);
	CHECK(strstr(err, "bad.conf") != NULL);

	/* the default: the root key of dns-root-data (DNSKEY form) */
	r = resolver_new(base, NULL, NULL, err, sizeof(err));
	CHECK(r != NULL);
	if (r == NULL)
		fprintf(stderr, "default trust anchor: %s\n", err);
	resolver_free(r);

	/* the config's own trust anchor file is checked too */
	snprintf(path, sizeof(path), "%s/badta.conf", dir);
	write_file(path, "server:\n\ttrust-anchor-file: /nonexistent/ta.key\n");
	r = resolver_new(base, path, ta_path, err, sizeof(err));
	CHECK(r == NULL);
}

/* ---- answers from local data ---- */

static struct dns_result *got_mx, *got_null, *got_nx, *got_nodata, *got_tlsa,
	*got_tlsa2, *got_tlsa_nx, *got_invalid, *got_hole;
static struct resolver_host *got_host, *got_host2, *got_host_v4;

static void
res_cb(struct dns_result *res, void *arg)
{
	struct dns_result **slot = arg;

	if (in_start)
		sync_calls++;
	*slot = res;
	outstanding--;
}

static void
host_cb(struct resolver_host *h, void *arg)
{
	struct resolver_host **slot = arg;

	if (in_start)
		sync_calls++;
	*slot = h;
	outstanding--;
}

static void
test_local(struct resolver *r)
{
	char buf[DNS_ADDR_TEXT_MAX];

	in_start = 1;
	resolver_lookup_mx(r, "Example.", res_cb, &got_mx);
	resolver_lookup_mx(r, "null.example", res_cb, &got_null);
	resolver_lookup(r, "nothere.example", DNS_T_A, res_cb, &got_nx);
	resolver_lookup(r, "mx.example", DNS_T_MX, res_cb, &got_nodata);
	resolver_lookup_tlsa(r, "mx.example", 25, res_cb, &got_tlsa);
	resolver_lookup_tlsa(r, "MX2.example.", 25, res_cb, &got_tlsa2);
	resolver_lookup_tlsa(r, "mx.example", 587, res_cb, &got_tlsa_nx);
	resolver_lookup(r, "bad..name", DNS_T_A, res_cb, &got_invalid);
	resolver_lookup_host(r, "mx.example", RESOLVER_V4 | RESOLVER_V6, host_cb, &got_host);
	resolver_lookup_host(r, "mx2.example", 0, host_cb, &got_host2);
	resolver_lookup_host(r, "mx2.example", RESOLVER_V4, host_cb, &got_host_v4);
	in_start = 0;
	outstanding += 11;
	run_loop(20);
	CHECK_INT(outstanding, 0);
	CHECK_INT(sync_calls, 0);
	if (outstanding != 0)
		return;

	/* local data is unsigned: insecure, never secure */
	CHECK_INT(got_mx->state, DNS_INSECURE);
	CHECK_INT(got_mx->answer, DNS_ANSWER_DATA);
	CHECK_INT(got_mx->rcode, 0);
	CHECK_STR(got_mx->qname, "example");
	CHECK_STR(got_mx->canonname, "example");
	CHECK(!got_mx->cname);
	CHECK_INT(got_mx->nrr, 2);
	CHECK(got_mx->reason == NULL);
	if (got_mx->nrr == 2) {
		struct mx_list l;

		mx_list_build(&l, got_mx, 0, 0, 1);
		CHECK_INT(l.status, MX_HOSTS);
		CHECK_INT(l.nhosts, 2);
		CHECK_STR(l.hosts[0].name, "mx.example");
		CHECK_INT(l.hosts[0].pref, 10);
		CHECK_STR(l.hosts[1].name, "mx2.example");
		mx_list_clear(&l);
	}

	CHECK_INT(got_null->state, DNS_INSECURE);
	CHECK_INT(got_null->nrr, 1);
	if (got_null->nrr == 1) {
		struct mx_list l;

		CHECK_STR(got_null->rr[0].mx.host, ".");
		mx_list_build(&l, got_null, 0, 0, 1);
		CHECK_INT(l.status, MX_NULL);
		mx_list_clear(&l);
	}

	CHECK_INT(got_nx->state, DNS_INSECURE);
	CHECK_INT(got_nx->answer, DNS_ANSWER_NXDOMAIN);
	CHECK_INT(got_nx->rcode, 3);
	CHECK_INT(got_nx->nrr, 0);

	CHECK_INT(got_nodata->state, DNS_INSECURE);
	CHECK_INT(got_nodata->answer, DNS_ANSWER_NODATA);
	CHECK_INT(got_nodata->rcode, 0);
	CHECK_INT(got_nodata->nrr, 0);

	CHECK_STR(got_tlsa->qname, "_25._tcp.mx.example");
	CHECK_INT(got_tlsa->qtype, DNS_T_TLSA);
	CHECK_INT(got_tlsa->answer, DNS_ANSWER_DATA);
	CHECK_INT(got_tlsa->nrr, 1);
	if (got_tlsa->nrr == 1) {
		CHECK_INT(got_tlsa->rr[0].tlsa.usage, 3);
		CHECK_INT(got_tlsa->rr[0].tlsa.datalen, 32);
		CHECK_INT(got_tlsa->rr[0].tlsa.data[31], 0x32);
		CHECK(rr_tlsa_usable(&got_tlsa->rr[0].tlsa));
	}
	CHECK_STR(got_tlsa2->qname, "_25._tcp.mx2.example");
	CHECK_INT(got_tlsa2->nrr, 1);
	if (got_tlsa2->nrr == 1)
		CHECK(!rr_tlsa_usable(&got_tlsa2->rr[0].tlsa));
	CHECK_STR(got_tlsa_nx->qname, "_587._tcp.mx.example");
	CHECK_INT(got_tlsa_nx->answer, DNS_ANSWER_NXDOMAIN);

	CHECK_INT(got_invalid->state, DNS_INDETERMINATE);
	CHECK_INT(got_invalid->answer, DNS_ANSWER_NONE);
	CHECK_INT(got_invalid->rcode, DNS_RCODE_NONE);
	CHECK(got_invalid->reason != NULL && strstr(got_invalid->reason, "invalid") != NULL);
	CHECK(!dns_result_answered(got_invalid));

	CHECK_STR(got_host->name, "mx.example");
	CHECK_STR(got_host->canonname, "mx.example");
	CHECK(!got_host->cname);
	CHECK(!got_host->chain_secure);
	CHECK(!got_host->first_link_secure);
	CHECK(got_host->first_link == NULL);
	CHECK(got_host->a != NULL && got_host->aaaa != NULL);
	if (got_host->a != NULL && got_host->aaaa != NULL) {
		CHECK_INT(got_host->a->answer, DNS_ANSWER_DATA);
		CHECK_INT(got_host->a->nrr, 2);
		CHECK_INT(got_host->a->ttl, 300);
		rr_addr_ntop(&got_host->a->rr[0].addr, buf, sizeof(buf));
		CHECK(strcmp(buf, "192.0.2.1") == 0 || strcmp(buf, "192.0.2.2") == 0);
		CHECK_INT(got_host->aaaa->answer, DNS_ANSWER_NODATA);
		CHECK_INT(got_host->aaaa->state, DNS_INSECURE);
	}
	CHECK(got_host2->a != NULL && got_host2->aaaa != NULL);
	if (got_host2->a != NULL && got_host2->aaaa != NULL) {
		CHECK_INT(got_host2->a->answer, DNS_ANSWER_NODATA);
		CHECK_INT(got_host2->aaaa->nrr, 1);
		CHECK_STR(rr_addr_ntop(&got_host2->aaaa->rr[0].addr, buf, sizeof(buf)),
		    "2001:db8::25");
	}
	CHECK(got_host_v4->a != NULL);
	CHECK(got_host_v4->aaaa == NULL);

	dns_result_free(got_mx);
	dns_result_free(got_null);
	dns_result_free(got_nx);
	dns_result_free(got_nodata);
	dns_result_free(got_tlsa);
	dns_result_free(got_tlsa2);
	dns_result_free(got_tlsa_nx);
	dns_result_free(got_invalid);
	resolver_host_free(got_host);
	resolver_host_free(got_host2);
	resolver_host_free(got_host_v4);
}

/* ---- a server that never answers ---- */

static int	ticks;
static int	ticks_at_answer = -1;
static int	never_called;
static bool	check_ok = true;
static char	check_detail[600];

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	ticks++;
}

static void
hole_cb(struct dns_result *res, void *arg)
{
	ticks_at_answer = ticks;
	res_cb(res, arg);
}

static void
never_cb(struct dns_result *res, void *arg)
{
	never_called++;
	dns_result_free(res);
}

static void
never_host_cb(struct resolver_host *h, void *arg)
{
	never_called++;
	resolver_host_free(h);
}

static void
check_cb(bool ok, const char *detail, void *arg)
{
	check_ok = ok;
	snprintf(check_detail, sizeof(check_detail), "%s", detail);
	outstanding--;
}

static void
test_hole(struct resolver *r)
{
	struct resolver_query	*q1, *q2;
	struct event		*tick;
	struct timeval		 tv = { 0, 100000 };

	resolver_set_timeout(r, 2);
	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);

	resolver_lookup(r, "www.hole.zz", DNS_T_A, hole_cb, &got_hole);
	resolver_check_validation(r, check_cb, NULL);
	/* cancelled at once, and cancelled after a while: never called */
	q1 = resolver_lookup(r, "cancel1.hole.zz", DNS_T_A, never_cb, NULL);
	resolver_cancel(q1);
	q2 = resolver_lookup_host(r, "cancel2.hole.zz", 0, never_host_cb, NULL);
	outstanding += 2;
	while (ticks < 5 && outstanding > 0)
		event_base_loop(base, EVLOOP_ONCE);
	resolver_cancel(q2);
	run_loop(20);
	event_free(tick);
	CHECK_INT(outstanding, 0);
	CHECK_INT(never_called, 0);
	if (got_hole == NULL)
		return;

	/* the loop went on (100 ms ticks) while the lookup waited */
	CHECK(ticks_at_answer >= 5);
	CHECK_INT(got_hole->state, DNS_INDETERMINATE);
	CHECK_INT(got_hole->answer, DNS_ANSWER_NONE);
	CHECK_INT(got_hole->rcode, DNS_RCODE_NONE);
	CHECK(!dns_result_answered(got_hole));
	CHECK(got_hole->reason != NULL && strstr(got_hole->reason, "timed out") != NULL);
	dns_result_free(got_hole);

	/* the trust anchor's DNSKEY cannot be had: validation does not work */
	CHECK(!check_ok);
	CHECK(strstr(check_detail, "DNSKEY .") != NULL);
	CHECK(strstr(check_detail, "indeterminate") != NULL);
}

/* resolver_free with lookups pending: no callback, nothing leaks. */
static void
test_free_pending(void)
{
	struct resolver	*r;
	char		 err[512];

	r = resolver_new(base, conf_path, ta_path, err, sizeof(err));
	CHECK(r != NULL);
	if (r == NULL)
		return;
	resolver_lookup(r, "a.hole.zz", DNS_T_A, never_cb, NULL);
	resolver_lookup_host(r, "b.hole.zz", 0, never_host_cb, NULL);
	event_base_loop(base, EVLOOP_NONBLOCK);
	/* its "complete now" timer is armed but has not run yet */
	resolver_lookup(r, "bad..name", DNS_T_A, never_cb, NULL);
	resolver_free(r);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK_INT(never_called, 0);
}

/* resolver_host_settle() over hand-made facts (no network). */
static struct dns_result *
mkres(int qtype, const char *canon, enum dns_state st, enum dns_answer an)
{
	static struct dns_result r[8];
	static int n;
	struct dns_result *p = &r[n++ % 8];

	memset(p, 0, sizeof(*p));
	p->qtype = qtype;
	p->qname = (char *)"mx.b.test";
	p->canonname = (char *)canon;
	p->cname = strcmp(canon, "mx.b.test") != 0;
	p->state = st;
	p->answer = an;
	p->reason = st == DNS_INDETERMINATE ? (char *)"SERVFAIL" :
	    st == DNS_BOGUS ? (char *)"signature expired" : NULL;
	return p;
}

static void
settle(struct resolver_host *h, struct dns_result *a, struct dns_result *aaaa,
    struct dns_result *fl, bool chain_secure)
{
	memset(h, 0, sizeof(*h));
	h->name = (char *)"mx.b.test";
	h->canonname = (char *)"real.c.test";
	h->cname = true;
	h->chain_secure = chain_secure;
	h->a = a;
	h->aaaa = aaaa;
	h->first_link = fl;
	resolver_host_settle(h);
}

static void
test_settle(void)
{
	struct resolver_host h;

	/* A answers through the alias, AAAA never does */
	settle(&h, mkres(DNS_T_A, "real.c.test", DNS_SECURE, DNS_ANSWER_DATA),
	    mkres(DNS_T_AAAA, "mx.b.test", DNS_INDETERMINATE, DNS_ANSWER_NONE),
	    NULL, true);
	CHECK(h.error != NULL && strstr(h.error, "AAAA lookup indeterminate (SERVFAIL)") != NULL);
	CHECK(!h.error_bogus);
	free(h.error);
	/* bogus AAAA */
	settle(&h, mkres(DNS_T_A, "real.c.test", DNS_INSECURE, DNS_ANSWER_DATA),
	    mkres(DNS_T_AAAA, "mx.b.test", DNS_BOGUS, DNS_ANSWER_NONE),
	    NULL, false);
	CHECK(h.error != NULL);
	CHECK(h.error_bogus);
	free(h.error);
	/* insecure chain, the first-link CNAME query failed */
	settle(&h, mkres(DNS_T_A, "real.c.test", DNS_INSECURE, DNS_ANSWER_DATA),
	    mkres(DNS_T_AAAA, "real.c.test", DNS_INSECURE, DNS_ANSWER_NODATA),
	    mkres(DNS_T_CNAME, "mx.b.test", DNS_INDETERMINATE, DNS_ANSWER_NONE),
	    false);
	CHECK(h.error != NULL && strstr(h.error, "CNAME lookup indeterminate") != NULL);
	free(h.error);
	/* ... or was prevented (a timeout): never "first link insecure" */
	settle(&h, mkres(DNS_T_A, "real.c.test", DNS_INSECURE, DNS_ANSWER_DATA),
	    mkres(DNS_T_AAAA, "real.c.test", DNS_INSECURE, DNS_ANSWER_NODATA),
	    NULL, false);
	CHECK(h.error != NULL && strstr(h.error, "not checked") != NULL);
	free(h.error);
	/* ... or contradicts the address answers */
	settle(&h, mkres(DNS_T_A, "real.c.test", DNS_INSECURE, DNS_ANSWER_DATA),
	    mkres(DNS_T_AAAA, "real.c.test", DNS_INSECURE, DNS_ANSWER_NODATA),
	    mkres(DNS_T_CNAME, "mx.b.test", DNS_SECURE, DNS_ANSWER_NODATA),
	    false);
	CHECK(h.error != NULL && strstr(h.error, "contradicting") != NULL);
	free(h.error);
	/* A and AAAA end at different names */
	settle(&h, mkres(DNS_T_A, "real.c.test", DNS_SECURE, DNS_ANSWER_DATA),
	    mkres(DNS_T_AAAA, "other.c.test", DNS_SECURE, DNS_ANSWER_NODATA),
	    NULL, true);
	CHECK(h.error != NULL && strstr(h.error, "different names") != NULL);
	free(h.error);
	/* settled: secure first link answered with data */
	settle(&h, mkres(DNS_T_A, "real.c.test", DNS_INSECURE, DNS_ANSWER_DATA),
	    mkres(DNS_T_AAAA, "real.c.test", DNS_INSECURE, DNS_ANSWER_NODATA),
	    mkres(DNS_T_CNAME, "mx.b.test", DNS_SECURE, DNS_ANSWER_DATA),
	    false);
	CHECK(h.error == NULL);
	/* settled: insecure first link (answered) */
	settle(&h, mkres(DNS_T_A, "real.c.test", DNS_INSECURE, DNS_ANSWER_DATA),
	    mkres(DNS_T_AAAA, "real.c.test", DNS_INSECURE, DNS_ANSWER_NODATA),
	    mkres(DNS_T_CNAME, "mx.b.test", DNS_INSECURE, DNS_ANSWER_DATA),
	    false);
	CHECK(h.error == NULL);
	/* settled: secure chain, only A asked */
	settle(&h, mkres(DNS_T_A, "real.c.test", DNS_SECURE, DNS_ANSWER_DATA),
	    NULL, NULL, true);
	CHECK(h.error == NULL);
	/* not an alias: nothing to settle */
	settle(&h, mkres(DNS_T_A, "mx.b.test", DNS_SECURE, DNS_ANSWER_DATA),
	    mkres(DNS_T_AAAA, "mx.b.test", DNS_INDETERMINATE, DNS_ANSWER_NONE),
	    NULL, false);
	h.cname = false;
	free(h.error);
	h.error = NULL;
	resolver_host_settle(&h);
	CHECK(h.error == NULL);
}

int
main(void)
{
	struct resolver	*r;
	char		 err[512];

	base = event_base_new();
	hole_open();
	setup_files();
	test_startup_errors();
	test_settle();

	r = resolver_new(base, conf_path, ta_path, err, sizeof(err));
	CHECK(r != NULL);
	if (r == NULL)
		fprintf(stderr, "resolver_new: %s\n", err);
	else {
		test_local(r);
		test_hole(r);
		resolver_free(r);
	}
	test_free_pending();

	close(hole_fd);
	cleanup_files();
	event_base_free(base);
	return check_done("test_resolver");
}
