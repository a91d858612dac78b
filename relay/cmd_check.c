/*
 * relay/cmd_check.c - `danerelay check DOMAIN`: what a DANE sender meets
 * at DOMAIN, checked with delivery's own code and without sending mail.
 *
 * DNS: the MX RRset, each host's addresses, CNAME facts and TLSA RRset,
 * every decision made by the functions delivery calls (relay/delivery.c,
 * docs/dane.md): selfcheck_verdict + policy_validation (rule 16),
 * policy_mx (1-3), policy_addr_secure, policy_host_addr and
 * policy_tlsa_bases (4, 5), policy_tlsa_rrset + dane_tlsa_check (7) and
 * policy_host (6-13), always under tls_policy dane (the question is "does
 * DANE work for this domain", whatever the local policy says), with
 * remote_port and [domain] overrides from conf_dest_for.
 *
 * Probes: for each address, the real outbound client (relay/smtp_client.c
 * with tls/tls_client.c and tls/dane.c) connects under the security
 * context policy_secctx derives, says EHLO, STARTTLS, verifies with
 * dane_ssl_verify, and QUITs before MAIL. Each address is probed once per
 * public-key algorithm, the client's signature algorithms restricted to
 * RSA and then to ECDSA (SSL_CTX_set1_sigalgs_list on a tls_client of its
 * own), so that a server whose ECDSA chain matches its TLSA records but
 * whose RSA chain does not is caught: a sender that prefers RSA would fail.
 *
 * Output: one line per finding ("SEVERITY: SCOPE: TEXT"), then one verdict
 * line per host and per address ("HOST[ADDR]:PORT pass: ..."), then a
 * status line; --json gives the same as one JSON object. The exit status
 * follows the monitoring plugin convention (relay/cmd_check.h):
 * critical for bogus DNS and for a host with usable TLSA records that
 * fails authentication (or cannot be reached), warning for a weaker setup
 * (no DANE, only unusable records, TTL advice, certificates expiring
 * before --at), unknown when the check cannot be made (validation does not
 * work, DNS does not answer).
 *
 * --at +30d: certificates of the presented chains that will have expired
 * by then, and whether the record that matched will still authenticate
 * (DANE-TA chains need every certificate up to the anchor valid; DANE-EE
 * ignores expiry but the certificate will be replaced: its successor must
 * match a published record, RFC 7671 8.1).
 * --ns: relay/check_ns.c asks every authoritative server of each TLSA
 * owner name directly and compares their answers.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/cmd_check.h"
#include "conf/conf.h"
#include "relay/check_ns.h"
#include "relay/policy.h"
#include "relay/privsep.h"
#include "relay/smtp_client.h"
#include "relay/util.h"
#include "resolver/mx.h"
#include "resolver/resolver.h"
#include "resolver/selfcheck.h"
#include "tls/dane.h"
#include "tls/tls_client.h"

#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* RFC 8446 4.2.3 names; the rsa_pkcs1 ones are for TLS 1.2. */
#define SIGALGS_RSA	"rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:" \
			"rsa_pss_rsae_sha512:rsa_pss_pss_sha256:" \
			"rsa_pss_pss_sha384:rsa_pss_pss_sha512:" \
			"rsa_pkcs1_sha256:rsa_pkcs1_sha384:rsa_pkcs1_sha512"
#define SIGALGS_ECDSA	"ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384:" \
			"ecdsa_secp521r1_sha512"

/* The TTL the publishing how-to recommends for TLSA records. */
#define TTL_ADVICE_MIN	1800
#define TTL_ADVICE_MAX	3600

#define CHAIN_MAX	8
#define PROBE_TIMEOUT_MAX 30	/* seconds, per SMTP stage of a probe */

enum ck_sev { SEV_INFO, SEV_OK, SEV_WARN, SEV_CRIT, SEV_UNKNOWN };

static const char *const sev_names[] = { "info", "ok", "warning",
    "critical", "unknown" };
static const char *const verdict_names[] = { "pass", "pass", "warn",
    "fail", "unknown" };

struct ck_item {
	enum ck_sev	 sev;
	char		*scope;
	char		*text;
};

struct ck_list {
	struct ck_item	*v;
	size_t		 n, cap;
};

enum ck_alg { ALG_ECDSA, ALG_RSA, ALG_N };
static const char *const alg_names[ALG_N] = { "ECDSA", "RSA" };
static const char *const alg_sigalgs[ALG_N] = { SIGALGS_ECDSA, SIGALGS_RSA };

struct ck {
	const struct conf	*conf;
	struct event_base	*base;
	struct resolver		*r;
	struct tls_client	*tc[ALG_N];
	struct conf_dest	 dest;
	int			 port;
	bool			 json;
	long			 at;		/* --at seconds from now, 0: none */
	const char		*at_text;	/* as given: "+30d" */
	bool			 ns;
	struct check_ns_ctx	*nsctx;		/* --ns */
	time_t			 now;
	struct ck_list		 findings, verdicts;
	/* one pending lookup at a time */
	bool			 done;
	struct dns_result	*res;
	struct resolver_host	*host;
	/* the destination */
	const char		*domain, *domain_canon;
	bool			 vok, mx_secure;
	unsigned		 dane_hosts;	/* hosts with usable TLSA */
};

struct ck_cert {
	char			 subject[DANE_SUBJECT_MAX];
	char			 alg[16];
	time_t			 not_after;
};

/* One probe: one address, one algorithm. */
struct ck_probe {
	struct ck		*k;
	struct smtp_client	*c;
	bool			 done, connected, ready, starttls, tls, tls_ok;
	struct tls_result	 tr;
	char			 version[16];
	char			 peername[256];
	struct ck_cert		 chain[CHAIN_MAX];
	int			 nchain;
	int			 match_idx;	/* index into the RRset, -1 */
	enum smtp_fail		 fail;
	enum tlsrpt_type	 rpt;
	char			 why[400];
	const struct dane_tlsa	*dt;
	size_t			 ndt;
};

/* ------------------------------------------------------------ findings */

static void
ck_add(struct ck_list *l, enum ck_sev sev, const char *scope,
    const char *fmt, ...)
{
	char	 buf[2048];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (l->v == NULL)
			abort();
	}
	l->v[l->n].sev = sev;
	l->v[l->n].scope = xstrdup(scope);
	l->v[l->n].text = xstrdup(buf);
	l->n++;
}

#define finding(k, sev, scope, ...)	ck_add(&(k)->findings, sev, scope, __VA_ARGS__)
#define verdict(k, sev, scope, ...)	ck_add(&(k)->verdicts, sev, scope, __VA_ARGS__)

