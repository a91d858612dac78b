/*
 * tests/unit/test_queue.c - the spool on a real directory with a real
 * event loop: write/commit/read back byte for byte, recovery after
 * simulated crash states (tmp leftovers, torn journal record, corrupt and
 * truncated files, orphan journal), recipient state across reopen, removal,
 * group commit (batches < files), close with pending commits, the spool
 * lock, and (as root, on a tiny tmpfs) ENOSPC leaving nothing behind;
 * not root, that case is reported skipped (check_skip), never passed. A
 * journal record refused for want of descriptors (a real RLIMIT_NOFILE)
 * changes nothing, queue_rcpt_set() holds the state in memory, and the
 * record written later is the one that counts. A journal or message
 * that is a link or a FIFO is neither followed nor waited on, and a
 * message whose journal cannot be read is left in place, not loaded.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "queue/queue.h"
#include "queue/queue_id.h"
#include "tests/unit/check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#define MAXREADY	256

static struct event_base	*base;
static char			 top[64];	/* the test's temp dir */

struct ctx {
	struct queue_envelope	*ready[MAXREADY];
	int			 nready;
	int			 ncommits;	/* commit callbacks */
	int			 nerrors;	/* ... with error != 0 */
	int			 last_error;
	int			 order_bad;	/* ready before its commit cb */
	int			 in_commit;	/* inside queue_msg_commit() */
	int			 cb_inside;	/* cb ran synchronously */
	int			 nupdates;
	int			 update_error;
	char			 last_cb_id[QUEUE_ID_MAX];
};

static void
ready_cb(struct queue_envelope *env, void *arg)
{
	struct ctx *c = arg;

	if (c->last_cb_id[0] != '\0' && strcmp(c->last_cb_id, env->id) != 0)
		c->order_bad++;
	c->last_cb_id[0] = '\0';
	if (c->nready < MAXREADY)
		c->ready[c->nready++] = env;
	else
		queue_envelope_free(env);
}

static void
commit_cb(struct queue_msg *m, int error, void *arg)
{
	struct ctx *c = arg;

	if (c->in_commit)
		c->cb_inside++;
	c->ncommits++;
	if (error != 0) {
		c->nerrors++;
		c->last_error = error;
	} else
		snprintf(c->last_cb_id, sizeof(c->last_cb_id), "%s",
		    queue_msg_id(m));
}

static void
update_cb(void *arg, int error)
{
	struct ctx *c = arg;

	c->nupdates++;
	if (error != 0)
		c->update_error = error;
}

static void
ctx_clear(struct ctx *c)
{
	int i;

	for (i = 0; i < c->nready; i++)
		queue_envelope_free(c->ready[i]);
	memset(c, 0, sizeof(*c));
}

static void
timeout_cb(evutil_socket_t fd, short ev, void *arg)
{
	*(int *)arg = 1;
}

/* Run the loop until *counter reaches want; at most 20s. */
static int
run_until(const int *counter, int want)
{
	struct timeval	 tv = { 20, 0 };
	struct event	*t;
	int		 timed_out = 0;

	t = evtimer_new(base, timeout_cb, &timed_out);
	evtimer_add(t, &tv);
	while (*counter < want && !timed_out)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return *counter >= want ? 0 : -1;
}

/* Run the loop until the committer has completed `want` jobs in all. */
static int
run_jobs(struct queue *q, uint64_t want)
{
	struct queue_stats st;
	int i;

	for (i = 0; i < 2000; i++) {
		queue_get_stats(q, &st);
		if (st.jobs >= want)
			return 0;
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(1000);
	}
	return -1;
}

static struct queue *
qopen(const char *dir, struct ctx *c)
{
	char err[256] = "";
	struct queue *q;

	q = queue_open(base, dir, ready_cb, c, err, sizeof(err));
	if (q == NULL)
		fprintf(stderr, "queue_open: %s\n", err);
	CHECK(q != NULL);
	return q;
}

static int
path_exists(const char *dir, const char *sub, const char *name)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
	return access(p, F_OK) == 0;
}

static int
count_dir(const char *dir, const char *sub)
{
	char p[512];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "%s/%s", dir, sub);
	if ((d = opendir(p)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
write_file(const char *dir, const char *sub, const char *name,
    const void *p, size_t n, int append)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0600);
	CHECK(fd != -1);
	CHECK(write(fd, p, n) == (ssize_t)n);
	close(fd);
}

