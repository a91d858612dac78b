/*
 * tests/fuzz/fuzz_dsn.c - the bounce builder (relay/dsn.c dsn_build()) on
 * hostile text: the remote server's reply (Diagnostic-Code and the human
 * readable part), the MX name a zone supplied (Remote-MTA), the client's
 * addresses and the original message's headers, which the DSN quotes.
 *
 * Input: 1 octet (number of recipients, 1-4, and the headers' cut), then
 * NUL-separated fields: the sender, then per recipient addr, status, diag,
 * remote_mta, note (an empty note or remote_mta: none); whatever follows
 * is the original's header block. Each field is held to what can reach
 * dsn_build() (relay/scheduler.c sched_bounce()): addresses as the SMTP
 * parser passes them (at most SMTP_PATH_MAX octets, no control octet);
 * the reply as relay/smtp_client.c joins it, or our own reason, which may
 * quote names and run longer (any octet but NUL: a bare CR stays inside a
 * reply line, and a reason read back from the journal may hold CR or LF);
 * a name in presentation form; headers with CRLF line ends only and lines
 * of at most 998 octets (relay/smtp_data.c), cut at a line end the way
 * dsn_read_headers() cuts them.
 *
 * Checked: CRLF line ends only, no line over 998 octets (RFC 5322 2.1.1);
 * the boundary delimits exactly the three parts and ends the message (RFC
 * 2046 5.1.1: it must not occur inside a part); in the delivery-status
 * part every line is one of our fields or a non-blank continuation, with
 * one group per recipient (RFC 3464 2.1); peer text never starts a line
 * in the notification; and no peer octet is lost: the non-blank octets of
 * each address, remote MTA and reply reappear, in order, in its field.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/dsn.h"
#include "relay/smtp_client.h"
#include "relay/smtp_parse.h"
#include "tests/fuzz/fuzz.h"

#include <stdbool.h>
#include <string.h>

#define MAX_RCPTS	4
#define LINE_MAX_OCTETS	998		/* RFC 5322 2.1.1, without CRLF */
#define HEADERS_MAX	(64 * 1024)	/* relay/scheduler.c DSN_HEADERS_MAX */
#define NAME_TEXT_MAX	(4 * 255)	/* resolver/rr.c: \DDD per octet */
#define STATUS_MAX	15		/* relay/scheduler.c status[16] */
#define NOTE_MAX	128
/* a reply (SMTP_REPLY_MAX) or our own reason, which may quote names */
#define DIAG_MAX	(4 * SMTP_REPLY_MAX)

static const char HOSTNAME[] = "relay.example.org";
static const char QUEUE_ID[] = "0VA1J8X5TB4K2QM";
static const time_t NOW = 1767225600;

struct field {
	const char	*p;
	size_t		 len;
};

/* The next NUL-terminated field, or the rest of the input. */
static struct field
next_field(const uint8_t **data, size_t *size)
{
	struct field f = { (const char *)*data, *size };
	const uint8_t *nul = memchr(*data, '\0', *size);

	if (nul != NULL) {
		f.len = (size_t)(nul - *data);
		*data = nul + 1;
		*size -= f.len + 1;
	} else {
		*data += *size;
		*size = 0;
	}
	return f;
}

/*
 * Copy f, at most max octets, dropping the octets that cannot reach
 * dsn_build() in this field: mode 'a' (an address: controls and DEL),
 * 'r' (a reply or a note: none), 'n' (a name in presentation form: anything
 * but printable ASCII).
 */
static char *
field_str(struct field f, size_t max, int mode)
{
	char *s = malloc(f.len + 1);
	size_t i, n = 0;

	FUZZ_ASSERT(s != NULL);
	for (i = 0; i < f.len && n < max; i++) {
		unsigned char c = (unsigned char)f.p[i];

		if (mode == 'a' && (c < 0x20 || c == 0x7f))
			continue;
		if (mode == 'n' && (c <= 0x20 || c >= 0x7f))
			continue;
		s[n++] = (char)c;
	}
	s[n] = '\0';
	return s;
}

/*
 * The header block as the spool holds it: LF or CR ends a line, lines cut
 * at 998 octets, NUL dropped (relay/smtp_data.c refuses or strips those),
 * CRLF line ends; then cut at the empty line that ends the header
 * block, or at a line end within max (dsn_read_headers()).
 */
