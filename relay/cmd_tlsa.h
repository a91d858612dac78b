/*
 * relay/cmd_tlsa.h - `danerelay tlsa`: the TLSA records to publish for
 * your own mail server, in zone-file form, for the current certificate
 * and, for a rollover, the next certificate or key (current + next,
 * RFC 7671 8.1). Needs no configuration file.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_CMD_TLSA_H
#define RELAY_CMD_TLSA_H

/*
 * argv[0] is "tlsa". Prints the records on stdout; returns the exit
 * status: 0, or 2 on bad usage or input (the reason on stderr).
 */
int	cmd_tlsa(int argc, char *argv[]);

#endif
