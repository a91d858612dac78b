/*
 * tests/sink/sink.c - a small, fast, TLS-capable SMTP receiving server for
 * the end-to-end tests and benchmarks of danerelay. This file is the
 * process shell: options, listeners, the TLS context, the stats file, the
 * pid file, signals and logging. The SMTP dialogue lives in sink_smtp.c.
 * One libevent loop, no threads, no fsync; SIGTERM/SIGINT close every
 * session, flush the stats and exit 0.
 *
 * usage: sink -l ADDR:PORT [-l ...] [-c CERT [-k KEY]]... [-n] [-P] [-8] [-U]
 *             [-b REPLY] [-e REPLY] [-m REPLY] [-d REPLY] [-r RULES]
 *             [-D DIR] [-s STATS] [-p PIDFILE] [-x SECS] [-H NAME]
 *             [-S BYTES] [-T SECS] [-V 1.2|1.3] [-q] [-w MS] [-E FILE]
 *             [-A FILE]
 *   -l ADDR:PORT  listen there (IPv4 "127.0.0.5:25" or IPv6 "[::1]:25");
 *                 may be repeated
 *   -c CERT       certificate chain (PEM) offered with STARTTLS; may be
 *                 repeated (e.g. an RSA and an ECDSA chain)
 *   -k KEY        private key of the last -c (default: the -c file itself)
 *   -n            do not offer STARTTLS even with a certificate
 *   -P            do not offer PIPELINING, and answer a client that
 *                 pipelines anyway with "554 5.5.0 SMTP synchronization
 *                 error" (counted as sync_errors)
 *   -8            do not offer 8BITMIME (BODY=8BITMIME is refused)
 *   -U            do not offer SMTPUTF8 (SMTPUTF8 and non-ASCII addresses
 *                 are refused)
 *   -b REPLY      banner instead of "220 HOST ESMTP": a 421 banner closes
 *                 the connection, any other non-2xx banner answers 503 to
 *                 every command but QUIT (RFC 5321 3.1)
 *   -e REPLY      reply to EHLO (e.g. "502 5.5.1 no EHLO" forces HELO)
 *   -m REPLY      reply to MAIL FROM;  -d REPLY: reply to the final "."
 *   -r FILE       per-recipient rules, one "PATTERN REPLY" a line; PATTERN
 *                 is a case-insensitive substring of the address or "*";
 *                 first match wins; '#' starts a comment; SIGHUP rereads
 *   -D DIR        write each accepted message to DIR/NNNNNNNN.msg (created
 *                 as DIR/.NNNNNNNN.tmp, then renamed): envelope lines
 *                 "session: ID", "transaction: N" (its number on that
 *                 connection), "client: ADDR:PORT", "server: ADDR:PORT",
 *                 "helo: NAME", "proto: SMTP|ESMTP", "tls: VERSION CIPHER"
 *                 or "tls: plain", "tls_resumed: yes|no" (TLS only),
 *                 "sni: NAME" or "sni: -", "mail from: <ADDR> PARAMS",
 *                 "rcpt to: <ADDR> PARAMS" per accepted recipient, then an
 *                 empty line and the dot-unstuffed content with LF endings
 *   -s FILE       stats "NAME=N" lines, replaced by rename (FILE.0/FILE.1
 *                 hold the two inodes, see sink_stats_write()) before the
 *                 client can see the reply that follows a change (at most
 *                 once per loop pass), and at exit: connections,
 *                 tls, tls_resumed, tls_failed, messages, recipients,
 *                 rcpt_rejected, rsets, sync_errors, busy_peak (the most
 *                 sessions inside a transaction at one moment: from an
 *                 accepted MAIL to the reply that ends it, to RSET, or to
 *                 the end of the session)
 *   -p FILE       pid file, written once every listener is bound (so a test
 *                 can wait for it without connecting), removed at exit
 *   -x SECS       exit 0 after SECS seconds without any connection
 *   -H NAME       host name in the banner and EHLO reply (sink.test)
 *   -S BYTES      SIZE limit (52428800)
 *   -T SECS       idle timeout per connection (300)
 *   -V 1.2|1.3    highest TLS version offered (1.3); the lowest is 1.2
 *   -q            quiet: no per-event log lines, only warnings
 *   -w MS         wait MS milliseconds before the reply to the final "."
 *                 (reading stops meanwhile), so that transactions last
 *                 long enough for a test to see how many overlap
 *   -E FILE       append "+ ADDR:PORT PID#SESSION" when a transaction
 *                 starts and "- ADDR:PORT PID#SESSION" when it ends (before
 *                 the client can see the reply that ends it), one write()
 *                 per line with O_APPEND: sinks sharing FILE record one
 *                 order of events, from which a test computes the peak of
 *                 concurrent transactions per server address and in all.
 *                 Each transaction lies inside the client's attempt, so
 *                 an overlap seen here is an overlap at the client
 *   -A FILE       append "SEQ NS tls|plain" per accepted message for
 *                 scripts/bench: SEQ from its "X-Bench-Seq:" header (0 if
 *                 none), NS its arrival (CLOCK_REALTIME in nanoseconds,
 *                 taken before the 250 is queued); buffered, flushed every
 *                 200 ms and at exit
 * Logs go to stderr, one line per event: connect, helo, starttls, tls
 * established (version, cipher, SNI, resumption) or failed, mail, rcpt,
 * data done, rset, quit, disconnect.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tests/sink/sink.h"

#define SINK_LISTEN_MAX	256
#define SINK_CERT_MAX	8

struct sink_conf	 sink_conf;
struct sink_stats	 sink_stats;

static struct event_base	*sink_base;
static struct evconnlistener	*sink_listeners[SINK_LISTEN_MAX];
static size_t			 sink_nlisteners;
static struct event		*sink_ev_relisten;	/* after EMFILE */
static struct event		*sink_ev_idle;		/* -x */
static struct event		*sink_ev_stats;		/* flush, priority 0 */
static int			 sink_stats_dirty;
static const char		*sink_stats_path;
static const char		*sink_pid_path;
static const char		*sink_rules_path;
static int			 sink_idle_secs;
static int			 sink_exit_status;
static int			 sink_events_fd = -1;	/* -E */
static struct event		*sink_ev_arrivals;	/* -A flush timer */

