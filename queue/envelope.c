/*
 * queue/envelope.c - the spool's text formats, pure: the envelope at the
 * head of a message file and the recipient journal records (layout and an
 * example in queue/queue.c). Decoders are strict: fixed line order, known
 * keys only, canonical escapes, and a version line, so that anything but
 * our own complete output is rejected instead of half-understood.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "queue/envelope.h"
#include "queue/queue_id.h"
#include "relay/log.h"
#include "relay/util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENV_KNOWN_FLAGS	(ENV_8BITMIME | ENV_SMTPUTF8 | ENV_DSN)

static const char *const rcpt_state_names[] = {
	[RCPT_PENDING] = "pending",
	[RCPT_DEFERRED] = "deferred",
	[RCPT_DELIVERED] = "delivered",
	[RCPT_BOUNCED] = "bounced",
};

const char *
queue_rcpt_state_name(enum queue_rcpt_state st)
{
	if ((unsigned)st >= sizeof(rcpt_state_names) / sizeof(rcpt_state_names[0]))
		return "unknown";
	return rcpt_state_names[st];
}

static int
rcpt_state_parse(const char *s, size_t n, enum queue_rcpt_state *st)
{
	unsigned i;

	for (i = 0; i < sizeof(rcpt_state_names) / sizeof(rcpt_state_names[0]); i++)
		if (strlen(rcpt_state_names[i]) == n &&
		    memcmp(rcpt_state_names[i], s, n) == 0) {
			*st = (enum queue_rcpt_state)i;
			return 0;
		}
	return -1;
}

uint32_t
envelope_crc32(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t crc = 0xffffffffu;
	int k;

	/* Bitwise: journal records are a few hundred octets at most. */
	while (n--) {
		crc ^= *s++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/* --- growing buffer --- */

static void
buf_add(char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t ncap = *cap ? *cap : 256;

		while (*len + n + 1 > ncap)
			ncap *= 2;
		*buf = xreallocarray(*buf, ncap, 1);
		*cap = ncap;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
}

static void
buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		fatalx("envelope: formatted field too long");
	buf_add(buf, len, cap, tmp, (size_t)n);
}

static bool
escape_needed(unsigned char c)
{
	return c <= 0x20 || c == 0x7f || c == '%';
}

void
envelope_escape(char **buf, size_t *len, size_t *cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char esc[3];
	size_t run;

	if (s == NULL || *s == '\0') {
		buf_add(buf, len, cap, "-", 1);
		return;
	}
	if (strcmp(s, "-") == 0) {
		buf_add(buf, len, cap, "%2D", 3);
		return;
	}
	p = (const unsigned char *)s;
	while (*p != '\0') {
		for (run = 0; p[run] != '\0' && !escape_needed(p[run]); run++)
			;
		if (run > 0) {
			buf_add(buf, len, cap, p, run);
			p += run;
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[*p >> 4];
		esc[2] = hex[*p & 15];
		buf_add(buf, len, cap, esc, 3);
		p++;
	}
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;		/* lower case is not canonical: reject */
}

char *
envelope_unescape(const char *s, size_t n)
{
	char *out, *o;
	size_t i;
	int hi, lo;

	if (n == 0)
		return NULL;
	if (n == 1 && s[0] == '-')
		return xstrdup("");
	out = o = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 2 >= n)
				goto bad;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				goto bad;
			c = (unsigned char)(hi << 4 | lo);
			/* Only what the encoder escapes may appear escaped. */
			if (c == 0 || (!escape_needed(c) && !(c == '-' && n == 3)))
				goto bad;
			i += 2;
		} else if (escape_needed(c))
			goto bad;
		*o++ = (char)c;
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* --- envelope --- */

void
envelope_format_size(char out[ENVELOPE_SIZE_WIDTH], uint64_t size)
{
	int i;

	for (i = ENVELOPE_SIZE_WIDTH - 1; i >= 0; i--) {
		out[i] = (char)('0' + size % 10);
		size /= 10;
	}
}

