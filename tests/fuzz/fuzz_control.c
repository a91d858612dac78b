/*
 * tests/fuzz/fuzz_control.c - the control socket's request reader
 * (relay/control.c conn_read(), split(), conn_answer() and the
 * CONTROL_LATER life cycle) on what a local client may send, and the
 * queue tool's copy of the daemon's answer to the operator's terminal
 * (write_safe()). The reader is static and works on the server's own
 * structs, so this file includes control.c (its other functions then come
 * from here, not from libdanerelay.a). The connection is a real libevent
 * bufferevent pair on a real event base: the server's end is set up as
 * control_accept() sets up a socket's, the client's end receives the
 * answer.
 *
 * Input: 1 octet of mode (bits 0-1: the handler answers OK, ERR, later
 * OK, or later after the client has gone; bits 2-7: the size of the reads
 * the input arrives in), then the bytes the client sends.
 * Checked: the handler sees 1..CONTROL_ARGS_MAX words, each non-empty,
 * without space or control octet, inside one line of at most
 * CONTROL_LINE_MAX octets; a request is never left unanswered while its
 * input reached the read watermark (it would hang until the timeout); the
 * answer is "OK\n" or "ERR TEXT\n" (one line) and then the body; every log
 * line the request causes is printable (the request is logged escaped);
 * and the terminal copy of any answer holds no control octet but LF and
 * TAB.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/control.c"
#include "tests/fuzz/fuzz.h"

#include <fcntl.h>
#include <sys/mman.h>

#define WATERMARK	(CONTROL_LINE_MAX + 2)	/* as control_accept() sets */

static struct event_base *base;
static int logfd = -1, outfd = -1;
static char logdir[] = "/tmp/fuzz_control.XXXXXX", logpath[64];

/* What the handler saw and does. */
static struct {
	int			 mode;
	int			 calls;
	const uint8_t		*in;
	size_t			 inlen;
	struct control_req	*later;
} h;

static void
remove_log(void)
{
	unlink(logpath);
	rmdir(logdir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256] = "";

	(void)argc;
	(void)argv;
	/* a real file: log_open() follows no link, /proc/self/fd/N included */
	if (mkdtemp(logdir) == NULL)
		abort();
	snprintf(logpath, sizeof(logpath), "%s/log", logdir);
	if (log_open(logpath, err, sizeof(err)) == -1 ||
	    (logfd = open(logpath, O_RDWR)) == -1 ||
	    (outfd = memfd_create("fuzz_control_out", 0)) == -1 ||
	    (base = event_base_new()) == NULL) {
		fprintf(stderr, "fuzz_control: %s\n", err);
		abort();
	}
	atexit(remove_log);
	return 0;
}

static int
handler(struct control_req *req, int argc, char **argv, void *arg)
{
	struct evbuffer *body = control_req_body(req);
	int i;

	(void)arg;
	h.calls++;
	FUZZ_ASSERT(h.calls == 1);
	FUZZ_ASSERT(argc >= 1 && argc <= CONTROL_ARGS_MAX);
	FUZZ_ASSERT(body != NULL);
	for (i = 0; i < argc; i++) {
		const unsigned char *p = (const unsigned char *)argv[i];
		size_t n = strlen(argv[i]);

		FUZZ_ASSERT(n > 0 && n <= CONTROL_LINE_MAX);
		/* a word of the request, not something after its line */
		FUZZ_ASSERT(memmem(h.in, h.inlen, argv[i], n) != NULL);
		for (; *p != '\0'; p++)
			FUZZ_ASSERT(*p > 0x20 && *p != 0x7f);
		/* peer text back in the body, as queue_ctl.c never does raw */
		evbuffer_add_printf(body, "%s\n", argv[i]);
	}
	switch (h.mode) {
	case 0:
		return 0;
	case 1:
		control_req_error(req, "no: %.64s", argv[0]);
		return -1;
	default:
		h.later = req;
		return CONTROL_LATER;
	}
}

/* The log holds only printable lines. */
static void
check_log(void)
{
	unsigned char buf[65536];
	ssize_t n, i;

	log_flush();
	n = pread(logfd, buf, sizeof(buf), 0);
	FUZZ_ASSERT(n >= 0);
	for (i = 0; i < n; i++)
		FUZZ_ASSERT(buf[i] == '\n' || (buf[i] >= 0x20 &&
		    buf[i] != 0x7f));
	FUZZ_ASSERT(n == 0 || buf[n - 1] == '\n');
	if (ftruncate(logfd, 0) == -1)
		abort();
}

