/*
 * queue/queue.h - the durable spool. A message is written under tmp/,
 * fdatasync'ed, renamed into msg/ and msg/ fsync'ed (the syncs batched
 * across sessions by the group committer, queue/commit.c); only renamed
 * files are ever read back. Per-recipient state changes are journaled so
 * they survive restarts. The on-disk layout and the reasons for each sync
 * are documented in queue/queue.c.
 *
 * Threads: a struct queue is a handle for one event loop. queue_open()
 * gives the first (the daemon's inbound loop, relay/main.c); queue_attach()
 * gives another loop its own (the delivery loop: journal records, removals,
 * bounce messages). Every function taking a handle is called from that
 * handle's loop thread only; each handle has its own group committer
 * (queue/commit.c) whose blocking syncs, renames and unlinks run on worker
 * threads and whose completions (commit, update, removal callbacks, and
 * ready) come back to that same loop (never from inside the call that
 * started them). The loop never waits on the disk. What the handles share
 * (the id generator, the spare-file list) is kept by the first handle
 * under a mutex held for a few instructions; the directory descriptors
 * never change after open. A message belongs to one handle while it is
 * received, and its journal and removal to the loop that delivers it. Do
 * not call queue_close() from inside a queue callback.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef QUEUE_QUEUE_H
#define QUEUE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct event_base;
struct queue;				/* the spool, opaque */
struct queue_msg;			/* one message being received, opaque */

#define QUEUE_ID_MAX	24		/* buffer size for an id, with NUL */

enum queue_rcpt_state {
	RCPT_PENDING,			/* never tried */
	RCPT_DEFERRED,			/* tried, will retry at next_attempt */
	RCPT_DELIVERED,			/* final: 2xx recorded */
	RCPT_BOUNCED,			/* final: 5xx or expired; DSN queued (unless null sender) */
};

struct queue_rcpt {
	char			*addr;		/* without <>, as received */
	enum queue_rcpt_state	 state;
	unsigned		 attempts;
	time_t			 next_attempt;	/* 0: now */
	char			*last_error;	/* NULL or the last failure text */
};

#define ENV_8BITMIME	0x01		/* BODY=8BITMIME */
#define ENV_SMTPUTF8	0x02		/* SMTPUTF8 requested */
#define ENV_DSN		0x04		/* a bounce we generated (null sender) */

struct queue_envelope {
	char			 id[QUEUE_ID_MAX];
	time_t			 arrival;
	char			*sender;	/* "" for the null sender <> */
	unsigned		 flags;		/* ENV_* */
	bool			 held;		/* `queue hold`: no attempt until released (journaled) */
	uint64_t		 size;		/* octets of message content */
	char			*client;	/* "[addr]" it came from, for logs */
	char			*helo;		/* EHLO/HELO name given, for logs */
	struct queue_rcpt	*rcpts;
	size_t			 nrcpts;
};

/*
 * Called on the loop for each complete message: once per recovered
 * message at queue_open() time (in id order, synchronously, before
 * queue_open() returns, so it cannot call back into the queue yet) and
 * once after each successful commit (not while queue_close() runs). The
 * callee owns env and frees it with queue_envelope_free(). A recovered
 * message may have every recipient final already (a crash between the last
 * update and queue_msg_remove()): the callee removes it.
 */
typedef void queue_ready_cb(struct queue_envelope *env, void *arg);

/* error is 0 on success or an errno value (ENOSPC, EIO ...). */
typedef void queue_commit_cb(struct queue_msg *, int error, void *arg);

/*
 * Open (creating if needed) the spool at dir and lock it (one process per
 * spool): remove leftovers of interrupted writes (tmp/), move files that do
 * not load to corrupt/ (logged, never deleted), then report every complete
 * message to ready. A message that cannot be read, or whose journal exists
 * but cannot be read (EIO, a link, a FIFO), is left in place, logged and
 * not reported: as received it could be sent again or released from a
 * hold. NULL + err on failure (e.g. the spool is locked).
 */
struct queue	*queue_open(struct event_base *, const char *dir,
		    queue_ready_cb *ready, void *arg, char *err, size_t errlen);
/*
 * Another handle on the spool q opened, for the loop of base (threads:
 * above): its own committer; messages it commits go to its ready. Call it
 * on q's thread, before the other loop's thread uses it. NULL + err.
 */
struct queue	*queue_attach(struct queue *q, struct event_base *base,
		    queue_ready_cb *ready, void *arg, char *err, size_t errlen);
/*
 * Waits for every pending operation of this handle and runs its callback
 * (commit and rcpt_update callbacks; not ready), then frees. A message
 * still being received is discarded with a warning. Handles from
 * queue_attach() are closed before the one from queue_open(), once no
 * other thread uses them.
 */
void		 queue_close(struct queue *);

/* --- receiving --- */

/* A new message with its envelope (strings copied; nrcpts >= 1, client and
 * helo may be NULL). Creates tmp/ID. NULL + errno (EINVAL, ENOSPC ...). */
struct queue_msg *queue_msg_new(struct queue *, const char *sender,
		    unsigned flags, const char *const *rcpts, size_t nrcpts,
		    const char *client, const char *helo);
const char	*queue_msg_id(const struct queue_msg *);
/*
 * Append message content (already dot-unstuffed, CRLF line ends), stored
 * exactly as given. Buffered (8 KiB per message) and written with write(2)
 * on the loop. -1 + errno (ENOSPC, EIO, EFBIG): the tmp file is removed at
 * once and every later write fails the same way; the caller still ends the
 * message with queue_msg_abort() or queue_msg_commit() (whose cb gets the
 * errno).
 */
