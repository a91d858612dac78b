/*
 * relay/queue_ctl.c - the queue tool (see queue_ctl.h): request handling
 * in the daemon, formatting (text like `postqueue -p`, JSON one object per
 * line like `postqueue -j`; `shape` like qshape(1), counted by
 * relay/queue_shape.c), and the command line client. The same formatting
 * serves the daemon's answer and the read-only listing of a spool no
 * daemon owns.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/queue_ctl.h"
#include "conf/conf.h"
#include "queue/queue.h"
#include "queue/queue_id.h"
#include "relay/control.h"
#include "relay/delivery.h"
#include "relay/dlv_trace.h"
#include "relay/log.h"
#include "relay/queue_shape.h"
#include "relay/scheduler.h"
#include "relay/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

/* --- formatting --- */

static void
fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Peer text on one line of the listing: escaped like the log. */
static const char *
safe(const char *s, char *buf, size_t len)
{
	return log_safe(s ? s : "", strlen(s ? s : ""), buf, len);
}

/*
 * A JSON string. Peer text may hold any byte: controls are escaped, and
 * so is every byte that is not part of valid UTF-8 (as \u00XX), so that
 * the output is always valid JSON.
 */
static void
json_str(struct evbuffer *out, const char *s)
{
	const unsigned char *p, *end;
	size_t n;

	if (s == NULL)
		s = "";
	end = (const unsigned char *)s + strlen(s);
	evbuffer_add(out, "\"", 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			evbuffer_add_printf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			evbuffer_add_printf(out, "\\u%04x", *p);
		else if (*p < 0x80)
			evbuffer_add(out, p, 1);
		else if ((n = utf8_seq(p, (size_t)(end - p), NULL)) > 0) {
			evbuffer_add(out, p, n);
			p += n - 1;
		} else
			evbuffer_add_printf(out, "\\u%04x", *p);
	}
	evbuffer_add(out, "\"", 1);
}

static const char *
rcpt_state(const struct queue_envelope *env, const bool *busy, size_t i)
{
	if (busy != NULL && busy[i])
		return "active";
	return queue_rcpt_state_name(env->rcpts[i].state);
}

static bool
rcpt_open(const struct queue_rcpt *r)
{
	return r->state == RCPT_PENDING || r->state == RCPT_DEFERRED;
}

struct list_totals {
	size_t		msgs, held, active, open, pending, deferred, busy;
	unsigned long long octets;
	time_t		now;
	bool		json;
};

/* Postfix's queue names: hold, active, deferred, incoming. */
static const char *
queue_name(const struct queue_envelope *env, const bool *busy)
{
	size_t i;
	bool deferred = false;

	if (env->held)
		return "hold";
	for (i = 0; i < env->nrcpts; i++) {
		if (busy != NULL && busy[i])
			return "active";
		if (env->rcpts[i].state == RCPT_DEFERRED)
			deferred = true;
	}
	return deferred ? "deferred" : "incoming";
}

static void
list_one(struct evbuffer *out, const struct queue_envelope *env,
    const bool *busy, struct list_totals *tot)
{
	const struct queue_rcpt *r;
	char t[32], s1[LOG_SAFE_MAX], s2[LOG_SAFE_MAX];
	bool active = false;
	size_t i;

	for (i = 0; i < env->nrcpts; i++) {
		r = &env->rcpts[i];
		if (!rcpt_open(r))
			continue;
		tot->open++;
		if (busy != NULL && busy[i]) {
			active = true;
			tot->busy++;
		} else if (r->state == RCPT_PENDING)
			tot->pending++;
		else
			tot->deferred++;
	}
	tot->msgs++;
	tot->held += env->held;
	tot->active += active;
	tot->octets += env->size;
	if (tot->json) {
		evbuffer_add_printf(out, "{\"queue_id\":\"%s\",\"queue_name\":\"%s\","
		    "\"held\":%s,\"active\":%s,\"arrival_time\":%lld,"
		    "\"message_size\":%llu,\"sender\":", env->id,
		    queue_name(env, busy), env->held ? "true" : "false",
		    active ? "true" : "false", (long long)env->arrival,
		    (unsigned long long)env->size);
		json_str(out, env->sender);
		evbuffer_add_printf(out, ",\"client\":");
		json_str(out, env->client);
		evbuffer_add_printf(out, ",\"recipients\":[");
		for (i = 0; i < env->nrcpts; i++) {
			r = &env->rcpts[i];
			evbuffer_add_printf(out, "%s{\"address\":", i ? "," : "");
			json_str(out, r->addr);
			evbuffer_add_printf(out, ",\"state\":\"%s\",\"attempts\":%u,"
			    "\"next_attempt\":%lld,\"delay_reason\":",
			    rcpt_state(env, busy, i), r->attempts,
			    (long long)(rcpt_open(r) ? r->next_attempt : 0));
			json_str(out, r->last_error);
			evbuffer_add_printf(out, "}");
		}
		evbuffer_add_printf(out, "]}\n");
		return;
	}
	fmt_time(env->arrival, t, sizeof(t));
	evbuffer_add_printf(out, "%s%c %10llu  %s  <%s>%s\n", env->id,
	    env->held ? '!' : active ? '*' : ' ',
	    (unsigned long long)env->size, t, safe(env->sender, s1, sizeof(s1)),
	    env->held ? "  (held)" : "");
	for (i = 0; i < env->nrcpts; i++) {
		r = &env->rcpts[i];
		evbuffer_add_printf(out, "    %-9s <%s>", rcpt_state(env, busy, i),
		    safe(r->addr, s1, sizeof(s1)));
		if (rcpt_open(r)) {
			evbuffer_add_printf(out, "  attempts %u", r->attempts);
			if (env->held)
				evbuffer_add_printf(out, ", on hold");
			else if (busy != NULL && busy[i])
				evbuffer_add_printf(out, ", in delivery now");
			else if (r->next_attempt <= tot->now)
				evbuffer_add_printf(out, ", next attempt now");
			else {
				fmt_time(r->next_attempt, t, sizeof(t));
				evbuffer_add_printf(out, ", next attempt %s (in "
				    "%llds)", t, (long long)(r->next_attempt -
				    tot->now));
			}
		} else
			evbuffer_add_printf(out, "  attempts %u", r->attempts);
		evbuffer_add_printf(out, "\n");
		if (r->last_error != NULL)
			evbuffer_add_printf(out, "              %s\n",
			    safe(r->last_error, s2, sizeof(s2)));
	}
	evbuffer_add_printf(out, "\n");
}

