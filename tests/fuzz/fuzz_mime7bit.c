/*
 * tests/fuzz/fuzz_mime7bit.c - the 8-bit to 7-bit downgrade
 * (relay/mime7bit.c) on hostile messages: its MIME walker reads whatever
 * a client sent as message content. The input is the message. Checked:
 * classifying alone (outfd -1) gives the verdict converting gives; M7_ASCII
 * only for input with no 8-bit octet; a converted message is 7-bit and
 * converting it again finds nothing to do; a refusal's reason is a line
 * fit for the log; and for input as the spool holds it (CRLF line ends
 * only, lines of at most 998 octets: relay/smtp_data.c) the output is so
 * too (RFC 5322 2.1.1, RFC 5321 4.5.3.1.6).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/log.h"
#include "relay/mime7bit.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int outfd = -1;

#define TEXT_LINE_MAX	998	/* octets before CRLF */

/* CRLF line ends only, no line over TEXT_LINE_MAX, no NUL. */
static bool
spool_form(const unsigned char *p, size_t n)
{
	size_t i, col = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r') {
			if (i + 1 >= n || p[i + 1] != '\n')
				return false;
			i++;
			col = 0;
		} else if (p[i] == '\n' || p[i] == '\0' ||
		    ++col > TEXT_LINE_MAX)
			return false;
	}
	return true;
}

static void
check_why(enum m7_result r, const char *why)
{
	const unsigned char *p;

	if (r != M7_HEADER_8BIT && r != M7_UNCONVERTIBLE)
		return;
	FUZZ_ASSERT(why[0] != '\0');
	for (p = (const unsigned char *)log_esc(why); *p != '\0'; p++)
		FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum m7_result classify, convert, again;
	char why[256], why2[256];
	unsigned char *out;
	off_t olen;
	size_t i;
	bool high = false;

	if (outfd == -1 && (outfd = memfd_create("fuzz_m7", 0)) == -1)
		abort();
	for (i = 0; i < size && !high; i++)
		high = data[i] >= 0x80;

	why[0] = '\0';
	classify = mime7bit_convert(data, size, -1, why, sizeof(why));
	FUZZ_ASSERT(classify != M7_ERROR);
	check_why(classify, why);
	FUZZ_ASSERT((classify == M7_ASCII) == !high);

	if (ftruncate(outfd, 0) == -1 || lseek(outfd, 0, SEEK_SET) == -1)
		abort();
	why2[0] = '\0';
	convert = mime7bit_convert(data, size, outfd, why2, sizeof(why2));
	FUZZ_ASSERT(convert == classify);
	if (convert != M7_CONVERTED)
		return 0;

	if ((olen = lseek(outfd, 0, SEEK_END)) < 0)
		abort();
	out = malloc((size_t)olen + 1);
	FUZZ_ASSERT(out != NULL);
	FUZZ_ASSERT(pread(outfd, out, (size_t)olen, 0) == olen);
	for (i = 0; i < (size_t)olen; i++)
		FUZZ_ASSERT(out[i] < 0x80);
	if (spool_form(data, size))
		FUZZ_ASSERT(spool_form(out, (size_t)olen));
	again = mime7bit_convert(out, (size_t)olen, -1, why, sizeof(why));
	FUZZ_ASSERT(again == M7_ASCII);
	free(out);
	return 0;
}
