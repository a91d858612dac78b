/*
 * tests/unit/test_queue_ctl.c - the pure parts behind the queue tool and
 * the accounting file: hold records in the journal (round trip, last one
 * wins, a bad checksum skipped), RFC 4180 field quoting, who may use the
 * control socket, the daneResult verdict of a decision trace, and the
 * queue tool's @DOMAIN argument, its recipient count per domain and the
 * command line's argument checks.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "queue/envelope.h"
#include "relay/acct.h"
#include "relay/control.h"
#include "relay/dlv_trace.h"
#include "relay/queue_ctl.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

static struct queue_envelope *
one_rcpt_env(void)
{
	struct queue_envelope *e = calloc(1, sizeof(*e));

	strcpy(e->id, "0VA1J8X5TB4K2QM");
	e->sender = strdup("a@b.example");
	e->client = strdup("");
	e->helo = strdup("");
	e->nrcpts = 1;
	e->rcpts = calloc(1, sizeof(*e->rcpts));
	e->rcpts[0].addr = strdup("r@c.example");
	return e;
}

static void
test_hold_records(void)
{
	struct queue_envelope *e = one_rcpt_env(), *d;
	struct journal_result res;
	char *h1, *h0, buf[256];
	size_t l1, l0;

	h1 = journal_encode_hold(true, &l1);
	h0 = journal_encode_hold(false, &l0);
	CHECK_INT(l1, 13);
	CHECK(strncmp(h1, "H 1 ", 4) == 0 && h1[l1 - 1] == '\n');
	CHECK(strncmp(h0, "H 0 ", 4) == 0);

	journal_apply(e, h1, l1, &res);
	CHECK(e->held);
	CHECK_INT(res.applied, 1);
	CHECK_INT(res.bad, 0);

	/* hold, release: the last one wins */
	snprintf(buf, sizeof(buf), "%s%s", h1, h0);
	journal_apply(e, buf, strlen(buf), &res);
	CHECK(!e->held);
	CHECK_INT(res.applied, 2);

	/* a flipped bit in a hold record: skipped, the state stays */
	snprintf(buf, sizeof(buf), "%s", h1);
	buf[2] = '0';
	journal_apply(e, buf, strlen(buf), &res);
	CHECK(!e->held);
	CHECK_INT(res.bad, 1);
	snprintf(buf, sizeof(buf), "H 1\n");
	journal_apply(e, buf, strlen(buf), &res);
	CHECK(!e->held);
	CHECK_INT(res.bad, 1);

	/* mixed with recipient records */
	{
		struct journal_rec r = { 0, RCPT_DEFERRED, 2, 1767225900, "4.4.1 x" };
		size_t rl;
		char *rr = journal_encode(&r, &rl);

		snprintf(buf, sizeof(buf), "%s%s", rr, h1);
		journal_apply(e, buf, strlen(buf), &res);
		CHECK(e->held);
		CHECK_INT(e->rcpts[0].state, RCPT_DEFERRED);
		CHECK_INT(e->rcpts[0].attempts, 2);
		free(rr);
	}
	d = queue_envelope_dup(e);
	CHECK(d->held);
	queue_envelope_free(d);
	free(h1);
	free(h0);
	queue_envelope_free(e);
}

static void
csv(const char *in, const char *want)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;

	acct_csv_field(&buf, &len, &cap, in);
	CHECK_STR(buf ? buf : "", want);
	free(buf);
}

static void
test_csv(void)
{
	csv("plain", "plain");
	csv("", "");
	csv(NULL, "");
	csv("a,b", "\"a,b\"");
	csv("say \"hi\"", "\"say \"\"hi\"\"\"");
	csv("line\r\nbreak", "\"line  break\"");
	csv("tab\there", "tab here");
	csv("j\xc3\xb6rg", "j\xc3\xb6rg");
}

static void
test_peer(void)
{
	struct control_peer p = { 1000, 1000, 42 };
	gid_t groups[] = { 27, 998 };

	CHECK(!control_peer_allowed(&p, NULL, 0, 0, 998));
	CHECK(control_peer_allowed(&p, groups, 2, 0, 998));	/* supplementary */
	CHECK(!control_peer_allowed(&p, groups, 1, 0, 998));
	p.gid = 998;
	CHECK(control_peer_allowed(&p, NULL, 0, 0, 998));	/* primary */
	p.gid = 1000;
	p.uid = 0;
	CHECK(control_peer_allowed(&p, NULL, 0, 995, 998));	/* root */
	p.uid = 995;
	CHECK(control_peer_allowed(&p, NULL, 0, 995, 998));	/* the daemon's uid */
}

