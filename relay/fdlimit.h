/*
 * relay/fdlimit.h - file descriptors: the daemon raises its soft
 * RLIMIT_NOFILE to the hard limit at start, and checks that what the
 * configuration allows at once fits in it:
 *
 *	2 per inbound session (its socket, its tmp/ file in DATA)
 *	  * max_clients
 *	4 per outbound connection (its socket, the message file, a DNS
 *	  query socket, a cached idle connection) * max_connections
 *	FDLIMIT_OWN for the daemon itself (listeners, log, spool directories
 *	  and lock, event loop, committer, journal files being synced,
 *	  libunbound)
 *
 * `-t` reports a configuration that does not fit as an error (exit 2);
 * start-up and SIGHUP warn and run with it as configured: running out
 * then costs 421/452 replies and paused deliveries (relay/listener.c,
 * relay/scheduler.c), never a hang, and an operator who raised the limit
 * outside (systemd LimitNOFILE=) is not second-guessed.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_FDLIMIT_H
#define RELAY_FDLIMIT_H

#include <stddef.h>

struct conf;

#define FDLIMIT_PER_CLIENT	2
#define FDLIMIT_PER_CONNECTION	4
#define FDLIMIT_OWN		64

/* Descriptors needed at once for these limits (pure, unit tested). */
unsigned long long fdlimit_need(unsigned max_clients, unsigned max_connections);
/*
 * 0 if conf fits in limit descriptors; -1 with what to change in msg
 * (naming max_clients and max_connections and the limit) otherwise.
 */
int		 fdlimit_check(const struct conf *, unsigned long long limit,
		    char *msg, size_t len);
/*
 * Raise the soft RLIMIT_NOFILE to the hard limit; *soft gets the soft
 * limit in force afterwards and *hard the hard one (RLIM_INFINITY as
 * ULLONG_MAX). 0, or -1 + errno (the limits are still reported).
 */
int		 fdlimit_raise(unsigned long long *soft, unsigned long long *hard);
/* The hard limit (what fdlimit_raise() would reach), for `-t`. */
unsigned long long fdlimit_hard(void);
/*
 * For the daemon: at start (raise true) raise the limit and log it; at
 * start and on SIGHUP warn when conf does not fit in the soft limit.
 */
void		 fdlimit_apply(const struct conf *, int raise);

#endif
