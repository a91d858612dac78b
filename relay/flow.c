/*
 * relay/flow.c - inbound flow control (relay/flow.h).
 *
 * The only state both loops touch is three atomics: the backlog, how many
 * transactions wait, and whether a wake-up is already on its way. The
 * delivery loop decrements the backlog, then reads the waiting count; the
 * inbound loop increments the waiting count, then reads the backlog
 * (sequentially consistent both): so when a waiter is queued just as the
 * backlog drops, at least one side sees the other, and the waiter is
 * never left to sit out its whole delay with room to go on.
 *
 * Logging: at most one line a minute (FLOW_LOG_SECS): the first wait
 * after a quiet minute at once, with the backlog; then a summary of the
 * waits since the last line, written when a waiter resumes.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/flow.h"
#include "relay/log.h"
#include "relay/util.h"

#include <stdatomic.h>
#include <stdlib.h>

#include <event2/event.h>

#define FLOW_LOG_SECS	60

TAILQ_HEAD(flow_head, flow_waiter);

struct flow {
	/* shared by the two loops */
	atomic_uint		 backlog;
	atomic_uint		 limit;
	atomic_uint		 nwaiting;
	atomic_bool		 wake_posted;
	void			(*post_wake)(void *);
	void			*arg;

	/* the inbound loop's */
	struct event_base	*base;
	struct flow_head	 waiters;
	struct event		*ev_deadline;	/* the head's deadline */
	struct event		*ev_kick;	/* room seen while queueing */
	bool			 logged;
	struct timespec		 last_log;
	unsigned long		 nwaited;	/* since the last line */
	long long		 longest_ms;
};

static long long
ts_ms(const struct timespec *a, const struct timespec *b)	/* b - a */
{
	return (long long)(b->tv_sec - a->tv_sec) * 1000 +
	    (b->tv_nsec - a->tv_nsec) / 1000000;
}

static bool
flow_room(const struct flow *f)
{
	return atomic_load(&f->backlog) <= atomic_load(&f->limit);
}

static bool
flow_log_due(struct flow *f, const struct timespec *now)
{
	return !f->logged || now->tv_sec - f->last_log.tv_sec >= FLOW_LOG_SECS;
}

static void
flow_logged(struct flow *f, const struct timespec *now)
{
	f->logged = true;
	f->last_log = *now;
	f->nwaited = 0;
	f->longest_ms = 0;
}

static void
flow_arm(struct flow *f)
{
	struct flow_waiter *w = TAILQ_FIRST(&f->waiters);
	struct timespec now;
	struct timeval tv;
	long long ms;

	if (w == NULL) {
		evtimer_del(f->ev_deadline);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = ts_ms(&now, &w->deadline);
	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(f->ev_deadline, &tv);
}

/* Off the list, then resume: w (and what holds it) may be gone after. */
static void
flow_resume_one(struct flow *f, struct flow_waiter *w,
    const struct timespec *now)
{
	long long ms = ts_ms(&w->since, now);

	TAILQ_REMOVE(&f->waiters, w, link);
	w->queued = false;
	atomic_fetch_sub(&f->nwaiting, 1);
	f->nwaited++;
	if (ms > f->longest_ms)
		f->longest_ms = ms;
	if (f->nwaited > 0 && flow_log_due(f, now)) {
		log_info(NULL, "inbound flow: %lu transaction%s waited before "
		    "MAIL in the last %llds, the longest %lld.%03llds (%u "
		    "messages wait for delivery, limit %u)", f->nwaited,
		    f->nwaited == 1 ? "" : "s",
		    (long long)(now->tv_sec - f->last_log.tv_sec),
		    f->longest_ms / 1000, f->longest_ms % 1000,
		    atomic_load(&f->backlog), atomic_load(&f->limit));
		flow_logged(f, now);
	}
	w->resume(w->arg);
}

static void
flow_deadline_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct flow *f = arg;
	struct flow_waiter *w, *next;
	struct timespec now;

	(void)fd;
	(void)ev;
	clock_gettime(CLOCK_MONOTONIC, &now);
	/*
	 * The whole list: a reload may have shortened the delay of later
	 * waiters. A resume frees at most its own waiter, so next stays
	 * valid; a waiter it queues (RSET, then MAIL again) goes to the tail
	 * with a deadline still ahead.
	 */
	for (w = TAILQ_FIRST(&f->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, link);
		if (ts_ms(&w->deadline, &now) >= 0)
			flow_resume_one(f, w, &now);
	}
	flow_arm(f);
}

