/*
 * tests/unit/test_dsn.c - the RFC 3464 bounce text from dsn_build():
 * structure (multipart/report with the three parts), per-recipient fields,
 * the remote reply quoted, CRLF only, and no way for peer text to inject
 * lines.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/dsn.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

static int
has(const char *text, const char *needle)
{
	return strstr(text, needle) != NULL;
}

static void
test_two_rcpts(void)
{
	struct dsn_rcpt r[2] = {
		{ "u1@b.example", "5.1.1", "550 5.1.1 user unknown",
		    "mx1.b.example", NULL },
		{ "u2@c.example", "5.4.7", "4.4.1 connection refused", NULL,
		    "expired after 5d" },
	};
	const char hdr[] = "From: s@a.example\r\nSubject: hello\r\n";
	struct dsn_info in = {
		.hostname = "relay.a.example", .queue_id = "Q123",
		.sender = "s@a.example", .arrival = 86400, .now = 90000,
		.rcpts = r, .nrcpts = 2, .headers = hdr,
		.headers_len = sizeof(hdr) - 1,
	};
	size_t len, i;
	char *t = dsn_build(&in, &len);

	CHECK(t != NULL);
	CHECK_INT(strlen(t), len);
	CHECK(has(t, "From: Mail Delivery System <MAILER-DAEMON@relay.a.example>\r\n"));
	CHECK(has(t, "To: <s@a.example>\r\n"));
	CHECK(has(t, "Auto-Submitted: auto-replied\r\n"));
	CHECK(has(t, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"Q123.90000/relay.a.example\"\r\n"));
	CHECK(has(t, "Date: Fri, 02 Jan 1970 01:00:00 +0000\r\n"));
	/* human readable */
	CHECK(has(t, "<u1@b.example>: host mx1.b.example said: 550 5.1.1 user unknown\r\n"));
	CHECK(has(t, "<u2@c.example>: 4.4.1 connection refused (expired after 5d)\r\n"));
	/* machine readable */
	CHECK(has(t, "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.a.example\r\n"));
	CHECK(has(t, "Arrival-Date: Fri, 02 Jan 1970 00:00:00 +0000\r\n"));
	CHECK(has(t, "\r\nFinal-Recipient: rfc822; u1@b.example\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx1.b.example\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"));
	CHECK(has(t, "\r\nFinal-Recipient: rfc822; u2@c.example\r\nAction: failed\r\nStatus: 5.4.7\r\nDiagnostic-Code: X-danerelay; 4.4.1 connection refused\r\n"));
	/* original headers */
	CHECK(has(t, "Content-Type: text/rfc822-headers\r\n\r\nFrom: s@a.example\r\nSubject: hello\r\n\r\n--Q123.90000/relay.a.example--\r\n"));
	/* three parts, then the closing boundary ends the message */
	{
		const char *end = "\r\n--Q123.90000/relay.a.example--\r\n";
		const char *p = t;
		int parts = 0;

		CHECK(len > strlen(end) &&
		    strcmp(t + len - strlen(end), end) == 0);
		while ((p = strstr(p, "\r\n--Q123.90000/relay.a.example\r\n")) != NULL) {
			parts++;
			p++;
		}
		CHECK_INT(parts, 3);
	}
	/* CRLF only */
	for (i = 0; i < len; i++)
		if (t[i] == '\n' && (i == 0 || t[i - 1] != '\r'))
			break;
	CHECK_INT(i, len);
	free(t);
}

static void
test_injection(void)
{
	struct dsn_rcpt r = { "u@b.example", "5.0.0",
	    "550 bad\r\nX-Injected: yes\r\n\r\n--x", "mx", NULL };
	struct dsn_info in = {
		.hostname = "h", .queue_id = "Q", .sender = "s@a",
		.arrival = 0, .now = 0, .rcpts = &r, .nrcpts = 1,
	};
	size_t len;
	char *t = dsn_build(&in, &len);

	CHECK(!has(t, "\r\nX-Injected"));
	CHECK(has(t, "Diagnostic-Code: smtp; 550 bad  X-Injected: yes    --x\r\n"));
	/* no headers given: the part is empty but present */
	CHECK(has(t, "Content-Type: text/rfc822-headers\r\n\r\n\r\n--"));
	free(t);
}

/* Remove folding (CRLF + white space) to get a field's value back. */
static void
unfold(char *s)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\r' && s[1] == '\n' && (s[2] == ' ' || s[2] == '\t')) {
			s++;
			continue;
		}
		*o++ = *s;
	}
	*o = '\0';
}

