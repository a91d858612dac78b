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

/* "@Example.ORG." -> "example.org" */
static void
flush_domain(const char *arg, char *buf, size_t len)
{
	char tmp[300];

	snprintf(tmp, sizeof(tmp), "x%s", arg);
	sched_rcpt_domain(tmp, buf, len);
}

/*
 * hold, release, delete: one change per id, answered once every change is
 * durable (journal record or removal synced), one line per id in request
 * order.
 */
struct qop;

struct qop_item {
	struct qop	*op;
	char		 id[QUEUE_ID_MAX];
	char		 result[160];		/* "" while the sync is pending */
	bool		 failed;
};

struct qop {
	struct control_req	*req;
	const char		*verb;		/* static string */
	struct qop_item		*items;
	size_t			 n, pending;
	bool			 answered_later;
};

static void
qop_finish(struct qop *op)
{
	struct evbuffer *out = control_req_body(op->req);
	size_t i, bad = 0;

	for (i = 0; i < op->n; i++) {
		evbuffer_add_printf(out, "%s: %s\n", op->items[i].id,
		    op->items[i].result);
		bad += op->items[i].failed;
	}
	if (bad > 0)
		control_req_error(op->req, "%s: %zu of %zu failed", op->verb,
		    bad, op->n);
	if (op->answered_later)
		control_req_done(op->req, bad > 0 ? -1 : 0);
}

static void
qop_synced(void *arg, int error)
{
	struct qop_item *it = arg;
	struct qop *op = it->op;

	if (error != 0) {
		snprintf(it->result, sizeof(it->result), "%s, but not made "
		    "durable: %s", op->verb, strerror(error));
		it->failed = true;
	}
	if (--op->pending == 0 && op->answered_later) {
		qop_finish(op);
		free(op->items);
		free(op);
	}
}

static int
queue_ctl_change(struct queue_ctl *qc, struct control_req *req, unsigned uid,
    const char *verb, int argc, char **argv)
{
	struct qop	*op;
	struct qop_item	*it;
	const char	*done;
	int		 i, rv;

	op = xcalloc(1, sizeof(*op));
	op->req = req;
	op->verb = strcmp(verb, "delete") == 0 ? "delete" :
	    strcmp(verb, "hold") == 0 ? "hold" : "release";
	done = strcmp(verb, "delete") == 0 ? "deleted" :
	    strcmp(verb, "hold") == 0 ? "held" : "released";
	op->items = xcalloc((size_t)argc, sizeof(*op->items));
	op->n = (size_t)argc - 1;
	for (i = 1; i < argc; i++) {
		it = &op->items[i - 1];
		it->op = op;
		snprintf(it->id, sizeof(it->id), "%.*s", QUEUE_ID_MAX - 1,
		    argv[i]);
		if (!queue_id_valid(argv[i])) {
			str_copy(it->result, "not a queue id", sizeof(it->result));
			it->failed = true;
			continue;
		}
		if (strcmp(verb, "delete") == 0)
			rv = scheduler_delete(qc->sched, argv[i], qop_synced, it);
		else
			rv = scheduler_hold(qc->sched, argv[i],
			    strcmp(verb, "hold") == 0, qop_synced, it);
		if (rv == -1) {
			str_copy(it->result, errno == ENOENT ?
			    "no such message in the queue" : strerror(errno),
			    sizeof(it->result));
			it->failed = true;
			continue;
		}
		/* set before the sync: qop_synced() only overwrites a failure */
		snprintf(it->result, sizeof(it->result), "%s%s", done,
		    rv == 0 && strcmp(verb, "delete") != 0 ? " already" : "");
		if (rv == 0 && strcmp(verb, "delete") != 0)
			continue;	/* nothing was written */
		op->pending++;
		log_info(argv[i], "%s by the operator (uid %u)", done, uid);
	}
	if (op->pending > 0) {
		op->answered_later = true;
		return CONTROL_LATER;
	}
	qop_finish(op);
	rv = 0;
	for (i = 0; i < (int)op->n; i++)
		if (op->items[i].failed)
			rv = -1;
	free(op->items);
	free(op);
	return rv;
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
		char dom[256];

		if (argc == 1) {
			n = scheduler_flush_some(qc->sched, NULL, NULL);
			log_info(NULL, "queue flush by uid %u: %zu deferred "
			    "recipient%s due now", uid, n, n == 1 ? "" : "s");
		} else if (argv[1][0] == '@' && argv[1][1] != '\0') {
			flush_domain(argv[1], dom, sizeof(dom));
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
	    "       danerelay [-c FILE] queue delete|hold|release ID...\n"
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

int
queue_ctl_main(const struct conf *conf, int argc, char **argv)
{
	char		 err[600], *req[CONTROL_ARGS_MAX];
	const char	*verb;
	int		 nreq = 0, i, nargs = 0, rv;
	bool		 json = false;

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
			else if (i > 1)
				nargs++;
			req[nreq++] = argv[i];
		}
		if (i < argc) {
			fprintf(stderr, "danerelay: queue: too many arguments\n");
			return 2;
		}
		if (!(((strcmp(verb, "list") == 0 ||
		    strcmp(verb, "shape") == 0) && nargs == 0) ||
		    (strcmp(verb, "flush") == 0 && nargs <= 1 && !json) ||
		    ((strcmp(verb, "delete") == 0 || strcmp(verb, "hold") == 0 ||
		    strcmp(verb, "release") == 0) && nargs >= 1 && !json) ||
		    (strcmp(verb, "explain") == 0 && nargs == 1))) {
			fprintf(stderr, "danerelay: queue: bad command\n");
			usage_queue();
			return 2;
		}
		for (i = 2; i < argc; i++)
			if (strcmp(argv[i], "--json") != 0 &&
			    !queue_id_valid(argv[i]) && !(argv[i][0] == '@' &&
			    argv[i][1] != '\0' && strcmp(verb, "flush") == 0)) {
				fprintf(stderr, "danerelay: queue %s: not a queue "
				    "id%s: %s\n", verb, strcmp(verb, "flush") == 0 ?
				    " or @domain" : "", argv[i]);
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
