/*
 * tests/unit/test_dane.c - tls/dane.c and tls/tls_client.c against real
 * certificates built here with the OpenSSL API (a private root and
 * intermediate CA, self-signed, expired, wrongly named and wildcard
 * leaves, ECDSA and RSA keys) and real handshakes between an OpenSSL
 * server and our client over an in-memory BIO pair: usability filtering,
 * every verdict and its RFC 8460 type, and session resumption only under
 * the same security context.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "tls/dane.h"
#include "tls/tls.h"
#include "tls/tls_client.h"
#include "tests/unit/check.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define DAY	(24 * 3600L)

struct cert {
	X509		*x;
	EVP_PKEY	*k;
};

static EVP_PKEY *
key_ec(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (k == NULL) {
		fprintf(stderr, "EC keygen failed\n");
		exit(2);
	}
	return k;
}

static EVP_PKEY *
key_rsa(void)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);

	if (k == NULL) {
		fprintf(stderr, "RSA keygen failed\n");
		exit(2);
	}
	return k;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (e == NULL) {
		fprintf(stderr, "extension %s failed\n", value);
		exit(2);
	}
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
}

/*
 * A certificate for cn with subjectAltName sans (NULL: none), signed by
 * issuer (NULL: self-signed), valid from now+from to now+to seconds.
 */
static struct cert
mkcert(const char *cn, const char *sans, const struct cert *issuer,
    EVP_PKEY *key, bool ca, long from, long to)
{
	static long serial = 1;
	struct cert c;
	X509_NAME *n;

	c.k = key;
	c.x = X509_new();
	X509_set_version(c.x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c.x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(c.x), from);
	X509_gmtime_adj(X509_getm_notAfter(c.x), to);
	X509_set_pubkey(c.x, key);
	n = X509_get_subject_name(c.x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(c.x, issuer ? X509_get_subject_name(issuer->x) : n);
	if (ca) {
		add_ext(c.x, issuer ? issuer->x : NULL, NID_basic_constraints,
		    "critical,CA:TRUE");
		add_ext(c.x, issuer ? issuer->x : NULL, NID_key_usage,
		    "critical,keyCertSign,cRLSign");
	} else {
		add_ext(c.x, issuer ? issuer->x : NULL, NID_basic_constraints,
		    "CA:FALSE");
	}
	add_ext(c.x, issuer ? issuer->x : NULL, NID_subject_key_identifier,
	    "hash");
	if (sans != NULL)
		add_ext(c.x, issuer ? issuer->x : NULL, NID_subject_alt_name,
		    sans);
	if (X509_sign(c.x, issuer ? issuer->k : key, EVP_sha256()) == 0) {
		fprintf(stderr, "sign failed\n");
		exit(2);
	}
	return c;
}

/* TLSA data for (selector, mtype) of x, into buf; returns length. */
static size_t
tlsa_data(X509 *x, int selector, int mtype, unsigned char *buf, size_t len)
{
	unsigned char *der = NULL;
	unsigned int mdlen = 0;
	int n;

	if (selector == 0)
		n = i2d_X509(x, &der);
	else
		n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	if (n <= 0)
		exit(2);
	if (mtype == 0) {
		if ((size_t)n > len)
			exit(2);
		memcpy(buf, der, (size_t)n);
		OPENSSL_free(der);
		return (size_t)n;
	}
	EVP_Digest(der, (size_t)n, buf, &mdlen,
	    mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL);
	OPENSSL_free(der);
	return mdlen;
}

/* An RRset being built: records own their data. */
struct rrset {
	struct dane_tlsa	 r[16];
	unsigned char		 d[16][4096];
	size_t			 n;
};

static void
rr_add(struct rrset *s, int u, int sel, int m, X509 *x)
{
	struct dane_tlsa *t = &s->r[s->n];

	t->usage = (uint8_t)u;
	t->selector = (uint8_t)sel;
	t->mtype = (uint8_t)m;
	t->len = tlsa_data(x, sel, m, s->d[s->n], sizeof(s->d[0]));
	t->data = s->d[s->n];
	s->n++;
}

static void
rr_raw(struct rrset *s, int u, int sel, int m, const void *data, size_t len)
{
	struct dane_tlsa *t = &s->r[s->n];

	t->usage = (uint8_t)u;
	t->selector = (uint8_t)sel;
	t->mtype = (uint8_t)m;
	memcpy(s->d[s->n], data, len);
	t->data = s->d[s->n];
	t->len = len;
	s->n++;
}

/* A server context presenting leaf (+ chain certs). */
static SSL_CTX *
server_ctx(const struct cert *leaf, const struct cert *c1,
    const struct cert *c2, int maxver)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (maxver)
		SSL_CTX_set_max_proto_version(ctx, maxver);
	if (SSL_CTX_use_certificate(ctx, leaf->x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, leaf->k) != 1 ||
	    (c1 && SSL_CTX_add1_chain_cert(ctx, c1->x) != 1) ||
	    (c2 && SSL_CTX_add1_chain_cert(ctx, c2->x) != 1)) {
		ERR_print_errors_fp(stderr);
		exit(2);
	}
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"t", 1);
	return ctx;
}

/*
 * One handshake of a client SSL made by tls_client_ssl_new against sctx
 * over a BIO pair; then let the client read the post-handshake tickets.
 * Returns 0 if both sides completed.
 */