/* Read a message's content through the API. */
static char *
read_content(struct queue *q, const char *id, uint64_t *size)
{
	char *buf;
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = queue_content_open(q, id, size)) == -1)
		return NULL;
	buf = malloc(*size + 1);
	while ((n = read(fd, buf + got, *size + 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	if (got != *size) {
		free(buf);
		return NULL;
	}
	return buf;
}

static const char *rcpts2[] = { "bob@b.example", "carol@c.example" };

/* Submit a message with the given content in irregular chunks. */
static struct queue_msg *
send_msg(struct queue *q, struct ctx *c, const char *sender,
    const void *content, size_t len, int commit)
{
	static const size_t chunks[] = { 1, 7, 8191, 8192, 8193, 100000, 3 };
	struct queue_msg *m;
	size_t off = 0, k = 0, n;

	m = queue_msg_new(q, sender, ENV_8BITMIME, rcpts2, 2, "[127.0.0.1]",
	    "client.example");
	CHECK(m != NULL);
	if (m == NULL)
		return NULL;
	while (off < len) {
		n = chunks[k++ % (sizeof(chunks) / sizeof(chunks[0]))];
		if (n > len - off)
			n = len - off;
		CHECK_INT(queue_msg_write(m, (const char *)content + off, n), 0);
		off += n;
	}
	if (commit) {
		c->in_commit = 1;
		queue_msg_commit(m, commit_cb, c);
		c->in_commit = 0;
	}
	return m;
}

static char ids[4][QUEUE_ID_MAX];
static char *big;
static const size_t big_len = (1u << 20) + 13;
static const char small[] = "Subject: hi\r\n\r\nend\r\n.\r\nhello\r\n";

static void
test_write_read(const char *dir)
{
	struct ctx	 c = { 0 };
	struct queue	*q;
	struct queue_msg *m;
	uint64_t	 size;
	char		*got;
	size_t		 i;

	q = qopen(dir, &c);
	CHECK_INT(c.nready, 0);
	CHECK_INT(count_dir(dir, "tmp") + count_dir(dir, "msg") +
	    count_dir(dir, "corrupt"), 0);

	big = malloc(big_len);
	for (i = 0; i < big_len; i++)
		big[i] = (char)(i * 7 + (i >> 11));	/* NULs, CR, LF, all */

	m = send_msg(q, &c, "alice@a.example", small, sizeof(small) - 1, 0);
	snprintf(ids[0], sizeof(ids[0]), "%s", queue_msg_id(m));
	CHECK(path_exists(dir, "tmp", ids[0]));
	c.in_commit = 1;
	queue_msg_commit(m, commit_cb, &c);
	c.in_commit = 0;
	m = send_msg(q, &c, "", big, big_len, 1);	/* null sender */
	m = send_msg(q, &c, "x@y", "", 0, 0);		/* empty content */
	snprintf(ids[2], sizeof(ids[2]), "%s", queue_msg_id(m));
	queue_msg_commit(m, commit_cb, &c);
	CHECK_INT(c.ncommits, 0);	/* never before the loop runs */
	CHECK(!path_exists(dir, "msg", ids[0]));

	CHECK_INT(run_until(&c.nready, 3), 0);
	CHECK_INT(c.ncommits, 3);
	CHECK_INT(c.nerrors, 0);
	CHECK_INT(c.cb_inside, 0);
	CHECK_INT(c.order_bad, 0);
	snprintf(ids[1], sizeof(ids[1]), "%s", c.ready[1]->id);
	CHECK(strcmp(ids[0], ids[1]) < 0 && strcmp(ids[1], ids[2]) < 0);
	CHECK_STR(c.ready[0]->id, ids[0]);
	CHECK_STR(c.ready[2]->id, ids[2]);
	CHECK_INT(c.ready[0]->size, sizeof(small) - 1);
	CHECK_INT(c.ready[1]->size, big_len);
	CHECK_INT(c.ready[2]->size, 0);
	CHECK_INT(count_dir(dir, "tmp"), 0);
	CHECK_INT(count_dir(dir, "msg"), 3);

	got = read_content(q, ids[0], &size);
	CHECK(got != NULL && size == sizeof(small) - 1 &&
	    memcmp(got, small, size) == 0);
	free(got);
	got = read_content(q, ids[1], &size);
	CHECK(got != NULL && size == big_len && memcmp(got, big, size) == 0);
	free(got);
	got = read_content(q, ids[2], &size);
	CHECK(got != NULL && size == 0);
	free(got);

	errno = 0;
	CHECK_INT(queue_content_open(q, "../msg/x", &size), -1);
	CHECK_INT(errno, EINVAL);
	CHECK_INT(queue_content_open(q, "0VA1J8X5TB4K2QM", &size), -1);
	CHECK_INT(errno, ENOENT);
	errno = 0;
	CHECK(queue_msg_new(q, "a@b", 0, rcpts2, 0, NULL, NULL) == NULL);
	CHECK_INT(errno, EINVAL);

	queue_close(q);
	ctx_clear(&c);
}

static void
test_reopen(const char *dir)
{
	struct ctx	 c = { 0 };
	struct queue	*q;
	int		 i;

	q = qopen(dir, &c);
	CHECK_INT(c.nready, 3);		/* synchronously, in id order */
	for (i = 0; i < 3 && i < c.nready; i++)
		CHECK_STR(c.ready[i]->id, ids[i]);
	if (c.nready == 3) {
		CHECK_STR(c.ready[0]->sender, "alice@a.example");
		CHECK_STR(c.ready[1]->sender, "");
		CHECK_INT(c.ready[0]->nrcpts, 2);
		CHECK_STR(c.ready[0]->rcpts[1].addr, "carol@c.example");
		CHECK_STR(c.ready[0]->client, "[127.0.0.1]");
		CHECK_STR(c.ready[0]->helo, "client.example");
		CHECK_INT(c.ready[0]->flags, ENV_8BITMIME);
		CHECK_INT(c.ready[0]->rcpts[0].state, RCPT_PENDING);
	}
	queue_close(q);
	ctx_clear(&c);
}

static struct queue_envelope *
find_ready(struct ctx *c, const char *id)
{
	int i;

	for (i = 0; i < c->nready; i++)
		if (strcmp(c->ready[i]->id, id) == 0)
			return c->ready[i];
	return NULL;
}

static const char odd_error[] = "4.4.1 odd \r\n%text\x01 -";

static void
test_journal(const char *dir)
{
	struct ctx		 c = { 0 };
	struct queue		*q;
	struct queue_envelope	*env;
	struct queue_stats	 st0, st1;
	char			 name[64];
	static const char	 torn[] = "R 1 bounced 9 0 - deadbeef";

	q = qopen(dir, &c);
	env = find_ready(&c, ids[0]);
	CHECK(env != NULL);
	if (env == NULL)
		return;
	queue_get_stats(q, &st0);
	CHECK_INT(queue_rcpt_update(q, env, 0, RCPT_DELIVERED, 1, 0, NULL,
	    update_cb, &c), 0);
	CHECK_INT(queue_rcpt_update(q, env, 1, RCPT_DEFERRED, 1, 12345,
	    odd_error, update_cb, &c), 0);
	CHECK_INT(queue_rcpt_update(q, env, 2, RCPT_DEFERRED, 1, 0, NULL,
	    update_cb, &c), -1);		/* no such recipient */
	CHECK_INT(env->rcpts[0].state, RCPT_DELIVERED);	/* in memory at once */
	CHECK_STR(env->rcpts[1].last_error, odd_error);
	CHECK_INT(c.nupdates, 0);
	CHECK_INT(run_until(&c.nupdates, 2), 0);
	CHECK_INT(c.update_error, 0);
	queue_get_stats(q, &st1);
	/* Two updates in one loop iteration: one job, one fdatasync. */
	CHECK_INT(st1.files - st0.files, 1);
	CHECK_INT(st1.jobs - st0.jobs, 1);
	snprintf(name, sizeof(name), "%s.st", ids[0]);
	CHECK(path_exists(dir, "msg", name));
	queue_close(q);
	ctx_clear(&c);

	/* Persisted across reopen. */
	q = qopen(dir, &c);
	env = find_ready(&c, ids[0]);
	CHECK(env != NULL);
	if (env != NULL) {
		CHECK_INT(env->rcpts[0].state, RCPT_DELIVERED);
		CHECK_INT(env->rcpts[1].state, RCPT_DEFERRED);
		CHECK_INT(env->rcpts[1].attempts, 1);
		CHECK_INT(env->rcpts[1].next_attempt, 12345);
		CHECK_STR(env->rcpts[1].last_error, odd_error);
	}
	queue_close(q);
	ctx_clear(&c);

	/* A crash mid-append: a torn record (no newline) is ignored... */
	write_file(dir, "msg", name, torn, sizeof(torn) - 1, 1);
	q = qopen(dir, &c);
	env = find_ready(&c, ids[0]);
	CHECK(env != NULL);
	if (env == NULL)
		return;
	CHECK_INT(env->rcpts[1].state, RCPT_DEFERRED);
	CHECK_INT(env->rcpts[1].attempts, 1);
	/* ...and the next append does not merge with it. */
	CHECK_INT(queue_rcpt_update(q, env, 1, RCPT_DEFERRED, 2, 23456,
	    "4.4.2 again", update_cb, &c), 0);
	CHECK_INT(run_until(&c.nupdates, 1), 0);
	queue_close(q);
	ctx_clear(&c);
	q = qopen(dir, &c);
	env = find_ready(&c, ids[0]);
	CHECK(env != NULL);
	if (env != NULL) {
		CHECK_INT(env->rcpts[0].state, RCPT_DELIVERED);
		CHECK_INT(env->rcpts[1].attempts, 2);
		CHECK_INT(env->rcpts[1].next_attempt, 23456);
		CHECK_STR(env->rcpts[1].last_error, "4.4.2 again");
	}
	queue_close(q);
	ctx_clear(&c);
}

/* Take every descriptor under a soft limit of 64; returns how many. */
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

static void
test_journal_emfile(const char *dir)
{
	struct ctx		 c = { 0 };
	struct queue		*q;
	struct queue_envelope	*env;
	struct rlimit		 saved;
	int			 fds[128], n;

	q = qopen(dir, &c);
	env = find_ready(&c, ids[0]);
	CHECK(env != NULL);
	if (env == NULL) {
		queue_close(q);
		ctx_clear(&c);
		return;
	}
	CHECK_INT(env->rcpts[1].state, RCPT_DEFERRED);
	n = hoard_fds(fds, 128, &saved);
	CHECK(n > 0 && n < 128);
	errno = 0;
	CHECK_INT(queue_rcpt_update(q, env, 1, RCPT_DELIVERED, 3, 0, NULL,
	    update_cb, &c), -1);
	CHECK_INT(errno, EMFILE);
	/* refused: nothing changed in memory either */
	CHECK_INT(env->rcpts[1].state, RCPT_DEFERRED);
	CHECK_INT(env->rcpts[1].attempts, 2);
	/* the caller holds the state in memory all the same */
	CHECK_INT(queue_rcpt_set(env, 1, RCPT_DELIVERED, 3, 0, NULL), 0);
	CHECK_INT(env->rcpts[1].state, RCPT_DELIVERED);
	CHECK_INT(env->rcpts[1].attempts, 3);
	CHECK(env->rcpts[1].last_error == NULL);
	CHECK_INT(queue_rcpt_set(env, 9, RCPT_DELIVERED, 3, 0, NULL), -1);
	release_fds(fds, n, &saved);
	/* descriptors are back: the record written again is the one kept */
	CHECK_INT(queue_rcpt_update(q, env, 1, env->rcpts[1].state,
	    env->rcpts[1].attempts, env->rcpts[1].next_attempt,
	    env->rcpts[1].last_error, update_cb, &c), 0);
	CHECK_INT(run_until(&c.nupdates, 1), 0);
	CHECK_INT(c.update_error, 0);
	queue_close(q);
	ctx_clear(&c);
	q = qopen(dir, &c);
	env = find_ready(&c, ids[0]);
	CHECK(env != NULL);
	if (env != NULL) {
		CHECK_INT(env->rcpts[1].state, RCPT_DELIVERED);
		CHECK_INT(env->rcpts[1].attempts, 3);
	}
	queue_close(q);
	ctx_clear(&c);
}

static void
test_crash_states(const char *dir)
{
	struct ctx		 c = { 0 };
	struct queue		*q;
	struct queue_idgen	 g;
	char			 t1[QUEUE_ID_MAX], o1[QUEUE_ID_MAX], x1[QUEUE_ID_MAX];
	char			 path[512], name[64], *buf;
	struct stat		 st;
	FILE			*f;
	uint64_t		 size;

	queue_id_init(&g);
	queue_id_next(&g, t1);
	queue_id_next(&g, o1);
	queue_id_next(&g, x1);

	/* Interrupted writes: a half message in tmp/, and junk. */
	write_file(dir, "tmp", t1, "danerelay-queue 1\nid ", 21, 0);
	write_file(dir, "tmp", "junk", "x", 1, 0);
	/* A file that is not a message, under a valid id. */
	write_file(dir, "msg", x1, "\x00\xff garbage\n", 11, 0);
	/* An orphan journal (crash between the unlinks of a removal). */
	snprintf(name, sizeof(name), "%s.st", o1);
	write_file(dir, "msg", name, "R 0 delivered 1 0 - 00000000\n", 29, 0);
	/* A name that is not ours at all. */
	write_file(dir, "msg", "README tmp", "x", 1, 0);
	/* A copy of a real message under another id: its envelope disagrees. */
	queue_id_next(&g, t1 /* reuse */);
	snprintf(path, sizeof(path), "cp '%s/msg/%s' '%s/msg/%s'",
	    dir, ids[2], dir, t1);
	CHECK(system(path) == 0);
	/* The big message loses its last octet (and has a journal). */
	snprintf(path, sizeof(path), "%s/msg/%s", dir, ids[1]);
	CHECK(stat(path, &st) == 0);
	CHECK(truncate(path, st.st_size - 1) == 0);
	snprintf(name, sizeof(name), "%s.st", ids[1]);
	write_file(dir, "msg", name, "\n", 1, 0);

	q = qopen(dir, &c);
	CHECK_INT(c.nready, 2);			/* ids[0] and ids[2] */
	CHECK(find_ready(&c, ids[0]) != NULL);
	CHECK(find_ready(&c, ids[2]) != NULL);
	CHECK_INT(count_dir(dir, "tmp"), 0);
	CHECK(path_exists(dir, "corrupt", x1));
	CHECK(path_exists(dir, "corrupt", "README tmp"));
	CHECK(path_exists(dir, "corrupt", t1));
	CHECK(path_exists(dir, "corrupt", ids[1]));
	CHECK(path_exists(dir, "corrupt", name));	/* its journal went along */
	snprintf(name, sizeof(name), "%s.st", o1);
	CHECK(!path_exists(dir, "msg", name));
	CHECK(!path_exists(dir, "corrupt", name));
	/* msg/: ids[0], its journal, ids[2]. */
	CHECK_INT(count_dir(dir, "msg"), 3);
	CHECK_INT(count_dir(dir, "corrupt"), 5);
	errno = 0;
	CHECK_INT(queue_content_open(q, ids[1], &size), -1);
	CHECK_INT(errno, ENOENT);
	/* The survivors still read back. */
	buf = read_content(q, ids[0], &size);
	CHECK(buf != NULL && size == sizeof(small) - 1);
	free(buf);

	/* Corrupt files are kept, never deleted, also on a second move. */
	write_file(dir, "msg", x1, "again", 5, 0);
	queue_close(q);
	ctx_clear(&c);
	q = qopen(dir, &c);
	snprintf(name, sizeof(name), "%s.1", x1);
	CHECK(path_exists(dir, "corrupt", name));
	snprintf(path, sizeof(path), "%s/corrupt/%s", dir, x1);
	if ((f = fopen(path, "r")) != NULL) {
		CHECK(fgetc(f) == 0);		/* the first one, unchanged */
		fclose(f);
	}
	queue_close(q);
	ctx_clear(&c);
}

static void
test_remove(const char *dir)
{
	struct ctx	 c = { 0 };
	struct queue	*q;
	char		 name[64];

	q = qopen(dir, &c);
	CHECK_INT(queue_msg_remove(q, ids[0]), 0);
	CHECK_INT(queue_msg_remove(q, "../../etc"), -1);
	queue_close(q);			/* drains the removal */
	ctx_clear(&c);
	snprintf(name, sizeof(name), "%s.st", ids[0]);
	CHECK(!path_exists(dir, "msg", ids[0]));
	CHECK(!path_exists(dir, "msg", name));
	q = qopen(dir, &c);
	CHECK_INT(c.nready, 1);
	CHECK(find_ready(&c, ids[0]) == NULL);
	queue_close(q);
	ctx_clear(&c);
}

/* Wait for one more committer job than now. */
static int
run_one_job(struct queue *q)
{
	struct queue_stats st;

	queue_get_stats(q, &st);
	return run_jobs(q, st.jobs + 1);
}

static int
file_stat(const char *dir, const char *sub, const char *name, struct stat *st)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
	return stat(p, st);
}

/*
 * Spare files (queue/queue.c): a small removed message keeps its octets in
 * spare/ and the next message overwrites them in the same inode, cut to
 * its own length; a big one is emptied. Both load back exactly.
 */
static void
test_spare_reuse(void)
{
	struct ctx	 c = { 0 };
	struct queue	*q;
	struct queue_msg *m;
	struct stat	 sa, sb, ss;
	char		 dir[128], ida[QUEUE_ID_MAX], idb[QUEUE_ID_MAX],
			 idc[QUEUE_ID_MAX], idd[QUEUE_ID_MAX], *a, *got;
	uint64_t	 size;
	const size_t	 alen = 3000, clen = 100000;

	snprintf(dir, sizeof(dir), "%s/spare-spool", top);
	a = malloc(clen);
	memset(a, 'a', clen);
	q = qopen(dir, &c);
	send_msg(q, &c, "alice@a.example", a, alen, 1);
	CHECK_INT(run_until(&c.nready, 1), 0);
	snprintf(ida, sizeof(ida), "%s", c.ready[0]->id);
	CHECK_INT(file_stat(dir, "msg", ida, &sa), 0);
	CHECK_INT(queue_msg_remove(q, ida), 0);
	CHECK_INT(run_one_job(q), 0);
	CHECK(!path_exists(dir, "msg", ida));
	CHECK_INT(file_stat(dir, "spare", ida, &ss), 0);
	CHECK_INT(ss.st_size, sa.st_size);	/* kept, not emptied */

	m = send_msg(q, &c, "bob@b.example", "short\r\n", 7, 0);
	/* received in place, under the spare's name, not in tmp/ */
	CHECK(path_exists(dir, "spare", ida));
	CHECK_INT(count_dir(dir, "tmp"), 0);
	queue_msg_commit(m, commit_cb, &c);
	CHECK_INT(run_until(&c.nready, 2), 0);
	snprintf(idb, sizeof(idb), "%s", c.ready[1]->id);
	CHECK_INT(count_dir(dir, "spare"), 0);
	CHECK_INT(file_stat(dir, "msg", idb, &sb), 0);
	CHECK(sb.st_ino == sa.st_ino);		/* the same file, reused */
	CHECK(sb.st_size < sa.st_size);		/* cut to the new message */
	got = read_content(q, idb, &size);
	CHECK(got != NULL && size == 7 && memcmp(got, "short\r\n", 7) == 0);
	free(got);

	/* a big one is emptied on removal */
	send_msg(q, &c, "carol@c.example", a, clen, 1);
	CHECK_INT(run_until(&c.nready, 3), 0);
	snprintf(idc, sizeof(idc), "%s", c.ready[2]->id);
	CHECK_INT(queue_msg_remove(q, idc), 0);
	CHECK_INT(run_one_job(q), 0);
	CHECK_INT(file_stat(dir, "spare", idc, &ss), 0);
	CHECK_INT(ss.st_size, 0);
	send_msg(q, &c, "dave@d.example", a, alen, 1);
	CHECK_INT(run_until(&c.nready, 4), 0);
	snprintf(idd, sizeof(idd), "%s", c.ready[3]->id);
	queue_close(q);
	ctx_clear(&c);

	/* both load back, exact length checked by the loader */
	q = qopen(dir, &c);
	CHECK_INT(c.nready, 2);
	CHECK(find_ready(&c, idb) != NULL);
	CHECK(find_ready(&c, idd) != NULL);
	CHECK_INT(count_dir(dir, "corrupt"), 0);
	got = read_content(q, idd, &size);
	CHECK(got != NULL && size == alen && memcmp(got, a, alen) == 0);
	free(got);

	/* an aborted message takes its spare with it */
	CHECK_INT(queue_msg_remove(q, idb), 0);
	CHECK_INT(run_one_job(q), 0);
	CHECK(path_exists(dir, "spare", idb));
	m = send_msg(q, &c, "erin@e.example", a, alen, 0);
	queue_msg_abort(m);
	CHECK_INT(run_one_job(q), 0);
	CHECK_INT(count_dir(dir, "spare"), 0);
	CHECK_INT(count_dir(dir, "tmp"), 0);
	CHECK_INT(count_dir(dir, "msg"), 1);
	queue_close(q);
	ctx_clear(&c);
	free(a);
}

static void
test_group_commit(const char *dir)
{
	struct ctx		 c = { 0 };
	struct queue		*q;
	struct queue_stats	 st0, st1;
	uint64_t		 b0, f0, b1, f1;
	int			 i, n = 64;
	char			 content[300];

	q = qopen(dir, &c);
	ctx_clear(&c);
	queue_sync_stats(q, &b0, &f0);
	queue_get_stats(q, &st0);
	memset(content, 'x', sizeof(content));
	/* N sessions finish DATA in the same loop iteration. */
	for (i = 0; i < n; i++)
		send_msg(q, &c, "a@b", content, sizeof(content), 1);
	CHECK_INT(run_until(&c.nready, n), 0);
	CHECK_INT(c.nerrors, 0);
	queue_sync_stats(q, &b1, &f1);
	queue_get_stats(q, &st1);
	printf("group commit: %d messages, %llu batches, %llu file syncs, "
	    "%llu directory syncs\n", n, (unsigned long long)(b1 - b0),
	    (unsigned long long)(f1 - f0),
	    (unsigned long long)(st1.dirs - st0.dirs));
	CHECK_INT(f1 - f0, n);
	CHECK(b1 - b0 < f1 - f0);
	CHECK(st1.dirs - st0.dirs < (uint64_t)n);
	CHECK(b1 - b0 >= 1);

	/* Abort leaves no file. */
	{
		struct queue_msg *m = send_msg(q, &c, "a@b", content, 10, 0);
		char id[QUEUE_ID_MAX];

		snprintf(id, sizeof(id), "%s", queue_msg_id(m));
		CHECK(path_exists(dir, "tmp", id));
		queue_get_stats(q, &st0);
		queue_msg_abort(m);
		CHECK_INT(run_jobs(q, st0.jobs + 1), 0);
		CHECK(!path_exists(dir, "tmp", id));
		CHECK(!path_exists(dir, "msg", id));
	}

	/* Close with commits in flight: their callbacks run, durably done. */
	ctx_clear(&c);
	for (i = 0; i < 5; i++)
		send_msg(q, &c, "late@b", content, sizeof(content), 1);
	send_msg(q, &c, "never@b", content, 10, 0);	/* still receiving */
	queue_close(q);
	CHECK_INT(c.ncommits, 5);
	CHECK_INT(c.nerrors, 0);
	CHECK_INT(c.nready, 0);		/* no ready while closing */
	CHECK_INT(count_dir(dir, "tmp"), 0);
	ctx_clear(&c);
	q = qopen(dir, &c);
	CHECK_INT(c.nready, 1 + n + 5);
	queue_close(q);
	ctx_clear(&c);
}

static void
test_lock(const char *dir)
{
	struct ctx	 c = { 0 };
	struct queue	*q, *q2;
	char		 err[256] = "";

	q = qopen(dir, &c);
	q2 = queue_open(base, dir, ready_cb, &c, err, sizeof(err));
	CHECK(q2 == NULL);
	CHECK(strstr(err, "in use") != NULL);
	queue_close(q);
	ctx_clear(&c);
}

/* Fill the file system at dir until ENOSPC. */
static int
fill_disk(const char *dir)
{
	char path[512], block[4096];
	int fd;

	memset(block, 'f', sizeof(block));
	snprintf(path, sizeof(path), "%s/filler", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return -1;
	while (write(fd, block, sizeof(block)) > 0)
		;
	while (write(fd, block, 1) > 0)
		;
	close(fd);
	return 0;
}

static void
test_enospc(void)
{
	struct ctx		 c = { 0 };
	struct queue		*q;
	struct queue_msg	*m;
	struct queue_envelope	*env;
	char			 dir[128], filler[160], content[4096];
	int			 r = 0, i;

	if (geteuid() != 0) {
		check_skip("test_enospc: mounting the tiny tmpfs needs root");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/tiny", top);
	CHECK(mkdir(dir, 0700) == 0);
	if (mount("tmpfs", dir, "tmpfs", 0, "size=256k,mode=0700") == -1) {
		/* root without CAP_SYS_ADMIN (a container) cannot mount */
		if (errno == EPERM) {
			check_skip("test_enospc: mount tmpfs: permission "
			    "denied (no CAP_SYS_ADMIN)");
			return;
		}
		perror("mount tmpfs");
		CHECK(0);
		return;
	}
	snprintf(dir, sizeof(dir), "%s/tiny/spool", top);
	q = qopen(dir, &c);

	/* ENOSPC while receiving: write fails, later writes too, the commit
	 * reports it, and no file is left. */
	memset(content, 'y', sizeof(content));
	m = queue_msg_new(q, "a@b", 0, rcpts2, 2, NULL, NULL);
	CHECK(m != NULL);
	for (i = 0; i < 200 && r == 0; i++)
		r = queue_msg_write(m, content, sizeof(content));
	CHECK_INT(r, -1);
	CHECK_INT(errno, ENOSPC);
	CHECK_INT(queue_msg_write(m, "z", 1), -1);
	CHECK_INT(errno, ENOSPC);
	queue_msg_commit(m, commit_cb, &c);
	CHECK_INT(run_until(&c.ncommits, 1), 0);
	CHECK_INT(c.nerrors, 1);
	CHECK_INT(c.last_error, ENOSPC);
	CHECK_INT(c.nready, 0);
	CHECK_INT(count_dir(dir, "tmp"), 0);
	CHECK_INT(count_dir(dir, "msg"), 0);

	/* Space is back: a message fits. */
	send_msg(q, &c, "ok@b", content, 1000, 1);
	CHECK_INT(run_until(&c.nready, 1), 0);
	CHECK_INT(c.nerrors, 1);
	env = c.nready ? c.ready[0] : NULL;

	/* Disk full before the first flush: the commit fails cleanly. */
	snprintf(filler, sizeof(filler), "%s/tiny", top);
	CHECK(fill_disk(filler) == 0);
	m = queue_msg_new(q, "a@b", 0, rcpts2, 2, NULL, NULL);
	if (m != NULL) {
		CHECK_INT(queue_msg_write(m, content, 100), 0);	/* buffered */
		queue_msg_commit(m, commit_cb, &c);
		CHECK_INT(run_until(&c.ncommits, 3), 0);
		CHECK_INT(c.nerrors, 2);
		CHECK_INT(c.last_error, ENOSPC);
	} else
		CHECK_INT(errno, ENOSPC);
	CHECK_INT(count_dir(dir, "tmp"), 0);

	/* A recipient update on a full disk fails and changes nothing. */
	if (env != NULL) {
		CHECK_INT(queue_rcpt_update(q, env, 0, RCPT_DELIVERED, 1, 0,
		    NULL, update_cb, &c), -1);
		CHECK_INT(errno, ENOSPC);
		CHECK_INT(env->rcpts[0].state, RCPT_PENDING);
	}
	snprintf(filler, sizeof(filler), "%s/tiny/filler", top);
	CHECK(unlink(filler) == 0);
	queue_close(q);
	ctx_clear(&c);

	q = qopen(dir, &c);
	CHECK_INT(c.nready, 1);
	if (c.nready == 1)
		CHECK_INT(c.ready[0]->rcpts[0].state, RCPT_PENDING);
	queue_close(q);
	ctx_clear(&c);

	snprintf(dir, sizeof(dir), "%s/tiny", top);
	CHECK(umount(dir) == 0);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/*
 * queue_file_read(): the one reader of journals (daemon and offline
 * `queue list`): whole files, the cut at max, an empty file, and a link
 * or a FIFO in the spool refused at once, never followed or waited on.
 */
static void
test_file_read(void)
{
	char	 d[256], p[300], *b;
	size_t	 len;
	bool	 cut;
	int	 dfd, fd;

	snprintf(d, sizeof(d), "%s/read", top);
	CHECK(mkdir(d, 0700) == 0);
	dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd != -1);
	snprintf(p, sizeof(p), "%s/f", d);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd != -1 && write(fd, "0123456789", 10) == 10);
	close(fd);
	b = queue_file_read(dfd, "f", 1 << 20, &len, &cut);
	CHECK(b != NULL && len == 10 && !cut && memcmp(b, "0123456789", 10) == 0);
	free(b);
	b = queue_file_read(dfd, "f", 4, &len, &cut);
	CHECK(b != NULL && cut);
	free(b);
	snprintf(p, sizeof(p), "%s/empty", d);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	close(fd);
	b = queue_file_read(dfd, "empty", 1 << 20, &len, &cut);
	CHECK(b != NULL && len == 0 && !cut);
	free(b);
	errno = 0;
	CHECK(queue_file_read(dfd, "none", 1 << 20, &len, &cut) == NULL &&
	    errno == ENOENT);
	CHECK(symlinkat("f", dfd, "link") == 0);
	errno = 0;
	CHECK(queue_file_read(dfd, "link", 1 << 20, &len, &cut) == NULL &&
	    errno == ELOOP);
	CHECK(mkfifoat(dfd, "fifo", 0600) == 0);
	errno = 0;
	CHECK(queue_file_read(dfd, "fifo", 1 << 20, &len, &cut) == NULL &&
	    errno == EINVAL);
	close(dfd);
}

/*
 * What cannot be read is never taken for something else: a journal that
 * is a link or a FIFO leaves its message in place, not loaded (loaded as
 * received it would be sent again, or released from a hold); a message
 * file that is a FIFO is not waited on; a journal swapped for a link while
 * the queue runs is not written through (ELOOP). Put back, all load.
 */
static void
test_unreadable(const char *dir)
{
	struct ctx		 c = { 0 };
	struct queue		*q;
	struct queue_envelope	*env;
	struct stat		 st;
	char			 id[3][QUEUE_ID_MAX], p[512], s0[512], s2[512];
	char			 out[512];
	int			 i;

	q = qopen(dir, &c);
	if (q == NULL)
		return;
	for (i = 0; i < 3; i++)
		(void)send_msg(q, &c, "a@a.example", small, sizeof(small) - 1, 1);
	CHECK_INT(run_until(&c.ncommits, 3), 0);
	CHECK_INT(c.nerrors, 0);
	CHECK_INT(c.nready, 3);
	if (c.nready != 3) {
		queue_close(q);
		ctx_clear(&c);
		return;
	}
	for (i = 0; i < 3; i++) {
		snprintf(id[i], sizeof(id[i]), "%s", c.ready[i]->id);
		CHECK_INT(queue_rcpt_update(q, c.ready[i], 0, RCPT_DELIVERED, 1,
		    0, NULL, update_cb, &c), 0);
	}
	CHECK_INT(run_until(&c.nupdates, 3), 0);
	CHECK_INT(c.update_error, 0);

	/* a journal swapped for a link to a file elsewhere */
	env = c.ready[2];
	snprintf(p, sizeof(p), "%s/msg/%s.st", dir, id[2]);
	snprintf(s2, sizeof(s2), "%s/saved2", top);
	snprintf(out, sizeof(out), "%s/outside", top);
	write_file(top, ".", "outside", "x", 1, 0);
	CHECK(rename(p, s2) == 0 && symlink(out, p) == 0);
	errno = 0;
	CHECK_INT(queue_rcpt_update(q, env, 1, RCPT_DELIVERED, 1, 0, NULL,
	    NULL, NULL), -1);
	CHECK_INT(errno, ELOOP);
	CHECK(stat(out, &st) == 0 && st.st_size == 1);
	CHECK(unlink(p) == 0 && rename(s2, p) == 0);
	queue_close(q);
	ctx_clear(&c);

	/* id[0]'s journal a FIFO, id[2]'s message a FIFO */
	snprintf(p, sizeof(p), "%s/msg/%s.st", dir, id[0]);
	snprintf(s0, sizeof(s0), "%s/saved0", top);
	CHECK(rename(p, s0) == 0 && mkfifo(p, 0600) == 0);
	snprintf(p, sizeof(p), "%s/msg/%s", dir, id[2]);
	CHECK(rename(p, s2) == 0 && mkfifo(p, 0600) == 0);
	q = qopen(dir, &c);		/* returns: nothing waited on */
	CHECK_INT(c.nready, 1);
	env = find_ready(&c, id[1]);
	CHECK(env != NULL && env->rcpts[0].state == RCPT_DELIVERED);
	CHECK(find_ready(&c, id[0]) == NULL && find_ready(&c, id[2]) == NULL);
	CHECK(path_exists(dir, "msg", id[0]));
	CHECK_INT(count_dir(dir, "corrupt"), 0);
	queue_close(q);
	ctx_clear(&c);

	/* put back: all three load, with their journals */
	snprintf(p, sizeof(p), "%s/msg/%s.st", dir, id[0]);
	CHECK(unlink(p) == 0 && rename(s0, p) == 0);
	snprintf(p, sizeof(p), "%s/msg/%s", dir, id[2]);
	CHECK(unlink(p) == 0 && rename(s2, p) == 0);
	q = qopen(dir, &c);
	CHECK_INT(c.nready, 3);
	for (i = 0; i < 3; i++) {
		env = find_ready(&c, id[i]);
		CHECK(env != NULL && env->rcpts[0].state == RCPT_DELIVERED);
	}
	queue_close(q);
	ctx_clear(&c);
}

int
main(void)
{
	char dir[128];

	evthread_use_pthreads();
	base = event_base_new();
	snprintf(top, sizeof(top), "/tmp/test_queue.XXXXXX");
	if (mkdtemp(top) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/spool", top);

	test_write_read(dir);
	test_reopen(dir);
	test_journal(dir);
	test_journal_emfile(dir);
	test_crash_states(dir);
	test_remove(dir);
	test_group_commit(dir);
	test_spare_reuse();
	test_lock(dir);
	test_enospc();
	test_file_read();
	snprintf(dir, sizeof(dir), "%s/spool2", top);
	test_unreadable(dir);

	free(big);
	event_base_free(base);
	libevent_global_shutdown();
	nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return check_done("test_queue");
}
