/*
 * tests/unit/test_envelope.c - the spool's text formats: envelope round
 * trip with odd bytes, every truncation and a table of corruptions
 * rejected; escaping edge cases; journal records (last wins, bad checksum
 * skipped, torn tail ignored, bad index skipped).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "queue/envelope.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

static const char *odd_rcpts[] = {
	"bob@b.example",
	"a b@c.example",		/* space */
	"x%y@c.example",		/* the escape character */
	"-",				/* the empty marker itself */
	"cr\r\nlf@c.example",		/* line breakers */
	"\x01\x7f\xff@c.example",	/* controls, DEL, high byte */
	"j\xc3\xb6rg@\xe4\xbe\x8b.jp",	/* UTF-8 kept as is */
	"%2D",
};
#define NODD	(sizeof(odd_rcpts) / sizeof(odd_rcpts[0]))

static struct queue_envelope *
make_env(const char *sender)
{
	struct queue_envelope *e = calloc(1, sizeof(*e));
	size_t i;

	strcpy(e->id, "0VA1J8X5TB4K2QM");
	e->arrival = 1767225600;
	e->sender = strdup(sender);
	e->flags = ENV_8BITMIME | ENV_SMTPUTF8;
	e->size = 1234567;
	e->client = strdup("[127.0.0.1]");
	e->helo = strdup("helo with space\tand\ttabs%");
	e->nrcpts = NODD;
	e->rcpts = calloc(NODD, sizeof(*e->rcpts));
	for (i = 0; i < NODD; i++)
		e->rcpts[i].addr = strdup(odd_rcpts[i]);
	return e;
}

static int
env_equal(const struct queue_envelope *a, const struct queue_envelope *b)
{
	size_t i;

	if (strcmp(a->id, b->id) || a->arrival != b->arrival ||
	    strcmp(a->sender, b->sender) || a->flags != b->flags ||
	    a->size != b->size || strcmp(a->client, b->client) ||
	    strcmp(a->helo, b->helo) || a->nrcpts != b->nrcpts)
		return 0;
	for (i = 0; i < a->nrcpts; i++)
		if (strcmp(a->rcpts[i].addr, b->rcpts[i].addr) != 0 ||
		    b->rcpts[i].state != RCPT_PENDING)
			return 0;
	return 1;
}

static void
test_round_trip(void)
{
	struct queue_envelope	*e, *d = NULL;
	char			*buf, *full, err[128], digits[ENVELOPE_SIZE_WIDTH];
	size_t			 len, off, hdrlen = 0, i, lines = 0;
	int			 raw_bad = 0, r;
	const char		*senders[] = { "alice@a.example", "" };
	unsigned		 s;

	for (s = 0; s < 2; s++) {
		e = make_env(senders[s]);
		buf = envelope_encode(e, &len, &off);
		/* No value byte may break the line structure. */
		for (i = 0; i < len; i++) {
			unsigned char c = (unsigned char)buf[i];

			if (c == '\n')
				lines++;
			else if (c < 0x20 || c == 0x7f)
				raw_bad++;
		}
		CHECK_INT(raw_bad, 0);
		CHECK_INT(lines, 8 + NODD + 1);
		lines = 0;
		CHECK(memcmp(buf + off, "00000000000001234567", 20) == 0);

		/* Followed by content that looks like an envelope itself. */
		full = malloc(len + 64);
		memcpy(full, buf, len);
		memcpy(full + len, "end\nrcpt evil@x\n\0\r\n", 20);
		r = envelope_decode(full, len + 20, &d, &hdrlen, err, sizeof(err));
		CHECK_INT(r, 1);
		CHECK_INT(hdrlen, len);
		CHECK(d != NULL && env_equal(e, d));
		if (d != NULL)
			CHECK_STR(d->sender, senders[s]);
		queue_envelope_free(d);
		d = NULL;

		/* Every strict prefix is incomplete, never a message. */
		for (i = 0, r = 0; i < len; i++)
			if (envelope_decode(buf, i, &d, &hdrlen, err,
			    sizeof(err)) != 0)
				r++;
		CHECK_INT(r, 0);

		/* The size patched in place later, as the writer does. */
		envelope_format_size(digits, 42);
		memcpy(buf + off, digits, sizeof(digits));
		CHECK_INT(envelope_decode(buf, len, &d, &hdrlen, err,
		    sizeof(err)), 1);
		CHECK(d != NULL && d->size == 42);
		queue_envelope_free(d);
		d = NULL;

		/* dup is deep and equal. */
		d = queue_envelope_dup(e);
		CHECK(env_equal(e, d));
		CHECK(d->rcpts[0].addr != e->rcpts[0].addr);
		queue_envelope_free(d);
		d = NULL;

		free(full);
		free(buf);
		queue_envelope_free(e);
	}
}

