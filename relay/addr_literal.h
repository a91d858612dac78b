/*
 * relay/addr_literal.h - recipient domains that are address literals
 * (RFC 5321 4.1.3: user@[192.0.2.1], user@[IPv6:2001:db8::1]). They are
 * refused at RCPT unless allow_address_literals = yes; when allowed,
 * delivery connects to the address itself: no MX, and no DANE, since
 * there is no name to look TLSA records up for (RFC 7672 2.2).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_ADDR_LITERAL_H
#define RELAY_ADDR_LITERAL_H

#include <stdbool.h>

#include "resolver/rr.h"

/* Does the mailbox's domain (after the last '@') start with '['? */
bool	 addr_literal_is(const char *mailbox);

/*
 * Parse a domain "[a.b.c.d]" or "[IPv6:...]" (any case) into *out.
 * 0, or -1 for anything else, general address literals included (a
 * "tag:content" form names no address we can connect to).
 */
int	 addr_literal_parse(const char *domain, struct dns_addr *out);

#endif
