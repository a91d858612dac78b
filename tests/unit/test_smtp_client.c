/*
 * tests/unit/test_smtp_client.c - relay/smtp_client.c end to end against a
 * real SMTP server on 127.0.0.1 (an ephemeral port): a scriptable server
 * in a thread of this binary (blocking sockets, OpenSSL for STARTTLS)
 * that records what the client sent, checks pipelining from its side,
 * and answers banner, EHLO, RCPT, DATA and "." as each scenario wants.
 * The client runs on a libevent loop in the main thread, as in the
 * daemon. Certificates are made here with the OpenSSL API.
 *
 * Optional mode for e2e scripts:
 *   [COUNT=m] [CONNS=n] test_smtp_client send HOST PORT LEVEL FROM TO... < msg
 * delivers the message m times per connection over n connections made one
 * after the other (LEVEL none|may|encrypt; one TLS session cache), and
 * prints each event, recipient result and close as lines on stdout.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/smtp_client.h"
#include "relay/util.h"
#include "tls/dane.h"
#include "tls/tls.h"
#include "tls/tls_client.h"
#include "queue/queue.h"
#include "tests/unit/check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* ------------------------------------------------------------------ */
/* certificates */

static EVP_PKEY *srv_key, *other_key;
static X509 *srv_cert;

static X509 *
mkcert(EVP_PKEY *k, const char *cn, long to)
{
	X509 *x = X509_new();
	X509_NAME *n;
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	char san[300];

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	snprintf(san, sizeof(san), "DNS:%s", cn);
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	X509_sign(x, k, EVP_sha256());
	return x;
}

static size_t
spki_sha256(X509 *x, unsigned char *out)
{
	unsigned char *der = NULL;
	unsigned int len = 0;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);

	EVP_Digest(der, (size_t)n, out, &len, EVP_sha256(), NULL);
	OPENSSL_free(der);
	return len;
}

static SSL_CTX *
srv_tls_ctx(int maxver)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (maxver)
		SSL_CTX_set_max_proto_version(ctx, maxver);
	SSL_CTX_use_certificate(ctx, srv_cert);
	SSL_CTX_use_PrivateKey(ctx, srv_key);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"t", 1);
	return ctx;
}

/* ------------------------------------------------------------------ */
/* the scriptable server */

#define MAXMSG	8

struct srv_opts {
	const char	*banner;	/* default "220 mx.test ESMTP" */
	bool		 no_banner;	/* never greet */
	bool		 ehlo_502;	/* EHLO -> 502, HELO -> 250 */
	bool		 pipelining;
	bool		 smtputf8;
	bool		 eightbit;
	unsigned long	 size_limit;	/* SIZE n, 0: no SIZE */
	SSL_CTX		*tls;		/* STARTTLS offered when set */
	const char	*mail_reply;
	const char	*data_reply;
	const char	*dot_reply;	/* "%d" gets the message number */
	bool		 drop_after_rcpt;	/* close after the first RCPT reply */
	const char	*raw_ehlo;	/* replace the whole EHLO reply */
	int		 nconns;	/* connections to serve (default 1) */
	bool		 trickle_banner;	/* the banner one byte per 300 ms */
	bool		 trickle_dot;	/* the reply to "." one byte per 300 ms */
	int		 records;	/* TLS replies: see sc_flush() */
};

struct srv_rec {
	int		 conns;
	int		 msgs;
	char		*data[MAXMSG];
	size_t		 datalen[MAXMSG];
	char		 cmds[16384];	/* "CMD|CMD|..." as received (TLS marked "<TLS>") */
	int		 violations;	/* pipelining rule broken by the client */
	int		 tls_resumed;	/* server-side resumed handshakes */
	int		 tls_done;
	int		 close_notify;	/* TLS sessions the client closed cleanly */
};

struct srv {
	int		 lfd;
	unsigned	 port;
	pthread_t	 th;
	struct srv_opts	 o;
	struct srv_rec	 r;
};

struct sconn {
	int		 fd;
	SSL		*ssl;
	char		 buf[65536];
	size_t		 len;
	int		 records;	/* srv_opts.records */
	bool		 hold;		/* sc_write() gathers into out */
	char		 out[16384];
	size_t		 outlen;
};

static void
rec_cmd(struct srv *s, const char *line)
{
	size_t n = strlen(s->r.cmds);

	snprintf(s->r.cmds + n, sizeof(s->r.cmds) - n, "%s%s", n ? "|" : "",
	    line);
}

/* More bytes waiting within ms? */
static bool
sc_readable(struct sconn *c, int ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	if (c->len > 0 || (c->ssl && SSL_pending(c->ssl) > 0))
		return true;
	return poll(&p, 1, ms) == 1;
}

static int
sc_fill(struct sconn *c, int ms)
{
	ssize_t n;

	if (!(c->ssl && SSL_pending(c->ssl) > 0) && !sc_readable(c, ms))
		return -1;
	if (c->ssl)
		n = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));
	else
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	if (n <= 0)
		return -1;
	c->len += (size_t)n;
	return 0;
}

/* One line without CRLF into line; -1 on EOF/timeout. */
static int
sc_line(struct sconn *c, char *line, size_t max, int ms)
{
	char *nl;
	size_t n;

	for (;;) {
		nl = memchr(c->buf, '\n', c->len);
		if (nl != NULL) {
			n = (size_t)(nl - c->buf);
			if (n > 0 && c->buf[n - 1] == '\r')
				n--;
			if (n >= max)
				n = max - 1;
			memcpy(line, c->buf, n);
			line[n] = '\0';
			n = (size_t)(nl - c->buf) + 1;
			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			return 0;
		}
		if (c->len == sizeof(c->buf) || sc_fill(c, ms) == -1)
			return -1;
	}
}

/*
 * Send what sc_write() gathered while c->hold, as records mode says:
 * 1: one TLS record for all of it (a pipelined group, a whole EHLO
 * reply); 2: one record per octet. Corked, so that the records leave in
 * one TCP segment and the client's one read(2) gets them all.
 */
static void
sc_flush(struct sconn *c)
{
	size_t i;
	int on = 1, off = 0;

	c->hold = false;
	if (c->outlen == 0)
		return;
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
	if (c->ssl == NULL) {
		if (write(c->fd, c->out, c->outlen) < 0)
			c->outlen = 0;
	} else if (c->records == 2) {
		for (i = 0; i < c->outlen; i++)
			SSL_write(c->ssl, c->out + i, 1);
	} else
		SSL_write(c->ssl, c->out, (int)c->outlen);
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
	c->outlen = 0;
}

/* Gather from now until sc_flush(), if the scenario shapes records. */
static void
sc_hold(struct sconn *c)
{
	c->hold = c->records != 0 && c->ssl != NULL;
}

static void
sc_write(struct sconn *c, const char *s)
{
	size_t len = strlen(s);

	if (c->hold && c->outlen + len <= sizeof(c->out)) {
		memcpy(c->out + c->outlen, s, len);
		c->outlen += len;
		return;
	}
	if (c->ssl)
		SSL_write(c->ssl, s, (int)len);
	else if (write(c->fd, s, len) < 0)
		return;
}

/* A line one byte at a time (a hostile server); stops when the client goes. */
static void
sc_trickle(struct sconn *c, const char *s)
{
	char line[512];
	size_t i;

	snprintf(line, sizeof(line), "%s\r\n", s);
	for (i = 0; line[i] != '\0'; i++) {
		if (write(c->fd, line + i, 1) != 1)
			return;
		usleep(300000);
	}
}

static void
sc_reply(struct sconn *c, const char *s)
{
	sc_write(c, s);
	sc_write(c, "\r\n");
}

static void
srv_ehlo(struct srv *s, struct sconn *c, bool tls_on)
{
	char b[1024];

	if (s->o.raw_ehlo) {
		sc_write(c, s->o.raw_ehlo);
		return;
	}
	sc_hold(c);
	snprintf(b, sizeof(b), "250-mx.test hello\r\n%s%s%s%s",
	    s->o.pipelining ? "250-PIPELINING\r\n" : "",
	    s->o.tls && !tls_on ? "250-STARTTLS\r\n" : "",
	    s->o.eightbit ? "250-8BITMIME\r\n" : "",
	    s->o.smtputf8 ? "250-SMTPUTF8\r\n" : "");
	sc_write(c, b);
	if (s->o.size_limit)
		snprintf(b, sizeof(b), "250-SIZE %lu\r\n250 ENHANCEDSTATUSCODES",
		    s->o.size_limit);
	else
		snprintf(b, sizeof(b), "250 ENHANCEDSTATUSCODES");
	sc_reply(c, b);
	sc_flush(c);
}

static const char *
srv_rcpt_reply(const char *line)
{
	const char *a = strchr(line, '<');

	if (a == NULL)
		return "501 5.1.3 bad address";
	a++;
	if (strncmp(a, "temp", 4) == 0)
		return "450 4.2.0 mailbox busy";
	if (strncmp(a, "perm", 4) == 0)
		return "550 5.1.1 user unknown";
	if (strncmp(a, "shut", 4) == 0)
		return "421 4.3.0 shutting down";
	return "250 2.1.5 Ok";
}