static void
ck_list_free(struct ck_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].scope);
		free(l->v[i].text);
	}
	free(l->v);
}

/* Peer text (subjects, replies): printable ASCII only, so that neither
 * a terminal nor a JSON parser is fed what the peer chose. */
static void
clean(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

/* -------------------------------------------------------------- lookups */

static void
ck_res_cb(struct dns_result *res, void *arg)
{
	struct ck *k = arg;

	k->res = res;
	k->done = true;
	event_base_loopbreak(k->base);
}

static void
ck_host_cb(struct resolver_host *h, void *arg)
{
	struct ck *k = arg;

	k->host = h;
	k->done = true;
	event_base_loopbreak(k->base);
}

static void
ck_wait(struct ck *k)
{
	while (!k->done)
		if (event_base_dispatch(k->base) == -1)
			break;
	k->done = false;
}

/* Severity of a lookup that did not answer: bogus is an attack or a
 * broken zone (critical), anything else means we could not tell. */
static enum ck_sev
sev_of_failure(const struct dns_result *r)
{
	return r->state == DNS_BOGUS ? SEV_CRIT : SEV_UNKNOWN;
}

/* "TYPE QNAME: STATE[, N records|NODATA|NXDOMAIN][, ttl T][, CNAME ->
 * C][: reason]" as a finding; a failed lookup with its severity. */
static void
ck_result(struct ck *k, const char *scope, const struct dns_result *res)
{
	char	 buf[1024];
	size_t	 o = 0;

	o += snprintf(buf + o, sizeof(buf) - o, "%s %s: %s",
	    rr_type_name(res->qtype), res->qname, dns_state_name(res->state));
	if (res->answer == DNS_ANSWER_DATA)
		o += snprintf(buf + o, sizeof(buf) - o, ", %zu record%s",
		    res->nrr, res->nrr == 1 ? "" : "s");
	else if (res->answer == DNS_ANSWER_NODATA)
		o += snprintf(buf + o, sizeof(buf) - o, ", NODATA");
	else if (res->answer == DNS_ANSWER_NXDOMAIN)
		o += snprintf(buf + o, sizeof(buf) - o, ", NXDOMAIN");
	if (dns_result_answered(res) && o < sizeof(buf))
		o += snprintf(buf + o, sizeof(buf) - o, ", ttl %u", res->ttl);
	if (res->cname && o < sizeof(buf))
		o += snprintf(buf + o, sizeof(buf) - o, ", CNAME -> %s",
		    res->canonname);
	if (res->reason != NULL && o < sizeof(buf))
		snprintf(buf + o, sizeof(buf) - o, ": %s", res->reason);
	finding(k, dns_result_answered(res) ? SEV_INFO : sev_of_failure(res),
	    scope, "%s", buf);
}

static void
hex(char *out, size_t outlen, const unsigned char *p, size_t len, size_t max)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < len && i < max && o + 3 < outlen; i++)
		o += snprintf(out + o, outlen - o, "%02x", p[i]);
	if (len > max && o < outlen)
		snprintf(out + o, outlen - o, "... (%zu bytes)", len);
}

/* Every record of a TLSA RRset with delivery's usability verdict. */
static void
ck_tlsa_records(struct ck *k, const char *scope, const struct dane_tlsa *dt,
    size_t n)
{
	char	 h[200];
	size_t	 i;

	for (i = 0; i < n; i++) {
		enum dane_usability u = dane_tlsa_check(&dt[i]);

		hex(h, sizeof(h), dt[i].data, dt[i].len, 32);
		finding(k, SEV_INFO, scope, "TLSA record %zu: %u %u %u %s: %s%s",
		    i + 1, dt[i].usage, dt[i].selector, dt[i].mtype, h,
		    u == DANE_USABLE ? "usable" : "unusable, ",
		    u == DANE_USABLE ? "" : dane_usability_text(u));
	}
}

/* TLSA TTL advice (the publishing how-to: 30 minutes to 1 hour). */
static void
ck_ttl_advice(struct ck *k, const char *scope, const char *owner, uint32_t ttl,
    bool from_ns)
{
	if (ttl > TTL_ADVICE_MAX)
		finding(k, SEV_WARN, scope, "advice: TLSA %s TTL %u s is longer "
		    "than the recommended %u-%u s: a new record takes that long "
		    "to reach every cache, so certificate rollovers wait as long",
		    owner, ttl, TTL_ADVICE_MIN, TTL_ADVICE_MAX);
	else if (ttl < TTL_ADVICE_MIN)
		finding(k, SEV_INFO, scope, "advice: TLSA %s TTL %u s is shorter "
		    "than the recommended %u-%u s%s", owner, ttl, TTL_ADVICE_MIN,
		    TTL_ADVICE_MAX, from_ns ? " (as the name servers serve it)" :
		    " (as a validating resolver sees it; its cache may cap it: "
		    "--ns shows the zone's value)");
}

/* --------------------------------------------------------------- probes */

static const char *
key_alg(X509 *x)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);

	if (pk == NULL)
		return "unknown key";
	switch (EVP_PKEY_base_id(pk)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		return "RSA";
	case EVP_PKEY_EC:
		return "ECDSA";
	case EVP_PKEY_ED25519:
		return "Ed25519";
	case EVP_PKEY_ED448:
		return "Ed448";
	default:
		return "other key";
	}
}

static time_t
asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

/* After the handshake: what the peer presented and what matched. */
static void
probe_capture(struct ck_probe *p, SSL *ssl)
{
	STACK_OF(X509)	*chain;
	const unsigned char *data = NULL;
	const char	*pn;
	uint8_t		 u, s, m;
	size_t		 dlen = 0, i;
	int		 depth;

	str_copy(p->version, SSL_get_version(ssl), sizeof(p->version));
	if ((pn = SSL_get0_peername(ssl)) != NULL) {
		str_copy(p->peername, pn, sizeof(p->peername));
		clean(p->peername);
	}
	chain = SSL_get_peer_cert_chain(ssl);
	for (i = 0; chain != NULL && i < (size_t)sk_X509_num(chain) &&
	    i < CHAIN_MAX; i++) {
		X509 *x = sk_X509_value(chain, (int)i);

		dane_cert_subject(x, p->chain[i].subject,
		    sizeof(p->chain[i].subject));
		clean(p->chain[i].subject);
		str_copy(p->chain[i].alg, key_alg(x), sizeof(p->chain[i].alg));
		p->chain[i].not_after = asn1_time(X509_get0_notAfter(x));
		p->nchain++;
	}
	p->match_idx = -1;
	depth = SSL_get0_dane_tlsa(ssl, &u, &s, &m, &data, &dlen);
	if (depth >= 0 && data != NULL)
		for (i = 0; i < p->ndt; i++)
			if (p->dt[i].usage == u && p->dt[i].selector == s &&
			    p->dt[i].mtype == m && p->dt[i].len == dlen &&
			    memcmp(p->dt[i].data, data, dlen) == 0) {
				p->match_idx = (int)i;
				break;
			}
}