static int
handshake(SSL *cl, SSL_CTX *sctx)
{
	SSL *sv = SSL_new(sctx);
	BIO *cb, *sb;
	int i, r, cdone = 0, sdone = 0, rc = -1;
	char b[16];

	BIO_new_bio_pair(&cb, 65536, &sb, 65536);
	SSL_set_connect_state(cl);
	SSL_set_bio(cl, cb, cb);
	SSL_set_bio(sv, sb, sb);
	SSL_set_accept_state(sv);
	for (i = 0; i < 100 && !(cdone && sdone); i++) {
		if (!cdone) {
			r = SSL_do_handshake(cl);
			if (r == 1)
				cdone = 1;
			else if (SSL_get_error(cl, r) != SSL_ERROR_WANT_READ &&
			    SSL_get_error(cl, r) != SSL_ERROR_WANT_WRITE)
				goto out;
		}
		if (!sdone) {
			r = SSL_do_handshake(sv);
			if (r == 1)
				sdone = 1;
			else if (SSL_get_error(sv, r) != SSL_ERROR_WANT_READ &&
			    SSL_get_error(sv, r) != SSL_ERROR_WANT_WRITE)
				goto out;
		}
	}
	if (!(cdone && sdone))
		goto out;
	/* TLS 1.3 tickets come after the handshake: read them. */
	SSL_write(sv, "x", 1);
	for (i = 0; i < 10; i++)
		if (SSL_read(cl, b, sizeof(b)) > 0)
			break;
	rc = 0;
out:
	SSL_free(sv);
	ERR_clear_error();
	return rc;
}

struct world {
	struct cert	 root, inter, root_rsa;
	struct cert	 leaf;		/* mx1.example.com by inter */
	struct cert	 leaf_rsa;	/* mx1.example.com by root_rsa */
	struct cert	 selfsigned;	/* mx1.example.com, self-signed */
	struct cert	 wrongkey;	/* another self-signed */
	struct cert	 expired_ss;	/* expired, self-signed */
	struct cert	 expired;	/* expired, by inter */
	struct cert	 othername;	/* other.example.net by inter */
	struct cert	 wildcard;	/* *.example.com by inter */
	struct cert	 partial;	/* mx*.example.com by inter */
	struct cert	 nexthop;	/* only example.com by inter */
	struct cert	 wrong_ca;	/* an unrelated CA */
};

static struct world W;

static void
world_make(void)
{
	W.root = mkcert("Test Root CA", NULL, NULL, key_ec(), true, -DAY,
	    3650 * DAY);
	W.inter = mkcert("Test Intermediate CA", NULL, &W.root, key_ec(), true,
	    -DAY, 3650 * DAY);
	W.root_rsa = mkcert("Test RSA Root", NULL, NULL, key_rsa(), true, -DAY,
	    3650 * DAY);
	W.leaf = mkcert("mx1.example.com", "DNS:mx1.example.com", &W.inter,
	    key_ec(), false, -DAY, 365 * DAY);
	W.leaf_rsa = mkcert("mx1.example.com", "DNS:mx1.example.com",
	    &W.root_rsa, key_rsa(), false, -DAY, 365 * DAY);
	W.selfsigned = mkcert("mx1.example.com", "DNS:mx1.example.com", NULL,
	    key_ec(), false, -DAY, 365 * DAY);
	W.wrongkey = mkcert("mx1.example.com", "DNS:mx1.example.com", NULL,
	    key_ec(), false, -DAY, 365 * DAY);
	W.expired_ss = mkcert("mx1.example.com", "DNS:mx1.example.com", NULL,
	    key_ec(), false, -30 * DAY, -DAY);
	W.expired = mkcert("mx1.example.com", "DNS:mx1.example.com", &W.inter,
	    key_ec(), false, -30 * DAY, -DAY);
	W.othername = mkcert("other.example.net", "DNS:other.example.net",
	    &W.inter, key_ec(), false, -DAY, 365 * DAY);
	W.wildcard = mkcert("wild", "DNS:*.example.com", &W.inter, key_ec(),
	    false, -DAY, 365 * DAY);
	W.partial = mkcert("partial", "DNS:mx*.example.com", &W.inter,
	    key_ec(), false, -DAY, 365 * DAY);
	W.nexthop = mkcert("example.com", "DNS:example.com", &W.inter,
	    key_ec(), false, -DAY, 365 * DAY);
	W.wrong_ca = mkcert("Other CA", NULL, NULL, key_ec(), true, -DAY,
	    3650 * DAY);
}

static void
cert_free(struct cert *c)
{
	X509_free(c->x);
	EVP_PKEY_free(c->k);
}

static void
world_free(void)
{
	struct cert *all[] = { &W.root, &W.inter, &W.root_rsa, &W.leaf,
	    &W.leaf_rsa, &W.selfsigned, &W.wrongkey, &W.expired_ss,
	    &W.expired, &W.othername, &W.wildcard, &W.partial, &W.nexthop,
	    &W.wrong_ca };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		cert_free(all[i]);
}

static struct tls_client *TC;

/*
 * Handshake with a server presenting sctx under a DANE context for
 * base mx1.example.com (+ names); returns tls_client_verify()'s verdict.
 */
static bool
dane_try(SSL_CTX *sctx, const struct rrset *rr, const char *base,
    const char *const *names, size_t nnames, struct tls_result *r)
{
	struct tls_secctx sec;
	struct dane_counts counts;
	char err[256];
	SSL *ssl;
	bool ok;

	memset(&sec, 0, sizeof(sec));
	sec.level = TLS_LEVEL_DANE;
	sec.tlsa = rr->r;
	sec.ntlsa = rr->n;
	sec.base_domain = base;
	sec.ref_names = names;
	sec.nref_names = nnames;
	/* as relay/policy.c sets it: usable records require authentication */
	sec.auth_required = dane_tlsa_any_usable(rr->r, rr->n);
	ssl = tls_client_ssl_new(TC, &sec, "mx1.example.com[127.0.0.1]:25",
	    &counts, err, sizeof(err));
	if (ssl == NULL) {
		fprintf(stderr, "tls_client_ssl_new: %s\n", err);
		CHECK(ssl != NULL);
		memset(r, 0, sizeof(*r));
		return false;
	}
	CHECK_INT(handshake(ssl, sctx), 0);
	ok = tls_client_verify(ssl, r);
	SSL_free(ssl);
	return ok;
}

