/*
 * queue/scan.c - read a spool without owning it: `queue list` when no
 * daemon runs. Opens nothing for writing, takes no lock, moves and
 * removes nothing: a file that does not load is reported and skipped
 * (the daemon's queue_open() deals with it at its next start). The
 * formats are those of queue/queue.c, decoded by queue/envelope.c.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "queue/queue.h"
#include "queue/envelope.h"
#include "queue/queue_id.h"
#include "relay/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCAN_JOURNAL_MAX	(64u << 20)

/* The envelope at the start of msg/id, with its journal applied. */
static struct queue_envelope *
scan_one(int msgfd, const char *id, char *why, size_t whylen)
{
	struct queue_envelope	*env = NULL;
	struct journal_result	 res;
	char			 name[QUEUE_ID_MAX + 4], *buf;
	size_t			 len = 0, hdrlen;
	ssize_t			 n;
	int			 fd, r;
	bool			 cut;

	/* a link or a FIFO in the spool is skipped, never followed */
	if ((fd = openat(msgfd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		return NULL;
	}
	/* the envelope only: grow until it decodes */
	buf = xmalloc(ENVELOPE_MAX);
	for (;;) {
		n = pread(fd, buf + len, ENVELOPE_MAX - len, (off_t)len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(why, whylen, "read: %s", strerror(errno));
			break;
		}
		len += (size_t)n;
		r = envelope_decode(buf, len, &env, &hdrlen, why, whylen);
		if (r == 1 || r == -1)
			break;
		if (n == 0 || len == ENVELOPE_MAX) {
			snprintf(why, whylen, "truncated envelope");
			break;
		}
	}
	free(buf);
	close(fd);
	if (env == NULL)
		return NULL;
	snprintf(name, sizeof(name), "%s.st", id);
	if ((buf = queue_file_read(msgfd, name, SCAN_JOURNAL_MAX, &len,
	    &cut)) != NULL) {
		journal_apply(env, buf, len, &res);
		free(buf);
	} else if (errno != ENOENT) {
		/* as the daemon: without its journal it is not shown as new */
		snprintf(why, whylen, "recipient journal: %s", strerror(errno));
		queue_envelope_free(env);
		return NULL;
	}
	return env;
}

int
queue_scan(const char *dir, queue_scan_cb *cb, void *arg, char *err,
    size_t errlen)
{
	struct queue_envelope	*env;
	char			 path[4096], why[256], **v;
	size_t			 n, i;
	int			 msgfd;

	snprintf(path, sizeof(path), "%s/msg", dir);
	if ((msgfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (v = queue_list_dir(msgfd, &n)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (msgfd != -1)
			close(msgfd);
		return -1;
	}
	/* sorted names: ids sort by arrival */
	for (i = 0; i < n; i++) {
		if (queue_id_valid(v[i])) {
			why[0] = '\0';
			env = scan_one(msgfd, v[i], why, sizeof(why));
			cb(v[i], env, env == NULL ? why : NULL, arg);
		}
		free(v[i]);
	}
	free(v);
	close(msgfd);
	return 0;
}
