/*
 * relay/evio.h - the daemon's event base and small helpers that save
 * system calls on the event loop's hot paths (see relay/evio.c).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_EVIO_H
#define RELAY_EVIO_H

#include <stdbool.h>

struct event_base;

/*
 * The daemon's event base: epoll with libevent's change list, so that
 * interest changes made during one loop turn reach the kernel as one
 * epoll_ctl(2) per descriptor at the next wait, and an add undone in the
 * same turn costs none. NULL on failure.
 */
struct event_base	*evio_base_new(void);

struct bufferevent;
/*
 * Write what a plain socket bufferevent has queued now, in this loop turn,
 * instead of enabling write interest and writing at the next turn (two
 * epoll_ctl(2) calls per reply on a request/response session). Returns
 * true if everything went out and the write interest was withdrawn: the
 * bufferevent's write callback then does not run for this output, so the
 * caller uses this only where that callback would have had nothing to do.
 * False (nothing queued, a TLS filter, EAGAIN, an error, a partial write):
 * the bufferevent writes the rest and reports errors as usual.
 */
bool			 evio_send_now(struct bufferevent *);

/*
 * The bufferevent has queued output and asked for write interest: run its
 * own write callback in this loop turn (event_active) instead of after
 * the next epoll_wait. When that drains the output, the interest is
 * withdrawn in the same turn and the change list makes no epoll_ctl(2)
 * at all; when the socket is full, the interest stays and it goes on as
 * usual. Works for socket and TLS (bufferevent_openssl on a socket)
 * bufferevents; the bufferevent's callbacks run as they would have.
 * Returns false if there was nothing to do.
 */
bool			 evio_write_soon(struct bufferevent *);

/*
 * A TLS bufferevent just made in the connecting state and enabled: start
 * the handshake (its ClientHello) in this loop turn, the same way, rather
 * than after an epoll_wait for writability. False if it waits for nothing.
 */
bool			 evio_handshake_soon(struct bufferevent *);

#endif
