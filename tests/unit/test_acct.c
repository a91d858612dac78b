/*
 * tests/unit/test_acct.c - relay/acct.c when acct_file cannot be written:
 * the file is held at its size by RLIMIT_FSIZE (write(2) fails EFBIG for
 * real, as a full disk fails ENOSPC). Records are kept in memory up to the
 * buffer's limit, then dropped with a warning; once the file takes
 * writes again the next record writes everything kept, and the log says
 * how many were dropped: written + dropped = every record made, none lost
 * silently. Again with the log failing too, past the time the accounting
 * file works again: the count waits until the log takes lines.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/acct.h"
#include "queue/queue.h"
#include "relay/delivery.h"
#include "relay/log.h"
#include "tests/unit/check.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

static char *
slurp(const char *path)
{
	struct stat st;
	FILE *f;
	char *buf;
	size_t n;

	if (stat(path, &st) == -1 || (f = fopen(path, "r")) == NULL)
		return NULL;
	buf = calloc(1, (size_t)st.st_size + 1);
	n = fread(buf, 1, (size_t)st.st_size, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static unsigned long
count(const char *hay, const char *needle)
{
	unsigned long n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

static off_t
size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/*
 * log_fails: the log file is larger than the accounting file, and the
 * limit between them while the accounting file drains, so that the log
 * still fails when records are taken again: the count of dropped records
 * waits for the log, and comes after its count of lost lines.
 */
static void
run(bool log_fails)
{
	char dir[] = "/tmp/test_acct.XXXXXX", acct[64], logf[64], err[256];
	char diag[400], want[160], *buf, *p;
	struct queue_rcpt rcpt = { .addr = (char *)"r@later.test" };
	struct queue_envelope env = { .id = "0ACCTTEST000000", .sender =
	    (char *)"s@sender.test", .size = 1234, .rcpts = &rcpt, .nrcpts = 1 };
	struct dlv_outcome o = { .idx = 0, .esc = "4.4.1", .mx = "mx.later.test" };
	struct event_base *base;
	struct rlimit saved, rl;
	unsigned long made = 0, written, dropped;
	int i;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(acct, sizeof(acct), "%s/acct.csv", dir);
	snprintf(logf, sizeof(logf), "%s/relay.log", dir);
	CHECK_INT(log_open(logf, err, sizeof(err)), 0);
	base = event_base_new();
	CHECK_INT(acct_open(base, acct, err, sizeof(err)), 0);
	env.arrival = time(NULL);
	memset(diag, 'x', sizeof(diag) - 1);
	diag[sizeof(diag) - 1] = '\0';
	for (i = 0; log_fails && i < 20000; i++)	/* ~2 MB of log */
		log_info(NULL, "padding the log to be larger than the "
		    "accounting file, line %05d", i);

	/* a file that works: records reach it at the loop's turn */
	for (i = 0; i < 300; i++, made++)
		acct_outcome(ACCT_TRANSIENT, &env, &o, 1, NULL, diag);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(size_of(acct) > 300 * 400);

	/* the file may not grow: EFBIG, not SIGXFSZ */
	signal(SIGXFSZ, SIG_IGN);
	CHECK_INT(getrlimit(RLIMIT_FSIZE, &saved), 0);
	rl = saved;
	rl.rlim_cur = (rlim_t)size_of(acct);
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &rl), 0);
	/* well past the buffer's 8 MiB, a loop turn now and then */
	for (i = 0; i < 30000; i++, made++) {
		acct_outcome(ACCT_TRANSIENT, &env, &o, 2, NULL, diag);
		if (i % 1000 == 0)
			event_base_loop(base, EVLOOP_NONBLOCK);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(size_of(acct) == (off_t)rl.rlim_cur);
	if (log_fails) {
		/* the accounting file drains in part, the log still fails */
		CHECK(log_lost_lines() > 0);
		rl.rlim_cur = (rlim_t)size_of(logf);
		CHECK_INT(setrlimit(RLIMIT_FSIZE, &rl), 0);
		acct_outcome(ACCT_TRANSIENT, &env, &o, 3, NULL, diag);
		made++;
		event_base_loop(base, EVLOOP_NONBLOCK);
		acct_outcome(ACCT_TRANSIENT, &env, &o, 3, NULL, diag);
		made++;
		event_base_loop(base, EVLOOP_NONBLOCK);
		CHECK(size_of(acct) == (off_t)rl.rlim_cur);
		CHECK(log_lost_lines() > 0);
	}

	/* room again: the next record writes what was kept */
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &saved), 0);
	acct_outcome(ACCT_TRANSIENT, &env, &o, 3, NULL, diag);
	made++;
	event_base_loop(base, EVLOOP_NONBLOCK);
	/* by the loop's turn, not by the close below */
	buf = slurp(acct);
	CHECK(buf != NULL);
	for (written = 0, p = buf; p != NULL && *p != '\0'; p++)
		written += *p == '\n';
	written--;			/* the header */
	CHECK(buf != NULL && strncmp(buf, "type,timeLogged,", 16) == 0);
	free(buf);
	acct_close();
	log_close();
	event_base_free(base);

	buf = slurp(logf);
	CHECK(buf != NULL);
	if (buf == NULL)
		return;
	p = strstr(buf, "acct_file ");	/* past the padding */
	printf("%s", p != NULL ? p : "(no acct_file line)\n");
	if (log_fails) {
		/* those lines went with the log's, counted there */
		CHECK_INT(count(buf, "records kept in memory\n"), 0);
		CHECK_INT(count(buf, "buffer full"), 0);
		CHECK_INT(count(buf, " lines lost while log_file could not be "
		    "written (File too large)\n"), 1);
	} else {
		CHECK_INT(count(buf, "write: File too large; records kept in memory\n"), 1);
		CHECK_INT(count(buf, "buffer full, dropping records until it is written\n"), 1);
	}
	CHECK_INT(count(buf, ": writing again\n"), 1);
	snprintf(want, sizeof(want), "acct_file %s: ", acct);
	p = strstr(buf, " dropped while the file could not be written\n");
	CHECK(p != NULL);
	CHECK(!log_fails || (p != NULL && strstr(buf, " lines lost ") < p));
	while (p != NULL && p > buf && p[-1] != '\n' && strncmp(p, want,
	    strlen(want)) != 0)
		p--;
	dropped = p != NULL ? strtoul(p + strlen(want), NULL, 10) : 0;
	printf("made %lu, written %lu, dropped %lu\n", made, written, dropped);
	CHECK(written > 300 + 8000);	/* 8 MiB kept ... */
	CHECK(dropped > 1000);		/* ... the rest dropped ... */
	CHECK_INT(written + dropped, made);	/* ... and nothing else */
	CHECK_INT(count(buf, " dropped while the file could not be written\n"), 1);
	free(buf);
	unlink(acct);
	unlink(logf);
	rmdir(dir);
}

int
main(void)
{
	run(false);
	run(true);
	return check_done("test_acct");
}
