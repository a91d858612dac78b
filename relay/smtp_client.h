/*
 * relay/smtp_client.h - one outbound SMTP connection to one address:port,
 * driven by the delivery engine: connect, banner, EHLO (HELO fallback),
 * STARTTLS under the caller's security context (tls/tls_client.h), EHLO,
 * then one message after another (RSET between) until the caller QUITs.
 * MAIL/RCPT/DATA go in one write when PIPELINING is offered (Postfix's two
 * cursors); content streams from an fd with dot-stuffing and backpressure.
 *
 * Everything comes back as values through callbacks: events to log,
 * a result per recipient, a result per message, and one final "closed"
 * with the failure class. This module never logs and never decides
 * defer/bounce/next-MX: the caller does (OpenSMTPD smtp.h shape).
 *
 * Callbacks run on the loop, never from inside smtp_client_connect(),
 * smtp_client_send() or smtp_client_quit(). From any callback the caller
 * may call smtp_client_send(), smtp_client_quit() or smtp_client_free().
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_SMTP_CLIENT_H
#define RELAY_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tls/tls_client.h"

struct event_base;
struct smtp_client;			/* one connection, opaque */

/* Where in the dialogue something happened. */
enum smtp_stage {
	SMTP_STAGE_CONNECT,
	SMTP_STAGE_GREETING,
	SMTP_STAGE_EHLO,		/* EHLO or HELO, before or after TLS */
	SMTP_STAGE_STARTTLS,		/* the STARTTLS command */
	SMTP_STAGE_TLS,			/* the handshake and verification */
	SMTP_STAGE_IDLE,		/* between messages */
	SMTP_STAGE_RSET,
	SMTP_STAGE_MAIL,
	SMTP_STAGE_RCPT,
	SMTP_STAGE_DATA,		/* the DATA command */
	SMTP_STAGE_CONTENT,		/* sending content */
	SMTP_STAGE_DOT,			/* reply to the final "." */
	SMTP_STAGE_QUIT,
};

/* Failure classes. */
enum smtp_fail {
	SMTP_FAIL_NONE = 0,
	SMTP_FAIL_CONNECT,		/* refused, timeout, unreachable */
	SMTP_FAIL_GREETING,		/* banner 4xx/5xx (421 ...) or none in time */
	SMTP_FAIL_HELO,			/* EHLO and HELO rejected (reply has the code) */
	SMTP_FAIL_PROTO,		/* garbage, over-long or unexpected reply */
	SMTP_FAIL_STARTTLS_MISSING,	/* TLS required, STARTTLS not offered or refused */
	SMTP_FAIL_TLS,			/* handshake failed */
	SMTP_FAIL_DANE,			/* handshake done, DANE verification failed */
	SMTP_FAIL_LOST,			/* EOF, I/O error or timeout after the greeting */
	SMTP_FAIL_TEMP,			/* message refused with 4xx (MAIL, DATA) */
	SMTP_FAIL_PERM,			/* message refused with 5xx or locally (SIZE, SMTPUTF8) */
};

#define SMTP_REPLY_MAX	512

/*
 * A server reply, multi-line replies joined with single spaces. code 0
 * marks a local verdict with no server reply behind it (text then
 * explains, esc still holds a status like "5.6.7"). text is peer text:
 * log it through log_safe().
 */
struct smtp_reply {
	int			 code;		/* 250, 450 ..., 0 local */
	char			 esc[16];	/* enhanced status "2.0.0" or "" */
	char			 text[SMTP_REPLY_MAX];	/* "250 2.0.0 Ok: queued as X" */
};

/* ESMTP extensions the server offered (last EHLO). */
#define SMTP_EXT_PIPELINING	0x01
#define SMTP_EXT_STARTTLS	0x02
#define SMTP_EXT_8BITMIME	0x04
#define SMTP_EXT_SMTPUTF8	0x08
#define SMTP_EXT_SIZE		0x10
#define SMTP_EXT_ESMTP		0x20	/* EHLO worked (no HELO fallback) */

enum smtp_event_type {
	SMTP_EV_CONNECTED,		/* TCP up: text = "[addr]:port" */
	SMTP_EV_TLS,			/* handshake done: tls (verdict included) */
	SMTP_EV_TLS_SKIPPED,		/* test mode or MAY: going on without the TLS the context wanted; rpt + text say why */
	SMTP_EV_REPLY,			/* a reply was read: reply */
	SMTP_EV_DOWNGRADE,		/* the message was fitted to the server: text says how */
};

struct smtp_event {
	enum smtp_event_type	 type;
	enum smtp_stage		 stage;
	const struct smtp_reply	*reply;		/* SMTP_EV_REPLY */
	const struct tls_result	*tls;		/* SMTP_EV_TLS */
	bool			 tls_ok;	/* SMTP_EV_TLS: meets the context (test mode: would have) */
	enum tlsrpt_type	 rpt;		/* SMTP_EV_TLS (failed), SMTP_EV_TLS_SKIPPED */
	const char		*text;
};

