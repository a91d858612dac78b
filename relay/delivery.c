/*
 * relay/delivery.c - the attempt engine (see delivery.h). One attempt is a
 * small state machine, DLV_MX -> DLV_ADDR -> DLV_TLSA -> DLV_CONNECT ->
 * DLV_SMTP -> next address / next host | done; each step either goes on at
 * once or waits for one callback (resolver or smtp_client). relay/policy.c
 * makes every TLS/DANE decision; this file applies them, logs the trace,
 * and turns smtp_client's failure classes into per-recipient outcomes.
 * Invariants: a recipient's outcome is final once set; recipients still
 * pending when no host is left are TEMP with the last host's reason; the
 * done callback runs from the loop (an event), never nested in a call.
 * Idle connections are cached by smtp_client_key() (rule 15) only.
 * Decisions of our own: under `may` (and test mode) a failed handshake is
 * retried once in plaintext on the same address, as Postfix does; a lost
 * connection after the final "." is not retried elsewhere (duplicates)
 * and is logged as a possible duplicate; a cached connection that fails
 * is retried once on a fresh connection to the same address before the
 * address is charged; attempt_timeout ends the whole attempt (deferral);
 * MAIL 4xx goes to the next host, RCPT 4xx/5xx are final for the attempt.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "queue/queue.h"
#include "relay/addr_literal.h"
#include "relay/delivery.h"
#include "relay/dlv_trace.h"
#include "relay/log.h"
#include "relay/policy.h"
#include "relay/smtp_client.h"
#include "relay/util.h"
#include "resolver/mx.h"
#include "resolver/resolver.h"
#include "resolver/rr.h"
#include "resolver/selfcheck.h"
#include "tls/tls_client.h"

#define DLV_MAX_ADDRS	32		/* addresses kept per host */
#define DLV_IDLE_MAX	256		/* idle connections cached */

enum dlv_step {
	DLV_MX,
	DLV_ADDR,
	DLV_TLSA,
	DLV_CONNECT,
	DLV_SMTP,
	DLV_DONE,
};

struct dlv_conn {
	struct delivery		*d;
	struct delivery_attempt	*a;		/* NULL when idle or detached */
	struct smtp_client	*c;
	unsigned char		 key[TLS_KEY_LEN];
	char			 peer[320];	/* "host[ip]:port" */
	struct event		*idle_ev;
	bool			 idle;
	bool			 reused;	/* taken from the idle cache */
	struct dlv_conn		*next;		/* idle list */
	struct dlv_conn		*qnext;		/* quitting list */
	struct dlv_conn		**qprevp;	/* NULL: not on it */
};

struct delivery {
	struct delivery_params	 p;
	const struct conf	*conf;
	struct dlv_conn		*idle;
	size_t			 nidle;
	struct dlv_conn		*quitting;	/* QUIT sent, closed() pending */
	struct delivery_attempt	*attempts;	/* in flight */
	struct selfcheck	*sc;		/* DNSSEC validation self-check */
	delivery_validation_cb	*vcb;
	void			*vcb_arg;
};

struct dlv_addr {
	struct dns_addr		 a;
	bool			 secure;
};

struct delivery_attempt {
	struct delivery		*d;
	struct delivery_attempt	*next, **prevp;
	const struct queue_envelope *env;
	char			*domain;
	size_t			*idx;
	size_t			 n;
	delivery_done_cb	*cb;
	void			*arg;
	struct dlv_outcome	*out;
	bool			*final;
	size_t			 npending;
	struct timespec		 t0;
	enum dlv_step		 step;
	bool			 waiting_validation;
	bool			 vok;		/* validation confirmed when it began */
	struct event		*done_ev;
	struct event		*deadline_ev;	/* attempt_timeout */
	bool			 fresh_only;	/* a cached connection died: no reuse for this address */

	struct conf_dest	 dest;
	const char		*qid;
	struct resolver_query	*q;
	struct mx_list		 mx;
	bool			 mx_built;
	struct pol_mx		 pmx;
	size_t			 hostidx;
	struct resolver_host	*rh;
	struct dlv_addr		 addrs[DLV_MAX_ADDRS];
	size_t			 naddrs, addridx;
	bool			 addr_secure;
	const char		*bases[2], *whys[2];
	size_t			 nbases, baseidx;
	struct dns_result	*tlsa;
	struct dane_tlsa	*dt;
	size_t			 ndt;
	struct pol_host		 ph;
	bool			 plaintext_retry;	/* may: handshake failed, same address in clear */

	struct dlv_conn		*conn;
	int			 fd;
	off_t			 content_off;
	uint64_t		 size;
	const char		**rcpts;	/* pending addresses sent */
	size_t			*slot;		/* msg rcpt i -> attempt slot */
	size_t			 nsent;
	bool			 mail_temp;	/* MAIL 4xx: next host */

	char			 last_esc[16];
	char			 last_text[512];
	char			 last_mx[256];
	enum tlsrpt_type	 last_rpt;
	/* a TLS/DANE requirement that failed: the deciding reason (rule 6) */
	char			 tls_esc[16];
	char			 tls_text[512];
	char			 tls_mx[256];
	enum tlsrpt_type	 tls_rpt;
	struct dlv_trace	*trace;		/* for `queue explain` and acct */
};

static void	attempt_step(struct delivery_attempt *);
static void	host_decided(struct delivery_attempt *);
static const char	*mx_host_name(const struct delivery_attempt *);
static void	attempt_finish(struct delivery_attempt *);
static void	conn_cbs_event(void *, const struct smtp_event *);
static void	conn_cbs_ready(void *);
static void	conn_cbs_rcpt(void *, const struct smtp_rcpt_result *);
static void	conn_cbs_done(void *, const struct smtp_msg_result *);
static void	conn_cbs_closed(void *, const struct smtp_failure *);

static const struct smtp_client_cbs conn_cbs = {
	conn_cbs_event, conn_cbs_ready, conn_cbs_rcpt, conn_cbs_done,
	conn_cbs_closed,
};

static bool
policy_dane(enum tls_policy p)
{
	return p == TLS_POLICY_DANE || p == TLS_POLICY_DANE_ONLY;
}

static const char *
safe(const char *s, char *buf, size_t len)
{
	return log_safe(s ? s : "", strlen(s ? s : ""), buf, len);
}

/* --- validation self-check (rule 16, resolver/selfcheck.h) --- */

/* A check finished: attempts that waited for it go on (or defer). */
static void
delivery_selfcheck_cb(enum dnssec_validation v, const char *detail, void *arg)
{
	struct delivery *d = arg;
	struct delivery_attempt *a, *next;

	if (d->vcb != NULL)
		d->vcb(v, detail, d->vcb_arg);
	for (a = d->attempts; a != NULL; a = next) {
		next = a->next;
		if (a->waiting_validation) {
			a->waiting_validation = false;
			attempt_step(a);
		}
	}
}

enum dnssec_validation
delivery_validation(const struct delivery *d)
{
	return selfcheck_state(d->sc);
}

