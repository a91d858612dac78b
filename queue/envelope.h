/*
 * queue/envelope.h - pure encode/decode of the spool's text formats: the
 * envelope that opens every message file and the records of a message's
 * recipient journal (layout in queue/queue.c). No I/O here. Every value is
 * escaped so that no byte of a peer-supplied address or error text can
 * break the line structure; decoders reject anything the encoder cannot
 * produce.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef QUEUE_ENVELOPE_H
#define QUEUE_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "queue/queue.h"

#define ENVELOPE_MAGIC		"danerelay-queue 1"
#define ENVELOPE_SIZE_WIDTH	20	/* the size field is zero-padded to this */
#define ENVELOPE_MAX		(16u << 20)	/* longest envelope a reader accepts */

/*
 * Encode env (its size field as ENVELOPE_SIZE_WIDTH digits) into a new
 * buffer of *len octets ending with the end marker line. *size_off is the
 * offset of the size digits, so that a writer that learns the size later
 * can overwrite them in place. Caller frees.
 */
char		*envelope_encode(const struct queue_envelope *, size_t *len,
		    size_t *size_off);
/* The size field's digits for size (no NUL). */
void		 envelope_format_size(char out[ENVELOPE_SIZE_WIDTH], uint64_t size);

/*
 * Decode an envelope from buf[0..len). Returns 1 and sets *envp (caller
 * frees) and *hdrlen (octets up to and including the end marker line, i.e.
 * the offset of the content); 0 if buf holds a valid but incomplete prefix
 * (read more); -1 with err on malformed input.
 */
int		 envelope_decode(const char *buf, size_t len,
		    struct queue_envelope **envp, size_t *hdrlen,
		    char *err, size_t errlen);

/*
 * Escaping used for every text value: NULL and "" become "-"; a value that
 * is exactly "-" becomes "%2D"; bytes 0x00-0x20, 0x7f and '%' become %HH.
 * Other bytes (UTF-8 included) are kept. Appends to a malloc'ed buffer
 * *buf of *len octets and capacity *cap (grown with xreallocarray).
 */
void		 envelope_escape(char **buf, size_t *len, size_t *cap,
		    const char *s);
/* Decode one escaped value of n octets; NULL if malformed. Caller frees. */
char		*envelope_unescape(const char *s, size_t n);

/* --- the recipient journal --- */

struct journal_rec {
	size_t			 idx;		/* index into env->rcpts */
	enum queue_rcpt_state	 state;
	unsigned		 attempts;
	time_t			 next_attempt;
	const char		*error;		/* NULL for none */
};

/* One record line, '\n' included, in a new buffer of *len octets. */
char		*journal_encode(const struct journal_rec *, size_t *len);

struct journal_result {
	unsigned	applied;	/* records that changed a recipient */
	unsigned	bad;		/* complete lines rejected (checksum, syntax, index) */
	bool		torn;		/* the last line had no newline: ignored */
	size_t		good_len;	/* octets up to the end of the last complete line */
};

/* The hold record ("H 1 CRC" / "H 0 CRC"), '\n' included. */
char		*journal_encode_hold(bool held, size_t *len);

/*
 * Apply a whole journal to env: the last valid record per recipient wins;
 * a bad line is skipped, a torn last line ignored (counted in *res).
 */
void		 journal_apply(struct queue_envelope *, const char *buf,
		    size_t len, struct journal_result *res);

/* CRC-32 (IEEE 802.3), as used for journal record checksums. */
uint32_t	 envelope_crc32(const void *, size_t);

#endif
