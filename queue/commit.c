/*
 * queue/commit.c - group commit: the event loop never waits on the disk,
 * and sessions that finish DATA together share their syncs.
 *
 * - Submit (loop thread): a job goes on a loop-local list and a "kick"
 *   event is made active once. The kick runs after the callbacks already
 *   active in this loop iteration and hands the whole list to the workers
 *   in one splice, so every commit produced while serving one epoll wake-up
 *   travels as one batch, without a timer and without added latency.
 * - Workers (QUEUE_WORKERS threads, signals blocked): a free worker takes
 *   a batch, its fair share of what is queued (split over the idle workers,
 *   at least COMMIT_SPLIT_MIN, at most COMMIT_BATCH_MAX jobs). A batch runs
 *   in four phases: start write-back of all its files (sync_file_range);
 *   fdatasync each (no name changes in between, so the first sync commits
 *   the file system journal for all); rename/unlink; then ONE fsync of msg/
 *   for all the batch's names. While workers wait on the disk new jobs pile
 *   up and the next free worker takes them: the batch grows with load by
 *   itself, the disk's latency sets its size, no timer is involved.
 * - Completion: the worker appends its batch to a done list and, unless
 *   the loop was already told, writes one byte to a pipe; the loop's read
 *   event takes the whole list and runs the done callbacks. The loop only
 *   ever holds the mutex for list splices, never across I/O.
 * - Ownership (checked by the ThreadSanitizer run of tests/run): the
 *   loop thread alone owns the l list, kick, gen and seen, and the jobs
 *   it has not handed over or has reaped; a worker owns the batch it took
 *   until it puts it on the done list; everything under "Shared" is only
 *   touched with mu held. Workers call nothing of relay/log.c.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "queue/commit.h"
#include "relay/log.h"
#include "relay/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#define COMMIT_BATCH_MAX	256	/* jobs per batch, at most */
#define COMMIT_SPLIT_MIN	8	/* never split a batch finer than this */
#define COMMIT_SPARE_KEEP	65536	/* a spare up to this size keeps its blocks */

struct committer {
	struct event_base	*base;
	int			 tmpfd, msgfd;	/* spool dirs, not owned */
	int			 sparefd;	/* -1: never recycle */

	/* Loop thread only. */
	struct commit_job	*lhead, **ltail;	/* not yet handed over */
	size_t			 nlocal;		/* jobs on the l list */
	struct event		*kick;
	bool			 kicked;
	struct event		*wake;		/* on pipefd[0] */
	uint64_t		 gen;
	struct queue_stats	 seen;		/* stats as of the last done list */

	int			 pipefd[2];	/* worker -> loop */
	pthread_t		*threads;
	unsigned		 nthreads;

	/* Shared, under mu. */
	pthread_mutex_t		 mu;
	pthread_cond_t		 work_cv;	/* work queued or stop */
	pthread_cond_t		 idle_cv;	/* no work queued, no batch running */
	struct commit_job	*whead, **wtail;
	size_t			 nwork;		/* jobs on the w list */
	struct commit_job	*dhead, **dtail;
	unsigned		 busy;		/* workers inside a batch */
	bool			 notified;	/* a wake byte is on its way */
	bool			 stop;
	int			 wake_errno;	/* a failed wake-up write, for the loop to log */
	struct queue_stats	 stats;
};

/*
 * rename() that refuses to replace: an id collision must never overwrite a
 * queued message. link+unlink where the file system lacks RENAME_NOREPLACE.
 */
