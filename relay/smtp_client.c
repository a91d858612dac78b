/*
 * relay/smtp_client.c - one outbound SMTP connection (see smtp_client.h).
 *
 * Shape: a state machine fed by whole replies (client_reply), with
 * Postfix's two cursors for pipelining: commands go out ahead
 * (rcpt_sent), replies are matched to them in order (rcpt_acked); the
 * reply dispatcher never needs a queue of pending commands. Content
 * streams from the caller's fd through a small scratch buffer, refilled
 * only when the output buffer drains below a low-water mark; lines over
 * 998 octets are broken there. Before MAIL, client_prepare() fits the
 * message to the server (SMTPUTF8 dropped for ASCII, 8-bit converted to
 * 7 bit by relay/mime7bit.c) or refuses it locally.
 *
 * Timeouts: each awaited reply has a total deadline (ev_deadline) besides
 * libevent's inactivity timers, so trickled bytes cannot stretch a stage.
 * The bufferevent owns the socket (BEV_OPT_CLOSE_ON_FREE); a clean end of
 * a TLS session sends close_notify first.
 *
 * Invariants: every callback runs from a libevent handler (never from an
 * API call); c->busy counts handler frames so that smtp_client_free()
 * inside a callback only marks the client dead, and the outermost frame
 * frees it. closed() is always the last callback.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/smtp_client.h"
#include "relay/evio.h"
#include "relay/mime7bit.h"
#include "relay/util.h"
#include "queue/queue.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/err.h>

#define LINE_MAX_LEN	2048	/* a reply line; RFC 5321 says 512 */
#define REPLY_MAX_LINES	256	/* lines of one multi-line reply */
#define CONTENT_CHUNK	16384	/* read(2) size for content */
#define CONTENT_HIGH	65536	/* stop filling above this much output */
#define CONTENT_LOW	16384	/* refill when output drains to this */
#define TEXT_LINE_MAX	998	/* octets before CRLF (RFC 5321 4.5.3.1.6) */

enum cstate {
	C_CONNECTING,
	C_GREETING,
	C_EHLO,
	C_HELO,
	C_STARTTLS,
	C_HANDSHAKE,
	C_IDLE,
	C_XACT,			/* a message: see the cursors */
	C_CONTENT,		/* streaming content (inside a transaction) */
	C_QUIT,			/* QUIT sent, waiting for the reply or EOF */
	C_DEAD,			/* closed() delivered or freed; waiting to be freed */
};

/* Per-recipient state during a transaction. */
#define R_OPEN		0
#define R_ACCEPTED	1	/* RCPT 2xx, waiting for "." */
#define R_DONE		2	/* rcpt() delivered */

enum deferred {
	DEF_NONE,
	DEF_CONNECT_FAIL,	/* connect(2) failed synchronously */
	DEF_LOCAL_REFUSAL,	/* send() refused the message locally */
	DEF_QUIT,		/* quit() before there was a dialogue */
};

struct smtp_client {
	struct event_base	*base;
	struct bufferevent	*bev;
	int			 fd;
	bool			 tls_bev;	/* bev is the SSL one */
	bool			 clean_close;	/* QUIT answered: TLS close_notify */
	struct smtp_client_cbs	 cb;
	void			*arg;
	enum cstate		 state;
	enum smtp_stage		 stage;
	int			 busy;		/* handler frames on the stack */
	bool			 dead;		/* free when busy drops to 0 */
	bool			 closing;	/* server said 421: no new message */

	struct tls_client	*tls;
	struct tls_secctx	*sec;		/* owned copy */
	struct tls_result	*tlsr;		/* NULL until a handshake finished */
	char			*host;
	char			*helo;
	char			*peer;		/* "host[addr]:port" (session key) */
	char			 addr[64];	/* "[addr]:port" */
	char			 local[64];	/* our address, once connected */
	unsigned		 t_connect, t_greeting, t_command, t_data,
				 t_data_done;

	unsigned		 ext;		/* SMTP_EXT_* of the last EHLO */
	uint64_t		 size_limit;	/* SIZE n; 0 none */
	bool			 after_tls;	/* the EHLO in progress follows TLS */
	unsigned		 nmsgs;

	/* the reply being assembled */
	struct smtp_reply	 reply;
	unsigned		 reply_lines;
	size_t			 reply_len;

	/* the transaction */
	struct smtp_client_msg	 msg;
	uint8_t			*rstate;	/* R_* per recipient */
	bool			 rset_pend;	/* RSET sent, reply not read */
	bool			 mail_sent, mail_acked, mail_ok;
	size_t			 rcpt_sent, rcpt_acked, naccepted, ndelivered;
	bool			 data_sent, data_acked;
	bool			 dot_sent, dot_acked;
	bool			 content_eof, at_bol, prev_cr;
	size_t			 col;		/* octets on the current line */
	bool			 send_8bit;	/* BODY=8BITMIME */
	bool			 send_utf8;	/* SMTPUTF8 */
	int			 conv_fd;	/* 7-bit copy of the content, or -1 */
	char			 note[128];	/* how it was fitted: SMTP_EV_DOWNGRADE */
	bool			 xact_refused;	/* msg refused as a whole */
	enum smtp_fail		 xact_fail;
	enum smtp_stage		 xact_stage;
	struct smtp_reply	*xact_reply;	/* the refusal, for done() */

	/* total deadline for the reply (or handshake) awaited now */
	struct event		*ev_deadline;
	unsigned		 deadline_secs;	/* 0: none armed */
	bool			 deadline_hit;

	/* deferred notification */
	struct event		*ev_defer;
	enum deferred		 defer;
	int			 defer_errno;
};

static unsigned char content_buf[CONTENT_CHUNK];	/* delivery loop thread only */

static void	client_readcb(struct bufferevent *, void *);
static void	client_writecb(struct bufferevent *, void *);
static void	client_eventcb(struct bufferevent *, short, void *);
static int	client_sockname(int, char *, size_t);
static void	client_reply(struct smtp_client *);
static void	client_fail(struct smtp_client *, enum smtp_fail,
		    const struct smtp_reply *, enum tlsrpt_type, bool polite,
		    bool timeout, const char *fmt, ...)
		    __attribute__((format(printf, 7, 8)));
static void	client_destroy(struct smtp_client *);
static void	client_xact_end(struct smtp_client *);
static void	client_content_fill(struct smtp_client *);
static void	client_linger(struct smtp_client *);
static int	client_prepare(struct smtp_client *, struct smtp_reply *);

const char *
smtp_stage_name(enum smtp_stage s)
{
	switch (s) {
	case SMTP_STAGE_CONNECT:	return "connect";
	case SMTP_STAGE_GREETING:	return "greeting";
	case SMTP_STAGE_EHLO:		return "EHLO";
	case SMTP_STAGE_STARTTLS:	return "STARTTLS";
	case SMTP_STAGE_TLS:		return "TLS handshake";
	case SMTP_STAGE_IDLE:		return "idle";
	case SMTP_STAGE_RSET:		return "RSET";
	case SMTP_STAGE_MAIL:		return "MAIL FROM";
	case SMTP_STAGE_RCPT:		return "RCPT TO";
	case SMTP_STAGE_DATA:		return "DATA";
	case SMTP_STAGE_CONTENT:	return "message content";
	case SMTP_STAGE_DOT:		return "end of DATA";
	case SMTP_STAGE_QUIT:		return "QUIT";
	}
	return "unknown";
}

