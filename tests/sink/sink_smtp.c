/*
 * tests/sink/sink_smtp.c - the SMTP server sessions of the test sink: one
 * small struct per connection on a bufferevent (plain, then an OpenSSL
 * socket bufferevent after STARTTLS), commands read in order from the
 * input buffer so that PIPELINING just works, message content streamed to
 * a file under -D (or only counted) a line at a time.
 * Invariants: a line never needs more than SMTP_LINE_BUF bytes of memory
 * (longer command lines are skipped with 500, longer content lines are
 * passed on in pieces); no byte read before STARTTLS survives it; a
 * session is freed only from its own bufferevent callbacks or at exit,
 * never while smtp_input() is running for it.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tests/sink/sink.h"

#define SMTP_CMD_MAX	2048		/* longest command line accepted */
#define SMTP_LINE_BUF	16384		/* content goes on in pieces this big */
#define SMTP_IN_MAX	(4 * SMTP_LINE_BUF)	/* read high-water mark */
#define SMTP_OUT_MAX	65536		/* stop reading while replies pile up */
#define SMTP_RCPT_MAX	1000
#define SMTP_ERRORS_MAX	20
#define SMTP_NAME_MAX	255
#define SMTP_REPLY_MAX	512		/* RFC 5321 4.5.3.1.5, CRLF excluded */

enum smtp_state {
	SMTP_CMD,		/* reading commands */
	SMTP_DATA,		/* reading message content */
	SMTP_TLS_WAIT,		/* 220 to STARTTLS queued, waiting for it to go */
	SMTP_HANDSHAKE,		/* TLS handshake running */
	SMTP_CLOSING,		/* last reply queued: close once it is sent */
	SMTP_DOT_WAIT,		/* content ended, reply to "." delayed (-w) */
};

struct smtp_session {
	struct smtp_session	*prev, *next;
	unsigned long		 id;
	struct event_base	*base;
	struct bufferevent	*bev;
	evutil_socket_t		 fd;
	int			 bev_owns_fd;	/* the TLS bufferevent closes it */
	SSL			*ssl;		/* owned by bev once STARTTLS ran */
	enum smtp_state		 state;
	int			 esmtp;		/* EHLO rather than HELO */
	int			 refused;	/* non-2xx banner: 503 to all */
	int			 skipping;	/* discarding an overlong command */
	int			 paused;	/* reading stopped: output backlog */
	int			 midline;	/* content line passed in pieces */
	unsigned		 errors;
	unsigned		 transactions;	/* DATA commands so far */
	unsigned		 messages;	/* accepted messages so far */
	char			 peer[64];
	char			 local[64];
	char			*helo;
	char			*sni;
	char			*mail;		/* "<addr> params"; NULL: no MAIL */
	int			 mail_utf8;	/* MAIL carried SMTPUTF8 */
	char			**rcpt;		/* accepted; kept only with -D */
	size_t			 nrcpt;		/* accepted recipients */
	size_t			 rcpt_cap;
	FILE			*msg;		/* open temporary file, -D */
	struct event		*dot_ev;	/* -w timer */
	unsigned long		 msgno;
	unsigned long		 bench_seq;	/* X-Bench-Seq (-A), 0: none */
	int			 in_header;	/* content still in the header */
	unsigned long		 size;		/* content bytes, CRLF counted 2 */
	int			 too_big;
	int			 write_err;
};

static struct smtp_session	*smtp_sessions;
static size_t			 smtp_nsessions;
static unsigned long		 smtp_session_seq;
static unsigned long		 smtp_msg_seq;

static void	smtp_input(struct smtp_session *);
static void	smtp_bev_setup(struct smtp_session *);

/*
 * Queue one whole reply (one or more CRLF-terminated lines) with a single
 * evbuffer_add: the TLS bufferevent runs SSL_write from inside it, so each
 * add is a TLS record and a syscall, and the stats must be published first
 * (see sink_stats_changed()).
 */
static void
smtp_out(struct smtp_session *s, const char *text, size_t len)
{
	if (s->ssl != NULL)
		sink_stats_flush();
	evbuffer_add(bufferevent_get_output(s->bev), text, len);
}

static void __attribute__((format(printf, 2, 3)))
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	char	buf[SMTP_REPLY_MAX + 3];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, SMTP_REPLY_MAX + 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > SMTP_REPLY_MAX)
		n = SMTP_REPLY_MAX;
	buf[n++] = '\r';
	buf[n++] = '\n';
	smtp_out(s, buf, n);
}

