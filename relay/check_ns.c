/*
 * relay/check_ns.c - `danerelay check --ns`: ask every authoritative name
 * server of a TLSA owner name's zone directly and collect what each
 * serves (relay/check_ns.h). The zone and its servers come from a private
 * synchronous libunbound context built like delivery's resolver
 * (resolver/resolver.c: resolver_config, trust anchor); the TLSA
 * questions go straight to each server's address with RD clear, so no
 * cache (ours or a recursive resolver's) stands between the operator and
 * what each server holds. This only reports: no delivery decision is made
 * from these answers, which are not validated (a secondary that is behind
 * serves old but correctly signed data; the point is to see it).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/check_ns.h"
#include "relay/util.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <unbound.h>

#define T_A		1
#define T_NS		2
#define T_AAAA		28
#define T_TLSA		52
#define T_OPT		41
#define C_IN		1
#define TRY_MS		3000
#define TRIES		2
#define MSG_MAX		65535

struct check_ns_ctx {
	struct ub_ctx	*ub;
};

struct check_ns_ctx *
check_ns_new(const char *config, const char *ta_file, char *err, size_t errlen)
{
	struct check_ns_ctx *c;
	int rv;

	c = xcalloc(1, sizeof(*c));
	if ((c->ub = ub_ctx_create()) == NULL) {
		snprintf(err, errlen, "--ns: cannot create a libunbound context");
		free(c);
		return NULL;
	}
	if ((config != NULL && (rv = ub_ctx_config(c->ub, config)) != 0) ||
	    (rv = ub_ctx_add_ta_file(c->ub, ta_file ? ta_file :
	    "/usr/share/dns/root.key")) != 0) {
		snprintf(err, errlen, "--ns: libunbound: %s", ub_strerror(rv));
		check_ns_free(c);
		return NULL;
	}
	/* read the trust anchor now, before `check` drops root (removing a
	 * zone that does not exist finalizes libunbound's setup) */
	if ((rv = ub_ctx_zone_remove(c->ub, "danerelay-finalize.invalid.")) != 0) {
		snprintf(err, errlen, "--ns: libunbound: %s", ub_strerror(rv));
		check_ns_free(c);
		return NULL;
	}
	return c;
}

void
check_ns_free(struct check_ns_ctx *c)
{
	if (c == NULL)
		return;
	if (c->ub != NULL)
		ub_ctx_delete(c->ub);
	free(c);
}

void
check_ns_clear(struct check_ns *ns)
{
	size_t i, j;

	for (i = 0; i < ns->nsrv; i++) {
		for (j = 0; j < ns->srv[i].nrr; j++)
			free(ns->srv[i].rr[j]);
		free(ns->srv[i].rr);
	}
	free(ns->srv);
	memset(ns, 0, sizeof(*ns));
}

/* An uncompressed wire name (libunbound rdata) as text, no final dot. */
static int
wire_name(const unsigned char *p, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	while (i < len && p[i] != 0) {
		size_t l = p[i++], k;

		if (l > 63 || i + l > len || o + l + 2 > outlen)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (k = 0; k < l; k++)
			out[o++] = (char)tolower(p[i + k]);
		i += l;
	}
	out[o] = '\0';
	return i < len ? 0 : -1;
}

/* A name from a DNS message at *off (pointers followed, bounded). */
static int
msg_name(const unsigned char *m, size_t len, size_t *off, char *out,
    size_t outlen)
{
	size_t	 p = *off, o = 0;
	int	 jumps = 0;
	bool	 jumped = false;

	for (;;) {
		size_t l;

		if (p >= len)
			return -1;
		l = m[p];
		if ((l & 0xc0) == 0xc0) {
			if (p + 1 >= len || ++jumps > 32)
				return -1;
			if (!jumped)
				*off = p + 2;
			jumped = true;
			p = ((l & 0x3f) << 8) | m[p + 1];
			continue;
		}
		if (l > 63)
			return -1;
		p++;
		if (l == 0)
			break;
		if (p + l > len || o + l + 2 > outlen)
			return -1;
		if (o > 0)
			out[o++] = '.';
		memcpy(out + o, m + p, l);
		o += l;
		p += l;
	}
	out[o] = '\0';
	if (!jumped)
		*off = p;
	return 0;
}

