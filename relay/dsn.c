/*
 * relay/dsn.c - RFC 3464 bounces. dsn_build() is pure (the unit test
 * checks its text); dsn_read_headers() and dsn_queue() touch the spool.
 * The report is CRLF throughout, 7-bit apart from what the original's
 * headers carry. Address (256) + MX name (255) + reply (511) can exceed
 * the 998-octet line limit (RFC 5322 2.1.1), so the human-readable part
 * is wrapped at spaces and the delivery-status fields are folded (RFC
 * 3464 2.1 uses RFC 5322 field syntax, 2.2.3 folding); a word longer than
 * WORD_MAX is cut, so no line can exceed the limit whatever the input.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/dsn.h"
#include "queue/queue.h"
#include "relay/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct buf {
	char	*p;
	size_t	 len, cap;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->p = xreallocarray(b->p, 1, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_printf(struct buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
buf_printf(struct buf *b, const char *fmt, ...)
{
	char	 small[1024], *big;
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		buf_add(b, small, (size_t)n);
		return;
	}
	big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf_add(b, big, (size_t)n);
	free(big);
}

static void
rfc822_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

#define WRAP_COL	78	/* RFC 5322 2.1.1: SHOULD */
#define WORD_MAX	900	/* a word longer than this is cut (MUST: 998) */

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Append s, CR/LF turned into spaces (peer text cannot break the
 * structure), wrapped at WRAP_COL: a line break goes before a space, and
 * each continuation line starts with indent (" " folds a field, "  "
 * wraps body text). col: the column the text starts at. Runs of white space
 * are kept (CR/LF as spaces) where no break replaces them. sep: a space
 * goes before the first word too (leading white space of s is dropped).
 */
static void
buf_add_wrapped(struct buf *b, size_t col, const char *s, const char *indent,
    bool sep)
{
	size_t wl, wsl, gap, i, il = strlen(indent);
	bool first = true;

	for (;;) {
		for (wsl = 0; is_wsp(s[wsl]); wsl++)
			;
		if (s[wsl] == '\0')
			return;
		for (wl = 0; s[wsl + wl] != '\0' && !is_wsp(s[wsl + wl]); wl++)
			;
		gap = first ? (sep ? 1 : 0) : wsl;
		if (gap > 0 && col + gap + wl > WRAP_COL && col > il) {
			buf_add(b, "\r\n", 2);
			buf_add(b, indent, il);
			col = il;
		} else {
			/* the white space as it was, CR/LF made spaces */
			for (i = 0; i < gap; i++)
				buf_add(b, " ", 1);
			col += gap;
		}
		s += wsl;
		while (wl > WORD_MAX) {
			buf_add(b, s, WORD_MAX);
			buf_add(b, "\r\n", 2);
			buf_add(b, indent, il);
			col = il;
			s += WORD_MAX;
			wl -= WORD_MAX;
		}
		buf_add(b, s, wl);
		col += wl;
		s += wl;
		first = false;
	}
}

/* An SMTP reply starts with three digits: Diagnostic-Code type smtp. */
static int
is_smtp_reply(const char *s)
{
	return s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' &&
	    s[2] >= '0' && s[2] <= '9' && (s[3] == ' ' || s[3] == '-' ||
	    s[3] == '\0');
}

