# danerelay - one non-recursive Makefile.
# Every .c under relay/ resolver/ tls/ queue/ conf/ is part of the daemon;
# relay/main.c holds main() and is kept out of libdanerelay.a so that unit
# tests (tests/unit/test_*.c) link against the library and pull in only the
# modules they use.

# Build flags. CPPFLAGS, CFLAGS and LDFLAGS from the environment or the
# command line are honoured (a packager's `dpkg-buildflags` hardening
# applies). -Werror: on in the developer and test builds (plain `make`,
# `make asan-build`, `make check`), off when CFLAGS comes from outside, so
# that a packager's newer compiler with a new warning still builds; force
# it either way with WERROR=-Werror or WERROR= .
#
# Install: `make install` (PREFIX, DESTDIR; see the install target at the
# end). The configuration lives in /etc/danerelay whatever PREFIX is: the
# daemon's default -c path is /etc/danerelay/danerelay.conf.
PREFIX   ?= /usr/local
SBINDIR  ?= $(PREFIX)/sbin
MANDIR   ?= $(PREFIX)/share/man
UNITDIR  ?= $(PREFIX)/lib/systemd/system
CONFDIR  ?= /etc/danerelay
LOGROTATEDIR ?= /etc/logrotate.d
SPOOLDIR ?= /var/spool/danerelay
LOGDIR   ?= /var/log/danerelay
RELAY_USER ?= danerelay
DESTDIR  ?=
INSTALL  ?= install
MANPAGES  = man/danerelay.8 man/danerelay.conf.5

CC       ?= cc
PKGS      = openssl libevent libevent_openssl libevent_pthreads libunbound
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN      = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
ifneq ($(filter undefined default,$(origin CFLAGS)),)
CFLAGS    = -O2 -g
WERROR   ?= -Werror
endif
WERROR   ?=
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(WERROR) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -I.
LDLIBS    = $(PKG_LIBS) -lpthread

