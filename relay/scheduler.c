/*
 * relay/scheduler.c - when to attempt what. Every queued envelope is an
 * smsg on exactly one list: `newq` (has due recipients never tried),
 * `retryq` (has due recipients tried before), `waitq` (nothing due until
 * a later time; the timer wakes at the earliest), a domain's `blocked`
 * list (all its recipients are in one domain, which is at its connection
 * limit) or none (every open recipient is busy in an attempt or a DSN
 * commit). A pass serves newq and
 * retryq alternately so a backlog of deferred mail never starves fresh
 * mail, and starts one attempt per message and domain within
 * max_connections and max_connections_per_domain. Passes are coalesced
 * through one active event, so a burst of completions costs one pass.
 * A recipient is busy from the start of its attempt until its outcome is
 * recorded (for a bounce: until the DSN is committed, so a bounce is
 * never lost: DSN first, then BOUNCED).
 *
 * Faults (a full spool, no free descriptors) never make a pass loop or a
 * recipient go round again at once:
 * - A state whose journal record cannot be written, or whose sync fails
 *   (EIO: the record may be lost though reading the file shows it), is
 *   honoured in memory all the same (a delivered recipient is not
 *   delivered again by this process, a deferral keeps its backoff); the
 *   recipient is marked dirty and its record written again from a timer
 *   with backoff (`jq`), a hold record likewise. A
 *   settled message is removed whether or not its records made it: the
 *   removal is the record, and a crash before it repeats a delivery at
 *   worst, never loses one.
 * - delivery_start() failing for want of descriptors or memory pauses
 *   every start for a while (1s doubling to STARVE_MAX) and leaves the
 *   message where it was; any other failure (content unreadable) defers
 *   the message's recipients with backoff, and once max_queue_lifetime is
 *   over bounces them, without an attempt.
 * - A pass visits at most the messages that were ready when it began.
 * - No wake-up is set later than a message's expiry.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/scheduler.h"
#include "conf/conf.h"
#include "queue/queue.h"
#include "relay/acct.h"
#include "relay/delivery.h"
#include "relay/dlv_trace.h"
#include "relay/dsn.h"
#include "relay/flow.h"
#include "relay/log.h"
#include "relay/relay.h"
#include "relay/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/time.h>

#include <event2/event.h>

#define DSN_HEADERS_MAX	(64 * 1024)	/* of the original, quoted in a DSN */
#define DOMAIN_MAX	256

#define DOM_BUCKETS	1024		/* hash of the domains in use */
#define ID_BUCKETS	4096		/* hash of the queue ids (the queue tool) */

#define JOURNAL_RETRY_MIN	1	/* seconds: first retry of a journal write */
#define JOURNAL_RETRY_MAX	60
#define STARVE_MAX		10	/* seconds: longest pause of all starts */

enum smsg_list { L_NONE, L_NEW, L_RETRY, L_WAIT, L_BLOCKED };

struct scheduler;
struct sdom;

struct smsg {
	TAILQ_ENTRY(smsg)	 link;		/* on newq, retryq or waitq */
	TAILQ_ENTRY(smsg)	 all;
	LIST_ENTRY(smsg)	 idlink;	/* in its id hash bucket */
	struct scheduler	*s;
	struct queue_envelope	*env;
	bool			*busy;		/* per recipient */
	unsigned		 nbusy;		/* attempts and DSN commits */
	enum smsg_list		 list;
	struct sdom		*bd;		/* L_BLOCKED: on bd->blocked */
	bool			 onedom;	/* every recipient in one domain */
	struct sched_last	*last;		/* per recipient: last deferral (queue explain) */
	bool			 deleted;	/* queue delete: files gone, freed when not busy */
	bool			*dirty;		/* per recipient, then [nrcpts] for
						 * the hold record: not durable */
	unsigned		 ndirty;
	TAILQ_ENTRY(smsg)	 jlink;		/* on jq while ndirty > 0 */
	unsigned		 njsync;	/* journal syncs whose cb has m */
	bool			 gone;		/* freed but for njsync */
	unsigned		 nstartfail;	/* delivery_start failures in a row */
	bool			 inflow;	/* counted in the inbound flow's
						 * backlog until its first start */
};

/*
 * A domain with attempts in flight or messages waiting for one of its
 * connection slots: a message whose recipients are all in one domain and
 * finds it at max_connections_per_domain waits on `blocked` instead of
 * being walked by every pass; each freed slot puts one back at the head
 * of its ready list (FIFO per domain, O(1) per completion).
 */
struct sdom {
	LIST_ENTRY(sdom)	 link;		/* in its hash bucket */
	struct scheduler	*s;
	unsigned		 nflight;
	TAILQ_HEAD(, smsg)	 blocked;
	char			 name[DOMAIN_MAX];
};

struct sattempt {
	TAILQ_ENTRY(sattempt)	 link;
	struct smsg		*m;
	struct sdom		*d;
	struct delivery_attempt	*da;
	size_t			*idx;
	size_t			 n;
};

struct sbounce {			/* one recipient to bounce */
	size_t		 idx;
	unsigned	 attempts;
	char		 status[16];
	char		*diag;
	char		*mx;
	char		*note;
};

struct sdsn {				/* a DSN being committed */
	struct smsg	*m;
	struct sbounce	*b;
	size_t		 n;
};

TAILQ_HEAD(smsg_head, smsg);

struct scheduler {
	struct event_base	*base;
	struct relay_conf	*rc;
	struct queue		*queue;
	struct delivery		*dlv;
	struct flow		*flow;		/* inbound flow control, or NULL */
	struct smsg_head	 all, newq, retryq, waitq;
	unsigned		 nready;	/* on newq and retryq */
	struct smsg_head	 jq;		/* with records to write again */
	struct event		*ev_journal;
	unsigned		 jwait;		/* its backoff, 0: not armed */
	struct event		*ev_resume;	/* end of a pause of all starts */
	unsigned		 starve_wait;	/* that pause, 0: none */
	bool			 starved;
	struct log_limit	 ll_journal, ll_starve;
	TAILQ_HEAD(, sattempt)	 attempts;
	LIST_HEAD(, sdom)	 doms[DOM_BUCKETS];
	LIST_HEAD(, smsg)	 ids[ID_BUCKETS];	/* every smsg on `all` */
	unsigned		 nflight;
	size_t			 nmsgs;		/* on `all` */
	struct event		*ev_run;	/* coalesced pass */
	struct event		*ev_timer;
	time_t			 timer_at;	/* 0: not armed */
	bool			 started, stopping, serve_retry;
	bool			*scratch;	/* sched_try's skip flags */
	size_t			 scratchlen;
};

/* ---------------------------------------------------------------- pure */

unsigned
sched_backoff(unsigned attempts, unsigned min, unsigned max)
{
	unsigned long long v = min;
	unsigned i;

	if (min > max)
		max = min;
	for (i = 1; i < attempts && v < max; i++)
		v *= 2;
	return v > max ? max : (unsigned)v;
}

