# danerelay - one non-recursive Makefile.
# Every .c under relay/ resolver/ tls/ queue/ conf/ is part of the daemon;
# relay/main.c holds main() and is kept out of libdanerelay.a so that unit
# tests (tests/unit/test_*.c) link against the library and pull in only the
# modules they use.

CC       ?= cc
PKGS      = openssl libevent libevent_openssl libevent_pthreads libunbound
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN      = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(PKG_CFLAGS) -I.
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

.PHONY: all deps check demo clean unit asan-build fuzz fuzz-build
all: danerelay

danerelay: $(B)/danerelay
	cp $(B)/danerelay $@

$(B)/danerelay: $(B)/relay/main.o $(B)/libdanerelay.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/libdanerelay.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/%: tests/unit/%.c tests/unit/check.h $(B)/libdanerelay.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libdanerelay.a $(LDLIBS)

# Test drivers run by e2e scripts (tests/tools/NAME.c -> $(B)/tests/tools/NAME).
$(B)/tests/tools/%: tests/tools/%.c $(B)/libdanerelay.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libdanerelay.a $(LDLIBS)

$(B)/sink: $(SINK_SRCS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(SINK_SRCS) $(LDLIBS)

unit: $(UNIT_BINS) $(TOOL_BINS)

deps:
	./scripts/install-deps

# The test build: AddressSanitizer + UBSan, in its own directory.
ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan-build: deps
	$(MAKE) B=build-asan CFLAGS="$(ASAN_FLAGS)" build-asan/danerelay build-asan/sink \
	    $(UNIT_SRCS:tests/unit/%.c=build-asan/tests/%) \
	    $(TOOL_SRCS:tests/tools/%.c=build-asan/tests/tools/%)

# The fuzz build: clang + libFuzzer, a third copy of the library in its own
# directory (tests/fuzz/README). The library is instrumented for coverage
# (fuzzer-no-link); only the targets link libFuzzer's main().
FUZZ_CC    = clang
FUZZ_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_SRCS  = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60

fuzz-build: deps
	$(MAKE) B=build-fuzz CC=$(FUZZ_CC) CFLAGS="$(FUZZ_FLAGS) -fsanitize=fuzzer-no-link" \
	    $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/fuzz/%)

$(B)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(B)/libdanerelay.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< $(B)/libdanerelay.a $(LDLIBS)

# Each target for FUZZ_SECONDS; prints executions and any crash per target.
fuzz: fuzz-build
	./scripts/fuzz $(FUZZ_SECONDS)

check: asan-build fuzz-build
	./tests/run build-asan

demo: deps all $(B)/sink
	./scripts/demo

clean:
	rm -rf build build-asan build-fuzz danerelay

-include $(LIB_OBJS:.o=.d) $(B)/relay/main.d $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz/%.d)