/* Read the message after 354 into the record, unstuffed. */
static int
srv_data(struct srv *s, struct sconn *c)
{
	char line[4096];
	size_t cap = 1 << 16, len = 0, n;
	char *d = malloc(cap);

	for (;;) {
		if (sc_line(c, line, sizeof(line), 5000) == -1) {
			free(d);
			return -1;
		}
		if (strcmp(line, ".") == 0)
			break;
		n = strlen(line);
		if (line[0] == '.') {
			memmove(line, line + 1, n);
			n--;
		}
		while (len + n + 3 > cap)
			d = realloc(d, cap *= 2);
		memcpy(d + len, line, n);
		len += n;
		memcpy(d + len, "\r\n", 2);
		len += 2;
	}
	d[len] = '\0';		/* datalen is the length; text tests read it as a string */
	if (s->r.msgs < MAXMSG) {
		s->r.data[s->r.msgs] = d;
		s->r.datalen[s->r.msgs] = len;
	} else
		free(d);
	return 0;
}

static void
srv_session(struct srv *s, int fd)
{
	struct sconn *c = calloc(1, sizeof(*c));
	char line[4096], b[256];
	bool tls_on = false, pipe_group = false;
	const char *grp[512];
	int ngrp = 0, i;

	c->fd = fd;
	c->records = s->o.records;
	if (s->o.no_banner) {
		sc_line(c, line, sizeof(line), 5000);	/* wait for the client to go */
		goto out;
	}
	if (s->o.trickle_banner)
		sc_trickle(c, "220 mx.test ESMTP slowly, one byte at a time");
	else
		sc_reply(c, s->o.banner ? s->o.banner : "220 mx.test ESMTP");
	if (s->o.banner && s->o.banner[0] != '2') {
		/* a client may say QUIT before closing */
		if (sc_line(c, line, sizeof(line), 1000) == 0)
			rec_cmd(s, line);
		goto out;
	}
	while (sc_line(c, line, sizeof(line), 5000) == 0) {
		rec_cmd(s, line);
		/* Without PIPELINING nothing may follow a command before
		 * its reply (RFC 2920). EHLO/HELO/QUIT/DATA excepted:
		 * nothing is sent after them in any case we test. */
		if (!s->o.pipelining && sc_readable(c, 30))
			s->r.violations++;
		if (strncasecmp(line, "EHLO", 4) == 0) {
			if (s->o.ehlo_502)
				sc_reply(c, "502 5.5.1 EHLO not implemented");
			else
				srv_ehlo(s, c, tls_on);
		} else if (strncasecmp(line, "HELO", 4) == 0) {
			sc_reply(c, "250 mx.test");
		} else if (strcasecmp(line, "STARTTLS") == 0 && s->o.tls &&
		    !tls_on) {
			sc_reply(c, "220 2.0.0 Ready to start TLS");
			c->ssl = SSL_new(s->o.tls);
			SSL_set_fd(c->ssl, fd);
			if (SSL_accept(c->ssl) != 1) {
				ERR_clear_error();
				goto out;
			}
			tls_on = true;
			s->r.tls_done++;
			if (SSL_session_reused(c->ssl))
				s->r.tls_resumed++;
			rec_cmd(s, "<TLS>");
		} else if (strncasecmp(line, "MAIL", 4) == 0 && s->o.pipelining) {
			/* Read the whole group up to DATA before replying:
			 * a client that waits for the MAIL reply would hang. */
			pipe_group = true;
			ngrp = 0;
			grp[ngrp++] = s->o.mail_reply ? s->o.mail_reply :
			    "250 2.1.0 Ok";
			for (;;) {
				if (!sc_readable(c, 5000)) {
					s->r.violations++;
					break;
				}
				if (sc_line(c, line, sizeof(line), 5000) == -1)
					goto out;
				rec_cmd(s, line);
				if (strncasecmp(line, "RCPT", 4) == 0 && ngrp < 500)
					grp[ngrp++] = srv_rcpt_reply(line);
				else if (strcasecmp(line, "DATA") == 0)
					break;
			}
			{
				bool any = false, mailok = grp[0][0] == '2';

				sc_hold(c);
				for (i = 0; i < ngrp; i++) {
					sc_reply(c, grp[i]);
					if (i > 0 && grp[i][0] == '2')
						any = true;
					if (strncmp(grp[i], "421", 3) == 0)
						goto out;
					if (i == 1 && s->o.drop_after_rcpt)
						goto out;
				}
				if (!mailok || !any) {
					sc_hold(c);
					sc_reply(c, "554 5.5.1 no valid recipients");
					sc_flush(c);
					continue;
				}
			}
			goto data;
		} else if (strncasecmp(line, "MAIL", 4) == 0) {
			sc_reply(c, s->o.mail_reply ? s->o.mail_reply :
			    "250 2.1.0 Ok");
		} else if (strncasecmp(line, "RCPT", 4) == 0) {
			const char *r = srv_rcpt_reply(line);

			sc_reply(c, r);
			if (strncmp(r, "421", 3) == 0 || s->o.drop_after_rcpt)
				goto out;
		} else if (strcasecmp(line, "DATA") == 0) {
data:
			pipe_group = false;
			if (s->o.data_reply) {
				sc_reply(c, s->o.data_reply);
				sc_flush(c);
				continue;
			}
			sc_reply(c, "354 go ahead");
			sc_flush(c);
			if (srv_data(s, c) == -1)
				goto out;
			s->r.msgs++;
			snprintf(b, sizeof(b), s->o.dot_reply ? s->o.dot_reply :
			    "250 2.0.0 Ok: queued as Q%d", s->r.msgs);
			if (s->o.trickle_dot)
				sc_trickle(c, b);
			else
				sc_reply(c, b);
		} else if (strcasecmp(line, "RSET") == 0) {
			sc_reply(c, "250 2.0.0 Ok");
		} else if (strcasecmp(line, "QUIT") == 0) {
			sc_reply(c, "221 2.0.0 Bye");
			if (c->ssl != NULL && sc_readable(c, 2000)) {
				/* the client's TLS close_notify (RFC 8446 6.1) */
				char x;

				if (SSL_read(c->ssl, &x, 1) <= 0 &&
				    SSL_get_error(c->ssl, 0) == SSL_ERROR_ZERO_RETURN)
					s->r.close_notify++;
				ERR_clear_error();
			}
			break;
		} else
			sc_reply(c, "500 5.5.2 what?");
	}
	(void)pipe_group;
out:
	sc_flush(c);
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	close(fd);
	free(c);
}

static void *
srv_main(void *arg)
{
	struct srv *s = arg;
	struct pollfd p;
	int i, fd, n = s->o.nconns ? s->o.nconns : 1;

	for (i = 0; i < n; i++) {
		p.fd = s->lfd;
		p.events = POLLIN;
		if (poll(&p, 1, 10000) != 1)
			break;
		if ((fd = accept(s->lfd, NULL, NULL)) == -1)
			break;
		s->r.conns++;
		srv_session(s, fd);
	}
	return NULL;
}

static struct srv *
srv_start(const struct srv_opts *o)
{
	struct srv *s = calloc(1, sizeof(*s));
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	s->o = *o;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(s->lfd, 8) == -1) {
		perror("bind");
		exit(2);
	}
	getsockname(s->lfd, (struct sockaddr *)&sin, &len);
	s->port = ntohs(sin.sin_port);
	pthread_create(&s->th, NULL, srv_main, s);
	return s;
}

/* Servers stay readable after srv_stop(); all are freed at exit. */
static struct srv *stopped[64];
static int nstopped;

static void
srv_stop(struct srv *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
	if (nstopped < 64)
		stopped[nstopped++] = s;
}

static void
srv_free_all(void)
{
	int i, j;

	for (i = 0; i < nstopped; i++) {
		for (j = 0; j < MAXMSG; j++)
			free(stopped[i]->r.data[j]);
		free(stopped[i]);
	}
}

/* ------------------------------------------------------------------ */
/* the client harness */

struct rres {
	bool		 set;
	int		 code;
	enum smtp_stage	 stage;
	char		 esc[16];
	char		 text[SMTP_REPLY_MAX];
};

