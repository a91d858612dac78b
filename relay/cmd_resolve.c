/*
 * relay/cmd_resolve.c - `danerelay resolve DOMAIN` for operators: walks a
 * destination the way delivery does (MX list, then per host A/AAAA and the
 * TLSA base domains of RFC 7672 2.2.2/2.2.3) and prints every lookup with
 * its DNSSEC state. Every decision comes from the functions delivery calls
 * (relay/delivery.c): the destination's policy and overrides
 * (conf_dest_for), the validation self-check's verdict
 * (selfcheck_verdict), policy_validation, policy_mx, policy_addr_secure,
 * policy_host_addr, policy_tlsa_bases, policy_tlsa_rrset +
 * dane_tlsa_count (usability, DER parsing included) and policy_host; each
 * "verdict:" line is the text delivery logs for the same decision
 * (policy_host_text). Under a policy without DANE the TLSA records are
 * still looked up and shown, for information. A command-line tool with its
 * own event base: it waits for each lookup in turn, which is fine here and
 * never done in the daemon. Output lines start with a keyword so that
 * scripts can grep them.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/cmd_resolve.h"
#include "conf/conf.h"
#include "relay/policy.h"
#include "relay/privsep.h"
#include "relay/util.h"
#include "resolver/mx.h"
#include "resolver/resolver.h"
#include "resolver/selfcheck.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

struct cr {
	struct event_base	*base;
	struct resolver		*r;
	unsigned		 nfailed;	/* bogus or indeterminate lookups */
	bool			 done;
	struct dns_result	*res;
	struct resolver_host	*host;
	struct conf_dest	 dest;
	bool			 vok;		/* validation confirmed */
	const char		*domain;	/* next-hop domain */
	const char		*domain_canon;	/* its CNAME expansion */
	bool			 mx_secure;
};

static void
cr_res_cb(struct dns_result *res, void *arg)
{
	struct cr *c = arg;

	c->res = res;
	c->done = true;
	event_base_loopbreak(c->base);
}

static void
cr_host_cb(struct resolver_host *h, void *arg)
{
	struct cr *c = arg;

	c->host = h;
	c->done = true;
	event_base_loopbreak(c->base);
}

/* Run the loop until the one pending lookup has called back. */
static void
cr_wait(struct cr *c)
{
	while (!c->done)
		if (event_base_dispatch(c->base) == -1)
			break;
	c->done = false;
}

static void
print_hex(const unsigned char *p, size_t len, size_t max)
{
	size_t i;

	for (i = 0; i < len && i < max; i++)
		printf("%02x", p[i]);
	if (len > max)
		printf("... (%zu bytes)", len);
}

static void
print_rr(const struct dns_result *res, const struct dns_rr *rr, const char *indent)
{
	char buf[DNS_ADDR_TEXT_MAX];

	printf("%s", indent);
	if (rr->malformed) {
		printf("%s malformed rdata\n", rr_type_name(res->qtype));
		return;
	}
	switch (res->qtype) {
	case DNS_T_MX:
		printf("MX %u %s\n", rr->mx.pref, rr->mx.host);
		break;
	case DNS_T_A:
	case DNS_T_AAAA:
		printf("%s %s\n", rr_type_name(res->qtype),
		    rr_addr_ntop(&rr->addr, buf, sizeof(buf)));
		break;
	case DNS_T_TLSA:
		printf("TLSA %u %u %u ", rr->tlsa.usage, rr->tlsa.selector,
		    rr->tlsa.mtype);
		print_hex(rr->tlsa.data, rr->tlsa.datalen, 64);
		{
			/* delivery's usability test, DER parsing included */
			struct dane_tlsa t = { rr->tlsa.usage, rr->tlsa.selector,
			    rr->tlsa.mtype, rr->tlsa.data, rr->tlsa.datalen };
			enum dane_usability u = dane_tlsa_check(&t);

			printf(" (%s)\n", u == DANE_USABLE ? "usable" :
			    dane_usability_text(u));
		}
		break;
	case DNS_T_CNAME:
		printf("CNAME %s\n", rr->target);
		break;
	default:
		printf("%s record\n", rr_type_name(res->qtype));
	}
}

/*
 * "TYPE QNAME: STATE[, N records|, NODATA|, NXDOMAIN][, ttl T]
 * [, CNAME -> CANON][: reason]" and
 * the records, one per line. Counts a failed lookup.
 */
