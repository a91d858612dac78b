/*
 * tests/unit/test_sched_faults.c - the real scheduler, spool and delivery
 * engine on a real event loop, under faults caused for real:
 *  - no descriptors (RLIMIT_NOFILE lowered and every slot taken): the
 *    message cannot be opened, starts pause instead of spinning (little
 *    CPU, one log line), the recipient is not charged; once descriptors
 *    return, the attempt starts by itself;
 *  - a recipient journal that cannot be written (msg/ID.st is the
 *    /dev/full device, so every append fails with ENOSPC): the deferral holds in
 *    memory and keeps its backoff (a few attempts in seconds, not a storm);
 *    once the journal is writable, the record is written again.
 * DNS goes to a closed loopback port, so every attempt fails at once with
 * a temporary error; nothing leaves the machine.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "conf/conf.h"
#include "queue/queue.h"
#include "relay/delivery.h"
#include "relay/log.h"
#include "relay/relay.h"
#include "relay/scheduler.h"
#include "resolver/resolver.h"
#include "tls/tls_client.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#define TA_FILE	"/usr/share/dns/root.key"

static struct event_base	*base;
static char			 top[64], logpath[128];
static struct scheduler		*sched;
static struct queue_envelope	*the_env;	/* owned by the scheduler */
static int			 committed;

static void
ready_cb(struct queue_envelope *env, void *arg)
{
	(void)arg;
	the_env = env;
	scheduler_add(sched, env);
}

static void
commit_cb(struct queue_msg *m, int error, void *arg)
{
	(void)m;
	(void)arg;
	committed = error == 0 ? 1 : -1;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return;
	fputs(text, f);
	fclose(f);
}

/* Lines of the log matching needle. */
static int
log_count(const char *needle)
{
	char line[4096];
	FILE *f = fopen(logpath, "r");
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

static void
stop_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	event_base_loopbreak(base);
}

/* Run the loop for ms milliseconds. */
static void
run_for(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	struct event *t = evtimer_new(base, stop_cb, NULL);

	evtimer_add(t, &tv);
	event_base_dispatch(base);
	event_free(t);
}

/* Run until cond() holds, checking every 100 ms; at most secs. */
static int
run_until(int (*cond)(void), int secs)
{
	int i;

	for (i = 0; i < secs * 10; i++) {
		if (cond())
			return 0;
		run_for(100);
	}
	return cond() ? 0 : -1;
}

static struct delivery *the_dlv;

/* The engine's DNSSEC self-check has ended: unbound holds no sockets. */
static int
validation_done(void)
{
	return delivery_validation(the_dlv) != 0;
}

static int
is_committed(void)
{
	return committed != 0;
}

static int
is_deferred(void)
{
	return the_env != NULL && the_env->rcpts[0].state == RCPT_DEFERRED;
}

