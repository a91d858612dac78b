/*
 * tests/fuzz/fuzz_tlsa.c - the certificate input of `danerelay tlsa`
 * (tls/tlsa_make.c): a PEM file that may hold anything, read as a chain
 * and as a key (through an in-memory file, /proc/self/fd/N), then every
 * association data form, the chain check and the owner name. Checked:
 * the data is lower-case hex of the length the matching type implies
 * (64 for SHA-256, 128 for SHA-512, twice the DER length for Full), and
 * the owner name the command prints is a DNS name (letters, digits, '-',
 * '_' and dots), never text that could carry control characters to the
 * operator's terminal or a zone file.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "tls/tlsa_make.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

static int memfd = -1;
static char hex[TLSA_HEX_MAX];

static void
check_hex(const char *h, size_t want)
{
	size_t i, n = strlen(h);

	if (want != 0)
		FUZZ_ASSERT(n == want);
	for (i = 0; i < n; i++)
		FUZZ_ASSERT((h[i] >= '0' && h[i] <= '9') ||
		    (h[i] >= 'a' && h[i] <= 'f'));
}

static void
check_data(X509 *cert, EVP_PKEY *key)
{
	char err[256];
	int sel, mt, der;

	for (sel = 0; sel <= 1; sel++) {
		for (mt = 0; mt <= 2; mt++) {
			if (tlsa_make_data(cert, key, sel, mt, hex, sizeof(hex),
			    err, sizeof(err)) == -1)
				continue;
			der = 0;
			if (mt == 0 && sel == 0 && cert != NULL)
				der = i2d_X509(cert, NULL);
			check_hex(hex, mt == 1 ? 64 : mt == 2 ? 128 :
			    der > 0 ? 2 * (size_t)der : 0);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *chain;
	EVP_PKEY *key;
	char path[64], err[256], host[256];
	int i;

	if (memfd == -1 && (memfd = memfd_create("fuzz_tlsa", 0)) == -1)
		abort();
	if (ftruncate(memfd, 0) == -1 || pwrite(memfd, data, size, 0) !=
	    (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);

	if ((chain = tlsa_read_chain(path, err, sizeof(err))) != NULL) {
		FUZZ_ASSERT(sk_X509_num(chain) > 0);
		(void)tlsa_chain_check(chain, err, sizeof(err));
		for (i = 0; i < sk_X509_num(chain); i++) {
			X509 *x = sk_X509_value(chain, i);
			size_t j;

			(void)tlsa_is_self_signed(x);
			check_data(x, NULL);
			if (tlsa_cert_host(x, host, sizeof(host)) == 0) {
				FUZZ_ASSERT(host[0] != '\0');
				for (j = 0; host[j] != '\0'; j++)
					FUZZ_ASSERT(strchr("abcdefghijklmnopqrstuvwxyz"
					    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.",
					    host[j]) != NULL);
			}
		}
		sk_X509_pop_free(chain, X509_free);
	}
	if ((key = tlsa_read_key(path, err, sizeof(err))) != NULL) {
		check_data(NULL, key);
		EVP_PKEY_free(key);
	}
	ERR_clear_error();
	return 0;
}
