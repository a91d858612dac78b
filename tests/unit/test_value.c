/*
 * tests/unit/test_value.c - the pure value parsers of conf/value.c, table
 * driven: each row is an input and either the wanted value or the wanted
 * error text (exact, so the wording operators see is pinned down).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "conf/value.h"
#include "tests/unit/check.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#define ERR_DUR	"expected a duration: a number and a unit s, m, h or d (e.g. 90s, 5m, 1h, 5d)"
#define ERR_SIZE "expected a size: a number of bytes, optionally with K, M or G (e.g. 50M)"
#define ERR_LISTEN "expected a numeric IPv4 ADDRESS:PORT or [IPv6]:PORT (e.g. 127.0.0.1:10025, [::1]:10025)"
#define ERR_CIDR "expected an IPv4 or IPv6 address or network (e.g. 192.0.2.0/24, 2001:db8::/32, ::1)"
#define ERR_DOM	"not a valid domain name (labels of letters, digits and inner hyphens, separated by dots; IDNs as xn-- A-labels)"

static void
test_uint(void)
{
	static const struct {
		const char *in;
		unsigned min, max;
		int rc;
		unsigned want;
		const char *err;
	} t[] = {
		{ "0", 0, 10, 0, 0, NULL },
		{ "10", 0, 10, 0, 10, NULL },
		{ "007", 0, 10, 0, 7, NULL },
		{ "4294967295", 0, UINT_MAX, 0, UINT_MAX, NULL },
		{ "4294967296", 0, UINT_MAX, -1, 0, "\"4294967296\": out of range, expected an integer from 0 to 4294967295" },
		{ "99999999999999999999999", 1, 5, -1, 0, "\"99999999999999999999999\": out of range, expected an integer from 1 to 5" },
		{ "11", 0, 10, -1, 0, "\"11\": out of range, expected an integer from 0 to 10" },
		{ "0", 1, 65535, -1, 0, "\"0\": out of range, expected an integer from 1 to 65535" },
		{ "", 0, 10, -1, 0, "\"\": expected an integer from 0 to 10" },
		{ "-1", 0, 10, -1, 0, "\"-1\": expected an integer from 0 to 10" },
		{ "+1", 0, 10, -1, 0, "\"+1\": expected an integer from 0 to 10" },
		{ " 1", 0, 10, -1, 0, "\" 1\": expected an integer from 0 to 10" },
		{ "1 ", 0, 10, -1, 0, "\"1 \": expected an integer from 0 to 10" },
		{ "0x10", 0, 100, -1, 0, "\"0x10\": expected an integer from 0 to 100" },
	};
	char err[256];
	unsigned got;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		got = 12345;
		err[0] = '\0';
		CHECK_INT(value_uint(t[i].in, t[i].min, t[i].max, &got, err,
		    sizeof(err)), t[i].rc);
		if (t[i].rc == 0)
			CHECK_INT(got, t[i].want);
		else {
			CHECK_INT(got, 12345);	/* untouched on error */
			CHECK_STR(err, t[i].err);
		}
	}
}