static void
list_head(struct evbuffer *out, const struct list_totals *tot)
{
	if (!tot->json)
		evbuffer_add_printf(out, "-Queue ID------- ------Size  "
		    "-Arrival Time-------  -Sender/Recipient-------\n");
}

static void
list_tail(struct evbuffer *out, const struct list_totals *tot)
{
	if (tot->json)
		return;
	if (tot->msgs == 0) {
		evbuffer_add_printf(out, "Mail queue is empty\n");
		return;
	}
	evbuffer_add_printf(out, "-- %zu message%s (%zu held, %zu active), "
	    "%llu octets; %zu recipient%s open: %zu pending, %zu deferred, "
	    "%zu active\n", tot->msgs, tot->msgs == 1 ? "" : "s", tot->held,
	    tot->active, tot->octets, tot->open, tot->open == 1 ? "" : "s",
	    tot->pending, tot->deferred, tot->busy);
}

/* --- shape --- */

static int
digits(size_t n)
{
	int w = 1;

	while (n >= 10) {
		n /= 10;
		w++;
	}
	return w;
}

static int
max_int(int a, int b)
{
	return a > b ? a : b;
}

static void
shape_json_row(struct evbuffer *out, const struct shape_row *r)
{
	size_t i;

	evbuffer_add_printf(out, "{\"domain\":");
	json_str(out, r->domain);
	evbuffer_add_printf(out, ",\"total\":%zu,\"buckets\":{", r->total);
	for (i = 0; i < SHAPE_NBUCKETS; i++)
		evbuffer_add_printf(out, "%s\"%s\":%zu", i ? "," : "",
		    shape_bucket_label[i], r->bucket[i]);
	evbuffer_add_printf(out, "},\"held\":%zu}\n", r->held);
}

static void
shape_text_row(struct evbuffer *out, const struct shape_row *r, int dw,
    const int *w)
{
	char s1[LOG_SAFE_MAX];
	size_t i;

	evbuffer_add_printf(out, "%*s %*zu", dw, safe(r->domain, s1,
	    sizeof(s1)), w[0], r->total);
	for (i = 0; i < SHAPE_NBUCKETS; i++)
		evbuffer_add_printf(out, " %*zu", w[1 + i], r->bucket[i]);
	evbuffer_add_printf(out, " %*zu\n", w[1 + SHAPE_NBUCKETS], r->held);
}

/*
 * The rows of a counted queue (sorted here), TOTAL first, as qshape
 * prints them: every column right-aligned to its widest cell.
 */
static void
shape_format(struct evbuffer *out, struct queue_shape *s, bool json)
{
	char s1[LOG_SAFE_MAX];
	int w[SHAPE_NBUCKETS + 2], dw = (int)strlen("TOTAL");
	size_t i;

	queue_shape_sort(s);
	if (json) {
		shape_json_row(out, &s->total);
		for (i = 0; i < s->nrows; i++)
			shape_json_row(out, &s->rows[i]);
		return;
	}
	if (s->total.total == 0) {
		evbuffer_add_printf(out, "Mail queue is empty\n");
		return;
	}
	/* the TOTAL row holds the largest number of every column */
	w[0] = digits(s->total.total);
	for (i = 0; i < SHAPE_NBUCKETS; i++)
		w[1 + i] = max_int((int)strlen(shape_bucket_label[i]),
		    digits(s->total.bucket[i]));
	w[1 + SHAPE_NBUCKETS] = max_int((int)strlen("held"),
	    digits(s->total.held));
	for (i = 0; i < s->nrows; i++)
		dw = max_int(dw, (int)strlen(safe(s->rows[i].domain, s1,
		    sizeof(s1))));
	evbuffer_add_printf(out, "%*s %*s", dw, "", w[0], "T");
	for (i = 0; i < SHAPE_NBUCKETS; i++)
		evbuffer_add_printf(out, " %*s", w[1 + i], shape_bucket_label[i]);
	evbuffer_add_printf(out, " %*s\n", w[1 + SHAPE_NBUCKETS], "held");
	shape_text_row(out, &s->total, dw, w);
	for (i = 0; i < s->nrows; i++)
		shape_text_row(out, &s->rows[i], dw, w);
}

/* --- explain --- */

struct explain {
	struct evbuffer	*out;
	bool		 json, found;
	time_t		 now;
};