unsigned
sched_retry_wait(unsigned attempts, unsigned min, unsigned max,
    unsigned retry_after)
{
	unsigned wait = sched_backoff(attempts, min, max);

	/* the engine knows when a local condition clears (a DNSSEC
	 * self-check that has not confirmed validation yet) */
	return retry_after > 0 && retry_after < wait ? retry_after : wait;
}

const char *
sched_rcpt_domain(const char *addr, char *buf, size_t len)
{
	const char *at = strrchr(addr, '@');
	size_t i;

	at = at != NULL ? at + 1 : "";
	for (i = 0; at[i] != '\0' && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)at[i]);
	if (len > 0)
		buf[i] = '\0';
	/* a trailing dot names the same domain */
	if (i > 0 && buf[i - 1] == '.')
		buf[i - 1] = '\0';
	return buf;
}

bool
sched_rcpt_due(const struct queue_rcpt *r, time_t now)
{
	if (r->state != RCPT_PENDING && r->state != RCPT_DEFERRED)
		return false;
	return r->next_attempt <= now;
}

size_t
sched_group(const struct queue_rcpt *rcpts, size_t n, const bool *skip,
    time_t now, size_t *idx, char *domain, size_t domainlen)
{
	char	 d[DOMAIN_MAX];
	size_t	 i, k = 0;

	domain[0] = '\0';
	for (i = 0; i < n; i++) {
		if ((skip != NULL && skip[i]) || !sched_rcpt_due(&rcpts[i], now))
			continue;
		sched_rcpt_domain(rcpts[i].addr, d, sizeof(d));
		if (k == 0)
			str_copy(domain, d, domainlen);
		else if (strcmp(d, domain) != 0)
			continue;
		idx[k++] = i;
	}
	return k;
}

enum sched_start_verdict
sched_start_verdict(int e, time_t now, time_t expire)
{
	if (e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS)
		return SCHED_START_PAUSE;
	return now < expire ? SCHED_START_DEFER : SCHED_START_BOUNCE;
}

unsigned
sched_next_wait(unsigned cur, unsigned min, unsigned max)
{
	if (cur == 0)
		return min > max ? max : min;
	return cur > max / 2 ? max : cur * 2;
}

time_t
sched_clamp_next(time_t next, time_t expire, time_t now)
{
	return next > expire && expire > now ? expire : next;
}

/* ------------------------------------------------------------ helpers */

static const struct conf *
sched_conf(const struct scheduler *s)
{
	return s->rc->conf;
}

static void
sched_kick(struct scheduler *s)
{
	if (s->started && !s->stopping)
		event_active(s->ev_run, 0, 0);
}

/* Wake at second `at` (not before: due checks use whole seconds). */
static void
sched_arm(struct scheduler *s, time_t at, time_t now)
{
	struct timeval tv = { 0, 0 }, cur;

	(void)now;
	if (s->stopping || (s->timer_at != 0 && s->timer_at <= at))
		return;
	s->timer_at = at;
	gettimeofday(&cur, NULL);
	if (at > cur.tv_sec) {
		tv.tv_sec = at - cur.tv_sec - 1;
		tv.tv_usec = 1000000 - cur.tv_usec;
	}
	evtimer_add(s->ev_timer, &tv);
}

/* The first whole second at least secs from now. */
static time_t
sched_after(unsigned secs)
{
	struct timeval cur;

	gettimeofday(&cur, NULL);
	return cur.tv_sec + (time_t)secs + (cur.tv_usec > 0);
}

static void sdom_put(struct sdom *);
static void sched_run(evutil_socket_t, short, void *);

/* Off its list. Unblocking may free m->bd (sdom_put). */
static void
smsg_unlink(struct smsg *m)
{
	struct scheduler *s = m->s;
	struct sdom *d;

	switch (m->list) {
	case L_NEW:	TAILQ_REMOVE(&s->newq, m, link); s->nready--; break;
	case L_RETRY:	TAILQ_REMOVE(&s->retryq, m, link); s->nready--; break;
	case L_WAIT:	TAILQ_REMOVE(&s->waitq, m, link); break;
	case L_BLOCKED:
		d = m->bd;
		TAILQ_REMOVE(&d->blocked, m, link);
		m->bd = NULL;
		m->list = L_NONE;
		sdom_put(d);
		break;
	case L_NONE:	break;
	}
	m->list = L_NONE;
}

/*
 * m's first attempt started, or m left the ready lists without one: it no
 * longer counts as delivery falling behind (relay/flow.h).
 */
static void
smsg_flow_done(struct smsg *m)
{
	if (m->inflow) {
		m->inflow = false;
		if (m->s->flow != NULL)
			flow_started(m->s->flow);
	}
}

static void smsg_drop_traces(struct smsg *);
static void sched_keep_trace(struct smsg *, const struct dlv_outcome *);
static void sched_acct_local(struct smsg *, size_t, enum acct_type,
		    const char *, const char *);

static void
smsg_free(struct smsg *m)
{
	smsg_flow_done(m);
	smsg_unlink(m);
	if (m->ndirty > 0)
		TAILQ_REMOVE(&m->s->jq, m, jlink);
	TAILQ_REMOVE(&m->s->all, m, all);
	LIST_REMOVE(m, idlink);
	smsg_drop_traces(m);
	m->s->nmsgs--;
	queue_envelope_free(m->env);
	m->env = NULL;
	free(m->busy);
	free(m->dirty);
	if (m->njsync > 0)	/* sched_jsync_put() frees it */
		m->gone = true;
	else
		free(m);
}

static bool
smsg_all_final(const struct smsg *m)
{
	size_t i;

	for (i = 0; i < m->env->nrcpts; i++)
		if (m->env->rcpts[i].state == RCPT_PENDING ||
		    m->env->rcpts[i].state == RCPT_DEFERRED)
			return false;
	return true;
}

static void
smsg_remove(struct smsg *m)
{
	if (m->ndirty > 0)
		log_info(m->env->id, "%u recipient state%s never reached the "
		    "journal; the removal settles them", m->ndirty,
		    m->ndirty == 1 ? "" : "s");
	log_info(m->env->id, "Deleting mail file (all recipients done)");
	if (queue_msg_remove(m->s->queue, m->env->id) == -1)
		log_warn(m->env->id, "cannot remove the message");
	smsg_free(m);
}

/*
 * Put m on the list its recipients call for (at the tail), or remove it
 * when it is done. Only once started.
 */