static void
probe_event(void *arg, const struct smtp_event *ev)
{
	struct ck_probe *p = arg;
	SSL *ssl;

	switch (ev->type) {
	case SMTP_EV_CONNECTED:
		p->connected = true;
		break;
	case SMTP_EV_TLS:
		p->tls = true;
		p->starttls = true;
		p->tls_ok = ev->tls_ok;
		if (ev->tls != NULL)
			p->tr = *ev->tls;
		if (p->c != NULL && (ssl = smtp_client_ssl(p->c)) != NULL)
			probe_capture(p, ssl);
		break;
	default:
		break;
	}
}

static void
probe_ready(void *arg)
{
	struct ck_probe *p = arg;

	p->ready = true;
	if (!p->tls)
		p->starttls = (smtp_client_ext(p->c) & SMTP_EXT_STARTTLS) != 0;
	smtp_client_quit(p->c);		/* no mail: QUIT before MAIL */
}

static void
probe_rcpt(void *arg, const struct smtp_rcpt_result *r)
{
}

static void
probe_done(void *arg, const struct smtp_msg_result *r)
{
}

static void
probe_closed(void *arg, const struct smtp_failure *f)
{
	struct ck_probe *p = arg;

	p->fail = f->fail;
	p->rpt = f->rpt;
	if (f->why != NULL)
		str_copy(p->why, f->why, sizeof(p->why));
	else if (f->reply != NULL)
		str_copy(p->why, f->reply->text, sizeof(p->why));
	clean(p->why);
	p->c = NULL;			/* freed after we return */
	p->done = true;
	event_base_loopbreak(p->k->base);
}

static const struct smtp_client_cbs probe_cbs = {
	probe_event, probe_ready, probe_rcpt, probe_done, probe_closed,
};

static unsigned
cap(unsigned secs)
{
	return secs == 0 || secs > PROBE_TIMEOUT_MAX ? PROBE_TIMEOUT_MAX : secs;
}

static void
probe_run(struct ck *k, enum ck_alg alg, const struct dns_addr *a,
    const char *host, const struct tls_secctx *sec, struct ck_probe *p)
{
	struct smtp_client_params	 prm;
	struct sockaddr_storage		 ss;
	const struct conf		*conf = k->conf;

	memset(&prm, 0, sizeof(prm));
	prm.salen = rr_addr_sockaddr(a, (uint16_t)k->port, &ss);
	prm.sa = (struct sockaddr *)&ss;
	prm.host = host;
	prm.helo_name = conf->hostname ? conf->hostname : "localhost";
	prm.tls = k->tc[alg];
	prm.sec = *sec;
	/* a monitoring check must finish: the configured timeouts, each
	 * capped (a hung server is a finding, not a wait of minutes) */
	prm.connect_timeout = cap(conf->connect_timeout);
	prm.greeting_timeout = cap(conf->greeting_timeout);
	prm.command_timeout = cap(conf->command_timeout);
	prm.data_timeout = cap(conf->data_timeout);
	prm.data_done_timeout = cap(conf->data_done_timeout);
	p->k = k;
	p->match_idx = -1;
	p->c = smtp_client_connect(k->base, &prm, &probe_cbs, p);
	if (p->c == NULL) {
		p->fail = SMTP_FAIL_CONNECT;
		snprintf(p->why, sizeof(p->why), "cannot connect: %s",
		    strerror(errno));
		return;
	}
	while (!p->done)
		if (event_base_dispatch(k->base) == -1)
			break;
}

