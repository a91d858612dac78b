/*
 * conf/value.c - pure parsers for configuration values (see value.h).
 * Invariants: nothing here allocates, logs or touches the file system; every
 * number is range- and overflow-checked before it is stored; on error the
 * output is left untouched and err says what was expected.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "conf/value.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define QUOTE_MAX	80	/* bad text quoted in an error, before "..." */

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *
escape(const char *s, char *buf, size_t len, bool quote)
{
	const char *q = quote ? "\"" : "";
	size_t i = 0, n = 0, ql = strlen(q);

	if (len < 8) {
		if (len > 0)
			buf[0] = '\0';
		return buf;
	}
	memcpy(buf, q, ql);
	i = ql;
	for (; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];
		char tmp[5];
		size_t tl;

		if (c == '"' || c == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			tl = 2;
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
			tl = 4;
		} else {
			tmp[0] = (char)c;
			tl = 1;
		}
		/* keep room for the closing quote, "..." and the NUL */
		if (i + tl + ql + 4 > len || n >= QUOTE_MAX) {
			memcpy(buf + i, q, ql);
			memcpy(buf + i + ql, "...", 4);
			return buf;
		}
		memcpy(buf + i, tmp, tl);
		i += tl;
	}
	memcpy(buf + i, q, ql);
	buf[i + ql] = '\0';
	return buf;
}

const char *
value_quote(const char *s, char *buf, size_t len)
{
	return escape(s, buf, len, true);
}

const char *
value_escape(const char *s, char *buf, size_t len)
{
	return escape(s, buf, len, false);
}

#define Q(s)	value_quote((s), qbuf, sizeof(qbuf))

/*
 * Leading decimal digits of s into *out; *endp past them. -1 if there is
 * no digit, 1 on overflow of UINT64_MAX, 0 otherwise.
 */
static int
parse_digits(const char *s, const char **endp, uint64_t *out)
{
	uint64_t n = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (n > (UINT64_MAX - d) / 10) {
			while (isdigit((unsigned char)*p))
				p++;
			*endp = p;
			return 1;
		}
		n = n * 10 + d;
	}
	*endp = p;
	*out = n;
	return 0;
}

int
value_uint(const char *s, unsigned min, unsigned max, unsigned *out,
    char *err, size_t errlen)
{
	char qbuf[QUOTE_MAX + 16];
	const char *end;
	uint64_t n = 0;
	int r;

	r = parse_digits(s, &end, &n);
	if (r < 0 || *end != '\0') {
		seterr(err, errlen, "%s: expected an integer from %u to %u",
		    Q(s), min, max);
		return -1;
	}
	if (r > 0 || n < min || n > max) {
		seterr(err, errlen, "%s: out of range, expected an integer "
		    "from %u to %u", Q(s), min, max);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

int
value_duration(const char *s, unsigned *secs, char *err, size_t errlen)
{
	char qbuf[QUOTE_MAX + 16];
	const char *end;
	uint64_t n = 0, mult;
	int r;

	r = parse_digits(s, &end, &n);
	if (r < 0)
		goto bad;
	switch (*end) {
	case 's':
		mult = 1;
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	case '\0':
		seterr(err, errlen, "%s: a duration needs a unit: s, m, h "
		    "or d (e.g. 90s, 5m)", Q(s));
		return -1;
	default:
		goto bad;
	}
	if (end[1] != '\0')
		goto bad;
	if (r > 0 || n > UINT_MAX / mult) {
		seterr(err, errlen, "%s: duration too long (at most %us)",
		    Q(s), UINT_MAX);
		return -1;
	}
	*secs = (unsigned)(n * mult);
	return 0;
bad:
	seterr(err, errlen, "%s: expected a duration: a number and a unit "
	    "s, m, h or d (e.g. 90s, 5m, 1h, 5d)", Q(s));
	return -1;
}

int
value_size(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
	char qbuf[QUOTE_MAX + 16];
	const char *end;
	uint64_t n = 0, mult;
	int r;

	r = parse_digits(s, &end, &n);
	if (r < 0)
		goto bad;
	switch (*end) {
	case '\0':
		mult = 1;
		break;
	case 'k':
	case 'K':
		mult = 1024;
		break;
	case 'm':
	case 'M':
		mult = 1024 * 1024;
		break;
	case 'g':
	case 'G':
		mult = 1024 * 1024 * 1024;
		break;
	default:
		goto bad;
	}
	if (*end != '\0' && end[1] != '\0')
		goto bad;
	if (r > 0 || n > UINT64_MAX / mult) {
		seterr(err, errlen, "%s: size too large", Q(s));
		return -1;
	}
	*bytes = n * mult;
	return 0;
bad:
	seterr(err, errlen, "%s: expected a size: a number of bytes, "
	    "optionally with K, M or G (e.g. 50M)", Q(s));
	return -1;
}

int
value_bool(const char *s, bool *out, char *err, size_t errlen)
{
	char qbuf[QUOTE_MAX + 16];

	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 ||
	    strcasecmp(s, "on") == 0) {
		*out = true;
		return 0;
	}
	if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 ||
	    strcasecmp(s, "off") == 0) {
		*out = false;
		return 0;
	}
	seterr(err, errlen, "%s: expected yes or no (or true/false, on/off)",
	    Q(s));
	return -1;
}

