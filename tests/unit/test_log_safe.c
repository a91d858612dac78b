/*
 * tests/unit/test_log_safe.c - the log escaper (relay/log_safe.c): every
 * character that can break a log line or reorder what a reader sees is
 * escaped, other UTF-8 passes, cuts land on character boundaries, and a
 * line written through log.c carries none of those bytes even when a call
 * site forgot to escape.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "relay/log.h"
#include "tests/unit/check.h"

static const char *
esc(const char *s)
{
	static char buf[LOG_SAFE_MAX];

	return log_safe(s, strlen(s), buf, sizeof(buf));
}

static const char *
esc_n(const char *s, size_t n)
{
	static char buf[LOG_SAFE_MAX];

	return log_safe(s, n, buf, sizeof(buf));
}

static const char *
san(const char *s)
{
	static char buf[LOG_SAFE_MAX];

	log_sanitize(s, strlen(s), buf, sizeof(buf));
	return buf;
}

static void
test_ascii(void)
{
	CHECK_STR(esc("user@example.org"), "user@example.org");
	CHECK_STR(esc(""), "");
	CHECK_STR(esc("a\\b"), "a\\\\b");
	CHECK_STR(esc("a\r\nb"), "a\\x0d\\x0ab");
	CHECK_STR(esc("\t\x1b[31m"), "\\x09\\x1b[31m");
	CHECK_STR(esc("del\x7f"), "del\\x7f");
	CHECK_STR(esc_n("a\0b", 3), "a\\x00b");
	CHECK_STR(log_safe(NULL, 5, (char[8]){ 0 }, 8), "");
	CHECK_STR(log_esc(NULL), "");
	CHECK_STR(log_esc("x\\y\n"), "x\\\\y\\x0a");
}

static void
test_utf8(void)
{
	/* Ordinary UTF-8 passes: Latin, CJK, emoji (4 octets). */
	CHECK_STR(esc("j\xc3\xb6rg@b\xc3\xbc" "cher.example"),
	    "j\xc3\xb6rg@b\xc3\xbc" "cher.example");
	CHECK_STR(esc("\xe6\x97\xa5\xe6\x9c\xac"), "\xe6\x97\xa5\xe6\x9c\xac");
	CHECK_STR(esc("\xf0\x9f\x93\xa7"), "\xf0\x9f\x93\xa7");
	CHECK_STR(esc("\xc2\xa0"), "\xc2\xa0");		/* U+00A0, after C1 */
	CHECK_STR(esc("\xe2\x80\xa7"), "\xe2\x80\xa7");	/* U+2027 */
	CHECK_STR(esc("\xe2\x80\xaf"), "\xe2\x80\xaf");	/* U+202F */
	CHECK_STR(esc("\xe2\x81\xa5"), "\xe2\x81\xa5");	/* U+2065 */
	CHECK_STR(esc("\xe2\x81\xaa"), "\xe2\x81\xaa");	/* U+206A */
	CHECK_STR(esc("\xe2\x80\x8d"), "\xe2\x80\x8d");	/* U+200D */

	/* C1 controls, NEL among them. */
	CHECK_STR(esc("a\xc2\x85" "b"), "a\\u0085b");
	CHECK_STR(esc("\xc2\x80\xc2\x9f"), "\\u0080\\u009f");
	CHECK_STR(esc("\xc2\x9b" "31m"), "\\u009b31m");	/* CSI */
	/* Line and paragraph separators. */
	CHECK_STR(esc("x\xe2\x80\xa8y\xe2\x80\xa9z"), "x\\u2028y\\u2029z");
	/* Bidi marks, embeddings, overrides, isolates. */
	CHECK_STR(esc("\xe2\x80\x8e\xe2\x80\x8f"), "\\u200e\\u200f");
	CHECK_STR(esc("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad"
	    "\xe2\x80\xae"), "\\u202a\\u202b\\u202c\\u202d\\u202e");
	CHECK_STR(esc("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9"),
	    "\\u2066\\u2067\\u2068\\u2069");
	CHECK_STR(esc("\xd8\x9c"), "\\u061c");
	/* "evil\u202Egpj.exe" must not display reversed. */
	CHECK_STR(esc("evil\xe2\x80\xaegpj.exe"), "evil\\u202egpj.exe");
}