/* The findings of one probe; its summary for the verdict line in sum. */
static enum ck_sev
probe_report(struct ck *k, const char *scope, enum ck_alg alg,
    const struct pol_host *ph, const struct ck_probe *p, char *sum,
    size_t sumlen)
{
	const char	*an = alg_names[alg];
	bool		 auth = ph->level == TLS_LEVEL_DANE && ph->authenticate;
	enum ck_sev	 sev = SEV_OK;
	int		 i;

	if (!p->connected) {
		finding(k, SEV_CRIT, scope, "%s: %s", an, p->why);
		snprintf(sum, sumlen, "no connection (%s)", p->why);
		return SEV_CRIT;
	}
	if (p->tls || p->ready)
		finding(k, SEV_INFO, scope, "%s: connected, EHLO accepted, "
		    "STARTTLS %s", an, p->starttls ? "offered" : "not offered");
	if (p->tls) {
		finding(k, SEV_INFO, scope, "%s: %s", an, p->tr.desc);
		/* the client refuses anything older (tls/tls_client.c) */
		finding(k, SEV_INFO, scope, "%s: TLS version %s: 1.2 or later "
		    "required: ok", an, p->version);
		for (i = 0; i < p->nchain; i++)
			finding(k, SEV_INFO, scope, "%s: chain depth %d: %s key, "
			    "subject %s", an, i, p->chain[i].alg,
			    p->chain[i].subject);
	}
	if (p->fail == SMTP_FAIL_STARTTLS_MISSING || (!p->starttls &&
	    p->ready)) {
		sev = ph->level >= TLS_LEVEL_ENCRYPT ? SEV_CRIT : SEV_WARN;
		finding(k, sev, scope, "%s: STARTTLS not offered%s", an,
		    ph->level >= TLS_LEVEL_ENCRYPT ? ": TLSA records require it" :
		    "");
		snprintf(sum, sumlen, "STARTTLS not offered");
		return sev;
	}
	if (p->fail == SMTP_FAIL_TLS && !p->tls) {
		/* No chain for this algorithm (or TLS broken altogether:
		 * probe_verdict tells the two apart). */
		finding(k, SEV_INFO, scope, "%s: no handshake with %s signatures "
		    "only: %s", an, an, p->why);
		snprintf(sum, sumlen, "no %s chain", an);
		return SEV_INFO;
	}
	if (p->tls && p->nchain > 0 && strcmp(p->chain[0].alg, an) != 0)
		finding(k, SEV_WARN, scope, "%s: the server answered %s-only "
		    "signature algorithms with a %s key", an, an, p->chain[0].alg);
	if (p->tls && auth) {
		if (p->tls_ok && p->tr.dane.authenticated) {
			const struct dane_verify *v = &p->tr.dane;

			if (p->match_idx >= 0)
				finding(k, SEV_OK, scope, "%s: TLSA record %d (%u %u "
				    "%u) matched the certificate at depth %d", an,
				    p->match_idx + 1, v->usage, v->selector,
				    v->mtype, v->depth);
			if (v->usage == DANE_USAGE_DANE_TA)
				finding(k, SEV_OK, scope, "%s: DANE-TA name check "
				    "passed: the certificate names %s (reference "
				    "identifiers: %s%s%s%s%s)", an, p->peername[0] ?
				    p->peername : "a reference identifier",
				    ph->base_domain ? ph->base_domain : "",
				    ph->nref_names > 0 ? ", " : "",
				    ph->nref_names > 0 ? ph->ref_names[0] : "",
				    ph->nref_names > 1 ? ", " : "",
				    ph->nref_names > 1 ? ph->ref_names[1] : "");
			snprintf(sum, sumlen, "TLSA %u %u %u matched at depth %d "
			    "(%s)", v->usage, v->selector, v->mtype, v->depth, an);
		} else {
			const struct dane_verify *v = &p->tr.dane;

			finding(k, SEV_CRIT, scope, "%s: authentication failed: %s%s%s%s",
			    an, v->reason[0] ? v->reason : p->why,
			    v->rpt != TLSRPT_NONE ? " (" : "",
			    tlsrpt_name(v->rpt), v->rpt != TLSRPT_NONE ? ")" : "");
			if (v->rpt == TLSRPT_CERT_HOST_MISMATCH)
				finding(k, SEV_CRIT, scope, "%s: DANE-TA name check "
				    "failed: reference identifiers %s%s%s%s%s", an,
				    ph->base_domain ? ph->base_domain : "",
				    ph->nref_names > 0 ? ", " : "",
				    ph->nref_names > 0 ? ph->ref_names[0] : "",
				    ph->nref_names > 1 ? ", " : "",
				    ph->nref_names > 1 ? ph->ref_names[1] : "");
			snprintf(sum, sumlen, "%s: %s%s%s%s", an, v->reason[0] ?
			    v->reason : p->why, v->rpt != TLSRPT_NONE ? " (" : "",
			    tlsrpt_name(v->rpt), v->rpt != TLSRPT_NONE ? ")" : "");
			return SEV_CRIT;
		}
	} else if (p->tls) {
		snprintf(sum, sumlen, "TLS %s, unauthenticated (%s)", p->version,
		    an);
	}
	if (p->fail != SMTP_FAIL_NONE && p->fail != SMTP_FAIL_DANE) {
		finding(k, SEV_CRIT, scope, "%s: %s: %s", an, smtp_fail_name(p->fail),
		    p->why);
		snprintf(sum, sumlen, "%s: %s", an, p->why);
		return SEV_CRIT;
	}
	if (!p->tls && p->ready)
		snprintf(sum, sumlen, "no TLS (%s)", an);
	return sev;
}

