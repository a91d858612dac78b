/*
 * relay/listener.c - bind, accept, cap. Sockets are bound once at start,
 * before the privilege drop, and accept only from listener_start() on
 * (a SIGHUP does not rebind: new `listen` values need a restart, and the
 * reload says so). Over max_clients, or max_clients_per_ip from one
 * address, the connection gets a one-line 421 written without blocking
 * and is closed at once: no session is built for it. On EMFILE/ENFILE the
 * descriptor kept in reserve (/dev/null) is let go so that a few waiting
 * connections (REFUSE_MAX) can be accepted and told "421 4.3.2" instead
 * of hanging; then every listener is disabled and a timer re-enables them
 * after 1s, doubling to PAUSE_MAX while accept keeps failing (OpenBSD
 * httpd's pause, with libev's reserve descriptor). The rest of the
 * backlog waits in the kernel meanwhile. One log line per minute at most
 * says so, with a count; one says when accepting works again. A reserve
 * that cannot be opened again (another thread took the descriptor, or
 * /dev/null is out of reach) is retried from a timer, 1s doubling to
 * PAUSE_MAX, logged once a minute at most, never given up.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/listener.h"
#include "conf/conf.h"
#include "relay/log.h"
#include "relay/relay.h"
#include "relay/smtp_session.h"
#include "relay/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#define REFUSE_MAX	8	/* connections told 421 per pause */
#define PAUSE_MAX	8	/* seconds */

struct listener {
	struct relay		 *relay;
	struct evconnlistener	**lev;
	size_t			  nlev;
	struct event		 *resume;	/* re-enable after EMFILE */
	int			  paused;
	unsigned		  pause;	/* seconds of the last pause, 0: none */
	int			  reserve;	/* /dev/null, given up on EMFILE */
	struct event		 *reserve_ev;	/* retry opening it */
	unsigned		  reserve_wait;	/* seconds, 0: it is open */
	struct log_limit	  ll_starved, ll_reserve;
};

