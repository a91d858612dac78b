/*
 * relay/smtp_session.c - the inbound SMTP state machine (RFC 5321, 2920,
 * 1870, 6152, 2034, 6531, 3207) on one bufferevent per connection.
 *
 * Invariants:
 * - Input is processed strictly in order by smtp_process(): one command
 *   line (or one run of DATA content) at a time; its replies are appended
 *   to the output buffer, so pipelined replies leave in one write.
 * - Every reply goes through smtp_reply(), which logs 4xx/5xx with the
 *   command that caused it and counts protocol errors.
 * - A session is freed only by smtp_close(), called only at the tail of a
 *   top-level callback (read/write/event/timer/commit), never from inside
 *   smtp_process(); handlers only move to SMTP_QUIT via smtp_finish().
 * - While a message is being committed (SMTP_COMMIT) input is left in the
 *   buffer; the commit callback answers and resumes processing. If the
 *   connection dies meanwhile the session lingers without a bufferevent
 *   until that callback, so the queue never calls into freed memory.
 * - Per-session memory is the struct (one 512-octet line buffer, fixed
 *   address buffers), the recipient list and libevent's buffers (input
 *   capped by a read watermark, output by SMTP_OUT_MAX).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/smtp_session.h"
#include "conf/conf.h"
#include "queue/queue.h"
#include "relay/addr_literal.h"
#include "relay/evio.h"
#include "relay/flow.h"
#include "relay/log.h"
#include "relay/relay.h"
#include "relay/smtp_data.h"
#include "relay/smtp_parse.h"
#include "relay/util.h"
#include "tls/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define SMTP_LINE_MAX		512	/* command line with CRLF, RFC 5321 4.5.3.1.4 */
#define SMTP_DENIED_SECS	10	/* a client outside relay_clients: session limit */
#define SMTP_DENIED_CMDS	3	/* ... and commands after its 554 greeting */
#define SMTP_IN_MAX		(64 * 1024)	/* read watermark: input buffered at most */
#define SMTP_OUT_MAX		(64 * 1024)	/* stop reading commands above this */
#define SMTP_LINGER_MS		20	/* poll for TLS output to drain at close */
#define SMTP_LINGER_MAX		250	/* ... at most this many times (5 s) */
#define SMTP_PEER_MAX		(INET6_ADDRSTRLEN + 16)

enum smtp_state {
	SMTP_GREETING,		/* banner delayed; any input now is an early talker */
	SMTP_HELO,		/* greeting sent, waiting for EHLO/HELO */
	SMTP_MAIL,		/* identified, no transaction */
	SMTP_FLOW,		/* MAIL waits: delivery is behind (relay/flow.h) */
	SMTP_RCPT,		/* MAIL accepted, collecting RCPTs */
	SMTP_DATA,		/* reading message content */
	SMTP_COMMIT,		/* waiting for the queue's fsync; input left buffered */
	SMTP_QUIT,		/* last reply queued; close when output drains */
};

/* session flags */
#define S_EHLO		0x0001	/* EHLO (not HELO) given */
#define S_TLS		0x0002	/* STARTTLS done */
#define S_DENIED	0x0004	/* not in relay_clients: greeted with 554 */
#define S_SKIP		0x0008	/* discarding an over-long line up to its LF */
#define S_OUTWAIT	0x0010	/* output over SMTP_OUT_MAX: resume on drain */
#define S_EXPIRED	0x0020	/* session_timeout reached */
#define S_ZOMBIE	0x0040	/* connection gone, commit still pending */
#define S_LINGER	0x0080	/* closing: timer polls for TLS output to drain */
#define S_IPV6		0x0100	/* peer address is IPv6 */
#define S_EOF		0x0200	/* the client half-closed: answer what it sent, then close */
#define S_TLSDOWN	0x0400	/* close_notify queued (SSL_shutdown) */
#define S_FLOWPASS	0x0800	/* the next MAIL has waited already */

struct smtp_session {
	TAILQ_ENTRY(smtp_session) entry;
	struct relay		*relay;
	struct relay_conf	*rc;		/* configuration of this session */
	struct bufferevent	*bev;		/* NULL once closed (zombie) */
	struct event		*timer;		/* greeting delay, session limit, linger */
	int			 fd;
	enum smtp_state		 state;
	unsigned		 flags;
	unsigned		 ncommands;
	unsigned		 nerrors;
	unsigned		 linger;
	char			 qid[QUEUE_ID_MAX];	/* of the message in DATA, for reject lines */
	time_t			 start;
	struct timespec		 t0;		/* connect, CLOCK_MONOTONIC */
	const char		*what;		/* what the next reply answers, for logs */
	const char		*quit_reason;	/* for the disconnect line */
	struct flow_waiter	 floww;		/* SMTP_FLOW: on the relay's flow */

	char			 addr[INET6_ADDRSTRLEN];
	char			 peer[SMTP_PEER_MAX];	/* "[addr]:port" */
	char			 helo[SMTP_DOMAIN_MAX + 1];

	/* the transaction */
	char			 sender[SMTP_PATH_MAX + 1];
	unsigned		 envflags;	/* ENV_* */
	char			**rcpts;
	size_t			 nrcpts, rcptcap;
	struct queue_msg	*msg;
	uint64_t		 msgsize;	/* octets written: Received: + content */
	int			 write_error;	/* errno of a failed queue_msg_write */
	struct smtp_data	 data;

	char			 line[SMTP_LINE_MAX + 1];
};

struct smtp_cmd {
	const char	*verb;
	void		(*fn)(struct smtp_session *, const char *args);
	unsigned	 flags;
};
#define CMD_ENDS_GROUP	0x01	/* RFC 2920 3.1: must be last in a group */