static void
test_usability(void)
{
	struct rrset *s = calloc(1, sizeof(*s));
	struct dane_counts c;
	unsigned char junk[40];
	unsigned char spki[512];
	size_t spkilen;

	memset(junk, 0xab, sizeof(junk));
	rr_add(s, 3, 1, 1, W.selfsigned.x);			/* usable */
	rr_add(s, 0, 0, 1, W.root.x);				/* PKIX-TA */
	rr_add(s, 1, 1, 1, W.selfsigned.x);			/* PKIX-EE */
	rr_raw(s, 4, 1, 1, junk, 32);				/* usage 4 */
	rr_raw(s, 3, 2, 1, junk, 32);				/* selector 2 */
	rr_raw(s, 3, 1, 3, junk, 32);				/* mtype 3 */
	rr_raw(s, 3, 1, 1, junk, 31);				/* short sha256 */
	rr_raw(s, 3, 1, 2, junk, 32);				/* sha512 with 32 */
	rr_raw(s, 3, 0, 0, junk, 40);				/* not a cert */
	rr_raw(s, 2, 1, 0, junk, 40);				/* not an SPKI */
	spkilen = tlsa_data(W.selfsigned.x, 1, 0, spki, sizeof(spki));
	rr_raw(s, 3, 1, 0, spki, spkilen);			/* full SPKI: usable */
	rr_raw(s, 3, 1, 0, spki, spkilen - 1);			/* truncated SPKI */

	CHECK_INT(dane_tlsa_check(&s->r[0]), DANE_USABLE);
	CHECK_INT(dane_tlsa_check(&s->r[1]), DANE_UNUSABLE_PKIX);
	CHECK_INT(dane_tlsa_check(&s->r[2]), DANE_UNUSABLE_PKIX);
	CHECK_INT(dane_tlsa_check(&s->r[3]), DANE_UNUSABLE_USAGE);
	CHECK_INT(dane_tlsa_check(&s->r[4]), DANE_UNUSABLE_SELECTOR);
	CHECK_INT(dane_tlsa_check(&s->r[5]), DANE_UNUSABLE_MTYPE);
	CHECK_INT(dane_tlsa_check(&s->r[6]), DANE_UNUSABLE_LENGTH);
	CHECK_INT(dane_tlsa_check(&s->r[7]), DANE_UNUSABLE_LENGTH);
	CHECK_INT(dane_tlsa_check(&s->r[8]), DANE_UNUSABLE_CERT);
	CHECK_INT(dane_tlsa_check(&s->r[9]), DANE_UNUSABLE_SPKI);
	CHECK_INT(dane_tlsa_check(&s->r[10]), DANE_USABLE);
	CHECK_INT(dane_tlsa_check(&s->r[11]), DANE_UNUSABLE_SPKI);
	dane_tlsa_count(s->r, s->n, &c);
	CHECK_INT(c.usable, 2);
	CHECK_INT(c.unusable, 10);
	CHECK(dane_tlsa_any_usable(s->r, s->n));
	CHECK(!dane_tlsa_any_usable(s->r + 1, 9));
	CHECK_STR(dane_usability_text(DANE_UNUSABLE_PKIX),
	    "PKIX usage (0 or 1) is not used for SMTP");

	/* The same split when OpenSSL is handed the RRset. */
	{
		SSL *ssl = SSL_new(tls_client_ctx(TC));
		char err[256];

		CHECK_INT(dane_ssl_arm(ssl, "mx1.example.com", NULL, 0, s->r,
		    s->n, &c, err, sizeof(err)), 0);
		CHECK_INT(c.usable, 2);
		CHECK_INT(c.unusable, 10);
		SSL_free(ssl);
	}
	free(s);
}

static void
test_names(void)
{
	CHECK_STR(tlsrpt_name(TLSRPT_STARTTLS_NOT_SUPPORTED),
	    "starttls-not-supported");
	CHECK_STR(tlsrpt_name(TLSRPT_CERT_HOST_MISMATCH),
	    "certificate-host-mismatch");
	CHECK_STR(tlsrpt_name(TLSRPT_CERT_EXPIRED), "certificate-expired");
	CHECK_STR(tlsrpt_name(TLSRPT_VALIDATION_FAILURE), "validation-failure");
	CHECK_STR(tlsrpt_name(TLSRPT_TLSA_INVALID), "tlsa-invalid");
	CHECK_STR(tlsrpt_name(TLSRPT_DNSSEC_INVALID), "dnssec-invalid");
	CHECK_STR(tlsrpt_name(TLSRPT_DANE_REQUIRED), "dane-required");
	CHECK_STR(tlsrpt_name(TLSRPT_NONE), "");
	CHECK_INT(tlsrpt_from_x509(X509_V_ERR_HOSTNAME_MISMATCH),
	    TLSRPT_CERT_HOST_MISMATCH);
	CHECK_INT(tlsrpt_from_x509(X509_V_ERR_CERT_HAS_EXPIRED),
	    TLSRPT_CERT_EXPIRED);
	CHECK_INT(tlsrpt_from_x509(X509_V_ERR_DANE_NO_MATCH),
	    TLSRPT_TLSA_INVALID);
	CHECK_INT(tlsrpt_from_x509(X509_V_ERR_CERT_SIGNATURE_FAILURE),
	    TLSRPT_VALIDATION_FAILURE);
	CHECK_INT(tlsrpt_from_x509(X509_V_OK), TLSRPT_NONE);
}

