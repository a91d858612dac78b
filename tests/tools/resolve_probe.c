/*
 * tests/tools/resolve_probe.c - drives resolver/ from the e2e scripts
 * (tests/e2e/t_resolve_*.sh) against the DNS test world, printing every
 * field of every result as key=value lines for grep:
 *
 *   resolve_probe -C UNBOUND.CONF -T ROOT.KEY [-t SECONDS] COMMAND ...
 *	lookup TYPE NAME	one query (TYPE: A AAAA MX TLSA CNAME DNSKEY)
 *	host NAME		A+AAAA with the CNAME facts
 *	tlsa PORT HOST		TLSA at _PORT._tcp.HOST
 *	mx DOMAIN [SEED]	MX lookup + mx_list_build()
 *	check			does validation work (trust anchor DNSKEY)
 *	nonblock SLOW FAST	a lookup of SLOW (a dead server) pending while
 *				a timer ticks and a lookup of FAST completes
 *	cancel SLOW FAST	cancelled lookups never call back
 *	resolve DOMAIN PORT	cmd_resolve() on a conf built from -C/-T/-H/-A
 *
 * Exit 0 when the command ran (the script judges the output); 3 on usage.
 *
 * Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
 */
#include "conf/conf.h"
#include "relay/cmd_resolve.h"
#include "resolver/mx.h"
#include "resolver/resolver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

static struct event_base *base;
static struct resolver	 *res_r;
static int		  outstanding;

static void
usage(void)
{
	fprintf(stderr, "usage: resolve_probe -C conf -T ta [-t s] [-H n] [-A n] "
	    "lookup|host|tlsa|mx|check|nonblock|cancel|resolve ...\n");
	exit(3);
}

static int
type_of(const char *s)
{
	static const struct { const char *n; int t; } types[] = {
		{ "A", DNS_T_A }, { "AAAA", DNS_T_AAAA }, { "MX", DNS_T_MX },
		{ "TLSA", DNS_T_TLSA }, { "CNAME", DNS_T_CNAME },
		{ "DNSKEY", DNS_T_DNSKEY },
	};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(s, types[i].n) == 0)
			return types[i].t;
	usage();
	return 0;
}

static void
print_result(const char *tag, const struct dns_result *res)
{
	char	buf[DNS_ADDR_TEXT_MAX];
	size_t	i, j;

	printf("%s type=%s qname=%s state=%s answer=%s rcode=%d cname=%d canon=%s "
	    "nrr=%zu malformed=%zu answered=%d reason=%s\n", tag,
	    rr_type_name(res->qtype), res->qname, dns_state_name(res->state),
	    dns_answer_name(res->answer), res->rcode, res->cname, res->canonname,
	    res->nrr, res->nmalformed, dns_result_answered(res),
	    res->reason ? res->reason : "-");
	for (i = 0; i < res->nrr; i++) {
		const struct dns_rr *rr = &res->rr[i];

		printf("%s rr ", tag);
		if (rr->malformed) {
			printf("malformed\n");
			continue;
		}
		switch (res->qtype) {
		case DNS_T_MX:
			printf("MX %u %s\n", rr->mx.pref, rr->mx.host);
			break;
		case DNS_T_A:
		case DNS_T_AAAA:
			printf("%s %s\n", rr_type_name(res->qtype),
			    rr_addr_ntop(&rr->addr, buf, sizeof(buf)));
			break;
		case DNS_T_TLSA:
			printf("TLSA %u %u %u ", rr->tlsa.usage, rr->tlsa.selector,
			    rr->tlsa.mtype);
			for (j = 0; j < rr->tlsa.datalen; j++)
				printf("%02x", rr->tlsa.data[j]);
			printf(" usable=%d\n", rr_tlsa_usable(&rr->tlsa));
			break;
		case DNS_T_CNAME:
			printf("CNAME %s\n", rr->target);
			break;
		default:
			printf("%s\n", rr_type_name(res->qtype));
		}
	}
}

