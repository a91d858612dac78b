/*
 * relay/evio.c - see relay/evio.h. Why the change list: every reply on an
 * inbound session used to enable and disable write interest one epoll_ctl
 * at a time; with the change list, changes wait for the next epoll_wait
 * and cancel out when made and undone in one turn. libevent's caveat
 * (descriptors duplicated with dup(2) sharing one epoll entry) does not
 * apply: the daemon never registers a dup'ed descriptor.
 * evio_write_soon() is the same saving for a bufferevent that cannot be
 * written around (a TLS one): its own write callback runs in this turn.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/evio.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>

struct event_base *
evio_base_new(void)
{
	struct event_config	*cfg;
	struct event_base	*base;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	(void)event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

bool
evio_send_now(struct bufferevent *bev)
{
	struct evbuffer	*out = bufferevent_get_output(bev);
	evutil_socket_t	 fd = bufferevent_getfd(bev);
	int		 n;

	if (fd < 0 || bufferevent_get_underlying(bev) != NULL ||
	    evbuffer_get_length(out) == 0 ||
	    !(bufferevent_get_enabled(bev) & EV_WRITE))
		return false;
	/* the bufferevent keeps the front of its output frozen for all but
	 * its own write callback, which thaws it around the write: so do we */
	evbuffer_unfreeze(out, 1);
	n = evbuffer_write(out, fd);
	evbuffer_freeze(out, 1);
	if (n <= 0 || evbuffer_get_length(out) > 0)
		return false;
	/* what libevent does once the output has drained; with the change
	 * list this cancels the add made when the reply was queued */
	event_del(&bev->ev_write);
	return true;
}

/* Run the bufferevent's pending write event in this loop turn. */
static bool
evio_write_event_now(struct bufferevent *bev)
{
	if (bufferevent_get_underlying(bev) != NULL ||
	    !(bufferevent_get_enabled(bev) & EV_WRITE) ||
	    !event_pending(&bev->ev_write, EV_WRITE, NULL))
		return false;
	/* a no-op if it is active already (several commands in one turn) */
	event_active(&bev->ev_write, EV_WRITE, 1);
	return true;
}

bool
evio_write_soon(struct bufferevent *bev)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		return false;
	return evio_write_event_now(bev);
}

bool
evio_handshake_soon(struct bufferevent *bev)
{
	return evio_write_event_now(bev);
}
