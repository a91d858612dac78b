/*
 * tests/unit/test_selfcheck.c - resolver/selfcheck.c: the verdict of one
 * DNSKEY answer (secure / insecure / bogus / no answer), the state that
 * follows (no answer never turns "ok" or "not working" into anything
 * else), and the real check on libunbound without the network: a server
 * that never answers (not confirmed, retried with a doubling backoff,
 * run again at once on request) and a validator that answers the trust
 * anchor's DNSKEY without validating (local data: not working).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "resolver/selfcheck.h"
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

static char	 dir[] = "/tmp/test_selfcheck.XXXXXX";
static char	 ta_path[256], hole_conf[256], local_conf[256];
static struct event_base *base;
static int	 ncalls;
static enum dnssec_validation last_v;
static char	 last_detail[400];

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
static int
hole_open(int *port)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		perror("hole");
		exit(1);
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static struct dns_result
res(enum dns_state st, enum dns_answer an, const char *reason)
{
	struct dns_result r;

	memset(&r, 0, sizeof(r));
	r.qtype = DNS_T_DNSKEY;
	r.qname = (char *)".";
	r.canonname = (char *)".";
	r.state = st;
	r.answer = an;
	r.reason = (char *)reason;
	if (an == DNS_ANSWER_DATA)
		r.nrr = 2;
	return r;
}

static void
test_verdict(void)
{
	struct dns_result r;
	char d[400];

	r = res(DNS_SECURE, DNS_ANSWER_DATA, NULL);
	CHECK_INT(selfcheck_verdict(&r, d, sizeof(d)), VALIDATION_OK);
	CHECK_STR(d, "DNSKEY .: secure");
	/* DNS did not answer: unknown, never "does not validate" */
	r = res(DNS_INDETERMINATE, DNS_ANSWER_NONE, "SERVFAIL");
	CHECK_INT(selfcheck_verdict(&r, d, sizeof(d)), VALIDATION_UNCONFIRMED);
	CHECK(strstr(d, "no answer (SERVFAIL)") != NULL);
	r = res(DNS_INDETERMINATE, DNS_ANSWER_NONE, "timed out after 60s");
	CHECK_INT(selfcheck_verdict(&r, d, sizeof(d)), VALIDATION_UNCONFIRMED);
	/* bogus: wrong anchor or a clock that is off: not confirmed */
	r = res(DNS_BOGUS, DNS_ANSWER_NONE, "signature expired");
	CHECK_INT(selfcheck_verdict(&r, d, sizeof(d)), VALIDATION_UNCONFIRMED);
	CHECK(strstr(d, "bogus (signature expired)") != NULL);
	/* insecure answer for the anchored zone: the validator does not validate */
	r = res(DNS_INSECURE, DNS_ANSWER_DATA, NULL);
	CHECK_INT(selfcheck_verdict(&r, d, sizeof(d)), VALIDATION_BROKEN);
	CHECK(strstr(d, "insecure data") != NULL);
	r = res(DNS_INSECURE, DNS_ANSWER_NXDOMAIN, NULL);
	CHECK_INT(selfcheck_verdict(&r, d, sizeof(d)), VALIDATION_BROKEN);
	/* secure but no keys: cannot be right, not confirmed */
	r = res(DNS_SECURE, DNS_ANSWER_NODATA, NULL);
	CHECK_INT(selfcheck_verdict(&r, d, sizeof(d)), VALIDATION_UNCONFIRMED);
	CHECK_INT(selfcheck_verdict(NULL, d, sizeof(d)), VALIDATION_UNCONFIRMED);
}

static void
test_next_state(void)
{
	CHECK_INT(selfcheck_next_state(VALIDATION_PENDING, VALIDATION_UNCONFIRMED), VALIDATION_UNCONFIRMED);
	CHECK_INT(selfcheck_next_state(VALIDATION_PENDING, VALIDATION_OK), VALIDATION_OK);
	CHECK_INT(selfcheck_next_state(VALIDATION_PENDING, VALIDATION_BROKEN), VALIDATION_BROKEN);
	CHECK_INT(selfcheck_next_state(VALIDATION_UNCONFIRMED, VALIDATION_OK), VALIDATION_OK);
	CHECK_INT(selfcheck_next_state(VALIDATION_UNCONFIRMED, VALIDATION_UNCONFIRMED), VALIDATION_UNCONFIRMED);
	/* an outage after a verdict changes nothing */
	CHECK_INT(selfcheck_next_state(VALIDATION_OK, VALIDATION_UNCONFIRMED), VALIDATION_OK);
	CHECK_INT(selfcheck_next_state(VALIDATION_BROKEN, VALIDATION_UNCONFIRMED), VALIDATION_BROKEN);
	/* an answer does */
	CHECK_INT(selfcheck_next_state(VALIDATION_OK, VALIDATION_BROKEN), VALIDATION_BROKEN);
	CHECK_INT(selfcheck_next_state(VALIDATION_BROKEN, VALIDATION_OK), VALIDATION_OK);
	CHECK_STR(dnssec_validation_name(VALIDATION_UNCONFIRMED), "not confirmed");
}