void
delivery_on_validation(struct delivery *d, delivery_validation_cb *cb,
    void *arg)
{
	d->vcb = cb;
	d->vcb_arg = arg;
	if (cb != NULL && selfcheck_state(d->sc) != VALIDATION_PENDING)
		cb(selfcheck_state(d->sc), selfcheck_detail(d->sc), arg);
}

void
delivery_recheck_validation(struct delivery *d)
{
	selfcheck_run_now(d->sc);
}

/* --- engine --- */

struct delivery *
delivery_new(const struct delivery_params *p, char *err, size_t errlen)
{
	struct delivery *d;

	if (p == NULL || p->base == NULL || p->queue == NULL ||
	    p->resolver == NULL) {
		snprintf(err, errlen, "delivery: missing parameters");
		return NULL;
	}
	d = xcalloc(1, sizeof(*d));
	d->p = *p;
	d->sc = selfcheck_new(p->base, p->resolver, delivery_selfcheck_cb, d);
	return d;
}

static void
conn_unquit(struct dlv_conn *k)
{
	if (k->qprevp == NULL)
		return;
	*k->qprevp = k->qnext;
	if (k->qnext != NULL)
		k->qnext->qprevp = k->qprevp;
	k->qprevp = NULL;
	k->qnext = NULL;
}

/*
 * A connection that no attempt needs: QUIT, and keep it on the quitting
 * list until closed() frees it, so that delivery_free() can free it if it
 * never comes (SIGTERM while the QUIT is outstanding).
 */
static void
conn_quit(struct delivery *d, struct dlv_conn *k)
{
	k->qnext = d->quitting;
	if (d->quitting != NULL)
		d->quitting->qprevp = &k->qnext;
	d->quitting = k;
	k->qprevp = &d->quitting;
	smtp_client_quit(k->c);		/* closed() frees k */
}

static void
conn_free(struct dlv_conn *k)
{
	conn_unquit(k);
	if (k->idle_ev != NULL)
		event_free(k->idle_ev);
	free(k);
}

static void
idle_unlink(struct delivery *d, struct dlv_conn *k)
{
	struct dlv_conn **pp;

	for (pp = &d->idle; *pp != NULL; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			d->nidle--;
			break;
		}
	k->next = NULL;
	k->idle = false;
	if (k->idle_ev != NULL)
		event_del(k->idle_ev);
}

static void
attempt_free(struct delivery_attempt *a)
{
	if (a->q != NULL)
		resolver_cancel(a->q);
	if (a->conn != NULL) {
		a->conn->a = NULL;
		smtp_client_free(a->conn->c);
		conn_free(a->conn);
	}
	if (a->next != NULL)
		a->next->prevp = a->prevp;
	*a->prevp = a->next;
	if (a->done_ev != NULL)
		event_free(a->done_ev);
	if (a->deadline_ev != NULL)
		event_free(a->deadline_ev);
	if (a->mx_built)
		mx_list_clear(&a->mx);
	resolver_host_free(a->rh);
	dns_result_free(a->tlsa);
	free(a->dt);
	if (a->fd != -1)
		close(a->fd);
	free(a->rcpts);
	free(a->slot);
	free(a->out);
	free(a->final);
	free(a->domain);
	free(a->idx);
	dlv_trace_unref(a->trace);
	free(a);
}

void
delivery_free(struct delivery *d)
{
	struct dlv_conn *k;

	if (d == NULL)
		return;
	while (d->attempts != NULL)
		attempt_free(d->attempts);
	while ((k = d->idle) != NULL) {
		idle_unlink(d, k);
		smtp_client_free(k->c);
		conn_free(k);
	}
	while ((k = d->quitting) != NULL) {
		conn_unquit(k);
		smtp_client_free(k->c);
		conn_free(k);
	}
	selfcheck_free(d->sc);
	free(d);
}

void
delivery_set_conf(struct delivery *d, const struct conf *conf)
{
	d->conf = conf;
}

/* What `queue explain` and the accounting file show of a connection:
 * our address on it and, for a reused one, its TLS session. */
static void
trace_conn(struct delivery_attempt *a, const struct smtp_client *c,
    bool reused)
{
	const struct tls_result *t;
	char ip[64];

	if (smtp_client_local_addr(c, ip, sizeof(ip)) == 0)
		dlv_trace_local(a->trace, ip);
	if (reused && (t = smtp_client_tls(c)) != NULL)
		dlv_trace_tls(a->trace, t->desc, t->dane.authenticated);
}

/* --- outcomes --- */

static void
attempt_note_failure(struct delivery_attempt *a, const char *esc,
    const char *text, enum tlsrpt_type rpt)
{
	str_copy(a->last_esc, esc, sizeof(a->last_esc));
	str_copy(a->last_text, text, sizeof(a->last_text));
	a->last_rpt = rpt;
	if (rpt != TLSRPT_NONE && a->tls_esc[0] == '\0') {
		/* When no host is left, a TLS/DANE requirement that failed
		 * decides over later connection trouble: 4.7.x, not 4.4.1. */
		str_copy(a->tls_esc, esc, sizeof(a->tls_esc));
		str_copy(a->tls_text, text, sizeof(a->tls_text));
		str_copy(a->tls_mx, a->hostidx < a->mx.nhosts ?
		    mx_host_name(a) : "", sizeof(a->tls_mx));
		a->tls_rpt = rpt;
	}
}

static void
rcpt_set(struct delivery_attempt *a, size_t slot, enum dlv_status st,
    const char *esc, const char *text, enum tlsrpt_type rpt)
{
	struct dlv_outcome *o = &a->out[slot];

	if (a->final[slot])
		return;
	a->final[slot] = true;
	a->npending--;
	o->status = st;
	str_copy(o->esc, esc && *esc ? esc : (st == DLV_OK ? "2.0.0" :
	    st == DLV_TEMP ? "4.0.0" : "5.0.0"), sizeof(o->esc));
	if (text == NULL)
		text = "";
	if (*text >= '0' && *text <= '9')	/* a server reply "550 5.1.1 ..." */
		str_copy(o->text, text, sizeof(o->text));
	else if (rpt != TLSRPT_NONE && strstr(text, tlsrpt_name(rpt)) == NULL)
		/* our verdict with its RFC 8460 type: "4.7.5 why (dane-required)" */
		snprintf(o->text, sizeof(o->text), "%s %s (%s)", o->esc, text,
		    tlsrpt_name(rpt));
	else					/* our verdict: "4.7.5 why" */
		snprintf(o->text, sizeof(o->text), "%s %s", o->esc, text);
	str_copy(o->mx, a->last_mx, sizeof(o->mx));
	o->rpt = rpt;
}

static void
attempt_all(struct delivery_attempt *a, enum dlv_status st, const char *esc,
    const char *text, enum tlsrpt_type rpt)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		rcpt_set(a, i, st, esc, text, rpt);
}

static void
attempt_done_ev(evutil_socket_t fd, short what, void *arg)
{
	struct delivery_attempt *a = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < a->n; i++)
		a->out[i].trace = a->trace;
	a->cb(a, a->out, a->n, a->arg);
	attempt_free(a);
}

