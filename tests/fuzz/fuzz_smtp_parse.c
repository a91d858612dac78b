/*
 * tests/fuzz/fuzz_smtp_parse.c - relay/smtp_parse.c on hostile command
 * lines. The input is one command line as smtp_session.c hands it over:
 * at most 510 octets, no CR, LF or NUL (the session refuses those first).
 * Every entry point runs on it, and the results are checked against the
 * header's promises: a parsed path fits SMTP_PATH_MAX, utf8 is set when
 * the address has an octet >= 0x80 and only when the path has one (a
 * dropped source route counts: RFC 6531 3.3), the Received: copy of a HELO is
 * printable ASCII, and the reject log line is escaped (relay/log_safe.c).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/log.h"
#include "relay/smtp_parse.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

static bool
has_high(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* utf8 covers the whole path: a dropped source route counts too. */
static void
check_path(const struct smtp_path *p, const char *args)
{
	FUZZ_ASSERT(strlen(p->addr) <= SMTP_PATH_MAX);
	if (has_high(p->addr))
		FUZZ_ASSERT(p->utf8);
	if (p->utf8)
		FUZZ_ASSERT(has_high(args));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[512], verb[SMTP_VERB_MAX], hdr[SMTP_DOMAIN_MAX + 1];
	char safe[LOG_SAFE_MAX];
	const char *args, *r;
	struct smtp_path p;
	size_t i;

	if (size > 510 || memchr(data, '\r', size) != NULL ||
	    memchr(data, '\n', size) != NULL || memchr(data, '\0', size) != NULL)
		return -1;
	memcpy(line, data, size);
	line[size] = '\0';

	if (smtp_parse_verb(line, verb, &args) == 0) {
		FUZZ_ASSERT(strlen(verb) < SMTP_VERB_MAX);
		FUZZ_ASSERT(args >= line && args <= line + size);
	}
	/* Each parser on the whole line too, as if the verb had been cut. */
	for (i = 0; i < 2; i++) {
		const char *a = line;

		if (i == 1) {
			if (smtp_parse_verb(line, verb, &args) != 0)
				break;
			a = args;
		}
		memset(&p, 0, sizeof(p));
		if (smtp_parse_mail(a, &p) == NULL)
			check_path(&p, a);
		memset(&p, 0, sizeof(p));
		if (smtp_parse_rcpt(a, false, &p) == NULL) {
			check_path(&p, a);
			FUZZ_ASSERT(!p.utf8);
		}
		memset(&p, 0, sizeof(p));
		if (smtp_parse_rcpt(a, true, &p) == NULL)
			check_path(&p, a);
		if ((r = smtp_parse_helo(a)) == NULL && strlen(a) <=
		    SMTP_DOMAIN_MAX) {
			size_t j;

			smtp_helo_for_header(a, hdr, sizeof(hdr));
			for (j = 0; hdr[j] != '\0'; j++)
				FUZZ_ASSERT(hdr[j] > 0x20 && hdr[j] < 0x7f);
		} else if (r != NULL)
			FUZZ_ASSERT(smtp_reply_code(r) >= 400);
	}
	(void)smtp_reply_code(line);

	/* What the reject log line would carry. */
	log_safe(line, size, safe, 120);
	for (i = 0; safe[i] != '\0'; i++)
		FUZZ_ASSERT((unsigned char)safe[i] >= 0x20 &&
		    safe[i] != 0x7f);
	return 0;
}