static char *
headers_from(struct field f, size_t max, size_t *lenp)
{
	char *h = malloc(f.len * 2 + 3);
	size_t i, n = 0, col = 0, lastline = 0;

	FUZZ_ASSERT(h != NULL);
	for (i = 0; i < f.len; i++) {
		char c = f.p[i];

		if (c == '\0')
			continue;
		if (c == '\r' || c == '\n' || col == LINE_MAX_OCTETS) {
			if (col == 0 && (c == '\r' || c == '\n'))
				break;		/* the empty line */
			h[n++] = '\r';
			h[n++] = '\n';
			col = 0;
			if (n <= max)
				lastline = n;
			if (c == '\r' && i + 1 < f.len && f.p[i + 1] == '\n')
				i++;
			if (c == '\r' || c == '\n')
				continue;
		}
		h[n++] = c;
		col++;
	}
	*lenp = lastline;
	h[lastline] = '\0';
	return h;
}

/* The non-blank octets of s[0..n), in order, into out. */
static size_t
squeeze(const char *s, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
		    s[i] != '\n')
			out[o++] = s[i];
	return o;
}

struct line {
	const char	*p;
	size_t		 len;		/* without CRLF */
};

static bool
blank(const struct line *l)
{
	size_t i;

	for (i = 0; i < l->len; i++)
		if (l->p[i] != ' ' && l->p[i] != '\t')
			return false;
	return true;
}

static bool
line_is(const struct line *l, const char *s)
{
	return l->len == strlen(s) && memcmp(l->p, s, l->len) == 0;
}

static bool
line_starts(const struct line *l, const char *s)
{
	return l->len >= strlen(s) && memcmp(l->p, s, strlen(s)) == 0;
}

/*
 * The field starting at lines[*i] (name "Name:" then value), unfolded:
 * its continuation lines appended; *i moves past it. Its non-blank
 * octets, the name left out, are compared with want's.
 */
static void
check_field(const struct line *lines, size_t nlines, size_t *i,
    const char *name, const char *want)
{
	size_t wl = strlen(want), got = 0, k;
	char *a = malloc(wl + 1), *b;
	size_t na = squeeze(want, wl, a), total = 0;

	FUZZ_ASSERT(line_starts(&lines[*i], name));
	for (k = *i; k < nlines && (k == *i || (lines[k].len > 0 &&
	    (lines[k].p[0] == ' ' || lines[k].p[0] == '\t'))); k++)
		total += lines[k].len;
	b = malloc(total + 1);
	FUZZ_ASSERT(a != NULL && b != NULL);
	got = squeeze(lines[*i].p + strlen(name), lines[*i].len -
	    strlen(name), b);
	for (k = *i + 1; k < nlines && lines[k].len > 0 &&
	    (lines[k].p[0] == ' ' || lines[k].p[0] == '\t'); k++)
		got += squeeze(lines[k].p, lines[k].len, b + got);
	FUZZ_ASSERT(got == na && memcmp(a, b, na) == 0);
	*i = k;
	free(a);
	free(b);
}

