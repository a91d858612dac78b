/*
 * tests/unit/test_scheduler.c - the scheduler's pure parts: backoff
 * spacing, recipient domains, due checks, the per-domain grouping of a
 * message's due recipients, and the decisions under faults: what a failed
 * start means, the doubling retry waits (journal, paused starts) and the
 * expiry clamp of a wake-up.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "queue/queue.h"
#include "relay/scheduler.h"
#include "tests/unit/check.h"

#include <errno.h>

static void
test_backoff(void)
{
	CHECK_INT(sched_backoff(1, 300, 3600), 300);
	CHECK_INT(sched_backoff(2, 300, 3600), 600);
	CHECK_INT(sched_backoff(3, 300, 3600), 1200);
	CHECK_INT(sched_backoff(4, 300, 3600), 2400);
	CHECK_INT(sched_backoff(5, 300, 3600), 3600);
	CHECK_INT(sched_backoff(100, 300, 3600), 3600);
	CHECK_INT(sched_backoff(4000000000u, 300, 3600), 3600);
	CHECK_INT(sched_backoff(0, 300, 3600), 300);
	CHECK_INT(sched_backoff(3, 1, 2), 2);
	CHECK_INT(sched_backoff(3, 10, 5), 10);		/* min wins */
	CHECK_INT(sched_backoff(33, 1, 4000000000u), 4000000000u);
}

static void
test_retry_wait(void)
{
	/* no hint: the backoff */
	CHECK_INT(sched_retry_wait(3, 300, 3600, 0), 1200);
	/* "DNSSEC validation not confirmed": back right after the next check */
	CHECK_INT(sched_retry_wait(3, 300, 3600, 5), 5);
	CHECK_INT(sched_retry_wait(1, 3600, 3600, 301), 301);
	/* a hint never makes the wait longer */
	CHECK_INT(sched_retry_wait(1, 300, 3600, 900), 300);
}

static void
test_start_verdict(void)
{
	/* out of descriptors or memory: the process, never the message */
	CHECK_INT(sched_start_verdict(EMFILE, 100, 200), SCHED_START_PAUSE);
	CHECK_INT(sched_start_verdict(ENFILE, 100, 200), SCHED_START_PAUSE);
	CHECK_INT(sched_start_verdict(ENOMEM, 100, 200), SCHED_START_PAUSE);
	CHECK_INT(sched_start_verdict(ENOBUFS, 100, 200), SCHED_START_PAUSE);
	/* even past the lifetime: a pause bounces nothing */
	CHECK_INT(sched_start_verdict(EMFILE, 300, 200), SCHED_START_PAUSE);
	/* content missing or damaged: back off, bounce once expired */
	CHECK_INT(sched_start_verdict(ENOENT, 100, 200), SCHED_START_DEFER);
	CHECK_INT(sched_start_verdict(EBADMSG, 199, 200), SCHED_START_DEFER);
	CHECK_INT(sched_start_verdict(EBADMSG, 200, 200), SCHED_START_BOUNCE);
	CHECK_INT(sched_start_verdict(EIO, 5000, 200), SCHED_START_BOUNCE);
}

static void
test_next_wait(void)
{
	CHECK_INT(sched_next_wait(0, 1, 60), 1);
	CHECK_INT(sched_next_wait(1, 1, 60), 2);
	CHECK_INT(sched_next_wait(16, 1, 60), 32);
	CHECK_INT(sched_next_wait(32, 1, 60), 60);
	CHECK_INT(sched_next_wait(60, 1, 60), 60);
	CHECK_INT(sched_next_wait(0, 90, 60), 60);		/* max wins */
	CHECK_INT(sched_next_wait(4000000000u, 1, 4000000000u), 4000000000u);
}

static void
test_clamp_next(void)
{
	/* ahead of the expiry: the wake-up comes at it, not later */
	CHECK_INT(sched_clamp_next(500, 300, 100), 300);
	CHECK_INT(sched_clamp_next(200, 300, 100), 200);
	CHECK_INT(sched_clamp_next(300, 300, 100), 300);
	/* past it: a retry (of a DSN) keeps its backoff, no busy loop */
	CHECK_INT(sched_clamp_next(500, 300, 300), 500);
	CHECK_INT(sched_clamp_next(500, 300, 400), 500);
}

static void
test_domain(void)
{
	char buf[64];

	CHECK_STR(sched_rcpt_domain("a@B.Example", buf, sizeof(buf)), "b.example");
	CHECK_STR(sched_rcpt_domain("\"x@y\"@c.example.", buf, sizeof(buf)), "c.example");
	CHECK_STR(sched_rcpt_domain("nodomain", buf, sizeof(buf)), "");
	CHECK_STR(sched_rcpt_domain("a@verylongdomain", buf, 5), "very");
}

static void
test_group(void)
{
	struct queue_rcpt r[6] = {
		{ "a@x.example", RCPT_PENDING, 0, 0, NULL },
		{ "b@Y.example", RCPT_DEFERRED, 1, 100, NULL },	/* due at 100 */
		{ "c@x.example", RCPT_DELIVERED, 1, 0, NULL },
		{ "d@X.EXAMPLE", RCPT_DEFERRED, 2, 500, NULL },	/* later */
		{ "e@x.example", RCPT_DEFERRED, 2, 50, NULL },
		{ "f@y.example", RCPT_BOUNCED, 1, 0, NULL },
	};
	bool skip[6] = { 0 };
	size_t idx[6], n;
	char dom[64];

	CHECK(sched_rcpt_due(&r[0], 0));
	CHECK(!sched_rcpt_due(&r[1], 99));
	CHECK(sched_rcpt_due(&r[1], 100));
	CHECK(!sched_rcpt_due(&r[2], 1000));
	CHECK(!sched_rcpt_due(&r[5], 1000));

	n = sched_group(r, 6, NULL, 200, idx, dom, sizeof(dom));
	CHECK_INT(n, 2);
	CHECK_STR(dom, "x.example");
	CHECK_INT(idx[0], 0);
	CHECK_INT(idx[1], 4);

	skip[0] = skip[4] = true;
	n = sched_group(r, 6, skip, 200, idx, dom, sizeof(dom));
	CHECK_INT(n, 1);
	CHECK_STR(dom, "y.example");
	CHECK_INT(idx[0], 1);

	skip[1] = true;
	n = sched_group(r, 6, skip, 200, idx, dom, sizeof(dom));
	CHECK_INT(n, 0);
	CHECK_STR(dom, "");

	/* at 600 the later one is due too, in the same group */
	n = sched_group(r, 6, NULL, 600, idx, dom, sizeof(dom));
	CHECK_INT(n, 3);
	CHECK_INT(idx[2], 4);
	CHECK_INT(idx[1], 3);
}

int
main(void)
{
	test_backoff();
	test_retry_wait();
	test_start_verdict();
	test_next_wait();
	test_clamp_next();
	test_domain();
	test_group();
	return check_done("test_scheduler");
}
