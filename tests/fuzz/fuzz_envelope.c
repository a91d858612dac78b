/*
 * tests/fuzz/fuzz_envelope.c - the spool's decoders (queue/envelope.c) on
 * hostile files: a spool can be damaged by a crash, a full disk or an
 * operator, and its text holds peer-supplied addresses. Input: 1 octet of
 * mode, then the file.
 *  mode even: envelope_decode(); a decoded envelope must encode back to
 *	the very octets it was read from (the decoder accepts nothing the
 *	encoder cannot produce), and what follows it is applied as a journal.
 *  mode odd: journal_apply() of the whole input to a 3-recipient envelope;
 *	every applied record must encode back to a line journal_apply()
 *	takes again.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "queue/envelope.h"
#include "relay/util.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

static void
check_journal(struct queue_envelope *env, const char *buf, size_t len)
{
	struct journal_result res;
	size_t i;

	journal_apply(env, buf, len, &res);
	FUZZ_ASSERT(res.good_len <= len);
	FUZZ_ASSERT(res.torn == (res.good_len < len));
	for (i = 0; i < env->nrcpts; i++) {
		struct queue_rcpt *rc = &env->rcpts[i], before = *rc;
		struct journal_rec rec;
		struct journal_result res2;
		char *line;
		size_t n;

		if (rc->last_error != NULL)
			FUZZ_ASSERT(*rc->last_error != '\0');
		memset(&rec, 0, sizeof(rec));
		rec.idx = i;
		rec.state = rc->state;
		rec.attempts = rc->attempts;
		rec.next_attempt = rc->next_attempt;
		rec.error = rc->last_error;
		line = journal_encode(&rec, &n);
		FUZZ_ASSERT(n > 0 && line[n - 1] == '\n');
		rc->last_error = rc->last_error ? xstrdup(rc->last_error) : NULL;
		journal_apply(env, line, n, &res2);
		FUZZ_ASSERT(res2.applied == 1 && res2.bad == 0 && !res2.torn);
		FUZZ_ASSERT(rc->state == before.state &&
		    rc->attempts == before.attempts &&
		    rc->next_attempt == before.next_attempt);
		FUZZ_ASSERT((rc->last_error == NULL) ==
		    (before.last_error == NULL));
		if (rc->last_error != NULL)
			FUZZ_ASSERT(strcmp(rc->last_error,
			    before.last_error) == 0);
		free(before.last_error);
		free(line);
	}
}

static void
fuzz_envelope(const char *buf, size_t len)
{
	struct queue_envelope *env = NULL, *env2 = NULL;
	char err[256], *enc;
	size_t hdrlen = 0, enclen, hdrlen2 = 0, off;
	int rv;

	rv = envelope_decode(buf, len, &env, &hdrlen, err, sizeof(err));
	if (rv != 1)
		return;
	FUZZ_ASSERT(hdrlen <= len && env->nrcpts > 0);
	enc = envelope_encode(env, &enclen, &off);
	FUZZ_ASSERT(off + ENVELOPE_SIZE_WIDTH <= enclen);
	FUZZ_ASSERT(envelope_decode(enc, enclen, &env2, &hdrlen2, err,
	    sizeof(err)) == 1);
	FUZZ_ASSERT(hdrlen2 == enclen);
	/* Canonical: the decoder took exactly what the encoder writes. */
	FUZZ_ASSERT(enclen == hdrlen && memcmp(enc, buf, hdrlen) == 0);
	check_journal(env, buf + hdrlen, len - hdrlen);
	free(enc);
	queue_envelope_free(env);
	queue_envelope_free(env2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_envelope *env;
	char *e;
	size_t i;

	if (size < 1)
		return -1;
	if (data[0] % 2 == 0) {
		fuzz_envelope((const char *)data + 1, size - 1);
		return 0;
	}
	env = xcalloc(1, sizeof(*env));
	env->sender = xstrdup("s@example.org");
	env->nrcpts = 3;
	env->rcpts = xcalloc(env->nrcpts, sizeof(*env->rcpts));
	for (i = 0; i < env->nrcpts; i++)
		env->rcpts[i].addr = xstrdup("r@example.org");
	check_journal(env, (const char *)data + 1, size - 1);
	queue_envelope_free(env);
	/* And every value escaping, alone. */
	if ((e = envelope_unescape((const char *)data + 1, size - 1)) != NULL)
		free(e);
	return 0;
}
