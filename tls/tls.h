/*
 * tls/tls.h - TLS helpers shared by the inbound and outbound sides:
 * OpenSSL initialisation, a server SSL_CTX, the one-line session
 * description the logs use ("TLSv1.3 with cipher X (256 bits)"), and the
 * OpenSSL error queue as text. Nothing here logs: callers get text back.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef TLS_TLS_H
#define TLS_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

#define TLS_DESC_MAX	128	/* buffer size for tls_describe() */
#define TLS_ERR_MAX	256	/* a sensible buffer size for error texts */

/* Initialise OpenSSL once (idempotent, thread-safe). 0 / -1. */
int		 tls_init(void);

/*
 * A server context for STARTTLS offered to our clients: TLS >= 1.2, the
 * chain from cert_file (PEM, leaf first) and key_file. NULL + err.
 */
SSL_CTX		*tls_server_ctx_new(const char *cert_file, const char *key_file,
		    char *err, size_t errlen);

/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256 bits)"; returns buf. */
const char	*tls_describe(const SSL *, char *buf, size_t len);

/*
 * Drain the thread's OpenSSL error queue into buf as the reason of the
 * first error ("certificate verify failed", "wrong version number"), or
 * `fallback` if the queue is empty. Returns buf.
 */
const char	*tls_error_text(char *buf, size_t len, const char *fallback);

#endif
