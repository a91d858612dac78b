/*
 * tls/tls.c - OpenSSL initialisation, the server SSL_CTX, the session
 * description for logs and the error queue as text. Stateless apart from
 * OpenSSL's own one-time initialisation.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "tls/tls.h"
#include "relay/util.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/opensslv.h>

int
tls_init(void)
{
	/* OpenSSL >= 1.1 initialises itself once, thread-safely. */
	if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL) != 1)
		return -1;
	return 0;
}

const char *
tls_error_text(char *buf, size_t len, const char *fallback)
{
	unsigned long e, first = 0;
	const char *r;

	/* Keep the first error (the cause); drain the rest. */
	while ((e = ERR_get_error()) != 0)
		if (first == 0)
			first = e;
	if (first == 0) {
		str_copy(buf, fallback ? fallback : "unknown error", len);
		return buf;
	}
	r = ERR_reason_error_string(first);
	if (r != NULL)
		str_copy(buf, r, len);
	else
		snprintf(buf, len, "OpenSSL error 0x%lx", first);
	return buf;
}

SSL_CTX *
tls_server_ctx_new(const char *cert_file, const char *key_file, char *err,
    size_t errlen)
{
	SSL_CTX *ctx;
	char e[TLS_ERR_MAX];

	if (tls_init() == -1) {
		snprintf(err, errlen, "OpenSSL initialisation failed");
		return NULL;
	}
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s",
		    tls_error_text(e, sizeof(e), NULL));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* No renegotiation, prefer our cipher order. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		snprintf(err, errlen, "%s: %s", cert_file,
		    tls_error_text(e, sizeof(e), NULL));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "%s: %s", key_file,
		    tls_error_text(e, sizeof(e), NULL));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "%s: key does not match %s", key_file,
		    cert_file);
		ERR_clear_error();
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

const char *
tls_describe(const SSL *ssl, char *buf, size_t len)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	int bits = 0;

	if (c == NULL) {
		snprintf(buf, len, "%s", SSL_get_version(ssl));
		return buf;
	}
	SSL_CIPHER_get_bits(c, &bits);
	snprintf(buf, len, "%s with cipher %s (%d bits)", SSL_get_version(ssl),
	    SSL_CIPHER_get_name(c), bits);
	return buf;
}
