/*
 * conf/conf.c - load the configuration file into an immutable struct conf,
 * and answer the per-destination and per-client questions asked of it.
 * Invariants: every error is reported as "FILE:LINE: KEY: why" (or
 * "FILE: why") and parsing goes on to find the rest; a struct conf is only
 * handed out when there was no error; a key is set at most once per section;
 * global keys come before the first [domain] section.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "conf/conf.h"
#include "conf/value.h"
#include "relay/log.h"
#include "relay/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_MAX_LEN	4096	/* longer lines are an error */
#define GREET_DELAY_OTHER	1	/* seconds, outside relay_clients, unless set */

static bool	conf_unreadable_ok;	/* see conf_set_unreadable_ok() */
#define ERRLEN		512

enum ktype {
	K_UINT,		/* unsigned, min..max */
	K_DURATION,	/* unsigned seconds, min..max */
	K_SIZE,		/* uint64_t bytes, at least min */
	K_BOOL,
	K_POLICY,
	K_PATH,		/* char *, non-empty */
	K_LOGDEST,	/* char *: "-", "syslog" or a path */
	K_HOSTNAME,	/* char *, a valid domain name */
	K_LISTEN,	/* struct conf_addr array */
	K_CIDRS,	/* struct conf_cidr array */
	K_UNTIL,	/* domain only: until + until_text */
	K_REASON,	/* domain only: free text */
};

#define W_GLOBAL	0x01	/* allowed outside any section */
#define W_DOMAIN	0x02	/* allowed in a [domain] section */
#define F_READABLE	0x04	/* if set in the file, must be a readable file */

struct key {
	const char	*name;
	enum ktype	 type;
	unsigned	 flags;
	size_t		 goff;		/* offset in struct conf */
	size_t		 doff;		/* offset in struct conf_domain */
	unsigned	 setbit;	/* CONF_SET_* for domain keys */
	unsigned	 min, max;
	const char	*def;		/* default, parsed like a value; NULL: none */
};

#define G(f)	offsetof(struct conf, f)
#define D(f)	offsetof(struct conf_domain, f)