static void
test_duration(void)
{
	static const struct {
		const char *in;
		int rc;
		unsigned want;
		const char *err;
	} t[] = {
		{ "90s", 0, 90, NULL },
		{ "0s", 0, 0, NULL },
		{ "5m", 0, 300, NULL },
		{ "1h", 0, 3600, NULL },
		{ "5d", 0, 432000, NULL },
		{ "4294967295s", 0, UINT_MAX, NULL },
		{ "49710d", 0, 49710u * 86400u, NULL },
		{ "49711d", -1, 0, "\"49711d\": duration too long (at most 4294967295s)" },
		{ "4294967296s", -1, 0, "\"4294967296s\": duration too long (at most 4294967295s)" },
		{ "99999999999999999999999s", -1, 0, "\"99999999999999999999999s\": duration too long (at most 4294967295s)" },
		{ "5", -1, 0, "\"5\": a duration needs a unit: s, m, h or d (e.g. 90s, 5m)" },
		{ "300", -1, 0, "\"300\": a duration needs a unit: s, m, h or d (e.g. 90s, 5m)" },
		{ "", -1, 0, "\"\": " ERR_DUR },
		{ "m", -1, 0, "\"m\": " ERR_DUR },
		{ "5M", -1, 0, "\"5M\": " ERR_DUR },
		{ "5 m", -1, 0, "\"5 m\": " ERR_DUR },
		{ "5ms", -1, 0, "\"5ms\": " ERR_DUR },
		{ "1h30m", -1, 0, "\"1h30m\": " ERR_DUR },
		{ "-5m", -1, 0, "\"-5m\": " ERR_DUR },
		{ "5w", -1, 0, "\"5w\": " ERR_DUR },
	};
	char err[256];
	unsigned got;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		got = 12345;
		err[0] = '\0';
		CHECK_INT(value_duration(t[i].in, &got, err, sizeof(err)),
		    t[i].rc);
		if (t[i].rc == 0)
			CHECK_INT(got, t[i].want);
		else {
			CHECK_INT(got, 12345);
			CHECK_STR(err, t[i].err);
		}
	}
}

static void
test_size(void)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t want;
		const char *err;
	} t[] = {
		{ "0", 0, 0, NULL },
		{ "1000", 0, 1000, NULL },
		{ "10K", 0, 10240, NULL },
		{ "10k", 0, 10240, NULL },
		{ "50M", 0, 50u * 1024 * 1024, NULL },
		{ "1G", 0, 1024u * 1024 * 1024, NULL },
		{ "18446744073709551615", 0, UINT64_MAX, NULL },
		{ "17179869183G", 0, 17179869183ull * 1073741824ull, NULL },
		{ "17179869184G", -1, 0, "\"17179869184G\": size too large" },
		{ "18446744073709551616", -1, 0, "\"18446744073709551616\": size too large" },
		{ "", -1, 0, "\"\": " ERR_SIZE },
		{ "M", -1, 0, "\"M\": " ERR_SIZE },
		{ "10MB", -1, 0, "\"10MB\": " ERR_SIZE },
		{ "10T", -1, 0, "\"10T\": " ERR_SIZE },
		{ "1.5M", -1, 0, "\"1.5M\": " ERR_SIZE },
		{ "-1", -1, 0, "\"-1\": " ERR_SIZE },
	};
	char err[256];
	uint64_t got;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		got = 12345;
		err[0] = '\0';
		CHECK_INT(value_size(t[i].in, &got, err, sizeof(err)), t[i].rc);
		if (t[i].rc == 0)
			CHECK(got == t[i].want);
		else {
			CHECK_INT(got, 12345);
			CHECK_STR(err, t[i].err);
		}
	}
}

static void
test_bool(void)
{
	static const struct {
		const char *in;
		int rc;
		bool want;
	} t[] = {
		{ "yes", 0, true }, { "YES", 0, true }, { "true", 0, true },
		{ "on", 0, true }, { "no", 0, false }, { "false", 0, false },
		{ "Off", 0, false }, { "1", -1, false }, { "0", -1, false },
		{ "", -1, false }, { "y", -1, false }, { "yess", -1, false },
	};
	char err[256];
	bool got;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		got = !t[i].want;
		CHECK_INT(value_bool(t[i].in, &got, err, sizeof(err)), t[i].rc);
		if (t[i].rc == 0)
			CHECK_INT(got, t[i].want);
	}
	CHECK_INT(value_bool("1", &got, err, sizeof(err)), -1);
	CHECK_STR(err, "\"1\": expected yes or no (or true/false, on/off)");
}