/* One DANE handshake case: want authenticated or the failure type. */
static void
dane_case(const char *what, SSL_CTX *sctx, const struct rrset *rr,
    const char *const *names, size_t nnames, bool want_ok,
    const char *want_match, enum tlsrpt_type want_rpt,
    const char *want_subject)
{
	struct tls_result r;
	bool ok;

	ok = dane_try(sctx, rr, "mx1.example.com", names, nnames, &r);
	if (ok != want_ok || r.dane.rpt != want_rpt)
		fprintf(stderr, "case %s: ok %d rpt %s reason \"%s\" match "
		    "\"%s\"\n", what, ok, tlsrpt_name(r.dane.rpt),
		    r.dane.reason, r.dane.match);
	CHECK_INT(ok, want_ok);
	CHECK_INT(r.dane.authenticated, want_ok);
	CHECK_INT(r.dane_used, 1);
	CHECK_INT(r.dane.rpt, want_rpt);
	if (want_match != NULL)
		CHECK_STR(r.dane.match, want_match);
	if (want_subject != NULL)
		CHECK_STR(r.dane.subject, want_subject);
	if (!want_ok)
		CHECK(r.dane.reason[0] != '\0');
	CHECK(strncmp(r.desc, "TLSv1.", 6) == 0);
	CHECK(strstr(r.desc, " with cipher ") != NULL);
	CHECK(strstr(r.desc, " bits)") != NULL);
}

