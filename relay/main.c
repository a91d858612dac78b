/*
 * relay/main.c - command line, configuration, signals and the event loop.
 *
 *	danerelay -c FILE		run the relay in the foreground
 *	danerelay -c FILE -t		check the configuration and exit
 *	danerelay -c FILE resolve DOMAIN	show what delivery would see
 *	danerelay -c FILE queue ...	the queue tool
 *	danerelay tlsa ... CERT.pem	TLSA records for your own server
 *	danerelay -V			version, and the library versions in use
 *
 * Exit status: 0 on a clean stop, 1 on a runtime failure, 2 on a bad
 * configuration or command line (systemd: RestartPreventExitStatus=2). A
 * resolver that cannot start (missing or anchor-less trust_anchor_file,
 * bad resolver_config) is a configuration error: 2. It is needed under
 * every tls_policy, for the MX lookups.
 *
 * Started as root it binds, opens its log, reads keys and resolver files,
 * then drops to `user` for good before the spool is opened and before
 * any thread starts (relay/privsep.h); a SIGHUP then reloads as that user.
 *
 * Two event loops on two threads: inbound on main, delivery on its own
 * (see "Two event loops" below, and relay/handoff.h for how they talk).
 * Signals come through libevent on the inbound loop (no async-signal-unsafe
 * work in handlers) and reach the delivery loop by handoff.
 * SIGTERM/SIGINT: close the listeners, let sessions end their transaction
 * (bounded by STOP_GRACE_SECS, then abort them), let the queue finish its
 * pending syncs, exit 0; attempts in flight are cancelled (their
 * recipients stay as queued). SIGHUP: load the file again; only a
 * configuration without errors replaces the current one, for new sessions
 * and attempts started from then on. SIGUSR1: every deferred recipient is
 * due now (queue flush). A service manager (systemd Type=notify) hears of
 * readiness, reloads and the stop through relay/notify.c.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "conf/conf.h"
#include "relay/acct.h"
#include "relay/cmd_check.h"
#include "relay/cmd_resolve.h"
#include "relay/cmd_tlsa.h"
#include "relay/control.h"
#include "relay/queue_ctl.h"
#include "queue/queue.h"
#include "relay/delivery.h"
#include "relay/fdlimit.h"
#include "relay/flow.h"
#include "relay/handoff.h"
#include "relay/listener.h"
#include "relay/evio.h"
#include "relay/log.h"
#include "relay/notify.h"
#include "relay/privsep.h"
#include "relay/relay.h"
#include "relay/scheduler.h"
#include "relay/smtp_session.h"
#include "relay/version.h"
#include "resolver/resolver.h"
#include "tls/tls_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#define DEFAULT_CONF	"/etc/danerelay/danerelay.conf"
#define STOP_GRACE_SECS	5	/* in-flight transactions may finish meanwhile */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: danerelay [-d] [-c FILE] [-t]\n"
	    "       danerelay -V\n"
	    "       danerelay [-c FILE] resolve DOMAIN\n"
	    "       danerelay [-c FILE] check DOMAIN [--json] [--at +30d] [--ns]\n"
	    "       danerelay [-c FILE] queue list|shape|flush [ID|@DOMAIN]|explain ID [--json]\n"
	    "       danerelay [-c FILE] queue delete|hold|release ID...|@DOMAIN\n"
	    "       danerelay [-c FILE] reload|reopen\n"
	    "       danerelay tlsa [--usage 3|2] [--selector 1|0] [--mtype 1|2|0] [--host NAME]\n"
	    "                      [--port 25] [--ttl N] CERT.pem [NEXT.pem | --next-key KEY.pem]\n");
	exit(2);
}

static void
print_conf_error(void *arg, const char *msg)
{
	int *n = arg;

	fprintf(stderr, "%s\n", msg);
	(*n)++;
}

static struct conf *
load_or_exit(const char *path)
{
	struct conf *conf;
	int nerr = 0;

	conf = conf_load(path, print_conf_error, &nerr);
	if (conf == NULL) {
		fprintf(stderr, "danerelay: %s: %d error%s, not starting\n",
		    path, nerr, nerr == 1 ? "" : "s");
		exit(2);
	}
	return conf;
}

