/*
 * relay/cmd_resolve.c - `danerelay resolve DOMAIN` for operators: walks a
 * destination the way delivery does (MX list, then per host A/AAAA and the
 * TLSA base domains of RFC 7672 2.2.2/2.2.3) and prints every lookup with
 * its DNSSEC state. A command-line tool with its own event base: it waits
 * for each lookup in turn, which is fine here and never done in the daemon.
 * Output lines start with a keyword so that scripts can grep them.
 */
#include "relay/cmd_resolve.h"
#include "conf/conf.h"
#include "resolver/mx.h"
#include "resolver/resolver.h"

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
	bool			 check_ok;
	char			 check_detail[640];
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

static void
cr_check_cb(bool ok, const char *detail, void *arg)
{
	struct cr *c = arg;

	c->check_ok = ok;
	snprintf(c->check_detail, sizeof(c->check_detail), "%s", detail);
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
		printf(" (%s)\n", rr_tlsa_usable(&rr->tlsa) ? "usable" : "unusable");
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

/* TLSA at _PORT._tcp.BASE; true if a secure RRset with records was found. */
static bool
cr_tlsa(struct cr *c, const char *base, const char *why, int port)
{
	bool found;
	size_t i, usable = 0;

	printf("    TLSA base %s (%s)\n", base, why);
	resolver_lookup_tlsa(c->r, base, (unsigned)port, cr_res_cb, c);
	cr_wait(c);
	print_result(c, "      ", c->res);
	found = c->res->state == DNS_SECURE && c->res->answer == DNS_ANSWER_DATA;
	if (found) {
		for (i = 0; i < c->res->nrr; i++)
			if (!c->res->rr[i].malformed && rr_tlsa_usable(&c->res->rr[i].tlsa))
				usable++;
		printf("      TLSA verdict: secure, %zu usable, %zu unusable: %s\n",
		    usable, c->res->nrr - usable, usable > 0 ?
		    "authenticated TLS required" : "TLS required, no authentication");
	} else if (c->res->state == DNS_INSECURE && c->res->answer == DNS_ANSWER_DATA)
		printf("      TLSA verdict: insecure records are not used\n");
	dns_result_free(c->res);
	c->res = NULL;
	return found;
}

static void
cr_host(struct cr *c, const char *name, int port, size_t *budget)
{
	struct resolver_host	*h;
	struct dns_result	*fam[2];
	size_t			 i, j, nanswered = 0, nsecure = 0, naddr = 0;
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
	}
	fam[0] = h->a;
	fam[1] = h->aaaa;
	for (i = 0; i < 2; i++) {
		print_result(c, "    ", fam[i]);
		if (!dns_result_answered(fam[i]))
			continue;
		nanswered++;
		if (fam[i]->state == DNS_SECURE)
			nsecure++;
		if (fam[i]->answer != DNS_ANSWER_DATA)
			continue;
		for (j = 0; j < fam[i]->nrr; j++) {
			naddr++;
			if (*budget == 0) {
				printf("    address %s: not tried (max_mx_addresses reached)\n",
				    rr_addr_ntop(&fam[i]->rr[j].addr, buf, sizeof(buf)));
				continue;
			}
			(*budget)--;
			printf("    address %s (%s)\n",
			    rr_addr_ntop(&fam[i]->rr[j].addr, buf, sizeof(buf)),
			    fam[i]->state == DNS_SECURE ? "DNSSEC" : "insecure");
		}
	}

	/* The TLSA base domains delivery would try (RFC 7672 2.2.2, 2.2.3). */
	if (naddr == 0)
		printf("    TLSA not looked up: no address\n");
	else if (h->cname && h->chain_secure) {
		if (!cr_tlsa(c, h->canonname, "expanded name", port))
			cr_tlsa(c, h->name, "original name", port);
	} else if (h->cname && h->first_link_secure)
		cr_tlsa(c, h->name, "original name, first CNAME secure", port);
	else if (h->cname)
		printf("    TLSA not looked up: CNAME chain not secure\n");
	else if (nsecure > 0 && nsecure == nanswered)
		cr_tlsa(c, h->name, "host name", port);
	else
		printf("    TLSA not looked up: address records not secure\n");
	resolver_host_free(h);
}

int
cmd_resolve(const struct conf *conf, const char *domain, int port)
{
	struct cr	 c;
	struct mx_list	 l;
	char		 err[512];
	size_t		 i, budget;

	memset(&c, 0, sizeof(c));
	if (port <= 0 || port > 65535)
		port = 25;
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
	printf("resolve %s port %d\n", domain, port);

	resolver_check_validation(c.r, cr_check_cb, &c);
	cr_wait(&c);
	printf("validation: %s: %s\n", c.check_ok ? "ok" : "FAILED", c.check_detail);
	if (!c.check_ok)
		c.nfailed++;

	resolver_lookup_mx(c.r, domain, cr_res_cb, &c);
	cr_wait(&c);
	print_result(&c, "", c.res);
	mx_list_build(&l, c.res, conf->max_mx_hosts, conf->max_mx_addresses, 0);
	dns_result_free(c.res);
	c.res = NULL;

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
	budget = l.addr_budget;
	for (i = 0; i < l.nhosts; i++) {
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