int
value_listen(const char *s, struct conf_addr *out, char *err, size_t errlen)
{
	char qbuf[QUOTE_MAX + 16], host[INET6_ADDRSTRLEN + 1], perr[128];
	const char *hs, *he, *ps;
	struct conf_addr a;
	unsigned port;
	size_t hl;

	memset(&a, 0, sizeof(a));
	if (s[0] == '[') {
		hs = s + 1;
		he = strchr(hs, ']');
		if (he == NULL || he[1] != ':')
			goto bad;
		ps = he + 2;
	} else {
		hs = s;
		he = strrchr(s, ':');
		if (he == NULL)
			goto bad;
		if (memchr(s, ':', (size_t)(he - s)) != NULL) {
			seterr(err, errlen, "%s: an IPv6 address needs "
			    "brackets, e.g. [::1]:10025", Q(s));
			return -1;
		}
		ps = he + 1;
	}
	hl = (size_t)(he - hs);
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	if (value_uint(ps, 1, 65535, &port, perr, sizeof(perr)) == -1) {
		seterr(err, errlen, "%s: bad port: expected ADDRESS:PORT with "
		    "a port from 1 to 65535", Q(s));
		return -1;
	}
	if (s[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			goto bad;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		a.sslen = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			goto bad;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		a.sslen = sizeof(*sin);
	}
	if (strlen(s) >= sizeof(a.text))
		goto bad;
	memcpy(a.text, s, strlen(s) + 1);
	*out = a;
	return 0;
bad:
	seterr(err, errlen, "%s: expected a numeric IPv4 ADDRESS:PORT or "
	    "[IPv6]:PORT (e.g. 127.0.0.1:10025, [::1]:10025)", Q(s));
	return -1;
}

int
value_cidr(const char *s, struct conf_cidr *out, char *err, size_t errlen)
{
	char qbuf[QUOTE_MAX + 16], addr[INET6_ADDRSTRLEN + 1], perr[128];
	char net[INET6_ADDRSTRLEN];
	struct conf_cidr c;
	const char *slash;
	unsigned i, max, prefix;
	size_t al, nbytes;

	memset(&c, 0, sizeof(c));
	slash = strchr(s, '/');
	al = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (al == 0 || al >= sizeof(addr))
		goto bad;
	memcpy(addr, s, al);
	addr[al] = '\0';
	if (inet_pton(AF_INET, addr, c.addr) == 1) {
		c.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, c.addr) == 1) {
		c.family = AF_INET6;
		max = 128;
	} else
		goto bad;
	prefix = max;
	if (slash != NULL &&
	    value_uint(slash + 1, 0, max, &prefix, perr, sizeof(perr)) == -1) {
		seterr(err, errlen, "%s: bad prefix length: expected 0 to %u",
		    Q(s), max);
		return -1;
	}
	c.prefix = prefix;
	nbytes = max / 8;
	for (i = 0; i < nbytes; i++) {
		unsigned keep = prefix >= (i + 1) * 8 ? 8 :
		    prefix > i * 8 ? prefix - i * 8 : 0;
		unsigned char mask = (unsigned char)(0xff00u >> keep);

		if (c.addr[i] & (unsigned char)~mask) {
			unsigned char m[16];

			memcpy(m, c.addr, sizeof(m));
			for (; i < nbytes; i++) {
				keep = prefix >= (i + 1) * 8 ? 8 :
				    prefix > i * 8 ? prefix - i * 8 : 0;
				m[i] &= (unsigned char)(0xff00u >> keep);
			}
			inet_ntop(c.family, m, net, sizeof(net));
			seterr(err, errlen, "%s: host bits set after the "
			    "prefix (did you mean %s/%u?)", Q(s), net, prefix);
			return -1;
		}
	}
	*out = c;
	return 0;
bad:
	seterr(err, errlen, "%s: expected an IPv4 or IPv6 address or "
	    "network (e.g. 192.0.2.0/24, 2001:db8::/32, ::1)", Q(s));
	return -1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
value_date(const char *s, time_t *end, char *err, size_t errlen)
{
	static const unsigned mdays[12] =
	    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	char qbuf[QUOTE_MAX + 16];
	unsigned y, m, d, dim;
	int64_t t;
	int i;

	for (i = 0; i < 10; i++) {
		if (i == 4 || i == 7) {
			if (s[i] != '-')
				goto bad;
		} else if (!isdigit((unsigned char)s[i]))
			goto bad;
	}
	if (s[10] != '\0')
		goto bad;
	y = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 +
	    (s[2] - '0') * 10 + (s[3] - '0'));
	m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
	d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
	if (y < 1970 || m < 1 || m > 12)
		goto baddate;
	dim = mdays[m - 1];
	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		dim = 29;
	if (d < 1 || d > dim)
		goto baddate;
	t = (days_from_civil(y, m, d) + 1) * 86400;
	if (sizeof(time_t) < 8 && t > INT32_MAX) {
		seterr(err, errlen, "%s: date too far in the future", Q(s));
		return -1;
	}
	*end = (time_t)t;
	return 0;
baddate:
	seterr(err, errlen, "%s: no such date (expected YYYY-MM-DD, year "
	    "1970 or later)", Q(s));
	return -1;
bad:
	seterr(err, errlen, "%s: expected a date YYYY-MM-DD", Q(s));
	return -1;
}

