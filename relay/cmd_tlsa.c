/*
 * relay/cmd_tlsa.c - `danerelay tlsa [--usage 3|2] [--selector 1|0]
 * [--mtype 1|2|0] [--host NAME] [--port 25] [--ttl N] CERT.pem
 * [NEXT.pem | --next-key KEY.pem]`.
 *
 * Usage 3 (DANE-EE) prints one record for the leaf; usage 2 (DANE-TA) one
 * per issuer in the chain file, naming which is the root and which the
 * intermediate (publish the intermediate's: RFC 7671 5.2 lets the server
 * leave the root out of its chain, and an intermediate changes less often
 * than a leaf). With a next certificate or key both the current and the
 * next records are printed, so the next one can be published a few TTLs
 * before the switch (RFC 7671 8.1, "current + next"). Comments start with
 * ';' so the whole output can be pasted into a zone file.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/cmd_tlsa.h"
#include "tls/dane.h"
#include "tls/tls.h"
#include "tls/tlsa_make.h"

#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>

struct tlsa_opts {
	int		 usage, selector, mtype;
	long		 port, ttl;
	char		 host[256];
};

static void
tlsa_usage(void)
{
	fprintf(stderr, "usage: danerelay tlsa [--usage 3|2] [--selector 1|0] "
	    "[--mtype 1|2|0] [--host NAME]\n"
	    "                      [--port 25] [--ttl SECONDS] CERT.pem "
	    "[NEXT.pem | --next-key KEY.pem]\n");
}

static int
bad(const char *fmt, const char *a)
{
	fprintf(stderr, "danerelay: tlsa: ");
	fprintf(stderr, fmt, a);
	fputc('\n', stderr);
	return 2;
}

/* A decimal option value within [min, max], or -1. */
static long
num_arg(const char *s, long min, long max)
{
	char *end;
	long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	v = strtol(s, &end, 10);
	return *end == '\0' && v >= min && v <= max ? v : -1;
}

/* A host name as the owner of a TLSA RRset: lower case, no final dot. */
static int
set_host(struct tlsa_opts *o, const char *name)
{
	size_t i, n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(o->host) - 1 || name[0] == '.')
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!isalnum(c) && c != '-' && c != '.' && c != '_')
			return -1;
		if (c == '.' && name[i + 1] == '.')
			return -1;
		o->host[i] = (char)tolower(c);
	}
	o->host[n] = '\0';
	return 0;
}

static void
print_not_after(X509 *x)
{
	struct tm tm;
	char day[16];

	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1 &&
	    strftime(day, sizeof(day), "%Y-%m-%d", &tm) > 0)
		printf(", valid until %s", day);
}

static int
print_record(const struct tlsa_opts *o, int usage, X509 *cert, EVP_PKEY *key)
{
	static char hex[TLSA_HEX_MAX];
	char err[256];

	if (tlsa_make_data(cert, key, o->selector, o->mtype, hex, sizeof(hex),
	    err, sizeof(err)) == -1) {
		fprintf(stderr, "danerelay: tlsa: %s\n", err);
		return -1;
	}
	printf("_%ld._tcp.%s. %ld IN TLSA %d %d %d %s\n", o->port, o->host,
	    o->ttl, usage, o->selector, o->mtype, hex);
	return 0;
}

/* The records of one chain file: the leaf's (usage 3) or its issuers'. */
static int
print_chain(const struct tlsa_opts *o, const char *label,
    STACK_OF(X509) *chain)
{
	char	 subject[DANE_SUBJECT_MAX];
	int	 i, n = sk_X509_num(chain);
	X509	*x;

	if (o->usage == DANE_USAGE_DANE_EE) {
		x = sk_X509_value(chain, 0);
		printf("; %s certificate: %s", label,
		    dane_cert_subject(x, subject, sizeof(subject)));
		print_not_after(x);
		printf("\n");
		return print_record(o, o->usage, x, NULL);
	}
	for (i = 1; i < n; i++) {
		x = sk_X509_value(chain, i);
		printf("; %s issuer at depth %d: %s (%s)", label, i,
		    dane_cert_subject(x, subject, sizeof(subject)),
		    tlsa_is_self_signed(x) ? "root" :
		    "intermediate: the one to publish");
		print_not_after(x);
		printf("\n");
		if (print_record(o, o->usage, x, NULL) == -1)
			return -1;
	}
	return 0;
}

