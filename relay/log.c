/*
 * relay/log.c - log destinations and the line format. The destination is
 * process-wide state (like syslog itself): set once at start and on SIGHUP.
 * Lines are written with one write(2) each so that concurrent writers to a
 * shared file never interleave within a line.
 */
#include "relay/log.h"
#include "relay/util.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

enum log_dest { DEST_STDERR, DEST_SYSLOG, DEST_FILE };

static enum log_dest	 log_dest = DEST_STDERR;
static int		 log_fd = STDERR_FILENO;
static int		 log_debug_on;

int
log_open(const char *dest, char *err, size_t errlen)
{
	int fd;

	if (dest == NULL || strcmp(dest, "-") == 0) {
		log_close();
		log_dest = DEST_STDERR;
		log_fd = STDERR_FILENO;
		return 0;
	}
	if (strcmp(dest, "syslog") == 0) {
		log_close();
		openlog("danerelay", LOG_PID | LOG_NDELAY, LOG_MAIL);
		log_dest = DEST_SYSLOG;
		return 0;
	}
	/* as root, never through a link the user made (relay/util.h) */
	if ((fd = open_append(dest, 0640)) == -1) {
		snprintf(err, errlen, "%s: %s%s", dest, strerror(errno),
		    errno == ELOOP || errno == EMLINK ? " (a link is not "
		    "followed as root)" : "");
		return -1;
	}
	log_close();
	log_dest = DEST_FILE;
	log_fd = fd;
	return 0;
}

void
log_close(void)
{
	if (log_dest == DEST_FILE && log_fd != -1)
		close(log_fd);
	if (log_dest == DEST_SYSLOG)
		closelog();
	log_dest = DEST_STDERR;
	log_fd = STDERR_FILENO;
}

void
log_set_debug(int on)
{
	log_debug_on = on;
}

int
log_debug_enabled(void)
{
	return log_debug_on;
}

static void
log_vline(int prio, const char *qid, const char *suffix, const char *fmt,
    va_list ap)
{
	char		 line[2048], msg[2048];
	struct timeval	 tv;
	struct tm	 tm;
	int		 n, m;
	size_t		 off = 0;

	if (log_dest == DEST_SYSLOG) {
		n = 0;
	} else {
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		n = snprintf(line, sizeof(line),
		    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ danerelay[%ld]: ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000),
		    (long)getpid());
	}
	off = (size_t)n;
	if (qid != NULL && *qid != '\0') {
		m = snprintf(line + off, sizeof(line) - off, "%s: ", qid);
		if (m > 0 && (size_t)m < sizeof(line) - off)
			off += (size_t)m;
	}
	/* Whatever a call site missed, no control or line break gets out. */
	m = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (m < 0)
		m = 0;
	off += log_sanitize(msg, (size_t)m < sizeof(msg) ? (size_t)m :
	    sizeof(msg) - 1, line + off, sizeof(line) - off);
	if (suffix != NULL) {
		m = snprintf(line + off, sizeof(line) - off, ": %s", suffix);
		if (m > 0)
			off = (size_t)m >= sizeof(line) - off ?
			    sizeof(line) - 1 : off + (size_t)m;
	}
	if (log_dest == DEST_SYSLOG) {
		syslog(prio, "%s", line);
		return;
	}
	if (off >= sizeof(line) - 1)
		off = sizeof(line) - 2;
	line[off++] = '\n';
	/* One write per line: a short write to a log is not worth a retry loop. */
	if (write(log_fd, line, off) == -1)
		return;
}

static void
log_line(int prio, const char *qid, const char *suffix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
log_line(int prio, const char *qid, const char *suffix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(prio, qid, suffix, fmt, ap);
	va_end(ap);
}

void
log_info(const char *qid, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_INFO, qid, NULL, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *qid, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vline(LOG_WARNING, qid, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *qid, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_WARNING, qid, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *qid, const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	log_vline(LOG_DEBUG, qid, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vline(LOG_CRIT, NULL, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_CRIT, NULL, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

/* ------------------------------------------------- repeating errors */

static time_t
log_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

bool
log_limit_pass(struct log_limit *ll, time_t now, unsigned long *repeated,
    time_t *secs)
{
	unsigned interval = ll->interval ? ll->interval : LOG_LIMIT_INTERVAL;

	*repeated = 0;
	*secs = 0;
	if (ll->logged && now - ll->last < (time_t)interval) {
		if (ll->suppressed < (unsigned long)-1)
			ll->suppressed++;
		return false;
	}
	if (ll->logged) {
		*repeated = ll->suppressed;
		*secs = now - ll->last;
	}
	ll->logged = true;
	ll->last = now;
	ll->suppressed = 0;
	return true;
}

static void
log_limit_vline(struct log_limit *ll, int prio, const char *qid,
    const char *suffix, bool force, const char *fmt, va_list ap)
{
	char		 text[1536], rep[80] = "";
	unsigned long	 n;
	time_t		 secs;

	if (force) {
		/* the end of a reported condition, with what was still counted */
		bool reported = ll->logged;

		n = ll->suppressed;
		secs = reported ? log_monotonic() - ll->last : 0;
		ll->logged = false;
		ll->suppressed = 0;
		if (!reported)
			return;
	} else if (!log_limit_pass(ll, log_monotonic(), &n, &secs))
		return;
	vsnprintf(text, sizeof(text), fmt, ap);
	if (n > 0)
		snprintf(rep, sizeof(rep), " (repeated %lu time%s in the last "
		    "%llds)", n, n == 1 ? "" : "s", (long long)secs);
	if (suffix != NULL)
		log_line(prio, qid, NULL, "%s: %s%s", text, suffix, rep);
	else
		log_line(prio, qid, NULL, "%s%s", text, rep);
}

void
log_limit_warn(struct log_limit *ll, const char *qid, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_limit_vline(ll, LOG_WARNING, qid, strerror(saved), false, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_limit_warnx(struct log_limit *ll, const char *qid, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_limit_vline(ll, LOG_WARNING, qid, NULL, false, fmt, ap);
	va_end(ap);
}

void
log_limit_end(struct log_limit *ll, const char *qid, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_limit_vline(ll, LOG_INFO, qid, NULL, true, fmt, ap);
	va_end(ap);
}

/* libevent's own messages (epoll errors and the like): into our log. */
static void
log_libevent_cb(int severity, const char *msg)
{
	if (severity == EVENT_LOG_DEBUG)
		log_debug(NULL, "libevent: %s", msg);
	else if (severity == EVENT_LOG_MSG)
		log_info(NULL, "libevent: %s", msg);
	else
		log_warnx(NULL, "libevent: %s", msg);
}

void
log_libevent(void)
{
	event_set_log_callback(log_libevent_cb);
}