static const char *const policy_names[] = {
	[TLS_POLICY_NONE] = "none",
	[TLS_POLICY_MAY] = "may",
	[TLS_POLICY_ENCRYPT] = "encrypt",
	[TLS_POLICY_DANE] = "dane",
	[TLS_POLICY_DANE_ONLY] = "dane-only",
};

int
value_tls_policy(const char *s, enum tls_policy *out, char *err,
    size_t errlen)
{
	char qbuf[QUOTE_MAX + 16];
	size_t i;

	for (i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++) {
		if (strcasecmp(s, policy_names[i]) == 0) {
			*out = (enum tls_policy)i;
			return 0;
		}
	}
	seterr(err, errlen, "%s: expected a TLS policy: none, may, encrypt, "
	    "dane or dane-only", Q(s));
	return -1;
}

const char *
conf_tls_policy_name(enum tls_policy p)
{
	if ((size_t)p < sizeof(policy_names) / sizeof(policy_names[0]))
		return policy_names[p];
	return "unknown";
}

int
value_domain(const char *s, char *out, size_t outlen, char *err,
    size_t errlen)
{
	char qbuf[QUOTE_MAX + 16];
	size_t len = strlen(s), i, lab = 0;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0)
		goto bad;
	if (len > 253 || len + 1 > outlen) {
		seterr(err, errlen, "%s: domain name longer than 253 octets",
		    Q(s));
		return -1;
	}
	for (i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)s[i] : '.';

		if (c == '.') {
			if (lab == 0)
				goto bad;
			if (lab > 63) {
				seterr(err, errlen, "%s: label longer than 63 "
				    "octets", Q(s));
				return -1;
			}
			if (s[i - 1] == '-')
				goto bad;
			lab = 0;
			continue;
		}
		if (!isalnum(c) && c != '-')
			goto bad;
		if (c == '-' && lab == 0)
			goto bad;
		lab++;
	}
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[len] = '\0';
	return 0;
bad:
	seterr(err, errlen, "%s: not a valid domain name (labels of letters, "
	    "digits and inner hyphens, separated by dots; IDNs as xn-- "
	    "A-labels)", Q(s));
	return -1;
}

int
value_list(const char *s, value_item_fn *fn, void *arg, char *err,
    size_t errlen)
{
	char qbuf[QUOTE_MAX + 16], item[VALUE_ITEM_MAX];
	const char *p = s, *e, *b;

	for (;;) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		b = p;
		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		if (e == b) {
			seterr(err, errlen, "%s: empty item in a comma "
			    "separated list", Q(s));
			return -1;
		}
		if ((size_t)(e - b) >= sizeof(item)) {
			seterr(err, errlen, "list item longer than %zu octets",
			    sizeof(item) - 1);
			return -1;
		}
		memcpy(item, b, (size_t)(e - b));
		item[e - b] = '\0';
		if (fn(item, arg, err, errlen) == -1)
			return -1;
		p = strchr(b, ',');
		if (p == NULL)
			return 0;
		p++;
	}
}
