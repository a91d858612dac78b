/*
 * relay/flow.h - inbound flow control, the counterpart of Postfix's
 * in_flow_delay: when delivery falls behind the arrival of new mail, a
 * new transaction waits before its MAIL command is answered, until
 * delivery has made room or in_flow_delay has passed, whichever comes
 * first. Clients are slowed, never refused: after the delay the MAIL is
 * answered as usual. Without it a relay that accepts faster than it
 * delivers only grows a queue (memory, spool, and the time every message
 * waits); with it, accepted follows delivered.
 *
 * The measure is one number: messages committed by the inbound loop
 * whose first delivery attempt has not started yet (`backlog`). The
 * inbound loop adds one per committed message (flow_arrived()); the
 * delivery loop takes it off when the message's first attempt starts, or
 * when it leaves the ready lists without one (held, deferred by a start
 * failure, removed): flow_started(). Above the limit (the global outbound
 * slots, max_connections) delivery is behind, and MAIL waits. A message
 * waiting for a slot of its destination domain counts too: most mail of
 * a smarthost often goes to a few large domains, and their queue is the
 * one that grows. A flood to one slow destination thus slows every
 * client, by at most in_flow_delay per message, as in Postfix.
 *
 * Waiting transactions are served in arrival order; a new transaction
 * waits behind them even if the backlog is below the limit at that
 * moment. The delivery loop wakes the inbound loop (at most once per loop
 * turn, through the channel given to flow_new()) when the backlog drops to
 * the limit; the inbound loop then resumes as many as there is room for.
 * A timer resumes those whose in_flow_delay has passed.
 *
 * Threads: flow_arrived(), flow_wait(), flow_cancel(), flow_resume_all()
 * and flow_wake() on the inbound loop; flow_started() on the delivery
 * loop; the backlog and the waiting count are atomics, the waiter list is
 * the inbound loop's alone.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_FLOW_H
#define RELAY_FLOW_H

#include <stdbool.h>
#include <sys/queue.h>
#include <time.h>

struct event_base;
struct flow;

/* Embedded in whatever waits (an inbound session). */
struct flow_waiter {
	TAILQ_ENTRY(flow_waiter) link;
	struct timespec		 since;		/* CLOCK_MONOTONIC */
	struct timespec		 deadline;
	void			(*resume)(void *arg);
	void			*arg;
	bool			 queued;
};

/*
 * post_wake(arg) is called on the delivery loop to have flow_wake() run on
 * the inbound loop (relay/main.c posts it through its handoff).
 */
struct flow	*flow_new(struct event_base *inbound,
		    void (*post_wake)(void *), void *arg);
void		 flow_free(struct flow *);
/* The backlog limit (max_connections); set again on reload. */
void		 flow_set_limit(struct flow *, unsigned limit);

/* --- inbound loop --- */

/* One committed message is handed to delivery. */
void		 flow_arrived(struct flow *);
/*
 * Should a new transaction wait? false: go on now. true: w is queued and
 * w->resume(w->arg) runs later on this loop (w is off the list by then),
 * at the latest delay_secs from now. delay_secs 0: never wait.
 */
bool		 flow_wait(struct flow *, struct flow_waiter *w,
		    unsigned delay_secs, void (*resume)(void *), void *arg);
/* w goes away (its session closes): take it off the list. */
void		 flow_cancel(struct flow *, struct flow_waiter *w);
/* Shutdown: resume every waiter now. */
void		 flow_resume_all(struct flow *);
/* Delivery made room (posted by flow_started()). */
void		 flow_wake(struct flow *);

/* --- delivery loop --- */

/* One counted message started its first attempt or left the ready lists. */
void		 flow_started(struct flow *);

/* Either loop: the backlog now (for logs and tests). */
unsigned	 flow_backlog(const struct flow *);
/* Either loop: transactions waiting now (the service manager's STATUS=). */
unsigned	 flow_waiting(const struct flow *);

#endif
