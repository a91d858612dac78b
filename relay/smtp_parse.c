/*
 * relay/smtp_parse.c - the RFC 5321 4.1.2 grammar for paths, the ESMTP
 * parameters we advertise (SIZE, BODY, SMTPUTF8) and EHLO names. Pure:
 * input is one command line already checked for length and CR/LF/NUL by
 * the session. Replies are static strings, so a caller may keep them.
 *
 * Leniency, all of it deliberate: a space after "FROM:"/"TO:" (common in
 * the wild, harmless); a source route is accepted and dropped (RFC 5321
 * 4.1.1.3 says to ignore it). Strictness: angle brackets are required,
 * a recipient needs a domain (a relay cannot deliver to a bare
 * "Postmaster"), octets >= 0x80 only as well-formed UTF-8 and only with
 * SMTPUTF8 (RFC 6531 3.3).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/smtp_parse.h"
#include "relay/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define R_SYNTAX_MAIL	"501 5.5.4 Syntax: MAIL FROM:<address> [parameters]"
#define R_SYNTAX_RCPT	"501 5.5.4 Syntax: RCPT TO:<address>"
#define R_BAD_SENDER	"501 5.1.7 Bad sender address syntax"
#define R_BAD_RCPT	"501 5.1.3 Bad recipient address syntax"
#define R_LONG_SENDER	"501 5.1.7 Sender address too long"
#define R_LONG_RCPT	"501 5.1.3 Recipient address too long"
#define R_NEED_UTF8	"553 5.6.7 Non-ASCII address requires SMTPUTF8"
#define R_PARAM		"555 5.5.4 Unsupported parameter"
#define R_PARAM_RCPT	"555 5.5.4 No RCPT parameters are supported"
#define R_PARAM_SYNTAX	"501 5.5.4 Bad parameter syntax"
#define R_PARAM_DUP	"501 5.5.4 Duplicate parameter"
#define R_BODY		"555 5.5.4 Unsupported BODY type"
#define R_SIZE		"501 5.5.4 Bad SIZE value"
#define R_HELO_MISSING	"501 5.5.4 Syntax: EHLO hostname"
#define R_HELO_BAD	"501 5.5.4 Invalid EHLO hostname"

static bool
is_atext(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static bool
is_letdig(unsigned char c)
{
	return isalnum(c);
}

/*
 * Dot-string local part at *sp; advances *sp. UTF-8 sequences count as
 * atext (RFC 6531 3.3). 0 / -1.
 */
static int
parse_dot_string(const unsigned char **sp, bool *utf8)
{
	const unsigned char *s = *sp;
	size_t n;
	bool need_atom = true;

	for (;;) {
		if (*s >= 0x80 && (n = utf8_seq(s, strlen((const char *)s), NULL)) > 0) {
			*utf8 = true;
			s += n;
			need_atom = false;
		} else if (is_atext(*s)) {
			s++;
			need_atom = false;
		} else if (*s == '.' && !need_atom) {
			s++;
			need_atom = true;
		} else
			break;
	}
	if (need_atom)
		return -1;
	*sp = s;
	return 0;
}

/* Quoted-string local part (RFC 5321 4.1.2, RFC 6531 3.3). 0 / -1. */
static int
parse_quoted(const unsigned char **sp, bool *utf8)
{
	const unsigned char *s = *sp + 1;	/* past DQUOTE */
	size_t n;

	for (;;) {
		if (*s == '"') {
			*sp = s + 1;
			return 0;
		}
		if (*s == '\\') {
			if (s[1] < 32 || s[1] > 126)
				return -1;
			s += 2;
		} else if (*s >= 32 && *s <= 126) {
			s++;
		} else if (*s >= 0x80 && (n = utf8_seq(s, strlen((const char *)s), NULL)) > 0) {
			*utf8 = true;
			s += n;
		} else
			return -1;
	}
}

/* Address literal "[...]" (RFC 5321 4.1.3). 0 / -1. */
static int
parse_addr_literal(const unsigned char **sp)
{
	const unsigned char *s = *sp + 1, *end;
	char buf[64];
	unsigned char bin[16];
	size_t len;

	end = (const unsigned char *)strchr((const char *)s, ']');
	if (end == NULL)
		return -1;
	len = (size_t)(end - s);
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strncasecmp(buf, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, buf + 5, bin) != 1)
			return -1;
	} else if (isdigit((unsigned char)buf[0])) {
		if (inet_pton(AF_INET, buf, bin) != 1)
			return -1;
	} else {
		/* General-address-literal: Standardized-tag ":" dcontent */
		const char *c = strchr(buf, ':');
		const char *t;

		if (c == NULL || c == buf || c[1] == '\0')
			return -1;
		for (t = buf; t < c; t++)
			if (!isalnum((unsigned char)*t) && *t != '-')
				return -1;
		for (t = c + 1; *t; t++)
			if (*t < 33 || *t > 126 || *t == '[' || *t == '\\')
				return -1;
	}
	*sp = end + 1;
	return 0;
}