static void
explain_host_text(struct evbuffer *out, const struct dlv_trace *t,
    const struct trace_host *h)
{
	char s1[LOG_SAFE_MAX];

	/* names come from DNS: escaped like the log */
	evbuffer_add_printf(out, "    host %s%s%s%s: addresses %s (%u)\n",
	    log_esc(h->name), h->ip[0] ? " [" : "", h->ip, h->ip[0] ? "]" : "",
	    h->addr_state, h->naddrs);
	if (h->tlsa_asked && strcmp(h->tlsa_answer, "data") == 0)
		/* as the log line: "secure, 1 record (1 usable, 0 unusable)" */
		evbuffer_add_printf(out, "      TLSA at base domain %s: %s, %u "
		    "record%s (%u usable, %u unusable)\n", log_esc(h->tlsa_base),
		    h->tlsa_state, h->tlsa_records,
		    h->tlsa_records == 1 ? "" : "s", h->usable, h->unusable);
	else if (h->tlsa_asked)
		evbuffer_add_printf(out, "      TLSA at base domain %s: %s %s\n",
		    log_esc(h->tlsa_base), h->tlsa_answer, h->tlsa_state);
	else if (strcmp(t->policy, "dane") == 0 ||
	    strcmp(t->policy, "dane-only") == 0)
		evbuffer_add_printf(out, "      TLSA not looked up%s\n",
		    strcmp(h->addr_state, "insecure") == 0 ?
		    " (address records insecure)" : "");
	if (h->level[0] != '\0')
		evbuffer_add_printf(out, "      TLS level %s\n", h->level);
	if (h->ip[0] != '\0')
		evbuffer_add_printf(out, "      connected to %s%s%s%s%s%s\n",
		    h->ip, h->src_ip[0] ? " from " : "", h->src_ip,
		    h->tls_protocol[0] ? ", " : "", h->tls_protocol,
		    h->tls_protocol[0] ? (h->dane_auth ? " (DANE)" :
		    " (unauthenticated)") : "");
	evbuffer_add_printf(out, "      %s", trace_host_result_name(h->result));
	if (h->why[0] != '\0')
		evbuffer_add_printf(out, ": %s %s", h->esc,
		    safe(h->why, s1, sizeof(s1)));
	if (h->rpt != TLSRPT_NONE && strstr(h->why, tlsrpt_name(h->rpt)) == NULL)
		evbuffer_add_printf(out, " (%s)", tlsrpt_name(h->rpt));
	evbuffer_add_printf(out, "\n");
}

static void
explain_host_json(struct evbuffer *out, const struct trace_host *h)
{
	evbuffer_add_printf(out, "{\"name\":");
	json_str(out, h->name);
	evbuffer_add_printf(out, ",\"address_state\":\"%s\",\"addresses\":%u,"
	    "\"tlsa\":", h->addr_state, h->naddrs);
	if (h->tlsa_asked) {
		evbuffer_add_printf(out, "{\"base_domain\":");
		json_str(out, h->tlsa_base);
		evbuffer_add_printf(out, ",\"state\":\"%s\",\"answer\":\"%s\","
		    "\"records\":%u,\"usable\":%u,\"unusable\":%u}",
		    h->tlsa_state, h->tlsa_answer, h->tlsa_records, h->usable,
		    h->unusable);
	} else
		evbuffer_add_printf(out, "null");
	evbuffer_add_printf(out, ",\"tls_level\":\"%s\",\"ip\":\"%s\","
	    "\"source_ip\":\"%s\",\"tls_protocol\":\"%s\",\"tls_cipher\":\"%s\","
	    "\"dane_authenticated\":%s,\"result\":\"%s\",\"status\":\"%s\","
	    "\"reason\":", h->level, h->ip, h->src_ip, h->tls_protocol,
	    h->tls_cipher, h->dane_auth ? "true" : "false",
	    trace_host_result_name(h->result), h->esc);
	json_str(out, h->why);
	evbuffer_add_printf(out, ",\"tlsrpt_result\":\"%s\"}",
	    tlsrpt_name(h->rpt));
}

