/*
 * queue/queue.c - the spool: receiving, recovery, recipient journal and
 * removal. The loop thread does open/write/read; everything that waits on
 * the disk (fdatasync, rename, unlink, directory fsync) runs batched on the
 * committer's workers (queue/commit.c).
 *
 * On-disk layout, under spool_dir:
 *	lock		flock()ed while a process owns the spool; holds its pid
 *	tmp/ID		a message being received; never read back
 *	msg/ID		a complete message, immutable once renamed here:
 *			envelope text, then the content octets exactly as given
 *	msg/ID.st	its recipient journal, append-only (created by the
 *			first state change)
 *	corrupt/NAME	files that did not load, moved aside, never deleted
 *	spare/ID	files of removed messages, kept for reuse (below); also
 *			a new message being received into one of them
 *
 * Message file, version 1 (every line ends in LF):
 *	danerelay-queue 1
 *	id 0VA1J8X5TB4K2QM		queue id (queue/queue_id.h)
 *	arrival 1767225600		seconds since the epoch
 *	sender alice@a.example		"-" for the null sender <>
 *	flags 1				ENV_* bits
 *	size 00000000000000001234	content octets, 20 digits
 *	client [127.0.0.1]
 *	helo mta.a.example
 *	rcpt bob@b.example		one line per recipient, index order
 *	end
 *	CONTENT
 * Values are escaped (bytes 0x00-0x20, 0x7f, '%' as %HH; "" as "-"). A file
 * loads only if every line is valid, the end line is there and the file is
 * exactly header + size octets long.
 *
 * Journal line: "R IDX STATE ATTEMPTS NEXT_ATTEMPT ERROR CRC", e.g.
 *	R 0 deferred 1 1767225900 4.7.5%20no%20TLSA%20match 5c0f13a2
 * CRC is the CRC-32 (hex) of the line before " CRC". On load the last valid
 * record per recipient wins, a line failing checksum or syntax is skipped,
 * a torn last line (no LF) is ignored; the next append then starts with an
 * LF so that it never merges with the torn bytes.
 *
 * Which fsyncs, and why (all on the workers, batched):
 *	commit	fdatasync(tmp/ID): the data is durable before any name points
 *		to it; rename(tmp/ID, msg/ID), never replacing; fsync(msg/):
 *		the new name is durable. Only then the commit cb (250). tmp/
 *		is never fsynced: whether tmp/ID outlives a crash does not
 *		matter, recovery removes all of tmp/ (if both names survive,
 *		removing tmp/ID only drops a link).
 *	journal	write(2) on the loop; fdatasync(ID.st) and fsync(msg/) (its
 *		name, if new); then the update cb.
 *	remove	unlink msg/ID, then msg/ID.st (an orphan journal is removed
 *		at load), then fsync(msg/).
 *
 * Spare files: creating a file costs an inode allocation, which on ext4
 * without a journal scans past every inode deleted in the last minutes
 * (ialloc.c recently_deleted()); at a few hundred messages a second that
 * scan was a third of the relay's CPU. So a removal moves up to
 * QUEUE_SPARE_MAX message files to spare/ID (on a worker, like the unlink
 * it replaces), and a new message is written into a spare where it is,
 * instead of creating tmp/ID; the commit renames spare/NAME to msg/ID
 * (spare/, like tmp/, is never fsynced and is emptied at start, so a
 * spare being written is to recovery what tmp/ID is). A small spare
 * (queue/commit.c, COMMIT_SPARE_KEEP) keeps its blocks and old octets:
 * the new message overwrites them and, if it is shorter, is cut to its
 * own length before its fdatasync (the loader's exact-length check
 * holds). Emptying it instead cost a truncate, a new block allocation at
 * write-back and the metadata writes of fdatasync (about 45 us of CPU and
 * half the sync latency per message here). Spares are never read.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "queue/queue.h"
#include "queue/commit.h"
#include "queue/envelope.h"
#include "queue/queue_id.h"
#include "relay/log.h"
#include "relay/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUEUE_WORKERS	3
#define QUEUE_WBUF	8192		/* per-message write buffer */
#define JOURNAL_MAX	(64u << 20)	/* longest journal read back */
#define QUEUE_SPARE_MAX	512		/* empty files kept for reuse */

struct queue_journal;

/*
 * A handle on the spool, for one event loop (queue/queue.h, "Threads").
 * The primary one (queue_open()) owns the descriptors and the shared part;
 * a handle from queue_attach() copies the descriptors (which never change
 * after open) and reaches the shared part through `primary`.
 */
struct queue {
	struct queue		*primary;	/* NULL: this is the primary */
	struct event_base	*base;
	char			*dir;
	int			 dirfd, tmpfd, msgfd, corruptfd, lockfd;
	int			 sparefd;

	/* This handle's loop thread only. */
	struct committer	*committer;
	queue_ready_cb		*ready;
	void			*ready_arg;
	struct queue_msg	*live;		/* being received */
	bool			 closing;
	struct queue_journal	*jlast;		/* last journal job submitted ... */
	uint64_t		 jlast_gen;	/* ... in this committer generation */
	/* Journals whose last sync failed: their tail may not be on disk
	 * whatever the page cache says, so their next record starts with a
	 * guard LF (see queue_journal_done). The handle that writes a
	 * message's journal is always the same (its delivering loop's). */
	char			 (*junsure)[QUEUE_ID_MAX];
	size_t			 njunsure;

	/* Shared by every handle: the primary's, under its mu. */
	pthread_mutex_t		 mu;
	struct queue_idgen	 idgen;
	char			 (*spare)[QUEUE_ID_MAX];	/* spare/ names */
	size_t			 nspare;	/* spares ready in spare/ */
	size_t			 spare_wanted;	/* removals asked to recycle */
};