static void
print_host(const struct resolver_host *h)
{
	printf("host name=%s canon=%s cname=%d chain_secure=%d first_link_secure=%d "
	    "first_link=%s\n", h->name, h->canonname, h->cname, h->chain_secure,
	    h->first_link_secure, h->first_link ? dns_state_name(h->first_link->state) :
	    "none");
	printf("host_error=%s bogus=%d\n", h->error ? h->error : "none",
	    h->error_bogus);
	if (h->a != NULL)
		print_result("a", h->a);
	if (h->aaaa != NULL)
		print_result("aaaa", h->aaaa);
	if (h->first_link != NULL)
		print_result("first_link", h->first_link);
}

static void
done(void)
{
	if (--outstanding <= 0)
		event_base_loopbreak(base);
}

static void
result_cb(struct dns_result *res, void *arg)
{
	print_result(arg, res);
	dns_result_free(res);
	done();
}

static void
host_cb(struct resolver_host *h, void *arg)
{
	print_host(h);
	resolver_host_free(h);
	done();
}

static uint64_t mx_seed;

static void
mx_cb(struct dns_result *res, void *arg)
{
	struct mx_list	l;
	size_t		i;

	print_result("mxresult", res);
	mx_list_build(&l, res, 0, 0, mx_seed);
	printf("mx status=%s state=%s domain=%s canon=%s nhosts=%zu hosts=",
	    mx_status_name(l.status), dns_state_name(l.state), l.domain,
	    l.canonname, l.nhosts);
	for (i = 0; i < l.nhosts; i++)
		printf("%s%s:%u", i ? "," : "", l.hosts[i].name, l.hosts[i].pref);
	printf("\n");
	mx_list_clear(&l);
	dns_result_free(res);
	done();
}

static void
check_cb(bool ok, const char *detail, void *arg)
{
	printf("check ok=%d detail=%s\n", ok, detail);
	done();
}

/* ---- nonblock: the loop serves while a dead lookup is pending ---- */

static int	ticks;
static bool	slow_done;

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	ticks++;
	if (!slow_done)
		printf("event tick %d\n", ticks);
}

static void
nb_slow_cb(struct dns_result *res, void *arg)
{
	slow_done = true;
	printf("event slow ticks=%d\n", ticks);
	print_result("slow", res);
	dns_result_free(res);
	done();
}

static void
nb_fast_cb(struct dns_result *res, void *arg)
{
	printf("event fast ticks=%d slow_pending=%d\n", ticks, !slow_done);
	print_result("fast", res);
	dns_result_free(res);
	done();
}

/* ---- cancel ---- */

static int	cancelled_calls;

static void
never_cb(struct dns_result *res, void *arg)
{
	cancelled_calls++;
	printf("event cancelled-callback %s\n", res->qname);
	dns_result_free(res);
}

static void
never_host_cb(struct resolver_host *h, void *arg)
{
	cancelled_calls++;
	printf("event cancelled-callback %s\n", h->name);
	resolver_host_free(h);
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(base);
}