static const char good[] =
    "danerelay-queue 1\n"
    "id 0VA1J8X5TB4K2QM\n"
    "arrival 1767225600\n"
    "sender a@b\n"
    "flags 1\n"
    "size 00000000000000000005\n"
    "client [127.0.0.1]\n"
    "helo h\n"
    "rcpt r@x\n"
    "end\n";

static const struct {
	const char *from, *to;		/* replace first occurrence */
} corruptions[] = {
	{ "danerelay-queue 1\n", "danerelay-queue 2\n" },
	{ "danerelay-queue 1\n", "" },
	{ "id 0VA1J8X5TB4K2QM", "id 0VA1J8X5TB4K2Q" },
	{ "id 0VA1J8X5TB4K2QM", "id ../../../etc/x" },
	{ "arrival 1767225600", "arrival -1" },
	{ "arrival 1767225600", "arrival 99999999999999999999" },
	{ "arrival 1767225600", "arrival" },
	/* Leading zeros: the encoder never writes them (fuzz_envelope). */
	{ "arrival 1767225600", "arrival 0159094091" },
	{ "arrival 1767225600", "arrival 00" },
	{ "flags 1", "flags 01" },
	{ "sender a@b", "sender a b" },
	{ "sender a@b", "sender " },
	{ "sender a@b", "sender a%zzb" },
	{ "sender a@b", "sender a%0ab" },		/* lower-case hex */
	{ "sender a@b", "sender a%41b" },		/* needless escape */
	{ "sender a@b", "sender a%00b" },
	{ "sender a@b", "sender a\rb" },
	{ "sender a@b", "sender a%4" },
	{ "flags 1", "flags 64" },
	{ "flags 1", "flags x" },
	{ "size 00000000000000000005", "size 5" },
	{ "size 00000000000000000005", "size 0000000000000000000x" },
	{ "client [127.0.0.1]\n", "" },			/* missing line */
	{ "client [127.0.0.1]\nhelo h\n", "helo h\nclient [127.0.0.1]\n" },
	{ "helo h\n", "helo h\nbogus line\n" },
	{ "rcpt r@x\n", "" },				/* no recipients */
	{ "rcpt r@x\n", "rcpt -\n" },			/* empty recipient */
	{ "rcpt r@x\n", "rcpt r@x\nRCPT s@x\n" },
	{ "rcpt r@x\n", "rcpt r@x\nend \n" },
};

static void
test_corrupt(void)
{
	struct queue_envelope	*d = NULL;
	char			 buf[1024], err[128];
	size_t			 i, hdrlen, fl, tl;
	const char		*p;
	int			 r;

	r = envelope_decode(good, strlen(good), &d, &hdrlen, err, sizeof(err));
	CHECK_INT(r, 1);
	queue_envelope_free(d);
	d = NULL;

	for (i = 0; i < sizeof(corruptions) / sizeof(corruptions[0]); i++) {
		p = strstr(good, corruptions[i].from);
		fl = strlen(corruptions[i].from);
		tl = strlen(corruptions[i].to);
		CHECK(p != NULL);
		if (p == NULL)
			continue;
		memcpy(buf, good, (size_t)(p - good));
		memcpy(buf + (p - good), corruptions[i].to, tl);
		strcpy(buf + (p - good) + tl, p + fl);
		err[0] = '\0';
		r = envelope_decode(buf, strlen(buf), &d, &hdrlen, err,
		    sizeof(err));
		if (r != -1)
			fprintf(stderr, "corruption %zu not rejected: %s\n", i,
			    corruptions[i].to);
		CHECK_INT(r, -1);
		CHECK(err[0] != '\0');
		if (r == 1)
			queue_envelope_free(d);
		d = NULL;
	}

	/* Binary garbage and an endless first line. */
	memset(buf, 0xff, sizeof(buf));
	buf[100] = '\n';
	CHECK_INT(envelope_decode(buf, sizeof(buf), &d, &hdrlen, err,
	    sizeof(err)), -1);
}

static void
test_escape(void)
{
	char	*buf = NULL, *u;
	size_t	 len = 0, cap = 0;

	envelope_escape(&buf, &len, &cap, "");
	CHECK_STR(buf, "-");
	len = 0;
	envelope_escape(&buf, &len, &cap, NULL);
	CHECK_STR(buf, "-");
	len = 0;
	envelope_escape(&buf, &len, &cap, "-");
	CHECK_STR(buf, "%2D");
	len = 0;
	envelope_escape(&buf, &len, &cap, "a-b c%\r\n\x7f\xc3\xa9");
	CHECK_STR(buf, "a-b%20c%25%0D%0A%7F\xc3\xa9");
	free(buf);

	u = envelope_unescape("-", 1);
	CHECK_STR(u, "");
	free(u);
	u = envelope_unescape("%2D", 3);
	CHECK_STR(u, "-");
	free(u);
	u = envelope_unescape("a%2Db", 5);	/* not what the encoder makes */
	CHECK(u == NULL);
	u = envelope_unescape("a%20b", 5);
	CHECK_STR(u, "a b");
	free(u);
	CHECK(envelope_unescape("", 0) == NULL);
	CHECK(envelope_unescape("%", 1) == NULL);
	CHECK(envelope_unescape("%2", 2) == NULL);
	CHECK(envelope_unescape("a b", 3) == NULL);
}

