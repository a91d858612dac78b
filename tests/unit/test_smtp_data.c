/*
 * tests/unit/test_smtp_data.c - relay/smtp_data.c: end of data only on
 * <CRLF>.<CRLF>, dot-unstuffing, every smuggling variant of bare CR/LF
 * around a dot, NUL, the 1000-octet line limit, the size limit, and that
 * none of it depends on how the input was cut: each case is fed whole,
 * split at every offset, and one octet at a time, and must give the same
 * end position, error and (for good messages) content.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/smtp_data.h"
#include "tests/unit/check.h"

#include <stdlib.h>

struct result {
	int			 ended;
	size_t			 used;		/* octets consumed, end included */
	enum smtp_data_error	 error;
	uint64_t		 size;
	char			*out;
	size_t			 outlen;
};

static void
collect(void *arg, const char *buf, size_t len)
{
	struct result *r = arg;

	r->out = realloc(r->out, r->outlen + len + 1);
	memcpy(r->out + r->outlen, buf, len);
	r->outlen += len;
	r->out[r->outlen] = '\0';
}

/* Feed in[0..len) cut at the offsets in cuts (ascending, ncuts of them). */
static void
run(const char *in, size_t len, uint64_t max, const size_t *cuts,
    size_t ncuts, struct result *r)
{
	struct smtp_data d;
	size_t from = 0, i, used;

	memset(r, 0, sizeof(*r));
	r->out = calloc(1, 1);
	smtp_data_init(&d, max);
	for (i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : len;

		if (smtp_data_feed(&d, in + from, to - from, &used, collect, r)) {
			r->ended = 1;
			r->used = from + used;
			break;
		}
		CHECK_INT(used, to - from);
		from = to;
	}
	if (!r->ended)
		r->used = len;
	r->error = d.error;
	r->size = d.size;
}

static int
same(const struct result *a, const struct result *b)
{
	if (a->ended != b->ended || a->used != b->used || a->error != b->error)
		return 0;
	if (a->error == SMTP_DATA_OK && (a->outlen != b->outlen ||
	    memcmp(a->out, b->out, a->outlen) != 0 || a->size != b->size))
		return 0;
	return 1;
}

/*
 * One case: input, limit, wanted (ended, used, error) and, for a good
 * message, content. Checked whole, at every split and octet by octet.
 */
static void
check_case(const char *name, const char *in, size_t len, uint64_t max,
    int want_end, size_t want_used, enum smtp_data_error want_err,
    const char *want_out)
{
	struct result whole, part;
	size_t k, *cuts;
	int bad = 0;

	run(in, len, max, NULL, 0, &whole);
	if (whole.ended != want_end || whole.used != want_used ||
	    whole.error != want_err ||
	    (want_out != NULL && (whole.outlen != strlen(want_out) ||
	    memcmp(whole.out, want_out, whole.outlen) != 0))) {
		fprintf(stderr, "%s: ended %d used %zu error %d out \"%.*s\"; "
		    "want %d %zu %d \"%s\"\n", name, whole.ended, whole.used,
		    whole.error, (int)whole.outlen, whole.out, want_end,
		    want_used, want_err, want_out ? want_out : "");
		check_failed++;
	} else
		check_passed++;
	if (want_err == SMTP_DATA_OK && want_out != NULL)
		CHECK_INT(whole.size, strlen(want_out));

	for (k = 0; k <= len; k++) {
		run(in, len, max, &k, 1, &part);
		if (!same(&whole, &part)) {
			fprintf(stderr, "%s: split at %zu differs (used %zu error %d)\n",
			    name, k, part.used, part.error);
			bad = 1;
		}
		free(part.out);
	}
	cuts = calloc(len + 1, sizeof(*cuts));
	for (k = 0; k < len; k++)
		cuts[k] = k + 1;
	run(in, len, max, cuts, len ? len - 1 : 0, &part);
	if (!same(&whole, &part)) {
		fprintf(stderr, "%s: octet by octet differs\n", name);
		bad = 1;
	}
	free(part.out);
	free(cuts);
	if (bad)
		check_failed++;
	else
		check_passed++;
	free(whole.out);
}

#define CASE(name, in, max, end, used, err, out) \
	check_case(name, in, sizeof(in) - 1, max, end, used, err, out)