static void
sink_vlog(const char *fmt, va_list ap)
{
	char		 buf[1024];
	struct timespec	 ts;
	struct tm	 tm;
	int		 n, m;

	/* a test that saw a log line may read the stats next */
	sink_stats_flush();
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03ld sink[%ld]: ",
	    tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
	    (long)getpid());
	m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	if ((size_t)(n + m) > sizeof(buf) - 2)
		m = sizeof(buf) - 2 - n;
	buf[n + m] = '\n';
	/* one write per line: several sinks may share a log file */
	if (write(STDERR_FILENO, buf, n + m + 1) < 0)
		return;
}

void
sink_log(const char *fmt, ...)
{
	va_list	ap;

	if (sink_conf.quiet)
		return;
	va_start(ap, fmt);
	sink_vlog(fmt, ap);
	va_end(ap);
}

void
sink_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	sink_vlog(fmt, ap);
	va_end(ap);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
sink_fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	sink_vlog(fmt, ap);
	va_end(ap);
	exit(2);
}

/* Peer text for a log line: printable ASCII only, at most outsz - 1 bytes. */
const char *
sink_safe(const char *in, char *out, size_t outsz)
{
	size_t	i;

	for (i = 0; in[i] != '\0' && i + 1 < outsz; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	out[i] = '\0';
	return out;
}

/* Write FILE atomically: readers see the old or the new content. */
static int
sink_write_file(const char *path, const char *text)
{
	char	 tmp[4096];
	FILE	*f;
	int	 r;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -1;
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	r = fputs(text, f) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		r = -1;
	if (r == 0 && rename(tmp, path) == -1)
		r = -1;
	if (r == -1)
		unlink(tmp);
	return r;
}

/*
 * The stats file is published by rename, so readers see whole files, but
 * creating and replacing an inode per change costs ~150us on ext4 (the
 * replaced file is freed, its blocks discarded). So two inodes live on
 * under PATH.0 and PATH.1: the one not currently behind PATH is rewritten
 * in place, linked to PATH.tmp and renamed over PATH; the inode it
 * replaces keeps its other name and is not freed. A reader would have to
 * hold PATH open across a whole publication to see a rewrite.
 */
static int	 sink_stats_fd[2] = { -1, -1 };
static char	 sink_stats_alt[2][4096], sink_stats_tmp[4096];
static unsigned	 sink_stats_gen;

static void
sink_stats_open(const char *path)
{
	int	i;

	if ((size_t)snprintf(sink_stats_tmp, sizeof(sink_stats_tmp), "%s.tmp",
	    path) >= sizeof(sink_stats_tmp))
		sink_fatal("stats path too long");
	for (i = 0; i < 2; i++) {
		snprintf(sink_stats_alt[i], sizeof(sink_stats_alt[i]), "%s.%d",
		    path, i);
		sink_stats_fd[i] = open(sink_stats_alt[i],
		    O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (sink_stats_fd[i] == -1)
			sink_fatal("cannot create %s: %s", sink_stats_alt[i],
			    strerror(errno));
	}
}

static void
sink_stats_close(void)
{
	int	i;

	for (i = 0; i < 2; i++) {
		if (sink_stats_fd[i] == -1)
			continue;
		close(sink_stats_fd[i]);
		unlink(sink_stats_alt[i]);
	}
}

static void
sink_stats_write(void)
{
	char	buf[1024];
	int	n, x;

	if (sink_stats_path == NULL)
		return;
	n = snprintf(buf, sizeof(buf),
	    "connections=%lu\ntls=%lu\ntls_resumed=%lu\ntls_failed=%lu\n"
	    "messages=%lu\nrecipients=%lu\nrcpt_rejected=%lu\nrsets=%lu\n"
	    "sync_errors=%lu\nbusy_peak=%lu\n",
	    sink_stats.connections, sink_stats.tls, sink_stats.tls_resumed,
	    sink_stats.tls_failed, sink_stats.messages, sink_stats.recipients,
	    sink_stats.rcpt_rejected, sink_stats.rsets,
	    sink_stats.sync_errors, sink_stats.busy_peak);
	x = sink_stats_gen++ & 1;
	if (pwrite(sink_stats_fd[x], buf, n, 0) != n ||
	    ftruncate(sink_stats_fd[x], n) == -1 ||
	    ((unlink(sink_stats_tmp) == -1 && errno != ENOENT) ||
	    link(sink_stats_alt[x], sink_stats_tmp) == -1 ||
	    rename(sink_stats_tmp, sink_stats_path) == -1))
		sink_warn("cannot write stats file %s: %s", sink_stats_path,
		    strerror(errno));
}

/*
 * A counter changed. The stats file must show it before the client can see
 * the reply that follows the change (tests read the stats right after
 * their client finished), yet rewriting it per change would cost a rename
 * per message. So the write is coalesced into one per loop pass by an
 * event of the highest priority: a plain bufferevent only writes to its
 * socket from its write event, which the next dispatch activates, and
 * priority 0 runs before it. The OpenSSL bufferevent writes synchronously
 * while a reply is queued; the session engine calls sink_stats_flush()
 * before queueing a reply on TLS. Log lines flush too (sink_vlog()).
 */
void
sink_stats_changed(void)
{
	if (sink_stats_path == NULL || sink_stats_dirty)
		return;
	sink_stats_dirty = 1;
	event_active(sink_ev_stats, EV_TIMEOUT, 1);
}

void
sink_stats_flush(void)
{
	if (!sink_stats_dirty)
		return;
	sink_stats_dirty = 0;
	sink_stats_write();
}

static void
sink_stats_cb(evutil_socket_t fd, short what, void *arg)
{
	sink_stats_flush();
}

static void
sink_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	sink_log("idle for %d seconds, exiting", sink_idle_secs);
	event_base_loopbreak(sink_base);
}

/*
 * A transaction of session ID (local address LOCAL) started (+1) or ended
 * (-1): count it, and record it in the -E file.
 */
void
sink_busy(const char *local, unsigned long id, int delta)
{
	char	line[128];
	int	n;

	if (delta > 0) {
		if (++sink_stats.busy > sink_stats.busy_peak) {
			sink_stats.busy_peak = sink_stats.busy;
			sink_stats_changed();
		}
	} else if (sink_stats.busy > 0)
		sink_stats.busy--;
	if (sink_events_fd == -1)
		return;
	n = snprintf(line, sizeof(line), "%c %s %ld#%lu\n",
	    delta > 0 ? '+' : '-', local, (long)getpid(), id);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    write(sink_events_fd, line, n) != n)
		sink_warn("cannot write the events file: %s", strerror(errno));
}

