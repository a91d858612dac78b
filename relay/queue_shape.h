/*
 * relay/queue_shape.h - `queue shape`, Postfix's qshape(1) for danerelay:
 * the open recipients of the queue (pending, deferred or in delivery; not
 * delivered or bounced) counted per recipient domain and per age of their
 * message, in qshape's default buckets of minutes 5 10 20 40 80 160 320
 * 640 1280 1280+. A recipient counts in the first bucket whose bound its
 * message's age does not exceed (an arrival in the future counts as age
 * 0); over 1280 minutes in 1280+. Recipients of held messages count like
 * the others and again in a `held` column. Domains are compared as the
 * scheduler groups them (sched_rcpt_domain(), relay/scheduler.h).
 *
 * Pure: no I/O, no clock (now is given). The queue tool (relay/queue_ctl.c)
 * feeds it from the scheduler's view or from a read-only spool scan and
 * formats the rows.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_QUEUE_SHAPE_H
#define RELAY_QUEUE_SHAPE_H

#include <stddef.h>
#include <time.h>

struct queue_envelope;

#define SHAPE_NBUCKETS	10		/* 9 bounds, then "1280+" */

/* The bucket labels, "5" .. "1280", "1280+". */
extern const char *const shape_bucket_label[SHAPE_NBUCKETS];

struct shape_row {
	char		*domain;		/* lower case; "TOTAL" for the total */
	size_t		 total;
	size_t		 bucket[SHAPE_NBUCKETS];
	size_t		 held;			/* of total: on hold */
};

struct queue_shape {
	time_t		 now;
	struct shape_row total;
	struct shape_row *rows;		/* first seen first until queue_shape_sort() */
	size_t		 nrows, cap;
	size_t		*index;		/* open addressing: row + 1, 0 empty */
	size_t		 nindex;	/* a power of two, >= 2 * nrows */
};

/* The bucket (0 .. SHAPE_NBUCKETS - 1) of a message that arrived at
 * arrival, at now. */
size_t	 queue_shape_bucket(time_t arrival, time_t now);
void	 queue_shape_init(struct queue_shape *, time_t now);
/* Count the open recipients of env. */
void	 queue_shape_add(struct queue_shape *, const struct queue_envelope *);
/* Most recipients first, ties by domain name. */
void	 queue_shape_sort(struct queue_shape *);
void	 queue_shape_free(struct queue_shape *);

#endif