static void
check_cb(enum dnssec_validation v, const char *detail, void *arg)
{
	ncalls++;
	last_v = v;
	snprintf(last_detail, sizeof(last_detail), "%s", detail);
	event_base_loopbreak(base);
}

static void
safety_cb(evutil_socket_t fd, short what, void *arg)
{
	fprintf(stderr, "test_selfcheck: no check finished in time\n");
	check_failed++;
	event_base_loopbreak(base);
}

/* Run the loop until the next check finishes (bounded). */
static void
wait_check(int seconds)
{
	struct timeval tv = { seconds, 0 };
	struct event *safety = evtimer_new(base, safety_cb, NULL);
	int n0 = ncalls;

	evtimer_add(safety, &tv);
	while (ncalls == n0)
		if (event_base_loop(base, EVLOOP_ONCE) == -1)
			break;
	event_free(safety);
}

static void
test_hole(void)
{
	struct resolver *r;
	struct selfcheck *sc;
	char err[512];
	unsigned n;

	r = resolver_new(base, hole_conf, ta_path, err, sizeof(err));
	CHECK(r != NULL);
	if (r == NULL) {
		fprintf(stderr, "resolver_new: %s\n", err);
		return;
	}
	resolver_set_timeout(r, 1);
	ncalls = 0;
	sc = selfcheck_new(base, r, check_cb, NULL);
	/* never synchronous; a check is in flight at once */
	CHECK_INT(ncalls, 0);
	CHECK_INT(selfcheck_state(sc), VALIDATION_PENDING);
	CHECK(selfcheck_busy(sc));
	CHECK_INT(selfcheck_next_in(sc), 0);

	wait_check(10);
	CHECK_INT(ncalls, 1);
	CHECK_INT(last_v, VALIDATION_UNCONFIRMED);
	CHECK(strstr(last_detail, "DNSKEY .: no answer (timed out") != NULL);
	CHECK(!selfcheck_busy(sc));
	n = selfcheck_next_in(sc);
	CHECK(n <= SELFCHECK_RETRY_MIN);
	/* retried by itself, with twice the wait the second time */
	wait_check(10);
	CHECK_INT(ncalls, 2);
	CHECK_INT(selfcheck_state(sc), VALIDATION_UNCONFIRMED);
	n = selfcheck_next_in(sc);
	CHECK(n >= 1 && n <= 2 * SELFCHECK_RETRY_MIN);
	/* on request (SIGHUP): at once */
	selfcheck_run_now(sc);
	CHECK(selfcheck_busy(sc));
	selfcheck_run_now(sc);		/* no second check in flight */
	wait_check(10);
	CHECK_INT(ncalls, 3);
	n = selfcheck_next_in(sc);
	CHECK(n <= SELFCHECK_RETRY_MIN);	/* the backoff restarted */
	/* freed with a check in flight or armed: no callback, no leak */
	selfcheck_run_now(sc);
	selfcheck_free(sc);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK_INT(ncalls, 3);
	resolver_free(r);
}

static void
test_local(void)
{
	struct resolver *r;
	struct selfcheck *sc;
	char err[512];

	r = resolver_new(base, local_conf, ta_path, err, sizeof(err));
	CHECK(r != NULL);
	if (r == NULL) {
		fprintf(stderr, "resolver_new: %s\n", err);
		return;
	}
	ncalls = 0;
	sc = selfcheck_new(base, r, check_cb, NULL);
	wait_check(10);
	CHECK_INT(ncalls, 1);
	CHECK_INT(last_v, VALIDATION_BROKEN);
	CHECK(strstr(last_detail, "insecure") != NULL);
	CHECK(selfcheck_next_in(sc) > SELFCHECK_RETRY_MAX);	/* hourly */
	selfcheck_free(sc);
	resolver_free(r);
}

int
main(void)
{
	char conf[2048], cmd[300];
	int hole, port;

	base = event_base_new();
	hole = hole_open(&port);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(ta_path, sizeof(ta_path), "%s/root.key", dir);
	write_file(ta_path, ". IN DS 20326 8 2 "
	    "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n");
	snprintf(hole_conf, sizeof(hole_conf), "%s/hole.conf", dir);
	snprintf(conf, sizeof(conf), "server:\n\tdo-not-query-localhost: no\n"
	    "stub-zone:\n\tname: \".\"\n\tstub-addr: 127.0.0.1@%d\n", port);
	write_file(hole_conf, conf);
	/* local data is answered without validation: insecure */
	snprintf(local_conf, sizeof(local_conf), "%s/local.conf", dir);
	write_file(local_conf, "server:\n\tlocal-zone: \".\" static\n"
	    "\tlocal-data: \". 3600 IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESW"
	    "E8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==\"\n");

	test_verdict();
	test_next_state();
	test_hole();
	test_local();

	close(hole);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	event_base_free(base);
	return check_done("test_selfcheck");
}
