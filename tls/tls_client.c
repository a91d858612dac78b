/*
 * tls/tls_client.c - the outbound SSL_CTX and our session cache. A session
 * is stored under tls_secctx_key(context, peer) only after the handshake
 * that made it met that context's requirement (DANE: authenticated), and
 * is only offered to a connection with the same key: resumption skips
 * certificate verification, so the key must pin every input to it (peer,
 * level, TLSA RRset, base domain, reference identifiers, SNI). The cache
 * is an LRU hash table of at most cache_max entries, loop thread only.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "tls/tls_client.h"
#include "relay/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#define TLS_CACHE_DEFAULT	4096

struct tls_sess {
	unsigned char		 key[TLS_KEY_LEN];
	SSL_SESSION		*sess;
	struct dane_verify	 dv;		/* verdict of the handshake that made it */
	struct tls_sess		*hnext;		/* hash chain */
	struct tls_sess		*prev, *next;	/* LRU, head most recent */
};

struct tls_client {
	SSL_CTX			*ctx;
	size_t			 max, n;
	struct tls_sess		**bucket;
	size_t			 nbucket;	/* power of two */
	struct tls_sess		*head, *tail;
	struct tls_client_stats	 st;
};

/* Per-SSL state, in the SSL's ex_data; freed with the SSL. */
struct tls_conn {
	struct tls_client	*tc;
	unsigned char		 key[TLS_KEY_LEN];
	enum tls_level		 level;
	bool			 auth_required;	/* the policy's verdict */
	bool			 dane_used;
	struct dane_counts	 counts;
	bool			 offered;	/* a cached session was offered */
	struct dane_verify	 cached;	/* its verdict */
	bool			 checked;	/* tls_client_verify() ran */
	bool			 ok;		/* ... and the context was met */
};

static int tls_conn_idx = -1;

static void
tls_conn_exfree(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	free(ptr);
}

/* --- the cache --- */

static size_t
cache_slot(const struct tls_client *tc, const unsigned char *key)
{
	size_t h;

	memcpy(&h, key, sizeof(h));
	return h & (tc->nbucket - 1);
}

static struct tls_sess *
cache_find(struct tls_client *tc, const unsigned char *key)
{
	struct tls_sess *e;

	for (e = tc->bucket[cache_slot(tc, key)]; e != NULL; e = e->hnext)
		if (memcmp(e->key, key, TLS_KEY_LEN) == 0)
			return e;
	return NULL;
}

