/*
 * tests/unit/test_smtp_parse.c - relay/smtp_parse.c: verbs, MAIL/RCPT paths
 * (null sender, quoted local parts, source routes, address literals,
 * UTF-8 only with SMTPUTF8, length limits), ESMTP parameters and EHLO
 * names. Table-driven: each row gives the input and the reply wanted
 * (NULL = accepted) and, when accepted, the address kept.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/smtp_parse.h"
#include "tests/unit/check.h"

#include <stdlib.h>

struct path_case {
	const char	*args;
	const char	*want_reply;	/* prefix of the reply; NULL: accepted */
	const char	*want_addr;
};

static const struct path_case mail_cases[] = {
	{ "FROM:<a@b.example>", NULL, "a@b.example" },
	{ "from:<a@b.example>", NULL, "a@b.example" },
	{ "FROM: <a@b.example>", NULL, "a@b.example" },
	{ "FROM:<>", NULL, "" },
	{ "FROM:<> SIZE=100", NULL, "" },
	{ "FROM:<a.b.c@x-y.example>", NULL, "a.b.c@x-y.example" },
	{ "FROM:<\"john doe\"@b.example>", NULL, "\"john doe\"@b.example" },
	{ "FROM:<\"a\\\"b\"@b.example>", NULL, "\"a\\\"b\"@b.example" },
	{ "FROM:<\"a@b\"@c.example>", NULL, "\"a@b\"@c.example" },
	{ "FROM:<a+tag@[192.0.2.1]>", NULL, "a+tag@[192.0.2.1]" },
	{ "FROM:<a@[IPv6:2001:db8::1]>", NULL, "a@[IPv6:2001:db8::1]" },
	{ "FROM:<@r1.example,@r2.example:a@b.example>", NULL, "a@b.example" },
	{ "FROM:<!#$%&'*+-/=?^_`{|}~@b.example>", NULL, "!#$%&'*+-/=?^_`{|}~@b.example" },
	{ "FROM:<a@b.example> BODY=8BITMIME", NULL, "a@b.example" },
	{ "FROM:<a@b.example> body=7bit", NULL, "a@b.example" },
	{ "FROM:<a@b.example>  SIZE=5  SMTPUTF8", NULL, "a@b.example" },
	{ "FROM:<j\xc3\xb6rg@b.example> SMTPUTF8", NULL, "j\xc3\xb6rg@b.example" },
	{ "FROM:<a@b\xc3\xbc.example> SMTPUTF8", NULL, "a@b\xc3\xbc.example" },
	/* syntax */
	{ "FROM:a@b.example", "501 5.5.4", NULL },
	{ "FROM <a@b.example>", "501 5.5.4", NULL },
	{ "TO:<a@b.example>", "501 5.5.4", NULL },
	{ "", "501 5.5.4", NULL },
	{ "FROM:<a@b.example", "501 5.1.7", NULL },
	{ "FROM:<a@b.example>x", "501 5.5.4", NULL },
	{ "FROM:<a>", "501 5.1.7", NULL },
	{ "FROM:<@b.example>", "501 5.1.7", NULL },
	{ "FROM:<a@>", "501 5.1.7", NULL },
	{ "FROM:<a..b@c.example>", "501 5.1.7", NULL },
	{ "FROM:<.a@c.example>", "501 5.1.7", NULL },
	{ "FROM:<a.@c.example>", "501 5.1.7", NULL },
	{ "FROM:<a b@c.example>", "501 5.1.7", NULL },
	{ "FROM:<a@-c.example>", "501 5.1.7", NULL },
	{ "FROM:<a@c-.example>", "501 5.1.7", NULL },
	{ "FROM:<a@c..example>", "501 5.1.7", NULL },
	{ "FROM:<a@c.example.>", "501 5.1.7", NULL },
	{ "FROM:<a@[192.0.2.300]>", "501 5.1.7", NULL },
	{ "FROM:<a@[IPv6:zz::1]>", "501 5.1.7", NULL },
	{ "FROM:<a@[192.0.2.1>", "501 5.1.7", NULL },
	{ "FROM:<\"unterminated@b.example>", "501 5.1.7", NULL },
	{ "FROM:<\"a\tb\"@b.example>", "501 5.1.7", NULL },
	{ "FROM:<a<b@c.example>", "501 5.1.7", NULL },
	{ "FROM:<a@b.example>>", "501 5.5.4", NULL },
	{ "FROM:<@r1.example:>", "501 5.1.7", NULL },
	{ "FROM:<@r1.example;a@b.example>", "501 5.1.7", NULL },
	/* UTF-8 */
	{ "FROM:<j\xc3\xb6rg@b.example>", "553 5.6.7", NULL },
	{ "FROM:<a@b\xc3\xbc.example>", "553 5.6.7", NULL },
	{ "FROM:<j\xc3rg@b.example> SMTPUTF8", "501 5.1.7", NULL },	/* truncated sequence */
	{ "FROM:<j\xc0\xafrg@b.example> SMTPUTF8", "501 5.1.7", NULL },	/* overlong */
	{ "FROM:<j\xed\xa0\x80rg@b.example> SMTPUTF8", "501 5.1.7", NULL },	/* surrogate */
	{ "FROM:<j\xff@b.example> SMTPUTF8", "501 5.1.7", NULL },
	/* parameters */
	{ "FROM:<a@b.example> FOO=bar", "555 5.5.4", NULL },
	{ "FROM:<a@b.example> RET=HDRS", "555 5.5.4", NULL },
	{ "FROM:<a@b.example> BODY=BINARYMIME", "555 5.5.4", NULL },
	{ "FROM:<a@b.example> BODY=", "501 5.5.4", NULL },
	{ "FROM:<a@b.example> BODY", "501 5.5.4", NULL },
	{ "FROM:<a@b.example> SIZE=", "501 5.5.4", NULL },
	{ "FROM:<a@b.example> SIZE", "501 5.5.4", NULL },
	{ "FROM:<a@b.example> SIZE=12a", "501 5.5.4", NULL },
	{ "FROM:<a@b.example> SIZE=-1", "501 5.5.4", NULL },
	{ "FROM:<a@b.example> SIZE=1 SIZE=2", "501 5.5.4", NULL },
	{ "FROM:<a@b.example> BODY=7BIT BODY=8BITMIME", "501 5.5.4", NULL },
	{ "FROM:<a@b.example> SMTPUTF8=yes", "501 5.5.4", NULL },
	{ "FROM:<a@b.example> SMTPUTF8 SMTPUTF8", "501 5.5.4", NULL },
	{ "FROM:<a@b.example> =x", "501 5.5.4", NULL },
	{ "FROM:<a@b.example> -X", "501 5.5.4", NULL },
	{ "FROM:<a@b.example> SIZE=1=2", "501 5.5.4", NULL },
};

