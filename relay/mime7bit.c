/*
 * relay/mime7bit.c - 8-bit to 7-bit MIME downgrade (see mime7bit.h).
 *
 * Shape: recursive descent over the message in memory (mmap of the spool
 * file), one entity at a time: its header block, then by Content-Type a
 * multipart body (preamble, parts, epilogue), an embedded message, or a
 * leaf body. Every entity ends at the first line that is a delimiter of
 * any enclosing multipart (the boundary stack), so a part missing its
 * close delimiter cannot swallow its parent. Output goes through a small
 * buffered writer; the first error (I/O or a refusal) stops the walk and
 * the caller throws the partial output away.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/mime7bit.h"
#include "relay/util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define QP_LINE_MAX	76	/* RFC 2045 6.7 (5): encoded line length */
#define BOUNDARY_MAX	70	/* RFC 2046 5.1.1 */
#define OUTBUF		65536

struct m7 {
	const unsigned char	*p, *end;	/* the message */
	int			 outfd;		/* -1: classify only */
	unsigned char		 buf[OUTBUF];
	size_t			 blen;
	enum m7_result		 res;		/* worst so far */
	bool			 failed;	/* stop: res and why say why */
	bool			 unconv;	/* M7_UNCONVERTIBLE, walk on */
	char			*why;
	size_t			 whylen;
	/* enclosing multipart boundaries, innermost last */
	char			 bnd[M7_MAX_DEPTH][BOUNDARY_MAX + 1];
	size_t			 bndlen[M7_MAX_DEPTH];
	int			 nbnd;
};

/* What an entity's header block says. */
struct m7_head {
	const unsigned char	*hs;		/* first header octet */
	const unsigned char	*blank;		/* the empty line (or he) */
	const unsigned char	*he;		/* after the empty line */
	const unsigned char	*cte_s, *cte_e;	/* the CTE field, NULL if none */
	bool			 mime_version;
	bool			 has_ctype;
	char			 type[64];	/* "text/plain", lower case */
	char			 boundary[BOUNDARY_MAX + 1];
	char			 cte[32];	/* lower case, "" if none */
};

const char *
mime7bit_result_name(enum m7_result r)
{
	switch (r) {
	case M7_ASCII:		return "ascii";
	case M7_CONVERTED:	return "converted";
	case M7_HEADER_8BIT:	return "8-bit header";
	case M7_UNCONVERTIBLE:	return "unconvertible";
	case M7_ERROR:		return "error";
	}
	return "?";
}

/* --- output --- */

static void
m7_flush(struct m7 *m)
{
	size_t off = 0;
	ssize_t n;

	while (off < m->blen && !m->failed) {
		n = write(m->outfd, m->buf + off, m->blen - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			m->failed = true;
			m->res = M7_ERROR;
			snprintf(m->why, m->whylen, "writing: %s", strerror(errno));
			break;
		}
		off += (size_t)n;
	}
	m->blen = 0;
}

static void
m7_out(struct m7 *m, const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t take;

	if (m->outfd == -1 || m->failed)
		return;
	while (n > 0) {
		if (m->blen == sizeof(m->buf))
			m7_flush(m);
		if (m->failed)
			return;
		take = sizeof(m->buf) - m->blen;
		if (take > n)
			take = n;
		memcpy(m->buf + m->blen, p, take);
		m->blen += take;
		p += take;
		n -= take;
	}
}

static void
m7_outs(struct m7 *m, const char *s)
{
	m7_out(m, s, strlen(s));
}

/*
 * 8-bit octets where no encoding applies: the message is refused, but the
 * walk goes on, so that an 8-bit header further on still decides (the
 * caller tells 5.6.7 from 5.6.3 by it). The first reason wins.
 */
static void
m7_unconvertible(struct m7 *m, const char *why)
{
	if (m->unconv || m->failed)
		return;
	m->unconv = true;
	snprintf(m->why, m->whylen, "%s", why);
}

/* Refuse the message and stop: the first reason wins. */
static void
m7_refuse(struct m7 *m, enum m7_result r, const char *why)
{
	if (m->failed)
		return;
	m->failed = true;
	m->res = r;
	snprintf(m->why, m->whylen, "%s", why);
}