static void
lru_unlink(struct tls_client *tc, struct tls_sess *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		tc->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		tc->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push(struct tls_client *tc, struct tls_sess *e)
{
	e->prev = NULL;
	e->next = tc->head;
	if (tc->head)
		tc->head->prev = e;
	tc->head = e;
	if (tc->tail == NULL)
		tc->tail = e;
}

static void
cache_remove(struct tls_client *tc, struct tls_sess *e)
{
	struct tls_sess **pp;

	for (pp = &tc->bucket[cache_slot(tc, e->key)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	lru_unlink(tc, e);
	SSL_SESSION_free(e->sess);
	free(e);
	tc->n--;
}

/* Takes the caller's reference to sess. */
static void
cache_store(struct tls_client *tc, const unsigned char *key, SSL_SESSION *sess,
    const struct dane_verify *dv)
{
	struct tls_sess *e;
	size_t slot;

	if ((e = cache_find(tc, key)) != NULL) {
		SSL_SESSION_free(e->sess);
		lru_unlink(tc, e);
	} else {
		while (tc->n >= tc->max && tc->tail != NULL)
			cache_remove(tc, tc->tail);
		e = xcalloc(1, sizeof(*e));
		memcpy(e->key, key, TLS_KEY_LEN);
		slot = cache_slot(tc, key);
		e->hnext = tc->bucket[slot];
		tc->bucket[slot] = e;
		tc->n++;
	}
	e->sess = sess;
	e->dv = *dv;
	lru_push(tc, e);
	tc->st.stored++;
}

/*
 * OpenSSL hands us every session the server issues (TLS 1.3 tickets come
 * after the handshake, TLS 1.2 ones during it). Keep it only if the
 * handshake met the context: with DANE, verified and matched.
 */
static int
tls_new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_conn *c = SSL_get_ex_data(ssl, tls_conn_idx);
	struct dane_verify dv;
	SSL_SESSION *copy;

	if (c == NULL || c->tc == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;
	if (c->checked) {
		if (!c->ok)
			return 0;
	}
	if (c->dane_used) {
		dane_ssl_verify(ssl, &dv);
		if (!dv.authenticated)
			return 0;
		if (SSL_session_reused(ssl) && c->offered && dv.depth < 0)
			dv = c->cached;		/* keep the original match text */
	} else {
		memset(&dv, 0, sizeof(dv));
		dv.depth = -1;
		dane_cert_subject(SSL_get0_peer_certificate(ssl), dv.subject,
		    sizeof(dv.subject));
	}
	/*
	 * Keep a copy, not OpenSSL's session: SSL_free() without a
	 * completed shutdown (a peer that drops the line after QUIT, a
	 * bufferevent freed at once) marks the connection's own session
	 * not resumable, and that must not spoil the cache.
	 */
	if ((copy = SSL_SESSION_dup(sess)) == NULL) {
		ERR_clear_error();
		return 0;
	}
	cache_store(c->tc, c->key, copy, &dv);
	return 0;
}

struct tls_client *
tls_client_new(size_t cache_max, char *err, size_t errlen)
{
	struct tls_client *tc;
	char e[TLS_ERR_MAX];

	if (tls_init() == -1) {
		snprintf(err, errlen, "OpenSSL initialisation failed");
		return NULL;
	}
	if (tls_conn_idx < 0) {
		tls_conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL,
		    tls_conn_exfree);
		if (tls_conn_idx < 0) {
			snprintf(err, errlen, "SSL_get_ex_new_index failed");
			return NULL;
		}
	}
	tc = xcalloc(1, sizeof(*tc));
	tc->max = cache_max ? cache_max : TLS_CACHE_DEFAULT;
	for (tc->nbucket = 64; tc->nbucket < tc->max; tc->nbucket <<= 1)
		;
	tc->bucket = xcalloc(tc->nbucket, sizeof(*tc->bucket));
	ERR_clear_error();
	if ((tc->ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(err, errlen, "SSL_CTX_new: %s",
		    tls_error_text(e, sizeof(e), NULL));
		goto fail;
	}
	SSL_CTX_set_min_proto_version(tc->ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(tc->ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(tc->ctx, SSL_MODE_RELEASE_BUFFERS);
	/* One read(2) for what the socket holds, not two per record (its
	 * header, then its body); the reader then drains SSL_has_pending():
	 * see tls_client.h. */
	SSL_CTX_set_read_ahead(tc->ctx, 1);
	/* Our cache, not OpenSSL's: only our callback sees sessions. */
	SSL_CTX_set_session_cache_mode(tc->ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE | SSL_SESS_CACHE_NO_AUTO_CLEAR);
	SSL_CTX_sess_set_new_cb(tc->ctx, tls_new_session_cb);
	/* Verification runs, its verdict is ours to act on after the
	 * handshake (so that a failure has a reason, not an alert). */
	SSL_CTX_set_verify(tc->ctx, SSL_VERIFY_NONE, NULL);
	if (SSL_CTX_dane_enable(tc->ctx) <= 0) {
		snprintf(err, errlen, "SSL_CTX_dane_enable: %s",
		    tls_error_text(e, sizeof(e), NULL));
		goto fail;
	}
	return tc;
fail:
	tls_client_free(tc);
	return NULL;
}

void
tls_client_free(struct tls_client *tc)
{
	if (tc == NULL)
		return;
	while (tc->head != NULL)
		cache_remove(tc, tc->head);
	free(tc->bucket);
	SSL_CTX_free(tc->ctx);
	free(tc);
}

SSL_CTX *
tls_client_ctx(struct tls_client *tc)
{
	return tc->ctx;
}

/* --- security contexts --- */

struct tls_secctx *
tls_secctx_dup(const struct tls_secctx *s)
{
	struct tls_secctx *d = xcalloc(1, sizeof(*d));
	struct dane_tlsa *t;
	const char **names;
	unsigned char *p;
	size_t i;

	d->level = s->level;
	d->test_mode = s->test_mode;
	d->auth_required = s->auth_required;
	d->base_domain = s->base_domain ? xstrdup(s->base_domain) : NULL;
	d->sni = s->sni ? xstrdup(s->sni) : NULL;
	if (s->ntlsa > 0) {
		t = xcalloc(s->ntlsa, sizeof(*t));
		for (i = 0; i < s->ntlsa; i++) {
			t[i] = s->tlsa[i];
			p = xmalloc(s->tlsa[i].len);
			if (s->tlsa[i].len > 0)
				memcpy(p, s->tlsa[i].data, s->tlsa[i].len);
			t[i].data = p;
		}
		d->tlsa = t;
		d->ntlsa = s->ntlsa;
	}
	if (s->nref_names > 0) {
		names = xcalloc(s->nref_names, sizeof(*names));
		for (i = 0; i < s->nref_names; i++)
			names[i] = xstrdup(s->ref_names[i] ? s->ref_names[i] : "");
		d->ref_names = names;
		d->nref_names = s->nref_names;
	}
	return d;
}

void
tls_secctx_free(struct tls_secctx *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->ntlsa; i++)
		free((void *)s->tlsa[i].data);
	free((void *)s->tlsa);
	for (i = 0; i < s->nref_names; i++)
		free((void *)s->ref_names[i]);
	free((void *)s->ref_names);
	free((void *)s->base_domain);
	free((void *)s->sni);
	free(s);
}

static int
tlsa_cmp(const void *a, const void *b)
{
	const struct dane_tlsa *x = *(const struct dane_tlsa *const *)a;
	const struct dane_tlsa *y = *(const struct dane_tlsa *const *)b;
	size_t n;
	int r;

	if (x->usage != y->usage)
		return x->usage - y->usage;
	if (x->selector != y->selector)
		return x->selector - y->selector;
	if (x->mtype != y->mtype)
		return x->mtype - y->mtype;
	n = x->len < y->len ? x->len : y->len;
	if (n > 0 && (r = memcmp(x->data, y->data, n)) != 0)
		return r;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

static void
key_str(EVP_MD_CTX *md, const char *s)
{
	unsigned char c;

	/* Names compare case-insensitively: hash them lower-cased. */
	for (; s != NULL && *s != '\0'; s++) {
		c = (unsigned char)tolower((unsigned char)*s);
		EVP_DigestUpdate(md, &c, 1);
	}
	EVP_DigestUpdate(md, "", 1);
}

void
tls_secctx_key(const struct tls_secctx *s, const char *peer,
    unsigned char key[TLS_KEY_LEN])
{
	const struct dane_tlsa **t = NULL;
	const char **names = NULL;
	unsigned char hdr[4], len[8];
	unsigned int outlen = TLS_KEY_LEN;
	EVP_MD_CTX *md;
	size_t i, j;

	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		/* Cannot happen short of ENOMEM: a key nothing matches. */
		EVP_MD_CTX_free(md);
		memset(key, 0xff, TLS_KEY_LEN);
		return;
	}
	EVP_DigestUpdate(md, "danerelay-tls-1", 16);
	key_str(md, peer);
	hdr[0] = (unsigned char)s->level;
	hdr[1] = s->test_mode;
	hdr[2] = s->auth_required;
	hdr[3] = 0;
	EVP_DigestUpdate(md, hdr, sizeof(hdr));
	if (s->level == TLS_LEVEL_DANE) {
		key_str(md, s->base_domain);
		if (s->nref_names > 0) {
			names = xcalloc(s->nref_names, sizeof(*names));
			for (i = 0; i < s->nref_names; i++)
				names[i] = s->ref_names[i] ? s->ref_names[i] : "";
			qsort(names, s->nref_names, sizeof(*names), name_cmp);
			for (i = 0; i < s->nref_names; i++)
				key_str(md, names[i]);
			free(names);
		}
		EVP_DigestUpdate(md, "\n", 1);
		if (s->ntlsa > 0) {
			t = xcalloc(s->ntlsa, sizeof(*t));
			for (i = 0; i < s->ntlsa; i++)
				t[i] = &s->tlsa[i];
			qsort(t, s->ntlsa, sizeof(*t), tlsa_cmp);
			for (i = 0; i < s->ntlsa; i++) {
				hdr[0] = t[i]->usage;
				hdr[1] = t[i]->selector;
				hdr[2] = t[i]->mtype;
				EVP_DigestUpdate(md, hdr, 3);
				for (j = 0; j < 8; j++)
					len[j] = (unsigned char)((uint64_t)t[i]->len >> (8 * j));
				EVP_DigestUpdate(md, len, 8);
				if (t[i]->len > 0)
					EVP_DigestUpdate(md, t[i]->data, t[i]->len);
			}
			free(t);
		}
	} else
		key_str(md, s->sni);
	EVP_DigestFinal_ex(md, key, &outlen);
	EVP_MD_CTX_free(md);
}

/* --- connections --- */

SSL *
tls_client_ssl_new(struct tls_client *tc, const struct tls_secctx *sec,
    const char *peer, struct dane_counts *counts, char *err, size_t errlen)
{
	struct tls_conn *c;
	struct tls_sess *e;
	char ebuf[TLS_ERR_MAX];
	SSL_SESSION *offer = NULL;
	SSL *ssl;
	long now;

	ERR_clear_error();
	if ((ssl = SSL_new(tc->ctx)) == NULL) {
		snprintf(err, errlen, "SSL_new: %s",
		    tls_error_text(ebuf, sizeof(ebuf), NULL));
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->tc = tc;
	c->level = sec->level;
	c->auth_required = sec->level == TLS_LEVEL_DANE && sec->auth_required;
	tls_secctx_key(sec, peer, c->key);
	if (SSL_set_ex_data(ssl, tls_conn_idx, c) != 1) {
		free(c);
		SSL_free(ssl);
		snprintf(err, errlen, "SSL_set_ex_data failed");
		return NULL;
	}
	SSL_set_connect_state(ssl);
	if (sec->level == TLS_LEVEL_DANE) {
		if (dane_ssl_arm(ssl, sec->base_domain, sec->ref_names,
		    sec->nref_names, sec->tlsa, sec->ntlsa, &c->counts, err,
		    errlen) == -1) {
			SSL_free(ssl);
			return NULL;
		}
		c->dane_used = c->counts.usable > 0;
		if (sec->auth_required && !c->dane_used) {
			/* The policy saw usable records, OpenSSL took none:
			 * fail closed, never "TLS without authentication". */
			snprintf(err, errlen, "OpenSSL accepted none of the "
			    "%u TLSA record%s the policy found usable",
			    c->counts.unusable, c->counts.unusable == 1 ? "" :
			    "s");
			SSL_free(ssl);
			return NULL;
		}
	} else if (sec->sni != NULL && *sec->sni != '\0' &&
	    SSL_set_tlsext_host_name(ssl, sec->sni) != 1) {
		snprintf(err, errlen, "SNI %s: %s", sec->sni,
		    tls_error_text(ebuf, sizeof(ebuf), NULL));
		SSL_free(ssl);
		return NULL;
	}
	if (counts != NULL)
		*counts = c->counts;
	if ((e = cache_find(tc, c->key)) != NULL) {
		now = (long)time(NULL);
		if (!SSL_SESSION_is_resumable(e->sess) ||
		    (long)SSL_SESSION_get_time(e->sess) +
		    (long)SSL_SESSION_get_timeout(e->sess) <= now)
			cache_remove(tc, e);
		else if ((offer = SSL_SESSION_dup(e->sess)) != NULL &&
		    SSL_set_session(ssl, offer) == 1) {
			c->offered = true;
			c->cached = e->dv;
			tc->st.offered++;
			lru_unlink(tc, e);
			lru_push(tc, e);
		} else
			ERR_clear_error();
		/*
		 * A copy is offered: OpenSSL makes the offered session
		 * single-use in TLS 1.3 (and unusable after an unclean
		 * close), while an OpenSSL or Postfix server does not
		 * mind a ticket coming back, and not every server sends a
		 * fresh one after resuming. So the cached ticket stays
		 * usable until the server stops taking it or sends a new one.
		 */
		SSL_SESSION_free(offer);
	}
	return ssl;
}

bool
tls_client_verify(SSL *ssl, struct tls_result *r)
{
	struct tls_conn *c = SSL_get_ex_data(ssl, tls_conn_idx);
	struct tls_sess *e;
	bool ok = true;

	memset(r, 0, sizeof(*r));
	r->dane.depth = -1;
	tls_describe(ssl, r->desc, sizeof(r->desc));
	r->resumed = SSL_session_reused(ssl) == 1;
	if (c == NULL) {
		dane_cert_subject(SSL_get0_peer_certificate(ssl),
		    r->dane.subject, sizeof(r->dane.subject));
		return true;
	}
	r->counts = c->counts;
	r->dane_used = c->dane_used;
	if (c->dane_used) {
		dane_ssl_verify(ssl, &r->dane);
		if (r->resumed && c->offered && r->dane.authenticated &&
		    r->dane.depth < 0)
			r->dane = c->cached;
		ok = r->dane.authenticated;
	} else {
		dane_cert_subject(SSL_get0_peer_certificate(ssl),
		    r->dane.subject, sizeof(r->dane.subject));
		if (c->auth_required) {
			/* cannot happen (tls_client_ssl_new refuses), but an
			 * authentication requirement never passes unmet */
			ok = false;
			r->dane.rpt = TLSRPT_TLSA_INVALID;
			str_copy(r->dane.reason, "no TLSA record could be "
			    "armed", sizeof(r->dane.reason));
		}
	}
	if (r->resumed)
		c->tc->st.resumed++;
	c->checked = true;
	c->ok = ok;
	if (!ok && c->offered && (e = cache_find(c->tc, c->key)) != NULL)
		cache_remove(c->tc, e);
	return ok;
}

void
tls_client_forget(struct tls_client *tc, const unsigned char key[TLS_KEY_LEN])
{
	struct tls_sess *e;

	if ((e = cache_find(tc, key)) != NULL)
		cache_remove(tc, e);
}

void
tls_client_stats(const struct tls_client *tc, struct tls_client_stats *st)
{
	*st = tc->st;
	st->entries = tc->n;
}