static void
print_result(struct cr *c, const char *indent, const struct dns_result *res)
{
	char	sub[32];
	size_t	i;

	printf("%s%s %s: %s", indent, rr_type_name(res->qtype), res->qname,
	    dns_state_name(res->state));
	if (res->answer == DNS_ANSWER_DATA)
		printf(", %zu record%s", res->nrr, res->nrr == 1 ? "" : "s");
	else if (res->answer == DNS_ANSWER_NODATA)
		printf(", NODATA");
	else if (res->answer == DNS_ANSWER_NXDOMAIN)
		printf(", NXDOMAIN");
	if (dns_result_answered(res))
		printf(", ttl %u", res->ttl);
	if (res->cname)
		printf(", CNAME -> %s", res->canonname);
	if (res->reason != NULL)
		printf(": %s", res->reason);
	printf("\n");
	if (!dns_result_answered(res))
		c->nfailed++;
	/* Records of a bogus answer are not shown: nothing may use them. */
	if (res->state != DNS_BOGUS) {
		snprintf(sub, sizeof(sub), "%s    ", indent);
		for (i = 0; i < res->nrr; i++)
			print_rr(res, &res->rr[i], sub);
	}
}

/* TLSA at _PORT._tcp.BASE, printed; the result stays in c->res. */
static void
cr_tlsa(struct cr *c, const char *base, const char *why, int port,
    struct dane_counts *cnt)
{
	struct dane_tlsa *dt = NULL;
	size_t n = 0;

	printf("    TLSA base %s (%s)\n", base, why);
	resolver_lookup_tlsa(c->r, base, (unsigned)port, cr_res_cb, c);
	cr_wait(c);
	print_result(c, "      ", c->res);
	if (c->res->answer == DNS_ANSWER_DATA && c->res->nrr > 0) {
		dt = xcalloc(c->res->nrr, sizeof(*dt));
		n = policy_tlsa_rrset(c->res, dt);
	}
	dane_tlsa_count(dt, n, cnt);
	free(dt);
	if (c->res->state == DNS_SECURE && c->res->answer == DNS_ANSWER_DATA)
		printf("      TLSA verdict: secure, %u usable, %u unusable: %s\n",
		    cnt->usable, cnt->unusable, cnt->usable > 0 ?
		    "authenticated TLS required" : "TLS required, no authentication");
	else if (c->res->state == DNS_INSECURE && c->res->answer == DNS_ANSWER_DATA)
		printf("      TLSA verdict: insecure records are not used\n");
}

/* Print a policy_host() decision as delivery logs it. */
static void
cr_verdict(const struct pol_host *ph, const char *host)
{
	char text[900];

	if (ph->note[0] != '\0')
		printf("    verdict: %s\n", ph->note);
	printf("    verdict: %s\n", policy_host_text(ph, host, text,
	    sizeof(text)));
}

static void
cr_host_in(struct cr *c, const char *host, bool addr_secure,
    struct pol_host_in *in)
{
	memset(in, 0, sizeof(*in));
	in->policy = c->dest.tls_policy;
	in->test_mode = c->dest.test_mode;
	in->validation_ok = c->vok;
	in->mx_secure = c->mx_secure;
	in->domain = c->domain;
	in->domain_canon = c->domain_canon;
	in->host = host;
	in->addr_secure = addr_secure;
}