const char *
smtp_fail_name(enum smtp_fail f)
{
	switch (f) {
	case SMTP_FAIL_NONE:		 return "none";
	case SMTP_FAIL_CONNECT:		 return "connect";
	case SMTP_FAIL_GREETING:	 return "greeting";
	case SMTP_FAIL_HELO:		 return "helo";
	case SMTP_FAIL_PROTO:		 return "protocol";
	case SMTP_FAIL_STARTTLS_MISSING: return "starttls-missing";
	case SMTP_FAIL_TLS:		 return "tls";
	case SMTP_FAIL_DANE:		 return "dane";
	case SMTP_FAIL_LOST:		 return "lost";
	case SMTP_FAIL_TEMP:		 return "temporary";
	case SMTP_FAIL_PERM:		 return "permanent";
	}
	return "unknown";
}

/* --- helpers --- */

static struct timeval *
tv(struct timeval *t, unsigned secs)
{
	t->tv_sec = secs ? secs : 300;
	t->tv_usec = 0;
	return t;
}

/*
 * Read and write timeouts for what we wait on next (0: none). A read
 * timeout is also a total deadline (RFC 5321 4.5.3.2): the bufferevent's
 * own timer restarts on every byte, so a server trickling its reply one
 * byte at a time would never trip it; ev_deadline does not restart until
 * a complete reply has arrived (client_readcb re-arms it per reply).
 */
static void
client_timeouts(struct smtp_client *c, unsigned rd, unsigned wr)
{
	struct timeval r, w;

	bufferevent_set_timeouts(c->bev, rd ? tv(&r, rd) : NULL,
	    wr ? tv(&w, wr) : NULL);
	c->deadline_secs = rd;
	if (rd != 0)
		evtimer_add(c->ev_deadline, tv(&r, rd));
	else
		evtimer_del(c->ev_deadline);
}

/*
 * Output was queued: write it in this loop turn rather than after the
 * next epoll_wait, which saves the two epoll_ctl(2) calls per command of
 * enabling and withdrawing write interest (relay/evio.h).
 */
static void
client_push(struct smtp_client *c)
{
	if (c->bev != NULL && !c->dead)
		(void)evio_write_soon(c->bev);
}

static void
client_send(struct smtp_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
client_send(struct smtp_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
	evbuffer_add(bufferevent_get_output(c->bev), "\r\n", 2);
	client_push(c);
}

static void
client_event(struct smtp_client *c, enum smtp_event_type type,
    const struct smtp_reply *r, bool tls_ok, enum tlsrpt_type rpt,
    const char *text)
{
	struct smtp_event ev;

	if (c->cb.event == NULL || c->dead)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.stage = c->stage;
	ev.reply = r;
	ev.tls = c->tlsr;
	ev.tls_ok = tls_ok;
	ev.rpt = rpt;
	ev.text = text;
	c->cb.event(c->arg, &ev);
}

static void
client_local_reply(struct smtp_reply *r, const char *esc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
client_local_reply(struct smtp_reply *r, const char *esc, const char *fmt, ...)
{
	va_list ap;

	memset(r, 0, sizeof(*r));
	str_copy(r->esc, esc, sizeof(r->esc));
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

static void
client_rcpt(struct smtp_client *c, size_t idx, enum smtp_stage stage,
    const struct smtp_reply *r)
{
	struct smtp_rcpt_result rr;

	if (c->dead || idx >= c->msg.nrcpts || c->rstate[idx] == R_DONE)
		return;
	c->rstate[idx] = R_DONE;
	if (r->code >= 200 && r->code < 300 && stage == SMTP_STAGE_DOT)
		c->ndelivered++;
	rr.idx = idx;
	rr.stage = stage;
	rr.reply = r;
	c->cb.rcpt(c->arg, &rr);
}

/* Every recipient without a result gets r (a refusal of the message). */
static void
client_rcpt_all(struct smtp_client *c, enum smtp_stage stage,
    const struct smtp_reply *r, bool accepted_only)
{
	size_t i;

	for (i = 0; i < c->msg.nrcpts && !c->dead; i++) {
		if (c->rstate[i] == R_DONE)
			continue;
		if (accepted_only && c->rstate[i] != R_ACCEPTED)
			continue;
		client_rcpt(c, i, stage, r);
	}
}

/* Remember the message's refusal (first one wins) for done(). */
static void
client_refuse(struct smtp_client *c, enum smtp_stage stage,
    const struct smtp_reply *r)
{
	if (c->xact_refused)
		return;
	c->xact_refused = true;
	c->xact_stage = stage;
	c->xact_fail = (r->code >= 500 || (r->code == 0 && r->esc[0] == '5')) ?
	    SMTP_FAIL_PERM : SMTP_FAIL_TEMP;
	if (c->xact_reply == NULL)
		c->xact_reply = xmalloc(sizeof(*c->xact_reply));
	*c->xact_reply = *r;
}

static void
client_xact_reset(struct smtp_client *c)
{
	free(c->rstate);
	c->rstate = NULL;
	free(c->xact_reply);
	c->xact_reply = NULL;
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.fd = -1;
	c->rset_pend = c->mail_sent = c->mail_acked = c->mail_ok = false;
	c->rcpt_sent = c->rcpt_acked = c->naccepted = c->ndelivered = 0;
	c->data_sent = c->data_acked = c->dot_sent = c->dot_acked = false;
	c->content_eof = c->prev_cr = false;
	c->at_bol = true;
	c->col = 0;
	c->send_8bit = c->send_utf8 = false;
	c->note[0] = '\0';
	if (c->conv_fd != -1)
		close(c->conv_fd);
	c->conv_fd = -1;
	c->xact_refused = false;
	c->xact_fail = SMTP_FAIL_NONE;
}

/*
 * The connection is over: closed() with the failure, then free at the
 * outermost handler frame. polite: send QUIT first when the dialogue is
 * still in step (the bev is handed to a lingering closer).
 */
static void
client_fail(struct smtp_client *c, enum smtp_fail fail,
    const struct smtp_reply *r, enum tlsrpt_type rpt, bool polite,
    bool timeout, const char *fmt, ...)
{
	struct smtp_failure f;
	char why[512];
	va_list ap;

	if (c->dead)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	memset(&f, 0, sizeof(f));
	f.fail = fail;
	f.stage = c->stage;
	if (c->rstate != NULL) {
		size_t i;

		/* Only recipients still without a result count. */
		for (i = 0; i < c->msg.nrcpts; i++)
			if (c->rstate[i] != R_DONE)
				f.in_transaction = true;
	}
	f.timeout = timeout;
	f.rpt = rpt;
	f.reply = (r != NULL && r->code != 0) ? r : NULL;
	f.why = why;
	evtimer_del(c->ev_deadline);
	c->clean_close = fail == SMTP_FAIL_NONE && c->state == C_QUIT;
	if (polite && c->bev != NULL) {
		client_send(c, "QUIT");
		client_linger(c);
	}
	c->state = C_DEAD;
	c->dead = true;
	c->cb.closed(c->arg, &f);
}

/* --- connection --- */

static void
client_defercb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *c = arg;
	enum deferred d = c->defer;
	struct smtp_reply r;

	c->defer = DEF_NONE;
	c->busy++;
	if (d == DEF_CONNECT_FAIL) {
		errno = c->defer_errno;
		client_fail(c, SMTP_FAIL_CONNECT, NULL, TLSRPT_NONE, false,
		    false, "connect to %s%s: %s", c->host, c->addr,
		    strerror(c->defer_errno));
	} else if (d == DEF_LOCAL_REFUSAL && c->state == C_XACT &&
	    c->xact_reply != NULL) {
		r = *c->xact_reply;
		client_rcpt_all(c, c->xact_stage, &r, false);
		if (!c->dead)
			client_xact_end(c);
	} else if (d == DEF_QUIT)
		client_fail(c, SMTP_FAIL_NONE, NULL, TLSRPT_NONE, false, false,
		    "QUIT");
	if (--c->busy == 0 && c->dead)
		client_destroy(c);
}

/* The total deadline passed: handled as the stage's read timeout. */
static void
client_deadlinecb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_client *c = arg;

	if (c->dead || c->bev == NULL)
		return;
	c->deadline_hit = true;
	errno = ETIMEDOUT;
	client_eventcb(c->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, c);
}

static void
client_defer(struct smtp_client *c, enum deferred d)
{
	c->defer = d;
	event_active(c->ev_defer, 0, 0);
}

struct smtp_client *
smtp_client_connect(struct event_base *base,
    const struct smtp_client_params *p, const struct smtp_client_cbs *cbs,
    void *arg)
{
	struct smtp_client *c;
	char a[INET6_ADDRSTRLEN];
	unsigned port = 0;
	size_t plen;
	int fd, serr;

	if (p->sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)p->sa;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		port = ntohs(sin->sin_port);
	} else if (p->sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)p->sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		port = ntohs(sin6->sin6_port);
	} else {
		errno = EAFNOSUPPORT;
		return NULL;
	}
	if (p->sec.level != TLS_LEVEL_NONE && p->tls == NULL) {
		errno = EINVAL;
		return NULL;
	}
	fd = socket(p->sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->base = base;
	c->fd = fd;
	c->cb = *cbs;
	c->arg = arg;
	c->tls = p->tls;
	c->sec = tls_secctx_dup(&p->sec);
	c->host = xstrdup(p->host ? p->host : "");
	c->helo = xstrdup(p->helo_name ? p->helo_name : "localhost");
	snprintf(c->addr, sizeof(c->addr), "[%s]:%u", a, port);
	plen = strlen(c->host) + strlen(c->addr) + 1;
	c->peer = xmalloc(plen);
	snprintf(c->peer, plen, "%s%s", c->host, c->addr);
	c->t_connect = p->connect_timeout;
	c->t_greeting = p->greeting_timeout;
	c->t_command = p->command_timeout;
	c->t_data = p->data_timeout;
	c->t_data_done = p->data_done_timeout;
	c->state = C_CONNECTING;
	c->stage = SMTP_STAGE_CONNECT;
	c->msg.fd = -1;
	c->conv_fd = -1;
	c->at_bol = true;
	c->ev_defer = event_new(base, -1, 0, client_defercb, c);
	c->ev_deadline = evtimer_new(base, client_deadlinecb, c);
	/* The bev owns fd: libevent closes it only after its events are
	 * gone from the backend (closing first makes epoll_ctl fail). */
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->ev_defer == NULL || c->ev_deadline == NULL || c->bev == NULL) {
		serr = ENOMEM;
		goto fail;
	}
	/* Callbacks only after connect: libevent runs the error callback
	 * from inside bufferevent_socket_connect() on an immediate failure,
	 * and no callback may run from inside this function. */
	client_timeouts(c, 0, c->t_connect);
	errno = 0;
	if (bufferevent_socket_connect(c->bev, p->sa, (int)p->salen) == -1) {
		c->defer_errno = errno ? errno : ECONNREFUSED;
		client_defer(c, DEF_CONNECT_FAIL);
	}
	bufferevent_setcb(c->bev, client_readcb, client_writecb,
	    client_eventcb, c);
	return c;
