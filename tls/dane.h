/*
 * tls/dane.h - TLSA records for SMTP (RFC 6698, 7671, 7672): which records
 * are usable, applying them to an SSL (SSL_dane_enable, SSL_dane_tlsa_add,
 * reference identifiers, no partial wildcards, no name checks for
 * DANE-EE), and after the handshake what matched or why nothing did, with
 * the RFC 8460 result type. Pure functions of their arguments and the SSL;
 * no logging, no allocation that outlives a call.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef TLS_DANE_H
#define TLS_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* TLSA fields (RFC 6698 2.1, RFC 7218 acronyms). */
#define DANE_USAGE_PKIX_TA	0	/* unusable for SMTP (RFC 7672 3.1.3) */
#define DANE_USAGE_PKIX_EE	1	/* unusable for SMTP */
#define DANE_USAGE_DANE_TA	2
#define DANE_USAGE_DANE_EE	3
#define DANE_SELECTOR_CERT	0
#define DANE_SELECTOR_SPKI	1
#define DANE_MTYPE_FULL		0
#define DANE_MTYPE_SHA256	1
#define DANE_MTYPE_SHA512	2

/* One TLSA record as the resolver decoded it; data is not owned. */
struct dane_tlsa {
	uint8_t			 usage;
	uint8_t			 selector;
	uint8_t			 mtype;
	const unsigned char	*data;
	size_t			 len;
};

/* Why a record is unusable (RFC 7672 2.2, 3.1.3; RFC 7671). */
enum dane_usability {
	DANE_USABLE = 0,
	DANE_UNUSABLE_PKIX,		/* usage 0 or 1: not for SMTP */
	DANE_UNUSABLE_USAGE,		/* unknown usage */
	DANE_UNUSABLE_SELECTOR,		/* unknown selector */
	DANE_UNUSABLE_MTYPE,		/* unknown matching type */
	DANE_UNUSABLE_LENGTH,		/* digest length wrong for mtype 1/2, or empty */
	DANE_UNUSABLE_CERT,		/* 0 0: not one DER certificate */
	DANE_UNUSABLE_SPKI,		/* x 1 0: not one DER SubjectPublicKeyInfo */
};

struct dane_counts {
	unsigned		 usable;
	unsigned		 unusable;
};

/* RFC 8460 4.3 result types for failures (TLSRPT_NONE: no failure). */
enum tlsrpt_type {
	TLSRPT_NONE = 0,
	TLSRPT_STARTTLS_NOT_SUPPORTED,	/* "starttls-not-supported" */
	TLSRPT_CERT_HOST_MISMATCH,	/* "certificate-host-mismatch" */
	TLSRPT_CERT_EXPIRED,		/* "certificate-expired" */
	TLSRPT_CERT_NOT_TRUSTED,	/* "certificate-not-trusted" */
	TLSRPT_VALIDATION_FAILURE,	/* "validation-failure" */
	TLSRPT_TLSA_INVALID,		/* "tlsa-invalid": no usable TLSA record matched */
	TLSRPT_DNSSEC_INVALID,		/* "dnssec-invalid" (resolver's verdict) */
	TLSRPT_DANE_REQUIRED,		/* "dane-required" (policy's verdict) */
};

#define DANE_MATCH_MAX		48	/* "TLSA 3 1 1 at depth 0" */
#define DANE_SUBJECT_MAX	192	/* one-line RFC 2253 subject, cut */
#define DANE_REASON_MAX		160

/*
 * Outcome of certificate verification after a handshake. subject is the
 * matched certificate's subject when authenticated, else the leaf's; it is
 * peer-supplied text (pass it through log_safe()).
 */
struct dane_verify {
	bool			 authenticated;	/* a usable TLSA record matched and the chain checks passed */
	int			 depth;		/* depth of the matched cert, -1 if none */
	uint8_t			 usage, selector, mtype;	/* the matched record */
	long			 x509_err;	/* X509_V_OK or the verify error */
	enum tlsrpt_type	 rpt;		/* TLSRPT_NONE when authenticated */
	char			 match[DANE_MATCH_MAX];	/* "TLSA 3 1 1 at depth 0" or "" */
	char			 subject[DANE_SUBJECT_MAX];
	char			 reason[DANE_REASON_MAX];	/* "" when authenticated */
};

enum dane_usability dane_tlsa_check(const struct dane_tlsa *);
const char	*dane_usability_text(enum dane_usability);	/* "usage 1 (PKIX-EE) is not for SMTP" ... */
/* Count usable and unusable records of an RRset. */
void		 dane_tlsa_count(const struct dane_tlsa *, size_t n,
		    struct dane_counts *);
bool		 dane_tlsa_any_usable(const struct dane_tlsa *, size_t n);

/* "tlsa-invalid", ... ("" for TLSRPT_NONE). */
const char	*tlsrpt_name(enum tlsrpt_type);
/* The RFC 8460 type of an X509 verify error (X509_V_OK -> TLSRPT_NONE). */
enum tlsrpt_type tlsrpt_from_x509(long x509_err);

/*
 * Arm DANE on a client SSL before the handshake: SSL_dane_enable(ssl,
 * base) (which also sets the first reference identifier), SNI = base,
 * SSL_add1_host for each of names[], partial wildcards refused, DANE-EE
 * without name or expiry checks, then SSL_dane_tlsa_add for each usable
 * record. The ssl's SSL_CTX must have had SSL_CTX_dane_enable().
 * counts gets the usable/unusable split as OpenSSL saw it. Returns 0, or
 * -1 + err on an OpenSSL failure (not for unusable records).
 */
int		 dane_ssl_arm(SSL *, const char *base, const char *const *names,
		    size_t nnames, const struct dane_tlsa *, size_t n,
		    struct dane_counts *counts, char *err, size_t errlen);

/*
 * After the handshake of an SSL armed by dane_ssl_arm(): fill v from
 * SSL_get_verify_result and SSL_get0_dane_tlsa. On a resumed session
 * OpenSSL does not verify again; the verify result comes from the session
 * and SSL_get0_dane_tlsa knows no match, so v->match is "" then (the
 * session cache in tls_client keeps the original match text).
 */
void		 dane_ssl_verify(SSL *, struct dane_verify *v);

/* The leaf (or cert at depth) subject as one line; returns buf. */
const char	*dane_cert_subject(X509 *, char *buf, size_t len);

#endif
