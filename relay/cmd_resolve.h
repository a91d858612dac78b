/*
 * relay/cmd_resolve.h - `danerelay -c FILE resolve DOMAIN`: print what the
 * delivery engine will see for DOMAIN (MX hosts in order, their addresses,
 * the TLSA records at _PORT._tcp.HOST, each with its DNSSEC state).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_CMD_RESOLVE_H
#define RELAY_CMD_RESOLVE_H

struct conf;

/*
 * Runs its own event base and resolver (resolver_config, trust_anchor_file,
 * max_mx_hosts, max_mx_addresses from conf); port: the destination port
 * (remote_port). Prints to stdout. Returns the exit status: 0 if every
 * lookup was answered (secure or insecure), 1 if any was bogus or
 * indeterminate or validation does not work, 2 if the resolver cannot
 * start (the reason on stderr).
 */
int	cmd_resolve(const struct conf *, const char *domain, int port);

#endif