/* Where the shared part is. */
static struct queue *
queue_shared(struct queue *q)
{
	return q->primary != NULL ? q->primary : q;
}

struct queue_msg {
	struct commit_job	 job;		/* first: done() casts back */
	struct queue		*q;
	struct queue_msg	*prev, *next;	/* q->live while receiving */
	struct queue_envelope	*env;
	int			 fd;		/* tmp/ID, -1 after a failure */
	off_t			 stale;		/* octets a spare held before */
	size_t			 hdrlen;	/* envelope octets before the content */
	int			 error;		/* sticky errno of a failed write */
	char			*buf;		/* QUEUE_WBUF, receiving only */
	size_t			 buflen;
	uint64_t		 size;		/* content octets so far */
	off_t			 size_off;	/* where the size digits are */
	queue_commit_cb		*cb;		/* NULL: aborted */
	void			*cbarg;
};

struct queue_journal_cb {
	void			(*cb)(void *, int);
	void			*arg;
};

struct queue_journal {
	struct commit_job	 job;		/* first */
	struct queue		*q;
	bool			 guarded;	/* written after a failed sync */
	off_t			 size;		/* journal length after our appends */
	struct queue_journal_cb	*cbs;
	size_t			 ncbs;
};

static int
write_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, s, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* --- receiving --- */

static void
queue_discard_done(struct commit_job *j)
{
	free(j);
}

/* Have a worker close fd (if any) and unlink tmp/id. */
static void
queue_discard_file(struct queue *q, const char *id, const char *spare, int fd)
{
	struct commit_job *j = xcalloc(1, sizeof(*j));

	j->kind = COMMIT_DISCARD;
	j->fd = fd;
	str_copy(j->id, id, sizeof(j->id));
	str_copy(j->spare, spare, sizeof(j->spare));
	j->done = queue_discard_done;
	committer_submit(q->committer, j);
}

static void
queue_msg_unlink_live(struct queue_msg *m)
{
	if (m->prev != NULL)
		m->prev->next = m->next;
	else
		m->q->live = m->next;
	if (m->next != NULL)
		m->next->prev = m->prev;
	m->prev = m->next = NULL;
}

/* A write failed: remember why, and let the tmp file go at once. */
static int
queue_msg_fail(struct queue_msg *m, int error)
{
	m->error = error;
	if (m->fd != -1) {
		queue_discard_file(m->q, m->env->id, m->job.spare, m->fd);
		m->fd = -1;
	}
	free(m->buf);
	m->buf = NULL;
	m->buflen = 0;
	errno = error;
	return -1;
}

/* A spare file (see "Spare files" above) open for writing, its name in
 * spare (written in place, it keeps that name until the commit renames
 * it to msg/ID) and the octets it holds in *stale; -1 if there is none
 * (or it cannot be used: it is dropped). */
static int
queue_spare_take(struct queue *q, char spare[QUEUE_ID_MAX], off_t *stale)
{
	struct queue *sh = queue_shared(q);
	char name[QUEUE_ID_MAX];
	struct stat st;
	int fd;

	for (;;) {
		/* the list is shared by the handles: take one name under mu */
		pthread_mutex_lock(&sh->mu);
		if (sh->nspare == 0) {
			pthread_mutex_unlock(&sh->mu);
			break;
		}
		str_copy(name, sh->spare[--sh->nspare], sizeof(name));
		pthread_mutex_unlock(&sh->mu);
		if ((fd = openat(q->sparefd, name, O_WRONLY | O_NOFOLLOW |
		    O_CLOEXEC)) != -1) {
			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
				str_copy(spare, name, QUEUE_ID_MAX);
				*stale = st.st_size;
				return fd;
			}
			close(fd);
		}
		(void)unlinkat(q->sparefd, name, 0);
	}
	return -1;
}

struct queue_msg *
queue_msg_new(struct queue *q, const char *sender, unsigned flags,
    const char *const *rcpts, size_t nrcpts, const char *client,
    const char *helo)
{
	struct queue_msg	*m;
	struct queue_envelope	*env;
	char			*hdr;
	size_t			 hlen, soff, i;
	uint64_t		 us;
	int			 e;

	if (q == NULL || q->closing || sender == NULL || nrcpts == 0) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < nrcpts; i++)
		if (rcpts[i] == NULL || *rcpts[i] == '\0') {
			errno = EINVAL;
			return NULL;
		}

	env = xcalloc(1, sizeof(*env));
	pthread_mutex_lock(&queue_shared(q)->mu);
	us = queue_id_next(&queue_shared(q)->idgen, env->id);
	pthread_mutex_unlock(&queue_shared(q)->mu);
	env->arrival = (time_t)(us / 1000000u);
	env->sender = xstrdup(sender);
	env->flags = flags;
	env->client = xstrdup(client ? client : "");
	env->helo = xstrdup(helo ? helo : "");
	env->rcpts = xcalloc(nrcpts, sizeof(*env->rcpts));
	env->nrcpts = nrcpts;
	for (i = 0; i < nrcpts; i++)
		env->rcpts[i].addr = xstrdup(rcpts[i]);

	m = xcalloc(1, sizeof(*m));
	m->q = q;
	m->env = env;
	m->fd = queue_spare_take(q, m->job.spare, &m->stale);
	if (m->fd == -1)
		m->fd = openat(q->tmpfd, env->id, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
	if (m->fd == -1) {
		static _Thread_local struct log_limit ll_create;

		e = errno;
		log_limit_warn(&ll_create, env->id, "queue: cannot create "
		    "tmp/%s", env->id);
		queue_envelope_free(env);
		free(m);
		errno = e;
		return NULL;
	}
	hdr = envelope_encode(env, &hlen, &soff);
	m->size_off = (off_t)soff;
	m->hdrlen = hlen;
	m->buf = xmalloc(QUEUE_WBUF);
	if (hlen <= QUEUE_WBUF) {
		memcpy(m->buf, hdr, hlen);
		m->buflen = hlen;
	} else if (write_all(m->fd, hdr, hlen) == -1) {
		e = errno;
		free(hdr);
		queue_discard_file(q, env->id, m->job.spare, m->fd);
		queue_envelope_free(env);
		free(m->buf);
		free(m);
		errno = e;
		return NULL;
	}
	free(hdr);

	m->next = q->live;
	if (q->live != NULL)
		q->live->prev = m;
	q->live = m;
	return m;
}

