/*
 * relay/privsep.c - dropping root and owning the spool (see privsep.h).
 * Invariants: nothing here follows a symbolic link inside the spool
 * (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW); only files we created or regular
 * files of a spool left by a root-run danerelay are ever chowned, never a
 * file with more than one link (it could be a hard link to a file
 * elsewhere), and always through the descriptor whose inode was checked
 * (a name checked then chowned could be swapped in between);
 * once privsep_drop() returns 0, neither the real, effective nor saved
 * uid is 0 and setuid(0) has been seen to fail.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/privsep.h"
#include "conf/conf.h"
#include "relay/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * LeakSanitizer inspects the process at exit through ptrace, which the
 * kernel refuses for a process made non-dumpable by its setuid(). Only
 * sanitizer builds make themselves dumpable again.
 */
#if defined(__SANITIZE_ADDRESS__)
#define PRIVSEP_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PRIVSEP_SANITIZER	1
#endif
#endif

#define USERADD_HINT	"useradd --system --home-dir /var/spool/danerelay " \
			"--shell /usr/sbin/nologin"

static bool privsep_is_dropped;

/* The names of a spool (queue/queue.c; control: the control socket). */
static const char *const spool_files[] = { "lock", "control" };
static const char *const spool_dirs[] = { "tmp", "msg", "corrupt", "spare" };
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

int
privsep_init(const struct conf *conf, struct privsep *ps, char *warn,
    size_t warnlen, char *err, size_t errlen)
{
	const struct passwd *pw;
	const struct group *gr;

	memset(ps, 0, sizeof(*ps));
	warn[0] = '\0';
	if (geteuid() != 0) {
		/* not root: run as whoever started us, change nothing */
		ps->uid = geteuid();
		ps->gid = getegid();
		if ((pw = getpwuid(ps->uid)) != NULL)
			snprintf(ps->user, sizeof(ps->user), "%s", pw->pw_name);
		else
			snprintf(ps->user, sizeof(ps->user), "uid %lu",
			    (unsigned long)ps->uid);
		return 0;
	}
	if ((pw = getpwnam(conf->user)) == NULL) {
		snprintf(err, errlen, "user: %s does not exist; create it with "
		    "`" USERADD_HINT " %s` (scripts/install-deps does), or "
		    "write user = root to keep root (not recommended)",
		    conf->user, conf->user);
		return -1;
	}
	snprintf(ps->user, sizeof(ps->user), "%s", pw->pw_name);
	ps->uid = pw->pw_uid;
	ps->gid = pw->pw_gid;
	if (conf->group != NULL) {
		if ((gr = getgrnam(conf->group)) == NULL) {
			snprintf(err, errlen, "group: %s does not exist",
			    conf->group);
			return -1;
		}
		ps->gid = gr->gr_gid;
	}
	if (ps->uid == 0) {
		ps->gid = 0;
		snprintf(warn, warnlen, "user = %s: running as root, privileges "
		    "are not dropped (not recommended: every parser then runs "
		    "as root)", conf->user);
		return 0;
	}
	ps->drop = true;
	return 0;
}

void
privsep_prepare_file(const struct privsep *ps, const char *path, char *warn,
    size_t warnlen)
{
	struct stat st;
	int fd;

	warn[0] = '\0';
	if (!ps->drop || path == NULL || strcmp(path, "-") == 0 ||
	    strcmp(path, "syslog") == 0)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0640);
	if (fd != -1) {
		if (fchown(fd, ps->uid, ps->gid) == -1)
			snprintf(warn, warnlen, "%s: chown to %s: %s", path,
			    ps->user, strerror(errno));
		close(fd);
		return;
	}
	if (errno != EEXIST || lstat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return;		/* opening it will say what is wrong */
	if (st.st_uid != ps->uid && !(st.st_mode & S_IWOTH) &&
	    !(st.st_gid == ps->gid && (st.st_mode & S_IWGRP)))
		snprintf(warn, warnlen, "%s belongs to uid %lu: the descriptor "
		    "opened at start keeps working, but user %s cannot reopen "
		    "it on SIGHUP (log rotation); chown %s %s", path,
		    (unsigned long)st.st_uid, ps->user, ps->user, path);
}

/*
 * Give one root-owned regular file of the spool to the user; counts in
 * *n, and in *left a root-owned entry left as it is (a symbolic link, a
 * FIFO, a socket, a device, a file with another link). O_PATH opens
 * nothing: a FIFO does not block, a device sees no open(2). The chown
 * goes through that descriptor, so it reaches the inode fstat() checked.
 */