static const struct key keys[] = {
	/* inbound */
	{ "listen", K_LISTEN, W_GLOBAL, G(listen), 0, 0, 0, 0, "127.0.0.1:10025" },
	{ "hostname", K_HOSTNAME, W_GLOBAL, G(hostname), 0, 0, 0, 0, NULL },
	{ "relay_clients", K_CIDRS, W_GLOBAL, G(relay_clients), 0, 0, 0, 0, "127.0.0.0/8, ::1" },
	{ "max_message_size", K_SIZE, W_GLOBAL, G(max_message_size), 0, 0, 1, 0, "50M" },
	{ "tls_cert_file", K_PATH, W_GLOBAL | F_READABLE, G(tls_cert_file), 0, 0, 0, 0, NULL },
	{ "tls_key_file", K_PATH, W_GLOBAL | F_READABLE, G(tls_key_file), 0, 0, 0, 0, NULL },
	{ "max_recipients", K_UINT, W_GLOBAL, G(max_recipients), 0, 0, 1, 1000000, "1000" },
	{ "max_errors", K_UINT, W_GLOBAL, G(max_errors), 0, 0, 1, 1000000, "10" },
	{ "max_clients", K_UINT, W_GLOBAL, G(max_clients), 0, 0, 1, 1000000, "1000" },
	{ "idle_timeout", K_DURATION, W_GLOBAL, G(idle_timeout), 0, 0, 1, UINT_MAX, "5m" },
	{ "session_timeout", K_DURATION, W_GLOBAL, G(session_timeout), 0, 0, 1, UINT_MAX, "30m" },
	{ "max_clients_per_ip", K_UINT, W_GLOBAL, G(max_clients_per_ip), 0, 0, 1, 1000000, "20" },
	{ "greet_delay", K_DURATION, W_GLOBAL, G(greet_delay_other), 0, 0, 0, UINT_MAX, NULL },
	{ "in_flow_delay", K_DURATION, W_GLOBAL, G(in_flow_delay), 0, 0, 0, 10, "1s" },
	{ "allow_address_literals", K_BOOL, W_GLOBAL, G(allow_address_literals), 0, 0, 0, 0, "no" },
	/* privileges */
	{ "user", K_PATH, W_GLOBAL, G(user), 0, 0, 0, 0, "danerelay" },
	{ "group", K_PATH, W_GLOBAL, G(group), 0, 0, 0, 0, NULL },
	/* queue */
	{ "spool_dir", K_PATH, W_GLOBAL, G(spool_dir), 0, 0, 0, 0, "/var/spool/danerelay" },
	{ "min_backoff", K_DURATION, W_GLOBAL, G(min_backoff), 0, 0, 1, UINT_MAX, "5m" },
	{ "max_backoff", K_DURATION, W_GLOBAL, G(max_backoff), 0, 0, 1, UINT_MAX, "1h" },
	{ "max_queue_lifetime", K_DURATION, W_GLOBAL, G(max_queue_lifetime), 0, 0, 1, UINT_MAX, "5d" },
	/* outbound, per destination */
	{ "tls_policy", K_POLICY, W_GLOBAL | W_DOMAIN, G(dest.tls_policy), D(dest.tls_policy), CONF_SET_TLS_POLICY, 0, 0, "dane" },
	{ "test_mode", K_BOOL, W_GLOBAL | W_DOMAIN, G(dest.test_mode), D(dest.test_mode), CONF_SET_TEST_MODE, 0, 0, "no" },
	{ "remote_port", K_UINT, W_GLOBAL | W_DOMAIN, G(dest.remote_port), D(dest.remote_port), CONF_SET_REMOTE_PORT, 1, 65535, "25" },
	/* outbound */
	{ "resolver_config", K_PATH, W_GLOBAL | F_READABLE, G(resolver_config), 0, 0, 0, 0, NULL },
	{ "trust_anchor_file", K_PATH, W_GLOBAL | F_READABLE, G(trust_anchor_file), 0, 0, 0, 0, "/usr/share/dns/root.key" },
	{ "max_connections", K_UINT, W_GLOBAL, G(max_connections), 0, 0, 1, 1000000, "100" },
	{ "max_connections_per_domain", K_UINT, W_GLOBAL, G(max_connections_per_domain), 0, 0, 1, 1000000, "10" },
	{ "max_mx_hosts", K_UINT, W_GLOBAL, G(max_mx_hosts), 0, 0, 1, 1000, "5" },
	{ "max_mx_addresses", K_UINT, W_GLOBAL, G(max_mx_addresses), 0, 0, 1, 1000, "10" },
	{ "connect_timeout", K_DURATION, W_GLOBAL, G(connect_timeout), 0, 0, 1, UINT_MAX, "30s" },
	{ "greeting_timeout", K_DURATION, W_GLOBAL, G(greeting_timeout), 0, 0, 1, UINT_MAX, "5m" },
	{ "command_timeout", K_DURATION, W_GLOBAL, G(command_timeout), 0, 0, 1, UINT_MAX, "5m" },
	{ "data_timeout", K_DURATION, W_GLOBAL, G(data_timeout), 0, 0, 1, UINT_MAX, "3m" },
	{ "data_done_timeout", K_DURATION, W_GLOBAL, G(data_done_timeout), 0, 0, 1, UINT_MAX, "10m" },
	{ "attempt_timeout", K_DURATION, W_GLOBAL, G(attempt_timeout), 0, 0, 1, UINT_MAX, "30m" },
	{ "max_messages_per_connection", K_UINT, W_GLOBAL, G(max_messages_per_connection), 0, 0, 1, 1000000, "100" },
	{ "connection_reuse_time", K_DURATION, W_GLOBAL, G(connection_reuse_time), 0, 0, 0, UINT_MAX, "10s" },
	/* logging */
	{ "log_file", K_LOGDEST, W_GLOBAL, G(log_file), 0, 0, 0, 0, "-" },
	{ "acct_file", K_PATH, W_GLOBAL, G(acct_file), 0, 0, 0, 0, NULL },
	/* [domain] only */
	{ "until", K_UNTIL, W_DOMAIN, 0, 0, 0, 0, 0, NULL },
	{ "reason", K_REASON, W_DOMAIN, 0, D(reason), 0, 0, 0, NULL },
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

struct parser {
	const char		*file;
	struct conf		*conf;
	conf_error_fn		*errfn;
	void			*arg;
	int			 nerr;
	int			 gline[NKEYS];	/* line each global key was set on */
	int			 sline[NKEYS];	/* same, current section */
	bool			 gbad[NKEYS];	/* global key had a bad value */
	struct conf_domain	*sect;		/* NULL: global part */
	int			 lineno;
};

static void perr(struct parser *, int, const char *, const char *, ...)
	__attribute__((format(printf, 4, 5)));

/* Report "FILE:LINE: KEY: why", "FILE: KEY: why" (line 0) or "FILE: why". */
static void
perr(struct parser *p, int line, const char *key, const char *fmt, ...)
{
	char why[ERRLEN], msg[ERRLEN * 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (line > 0 && key != NULL)
		snprintf(msg, sizeof(msg), "%s:%d: %s: %s", p->file, line, key, why);
	else if (line > 0)
		snprintf(msg, sizeof(msg), "%s:%d: %s", p->file, line, why);
	else if (key != NULL)
		snprintf(msg, sizeof(msg), "%s: %s: %s", p->file, key, why);
	else
		snprintf(msg, sizeof(msg), "%s: %s", p->file, why);
	p->nerr++;
	if (p->errfn != NULL)
		p->errfn(p->arg, msg);
	else
		fprintf(stderr, "%s\n", msg);
}

static int
add_listen(const char *item, void *arg, char *err, size_t errlen)
{
	struct conf *c = arg;
	struct conf_addr a;
	size_t i;

	if (value_listen(item, &a, err, errlen) == -1)
		return -1;
	for (i = 0; i < c->nlisten; i++) {
		if (c->listen[i].sslen == a.sslen &&
		    memcmp(&c->listen[i].ss, &a.ss, a.sslen) == 0) {
			char qbuf[96];

			snprintf(err, errlen, "%s listed twice",
			    value_quote(item, qbuf, sizeof(qbuf)));
			return -1;
		}
	}
	c->listen = xreallocarray(c->listen, c->nlisten + 1, sizeof(a));
	c->listen[c->nlisten++] = a;
	return 0;
}

static int
add_cidr(const char *item, void *arg, char *err, size_t errlen)
{
	struct conf *c = arg;
	struct conf_cidr n;

	if (value_cidr(item, &n, err, errlen) == -1)
		return -1;
	c->relay_clients = xreallocarray(c->relay_clients,
	    c->nrelay_clients + 1, sizeof(n));
	c->relay_clients[c->nrelay_clients++] = n;
	return 0;
}

static void
set_string(char **dst, const char *val)
{
	free(*dst);
	*dst = xstrdup(val);
}

/*
 * Parse val for key k into the global conf or the current section. The
 * caller has checked where the key may be and that it is not a duplicate.
 */
static int
set_value(struct parser *p, const struct key *k, const char *val,
    char *err, size_t errlen)
{
	char *base, dom[VALUE_DOMAIN_MAX], qbuf[128];
	struct conf *c = p->conf;
	struct conf_domain *d = p->sect;
	void *dst;
	unsigned u;
	uint64_t sz;
	time_t t;
	bool b;
	enum tls_policy pol;

	base = d != NULL ? (char *)d : (char *)c;
	dst = base + (d != NULL ? k->doff : k->goff);
	if (*val == '\0' && k->type != K_REASON) {
		snprintf(err, errlen, "empty value");
		return -1;
	}
	switch (k->type) {
	case K_UINT:
		if (value_uint(val, k->min, k->max, &u, err, errlen) == -1)
			return -1;
		*(unsigned *)dst = u;
		break;
	case K_DURATION:
		if (value_duration(val, &u, err, errlen) == -1)
			return -1;
		if (u < k->min) {
			snprintf(err, errlen, "%s: must be at least %us",
			    value_quote(val, qbuf, sizeof(qbuf)), k->min);
			return -1;
		}
		*(unsigned *)dst = u;
		break;
	case K_SIZE:
		if (value_size(val, &sz, err, errlen) == -1)
			return -1;
		if (sz < k->min) {
			snprintf(err, errlen, "%s: too small (at least %u)",
			    value_quote(val, qbuf, sizeof(qbuf)), k->min);
			return -1;
		}
		*(uint64_t *)dst = sz;
		break;
	case K_BOOL:
		if (value_bool(val, &b, err, errlen) == -1)
			return -1;
		*(bool *)dst = b;
		break;
	case K_POLICY:
		if (value_tls_policy(val, &pol, err, errlen) == -1)
			return -1;
		*(enum tls_policy *)dst = pol;
		break;
	case K_PATH:
	case K_LOGDEST:
		set_string(dst, val);
		break;
	case K_HOSTNAME:
		if (value_domain(val, dom, sizeof(dom), err, errlen) == -1)
			return -1;
		set_string(dst, dom);
		break;
	case K_LISTEN:
		free(c->listen);
		c->listen = NULL;
		c->nlisten = 0;
		if (value_list(val, add_listen, c, err, errlen) == -1)
			return -1;
		break;
	case K_CIDRS:
		free(c->relay_clients);
		c->relay_clients = NULL;
		c->nrelay_clients = 0;
		if (value_list(val, add_cidr, c, err, errlen) == -1)
			return -1;
		break;
	case K_UNTIL:
		if (value_date(val, &t, err, errlen) == -1)
			return -1;
		d->until = t;
		set_string(&d->until_text, val);
		break;
	case K_REASON:
		if (*val == '\0') {
			snprintf(err, errlen, "empty value: expected a short "
			    "text to log while the section applies");
			return -1;
		}
		for (u = 0; val[u] != '\0'; u++) {
			/* it goes into log lines as it is */
			if ((unsigned char)val[u] < 0x20 ||
			    (unsigned char)val[u] == 0x7f) {
				snprintf(err, errlen, "%s: control character in "
				    "the text", value_quote(val, qbuf,
				    sizeof(qbuf)));
				return -1;
			}
		}
		set_string(&d->reason, val);
		break;
	}
	if (d != NULL)
		d->set |= k->setbit;
	return 0;
}

static const struct key *
key_find(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Edit distance of a and b, capped: anything above 2 is 3. */
static unsigned
edit_distance(const char *a, const char *b)
{
	unsigned row[64], prev, tmp, best;
	size_t la = strlen(a), lb = strlen(b), i, j;

	if (la >= 64 || lb >= 64 || (la > lb ? la - lb : lb - la) > 2)
		return 3;
	for (j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = (unsigned)i;
		best = row[0];
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = prev + (tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]));
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (tmp + 1 < row[j])
				row[j] = tmp + 1;
			prev = tmp;
			if (row[j] < best)
				best = row[j];
		}
		if (best > 2)
			return 3;
	}
	return row[lb] > 2 ? 3 : row[lb];
}