static void
smsg_place_at(struct smsg *m, time_t now, bool head)
{
	struct scheduler	*s = m->s;
	struct queue_rcpt	*r;
	time_t			 next = 0, expire;
	bool			 due = false, fresh = true;
	size_t			 i;

	if (m->deleted) {		/* queue delete, waiting for its DSN */
		smsg_flow_done(m);
		smsg_unlink(m);
		return;
	}
	if (m->nbusy == 0 && smsg_all_final(m)) {
		smsg_remove(m);
		return;
	}
	smsg_unlink(m);
	if (m->env->held) {		/* queue hold: off every list */
		smsg_flow_done(m);
		return;
	}
	expire = m->env->arrival + (time_t)sched_conf(s)->max_queue_lifetime;
	for (i = 0; i < m->env->nrcpts; i++) {
		r = &m->env->rcpts[i];
		if (m->busy[i] || (r->state != RCPT_PENDING &&
		    r->state != RCPT_DEFERRED))
			continue;
		/* the last try comes when the lifetime ends (a shorter
		 * max_queue_lifetime since, a backoff from a start failure);
		 * after it, retries (of a DSN) keep their backoff */
		r->next_attempt = sched_clamp_next(r->next_attempt, expire,
		    now);
		if (r->next_attempt <= now) {
			due = true;
			if (r->attempts > 0 || r->state == RCPT_DEFERRED)
				fresh = false;
		} else if (next == 0 || r->next_attempt < next)
			next = r->next_attempt;
	}
	if (!due || !fresh)
		smsg_flow_done(m);
	if (due) {
		m->list = fresh ? L_NEW : L_RETRY;
		s->nready++;
		if (head)
			TAILQ_INSERT_HEAD(fresh ? &s->newq : &s->retryq, m,
			    link);
		else
			TAILQ_INSERT_TAIL(fresh ? &s->newq : &s->retryq, m,
			    link);
	} else if (next != 0) {
		m->list = L_WAIT;
		TAILQ_INSERT_TAIL(&s->waitq, m, link);
		sched_arm(s, next, now);
	}
}

static void
smsg_place(struct smsg *m, time_t now)
{
	smsg_place_at(m, now, false);
}

static unsigned
str_hash(const char *name)
{
	unsigned h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

static unsigned
dom_hash(const char *name)
{
	return str_hash(name) % DOM_BUCKETS;
}

static struct sdom *
sdom_get(struct scheduler *s, const char *name)
{
	struct sdom *d;
	unsigned h = dom_hash(name);

	LIST_FOREACH(d, &s->doms[h], link)
		if (strcmp(d->name, name) == 0)
			return d;
	d = xcalloc(1, sizeof(*d));
	d->s = s;
	TAILQ_INIT(&d->blocked);
	str_copy(d->name, name, sizeof(d->name));
	LIST_INSERT_HEAD(&s->doms[h], d, link);
	return d;
}

/* Free d once nothing is in flight or waiting for it. */
static void
sdom_put(struct sdom *d)
{
	if (d->nflight == 0 && TAILQ_EMPTY(&d->blocked)) {
		LIST_REMOVE(d, link);
		free(d);
	}
}

/* A slot of d came free: the first message waiting for it goes first. */
static void
sdom_release(struct sdom *d)
{
	struct smsg *m;

	d->nflight--;
	if ((m = TAILQ_FIRST(&d->blocked)) == NULL) {
		sdom_put(d);
		return;
	}
	smsg_unlink(m);			/* may free d */
	smsg_place_at(m, time(NULL), true);
}

static unsigned
at_least_one(unsigned v)
{
	return v == 0 ? 1 : v;
}

static void sched_journal_arm(struct scheduler *);

static void
rcpt_clean(struct smsg *m, size_t i)
{
	if (!m->dirty[i])
		return;
	m->dirty[i] = false;
	if (--m->ndirty == 0) {
		TAILQ_REMOVE(&m->s->jq, m, jlink);
		log_info(m->env->id, "recipient states written to the journal "
		    "(kept in memory meanwhile)");
	}
}

static void
rcpt_dirty(struct smsg *m, size_t i)
{
	if (m->dirty[i])
		return;
	m->dirty[i] = true;
	if (m->ndirty++ == 0)
		TAILQ_INSERT_TAIL(&m->s->jq, m, jlink);
	sched_journal_arm(m->s);
}

/* A journal sync holding m is over: true if m is gone (and maybe freed). */
static bool
sched_jsync_put(struct smsg *m)
{
	m->njsync--;
	if (!m->gone)
		return false;
	if (m->njsync == 0)
		free(m);
	return true;
}

/* After a failed journal sync: write every state of m again, with backoff. */
static void
sched_journal_unsynced(struct smsg *m, int error)
{
	struct scheduler *s = m->s;
	size_t i;

	errno = error;
	if (s->stopping) {
		log_limit_warn(&s->ll_journal, m->env->id, "recipient journal "
		    "records not durable at shutdown: the next start may "
		    "attempt some recipients again");
		return;
	}
	log_limit_warn(&s->ll_journal, m->env->id, "recipient journal records "
	    "not durable, kept in memory, will write them again");
	s->jwait = sched_next_wait(s->jwait, JOURNAL_RETRY_MIN,
	    JOURNAL_RETRY_MAX);
	for (i = 0; i < m->env->nrcpts; i++)
		if (m->env->rcpts[i].state != RCPT_PENDING ||
		    m->env->rcpts[i].attempts > 0)
			rcpt_dirty(m, i);
}

/*
 * A record's sync is over. Failed: its pages may be clean in the cache
 * yet lost on disk, and syncing again would not write them (queue/queue.c,
 * queue_journal_done): the records are written again. Worked with nothing
 * left to write: the journal works again.
 */
static void
sched_journal_synced(void *arg, int error)
{
	struct smsg *m = arg;
	struct scheduler *s = m->s;

	if (sched_jsync_put(m) || m->deleted)
		return;
	if (error != 0) {
		sched_journal_unsynced(m, error);
		return;
	}
	if (TAILQ_EMPTY(&s->jq) && s->jwait != 0) {
		s->jwait = 0;
		log_limit_end(&s->ll_journal, NULL, "recipient journal writes "
		    "work again");
	}
}

/* queue_rcpt_update() with sched_journal_synced() as its callback. */
static int
sched_rcpt_write(struct smsg *m, size_t i, enum queue_rcpt_state st,
    unsigned attempts, time_t next, const char *err)
{
	if (queue_rcpt_update(m->s->queue, m->env, i, st, attempts, next, err,
	    sched_journal_synced, m) == -1)
		return -1;
	m->njsync++;
	return 0;
}

/* A hold record being synced, and the operator's callback. */
struct shold {
	struct smsg	*m;
	void		(*cb)(void *, int);
	void		*arg;
};

static void
sched_hold_synced(void *arg, int error)
{
	struct shold *h = arg;
	struct smsg *m = h->m;

	if (h->cb != NULL)
		h->cb(h->arg, error);
	free(h);
	if (sched_jsync_put(m) || m->deleted || error == 0)
		return;
	/* the same as a recipient record: written again until durable */
	errno = error;
	if (m->s->stopping) {
		log_limit_warn(&m->s->ll_journal, m->env->id, "hold record "
		    "not durable at shutdown");
		return;
	}
	log_limit_warn(&m->s->ll_journal, m->env->id, "hold record not "
	    "durable, kept in memory, will write it again");
	m->s->jwait = sched_next_wait(m->s->jwait, JOURNAL_RETRY_MIN,
	    JOURNAL_RETRY_MAX);
	rcpt_dirty(m, m->env->nrcpts);
}

/* queue_msg_hold() with sched_hold_synced() as its callback. */
static int
sched_hold_write(struct smsg *m, bool hold, void (*cb)(void *, int),
    void *arg)
{
	struct shold *h = xcalloc(1, sizeof(*h));

	h->m = m;
	h->cb = cb;
	h->arg = arg;
	if (queue_msg_hold(m->s->queue, m->env, hold, sched_hold_synced,
	    h) == -1) {
		free(h);
		return -1;
	}
	m->njsync++;
	return 0;
}

/*
 * Record a recipient's state. last: this settles the message (every
 * recipient final, nothing else in flight), so it is removed right after
 * and the journal record, with its sync, is skipped: a crash before the
 * removal is durable repeats the delivery (at least once), as a crash
 * before the journal sync would. A record that cannot be written (full
 * spool, no descriptors) does not change what happens next: the state
 * holds in memory and the record is written again later.
 */
static void
rcpt_record(struct smsg *m, size_t i, enum queue_rcpt_state st,
    unsigned attempts, time_t next, const char *err, bool last)
{
	struct scheduler *s = m->s;
	int e;

	if (!last && sched_rcpt_write(m, i, st, attempts, next, err) == 0) {
		rcpt_clean(m, i);
		return;
	}
	e = errno;
	(void)queue_rcpt_set(m->env, i, st, attempts, next, err);
	if (last)
		return;
	errno = e;
	log_limit_warn(&s->ll_journal, m->env->id, "cannot record <%s> as %s "
	    "in the journal, kept in memory, will write it again",
	    log_esc(m->env->rcpts[i].addr), queue_rcpt_state_name(st));
	rcpt_dirty(m, i);
}

/* Write the records of dirty recipients again, oldest message first. */
static void
sched_journal_retry(evutil_socket_t fd, short ev, void *arg)
{
	struct scheduler	*s = arg;
	struct queue_rcpt	*r;
	struct smsg		*m, *next;
	size_t			 i;

	(void)fd;
	(void)ev;
	for (m = TAILQ_FIRST(&s->jq); m != NULL; m = next) {
		next = TAILQ_NEXT(m, jlink);
		for (i = 0; i <= m->env->nrcpts && m->ndirty > 0; i++) {
			if (!m->dirty[i])
				continue;
			if (i == m->env->nrcpts) {	/* the hold record */
				if (sched_hold_write(m, m->env->held, NULL,
				    NULL) == -1) {
					log_limit_warn(&s->ll_journal,
					    m->env->id, "cannot write the hold "
					    "record again");
					goto later;
				}
				rcpt_clean(m, i);
				continue;
			}
			r = &m->env->rcpts[i];
			if (sched_rcpt_write(m, i, r->state, r->attempts,
			    r->next_attempt, r->last_error) == -1) {
				/* still failing: back off, keep the order */
				log_limit_warn(&s->ll_journal, m->env->id,
				    "cannot record <%s> as %s in the journal, "
				    "kept in memory, will write it again",
				    log_esc(r->addr),
				    queue_rcpt_state_name(r->state));
				goto later;
			}
			rcpt_clean(m, i);	/* may take m off jq */
		}
	}
	/* written: sched_journal_synced() says when they are durable */
	return;
later:
	s->jwait = sched_next_wait(s->jwait, JOURNAL_RETRY_MIN,
	    JOURNAL_RETRY_MAX);
	sched_journal_arm(s);
}

static void
sched_journal_arm(struct scheduler *s)
{
	struct timeval tv = { 0, 0 };

	if (s->stopping || TAILQ_EMPTY(&s->jq) ||
	    evtimer_pending(s->ev_journal, NULL))
		return;
	if (s->jwait == 0)
		s->jwait = sched_next_wait(0, JOURNAL_RETRY_MIN,
		    JOURNAL_RETRY_MAX);
	tv.tv_sec = s->jwait;
	evtimer_add(s->ev_journal, &tv);
}

static void
rcpt_update(struct smsg *m, size_t i, enum queue_rcpt_state st,
    unsigned attempts, time_t next, const char *err)
{
	rcpt_record(m, i, st, attempts, next, err, false);
}

/* Are all recipients final but those flagged in except[]? */
static bool
smsg_final_except(const struct smsg *m, const bool *except)
{
	size_t i;

	for (i = 0; i < m->env->nrcpts; i++)
		if (!except[i] && (m->env->rcpts[i].state == RCPT_PENDING ||
		    m->env->rcpts[i].state == RCPT_DEFERRED))
			return false;
	return true;
}

/* ------------------------------------------------------------ bounces */

static void
sbounce_free(struct sbounce *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(b[i].diag);
		free(b[i].mx);
		free(b[i].note);
	}
	free(b);
}

