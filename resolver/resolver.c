/*
 * resolver/resolver.c - libunbound on the daemon's libevent loop (see
 * resolver.h). libunbound runs its resolver in a background thread of its
 * own (ub_ctx_async(ctx, 1)); answers come back through a pipe whose read
 * end (ub_fd) is watched by one persistent event, and ub_process() runs
 * the callbacks on the loop thread. Invariants:
 * - every pending handle is on r->pending; resolver_cancel() ub_cancel()s
 *   its sub-queries, and libunbound never calls back a cancelled query;
 * - every handle has a deadline timer: libunbound may sit on a query to a
 *   dead server for minutes (or drop its late SERVFAIL), and delivery must
 *   not wait forever, so the deadline turns it into INDETERMINATE;
 * - a user callback runs only from the event loop (ub_process or a timer),
 *   after the handle is unlinked (so resolver_free() from it is safe but
 *   resolver_cancel() of it is not); its memory goes right after.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "resolver/resolver.h"
#include "resolver/cache.h"
#include "relay/log.h"
#include "relay/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <unbound.h>

#define RESOLVER_INFRA_TTL	"30"	/* seconds a dead server stays dead */

#define RCODE_NOERROR	0
#define RCODE_FORMERR	1
#define RCODE_SERVFAIL	2
#define RCODE_NXDOMAIN	3
#define RCODE_NOTIMP	4
#define RCODE_REFUSED	5

enum rq_kind {
	RQ_ONE,		/* one query: resolver_lookup*, _tlsa, _mx */
	RQ_HOST,	/* A + AAAA, then maybe CNAME */
	RQ_CHECK,	/* DNSKEY at the trust anchor */
};

#define SUB_A		0	/* RQ_HOST: A; RQ_ONE/RQ_CHECK: the only query */
#define SUB_AAAA	1
#define SUB_CNAME	2
#define NSUB		3

struct rsub {				/* one libunbound query */
	struct resolver_query	*q;
	int			 qtype;
	int			 async_id;
	bool			 pending;	/* asked and not yet answered */
	struct dns_result	*res;		/* set when answered (or failed) */
};

struct resolver_query {
	struct resolver			*r;
	TAILQ_ENTRY(resolver_query)	 entry;
	enum rq_kind			 kind;
	struct event			 timer;	/* deadline, or "complete now" */
	char				*name;	/* normalized qname of every sub */
	const char			*invalid;	/* name was unusable: why */
	unsigned			 flags;	/* RESOLVER_V4|V6 */
	bool				 timed_out;
	bool				 cname_asked;
	struct rsub			 sub[NSUB];
	union {
		resolver_cb		*one;
		resolver_host_cb	*host;
		resolver_check_cb	*check;
	}				 cb;
	void				*arg;
};

struct resolver {
	struct event_base		*base;
	struct ub_ctx			*ctx;
	struct event			*ev;		/* ub_fd readable */
	const struct timeval		*deadline;	/* common timeout */
	unsigned			 timeout;
	char				*ta_name;	/* owner of the first trust anchor */
	int				 in_process;	/* inside ub_process() */
	TAILQ_HEAD(, resolver_query)	 pending;
	struct dns_cache		*cache;		/* resolver/cache.h */
};