static void
test_basic(void)
{
	CASE("empty message", ".\r\n", 0, 1, 3, SMTP_DATA_OK, "");
	CASE("one line", "hello\r\n.\r\n", 0, 1, 10, SMTP_DATA_OK, "hello\r\n");
	CASE("rest stays unread", "a\r\n.\r\nQUIT\r\n", 0, 1, 6, SMTP_DATA_OK, "a\r\n");
	CASE("unstuffing", "..\r\n..x\r\n.y\r\nz.\r\n...\r\n.\r\n", 0, 1, 25,
	    SMTP_DATA_OK, ".\r\n.x\r\ny\r\nz.\r\n..\r\n");
	CASE("dot in a line", "a.b\r\n .\r\n.\r\n", 0, 1, 12, SMTP_DATA_OK,
	    "a.b\r\n .\r\n");
	CASE("blank lines", "\r\n\r\nx\r\n\r\n.\r\n", 0, 1, 12, SMTP_DATA_OK,
	    "\r\n\r\nx\r\n\r\n");
	CASE("8-bit text", "caf\xc3\xa9\r\n\xff\x80\r\n.\r\n", 0, 1, 14,
	    SMTP_DATA_OK, "caf\xc3\xa9\r\n\xff\x80\r\n");
	CASE("no end yet", "abc\r\n.", 0, 0, 6, SMTP_DATA_OK, NULL);
	CASE("no end: dot CR", "abc\r\n.\r", 0, 0, 7, SMTP_DATA_OK, NULL);
	CASE("dot space is not the end", "a\r\n. \r\n.\r\n", 0, 1, 10,
	    SMTP_DATA_OK, "a\r\n \r\n");
}

/* Each smuggling variant: a false end, a smuggled command, the real end. */
static void
test_smuggling(void)
{
	CASE("<LF>.<LF>", "x\n.\nMAIL FROM:<e@v>\r\n.\r\n", 0, 1, 24,
	    SMTP_DATA_BARE_LF, NULL);
	CASE("<LF>.<CRLF>", "x\n.\r\nMAIL FROM:<e@v>\r\n.\r\n", 0, 1, 25,
	    SMTP_DATA_BARE_LF, NULL);
	CASE("<CRLF>.<LF>", "x\r\n.\nMAIL FROM:<e@v>\r\n.\r\n", 0, 1, 25,
	    SMTP_DATA_BARE_LF, NULL);
	CASE("<CR>.<CR>", "x\r.\rMAIL FROM:<e@v>\r\n.\r\n", 0, 1, 24,
	    SMTP_DATA_BARE_CR, NULL);
	CASE("<CR>.<CRLF>", "x\r.\r\nMAIL FROM:<e@v>\r\n.\r\n", 0, 1, 25,
	    SMTP_DATA_BARE_CR, NULL);
	CASE("<CRLF>.<CR>", "x\r\n.\rMAIL FROM:<e@v>\r\n.\r\n", 0, 1, 25,
	    SMTP_DATA_BARE_CR, NULL);
	CASE("<CR><LF>.<CR><LF> reversed", "x\n\r.\n\rMAIL\r\n.\r\n", 0, 1, 15,
	    SMTP_DATA_BARE_LF, NULL);
	CASE("<LF><CR>.<CR><LF>", "x\n\r.\r\nMAIL\r\n.\r\n", 0, 1, 15,
	    SMTP_DATA_BARE_LF, NULL);
	CASE("bare LF in a line", "foo\nbar\r\n.\r\n", 0, 1, 12,
	    SMTP_DATA_BARE_LF, NULL);
	CASE("bare CR in a line", "foo\rbar\r\n.\r\n", 0, 1, 12,
	    SMTP_DATA_BARE_CR, NULL);
	CASE("bare LF line end", "line\nMAIL\r\n.\r\n", 0, 1, 14,
	    SMTP_DATA_BARE_LF, NULL);
	CASE("bare CR line end", "line\rMAIL\r\n.\r\n", 0, 1, 14,
	    SMTP_DATA_BARE_CR, NULL);
	CASE("CR CR LF", "a\r\r\n.\r\n", 0, 1, 7, SMTP_DATA_BARE_CR, NULL);
	CASE("dot CR CR LF", "a\r\n.\r\r\n.\r\n", 0, 1, 10,
	    SMTP_DATA_BARE_CR, NULL);
	CASE("bare LF first", "\n.\r\n.\r\n", 0, 1, 7, SMTP_DATA_BARE_LF, NULL);
	CASE("dot LF at the start", ".\n.\r\n", 0, 0, 5, SMTP_DATA_BARE_LF, NULL);
	/* the first problem wins */
	CASE("CR then LF problems", "a\rb\nc\r\n.\r\n", 0, 1, 10,
	    SMTP_DATA_BARE_CR, NULL);
	CASE("LF then CR problems", "a\nb\rc\r\n.\r\n", 0, 1, 10,
	    SMTP_DATA_BARE_LF, NULL);
	/* a bad message that never ends is still waiting for its end */
	CASE("bad, no end", "x\n.\n", 0, 0, 4, SMTP_DATA_BARE_LF, NULL);
}

static void
test_nul(void)
{
	static const char in[] = "a\0b\r\n.\r\n";

	check_case("NUL", in, sizeof(in) - 1, 0, 1, 8, SMTP_DATA_NUL, NULL);
}

