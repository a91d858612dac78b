/*
 * relay/main.c - command line, configuration, signals and the event loop.
 *
 *	danerelay -c FILE		run the relay in the foreground
 *	danerelay -c FILE -t		check the configuration and exit
 *	danerelay -c FILE resolve DOMAIN	show what delivery would see
 *	danerelay -c FILE queue ...	the queue tool
 *
 * Exit status: 0 on a clean stop, 1 on a runtime failure, 2 on a bad
 * configuration or command line (systemd: RestartPreventExitStatus=2).
 */
#include "conf/conf.h"
#include "relay/cmd_resolve.h"
#include "relay/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#define DEFAULT_CONF	"/etc/danerelay/danerelay.conf"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: danerelay [-d] [-c FILE] [-t]\n"
	    "       danerelay [-c FILE] resolve DOMAIN\n"
	    "       danerelay [-c FILE] queue [list|flush|delete ID|hold ID|release ID] [--json]\n");
	exit(2);
}

static void
print_conf_error(void *arg, const char *msg)
{
	int *n = arg;

	fprintf(stderr, "%s\n", msg);
	(*n)++;
}

static struct conf *
load_or_exit(const char *path)
{
	struct conf *conf;
	int nerr = 0;

	conf = conf_load(path, print_conf_error, &nerr);
	if (conf == NULL) {
		fprintf(stderr, "danerelay: %s: %d error%s, not starting\n",
		    path, nerr, nerr == 1 ? "" : "s");
		exit(2);
	}
	return conf;
}

int
main(int argc, char *argv[])
{
	const char	*path = DEFAULT_CONF;
	struct conf	*conf;
	int		 ch, test_only = 0;

	while ((ch = getopt(argc, argv, "c:dt")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			log_set_debug(1);
			break;
		case 't':
			test_only = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;

	conf = load_or_exit(path);
	if (test_only) {
		printf("danerelay: %s: configuration ok\n", path);
		conf_free(conf);
		return 0;
	}
	if (argc > 0 && strcmp(argv[0], "resolve") == 0) {
		const struct conf_domain *matched;
		int rv;

		if (argc != 2)
			usage();
		rv = cmd_resolve(conf, argv[1], (int)conf_dest_for(conf, argv[1],
		    time(NULL), &matched, NULL).remote_port);
		conf_free(conf);
		return rv;
	}
	if (argc > 0)
		usage();
	fprintf(stderr, "danerelay: the daemon is not built yet\n");
	conf_free(conf);
	return 1;
}