static void	rq_step(struct resolver_query *);

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Find the owner of the first DS or DNSKEY record of a zone-file style
 * trust anchor file. 0 and *owner (malloc'ed), or -1 + err: a trust anchor
 * file we cannot read, or one without anchors, must stop the start-up.
 */
static int
ta_file_owner(const char *path, char **owner, char *err, size_t errlen)
{
	FILE	*fp;
	char	 line[4096], origin[1024] = ".";
	int	 rv = -1;

	*owner = NULL;
	if ((fp = fopen(path, "r")) == NULL) {
		seterr(err, errlen, "trust anchor file %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char	*tok[8], *p, *save = NULL;
		int	 n = 0, i;

		if ((p = strpbrk(line, ";#\r\n")) != NULL)
			*p = '\0';
		if (line[0] == ' ' || line[0] == '\t')
			continue;	/* continuation, or owner inherited */
		for (p = strtok_r(line, " \t", &save); p != NULL && n < 8;
		    p = strtok_r(NULL, " \t", &save))
			tok[n++] = p;
		if (n == 0)
			continue;
		if (strcasecmp(tok[0], "$ORIGIN") == 0 && n > 1) {
			str_copy(origin, tok[1], sizeof(origin));
			continue;
		}
		if (tok[0][0] == '$')
			continue;
		for (i = 1; i < n && i < 4; i++) {
			if (strcasecmp(tok[i], "DS") == 0 ||
			    strcasecmp(tok[i], "DNSKEY") == 0) {
				*owner = rr_name_normalize(strcmp(tok[0], "@") == 0 ?
				    origin : tok[0]);
				break;
			}
		}
		if (*owner != NULL) {
			rv = 0;
			break;
		}
	}
	if (ferror(fp))
		seterr(err, errlen, "trust anchor file %s: %s", path, strerror(errno));
	else if (rv == -1)
		seterr(err, errlen, "trust anchor file %s: no DS or DNSKEY record", path);
	fclose(fp);
	if (rv == -1) {
		free(*owner);
		*owner = NULL;
	}
	return rv;
}

static void
resolver_fd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *r = arg;
	int rv;

	r->in_process++;
	rv = ub_process(r->ctx);
	r->in_process--;
	if (rv != 0) {
		/*
		 * The pipe to libunbound's thread broke: no answer will come
		 * again. Stop watching (a dead pipe stays readable); pending
		 * lookups end at their deadline as indeterminate.
		 */
		event_del(r->ev);
		log_warnx(NULL, "resolver: libunbound: %s; DNS lookups will fail",
		    ub_strerror(rv));
	}
}

/*
 * libunbound remembers a server that did not answer for infra-host-ttl
 * (900 s by default) and answers SERVFAIL at once meanwhile: a relay
 * started before its network would then wait a quarter of an hour after
 * DNS is back before the self-check (resolver/selfcheck.c) can pass.
 * Unless resolver_config chose a value, forget such servers sooner.
 */
static int
resolver_infra_ttl(struct ub_ctx *ctx)
{
	char *cur = NULL;
	int rv;

	if (ub_ctx_get_option(ctx, "infra-host-ttl", &cur) == 0 && cur != NULL &&
	    strcmp(cur, "900") != 0) {
		free(cur);
		return 0;		/* the operator's choice */
	}
	free(cur);
	rv = ub_ctx_set_option(ctx, "infra-host-ttl:", RESOLVER_INFRA_TTL);
	return rv;
}

struct resolver *
resolver_new(struct event_base *base, const char *config, const char *ta_file,
    char *err, size_t errlen)
{
	struct resolver	*r;
	int		 rv;

	if (ta_file == NULL)
		ta_file = RESOLVER_DEFAULT_TA;
	r = xcalloc(1, sizeof(*r));
	r->base = base;
	r->timeout = RESOLVER_DEFAULT_TIMEOUT;
	TAILQ_INIT(&r->pending);
	r->cache = dns_cache_new();
	if (ta_file_owner(ta_file, &r->ta_name, err, errlen) == -1)
		goto fail;
	if ((r->ctx = ub_ctx_create()) == NULL) {
		seterr(err, errlen, "libunbound: cannot create a context");
		goto fail;
	}
	if (config != NULL && access(config, R_OK) == -1) {
		seterr(err, errlen, "resolver_config %s: %s", config, strerror(errno));
		goto fail;
	}
	if (config != NULL && (rv = ub_ctx_config(r->ctx, config)) != 0) {
		seterr(err, errlen, "resolver_config %s: %s", config, ub_strerror(rv));
		goto fail;
	}
	if ((rv = ub_ctx_add_ta_file(r->ctx, ta_file)) != 0) {
		seterr(err, errlen, "trust anchor file %s: %s", ta_file, ub_strerror(rv));
		goto fail;
	}
	if ((rv = resolver_infra_ttl(r->ctx)) != 0) {
		seterr(err, errlen, "libunbound: infra-host-ttl: %s",
		    ub_strerror(rv));
		goto fail;
	}
	/* A permissive validator would hand bogus data out as insecure. */
	if ((rv = ub_ctx_set_option(r->ctx, "val-permissive-mode:", "no")) != 0 ||
	    (rv = ub_ctx_async(r->ctx, 1)) != 0) {
		seterr(err, errlen, "libunbound: %s", ub_strerror(rv));
		goto fail;
	}
	/*
	 * libunbound reads trust anchors only when it finalizes its setup,
	 * normally at the first query; force that now (removing a local zone
	 * that does not exist finalizes and changes nothing) so that an
	 * unparseable anchor is a start-up error, not silent SERVFAILs.
	 */
	if ((rv = ub_ctx_zone_remove(r->ctx, "danerelay-finalize.invalid.")) != 0) {
		seterr(err, errlen, "libunbound: cannot load resolver_config %s "
		    "and trust anchor file %s: %s", config ? config : "(none)",
		    ta_file, ub_strerror(rv));
		goto fail;
	}
	r->deadline = NULL;
	resolver_set_timeout(r, r->timeout);
	r->ev = event_new(base, ub_fd(r->ctx), EV_READ | EV_PERSIST,
	    resolver_fd_cb, r);
	if (r->ev == NULL || event_add(r->ev, NULL) == -1) {
		seterr(err, errlen, "resolver: cannot watch libunbound's pipe");
		goto fail;
	}
	return r;
fail:
	if (r->ev != NULL)
		event_free(r->ev);
	if (r->ctx != NULL)
		ub_ctx_delete(r->ctx);
	dns_cache_free(r->cache);
	free(r->ta_name);
	free(r);
	return NULL;
}

void
resolver_set_timeout(struct resolver *r, unsigned seconds)
{
	struct timeval tv;

	if (seconds == 0)
		seconds = 1;
	r->timeout = seconds;
	tv.tv_sec = seconds;
	tv.tv_usec = 0;
	/* One common timeout: every deadline lands in an O(1) queue. */
	r->deadline = event_base_init_common_timeout(r->base, &tv);
}

static void
rq_free(struct resolver_query *q)
{
	int i;

	for (i = 0; i < NSUB; i++)
		dns_result_free(q->sub[i].res);
	free(q->name);
	free(q);
}

void
resolver_cancel(struct resolver_query *q)
{
	struct resolver *r = q->r;
	int i;

	for (i = 0; i < NSUB; i++)
		if (q->sub[i].pending)
			(void)ub_cancel(r->ctx, q->sub[i].async_id);
	event_del(&q->timer);
	TAILQ_REMOVE(&r->pending, q, entry);
	rq_free(q);
}

void
resolver_free(struct resolver *r)
{
	struct resolver_query *q;

	if (r == NULL)
		return;
	if (r->in_process)
		fatalx("resolver_free() called from a resolver callback");
	while ((q = TAILQ_FIRST(&r->pending)) != NULL)
		resolver_cancel(q);
	event_free(r->ev);
	ub_ctx_delete(r->ctx);
	dns_cache_free(r->cache);
	free(r->ta_name);
	free(r);
}

/* ---- results ---- */

static struct dns_result *
result_new(const char *qname, int qtype)
{
	struct dns_result *res;

	res = xcalloc(1, sizeof(*res));
	res->qtype = qtype;
	res->qname = xstrdup(qname);
	res->canonname = xstrdup(qname);
	res->state = DNS_INDETERMINATE;
	res->answer = DNS_ANSWER_NONE;
	res->rcode = DNS_RCODE_NONE;
	return res;
}

static struct dns_result *
result_error(const char *qname, int qtype, const char *why)
{
	struct dns_result *res;

	res = result_new(qname, qtype);
	res->reason = xstrdup(why);
	return res;
}

static const char *
rcode_name(int rcode)
{
	switch (rcode) {
	case RCODE_NOERROR:	return "NOERROR";
	case RCODE_FORMERR:	return "FORMERR";
	case RCODE_SERVFAIL:	return "SERVFAIL";
	case RCODE_NXDOMAIN:	return "NXDOMAIN";
	case RCODE_NOTIMP:	return "NOTIMP";
	case RCODE_REFUSED:	return "REFUSED";
	default:		return "unexpected rcode";
	}
}

static bool
type_decoded(int qtype)
{
	return qtype == DNS_T_MX || qtype == DNS_T_A || qtype == DNS_T_AAAA ||
	    qtype == DNS_T_TLSA || qtype == DNS_T_CNAME;
}

/* Drop every decoded record: the answer is not one to act on. */
static void
result_drop_rrs(struct dns_result *res)
{
	size_t i;

	for (i = 0; i < res->nrr; i++)
		rr_clear(res->qtype, &res->rr[i]);
	free(res->rr);
	res->rr = NULL;
	res->nrr = 0;
	res->nmalformed = 0;
}

/*
 * The one place where libunbound's verdict becomes a dns_result. Order
 * matters: a local error or bogus answer is decided before any rcode is
 * looked at, so that neither can pass for NXDOMAIN, NODATA or insecure.
 */
static struct dns_result *
result_from_ub(const char *qname, int qtype, int err, struct ub_result *ur)
{
	struct dns_result	*res;
	char			 buf[512];
	size_t			 i, n;

	res = result_new(qname, qtype);
	if (err != 0 || ur == NULL) {
		snprintf(buf, sizeof(buf), "resolver error: %s", ub_strerror(err));
		res->reason = xstrdup(buf);
		return res;
	}
	res->rcode = ur->rcode;
	res->ttl = ur->ttl > 0 ? (uint32_t)ur->ttl : 0;
	if (ur->canonname != NULL) {
		char *c = rr_name_normalize(ur->canonname);

		if (c != NULL && !rr_name_equal(c, qname)) {
			free(res->canonname);
			res->canonname = c;
			res->cname = true;
		} else
			free(c);
	}
	if (ur->havedata && ur->data != NULL) {
		for (n = 0; ur->data[n] != NULL; n++)
			;
		res->rr = xcalloc(n ? n : 1, sizeof(*res->rr));
		for (i = 0; i < n && type_decoded(qtype); i++) {
			if (rr_decode(qtype, (unsigned char *)ur->data[i],
			    (size_t)ur->len[i], &res->rr[i]) == -1)
				res->nmalformed++;
		}
		res->nrr = n;	/* other types (DNSKEY): counted, not decoded */
	}

	if (ur->bogus) {
		res->state = DNS_BOGUS;
		res->reason = xstrdup(ur->why_bogus != NULL ? ur->why_bogus :
		    "DNSSEC validation failed");
		return res;			/* records kept for display only */
	}
	if (ur->rcode == RCODE_NOERROR || ur->rcode == RCODE_NXDOMAIN) {
		res->state = ur->secure ? DNS_SECURE : DNS_INSECURE;
		if (ur->rcode == RCODE_NXDOMAIN)
			res->answer = DNS_ANSWER_NXDOMAIN;
		else if (res->nrr > 0)
			res->answer = DNS_ANSWER_DATA;
		else
			res->answer = DNS_ANSWER_NODATA;
		/*
		 * Records we cannot decode make an MX/A/AAAA/CNAME answer
		 * unusable. A malformed TLSA record is merely unusable
		 * (RFC 7671), flagged for the DANE policy.
		 */
		if (res->nmalformed > 0 && qtype != DNS_T_TLSA) {
			snprintf(buf, sizeof(buf), "malformed %s rdata (%zu of %zu records)",
			    rr_type_name(qtype), res->nmalformed, res->nrr);
			res->state = DNS_INDETERMINATE;
			res->answer = DNS_ANSWER_NONE;
			res->reason = xstrdup(buf);
		}
		return res;
	}
	/* SERVFAIL, REFUSED, FORMERR, ...: no answer. */
	result_drop_rrs(res);
	if (ur->why_bogus != NULL)
		snprintf(buf, sizeof(buf), "%s: %s", rcode_name(ur->rcode), ur->why_bogus);
	else if (ur->was_ratelimited)
		snprintf(buf, sizeof(buf), "%s (rate limited)", rcode_name(ur->rcode));
	else
		snprintf(buf, sizeof(buf), "%s", rcode_name(ur->rcode));
	res->reason = xstrdup(buf);
	return res;
}

void
dns_result_free(struct dns_result *res)
{
	if (res == NULL)
		return;
	result_drop_rrs(res);
	free(res->qname);
	free(res->canonname);
	free(res->reason);
	free(res);
}

void
resolver_host_free(struct resolver_host *h)
{
	if (h == NULL)
		return;
	free(h->name);
	free(h->canonname);
	free(h->error);
	dns_result_free(h->first_link);
	dns_result_free(h->a);
	dns_result_free(h->aaaa);
	free(h);
}

bool
dns_result_answered(const struct dns_result *res)
{
	return res != NULL && (res->state == DNS_SECURE ||
	    res->state == DNS_INSECURE) && res->answer != DNS_ANSWER_NONE;
}

const char *
dns_state_name(enum dns_state s)
{
	switch (s) {
	case DNS_SECURE:	return "secure";
	case DNS_INSECURE:	return "insecure";
	case DNS_BOGUS:		return "bogus";
	case DNS_INDETERMINATE:	return "indeterminate";
	}
	return "indeterminate";
}

const char *
dns_answer_name(enum dns_answer a)
{
	switch (a) {
	case DNS_ANSWER_DATA:		return "data";
	case DNS_ANSWER_NODATA:		return "nodata";
	case DNS_ANSWER_NXDOMAIN:	return "nxdomain";
	case DNS_ANSWER_NONE:		return "none";
	}
	return "none";
}

/* ---- queries ---- */

static void
rsub_cb(void *arg, int err, struct ub_result *ur)
{
	struct rsub *s = arg;
	struct resolver_query *q = s->q;

	s->pending = false;
	s->res = result_from_ub(q->name, s->qtype, err, ur);
	ub_resolve_free(ur);
	if (type_decoded(s->qtype))
		dns_cache_put(q->r->cache, s->res);
	rq_step(q);
}

static void
rsub_start(struct resolver_query *q, int i, int qtype)
{
	struct rsub	*s = &q->sub[i];
	char		 buf[256];
	int		 rv;

	s->q = q;
	s->qtype = qtype;
	if (q->invalid != NULL) {
		s->res = result_error(q->name, qtype, q->invalid);
		return;
	}
	/* answered from the cache: rq_arm() completes it from the loop */
	if (type_decoded(qtype) &&
	    (s->res = dns_cache_get(q->r->cache, q->name, qtype)) != NULL)
		return;
	rv = ub_resolve_async(q->r->ctx, q->name, qtype, 1 /* IN */, s,
	    rsub_cb, &s->async_id);
	if (rv != 0) {
		snprintf(buf, sizeof(buf), "resolver error: %s", ub_strerror(rv));
		s->res = result_error(q->name, qtype, buf);
		return;
	}
	s->pending = true;
}

static bool
rq_busy(const struct resolver_query *q)
{
	int i;

	for (i = 0; i < NSUB; i++)
		if (q->sub[i].pending)
			return true;
	return false;
}

/* Arm the deadline, or fire at once (from the loop) if nothing is pending. */
static void
rq_arm(struct resolver_query *q)
{
	static const struct timeval now = { 0, 0 };

	evtimer_add(&q->timer, rq_busy(q) ? q->r->deadline : &now);
}

static void
rq_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resolver_query	*q = arg;
	char			 buf[128];
	int			 i;

	for (i = 0; i < NSUB; i++) {
		struct rsub *s = &q->sub[i];

		if (!s->pending)
			continue;
		(void)ub_cancel(q->r->ctx, s->async_id);
		s->pending = false;
		q->timed_out = true;
		snprintf(buf, sizeof(buf), "timed out after %us", q->r->timeout);
		s->res = result_error(q->name, s->qtype, buf);
	}
	rq_step(q);
}