static void
test_listen(void)
{
	static const struct {
		const char *in;
		int rc;
		int family;
		const char *addr;
		unsigned port;
		const char *err;
	} t[] = {
		{ "127.0.0.1:10025", 0, AF_INET, "127.0.0.1", 10025, NULL },
		{ "0.0.0.0:25", 0, AF_INET, "0.0.0.0", 25, NULL },
		{ "[::1]:10025", 0, AF_INET6, "::1", 10025, NULL },
		{ "[2001:db8::1]:65535", 0, AF_INET6, "2001:db8::1", 65535, NULL },
		{ "127.0.0.1:1", 0, AF_INET, "127.0.0.1", 1, NULL },
		{ "127.0.0.1", -1, 0, NULL, 0, "\"127.0.0.1\": " ERR_LISTEN },
		{ "127.0.0.1:", -1, 0, NULL, 0, "\"127.0.0.1:\": bad port: expected ADDRESS:PORT with a port from 1 to 65535" },
		{ "127.0.0.1:0", -1, 0, NULL, 0, "\"127.0.0.1:0\": bad port: expected ADDRESS:PORT with a port from 1 to 65535" },
		{ "127.0.0.1:65536", -1, 0, NULL, 0, "\"127.0.0.1:65536\": bad port: expected ADDRESS:PORT with a port from 1 to 65535" },
		{ "127.0.0.1:25x", -1, 0, NULL, 0, "\"127.0.0.1:25x\": bad port: expected ADDRESS:PORT with a port from 1 to 65535" },
		{ "::1:25", -1, 0, NULL, 0, "\"::1:25\": an IPv6 address needs brackets, e.g. [::1]:10025" },
		{ "[::1]", -1, 0, NULL, 0, "\"[::1]\": " ERR_LISTEN },
		{ "[::1]25", -1, 0, NULL, 0, "\"[::1]25\": " ERR_LISTEN },
		{ "[127.0.0.1]:25", -1, 0, NULL, 0, "\"[127.0.0.1]:25\": " ERR_LISTEN },
		{ "localhost:25", -1, 0, NULL, 0, "\"localhost:25\": " ERR_LISTEN },
		{ ":25", -1, 0, NULL, 0, "\":25\": " ERR_LISTEN },
		{ "256.0.0.1:25", -1, 0, NULL, 0, "\"256.0.0.1:25\": " ERR_LISTEN },
	};
	struct conf_addr a;
	char err[256], buf[INET6_ADDRSTRLEN];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&a, 0, sizeof(a));
		err[0] = '\0';
		CHECK_INT(value_listen(t[i].in, &a, err, sizeof(err)), t[i].rc);
		if (t[i].rc != 0) {
			CHECK_STR(err, t[i].err);
			continue;
		}
		CHECK_INT(a.ss.ss_family, t[i].family);
		CHECK_STR(a.text, t[i].in);
		if (t[i].family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;

			CHECK_INT(a.sslen, sizeof(*sin));
			CHECK_INT(ntohs(sin->sin_port), t[i].port);
			CHECK_STR(inet_ntop(AF_INET, &sin->sin_addr, buf,
			    sizeof(buf)), t[i].addr);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.ss;

			CHECK_INT(a.sslen, sizeof(*sin6));
			CHECK_INT(ntohs(sin6->sin6_port), t[i].port);
			CHECK_STR(inet_ntop(AF_INET6, &sin6->sin6_addr, buf,
			    sizeof(buf)), t[i].addr);
		}
	}
}

