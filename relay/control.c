/*
 * relay/control.c - the control socket (see control.h): listener and
 * connections on the event loop (libevent bufferevents), the peer check,
 * and the command line's client.
 *
 * A connection lives for one request: read one line (CONTROL_LINE_MAX,
 * CONTROL_TIMEOUT), check and log it, let the handler build the answer,
 * write it (CONTROL_TIMEOUT) and close. At most CONTROL_CONNS_MAX at once;
 * more are closed at accept. Nothing here blocks the loop.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "relay/control.h"
#include "relay/log.h"
#include "relay/util.h"

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS	59		/* Linux >= 4.13 */
#endif
#define PEER_GROUPS_MAX	1024

struct control_conn {
	struct control		*c;		/* NULL: server closed while pending */
	struct control_conn	*next, **prevp;
	struct bufferevent	*bev;		/* NULL: client gone while pending */
	struct control_peer	 peer;
	bool			 answered;
	bool			 pending;	/* CONTROL_LATER: waiting for done */
	struct evbuffer		*body;
	char			 err[512];
};

struct control_req {
	struct control_conn	 k;		/* a request is its connection */
};

struct control {
	struct event_base	*base;
	struct evconnlistener	*lev;
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	gid_t			 gid;
	uid_t			 self;
	control_handler		*handler;
	void			*arg;
	struct control_conn	*conns;
	unsigned		 nconns;
	struct event		*resume;	/* re-enable after EMFILE */
	unsigned		 pause;		/* seconds of the last pause, 0: none */
	struct log_limit	 ll_accept;
};

#define CONTROL_PAUSE_MAX	8	/* seconds */

bool
control_peer_allowed(const struct control_peer *p, const gid_t *groups,
    size_t ngroups, uid_t self, gid_t gid)
{
	size_t i;

	if (p->uid == 0 || p->uid == self || p->gid == gid)
		return true;
	for (i = 0; i < ngroups; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* Off the server's list, connection closed; k itself stays if pending. */
static void
conn_detach(struct control_conn *k)
{
	if (k->c != NULL) {
		if (k->next != NULL)
			k->next->prevp = k->prevp;
		*k->prevp = k->next;
		k->c->nconns--;
		k->c = NULL;
	}
	if (k->bev != NULL)
		bufferevent_free(k->bev);
	k->bev = NULL;
}

static void
conn_free(struct control_conn *k)
{
	conn_detach(k);
	if (k->pending)		/* control_req_done() frees it */
		return;
	if (k->body != NULL)
		evbuffer_free(k->body);
	free(k);
}

static void
conn_write_done(struct bufferevent *bev, void *arg)
{
	struct control_conn *k = arg;

	(void)bev;
	if (k->answered)
		conn_free(k);
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct control_conn *k = arg;

	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		log_warnx(NULL, "control: uid %u: timed out %s",
		    (unsigned)k->peer.uid, k->answered ? "writing the answer" :
		    k->pending ? "with an answer pending" :
		    "waiting for a request");
	conn_free(k);
}

static void
conn_answer(struct control_conn *k, int ok, const char *err,
    struct evbuffer *body)
{
	struct evbuffer *out = bufferevent_get_output(k->bev);

	if (ok == 0)
		evbuffer_add_printf(out, "OK\n");
	else
		evbuffer_add_printf(out, "ERR %s\n", err);
	if (body != NULL)
		evbuffer_add_buffer(out, body);
	k->answered = true;
	bufferevent_disable(k->bev, EV_READ);
	bufferevent_enable(k->bev, EV_WRITE);
	if (evbuffer_get_length(out) == 0)
		conn_free(k);
}

/* Split line at spaces in place. -1: too many words. */
static int
split(char *line, char **argv, int max)
{
	int argc = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return argc;
		if (argc == max)
			return -1;
		argv[argc++] = p;
		while (*p != ' ' && *p != '\0')
			p++;
		if (*p == ' ')
			*p++ = '\0';
	}
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
	struct control_conn *k = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line, *argv[CONTROL_ARGS_MAX], safe[LOG_SAFE_MAX];
	size_t n, i;
	int argc, rv;

	if (k->answered || k->pending)
		return;
	line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);	/* LF or CRLF */
	if (line == NULL) {
		if (evbuffer_get_length(in) > CONTROL_LINE_MAX) {
			log_warnx(NULL, "control: uid %u: request longer than "
			    "%d octets, refused", (unsigned)k->peer.uid,
			    CONTROL_LINE_MAX);
			conn_answer(k, -1, "request too long", NULL);
		}
		return;
	}
	log_safe(line, n, safe, sizeof(safe));
	if (n > CONTROL_LINE_MAX) {
		log_warnx(NULL, "control: uid %u: request longer than %d octets, "
		    "refused", (unsigned)k->peer.uid, CONTROL_LINE_MAX);
		conn_answer(k, -1, "request too long", NULL);
		free(line);
		return;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) {
			log_warnx(NULL, "control: uid %u: control character in "
			    "request \"%s\", refused", (unsigned)k->peer.uid, safe);
			conn_answer(k, -1, "control character in request", NULL);
			free(line);
			return;
		}
	log_info(NULL, "control: uid %u (pid %ld): %s", (unsigned)k->peer.uid,
	    (long)k->peer.pid, safe);
	if ((argc = split(line, argv, CONTROL_ARGS_MAX)) <= 0) {
		conn_answer(k, -1, argc == 0 ? "empty request" :
		    "too many arguments", NULL);
		free(line);
		return;
	}
	if ((k->body = evbuffer_new()) == NULL)
		fatalx("control: evbuffer_new");
	k->err[0] = '\0';
	rv = k->c->handler((struct control_req *)k, argc, argv, k->c->arg);
	free(line);
	if (rv == CONTROL_LATER) {
		/* no more input: the answer comes from control_req_done() */
		k->pending = true;
		bufferevent_disable(k->bev, EV_READ);
		return;
	}
	if (rv != 0 && k->err[0] == '\0')
		str_copy(k->err, "failed", sizeof(k->err));
	conn_answer(k, rv, k->err, k->body);
}

