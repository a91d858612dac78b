/*
 * relay/policy.c - pure TLS/DANE decisions (see policy.h). Every branch
 * names the rule of docs/dane.md it implements. Test mode computes the same
 * verdict, writes it to note as "test mode: would have ...", and turns any
 * refusal into a connection as `may` would make (with the DANE context
 * kept where there is one, so that tls_client reports the match).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "relay/policy.h"
#include "relay/util.h"

static void
set_text(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_text(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static bool
policy_is_dane(enum tls_policy p)
{
	return p == TLS_POLICY_DANE || p == TLS_POLICY_DANE_ONLY;
}

void
policy_validation(enum tls_policy pol, bool test_mode,
    enum dnssec_validation v, const char *domain, const char *detail,
    struct pol_mx *out)
{
	memset(out, 0, sizeof(*out));
	out->action = POL_MX_GO;
	if (domain == NULL)
		domain = "?";
	if (detail == NULL || *detail == '\0')
		detail = "no result yet";
	if (!policy_is_dane(pol) || v == VALIDATION_OK)
		return;
	if (v == VALIDATION_BROKEN && pol == TLS_POLICY_DANE) {
		/* Rule 16: loud, on every attempt that wanted DANE. */
		out->note_warn = true;
		set_text(out->note, sizeof(out->note),
		    "WARNING: DNSSEC validation is not working: DANE cannot "
		    "be used for %s, delivering without it", domain);
		return;
	}
	str_copy(out->esc, "4.7.5", sizeof(out->esc));
	if (v == VALIDATION_BROKEN) {
		set_text(out->text, sizeof(out->text),
		    "DNSSEC validation is not working: no DANE delivery "
		    "possible to %s", domain);
		out->rpt = TLSRPT_DANE_REQUIRED;
	} else
		/* DNS did not answer the self-check: wait, never guess. */
		set_text(out->text, sizeof(out->text),
		    "DNSSEC validation not confirmed (%s): DANE cannot be "
		    "enforced for %s yet", detail, domain);
	if (!test_mode) {
		out->action = POL_MX_DEFER;
		return;
	}
	set_text(out->note, sizeof(out->note),
	    "test mode: would have deferred: %s %s", out->esc, out->text);
	out->esc[0] = '\0';
	out->text[0] = '\0';
	out->rpt = TLSRPT_NONE;
}

void
policy_mx(enum tls_policy pol, bool test_mode, bool validation_ok,
    const struct mx_list *mx, const char *why, struct pol_mx *out)
{
	memset(out, 0, sizeof(*out));
	out->action = POL_MX_GO;
	out->secure = mx->state == DNS_SECURE;
	if (why == NULL || *why == '\0')
		why = "no answer";

	switch (mx->status) {
	case MX_ERROR:
		/* Rule 1: never guess hosts from a failed lookup. */
		out->action = POL_MX_DEFER;
		if (mx->state == DNS_BOGUS) {
			str_copy(out->esc, "4.7.5", sizeof(out->esc));
			set_text(out->text, sizeof(out->text),
			    "MX lookup for %s failed DNSSEC validation: %s",
			    mx->domain ? mx->domain : "?", why);
			out->rpt = TLSRPT_DNSSEC_INVALID;
		} else {
			str_copy(out->esc, "4.4.3", sizeof(out->esc));
			set_text(out->text, sizeof(out->text),
			    "MX lookup for %s failed: %s",
			    mx->domain ? mx->domain : "?", why);
		}
		return;
	case MX_NULL:
		out->action = POL_MX_BOUNCE;
		str_copy(out->esc, "5.1.10", sizeof(out->esc));
		set_text(out->text, sizeof(out->text),
		    "domain %s does not accept mail (null MX, RFC 7505)",
		    mx->domain ? mx->domain : "?");
		return;
	case MX_NXDOMAIN:
		out->action = POL_MX_BOUNCE;
		str_copy(out->esc, "5.1.2", sizeof(out->esc));
		set_text(out->text, sizeof(out->text),
		    "domain %s does not exist", mx->domain ? mx->domain : "?");
		return;
	case MX_HOSTS:
	case MX_IMPLICIT:
		break;
	}

	if (!policy_is_dane(pol))
		return;
	/* Rule 16: decided by policy_validation() before the lookup. */
	if (!validation_ok)
		return;
	/* Rule 2: insecure MX RRset. */
	if (mx->state != DNS_SECURE && pol == TLS_POLICY_DANE_ONLY) {
		str_copy(out->esc, "4.7.5", sizeof(out->esc));
		set_text(out->text, sizeof(out->text),
		    "MX RRset of %s is not DNSSEC-signed (%s): dane-only "
		    "delivery impossible (dane-required)", mx->domain,
		    dns_state_name(mx->state));
		out->rpt = TLSRPT_DANE_REQUIRED;
		if (test_mode)
			set_text(out->note, sizeof(out->note),
			    "test mode: would have deferred: %s %s",
			    out->esc, out->text);
		else
			out->action = POL_MX_DEFER;
	}
}