static void sched_dsn_committed(struct queue_msg *, int, void *);

/*
 * An outcome's text as logged, recorded and quoted: a remote reply as it
 * came ("450 4.2.0 ..."), our own reason with its enhanced status code in
 * front ("4.4.1 connect to ...: Connection refused", README.md). The
 * engine already writes its reasons that way; a text that starts with no
 * digit gets the code here, never twice.
 */
static const char *
sched_reason(const struct dlv_outcome *o, char *buf, size_t len)
{
	if (isdigit((unsigned char)o->text[0]) || o->esc[0] == '\0')
		return o->text;
	snprintf(buf, len, "%s %s", o->esc, o->text);
	return buf;
}

/* The bounced recipients failed to get their DSN queued: retry later. */
static void
sched_bounce_defer(struct smsg *m, struct sbounce *b, size_t n, time_t now)
{
	const struct conf *c = sched_conf(m->s);
	size_t i;

	for (i = 0; i < n; i++)
		rcpt_update(m, b[i].idx, RCPT_DEFERRED, b[i].attempts,
		    sched_after(at_least_one(c->min_backoff)), b[i].diag);
}

/*
 * b[0..n) failed for good (taken over). With the null sender: no DSN,
 * just BOUNCED. Otherwise the DSN is committed first and the recipients
 * stay busy until then.
 */