/* --at: certificates that will have expired by then. */
static enum ck_sev
probe_at(struct ck *k, const char *scope, enum ck_alg alg,
    const struct ck_probe *p, char *sum, size_t sumlen)
{
	time_t		 when = k->now + k->at;
	enum ck_sev	 sev = SEV_OK;
	char		 date[32];
	int		 i;
	bool		 breaks = false;

	sum[0] = '\0';
	for (i = 0; i < p->nchain; i++) {
		struct tm tm;

		if (p->chain[i].not_after == 0 || p->chain[i].not_after > when)
			continue;
		gmtime_r(&p->chain[i].not_after, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", &tm);
		finding(k, SEV_WARN, scope, "%s: at %s: the certificate at "
		    "depth %d (%s) will have expired (%s)", alg_names[alg],
		    k->at_text, i, p->chain[i].subject, date);
		sev = SEV_WARN;
		/* a DANE-TA match needs every certificate from the leaf to
		 * the anchor valid; DANE-EE ignores expiry (RFC 7672 3.1.1)
		 * but an expired leaf is replaced, and its successor must
		 * match a published record */
		if (p->tr.dane.authenticated &&
		    (p->tr.dane.usage == DANE_USAGE_DANE_EE ? i == 0 :
		    i <= p->tr.dane.depth))
			breaks = true;
		if (sum[0] == '\0')
			snprintf(sum, sumlen, "certificate at depth %d expires %s",
			    i, date);
	}
	if (breaks && p->tr.dane.usage == DANE_USAGE_DANE_EE)
		finding(k, SEV_WARN, scope, "%s: at %s: the leaf will have been "
		    "replaced: unless the new certificate keeps the key, TLSA %u "
		    "%u %u no longer matches: publish the next record first "
		    "(danerelay tlsa CERT NEXT)", alg_names[alg], k->at_text,
		    p->tr.dane.usage, p->tr.dane.selector, p->tr.dane.mtype);
	else if (breaks)
		finding(k, SEV_WARN, scope, "%s: at %s: TLSA %u %u %u will no "
		    "longer authenticate this chain: a certificate between the "
		    "leaf and the trust anchor will have expired", alg_names[alg],
		    k->at_text, p->tr.dane.usage, p->tr.dane.selector,
		    p->tr.dane.mtype);
	return sev;
}

static enum ck_sev
worse(enum ck_sev a, enum ck_sev b)
{
	/* critical beats unknown: a known failure is the stronger news */
	static const int rank[] = { 0, 0, 1, 3, 2 };

	return rank[b] > rank[a] ? b : a;
}

/* Probe one address with each algorithm; one verdict line. */
static enum ck_sev
check_addr(struct ck *k, const char *host, const struct dns_addr *a,
    const struct pol_host *ph, const struct dane_tlsa *dt, size_t ndt)
{
	struct tls_secctx	 sec;
	struct ck_probe		 p[ALG_N];
	char			 scope[600], ip[DNS_ADDR_TEXT_MAX];
	char			 sum[ALG_N][600], atsum[ALG_N][200], line[1600];
	enum ck_sev		 sev = SEV_OK, s[ALG_N];
	size_t			 i, o = 0, nhs = 0;

	rr_addr_ntop(a, ip, sizeof(ip));
	snprintf(scope, sizeof(scope), "%s[%s]:%d", host, ip, k->port);
	policy_secctx(ph, dt, ndt, &sec);
	memset(p, 0, sizeof(p));
	for (i = 0; i < ALG_N; i++) {
		p[i].dt = dt;
		p[i].ndt = ndt;
		sum[i][0] = atsum[i][0] = '\0';
		if (i > 0 && (!p[0].connected || (!p[0].starttls &&
		    !p[0].tls && p[0].fail != SMTP_FAIL_TLS))) {
			/* unreachable or no STARTTLS: the signature
			 * algorithms change nothing, one report is enough */
			s[i] = SEV_INFO;
			continue;
		}
		probe_run(k, (enum ck_alg)i, a, host, &sec, &p[i]);
		s[i] = probe_report(k, scope, (enum ck_alg)i, ph, &p[i],
		    sum[i], sizeof(sum[i]));
		if (p[i].tls)
			nhs++;
		if (k->at > 0 && p[i].tls)
			s[i] = worse(s[i], probe_at(k, scope, (enum ck_alg)i,
			    &p[i], atsum[i], sizeof(atsum[i])));
		sev = worse(sev, s[i]);
	}
	if (p[0].connected && nhs == 0 && p[0].starttls) {
		/* neither algorithm got a handshake: TLS is broken */
		sev = worse(sev, ph->level >= TLS_LEVEL_ENCRYPT ? SEV_CRIT :
		    SEV_WARN);
		finding(k, sev, scope, "no TLS handshake with RSA or ECDSA "
		    "signatures");
	}
	if (sev == SEV_OK && !(ph->level == TLS_LEVEL_DANE && ph->authenticate))
		sev = SEV_WARN;		/* reachable, but not DANE */
	for (i = 0; i < ALG_N; i++) {
		if (sum[i][0] == '\0')
			continue;
		o += snprintf(line + o, sizeof(line) - o, "%s%s", o ? ", " : "",
		    sum[i]);
		if (atsum[i][0] != '\0' && o < sizeof(line))
			o += snprintf(line + o, sizeof(line) - o, "; at %s: %s",
			    k->at_text, atsum[i]);
		if (o >= sizeof(line))
			break;
	}
	verdict(k, sev, scope, "%s", line);
	return sev;
}

/* --ns: what each authoritative server of owner's zone serves. */
static void
ck_ns(struct ck *k, const char *scope, const char *owner)
{
	struct check_ns	 ns;
	char		 err[300], **all = NULL;
	size_t		 nall = 0, i, j, m, nbad = 0, nans = 0, nnoaddr = 0;
	uint32_t	 maxttl = 0;

	if (k->nsctx == NULL && (k->nsctx = check_ns_new(k->conf->resolver_config,
	    k->conf->trust_anchor_file, err, sizeof(err))) == NULL) {
		finding(k, SEV_UNKNOWN, scope, "%s", err);
		return;
	}
	if (check_ns_tlsa(k->nsctx, owner, &ns) == -1) {
		verdict(k, SEV_UNKNOWN, owner, "--ns: %s", ns.err);
		check_ns_clear(&ns);
		return;
	}
	for (i = 0; i < ns.nsrv; i++)
		if (ns.srv[i].addr[0] == '\0')
			nnoaddr++;
	finding(k, SEV_INFO, scope, "--ns: %s is in zone %s, %zu name server "
	    "address%s", owner, ns.zone, ns.nsrv - nnoaddr,
	    ns.nsrv - nnoaddr == 1 ? "" : "es");
	/* every record any server serves */
	for (i = 0; i < ns.nsrv; i++)
		for (j = 0; ns.srv[i].answered && j < ns.srv[i].nrr; j++) {
			for (m = 0; m < nall; m++)
				if (strcmp(all[m], ns.srv[i].rr[j]) == 0)
					break;
			if (m < nall)
				continue;
			all = realloc(all, (nall + 1) * sizeof(*all));
			if (all == NULL)
				abort();
			all[nall++] = ns.srv[i].rr[j];
		}
	for (i = 0; i < ns.nsrv; i++) {
		const struct check_ns_server *sv = &ns.srv[i];
		bool lacks = false;

		if (sv->addr[0] == '\0') {
			/* it cannot be asked: never counted as agreeing */
			finding(k, SEV_WARN, scope, "--ns: %s: not asked: %s",
			    sv->name, sv->err);
			nbad++;
			continue;
		}
		if (!sv->answered) {
			finding(k, SEV_WARN, scope, "--ns: %s[%s]: no answer: %s",
			    sv->name, sv->addr, sv->err);
			nbad++;
			continue;
		}
		nans++;
		if (sv->ttl > maxttl)
			maxttl = sv->ttl;
		finding(k, sv->aa ? SEV_INFO : SEV_WARN, scope, "--ns: %s[%s]: "
		    "TLSA %s: %zu record%s%s%u%s", sv->name, sv->addr, owner,
		    sv->nrr, sv->nrr == 1 ? "" : "s", sv->nrr ? ", ttl " : "",
		    sv->nrr ? sv->ttl : 0, sv->aa ? ", authoritative" :
		    ", NOT authoritative (lame)");
		if (!sv->aa)
			lacks = true;
		for (m = 0; m < nall; m++) {
			for (j = 0; j < sv->nrr; j++)
				if (strcmp(all[m], sv->rr[j]) == 0)
					break;
			if (j < sv->nrr)
				continue;
			finding(k, SEV_WARN, scope, "--ns: %s[%s] lacks TLSA %.80s%s, "
			    "which another name server serves", sv->name,
			    sv->addr, all[m], strlen(all[m]) > 80 ? "..." : "");
			lacks = true;
		}
		if (lacks)
			nbad++;
	}
	if (maxttl > 0)
		ck_ttl_advice(k, scope, owner, maxttl, true);
	if (ns.nskipped > 0)
		finding(k, SEV_WARN, scope, "--ns: %zu more name server address%s "
		    "of %s not asked (at most %d)", ns.nskipped, ns.nskipped == 1 ?
		    "" : "es", ns.zone, CHECK_NS_MAX_SERVERS);
	if (nbad == 0 && ns.nskipped == 0)
		verdict(k, SEV_OK, owner, "--ns: all %zu name server addresses "
		    "of %s serve the same %zu TLSA record%s", ns.nsrv, ns.zone,
		    nall, nall == 1 ? "" : "s");
	else {
		char	more[200];
		int	o = 0;

		/* servers not asked are never taken for agreeing ones */
		more[0] = '\0';
		if (nnoaddr > 0)
			o = snprintf(more, sizeof(more), ", and %zu name server "
			    "address%s unknown", nnoaddr, nnoaddr == 1 ? " is" :
			    "es are");
		if (ns.nskipped > 0 && o >= 0 && (size_t)o < sizeof(more))
			snprintf(more + o, sizeof(more) - (size_t)o, ", and %zu "
			    "more not asked", ns.nskipped);
		verdict(k, SEV_WARN, owner, "--ns: name servers of %s %s: %zu of "
		    "%zu addresses lack records or do not answer%s: do not switch "
		    "certificates until every one serves the new record",
		    ns.zone, nbad > nnoaddr ? "disagree" : "cannot all be compared",
		    nbad - nnoaddr, ns.nsrv - nnoaddr, more);
	}
	free(all);
	check_ns_clear(&ns);
}

/* ---------------------------------------------------------------- hosts */

static void
host_in(struct ck *k, const char *host, bool addr_secure,
    struct pol_host_in *in)
{
	memset(in, 0, sizeof(*in));
	in->policy = TLS_POLICY_DANE;
	in->test_mode = false;
	in->validation_ok = k->vok;
	in->mx_secure = k->mx_secure;
	in->domain = k->domain;
	in->domain_canon = k->domain_canon;
	in->host = host;
	in->addr_secure = addr_secure;
}

static void
check_host(struct ck *k, const char *name, size_t *budget)
{
	struct resolver_host	*h;
	struct dns_result	*fam[2], *tlsa = NULL;
	struct dane_tlsa	*dt = NULL;
	struct pol_host_in	 in;
	struct pol_host		 ph;
	struct dane_counts	 cnt = { 0, 0 };
	const char		*bases[2], *whys[2];
	char			 text[900];
	size_t			 i, j, ndt = 0, nbases, naddr = 0;
	enum ck_sev		 hsev = SEV_OK, asev = SEV_OK;
	bool			 addr_secure;

	resolver_lookup_host(k->r, name, RESOLVER_V4 | RESOLVER_V6,
	    ck_host_cb, k);
	ck_wait(k);
	h = k->host;
	k->host = NULL;
	if (h->cname) {
		finding(k, SEV_INFO, name, "CNAME %s -> %s: chain %s%s", h->name,
		    h->canonname, h->chain_secure ? "secure" : "not secure",
		    h->chain_secure ? "" : h->first_link_secure ?
		    ", first link secure" : ", first link not secure");
		if (h->error != NULL)
			finding(k, h->error_bogus ? SEV_CRIT : SEV_UNKNOWN, name,
			    "CNAME expansion not settled: %s", h->error);
	}
	fam[0] = h->a;
	fam[1] = h->aaaa;
	for (i = 0; i < 2; i++)
		ck_result(k, name, fam[i]);
	for (i = 0; i < 2; i++) {
		if (!dns_result_answered(fam[i])) {
			/* delivery goes on with the other family; a bogus
			 * answer is still something to fix */
			hsev = worse(hsev, sev_of_failure(fam[i]));
			continue;
		}
		if (fam[i]->answer == DNS_ANSWER_DATA)
			naddr += fam[i]->nrr - fam[i]->nmalformed;
	}

	/* delivery's decisions, in its order (host_cb, tlsa_cb) */
	addr_secure = policy_addr_secure(h);
	policy_host_addr(TLS_POLICY_DANE, false, k->vok, h, &ph);
	if (ph.action == POL_SKIP) {
		verdict(k, worse(hsev, SEV_CRIT), name, "%s",
		    policy_host_text(&ph, h->name, text, sizeof(text)));
		resolver_host_free(h);
		return;
	}
	nbases = policy_tlsa_bases(h->name, h->canonname, h->cname,
	    h->chain_secure, h->first_link_secure, addr_secure, bases, whys);
	if (nbases == 0)
		finding(k, SEV_WARN, name, "TLSA not looked up: %s",
		    h->cname ? "CNAME chain not secure" :
		    "address records not secure");
	host_in(k, h->name, addr_secure, &in);
	in.nbases = nbases;
	for (i = 0; i < nbases; i++) {
		resolver_lookup_tlsa(k->r, bases[i], (unsigned)k->port,
		    ck_res_cb, k);
		ck_wait(k);
		dns_result_free(tlsa);
		free(dt);
		dt = NULL;
		ndt = 0;
		tlsa = k->res;
		k->res = NULL;
		finding(k, SEV_INFO, name, "TLSA base domain %s (%s)", bases[i],
		    whys[i]);
		ck_result(k, name, tlsa);
		if (tlsa->answer == DNS_ANSWER_DATA && tlsa->nrr > 0) {
			dt = xcalloc(tlsa->nrr, sizeof(*dt));
			ndt = policy_tlsa_rrset(tlsa, dt);
			if (tlsa->state != DNS_BOGUS)
				ck_tlsa_records(k, name, dt, ndt);
			if (tlsa->state == DNS_SECURE && !k->ns)
				ck_ttl_advice(k, name, tlsa->qname, tlsa->ttl, false);
			if (k->ns)
				ck_ns(k, name, tlsa->canonname);
		}
		dane_tlsa_count(dt, ndt, &cnt);
		in.base = bases[i];
		in.more_bases = i + 1 < nbases;
		in.tlsa_state = tlsa->state;
		in.tlsa_answer = tlsa->answer;
		in.usable = cnt.usable;
		in.unusable = cnt.unusable;
		policy_host(&in, &ph);
		if (ph.action != POL_NEXT_BASE)
			break;
		finding(k, SEV_INFO, name, "%s", policy_host_text(&ph, h->name,
		    text, sizeof(text)));
	}
	if (nbases == 0)
		policy_host(&in, &ph);
	policy_host_text(&ph, h->name, text, sizeof(text));
	if (ph.action == POL_SKIP) {
		/* a TLSA lookup error: delivery never connects (rule 8) */
		verdict(k, worse(hsev, tlsa != NULL && tlsa->state == DNS_BOGUS ?
		    SEV_CRIT : SEV_UNKNOWN), name, "%s", text);
		goto out;
	}
	finding(k, SEV_INFO, name, "delivery: %s", text);
	if (ph.level == TLS_LEVEL_DANE && ph.authenticate)
		k->dane_hosts++;
	else if (ph.level == TLS_LEVEL_DANE)
		hsev = worse(hsev, SEV_WARN);	/* only unusable records */
	else
		hsev = worse(hsev, SEV_WARN);	/* no DANE for this host */

	for (i = 0; i < 2; i++) {
		if (!dns_result_answered(fam[i]) ||
		    fam[i]->answer != DNS_ANSWER_DATA)
			continue;
		for (j = 0; j < fam[i]->nrr; j++) {
			char ip[DNS_ADDR_TEXT_MAX];

			if (fam[i]->rr[j].malformed)
				continue;
			if (*budget == 0) {
				finding(k, SEV_INFO, name, "address %s not probed "
				    "(max_mx_addresses reached)", rr_addr_ntop(
				    &fam[i]->rr[j].addr, ip, sizeof(ip)));
				continue;
			}
			(*budget)--;
			asev = worse(asev, check_addr(k, h->name,
			    &fam[i]->rr[j].addr, &ph, dt, ndt));
		}
	}
	if (naddr == 0) {
		finding(k, SEV_CRIT, name, "no address to connect to");
		hsev = worse(hsev, SEV_CRIT);
	}
	hsev = worse(hsev, asev);
	if (ph.level == TLS_LEVEL_DANE && ph.authenticate)
		verdict(k, hsev, name, "DANE: %u usable TLSA record%s at %s%s",
		    cnt.usable, cnt.usable == 1 ? "" : "s", ph.base_domain,
		    hsev == SEV_OK ? ", every address authenticated" :
		    asev == SEV_WARN ? ", with warnings" : asev != SEV_OK ?
		    ", an address failed" : "");
	else if (ph.level == TLS_LEVEL_DANE)
		verdict(k, hsev, name, "only unusable TLSA records (%u): TLS "
		    "required, no authentication", cnt.unusable);
	else
		verdict(k, hsev, name, "no DANE: %s", text);
out:
	free(dt);
	dns_result_free(tlsa);
	resolver_host_free(h);
}

/* ---------------------------------------------------------------- output */

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
json_list(const struct ck_list *l, const char *key, const char *const *names)
{
	size_t i;

	printf("  \"%s\": [", key);
	for (i = 0; i < l->n; i++) {
		printf("%s\n    {\"severity\": \"%s\", ", i ? "," : "",
		    sev_names[l->v[i].sev]);
		if (names != NULL)
			printf("\"result\": \"%s\", ", names[l->v[i].sev]);
		printf("\"scope\": ");
		json_str(l->v[i].scope);
		printf(", \"text\": ");
		json_str(l->v[i].text);
		printf("}");
	}
	printf("%s]", l->n ? "\n  " : "");
}

static int
ck_output(struct ck *k, const char *domain)
{
	static const int code[] = { CHECK_OK, CHECK_OK, CHECK_WARNING,
	    CHECK_CRITICAL, CHECK_UNKNOWN };
	static const char *const status[] = { "OK", "OK", "WARNING",
	    "CRITICAL", "UNKNOWN" };
	enum ck_sev	 sev = SEV_OK;
	size_t		 i, n[5] = { 0 };

	for (i = 0; i < k->findings.n; i++)
		sev = worse(sev, k->findings.v[i].sev);
	for (i = 0; i < k->verdicts.n; i++) {
		sev = worse(sev, k->verdicts.v[i].sev);
		n[k->verdicts.v[i].sev]++;
	}
	if (k->json) {
		printf("{\n  \"domain\": ");
		json_str(domain);
		printf(",\n  \"port\": %d,\n  \"status\": \"%s\",\n  \"exit\": "
		    "%d,\n", k->port, status[sev], code[sev]);
		json_list(&k->findings, "findings", NULL);
		printf(",\n");
		json_list(&k->verdicts, "verdicts", verdict_names);
		printf("\n}\n");
		return code[sev];
	}
	for (i = 0; i < k->findings.n; i++)
		printf("%s: %s: %s\n", sev_names[k->findings.v[i].sev],
		    k->findings.v[i].scope, k->findings.v[i].text);
	for (i = 0; i < k->verdicts.n; i++)
		printf("%s %s: %s\n", k->verdicts.v[i].scope,
		    verdict_names[k->verdicts.v[i].sev], k->verdicts.v[i].text);
	printf("DANE %s - %s: %zu pass, %zu warn, %zu fail, %zu unknown\n",
	    status[sev], domain, n[SEV_OK] + n[SEV_INFO], n[SEV_WARN],
	    n[SEV_CRIT], n[SEV_UNKNOWN]);
	return code[sev];
}

/* ------------------------------------------------------------ the command */

/* "+30d", "30d", "+12h", "+90m", "+3600s", "3600": seconds, -1 if bad. */
static long
parse_at(const char *s)
{
	char	*end;
	long	 v, mul = 1;

	if (*s == '+')
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || v < 0)
		return -1;
	switch (*end) {
	case '\0': case 's': mul = 1; break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	case 'w': mul = 7 * 86400; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > 3650L * 86400 / mul)
		return -1;
	return v * mul;
}

