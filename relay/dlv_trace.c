/*
 * relay/dlv_trace.c - the decision trace of one delivery attempt (see
 * dlv_trace.h). Fixed-size records, one per host tried (the scheduler
 * keeps a trace per deferred recipient, so it stays small); hosts beyond
 * TRACE_HOSTS_MAX go unrecorded (the engine tries at most max_mx_hosts).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/dlv_trace.h"
#include "relay/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dlv_trace *
dlv_trace_new(const char *domain, const char *policy, bool test_mode)
{
	struct dlv_trace *t = xcalloc(1, sizeof(*t));

	t->refs = 1;
	t->when = time(NULL);
	str_copy(t->domain, domain ? domain : "", sizeof(t->domain));
	str_copy(t->policy, policy ? policy : "", sizeof(t->policy));
	t->test_mode = test_mode;
	return t;
}

struct dlv_trace *
dlv_trace_ref(struct dlv_trace *t)
{
	if (t != NULL)
		t->refs++;
	return t;
}

void
dlv_trace_unref(struct dlv_trace *t)
{
	if (t != NULL && --t->refs == 0) {
		free(t->hosts);
		free(t);
	}
}

static struct trace_host *
cur(struct dlv_trace *t)
{
	if (t == NULL || t->nhosts == 0)
		return NULL;
	return &t->hosts[t->nhosts - 1];
}

void
dlv_trace_mx(struct dlv_trace *t, const char *state, const char *text)
{
	if (t == NULL)
		return;
	t->mx_done = true;
	str_copy(t->mx_state, state, sizeof(t->mx_state));
	str_copy(t->mx_text, text, sizeof(t->mx_text));
}

void
dlv_trace_host(struct dlv_trace *t, const char *name, const char *addr_state,
    unsigned naddrs)
{
	struct trace_host *h;

	if (t == NULL || t->nhosts >= TRACE_HOSTS_MAX)
		return;
	t->hosts = xreallocarray(t->hosts, t->nhosts + 1, sizeof(*t->hosts));
	h = &t->hosts[t->nhosts++];
	memset(h, 0, sizeof(*h));
	str_copy(h->name, name, sizeof(h->name));
	str_copy(h->addr_state, addr_state, sizeof(h->addr_state));
	h->naddrs = naddrs;
}

void
dlv_trace_tlsa(struct dlv_trace *t, const char *base, const char *state,
    const char *answer, unsigned records, unsigned usable, unsigned unusable)
{
	struct trace_host *h = cur(t);

	if (h == NULL)
		return;
	h->tlsa_asked = true;
	str_copy(h->tlsa_base, base, sizeof(h->tlsa_base));
	str_copy(h->tlsa_state, state, sizeof(h->tlsa_state));
	str_copy(h->tlsa_answer, answer, sizeof(h->tlsa_answer));
	h->tlsa_records = records;
	h->usable = usable;
	h->unusable = unusable;
}

void
dlv_trace_level(struct dlv_trace *t, const char *level)
{
	struct trace_host *h = cur(t);

	if (h != NULL)
		str_copy(h->level, level, sizeof(h->level));
}

void
dlv_trace_connect(struct dlv_trace *t, const char *ip)
{
	struct trace_host *h = cur(t);

	if (h == NULL)
		return;
	if (h->ip[0] != '\0' && t->nhosts < TRACE_HOSTS_MAX) {
		/* the next address of the same host: a record of its own, so
		 * that each address keeps why it failed */
		t->hosts = xreallocarray(t->hosts, t->nhosts + 1,
		    sizeof(*t->hosts));
		t->hosts[t->nhosts] = t->hosts[t->nhosts - 1];
		h = &t->hosts[t->nhosts++];
		h->result = TH_NONE;
		h->esc[0] = h->why[0] = '\0';
		h->rpt = TLSRPT_NONE;
	}
	str_copy(h->ip, ip, sizeof(h->ip));
	h->src_ip[0] = '\0';
	h->tls_protocol[0] = h->tls_cipher[0] = '\0';
	h->dane_auth = false;
}

void
dlv_trace_local(struct dlv_trace *t, const char *src_ip)
{
	struct trace_host *h = cur(t);

	if (h != NULL)
		str_copy(h->src_ip, src_ip, sizeof(h->src_ip));
}