static void
sched_bounce(struct smsg *m, struct sbounce *b, size_t n, time_t now,
    bool last)
{
	struct scheduler	*s = m->s;
	struct queue_envelope	*env = m->env;
	struct dsn_rcpt		*dr;
	struct dsn_info		 in;
	struct queue_msg	*qm;
	struct sdsn		*sd;
	char			*hdr;
	size_t			 i, hlen = 0;

	if (env->sender[0] == '\0') {
		for (i = 0; i < n; i++) {
			log_info(env->id, "<%s>: no bounce for a message with "
			    "the null sender",
			    log_esc(env->rcpts[b[i].idx].addr));
			rcpt_record(m, b[i].idx, RCPT_BOUNCED, b[i].attempts,
			    0, b[i].diag, last);
		}
		sbounce_free(b, n);
		return;
	}
	if ((hdr = dsn_read_headers(s->queue, env->id, DSN_HEADERS_MAX,
	    &hlen)) == NULL)
		log_warn(env->id, "cannot read the headers for the DSN");
	dr = xcalloc(n, sizeof(*dr));
	for (i = 0; i < n; i++) {
		dr[i].addr = env->rcpts[b[i].idx].addr;
		dr[i].status = b[i].status;
		dr[i].diag = b[i].diag;
		dr[i].remote_mta = b[i].mx;
		dr[i].note = b[i].note;
	}
	memset(&in, 0, sizeof(in));
	in.hostname = sched_conf(s)->hostname;
	in.queue_id = env->id;
	in.sender = env->sender;
	in.arrival = env->arrival;
	in.now = now;
	in.rcpts = dr;
	in.nrcpts = n;
	in.headers = hdr;
	in.headers_len = hlen;
	qm = dsn_queue(s->queue, &in);
	free(dr);
	free(hdr);
	if (qm == NULL) {
		log_warn(env->id, "cannot queue a DSN to <%s>, will retry",
		    log_esc(env->sender));
		sched_bounce_defer(m, b, n, now);
		sbounce_free(b, n);
		return;
	}
	log_info(env->id, "sender non-delivery notification: %s",
	    queue_msg_id(qm));
	sd = xcalloc(1, sizeof(*sd));
	sd->m = m;
	sd->b = b;
	sd->n = n;
	for (i = 0; i < n; i++)
		m->busy[b[i].idx] = true;
	m->nbusy++;
	queue_msg_commit(qm, sched_dsn_committed, sd);
}

static void
sched_dsn_committed(struct queue_msg *qm, int error, void *arg)
{
	struct sdsn		*sd = arg;
	struct smsg		*m = sd->m;
	struct scheduler	*s = m->s;
	time_t			 now = time(NULL);
	size_t			 i;

	for (i = 0; i < sd->n; i++)
		m->busy[sd->b[i].idx] = false;
	m->nbusy--;
	if (m->deleted) {
		sbounce_free(sd->b, sd->n);
		free(sd);
		if (m->nbusy == 0)
			smsg_free(m);
		return;
	}
	if (s->stopping) {
		/* the queue is closing: the recipients are recorded as they
		 * were; after a restart they bounce again (at least once) */
	} else if (error != 0) {
		log_warnx(m->env->id, "cannot queue a DSN to <%s>: %s, will "
		    "retry", log_esc(m->env->sender), strerror(error));
		sched_bounce_defer(m, sd->b, sd->n, now);
	} else {
		bool *mine = xcalloc(m->env->nrcpts, sizeof(*mine)), last;

		for (i = 0; i < sd->n; i++)
			mine[sd->b[i].idx] = true;
		last = m->nbusy == 0 && smsg_final_except(m, mine);
		free(mine);
		for (i = 0; i < sd->n; i++)
			rcpt_record(m, sd->b[i].idx, RCPT_BOUNCED,
			    sd->b[i].attempts, 0, sd->b[i].diag, last);
	}
	sbounce_free(sd->b, sd->n);
	free(sd);
	if (!s->stopping) {
		smsg_place(m, now);
		sched_kick(s);
	}
}

/* ------------------------------------------------------------ attempts */

static void
sattempt_free(struct sattempt *a)
{
	struct scheduler *s = a->m->s;
	size_t i;

	TAILQ_REMOVE(&s->attempts, a, link);
	for (i = 0; i < a->n; i++)
		a->m->busy[a->idx[i]] = false;
	a->m->nbusy--;
	s->nflight--;
	sdom_release(a->d);
	free(a->idx);
	free(a);
}

static void
fmt_duration(unsigned secs, char *buf, size_t len)
{
	if (secs % 86400 == 0 && secs > 0)
		snprintf(buf, len, "%ud", secs / 86400);
	else if (secs % 3600 == 0 && secs > 0)
		snprintf(buf, len, "%uh", secs / 3600);
	else if (secs % 60 == 0 && secs > 0)
		snprintf(buf, len, "%um", secs / 60);
	else
		snprintf(buf, len, "%us", secs);
}

static void
sched_done(struct delivery_attempt *da, const struct dlv_outcome *o,
    size_t n, void *arg)
{
	struct sattempt		*a = arg;
	struct smsg		*m = a->m;
	struct scheduler	*s = m->s;
	struct queue_envelope	*env = m->env;
	const struct conf	*c = sched_conf(s);
	struct sbounce		*b = NULL;
	struct queue_rcpt	*r;
	size_t			 nb = 0, i, j;
	time_t			 now = time(NULL), next, expire;
	unsigned		 att, wait;
	char			 safe[640], life[32], full[16 + 2 + 512];
	const char		*text;
	bool			*seen, last;

	(void)da;
	seen = xcalloc(env->nrcpts, sizeof(*seen));
	for (i = 0; i < n; i++)
		if (o[i].idx < env->nrcpts) {
			seen[o[i].idx] = true;
			sched_keep_trace(m, &o[i]);
		}
	expire = env->arrival + (time_t)c->max_queue_lifetime;
	/*
	 * Does this attempt settle the message with no DSN to commit? Then
	 * it is removed without journal records (see rcpt_record()).
	 */
	last = m->nbusy == 1 && smsg_final_except(m, seen);
	for (i = 0; i < n && last; i++) {
		if (o[i].status == DLV_OK)
			continue;
		if (o[i].status == DLV_TEMP && now < expire)
			last = false;
		else if (env->sender[0] != '\0')
			last = false;
	}
	fmt_duration(c->max_queue_lifetime, life, sizeof(life));

	for (i = 0; i < n; i++) {
		if (o[i].idx >= env->nrcpts)
			continue;
		r = &env->rcpts[o[i].idx];
		if (r->state != RCPT_PENDING && r->state != RCPT_DEFERRED)
			continue;
		text = sched_reason(&o[i], full, sizeof(full));
		log_safe(text, strlen(text), safe, sizeof(safe));
		att = r->attempts + 1;
		if (o[i].status == DLV_OK) {
			rcpt_record(m, o[i].idx, RCPT_DELIVERED, att, 0, NULL,
			    last);
			acct_outcome(ACCT_DELIVERED, env, &o[i], att, NULL, text);
			continue;
		}
		if (o[i].status == DLV_TEMP && now < expire) {
			wait = sched_retry_wait(att, at_least_one(c->min_backoff),
			    at_least_one(c->max_backoff), o[i].retry_after);
			next = sched_after(wait);
			/* the last try comes when the lifetime ends */
			if (next > expire) {
				next = expire;
				wait = (unsigned)(expire - now);
			}
			log_info(env->id, "Temporary failure for <%s> (retry %u):"
			    " %s; next attempt in %llds", log_esc(r->addr),
			    att, safe,
			    (long long)wait);
			rcpt_update(m, o[i].idx, RCPT_DEFERRED, att, next,
			    text);
			acct_outcome(ACCT_TRANSIENT, env, &o[i], att, NULL, text);
			continue;
		}
		b = xreallocarray(b, nb + 1, sizeof(*b));
		memset(&b[nb], 0, sizeof(b[nb]));
		b[nb].idx = o[i].idx;
		b[nb].attempts = att;
		b[nb].diag = xstrdup(text);
		b[nb].mx = o[i].mx[0] != '\0' ? xstrdup(o[i].mx) : NULL;
		if (o[i].status == DLV_PERM) {
			if (o[i].esc[0] == '5')
				str_copy(b[nb].status, o[i].esc,
				    sizeof(b[nb].status));
			else
				str_copy(b[nb].status, "5.0.0",
				    sizeof(b[nb].status));
			log_info(env->id, "Permanent failure for <%s>: %s",
			    log_esc(r->addr), safe);
		} else {
			str_copy(b[nb].status, "5.4.7", sizeof(b[nb].status));
			b[nb].note = xmalloc(64);
			snprintf(b[nb].note, 64, "expired after %s", life);
			log_info(env->id, "Permanent failure for <%s>: %s "
			    "(expired after %s)", log_esc(r->addr), safe, life);
		}
		acct_outcome(ACCT_BOUNCED, env, &o[i], att, b[nb].status, text);
		nb++;
	}
	/* an engine that forgot a recipient: never spin on it */
	for (j = 0; j < a->n; j++) {
		r = &env->rcpts[a->idx[j]];
		if (seen[a->idx[j]] || (r->state != RCPT_PENDING &&
		    r->state != RCPT_DEFERRED))
			continue;
		log_warnx(env->id, "no outcome for <%s>, deferred",
		    log_esc(r->addr));
		rcpt_update(m, a->idx[j], RCPT_DEFERRED, r->attempts,
		    sched_after(at_least_one(c->min_backoff)),
		    "4.3.0 no delivery outcome");
	}
	free(seen);
	sattempt_free(a);	/* busy again only while a DSN is committed */
	if (nb > 0)
		sched_bounce(m, b, nb, now, last);
	smsg_place(m, now);
	sched_kick(s);
}