static void
test_dane_result(void)
{
	struct dlv_trace *t = dlv_trace_new("b.example", "dane", false);
	const struct trace_host *h;

	CHECK_STR(dlv_trace_dane_result(t, NULL), "tempfail");	/* no MX yet */
	dlv_trace_mx(t, "secure", "1 host (mx.b.example)");
	dlv_trace_host(t, "mx.b.example", "secure", 1);
	dlv_trace_tlsa(t, "mx.b.example", "secure", "data", 1, 1, 0);
	dlv_trace_level(t, "dane");
	dlv_trace_connect(t, "192.0.2.1");
	dlv_trace_tls(t, "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256 bits)",
	    false);
	dlv_trace_fail(t, TH_FAILED, "4.7.5", "no match", TLSRPT_TLSA_INVALID);
	h = dlv_trace_find(t, "mx.b.example", TLSRPT_TLSA_INVALID);
	CHECK(h != NULL);
	CHECK_STR(h->tls_protocol, "TLSv1.3");
	CHECK_STR(h->tls_cipher, "TLS_AES_256_GCM_SHA384");
	CHECK_STR(dlv_trace_dane_result(t, h), "fail");
	/* a second address of the same host: its own record */
	dlv_trace_connect(t, "192.0.2.2");
	dlv_trace_fail(t, TH_FAILED, "4.4.1", "refused", TLSRPT_NONE);
	CHECK_INT(t->nhosts, 2);
	CHECK_STR(dlv_trace_find(t, "mx.b.example", TLSRPT_TLSA_INVALID)->ip,
	    "192.0.2.1");
	CHECK_STR(dlv_trace_find(t, "mx.b.example", TLSRPT_NONE)->ip,
	    "192.0.2.2");
	dlv_trace_connect(t, "192.0.2.3");
	dlv_trace_tls(t, "TLSv1.3 with cipher X (256 bits)", true);
	dlv_trace_used(t);
	CHECK_STR(dlv_trace_dane_result(t, &t->hosts[2]), "ok");
	dlv_trace_unref(t);

	t = dlv_trace_new("b.example", "dane", false);
	dlv_trace_mx(t, "insecure", "1 host");
	CHECK_STR(dlv_trace_dane_result(t, NULL), "insecure");
	dlv_trace_unref(t);
	t = dlv_trace_new("b.example", "dane", false);
	dlv_trace_mx(t, "secure", "1 host");
	dlv_trace_host(t, "mx.b.example", "secure", 1);
	dlv_trace_tlsa(t, "mx.b.example", "secure", "data", 2, 0, 2);
	CHECK_STR(dlv_trace_dane_result(t, NULL), "unusable");
	dlv_trace_tlsa(t, "mx.b.example", "secure", "nxdomain", 0, 0, 0);
	CHECK_STR(dlv_trace_dane_result(t, NULL), "not_applicable");
	dlv_trace_tlsa(t, "mx.b.example", "indeterminate", "none", 0, 0, 0);
	CHECK_STR(dlv_trace_dane_result(t, NULL), "tempfail");
	dlv_trace_tlsa(t, "mx.b.example", "bogus", "none", 0, 0, 0);
	CHECK_STR(dlv_trace_dane_result(t, NULL), "fail");
	dlv_trace_unref(t);
	t = dlv_trace_new("b.example", "may", false);
	CHECK_STR(dlv_trace_dane_result(t, NULL), "not_applicable");
	dlv_trace_unref(t);
	CHECK_STR(dlv_trace_dane_result(NULL, NULL), "not_applicable");
}

static void
dom(const char *arg, const char *want)
{
	char buf[QUEUE_CTL_DOMAIN_MAX + 3] = "unchanged";
	int rv = queue_ctl_domain_arg(arg, buf, sizeof(buf));

	if (want == NULL)
		CHECK_INT(rv, -1);
	else {
		CHECK_INT(rv, 0);
		CHECK_STR(buf, want);
	}
}

static void
test_domain_arg(void)
{
	char long_ok[QUEUE_CTL_DOMAIN_MAX + 2], long_bad[QUEUE_CTL_DOMAIN_MAX + 3];

	dom("@example.org", "example.org");
	dom("@Example.ORG.", "example.org");	/* as flush @DOMAIN */
	dom("@[192.0.2.1]", "[192.0.2.1]");	/* an address literal's */
	dom("@", NULL);
	dom("@.", NULL);
	dom("example.org", NULL);
	dom("@a@b.example", NULL);
	dom("@a b", NULL);
	dom("@a\tb", NULL);
	dom("@a\x7f", NULL);
	long_ok[0] = '@';
	memset(long_ok + 1, 'a', QUEUE_CTL_DOMAIN_MAX);
	long_ok[QUEUE_CTL_DOMAIN_MAX + 1] = '\0';
	dom(long_ok, long_ok + 1);
	memcpy(long_bad, long_ok, sizeof(long_ok));
	strcat(long_bad, "a");
	dom(long_bad, NULL);
}

