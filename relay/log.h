/*
 * relay/log.h - the daemon's log: one event per line,
 *	TIMESTAMP danerelay[PID]: QUEUEID: text
 * to stderr ("-"), syslog ("syslog") or a file (a path). The layer that
 * decides logs; lower layers hand text back. Peer-supplied text must pass
 * through log_safe() before it reaches a log call.
 */
#ifndef RELAY_LOG_H
#define RELAY_LOG_H

#include <stddef.h>

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
 * Escape untrusted text for a log line: non-printable bytes become \xHH,
 * backslash becomes \\, and the result is cut at len-1 bytes with "..."
 * marking the cut. Returns buf.
 */
const char *log_safe(const char *s, size_t slen, char *buf, size_t len);

#endif