static void
cr_host(struct cr *c, const char *name, int port, size_t *budget)
{
	struct resolver_host	*h;
	struct dns_result	*fam[2];
	struct pol_host_in	 in;
	struct pol_host		 ph;
	struct dane_counts	 cnt;
	const char		*bases[2], *whys[2], *why;
	size_t			 i, j, naddr = 0, nbases;
	bool			 dane, addr_secure, found = false;
	char			 buf[DNS_ADDR_TEXT_MAX];

	resolver_lookup_host(c->r, name, RESOLVER_V4 | RESOLVER_V6, cr_host_cb, c);
	cr_wait(c);
	h = c->host;
	c->host = NULL;
	if (h->cname) {
		printf("    CNAME %s -> %s: chain %s", h->name, h->canonname,
		    h->chain_secure ? "secure" : "not secure");
		if (!h->chain_secure)
			printf(", first link %s", h->first_link_secure ? "secure" : "not secure");
		printf("\n");
		if (h->first_link != NULL)
			print_result(c, "      ", h->first_link);
		if (h->error != NULL)
			printf("    CNAME expansion not settled: %s\n", h->error);
	}
	fam[0] = h->a;
	fam[1] = h->aaaa;
	for (i = 0; i < 2; i++) {
		print_result(c, "    ", fam[i]);
		if (!dns_result_answered(fam[i]) ||
		    fam[i]->answer != DNS_ANSWER_DATA)
			continue;
		for (j = 0; j < fam[i]->nrr; j++) {
			if (fam[i]->rr[j].malformed)
				continue;
			if (*budget == 0) {
				printf("    address %s: not tried (max_mx_addresses reached)\n",
				    rr_addr_ntop(&fam[i]->rr[j].addr, buf, sizeof(buf)));
				continue;
			}
			(*budget)--;
			naddr++;
			printf("    address %s (%s)\n",
			    rr_addr_ntop(&fam[i]->rr[j].addr, buf, sizeof(buf)),
			    fam[i]->state == DNS_SECURE ? "DNSSEC" : "insecure");
		}
	}
	if (naddr == 0) {
		printf("    TLSA not looked up: no address\n");
		printf("    verdict: no usable address for %s\n", h->name);
		resolver_host_free(h);
		return;
	}

	/* The decisions delivery makes, in its order (host_cb, tlsa_cb). */
	addr_secure = policy_addr_secure(h);
	policy_host_addr(c->dest.tls_policy, c->dest.test_mode, c->vok, h, &ph);
	if (ph.action == POL_SKIP) {
		cr_verdict(&ph, h->name);
		resolver_host_free(h);
		return;
	}
	if (ph.note[0] != '\0')
		printf("    verdict: %s\n", ph.note);
	dane = (c->dest.tls_policy == TLS_POLICY_DANE ||
	    c->dest.tls_policy == TLS_POLICY_DANE_ONLY) && c->vok && ph.use_tlsa;
	/* the bases are shown under every policy; only DANE uses them */
	nbases = policy_tlsa_bases(h->name, h->canonname, h->cname,
	    h->chain_secure, h->first_link_secure, addr_secure, bases, whys);
	if (nbases == 0)
		printf("    TLSA not looked up: %s\n", h->cname ?
		    "CNAME chain not secure" : "address records not secure");
	for (i = 0; i < nbases && !found; i++) {
		if (!h->cname)
			why = "host name";
		else if (h->chain_secure && addr_secure)
			why = i == 0 ? "expanded name" : "original name";
		else
			why = "original name, first CNAME secure";
		cr_tlsa(c, bases[i], why, port, &cnt);
		if (dane) {
			cr_host_in(c, h->name, addr_secure, &in);
			in.nbases = nbases;
			in.base = bases[i];
			in.more_bases = i + 1 < nbases;
			in.tlsa_state = c->res->state;
			in.tlsa_answer = c->res->answer;
			in.usable = cnt.usable;
			in.unusable = cnt.unusable;
			policy_host(&in, &ph);
			cr_verdict(&ph, h->name);
			found = ph.action != POL_NEXT_BASE;
		} else
			found = c->res->state == DNS_SECURE &&
			    c->res->answer == DNS_ANSWER_DATA;
		dns_result_free(c->res);
		c->res = NULL;
	}
	if (!dane || nbases == 0) {
		cr_host_in(c, h->name, addr_secure, &in);
		in.nbases = dane ? nbases : 0;
		policy_host(&in, &ph);
		cr_verdict(&ph, h->name);
	}
	resolver_host_free(h);
}

/* The self-check delivery runs (resolver/selfcheck.c), once. */
static enum dnssec_validation
cr_validation(struct cr *c, char *detail, size_t len)
{
	enum dnssec_validation v;

	resolver_lookup(c->r, resolver_anchor_name(c->r), DNS_T_DNSKEY,
	    cr_res_cb, c);
	cr_wait(c);
	v = selfcheck_verdict(c->res, detail, len);
	dns_result_free(c->res);
	c->res = NULL;
	printf("validation: %s: %s\n", dnssec_validation_name(v), detail);
	return v;
}

