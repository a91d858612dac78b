/*
 * tests/unit/test_conf.c - conf/conf.c on real files written to a private
 * temporary directory: defaults, a file setting every key, each kind of
 * error with its exact "FILE:LINE: KEY: why" text (all of them, in order),
 * conf_dest_for specificity and expiry, conf_client_allowed for IPv4, IPv6
 * and IPv4-mapped clients.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "conf/conf.h"
#include "tests/unit/check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAXERR	32

struct errs {
	int	 n;
	char	 msg[MAXERR][1100];
};

static char dir[64];
static char path[128];

static void
collect(void *arg, const char *msg)
{
	struct errs *e = arg;

	if (e->n < MAXERR)
		snprintf(e->msg[e->n], sizeof(e->msg[0]), "%s", msg);
	e->n++;
}

static void
write_file(const char *p, const char *text)
{
	FILE *fp = fopen(p, "w");

	if (fp == NULL) {
		perror(p);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
}

/* Write text to $dir/test.conf and load it. */
static struct conf *
load(const char *text, struct errs *e)
{
	memset(e, 0, sizeof(*e));
	write_file(path, text);
	return conf_load(path, collect, e);
}

/* Each wanted error is "LINE: KEY: why"; the file name is prepended. */
static void
check_errors(int line, const char *text, const char *const *want)
{
	struct errs e;
	struct conf *c;
	char full[1200];
	int n, i;

	c = load(text, &e);
	for (n = 0; want[n] != NULL; n++)
		;
	if (c != NULL || e.n != n)
		fprintf(stderr, "%s:%d: config with %d errors:\n%s",
		    __FILE__, line, n, text);
	CHECK(c == NULL);
	CHECK_INT(e.n, n);
	for (i = 0; i < n && i < e.n && i < MAXERR; i++) {
		snprintf(full, sizeof(full), "%s:%s", path, want[i]);
		CHECK_STR(e.msg[i], full);
	}
	for (; i < e.n && i < MAXERR; i++)
		fprintf(stderr, "  unexpected: %s\n", e.msg[i]);
	conf_free(c);
}

static void
check_defaults(const struct conf *c)
{
	char buf[INET6_ADDRSTRLEN];

	CHECK_INT(c->nlisten, 1);
	CHECK_STR(c->listen[0].text, "127.0.0.1:10025");
	CHECK_INT(c->listen[0].ss.ss_family, AF_INET);
	CHECK(c->hostname != NULL && c->hostname[0] != '\0');
	CHECK_INT(c->nrelay_clients, 2);
	CHECK_INT(c->relay_clients[0].family, AF_INET);
	CHECK_INT(c->relay_clients[0].prefix, 8);
	CHECK_STR(inet_ntop(AF_INET, c->relay_clients[0].addr, buf,
	    sizeof(buf)), "127.0.0.0");
	CHECK_INT(c->relay_clients[1].family, AF_INET6);
	CHECK_INT(c->relay_clients[1].prefix, 128);
	CHECK_INT(c->max_message_size, 50 * 1024 * 1024);
	CHECK_STR(c->tls_cert_file, NULL);
	CHECK_STR(c->tls_key_file, NULL);
	CHECK_INT(c->max_recipients, 1000);
	CHECK_INT(c->max_errors, 10);
	CHECK_INT(c->max_clients, 1000);
	CHECK_INT(c->idle_timeout, 300);
	CHECK_INT(c->session_timeout, 1800);
	CHECK_STR(c->spool_dir, "/var/spool/danerelay");
	CHECK_INT(c->min_backoff, 300);
	CHECK_INT(c->max_backoff, 3600);
	CHECK_INT(c->max_queue_lifetime, 5 * 86400);
	CHECK_INT(c->dest.tls_policy, TLS_POLICY_DANE);
	CHECK_INT(c->dest.test_mode, 0);
	CHECK_INT(c->dest.remote_port, 25);
	CHECK_STR(c->resolver_config, NULL);
	CHECK_STR(c->trust_anchor_file, "/usr/share/dns/root.key");
	CHECK_INT(c->max_connections, 100);
	CHECK_INT(c->max_connections_per_domain, 10);
	CHECK_INT(c->max_mx_hosts, 5);
	CHECK_INT(c->max_mx_addresses, 10);
	CHECK_INT(c->connect_timeout, 30);
	CHECK_INT(c->greeting_timeout, 300);
	CHECK_INT(c->command_timeout, 300);
	CHECK_INT(c->data_timeout, 180);
	CHECK_INT(c->data_done_timeout, 600);
	CHECK_INT(c->max_messages_per_connection, 100);
	CHECK_INT(c->connection_reuse_time, 10);
	CHECK_STR(c->log_file, "-");
	CHECK_STR(c->acct_file, NULL);
	CHECK_INT(c->ndomains, 0);
}

