/*
 * relay/relay.c - configuration snapshots shared between main and the
 * sessions: a struct conf plus what is built from it once (the STARTTLS
 * SSL_CTX), freed when the last holder lets go.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/relay.h"
#include "conf/conf.h"
#include "relay/log.h"
#include "relay/privsep.h"
#include "relay/util.h"
#include "tls/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct relay_conf *
relay_conf_new(struct conf *conf, char *err, size_t errlen)
{
	struct relay_conf *rc;
	SSL_CTX *tls = NULL;

	if (conf->tls_cert_file != NULL && conf->tls_key_file != NULL) {
		char e[400];

		tls = tls_server_ctx_new(conf->tls_cert_file,
		    conf->tls_key_file, e, sizeof(e));
		if (tls == NULL) {
			snprintf(err, errlen, "tls_cert_file/tls_key_file: %s", e);
			conf_free(conf);
			return NULL;
		}
	}
	rc = xcalloc(1, sizeof(*rc));
	rc->conf = conf;
	rc->tls = tls;
	atomic_init(&rc->refs, 1);
	return rc;
}

static bool
same_path(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

struct relay_conf *
relay_conf_reload(struct conf *conf, const struct relay_conf *cur, char *err,
    size_t errlen)
{
	struct relay_conf *rc;
	const struct conf *old = cur->conf;

	/*
	 * After the privilege drop a root-only key cannot be read again:
	 * keep the STARTTLS context built at start if the files are the same
	 * ones and only permission stops us (a readable key is re-read, so a
	 * renewed certificate the user may read is picked up).
	 */
	if (privsep_dropped() && cur->tls != NULL &&
	    same_path(conf->tls_cert_file, old->tls_cert_file) &&
	    same_path(conf->tls_key_file, old->tls_key_file) &&
	    (access(conf->tls_key_file, R_OK) == -1 ||
	    access(conf->tls_cert_file, R_OK) == -1) && errno == EACCES) {
		log_warnx(NULL, "tls_cert_file/tls_key_file: cannot re-read "
		    "%s as the unprivileged user (%s): keeping the ones loaded "
		    "at start", conf->tls_key_file, strerror(EACCES));
		rc = xcalloc(1, sizeof(*rc));
		rc->conf = conf;
		SSL_CTX_up_ref(cur->tls);
		rc->tls = cur->tls;
		atomic_init(&rc->refs, 1);
		return rc;
	}
	return relay_conf_new(conf, err, errlen);
}

struct relay_conf *
relay_conf_ref(struct relay_conf *rc)
{
	atomic_fetch_add_explicit(&rc->refs, 1, memory_order_relaxed);
	return rc;
}

void
relay_conf_unref(struct relay_conf *rc)
{
	/* the last holder, on whichever loop, frees: release/acquire so that
	 * it sees every use the other thread made before letting go */
	if (rc == NULL || atomic_fetch_sub_explicit(&rc->refs, 1,
	    memory_order_acq_rel) != 1)
		return;
	SSL_CTX_free(rc->tls);
	conf_free(rc->conf);
	free(rc);
}