static int
smtp_is_2xx(const char *reply)
{
	return reply[0] == '2';
}

/* Stop reading, and close as soon as the queued replies are sent. */
static void
smtp_close_after_reply(struct smtp_session *s)
{
	s->state = SMTP_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	evbuffer_drain(bufferevent_get_input(s->bev),
	    evbuffer_get_length(bufferevent_get_input(s->bev)));
}

static void
smtp_addr_str(const struct sockaddr *sa, char *buf, size_t size)
{
	char	a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, ntohs(sin6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, ntohs(sin->sin_port));
	} else
		snprintf(buf, size, "unknown");
}

/*
 * The message directory: numbering goes on after the highest NNNNNNNN.msg
 * already there, so a restarted sink never overwrites a message.
 */
int
smtp_msgdir_init(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	unsigned long	 n;
	char		*end;

	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return -1;
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		n = strtoul(de->d_name, &end, 10);
		if (strcmp(end, ".msg") == 0 && n > smtp_msg_seq)
			smtp_msg_seq = n;
	}
	closedir(d);
	return 0;
}

static void
smtp_msg_path(char *buf, size_t size, unsigned long n, int tmp)
{
	snprintf(buf, size, tmp ? "%s/.%08lu.tmp" : "%s/%08lu.msg",
	    sink_conf.msg_dir, n);
}

static void
smtp_msg_discard(struct smtp_session *s)
{
	char	path[PATH_MAX];

	if (s->msg == NULL)
		return;
	fclose(s->msg);
	s->msg = NULL;
	smtp_msg_path(path, sizeof(path), s->msgno, 1);
	unlink(path);
}

static void
smtp_msg_open(struct smtp_session *s)
{
	char	path[PATH_MAX];
	size_t	i;

	smtp_msg_path(path, sizeof(path), s->msgno, 1);
	if ((s->msg = fopen(path, "w")) == NULL) {
		sink_warn("#%lu cannot create %s: %s", s->id, path,
		    strerror(errno));
		s->write_err = 1;
		return;
	}
	fprintf(s->msg, "session: %lu\ntransaction: %u\nclient: %s\n"
	    "server: %s\nhelo: %s\nproto: %s\n", s->id, s->transactions,
	    s->peer, s->local, s->helo, s->esmtp ? "ESMTP" : "SMTP");
	if (s->ssl != NULL)
		fprintf(s->msg, "tls: %s %s\ntls_resumed: %s\n",
		    SSL_get_version(s->ssl), SSL_get_cipher_name(s->ssl),
		    SSL_session_reused(s->ssl) ? "yes" : "no");
	else
		fprintf(s->msg, "tls: plain\n");
	fprintf(s->msg, "sni: %s\nmail from: %s\n",
	    s->sni != NULL ? s->sni : "-", s->mail);
	for (i = 0; i < s->nrcpt; i++)
		fprintf(s->msg, "rcpt to: %s\n", s->rcpt[i]);
	fputc('\n', s->msg);
}

/* Close and publish the message; 0, or -1 with the file removed. */
static int
smtp_msg_commit(struct smtp_session *s)
{
	char	tmp[PATH_MAX], path[PATH_MAX];
	int	r;

	if (s->msg == NULL)
		return 0;
	r = fclose(s->msg) == 0 ? 0 : -1;
	s->msg = NULL;
	smtp_msg_path(tmp, sizeof(tmp), s->msgno, 1);
	smtp_msg_path(path, sizeof(path), s->msgno, 0);
	if (r == 0 && rename(tmp, path) == -1)
		r = -1;
	if (r == -1) {
		sink_warn("#%lu cannot write %s: %s", s->id, path,
		    strerror(errno));
		unlink(tmp);
	}
	return r;
}

static void
smtp_tx_reset(struct smtp_session *s)
{
	size_t	i;

	smtp_msg_discard(s);
	if (s->mail != NULL)
		sink_busy(s->local, s->id, -1);
	free(s->mail);
	s->mail = NULL;
	s->mail_utf8 = 0;
	for (i = 0; i < s->nrcpt && s->rcpt != NULL; i++)
		free(s->rcpt[i]);
	s->nrcpt = 0;
	s->size = 0;
	s->too_big = s->write_err = s->midline = 0;
	s->bench_seq = 0;
	s->in_header = 1;
}