/* Every pending recipient TEMP with the last reason; callback from the loop. */
static void
attempt_finish(struct delivery_attempt *a)
{
	if (a->npending > 0 && a->tls_esc[0] != '\0') {
		str_copy(a->last_mx, a->tls_mx, sizeof(a->last_mx));
		attempt_all(a, DLV_TEMP, a->tls_esc, a->tls_text, a->tls_rpt);
	}
	else if (a->npending > 0)
		attempt_all(a, DLV_TEMP, a->last_esc[0] ? a->last_esc : "4.4.0",
		    a->last_text[0] ? a->last_text :
		    "no MX host could be reached", a->last_rpt);
	a->step = DLV_DONE;
	event_active(a->done_ev, EV_TIMEOUT, 0);
}

/* --- connection cache (rule 15) --- */

static void
idle_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dlv_conn *k = arg;

	(void)fd;
	(void)what;
	idle_unlink(k->d, k);
	conn_quit(k->d, k);
}

static void
conn_release(struct delivery_attempt *a, bool reusable)
{
	struct dlv_conn *k = a->conn;
	struct delivery *d = a->d;
	const struct conf *conf = d->conf;
	unsigned maxmsg = conf ? conf->max_messages_per_connection : 0;
	unsigned reuse = conf ? conf->connection_reuse_time : 0;
	struct timeval tv;

	if (k == NULL)
		return;
	a->conn = NULL;
	k->a = NULL;
	if (!reusable || reuse == 0 || d->nidle >= DLV_IDLE_MAX ||
	    (maxmsg != 0 && smtp_client_messages(k->c) >= maxmsg)) {
		conn_quit(d, k);
		return;
	}
	if (k->idle_ev == NULL)
		k->idle_ev = evtimer_new(d->p.base, idle_timeout_cb, k);
	if (k->idle_ev == NULL) {
		conn_quit(d, k);
		return;
	}
	tv.tv_sec = reuse;
	tv.tv_usec = 0;
	evtimer_add(k->idle_ev, &tv);
	k->idle = true;
	k->next = d->idle;
	d->idle = k;
	d->nidle++;
}

static struct dlv_conn *
idle_take(struct delivery *d, const unsigned char key[TLS_KEY_LEN])
{
	struct dlv_conn *k;

	for (k = d->idle; k != NULL; k = k->next)
		if (memcmp(k->key, key, TLS_KEY_LEN) == 0) {
			idle_unlink(d, k);
			return k;
		}
	return NULL;
}

/* --- steps --- */

static void
attempt_next_host(struct delivery_attempt *a)
{
	resolver_host_free(a->rh);
	a->rh = NULL;
	dns_result_free(a->tlsa);
	a->tlsa = NULL;
	free(a->dt);
	a->dt = NULL;
	a->ndt = 0;
	a->hostidx++;
	a->step = DLV_ADDR;
}

static const char *
mx_host_name(const struct delivery_attempt *a)
{
	return a->mx.hosts[a->hostidx].name;
}

static void
mx_cb(struct dns_result *r, void *arg)
{
	struct delivery_attempt *a = arg;
	const struct conf *conf = a->d->conf;
	char line[1024], sbuf[LOG_SAFE_MAX];
	size_t i, l;

	a->q = NULL;
	mx_list_build(&a->mx, r, conf ? conf->max_mx_hosts : 0,
	    conf ? conf->max_mx_addresses : 0, 0);
	a->mx_built = true;
	switch (a->mx.status) {
	case MX_HOSTS:
		l = (size_t)snprintf(line, sizeof(line), "%zu host%s (",
		    a->mx.nhosts, a->mx.nhosts == 1 ? "" : "s");
		for (i = 0; i < a->mx.nhosts && l < sizeof(line); i++)
			l += (size_t)snprintf(line + l, sizeof(line) - l, "%s%s",
			    i ? ", " : "", log_esc(a->mx.hosts[i].name));
		if (l < sizeof(line))
			snprintf(line + l, sizeof(line) - l, ")");
		break;
	case MX_IMPLICIT:
		snprintf(line, sizeof(line), "no MX records, using %s itself "
		    "(implicit MX)", log_esc(a->domain));
		break;
	case MX_NULL:
		snprintf(line, sizeof(line), "null MX");
		break;
	case MX_NXDOMAIN:
		snprintf(line, sizeof(line), "domain does not exist");
		break;
	case MX_ERROR:
	default:
		snprintf(line, sizeof(line), "lookup failed: %s",
		    safe(r && r->reason ? r->reason : "no answer", sbuf,
		    sizeof(sbuf)));
		break;
	}
	log_info(a->qid, "MX %s: %s, %s", log_esc(a->domain),
	    dns_state_name(a->mx.state), line);
	dlv_trace_mx(a->trace, dns_state_name(a->mx.state), line);
	policy_mx(a->dest.tls_policy, a->dest.test_mode, a->vok,
	    &a->mx, r ? r->reason : NULL, &a->pmx);
	dns_result_free(r);
	if (a->pmx.note[0] != '\0') {
		if (a->pmx.note_warn)
			log_warnx(a->qid, "%s", log_esc(a->pmx.note));
		else
			log_info(a->qid, "%s", log_esc(a->pmx.note));
	}
	if (a->pmx.action != POL_MX_GO) {
		attempt_all(a, a->pmx.action == POL_MX_DEFER ? DLV_TEMP :
		    DLV_PERM, a->pmx.esc, a->pmx.text, a->pmx.rpt);
		attempt_finish(a);
		return;
	}
	if (policy_dane(a->dest.tls_policy) && a->mx.state != DNS_SECURE &&
	    a->vok)
		log_info(a->qid, "MX RRset of %s is insecure: DANE does not "
		    "apply to the domain; %s", log_esc(a->domain),
		    a->dest.tls_policy == TLS_POLICY_DANE ?
		    "opportunistic TLS, MX host names are the only reference "
		    "identifiers" : "dane-only cannot deliver");
	a->hostidx = 0;
	a->step = DLV_ADDR;
	attempt_step(a);
}

static size_t
fam_text(char *buf, size_t len, const char *fam, const struct dns_result *r)
{
	char sbuf[LOG_SAFE_MAX];

	if (r == NULL)
		return (size_t)snprintf(buf, len, "%s not asked", fam);
	if (!dns_result_answered(r))
		return (size_t)snprintf(buf, len, "%s %s (%s)", fam,
		    dns_state_name(r->state), safe(r->reason ? r->reason :
		    "no answer", sbuf, sizeof(sbuf)));
	if (r->answer == DNS_ANSWER_DATA)
		return (size_t)snprintf(buf, len, "%s %s (%zu)", fam,
		    dns_state_name(r->state), r->nrr);
	return (size_t)snprintf(buf, len, "%s %s %s", fam,
	    dns_answer_name(r->answer), dns_state_name(r->state));
}

static void
addr_collect(struct delivery_attempt *a, const struct dns_result *r)
{
	size_t i;

	if (r == NULL || !dns_result_answered(r) ||
	    r->answer != DNS_ANSWER_DATA)
		return;
	for (i = 0; i < r->nrr && a->naddrs < DLV_MAX_ADDRS; i++) {
		if (r->rr[i].malformed)
			continue;
		a->addrs[a->naddrs].a = r->rr[i].addr;
		a->addrs[a->naddrs].secure = r->state == DNS_SECURE;
		a->naddrs++;
	}
}

