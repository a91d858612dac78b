/*
 * tests/unit/test_log.c - the log's rate limiter for repeating errors
 * (relay/log.h): the decision at given seconds, and the lines it writes
 * to a real log file; the loop-turn buffer: lines reach the file at the
 * end of the turn, in order, a line from another thread after them, and
 * everything at log_buffer_stop() and log_close(); lines that cannot be
 * written (a file at its RLIMIT_FSIZE) counted and the count written first
 * once the file takes lines again.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/log.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

static void
test_pass(void)
{
	struct log_limit ll = { 0 };
	unsigned long n;
	time_t secs;
	int i, written = 0;

	/* the first one is written at once, with nothing to report */
	CHECK(log_limit_pass(&ll, 1000, &n, &secs));
	CHECK_INT(n, 0);
	CHECK_INT(secs, 0);
	/* within the interval: counted only */
	for (i = 0; i < 1234; i++)
		written += log_limit_pass(&ll, 1000 + i % 60, &n, &secs);
	CHECK_INT(written, 0);
	CHECK_INT(ll.suppressed, 1234);
	/* the first after it carries the count and the elapsed time */
	CHECK(log_limit_pass(&ll, 1060, &n, &secs));
	CHECK_INT(n, 1234);
	CHECK_INT(secs, 60);
	CHECK_INT(ll.suppressed, 0);
	/* a lone occurrence much later: written, nothing was counted */
	CHECK(log_limit_pass(&ll, 5000, &n, &secs));
	CHECK_INT(n, 0);
	CHECK_INT(secs, 3940);

	/* a private interval */
	struct log_limit l5 = { .interval = 5 };
	CHECK(log_limit_pass(&l5, 10, &n, &secs));
	CHECK(!log_limit_pass(&l5, 14, &n, &secs));
	CHECK(log_limit_pass(&l5, 15, &n, &secs));
	CHECK_INT(n, 1);
	CHECK_INT(secs, 5);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 1 << 20);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/*
 * A tight loop of 100000 errors writes one line; the end reports the
 * count; an end without a report before it writes nothing.
 */
static void
test_lines(void)
{
	char path[] = "/tmp/test_log.XXXXXX", err[256], *buf;
	struct log_limit ll = { 0 }, other = { 0 }, never = { 0 };
	int fd, i;

	fd = mkstemp(path);
	CHECK(fd != -1);
	close(fd);
	CHECK_INT(log_open(path, err, sizeof(err)), 0);
	for (i = 0; i < 100000; i++) {
		errno = EMFILE;
		log_limit_warn(&ll, "0QID", "cannot open the thing");
	}
	log_limit_warnx(&other, NULL, "another kind");
	log_limit_end(&ll, "0QID", "the thing opens again");
	log_limit_end(&ll, "0QID", "already ended: not written");
	log_limit_end(&other, NULL, "another kind is over");
	log_limit_end(&never, NULL, "never reported: not written");
	errno = ENOSPC;
	log_limit_warn(&ll, "0QID", "cannot open the thing");	/* at once again */
	log_close();

	buf = slurp(path);
	CHECK(buf != NULL);
	if (buf != NULL) {
		CHECK_INT(count(buf, "\n"), 5);
		CHECK_INT(count(buf, "another kind is over\n"), 1);
		CHECK_INT(count(buf, "0QID: cannot open the thing: Too many "
		    "open files\n"), 1);
		CHECK_INT(count(buf, "another kind\n"), 1);
		/* the 100,000 calls may take over a second on a loaded machine */
		CHECK_INT(count(buf, "0QID: the thing opens again (repeated "
		    "99999 times in the last "), 1);
		CHECK_INT(count(buf, "not written"), 0);
		CHECK_INT(count(buf, "cannot open the thing: No space left "
		    "on device\n"), 1);
	}
	free(buf);
	unlink(path);
}

static void *
other_thread(void *arg)
{
	(void)arg;
	log_info(NULL, "from another thread");
	return NULL;
}

/* A second loop thread: its own buffer, written at its own turns. */
struct loop_thread_arg {
	const char	*path;
	int		 before_turn, after_turn;	/* "B " lines in the file */
	bool		 main_line_seen;		/* main's buffered line */
};

static void
b_turn_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_info("BQID", "B inside its turn");
}

