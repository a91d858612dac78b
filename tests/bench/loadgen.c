/*
 * tests/bench/loadgen.c - the SMTP load generator of scripts/bench. Plain
 * SMTP over loopback to the relay under test (danerelay or Postfix), one
 * libevent loop, no threads.
 *
 *	loadgen -c ADDR:PORT -o FILE [-n SESSIONS] [-d DOMAINS] [-t SECONDS]
 *	    [-k PER_CONN] [-r RATE] [-s BYTES] [-D FMT] [-f SENDER]
 *
 * Long forms: --connect, --out, --sessions, --domains, --duration,
 * --in-per-conn, --rate, --size, --domain-format, --from, --idle, --ready.
 *
 *   -c ADDR:PORT  the relay's SMTP listener (IPv4)
 *   -o FILE       one line "SEQ NS" per message the relay accepted: the
 *                 message's number (also in its "X-Bench-Seq:" header, which
 *                 the sink's -A records on arrival) and the time the relay's
 *                 250 to the final "." was read (CLOCK_REALTIME, ns)
 *   -n SESSIONS   concurrent inbound sessions (10)
 *   -d DOMAINS    recipients rotate over DOMAINS destination domains (50)
 *   -D FMT        printf format of a destination domain from its number
 *                 1..DOMAINS ("d%u.bench.test")
 *   -t SECONDS    start new messages for SECONDS (10), then let each session
 *                 finish its message, QUIT and close
 *   -k PER_CONN   messages per connection before QUIT and a new connection
 *                 (0: unlimited, the default)
 *   -r RATE       open loop: start RATE messages per second on whichever
 *                 session is idle (a backlog waits for the next idle one);
 *                 0 (default): closed loop, every session sends its next
 *                 message as soon as the previous one is accepted
 *   -s BYTES      approximate message size (1024)
 *   -f SENDER     envelope sender (bench@sender.bench.test)
 *   -i            idle: every session connects, says EHLO and then sends
 *                 nothing until the end, when it QUITs (memory per session);
 *                 the end waits up to 32 s more for every session to be
 *                 ready, then 2 s with all of them
 *   -R FILE       write the number of sessions once all of them are ready
 *                 (past EHLO) at the same time
 *
 * Each message is sent with MAIL, RCPT and DATA in one pipelined group
 * (RFC 2920), then the content after the 354. A reply other than the
 * expected class counts as rejected and ends the connection (QUIT), after
 * which the session reconnects while the run lasts. At exit it prints
 * "key=value" lines on stdout: sessions, connections, sent, accepted,
 * rejected, errors, first_ns, last_ns (first and last 250), ready_max (the
 * most sessions past EHLO and between messages at one time), and exits 0
 * (1 on a usage or set-up error).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

enum lg_state {
	LG_CONNECTING,
	LG_GREETING,	/* waiting for 220 */
	LG_EHLO,	/* waiting for 250 to EHLO */
	LG_IDLE,	/* between messages */
	LG_ENVELOPE,	/* waiting for 250 250 354 */
	LG_CONTENT,	/* waiting for 250 to "." */
	LG_QUIT,	/* waiting for 221 or the close */
	LG_DOWN,	/* closed, maybe to reconnect */
};

struct lg_session {
	struct bufferevent	*bev;
	enum lg_state		 state;
	unsigned		 expect;	/* replies still due in ENVELOPE */
	int			 env_ok;
	unsigned long		 seq;		/* message in flight */
	unsigned		 on_conn;	/* messages started on this connection */
	struct event		*retry;
	int			 ready;		/* counted in ready_now */
	int			 opening;	/* counted in opening */
};

/* Sessions between connect() and the reply to EHLO, at most: a burst of
 * thousands would overflow the relay's listen backlog, and Linux then
 * leaves the client "connected" to a server that dropped the handshake. */
#define OPENING_MAX	128

static struct event_base	*base;
static struct sockaddr_in	 relay;
static struct lg_session	*sessions;
static unsigned			 nsessions = 10, ndomains = 50, per_conn;
static double			 duration = 10, rate;
static size_t			 msgsize = 1024;
static const char		*domain_fmt = "d%u.bench.test";
static const char		*sender = "bench@sender.bench.test";
static FILE			*out;
static int			 running = 1;
static unsigned long		 next_seq = 1, sent, accepted, rejected, errors,
				 connections;
static long long		 first_ns, last_ns;
static struct timespec		 t0;
static unsigned long		 rate_issued, backlog;
static struct event		*ev_stop, *ev_rate, *ev_hard;
static int			 idle;
static const char		*ready_path;
static unsigned long		 ready_now, ready_max;
static unsigned			 opening, next_open;
static char			*body;
static size_t			 bodylen;

