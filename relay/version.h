/*
 * relay/version.h - the one place the release version is written. The
 * Makefile reads it for `make dist`-style names; `danerelay -V` prints it
 * with the versions of the libraries in use at run time.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_VERSION_H
#define RELAY_VERSION_H

#include <stdio.h>

#define DANERELAY_VERSION	"0.9.0"

/*
 * Print "danerelay VERSION" and one line per library: the version loaded
 * at run time (OpenSSL_version, ub_version, event_get_version) and, when it
 * differs, the one the binary was built against.
 */
void	version_print(FILE *);

#endif