static void
check_usage(void)
{
	fprintf(stderr, "usage: danerelay [-c FILE] check DOMAIN [--json] "
	    "[--at +30d] [--ns]\n");
}

static void
check_domain(struct ck *k, const char *domain)
{
	const struct conf	*conf = k->conf;
	struct mx_list		 l;
	struct pol_mx		 pmx;
	enum dnssec_validation	 v;
	char			 vdetail[400];
	size_t			 i, budget;

	/* rule 16: the resolver's own DNSSEC validation */
	resolver_lookup(k->r, resolver_anchor_name(k->r), DNS_T_DNSKEY,
	    ck_res_cb, k);
	ck_wait(k);
	v = selfcheck_verdict(k->res, vdetail, sizeof(vdetail));
	dns_result_free(k->res);
	k->res = NULL;
	k->vok = v == VALIDATION_OK;
	policy_validation(TLS_POLICY_DANE, false, v, domain, vdetail, &pmx);
	finding(k, k->vok ? SEV_INFO : SEV_UNKNOWN, domain,
	    "DNSSEC validation: %s: %s", dnssec_validation_name(v), vdetail);
	if (pmx.action != POL_MX_GO || !k->vok) {
		verdict(k, SEV_UNKNOWN, domain, "cannot check: DNSSEC "
		    "validation %s here (%s)", dnssec_validation_name(v), vdetail);
		return;
	}

	resolver_lookup_mx(k->r, domain, ck_res_cb, k);
	ck_wait(k);
	ck_result(k, domain, k->res);
	for (i = 0; k->res->state != DNS_BOGUS && k->res->answer ==
	    DNS_ANSWER_DATA && i < k->res->nrr; i++)
		if (!k->res->rr[i].malformed)
			finding(k, SEV_INFO, domain, "MX %u %s",
			    k->res->rr[i].mx.pref, k->res->rr[i].mx.host);
	mx_list_build(&l, k->res, conf->max_mx_hosts, conf->max_mx_addresses, 0);
	policy_mx(TLS_POLICY_DANE, false, k->vok, &l, k->res->reason, &pmx);
	dns_result_free(k->res);
	k->res = NULL;
	k->domain = l.domain ? l.domain : domain;
	k->domain_canon = l.canonname ? l.canonname : k->domain;
	k->mx_secure = l.state == DNS_SECURE;

	switch (l.status) {
	case MX_ERROR:
		verdict(k, l.state == DNS_BOGUS ? SEV_CRIT : SEV_UNKNOWN, domain,
		    "MX lookup %s: delivery defers (%s %s)",
		    dns_state_name(l.state), pmx.esc, pmx.text);
		goto out;
	case MX_NXDOMAIN:
		verdict(k, SEV_UNKNOWN, domain, "%s does not exist (%s)",
		    k->domain, dns_state_name(l.state));
		goto out;
	case MX_NULL:
		verdict(k, SEV_WARN, domain, "null MX: %s accepts no mail "
		    "(RFC 7505)", k->domain);
		goto out;
	case MX_IMPLICIT:
		finding(k, SEV_INFO, domain, "no MX records: %s itself is the "
		    "mail host (RFC 5321 5.1)", k->domain);
		break;
	case MX_HOSTS:
		break;
	}
	if (!k->mx_secure)
		finding(k, SEV_WARN, domain, "MX RRset %s: DANE does not protect "
		    "the choice of hosts; only host names are reference "
		    "identifiers (RFC 7672 2.2.1)", dns_state_name(l.state));
	if (pmx.action != POL_MX_GO) {
		verdict(k, SEV_CRIT, domain, "%s %s %s", pmx.action ==
		    POL_MX_DEFER ? "defer" : "bounce", pmx.esc, pmx.text);
		goto out;
	}
	budget = l.addr_budget;
	for (i = 0; i < l.nhosts; i++) {
		finding(k, SEV_INFO, l.hosts[i].name, "MX host %zu of %zu, "
		    "preference %u", i + 1, l.nhosts, l.hosts[i].pref);
		check_host(k, l.hosts[i].name, &budget);
	}
	if (l.ncut > 0)
		finding(k, SEV_INFO, domain, "%zu more MX host%s not checked "
		    "(max_mx_hosts %u)", l.ncut, l.ncut == 1 ? "" : "s",
		    conf->max_mx_hosts);
	if (k->dane_hosts == 0)
		verdict(k, SEV_WARN, domain, "no MX host is protected by DANE");
	else if (k->dane_hosts < l.nhosts)
		verdict(k, SEV_WARN, domain, "%u of %zu MX hosts protected by "
		    "DANE", k->dane_hosts, l.nhosts);
	else
		verdict(k, SEV_OK, domain, "every MX host has usable TLSA "
		    "records (%u)", k->dane_hosts);
out:
	mx_list_clear(&l);
}

