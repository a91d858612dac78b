/*
 * relay/queue_shape.c - counting the queue's open recipients by domain and
 * age, as qshape(1) does (see queue_shape.h).
 *
 * Rows are kept sorted by domain while counting (a binary search finds a
 * recipient's row, a new domain is inserted in place), then sorted once
 * by count: a queue of many recipients in few domains costs a lookup each.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/queue_shape.h"
#include "queue/queue.h"
#include "relay/scheduler.h"
#include "relay/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const char *const shape_bucket_label[SHAPE_NBUCKETS] = {
	"5", "10", "20", "40", "80", "160", "320", "640", "1280", "1280+",
};

/* qshape's default bounds, in minutes */
static const unsigned shape_bound[SHAPE_NBUCKETS - 1] = {
	5, 10, 20, 40, 80, 160, 320, 640, 1280,
};

size_t
queue_shape_bucket(time_t arrival, time_t now)
{
	long long age = (long long)now - (long long)arrival;
	size_t i;

	for (i = 0; i < SHAPE_NBUCKETS - 1; i++)
		if (age <= (long long)shape_bound[i] * 60)
			return i;
	return SHAPE_NBUCKETS - 1;
}

void
queue_shape_init(struct queue_shape *s, time_t now)
{
	memset(s, 0, sizeof(*s));
	s->now = now;
	s->total.domain = (char *)"TOTAL";
}

/* The row of domain d, made (zero) if new; rows stay sorted by domain. */
static struct shape_row *
shape_row(struct queue_shape *s, const char *d)
{
	size_t lo = 0, hi = s->nrows, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(d, s->rows[mid].domain);
		if (c == 0)
			return &s->rows[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (s->nrows == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->rows = xreallocarray(s->rows, s->cap, sizeof(*s->rows));
	}
	memmove(&s->rows[lo + 1], &s->rows[lo], (s->nrows - lo) *
	    sizeof(*s->rows));
	s->nrows++;
	memset(&s->rows[lo], 0, sizeof(s->rows[lo]));
	s->rows[lo].domain = xstrdup(d);
	return &s->rows[lo];
}

static void
shape_count(struct shape_row *r, size_t b, bool held)
{
	r->total++;
	r->bucket[b]++;
	r->held += held;
}

void
queue_shape_add(struct queue_shape *s, const struct queue_envelope *env)
{
	const struct queue_rcpt *r;
	char d[256];
	size_t i, b = queue_shape_bucket(env->arrival, s->now);

	for (i = 0; i < env->nrcpts; i++) {
		r = &env->rcpts[i];
		if (r->state != RCPT_PENDING && r->state != RCPT_DEFERRED)
			continue;
		sched_rcpt_domain(r->addr, d, sizeof(d));
		shape_count(&s->total, b, env->held);
		shape_count(shape_row(s, d), b, env->held);
	}
}

static int
shape_cmp(const void *a, const void *b)
{
	const struct shape_row *x = a, *y = b;

	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(x->domain, y->domain);
}

void
queue_shape_sort(struct queue_shape *s)
{
	if (s->nrows > 1)
		qsort(s->rows, s->nrows, sizeof(*s->rows), shape_cmp);
}

void
queue_shape_free(struct queue_shape *s)
{
	size_t i;

	for (i = 0; i < s->nrows; i++)
		free(s->rows[i].domain);
	free(s->rows);
	s->rows = NULL;
	s->nrows = s->cap = 0;
}
