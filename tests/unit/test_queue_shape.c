/*
 * tests/unit/test_queue_shape.c - `queue shape` counting
 * (relay/queue_shape.c): qshape's age buckets at their boundaries (5
 * minutes exactly, one second more, over 1280 minutes, an arrival in the
 * future), only open recipients counted, domains folded to lower case (and
 * a trailing dot dropped) as the scheduler groups them, rows sorted by
 * count then by name, and recipients of held messages counted both in
 * their buckets and in the held column.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "queue/queue.h"
#include "relay/queue_shape.h"
#include "tests/unit/check.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NOW	((time_t)1800000000)

static void
test_buckets(void)
{
	CHECK_STR(shape_bucket_label[0], "5");
	CHECK_STR(shape_bucket_label[8], "1280");
	CHECK_STR(shape_bucket_label[9], "1280+");
	CHECK_INT(queue_shape_bucket(NOW, NOW), 0);
	CHECK_INT(queue_shape_bucket(NOW + 3600, NOW), 0);	/* future: age 0 */
	CHECK_INT(queue_shape_bucket(NOW - 300, NOW), 0);	/* 5 min exactly */
	CHECK_INT(queue_shape_bucket(NOW - 301, NOW), 1);	/* 5 min + 1 s */
	CHECK_INT(queue_shape_bucket(NOW - 600, NOW), 1);
	CHECK_INT(queue_shape_bucket(NOW - 601, NOW), 2);
	CHECK_INT(queue_shape_bucket(NOW - 40 * 60, NOW), 3);
	CHECK_INT(queue_shape_bucket(NOW - 640 * 60 - 1, NOW), 8);
	CHECK_INT(queue_shape_bucket(NOW - 1280 * 60, NOW), 8);
	CHECK_INT(queue_shape_bucket(NOW - 1280 * 60 - 1, NOW), 9);
	CHECK_INT(queue_shape_bucket(NOW - 30 * 86400, NOW), 9);
	CHECK_INT(queue_shape_bucket(0, NOW), 9);
}

/* A message that arrived age seconds before NOW, to rcpts (state given by
 * a leading 'd' delivered, 'b' bounced, 'f' deferred, else pending). */
static struct queue_envelope *
env_new(time_t age, bool held, const char *const *rcpts)
{
	struct queue_envelope *e = calloc(1, sizeof(*e));
	size_t i, n = 0;

	while (rcpts[n] != NULL)
		n++;
	e->arrival = NOW - age;
	e->held = held;
	e->nrcpts = n;
	e->rcpts = calloc(n, sizeof(*e->rcpts));
	for (i = 0; i < n; i++) {
		switch (rcpts[i][0]) {
		case 'd': e->rcpts[i].state = RCPT_DELIVERED; break;
		case 'b': e->rcpts[i].state = RCPT_BOUNCED; break;
		case 'f': e->rcpts[i].state = RCPT_DEFERRED; break;
		default: e->rcpts[i].state = RCPT_PENDING; break;
		}
		e->rcpts[i].addr = strdup(rcpts[i] + 1);
	}
	return e;
}

static void
env_free(struct queue_envelope *e)
{
	size_t i;

	for (i = 0; i < e->nrcpts; i++)
		free(e->rcpts[i].addr);
	free(e->rcpts);
	free(e);
}

static void
add(struct queue_shape *s, time_t age, bool held, const char *const *rcpts)
{
	struct queue_envelope *e = env_new(age, held, rcpts);

	queue_shape_add(s, e);
	env_free(e);
}

static const struct shape_row *
row(const struct queue_shape *s, const char *domain)
{
	size_t i;

	for (i = 0; i < s->nrows; i++)
		if (strcmp(s->rows[i].domain, domain) == 0)
			return &s->rows[i];
	return NULL;
}

