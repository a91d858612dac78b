/*
 * relay/queue_ctl.h - the queue tool, both ends of the control socket
 * (relay/control.h):
 *
 *	danerelay -c FILE queue list [--json]
 *	danerelay -c FILE queue shape [--json]
 *	danerelay -c FILE queue flush [ID|@DOMAIN]
 *	danerelay -c FILE queue delete|hold|release ID...|@DOMAIN
 *	danerelay -c FILE queue explain ID [--json]
 *	danerelay -c FILE reload | reopen
 *
 * The command line side checks the words, sends them as one request and
 * prints the answer; with no daemon running, `list` and `shape` read the
 * spool read-only (queue_scan) and say so, the others exit 1. The daemon
 * side answers from the scheduler's view of the queue (relay/scheduler.h)
 * and logs every change with the operator's uid. Output formats and JSON
 * field names are documented in README.md.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#ifndef RELAY_QUEUE_CTL_H
#define RELAY_QUEUE_CTL_H

#include <stdbool.h>
#include <stddef.h>

struct conf;
struct control_req;
struct queue_envelope;
struct evbuffer;
struct scheduler;

struct queue_ctl {
	struct scheduler	*sched;
	void			(*reload)(void *arg);	/* as SIGHUP */
	int			(*reopen)(void *arg, char *err, size_t errlen);	/* as SIGUSR2 */
	void			*arg;
};

/* The control_handler (relay/control.h); arg is a struct queue_ctl. */
int	 queue_ctl_handler(struct control_req *, int argc, char **argv,
	    void *arg);

/* --- pure parts (unit tested) --- */

#define QUEUE_CTL_DOMAIN_MAX	254	/* octets after '@' (253 + a dot) */

/*
 * "@Example.ORG." -> "example.org" into buf (QUEUE_CTL_DOMAIN_MAX + 3
 * octets): lower case, one trailing dot dropped, as the scheduler groups
 * recipients (sched_rcpt_domain). -1: no domain (nothing after '@', a
 * second '@', a space or control character, too long).
 */
int	 queue_ctl_domain_arg(const char *arg, char *buf, size_t len);
/* Open recipients of env (pending or deferred, in an attempt or not) in
 * domain (as queue_ctl_domain_arg() gives it) and in any other. */
void	 queue_ctl_domain_count(const struct queue_envelope *,
	    const char *domain, size_t *in, size_t *other);
/*
 * The command line's check of `queue VERB ARG...` (argv[0] the verb):
 * 0, or 2 with why in err (*usage: the usage is worth printing too).
 * delete, hold and release take queue ids or one @DOMAIN alone.
 */
int	 queue_ctl_check(int argc, char **argv, char *err, size_t errlen,
	    bool *usage);

/* Is argv[0] a command of this tool ("queue", "reload", "reopen")? */
bool	 queue_ctl_is_command(const char *);
/* Run it; the exit status (0, 1, or 2 for a usage error). */
int	 queue_ctl_main(const struct conf *, int argc, char **argv);

#endif