static void
test_defaults(void)
{
	struct errs e;
	struct conf *c;

	memset(&e, 0, sizeof(e));
	c = conf_load(NULL, collect, &e);
	CHECK(c != NULL);
	CHECK_INT(e.n, 0);
	if (c != NULL)
		check_defaults(c);
	conf_free(c);

	/* an empty file and one of comments only are the defaults too */
	c = load("", &e);
	CHECK(c != NULL);
	if (c != NULL)
		check_defaults(c);
	conf_free(c);
	c = load("# nothing\n\n   \t\n  # indented comment\n", &e);
	CHECK(c != NULL);
	if (c != NULL)
		check_defaults(c);
	conf_free(c);

	/* the shipped example states every default */
	memset(&e, 0, sizeof(e));
	c = conf_load("conf/danerelay.conf.example", collect, &e);
	CHECK(c != NULL);
	CHECK_INT(e.n, 0);
	if (c != NULL)
		check_defaults(c);
	conf_free(c);
}

static void
test_full(void)
{
	char text[4096], cert[128], key[128], unb[128], ta[128];
	char buf[INET6_ADDRSTRLEN];
	struct errs e;
	struct conf *c;
	const struct sockaddr_in6 *sin6;

	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(unb, sizeof(unb), "%s/unbound.conf", dir);
	snprintf(ta, sizeof(ta), "%s/root.key", dir);
	write_file(cert, "cert\n");
	write_file(key, "key\n");
	write_file(unb, "server:\n");
	write_file(ta, ". DS 1 2 3 4\n");
	snprintf(text, sizeof(text),
	    "# every key set\r\n"
	    "listen = 127.0.0.2:2525 , [::1]:10026\r\n"
	    "hostname = Relay.Example.ORG.\n"
	    "relay_clients = 10.0.0.0/8,192.168.1.128/25, 2001:db8::/32\n"
	    "  max_message_size=10K\n"
	    "tls_cert_file = %s\n"
	    "tls_key_file = \"%s\"   # quoted\n"
	    "max_recipients = 50\n"
	    "max_errors = 3\n"
	    "max_clients = 20\n"
	    "idle_timeout = 90s\n"
	    "session_timeout = 2h\n"
	    "spool_dir = /tmp/spool#1   # a '#' inside a word stays\n"
	    "min_backoff = 1m\n"
	    "max_backoff = 1m\n"
	    "max_queue_lifetime = 2d\n"
	    "tls_policy = DANE-ONLY\n"
	    "test_mode = on\n"
	    "remote_port = 2525\n"
	    "resolver_config = %s\n"
	    "trust_anchor_file = %s\n"
	    "max_connections = 7\n"
	    "max_connections_per_domain = 2\n"
	    "max_mx_hosts = 3\n"
	    "max_mx_addresses = 4\n"
	    "connect_timeout = 5s\n"
	    "greeting_timeout = 6s\n"
	    "command_timeout = 7s\n"
	    "data_timeout = 8s\n"
	    "data_done_timeout = 9s\n"
	    "max_messages_per_connection = 11\n"
	    "connection_reuse_time = 0s\n"
	    "log_file = syslog\n"
	    "acct_file = /tmp/acct.csv\n"
	    "\n"
	    "[domain Partner.Example.]   # exact\n"
	    "tls_policy = may\n"
	    "until = 2030-12-31\n"
	    "reason = \"ticket #4711: bad TLSA\"\n"
	    "[ domain .partner.example ]\n"
	    "test_mode = no\n"
	    "remote_port = 25\n"
	    "reason = plain text, with a comma # and a comment\n",
	    cert, key, unb, ta);
	c = load(text, &e);
	CHECK(c != NULL);
	CHECK_INT(e.n, 0);
	if (c == NULL) {
		fprintf(stderr, "  first error: %s\n", e.msg[0]);
		return;
	}
	CHECK_INT(c->nlisten, 2);
	CHECK_STR(c->listen[0].text, "127.0.0.2:2525");
	CHECK_STR(c->listen[1].text, "[::1]:10026");
	sin6 = (const struct sockaddr_in6 *)&c->listen[1].ss;
	CHECK_INT(sin6->sin6_family, AF_INET6);
	CHECK_INT(ntohs(sin6->sin6_port), 10026);
	CHECK_STR(c->hostname, "relay.example.org");
	CHECK_INT(c->nrelay_clients, 3);
	CHECK_STR(inet_ntop(AF_INET, c->relay_clients[1].addr, buf,
	    sizeof(buf)), "192.168.1.128");
	CHECK_INT(c->relay_clients[1].prefix, 25);
	CHECK_INT(c->max_message_size, 10240);
	CHECK_STR(c->tls_cert_file, cert);
	CHECK_STR(c->tls_key_file, key);
	CHECK_INT(c->max_recipients, 50);
	CHECK_INT(c->max_errors, 3);
	CHECK_INT(c->max_clients, 20);
	CHECK_INT(c->idle_timeout, 90);
	CHECK_INT(c->session_timeout, 7200);
	CHECK_STR(c->spool_dir, "/tmp/spool#1");
	CHECK_INT(c->min_backoff, 60);
	CHECK_INT(c->max_backoff, 60);
	CHECK_INT(c->max_queue_lifetime, 2 * 86400);
	CHECK_INT(c->dest.tls_policy, TLS_POLICY_DANE_ONLY);
	CHECK_INT(c->dest.test_mode, 1);
	CHECK_INT(c->dest.remote_port, 2525);
	CHECK_STR(c->resolver_config, unb);
	CHECK_STR(c->trust_anchor_file, ta);
	CHECK_INT(c->max_connections, 7);
	CHECK_INT(c->max_connections_per_domain, 2);
	CHECK_INT(c->max_mx_hosts, 3);
	CHECK_INT(c->max_mx_addresses, 4);
	CHECK_INT(c->connect_timeout, 5);
	CHECK_INT(c->greeting_timeout, 6);
	CHECK_INT(c->command_timeout, 7);
	CHECK_INT(c->data_timeout, 8);
	CHECK_INT(c->data_done_timeout, 9);
	CHECK_INT(c->max_messages_per_connection, 11);
	CHECK_INT(c->connection_reuse_time, 0);
	CHECK_STR(c->log_file, "syslog");
	CHECK_STR(c->acct_file, "/tmp/acct.csv");
	CHECK_INT(c->ndomains, 2);
	if (c->ndomains == 2) {
		const struct conf_domain *d = &c->domains[0];

		CHECK_STR(d->name, "partner.example");
		CHECK_INT(d->subdomains, 0);
		CHECK_INT(d->set, CONF_SET_TLS_POLICY);
		CHECK_INT(d->dest.tls_policy, TLS_POLICY_MAY);
		CHECK_INT(d->until, 1924992000);	/* 2031-01-01T00:00:00Z */
		CHECK_STR(d->until_text, "2030-12-31");
		CHECK_STR(d->reason, "ticket #4711: bad TLSA");
		CHECK_STR(d->file, path);
		CHECK_INT(d->line, 36);
		d = &c->domains[1];
		CHECK_STR(d->name, "partner.example");
		CHECK_INT(d->subdomains, 1);
		CHECK_INT(d->set, CONF_SET_TEST_MODE | CONF_SET_REMOTE_PORT);
		CHECK_INT(d->dest.test_mode, 0);
		CHECK_INT(d->dest.remote_port, 25);
		CHECK_INT(d->until, 0);
		CHECK_STR(d->until_text, NULL);
		CHECK_STR(d->reason, "plain text, with a comma");
		CHECK_INT(d->line, 40);
	}
	conf_free(c);
}

