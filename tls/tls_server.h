/*
 * tls/tls_server.h - the server side of STARTTLS for our inbound clients
 * (RFC 3207): one SSL_CTX built from tls_cert_file/tls_key_file, TLS 1.2
 * and 1.3 only, and the one-line session text the logs and the Received:
 * header use. Nothing here logs; errors come back as text.
 */
#ifndef TLS_TLS_SERVER_H
#define TLS_TLS_SERVER_H

#include <stddef.h>

#include <openssl/ssl.h>

#define TLS_SERVER_DESC_MAX	128

/*
 * A server context: the chain from cert_file (PEM, leaf first), the key
 * from key_file (must match), min TLS 1.2, no renegotiation. NULL + err
 * ("FILE: reason").
 */
SSL_CTX		*tls_server_ctx_load(const char *cert_file,
		    const char *key_file, char *err, size_t errlen);

/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"; returns buf. */
const char	*tls_server_describe(const SSL *, char *buf, size_t len);

/* The protocol version alone ("TLSv1.3"), for short fields. */
const char	*tls_server_version(const SSL *);

#endif
