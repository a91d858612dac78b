/*
 * tests/unit/test_check_ns.c - relay/check_ns.c's reply parser, which
 * reads what a name server sends (`danerelay check --ns`): TLSA records
 * of the owner (case-insensitive, through a compression pointer) are
 * collected sorted, other owners and types are not, an error rcode is an
 * error, and hostile messages (pointer loops, lengths past the end, a
 * wrong id, a query instead of a response) are refused without reading
 * out of bounds (run under ASan).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/check_ns.h"
#include "tests/unit/check.h"

#include <stdlib.h>

static void
srv_free(struct check_ns_server *s)
{
	size_t i;

	for (i = 0; i < s->nrr; i++)
		free(s->rr[i]);
	free(s->rr);
	memset(s, 0, sizeof(*s));
}

/* header: id 0x1234, QR AA, rcode, 1 question, an answers */
static size_t
header(unsigned char *m, int flags2, int rcode, int an)
{
	m[0] = 0x12; m[1] = 0x34;
	m[2] = 0x80 | flags2;		/* QR + (AA 0x04, TC 0x02) */
	m[3] = (unsigned char)rcode;
	m[4] = 0; m[5] = 1;
	m[6] = 0; m[7] = (unsigned char)an;
	m[8] = m[9] = m[10] = m[11] = 0;
	return 12;
}

static size_t
put_name(unsigned char *m, size_t o, const char *const *labels)
{
	for (; *labels != NULL; labels++) {
		size_t l = strlen(*labels);

		m[o++] = (unsigned char)l;
		memcpy(m + o, *labels, l);
		o += l;
	}
	m[o++] = 0;
	return o;
}

/* an answer record: name pointer ptr, type, ttl 3600, rdata */
static size_t
put_rr(unsigned char *m, size_t o, int ptr, int type, const unsigned char *rd,
    size_t rdlen)
{
	m[o++] = 0xc0 | (ptr >> 8);
	m[o++] = ptr & 0xff;
	m[o++] = 0; m[o++] = (unsigned char)type;
	m[o++] = 0; m[o++] = 1;
	m[o++] = 0; m[o++] = 0; m[o++] = 0x0e; m[o++] = 0x10;
	m[o++] = 0; m[o++] = (unsigned char)rdlen;
	memcpy(m + o, rd, rdlen);
	return o + rdlen;
}

static const char *const owner_l[] = { "_25", "_tcp", "MX", "example", NULL };
static const char *const other_l[] = { "other", "example", NULL };

static void
test_good(void)
{
	unsigned char m[512];
	static const unsigned char t1[] = { 3, 1, 1, 0xbb, 0xcc };
	static const unsigned char t2[] = { 2, 0, 1, 0xaa };
	static const unsigned char a[] = { 192, 0, 2, 1 };
	struct check_ns_server s;
	size_t o, q, other;
	bool tc = true;

	memset(&s, 0, sizeof(s));
	o = header(m, 0x04, 0, 5);
	q = o;
	o = put_name(m, o, owner_l);
	m[o++] = 0; m[o++] = 52; m[o++] = 0; m[o++] = 1;
	o = put_rr(m, o, (int)q, 52, t1, sizeof(t1));
	o = put_rr(m, o, (int)q, 52, t2, sizeof(t2));
	o = put_rr(m, o, (int)q, 1, a, sizeof(a));	/* other type */
	/* a TLSA of another owner, written out, then pointed to */
	other = o;
	o = put_name(m, o, other_l);
	m[o++] = 0; m[o++] = 52; m[o++] = 0; m[o++] = 1;
	m[o++] = 0; m[o++] = 0; m[o++] = 0; m[o++] = 60;
	m[o++] = 0; m[o++] = sizeof(t1);
	memcpy(m + o, t1, sizeof(t1));
	o += sizeof(t1);
	o = put_rr(m, o, (int)other, 52, t2, sizeof(t2));
	CHECK_INT(check_ns_parse(m, o, 0x1234, "_25._tcp.mx.example", &s, &tc), 0);
	CHECK(!tc);
	CHECK(s.aa);
	CHECK_INT(s.rcode, 0);
	CHECK_INT(s.ttl, 3600);
	CHECK_INT(s.nrr, 2);
	if (s.nrr == 2) {
		CHECK_STR(s.rr[0], "2 0 1 aa");
		CHECK_STR(s.rr[1], "3 1 1 bbcc");
	}
	srv_free(&s);

	/* truncated, not authoritative, NXDOMAIN: answered, no records */
	o = header(m, 0x02, 3, 0);
	o = put_name(m, o, owner_l);
	m[o++] = 0; m[o++] = 52; m[o++] = 0; m[o++] = 1;
	CHECK_INT(check_ns_parse(m, o, 0x1234, "_25._tcp.mx.example", &s, &tc), 0);
	CHECK(tc);
	CHECK(!s.aa);
	CHECK_INT(s.nrr, 0);
	srv_free(&s);
}