int		 queue_msg_write(struct queue_msg *, const void *, size_t);
/*
 * Make the message durable: cb runs on the loop after the file and its
 * directory are fsync'ed and it is renamed into place (error 0), or after
 * a failure that left nothing behind (error != 0). The message is freed
 * after cb returns. On success the ready callback also fires, after cb.
 */
void		 queue_msg_commit(struct queue_msg *, queue_commit_cb *, void *);
/* Discard a message being received; the tmp file is removed by a worker
 * right after (a crash first leaves it in tmp/, removed at start). */
void		 queue_msg_abort(struct queue_msg *);

/* --- delivering --- */

/* Open the content of message id for reading: fd positioned at the first
 * content octet, *size set; the file is immutable, so the fd may be read
 * at any pace. -1 + errno (EINVAL bad id, ENOENT, EBADMSG). Caller closes. */
int		 queue_content_open(struct queue *, const char *id, uint64_t *size);

/*
 * Record a recipient's new state (index into env->rcpts, env updated in
 * memory too). The record is appended to the message's journal at once and
 * made durable by the next batched sync; a crash before that sync may
 * repeat a delivery (at-least-once), never lose a recipient.
 * cb, if not NULL, runs on the loop once the record is durable (error 0)
 * or its sync failed (errno value): then the record may be lost whatever
 * reading the file shows (a failed fdatasync leaves its pages clean), and
 * the caller writes the state again (the next record of this journal
 * starts on a fresh line). Updates of one message in the same
 * loop iteration share one sync. -1 + errno (EINVAL, ENOSPC, EIO, EMFILE
 * ...): nothing changed, on disk or in env (the caller may still honour
 * the state in memory with queue_rcpt_set() and write it again later:
 * the last record per recipient wins, so a late one is as good).
 */
int		 queue_rcpt_update(struct queue *, struct queue_envelope *env,
		    size_t idx, enum queue_rcpt_state, unsigned attempts,
		    time_t next_attempt, const char *error,
		    void (*cb)(void *arg, int error), void *arg);

/*
 * `queue hold` / `queue release`: append a hold record to the message's
 * journal (env->held updated too); durable like a recipient update, cb
 * (may be NULL) as there. -1 + errno: nothing changed.
 */
int		 queue_msg_hold(struct queue *, struct queue_envelope *env,
		    bool held, void (*cb)(void *arg, int error), void *arg);
/* Set a recipient's state in env only (what queue_rcpt_update() does in
 * memory after its record is written). No I/O. -1 + EINVAL: bad idx. */
int		 queue_rcpt_set(struct queue_envelope *env, size_t idx,
		    enum queue_rcpt_state, unsigned attempts,
		    time_t next_attempt, const char *error);

/* All recipients are final: remove the message and its journal (by a
 * worker, then a batched fsync of msg/). 0 / -1 + errno (EINVAL bad id).
 * When one delivery settles every recipient, removing at once without a
 * final queue_rcpt_update() saves a journal sync. */
int		 queue_msg_remove(struct queue *, const char *id);

/*
 * Read the spool at dir without owning it (no lock, nothing written): cb
 * once per message in id order, with its journal applied, or with env
 * NULL and why when it does not load (queue/scan.c). The callee owns env.
 * 0, or -1 + err when msg/ cannot be read.
 */
typedef void queue_scan_cb(const char *id, struct queue_envelope *env,
		    const char *why, void *arg);
int		 queue_scan(const char *dir, queue_scan_cb *, void *arg,
		    char *err, size_t errlen);
/*
 * Internal to queue/ (queue.c, scan.c): the whole of the regular file name
 * in dirfd, up to max (> 0) octets (*cut: it reached max, the rest is not
 * read). NULL + errno; a link or a FIFO is refused (ELOOP, EINVAL), never
 * followed or waited on.
 */
char		*queue_file_read(int dirfd, const char *name, size_t max,
		    size_t *lenp, bool *cut);
/* The sorted names in directory dirfd, without . and .. (the caller frees
 * each and the array). NULL + errno. */
char		**queue_list_dir(int dirfd, size_t *np);

/* queue_msg_remove(), and cb (on the loop) once the removal is durable
 * (error 0) or failed (errno value). `queue delete`. */
int		 queue_msg_remove_cb(struct queue *, const char *id,
		    void (*cb)(void *arg, int error), void *arg);

struct queue_envelope *queue_envelope_dup(const struct queue_envelope *);
void		 queue_envelope_free(struct queue_envelope *);
const char	*queue_rcpt_state_name(enum queue_rcpt_state);

/* Test hook: number of fsync batches done, and fsyncs they covered. */
void		 queue_sync_stats(const struct queue *, uint64_t *batches,
		    uint64_t *files);

/* This handle's committer's counters, as of the last completion its loop
 * has seen. */
struct queue_stats {
	uint64_t	batches;	/* batches run by the workers */
	uint64_t	files;		/* fdatasyncs of message and journal files */
	uint64_t	dirs;		/* fsyncs of msg/ (at most one per batch) */
	uint64_t	jobs;		/* operations: commits, journal syncs, removes, discards */
};
void		 queue_get_stats(const struct queue *, struct queue_stats *);

#endif