struct run {
	struct event_base	*base;
	struct event		*giveup;
	struct smtp_client	*c;
	struct smtp_client_msg	 msgs[4];
	int			 nmsgs, sent;
	bool			 no_quit;	/* leave idle after the last message */
	int			 ready, connected, tls_events, tls_skipped, replies;
	int			 downgrades;
	unsigned		 t_dot;		/* data_done_timeout, 0: 10 s */
	unsigned		 t_slow;	/* every timeout and the give-up, 0: as below */
	char			 note[128];
	bool			 tls_ok;
	enum tlsrpt_type	 tls_rpt;
	struct tls_result	 tls;
	struct rres		 rr[4][16];	/* [message][rcpt] */
	int			 ndone;
	struct smtp_msg_result	 done[4];
	struct smtp_reply	 done_reply[4];
	bool			 closed;
	struct smtp_failure	 fail;
	struct smtp_reply	 fail_reply;
	bool			 fail_has_reply;
	char			 why[512];
	int			 send_rc;
	unsigned		 ext;
	char			 ehlo_text[SMTP_REPLY_MAX];
	char			 local[64];	/* smtp_client_local_addr() when ready */
};

static void
h_event(void *arg, const struct smtp_event *ev)
{
	struct run *r = arg;

	switch (ev->type) {
	case SMTP_EV_CONNECTED:
		r->connected++;
		break;
	case SMTP_EV_TLS:
		r->tls_events++;
		r->tls_ok = ev->tls_ok;
		r->tls_rpt = ev->rpt;
		r->tls = *ev->tls;
		break;
	case SMTP_EV_TLS_SKIPPED:
		r->tls_skipped++;
		r->tls_rpt = ev->rpt;
		break;
	case SMTP_EV_DOWNGRADE:
		r->downgrades++;
		str_copy(r->note, ev->text, sizeof(r->note));
		break;
	case SMTP_EV_REPLY:
		r->replies++;
		if (ev->stage == SMTP_STAGE_EHLO)
			str_copy(r->ehlo_text, ev->reply->text,
			    sizeof(r->ehlo_text));
		break;
	}
}

static void
h_next(struct run *r)
{
	if (r->sent < r->nmsgs) {
		r->send_rc = smtp_client_send(r->c, &r->msgs[r->sent]);
		r->sent++;
		if (r->send_rc == -1)
			smtp_client_quit(r->c);
	} else if (!r->no_quit)
		smtp_client_quit(r->c);
	else
		event_base_loopbreak(r->base);
}

static void
h_ready(void *arg)
{
	struct run *r = arg;

	r->ready++;
	r->ext = smtp_client_ext(r->c);
	if (smtp_client_local_addr(r->c, r->local, sizeof(r->local)) == -1)
		r->local[0] = '\0';
	h_next(r);
}

static void
h_rcpt(void *arg, const struct smtp_rcpt_result *rr)
{
	struct run *r = arg;
	struct rres *x;

	if (r->sent < 1 || rr->idx >= 16)
		return;
	x = &r->rr[r->sent - 1][rr->idx];
	CHECK(!x->set);		/* exactly one result per recipient */
	x->set = true;
	x->code = rr->reply->code;
	x->stage = rr->stage;
	str_copy(x->esc, rr->reply->esc, sizeof(x->esc));
	str_copy(x->text, rr->reply->text, sizeof(x->text));
}

static void
h_done(void *arg, const struct smtp_msg_result *m)
{
	struct run *r = arg;

	if (r->ndone < 4) {
		r->done[r->ndone] = *m;
		r->done_reply[r->ndone] = *m->reply;
		r->done[r->ndone].reply = &r->done_reply[r->ndone];
	}
	r->ndone++;
	h_next(r);
}

static void
h_closed(void *arg, const struct smtp_failure *f)
{
	struct run *r = arg;

	r->closed = true;
	r->fail = *f;
	r->fail_has_reply = f->reply != NULL;
	if (f->reply)
		r->fail_reply = *f->reply;
	str_copy(r->why, f->why, sizeof(r->why));
	r->fail.why = r->why;
	r->fail.reply = NULL;
	r->c = NULL;
	/* No loopbreak: the loop ends when nothing is left, which also
	 * proves the client left no event behind (a lingering QUIT is
	 * flushed first). */
	if (r->giveup != NULL)
		evtimer_del(r->giveup);
}

static const struct smtp_client_cbs cbs = {
	h_event, h_ready, h_rcpt, h_done, h_closed
};

static struct tls_client *TC;

static void
giveup(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	fprintf(stderr, "run: gave up waiting\n");
	event_base_loopbreak(r->base);
}

/* Connect to port under sec and run the messages; returns when closed. */
static void
run_client(struct run *r, unsigned port, const struct tls_secctx *sec,
    unsigned greeting_timeout)
{
	struct smtp_client_params p;
	struct sockaddr_in sin;
	struct event *t;
	struct timeval tv = { r->t_slow ? r->t_slow * 2 : 20, 0 };

	r->base = event_base_new();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&p, 0, sizeof(p));
	p.sa = (struct sockaddr *)&sin;
	p.salen = sizeof(sin);
	p.host = "mx.test";
	p.helo_name = "relay.test";
	p.tls = TC;
	if (sec)
		p.sec = *sec;
	else
		p.sec.level = TLS_LEVEL_NONE;
	p.connect_timeout = 5;
	p.greeting_timeout = greeting_timeout ? greeting_timeout : 10;
	p.command_timeout = 10;
	p.data_timeout = 10;
	p.data_done_timeout = r->t_dot ? r->t_dot : 10;
	if (r->t_slow)
		p.greeting_timeout = p.command_timeout = p.data_timeout =
		    p.data_done_timeout = r->t_slow;
	r->c = smtp_client_connect(r->base, &p, &cbs, r);
	CHECK(r->c != NULL);
	t = evtimer_new(r->base, giveup, r);
	evtimer_add(t, &tv);
	r->giveup = t;
	if (r->c != NULL)
		event_base_dispatch(r->base);
	if (r->c != NULL && !r->closed) {
		smtp_client_free(r->c);
		r->c = NULL;
	}
	CHECK(r->closed);
	event_free(t);
	r->giveup = NULL;
	event_base_free(r->base);
	r->base = NULL;
}

/* A temp file holding content; the fd is at offset 0. */
static int
content_fd(const char *data, size_t len)
{
	FILE *f = tmpfile();
	int fd;

	fwrite(data, 1, len, f);
	fflush(f);
	fd = dup(fileno(f));
	fclose(f);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static void
msg_init(struct smtp_client_msg *m, const char *from, const char *const *rcpts,
    size_t n, const char *data)
{
	memset(m, 0, sizeof(*m));
	m->sender = from;
	m->rcpts = rcpts;
	m->nrcpts = n;
	m->size = strlen(data);
	m->fd = content_fd(data, m->size);
}

static void
run_free(struct run *r)
{
	int i;

	for (i = 0; i < r->nmsgs; i++)
		close(r->msgs[i].fd);
}

/* ------------------------------------------------------------------ */
/* scenarios */

static const char *three[] = { "ok@b.test", "temp@b.test", "perm@b.test" };
static const char body1[] =
    "Subject: test\r\n"
    "\r\n"
    ".leading dot\r\n"
    "..two dots\r\n"
    ".\r\n"
    "bare lf\n"
    "no final newline";
static const char body1_want[] =
    "Subject: test\r\n"
    "\r\n"
    ".leading dot\r\n"
    "..two dots\r\n"
    ".\r\n"
    "bare lf\r\n"
    "no final newline\r\n";

static void
test_three_rcpts(bool pipelining)
{
	struct srv_opts o = { .pipelining = pipelining, .size_limit = 1000000,
	    .eightbit = true };
	struct srv *s = srv_start(&o);
	struct run r;

	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", three, 3, body1);
	r.msgs[0].flags = ENV_8BITMIME;
	r.nmsgs = 1;
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);

	CHECK_INT(r.connected, 1);
	CHECK_INT(r.ready, 1);
	CHECK_INT(!!(r.ext & SMTP_EXT_PIPELINING), pipelining);
	CHECK(r.ext & SMTP_EXT_ESMTP);
	CHECK(r.ext & SMTP_EXT_SIZE);
	CHECK_INT(r.ndone, 1);
	CHECK_INT(r.done[0].fail, SMTP_FAIL_NONE);
	CHECK_INT(r.done[0].accepted, 1);
	CHECK_INT(r.done[0].stage, SMTP_STAGE_DOT);
	CHECK_INT(r.rr[0][0].code, 250);
	CHECK_INT(r.rr[0][0].stage, SMTP_STAGE_DOT);
	CHECK_STR(r.rr[0][0].text, "250 2.0.0 Ok: queued as Q1");
	CHECK_STR(r.rr[0][0].esc, "2.0.0");
	CHECK_INT(r.rr[0][1].code, 450);
	CHECK_INT(r.rr[0][1].stage, SMTP_STAGE_RCPT);
	CHECK_STR(r.rr[0][1].esc, "4.2.0");
	CHECK_INT(r.rr[0][2].code, 550);
	CHECK_STR(r.rr[0][2].text, "550 5.1.1 user unknown");
	CHECK(r.closed);
	CHECK_INT(r.fail.fail, SMTP_FAIL_NONE);
	CHECK_INT(s->r.violations, 0);
	CHECK_INT(s->r.msgs, 1);
	CHECK_INT(s->r.conns, 1);
	CHECK_INT(s->r.datalen[0], strlen(body1_want));
	CHECK(s->r.data[0] && memcmp(s->r.data[0], body1_want,
	    strlen(body1_want)) == 0);
	CHECK(strstr(s->r.cmds, "MAIL FROM:<s@a.test> SIZE=") != NULL);
	CHECK(strstr(s->r.cmds, "BODY=8BITMIME") != NULL);
	CHECK(strstr(s->r.cmds, "EHLO relay.test") != NULL);
	CHECK(strstr(s->r.cmds, "RCPT TO:<perm@b.test>|DATA") != NULL);
	CHECK(strstr(s->r.cmds, "|QUIT") != NULL);
	run_free(&r);
}

