/*
 * queue/queue_id.c - queue id generation (see queue_id.h for the format).
 * Uniqueness within a spool comes from the time part alone: it is strictly
 * increasing per generator (bumped by 1us when the clock stalls or steps
 * back) and starts above the newest id found on disk, so a restart with a
 * clock that went backwards still continues upwards. The salt only keeps
 * ids of different spools or of an emptied spool apart in logs.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "queue/queue_id.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Crockford base 32: ascending ASCII, no look-alikes, no lower case. */
static const char queue_id_alpha[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static int
queue_id_digit(int ch)
{
	const char *p;

	if (ch == '\0' || (p = strchr(queue_id_alpha, ch)) == NULL)
		return -1;
	return (int)(p - queue_id_alpha);
}

void
queue_id_init(struct queue_idgen *g)
{
	struct timespec ts;
	uint32_t salt;

	memset(g, 0, sizeof(*g));
	if (getrandom(&salt, sizeof(salt), GRND_NONBLOCK) != sizeof(salt)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		salt = (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 16);
	}
	g->salt = salt;
}

void
queue_id_floor(struct queue_idgen *g, uint64_t us)
{
	if (us > g->last_us)
		g->last_us = us;
}

uint64_t
queue_id_next(struct queue_idgen *g, char id[QUEUE_ID_MAX])
{
	struct timespec	ts;
	uint64_t	us, v;
	uint32_t	suffix;
	int		i;

	clock_gettime(CLOCK_REALTIME, &ts);
	us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	if (us <= g->last_us)
		us = g->last_us + 1;
	g->last_us = us;

	v = us;
	for (i = QUEUE_ID_TIME_LEN - 1; i >= 0; i--) {
		id[i] = queue_id_alpha[v & 31];
		v >>= 5;
	}
	/* Knuth's multiplicative hash spreads consecutive seq over 20 bits. */
	suffix = (g->salt ^ (g->seq++ * 2654435761u)) >> 12;
	for (i = QUEUE_ID_LEN - 1; i >= QUEUE_ID_TIME_LEN; i--) {
		id[i] = queue_id_alpha[suffix & 31];
		suffix >>= 5;
	}
	id[QUEUE_ID_LEN] = '\0';
	return us;
}

bool
queue_id_valid(const char *id)
{
	size_t i;

	if (id == NULL)
		return false;
	for (i = 0; i < QUEUE_ID_LEN; i++)
		if (queue_id_digit((unsigned char)id[i]) < 0)
			return false;
	return id[QUEUE_ID_LEN] == '\0';
}

int
queue_id_time(const char *id, uint64_t *us)
{
	uint64_t v = 0;
	int i;

	if (!queue_id_valid(id))
		return -1;
	for (i = 0; i < QUEUE_ID_TIME_LEN; i++)
		v = (v << 5) | (uint64_t)queue_id_digit((unsigned char)id[i]);
	*us = v;
	return 0;
}
