/*
 * resolver/resolver.h - asynchronous DNSSEC-validating lookups on the
 * daemon's libevent loop: one libunbound context per process (one shared
 * cache), its fd watched by an event, nothing ever blocks the loop.
 *
 * Invariants the DANE policy relies on:
 * - Every result carries a DNSSEC state. A lookup that failed validation is
 *   DNS_BOGUS; one that got no usable answer (SERVFAIL, REFUSED, timeout,
 *   unreachable servers, malformed data, local error) is
 *   DNS_INDETERMINATE. Neither ever has answer NODATA or NXDOMAIN, and
 *   neither is ever reported as insecure. A zeroed result reads as
 *   indeterminate/no answer (fail closed).
 * - A started lookup returns a handle. Its callback runs exactly once,
 *   always later from the event loop (never from inside the call that
 *   started it), unless resolver_cancel() is called first; after
 *   resolver_cancel() or resolver_free() it never runs. The handle is dead
 *   once the callback has been entered: clear your pointer to it first.
 * - Results passed to a callback belong to the callee (free them).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RESOLVER_RESOLVER_H
#define RESOLVER_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resolver/rr.h"

struct event_base;
struct resolver;		/* the process's resolver, opaque */
struct resolver_query;		/* a pending lookup (handle), opaque */

#define RESOLVER_DEFAULT_TA	"/usr/share/dns/root.key"	/* dns-root-data */
#define RESOLVER_DEFAULT_TIMEOUT 60	/* seconds before a lookup is indeterminate */

/* Zero is the fail-closed value of both enums. */
enum dns_state {
	DNS_INDETERMINATE = 0,	/* lookup error: no answer to act on (reason says why) */
	DNS_SECURE,		/* answer validated by DNSSEC */
	DNS_INSECURE,		/* answer provably unsigned (insecure delegation) */
	DNS_BOGUS,		/* validation failed (reason = libunbound's why_bogus) */
};

enum dns_answer {
	DNS_ANSWER_NONE = 0,	/* state BOGUS or INDETERMINATE: nothing usable */
	DNS_ANSWER_DATA,	/* NOERROR with records of the type asked (rr[0..nrr)) */
	DNS_ANSWER_NODATA,	/* NOERROR, the name exists, no records of that type */
	DNS_ANSWER_NXDOMAIN,	/* the name does not exist */
};

#define DNS_RCODE_NONE	(-1)	/* no DNS answer at all (local/libunbound error) */

/*
 * The outcome of one query. qname/canonname are normalized (lower case, no
 * trailing dot). When the name was an alias, canonname is the end of the
 * CNAME chain and the state covers every hop: SECURE only if every CNAME
 * and the final RRset validated, so an insecure hop makes it INSECURE.
 * rr[] holds the records of type qtype at canonname (DATA only; for BOGUS
 * they are kept for display and must not be used). MX, A, AAAA, CNAME and
 * TLSA are decoded; other types (DNSKEY) are only counted, entries zeroed.
 */
struct dns_result {
	int		 qtype;		/* DNS_T_* */
	char		*qname;		/* the name asked */
	char		*canonname;	/* never NULL: == qname text when no CNAME */
	bool		 cname;		/* at least one CNAME was followed */
	enum dns_state	 state;
	enum dns_answer	 answer;
	int		 rcode;		/* DNS rcode as received, or DNS_RCODE_NONE */
	uint32_t	 ttl;		/* seconds; trust only for SECURE/INSECURE */
	char		*reason;	/* BOGUS: why_bogus; INDETERMINATE: what failed; else NULL */
	size_t		 nrr;
	struct dns_rr	*rr;
	size_t		 nmalformed;	/* rr[] entries flagged malformed */
};

/*
 * The address records of one host (an MX host or an implicit MX), A and
 * AAAA asked in parallel. RFC 7672 2.2.2/2.2.3 facts for the TLSA step:
 * - cname: name is an alias; canonname is the expanded name.
 * - chain_secure: cname, and every address answer that answered (SECURE or
 *   INSECURE) is SECURE, and at least one did: every hop validated, so
 *   TLSA goes at the expanded name first, then at the original name.
 * - first_link: when cname && !chain_secure, the result of an explicit
 *   CNAME query at name (its state is the first link's state; NULL if
 *   neither address lookup answered). first_link_secure is true when that
 *   link is SECURE (or when chain_secure): then TLSA goes at the original
 *   name only. Without a CNAME both are false and first_link is NULL.
 * - error (cname only): the expansion could not be settled (RFC 7672
 *   2.1.3: an error at any stage is a lookup failure, never "insecure"):
 *   an asked family's lookup failed, timed out or was bogus, A and AAAA
 *   disagree on the target, or the CNAME query the facts needed failed,
 *   was prevented by a timeout, or contradicts the address answers.
 *   error_bogus: a bogus answer was among the causes. NULL when settled.
 * a / aaaa are NULL only if that family was not asked for.
 */