static void
test_cidr(void)
{
	static const struct {
		const char *in;
		int rc;
		int family;
		const char *addr;
		unsigned prefix;
		const char *err;
	} t[] = {
		{ "127.0.0.0/8", 0, AF_INET, "127.0.0.0", 8, NULL },
		{ "10.1.2.3", 0, AF_INET, "10.1.2.3", 32, NULL },
		{ "0.0.0.0/0", 0, AF_INET, "0.0.0.0", 0, NULL },
		{ "192.168.1.128/25", 0, AF_INET, "192.168.1.128", 25, NULL },
		{ "::1", 0, AF_INET6, "::1", 128, NULL },
		{ "2001:db8::/32", 0, AF_INET6, "2001:db8::", 32, NULL },
		{ "::/0", 0, AF_INET6, "::", 0, NULL },
		{ "::ffff:10.0.0.0/104", 0, AF_INET6, "::ffff:10.0.0.0", 104, NULL },
		{ "10.1.2.3/8", -1, 0, NULL, 0, "\"10.1.2.3/8\": host bits set after the prefix (did you mean 10.0.0.0/8?)" },
		{ "192.168.1.129/25", -1, 0, NULL, 0, "\"192.168.1.129/25\": host bits set after the prefix (did you mean 192.168.1.128/25?)" },
		{ "2001:db8::1/32", -1, 0, NULL, 0, "\"2001:db8::1/32\": host bits set after the prefix (did you mean 2001:db8::/32?)" },
		{ "10.0.0.0/33", -1, 0, NULL, 0, "\"10.0.0.0/33\": bad prefix length: expected 0 to 32" },
		{ "::/129", -1, 0, NULL, 0, "\"::/129\": bad prefix length: expected 0 to 128" },
		{ "10.0.0.0/", -1, 0, NULL, 0, "\"10.0.0.0/\": bad prefix length: expected 0 to 32" },
		{ "10.0.0.0/-8", -1, 0, NULL, 0, "\"10.0.0.0/-8\": bad prefix length: expected 0 to 32" },
		{ "10.0.0/8", -1, 0, NULL, 0, "\"10.0.0/8\": " ERR_CIDR },
		{ "/8", -1, 0, NULL, 0, "\"/8\": " ERR_CIDR },
		{ "example.com", -1, 0, NULL, 0, "\"example.com\": " ERR_CIDR },
		{ "[::1]", -1, 0, NULL, 0, "\"[::1]\": " ERR_CIDR },
	};
	struct conf_cidr c;
	char err[256], buf[INET6_ADDRSTRLEN];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&c, 0, sizeof(c));
		err[0] = '\0';
		CHECK_INT(value_cidr(t[i].in, &c, err, sizeof(err)), t[i].rc);
		if (t[i].rc != 0) {
			CHECK_STR(err, t[i].err);
			continue;
		}
		CHECK_INT(c.family, t[i].family);
		CHECK_INT(c.prefix, t[i].prefix);
		CHECK_STR(inet_ntop(c.family, c.addr, buf, sizeof(buf)),
		    t[i].addr);
	}
}

static void
test_date(void)
{
	static const struct {
		const char *in;
		int rc;
		long long want;		/* first second after the day, UTC */
		const char *err;
	} t[] = {
		{ "1970-01-01", 0, 86400, NULL },
		{ "2020-01-01", 0, 1577923200, NULL },	/* 2020-01-02T00:00:00Z */
		{ "2024-02-29", 0, 1709251200, NULL },	/* leap day */
		{ "2000-02-29", 0, 951868800, NULL },	/* 400-year leap */
		{ "2030-12-31", 0, 1924992000, NULL },
		{ "9999-12-31", 0, 253402300800LL, NULL },
		{ "2023-02-29", -1, 0, "\"2023-02-29\": no such date (expected YYYY-MM-DD, year 1970 or later)" },
		{ "1900-02-29", -1, 0, "\"1900-02-29\": no such date (expected YYYY-MM-DD, year 1970 or later)" },
		{ "2024-04-31", -1, 0, "\"2024-04-31\": no such date (expected YYYY-MM-DD, year 1970 or later)" },
		{ "2024-13-01", -1, 0, "\"2024-13-01\": no such date (expected YYYY-MM-DD, year 1970 or later)" },
		{ "2024-00-10", -1, 0, "\"2024-00-10\": no such date (expected YYYY-MM-DD, year 1970 or later)" },
		{ "2024-01-00", -1, 0, "\"2024-01-00\": no such date (expected YYYY-MM-DD, year 1970 or later)" },
		{ "1969-12-31", -1, 0, "\"1969-12-31\": no such date (expected YYYY-MM-DD, year 1970 or later)" },
		{ "2024-1-01", -1, 0, "\"2024-1-01\": expected a date YYYY-MM-DD" },
		{ "2024/01/01", -1, 0, "\"2024/01/01\": expected a date YYYY-MM-DD" },
		{ "2024-01-011", -1, 0, "\"2024-01-011\": expected a date YYYY-MM-DD" },
		{ "2024-01-0", -1, 0, "\"2024-01-0\": expected a date YYYY-MM-DD" },
		{ "", -1, 0, "\"\": expected a date YYYY-MM-DD" },
	};
	char err[256];
	time_t got;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		got = 12345;
		err[0] = '\0';
		CHECK_INT(value_date(t[i].in, &got, err, sizeof(err)), t[i].rc);
		if (t[i].rc == 0)
			CHECK_INT(got, t[i].want);
		else {
			CHECK_INT(got, 12345);
			CHECK_STR(err, t[i].err);
		}
	}
}

