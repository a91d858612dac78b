/*
 * tests/fuzz/fuzz_smtp_data.c - relay/smtp_data.c, the DATA decoder, on
 * hostile message streams. Input: 1 octet of chunk size, 2 of size limit,
 * then the stream that follows a DATA command. The stream is decoded
 * twice, whole and cut into chunks of the given size, and the header's
 * promise is checked: the end position, the error, the size and (for a
 * message judged OK; a refused one is discarded) the content never depend
 * on where the input was cut; the content is size octets, never more than
 * max_size, with no NUL and only CRLF line ends.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/smtp_data.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

struct run {
	int			 ended;
	size_t			 used;
	enum smtp_data_error	 error;
	uint64_t		 size;
	unsigned char		*out;
	size_t			 outlen, cap;
};

static void
collect(void *arg, const char *buf, size_t len)
{
	struct run *r = arg;

	if (r->outlen + len > r->cap) {
		r->cap = (r->outlen + len) * 2;
		r->out = realloc(r->out, r->cap);
		FUZZ_ASSERT(r->out != NULL);
	}
	memcpy(r->out + r->outlen, buf, len);
	r->outlen += len;
}

static void
decode(const uint8_t *in, size_t len, size_t chunk, uint64_t max,
    struct run *r)
{
	struct smtp_data d;
	size_t off = 0, used;

	memset(r, 0, sizeof(*r));
	smtp_data_init(&d, max);
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		int rv;

		rv = smtp_data_feed(&d, (const char *)in + off, n, &used,
		    collect, r);
		FUZZ_ASSERT(used <= n);
		off += used;
		if (rv == 1) {
			r->ended = 1;
			break;
		}
		FUZZ_ASSERT(used == n);
	}
	r->used = off;
	r->error = d.error;
	r->size = d.size;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, cut;
	size_t chunk, i;
	uint64_t max;

	if (size < 3)
		return -1;
	chunk = (size_t)data[0] % 64 + 1;
	max = ((uint64_t)data[1] << 8 | data[2]) * 4;	/* 0: no limit */
	data += 3;
	size -= 3;

	decode(data, size, size ? size : 1, max, &whole);
	decode(data, size, chunk, max, &cut);
	FUZZ_ASSERT(whole.ended == cut.ended);
	FUZZ_ASSERT(whole.used == cut.used);
	FUZZ_ASSERT(whole.error == cut.error);
	FUZZ_ASSERT(whole.size == cut.size);
	if (whole.error == SMTP_DATA_OK) {
		/* Content of a refused message is discarded: compare good ones. */
		FUZZ_ASSERT(whole.outlen == cut.outlen);
		FUZZ_ASSERT(whole.outlen == 0 ||
		    memcmp(whole.out, cut.out, whole.outlen) == 0);
		FUZZ_ASSERT(whole.outlen == whole.size);
		FUZZ_ASSERT(max == 0 || whole.outlen <= max);
		for (i = 0; i < whole.outlen; i++) {
			FUZZ_ASSERT(whole.out[i] != '\0');
			if (whole.out[i] == '\n')
				FUZZ_ASSERT(i > 0 && whole.out[i - 1] == '\r');
			if (whole.out[i] == '\r' && whole.ended)
				FUZZ_ASSERT(i + 1 < whole.outlen &&
				    whole.out[i + 1] == '\n');
		}
	} else {
		FUZZ_ASSERT(smtp_data_reply(whole.error) != NULL);
		FUZZ_ASSERT(smtp_data_reason(whole.error) != NULL);
	}
	free(whole.out);
	free(cut.out);
	return 0;
}