static void
explain_cb(const struct sched_view *v, void *arg)
{
	struct explain *x = arg;
	const struct queue_envelope *env = v->env;
	const struct queue_rcpt *r;
	const struct sched_last *l;
	const struct dlv_trace *t;
	struct evbuffer *out = x->out;
	char tb[32], s1[LOG_SAFE_MAX];
	size_t i, h, n = 0;

	x->found = true;
	fmt_time(env->arrival, tb, sizeof(tb));
	if (x->json) {
		evbuffer_add_printf(out, "{\"queue_id\":\"%s\",\"held\":%s,"
		    "\"arrival_time\":%lld,\"message_size\":%llu,\"sender\":",
		    env->id, env->held ? "true" : "false",
		    (long long)env->arrival, (unsigned long long)env->size);
		json_str(out, env->sender);
		evbuffer_add_printf(out, ",\"recipients\":[");
	} else
		evbuffer_add_printf(out, "%s: from <%s>, arrived %s, %llu "
		    "octets%s\n", env->id, safe(env->sender, s1, sizeof(s1)), tb,
		    (unsigned long long)env->size, env->held ? ", on hold" : "");
	for (i = 0; i < env->nrcpts; i++) {
		r = &env->rcpts[i];
		if (!rcpt_open(r))
			continue;
		l = v->last != NULL && v->last[i].trace != NULL ? &v->last[i] :
		    NULL;
		t = l != NULL ? l->trace : NULL;
		if (x->json) {
			evbuffer_add_printf(out, "%s{\"address\":", n ? "," : "");
			json_str(out, r->addr);
			evbuffer_add_printf(out, ",\"state\":\"%s\",\"attempts\":%u,"
			    "\"next_attempt\":%lld,\"last_error\":",
			    rcpt_state(env, v->busy, i), r->attempts,
			    (long long)r->next_attempt);
			json_str(out, r->last_error);
			if (t == NULL) {
				evbuffer_add_printf(out, ",\"trace\":null}");
				n++;
				continue;
			}
			evbuffer_add_printf(out, ",\"tlsrpt_result\":\"%s\","
			    "\"dane_result\":\"%s\",\"trace\":{\"time\":%lld,"
			    "\"domain\":", tlsrpt_name((enum tlsrpt_type)l->rpt),
			    dlv_trace_dane_result(t, l->host), (long long)t->when);
			json_str(out, t->domain);
			evbuffer_add_printf(out, ",\"policy\":\"%s\",\"test_mode\":"
			    "%s,\"mx\":{\"state\":\"%s\",\"result\":", t->policy,
			    t->test_mode ? "true" : "false", t->mx_state);
			json_str(out, t->mx_text);
			evbuffer_add_printf(out, "},\"hosts\":[");
			for (h = 0; h < t->nhosts; h++) {
				if (h > 0)
					evbuffer_add(out, ",", 1);
				explain_host_json(out, &t->hosts[h]);
			}
			evbuffer_add_printf(out, "]}}");
			n++;
			continue;
		}
		n++;
		evbuffer_add_printf(out, "  <%s>: %s, attempts %u", safe(r->addr,
		    s1, sizeof(s1)), rcpt_state(env, v->busy, i), r->attempts);
		if (env->held)
			evbuffer_add_printf(out, ", on hold (no attempt until "
			    "released)\n");
		else if (r->next_attempt <= x->now)
			evbuffer_add_printf(out, ", next attempt now\n");
		else {
			fmt_time(r->next_attempt, tb, sizeof(tb));
			evbuffer_add_printf(out, ", next attempt %s (in %llds)\n",
			    tb, (long long)(r->next_attempt - x->now));
		}
		if (t == NULL) {
			evbuffer_add_printf(out, "    no attempt since the daemon "
			    "started%s%s\n", r->last_error ? "; last error: " : "",
			    r->last_error ? safe(r->last_error, s1,
			    sizeof(s1)) : "");
			continue;
		}
		fmt_time(t->when, tb, sizeof(tb));
		evbuffer_add_printf(out, "    last attempt %s: domain %s, policy "
		    "%s%s\n", tb, log_esc(t->domain), t->policy, t->test_mode ?
		    " (test mode)" : "");
		if (t->mx_done)
			evbuffer_add_printf(out, "    MX %s: %s, %s\n",
			    log_esc(t->domain), t->mx_state, safe(t->mx_text, s1,
			    sizeof(s1)));
		else
			evbuffer_add_printf(out, "    MX %s: not looked up\n",
			    log_esc(t->domain));
		for (h = 0; h < t->nhosts; h++)
			explain_host_text(out, t, &t->hosts[h]);
		evbuffer_add_printf(out, "    result: %s\n", r->last_error ?
		    safe(r->last_error, s1, sizeof(s1)) : "(none)");
		evbuffer_add_printf(out, "    RFC 8460 result type: %s; DANE: %s\n",
		    l->rpt != TLSRPT_NONE ? tlsrpt_name((enum tlsrpt_type)l->rpt) :
		    "none", dlv_trace_dane_result(t, l->host));
	}
	if (x->json)
		evbuffer_add_printf(out, "]}\n");
	else if (n == 0)
		evbuffer_add_printf(out, "  no open recipient\n");
}

static void
found_cb(const struct sched_view *v, void *arg)
{
	(void)v;
	*(bool *)arg = true;
}

/* --- the daemon's side --- */

struct list_walk {
	struct evbuffer		*out;
	struct list_totals	 tot;
};

static void
list_cb(const struct sched_view *v, void *arg)
{
	struct list_walk *w = arg;

	list_one(w->out, v->env, v->busy, &w->tot);
}

static void
shape_cb(const struct sched_view *v, void *arg)
{
	queue_shape_add(arg, v->env);
}

static bool
has_json(int *argc, char **argv)
{
	int i, j;
	bool json = false;

	for (i = j = 0; i < *argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			argv[j++] = argv[i];
	}
	*argc = j;
	return json;
}

/* --- @DOMAIN --- */

int
queue_ctl_domain_arg(const char *arg, char *buf, size_t len)
{
	char tmp[QUEUE_CTL_DOMAIN_MAX + 3];
	size_t n, i;

	if (arg[0] != '@' || (n = strlen(arg + 1)) == 0 ||
	    n > QUEUE_CTL_DOMAIN_MAX || strchr(arg + 1, '@') != NULL)
		return -1;
	for (i = 1; i <= n; i++)
		if ((unsigned char)arg[i] <= ' ' || arg[i] == 0x7f)
			return -1;
	/* exactly as the scheduler groups recipients: lower case, no
	 * trailing dot */
	snprintf(tmp, sizeof(tmp), "x%s", arg);
	sched_rcpt_domain(tmp, buf, len);
	return buf[0] == '\0' ? -1 : 0;
}

void
queue_ctl_domain_count(const struct queue_envelope *env, const char *domain,
    size_t *in, size_t *other)
{
	char d[QUEUE_CTL_DOMAIN_MAX + 3];
	size_t i;

	*in = *other = 0;
	for (i = 0; i < env->nrcpts; i++) {
		if (!rcpt_open(&env->rcpts[i]))
			continue;
		if (strcmp(sched_rcpt_domain(env->rcpts[i].addr, d, sizeof(d)),
		    domain) == 0)
			(*in)++;
		else
			(*other)++;
	}
}