static void *
loop_thread(void *arg)
{
	struct loop_thread_arg *a = arg;
	struct event_base *b = event_base_new();
	struct event *ev = event_new(b, -1, 0, b_turn_cb, NULL);
	char *buf;

	log_buffer_start(b);
	log_info("BQID", "B before its turn");
	buf = slurp(a->path);
	a->before_turn = buf != NULL ? count(buf, "BQID: B ") : -1;
	free(buf);
	event_active(ev, EV_TIMEOUT, 1);
	event_base_loop(b, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	buf = slurp(a->path);
	a->after_turn = buf != NULL ? count(buf, "BQID: B ") : -1;
	a->main_line_seen = buf != NULL && strstr(buf, "main, still "
	    "buffered") != NULL;
	free(buf);
	log_buffer_stop();
	event_free(ev);
	event_base_free(b);
	return NULL;
}

static void
turn_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	log_info("1QID", "logged inside the turn %d", *(int *)arg);
}

static void
test_buffered(void)
{
	char path[] = "/tmp/test_log.XXXXXX", err[256], *buf;
	struct event_base *base;
	struct event *ev;
	pthread_t t;
	int fd, i, one = 1;

	fd = mkstemp(path);
	CHECK(fd != -1);
	close(fd);
	CHECK_INT(log_open(path, err, sizeof(err)), 0);
	base = event_base_new();
	CHECK_INT(log_buffer_start(base), 0);
	for (i = 0; i < 3; i++)
		log_info("0QID", "line %d", i);
	buf = slurp(path);
	CHECK(buf != NULL && buf[0] == '\0');	/* nothing yet: buffered */
	free(buf);
	/* a turn of the loop: its callbacks' lines go out with them */
	ev = event_new(base, -1, 0, turn_cb, &one);
	event_active(ev, EV_TIMEOUT, 1);
	CHECK_INT(event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
	buf = slurp(path);
	CHECK(buf != NULL && count(buf, "\n") == 4 &&
	    strstr(buf, "0QID: line 0\n") < strstr(buf, "0QID: line 2\n") &&
	    strstr(buf, "0QID: line 2\n") < strstr(buf, "1QID: logged inside "
	    "the turn 1\n"));
	free(buf);
	/* another thread writes at once, after what was buffered */
	log_info(NULL, "buffered before the thread");
	CHECK_INT(pthread_create(&t, NULL, other_thread, NULL), 0);
	pthread_join(t, NULL);
	buf = slurp(path);
	CHECK(buf != NULL && count(buf, "\n") == 6 &&
	    strstr(buf, "buffered before the thread\n") <
	    strstr(buf, "from another thread\n"));
	free(buf);
	/* a second loop thread writes its lines at its turn, not main's */
	{
		struct loop_thread_arg a = { .path = path };

		log_info(NULL, "main, still buffered");
		CHECK_INT(pthread_create(&t, NULL, loop_thread, &a), 0);
		pthread_join(t, NULL);
		CHECK_INT(a.before_turn, 0);
		CHECK_INT(a.after_turn, 2);
		CHECK(!a.main_line_seen);
		log_flush();
		buf = slurp(path);
		CHECK(buf != NULL && count(buf, "\n") == 9 &&
		    count(buf, "main, still buffered\n") == 1);
		free(buf);
	}
	/* more than the buffer holds: written as it fills, nothing lost */
	for (i = 0; i < 2000; i++)
		log_info("2QID", "a long run of lines to overflow the buffer %04d", i);
	log_buffer_stop();
	log_info(NULL, "after stop: at once");
	buf = slurp(path);
	CHECK(buf != NULL && count(buf, "\n") == 2010 &&
	    count(buf, "overflow the buffer 1999\n") == 1 &&
	    count(buf, "after stop: at once\n") == 1);
	free(buf);
	/* close flushes too */
	CHECK_INT(log_buffer_start(base), 0);
	log_info(NULL, "flushed by close");
	log_close();
	buf = slurp(path);
	CHECK(buf != NULL && count(buf, "flushed by close\n") == 1);
	free(buf);
	log_buffer_stop();
	event_free(ev);
	event_base_free(base);
	unlink(path);
}

/* the file may hold limit octets (RLIMIT_FSIZE: writes beyond fail EFBIG) */
static void
fsize_limit(rlim_t limit)
{
	struct rlimit rl;

	CHECK_INT(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = limit;
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/*
 * A log file that cannot grow (RLIMIT_FSIZE, a real EFBIG from write(2),
 * as a full disk gives ENOSPC): the lines that do not fit are counted, a
 * line cut by the limit among them; the first write that works again puts
 * the count on a line of its own ahead of its lines. The same with the
 * loop-turn buffer.
 */
static void
test_lost(void)
{
	char path[] = "/tmp/test_log.XXXXXX", err[256], *buf, *buf2, *p;
	struct event_base *base;
	struct rlimit saved;
	int fd, i, whole;
	size_t len;

	fd = mkstemp(path);
	CHECK(fd != -1);
	close(fd);
	CHECK_INT(getrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, SIG_IGN);	/* the write fails instead */
	CHECK_INT(log_open(path, err, sizeof(err)), 0);
	log_info(NULL, "before the limit");
	CHECK_INT(log_lost_lines(), 0);
	fsize_limit(4000);
	for (i = 0; i < 100; i++)
		log_info("3QID", "a line that may not fit %03d", i);
	buf = slurp(path);
	CHECK(buf != NULL);
	len = buf != NULL ? strlen(buf) : 0;
	CHECK_INT(len, 4000);		/* the last line cut at the limit */
	whole = buf != NULL ? count(buf, "\n") - 1 : 0;
	free(buf);
	CHECK(whole > 10 && whole < 100);
	CHECK_INT(log_lost_lines(), 100 - whole);

	/* space again: the count first, on a line of its own, then the line */
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &saved), 0);
	log_info(NULL, "after the limit");
	CHECK_INT(log_lost_lines(), 0);
	buf = slurp(path);
	CHECK(buf != NULL);
	if (buf != NULL) {
		snprintf(err, sizeof(err), "]: log: %d lines lost while log_file "
		    "could not be written (File too large)\n", 100 - whole);
		p = strstr(buf, err);
		CHECK(p != NULL);
		CHECK(buf[4000] == '\n');	/* the cut line ended */
		CHECK(p != NULL && p < strstr(buf, "after the limit\n"));
		CHECK_INT(count(buf, "\n"), 1 + whole + 3);	/* + cut, count, after */
		CHECK_INT(count(buf, "lines lost"), 1);
	}
	free(buf);

	/* buffered: one turn's lines fail together, counted together */
	base = event_base_new();
	CHECK_INT(log_buffer_start(base), 0);
	buf = slurp(path);
	len = buf != NULL ? strlen(buf) : 0;
	free(buf);
	fsize_limit((rlim_t)len);
	for (i = 0; i < 7; i++)
		log_info("4QID", "buffered and lost %d", i);
	log_flush();
	CHECK_INT(log_lost_lines(), 7);
	log_info("4QID", "buffered, also lost");
	log_flush();
	CHECK_INT(log_lost_lines(), 8);
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &saved), 0);
	log_info("4QID", "buffered, written");
	CHECK_INT(log_lost_lines(), 8);	/* until the turn's write */
	log_flush();
	CHECK_INT(log_lost_lines(), 0);
	buf = slurp(path);
	CHECK(buf != NULL && strstr(buf, "log: 8 lines lost while log_file "
	    "could not be written (File too large)\n") != NULL &&
	    count(buf, "buffered and lost") == 0 &&
	    count(buf, "4QID: buffered, written\n") == 1);
	if (buf == NULL)
		return;

	/* still failing at close: the count goes to stderr */
	fsize_limit((rlim_t)strlen(buf));
	log_info("5QID", "lost at the end");
	log_flush();
	CHECK_INT(log_lost_lines(), 1);
	log_buffer_stop();
	event_base_free(base);
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &saved), 0);
	snprintf(err, sizeof(err), "%s.stderr", path);
	fflush(stderr);
	fd = dup(STDERR_FILENO);
	CHECK(freopen(err, "w", stderr) != NULL);
	log_close();
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	close(fd);
	CHECK_INT(log_lost_lines(), 0);
	buf2 = slurp(err);
	CHECK(buf2 != NULL && strstr(buf2, "]: log: 1 line lost while log_file "
	    "could not be written (File too large)\n") != NULL &&
	    count(buf2, "\n") == 1);
	free(buf2);
	free(buf);
	unlink(err);
	unlink(path);
}

int
main(void)
{
	test_pass();
	test_lines();
	test_buffered();
	test_lost();
	return check_done("test_log");
}