static void
host_cb(struct resolver_host *h, void *arg)
{
	struct delivery_attempt *a = arg;
	char l1[512], l2[512], cn[400] = "";
	size_t take;

	a->q = NULL;
	a->rh = h;
	fam_text(l1, sizeof(l1), "A", h->a);
	fam_text(l2, sizeof(l2), "AAAA", h->aaaa);
	if (h->cname)
		snprintf(cn, sizeof(cn), ", CNAME to %s (chain %s%s)",
		    log_esc(h->canonname),
		    h->chain_secure ? "secure" : "insecure",
		    h->chain_secure ? "" : h->first_link_secure ?
		    ", first link secure" : h->first_link != NULL &&
		    dns_result_answered(h->first_link) ?
		    ", first link insecure" : ", first link unknown");
	log_info(a->qid, "Address %s: %s, %s%s", log_esc(h->name), l1, l2, cn);

	a->addr_secure = policy_addr_secure(h);
	a->naddrs = 0;
	a->addridx = 0;
	addr_collect(a, h->a);
	addr_collect(a, h->aaaa);
	take = mx_take_addresses(&a->mx, a->naddrs);
	if (take < a->naddrs)
		a->naddrs = take;
	dlv_trace_host(a->trace, h->name, a->naddrs == 0 ? "none" :
	    a->addr_secure ? "secure" : "insecure", (unsigned)a->naddrs);
	if (a->naddrs == 0) {
		char t[512];

		snprintf(t, sizeof(t), "no usable address for %s", h->name);
		log_info(a->qid, "%s, trying the next host", log_esc(t));
		dlv_trace_fail(a->trace, TH_SKIPPED, "4.4.3", t, TLSRPT_NONE);
		if (a->last_text[0] == '\0')
			attempt_note_failure(a, "4.4.3", t, TLSRPT_NONE);
		attempt_next_host(a);
		attempt_step(a);
		return;
	}
	a->nbases = 0;
	a->baseidx = 0;
	/* RFC 7672 2.1.3: an unsettled CNAME expansion is a lookup failure */
	policy_host_addr(a->dest.tls_policy, a->dest.test_mode,
	    a->vok, h, &a->ph);
	if (a->ph.note[0] != '\0')
		log_info(a->qid, "%s", log_esc(a->ph.note));
	if (a->ph.action == POL_SKIP) {
		host_decided(a);
		attempt_step(a);
		return;
	}
	if (policy_dane(a->dest.tls_policy) && a->vok &&
	    a->ph.use_tlsa)
		a->nbases = policy_tlsa_bases(h->name, h->canonname, h->cname,
		    h->chain_secure, h->first_link_secure, a->addr_secure,
		    a->bases, a->whys);
	a->step = DLV_TLSA;
	attempt_step(a);
}

static void
tlsa_convert(struct delivery_attempt *a)
{
	const struct dns_result *r = a->tlsa;

	free(a->dt);
	a->dt = NULL;
	a->ndt = 0;
	if (r == NULL || r->answer != DNS_ANSWER_DATA || r->nrr == 0)
		return;
	a->dt = xcalloc(r->nrr, sizeof(*a->dt));
	a->ndt = policy_tlsa_rrset(r, a->dt);
}

/* Apply a policy_host() verdict. */
static void
host_decided(struct delivery_attempt *a)
{
	const char *host = mx_host_name(a);

	char text[900];

	if (a->ph.note[0] != '\0')
		log_info(a->qid, "%s", log_esc(a->ph.note));
	/* the same text `resolve` prints (relay/cmd_resolve.c) */
	policy_host_text(&a->ph, host, text, sizeof(text));
	switch (a->ph.action) {
	case POL_NEXT_BASE:
		log_info(a->qid, "%s", log_esc(text));
		a->baseidx++;
		a->step = DLV_TLSA;
		return;
	case POL_SKIP:
		log_info(a->qid, "%s, trying the next host", log_esc(text));
		attempt_note_failure(a, a->ph.esc, a->ph.reason, a->ph.rpt);
		dlv_trace_fail(a->trace, TH_SKIPPED, a->ph.esc, a->ph.reason,
		    a->ph.rpt);
		attempt_next_host(a);
		return;
	case POL_CONNECT:
		break;
	}
	dlv_trace_level(a->trace, policy_level_name(a->ph.level));
	if (a->ph.level == TLS_LEVEL_DANE && a->ph.use_tlsa) {
		log_info(a->qid, "%s", log_esc(text));
		if (a->ph.test_mode && a->ph.note[0] == '\0')
			log_info(a->qid, "test mode: would have used DANE for %s",
			    log_esc(host));
	} else if (policy_dane(a->dest.tls_policy) ||
	    a->dest.test_mode)
		log_info(a->qid, "%s", log_esc(text));
	a->addridx = 0;
	a->plaintext_retry = false;
	a->step = DLV_CONNECT;
}

static void
host_policy(struct delivery_attempt *a)
{
	struct pol_host_in in;
	struct dane_counts cnt = { 0, 0 };

	memset(&in, 0, sizeof(in));
	in.policy = a->dest.tls_policy;
	in.test_mode = a->dest.test_mode;
	in.validation_ok = a->vok;
	in.mx_secure = a->mx.state == DNS_SECURE;
	in.domain = a->mx.domain ? a->mx.domain : a->domain;
	in.domain_canon = a->mx.canonname ? a->mx.canonname : in.domain;
	in.host = mx_host_name(a);
	in.addr_secure = a->addr_secure;
	in.nbases = a->nbases;
	if (a->nbases > 0 && a->baseidx < a->nbases) {
		in.base = a->bases[a->baseidx];
		in.more_bases = a->baseidx + 1 < a->nbases;
		in.tlsa_state = a->tlsa ? a->tlsa->state : DNS_INDETERMINATE;
		in.tlsa_answer = a->tlsa ? a->tlsa->answer : DNS_ANSWER_NONE;
		dane_tlsa_count(a->dt, a->ndt, &cnt);
		in.usable = cnt.usable;
		in.unusable = cnt.unusable;
	}
	policy_host(&in, &a->ph);
	host_decided(a);
}

static void
tlsa_cb(struct dns_result *r, void *arg)
{
	struct delivery_attempt *a = arg;
	struct dane_counts cnt = { 0, 0 };
	char sbuf[LOG_SAFE_MAX];
	unsigned port = a->dest.remote_port;

	a->q = NULL;
	dns_result_free(a->tlsa);
	a->tlsa = r;
	tlsa_convert(a);
	dane_tlsa_count(a->dt, a->ndt, &cnt);
	dlv_trace_tlsa(a->trace, a->bases[a->baseidx], dns_state_name(r->state),
	    dns_answer_name(r->answer), (unsigned)r->nrr, cnt.usable,
	    cnt.unusable);
	if (!dns_result_answered(r))
		log_info(a->qid, "TLSA _%u._tcp.%s: %s (%s), base domain %s (%s)",
		    port, log_esc(a->bases[a->baseidx]),
		    dns_state_name(r->state), safe(r->reason ? r->reason :
		    "no answer", sbuf, sizeof(sbuf)),
		    log_esc(a->bases[a->baseidx]), a->whys[a->baseidx]);
	else if (r->answer == DNS_ANSWER_DATA)
		log_info(a->qid, "TLSA _%u._tcp.%s: %s, %zu record%s (%u usable, "
		    "%u unusable), base domain %s (%s)", port,
		    log_esc(a->bases[a->baseidx]), dns_state_name(r->state),
		    r->nrr,
		    r->nrr == 1 ? "" : "s", cnt.usable, cnt.unusable,
		    log_esc(a->bases[a->baseidx]), a->whys[a->baseidx]);
	else
		log_info(a->qid, "TLSA _%u._tcp.%s: %s %s, base domain %s (%s)",
		    port, log_esc(a->bases[a->baseidx]),
		    dns_answer_name(r->answer),
		    dns_state_name(r->state), log_esc(a->bases[a->baseidx]),
		    a->whys[a->baseidx]);
	host_policy(a);
	attempt_step(a);
}

