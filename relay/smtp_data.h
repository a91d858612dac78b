/*
 * relay/smtp_data.h - pure DATA phase decoder (RFC 5321 4.1.1.4, 4.5.2):
 * finds the end of data, removes dot-stuffing, and judges the content,
 * fed in chunks of any size (the result never depends on where the input
 * was cut). The only end of data is <CRLF>.<CRLF>, counting the CRLF that
 * ended the DATA command line as the first one.
 *
 * Once the content is judged bad (bare CR or LF, NUL, a line over 1000
 * octets, over the size limit) no more content is handed out, but the
 * decoder keeps looking for <CRLF>.<CRLF> so that the session stays in
 * step with the client: the bad message is discarded as a whole, and what
 * follows it (smuggled commands included) is never read as commands.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_SMTP_DATA_H
#define RELAY_SMTP_DATA_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_TEXT_LINE_MAX	1000	/* octets with CRLF, RFC 5321 4.5.3.1.6 */

enum smtp_data_error {		/* the first problem seen wins */
	SMTP_DATA_OK,
	SMTP_DATA_BARE_CR,		/* CR not followed by LF */
	SMTP_DATA_BARE_LF,		/* LF not preceded by CR */
	SMTP_DATA_NUL,			/* NUL octet */
	SMTP_DATA_LONG_LINE,		/* a line over SMTP_TEXT_LINE_MAX */
	SMTP_DATA_TOO_BIG,		/* content over max_size */
};

/* Receives decoded content: dot-unstuffed, CRLF line ends. */
typedef void smtp_data_out_fn(void *arg, const char *buf, size_t len);

struct smtp_data {
	uint64_t		 max_size;	/* 0: no limit */
	uint64_t		 size;		/* decoded octets handed out or counted */
	unsigned		 line_len;	/* octets of the current line so far, as sent */
	int			 state;		/* private */
	enum smtp_data_error	 error;
};

/* Start a message: the DATA command's CRLF has just been read. */
void	 smtp_data_init(struct smtp_data *, uint64_t max_size);

/*
 * Decode up to len octets of in. *used gets how many were consumed;
 * returns 1 when the end of data was consumed (the rest of in belongs to
 * the next command), 0 when all of in was consumed and more is needed.
 * out is called with content while error is SMTP_DATA_OK (never after).
 */
int	 smtp_data_feed(struct smtp_data *, const char *in, size_t len,
		    size_t *used, smtp_data_out_fn *out, void *arg);

/* The reply line for an error (not for SMTP_DATA_OK), and a log word. */
const char *smtp_data_reply(enum smtp_data_error);
const char *smtp_data_reason(enum smtp_data_error);

#endif