/* A big message with many dots and both line ends: exact bytes. */
static void
test_big_message(bool tls)
{
	struct srv_opts o = { .pipelining = true };
	struct tls_secctx sec = { .level = TLS_LEVEL_ENCRYPT };
	struct srv *s;
	struct run r;
	const char *one[] = { "ok@b.test" };
	size_t n = 3 * 1024 * 1024, i, w = 0;
	char *src = malloc(n + 1), *want = malloc(2 * n + 8);

	for (i = 0; i < n; i++) {
		/* lines of varying length, some starting with '.', LF and CRLF */
		size_t k = i % 997;
		char ch = (char)('a' + (i % 23));

		if (k == 0 || (k == 500 && (i / 997) % 3 == 0))
			ch = '.';
		if (i % 83 == 82)
			ch = '\n';
		if (i % 83 == 81 && (i / 83) % 2)
			ch = '\r';
		src[i] = ch;
	}
	src[n - 1] = '\n';
	src[n] = '\0';
	/* expected: what the server gets after unstuffing, bare LF -> CRLF */
	for (i = 0; i < n; i++) {
		if (src[i] == '\n' && (i == 0 || src[i - 1] != '\r'))
			want[w++] = '\r';
		want[w++] = src[i];
	}
	if (tls)
		o.tls = srv_tls_ctx(0);
	s = srv_start(&o);
	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", one, 1, src);
	r.nmsgs = 1;
	/* 3 MB through TLS on both ends in one process: under valgrind on a
	 * busy machine that takes longer than the usual 10 s timeouts */
	r.t_slow = 120;
	run_client(&r, s->port, tls ? &sec : NULL, 0);
	CHECK_INT(r.tls_events, tls);
	CHECK_INT(r.rr[0][0].code, 250);
	CHECK_INT(s->r.msgs, 1);
	CHECK_INT(s->r.datalen[0], w);
	CHECK(s->r.data[0] && s->r.datalen[0] == w &&
	    memcmp(s->r.data[0], want, w) == 0);
	srv_stop(s);
	run_free(&r);
	free(src);
	free(want);
	SSL_CTX_free(o.tls);
}

/* Two messages on one connection, RSET between. */
static void
test_reuse(bool pipelining)
{
	struct srv_opts o = { .pipelining = pipelining };
	struct srv *s = srv_start(&o);
	const char *r1[] = { "ok1@b.test", "ok2@b.test" };
	const char *r2[] = { "perm@b.test", "ok3@b.test" };
	struct run r;

	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", r1, 2, "m1\r\n");
	msg_init(&r.msgs[1], "", r2, 2, "m2\r\n");
	r.nmsgs = 2;
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.ndone, 2);
	CHECK_INT(r.done[0].accepted, 2);
	CHECK_INT(r.done[1].accepted, 1);
	CHECK_INT(r.rr[0][0].code, 250);
	CHECK_INT(r.rr[0][1].code, 250);
	CHECK_STR(r.rr[1][0].text, "550 5.1.1 user unknown");
	CHECK_STR(r.rr[1][1].text, "250 2.0.0 Ok: queued as Q2");
	CHECK_INT(s->r.conns, 1);
	CHECK_INT(s->r.msgs, 2);
	CHECK_INT(s->r.violations, 0);
	CHECK_STR(r.local, "127.0.0.1");	/* our end of the connection */
	CHECK(strstr(s->r.cmds, "250|RSET|MAIL FROM:<>") == NULL);	/* sanity */
	CHECK(strstr(s->r.cmds, "|RSET|MAIL FROM:<>") != NULL);
	CHECK_INT(r.fail.fail, SMTP_FAIL_NONE);
	run_free(&r);
}

static void
test_421_banner(void)
{
	struct srv_opts o = { .banner = "421 4.3.2 busy, try later" };
	struct srv *s = srv_start(&o);
	struct run r;
	const char *one[] = { "ok@b.test" };

	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", one, 1, "x\r\n");
	r.nmsgs = 1;
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.ready, 0);
	CHECK(r.closed);
	CHECK_INT(r.fail.fail, SMTP_FAIL_GREETING);
	CHECK_INT(r.fail.stage, SMTP_STAGE_GREETING);
	CHECK(r.fail_has_reply);
	CHECK_INT(r.fail_reply.code, 421);
	CHECK_STR(r.fail_reply.esc, "4.3.2");
	CHECK_INT(r.fail.in_transaction, 0);
	/* no QUIT after a 421 */
	CHECK(strstr(s->r.cmds, "QUIT") == NULL);
	run_free(&r);

	/* a 554 banner gets a polite QUIT */
	o.banner = "554 5.7.1 go away";
	s = srv_start(&o);
	memset(&r, 0, sizeof(r));
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.fail.fail, SMTP_FAIL_GREETING);
	CHECK_INT(r.fail_reply.code, 554);
	CHECK_STR(s->r.cmds, "QUIT");
}

static void
test_helo_fallback(void)
{
	struct srv_opts o = { .ehlo_502 = true };
	struct srv *s = srv_start(&o);
	struct run r;
	const char *one[] = { "ok@b.test" };

	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", one, 1, "x\r\n");
	r.nmsgs = 1;
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.ready, 1);
	CHECK_INT(r.ext & SMTP_EXT_ESMTP, 0);
	CHECK_INT(r.rr[0][0].code, 250);
	CHECK(strncmp(s->r.cmds, "EHLO relay.test|HELO relay.test|MAIL", 36) == 0);
	CHECK(strstr(s->r.cmds, "SIZE=") == NULL);
	CHECK_INT(s->r.violations, 0);
	run_free(&r);
}

static void
test_starttls(void)
{
	struct srv_opts o = { .pipelining = true, .nconns = 2 };
	struct tls_secctx sec;
	struct srv *s;
	struct run r;
	const char *one[] = { "ok@b.test" };

	o.tls = srv_tls_ctx(0);
	s = srv_start(&o);
	memset(&sec, 0, sizeof(sec));
	sec.level = TLS_LEVEL_ENCRYPT;

	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", one, 1, "over tls\r\n");
	r.nmsgs = 1;
	run_client(&r, s->port, &sec, 0);
	CHECK_INT(r.tls_events, 1);
	CHECK(r.tls_ok);
	CHECK_INT(r.tls.resumed, 0);
	CHECK_INT(r.tls.dane_used, 0);
	CHECK(strncmp(r.tls.desc, "TLSv1.3 with cipher ", 20) == 0);
	CHECK_STR(r.tls.dane.subject, "CN=mx.test");
	CHECK_INT(r.rr[0][0].code, 250);
	CHECK_INT(r.fail.fail, SMTP_FAIL_NONE);
	run_free(&r);

	/* second connection: the session is resumed */
	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", one, 1, "again\r\n");
	r.nmsgs = 1;
	run_client(&r, s->port, &sec, 0);
	CHECK_INT(r.tls_events, 1);
	CHECK_INT(r.tls.resumed, 1);
	CHECK_INT(r.rr[0][0].code, 250);
	run_free(&r);
	srv_stop(s);
	CHECK_INT(s->r.tls_done, 2);
	CHECK_INT(s->r.tls_resumed, 1);
	CHECK_INT(s->r.close_notify, 2);	/* QUIT, then close_notify */
	SSL_CTX_free(o.tls);
}

static void
test_starttls_record(void)
{
	/* the server saw EHLO twice around the handshake, and its own
	 * view of resumption agrees */
	struct srv_opts o = { .nconns = 2 };
	struct tls_secctx sec;
	struct srv *s;
	struct run r;
	const char *one[] = { "ok@b.test" };
	int i;

	o.tls = srv_tls_ctx(TLS1_2_VERSION);
	s = srv_start(&o);
	memset(&sec, 0, sizeof(sec));
	sec.level = TLS_LEVEL_MAY;
	sec.sni = "mx.test";
	for (i = 0; i < 2; i++) {
		memset(&r, 0, sizeof(r));
		msg_init(&r.msgs[0], "s@a.test", one, 1, "tls12\r\n");
		r.nmsgs = 1;
		run_client(&r, s->port, &sec, 0);
		CHECK_INT(r.tls_events, 1);
		CHECK(strncmp(r.tls.desc, "TLSv1.2 with cipher ", 20) == 0);
		CHECK_INT(r.tls.resumed, i);
		CHECK_INT(r.rr[0][0].code, 250);
		run_free(&r);
	}
	srv_stop(s);
	CHECK_INT(s->r.tls_done, 2);
	CHECK_INT(s->r.tls_resumed, 1);
	CHECK(strncmp(s->r.cmds, "EHLO relay.test|STARTTLS|<TLS>|EHLO relay.test|MAIL", 51) == 0);
	CHECK_INT(s->r.violations, 0);
	SSL_CTX_free(o.tls);
}

