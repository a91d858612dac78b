/*
 * relay/fdlimit.c - RLIMIT_NOFILE: raise it, and compare it with what the
 * configuration needs (the budget is in relay/fdlimit.h).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/fdlimit.h"
#include "conf/conf.h"
#include "relay/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/resource.h>

unsigned long long
fdlimit_need(unsigned max_clients, unsigned max_connections)
{
	return (unsigned long long)FDLIMIT_PER_CLIENT * max_clients +
	    (unsigned long long)FDLIMIT_PER_CONNECTION * max_connections +
	    FDLIMIT_OWN;
}

int
fdlimit_check(const struct conf *c, unsigned long long limit, char *msg,
    size_t len)
{
	unsigned long long need = fdlimit_need(c->max_clients,
	    c->max_connections);

	if (need <= limit)
		return 0;
	snprintf(msg, len, "max_clients = %u and max_connections = %u need "
	    "up to %llu file descriptors (%d per client, %d per connection, "
	    "%d for the daemon), but RLIMIT_NOFILE allows %llu: lower "
	    "max_clients or max_connections, or raise the limit (systemd "
	    "LimitNOFILE=, ulimit -n)", c->max_clients, c->max_connections,
	    need, FDLIMIT_PER_CLIENT, FDLIMIT_PER_CONNECTION, FDLIMIT_OWN,
	    limit);
	return -1;
}

static unsigned long long
rlim_value(rlim_t v)
{
	return v == RLIM_INFINITY ? ULLONG_MAX : (unsigned long long)v;
}

int
fdlimit_raise(unsigned long long *soft, unsigned long long *hard)
{
	struct rlimit rl;
	int rv = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		*soft = *hard = 0;
		return -1;
	}
	if (rl.rlim_cur != rl.rlim_max) {
		rlim_t cur = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
			rl.rlim_cur = cur;
			rv = -1;
		}
	}
	*soft = rlim_value(rl.rlim_cur);
	*hard = rlim_value(rl.rlim_max);
	return rv;
}

unsigned long long
fdlimit_hard(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 0;
	return rlim_value(rl.rlim_max);
}

void
fdlimit_apply(const struct conf *c, int raise)
{
	struct rlimit		 rl;
	unsigned long long	 soft, hard;
	char			 msg[512];

	if (raise) {
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur == rl.rlim_max) {
			soft = hard = rlim_value(rl.rlim_cur);
			log_info(NULL, "file descriptors: RLIMIT_NOFILE %llu",
			    soft);
		} else if (fdlimit_raise(&soft, &hard) == -1)
			log_warn(NULL, "file descriptors: cannot raise "
			    "RLIMIT_NOFILE from %llu to %llu", soft, hard);
		else
			log_info(NULL, "file descriptors: RLIMIT_NOFILE raised "
			    "to %llu", soft);
	} else if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		soft = rlim_value(rl.rlim_cur);
	else
		return;
	if (fdlimit_check(c, soft, msg, sizeof(msg)) == -1)
		log_warnx(NULL, "%s; until then, sessions beyond it get 421 "
		    "and deliveries pause", msg);
}