static void
test_domain_count(void)
{
	struct queue_envelope *e = one_rcpt_env();
	size_t in, other;

	free(e->rcpts[0].addr);
	free(e->rcpts);
	e->nrcpts = 5;
	e->rcpts = calloc(5, sizeof(*e->rcpts));
	e->rcpts[0].addr = strdup("a@C.Example");
	e->rcpts[1].addr = strdup("b@c.example.");
	e->rcpts[2].addr = strdup("c@other.example");
	e->rcpts[3].addr = strdup("d@c.example");
	e->rcpts[4].addr = strdup("e@sub.c.example");	/* another domain */
	e->rcpts[1].state = RCPT_DEFERRED;
	e->rcpts[3].state = RCPT_DELIVERED;		/* not open */
	queue_ctl_domain_count(e, "c.example", &in, &other);
	CHECK_INT(in, 2);
	CHECK_INT(other, 2);
	e->rcpts[2].state = RCPT_BOUNCED;
	e->rcpts[4].state = RCPT_DELIVERED;
	queue_ctl_domain_count(e, "c.example", &in, &other);
	CHECK_INT(in, 2);
	CHECK_INT(other, 0);			/* all open ones in c.example */
	queue_ctl_domain_count(e, "other.example", &in, &other);
	CHECK_INT(in, 0);
	CHECK_INT(other, 2);
	queue_envelope_free(e);
}

/* queue_ctl_check() of the words after `queue`; want 0 or 2, usage. */
static void
cli(const char *words, int want, int want_usage, const char *want_err)
{
	char buf[512], *argv[16], err[512] = "";
	int argc = 0;
	bool usage = false;
	char *p;

	snprintf(buf, sizeof(buf), "%s", words);
	for (p = strtok(buf, " "); p != NULL && argc < 16; p = strtok(NULL, " "))
		argv[argc++] = p;
	CHECK_INT(queue_ctl_check(argc, argv, err, sizeof(err), &usage), want);
	if (want != 0) {
		CHECK_INT(usage, want_usage);
		if (want_err != NULL && strstr(err, want_err) == NULL) {
			fprintf(stderr, "queue %s: error \"%s\" lacks \"%s\"\n",
			    words, err, want_err);
			CHECK(0);
		}
	}
}

static void
test_cli_check(void)
{
	const char *id = "0VA1J8X5TB4K2QM", *id2 = "0VA1J8X5TB4K2QN";
	char w[256];

	cli("list", 0, 0, NULL);
	cli("list --json", 0, 0, NULL);
	cli("list x", 2, 1, "bad command");
	cli("flush", 0, 0, NULL);
	cli("flush @Example.ORG.", 0, 0, NULL);
	cli("flush @", 2, 0, "not a domain: @");
	cli("flush @a@b", 2, 0, "not a domain");
	cli("flush x", 2, 0, "not a queue id or @domain: x");
	cli("hold", 2, 1, "bad command");
	cli("hold @example.org --json", 2, 1, "bad command");
	cli("hold @example.org", 0, 0, NULL);
	cli("release @Example.org.", 0, 0, NULL);
	cli("delete @[192.0.2.1]", 0, 0, NULL);
	cli("hold @.", 2, 0, "queue hold: not a domain: @.");
	cli("delete nonsense", 2, 0,
	    "queue delete: not a queue id or @domain: nonsense");
	snprintf(w, sizeof(w), "hold %s %s", id, id2);
	cli(w, 0, 0, NULL);
	/* mixed, or several domains: refused, never half done */
	snprintf(w, sizeof(w), "hold %s @example.org", id);
	cli(w, 2, 0, "one @domain alone, or queue ids: not both");
	snprintf(w, sizeof(w), "delete @example.org %s", id);
	cli(w, 2, 0, "one @domain alone");
	cli("release @a.example @b.example", 2, 0, "not several domains");
	snprintf(w, sizeof(w), "explain %s", id);
	cli(w, 0, 0, NULL);
	cli("explain @example.org", 2, 0, "queue explain: not a queue id: @");
	cli("frobnicate", 2, 1, "bad command");
}

int
main(void)
{
	test_hold_records();
	test_csv();
	test_peer();
	test_dane_result();
	test_domain_arg();
	test_domain_count();
	test_cli_check();
	return check_done("test_queue_ctl");
}
