/*
 * tests/unit/test_policy.c - relay/policy.c over every rule it decides
 * (RFC 7672: MX and TLSA states, CNAME expansion, usability, validation
 * self-check) and test mode: table-driven, no network.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include <string.h>

#include "relay/policy.h"
#include "tests/unit/check.h"

struct mx_case {
	const char		*name;
	enum tls_policy		 pol;
	bool			 test_mode, valid;
	enum mx_status		 status;
	enum dns_state		 state;
	enum pol_mx_action	 want;
	const char		*esc;
	enum tlsrpt_type	 rpt;
	bool			 secure;
	bool			 note;
};

static const struct mx_case mx_cases[] = {
	{ "r1 error", TLS_POLICY_DANE, false, true, MX_ERROR, DNS_INDETERMINATE, POL_MX_DEFER, "4.4.3", TLSRPT_NONE, false, false },
	{ "r1 bogus", TLS_POLICY_DANE, false, true, MX_ERROR, DNS_BOGUS, POL_MX_DEFER, "4.7.5", TLSRPT_DNSSEC_INVALID, false, false },
	{ "r1 bogus may", TLS_POLICY_MAY, false, true, MX_ERROR, DNS_BOGUS, POL_MX_DEFER, "4.7.5", TLSRPT_DNSSEC_INVALID, false, false },
	{ "r1 bogus test", TLS_POLICY_DANE, true, true, MX_ERROR, DNS_BOGUS, POL_MX_DEFER, "4.7.5", TLSRPT_DNSSEC_INVALID, false, false },
	{ "null mx", TLS_POLICY_DANE, false, true, MX_NULL, DNS_SECURE, POL_MX_BOUNCE, "5.1.10", TLSRPT_NONE, true, false },
	{ "nxdomain", TLS_POLICY_DANE, false, true, MX_NXDOMAIN, DNS_SECURE, POL_MX_BOUNCE, "5.1.2", TLSRPT_NONE, true, false },
	{ "r3 secure", TLS_POLICY_DANE, false, true, MX_HOSTS, DNS_SECURE, POL_MX_GO, "", TLSRPT_NONE, true, false },
	{ "r2 insecure dane", TLS_POLICY_DANE, false, true, MX_HOSTS, DNS_INSECURE, POL_MX_GO, "", TLSRPT_NONE, false, false },
	{ "r2 insecure dane-only", TLS_POLICY_DANE_ONLY, false, true, MX_HOSTS, DNS_INSECURE, POL_MX_DEFER, "4.7.5", TLSRPT_DANE_REQUIRED, false, false },
	{ "r2 insecure dane-only test", TLS_POLICY_DANE_ONLY, true, true, MX_HOSTS, DNS_INSECURE, POL_MX_GO, "4.7.5", TLSRPT_DANE_REQUIRED, false, true },
	{ "r2 implicit insecure dane-only", TLS_POLICY_DANE_ONLY, false, true, MX_IMPLICIT, DNS_INSECURE, POL_MX_DEFER, "4.7.5", TLSRPT_DANE_REQUIRED, false, false },
	/* rule 16 is policy_validation()'s: policy_mx only skips rule 2 */
	{ "r16 dane-only decided before", TLS_POLICY_DANE_ONLY, false, false, MX_HOSTS, DNS_INSECURE, POL_MX_GO, "", TLSRPT_NONE, false, false },
	{ "r16 dane decided before", TLS_POLICY_DANE, false, false, MX_HOSTS, DNS_SECURE, POL_MX_GO, "", TLSRPT_NONE, true, false },
	{ "may insecure", TLS_POLICY_MAY, false, true, MX_HOSTS, DNS_INSECURE, POL_MX_GO, "", TLSRPT_NONE, false, false },
};

static void
test_mx(void)
{
	size_t i;

	for (i = 0; i < sizeof(mx_cases) / sizeof(mx_cases[0]); i++) {
		const struct mx_case *c = &mx_cases[i];
		struct mx_list mx;
		struct pol_mx out;

		memset(&mx, 0, sizeof(mx));
		mx.status = c->status;
		mx.state = c->state;
		mx.domain = (char *)"b.test";
		policy_mx(c->pol, c->test_mode, c->valid, &mx, "why", &out);
		int f0 = check_failed;

		CHECK_INT(out.action, c->want);
		CHECK_STR(out.esc, c->esc);
		CHECK_INT(out.rpt, c->rpt);
		CHECK_INT(out.secure, c->secure);
		CHECK_INT(out.note[0] != '\0', c->note);
		if (check_failed != f0)
			fprintf(stderr, "  in mx case %s\n", c->name);
	}
}

