/*
 * tests/unit/test_resolver_rr.c - resolver/rr.c: rdata decoders on good
 * and hostile input (truncated, compression pointers, long labels, junk),
 * name normalization, TLSA usability, address helpers.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "resolver/rr.h"
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static void
test_names(void)
{
	static const unsigned char w1[] = "\3mx1\7Example\4TEST";	/* + NUL = root */
	static const unsigned char root[] = { 0 };
	static const unsigned char ptr[] = { 3, 'a', 'b', 'c', 0xc0, 0x0c };
	static const unsigned char trunc[] = { 5, 'a', 'b' };
	static const unsigned char nolast[] = { 1, 'a' };
	static const unsigned char odd[] = { 3, 'a', '.', 0x01, 1, '\\', 0 };
	unsigned char	 big[300], lab64[70];
	size_t		 used, i;
	char		*s;

	s = rr_name_decode(w1, sizeof(w1), &used);
	CHECK_STR(s, "mx1.example.test");
	CHECK_INT(used, sizeof(w1));
	free(s);

	s = rr_name_decode(root, 1, &used);
	CHECK_STR(s, ".");
	CHECK_INT(used, 1);
	free(s);

	CHECK(rr_name_decode(ptr, sizeof(ptr), &used) == NULL);
	CHECK(rr_name_decode(trunc, sizeof(trunc), &used) == NULL);
	CHECK(rr_name_decode(nolast, sizeof(nolast), &used) == NULL);
	CHECK(rr_name_decode(root, 0, &used) == NULL);

	s = rr_name_decode(odd, sizeof(odd), &used);
	CHECK_STR(s, "a\\.\\001.\\\\");
	free(s);

	/* a 64-octet label */
	lab64[0] = 64;
	memset(lab64 + 1, 'a', 64);
	lab64[65] = 0;
	CHECK(rr_name_decode(lab64, 66, &used) == NULL);

	/* 4 labels of 63 + root = 257 octets > 255 */
	for (i = 0; i < 4; i++) {
		big[i * 64] = 63;
		memset(big + i * 64 + 1, 'b', 63);
	}
	big[256] = 0;
	CHECK(rr_name_decode(big, 257, &used) == NULL);
	/* 3 x 63 + 1 x 61 + root = 255 octets: the longest legal name */
	big[192] = 61;
	big[254] = 0;
	s = rr_name_decode(big, 255, &used);
	CHECK(s != NULL);
	CHECK_INT(used, 255);
	free(s);
	/* 3 x 63 + 1 x 62 + root = 256: one too many */
	big[192] = 62;
	memset(big + 193, 'b', 62);
	big[255] = 0;
	CHECK(rr_name_decode(big, 256, &used) == NULL);

	s = rr_name_normalize("MX1.Example.TEST.");
	CHECK_STR(s, "mx1.example.test");
	free(s);
	s = rr_name_normalize(".");
	CHECK_STR(s, ".");
	free(s);
	CHECK(rr_name_normalize("") == NULL);
	CHECK(rr_name_normalize("a..b") == NULL);
	CHECK(rr_name_normalize(".a") == NULL);
	CHECK(rr_name_normalize("a.b..") == NULL);
	memset(big, 'c', 64);
	big[64] = '\0';
	CHECK(rr_name_normalize((char *)big) == NULL);
	big[63] = '\0';
	s = rr_name_normalize((char *)big);
	CHECK(s != NULL);
	free(s);

	CHECK(rr_name_equal("A.b.", "a.B"));
	CHECK(!rr_name_equal("a.b", "a.bc"));
	CHECK(rr_name_equal(".", "."));

	/*
	 * A last label that holds a dot ends in "\." (rr_name_decode's
	 * output): that dot is not the root's (found by fuzz_dns).
	 */
	s = rr_name_normalize("foo\\.");
	CHECK_STR(s, "foo\\.");
	free(s);
	s = rr_name_normalize("Foo\\..");
	CHECK_STR(s, "foo\\.");
	free(s);
	s = rr_name_normalize("a\\\\.");		/* "a\\" then the root */
	CHECK_STR(s, "a\\\\");
	free(s);
	CHECK(!rr_name_equal("foo\\.", "foo\\"));
	CHECK(rr_name_equal("foo\\.", "FOO\\.."));
	CHECK(rr_name_equal("a\\\\.", "a\\\\"));
	CHECK(rr_name_equal("x\\.y.", "x\\.y"));
	CHECK(rr_name_normalize("a\\\\..b") == NULL);	/* empty label */
	{
		/* The fuzzer's input: normalizing keeps the name equal. */
		const char *in = "\x8d\x1f\xfd\xc2\x87\xd4.eyamb\x05ga\\..";

		s = rr_name_normalize(in);
		CHECK(s != NULL && rr_name_equal(s, in));
		free(s);
	}
}