const char *
queue_msg_id(const struct queue_msg *m)
{
	return m->env->id;
}

int
queue_msg_write(struct queue_msg *m, const void *p, size_t n)
{
	if (m->error != 0) {
		errno = m->error;
		return -1;
	}
	m->size += n;
	if (m->buflen + n <= QUEUE_WBUF) {
		memcpy(m->buf + m->buflen, p, n);
		m->buflen += n;
		return 0;
	}
	if (write_all(m->fd, m->buf, m->buflen) == -1)
		return queue_msg_fail(m, errno);
	m->buflen = 0;
	if (n >= QUEUE_WBUF) {
		if (write_all(m->fd, p, n) == -1)
			return queue_msg_fail(m, errno);
		return 0;
	}
	memcpy(m->buf, p, n);
	m->buflen = n;
	return 0;
}

static void
queue_msg_done(struct commit_job *j)
{
	struct queue_msg	*m = (struct queue_msg *)j;
	struct queue		*q = m->q;
	struct queue_envelope	*env;
	int			 error = m->error ? m->error : j->error;

	if (m->cb != NULL) {
		if (error != 0)
			log_warnx(m->env->id, "message not queued: %s",
			    strerror(error));
		m->cb(m, error, m->cbarg);
		if (error == 0 && q->ready != NULL && !q->closing) {
			env = m->env;
			m->env = NULL;
			q->ready(env, q->ready_arg);
		}
	}
	queue_envelope_free(m->env);
	free(m);
}

void
queue_msg_commit(struct queue_msg *m, queue_commit_cb *cb, void *arg)
{
	char	digits[ENVELOPE_SIZE_WIDTH];
	ssize_t	w;

	queue_msg_unlink_live(m);
	m->cb = cb;
	m->cbarg = arg;
	if (m->error == 0) {
		/* The size is known only now: patch the fixed-width field. */
		envelope_format_size(digits, m->size);
		if (write_all(m->fd, m->buf, m->buflen) == -1)
			(void)queue_msg_fail(m, errno);
		else if ((w = pwrite(m->fd, digits, sizeof(digits),
		    m->size_off)) != (ssize_t)sizeof(digits))
			(void)queue_msg_fail(m, w == -1 ? errno : EIO);
		/* a spare's old octets past our end (see "Spare files") */
		else if ((uint64_t)m->stale > m->hdrlen + m->size &&
		    ftruncate(m->fd, (off_t)(m->hdrlen + m->size)) == -1)
			(void)queue_msg_fail(m, errno);
	}
	free(m->buf);
	m->buf = NULL;
	m->env->size = m->size;

	/* A failed message still goes through the committer, so that cb
	 * always runs later on the loop, never inside this call. */
	m->job.kind = m->error ? COMMIT_DISCARD : COMMIT_MSG;
	m->job.fd = m->fd;
	m->fd = -1;
	str_copy(m->job.id, m->env->id, sizeof(m->job.id));
	m->job.done = queue_msg_done;
	committer_submit(m->q->committer, &m->job);
}

void
queue_msg_abort(struct queue_msg *m)
{
	queue_msg_unlink_live(m);
	free(m->buf);
	m->buf = NULL;
	m->cb = NULL;
	m->job.kind = COMMIT_DISCARD;
	m->job.fd = m->fd;
	m->fd = -1;
	str_copy(m->job.id, m->env->id, sizeof(m->job.id));
	m->job.done = queue_msg_done;
	committer_submit(m->q->committer, &m->job);
}

/* --- reading back --- */

/*
 * Read and decode the envelope at the start of fd. 0, or -1 with errno
 * (EBADMSG and why in err for a malformed file).
 */
static int
queue_read_header(int fd, struct queue_envelope **envp, size_t *hdrlen,
    char *err, size_t errlen)
{
	char	*buf;
	size_t	 cap = 4096, len = 0;
	ssize_t	 n;
	int	 r, e;

	buf = xmalloc(cap);
	for (;;) {
		n = pread(fd, buf + len, cap - len, (off_t)len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			e = errno;
			snprintf(err, errlen, "read: %s", strerror(e));
			free(buf);
			errno = e;
			return -1;
		}
		len += (size_t)n;
		r = envelope_decode(buf, len, envp, hdrlen, err, errlen);
		if (r == 1) {
			free(buf);
			return 0;
		}
		if (r == 0 && n == 0)
			snprintf(err, errlen, "truncated envelope (no end line)");
		if (r == -1 || n == 0)
			break;
		if (len == cap) {
			if (cap > ENVELOPE_MAX) {
				snprintf(err, errlen, "envelope too long");
				break;
			}
			cap *= 2;
			buf = xreallocarray(buf, cap, 1);
		}
	}
	free(buf);
	errno = EBADMSG;
	return -1;
}