static void	session_connect(struct lg_session *);
static void	open_more(void);
static void	session_next(struct lg_session *);

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen -c ADDR:PORT -o FILE [-n SESSIONS] "
	    "[-d DOMAINS] [-t SECONDS] [-k PER_CONN] [-r RATE] [-s BYTES] "
	    "[-D FMT] [-f SENDER] [-i] [-R FILE]\n");
	exit(1);
}

static int
all_down(void)
{
	unsigned i;

	for (i = 0; i < nsessions; i++)
		if (sessions[i].state != LG_DOWN)
			return 0;
	return 1;
}

static void
opened(struct lg_session *s)
{
	if (s->opening) {
		s->opening = 0;
		opening--;
		open_more();
	}
}

static void
session_close(struct lg_session *s)
{
	opened(s);
	if (s->ready) {
		s->ready = 0;
		ready_now--;
	}
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	s->bev = NULL;
	s->state = LG_DOWN;
	if (!running) {
		if (all_down())
			event_base_loopexit(base, NULL);
		return;
	}
	/* reconnect at once after a clean QUIT, a little later after an
	 * error (a refused connection must not spin) */
	struct timeval tv = { 0, s->on_conn > 0 ? 0 : 100000 };
	evtimer_add(s->retry, &tv);
}

static void
session_quit(struct lg_session *s)
{
	s->state = LG_QUIT;
	evbuffer_add(bufferevent_get_output(s->bev), "QUIT\r\n", 6);
}

static void
session_error(struct lg_session *s)
{
	errors++;
	session_close(s);
}

/* The per-session body is shared; only the header differs. */
static void
message_start(struct lg_session *s)
{
	struct evbuffer	*o = bufferevent_get_output(s->bev);
	unsigned	 d;

	s->seq = next_seq++;
	s->on_conn++;
	s->state = LG_ENVELOPE;
	s->expect = 3;
	s->env_ok = 1;
	d = (unsigned)((s->seq - 1) % ndomains) + 1;
	evbuffer_add_printf(o, "MAIL FROM:<%s>\r\nRCPT TO:<u%lu@", sender,
	    s->seq);
	evbuffer_add_printf(o, domain_fmt, d);
	evbuffer_add_printf(o, ">\r\nDATA\r\n");
	sent++;
}

static void
message_content(struct lg_session *s)
{
	struct evbuffer	*o = bufferevent_get_output(s->bev);
	unsigned	 d = (unsigned)((s->seq - 1) % ndomains) + 1;

	evbuffer_add_printf(o, "From: <%s>\r\nTo: <u%lu@", sender, s->seq);
	evbuffer_add_printf(o, domain_fmt, d);
	evbuffer_add_printf(o, ">\r\nSubject: bench %lu\r\n"
	    "Message-ID: <%lu.%lld@loadgen.bench.test>\r\n"
	    "X-Bench-Seq: %lu\r\n\r\n", s->seq, s->seq, (long long)t0.tv_sec,
	    s->seq);
	evbuffer_add(o, body, bodylen);
	evbuffer_add(o, ".\r\n", 3);
	s->state = LG_CONTENT;
}

/* Open loop: is a message due that no session has taken yet? */
static int
rate_take(void)
{
	if (backlog == 0)
		return 0;
	backlog--;
	return 1;
}

/* -i: one more session sits idle; once all do, say so (-R). */
static void
idle_ready(struct lg_session *s)
{
	FILE *f;

	if (s->ready)
		return;
	s->ready = 1;
	if (++ready_now > ready_max)
		ready_max = ready_now;
	if (ready_now != nsessions || ready_path == NULL)
		return;
	if ((f = fopen(ready_path, "w")) == NULL ||
	    fprintf(f, "%lu\n", ready_now) < 0 || fclose(f) != 0)
		fprintf(stderr, "loadgen: %s: %s\n", ready_path, strerror(errno));
}

static void
session_next(struct lg_session *s)
{
	s->state = LG_IDLE;
	if (!running) {
		session_quit(s);
		return;
	}
	if (idle) {
		idle_ready(s);
		return;
	}
	if (per_conn > 0 && s->on_conn >= per_conn) {
		session_quit(s);
		return;
	}
	if (rate > 0 && !rate_take())
		return;		/* the rate timer wakes it */
	message_start(s);
}