/* One recipient's outcome: reply to RCPT if not 2xx, else to DATA / ".",
 * or the message's refusal (MAIL, SIZE, SMTPUTF8) copied to each. */
struct smtp_rcpt_result {
	size_t			 idx;		/* into smtp_client_msg.rcpts */
	enum smtp_stage		 stage;		/* RCPT, MAIL, DATA, DOT */
	const struct smtp_reply	*reply;
};

/* A message's end; the connection is idle again afterwards. */
struct smtp_msg_result {
	enum smtp_fail		 fail;		/* NONE, TEMP, PERM */
	enum smtp_stage		 stage;		/* where it ended */
	const struct smtp_reply	*reply;		/* the deciding reply */
	size_t			 accepted;	/* recipients delivered (2xx after ".") */
};

/* The connection is gone. fail NONE after a clean QUIT. */
struct smtp_failure {
	enum smtp_fail		 fail;
	enum smtp_stage		 stage;
	bool			 in_transaction;	/* a message was in flight: its recipients without a result are not delivered */
	bool			 timeout;	/* the stage timed out */
	enum tlsrpt_type	 rpt;		/* STARTTLS_MISSING, TLS, DANE */
	const struct smtp_reply	*reply;		/* the server reply if one decided, else NULL */
	const char		*why;		/* "connect to [192.0.2.1]:25: Connection refused", "lost connection after RCPT" ... */
};

struct smtp_client_cbs {
	void	(*event)(void *arg, const struct smtp_event *);		/* may be NULL */
	void	(*ready)(void *arg);	/* session up (after EHLO [STARTTLS EHLO]): send a message or QUIT */
	void	(*rcpt)(void *arg, const struct smtp_rcpt_result *);
	void	(*done)(void *arg, const struct smtp_msg_result *);
	void	(*closed)(void *arg, const struct smtp_failure *);	/* last call; the client is freed after it returns */
};

struct smtp_client_params {
	const struct sockaddr	*sa;		/* address and port to connect to */
	socklen_t		 salen;
	const char		*host;		/* MX host name (texts, session key) */
	const char		*helo_name;	/* ours, for EHLO/HELO */
	struct tls_client	*tls;		/* may be NULL only with level NONE */
	struct tls_secctx	 sec;		/* copied */
	unsigned		 connect_timeout;	/* seconds, conf.h */
	unsigned		 greeting_timeout;
	unsigned		 command_timeout;
	unsigned		 data_timeout;
	unsigned		 data_done_timeout;
};

/*
 * One message. Pointers and fd are borrowed until done() or closed():
 * fd is positioned at the first content octet (queue_content_open) and
 * is read, never closed. flags: ENV_8BITMIME, ENV_SMTPUTF8 (queue.h).
 */
struct smtp_client_msg {
	const char		*sender;	/* "" for <> */
	const char *const	*rcpts;
	size_t			 nrcpts;
	int			 fd;
	uint64_t		 size;
	unsigned		 flags;
};

/* Start connecting. NULL + errno only for local trouble (no socket). */
struct smtp_client *smtp_client_connect(struct event_base *,
		    const struct smtp_client_params *, const struct smtp_client_cbs *,
		    void *arg);
/* Send one message; only when ready() or done() came and nothing is in flight. 0 / -1 (EBUSY). */
int		 smtp_client_send(struct smtp_client *, const struct smtp_client_msg *);
/* QUIT and close; closed() follows. */
void		 smtp_client_quit(struct smtp_client *);
/* Drop the connection now, no further callbacks (shutdown, caller gave up). */
void		 smtp_client_free(struct smtp_client *);

unsigned	 smtp_client_ext(const struct smtp_client *);	/* SMTP_EXT_* */
/* The TLS outcome, NULL when the session is not encrypted. */
const struct tls_result *smtp_client_tls(const struct smtp_client *);
/* Our own address on the connection, as text ("192.0.2.7"). 0 / -1. */
int		 smtp_client_local_addr(const struct smtp_client *, char *buf,
		    size_t len);
/*
 * The TLS connection itself (peer chain, version), NULL when the session
 * is not encrypted. Borrowed: valid until closed() or smtp_client_free();
 * for reading only (`danerelay check` reports the chain).
 */
SSL		*smtp_client_ssl(const struct smtp_client *);
unsigned	 smtp_client_messages(const struct smtp_client *);	/* transactions ended (done() calls) */
/* Where the dialogue is now; SMTP_STAGE_DOT: the "." went out unanswered. */
enum smtp_stage	 smtp_client_stage(const struct smtp_client *);
/* tls_secctx_key() of this connection's context and peer (reuse, rule 15). */
void		 smtp_client_key(const struct smtp_client *, unsigned char key[TLS_KEY_LEN]);
const char	*smtp_stage_name(enum smtp_stage);	/* "RCPT", "end of DATA" ... */
const char	*smtp_fail_name(enum smtp_fail);

#endif
