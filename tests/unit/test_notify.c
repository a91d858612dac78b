/*
 * tests/unit/test_notify.c - relay/notify.c: the NOTIFY_SOCKET value to
 * sockaddr mapping (paths, "@" abstract names, what is refused), and the
 * datagrams themselves, received on a real socket bound by the test:
 * READY=1 with the queue STATUS (and the log lines lost while log_file
 * cannot be written), RELOADING=1 with MONOTONIC_USEC on
 * CLOCK_MONOTONIC, STOPPING=1; and no datagram at all without the variable.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/notify.h"
#include "tests/unit/check.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static unsigned long lost;	/* what log_lost_lines() would say */

static void
count3(void *arg, struct notify_counts *c)
{
	c->msgs = 3;
	c->inflight = 1;
	c->waiting = *(unsigned *)arg;
	c->log_lost = lost;
}

static int
recv_str(int fd, char *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	return (int)n;
}

int
main(void)
{
	struct sockaddr_un sun;
	struct timespec ts;
	char path[64], buf[512], *p;
	unsigned long long usec, now;
	unsigned waiting = 0;
	size_t len;
	int fd;

	CHECK_INT(notify_sockaddr("/run/systemd/notify", &sun, &len), 0);
	CHECK_STR(sun.sun_path, "/run/systemd/notify");
	CHECK_INT(len, offsetof(struct sockaddr_un, sun_path) + 20);
	CHECK_INT(notify_sockaddr("@abc", &sun, &len), 0);
	CHECK_INT(sun.sun_path[0], 0);
	CHECK(memcmp(sun.sun_path + 1, "abc", 3) == 0);
	CHECK_INT(len, offsetof(struct sockaddr_un, sun_path) + 4);
	CHECK_INT(notify_sockaddr("", &sun, &len), -1);
	CHECK_INT(notify_sockaddr("@", &sun, &len), -1);
	CHECK_INT(notify_sockaddr("relative/path", &sun, &len), -1);
	CHECK_INT(notify_sockaddr("vsock:2:1234", &sun, &len), -1);
	memset(buf, 'a', 200);
	buf[0] = '/';
	buf[200] = '\0';
	CHECK_INT(notify_sockaddr(buf, &sun, &len), -1);

	/* no NOTIFY_SOCKET: open succeeds, nothing is sent */
	unsetenv("NOTIFY_SOCKET");
	CHECK_INT(notify_open(buf, sizeof(buf)), 0);
	notify_ready();
	notify_close();

	/* a bad one: -1 with a reason */
	setenv("NOTIFY_SOCKET", "/nonexistent/notify.sock", 1);
	CHECK_INT(notify_open(buf, sizeof(buf)), -1);
	CHECK(strstr(buf, "/nonexistent/notify.sock") != NULL);

	snprintf(path, sizeof(path), "/tmp/test_notify.%ld", (long)getpid());
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(notify_sockaddr(path, &sun, &len) == 0);
	unlink(path);
	CHECK(bind(fd, (struct sockaddr *)&sun, (socklen_t)len) == 0);
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK_INT(notify_open(buf, sizeof(buf)), 0);

	notify_watch_queue(NULL, count3, &waiting);	/* NULL base: no timer, counter only */
	notify_ready();
	CHECK(recv_str(fd, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "READY=1\nSTATUS=3 messages queued, 1 delivery in progress\n");
	/* transactions held by inbound flow control (relay/flow.h) show */
	waiting = 1;
	notify_ready();
	CHECK(recv_str(fd, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "READY=1\nSTATUS=3 messages queued, 1 delivery in "
	    "progress, 1 transaction waiting for delivery to catch up\n");
	waiting = 12;
	notify_ready();
	CHECK(recv_str(fd, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "READY=1\nSTATUS=3 messages queued, 1 delivery in "
	    "progress, 12 transactions waiting for delivery to catch up\n");
	/* lines lost while log_file cannot be written (relay/log.h) */
	lost = 1;
	notify_ready();
	CHECK(recv_str(fd, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "READY=1\nSTATUS=3 messages queued, 1 delivery in "
	    "progress, 12 transactions waiting for delivery to catch up, "
	    "log_file not writable: 1 line lost\n");
	waiting = 0;
	lost = 123456;
	notify_ready();
	CHECK(recv_str(fd, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "READY=1\nSTATUS=3 messages queued, 1 delivery in "
	    "progress, log_file not writable: 123456 lines lost\n");
	lost = 0;

	notify_reloading();
	CHECK(recv_str(fd, buf, sizeof(buf)) > 0);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
	CHECK(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) == 0);
	usec = strtoull(buf + 27, &p, 10);
	CHECK(*p == '\n');
	CHECK(usec <= now && now - usec < 5000000ULL);

	notify_stopping();
	CHECK(recv_str(fd, buf, sizeof(buf)) > 0);
	CHECK(strncmp(buf, "STOPPING=1\n", 11) == 0);
	notify_close();
	notify_ready();			/* closed: nothing more */
	CHECK_INT(recv_str(fd, buf, sizeof(buf)), -1);
	close(fd);
	unlink(path);
	return check_done("test_notify");
}
