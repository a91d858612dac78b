/*
 * tests/unit/test_tlsa_make.c - tls/tlsa_make.c: association data for
 * both selectors and every matching type against digests computed here
 * independently (RFC 6698 2.1), the chain check, the root test and the
 * host name taken from a certificate. Keys and certificates are made
 * afresh with OpenSSL on every run.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "tls/tlsa_make.h"
#include "tests/unit/check.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

static EVP_PKEY *
new_key(void)
{
	return EVP_EC_gen("P-256");
}

/* A certificate for cn (and san, when not NULL) signed by signer. */
static X509 *
new_cert(const char *cn, const char *san, EVP_PKEY *key, X509 *issuer,
    EVP_PKEY *signer)
{
	X509 *x = X509_new();
	X509_NAME *n;
	X509_EXTENSION *e;
	X509V3_CTX ctx;

	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
	if (san != NULL) {
		X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
		e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	X509_sign(x, signer, EVP_sha256());
	return x;
}

static void
hex_of(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
}

static void
test_data(void)
{
	static char got[TLSA_HEX_MAX], want[TLSA_HEX_MAX];
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	EVP_PKEY *k = new_key();
	X509 *x = new_cert("mx.example.test", NULL, k, NULL, k);
	char err[256];
	int n;

	/* selector 1: the DER SubjectPublicKeyInfo, from cert or bare key */
	n = i2d_PUBKEY(k, &der);
	EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
	hex_of(md, mdlen, want);
	CHECK_INT(tlsa_make_data(x, NULL, 1, 1, got, sizeof(got), err,
	    sizeof(err)), 0);
	CHECK_STR(got, want);
	CHECK_INT(tlsa_make_data(NULL, k, 1, 1, got, sizeof(got), err,
	    sizeof(err)), 0);
	CHECK_STR(got, want);
	EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha512(), NULL);
	hex_of(md, mdlen, want);
	CHECK_INT(tlsa_make_data(x, NULL, 1, 2, got, sizeof(got), err,
	    sizeof(err)), 0);
	CHECK_STR(got, want);
	hex_of(der, (size_t)n, want);
	CHECK_INT(tlsa_make_data(x, NULL, 1, 0, got, sizeof(got), err,
	    sizeof(err)), 0);
	CHECK_STR(got, want);
	OPENSSL_free(der);

	/* selector 0: the DER certificate */
	der = NULL;
	n = i2d_X509(x, &der);
	EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
	hex_of(md, mdlen, want);
	CHECK_INT(tlsa_make_data(x, NULL, 0, 1, got, sizeof(got), err,
	    sizeof(err)), 0);
	CHECK_STR(got, want);
	OPENSSL_free(der);

	/* what cannot be made */
	CHECK_INT(tlsa_make_data(NULL, k, 0, 1, got, sizeof(got), err,
	    sizeof(err)), -1);
	CHECK(strstr(err, "needs a certificate") != NULL);
	CHECK_INT(tlsa_make_data(x, NULL, 1, 3, got, sizeof(got), err,
	    sizeof(err)), -1);
	CHECK_INT(tlsa_make_data(x, NULL, 2, 1, got, sizeof(got), err,
	    sizeof(err)), -1);
	CHECK_INT(tlsa_make_data(x, NULL, 1, 1, got, 64, err, sizeof(err)), -1);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_chain_and_names(void)
{
	EVP_PKEY *rk = new_key(), *lk = new_key(), *ok = new_key();
	X509 *root = new_cert("Root", NULL, rk, NULL, rk);
	X509 *leaf = new_cert("cn.example.test",
	    "DNS:*.example.test,DNS:mx.example.test", lk, root, rk);
	X509 *other = new_cert("Other", NULL, ok, NULL, ok);
	X509 *plain = new_cert("plain.example.test", NULL, lk, root, rk);
	STACK_OF(X509) *s = sk_X509_new_null();
	char buf[256], err[256];

	CHECK(tlsa_is_self_signed(root));
	CHECK(!tlsa_is_self_signed(leaf));
	sk_X509_push(s, leaf);
	sk_X509_push(s, root);
	CHECK_INT(tlsa_chain_check(s, err, sizeof(err)), 0);
	sk_X509_set(s, 1, other);
	CHECK_INT(tlsa_chain_check(s, err, sizeof(err)), -1);
	CHECK(strstr(err, "certificate 2 in the file did not issue "
	    "certificate 1") != NULL);
	sk_X509_free(s);

	/* the first DNS name that is not a wildcard, else the CN */
	CHECK_INT(tlsa_cert_host(leaf, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "mx.example.test");
	CHECK_INT(tlsa_cert_host(plain, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "plain.example.test");
	/*
	 * Names with octets a terminal or zone file must not get are
	 * skipped (fuzz_tlsa found "mx.example.o\xa2g" printed as is).
	 */
	{
		X509 *b1 = new_cert("cn.example.test",
		    "DNS:bad\x01name.test,DNS:mx.example.o\xa2g,"
		    "DNS:good.example.test", lk, root, rk);
		X509 *b2 = new_cert("evil\x1b[2J.test", NULL, lk, root, rk);
		X509 *b3 = new_cert("cn.example.test", "DNS:a b.test", lk,
		    root, rk);
		X509_EXTENSION *e;

		/* the SANs really are in the certificate, odd octets and all */
		e = X509_get_ext(b1, X509_get_ext_by_NID(b1,
		    NID_subject_alt_name, -1));
		CHECK(e != NULL && memmem(X509_EXTENSION_get_data(e)->data,
		    (size_t)X509_EXTENSION_get_data(e)->length, "bad\x01name",
		    8) != NULL);
		CHECK_INT(tlsa_cert_host(b1, buf, sizeof(buf)), 0);
		CHECK_STR(buf, "good.example.test");
		CHECK_INT(tlsa_cert_host(b2, buf, sizeof(buf)), -1);
		CHECK_INT(tlsa_cert_host(b3, buf, sizeof(buf)), 0);
		CHECK_STR(buf, "cn.example.test");
		X509_free(b1);
		X509_free(b2);
		X509_free(b3);
	}

	X509_free(root);
	X509_free(leaf);
	X509_free(other);
	X509_free(plain);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(lk);
	EVP_PKEY_free(ok);
}

int
main(void)
{
	test_data();
	test_chain_and_names();
	return check_done("test_tlsa_make");
}