static void
test_mx(void)
{
	static const unsigned char mx[] = { 0, 10, 2, 'm', 'x', 1, 'T', 0 };
	static const unsigned char nullmx[] = { 0, 0, 0 };
	static const unsigned char junk[] = { 0, 10, 1, 'a', 0, 'x' };
	static const unsigned char shrt[] = { 0, 10 };
	struct dns_rr rr;

	CHECK_INT(rr_decode(DNS_T_MX, mx, sizeof(mx), &rr), 0);
	CHECK_INT(rr.mx.pref, 10);
	CHECK_STR(rr.mx.host, "mx.t");
	CHECK(!rr.malformed);
	rr_clear(DNS_T_MX, &rr);

	CHECK_INT(rr_decode(DNS_T_MX, nullmx, sizeof(nullmx), &rr), 0);
	CHECK_INT(rr.mx.pref, 0);
	CHECK_STR(rr.mx.host, ".");
	rr_clear(DNS_T_MX, &rr);

	CHECK_INT(rr_decode(DNS_T_MX, junk, sizeof(junk), &rr), -1);
	CHECK(rr.malformed);
	CHECK(rr.mx.host == NULL);
	rr_clear(DNS_T_MX, &rr);
	CHECK_INT(rr_decode(DNS_T_MX, shrt, sizeof(shrt), &rr), -1);
	CHECK(rr.malformed);
	CHECK_INT(rr_decode(DNS_T_MX, mx, 0, &rr), -1);
	/* truncated inside the name */
	CHECK_INT(rr_decode(DNS_T_MX, mx, sizeof(mx) - 1, &rr), -1);
}

