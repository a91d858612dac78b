/*
 * tests/bench/tls_cost.c - what one TLS handshake costs in OpenSSL itself
 * on this machine, without sockets: the floor under the benchmark's
 * "a new outbound connection per message" scenarios (scripts/bench,
 * README "Benchmark"). Client and server run in one thread over a BIO
 * pair; each side's CPU time (CLOCK_THREAD_CPUTIME_ID) is taken around
 * its own calls only, so the two are counted apart.
 *
 *	tls_cost -c CERT -k KEY [-n COUNT]
 *
 * The client is set up as danerelay's (tls/tls_client.c): TLS 1.2 or
 * newer, read-ahead, its own session cache (the latest ticket, offered as
 * a copy), and DANE with one "3 1 1" record of CERT's public key, armed
 * per connection (SSL_dane_enable, SSL_dane_tlsa_add: RFC 7672 3.1.1).
 * The server is set up as the benchmark's sink (tests/sink/sink.c): CERT
 * and KEY, stateless session tickets (OpenSSL's default of two per
 * handshake). Two runs of COUNT handshakes (default 2000): full ones, then
 * resumed ones (RFC 8446 2.2). Each connection ends as a delivery does:
 * the client reads the server's tickets and sends close_notify.
 *
 * Prints "key=value" lines: openssl (version), count, then per mode
 * (full_, resumed_): client_us and server_us (CPU microseconds per
 * handshake, SSL_new to SSL_free), and authenticated (handshakes the
 * client's DANE check passed) and reused (handshakes that resumed).
 * Exits 1 if a handshake fails, DANE does not authenticate every one, or
 * the resumed run does not resume every handshake, so that a smoke test
 * can tell a measurement from a broken set-up.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define HOST		"mx.cost.test"
#define STEPS_MAX	64	/* handshake round trips, far more than needed */

static SSL_SESSION	*latest;	/* the client's cache: one ticket */