static STACK_OF(X509) *
load_chain(const struct tlsa_opts *o, const char *path)
{
	STACK_OF(X509) *chain;
	char err[512];

	if ((chain = tlsa_read_chain(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "danerelay: tlsa: %s\n", err);
		return NULL;
	}
	/* A broken chain breaks DANE-TA; under DANE-EE only the leaf counts. */
	if (tlsa_chain_check(chain, err, sizeof(err)) == -1) {
		fprintf(stderr, "danerelay: tlsa: %s: %s%s\n", path, err,
		    o->usage == DANE_USAGE_DANE_EE ? " (warning only: a 3 x x "
		    "record matches the leaf whatever the chain)" : "");
		if (o->usage != DANE_USAGE_DANE_EE) {
			sk_X509_pop_free(chain, X509_free);
			return NULL;
		}
	}
	if (o->usage == DANE_USAGE_DANE_TA && sk_X509_num(chain) < 2) {
		fprintf(stderr, "danerelay: tlsa: %s: --usage 2 needs the "
		    "issuing certificates: give the chain file (leaf first, "
		    "then the intermediate)\n", path);
		sk_X509_pop_free(chain, X509_free);
		return NULL;
	}
	return chain;
}

int
cmd_tlsa(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "usage",	required_argument, NULL, 'u' },
		{ "selector",	required_argument, NULL, 's' },
		{ "mtype",	required_argument, NULL, 'm' },
		{ "host",	required_argument, NULL, 'H' },
		{ "port",	required_argument, NULL, 'p' },
		{ "ttl",	required_argument, NULL, 'T' },
		{ "next-key",	required_argument, NULL, 'k' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct tlsa_opts o = { .usage = 3, .selector = 1, .mtype = 1,
	    .port = 25, .ttl = 3600 };
	STACK_OF(X509)	*cur = NULL, *next = NULL;
	EVP_PKEY	*next_key = NULL;
	const char	*next_key_path = NULL;
	int		 ch, rv = 2;

	/* GNU getopt: 0 starts afresh; options may follow the files */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			if ((o.usage = (int)num_arg(optarg, 2, 3)) == -1)
				return bad("--usage %s: 3 (DANE-EE) or 2 "
				    "(DANE-TA); usages 0 and 1 are not for SMTP "
				    "(RFC 7672 3.1.3)", optarg);
			break;
		case 's':
			if ((o.selector = (int)num_arg(optarg, 0, 1)) == -1)
				return bad("--selector %s: 1 (public key) or 0 "
				    "(whole certificate)", optarg);
			break;
		case 'm':
			if ((o.mtype = (int)num_arg(optarg, 0, 2)) == -1)
				return bad("--mtype %s: 1 (SHA-256), 2 (SHA-512) "
				    "or 0 (the data itself)", optarg);
			break;
		case 'H':
			if (set_host(&o, optarg) == -1)
				return bad("--host %s: not a host name", optarg);
			break;
		case 'p':
			if ((o.port = num_arg(optarg, 1, 65535)) == -1)
				return bad("--port %s: 1 to 65535", optarg);
			break;
		case 'T':
			if ((o.ttl = num_arg(optarg, 0, INT_MAX)) == -1)
				return bad("--ttl %s: seconds", optarg);
			break;
		case 'k':
			next_key_path = optarg;
			break;
		case 'h':
			tlsa_usage();
			return 0;
		default:
			tlsa_usage();
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2 || (argc == 2 && next_key_path != NULL)) {
		tlsa_usage();
		return 2;
	}
	if (next_key_path != NULL && o.usage != DANE_USAGE_DANE_EE)
		return bad("--next-key is the next leaf key: it goes with "
		    "--usage 3, not %s", "--usage 2");
	if (next_key_path != NULL && o.selector != DANE_SELECTOR_SPKI)
		return bad("--next-key gives no certificate: it needs "
		    "--selector 1, not %s", "--selector 0");
	if (tls_init() == -1)
		return bad("%s", "OpenSSL does not initialise");

	if ((cur = load_chain(&o, argv[0])) == NULL)
		goto done;
	if (argc == 2 && (next = load_chain(&o, argv[1])) == NULL)
		goto done;
	if (next_key_path != NULL) {
		char err[512];

		if ((next_key = tlsa_read_key(next_key_path, err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "danerelay: tlsa: %s\n", err);
			goto done;
		}
		if (EVP_PKEY_eq(next_key,
		    X509_get0_pubkey(sk_X509_value(cur, 0))) == 1) {
			fprintf(stderr, "danerelay: tlsa: %s: the next key is "
			    "the current one: make a new key for the rollover "
			    "(or publish the current record alone)\n",
			    next_key_path);
			goto done;
		}
	}
	if (o.host[0] == '\0' &&
	    tlsa_cert_host(sk_X509_value(cur, 0), o.host, sizeof(o.host)) == -1) {
		fprintf(stderr, "danerelay: tlsa: %s: the certificate names no "
		    "host (no DNS subjectAltName, no CN): give --host\n",
		    argv[0]);
		goto done;
	}

	printf("; TLSA records for %s, port %ld (RFC 7672), from danerelay "
	    "tlsa\n", o.host, o.port);
	if (print_chain(&o, "current", cur) == -1)
		goto done;
	if (next != NULL && o.usage == DANE_USAGE_DANE_EE &&
	    o.selector == DANE_SELECTOR_SPKI && EVP_PKEY_eq(
	    X509_get0_pubkey(sk_X509_value(cur, 0)),
	    X509_get0_pubkey(sk_X509_value(next, 0))) == 1)
		printf("; the next certificate keeps the current key: the "
		    "record above covers both\n");
	else if (next != NULL && print_chain(&o, "next", next) == -1)
		goto done;
	if (next_key != NULL) {
		printf("; next key: %s\n", next_key_path);
		if (print_record(&o, o.usage, NULL, next_key) == -1)
			goto done;
	}
	if (next != NULL || next_key != NULL)
		printf("; publish both now; switch the server to the next "
		    "certificate after at least two TTLs (%lds); then remove "
		    "the current record\n", 2 * o.ttl);
	rv = 0;
done:
	if (cur != NULL)
		sk_X509_pop_free(cur, X509_free);
	if (next != NULL)
		sk_X509_pop_free(next, X509_free);
	EVP_PKEY_free(next_key);
	return rv;
}