static void
test_bases(void)
{
	const char *b[2], *w[2];

	/* rule 4 */
	CHECK_INT(policy_tlsa_bases("mx.a", "mx.a", false, false, false, true, b, w), 1);
	CHECK_STR(b[0], "mx.a");
	CHECK_STR(w[0], "original");
	CHECK_INT(policy_tlsa_bases("mx.a", "mx.a", false, false, false, false, b, w), 0);
	/* rule 5: secure chain: expanded then original */
	CHECK_INT(policy_tlsa_bases("mx.a", "real.b", true, true, true, true, b, w), 2);
	CHECK_STR(b[0], "real.b");
	CHECK_STR(w[0], "expanded");
	CHECK_STR(b[1], "mx.a");
	CHECK_STR(w[1], "original");
	/* insecure chain, secure first link: original only */
	CHECK_INT(policy_tlsa_bases("mx.a", "real.b", true, false, true, false, b, w), 1);
	CHECK_STR(b[0], "mx.a");
	/* insecure first link: no DANE */
	CHECK_INT(policy_tlsa_bases("mx.a", "real.b", true, false, false, false, b, w), 0);
}

struct host_case {
	const char		*name;
	enum tls_policy		 pol;
	bool			 test_mode, mx_secure, addr_secure;
	size_t			 nbases;
	bool			 more;
	enum dns_state		 ts;
	enum dns_answer		 ta;
	unsigned		 usable, unusable;
	/* want */
	enum pol_action		 action;
	enum tls_level		 level;
	bool			 use_tlsa;
	const char		*esc;
	enum tlsrpt_type	 rpt;
	size_t			 nrefs;
	bool			 note;
};

