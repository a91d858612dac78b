/*
 * relay/smtp_data.c - the DATA decoder: one byte at a time through a five
 * state machine, handing out spans of the input (no copy) between the
 * octets it drops (the stuffing dot and the final ".<CRLF>").
 *
 * Decisions: a CR is handed out tentatively and judged by the next octet;
 * if that is not LF the message is bad anyway and nothing more goes out,
 * so the early CR does no harm. A bare LF does not start a line: only
 * CRLF does, so "<LF>.<LF>" and "<LF>.<CRLF>" are text, never the end. NUL
 * is refused: RFC 5321 2.3.8 and RFC 6152 exclude it from 7-bit and 8BITMIME
 * text, and peers downstream are free to choke on it (Postfix, Exim and
 * many filters do), so we refuse rather than store what we cannot relay
 * faithfully. Line length counts octets as sent, stuffing dot included.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/smtp_data.h"

enum {
	D_BOL,		/* at the start of a line */
	D_DOT,		/* a '.' at the start of a line (dropped) */
	D_DOT_CR,	/* ".<CR>" at the start of a line */
	D_TEXT,		/* inside a line */
	D_CR,		/* a CR inside a line (handed out), LF must follow */
	D_END,		/* end of data seen */
};

static inline void
data_error(struct smtp_data *d, enum smtp_data_error e)
{
	if (d->error == SMTP_DATA_OK)
		d->error = e;
}

void
smtp_data_init(struct smtp_data *d, uint64_t max_size)
{
	d->max_size = max_size;
	d->size = 0;
	d->line_len = 0;
	d->state = D_BOL;
	d->error = SMTP_DATA_OK;
}

static inline void
data_emit(struct smtp_data *d, const unsigned char *from,
    const unsigned char *to, smtp_data_out_fn *out, void *arg)
{
	if (d->error == SMTP_DATA_OK && to > from)
		out(arg, (const char *)from, (size_t)(to - from));
}

int
smtp_data_feed(struct smtp_data *d, const char *in, size_t len, size_t *used,
    smtp_data_out_fn *out, void *arg)
{
	const unsigned char *p = (const unsigned char *)in, *end = p + len;
	const unsigned char *span = p;
	unsigned char c;

	if (d->state == D_END) {
		*used = 0;
		return 1;
	}
	while (p < end) {
		c = *p;
		switch (d->state) {
		case D_BOL:
			d->line_len = 0;
			if (c == '.') {
				data_emit(d, span, p, out, arg);
				d->line_len = 1;
				d->state = D_DOT;
				span = ++p;
				continue;
			}
			break;
		case D_DOT:
			if (c == '\r') {
				d->line_len++;
				d->state = D_DOT_CR;
				span = ++p;
				continue;
			}
			break;	/* "..x" or ".x": the dot is gone, c is text */
		case D_DOT_CR:
			if (c == '\n') {
				d->state = D_END;
				*used = (size_t)(p + 1 - (const unsigned char *)in);
				return 1;
			}
			data_error(d, SMTP_DATA_BARE_CR);
			break;
		case D_CR:
			if (c == '\n') {
				if (++d->line_len > SMTP_TEXT_LINE_MAX)
					data_error(d, SMTP_DATA_LONG_LINE);
				if (++d->size > d->max_size && d->max_size != 0)
					data_error(d, SMTP_DATA_TOO_BIG);
				d->state = D_BOL;
				p++;
				continue;
			}
			data_error(d, SMTP_DATA_BARE_CR);
			break;
		default:
			break;
		}
		/* c is a text octet */
		d->state = D_TEXT;
		if (++d->line_len > SMTP_TEXT_LINE_MAX)
			data_error(d, SMTP_DATA_LONG_LINE);
		if (c == '\r')
			d->state = D_CR;
		else if (c == '\n')
			data_error(d, SMTP_DATA_BARE_LF);
		else if (c == '\0')
			data_error(d, SMTP_DATA_NUL);
		if (++d->size > d->max_size && d->max_size != 0)
			data_error(d, SMTP_DATA_TOO_BIG);
		p++;
	}
	data_emit(d, span, end, out, arg);
	*used = len;
	return 0;
}

const char *
smtp_data_reply(enum smtp_data_error e)
{
	switch (e) {
	case SMTP_DATA_BARE_CR:
		return "550 5.5.2 Message refused: bare CR in the message text (RFC 5321 2.3.8)";
	case SMTP_DATA_BARE_LF:
		return "550 5.5.2 Message refused: bare LF in the message text (RFC 5321 2.3.8)";
	case SMTP_DATA_NUL:
		return "550 5.6.0 Message refused: NUL octet in the message text";
	case SMTP_DATA_LONG_LINE:
		return "500 5.5.2 Message refused: text line too long (over 1000 octets)";
	case SMTP_DATA_TOO_BIG:
		return "552 5.3.4 Message size exceeds fixed limit";
	case SMTP_DATA_OK:
		break;
	}
	return "250 2.0.0 Ok";
}

const char *
smtp_data_reason(enum smtp_data_error e)
{
	switch (e) {
	case SMTP_DATA_BARE_CR:
		return "bare CR";
	case SMTP_DATA_BARE_LF:
		return "bare LF";
	case SMTP_DATA_NUL:
		return "NUL octet";
	case SMTP_DATA_LONG_LINE:
		return "text line too long";
	case SMTP_DATA_TOO_BIG:
		return "message too big";
	case SMTP_DATA_OK:
		break;
	}
	return "ok";
}