/* Header plus a file length check: the content must be all there. A
 * FIFO or a device opened O_NONBLOCK is refused (EINVAL) before any read. */
static int
queue_check_message(int fd, struct queue_envelope **envp, size_t *hdrlen,
    char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "fstat: %s", strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		errno = EINVAL;
		return -1;
	}
	if (queue_read_header(fd, envp, hdrlen, err, errlen) == -1)
		return -1;
	if ((uint64_t)st.st_size != *hdrlen + (*envp)->size) {
		snprintf(err, errlen, "file has %lld octets, envelope says %zu + %llu",
		    (long long)st.st_size, *hdrlen,
		    (unsigned long long)(*envp)->size);
		errno = EBADMSG;
		goto fail;
	}
	return 0;
fail:
	queue_envelope_free(*envp);
	*envp = NULL;
	return -1;
}

int
queue_content_open(struct queue *q, const char *id, uint64_t *size)
{
	struct queue_envelope	*env;
	size_t			 hdrlen;
	char			 why[256];
	int			 fd, e;

	if (!queue_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = openat(q->msgfd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1)
		return -1;
	if (queue_check_message(fd, &env, &hdrlen, why, sizeof(why)) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*size = env->size;
	queue_envelope_free(env);
	if (lseek(fd, (off_t)hdrlen, SEEK_SET) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* --- recipient journal --- */

static ssize_t
queue_junsure_find(const struct queue *q, const char *id)
{
	size_t i;

	for (i = 0; i < q->njunsure; i++)
		if (strcmp(q->junsure[i], id) == 0)
			return (ssize_t)i;
	return -1;
}

static void
queue_junsure_set(struct queue *q, const char *id, bool unsure)
{
	ssize_t i = queue_junsure_find(q, id);

	if (unsure && i == -1) {
		q->junsure = xreallocarray(q->junsure, q->njunsure + 1,
		    sizeof(*q->junsure));
		str_copy(q->junsure[q->njunsure++], id, QUEUE_ID_MAX);
	} else if (!unsure && i != -1)
		memmove(q->junsure[i], q->junsure[--q->njunsure],
		    sizeof(*q->junsure));
}

/*
 * A failed fdatasync leaves the records' pages clean in the page cache
 * while the disk may hold anything in their place (Linux marks them clean
 * after a write-back error): the record is not durable, and syncing again
 * would not write it. The callbacks get the error and write the state
 * again (relay/scheduler.c); until a guarded record of this journal is
 * durable, every record starts with a guard LF so that it never continues
 * a line the disk lost.
 */
static void
queue_journal_done(struct commit_job *j)
{
	struct queue_journal *jj = (struct queue_journal *)j;
	size_t i;

	static struct log_limit ll_sync;

	if (j->error != 0) {
		log_limit_warnx(&ll_sync, j->id, "queue: recipient journal not "
		    "synced: %s", strerror(j->error));
		queue_junsure_set(jj->q, j->id, true);
	} else if (jj->guarded)
		queue_junsure_set(jj->q, j->id, false);
	for (i = 0; i < jj->ncbs; i++)
		jj->cbs[i].cb(jj->cbs[i].arg, j->error);
	free(jj->cbs);
	free(jj);
}

/* A journal job for message id's record(s) at the end of fd. */
static struct queue_journal *
queue_journal_new(struct queue *q, const char *id, int fd, bool guarded)
{
	struct queue_journal *jj;

	jj = xcalloc(1, sizeof(*jj));
	jj->q = q;
	jj->guarded = guarded;
	jj->job.kind = COMMIT_JOURNAL;
	jj->job.fd = fd;
	str_copy(jj->job.id, id, sizeof(jj->job.id));
	jj->job.done = queue_journal_done;
	return jj;
}

int
queue_rcpt_update(struct queue *q, struct queue_envelope *env, size_t idx,
    enum queue_rcpt_state state, unsigned attempts, time_t next_attempt,
    const char *error, void (*cb)(void *arg, int error), void *arg)
{
	static struct log_limit	 ll_append;
	struct journal_rec	 r;
	struct queue_journal	*jj = NULL;
	struct stat		 st;
	char			 name[QUEUE_ID_MAX + 4], last, *rec;
	size_t			 rlen;
	off_t			 size;
	int			 fd, e;

	if (q == NULL || env == NULL || idx >= env->nrcpts ||
	    (unsigned)state > RCPT_BOUNCED || !queue_id_valid(env->id)) {
		errno = EINVAL;
		return -1;
	}
	r.idx = idx;
	r.state = state;
	r.attempts = attempts;
	r.next_attempt = next_attempt;
	r.error = error;
	/* Room for a guard LF in front: rec + 1 is the record itself. */
	rec = journal_encode(&r, &rlen);
	rec = xreallocarray(rec, rlen + 2, 1);
	memmove(rec + 1, rec, rlen + 1);
	rec[0] = '\n';

	/*
	 * Updates of one message made in the same loop iteration (a delivery
	 * that settles many recipients) share one job, one fd, one sync.
	 */
	if (q->jlast != NULL &&
	    q->jlast_gen == committer_generation(q->committer) &&
	    strcmp(q->jlast->job.id, env->id) == 0) {
		jj = q->jlast;
		fd = jj->job.fd;
		size = jj->size;
		last = '\n';
	} else {
		snprintf(name, sizeof(name), "%s.st", env->id);
		fd = openat(q->msgfd, name, O_RDWR | O_APPEND | O_CREAT |
		    O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd == -1)
			goto fail;
		if (fstat(fd, &st) == -1)
			goto fail_close;
		size = st.st_size;
		last = '\n';
		if (size > 0 && pread(fd, &last, 1, size - 1) != 1)
			goto fail_close;
		if (q->njunsure > 0 && queue_junsure_find(q, env->id) != -1)
			last = '\0';	/* the cache may lie: guard LF */
	}

	if (write_all(fd, last == '\n' ? rec + 1 : rec,
	    last == '\n' ? rlen : rlen + 1) == -1) {
		/* Leave no partial record behind for the next append. */
		e = errno;
		if (ftruncate(fd, size) == -1)
			log_warn(env->id, "queue: cannot truncate journal");
		errno = e;
		if (jj == NULL)
			goto fail_close;
		goto fail;
	}
	size += (off_t)(last == '\n' ? rlen : rlen + 1);
	free(rec);
	rec = NULL;

	(void)queue_rcpt_set(env, idx, state, attempts, next_attempt, error);

	if (jj == NULL) {
		jj = queue_journal_new(q, env->id, fd, last != '\n');
		committer_submit(q->committer, &jj->job);
		q->jlast = jj;
		q->jlast_gen = committer_generation(q->committer);
	}
	jj->size = size;
	if (cb != NULL) {
		jj->cbs = xreallocarray(jj->cbs, jj->ncbs + 1, sizeof(*jj->cbs));
		jj->cbs[jj->ncbs].cb = cb;
		jj->cbs[jj->ncbs].arg = arg;
		jj->ncbs++;
	}
	return 0;

fail_close:
	e = errno;
	close(fd);
	errno = e;
fail:
	e = errno;
	log_limit_warn(&ll_append, env->id, "queue: cannot append to the "
	    "recipient journal");
	free(rec);
	errno = e;
	return -1;
}

int
queue_rcpt_set(struct queue_envelope *env, size_t idx,
    enum queue_rcpt_state state, unsigned attempts, time_t next_attempt,
    const char *error)
{
	struct queue_rcpt	*rc;
	char			*olderr;

	if (env == NULL || idx >= env->nrcpts) {
		errno = EINVAL;
		return -1;
	}
	rc = &env->rcpts[idx];
	olderr = rc->last_error;	/* error may point into it */
	rc->last_error = error != NULL && *error != '\0' ? xstrdup(error) : NULL;
	free(olderr);
	rc->state = state;
	rc->attempts = attempts;
	rc->next_attempt = next_attempt;
	return 0;
}

/* --- removal --- */

struct queue_remove {
	struct commit_job	 job;		/* first: done() casts back */
	struct queue		*q;
};

static void
queue_remove_done(struct commit_job *j)
{
	struct queue *sh = queue_shared(((struct queue_remove *)j)->q);

	if (j->error != 0)
		log_warnx(j->id, "queue: removing the message files: %s",
		    strerror(j->error));
	pthread_mutex_lock(&sh->mu);
	if (j->recycle)
		sh->spare_wanted--;
	if (j->recycled && j->error == 0 && sh->nspare < QUEUE_SPARE_MAX)
		str_copy(sh->spare[sh->nspare++], j->id, sizeof(sh->spare[0]));
	pthread_mutex_unlock(&sh->mu);
	free(j);
}

int
queue_msg_remove(struct queue *q, const char *id)
{
	struct queue_remove *r;
	struct commit_job *j;

	if (q == NULL || !queue_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	queue_junsure_set(q, id, false);
	r = xcalloc(1, sizeof(*r));
	r->q = q;
	j = &r->job;
	j->kind = COMMIT_REMOVE;
	j->fd = -1;
	str_copy(j->id, id, sizeof(j->id));
	pthread_mutex_lock(&queue_shared(q)->mu);
	j->recycle = queue_shared(q)->nspare + queue_shared(q)->spare_wanted <
	    QUEUE_SPARE_MAX;
	if (j->recycle)
		queue_shared(q)->spare_wanted++;
	pthread_mutex_unlock(&queue_shared(q)->mu);
	j->done = queue_remove_done;
	committer_submit(q->committer, j);
	return 0;
}

/* --- open, recovery, close --- */

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names in directory fd (without . and ..). NULL + errno. */
char **
queue_list_dir(int fd, size_t *np)
{
	DIR		*d;
	struct dirent	*de;
	char		**v = NULL;
	size_t		 n = 0, cap = 0;
	int		 dfd;

	if ((dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return NULL;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (v == NULL)
		v = xcalloc(1, sizeof(*v));	/* empty, but not an error */
	if (n > 0)
		qsort(v, n, sizeof(*v), name_cmp);
	*np = n;
	return v;
}

static void
queue_free_names(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

/* Move msg/name to corrupt/ without replacing anything there. */
static int
queue_move_corrupt(struct queue *q, const char *name, const char *qid,
    const char *why)
{
	char	dst[NAME_MAX + 1], safe[LOG_SAFE_MAX], sdst[LOG_SAFE_MAX];
	int	i;

	log_safe(name, strlen(name), safe, sizeof(safe));
	for (i = 0; i < 100; i++) {
		if (i == 0)
			str_copy(dst, name, sizeof(dst));
		else
			snprintf(dst, sizeof(dst), "%.200s.%d", name, i);
		if (commit_rename_noreplace(q->msgfd, name, q->corruptfd,
		    dst) == 0) {
			log_safe(dst, strlen(dst), sdst, sizeof(sdst));
			log_warnx(qid, "queue: moved msg/%s to corrupt/%s: %s",
			    safe, sdst, why);
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	log_warn(qid, "queue: cannot move msg/%s (%s) to corrupt/", safe, why);
	return -1;
}

/* queue/queue.h; O_NONBLOCK: opening a FIFO does not wait for a writer */
char *
queue_file_read(int dirfd, const char *name, size_t max, size_t *lenp,
    bool *cut)
{
	char	*buf = NULL;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	int	 fd, e;
	struct stat st;

	*cut = false;
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		e = errno;
	else
		e = S_ISREG(st.st_mode) ? 0 : EINVAL;
	if (e != 0) {
		close(fd);
		errno = e;
		return NULL;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= max) {
				*cut = true;
				break;
			}
			cap = cap ? cap * 2 : 4096;
			if (cap > max)
				cap = max;
			buf = xreallocarray(buf, cap, 1);
		}
		if ((n = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			e = errno;
			close(fd);
			free(buf);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL)
		buf = xmalloc(1);
	*lenp = len;
	return buf;
}

/* Read a whole journal, or NULL (ENOENT: there is none). */
static char *
queue_read_journal(struct queue *q, const char *id, size_t *lenp)
{
	char	 name[QUEUE_ID_MAX + 4], *buf;
	bool	 cut;

	snprintf(name, sizeof(name), "%s.st", id);
	buf = queue_file_read(q->msgfd, name, JOURNAL_MAX, lenp, &cut);
	if (cut)
		log_warnx(id, "queue: journal longer than %u octets, the rest "
		    "is ignored", JOURNAL_MAX);
	return buf;
}

struct queue_load_counts {
	unsigned	loaded, removed_tmp, corrupt, orphans, unreadable;
};

static int
queue_clean_tmp(struct queue *q, struct queue_load_counts *cnt,
    char *err, size_t errlen)
{
	char		**v, safe[LOG_SAFE_MAX];
	size_t		  n = 0, i;
	uint64_t	  us;

	if ((v = queue_list_dir(q->tmpfd, &n)) == NULL) {
		snprintf(err, errlen, "%s/tmp: %s", q->dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		const char *qid = queue_id_valid(v[i]) ? v[i] : NULL;

		if (qid != NULL && queue_id_time(qid, &us) == 0)
			queue_id_floor(&q->idgen, us);
		log_safe(v[i], strlen(v[i]), safe, sizeof(safe));
		if (unlinkat(q->tmpfd, v[i], 0) == -1) {
			log_warn(qid, "queue: cannot remove tmp/%s", safe);
			continue;
		}
		log_info(qid, "queue: removed incomplete message tmp/%s "
		    "(interrupted before 250)", safe);
		cnt->removed_tmp++;
	}
	queue_free_names(v, n);
	return 0;
}

/* Spares of an earlier run: empty, never read; start afresh. */
static void
queue_clean_spare(struct queue *q)
{
	char	**v;
	size_t	  n = 0, i;

	if ((v = queue_list_dir(q->sparefd, &n)) == NULL)
		return;
	for (i = 0; i < n; i++)
		(void)unlinkat(q->sparefd, v[i], 0);
	queue_free_names(v, n);
}

static void
queue_load_one(struct queue *q, const char *id, bool has_journal,
    struct queue_load_counts *cnt)
{
	struct queue_envelope	*env;
	struct journal_result	 res;
	char			 why[256], name[QUEUE_ID_MAX + 4], *jbuf;
	size_t			 hdrlen, jlen = 0;
	int			 fd;

	/* a link is not followed, a FIFO not waited on: left in place */
	if ((fd = openat(q->msgfd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1) {
		log_warn(id, "queue: cannot open msg/%s, left in place", id);
		cnt->unreadable++;
		return;
	}
	if (queue_check_message(fd, &env, &hdrlen, why, sizeof(why)) == -1) {
		close(fd);
		if (errno != EBADMSG) {
			log_warnx(id, "queue: cannot read msg/%s (%s), left in "
			    "place", id, why);
			cnt->unreadable++;
			return;
		}
		cnt->corrupt++;
		if (queue_move_corrupt(q, id, id, why) == 0 && has_journal) {
			snprintf(name, sizeof(name), "%s.st", id);
			queue_move_corrupt(q, name, id, "journal of a corrupt message");
		}
		return;
	}
	close(fd);
	if (strcmp(env->id, id) != 0) {
		snprintf(why, sizeof(why), "the envelope says id %s", env->id);
		queue_envelope_free(env);
		cnt->corrupt++;
		queue_move_corrupt(q, id, id, why);
		return;
	}
	if (has_journal) {
		jbuf = queue_read_journal(q, id, &jlen);
		/*
		 * Without its journal the message would come back as received:
		 * delivered recipients sent again, a bounce followed by a
		 * delivery, a held message released. It waits instead, like
		 * a message file that cannot be read.
		 */
		if (jbuf == NULL && errno != ENOENT) {
			log_warn(id, "queue: cannot read the recipient journal "
			    "msg/%s.st, message left in place, not delivered "
			    "(a restart tries again)", id);
			queue_envelope_free(env);
			cnt->unreadable++;
			return;
		}
		if (jbuf != NULL) {
			journal_apply(env, jbuf, jlen, &res);
			if (res.bad > 0)
				log_warnx(id, "queue: %u bad journal record%s skipped",
				    res.bad, res.bad == 1 ? "" : "s");
			if (res.torn)
				log_info(id, "queue: torn last journal record "
				    "ignored (interrupted write)");
		}
		free(jbuf);
	}
	cnt->loaded++;
	if (q->ready != NULL)
		q->ready(env, q->ready_arg);
	else
		queue_envelope_free(env);
}

static int
queue_load(struct queue *q, struct queue_load_counts *cnt, char *err,
    size_t errlen)
{
	char		**v, id[QUEUE_ID_MAX];
	size_t		  n = 0, i, len;
	uint64_t	  us;
	bool		  has_journal;

	if ((v = queue_list_dir(q->msgfd, &n)) == NULL) {
		snprintf(err, errlen, "%s/msg: %s", q->dir, strerror(errno));
		return -1;
	}
	/* First the id floor, so that nothing issued can collide. */
	for (i = 0; i < n; i++)
		if (queue_id_time(v[i], &us) == 0)
			queue_id_floor(&q->idgen, us);

	/* Sorted, so "ID.st" directly follows "ID". */
	for (i = 0; i < n; i++) {
		len = strlen(v[i]);
		if (queue_id_valid(v[i])) {
			has_journal = i + 1 < n &&
			    strncmp(v[i + 1], v[i], QUEUE_ID_LEN) == 0 &&
			    strcmp(v[i + 1] + QUEUE_ID_LEN, ".st") == 0;
			queue_load_one(q, v[i], has_journal, cnt);
			if (has_journal)
				i++;
			continue;
		}
		if (len == QUEUE_ID_LEN + 3 &&
		    strcmp(v[i] + QUEUE_ID_LEN, ".st") == 0) {
			memcpy(id, v[i], QUEUE_ID_LEN);
			id[QUEUE_ID_LEN] = '\0';
			if (queue_id_valid(id)) {
				/* A crash between the two unlinks of a removal. */
				if (unlinkat(q->msgfd, v[i], 0) == -1)
					log_warn(id, "queue: cannot remove "
					    "orphaned journal msg/%s", v[i]);
				else {
					log_info(id, "queue: removed journal "
					    "of a removed message");
					cnt->orphans++;
				}
				continue;
			}
		}
		cnt->corrupt++;
		queue_move_corrupt(q, v[i], NULL, "not a queue file name");
	}
	queue_free_names(v, n);
	return 0;
}

static int
queue_subdir(struct queue *q, const char *name, int *fdp, bool *created,
    char *err, size_t errlen)
{
	if (mkdirat(q->dirfd, name, 0700) == 0)
		*created = true;
	else if (errno != EEXIST) {
		snprintf(err, errlen, "%s/%s: %s", q->dir, name, strerror(errno));
		return -1;
	}
	*fdp = openat(q->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fdp == -1) {
		snprintf(err, errlen, "%s/%s: %s", q->dir, name, strerror(errno));
		return -1;
	}
	return 0;
}

static void
queue_free(struct queue *q)
{
	if (q->committer != NULL)
		committer_free(q->committer);
	free(q->junsure);
	if (q->primary != NULL) {	/* the descriptors are the primary's */
		free(q->dir);
		free(q);
		return;
	}
	pthread_mutex_destroy(&q->mu);
	if (q->tmpfd != -1)
		close(q->tmpfd);
	if (q->msgfd != -1)
		close(q->msgfd);
	if (q->corruptfd != -1)
		close(q->corruptfd);
	if (q->sparefd != -1)
		close(q->sparefd);
	if (q->dirfd != -1)
		close(q->dirfd);
	if (q->lockfd != -1)
		close(q->lockfd);	/* releases the flock */
	free(q->spare);
	free(q->dir);
	free(q);
}

struct queue *
queue_open(struct event_base *base, const char *dir, queue_ready_cb *ready,
    void *arg, char *err, size_t errlen)
{
	struct queue			*q;
	struct queue_load_counts	 cnt;
	bool				 created = false;

	q = xcalloc(1, sizeof(*q));
	pthread_mutex_init(&q->mu, NULL);
	q->spare = xcalloc(QUEUE_SPARE_MAX, sizeof(*q->spare));
	q->dirfd = q->tmpfd = q->msgfd = q->corruptfd = q->lockfd = -1;
	q->sparefd = -1;
	q->base = base;
	q->dir = xstrdup(dir);
	q->ready = ready;
	q->ready_arg = arg;
	queue_id_init(&q->idgen);
	memset(&cnt, 0, sizeof(cnt));

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if ((q->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	q->lockfd = openat(q->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (q->lockfd == -1) {
		snprintf(err, errlen, "%s/lock: %s", dir, strerror(errno));
		goto fail;
	}
	if (flock(q->lockfd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errlen, errno == EWOULDBLOCK ?
		    "%s: spool in use by another process" : "%s/lock: %s",
		    dir, strerror(errno));
		goto fail;
	}
	/* The owner's pid, informational (the queue tool talks to the
	 * daemon over SPOOL/control, relay/control.c). */
	{
		char pid[24];
		int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

		if (ftruncate(q->lockfd, 0) == -1 ||
		    pwrite(q->lockfd, pid, (size_t)n, 0) != n) {
			snprintf(err, errlen, "%s/lock: %s", dir, strerror(errno));
			goto fail;
		}
	}
	if (queue_subdir(q, "tmp", &q->tmpfd, &created, err, errlen) == -1 ||
	    queue_subdir(q, "msg", &q->msgfd, &created, err, errlen) == -1 ||
	    queue_subdir(q, "corrupt", &q->corruptfd, &created, err,
	    errlen) == -1 ||
	    queue_subdir(q, "spare", &q->sparefd, &created, err, errlen) == -1)
		goto fail;
	/* Start-up may block: make a new layout durable right away. */
	if (created && fsync(q->dirfd) == -1) {
		snprintf(err, errlen, "%s: fsync: %s", dir, strerror(errno));
		goto fail;
	}
	if (queue_clean_tmp(q, &cnt, err, errlen) == -1)
		goto fail;
	queue_clean_spare(q);
	q->committer = committer_new(base, q->tmpfd, q->msgfd, QUEUE_WORKERS,
	    err, errlen);
	if (q->committer == NULL)
		goto fail;
	committer_set_spare_dir(q->committer, q->sparefd);
	if (queue_load(q, &cnt, err, errlen) == -1)
		goto fail;
	if (cnt.corrupt > 0 || cnt.orphans > 0) {
		(void)fsync(q->msgfd);
		(void)fsync(q->corruptfd);
	}
	log_info(NULL, "queue: %s: %u message%s recovered, %u incomplete "
	    "removed, %u moved to corrupt/%s", dir, cnt.loaded,
	    cnt.loaded == 1 ? "" : "s", cnt.removed_tmp, cnt.corrupt,
	    cnt.unreadable > 0 ? "; some left in place, unreadable (see "
	    "above)" : "");
	return q;
fail:
	queue_free(q);
	return NULL;
}

struct queue *
queue_attach(struct queue *primary, struct event_base *base,
    queue_ready_cb *ready, void *arg, char *err, size_t errlen)
{
	struct queue *q;

	q = xcalloc(1, sizeof(*q));
	q->primary = primary;
	q->base = base;
	q->dir = xstrdup(primary->dir);
	q->dirfd = primary->dirfd;
	q->tmpfd = primary->tmpfd;
	q->msgfd = primary->msgfd;
	q->corruptfd = primary->corruptfd;
	q->lockfd = primary->lockfd;
	q->sparefd = primary->sparefd;
	q->ready = ready;
	q->ready_arg = arg;
	q->committer = committer_new(base, q->tmpfd, q->msgfd, QUEUE_WORKERS,
	    err, errlen);
	if (q->committer == NULL) {
		queue_free(q);
		return NULL;
	}
	committer_set_spare_dir(q->committer, q->sparefd);
	return q;
}

void
queue_close(struct queue *q)
{
	if (q == NULL)
		return;
	q->closing = true;
	while (q->live != NULL) {
		log_warnx(q->live->env->id, "queue: still being received at "
		    "close, discarded");
		queue_msg_abort(q->live);
	}
	queue_free(q);
}

void
queue_get_stats(const struct queue *q, struct queue_stats *st)
{
	committer_stats(q->committer, st);
}

void
queue_sync_stats(const struct queue *q, uint64_t *batches, uint64_t *files)
{
	struct queue_stats st;

	committer_stats(q->committer, &st);
	*batches = st.batches;
	*files = st.files;
}

/* --- hold records (`queue hold` / `queue release`) --- */

int
queue_msg_hold(struct queue *q, struct queue_envelope *env, bool held,
    void (*cb)(void *arg, int error), void *arg)
{
	struct queue_journal	*jj;
	struct stat		 st;
	char			 name[QUEUE_ID_MAX + 4], last = '\n', *rec;
	size_t			 rlen;
	int			 fd, e;

	if (q == NULL || env == NULL || !queue_id_valid(env->id)) {
		errno = EINVAL;
		return -1;
	}
	rec = journal_encode_hold(held, &rlen);
	snprintf(name, sizeof(name), "%s.st", env->id);
	fd = openat(q->msgfd, name, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1 || fstat(fd, &st) == -1 ||
	    (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1))
		goto fail;
	if (q->njunsure > 0 && queue_junsure_find(q, env->id) != -1)
		last = '\0';		/* after a failed sync: guard LF */
	/* after a torn record: a guard LF first, as queue_rcpt_update() */
	if ((last != '\n' && write_all(fd, "\n", 1) == -1) ||
	    write_all(fd, rec, rlen) == -1) {
		e = errno;
		if (ftruncate(fd, st.st_size) == -1)
			log_warn(env->id, "queue: cannot truncate journal");
		errno = e;
		goto fail;
	}
	free(rec);
	env->held = held;
	/* A recipient update coalesced before this one must not truncate
	 * back over our record: the next update takes a job of its own. */
	q->jlast = NULL;
	jj = queue_journal_new(q, env->id, fd, last != '\n');
	if (cb != NULL) {
		jj->cbs = xcalloc(1, sizeof(*jj->cbs));
		jj->cbs[0].cb = cb;
		jj->cbs[0].arg = arg;
		jj->ncbs = 1;
	}
	committer_submit(q->committer, &jj->job);
	return 0;
fail:
	e = errno;
	if (fd != -1)
		close(fd);
	errno = e;
	log_warn(env->id, "queue: cannot append a hold record to the journal");
	free(rec);
	errno = e;
	return -1;
}

/* --- removal with a completion (`queue delete`) --- */

struct queue_remove_wait {
	struct commit_job	 job;		/* first */
	void			(*cb)(void *, int);
	void			*arg;
};

static void
queue_remove_wait_done(struct commit_job *j)
{
	struct queue_remove_wait *w = (struct queue_remove_wait *)j;

	if (j->error != 0)
		log_warnx(j->id, "queue: removing the message files: %s",
		    strerror(j->error));
	w->cb(w->arg, j->error);
	free(w);
}

int
queue_msg_remove_cb(struct queue *q, const char *id,
    void (*cb)(void *arg, int error), void *arg)
{
	struct queue_remove_wait *w;

	if (q == NULL || !queue_id_valid(id) || cb == NULL) {
		errno = EINVAL;
		return -1;
	}
	queue_junsure_set(q, id, false);
	w = xcalloc(1, sizeof(*w));
	w->job.kind = COMMIT_REMOVE;
	w->job.fd = -1;
	str_copy(w->job.id, id, sizeof(w->job.id));
	w->job.done = queue_remove_wait_done;
	w->cb = cb;
	w->arg = arg;
	committer_submit(q->committer, &w->job);
	return 0;
}