/* --- SMTP --- */

static void
attempt_send(struct delivery_attempt *a)
{
	struct smtp_client_msg m;
	size_t i;

	a->nsent = 0;
	for (i = 0; i < a->n; i++)
		if (!a->final[i]) {
			a->rcpts[a->nsent] = a->env->rcpts[a->idx[i]].addr;
			a->slot[a->nsent] = i;
			a->nsent++;
		}
	a->mail_temp = false;
	if (lseek(a->fd, a->content_off, SEEK_SET) == (off_t)-1) {
		log_warn(a->qid, "seek in message content");
		attempt_note_failure(a, "4.3.0", "cannot read the message",
		    TLSRPT_NONE);
		conn_release(a, true);
		attempt_finish(a);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.sender = a->env->sender;
	m.rcpts = a->rcpts;
	m.nrcpts = a->nsent;
	m.fd = a->fd;
	m.size = a->size;
	m.flags = a->env->flags;
	a->step = DLV_SMTP;
	if (smtp_client_send(a->conn->c, &m) == -1) {
		attempt_note_failure(a, "4.3.0", "local error sending message",
		    TLSRPT_NONE);
		conn_release(a, false);
		attempt_finish(a);
	}
}

static void
conn_cbs_ready(void *arg)
{
	struct dlv_conn *k = arg;

	if (k->a != NULL)
		attempt_send(k->a);
}

static void
conn_cbs_event(void *arg, const struct smtp_event *ev)
{
	struct dlv_conn *k = arg;
	struct delivery_attempt *a = k->a;
	char sbuf[LOG_SAFE_MAX], sb2[LOG_SAFE_MAX];
	const struct tls_result *t;

	if (a == NULL)
		return;
	switch (ev->type) {
	case SMTP_EV_CONNECTED:
		trace_conn(a, k->c, false);
		return;
	case SMTP_EV_REPLY:
		return;
	case SMTP_EV_DOWNGRADE:
		log_info(a->qid, "%s: %s", log_esc(k->peer), log_esc(ev->text));
		return;
	case SMTP_EV_TLS:
		t = ev->tls;
		dlv_trace_tls(a->trace, t->desc, t->dane.authenticated);
		log_info(a->qid, "Connection is now using %s (%s)", t->desc,
		    t->dane.authenticated ? "DANE" : "unauthenticated");
		if (t->dane.authenticated && t->dane.match[0] != '\0')
			log_info(a->qid, "DANE match: %s, subject %s",
			    t->dane.match, safe(t->dane.subject, sbuf,
			    sizeof(sbuf)));
		else if (t->dane.authenticated)
			log_info(a->qid, "DANE match: (resumed session), "
			    "subject %s", safe(t->dane.subject, sbuf,
			    sizeof(sbuf)));
		if (!ev->tls_ok) {
			const char *rt = tlsrpt_name(ev->rpt);

			if (a->ph.test_mode)
				log_info(a->qid, "test mode: would have deferred: "
				    "4.7.5 %s (%s) for %s", safe(t->dane.reason,
				    sbuf, sizeof(sbuf)), rt, log_esc(k->peer));
			else
				log_info(a->qid, "DANE verification failed for "
				    "%s: %s (%s)", log_esc(k->peer),
				    safe(t->dane.reason, sbuf, sizeof(sbuf)),
				    rt);
		}
		return;
	case SMTP_EV_TLS_SKIPPED:
		if (a->ph.test_mode && a->ph.level >= TLS_LEVEL_ENCRYPT)
			log_info(a->qid, "test mode: would have deferred: 4.7.5 "
			    "%s by %s (%s)", safe(ev->text, sbuf, sizeof(sbuf)),
			    log_esc(k->peer), tlsrpt_name(ev->rpt));
		else
			log_info(a->qid, "%s by %s%s%s, continuing in plaintext",
			    safe(ev->text, sbuf, sizeof(sbuf)),
			    log_esc(k->peer),
			    ev->reply ? ": " : "", ev->reply ? safe(ev->reply->text,
			    sb2, sizeof(sb2)) : "");
		return;
	}
}

static double
attempt_elapsed(const struct delivery_attempt *a)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - a->t0.tv_sec) +
	    (double)(now.tv_nsec - a->t0.tv_nsec) / 1e9;
}

static void
conn_cbs_rcpt(void *arg, const struct smtp_rcpt_result *r)
{
	struct dlv_conn *k = arg;
	struct delivery_attempt *a = k->a;
	const struct smtp_reply *rep = r->reply;
	char sbuf[LOG_SAFE_MAX];
	size_t slot;
	int cls;

	if (a == NULL || r->idx >= a->nsent || rep == NULL)
		return;
	slot = a->slot[r->idx];
	cls = rep->code / 100;
	if (rep->code == 0)
		cls = rep->esc[0] == '5' ? 5 : rep->esc[0] == '2' ? 2 : 4;
	if (cls == 2) {
		rcpt_set(a, slot, DLV_OK, rep->esc, rep->text, TLSRPT_NONE);
		log_info(a->qid, "Successful delivery to <%s> (retry %u) in "
		    "%.3fs: %s", log_esc(a->env->rcpts[a->idx[slot]].addr),
		    a->env->rcpts[a->idx[slot]].attempts, attempt_elapsed(a),
		    safe(rep->text, sbuf, sizeof(sbuf)));
		return;
	}
	if (cls == 4 && r->stage == SMTP_STAGE_MAIL && rep->code != 0) {
		/* MAIL 4xx: the message goes to the next host (Postfix). */
		a->mail_temp = true;
		attempt_note_failure(a, rep->esc[0] ? rep->esc : "4.0.0",
		    rep->text, TLSRPT_NONE);
		return;
	}
	rcpt_set(a, slot, cls == 5 ? DLV_PERM : DLV_TEMP, rep->esc, rep->text,
	    TLSRPT_NONE);
}