static void
reply(struct lg_session *s, const char *line)
{
	int code = atoi(line);

	switch (s->state) {
	case LG_GREETING:
		if (code != 220) {
			session_error(s);
			return;
		}
		s->state = LG_EHLO;
		evbuffer_add_printf(bufferevent_get_output(s->bev),
		    "EHLO loadgen.bench.test\r\n");
		return;
	case LG_EHLO:
		if (code != 250) {
			session_error(s);
			return;
		}
		opened(s);
		session_next(s);
		return;
	case LG_ENVELOPE:
		s->expect--;
		if (s->expect > 0 ? code != 250 : code != 354)
			s->env_ok = 0;
		if (s->expect > 0)
			return;
		if (!s->env_ok) {
			/* DATA may have been answered 354 anyway: end it */
			if (code == 354) {
				evbuffer_add(bufferevent_get_output(s->bev),
				    ".\r\n", 3);
				s->state = LG_CONTENT;
				s->env_ok = 0;
				return;
			}
			rejected++;
			session_quit(s);
			return;
		}
		message_content(s);
		return;
	case LG_CONTENT:
		if (code == 250 && s->env_ok) {
			long long t = now_ns();

			if (first_ns == 0)
				first_ns = t;
			last_ns = t;
			accepted++;
			fprintf(out, "%lu %lld\n", s->seq, t);
			session_next(s);
			return;
		}
		rejected++;
		session_quit(s);
		return;
	case LG_QUIT:
		session_close(s);
		return;
	default:
		session_error(s);
		return;
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct lg_session	*s = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	char			*line;
	size_t			 n;

	while (s->bev != NULL &&
	    (line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		/* the last line of a reply: "NNN " or just "NNN" */
		if (n >= 3 && (n == 3 || line[3] == ' '))
			reply(s, line);
		free(line);
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct lg_session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;

		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY,
		    &one, sizeof(one));
		connections++;
		s->state = LG_GREETING;
		return;
	}
	if (s->state == LG_QUIT) {
		session_close(s);
		return;
	}
	if (s->state == LG_ENVELOPE || s->state == LG_CONTENT)
		rejected++;	/* the message in flight is lost to us */
	session_error(s);
}

static void
open_more(void)
{
	while (running && opening < OPENING_MAX && next_open < nsessions)
		session_connect(&sessions[next_open++]);
}

static void
session_connect(struct lg_session *s)
{
	s->on_conn = 0;
	s->opening = 1;
	opening++;
	s->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		fprintf(stderr, "loadgen: bufferevent_socket_new failed\n");
		exit(1);
	}
	bufferevent_setcb(s->bev, read_cb, NULL, event_cb, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->state = LG_CONNECTING;
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&relay,
	    sizeof(relay)) == -1)
		session_error(s);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lg_session *s = arg;

	if (running)
		session_connect(s);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	static unsigned	extended;
	unsigned	i;

	/* -i: the point is every session at once; give the slow connects
	 * (a full listen backlog retries SYNs after 1, 3, 7 s) up to 30 s
	 * more, then hold them 2 s */
	if (idle && extended < 64 && (ready_now < nsessions || extended == 0)) {
		struct timeval tv = { 0, 500000 };

		if (ready_now == nsessions)
			tv.tv_sec = 2, tv.tv_usec = 0, extended = 64;
		else
			extended++;
		evtimer_add(ev_stop, &tv);
		return;
	}
	running = 0;
	if (ev_rate != NULL)
		event_del(ev_rate);
	for (i = 0; i < nsessions; i++) {
		struct lg_session *s = &sessions[i];

		evtimer_del(s->retry);
		if (s->state == LG_IDLE)
			session_quit(s);
		else if (s->state == LG_CONNECTING || s->state == LG_GREETING ||
		    s->state == LG_EHLO) {
			bufferevent_free(s->bev);
			s->bev = NULL;
			s->state = LG_DOWN;
		}
	}
	if (all_down())
		event_base_loopexit(base, NULL);
}

static void
hard_cb(evutil_socket_t fd, short what, void *arg)
{
	fprintf(stderr, "loadgen: sessions still open 60 s after the end\n");
	event_base_loopexit(base, NULL);
}

/* Open loop: every 2 ms, the messages due since the start go to idle
 * sessions; what finds none waits in the backlog. */
static void
rate_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timespec	 ts;
	double		 el;
	unsigned long	 due;
	unsigned	 i;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	el = (double)(ts.tv_sec - t0.tv_sec) +
	    (double)(ts.tv_nsec - t0.tv_nsec) / 1e9;
	due = (unsigned long)(el * rate);
	if (due > rate_issued) {
		backlog += due - rate_issued;
		rate_issued = due;
	}
	for (i = 0; i < nsessions && backlog > 0; i++)
		if (sessions[i].state == LG_IDLE)
			session_next(&sessions[i]);
}