/*
 * With read-ahead the client's one read(2) takes several TLS records, and
 * SSL_pending() does not count those not yet decoded: every reply must
 * still come out (relay/smtp_client.c, client_tls_pull()), whether the
 * server packs a pipelined group, and the whole EHLO reply, into one
 * record or sends one record per octet, all in one TCP segment.
 */
static void
test_tls_records(int records)
{
	struct srv_opts o = { .pipelining = true, .records = records };
	struct tls_secctx sec = { .level = TLS_LEVEL_ENCRYPT };
	const char *r2[] = { "ok1@b.test", "ok2@b.test" };
	struct srv *s;
	struct run r;

	o.tls = srv_tls_ctx(0);
	s = srv_start(&o);
	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", three, 3, "one\r\n");
	msg_init(&r.msgs[1], "s@a.test", r2, 2, "two\r\n");
	r.nmsgs = 2;
	run_client(&r, s->port, &sec, 0);
	srv_stop(s);
	CHECK_INT(r.tls_events, 1);
	CHECK(r.tls_ok);
	CHECK(r.ext & SMTP_EXT_PIPELINING);
	CHECK(strstr(r.ehlo_text, "ENHANCEDSTATUSCODES") != NULL);
	CHECK_INT(r.ndone, 2);
	CHECK_INT(r.done[0].accepted, 1);
	CHECK_INT(r.rr[0][0].code, 250);
	CHECK_STR(r.rr[0][0].text, "250 2.0.0 Ok: queued as Q1");
	CHECK_STR(r.rr[0][1].text, "450 4.2.0 mailbox busy");
	CHECK_STR(r.rr[0][2].text, "550 5.1.1 user unknown");
	CHECK_INT(r.done[1].accepted, 2);
	CHECK_STR(r.rr[1][0].text, "250 2.0.0 Ok: queued as Q2");
	CHECK_STR(r.rr[1][1].text, "250 2.0.0 Ok: queued as Q2");
	CHECK_INT(r.fail.fail, SMTP_FAIL_NONE);
	CHECK_INT(s->r.conns, 1);
	CHECK_INT(s->r.msgs, 2);
	CHECK_INT(s->r.violations, 0);
	CHECK_INT(s->r.close_notify, 1);
	run_free(&r);
	SSL_CTX_free(o.tls);
}

static void
test_dane_levels(void)
{
	struct srv_opts o = { .pipelining = true, .nconns = 4 };
	unsigned char good[32], bad[32];
	struct dane_tlsa tg = { 3, 1, 1, good, 32 }, tb = { 3, 1, 1, bad, 32 };
	struct tls_secctx sec;
	struct srv *s;
	struct run r;
	const char *one[] = { "ok@b.test" };

	spki_sha256(srv_cert, good);
	{
		X509 *x = mkcert(other_key, "mx.test", 86400);

		spki_sha256(x, bad);
		X509_free(x);
	}
	o.tls = srv_tls_ctx(0);
	s = srv_start(&o);
	memset(&sec, 0, sizeof(sec));
	sec.level = TLS_LEVEL_DANE;
	sec.base_domain = "mx.test";

	/* matching record: authenticated */
	sec.tlsa = &tg;
	sec.ntlsa = 1;
	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", one, 1, "dane\r\n");
	r.nmsgs = 1;
	run_client(&r, s->port, &sec, 0);
	CHECK(r.tls_ok);
	CHECK(r.tls.dane_used);
	CHECK(r.tls.dane.authenticated);
	CHECK_STR(r.tls.dane.match, "TLSA 3 1 1 at depth 0");
	CHECK_INT(r.rr[0][0].code, 250);
	run_free(&r);

	/* wrong record: FAIL_DANE, nothing sent after the handshake but QUIT */
	sec.tlsa = &tb;
	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", one, 1, "dane\r\n");
	r.nmsgs = 1;
	run_client(&r, s->port, &sec, 0);
	CHECK_INT(r.ready, 0);
	CHECK_INT(r.tls_events, 1);
	CHECK(!r.tls_ok);
	CHECK_INT(r.tls_rpt, TLSRPT_TLSA_INVALID);
	CHECK_INT(r.fail.fail, SMTP_FAIL_DANE);
	CHECK_INT(r.fail.rpt, TLSRPT_TLSA_INVALID);
	CHECK_INT(r.fail.stage, SMTP_STAGE_TLS);
	CHECK_STR(r.why, "no TLSA record matched the certificate chain");
	run_free(&r);

	/* wrong record in test mode: verdict reported, mail goes on */
	sec.test_mode = true;
	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", one, 1, "audit\r\n");
	r.nmsgs = 1;
	run_client(&r, s->port, &sec, 0);
	CHECK_INT(r.tls_events, 1);
	CHECK(!r.tls_ok);
	CHECK_INT(r.tls_rpt, TLSRPT_TLSA_INVALID);
	CHECK_INT(r.rr[0][0].code, 250);
	CHECK_INT(r.fail.fail, SMTP_FAIL_NONE);
	run_free(&r);

	/* good record again, the session from the first run is resumed and
	 * still authenticated, with the original match */
	sec.test_mode = false;
	sec.tlsa = &tg;
	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", one, 1, "resumed\r\n");
	r.nmsgs = 1;
	run_client(&r, s->port, &sec, 0);
	CHECK(r.tls_ok);
	CHECK_INT(r.tls.resumed, 1);
	CHECK(r.tls.dane.authenticated);
	CHECK_STR(r.tls.dane.match, "TLSA 3 1 1 at depth 0");
	CHECK_INT(r.rr[0][0].code, 250);
	run_free(&r);

	srv_stop(s);
	/* the server's side: four connections; the wrong record sent no
	 * transaction, the three others sent their content intact, and
	 * the last handshake resumed */
	CHECK_INT(s->r.conns, 4);
	CHECK_INT(s->r.msgs, 3);
	CHECK_INT(s->r.violations, 0);
	CHECK_INT(s->r.tls_resumed, 1);
	{
		const char *want[] = { "dane\r\n", "audit\r\n", "resumed\r\n" };
		size_t k;

		for (k = 0; k < 3; k++)
			CHECK(s->r.data[k] != NULL &&
			    s->r.datalen[k] == strlen(want[k]) &&
			    memcmp(s->r.data[k], want[k], strlen(want[k])) == 0);
	}
	SSL_CTX_free(o.tls);
}

static void
test_dane_server_view(void)
{
	/* after a DANE failure the server sees the handshake, then QUIT */
	struct srv_opts o = { .nconns = 1 };
	unsigned char bad[32];
	struct dane_tlsa tb = { 3, 1, 1, bad, 32 };
	struct tls_secctx sec;
	struct srv *s;
	struct run r;

	memset(bad, 0x55, sizeof(bad));
	o.tls = srv_tls_ctx(0);
	s = srv_start(&o);
	memset(&sec, 0, sizeof(sec));
	sec.level = TLS_LEVEL_DANE;
	sec.base_domain = "mx.test";
	sec.tlsa = &tb;
	sec.ntlsa = 1;
	memset(&r, 0, sizeof(r));
	run_client(&r, s->port, &sec, 0);
	srv_stop(s);
	CHECK_INT(r.fail.fail, SMTP_FAIL_DANE);
	CHECK_STR(s->r.cmds, "EHLO relay.test|STARTTLS|<TLS>|QUIT");
	SSL_CTX_free(o.tls);
}