int
cmd_check(const struct conf *conf, int argc, char *argv[])
{
	const struct conf_domain *matched = NULL, *expired = NULL;
	struct ck	 k;
	const char	*domain = NULL;
	char		 err[512];
	int		 i, rv;
	size_t		 a;

	memset(&k, 0, sizeof(k));
	k.conf = conf;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			k.json = true;
		else if (strcmp(argv[i], "--ns") == 0)
			k.ns = true;
		else if (strcmp(argv[i], "--at") == 0 && i + 1 < argc) {
			k.at_text = argv[i + 1];
			if ((k.at = parse_at(argv[++i])) <= 0) {
				fprintf(stderr, "danerelay: check: --at %s: want "
				    "+N[smhdw], e.g. +30d\n", argv[i]);
				return CHECK_UNKNOWN;
			}
		} else if (argv[i][0] == '-' || domain != NULL) {
			check_usage();
			return CHECK_UNKNOWN;
		} else
			domain = argv[i];
	}
	if (domain == NULL) {
		check_usage();
		return CHECK_UNKNOWN;
	}
	k.now = time(NULL);
	k.dest = conf_dest_for(conf, domain, k.now, &matched, &expired);
	k.port = k.dest.remote_port ? (int)k.dest.remote_port : 25;
	if ((k.base = event_base_new()) == NULL) {
		fprintf(stderr, "danerelay: check: cannot create an event base\n");
		return CHECK_UNKNOWN;
	}
	k.r = resolver_new(k.base, conf->resolver_config,
	    conf->trust_anchor_file, err, sizeof(err));
	if (k.r == NULL) {
		fprintf(stderr, "danerelay: check: %s\n", err);
		event_base_free(k.base);
		return CHECK_UNKNOWN;
	}
	for (a = 0; a < ALG_N; a++) {
		k.tc[a] = tls_client_new(0, err, sizeof(err));
		if (k.tc[a] == NULL || SSL_CTX_set1_sigalgs_list(
		    tls_client_ctx(k.tc[a]), alg_sigalgs[a]) != 1) {
			fprintf(stderr, "danerelay: check: TLS client (%s): %s\n",
			    alg_names[a], k.tc[a] == NULL ? err :
			    "cannot restrict the signature algorithms");
			rv = CHECK_UNKNOWN;
			goto out;
		}
	}
	/* --ns reads its files now, like the rest (its error is a finding) */
	if (k.ns)
		k.nsctx = check_ns_new(conf->resolver_config,
		    conf->trust_anchor_file, err, sizeof(err));
	/* what the network sends is parsed without root (relay/privsep.h) */
	if (privsep_tool_drop(conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "danerelay: check: %s\n", err);
		rv = CHECK_UNKNOWN;
		goto out;
	}
	if (matched != NULL)
		finding(&k, SEV_INFO, domain, "[domain %s%s] applies: port %d%s%s",
		    matched->subdomains ? "." : "", matched->name, k.port,
		    matched->reason ? ": " : "",
		    matched->reason ? matched->reason : "");
	check_domain(&k, domain);
	rv = ck_output(&k, domain);
out:
	/* A probe that failed may leave its QUIT lingering on the loop
	 * (relay/smtp_client.c, at most 5 s): with the resolver gone, the
	 * loop runs until they are done. */
	resolver_free(k.r);
	check_ns_free(k.nsctx);
	event_base_dispatch(k.base);
	for (a = 0; a < ALG_N; a++)
		if (k.tc[a] != NULL)
			tls_client_free(k.tc[a]);
	ck_list_free(&k.findings);
	ck_list_free(&k.verdicts);
	event_base_free(k.base);
	return rv;
}