static const struct host_case host_cases[] = {
	{ "none", TLS_POLICY_NONE, false, true, true, 0, false, 0, 0, 0, 0, POL_CONNECT, TLS_LEVEL_NONE, false, "", TLSRPT_NONE, 0, false },
	{ "may", TLS_POLICY_MAY, false, true, true, 0, false, 0, 0, 0, 0, POL_CONNECT, TLS_LEVEL_MAY, false, "", TLSRPT_NONE, 0, false },
	{ "encrypt", TLS_POLICY_ENCRYPT, false, true, true, 0, false, 0, 0, 0, 0, POL_CONNECT, TLS_LEVEL_ENCRYPT, false, "", TLSRPT_NONE, 0, false },
	{ "r4 insecure addr dane", TLS_POLICY_DANE, false, true, false, 0, false, 0, 0, 0, 0, POL_CONNECT, TLS_LEVEL_MAY, false, "", TLSRPT_NONE, 0, false },
	{ "r4 insecure addr dane-only", TLS_POLICY_DANE_ONLY, false, true, false, 0, false, 0, 0, 0, 0, POL_SKIP, TLS_LEVEL_MAY, false, "4.7.5", TLSRPT_DANE_REQUIRED, 0, false },
	{ "r6 usable", TLS_POLICY_DANE, false, true, true, 1, false, DNS_SECURE, DNS_ANSWER_DATA, 2, 0, POL_CONNECT, TLS_LEVEL_DANE, true, "", TLSRPT_NONE, 1, false },
	{ "r6 usable + unusable", TLS_POLICY_DANE_ONLY, false, true, true, 1, false, DNS_SECURE, DNS_ANSWER_DATA, 1, 3, POL_CONNECT, TLS_LEVEL_DANE, true, "", TLSRPT_NONE, 1, false },
	{ "r2/r11 insecure mx: no refs", TLS_POLICY_DANE, false, false, true, 1, false, DNS_SECURE, DNS_ANSWER_DATA, 1, 0, POL_CONNECT, TLS_LEVEL_DANE, true, "", TLSRPT_NONE, 0, false },
	{ "r6 test mode", TLS_POLICY_DANE, true, true, true, 1, false, DNS_SECURE, DNS_ANSWER_DATA, 1, 0, POL_CONNECT, TLS_LEVEL_DANE, true, "", TLSRPT_NONE, 1, false },
	{ "r7 all unusable dane", TLS_POLICY_DANE, false, true, true, 1, false, DNS_SECURE, DNS_ANSWER_DATA, 0, 2, POL_CONNECT, TLS_LEVEL_DANE, true, "", TLSRPT_NONE, 1, false },
	{ "r7/r13 all unusable dane-only", TLS_POLICY_DANE_ONLY, false, true, true, 1, false, DNS_SECURE, DNS_ANSWER_DATA, 0, 2, POL_SKIP, TLS_LEVEL_MAY, false, "4.7.5", TLSRPT_TLSA_INVALID, 0, false },
	{ "r8 bogus", TLS_POLICY_DANE, false, true, true, 1, false, DNS_BOGUS, DNS_ANSWER_NONE, 0, 0, POL_SKIP, TLS_LEVEL_NONE, false, "4.7.5", TLSRPT_DNSSEC_INVALID, 0, false },
	{ "r8 servfail", TLS_POLICY_DANE, false, true, true, 1, false, DNS_INDETERMINATE, DNS_ANSWER_NONE, 0, 0, POL_SKIP, TLS_LEVEL_NONE, false, "4.4.3", TLSRPT_NONE, 0, false },
	{ "r8 bogus test mode", TLS_POLICY_DANE, true, true, true, 1, false, DNS_BOGUS, DNS_ANSWER_NONE, 0, 0, POL_CONNECT, TLS_LEVEL_MAY, false, "4.7.5", TLSRPT_DNSSEC_INVALID, 0, true },
	{ "r8 bogus with more bases", TLS_POLICY_DANE, false, true, true, 2, true, DNS_BOGUS, DNS_ANSWER_NONE, 0, 0, POL_SKIP, TLS_LEVEL_NONE, false, "4.7.5", TLSRPT_DNSSEC_INVALID, 0, false },
	{ "r9 nodata next base", TLS_POLICY_DANE, false, true, true, 2, true, DNS_SECURE, DNS_ANSWER_NODATA, 0, 0, POL_NEXT_BASE, TLS_LEVEL_NONE, false, "", TLSRPT_NONE, 0, false },
	{ "r9 nxdomain dane", TLS_POLICY_DANE, false, true, true, 1, false, DNS_SECURE, DNS_ANSWER_NXDOMAIN, 0, 0, POL_CONNECT, TLS_LEVEL_MAY, false, "", TLSRPT_NONE, 0, false },
	{ "r9 insecure tlsa dane", TLS_POLICY_DANE, false, true, true, 1, false, DNS_INSECURE, DNS_ANSWER_DATA, 1, 0, POL_CONNECT, TLS_LEVEL_MAY, false, "", TLSRPT_NONE, 0, false },
	{ "r9/r13 nodata dane-only", TLS_POLICY_DANE_ONLY, false, true, true, 1, false, DNS_SECURE, DNS_ANSWER_NODATA, 0, 0, POL_SKIP, TLS_LEVEL_MAY, false, "4.7.5", TLSRPT_DANE_REQUIRED, 0, false },
	{ "r13 dane-only test mode", TLS_POLICY_DANE_ONLY, true, true, true, 1, false, DNS_SECURE, DNS_ANSWER_NODATA, 0, 0, POL_CONNECT, TLS_LEVEL_MAY, false, "4.7.5", TLSRPT_DANE_REQUIRED, 0, true },
};