static void
test_journal(void)
{
	struct queue_envelope	*e;
	struct journal_result	 res;
	struct journal_rec	 r = { 0 };
	char			*l1, *l2, *l3, *l4, *bad, *buf;
	size_t			 n1, n2, n3, n4, nb, len;
	const char		*err = "4.7.5 no\r\nTLSA %match\x01 -";

	CHECK_INT(envelope_crc32("123456789", 9), 0xcbf43926u);

	e = make_env("a@b");
	r.idx = 1;
	r.state = RCPT_DEFERRED;
	r.attempts = 1;
	r.next_attempt = 1767225900;
	r.error = err;
	l1 = journal_encode(&r, &n1);
	CHECK(n1 > 0 && l1[n1 - 1] == '\n' && memchr(l1, '\n', n1 - 1) == NULL);
	r.attempts = 2;
	r.next_attempt = 1767226500;
	l2 = journal_encode(&r, &n2);
	r.idx = 0;
	r.state = RCPT_DELIVERED;
	r.attempts = 1;
	r.next_attempt = 0;
	r.error = NULL;
	l3 = journal_encode(&r, &n3);
	r.idx = NODD;			/* out of range */
	l4 = journal_encode(&r, &n4);
	/* A record whose checksum no longer matches (one flipped digit). */
	r.idx = 2;
	r.state = RCPT_BOUNCED;
	bad = journal_encode(&r, &nb);
	bad[4] = bad[4] == 'b' ? 'd' : 'b';

	len = n1 + n2 + nb + n3 + n4 + 1 + 20;
	buf = malloc(len);
	len = 0;
	memcpy(buf + len, l1, n1), len += n1;
	memcpy(buf + len, l2, n2), len += n2;
	memcpy(buf + len, bad, nb), len += nb;
	memcpy(buf + len, l3, n3), len += n3;
	memcpy(buf + len, l4, n4), len += n4;
	memcpy(buf + len, "\n", 1), len += 1;		/* guard LF */
	memcpy(buf + len, l1, 20), len += 20;		/* torn tail */

	journal_apply(e, buf, len, &res);
	CHECK_INT(res.applied, 3);
	CHECK_INT(res.bad, 2);
	CHECK(res.torn);
	CHECK_INT(res.good_len, len - 20);
	CHECK_INT(e->rcpts[1].state, RCPT_DEFERRED);
	CHECK_INT(e->rcpts[1].attempts, 2);		/* last one won */
	CHECK_INT(e->rcpts[1].next_attempt, 1767226500);
	CHECK_STR(e->rcpts[1].last_error, err);		/* odd bytes kept */
	CHECK_INT(e->rcpts[0].state, RCPT_DELIVERED);
	CHECK(e->rcpts[0].last_error == NULL);
	CHECK_INT(e->rcpts[2].state, RCPT_PENDING);	/* bad record ignored */

	/* A flipped byte anywhere in a record rejects it. */
	{
		size_t i;
		unsigned accepted = 0;

		for (i = 0; i + 1 < n1; i++) {
			struct queue_envelope *f = make_env("a@b");

			l1[i] ^= 0x01;
			journal_apply(f, l1, n1, &res);
			accepted += res.applied;
			l1[i] ^= 0x01;
			queue_envelope_free(f);
		}
		CHECK_INT(accepted, 0);
	}

	/* Non-canonical numbers with a correct checksum (fuzz_envelope). */
	{
		static const char *const lines[] = {
			"R 01 delivered 1 0 -", "R 1 delivered 01 0 -",
			"R 1 delivered 1 00 -", "R 1 delivered 1 0 -",
		};
		char line[128];
		size_t i;

		for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
			struct queue_envelope *f = make_env("a@b");
			int n = snprintf(line, sizeof(line), "%s %08x\n",
			    lines[i], (unsigned)envelope_crc32(lines[i],
			    strlen(lines[i])));

			journal_apply(f, line, (size_t)n, &res);
			/* only the last, canonical one applies */
			CHECK_INT(res.applied, i == 3 ? 1 : 0);
			CHECK_INT(res.bad, i == 3 ? 0 : 1);
			queue_envelope_free(f);
		}
	}

	CHECK_STR(queue_rcpt_state_name(RCPT_BOUNCED), "bounced");
	free(l1);
	free(l2);
	free(l3);
	free(l4);
	free(bad);
	free(buf);
	queue_envelope_free(e);
}

int
main(void)
{
	test_round_trip();
	test_corrupt();
	test_escape();
	test_journal();
	return check_done("test_envelope");
}
