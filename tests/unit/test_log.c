/*
 * tests/unit/test_log.c - the log's rate limiter for repeating errors
 * (relay/log.h): the decision at given seconds, and the lines it writes
 * to a real log file.
 */
#include "relay/log.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
		CHECK_INT(count(buf, "0QID: the thing opens again (repeated "
		    "99999 times in the last 0s)\n"), 1);
		CHECK_INT(count(buf, "not written"), 0);
		CHECK_INT(count(buf, "cannot open the thing: No space left "
		    "on device\n"), 1);
	}
	free(buf);
	unlink(path);
}

int
main(void)
{
	test_pass();
	test_lines();
	return check_done("test_log");
}