static struct resolver_query *
rq_new(struct resolver *r, enum rq_kind kind, const char *name, void *arg)
{
	struct resolver_query *q;

	q = xcalloc(1, sizeof(*q));
	q->r = r;
	q->kind = kind;
	q->arg = arg;
	q->name = rr_name_normalize(name);
	if (q->name == NULL) {
		q->name = xstrdup(name);
		q->invalid = "invalid domain name";
	}
	evtimer_assign(&q->timer, r->base, rq_timeout_cb, q);
	TAILQ_INSERT_TAIL(&r->pending, q, entry);
	return q;
}

/* RFC 7672 2.2.2/2.2.3 facts from the A/AAAA answers. */
static struct resolver_host *
host_facts(struct resolver_query *q)
{
	struct resolver_host	*h;
	struct dns_result	*res[2] = { q->sub[SUB_A].res, q->sub[SUB_AAAA].res };
	int			 i, nanswered = 0, nsecure = 0;

	h = xcalloc(1, sizeof(*h));
	h->name = xstrdup(q->name);
	for (i = 0; i < 2; i++) {
		if (!dns_result_answered(res[i]))
			continue;
		nanswered++;
		if (res[i]->state == DNS_SECURE)
			nsecure++;
		if (res[i]->cname && !h->cname) {
			h->cname = true;
			h->canonname = xstrdup(res[i]->canonname);
		}
	}
	if (h->canonname == NULL)
		h->canonname = xstrdup(q->name);
	h->chain_secure = h->cname && nanswered > 0 && nsecure == nanswered;
	h->first_link_secure = h->chain_secure;
	return h;
}