static void
test_host(void)
{
	size_t i;

	for (i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++) {
		const struct host_case *c = &host_cases[i];
		struct pol_host_in in;
		struct pol_host out;
		struct tls_secctx sec;
		int f0 = check_failed;

		memset(&in, 0, sizeof(in));
		in.policy = c->pol;
		in.test_mode = c->test_mode;
		in.validation_ok = true;
		in.mx_secure = c->mx_secure;
		in.domain = "b.test";
		in.domain_canon = "b.test";
		in.host = "mx.b.test";
		in.addr_secure = c->addr_secure;
		in.nbases = c->nbases;
		in.base = "mx.b.test";
		in.more_bases = c->more;
		in.tlsa_state = c->ts;
		in.tlsa_answer = c->ta;
		in.usable = c->usable;
		in.unusable = c->unusable;
		policy_host(&in, &out);
		CHECK_INT(out.action, c->action);
		if (c->action == POL_CONNECT)
			CHECK_INT(out.level, c->level);
		CHECK_INT(out.use_tlsa, c->use_tlsa);
		CHECK_STR(out.esc, c->esc);
		CHECK_INT(out.rpt, c->rpt);
		CHECK_INT(out.nref_names, c->nrefs);
		CHECK_INT(out.note[0] != '\0', c->note);
		CHECK_INT(out.test_mode, c->test_mode);
		/* rule 6: authentication required iff usable records, and
		 * that verdict (not OpenSSL's count) reaches the TLS layer */
		CHECK_INT(out.authenticate, c->action == POL_CONNECT &&
		    c->level == TLS_LEVEL_DANE && c->usable > 0 && !c->test_mode);
		if (out.use_tlsa) {
			/* rule 12: SNI = base domain */
			CHECK_STR(out.sni, "mx.b.test");
			CHECK_STR(out.base_domain, "mx.b.test");
			CHECK(out.dane_required);
		}
		policy_secctx(&out, NULL, 0, &sec);
		if (out.level == TLS_LEVEL_DANE && !out.use_tlsa)
			CHECK_INT(sec.level, TLS_LEVEL_ENCRYPT);
		CHECK_INT(sec.auth_required, out.authenticate &&
		    out.level == TLS_LEVEL_DANE && out.use_tlsa);
		if (check_failed != f0)
			fprintf(stderr, "  in host case %s\n", c->name);
	}
}

static void
test_refs(void)
{
	struct pol_host_in in;
	struct pol_host out;

	/* rule 11: next-hop domain and its CNAME expansion when MX secure */
	memset(&in, 0, sizeof(in));
	in.policy = TLS_POLICY_DANE;
	in.validation_ok = true;
	in.mx_secure = true;
	in.domain = "b.test";
	in.domain_canon = "real-b.test";
	in.host = "mx.b.test";
	in.addr_secure = true;
	in.nbases = 2;
	in.base = "mx.c.test";
	in.tlsa_state = DNS_SECURE;
	in.tlsa_answer = DNS_ANSWER_DATA;
	in.usable = 1;
	policy_host(&in, &out);
	CHECK_INT(out.nref_names, 2);
	CHECK_STR(out.ref_names[0], "b.test");
	CHECK_STR(out.ref_names[1], "real-b.test");
	CHECK_STR(out.base_domain, "mx.c.test");
	CHECK_STR(out.sni, "mx.c.test");
	/* rule 16 under dane: no DANE, may */
	in.validation_ok = false;
	policy_host(&in, &out);
	CHECK_INT(out.action, POL_CONNECT);
	CHECK_INT(out.level, TLS_LEVEL_MAY);
}

struct val_case {
	const char		*name;
	enum tls_policy		 pol;
	bool			 test_mode;
	enum dnssec_validation	 v;
	/* want */
	enum pol_mx_action	 action;
	const char		*esc;
	enum tlsrpt_type	 rpt;
	const char		*text;	/* substring of text, or of note */
	bool			 warn;
};

static const struct val_case val_cases[] = {
	{ "ok dane", TLS_POLICY_DANE, false, VALIDATION_OK, POL_MX_GO, "", TLSRPT_NONE, NULL, false },
	{ "may never asks", TLS_POLICY_MAY, false, VALIDATION_UNCONFIRMED, POL_MX_GO, "", TLSRPT_NONE, NULL, false },
	{ "encrypt never asks", TLS_POLICY_ENCRYPT, false, VALIDATION_BROKEN, POL_MX_GO, "", TLSRPT_NONE, NULL, false },
	/* DNS did not answer the self-check: defer, never "without DANE" */
	{ "pending dane", TLS_POLICY_DANE, false, VALIDATION_PENDING, POL_MX_DEFER, "4.7.5", TLSRPT_NONE, "DNSSEC validation not confirmed (DNSKEY .: no answer (SERVFAIL))", false },
	{ "unconfirmed dane", TLS_POLICY_DANE, false, VALIDATION_UNCONFIRMED, POL_MX_DEFER, "4.7.5", TLSRPT_NONE, "DNSSEC validation not confirmed", false },
	{ "unconfirmed dane-only", TLS_POLICY_DANE_ONLY, false, VALIDATION_UNCONFIRMED, POL_MX_DEFER, "4.7.5", TLSRPT_NONE, "DNSSEC validation not confirmed", false },
	{ "unconfirmed test mode", TLS_POLICY_DANE, true, VALIDATION_UNCONFIRMED, POL_MX_GO, "", TLSRPT_NONE, "test mode: would have deferred: 4.7.5 DNSSEC validation not confirmed", false },
	/* the validator positively does not validate */
	{ "broken dane-only", TLS_POLICY_DANE_ONLY, false, VALIDATION_BROKEN, POL_MX_DEFER, "4.7.5", TLSRPT_DANE_REQUIRED, "DNSSEC validation is not working", false },
	{ "broken dane-only test", TLS_POLICY_DANE_ONLY, true, VALIDATION_BROKEN, POL_MX_GO, "", TLSRPT_NONE, "test mode: would have deferred: 4.7.5 DNSSEC validation is not working", false },
	{ "broken dane warns", TLS_POLICY_DANE, false, VALIDATION_BROKEN, POL_MX_GO, "", TLSRPT_NONE, "WARNING: DNSSEC validation is not working: DANE cannot be used for b.test", true },
};