static int
take_entry(const struct privsep *ps, int dirfd, const char *name,
    const char *what, unsigned *n, unsigned *left, char *err, size_t errlen)
{
	struct stat st;
	int fd, rv = 0;

	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s/%s: %s",
		    what, name, strerror(errno)), -1);
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s/%s: %s", what, name, strerror(errno));
		rv = -1;
	} else if (st.st_uid != 0 || S_ISDIR(st.st_mode))
		;
	else if (!S_ISREG(st.st_mode) || st.st_nlink > 1)
		(*left)++;
	else if (fchownat(fd, "", ps->uid, ps->gid, AT_EMPTY_PATH) == -1) {
		snprintf(err, errlen, "%s/%s: chown to %s: %s", what, name,
		    ps->user, strerror(errno));
		rv = -1;
	} else
		(*n)++;
	close(fd);
	return rv;
}

/* A subdirectory of the spool and its files, if owned by root. */
static int
take_subdir(const struct privsep *ps, int fd, const char *dir,
    const char *sub, unsigned *n, unsigned *left, char *err, size_t errlen)
{
	char what[512];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int sfd, rv = 0;

	snprintf(what, sizeof(what), "%s/%s", dir, sub);
	sfd = openat(fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", what, strerror(errno));
		return -1;
	}
	if (fstat(sfd, &st) == 0 && st.st_uid == 0) {
		if (fchown(sfd, ps->uid, ps->gid) == -1) {
			snprintf(err, errlen, "%s: chown to %s: %s", what,
			    ps->user, strerror(errno));
			close(sfd);
			return -1;
		}
		(*n)++;
	}
	if ((d = fdopendir(sfd)) == NULL) {
		snprintf(err, errlen, "%s: %s", what, strerror(errno));
		close(sfd);
		return -1;
	}
	while (rv == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rv = take_entry(ps, dirfd(d), de->d_name, what, n, left, err,
		    errlen);
	}
	closedir(d);
	return rv;
}

/* A root-owned spool is taken over only if it holds nothing but a spool. */
static int
only_spool_names(int fd, const char *dir, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d;
	size_t i;
	int dfd, rv = 0;
	bool known;

	if ((dfd = dup(fd)) == -1 || (d = fdopendir(dfd)) == NULL) {
		if (dfd != -1)
			close(dfd);
		snprintf(err, errlen, "spool_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	while (rv == 0 && (de = readdir(d)) != NULL) {
		known = strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0;
		for (i = 0; i < NELEM(spool_files); i++)
			known |= strcmp(de->d_name, spool_files[i]) == 0;
		for (i = 0; i < NELEM(spool_dirs); i++)
			known |= strcmp(de->d_name, spool_dirs[i]) == 0;
		if (!known) {
			snprintf(err, errlen, "spool_dir %s belongs to root and "
			    "holds %.100s, which is no part of a danerelay spool: "
			    "not taking it over (if it is the spool: chown -R "
			    "USER: %s)", dir, de->d_name, dir);
			rv = -1;
		}
	}
	closedir(d);
	return rv;
}

int
privsep_spool_prepare(const struct privsep *ps, const char *dir, char *info,
    size_t infolen, char *err, size_t errlen)
{
	struct stat st;
	unsigned n = 0, left = 0;
	size_t i;
	int fd, rv = -1;

	info[0] = '\0';
	if (!ps->drop)
		return 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		if (mkdir(dir, 0700) == -1 ||
		    (fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC)) == -1) {
			snprintf(err, errlen, "spool_dir %s: %s", dir,
			    strerror(errno));
			return -1;
		}
		if (fchown(fd, ps->uid, ps->gid) == -1) {
			snprintf(err, errlen, "spool_dir %s: chown to %s: %s",
			    dir, ps->user, strerror(errno));
			close(fd);
			return -1;
		}
		snprintf(info, infolen, "spool %s created for user %s", dir,
		    ps->user);
		close(fd);
		return 0;
	}
	if (fd == -1) {
		snprintf(err, errlen, "spool_dir %s: %s", dir,
		    errno == ELOOP || errno == ENOTDIR ? "not a directory "
		    "(a symbolic link is not followed)" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "spool_dir %s: %s", dir, strerror(errno));
		goto out;
	}
	if (st.st_uid != ps->uid && st.st_uid != 0) {
		snprintf(err, errlen, "spool_dir %s belongs to uid %lu, not to "
		    "user %s: chown -R %s: %s", dir, (unsigned long)st.st_uid,
		    ps->user, ps->user, dir);
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "spool_dir %s is writable by group or "
		    "others (mode %04o): chmod 700 %s", dir,
		    (unsigned)(st.st_mode & 07777), dir);
		goto out;
	}
	if (st.st_uid == 0) {
		if (only_spool_names(fd, dir, err, errlen) == -1)
			goto out;
		if (fchown(fd, ps->uid, ps->gid) == -1) {
			snprintf(err, errlen, "spool_dir %s: chown to %s: %s",
			    dir, ps->user, strerror(errno));
			goto out;
		}
		n++;
	}
	/* a spool written by a danerelay that ran as root */
	for (i = 0; i < NELEM(spool_files); i++)
		if (take_entry(ps, fd, spool_files[i], dir, &n, &left, err,
		    errlen) == -1)
			goto out;
	for (i = 0; i < NELEM(spool_dirs); i++)
		if (take_subdir(ps, fd, dir, spool_dirs[i], &n, &left, err,
		    errlen) == -1)
			goto out;
	if (n > 0 && left == 0)
		snprintf(info, infolen, "spool %s: %u entr%s owned by root "
		    "given to user %s", dir, n, n == 1 ? "y" : "ies", ps->user);
	else if (left > 0)
		snprintf(info, infolen, "spool %s: %u entr%s owned by root "
		    "given to user %s; %u left to root (not a regular file, "
		    "or a file with another link)", dir, n, n == 1 ? "y" :
		    "ies", ps->user, left);
	rv = 0;
