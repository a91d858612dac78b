/*
 * tls/tls_server.c - the STARTTLS server context. Built once at start and
 * again on SIGHUP (a new context for new sessions; sessions in progress
 * keep a reference to the old one through their SSL objects).
 */
#include "tls/tls_server.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

/* The first queued OpenSSL error as text (the cause); the queue is emptied. */
static const char *
ssl_err_text(char *buf, size_t len)
{
	unsigned long e, first = 0;
	const char *r;

	while ((e = ERR_get_error()) != 0)
		if (first == 0)
			first = e;
	if (first == 0)
		snprintf(buf, len, "unknown error");
	else if ((r = ERR_reason_error_string(first)) != NULL)
		snprintf(buf, len, "%s", r);
	else
		snprintf(buf, len, "OpenSSL error 0x%lx", first);
	return buf;
}

SSL_CTX *
tls_server_ctx_load(const char *cert_file, const char *key_file, char *err,
    size_t errlen)
{
	SSL_CTX *ctx;
	char e[256];

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s", ssl_err_text(e, sizeof(e)));
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		snprintf(err, errlen, "TLS 1.2 minimum: %s",
		    ssl_err_text(e, sizeof(e)));
		goto fail;
	}
	/*
	 * Renegotiation is a DoS lever and SMTP never needs it; release the
	 * 34 KB record buffers of idle sessions (many sessions sit idle
	 * between commands).
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		snprintf(err, errlen, "%s: %s", cert_file,
		    ssl_err_text(e, sizeof(e)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "%s: %s", key_file,
		    ssl_err_text(e, sizeof(e)));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s: the key does not match %s",
		    key_file, cert_file);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

const char *
tls_server_describe(const SSL *ssl, char *buf, size_t len)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	int bits = 0, alg = 0;

	if (c == NULL) {
		snprintf(buf, len, "%s", SSL_get_version(ssl));
		return buf;
	}
	bits = SSL_CIPHER_get_bits(c, &alg);
	snprintf(buf, len, "%s with cipher %s (%d/%d bits)",
	    SSL_get_version(ssl), SSL_CIPHER_get_name(c), bits, alg);
	return buf;
}

const char *
tls_server_version(const SSL *ssl)
{
	return SSL_get_version(ssl);
}