static void
conn_cbs_done(void *arg, const struct smtp_msg_result *r)
{
	struct dlv_conn *k = arg;
	struct delivery_attempt *a = k->a;
	char sbuf[LOG_SAFE_MAX];

	if (a == NULL)
		return;
	if (a->mail_temp && a->npending > 0) {
		log_info(a->qid, "%s refused the sender: %s, trying the next host",
		    log_esc(k->peer), safe(a->last_text, sbuf, sizeof(sbuf)));
		conn_release(a, false);
		attempt_next_host(a);
		attempt_step(a);
		return;
	}
	if (a->npending > 0 && r->reply != NULL)
		attempt_note_failure(a, r->reply->esc[0] ? r->reply->esc :
		    "4.0.0", r->reply->text, TLSRPT_NONE);
	dlv_trace_used(a->trace);
	conn_release(a, true);
	attempt_finish(a);
}

static const char *
fail_esc(const struct delivery_attempt *a, const struct smtp_failure *f)
{
	switch (f->fail) {
	case SMTP_FAIL_STARTTLS_MISSING:
	case SMTP_FAIL_TLS:
	case SMTP_FAIL_DANE:
		if (a->ph.dane_required || a->dest.tls_policy ==
		    TLS_POLICY_DANE_ONLY)
			return "4.7.5";
		return "4.7.4";
	case SMTP_FAIL_CONNECT:
		return "4.4.1";
	case SMTP_FAIL_LOST:
		return "4.4.2";
	default:
		break;
	}
	if (f->reply != NULL && f->reply->esc[0] != '\0')
		return f->reply->esc;
	return "4.4.0";
}

static void
conn_cbs_closed(void *arg, const struct smtp_failure *f)
{
	struct dlv_conn *k = arg;
	struct delivery_attempt *a = k->a;
	char sbuf[LOG_SAFE_MAX], text[600], peer[320];
	const char *esc;
	bool k_reused;

	if (k->idle)
		idle_unlink(k->d, k);
	if (a == NULL) {
		conn_free(k);
		return;
	}
	str_copy(peer, k->peer, sizeof(peer));
	k_reused = k->reused;
	a->conn = NULL;
	conn_free(k);
	if (f->fail == SMTP_FAIL_NONE && a->npending == 0) {
		attempt_finish(a);
		return;
	}
	esc = fail_esc(a, f);
	if (f->fail == SMTP_FAIL_DANE)
		snprintf(text, sizeof(text), "DANE verification failed for %s: %s",
		    peer, f->why ? f->why : "no match");
	else if (f->fail == SMTP_FAIL_TLS && f->why != NULL &&
	    strncmp(f->why, "TLS handshake with ", 19) == 0)
		/* smtp_client already names the peer */
		snprintf(text, sizeof(text), "%s", f->why);
	else if (f->fail == SMTP_FAIL_TLS)
		snprintf(text, sizeof(text), "TLS handshake with %s failed: %s",
		    peer, f->why ? f->why : "?");
	else if (f->reply != NULL && f->reply->code != 0)
		snprintf(text, sizeof(text), "%s (%s)", f->why ? f->why : "",
		    f->reply->text);
	else
		snprintf(text, sizeof(text), "%s", f->why ? f->why :
		    smtp_fail_name(f->fail));
	if (f->rpt != TLSRPT_NONE) {
		size_t l = strlen(text);

		snprintf(text + l, sizeof(text) - l, " (%s)", tlsrpt_name(f->rpt));
	}
	dlv_trace_fail(a->trace, TH_FAILED, esc, text, f->rpt);
	if (f->in_transaction && f->stage == SMTP_STAGE_DOT) {
		/* The "." went out: the server may have the message. Defer
		 * (never lose it); the retry may deliver it twice. */
		attempt_note_failure(a, esc, text, f->rpt);
		log_warnx(a->qid, "%s; the message may have been delivered "
		    "already: deferred, the retry may duplicate it",
		    safe(text, sbuf, sizeof(sbuf)));
		attempt_finish(a);
		return;
	}
	if (k_reused && (f->fail == SMTP_FAIL_LOST ||
	    f->fail == SMTP_FAIL_PROTO)) {
		/* A cached connection that died while idle says nothing
		 * about the address: one fresh connection before charging. */
		log_info(a->qid, "Reused connection to %s failed: %s; retrying "
		    "once on a fresh connection", log_esc(peer), safe(text, sbuf,
		    sizeof(sbuf)));
		a->fresh_only = true;
		a->step = DLV_CONNECT;
		attempt_step(a);
		return;
	}
	attempt_note_failure(a, esc, text, f->rpt);
	if (f->fail == SMTP_FAIL_TLS && !a->plaintext_retry &&
	    (a->ph.level == TLS_LEVEL_MAY || a->ph.test_mode)) {
		/* Postfix: opportunistic TLS that fails the handshake is
		 * retried in plaintext on the same address. Test mode
		 * delivers as may does, after saying what it would do. */
		if (a->ph.test_mode && a->ph.level >= TLS_LEVEL_ENCRYPT)
			log_info(a->qid, "test mode: would have deferred: %s %s",
			    esc, safe(text, sbuf, sizeof(sbuf)));
		log_info(a->qid, "%s; retrying %s in plaintext (%s)",
		    safe(text, sbuf, sizeof(sbuf)), log_esc(peer),
		    a->ph.test_mode ? "test mode" : "policy may");
		a->plaintext_retry = true;
		a->step = DLV_CONNECT;
		attempt_step(a);
		return;
	}
	a->plaintext_retry = false;
	a->addridx++;
	log_info(a->qid, "%s failed: %s %s; trying the next %s",
	    log_esc(peer), esc, safe(text, sbuf, sizeof(sbuf)),
	    a->addridx < a->naddrs ?
	    "address" : "MX host");
	a->step = DLV_CONNECT;
	attempt_step(a);
}