static void	cmd_ehlo(struct smtp_session *, const char *);
static void	cmd_helo(struct smtp_session *, const char *);
static void	cmd_mail(struct smtp_session *, const char *);
static void	smtp_flow_resume(void *);
static bool	smtp_flow_wait(struct smtp_session *);
static void	cmd_rcpt(struct smtp_session *, const char *);
static void	cmd_data(struct smtp_session *, const char *);
static void	cmd_rset(struct smtp_session *, const char *);
static void	cmd_noop(struct smtp_session *, const char *);
static void	cmd_quit(struct smtp_session *, const char *);
static void	cmd_vrfy(struct smtp_session *, const char *);
static void	cmd_help(struct smtp_session *, const char *);
static void	cmd_starttls(struct smtp_session *, const char *);
static void	cmd_notimpl(struct smtp_session *, const char *);

static const struct smtp_cmd smtp_cmds[] = {
	{ "EHLO",	cmd_ehlo,	CMD_ENDS_GROUP },
	{ "HELO",	cmd_helo,	CMD_ENDS_GROUP },
	{ "MAIL",	cmd_mail,	0 },
	{ "RCPT",	cmd_rcpt,	0 },
	{ "DATA",	cmd_data,	CMD_ENDS_GROUP },
	{ "RSET",	cmd_rset,	0 },
	{ "NOOP",	cmd_noop,	CMD_ENDS_GROUP },
	{ "QUIT",	cmd_quit,	CMD_ENDS_GROUP },
	{ "VRFY",	cmd_vrfy,	CMD_ENDS_GROUP },
	{ "HELP",	cmd_help,	CMD_ENDS_GROUP },
	{ "STARTTLS",	cmd_starttls,	CMD_ENDS_GROUP },
	{ "EXPN",	cmd_notimpl,	CMD_ENDS_GROUP },
	{ "TURN",	cmd_notimpl,	CMD_ENDS_GROUP },
	{ "ETRN",	cmd_notimpl,	0 },
	{ "BDAT",	cmd_notimpl,	0 },
	{ "AUTH",	cmd_notimpl,	0 },
	{ "SEND",	cmd_notimpl,	0 },
	{ "SOML",	cmd_notimpl,	0 },
	{ "SAML",	cmd_notimpl,	0 },
};

static void	smtp_process(struct smtp_session *);
static void	smtp_close(struct smtp_session *, const char *reason);
static void	smtp_eof_settle(struct smtp_session *);
static void	smtp_readcb(struct bufferevent *, void *);
static void	smtp_writecb(struct bufferevent *, void *);
static void	smtp_eventcb(struct bufferevent *, short, void *);

static const struct conf *
smtp_conf(const struct smtp_session *s)
{
	return s->rc->conf;
}

/* Protocol errors count towards max_errors; a refused size does not. */
static bool
reply_is_error(int code)
{
	return code >= 500 && code != 552;
}

static void
smtp_log_reject(struct smtp_session *s, const char *reply)
{
	char safe[LOG_SAFE_MAX];
	const char *what = s->what ? s->what : "";

	log_info(s->qid[0] ? s->qid : NULL, "reject from %s: %s: %s", s->peer,
	    log_safe(what, strlen(what), safe, 120), reply);
}

/* The one exit for single-line replies: send, log 4xx/5xx, count errors. */
static void __attribute__((format(printf, 2, 3)))
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int code;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (s->bev != NULL)
		evbuffer_add_printf(bufferevent_get_output(s->bev), "%s\r\n", buf);
	code = smtp_reply_code(buf);
	if (code >= 400) {
		smtp_log_reject(s, buf);
		if (reply_is_error(code))
			s->nerrors++;
	}
}

/*
 * Send the queued replies in this loop turn (relay/evio.h), where the
 * write callback would have nothing to do once they are out: not after
 * QUIT (it closes) nor while waiting for the output to drain.
 */
static void
smtp_send_now(struct smtp_session *s)
{
	if (s->bev != NULL && s->state != SMTP_QUIT && !(s->flags & S_OUTWAIT))
		(void)evio_send_now(s->bev);
}

/* Last reply queued: stop reading, close once the output has drained. */
static void
smtp_finish(struct smtp_session *s, const char *reason)
{
	if (s->relay->flow != NULL)
		flow_cancel(s->relay->flow, &s->floww);
	s->state = SMTP_QUIT;
	s->quit_reason = reason;
	if (s->bev != NULL)
		bufferevent_disable(s->bev, EV_READ);
}

/* --- transaction --- */

static void
smtp_tx_reset(struct smtp_session *s)
{
	size_t i;

	if (s->msg != NULL && s->state != SMTP_COMMIT) {
		queue_msg_abort(s->msg);
		s->msg = NULL;
	}
	s->qid[0] = '\0';
	for (i = 0; i < s->nrcpts; i++)
		free(s->rcpts[i]);
	s->nrcpts = 0;
	s->sender[0] = '\0';
	s->envflags = 0;
	s->msgsize = 0;
	s->write_error = 0;
	if (s->state == SMTP_RCPT || s->state == SMTP_DATA)
		s->state = SMTP_MAIL;
}

static const char *
smtp_proto(const struct smtp_session *s)
{
	bool tls = s->flags & S_TLS;

	if (s->envflags & ENV_SMTPUTF8)
		return tls ? "UTF8SMTPS" : "UTF8SMTP";
	if (!(s->flags & S_EHLO))
		return tls ? "ESMTPS" : "SMTP";
	return tls ? "ESMTPS" : "ESMTP";
}