/*
 * RFC 7672 2.1.3 for an alias: is every fact the TLSA step relies on
 * backed by an answer? Sets h->error (and error_bogus) when not.
 */
void
resolver_host_settle(struct resolver_host *h)
{
	struct dns_result	*res[2] = { h->a, h->aaaa };
	const char		*fam[2] = { "A", "AAAA" };
	char			 why[512];
	int			 i;

	if (!h->cname)
		return;
	why[0] = '\0';
	for (i = 0; i < 2; i++) {
		if (res[i] == NULL || dns_result_answered(res[i]))
			continue;
		h->error_bogus = h->error_bogus || res[i]->state == DNS_BOGUS;
		if (why[0] == '\0')
			snprintf(why, sizeof(why), "%s lookup %s (%s)", fam[i],
			    dns_state_name(res[i]->state), res[i]->reason ?
			    res[i]->reason : "no answer");
	}
	if (why[0] == '\0' && dns_result_answered(h->a) &&
	    dns_result_answered(h->aaaa) &&
	    !rr_name_equal(h->a->canonname, h->aaaa->canonname))
		snprintf(why, sizeof(why), "A and AAAA lookups end at different "
		    "names (%s, %s)", h->a->canonname, h->aaaa->canonname);
	if (why[0] == '\0' && !h->chain_secure) {
		struct dns_result *fl = h->first_link;

		if (fl == NULL)
			snprintf(why, sizeof(why), "the first CNAME link was "
			    "not checked (a lookup timed out)");
		else if (!dns_result_answered(fl)) {
			h->error_bogus = fl->state == DNS_BOGUS;
			snprintf(why, sizeof(why), "CNAME lookup %s (%s)",
			    dns_state_name(fl->state), fl->reason ? fl->reason :
			    "no answer");
		} else if (fl->state == DNS_SECURE &&
		    fl->answer != DNS_ANSWER_DATA)
			snprintf(why, sizeof(why), "CNAME lookup secure %s, "
			    "contradicting the address answers",
			    dns_answer_name(fl->answer));
	}
	if (why[0] != '\0')
		h->error = xstrdup(why);
}

