/*
 * tests/fuzz/fuzz_dane.c - the TLSA and certificate input paths of
 * tls/dane.c: dane_tlsa_check() (which DER-parses "Full" association data
 * as a certificate or a SubjectPublicKeyInfo), dane_tlsa_count(),
 * dane_ssl_arm() on a real DANE-enabled SSL, and dane_cert_subject() on a
 * certificate a server could send, with the log text made of it.
 *
 * Input: 1 octet of mode, then
 *  mode even: TLSA records as usage, selector, mtype, 2 octets of length
 *	and the data, then (after the records) a reference identifier;
 *  mode odd: one DER certificate.
 * Checked: the counts agree with dane_tlsa_check(), OpenSSL never accepts
 * a record we call unusable (dane_ssl_arm() adds only usable ones, so
 * usable + unusable = n and its usable <= ours), PKIX usages are never
 * usable, and a subject is a line that log_esc() leaves printable.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/log.h"
#include "tls/dane.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define MAX_TLSA	16

static SSL_CTX *ctx;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	OPENSSL_init_ssl(0, NULL);
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_dane_enable(ctx) <= 0)
		abort();
	return 0;
}

static void
check_line(const char *s)
{
	const unsigned char *p = (const unsigned char *)log_esc(s);

	for (; *p != '\0'; p++)
		FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f);
}

static void
fuzz_tlsa(const uint8_t *data, size_t size)
{
	struct dane_tlsa t[MAX_TLSA];
	struct dane_counts c, armed;
	char ref[64], err[256];
	const char *names[2];
	size_t n = 0, off = 0, i, usable = 0;
	SSL *ssl;

	while (n < MAX_TLSA && size - off >= 5) {
		size_t len = (size_t)data[off + 3] << 8 | data[off + 4];

		if (len > size - off - 5)
			break;
		t[n].usage = data[off];
		t[n].selector = data[off + 1];
		t[n].mtype = data[off + 2];
		t[n].data = len ? data + off + 5 : NULL;
		t[n].len = len;
		off += 5 + len;
		n++;
	}
	for (i = 0; i < n; i++) {
		enum dane_usability u = dane_tlsa_check(&t[i]);

		FUZZ_ASSERT(dane_usability_text(u) != NULL);
		if (u == DANE_USABLE) {
			usable++;
			FUZZ_ASSERT(t[i].usage == DANE_USAGE_DANE_TA ||
			    t[i].usage == DANE_USAGE_DANE_EE);
		}
	}
	dane_tlsa_count(t, n, &c);
	FUZZ_ASSERT(c.usable == usable && c.usable + c.unusable == n);
	FUZZ_ASSERT(dane_tlsa_any_usable(t, n) == (usable > 0));

	i = size - off < sizeof(ref) - 1 ? size - off : sizeof(ref) - 1;
	memcpy(ref, data + off, i);
	ref[i] = '\0';
	names[0] = "mx.example.org";
	names[1] = ref;
	if ((ssl = SSL_new(ctx)) == NULL)
		abort();
	if (dane_ssl_arm(ssl, "example.org", names, 2, t, n, &armed, err,
	    sizeof(err)) == 0) {
		FUZZ_ASSERT(armed.usable + armed.unusable == n);
		FUZZ_ASSERT(armed.usable <= usable);
	} else
		check_line(err);
	SSL_free(ssl);
	ERR_clear_error();
}

static void
fuzz_cert(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	char subject[DANE_SUBJECT_MAX];
	X509 *x;

	if ((x = d2i_X509(NULL, &p, (long)size)) == NULL) {
		ERR_clear_error();
		return;
	}
	dane_cert_subject(x, subject, sizeof(subject));
	FUZZ_ASSERT(strlen(subject) < sizeof(subject));
	check_line(subject);
	X509_free(x);
	ERR_clear_error();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return -1;
	if (data[0] % 2 == 0)
		fuzz_tlsa(data + 1, size - 1);
	else
		fuzz_cert(data + 1, size - 1);
	return 0;
}
