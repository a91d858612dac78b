/*
 * tls/dane.c - TLSA usability (RFC 7672 2.2, 3.1.3; RFC 7671), arming an
 * SSL with the usable records and the reference identifiers, and the
 * verification verdict after the handshake with its RFC 8460 type.
 * Invariant: only records dane_tlsa_check() calls usable reach
 * SSL_dane_tlsa_add(); PKIX usages never do, so OpenSSL never falls back
 * to a PKIX trust store for SMTP.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "tls/dane.h"
#include "tls/tls.h"
#include "relay/util.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

enum dane_usability
dane_tlsa_check(const struct dane_tlsa *t)
{
	const unsigned char *p;
	X509 *x;
	EVP_PKEY *k;
	int ok;

	if (t->usage == DANE_USAGE_PKIX_TA || t->usage == DANE_USAGE_PKIX_EE)
		return DANE_UNUSABLE_PKIX;
	if (t->usage > DANE_USAGE_DANE_EE)
		return DANE_UNUSABLE_USAGE;
	if (t->selector > DANE_SELECTOR_SPKI)
		return DANE_UNUSABLE_SELECTOR;
	if (t->mtype > DANE_MTYPE_SHA512)
		return DANE_UNUSABLE_MTYPE;
	if (t->data == NULL || t->len == 0)
		return DANE_UNUSABLE_LENGTH;
	if (t->mtype == DANE_MTYPE_SHA256)
		return t->len == 32 ? DANE_USABLE : DANE_UNUSABLE_LENGTH;
	if (t->mtype == DANE_MTYPE_SHA512)
		return t->len == 64 ? DANE_USABLE : DANE_UNUSABLE_LENGTH;
	/* Full data: it must be exactly one DER object of the right kind. */
	if (t->len > (size_t)INT32_MAX)
		return t->selector == DANE_SELECTOR_CERT ?
		    DANE_UNUSABLE_CERT : DANE_UNUSABLE_SPKI;
	p = t->data;
	if (t->selector == DANE_SELECTOR_CERT) {
		x = d2i_X509(NULL, &p, (long)t->len);
		ok = x != NULL && p == t->data + t->len &&
		    X509_get0_pubkey(x) != NULL;
		X509_free(x);
		ERR_clear_error();
		return ok ? DANE_USABLE : DANE_UNUSABLE_CERT;
	}
	k = d2i_PUBKEY(NULL, &p, (long)t->len);
	ok = k != NULL && p == t->data + t->len;
	EVP_PKEY_free(k);
	ERR_clear_error();
	return ok ? DANE_USABLE : DANE_UNUSABLE_SPKI;
}

const char *
dane_usability_text(enum dane_usability u)
{
	switch (u) {
	case DANE_USABLE:		return "usable";
	case DANE_UNUSABLE_PKIX:	return "PKIX usage (0 or 1) is not used for SMTP";
	case DANE_UNUSABLE_USAGE:	return "unknown certificate usage";
	case DANE_UNUSABLE_SELECTOR:	return "unknown selector";
	case DANE_UNUSABLE_MTYPE:	return "unknown matching type";
	case DANE_UNUSABLE_LENGTH:	return "wrong data length for the matching type";
	case DANE_UNUSABLE_CERT:	return "data is not a DER certificate";
	case DANE_UNUSABLE_SPKI:	return "data is not a DER public key";
	}
	return "unknown";
}

void
dane_tlsa_count(const struct dane_tlsa *t, size_t n, struct dane_counts *c)
{
	size_t i;

	c->usable = c->unusable = 0;
	for (i = 0; i < n; i++) {
		if (dane_tlsa_check(&t[i]) == DANE_USABLE)
			c->usable++;
		else
			c->unusable++;
	}
}

bool
dane_tlsa_any_usable(const struct dane_tlsa *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (dane_tlsa_check(&t[i]) == DANE_USABLE)
			return true;
	return false;
}

const char *
tlsrpt_name(enum tlsrpt_type t)
{
	switch (t) {
	case TLSRPT_NONE:			return "";
	case TLSRPT_STARTTLS_NOT_SUPPORTED:	return "starttls-not-supported";
	case TLSRPT_CERT_HOST_MISMATCH:		return "certificate-host-mismatch";
	case TLSRPT_CERT_EXPIRED:		return "certificate-expired";
	case TLSRPT_CERT_NOT_TRUSTED:		return "certificate-not-trusted";
	case TLSRPT_VALIDATION_FAILURE:		return "validation-failure";
	case TLSRPT_TLSA_INVALID:		return "tlsa-invalid";
	case TLSRPT_DNSSEC_INVALID:		return "dnssec-invalid";
	case TLSRPT_DANE_REQUIRED:		return "dane-required";
	}
	return "validation-failure";
}

enum tlsrpt_type
tlsrpt_from_x509(long e)
{
	switch (e) {
	case X509_V_OK:
		return TLSRPT_NONE;
	case X509_V_ERR_DANE_NO_MATCH:
		return TLSRPT_TLSA_INVALID;
	case X509_V_ERR_HOSTNAME_MISMATCH:
		return TLSRPT_CERT_HOST_MISMATCH;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return TLSRPT_CERT_EXPIRED;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_REJECTED:
	case X509_V_ERR_INVALID_CA:
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
	case X509_V_ERR_PERMITTED_VIOLATION:
	case X509_V_ERR_EXCLUDED_VIOLATION:
		return TLSRPT_CERT_NOT_TRUSTED;
	default:
		return TLSRPT_VALIDATION_FAILURE;
	}
}