static void
test_policy(void)
{
	static const struct {
		const char *in;
		int rc;
		enum tls_policy want;
	} t[] = {
		{ "none", 0, TLS_POLICY_NONE },
		{ "may", 0, TLS_POLICY_MAY },
		{ "encrypt", 0, TLS_POLICY_ENCRYPT },
		{ "dane", 0, TLS_POLICY_DANE },
		{ "dane-only", 0, TLS_POLICY_DANE_ONLY },
		{ "DANE", 0, TLS_POLICY_DANE },
		{ "dane_only", -1, 0 },
		{ "secure", -1, 0 },
		{ "", -1, 0 },
	};
	enum tls_policy got;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		got = TLS_POLICY_MAY;
		CHECK_INT(value_tls_policy(t[i].in, &got, err, sizeof(err)),
		    t[i].rc);
		if (t[i].rc == 0) {
			CHECK_INT(got, t[i].want);
			if (strcmp(t[i].in, "DANE") != 0)
				CHECK_STR(conf_tls_policy_name(got), t[i].in);
		}
	}
	CHECK_INT(value_tls_policy("secure", &got, err, sizeof(err)), -1);
	CHECK_STR(err, "\"secure\": expected a TLS policy: none, may, encrypt, dane or dane-only");
	CHECK_STR(conf_tls_policy_name((enum tls_policy)99), "unknown");
}

static void
test_domain(void)
{
	static const struct {
		const char *in;
		int rc;
		const char *want;	/* or the error */
	} t[] = {
		{ "example.com", 0, "example.com" },
		{ "Example.COM.", 0, "example.com" },
		{ "com", 0, "com" },
		{ "a-b.c0.example", 0, "a-b.c0.example" },
		{ "xn--bcher-kva.example", 0, "xn--bcher-kva.example" },
		{ "123.example", 0, "123.example" },
		{ "", -1, "\"\": " ERR_DOM },
		{ ".", -1, "\".\": " ERR_DOM },
		{ ".example.com", -1, "\".example.com\": " ERR_DOM },
		{ "example..com", -1, "\"example..com\": " ERR_DOM },
		{ "example.com..", -1, "\"example.com..\": " ERR_DOM },
		{ "-a.example", -1, "\"-a.example\": " ERR_DOM },
		{ "a-.example", -1, "\"a-.example\": " ERR_DOM },
		{ "a_b.example", -1, "\"a_b.example\": " ERR_DOM },
		{ "a b.example", -1, "\"a b.example\": " ERR_DOM },
		{ "b\xc3\xbc" "cher.example", -1, "\"b\\xc3\\xbccher.example\": " ERR_DOM },
		{ "*.example", -1, "\"*.example\": " ERR_DOM },
	};
	char err[256], out[VALUE_DOMAIN_MAX], big[400];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		strcpy(out, "untouched");
		err[0] = '\0';
		CHECK_INT(value_domain(t[i].in, out, sizeof(out), err,
		    sizeof(err)), t[i].rc);
		if (t[i].rc == 0)
			CHECK_STR(out, t[i].want);
		else {
			CHECK_STR(out, "untouched");
			CHECK_STR(err, t[i].want);
		}
	}
	/* label of 63 ok, 64 not */
	memset(big, 'a', 63);
	strcpy(big + 63, ".example");
	CHECK_INT(value_domain(big, out, sizeof(out), err, sizeof(err)), 0);
	memset(big, 'a', 64);
	strcpy(big + 64, ".example");
	CHECK_INT(value_domain(big, out, sizeof(out), err, sizeof(err)), -1);
	CHECK(strstr(err, "label longer than 63 octets") != NULL);
	/* 253 octets ok (+ trailing dot ok), 254 not */
	for (i = 0; i < 253; i++)
		big[i] = i % 2 ? '.' : 'a';
	big[252] = 'a';
	big[253] = '\0';
	CHECK_INT(value_domain(big, out, sizeof(out), err, sizeof(err)), 0);
	CHECK_INT(strlen(out), 253);
	big[253] = '.';
	big[254] = '\0';
	CHECK_INT(value_domain(big, out, sizeof(out), err, sizeof(err)), 0);
	big[253] = 'a';
	big[254] = '\0';
	big[252] = 'a';
	CHECK_INT(value_domain(big, out, sizeof(out), err, sizeof(err)), -1);
	CHECK(strstr(err, "domain name longer than 253 octets") != NULL);
	/* too small an output buffer is an error, not an overflow */
	CHECK_INT(value_domain("example.com", out, 5, err, sizeof(err)), -1);
}