static void
control_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct control *c = arg;
	struct control_conn *k;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[PEER_GROUPS_MAX];
	socklen_t glen = sizeof(groups);
	size_t ngroups = 0;
	struct timeval tv = { CONTROL_TIMEOUT, 0 };

	(void)lev;
	(void)sa;
	(void)salen;
	if (c->pause != 0) {
		c->pause = 0;
		log_limit_end(&c->ll_accept, NULL, "control: accepting again");
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn(NULL, "control: SO_PEERCRED");
		close(fd);
		return;
	}
	/* supplementary groups as they were at connect(), race-free */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0)
		ngroups = glen / sizeof(gid_t);
	k = xcalloc(1, sizeof(*k));
	k->peer.uid = cred.uid;
	k->peer.gid = cred.gid;
	k->peer.pid = cred.pid;
	if (!control_peer_allowed(&k->peer, groups, ngroups, c->self, c->gid)) {
		log_warnx(NULL, "control: refused uid %u (pid %ld): not root "
		    "and not in group %u", (unsigned)cred.uid, (long)cred.pid,
		    (unsigned)c->gid);
		(void)!write(fd, "ERR permission denied\n", 22);
		close(fd);
		free(k);
		return;
	}
	if (c->nconns >= CONTROL_CONNS_MAX) {
		log_warnx(NULL, "control: uid %u: %d connections open already, "
		    "refused", (unsigned)cred.uid, CONTROL_CONNS_MAX);
		(void)!write(fd, "ERR busy, try again\n", 20);
		close(fd);
		free(k);
		return;
	}
	evutil_make_socket_nonblocking(fd);
	k->bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (k->bev == NULL) {
		close(fd);
		free(k);
		return;
	}
	k->c = c;
	k->next = c->conns;
	if (k->next != NULL)
		k->next->prevp = &k->next;
	k->prevp = &c->conns;
	c->conns = k;
	c->nconns++;
	bufferevent_setcb(k->bev, conn_read, conn_write_done, conn_event, k);
	bufferevent_setwatermark(k->bev, EV_READ, 0, CONTROL_LINE_MAX + 2);
	bufferevent_set_timeouts(k->bev, &tv, &tv);
	bufferevent_enable(k->bev, EV_READ);
}

static void
control_resume(evutil_socket_t fd, short what, void *arg)
{
	struct control *c = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(c->lev);
}

/*
 * accept(2) failed for good (no descriptors, no memory). Without this
 * libevent logs it and the socket, still readable, calls again at once:
 * a tight loop. Pause the socket instead, 1 s doubling to
 * CONTROL_PAUSE_MAX, as relay/listener.c does for SMTP; the client waits
 * in the backlog meanwhile (or times out).
 */
static void
control_accept_error(struct evconnlistener *lev, void *arg)
{
	struct control *c = arg;
	struct timeval tv = { 0, 0 };
	int e = errno;

	c->pause = c->pause == 0 ? 1 : c->pause * 2 > CONTROL_PAUSE_MAX ?
	    CONTROL_PAUSE_MAX : c->pause * 2;
	evconnlistener_disable(lev);
	tv.tv_sec = c->pause;
	evtimer_add(c->resume, &tv);
	errno = e;
	log_limit_warn(&c->ll_accept, NULL, "control: accept: pausing the "
	    "control socket for %us", c->pause);
}