/* --- lines --- */

/* The line at p: returns the start of the next line; *le = end of content. */
static const unsigned char *
m7_line(const unsigned char *p, const unsigned char *end,
    const unsigned char **le)
{
	const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));

	if (nl == NULL) {
		*le = end;
		return end;
	}
	*le = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
	return nl + 1;
}

static bool
has_8bit(const unsigned char *p, const unsigned char *e)
{
	for (; p < e; p++)
		if (*p >= 0x80)
			return true;
	return false;
}

/*
 * Is [p, le) a delimiter of an enclosing multipart? Returns its level
 * (index into the stack) or -1; *close: it is a close delimiter.
 */
static int
m7_boundary(const struct m7 *m, const unsigned char *p,
    const unsigned char *le, bool *close)
{
	size_t n = (size_t)(le - p), bl;
	const unsigned char *q;
	int i;

	if (n < 3 || p[0] != '-' || p[1] != '-')
		return -1;
	for (i = m->nbnd - 1; i >= 0; i--) {
		bl = m->bndlen[i];
		if (n < 2 + bl || memcmp(p + 2, m->bnd[i], bl) != 0)
			continue;
		q = p + 2 + bl;
		*close = false;
		if (le - q >= 2 && q[0] == '-' && q[1] == '-') {
			*close = true;
			q += 2;
		}
		while (q < le && (*q == ' ' || *q == '\t'))	/* padding */
			q++;
		if (q == le)
			return i;
	}
	return -1;
}

/* --- header parsing --- */

static const char *
skip_cfws(const char *s)
{
	int depth;

	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (*s != '(')
			return s;
		for (depth = 0; *s != '\0'; s++) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			else if (*s == '(')
				depth++;
			else if (*s == ')' && --depth == 0) {
				s++;
				break;
			}
		}
	}
}