static void
rq_finish(struct resolver_query *q)
{
	struct resolver		*r = q->r;
	struct dns_result	*res;
	struct resolver_host	*h;
	char			 detail[640];
	bool			 ok;

	event_del(&q->timer);
	TAILQ_REMOVE(&r->pending, q, entry);
	switch (q->kind) {
	case RQ_ONE:
		res = q->sub[SUB_A].res;
		q->sub[SUB_A].res = NULL;
		q->cb.one(res, q->arg);
		break;
	case RQ_HOST:
		h = host_facts(q);
		h->a = q->sub[SUB_A].res;
		h->aaaa = q->sub[SUB_AAAA].res;
		h->first_link = q->sub[SUB_CNAME].res;
		q->sub[SUB_A].res = q->sub[SUB_AAAA].res = q->sub[SUB_CNAME].res = NULL;
		if (h->first_link != NULL && h->first_link->state == DNS_SECURE &&
		    h->first_link->answer == DNS_ANSWER_DATA)
			h->first_link_secure = true;
		resolver_host_settle(h);
		q->cb.host(h, q->arg);
		break;
	case RQ_CHECK:
		res = q->sub[SUB_A].res;
		ok = res->state == DNS_SECURE && res->answer == DNS_ANSWER_DATA;
		if (ok)
			snprintf(detail, sizeof(detail), "DNSKEY %s: secure", res->qname);
		else
			snprintf(detail, sizeof(detail), "DNSKEY %s: %s, %s%s%s",
			    res->qname, dns_state_name(res->state),
			    dns_answer_name(res->answer),
			    res->reason ? ": " : "", res->reason ? res->reason : "");
		q->cb.check(ok, detail, q->arg);
		break;
	}
	rq_free(q);
}