static void
sched_resume(evutil_socket_t fd, short ev, void *arg)
{
	struct scheduler *s = arg;

	(void)fd;
	(void)ev;
	s->starved = false;
	sched_run(-1, 0, s);
}

/* Pause every start: 1s, doubling to STARVE_MAX while it keeps failing. */
static void
sched_starve(struct scheduler *s, const char *qid, const char *domain, int e)
{
	struct timeval tv = { 0, 0 };

	s->starve_wait = sched_next_wait(s->starve_wait, 1, STARVE_MAX);
	s->starved = true;
	tv.tv_sec = s->starve_wait;
	evtimer_add(s->ev_resume, &tv);
	errno = e;
	log_limit_warn(&s->ll_starve, qid, "cannot start a delivery to %s, "
	    "pausing deliveries for %us", log_esc(domain), s->starve_wait);
}

/*
 * delivery_start() failed for m's recipients idx[0..n) for a reason of
 * this message (its content cannot be opened or read): defer them with
 * backoff, or once the lifetime is over bounce them without an attempt.
 */
static void
sched_start_failed(struct smsg *m, const size_t *idx, size_t n,
    const char *domain, int e, time_t now)
{
	const struct conf	*c = sched_conf(m->s);
	struct queue_envelope	*env = m->env;
	struct sbounce		*b;
	char			 reason[256], life[32];
	time_t			 expire, next;
	unsigned		 wait;
	size_t			 i;

	snprintf(reason, sizeof(reason), "4.3.0 cannot start a delivery: %s",
	    strerror(e));
	expire = env->arrival + (time_t)c->max_queue_lifetime;
	if (sched_start_verdict(e, now, expire) == SCHED_START_DEFER) {
		m->nstartfail++;
		wait = sched_backoff(m->nstartfail, at_least_one(c->min_backoff),
		    at_least_one(c->max_backoff));
		next = sched_after(wait);
		if (next > expire) {
			next = expire;
			wait = (unsigned)(expire - now);
		}
		log_warnx(env->id, "cannot start a delivery to %s: %s; deferred, "
		    "next attempt in %us", log_esc(domain), strerror(e), wait);
		for (i = 0; i < n; i++) {
			rcpt_update(m, idx[i], RCPT_DEFERRED,
			    env->rcpts[idx[i]].attempts, next, reason);
			sched_acct_local(m, idx[i], ACCT_TRANSIENT, "4.3.0",
			    reason);
		}
		return;
	}
	fmt_duration(c->max_queue_lifetime, life, sizeof(life));
	b = xcalloc(n, sizeof(*b));
	for (i = 0; i < n; i++) {
		log_info(env->id, "Permanent failure for <%s>: %s (expired "
		    "after %s)", log_esc(env->rcpts[idx[i]].addr), reason, life);
		b[i].idx = idx[i];
		b[i].attempts = env->rcpts[idx[i]].attempts;
		b[i].diag = xstrdup(reason);
		str_copy(b[i].status, "5.4.7", sizeof(b[i].status));
		b[i].note = xmalloc(64);
		snprintf(b[i].note, 64, "expired after %s", life);
		sched_acct_local(m, idx[i], ACCT_BOUNCED, "5.4.7", reason);
	}
	sched_bounce(m, b, n, now, false);
}

/*
 * Start what m can start now: one attempt per due domain, within the
 * limits. Returns true if m still has due recipients not started.
 */
static bool
sched_try(struct scheduler *s, struct smsg *m, time_t now)
{
	const struct conf	*c = sched_conf(s);
	struct queue_envelope	*env = m->env;
	struct sattempt		*a;
	struct sdom		*d;
	char			 domain[DOMAIN_MAX];
	size_t			*idx, k, i;
	bool			 left = false;

	if (s->scratchlen < env->nrcpts) {
		s->scratch = xreallocarray(s->scratch, env->nrcpts, sizeof(bool));
		s->scratchlen = env->nrcpts;
	}
	memcpy(s->scratch, m->busy, env->nrcpts * sizeof(bool));
	idx = xcalloc(env->nrcpts, sizeof(*idx));
	for (;;) {
		k = sched_group(env->rcpts, env->nrcpts, s->scratch, now, idx,
		    domain, sizeof(domain));
		if (k == 0)
			break;
		for (i = 0; i < k; i++)
			s->scratch[idx[i]] = true;
		if (s->nflight >= at_least_one(c->max_connections)) {
			left = true;
			break;
		}
		d = sdom_get(s, domain);
		if (d->nflight >= at_least_one(c->max_connections_per_domain)) {
			if (m->onedom) {
				/* nothing else to start: wait for a slot */
				smsg_unlink(m);
				m->list = L_BLOCKED;
				m->bd = d;
				TAILQ_INSERT_TAIL(&d->blocked, m, link);
				free(idx);
				return true;
			}
			left = true;
			sdom_put(d);
			continue;
		}
		a = xcalloc(1, sizeof(*a));
		a->m = m;
		a->d = d;
		a->idx = xreallocarray(NULL, k, sizeof(*a->idx));
		memcpy(a->idx, idx, k * sizeof(*idx));
		a->n = k;
		a->da = delivery_start(s->dlv, env, domain, a->idx, k,
		    sched_done, a);
		if (a->da == NULL) {
			int e = errno;

			free(a->idx);
			free(a);
			sdom_put(d);
			if (sched_start_verdict(e, now, 0) ==
			    SCHED_START_PAUSE) {
				/* nobody can start now: pause, m stays put */
				sched_starve(s, env->id, domain, e);
				left = true;
				break;
			}
			sched_start_failed(m, idx, k, domain, e, now);
			continue;
		}
		m->nstartfail = 0;
		smsg_flow_done(m);
		if (s->starve_wait != 0) {
			s->starve_wait = 0;
			log_limit_end(&s->ll_starve, NULL, "deliveries start "
			    "again");
		}
		for (i = 0; i < k; i++)
			m->busy[idx[i]] = true;
		m->nbusy++;
		d->nflight++;
		s->nflight++;
		TAILQ_INSERT_TAIL(&s->attempts, a, link);
		log_debug(env->id, "attempt to %s: %zu recipient%s, %u in flight "
		    "there, %u in all", log_esc(domain), k, k == 1 ? "" : "s",
		    d->nflight, s->nflight);
	}
	free(idx);
	return left;
}