/* The session engine reports the number of open sessions here (-x). */
void
sink_sessions_changed(size_t n)
{
	struct timeval	tv;

	if (sink_ev_idle == NULL)
		return;
	if (n > 0) {
		event_del(sink_ev_idle);
		return;
	}
	tv.tv_sec = sink_idle_secs;
	tv.tv_usec = 0;
	event_add(sink_ev_idle, &tv);
}

static int
sink_rules_load(const char *path, struct sink_rule **rulesp, size_t *np)
{
	FILE			*f;
	char			*line = NULL, *p, *pat, *reply, *end;
	size_t			 cap = 0, n = 0, lineno = 0;
	struct sink_rule	*rules = NULL, *nr;

	if ((f = fopen(path, "r")) == NULL) {
		sink_warn("cannot open rules %s: %s", path, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) != -1) {
		lineno++;
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		end = p + strlen(p);
		while (end > p && (end[-1] == '\n' || end[-1] == '\r' ||
		    end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		pat = p;
		p += strcspn(p, " \t");
		if (*p != '\0')
			*p++ = '\0';
		reply = p + strspn(p, " \t");
		if (reply[0] < '2' || reply[0] > '5' ||
		    reply[1] < '0' || reply[1] > '9' ||
		    reply[2] < '0' || reply[2] > '9' ||
		    (reply[3] != ' ' && reply[3] != '\0')) {
			sink_warn("%s:%zu: reply must start with a 2xx-5xx code",
			    path, lineno);
			goto fail;
		}
		if ((nr = realloc(rules, (n + 1) * sizeof(*rules))) == NULL)
			goto fail;
		rules = nr;
		rules[n].pattern = strdup(pat);
		rules[n].reply = strdup(reply);
		n++;
		if (rules[n - 1].pattern == NULL || rules[n - 1].reply == NULL)
			goto fail;
	}
	free(line);
	fclose(f);
	*rulesp = rules;
	*np = n;
	return 0;
fail:
	free(line);
	fclose(f);
	while (n-- > 0) {
		free(rules[n].pattern);
		free(rules[n].reply);
	}
	free(rules);
	return -1;
}

static void
sink_rules_free(struct sink_rule *rules, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(rules[i].pattern);
		free(rules[i].reply);
	}
	free(rules);
}

static void
sink_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sink_rule	*rules;
	size_t			 n;

	if (sig == SIGHUP) {
		if (sink_rules_path == NULL)
			return;
		if (sink_rules_load(sink_rules_path, &rules, &n) == -1) {
			sink_warn("keeping the old rules");
			return;
		}
		sink_rules_free(sink_conf.rules, sink_conf.nrules);
		sink_conf.rules = rules;
		sink_conf.nrules = n;
		sink_log("reloaded %zu rules from %s", n, sink_rules_path);
		return;
	}
	sink_log("signal %d, exiting", (int)sig);
	event_base_loopbreak(sink_base);
}