int
main(int argc, char *argv[])
{
	const char	*conf_file = NULL, *ta = NULL, *cmd;
	unsigned	 timeout = 0, max_hosts = 5, max_addr = 10;
	char		 err[512];
	int		 ch, rv = 0;

	while ((ch = getopt(argc, argv, "A:C:H:T:t:")) != -1) {
		switch (ch) {
		case 'A':
			max_addr = (unsigned)atoi(optarg);
			break;
		case 'C':
			conf_file = optarg;
			break;
		case 'H':
			max_hosts = (unsigned)atoi(optarg);
			break;
		case 'T':
			ta = optarg;
			break;
		case 't':
			timeout = (unsigned)atoi(optarg);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	cmd = argv[0];
	setvbuf(stdout, NULL, _IOLBF, 0);
	evthread_use_pthreads();

	if (strcmp(cmd, "resolve") == 0) {
		struct conf conf;

		if (argc != 3)
			usage();
		memset(&conf, 0, sizeof(conf));
		conf.resolver_config = (char *)conf_file;
		conf.trust_anchor_file = (char *)ta;
		conf.max_mx_hosts = max_hosts;
		conf.max_mx_addresses = max_addr;
		return cmd_resolve(&conf, argv[1], atoi(argv[2]));
	}

	base = event_base_new();
	res_r = resolver_new(base, conf_file, ta, err, sizeof(err));
	if (res_r == NULL) {
		printf("error %s\n", err);
		event_base_free(base);
		return 2;
	}
	if (timeout)
		resolver_set_timeout(res_r, timeout);

	if (strcmp(cmd, "lookup") == 0 && argc == 3) {
		outstanding = 1;
		resolver_lookup(res_r, argv[2], type_of(argv[1]), result_cb, "result");
	} else if (strcmp(cmd, "host") == 0 && argc == 2) {
		outstanding = 1;
		resolver_lookup_host(res_r, argv[1], RESOLVER_V4 | RESOLVER_V6, host_cb, NULL);
	} else if (strcmp(cmd, "tlsa") == 0 && argc == 3) {
		outstanding = 1;
		resolver_lookup_tlsa(res_r, argv[2], (unsigned)atoi(argv[1]), result_cb,
		    "result");
	} else if (strcmp(cmd, "mx") == 0 && (argc == 2 || argc == 3)) {
		outstanding = 1;
		mx_seed = argc == 3 ? strtoull(argv[2], NULL, 10) : 1;
		resolver_lookup_mx(res_r, argv[1], mx_cb, NULL);
	} else if (strcmp(cmd, "check") == 0 && argc == 1) {
		outstanding = 1;
		resolver_check_validation(res_r, check_cb, NULL);
	} else if (strcmp(cmd, "nonblock") == 0 && argc == 3) {
		struct timeval	 tv = { 0, 50000 };
		struct event	*tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);

		outstanding = 2;
		resolver_lookup(res_r, argv[1], DNS_T_A, nb_slow_cb, NULL);
		event_add(tick, &tv);
		resolver_lookup(res_r, argv[2], DNS_T_A, nb_fast_cb, NULL);
		while (outstanding > 0)
			event_base_loop(base, EVLOOP_ONCE);
		event_free(tick);
	} else if (strcmp(cmd, "cancel") == 0 && argc == 3) {
		struct resolver_query	*q[4];
		struct timeval		 tv = { 0, 300000 };
		struct event		*stop = evtimer_new(base, stop_cb, NULL);

		/* slow and fast lookups, cancelled at once and after 0.3 s */
		q[0] = resolver_lookup(res_r, argv[1], DNS_T_A, never_cb, NULL);
		q[1] = resolver_lookup(res_r, argv[2], DNS_T_A, never_cb, NULL);
		q[2] = resolver_lookup_host(res_r, argv[1], 0, never_host_cb, NULL);
		q[3] = resolver_lookup_tlsa(res_r, argv[2], 25, never_cb, NULL);
		resolver_cancel(q[0]);
		resolver_cancel(q[1]);
		resolver_cancel(q[3]);
		evtimer_add(stop, &tv);
		event_base_dispatch(base);
		if (cancelled_calls == 0)	/* else it is gone: nothing to cancel */
			resolver_cancel(q[2]);
		tv.tv_sec = 3;
		tv.tv_usec = 0;
		evtimer_add(stop, &tv);
		event_base_dispatch(base);
		event_free(stop);
		printf("cancel %s calls=%d\n", cancelled_calls ? "FAILED" : "ok",
		    cancelled_calls);
	} else
		usage();
	if (outstanding > 0)
		event_base_dispatch(base);
	resolver_free(res_r);
	event_base_free(base);
	return rv;
}
