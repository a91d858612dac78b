/*
 * resolver/mx.h - pure MX processing: from an MX lookup result to the
 * ordered list of hosts delivery tries (RFC 5321 5.1, RFC 7505, RFC 7672
 * 2.2.1). Sorts by preference, shuffles hosts of equal preference (seedable
 * for tests), merges duplicate hosts (best preference wins), recognises a
 * null MX, falls back to the domain itself on NODATA, and caps hosts and
 * addresses. No I/O; never guesses hosts from a failed lookup.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RESOLVER_MX_H
#define RESOLVER_MX_H

#include <stddef.h>
#include <stdint.h>

#include "resolver/resolver.h"

enum mx_status {
	MX_ERROR = 0,	/* MX lookup BOGUS or INDETERMINATE: defer, no hosts */
	MX_HOSTS,	/* MX records: hosts[] in the order to try */
	MX_IMPLICIT,	/* NODATA: hosts[0] is the domain itself, pref 0 (RFC 5321 5.1) */
	MX_NULL,	/* null MX (RFC 7505): the domain takes no mail, no hosts */
	MX_NXDOMAIN,	/* the domain does not exist, no hosts */
};

struct mx_host {
	char		*name;		/* normalized host name */
	uint16_t	 pref;
};

struct mx_list {
	enum mx_status	 status;
	enum dns_state	 state;		/* of the MX lookup (the MX RRset's state) */
	char		*domain;	/* next-hop domain as asked */
	char		*canonname;	/* its CNAME expansion, == domain if none */
	struct mx_host	*hosts;
	size_t		 nhosts;
	size_t		 ncut;		/* hosts dropped by the max_hosts cap */
	size_t		 addr_budget;	/* addresses still allowed, see mx_take_addresses() */
};

/*
 * Build *list from an MX lookup result (resolver_lookup_mx()). max_hosts,
 * max_addresses: the caps (conf max_mx_hosts, max_mx_addresses; 0 = no
 * cap). seed: shuffle seed for hosts of equal preference; 0 = random.
 * A "." exchange among other MX records is dropped; MX records that leave
 * no host at all (a single "." = RFC 7505 null MX) give MX_NULL.
 */
void		 mx_list_build(struct mx_list *, const struct dns_result *mx,
		    unsigned max_hosts, unsigned max_addresses, uint64_t seed);
void		 mx_list_clear(struct mx_list *);

/*
 * How many of the n addresses found for the next host may be tried under
 * the max_addresses cap; deducts them from the budget.
 */
size_t		 mx_take_addresses(struct mx_list *, size_t n);

const char	*mx_status_name(enum mx_status);	/* "hosts", "implicit", "null", "nxdomain", "error" */

#endif