char *
dsn_build(const struct dsn_info *in, size_t *len)
{
	struct buf	 b = { NULL, 0, 0 };
	char		 date[64], boundary[128];
	size_t		 i;

	snprintf(boundary, sizeof(boundary), "%s.%lld/%s", in->queue_id,
	    (long long)in->now, in->hostname);
	/*
	 * RFC 2046 5.1.1: the boundary must not occur inside a part. Peer
	 * text in parts 1 and 2 never starts a line, but the quoted headers
	 * are the client's own lines: change the boundary until they do not
	 * hold it. Bounded: each try needs an occurrence of its own.
	 */
	for (i = 1; in->headers != NULL && memmem(in->headers,
	    in->headers_len, boundary, strlen(boundary)) != NULL; i++)
		snprintf(boundary, sizeof(boundary), "%s.%lld.%zu/%s",
		    in->queue_id, (long long)in->now, i, in->hostname);
	rfc822_date(in->now, date, sizeof(date));

	buf_printf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n",
	    in->hostname);
	buf_printf(&b, "To: <%s>\r\n", in->sender);
	buf_printf(&b, "Subject: Undelivered Mail Returned to Sender\r\n");
	buf_printf(&b, "Date: %s\r\n", date);
	buf_printf(&b, "Message-ID: <%s.%lld.dsn@%s>\r\n", in->queue_id,
	    (long long)in->now, in->hostname);
	buf_printf(&b, "Auto-Submitted: auto-replied\r\n");
	buf_printf(&b, "MIME-Version: 1.0\r\n");
	buf_printf(&b, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n", boundary);
	buf_printf(&b, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

	/* 1: human readable */
	buf_printf(&b, "--%s\r\n", boundary);
	buf_printf(&b, "Content-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	buf_printf(&b, "This is the mail system at host %s.\r\n\r\n",
	    in->hostname);
	buf_printf(&b, "I'm sorry to have to inform you that your message "
	    "could not\r\nbe delivered to one or more recipients. "
	    "It's attached below.\r\n\r\n");
	for (i = 0; i < in->nrcpts; i++) {
		const struct dsn_rcpt *r = &in->rcpts[i];
		struct buf para = { NULL, 0, 0 };

		buf_printf(&para, "<%s>: ", r->addr);
		if (r->remote_mta != NULL && r->remote_mta[0] != '\0')
			buf_printf(&para, "host %s said: ", r->remote_mta);
		buf_printf(&para, "%s", r->diag);
		if (r->note != NULL)
			buf_printf(&para, " (%s)", r->note);
		/* continuation lines indented: peer text never starts a
		 * line (a "--boundary" of its own cannot end the part) */
		buf_add_wrapped(&b, 0, para.p, "  ", false);
		free(para.p);
		buf_printf(&b, "\r\n\r\n");
	}

	/* 2: machine readable */
	buf_printf(&b, "--%s\r\n", boundary);
	buf_printf(&b, "Content-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n\r\n");
	rfc822_date(in->arrival, date, sizeof(date));
	buf_printf(&b, "Reporting-MTA: dns; %s\r\n", in->hostname);
	buf_printf(&b, "X-Danerelay-Queue-ID: %s\r\n", in->queue_id);
	buf_printf(&b, "Arrival-Date: %s\r\n", date);
	for (i = 0; i < in->nrcpts; i++) {
		const struct dsn_rcpt *r = &in->rcpts[i];
		const char *type = is_smtp_reply(r->diag) ? "smtp" :
		    "X-danerelay";

		buf_printf(&b, "\r\nFinal-Recipient: rfc822;");
		buf_add_wrapped(&b, 24, r->addr, " ", true);
		buf_printf(&b, "\r\nAction: failed\r\n");
		buf_printf(&b, "Status: %s\r\n", r->status);
		if (r->remote_mta != NULL && r->remote_mta[0] != '\0') {
			buf_printf(&b, "Remote-MTA: dns;");
			buf_add_wrapped(&b, 16, r->remote_mta, " ", true);
			buf_printf(&b, "\r\n");
		}
		buf_printf(&b, "Diagnostic-Code: %s;", type);
		buf_add_wrapped(&b, 18 + strlen(type), r->diag, " ", true);
		buf_printf(&b, "\r\n");
	}
	buf_printf(&b, "\r\n");

	/* 3: the original's headers */
	buf_printf(&b, "--%s\r\n", boundary);
	buf_printf(&b, "Content-Description: Undelivered Message Headers\r\n"
	    "Content-Type: text/rfc822-headers\r\n\r\n");
	if (in->headers != NULL && in->headers_len > 0) {
		buf_add(&b, in->headers, in->headers_len);
		if (in->headers_len < 2 ||
		    memcmp(in->headers + in->headers_len - 2, "\r\n", 2) != 0)
			buf_printf(&b, "\r\n");
	}
	buf_printf(&b, "\r\n--%s--\r\n", boundary);
	*len = b.len;
	return b.p;
}

char *
dsn_read_headers(struct queue *q, const char *id, size_t max, size_t *lenp)
{
	char		*buf, *end;
	size_t		 len = 0;
	uint64_t	 size;
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = queue_content_open(q, id, &size)) == -1)
		return NULL;
	buf = xmalloc(max + 1);
	while (len < max) {
		n = read(fd, buf + len, max - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			close(fd);
			free(buf);
			errno = saved;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (memmem(buf, len, "\r\n\r\n", 4) != NULL)
			break;
	}
	close(fd);
	buf[len] = '\0';
	/* headers only: up to the empty line, or whole lines of what we read */
	if ((end = memmem(buf, len, "\r\n\r\n", 4)) != NULL)
		len = (size_t)(end - buf) + 2;
	else if (buf[0] == '\r' && len >= 2 && buf[1] == '\n')
		len = 0;
	else {
		while (len > 0 && buf[len - 1] != '\n')
			len--;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

static bool
has_8bit(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

struct queue_msg *
dsn_queue(struct queue *q, const struct dsn_info *in)
{
	struct queue_msg	*m;
	const char		*rcpt = in->sender;
	char			*text;
	size_t			 len;
	unsigned		 flags = ENV_DSN;
	int			 saved;

	text = dsn_build(in, &len);
	/* quoted 8-bit headers, or a UTF-8 sender to return to */
	if (has_8bit(text, len))
		flags |= ENV_8BITMIME;
	if (has_8bit(rcpt, strlen(rcpt)))
		flags |= ENV_SMTPUTF8;
	if ((m = queue_msg_new(q, "", flags, &rcpt, 1, NULL, NULL)) == NULL) {
		saved = errno;
		free(text);
		errno = saved;
		return NULL;
	}
	if (queue_msg_write(m, text, len) == -1) {
		saved = errno;
		free(text);
		queue_msg_abort(m);
		errno = saved;
		return NULL;
	}
	free(text);
	return m;
}