/* RFC 5321 4.4 time stamp line, the only change made to a message. */
static int
smtp_write_received(struct smtp_session *s)
{
	char hdr[1024], helo[SMTP_DOMAIN_MAX + 1], date[64], tlsdesc[TLS_DESC_MAX];
	struct tm tm;
	time_t now = time(NULL);
	int n, m;

	smtp_helo_for_header(s->helo, helo, sizeof(helo));
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	n = snprintf(hdr, sizeof(hdr), "Received: from %s ([%s%s])\r\n",
	    helo, (s->flags & S_IPV6) ? "IPv6:" : "", s->addr);
	if ((s->flags & S_TLS) && s->bev != NULL) {
		SSL *ssl = bufferevent_openssl_get_ssl(s->bev);

		if (ssl != NULL)
			n += snprintf(hdr + n, sizeof(hdr) - (size_t)n,
			    "\t(using %s)\r\n",
			    tls_describe(ssl, tlsdesc, sizeof(tlsdesc)));
	}
	n += snprintf(hdr + n, sizeof(hdr) - (size_t)n,
	    "\tby %s (danerelay) with %s id %s", smtp_conf(s)->hostname,
	    smtp_proto(s), queue_msg_id(s->msg));
	/* "for" only with one recipient: never disclose a Bcc list */
	if (s->nrcpts == 1)
		m = snprintf(hdr + n, sizeof(hdr) - (size_t)n,
		    "\r\n\tfor <%s>; %s\r\n", s->rcpts[0], date);
	else
		m = snprintf(hdr + n, sizeof(hdr) - (size_t)n, ";\r\n\t%s\r\n", date);
	n += m;
	if (n <= 0 || (size_t)n >= sizeof(hdr)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (queue_msg_write(s->msg, hdr, (size_t)n) == -1)
		return -1;
	s->msgsize = (uint64_t)n;
	return 0;
}

/*
 * The message cannot be stored (disk trouble) or will be refused (bad
 * content): drop its file now rather than at the end of data, so that no
 * more disk is spent on it and nothing is left by the time we reply.
 */
static void
smtp_msg_drop(struct smtp_session *s)
{
	if (s->msg != NULL) {
		queue_msg_abort(s->msg);
		s->msg = NULL;
	}
}

static void
smtp_write_failed(struct smtp_session *s, int error)
{
	s->write_error = error ? error : EIO;
	log_warnx(queue_msg_id(s->msg), "message not queued: %s",
	    strerror(s->write_error));
	smtp_msg_drop(s);
}

static void
smtp_data_out(void *arg, const char *buf, size_t len)
{
	struct smtp_session *s = arg;

	if (s->msg == NULL)
		return;
	if (queue_msg_write(s->msg, buf, len) == -1)
		smtp_write_failed(s, errno);
	else
		s->msgsize += len;
}

static void
smtp_committed(struct queue_msg *m, int error, void *arg)
{
	struct smtp_session *s = arg;
	const char *id = queue_msg_id(m);
	char safe[LOG_SAFE_MAX];

	s->msg = NULL;
	if (error == 0)
		log_info(id, "from=<%s>, size=%llu, nrcpt=%zu, client=%s, proto=%s",
		    log_safe(s->sender, strlen(s->sender), safe, sizeof(safe)),
		    (unsigned long long)s->msgsize, s->nrcpts, s->peer,
		    smtp_proto(s));
	if (s->flags & S_ZOMBIE) {
		s->state = SMTP_QUIT;
		smtp_close(s, NULL);
		return;
	}
	s->what = "end of data";
	if (error == 0)
		smtp_reply(s, "250 2.0.0 Ok: queued as %s", id);
	else
		smtp_reply(s, "452 4.3.1 Insufficient system storage");
	s->state = SMTP_RCPT;	/* so that the reset below ends the transaction */
	smtp_tx_reset(s);
	smtp_process(s);
	smtp_send_now(s);
	smtp_eof_settle(s);
}

/* <CRLF>.<CRLF> seen: refuse, or commit and wait. */
static void
smtp_data_end(struct smtp_session *s)
{
	enum smtp_data_error e = s->data.error;

	s->what = "end of data";
	if (e != SMTP_DATA_OK) {
		smtp_reply(s, "%s", smtp_data_reply(e));
		smtp_tx_reset(s);
		return;
	}
	if (s->write_error != 0 || s->msg == NULL) {
		smtp_reply(s, "452 4.3.1 Insufficient system storage");
		smtp_tx_reset(s);
		return;
	}
	s->state = SMTP_COMMIT;
	queue_msg_commit(s->msg, smtp_committed, s);
}

/* Feed buffered content to the decoder. 1: go on (end seen), 0: need more. */
static int
smtp_data_input(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_iovec v[8];
	size_t used, total;
	int i, n, end = 0;

	while (!end && evbuffer_get_length(in) > 0) {
		n = evbuffer_peek(in, -1, NULL, v, 8);
		if (n > 8)
			n = 8;
		total = 0;
		for (i = 0; i < n && !end; i++) {
			end = smtp_data_feed(&s->data, v[i].iov_base,
			    v[i].iov_len, &used, smtp_data_out, s);
			total += used;
		}
		evbuffer_drain(in, total);
		if (s->data.error != SMTP_DATA_OK)
			smtp_msg_drop(s);
	}
	if (!end)
		return 0;
	smtp_data_end(s);
	return 1;
}

/* --- commands --- */

/*
 * The greeting, after greet_delay. A client outside relay_clients gets a
 * 554 (RFC 5321 3.1: then only QUIT is useful) and at most
 * SMTP_DENIED_SECS from its connect, SMTP_DENIED_CMDS commands: it never
 * holds a slot for session_timeout.
 */
static void
smtp_greet(struct smtp_session *s)
{
	const struct conf *c = smtp_conf(s);
	struct timeval tv = { c->session_timeout, 0 };
	struct timespec now;
	long long left_ms;

	s->what = "connect";
	s->state = SMTP_HELO;
	if (s->flags & S_DENIED) {
		smtp_reply(s, "554 5.7.1 %s Access denied: relaying is not "
		    "allowed from %s", c->hostname, s->addr);
		tv.tv_sec = SMTP_DENIED_SECS;
		bufferevent_set_timeouts(s->bev, &tv, &tv);
	} else
		smtp_reply(s, "220 %s ESMTP danerelay", c->hostname);
	/* the limit counts from the connect, not from the greeting */
	clock_gettime(CLOCK_MONOTONIC, &now);
	left_ms = (long long)tv.tv_sec * 1000 -
	    ((long long)(now.tv_sec - s->t0.tv_sec) * 1000 +
	    (now.tv_nsec - s->t0.tv_nsec) / 1000000);
	if (left_ms < 1000)
		left_ms = 1000;
	tv.tv_sec = (time_t)(left_ms / 1000);
	tv.tv_usec = (suseconds_t)(left_ms % 1000) * 1000;
	evtimer_add(s->timer, &tv);
	smtp_send_now(s);
}

static bool
smtp_need_helo(struct smtp_session *s)
{
	if (s->state == SMTP_HELO) {
		smtp_reply(s, "503 5.5.1 Error: send EHLO or HELO first");
		return false;
	}
	return true;
}

static bool
smtp_no_args(struct smtp_session *s, const char *args)
{
	if (*args != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax error: no parameters allowed");
		return false;
	}
	return true;
}

static void
smtp_set_helo(struct smtp_session *s, const char *args)
{
	size_t n = strcspn(args, " ");

	if (n > SMTP_DOMAIN_MAX)
		n = SMTP_DOMAIN_MAX;
	memcpy(s->helo, args, n);
	s->helo[n] = '\0';
	smtp_tx_reset(s);
	s->state = SMTP_MAIL;
}

static void
cmd_ehlo(struct smtp_session *s, const char *args)
{
	const struct conf *c = smtp_conf(s);
	struct evbuffer *out = bufferevent_get_output(s->bev);
	const char *r;

	if ((r = smtp_parse_helo(args)) != NULL) {
		smtp_reply(s, "%s", r);
		return;
	}
	smtp_set_helo(s, args);
	s->flags |= S_EHLO;
	evbuffer_add_printf(out,
	    "250-%s\r\n"
	    "250-PIPELINING\r\n"
	    "250-SIZE %llu\r\n"
	    "250-8BITMIME\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n"
	    "%s"
	    "250 SMTPUTF8\r\n",
	    c->hostname, (unsigned long long)c->max_message_size,
	    (s->rc->tls != NULL && !(s->flags & S_TLS)) ? "250-STARTTLS\r\n" : "");
}

static void
cmd_helo(struct smtp_session *s, const char *args)
{
	const char *r;

	if ((r = smtp_parse_helo(args)) != NULL) {
		smtp_reply(s, "%s", r);
		return;
	}
	smtp_set_helo(s, args);
	s->flags &= ~S_EHLO;
	smtp_reply(s, "250 %s", smtp_conf(s)->hostname);
}

static void
cmd_mail(struct smtp_session *s, const char *args)
{
	struct smtp_path p;
	const char *r;

	if (!smtp_need_helo(s))
		return;
	if (s->state != SMTP_MAIL) {
		smtp_reply(s, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if ((r = smtp_parse_mail(args, &p)) != NULL) {
		smtp_reply(s, "%s", r);
		return;
	}
	if (!(s->flags & S_EHLO) && (p.has_size || p.body != SMTP_BODY_NONE ||
	    p.smtputf8)) {
		smtp_reply(s, "555 5.5.4 MAIL parameters require EHLO");
		return;
	}
	if (p.has_size && smtp_conf(s)->max_message_size != 0 &&
	    p.size > smtp_conf(s)->max_message_size) {
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	memcpy(s->sender, p.addr, sizeof(s->sender));
	s->envflags = 0;
	if (p.body == SMTP_BODY_8BITMIME)
		s->envflags |= ENV_8BITMIME;
	if (p.smtputf8)
		s->envflags |= ENV_SMTPUTF8;
	s->state = SMTP_RCPT;
	smtp_reply(s, "250 2.1.0 Ok");
}

/* RFC 5321 4.1.3 address literal: only with allow_address_literals. */
static bool
smtp_rcpt_literal_ok(struct smtp_session *s, const char *addr)
{
	struct dns_addr a;

	if (!smtp_conf(s)->allow_address_literals) {
		smtp_reply(s, "550 5.1.3 Error: address literals are not "
		    "accepted as recipient domains");
		return false;
	}
	if (addr_literal_parse(strrchr(addr, '@') + 1, &a) == -1) {
		smtp_reply(s, "550 5.1.3 Error: only IPv4 and IPv6 address "
		    "literals can be delivered to");
		return false;
	}
	return true;
}

static void
cmd_rcpt(struct smtp_session *s, const char *args)
{
	struct smtp_path p;
	const char *r;

	if (!smtp_need_helo(s))
		return;
	if (s->state != SMTP_RCPT) {
		smtp_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->nrcpts >= smtp_conf(s)->max_recipients) {
		smtp_reply(s, "452 4.5.3 Error: too many recipients");
		return;
	}
	if ((r = smtp_parse_rcpt(args, s->envflags & ENV_SMTPUTF8, &p)) != NULL) {
		smtp_reply(s, "%s", r);
		return;
	}
	if (addr_literal_is(p.addr) && !smtp_rcpt_literal_ok(s, p.addr))
		return;
	if (s->nrcpts == s->rcptcap) {
		s->rcptcap = s->rcptcap ? s->rcptcap * 2 : 4;
		s->rcpts = xreallocarray(s->rcpts, s->rcptcap, sizeof(*s->rcpts));
	}
	s->rcpts[s->nrcpts++] = xstrdup(p.addr);
	smtp_reply(s, "250 2.1.5 Ok");
}

static void
cmd_data(struct smtp_session *s, const char *args)
{
	const struct conf *c = smtp_conf(s);
	char client[INET6_ADDRSTRLEN + 8];

	if (!smtp_need_helo(s) || !smtp_no_args(s, args))
		return;
	if (s->state != SMTP_RCPT) {
		smtp_reply(s, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (s->nrcpts == 0) {
		smtp_reply(s, "554 5.5.1 Error: no valid recipients");
		return;
	}
	snprintf(client, sizeof(client), "[%s]", s->addr);
	s->msg = queue_msg_new(s->relay->queue, s->sender, s->envflags,
	    (const char *const *)s->rcpts, s->nrcpts, client, s->helo);
	if (s->msg == NULL) {
		static struct log_limit ll;	/* a full disk: every DATA */

		log_limit_warn(&ll, NULL, "%s: cannot create a queue file",
		    s->peer);
		smtp_reply(s, "452 4.3.1 Insufficient system storage");
		return;
	}
	str_copy(s->qid, queue_msg_id(s->msg), sizeof(s->qid));
	if (smtp_write_received(s) == -1)
		smtp_write_failed(s, errno);
	smtp_data_init(&s->data, c->max_message_size);
	s->state = SMTP_DATA;
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
cmd_rset(struct smtp_session *s, const char *args)
{
	if (!smtp_no_args(s, args))
		return;
	smtp_tx_reset(s);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void
cmd_noop(struct smtp_session *s, const char *args)
{
	smtp_reply(s, "250 2.0.0 Ok");
}

static void
cmd_quit(struct smtp_session *s, const char *args)
{
	smtp_reply(s, "221 2.0.0 Bye");
	smtp_finish(s, "quit");
}

static void
cmd_vrfy(struct smtp_session *s, const char *args)
{
	if (*args == '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: VRFY address");
		return;
	}
	smtp_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void
cmd_help(struct smtp_session *s, const char *args)
{
	smtp_reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP%s",
	    s->rc->tls != NULL ? " STARTTLS" : "");
}

static void
cmd_notimpl(struct smtp_session *s, const char *args)
{
	smtp_reply(s, "502 5.5.1 Error: command not implemented");
}

/*
 * RFC 3207 4.2: the 220 goes out in clear text, then every octet the
 * client sent after STARTTLS is discarded (it was sent before the TLS
 * session existed, so it cannot be trusted: CVE-2011-0411), and the
 * session starts over as if just connected.
 */
static void
cmd_starttls(struct smtp_session *s, const char *args)
{
	struct bufferevent *tls;
	struct timeval tv = { smtp_conf(s)->idle_timeout, 0 };
	SSL *ssl;

	if (s->rc->tls == NULL) {
		smtp_reply(s, "502 5.5.1 Error: command not implemented");
		return;
	}
	if (s->flags & S_TLS) {
		smtp_reply(s, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (!smtp_no_args(s, args))
		return;
	if (s->state == SMTP_RCPT) {
		smtp_reply(s, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	if ((ssl = SSL_new(s->rc->tls)) == NULL) {
		ERR_clear_error();
		smtp_reply(s, "454 4.7.0 TLS not available due to local problem");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	evbuffer_drain(bufferevent_get_input(s->bev),
	    evbuffer_get_length(bufferevent_get_input(s->bev)));
	bufferevent_set_timeouts(s->bev, NULL, NULL);
	tls = bufferevent_openssl_filter_new(s->relay->base, s->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (tls == NULL) {
		SSL_free(ssl);
		smtp_reply(s, "421 4.7.0 %s Error: TLS setup failed",
		    smtp_conf(s)->hostname);
		smtp_finish(s, "TLS setup failed");
		return;
	}
	s->bev = tls;
	bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
	bufferevent_setcb(tls, smtp_readcb, smtp_writecb, smtp_eventcb, s);
	bufferevent_setwatermark(tls, EV_READ, 0, SMTP_IN_MAX);
	bufferevent_set_timeouts(tls, &tv, &tv);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	s->flags |= S_TLS;
	s->flags &= ~(S_EHLO | S_SKIP);
	s->helo[0] = '\0';
	smtp_tx_reset(s);
	s->state = SMTP_HELO;
}

/* Only QUIT (and the harmless NOOP/RSET) after a greeting-time 554. */
static bool
smtp_denied_ok(const struct smtp_cmd *c)
{
	return c->fn == cmd_quit || c->fn == cmd_noop || c->fn == cmd_rset;
}

static void
smtp_command(struct smtp_session *s)
{
	char verb[SMTP_VERB_MAX];
	const char *args;
	const struct smtp_cmd *c = NULL;
	size_t i;

	s->ncommands++;
	s->what = s->line;
	if (smtp_parse_verb(s->line, verb, &args) == 0) {
		for (i = 0; i < sizeof(smtp_cmds) / sizeof(smtp_cmds[0]); i++)
			if (strcmp(verb, smtp_cmds[i].verb) == 0) {
				c = &smtp_cmds[i];
				break;
			}
	}
	/* every line counts, unknown ones too; only QUIT is always let by */
	if ((s->flags & S_DENIED) && (c == NULL || c->fn != cmd_quit) &&
	    s->ncommands >= SMTP_DENIED_CMDS) {
		/* it cannot relay: it gets no more of our time */
		smtp_reply(s, "421 4.7.0 %s Error: access denied, closing "
		    "connection", smtp_conf(s)->hostname);
		smtp_finish(s, "not in relay_clients: command limit");
		return;
	}
	if (c == NULL) {
		smtp_reply(s, "500 5.5.2 Error: command not recognized");
		return;
	}
	if ((s->flags & S_DENIED) && !smtp_denied_ok(c)) {
		smtp_reply(s, "503 5.7.1 Error: access denied, send QUIT");
		return;
	}
	if (c->fn == cmd_mail && smtp_flow_wait(s))
		return;
	c->fn(s, args);
	/*
	 * RFC 2920 3.1: a client must wait for the reply to a command that
	 * ends a group. Input already buffered behind a refused DATA would be
	 * message text read as commands: end the session instead.
	 */
	if ((c->flags & CMD_ENDS_GROUP) && c->fn == cmd_data &&
	    s->state != SMTP_DATA && s->bev != NULL &&
	    evbuffer_get_length(bufferevent_get_input(s->bev)) > 0) {
		s->what = "DATA";
		smtp_reply(s, "421 4.5.0 %s Error: improper command pipelining after DATA",
		    smtp_conf(s)->hostname);
		smtp_finish(s, "improper pipelining");
	}
}

/*
 * Inbound flow control (relay/flow.h): a new transaction waits while
 * delivery is behind. Its MAIL line goes back to the front of the input,
 * to be read again, once only, when the wait ends (smtp_flow_resume()).
 */
static bool
smtp_flow_wait(struct smtp_session *s)
{
	struct evbuffer *in;

	if (s->flags & S_FLOWPASS) {
		s->flags &= ~S_FLOWPASS;
		return false;
	}
	if (s->state != SMTP_MAIL || s->relay->flow == NULL ||
	    !flow_wait(s->relay->flow, &s->floww, smtp_conf(s)->in_flow_delay,
	    smtp_flow_resume, s))
		return false;
	in = bufferevent_get_input(s->bev);
	if (evbuffer_prepend(in, "\r\n", 2) == -1 ||
	    evbuffer_prepend(in, s->line, strlen(s->line)) == -1)
		fatalx("out of memory for a session's input");
	s->ncommands--;
	s->state = SMTP_FLOW;
	return true;
}

/*
 * One command line into s->line (CRLF removed): 1 got one, 0 need more
 * input, -1 a line was consumed and answered (or skipped).
 */
static int
smtp_getline(struct smtp_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer_ptr eol;
	size_t len, buffered = evbuffer_get_length(in);

	if (buffered == 0)
		return 0;
	eol = evbuffer_search_eol(in, NULL, &len, EVBUFFER_EOL_LF);
	if (eol.pos == -1) {
		if (buffered < SMTP_LINE_MAX)
			return 0;
		/*
		 * Already too long to be a command. Skip to its LF rather
		 * than cut it: a cut would run its tail as a second command.
		 */
		evbuffer_drain(in, buffered);
		if (!(s->flags & S_SKIP)) {
			s->flags |= S_SKIP;
			s->ncommands++;
			s->what = "(over-long command line)";
			smtp_reply(s, "500 5.5.2 Error: command line too long");
		}
		return -1;
	}
	len = (size_t)eol.pos + 1;
	if (s->flags & S_SKIP) {
		evbuffer_drain(in, len);
		s->flags &= ~S_SKIP;
		return -1;
	}
	if (len > SMTP_LINE_MAX) {
		evbuffer_drain(in, len);
		s->ncommands++;
		s->what = "(over-long command line)";
		smtp_reply(s, "500 5.5.2 Error: command line too long");
		return -1;
	}
	evbuffer_remove(in, s->line, len);
	s->line[len] = '\0';
	if (len < 2 || s->line[len - 2] != '\r') {
		s->line[len - 1] = '\0';
		s->ncommands++;
		s->what = s->line;
		smtp_reply(s, "500 5.5.2 Error: bare LF in command line");
		return -1;
	}
	len -= 2;
	s->line[len] = '\0';
	if (memchr(s->line, '\r', len) != NULL || memchr(s->line, '\0', len) != NULL) {
		s->ncommands++;
		s->what = "(command line with CR or NUL)";
		smtp_reply(s, "500 5.5.2 Error: bad character in command line");
		return -1;
	}
	return 1;
}

/* Run buffered input through the state machine; never frees s. */
static void
smtp_process(struct smtp_session *s)
{
	const struct conf *c = smtp_conf(s);
	int r;

	while (s->bev != NULL && s->state != SMTP_QUIT &&
	    s->state != SMTP_COMMIT && s->state != SMTP_GREETING &&
	    s->state != SMTP_FLOW) {
		if (s->flags & S_EXPIRED) {
			s->what = "session time limit";
			smtp_reply(s, "421 4.4.2 %s Error: session time limit exceeded",
			    c->hostname);
			smtp_finish(s, "session timeout");
			break;
		}
		if (s->relay->stopping && s->state != SMTP_RCPT &&
		    s->state != SMTP_DATA) {
			s->what = "shutdown";
			smtp_reply(s, "421 4.3.2 %s Service shutting down",
			    c->hostname);
			smtp_finish(s, "shutdown");
			break;
		}
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) > SMTP_OUT_MAX) {
			s->flags |= S_OUTWAIT;	/* the client does not read */
			break;
		}
		if (s->state == SMTP_DATA)
			r = smtp_data_input(s);
		else if ((r = smtp_getline(s)) == 1)
			smtp_command(s);
		if (r == 0)
			break;
		if (s->nerrors >= c->max_errors && s->state != SMTP_QUIT) {
			s->what = "error limit";
			smtp_reply(s, "421 4.7.0 %s Error: too many errors",
			    c->hostname);
			smtp_finish(s, "too many errors");
			break;
		}
	}
}

/* --- libevent callbacks: the only places a session is freed --- */

static void
smtp_readcb(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (s->state == SMTP_GREETING) {
		/* RFC 5321 4.3.1: a client waits for the greeting. */
		evbuffer_drain(in, evbuffer_get_length(in));
		evtimer_del(s->timer);
		s->what = "input before the greeting";
		smtp_reply(s, "554 5.5.1 %s Error: early talker: input before the greeting",
		    smtp_conf(s)->hostname);
		smtp_finish(s, "early talker");
		return;
	}
	if (s->state == SMTP_QUIT) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	smtp_process(s);
	smtp_send_now(s);
}

/*
 * Closing a TLS session: once every reply is encrypted, queue a
 * close_notify (RFC 8446 6.1) so the client can tell our close from a
 * truncation; the socket bufferevent sends it like any output, and the
 * close waits for it as for a reply. We never wait for the client's.
 */
static void
smtp_tls_close_notify(struct smtp_session *s)
{
	SSL *ssl;

	if ((s->flags & (S_TLS | S_TLSDOWN)) != S_TLS ||
	    evbuffer_get_length(bufferevent_get_output(s->bev)) > 0 ||
	    (ssl = bufferevent_openssl_get_ssl(s->bev)) == NULL ||
	    !SSL_is_init_finished(ssl))
		return;
	s->flags |= S_TLSDOWN;
	(void)SSL_shutdown(ssl);
	ERR_clear_error();
}

static void
smtp_linger_arm(struct smtp_session *s)
{
	struct timeval tv = { 0, SMTP_LINGER_MS * 1000 };

	s->flags |= S_LINGER;
	evtimer_add(s->timer, &tv);
}

/* TLS: the filter's output drains into the socket's; wait for that too. */
static bool
smtp_output_pending(struct smtp_session *s)
{
	struct bufferevent *u = bufferevent_get_underlying(s->bev);

	return evbuffer_get_length(bufferevent_get_output(s->bev)) > 0 ||
	    (u != NULL && evbuffer_get_length(bufferevent_get_output(u)) > 0);
}

/*
 * After EOF (at the tail of a top-level callback): once nothing is left to
 * answer, finish; close now if the output is already out, else the write
 * callback (or the linger timer for TLS) does.
 */
static void
smtp_eof_settle(struct smtp_session *s)
{
	if (!(s->flags & S_EOF) || s->state == SMTP_COMMIT ||
	    s->state == SMTP_FLOW || (s->flags & S_OUTWAIT))
		return;
	if (s->state != SMTP_QUIT)
		smtp_finish(s, "connection closed by client");
	smtp_tls_close_notify(s);
	if (!smtp_output_pending(s))
		smtp_close(s, s->quit_reason);
	else if (!(s->flags & S_LINGER))
		smtp_linger_arm(s);
}

/* The flow wait is over (relay/flow.c calls this from its own event). */
static void
smtp_flow_resume(void *arg)
{
	struct smtp_session *s = arg;

	s->state = SMTP_MAIL;
	s->flags |= S_FLOWPASS;
	smtp_process(s);
	smtp_send_now(s);
	smtp_eof_settle(s);
}

static void
smtp_writecb(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;

	if (s->state == SMTP_QUIT) {
		smtp_tls_close_notify(s);
		if (smtp_output_pending(s)) {
			if (!(s->flags & S_LINGER))
				smtp_linger_arm(s);
			return;
		}
		smtp_close(s, s->quit_reason);
		return;
	}
	if (s->flags & S_OUTWAIT) {
		s->flags &= ~S_OUTWAIT;
		smtp_process(s);
		smtp_eof_settle(s);
	}
}

static void
smtp_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;
	char reason[160];
	unsigned long err;

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		char desc[TLS_DESC_MAX];

		if (ssl != NULL)
			log_info(NULL, "STARTTLS from %s: %s", s->peer,
			    tls_describe(ssl, desc, sizeof(desc)));
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (s->state == SMTP_COMMIT) {
			/* our disk is slow, not the client: wait on */
			bufferevent_enable(bev, EV_READ);
			return;
		}
		if (s->state == SMTP_QUIT) {
			smtp_close(s, s->quit_reason ? s->quit_reason : "timeout");
			return;
		}
		s->what = "idle timeout";
		smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded",
		    smtp_conf(s)->hostname);
		smtp_finish(s, "idle timeout");
		bufferevent_enable(bev, EV_WRITE);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/*
		 * A client may half-close after its last command ("."
		 * and QUIT, then shutdown): it still reads our replies, so
		 * answer what it sent before closing. Only a message cut
		 * off in DATA is dropped at once.
		 */
		s->flags |= S_EOF;
		if (s->state == SMTP_DATA) {
			smtp_close(s, "connection closed by client during DATA");
			return;
		}
		smtp_process(s);
		smtp_eof_settle(s);
		return;
	}
	/* BEV_EVENT_ERROR */
	if ((err = bufferevent_get_openssl_error(bev)) != 0) {
		const char *r = ERR_reason_error_string(err);

		while (bufferevent_get_openssl_error(bev) != 0)
			;
		snprintf(reason, sizeof(reason), "TLS error: %.100s",
		    r ? r : "unknown error");
	} else if (EVUTIL_SOCKET_ERROR() != 0)
		snprintf(reason, sizeof(reason), "connection error: %s",
		    strerror(EVUTIL_SOCKET_ERROR()));
	else
		snprintf(reason, sizeof(reason), "connection error");
	smtp_close(s, reason);
}

static void
smtp_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct smtp_session *s = arg;
	if (s->flags & S_LINGER) {
		smtp_tls_close_notify(s);
		if (smtp_output_pending(s) && ++s->linger < SMTP_LINGER_MAX) {
			smtp_linger_arm(s);
			return;
		}
		smtp_close(s, s->quit_reason);
		return;
	}
	if (s->state == SMTP_GREETING) {
		smtp_greet(s);
		smtp_process(s);	/* anything sent right after the delay */
		return;
	}
	s->flags |= S_EXPIRED;
	if (s->state != SMTP_COMMIT)	/* else the commit callback sees it */
		smtp_process(s);
}

/* --- life cycle --- */

static void
smtp_peer_text(const struct sockaddr *sa, char *addr, size_t addrlen,
    char *peer, size_t peerlen, bool *v6)
{
	unsigned port = 0;

	*v6 = false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t)addrlen);
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, addr, (socklen_t)addrlen);
		port = ntohs(in6->sin6_port);
		*v6 = true;
	} else
		str_copy(addr, "unknown", addrlen);
	snprintf(peer, peerlen, "[%s]:%u", addr, port);
}

void
smtp_session_refuse(struct relay *r, int fd, const struct sockaddr *sa,
    socklen_t salen, const char *reply, const char *why)
{
	char addr[INET6_ADDRSTRLEN], peer[SMTP_PEER_MAX], line[256];
	bool v6;
	int n;

	smtp_peer_text(sa, addr, sizeof(addr), peer, sizeof(peer), &v6);
	log_info(NULL, "reject from %s: %s: %s", peer, why, reply);
	n = snprintf(line, sizeof(line), "%s\r\n", reply);
	if (n > 0 && send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
		log_debug(NULL, "%s: %s", peer, strerror(errno));
	close(fd);
}

void
smtp_session_accept(struct relay *r, int fd, const struct sockaddr *sa,
    socklen_t salen)
{
	struct smtp_session *s;
	const struct conf *c = r->rc->conf;
	struct timeval idle = { c->idle_timeout, 0 };
	struct timeval greet = { 0, 0 };
	bool v6;

	s = xcalloc(1, sizeof(*s));
	s->relay = r;
	s->rc = relay_conf_ref(r->rc);
	s->fd = fd;
	s->start = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &s->t0);
	smtp_peer_text(sa, s->addr, sizeof(s->addr), s->peer, sizeof(s->peer), &v6);
	if (v6)
		s->flags |= S_IPV6;
	s->bev = bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE);
	s->timer = evtimer_new(r->base, smtp_timer, s);
	if (s->bev == NULL || s->timer == NULL)
		fatalx("out of memory for a session");
	TAILQ_INSERT_TAIL(&r->sessions, s, entry);
	r->nsessions++;
	log_info(NULL, "connect from %s", s->peer);

	bufferevent_setcb(s->bev, smtp_readcb, smtp_writecb, smtp_eventcb, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, SMTP_IN_MAX);
	bufferevent_set_timeouts(s->bev, &idle, &idle);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);

	if (!conf_client_allowed(c, sa))
		s->flags |= S_DENIED;
	/* input before a delayed greeting is an early talker (smtp_readcb) */
	greet.tv_sec = (s->flags & S_DENIED) ? c->greet_delay_other :
	    c->greet_delay_relay;
	s->state = SMTP_GREETING;
	if (greet.tv_sec == 0)
		smtp_greet(s);
	else
		evtimer_add(s->timer, &greet);
}

unsigned
smtp_session_count_from(struct relay *r, const struct sockaddr *sa)
{
	char addr[INET6_ADDRSTRLEN], peer[SMTP_PEER_MAX];
	struct smtp_session *s;
	unsigned n = 0;
	bool v6;

	smtp_peer_text(sa, addr, sizeof(addr), peer, sizeof(peer), &v6);
	TAILQ_FOREACH(s, &r->sessions, entry)
		if (strcmp(s->addr, addr) == 0)
			n++;
	return n;
}

static void
smtp_session_free(struct smtp_session *s)
{
	struct relay *r = s->relay;
	size_t i;

	for (i = 0; i < s->nrcpts; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	relay_conf_unref(s->rc);
	TAILQ_REMOVE(&r->sessions, s, entry);
	free(s);
	if (--r->nsessions == 0 && r->stopping && r->sessions_gone != NULL)
		r->sessions_gone(r);
}

/*
 * Read what the client already sent before closing: closing a socket with
 * unread input sends a RST, which can destroy our last reply in flight.
 */
static void
smtp_drain_socket(int fd)
{
	char buf[4096];
	int i;

	shutdown(fd, SHUT_WR);
	for (i = 0; i < 16; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
}

static void
smtp_close(struct smtp_session *s, const char *reason)
{
	if (s->bev != NULL) {
		log_info(NULL, "disconnect from %s (commands=%u, %s)", s->peer,
		    s->ncommands, reason ? reason : "closed");
		smtp_drain_socket(s->fd);
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	if (s->timer != NULL) {
		event_free(s->timer);
		s->timer = NULL;
	}
	if (s->relay->flow != NULL)
		flow_cancel(s->relay->flow, &s->floww);
	if (s->state == SMTP_COMMIT) {
		/* the queue still holds s: free it in smtp_committed() */
		s->flags |= S_ZOMBIE;
		return;
	}
	if (s->msg != NULL) {
		queue_msg_abort(s->msg);
		s->msg = NULL;
	}
	smtp_session_free(s);
}

void
smtp_session_shutdown_all(struct relay *r)
{
	struct smtp_session *s, *next;

	/* waiting transactions first: each answers 421 (it may close) */
	if (r->flow != NULL)
		flow_resume_all(r->flow);
	/* smtp_process() never frees, so the list stays intact */
	for (s = TAILQ_FIRST(&r->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->bev == NULL || s->state == SMTP_QUIT)
			continue;
		if (s->state == SMTP_GREETING) {
			s->state = SMTP_HELO;
			s->what = "shutdown";
			smtp_reply(s, "421 4.3.2 %s Service shutting down",
			    smtp_conf(s)->hostname);
			smtp_finish(s, "shutdown");
			continue;
		}
		smtp_process(s);
	}
}

void
smtp_session_abort_all(struct relay *r)
{
	struct smtp_session *s, *next;

	for (s = TAILQ_FIRST(&r->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->bev == NULL)
			continue;
		if (s->state != SMTP_QUIT && !(s->flags & S_TLS)) {
			/*
			 * Best effort, one non-blocking send of the 421, and
			 * only if nothing is queued before it (a client that
			 * does not read gets no 421). The bufferevent's own
			 * buffer cannot be used: libevent freezes its start.
			 */
			bool idle = evbuffer_get_length(
			    bufferevent_get_output(s->bev)) == 0;
			char line[256];
			int n;

			s->what = "shutdown";
			n = snprintf(line, sizeof(line),
			    "421 4.3.2 %s Service shutting down\r\n",
			    smtp_conf(s)->hostname);
			smtp_log_reject(s, "421 4.3.2 Service shutting down");
			if (idle && n > 0 && (size_t)n < sizeof(line) &&
			    send(s->fd, line, (size_t)n,
			    MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
				log_debug(NULL, "%s: %s", s->peer, strerror(errno));
		}
		smtp_close(s, "shutdown");
	}
}