int
commit_rename_noreplace(int fromfd, const char *from, int tofd, const char *to)
{
	if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (linkat(fromfd, from, tofd, to, 0) == -1)
		return -1;
	if (unlinkat(fromfd, from, 0) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

/*
 * Recycle msg/ID as spare/ID (queue/queue.c, "Spare files"): rename it out
 * of msg/ (the batch's fsync of msg/ makes that durable, as it would an
 * unlink). A file of at most COMMIT_SPARE_KEEP octets keeps its blocks,
 * for the next message to overwrite; a bigger one is emptied so that
 * spares never hold more than QUEUE_SPARE_MAX * COMMIT_SPARE_KEEP of disk.
 * Sets j->recycled; on failure msg/ID is either still there (the caller
 * unlinks it) or gone with the spare.
 */
static void
commit_recycle(struct committer *c, struct commit_job *j)
{
	struct stat st;
	int fd;

	if (c->sparefd == -1 || renameat(c->msgfd, j->id, c->sparefd, j->id) == -1)
		return;
	if (fstatat(c->sparefd, j->id, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode) && st.st_size <= COMMIT_SPARE_KEEP) {
		j->recycled = true;
		return;
	}
	if ((fd = openat(c->sparefd, j->id, O_WRONLY | O_TRUNC | O_CLOEXEC)) == -1) {
		(void)unlinkat(c->sparefd, j->id, 0);
		return;
	}
	close(fd);
	j->recycled = true;
}

/* Where a new message's file is: tmp/ID, or the spare it reuses. */
static int
commit_srcfd(const struct committer *c, const struct commit_job *j)
{
	return j->spare[0] != '\0' ? c->sparefd : c->tmpfd;
}

static const char *
commit_src(const struct commit_job *j)
{
	return j->spare[0] != '\0' ? j->spare : j->id;
}

static void
commit_run_batch(struct committer *c, struct commit_job *batch,
    struct queue_stats *st)
{
	struct commit_job	*j;
	char			 name[QUEUE_ID_MAX + 4];
	bool			 dirsync = false;
	int			 e;

	/*
	 * Phase 1: start write-back of every file at once, so that the
	 * device works on the whole batch together.
	 */
	for (j = batch; j != NULL; j = j->next)
		if ((j->kind == COMMIT_MSG || j->kind == COMMIT_JOURNAL) &&
		    j->fd != -1)
			(void)sync_file_range(j->fd, 0, 0, SYNC_FILE_RANGE_WRITE);

	/*
	 * Phase 2: fdatasync each file. No name changes in between, so the
	 * first one commits the file system journal for the whole batch and
	 * the others mostly find their metadata already committed.
	 */
	for (j = batch; j != NULL; j = j->next) {
		st->jobs++;
		if (j->kind != COMMIT_MSG && j->kind != COMMIT_JOURNAL)
			continue;
		st->files++;
		if (fdatasync(j->fd) == -1)
			j->error = errno;
		close(j->fd);
		j->fd = -1;
	}

	/* Phase 3: names. */
	for (j = batch; j != NULL; j = j->next) {
		switch (j->kind) {
		case COMMIT_MSG:
			/*
			 * Data before name: the rename only follows a good
			 * fdatasync, so msg/ID never names a file whose content
			 * is not on disk. tmp/ is never fsynced: whether tmp/ID
			 * survives a crash does not matter (recovery removes
			 * all of tmp/).
			 */
			if (j->error == 0 && commit_rename_noreplace(
			    commit_srcfd(c, j), commit_src(j), c->msgfd,
			    j->id) == -1)
				j->error = errno;
			if (j->error != 0)
				(void)unlinkat(commit_srcfd(c, j), commit_src(j), 0);
			else {
				j->renamed = true;
				dirsync = true;
			}
			break;
		case COMMIT_JOURNAL:
			/*
			 * The journal may have been created by a batch another
			 * worker has not finished: always fsync msg/ as well, so
			 * that "durable" never depends on someone else's sync.
			 */
			if (j->error == 0)
				dirsync = true;
			break;
		case COMMIT_REMOVE:
			/* Message first: a crash in between leaves an orphan
			 * journal (removed at load), never a message whose
			 * recipients look pending again. */
			if (j->recycle)
				commit_recycle(c, j);
			if (!j->recycled && unlinkat(c->msgfd, j->id, 0) == -1 &&
			    errno != ENOENT)
				j->error = errno;
			snprintf(name, sizeof(name), "%s.st", j->id);
			if (j->error == 0 && unlinkat(c->msgfd, name, 0) == -1 &&
			    errno != ENOENT)
				j->error = errno;
			dirsync = true;
			break;
		case COMMIT_DISCARD:
			if (j->fd != -1)
				close(j->fd);
			j->fd = -1;
			(void)unlinkat(commit_srcfd(c, j), commit_src(j), 0);
			break;
		}
	}

	/* Phase 4: one directory fsync covers every name above. */
	if (dirsync) {
		st->dirs++;
		if (fsync(c->msgfd) == -1) {
			/*
			 * The batch's names may not be durable: fail every job
			 * that depended on them. A renamed message is unlinked
			 * again so that it never got 250 and stays (if the unlink
			 * is lost too, it is delivered; a duplicate, not a loss).
			 */
			e = errno;
			for (j = batch; j != NULL; j = j->next) {
				if (j->error != 0 || j->kind == COMMIT_DISCARD)
					continue;
				if (j->kind == COMMIT_MSG && j->renamed) {
					(void)unlinkat(c->msgfd, j->id, 0);
					j->renamed = false;
				}
				j->error = e;
			}
		}
	}
	st->batches++;
}

static void *
committer_worker(void *arg)
{
	struct committer	*c = arg;
	struct commit_job	*batch, **tail, *last;
	struct queue_stats	 st;
	size_t			 n, want, idle;
	bool			 notify;
	int			 e;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->stop && c->whead == NULL)
			pthread_cond_wait(&c->work_cv, &c->mu);
		if (c->whead == NULL)
			break;		/* stop, and nothing left */

		/*
		 * A fair share of the queue: a big pile is split over the
		 * idle workers so that their fdatasyncs run in parallel (the
		 * file system merges them into one journal commit), a small
		 * one stays whole so that it shares one directory fsync.
		 */
		idle = c->nthreads - c->busy;
		want = (c->nwork + idle - 1) / idle;
		if (want < COMMIT_SPLIT_MIN)
			want = COMMIT_SPLIT_MIN;
		if (want > COMMIT_BATCH_MAX)
			want = COMMIT_BATCH_MAX;
		batch = c->whead;
		last = batch;
		for (n = 1; n < want && last->next != NULL; n++)
			last = last->next;
		c->nwork -= n;
		c->whead = last->next;
		last->next = NULL;
		if (c->whead == NULL)
			c->wtail = &c->whead;
		else
			pthread_cond_signal(&c->work_cv);	/* the rest */
		c->busy++;
		pthread_mutex_unlock(&c->mu);

		memset(&st, 0, sizeof(st));
		commit_run_batch(c, batch, &st);

		pthread_mutex_lock(&c->mu);
		*c->dtail = batch;
		for (tail = &batch->next; *tail != NULL; tail = &(*tail)->next)
			;
		c->dtail = tail;
		c->stats.batches += st.batches;
		c->stats.files += st.files;
		c->stats.dirs += st.dirs;
		c->stats.jobs += st.jobs;
		c->busy--;
		if (c->busy == 0 && c->whead == NULL)
			pthread_cond_broadcast(&c->idle_cv);
		notify = !c->notified;
		c->notified = true;
		pthread_mutex_unlock(&c->mu);

		/*
		 * Full pipe: a byte is already waiting, which is enough. A
		 * worker never logs: the log destination belongs to the loop
		 * thread (reopened on SIGHUP), so the error goes to the loop
		 * through wake_errno, reported at its next reap.
		 */
		e = 0;
		if (notify && write(c->pipefd[1], "", 1) == -1 &&
		    errno != EAGAIN)
			e = errno;
		pthread_mutex_lock(&c->mu);
		if (e != 0)
			c->wake_errno = e;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Loop: run the done callbacks of everything the workers finished. */
static void
committer_reap(struct committer *c)
{
	struct commit_job *list, *j;
	int e;

	pthread_mutex_lock(&c->mu);
	list = c->dhead;
	c->dhead = NULL;
	c->dtail = &c->dhead;
	c->notified = false;
	c->seen = c->stats;
	e = c->wake_errno;
	c->wake_errno = 0;
	pthread_mutex_unlock(&c->mu);

	if (e != 0) {
		errno = e;
		log_warn(NULL, "queue: waking the event loop");
	}

	while ((j = list) != NULL) {
		list = j->next;
		j->next = NULL;
		j->done(j);		/* may free j, may submit more */
	}
}

static void
committer_wake_cb(evutil_socket_t fd, short events, void *arg)
{
	struct committer *c = arg;
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	committer_reap(c);
}

/* Loop: hand everything submitted so far to the workers. */
static void
committer_handover(struct committer *c)
{
	c->kicked = false;
	if (c->lhead == NULL)
		return;
	c->gen++;
	pthread_mutex_lock(&c->mu);
	c->nwork += c->nlocal;
	c->nlocal = 0;
	*c->wtail = c->lhead;
	c->wtail = c->ltail;
	pthread_cond_signal(&c->work_cv);
	pthread_mutex_unlock(&c->mu);
	c->lhead = NULL;
	c->ltail = &c->lhead;
}

static void
committer_kick_cb(evutil_socket_t fd, short events, void *arg)
{
	committer_handover(arg);
}

struct committer *
committer_new(struct event_base *base, int tmpfd, int msgfd,
    unsigned nworkers, char *err, size_t errlen)
{
	struct committer	*c;
	sigset_t		 all, old;
	unsigned		 i;
	int			 e;

	c = xcalloc(1, sizeof(*c));
	c->base = base;
	c->tmpfd = tmpfd;
	c->msgfd = msgfd;
	c->sparefd = -1;
	c->ltail = &c->lhead;
	c->wtail = &c->whead;
	c->dtail = &c->dhead;
	c->pipefd[0] = c->pipefd[1] = -1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->work_cv, NULL);
	pthread_cond_init(&c->idle_cv, NULL);

	if (pipe2(c->pipefd, O_NONBLOCK | O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	c->kick = event_new(base, -1, 0, committer_kick_cb, c);
	c->wake = event_new(base, c->pipefd[0], EV_READ | EV_PERSIST,
	    committer_wake_cb, c);
	if (c->kick == NULL || c->wake == NULL || event_add(c->wake, NULL) == -1) {
		snprintf(err, errlen, "cannot create queue events");
		goto fail;
	}

	/* Workers take no signals: those belong to the loop thread. */
	c->threads = xcalloc(nworkers, sizeof(*c->threads));
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < nworkers; i++) {
		if ((e = pthread_create(&c->threads[i], NULL, committer_worker,
		    c)) != 0) {
			snprintf(err, errlen, "pthread_create: %s", strerror(e));
			break;
		}
		c->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (c->nthreads != nworkers) {
		committer_free(c);
		return NULL;
	}
	return c;
fail:
	committer_free(c);
	return NULL;
}

void
committer_set_spare_dir(struct committer *c, int sparefd)
{
	c->sparefd = sparefd;
}

void
committer_submit(struct committer *c, struct commit_job *j)
{
	j->next = NULL;
	j->error = 0;
	j->renamed = false;
	j->recycled = false;
	*c->ltail = j;
	c->ltail = &j->next;
	c->nlocal++;
	if (!c->kicked) {
		c->kicked = true;
		event_active(c->kick, EV_TIMEOUT, 1);
	}
}

uint64_t
committer_generation(const struct committer *c)
{
	return c->gen;
}

void
committer_drain(struct committer *c)
{
	bool more;

	if (c->nthreads == 0)
		return;
	do {
		committer_handover(c);
		pthread_mutex_lock(&c->mu);
		while (c->whead != NULL || c->busy > 0)
			pthread_cond_wait(&c->idle_cv, &c->mu);
		more = c->dhead != NULL;
		pthread_mutex_unlock(&c->mu);
		committer_reap(c);	/* callbacks may submit more */
	} while (more || c->lhead != NULL);
}

void
committer_free(struct committer *c)
{
	unsigned i;

	if (c == NULL)
		return;
	committer_drain(c);
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_broadcast(&c->work_cv);
	pthread_mutex_unlock(&c->mu);
	for (i = 0; i < c->nthreads; i++)
		pthread_join(c->threads[i], NULL);
	free(c->threads);
	if (c->kick != NULL)
		event_free(c->kick);
	if (c->wake != NULL)
		event_free(c->wake);
	if (c->pipefd[0] != -1)
		close(c->pipefd[0]);
	if (c->pipefd[1] != -1)
		close(c->pipefd[1]);
	pthread_cond_destroy(&c->work_cv);
	pthread_cond_destroy(&c->idle_cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void
committer_stats(const struct committer *c, struct queue_stats *st)
{
	*st = c->seen;
}