static int
journal_rewritten(void)
{
	return log_count("recipient states written to the journal") > 0;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int
hoard_fds(int *fds, int max, struct rlimit *saved)
{
	struct rlimit rl;
	int n = 0, fd;

	getrlimit(RLIMIT_NOFILE, saved);
	rl = *saved;
	rl.rlim_cur = 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	while (n < max && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1)
		fds[n++] = fd;
	return n;
}

static void
release_fds(int *fds, int n, const struct rlimit *saved)
{
	while (n > 0)
		close(fds[--n]);
	setrlimit(RLIMIT_NOFILE, saved);
}

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
test_faults(void)
{
	char			 path[256], spool[128], conftext[1024], err[256];
	char			 st_path[256], msg_path[256], buf[512];
	const char		*rcpts[] = { "r@b.test" };
	struct relay_conf	*rc;
	struct conf		*conf;
	struct queue		*q;
	struct resolver		*res;
	struct tls_client	*tlsc;
	struct delivery		*dlv;
	struct delivery_params	 dp;
	struct queue_msg	*m;
	struct rlimit		 saved;
	struct stat		 full;
	int			 fds[128], n, attempts0, fd;
	double			 cpu0, cpu;
	ssize_t			 len;

	snprintf(spool, sizeof(spool), "%s/spool", top);
	snprintf(logpath, sizeof(logpath), "%s/relay.log", top);
	snprintf(path, sizeof(path), "%s/nodns.conf", top);
	write_file(path, "server:\n\tdo-not-query-localhost: no\n"
	    "\tinfra-cache-max-rtt: 1000\n\toutbound-msg-retry: 1\n"
	    "\tlocal-zone: \"test.\" nodefault\n"
	    "stub-zone:\n\tname: \".\"\n\tstub-addr: 127.0.0.1@9\n");
	snprintf(conftext, sizeof(conftext),
	    "listen = 127.122.0.1:10025\nhostname = relay.test\n"
	    "spool_dir = %s\nlog_file = %s\ntls_policy = none\n"
	    "resolver_config = %s\ntrust_anchor_file = " TA_FILE "\n"
	    "min_backoff = 1s\nmax_backoff = 2s\n", spool, logpath, path);
	snprintf(path, sizeof(path), "%s/relay.conf", top);
	write_file(path, conftext);
	conf = conf_load(path, NULL, NULL);
	CHECK(conf != NULL);
	if (conf == NULL)
		return;
	CHECK_INT(log_open(conf->log_file, err, sizeof(err)), 0);
	rc = relay_conf_new(conf, err, sizeof(err));
	CHECK(rc != NULL);
	if (rc == NULL)
		return;
	sched = scheduler_new(base, rc);
	q = queue_open(base, spool, ready_cb, NULL, err, sizeof(err));
	CHECK(q != NULL);
	res = resolver_new(base, rc->conf->resolver_config, TA_FILE, err,
	    sizeof(err));
	CHECK(res != NULL);
	tlsc = tls_client_new(0, err, sizeof(err));
	CHECK(tlsc != NULL);
	if (q == NULL || res == NULL || tlsc == NULL)
		return;
	memset(&dp, 0, sizeof(dp));
	dp.base = base;
	dp.queue = q;
	dp.resolver = res;
	dp.tls = tlsc;
	dlv = delivery_new(&dp, err, sizeof(err));
	CHECK(dlv != NULL);
	if (dlv == NULL)
		return;
	delivery_set_conf(dlv, rc->conf);
	the_dlv = dlv;
	CHECK_INT(run_until(validation_done, 30), 0);

	/* one message, committed before the scheduler starts */
	m = queue_msg_new(q, "s@a.test", 0, rcpts, 1, "[127.0.0.1]", "c.test");
	CHECK(m != NULL);
	if (m == NULL)
		return;
	CHECK_INT(queue_msg_write(m, "Subject: x\r\n\r\nbody\r\n", 21), 0);
	queue_msg_commit(m, commit_cb, NULL);
	CHECK_INT(run_until(is_committed, 10), 0);
	CHECK_INT(committed, 1);
	CHECK(the_env != NULL);
	if (the_env == NULL)
		return;
	/* its journal is a device that is always full: the device node
	 * itself (mknod, root only), as the queue follows no link */
	snprintf(st_path, sizeof(st_path), "%s/msg/%s.st", spool, the_env->id);
	snprintf(msg_path, sizeof(msg_path), "%s/msg/%s", spool, the_env->id);
	if (geteuid() != 0) {
		check_skip("a journal on /dev/full needs root (mknod)");
		return;
	}
	CHECK_INT(stat("/dev/full", &full), 0);
	CHECK_INT(mknod(st_path, S_IFCHR | 0600, full.st_rdev), 0);

	/* 1. no descriptors: starts pause, the recipient is not charged */
	n = hoard_fds(fds, 128, &saved);
	CHECK(n > 0 && n < 128);
	cpu0 = cpu_seconds();
	scheduler_start(sched, q, dlv);
	run_for(3000);
	cpu = cpu_seconds() - cpu0;
	release_fds(fds, n, &saved);
	printf("starved 3s: %.3fs of CPU, %d pause line(s)\n", cpu,
	    log_count("pausing deliveries"));
	CHECK(cpu < 0.5);
	CHECK_INT(log_count("cannot start a delivery to b.test, pausing "
	    "deliveries for 1s: Too many open files"), 1);
	/* once per minute, whatever the number of pauses */
	CHECK_INT(log_count("pausing deliveries"), 1);
	CHECK_INT(the_env->rcpts[0].state, RCPT_PENDING);
	CHECK_INT(the_env->rcpts[0].attempts, 0);
	CHECK_INT(log_count("Delivering message to"), 0);

	/* 2. descriptors are back: the attempt starts by itself, DNS fails,
	 * the deferral cannot be journaled (ENOSPC) but holds in memory */
	CHECK_INT(run_until(is_deferred, 20), 0);
	CHECK_INT(log_count("deliveries start again"), 1);
	CHECK_INT(the_env->rcpts[0].attempts, 1);
	CHECK(the_env->rcpts[0].next_attempt > time(NULL) - 1);
	CHECK_INT(log_count("cannot record <r@b.test> as deferred in the "
	    "journal, kept in memory, will write it again: No space left on "
	    "device"), 1);
	attempts0 = log_count("Delivering message to");
	run_for(3000);
	/* backoff 1s, then 2s: at most 3 more attempts in 3s, not a storm */
	n = log_count("Delivering message to") - attempts0;
	printf("journal full 3s: %d more attempt(s), recipient at attempt %u\n",
	    n, the_env->rcpts[0].attempts);
	CHECK(n >= 1 && n <= 3);
	CHECK_INT(the_env->rcpts[0].state, RCPT_DEFERRED);
	CHECK_INT(log_count("in the journal, kept in memory"), 1);

	/* 3. the journal becomes writable: the record is written again */
	CHECK_INT(unlink(st_path), 0);
	CHECK_INT(run_until(journal_rewritten, 70), 0);
	fd = open(st_path, O_RDONLY);
	CHECK(fd != -1);
	len = fd != -1 ? read(fd, buf, sizeof(buf) - 1) : -1;
	buf[len > 0 ? len : 0] = '\0';
	if (fd != -1)
		close(fd);
	CHECK(strncmp(buf, "R 0 deferred ", 13) == 0);
	CHECK(access(msg_path, F_OK) == 0);

	scheduler_stop(sched);
	delivery_free(dlv);
	queue_close(q);
	scheduler_free(sched);
	tls_client_free(tlsc);
	resolver_free(res);
	relay_conf_unref(rc);
	log_close();
}

int
main(void)
{
	if (access(TA_FILE, R_OK) == -1) {
		check_skip("no " TA_FILE " for the resolver");
		return check_done("test_sched_faults");
	}
	evthread_use_pthreads();
	base = event_base_new();
	snprintf(top, sizeof(top), "/tmp/test_sched_faults.XXXXXX");
	if (mkdtemp(top) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_faults();
	event_base_free(base);
	libevent_global_shutdown();
	nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return check_done("test_sched_faults");
}