static int
tolower_ascii(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static const char *
token(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	while (*s != '\0' && strchr(" \t\r\n()<>@,;:\\\"/[]?=", *s) == NULL) {
		if (n + 1 < outlen)
			out[n++] = (char)tolower_ascii((unsigned char)*s);
		s++;
	}
	out[n] = '\0';
	return s;
}

/* Content-Type value: type/subtype and the boundary parameter. */
static void
parse_ctype(const char *v, struct m7_head *h)
{
	char t[32], st[32], name[32], val[BOUNDARY_MAX + 2];
	size_t n;

	v = skip_cfws(v);
	v = token(v, t, sizeof(t));
	v = skip_cfws(v);
	if (*v != '/')
		return;
	v = skip_cfws(v + 1);
	v = token(v, st, sizeof(st));
	snprintf(h->type, sizeof(h->type), "%s/%s", t, st);
	for (;;) {
		v = skip_cfws(v);
		if (*v != ';')
			return;
		v = skip_cfws(v + 1);
		v = token(v, name, sizeof(name));
		v = skip_cfws(v);
		if (*v != '=')
			return;
		v = skip_cfws(v + 1);
		n = 0;
		if (*v == '"') {
			for (v++; *v != '\0' && *v != '"'; v++) {
				if (*v == '\\' && v[1] != '\0')
					v++;
				if (n + 1 < sizeof(val))
					val[n++] = *v;
			}
			if (*v == '"')
				v++;
		} else {
			while (*v != '\0' && strchr(" \t\r\n()<>@,;:\\\"/[]?=",
			    *v) == NULL) {
				if (n + 1 < sizeof(val))
					val[n++] = *v;
				v++;
			}
		}
		val[n] = '\0';
		if (strcmp(name, "boundary") == 0 && n > 0 && n <= BOUNDARY_MAX)
			memcpy(h->boundary, val, n + 1);
	}
}

/*
 * Read the header block at *pos (ends at an empty line, at a delimiter
 * of an enclosing multipart, or at the end). 8-bit octets in it refuse
 * the message.
 */
static void
m7_headers(struct m7 *m, const unsigned char **pos, struct m7_head *h)
{
	const unsigned char *p = *pos, *le, *next, *fs, *fe;
	char field[1024];
	size_t n;
	bool close;

	memset(h, 0, sizeof(*h));
	h->hs = p;
	while (p < m->end) {
		next = m7_line(p, m->end, &le);
		if (le == p) {			/* the empty line */
			h->blank = p;
			h->he = next;
			*pos = next;
			goto done;
		}
		if (m7_boundary(m, p, le, &close) >= 0)
			break;			/* no body */
		/* one field: this line and its continuation lines */
		fs = p;
		fe = next;
		while (fe < m->end && (*fe == ' ' || *fe == '\t'))
			fe = m7_line(fe, m->end, &le);
		if (has_8bit(fs, fe)) {
			m7_refuse(m, M7_HEADER_8BIT, "8-bit octets in a header");
			return;
		}
		n = (size_t)(fe - fs);
		if (n >= sizeof(field))
			n = sizeof(field) - 1;
		memcpy(field, fs, n);
		field[n] = '\0';
		if (strncasecmp(field, "Content-Type:", 13) == 0) {
			h->has_ctype = true;
			parse_ctype(field + 13, h);
		} else if (strncasecmp(field, "Content-Transfer-Encoding:",
		    26) == 0) {
			token(skip_cfws(field + 26), h->cte, sizeof(h->cte));
			h->cte_s = fs;
			h->cte_e = fe;
		} else if (strncasecmp(field, "MIME-Version:", 13) == 0)
			h->mime_version = true;
		p = fe;
	}
	h->blank = p;
	h->he = p;
	*pos = p;
done:
	return;
}

/*
 * Write the header block with the CTE field replaced by `cte` (NULL:
 * unchanged) and `extra` (complete lines, or NULL) added at its end.
 */
static void
m7_put_headers(struct m7 *m, const struct m7_head *h, const char *cte,
    const char *extra)
{
	if (cte != NULL && h->cte_s != NULL) {
		m7_out(m, h->hs, (size_t)(h->cte_s - h->hs));
		m7_out(m, h->cte_e, (size_t)(h->blank - h->cte_e));
	} else
		m7_out(m, h->hs, (size_t)(h->blank - h->hs));
	if (extra != NULL)
		m7_outs(m, extra);
	if (cte != NULL) {
		m7_outs(m, "Content-Transfer-Encoding: ");
		m7_outs(m, cte);
		m7_outs(m, "\r\n");
	}
	m7_out(m, h->blank, (size_t)(h->he - h->blank));
}

/* --- bodies --- */

/* Where the body at p ends: the first enclosing delimiter line, or end. */
static const unsigned char *
m7_body_end(const struct m7 *m, const unsigned char *p)
{
	const unsigned char *le, *next;
	bool close;

	while (p < m->end) {
		next = m7_line(p, m->end, &le);
		if (m7_boundary(m, p, le, &close) >= 0)
			return p;
		p = next;
	}
	return p;
}

/* Quoted-printable (RFC 2045 6.7), line by line; CRLF hard breaks. */
static void
m7_qp(struct m7 *m, const unsigned char *p, const unsigned char *e)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *le, *next, *q;
	unsigned char tok[3];
	size_t col, tl;

	while (p < e && !m->failed) {
		next = m7_line(p, e, &le);
		col = 0;
		for (q = p; q < le; q++) {
			if ((*q >= 33 && *q <= 126 && *q != '=') ||
			    ((*q == ' ' || *q == '\t') && q + 1 < le)) {
				tok[0] = *q;
				tl = 1;
			} else {
				tok[0] = '=';
				tok[1] = (unsigned char)hex[*q >> 4];
				tok[2] = (unsigned char)hex[*q & 15];
				tl = 3;
			}
			/* room for the token and a soft break's "=" */
			if (col + tl > QP_LINE_MAX - 1) {
				m7_outs(m, "=\r\n");
				col = 0;
			}
			m7_out(m, tok, tl);
			col += tl;
		}
		if (next > le || le < e)	/* the line had an end */
			m7_outs(m, "\r\n");
		p = next;
	}
}

