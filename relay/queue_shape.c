/*
 * relay/queue_shape.c - counting the queue's open recipients by domain and
 * age, as qshape(1) does (see queue_shape.h).
 *
 * A hash of the domains finds a recipient's row (a new domain appends
 * one), then the rows are sorted once by count: each recipient costs one
 * lookup however many domains the queue holds (the daemon counts on its
 * delivery loop, which must not stall on a queue of many domains).
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

static size_t
shape_hash(const char *d)
{
	size_t h = 2166136261u;		/* FNV-1a */

	while (*d != '\0')
		h = (h ^ (unsigned char)*d++) * 16777619u;
	return h;
}

/* The index slot of domain d: its row's, or the empty one it would take. */
static size_t *
shape_slot(const struct queue_shape *s, const char *d)
{
	size_t i = shape_hash(d) & (s->nindex - 1);

	/* the table is at most half full: an empty slot ends every probe */
	while (s->index[i] != 0 && strcmp(s->rows[s->index[i] - 1].domain,
	    d) != 0)
		i = (i + 1) & (s->nindex - 1);
	return &s->index[i];
}

/* Double the index and put every row in it again. */
static void
shape_grow(struct queue_shape *s)
{
	size_t i;

	free(s->index);
	s->nindex = s->nindex ? s->nindex * 2 : 64;
	s->index = xcalloc(s->nindex, sizeof(*s->index));
	for (i = 0; i < s->nrows; i++)
		*shape_slot(s, s->rows[i].domain) = i + 1;
}

/* The row of domain d, made (zero) if new. */
static struct shape_row *
shape_row(struct queue_shape *s, const char *d)
{
	size_t *slot;

	if (2 * (s->nrows + 1) > s->nindex)
		shape_grow(s);
	slot = shape_slot(s, d);
	if (*slot != 0)
		return &s->rows[*slot - 1];
	if (s->nrows == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->rows = xreallocarray(s->rows, s->cap, sizeof(*s->rows));
	}
	memset(&s->rows[s->nrows], 0, sizeof(s->rows[s->nrows]));
	s->rows[s->nrows].domain = xstrdup(d);
	*slot = ++s->nrows;
	return &s->rows[s->nrows - 1];
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
	/* the index points at rows by position: it goes with the order */
	free(s->index);
	s->index = NULL;
	s->nindex = 0;
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
	free(s->index);
	s->rows = NULL;
	s->index = NULL;
	s->nrows = s->cap = s->nindex = 0;
}