static void
test_shape(void)
{
	struct queue_shape s;
	const struct shape_row *r;

	queue_shape_init(&s, NOW);
	CHECK_INT(s.total.total, 0);
	CHECK_STR(s.total.domain, "TOTAL");

	/* b.example: 3 recipients, any case, one with a trailing dot */
	add(&s, 0, false, (const char *const[]){ "pr1@b.example",
	    "fr2@B.Example", NULL });
	add(&s, 301, false, (const char *const[]){ "pr3@b.EXAMPLE.", NULL });
	/* a.example: 3 recipients (ties with b: by name), one held, the
	 * delivered and bounced ones not counted */
	add(&s, 300, true, (const char *const[]){ "pr@a.example",
	    "dx@a.example", "by@a.example", NULL });
	add(&s, 1280 * 60 + 1, false, (const char *const[]){ "fr@a.example",
	    "fr2@A.example", NULL });
	/* c.example: 4, future arrival and one very old */
	add(&s, -600, false, (const char *const[]){ "pq@c.example", NULL });
	add(&s, 86400 * 3, true, (const char *const[]){ "fq1@c.example",
	    "fq2@c.example", "pq3@c.example", NULL });
	/* z.example: 1, the last row */
	add(&s, 45 * 60, false, (const char *const[]){ "pz@z.example",
	    "dz2@y.example", NULL });
	/* a message with nothing open: no row for its domain */
	add(&s, 0, false, (const char *const[]){ "dq@only-done.example",
	    NULL });

	CHECK_INT(s.nrows, 4);
	CHECK(row(&s, "only-done.example") == NULL);
	CHECK(row(&s, "y.example") == NULL);
	CHECK(row(&s, "B.Example") == NULL);

	queue_shape_sort(&s);
	CHECK_STR(s.rows[0].domain, "c.example");
	CHECK_STR(s.rows[1].domain, "a.example");
	CHECK_STR(s.rows[2].domain, "b.example");
	CHECK_STR(s.rows[3].domain, "z.example");

	r = row(&s, "c.example");
	CHECK_INT(r->total, 4);
	CHECK_INT(r->bucket[0], 1);		/* the future arrival */
	CHECK_INT(r->bucket[9], 3);
	CHECK_INT(r->held, 3);

	r = row(&s, "a.example");
	CHECK_INT(r->total, 3);
	CHECK_INT(r->bucket[0], 1);		/* 5 minutes exactly */
	CHECK_INT(r->bucket[9], 2);		/* 1280 minutes + 1 s */
	CHECK_INT(r->held, 1);

	r = row(&s, "b.example");
	CHECK_INT(r->total, 3);
	CHECK_INT(r->bucket[0], 2);
	CHECK_INT(r->bucket[1], 1);		/* 5 minutes + 1 s */
	CHECK_INT(r->held, 0);

	r = row(&s, "z.example");
	CHECK_INT(r->total, 1);
	CHECK_INT(r->bucket[4], 1);		/* 45 minutes: the 80 bucket */

	CHECK_INT(s.total.total, 11);
	CHECK_INT(s.total.bucket[0], 4);
	CHECK_INT(s.total.bucket[1], 1);
	CHECK_INT(s.total.bucket[4], 1);
	CHECK_INT(s.total.bucket[9], 5);
	CHECK_INT(s.total.held, 4);
	queue_shape_free(&s);
	CHECK_INT(s.nrows, 0);
}

/* Many domains arriving in no order: rows stay findable and sort right. */
static void
test_many(void)
{
	struct queue_shape s;
	char addr[64];
	const char *rc[2] = { addr, NULL };
	size_t i, j, bad = 0;

	queue_shape_init(&s, NOW);
	for (i = 0; i < 2000; i++) {
		j = (i * 7919) % 2000;
		/* domain d<j> gets j % 5 + 1 recipients */
		for (size_t k = 0; k <= j % 5; k++) {
			snprintf(addr, sizeof(addr), "pu%zu@D%03zu.example", k, j);
			add(&s, 0, false, rc);
		}
	}
	CHECK_INT(s.nrows, 2000);
	queue_shape_sort(&s);
	for (i = 1; i < s.nrows; i++)
		if (s.rows[i - 1].total < s.rows[i].total ||
		    (s.rows[i - 1].total == s.rows[i].total &&
		    strcmp(s.rows[i - 1].domain, s.rows[i].domain) >= 0))
			bad++;
	CHECK_INT(bad, 0);
	CHECK_STR(s.rows[0].domain, "d004.example");
	CHECK_INT(s.rows[0].total, 5);
	CHECK_INT(s.total.total, 2000 * 3);
	queue_shape_free(&s);
}

int
main(void)
{
	test_buckets();
	test_shape();
	test_many();
	return check_done("test_queue_shape");
}