/*
 * hold, release, delete: of queue ids (answered in request order) or of
 * one @DOMAIN (every message with an open recipient there, chosen when
 * the request comes, answered in arrival order). Each change goes
 * through the per-message path (scheduler_hold(), scheduler_delete()), is
 * logged as such, and its line is answered once it is durable (journal
 * record or removal synced). At most QOP_WINDOW changes are in flight: each
 * holds its journal file open until the committer's batched sync, so a
 * domain of many thousand messages neither takes every descriptor nor
 * holds the loop for more than a window of small writes; each completed
 * sync starts the next change.
 */
#define QOP_WINDOW	64

enum qop_verb { QOP_HOLD, QOP_RELEASE, QOP_DELETE };

static const char *const qop_verb_name[] = { "hold", "release", "delete" };
static const char *const qop_done_name[] = { "held", "released", "deleted" };

enum qop_outcome {
	QI_DONE,			/* changed, durable (or pending) */
	QI_ALREADY,			/* nothing to change */
	QI_KEPT,			/* delete @DOMAIN: other domains too */
	QI_GONE,			/* @DOMAIN: left the queue meanwhile */
	QI_FAILED,
};

struct qop;

struct qop_item {
	struct qop		*op;
	char			 id[QUEUE_ID_MAX];
	char			 result[200];
	enum qop_outcome	 outcome;
};

struct qop {
	struct scheduler	*sched;
	struct control_req	*req;
	enum qop_verb		 verb;
	unsigned		 uid;
	char			 domain[QUEUE_CTL_DOMAIN_MAX + 3];	/* "": ids */
	struct qop_item		*items;
	size_t			 n, cap, next, inflight;
	size_t			 notheld;	/* release @DOMAIN: skipped */
	bool			 later;		/* answered by control_req_done() */
};

static struct qop_item *
qop_add(struct qop *op, const char *id)
{
	struct qop_item *it;

	if (op->n == op->cap) {
		op->cap = op->cap ? op->cap * 2 : 16;
		op->items = xreallocarray(op->items, op->cap,
		    sizeof(*op->items));
	}
	it = &op->items[op->n++];
	memset(it, 0, sizeof(*it));
	snprintf(it->id, sizeof(it->id), "%.*s", QUEUE_ID_MAX - 1, id);
	return it;
}

/* The request's snapshot: every message with an open recipient there. */
static void
qop_select_cb(const struct sched_view *v, void *arg)
{
	struct qop *op = arg;
	size_t in, other;

	queue_ctl_domain_count(v->env, op->domain, &in, &other);
	if (in == 0)
		return;
	if (op->verb == QOP_RELEASE && !v->env->held) {
		op->notheld++;
		return;
	}
	qop_add(op, v->env->id);
}

struct qop_now {
	const char	*domain;
	bool		 found, held;
	size_t		 in, other;
};

static void
qop_now_cb(const struct sched_view *v, void *arg)
{
	struct qop_now *q = arg;

	q->found = true;
	q->held = v->env->held;
	queue_ctl_domain_count(v->env, q->domain, &q->in, &q->other);
}

static size_t
qop_count(const struct qop *op, enum qop_outcome o)
{
	size_t i, k = 0;

	for (i = 0; i < op->n; i++)
		k += op->items[i].outcome == o;
	return k;
}

static const char *
plural(size_t n)
{
	return n == 1 ? "" : "s";
}

/* The count line of an @DOMAIN request, for the answer and the log. */
static void
qop_counts(const struct qop *op, char *buf, size_t len)
{
	size_t done = qop_count(op, QI_DONE), already = qop_count(op,
	    QI_ALREADY), kept = qop_count(op, QI_KEPT), gone = qop_count(op,
	    QI_GONE), failed = qop_count(op, QI_FAILED);
	int w;

	w = snprintf(buf, len, "%zu message%s %s", done, plural(done),
	    qop_done_name[op->verb]);
	if (op->verb == QOP_HOLD)
		w += snprintf(buf + w, len - (size_t)w, ", %zu already held",
		    already);
	else if (op->verb == QOP_RELEASE)
		w += snprintf(buf + w, len - (size_t)w, ", %zu not held",
		    op->notheld + already);
	else
		w += snprintf(buf + w, len - (size_t)w, ", %zu not deleted "
		    "(open recipients in other domains too)", kept);
	if (gone > 0)
		w += snprintf(buf + w, len - (size_t)w, ", %zu left the queue "
		    "meanwhile", gone);
	if (failed > 0)
		snprintf(buf + w, len - (size_t)w, ", %zu failed", failed);
}

/* Every change is durable (or failed): the answer, then op is freed. */
static int
qop_finish(struct qop *op)
{
	struct evbuffer *out = control_req_body(op->req);
	const char *verb = qop_verb_name[op->verb];
	char counts[300], s1[LOG_SAFE_MAX];
	const char *dom = safe(op->domain, s1, sizeof(s1));
	size_t i, bad = qop_count(op, QI_FAILED), kept = qop_count(op, QI_KEPT);
	int rv = bad > 0 ? -1 : 0;

	for (i = 0; i < op->n; i++)
		evbuffer_add_printf(out, "%s: %s\n", op->items[i].id,
		    op->items[i].result);
	if (op->domain[0] != '\0') {
		qop_counts(op, counts, sizeof(counts));
		evbuffer_add_printf(out, "%s @%s: %s\n", verb, dom, counts);
		log_info(NULL, "queue %s @%s by uid %u: %s", verb,
		    log_esc(op->domain), op->uid, counts);
		if (bad > 0)
			control_req_error(op->req, "%s @%s: %zu of %zu failed",
			    verb, dom, bad, op->n);
		else if (kept > 0) {
			/* the operator asked for the domain gone: it is not */
			control_req_error(op->req, "%s @%s: %zu message%s not "
			    "deleted: open recipients in other domains too",
			    verb, dom, kept, plural(kept));
			rv = -1;
		}
	} else if (bad > 0)
		control_req_error(op->req, "%s: %zu of %zu failed", verb, bad,
		    op->n);
	if (op->later)
		control_req_done(op->req, rv);
	free(op->items);
	free(op);
	return rv;
}
static void qop_pump(struct qop *);

