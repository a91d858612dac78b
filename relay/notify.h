/*
 * relay/notify.h - the service manager's readiness protocol (systemd's
 * sd_notify(3), Type=notify), spoken directly: one datagram per state
 * change on the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an
 * abstract name written "@name"). No libsystemd.
 *
 *	READY=1			listeners up, spool loaded; again after a reload
 *	RELOADING=1 + MONOTONIC_USEC=N	SIGHUP seen (CLOCK_MONOTONIC, in us)
 *	STOPPING=1		SIGTERM/SIGINT seen
 *	STATUS=...		queue size, sent when it changes (checked 1/s);
 *				lines lost while log_file cannot be written
 *
 * Without $NOTIFY_SOCKET every call is a no-op. One notifier per process;
 * call from the event loop's thread only.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_NOTIFY_H
#define RELAY_NOTIFY_H

#include <stddef.h>

struct event_base;

/*
 * Connect to $NOTIFY_SOCKET if it is set (before dropping privileges: the
 * socket's permissions are checked here, once). 0 when connected or when
 * there is nothing to connect to; -1 + err when it is set but unusable
 * (the caller logs it and goes on: readiness is then never reported).
 */
int	notify_open(char *err, size_t errlen);
void	notify_close(void);

void	notify_ready(void);
void	notify_reloading(void);
void	notify_stopping(void);

/* What STATUS= shows. */
struct notify_counts {
	size_t		 msgs;		/* messages queued */
	unsigned	 inflight;	/* delivery attempts running */
	unsigned	 waiting;	/* inbound transactions held by flow
					 * control (relay/flow.h) */
	unsigned long	 log_lost;	/* log lines not written (relay/log.h
					 * log_lost_lines()) */
};
typedef void notify_count_fn(void *arg, struct notify_counts *);

/*
 * Report the queue size in STATUS= now and whenever it changes, polling
 * count once a second (a few loads, no I/O unless it changed). Stopped by
 * notify_close() or notify_watch_stop(). base NULL: no polling, the
 * STATUS goes out with READY=1 only.
 */
void	notify_watch_queue(struct event_base *, notify_count_fn *, void *arg);
void	notify_watch_stop(void);

/* Pure (unit tested): the sockaddr for a NOTIFY_SOCKET value. -1 if it
 * is not a usable AF_UNIX address (empty, too long, another scheme). */
struct sockaddr_un;
int	notify_sockaddr(const char *value, struct sockaddr_un *sun,
	    size_t *sunlen);

#endif
