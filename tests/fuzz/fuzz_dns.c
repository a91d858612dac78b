/*
 * tests/fuzz/fuzz_dns.c - DNS answers from a hostile zone, from the
 * libunbound result on: resolver/resolver.c result_from_ub() (the one
 * place a ub_result becomes a dns_result), the rdata decoders in
 * resolver/rr.c, the MX list of resolver/mx.c, and the log text delivery
 * makes of them. result_from_ub() is static, so this file includes
 * resolver.c (its other functions then come from here, not from
 * libdanerelay.a).
 *
 * Input: qtype selector, flags (havedata, secure, bogus, rate limited,
 * why_bogus, canonname, rcode), 1 octet of canonname length and that many
 * octets, then records as 1 octet of length and the rdata; a length octet
 * of 255 is followed by 2 octets (big-endian) of the real length, so that
 * rdata can be as long as the wire allows (65535: a TLSA "Full" record, an
 * MX target at and past the 255-octet name limit).
 * Checked: the dns_result invariants of resolver.h (a bogus or failed
 * answer has a reason and acts on no data, DATA has records, a malformed
 * non-TLSA answer is never DATA), MX lists obey their caps and never
 * offer hosts for a failed lookup, names are presentation text.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "resolver/resolver.c"
#include "resolver/mx.h"
#include "tests/fuzz/fuzz.h"

#define MAX_RRS	64

static void
check_text(const char *s)
{
	for (; *s != '\0'; s++)
		FUZZ_ASSERT((unsigned char)*s > 0x20 &&
		    (unsigned char)*s < 0x7f);
}

static void
check_log(const char *s)
{
	const unsigned char *p = (const unsigned char *)log_esc(s);

	for (; *p != '\0'; p++)
		FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f);
}

static void
check_result(const struct dns_result *r, int qtype)
{
	size_t i;

	FUZZ_ASSERT(r->canonname != NULL && r->qname != NULL);
	if (r->state == DNS_BOGUS || r->state == DNS_INDETERMINATE)
		FUZZ_ASSERT(r->reason != NULL);
	if (r->answer == DNS_ANSWER_DATA) {
		FUZZ_ASSERT(r->nrr > 0);
		FUZZ_ASSERT(r->state == DNS_SECURE || r->state == DNS_INSECURE);
		if (qtype != DNS_T_TLSA)
			FUZZ_ASSERT(r->nmalformed == 0);
	}
	if (r->reason != NULL)
		check_log(r->reason);
	check_log(r->canonname);
	if (!type_decoded(qtype))
		return;
	for (i = 0; i < r->nrr; i++) {
		const struct dns_rr *rr = &r->rr[i];
		char buf[DNS_ADDR_TEXT_MAX];

		if (rr->malformed)
			continue;
		switch (qtype) {
		case DNS_T_MX:
			check_text(rr->mx.host);
			break;
		case DNS_T_CNAME:
			check_text(rr->target);
			break;
		case DNS_T_A:
		case DNS_T_AAAA:
			rr_addr_ntop(&rr->addr, buf, sizeof(buf));
			check_text(buf);
			break;
		case DNS_T_TLSA:
			(void)rr_tlsa_usable(&rr->tlsa);
			break;
		}
	}
}

static void
check_mx(const struct dns_result *r, unsigned max_hosts, unsigned max_addrs)
{
	struct mx_list l;
	size_t i, got;

	memset(&l, 0, sizeof(l));
	mx_list_build(&l, r, max_hosts, max_addrs, 1);
	if (l.status != MX_HOSTS && l.status != MX_IMPLICIT)
		FUZZ_ASSERT(l.nhosts == 0);
	if (r->state == DNS_BOGUS || r->state == DNS_INDETERMINATE)
		FUZZ_ASSERT(l.status == MX_ERROR);
	if (max_hosts != 0)
		FUZZ_ASSERT(l.nhosts <= max_hosts);
	for (i = 0; i < l.nhosts; i++) {
		FUZZ_ASSERT(l.hosts[i].name != NULL);
		FUZZ_ASSERT(strcmp(l.hosts[i].name, ".") != 0);
		check_log(l.hosts[i].name);
		if (i > 0)
			FUZZ_ASSERT(l.hosts[i - 1].pref <= l.hosts[i].pref);
	}
	got = mx_take_addresses(&l, 3);
	FUZZ_ASSERT(got <= 3);
	if (max_addrs != 0)
		FUZZ_ASSERT(got <= max_addrs);
	mx_list_clear(&l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = { DNS_T_MX, DNS_T_A, DNS_T_AAAA,
	    DNS_T_TLSA, DNS_T_CNAME, DNS_T_DNSKEY };
	static const int rcodes[] = { RCODE_NOERROR, RCODE_NXDOMAIN,
	    RCODE_SERVFAIL, RCODE_REFUSED, RCODE_FORMERR, 77 };
	struct ub_result ur;
	struct dns_result *res;
	char *rrdata[MAX_RRS + 1], canon[256], *name, *norm;
	int rrlen[MAX_RRS], qtype;
	size_t off, n = 0, cl;
	uint8_t flags;

	if (size < 3)
		return -1;
	qtype = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	flags = data[1];
	cl = data[2];
	off = 3;
	if (cl > size - off)
		return -1;
	memcpy(canon, data + off, cl < sizeof(canon) ? cl : sizeof(canon) - 1);
	canon[cl < sizeof(canon) ? cl : sizeof(canon) - 1] = '\0';
	off += cl;
	while (off < size && n < MAX_RRS) {
		size_t l = data[off++];

		if (l == 255 && size - off >= 2) {
			l = (size_t)data[off] << 8 | data[off + 1];
			off += 2;
		}
		if (l > size - off)
			l = size - off;
		rrdata[n] = malloc(l ? l : 1);
		memcpy(rrdata[n], data + off, l);
		rrlen[n++] = (int)l;
		off += l;
	}
	rrdata[n] = NULL;

	memset(&ur, 0, sizeof(ur));
	ur.qname = (char *)"example.org";
	ur.qtype = qtype;
	ur.qclass = 1;
	ur.data = rrdata;
	ur.len = rrlen;
	ur.havedata = (flags & 1) && n > 0;
	ur.secure = (flags & 2) != 0;
	ur.bogus = (flags & 4) != 0;
	ur.was_ratelimited = (flags & 8) != 0;
	ur.why_bogus = (flags & 16) ? canon : NULL;
	ur.canonname = (flags & 32) ? canon : NULL;
	ur.rcode = rcodes[(flags >> 6) + ((flags & 8) ? 2 : 0)];
	ur.nxdomain = ur.rcode == RCODE_NXDOMAIN;

	res = result_from_ub("example.org", qtype, 0, &ur);
	check_result(res, qtype);
	if (qtype == DNS_T_MX) {
		check_mx(res, 0, 0);
		check_mx(res, 2, 3);
	}
	dns_result_free(res);

	/* The name decoder and normalizer on the raw records. */
	for (off = 0; off < n; off++) {
		size_t used = 0;

		name = rr_name_decode((unsigned char *)rrdata[off],
		    (size_t)rrlen[off], &used);
		if (name != NULL) {
			FUZZ_ASSERT(used <= (size_t)rrlen[off]);
			check_text(name);
			if ((norm = rr_name_normalize(name)) != NULL) {
				FUZZ_ASSERT(rr_name_equal(norm, name));
				free(norm);
			}
			free(name);
		}
		free(rrdata[off]);
	}
	if ((norm = rr_name_normalize(canon)) != NULL) {
		FUZZ_ASSERT(rr_name_equal(norm, canon));
		free(norm);
	}
	return 0;
}
