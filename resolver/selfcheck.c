/*
 * resolver/selfcheck.c - the DNSSEC validation self-check (see
 * selfcheck.h). One check at a time: a DNSKEY lookup at the trust
 * anchor's owner through the process's resolver, bounded by the
 * resolver's own deadline. Between checks one timer: the backoff while
 * validation is not confirmed, the hourly period once it is decided.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "resolver/selfcheck.h"
#include "relay/log.h"
#include "relay/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

struct selfcheck {
	struct event_base	*base;
	struct resolver		*r;
	struct resolver_query	*q;		/* the check in flight */
	struct event		*timer;		/* the next check */
	enum dnssec_validation	 state;
	unsigned		 retry;		/* current backoff, seconds */
	unsigned		 nfail;		/* checks in a row without "ok" */
	time_t			 next_at;	/* when the timer fires */
	char			 detail[320];
	selfcheck_cb		*cb;
	void			*arg;
};

static void	selfcheck_start(struct selfcheck *);

const char *
dnssec_validation_name(enum dnssec_validation v)
{
	switch (v) {
	case VALIDATION_PENDING:	return "pending";
	case VALIDATION_OK:		return "ok";
	case VALIDATION_UNCONFIRMED:	return "not confirmed";
	case VALIDATION_BROKEN:		return "not working";
	}
	return "pending";
}

enum dnssec_validation
selfcheck_verdict(const struct dns_result *res, char *detail, size_t len)
{
	const char *name = res && res->qname ? res->qname : "?";

	if (res == NULL) {
		snprintf(detail, len, "DNSKEY ?: no result");
		return VALIDATION_UNCONFIRMED;
	}
	if (res->state == DNS_SECURE && res->answer == DNS_ANSWER_DATA) {
		snprintf(detail, len, "DNSKEY %s: secure", name);
		return VALIDATION_OK;
	}
	if (res->state == DNS_INSECURE && dns_result_answered(res)) {
		/* A positive answer that the anchored zone is unsigned. */
		snprintf(detail, len, "DNSKEY %s: insecure %s: the resolver "
		    "answers without validating (check resolver_config and "
		    "trust_anchor_file)", name, dns_answer_name(res->answer));
		return VALIDATION_BROKEN;
	}
	if (res->state == DNS_SECURE) {
		/* Secure NODATA/NXDOMAIN for the anchor: cannot be right. */
		snprintf(detail, len, "DNSKEY %s: secure %s: the trust "
		    "anchor's zone has no keys", name,
		    dns_answer_name(res->answer));
		return VALIDATION_UNCONFIRMED;
	}
	if (res->state == DNS_BOGUS)
		snprintf(detail, len, "DNSKEY %s: bogus (%s): wrong or stale "
		    "trust anchor, or the clock is off", name,
		    res->reason ? res->reason : "validation failed");
	else
		snprintf(detail, len, "DNSKEY %s: no answer (%s)", name,
		    res->reason ? res->reason : "indeterminate");
	return VALIDATION_UNCONFIRMED;
}

enum dnssec_validation
selfcheck_next_state(enum dnssec_validation prev, enum dnssec_validation v)
{
	/*
	 * Only an answer changes what is known. No answer after validation
	 * was confirmed (or found broken) is an outage, not evidence: the
	 * validator's setup is fixed for the life of the process, and every
	 * lookup fails closed by itself meanwhile.
	 */
	if (v == VALIDATION_UNCONFIRMED &&
	    (prev == VALIDATION_OK || prev == VALIDATION_BROKEN))
		return prev;
	return v;
}

static void
selfcheck_arm(struct selfcheck *sc, unsigned secs)
{
	struct timeval tv = { (time_t)secs, 0 };

	sc->next_at = time(NULL) + (time_t)secs;
	evtimer_add(sc->timer, &tv);
}