static bool
cte_identity(const char *cte)
{
	return cte[0] == '\0' || strcmp(cte, "7bit") == 0 ||
	    strcmp(cte, "8bit") == 0 || strcmp(cte, "binary") == 0;
}

static void m7_entity(struct m7 *, const unsigned char **, bool top,
		    const char *deftype, int depth);

/* A multipart body at *pos with its own boundary pushed. */
static void
m7_multipart(struct m7 *m, const unsigned char **pos, const char *subtype,
    int depth)
{
	const unsigned char *p = *pos, *le, *next;
	const char *deftype = strcmp(subtype, "digest") == 0 ?
	    "message/rfc822" : "text/plain";
	int lvl, me = m->nbnd - 1;
	bool close;

	/* preamble: up to our first delimiter */
	for (;;) {
		if (p >= m->end)
			goto out;
		next = m7_line(p, m->end, &le);
		lvl = m7_boundary(m, p, le, &close);
		if (lvl >= 0 && lvl < me)
			goto out;		/* an outer part ends here */
		if (lvl == me)
			break;
		if (has_8bit(p, le)) {
			m7_unconvertible(m,
			    "8-bit octets in a multipart preamble");
		}
		m7_out(m, p, (size_t)(next - p));
		p = next;
	}
	/* parts: p is at one of our delimiters */
	while (!m->failed) {
		next = m7_line(p, m->end, &le);
		m7_boundary(m, p, le, &close);
		m7_out(m, p, (size_t)(next - p));
		p = next;
		if (close)
			break;
		m7_entity(m, &p, false, deftype, depth + 1);
		if (m->failed || p >= m->end)
			goto out;
		m7_line(p, m->end, &le);
		lvl = m7_boundary(m, p, le, &close);
		if (lvl != me)
			goto out;		/* an outer delimiter */
	}
	/* epilogue: up to an outer delimiter or the end */
	while (p < m->end && !m->failed) {
		next = m7_line(p, m->end, &le);
		lvl = m7_boundary(m, p, le, &close);
		if (lvl >= 0 && lvl < me)
			break;
		if (has_8bit(p, le)) {
			m7_unconvertible(m,
			    "8-bit octets in a multipart epilogue");
		}
		m7_out(m, p, (size_t)(next - p));
		p = next;
	}
out:
	*pos = p;
}

/*
 * One entity at *pos: header block and body. top: the message itself or
 * an embedded message (MIME-Version decides whether it is MIME at all).
 */
static void
m7_entity(struct m7 *m, const unsigned char **pos, bool top,
    const char *deftype, int depth)
{
	struct m7_head h;
	const unsigned char *bs, *be;
	const char *type;
	bool mime;

	if (depth > M7_MAX_DEPTH) {
		m7_refuse(m, M7_UNCONVERTIBLE, "MIME nesting too deep");
		return;
	}
	m7_headers(m, pos, &h);
	if (m->failed)
		return;
	mime = !top || h.mime_version || h.has_ctype;
	type = h.type[0] != '\0' ? h.type : deftype;
	bs = *pos;

	if (mime && strncmp(type, "multipart/", 10) == 0 &&
	    h.boundary[0] != '\0' && cte_identity(h.cte)) {
		if (m->nbnd >= M7_MAX_DEPTH) {
			m7_refuse(m, M7_UNCONVERTIBLE, "MIME nesting too deep");
			return;
		}
		m7_put_headers(m, &h, h.cte[0] != '\0' &&
		    strcmp(h.cte, "7bit") != 0 ? "7bit" : NULL, NULL);
		memcpy(m->bnd[m->nbnd], h.boundary, strlen(h.boundary) + 1);
		m->bndlen[m->nbnd] = strlen(h.boundary);
		m->nbnd++;
		m7_multipart(m, pos, type + 10, depth);
		m->nbnd--;
		return;
	}
	if (mime && strcmp(type, "message/rfc822") == 0 &&
	    cte_identity(h.cte)) {
		m7_put_headers(m, &h, h.cte[0] != '\0' &&
		    strcmp(h.cte, "7bit") != 0 ? "7bit" : NULL, NULL);
		m7_entity(m, pos, true, "text/plain", depth + 1);
		return;
	}

	/* a leaf */
	be = m7_body_end(m, bs);
	*pos = be;
	if (!has_8bit(bs, be)) {
		m7_put_headers(m, &h, NULL, NULL);
		m7_out(m, bs, (size_t)(be - bs));
		return;
	}
	if (mime && strncmp(type, "message/", 8) == 0) {
		m7_unconvertible(m, "8-bit octets in a message/* part that "
		    "cannot be encoded");
		return;
	}
	if (!cte_identity(h.cte)) {
		m7_unconvertible(m, "8-bit octets in a part declared base64 "
		    "or quoted-printable");
		return;
	}
	if (m->res == M7_ASCII)
		m->res = M7_CONVERTED;
	if (mime)
		m7_put_headers(m, &h, "quoted-printable", NULL);
	else			/* RFC 1428 3: text of an unknown charset */
		m7_put_headers(m, &h, "quoted-printable",
		    "MIME-Version: 1.0\r\n"
		    "Content-Type: text/plain; charset=unknown-8bit\r\n");
	if (h.he == h.blank)
		m7_outs(m, "\r\n");	/* no empty line came: the body needs one */
	m7_qp(m, bs, be);
}