/*
 * Domain: sub-domain *("." sub-domain), a sub-domain being Let-dig
 * [Ldh-str] or, with UTF-8, a U-label (not checked against IDNA tables:
 * the next hop decides). 0 / -1.
 */
static int
parse_domain(const unsigned char **sp, bool *utf8)
{
	const unsigned char *s = *sp;
	size_t n;

	for (;;) {
		const unsigned char *label = s;
		unsigned char last = 0;

		for (;;) {
			if (*s >= 0x80 && (n = utf8_seq(s, strlen((const char *)s), NULL)) > 0) {
				*utf8 = true;
				last = 'a';
				s += n;
			} else if (is_letdig(*s) || (*s == '-' && s != label)) {
				last = *s;
				s++;
			} else
				break;
		}
		if (s == label || last == '-' || s - label > 63)
			return -1;
		if (*s != '.')
			break;
		s++;
	}
	*sp = s;
	return 0;
}

/*
 * "<" [A-d-l ":"] Mailbox ">" or "<>" at *sp; the mailbox (without the
 * route) is copied into p->addr. Returns NULL or the reply.
 */
static const char *
parse_path(const unsigned char **sp, bool rcpt, struct smtp_path *p)
{
	const unsigned char *s = *sp, *box, *at, *end;
	const char *bad = rcpt ? R_BAD_RCPT : R_BAD_SENDER;
	const char *toolong = rcpt ? R_LONG_RCPT : R_LONG_SENDER;
	size_t len;

	if (*s != '<')
		return rcpt ? R_SYNTAX_RCPT : R_SYNTAX_MAIL;
	s++;
	if (*s == '>') {
		if (rcpt)
			return bad;
		p->addr[0] = '\0';
		*sp = s + 1;
		return NULL;
	}
	if (*s == '@') {
		/* A-d-l: "@" Domain *( "," "@" Domain ) ":" - checked and dropped */
		for (;;) {
			s++;
			if (*s == '[') {
				if (parse_addr_literal(&s) == -1)
					return bad;
			} else if (parse_domain(&s, &p->utf8) == -1)
				return bad;
			if (*s == ':')
				break;
			if (*s != ',' || s[1] != '@')
				return bad;
			s++;
		}
		s++;
	}
	box = s;
	if (*s == '"') {
		if (parse_quoted(&s, &p->utf8) == -1)
			return bad;
	} else if (parse_dot_string(&s, &p->utf8) == -1)
		return bad;
	at = s;
	if (*s != '@')
		return bad;
	s++;
	if (*s == '[') {
		if (parse_addr_literal(&s) == -1)
			return bad;
	} else if (parse_domain(&s, &p->utf8) == -1)
		return bad;
	end = s;
	if (*s != '>')
		return bad;
	if ((size_t)(at - box) > SMTP_LOCAL_MAX ||
	    (size_t)(end - at - 1) > SMTP_DOMAIN_MAX)
		return toolong;
	len = (size_t)(end - box);
	if (len > SMTP_PATH_MAX)
		return toolong;
	memcpy(p->addr, box, len);
	p->addr[len] = '\0';
	*sp = s + 1;
	return NULL;
}

/* "FROM:" / "TO:" prefix, case-insensitive; the space after it is lenient. */
static const unsigned char *
skip_keyword(const char *args, const char *kw)
{
	size_t n = strlen(kw);
	const char *s;

	if (strncasecmp(args, kw, n) != 0)
		return NULL;
	s = args + n;
	while (*s == ' ')
		s++;
	return (const unsigned char *)s;
}

/*
 * esmtp-param *(SP esmtp-param) after the path (RFC 5321 4.1.2):
 * keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"),
 * value = 1*(%d33-60 / %d62-126).
 */