/* Advance a handle after one of its queries ended. */
static void
rq_step(struct resolver_query *q)
{
	if (q->kind == RQ_HOST && !q->cname_asked && !q->timed_out &&
	    !q->sub[SUB_A].pending && !q->sub[SUB_AAAA].pending) {
		struct resolver_host *h = host_facts(q);
		bool need;

		/*
		 * An alias whose chain is not all secure: only an explicit
		 * CNAME query at the original name tells whether its first
		 * link is secure (RFC 7672 2.2.3).
		 */
		need = h->cname && !h->chain_secure;
		resolver_host_free(h);
		q->cname_asked = true;
		if (need) {
			rsub_start(q, SUB_CNAME, DNS_T_CNAME);
			if (q->sub[SUB_CNAME].pending) {
				rq_arm(q);	/* a fresh deadline for this query */
				return;
			}
		}
	}
	if (rq_busy(q))
		return;
	rq_finish(q);
}

struct resolver_query *
resolver_lookup(struct resolver *r, const char *name, int qtype,
    resolver_cb *cb, void *arg)
{
	struct resolver_query *q;

	q = rq_new(r, RQ_ONE, name, arg);
	q->cb.one = cb;
	rsub_start(q, SUB_A, qtype);
	rq_arm(q);
	return q;
}

