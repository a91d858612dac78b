/*
 * relay/privsep.h - running with least privilege. Started as root,
 * danerelay does what needs root first (bind the listeners, open the log,
 * read the TLS key and the resolver's files, create or take over the
 * spool), then drops to `user`/`group` for good: setgroups, setgid,
 * setuid, checked by trying to regain root, then PR_SET_NO_NEW_PRIVS.
 * `user = root` keeps root, with a warning. Started as another user it
 * runs as that user and changes nothing.
 *
 * The spool belongs to the user it runs as: start-up refuses (exit 2) a
 * spool directory owned by someone else or writable by group or others,
 * and tightens looser modes (directories 0700, files 0600).
 *
 * The call order, in relay/main.c:
 *	privsep_init		resolve user/group; exit 2 if unknown
 *	privsep_prepare_file	log_file, acct_file: created for the user
 *	... bind, read keys and resolver files ...
 *	privsep_enter		privsep_spool_prepare (as root: create or
 *				take over the spool), privsep_drop,
 *				privsep_spool_check (as the user)
 *	... open the spool, start threads, accept ...
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_PRIVSEP_H
#define RELAY_PRIVSEP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct conf;

struct privsep {
	bool	 drop;		/* started as root, user is not root */
	bool	 dropped;	/* privsep_drop() done */
	uid_t	 uid;		/* who the daemon runs as once started */
	gid_t	 gid;
	char	 user[64];	/* for messages */
};

/*
 * Decide who to run as. -1 + err (a configuration error, exit 2) when
 * started as root and the user or group does not exist; err then says how
 * to create the user. warn gets a warning to log, "" if none.
 */
int	 privsep_init(const struct conf *, struct privsep *, char *warn,
	    size_t warnlen, char *err, size_t errlen);

/*
 * A file opened before the drop and reopened after it (log rotation,
 * SIGHUP): when dropping and path is a file path that does not exist yet,
 * create it (0640) owned by the user. An existing file is left as it is
 * (never chown a file we did not create); warn says if the user will not
 * be able to reopen it.
 */
void	 privsep_prepare_file(const struct privsep *, const char *path,
	    char *warn, size_t warnlen);

/*
 * As root, before the drop: create the spool directory for the user, or
 * take over one left by a danerelay that ran as root (only the spool's
 * own names: lock, control, tmp/, msg/, corrupt/ and their files).
 * -1 + err: refuse to start (exit 2). info gets what was done, "" if
 * nothing.
 */
int	 privsep_spool_prepare(const struct privsep *, const char *dir,
	    char *info, size_t infolen, char *err, size_t errlen);

/* Drop root for good and verify. -1 + err: do not run. */
int	 privsep_drop(struct privsep *, char *err, size_t errlen);

/*
 * As the final user: the spool directory exists (created 0700 if
 * missing), can be reached, belongs to us, is not writable by group or
 * others, nor are its subdirectories; its files belong to us. Looser
 * read modes are tightened; fixed counts how many. -1 + err (exit 2).
 */
int	 privsep_spool_check(const char *dir, unsigned *fixed, char *err,
	    size_t errlen);

/* The three steps above, logging what they did. -1 + err (exit 2). */
int	 privsep_enter(struct privsep *, const char *spool, char *err,
	    size_t errlen);

/*
 * `check` and `resolve`: started as root, become `user` for good (or
 * TOOL_FALLBACK_USER when that user does not exist; `user = root` keeps
 * root) once the files are read and before any DNS, SMTP or TLS from the
 * network is parsed. Not root: nothing. -1 + err: do not probe.
 */
#define TOOL_FALLBACK_USER	"nobody"
int	 privsep_tool_drop(const struct conf *, char *err, size_t errlen);

/* After the drop (SIGHUP reloads run as the user). */
bool	 privsep_dropped(void);

#endif
