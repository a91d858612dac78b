/*
 * tests/unit/check.h - a tiny assertion kit for the C unit tests. Each
 * CHECK prints "file:line: expr: got X, want Y" on failure and counts;
 * check_done() prints "N passed, N failed" for the binary and returns the
 * exit status.
 */
#ifndef TESTS_CHECK_H
#define TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

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

static inline int
check_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