static void
sink_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	if (smtp_session_start(sink_base, fd, sa, salen) == -1)
		evutil_closesocket(fd);
}

static void
sink_relisten_cb(evutil_socket_t fd, short what, void *arg)
{
	size_t	i;

	for (i = 0; i < sink_nlisteners; i++)
		evconnlistener_enable(sink_listeners[i]);
}

/* Out of descriptors: stop accepting for a second instead of spinning. */
static void
sink_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct timeval	tv = { 1, 0 };
	int		err = EVUTIL_SOCKET_ERROR();
	size_t		i;

	sink_warn("accept: %s", evutil_socket_error_to_string(err));
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return;
	for (i = 0; i < sink_nlisteners; i++)
		evconnlistener_disable(sink_listeners[i]);
	event_add(sink_ev_relisten, &tv);
}

static void
sink_listen(const char *spec)
{
	struct sockaddr_storage	 ss;
	int			 len = sizeof(ss);
	struct evconnlistener	*l;

	if (sink_nlisteners == SINK_LISTEN_MAX)
		sink_fatal("too many -l");
	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss,
	    &len) == -1)
		sink_fatal("bad listen address %s (ADDR:PORT, [V6]:PORT)", spec);
	l = evconnlistener_new_bind(sink_base, sink_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    1024, (struct sockaddr *)&ss, len);
	if (l == NULL)
		sink_fatal("cannot listen on %s: %s", spec, strerror(errno));
	evconnlistener_set_error_cb(l, sink_accept_error_cb);
	sink_listeners[sink_nlisteners++] = l;
	sink_log("listening on %s", spec);
}