/*
 * Two event loops, each on its own thread (the two cores of a small
 * machine: one takes mail in, the other delivers it):
 *
 *   inbound loop, main thread (relay.base): the listener, the inbound
 *	sessions and their commits (the spool handle relay.queue), the
 *	current configuration for new sessions (relay.rc), the signals.
 *   delivery loop, its own thread (dbase): the scheduler and every queued
 *	envelope, delivery with the outbound client, TLS client context and
 *	resolver (libunbound), bounce messages (the spool handle dq),
 *	accounting (relay/acct.c), the control socket and the queue tool,
 *	its current configuration (drc).
 *
 * Ownership: what the delivery loop owns is created by main before that
 * thread starts and freed by main after it was joined (pthread_create and
 * pthread_join order every access; libevent, libunbound and OpenSSL tie
 * none of these objects to the thread that made them); in between only
 * the delivery thread touches it. The loops talk by message passing only
 * (relay/handoff.h): to_dlv carries committed messages, SIGTERM, SIGUSR1
 * and, as a synchronous call, the delivery side of a SIGHUP, a SIGUSR2
 * and the final stop; to_in carries the queue tool's `reload` back. The
 * only other shared data: the scheduler's counts for the service
 * manager's STATUS= (atomics below), relay_conf references (atomic), the
 * spool's id generator and spare files (queue/queue.h), the log
 * (relay/log.c).
 */
struct daemon {
	struct relay	 relay;		/* first: the ready seam casts back */

	/* The delivery loop's thread. */
	struct event_base *dbase;
	pthread_t	 dthread;
	bool		 dthread_started;
	struct scheduler *sched;
	struct resolver	*resolver;
	struct tls_client *tlsc;
	struct delivery	*dlv;
	struct queue	*dq;		/* its spool handle (queue_attach) */
	struct relay_conf *drc;		/* its current configuration */
	struct control	*control;	/* SPOOL/control: the queue tool */
	struct queue_ctl qctl;
	struct event	*ev_counts;	/* publishes nmsgs/ninflight */

	/* The inbound (main) thread. */
	struct event	*ev_term, *ev_int, *ev_hup, *ev_usr1, *ev_usr2;
	struct event	*ev_grace;

	/* Between the two. */
	struct handoff	*to_dlv;	/* inbound -> delivery */
	struct handoff	*to_in;		/* delivery -> inbound */
	atomic_size_t	 nmsgs;		/* scheduler_counts(), for STATUS= */
	atomic_uint	 ninflight;
};

#define COUNTS_SECS	1	/* how often the delivery loop publishes them */

/* Delivery loop: a committed message from the inbound loop. */
static void
dlv_take(void *a, void *b)
{
	struct daemon *d = a;

	scheduler_add_arrival(d->sched, b, true);
}

/* Inbound loop: delivery made room for waiting transactions. */
static void
in_flow_wake(void *a, void *b)
{
	struct daemon *d = a;

	flow_wake(d->relay.flow);
}

/* Delivery loop (flow_started()): wake the inbound loop's waiters. */
static void
dlv_flow_post_wake(void *arg)
{
	struct daemon *d = arg;

	handoff_post(d->to_in, in_flow_wake, d, NULL);
}

/* The seam for delivery: every committed or recovered message lands here
 * (on the inbound loop; before the delivery thread runs, directly). */
static void
relay_ready_sched(struct relay *r, struct queue_envelope *env)
{
	struct daemon *d = (struct daemon *)r;

	if (d->dthread_started) {
		flow_arrived(r->flow);
		handoff_post(d->to_dlv, dlv_take, d, env);
	} else
		scheduler_add(d->sched, env);
}

static void
relay_queue_ready(struct queue_envelope *env, void *arg)
{
	struct relay *r = arg;

	r->ready(r, env);
}

/* The delivery loop's own commits (bounce messages): already at home. */
static void
dlv_queue_ready(struct queue_envelope *env, void *arg)
{
	struct daemon *d = arg;

	scheduler_add(d->sched, env);
}

static void
dlv_publish_counts(struct daemon *d)
{
	size_t msgs;
	unsigned inflight;

	scheduler_counts(d->sched, &msgs, &inflight);
	atomic_store_explicit(&d->nmsgs, msgs, memory_order_relaxed);
	atomic_store_explicit(&d->ninflight, inflight, memory_order_relaxed);
}

static void
dlv_counts_cb(evutil_socket_t fd, short ev, void *arg)
{
	dlv_publish_counts(arg);
}

static void
dlv_flush(void *a, void *b)
{
	scheduler_flush(((struct daemon *)a)->sched);
}

static void
daemon_flush(evutil_socket_t sig, short ev, void *arg)
{
	struct daemon *d = arg;

	if (!d->relay.stopping)
		handoff_post(d->to_dlv, dlv_flush, d, NULL);
}

