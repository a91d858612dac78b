/*
 * tests/unit/test_flow.c - relay/flow.c, inbound flow control, on a real
 * event loop: a waiter is queued only above the limit (or behind others),
 * waiters resume in arrival order as delivery makes room (one wake-up
 * posted however many starts), by their deadline when it makes none, all
 * at once at shutdown; a cancelled waiter never resumes; the backlog never
 * goes below zero. Then two threads as in the daemon: the main thread
 * arrives and waits while a "delivery" thread starts messages; no wake-up
 * is lost (every wait ends long before its 60 s deadline). Meant to run
 * under ThreadSanitizer too (tests/run, tsan:test_flow).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/flow.h"
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

static struct event_base *base;
static struct flow	*fl;
static struct event	*ev_wake;	/* flow_wake() on the main loop */
static atomic_uint	 nposts;	/* post_wake calls */
static bool		 deliver_posts;	/* post_wake activates ev_wake */

static int		 order[16];
static int		 norder;

struct tw {
	struct flow_waiter	 w;
	int			 id;
};

static void
resumed(void *arg)
{
	struct tw *t = arg;

	if (norder < 16)
		order[norder++] = t->id;
}

static void
wake_cb(evutil_socket_t fd, short ev, void *arg)
{
	flow_wake(fl);
}

static void
post_wake(void *arg)
{
	atomic_fetch_add(&nposts, 1);
	if (deliver_posts)
		event_active(ev_wake, 0, 0);
}

static void
loopexit_cb(evutil_socket_t fd, short ev, void *arg)
{
	*(bool *)arg = true;
	event_base_loopbreak(base);
}

/* Run the loop until norder reaches want or secs pass; the seconds taken. */
static double
run_until(int want, int secs)
{
	struct timeval tv = { secs, 0 };
	struct timespec a, b;
	bool late = false;
	struct event *t = evtimer_new(base, loopexit_cb, &late);

	clock_gettime(CLOCK_MONOTONIC, &a);
	evtimer_add(t, &tv);
	while (norder < want && !late)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
}

static void
single_thread(void)
{
	struct tw t[10];
	int i;
	double secs;

	memset(t, 0, sizeof(t));
	for (i = 0; i < 10; i++)
		t[i].id = i;
	fl = flow_new(base, post_wake, NULL);
	ev_wake = event_new(base, -1, 0, wake_cb, NULL);
	flow_set_limit(fl, 2);

	/* room, or in_flow_delay 0: go on */
	CHECK(!flow_wait(fl, &t[0].w, 0, resumed, &t[0]));
	CHECK(!flow_wait(fl, &t[0].w, 5, resumed, &t[0]));
	flow_arrived(fl);
	flow_arrived(fl);
	CHECK_INT(flow_backlog(fl), 2);
	CHECK(!flow_wait(fl, &t[0].w, 5, resumed, &t[0]));	/* at the limit */

	/* above it: wait, in order */
	flow_arrived(fl);
	CHECK(flow_wait(fl, &t[1].w, 5, resumed, &t[1]));
	CHECK(flow_wait(fl, &t[2].w, 5, resumed, &t[2]));
	CHECK(flow_wait(fl, &t[3].w, 5, resumed, &t[3]));
	flow_cancel(fl, &t[3].w);		/* its session closed */
	CHECK_INT(norder, 0);
	flow_started(fl);			/* 3 -> 2: room, one post */
	flow_started(fl);			/* 2 -> 1: no second post */
	CHECK_INT(atomic_load(&nposts), 1);
	flow_wake(fl);				/* room for 2 - 1 + 1 */
	CHECK_INT(norder, 2);
	CHECK_INT(order[0], 1);
	CHECK_INT(order[1], 2);
	flow_started(fl);
	flow_started(fl);			/* never below zero */
	CHECK_INT(flow_backlog(fl), 0);

	/* no room comes: the deadline resumes it */
	for (i = 0; i < 3; i++)
		flow_arrived(fl);
	norder = 0;
	CHECK(flow_wait(fl, &t[4].w, 1, resumed, &t[4]));
	secs = run_until(1, 5);
	CHECK_INT(norder, 1);
	CHECK(secs > 0.8 && secs < 4.5);

	/* behind a waiter, a new transaction waits even with room; the kick
	 * (room seen while queueing) resumes both, in order */
	norder = 0;
	atomic_store(&nposts, 0);
	CHECK(flow_wait(fl, &t[5].w, 30, resumed, &t[5]));
	flow_started(fl);			/* 3 -> 2: posted, not delivered */
	flow_started(fl);			/* 2 -> 1: already posted */
	CHECK_INT(atomic_load(&nposts), 1);
	CHECK(flow_wait(fl, &t[6].w, 30, resumed, &t[6]));
	secs = run_until(2, 5);
	CHECK_INT(norder, 2);
	CHECK_INT(order[0], 5);
	CHECK_INT(order[1], 6);
	CHECK(secs < 4.5);

	/* shutdown: every waiter now */
	norder = 0;
	flow_arrived(fl);
	flow_arrived(fl);			/* 3 > 2 */
	CHECK(flow_wait(fl, &t[7].w, 30, resumed, &t[7]));
	CHECK(flow_wait(fl, &t[8].w, 30, resumed, &t[8]));
	flow_resume_all(fl);
	CHECK_INT(norder, 2);
	CHECK_INT(order[0], 7);
	CHECK_INT(order[1], 8);
	flow_cancel(fl, &t[8].w);		/* not queued: a no-op */

	event_free(ev_wake);
	flow_free(fl);
}