static SSL_CTX *
sink_tls_init(const char **certs, const char **keys, size_t n,
    const char *maxver)
{
	static const unsigned char	 sid_ctx[] = "danerelay-sink";
	SSL_CTX				*ctx;
	unsigned long			 e;
	size_t				 i;
	char				 buf[256];

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (maxver != NULL) {
		if (strcmp(maxver, "1.2") == 0)
			SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
		else if (strcmp(maxver, "1.3") != 0)
			sink_fatal("-V takes 1.2 or 1.3");
	}
	/* thousands of idle TLS sessions: keep no buffers while idle */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_tlsext_servername_callback(ctx, smtp_tls_servername);
	for (i = 0; i < n; i++) {
		if (SSL_CTX_use_certificate_chain_file(ctx, certs[i]) != 1) {
			sink_warn("cannot load certificate chain %s", certs[i]);
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(ctx, keys[i],
		    SSL_FILETYPE_PEM) != 1) {
			sink_warn("cannot load key %s", keys[i]);
			goto fail;
		}
		if (SSL_CTX_check_private_key(ctx) != 1) {
			sink_warn("key %s does not match %s", keys[i], certs[i]);
			goto fail;
		}
	}
	return ctx;
fail:
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		sink_warn("openssl: %s", buf);
	}
	SSL_CTX_free(ctx);
	sink_fatal("TLS set-up failed");
}

static void
sink_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static unsigned long
sink_number(const char *s, const char *what)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0')
		sink_fatal("%s: not a number: %s", what, s);
	return v;
}

static int
sink_is_reply(const char *r)
{
	return r[0] >= '2' && r[0] <= '5' && r[1] >= '0' && r[1] <= '9' &&
	    r[2] >= '0' && r[2] <= '9' && (r[3] == ' ' || r[3] == '\0');
}

static void __attribute__((noreturn))
sink_usage(int status)
{
	fprintf(status ? stderr : stdout,
"usage: sink -l ADDR:PORT [-l ...] [-c CERT [-k KEY]]... [-n] [-P] [-8] [-U]\n"
"            [-b REPLY] [-e REPLY] [-m REPLY] [-d REPLY] [-r RULES]\n"
"            [-D DIR] [-s STATS] [-p PIDFILE] [-x SECS] [-H NAME]\n"
"            [-S BYTES] [-T SECS] [-V 1.2|1.3] [-q] [-w MS] [-E FILE]\n"
"            [-A FILE]\n"
"  -l ADDR:PORT  listen (IPv4 or [IPv6]:port), repeatable\n"
"  -c CERT       offer STARTTLS with this PEM chain, repeatable (RSA + ECDSA)\n"
"  -k KEY        key of the last -c (default: inside the -c file)\n"
"  -n            do not offer STARTTLS even with a certificate\n"
"  -P            do not offer PIPELINING; 554 a client that pipelines\n"
"  -8            do not offer 8BITMIME       -U  do not offer SMTPUTF8\n"
"  -b REPLY      banner, e.g. \"421 4.3.2 go away\" (421 closes, 5xx -> 503s)\n"
"  -e REPLY      reply to EHLO, e.g. \"502 5.5.1 no EHLO\" (HELO fallback)\n"
"  -m REPLY      reply to MAIL FROM        -d REPLY  reply to the final \".\"\n"
"  -r FILE       per-recipient rules \"PATTERN REPLY\" (substring or *),\n"
"                first match wins, reread on SIGHUP\n"
"  -D DIR        write accepted messages to DIR/NNNNNNNN.msg: envelope lines,\n"
"                an empty line, the dot-unstuffed content (tmp + rename)\n"
"  -s FILE       stats (connections=N tls=N messages=N recipients=N ...)\n"
"  -p FILE       pid file, written once listening\n"
"  -x SECS       exit after SECS seconds without connections\n"
"  -H NAME       host name in banner and EHLO (sink.test)\n"
"  -S BYTES      SIZE limit (52428800)   -T SECS  client idle timeout (300)\n"
"  -V 1.2|1.3    highest TLS version (1.3)\n"
"  -q            quiet: log warnings only\n"
"  -w MS         wait MS milliseconds before the reply to the final \".\"\n"
"  -E FILE       append \"+|- ADDR:PORT PID#SESSION\" per transaction start/end\n"
"  -A FILE       append \"SEQ NS tls|plain\" per accepted message (X-Bench-Seq)\n"
"SIGTERM/SIGINT: exit 0 after writing stats; SIGHUP: reread -r rules.\n");
	exit(status);
}

