/*
 * relay/version.c - `danerelay -V`. The run-time versions come from the
 * libraries themselves, not from their headers: after a security update of
 * a shared library the binary is not rebuilt, and the operator wants to
 * know which code actually runs.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/version.h"

#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <unbound.h>

#define STR_(x)	#x
#define STR(x)	STR_(x)
#define UNBOUND_BUILT	STR(UNBOUND_VERSION_MAJOR) "." \
			STR(UNBOUND_VERSION_MINOR) "." STR(UNBOUND_VERSION_MICRO)

/* name NULL: the version text names the library itself (OpenSSL's does) */
static void
lib_line(FILE *fp, const char *name, const char *running, const char *built)
{
	if (name != NULL)
		fprintf(fp, "%s ", name);
	if (strcmp(running, built) == 0)
		fprintf(fp, "%s\n", running);
	else
		fprintf(fp, "%s (built with %s)\n", running, built);
}

void
version_print(FILE *fp)
{
	fprintf(fp, "danerelay %s\n", DANERELAY_VERSION);
	lib_line(fp, NULL, OpenSSL_version(OPENSSL_VERSION),
	    OPENSSL_VERSION_TEXT);
	lib_line(fp, "libunbound", ub_version(), UNBOUND_BUILT);
	lib_line(fp, "libevent", event_get_version(), LIBEVENT_VERSION);
}
