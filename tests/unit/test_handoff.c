/*
 * tests/unit/test_handoff.c - relay/handoff.c between two real threads,
 * each with its own event loop (as the daemon's inbound and delivery
 * loops, relay/main.c): a sender thread posts many items in bursts over
 * many loop turns while the main thread's loop consumes them; every item
 * arrives exactly once and in post order; a handoff_call() in the middle
 * runs after everything posted before it and returns its result; what is
 * posted after the receiver stopped runs at handoff_free(), and a call to
 * a receiver that has gone does not wait. Meant to run
 * under ThreadSanitizer too (make tsan-build; tests/run, tsan:test_handoff).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/handoff.h"
#include "check.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <event2/event.h>
#include <event2/thread.h>

#define TOTAL	50000		/* items posted by the sender thread */
#define BURST	97		/* per sender loop turn */

struct item {
	unsigned	 seq;
};

static struct handoff	*h;
static struct event_base *recv_base;

/* The receiver's (main thread's) state. */
static unsigned		 next_seq;	/* the seq expected next */
static unsigned		 out_of_order;
static bool		 stopped;

/* The sender thread's state. */
static struct event_base *send_base;
static struct event	*produce;
static unsigned		 posted;
static unsigned		 call_seen;	/* next_seq as the call saw it */
static bool		 called;

static void
take_item(void *a, void *b)
{
	struct item *it = a;

	(void)b;
	if (it->seq != next_seq)
		out_of_order++;
	next_seq = it->seq + 1;
	free(it);
}

static void
take_stop(void *a, void *b)
{
	(void)a;
	(void)b;
	stopped = true;
	event_base_loopexit(recv_base, NULL);
}

/* Runs on the receiver: what it has taken so far is the sender's business. */
static void
take_call(void *a, void *b)
{
	unsigned *seen = a;

	(void)b;
	*seen = next_seq;
}

static void
produce_cb(evutil_socket_t fd, short what, void *arg)
{
	unsigned i;

	(void)fd;
	(void)what;
	(void)arg;
	for (i = 0; i < BURST && posted < TOTAL; i++) {
		struct item *it = malloc(sizeof(*it));

		it->seq = posted++;
		handoff_post(h, take_item, it, NULL);
		if (posted == TOTAL / 2 && !called) {
			/* everything posted before it has run when it returns */
			handoff_call(h, take_call, &call_seen, NULL);
			called = true;
		}
	}
	if (posted < TOTAL)
		event_active(produce, EV_TIMEOUT, 1);	/* next turn */
	else
		handoff_post(h, take_stop, NULL, NULL);
}

static void *
sender(void *arg)
{
	(void)arg;
	event_active(produce, EV_TIMEOUT, 1);
	/* returns once the last publish has run: nothing left active */
	event_base_dispatch(send_base);
	return NULL;
}

static void
count_late(void *a, void *b)
{
	unsigned *n = a;

	(void)b;
	(*n)++;
}

int
main(void)
{
	pthread_t t;
	char err[128];
	unsigned late = 0;

	evthread_use_pthreads();
	recv_base = event_base_new();
	send_base = event_base_new();
	if (recv_base == NULL || send_base == NULL)
		return 1;
	h = handoff_new(send_base, recv_base, err, sizeof(err));
	CHECK(h != NULL);
	if (h == NULL)
		return check_done("test_handoff");
	produce = event_new(send_base, -1, 0, produce_cb, NULL);

	CHECK_INT(pthread_create(&t, NULL, sender, NULL), 0);
	event_base_loop(recv_base, EVLOOP_NO_EXIT_ON_EMPTY);
	pthread_join(t, NULL);

	CHECK(stopped);
	CHECK_INT(next_seq, TOTAL);
	CHECK_INT(out_of_order, 0);
	CHECK(called);
	CHECK_INT(call_seen, TOTAL / 2);

	/* One thread owns both ends now: posts still run, at free; a call
	 * to a receiver that has gone returns at once, unrun. */
	handoff_post(h, count_late, &late, NULL);
	handoff_post(h, count_late, &late, NULL);
	CHECK_INT(late, 0);
	handoff_receiver_gone(h);
	CHECK_INT(handoff_call(h, count_late, &late, NULL), -1);
	CHECK_INT(late, 0);
	handoff_free(h);
	CHECK_INT(late, 2);

	event_free(produce);
	event_base_free(send_base);
	event_base_free(recv_base);
	libevent_global_shutdown();
	return check_done("test_handoff");
}