/* The known key closest to a misspelt one, for "did you mean". */
static const char *
key_near(const char *name)
{
	const char *best = NULL;
	unsigned d, bestd = 3;
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if ((d = edit_distance(name, keys[i].name)) < bestd) {
			bestd = d;
			best = keys[i].name;
		}
	}
	return best;
}

/* The system host name, fully qualified if the resolver knows it; cached:
 * SIGHUP reloads must not block the event loop on a name lookup. */
static const char *
default_hostname(void)
{
	static char name[256];
	static int done;
	struct addrinfo hints, *res = NULL;

	if (done)
		return name;
	if (gethostname(name, sizeof(name) - 1) == -1)
		name[0] = '\0';
	name[sizeof(name) - 1] = '\0';
	if (name[0] != '\0' && strchr(name, '.') == NULL) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_flags = AI_CANONNAME;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(name, NULL, &hints, &res) == 0 &&
		    res != NULL && res->ai_canonname != NULL &&
		    strchr(res->ai_canonname, '.') != NULL)
			str_copy(name, res->ai_canonname, sizeof(name));
		if (res != NULL)
			freeaddrinfo(res);
	}
	done = 1;
	return name;
}

static void
set_defaults(struct parser *p)
{
	char err[ERRLEN];
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if (keys[i].def == NULL || !(keys[i].flags & W_GLOBAL))
			continue;
		if (set_value(p, &keys[i], keys[i].def, err, sizeof(err)) == -1)
			fatalx("conf: default of %s: %s", keys[i].name, err);
	}
}

