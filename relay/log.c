/*
 * relay/log.c - log destinations and the line format. The destination is
 * process-wide state (like syslog itself): set once at start and on SIGHUP.
 * Lines are written whole by one write(2) (O_APPEND), so that concurrent
 * writers to a shared file never interleave within a line.
 * Once log_buffer_start() has named a thread's event loop, the lines
 * logged on that thread are gathered in the thread's own buffer and
 * written together by one write(2) from an event that runs at the end of
 * that loop's turn (a busy relay logs about ten lines per message, and a
 * write(2) plus a getpid(2) each); the daemon's two loops (relay/main.c)
 * each have theirs. So a crash (SIGKILL) loses at most the lines of the
 * turns it interrupts; SIGTERM, fatal() and exit() lose none. Lines from
 * threads without a loop are written at once, after what the loops have
 * gathered.
 * A write that fails (a full file system, EFBIG, EIO) never stops the
 * caller: the lines not written are counted with the errno, and the next
 * write first puts "log: N lines lost while log_file could not be written
 * (REASON)" ahead of its own lines; log_lost_lines() shows the count
 * meanwhile (systemd's STATUS=, relay/notify.c).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/log.h"
#include "relay/util.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
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

/*
 * Threads: every logging thread may call every function here. log_mu
 * guards the destination (log_dest, log_fd: swapped by log_open() while
 * another loop may be writing) and every buffer; a buffer belongs to the
 * thread that started it (log_tb, thread-local) and only that thread adds
 * lines to it, so the lines of one thread keep their order and each line
 * stays whole; any thread may write all buffers out (log_close(), exit,
 * fatal()). The lock is held for a memcpy per line and for the one
 * write(2) per loop turn. It also guards the count of lines lost.
 */
static _Atomic int	 log_dest = DEST_STDERR;
static int		 log_fd = STDERR_FILENO;	/* under log_mu */
static int		 log_debug_on;
static _Atomic long	 log_pid;	/* cached: one getpid() per process */

/* A loop thread's lines of the current turn (log_buffer_start()). */
#define LOG_BUF_SIZE	65536
struct log_tbuf {
	struct log_tbuf	*next;		/* log_tbufs, under log_mu */
	struct event	*ev;		/* on the thread's base: write them out */
	size_t		 len;		/* under log_mu */
	char		 buf[LOG_BUF_SIZE];
};
static pthread_mutex_t	 log_mu = PTHREAD_MUTEX_INITIALIZER;
static struct log_tbuf	*log_tbufs;		/* every buffer, under log_mu */
static _Thread_local struct log_tbuf *log_tb;	/* this thread's; NULL: unbuffered */

/* Lines that could not be written, under log_mu (log_out_locked()). */
static unsigned long	 log_lost;
static int		 log_lost_errno;
static bool		 log_midline;	/* the last write ended inside a line */

static size_t log_prefix(char *buf, size_t len);

/* write(2) all of p, or as much as goes; the octets written. log_mu held. */
static size_t
log_write_locked(const char *p, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = write(log_fd, p + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_lost_errno = n == 0 ? EIO : errno;
			break;
		}
		off += (size_t)n;
	}
	if (off > 0)
		log_midline = p[off - 1] != '\n';
	return off;
}

/* The count of lost lines, on a line of its own; true once written. */
static bool
log_report_lost_locked(void)
{
	char line[256];
	size_t n = 0;

	if (log_midline)
		line[n++] = '\n';	/* end the line cut by the failed write */
	if (log_lost > 0) {
		n += log_prefix(line + n, sizeof(line) - n);
		n += (size_t)snprintf(line + n, sizeof(line) - n, "log: %lu "
		    "line%s lost while log_file could not be written (%s)\n",
		    log_lost, log_lost == 1 ? "" : "s",
		    strerror(log_lost_errno));
	}
	if (n > 0 && (n >= sizeof(line) || log_write_locked(line, n) < n))
		return false;
	log_lost = 0;
	log_midline = false;
	return true;
}

/*
 * Hand whole lines to the destination; what cannot be written is counted
 * (a line cut by a short write counts as lost), never retried: a log that
 * cannot be written must not stop the mail. log_mu held.
 */
static void
log_out_locked(const char *p, size_t len)
{
	size_t off = 0;

	if ((log_lost > 0 || log_midline) && !log_report_lost_locked())
		off = 0;	/* still failing: all of p is lost */
	else if ((off = log_write_locked(p, len)) == len)
		return;
	for (; off < len; off++)
		if (p[off] == '\n' && log_lost < (unsigned long)-1)
			log_lost++;
}

unsigned long
log_lost_lines(void)
{
	unsigned long n;

	pthread_mutex_lock(&log_mu);
	n = log_lost;
	pthread_mutex_unlock(&log_mu);
	return n;
}

/* Write out one buffer's lines; log_mu held. */
static void
log_flush_locked(struct log_tbuf *tb)
{
	if (tb->len > 0)
		log_out_locked(tb->buf, tb->len);
	tb->len = 0;
}

/* Every thread's buffer; log_mu held. */
static void
log_flush_all_locked(void)
{
	struct log_tbuf *tb;

	for (tb = log_tbufs; tb != NULL; tb = tb->next)
		log_flush_locked(tb);
}