#define ERR_LISTEN "expected a numeric IPv4 ADDRESS:PORT or [IPv6]:PORT (e.g. 127.0.0.1:10025, [::1]:10025)"
#define ERR_SECT "bad section header: expected [domain NAME] or [domain .NAME]"
#define ERR_INSECT "not allowed in a [domain] section (global keys go before the first section; a section may set tls_policy, test_mode, remote_port, until, reason)"

static void
test_errors(void)
{
	/* one kind of error each, then several at once */
	static const char *const unknown[] = {
		"2: foo: unknown key",
		"3: max_backof: unknown key (did you mean max_backoff?)",
		"4: TLS_POLICY: unknown key (did you mean tls_policy?)",
		NULL };
	static const char *const badval[] = {
		"1: listen: \"127.0.0.1\": " ERR_LISTEN,
		"2: min_backoff: \"5\": a duration needs a unit: s, m, h or d (e.g. 90s, 5m)",
		"3: max_message_size: \"10MB\": expected a size: a number of bytes, optionally with K, M or G (e.g. 50M)",
		"4: test_mode: \"1\": expected yes or no (or true/false, on/off)",
		"5: remote_port: \"0\": out of range, expected an integer from 1 to 65535",
		"6: relay_clients: \"10.1.2.3/8\": host bits set after the prefix (did you mean 10.0.0.0/8?)",
		"7: tls_policy: \"maybe\": expected a TLS policy: none, may, encrypt, dane or dane-only",
		"8: hostname: \"relay_1.example\": not a valid domain name (labels of letters, digits and inner hyphens, separated by dots; IDNs as xn-- A-labels)",
		"9: max_connections: \"0\": out of range, expected an integer from 1 to 1000000",
		"10: max_message_size: duplicate key (first set at line 3)",
		"11: idle_timeout: \"0s\": must be at least 1s",
		"12: spool_dir: empty value",
		NULL };
	static const char *const badval2[] = {
		"1: listen: \"127.0.0.1:25\" listed twice",
		"2: relay_clients: \"10.0.0.0/8,,::1\": empty item in a comma separated list",
		"3: log_file: unterminated quoted value",
		"4: acct_file: text after the closing quote",
		"5: max_queue_lifetime: \"99999999999999999999d\": duration too long (at most 4294967295s)",
		"6: max_message_size: \"0\": too small (at least 1)",
		NULL };
	static const char *const dup[] = {
		"3: min_backoff: duplicate key (first set at line 1)",
		"6: tls_policy: duplicate key (first set at line 5)",
		"9: reason: duplicate key (first set at line 8)",
		NULL };
	static const char *const where[] = {
		"1: until: only allowed in a [domain] section",
		"2: reason: only allowed in a [domain] section",
		"4: spool_dir: " ERR_INSECT,
		"5: listen: " ERR_INSECT,
		NULL };
	static const char *const malformed[] = {
		"1: this: malformed line: expected KEY = VALUE",
		"2: = x: malformed line: expected KEY = VALUE",
		"3: listen: malformed line: expected KEY = VALUE",
		"4: tls.policy: malformed line: expected KEY = VALUE",
		"5: \\xc3\\xa9t\\xc3\\xa9: malformed line: expected KEY = VALUE",
		NULL };
	static const char *const sections[] = {
		"1: [dom a.example]: " ERR_SECT,
		"2: [domain a b]: " ERR_SECT,
		"3: [domain]: " ERR_SECT,
		"4: [domain a.example: " ERR_SECT,
		"5: [domain a.example] x: " ERR_SECT,
		"6: [domain ex..com]: bad section header: \"ex..com\": not a valid domain name (labels of letters, digits and inner hyphens, separated by dots; IDNs as xn-- A-labels)",
		"7: [domain ..com]: bad section header: \".com\": not a valid domain name (labels of letters, digits and inner hyphens, separated by dots; IDNs as xn-- A-labels)",
		"8: spool_dir: " ERR_INSECT,
		"10: [domain A.example.]: duplicate section (first at line 9)",
		"13: [domain .a.example]: duplicate section (first at line 12)",
		NULL };
	static const char *const domkeys[] = {
		"2: until: \"2023-02-29\": no such date (expected YYYY-MM-DD, year 1970 or later)",
		"3: remote_port: \"65536\": out of range, expected an integer from 1 to 65535",
		"4: reason: empty value: expected a short text to log while the section applies",
		"5: until: duplicate key (first set at line 2)",
		"7: until: \"31.12.2030\": expected a date YYYY-MM-DD",
		"9: max_message_size: " ERR_INSECT,
		NULL };
	static const char *const cross[] = {
		"2: min_backoff: min_backoff (7200s) is longer than max_backoff (3600s)",
		NULL };
	static const char *const cross2[] = {
		"1: max_backoff: min_backoff (300s) is longer than max_backoff (60s)",
		NULL };
	static const char *const nocascade[] = {
		"1: trust_anchor_file: empty value",
		"2: tls_cert_file: empty value",
		"4: min_backoff: \"2x\": expected a duration: a number and a unit s, m, h or d (e.g. 90s, 5m, 1h, 5d)",
		"3: tls_key_file: cannot read /nonexistent/key.pem: No such file or directory",
		NULL };
	static const char *const ctrl[] = {
		"2: reason: \"tab\\x09here\": control character in the text",
		NULL };
	/* a path's control octets are escaped in the message (fuzz_conf) */
	static const char *const ctrlpath[] = {
		"1: trust_anchor_file: cannot read /nonexistent/k\\x01ey\\x1b[2J.key: No such file or directory",
		NULL };
	static const char *const three[] = {
		"2: bogus: unknown key",
		"4: max_backoff: \"1\": a duration needs a unit: s, m, h or d (e.g. 90s, 5m)",
		"7: spool_dir: " ERR_INSECT,
		NULL };

	check_errors(__LINE__,
	    "listen = 127.0.0.1:25\n"
	    "foo = bar\n"
	    "max_backof = 1h\n"
	    "TLS_POLICY = may\n", unknown);
	check_errors(__LINE__,
	    "listen = 127.0.0.1\n"
	    "min_backoff = 5\n"
	    "max_message_size = 10MB\n"
	    "test_mode = 1\n"
	    "remote_port = 0\n"
	    "relay_clients = 10.1.2.3/8, ::1\n"
	    "tls_policy = maybe\n"
	    "hostname = relay_1.example\n"
	    "max_connections = 0\n"
	    "max_message_size = 0\n"
	    "idle_timeout = 0s\n"
	    "spool_dir =   # nothing\n", badval);
	check_errors(__LINE__,
	    "listen = 127.0.0.1:25, 127.0.0.1:25\n"
	    "relay_clients = 10.0.0.0/8,,::1\n"
	    "log_file = \"/tmp/x\n"
	    "acct_file = \"/tmp/x\" y\n"
	    "max_queue_lifetime = 99999999999999999999d\n"
	    "max_message_size = 0\n", badval2);
	check_errors(__LINE__,
	    "min_backoff = 1m\n"
	    "max_backoff = 1h\n"
	    "min_backoff = 2m\n"
	    "[domain a.example]\n"
	    "tls_policy = may\n"
	    "tls_policy = none\n"
	    "[domain b.example]\n"
	    "reason = a\n"
	    "reason = b\n"
	    "[domain c.example]\n"
	    "tls_policy = may\n"	/* not a duplicate: new section */
	    "reason = c\n", dup);
	check_errors(__LINE__,
	    "until = 2030-01-01\n"
	    "reason = why\n"
	    "[domain a.example]\n"
	    "spool_dir = /tmp\n"
	    "listen = 127.0.0.1:25\n", where);
	check_errors(__LINE__,
	    "this is junk\n"
	    "= x\n"
	    "listen\n"
	    "tls.policy = may\n"
	    "\xc3\xa9t\xc3\xa9 = 1\n", malformed);
	check_errors(__LINE__,
	    "[dom a.example]\n"
	    "[domain a b]\n"
	    "[domain]\n"
	    "[domain a.example\n"
	    "[domain a.example] x\n"
	    "[domain ex..com]\n"
	    "[domain ..com]\n"
	    "spool_dir = /x\n"	/* still inside a (broken) section */
	    "[domain a.example]\n"
	    "[domain A.example.]\n"
	    "[domain b.a.example]\n"	/* exact and .suffix differ */
	    "[domain .a.example]\n"
	    "[domain .a.example]   # comment\n", sections);
	check_errors(__LINE__,
	    "[domain a.example]\n"
	    "until = 2023-02-29\n"
	    "remote_port = 65536\n"
	    "reason = \"\"\n"
	    "until = 2030-01-01\n"
	    "[domain b.example]\n"
	    "until = 31.12.2030\n"
	    "[domain c.example]\n"
	    "max_message_size = 0\n", domkeys);
	check_errors(__LINE__,
	    "max_backoff = 1h\n"
	    "min_backoff = 2h\n", cross);
	check_errors(__LINE__,
	    "max_backoff = 1m\n", cross2);
	/* a bad value gives one error, no follow-up from the cross checks */
	check_errors(__LINE__,
	    "trust_anchor_file =\n"
	    "tls_cert_file = \"\"\n"
	    "tls_key_file = /nonexistent/key.pem\n"
	    "min_backoff = 2x\n"
	    "max_backoff = 1m\n", nocascade);
	check_errors(__LINE__,
	    "[domain a.example]\n"
	    "reason = \"tab\there\"\n", ctrl);
	check_errors(__LINE__,
	    "trust_anchor_file = /nonexistent/k\001ey\033[2J.key\n", ctrlpath);
	check_errors(__LINE__,
	    "listen = 127.0.0.1:10025\n"
	    "bogus = 1\n"
	    "# fine\n"
	    "max_backoff = 1\n"
	    "[domain x.example]\n"
	    "tls_policy = none\n"
	    "spool_dir = /tmp\n", three);
}