char *
envelope_encode(const struct queue_envelope *env, size_t *lenp,
    size_t *size_off)
{
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, i;
	char	 digits[ENVELOPE_SIZE_WIDTH];

	buf_add(&buf, &len, &cap, ENVELOPE_MAGIC "\n", sizeof(ENVELOPE_MAGIC));
	buf_printf(&buf, &len, &cap, "id %s\narrival %lld\nsender ", env->id,
	    (long long)env->arrival);
	envelope_escape(&buf, &len, &cap, env->sender);
	buf_printf(&buf, &len, &cap, "\nflags %u\nsize ", env->flags);
	if (size_off != NULL)
		*size_off = len;
	envelope_format_size(digits, env->size);
	buf_add(&buf, &len, &cap, digits, sizeof(digits));
	buf_add(&buf, &len, &cap, "\nclient ", 8);
	envelope_escape(&buf, &len, &cap, env->client);
	buf_add(&buf, &len, &cap, "\nhelo ", 6);
	envelope_escape(&buf, &len, &cap, env->helo);
	buf_add(&buf, &len, &cap, "\n", 1);
	for (i = 0; i < env->nrcpts; i++) {
		buf_add(&buf, &len, &cap, "rcpt ", 5);
		envelope_escape(&buf, &len, &cap, env->rcpts[i].addr);
		buf_add(&buf, &len, &cap, "\n", 1);
	}
	buf_add(&buf, &len, &cap, "end\n", 4);
	*lenp = len;
	return buf;
}

/*
 * Decimal, 1-20 digits, no sign, <= max, and no leading zero: the encoder
 * never writes one, so accepting it would take non-canonical input.
 */
static int
parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static const char *const envelope_keys[] = {
	NULL, "id", "arrival", "sender", "flags", "size", "client", "helo",
};
#define ENVELOPE_NFIXED	(sizeof(envelope_keys) / sizeof(envelope_keys[0]))

int
envelope_decode(const char *buf, size_t len, struct queue_envelope **envp,
    size_t *hdrlen, char *err, size_t errlen)
{
	struct queue_envelope	*env;
	const char		*line, *nl, *sp, *val;
	size_t			 pos = 0, llen, klen, vlen, cap = 0;
	unsigned		 lineno = 0;
	uint64_t		 u;
	char			*s;

	env = xcalloc(1, sizeof(*env));
	for (;;) {
		nl = memchr(buf + pos, '\n', len - pos);
		if (nl == NULL) {
			if (len > ENVELOPE_MAX) {
				snprintf(err, errlen, "no end marker in the first %u octets",
				    ENVELOPE_MAX);
				goto bad;
			}
			queue_envelope_free(env);
			return 0;
		}
		line = buf + pos;
		llen = (size_t)(nl - line);
		pos += llen + 1;
		lineno++;

		if (lineno == 1) {
			if (llen != strlen(ENVELOPE_MAGIC) ||
			    memcmp(line, ENVELOPE_MAGIC, llen) != 0) {
				snprintf(err, errlen, "line 1: not a version 1 queue file");
				goto bad;
			}
			continue;
		}
		if (lineno > ENVELOPE_NFIXED && llen == 3 &&
		    memcmp(line, "end", 3) == 0) {
			if (env->nrcpts == 0) {
				snprintf(err, errlen, "line %u: no recipients", lineno);
				goto bad;
			}
			*hdrlen = pos;
			*envp = env;
			return 1;
		}
		if ((sp = memchr(line, ' ', llen)) == NULL) {
			snprintf(err, errlen, "line %u: no value", lineno);
			goto bad;
		}
		klen = (size_t)(sp - line);
		val = sp + 1;
		vlen = llen - klen - 1;
		if (lineno > ENVELOPE_NFIXED) {
			if (klen != 4 || memcmp(line, "rcpt", 4) != 0) {
				snprintf(err, errlen, "line %u: expected rcpt or end",
				    lineno);
				goto bad;
			}
			if ((s = envelope_unescape(val, vlen)) == NULL || *s == '\0') {
				free(s);
				snprintf(err, errlen, "line %u: bad recipient", lineno);
				goto bad;
			}
			if (env->nrcpts == cap) {
				cap = cap ? cap * 2 : 4;
				env->rcpts = xreallocarray(env->rcpts, cap,
				    sizeof(*env->rcpts));
			}
			memset(&env->rcpts[env->nrcpts], 0, sizeof(*env->rcpts));
			env->rcpts[env->nrcpts++].addr = s;
			continue;
		}
		if (strlen(envelope_keys[lineno - 1]) != klen ||
		    memcmp(line, envelope_keys[lineno - 1], klen) != 0) {
			snprintf(err, errlen, "line %u: expected %s", lineno,
			    envelope_keys[lineno - 1]);
			goto bad;
		}
		switch (lineno - 1) {
		case 1:			/* id */
			if (vlen != QUEUE_ID_LEN)
				goto badval;
			memcpy(env->id, val, vlen);
			env->id[vlen] = '\0';
			if (!queue_id_valid(env->id))
				goto badval;
			break;
		case 2:			/* arrival */
			if (parse_u64(val, vlen, INT64_MAX, &u) == -1)
				goto badval;
			env->arrival = (time_t)u;
			break;
		case 3:			/* sender; "" is the null sender */
			if ((env->sender = envelope_unescape(val, vlen)) == NULL)
				goto badval;
			break;
		case 4:			/* flags */
			if (parse_u64(val, vlen, ENV_KNOWN_FLAGS, &u) == -1 ||
			    (u & ~(uint64_t)ENV_KNOWN_FLAGS) != 0)
				goto badval;
			env->flags = (unsigned)u;
			break;
		case 5:			/* size: zero-padded to a fixed width */
			if (vlen != ENVELOPE_SIZE_WIDTH)
				goto badval;
			for (klen = 0; klen < vlen - 1 && val[klen] == '0'; klen++)
				;
			if (parse_u64(val + klen, vlen - klen, UINT64_MAX,
			    &env->size) == -1)
				goto badval;
			break;
		case 6:			/* client */
			if ((env->client = envelope_unescape(val, vlen)) == NULL)
				goto badval;
			break;
		case 7:			/* helo */
			if ((env->helo = envelope_unescape(val, vlen)) == NULL)
				goto badval;
			break;
		}
	}
badval:
	snprintf(err, errlen, "line %u: bad %s value", lineno,
	    envelope_keys[lineno - 1]);
bad:
	queue_envelope_free(env);
	return -1;
}

