/*
 * tests/unit/test_queue_attach.c - one spool, two event loops on two
 * threads, as the daemon runs it (relay/main.c): the main thread's loop
 * receives and commits messages on the handle from queue_open() and hands
 * each ready envelope over (relay/handoff.h) to a second thread, whose
 * loop removes it through its own handle (queue_attach()) and meanwhile
 * creates, commits and removes messages of its own (as bounces are).
 * Both handles draw ids and spare files from the shared part at once.
 * Every message is committed once, on the loop that asked, every id is
 * unique, and at the end msg/ and tmp/ are empty and spare/ holds no more
 * than its cap. Meant to run under ThreadSanitizer too.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "queue/queue.h"
#include "relay/handoff.h"
#include "tests/unit/check.h"

#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#define N_MAIN		3000	/* messages the main loop receives */
#define N_SECOND	1000	/* messages the second loop makes itself */
#define PER_TURN	40	/* new messages per loop turn, each side */

static char		 top[64], dir[128];
static struct handoff	*h;

struct side {
	struct event_base	*base;
	struct queue		*q;
	struct event		*produce;
	pthread_t		 self;
	unsigned		 made, committed, errors, ready, wrong_thread;
	unsigned		 goal;		/* messages to make */
};

static struct side	 m_side, s_side;
static unsigned		 s_removed, s_taken;	/* the second loop's */
static char		(*ids)[QUEUE_ID_MAX];	/* every id, for uniqueness */
static unsigned		 nids;
static pthread_mutex_t	 ids_mu = PTHREAD_MUTEX_INITIALIZER;

static void
note_id(const char *id)
{
	pthread_mutex_lock(&ids_mu);
	if (nids < N_MAIN + N_SECOND)
		memcpy(ids[nids++], id, QUEUE_ID_MAX);
	pthread_mutex_unlock(&ids_mu);
}

static void
commit_cb(struct queue_msg *m, int error, void *arg)
{
	struct side *sd = arg;

	if (!pthread_equal(pthread_self(), sd->self))
		sd->wrong_thread++;
	if (error != 0)
		sd->errors++;
	sd->committed++;
}

static void
second_maybe_done(void)
{
	if (s_taken == N_MAIN && s_side.ready == N_SECOND)
		event_base_loopexit(s_side.base, NULL);
}

/* Second loop: an envelope handed over from the main loop. */
static void
take(void *a, void *b)
{
	struct queue_envelope *env = b;

	(void)a;
	if (queue_msg_remove(s_side.q, env->id) == 0)
		s_removed++;
	queue_envelope_free(env);
	s_taken++;
	second_maybe_done();
}

static void
main_ready(struct queue_envelope *env, void *arg)
{
	(void)arg;
	if (!pthread_equal(pthread_self(), m_side.self))
		m_side.wrong_thread++;
	m_side.ready++;
	note_id(env->id);
	handoff_post(h, take, NULL, env);
	if (m_side.ready == N_MAIN)
		event_base_loopexit(m_side.base, NULL);
}

static void
second_ready(struct queue_envelope *env, void *arg)
{
	(void)arg;
	if (!pthread_equal(pthread_self(), s_side.self))
		s_side.wrong_thread++;
	s_side.ready++;
	note_id(env->id);
	if (queue_msg_remove(s_side.q, env->id) == 0)
		s_removed++;
	queue_envelope_free(env);
	second_maybe_done();
}

static void
produce_cb(evutil_socket_t fd, short what, void *arg)
{
	struct side *sd = arg;
	const char *rcpt = "bob@b.example";
	static const char body[] = "Subject: t\r\n\r\nhello\r\n";
	struct queue_msg *m;
	unsigned i;

	(void)fd;
	(void)what;
	for (i = 0; i < PER_TURN && sd->made < sd->goal; i++) {
		m = queue_msg_new(sd->q, "alice@a.example", 0, &rcpt, 1,
		    "[127.0.0.1]", "a.example");
		if (m == NULL) {
			sd->errors++;
			sd->made++;
			continue;
		}
		(void)queue_msg_write(m, body, sizeof(body) - 1);
		queue_msg_commit(m, commit_cb, sd);
		sd->made++;
	}
	if (sd->made < sd->goal)
		event_active(sd->produce, EV_TIMEOUT, 1);
}

static void *
second_thread(void *arg)
{
	(void)arg;
	s_side.self = pthread_self();
	event_active(s_side.produce, EV_TIMEOUT, 1);
	event_base_loop(s_side.base, EVLOOP_NO_EXIT_ON_EMPTY);
	queue_close(s_side.q);		/* its removals complete, on this thread */
	s_side.q = NULL;
	return NULL;
}

static int
count_dir(const char *sub)
{
	char p[192];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	if ((d = opendir(p)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	char err[256];
	pthread_t t;
	unsigned i, dups = 0;

	evthread_use_pthreads();
	snprintf(top, sizeof(top), "/tmp/test_queue_attach.XXXXXX");
	if (mkdtemp(top) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/spool", top);
	ids = calloc(N_MAIN + N_SECOND, QUEUE_ID_MAX);
	m_side.base = event_base_new();
	s_side.base = event_base_new();
	m_side.self = pthread_self();
	m_side.goal = N_MAIN;
	s_side.goal = N_SECOND;
	m_side.q = queue_open(m_side.base, dir, main_ready, NULL, err,
	    sizeof(err));
	CHECK(m_side.q != NULL);
	if (m_side.q == NULL)
		return check_done("test_queue_attach");
	s_side.q = queue_attach(m_side.q, s_side.base, second_ready, NULL, err,
	    sizeof(err));
	CHECK(s_side.q != NULL);
	if (s_side.q == NULL)
		return check_done("test_queue_attach");
	h = handoff_new(m_side.base, s_side.base, err, sizeof(err));
	m_side.produce = event_new(m_side.base, -1, 0, produce_cb, &m_side);
	s_side.produce = event_new(s_side.base, -1, 0, produce_cb, &s_side);

	CHECK_INT(pthread_create(&t, NULL, second_thread, NULL), 0);
	event_active(m_side.produce, EV_TIMEOUT, 1);
	event_base_loop(m_side.base, EVLOOP_NO_EXIT_ON_EMPTY);
	pthread_join(t, NULL);
	handoff_free(h);
	queue_close(m_side.q);

	CHECK_INT(m_side.committed, N_MAIN);
	CHECK_INT(m_side.errors, 0);
	CHECK_INT(m_side.wrong_thread, 0);
	CHECK_INT(s_side.committed, N_SECOND);
	CHECK_INT(s_side.errors, 0);
	CHECK_INT(s_side.wrong_thread, 0);
	CHECK_INT(s_taken, N_MAIN);
	CHECK_INT(s_removed, N_MAIN + N_SECOND);
	CHECK_INT(nids, N_MAIN + N_SECOND);
	qsort(ids, nids, QUEUE_ID_MAX, id_cmp);
	for (i = 1; i < nids; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			dups++;
	CHECK_INT(dups, 0);
	CHECK_INT(count_dir("msg"), 0);
	CHECK_INT(count_dir("tmp"), 0);
	CHECK(count_dir("spare") > 0 && count_dir("spare") <= 512);

	event_free(m_side.produce);
	event_free(s_side.produce);
	event_base_free(m_side.base);
	event_base_free(s_side.base);
	free(ids);
	libevent_global_shutdown();
	nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return check_done("test_queue_attach");
}