/* [domain NAME] or [domain .NAME]; s points at '['. */
static void
parse_section(struct parser *p, char *s)
{
	char err[ERRLEN], dom[VALUE_DOMAIN_MAX], qbuf[128], *e, *name;
	struct conf *c = p->conf;
	struct conf_domain *d;
	bool sub = false;
	size_t i;

	memset(p->sline, 0, sizeof(p->sline));
	c->domains = xreallocarray(c->domains, c->ndomains + 1,
	    sizeof(*c->domains));
	d = &c->domains[c->ndomains++];
	memset(d, 0, sizeof(*d));
	d->dest = c->dest;
	d->file = c->path;
	d->line = p->lineno;
	p->sect = d;

	e = strchr(s, ']');
	if (e != NULL) {
		char *t = e + 1;

		while (isspace((unsigned char)*t))
			t++;
		if (*t != '\0' && *t != '#')
			e = NULL;
		else
			e[1] = '\0';
	}
	if (e == NULL) {
		perr(p, p->lineno, value_escape(s, qbuf, sizeof(qbuf)),
		    "bad section header: expected [domain NAME] or "
		    "[domain .NAME]");
		goto broken;
	}
	*e = '\0';
	name = s + 1;
	while (isspace((unsigned char)*name))
		name++;
	if (strncmp(name, "domain", 6) != 0 ||
	    !isspace((unsigned char)name[6]))
		goto bad;
	name += 7;
	while (isspace((unsigned char)*name))
		name++;
	for (e = name + strlen(name); e > name && isspace((unsigned char)e[-1]);)
		*--e = '\0';
	if (strpbrk(name, " \t") != NULL || *name == '\0')
		goto bad;
	if (*name == '.') {
		sub = true;
		name++;
	}
	if (value_domain(name, dom, sizeof(dom), err, sizeof(err)) == -1) {
		*e = ']';
		perr(p, p->lineno, value_escape(s, qbuf, sizeof(qbuf)),
		    "bad section header: %s", err);
		goto broken;
	}
	*e = ']';
	for (i = 0; i + 1 < c->ndomains; i++) {
		if (c->domains[i].subdomains == sub &&
		    c->domains[i].name[0] != '\0' &&
		    strcmp(c->domains[i].name, dom) == 0) {
			perr(p, p->lineno, value_escape(s, qbuf, sizeof(qbuf)),
			    "duplicate section (first at "
			    "line %d)", c->domains[i].line);
			break;
		}
	}
	d->name = xstrdup(dom);
	d->namelen = strlen(dom);
	d->subdomains = sub;
	return;
bad:
	*e = ']';
	perr(p, p->lineno, value_escape(s, qbuf, sizeof(qbuf)),
	    "bad section header: expected [domain NAME] or [domain .NAME]");
broken:
	/* keys that follow are still checked against the [domain] rules */
	d->name = xstrdup("");
}