static void
test_starttls_missing(void)
{
	struct srv_opts o = { .nconns = 4 };
	struct tls_secctx sec;
	struct srv *s = srv_start(&o);
	struct run r;
	const char *one[] = { "ok@b.test" };

	memset(&sec, 0, sizeof(sec));
	sec.level = TLS_LEVEL_ENCRYPT;
	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", one, 1, "x\r\n");
	r.nmsgs = 1;
	run_client(&r, s->port, &sec, 0);
	CHECK_INT(r.ready, 0);
	CHECK_INT(r.fail.fail, SMTP_FAIL_STARTTLS_MISSING);
	CHECK_INT(r.fail.rpt, TLSRPT_STARTTLS_NOT_SUPPORTED);
	CHECK_STR(tlsrpt_name(r.fail.rpt), "starttls-not-supported");
	run_free(&r);

	/* under may: plaintext, with a note */
	sec.level = TLS_LEVEL_MAY;
	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", one, 1, "x\r\n");
	r.nmsgs = 1;
	run_client(&r, s->port, &sec, 0);
	CHECK_INT(r.tls_skipped, 1);
	CHECK_INT(r.tls_events, 0);
	CHECK_INT(r.rr[0][0].code, 250);
	run_free(&r);

	/* DANE in test mode: the verdict is reported, mail goes on */
	{
		unsigned char d[32];
		struct dane_tlsa t = { 3, 1, 1, d, 32 };

		memset(d, 1, sizeof(d));
		sec.level = TLS_LEVEL_DANE;
		sec.test_mode = true;
		sec.base_domain = "mx.test";
		sec.tlsa = &t;
		sec.ntlsa = 1;
		memset(&r, 0, sizeof(r));
		msg_init(&r.msgs[0], "s@a.test", one, 1, "x\r\n");
		r.nmsgs = 1;
		run_client(&r, s->port, &sec, 0);
		CHECK_INT(r.tls_skipped, 1);
		CHECK_INT(r.tls_rpt, TLSRPT_STARTTLS_NOT_SUPPORTED);
		CHECK_INT(r.rr[0][0].code, 250);
		/* and enforced: the host fails */
		sec.test_mode = false;
		run_free(&r);
		memset(&r, 0, sizeof(r));
		msg_init(&r.msgs[0], "s@a.test", one, 1, "x\r\n");
		r.nmsgs = 1;
		run_client(&r, s->port, &sec, 0);
		CHECK_INT(r.fail.fail, SMTP_FAIL_STARTTLS_MISSING);
		CHECK_INT(r.rr[0][0].set, 0);
	}
	srv_stop(s);
	CHECK_STR(tlsrpt_name(TLSRPT_STARTTLS_NOT_SUPPORTED),
	    "starttls-not-supported");
	run_free(&r);
}

static void
test_connect_refused(void)
{
	struct run r;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	unsigned port;

	/* a port that nothing listens on: bind, learn it, close */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	memset(&r, 0, sizeof(r));
	run_client(&r, port, NULL, 0);
	CHECK(r.closed);
	CHECK_INT(r.connected, 0);
	CHECK_INT(r.fail.fail, SMTP_FAIL_CONNECT);
	CHECK_INT(r.fail.stage, SMTP_STAGE_CONNECT);
	CHECK(strstr(r.why, "Connection refused") != NULL);
	if (strstr(r.why, "Connection refused") == NULL)
		fprintf(stderr, "why: %s\n", r.why);
}

static void
test_mail_refused(bool pipelining)
{
	struct srv_opts o = { .pipelining = pipelining,
	    .mail_reply = "451 4.3.0 try later" };
	struct srv *s = srv_start(&o);
	const char *two[] = { "ok@b.test", "ok2@b.test" };
	struct run r;

	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", two, 2, "x\r\n");
	msg_init(&r.msgs[1], "s@a.test", two, 1, "y\r\n");
	r.nmsgs = 2;
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.ndone, 2);
	CHECK_INT(r.done[0].fail, SMTP_FAIL_TEMP);
	CHECK_INT(r.done[0].stage, SMTP_STAGE_MAIL);
	CHECK_INT(r.done_reply[0].code, 451);
	CHECK_INT(r.rr[0][0].code, 451);
	CHECK_INT(r.rr[0][0].stage, SMTP_STAGE_MAIL);
	CHECK_INT(r.rr[0][1].code, 451);
	CHECK_INT(r.done[1].fail, SMTP_FAIL_TEMP);
	CHECK_INT(s->r.msgs, 0);
	CHECK_INT(s->r.violations, 0);
	if (!pipelining)
		CHECK(strstr(s->r.cmds, "RCPT") == NULL);
	CHECK_INT(r.fail.fail, SMTP_FAIL_NONE);
	run_free(&r);
}

static void
test_local_refusals(void)
{
	struct srv_opts o = { .pipelining = true, .size_limit = 10 };
	struct srv *s = srv_start(&o);
	const char *one[] = { "ok@b.test" };
	struct run r;

	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s\xc3\xa9@a.test", one, 1, "x\r\n");
	r.msgs[0].flags = ENV_SMTPUTF8;
	msg_init(&r.msgs[1], "s@a.test", one, 1, "this is longer than ten\r\n");
	msg_init(&r.msgs[2], "s@a.test", one, 1, "short\r\n");
	r.nmsgs = 3;
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.ndone, 3);
	CHECK_INT(r.done[0].fail, SMTP_FAIL_PERM);
	CHECK_INT(r.done_reply[0].code, 0);
	CHECK_STR(r.done_reply[0].esc, "5.6.7");
	CHECK(strstr(r.done_reply[0].text, "SMTPUTF8 is required") != NULL);
	CHECK_INT(r.rr[0][0].code, 0);
	CHECK_STR(r.rr[0][0].esc, "5.6.7");
	CHECK_INT(r.done[1].fail, SMTP_FAIL_PERM);
	CHECK_STR(r.done_reply[1].esc, "5.3.4");
	CHECK_INT(r.done[2].fail, SMTP_FAIL_NONE);
	CHECK_INT(r.rr[2][0].code, 250);
	CHECK_INT(s->r.msgs, 1);
	/* neither refused message reached the server */
	CHECK(strstr(s->r.cmds, "SMTPUTF8") == NULL);
	CHECK(strstr(s->r.cmds, "SIZE=25") == NULL);
	run_free(&r);

	/* with SMTPUTF8 offered the parameter is sent */
	o.smtputf8 = true;
	o.size_limit = 0;
	s = srv_start(&o);
	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s\xc3\xa9@a.test", one, 1, "x\r\n");
	r.msgs[0].flags = ENV_SMTPUTF8;
	r.nmsgs = 1;
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.rr[0][0].code, 250);
	CHECK(strstr(s->r.cmds, "> SMTPUTF8") != NULL);
	run_free(&r);
}

static void
test_all_rcpts_refused(bool pipelining)
{
	struct srv_opts o = { .pipelining = pipelining };
	struct srv *s = srv_start(&o);
	const char *two[] = { "perm@b.test", "temp@b.test" };
	const char *one[] = { "ok@b.test" };
	struct run r;

	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", two, 2, "x\r\n");
	msg_init(&r.msgs[1], "s@a.test", one, 1, "y\r\n");
	r.nmsgs = 2;
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.ndone, 2);
	CHECK_INT(r.done[0].fail, SMTP_FAIL_NONE);
	CHECK_INT(r.done[0].accepted, 0);
	CHECK_INT(r.rr[0][0].code, 550);
	CHECK_INT(r.rr[0][1].code, 450);
	CHECK_INT(r.rr[1][0].code, 250);
	CHECK_INT(s->r.msgs, 1);
	CHECK_INT(s->r.violations, 0);
	if (!pipelining)
		CHECK(strstr(s->r.cmds, "temp@b.test>|DATA") == NULL);
	run_free(&r);
}

static void
test_dot_refused(void)
{
	struct srv_opts o = { .pipelining = true,
	    .dot_reply = "452 4.3.1 out of space" };
	struct srv *s = srv_start(&o);
	const char *two[] = { "ok@b.test", "perm@b.test" };
	struct run r;

	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", two, 2, "x\r\n");
	r.nmsgs = 1;
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.done[0].fail, SMTP_FAIL_TEMP);
	CHECK_INT(r.done[0].stage, SMTP_STAGE_DOT);
	CHECK_INT(r.done[0].accepted, 0);
	CHECK_INT(r.rr[0][0].code, 452);
	CHECK_INT(r.rr[0][0].stage, SMTP_STAGE_DOT);
	CHECK_INT(r.rr[0][1].code, 550);
	run_free(&r);
}

static void
test_data_refused(void)
{
	struct srv_opts o = { .data_reply = "554 5.6.0 no data today" };
	struct srv *s = srv_start(&o);
	const char *one[] = { "ok@b.test" };
	struct run r;

	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", one, 1, "x\r\n");
	r.nmsgs = 1;
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.done[0].fail, SMTP_FAIL_PERM);
	CHECK_INT(r.done[0].stage, SMTP_STAGE_DATA);
	CHECK_INT(r.rr[0][0].code, 554);
	CHECK_INT(r.rr[0][0].stage, SMTP_STAGE_DATA);
	run_free(&r);
}

static void
test_lost(bool pipelining)
{
	struct srv_opts o = { .pipelining = pipelining, .drop_after_rcpt = true };
	struct srv *s = srv_start(&o);
	const char *two[] = { "perm@b.test", "ok@b.test" };
	struct run r;

	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", two, 2, "x\r\n");
	r.nmsgs = 1;
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.ndone, 0);
	CHECK_INT(r.fail.fail, SMTP_FAIL_LOST);
	CHECK(r.fail.in_transaction);
	CHECK_INT(r.rr[0][0].code, 550);	/* answered before the drop */
	CHECK(!r.rr[0][1].set);
	CHECK(strstr(r.why, "lost connection") != NULL);
	run_free(&r);
}