static void
die(const char *what)
{
	fprintf(stderr, "tls_cost: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	/* as danerelay: only a session whose handshake authenticated */
	if (SSL_get_verify_result(ssl) != X509_V_OK)
		return 0;
	SSL_SESSION_free(latest);
	latest = sess;
	return 1;	/* we keep the reference */
}

/* The "3 1 1" association data: SHA-256 of CERT's SubjectPublicKeyInfo. */
static void
spki_sha256(const char *certfile, unsigned char out[32])
{
	unsigned char	*der = NULL;
	unsigned int	 outlen = 32;
	X509		*x;
	FILE		*f;
	int		 len;

	if ((f = fopen(certfile, "r")) == NULL)
		die("cannot open the certificate");
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		die("cannot read the certificate");
	if ((len = i2d_PUBKEY(X509_get0_pubkey(x), &der)) <= 0 ||
	    EVP_Digest(der, (size_t)len, out, &outlen, EVP_sha256(), NULL) != 1)
		die("cannot hash the public key");
	OPENSSL_free(der);
	X509_free(x);
}

struct tally {
	double		client_us, server_us;
	unsigned	authenticated, reused;
};

/* One connection, danerelay's client against the sink's server. */
static void
one_handshake(SSL_CTX *cctx, SSL_CTX *sctx, const unsigned char *digest,
    bool resume, struct tally *t)
{
	SSL		*c, *s;
	SSL_SESSION	*offer;
	BIO		*bc, *bs;
	unsigned char	 buf[64];
	double		 t0;
	int		 rc = 0, rs = 0, i;
	bool		 reused;

	/* client: everything danerelay does per connection */
	t0 = cpu_now();
	if ((c = SSL_new(cctx)) == NULL)
		die("SSL_new (client)");
	SSL_set_connect_state(c);
	if (SSL_set_tlsext_host_name(c, HOST) != 1 ||
	    SSL_dane_enable(c, HOST) <= 0 ||
	    SSL_dane_tlsa_add(c, 3, 1, 1, digest, 32) <= 0)
		die("arming DANE");
	/* DANE-EE(3) binds the key alone, no name (RFC 7672 3.1.1) */
	SSL_dane_set_flags(c, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	if (resume && latest != NULL) {
		if ((offer = SSL_SESSION_dup(latest)) == NULL ||
		    SSL_set_session(c, offer) != 1)
			die("offering the session");
		SSL_SESSION_free(offer);
	}
	t->client_us += cpu_now() - t0;

	t0 = cpu_now();
	if ((s = SSL_new(sctx)) == NULL)
		die("SSL_new (server)");
	SSL_set_accept_state(s);
	t->server_us += cpu_now() - t0;

	if (BIO_new_bio_pair(&bc, 0, &bs, 0) != 1)
		die("BIO_new_bio_pair");
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(s, bs, bs);

	for (i = 0; i < STEPS_MAX && (rc != 1 || rs != 1); i++) {
		if (rc != 1) {
			t0 = cpu_now();
			rc = SSL_do_handshake(c);
			t->client_us += cpu_now() - t0;
			if (rc <= 0 && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ)
				die("client handshake");
		}
		if (rs != 1) {
			t0 = cpu_now();
			rs = SSL_do_handshake(s);
			t->server_us += cpu_now() - t0;
			if (rs <= 0 && SSL_get_error(s, rs) != SSL_ERROR_WANT_READ)
				die("server handshake");
		}
	}
	if (rc != 1 || rs != 1)
		die("the handshake did not finish");

	/* the client reads the tickets sent after the server's Finished,
	 * checks DANE as danerelay does, and closes */
	t0 = cpu_now();
	if (SSL_read(c, buf, sizeof(buf)) > 0)
		die("unexpected application data");
	/* a resumed session carries the verdict of the handshake that made
	 * it (and the client kept only authenticated ones) */
	reused = SSL_session_reused(c) == 1;
	if (SSL_get_verify_result(c) == X509_V_OK &&
	    (reused || SSL_get0_dane_authority(c, NULL, NULL) >= 0))
		t->authenticated++;
	if (reused)
		t->reused++;
	(void)SSL_shutdown(c);
	t->client_us += cpu_now() - t0;

	t0 = cpu_now();
	(void)SSL_read(s, buf, sizeof(buf));	/* close_notify */
	SSL_free(s);
	t->server_us += cpu_now() - t0;

	t0 = cpu_now();
	SSL_free(c);
	t->client_us += cpu_now() - t0;
	ERR_clear_error();
}

static void
run(const char *mode, SSL_CTX *cctx, SSL_CTX *sctx,
    const unsigned char *digest, unsigned count, bool resume, bool *bad)
{
	struct tally	t = { 0 };
	unsigned	i;

	/* one handshake first: a ticket to resume, and warm caches */
	one_handshake(cctx, sctx, digest, resume, &(struct tally){ 0 });
	for (i = 0; i < count; i++)
		one_handshake(cctx, sctx, digest, resume, &t);
	printf("%s_client_us=%.1f\n", mode, t.client_us / count);
	printf("%s_server_us=%.1f\n", mode, t.server_us / count);
	printf("%s_authenticated=%u\n", mode, t.authenticated);
	printf("%s_reused=%u\n", mode, t.reused);
	if (t.authenticated != count || t.reused != (resume ? count : 0))
		*bad = true;
}

int
main(int argc, char **argv)
{
	const char	*cert = NULL, *key = NULL;
	unsigned char	 digest[32];
	unsigned long	 count = 2000;
	SSL_CTX		*cctx, *sctx;
	bool		 bad = false;
	char		*end;
	int		 ch;

	while ((ch = getopt(argc, argv, "c:k:n:")) != -1) {
		switch (ch) {
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'n':
			count = strtoul(optarg, &end, 10);
			if (*end != '\0' || count == 0 || count > 1000000)
				die("-n takes 1 to 1000000");
			break;
		default:
			fprintf(stderr, "usage: tls_cost -c CERT -k KEY "
			    "[-n COUNT]\n");
			return 1;
		}
	}
	if (cert == NULL || key == NULL) {
		fprintf(stderr, "usage: tls_cost -c CERT -k KEY [-n COUNT]\n");
		return 1;
	}
	spki_sha256(cert, digest);

	if ((sctx = SSL_CTX_new(TLS_server_method())) == NULL)
		die("SSL_CTX_new (server)");
	SSL_CTX_set_min_proto_version(sctx, TLS1_2_VERSION);
	SSL_CTX_set_options(sctx, SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(sctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(sctx) != 1)
		die("loading CERT and KEY");

	if ((cctx = SSL_CTX_new(TLS_client_method())) == NULL)
		die("SSL_CTX_new (client)");
	SSL_CTX_set_min_proto_version(cctx, TLS1_2_VERSION);
	SSL_CTX_set_options(cctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_read_ahead(cctx, 1);
	SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE | SSL_SESS_CACHE_NO_AUTO_CLEAR);
	SSL_CTX_sess_set_new_cb(cctx, new_session_cb);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	if (SSL_CTX_dane_enable(cctx) <= 0)
		die("SSL_CTX_dane_enable");

	printf("openssl=%s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("count=%lu\n", count);
	run("full", cctx, sctx, digest, (unsigned)count, false, &bad);
	run("resumed", cctx, sctx, digest, (unsigned)count, true, &bad);

	SSL_SESSION_free(latest);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	if (bad)
		fprintf(stderr, "tls_cost: a handshake was not authenticated, "
		    "or not resumed where it should have been\n");
	return bad ? 1 : 0;
}