static void
qop_synced(void *arg, int error)
{
	struct qop_item *it = arg;
	struct qop *op = it->op;

	/* logged once on disk: after a crash, the log never names a change
	 * that did not survive it */
	if (error != 0) {
		snprintf(it->result, sizeof(it->result), "%s, but not made "
		    "durable: %s", qop_verb_name[op->verb], strerror(error));
		it->outcome = QI_FAILED;
		log_warnx(it->id, "%s by the operator (uid %u) not made durable: "
		    "%s", qop_verb_name[op->verb], op->uid, strerror(error));
	} else
		log_info(it->id, "%s by the operator (uid %u)",
		    qop_done_name[op->verb], op->uid);
	op->inflight--;
	qop_pump(op);
}

#define OTHER_DOMAINS	" (the whole message: it has open recipients in " \
			"other domains too)"

/* Start one change; it->result says what came of it (or will). */
static void
qop_start(struct qop *op, struct qop_item *it)
{
	const char *done = qop_done_name[op->verb];
	struct qop_now now;
	int rv;

	it->op = op;
	memset(&now, 0, sizeof(now));
	if (op->domain[0] == '\0' && !queue_id_valid(it->id)) {
		str_copy(it->result, "not a queue id", sizeof(it->result));
		it->outcome = QI_FAILED;
		return;
	}
	if (op->domain[0] != '\0') {
		/* as it stands now: recipients may have been settled since
		 * the request chose it, never added */
		now.domain = op->domain;
		scheduler_walk(op->sched, it->id, qop_now_cb, &now);
		if (!now.found || now.in == 0) {
			snprintf(it->result, sizeof(it->result), "%s: not %s",
			    now.found ? "no open recipient in the domain any "
			    "more" : "left the queue meanwhile", done);
			it->outcome = QI_GONE;
			return;
		}
		if (op->verb == QOP_DELETE && now.other > 0) {
			/* never delete more than the operator named */
			snprintf(it->result, sizeof(it->result), "also has open "
			    "recipients in other domains: not deleted (delete "
			    "%s removes it)", it->id);
			it->outcome = QI_KEPT;
			return;
		}
	}
	if (scheduler_stopping(op->sched)) {
		snprintf(it->result, sizeof(it->result), "not %s: the daemon is "
		    "stopping", done);
		it->outcome = QI_FAILED;
		return;
	}
	if (op->verb == QOP_DELETE)
		rv = scheduler_delete(op->sched, it->id, qop_synced, it) == 0 ?
		    1 : -1;
	else
		rv = scheduler_hold(op->sched, it->id, op->verb == QOP_HOLD,
		    qop_synced, it);
	if (rv == -1) {
		if (errno == ENOENT && op->domain[0] != '\0') {
			snprintf(it->result, sizeof(it->result), "left the queue "
			    "meanwhile: not %s", done);
			it->outcome = QI_GONE;
			return;
		}
		str_copy(it->result, errno == ENOENT ?
		    "no such message in the queue" : strerror(errno),
		    sizeof(it->result));
		it->outcome = QI_FAILED;
		return;
	}
	/* set before the sync: qop_synced() only overwrites it on failure */
	snprintf(it->result, sizeof(it->result), "%s%s%s", done, rv == 0 ?
	    " already" : "", now.other > 0 ? OTHER_DOMAINS : "");
	if (rv == 0) {
		it->outcome = QI_ALREADY;	/* nothing was written */
		return;
	}
	it->outcome = QI_DONE;
	op->inflight++;
}

/*
 * Start changes while fewer than QOP_WINDOW are in flight; once none is
 * left to start or in flight, answer. Never called from within a
 * change's own start (queue callbacks come later, from the loop).
 */
static void
qop_pump(struct qop *op)
{
	while (op->inflight < QOP_WINDOW && op->next < op->n)
		qop_start(op, &op->items[op->next++]);
	if (op->later && op->inflight == 0 && op->next == op->n)
		(void)qop_finish(op);
}

static int
queue_ctl_change(struct queue_ctl *qc, struct control_req *req, unsigned uid,
    const char *verb, int argc, char **argv)
{
	struct qop	*op;
	char		 s1[LOG_SAFE_MAX];
	int		 i;

	op = xcalloc(1, sizeof(*op));
	op->sched = qc->sched;
	op->req = req;
	op->uid = uid;
	op->verb = strcmp(verb, "delete") == 0 ? QOP_DELETE :
	    strcmp(verb, "hold") == 0 ? QOP_HOLD : QOP_RELEASE;
	for (i = 1; i < argc && argv[i][0] != '@'; i++)
		;
	if (i < argc) {
		/* one @DOMAIN, alone */
		if (argc != 2) {
			control_req_error(req, "%s: one @domain alone, or queue "
			    "ids: not both, not several domains", verb);
			free(op);
			return -1;
		}
		if (queue_ctl_domain_arg(argv[1], op->domain,
		    sizeof(op->domain)) == -1) {
			control_req_error(req, "%s: not a domain: %.64s", verb,
			    safe(argv[1], s1, sizeof(s1)));
			free(op);
			return -1;
		}
		scheduler_walk(qc->sched, NULL, qop_select_cb, op);
		if (op->n == 0 && op->notheld == 0) {
			safe(op->domain, s1, sizeof(s1));
			control_req_error(req, "%s @%s: no message in the queue "
			    "has an open recipient in %s", verb, s1, s1);
			free(op->items);
			free(op);
			return -1;
		}
	} else
		for (i = 1; i < argc; i++)
			qop_add(op, argv[i]);
	qop_pump(op);
	if (op->inflight > 0) {
		op->later = true;
		return CONTROL_LATER;
	}
	return qop_finish(op);
}

