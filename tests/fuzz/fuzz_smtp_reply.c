/*
 * tests/fuzz/fuzz_smtp_reply.c - the SMTP client's reply parser
 * (relay/smtp_client.c client_reply_line(), with is_esc() and the EHLO
 * keyword scan) on hostile server output. The parser is static and works
 * on the client's own struct, so this file includes smtp_client.c; its
 * other functions then come from here, not from libdanerelay.a, and the
 * source needs no fuzzing hook.
 *
 * Input: 1 octet choosing the client state (EHLO or not), then server
 * output cut into lines the way client_readcb() cuts it (LF or CRLF, at
 * most LINE_MAX_LEN octets, no NUL). Checked for each complete reply: a
 * 2xx-5xx code, text NUL-terminated inside SMTP_REPLY_MAX and starting with
 * the code, an enhanced status code (if any) of the reply's class, and a
 * log line that is escaped (relay/log_safe.c).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/smtp_client.c"
#include "relay/log.h"
#include "tests/fuzz/fuzz.h"

static void
check_reply(const struct smtp_reply *r)
{
	char safe[LOG_SAFE_MAX];
	size_t i, n;

	FUZZ_ASSERT(r->code >= 200 && r->code <= 599);
	n = strnlen(r->text, sizeof(r->text));
	FUZZ_ASSERT(n < sizeof(r->text));
	FUZZ_ASSERT(n >= 3 && atoi(r->text) == r->code);
	FUZZ_ASSERT(strnlen(r->esc, sizeof(r->esc)) < sizeof(r->esc));
	if (r->esc[0] != '\0')
		FUZZ_ASSERT(r->esc[0] - '0' == r->code / 100 &&
		    r->esc[1] == '.');
	log_safe(r->text, n, safe, sizeof(safe));
	for (i = 0; safe[i] != '\0'; i++)
		FUZZ_ASSERT((unsigned char)safe[i] >= 0x20 &&
		    safe[i] != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum cstate states[] = { C_GREETING, C_EHLO, C_HELO,
	    C_STARTTLS, C_XACT, C_QUIT };
	struct smtp_client c;
	char line[LINE_MAX_LEN + 1];
	size_t off, n, eol;

	if (size < 1)
		return -1;
	memset(&c, 0, sizeof(c));
	c.state = states[data[0] % (sizeof(states) / sizeof(states[0]))];
	for (off = 1; off < size; off += n + eol) {
		const uint8_t *lf = memchr(data + off, '\n', size - off);
		int r;

		n = lf != NULL ? (size_t)(lf - (data + off)) : size - off;
		eol = lf != NULL ? 1 : 0;
		if (n > 0 && lf != NULL && data[off + n - 1] == '\r') {
			n--;
			eol++;
		}
		if (n > LINE_MAX_LEN || memchr(data + off, '\0', n) != NULL) {
			c.reply_lines = 0;	/* the client gives up here */
			continue;
		}
		memcpy(line, data + off, n);
		line[n] = '\0';
		r = client_reply_line(&c, line, n);
		if (r == 1)
			check_reply(&c.reply);
		else if (r == -1)
			c.reply_lines = 0;
		FUZZ_ASSERT(c.reply_len < sizeof(c.reply.text));
	}
	return 0;
}
