/*
 * tests/unit/test_mime7bit.c - relay/mime7bit.c: what converts and how
 * (quoted-printable that decodes back to the original octets, lines
 * within RFC 2045 6.7's 76, CTE rewritten), what is refused (8-bit
 * headers, base64 claims, preambles, message/partial), and the MIME
 * structure kept intact (boundaries, nested parts, message/rfc822).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/mime7bit.h"
#include "tests/unit/check.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Convert in into a malloc'ed NUL-terminated string (*out) via a tmpfile. */
static enum m7_result
conv(const char *in, char **out)
{
	FILE *f = tmpfile();
	char why[200];
	enum m7_result r;
	long n;

	r = mime7bit_convert((const unsigned char *)in, strlen(in), fileno(f),
	    why, sizeof(why));
	n = ftell(f);
	n = lseek(fileno(f), 0, SEEK_END);
	*out = calloc(1, (size_t)n + 1);
	lseek(fileno(f), 0, SEEK_SET);
	if (n > 0 && read(fileno(f), *out, (size_t)n) != n)
		CHECK(0);
	fclose(f);
	return r;
}

static bool
all_7bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static bool
lines_within(const char *s, size_t max)
{
	size_t l;

	for (;;) {
		l = strcspn(s, "\r\n");
		if (l > max)
			return false;
		s += l;
		if (*s == '\0')
			return true;
		s += (*s == '\r' && s[1] == '\n') ? 2 : 1;
	}
}

/* Decode quoted-printable text (soft breaks removed) into a new string. */
static char *
qp_decode(const char *s, size_t len)
{
	char *o = calloc(1, len + 1), *p = o;
	size_t i;
	unsigned v;

	for (i = 0; i < len; i++) {
		if (s[i] == '=' && i + 2 < len + 1 && s[i + 1] == '\r' &&
		    s[i + 2] == '\n') {
			i += 2;
			continue;
		}
		if (s[i] == '=' && i + 2 < len &&
		    sscanf(s + i + 1, "%2X", &v) == 1) {
			*p++ = (char)v;
			i += 2;
			continue;
		}
		*p++ = s[i];
	}
	return o;
}

static void
test_ascii(void)
{
	char *o = NULL;

	CHECK_INT(mime7bit_convert((const unsigned char *)"Subject: x\r\n\r\nhi\r\n",
	    18, -1, NULL, 0), M7_ASCII);
	CHECK_INT(conv("Subject: x\r\n\r\nhi\r\n", &o), M7_ASCII);
	CHECK_STR(o, "");		/* nothing written: send the original */
	free(o);
}

