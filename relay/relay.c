/*
 * relay/relay.c - configuration snapshots shared between main and the
 * sessions: a struct conf plus what is built from it once (the STARTTLS
 * SSL_CTX), freed when the last holder lets go.
 */
#include "relay/relay.h"
#include "conf/conf.h"
#include "relay/util.h"
#include "tls/tls.h"

#include <stdio.h>
#include <stdlib.h>

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
	rc->refs = 1;
	return rc;
}

struct relay_conf *
relay_conf_ref(struct relay_conf *rc)
{
	rc->refs++;
	return rc;
}

void
relay_conf_unref(struct relay_conf *rc)
{
	if (rc == NULL || --rc->refs > 0)
		return;
	SSL_CTX_free(rc->tls);
	conf_free(rc->conf);
	free(rc);
}