fail:
	client_destroy(c);
	errno = serr;
	return NULL;
}

/*
 * Our TLS close_notify (RFC 8446 6.1) before the socket goes, on a clean
 * end only: after a fatal TLS error OpenSSL must not be asked to shut
 * down. One non-blocking call, the peer's close_notify is not awaited.
 */
static void
client_tls_close(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	if (ssl != NULL && SSL_is_init_finished(ssl) &&
	    !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
}

/*
 * The bev owns the fd (BEV_OPT_CLOSE_ON_FREE): libevent closes it once
 * the events are gone, even when the free is deferred because a callback
 * of that bev is still on the stack. Closing it ourselves made a pending
 * epoll change hit a closed descriptor.
 */
static void
client_destroy(struct smtp_client *c)
{
	if (c->bev != NULL) {
		if (c->tls_bev && c->clean_close)
			client_tls_close(c->bev);
		bufferevent_free(c->bev);
	} else if (c->fd != -1)
		close(c->fd);
	if (c->ev_defer != NULL)
		event_free(c->ev_defer);
	if (c->ev_deadline != NULL)
		event_free(c->ev_deadline);
	tls_secctx_free(c->sec);
	free(c->tlsr);
	free(c->host);
	free(c->helo);
	free(c->peer);
	if (c->conv_fd != -1)
		close(c->conv_fd);
	free(c->rstate);
	free(c->xact_reply);
	free(c);
}

/*
 * A connection that is being closed with a QUIT still in its output:
 * linger until the output drains (or a short timeout), then free. It
 * carries nothing of the client but the bev and the fd it may own.
 */
struct lingerer {
	struct bufferevent	*bev;		/* owns the fd */
	bool			 tls;
};

static void
linger_done(struct lingerer *l)
{
	bufferevent_free(l->bev);
	free(l);
}

static void
linger_writecb(struct bufferevent *bev, void *arg)
{
	struct lingerer *l = arg;

	/* QUIT is out: close_notify after it */
	if (l->tls)
		client_tls_close(l->bev);
	linger_done(l);
}

static void
linger_eventcb(struct bufferevent *bev, short what, void *arg)
{
	linger_done(arg);
}

static void
linger_readcb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

void
smtp_client_free(struct smtp_client *c)
{
	if (c == NULL)
		return;
	c->dead = true;
	c->state = C_DEAD;
	if (c->busy == 0)
		client_destroy(c);
}

/* Hand a bev with pending output (QUIT) to a lingerer. */
static void
client_linger(struct smtp_client *c)
{
	struct lingerer *l;
	struct timeval t;

	if (c->bev == NULL ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		return;
	l = xmalloc(sizeof(*l));
	l->bev = c->bev;
	l->tls = c->tls_bev;
	c->bev = NULL;
	c->fd = -1;
	bufferevent_setcb(l->bev, linger_readcb, linger_writecb,
	    linger_eventcb, l);
	bufferevent_setwatermark(l->bev, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(l->bev, tv(&t, 5), tv(&t, 5));
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
}

/* --- replies --- */

static bool
is_esc(const char *s, int cls, size_t *len)
{
	const char *p = s;
	int n;

	/* class "." 1*3digit "." 1*3digit (RFC 3463) */
	if (*p - '0' != cls || p[1] != '.')
		return false;
	p += 2;
	for (n = 0; isdigit((unsigned char)*p) && n < 4; n++)
		p++;
	if (n < 1 || n > 3 || *p != '.')
		return false;
	p++;
	for (n = 0; isdigit((unsigned char)*p) && n < 4; n++)
		p++;
	if (n < 1 || n > 3 || (*p != ' ' && *p != '\0'))
		return false;
	*len = (size_t)(p - s);
	return true;
}

static void
client_ehlo_line(struct smtp_client *c, const char *kw)
{
	size_t n = strcspn(kw, " =");

	if (n == 10 && strncasecmp(kw, "PIPELINING", n) == 0)
		c->ext |= SMTP_EXT_PIPELINING;
	else if (n == 8 && strncasecmp(kw, "STARTTLS", n) == 0)
		c->ext |= SMTP_EXT_STARTTLS;
	else if (n == 8 && strncasecmp(kw, "8BITMIME", n) == 0)
		c->ext |= SMTP_EXT_8BITMIME;
	else if (n == 8 && strncasecmp(kw, "SMTPUTF8", n) == 0)
		c->ext |= SMTP_EXT_SMTPUTF8;
	else if (n == 4 && strncasecmp(kw, "SIZE", n) == 0) {
		c->ext |= SMTP_EXT_SIZE;
		c->size_limit = 0;
		if (kw[4] == ' ')
			c->size_limit = strtoull(kw + 5, NULL, 10);
	}
}

/*
 * Add one line to the reply being assembled. Returns 1 when the reply is
 * complete, 0 when more lines follow, -1 on a malformed line.
 */
static int
client_reply_line(struct smtp_client *c, char *line, size_t len)
{
	struct smtp_reply *r = &c->reply;
	const char *text;
	size_t esclen, tl, room;
	int code;
	bool last;

	if (len < 3 || !isdigit((unsigned char)line[0]) ||
	    !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2]) ||
	    line[0] < '2' || line[0] > '5' || (len > 3 && line[3] != ' ' &&
	    line[3] != '-'))
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	last = len == 3 || line[3] == ' ';
	text = len > 4 ? line + 4 : "";
	if (c->reply_lines == 0) {
		memset(r, 0, sizeof(*r));
		r->code = code;
		if (is_esc(text, code / 100, &esclen))
			memcpy(r->esc, text, esclen < sizeof(r->esc) ?
			    esclen : sizeof(r->esc) - 1);
		c->reply_len = (size_t)snprintf(r->text, sizeof(r->text),
		    "%d%s%s", code, *text ? " " : "", text);
		if (c->reply_len >= sizeof(r->text))
			c->reply_len = sizeof(r->text) - 1;
	} else {
		if (code != r->code)
			return -1;
		if (c->state == C_EHLO)
			client_ehlo_line(c, text);
		/* Drop a repeated enhanced code from continuation lines. */
		if (r->esc[0] != '\0' && strncmp(text, r->esc,
		    strlen(r->esc)) == 0 && text[strlen(r->esc)] == ' ')
			text += strlen(r->esc) + 1;
		tl = strlen(text);
		room = sizeof(r->text) - 1 - c->reply_len;
		if (room > 1 && tl > 0) {
			r->text[c->reply_len++] = ' ';
			room--;
			if (tl > room)
				tl = room;
			memcpy(r->text + c->reply_len, text, tl);
			c->reply_len += tl;
			r->text[c->reply_len] = '\0';
		}
	}
	if (++c->reply_lines > REPLY_MAX_LINES)
		return -1;
	if (!last)
		return 0;
	c->reply_lines = 0;
	return 1;
}

/*
 * With read-ahead (tls/tls_client.c) one read(2) can bring OpenSSL several
 * records. bufferevent_openssl stops at SSL_pending(), which counts only
 * the record being decoded, and the socket will not signal the rest: so
 * when the input holds no complete line, pull the next buffered record
 * ourselves (SSL_has_pending()). True if octets were added. A TLS error
 * or close_notify is reported as libevent would (the client may be dead
 * then); "want read/write" only means nothing is buffered.
 */
static bool
client_tls_pull(struct smtp_client *c, struct evbuffer *in)
{
	char buf[4096];
	SSL *ssl;
	int n;

	if (!c->tls_bev || (ssl = bufferevent_openssl_get_ssl(c->bev)) == NULL ||
	    !SSL_has_pending(ssl))
		return false;
	ERR_clear_error();
	if ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) {
		evbuffer_add(in, buf, (size_t)n);
		return true;
	}
	switch (SSL_get_error(ssl, n)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		break;
	case SSL_ERROR_ZERO_RETURN:
		client_eventcb(c->bev, BEV_EVENT_READING | BEV_EVENT_EOF, c);
		break;
	default:
		errno = EPROTO;
		client_eventcb(c->bev, BEV_EVENT_READING | BEV_EVENT_ERROR, c);
		break;
	}
	ERR_clear_error();
	return false;
}

