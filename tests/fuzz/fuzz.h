/*
 * tests/fuzz/fuzz.h - shared by the libFuzzer targets (tests/fuzz/fuzz_*.c):
 * the entry point's prototype (the build uses -Wmissing-prototypes) and a
 * check that aborts, so that libFuzzer records the input as a crash when
 * a target's own invariant fails, not only when a sanitizer fires.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef TESTS_FUZZ_H
#define TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_ASSERT(e) do {						\
	if (!(e)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #e);				\
		abort();						\
	}								\
} while (0)

#endif
