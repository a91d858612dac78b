/*
 * relay/relay.h - the daemon's context, shared by main, the listener and
 * the inbound sessions: the event base, the current configuration (with
 * what is built from it, like the STARTTLS context), the spool, and the
 * seam where accepted and recovered messages go (`ready`; the delivery
 * engine plugs in there). One per process, owned by main.c.
 *
 * Threads: struct relay belongs to the inbound loop (the main thread: its
 * base, the listener, the sessions, the spool handle `queue`, `rc`). The
 * delivery side runs on a loop of its own (relay/main.c, "Two event
 * loops"); `ready` is where a message crosses to it (relay/handoff.h).
 *
 * A configuration is reference counted: a session keeps the one it
 * started with, so a SIGHUP applies to new sessions only and an old
 * configuration is freed when its last session ends. Both loops hold
 * references (the scheduler its own), so the count is atomic; a
 * relay_conf is never changed after relay_conf_new(), and its SSL_CTX is
 * only used by the inbound sessions (SSL_new() takes its own reference).
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_RELAY_H
#define RELAY_RELAY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/queue.h>

#include <openssl/ssl.h>

struct event_base;
struct conf;
struct queue;
struct queue_envelope;
struct listener;
struct smtp_session;
struct flow;
struct relay;

struct relay_conf {
	struct conf	*conf;
	SSL_CTX		*tls;		/* STARTTLS context; NULL: not offered */
	atomic_uint	 refs;		/* taken and dropped on both loops */
};

/* Takes ownership of env (frees it with queue_envelope_free()). */
typedef void relay_ready_fn(struct relay *, struct queue_envelope *env);

struct relay {
	struct event_base	*base;
	const char		*conf_path;
	struct relay_conf	*rc;		/* current; new sessions take a ref */
	struct queue		*queue;
	struct listener		*listener;
	relay_ready_fn		*ready;		/* committed and recovered messages */
	struct flow		*flow;		/* inbound flow control; NULL: none */

	TAILQ_HEAD(, smtp_session) sessions;	/* owned by smtp_session.c */
	unsigned		 nsessions;
	bool			 stopping;	/* SIGTERM seen: finish, then exit */
	void			(*sessions_gone)(struct relay *);	/* stopping and nsessions hit 0 */
};

/* Build the runtime part of conf (takes ownership of conf). NULL + err. */
struct relay_conf *relay_conf_new(struct conf *, char *err, size_t errlen);
/* The same for a SIGHUP reload, given the current one (see relay.c). */
struct relay_conf *relay_conf_reload(struct conf *, const struct relay_conf *cur,
		    char *err, size_t errlen);
struct relay_conf *relay_conf_ref(struct relay_conf *);
void		 relay_conf_unref(struct relay_conf *);

#endif
