/*
 * relay/log_safe.c - make peer-supplied text safe for a log line (see
 * log.h). A log line must stay one line that reads the same in a terminal,
 * a pager or a web viewer as in the file, whatever a client, a remote
 * server or DNS handed us. One escaping scheme, used everywhere:
 *
 *	\xHH	a byte that is an ASCII control (0x00-0x1f), DEL (0x7f), or
 *		not part of well-formed UTF-8 (RFC 3629 section 4: no
 *		overlong forms, no surrogates, nothing above U+10FFFF)
 *	\uHHHH	a well-formed UTF-8 character that moves or hides text: the
 *		C1 controls U+0080-U+009F (U+0085 is NEL, a line break),
 *		U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR and the
 *		bidirectional marks, embeddings, overrides and isolates
 *		U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069
 *	\\	a backslash (log_safe() and log_esc() only), so that the two
 *		forms above cannot be forged by the peer
 *
 * Every other well-formed UTF-8 character passes through unchanged, so an
 * SMTPUTF8 address stays readable. log_sanitize() is the same scheme
 * without the backslash rule: log.c applies it to every formatted line as
 * a last line of defence, over text that log_safe() may already have
 * escaped.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/log.h"
#include "relay/util.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define LOG_ESC_RING	8	/* log_esc() buffers per thread */

static const char hexdig[] = "0123456789abcdef";

/* Characters that break a line or reorder what a reader sees. */
static bool
cp_is_unsafe(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e ||
	    c == 0x200f || (c >= 0x2028 && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069);
}

/*
 * The escaper. Writes at most len-1 bytes and a NUL (len >= 1); when the
 * input does not fit, it stops at a character boundary and ends with
 * "..." (if len allows). Returns the length written.
 */
static size_t
escape(const char *src, size_t slen, char *buf, size_t len, bool backslash)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0, n, need, cut = SIZE_MAX;
	uint32_t cp = 0;
	char tmp[8];

	if (len == 0)
		return 0;
	while (i < slen) {
		const char *out = tmp;

		if (s[i] < 0x20 || s[i] == 0x7f) {
			n = 1;
			need = 4;
		} else if (s[i] == '\\' && backslash) {
			n = 1;
			need = 2;
			out = "\\\\";
		} else if (s[i] < 0x80) {
			n = need = 1;
			out = (const char *)s + i;
		} else if ((n = utf8_seq(s + i, slen - i, &cp)) == 0) {
			n = 1;
			need = 4;
		} else if (cp_is_unsafe(cp)) {
			need = 6;
			tmp[0] = '\\';
			tmp[1] = 'u';
			tmp[2] = hexdig[(cp >> 12) & 15];
			tmp[3] = hexdig[(cp >> 8) & 15];
			tmp[4] = hexdig[(cp >> 4) & 15];
			tmp[5] = hexdig[cp & 15];
		} else {
			need = n;
			out = (const char *)s + i;
		}
		if (need == 4 && out == tmp) {
			tmp[0] = '\\';
			tmp[1] = 'x';
			tmp[2] = hexdig[s[i] >> 4];
			tmp[3] = hexdig[s[i] & 15];
		}
		/* The last point where "..." still fits, should the rest not. */
		if (cut == SIZE_MAX && o + need + 3 >= len)
			cut = o;
		if (o + need >= len) {
			o = cut;
			if (o + 3 < len) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(buf + o, out, need);
		o += need;
		i += n;
	}
	buf[o] = '\0';
	return o;
}

const char *
log_safe(const char *s, size_t slen, char *buf, size_t len)
{
	if (s == NULL)
		slen = 0;
	escape(s, slen, buf, len, true);
	return buf;
}

size_t
log_sanitize(const char *s, size_t slen, char *buf, size_t len)
{
	return escape(s, slen, buf, len, false);
}

const char *
log_esc(const char *s)
{
	static _Thread_local char ring[LOG_ESC_RING][LOG_SAFE_MAX];
	static _Thread_local unsigned next;
	char *buf = ring[next++ % LOG_ESC_RING];

	if (s == NULL)
		s = "";
	return log_safe(s, strlen(s), buf, LOG_SAFE_MAX);
}
