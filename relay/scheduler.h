/*
 * relay/scheduler.h - decides WHEN to attempt delivery. It owns every
 * queued envelope the spool hands to the relay's `ready` seam, groups the
 * due recipients of a message by destination domain (one attempt per
 * message and domain), keeps the global and per-domain concurrency limits,
 * serves fresh and retried mail alternately, records each outcome in the
 * queue (delivered, deferred with backoff, bounced with a DSN), and
 * removes a message once every recipient is final. One per process.
 *
 * Threads: the scheduler, every envelope it was given, the delivery
 * engine it drives and the spool handle it writes through (queue_attach(),
 * queue/queue.h) belong to the delivery loop's thread (relay/main.c, "Two
 * event loops"); every function here is called there. Others reach it by
 * handoff (relay/handoff.h): the inbound loop posts each committed
 * message (scheduler_add), SIGTERM (scheduler_stop), SIGUSR1
 * (scheduler_flush) and a reload (scheduler_set_conf); the queue tool runs
 * on this loop already (the control socket lives there). Counts for the
 * service manager are published, not read across (scheduler_counts()
 * runs here).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_SCHEDULER_H
#define RELAY_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct event_base;
struct queue;
struct queue_envelope;
struct queue_rcpt;
struct delivery;
struct relay_conf;
struct scheduler;

/* Created before queue_open() so recovered messages can be taken. */
struct scheduler *scheduler_new(struct event_base *, struct relay_conf *);
/* Begin attempts (recovered messages wait until this). */
void		 scheduler_start(struct scheduler *, struct queue *,
		    struct delivery *);
/* Takes ownership of env (a committed or recovered message). */
void		 scheduler_add(struct scheduler *, struct queue_envelope *);
/*
 * The same for a message fresh from the inbound loop; counted: it was
 * counted by flow_arrived(), and flow_started() is called once its first
 * attempt starts or it leaves the ready lists without one (relay/flow.h).
 */
void		 scheduler_add_arrival(struct scheduler *,
		    struct queue_envelope *, bool counted);
/* Inbound flow control to report to; NULL: none (at shutdown). */
struct flow;
void		 scheduler_set_flow(struct scheduler *, struct flow *);
/* SIGHUP: takes a new reference on rc, drops the old one. */
void		 scheduler_set_conf(struct scheduler *, struct relay_conf *);
/* SIGUSR1 / queue flush: every deferred recipient is due now. */
void		 scheduler_flush(struct scheduler *);
/* SIGTERM: start nothing more, cancel attempts (recipients stay as queued). */
void		 scheduler_stop(struct scheduler *);
/* After queue_close(): frees every envelope. */
void		 scheduler_free(struct scheduler *);
/* Messages queued (in the spool, not yet removed) and attempts in flight. */
void		 scheduler_counts(const struct scheduler *, size_t *msgs,
		    unsigned *inflight);

/* --- the queue tool (relay/queue_ctl.c, over the control socket) --- */

struct dlv_trace;
struct trace_host;

/* A deferred recipient's last attempt, from the engine's outcome. */
struct sched_last {
	struct dlv_trace	*trace;		/* NULL: none since start */
	const struct trace_host	*host;		/* the host that decided, or NULL */
	int			 rpt;		/* enum tlsrpt_type of the outcome */
};

/* One queued message as the queue tool sees it; valid during the call. */
struct sched_view {
	const struct queue_envelope *env;	/* env->held: on hold */
	const bool		*busy;		/* per recipient: in an attempt now */
	const struct sched_last	*last;		/* per recipient, or NULL */
};
typedef void sched_walk_cb(const struct sched_view *, void *arg);
/* Every message (id NULL) or the one with that id, in arrival order. */
void		 scheduler_walk(struct scheduler *, const char *id,
		    sched_walk_cb *, void *arg);
/* SIGTERM came: the queue tool starts no more changes. */
bool		 scheduler_stopping(const struct scheduler *);
/* Deferred recipients of message id / of domain (NULL: any) due now. */
size_t		 scheduler_flush_some(struct scheduler *, const char *id,
		    const char *domain);
/*
 * Hold or release message id (journaled). A held message starts no
 * attempt; one in flight ends normally first. 1: recorded, cb(arg, errno
 * or 0) follows once the record is durable; 0: nothing to change (no cb);
 * -1 + errno (ENOENT).
 */
int		 scheduler_hold(struct scheduler *, const char *id, bool hold,
		    void (*cb)(void *, int), void *arg);
/* Remove message id now; attempts in flight are cancelled. 0, and cb
 * follows once the removal is durable; -1 + errno (ENOENT). */
int		 scheduler_delete(struct scheduler *, const char *id,
		    void (*cb)(void *, int), void *arg);

/* --- pure helpers (unit tested) --- */

/* Seconds to wait after the attempts-th failure (attempts >= 1). */
unsigned	 sched_backoff(unsigned attempts, unsigned min, unsigned max);
/* The same, or the engine's retry_after (struct dlv_outcome) when sooner. */
unsigned	 sched_retry_wait(unsigned attempts, unsigned min, unsigned max,
		    unsigned retry_after);
/* The lower-cased destination domain of addr (after the last @) into buf. */
const char	*sched_rcpt_domain(const char *addr, char *buf, size_t len);
/* Is recipient r due at now (not final, next attempt reached)? */
bool		 sched_rcpt_due(const struct queue_rcpt *r, time_t now);
/*
 * Group: the indices of rcpts[0..n) that are due at now, not busy
 * (busy may be NULL) and in the same domain as the first such one, into
 * idx (room for n); domain gets that domain. Returns how many (0: none).
 * skip (may be NULL, one flag per rcpt) marks recipients to ignore.
 */
size_t		 sched_group(const struct queue_rcpt *rcpts, size_t n,
		    const bool *skip, time_t now, size_t *idx, char *domain,
		    size_t domainlen);

/* What a failed delivery_start() (errno e) means for the message. */
enum sched_start_verdict {
	SCHED_START_PAUSE,	/* the process is out of descriptors or memory:
				 * pause every start, the message stays put */
	SCHED_START_DEFER,	/* the message's own trouble: back off */
	SCHED_START_BOUNCE,	/* that, and its lifetime is over */
};
enum sched_start_verdict sched_start_verdict(int e, time_t now,
		    time_t expire);
/* The next wait of a doubling retry: min first (cur 0), then 2 * cur,
 * never over max. */
unsigned	 sched_next_wait(unsigned cur, unsigned min, unsigned max);
/* When a recipient due at next is tried, its message expiring at expire:
 * never after the expiry while that is still ahead. */
time_t		 sched_clamp_next(time_t next, time_t expire, time_t now);

#endif