bool
policy_addr_secure(const struct resolver_host *h)
{
	const struct dns_result *fam[2] = { h->a, h->aaaa };
	bool any = false;
	int i;

	for (i = 0; i < 2; i++) {
		if (fam[i] == NULL || !dns_result_answered(fam[i]))
			continue;
		if (fam[i]->state != DNS_SECURE)
			return false;
		any = true;
	}
	return any;
}

size_t
policy_tlsa_rrset(const struct dns_result *r, struct dane_tlsa *out)
{
	size_t i;

	if (r == NULL || r->qtype != DNS_T_TLSA ||
	    r->answer != DNS_ANSWER_DATA || r->nrr == 0)
		return 0;
	for (i = 0; i < r->nrr; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		if (r->rr[i].malformed) {
			out[i].usage = 255;	/* unusable */
			continue;
		}
		out[i].usage = r->rr[i].tlsa.usage;
		out[i].selector = r->rr[i].tlsa.selector;
		out[i].mtype = r->rr[i].tlsa.mtype;
		out[i].data = r->rr[i].tlsa.data;
		out[i].len = r->rr[i].tlsa.datalen;
	}
	return r->nrr;
}

size_t
policy_tlsa_bases(const char *name, const char *canonname, bool cname,
    bool chain_secure, bool first_link_secure, bool addr_secure,
    const char *bases[2], const char *whys[2])
{
	if (!cname || canonname == NULL || strcmp(name, canonname) == 0) {
		/* Rule 4: insecure addresses, no TLSA query. */
		if (!addr_secure)
			return 0;
		bases[0] = name;
		whys[0] = "original";
		return 1;
	}
	/* Rule 5. */
	if (chain_secure && addr_secure) {
		bases[0] = canonname;
		whys[0] = "expanded";
		bases[1] = name;
		whys[1] = "original";
		return 2;
	}
	if (first_link_secure) {
		bases[0] = name;
		whys[0] = "original";
		return 1;
	}
	return 0;
}

void
policy_host_addr(enum tls_policy pol, bool test_mode, bool validation_ok,
    const struct resolver_host *h, struct pol_host *out)
{
	memset(out, 0, sizeof(*out));
	out->action = POL_CONNECT;
	out->test_mode = test_mode;
	out->use_tlsa = true;
	out->sni = h->name;
	if (!policy_is_dane(pol) || !validation_ok || !h->cname ||
	    h->error == NULL)
		return;
	/* RFC 7672 2.1.3: an error at any stage of the expansion is a
	 * lookup failure, never an insecure link. */
	set_text(out->reason, sizeof(out->reason),
	    "lookup failure while following the CNAME of %s: %s", h->name,
	    h->error);
	str_copy(out->esc, h->error_bogus ? "4.7.5" : "4.4.3",
	    sizeof(out->esc));
	out->rpt = h->error_bogus ? TLSRPT_DNSSEC_INVALID : TLSRPT_NONE;
	out->use_tlsa = false;
	if (!test_mode) {
		out->action = POL_SKIP;
		return;
	}
	set_text(out->note, sizeof(out->note),
	    "test mode: would have skipped %s: %s %s", h->name, out->esc,
	    out->reason);
	out->level = TLS_LEVEL_MAY;
}

