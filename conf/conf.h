/*
 * conf/conf.h - the configuration: `key = value` lines and [domain NAME] /
 * [domain .NAME] sections (see README.md and
 * conf/danerelay.conf.example). A loaded struct conf is immutable; SIGHUP
 * loads a new one and swaps it in only if it has no error.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef CONF_CONF_H
#define CONF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

enum tls_policy {
	TLS_POLICY_NONE,	/* plaintext only */
	TLS_POLICY_MAY,		/* STARTTLS when offered, unauthenticated */
	TLS_POLICY_ENCRYPT,	/* TLS required, unauthenticated */
	TLS_POLICY_DANE,	/* opportunistic DANE (RFC 7672) */
	TLS_POLICY_DANE_ONLY,	/* only DANE-authenticated hosts */
};

struct conf_addr {			/* one `listen` address */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 text[64];	/* as written: 127.0.0.1:10025, [::1]:10025 */
};

struct conf_cidr {			/* one relay_clients entry */
	int			 family;	/* AF_INET or AF_INET6 */
	unsigned char		 addr[16];	/* network byte order, masked */
	unsigned		 prefix;	/* 0..32 or 0..128 */
};

/* Per-destination keys; a [domain] section sets some of them. */
struct conf_dest {
	enum tls_policy		 tls_policy;
	bool			 test_mode;
	unsigned		 remote_port;
};

struct conf_domain {
	char			*name;		/* lower case, no trailing dot, no leading dot */
	size_t			 namelen;	/* strlen(name) */
	bool			 subdomains;	/* [domain .NAME]: matches strict subdomains only */
	unsigned		 set;		/* CONF_SET_* bits: which dest keys it overrides */
	struct conf_dest	 dest;
	time_t			 until;		/* 0: no expiry; else first second it no longer applies (UTC midnight after the date) */
	char			*until_text;	/* YYYY-MM-DD as written, for logs */
	char			*reason;	/* NULL if none */
	const char		*file;		/* where the section starts, for logs */
	int			 line;
};
#define CONF_SET_TLS_POLICY	0x01
#define CONF_SET_TEST_MODE	0x02
#define CONF_SET_REMOTE_PORT	0x04

struct conf {
	char			*path;

	/* inbound */
	struct conf_addr	*listen;
	size_t			 nlisten;
	char			*hostname;
	struct conf_cidr	*relay_clients;
	size_t			 nrelay_clients;
	uint64_t		 max_message_size;	/* bytes */
	char			*tls_cert_file;		/* NULL: no STARTTLS offered */
	char			*tls_key_file;
	unsigned		 max_recipients;	/* per message */
	unsigned		 max_errors;		/* per session, then 421 */
	unsigned		 max_clients;		/* concurrent inbound sessions */
	unsigned		 idle_timeout;		/* seconds, inbound command/data idle */
	unsigned		 session_timeout;	/* seconds, whole inbound session */
	unsigned		 max_clients_per_ip;	/* concurrent inbound sessions per address */
	unsigned		 greet_delay_relay;	/* seconds before the greeting: relay_clients */
	unsigned		 greet_delay_other;	/* ... everyone else (greet_delay sets both) */
	bool			 allow_address_literals;	/* RCPT TO:<u@[192.0.2.1]> */
	unsigned		 in_flow_delay;		/* seconds MAIL may wait for delivery (relay/flow.h) */

	/* privileges (relay/privsep.h) */
	char			*user;			/* run as this user when started as root */
	char			*group;			/* NULL: the user's primary group */

	/* queue */
	char			*spool_dir;
	unsigned		 min_backoff;		/* seconds */
	unsigned		 max_backoff;
	unsigned		 max_queue_lifetime;

	/* outbound */
	struct conf_dest	 dest;			/* global tls_policy, test_mode, remote_port */
	char			*resolver_config;	/* NULL: full recursion from the root */
	char			*trust_anchor_file;
	unsigned		 max_connections;
	unsigned		 max_connections_per_domain;
	unsigned		 max_mx_hosts;		/* MX hosts tried per delivery */
	unsigned		 max_mx_addresses;	/* addresses tried per delivery */
	unsigned		 connect_timeout;	/* seconds, RFC 5321 4.5.3.2 stages: */
	unsigned		 greeting_timeout;
	unsigned		 command_timeout;	/* EHLO, STARTTLS, MAIL, RCPT, RSET */
	unsigned		 data_timeout;		/* DATA initiation and each block */
	unsigned		 data_done_timeout;	/* reply to the final "." */
	unsigned		 attempt_timeout;	/* one delivery attempt, all hosts */
	unsigned		 max_messages_per_connection;
	unsigned		 connection_reuse_time;	/* seconds an idle outbound connection is kept */

	/* logging */
	char			*log_file;		/* "-", "syslog" or a path */
	char			*acct_file;		/* NULL: none */

	struct conf_domain	*domains;
	size_t			 ndomains;
};

/*
 * Called once per error with "FILE:LINE: KEY: why" (or "FILE: why", or
 * "FILE: KEY: why" for a check not tied to a line), in file order; checks
 * across keys (min_backoff <= max_backoff, tls_cert_file with tls_key_file,
 * files that must be readable) come after the line errors.
 */
typedef void conf_error_fn(void *arg, const char *msg);

/*
 * Parse path. Every error is reported through errfn (parsing goes on to
 * find them all); returns NULL if there was any. path NULL gives the
 * built-in defaults. errfn NULL prints the errors to stderr. Without a
 * hostname key the system host name is used, qualified through
 * getaddrinfo() the first time only (cached, so a SIGHUP reload does not
 * block on a lookup). Call from one thread.
 */
struct conf	*conf_load(const char *path, conf_error_fn *errfn, void *arg);
void		 conf_free(struct conf *);

/*
 * The effective per-destination settings for recipient domain `domain`
 * at time `now`: the most specific [domain] section that matches and has not
 * expired, applied over the global values. *matched is that section or NULL;
 * *expired, if not NULL, gets the most specific section that matched but
 * whose `until` has passed (so the caller can log that it no longer applies),
 * or NULL; an expired section is reported only if it is more specific than
 * *matched, i.e. only if it would have applied. domain may be in any case
 * and end in a dot. No allocation; a linear scan of the sections.
 */
struct conf_dest conf_dest_for(const struct conf *, const char *domain,
		    time_t now, const struct conf_domain **matched,
		    const struct conf_domain **expired);

/*
 * Is the client in relay_clients? An IPv4-mapped IPv6 client (::ffff:a.b.c.d,
 * from a dual-stack socket) matches IPv4 entries, and an IPv4 client matches
 * ::ffff:0:0/96-style entries. Other families are never allowed.
 */
bool		 conf_client_allowed(const struct conf *, const struct sockaddr *);

/*
 * After the privilege drop a SIGHUP reloads as the unprivileged user: a
 * file that start-up read as root (tls_key_file, trust_anchor_file) may no
 * longer be readable. With this set, "permission denied" on such a file is
 * not a load error; what was built from it at start is kept
 * (relay/privsep.h).
 */
void		 conf_set_unreadable_ok(bool);
const char	*conf_tls_policy_name(enum tls_policy);

#endif