out:
	close(fd);
	return rv;
}

int
privsep_drop(struct privsep *ps, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (ps->drop) {
		if (setgroups(1, &ps->gid) == -1 ||
		    setresgid(ps->gid, ps->gid, ps->gid) == -1 ||
		    setresuid(ps->uid, ps->uid, ps->uid) == -1) {
			snprintf(err, errlen, "cannot drop privileges to %s: %s",
			    ps->user, strerror(errno));
			return -1;
		}
		/* for good: root must be out of reach now */
		if (setuid(0) != -1 || seteuid(0) != -1 ||
		    getresuid(&ru, &eu, &su) == -1 ||
		    getresgid(&rg, &eg, &sg) == -1 ||
		    ru != ps->uid || eu != ps->uid || su != ps->uid ||
		    rg != ps->gid || eg != ps->gid || sg != ps->gid) {
			snprintf(err, errlen, "privileges were not dropped to "
			    "%s: root can still be regained", ps->user);
			return -1;
		}
		ps->dropped = true;
		privsep_is_dropped = true;
		/* a reload runs as the user: keep what only root could read */
		conf_set_unreadable_ok(true);
#ifdef PRIVSEP_SANITIZER
		(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	}
	/* danerelay executes nothing; no exec may ever gain privileges */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * One spool directory: ours, not writable by others; 0700 enforced, but
 * for the spool itself (top) 0710 stays: its group may reach the control
 * socket in it (relay/control.c), nothing else.
 */
static int
check_dir(int fd, const char *what, uid_t uid, bool top, unsigned *fixed,
    char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", what, strerror(errno));
		return -1;
	}
	if (st.st_uid != uid) {
		snprintf(err, errlen, "%s belongs to uid %lu, but danerelay "
		    "runs as uid %lu: chown -R the spool to that user", what,
		    (unsigned long)st.st_uid, (unsigned long)uid);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s is writable by group or others "
		    "(mode %04o): chmod 700 %s", what,
		    (unsigned)(st.st_mode & 07777), what);
		return -1;
	}
	if ((st.st_mode & 07777) != 0700 &&
	    !(top && (st.st_mode & 07777) == 0710)) {
		if (fchmod(fd, 0700) == -1) {
			snprintf(err, errlen, "%s: chmod 700: %s", what,
			    strerror(errno));
			return -1;
		}
		(*fixed)++;
	}
	return 0;
}

/* One regular file of the spool: ours; 0600 enforced. */
static int
check_file(int dirfd, const char *name, const char *what, uid_t uid,
    unsigned *fixed, char *err, size_t errlen)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s/%s: %s",
		    what, name, strerror(errno)), -1);
	if (!S_ISREG(st.st_mode))
		return 0;	/* the queue moves strange entries aside */
	if (st.st_uid != uid) {
		snprintf(err, errlen, "%s/%s belongs to uid %lu, but danerelay "
		    "runs as uid %lu: chown -R the spool to that user", what,
		    name, (unsigned long)st.st_uid, (unsigned long)uid);
		return -1;
	}
	if ((st.st_mode & 07777) != 0600) {
		if (fchmodat(dirfd, name, 0600, 0) == -1) {
			snprintf(err, errlen, "%s/%s: chmod 600: %s", what,
			    name, strerror(errno));
			return -1;
		}
		(*fixed)++;
	}
	return 0;
}