static const struct path_case rcpt_cases[] = {
	{ "TO:<r@b.example>", NULL, "r@b.example" },
	{ "to:<r@b.example>", NULL, "r@b.example" },
	{ "TO: <r@b.example> ", NULL, "r@b.example" },
	{ "TO:<\"r r\"@b.example>", NULL, "\"r r\"@b.example" },
	{ "TO:<@hop.example:r@b.example>", NULL, "r@b.example" },
	{ "TO:<>", "501 5.1.3", NULL },
	{ "TO:<Postmaster>", "501 5.1.3", NULL },
	{ "TO:r@b.example", "501 5.5.4", NULL },
	{ "FROM:<r@b.example>", "501 5.5.4", NULL },
	{ "TO:<r@b.example> NOTIFY=NEVER", "555 5.5.4", NULL },
	{ "TO:<r@b.example> SIZE=1", "555 5.5.4", NULL },
	{ "TO:<r\xc3\xa9@b.example>", "553 5.6.7", NULL },
};

static void
test_paths(void)
{
	struct smtp_path p;
	size_t i;
	const char *r;

	for (i = 0; i < sizeof(mail_cases) / sizeof(mail_cases[0]); i++) {
		const struct path_case *c = &mail_cases[i];

		r = smtp_parse_mail(c->args, &p);
		if (c->want_reply == NULL) {
			if (r != NULL)
				fprintf(stderr, "MAIL %s: unexpected %s\n", c->args, r);
			CHECK_STR(r, NULL);
			CHECK_STR(p.addr, c->want_addr);
		} else {
			if (r == NULL || strncmp(r, c->want_reply, strlen(c->want_reply)) != 0)
				fprintf(stderr, "MAIL %s: got %s, want %s\n",
				    c->args, r ? r : "(accepted)", c->want_reply);
			CHECK(r != NULL && strncmp(r, c->want_reply,
			    strlen(c->want_reply)) == 0);
		}
	}
	for (i = 0; i < sizeof(rcpt_cases) / sizeof(rcpt_cases[0]); i++) {
		const struct path_case *c = &rcpt_cases[i];

		r = smtp_parse_rcpt(c->args, false, &p);
		if (c->want_reply == NULL) {
			if (r != NULL)
				fprintf(stderr, "RCPT %s: unexpected %s\n", c->args, r);
			CHECK_STR(r, NULL);
			CHECK_STR(p.addr, c->want_addr);
		} else {
			if (r == NULL || strncmp(r, c->want_reply, strlen(c->want_reply)) != 0)
				fprintf(stderr, "RCPT %s: got %s, want %s\n",
				    c->args, r ? r : "(accepted)", c->want_reply);
			CHECK(r != NULL && strncmp(r, c->want_reply,
			    strlen(c->want_reply)) == 0);
		}
	}
	/* the same UTF-8 recipient is fine once SMTPUTF8 was declared */
	CHECK_STR(smtp_parse_rcpt("TO:<r\xc3\xa9@b.example>", true, &p), NULL);
	CHECK_STR(p.addr, "r\xc3\xa9@b.example");
	CHECK(p.utf8);
	/*
	 * UTF-8 in a source route that is dropped still needs SMTPUTF8
	 * (RFC 6531 3.3: the whole path), though addr is ASCII (found by
	 * fuzz_smtp_parse, which had assumed utf8 spoke of addr alone).
	 */
	memset(&p, 0, sizeof(p));
	CHECK_STR(smtp_parse_rcpt("TO:<@\xd2\x97:u@e>", false, &p),
	    "553 5.6.7 Non-ASCII address requires SMTPUTF8");
	memset(&p, 0, sizeof(p));
	CHECK_STR(smtp_parse_rcpt("TO:<@\xd2\x97:u@e>", true, &p), NULL);
	CHECK_STR(p.addr, "u@e");
	CHECK(p.utf8);
}

