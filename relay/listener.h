/*
 * relay/listener.h - the inbound sockets: one evconnlistener per `listen`
 * address (IPv4 and IPv6), the client cap (max_clients, over it a 421 and
 * close) and the back-off when the process runs out of descriptors
 * (accepting pauses for a second instead of spinning on EMFILE).
 * Accepted connections are handed to smtp_session_accept().
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_LISTENER_H
#define RELAY_LISTENER_H

#include <stddef.h>

struct relay;
struct listener;

/*
 * Bind and listen on every address of relay->rc->conf (as root, before
 * the privilege drop); nothing is accepted before listener_start().
 * NULL + err.
 */
struct listener	*listener_open(struct relay *, char *err, size_t errlen);
void		 listener_start(struct listener *);
/* Stop accepting and close the sockets. */
void		 listener_free(struct listener *);

#endif
