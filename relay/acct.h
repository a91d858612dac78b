/*
 * relay/acct.h - the accounting file (acct_file): PowerMTA-style CSV
 * (RFC 4180), a header line, one record per recipient outcome: `d`
 * delivered, `b` bounced, `t` transient failure (one per deferral). The
 * field list is in relay/acct.c and README.md. Process-wide, like the log:
 * records are buffered in memory and written by one write(2) per loop
 * turn from an event of their own, never inside the caller; nothing is
 * fsync'ed (accounting is not mail). Loop thread only.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_ACCT_H
#define RELAY_ACCT_H

#include <stddef.h>

struct event_base;
struct queue_envelope;
struct dlv_outcome;

enum acct_type {
	ACCT_DELIVERED = 'd',
	ACCT_BOUNCED = 'b',
	ACCT_TRANSIENT = 't',
};

/*
 * Write to path from now on (NULL: accounting off). The same path again
 * is a no-op; another one closes the old file. The header line is written
 * when the file is empty. 0, or -1 + err (the previous file stays).
 */
int	 acct_open(struct event_base *, const char *path, char *err,
	    size_t errlen);
/* Log rotation (SIGUSR2, control `reopen`): pending records go to the old
 * file, then the path is opened again. 0 / -1 + err. */
int	 acct_reopen(char *err, size_t errlen);
/* Flush and close (at exit). */
void	 acct_close(void);

/* One recipient's outcome. status: the enhanced status code recorded
 * (NULL: the outcome's; a bounce after expiry is 5.4.7); diag: the text
 * recorded (as logged). */
void	 acct_outcome(enum acct_type, const struct queue_envelope *,
	    const struct dlv_outcome *, unsigned attempts, const char *status,
	    const char *diag);

/* One RFC 4180 field appended to buf (quoted only when needed); control
 * characters become spaces. Exposed for the unit test. */
void	 acct_csv_field(char **buf, size_t *len, size_t *cap, const char *s);

#endif