static size_t
build_query(unsigned char *q, size_t qlen, const char *name, uint16_t id)
{
	size_t		 o = 12;
	const char	*s = name, *dot;

	memset(q, 0, 12);
	q[0] = id >> 8;
	q[1] = id & 0xff;
	/* flags 0: a query, RD clear: the server answers from its zones */
	q[5] = 1;		/* QDCOUNT */
	q[11] = 1;		/* ARCOUNT: EDNS0 */
	while (*s != '\0') {
		size_t l;

		dot = strchr(s, '.');
		l = dot ? (size_t)(dot - s) : strlen(s);
		if (l == 0 || l > 63 || o + l + 1 + 16 > qlen)
			return 0;
		q[o++] = (unsigned char)l;
		memcpy(q + o, s, l);
		o += l;
		s += l;
		if (*s == '.')
			s++;
	}
	q[o++] = 0;
	q[o++] = 0; q[o++] = T_TLSA;
	q[o++] = 0; q[o++] = C_IN;
	/* OPT: root owner, 4096-octet payload, no options */
	q[o++] = 0;
	q[o++] = 0; q[o++] = T_OPT;
	q[o++] = 0x10; q[o++] = 0x00;
	q[o++] = 0; q[o++] = 0; q[o++] = 0; q[o++] = 0;
	q[o++] = 0; q[o++] = 0;
	return o;
}

static int
compare_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
check_ns_parse(const unsigned char *m, size_t len, uint16_t id, const char *owner,
    struct check_ns_server *srv, bool *tc)
{
	size_t	 off = 12, i, an, qd;
	char	 name[512];

	if (len < 12 || ((m[0] << 8) | m[1]) != id || !(m[2] & 0x80)) {
		snprintf(srv->err, sizeof(srv->err), "malformed or unrelated reply");
		return -1;
	}
	*tc = (m[2] & 0x02) != 0;
	srv->aa = (m[2] & 0x04) != 0;
	srv->rcode = m[3] & 0x0f;
	qd = (m[4] << 8) | m[5];
	an = (m[6] << 8) | m[7];
	for (i = 0; i < qd; i++) {
		if (msg_name(m, len, &off, name, sizeof(name)) == -1 ||
		    off + 4 > len)
			goto bad;
		off += 4;
	}
	for (i = 0; i < an; i++) {
		unsigned	 type, rdlen;
		uint32_t	 ttl;

		if (msg_name(m, len, &off, name, sizeof(name)) == -1 ||
		    off + 10 > len)
			goto bad;
		type = (m[off] << 8) | m[off + 1];
		ttl = ((uint32_t)m[off + 4] << 24) | ((uint32_t)m[off + 5] << 16) |
		    ((uint32_t)m[off + 6] << 8) | m[off + 7];
		rdlen = (m[off + 8] << 8) | m[off + 9];
		off += 10;
		if (off + rdlen > len)
			goto bad;
		if (type == T_TLSA && strcasecmp(name, owner) == 0 && rdlen >= 3) {
			char	*t = xmalloc(16 + 2 * (rdlen - 3) + 1);
			size_t	 k, o;

			o = (size_t)sprintf(t, "%u %u %u ", m[off], m[off + 1],
			    m[off + 2]);
			for (k = 3; k < rdlen; k++)
				o += (size_t)sprintf(t + o, "%02x", m[off + k]);
			srv->rr = realloc(srv->rr, (srv->nrr + 1) * sizeof(*srv->rr));
			if (srv->rr == NULL)
				abort();
			srv->rr[srv->nrr++] = t;
			srv->ttl = ttl;
		}
		off += rdlen;
	}
	if (srv->nrr > 1)
		qsort(srv->rr, srv->nrr, sizeof(*srv->rr), compare_str);
	if (srv->rcode != 0 && srv->rcode != 3) {
		snprintf(srv->err, sizeof(srv->err), "rcode %d%s", srv->rcode,
		    srv->rcode == 2 ? " (SERVFAIL)" : srv->rcode == 5 ?
		    " (REFUSED)" : "");
		return -1;
	}
	return 0;
bad:
	snprintf(srv->err, sizeof(srv->err), "malformed reply");
	return -1;
}

static int
wait_fd(int fd, short ev)
{
	struct pollfd pfd = { fd, ev, 0 };
	int rv;

	do
		rv = poll(&pfd, 1, TRY_MS);
	while (rv == -1 && errno == EINTR);
	return rv;
}