static void
test_bad(void)
{
	unsigned char m[512];
	struct check_ns_server s;
	size_t o, q;
	bool tc;

	memset(&s, 0, sizeof(s));
	/* SERVFAIL and REFUSED are errors */
	o = header(m, 0, 2, 0);
	o = put_name(m, o, owner_l);
	m[o++] = 0; m[o++] = 52; m[o++] = 0; m[o++] = 1;
	CHECK_INT(check_ns_parse(m, o, 0x1234, "_25._tcp.mx.example", &s, &tc), -1);
	CHECK(strstr(s.err, "SERVFAIL") != NULL);
	srv_free(&s);
	m[3] = 5;
	CHECK_INT(check_ns_parse(m, o, 0x1234, "_25._tcp.mx.example", &s, &tc), -1);
	CHECK(strstr(s.err, "REFUSED") != NULL);
	srv_free(&s);
	/* another id; a query (QR clear); too short */
	m[3] = 0;
	CHECK_INT(check_ns_parse(m, o, 0x1235, "_25._tcp.mx.example", &s, &tc), -1);
	srv_free(&s);
	m[2] &= 0x7f;
	CHECK_INT(check_ns_parse(m, o, 0x1234, "_25._tcp.mx.example", &s, &tc), -1);
	srv_free(&s);
	CHECK_INT(check_ns_parse(m, 11, 0x1234, "_25._tcp.mx.example", &s, &tc), -1);
	srv_free(&s);

	/* a pointer loop in the question */
	o = header(m, 0x04, 0, 0);
	m[o++] = 0xc0; m[o++] = 12;		/* points at itself */
	m[o++] = 0; m[o++] = 52; m[o++] = 0; m[o++] = 1;
	CHECK_INT(check_ns_parse(m, o, 0x1234, "_25._tcp.mx.example", &s, &tc), -1);
	CHECK(strstr(s.err, "malformed") != NULL);
	srv_free(&s);

	/* an answer whose rdata runs past the end */
	o = header(m, 0x04, 0, 1);
	q = o;
	o = put_name(m, o, owner_l);
	m[o++] = 0; m[o++] = 52; m[o++] = 0; m[o++] = 1;
	o = put_rr(m, o, (int)q, 52, (const unsigned char *)"\3\1\1\xaa", 4);
	m[o - 5] = 200;				/* rdlength 200 */
	CHECK_INT(check_ns_parse(m, o, 0x1234, "_25._tcp.mx.example", &s, &tc), -1);
	CHECK_INT(s.nrr, 0);
	srv_free(&s);

	/* a label length past the end of the message */
	o = header(m, 0x04, 0, 0);
	m[o++] = 60;
	m[o++] = 'a';
	CHECK_INT(check_ns_parse(m, o, 0x1234, "_25._tcp.mx.example", &s, &tc), -1);
	srv_free(&s);
}

int
main(void)
{
	test_good();
	test_bad();
	return check_done("test_check_ns");
}