static void
client_readcb(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr eol;
	char line[LINE_MAX_LEN + 1];
	size_t eol_len, n;
	int r;

	c->busy++;
	while (!c->dead && c->state != C_HANDSHAKE) {
		eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
		if (eol.pos < 0 && evbuffer_get_length(in) <= LINE_MAX_LEN &&
		    client_tls_pull(c, in))
			continue;
		if (eol.pos < 0) {
			if (c->dead)
				break;
			if (evbuffer_get_length(in) > LINE_MAX_LEN)
				client_fail(c, SMTP_FAIL_PROTO, NULL, TLSRPT_NONE,
				    false, false, "reply line too long after %s",
				    smtp_stage_name(c->stage));
			break;
		}
		if ((size_t)eol.pos > LINE_MAX_LEN) {
			client_fail(c, SMTP_FAIL_PROTO, NULL, TLSRPT_NONE, false,
			    false, "reply line too long after %s",
			    smtp_stage_name(c->stage));
			break;
		}
		n = (size_t)eol.pos;
		evbuffer_remove(in, line, n);
		evbuffer_drain(in, eol_len);
		line[n] = '\0';
		if (memchr(line, '\0', n) != NULL) {
			client_fail(c, SMTP_FAIL_PROTO, NULL, TLSRPT_NONE, false,
			    false, "NUL in reply after %s",
			    smtp_stage_name(c->stage));
			break;
		}
		if (c->state == C_IDLE || c->state == C_CONTENT ||
		    c->state == C_CONNECTING) {
			/* Nothing asked: only a 421 shutdown is legitimate. */
			if (strncmp(line, "421", 3) == 0 && (n == 3 ||
			    line[3] == ' ')) {
				c->reply_lines = 0;
				client_reply_line(c, line, n);
				client_event(c, SMTP_EV_REPLY, &c->reply, false,
				    TLSRPT_NONE, NULL);
				if (c->state == C_CONTENT) {
					/* treat as the end of the transaction */
					client_fail(c, SMTP_FAIL_LOST, &c->reply,
					    TLSRPT_NONE, false, false,
					    "server shut down during %s",
					    smtp_stage_name(c->stage));
				} else
					client_fail(c, SMTP_FAIL_LOST, &c->reply,
					    TLSRPT_NONE, false, false,
					    "server shut down an idle connection");
			} else
				client_fail(c, SMTP_FAIL_PROTO, NULL,
				    TLSRPT_NONE, false, false,
				    "unexpected reply while %s",
				    c->state == C_IDLE ? "idle" :
				    "sending content");
			break;
		}
		r = client_reply_line(c, line, n);
		if (r == -1) {
			client_fail(c, SMTP_FAIL_PROTO, NULL, TLSRPT_NONE,
			    c->state != C_GREETING, false,
			    "malformed reply after %s",
			    smtp_stage_name(c->stage));
			break;
		}
		if (r == 1) {
			client_event(c, SMTP_EV_REPLY, &c->reply, false,
			    TLSRPT_NONE, NULL);
			if (!c->dead)
				client_reply(c);
			/* Pipelined replies: each one gets the full time. */
			if (!c->dead && c->deadline_secs != 0 &&
			    c->state != C_HANDSHAKE) {
				struct timeval t;

				evtimer_add(c->ev_deadline,
				    tv(&t, c->deadline_secs));
			}
		}
	}
	if (--c->busy == 0 && c->dead)
		client_destroy(c);
}

/* --- session set-up --- */

