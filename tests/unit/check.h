/*
 * tests/unit/check.h - a tiny assertion kit for the C unit tests. Each
 * CHECK prints "file:line: expr: got X, want Y" on failure and counts;
 * check_skip() records a case that cannot run here and why ("SKIP: why",
 * which tests/run shows); check_done() prints "N passed, N failed, N
 * skipped" for the binary and returns the exit status: 1 if a check
 * failed, else 77 if a case was skipped (tests/run counts the binary as
 * skipped, as automake does), else 0.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef TESTS_CHECK_H
#define TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_passed, check_failed, check_skipped;

#define CHECK(expr) do {						\
	if (expr) check_passed++;					\
	else { check_failed++;						\
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n",		\
		    __FILE__, __LINE__, #expr); }			\
} while (0)

#define CHECK_INT(got, want) do {					\
	long long g_ = (long long)(got), w_ = (long long)(want);	\
	if (g_ == w_) check_passed++;					\
	else { check_failed++;						\
		fprintf(stderr, "%s:%d: %s: got %lld, want %lld\n",	\
		    __FILE__, __LINE__, #got, g_, w_); }		\
} while (0)

#define CHECK_STR(got, want) do {					\
	const char *g_ = (got), *w_ = (want);				\
	if (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0)		\
		check_passed++;						\
	else if (g_ == NULL && w_ == NULL) check_passed++;		\
	else { check_failed++;						\
		fprintf(stderr, "%s:%d: %s: got \"%s\", want \"%s\"\n",	\
		    __FILE__, __LINE__, #got, g_ ? g_ : "(null)",	\
		    w_ ? w_ : "(null)"); }				\
} while (0)

/* A case that cannot run here: say why; never counted as passed. */
static inline void
check_skip(const char *why)
{
	check_skipped++;
	printf("SKIP: %s\n", why);
	fflush(stdout);
}

static inline int
check_done(const char *name)
{
	printf("%s: %d passed, %d failed, %d skipped\n", name, check_passed,
	    check_failed, check_skipped);
	if (check_failed)
		return 1;
	return check_skipped ? 77 : 0;
}

#endif
