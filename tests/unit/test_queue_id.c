/*
 * tests/unit/test_queue_id.c - queue ids: unique and strictly increasing
 * over a fast burst, safe characters, time round trip, floor across a
 * simulated restart, and validation.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "queue/queue_id.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N	100000

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
main(void)
{
	struct queue_idgen	 g, g2;
	char			(*ids)[QUEUE_ID_MAX];
	uint64_t		 us, got, now;
	struct timespec		 ts;
	size_t			 i, j;
	int			 bad_chars = 0, not_increasing = 0, bad_time = 0;

	ids = calloc(N, sizeof(*ids));
	CHECK(ids != NULL);
	queue_id_init(&g);
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	for (i = 0; i < N; i++) {
		us = queue_id_next(&g, ids[i]);
		if (queue_id_time(ids[i], &got) == -1 || got != us)
			bad_time++;
		for (j = 0; ids[i][j] != '\0'; j++)
			if (strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ",
			    ids[i][j]) == NULL)
				bad_chars++;
		if (strlen(ids[i]) != QUEUE_ID_LEN || !queue_id_valid(ids[i]))
			bad_chars++;
		/* Sortable: strcmp order is issue order, so all distinct. */
		if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
			not_increasing++;
	}
	CHECK_INT(bad_chars, 0);
	CHECK_INT(not_increasing, 0);
	CHECK_INT(bad_time, 0);
	/* The time part is the clock (give or take the burst bump). */
	CHECK(queue_id_time(ids[0], &got) == 0 && got >= now &&
	    got < now + 10 * 1000000u);

	/* Uniqueness for real: sorted copy has no neighbours alike. */
	qsort(ids, N, sizeof(*ids), id_cmp);
	for (i = 1, j = 0; i < N; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			j++;
	CHECK_INT(j, 0);

	/* Restart with a clock that went back: the floor keeps ids rising. */
	queue_id_init(&g2);
	queue_id_floor(&g2, got + 3600u * 1000000u);
	{
		char a[QUEUE_ID_MAX], b[QUEUE_ID_MAX];
		uint64_t ua;

		ua = queue_id_next(&g2, a);
		CHECK(ua == got + 3600u * 1000000u + 1);
		queue_id_next(&g2, b);
		CHECK(strcmp(a, b) < 0);
		CHECK(strcmp(ids[N - 1], a) < 0);
	}

	/* Validation: exact length, alphabet only (no path tricks). */
	CHECK(!queue_id_valid(NULL));
	CHECK(!queue_id_valid(""));
	CHECK(!queue_id_valid("../../etc/pass"));
	CHECK(!queue_id_valid("0VA1J8X5TB4K2Q"));	/* 14 */
	CHECK(!queue_id_valid("0VA1J8X5TB4K2QMM"));	/* 16 */
	CHECK(!queue_id_valid("0VA1J8X5TB4K2QI"));	/* I not in alphabet */
	CHECK(!queue_id_valid("0va1j8x5tb4k2qm"));	/* lower case */
	CHECK(!queue_id_valid("0VA1J8X5TB4K2Q."));
	CHECK(queue_id_valid("0VA1J8X5TB4K2QM"));
	CHECK(queue_id_time("nope", &got) == -1);

	free(ids);
	return check_done("test_queue_id");
}
