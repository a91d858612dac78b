/*
 * relay/dlv_trace.h - the decision trace of one delivery attempt, as values:
 * the MX RRset's state, then per MX host its address and TLSA facts, the
 * TLS level policy gave it, the address connected to, the TLS session and
 * why the host failed (with its RFC 8460 result type). The delivery engine
 * (relay/delivery.c) fills it step by step next to its log lines; every
 * outcome of the attempt points at it (struct dlv_outcome), the scheduler
 * keeps a reference per recipient for `queue explain`, and the accounting
 * file (relay/acct.c) takes the deciding host's facts from it. Reference
 * counted; only the loop thread touches it.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_DLV_TRACE_H
#define RELAY_DLV_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "tls/dane.h"

#define TRACE_HOSTS_MAX	32		/* hosts kept per attempt */
#define TRACE_NAME_MAX	256
#define TRACE_TEXT_MAX	512

enum trace_host_result {
	TH_NONE,			/* looked at, not connected (yet) */
	TH_SKIPPED,			/* policy: not connected (no address, TLSA lookup failed ...) */
	TH_FAILED,			/* connected, the host failed */
	TH_USED,			/* a message transaction ended with this host */
};

struct trace_host {
	char			 name[TRACE_NAME_MAX];
	char			 addr_state[16];	/* "secure", "insecure", "none" */
	unsigned		 naddrs;
	bool			 tlsa_asked;
	char			 tlsa_base[TRACE_NAME_MAX];
	char			 tlsa_state[16];	/* dns_state_name() */
	char			 tlsa_answer[16];	/* dns_answer_name() */
	unsigned		 tlsa_records, usable, unusable;
	char			 level[16];		/* TLS level applied: "dane", "may" ... ("" if none) */
	char			 ip[64];		/* last address connected to */
	char			 src_ip[64];		/* our address on that connection */
	char			 tls_protocol[32];	/* "TLSv1.3", "" for plaintext */
	char			 tls_cipher[64];
	bool			 dane_auth;		/* the session was authenticated by TLSA */
	enum trace_host_result	 result;
	char			 esc[16];		/* SKIPPED / FAILED */
	char			 why[TRACE_TEXT_MAX];
	enum tlsrpt_type	 rpt;
};

struct dlv_trace {
	unsigned		 refs;
	time_t			 when;			/* attempt start */
	char			 domain[TRACE_NAME_MAX];
	char			 policy[16];		/* conf_tls_policy_name() */
	bool			 test_mode;
	bool			 mx_done;
	char			 mx_state[16];		/* dns_state_name() */
	char			 mx_text[TRACE_TEXT_MAX];	/* "2 hosts (a, b)", "null MX" ... */
	struct trace_host	*hosts;			/* grown as hosts are tried */
	size_t			 nhosts;
};

struct dlv_trace *dlv_trace_new(const char *domain, const char *policy,
		    bool test_mode);
struct dlv_trace *dlv_trace_ref(struct dlv_trace *);
void		 dlv_trace_unref(struct dlv_trace *);

/* Steps, in the engine's order; each is a no-op on a NULL trace. */
void		 dlv_trace_mx(struct dlv_trace *, const char *state,
		    const char *text);
/* A new host record (the current one from now on); connecting to a
 * further address of it starts another record. */
void		 dlv_trace_host(struct dlv_trace *, const char *name,
		    const char *addr_state, unsigned naddrs);
void		 dlv_trace_tlsa(struct dlv_trace *, const char *base,
		    const char *state, const char *answer, unsigned records,
		    unsigned usable, unsigned unusable);
void		 dlv_trace_level(struct dlv_trace *, const char *level);
void		 dlv_trace_connect(struct dlv_trace *, const char *ip);
void		 dlv_trace_local(struct dlv_trace *, const char *src_ip);
/* desc as tls_result.desc: "TLSv1.3 with cipher NAME (256 bits)". */
void		 dlv_trace_tls(struct dlv_trace *, const char *desc, bool dane);
void		 dlv_trace_fail(struct dlv_trace *, enum trace_host_result,
		    const char *esc, const char *why, enum tlsrpt_type);
void		 dlv_trace_used(struct dlv_trace *);

/*
 * The record of host name (one per address connected to) that decided an
 * outcome: the last one whose failure has RFC 8460 type rpt, else the
 * last one of that host. NULL: none, or name is "".
 */
const struct trace_host *dlv_trace_find(const struct dlv_trace *,
		    const char *name, enum tlsrpt_type rpt);
/*
 * The DANE verdict of an outcome in one word (acct daneResult): "ok",
 * "unusable", "not_applicable", "insecure", "tempfail", "fail". h is the
 * deciding host (may be NULL).
 */
const char	*dlv_trace_dane_result(const struct dlv_trace *,
		    const struct trace_host *h);
const char	*trace_host_result_name(enum trace_host_result);

#endif