static void
test_params(void)
{
	struct smtp_path p;

	CHECK_STR(smtp_parse_mail("FROM:<a@b.example> SIZE=12345 BODY=8BITMIME SMTPUTF8", &p), NULL);
	CHECK(p.has_size);
	CHECK_INT(p.size, 12345);
	CHECK_INT(p.body, SMTP_BODY_8BITMIME);
	CHECK(p.smtputf8);
	CHECK(!p.utf8);

	CHECK_STR(smtp_parse_mail("FROM:<a@b.example>", &p), NULL);
	CHECK(!p.has_size);
	CHECK_INT(p.body, SMTP_BODY_NONE);
	CHECK(!p.smtputf8);

	CHECK_STR(smtp_parse_mail("FROM:<a@b.example> body=7BIT", &p), NULL);
	CHECK_INT(p.body, SMTP_BODY_7BIT);

	/* a size beyond 64 bits saturates: it is simply too big */
	CHECK_STR(smtp_parse_mail("FROM:<a@b.example> SIZE=99999999999999999999999", &p), NULL);
	CHECK(p.size == UINT64_MAX);
	CHECK_STR(smtp_parse_mail("FROM:<a@b.example> SIZE=0", &p), NULL);
	CHECK_INT(p.size, 0);
}

static void
test_lengths(void)
{
	struct smtp_path p;
	char args[700], local[80], domain[300];
	const char *r;
	size_t i;

	/* local part: 64 ok, 65 too long */
	memset(local, 'l', 64);
	local[64] = '\0';
	snprintf(args, sizeof(args), "FROM:<%s@b.example>", local);
	CHECK_STR(smtp_parse_mail(args, &p), NULL);
	snprintf(args, sizeof(args), "FROM:<%sl@b.example>", local);
	r = smtp_parse_mail(args, &p);
	CHECK(r != NULL && strncmp(r, "501 5.1.7", 9) == 0);
	snprintf(args, sizeof(args), "TO:<%sl@b.example>", local);
	r = smtp_parse_rcpt(args, false, &p);
	CHECK(r != NULL && strncmp(r, "501 5.1.3", 9) == 0);

	/* a label over 63 octets is bad syntax */
	memset(domain, 'd', 64);
	strcpy(domain + 64, ".example");
	snprintf(args, sizeof(args), "FROM:<a@%s>", domain);
	CHECK(smtp_parse_mail(args, &p) != NULL);

	/* a path over 256 octets: 64 + 1 + 4 labels of 60 + dots */
	domain[0] = '\0';
	for (i = 0; i < 4; i++) {
		memset(local, 'a' + (int)i, 60);
		local[60] = '\0';
		strcat(domain, local);
		strcat(domain, ".");
	}
	strcat(domain, "example");	/* 251 octets */
	memset(local, 'l', 64);
	local[64] = '\0';
	snprintf(args, sizeof(args), "FROM:<%s@%s>", local, domain);
	r = smtp_parse_mail(args, &p);
	CHECK(r != NULL && strncmp(r, "501 5.1.7", 9) == 0);
	snprintf(args, sizeof(args), "FROM:<l@%s>", domain);
	CHECK_STR(smtp_parse_mail(args, &p), NULL);
	CHECK_INT(strlen(p.addr), 253);
}

