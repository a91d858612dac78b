/*
 * relay/mime7bit.h - 8-bit to 7-bit downgrade of a message for a server
 * that does not announce 8BITMIME (RFC 6152 3: convert, or return). The
 * message is walked as a MIME tree (RFC 2045, 2046); every leaf part
 * whose body holds 8-bit octets is re-encoded as quoted-printable and its
 * Content-Transfer-Encoding rewritten, composite parts (multipart,
 * message/rfc822) declared 8bit or binary become 7bit, as Postfix's
 * mime_state downgrade does. A message without MIME-Version and without
 * Content-Type is plain text of an unknown 8-bit charset (RFC 1428 3):
 * it gets MIME headers ("text/plain; charset=unknown-8bit") and a
 * quoted-printable body.
 *
 * What cannot be converted is refused, never sent damaged: 8-bit octets
 * in a header (only SMTPUTF8 allows those, RFC 6532), in a multipart
 * preamble or epilogue, in a body that claims base64 or quoted-printable,
 * in message/partial or message/external-body, or nesting deeper than
 * M7_MAX_DEPTH. The caller returns such a message with 5.6.3.
 *
 * Pure apart from the output descriptor; the unit test drives it on
 * buffers (tests/unit/test_mime7bit.c).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_MIME7BIT_H
#define RELAY_MIME7BIT_H

#include <stddef.h>
#include <stdint.h>

#define M7_MAX_DEPTH	32

enum m7_result {
	M7_ASCII,		/* no 8-bit octet anywhere: send as it is */
	M7_CONVERTED,		/* written to the output, 7-bit */
	M7_HEADER_8BIT,		/* an 8-bit octet in a header (needs SMTPUTF8) */
	M7_UNCONVERTIBLE,	/* 8-bit where no encoding can be applied */
	M7_ERROR,		/* I/O or memory: errno */
};

/*
 * Convert in[0..len) (the message, header and body, CRLF or LF line ends)
 * and write the 7-bit result to outfd. outfd -1: only classify (nothing
 * is written; M7_CONVERTED then means "would convert"). why gets a short
 * reason for M7_HEADER_8BIT and M7_UNCONVERTIBLE.
 */
enum m7_result	 mime7bit_convert(const unsigned char *in, size_t len, int outfd,
		    char *why, size_t whylen);

/*
 * The same for the message content in fd from its current offset to the
 * end. M7_CONVERTED: *outfd is a new descriptor (memfd, positioned at 0)
 * holding the result and *outsize its length; the caller closes it. With
 * want_output false only classifies (no *outfd).
 */
enum m7_result	 mime7bit_fd(int fd, int want_output, int *outfd,
		    uint64_t *outsize, char *why, size_t whylen);

const char	*mime7bit_result_name(enum m7_result);

#endif