/* --- journal --- */

char *
journal_encode(const struct journal_rec *r, size_t *lenp)
{
	char		*buf = NULL;
	size_t		 len = 0, cap = 0;

	buf_printf(&buf, &len, &cap, "R %zu %s %u %lld ", r->idx,
	    queue_rcpt_state_name(r->state), r->attempts,
	    (long long)(r->next_attempt < 0 ? 0 : r->next_attempt));
	envelope_escape(&buf, &len, &cap, r->error);
	buf_printf(&buf, &len, &cap, " %08" PRIx32 "\n",
	    envelope_crc32(buf, len));
	*lenp = len;
	return buf;
}

/*
 * Decode one line (without its newline) into *r; r->error is allocated
 * (or NULL). 0 / -1.
 */
static int
journal_decode(const char *line, size_t len, struct journal_rec *r)
{
	const char	*f[7];
	size_t		 fl[7], nf = 0, i, start = 0;
	uint64_t	 u, crc;
	char		*e;

	for (i = 0; i <= len; i++) {
		if (i == len || line[i] == ' ') {
			if (nf == 7)
				return -1;
			f[nf] = line + start;
			fl[nf++] = i - start;
			start = i + 1;
		}
	}
	/* R IDX STATE ATTEMPTS NEXT ERROR CRC */
	if (nf != 7 || fl[0] != 1 || f[0][0] != 'R' || fl[6] != 8)
		return -1;
	for (i = 0, crc = 0; i < 8; i++) {
		int c = (unsigned char)f[6][i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return -1;
		crc = crc << 4 | (uint64_t)d;
	}
	if (crc != envelope_crc32(line, (size_t)(f[6] - line) - 1))
		return -1;
	if (parse_u64(f[1], fl[1], SIZE_MAX, &u) == -1)
		return -1;
	r->idx = (size_t)u;
	if (rcpt_state_parse(f[2], fl[2], &r->state) == -1)
		return -1;
	if (parse_u64(f[3], fl[3], UINT32_MAX, &u) == -1)
		return -1;
	r->attempts = (unsigned)u;
	if (parse_u64(f[4], fl[4], INT64_MAX, &u) == -1)
		return -1;
	r->next_attempt = (time_t)u;
	if ((e = envelope_unescape(f[5], fl[5])) == NULL)
		return -1;
	if (*e == '\0') {
		free(e);
		e = NULL;
	}
	r->error = e;
	return 0;
}

/*
 * The hold record, "H 1 CRC" (held) or "H 0 CRC" (released): `queue hold`
 * and `queue release`. The last one wins, like recipient records.
 */
char *
journal_encode_hold(bool held, size_t *lenp)
{
	char	*buf = NULL;
	size_t	 len = 0, cap = 0;

	buf_printf(&buf, &len, &cap, "H %d", held ? 1 : 0);
	buf_printf(&buf, &len, &cap, " %08" PRIx32 "\n",
	    envelope_crc32(buf, len));
	*lenp = len;
	return buf;
}

static int
journal_decode_hold(const char *line, size_t len, bool *held)
{
	char want[32];
	size_t n;

	if (len != 12 || line[0] != 'H' || line[1] != ' ' ||
	    (line[2] != '0' && line[2] != '1'))
		return -1;
	n = (size_t)snprintf(want, sizeof(want), "%.3s %08" PRIx32, line,
	    envelope_crc32(line, 3));
	if (n != len || memcmp(want, line, len) != 0)
		return -1;
	*held = line[2] == '1';
	return 0;
}

void
journal_apply(struct queue_envelope *env, const char *buf, size_t len,
    struct journal_result *res)
{
	struct journal_rec	 r;
	struct queue_rcpt	*rc;
	const char		*line, *nl;
	size_t			 pos = 0;

	memset(res, 0, sizeof(*res));
	while (pos < len) {
		line = buf + pos;
		if ((nl = memchr(line, '\n', len - pos)) == NULL) {
			res->torn = true;
			break;
		}
		pos += (size_t)(nl - line) + 1;
		res->good_len = pos;
		if (nl == line)		/* the guard newline after a torn record */
			continue;
		if (line[0] == 'H') {
			if (journal_decode_hold(line, (size_t)(nl - line),
			    &env->held) == 0)
				res->applied++;
			else
				res->bad++;
			continue;
		}
		if (journal_decode(line, (size_t)(nl - line), &r) == -1) {
			res->bad++;
			continue;
		}
		if (r.idx >= env->nrcpts) {
			free((char *)r.error);
			res->bad++;
			continue;
		}
		rc = &env->rcpts[r.idx];
		rc->state = r.state;
		rc->attempts = r.attempts;
		rc->next_attempt = r.next_attempt;
		free(rc->last_error);
		rc->last_error = (char *)r.error;
		res->applied++;
	}
}

/* --- envelope objects --- */

struct queue_envelope *
queue_envelope_dup(const struct queue_envelope *env)
{
	struct queue_envelope *d;
	size_t i;

	d = xcalloc(1, sizeof(*d));
	memcpy(d->id, env->id, sizeof(d->id));
	d->arrival = env->arrival;
	d->sender = xstrdup(env->sender ? env->sender : "");
	d->flags = env->flags;
	d->held = env->held;
	d->size = env->size;
	d->client = xstrdup(env->client ? env->client : "");
	d->helo = xstrdup(env->helo ? env->helo : "");
	d->nrcpts = env->nrcpts;
	d->rcpts = xcalloc(env->nrcpts, sizeof(*d->rcpts));
	for (i = 0; i < env->nrcpts; i++) {
		d->rcpts[i] = env->rcpts[i];
		d->rcpts[i].addr = xstrdup(env->rcpts[i].addr);
		if (env->rcpts[i].last_error != NULL)
			d->rcpts[i].last_error = xstrdup(env->rcpts[i].last_error);
	}
	return d;
}

void
queue_envelope_free(struct queue_envelope *env)
{
	size_t i;

	if (env == NULL)
		return;
	for (i = 0; i < env->nrcpts; i++) {
		free(env->rcpts[i].addr);
		free(env->rcpts[i].last_error);
	}
	free(env->rcpts);
	free(env->sender);
	free(env->client);
	free(env->helo);
	free(env);
}