static void
test_verbs(void)
{
	char verb[SMTP_VERB_MAX];
	const char *args;

	CHECK_INT(smtp_parse_verb("MAIL FROM:<a@b>", verb, &args), 0);
	CHECK_STR(verb, "MAIL");
	CHECK_STR(args, "FROM:<a@b>");
	CHECK_INT(smtp_parse_verb("ehlo  client.test", verb, &args), 0);
	CHECK_STR(verb, "EHLO");
	CHECK_STR(args, "client.test");
	CHECK_INT(smtp_parse_verb("QUIT", verb, &args), 0);
	CHECK_STR(verb, "QUIT");
	CHECK_STR(args, "");
	CHECK_INT(smtp_parse_verb("StartTLS", verb, &args), 0);
	CHECK_STR(verb, "STARTTLS");
	CHECK_INT(smtp_parse_verb("", verb, &args), -1);
	CHECK_INT(smtp_parse_verb(" NOOP", verb, &args), -1);
	CHECK_INT(smtp_parse_verb("NOOP:", verb, &args), -1);
	CHECK_INT(smtp_parse_verb("MAIL:FROM", verb, &args), -1);
	CHECK_INT(smtp_parse_verb("ABCDEFGHIJKLMNOPQ", verb, &args), -1);
	CHECK_INT(smtp_parse_verb("X1 y", verb, &args), -1);
}

static void
test_helo(void)
{
	char out[64];

	CHECK_STR(smtp_parse_helo("client.test"), NULL);
	CHECK_STR(smtp_parse_helo("[192.0.2.1]"), NULL);
	CHECK_STR(smtp_parse_helo("[IPv6:::1]"), NULL);
	CHECK_STR(smtp_parse_helo("client.test some comment"), NULL);
	CHECK(smtp_parse_helo("") != NULL);
	CHECK(smtp_parse_helo("bad\x01name") != NULL);
	CHECK(smtp_parse_helo("caf\xc3\xa9.test") != NULL);

	smtp_helo_for_header("a(b)c<d>;e\\\"f g", out, sizeof(out));
	CHECK_STR(out, "a?b?c?d??e??f");
	smtp_helo_for_header("client.test", out, 5);
	CHECK_STR(out, "clie");
}

static void
test_reply_code(void)
{
	CHECK_INT(smtp_reply_code("250 2.0.0 Ok"), 250);
	CHECK_INT(smtp_reply_code("554 5.7.1 no"), 554);
	CHECK_INT(smtp_reply_code("25"), 0);
	CHECK_INT(smtp_reply_code("650 x"), 0);
	CHECK_INT(smtp_reply_code("x50"), 0);
}

int
main(void)
{
	test_verbs();
	test_paths();
	test_params();
	test_lengths();
	test_helo();
	test_reply_code();
	return check_done("test_smtp_parse");
}