enum m7_result
mime7bit_convert(const unsigned char *in, size_t len, int outfd, char *why,
    size_t whylen)
{
	struct m7 *m;
	const unsigned char *p = in;
	enum m7_result r;
	char dummy[1];

	if (why == NULL || whylen == 0) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	why[0] = '\0';
	/* 8-bit free: nothing to do (the common case, one memchr-like pass) */
	if (!has_8bit(in, in + len))
		return M7_ASCII;
	m = xcalloc(1, sizeof(*m));
	m->p = in;
	m->end = in + len;
	m->outfd = outfd;
	m->res = M7_ASCII;
	m->why = why;
	m->whylen = whylen;
	m7_entity(m, &p, true, "text/plain", 0);
	if (!m->failed && p < m->end) {
		/* text after a close delimiter of the outermost multipart
		 * ends up here only if it is not ours: copy it as epilogue */
		if (has_8bit(p, m->end))
			m7_unconvertible(m, "8-bit octets after the last MIME "
			    "part");
		else
			m7_out(m, p, (size_t)(m->end - p));
	}
	if (!m->failed && m->unconv) {
		m->failed = true;
		m->res = M7_UNCONVERTIBLE;
	}
	if (!m->failed && m->outfd != -1)
		m7_flush(m);
	r = m->res;
	free(m);
	return r;
}

enum m7_result
mime7bit_fd(int fd, int want_output, int *outfd, uint64_t *outsize,
    char *why, size_t whylen)
{
	struct stat st;
	off_t off;
	void *map = NULL;
	size_t maplen;
	enum m7_result r;
	int ofd = -1, e;

	*outfd = -1;
	*outsize = 0;
	if ((off = lseek(fd, 0, SEEK_CUR)) == (off_t)-1 || fstat(fd, &st) == -1)
		goto ioerr;
	if (st.st_size <= off)
		return M7_ASCII;
	maplen = (size_t)st.st_size;
	map = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		goto ioerr;
	if (want_output) {
		ofd = memfd_create("danerelay-7bit", MFD_CLOEXEC);
		if (ofd == -1) {
			e = errno;
			munmap(map, maplen);
			errno = e;
			goto ioerr;
		}
	}
	r = mime7bit_convert((const unsigned char *)map + off,
	    maplen - (size_t)off, ofd, why, whylen);
	e = errno;
	munmap(map, maplen);
	if (r == M7_CONVERTED && ofd != -1) {
		off_t end = lseek(ofd, 0, SEEK_END);

		if (end == (off_t)-1 || lseek(ofd, 0, SEEK_SET) == (off_t)-1) {
			e = errno;
			close(ofd);
			errno = e;
			goto ioerr;
		}
		*outfd = ofd;
		*outsize = (uint64_t)end;
		return r;
	}
	if (ofd != -1)
		close(ofd);
	errno = e;
	return r;
ioerr:
	snprintf(why, whylen, "reading the message: %s", strerror(errno));
	return M7_ERROR;
}
