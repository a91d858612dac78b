/*
 * relay/acct.c - the accounting file (see acct.h). Fields, in order:
 *
 *	type		d, b or t
 *	timeLogged	when the outcome was recorded ("2026-12-01 23:40:00+0000")
 *	timeQueued	the message's arrival
 *	orig		envelope sender ("" for <>)
 *	rcpt		recipient
 *	dsnAction	relayed, failed, delayed (RFC 3464 2.3.3; "relayed" as
 *			PowerMTA writes: handed to the next MTA)
 *	dsnStatus	enhanced status code (RFC 3463) "2.0.0", "4.7.5" ...
 *	dsnDiag		the reply or our reason, as logged
 *	dsnMta		"HOST (IP)" of the host that decided, "" if none
 *	dlvSourceIp	our address on that connection
 *	dlvDestinationIp the host's address
 *	dlvSize		message size in octets
 *	dlvType		smtp
 *	tlsProtocol	"TLSv1.3", "" for plaintext or no connection
 *	tlsCipher	"TLS_AES_256_GCM_SHA384"
 *	daneResult	ok, unusable, not_applicable, insecure, tempfail, fail
 *	tlsrptResult	RFC 8460 result type of a TLS failure, or ""
 *	mxHost		MX host name that decided
 *	attempts	attempts including this one
 *	jobId		queue id
 *	domain		recipient domain of the attempt
 *	tlsPolicy	the policy applied (none, may, encrypt, dane, dane-only)
 *
 * Records queue in a buffer; an event made active by the first record
 * writes the whole buffer with one write(2) (O_APPEND) after the current
 * callbacks: the outcome's path never waits on the file. A failing write
 * is logged once per failure streak and the records are kept, up to
 * ACCT_BUF_MAX, then dropped with a count; every record, kept or dropped,
 * tries the write again, and the count of dropped records is logged once
 * records are taken again or the buffer is written out, whichever is
 * first, if the log takes lines by then (relay/log.h log_lost_lines());
 * at exit in any case.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/acct.h"
#include "queue/queue.h"
#include "relay/delivery.h"
#include "relay/dlv_trace.h"
#include "relay/log.h"
#include "relay/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define ACCT_BUF_MAX	(8u << 20)	/* unwritten records kept */

static const char acct_header[] =
    "type,timeLogged,timeQueued,orig,rcpt,dsnAction,dsnStatus,dsnDiag,"
    "dsnMta,dlvSourceIp,dlvDestinationIp,dlvSize,dlvType,tlsProtocol,"
    "tlsCipher,daneResult,tlsrptResult,mxHost,attempts,jobId,domain,"
    "tlsPolicy\r\n";

static struct {
	struct event	*ev;
	char		*path;
	int		 fd;
	char		*buf;
	size_t		 len, cap;
	unsigned long	 dropped;
	int		 failing;	/* errno of the last failed write, 0 */
} ac = { NULL, NULL, -1, NULL, 0, 0, 0, 0 };

static void
buf_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		while (*len + n + 1 > *cap)
			*cap = *cap ? *cap * 2 : 1024;
		*buf = xreallocarray(*buf, *cap, 1);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

void
acct_csv_field(char **buf, size_t *len, size_t *cap, const char *s)
{
	const char *p;
	char c;

	if (s == NULL)
		s = "";
	if (strpbrk(s, ",\"\r\n") == NULL) {
		for (p = s; *p != '\0'; p++) {
			c = ((unsigned char)*p < 0x20 || *p == 0x7f) ? ' ' : *p;
			buf_add(buf, len, cap, &c, 1);
		}
		return;
	}
	buf_add(buf, len, cap, "\"", 1);
	for (p = s; *p != '\0'; p++) {
		if (*p == '"')
			buf_add(buf, len, cap, "\"\"", 2);
		else {
			c = ((unsigned char)*p < 0x20 || *p == 0x7f) ? ' ' : *p;
			buf_add(buf, len, cap, &c, 1);
		}
	}
	buf_add(buf, len, cap, "\"", 1);
}

/*
 * Records dropped since the last report (buffer full): say how many, once
 * the log takes lines again (else the count would be lost with them), or
 * at close.
 */
static void
acct_report_dropped(bool closing)
{
	if (ac.dropped == 0 || (!closing && log_lost_lines() > 0))
		return;
	log_warnx(NULL, "acct_file %s: %lu record%s dropped while the file "
	    "could not be written", ac.path ? ac.path : "-", ac.dropped,
	    ac.dropped == 1 ? "" : "s");
	ac.dropped = 0;
}

static void
acct_write(void)
{
	ssize_t w;
	size_t off = 0;

	while (ac.fd != -1 && off < ac.len) {
		w = write(ac.fd, ac.buf + off, ac.len - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (ac.failing != errno)
				log_warnx(NULL, "acct_file %s: write: %s; records "
				    "kept in memory", ac.path,
				    strerror(errno));
			ac.failing = errno;
			break;
		}
		off += (size_t)w;
	}
	if (off > 0) {
		if (ac.failing != 0 && off == ac.len)
			log_info(NULL, "acct_file %s: writing again", ac.path);
		if (off == ac.len)
			ac.failing = 0;
		memmove(ac.buf, ac.buf + off, ac.len - off);
		ac.len -= off;
	}
	if (ac.len == 0)
		acct_report_dropped(false);
}