/* Cut a value at a comment ('#' at its start or after a blank) and trim;
 * a value in double quotes is taken as is. NULL + err on a quoting error. */
static char *
parse_value(char *v, char *err, size_t errlen)
{
	char *e, *q;

	while (isspace((unsigned char)*v))
		v++;
	if (*v == '"') {
		q = strchr(v + 1, '"');
		if (q == NULL) {
			snprintf(err, errlen, "unterminated quoted value");
			return NULL;
		}
		*q = '\0';
		for (e = q + 1; isspace((unsigned char)*e); e++)
			;
		if (*e != '\0' && *e != '#') {
			snprintf(err, errlen, "text after the closing quote");
			return NULL;
		}
		return v + 1;
	}
	for (e = v; *e != '\0'; e++) {
		if (*e == '#' && (e == v || isspace((unsigned char)e[-1]))) {
			*e = '\0';
			break;
		}
	}
	while (e > v && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return v;
}

static void
parse_line(struct parser *p, char *s)
{
	char err[ERRLEN], qbuf[128], *k, *v;
	const struct key *key;
	int *lines;
	size_t ki;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || *s == '#')
		return;
	if (*s == '[') {
		parse_section(p, s);
		return;
	}
	k = s;
	while (isalnum((unsigned char)*s) || *s == '_' || *s == '-')
		s++;
	v = s;
	while (isspace((unsigned char)*v))
		v++;
	if (s == k || *v != '=') {
		/* name the line by its first word */
		s += strcspn(s, " \t=");
		if (s != k)
			*s = '\0';
		perr(p, p->lineno, value_escape(k, qbuf, sizeof(qbuf)),
		    "malformed line: expected KEY = VALUE");
		return;
	}
	*s = '\0';
	key = key_find(k);
	if (key == NULL) {
		const char *near = key_near(k);

		if (near != NULL)
			perr(p, p->lineno, value_escape(k, qbuf, sizeof(qbuf)),
			    "unknown key (did you mean %s?)", near);
		else
			perr(p, p->lineno, value_escape(k, qbuf, sizeof(qbuf)),
			    "unknown key");
		return;
	}
	if (p->sect != NULL && !(key->flags & W_DOMAIN)) {
		perr(p, p->lineno, k, "not allowed in a [domain] section "
		    "(global keys go before the first section; a section "
		    "may set tls_policy, test_mode, remote_port, until, "
		    "reason)");
		return;
	}
	if (p->sect == NULL && !(key->flags & W_GLOBAL)) {
		perr(p, p->lineno, k, "only allowed in a [domain] section");
		return;
	}
	ki = (size_t)(key - keys);
	lines = p->sect != NULL ? p->sline : p->gline;
	if (lines[ki] != 0) {
		perr(p, p->lineno, k, "duplicate key (first set at line %d)",
		    lines[ki]);
		return;
	}
	lines[ki] = p->lineno;
	v = parse_value(v + 1, err, sizeof(err));
	if (v == NULL || set_value(p, key, v, err, sizeof(err)) == -1) {
		perr(p, p->lineno, k, "%s", err);
		if (p->sect == NULL)
			p->gbad[ki] = true;
	}
}

