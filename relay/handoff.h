/*
 * relay/handoff.h - a one-way channel between two event-loop threads: the
 * sending loop posts calls, the receiving loop runs them, in post order.
 * The daemon has one per direction between its inbound loop (main thread)
 * and its delivery loop (relay/main.c): a committed message travels to the
 * scheduler this way, a reload or a SIGTERM to the delivery loop.
 *
 * Posting never blocks on the receiver. Posts made during one turn of the
 * sender's loop are gathered on a sender-local list and published together
 * at the end of that turn (one mutex hold and at most one wake-up of the
 * receiver per turn), right after the sender's buffered log lines are
 * written (relay/log.h): so a line the receiver logs about something it
 * was handed never reaches the log before the sender's lines that led to
 * it. The receiver is woken by event_active() on its own base (libevent
 * with evthread_use_pthreads()) and takes the whole published list in one
 * splice.
 *
 * Threads: handoff_post() and handoff_call() from the sender's loop thread
 * only; the calls run on the receiver's loop thread; handoff_free() once
 * a single thread is left owning both ends. Only the list under the mutex
 * is shared (relay/handoff.c).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_HANDOFF_H
#define RELAY_HANDOFF_H

#include <stddef.h>

struct event_base;
struct handoff;

/* Runs on the receiver's thread. */
typedef void handoff_fn(void *a, void *b);

/* A channel from the loop of sender to the loop of receiver. NULL + err. */
struct handoff	*handoff_new(struct event_base *sender,
		    struct event_base *receiver, char *err, size_t errlen);
/* Run fn(a, b) on the receiver's loop, after what was posted before. */
void		 handoff_post(struct handoff *, handoff_fn *fn, void *a, void *b);
/*
 * From the sender's loop thread: run fn(a, b) on the receiver's loop
 * after everything posted so far (published at once) and wait until it
 * returned. Both sides' buffered log lines are written before and after
 * it, so the log keeps the order of the call. The receiver must never
 * wait for the sender (only one direction may call). 0; -1 if the
 * receiver's loop has gone (handoff_receiver_gone()): fn did not run.
 */
int		 handoff_call(struct handoff *, handoff_fn *fn, void *a, void *b);
/* The receiver's loop has returned (on its thread, before it ends): calls
 * no longer wait; what was posted runs at handoff_free(). */
void		 handoff_receiver_gone(struct handoff *);
/*
 * Once one thread owns both ends (the other thread was joined, or never
 * started): run what was posted and not run yet, on the calling thread,
 * in order, then free the channel.
 */
void		 handoff_free(struct handoff *);

#endif
