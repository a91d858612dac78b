/*
 * relay/dsn.h - delivery status notifications (RFC 3464): the pure
 * builder of a multipart/report bounce (inputs -> buffer) and the step
 * that reads the original's headers from the spool and queues the bounce
 * with the null sender. The scheduler decides when; this module only
 * writes the text. A message with the null sender never gets a DSN: the
 * caller checks that (no bounce loops).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_DSN_H
#define RELAY_DSN_H

#include <stddef.h>
#include <time.h>

struct queue;
struct queue_msg;

struct dsn_rcpt {
	const char	*addr;		/* the failed recipient, without <> */
	const char	*status;	/* "5.1.1" */
	const char	*diag;		/* remote reply or our reason */
	const char	*remote_mta;	/* host that answered, NULL or "" if none */
	const char	*note;		/* NULL or an addition like "expired after 5d" */
};

struct dsn_info {
	const char		*hostname;	/* Reporting-MTA, From domain */
	const char		*queue_id;	/* of the original */
	const char		*sender;	/* original envelope sender (To:) */
	time_t			 arrival;	/* of the original */
	time_t			 now;		/* Date: */
	const struct dsn_rcpt	*rcpts;
	size_t			 nrcpts;
	const char		*headers;	/* original header block, CRLF, may be NULL */
	size_t			 headers_len;
};

/*
 * The complete bounce message (header and body, CRLF line ends, not
 * dot-stuffed) in a malloc'ed buffer of *len octets. Never NULL.
 */
char		*dsn_build(const struct dsn_info *, size_t *len);

/*
 * Read at most max octets of the header block of message id (up to and
 * including the empty line) into a malloc'ed buffer; NULL + errno.
 */
char		*dsn_read_headers(struct queue *, const char *id, size_t max,
		    size_t *len);

/*
 * Build the bounce for info and start queueing it (to info->sender, from
 * <>, flags ENV_DSN). Returns the message being committed (the caller
 * passes it to queue_msg_commit()), or NULL + errno.
 */
struct queue_msg *dsn_queue(struct queue *, const struct dsn_info *);

#endif
