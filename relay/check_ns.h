/*
 * relay/check_ns.h - `danerelay check --ns`: the TLSA RRset of one owner
 * name as each authoritative name server of its zone serves it, asked
 * directly (no recursion, no cache), so that an operator sees whether a
 * newly published ("next") record is on every secondary before switching
 * certificates (RFC 7671 8.1). A command-line helper: it blocks.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_CHECK_NS_H
#define RELAY_CHECK_NS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHECK_NS_MAX_SERVERS	16	/* addresses asked per zone */

struct check_ns_server {
	char		 name[256];	/* the NS host name */
	char		 addr[64];	/* the address asked, as text; empty:
					 * not asked, its A or AAAA lookup
					 * failed or it has none (err) */
	bool		 answered;	/* a reply with rcode NOERROR or NXDOMAIN */
	bool		 aa;		/* ... with the AA bit */
	int		 rcode;
	uint32_t	 ttl;		/* of the TLSA RRset, 0 if none */
	char		 err[200];	/* !answered: why */
	size_t		 nrr;
	char		**rr;		/* "U S M HEX", sorted */
};

struct check_ns {
	char			 zone[256];	/* the zone the owner is in */
	struct check_ns_server	*srv;
	size_t			 nsrv;
	size_t			 nskipped;	/* over the cap: not asked */
	char			 err[512];	/* no servers found: why */
};

struct check_ns_ctx;

/*
 * A private libunbound context for the NS and address lookups (same
 * resolver_config and trust anchor as delivery; NULL config: recursion
 * from the root). NULL + err.
 */
struct check_ns_ctx *check_ns_new(const char *config, const char *ta_file,
		    char *err, size_t errlen);
void		 check_ns_free(struct check_ns_ctx *);

/*
 * Find the zone of owner (the closest enclosing name with NS records),
 * its name servers and their addresses, and ask each address for
 * owner/TLSA over UDP (TCP when truncated), RD clear, 3 s per try.
 * Returns 0 with out filled (some servers may have failed: see
 * answered; a name server whose addresses could not be looked up is an
 * entry with an empty addr), -1 with out->err when no server has an
 * address.
 */
int		 check_ns_tlsa(struct check_ns_ctx *, const char *owner,
		    struct check_ns *out);
void		 check_ns_clear(struct check_ns *);

/*
 * One reply (m, len) to the query with id for owner/TLSA: sets srv's aa,
 * rcode, and rr/nrr/ttl from the answer records of type TLSA owned by
 * owner (compression pointers followed, at most 32 jumps); *tc: the
 * reply was truncated. 0, or -1 with srv->err for a reply that is
 * malformed, unrelated (other id, not a response) or an error rcode
 * (other than NXDOMAIN). Exposed for tests/unit/test_check_ns.c.
 */
int		 check_ns_parse(const unsigned char *m, size_t len, uint16_t id,
		    const char *owner, struct check_ns_server *srv, bool *tc);

#endif