static void
selfcheck_done(struct dns_result *res, void *arg)
{
	struct selfcheck *sc = arg;
	enum dnssec_validation v, prev = sc->state;
	unsigned wait;

	sc->q = NULL;
	v = selfcheck_verdict(res, sc->detail, sizeof(sc->detail));
	dns_result_free(res);
	sc->state = selfcheck_next_state(prev, v);
	if (v == VALIDATION_UNCONFIRMED) {
		wait = sc->retry;
		sc->nfail++;
		if (sc->retry < SELFCHECK_RETRY_MAX)
			sc->retry = sc->retry * 2 > SELFCHECK_RETRY_MAX ?
			    SELFCHECK_RETRY_MAX : sc->retry * 2;
	} else {
		wait = SELFCHECK_PERIOD;
		sc->retry = SELFCHECK_RETRY_MIN;
	}
	switch (v) {
	case VALIDATION_OK:
		if (prev != VALIDATION_OK)
			log_info(NULL, "DNSSEC validation check passed: %s%s",
			    log_esc(sc->detail), sc->nfail ?
			    " (validation confirmed "
			    "after failed checks)" : "");
		sc->nfail = 0;
		break;
	case VALIDATION_BROKEN:
		log_warnx(NULL, "WARNING: DNSSEC validation check FAILED: %s: "
		    "DANE cannot be enforced (dane-only defers, dane delivers "
		    "without DANE); next check in %us", log_esc(sc->detail),
		    wait);
		sc->nfail = 0;
		break;
	case VALIDATION_PENDING:
	case VALIDATION_UNCONFIRMED:
		/* The backoff doubles, so does the spacing of these lines. */
		if (sc->state == VALIDATION_UNCONFIRMED)
			log_warnx(NULL, "WARNING: DNSSEC validation not "
			    "confirmed: %s; DANE deliveries are deferred (check "
			    "%u failed), next check in %us",
			    log_esc(sc->detail),
			    sc->nfail, wait);
		else
			log_warnx(NULL, "DNSSEC validation re-check got no "
			    "answer: %s; validation stays %s, next check in "
			    "%us", log_esc(sc->detail),
			    dnssec_validation_name(sc->state),
			    wait);
		break;
	}
	selfcheck_arm(sc, wait);
	if (sc->cb != NULL)
		sc->cb(sc->state, sc->detail, sc->arg);
}

static void
selfcheck_start(struct selfcheck *sc)
{
	if (sc->q != NULL)
		return;
	evtimer_del(sc->timer);
	sc->q = resolver_lookup(sc->r, resolver_anchor_name(sc->r),
	    DNS_T_DNSKEY, selfcheck_done, sc);
}

static void
selfcheck_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	selfcheck_start(arg);
}

struct selfcheck *
selfcheck_new(struct event_base *base, struct resolver *r, selfcheck_cb *cb,
    void *arg)
{
	struct selfcheck *sc;

	sc = xcalloc(1, sizeof(*sc));
	sc->base = base;
	sc->r = r;
	sc->cb = cb;
	sc->arg = arg;
	sc->retry = SELFCHECK_RETRY_MIN;
	str_copy(sc->detail, "check in progress", sizeof(sc->detail));
	if ((sc->timer = evtimer_new(base, selfcheck_timer_cb, sc)) == NULL)
		fatalx("selfcheck: cannot create a timer");
	selfcheck_start(sc);
	return sc;
}

void
selfcheck_free(struct selfcheck *sc)
{
	if (sc == NULL)
		return;
	if (sc->q != NULL)
		resolver_cancel(sc->q);
	event_free(sc->timer);
	free(sc);
}

void
selfcheck_set_cb(struct selfcheck *sc, selfcheck_cb *cb, void *arg)
{
	sc->cb = cb;
	sc->arg = arg;
}

enum dnssec_validation
selfcheck_state(const struct selfcheck *sc)
{
	return sc->state;
}

const char *
selfcheck_detail(const struct selfcheck *sc)
{
	return sc->detail;
}

bool
selfcheck_busy(const struct selfcheck *sc)
{
	return sc->q != NULL;
}

unsigned
selfcheck_next_in(const struct selfcheck *sc)
{
	time_t now = time(NULL);

	if (sc->q != NULL || sc->next_at <= now)
		return 0;
	return (unsigned)(sc->next_at - now);
}

void
selfcheck_run_now(struct selfcheck *sc)
{
	if (sc->q != NULL)
		return;
	sc->retry = SELFCHECK_RETRY_MIN;
	selfcheck_start(sc);
}