static void
flow_kick_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	flow_wake(arg);
}

struct flow *
flow_new(struct event_base *inbound, void (*post_wake)(void *), void *arg)
{
	struct flow *f = xcalloc(1, sizeof(*f));

	f->base = inbound;
	f->post_wake = post_wake;
	f->arg = arg;
	TAILQ_INIT(&f->waiters);
	if ((f->ev_deadline = evtimer_new(inbound, flow_deadline_cb, f)) ==
	    NULL || (f->ev_kick = event_new(inbound, -1, 0, flow_kick_cb, f)) ==
	    NULL)
		fatalx("flow: cannot create events");
	return f;
}

void
flow_free(struct flow *f)
{
	if (f == NULL)
		return;
	event_free(f->ev_deadline);
	event_free(f->ev_kick);
	free(f);
}

void
flow_set_limit(struct flow *f, unsigned limit)
{
	atomic_store(&f->limit, limit);
}

unsigned
flow_backlog(const struct flow *f)
{
	return atomic_load(&f->backlog);
}

unsigned
flow_waiting(const struct flow *f)
{
	return atomic_load(&f->nwaiting);
}

void
flow_arrived(struct flow *f)
{
	atomic_fetch_add(&f->backlog, 1);
}

bool
flow_wait(struct flow *f, struct flow_waiter *w, unsigned delay_secs,
    void (*resume)(void *), void *arg)
{
	struct timespec now;

	if (delay_secs == 0 || (TAILQ_EMPTY(&f->waiters) && flow_room(f)))
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	w->since = now;
	w->deadline = now;
	w->deadline.tv_sec += (time_t)delay_secs;
	w->resume = resume;
	w->arg = arg;
	w->queued = true;
	TAILQ_INSERT_TAIL(&f->waiters, w, link);
	atomic_fetch_add(&f->nwaiting, 1);
	if (TAILQ_FIRST(&f->waiters) == w) {
		flow_arm(f);
		if (flow_log_due(f, &now)) {
			log_info(NULL, "inbound flow: delivery is behind (%u "
			    "messages wait for their first attempt, limit %u): "
			    "new transactions wait up to %us before MAIL",
			    atomic_load(&f->backlog), atomic_load(&f->limit),
			    delay_secs);
			flow_logged(f, &now);
		}
	}
	/* the delivery loop may have made room before it saw us waiting */
	if (flow_room(f))
		event_active(f->ev_kick, 0, 0);
	return true;
}

void
flow_cancel(struct flow *f, struct flow_waiter *w)
{
	bool head;

	if (!w->queued)
		return;
	head = TAILQ_FIRST(&f->waiters) == w;
	TAILQ_REMOVE(&f->waiters, w, link);
	w->queued = false;
	atomic_fetch_sub(&f->nwaiting, 1);
	if (head)
		flow_arm(f);
}

/* Resume up to n waiters from the head, in order, then re-arm. */
static void
flow_resume_head(struct flow *f, unsigned n)
{
	struct flow_waiter *w;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	while (n-- > 0 && (w = TAILQ_FIRST(&f->waiters)) != NULL)
		flow_resume_one(f, w, &now);
	flow_arm(f);
}

void
flow_resume_all(struct flow *f)
{
	/* bounded by what waits now: a resumed session never queues again
	 * during a shutdown (it answers 421) */
	flow_resume_head(f, atomic_load(&f->nwaiting));
}

void
flow_wake(struct flow *f)
{
	unsigned backlog, limit;

	atomic_store(&f->wake_posted, false);
	backlog = atomic_load(&f->backlog);
	limit = atomic_load(&f->limit);
	if (backlog > limit || TAILQ_EMPTY(&f->waiters))
		return;
	/* each resumed transaction may add one message: no more than fit */
	flow_resume_head(f, limit - backlog + 1);
}

void
flow_started(struct flow *f)
{
	unsigned n = atomic_load(&f->backlog);

	/* never below zero, whatever the caller's bookkeeping */
	do {
		if (n == 0)
			return;
	} while (!atomic_compare_exchange_weak(&f->backlog, &n, n - 1));
	if (n - 1 <= atomic_load(&f->limit) && atomic_load(&f->nwaiting) > 0 &&
	    !atomic_exchange(&f->wake_posted, true))
		f->post_wake(f->arg);
}
