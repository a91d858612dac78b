/*
 * relay/smtp_session.h - the inbound SMTP server, one session per
 * accepted connection, all on the relay's event loop. A session owns its
 * bufferevent, its timer and at most one message being received; it is
 * freed in one place only (it logs "disconnect from ..." there).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_SMTP_SESSION_H
#define RELAY_SMTP_SESSION_H

#include <sys/socket.h>

struct relay;

/* Serve a new connection (fd is non-blocking; the session owns it). */
void	 smtp_session_accept(struct relay *, int fd, const struct sockaddr *,
	    socklen_t);

/*
 * Turn a connection away without a session: reply (one line, no CRLF) is
 * written without blocking, the refusal logged with why, fd closed.
 */
void	 smtp_session_refuse(struct relay *, int fd, const struct sockaddr *,
	    socklen_t, const char *reply, const char *why);

/* Sessions open from sa's address (max_clients_per_ip); O(sessions). */
unsigned smtp_session_count_from(struct relay *, const struct sockaddr *);

/*
 * SIGTERM: sessions without a transaction get 421 and close now; those in
 * a transaction may finish it (their next reply is followed by 421).
 * relay->sessions_gone runs when the last session is gone.
 */
void	 smtp_session_shutdown_all(struct relay *);

/* The grace time is over: 421 and close every session, discarding any
 * message not yet committed. */
void	 smtp_session_abort_all(struct relay *);

#endif