static void
parse_addr(const char *arg)
{
	char		 host[64];
	const char	*c = strrchr(arg, ':');

	if (c == NULL || (size_t)(c - arg) >= sizeof(host))
		usage();
	memcpy(host, arg, c - arg);
	host[c - arg] = '\0';
	memset(&relay, 0, sizeof(relay));
	relay.sin_family = AF_INET;
	relay.sin_port = htons((unsigned short)atoi(c + 1));
	if (inet_pton(AF_INET, host, &relay.sin_addr) != 1)
		usage();
}

int
main(int argc, char *argv[])
{
	const char	*outpath = NULL;
	struct rlimit	 rl;
	struct timeval	 tv;
	size_t		 i;
	int		 ch;

	static const struct option longopts[] = {
		{ "connect",		required_argument, NULL, 'c' },
		{ "out",		required_argument, NULL, 'o' },
		{ "sessions",		required_argument, NULL, 'n' },
		{ "domains",		required_argument, NULL, 'd' },
		{ "duration",		required_argument, NULL, 't' },
		{ "in-per-conn",	required_argument, NULL, 'k' },
		{ "rate",		required_argument, NULL, 'r' },
		{ "size",		required_argument, NULL, 's' },
		{ "domain-format",	required_argument, NULL, 'D' },
		{ "from",		required_argument, NULL, 'f' },
		{ "idle",		no_argument,	   NULL, 'i' },
		{ "ready",		required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 }
	};

	while ((ch = getopt_long(argc, argv, "c:o:n:d:t:k:r:s:D:f:iR:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c': parse_addr(optarg); break;
		case 'o': outpath = optarg; break;
		case 'n': nsessions = (unsigned)atoi(optarg); break;
		case 'd': ndomains = (unsigned)atoi(optarg); break;
		case 't': duration = atof(optarg); break;
		case 'k': per_conn = (unsigned)atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 's': msgsize = (size_t)atol(optarg); break;
		case 'D': domain_fmt = optarg; break;
		case 'f': sender = optarg; break;
		case 'i': idle = 1; break;
		case 'R': ready_path = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || outpath == NULL || relay.sin_port == 0 ||
	    nsessions == 0 || ndomains == 0 || duration <= 0 || rate < 0)
		usage();
	/* -i with thousands of sessions: every descriptor the hard limit
	 * allows */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((out = fopen(outpath, "w")) == NULL) {
		fprintf(stderr, "loadgen: %s: %s\n", outpath, strerror(errno));
		return 1;
	}
	/* the content: 72-character lines up to about -s bytes (the header
	 * adds some 200) */
	bodylen = msgsize > 300 ? msgsize - 200 : 100;
	bodylen -= bodylen % 74;
	if ((body = malloc(bodylen + 1)) == NULL)
		return 1;
	for (i = 0; i < bodylen; i++)
		body[i] = i % 74 == 72 ? '\r' : i % 74 == 73 ? '\n' :
		    (char)('a' + (i / 74 + i) % 26);
	if ((base = event_base_new()) == NULL ||
	    (sessions = calloc(nsessions, sizeof(*sessions))) == NULL)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nsessions; i++) {
		sessions[i].retry = evtimer_new(base, retry_cb, &sessions[i]);
		sessions[i].state = LG_DOWN;
	}
	open_more();
	ev_stop = evtimer_new(base, stop_cb, NULL);
	tv.tv_sec = (time_t)duration;
	tv.tv_usec = (suseconds_t)((duration - (double)tv.tv_sec) * 1e6);
	evtimer_add(ev_stop, &tv);
	ev_hard = evtimer_new(base, hard_cb, NULL);
	tv.tv_sec += 60;
	evtimer_add(ev_hard, &tv);
	if (rate > 0) {
		struct timeval iv = { 0, 2000 };

		ev_rate = event_new(base, -1, EV_PERSIST, rate_cb, NULL);
		event_add(ev_rate, &iv);
	}
	event_base_dispatch(base);

	for (i = 0; i < nsessions; i++) {
		if (sessions[i].bev != NULL)
			bufferevent_free(sessions[i].bev);
		event_free(sessions[i].retry);
	}
	if (ev_rate != NULL)
		event_free(ev_rate);
	event_free(ev_stop);
	event_free(ev_hard);
	event_base_free(base);
	free(sessions);
	free(body);
	if (fclose(out) != 0) {
		fprintf(stderr, "loadgen: %s: %s\n", outpath, strerror(errno));
		return 1;
	}
	printf("sessions=%u\nconnections=%lu\nsent=%lu\naccepted=%lu\n"
	    "rejected=%lu\nerrors=%lu\nfirst_ns=%lld\nlast_ns=%lld\n"
	    "ready_max=%lu\n", nsessions, connections, sent, accepted, rejected,
	    errors, first_ns, last_ns, ready_max);
	return 0;
}
