# SPDX-License-Identifier: MIT
# vmspy: one non-recursive Makefile.  `make` builds build/libvmspy.so and
# build/vmspy; `make check` runs every test; `make demo` shows the main job.
# V=1 shows the commands.

CC ?= gcc
CLANG ?= clang
O ?= build
OPT ?= -O2
WARN = -Wall -Wextra -Werror
CSTD = -std=gnu11
BASE_CFLAGS = $(CSTD) $(OPT) -g $(WARN) -Iinclude -MMD -MP
# The preload is linked with link-time optimization: the hot path crosses
# files (hooks -> recorder -> log, clock, sequence numbers), and inlining
# across them saves ~8 ns per event.  Fat objects: the unit tests link the
# same objects without it.
PRELOAD_LTO ?= -flto=auto -ffat-lto-objects
PRELOAD_CFLAGS = $(BASE_CFLAGS) -fPIC -fvisibility=hidden \
	-ftls-model=initial-exec -fno-omit-frame-pointer -D_GNU_SOURCE \
	$(PRELOAD_LTO)
ANALYZER_CFLAGS = $(BASE_CFLAGS) -D_GNU_SOURCE
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
PRELOAD_LIBS = -lunwind -lzstd -ldl -lpthread
ANALYZER_LIBS = -ldw -lelf -lzstd -lm

ifeq ($(V),1)
Q =
else
Q = @
endif

# Every .c of a directory belongs to its program; the hooks file is the only
# preload object kept out of the unit tests (it defines malloc itself).
PRELOAD_SRCS := $(sort $(wildcard preload/*.c))
PRELOAD_CORE_SRCS := $(filter-out preload/hooks.c,$(PRELOAD_SRCS))
ANALYZER_SRCS := $(sort $(wildcard analyzer/*.c))
ANALYZER_LIB_SRCS := $(filter-out analyzer/main.c,$(ANALYZER_SRCS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))

PRELOAD_OBJS := $(PRELOAD_SRCS:%.c=$(O)/obj/%.o)
PRELOAD_CORE_OBJS := $(PRELOAD_CORE_SRCS:%.c=$(O)/obj/%.o)
ANALYZER_OBJS := $(ANALYZER_SRCS:%.c=$(O)/obj/%.o)
ANALYZER_LIB_OBJS := $(ANALYZER_LIB_SRCS:%.c=$(O)/obj/%.o)
ANALYZER_SAN_OBJS := $(ANALYZER_SRCS:%.c=$(O)/san/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(O)/examples/%)

all: $(O)/libvmspy.so $(O)/vmspy

$(O)/libvmspy.so: $(PRELOAD_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(OPT) $(PRELOAD_LTO) -fPIC -shared -o $@ $^ $(PRELOAD_LIBS) \
		-Wl,-z,nodelete

$(O)/vmspy: $(ANALYZER_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(ANALYZER_LIBS)

$(O)/vmspy-asan: $(ANALYZER_SAN_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(ANALYZER_LIBS)

$(O)/obj/preload/%.o: preload/%.c | $(O)/obj/preload
	@echo "  CC      $@"
	$(Q)$(CC) $(PRELOAD_CFLAGS) -c -o $@ $<

$(O)/obj/analyzer/%.o: analyzer/%.c | $(O)/obj/analyzer
	@echo "  CC      $@"
	$(Q)$(CC) $(ANALYZER_CFLAGS) -c -o $@ $<

$(O)/san/analyzer/%.o: analyzer/%.c | $(O)/san/analyzer
	@echo "  CC      $@"
	$(Q)$(CC) $(ANALYZER_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

# Unit tests link the analyzer's library objects and the preload's core
# objects (never its hooks), and cmocka.
$(O)/tests/%: tests/unit/%.c $(ANALYZER_LIB_OBJS) $(PRELOAD_CORE_OBJS) | $(O)/tests
	@echo "  CC      $@"
	$(Q)$(CC) $(ANALYZER_CFLAGS) -Ianalyzer -Ipreload -o $@ $^ \
		-lcmocka $(ANALYZER_LIBS) $(PRELOAD_LIBS)

# Examples: plain programs with known ground truth, built with frame
# pointers and debug info so their stacks symbolize well.
$(O)/examples/%: examples/%.c | $(O)/examples
	@echo "  CC      $@"
	$(Q)$(CC) -std=gnu11 -O0 -g -Wall -Wextra -Werror -Iinclude -D_GNU_SOURCE \
		-fno-omit-frame-pointer -fno-builtin -o $@ $< -lpthread -ldl -lrt

$(O)/obj/preload $(O)/obj/analyzer $(O)/san/analyzer $(O)/tests $(O)/examples:
	$(Q)mkdir -p $@

examples: $(EXAMPLE_BINS)

deps:
	$(Q)./tools/deps.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all examples
	$(Q)./tools/demo.sh

unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do echo "  UNIT    $$t"; $$t; done

check: deps
	$(Q)$(MAKE) --no-print-directory all examples $(O)/vmspy-asan $(UNIT_BINS)
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)./tests/e2e/run.sh
	$(Q)set -e; for t in tests/e2e/leaks.sh tests/e2e/maps.sh tests/e2e/diff.sh tests/e2e/compress.sh tests/e2e/size.sh tests/e2e/reliability.sh; do \
		echo "  E2E     $$t"; ./$$t; done
	$(Q)./tests/fuzz/run.sh

# The reader's libFuzzer target, FUZZ_SECONDS long (default 60).
fuzz:
	$(Q)./tests/fuzz/run.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all examples
	$(Q)./bench/run.sh

clean:
	rm -rf $(O)

.PHONY: all deps demo unit check bench clean examples fuzz
.DELETE_ON_ERROR:

-include $(shell find $(O) -name '*.d' 2>/dev/null)