/* Connect (or reuse) the current address; false: go on at once. */
static bool
attempt_connect(struct delivery_attempt *a)
{
	struct delivery *d = a->d;
	const struct conf *conf = d->conf;
	struct smtp_client_params p;
	struct sockaddr_storage ss;
	struct dlv_addr *ad = &a->addrs[a->addridx];
	struct dlv_conn *k;
	char ip[DNS_ADDR_TEXT_MAX], peer[320];
	unsigned char key[TLS_KEY_LEN];
	const char *host = mx_host_name(a);
	unsigned port = a->dest.remote_port;

	memset(&p, 0, sizeof(p));
	policy_secctx(&a->ph, a->dt, a->ndt, &p.sec);
	if (a->plaintext_retry) {
		p.sec.level = TLS_LEVEL_NONE;
		p.sec.sni = NULL;
	}
	rr_addr_ntop(&ad->a, ip, sizeof(ip));
	snprintf(peer, sizeof(peer), "%s[%s]:%u", host, ip, port);
	tls_secctx_key(&p.sec, peer, key);
	str_copy(a->last_mx, host, sizeof(a->last_mx));
	dlv_trace_connect(a->trace, ip);

	if (!a->fresh_only && (k = idle_take(d, key)) != NULL) {
		log_info(a->qid, "Reusing connection to %s (%u messages so far)",
		    log_esc(peer), smtp_client_messages(k->c));
		trace_conn(a, k->c, true);
		k->a = a;
		k->reused = true;
		a->conn = k;
		attempt_send(a);
		return true;
	}
	p.salen = rr_addr_sockaddr(&ad->a, (uint16_t)port, &ss);
	p.sa = (struct sockaddr *)&ss;
	p.host = host;
	p.helo_name = conf && conf->hostname ? conf->hostname : "localhost";
	p.tls = d->p.tls;
	if (p.tls == NULL && p.sec.level >= TLS_LEVEL_ENCRYPT &&
	    !p.sec.test_mode) {
		/* No TLS client: a host that requires TLS is unusable, it
		 * never gets the mail in plaintext. */
		char t[400];

		snprintf(t, sizeof(t), "no TLS client available for %s, which "
		    "requires TLS", peer);
		log_warnx(a->qid, "%s", log_esc(t));
		attempt_note_failure(a, a->ph.dane_required ? "4.7.5" : "4.7.4",
		    t, a->ph.dane_required ? TLSRPT_DANE_REQUIRED : TLSRPT_NONE);
		a->addridx = a->naddrs;
		return false;
	}
	if (p.tls == NULL)
		p.sec.level = TLS_LEVEL_NONE;
	p.connect_timeout = conf ? conf->connect_timeout : 30;
	p.greeting_timeout = conf ? conf->greeting_timeout : 300;
	p.command_timeout = conf ? conf->command_timeout : 300;
	p.data_timeout = conf ? conf->data_timeout : 180;
	p.data_done_timeout = conf ? conf->data_done_timeout : 600;

	k = xcalloc(1, sizeof(*k));
	k->d = d;
	k->a = a;
	memcpy(k->key, key, sizeof(k->key));
	str_copy(k->peer, peer, sizeof(k->peer));
	log_info(a->qid, "Connecting to [%s]:%u%s", ip, port,
	    ad->secure ? " (DNSSEC)" : "");
	k->c = smtp_client_connect(d->p.base, &p, &conn_cbs, k);
	if (k->c == NULL) {
		char t[400];

		snprintf(t, sizeof(t), "connect to %s: %s", peer,
		    strerror(errno));
		log_info(a->qid, "%s", log_esc(t));
		attempt_note_failure(a, "4.4.1", t, TLSRPT_NONE);
		dlv_trace_fail(a->trace, TH_FAILED, "4.4.1", t, TLSRPT_NONE);
		free(k);
		a->addridx++;
		return false;
	}
	a->conn = k;
	a->fresh_only = false;
	a->step = DLV_SMTP;
	return true;
}

/*
 * Rule 16 before the MX lookup (policy_validation()): true when the
 * attempt waits for the self-check in flight or has been deferred.
 */
static bool
attempt_validation(struct delivery_attempt *a)
{
	struct selfcheck *sc = a->d->sc;
	enum dnssec_validation v = selfcheck_state(sc);
	unsigned retry;
	size_t i;

	/* one verdict per attempt, even if a re-check ends meanwhile */
	a->vok = v == VALIDATION_OK;
	if (!policy_dane(a->dest.tls_policy))
		return false;
	if (v == VALIDATION_PENDING ||
	    (v == VALIDATION_UNCONFIRMED && selfcheck_busy(sc))) {
		/* bounded by the resolver's deadline for the check */
		a->waiting_validation = true;
		return true;
	}
	policy_validation(a->dest.tls_policy, a->dest.test_mode, v, a->domain,
	    selfcheck_detail(sc), &a->pmx);
	if (a->pmx.note[0] != '\0') {
		if (a->pmx.note_warn)
			log_warnx(a->qid, "%s", log_esc(a->pmx.note));
		else
			log_info(a->qid, "%s", log_esc(a->pmx.note));
	}
	if (a->pmx.action == POL_MX_GO)
		return false;
	/* No lookup can help. Not confirmed: come back after the next check. */
	retry = v == VALIDATION_UNCONFIRMED ? selfcheck_next_in(sc) + 1 : 0;
	log_warnx(a->qid, "%s %s", a->pmx.esc, log_esc(a->pmx.text));
	attempt_all(a, DLV_TEMP, a->pmx.esc, a->pmx.text, a->pmx.rpt);
	for (i = 0; i < a->n; i++)
		a->out[i].retry_after = retry;
	attempt_finish(a);
	return true;
}

/*
 * A recipient domain that is an address literal (allow_address_literals):
 * no name, so no MX and no TLSA to look up (RFC 7672 applies to names):
 * dane-only defers, every other policy connects to the address with the
 * TLS it allows short of DANE.
 */
static void
attempt_literal(struct delivery_attempt *a)
{
	struct dlv_addr *ad = &a->addrs[0];
	enum tls_policy pol = a->dest.tls_policy;

	if (!a->d->conf->allow_address_literals ||
	    addr_literal_parse(a->domain, &ad->a) == -1) {
		attempt_all(a, DLV_PERM, "5.1.3", "address literal recipients "
		    "are not allowed (allow_address_literals)", TLSRPT_NONE);
		attempt_finish(a);
		return;
	}
	if (pol == TLS_POLICY_DANE_ONLY && !a->dest.test_mode) {
		log_warnx(a->qid, "address literal %s: no host name to look "
		    "TLSA records up for, dane-only cannot deliver",
		    log_esc(a->domain));
		attempt_all(a, DLV_TEMP, "4.7.5", "address literal has no host "
		    "name for DANE; tls_policy dane-only cannot deliver to it",
		    TLSRPT_NONE);
		attempt_finish(a);
		return;
	}
	memset(&a->mx, 0, sizeof(a->mx));
	a->mx.status = MX_HOSTS;
	a->mx.state = DNS_INSECURE;
	a->mx.domain = xstrdup(a->domain);
	a->mx.hosts = xcalloc(1, sizeof(*a->mx.hosts));
	a->mx.hosts[0].name = xstrdup(a->domain);
	a->mx.nhosts = 1;
	a->mx_built = true;
	ad->secure = false;
	a->naddrs = 1;
	memset(&a->ph, 0, sizeof(a->ph));
	a->ph.action = POL_CONNECT;
	a->ph.test_mode = a->dest.test_mode;
	a->ph.level = pol == TLS_POLICY_NONE ? TLS_LEVEL_NONE :
	    pol == TLS_POLICY_ENCRYPT ? TLS_LEVEL_ENCRYPT : TLS_LEVEL_MAY;
	log_info(a->qid, "address literal %s: no DNS name, DANE does not "
	    "apply; TLS %s", log_esc(a->domain),
	    policy_level_name(a->ph.level));
	a->addridx = 0;
	a->plaintext_retry = false;
	a->step = DLV_CONNECT;
}