static void
test_invalid(void)
{
	CHECK_STR(esc("\x85"), "\\x85");		/* lone continuation */
	CHECK_STR(esc("\xff\xfe"), "\\xff\\xfe");
	CHECK_STR(esc("\xc0\x8a"), "\\xc0\\x8a");	/* overlong LF */
	CHECK_STR(esc("\xe0\x80\x8a"), "\\xe0\\x80\\x8a");
	CHECK_STR(esc("\xed\xa0\x80"), "\\xed\\xa0\\x80");	/* surrogate */
	CHECK_STR(esc("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); /* >10FFFF */
	CHECK_STR(esc("\xf5\x80\x80\x80"), "\\xf5\\x80\\x80\\x80");
	CHECK_STR(esc("\xc3"), "\\xc3");		/* truncated at the end */
	CHECK_STR(esc("\xe2\x80"), "\\xe2\\x80");
	CHECK_STR(esc("\xc3" "a"), "\\xc3" "a");	/* bad continuation */
	/* A truncated sequence before a valid one keeps the valid one. */
	CHECK_STR(esc("\xe2\xc3\xa9"), "\\xe2\xc3\xa9");
}

static void
test_cut(void)
{
	char buf[16];

	CHECK_STR(log_safe("0123456789abcde", 15, buf, sizeof(buf)),
	    "0123456789abcde");
	CHECK_STR(log_safe("0123456789abcdef", 16, buf, sizeof(buf)),
	    "0123456789ab...");
	/* Never a partial escape or a partial UTF-8 sequence. */
	CHECK_STR(log_safe("0123456789\n", 11, buf, sizeof(buf)),
	    "0123456789\\x0a");
	CHECK_STR(log_safe("0123456789\nab", 13, buf, sizeof(buf)),
	    "0123456789...");
	CHECK_STR(log_safe("01234567890\xe2\x80\xa8", 14, buf, sizeof(buf)),
	    "01234567890...");
	CHECK_STR(log_safe("0123456789a\xc3\xa9" "b", 14, buf, sizeof(buf)),
	    "0123456789a\xc3\xa9" "b");
	CHECK_STR(log_safe("0123456789abcd\xc3\xa9", 16, buf, sizeof(buf)),
	    "0123456789ab...");
	/* Tiny buffers: the marker if it fits, never an overflow. */
	CHECK_STR(log_safe("abcdef", 6, buf, 4), "...");
	CHECK_STR(log_safe("abcdef", 6, buf, 3), "");
	CHECK_STR(log_safe("\n", 1, buf, 4), "...");
	CHECK_STR(log_safe("a", 1, buf, 2), "a");
	CHECK_STR(log_safe("abcdef", 6, buf, 1), "");
}

static void
test_sanitize(void)
{
	/* The line-level pass leaves backslashes (earlier escapes) alone. */
	CHECK_STR(san("a\\x85b"), "a\\x85b");
	CHECK_STR(san("a\xc2\x85" "b\n"), "a\\u0085b\\x0a");
	CHECK_STR(san("\xe2\x80\xa8\xff"), "\\u2028\\xff");
	CHECK_STR(san("r\xc3\xa9sum\xc3\xa9"), "r\xc3\xa9sum\xc3\xa9");
}

/* The net in log.c: an unescaped call site still writes one clean line. */
static void
test_log_line(void)
{
	char path[] = "/tmp/test_log_safe.XXXXXX", err[256], buf[4096];
	const char *bad[] = { "\r", "\n", "\x1b", "\x7f", "\xc2\x85",
	    "\xe2\x80\xa8", "\xe2\x80\xa9", "\xe2\x80\xae", "\xe2\x81\xa6",
	    "\xff" };
	ssize_t n;
	size_t i;
	int fd;

	fd = mkstemp(path);
	CHECK(fd != -1);
	if (fd == -1)
		return;
	CHECK_INT(log_open(path, err, sizeof(err)), 0);
	log_info("QID", "from=<%s> to=<%s>", "a\xc2\x85" "b\xe2\x80\xa8@x",
	    "c\r\nFAKE: line\xe2\x80\xae\xff\x1b[2J\x7f");
	log_info(NULL, "escaped %s", log_esc("x\xc2\x85\\"));
	log_close();
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(path);
	CHECK(n > 0);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* exactly two lines, each ending in the only two newlines */
	CHECK(buf[n - 1] == '\n');
	CHECK(strchr(buf, '\n') != NULL && strchr(strchr(buf, '\n') + 1, '\n')
	    == buf + n - 1);
	buf[n - 1] = '\0';
	*strchr(buf, '\n') = ' ';
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(strstr(buf, bad[i]) == NULL);
	CHECK(strstr(buf, "QID: from=<a\\u0085b\\u2028@x> to=<c\\x0d\\x0aFAKE: "
	    "line\\u202e\\xff\\x1b[2J\\x7f>") != NULL);
	CHECK(strstr(buf, "escaped x\\u0085\\\\") != NULL);
}

int
main(void)
{
	test_ascii();
	test_utf8();
	test_invalid();
	test_cut();
	test_sanitize();
	test_log_line();
	return check_done("test_log_safe");
}