/*
 * A path for an error message: as it is, or escaped (value_escape()) if it
 * holds an octet outside printable ASCII, so that a message stays one
 * printable line whatever the file says.
 */
static const char *
path_text(const char *path, char *buf, size_t len)
{
	const unsigned char *s;

	for (s = (const unsigned char *)path; *s != '\0'; s++)
		if (*s < 0x20 || *s >= 0x7f)
			return value_escape(path, buf, len);
	return path;
}

static void
check_readable(struct parser *p, const struct key *k, const char *path)
{
	struct stat st;
	char qbuf[128];
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == EACCES && conf_unreadable_ok)
			return;
		perr(p, p->gline[k - keys], k->name, "cannot read %s: %s",
		    path_text(path, qbuf, sizeof(qbuf)), strerror(errno));
		return;
	}
	if (fstat(fd, &st) == -1)
		perr(p, p->gline[k - keys], k->name, "cannot stat %s: %s",
		    path_text(path, qbuf, sizeof(qbuf)), strerror(errno));
	else if (!S_ISREG(st.st_mode))
		perr(p, p->gline[k - keys], k->name, "%s is not a regular "
		    "file", path_text(path, qbuf, sizeof(qbuf)));
	close(fd);
}

/* Checks that need more than one key, once the whole file is read. */
static void
check_conf(struct parser *p)
{
	struct conf *c = p->conf;
	char err[ERRLEN], dom[VALUE_DOMAIN_MAX];
	const struct key *k;
	size_t i;

	/* only keys set in the file with a good value: one mistake, one error */
	for (i = 0; i < NKEYS; i++) {
		k = &keys[i];
		if ((k->flags & F_READABLE) && p->gline[i] != 0 && !p->gbad[i])
			check_readable(p, k, *(char **)((char *)c + k->goff));
	}
#define LINE(name)	p->gline[key_find(name) - keys]
#define BAD(name)	p->gbad[key_find(name) - keys]
	if (c->min_backoff > c->max_backoff && !BAD("min_backoff") &&
	    !BAD("max_backoff")) {
		int l = LINE("min_backoff");

		perr(p, l ? l : LINE("max_backoff"),
		    l ? "min_backoff" : "max_backoff",
		    "min_backoff (%us) is longer than max_backoff (%us)",
		    c->min_backoff, c->max_backoff);
	}
	if (c->tls_cert_file != NULL && LINE("tls_key_file") == 0)
		perr(p, LINE("tls_cert_file"), "tls_cert_file",
		    "set without tls_key_file");
	if (c->tls_key_file != NULL && LINE("tls_cert_file") == 0)
		perr(p, LINE("tls_key_file"), "tls_key_file",
		    "set without tls_cert_file");
	/* greet_delay in the file applies to every client; unset, only
	 * clients outside relay_clients wait (relay clients: at once) */
	if (LINE("greet_delay") != 0)
		c->greet_delay_relay = c->greet_delay_other;
	else {
		c->greet_delay_relay = 0;
		c->greet_delay_other = GREET_DELAY_OTHER;
	}
	if (c->hostname == NULL) {
		const char *h = default_hostname();

		if (value_domain(h, dom, sizeof(dom), err, sizeof(err)) == -1)
			perr(p, 0, "hostname", "the system host name is not "
			    "usable (%s); set hostname", err);
		else
			c->hostname = xstrdup(dom);
	}
#undef LINE
#undef BAD
}

