/*
 * tests/bench/sync_cost.c - what the spool's durability costs on this
 * machine's file system, in CPU: the floor under every message the relay
 * accepts (README "How the queue keeps mail safe": fdatasync(2) of the
 * message file before the 250, then an fsync(2) of msg/ for its name).
 *
 *	sync_cost -d DIR [-n COUNT] [-s OCTETS]
 *
 * In a new directory under DIR (on the file system to measure, e.g. the
 * spool's), COUNT times (default 1000): write OCTETS (default 1300, a
 * 1 KB message with its envelope) over a file of the same size, as the
 * relay writes a new message over a recycled spare, then fdatasync it;
 * rename it into a second directory and fsync that directory; rename it
 * back. CPU time is the thread's own (CLOCK_THREAD_CPUTIME_ID: user and
 * kernel, the waits for the disk not included), wall time the monotonic
 * clock's.
 *
 * Prints "key=value" lines: count, octets, then write_sync_cpu_us and
 * write_sync_wall_us (pwrite + fdatasync, per file), dir_sync_cpu_us and
 * dir_sync_wall_us (rename + fsync of the directory, per name). Removes
 * what it created. Exits 1 on any error (a full or read-only file system).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

static char	top[PATH_MAX - 16], a[PATH_MAX], b[PATH_MAX];

static void
cleanup(void)
{
	char p[PATH_MAX + 8];

	snprintf(p, sizeof(p), "%s/f", a);
	(void)unlink(p);
	snprintf(p, sizeof(p), "%s/f", b);
	(void)unlink(p);
	(void)rmdir(a);
	(void)rmdir(b);
	(void)rmdir(top);
}

static void
die(const char *what)
{
	fprintf(stderr, "sync_cost: %s: %s\n", what, strerror(errno));
	cleanup();
	exit(1);
}

static double
now_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int
main(int argc, char **argv)
{
	const char	*dir = NULL;
	unsigned long	 count = 1000, octets = 1300, i;
	double		 c0, w0, wcpu = 0, wwall = 0, dcpu = 0, dwall = 0;
	char		*buf, *end;
	int		 ch, fd, da, db;

	while ((ch = getopt(argc, argv, "d:n:s:")) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			count = strtoul(optarg, &end, 10);
			if (*end != '\0' || count == 0 || count > 1000000)
				goto usage;
			break;
		case 's':
			octets = strtoul(optarg, &end, 10);
			if (*end != '\0' || octets == 0 || octets > (64u << 20))
				goto usage;
			break;
		default:
			goto usage;
		}
	}
	if (dir == NULL)
		goto usage;

	snprintf(top, sizeof(top), "%s/sync_cost.XXXXXX", dir);
	if (mkdtemp(top) == NULL) {
		top[0] = '\0';
		die("mkdtemp");
	}
	snprintf(a, sizeof(a), "%s/a", top);
	snprintf(b, sizeof(b), "%s/b", top);
	if (mkdir(a, 0700) == -1 || mkdir(b, 0700) == -1)
		die("mkdir");
	if ((da = open(a, O_RDONLY | O_DIRECTORY)) == -1 ||
	    (db = open(b, O_RDONLY | O_DIRECTORY)) == -1)
		die("open a directory");
	if ((buf = malloc(octets)) == NULL)
		die("malloc");
	memset(buf, 'x', octets);
	/* the file exists with its blocks, as a recycled spare does */
	if ((fd = openat(da, "f", O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1 ||
	    pwrite(fd, buf, octets, 0) != (ssize_t)octets || fsync(fd) == -1 ||
	    fsync(da) == -1 || close(fd) == -1)
		die("create the file");

	for (i = 0; i < count; i++) {
		buf[0] = (char)('a' + i % 26);	/* new content each time */
		c0 = now_us(CLOCK_THREAD_CPUTIME_ID);
		w0 = now_us(CLOCK_MONOTONIC);
		if ((fd = openat(da, "f", O_WRONLY)) == -1 ||
		    pwrite(fd, buf, octets, 0) != (ssize_t)octets ||
		    fdatasync(fd) == -1 || close(fd) == -1)
			die("write and fdatasync");
		wcpu += now_us(CLOCK_THREAD_CPUTIME_ID) - c0;
		wwall += now_us(CLOCK_MONOTONIC) - w0;

		c0 = now_us(CLOCK_THREAD_CPUTIME_ID);
		w0 = now_us(CLOCK_MONOTONIC);
		if (renameat(da, "f", db, "f") == -1 || fsync(db) == -1)
			die("rename and fsync the directory");
		dcpu += now_us(CLOCK_THREAD_CPUTIME_ID) - c0;
		dwall += now_us(CLOCK_MONOTONIC) - w0;
		if (renameat(db, "f", da, "f") == -1)
			die("rename back");
	}
	printf("count=%lu\noctets=%lu\n", count, octets);
	printf("write_sync_cpu_us=%.1f\nwrite_sync_wall_us=%.1f\n",
	    wcpu / count, wwall / count);
	printf("dir_sync_cpu_us=%.1f\ndir_sync_wall_us=%.1f\n",
	    dcpu / count, dwall / count);
	free(buf);
	close(da);
	close(db);
	cleanup();
	return 0;
usage:
	fprintf(stderr, "usage: sync_cost -d DIR [-n COUNT] [-s OCTETS]\n");
	return 1;
}
