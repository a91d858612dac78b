/*
 * tests/sink/sink.h - the test SMTP sink: its configuration, its counters
 * and the seam between the process shell (sink.c: options, listeners, TLS
 * context, stats file, signals) and the SMTP session engine (sink_smtp.c).
 * Everything runs on one libevent loop in one thread: the globals below are
 * only touched from that loop, so they need no locking.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef SINK_H
#define SINK_H

#include <stddef.h>
#include <stdio.h>

#include <event2/event.h>
#include <event2/util.h>
#include <openssl/ssl.h>

/* One per-recipient rule (-r): first match in file order wins. */
struct sink_rule {
	char		*pattern;	/* substring of the address, or "*" */
	char		*reply;		/* full reply line, "550 5.1.1 ..." */
};

struct sink_conf {
	const char	*hostname;	/* in the banner and EHLO reply */
	SSL_CTX		*tls_ctx;	/* NULL: STARTTLS is not offered */
	int		 no_pipelining;	/* -P; also enforces synchronisation */
	int		 no_8bitmime;	/* -8 */
	int		 no_smtputf8;	/* -U */
	const char	*banner;	/* -b, NULL: "220 HOST ESMTP ..." */
	const char	*ehlo_reply;	/* -e, NULL: the normal EHLO reply */
	const char	*mail_reply;	/* -m, NULL: 250 */
	const char	*data_reply;	/* -d, NULL: 250 */
	struct sink_rule *rules;	/* -r */
	size_t		 nrules;
	const char	*msg_dir;	/* -D, NULL: discard content */
	unsigned long	 max_size;	/* -S, bytes; announced with SIZE */
	int		 timeout;	/* -T, seconds of client silence */
	int		 quiet;		/* -q: no per-event log lines */
	int		 dot_delay_ms;	/* -w: wait before the reply to "." */
	FILE		*arrivals;	/* -A: "SEQ NS tls|plain" per message */
};

/* Counters written to the stats file (-s); see sink_stats_write(). */
struct sink_stats {
	unsigned long	 connections;	/* accepted */
	unsigned long	 tls;		/* completed TLS handshakes */
	unsigned long	 tls_resumed;	/* ... of which resumed a session */
	unsigned long	 tls_failed;	/* failed TLS handshakes */
	unsigned long	 messages;	/* accepted messages (2xx after ".") */
	unsigned long	 recipients;	/* recipients of accepted messages */
	unsigned long	 rcpt_rejected;	/* RCPT answered 4xx/5xx */
	unsigned long	 rsets;		/* RSET commands */
	unsigned long	 sync_errors;	/* pipelining without PIPELINING */
	unsigned long	 busy;		/* sessions inside a transaction now */
	unsigned long	 busy_peak;	/* ... the most at any moment */
};

extern struct sink_conf		 sink_conf;
extern struct sink_stats	 sink_stats;

/* sink.c */
void	sink_log(const char *, ...) __attribute__((format(printf, 1, 2)));
void	sink_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	sink_stats_changed(void);
void	sink_stats_flush(void);
void	sink_sessions_changed(size_t);
void	sink_busy(const char *, unsigned long, int);
const char *sink_safe(const char *, char *, size_t);

/* sink_smtp.c */
int	smtp_msgdir_init(const char *);
int	smtp_session_start(struct event_base *, evutil_socket_t,
	    const struct sockaddr *, int);
void	smtp_session_close_all(void);
int	smtp_tls_servername(SSL *, int *, void *);

#endif /* SINK_H */
