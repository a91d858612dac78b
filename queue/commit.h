/*
 * queue/commit.h - the group committer: a few worker threads that run the
 * spool's blocking operations (fdatasync, rename, unlink, directory fsync)
 * in batches, off the event loop. Jobs are submitted on the loop thread;
 * each job's done callback runs on the loop thread afterwards. Design
 * notes in queue/commit.c. Internal to queue/.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef QUEUE_COMMIT_H
#define QUEUE_COMMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "queue/queue.h"

struct event_base;
struct committer;

enum commit_kind {
	COMMIT_MSG,		/* fdatasync fd, rename tmp/ID (or spare/NAME)
				   -> msg/ID, fsync msg/ */
	COMMIT_JOURNAL,		/* fdatasync fd (msg/ID.st), fsync msg/ */
	COMMIT_REMOVE,		/* unlink msg/ID (or recycle it, below) then
				   msg/ID.st, fsync msg/ */
	COMMIT_DISCARD,		/* close fd, unlink tmp/ID (or spare/NAME);
				   nothing synced */
};

/*
 * One operation. Owned by the submitter, which must not touch it between
 * committer_submit() and its done callback; the worker closes fd.
 */
struct commit_job {
	struct commit_job	*next;
	enum commit_kind	 kind;
	int			 fd;		/* -1 if none */
	int			 error;		/* out: 0 or an errno value */
	bool			 renamed;	/* worker private */
	/*
	 * COMMIT_REMOVE: recycle (in) asks to move msg/ID to spare/ID and
	 * empty it rather than unlink it; recycled (out) says it was done.
	 * A new message then takes that inode by a rename instead of
	 * creating one (see queue/queue.c, "Spare files").
	 */
	bool			 recycle;
	bool			 recycled;
	char			 id[QUEUE_ID_MAX];
	/* COMMIT_MSG, COMMIT_DISCARD: "" for tmp/ID, else the file is the
	 * spare/NAME it was written in (a reused spare keeps its name). */
	char			 spare[QUEUE_ID_MAX];
	void			(*done)(struct commit_job *);	/* on the loop */
};

/* dirfds stay owned by the caller and must outlive the committer. */
struct committer *committer_new(struct event_base *, int tmpfd, int msgfd,
		    unsigned nworkers, char *err, size_t errlen);
/* The spare/ directory for recycled files (before the first job); without
 * it, recycle is ignored. */
void		 committer_set_spare_dir(struct committer *, int sparefd);
void		 committer_submit(struct committer *, struct commit_job *);
/* Bumped each time submitted jobs are handed to the workers: a job
 * submitted in the same generation has not been seen by any worker yet. */
uint64_t	 committer_generation(const struct committer *);
/* Run every job, including those submitted by done callbacks meanwhile,
 * to completion; blocks the calling (loop) thread. */
void		 committer_drain(struct committer *);
/* Drain, stop the workers, free. */
void		 committer_free(struct committer *);
/* rename() that never replaces an existing name (EEXIST). 0 / -1 + errno. */
int		 commit_rename_noreplace(int fromfd, const char *from, int tofd,
		    const char *to);
/* As of the last completion seen by the loop. */
void		 committer_stats(const struct committer *, struct queue_stats *);

#endif