static void
test_file_errors(void)
{
	char text[512], missing[128], p2[128];
	struct errs e;
	struct conf *c;

	/* unreadable configuration file: "FILE: why" */
	snprintf(missing, sizeof(missing), "%s/nonexistent.conf", dir);
	memset(&e, 0, sizeof(e));
	c = conf_load(missing, collect, &e);
	CHECK(c == NULL);
	CHECK_INT(e.n, 1);
	snprintf(text, sizeof(text), "%s: cannot open: No such file or "
	    "directory", missing);
	CHECK_STR(e.msg[0], text);
	memset(&e, 0, sizeof(e));
	c = conf_load(dir, collect, &e);
	CHECK(c == NULL);
	CHECK_INT(e.n, 1);
	snprintf(text, sizeof(text), "%s: read error: Is a directory", dir);
	CHECK_STR(e.msg[0], text);

	/* files that must be readable, each named with its line */
	snprintf(p2, sizeof(p2), "%s/cert.pem", dir);
	write_file(p2, "x\n");
	snprintf(text, sizeof(text),
	    "tls_cert_file = %s\n"
	    "tls_key_file = %s\n"
	    "resolver_config = %s/none\n"
	    "trust_anchor_file = %s\n",
	    p2, missing, dir, dir);
	c = load(text, &e);
	CHECK(c == NULL);
	CHECK_INT(e.n, 3);
	snprintf(text, sizeof(text), "%s:2: tls_key_file: cannot read %s: "
	    "No such file or directory", path, missing);
	CHECK_STR(e.msg[0], text);
	snprintf(text, sizeof(text), "%s:3: resolver_config: cannot read "
	    "%s/none: No such file or directory", path, dir);
	CHECK_STR(e.msg[1], text);
	snprintf(text, sizeof(text), "%s:4: trust_anchor_file: %s is not a "
	    "regular file", path, dir);
	CHECK_STR(e.msg[2], text);

	/* cert without key and key without cert */
	snprintf(text, sizeof(text), "\ntls_cert_file = %s\n", p2);
	c = load(text, &e);
	CHECK(c == NULL);
	CHECK_INT(e.n, 1);
	snprintf(text, sizeof(text), "%s:2: tls_cert_file: set without "
	    "tls_key_file", path);
	CHECK_STR(e.msg[0], text);
	snprintf(text, sizeof(text), "tls_key_file = %s\n", p2);
	c = load(text, &e);
	CHECK(c == NULL);
	CHECK_INT(e.n, 1);
	snprintf(text, sizeof(text), "%s:1: tls_key_file: set without "
	    "tls_cert_file", path);
	CHECK_STR(e.msg[0], text);
}

