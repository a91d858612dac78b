/*
 * relay/log.h - the daemon's log: one event per line,
 *	TIMESTAMP danerelay[PID]: QUEUEID: text
 * to stderr ("-"), syslog ("syslog") or a file (a path). The layer that
 * decides logs; lower layers hand text back. Every string that came from a
 * peer or from DNS (addresses, HELO, replies, certificate subjects, names,
 * error text carrying them) passes through log_esc() or log_safe() in the
 * log call; relay/log_safe.c describes the escaping.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_LOG_H
#define RELAY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define LOG_SAFE_MAX	1024	/* log_safe() buffer: fits an escaped path */

int	 log_open(const char *dest, char *err, size_t errlen);	/* 0 / -1 + err */
void	 log_close(void);
void	 log_set_debug(int on);
int	 log_debug_enabled(void);
/*
 * Buffer the lines logged on this thread (the one running base's loop; a
 * buffer per thread) and write them with one write(2) at the end of each
 * turn of base's loop (an event), at log_buffer_stop() and log_flush()
 * (this thread's lines), and at log_close(), fatal() and exit() (every
 * thread's). Call log_buffer_stop() on the same thread once the loop has
 * returned, before base is freed. -1 if the event cannot be made (lines
 * are then written one by one).
 */
struct event_base;
int	 log_buffer_start(struct event_base *);
void	 log_buffer_stop(void);
void	 log_flush(void);
/*
 * Lines lost since the log last took a write: a write(2) to log_file (or
 * stderr) failed (disk full...). 0 once the next write succeeds, which
 * first writes "log: N lines lost while log_file could not be written
 * (REASON)"; log_close() writes a count still pending to stderr. Any
 * thread.
 */
unsigned long log_lost_lines(void);
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
 * Escape untrusted text for a log line (relay/log_safe.c): controls, DEL
 * and bytes that are not well-formed UTF-8 become \xHH; C1 controls,
 * U+2028/U+2029 and bidi controls become \uHHHH; backslash becomes \\;
 * other UTF-8 passes. The result is cut at a character boundary to fit
 * len bytes with its NUL, "..." marking the cut. NULL s is "". Returns buf.
 */
const char *log_safe(const char *s, size_t slen, char *buf, size_t len);

/*
 * log_safe() of the NUL-terminated s (NULL is "") into one of 8 per-thread
 * buffers of LOG_SAFE_MAX: valid until the 8th next call in the thread,
 * so at most 8 of them in one log call.
 */
const char *log_esc(const char *s);

/*
 * The same escaping without the backslash rule, for text that may already
 * hold log_safe() output: log.c runs every formatted line through it. Returns
 * the length written into buf (len >= 1).
 */
size_t	 log_sanitize(const char *s, size_t slen, char *buf, size_t len);

#endif
