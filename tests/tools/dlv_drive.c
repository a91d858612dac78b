/*
 * tests/tools/dlv_drive.c - drive relay/delivery.c alone: queue one
 * message in the conf's spool, run one attempt (or -n N attempts of N
 * messages, one after the other, to exercise connection reuse) to the
 * first recipient's domain, print each outcome as
 *	OUTCOME idx status esc mx rpt | text
 * and exit 0. Logs go to stderr. -N: the engine gets no TLS client (a
 * host that requires TLS must then fail, never get plaintext). Usage:
 *	dlv_drive -c CONF [-n N] [-N] SENDER RCPT...
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "conf/conf.h"
#include "queue/queue.h"
#include "relay/delivery.h"
#include "relay/log.h"
#include "resolver/resolver.h"
#include "tls/tls_client.h"

static struct event_base *base;
static struct queue *q;
static struct delivery *d;
static const char *sender;
static const char *const *rcpts;
static size_t nrcpts;
static int remaining = 1;

static const char *st_name[] = { "OK", "TEMP", "PERM" };

static void start_one(void);

static void
done_cb(struct delivery_attempt *a, const struct dlv_outcome *o, size_t n,
    void *arg)
{
	struct queue_envelope *env = arg;
	size_t i;

	(void)a;
	for (i = 0; i < n; i++)
		printf("OUTCOME %zu %s %s %s %s | %s\n", o[i].idx,
		    st_name[o[i].status], o[i].esc, o[i].mx[0] ? o[i].mx : "-",
		    o[i].rpt ? tlsrpt_name(o[i].rpt) : "-", o[i].text);
	fflush(stdout);
	queue_msg_remove(q, env->id);
	queue_envelope_free(env);
	if (--remaining > 0)
		start_one();
	else
		event_base_loopexit(base, NULL);
}

static void
ready_cb(struct queue_envelope *env, void *arg)
{
	size_t idx[64], i;
	const char *dom = strrchr(env->rcpts[0].addr, '@');

	(void)arg;
	for (i = 0; i < env->nrcpts && i < 64; i++)
		idx[i] = i;
	if (delivery_start(d, env, dom ? dom + 1 : "", idx, i, done_cb,
	    env) == NULL) {
		fprintf(stderr, "delivery_start: %s\n", strerror(errno));
		exit(1);
	}
}

static void
commit_cb(struct queue_msg *m, int error, void *arg)
{
	(void)m;
	(void)arg;
	if (error) {
		fprintf(stderr, "commit: %s\n", strerror(error));
		exit(1);
	}
}

static void
start_one(void)
{
	static const char body[] = "Subject: test\r\nFrom: <s@a>\r\n\r\nhello\r\n.dot line\r\n";
	struct queue_msg *m;

	m = queue_msg_new(q, sender, 0, rcpts, nrcpts, "[127.0.0.1]", "drive");
	if (m == NULL) {
		perror("queue_msg_new");
		exit(1);
	}
	queue_msg_write(m, body, sizeof(body) - 1);
	queue_msg_commit(m, commit_cb, NULL);
}

int
main(int argc, char **argv)
{
	struct delivery_params p;
	struct resolver *r;
	struct tls_client *tls;
	struct conf *conf;
	char err[512];
	const char *cpath = NULL;
	int ch, n = 1, notls = 0;

	while ((ch = getopt(argc, argv, "c:n:N")) != -1)
		switch (ch) {
		case 'c':
			cpath = optarg;
			break;
		case 'N':
			notls = 1;
			break;
		case 'n':
			n = atoi(optarg);
			break;
		default:
			return 2;
		}
	argc -= optind;
	argv += optind;
	if (cpath == NULL || argc < 2) {
		fprintf(stderr, "usage: dlv_drive -c CONF [-n N] [-N] SENDER RCPT...\n");
		return 2;
	}
	remaining = n;
	sender = argv[0];
	rcpts = (const char *const *)argv + 1;
	nrcpts = (size_t)argc - 1;
	if ((conf = conf_load(cpath, NULL, NULL)) == NULL)
		return 2;
	log_open("-", err, sizeof(err));
	evthread_use_pthreads();
	base = event_base_new();
	r = resolver_new(base, conf->resolver_config, conf->trust_anchor_file,
	    err, sizeof(err));
	if (r == NULL) {
		fprintf(stderr, "resolver: %s\n", err);
		return 1;
	}
	tls = tls_client_new(0, err, sizeof(err));
	if (tls == NULL) {
		fprintf(stderr, "tls: %s\n", err);
		return 1;
	}
	q = queue_open(base, conf->spool_dir, ready_cb, NULL, err, sizeof(err));
	if (q == NULL) {
		fprintf(stderr, "queue: %s\n", err);
		return 1;
	}
	memset(&p, 0, sizeof(p));
	p.base = base;
	p.queue = q;
	p.resolver = r;
	p.tls = notls ? NULL : tls;
	if ((d = delivery_new(&p, err, sizeof(err))) == NULL) {
		fprintf(stderr, "delivery: %s\n", err);
		return 1;
	}
	delivery_set_conf(d, conf);
	start_one();
	event_base_dispatch(base);
	delivery_free(d);
	/* let deferred bufferevent frees (closed connections) run */
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_loop(base, EVLOOP_NONBLOCK);
	queue_close(q);
	resolver_free(r);
	tls_client_free(tls);
	event_base_free(base);
	conf_free(conf);
	log_close();
	return 0;
}