static void
acct_flush_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	acct_write();
	/* a failing file is tried again on the next record */
}

/* Open path for appending; header if empty. -1 + err. */
static int
acct_open_fd(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	/* as root, never through a link the user made (relay/util.h) */
	fd = open_append(path, 0640);
	if (fd == -1 || fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
		    errno == ELOOP || errno == EMLINK ? " (a link is not "
		    "followed as root)" : "");
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (st.st_size == 0 && write(fd, acct_header, sizeof(acct_header) - 1) !=
	    (ssize_t)sizeof(acct_header) - 1) {
		snprintf(err, errlen, "%s: writing the header: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
acct_open(struct event_base *base, const char *path, char *err, size_t errlen)
{
	int fd;

	if (path == NULL) {
		acct_close();
		return 0;
	}
	if (ac.path != NULL && strcmp(ac.path, path) == 0 && ac.fd != -1)
		return 0;
	if ((fd = acct_open_fd(path, err, errlen)) == -1)
		return -1;
	if (ac.ev == NULL &&
	    (ac.ev = event_new(base, -1, 0, acct_flush_cb, NULL)) == NULL) {
		snprintf(err, errlen, "%s: cannot create an event", path);
		close(fd);
		return -1;
	}
	acct_write();
	if (ac.fd != -1)
		close(ac.fd);
	free(ac.path);
	ac.path = xstrdup(path);
	ac.fd = fd;
	return 0;
}

int
acct_reopen(char *err, size_t errlen)
{
	int fd;

	if (ac.path == NULL)
		return 0;
	acct_write();
	if ((fd = acct_open_fd(ac.path, err, errlen)) == -1)
		return -1;
	if (ac.fd != -1)
		close(ac.fd);
	ac.fd = fd;
	ac.failing = 0;
	acct_write();
	return 0;
}

void
acct_close(void)
{
	acct_write();
	if (ac.len > 0)
		log_warnx(NULL, "acct_file %s: %zu octets of records not written",
		    ac.path ? ac.path : "-", ac.len);
	acct_report_dropped(true);
	if (ac.fd != -1)
		close(ac.fd);
	if (ac.ev != NULL)
		event_free(ac.ev);
	free(ac.path);
	free(ac.buf);
	ac.ev = NULL;
	ac.path = NULL;
	ac.fd = -1;
	ac.buf = NULL;
	ac.len = ac.cap = 0;
	ac.failing = 0;
}

static void
fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S+0000", &tm);
}

void
acct_outcome(enum acct_type type, const struct queue_envelope *env,
    const struct dlv_outcome *o, unsigned attempts, const char *status,
    const char *diag)
{
	const struct trace_host *h;
	const struct dlv_trace *t;
	char *rec = NULL, tl[40], tq[40], num[32], mta[400];
	size_t len = 0, cap = 0, i;
	const char *f[22];

	if (ac.path == NULL || ac.ev == NULL)
		return;
	if (ac.len > ACCT_BUF_MAX) {
		if (ac.dropped++ == 0)
			log_warnx(NULL, "acct_file %s: buffer full, dropping "
			    "records until it is written", ac.path);
		/* try the file again: else nothing would ever empty it */
		event_active(ac.ev, EV_TIMEOUT, 0);
		return;
	}
	t = o->trace;
	h = dlv_trace_find(t, o->mx, o->rpt);
	fmt_time(time(NULL), tl, sizeof(tl));
	fmt_time(env->arrival, tq, sizeof(tq));
	if (h != NULL && h->ip[0] != '\0')
		snprintf(mta, sizeof(mta), "%s (%s)", o->mx, h->ip);
	else
		str_copy(mta, o->mx, sizeof(mta));
	f[0] = type == ACCT_DELIVERED ? "d" : type == ACCT_BOUNCED ? "b" : "t";
	f[1] = tl;
	f[2] = tq;
	f[3] = env->sender;
	f[4] = env->rcpts[o->idx].addr;
	f[5] = type == ACCT_DELIVERED ? "relayed" : type == ACCT_BOUNCED ?
	    "failed" : "delayed";
	f[6] = status != NULL ? status : o->esc;
	f[7] = diag;
	f[8] = mta;
	f[9] = h ? h->src_ip : "";
	f[10] = h ? h->ip : "";
	snprintf(num, sizeof(num), "%llu", (unsigned long long)env->size);
	f[11] = num;
	f[12] = "smtp";
	f[13] = h ? h->tls_protocol : "";
	f[14] = h ? h->tls_cipher : "";
	f[15] = dlv_trace_dane_result(t, h);
	f[16] = tlsrpt_name(o->rpt);
	f[17] = o->mx;
	f[18] = NULL;		/* attempts, below */
	f[19] = env->id;
	f[20] = t ? t->domain : "";
	f[21] = t ? t->policy : "";
	for (i = 0; i < 22; i++) {
		if (i > 0)
			buf_add(&rec, &len, &cap, ",", 1);
		if (i == 18) {
			snprintf(num, sizeof(num), "%u", attempts);
			acct_csv_field(&rec, &len, &cap, num);
		} else
			acct_csv_field(&rec, &len, &cap, f[i]);
	}
	buf_add(&rec, &len, &cap, "\r\n", 2);
	acct_report_dropped(false);
	buf_add(&ac.buf, &ac.len, &ac.cap, rec, len);
	free(rec);
	event_active(ac.ev, EV_TIMEOUT, 0);
}
