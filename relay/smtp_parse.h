/*
 * relay/smtp_parse.h - pure parsing of inbound SMTP command lines (RFC 5321
 * 4.1): the verb and its arguments, MAIL FROM / RCPT TO paths with their
 * ESMTP parameters, and EHLO/HELO names. No I/O and no allocation: results
 * land in caller buffers, and a failure comes back as the complete reply
 * line the session should send ("501 5.5.4 ..."), so every syntax decision
 * and its wording lives here.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_SMTP_PARSE_H
#define RELAY_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_PATH_MAX		256	/* RFC 5321 4.5.3.1.3, without <> */
#define SMTP_LOCAL_MAX		64	/* RFC 5321 4.5.3.1.1 */
#define SMTP_DOMAIN_MAX		255	/* RFC 5321 4.5.3.1.2 */
#define SMTP_VERB_MAX		16	/* buffer for the upper-cased verb */

enum smtp_body {
	SMTP_BODY_NONE,			/* no BODY= parameter */
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
};

/* What MAIL FROM / RCPT TO carried. */
struct smtp_path {
	char		 addr[SMTP_PATH_MAX + 1];	/* no <>, no source route; "" = <> */
	/* the path, addr or a dropped source route, has octets >= 0x80 */
	bool		 utf8;
	/* MAIL parameters */
	bool		 has_size;
	uint64_t	 size;			/* SIZE=, if has_size */
	enum smtp_body	 body;
	bool		 smtputf8;		/* SMTPUTF8 */
};

/*
 * Split a command line (no CR LF) into its verb, upper-cased into verb
 * (SMTP_VERB_MAX bytes), and *args: the text after the verb and its
 * separating space(s), "" when none. 0, or -1 if the line does not start
 * with a verb of 1..15 letters followed by a space or the end.
 */
int	 smtp_parse_verb(const char *line, char *verb, const char **args);

/*
 * MAIL: args is what follows the verb ("FROM:<a@b> SIZE=10"). On success
 * fills *p and returns NULL; otherwise returns the reply to send. The
 * UTF-8 check (553 5.6.7 without SMTPUTF8) is made here, after all
 * parameters are seen.
 */
const char *smtp_parse_mail(const char *args, struct smtp_path *p);

/*
 * RCPT: args is "TO:<a@b>". smtputf8 tells whether the transaction
 * declared SMTPUTF8 (UTF-8 addresses allowed). NULL or the reply.
 */
const char *smtp_parse_rcpt(const char *args, bool smtputf8,
		    struct smtp_path *p);

/*
 * EHLO/HELO argument: one token, a domain or an address literal, printable
 * ASCII (RFC 5321 4.1.1.1; we do not reject a name that merely fails to
 * resolve). NULL or the reply.
 */
const char *smtp_parse_helo(const char *args);

/*
 * A copy of the EHLO name that is safe inside a Received: header comment
 * position: characters that would end or nest the field's structure
 * ("()<>;\\\"" and anything outside printable ASCII) become '?'.
 */
void	 smtp_helo_for_header(const char *helo, char *out, size_t outlen);

/* The reply code (100..599) at the start of a reply line, or 0. */
int	 smtp_reply_code(const char *reply);

#endif
