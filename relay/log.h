/*
 * relay/log.h - the daemon's log: one event per line,
 *	TIMESTAMP danerelay[PID]: QUEUEID: text
 * to stderr ("-"), syslog ("syslog") or a file (a path). The layer that
 * decides logs; lower layers hand text back. Peer-supplied text must pass
 * through log_safe() before it reaches a log call.
 */
#ifndef RELAY_LOG_H
#define RELAY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define LOG_SAFE_MAX	256	/* log_safe() output buffer size */

int	 log_open(const char *dest, char *err, size_t errlen);	/* 0 / -1 + err */
void	 log_close(void);
void	 log_set_debug(int on);
int	 log_debug_enabled(void);
/* Route libevent's warnings and errors into this log ("libevent: ..."). */
void	 log_libevent(void);

/* qid may be NULL for lines about no message. */
void	 log_info(const char *qid, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_warn(const char *qid, const char *fmt, ...)	/* appends ": strerror(errno)" */
	    __attribute__((format(printf, 2, 3)));
void	 log_warnx(const char *qid, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_debug(const char *qid, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Start-up failures and broken invariants only, never peer input or I/O. */
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A repeating error, logged once per interval with a count: the first
 * occurrence is written at once; later ones within `interval` seconds of
 * the last line written are only counted; the first one after that is
 * written with " (repeated N times in the last Ts)" appended, N being the
 * occurrences not written since the last line and T the seconds since it.
 * One limiter per kind of error (a static at the call site, or a field of
 * the object the error is about), zero-initialised (interval 0 means
 * LOG_LIMIT_INTERVAL). Time is CLOCK_MONOTONIC, so a clock step changes
 * nothing.
 */
#define LOG_LIMIT_INTERVAL	60

struct log_limit {
	unsigned	 interval;	/* seconds; 0: LOG_LIMIT_INTERVAL */
	bool		 logged;	/* a line was written (at `last`) */
	time_t		 last;		/* monotonic second of that line */
	unsigned long	 suppressed;	/* occurrences counted since */
};

void	 log_limit_warn(struct log_limit *, const char *qid, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));	/* + strerror(errno) */
void	 log_limit_warnx(struct log_limit *, const char *qid, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
/*
 * The condition is over: if it was reported (a line was written since the
 * last reset), log TEXT now, with " (repeated N times in the last Ts)"
 * when occurrences were counted but not written; then reset, so that the
 * next occurrence is written at once. No-op if nothing was reported.
 */
void	 log_limit_end(struct log_limit *, const char *qid, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
/*
 * The decision alone (unit tested): true if an occurrence at monotonic
 * second now is to be written; *repeated and *secs then get N and T for
 * the suffix (0 when there is nothing to report). Counts it otherwise.
 */
bool	 log_limit_pass(struct log_limit *, time_t now, unsigned long *repeated,
	    time_t *secs);

/*
 * Escape untrusted text for a log line: non-printable bytes become \xHH,
 * backslash becomes \\, and the result is cut at len-1 bytes with "..."
 * marking the cut. Returns buf.
 */
const char *log_safe(const char *s, size_t slen, char *buf, size_t len);

#endif