static void
attempt_step(struct delivery_attempt *a)
{
	for (;;) {
		switch (a->step) {
		case DLV_MX:
			if (a->domain[0] == '[') {
				attempt_literal(a);
				if (a->step != DLV_CONNECT)
					return;
				continue;
			}
			if (attempt_validation(a))
				return;
			a->q = resolver_lookup_mx(a->d->p.resolver, a->domain,
			    mx_cb, a);
			if (a->q == NULL) {
				attempt_all(a, DLV_TEMP, "4.3.0",
				    "cannot start the MX lookup", TLSRPT_NONE);
				attempt_finish(a);
			}
			return;
		case DLV_ADDR:
			if (a->hostidx >= a->mx.nhosts) {
				attempt_finish(a);
				return;
			}
			a->q = resolver_lookup_host(a->d->p.resolver,
			    mx_host_name(a), RESOLVER_V4 | RESOLVER_V6, host_cb, a);
			if (a->q == NULL) {
				attempt_next_host(a);
				continue;
			}
			return;
		case DLV_TLSA:
			if (a->nbases == 0 || a->baseidx >= a->nbases) {
				host_policy(a);
				continue;
			}
			a->q = resolver_lookup_tlsa(a->d->p.resolver,
			    a->bases[a->baseidx], a->dest.remote_port, tlsa_cb, a);
			if (a->q == NULL) {
				attempt_note_failure(a, "4.4.3",
				    "cannot start the TLSA lookup", TLSRPT_NONE);
				attempt_next_host(a);
				continue;
			}
			return;
		case DLV_CONNECT:
			if (a->addridx >= a->naddrs) {
				attempt_next_host(a);
				continue;
			}
			if (attempt_connect(a))
				return;
			continue;
		case DLV_SMTP:
		case DLV_DONE:
			return;
		}
	}
}

/*
 * attempt_timeout: the whole attempt (every host) ends here, whatever
 * stage it is in; the recipients still open are deferred. The per-stage
 * totals in relay/smtp_client.c move on from one slow host; this bounds
 * a domain whose every host is slow.
 */
static void
attempt_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delivery_attempt *a = arg;
	unsigned secs = a->d->conf ? a->d->conf->attempt_timeout : 0;
	char text[600], sbuf[LOG_SAFE_MAX];
	bool dot = false;

	(void)fd;
	(void)what;
	if (a->step == DLV_DONE)
		return;
	if (a->q != NULL) {
		resolver_cancel(a->q);
		a->q = NULL;
	}
	a->waiting_validation = false;
	if (a->conn != NULL) {
		dot = smtp_client_stage(a->conn->c) == SMTP_STAGE_DOT;
		snprintf(text, sizeof(text), "attempt timed out after %us "
		    "(attempt_timeout) with %s during %s", secs, a->conn->peer,
		    smtp_stage_name(smtp_client_stage(a->conn->c)));
		a->conn->a = NULL;
		smtp_client_free(a->conn->c);
		conn_free(a->conn);
		a->conn = NULL;
	} else
		snprintf(text, sizeof(text), "attempt timed out after %us "
		    "(attempt_timeout)", secs);
	if (dot)
		log_warnx(a->qid, "%s; the message may have been delivered "
		    "already: deferred, the retry may duplicate it",
		    safe(text, sbuf, sizeof(sbuf)));
	else
		log_info(a->qid, "%s; deferring the recipients still open",
		    safe(text, sbuf, sizeof(sbuf)));
	attempt_note_failure(a, "4.4.2", text, TLSRPT_NONE);
	/* the deadline decides over an earlier TLS failure's reason only
	 * when none was recorded: attempt_finish keeps that rule */
	attempt_finish(a);
}

struct delivery_attempt *
delivery_start(struct delivery *d, const struct queue_envelope *env,
    const char *domain, const size_t *idx, size_t n, delivery_done_cb *cb,
    void *arg)
{
	struct delivery_attempt *a;
	const struct conf_domain *matched = NULL, *expired = NULL;
	char rl[2048], sbuf[LOG_SAFE_MAX];
	size_t i, l;
	int fd;

	if (d == NULL || env == NULL || domain == NULL || idx == NULL ||
	    n == 0 || cb == NULL || d->conf == NULL) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (idx[i] >= env->nrcpts) {
			errno = EINVAL;
			return NULL;
		}
	a = xcalloc(1, sizeof(*a));
	a->done_ev = event_new(d->p.base, -1, 0, attempt_done_ev, a);
	if (a->done_ev == NULL) {
		free(a);
		errno = ENOMEM;
		return NULL;
	}
	fd = queue_content_open(d->p.queue, env->id, &a->size);
	if (fd == -1) {
		int e = errno;

		event_free(a->done_ev);
		free(a);
		errno = e;
		return NULL;
	}
	a->fd = fd;
	a->content_off = lseek(fd, 0, SEEK_CUR);
	a->d = d;
	a->env = env;
	a->qid = env->id;
	a->domain = xstrdup(domain);
	a->idx = xcalloc(n, sizeof(*a->idx));
	memcpy(a->idx, idx, n * sizeof(*idx));
	a->n = n;
	a->cb = cb;
	a->arg = arg;
	a->out = xcalloc(n, sizeof(*a->out));
	a->final = xcalloc(n, sizeof(*a->final));
	a->rcpts = xcalloc(n, sizeof(*a->rcpts));
	a->slot = xcalloc(n, sizeof(*a->slot));
	a->npending = n;
	for (i = 0; i < n; i++)
		a->out[i].idx = idx[i];
	clock_gettime(CLOCK_MONOTONIC, &a->t0);
	if (d->conf->attempt_timeout > 0 &&
	    (a->deadline_ev = evtimer_new(d->p.base, attempt_deadline_cb,
	    a)) != NULL) {
		struct timeval t = { (time_t)d->conf->attempt_timeout, 0 };

		evtimer_add(a->deadline_ev, &t);
	}
	a->next = d->attempts;
	if (a->next != NULL)
		a->next->prevp = &a->next;
	a->prevp = &d->attempts;
	d->attempts = a;

	a->dest = conf_dest_for(d->conf, domain, time(NULL), &matched, &expired);
	if (a->dest.remote_port == 0)
		a->dest.remote_port = 25;
	a->trace = dlv_trace_new(domain, conf_tls_policy_name(a->dest.tls_policy),
	    a->dest.test_mode);

	l = 0;
	for (i = 0; i < n && l < sizeof(rl); i++)
		l += (size_t)snprintf(rl + l, sizeof(rl) - l, "%s<%s>",
		    i ? ", " : "", log_esc(env->rcpts[idx[i]].addr));
	log_info(a->qid, "Processing message from <%s> to %s with policy %s%s",
	    log_esc(env->sender), rl, conf_tls_policy_name(a->dest.tls_policy),
	    a->dest.test_mode ? " (test mode)" : "");
	if (expired != NULL)
		log_info(a->qid, "Override [domain %s%s] expired on %s, no longer "
		    "applies%s%s", expired->subdomains ? "." : "", expired->name,
		    expired->until_text ? expired->until_text : "?",
		    expired->reason ? ": " : "", expired->reason ?
		    safe(expired->reason, sbuf, sizeof(sbuf)) : "");
	if (matched != NULL)
		log_info(a->qid, "Override [domain %s%s] applies%s%s%s%s",
		    matched->subdomains ? "." : "", matched->name,
		    matched->until_text ? " until " : "",
		    matched->until_text ? matched->until_text : "",
		    matched->reason ? ": " : "", matched->reason ?
		    safe(matched->reason, sbuf, sizeof(sbuf)) : "");
	log_info(a->qid, "Delivering message to %s:%u", log_esc(domain),
	    a->dest.remote_port);
	a->step = DLV_MX;
	attempt_step(a);
	return a;
}

void
delivery_cancel(struct delivery_attempt *a)
{
	if (a != NULL)
		attempt_free(a);
}