int
queue_ctl_handler(struct control_req *req, int argc, char **argv, void *arg)
{
	struct queue_ctl	*qc = arg;
	struct evbuffer		*out = control_req_body(req);
	const char		*verb = argv[0];
	unsigned		 uid = (unsigned)control_req_peer(req)->uid;
	bool			 json = has_json(&argc, argv);
	char			 err[512];
	size_t			 n;

	if (strcmp(verb, "list") == 0 && argc == 1) {
		struct list_walk w;

		memset(&w, 0, sizeof(w));
		w.out = out;
		w.tot.json = json;
		w.tot.now = time(NULL);
		list_head(out, &w.tot);
		scheduler_walk(qc->sched, NULL, list_cb, &w);
		list_tail(out, &w.tot);
		return 0;
	}
	if (strcmp(verb, "shape") == 0 && argc == 1) {
		struct queue_shape sh;

		queue_shape_init(&sh, time(NULL));
		scheduler_walk(qc->sched, NULL, shape_cb, &sh);
		shape_format(out, &sh, json);
		queue_shape_free(&sh);
		return 0;
	}
	if (strcmp(verb, "explain") == 0 && argc == 2) {
		struct explain x;

		if (!queue_id_valid(argv[1])) {
			control_req_error(req, "not a queue id: %.64s", argv[1]);
			return -1;
		}
		memset(&x, 0, sizeof(x));
		x.out = out;
		x.json = json;
		x.now = time(NULL);
		scheduler_walk(qc->sched, argv[1], explain_cb, &x);
		if (!x.found) {
			control_req_error(req, "%s: no such message in the queue",
			    argv[1]);
			return -1;
		}
		return 0;
	}
	if (strcmp(verb, "flush") == 0 && argc <= 2) {
		char dom[QUEUE_CTL_DOMAIN_MAX + 3];

		if (argc == 1) {
			n = scheduler_flush_some(qc->sched, NULL, NULL);
			log_info(NULL, "queue flush by uid %u: %zu deferred "
			    "recipient%s due now", uid, n, n == 1 ? "" : "s");
		} else if (queue_ctl_domain_arg(argv[1], dom, sizeof(dom)) == 0) {
			n = scheduler_flush_some(qc->sched, NULL, dom);
			log_info(NULL, "queue flush @%s by uid %u: %zu deferred "
			    "recipient%s due now", log_esc(dom), uid, n,
			    n == 1 ? "" : "s");
		} else if (queue_id_valid(argv[1])) {
			bool found = false;

			scheduler_walk(qc->sched, argv[1], found_cb, &found);
			if (!found) {
				control_req_error(req, "%s: no such message in "
				    "the queue", argv[1]);
				return -1;
			}
			n = scheduler_flush_some(qc->sched, argv[1], NULL);
			log_info(argv[1], "queue flush by uid %u: %zu deferred "
			    "recipient%s due now", uid, n, n == 1 ? "" : "s");
		} else {
			control_req_error(req, "flush: not a queue id or @domain: "
			    "%.64s", argv[1]);
			return -1;
		}
		evbuffer_add_printf(out, "queue flush: %zu deferred recipient%s "
		    "due now\n", n, n == 1 ? "" : "s");
		return 0;
	}
	if ((strcmp(verb, "hold") == 0 || strcmp(verb, "release") == 0 ||
	    strcmp(verb, "delete") == 0) && argc >= 2 && !json)
		return queue_ctl_change(qc, req, uid, verb, argc, argv);
	if (strcmp(verb, "reload") == 0 && argc == 1) {
		qc->reload(qc->arg);
		evbuffer_add_printf(out, "reload requested; the log says whether "
		    "the new configuration was taken\n");
		return 0;
	}
	if (strcmp(verb, "reopen") == 0 && argc == 1) {
		if (qc->reopen(qc->arg, err, sizeof(err)) == -1) {
			control_req_error(req, "%s", err);
			return -1;
		}
		evbuffer_add_printf(out, "log_file and acct_file reopened\n");
		return 0;
	}
	control_req_error(req, "unknown request: %.64s (%d argument%s)", verb,
	    argc - 1, argc == 2 ? "" : "s");
	return -1;
}

/* --- the command line's side --- */

static void
usage_queue(void)
{
	fprintf(stderr,
	    "usage: danerelay [-c FILE] queue list [--json]\n"
	    "       danerelay [-c FILE] queue shape [--json]\n"
	    "       danerelay [-c FILE] queue flush [ID|@DOMAIN]\n"
	    "       danerelay [-c FILE] queue delete|hold|release ID...|@DOMAIN\n"
	    "       danerelay [-c FILE] queue explain ID [--json]\n"
	    "       danerelay [-c FILE] reload|reopen\n");
}

bool
queue_ctl_is_command(const char *s)
{
	return strcmp(s, "queue") == 0 || strcmp(s, "reload") == 0 ||
	    strcmp(s, "reopen") == 0;
}

struct offline {
	struct evbuffer		*out;
	struct list_totals	 tot;
	struct queue_shape	*shape;		/* `shape`; NULL: `list` */
	unsigned		 bad;
};