static void
test_421_rcpt(void)
{
	struct srv_opts o = { .pipelining = true };
	struct srv *s = srv_start(&o);
	const char *three3[] = { "ok@b.test", "shut@b.test", "ok2@b.test" };
	struct run r;

	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", three3, 3, "x\r\n");
	r.nmsgs = 1;
	r.no_quit = true;
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.ndone, 1);
	CHECK_INT(r.done[0].fail, SMTP_FAIL_TEMP);
	CHECK_INT(r.rr[0][0].code, 421);
	CHECK_INT(r.rr[0][1].code, 421);
	CHECK_INT(r.rr[0][2].code, 421);
	CHECK(r.closed);
	CHECK_INT(r.fail.fail, SMTP_FAIL_LOST);
	CHECK_INT(r.fail.in_transaction, 0);
	CHECK_INT(r.fail_reply.code, 421);
	run_free(&r);
}

static void
test_bad_replies(void)
{
	struct srv_opts o;
	struct srv *s;
	struct run r;
	char *big;

	/* garbage EHLO reply */
	memset(&o, 0, sizeof(o));
	o.raw_ehlo = "hello there\r\n";
	s = srv_start(&o);
	memset(&r, 0, sizeof(r));
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.fail.fail, SMTP_FAIL_PROTO);
	CHECK_INT(r.fail.stage, SMTP_STAGE_EHLO);

	/* multi-line reply whose codes disagree */
	o.raw_ehlo = "250-mx.test\r\n251 PIPELINING\r\n";
	s = srv_start(&o);
	memset(&r, 0, sizeof(r));
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.fail.fail, SMTP_FAIL_PROTO);

	/* a reply line far over the limit */
	big = malloc(10000);
	memset(big, 'x', 9997);
	memcpy(big, "250 ", 4);
	memcpy(big + 9997, "\r\n", 3);
	o.raw_ehlo = big;
	s = srv_start(&o);
	memset(&r, 0, sizeof(r));
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.fail.fail, SMTP_FAIL_PROTO);
	CHECK(strstr(r.why, "too long") != NULL);
	free(big);

	/* a proper multi-line reply: joined, keywords parsed */
	o.raw_ehlo = "250-mx.test greets you\r\n250-SIZE 5000\r\n"
	    "250-pipelining\r\n250 8BITMIME\r\n";
	s = srv_start(&o);
	memset(&r, 0, sizeof(r));
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.ready, 1);
	CHECK(r.ext & SMTP_EXT_PIPELINING);
	CHECK(r.ext & SMTP_EXT_8BITMIME);
	CHECK(r.ext & SMTP_EXT_SIZE);
	CHECK_STR(r.ehlo_text, "250 mx.test greets you SIZE 5000 pipelining 8BITMIME");
	CHECK_INT(r.fail.fail, SMTP_FAIL_NONE);
}

static void
test_greeting_timeout(void)
{
	struct srv_opts o = { .no_banner = true };
	struct srv *s = srv_start(&o);
	struct run r;

	memset(&r, 0, sizeof(r));
	run_client(&r, s->port, NULL, 1);
	srv_stop(s);
	CHECK_INT(r.fail.fail, SMTP_FAIL_GREETING);
	CHECK(r.fail.timeout);
	CHECK(strstr(r.why, "timeout after greeting") != NULL);
}

/* free() from inside a callback, and quit() while connecting */
static void
freeing_ready(void *arg)
{
	struct run *r = arg;

	r->ready++;
	smtp_client_free(r->c);
	r->c = NULL;
	event_base_loopbreak(r->base);
}

static void
test_free_in_callback(void)
{
	struct srv_opts o = { 0 };
	struct srv *s = srv_start(&o);
	struct smtp_client_cbs cb2 = cbs;
	struct smtp_client_params p;
	struct sockaddr_in sin;
	struct run r;

	cb2.ready = freeing_ready;
	memset(&r, 0, sizeof(r));
	r.base = event_base_new();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)s->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&p, 0, sizeof(p));
	p.sa = (struct sockaddr *)&sin;
	p.salen = sizeof(sin);
	p.host = "mx.test";
	p.helo_name = "relay.test";
	p.command_timeout = 5;
	r.c = smtp_client_connect(r.base, &p, &cb2, &r);
	event_base_dispatch(r.base);
	CHECK_INT(r.ready, 1);
	CHECK(!r.closed);

	/* quit before connected: closed() comes from the loop */
	r.c = smtp_client_connect(r.base, &p, &cbs, &r);
	smtp_client_quit(r.c);
	CHECK(!r.closed);
	event_base_dispatch(r.base);
	CHECK(r.closed);
	CHECK_INT(r.fail.fail, SMTP_FAIL_NONE);
	event_base_free(r.base);
	srv_stop(s);
}

/* Total deadlines: a reply trickled one byte at a time is a timeout. */
static void
test_trickle(void)
{
	struct srv_opts o = { .trickle_banner = true };
	struct srv *s = srv_start(&o);
	const char *one[] = { "ok@b.test" };
	struct timespec t0, t1;
	struct run r;

	memset(&r, 0, sizeof(r));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_client(&r, s->port, NULL, 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	srv_stop(s);
	CHECK_INT(r.fail.fail, SMTP_FAIL_GREETING);
	CHECK(r.fail.timeout);
	CHECK(strstr(r.why, "no complete reply within 1s") != NULL);
	/* the banner takes 14 s to trickle; the deadline is 1 s */
	CHECK(t1.tv_sec - t0.tv_sec < 4);
	CHECK_INT(r.ready, 0);

	o.trickle_banner = false;
	o.trickle_dot = true;
	o.pipelining = true;
	s = srv_start(&o);
	memset(&r, 0, sizeof(r));
	r.t_dot = 1;
	msg_init(&r.msgs[0], "s@a.test", one, 1, "Subject: x\r\n\r\nbody\r\n");
	r.nmsgs = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_client(&r, s->port, NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	srv_stop(s);
	CHECK_INT(r.fail.fail, SMTP_FAIL_LOST);
	CHECK_INT(r.fail.stage, SMTP_STAGE_DOT);
	CHECK(r.fail.timeout);
	CHECK(r.fail.in_transaction);
	CHECK(strstr(r.why, "timeout after end of DATA") != NULL);
	CHECK(!r.rr[0][0].set);		/* no result: the caller defers */
	CHECK(t1.tv_sec - t0.tv_sec < 4);
	CHECK_INT(s->r.msgs, 1);
	run_free(&r);
}

/* A line over 998 octets goes out broken with CRLF SP, nothing lost. */
static void
test_long_line(void)
{
	struct srv_opts o = { .pipelining = true, .eightbit = true };
	struct srv *s = srv_start(&o);
	const char *one[] = { "ok@b.test" };
	char *msg = malloc(4000), *got, *p;
	size_t i, n = 0, l;
	struct run r;

	n += (size_t)sprintf(msg, "Subject: long\r\n\r\n");
	for (i = 0; i < 2500; i++)
		msg[n++] = (char)('a' + i % 26);
	n += (size_t)sprintf(msg + n, "\r\n.x\r\nend\r\n");
	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", one, 1, msg);
	r.nmsgs = 1;
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.rr[0][0].code, 250);
	CHECK_INT(s->r.msgs, 1);
	got = s->r.data[0];
	CHECK(got != NULL);
	if (got != NULL) {
		/* every line within 998 octets */
		for (p = got; *p != '\0'; p += l + 2) {
			l = strcspn(p, "\r");
			CHECK(l <= 998);
			if (p[l] == '\0')
				break;
		}
		/* unbroken, it is the original */
		n = 0;
		for (p = got; *p != '\0'; p++) {
			if (p[0] == '\r' && p[1] == '\n' && p[2] == ' ') {
				p += 2;
				continue;
			}
			got[n++] = *p;
		}
		got[n] = '\0';
		CHECK_STR(got, msg);
	}
	free(msg);
	run_free(&r);
}

/* 8-bit content to a server without 8BITMIME: quoted-printable, or 5.6.3 */
static void
test_8bit_downgrade(void)
{
	struct srv_opts o = { .pipelining = true };
	struct srv *s = srv_start(&o);
	const char *one[] = { "ok@b.test" };
	struct run r;

	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", one, 1, "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9 = ok\r\n");
	r.msgs[0].flags = ENV_8BITMIME;
	msg_init(&r.msgs[1], "s@a.test", one, 1, "Subject: caf\xc3\xa9\r\n"
	    "\r\nbody\r\n");
	r.msgs[1].flags = ENV_8BITMIME;
	r.nmsgs = 2;
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.rr[0][0].code, 250);
	CHECK_INT(s->r.msgs, 1);
	CHECK(strstr(s->r.cmds, "BODY=8BITMIME") == NULL);
	CHECK(s->r.data[0] != NULL && strcmp(s->r.data[0],
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "caf=C3=A9 =3D ok\r\n") == 0);
	CHECK_INT(r.downgrades, 1);
	CHECK(strstr(r.note, "converted to 7 bit") != NULL);
	/* an 8-bit header cannot be converted: returned, never sent */
	CHECK_INT(r.done[1].fail, SMTP_FAIL_PERM);
	CHECK_STR(r.done_reply[1].esc, "5.6.3");
	CHECK_STR(r.rr[1][0].esc, "5.6.3");
	run_free(&r);
}