struct conf *
conf_load(const char *path, conf_error_fn *errfn, void *arg)
{
	struct parser p;
	struct conf *c;
	FILE *fp = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	memset(&p, 0, sizeof(p));
	c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path != NULL ? path : "(defaults)");
	p.conf = c;
	p.file = c->path;
	p.errfn = errfn;
	p.arg = arg;
	set_defaults(&p);
	if (path != NULL && (fp = fopen(path, "re")) == NULL) {
		perr(&p, 0, NULL, "cannot open: %s", strerror(errno));
		goto done;
	}
	while (fp != NULL && (n = getline(&line, &cap, fp)) != -1) {
		p.lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (strlen(line) != (size_t)n) {
			perr(&p, p.lineno, NULL, "NUL byte in line");
			continue;
		}
		if (n > LINE_MAX_LEN) {
			perr(&p, p.lineno, NULL, "line longer than %d octets",
			    LINE_MAX_LEN);
			continue;
		}
		parse_line(&p, line);
	}
	if (fp != NULL && ferror(fp))
		perr(&p, 0, NULL, "read error: %s", strerror(errno));
	free(line);
	if (fp != NULL)
		fclose(fp);
	p.sect = NULL;
	check_conf(&p);
done:
	if (p.nerr > 0) {
		conf_free(c);
		return NULL;
	}
	return c;
}