static void
test_lines(void)
{
	char text[8192];
	struct errs e;
	struct conf *c;
	FILE *fp;

	/* a NUL byte and an over-long line are errors; parsing goes on */
	fp = fopen(path, "w");
	CHECK(fp != NULL);
	if (fp == NULL)
		return;
	fputs("tls_policy = may\n", fp);
	fwrite("spool_dir = /a\0b\n", 1, 17, fp);
	fputs("log_file = /", fp);
	memset(text, 'x', 5000);
	fwrite(text, 1, 5000, fp);
	fputs("\nmax_errors = x\n", fp);
	fputs("max_clients = 5", fp);		/* no final newline */
	fclose(fp);
	memset(&e, 0, sizeof(e));
	c = conf_load(path, collect, &e);
	CHECK(c == NULL);
	CHECK_INT(e.n, 3);
	snprintf(text, sizeof(text), "%s:2: NUL byte in line", path);
	CHECK_STR(e.msg[0], text);
	snprintf(text, sizeof(text), "%s:3: line longer than 4096 octets",
	    path);
	CHECK_STR(e.msg[1], text);
	snprintf(text, sizeof(text), "%s:4: max_errors: \"x\": expected an "
	    "integer from 1 to 1000000", path);
	CHECK_STR(e.msg[2], text);

	/* the last line needs no newline; errfn NULL is allowed */
	c = load("max_clients = 5", &e);
	CHECK(c != NULL);
	if (c != NULL)
		CHECK_INT(c->max_clients, 5);
	conf_free(c);
	write_file(path, "max_clients = 5\n");
	c = conf_load(path, NULL, NULL);
	CHECK(c != NULL);
	conf_free(c);
}

