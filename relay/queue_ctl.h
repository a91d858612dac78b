/*
 * relay/queue_ctl.h - the queue tool, both ends of the control socket
 * (relay/control.h):
 *
 *	danerelay -c FILE queue list [--json]
 *	danerelay -c FILE queue shape [--json]
 *	danerelay -c FILE queue flush [ID|@DOMAIN]
 *	danerelay -c FILE queue delete|hold|release ID...
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

/* Is argv[0] a command of this tool ("queue", "reload", "reopen")? */
bool	 queue_ctl_is_command(const char *);
/* Run it; the exit status (0, 1, or 2 for a usage error). */
int	 queue_ctl_main(const struct conf *, int argc, char **argv);

#endif