static void
test_verdicts(void)
{
	struct rrset *s = calloc(1, sizeof(*s));
	SSL_CTX *ss, *chain, *chain3, *rsa, *wrong, *exp_ss, *exp, *other,
	    *wild, *partial, *nexthop;
	const char *nh[] = { "example.com" };

	ss = server_ctx(&W.selfsigned, NULL, NULL, 0);
	chain = server_ctx(&W.leaf, &W.inter, NULL, 0);
	chain3 = server_ctx(&W.leaf, &W.inter, &W.root, 0);
	rsa = server_ctx(&W.leaf_rsa, NULL, NULL, TLS1_2_VERSION);
	wrong = server_ctx(&W.wrongkey, NULL, NULL, 0);
	exp_ss = server_ctx(&W.expired_ss, NULL, NULL, 0);
	exp = server_ctx(&W.expired, &W.inter, NULL, 0);
	other = server_ctx(&W.othername, &W.inter, NULL, 0);
	wild = server_ctx(&W.wildcard, &W.inter, NULL, 0);
	partial = server_ctx(&W.partial, &W.inter, NULL, 0);
	nexthop = server_ctx(&W.nexthop, &W.inter, NULL, 0);

#define RR(...) do { s->n = 0; __VA_ARGS__; } while (0)
	RR(rr_add(s, 3, 1, 1, W.selfsigned.x));
	dane_case("3 1 1", ss, s, NULL, 0, true, "TLSA 3 1 1 at depth 0",
	    TLSRPT_NONE, "CN=mx1.example.com");
	RR(rr_add(s, 3, 0, 1, W.selfsigned.x));
	dane_case("3 0 1", ss, s, NULL, 0, true, "TLSA 3 0 1 at depth 0",
	    TLSRPT_NONE, NULL);
	RR(rr_add(s, 3, 1, 2, W.selfsigned.x));
	dane_case("3 1 2", ss, s, NULL, 0, true, "TLSA 3 1 2 at depth 0",
	    TLSRPT_NONE, NULL);
	RR(rr_add(s, 3, 0, 0, W.selfsigned.x));
	dane_case("3 0 0", ss, s, NULL, 0, true, "TLSA 3 0 0 at depth 0",
	    TLSRPT_NONE, NULL);
	RR(rr_add(s, 3, 1, 0, W.selfsigned.x));
	dane_case("3 1 0", ss, s, NULL, 0, true, "TLSA 3 1 0 at depth 0",
	    TLSRPT_NONE, NULL);
	/* DANE-EE of a CA-issued leaf: the chain does not matter. */
	RR(rr_add(s, 3, 1, 1, W.leaf.x));
	dane_case("3 1 1 CA leaf", chain, s, NULL, 0, true,
	    "TLSA 3 1 1 at depth 0", TLSRPT_NONE, "CN=mx1.example.com");
	/* RSA key, TLS 1.2. */
	RR(rr_add(s, 3, 1, 1, W.leaf_rsa.x));
	dane_case("3 1 1 RSA TLS1.2", rsa, s, NULL, 0, true,
	    "TLSA 3 1 1 at depth 0", TLSRPT_NONE, NULL);

	/* DANE-TA: the intermediate at depth 1, the root at depth 2. */
	RR(rr_add(s, 2, 0, 1, W.inter.x));
	dane_case("2 0 1 inter", chain, s, NULL, 0, true,
	    "TLSA 2 0 1 at depth 1", TLSRPT_NONE, "CN=Test Intermediate CA");
	RR(rr_add(s, 2, 1, 1, W.inter.x));
	dane_case("2 1 1 inter", chain, s, NULL, 0, true,
	    "TLSA 2 1 1 at depth 1", TLSRPT_NONE, NULL);
	RR(rr_add(s, 2, 0, 1, W.root.x));
	dane_case("2 0 1 root in chain", chain3, s, NULL, 0, true,
	    "TLSA 2 0 1 at depth 2", TLSRPT_NONE, "CN=Test Root CA");
	/* Digest of a TA the server does not send: cannot match. */
	dane_case("2 0 1 root not sent", chain, s, NULL, 0, false, NULL,
	    TLSRPT_TLSA_INVALID, NULL);
	/* Full TA data: OpenSSL can use it without the server sending it. */
	RR(rr_add(s, 2, 0, 0, W.root.x));
	dane_case("2 0 0 root not sent", chain, s, NULL, 0, true,
	    "TLSA 2 0 0 at depth 2", TLSRPT_NONE, "CN=Test Root CA");
	RR(rr_add(s, 2, 1, 0, W.root.x));
	/* A bare TA key: OpenSSL reports the depth of the certificate it
	 * signed; the subject is that certificate's issuer. */
	dane_case("2 1 0 root key not sent", chain, s, NULL, 0, true,
	    "TLSA 2 1 0 at depth 1", TLSRPT_NONE, "CN=Test Root CA");
	/* Intermediate anchored, RSA chain. */
	RR(rr_add(s, 2, 1, 2, W.root_rsa.x));
	{
		SSL_CTX *r2 = server_ctx(&W.leaf_rsa, &W.root_rsa, NULL, 0);

		dane_case("2 1 2 RSA root", r2, s, NULL, 0, true,
		    "TLSA 2 1 2 at depth 1", TLSRPT_NONE, "CN=Test RSA Root");
		SSL_CTX_free(r2);
	}

	/* Wrong key. */
	RR(rr_add(s, 3, 1, 1, W.selfsigned.x));
	dane_case("wrong key", wrong, s, NULL, 0, false, "",
	    TLSRPT_TLSA_INVALID, "CN=mx1.example.com");
	{
		struct tls_result r;

		dane_try(wrong, s, "mx1.example.com", NULL, 0, &r);
		CHECK_STR(r.dane.reason,
		    "no TLSA record matched the certificate chain");
		CHECK_INT(r.dane.depth, -1);
	}
	RR(rr_add(s, 2, 0, 1, W.wrong_ca.x));
	dane_case("wrong TA", chain, s, NULL, 0, false, NULL,
	    TLSRPT_TLSA_INVALID, NULL);

	/* Expiry: ignored for DANE-EE (RFC 7672 3.1.1), not for DANE-TA. */
	RR(rr_add(s, 3, 1, 1, W.expired_ss.x));
	dane_case("expired 3 1 1", exp_ss, s, NULL, 0, true,
	    "TLSA 3 1 1 at depth 0", TLSRPT_NONE, NULL);
	RR(rr_add(s, 3, 0, 1, W.expired.x));
	dane_case("expired CA leaf 3 0 1", exp, s, NULL, 0, true,
	    "TLSA 3 0 1 at depth 0", TLSRPT_NONE, NULL);
	RR(rr_add(s, 2, 0, 1, W.inter.x));
	dane_case("expired 2 0 1", exp, s, NULL, 0, false, NULL,
	    TLSRPT_CERT_EXPIRED, NULL);
	{
		struct tls_result r;

		dane_try(exp, s, "mx1.example.com", NULL, 0, &r);
		CHECK_STR(r.dane.reason, "certificate has expired");
		CHECK_INT(r.dane.x509_err, X509_V_ERR_CERT_HAS_EXPIRED);
	}

	/* Names: checked for DANE-TA only. */
	RR(rr_add(s, 2, 0, 1, W.inter.x));
	dane_case("name mismatch 2 0 1", other, s, NULL, 0, false, NULL,
	    TLSRPT_CERT_HOST_MISMATCH, "CN=other.example.net");
	RR(rr_add(s, 3, 1, 1, W.othername.x));
	dane_case("name mismatch 3 1 1", other, s, NULL, 0, true,
	    "TLSA 3 1 1 at depth 0", TLSRPT_NONE, "CN=other.example.net");
	RR(rr_add(s, 2, 0, 1, W.inter.x));
	dane_case("wildcard *.example.com", wild, s, NULL, 0, true,
	    "TLSA 2 0 1 at depth 1", TLSRPT_NONE, NULL);
	dane_case("partial wildcard mx*.example.com", partial, s, NULL, 0,
	    false, NULL, TLSRPT_CERT_HOST_MISMATCH, NULL);
	/* A partial wildcard is fine with DANE-EE: no names checked. */
	RR(rr_add(s, 3, 1, 1, W.partial.x));
	dane_case("partial wildcard 3 1 1", partial, s, NULL, 0, true,
	    "TLSA 3 1 1 at depth 0", TLSRPT_NONE, NULL);
	/* Reference identifiers beyond the base domain (RFC 7672 3.2.2). */
	RR(rr_add(s, 2, 0, 1, W.inter.x));
	dane_case("next-hop name not a reference id", nexthop, s, NULL, 0,
	    false, NULL, TLSRPT_CERT_HOST_MISMATCH, NULL);
	dane_case("next-hop name as reference id", nexthop, s, nh, 1, true,
	    "TLSA 2 0 1 at depth 1", TLSRPT_NONE, "CN=Test Intermediate CA");
	/* ... and the base domain still counts when names are given. */
	dane_case("base with extra names", chain, s, nh, 1, true,
	    "TLSA 2 0 1 at depth 1", TLSRPT_NONE, NULL);

	/* Several records, only one matching: which one is reported. */
	RR(rr_add(s, 3, 1, 1, W.wrongkey.x); rr_add(s, 2, 0, 1, W.wrong_ca.x);
	    rr_add(s, 3, 1, 2, W.leaf.x); rr_add(s, 2, 1, 1, W.wrong_ca.x));
	dane_case("one of four (EE)", chain, s, NULL, 0, true,
	    "TLSA 3 1 2 at depth 0", TLSRPT_NONE, NULL);
	RR(rr_add(s, 3, 1, 1, W.wrongkey.x); rr_add(s, 2, 0, 1, W.wrong_ca.x);
	    rr_add(s, 2, 1, 1, W.inter.x));
	dane_case("one of three (TA)", chain, s, NULL, 0, true,
	    "TLSA 2 1 1 at depth 1", TLSRPT_NONE, NULL);
	/* Unusable records are skipped, a usable one still decides. */
	RR(rr_add(s, 1, 1, 1, W.selfsigned.x); rr_add(s, 0, 0, 1, W.root.x);
	    rr_add(s, 3, 1, 1, W.wrongkey.x));
	dane_case("PKIX record matching, DANE record not", ss, s, NULL, 0,
	    false, NULL, TLSRPT_TLSA_INVALID, NULL);
	{
		struct tls_result r;

		dane_try(ss, s, "mx1.example.com", NULL, 0, &r);
		CHECK_INT(r.counts.usable, 1);
		CHECK_INT(r.counts.unusable, 2);
	}
	/* Every record unusable: TLS only, no authentication (3.1.3). */
	RR(rr_add(s, 1, 1, 1, W.selfsigned.x); rr_add(s, 0, 0, 1, W.root.x));
	{
		struct tls_result r;
		bool ok = dane_try(wrong, s, "mx1.example.com", NULL, 0, &r);

		CHECK(ok);
		CHECK_INT(r.dane_used, 0);
		CHECK_INT(r.dane.authenticated, 0);
		CHECK_INT(r.counts.usable, 0);
		CHECK_INT(r.counts.unusable, 2);
		CHECK_STR(r.dane.subject, "CN=mx1.example.com");
	}
#undef RR
	SSL_CTX_free(ss);
	SSL_CTX_free(chain);
	SSL_CTX_free(chain3);
	SSL_CTX_free(rsa);
	SSL_CTX_free(wrong);
	SSL_CTX_free(exp_ss);
	SSL_CTX_free(exp);
	SSL_CTX_free(other);
	SSL_CTX_free(wild);
	SSL_CTX_free(partial);
	SSL_CTX_free(nexthop);
	free(s);
}