int
privsep_spool_check(const char *dir, unsigned *fixed, char *err,
    size_t errlen)
{
	char what[512];
	struct dirent *de;
	uid_t uid = geteuid();
	size_t i;
	DIR *d;
	int fd, sfd, rv = -1;

	*fixed = 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT && mkdir(dir, 0700) == 0)
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		if (errno == EACCES)
			snprintf(err, errlen, "spool_dir %s: cannot reach it as "
			    "uid %lu: every directory above it needs search "
			    "permission (x) for that user", dir,
			    (unsigned long)uid);
		else
			snprintf(err, errlen, "spool_dir %s: %s", dir,
			    errno == ELOOP || errno == ENOTDIR ? "not a "
			    "directory (a symbolic link is not followed)" :
			    strerror(errno));
		return -1;
	}
	snprintf(what, sizeof(what), "spool_dir %s", dir);
	if (check_dir(fd, what, uid, true, fixed, err, errlen) == -1 ||
	    check_file(fd, "lock", what, uid, fixed, err, errlen) == -1)
		goto out;
	for (i = 0; i < NELEM(spool_dirs); i++) {
		snprintf(what, sizeof(what), "%s/%s", dir, spool_dirs[i]);
		sfd = openat(fd, spool_dirs[i], O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (sfd == -1 && errno == ENOENT)
			continue;
		if (sfd == -1) {
			snprintf(err, errlen, "%s: %s", what, strerror(errno));
			goto out;
		}
		if (check_dir(sfd, what, uid, false, fixed, err, errlen) == -1) {
			close(sfd);
			goto out;
		}
		if ((d = fdopendir(sfd)) == NULL) {
			snprintf(err, errlen, "%s: %s", what, strerror(errno));
			close(sfd);
			goto out;
		}
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
			    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
				continue;
			if (check_file(dirfd(d), de->d_name, what, uid, fixed,
			    err, errlen) == -1) {
				closedir(d);
				goto out;
			}
		}
		closedir(d);
	}
	rv = 0;
out:
	close(fd);
	return rv;
}

bool
privsep_dropped(void)
{
	return privsep_is_dropped;
}

int
privsep_enter(struct privsep *ps, const char *spool, char *err, size_t errlen)
{
	char info[600];
	unsigned fixed;

	if (privsep_spool_prepare(ps, spool, info, sizeof(info), err,
	    errlen) == -1)
		return -1;
	if (info[0] != '\0')
		log_info(NULL, "%s", info);
	if (privsep_drop(ps, err, errlen) == -1)
		return -1;
	if (privsep_spool_check(spool, &fixed, err, errlen) == -1)
		return -1;
	if (fixed > 0)
		log_warnx(NULL, "spool %s: %u entr%s had modes looser than "
		    "0700/0600, tightened", spool, fixed,
		    fixed == 1 ? "y" : "ies");
	if (ps->dropped)
		log_info(NULL, "running as user %s (uid %lu, gid %lu), root "
		    "dropped for good", ps->user, (unsigned long)ps->uid,
		    (unsigned long)ps->gid);
	else if (ps->uid != 0)
		log_info(NULL, "running as %s (uid %lu): not started as root, "
		    "no privilege change", ps->user, (unsigned long)ps->uid);
	return 0;
}

int
privsep_tool_drop(const struct conf *conf, char *err, size_t errlen)
{
	const struct passwd *pw;
	struct privsep ps;
	char warn[256], e[512];

	if (geteuid() != 0)
		return 0;
	if (privsep_init(conf, &ps, warn, sizeof(warn), e, sizeof(e)) == -1) {
		/* the daemon's user is not there (yet): any unprivileged
		 * one will do for a probe */
		if ((pw = getpwnam(TOOL_FALLBACK_USER)) == NULL ||
		    pw->pw_uid == 0) {
			snprintf(err, errlen, "%s; no user " TOOL_FALLBACK_USER
			    " either: not probing as root", e);
			return -1;
		}
		memset(&ps, 0, sizeof(ps));
		ps.drop = true;
		ps.uid = pw->pw_uid;
		ps.gid = pw->pw_gid;
		snprintf(ps.user, sizeof(ps.user), "%s", pw->pw_name);
	}
	return privsep_drop(&ps, err, errlen);
}
