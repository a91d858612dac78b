/*
 * resolver/rr.c - pure rdata decoders (see rr.h). Input is hostile: every
 * read is bounds-checked against len, and names must be uncompressed (as
 * libunbound returns them), at most 255 octets, labels at most 63.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "resolver/rr.h"
#include "relay/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

char *
rr_name_decode(const unsigned char *wire, size_t len, size_t *used)
{
	char	*out, *p;
	size_t	 off = 0, i;

	/* Worst case every octet becomes "\DDD": 4 bytes each, plus NUL. */
	out = p = xmalloc(4 * DNS_NAME_WIRE_MAX + 2);
	for (;;) {
		unsigned lablen;

		if (off >= len || off >= DNS_NAME_WIRE_MAX)
			goto bad;
		lablen = wire[off++];
		if (lablen == 0)
			break;
		if (lablen > 63 || off + lablen > len ||
		    off + lablen >= DNS_NAME_WIRE_MAX)	/* room for the root label */
			goto bad;
		if (p != out)
			*p++ = '.';
		for (i = 0; i < lablen; i++) {
			unsigned char c = wire[off + i];

			if (c >= 'A' && c <= 'Z')
				c = c - 'A' + 'a';
			if (c == '.' || c == '\\') {
				*p++ = '\\';
				*p++ = (char)c;
			} else if (c <= 0x20 || c >= 0x7f) {
				*p++ = '\\';
				*p++ = (char)('0' + c / 100);
				*p++ = (char)('0' + c / 10 % 10);
				*p++ = (char)('0' + c % 10);
			} else
				*p++ = (char)c;
		}
		off += lablen;
	}
	if (p == out)
		*p++ = '.';
	*p = '\0';
	if (used != NULL)
		*used = off;
	return out;
bad:
	free(out);
	return NULL;
}

/*
 * Is name[i] escaped, i.e. preceded by an odd number of backslashes? "a\."
 * ends in a label holding a dot, "a\\." in the root label after "a\\".
 */
static bool
name_escaped(const char *name, size_t i)
{
	size_t n = 0;

	while (i > n && name[i - n - 1] == '\\')
		n++;
	return n % 2 == 1;
}

/* Length of name without one trailing root dot (an unescaped last '.'). */
static size_t
name_len_no_root(const char *name)
{
	size_t len = strlen(name);

	if (len > 1 && name[len - 1] == '.' && !name_escaped(name, len - 1))
		len--;
	return len;
}

char *
rr_name_normalize(const char *name)
{
	size_t	 len, i, lab = 0;
	char	*out;

	if (strcmp(name, ".") == 0)
		return xstrdup(".");
	len = name_len_no_root(name);
	if (len == 0 || len > 253)
		return NULL;
	out = xstrndup(name, len);
	for (i = 0; i < len; i++) {
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = out[i] - 'A' + 'a';
		if (out[i] == '.' && !name_escaped(out, i)) {
			if (lab == 0)
				goto bad;
			lab = 0;
		} else if (++lab > 63)
			goto bad;
	}
	if (lab == 0)
		goto bad;
	return out;
bad:
	free(out);
	return NULL;
}

bool
rr_name_equal(const char *a, const char *b)
{
	size_t la = name_len_no_root(a), lb = name_len_no_root(b);

	return la == lb && strncasecmp(a, b, la) == 0;
}

int
rr_decode_mx(const unsigned char *rdata, size_t len, struct dns_mx *out)
{
	size_t used;

	memset(out, 0, sizeof(*out));
	if (len < 3)
		return -1;
	out->host = rr_name_decode(rdata + 2, len - 2, &used);
	if (out->host == NULL)
		return -1;
	if (used != len - 2) {		/* trailing junk */
		free(out->host);
		out->host = NULL;
		return -1;
	}
	out->pref = (uint16_t)(rdata[0] << 8 | rdata[1]);
	return 0;
}

int
rr_decode_a(const unsigned char *rdata, size_t len, struct dns_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (len != 4)
		return -1;
	out->family = AF_INET;
	memcpy(out->addr, rdata, 4);
	return 0;
}

int
rr_decode_aaaa(const unsigned char *rdata, size_t len, struct dns_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (len != 16)
		return -1;
	out->family = AF_INET6;
	memcpy(out->addr, rdata, 16);
	return 0;
}

int
rr_decode_tlsa(const unsigned char *rdata, size_t len, struct dns_tlsa *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 3)
		return -1;
	out->usage = rdata[0];
	out->selector = rdata[1];
	out->mtype = rdata[2];
	out->datalen = len - 3;
	/* Never NULL, so that users can memcmp an empty association. */
	out->data = xmalloc(out->datalen + 1);
	memcpy(out->data, rdata + 3, out->datalen);
	return 0;
}

int
rr_decode(int type, const unsigned char *rdata, size_t len, struct dns_rr *out)
{
	size_t	used;
	int	rv;

	memset(out, 0, sizeof(*out));
	switch (type) {
	case DNS_T_MX:
		rv = rr_decode_mx(rdata, len, &out->mx);
		break;
	case DNS_T_A:
		rv = rr_decode_a(rdata, len, &out->addr);
		break;
	case DNS_T_AAAA:
		rv = rr_decode_aaaa(rdata, len, &out->addr);
		break;
	case DNS_T_TLSA:
		rv = rr_decode_tlsa(rdata, len, &out->tlsa);
		break;
	case DNS_T_CNAME:
		out->target = rr_name_decode(rdata, len, &used);
		rv = 0;
		if (out->target != NULL && used != len) {
			free(out->target);
			out->target = NULL;
		}
		if (out->target == NULL)
			rv = -1;
		break;
	default:
		rv = -1;
	}
	if (rv == -1) {
		memset(out, 0, sizeof(*out));
		out->malformed = true;
	}
	return rv;
}

void
rr_clear(int type, struct dns_rr *rr)
{
	switch (type) {
	case DNS_T_MX:
		free(rr->mx.host);
		break;
	case DNS_T_TLSA:
		free(rr->tlsa.data);
		break;
	case DNS_T_CNAME:
		free(rr->target);
		break;
	}
	memset(rr, 0, sizeof(*rr));
}

bool
rr_tlsa_usable(const struct dns_tlsa *t)
{
	if (t->usage != 2 && t->usage != 3)
		return false;
	if (t->selector > 1)
		return false;
	switch (t->mtype) {
	case 0:
		return t->datalen > 0;
	case 1:
		return t->datalen == 32;
	case 2:
		return t->datalen == 64;
	default:
		return false;
	}
}

const char *
rr_addr_ntop(const struct dns_addr *a, char *buf, size_t len)
{
	if (inet_ntop(a->family, a->addr, buf, (socklen_t)len) == NULL)
		str_copy(buf, "?", len);
	return buf;
}

socklen_t
rr_addr_sockaddr(const struct dns_addr *a, uint16_t port,
    struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->addr, 4);
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a->addr, 16);
		return sizeof(*sin6);
	}
}

const char *
rr_type_name(int type)
{
	switch (type) {
	case DNS_T_A:		return "A";
	case DNS_T_CNAME:	return "CNAME";
	case DNS_T_MX:		return "MX";
	case DNS_T_AAAA:	return "AAAA";
	case DNS_T_DNSKEY:	return "DNSKEY";
	case DNS_T_TLSA:	return "TLSA";
	default:		return "unknown";
	}
}