/* --- two threads --- */

#define ARRIVALS	20000
#define WAIT_EVERY	50

static atomic_uint started;
static atomic_bool done;

static void *
delivery_thread(void *arg)
{
	unsigned long spins = 0;

	while (atomic_load(&started) < ARRIVALS && !atomic_load(&done)) {
		if (flow_backlog(fl) > 0) {
			flow_started(fl);
			atomic_fetch_add(&started, 1);
		} else if (++spins % 64 == 0)
			sched_yield();
	}
	return NULL;
}

static void
two_threads(void)
{
	pthread_t th;
	struct tw t;
	int i, waits = 0;
	double secs, longest = 0;

	memset(&t, 0, sizeof(t));
	norder = 0;
	atomic_store(&nposts, 0);
	fl = flow_new(base, post_wake, NULL);
	ev_wake = event_new(base, -1, 0, wake_cb, NULL);
	deliver_posts = true;
	flow_set_limit(fl, 8);
	CHECK_INT(pthread_create(&th, NULL, delivery_thread, NULL), 0);
	for (i = 0; i < ARRIVALS; i++) {
		flow_arrived(fl);
		if (i % WAIT_EVERY != 0)
			continue;
		norder = 0;
		if (!flow_wait(fl, &t.w, 60, resumed, &t))
			continue;
		waits++;
		secs = run_until(1, 20);
		if (norder != 1)
			break;
		if (secs > longest)
			longest = secs;
	}
	CHECK_INT(i, ARRIVALS);		/* no wait ran into its bound */
	CHECK(longest < 20);
	atomic_store(&done, true);
	pthread_join(th, NULL);
	printf("two threads: %d arrivals, %d waits, %u wake-ups posted, "
	    "longest wait %.3fs\n", ARRIVALS, waits, atomic_load(&nposts),
	    longest);
	event_free(ev_wake);
	flow_free(fl);
}

int
main(void)
{
	CHECK_INT(evthread_use_pthreads(), 0);
	base = event_base_new();
	CHECK(base != NULL);
	if (base == NULL)
		return check_done("test_flow");
	single_thread();
	two_threads();
	event_base_free(base);
	libevent_global_shutdown();
	return check_done("test_flow");
}