void
conf_set_unreadable_ok(bool on)
{
	conf_unreadable_ok = on;
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->ndomains; i++) {
		free(c->domains[i].name);
		free(c->domains[i].until_text);
		free(c->domains[i].reason);
	}
	free(c->domains);
	free(c->listen);
	free(c->relay_clients);
	free(c->hostname);
	free(c->tls_cert_file);
	free(c->tls_key_file);
	free(c->spool_dir);
	free(c->resolver_config);
	free(c->trust_anchor_file);
	free(c->log_file);
	free(c->acct_file);
	free(c->user);
	free(c->group);
	free(c->path);
	free(c);
}

/*
 * How well section d matches domain (len octets, lower or mixed case, no
 * trailing dot): 0 no match, else higher is more specific. An exact name
 * beats every suffix; a longer suffix beats a shorter one.
 */
static size_t
domain_match(const struct conf_domain *d, const char *domain, size_t len)
{
	size_t nl = d->namelen;

	if (nl == 0)
		return 0;
	if (!d->subdomains)
		return nl == len && strncasecmp(d->name, domain, len) == 0 ?
		    SIZE_MAX : 0;
	if (len > nl + 1 && domain[len - nl - 1] == '.' &&
	    strncasecmp(d->name, domain + len - nl, nl) == 0)
		return nl + 1;
	return 0;
}

struct conf_dest
conf_dest_for(const struct conf *c, const char *domain, time_t now,
    const struct conf_domain **matched, const struct conf_domain **expired)
{
	const struct conf_domain *best = NULL, *gone = NULL;
	size_t len = strlen(domain), i, m, bestm = 0, gonem = 0;
	struct conf_dest dest = c->dest;

	if (len > 0 && domain[len - 1] == '.')
		len--;
	for (i = 0; i < c->ndomains; i++) {
		const struct conf_domain *d = &c->domains[i];

		if ((m = domain_match(d, domain, len)) == 0)
			continue;
		if (d->until != 0 && now >= d->until) {
			if (m > gonem) {
				gone = d;
				gonem = m;
			}
		} else if (m > bestm) {
			best = d;
			bestm = m;
		}
	}
	if (best != NULL) {
		if (best->set & CONF_SET_TLS_POLICY)
			dest.tls_policy = best->dest.tls_policy;
		if (best->set & CONF_SET_TEST_MODE)
			dest.test_mode = best->dest.test_mode;
		if (best->set & CONF_SET_REMOTE_PORT)
			dest.remote_port = best->dest.remote_port;
	}
	if (matched != NULL)
		*matched = best;
	/* an expired section is news only if it would have beaten best */
	if (expired != NULL)
		*expired = gonem > bestm ? gone : NULL;
	return dest;
}

static bool
cidr_match(const struct conf_cidr *n, int family, const unsigned char *a)
{
	unsigned full = n->prefix / 8, rest = n->prefix % 8;

	if (n->family != family)
		return false;
	if (memcmp(n->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((n->addr[full] ^ a[full]) & (0xff00u >> rest) & 0xff) == 0;
}

bool
conf_client_allowed(const struct conf *c, const struct sockaddr *sa)
{
	unsigned char v4[4], v6[16];
	bool has4 = false, has6 = false;
	size_t i;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		memcpy(v4, &sin->sin_addr, 4);
		has4 = true;
		/* also as ::ffff:a.b.c.d, for entries written that way */
		memset(v6, 0, 10);
		v6[10] = v6[11] = 0xff;
		memcpy(v6 + 12, v4, 4);
		has6 = true;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		memcpy(v6, &sin6->sin6_addr, 16);
		has6 = true;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			memcpy(v4, v6 + 12, 4);
			has4 = true;
		}
	} else
		return false;
	for (i = 0; i < c->nrelay_clients; i++) {
		const struct conf_cidr *n = &c->relay_clients[i];

		if ((has4 && cidr_match(n, AF_INET, v4)) ||
		    (has6 && cidr_match(n, AF_INET6, v6)))
			return true;
	}
	return false;
}