/* A raw look at what OpenSSL does on resumption, without our cache. */
static void
test_openssl_resumption_facts(int maxver)
{
	SSL_CTX *sctx = server_ctx(&W.leaf, &W.inter, NULL, maxver);
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	struct rrset *s = calloc(1, sizeof(*s));
	SSL_SESSION *sess, *sess2;
	SSL *ssl;
	uint8_t u, sel, m;
	const unsigned char *d;
	size_t dl;

	SSL_CTX_dane_enable(cctx);
	SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_CLIENT);
	rr_add(s, 2, 0, 1, W.inter.x);
	ssl = SSL_new(cctx);
	SSL_dane_enable(ssl, "mx1.example.com");
	SSL_dane_tlsa_add(ssl, 2, 0, 1, s->r[0].data, s->r[0].len);
	CHECK_INT(handshake(ssl, sctx), 0);
	CHECK_INT(SSL_get_verify_result(ssl), X509_V_OK);
	CHECK_INT(SSL_get0_dane_tlsa(ssl, &u, &sel, &m, &d, &dl), 1);
	sess = SSL_get1_session(ssl);
	CHECK(sess != NULL && SSL_SESSION_is_resumable(sess));
	SSL_shutdown(ssl);	/* else SSL_free marks sess not resumable */
	SSL_free(ssl);
	CHECK(SSL_SESSION_is_resumable(sess));
	sess2 = SSL_SESSION_dup(sess);

	/* Resume: OpenSSL restores the verify result from the session, but
	 * runs no verification, so no TLSA match is known. */
	ssl = SSL_new(cctx);
	SSL_dane_enable(ssl, "mx1.example.com");
	SSL_dane_tlsa_add(ssl, 2, 0, 1, s->r[0].data, s->r[0].len);
	SSL_set_session(ssl, sess);
	CHECK_INT(handshake(ssl, sctx), 0);
	CHECK_INT(SSL_session_reused(ssl), 1);
	CHECK_INT(SSL_get_verify_result(ssl), X509_V_OK);
	CHECK_INT(SSL_get0_dane_tlsa(ssl, &u, &sel, &m, &d, &dl), -1);
	CHECK(SSL_get0_peer_certificate(ssl) != NULL);
	SSL_shutdown(ssl);
	SSL_free(ssl);

	/* TLS 1.3: OpenSSL made sess single-use on the client side. */
	CHECK_INT(SSL_SESSION_is_resumable(sess), maxver == TLS1_2_VERSION);

	/* The danger rule 15 is about: a session resumes even under TLSA
	 * records that would not match, since nothing is verified. */
	s->n = 0;
	rr_add(s, 3, 1, 1, W.wrongkey.x);
	ssl = SSL_new(cctx);
	SSL_dane_enable(ssl, "mx1.example.com");
	SSL_dane_tlsa_add(ssl, 3, 1, 1, s->r[0].data, s->r[0].len);
	SSL_set_session(ssl, sess2);
	CHECK_INT(handshake(ssl, sctx), 0);
	CHECK_INT(SSL_session_reused(ssl), 1);
	CHECK_INT(SSL_get_verify_result(ssl), X509_V_OK);
	SSL_free(ssl);
	SSL_SESSION_free(sess2);

	SSL_SESSION_free(sess);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	free(s);
}