static char *
make_line(size_t n, char c, const char *before, const char *after)
{
	size_t b = strlen(before), a = strlen(after);
	char *s = malloc(b + n + a + 1);

	memcpy(s, before, b);
	memset(s + b, c, n);
	memcpy(s + b + n, after, a + 1);
	return s;
}

static void
test_long_lines(void)
{
	char *in, *want;
	struct result r;

	/* 998 + CRLF = 1000 octets: legal, stored whole */
	in = make_line(998, 'L', "", "\r\n.\r\n");
	want = make_line(998, 'L', "", "\r\n");
	check_case("998+CRLF", in, strlen(in), 0, 1, strlen(in), SMTP_DATA_OK, want);
	free(in);
	free(want);

	/* 999 + CRLF: refused, end still found */
	in = make_line(999, 'L', "a\r\n", "\r\nb\r\n.\r\n");
	check_case("999+CRLF", in, strlen(in), 0, 1, strlen(in),
	    SMTP_DATA_LONG_LINE, NULL);
	free(in);

	/* a stuffed dot counts: ".": 1 + 998 + CRLF = 1001 octets as sent */
	in = make_line(998, 'L', ".", "\r\n.\r\n");
	check_case("stuffed 1001", in, strlen(in), 0, 1, strlen(in),
	    SMTP_DATA_LONG_LINE, NULL);
	free(in);
	in = make_line(997, 'L', ".", "\r\n.\r\n");
	want = make_line(997, 'L', "", "\r\n");
	check_case("stuffed 1000", in, strlen(in), 0, 1, strlen(in),
	    SMTP_DATA_OK, want);
	free(in);
	free(want);

	/* very long: no split into lines, one error, in sync after */
	in = make_line(300000, 'T', "before\r\n", "\r\nafter\r\n.\r\nRSET\r\n");
	run(in, strlen(in), 0, NULL, 0, &r);
	CHECK_INT(r.ended, 1);
	CHECK_INT(r.used, strlen(in) - 6);
	CHECK_INT(r.error, SMTP_DATA_LONG_LINE);
	free(r.out);
	free(in);
}

static void
test_size(void)
{
	struct result r;
	static const char in[] = "0123456789\r\n.\r\n";	/* 12 octets of content */

	CASE("at the limit", "0123456789\r\n.\r\n", 12, 1, 15, SMTP_DATA_OK,
	    "0123456789\r\n");
	CASE("one over", "0123456789\r\n.\r\n", 11, 1, 15, SMTP_DATA_TOO_BIG, NULL);
	/* the stuffing dot does not count */
	CASE("stuffed at the limit", "..\r\n.\r\n", 3, 1, 7, SMTP_DATA_OK, ".\r\n");

	/* content stops at the first octet over the limit */
	run(in, sizeof(in) - 1, 5, NULL, 0, &r);
	CHECK_INT(r.error, SMTP_DATA_TOO_BIG);
	CHECK_INT(r.ended, 1);
	free(r.out);

	/* a big message: only the end matters, nothing more is emitted */
	{
		size_t n = 3 * 1024 * 1024, i, off = 0;
		char *big = malloc(n + 16);
		struct smtp_data d;
		size_t used;
		struct result c;

		for (i = 0; i + 80 < n; i += 80) {
			memset(big + i, 'x', 78);
			big[i + 78] = '\r';
			big[i + 79] = '\n';
		}
		n = i;
		memcpy(big + n, ".\r\n", 3);
		memset(&c, 0, sizeof(c));
		smtp_data_init(&d, 1024 * 1024);
		while (!smtp_data_feed(&d, big + off, 4096 < n + 3 - off ? 4096 : n + 3 - off,
		    &used, collect, &c))
			off += used;
		CHECK_INT(d.error, SMTP_DATA_TOO_BIG);
		CHECK(c.outlen <= 1024 * 1024);
		CHECK(d.size > 1024 * 1024);
		free(c.out);
		free(big);
	}
}

static void
test_replies(void)
{
	CHECK(strncmp(smtp_data_reply(SMTP_DATA_BARE_LF), "550 5.5.2", 9) == 0);
	CHECK(strncmp(smtp_data_reply(SMTP_DATA_BARE_CR), "550 5.5.2", 9) == 0);
	CHECK(strncmp(smtp_data_reply(SMTP_DATA_LONG_LINE), "500 5.5.2", 9) == 0);
	CHECK(strncmp(smtp_data_reply(SMTP_DATA_TOO_BIG), "552 5.3.4", 9) == 0);
	CHECK(strncmp(smtp_data_reply(SMTP_DATA_NUL), "550 5.6.0", 9) == 0);
	CHECK_STR(smtp_data_reason(SMTP_DATA_BARE_LF), "bare LF");
	CHECK_STR(smtp_data_reason(SMTP_DATA_BARE_CR), "bare CR");
}

int
main(void)
{
	test_basic();
	test_smuggling();
	test_nul();
	test_long_lines();
	test_size();
	test_replies();
	return check_done("test_smtp_data");
}
