/*
 * relay/addr_literal.c - address literal recipient domains (see
 * addr_literal.h). Pure string work, no I/O.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/addr_literal.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

bool
addr_literal_is(const char *mailbox)
{
	const char *at = strrchr(mailbox, '@');

	return at != NULL && at[1] == '[';
}

int
addr_literal_parse(const char *domain, struct dns_addr *out)
{
	char buf[64];
	size_t len = strlen(domain);

	memset(out, 0, sizeof(*out));
	if (len < 3 || domain[0] != '[' || domain[len - 1] != ']' ||
	    len - 2 >= sizeof(buf))
		return -1;
	memcpy(buf, domain + 1, len - 2);
	buf[len - 2] = '\0';
	if (strncasecmp(buf, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, buf + 5, out->addr) != 1)
			return -1;
		out->family = AF_INET6;
		return 0;
	}
	if (inet_pton(AF_INET, buf, out->addr) != 1)
		return -1;
	out->family = AF_INET;
	return 0;
}