static void
client_ehlo(struct smtp_client *c)
{
	c->state = C_EHLO;
	c->stage = SMTP_STAGE_EHLO;
	c->ext = 0;
	c->size_limit = 0;
	client_send(c, "EHLO %s", c->helo);
	client_timeouts(c, c->t_command, c->t_command);
}

static bool
client_tls_wanted(const struct smtp_client *c)
{
	return c->sec->level != TLS_LEVEL_NONE && !c->tls_bev;
}

static bool
client_tls_required(const struct smtp_client *c)
{
	return c->sec->level == TLS_LEVEL_ENCRYPT ||
	    c->sec->level == TLS_LEVEL_DANE;
}

static void
client_ready(struct smtp_client *c)
{
	c->state = C_IDLE;
	c->stage = SMTP_STAGE_IDLE;
	client_timeouts(c, 0, c->t_command);
	c->cb.ready(c->arg);
}

/* No TLS to be had (no STARTTLS, or it was refused with reply r). */
static void
client_no_tls(struct smtp_client *c, const struct smtp_reply *r)
{
	const char *why = r ? "STARTTLS refused" : "STARTTLS not offered";

	if (client_tls_required(c) && !c->sec->test_mode) {
		client_fail(c, SMTP_FAIL_STARTTLS_MISSING, r,
		    TLSRPT_STARTTLS_NOT_SUPPORTED, true, false,
		    "TLS is required, but %s by host %s%s", r ? "STARTTLS was refused" :
		    "STARTTLS was not offered", c->host, c->addr);
		return;
	}
	client_event(c, SMTP_EV_TLS_SKIPPED, r, false,
	    TLSRPT_STARTTLS_NOT_SUPPORTED, why);
	if (!c->dead)
		client_ready(c);
}

static void
client_starttls(struct smtp_client *c)
{
	char err[TLS_ERR_MAX];
	struct dane_counts counts;
	struct bufferevent *nb;
	SSL *ssl;

	if (evbuffer_get_length(bufferevent_get_input(c->bev)) != 0) {
		/* CVE-2011-0411 in reverse: bytes after the 220 were not
		 * protected by TLS and must not be taken as replies. */
		client_fail(c, SMTP_FAIL_PROTO, NULL, TLSRPT_NONE, false,
		    false, "unexpected data after the STARTTLS reply");
		return;
	}
	ssl = tls_client_ssl_new(c->tls, c->sec, c->peer, &counts, err,
	    sizeof(err));
	if (ssl == NULL) {
		client_fail(c, SMTP_FAIL_TLS, NULL, TLSRPT_VALIDATION_FAILURE,
		    true, false, "TLS setup for %s%s: %s", c->host, c->addr, err);
		return;
	}
	/* Detach the fd from the plain bev first, so that freeing it
	 * does not close the fd the TLS bev takes over. */
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_setfd(c->bev, -1);
	bufferevent_free(c->bev);
	c->bev = NULL;
	nb = bufferevent_openssl_socket_new(c->base, c->fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (nb == NULL) {
		/* libevent freed ssl (BEV_OPT_CLOSE_ON_FREE) and may have
		 * closed fd: leaking it beats closing a reused number. */
		c->fd = -1;
		client_fail(c, SMTP_FAIL_TLS, NULL, TLSRPT_VALIDATION_FAILURE,
		    false, false, "TLS setup for %s%s: out of memory", c->host,
		    c->addr);
		return;
	}
	c->bev = nb;
	c->tls_bev = true;	/* nb owns fd and ssl now */
	bufferevent_openssl_set_allow_dirty_shutdown(nb, 1);
	bufferevent_setcb(nb, client_readcb, client_writecb, client_eventcb, c);
	c->state = C_HANDSHAKE;
	c->stage = SMTP_STAGE_TLS;
	client_timeouts(c, c->t_command, c->t_command);
	bufferevent_enable(nb, EV_READ | EV_WRITE);
	(void)evio_handshake_soon(nb);
}

static void
client_handshake_done(struct smtp_client *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	bool ok;

	if (c->tlsr == NULL)
		c->tlsr = xmalloc(sizeof(*c->tlsr));
	ok = tls_client_verify(ssl, c->tlsr);
	client_event(c, SMTP_EV_TLS, NULL, ok, ok ? TLSRPT_NONE :
	    c->tlsr->dane.rpt, NULL);
	if (c->dead)
		return;
	if (!ok && !c->sec->test_mode) {
		client_fail(c, SMTP_FAIL_DANE, NULL, c->tlsr->dane.rpt, true,
		    false, "%s", c->tlsr->dane.reason);
		return;
	}
	c->after_tls = true;
	client_ehlo(c);
}

static void
client_handshake_error(struct smtp_client *c, short what)
{
	char err[TLS_ERR_MAX] = "";
	unsigned long e, first = 0;
	const char *reason;

	while ((e = bufferevent_get_openssl_error(c->bev)) != 0)
		if (first == 0)
			first = e;
	ERR_clear_error();
	if (first != 0 && (reason = ERR_reason_error_string(first)) != NULL)
		str_copy(err, reason, sizeof(err));
	else if (what & BEV_EVENT_TIMEOUT)
		str_copy(err, "timed out", sizeof(err));
	else if (what & BEV_EVENT_EOF)
		str_copy(err, "connection closed by peer", sizeof(err));
	else if (errno != 0)
		str_copy(err, strerror(errno), sizeof(err));
	else
		str_copy(err, "handshake failed", sizeof(err));
	client_fail(c, SMTP_FAIL_TLS, NULL, TLSRPT_VALIDATION_FAILURE, false,
	    (what & BEV_EVENT_TIMEOUT) != 0,
	    "TLS handshake with %s%s failed: %s", c->host, c->addr, err);
}

/* --- transactions --- */

static void
client_send_mail(struct smtp_client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out, "MAIL FROM:<%s>", c->msg.sender);
	if (c->ext & SMTP_EXT_SIZE)
		evbuffer_add_printf(out, " SIZE=%llu",
		    (unsigned long long)c->msg.size);
	if (c->send_8bit)
		evbuffer_add_printf(out, " BODY=8BITMIME");
	if (c->send_utf8)
		evbuffer_add_printf(out, " SMTPUTF8");
	evbuffer_add(out, "\r\n", 2);
	client_push(c);
	c->mail_sent = true;
	c->stage = SMTP_STAGE_MAIL;
}

static void
client_send_rcpt(struct smtp_client *c)
{
	client_send(c, "RCPT TO:<%s>", c->msg.rcpts[c->rcpt_sent]);
	c->rcpt_sent++;
}

static void
client_send_data(struct smtp_client *c)
{
	client_send(c, "DATA");
	c->data_sent = true;
}

/* Non-pipelined: the next command once the previous reply is in. */
static void
client_advance(struct smtp_client *c)
{
	if (c->ext & SMTP_EXT_PIPELINING || c->rset_pend)
		return;
	if (!c->mail_sent)
		client_send_mail(c);
	else if (!c->mail_ok || c->data_sent)
		return;
	else if (c->rcpt_sent < c->msg.nrcpts)
		client_send_rcpt(c);
	else if (c->naccepted > 0) {
		client_send_data(c);
		/* DATA initiation has its own limit (RFC 5321 4.5.3.2.4) */
		client_timeouts(c, c->t_data, c->t_command);
	}
}

static bool
client_xact_pending(const struct smtp_client *c)
{
	if (c->state == C_CONTENT)
		return true;
	if (c->rset_pend || (c->mail_sent && !c->mail_acked) ||
	    c->rcpt_acked < c->rcpt_sent || (c->data_sent && !c->data_acked) ||
	    (c->dot_sent && !c->dot_acked))
		return true;
	return false;
}

