/*
 * resolver/cache.h - a few seconds of memory for validated DNS answers, in
 * front of libunbound. Every lookup through libunbound's thread costs the
 * loop a pipe write, a wake-up, a pipe read and four fcntl(2) calls each
 * way (its pipe is switched between blocking and non-blocking per
 * message); a relay delivering hundreds of messages a second to the same
 * destinations asks the same four questions for each. Only answers are
 * kept (SECURE or INSECURE: data, NODATA or NXDOMAIN), each for its TTL but
 * at most DNS_CACHE_SECS, so the cache never holds an answer longer than
 * libunbound would and never hides a failure: BOGUS and INDETERMINATE
 * results are not kept, and the next lookup asks again. The DNSSEC state
 * travels with the copy. Loop thread only.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RESOLVER_CACHE_H
#define RESOLVER_CACHE_H

#include "resolver/resolver.h"

#define DNS_CACHE_SECS	2	/* longest reuse of an answer */
#define DNS_CACHE_MAX	1024	/* answers kept, at most */

struct dns_cache;

struct dns_cache	*dns_cache_new(void);
void			 dns_cache_free(struct dns_cache *);	/* NULL ok */
/* A copy of the live answer to (qname, qtype), or NULL. */
struct dns_result	*dns_cache_get(struct dns_cache *, const char *qname,
			    int qtype);
/* Keep a copy of res (keyed by res->qname and res->qtype) if it is an
 * answer with a TTL; otherwise nothing happens. When the cache is full,
 * the oldest answer makes room. */
void			 dns_cache_put(struct dns_cache *, const struct dns_result *res);
/* A deep copy of res. */
struct dns_result	*dns_result_copy(const struct dns_result *res);

#endif