void
dlv_trace_tls(struct dlv_trace *t, const char *desc, bool dane)
{
	struct trace_host *h = cur(t);
	const char *p, *c;
	size_t n;

	if (h == NULL || desc == NULL)
		return;
	/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256 bits)" */
	n = strcspn(desc, " ");
	if (n >= sizeof(h->tls_protocol))
		n = sizeof(h->tls_protocol) - 1;
	memcpy(h->tls_protocol, desc, n);
	h->tls_protocol[n] = '\0';
	h->tls_cipher[0] = '\0';
	if ((p = strstr(desc, " cipher ")) != NULL) {
		c = p + 8;
		n = strcspn(c, " ");
		if (n >= sizeof(h->tls_cipher))
			n = sizeof(h->tls_cipher) - 1;
		memcpy(h->tls_cipher, c, n);
		h->tls_cipher[n] = '\0';
	}
	h->dane_auth = dane;
}

void
dlv_trace_fail(struct dlv_trace *t, enum trace_host_result r, const char *esc,
    const char *why, enum tlsrpt_type rpt)
{
	struct trace_host *h = cur(t);

	if (h == NULL)
		return;
	h->result = r;
	str_copy(h->esc, esc ? esc : "", sizeof(h->esc));
	str_copy(h->why, why ? why : "", sizeof(h->why));
	h->rpt = rpt;
}

void
dlv_trace_used(struct dlv_trace *t)
{
	struct trace_host *h = cur(t);

	if (h == NULL)
		return;
	h->result = TH_USED;
	h->esc[0] = h->why[0] = '\0';
	h->rpt = TLSRPT_NONE;
}

const struct trace_host *
dlv_trace_find(const struct dlv_trace *t, const char *name,
    enum tlsrpt_type rpt)
{
	const struct trace_host *last = NULL;
	size_t i;

	if (t == NULL || name == NULL || *name == '\0')
		return NULL;
	for (i = t->nhosts; i > 0; i--) {
		if (strcmp(t->hosts[i - 1].name, name) != 0)
			continue;
		if (rpt == TLSRPT_NONE || t->hosts[i - 1].rpt == rpt)
			return &t->hosts[i - 1];
		if (last == NULL)
			last = &t->hosts[i - 1];
	}
	return last;
}

const char *
dlv_trace_dane_result(const struct dlv_trace *t, const struct trace_host *h)
{
	if (t == NULL || (strcmp(t->policy, "dane") != 0 &&
	    strcmp(t->policy, "dane-only") != 0))
		return "not_applicable";
	if (h != NULL && h->dane_auth)
		return "ok";
	if (!t->mx_done || strcmp(t->mx_state, "indeterminate") == 0)
		return "tempfail";
	if (strcmp(t->mx_state, "bogus") == 0)
		return "fail";
	if (strcmp(t->mx_state, "insecure") == 0)
		return "insecure";
	if (h == NULL && t->nhosts > 0)
		h = &t->hosts[t->nhosts - 1];
	if (h == NULL)
		return "not_applicable";
	if (strcmp(h->addr_state, "insecure") == 0)
		return "insecure";
	if (!h->tlsa_asked)
		return strcmp(h->addr_state, "secure") == 0 ? "tempfail" :
		    "not_applicable";
	if (strcmp(h->tlsa_state, "bogus") == 0)
		return "fail";
	if (strcmp(h->tlsa_state, "indeterminate") == 0)
		return "tempfail";
	if (strcmp(h->tlsa_state, "insecure") == 0)
		return "insecure";
	if (strcmp(h->tlsa_answer, "data") != 0)
		return "not_applicable";
	if (h->usable == 0)
		return "unusable";
	/* usable records, not authenticated: verification failed, or the
	 * connection broke before it could be tried */
	return h->rpt != TLSRPT_NONE ? "fail" : "tempfail";
}

const char *
trace_host_result_name(enum trace_host_result r)
{
	switch (r) {
	case TH_NONE:
		return "not connected";
	case TH_SKIPPED:
		return "skipped";
	case TH_FAILED:
		return "failed";
	case TH_USED:
		return "used";
	}
	return "?";
}