/* The transaction is over and nothing is in flight: done(), then idle. */
static void
client_xact_end(struct smtp_client *c)
{
	struct smtp_msg_result mr;
	struct smtp_reply last;

	/* A copy: the callback may start the next message, which resets
	 * the transaction state the reply lives in. */
	memset(&mr, 0, sizeof(mr));
	if (c->xact_refused && c->xact_reply != NULL) {
		mr.fail = c->xact_fail;
		mr.stage = c->xact_stage;
		last = *c->xact_reply;
	} else {
		mr.fail = SMTP_FAIL_NONE;
		mr.stage = c->dot_acked ? SMTP_STAGE_DOT : SMTP_STAGE_RCPT;
		last = c->reply;
	}
	mr.reply = &last;
	mr.accepted = c->ndelivered;
	c->state = C_IDLE;
	c->stage = SMTP_STAGE_IDLE;
	client_timeouts(c, 0, c->t_command);
	c->nmsgs++;
	c->cb.done(c->arg, &mr);
	if (!c->dead && c->state == C_IDLE && c->rstate != NULL) {
		/* the callback did not start another message */
		client_xact_reset(c);
	}
}

static void
client_content_start(struct smtp_client *c)
{
	c->state = C_CONTENT;
	c->stage = SMTP_STAGE_CONTENT;
	c->at_bol = true;
	c->prev_cr = false;
	c->col = 0;
	c->content_eof = false;
	/* no reply is due while we send; each block has data_timeout */
	client_timeouts(c, 0, c->t_data);
	bufferevent_setwatermark(c->bev, EV_WRITE, CONTENT_LOW, 0);
	client_content_fill(c);
}

/*
 * Dot-stuff and CRLF-normalise in[0..n) into out (room for 2n+2 bytes):
 * a bare LF becomes CRLF; a "." at the start of a line is doubled; a
 * line longer than 998 octets is broken by inserting CRLF SPACE, as
 * Postfix's smtp_line_length_limit does, so that no server sees a line
 * over the RFC 5321 4.5.3.1.6 limit (our inbound side refuses such lines:
 * only our own bounces could carry one, and relay/dsn.c folds those).
 */
static size_t
client_stuff(struct smtp_client *c, const unsigned char *in, size_t n,
    unsigned char *out)
{
	const unsigned char *p = in, *end = in + n, *nl;
	unsigned char *o = out;
	size_t seg, take;

	while (p < end) {
		if (c->at_bol && *p == '.')
			*o++ = '.';
		nl = memchr(p, '\n', (size_t)(end - p));
		seg = nl ? (size_t)(nl - p) : (size_t)(end - p);
		while (seg > 0) {
			if (c->col >= TEXT_LINE_MAX &&
			    !(seg == 1 && *p == '\r')) {
				/* the CR of a CRLF goes through unbroken */
				memcpy(o, "\r\n ", 3);
				o += 3;
				c->col = 1;
			}
			take = c->col < TEXT_LINE_MAX ?
			    TEXT_LINE_MAX - c->col : 1;
			if (take > seg)
				take = seg;
			memcpy(o, p, take);
			o += take;
			c->col += take;
			c->prev_cr = p[take - 1] == '\r';
			c->at_bol = false;
			p += take;
			seg -= take;
		}
		if (nl != NULL) {
			if (!c->prev_cr)
				*o++ = '\r';
			*o++ = '\n';
			p++;
			c->at_bol = true;
			c->prev_cr = false;
			c->col = 0;
		}
	}
	return (size_t)(o - out);
}

