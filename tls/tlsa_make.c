/*
 * tls/tlsa_make.c - TLSA association data and the pre-publication checks
 * (see tls/tlsa_make.h). The digests are those of the openssl pipelines
 * operators use by hand: selector 1 hashes the DER SubjectPublicKeyInfo
 * (`openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER`),
 * selector 0 the DER certificate (`openssl x509 -outform DER`); RFC 6698
 * 2.1.2 and 2.1.3.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "tls/tlsa_make.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static void
hex_encode(const unsigned char *p, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[p[i] >> 4];
		hex[2 * i + 1] = digits[p[i] & 0x0f];
	}
	hex[2 * n] = '\0';
}

int
tlsa_make_data(X509 *cert, EVP_PKEY *key, int selector, int mtype,
    char *hex, size_t hexlen, char *err, size_t errlen)
{
	unsigned char	*der = NULL, md[EVP_MAX_MD_SIZE];
	const unsigned char *data;
	unsigned int	 mdlen;
	size_t		 len;
	int		 n, rv = -1;

	if (selector == 0) {
		if (cert == NULL) {
			snprintf(err, errlen, "selector 0 needs a certificate, "
			    "not a bare key");
			return -1;
		}
		n = i2d_X509(cert, &der);
	} else if (selector == 1) {
		if (cert != NULL)
			n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
		else
			n = i2d_PUBKEY(key, &der);
	} else {
		snprintf(err, errlen, "selector %d: only 0 and 1 exist", selector);
		return -1;
	}
	if (n <= 0) {
		snprintf(err, errlen, "cannot encode the %s as DER",
		    selector == 0 ? "certificate" : "public key");
		return -1;
	}
	len = (size_t)n;
	switch (mtype) {
	case 0:
		data = der;
		break;
	case 1:
	case 2:
		if (!EVP_Digest(der, len, md, &mdlen,
		    mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL)) {
			snprintf(err, errlen, "digest failed");
			goto done;
		}
		data = md;
		len = mdlen;
		break;
	default:
		snprintf(err, errlen, "matching type %d: only 0, 1 and 2 exist",
		    mtype);
		goto done;
	}
	if (2 * len + 1 > hexlen) {
		snprintf(err, errlen, "association data of %zu octets is too "
		    "long to print", len);
		goto done;
	}
	hex_encode(data, len, hex);
	rv = 0;
done:
	OPENSSL_free(der);
	return rv;
}

static void
openssl_reason(const char *what, char *err, size_t errlen)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	snprintf(err, errlen, "%s%s%s", what, r ? ": " : "", r ? r : "");
	ERR_clear_error();
}

STACK_OF(X509) *
tlsa_read_chain(const char *path, char *err, size_t errlen)
{
	STACK_OF(X509)	*chain;
	BIO		*b;
	X509		*x;
	unsigned long	 e;

	if ((b = BIO_new_file(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot read it", path);
		ERR_clear_error();
		return NULL;
	}
	if ((chain = sk_X509_new_null()) == NULL) {
		BIO_free(b);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
			break;
		}
	}
	/* The loop ends on end of file (PEM_R_NO_START_LINE) or bad data. */
	e = ERR_peek_last_error();
	BIO_free(b);
	if (sk_X509_num(chain) == 0 || (e != 0 &&
	    ERR_GET_REASON(e) != PEM_R_NO_START_LINE)) {
		char what[256];

		snprintf(what, sizeof(what), "%s: %s", path,
		    sk_X509_num(chain) == 0 ? "no PEM certificate in it" :
		    "a PEM block in it is not a valid certificate");
		openssl_reason(what, err, errlen);
		sk_X509_pop_free(chain, X509_free);
		return NULL;
	}
	ERR_clear_error();
	return chain;
}

EVP_PKEY *
tlsa_read_key(const char *path, char *err, size_t errlen)
{
	EVP_PKEY	*k;
	X509		*x;
	BIO		*b;

	if ((b = BIO_new_file(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot read it", path);
		ERR_clear_error();
		return NULL;
	}
	/* A private key, a public key or a certificate, in that order. */
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	if (k == NULL) {
		(void)BIO_reset(b);
		k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	}
	if (k == NULL) {
		(void)BIO_reset(b);
		if ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
			k = X509_get_pubkey(x);
			X509_free(x);
		}
	}
	BIO_free(b);
	if (k == NULL) {
		char what[256];

		snprintf(what, sizeof(what), "%s: no PEM key or certificate "
		    "in it (an encrypted private key is not read: give its "
		    "public key)", path);
		openssl_reason(what, err, errlen);
		return NULL;
	}
	ERR_clear_error();
	return k;
}

static int
issued_by(X509 *subject, X509 *issuer)
{
	EVP_PKEY *k;
	int ok;

	if (X509_check_issued(issuer, subject) != X509_V_OK)
		return 0;
	if ((k = X509_get0_pubkey(issuer)) == NULL)
		return 0;
	ok = X509_verify(subject, k) == 1;
	ERR_clear_error();
	return ok;
}

int
tlsa_chain_check(STACK_OF(X509) *chain, char *err, size_t errlen)
{
	int i, n = sk_X509_num(chain);

	for (i = 0; i + 1 < n; i++) {
		if (!issued_by(sk_X509_value(chain, i),
		    sk_X509_value(chain, i + 1))) {
			snprintf(err, errlen, "certificate %d in the file did "
			    "not issue certificate %d (wrong order, or a chain "
			    "of another certificate)", i + 2, i + 1);
			return -1;
		}
	}
	return 0;
}

int
tlsa_is_self_signed(X509 *x)
{
	return issued_by(x, x);
}

/*
 * A name fit to print as a TLSA owner: letters, digits, '-', '_' and '.'.
 * Certificate names are the peer's text; anything else (control octets,
 * UTF-8, spaces) would reach the operator's terminal or zone file.
 */
static int
host_chars_ok(const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isalnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return n > 0;
}

int
tlsa_cert_host(X509 *x, char *buf, size_t len)
{
	GENERAL_NAMES	*sans;
	int		 i, n;

	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		const unsigned char *s;

		if (g->type != GEN_DNS)
			continue;
		s = ASN1_STRING_get0_data(g->d.dNSName);
		n = ASN1_STRING_length(g->d.dNSName);
		if (n <= 0 || (size_t)n >= len ||
		    !host_chars_ok(s, (size_t)n))
			continue;
		memcpy(buf, s, (size_t)n);
		buf[n] = '\0';
		GENERAL_NAMES_free(sans);
		return 0;
	}
	GENERAL_NAMES_free(sans);
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
	    buf, (int)len);
	return n > 0 && (size_t)n < len &&
	    host_chars_ok((const unsigned char *)buf, (size_t)n) ? 0 : -1;
}