struct control *
control_open(struct event_base *base, const char *dir, gid_t gid,
    control_handler *handler, void *arg, char *err, size_t errlen)
{
	struct control *c;
	struct sockaddr_un sun;
	mode_t old;
	int fd;

	c = xcalloc(1, sizeof(*c));
	c->base = base;
	c->gid = gid;
	c->self = geteuid();
	c->handler = handler;
	c->arg = arg;
	if ((size_t)snprintf(c->path, sizeof(c->path), "%s/%s", dir,
	    CONTROL_NAME) >= sizeof(c->path)) {
		snprintf(err, errlen, "%s/%s: path too long for a UNIX socket",
		    dir, CONTROL_NAME);
		free(c);
		return NULL;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, c->path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		free(c);
		return NULL;
	}
	/* a leftover of a crashed daemon: we hold the spool lock now */
	if (unlink(c->path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", c->path, strerror(errno));
		goto fail;
	}
	old = umask(0117);	/* never more than 0660, even for a moment */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		snprintf(err, errlen, "%s: bind: %s", c->path, strerror(errno));
		goto fail;
	}
	umask(old);
	/* The group reaches the socket through the spool: search permission
	 * on the spool itself (0710), its subdirectories stay 0700 and its
	 * files 0600, so the group can use the socket and nothing else. */
	if (chown(c->path, (uid_t)-1, gid) == -1 || chmod(c->path, 0660) == -1 ||
	    chown(dir, (uid_t)-1, gid) == -1 || chmod(dir, 0710) == -1) {
		snprintf(err, errlen, "%s: %s", c->path, strerror(errno));
		unlink(c->path);
		goto fail;
	}
	c->lev = evconnlistener_new(base, control_accept, c,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, fd);
	if (c->lev == NULL) {
		snprintf(err, errlen, "%s: listen: %s", c->path, strerror(errno));
		unlink(c->path);
		goto fail;
	}
	if ((c->resume = evtimer_new(base, control_resume, c)) == NULL)
		fatalx("control: evtimer_new");
	evconnlistener_set_error_cb(c->lev, control_accept_error);
	log_info(NULL, "control socket %s (mode 0660, group %u; spool 0710)",
	    c->path, (unsigned)gid);
	return c;
fail:
	close(fd);
	free(c);
	return NULL;
}

const struct control_peer *
control_req_peer(const struct control_req *r)
{
	return &r->k.peer;
}

struct evbuffer *
control_req_body(struct control_req *r)
{
	return r->k.body;
}

void
control_req_error(struct control_req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->k.err, sizeof(r->k.err), fmt, ap);
	va_end(ap);
}

void
control_req_done(struct control_req *r, int rv)
{
	struct control_conn *k = &r->k;

	k->pending = false;
	if (k->bev == NULL) {		/* client or server gone meanwhile */
		conn_free(k);
		return;
	}
	if (rv != 0 && k->err[0] == '\0')
		str_copy(k->err, "failed", sizeof(k->err));
	conn_answer(k, rv, k->err, k->body);
}

void
control_close(struct control *c)
{
	if (c == NULL)
		return;
	while (c->conns != NULL)
		conn_free(c->conns);
	if (c->resume != NULL)
		event_free(c->resume);
	evconnlistener_free(c->lev);
	unlink(c->path);
	free(c);
}

/* --- client --- */

/*
 * The daemon's answer on the operator's terminal: the daemon is the
 * unprivileged user and may be one taken over through what it parses, so
 * no control character but newline and tab gets through (an escape
 * sequence could rewrite what root sees, or drive the terminal). Its own
 * text escapes peer bytes already (relay/log_safe.c); JSON has none.
 */
static void
write_safe(FILE *out, const char *p, size_t n)
{
	size_t i, run;

	for (i = 0; i < n; i += run) {
		for (run = 0; i + run < n; run++) {
			unsigned char c = (unsigned char)p[i + run];

			if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
				break;
		}
		fwrite(p + i, 1, run, out);
		if (i + run < n) {
			fputc('?', out);
			run++;
		}
	}
}

/*
 * Before connecting: DIR/control must be a socket owned by the spool's
 * owner (the daemon's user) or root, never a symbolic link followed to
 * some other socket; the owner goes to *owner. -1 + errno and err: as
 * lstat(2) (ENOENT: no daemon), ELOOP (a link), ENOTSOCK, EPROTO (its
 * owner: not our daemon's).
 */