static void
client_content_fill(struct smtp_client *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct evbuffer_iovec iov;
	ssize_t n;
	int e;

	while (!c->content_eof && evbuffer_get_length(out) < CONTENT_HIGH) {
		n = read(c->msg.fd, content_buf, sizeof(content_buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			e = errno;
			/* Do not end DATA: an unterminated transaction is
			 * discarded by the server when we drop the line. */
			client_fail(c, SMTP_FAIL_LOST, NULL, TLSRPT_NONE, false,
			    false, "error reading the queue file: %s",
			    strerror(e));
			return;
		}
		if (n == 0) {
			c->content_eof = true;
			if (!c->at_bol)
				evbuffer_add(out, "\r\n", 2);
			evbuffer_add(out, ".\r\n", 3);
			c->dot_sent = true;
			c->state = C_XACT;
			c->stage = SMTP_STAGE_DOT;
			bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
			client_timeouts(c, c->t_data_done, c->t_data);
			client_push(c);
			return;
		}
		if (evbuffer_reserve_space(out, (ev_ssize_t)(2 * (size_t)n + 2),
		    &iov, 1) < 1) {
			client_fail(c, SMTP_FAIL_LOST, NULL, TLSRPT_NONE, false,
			    false, "out of memory sending content");
			return;
		}
		iov.iov_len = client_stuff(c, content_buf, (size_t)n,
		    iov.iov_base);
		evbuffer_commit_space(out, &iov, 1);
	}
	client_push(c);
}

static void
client_writecb(struct bufferevent *bev, void *arg)
{
	struct smtp_client *c = arg;

	c->busy++;
	if (c->state == C_CONTENT && !c->dead)
		client_content_fill(c);
	if (--c->busy == 0 && c->dead)
		client_destroy(c);
}

static bool
str_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/*
 * Fit the message to what the server offers, or refuse it locally (-1,
 * reply in r). SMTPUTF8 without the extension: an all-ASCII envelope and
 * header goes without it (RFC 6531 3.4; Postfix's smtputf8_autodetect);
 * anything else is 5.6.7. 8-bit content without 8BITMIME: converted to
 * 7 bit (relay/mime7bit.c), or 5.6.3 where MIME allows no conversion
 * (RFC 6152 3). An SMTPUTF8 message may carry 8-bit content undeclared.
 */
static int
client_prepare(struct smtp_client *c, struct smtp_reply *r)
{
	struct smtp_client_msg *m = &c->msg;
	bool eight = (m->flags & (ENV_8BITMIME | ENV_SMTPUTF8)) != 0;
	char why[200] = "";
	enum m7_result res;
	uint64_t size;
	size_t i;
	int fd;

	c->send_utf8 = (m->flags & ENV_SMTPUTF8) != 0;
	if (c->send_utf8 && !(c->ext & SMTP_EXT_SMTPUTF8)) {
		bool ascii = str_ascii(m->sender);

		for (i = 0; i < m->nrcpts && ascii; i++)
			ascii = str_ascii(m->rcpts[i]);
		res = ascii ? mime7bit_fd(m->fd, false, &fd, &size, why,
		    sizeof(why)) : M7_HEADER_8BIT;
		if (res == M7_ERROR) {
			client_local_reply(r, "4.3.0", "cannot read the "
			    "message: %s", why);
			return -1;
		}
		if (res == M7_HEADER_8BIT) {
			client_local_reply(r, "5.6.7", "SMTPUTF8 is required "
			    "(%s), but was not offered by host %s%s",
			    ascii ? "non-ASCII message header" :
			    "non-ASCII address", c->host, c->addr);
			return -1;
		}
		c->send_utf8 = false;
		str_copy(c->note, "ASCII envelope and headers sent without "
		    "SMTPUTF8", sizeof(c->note));
	}
	c->send_8bit = eight && (c->ext & SMTP_EXT_8BITMIME);
	if (!eight || (c->ext & SMTP_EXT_8BITMIME))
		return 0;
	res = mime7bit_fd(m->fd, true, &fd, &size, why, sizeof(why));
	switch (res) {
	case M7_ASCII:
		return 0;
	case M7_CONVERTED:
		c->conv_fd = fd;
		m->fd = fd;
		m->size = size;
		snprintf(c->note + strlen(c->note), sizeof(c->note) -
		    strlen(c->note), "%s8-bit content converted to 7 bit "
		    "(quoted-printable)", c->note[0] ? "; " : "");
		return 0;
	case M7_HEADER_8BIT:
	case M7_UNCONVERTIBLE:
		client_local_reply(r, "5.6.3", "host %s%s does not offer "
		    "8BITMIME and the message cannot be converted to 7 bit: %s",
		    c->host, c->addr, why);
		return -1;
	case M7_ERROR:
		break;
	}
	client_local_reply(r, "4.3.0", "cannot convert the message to 7 bit: "
	    "%s", why);
	return -1;
}

int
smtp_client_send(struct smtp_client *c, const struct smtp_client_msg *m)
{
	struct smtp_reply r;
	size_t i;
	bool first;

	if (c->dead || c->closing || c->state != C_IDLE ||
	    c->defer != DEF_NONE || m->nrcpts == 0) {
		errno = m->nrcpts == 0 ? EINVAL : c->closing ? EPIPE : EBUSY;
		return -1;
	}
	first = c->nmsgs == 0;
	client_xact_reset(c);
	c->msg = *m;
	c->rstate = xcalloc(m->nrcpts, 1);
	c->state = C_XACT;
	c->stage = SMTP_STAGE_MAIL;

	/* Refusals we can make without asking (Postfix does the same). */
	if (client_prepare(c, &r) == -1) {
		client_refuse(c, SMTP_STAGE_MAIL, &r);
		client_defer(c, DEF_LOCAL_REFUSAL);
		return 0;
	}
	if ((c->ext & SMTP_EXT_SIZE) && c->size_limit > 0 &&
	    c->msg.size > c->size_limit) {
		client_local_reply(&r, "5.3.4", "message size %llu exceeds "
		    "size limit %llu of host %s%s",
		    (unsigned long long)c->msg.size,
		    (unsigned long long)c->size_limit, c->host, c->addr);
		client_refuse(c, SMTP_STAGE_MAIL, &r);
		client_defer(c, DEF_LOCAL_REFUSAL);
		return 0;
	}
	client_timeouts(c, c->t_command, c->t_command);
	if (!first) {
		client_send(c, "RSET");
		c->rset_pend = true;
		c->stage = SMTP_STAGE_RSET;
	}
	if (c->ext & SMTP_EXT_PIPELINING) {
		/* One write: [RSET] MAIL, every RCPT, DATA (RFC 2920). */
		client_send_mail(c);
		if (!first)
			c->stage = SMTP_STAGE_RSET;
		for (i = 0; i < m->nrcpts; i++)
			client_send_rcpt(c);
		client_send_data(c);
	} else if (first)
		client_send_mail(c);
	return 0;
}

/* A reply in a transaction; the two cursors say which command it answers. */
static void
client_xact_reply(struct smtp_client *c)
{
	struct smtp_reply *r = &c->reply;
	int cls = r->code / 100;
	size_t idx;

	if (c->rset_pend) {
		c->rset_pend = false;
		c->stage = SMTP_STAGE_MAIL;
		if (cls != 2) {
			client_fail(c, r->code == 421 ? SMTP_FAIL_LOST :
			    SMTP_FAIL_PROTO, r, TLSRPT_NONE, r->code != 421,
			    false, "RSET refused");
			return;
		}
		if (!c->mail_sent)
			client_send_mail(c);
		goto next;
	}
	if (c->mail_sent && !c->mail_acked) {
		c->mail_acked = true;
		if (c->note[0] != '\0') {
			/* from the loop, not from smtp_client_send() */
			client_event(c, SMTP_EV_DOWNGRADE, NULL, false,
			    TLSRPT_NONE, c->note);
			c->note[0] = '\0';
			if (c->dead)
				return;
		}
		c->mail_ok = cls == 2;
		c->stage = SMTP_STAGE_RCPT;
		if (!c->mail_ok) {
			client_refuse(c, SMTP_STAGE_MAIL, r);
			client_rcpt_all(c, SMTP_STAGE_MAIL, r, false);
		}
		goto next;
	}
	if (c->rcpt_acked < c->rcpt_sent) {
		idx = c->rcpt_acked++;
		if (!c->mail_ok)
			goto next;	/* answered already by MAIL's refusal */
		if (cls == 2) {
			c->rstate[idx] = R_ACCEPTED;
			c->naccepted++;
		} else
			client_rcpt(c, idx, SMTP_STAGE_RCPT, r);
		if (c->rcpt_acked == c->msg.nrcpts) {
			c->stage = SMTP_STAGE_DATA;
			/* the pipelined DATA reply is next: its own limit,
			 * armed by client_readcb after this reply */
			if (c->data_sent && c->deadline_secs != 0)
				c->deadline_secs = c->t_data;
		}
		goto next;
	}
	if (c->data_sent && !c->data_acked) {
		c->data_acked = true;
		if (r->code == 354) {
			if (!c->mail_ok || c->naccepted == 0) {
				/* Pipelined DATA accepted with no valid
				 * recipient: end it empty (RFC 2920 3.1). */
				client_send(c, ".");
				c->dot_sent = true;
				c->stage = SMTP_STAGE_DOT;
				client_timeouts(c, c->t_data_done, c->t_command);
				return;
			}
			client_content_start(c);
			return;
		}
		if (cls == 2 || cls == 3) {
			client_fail(c, SMTP_FAIL_PROTO, r, TLSRPT_NONE, false,
			    false, "unexpected reply to DATA");
			return;
		}
		if (c->mail_ok && c->naccepted > 0) {
			client_refuse(c, SMTP_STAGE_DATA, r);
			client_rcpt_all(c, SMTP_STAGE_DATA, r, true);
		}
		goto next;
	}
	if (c->dot_sent && !c->dot_acked) {
		c->dot_acked = true;
		if (c->mail_ok && c->naccepted > 0) {
			if (cls != 2)
				client_refuse(c, SMTP_STAGE_DOT, r);
			client_rcpt_all(c, SMTP_STAGE_DOT, r, true);
		}
		goto next;
	}
	client_fail(c, SMTP_FAIL_PROTO, r, TLSRPT_NONE, false, false,
	    "unexpected reply after %s", smtp_stage_name(c->stage));
	return;
next:
	if (c->dead)
		return;
	if (r->code == 421) {
		/* The server is going away: whatever is unanswered shares
		 * this reply; the connection is over after done(). */
		struct smtp_reply r421 = *r;
		enum smtp_stage st = c->stage;

		c->closing = true;
		client_refuse(c, st, &r421);
		client_rcpt_all(c, st, &r421, false);
		if (!c->dead)
			client_xact_end(c);
		if (!c->dead) {
			c->stage = st;
			client_fail(c, SMTP_FAIL_LOST, &r421, TLSRPT_NONE, false,
			    false, "server shut down the connection");
		}
		return;
	}
	client_advance(c);
	if (!client_xact_pending(c)) {
		/* Non-pipelined MAIL refusal or no recipient accepted:
		 * unresolved recipients cannot remain here. */
		client_xact_end(c);
	}
}

static void
client_reply(struct smtp_client *c)
{
	struct smtp_reply *r = &c->reply;
	int cls = r->code / 100;

	switch (c->state) {
	case C_GREETING:
		if (r->code != 220) {
			client_fail(c, SMTP_FAIL_GREETING, r, TLSRPT_NONE,
			    r->code != 421, false,
			    "host %s%s refused to talk to me", c->host, c->addr);
			return;
		}
		client_ehlo(c);
		return;
	case C_EHLO:
		if (cls == 2) {
			/* the first line is the server's name, not a keyword */
			c->ext |= SMTP_EXT_ESMTP;
			goto session;
		}
		if (r->code == 421) {
			client_fail(c, SMTP_FAIL_HELO, r, TLSRPT_NONE, false,
			    false, "host %s%s refused EHLO", c->host, c->addr);
			return;
		}
		c->state = C_HELO;
		c->ext = 0;
		client_send(c, "HELO %s", c->helo);
		client_timeouts(c, c->t_command, c->t_command);
		return;
	case C_HELO:
		if (cls != 2) {
			client_fail(c, SMTP_FAIL_HELO, r, TLSRPT_NONE,
			    r->code != 421, false,
			    "host %s%s refused EHLO and HELO", c->host, c->addr);
			return;
		}
		goto session;
	case C_STARTTLS:
		if (r->code == 220) {
			client_starttls(c);
			return;
		}
		if (r->code == 421) {
			client_fail(c, SMTP_FAIL_LOST, r, TLSRPT_NONE, false,
			    false, "server shut down the connection");
			return;
		}
		client_no_tls(c, r);
		return;
	case C_XACT:
		client_xact_reply(c);
		return;
	case C_QUIT:
		client_fail(c, SMTP_FAIL_NONE, r, TLSRPT_NONE, false, false,
		    "QUIT");
		return;
	default:
		client_fail(c, SMTP_FAIL_PROTO, r, TLSRPT_NONE, false, false,
		    "unexpected reply after %s", smtp_stage_name(c->stage));
		return;
	}
session:
	if (client_tls_wanted(c) && !c->after_tls) {
		if (c->ext & SMTP_EXT_STARTTLS) {
			c->state = C_STARTTLS;
			c->stage = SMTP_STAGE_STARTTLS;
			client_send(c, "STARTTLS");
			client_timeouts(c, c->t_command, c->t_command);
			return;
		}
		client_no_tls(c, NULL);
		return;
	}
	client_ready(c);
}

void
smtp_client_quit(struct smtp_client *c)
{
	if (c->dead || c->state == C_QUIT)
		return;
	if (c->state == C_CONNECTING || c->state == C_HANDSHAKE ||
	    c->bev == NULL) {
		/* Nothing to say QUIT into: close, report from the loop. */
		c->stage = SMTP_STAGE_QUIT;
		c->state = C_QUIT;
		if (c->bev != NULL)
			bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		client_defer(c, DEF_QUIT);
		return;
	}
	client_send(c, "QUIT");
	c->state = C_QUIT;
	c->stage = SMTP_STAGE_QUIT;
	client_timeouts(c, c->t_command, c->t_command);
}

static void
client_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_client *c = arg;
	int e = errno;
	socklen_t elen;

	c->busy++;
	if (c->dead)
		goto out;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state == C_CONNECTING) {
			c->state = C_GREETING;
			c->stage = SMTP_STAGE_GREETING;
			/* asked for every message sent over this connection */
			if (client_sockname(c->fd, c->local, sizeof(c->local)) == -1)
				c->local[0] = '\0';
			client_timeouts(c, c->t_greeting, c->t_command);
			bufferevent_enable(c->bev, EV_READ | EV_WRITE);
			client_event(c, SMTP_EV_CONNECTED, NULL, false,
			    TLSRPT_NONE, c->addr);
		} else if (c->state == C_HANDSHAKE)
			client_handshake_done(c);
		goto out;
	}
	if (c->state == C_CONNECTING) {
		if (what & BEV_EVENT_TIMEOUT) {
			client_fail(c, SMTP_FAIL_CONNECT, NULL, TLSRPT_NONE,
			    false, true, "connect to %s%s: timed out", c->host,
			    c->addr);
			goto out;
		}
		elen = sizeof(e);
		if (e == 0 || e == EINPROGRESS)
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &elen);
		client_fail(c, SMTP_FAIL_CONNECT, NULL, TLSRPT_NONE, false,
		    false, "connect to %s%s: %s", c->host, c->addr,
		    e ? strerror(e) : "connection failed");
		goto out;
	}
	if (c->state == C_HANDSHAKE) {
		client_handshake_error(c, what);
		goto out;
	}
	if (c->state == C_QUIT) {
		client_fail(c, SMTP_FAIL_NONE, NULL, TLSRPT_NONE, false,
		    (what & BEV_EVENT_TIMEOUT) != 0, "QUIT");
		goto out;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		char dl[64] = "";

		if (c->deadline_hit)
			snprintf(dl, sizeof(dl), " (no complete reply within "
			    "%us)", c->deadline_secs);
		client_fail(c, c->state == C_GREETING ? SMTP_FAIL_GREETING :
		    SMTP_FAIL_LOST, NULL, TLSRPT_NONE, false, true,
		    "timeout after %s with %s%s%s", smtp_stage_name(c->stage),
		    c->host, c->addr, dl);
	} else if (what & BEV_EVENT_EOF) {
		client_fail(c, c->state == C_GREETING ? SMTP_FAIL_GREETING :
		    SMTP_FAIL_LOST, NULL, TLSRPT_NONE, false, false,
		    "lost connection with %s%s after %s", c->host, c->addr,
		    smtp_stage_name(c->stage));
	} else {
		client_fail(c, c->state == C_GREETING ? SMTP_FAIL_GREETING :
		    SMTP_FAIL_LOST, NULL, TLSRPT_NONE, false, false,
		    "lost connection with %s%s after %s: %s", c->host, c->addr,
		    smtp_stage_name(c->stage), e ? strerror(e) : "I/O error");
	}
