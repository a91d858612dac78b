/*
 * relay/control.h - the control socket, SPOOL/control: a UNIX stream
 * socket (mode 0660, group `group`) through which the queue tool talks to
 * the running daemon. Line protocol, one request per connection:
 *
 *	client:	VERB [ARG ...]\n		(LF or CRLF; at most CONTROL_LINE_MAX octets)
 *	daemon:	OK\n  BODY ...			then closes
 *	    or	ERR TEXT\n  [BODY ...]
 *
 * Only root, the daemon's own uid and members of the group may talk to it:
 * the modes keep others out (the spool directory 0710 with that group, the
 * socket 0660), and every connection's SO_PEERCRED (uid, gid,
 * supplementary groups) is checked again. Every
 * request is logged with the peer's uid. The server runs on the event
 * loop with bounded request size, timeouts and connection count; the
 * handler never blocks: it answers at once, or later (CONTROL_LATER) once
 * what it started is durable. The client side (control_call) is for the
 * command line.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_CONTROL_H
#define RELAY_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct event_base;
struct evbuffer;
struct control;
struct control_req;			/* one request being answered */

#define CONTROL_NAME		"control"	/* in the spool directory */
#define CONTROL_LINE_MAX	4096
#define CONTROL_ARGS_MAX	256
#define CONTROL_TIMEOUT		10		/* seconds, per read and write */
#define CONTROL_CONNS_MAX	16
#define CONTROL_CLIENT_TIMEOUT	60		/* seconds the command line waits */

struct control_peer {
	uid_t		uid;
	gid_t		gid;
	pid_t		pid;
};

#define CONTROL_LATER	1		/* handler: control_req_done() follows */

/*
 * One request, split at spaces (argv[0] the verb; valid during the call).
 * Append the answer's body to control_req_body(); return 0 for OK, -1 for
 * ERR with the text set by control_req_error() (the body still follows),
 * or CONTROL_LATER and call control_req_done() once, later, from the loop
 * (also when the client is gone or the server closed meanwhile).
 */
typedef int control_handler(struct control_req *, int argc, char **argv,
		    void *arg);

const struct control_peer *control_req_peer(const struct control_req *);
struct evbuffer	*control_req_body(struct control_req *);
void		 control_req_error(struct control_req *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* Answer a CONTROL_LATER request: rv 0 OK, -1 ERR. Frees req. */
void		 control_req_done(struct control_req *, int rv);

/*
 * Listen on DIR/control (a stale socket there is replaced: the caller owns
 * the spool lock), mode 0660, group gid; DIR itself becomes 0710, group
 * gid. NULL + err.
 */
struct control	*control_open(struct event_base *, const char *dir, gid_t gid,
		    control_handler *, void *arg, char *err, size_t errlen);
/* Close the listener and every open connection, remove the socket. */
void		 control_close(struct control *);

/*
 * Client: send argv as one request to DIR/control, copy the body to out
 * and an ERR text to errout. Returns 0 (OK), 1 (ERR), or -1 + errno when
 * no daemon answers (ENOENT, ECONNREFUSED: none runs; EACCES: not allowed
 * to reach the socket; ELOOP, ENOTSOCK, EPROTO: DIR/control is a link, not
 * a socket, or not the daemon's: refused, never followed; others) with
 * why in err.
 */
int		 control_call(const char *dir, int argc, char *const *argv,
		    FILE *out, FILE *errout, char *err, size_t errlen);

/* Is the peer allowed? root, our own uid, or gid among its groups. */
bool		 control_peer_allowed(const struct control_peer *,
		    const gid_t *groups, size_t ngroups, uid_t self, gid_t gid);

#endif