/*
 * Longest address (256), MX name (255) and reply (511): no line of the
 * bounce over 998 octets (RFC 5322 2.1.1), the human part wrapped near
 * 78, continuation lines indented (peer text never starts a line), and
 * the fields unfold to their values.
 */
static void
test_long_lines(void)
{
	char addr[257], mx[256], diag[512], want[1200], *t, *p;
	struct dsn_rcpt r[1];
	struct dsn_info in = {
		.hostname = "relay.a.example", .queue_id = "Q124",
		.sender = "s@a.example", .arrival = 86400, .now = 90000,
		.rcpts = r, .nrcpts = 1,
	};
	size_t len, l, i, maxl = 0;

	memset(addr, 'a', 64);
	addr[64] = '@';
	for (i = 65; i < 256; i++)
		addr[i] = (i % 60 == 0) ? '.' : 'd';
	addr[256] = '\0';
	for (i = 0; i < 255; i++)
		mx[i] = (i % 50 == 49) ? '.' : 'm';
	mx[255] = '\0';
	strcpy(diag, "550 5.1.1 ");
	for (i = strlen(diag); i < 511; i++)
		diag[i] = (i % 7 == 0) ? ' ' : (i % 300 == 0) ? '-' : 'x';
	diag[511] = '\0';
	diag[200] = '\r';		/* peer text: CR/LF become spaces */
	diag[201] = '\n';
	r[0] = (struct dsn_rcpt){ addr, "5.1.1", diag, mx, "expired after 5d" };
	t = dsn_build(&in, &len);
	for (p = t; *p != '\0'; p += l + 2) {
		l = (size_t)(strstr(p, "\r\n") - p);
		if (l > maxl)
			maxl = l;
		if (p[l] == '\0' || p[l + 2] == '\0')
			break;
	}
	CHECK(maxl <= 998);
	CHECK(maxl > 78);	/* the address and MX name do not fit 78 */
	/* the human-readable paragraph, continuation lines indented */
	p = strstr(t, "\r\n<aaaa");
	CHECK(p != NULL);
	if (p != NULL && (p = strstr(p + 2, "\r\n")) != NULL)
		CHECK(p[2] == ' ' && p[3] == ' ');
	CHECK(has(t, "\r\n  host ") || has(t, "\r\n  mmm"));
	CHECK(!has(t, "\r\nx"));
	unfold(t);
	diag[200] = diag[201] = ' ';
	snprintf(want, sizeof(want), "Final-Recipient: rfc822; %s\r\n", addr);
	CHECK(has(t, want));
	snprintf(want, sizeof(want), "Remote-MTA: dns; %s\r\n", mx);
	CHECK(has(t, want));
	snprintf(want, sizeof(want), "Diagnostic-Code: smtp; %s\r\n", diag);
	CHECK(has(t, want));
	free(t);
}

/*
 * The original's headers hold a line that is the bounce's delimiter (RFC
 * 2046 5.1.1: it must not occur inside a part): the boundary changes, so
 * the quoted line cannot end the headers part and start a part of its
 * own (found by tests/fuzz/fuzz_dsn.c, seed corpus/dsn/boundary_in_headers).
 */
static void
test_boundary_in_headers(void)
{
	struct dsn_rcpt r = { "u@b.example", "5.1.1", "550 no", "mx", NULL };
	const char hdr[] = "Subject: x\r\n"
	    "--Q125.90000/relay.a.example\r\n"
	    "X-Next: --Q125.90000.1/relay.a.example--\r\n";
	struct dsn_info in = {
		.hostname = "relay.a.example", .queue_id = "Q125",
		.sender = "s@a.example", .arrival = 86400, .now = 90000,
		.rcpts = &r, .nrcpts = 1, .headers = hdr,
		.headers_len = sizeof(hdr) - 1,
	};
	const char *p, *end = "\r\n--Q125.90000.2/relay.a.example--\r\n";
	size_t len;
	int parts = 0;
	char *t = dsn_build(&in, &len);

	CHECK(has(t, "\r\n\tboundary=\"Q125.90000.2/relay.a.example\"\r\n"));
	for (p = t; (p = strstr(p, "\r\n--Q125.90000.2/relay.a.example\r\n")) !=
	    NULL; p++)
		parts++;
	CHECK_INT(parts, 3);
	CHECK(has(t, "\r\n\r\nSubject: x\r\n--Q125.90000/relay.a.example\r\n"));
	CHECK(len > strlen(end) && strcmp(t + len - strlen(end), end) == 0);
	free(t);
}

int
main(void)
{
	test_two_rcpts();
	test_injection();
	test_long_lines();
	test_boundary_in_headers();
	return check_done("test_dsn");
}
