/*
 * tests/fuzz/fuzz_log_safe.c - the log escaper (relay/log_safe.c) on any
 * octets. Input: 2 octets of output buffer size, then the text. Checked
 * for log_safe() and log_sanitize(): the output is NUL-terminated inside
 * the buffer, is well-formed UTF-8, has no control, DEL, C1, U+2028,
 * U+2029 or bidi control left, and when it was not cut ("..." at the end,
 * in a buffer of 4 or more) it decodes back to the input.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/log.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

static int
hexv(unsigned char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
	    c - 'a' + 10 : -1;
}

/* Walk out[0..n): well-formed UTF-8 and nothing unsafe. */
static void
check_clean(const unsigned char *s, size_t n)
{
	size_t i = 0, len, k;
	uint32_t cp;

	while (i < n) {
		if (s[i] < 0x80) {
			FUZZ_ASSERT(s[i] >= 0x20 && s[i] != 0x7f);
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			len = 2;
			cp = s[i] & 0x1f;
		} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			len = 3;
			cp = s[i] & 0x0f;
		} else {
			FUZZ_ASSERT(s[i] >= 0xf0 && s[i] <= 0xf4);
			len = 4;
			cp = s[i] & 0x07;
		}
		FUZZ_ASSERT(i + len <= n);
		for (k = 1; k < len; k++) {
			FUZZ_ASSERT((s[i + k] & 0xc0) == 0x80);
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		FUZZ_ASSERT(!(len == 3 && cp < 0x800) &&
		    !(len == 4 && cp < 0x10000));
		FUZZ_ASSERT(cp > 0x9f && cp != 0x061c && cp != 0x200e &&
		    cp != 0x200f && !(cp >= 0x2028 && cp <= 0x202e) &&
		    !(cp >= 0x2066 && cp <= 0x2069) &&
		    !(cp >= 0xd800 && cp <= 0xdfff) && cp <= 0x10ffff);
		i += len;
	}
}

/* Undo log_safe(): \\, \xHH, \uHHHH. Returns the decoded length. */
static size_t
unescape(const char *s, unsigned char *out)
{
	size_t o = 0;

	while (*s != '\0') {
		if (*s != '\\') {
			out[o++] = (unsigned char)*s++;
			continue;
		}
		if (s[1] == '\\') {
			out[o++] = '\\';
			s += 2;
		} else if (s[1] == 'x') {
			FUZZ_ASSERT(hexv((unsigned char)s[2]) >= 0 &&
			    hexv((unsigned char)s[3]) >= 0);
			out[o++] = (unsigned char)(hexv((unsigned char)s[2]) << 4 |
			    hexv((unsigned char)s[3]));
			s += 4;
		} else {
			unsigned cp = 0, k;

			FUZZ_ASSERT(s[1] == 'u');
			for (k = 2; k < 6; k++) {
				FUZZ_ASSERT(hexv((unsigned char)s[k]) >= 0);
				cp = cp << 4 | (unsigned)hexv((unsigned char)s[k]);
			}
			if (cp < 0x800) {
				out[o++] = (unsigned char)(0xc0 | cp >> 6);
				out[o++] = (unsigned char)(0x80 | (cp & 0x3f));
			} else {
				out[o++] = (unsigned char)(0xe0 | cp >> 12);
				out[o++] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
				out[o++] = (unsigned char)(0x80 | (cp & 0x3f));
			}
			s += 6;
		}
	}
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[8192];
	static unsigned char back[8192];
	size_t len, n, olen;

	if (size < 2)
		return -1;
	len = ((size_t)data[0] << 8 | data[1]) % sizeof(buf) + 1;
	data += 2;
	size -= 2;
	if (size > 2000)
		return -1;

	memset(buf, 'Z', sizeof(buf));
	log_safe((const char *)data, size, buf, len);
	olen = strnlen(buf, len);
	FUZZ_ASSERT(olen < len);
	check_clean((const unsigned char *)buf, olen);
	/* Below 4 octets a cut has no room for its "..." marker. */
	if (len >= 4 && (olen < 3 || strcmp(buf + olen - 3, "...") != 0)) {
		n = unescape(buf, back);
		FUZZ_ASSERT(n == size && memcmp(back, data, size) == 0);
	}

	memset(buf, 'Z', sizeof(buf));
	n = log_sanitize((const char *)data, size, buf, len);
	FUZZ_ASSERT(n < len && buf[n] == '\0' && strlen(buf) == n);
	check_clean((const unsigned char *)buf, n);
	return 0;
}
