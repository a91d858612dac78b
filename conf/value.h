/*
 * conf/value.h - pure parsers for configuration values: integers with
 * ranges, durations, sizes, booleans, listen addresses, CIDR entries,
 * dates, TLS policy names and domain names. No I/O, no allocation, no
 * global state. Each returns 0 and stores the result, or -1 and writes into
 * err a reason that quotes the bad text and says what was expected.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef CONF_VALUE_H
#define CONF_VALUE_H

#include "conf/conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define VALUE_ITEM_MAX	256	/* longest list item value_list() hands on */
#define VALUE_DOMAIN_MAX 254	/* buffer for a normalised domain name + NUL */

/* Decimal digits only (no sign, no blanks), min <= n <= max. */
int	value_uint(const char *, unsigned min, unsigned max, unsigned *,
	    char *err, size_t errlen);

/* NUMBER UNIT, unit s, m, h or d (90s, 5m); a bare number is an error. */
int	value_duration(const char *, unsigned *secs, char *err, size_t errlen);

/* NUMBER [K|M|G] (binary multiples; case-insensitive); bare = bytes. */
int	value_size(const char *, uint64_t *bytes, char *err, size_t errlen);

/* yes/no, true/false, on/off (case-insensitive). */
int	value_bool(const char *, bool *, char *err, size_t errlen);

/* A.B.C.D:PORT or [IPv6]:PORT, numeric only, port 1..65535. */
int	value_listen(const char *, struct conf_addr *, char *err, size_t errlen);

/*
 * ADDR or ADDR/PREFIX, IPv4 or IPv6. A bare address is a host (/32, /128).
 * Host bits set below the prefix (10.1.2.3/8) are an error, not silently
 * masked: such an entry is usually a typo for a narrower or wider network.
 */
int	value_cidr(const char *, struct conf_cidr *, char *err, size_t errlen);

/*
 * YYYY-MM-DD (a real calendar date, years 1970..9999). *end is the first
 * second after that day in UTC, i.e. 00:00:00Z of the following day.
 */
int	value_date(const char *, time_t *end, char *err, size_t errlen);

/* none, may, encrypt, dane, dane-only (case-insensitive). */
int	value_tls_policy(const char *, enum tls_policy *, char *err, size_t errlen);

/*
 * A DNS domain name of LDH labels (1..63 octets, no leading or trailing
 * hyphen), at most 253 octets; one trailing dot is dropped. out (outlen >=
 * VALUE_DOMAIN_MAX) gets it in lower case.
 */
int	value_domain(const char *, char *out, size_t outlen, char *err,
	    size_t errlen);

/*
 * Split a comma separated list: each item, blanks trimmed, is passed to fn;
 * an empty item or one longer than VALUE_ITEM_MAX - 1 is an error. Stops at
 * the first error (from fn or the split) and returns -1.
 */
typedef int value_item_fn(const char *item, void *arg, char *err,
	    size_t errlen);
int	value_list(const char *, value_item_fn *, void *arg, char *err,
	    size_t errlen);

/*
 * Copy s to buf for an error message: in double quotes, double quote and backslash
 * escaped with a backslash, other bytes outside printable ASCII as \xHH, cut with
 * "..." after 80 input octets or when buf (>= 8) is full. Returns buf.
 * value_escape() is the same without the quotes.
 */
const char *value_quote(const char *s, char *buf, size_t len);
const char *value_escape(const char *s, char *buf, size_t len);

#endif
