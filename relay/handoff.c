/*
 * relay/handoff.c - posts from one loop thread, run on another
 * (relay/handoff.h).
 *
 * - Post (sender's thread): the item goes on the sender-local list and a
 *   "publish" event on the sender's base is made active once per turn.
 * - Publish (sender's thread, at the end of the turn's active callbacks):
 *   write the sender's buffered log lines, then splice the local list onto
 *   the shared one under mu and, unless a wake-up is already on its way,
 *   make the receiver's "wake" event active (event_active() is safe from
 *   another thread once evthread_use_pthreads() was called, and it is
 *   called with mu held so that the event cannot be freed meanwhile).
 * - Wake (receiver's thread): take the whole shared list under mu, run it
 *   outside the lock, in order.
 * Ownership: lhead/ltail/publish/armed belong to the sender's thread, wake
 * to the receiver's; shead/stail/woken and every call's done flag are only
 * touched with mu held. Lock order: mu, then libevent's base lock (the
 * receiver takes mu from a callback, where libevent holds no lock).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/handoff.h"
#include "relay/log.h"
#include "relay/util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

struct hitem {
	struct hitem	*next;
	handoff_fn	*fn;
	void		*a, *b;
	bool		 call;		/* handoff_call(): on the caller's stack */
	bool		 done;		/* call: fn returned (under mu) */
};

struct handoff {
	/* The sender's thread. */
	struct hitem	*lhead, **ltail;
	struct event	*publish;
	bool		 armed;		/* publish is active */

	/* The receiver's thread. */
	struct event	*wake;

	/* Shared, under mu. */
	pthread_mutex_t	 mu;
	pthread_cond_t	 done_cv;
	struct hitem	*shead, **stail;
	bool		 woken;		/* wake is active and has not run yet */
	bool		 gone;		/* the receiver's loop has returned */
};

/* mu held: move the sender's list to the shared one, wake the receiver. */
static void
handoff_publish_locked(struct handoff *h)
{
	if (h->lhead == NULL)
		return;
	*h->stail = h->lhead;
	h->stail = h->ltail;
	h->lhead = NULL;
	h->ltail = &h->lhead;
	if (!h->woken) {
		h->woken = true;
		event_active(h->wake, EV_READ, 1);
	}
}

static void
handoff_publish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct handoff *h = arg;

	h->armed = false;
	log_flush();		/* the sender's lines first */
	pthread_mutex_lock(&h->mu);
	handoff_publish_locked(h);
	pthread_mutex_unlock(&h->mu);
}

/* Run a list taken from the channel; calls are signalled, posts freed. */
static void
handoff_run(struct handoff *h, struct hitem *list)
{
	struct hitem *it;

	while ((it = list) != NULL) {
		list = it->next;
		it->fn(it->a, it->b);
		if (!it->call) {
			free(it);
			continue;
		}
		log_flush();	/* the receiver's lines before the caller's next */
		pthread_mutex_lock(&h->mu);
		it->done = true;
		pthread_cond_broadcast(&h->done_cv);
		pthread_mutex_unlock(&h->mu);
	}
}

static void
handoff_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct handoff *h = arg;
	struct hitem *list;

	pthread_mutex_lock(&h->mu);
	list = h->shead;
	h->shead = NULL;
	h->stail = &h->shead;
	h->woken = false;
	pthread_mutex_unlock(&h->mu);
	handoff_run(h, list);
}

struct handoff *
handoff_new(struct event_base *sender, struct event_base *receiver,
    char *err, size_t errlen)
{
	struct handoff *h = xcalloc(1, sizeof(*h));

	h->ltail = &h->lhead;
	h->stail = &h->shead;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->done_cv, NULL);
	h->publish = event_new(sender, -1, 0, handoff_publish_cb, h);
	h->wake = event_new(receiver, -1, 0, handoff_wake_cb, h);
	if (h->publish == NULL || h->wake == NULL) {
		snprintf(err, errlen, "cannot create the handoff events");
		handoff_free(h);
		return NULL;
	}
	return h;
}

void
handoff_post(struct handoff *h, handoff_fn *fn, void *a, void *b)
{
	struct hitem *it = xcalloc(1, sizeof(*it));

	it->fn = fn;
	it->a = a;
	it->b = b;
	*h->ltail = it;
	h->ltail = &it->next;
	if (!h->armed) {
		h->armed = true;
		event_active(h->publish, EV_TIMEOUT, 1);
	}
}

int
handoff_call(struct handoff *h, handoff_fn *fn, void *a, void *b)
{
	struct hitem it = { .fn = fn, .a = a, .b = b, .call = true };

	log_flush();
	*h->ltail = &it;
	h->ltail = &it.next;
	pthread_mutex_lock(&h->mu);
	handoff_publish_locked(h);
	while (!it.done && !h->gone)
		pthread_cond_wait(&h->done_cv, &h->mu);
	if (!it.done) {
		/* nobody will run it: take it back off the list, unrun */
		struct hitem **pp;

		for (pp = &h->shead; *pp != NULL; pp = &(*pp)->next)
			if (*pp == &it) {
				*pp = it.next;
				if (h->stail == &it.next)
					h->stail = pp;
				break;
			}
	}
	pthread_mutex_unlock(&h->mu);
	return it.done ? 0 : -1;
}

void
handoff_receiver_gone(struct handoff *h)
{
	pthread_mutex_lock(&h->mu);
	h->gone = true;
	pthread_cond_broadcast(&h->done_cv);
	pthread_mutex_unlock(&h->mu);
}

void
handoff_free(struct handoff *h)
{
	struct hitem *list;

	if (h == NULL)
		return;
	/* one thread left: what was posted still runs, in order */
	for (;;) {
		pthread_mutex_lock(&h->mu);
		handoff_publish_locked(h);
		list = h->shead;
		h->shead = NULL;
		h->stail = &h->shead;
		h->woken = false;
		pthread_mutex_unlock(&h->mu);
		if (list == NULL)
			break;
		handoff_run(h, list);
	}
	if (h->publish != NULL)
		event_free(h->publish);
	if (h->wake != NULL)
		event_free(h->wake);
	pthread_cond_destroy(&h->done_cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