out:
	if (--c->busy == 0 && c->dead)
		client_destroy(c);
}

unsigned
smtp_client_ext(const struct smtp_client *c)
{
	return c->ext;
}

const struct tls_result *
smtp_client_tls(const struct smtp_client *c)
{
	return c->tls_bev ? c->tlsr : NULL;
}

SSL *
smtp_client_ssl(const struct smtp_client *c)
{
	return c->tls_bev && c->bev != NULL ?
	    bufferevent_openssl_get_ssl(c->bev) : NULL;
}

enum smtp_stage
smtp_client_stage(const struct smtp_client *c)
{
	return c->stage;
}

unsigned
smtp_client_messages(const struct smtp_client *c)
{
	return c->nmsgs;
}

void
smtp_client_key(const struct smtp_client *c, unsigned char key[TLS_KEY_LEN])
{
	tls_secctx_key(c->sec, c->peer, key);
}

/* Our address on fd, as text. 0, or -1. */
static int
client_sockname(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const void *a;

	if (fd == -1 || getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		return -1;
	if (ss.ss_family == AF_INET)
		a = &((struct sockaddr_in *)&ss)->sin_addr;
	else if (ss.ss_family == AF_INET6)
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	else
		return -1;
	return inet_ntop(ss.ss_family, a, buf, (socklen_t)len) == NULL ? -1 : 0;
}

int
smtp_client_local_addr(const struct smtp_client *c, char *buf, size_t len)
{
	if (c->local[0] != '\0') {
		if (strlen(c->local) >= len)
			return -1;
		memcpy(buf, c->local, strlen(c->local) + 1);
		return 0;
	}
	return client_sockname(c->fd, buf, len);
}
