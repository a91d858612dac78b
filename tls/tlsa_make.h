/*
 * tls/tlsa_make.h - the publishing side of DANE: the certificate
 * association data of a TLSA record (RFC 6698 2.1) for a certificate or
 * a public key, and the checks an operator needs before publishing it
 * (a chain whose certificates really issued one another, a next key that
 * differs from the current one). Pure functions of their arguments; no
 * I/O except the PEM readers, no logging. Used by `danerelay tlsa`
 * (relay/cmd_tlsa.c).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef TLS_TLSA_MAKE_H
#define TLS_TLSA_MAKE_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Hex of the longest association data we print whole (mtype 0). */
#define TLSA_HEX_MAX	(2 * 16384 + 1)

/*
 * The association data for selector 0 (the whole DER certificate) or 1
 * (the DER SubjectPublicKeyInfo) under matching type 0 (the data itself),
 * 1 (SHA-256) or 2 (SHA-512), as lower-case hex in hex (hexlen bytes).
 * key is used for selector 1 when cert is NULL (a next key with no
 * certificate yet). 0, or -1 with the reason in err.
 */
int	tlsa_make_data(X509 *cert, EVP_PKEY *key, int selector, int mtype,
	    char *hex, size_t hexlen, char *err, size_t errlen);

/*
 * Certificates of a PEM file, leaf first, as the server sends them.
 * Returns the stack (caller frees with sk_X509_pop_free(s, X509_free)),
 * or NULL with the reason in err: unreadable, no certificate in it, or
 * something in it that is not a certificate.
 */
STACK_OF(X509) *tlsa_read_chain(const char *path, char *err, size_t errlen);

/*
 * A public key from a PEM file holding a private key, a public key or a
 * certificate. NULL with the reason in err.
 */
EVP_PKEY *tlsa_read_key(const char *path, char *err, size_t errlen);

/*
 * The chain links: certificate i+1 issued certificate i (names and
 * signature). -1 with the first broken link in err.
 */
int	tlsa_chain_check(STACK_OF(X509) *chain, char *err, size_t errlen);

/* A self-signed (root) certificate: its own issuer, signature verified. */
int	tlsa_is_self_signed(X509 *x);

/*
 * The name a TLSA record for this certificate is published under, when
 * the caller gave none: the first DNS subjectAltName that is a host name
 * (letters, digits, '-', '_', '.'; no wildcard), else the subject's CN if
 * it is one. 0, or -1 if there is no such name.
 */
int	tlsa_cert_host(X509 *x, char *buf, size_t len);

#endif