/* 2020-01-01T00:00:00Z */
#define T2020	1577836800

static void
test_dest_for(void)
{
	static const char text[] =
	    "tls_policy = dane\n"
	    "remote_port = 25\n"
	    "[domain example.com]\n"		/* 3 */
	    "tls_policy = may\n"
	    "[domain .example.com]\n"		/* 5 */
	    "tls_policy = encrypt\n"
	    "[domain .sub.example.com]\n"	/* 7 */
	    "tls_policy = dane-only\n"
	    "remote_port = 2525\n"
	    "[domain old.example.com]\n"	/* 10 */
	    "tls_policy = none\n"
	    "until = 2020-01-01\n"
	    "reason = legacy\n"
	    "[domain .com]\n"			/* 14 */
	    "test_mode = yes\n"
	    "[domain .org]\n"			/* 16 */
	    "tls_policy = none\n"
	    "until = 2019-06-30\n"
	    "[domain x.org]\n"			/* 19 */
	    "remote_port = 587\n"
	    "[domain .net]\n"			/* 21 */
	    "tls_policy = may\n"
	    "[domain .a.net]\n"			/* 23 */
	    "tls_policy = none\n"
	    "until = 2019-12-31\n";
	static const struct {
		const char *domain;
		long long now;
		enum tls_policy policy;
		int test_mode;
		unsigned port;
		int matched;		/* line of the section, 0: none */
		int expired;		/* line of the section, 0: none */
	} t[] = {
		/* no section: the globals */
		{ "other.org.uk", T2020, TLS_POLICY_DANE, 0, 25, 0, 0 },
		{ "example.net.uk", T2020, TLS_POLICY_DANE, 0, 25, 0, 0 },
		/* ... but an expired one that matches is reported */
		{ "example.net.org", T2020, TLS_POLICY_DANE, 0, 25, 0, 16 },
		/* exact beats .suffix */
		{ "example.com", T2020, TLS_POLICY_MAY, 0, 25, 3, 0 },
		{ "EXAMPLE.Com.", T2020, TLS_POLICY_MAY, 0, 25, 3, 0 },
		/* .suffix matches strict subdomains only; longer wins */
		{ "a.example.com", T2020, TLS_POLICY_ENCRYPT, 0, 25, 5, 0 },
		{ "sub.example.com", T2020, TLS_POLICY_ENCRYPT, 0, 25, 5, 0 },
		{ "a.sub.example.com", T2020, TLS_POLICY_DANE_ONLY, 0, 2525, 7, 0 },
		{ "a.b.sub.example.com", T2020, TLS_POLICY_DANE_ONLY, 0, 2525, 7, 0 },
		{ "xexample.com", T2020, TLS_POLICY_DANE, 1, 25, 14, 0 },
		{ "com", T2020, TLS_POLICY_DANE, 0, 25, 0, 0 },
		/* only the keys a section sets are overridden */
		{ "foo.com", T2020, TLS_POLICY_DANE, 1, 25, 14, 0 },
		/* until: applies through the whole day, UTC */
		{ "old.example.com", T2020 - 1, TLS_POLICY_NONE, 0, 25, 10, 0 },
		{ "old.example.com", T2020 + 86399, TLS_POLICY_NONE, 0, 25, 10, 0 },
		{ "old.example.com", T2020 + 86400, TLS_POLICY_ENCRYPT, 0, 25, 5, 10 },
		{ "old.example.com", T2020 + 86400 * 365, TLS_POLICY_ENCRYPT, 0, 25, 5, 10 },
		/* an expired section that would not have won is no news */
		{ "x.org", T2020, TLS_POLICY_DANE, 0, 587, 19, 0 },
		{ "y.org", T2020, TLS_POLICY_DANE, 0, 25, 0, 16 },
		{ "b.a.net", T2020, TLS_POLICY_MAY, 0, 25, 21, 23 },
		{ "b.a.net", T2020 - 1, TLS_POLICY_NONE, 0, 25, 23, 0 },
		{ "a.net", T2020, TLS_POLICY_MAY, 0, 25, 21, 0 },
	};
	const struct conf_domain *m, *x;
	struct conf_dest d;
	struct errs e;
	struct conf *c;
	size_t i;

	c = load(text, &e);
	CHECK(c != NULL);
	if (c == NULL) {
		fprintf(stderr, "  first error: %s\n", e.msg[0]);
		return;
	}
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		m = x = (const void *)1;
		d = conf_dest_for(c, t[i].domain, (time_t)t[i].now, &m, &x);
		if (d.tls_policy != t[i].policy ||
		    (m ? m->line : 0) != t[i].matched ||
		    (x ? x->line : 0) != t[i].expired)
			fprintf(stderr, "  row %zu: %s at %lld\n", i,
			    t[i].domain, t[i].now);
		CHECK_STR(conf_tls_policy_name(d.tls_policy),
		    conf_tls_policy_name(t[i].policy));
		CHECK_INT(d.test_mode, t[i].test_mode);
		CHECK_INT(d.remote_port, t[i].port);
		CHECK_INT(m != NULL ? m->line : 0, t[i].matched);
		CHECK_INT(x != NULL ? x->line : 0, t[i].expired);
	}
	/* reason and until_text reach the caller for its log line */
	d = conf_dest_for(c, "old.example.com", T2020, &m, NULL);
	CHECK(m != NULL);
	if (m != NULL) {
		CHECK_STR(m->reason, "legacy");
		CHECK_STR(m->until_text, "2020-01-01");
	}
	/* matched and expired may be NULL */
	d = conf_dest_for(c, "a.sub.example.com", T2020, NULL, NULL);
	CHECK_INT(d.tls_policy, TLS_POLICY_DANE_ONLY);
	conf_free(c);
}