static void
smtp_session_free(struct smtp_session *s, const char *why)
{
	sink_log("#%lu disconnect: %s (%u messages)", s->id, why,
	    s->messages);
	smtp_tx_reset(s);
	if (s->dot_ev != NULL)
		event_free(s->dot_ev);
	if (s->bev != NULL) {
		if (s->ssl != NULL && s->state == SMTP_CLOSING) {
			/* best effort close_notify; never waits */
			SSL_shutdown(s->ssl);
			ERR_clear_error();
		}
		bufferevent_free(s->bev);
	}
	if (!s->bev_owns_fd)
		evutil_closesocket(s->fd);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		smtp_sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	free(s->rcpt);
	free(s->helo);
	free(s->sni);
	free(s);
	smtp_nsessions--;
	sink_sessions_changed(smtp_nsessions);
}

void
smtp_session_close_all(void)
{
	while (smtp_sessions != NULL)
		smtp_session_free(smtp_sessions, "sink shutting down");
}

/* SNI, recorded for the logs and message files: DANE tests assert it. */
int
smtp_tls_servername(SSL *ssl, int *alert, void *arg)
{
	struct smtp_session	*s = SSL_get_app_data(ssl);
	const char		*name;

	name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (s != NULL && name != NULL && s->sni == NULL)
		s->sni = strndup(name, SMTP_NAME_MAX);
	return SSL_TLSEXT_ERR_OK;
}

static void
smtp_tls_start(struct smtp_session *s)
{
	SSL	*ssl;

	if ((ssl = SSL_new(sink_conf.tls_ctx)) == NULL) {
		ERR_clear_error();
		smtp_session_free(s, "SSL_new failed");
		return;
	}
	SSL_set_app_data(ssl, s);
	/* the plain bufferevent is drained both ways: nothing survives */
	bufferevent_free(s->bev);
	/* from here the SSL's socket BIO closes the fd, even when the
	 * constructor fails (it frees what it built) */
	s->bev_owns_fd = 1;
	s->bev = bufferevent_openssl_socket_new(s->base, s->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		smtp_session_free(s, "cannot start TLS");
		return;
	}
	s->ssl = ssl;
	s->state = SMTP_HANDSHAKE;
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	smtp_bev_setup(s);
}

static void
smtp_tls_done(struct smtp_session *s)
{
	char	sni[SMTP_NAME_MAX + 1];
	int	resumed = SSL_session_reused(s->ssl);

	s->state = SMTP_CMD;
	sink_stats.tls++;
	if (resumed)
		sink_stats.tls_resumed++;
	sink_stats_changed();
	sink_log("#%lu tls established: %s cipher %s (%d bits) sni=%s "
	    "resumed=%s", s->id, SSL_get_version(s->ssl),
	    SSL_get_cipher_name(s->ssl), SSL_get_cipher_bits(s->ssl, NULL),
	    s->sni ? sink_safe(s->sni, sni, sizeof(sni)) : "-",
	    resumed ? "yes" : "no");
	smtp_input(s);
}

/* Every OpenSSL error the bufferevent saved, e.g. the alert the client
 * sent when it rejected our certificate. */
static const char *
smtp_tls_error(struct smtp_session *s, char *buf, size_t size)
{
	unsigned long	e;
	size_t		len = 0;

	buf[0] = '\0';
	while ((e = bufferevent_get_openssl_error(s->bev)) != 0 &&
	    len + 3 < size) {
		if (len > 0) {
			strcpy(buf + len, "; ");
			len += 2;
		}
		if (ERR_GET_LIB(e) == 0 && ERR_GET_REASON(e) < 16)
			snprintf(buf + len, size - len, "SSL_get_error %lu", e);
		else
			ERR_error_string_n(e, buf + len, size - len);
		len += strlen(buf + len);
	}
	if (len == 0)
		return "connection closed";
	return buf;
}

/* Commands. Each handler queues exactly one reply (EHLO: one reply of
 * several lines). */