struct resolver_host {
	char		*name;		/* as asked, normalized */
	char		*canonname;	/* == name text when no CNAME */
	bool		 cname;
	bool		 chain_secure;
	bool		 first_link_secure;
	struct dns_result *first_link;	/* CNAME query at name, or NULL */
	char		*error;		/* cname facts unsettled: why; else NULL */
	bool		 error_bogus;	/* ... and a bogus answer was involved */
	struct dns_result *a;
	struct dns_result *aaaa;
};

#define RESOLVER_V4	0x01	/* resolver_lookup_host(): ask A */
#define RESOLVER_V6	0x02	/* resolver_lookup_host(): ask AAAA */

typedef void resolver_cb(struct dns_result *, void *arg);
typedef void resolver_host_cb(struct resolver_host *, void *arg);
/* ok: the trust anchor's own DNSKEY validated as secure; detail: for logs. */
typedef void resolver_check_cb(bool ok, const char *detail, void *arg);

/*
 * The process's resolver on base. config: an unbound.conf handed to
 * libunbound (NULL: full recursion from the root with built-in hints).
 * ta_file: DS/DNSKEY trust anchors in zone-file form (NULL:
 * RESOLVER_DEFAULT_TA); a missing, unreadable or anchor-less file is an
 * error: never a resolver that validates nothing. NULL + err on error.
 * Call once, at start-up; libunbound's settings cannot change afterwards.
 */
struct resolver	*resolver_new(struct event_base *, const char *config,
		    const char *ta_file, char *err, size_t errlen);
/* Cancels every pending lookup (no callback runs). Not from a callback. */
void		 resolver_free(struct resolver *);
/* Seconds after which a lookup gives up as INDETERMINATE (default 60). */
void		 resolver_set_timeout(struct resolver *, unsigned seconds);

/* One query of type qtype (DNS_T_*) at name; cb gets the result. */
struct resolver_query *resolver_lookup(struct resolver *, const char *name,
		    int qtype, resolver_cb *, void *arg);
/* MX at domain: the input of mx_list_build() (resolver/mx.h). */
struct resolver_query *resolver_lookup_mx(struct resolver *, const char *domain,
		    resolver_cb *, void *arg);
/*
 * TLSA at _PORT._tcp.HOST, following CNAMEs at that owner name (the result
 * is SECURE only if every hop is). qname is "_PORT._tcp.HOST"; the TLSA
 * base domain stays host as given, whatever canonname says (RFC 7672 2.2.3).
 */
struct resolver_query *resolver_lookup_tlsa(struct resolver *, const char *host,
		    unsigned port, resolver_cb *, void *arg);
/* A and/or AAAA (flags RESOLVER_V4|RESOLVER_V6) with CNAME facts. */
struct resolver_query *resolver_lookup_host(struct resolver *, const char *name,
		    unsigned flags, resolver_host_cb *, void *arg);
/*
 * Does validation work (RFC 7672 rule, docs/dane.md rule 16)? Asks DNSKEY at
 * the owner name of the first trust anchor; ok only if SECURE with data.
 */
struct resolver_query *resolver_check_validation(struct resolver *,
		    resolver_check_cb *, void *arg);

/* Owner name of the first trust anchor, normalized ("." for the root). */
const char	*resolver_anchor_name(const struct resolver *);

/* Stop a pending lookup: its callback never runs. Not after it ran. */
void		 resolver_cancel(struct resolver_query *);

/*
 * Sets h->error/error_bogus from the other facts (a, aaaa, cname,
 * chain_secure, first_link); resolver_lookup_host() calls it. Exposed
 * for tests.
 */
void		 resolver_host_settle(struct resolver_host *);

void		 dns_result_free(struct dns_result *);		/* NULL ok */
void		 resolver_host_free(struct resolver_host *);	/* NULL ok */

/* Answered: SECURE or INSECURE (NOERROR data/NODATA or NXDOMAIN). */
bool		 dns_result_answered(const struct dns_result *);
const char	*dns_state_name(enum dns_state);	/* "secure", "insecure", "bogus", "indeterminate" */
const char	*dns_answer_name(enum dns_answer);	/* "data", "nodata", "nxdomain", "none" */

#endif