/* "OK\n" or "ERR TEXT\n", then the body. */
static void
check_answer(struct evbuffer *ans)
{
	size_t len = evbuffer_get_length(ans), hl;
	char *a = (char *)evbuffer_pullup(ans, -1), *nl;

	if (len == 0)
		return;		/* the client went away first */
	FUZZ_ASSERT((nl = memchr(a, '\n', len)) != NULL);
	hl = (size_t)(nl - a);
	FUZZ_ASSERT((hl == 2 && memcmp(a, "OK", 2) == 0) ||
	    (hl > 4 && memcmp(a, "ERR ", 4) == 0));
	FUZZ_ASSERT(memchr(a, '\0', hl) == NULL);
}

/* The queue tool's copy to the terminal: nothing but LF and TAB below 0x20. */
static void
check_terminal(const uint8_t *data, size_t size)
{
	unsigned char buf[16384];
	FILE *f;
	long n, i;

	if (ftruncate(outfd, 0) == -1 || lseek(outfd, 0, SEEK_SET) == -1 ||
	    (f = fdopen(dup(outfd), "w+")) == NULL)
		abort();
	write_safe(f, (const char *)data, size);
	fflush(f);
	n = ftell(f);
	FUZZ_ASSERT(n == (long)size);		/* one octet for one */
	rewind(f);
	n = (long)fread(buf, 1, sizeof(buf), f);
	for (i = 0; i < n; i++)
		FUZZ_ASSERT(buf[i] >= 0x20 ? buf[i] != 0x7f :
		    buf[i] == '\n' || buf[i] == '\t');
	fclose(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control c;
	struct control_conn *k;
	struct bufferevent *pair[2];
	size_t chunk, off, n;
	bool gone = false;

	if (size < 1)
		return -1;
	memset(&h, 0, sizeof(h));
	h.mode = data[0] & 3;
	chunk = (size_t)(data[0] >> 2) * 67 + 1;
	h.in = data + 1;
	h.inlen = size - 1;

	memset(&c, 0, sizeof(c));
	c.base = base;
	c.handler = handler;
	if (bufferevent_pair_new(base, 0, pair) == -1)
		abort();
	/* the server's end, as control_accept() makes it */
	k = xcalloc(1, sizeof(*k));
	k->peer.uid = 1000;
	k->bev = pair[0];
	k->c = &c;
	k->prevp = &c.conns;
	c.conns = k;
	c.nconns = 1;
	bufferevent_setcb(k->bev, conn_read, conn_write_done, conn_event, k);
	bufferevent_setwatermark(k->bev, EV_READ, 0, WATERMARK);
	bufferevent_enable(k->bev, EV_READ);
	bufferevent_enable(pair[1], EV_READ);

	/*
	 * The request arrives in writes of chunk octets; the pair moves them
	 * to the server's input up to its read watermark, as a socket would.
	 */
	for (off = 1; off < size && c.conns != NULL && !k->answered &&
	    !k->pending; off += n) {
		n = size - off < chunk ? size - off : chunk;
		if (bufferevent_write(pair[1], data + off, n) == -1)
			abort();
		event_base_loop(base, EVLOOP_NONBLOCK);
		/* still reading: the input must not have stalled */
		if (c.conns != NULL && !k->answered && !k->pending)
			FUZZ_ASSERT(evbuffer_get_length(
			    bufferevent_get_input(k->bev)) < WATERMARK);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);

	if (h.later != NULL) {
		FUZZ_ASSERT(h.mode >= 2 && k->pending);
		if (h.mode == 3) {
			/* the client hangs up while the answer is pending */
			conn_event(k->bev, BEV_EVENT_EOF, k);
			bufferevent_free(pair[1]);
			gone = true;
		}
		control_req_done(h.later, 0);
		event_base_loop(base, EVLOOP_NONBLOCK);
	} else if (c.conns != NULL && !k->answered) {
		/* no full request: the client closes, the server lets go */
		conn_event(k->bev, BEV_EVENT_EOF, k);
	}
	FUZZ_ASSERT(c.conns == NULL && c.nconns == 0);
	if (!gone) {
		check_answer(bufferevent_get_input(pair[1]));
		bufferevent_free(pair[1]);
	}
	check_log();
	check_terminal(data + 1, size - 1);
	return 0;
}