static void
offline_cb(const char *id, struct queue_envelope *env, const char *why,
    void *arg)
{
	struct offline *o = arg;

	if (env == NULL) {
		fprintf(stderr, "danerelay: msg/%s does not load: %s\n", id, why);
		o->bad++;
		return;
	}
	if (o->shape != NULL)
		queue_shape_add(o->shape, env);
	else
		list_one(o->out, env, NULL, &o->tot);
	queue_envelope_free(env);
}

/* `list` or `shape` (verb) of a spool no daemon owns, read-only. */
static int
offline_list(const char *spool, const char *verb, bool json)
{
	struct offline o;
	struct queue_shape sh;
	char err[512];
	int rv;

	memset(&o, 0, sizeof(o));
	o.out = evbuffer_new();
	o.tot.json = json;
	o.tot.now = time(NULL);
	if (strcmp(verb, "shape") == 0) {
		queue_shape_init(&sh, o.tot.now);
		o.shape = &sh;
	} else
		list_head(o.out, &o.tot);
	rv = queue_scan(spool, offline_cb, &o, err, sizeof(err));
	if (rv == -1) {
		fprintf(stderr, "danerelay: queue %s: %s\n", verb, err);
		if (o.shape != NULL)
			queue_shape_free(o.shape);
		evbuffer_free(o.out);
		return 1;
	}
	if (o.shape != NULL) {
		shape_format(o.out, o.shape, json);
		queue_shape_free(o.shape);
	} else
		list_tail(o.out, &o.tot);
	evbuffer_write(o.out, STDOUT_FILENO);
	while (evbuffer_get_length(o.out) > 0 &&
	    evbuffer_write(o.out, STDOUT_FILENO) > 0)
		;
	evbuffer_free(o.out);
	return o.bad > 0 ? 1 : 0;
}

static bool
verb_is(const char *verb, const char *a, const char *b, const char *c)
{
	return strcmp(verb, a) == 0 || (b != NULL && strcmp(verb, b) == 0) ||
	    (c != NULL && strcmp(verb, c) == 0);
}

int
queue_ctl_check(int argc, char **argv, char *err, size_t errlen,
    bool *usage)
{
	const char	*verb = argv[0];
	char		 dom[QUEUE_CTL_DOMAIN_MAX + 3];
	int		 i, nargs = 0, ndom = 0;
	bool		 json = false, change, at;

	*usage = false;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else {
			nargs++;
			ndom += argv[i][0] == '@';
		}
	}
	change = verb_is(verb, "delete", "hold", "release");
	if (!((verb_is(verb, "list", "shape", NULL) && nargs == 0) ||
	    (strcmp(verb, "flush") == 0 && nargs <= 1 && !json) ||
	    (change && nargs >= 1 && !json) ||
	    (strcmp(verb, "explain") == 0 && nargs == 1))) {
		snprintf(err, errlen, "queue: bad command");
		*usage = true;
		return 2;
	}
	at = change || strcmp(verb, "flush") == 0;	/* takes @DOMAIN */
	if (change && ndom > 0 && nargs > 1) {
		snprintf(err, errlen, "queue %s: one @domain alone, or queue ids: "
		    "not both, not several domains", verb);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || queue_id_valid(argv[i]))
			continue;
		if (at && argv[i][0] == '@') {
			if (queue_ctl_domain_arg(argv[i], dom, sizeof(dom)) == 0)
				continue;
			snprintf(err, errlen, "queue %s: not a domain: %s", verb,
			    argv[i]);
			return 2;
		}
		snprintf(err, errlen, "queue %s: not a queue id%s: %s", verb,
		    at ? " or @domain" : "", argv[i]);
		return 2;
	}
	return 0;
}

int
queue_ctl_main(const struct conf *conf, int argc, char **argv)
{
	char		 err[600], *req[CONTROL_ARGS_MAX];
	const char	*verb;
	int		 nreq = 0, i, rv;
	bool		 json = false, usage;

	if (strcmp(argv[0], "queue") != 0) {
		if (argc != 1) {
			usage_queue();
			return 2;
		}
		verb = argv[0];
		req[nreq++] = argv[0];
	} else {
		if (argc < 2) {
			usage_queue();
			return 2;
		}
		verb = argv[1];
		for (i = 1; i < argc && nreq < CONTROL_ARGS_MAX - 1; i++) {
			if (strcmp(argv[i], "--json") == 0)
				json = true;
			req[nreq++] = argv[i];
		}
		if (i < argc) {
			fprintf(stderr, "danerelay: queue: too many arguments\n");
			return 2;
		}
		if (queue_ctl_check(argc - 1, argv + 1, err, sizeof(err),
		    &usage) != 0) {
			fprintf(stderr, "danerelay: %s\n", err);
			if (usage)
				usage_queue();
			return 2;
		}
	}
	rv = control_call(conf->spool_dir, nreq, req, stdout, stderr, err,
	    sizeof(err));
	if (rv >= 0)
		return rv;
	if (errno == ENOENT || errno == ECONNREFUSED) {
		if (strcmp(verb, "list") == 0 || strcmp(verb, "shape") == 0) {
			fprintf(stderr, "danerelay: no daemon is running on %s: "
			    "reading the spool directly (read-only)\n",
			    conf->spool_dir);
			return offline_list(conf->spool_dir, verb, json);
		}
		fprintf(stderr, "danerelay: %s: no daemon is running on %s "
		    "(%s)\n", verb, conf->spool_dir, err);
		return 1;
	}
	if (errno == EACCES || errno == EPERM)
		fprintf(stderr, "danerelay: %s: %s (the control socket is for "
		    "root and members of the daemon's group)\n", verb, err);
	else
		fprintf(stderr, "danerelay: %s: %s\n", verb, err);
	return 1;
}
