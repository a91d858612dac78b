/*
 * tests/bench/bench_queue.c - spool throughput, driven by scripts/bench-queue.
 *	bench_queue DIR CONCURRENCY MESSAGES SIZE
 * Keeps CONCURRENCY messages in flight (each: new, SIZE octets written in
 * 1000-octet lines, commit; a new one starts from each commit callback),
 * then settles every message (one journal record each) and removes it.
 * Prints messages/s and syncs per message; asserts nothing. With
 * CONCURRENCY 0 it runs the naive serial baseline instead: per message
 * write, fsync, rename, fsync of the directory, on one thread.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "queue/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

static struct event_base	*base;
static struct queue		*q;
static unsigned			 total, started, committed, failed, settled;
static size_t			 msgsize;
static char			 line[1000];
static struct queue_envelope	**envs;
static unsigned			 nenvs;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void	start_one(void);

static void
commit_cb(struct queue_msg *m, int error, void *arg)
{
	committed++;
	if (error != 0)
		failed++;
	if (started < total)
		start_one();
}

static void
ready_cb(struct queue_envelope *env, void *arg)
{
	envs[nenvs++] = env;
}

static void
start_one(void)
{
	static const char *rcpt[] = { "rcpt@bench.example" };
	struct queue_msg *m;
	size_t left, n;

	started++;
	m = queue_msg_new(q, "sender@bench.example", 0, rcpt, 1,
	    "[127.0.0.1]", "bench");
	if (m == NULL) {
		perror("queue_msg_new");
		exit(1);
	}
	for (left = msgsize; left > 0; left -= n) {
		n = left < sizeof(line) ? left : sizeof(line);
		if (queue_msg_write(m, line, n) == -1) {
			perror("queue_msg_write");
			break;
		}
	}
	queue_msg_commit(m, commit_cb, NULL);
}

static void
update_cb(void *arg, int error)
{
	struct queue_envelope *env = arg;

	settled++;
	queue_msg_remove(q, env->id);
}

static void
baseline(const char *dir)
{
	char	tmp[512], dst[512], *buf;
	double	t0, t;
	int	fd, dfd;
	unsigned i;

	mkdir(dir, 0700);
	buf = malloc(msgsize + 1);
	memset(buf, 'x', msgsize);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	t0 = now();
	for (i = 0; i < total; i++) {
		snprintf(tmp, sizeof(tmp), "%s/t%u", dir, i);
		snprintf(dst, sizeof(dst), "%s/m%u", dir, i);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd == -1 || write(fd, buf, msgsize) != (ssize_t)msgsize ||
		    fsync(fd) == -1 || rename(tmp, dst) == -1 || fsync(dfd) == -1) {
			perror("baseline");
			exit(1);
		}
		close(fd);
	}
	t = now() - t0;
	printf("serial baseline      : %6u msgs %8.0f msgs/s   2.00 fsyncs/msg "
	    "(write, fsync, rename, fsync dir; one thread)\n", total, total / t);
	for (i = 0; i < total; i++) {
		snprintf(dst, sizeof(dst), "%s/m%u", dir, i);
		unlink(dst);
	}
	close(dfd);
	free(buf);
}

int
main(int argc, char *argv[])
{
	struct queue_stats	 s0, s1;
	unsigned		 conc, i;
	double			 t0, t1, t2;
	char			 err[256];

	if (argc != 5) {
		fprintf(stderr, "usage: bench_queue DIR CONCURRENCY MESSAGES SIZE\n");
		return 2;
	}
	conc = (unsigned)atoi(argv[2]);
	total = (unsigned)atoi(argv[3]);
	msgsize = (size_t)atol(argv[4]);
	memset(line, 'x', sizeof(line));
	line[sizeof(line) - 2] = '\r';
	line[sizeof(line) - 1] = '\n';
	if (conc == 0) {
		baseline(argv[1]);
		return 0;
	}

	evthread_use_pthreads();
	base = event_base_new();
	envs = calloc(total + 1, sizeof(*envs));
	if ((q = queue_open(base, argv[1], ready_cb, NULL, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "queue_open: %s\n", err);
		return 1;
	}
	for (i = 0; i < nenvs; i++)
		queue_envelope_free(envs[i]);
	nenvs = 0;

	queue_get_stats(q, &s0);
	t0 = now();
	for (i = 0; i < conc && started < total; i++)
		start_one();
	while (committed < total)
		event_base_loop(base, EVLOOP_ONCE);
	t1 = now();
	queue_get_stats(q, &s1);

	/* Delivery side: one journal record per message, then removal. */
	for (i = 0; i < nenvs; i++)
		queue_rcpt_update(q, envs[i], 0, RCPT_DELIVERED, 1, 0, NULL,
		    update_cb, envs[i]);
	while (settled < nenvs)
		event_base_loop(base, EVLOOP_ONCE);
	queue_close(q);		/* drains the removals */
	t2 = now();

	printf("concurrency %4u     : %6u msgs %8.0f msgs/s  %5.2f fsyncs/msg "
	    "(%.2f file + %.2f dir), %llu batches, avg %.1f msgs/batch%s\n",
	    conc, total, total / (t1 - t0),
	    (double)(s1.files - s0.files + s1.dirs - s0.dirs) / total,
	    (double)(s1.files - s0.files) / total,
	    (double)(s1.dirs - s0.dirs) / total,
	    (unsigned long long)(s1.batches - s0.batches),
	    (double)total / (double)(s1.batches - s0.batches),
	    failed ? " (FAILURES)" : "");
	printf("  settle+remove      : %6u msgs %8.0f msgs/s\n", nenvs,
	    nenvs / (t2 - t1));
	for (i = 0; i < nenvs; i++)
		queue_envelope_free(envs[i]);
	free(envs);
	event_base_free(base);
	return 0;
}
