/*
 * tests/unit/test_privsep.c - the keys of least privilege and inbound
 * limits (conf/conf.c: user, group, max_clients_per_ip, greet_delay,
 * allow_address_literals), address literal parsing (relay/addr_literal.c)
 * and the spool check (relay/privsep.c privsep_spool_check) on real
 * directories in a private temporary directory.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "conf/conf.h"
#include "relay/addr_literal.h"
#include "relay/privsep.h"
#include "tests/unit/check.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

static char dir[64];

static struct conf *
load(const char *text)
{
	char path[128];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/t.conf", dir);
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
	return conf_load(path, NULL, NULL);
}

static void
test_keys(void)
{
	struct conf *c;

	c = load("hostname = relay.test\n");
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_STR(c->user, "danerelay");
	CHECK(c->group == NULL);
	CHECK_INT(c->max_clients_per_ip, 20);
	CHECK_INT(c->greet_delay_relay, 0);	/* relay clients: at once */
	CHECK_INT(c->greet_delay_other, 1);
	CHECK(!c->allow_address_literals);
	conf_free(c);

	c = load("hostname = relay.test\nuser = mail\ngroup = adm\n"
	    "max_clients_per_ip = 3\ngreet_delay = 5s\n"
	    "allow_address_literals = yes\n");
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_STR(c->user, "mail");
	CHECK_STR(c->group, "adm");
	CHECK_INT(c->max_clients_per_ip, 3);
	CHECK_INT(c->greet_delay_relay, 5);	/* written: for everyone */
	CHECK_INT(c->greet_delay_other, 5);
	CHECK(c->allow_address_literals);
	conf_free(c);

	c = load("hostname = relay.test\ngreet_delay = 0s\n");
	CHECK(c != NULL && c->greet_delay_other == 0 && c->greet_delay_relay == 0);
	conf_free(c);
	CHECK(load("hostname = relay.test\nmax_clients_per_ip = 0\n") == NULL);
	CHECK(load("hostname = relay.test\ngreet_delay = 1\n") == NULL);
	CHECK(load("hostname = relay.test\nuser =\n") == NULL);
}

static void
test_literals(void)
{
	struct dns_addr a;
	unsigned char v4[4] = { 192, 0, 2, 1 }, v6[16];

	CHECK(addr_literal_is("u@[192.0.2.1]"));
	CHECK(addr_literal_is("\"a@b\"@[IPv6:::1]"));
	CHECK(!addr_literal_is("u@example.org"));
	CHECK(!addr_literal_is("postmaster"));

	CHECK_INT(addr_literal_parse("[192.0.2.1]", &a), 0);
	CHECK_INT(a.family, AF_INET);
	CHECK(memcmp(a.addr, v4, 4) == 0);
	CHECK_INT(addr_literal_parse("[ipv6:2001:db8::1]", &a), 0);
	CHECK_INT(a.family, AF_INET6);
	inet_pton(AF_INET6, "2001:db8::1", v6);
	CHECK(memcmp(a.addr, v6, 16) == 0);
	CHECK_INT(addr_literal_parse("[2001:db8::1]", &a), -1);	/* tag needed */
	CHECK_INT(addr_literal_parse("[x-tag:stuff]", &a), -1);	/* general */
	CHECK_INT(addr_literal_parse("[192.0.2.256]", &a), -1);
	CHECK_INT(addr_literal_parse("[192.0.2.1", &a), -1);
	CHECK_INT(addr_literal_parse("192.0.2.1", &a), -1);
	CHECK_INT(addr_literal_parse("[]", &a), -1);
}

static mode_t
mode_of(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 ? st.st_mode & 07777 : 0;
}

static void
test_spool_check(void)
{
	char spool[128], p[256], err[512];
	unsigned fixed;
	int fd;

	snprintf(spool, sizeof(spool), "%s/spool", dir);
	/* missing: created 0700 */
	CHECK_INT(privsep_spool_check(spool, &fixed, err, sizeof(err)), 0);
	CHECK_INT(mode_of(spool), 0700);
	CHECK_INT(fixed, 0);

	/* looser read modes are tightened */
	snprintf(p, sizeof(p), "%s/msg", spool);
	CHECK_INT(mkdir(p, 0755), 0);
	chmod(p, 0755);
	snprintf(p, sizeof(p), "%s/msg/0VA1J8X5TB4K2QM", spool);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	CHECK(fd != -1);
	close(fd);
	chmod(p, 0644);
	chmod(spool, 0711);
	CHECK_INT(privsep_spool_check(spool, &fixed, err, sizeof(err)), 0);
	CHECK_INT(fixed, 3);
	CHECK_INT(mode_of(spool), 0700);
	CHECK_INT(mode_of(p), 0600);

	/* writable by group or others: refused, not fixed */
	chmod(spool, 0770);
	CHECK_INT(privsep_spool_check(spool, &fixed, err, sizeof(err)), -1);
	CHECK(strstr(err, "is writable by group or others (mode 0770)") != NULL);
	CHECK_INT(mode_of(spool), 0770);
	chmod(spool, 0700);
	snprintf(p, sizeof(p), "%s/msg", spool);
	chmod(p, 0703);
	CHECK_INT(privsep_spool_check(spool, &fixed, err, sizeof(err)), -1);
	CHECK(strstr(err, "/msg is writable by group or others") != NULL);
	chmod(p, 0700);

	/* a file of another user (only root can make one) */
	if (geteuid() == 0) {
		snprintf(p, sizeof(p), "%s/msg/0VA1J8X5TB4K2QM", spool);
		CHECK_INT(chown(p, 12345, 12345), 0);
		CHECK_INT(privsep_spool_check(spool, &fixed, err, sizeof(err)),
		    -1);
		CHECK(strstr(err, "belongs to uid 12345") != NULL);
		CHECK_INT(chown(p, 0, 0), 0);
	}
	/* a symbolic link is not followed */
	snprintf(p, sizeof(p), "%s/link", dir);
	CHECK_INT(symlink(spool, p), 0);
	CHECK_INT(privsep_spool_check(p, &fixed, err, sizeof(err)), -1);
	CHECK(strstr(err, "not a directory") != NULL);
	CHECK_INT(privsep_spool_check(spool, &fixed, err, sizeof(err)), 0);
}

int
main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/test_privsep.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_keys();
	test_literals();
	test_spool_check();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_done("test_privsep");
}
