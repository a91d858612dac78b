/*
 * tests/fuzz/fuzz_conf.c - the configuration parser (conf/conf.c, with
 * conf/value.c) on arbitrary files. conf_load() reads a path, so the input
 * goes into an in-memory file (memfd_create) opened as /proc/self/fd/N:
 * no disk, no change to the parser. Checked: a configuration comes back
 * exactly when no error was reported; every error message is one line of
 * printable text (values are quoted and escaped); a loaded configuration
 * answers conf_dest_for() and conf_client_allowed() and frees cleanly.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "conf/conf.h"
#include "tests/fuzz/fuzz.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static int memfd = -1;
static unsigned nerr;

static void
on_error(void *arg, const char *msg)
{
	const unsigned char *s = (const unsigned char *)msg;

	nerr++;
	for (; *s != '\0'; s++)
		FUZZ_ASSERT(*s >= 0x20 && *s != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const domains[] = { "example.org", "a.b.example.org",
	    "EXAMPLE.ORG.", "x", "" };
	const struct conf_domain *m, *e;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct conf *c;
	char path[64];
	size_t i;

	if (memfd == -1 && (memfd = memfd_create("fuzz_conf", 0)) == -1)
		abort();
	if (ftruncate(memfd, 0) == -1 || pwrite(memfd, data, size, 0) !=
	    (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	nerr = 0;
	c = conf_load(path, on_error, NULL);
	FUZZ_ASSERT((c == NULL) == (nerr > 0));
	if (c == NULL)
		return 0;
	for (i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
		struct conf_dest d = conf_dest_for(c, domains[i], time(NULL),
		    &m, &e);

		FUZZ_ASSERT(conf_tls_policy_name(d.tls_policy) != NULL);
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x7f000001);
	(void)conf_client_allowed(c, (struct sockaddr *)&sin);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.1", &sin6.sin6_addr);
	(void)conf_client_allowed(c, (struct sockaddr *)&sin6);
	conf_free(c);
	return 0;
}