struct resolver_query *
resolver_lookup_mx(struct resolver *r, const char *domain, resolver_cb *cb,
    void *arg)
{
	return resolver_lookup(r, domain, DNS_T_MX, cb, arg);
}

struct resolver_query *
resolver_lookup_tlsa(struct resolver *r, const char *host, unsigned port,
    resolver_cb *cb, void *arg)
{
	struct resolver_query	*q;
	char			 name[300];
	char			*h;

	h = rr_name_normalize(host);
	snprintf(name, sizeof(name), "_%u._tcp.%s", port, h != NULL ? h : host);
	q = rq_new(r, RQ_ONE, name, arg);
	if (h == NULL || port == 0 || port > 65535)
		q->invalid = h == NULL ? "invalid host name" : "invalid port";
	free(h);
	q->cb.one = cb;
	rsub_start(q, SUB_A, DNS_T_TLSA);
	rq_arm(q);
	return q;
}

struct resolver_query *
resolver_lookup_host(struct resolver *r, const char *name, unsigned flags,
    resolver_host_cb *cb, void *arg)
{
	struct resolver_query *q;

	if ((flags & (RESOLVER_V4 | RESOLVER_V6)) == 0)
		flags = RESOLVER_V4 | RESOLVER_V6;
	q = rq_new(r, RQ_HOST, name, arg);
	q->flags = flags;
	q->cb.host = cb;
	if (flags & RESOLVER_V4)
		rsub_start(q, SUB_A, DNS_T_A);
	if (flags & RESOLVER_V6)
		rsub_start(q, SUB_AAAA, DNS_T_AAAA);
	rq_arm(q);
	return q;
}

struct resolver_query *
resolver_check_validation(struct resolver *r, resolver_check_cb *cb, void *arg)
{
	struct resolver_query *q;

	q = rq_new(r, RQ_CHECK, r->ta_name, arg);
	q->cb.check = cb;
	rsub_start(q, SUB_A, DNS_T_DNSKEY);
	rq_arm(q);
	return q;
}

const char *
resolver_anchor_name(const struct resolver *r)
{
	return r->ta_name;
}
