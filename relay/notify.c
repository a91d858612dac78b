/*
 * relay/notify.c - the sd_notify datagram protocol without libsystemd (see
 * relay/notify.h). The socket is connected once, at start, so that a later
 * drop of privileges does not lose the right to write to it; a send that
 * fails is logged once per streak of failures and never blocks the loop
 * (the socket is non-blocking: a notification the manager cannot take now
 * is dropped, the next state change sends a complete picture again).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/notify.h"
#include "relay/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define STATUS_POLL_SECS	1

static struct {
	int		 fd;		/* -1: no service manager */
	bool		 failing;	/* last send failed (logged once) */
	struct event	*ev_watch;
	notify_count_fn	*count;
	void		*count_arg;
	bool		 sent_once;
	struct notify_counts last;
} nt = { .fd = -1 };

int
notify_sockaddr(const char *value, struct sockaddr_un *sun, size_t *sunlen)
{
	size_t len;

	if (value == NULL || (len = strlen(value)) < 2)
		return -1;
	/* a path, or "@name" for the abstract namespace (linux unix(7)) */
	if (value[0] != '/' && value[0] != '@')
		return -1;
	if (len >= sizeof(sun->sun_path))
		return -1;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, value, len);
	if (value[0] == '@') {
		sun->sun_path[0] = '\0';
		/* an abstract name is exactly len bytes, no terminator */
		*sunlen = offsetof(struct sockaddr_un, sun_path) + len;
	} else
		*sunlen = offsetof(struct sockaddr_un, sun_path) + len + 1;
	return 0;
}

int
notify_open(char *err, size_t errlen)
{
	struct sockaddr_un sun;
	const char *value = getenv("NOTIFY_SOCKET");
	size_t sunlen;
	int fd;

	if (value == NULL || *value == '\0')
		return 0;
	if (notify_sockaddr(value, &sun, &sunlen) == -1) {
		snprintf(err, errlen, "NOTIFY_SOCKET=%s: not an AF_UNIX path "
		    "or @abstract name", value);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		snprintf(err, errlen, "NOTIFY_SOCKET: socket: %s",
		    strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, (socklen_t)sunlen) == -1) {
		snprintf(err, errlen, "NOTIFY_SOCKET=%s: connect: %s", value,
		    strerror(errno));
		close(fd);
		return -1;
	}
	nt.fd = fd;
	return 0;
}

static void
notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
notify_send(const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;
	int	 n;

	if (nt.fd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return;
	if (send(nt.fd, msg, (size_t)n, MSG_NOSIGNAL) == -1) {
		if (!nt.failing)
			log_warn(NULL, "service manager notification (%.*s) "
			    "not sent", (int)strcspn(msg, "\n"), msg);
		nt.failing = true;
		return;
	}
	if (nt.failing)
		log_info(NULL, "service manager notifications work again");
	nt.failing = false;
}

static void
queue_status(char *buf, size_t len, const struct notify_counts *c)
{
	int n;

	n = snprintf(buf, len, "STATUS=%zu message%s queued, %u deliver%s in "
	    "progress", c->msgs, c->msgs == 1 ? "" : "s", c->inflight,
	    c->inflight == 1 ? "y" : "ies");
	if (n > 0 && (size_t)n < len && c->waiting > 0)
		n += snprintf(buf + n, len - (size_t)n, ", %u transaction%s "
		    "waiting for delivery to catch up", c->waiting,
		    c->waiting == 1 ? "" : "s");
	if (n > 0 && (size_t)n < len && c->log_lost > 0)
		n += snprintf(buf + n, len - (size_t)n, ", log_file not "
		    "writable: %lu line%s lost", c->log_lost,
		    c->log_lost == 1 ? "" : "s");
	if (n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "\n");
}

/* The current STATUS= line, remembered as sent; "" without a counter. */
static void
current_status(char *buf, size_t len)
{
	buf[0] = '\0';
	if (nt.count == NULL)
		return;
	memset(&nt.last, 0, sizeof(nt.last));
	nt.count(nt.count_arg, &nt.last);
	nt.sent_once = true;
	queue_status(buf, len, &nt.last);
}

void
notify_ready(void)
{
	char status[256];

	if (nt.fd == -1)
		return;
	current_status(status, sizeof(status));
	notify_send("READY=1\n%s", status);
}

void
notify_reloading(void)
{
	struct timespec ts;

	if (nt.fd == -1)
		return;
	/* systemd (Type=notify-reload) matches the reload by this stamp */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\n"
	    "STATUS=reloading the configuration\n",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
}

void
notify_stopping(void)
{
	notify_watch_stop();
	notify_send("STOPPING=1\nSTATUS=stopping\n");
}

static void
watch_cb(evutil_socket_t fd, short ev, void *arg)
{
	char	 status[256];
	struct notify_counts c = { 0 };

	nt.count(nt.count_arg, &c);
	if (nt.sent_once && c.msgs == nt.last.msgs &&
	    c.inflight == nt.last.inflight && c.waiting == nt.last.waiting &&
	    c.log_lost == nt.last.log_lost)
		return;
	current_status(status, sizeof(status));
	notify_send("%s", status);
}

void
notify_watch_queue(struct event_base *base, notify_count_fn *count,
    void *arg)
{
	struct timeval tv = { STATUS_POLL_SECS, 0 };

	nt.count = count;
	nt.count_arg = arg;
	nt.sent_once = false;
	if (nt.fd == -1 || base == NULL || nt.ev_watch != NULL)
		return;
	if ((nt.ev_watch = event_new(base, -1, EV_PERSIST, watch_cb,
	    NULL)) == NULL) {
		log_warnx(NULL, "service manager status: event_new failed");
		return;
	}
	event_add(nt.ev_watch, &tv);
}

void
notify_watch_stop(void)
{
	if (nt.ev_watch != NULL)
		event_free(nt.ev_watch);
	nt.ev_watch = NULL;
	nt.count = NULL;
}

void
notify_close(void)
{
	notify_watch_stop();
	if (nt.fd != -1)
		close(nt.fd);
	nt.fd = -1;
	nt.failing = false;
}