static int
allowed(const struct conf *c, const char *addr)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
		sin.sin_family = AF_INET;
		return conf_client_allowed(c, (struct sockaddr *)&sin);
	}
	if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1) {
		sin6.sin6_family = AF_INET6;
		return conf_client_allowed(c, (struct sockaddr *)&sin6);
	}
	fprintf(stderr, "bad test address %s\n", addr);
	return -1;
}

static void
test_client_allowed(void)
{
	static const struct {
		const char *addr;
		int want;
	} t[] = {
		{ "10.1.2.3", 1 },
		{ "10.255.255.255", 1 },
		{ "11.0.0.1", 0 },
		{ "9.255.255.255", 0 },
		{ "192.168.1.128", 1 },
		{ "192.168.1.255", 1 },
		{ "192.168.1.127", 0 },
		{ "192.0.2.7", 1 },		/* a bare host */
		{ "192.0.2.8", 0 },
		{ "172.16.5.5", 1 },		/* via the ::ffff: entry */
		{ "172.32.0.1", 0 },
		{ "2001:db8::1", 1 },
		{ "2001:db8:ffff::", 1 },
		{ "2001:db9::", 0 },
		{ "::1", 1 },
		{ "::2", 0 },
		{ "fe80::1", 0 },
		{ "::ffff:10.9.9.9", 1 },	/* mapped client, v4 entry */
		{ "::ffff:192.168.1.200", 1 },
		{ "::ffff:192.168.1.1", 0 },
		{ "::ffff:11.0.0.1", 0 },
		{ "::10.9.9.9", 0 },		/* compatible, not mapped */
		{ "::ffff:172.16.0.1", 1 },
	};
	static const struct {
		const char *addr;
		int want;
	} all4[] = {
		{ "1.2.3.4", 1 }, { "255.255.255.255", 1 },
		{ "::ffff:1.2.3.4", 1 }, { "2001:db8::1", 0 }, { "::1", 0 },
	};
	struct sockaddr_un sun;
	struct errs e;
	struct conf *c;
	size_t i;

	c = load("relay_clients = 10.0.0.0/8, 192.168.1.128/25, 192.0.2.7, "
	    "2001:db8::/32, ::1, ::ffff:172.16.0.0/108\n", &e);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (allowed(c, t[i].addr) != t[i].want)
			fprintf(stderr, "  client %s\n", t[i].addr);
		CHECK_INT(allowed(c, t[i].addr), t[i].want);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	CHECK_INT(conf_client_allowed(c, (struct sockaddr *)&sun), 0);
	conf_free(c);

	c = load("relay_clients = 0.0.0.0/0\n", &e);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	for (i = 0; i < sizeof(all4) / sizeof(all4[0]); i++)
		CHECK_INT(allowed(c, all4[i].addr), all4[i].want);
	conf_free(c);

	/* the default: loopback only */
	c = conf_load(NULL, NULL, NULL);
	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_INT(allowed(c, "127.0.0.1"), 1);
	CHECK_INT(allowed(c, "127.255.0.9"), 1);
	CHECK_INT(allowed(c, "::1"), 1);
	CHECK_INT(allowed(c, "::ffff:127.0.0.1"), 1);
	CHECK_INT(allowed(c, "128.0.0.1"), 0);
	CHECK_INT(allowed(c, "192.0.2.1"), 0);
	CHECK_INT(allowed(c, "2001:db8::1"), 0);
	conf_free(c);
}

static void
cleanup(void)
{
	char p[160];
	static const char *const files[] = { "test.conf", "cert.pem",
	    "key.pem", "unbound.conf", "root.key" };
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
}

int
main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_conf.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/test.conf", dir);
	test_defaults();
	test_full();
	test_errors();
	test_file_errors();
	test_lines();
	test_dest_for();
	test_client_allowed();
	cleanup();
	return check_done("test_conf");
}