static void
listener_reserve(struct listener *l)
{
	struct timeval tv = { 0, 0 };

	if (l->reserve != -1)
		return;
	if ((l->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1) {
		if (l->reserve_wait != 0) {
			l->reserve_wait = 0;
			log_limit_end(&l->ll_reserve, NULL, "accept: reserve "
			    "descriptor open again");
		}
		return;
	}
	l->reserve_wait = l->reserve_wait == 0 ? 1 :
	    l->reserve_wait * 2 > PAUSE_MAX ? PAUSE_MAX : l->reserve_wait * 2;
	log_limit_warn(&l->ll_reserve, NULL, "accept: cannot open the reserve "
	    "descriptor (/dev/null), without it a descriptor shortage "
	    "leaves waiting connections unanswered; trying again in %us",
	    l->reserve_wait);
	tv.tv_sec = l->reserve_wait;
	evtimer_add(l->reserve_ev, &tv);
}

static void
listener_reserve_retry(evutil_socket_t fd, short ev, void *arg)
{
	listener_reserve(arg);
}

/*
 * Out of descriptors: with the reserve one free, accept a few waiting
 * connections from fd and tell them why they cannot be served. Returns
 * how many were told.
 */
static unsigned
listener_refuse_starved(struct listener *l, int lfd)
{
	const struct conf *conf = l->relay->rc->conf;
	char line[256];
	unsigned n = 0;
	int fd, len;

	if (l->reserve == -1)
		return 0;
	close(l->reserve);
	l->reserve = -1;
	len = snprintf(line, sizeof(line), "421 4.3.2 %s Service not "
	    "available: out of file descriptors, try again later\r\n",
	    conf->hostname);
	while (n < REFUSE_MAX &&
	    (fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		if (send(fd, line, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
			log_debug(NULL, "421 on a descriptor shortage: %s",
			    strerror(errno));
		close(fd);
		n++;
	}
	listener_reserve(l);
	return n;
}

static void
listener_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	struct relay *r = l->relay;
	const struct conf *conf = r->rc->conf;

	if (r->stopping) {
		close(fd);
		return;
	}
	if (l->pause != 0) {
		l->pause = 0;
		log_limit_end(&l->ll_starved, NULL, "accept: descriptors "
		    "available again, accepting connections");
	}
	if (r->nsessions >= conf->max_clients) {
		smtp_session_refuse(r, fd, sa, (socklen_t)salen,
		    "421 4.7.0 Too many connections, try again later",
		    "too many clients");
		return;
	}
	if (smtp_session_count_from(r, sa) >= conf->max_clients_per_ip) {
		smtp_session_refuse(r, fd, sa, (socklen_t)salen,
		    "421 4.7.0 Too many connections from your address, try "
		    "again later", "too many connections from this address");
		return;
	}
	smtp_session_accept(r, fd, sa, (socklen_t)salen);
}

static void
listener_resume(evutil_socket_t fd, short ev, void *arg)
{
	struct listener *l = arg;
	size_t i;

	l->paused = 0;
	for (i = 0; i < l->nlev; i++)
		evconnlistener_enable(l->lev[i]);
}

static void
listener_error(struct evconnlistener *lev, void *arg)
{
	struct listener *l = arg;
	struct timeval tv = { 0, 0 };
	size_t i;
	unsigned n;
	int e = errno;

	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		if (!l->paused) {
			/* the reserve helps against EMFILE/ENFILE only */
			n = e == EMFILE || e == ENFILE ?
			    listener_refuse_starved(l,
			    evconnlistener_get_fd(lev)) : 0;
			l->pause = l->pause == 0 ? 1 :
			    l->pause * 2 > PAUSE_MAX ? PAUSE_MAX : l->pause * 2;
			errno = e;
			log_limit_warn(&l->ll_starved, NULL, "accept: pausing "
			    "for %us, %u waiting connection%s told 421 4.3.2",
			    l->pause, n, n == 1 ? "" : "s");
			for (i = 0; i < l->nlev; i++)
				evconnlistener_disable(l->lev[i]);
			l->paused = 1;
			tv.tv_sec = l->pause;
			evtimer_add(l->resume, &tv);
		}
		return;
	}
	/* ECONNABORTED and friends: the peer went away, nothing to do */
	errno = e;
	log_warn(NULL, "accept");
}

static int
listener_bind(const struct conf_addr *a, char *err, size_t errlen)
{
	int fd, on = 1;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "listen %s: socket: %s", a->text,
		    strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		goto fail;
	/* a v6 address means v6 only; v4 is listed on its own */
	if (a->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&a->ss, a->sslen) == -1)
		goto fail;
	if (listen(fd, 512) == -1)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "listen %s: %s", a->text, strerror(errno));
	close(fd);
	return -1;
}

struct listener *
listener_open(struct relay *r, char *err, size_t errlen)
{
	const struct conf *conf = r->rc->conf;
	struct listener *l;
	size_t i;
	int fd;

	l = xcalloc(1, sizeof(*l));
	l->relay = r;
	l->reserve = -1;
	l->lev = xcalloc(conf->nlisten, sizeof(*l->lev));
	if ((l->resume = evtimer_new(r->base, listener_resume, l)) == NULL ||
	    (l->reserve_ev = evtimer_new(r->base, listener_reserve_retry,
	    l)) == NULL)
		fatalx("evtimer_new");
	listener_reserve(l);
	for (i = 0; i < conf->nlisten; i++) {
		if ((fd = listener_bind(&conf->listen[i], err, errlen)) == -1)
			goto fail;
		l->lev[i] = evconnlistener_new(r->base, listener_accept, l,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_DISABLED, -1, fd);
		if (l->lev[i] == NULL) {
			snprintf(err, errlen, "listen %s: evconnlistener_new failed",
			    conf->listen[i].text);
			close(fd);
			goto fail;
		}
		l->nlev++;
		evconnlistener_set_error_cb(l->lev[i], listener_error);
		log_info(NULL, "listening on %s", conf->listen[i].text);
	}
	return l;
fail:
	listener_free(l);
	return NULL;
}

void
listener_start(struct listener *l)
{
	size_t i;

	for (i = 0; i < l->nlev; i++)
		evconnlistener_enable(l->lev[i]);
}

void
listener_free(struct listener *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->nlev; i++)
		evconnlistener_free(l->lev[i]);
	free(l->lev);
	if (l->resume != NULL)
		event_free(l->resume);
	if (l->reserve_ev != NULL)
		event_free(l->reserve_ev);
	if (l->reserve != -1)
		close(l->reserve);
	free(l);
}