B        ?= build
SRC_DIRS  = relay resolver tls queue conf
LIB_SRCS  = $(filter-out relay/main.c,$(sort $(wildcard $(addsuffix /*.c,$(SRC_DIRS)))))
LIB_OBJS  = $(LIB_SRCS:%.c=$(B)/%.o)
UNIT_SRCS = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
SINK_SRCS = $(sort $(wildcard tests/sink/*.c))
TOOL_SRCS = $(sort $(wildcard tests/tools/*.c))
TOOL_BINS = $(TOOL_SRCS:tests/tools/%.c=$(B)/tests/tools/%)

.PHONY: all deps check demo clean unit asan-build soak fuzz fuzz-build bench
all: danerelay

danerelay: $(B)/danerelay
	cp $(B)/danerelay $@

$(B)/danerelay: $(B)/relay/main.o $(B)/libdanerelay.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/libdanerelay.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/%: tests/unit/%.c tests/unit/check.h $(B)/libdanerelay.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libdanerelay.a $(LDLIBS)

# Test drivers run by e2e scripts (tests/tools/NAME.c -> $(B)/tests/tools/NAME).
$(B)/tests/tools/%: tests/tools/%.c $(B)/libdanerelay.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libdanerelay.a $(LDLIBS)

$(B)/sink: $(SINK_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(SINK_SRCS) $(LDLIBS)

# The load generator of scripts/bench (make bench).
$(B)/loadgen: tests/bench/loadgen.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

# What one TLS handshake costs in OpenSSL itself, and what a durable write
# costs on the spool's file system (README "Benchmark").
$(B)/tls_cost: tests/bench/tls_cost.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

$(B)/sync_cost: tests/bench/sync_cost.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

unit: $(UNIT_BINS) $(TOOL_BINS)

deps:
	./scripts/install-deps

# The test build: AddressSanitizer + UBSan, in its own directory.
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan-build: deps
	$(MAKE) B=build-asan CFLAGS="$(ASAN_FLAGS)" WERROR=-Werror build-asan/danerelay build-asan/sink build-asan/loadgen build-asan/tls_cost build-asan/sync_cost \
	    $(UNIT_SRCS:tests/unit/%.c=build-asan/tests/%) \
	    $(TOOL_SRCS:tests/tools/%.c=build-asan/tests/tools/%)

# The fuzz build: clang + libFuzzer, a third copy of the library in its own
# directory (README, Tests). The library is instrumented for coverage
# (fuzzer-no-link); only the targets link libFuzzer's main().
FUZZ_CC    = clang
FUZZ_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_SRCS  = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60

fuzz-build: deps
	$(MAKE) B=build-fuzz CC=$(FUZZ_CC) CFLAGS="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" WERROR=-Werror \
	    $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/fuzz/%)

$(B)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(B)/libdanerelay.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< $(B)/libdanerelay.a $(LDLIBS)

# Each target for FUZZ_SECONDS; prints executions and any crash per target.
fuzz: fuzz-build
	./scripts/fuzz $(FUZZ_SECONDS)

# make check: the three test builds (ASan, fuzz, TSan) side by side, one
# job per CPU unless -j was given, then tests/run (lanes: README, Tests).
CHECK_J = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc 2>/dev/null || echo 1) --output-sync=target)
check:
	$(MAKE) $(CHECK_J) check-build
	./tests/run build-asan
.PHONY: check-build
check-build: asan-build fuzz-build

# The crash-cycle soak: 100 SIGKILL/restart cycles under load (scripts/soak).
soak: asan-build
	./scripts/soak

# The side-by-side benchmark against Postfix (scripts/bench; BENCH_ARGS
# passes options, e.g. BENCH_ARGS="--duration 5 --scenarios dane-reuse-10").
bench: deps all $(B)/sink $(B)/loadgen $(B)/tls_cost $(B)/sync_cost
	./scripts/bench $(BENCH_ARGS)

demo: deps all $(B)/sink
	./scripts/demo

clean:
	rm -rf build build-asan build-fuzz danerelay

-include $(LIB_OBJS:.o=.d) $(B)/relay/main.d $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz/%.d)

# ---- install and uninstall -------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=]: the daemon in $(SBINDIR), the
# man pages in $(MANDIR)/man5 and man8, the systemd unit in $(UNITDIR) (with
# ExecStart pointing at $(SBINDIR)), the example configuration as
# $(CONFDIR)/danerelay.conf and the logrotate snippet as
# $(LOGROTATEDIR)/danerelay, each only if there is none. Without DESTDIR (a real
# install, not a package build) it also creates the system user and group
# $(RELAY_USER) (idempotent), the spool $(SPOOLDIR) (0700) and the log
# directory $(LOGDIR) (0750), both owned by that user, and tells systemd.
# make uninstall removes what install put there; it keeps a configuration
# or logrotate snippet that was changed, the spool (mail may be in it), the
# logs and the user.
.PHONY: install uninstall
install: $(B)/danerelay
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(CONFDIR) \
	    $(DESTDIR)$(LOGROTATEDIR)
	$(INSTALL) -m 0755 $(B)/danerelay $(DESTDIR)$(SBINDIR)/danerelay
	$(INSTALL) -m 0644 man/danerelay.8 $(DESTDIR)$(MANDIR)/man8/danerelay.8
	$(INSTALL) -m 0644 man/danerelay.conf.5 $(DESTDIR)$(MANDIR)/man5/danerelay.conf.5
	sed 's|/usr/local/sbin/danerelay|$(SBINDIR)/danerelay|' \
	    scripts/danerelay.service > $(DESTDIR)$(UNITDIR)/danerelay.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/danerelay.service
	@if [ -e $(DESTDIR)$(LOGROTATEDIR)/danerelay ]; then \
		echo "install: keeping the existing $(DESTDIR)$(LOGROTATEDIR)/danerelay"; \
	else \
		echo "install scripts/danerelay.logrotate $(DESTDIR)$(LOGROTATEDIR)/danerelay"; \
		sed 's|/usr/local/sbin/danerelay|$(SBINDIR)/danerelay|' \
		    scripts/danerelay.logrotate > $(DESTDIR)$(LOGROTATEDIR)/danerelay; \
		chmod 0644 $(DESTDIR)$(LOGROTATEDIR)/danerelay; \
	fi
	@if [ -e $(DESTDIR)$(CONFDIR)/danerelay.conf ]; then \
		echo "install: keeping the existing $(DESTDIR)$(CONFDIR)/danerelay.conf"; \
	else \
		echo "$(INSTALL) -m 0644 conf/danerelay.conf.example $(DESTDIR)$(CONFDIR)/danerelay.conf"; \
		$(INSTALL) -m 0644 conf/danerelay.conf.example $(DESTDIR)$(CONFDIR)/danerelay.conf; \
	fi
	@if [ -z "$(DESTDIR)" ]; then \
		set -e; \
		getent group $(RELAY_USER) >/dev/null || \
		    { echo "groupadd --system $(RELAY_USER)"; groupadd --system $(RELAY_USER); }; \
		getent passwd $(RELAY_USER) >/dev/null || \
		    { echo "useradd --system $(RELAY_USER)"; \
		      useradd --system --gid $(RELAY_USER) --home-dir $(SPOOLDIR) \
		        --no-create-home --shell /usr/sbin/nologin \
		        --comment "danerelay SMTP relay" $(RELAY_USER); }; \
		$(INSTALL) -d -m 0700 -o $(RELAY_USER) -g $(RELAY_USER) $(SPOOLDIR); \
		$(INSTALL) -d -m 0750 -o $(RELAY_USER) -g $(RELAY_USER) $(LOGDIR); \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	fi

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/danerelay \
	    $(DESTDIR)$(MANDIR)/man8/danerelay.8 \
	    $(DESTDIR)$(MANDIR)/man5/danerelay.conf.5 \
	    $(DESTDIR)$(UNITDIR)/danerelay.service
	@if sed 's|/usr/local/sbin/danerelay|$(SBINDIR)/danerelay|' scripts/danerelay.logrotate | \
	    cmp -s - $(DESTDIR)$(LOGROTATEDIR)/danerelay; then \
		echo "rm -f $(DESTDIR)$(LOGROTATEDIR)/danerelay (unchanged)"; \
		rm -f $(DESTDIR)$(LOGROTATEDIR)/danerelay; \
	elif [ -e $(DESTDIR)$(LOGROTATEDIR)/danerelay ]; then \
		echo "uninstall: keeping $(DESTDIR)$(LOGROTATEDIR)/danerelay (changed)"; \
	fi
	@if cmp -s conf/danerelay.conf.example $(DESTDIR)$(CONFDIR)/danerelay.conf; then \
		echo "rm -f $(DESTDIR)$(CONFDIR)/danerelay.conf (unchanged example)"; \
		rm -f $(DESTDIR)$(CONFDIR)/danerelay.conf; \
		rmdir $(DESTDIR)$(CONFDIR) 2>/dev/null || true; \
	elif [ -e $(DESTDIR)$(CONFDIR)/danerelay.conf ]; then \
		echo "uninstall: keeping $(DESTDIR)$(CONFDIR)/danerelay.conf (changed)"; \
	fi
	@if [ -z "$(DESTDIR)" ]; then \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
		echo "uninstall: kept $(SPOOLDIR), $(LOGDIR) and the user $(RELAY_USER) (userdel $(RELAY_USER) to remove it)"; \
	fi

# ---- ThreadSanitizer build ---------------------------------------------------
# make tsan-build: the daemon, the test sink and the unit tests of the
# cross-thread parts (tests/unit/test_queue.c, test_handoff.c, test_flow.c, test_log.c) built with -fsanitize=thread in build-tsan/ (gcc
# with Debian's libtsan2). When build-tsan/ exists, tests/run runs those unit
# tests and a subset of the inbound and delivery scenarios against it
# (entries tsan:NAME; TSAN_TESTS in tests/run), with the suppressions in
# tests/tsan.supp. Alone: make tsan-check.
TSAN_FLAGS = -O1 -g -fsanitize=thread -fno-omit-frame-pointer
.PHONY: tsan-build tsan-check
tsan-build: deps
	$(MAKE) B=build-tsan CFLAGS="$(TSAN_FLAGS)" WERROR=-Werror build-tsan/danerelay build-tsan/sink \
	    build-tsan/tests/test_queue build-tsan/tests/test_handoff build-tsan/tests/test_queue_attach \
	    build-tsan/tests/test_flow build-tsan/tests/test_log

tsan-check: tsan-build
	TSAN_ONLY=1 ./tests/run build-tsan

# make check also runs the TSan entries (tests/run, tsan:NAME).
check-build: tsan-build
clean: tsan-clean
.PHONY: tsan-clean
tsan-clean:
	rm -rf build-tsan

# ---- valgrind ------------------------------------------------------------------
# make vg-build: the release build in build/ (the daemon `make` installs,
# -O2 -g) and its unit tests, which tests/run runs under valgrind's
# memcheck when they are there (entries vg:NAME; the scenario t_valgrind
# runs build/danerelay under it; tests/valgrind holds the options, and
# tests/valgrind.supp any suppression). Alone: make valgrind-check.
.PHONY: vg-build valgrind-check
vg-build: deps
	$(MAKE) B=build WERROR=-Werror build/danerelay build/sink $(UNIT_SRCS:tests/unit/%.c=build/tests/%)

valgrind-check: vg-build
	VALGRIND_ONLY=1 ./tests/run build

# make check also runs the valgrind entries (tests/run, vg:NAME, t_valgrind).
check-build: vg-build
