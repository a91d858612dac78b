/*
 * queue/queue_id.h - queue ids: short, unique, sortable by arrival and safe
 * in file names. An id is QUEUE_ID_LEN characters of Crockford base 32
 * (0-9 A-Z without I L O U): 11 for the arrival time in microseconds since
 * the epoch, 4 of per-process salt. The alphabet is ascending in ASCII, so
 * strcmp() order is arrival order. A generator never issues the same time
 * part twice and never goes below its floor (the newest id in the spool).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef QUEUE_QUEUE_ID_H
#define QUEUE_QUEUE_ID_H

#include <stdbool.h>
#include <stdint.h>

#include "queue/queue.h"		/* QUEUE_ID_MAX */

#define QUEUE_ID_LEN		15	/* characters, without NUL */
#define QUEUE_ID_TIME_LEN	11	/* of which the time part */

struct queue_idgen {
	uint64_t	last_us;	/* time part of the last id issued */
	uint32_t	salt;		/* per-process random, mixed with seq */
	uint32_t	seq;		/* ids issued so far */
};

/* Seed the salt (getrandom, else time and pid); floor 0. */
void		 queue_id_init(struct queue_idgen *);
/* Never issue an id whose time part is <= us (e.g. the newest on disk). */
void		 queue_id_floor(struct queue_idgen *, uint64_t us);
/* Write the next id (NUL-terminated) into id; returns its time in us. */
uint64_t	 queue_id_next(struct queue_idgen *, char id[QUEUE_ID_MAX]);
/* Exactly QUEUE_ID_LEN characters of the alphabet, nothing else. */
bool		 queue_id_valid(const char *);
/* The arrival time in microseconds encoded in a valid id. 0 / -1. */
int		 queue_id_time(const char *, uint64_t *us);

#endif