static ssize_t
tcp_exchange(const struct sockaddr *sa, socklen_t salen, const unsigned char *q,
    size_t qlen, unsigned char *r, size_t rlen)
{
	struct timeval	 tv = { TRY_MS / 1000, 0 };
	unsigned char	 lb[2];
	size_t		 want, got = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = socket(sa->sa_family, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	lb[0] = (unsigned char)(qlen >> 8);
	lb[1] = qlen & 0xff;
	if (connect(fd, sa, salen) == -1 || write(fd, lb, 2) != 2 ||
	    write(fd, q, qlen) != (ssize_t)qlen ||
	    read(fd, lb, 2) != 2) {
		close(fd);
		return -1;
	}
	want = ((size_t)lb[0] << 8) | lb[1];
	if (want > rlen)
		want = rlen;
	while (got < want && (n = read(fd, r + got, want - got)) > 0)
		got += (size_t)n;
	close(fd);
	return got == want ? (ssize_t)got : -1;
}

/* Ask one address; fills srv. */
static void
ask(const char *addr, const char *owner, struct check_ns_server *srv)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 salen;
	unsigned char		 q[600], *r;
	uint16_t		 id;
	size_t			 qlen;
	ssize_t			 n = -1;
	bool			 tc = false, refused = false;
	int			 fd, t;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(53);
		salen = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(53);
		salen = sizeof(*s6);
	} else {
		snprintf(srv->err, sizeof(srv->err), "bad address");
		return;
	}
	if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
		id = (uint16_t)getpid();
	if ((qlen = build_query(q, sizeof(q), owner, id)) == 0) {
		snprintf(srv->err, sizeof(srv->err), "name too long");
		return;
	}
	r = xmalloc(MSG_MAX);
	if ((fd = socket(ss.ss_family, SOCK_DGRAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&ss, salen) == -1) {
		snprintf(srv->err, sizeof(srv->err), "%s", strerror(errno));
		if (fd != -1)
			close(fd);
		free(r);
		return;
	}
	for (t = 0; t < TRIES && n < 0 && !refused; t++) {
		if (send(fd, q, qlen, 0) != (ssize_t)qlen) {
			refused = errno == ECONNREFUSED;
			break;
		}
		/* skip replies that are not ours (stale ids) within the try */
		while (wait_fd(fd, POLLIN) > 0) {
			n = recv(fd, r, MSG_MAX, 0);
			if (n >= 2 && ((r[0] << 8) | r[1]) == id)
				break;
			refused = n < 0 && errno == ECONNREFUSED;
			n = -1;
			if (refused)
				break;	/* ICMP port unreachable: nobody there */
		}
	}
	if (n < 0 && refused)
		snprintf(srv->err, sizeof(srv->err), "connection refused");
	else if (n < 0)
		snprintf(srv->err, sizeof(srv->err), "no answer in %d x %d ms",
		    TRIES, TRY_MS);
	close(fd);
	if (n >= 0 && check_ns_parse(r, (size_t)n, id, owner, srv, &tc) == 0 &&
	    !tc)
		srv->answered = true;
	else if (n >= 0 && tc) {
		size_t i;

		for (i = 0; i < srv->nrr; i++)
			free(srv->rr[i]);
		free(srv->rr);
		srv->rr = NULL;
		srv->nrr = 0;
		n = tcp_exchange((struct sockaddr *)&ss, salen, q, qlen, r,
		    MSG_MAX);
		if (n < 0)
			snprintf(srv->err, sizeof(srv->err), "truncated, and no "
			    "answer over TCP");
		else if (check_ns_parse(r, (size_t)n, id, owner, srv, &tc) == 0)
			srv->answered = true;
	}
	free(r);
}

/* A new entry of ns->srv for host, or NULL at the cap (counted in
 * nskipped: an address not asked must not pass for one that agrees). */
static struct check_ns_server *
add_server(struct check_ns *ns, const char *host)
{
	struct check_ns_server *s;

	if (ns->nsrv == CHECK_NS_MAX_SERVERS) {
		ns->nskipped++;
		return NULL;
	}
	ns->srv = realloc(ns->srv, (ns->nsrv + 1) * sizeof(*ns->srv));
	if (ns->srv == NULL)
		abort();
	s = &ns->srv[ns->nsrv++];
	memset(s, 0, sizeof(*s));
	str_copy(s->name, host, sizeof(s->name));
	return s;
}