static void
smtp_helo(struct smtp_session *s, const char *arg, int esmtp)
{
	char		 name[SMTP_NAME_MAX + 1], ehlo[SMTP_NAME_MAX + 256];
	int		 n;

	if (*arg == '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: %s hostname",
		    esmtp ? "EHLO" : "HELO");
		return;
	}
	sink_log("#%lu %s %s", s->id, esmtp ? "EHLO" : "HELO",
	    sink_safe(arg, name, sizeof(name)));
	if (esmtp && sink_conf.ehlo_reply != NULL) {
		smtp_reply(s, "%s", sink_conf.ehlo_reply);
		if (!smtp_is_2xx(sink_conf.ehlo_reply))
			return;
	}
	smtp_tx_reset(s);
	free(s->helo);
	if ((s->helo = strndup(arg, SMTP_NAME_MAX)) == NULL) {
		smtp_reply(s, "421 4.3.0 out of memory");
		smtp_close_after_reply(s);
		return;
	}
	s->esmtp = esmtp;
	if (esmtp && sink_conf.ehlo_reply != NULL)
		return;
	if (!esmtp) {
		smtp_reply(s, "250 %s", sink_conf.hostname);
		return;
	}
	n = snprintf(ehlo, sizeof(ehlo), "250-%s\r\n%s250-SIZE %lu\r\n%s%s%s"
	    "250 ENHANCEDSTATUSCODES\r\n", sink_conf.hostname,
	    sink_conf.no_pipelining ? "" : "250-PIPELINING\r\n",
	    sink_conf.max_size,
	    sink_conf.no_8bitmime ? "" : "250-8BITMIME\r\n",
	    sink_conf.no_smtputf8 ? "" : "250-SMTPUTF8\r\n",
	    sink_conf.tls_ctx != NULL && s->ssl == NULL ?
	    "250-STARTTLS\r\n" : "");
	smtp_out(s, ehlo, n < (int)sizeof(ehlo) ? (size_t)n : sizeof(ehlo) - 1);
}

