/*
 * resolver/selfcheck.h - does DNSSEC validation work? (RFC 7672 2.1: DANE
 * rests on DNSSEC-validated answers.) The check asks the DNSKEY RRset at
 * the owner of the first trust anchor and tells three outcomes apart:
 *
 *  secure with data	validation works (VALIDATION_OK);
 *  insecure answer	the validator positively answers "unsigned" for a
 *			zone whose key it was given as trust anchor: it does
 *			not validate (a resolver_config without the
 *			validator module, a negative trust anchor, ...):
 *			VALIDATION_BROKEN;
 *  anything else	DNS did not answer (SERVFAIL, timeout, unreachable)
 *			or answered bogus (wrong or stale trust anchor, a
 *			clock that is off): nothing is known,
 *			VALIDATION_UNCONFIRMED. Never read as "broken".
 *
 * The check runs at start, again with backoff (1 s doubling to 5 min)
 * until it passes, after selfcheck_run_now() (SIGHUP) and every hour. A
 * check that gets no answer after validation was confirmed leaves it
 * confirmed (the validator's setup cannot change while the process runs;
 * each lookup fails closed on its own) and is retried with backoff.
 * Every verdict is logged; the listener hears of each finished check.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RESOLVER_SELFCHECK_H
#define RESOLVER_SELFCHECK_H

#include <stdbool.h>
#include <time.h>

#include "resolver/resolver.h"

struct event_base;
struct selfcheck;		/* opaque */

/* Zero is the fail-closed value: no verdict yet. */
enum dnssec_validation {
	VALIDATION_PENDING = 0,	/* the first check has not finished */
	VALIDATION_OK,		/* confirmed: the anchor's DNSKEY validated */
	VALIDATION_UNCONFIRMED,	/* no answer or bogus: unknown, retrying */
	VALIDATION_BROKEN,	/* answered insecure: the validator does not validate */
};

#define SELFCHECK_RETRY_MIN	1	/* seconds: first retry after a failure */
#define SELFCHECK_RETRY_MAX	300	/* seconds: backoff cap */
#define SELFCHECK_PERIOD	3600	/* seconds between checks once decided */

/* Called after every finished check, with the (possibly unchanged) state. */
typedef void selfcheck_cb(enum dnssec_validation, const char *detail, void *arg);

/* Starts the first check at once. cb may be NULL (set it later). */
struct selfcheck *selfcheck_new(struct event_base *, struct resolver *,
		    selfcheck_cb *, void *arg);
void		 selfcheck_free(struct selfcheck *);	/* NULL ok; no callback */
void		 selfcheck_set_cb(struct selfcheck *, selfcheck_cb *, void *arg);

enum dnssec_validation selfcheck_state(const struct selfcheck *);
const char	*selfcheck_detail(const struct selfcheck *);	/* last check, for logs */
bool		 selfcheck_busy(const struct selfcheck *);	/* a check is in flight */
/* Seconds until the next check starts (0 if one is in flight). */
unsigned	 selfcheck_next_in(const struct selfcheck *);
/* Check now and restart the backoff (SIGHUP); no-op while one is in flight. */
void		 selfcheck_run_now(struct selfcheck *);

/*
 * The pure parts, for tests and for `resolve`. The verdict of one DNSKEY
 * answer (detail: a one-line description), and the state that follows
 * state prev after a check with verdict v.
 */
enum dnssec_validation selfcheck_verdict(const struct dns_result *,
		    char *detail, size_t len);
enum dnssec_validation selfcheck_next_state(enum dnssec_validation prev,
		    enum dnssec_validation v);
const char	*dnssec_validation_name(enum dnssec_validation);	/* "ok", "not confirmed", ... */

#endif