/* The host cannot be used: SKIP, or in test mode a note and MAY. */
static void
host_refuse(const struct pol_host_in *in, struct pol_host *out,
    const char *esc, enum tlsrpt_type rpt)
{
	str_copy(out->esc, esc, sizeof(out->esc));
	out->rpt = rpt;
	if (in->test_mode) {
		set_text(out->note, sizeof(out->note),
		    "test mode: would have skipped %s: %s %s", in->host, esc,
		    out->reason);
		out->action = POL_CONNECT;
		out->level = TLS_LEVEL_MAY;
		out->test_mode = true;
		out->use_tlsa = false;
		out->sni = in->host;
		return;
	}
	out->action = POL_SKIP;
}

/* dane behaves as may; dane-only fails the host (rules 2, 9, 13). */
static void
host_no_dane(const struct pol_host_in *in, struct pol_host *out)
{
	out->action = POL_CONNECT;
	out->level = TLS_LEVEL_MAY;
	out->sni = in->host;
	if (in->policy == TLS_POLICY_DANE_ONLY) {
		size_t l = strlen(out->reason);

		set_text(out->reason + l, sizeof(out->reason) - l,
		    ": dane-only requires DANE");
		host_refuse(in, out, "4.7.5", TLSRPT_DANE_REQUIRED);
	}
}

void
policy_host(const struct pol_host_in *in, struct pol_host *out)
{
	memset(out, 0, sizeof(*out));
	out->action = POL_CONNECT;
	out->test_mode = in->test_mode;
	out->sni = in->host;

	switch (in->policy) {
	case TLS_POLICY_NONE:
		out->level = TLS_LEVEL_NONE;
		out->sni = NULL;
		str_copy(out->reason, "policy none", sizeof(out->reason));
		return;
	case TLS_POLICY_MAY:
		out->level = TLS_LEVEL_MAY;
		str_copy(out->reason, "policy may", sizeof(out->reason));
		return;
	case TLS_POLICY_ENCRYPT:
		out->level = TLS_LEVEL_ENCRYPT;
		str_copy(out->reason, "policy encrypt", sizeof(out->reason));
		return;
	case TLS_POLICY_DANE:
	case TLS_POLICY_DANE_ONLY:
		break;
	}

	if (!in->validation_ok) {
		/* Rule 16 (dane-only was refused at the MX step). */
		str_copy(out->reason, "DNSSEC validation is not working",
		    sizeof(out->reason));
		host_no_dane(in, out);
		return;
	}
	if (in->nbases == 0) {
		/* Rules 4, 5: no TLSA query for this host. */
		set_text(out->reason, sizeof(out->reason),
		    "address records of %s are not DNSSEC-secure, no TLSA lookup",
		    in->host);
		host_no_dane(in, out);
		return;
	}
	switch (in->tlsa_state) {
	case DNS_BOGUS:
	case DNS_INDETERMINATE:
		/* Rule 8: the host is unreachable. */
		set_text(out->reason, sizeof(out->reason),
		    "TLSA lookup for %s %s", in->base,
		    in->tlsa_state == DNS_BOGUS ? "failed DNSSEC validation" :
		    "failed");
		host_refuse(in, out, in->tlsa_state == DNS_BOGUS ? "4.7.5" :
		    "4.4.3", in->tlsa_state == DNS_BOGUS ?
		    TLSRPT_DNSSEC_INVALID : TLSRPT_NONE);
		return;
	case DNS_INSECURE:
	case DNS_SECURE:
		break;
	}
	if (in->tlsa_state != DNS_SECURE || in->tlsa_answer != DNS_ANSWER_DATA ||
	    in->usable + in->unusable == 0) {
		/* Rule 9. */
		if (in->more_bases) {
			out->action = POL_NEXT_BASE;
			set_text(out->reason, sizeof(out->reason),
			    "no secure TLSA records at %s, trying the next "
			    "base domain", in->base);
			return;
		}
		set_text(out->reason, sizeof(out->reason),
		    "no secure TLSA records for %s", in->host);
		host_no_dane(in, out);
		return;
	}

	out->level = TLS_LEVEL_DANE;
	out->use_tlsa = true;
	out->base_domain = in->base;
	out->sni = in->base;			/* rule 12 */
	out->dane_required = true;
	if (in->mx_secure) {
		/* Rule 11: next-hop domain and its expansion. */
		out->ref_names[out->nref_names++] = in->domain;
		if (in->domain_canon != NULL &&
		    strcmp(in->domain_canon, in->domain) != 0)
			out->ref_names[out->nref_names++] = in->domain_canon;
	}
	if (in->usable > 0) {
		/* Rule 6. */
		out->authenticate = !in->test_mode;
		set_text(out->reason, sizeof(out->reason),
		    "%u usable TLSA records at %s: DANE authentication required",
		    in->usable, in->base);
		return;
	}
	/* Rule 7: TLS required, no authentication. */
	set_text(out->reason, sizeof(out->reason),
	    "every TLSA record at %s is unusable: TLS required, "
	    "unauthenticated", in->base);
	if (in->policy == TLS_POLICY_DANE_ONLY) {
		/* Rule 13: not DANE-authenticated. */
		size_t l = strlen(out->reason);

		set_text(out->reason + l, sizeof(out->reason) - l,
		    ": dane-only requires DANE");
		out->use_tlsa = false;
		out->base_domain = NULL;
		out->nref_names = 0;
		host_refuse(in, out, "4.7.5", TLSRPT_TLSA_INVALID);
		if (in->test_mode) {
			out->level = TLS_LEVEL_DANE;
			out->use_tlsa = true;
			out->base_domain = in->base;
			out->sni = in->base;
		}
	}
}