static int
collect(const char *item, void *arg, char *err, size_t errlen)
{
	char *acc = arg;

	if (strcmp(item, "bad") == 0) {
		snprintf(err, errlen, "item bad");
		return -1;
	}
	strcat(acc, "<");
	strcat(acc, item);
	strcat(acc, ">");
	return 0;
}

static void
test_list(void)
{
	static const struct {
		const char *in;
		int rc;
		const char *want;	/* items seen, or the error */
	} t[] = {
		{ "a", 0, "<a>" },
		{ "a,b", 0, "<a><b>" },
		{ "  a ,\tb c , d ", 0, "<a><b c><d>" },
		{ "", -1, "\"\": empty item in a comma separated list" },
		{ "a,", -1, "\"a,\": empty item in a comma separated list" },
		{ ",a", -1, "\",a\": empty item in a comma separated list" },
		{ "a,,b", -1, "\"a,,b\": empty item in a comma separated list" },
		{ "a, ,b", -1, "\"a, ,b\": empty item in a comma separated list" },
		{ "a,bad,c", -1, "item bad" },
	};
	char acc[256], err[256], big[400];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		acc[0] = err[0] = '\0';
		CHECK_INT(value_list(t[i].in, collect, acc, err, sizeof(err)),
		    t[i].rc);
		CHECK_STR(t[i].rc == 0 ? acc : err, t[i].want);
	}
	memset(big, 'x', 300);
	big[300] = '\0';
	acc[0] = '\0';
	CHECK_INT(value_list(big, collect, acc, err, sizeof(err)), -1);
	CHECK_STR(err, "list item longer than 255 octets");
}

static void
test_quote(void)
{
	char buf[128], small[12], big[200];

	CHECK_STR(value_quote("abc", buf, sizeof(buf)), "\"abc\"");
	CHECK_STR(value_quote("a\"b\\c\n\x01\xff", buf, sizeof(buf)),
	    "\"a\\\"b\\\\c\\x0a\\x01\\xff\"");
	CHECK_STR(value_escape("[domain x]", buf, sizeof(buf)), "[domain x]");
	CHECK_STR(value_quote("abcdefghijkl", small, sizeof(small)),
	    "\"abcdef\"...");
	memset(big, 'y', 150);
	big[150] = '\0';
	value_quote(big, buf, sizeof(buf));
	CHECK_INT(strlen(buf), 1 + 80 + 4);
	CHECK(strcmp(buf + 81, "\"...") == 0);
}

int
main(void)
{
	test_uint();
	test_duration();
	test_size();
	test_bool();
	test_listen();
	test_cidr();
	test_date();
	test_policy();
	test_domain();
	test_list();
	test_quote();
	return check_done("test_value");
}
