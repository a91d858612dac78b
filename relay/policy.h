/*
 * relay/policy.h - pure TLS/DANE decisions (RFC 7672, docs/dane.md rules 1-16):
 * from the configured policy, test mode and the DNS facts of one step (the
 * MX RRset; one host's address and CNAME facts and TLSA answer) to a value
 * saying what the delivery engine does next. No I/O, no logging, no
 * allocation: every text lands in the caller's struct, every pointer in
 * an output points into the input. The engine logs what comes back.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_POLICY_H
#define RELAY_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include "resolver/mx.h"
#include "resolver/resolver.h"
#include "resolver/selfcheck.h"
#include "tls/dane.h"
#include "tls/tls_client.h"

#define POL_TEXT_MAX	256

/* What to do with a destination once its MX RRset is known. */
enum pol_mx_action {
	POL_MX_GO,		/* walk mx hosts */
	POL_MX_DEFER,		/* every recipient TEMP esc/text/rpt */
	POL_MX_BOUNCE,		/* every recipient PERM esc/text */
};

struct pol_mx {
	enum pol_mx_action	 action;
	bool			 secure;	/* MX RRset secure: DANE applies to the domain */
	char			 esc[16];
	char			 text[POL_TEXT_MAX];
	enum tlsrpt_type	 rpt;
	char			 note[POL_TEXT_MAX];	/* test mode verdict / warning to log, "" if none */
	bool			 note_warn;		/* log note as a warning */
};

/*
 * Rule 16 before any lookup (resolver/selfcheck.h): may an attempt under
 * policy go on while DNSSEC validation is v? Only dane and dane-only ask.
 *  OK: GO.
 *  BROKEN (the validator answers insecure for its own anchor): dane-only
 *   DEFERs 4.7.5 (dane-required); dane GOes without DANE, with a loud
 *   warning in note (note_warn).
 *  PENDING, UNCONFIRMED (DNS did not answer, or bogus): DEFER 4.7.5
 *   "DNSSEC validation not confirmed": never a delivery without DANE
 *   because DNS was down. detail: the self-check's last result.
 * Test mode turns a DEFER into GO with "test mode: would have deferred".
 */
void	 policy_validation(enum tls_policy, bool test_mode,
	    enum dnssec_validation v, const char *domain, const char *detail,
	    struct pol_mx *out);

/*
 * Rules 1, 2, 13 at the MX step. mx is the built list; why is the
 * resolver's reason for an error (may be NULL). validation_ok: the
 * self-check confirmed validation (policy_validation() decided the rest).
 */
void	 policy_mx(enum tls_policy, bool test_mode, bool validation_ok,
	    const struct mx_list *mx, const char *why, struct pol_mx *out);

/*
 * Rule 4: a host's addresses are secure when every family that answered
 * (A, AAAA) is secure and at least one did.
 */
bool	 policy_addr_secure(const struct resolver_host *);

/*
 * A TLSA answer as records for usability checks and OpenSSL (data
 * borrowed from r): out holds r->nrr entries; a malformed record becomes
 * an unusable one (usage 255). 0 unless r answered with data.
 */
size_t	 policy_tlsa_rrset(const struct dns_result *r, struct dane_tlsa *out);

/*
 * Rule 5: the TLSA base domains to try for a host, in order, with why
 * ("expanded" / "original"); 0 when no TLSA lookup may be made (address
 * records insecure, or an insecure first CNAME link). Pointers into args.
 */
size_t	 policy_tlsa_bases(const char *name, const char *canonname, bool cname,
	    bool chain_secure, bool first_link_secure, bool addr_secure,
	    const char *bases[2], const char *whys[2]);

/* One host's facts at the TLSA step. */
struct pol_host_in {
	enum tls_policy		 policy;
	bool			 test_mode;
	bool			 validation_ok;
	bool			 mx_secure;	/* the MX RRset was secure */
	const char		*domain;	/* next-hop domain */
	const char		*domain_canon;	/* its CNAME expansion (== domain if none) */
	const char		*host;		/* MX host name */
	bool			 addr_secure;
	size_t			 nbases;	/* from policy_tlsa_bases() */
	/* the TLSA answer for base (only when nbases > 0) */
	const char		*base;
	bool			 more_bases;	/* another candidate follows */
	enum dns_state		 tlsa_state;
	enum dns_answer		 tlsa_answer;
	unsigned		 usable, unusable;
};

enum pol_action {
	POL_CONNECT,		/* connect with level/base/refs */
	POL_SKIP,		/* do not connect: next host; esc/reason/rpt */
	POL_NEXT_BASE,		/* look up TLSA at the next base domain */
};

struct pol_host {
	enum pol_action		 action;
	enum tls_level		 level;
	bool			 test_mode;	/* secctx.test_mode */
	bool			 use_tlsa;	/* hand the TLSA RRset to TLS */
	bool			 dane_required;	/* a TLS/DANE failure of this host is 4.7.5 */
	bool			 authenticate;	/* usable TLSA: authentication required (not in test mode) */
	const char		*base_domain;	/* level DANE with TLSA */
	const char		*ref_names[2];
	size_t			 nref_names;
	const char		*sni;
	char			 esc[16];	/* POL_SKIP */
	char			 reason[POL_TEXT_MAX];	/* POL_SKIP, or why the level (for the log) */
	enum tlsrpt_type	 rpt;
	char			 note[POL_TEXT_MAX];	/* test mode verdict, "" if none */
};

/*
 * RFC 7672 2.1.3, 2.2.2 at the address step: under dane or dane-only with
 * working validation, a host that is a CNAME and whose expansion could not
 * be settled (h->error: an address or CNAME lookup failed, timed out or
 * was bogus) is unusable: POL_SKIP with esc/reason/rpt, never "insecure".
 * In test mode: POL_CONNECT, note says what would have happened and
 * use_tlsa is false (no TLSA step). Otherwise POL_CONNECT with use_tlsa
 * true: go on to the TLSA step.
 */
void	 policy_host_addr(enum tls_policy, bool test_mode, bool validation_ok,
	    const struct resolver_host *h, struct pol_host *out);

/* Rules 2, 4, 6-9, 11-13 for one host. */
void	 policy_host(const struct pol_host_in *, struct pol_host *);

/*
 * The one-line text of a host decision, as the delivery log shows it and
 * `resolve` prints it (host: the MX host name):
 *	POL_SKIP	"Skipping HOST: ESC REASON (RPT)"
 *	POL_NEXT_BASE	REASON
 *	POL_CONNECT	"REASON; reference identifiers: BASE, ..." with DANE,
 *			else "HOST: TLS LEVEL (REASON)"
 */
const char *policy_host_text(const struct pol_host *, const char *host,
	    char *buf, size_t len);

/* Fill a tls_secctx from a decision (tlsa borrowed). */
void	 policy_secctx(const struct pol_host *, const struct dane_tlsa *tlsa,
	    size_t ntlsa, struct tls_secctx *);

const char *policy_level_name(enum tls_level);

#endif