static void
sched_run(evutil_socket_t fd, short ev, void *arg)
{
	struct scheduler	*s = arg;
	const struct conf	*c = sched_conf(s);
	struct smsg		*cn, *cr, *m;
	time_t			 now = time(NULL);
	unsigned		 budget;

	(void)fd;
	(void)ev;
	if (!s->started || s->stopping || s->starved)
		return;
	/* at most the messages ready now: never one placed back meanwhile */
	budget = s->nready;
	cn = TAILQ_FIRST(&s->newq);
	cr = TAILQ_FIRST(&s->retryq);
	while (s->nflight < at_least_one(c->max_connections) && !s->starved &&
	    (cn != NULL || cr != NULL)) {
		if (budget-- == 0) {
			/* more than were ready: come back in a second */
			sched_arm(s, now + 1, now);
			break;
		}
		if (cr != NULL && (s->serve_retry || cn == NULL)) {
			m = cr;
			cr = TAILQ_NEXT(cr, link);
		} else {
			m = cn;
			cn = TAILQ_NEXT(cn, link);
		}
		s->serve_retry = !s->serve_retry;
		if (!sched_try(s, m, now))
			smsg_place(m, now);	/* to waitq or off the lists */
	}
}

static void
sched_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct scheduler	*s = arg;
	struct smsg_head	 tmp;
	struct smsg		*m;
	time_t			 now = time(NULL);

	(void)fd;
	(void)ev;
	s->timer_at = 0;
	TAILQ_INIT(&tmp);
	TAILQ_CONCAT(&tmp, &s->waitq, link);
	while ((m = TAILQ_FIRST(&tmp)) != NULL) {
		TAILQ_REMOVE(&tmp, m, link);
		m->list = L_NONE;
		smsg_place(m, now);
	}
	sched_run(-1, 0, s);
}

/* ------------------------------------------------------------ interface */

struct scheduler *
scheduler_new(struct event_base *base, struct relay_conf *rc)
{
	struct scheduler *s;

	s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->rc = relay_conf_ref(rc);
	TAILQ_INIT(&s->all);
	TAILQ_INIT(&s->newq);
	TAILQ_INIT(&s->retryq);
	TAILQ_INIT(&s->waitq);
	TAILQ_INIT(&s->jq);
	TAILQ_INIT(&s->attempts);
	for (size_t i = 0; i < DOM_BUCKETS; i++)
		LIST_INIT(&s->doms[i]);
	for (size_t i = 0; i < ID_BUCKETS; i++)
		LIST_INIT(&s->ids[i]);
	if ((s->ev_run = event_new(base, -1, 0, sched_run, s)) == NULL ||
	    (s->ev_timer = evtimer_new(base, sched_timer, s)) == NULL ||
	    (s->ev_journal = evtimer_new(base, sched_journal_retry, s)) == NULL ||
	    (s->ev_resume = evtimer_new(base, sched_resume, s)) == NULL)
		fatalx("scheduler: cannot create events");
	return s;
}

void
scheduler_start(struct scheduler *s, struct queue *q, struct delivery *dlv)
{
	struct smsg *m, *next;
	time_t now = time(NULL);

	s->queue = q;
	s->dlv = dlv;
	s->started = true;
	for (m = TAILQ_FIRST(&s->all); m != NULL; m = next) {
		next = TAILQ_NEXT(m, all);
		smsg_place(m, now);
	}
	sched_kick(s);
}

void
scheduler_set_flow(struct scheduler *s, struct flow *flow)
{
	s->flow = flow;
}

void
scheduler_add(struct scheduler *s, struct queue_envelope *env)
{
	scheduler_add_arrival(s, env, false);
}

void
scheduler_add_arrival(struct scheduler *s, struct queue_envelope *env,
    bool counted)
{
	struct smsg *m;

	m = xcalloc(1, sizeof(*m));
	m->s = s;
	m->env = env;
	m->busy = xcalloc(env->nrcpts ? env->nrcpts : 1, sizeof(bool));
	m->dirty = xcalloc(env->nrcpts + 1, sizeof(bool));
	m->list = L_NONE;
	m->onedom = true;
	m->inflow = counted;
	if (env->nrcpts > 1) {
		char d0[DOMAIN_MAX], di[DOMAIN_MAX];
		size_t i;

		sched_rcpt_domain(env->rcpts[0].addr, d0, sizeof(d0));
		for (i = 1; i < env->nrcpts && m->onedom; i++)
			if (strcmp(sched_rcpt_domain(env->rcpts[i].addr, di,
			    sizeof(di)), d0) != 0)
				m->onedom = false;
	}
	TAILQ_INSERT_TAIL(&s->all, m, all);
	LIST_INSERT_HEAD(&s->ids[str_hash(env->id) % ID_BUCKETS], m, idlink);
	s->nmsgs++;
	if (s->started && !s->stopping) {
		smsg_place(m, time(NULL));
		sched_kick(s);
	}
}

void
scheduler_set_conf(struct scheduler *s, struct relay_conf *rc)
{
	struct relay_conf *old = s->rc;

	/* the engine borrows rc->conf: hand the new one over first */
	s->rc = relay_conf_ref(rc);
	if (s->dlv != NULL)
		delivery_set_conf(s->dlv, rc->conf);
	relay_conf_unref(old);
	sched_kick(s);		/* the limits may have grown */
}

void
scheduler_flush(struct scheduler *s)
{
	struct smsg	*m;
	size_t		 i, n = 0;

	if (!s->started || s->stopping)
		return;
	TAILQ_FOREACH(m, &s->all, all)
		for (i = 0; i < m->env->nrcpts; i++)
			if (m->env->rcpts[i].state == RCPT_DEFERRED &&
			    !m->busy[i] && m->env->rcpts[i].next_attempt != 0) {
				m->env->rcpts[i].next_attempt = 0;
				n++;
			}
	log_info(NULL, "queue flush: %zu deferred recipient%s due now", n,
	    n == 1 ? "" : "s");
	evtimer_del(s->ev_timer);
	sched_timer(-1, 0, s);
}

