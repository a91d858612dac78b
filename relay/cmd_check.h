/*
 * relay/cmd_check.h - `danerelay [-c FILE] check DOMAIN [--json]
 * [--at +30d] [--ns]`: check a destination's DANE setup the way delivery
 * would meet it, without sending mail (RFC 7672 2.2, 3), for operators and
 * monitoring. See relay/cmd_check.c.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_CMD_CHECK_H
#define RELAY_CMD_CHECK_H

struct conf;

/* Exit statuses as monitoring plugins expect them. */
#define CHECK_OK	0
#define CHECK_WARNING	1
#define CHECK_CRITICAL	2
#define CHECK_UNKNOWN	3

/*
 * argv[0] is "check". Prints the findings and verdicts to stdout, usage
 * errors to stderr. Returns CHECK_OK .. CHECK_UNKNOWN (CHECK_UNKNOWN also
 * for bad usage or a resolver that cannot start).
 */
int	cmd_check(const struct conf *, int argc, char *argv[]);

#endif
