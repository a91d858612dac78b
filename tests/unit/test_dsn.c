/*
 * tests/unit/test_dsn.c - the RFC 3464 bounce text from dsn_build():
 * structure (multipart/report with the three parts), per-recipient fields,
 * the remote reply quoted, CRLF only, and no way for peer text to inject
 * lines.
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

int
main(void)
{
	test_two_rcpts();
	test_injection();
	return check_done("test_dsn");
}