static void
smtp_starttls(struct smtp_session *s, const char *arg)
{
	struct evbuffer	*in = bufferevent_get_input(s->bev);
	size_t		 n;

	if (sink_conf.tls_ctx == NULL) {
		smtp_reply(s, "502 5.5.1 Error: command not implemented");
		return;
	}
	if (s->ssl != NULL) {
		smtp_reply(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (*arg != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	/* RFC 3207 4.2: forget everything, keep no pre-TLS byte */
	if ((n = evbuffer_get_length(in)) > 0) {
		sink_log("#%lu discarding %zu bytes pipelined after STARTTLS",
		    s->id, n);
		evbuffer_drain(in, n);
	}
	smtp_tx_reset(s);
	free(s->helo);
	s->helo = NULL;
	s->esmtp = 0;
	sink_log("#%lu STARTTLS", s->id);
	s->state = SMTP_TLS_WAIT;
	bufferevent_disable(s->bev, EV_READ);
}

/*
 * "FROM:<addr> params" (KW "FROM:") or "TO:<addr> params": the path and
 * its parameters with surrounding spaces trimmed, or NULL.
 */
static char *
smtp_path(char *arg, const char *kw)
{
	size_t	 n = strlen(kw);
	char	*end;

	if (strncasecmp(arg, kw, n) != 0)
		return NULL;
	arg += n;
	while (*arg == ' ')
		arg++;
	if (*arg != '<' || strchr(arg, '>') == NULL)
		return NULL;
	end = arg + strlen(arg);
	while (end > arg && end[-1] == ' ')
		*--end = '\0';
	return arg;
}

static int
smtp_non_ascii(const char *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

/* MAIL parameters: NULL if acceptable, else the reply (static buffer). */
static const char *
smtp_mail_params(const char *p, int *utf8)
{
	static char	 reply[128];
	size_t		 len;
	unsigned long	 size;
	char		*end;

	*utf8 = 0;
	for (; *p != '\0'; p += len) {
		while (*p == ' ')
			p++;
		if ((len = strcspn(p, " ")) == 0)
			break;
		if (len > 5 && strncasecmp(p, "SIZE=", 5) == 0) {
			errno = 0;
			size = strtoul(p + 5, &end, 10);
			if (end != p + len || errno != 0)
				return "501 5.5.4 Bad SIZE parameter";
			if (size > sink_conf.max_size)
				return "552 5.3.4 Message size exceeds fixed "
				    "limit";
		} else if (len == 9 && strncasecmp(p, "BODY=7BIT", 9) == 0) {
			continue;
		} else if (len == 13 &&
		    strncasecmp(p, "BODY=8BITMIME", 13) == 0) {
			if (sink_conf.no_8bitmime)
				return "555 5.5.4 BODY=8BITMIME not supported";
		} else if (len == 8 && strncasecmp(p, "SMTPUTF8", 8) == 0) {
			if (sink_conf.no_smtputf8)
				return "555 5.5.4 SMTPUTF8 not supported";
			*utf8 = 1;
		} else {
			snprintf(reply, sizeof(reply),
			    "555 5.5.4 Unsupported option: %.*s",
			    (int)(len > 64 ? 64 : len), p);
			return reply;
		}
	}
	return NULL;
}

static void
smtp_mail(struct smtp_session *s, char *arg)
{
	char		*path, *gt, safe[SMTP_CMD_MAX + 1];
	const char	*err;
	int		 utf8;

	if (s->helo == NULL) {
		smtp_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (s->mail != NULL) {
		smtp_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if ((path = smtp_path(arg, "FROM:")) == NULL) {
		smtp_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	gt = strchr(path, '>');
	err = smtp_mail_params(gt + 1, &utf8);
	if (err == NULL && !utf8 && smtp_non_ascii(path, gt - path))
		err = "553 5.6.7 Non-ASCII address needs SMTPUTF8";
	if (err == NULL)
		err = sink_conf.mail_reply;
	if (err == NULL)
		err = "250 2.1.0 Ok";
	sink_log("#%lu mail from %s: %s", s->id,
	    sink_safe(path, safe, sizeof(safe)), err);
	if (!smtp_is_2xx(err)) {
		smtp_reply(s, "%s", err);
		return;
	}
	if ((s->mail = strdup(path)) == NULL) {
		smtp_reply(s, "451 4.3.0 out of memory");
		return;
	}
	s->mail_utf8 = utf8;
	sink_busy(s->local, s->id, 1);
	smtp_reply(s, "%s", err);
}

static const char *
smtp_rcpt_rule(const char *addr)
{
	size_t	i;

	for (i = 0; i < sink_conf.nrules; i++)
		if (strcmp(sink_conf.rules[i].pattern, "*") == 0 ||
		    strcasestr(addr, sink_conf.rules[i].pattern) != NULL)
			return sink_conf.rules[i].reply;
	return "250 2.1.5 Ok";
}

static void
smtp_rcpt(struct smtp_session *s, char *arg)
{
	char		*path, *gt, addr[SMTP_CMD_MAX + 1];
	char		 safe[SMTP_CMD_MAX + 1], reply[128], **nr;
	const char	*r;
	size_t		 len;

	if (s->mail == NULL) {
		smtp_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if ((path = smtp_path(arg, "TO:")) == NULL) {
		smtp_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	gt = strchr(path, '>');
	len = gt - path - 1;
	memcpy(addr, path + 1, len);
	addr[len] = '\0';
	gt++;
	while (*gt == ' ')
		gt++;
	if (len == 0)
		r = "501 5.1.3 Bad recipient address syntax";
	else if (*gt != '\0') {
		snprintf(reply, sizeof(reply),
		    "555 5.5.4 Unsupported option: %.*s",
		    (int)strcspn(gt, " ") > 64 ? 64 : (int)strcspn(gt, " "),
		    gt);
		r = reply;
	} else if (!s->mail_utf8 && smtp_non_ascii(addr, len))
		r = "553 5.6.7 Non-ASCII address needs SMTPUTF8";
	else if (s->nrcpt >= SMTP_RCPT_MAX)
		r = "452 4.5.3 Error: too many recipients";
	else
		r = smtp_rcpt_rule(addr);

	if (smtp_is_2xx(r) && sink_conf.msg_dir != NULL) {
		if (s->nrcpt == s->rcpt_cap) {
			len = s->rcpt_cap ? 2 * s->rcpt_cap : 8;
			if ((nr = realloc(s->rcpt, len * sizeof(*nr))) == NULL)
				r = "451 4.3.0 out of memory";
			else {
				s->rcpt = nr;
				s->rcpt_cap = len;
			}
		}
		if (smtp_is_2xx(r) &&
		    (s->rcpt[s->nrcpt] = strdup(path)) == NULL)
			r = "451 4.3.0 out of memory";
	}
	sink_log("#%lu rcpt to %s: %s", s->id,
	    sink_safe(path, safe, sizeof(safe)), r);
	if (smtp_is_2xx(r))
		s->nrcpt++;
	else {
		sink_stats.rcpt_rejected++;
		sink_stats_changed();
	}
	smtp_reply(s, "%s", r);
}

static void
smtp_data(struct smtp_session *s, const char *arg)
{
	if (*arg != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: DATA");
		return;
	}
	if (s->mail == NULL) {
		smtp_reply(s, "503 5.5.1 Error: need RCPT command");
		return;
	}
	if (s->nrcpt == 0) {
		smtp_reply(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	s->transactions++;
	s->msgno = ++smtp_msg_seq;
	s->size = 0;
	s->too_big = s->write_err = s->midline = 0;
	if (sink_conf.msg_dir != NULL)
		smtp_msg_open(s);
	s->state = SMTP_DATA;
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* -A: one line per accepted message for scripts/bench: the number its
 * X-Bench-Seq header carried, the arrival time (CLOCK_REALTIME, ns: the
 * load generator stamps the relay's 250 with the same clock) and whether
 * it came over TLS. Buffered; sink.c flushes it every 200 ms and at exit. */
static void
smtp_arrival(struct smtp_session *s)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(sink_conf.arrivals, "%lu %lld%09ld %s\n", s->bench_seq,
	    (long long)ts.tv_sec, ts.tv_nsec, s->ssl != NULL ? "tls" : "plain");
}

static void
smtp_data_end(struct smtp_session *s)
{
	char		 buf[64];
	const char	*r;

	s->state = SMTP_CMD;
	if (s->too_big)
		r = "552 5.3.4 Error: message file too big";
	else if (s->write_err)
		r = "451 4.3.0 Error: cannot write message";
	else if (sink_conf.data_reply != NULL &&
	    !smtp_is_2xx(sink_conf.data_reply))
		r = sink_conf.data_reply;
	else if (smtp_msg_commit(s) == -1)
		r = "451 4.3.0 Error: cannot write message";
	else {
		if (sink_conf.data_reply != NULL)
			r = sink_conf.data_reply;
		else {
			snprintf(buf, sizeof(buf), "250 2.0.0 Ok: queued as "
			    "%08lu", s->msgno);
			r = buf;
		}
		s->messages++;
		sink_stats.messages++;
		if (sink_conf.arrivals != NULL)
			smtp_arrival(s);
		sink_stats.recipients += s->nrcpt;
		sink_stats_changed();
	}
	if (sink_conf.msg_dir != NULL && smtp_is_2xx(r))
		sink_log("#%lu data done: %lu bytes, %zu recipients, "
		    "file %08lu.msg: %s", s->id, s->size, s->nrcpt, s->msgno,
		    r);
	else
		sink_log("#%lu data done: %lu bytes, %zu recipients: %s",
		    s->id, s->size, s->nrcpt, r);
	smtp_tx_reset(s);
	smtp_reply(s, "%s", r);
}

static void	smtp_sync_check(struct smtp_session *);

static void
smtp_dot_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_session	*s = arg;

	smtp_data_end(s);
	bufferevent_enable(s->bev, EV_READ);
	smtp_sync_check(s);
	smtp_input(s);
}

/* The final "." (-w): hold the reply, read nothing meanwhile. */
static void
smtp_dot_wait(struct smtp_session *s)
{
	struct timeval	tv;

	if (s->dot_ev == NULL &&
	    (s->dot_ev = evtimer_new(s->base, smtp_dot_cb, s)) == NULL) {
		sink_warn("evtimer_new failed");
		smtp_data_end(s);
		return;
	}
	s->state = SMTP_DOT_WAIT;
	bufferevent_disable(s->bev, EV_READ);
	tv.tv_sec = sink_conf.dot_delay_ms / 1000;
	tv.tv_usec = (sink_conf.dot_delay_ms % 1000) * 1000;
	evtimer_add(s->dot_ev, &tv);
}

/* One piece of content: a whole line (EOL set, line end removed) or a
 * part of a line too long for the line buffer. */
static void
smtp_data_piece(struct smtp_session *s, const char *p, size_t len, int eol)
{
	if (!s->midline) {
		if (eol && len == 1 && p[0] == '.') {
			if (sink_conf.dot_delay_ms > 0)
				smtp_dot_wait(s);
			else
				smtp_data_end(s);
			return;
		}
		if (len > 0 && p[0] == '.') {	/* RFC 5321 4.5.2 */
			p++;
			len--;
		}
	}
	if (s->in_header && !s->midline && eol) {
		if (len == 0)
			s->in_header = 0;
		else if (len > 12 && strncasecmp(p, "X-Bench-Seq:", 12) == 0)
			s->bench_seq = strtoul(p + 12, NULL, 10);
	}
	s->midline = !eol;
	s->size += len + (eol ? 2 : 0);
	if (s->size > sink_conf.max_size)
		s->too_big = 1;
	if (s->msg == NULL || s->too_big || s->write_err)
		return;
	if (fwrite(p, 1, len, s->msg) != len ||
	    (eol && putc('\n', s->msg) == EOF))
		s->write_err = 1;
}

static void
smtp_command(struct smtp_session *s, char *line)
{
	size_t	 vlen = strcspn(line, " ");
	char	*arg = line + vlen, safe[64];

#define VERB(v)	(vlen == sizeof(v) - 1 && strncasecmp(line, v, vlen) == 0)
	while (*arg == ' ')
		arg++;
	if (VERB("QUIT")) {
		sink_log("#%lu QUIT", s->id);
		smtp_reply(s, "221 2.0.0 Bye");
		smtp_close_after_reply(s);
	} else if (s->refused)
		smtp_reply(s, "503 5.5.1 Error: no service here");
	else if (VERB("EHLO"))
		smtp_helo(s, arg, 1);
	else if (VERB("HELO"))
		smtp_helo(s, arg, 0);
	else if (VERB("STARTTLS"))
		smtp_starttls(s, arg);
	else if (VERB("MAIL"))
		smtp_mail(s, arg);
	else if (VERB("RCPT"))
		smtp_rcpt(s, arg);
	else if (VERB("DATA"))
		smtp_data(s, arg);
	else if (VERB("RSET")) {
		sink_log("#%lu RSET", s->id);
		smtp_tx_reset(s);
		sink_stats.rsets++;
		sink_stats_changed();
		smtp_reply(s, "250 2.0.0 Ok");
	} else if (VERB("NOOP"))
		smtp_reply(s, "250 2.0.0 Ok");
	else if (VERB("VRFY"))
		smtp_reply(s, "252 2.0.0 Cannot VRFY user");
	else if (VERB("HELP"))
		smtp_reply(s, "214 2.0.0 See RFC 5321");
	else {
		line[vlen < sizeof(safe) ? vlen : sizeof(safe) - 1] = '\0';
		sink_log("#%lu unknown command %s", s->id,
		    sink_safe(line, safe, sizeof(safe)));
		if (++s->errors >= SMTP_ERRORS_MAX) {
			smtp_reply(s, "421 4.7.0 Error: too many errors");
			smtp_close_after_reply(s);
		} else
			smtp_reply(s, "500 5.5.2 Error: command not "
			    "recognized");
	}
#undef VERB
}

/*
 * Without PIPELINING (-P) a client must wait for each reply, so input
 * left over right after a command was handled proves it did not.
 */
static void
smtp_sync_check(struct smtp_session *s)
{
	size_t	n;

	if (!sink_conf.no_pipelining || s->state != SMTP_CMD)
		return;
	if ((n = evbuffer_get_length(bufferevent_get_input(s->bev))) == 0)
		return;
	sink_log("#%lu pipelining violation: %zu bytes sent ahead", s->id, n);
	sink_stats.sync_errors++;
	sink_stats_changed();
	smtp_reply(s, "554 5.5.0 Error: SMTP synchronization error");
	smtp_close_after_reply(s);
}

/* Handle every complete line in the input buffer, in order. */
static void
smtp_input(struct smtp_session *s)
{
	static char		 line[SMTP_LINE_BUF + 1];
	struct evbuffer		*in, *out;
	struct evbuffer_ptr	 eol;
	size_t			 eol_len, len, n;

	while (s->state == SMTP_CMD || s->state == SMTP_DATA) {
		in = bufferevent_get_input(s->bev);
		out = bufferevent_get_output(s->bev);
		if (evbuffer_get_length(out) > SMTP_OUT_MAX) {
			/* the client does not read: wait for the replies */
			s->paused = 1;
			bufferevent_disable(s->bev, EV_READ);
			return;
		}
		if ((len = evbuffer_get_length(in)) == 0)
			return;
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (s->state == SMTP_DATA) {
			if (eol.pos == -1 || eol.pos >= SMTP_LINE_BUF) {
				if (eol.pos == -1 && len < SMTP_LINE_BUF)
					return;
				n = SMTP_LINE_BUF - 1;
				evbuffer_remove(in, line, n);
				if (line[n - 1] == '\r') {
					/* may be half of a CRLF: keep it */
					evbuffer_prepend(in, "\r", 1);
					n--;
				}
				smtp_data_piece(s, line, n, 0);
				continue;
			}
			n = eol.pos;
			evbuffer_remove(in, line, n + 1);
			if (n > 0 && line[n - 1] == '\r')
				n--;
			smtp_data_piece(s, line, n, 1);
			if (s->state == SMTP_CMD)
				smtp_sync_check(s);
			continue;
		}
		if (eol.pos == -1) {
			if (len > SMTP_CMD_MAX) {
				/* skip to the end of line, then say 500 */
				evbuffer_drain(in, len);
				s->skipping = 1;
			}
			return;
		}
		if (s->skipping || eol.pos > SMTP_CMD_MAX) {
			evbuffer_drain(in, eol.pos + 1);
			s->skipping = 0;
			sink_log("#%lu command line too long", s->id);
			if (++s->errors >= SMTP_ERRORS_MAX) {
				smtp_reply(s, "421 4.7.0 Error: too many "
				    "errors");
				smtp_close_after_reply(s);
			} else
				smtp_reply(s, "500 5.5.2 Error: line too "
				    "long");
			continue;
		}
		n = eol.pos;
		evbuffer_remove(in, line, n + 1);
		line[n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		smtp_command(s, line);
		smtp_sync_check(s);
	}
}

static void
smtp_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_session	*s = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);

	if (s->state == SMTP_CMD || s->state == SMTP_DATA)
		smtp_input(s);
	else if (s->state != SMTP_DOT_WAIT)	/* kept for after the reply */
		evbuffer_drain(in, evbuffer_get_length(in));
}

static void
smtp_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtp_session	*s = arg;

	switch (s->state) {
	case SMTP_CLOSING:
		smtp_session_free(s, "closed by sink");
		break;
	case SMTP_TLS_WAIT:
		smtp_tls_start(s);
		break;
	default:
		if (s->paused) {
			s->paused = 0;
			bufferevent_enable(bev, EV_READ);
			smtp_input(s);
		}
		break;
	}
}

static void
smtp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session	*s = arg;
	char			 buf[512];
	const char		*why;

	if (what & BEV_EVENT_CONNECTED) {
		smtp_tls_done(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		why = "timeout";
	else if (s->ssl != NULL && (what & BEV_EVENT_ERROR))
		why = smtp_tls_error(s, buf, sizeof(buf));
	else if (what & BEV_EVENT_ERROR)
		why = evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
	else
		why = "client closed";
	if (s->state == SMTP_HANDSHAKE) {
		sink_stats.tls_failed++;
		sink_stats_changed();
		sink_log("#%lu tls handshake failed: %s", s->id, why);
	}
	smtp_session_free(s, why);
}

static void
smtp_bev_setup(struct smtp_session *s)
{
	struct timeval	tv;

	tv.tv_sec = sink_conf.timeout;
	tv.tv_usec = 0;
	bufferevent_setcb(s->bev, smtp_read_cb, smtp_write_cb, smtp_event_cb,
	    s);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_IN_MAX);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

int
smtp_session_start(struct event_base *base, evutil_socket_t fd,
    const struct sockaddr *sa, int salen)
{
	struct smtp_session	*s;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	int			 one = 1;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		sink_warn("out of memory for a session");
		return -1;
	}
	s->bev = bufferevent_socket_new(base, fd, 0);
	if (s->bev == NULL) {
		sink_warn("cannot create a bufferevent");
		free(s);
		return -1;
	}
	s->id = ++smtp_session_seq;
	s->base = base;
	s->fd = fd;
	smtp_addr_str(sa, s->peer, sizeof(s->peer));
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0)
		smtp_addr_str((struct sockaddr *)&ss, s->local,
		    sizeof(s->local));
	else
		snprintf(s->local, sizeof(s->local), "unknown");
	/* replies are batched per read already; do not let Nagle delay them */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->next = smtp_sessions;
	if (smtp_sessions != NULL)
		smtp_sessions->prev = s;
	smtp_sessions = s;
	smtp_nsessions++;
	sink_sessions_changed(smtp_nsessions);
	sink_stats.connections++;
	sink_stats_changed();
	sink_log("#%lu connect from %s to %s", s->id, s->peer, s->local);
	smtp_bev_setup(s);

	if (sink_conf.banner == NULL)
		smtp_reply(s, "220 %s ESMTP danerelay test sink",
		    sink_conf.hostname);
	else {
		smtp_reply(s, "%s", sink_conf.banner);
		if (strncmp(sink_conf.banner, "421", 3) == 0)
			smtp_close_after_reply(s);
		else if (!smtp_is_2xx(sink_conf.banner))
			s->refused = 1;
	}
	return 0;
}