static const char *
parse_mail_params(const unsigned char *s, struct smtp_path *p)
{
	bool seen_body = false;

	while (*s != '\0') {
		char kw[32], val[32];
		size_t klen = 0, vlen = 0;
		bool has_val = false;

		if (*s != ' ')
			return R_PARAM_SYNTAX;
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		if (!isalnum(*s))
			return R_PARAM_SYNTAX;
		while (isalnum(*s) || *s == '-') {
			if (klen + 1 >= sizeof(kw))
				return R_PARAM;
			kw[klen++] = (char)*s++;
		}
		kw[klen] = '\0';
		if (*s == '=') {
			s++;
			has_val = true;
			while (*s >= 33 && *s <= 126 && *s != '=') {
				if (vlen + 1 >= sizeof(val))
					return R_PARAM_SYNTAX;
				val[vlen++] = (char)*s++;
			}
			if (vlen == 0)
				return R_PARAM_SYNTAX;
		}
		val[vlen] = '\0';
		if (*s != ' ' && *s != '\0')
			return R_PARAM_SYNTAX;

		if (strcasecmp(kw, "SIZE") == 0) {
			uint64_t v = 0;
			size_t i;

			if (p->has_size)
				return R_PARAM_DUP;
			if (!has_val)
				return R_SIZE;
			for (i = 0; i < vlen; i++) {
				if (!isdigit((unsigned char)val[i]))
					return R_SIZE;
				/* saturate: any huge value is simply too big */
				if (v > (UINT64_MAX - 9) / 10)
					v = UINT64_MAX;
				else
					v = v * 10 + (uint64_t)(val[i] - '0');
			}
			p->has_size = true;
			p->size = v;
		} else if (strcasecmp(kw, "BODY") == 0) {
			if (seen_body)
				return R_PARAM_DUP;
			seen_body = true;
			if (!has_val)
				return R_PARAM_SYNTAX;
			if (strcasecmp(val, "7BIT") == 0)
				p->body = SMTP_BODY_7BIT;
			else if (strcasecmp(val, "8BITMIME") == 0)
				p->body = SMTP_BODY_8BITMIME;
			else
				return R_BODY;
		} else if (strcasecmp(kw, "SMTPUTF8") == 0) {
			if (p->smtputf8)
				return R_PARAM_DUP;
			if (has_val)
				return R_PARAM_SYNTAX;
			p->smtputf8 = true;
		} else
			return R_PARAM;
	}
	return NULL;
}

int
smtp_parse_verb(const char *line, char *verb, const char **args)
{
	size_t n = 0;

	while (isalpha((unsigned char)line[n])) {
		if (n + 1 >= SMTP_VERB_MAX)
			return -1;
		verb[n] = (char)toupper((unsigned char)line[n]);
		n++;
	}
	verb[n] = '\0';
	if (n == 0 || (line[n] != ' ' && line[n] != '\0'))
		return -1;
	line += n;
	while (*line == ' ')
		line++;
	*args = line;
	return 0;
}

const char *
smtp_parse_mail(const char *args, struct smtp_path *p)
{
	const unsigned char *s;
	const char *r;

	memset(p, 0, sizeof(*p));
	if ((s = skip_keyword(args, "FROM:")) == NULL)
		return R_SYNTAX_MAIL;
	if ((r = parse_path(&s, false, p)) != NULL)
		return r;
	if ((r = parse_mail_params(s, p)) != NULL)
		return r;
	if (p->utf8 && !p->smtputf8)
		return R_NEED_UTF8;
	return NULL;
}

const char *
smtp_parse_rcpt(const char *args, bool smtputf8, struct smtp_path *p)
{
	const unsigned char *s;
	const char *r;

	memset(p, 0, sizeof(*p));
	if ((s = skip_keyword(args, "TO:")) == NULL)
		return R_SYNTAX_RCPT;
	if ((r = parse_path(&s, true, p)) != NULL)
		return r;
	while (*s == ' ')
		s++;
	if (*s != '\0')
		return R_PARAM_RCPT;
	if (p->utf8 && !smtputf8)
		return R_NEED_UTF8;
	return NULL;
}

const char *
smtp_parse_helo(const char *args)
{
	const unsigned char *s = (const unsigned char *)args;
	size_t n = 0;

	if (*s == '\0')
		return R_HELO_MISSING;
	for (; *s != '\0' && *s != ' '; s++, n++)
		if (*s < 33 || *s > 126)
			return R_HELO_BAD;
	/* trailing words are tolerated (RFC 821 clients); only the first counts */
	if (n > SMTP_DOMAIN_MAX)
		return R_HELO_BAD;
	return NULL;
}

void
smtp_helo_for_header(const char *helo, char *out, size_t outlen)
{
	size_t i;

	if (outlen == 0)
		return;
	for (i = 0; helo[i] != '\0' && helo[i] != ' ' && i + 1 < outlen; i++) {
		unsigned char c = (unsigned char)helo[i];

		out[i] = (c < 33 || c > 126 || strchr("()<>;\\\"", c)) ? '?' : (char)c;
	}
	out[i] = '\0';
}

int
smtp_reply_code(const char *reply)
{
	if (reply[0] < '1' || reply[0] > '5' || !isdigit((unsigned char)reply[1]) ||
	    !isdigit((unsigned char)reply[2]))
		return 0;
	return (reply[0] - '0') * 100 + (reply[1] - '0') * 10 + (reply[2] - '0');
}