static void
test_leaf(void)
{
	char body[400], want[600], *o, *b, *d;
	size_t i;

	/* a long 8-bit line: soft breaks keep lines within 76 */
	strcpy(body, "");
	for (i = 0; i < 60; i++)
		strcat(body, "\xc3\xa9");
	strcat(body, " trailing space \r\n=x\tend\t\r\n");
	snprintf(want, sizeof(want), "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "X-Other: kept\r\n\r\n%s", body);
	CHECK_INT(conv(want, &o), M7_CONVERTED);
	CHECK(all_7bit(o));
	CHECK(lines_within(o, 76));
	CHECK(strstr(o, "Content-Transfer-Encoding: 8bit") == NULL);
	CHECK(strstr(o, "X-Other: kept\r\nContent-Transfer-Encoding: "
	    "quoted-printable\r\n\r\n") != NULL);
	CHECK(strstr(o, "Content-Type: text/plain; charset=utf-8\r\n") != NULL);
	b = strstr(o, "\r\n\r\n");
	CHECK(b != NULL);
	if (b != NULL) {
		d = qp_decode(b + 4, strlen(b + 4));
		CHECK_STR(d, body);
		free(d);
		/* trailing white space is encoded (RFC 2045 6.7 (3)) */
		CHECK(strstr(b, "=09\r\n") != NULL);
		CHECK(strstr(b, "=3Dx") != NULL);
	}
	free(o);
}

static void
test_not_mime(void)
{
	char *o, *b, *d;

	/* RFC 1428: MIME headers for text of an unknown 8-bit charset */
	CHECK_INT(conv("Subject: old\r\n\r\nna\xefve\r\n", &o), M7_CONVERTED);
	CHECK(all_7bit(o));
	CHECK(strstr(o, "Subject: old\r\nMIME-Version: 1.0\r\nContent-Type: "
	    "text/plain; charset=unknown-8bit\r\nContent-Transfer-Encoding: "
	    "quoted-printable\r\n\r\nna=EFve\r\n") == o);
	b = strstr(o, "\r\n\r\n");
	d = qp_decode(b + 4, strlen(b + 4));
	CHECK_STR(d, "na\xefve\r\n");
	free(d);
	free(o);
}

static const char multi[] =
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer b\"\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "preamble\r\n"
    "--outer b\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "\r\n"
    "caf\xe9\r\n"
    "--outer b\r\n"
    "Content-Type: multipart/alternative;\r\n"
    "\tboundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "<p>\xc3\xbc</p>\r\n"
    "--inner--\r\n"
    "--outer b\r\n"
    "Content-Type: message/rfc822\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Subject: inner message\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "gr\xc3\xbc\xc3\x9f\r\n"
    "--outer b\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAEC\r\n"
    "--outer b--\r\n"
    "epilogue\r\n";

static void
test_multipart(void)
{
	char *o;

	CHECK_INT(conv(multi, &o), M7_CONVERTED);
	CHECK(all_7bit(o));
	CHECK(lines_within(o, 76));
	/* composites say 7bit now, leaves quoted-printable */
	CHECK(strstr(o, "boundary=\"outer b\"\r\nContent-Transfer-Encoding: "
	    "7bit\r\n\r\npreamble\r\n--outer b\r\n") != NULL);
	CHECK(strstr(o, "charset=iso-8859-1\r\nContent-Transfer-Encoding: "
	    "quoted-printable\r\n\r\ncaf=E9\r\n--outer b\r\n") != NULL);
	CHECK(strstr(o, "--inner\r\nContent-Type: text/html\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "<p>=C3=BC</p>\r\n--inner--\r\n--outer b\r\n") != NULL);
	CHECK(strstr(o, "Content-Type: message/rfc822\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n\r\nSubject: inner message\r\n")
	    != NULL);
	CHECK(strstr(o, "gr=C3=BC=C3=9F\r\n--outer b\r\n") != NULL);
	/* 7-bit parts untouched, the end intact */
	CHECK(strstr(o, "Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n"
	    "--outer b--\r\nepilogue\r\n") != NULL);
	free(o);
}

static void
test_refused(void)
{
	char why[200];
	const char *hdr = "Subject: caf\xc3\xa9\r\n\r\nbody\r\n";
	const char *b64 = "MIME-Version: 1.0\r\nContent-Transfer-Encoding: "
	    "base64\r\n\r\n\xff\xfe\r\n";
	const char *pre = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
	    "boundary=b\r\n\r\npr\xe9\r\n--b\r\n\r\nx\r\n--b--\r\n";
	const char *part = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
	    "boundary=b\r\n\r\n--b\r\nContent-Type: message/partial; id=1\r\n"
	    "\r\n\xe9\r\n--b--\r\n";
	const char *parthdr = "MIME-Version: 1.0\r\nContent-Type: multipart/"
	    "mixed; boundary=b\r\n\r\n--b\r\nContent-Disposition: attachment; "
	    "filename=\xc3\xa9.txt\r\n\r\nx\r\n--b--\r\n";

	CHECK_INT(mime7bit_convert((const unsigned char *)hdr, strlen(hdr), -1,
	    why, sizeof(why)), M7_HEADER_8BIT);
	CHECK(strstr(why, "header") != NULL);
	CHECK_INT(mime7bit_convert((const unsigned char *)parthdr,
	    strlen(parthdr), -1, why, sizeof(why)), M7_HEADER_8BIT);
	CHECK_INT(mime7bit_convert((const unsigned char *)b64, strlen(b64), -1,
	    why, sizeof(why)), M7_UNCONVERTIBLE);
	CHECK(strstr(why, "base64") != NULL);
	CHECK_INT(mime7bit_convert((const unsigned char *)pre, strlen(pre), -1,
	    why, sizeof(why)), M7_UNCONVERTIBLE);
	CHECK(strstr(why, "preamble") != NULL);
	CHECK_INT(mime7bit_convert((const unsigned char *)part, strlen(part),
	    -1, why, sizeof(why)), M7_UNCONVERTIBLE);
	/* a header further on decides over an earlier unconvertible part */
	{
		const char *both = "MIME-Version: 1.0\r\nContent-Type: "
		    "multipart/mixed; boundary=b\r\n\r\npre \xe9\r\n--b\r\n"
		    "Subject: \xc3\xa9\r\n\r\nx\r\n--b--\r\n";

		CHECK_INT(mime7bit_convert((const unsigned char *)both,
		    strlen(both), -1, why, sizeof(why)), M7_HEADER_8BIT);
	}
	/* classification agrees with conversion */
	CHECK_INT(mime7bit_convert((const unsigned char *)multi, strlen(multi),
	    -1, why, sizeof(why)), M7_CONVERTED);
}

static void
test_structure(void)
{
	char *o;
	/* a part without its close delimiter does not swallow the parent;
	 * LF line ends are accepted; a boundary in a quoted-printable line
	 * of the body cannot appear (it is copied as a delimiter) */
	const char *in = "MIME-Version: 1.0\nContent-Type: multipart/mixed; "
	    "boundary=o\n\n--o\nContent-Type: multipart/mixed; boundary=i\n\n"
	    "--i\n\n\xe9t\xe9\n--o\n\nlast \xe9\n--o--\n";

	CHECK_INT(conv(in, &o), M7_CONVERTED);
	CHECK(all_7bit(o));
	CHECK(strstr(o, "--i\nContent-Transfer-Encoding: quoted-printable"
	    "\r\n\n=E9t=E9\r\n--o\n") != NULL);
	CHECK(strstr(o, "--o\nContent-Transfer-Encoding: quoted-printable\r\n"
	    "\nlast =E9\r\n--o--\n") != NULL);
	free(o);
}

static void
test_fd(void)
{
	FILE *f = tmpfile();
	const char *in = "X: y\r\n\r\n\xe9\r\n";
	char why[100], buf[200];
	uint64_t size;
	int ofd;
	ssize_t n;

	fputs("ENVELOPE\n", f);
	fputs(in, f);
	fflush(f);
	lseek(fileno(f), 9, SEEK_SET);		/* the content starts here */
	CHECK_INT(mime7bit_fd(fileno(f), 1, &ofd, &size, why, sizeof(why)),
	    M7_CONVERTED);
	CHECK(ofd != -1);
	n = read(ofd, buf, sizeof(buf) - 1);
	CHECK_INT(n, (long long)size);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(strstr(buf, "X: y\r\nMIME-Version: 1.0\r\n") == buf);
	CHECK(strstr(buf, "\r\n\r\n=E9\r\n") != NULL);
	CHECK_INT(lseek(fileno(f), 0, SEEK_CUR), 9);	/* offset untouched */
	close(ofd);
	fclose(f);
}

int
main(void)
{
	test_ascii();
	test_leaf();
	test_not_mime();
	test_multipart();
	test_refused();
	test_structure();
	test_fd();
	return check_done("test_mime7bit");
}