/* SMTPUTF8 without the extension: ASCII envelope and headers go without it */
static void
test_smtputf8_ascii(void)
{
	struct srv_opts o = { .pipelining = true, .eightbit = true };
	struct srv *s = srv_start(&o);
	const char *one[] = { "ok@b.test" };
	struct run r;

	memset(&r, 0, sizeof(r));
	msg_init(&r.msgs[0], "s@a.test", one, 1, "Subject: plain\r\n"
	    "\r\nbody caf\xc3\xa9\r\n");
	r.msgs[0].flags = ENV_SMTPUTF8;
	msg_init(&r.msgs[1], "s@a.test", one, 1, "Subject: caf\xc3\xa9\r\n"
	    "\r\nbody\r\n");
	r.msgs[1].flags = ENV_SMTPUTF8 | ENV_8BITMIME;
	r.nmsgs = 2;
	run_client(&r, s->port, NULL, 0);
	srv_stop(s);
	CHECK_INT(r.rr[0][0].code, 250);
	CHECK_INT(s->r.msgs, 1);
	CHECK(strstr(s->r.cmds, "SMTPUTF8") == NULL);
	/* 8-bit body: the server offers 8BITMIME, so it is declared */
	CHECK(strstr(s->r.cmds, "MAIL FROM:<s@a.test> BODY=8BITMIME") != NULL);
	CHECK(s->r.data[0] != NULL && strstr(s->r.data[0],
	    "body caf\xc3\xa9") != NULL);
	CHECK(strstr(r.note, "without SMTPUTF8") != NULL);
	CHECK_INT(r.done[1].fail, SMTP_FAIL_PERM);
	CHECK_STR(r.done_reply[1].esc, "5.6.7");
	CHECK(strstr(r.done_reply[1].text, "non-ASCII message header") != NULL);
	run_free(&r);
}

/* ------------------------------------------------------------------ */
/* "send" mode for scripts */

static void
p_event(void *arg, const struct smtp_event *ev)
{
	switch (ev->type) {
	case SMTP_EV_CONNECTED:
		printf("connected %s\n", ev->text);
		break;
	case SMTP_EV_TLS:
		printf("tls %s%s%s\n", ev->tls->desc,
		    ev->tls->resumed ? " resumed" : "",
		    ev->tls->dane.authenticated ? " (DANE)" : " (unauthenticated)");
		break;
	case SMTP_EV_TLS_SKIPPED:
		printf("tls-skipped %s\n", ev->text);
		break;
	case SMTP_EV_DOWNGRADE:
		printf("downgrade %s\n", ev->text);
		break;
	case SMTP_EV_REPLY:
		printf("reply %s: %s\n", smtp_stage_name(ev->stage),
		    ev->reply->text);
		break;
	}
}

static void
p_rcpt(void *arg, const struct smtp_rcpt_result *rr)
{
	struct run *r = arg;

	printf("rcpt %s %d %s\n", r->msgs[0].rcpts[rr->idx], rr->reply->code,
	    rr->reply->text);
}

static void
p_done(void *arg, const struct smtp_msg_result *m)
{
	struct run *r = arg;

	printf("done %s accepted %zu\n", smtp_fail_name(m->fail), m->accepted);
	r->ndone++;
	if (r->ndone < r->nmsgs)
		smtp_client_send(r->c, &r->msgs[r->ndone]);
	else
		smtp_client_quit(r->c);
}

static void
p_ready(void *arg)
{
	struct run *r = arg;

	printf("ready\n");
	smtp_client_send(r->c, &r->msgs[0]);
}

static void
p_closed(void *arg, const struct smtp_failure *f)
{
	struct run *r = arg;

	printf("closed %s%s%s: %s\n", smtp_fail_name(f->fail),
	    f->rpt ? " " : "", tlsrpt_name(f->rpt), f->why);
	r->closed = true;
	r->fail.fail = f->fail;
}

static int
send_mode(int argc, char **argv)
{
	static const struct smtp_client_cbs pcbs = {
		p_event, p_ready, p_rcpt, p_done, p_closed
	};
	struct smtp_client_params p;
	struct sockaddr_storage ss;
	struct run r;
	char buf[65536];
	size_t n;
	FILE *f;
	int i, k, count = 1, conns = 1, rc = 0;

	if (argc < 7) {
		fprintf(stderr, "usage: test_smtp_client send HOST PORT "
		    "none|may|encrypt FROM TO... < message\n");
		return 2;
	}
	memset(&ss, 0, sizeof(ss));
	memset(&p, 0, sizeof(p));
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (inet_pton(AF_INET, argv[2], &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)atoi(argv[3]));
		p.salen = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, argv[2], &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)atoi(argv[3]));
		p.salen = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "bad address %s\n", argv[2]);
		return 2;
	}
	if (getenv("COUNT"))
		count = atoi(getenv("COUNT"));
	if (count < 1 || count > 4)
		count = 1;
	if (getenv("CONNS"))
		conns = atoi(getenv("CONNS"));
	if (conns < 1 || conns > 10)
		conns = 1;
	p.sa = (struct sockaddr *)&ss;
	p.host = "mx";
	p.helo_name = "relay.test";
	p.tls = TC;
	p.sec.level = strcmp(argv[4], "encrypt") == 0 ? TLS_LEVEL_ENCRYPT :
	    strcmp(argv[4], "may") == 0 ? TLS_LEVEL_MAY : TLS_LEVEL_NONE;
	p.connect_timeout = p.greeting_timeout = p.command_timeout = 30;
	p.data_timeout = p.data_done_timeout = 60;
	f = tmpfile();
	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
		fwrite(buf, 1, n, f);
	fflush(f);
	/* COUNT messages per connection, CONNS connections one after the
	 * other in this process (so the TLS session cache is shared). */
	for (k = 0; k < conns; k++) {
		memset(&r, 0, sizeof(r));
		for (i = 0; i < count; i++) {
			char path[64];

			/* own file offset per message: reopen via /proc */
			snprintf(path, sizeof(path), "/proc/self/fd/%d",
			    fileno(f));
			r.msgs[i].sender = argv[5];
			r.msgs[i].rcpts = (const char *const *)argv + 6;
			r.msgs[i].nrcpts = (size_t)(argc - 6);
			r.msgs[i].fd = open(path, O_RDONLY);
			r.msgs[i].size = (uint64_t)ftell(f);
		}
		r.nmsgs = count;
		r.base = event_base_new();
		printf("connection %d\n", k + 1);
		r.c = smtp_client_connect(r.base, &p, &pcbs, &r);
		if (r.c == NULL) {
			perror("smtp_client_connect");
			return 1;
		}
		event_base_dispatch(r.base);
		event_base_free(r.base);
		for (i = 0; i < count; i++)
			close(r.msgs[i].fd);
		if (!r.closed || r.fail.fail != SMTP_FAIL_NONE)
			rc = 1;
	}
	fclose(f);
	return rc;
}

int
main(int argc, char **argv)
{
	char err[256];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	tls_init();
	TC = tls_client_new(0, err, sizeof(err));
	if (TC == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (argc > 1 && strcmp(argv[1], "send") == 0) {
		rc = send_mode(argc, argv);
		tls_client_free(TC);
		return rc;
	}
	srv_key = EVP_EC_gen("P-256");
	other_key = EVP_EC_gen("P-256");
	srv_cert = mkcert(srv_key, "mx.test", 86400);

	test_three_rcpts(true);
	test_three_rcpts(false);
	test_big_message(false);
	test_big_message(true);
	test_reuse(true);
	test_reuse(false);
	test_421_banner();
	test_helo_fallback();
	test_starttls();
	test_tls_records(1);
	test_tls_records(2);
	test_starttls_record();
	test_dane_levels();
	test_dane_server_view();
	test_starttls_missing();
	test_connect_refused();
	test_mail_refused(true);
	test_mail_refused(false);
	test_local_refusals();
	test_all_rcpts_refused(true);
	test_all_rcpts_refused(false);
	test_dot_refused();
	test_data_refused();
	test_lost(true);
	test_lost(false);
	test_421_rcpt();
	test_bad_replies();
	test_greeting_timeout();
	test_free_in_callback();
	test_trickle();
	test_long_line();
	test_8bit_downgrade();
	test_smtputf8_ascii();

	srv_free_all();
	tls_client_free(TC);
	X509_free(srv_cert);
	EVP_PKEY_free(srv_key);
	EVP_PKEY_free(other_key);
	return check_done("test_smtp_client");
}