int
dane_ssl_arm(SSL *ssl, const char *base, const char *const *names,
    size_t nnames, const struct dane_tlsa *t, size_t n,
    struct dane_counts *counts, char *err, size_t errlen)
{
	char e[256];
	size_t i;
	int r;

	counts->usable = counts->unusable = 0;
	ERR_clear_error();
	/* SNI first: SSL_dane_enable would default to base anyway (8.1). */
	if (base == NULL || *base == '\0') {
		snprintf(err, errlen, "DANE needs a TLSA base domain");
		return -1;
	}
	if (SSL_set_tlsext_host_name(ssl, base) != 1 ||
	    SSL_dane_enable(ssl, base) <= 0) {
		snprintf(err, errlen, "SSL_dane_enable %s: %s", base,
		    tls_error_text(e, sizeof(e), NULL));
		return -1;
	}
	/* RFC 7672 3.1.1: no name (or expiry) checks for DANE-EE. */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	/* RFC 7672 3.2.3: a wildcard only as the whole leftmost label. */
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	for (i = 0; i < nnames; i++) {
		if (names[i] == NULL || *names[i] == '\0' ||
		    strcasecmp(names[i], base) == 0)
			continue;
		if (SSL_add1_host(ssl, names[i]) != 1) {
			snprintf(err, errlen, "SSL_add1_host %s: %s", names[i],
			    tls_error_text(e, sizeof(e), NULL));
			return -1;
		}
	}
	for (i = 0; i < n; i++) {
		if (dane_tlsa_check(&t[i]) != DANE_USABLE) {
			counts->unusable++;
			continue;
		}
		r = SSL_dane_tlsa_add(ssl, t[i].usage, t[i].selector,
		    t[i].mtype, t[i].data, t[i].len);
		if (r < 0) {
			snprintf(err, errlen, "SSL_dane_tlsa_add: %s",
			    tls_error_text(e, sizeof(e), NULL));
			return -1;
		}
		if (r == 0) {
			/* OpenSSL disagrees with our check: trust it, skip. */
			ERR_clear_error();
			counts->unusable++;
		} else
			counts->usable++;
	}
	return 0;
}

static const char *
dane_name_line(const X509_NAME *name, char *buf, size_t len)
{
	BIO *b;
	int n;

	buf[0] = '\0';
	if (name == NULL || (b = BIO_new(BIO_s_mem())) == NULL)
		return buf;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
		n = BIO_read(b, buf, (int)len - 1);
		buf[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
	return buf;
}

const char *
dane_cert_subject(X509 *x, char *buf, size_t len)
{
	buf[0] = '\0';
	if (x == NULL)
		return buf;
	return dane_name_line(X509_get_subject_name(x), buf, len);
}

static const char *
dane_reason(long e)
{
	switch (e) {
	case X509_V_ERR_DANE_NO_MATCH:
		return "no TLSA record matched the certificate chain";
	case X509_V_ERR_HOSTNAME_MISMATCH:
		return "certificate names do not match any reference identifier";
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "certificate has expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "certificate is not yet valid";
	default:
		return X509_verify_cert_error_string(e);
	}
}

void
dane_ssl_verify(SSL *ssl, struct dane_verify *v)
{
	STACK_OF(X509) *chain;
	uint8_t u = 0, s = 0, m = 0;
	const unsigned char *d;
	size_t dl;
	X509 *mcert = NULL, *leaf;
	EVP_PKEY *mspki = NULL;
	int depth, n;

	memset(v, 0, sizeof(*v));
	v->depth = -1;
	v->x509_err = SSL_get_verify_result(ssl);
	depth = SSL_get0_dane_tlsa(ssl, &u, &s, &m, &d, &dl);
	leaf = SSL_get0_peer_certificate(ssl);
	if (v->x509_err == X509_V_OK && depth >= 0) {
		v->authenticated = true;
		v->depth = depth;
		v->usage = u;
		v->selector = s;
		v->mtype = m;
		snprintf(v->match, sizeof(v->match), "TLSA %u %u %u at depth %d",
		    u, s, m, depth);
		/*
		 * The matched cert: the one OpenSSL names, else (a bare
		 * DANE-TA key that signed the cert at depth) that
		 * cert's issuer is the anchor's name.
		 */
		if (SSL_get0_dane_authority(ssl, &mcert, &mspki) < 0)
			mcert = NULL;
		chain = SSL_get_peer_cert_chain(ssl);
		n = chain ? sk_X509_num(chain) : 0;
		if (mcert != NULL)
			dane_cert_subject(mcert, v->subject, sizeof(v->subject));
		else if (depth < n)
			dane_name_line(X509_get_issuer_name(
			    sk_X509_value(chain, depth)), v->subject,
			    sizeof(v->subject));
		return;
	}
	dane_cert_subject(leaf, v->subject, sizeof(v->subject));
	if (v->x509_err == X509_V_OK && SSL_session_reused(ssl)) {
		/* Resumed: verified when the session was made. */
		v->authenticated = true;
		return;
	}
	if (v->x509_err == X509_V_OK) {
		/* Verified, but not by DANE (no usable record armed). */
		v->x509_err = X509_V_ERR_DANE_NO_MATCH;
	}
	if (leaf == NULL) {
		v->rpt = TLSRPT_VALIDATION_FAILURE;
		str_copy(v->reason, "server sent no certificate",
		    sizeof(v->reason));
		return;
	}
	v->rpt = tlsrpt_from_x509(v->x509_err);
	str_copy(v->reason, dane_reason(v->x509_err), sizeof(v->reason));
}