/* Delivery loop, on SIGTERM: start nothing more, cancel attempts. */
static void
dlv_stop(void *a, void *b)
{
	scheduler_stop(((struct daemon *)a)->sched);
}

/* Delivery loop, at the very end: leave the loop (main joins the thread). */
static void
dlv_exit(void *a, void *b)
{
	struct daemon *d = a;

	scheduler_stop(d->sched);
	event_base_loopexit(d->dbase, NULL);
}

static void *
dlv_thread(void *arg)
{
	struct daemon *d = arg;

	(void)log_buffer_start(d->dbase);	/* this loop's own buffer */
	if (event_base_loop(d->dbase, EVLOOP_NO_EXIT_ON_EMPTY) == -1)
		log_warnx(NULL, "delivery event loop failed");
	/* main's calls must not wait for a loop that no longer runs */
	handoff_receiver_gone(d->to_dlv);
	log_buffer_stop();
	return NULL;
}

/* Start the delivery loop's thread; it takes no signals (main does). */
static int
dlv_thread_start(struct daemon *d, char *err, size_t errlen)
{
	sigset_t all, old;
	int e;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	d->dthread_started = true;
	if ((e = pthread_create(&d->dthread, NULL, dlv_thread, d)) != 0) {
		d->dthread_started = false;
		snprintf(err, errlen, "delivery thread: %s", strerror(e));
	} else
		(void)pthread_setname_np(d->dthread, "dlv-loop");	/* ps, perf */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return e == 0 ? 0 : -1;
}

/*
 * At exit, what the spool's group commit did (queue/commit.c): how many
 * operations each side's workers ran, in how many batches, with how many
 * file and msg/ directory syncs. Both loops are quiet by now.
 */
static void
daemon_log_spool_stats(struct daemon *d)
{
	struct queue_stats in, dl;

	queue_get_stats(d->relay.queue, &in);
	queue_get_stats(d->dq, &dl);
	log_info(NULL, "spool: inbound %llu operations in %llu batches "
	    "(%llu file syncs, %llu directory syncs); delivery %llu operations "
	    "in %llu batches (%llu file syncs, %llu directory syncs)",
	    (unsigned long long)in.jobs, (unsigned long long)in.batches,
	    (unsigned long long)in.files, (unsigned long long)in.dirs,
	    (unsigned long long)dl.jobs, (unsigned long long)dl.batches,
	    (unsigned long long)dl.files, (unsigned long long)dl.dirs);
}

/* Main: have the delivery loop stop and wait for its thread. */
static void
dlv_thread_join(struct daemon *d)
{
	if (!d->dthread_started)
		return;
	handoff_call(d->to_dlv, dlv_exit, d, NULL);
	pthread_join(d->dthread, NULL);
	d->dthread_started = false;
}

static void
relay_sessions_gone(struct relay *r)
{
	event_base_loopexit(r->base, NULL);
}

static void
daemon_grace_over(evutil_socket_t fd, short ev, void *arg)
{
	struct daemon *d = arg;

	log_info(NULL, "stopping: aborting %u session%s still open",
	    d->relay.nsessions, d->relay.nsessions == 1 ? "" : "s");
	smtp_session_abort_all(&d->relay);
	event_base_loopexit(d->relay.base, NULL);
}

static void
daemon_stop(evutil_socket_t sig, short ev, void *arg)
{
	struct daemon *d = arg;
	struct relay *r = &d->relay;
	struct timeval grace = { STOP_GRACE_SECS, 0 };

	if (r->stopping)
		return;
	r->stopping = true;
	notify_stopping();
	log_info(NULL, "stopping on %s: no new connections, %u session%s open",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT", r->nsessions,
	    r->nsessions == 1 ? "" : "s");
	handoff_post(d->to_dlv, dlv_stop, d, NULL);
	listener_free(r->listener);
	r->listener = NULL;
	if (r->nsessions == 0) {
		event_base_loopexit(r->base, NULL);
		return;
	}
	smtp_session_shutdown_all(r);
	if (r->nsessions == 0) {
		event_base_loopexit(r->base, NULL);
		return;
	}
	evtimer_add(d->ev_grace, &grace);
}

static void
log_conf_error(void *arg, const char *msg)
{
	int *n = arg;

	log_warnx(NULL, "%s", msg);
	(*n)++;
}