static void
test_resumption(int maxver)
{
	SSL_CTX *sctx = server_ctx(&W.leaf, &W.inter, NULL, maxver);
	struct rrset *s = calloc(1, sizeof(*s)), *s2 = calloc(1, sizeof(*s2));
	struct tls_client_stats st0, st;
	struct tls_result r;
	const char *nh[] = { "example.com" };
	const char *nh2[] = { "example.org" };
	char err[256];
	struct tls_client *tc = tls_client_new(16, err, sizeof(err));
	struct tls_client *saved = TC;

	TC = tc;
	rr_add(s, 3, 1, 1, W.wrongkey.x);	/* order differs in s2 */
	rr_add(s, 2, 0, 1, W.inter.x);
	rr_add(s2, 2, 0, 1, W.inter.x);
	rr_add(s2, 3, 1, 1, W.wrongkey.x);

	CHECK(dane_try(sctx, s, "mx1.example.com", nh, 1, &r));
	CHECK_INT(r.resumed, 0);
	CHECK_STR(r.dane.match, "TLSA 2 0 1 at depth 1");
	tls_client_stats(tc, &st0);
	CHECK(st0.stored >= 1);
	CHECK_INT(st0.entries, 1);
	CHECK_INT(st0.offered, 0);

	/* Same context (TLSA order does not matter): resumed, and still
	 * authenticated with the original match. */
	CHECK(dane_try(sctx, s2, "mx1.example.com", nh, 1, &r));
	CHECK_INT(r.resumed, 1);
	CHECK_INT(r.dane.authenticated, 1);
	CHECK_STR(r.dane.match, "TLSA 2 0 1 at depth 1");
	CHECK_STR(r.dane.subject, "CN=Test Intermediate CA");
	CHECK_INT(r.dane.depth, 1);
	tls_client_stats(tc, &st);
	CHECK_INT(st.offered, 1);
	CHECK_INT(st.resumed, 1);
	/* ... and again: a session issued on a resumed connection keeps
	 * the original verdict. */
	CHECK(dane_try(sctx, s, "mx1.example.com", nh, 1, &r));
	CHECK_INT(r.resumed, 1);
	CHECK_STR(r.dane.match, "TLSA 2 0 1 at depth 1");

	/* Different reference identifiers: not offered, full handshake. */
	tls_client_stats(tc, &st0);
	CHECK(dane_try(sctx, s, "mx1.example.com", nh2, 1, &r));
	CHECK_INT(r.resumed, 0);
	CHECK_STR(r.dane.match, "TLSA 2 0 1 at depth 1");
	tls_client_stats(tc, &st);
	CHECK_INT(st.offered, st0.offered);
	CHECK_INT(st.entries, 2);

	/* Different TLSA set that does not match: not offered, so the
	 * handshake verifies and fails instead of resuming blindly. */
	s2->n = 0;
	rr_add(s2, 3, 1, 1, W.wrongkey.x);
	tls_client_stats(tc, &st0);
	CHECK(!dane_try(sctx, s2, "mx1.example.com", nh, 1, &r));
	CHECK_INT(r.resumed, 0);
	CHECK_INT(r.dane.rpt, TLSRPT_TLSA_INVALID);
	tls_client_stats(tc, &st);
	CHECK_INT(st.offered, st0.offered);
	/* ... and that failed session was not cached. */
	CHECK_INT(st.entries, st0.entries);
	CHECK(!dane_try(sctx, s2, "mx1.example.com", nh, 1, &r));
	tls_client_stats(tc, &st);
	CHECK_INT(st.offered, st0.offered);

	/* Different level (encrypt) for the same peer: separate entry. */
	{
		struct tls_secctx sec;
		SSL *ssl;

		memset(&sec, 0, sizeof(sec));
		sec.level = TLS_LEVEL_ENCRYPT;
		tls_client_stats(tc, &st0);
		ssl = tls_client_ssl_new(tc, &sec,
		    "mx1.example.com[127.0.0.1]:25", NULL, err, sizeof(err));
		CHECK_INT(handshake(ssl, sctx), 0);
		CHECK(tls_client_verify(ssl, &r));
		CHECK_INT(r.resumed, 0);
		CHECK_INT(r.dane_used, 0);
		CHECK_STR(r.dane.subject, "CN=mx1.example.com");
		SSL_free(ssl);
		ssl = tls_client_ssl_new(tc, &sec,
		    "mx1.example.com[127.0.0.1]:25", NULL, err, sizeof(err));
		CHECK_INT(handshake(ssl, sctx), 0);
		CHECK(tls_client_verify(ssl, &r));
		CHECK_INT(r.resumed, 1);
		SSL_free(ssl);
		/* another peer: not offered */
		ssl = tls_client_ssl_new(tc, &sec,
		    "mx2.example.com[127.0.0.2]:25", NULL, err, sizeof(err));
		CHECK_INT(handshake(ssl, sctx), 0);
		CHECK(tls_client_verify(ssl, &r));
		CHECK_INT(r.resumed, 0);
		SSL_free(ssl);
	}

	/* Keys: equal for permuted TLSA and names, different otherwise. */
	{
		struct tls_secctx a, b;
		unsigned char ka[TLS_KEY_LEN], kb[TLS_KEY_LEN];
		const char *n1[] = { "a.example", "B.example" };
		const char *n2[] = { "b.example", "a.example" };

		memset(&a, 0, sizeof(a));
		a.level = TLS_LEVEL_DANE;
		a.tlsa = s->r;
		a.ntlsa = s->n;
		a.base_domain = "mx1.example.com";
		a.ref_names = n1;
		a.nref_names = 2;
		b = a;
		b.ref_names = n2;
		tls_secctx_key(&a, "p", ka);
		tls_secctx_key(&b, "p", kb);
		CHECK(memcmp(ka, kb, TLS_KEY_LEN) == 0);
		b.nref_names = 1;
		tls_secctx_key(&b, "p", kb);
		CHECK(memcmp(ka, kb, TLS_KEY_LEN) != 0);
		b = a;
		b.test_mode = true;
		tls_secctx_key(&b, "p", kb);
		CHECK(memcmp(ka, kb, TLS_KEY_LEN) != 0);
		b = a;
		b.base_domain = "mx2.example.com";
		tls_secctx_key(&b, "p", kb);
		CHECK(memcmp(ka, kb, TLS_KEY_LEN) != 0);
		tls_secctx_key(&a, "q", kb);
		CHECK(memcmp(ka, kb, TLS_KEY_LEN) != 0);
		b = a;
		b.ntlsa = 1;
		tls_secctx_key(&b, "p", kb);
		CHECK(memcmp(ka, kb, TLS_KEY_LEN) != 0);
		/* the dup is a faithful deep copy */
		{
			struct tls_secctx *d = tls_secctx_dup(&a);

			tls_secctx_key(d, "p", kb);
			CHECK(memcmp(ka, kb, TLS_KEY_LEN) == 0);
			tls_secctx_free(d);
		}
		tls_client_forget(tc, ka);
	}

	/* LRU bound: 16 entries at most. */
	{
		struct tls_secctx sec;
		char peer[64];
		SSL *ssl;
		int i;

		memset(&sec, 0, sizeof(sec));
		sec.level = TLS_LEVEL_MAY;
		for (i = 0; i < 20; i++) {
			snprintf(peer, sizeof(peer), "mx%d[127.0.0.1]:25", i);
			ssl = tls_client_ssl_new(tc, &sec, peer, NULL, err,
			    sizeof(err));
			CHECK_INT(handshake(ssl, sctx), 0);
			tls_client_verify(ssl, &r);
			SSL_free(ssl);
		}
		tls_client_stats(tc, &st);
		CHECK_INT(st.entries, 16);
	}

	TC = saved;
	tls_client_free(tc);
	SSL_CTX_free(sctx);
	free(s);
	free(s2);
}