/*
 * The addresses of one NS host into ns->srv (up to the cap). A lookup
 * that fails, and a host with no address at all, become an entry with
 * an empty addr and the reason in err: that server cannot be asked, so
 * it must not silently drop out of the comparison (a name server known
 * only by an AAAA record whose lookup failed would otherwise vanish, and
 * the rest would "all agree").
 */
static void
add_addresses(struct check_ns_ctx *c, const char *host, struct check_ns *ns)
{
	static const int types[] = { T_A, T_AAAA };
	struct check_ns_server *s;
	struct ub_result *res;
	size_t i, k, before = ns->nsrv + ns->nskipped;
	int rv;

	for (k = 0; k < 2; k++) {
		int af = types[k] == T_A ? AF_INET : AF_INET6;
		const char *tn = types[k] == T_A ? "A" : "AAAA";

		if ((rv = ub_resolve(c->ub, host, types[k], C_IN, &res)) != 0) {
			if ((s = add_server(ns, host)) != NULL)
				snprintf(s->err, sizeof(s->err), "%s lookup: %s",
				    tn, ub_strerror(rv));
			continue;
		}
		if (res->bogus || (res->rcode != 0 && res->rcode != 3)) {
			if ((s = add_server(ns, host)) != NULL)
				snprintf(s->err, sizeof(s->err), "%s lookup: rcode "
				    "%d%s%s%.120s", tn, res->rcode, res->rcode == 2 ?
				    " (SERVFAIL)" : "", res->bogus ? ", bogus: " : "",
				    res->bogus && res->why_bogus ? res->why_bogus : "");
			ub_resolve_free(res);
			continue;
		}
		for (i = 0; res->havedata && res->data[i] != NULL; i++) {
			if (res->len[i] != (af == AF_INET ? 4 : 16) ||
			    (s = add_server(ns, host)) == NULL)
				continue;
			inet_ntop(af, res->data[i], s->addr, sizeof(s->addr));
		}
		ub_resolve_free(res);
	}
	if (ns->nsrv + ns->nskipped == before &&
	    (s = add_server(ns, host)) != NULL)
		snprintf(s->err, sizeof(s->err), "no A or AAAA record");
}

int
check_ns_tlsa(struct check_ns_ctx *c, const char *owner, struct check_ns *ns)
{
	struct ub_result	*res = NULL;
	const char		*z = owner;
	char			 host[256];
	size_t			 i;
	int			 rv;

	memset(ns, 0, sizeof(*ns));
	/* the zone: the closest enclosing name that has NS records */
	for (;;) {
		rv = ub_resolve(c->ub, *z ? z : ".", T_NS, C_IN, &res);
		if (rv != 0) {
			snprintf(ns->err, sizeof(ns->err), "NS %s: %s", *z ? z :
			    ".", ub_strerror(rv));
			return -1;
		}
		if (res->havedata)
			break;
		if (res->rcode != 0 && res->rcode != 3) {
			snprintf(ns->err, sizeof(ns->err), "NS %s: rcode %d%s",
			    *z ? z : ".", res->rcode, res->bogus ? " (bogus)" : "");
			ub_resolve_free(res);
			return -1;
		}
		ub_resolve_free(res);
		res = NULL;
		if (*z == '\0') {
			snprintf(ns->err, sizeof(ns->err), "no NS records above %s",
			    owner);
			return -1;
		}
		z = strchr(z, '.');
		z = z ? z + 1 : "";
	}
	str_copy(ns->zone, *z ? z : ".", sizeof(ns->zone));
	for (i = 0; res->data[i] != NULL; i++) {
		if (wire_name((unsigned char *)res->data[i], (size_t)res->len[i],
		    host, sizeof(host)) == -1)
			continue;
		add_addresses(c, host, ns);
	}
	ub_resolve_free(res);
	for (i = 0; i < ns->nsrv; i++)
		if (ns->srv[i].addr[0] != '\0')
			break;
	if (i == ns->nsrv) {
		snprintf(ns->err, sizeof(ns->err), "no address for any name "
		    "server of %s%s%.200s", ns->zone, ns->nsrv ? ": " : "",
		    ns->nsrv ? ns->srv[0].err : "");
		return -1;
	}
	for (i = 0; i < ns->nsrv; i++)
		if (ns->srv[i].addr[0] != '\0')
			ask(ns->srv[i].addr, owner, &ns->srv[i]);
	return 0;
}
