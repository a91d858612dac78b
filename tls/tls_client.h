/*
 * tls/tls_client.h - the outbound TLS client: one shared SSL_CTX (TLS >=
 * 1.2, DANE enabled, OpenSSL's own session cache off) and our session
 * cache keyed by the full security context, so that a session is resumed
 * only under the same security requirements a fresh handshake would face
 * (RFC 7672; docs/dane.md rule 15). Per connection the caller hands in a
 * struct tls_secctx by value; after the handshake it gets a struct
 * tls_result by value. Nothing here logs.
 *
 * Read-ahead is on: OpenSSL reads what the socket holds, possibly several
 * records, in one read(2). SSL_pending() does not count the records not
 * yet decoded, so whoever reads the SSL must keep calling SSL_read()
 * while SSL_has_pending(), or data stays stranded with no socket event
 * to bring it out (relay/smtp_client.c, client_tls_pull()).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef TLS_TLS_CLIENT_H
#define TLS_TLS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "tls/dane.h"
#include "tls/tls.h"

struct tls_client;			/* SSL_CTX + session cache, opaque */

enum tls_level {
	TLS_LEVEL_NONE,		/* plaintext: never STARTTLS */
	TLS_LEVEL_MAY,		/* STARTTLS when offered, unauthenticated */
	TLS_LEVEL_ENCRYPT,	/* TLS required, unauthenticated */
	TLS_LEVEL_DANE,		/* TLS required; authenticated iff a usable TLSA record is given */
};

/*
 * The security context of one connection, decided by the caller (policy):
 *
 *  level DANE with at least one usable record: authenticated TLS is
 *   required; base_domain is the TLSA base domain (SSL_dane_enable + SNI,
 *   RFC 7672 8.1) and ref_names[] are the further reference identifiers
 *   for DANE-TA (3.2.2): the next-hop domain and its CNAME expansion when
 *   the MX lookup was secure, nothing more when it was insecure (then the
 *   base domain, i.e. the MX host name, is the only one).
 *  level DANE with every record unusable: TLS required, no authentication
 *   (RFC 7672 2.2, 3.1.3): behaves as ENCRYPT, but counts are reported.
 *  auth_required: the policy found usable records, so authentication is
 *   required whatever OpenSSL makes of them: if SSL_dane_tlsa_add()
 *   accepts none, the connection fails (it never falls back to ENCRYPT).
 *  test_mode: audit only. Everything is verified and reported the same
 *   way, but missing STARTTLS or failed verification never fails the
 *   connection (the caller logs "test mode: would have ..."). A failed
 *   handshake still fails it: the connection is unusable then.
 *
 * Pointers are borrowed; tls_secctx_dup() makes an owned deep copy.
 */
struct tls_secctx {
	enum tls_level		 level;
	bool			 test_mode;
	bool			 auth_required;	/* level DANE: the policy's verdict */
	const struct dane_tlsa	*tlsa;		/* level DANE: the whole RRset */
	size_t			 ntlsa;
	const char		*base_domain;	/* level DANE: TLSA base domain */
	const char *const	*ref_names;	/* level DANE: extra reference identifiers */
	size_t			 nref_names;
	const char		*sni;		/* other levels: SNI to send, NULL: none */
};

#define TLS_KEY_LEN	32		/* SHA-256 of the canonical context */

/*
 * After a handshake. desc is "TLSv1.3 with cipher X (256 bits)"; dane is
 * filled for level DANE (dane.authenticated is the "(DANE)" of the log;
 * everything else is "(unauthenticated)"). On a resumed session dane is
 * the verdict cached with the session (same key => same verdict).
 */
struct tls_result {
	char			 desc[TLS_DESC_MAX];
	bool			 resumed;	/* SSL_session_reused() */
	bool			 dane_used;	/* level DANE with >= 1 usable record */
	struct dane_counts	 counts;	/* level DANE: usable/unusable records */
	struct dane_verify	 dane;		/* level DANE; for others only subject */
};

/* cache_max: sessions kept (0: a default). NULL + err. */
struct tls_client *tls_client_new(size_t cache_max, char *err, size_t errlen);
void		 tls_client_free(struct tls_client *);
SSL_CTX		*tls_client_ctx(struct tls_client *);

/* Owned deep copy of a context (xmalloc: never NULL); NULL-safe free. */
struct tls_secctx *tls_secctx_dup(const struct tls_secctx *);
void		 tls_secctx_free(struct tls_secctx *);

/*
 * The cache key of (peer, context): peer names the destination
 * ("mx1.b.example[192.0.2.1]:25"); the TLSA set and reference names are
 * canonicalised (order does not matter). Also the right key for reusing
 * connections (rule 15).
 */
void		 tls_secctx_key(const struct tls_secctx *, const char *peer,
		    unsigned char key[TLS_KEY_LEN]);

/*
 * A new client SSL for one handshake under sec with peer: DANE armed (for
 * level DANE), SNI set, a cached session for the same key offered.
 * counts (may be NULL) gets the usable/unusable split. With
 * sec->auth_required and no record accepted by OpenSSL: NULL + err (the
 * policy and OpenSSL disagree; the host fails). The SSL remembers
 * its key: a session the server issues is cached after a handshake that
 * passed the context's checks. Free with SSL_free (or let the
 * bufferevent do it). NULL + err.
 */
SSL		*tls_client_ssl_new(struct tls_client *, const struct tls_secctx *sec,
		    const char *peer, struct dane_counts *counts,
		    char *err, size_t errlen);

/*
 * After a completed handshake: fill r. Returns true if the connection
 * meets the context's requirement (always for NONE/MAY/ENCRYPT; for DANE
 * with usable records or auth_required: r->dane.authenticated). A failing connection's
 * session is never cached, and is dropped from the cache if it came from
 * there.
 */
bool		 tls_client_verify(SSL *, struct tls_result *r);

/* Forget the cached session for key (e.g. the peer changed its keys). */
void		 tls_client_forget(struct tls_client *,
		    const unsigned char key[TLS_KEY_LEN]);

struct tls_client_stats {
	uint64_t		 offered;	/* handshakes that offered a cached session */
	uint64_t		 resumed;	/* ... which the server resumed */
	uint64_t		 stored;	/* sessions put into the cache */
	size_t			 entries;	/* sessions in the cache now */
};
void		 tls_client_stats(const struct tls_client *, struct tls_client_stats *);

#endif
