/*
 * tests/unit/test_fdlimit.c - the descriptor budget of relay/fdlimit.h:
 * what a configuration needs, the message that names the keys to change,
 * and raising a real (lowered) soft RLIMIT_NOFILE to the hard limit.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "conf/conf.h"
#include "relay/fdlimit.h"
#include "tests/unit/check.h"

#include <string.h>
#include <sys/resource.h>

static void
test_need(void)
{
	CHECK_INT(fdlimit_need(0, 0), FDLIMIT_OWN);
	CHECK_INT(fdlimit_need(1000, 100), 2 * 1000 + 4 * 100 + FDLIMIT_OWN);
	CHECK_INT(fdlimit_need(1000000, 1000000), 6000000ULL + FDLIMIT_OWN);
}

static void
test_check(void)
{
	struct conf c;
	char msg[512];

	memset(&c, 0, sizeof(c));
	c.max_clients = 1000;
	c.max_connections = 100;
	CHECK_INT(fdlimit_check(&c, 1048576, msg, sizeof(msg)), 0);
	CHECK_INT(fdlimit_check(&c, 2464, msg, sizeof(msg)), 0);
	CHECK_INT(fdlimit_check(&c, 2463, msg, sizeof(msg)), -1);
	CHECK(strstr(msg, "max_clients = 1000") != NULL);
	CHECK(strstr(msg, "max_connections = 100") != NULL);
	CHECK(strstr(msg, "need up to 2464 file descriptors") != NULL);
	CHECK(strstr(msg, "RLIMIT_NOFILE allows 2463") != NULL);
	CHECK(strstr(msg, "lower max_clients or max_connections") != NULL);
	CHECK_INT(fdlimit_check(&c, 1024, msg, sizeof(msg)), -1);
	c.max_clients = 200;	/* 400 + 400 + 64 */
	CHECK_INT(fdlimit_check(&c, 1024, msg, sizeof(msg)), 0);
}

static void
test_raise(void)
{
	struct rlimit rl, now;
	unsigned long long soft, hard;

	CHECK_INT(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < 128) {
		check_skip("raising RLIMIT_NOFILE: the hard limit is below 128 here");
		return;
	}
	now = rl;
	now.rlim_cur = 64;
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &now), 0);
	CHECK_INT(fdlimit_raise(&soft, &hard), 0);
	CHECK_INT(getrlimit(RLIMIT_NOFILE, &now), 0);
	CHECK(now.rlim_cur == rl.rlim_max);
	CHECK(soft == hard);
	CHECK(hard == fdlimit_hard());
	CHECK(rl.rlim_max == RLIM_INFINITY || hard == (unsigned long long)rl.rlim_max);
	setrlimit(RLIMIT_NOFILE, &rl);
}

int
main(void)
{
	test_need();
	test_check();
	test_raise();
	return check_done("test_fdlimit");
}