static void
test_validation(void)
{
	size_t i;

	for (i = 0; i < sizeof(val_cases) / sizeof(val_cases[0]); i++) {
		const struct val_case *c = &val_cases[i];
		struct pol_mx out;
		int f0 = check_failed;

		policy_validation(c->pol, c->test_mode, c->v, "b.test",
		    "DNSKEY .: no answer (SERVFAIL)", &out);
		CHECK_INT(out.action, c->action);
		CHECK_STR(out.esc, c->esc);
		CHECK_INT(out.rpt, c->rpt);
		CHECK_INT(out.note_warn, c->warn);
		if (c->text == NULL)
			CHECK(out.text[0] == '\0' && out.note[0] == '\0');
		else
			CHECK(strstr(out.action == POL_MX_DEFER ? out.text :
			    out.note, c->text) != NULL);
		if (check_failed != f0)
			fprintf(stderr, "  in validation case %s: text \"%s\" "
			    "note \"%s\"\n", c->name, out.text, out.note);
	}
}

/* RFC 7672 2.1.3: an unsettled CNAME expansion is a lookup failure. */
static void
test_host_addr(void)
{
	struct resolver_host h;
	struct pol_host out;

	memset(&h, 0, sizeof(h));
	h.name = (char *)"mx.b.test";
	h.canonname = (char *)"real.c.test";
	h.cname = true;
	h.error = (char *)"AAAA lookup indeterminate (timed out after 60s)";
	policy_host_addr(TLS_POLICY_DANE, false, true, &h, &out);
	CHECK_INT(out.action, POL_SKIP);
	CHECK_STR(out.esc, "4.4.3");
	CHECK_INT(out.rpt, TLSRPT_NONE);
	CHECK(!out.use_tlsa);
	CHECK(strstr(out.reason, "lookup failure while following the CNAME of "
	    "mx.b.test: AAAA lookup") != NULL);
	h.error_bogus = true;
	policy_host_addr(TLS_POLICY_DANE_ONLY, false, true, &h, &out);
	CHECK_INT(out.action, POL_SKIP);
	CHECK_STR(out.esc, "4.7.5");
	CHECK_INT(out.rpt, TLSRPT_DNSSEC_INVALID);
	/* test mode: the verdict is noted, the host is used as may would */
	policy_host_addr(TLS_POLICY_DANE, true, true, &h, &out);
	CHECK_INT(out.action, POL_CONNECT);
	CHECK(!out.use_tlsa);
	CHECK(strstr(out.note, "test mode: would have skipped mx.b.test: 4.7.5") != NULL);
	/* non-DANE policies do not depend on the expansion */
	policy_host_addr(TLS_POLICY_MAY, false, true, &h, &out);
	CHECK_INT(out.action, POL_CONNECT);
	/* settled: go on to the TLSA step */
	h.error = NULL;
	policy_host_addr(TLS_POLICY_DANE, false, true, &h, &out);
	CHECK_INT(out.action, POL_CONNECT);
	CHECK(out.use_tlsa);
	/* not an alias: address errors are not this step's business */
	h.cname = false;
	h.error = (char *)"x";
	policy_host_addr(TLS_POLICY_DANE, false, true, &h, &out);
	CHECK_INT(out.action, POL_CONNECT);
}

int
main(void)
{
	test_mx();
	test_bases();
	test_host();
	test_refs();
	test_validation();
	test_host_addr();
	return check_done("test_policy");
}