/* Two optional strings (NULL: not set) are the same. */
static bool
same_opt(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool
listen_changed(const struct conf *a, const struct conf *b)
{
	size_t i;

	if (a->nlisten != b->nlisten)
		return true;
	for (i = 0; i < a->nlisten; i++)
		if (strcmp(a->listen[i].text, b->listen[i].text) != 0)
			return true;
	return false;
}

/* Delivery loop, from a SIGHUP: the new configuration for its side. */
static void
dlv_reload(void *a, void *b)
{
	struct daemon *d = a;
	struct relay_conf *rc = b;
	char err[512];

	if (acct_open(d->dbase, rc->conf->acct_file, err, sizeof(err)) == -1)
		log_warnx(NULL, "acct_file %s; keeping the previous one", err);
	relay_conf_unref(d->drc);
	d->drc = relay_conf_ref(rc);
	scheduler_set_conf(d->sched, rc);
	delivery_recheck_validation(d->dlv);
}

static void
daemon_reload_conf(struct daemon *d)
{
	struct relay *r = &d->relay;
	struct relay_conf *rc;
	struct conf *conf;
	char err[512];
	int nerr = 0;

	log_info(NULL, "reloading the configuration from %s", r->conf_path);
	if ((conf = conf_load(r->conf_path, log_conf_error, &nerr)) == NULL) {
		log_warnx(NULL, "configuration reload failed (%d error%s), "
		    "keeping the current configuration", nerr,
		    nerr == 1 ? "" : "s");
		return;
	}
	if ((rc = relay_conf_reload(conf, r->rc, err, sizeof(err))) == NULL) {
		log_warnx(NULL, "%s: %s", r->conf_path, err);
		log_warnx(NULL, "configuration reload failed (STARTTLS), "
		    "keeping the current configuration");
		return;
	}
	if (log_open(conf->log_file, err, sizeof(err)) == -1) {
		if (!privsep_dropped()) {
			log_warnx(NULL, "log_file %s; configuration reload "
			    "failed, keeping the current configuration", err);
			relay_conf_unref(rc);
			return;
		}
		/* a file only root may open: the old descriptor goes on */
		log_warnx(NULL, "log_file %s: cannot reopen it as the "
		    "unprivileged user, logging on to the file opened at start",
		    err);
	}
	/* the delivery loop's part, done there; waits, so the log keeps its order */
	handoff_call(d->to_dlv, dlv_reload, d, rc);
	if (strcmp(r->rc->conf->user, conf->user) != 0 ||
	    !same_opt(r->rc->conf->group, conf->group))
		log_warnx(NULL, "user/group changed: they apply after a restart");
	if (listen_changed(r->rc->conf, conf))
		log_warnx(NULL, "listen addresses changed: they apply after a restart");
	if (strcmp(r->rc->conf->spool_dir, conf->spool_dir) != 0)
		log_warnx(NULL, "spool_dir changed: it applies after a restart");
	if (!same_opt(r->rc->conf->resolver_config, conf->resolver_config) ||
	    !same_opt(r->rc->conf->trust_anchor_file, conf->trust_anchor_file))
		log_warnx(NULL, "resolver_config/trust_anchor_file changed: they "
		    "apply after a restart");
	fdlimit_apply(conf, 0);
	flow_set_limit(r->flow, conf->max_connections);
	relay_conf_unref(r->rc);
	r->rc = rc;
	log_info(NULL, "configuration reloaded from %s", r->conf_path);
}

/* SIGHUP. The service manager hears of it also when the new file is bad:
 * the old configuration goes on serving, ready as before. */
static void
daemon_reload(evutil_socket_t sig, short ev, void *arg)
{
	struct daemon *d = arg;

	if (d->relay.stopping)
		return;
	notify_reloading();
	daemon_reload_conf(d);
	notify_ready();
}

/* The service manager's STATUS= (relay/notify.c, on the inbound loop). */
static void
daemon_queue_counts(void *arg, struct notify_counts *c)
{
	struct daemon *d = arg;

	c->msgs = atomic_load_explicit(&d->nmsgs, memory_order_relaxed);
	c->inflight = atomic_load_explicit(&d->ninflight, memory_order_relaxed);
	c->waiting = flow_waiting(d->relay.flow);
	c->log_lost = log_lost_lines();
}

/* Delivery loop: the control socket's `reopen`, and the delivery side of a
 * SIGUSR2 (acct_file belongs to this loop; log_open() is safe anywhere). */
static int
dlv_reopen_files(struct daemon *d, bool log_too, char *err, size_t errlen)
{
	const char *lf = d->drc->conf->log_file;
	char e[512];

	if (log_too && log_open(lf, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "log_file %s", e);
		log_warnx(NULL, "reopen: log_file %s", e);
		return -1;
	}
	if (acct_reopen(e, sizeof(e)) == -1) {
		snprintf(err, errlen, "acct_file %s", e);
		log_warnx(NULL, "reopen: acct_file %s", e);
		return -1;
	}
	log_info(NULL, "log_file and acct_file reopened");
	return 0;
}

static int
daemon_reopen_ctl(void *arg, char *err, size_t errlen)
{
	return dlv_reopen_files(arg, true, err, errlen);
}

static void
dlv_reopen_acct(void *a, void *b)
{
	char err[600];

	(void)dlv_reopen_files(a, false, err, sizeof(err));
}

/* SIGUSR2: after log rotation. The log here, acct_file on its loop. */
static void
daemon_reopen(evutil_socket_t sig, short ev, void *arg)
{
	struct daemon *d = arg;
	char e[512];

	if (log_open(d->relay.rc->conf->log_file, e, sizeof(e)) == -1) {
		log_warnx(NULL, "reopen: log_file %s", e);
		return;
	}
	handoff_call(d->to_dlv, dlv_reopen_acct, d, NULL);
}

static void
in_reload(void *a, void *b)
{
	struct daemon *d = a;

	if (d->dthread_started)		/* not once the delivery loop is gone */
		daemon_reload(SIGHUP, 0, d);
}

/* The control socket's `reload` (delivery loop): the inbound loop reloads,
 * as on SIGHUP; the answer does not wait for it (the log says). */
static void
daemon_reload_ctl(void *arg)
{
	struct daemon *d = arg;

	handoff_post(d->to_in, in_reload, d, NULL);
}

struct vwait {
	struct event_base	*base;
	bool			 done;
	bool			 late;		/* VCHECK_START_WAIT passed */
	enum dnssec_validation	 v;
	char			 detail[320];
};

#define VCHECK_START_WAIT 10	/* seconds start-up waits for the first check */

static void
daemon_validation_late(evutil_socket_t fd, short ev, void *arg)
{
	struct vwait *w = arg;

	w->late = true;
	event_base_loopbreak(w->base);
}

static void
daemon_validation_cb(enum dnssec_validation v, const char *detail, void *arg)
{
	struct vwait *w = arg;

	w->done = true;
	w->v = v;
	snprintf(w->detail, sizeof(w->detail), "%s", detail ? detail : "");
	event_base_loopbreak(w->base);
}

/*
 * Rule 16: under a global dane-only, a validator that does not validate
 * (resolver/selfcheck.h: it answers insecure for its own trust anchor) is
 * a configuration error: wait for the first self-check (at most
 * VCHECK_START_WAIT) and refuse to start. DNS that does not answer yet is
 * no reason to stop: start, and let deliveries wait for validation.
 */
static int
daemon_check_validation(struct event_base *base, struct delivery *dlv,
    const char *path)
{
	struct timeval tv = { VCHECK_START_WAIT, 0 };
	struct event *late;
	struct vwait w;

	memset(&w, 0, sizeof(w));
	w.base = base;
	if ((late = evtimer_new(base, daemon_validation_late, &w)) == NULL)
		fatalx("cannot create a timer");
	evtimer_add(late, &tv);
	delivery_on_validation(dlv, daemon_validation_cb, &w);
	while (!w.done && !w.late)
		if (event_base_dispatch(base) != 0 && !w.done)
			break;		/* error, or nothing left to wait for */
	delivery_on_validation(dlv, NULL, NULL);
	event_free(late);
	if (!w.done || w.v != VALIDATION_BROKEN) {
		if (!w.done || w.v != VALIDATION_OK)
			log_warnx(NULL, "tls_policy dane-only: DNSSEC validation "
			    "not confirmed yet (%s): starting, deliveries wait "
			    "for it", w.done ? w.detail : "check did not finish");
		return 0;
	}
	fprintf(stderr, "danerelay: %s: tls_policy dane-only: DNSSEC "
	    "validation does not work (%s), not starting\n", path, w.detail);
	log_warnx(NULL, "%s: tls_policy dane-only: DNSSEC validation does not "
	    "work (%s), not starting", path, w.detail);
	return -1;
}

static int
daemon_run(const char *path, struct conf *conf)
{
	struct daemon d;
	struct relay *r = &d.relay;
	struct delivery_params dp;
	struct privsep ps;
	char err[512], warn[512], fwarn[2][512];
	int rv = 1;

	memset(&d, 0, sizeof(d));
	TAILQ_INIT(&r->sessions);
	r->conf_path = path;
	r->ready = relay_ready_sched;
	r->sessions_gone = relay_sessions_gone;

	/* root first does what needs root, then drops it (relay/privsep.h) */
	if (privsep_init(conf, &ps, warn, sizeof(warn), err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "danerelay: %s: %s\n", path, err);
		conf_free(conf);
		return 2;
	}
	privsep_prepare_file(&ps, conf->log_file, fwarn[0], sizeof(fwarn[0]));
	privsep_prepare_file(&ps, conf->acct_file, fwarn[1], sizeof(fwarn[1]));
	if (log_open(conf->log_file, err, sizeof(err)) == -1) {
		fprintf(stderr, "danerelay: log_file %s\n", err);
		conf_free(conf);
		return 1;
	}
	if (warn[0] != '\0')
		log_warnx(NULL, "%s", warn);
	if (fwarn[0][0] != '\0')
		log_warnx(NULL, "log_file %s", fwarn[0]);
	if (fwarn[1][0] != '\0')
		log_warnx(NULL, "acct_file %s", fwarn[1]);
	fdlimit_apply(conf, 1);
	/* before privsep_enter(): the socket's permissions are root's to pass */
	if (notify_open(err, sizeof(err)) == -1)
		log_warnx(NULL, "%s; readiness will not be reported", err);
	if ((r->rc = relay_conf_new(conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danerelay: %s: %s\n", path, err);
		log_warnx(NULL, "%s: %s, not starting", path, err);
		log_close();
		return 2;
	}
	if (evthread_use_pthreads() == -1)
		fatalx("evthread_use_pthreads failed");
	log_libevent();
	if ((r->base = evio_base_new()) == NULL ||
	    (d.dbase = evio_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((d.to_dlv = handoff_new(r->base, d.dbase, err, sizeof(err))) == NULL ||
	    (d.to_in = handoff_new(d.dbase, r->base, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	/* accounting belongs to the delivery loop (outcomes are decided there) */
	if (acct_open(d.dbase, conf->acct_file, err, sizeof(err)) == -1) {
		fprintf(stderr, "danerelay: acct_file %s\n", err);
		log_warnx(NULL, "acct_file %s, not starting", err);
		goto fail;
	}
	(void)log_buffer_start(r->base);	/* one write(2) per loop turn */
	log_info(NULL, "starting with %s", path);

	d.resolver = resolver_new(d.dbase, conf->resolver_config,
	    conf->trust_anchor_file, err, sizeof(err));
	if (d.resolver == NULL) {
		fprintf(stderr, "danerelay: %s: resolver: %s\n", path, err);
		log_warnx(NULL, "%s: resolver: %s, not starting", path, err);
		rv = 2;
		goto fail;
	}
	if ((d.tlsc = tls_client_new(0, err, sizeof(err))) == NULL) {
		log_warnx(NULL, "TLS client: %s, not starting", err);
		goto fail;
	}
	if ((r->listener = listener_open(r, err, sizeof(err))) == NULL) {
		log_warnx(NULL, "%s, not starting", err);
		goto fail;
	}
	/* before any thread starts (the queue's workers, libunbound's) */
	if (privsep_enter(&ps, conf->spool_dir, err, sizeof(err)) == -1) {
		fprintf(stderr, "danerelay: %s: %s\n", path, err);
		log_warnx(NULL, "%s: %s, not starting", path, err);
		rv = 2;
		goto fail;
	}
	/* before the spool: it hands the recovered messages over at once */
	d.sched = scheduler_new(d.dbase, r->rc);
	r->flow = flow_new(r->base, dlv_flow_post_wake, &d);
	flow_set_limit(r->flow, conf->max_connections);
	scheduler_set_flow(d.sched, r->flow);
	d.drc = relay_conf_ref(r->rc);
	r->queue = queue_open(r->base, conf->spool_dir, relay_queue_ready, r,
	    err, sizeof(err));
	if (r->queue == NULL) {
		log_warnx(NULL, "spool %s: %s, not starting", conf->spool_dir, err);
		goto fail;
	}
	d.dq = queue_attach(r->queue, d.dbase, dlv_queue_ready, &d, err,
	    sizeof(err));
	if (d.dq == NULL) {
		log_warnx(NULL, "spool %s: %s, not starting", conf->spool_dir, err);
		goto fail;
	}
	memset(&dp, 0, sizeof(dp));
	dp.base = d.dbase;
	dp.queue = d.dq;
	dp.resolver = d.resolver;
	dp.tls = d.tlsc;
	if ((d.dlv = delivery_new(&dp, err, sizeof(err))) == NULL) {
		log_warnx(NULL, "delivery: %s, not starting", err);
		goto fail;
	}
	delivery_set_conf(d.dlv, conf);
	if (conf->dest.tls_policy == TLS_POLICY_DANE_ONLY &&
	    daemon_check_validation(d.dbase, d.dlv, path) == -1) {
		rv = 2;
		goto fail;
	}
	/* the queue tool's socket, made after the privilege drop: it
	 * belongs to the user, its group is the one the daemon runs as */
	d.qctl.sched = d.sched;
	d.qctl.reload = daemon_reload_ctl;
	d.qctl.reopen = daemon_reopen_ctl;
	d.qctl.arg = &d;
	/* on the delivery loop: the queue tool works on the scheduler */
	if ((d.control = control_open(d.dbase, conf->spool_dir, getegid(),
	    queue_ctl_handler, &d.qctl, err, sizeof(err))) == NULL) {
		log_warnx(NULL, "%s, not starting", err);
		goto fail;
	}
	listener_start(r->listener);
	d.ev_term = evsignal_new(r->base, SIGTERM, daemon_stop, &d);
	d.ev_int = evsignal_new(r->base, SIGINT, daemon_stop, &d);
	d.ev_hup = evsignal_new(r->base, SIGHUP, daemon_reload, &d);
	d.ev_usr1 = evsignal_new(r->base, SIGUSR1, daemon_flush, &d);
	d.ev_usr2 = evsignal_new(r->base, SIGUSR2, daemon_reopen, &d);
	d.ev_grace = evtimer_new(r->base, daemon_grace_over, &d);
	if (d.ev_term == NULL || d.ev_int == NULL || d.ev_hup == NULL ||
	    d.ev_usr1 == NULL || d.ev_usr2 == NULL || d.ev_grace == NULL)
		fatalx("cannot set up signal events");
	evsignal_add(d.ev_term, NULL);
	evsignal_add(d.ev_int, NULL);
	evsignal_add(d.ev_hup, NULL);
	evsignal_add(d.ev_usr1, NULL);
	evsignal_add(d.ev_usr2, NULL);
	log_info(NULL, "started");
	scheduler_start(d.sched, d.dq, d.dlv);
	d.ev_counts = event_new(d.dbase, -1, EV_PERSIST, dlv_counts_cb, &d);
	if (d.ev_counts == NULL)
		fatalx("cannot create a timer");
	{
		struct timeval tv = { COUNTS_SECS, 0 };

		evtimer_add(d.ev_counts, &tv);
	}
	dlv_publish_counts(&d);
	notify_watch_queue(r->base, daemon_queue_counts, &d);
	if (dlv_thread_start(&d, err, sizeof(err)) == -1) {
		log_warnx(NULL, "%s, not starting", err);
		goto fail;
	}
	notify_ready();

	if (event_base_dispatch(r->base) == -1)
		log_warnx(NULL, "event loop failed");

	listener_free(r->listener);
	r->listener = NULL;
	/* the delivery loop cancels its attempts (recipients stay as
	 * queued) and returns; from here main owns everything again */
	dlv_thread_join(&d);
	daemon_log_spool_stats(&d);
	log_buffer_stop();
	control_close(d.control);
	scheduler_stop(d.sched);
	/* nothing posts to the inbound loop any more (to_in is freed next) */
	scheduler_set_flow(d.sched, NULL);
	delivery_free(d.dlv);
	/* messages handed over but not yet taken go to the scheduler */
	handoff_free(d.to_dlv);
	handoff_free(d.to_in);
	/* runs the callbacks of commits still in flight (lingering sessions,
	 * DSNs): the scheduler is still there to take them */
	queue_close(d.dq);
	queue_close(r->queue);
	r->queue = NULL;
	event_free(d.ev_counts);
	scheduler_free(d.sched);
	tls_client_free(d.tlsc);
	resolver_free(d.resolver);
	event_free(d.ev_term);
	event_free(d.ev_int);
	event_free(d.ev_hup);
	event_free(d.ev_usr1);
	event_free(d.ev_usr2);
	event_free(d.ev_grace);
	acct_close();
	notify_close();
	if (r->nsessions != 0)
		log_warnx(NULL, "%u session%s left at exit", r->nsessions,
		    r->nsessions == 1 ? "" : "s");
	relay_conf_unref(d.drc);
	relay_conf_unref(r->rc);
	event_base_free(d.dbase);
	flow_free(r->flow);
	event_base_free(r->base);
	libevent_global_shutdown();
	log_info(NULL, "stopped");
	log_close();
	return 0;
fail:
	control_close(d.control);
	acct_close();
	listener_free(r->listener);
	r->listener = NULL;
	if (d.sched != NULL) {
		scheduler_stop(d.sched);
		scheduler_set_flow(d.sched, NULL);
	}
	if (d.dlv != NULL)
		delivery_free(d.dlv);
	handoff_free(d.to_dlv);
	handoff_free(d.to_in);
	if (d.dq != NULL)
		queue_close(d.dq);
	if (r->queue != NULL)
		queue_close(r->queue);
	if (d.ev_counts != NULL)
		event_free(d.ev_counts);
	scheduler_free(d.sched);
	if (d.tlsc != NULL)
		tls_client_free(d.tlsc);
	if (d.resolver != NULL)
		resolver_free(d.resolver);
	relay_conf_unref(d.drc);
	relay_conf_unref(r->rc);
	notify_close();
	log_buffer_stop();
	if (d.dbase != NULL)
		event_base_free(d.dbase);
	flow_free(r->flow);
	event_base_free(r->base);
	libevent_global_shutdown();
	log_close();
	return rv;
}

int
main(int argc, char *argv[])
{
	const char	*path = DEFAULT_CONF;
	struct conf	*conf;
	int		 ch, test_only = 0, conf_given = 0;

	signal(SIGPIPE, SIG_IGN);

	/* "+": options after a subcommand are the subcommand's own */
	while ((ch = getopt(argc, argv, "+c:dtV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			conf_given = 1;
			break;
		case 'd':
			log_set_debug(1);
			break;
		case 't':
			test_only = 1;
			break;
		case 'V':
			version_print(stdout);
			return 0;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;

	if (argc > 0 && strcmp(argv[0], "tlsa") == 0)
		return cmd_tlsa(argc, argv);	/* needs no configuration */
	if (argc > 0 && strcmp(argv[0], "check") == 0) {
		int rv;

		/* without -c and without the default file: the defaults
		 * (system trust anchor, full recursion, remote_port 25) */
		if (!conf_given && access(path, F_OK) != 0)
			path = "/dev/null";
		conf = load_or_exit(path);
		rv = cmd_check(conf, argc, argv);
		conf_free(conf);
		return rv;
	}
	conf = load_or_exit(path);
	if (test_only) {
		struct relay_conf *rc;
		struct privsep ps;
		char err[512], warn[512];

		/* started as root, the user to drop to must exist */
		if (privsep_init(conf, &ps, warn, sizeof(warn), err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", path, err);
			fprintf(stderr, "danerelay: %s: 1 error, not starting\n",
			    path);
			conf_free(conf);
			return 2;
		}
		/* what start-up would build from it must load too (STARTTLS) */
		if ((rc = relay_conf_new(conf, err, sizeof(err))) == NULL) {
			fprintf(stderr, "%s: %s\n", path, err);
			fprintf(stderr, "danerelay: %s: 1 error, not starting\n",
			    path);
			return 2;
		}
		/* start-up raises the soft limit to the hard one */
		if (fdlimit_check(conf, fdlimit_hard(), err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", path, err);
			fprintf(stderr, "danerelay: %s: 1 error, not starting\n",
			    path);
			relay_conf_unref(rc);
			return 2;
		}
		printf("danerelay: %s: configuration ok\n", path);
		relay_conf_unref(rc);
		return 0;
	}
	if (argc > 0 && strcmp(argv[0], "resolve") == 0) {
		const struct conf_domain *matched;
		int rv;

		if (argc != 2)
			usage();
		rv = cmd_resolve(conf, argv[1], (int)conf_dest_for(conf, argv[1],
		    time(NULL), &matched, NULL).remote_port);
		conf_free(conf);
		return rv;
	}
	if (argc > 0 && queue_ctl_is_command(argv[0])) {
		int rv = queue_ctl_main(conf, argc, argv);

		conf_free(conf);
		return rv;
	}
	if (argc > 0)
		usage();
	return daemon_run(path, conf);
}