static void
test_server_ctx(void)
{
	char dir[] = "/tmp/test_dane.XXXXXX", cert[128], key[128], err[256];
	SSL_CTX *ctx;
	FILE *f;

	if (mkdtemp(dir) == NULL) {
		CHECK(0);
		return;
	}
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	f = fopen(cert, "w");
	PEM_write_X509(f, W.leaf.x);
	PEM_write_X509(f, W.inter.x);
	fclose(f);
	f = fopen(key, "w");
	PEM_write_PrivateKey(f, W.leaf.k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	ctx = tls_server_ctx_new(cert, key, err, sizeof(err));
	CHECK(ctx != NULL);
	if (ctx != NULL) {
		struct rrset *s = calloc(1, sizeof(*s));
		struct tls_result r;

		rr_add(s, 2, 1, 1, W.inter.x);
		CHECK(dane_try(ctx, s, "mx1.example.com", NULL, 0, &r));
		CHECK_STR(r.dane.match, "TLSA 2 1 1 at depth 1");
		free(s);
		SSL_CTX_free(ctx);
	}
	/* key of another cert */
	f = fopen(key, "w");
	PEM_write_PrivateKey(f, W.wrongkey.k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	ctx = tls_server_ctx_new(cert, key, err, sizeof(err));
	CHECK(ctx == NULL);
	CHECK(strstr(err, key) != NULL);
	ctx = tls_server_ctx_new("/nonexistent.pem", key, err, sizeof(err));
	CHECK(ctx == NULL);
	CHECK(strstr(err, "/nonexistent.pem") != NULL);
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

/*
 * Policy and OpenSSL disagree (RFC 7672 2.2, rule 6): the policy found a
 * usable record, but this SSL_CTX has SHA-256 disabled, so
 * SSL_dane_tlsa_add() takes none. With auth_required the connection is
 * refused before any handshake; without it (the old count-based rule) it
 * would have gone on unauthenticated.
 */
static void
test_auth_required(void)
{
	static const unsigned char digest[32] = { 1, 2, 3 };
	struct dane_tlsa t = { 3, 1, 1, digest, sizeof(digest) };
	struct tls_secctx sec;
	struct dane_counts counts;
	struct tls_client *tc;
	char err[256] = "";
	SSL *ssl;

	tc = tls_client_new(4, err, sizeof(err));
	CHECK(tc != NULL);
	if (tc == NULL)
		return;
	CHECK_INT(SSL_CTX_dane_mtype_set(tls_client_ctx(tc), NULL, 1, 0), 1);
	CHECK_INT(dane_tlsa_check(&t), DANE_USABLE);
	memset(&sec, 0, sizeof(sec));
	sec.level = TLS_LEVEL_DANE;
	sec.tlsa = &t;
	sec.ntlsa = 1;
	sec.base_domain = "mx1.example.com";
	/* without the policy's verdict: OpenSSL's count decides (the bug) */
	ssl = tls_client_ssl_new(tc, &sec, "mx1.example.com[127.0.0.1]:25",
	    &counts, err, sizeof(err));
	CHECK(ssl != NULL);
	CHECK_INT(counts.usable, 0);
	SSL_free(ssl);
	/* with it: refused, with a reason */
	sec.auth_required = true;
	err[0] = '\0';
	ssl = tls_client_ssl_new(tc, &sec, "mx1.example.com[127.0.0.1]:25",
	    &counts, err, sizeof(err));
	CHECK(ssl == NULL);
	CHECK(strstr(err, "OpenSSL accepted none") != NULL);
	SSL_free(ssl);
	/* and the key of the context changes with the requirement */
	{
		unsigned char k1[TLS_KEY_LEN], k2[TLS_KEY_LEN];

		tls_secctx_key(&sec, "p", k1);
		sec.auth_required = false;
		tls_secctx_key(&sec, "p", k2);
		CHECK(memcmp(k1, k2, TLS_KEY_LEN) != 0);
	}
	tls_client_free(tc);
}

int
main(void)
{
	char err[256];

	CHECK_INT(tls_init(), 0);
	TC = tls_client_new(0, err, sizeof(err));
	if (TC == NULL) {
		fprintf(stderr, "tls_client_new: %s\n", err);
		return 1;
	}
	world_make();
	test_names();
	test_usability();
	test_verdicts();
	test_openssl_resumption_facts(0);
	test_openssl_resumption_facts(TLS1_2_VERSION);
	test_resumption(0);
	test_resumption(TLS1_2_VERSION);
	test_server_ctx();
	test_auth_required();
	tls_client_free(TC);
	world_free();
	return check_done("test_dane");
}