void
log_flush(void)
{
	if (log_tb == NULL)
		return;
	pthread_mutex_lock(&log_mu);
	log_flush_locked(log_tb);
	pthread_mutex_unlock(&log_mu);
}

/* exit(), fatal(): what every loop has gathered, not only this thread's. */
static void
log_flush_all(void)
{
	pthread_mutex_lock(&log_mu);
	log_flush_all_locked();
	pthread_mutex_unlock(&log_mu);
}

static void
log_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct log_tbuf *tb = arg;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&log_mu);
	log_flush_locked(tb);
	pthread_mutex_unlock(&log_mu);
}

int
log_buffer_start(struct event_base *base)
{
	static _Atomic int atexit_done;
	struct log_tbuf *tb;

	if (log_tb != NULL)
		return 0;
	tb = calloc(1, sizeof(*tb));
	if (tb == NULL)
		return -1;
	if ((tb->ev = event_new(base, -1, 0, log_flush_cb, tb)) == NULL) {
		free(tb);
		return -1;
	}
	if (atomic_exchange(&atexit_done, 1) == 0 && atexit(log_flush_all) != 0)
		atexit_done = 0;
	pthread_mutex_lock(&log_mu);
	tb->next = log_tbufs;
	log_tbufs = tb;
	log_tb = tb;
	pthread_mutex_unlock(&log_mu);
	return 0;
}

void
log_buffer_stop(void)
{
	struct log_tbuf *tb = log_tb, **pp;

	if (tb == NULL)
		return;
	pthread_mutex_lock(&log_mu);
	log_flush_locked(tb);
	for (pp = &log_tbufs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == tb) {
			*pp = tb->next;
			break;
		}
	log_tb = NULL;
	pthread_mutex_unlock(&log_mu);
	event_free(tb->ev);
	free(tb);
}

/* Hand one complete line (with its newline) to the destination. */
static void
log_emit(const char *line, size_t len)
{
	struct log_tbuf *tb = log_tb;

	pthread_mutex_lock(&log_mu);
	if (tb != NULL) {
		if (tb->len + len > sizeof(tb->buf))
			log_flush_locked(tb);
		memcpy(tb->buf + tb->len, line, len);
		if (tb->len == 0)
			event_active(tb->ev, EV_TIMEOUT, 1);
		tb->len += len;
	} else {
		/* after what the loops gathered, as a line of theirs would be */
		log_flush_all_locked();
		log_out_locked(line, len);
	}
	pthread_mutex_unlock(&log_mu);
}

/* log_mu held: what is gathered goes to the old destination, then close it. */
static void
log_close_locked(void)
{
	log_flush_all_locked();
	if (log_dest == DEST_FILE && log_fd != -1)
		close(log_fd);
	if (log_dest == DEST_SYSLOG)
		closelog();
	log_dest = DEST_STDERR;
	log_fd = STDERR_FILENO;
}

int
log_open(const char *dest, char *err, size_t errlen)
{
	int fd;

	log_pid = (long)getpid();
	if (dest == NULL || strcmp(dest, "-") == 0) {
		log_close();
		return 0;
	}
	if (strcmp(dest, "syslog") == 0) {
		pthread_mutex_lock(&log_mu);
		log_close_locked();
		openlog("danerelay", LOG_PID | LOG_NDELAY, LOG_MAIL);
		log_dest = DEST_SYSLOG;
		if (log_lost > 0)	/* lost in the file this replaces */
			syslog(LOG_WARNING, "log: %lu line%s lost while log_file "
			    "could not be written (%s)", log_lost, log_lost == 1 ?
			    "" : "s", strerror(log_lost_errno));
		log_lost = 0;
		log_midline = false;
		pthread_mutex_unlock(&log_mu);
		return 0;
	}
	/* as root, never through a link the user made (relay/util.h) */
	if ((fd = open_append(dest, 0640)) == -1) {
		snprintf(err, errlen, "%s: %s%s", dest, strerror(errno),
		    errno == ELOOP || errno == EMLINK ? " (a link is not "
		    "followed as root)" : "");
		return -1;
	}
	pthread_mutex_lock(&log_mu);
	log_close_locked();
	log_dest = DEST_FILE;
	log_fd = fd;
	pthread_mutex_unlock(&log_mu);
	return 0;
}

void
log_close(void)
{
	pthread_mutex_lock(&log_mu);
	log_close_locked();
	/* a count the file never took goes to stderr (systemd: the journal) */
	if (log_lost > 0) {
		log_midline = false;
		(void)log_report_lost_locked();
	}
	pthread_mutex_unlock(&log_mu);
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

/* "TIMESTAMP danerelay[PID]: " into buf (len > 64); its length. */
static size_t
log_prefix(char *buf, size_t len)
{
	struct timeval	 tv;
	struct tm	 tm;
	int		 n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = snprintf(buf, len,
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ danerelay[%ld]: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000),
	    log_pid != 0 ? log_pid : (long)getpid());
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

static void
log_vline(int prio, const char *qid, const char *suffix, const char *fmt,
    va_list ap)
{
	char		 line[2048], msg[2048];
	int		 m;
	size_t		 off = 0;

	if (log_dest != DEST_SYSLOG)
		off = log_prefix(line, sizeof(line));
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
	log_emit(line, off);
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
	log_flush_all();
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_CRIT, NULL, NULL, fmt, ap);
	va_end(ap);
	log_flush_all();
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