static void
test_addr(void)
{
	static const unsigned char a[] = { 192, 0, 2, 1 };
	static const unsigned char aaaa[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct dns_rr		 rr;
	char			 buf[DNS_ADDR_TEXT_MAX];

	CHECK_INT(rr_decode(DNS_T_A, a, 4, &rr), 0);
	CHECK_INT(rr.addr.family, AF_INET);
	CHECK_STR(rr_addr_ntop(&rr.addr, buf, sizeof(buf)), "192.0.2.1");
	CHECK_INT(rr_addr_sockaddr(&rr.addr, 25, &ss), sizeof(struct sockaddr_in));
	CHECK_INT(sin->sin_family, AF_INET);
	CHECK_INT(ntohs(sin->sin_port), 25);
	CHECK_INT(sin->sin_addr.s_addr, htonl(0xc0000201));

	CHECK_INT(rr_decode(DNS_T_A, a, 3, &rr), -1);
	CHECK(rr.malformed);
	CHECK_INT(rr_decode(DNS_T_A, aaaa, 16, &rr), -1);
	CHECK_INT(rr_decode(DNS_T_A, a, 5, &rr), -1);

	CHECK_INT(rr_decode(DNS_T_AAAA, aaaa, 16, &rr), 0);
	CHECK_INT(rr.addr.family, AF_INET6);
	CHECK_STR(rr_addr_ntop(&rr.addr, buf, sizeof(buf)), "2001:db8::1");
	CHECK_INT(rr_addr_sockaddr(&rr.addr, 2525, &ss), sizeof(struct sockaddr_in6));
	CHECK_INT(sin6->sin6_family, AF_INET6);
	CHECK_INT(ntohs(sin6->sin6_port), 2525);
	CHECK(memcmp(&sin6->sin6_addr, aaaa, 16) == 0);
	CHECK_INT(rr_decode(DNS_T_AAAA, aaaa, 15, &rr), -1);
	CHECK_INT(rr_decode(DNS_T_AAAA, a, 4, &rr), -1);
}

static void
test_tlsa(void)
{
	unsigned char	 t[3 + 64];
	struct dns_rr	 rr;

	memset(t, 0xab, sizeof(t));
	t[0] = 3; t[1] = 1; t[2] = 1;
	CHECK_INT(rr_decode(DNS_T_TLSA, t, 3 + 32, &rr), 0);
	CHECK_INT(rr.tlsa.usage, 3);
	CHECK_INT(rr.tlsa.selector, 1);
	CHECK_INT(rr.tlsa.mtype, 1);
	CHECK_INT(rr.tlsa.datalen, 32);
	CHECK_INT(rr.tlsa.data[31], 0xab);
	CHECK(rr_tlsa_usable(&rr.tlsa));
	rr_clear(DNS_T_TLSA, &rr);

	/* wrong digest length: decodes, but unusable */
	CHECK_INT(rr_decode(DNS_T_TLSA, t, 3 + 31, &rr), 0);
	CHECK(!rr_tlsa_usable(&rr.tlsa));
	rr_clear(DNS_T_TLSA, &rr);

	t[0] = 2; t[1] = 0; t[2] = 2;
	CHECK_INT(rr_decode(DNS_T_TLSA, t, 3 + 64, &rr), 0);
	CHECK(rr_tlsa_usable(&rr.tlsa));
	rr_clear(DNS_T_TLSA, &rr);

	t[2] = 0;
	CHECK_INT(rr_decode(DNS_T_TLSA, t, 3 + 10, &rr), 0);
	CHECK(rr_tlsa_usable(&rr.tlsa));
	rr_clear(DNS_T_TLSA, &rr);
	CHECK_INT(rr_decode(DNS_T_TLSA, t, 3, &rr), 0);	/* empty Full */
	CHECK_INT(rr.tlsa.datalen, 0);
	CHECK(rr.tlsa.data != NULL);
	CHECK(!rr_tlsa_usable(&rr.tlsa));
	rr_clear(DNS_T_TLSA, &rr);

	/* PKIX usages, unknown selector / matching type: unusable */
	t[0] = 1; t[1] = 1; t[2] = 1;
	CHECK_INT(rr_decode(DNS_T_TLSA, t, 3 + 32, &rr), 0);
	CHECK(!rr_tlsa_usable(&rr.tlsa));
	rr_clear(DNS_T_TLSA, &rr);
	t[0] = 0;
	CHECK_INT(rr_decode(DNS_T_TLSA, t, 3 + 32, &rr), 0);
	CHECK(!rr_tlsa_usable(&rr.tlsa));
	rr_clear(DNS_T_TLSA, &rr);
	t[0] = 3; t[1] = 2;
	CHECK_INT(rr_decode(DNS_T_TLSA, t, 3 + 32, &rr), 0);
	CHECK(!rr_tlsa_usable(&rr.tlsa));
	rr_clear(DNS_T_TLSA, &rr);
	t[1] = 1; t[2] = 3;
	CHECK_INT(rr_decode(DNS_T_TLSA, t, 3 + 32, &rr), 0);
	CHECK(!rr_tlsa_usable(&rr.tlsa));
	rr_clear(DNS_T_TLSA, &rr);
	t[0] = 4; t[2] = 1;
	CHECK_INT(rr_decode(DNS_T_TLSA, t, 3 + 32, &rr), 0);
	CHECK(!rr_tlsa_usable(&rr.tlsa));
	rr_clear(DNS_T_TLSA, &rr);

	/* shorter than the 3-octet header: malformed */
	CHECK_INT(rr_decode(DNS_T_TLSA, t, 2, &rr), -1);
	CHECK(rr.malformed);
	CHECK(rr.tlsa.data == NULL);
	rr_clear(DNS_T_TLSA, &rr);
}

static void
test_cname(void)
{
	static const unsigned char c[] = { 1, 'x', 4, 't', 'E', 's', 't', 0 };
	struct dns_rr rr;

	CHECK_INT(rr_decode(DNS_T_CNAME, c, sizeof(c), &rr), 0);
	CHECK_STR(rr.target, "x.test");
	rr_clear(DNS_T_CNAME, &rr);
	CHECK_INT(rr_decode(DNS_T_CNAME, c, sizeof(c) - 1, &rr), -1);
	CHECK(rr.malformed);
	CHECK(rr.target == NULL);
	/* trailing bytes after the name */
	{
		unsigned char c2[sizeof(c) + 1];

		memcpy(c2, c, sizeof(c));
		c2[sizeof(c)] = 7;
		CHECK_INT(rr_decode(DNS_T_CNAME, c2, sizeof(c2), &rr), -1);
	}
	/* a type we do not decode */
	CHECK_INT(rr_decode(99, c, sizeof(c), &rr), -1);
	CHECK_STR(rr_type_name(DNS_T_TLSA), "TLSA");
	CHECK_STR(rr_type_name(99), "unknown");
}

/* Every prefix of some records must decode or fail cleanly (ASan watches). */
static void
test_truncations(void)
{
	static const unsigned char mx[] = { 0, 5, 3, 'm', 'x', '1', 2, 'e', 'x', 0 };
	static const int types[] = { DNS_T_MX, DNS_T_A, DNS_T_AAAA, DNS_T_TLSA, DNS_T_CNAME };
	size_t	i, n;
	struct dns_rr rr;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		for (n = 0; n <= sizeof(mx); n++) {
			unsigned char *copy = malloc(n ? n : 1);

			memcpy(copy, mx, n);
			if (rr_decode(types[i], copy, n, &rr) == 0)
				CHECK(!rr.malformed);
			else
				CHECK(rr.malformed);
			rr_clear(types[i], &rr);
			free(copy);
		}
	}
}

int
main(void)
{
	test_names();
	test_mx();
	test_addr();
	test_tlsa();
	test_cname();
	test_truncations();
	return check_done("test_resolver_rr");
}
