/*
 * resolver/rr.h - pure decoders for the resource records danerelay uses
 * (MX, A, AAAA, CNAME, TLSA) from the uncompressed wire rdata libunbound
 * hands back. No I/O and no libunbound here. A decoder never reads past
 * len and never crashes on hostile rdata: it returns -1 ("malformed") and
 * leaves *out zeroed. Names come out in presentation form, lower case, no
 * trailing dot ("." for the root), with \DDD / \. escapes for odd bytes.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RESOLVER_RR_H
#define RESOLVER_RR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DNS_T_A		1
#define DNS_T_CNAME	5
#define DNS_T_MX	15
#define DNS_T_AAAA	28
#define DNS_T_DNSKEY	48
#define DNS_T_TLSA	52

#define DNS_NAME_WIRE_MAX	255	/* octets of a wire-format name */
#define DNS_ADDR_TEXT_MAX	46	/* INET6_ADDRSTRLEN */

struct dns_mx {
	uint16_t	 pref;
	char		*host;		/* "." for a null MX (RFC 7505) */
};

struct dns_addr {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 addr[16];	/* network byte order; 4 bytes used for AF_INET */
};

struct dns_tlsa {
	uint8_t		 usage;		/* 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE */
	uint8_t		 selector;	/* 0 Cert, 1 SPKI */
	uint8_t		 mtype;		/* 0 Full, 1 SHA2-256, 2 SHA2-512 */
	unsigned char	*data;		/* certificate association data */
	size_t		 datalen;
};

/*
 * One decoded record. malformed: the rdata could not be decoded (the union
 * is zeroed); the resolver turns a malformed MX/A/AAAA/CNAME answer into an
 * indeterminate lookup, while a malformed TLSA record is only unusable
 * (RFC 7671 / RFC 7672 3.1.3).
 */
struct dns_rr {
	bool		 malformed;
	union {
		struct dns_mx	 mx;
		struct dns_addr	 addr;		/* A, AAAA */
		struct dns_tlsa	 tlsa;
		char		*target;	/* CNAME */
	};
};

/* 0 / -1 malformed. Allocated members are released by rr_clear(). */
int	 rr_decode(int type, const unsigned char *rdata, size_t len, struct dns_rr *out);
int	 rr_decode_mx(const unsigned char *, size_t, struct dns_mx *);
int	 rr_decode_a(const unsigned char *, size_t, struct dns_addr *);
int	 rr_decode_aaaa(const unsigned char *, size_t, struct dns_addr *);
int	 rr_decode_tlsa(const unsigned char *, size_t, struct dns_tlsa *);
void	 rr_clear(int type, struct dns_rr *);

/*
 * Decode the uncompressed wire name at wire[0..len) into a malloc'ed
 * presentation string; *used gets its wire length. NULL if malformed
 * (compression pointer, label > 63, name > 255 octets, runs past len).
 */
char	*rr_name_decode(const unsigned char *wire, size_t len, size_t *used);

/*
 * Lower-case name, drop one trailing dot (keep "." for the root). Returns
 * a malloc'ed copy, or NULL if the name cannot be a DNS name (empty
 * label, label > 63 octets, name > 253 characters).
 */
char	*rr_name_normalize(const char *name);

/* "a.b" and "A.b." are the same name (ASCII case-insensitive). */
bool	 rr_name_equal(const char *, const char *);

/*
 * A TLSA record an SMTP client can use (RFC 7672 3.1.3 and 2.2): usage
 * DANE-TA(2) or DANE-EE(3), selector 0/1, matching type 0/1/2, and data of
 * the right length (32 for SHA2-256, 64 for SHA2-512, non-empty for Full).
 */
bool	 rr_tlsa_usable(const struct dns_tlsa *);

/* "192.0.2.1" / "2001:db8::1" into buf (>= DNS_ADDR_TEXT_MAX); returns buf. */
const char *rr_addr_ntop(const struct dns_addr *, char *buf, size_t len);
/* A sockaddr for connecting to addr:port; returns its length. */
socklen_t rr_addr_sockaddr(const struct dns_addr *, uint16_t port,
		    struct sockaddr_storage *);

/* "A", "MX", "TLSA", ...; "unknown" for a type this file does not know. */
const char *rr_type_name(int type);

#endif