static void
sink_arrivals_cb(evutil_socket_t fd, short what, void *arg)
{
	fflush(sink_conf.arrivals);
}

int
main(int argc, char *argv[])
{
	const char	*listens[SINK_LISTEN_MAX];
	const char	*certs[SINK_CERT_MAX], *keys[SINK_CERT_MAX];
	const char	*maxver = NULL;
	size_t		 nlisten = 0, ncert = 0, i;
	int		 ch, no_tls = 0;
	struct event	*sigs[4];
	static const int signums[4] = { SIGTERM, SIGINT, SIGHUP, 0 };
	char		 pidbuf[32];

	sink_conf.hostname = "sink.test";
	sink_conf.max_size = 52428800;
	sink_conf.timeout = 300;

	while ((ch = getopt(argc, argv,
	    "l:c:k:nP8Ub:e:r:m:d:D:s:x:p:qhH:S:T:V:w:E:A:")) != -1) {
		switch (ch) {
		case 'l':
			if (nlisten == SINK_LISTEN_MAX)
				sink_fatal("too many -l");
			listens[nlisten++] = optarg;
			break;
		case 'c':
			if (ncert == SINK_CERT_MAX)
				sink_fatal("too many -c");
			certs[ncert] = keys[ncert] = optarg;
			ncert++;
			break;
		case 'k':
			if (ncert == 0)
				sink_fatal("-k must follow its -c");
			keys[ncert - 1] = optarg;
			break;
		case 'n': no_tls = 1; break;
		case 'P': sink_conf.no_pipelining = 1; break;
		case '8': sink_conf.no_8bitmime = 1; break;
		case 'U': sink_conf.no_smtputf8 = 1; break;
		case 'b': sink_conf.banner = optarg; break;
		case 'e': sink_conf.ehlo_reply = optarg; break;
		case 'm': sink_conf.mail_reply = optarg; break;
		case 'd': sink_conf.data_reply = optarg; break;
		case 'r': sink_rules_path = optarg; break;
		case 'D': sink_conf.msg_dir = optarg; break;
		case 's': sink_stats_path = optarg; break;
		case 'x':
			sink_idle_secs = (int)sink_number(optarg, "-x");
			break;
		case 'p': sink_pid_path = optarg; break;
		case 'q': sink_conf.quiet = 1; break;
		case 'H': sink_conf.hostname = optarg; break;
		case 'S':
			sink_conf.max_size = sink_number(optarg, "-S");
			break;
		case 'T':
			sink_conf.timeout = (int)sink_number(optarg, "-T");
			break;
		case 'V': maxver = optarg; break;
		case 'w':
			sink_conf.dot_delay_ms = (int)sink_number(optarg, "-w");
			break;
		case 'E':
			sink_events_fd = open(optarg, O_WRONLY | O_APPEND |
			    O_CREAT | O_CLOEXEC, 0644);
			if (sink_events_fd == -1)
				sink_fatal("cannot open %s: %s", optarg,
				    strerror(errno));
			break;
		case 'A':
			sink_conf.arrivals = fopen(optarg, "ae");
			if (sink_conf.arrivals == NULL)
				sink_fatal("cannot open %s: %s", optarg,
				    strerror(errno));
			setvbuf(sink_conf.arrivals, NULL, _IOFBF, 1 << 16);
			break;
		case 'h': sink_usage(0);
		default: sink_usage(1);
		}
	}
	if (optind != argc || nlisten == 0)
		sink_usage(1);
	if ((sink_conf.banner && !sink_is_reply(sink_conf.banner)) ||
	    (sink_conf.ehlo_reply && !sink_is_reply(sink_conf.ehlo_reply)) ||
	    (sink_conf.mail_reply && !sink_is_reply(sink_conf.mail_reply)) ||
	    (sink_conf.data_reply && !sink_is_reply(sink_conf.data_reply)))
		sink_fatal("-b/-e/-m/-d replies must start with a 2xx-5xx code");
	if (sink_conf.timeout <= 0)
		sink_fatal("-T must be positive");
	if (strlen(sink_conf.hostname) > 255 || *sink_conf.hostname == '\0')
		sink_fatal("-H takes a host name of 1 to 255 characters");

	signal(SIGPIPE, SIG_IGN);
	sink_raise_nofile();
	if (sink_rules_path != NULL && sink_rules_load(sink_rules_path,
	    &sink_conf.rules, &sink_conf.nrules) == -1)
		sink_fatal("bad rules file %s", sink_rules_path);
	if (sink_conf.msg_dir != NULL && smtp_msgdir_init(sink_conf.msg_dir)
	    == -1)
		sink_fatal("cannot use message directory %s: %s",
		    sink_conf.msg_dir, strerror(errno));
	if (sink_stats_path != NULL)
		sink_stats_open(sink_stats_path);
	if (ncert > 0 && !no_tls)
		sink_conf.tls_ctx = sink_tls_init(certs, keys, ncert, maxver);

	if ((sink_base = event_base_new()) == NULL)
		sink_fatal("event_base_new failed");
	/* 0: the stats flush; everything else gets the default, 1 */
	if (event_base_priority_init(sink_base, 3) == -1)
		sink_fatal("event_base_priority_init failed");
	sink_ev_stats = event_new(sink_base, -1, 0, sink_stats_cb, NULL);
	if (sink_ev_stats == NULL || event_priority_set(sink_ev_stats, 0) == -1)
		sink_fatal("cannot create the stats event");
	for (i = 0; signums[i] != 0; i++) {
		sigs[i] = evsignal_new(sink_base, signums[i], sink_signal_cb,
		    NULL);
		if (sigs[i] == NULL || event_add(sigs[i], NULL) == -1)
			sink_fatal("cannot watch signal %d", signums[i]);
	}
	sigs[i] = NULL;
	sink_ev_relisten = evtimer_new(sink_base, sink_relisten_cb, NULL);
	if (sink_ev_relisten == NULL)
		sink_fatal("evtimer_new failed");
	if (sink_idle_secs > 0) {
		sink_ev_idle = evtimer_new(sink_base, sink_idle_cb, NULL);
		if (sink_ev_idle == NULL)
			sink_fatal("evtimer_new failed");
		sink_sessions_changed(0);
	}
	if (sink_conf.arrivals != NULL) {
		struct timeval tv = { 0, 200000 };

		sink_ev_arrivals = event_new(sink_base, -1, EV_PERSIST,
		    sink_arrivals_cb, NULL);
		if (sink_ev_arrivals == NULL ||
		    event_add(sink_ev_arrivals, &tv) == -1)
			sink_fatal("cannot create the arrivals timer");
	}
	for (i = 0; i < nlisten; i++)
		sink_listen(listens[i]);
	sink_stats_write();
	if (sink_pid_path != NULL) {
		snprintf(pidbuf, sizeof(pidbuf), "%ld\n", (long)getpid());
		if (sink_write_file(sink_pid_path, pidbuf) == -1)
			sink_fatal("cannot write %s: %s", sink_pid_path,
			    strerror(errno));
	}

	if (event_base_dispatch(sink_base) == -1) {
		sink_warn("event loop failed");
		sink_exit_status = 1;
	}

	smtp_session_close_all();
	for (i = 0; i < sink_nlisteners; i++)
		evconnlistener_free(sink_listeners[i]);
	for (i = 0; sigs[i] != NULL; i++)
		event_free(sigs[i]);
	event_free(sink_ev_relisten);
	event_free(sink_ev_stats);
	if (sink_ev_idle != NULL)
		event_free(sink_ev_idle);
	sink_stats_write();
	sink_stats_close();
	if (sink_events_fd != -1)
		close(sink_events_fd);
	if (sink_ev_arrivals != NULL)
		event_free(sink_ev_arrivals);
	if (sink_conf.arrivals != NULL && fclose(sink_conf.arrivals) != 0) {
		sink_warn("arrivals file: %s", strerror(errno));
		sink_exit_status = 1;
	}
	if (sink_pid_path != NULL)
		unlink(sink_pid_path);
	SSL_CTX_free(sink_conf.tls_ctx);
	sink_rules_free(sink_conf.rules, sink_conf.nrules);
	event_base_free(sink_base);
	libevent_global_shutdown();
	sink_log("exit %d: %lu connections, %lu messages", sink_exit_status,
	    sink_stats.connections, sink_stats.messages);
	return sink_exit_status;
}