void
scheduler_stop(struct scheduler *s)
{
	struct sattempt *a;

	if (s->stopping)
		return;
	/* a last chance for records kept in memory only */
	if (!TAILQ_EMPTY(&s->jq) && s->queue != NULL) {
		evtimer_del(s->ev_journal);
		sched_journal_retry(-1, 0, s);
	}
	s->stopping = true;
	evtimer_del(s->ev_timer);
	evtimer_del(s->ev_journal);
	evtimer_del(s->ev_resume);
	event_del(s->ev_run);
	while ((a = TAILQ_FIRST(&s->attempts)) != NULL) {
		delivery_cancel(a->da);
		sattempt_free(a);
	}
}

void
scheduler_free(struct scheduler *s)
{
	struct smsg *m;

	if (s == NULL)
		return;
	scheduler_stop(s);
	while ((m = TAILQ_FIRST(&s->all)) != NULL)
		smsg_free(m);
	event_free(s->ev_run);
	event_free(s->ev_timer);
	event_free(s->ev_journal);
	event_free(s->ev_resume);
	relay_conf_unref(s->rc);
	free(s->scratch);
	free(s);
}

void
scheduler_counts(const struct scheduler *s, size_t *msgs, unsigned *inflight)
{
	*msgs = s->nmsgs;
	*inflight = s->nflight;
}

/* ------------------------------------------------- queue tool (control) */

/* An accounting record for an outcome decided here, with no attempt. */
static void
sched_acct_local(struct smsg *m, size_t i, enum acct_type type,
    const char *esc, const char *text)
{
	struct dlv_outcome o;

	memset(&o, 0, sizeof(o));
	o.idx = i;
	o.status = type == ACCT_TRANSIENT ? DLV_TEMP : DLV_PERM;
	str_copy(o.esc, esc, sizeof(o.esc));
	str_copy(o.text, text, sizeof(o.text));
	acct_outcome(type, m->env, &o, m->env->rcpts[i].attempts, NULL, text);
}

/* Keep a deferred recipient's trace (queue explain); drop it otherwise. */
static void
sched_keep_trace(struct smsg *m, const struct dlv_outcome *o)
{
	struct sched_last *l;

	if (m->last == NULL && (o->status != DLV_TEMP || o->trace == NULL))
		return;
	if (m->last == NULL)
		m->last = xcalloc(m->env->nrcpts, sizeof(*m->last));
	l = &m->last[o->idx];
	dlv_trace_unref(l->trace);
	memset(l, 0, sizeof(*l));
	if (o->status != DLV_TEMP)
		return;
	l->trace = dlv_trace_ref(o->trace);
	l->host = dlv_trace_find(o->trace, o->mx, o->rpt);
	l->rpt = (int)o->rpt;
}

static void
smsg_drop_traces(struct smsg *m)
{
	size_t i;

	if (m->last == NULL)
		return;
	for (i = 0; i < m->env->nrcpts; i++)
		dlv_trace_unref(m->last[i].trace);
	free(m->last);
	m->last = NULL;
}

/* By id, through the hash: a `hold @DOMAIN` of many thousand messages
 * looks each one up again, never walking the queue per message. */
static struct smsg *
sched_find(struct scheduler *s, const char *id)
{
	struct smsg *m;

	LIST_FOREACH(m, &s->ids[str_hash(id) % ID_BUCKETS], idlink)
		if (!m->deleted && strcmp(m->env->id, id) == 0)
			return m;
	return NULL;
}

static void
sched_view_one(struct smsg *m, sched_walk_cb *cb, void *arg)
{
	struct sched_view v;

	memset(&v, 0, sizeof(v));
	v.env = m->env;
	v.busy = m->busy;
	v.last = m->last;
	cb(&v, arg);
}

void
scheduler_walk(struct scheduler *s, const char *id, sched_walk_cb *cb,
    void *arg)
{
	struct smsg *m;

	if (id != NULL) {
		if ((m = sched_find(s, id)) != NULL)
			sched_view_one(m, cb, arg);
		return;
	}
	TAILQ_FOREACH(m, &s->all, all)
		if (!m->deleted)
			sched_view_one(m, cb, arg);
}

/* Is it shutting down (SIGTERM)? The queue tool starts no more changes. */
bool
scheduler_stopping(const struct scheduler *s)
{
	return s->stopping;
}

size_t
scheduler_flush_some(struct scheduler *s, const char *id, const char *domain)
{
	struct smsg	*m;
	char		 d[DOMAIN_MAX];
	size_t		 i, n = 0;

	if (!s->started || s->stopping)
		return 0;
	TAILQ_FOREACH(m, &s->all, all) {
		if (m->deleted || (id != NULL && strcmp(m->env->id, id) != 0))
			continue;
		for (i = 0; i < m->env->nrcpts; i++) {
			if (m->env->rcpts[i].state != RCPT_DEFERRED ||
			    m->busy[i] || m->env->rcpts[i].next_attempt == 0)
				continue;
			if (domain != NULL && strcmp(sched_rcpt_domain(
			    m->env->rcpts[i].addr, d, sizeof(d)), domain) != 0)
				continue;
			m->env->rcpts[i].next_attempt = 0;
			n++;
		}
	}
	evtimer_del(s->ev_timer);
	sched_timer(-1, 0, s);
	return n;
}

int
scheduler_hold(struct scheduler *s, const char *id, bool hold,
    void (*cb)(void *, int), void *arg)
{
	struct smsg *m;

	if ((m = sched_find(s, id)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (m->env->held == hold)
		return 0;
	if (sched_hold_write(m, hold, cb, arg) == -1)
		return -1;
	/* a hold record being written again is for the other state now */
	if (m->dirty[m->env->nrcpts])
		rcpt_clean(m, m->env->nrcpts);
	/* an attempt in flight ends normally; placing then parks it */
	if (s->started && !s->stopping) {
		smsg_place(m, time(NULL));
		sched_kick(s);
	}
	return 1;
}

int
scheduler_delete(struct scheduler *s, const char *id,
    void (*cb)(void *, int), void *arg)
{
	struct sattempt *a, *next;
	struct smsg *m;

	if ((m = sched_find(s, id)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (queue_msg_remove_cb(s->queue, m->env->id, cb, arg) == -1)
		return -1;
	m->deleted = true;
	/* records waiting to be written again: the message is gone */
	if (m->ndirty > 0) {
		TAILQ_REMOVE(&s->jq, m, jlink);
		memset(m->dirty, 0, (m->env->nrcpts + 1) * sizeof(*m->dirty));
		m->ndirty = 0;
	}
	/* attempts in flight stop here: the message is gone */
	for (a = TAILQ_FIRST(&s->attempts); a != NULL; a = next) {
		next = TAILQ_NEXT(a, link);
		if (a->m != m)
			continue;
		delivery_cancel(a->da);
		sattempt_free(a);
	}
	smsg_unlink(m);
	if (m->nbusy == 0)		/* else a DSN commit still holds it */
		smsg_free(m);
	sched_kick(s);
	return 0;
}