static int
control_check_path(const char *dir, const char *path, uid_t *owner,
    char *err, size_t errlen)
{
	struct stat ds, ss;
	int e;

	if (stat(dir, &ds) == -1 || lstat(path, &ss) == -1) {
		e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		errno = e;
		return -1;
	}
	*owner = ds.st_uid;
	if (!S_ISSOCK(ss.st_mode)) {
		snprintf(err, errlen, "%s is not a socket (%s): refused, "
		    "the daemon makes it at start", path, S_ISLNK(ss.st_mode) ?
		    "a symbolic link" : S_ISREG(ss.st_mode) ? "a regular file" :
		    "of another type");
		errno = S_ISLNK(ss.st_mode) ? ELOOP : ENOTSOCK;
		return -1;
	}
	if (ss.st_uid != ds.st_uid && ss.st_uid != 0) {
		snprintf(err, errlen, "%s belongs to uid %lu, not to the spool's "
		    "owner (uid %lu) nor root: refused", path,
		    (unsigned long)ss.st_uid, (unsigned long)ds.st_uid);
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* After connecting: the listening process runs as the spool's owner or
 * root (closes the race between control_check_path() and connect()). */
static int
control_check_peer(int fd, const char *path, uid_t owner, char *err,
    size_t errlen)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1) {
		snprintf(err, errlen, "%s: SO_PEERCRED: %s", path,
		    strerror(errno));
		return -1;
	}
	if (uc.uid != owner && uc.uid != 0) {
		snprintf(err, errlen, "%s: the process listening there runs as "
		    "uid %lu, not as the spool's owner (uid %lu) nor root: "
		    "refused", path, (unsigned long)uc.uid,
		    (unsigned long)owner);
		errno = EPROTO;
		return -1;
	}
	return 0;
}

int
control_call(const char *dir, int argc, char *const *argv, FILE *out,
    FILE *errout, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	char buf[8192], *req = NULL, *nl;
	size_t len = 0, cap = 0, n, hl = 0;
	ssize_t r;
	int fd, i, e, status = -1;
	bool head = true;
	/* a daemon that does not answer must not hang the command line */
	struct timeval tv = { CONTROL_CLIENT_TIMEOUT, 0 };
	uid_t owner;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir,
	    CONTROL_NAME) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s/%s: path too long", dir, CONTROL_NAME);
		errno = ENAMETOOLONG;
		return -1;
	}
	if (control_check_path(dir, sun.sun_path, &owner, err, errlen) == -1)
		return -1;
	for (i = 0; i < argc; i++) {
		n = strlen(argv[i]);
		if (len + n + 2 > cap) {
			cap = (len + n + 2) * 2;
			req = xreallocarray(req, cap, 1);
		}
		if (i > 0)
			req[len++] = ' ';
		memcpy(req + len, argv[i], n);
		len += n;
	}
	if (req == NULL)
		req = xmalloc(2);
	req[len++] = '\n';
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		e = errno;
		snprintf(err, errlen, "%s: %s", sun.sun_path, strerror(e));
		if (fd != -1)
			close(fd);
		free(req);
		errno = e;
		return -1;
	}
	if (control_check_peer(fd, sun.sun_path, owner, err, errlen) == -1) {
		e = errno;
		close(fd);
		free(req);
		errno = e;
		return -1;
	}
	for (n = 0; n < len; n += (size_t)r)
		if ((r = write(fd, req + n, len - n)) <= 0) {
			if (r == -1 && errno == EINTR) {
				r = 0;
				continue;
			}
			break;
		}
	free(req);
	/* first line: OK or ERR TEXT; then the body, copied as it comes */
	for (;;) {
		r = read(fd, buf + hl, sizeof(buf) - hl);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (!head) {
			write_safe(out, buf, (size_t)r);
			continue;
		}
		hl += (size_t)r;
		if ((nl = memchr(buf, '\n', hl)) == NULL) {
			if (hl == sizeof(buf))
				break;
			continue;
		}
		*nl = '\0';
		if (strcmp(buf, "OK") == 0)
			status = 0;
		else {
			status = 1;
			fputs("danerelay: ", errout);
			write_safe(errout, strncmp(buf, "ERR ", 4) == 0 ?
			    buf + 4 : buf, strlen(strncmp(buf, "ERR ", 4) == 0 ?
			    buf + 4 : buf));
			fputc('\n', errout);
		}
		head = false;
		write_safe(out, nl + 1, hl - (size_t)(nl + 1 - buf));
		hl = 0;		/* the body is copied as it comes, from buf[0] */
	}
	close(fd);
	fflush(out);
	if (status == -1) {
		snprintf(err, errlen, "%s: no answer from the daemon",
		    sun.sun_path);
		fprintf(errout, "danerelay: %s\n", err);
		return 1;
	}
	return status;
}
