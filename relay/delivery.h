/*
 * relay/delivery.h - one delivery attempt: a message's due recipients for
 * one destination domain. The engine looks up the MX RRset, walks the MX
 * hosts in order (address records, then TLSA under the policy), connects
 * through relay/smtp_client.c with the security context relay/policy.c
 * derives, and moves to the next address or MX host on failure. It owns the
 * only defer / bounce / next-MX decision and logs the decision trace of
 * README.md. The scheduler (relay/scheduler.c) decides WHEN to attempt
 * and records outcomes in the queue; the engine decides HOW and reports
 * each recipient's outcome as a value.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_DELIVERY_H
#define RELAY_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "resolver/selfcheck.h"
#include "tls/dane.h"

struct event_base;
struct conf;
struct queue;
struct queue_envelope;
struct resolver;
struct tls_client;
struct delivery;			/* the engine, opaque: one per process */
struct delivery_attempt;		/* one attempt in flight, opaque */
struct dlv_trace;

enum dlv_status {
	DLV_OK,				/* delivered (2xx after ".") */
	DLV_TEMP,			/* deferred: retry later */
	DLV_PERM,			/* bounce */
};

/*
 * What happened to one recipient: the value the scheduler records and the
 * DSN quotes. rpt is the RFC 8460 result type of the TLS failure that
 * decided it (TLSRPT_NONE when TLS did not decide), for later TLS-RPT.
 */
struct dlv_outcome {
	size_t			 idx;		/* into env->rcpts */
	enum dlv_status		 status;
	char			 esc[16];	/* "2.0.0", "4.7.5", "5.1.1" */
	char			 text[512];	/* "550 5.1.1 user unknown" or our reason */
	char			 mx[256];	/* host that answered, "" if none */
	enum tlsrpt_type	 rpt;
	unsigned		 retry_after;	/* TEMP: > 0: retry after at most this
						 * many seconds (a local condition
						 * expected to clear), 0: backoff */
	/* the attempt's decision trace (relay/dlv_trace.h); borrowed for
	 * the callback, dlv_trace_ref() to keep it */
	struct dlv_trace	*trace;
};

/* Called once per attempt, on the loop, never from inside delivery_start. */
typedef void delivery_done_cb(struct delivery_attempt *,
		    const struct dlv_outcome *outcomes, size_t n, void *arg);

struct delivery_params {
	struct event_base	*base;
	struct queue		*queue;		/* content is read from it */
	struct resolver		*resolver;
	struct tls_client	*tls;
};

struct delivery	*delivery_new(const struct delivery_params *, char *err, size_t errlen);
/* Drops idle cached connections and aborts attempts (no callbacks). */
void		 delivery_free(struct delivery *);
/* The configuration for attempts started from now on (SIGHUP). Borrowed. */
void		 delivery_set_conf(struct delivery *, const struct conf *);

/*
 * Attempt delivery of env's recipients idx[0..n) (all in `domain`, all
 * due) now. env and idx are borrowed until cb. retry: attempts so far, for
 * the log lines. NULL + errno only for local trouble.
 */
struct delivery_attempt *delivery_start(struct delivery *,
		    const struct queue_envelope *env, const char *domain,
		    const size_t *idx, size_t n, delivery_done_cb *cb, void *arg);
/* Abort an attempt: no callback; its recipients count as not tried. */
void		 delivery_cancel(struct delivery_attempt *);

/*
 * Rule 16: delivery_new() starts the DNSSEC validation self-check
 * (resolver/selfcheck.h), which re-runs with backoff until it passes and
 * hourly after. Attempts under dane/dane-only wait while a check is in
 * flight and validation is not confirmed; when it is not confirmed they
 * defer 4.7.5 with retry_after = until the next check; when it is broken
 * dane-only defers and dane warns loudly (relay/policy.c
 * policy_validation()). cb hears every finished check (at once if one
 * has finished already); main() uses it at start under dane-only.
 */
typedef void	 delivery_validation_cb(enum dnssec_validation,
		    const char *detail, void *arg);
enum dnssec_validation delivery_validation(const struct delivery *);
void		 delivery_on_validation(struct delivery *,
		    delivery_validation_cb *, void *arg);
/* Check again now, restarting the backoff (SIGHUP). */
void		 delivery_recheck_validation(struct delivery *);

#endif