void
policy_secctx(const struct pol_host *p, const struct dane_tlsa *tlsa,
    size_t ntlsa, struct tls_secctx *sec)
{
	memset(sec, 0, sizeof(*sec));
	sec->level = p->level;
	sec->test_mode = p->test_mode;
	if (p->level == TLS_LEVEL_DANE && p->use_tlsa) {
		sec->tlsa = tlsa;
		sec->ntlsa = ntlsa;
		/* whether authentication is required is the policy's call,
		 * not a count of what OpenSSL accepts (rule 6) */
		sec->auth_required = p->authenticate;
		sec->base_domain = p->base_domain;
		sec->ref_names = p->nref_names ? p->ref_names : NULL;
		sec->nref_names = p->nref_names;
	} else if (p->level == TLS_LEVEL_DANE) {
		sec->level = TLS_LEVEL_ENCRYPT;
	}
	sec->sni = p->sni;
}

const char *
policy_host_text(const struct pol_host *p, const char *host, char *buf,
    size_t len)
{
	size_t i, l;

	switch (p->action) {
	case POL_SKIP:
		set_text(buf, len, "Skipping %s: %s %s%s%s%s", host, p->esc,
		    p->reason, p->rpt ? " (" : "", tlsrpt_name(p->rpt),
		    p->rpt ? ")" : "");
		return buf;
	case POL_NEXT_BASE:
		set_text(buf, len, "%s", p->reason);
		return buf;
	case POL_CONNECT:
		break;
	}
	if (p->level == TLS_LEVEL_DANE && p->use_tlsa) {
		l = (size_t)snprintf(buf, len, "%s%s; reference identifiers: %s",
		    p->test_mode ? "test mode: " : "", p->reason,
		    p->base_domain ? p->base_domain : "");
		for (i = 0; i < p->nref_names && l < len; i++)
			l += (size_t)snprintf(buf + l, len - l, ", %s",
			    p->ref_names[i]);
		return buf;
	}
	set_text(buf, len, "%s: TLS %s (%s)", host, policy_level_name(p->level),
	    p->reason);
	return buf;
}

const char *
policy_level_name(enum tls_level l)
{
	switch (l) {
	case TLS_LEVEL_NONE:
		return "none";
	case TLS_LEVEL_MAY:
		return "may";
	case TLS_LEVEL_ENCRYPT:
		return "encrypt";
	case TLS_LEVEL_DANE:
		return "dane";
	}
	return "?";
}