static void
check_dsn(const char *t, size_t len, const struct dsn_info *in)
{
	char boundary[128], delim[132], close[134];
	const char *b, *e;
	struct line *lines;
	size_t nlines = 0, i, k, part = 0, r;
	size_t start[3] = { 0, 0, 0 };

	/* The boundary the message declares; the headers must not hold it. */
	b = strstr(t, "\r\n\tboundary=\"");
	FUZZ_ASSERT(b != NULL);
	b += 13;
	e = strchr(b, '"');
	FUZZ_ASSERT(e != NULL && (size_t)(e - b) < sizeof(boundary));
	memcpy(boundary, b, (size_t)(e - b));
	boundary[e - b] = '\0';
	FUZZ_ASSERT(in->headers_len == 0 || memmem(in->headers,
	    in->headers_len, boundary, strlen(boundary)) == NULL);
	snprintf(delim, sizeof(delim), "--%s", boundary);
	snprintf(close, sizeof(close), "--%s--", boundary);

	/* CRLF only, every line within the limit. */
	FUZZ_ASSERT(len >= 2 && t[len - 2] == '\r' && t[len - 1] == '\n');
	lines = malloc((len / 2 + 1) * sizeof(*lines));
	FUZZ_ASSERT(lines != NULL);
	for (i = 0; i < len; ) {
		const char *cr = memchr(t + i, '\r', len - i);
		const char *lf = memchr(t + i, '\n', len - i);

		FUZZ_ASSERT(cr != NULL && cr + 1 == lf);
		FUZZ_ASSERT(memchr(t + i, '\0', (size_t)(cr - (t + i))) ==
		    NULL);
		lines[nlines].p = t + i;
		lines[nlines].len = (size_t)(cr - (t + i));
		FUZZ_ASSERT(lines[nlines].len <= LINE_MAX_OCTETS);
		nlines++;
		i = (size_t)(lf - t) + 1;
	}

	/* The boundary: three parts, then the close line, the last one. */
	for (i = 0; i < nlines; i++) {
		if (line_is(&lines[i], delim)) {
			FUZZ_ASSERT(part < 3);
			start[part++] = i + 1;
		} else if (i + 1 < nlines)
			FUZZ_ASSERT(!line_starts(&lines[i], delim));
	}
	FUZZ_ASSERT(part == 3);
	FUZZ_ASSERT(line_is(&lines[nlines - 1], close));

	/* The notification: peer text never starts a line. */
	for (i = start[0]; i + 1 < start[1]; i++)
		FUZZ_ASSERT(lines[i].len == 0 || lines[i].p[0] == '<' ||
		    line_starts(&lines[i], "  ") ||
		    line_starts(&lines[i], "Content-") ||
		    line_starts(&lines[i], "This is the mail system") ||
		    line_starts(&lines[i], "I'm sorry") ||
		    line_starts(&lines[i], "be delivered"));

	/* The delivery status: our fields, one group per recipient. */
	i = start[1];
	while (lines[i].len > 0)		/* the part's MIME header */
		i++;
	i++;
	FUZZ_ASSERT(line_starts(&lines[i], "Reporting-MTA: "));
	for (i++; lines[i].len > 0; i++)
		FUZZ_ASSERT(line_starts(&lines[i], "X-Danerelay-Queue-ID: ") ||
		    line_starts(&lines[i], "Arrival-Date: "));
	for (r = 0; r < in->nrcpts; r++) {
		const struct dsn_rcpt *rc = &in->rcpts[r];

		FUZZ_ASSERT(lines[i].len == 0);
		i++;
		check_field(lines, nlines, &i, "Final-Recipient: rfc822;",
		    rc->addr);
		FUZZ_ASSERT(line_is(&lines[i], "Action: failed"));
		i++;
		FUZZ_ASSERT(line_starts(&lines[i], "Status: "));
		i++;
		if (rc->remote_mta != NULL && rc->remote_mta[0] != '\0')
			check_field(lines, nlines, &i, "Remote-MTA: dns;",
			    rc->remote_mta);
		FUZZ_ASSERT(line_starts(&lines[i], "Diagnostic-Code: "));
		k = i;
		check_field(lines, nlines, &i, line_starts(&lines[k],
		    "Diagnostic-Code: smtp;") ? "Diagnostic-Code: smtp;" :
		    "Diagnostic-Code: X-danerelay;", rc->diag);
		/* a continuation of blanks alone reads as a group's end */
		for (k++; k < i; k++)
			FUZZ_ASSERT(!blank(&lines[k]));
	}
	FUZZ_ASSERT(lines[i].len == 0 && i + 2 == start[2]);
	free(lines);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsn_rcpt rcpts[MAX_RCPTS];
	char *strs[1 + 5 * MAX_RCPTS], *hdr, *t;
	struct dsn_info in;
	size_t n, i, nstr = 0, hlen, hmax, len;

	if (size < 1)
		return -1;
	n = (size_t)(data[0] & 3) + 1;
	/* the cut: DSN_HEADERS_MAX, or small enough to fall inside */
	hmax = (data[0] & 4) ? (size_t)(data[0] >> 3) * 97 : HEADERS_MAX;
	data++;
	size--;

	memset(&in, 0, sizeof(in));
	in.hostname = HOSTNAME;
	in.queue_id = QUEUE_ID;
	in.arrival = NOW - 5 * 86400;
	in.now = NOW;
	strs[nstr++] = field_str(next_field(&data, &size), SMTP_PATH_MAX,
	    'a');
	in.sender = strs[0];
	for (i = 0; i < n; i++) {
		struct dsn_rcpt *r = &rcpts[i];

		r->addr = strs[nstr++] = field_str(next_field(&data, &size),
		    SMTP_PATH_MAX, 'a');
		r->status = strs[nstr++] = field_str(next_field(&data, &size),
		    STATUS_MAX, 'n');
		r->diag = strs[nstr++] = field_str(next_field(&data, &size),
		    DIAG_MAX, 'r');
		r->remote_mta = strs[nstr++] = field_str(next_field(&data,
		    &size), NAME_TEXT_MAX, 'n');
		r->note = strs[nstr++] = field_str(next_field(&data, &size),
		    NOTE_MAX, 'r');
		if (r->note[0] == '\0')
			r->note = NULL;
	}
	in.rcpts = rcpts;
	in.nrcpts = n;
	hdr = headers_from((struct field){ (const char *)data, size }, hmax,
	    &hlen);
	in.headers = hdr;
	in.headers_len = hlen;

	t = dsn_build(&in, &len);
	FUZZ_ASSERT(t != NULL && strlen(t) == len);
	check_dsn(t, len, &in);
	free(t);
	free(hdr);
	for (i = 0; i < nstr; i++)
		free(strs[i]);
	return 0;
}