int
cmd_resolve(const struct conf *conf, const char *domain, int port)
{
	const struct conf_domain *matched = NULL, *expired = NULL;
	struct cr	 c;
	struct mx_list	 l;
	struct pol_mx	 pmx;
	enum dnssec_validation v;
	char		 err[512], vdetail[400];
	size_t		 i, budget;

	memset(&c, 0, sizeof(c));
	c.dest = conf_dest_for(conf, domain, time(NULL), &matched, &expired);
	if (port <= 0 || port > 65535)
		port = c.dest.remote_port ? (int)c.dest.remote_port : 25;
	if ((c.base = event_base_new()) == NULL) {
		fprintf(stderr, "danerelay: resolve: cannot create an event base\n");
		return 2;
	}
	c.r = resolver_new(c.base, conf->resolver_config, conf->trust_anchor_file,
	    err, sizeof(err));
	if (c.r == NULL) {
		fprintf(stderr, "danerelay: %s\n", err);
		event_base_free(c.base);
		return 2;
	}
	/* what DNS sends is parsed without root (relay/privsep.h) */
	if (privsep_tool_drop(conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "danerelay: resolve: %s\n", err);
		resolver_free(c.r);
		event_base_free(c.base);
		return 2;
	}
	printf("resolve %s port %d\n", domain, port);
	printf("policy: %s%s", conf_tls_policy_name(c.dest.tls_policy),
	    c.dest.test_mode ? " (test mode)" : "");
	if (matched != NULL)
		printf(", override [domain %s%s]%s%s", matched->subdomains ?
		    "." : "", matched->name, matched->reason ? ": " : "",
		    matched->reason ? matched->reason : "");
	if (expired != NULL)
		printf(", override [domain %s%s] expired", expired->subdomains ?
		    "." : "", expired->name);
	printf("\n");

	v = cr_validation(&c, vdetail, sizeof(vdetail));
	c.vok = v == VALIDATION_OK;
	if (!c.vok)
		c.nfailed++;
	policy_validation(c.dest.tls_policy, c.dest.test_mode, v, domain,
	    vdetail, &pmx);
	if (pmx.note[0] != '\0')
		printf("verdict: %s\n", pmx.note);
	if (pmx.action == POL_MX_DEFER)
		printf("verdict: defer %s %s (the lookups below are shown for "
		    "information)\n", pmx.esc, pmx.text);

	resolver_lookup_mx(c.r, domain, cr_res_cb, &c);
	cr_wait(&c);
	print_result(&c, "", c.res);
	mx_list_build(&l, c.res, conf->max_mx_hosts, conf->max_mx_addresses, 0);
	policy_mx(c.dest.tls_policy, c.dest.test_mode, c.vok, &l,
	    c.res->reason, &pmx);
	dns_result_free(c.res);
	c.res = NULL;
	c.domain = l.domain ? l.domain : domain;
	c.domain_canon = l.canonname ? l.canonname : c.domain;
	c.mx_secure = l.state == DNS_SECURE;

	switch (l.status) {
	case MX_ERROR:
		printf("mx: error: MX lookup %s, delivery defers\n", dns_state_name(l.state));
		break;
	case MX_NXDOMAIN:
		printf("mx: nxdomain: %s does not exist (%s)\n", l.domain,
		    dns_state_name(l.state));
		break;
	case MX_NULL:
		printf("mx: null MX: %s accepts no mail (RFC 7505, %s)\n", l.domain,
		    dns_state_name(l.state));
		break;
	case MX_IMPLICIT:
		printf("mx: implicit: no MX records, %s itself (RFC 5321 5.1, %s)\n",
		    l.domain, dns_state_name(l.state));
		break;
	case MX_HOSTS:
		printf("mx: %s, %zu host%s%s\n", dns_state_name(l.state), l.nhosts,
		    l.nhosts == 1 ? "" : "s", l.state == DNS_SECURE ? "" :
		    " (MX insecure: DANE does not apply to the domain itself)");
		break;
	}
	if (pmx.note[0] != '\0')
		printf("verdict: %s\n", pmx.note);
	if (pmx.action != POL_MX_GO)
		printf("verdict: %s %s %s\n", pmx.action == POL_MX_DEFER ?
		    "defer" : "bounce", pmx.esc, pmx.text);
	budget = l.addr_budget;
	for (i = 0; i < l.nhosts && pmx.action == POL_MX_GO; i++) {
		printf("host %zu: %s pref %u\n", i + 1, l.hosts[i].name, l.hosts[i].pref);
		cr_host(&c, l.hosts[i].name, port, &budget);
	}
	if (l.ncut > 0)
		printf("mx: %zu more host%s not tried (max_mx_hosts %u)\n", l.ncut,
		    l.ncut == 1 ? "" : "s", conf->max_mx_hosts);
	mx_list_clear(&l);

	if (c.nfailed == 0)
		printf("result: every lookup answered\n");
	else
		printf("result: %u lookup%s failed (bogus or indeterminate)\n",
		    c.nfailed, c.nfailed == 1 ? "" : "s");
	resolver_free(c.r);
	event_base_free(c.base);
	return c.nfailed == 0 ? 0 : 1;
}
