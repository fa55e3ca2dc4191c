# SPDX-License-Identifier: MIT
#
# kstapled: one non-recursive Makefile, out-of-tree build in $(BUILD).
#
#   make                 daemon and test tools
#   make check           what CI runs, in this order (minutes on the 2-core
#                        box, from the mk/*.mk and README notes; - where
#                        none is written down):
#                          unit           criterion unit tests            -
#                          san-unit       the same under ASan+UBSan       -
#                          integration    real daemon, real clients       -
#                          allocfail      allocation-failure sweep        1-3
#                          bench-test     the load generator's own tests  -
#                          fuzz-check     fuzz corpora + 20 s mutating    3
#                          hwtest         kTLS in QEMU guests, 5 boots    20
#                          ktls-alone     ktls/ builds without daemon/    0.1
#                          lint           clang-tidy (.clang-tidy)        0.5
#                          format-check   clang-format has nothing to do  0.2
#                          soak           90 s sanitizer soak             2
#                          systemd-vm-check  under systemd in QEMU        2-3
#                          trixie-check   trixie build, tests, kTLS boot  9
#                        (unit, san-unit, integration from this Makefile,
#                        the rest from mk/*.mk's CHECK_EXTRA, in file order)
#   make lint            clang-tidy; make format / format-check: clang-format
#   make unit            criterion unit tests
#   make integration     the real daemon against real clients
#   make hwtest          kTLS in QEMU guests booted from Debian's kernels
#                        (6.1, 6.12, sid's; KST_VM_KERNELS selects)
#   make demo            self-contained demo (see README)
#   make bench           side-by-side benchmark against hitch, HAProxy, nginx
#   make SAN=1           ASan+UBSan build (use another BUILD)
#   make deps            apt-install what the build, demo and tests need
#
# Sources are found by wildcard: a new daemon/AREA/*.c or ktls/*.c joins the
# daemon, tests/unit/test_*.c and tests/integration/test_*.c become test
# binaries, tests/tools/*.c become tools. Areas with their own pipeline
# (BPF, VM harness, benchmark) add rules in mk/*.mk.

.SUFFIXES:
.DELETE_ON_ERROR:
.DEFAULT_GOAL := all

BUILD      ?= build
CC         ?= cc
CLANG      ?= clang
BPFTOOL    ?= bpftool
PKG_CONFIG ?= pkg-config
SAN        ?= 0
# Warnings are errors in CI; locally they stay warnings unless WERROR=1.
WERROR     ?= $(if $(CI),1,0)
V          ?= 0
Q          := $(if $(filter 1,$(V)),,@)

PKGS := openssl libbpf libnl-3.0 libnl-genl-3.0 libsystemd libcap libcares
ifneq ($(MAKECMDGOALS),deps)
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CRIT_LIBS  := $(shell $(PKG_CONFIG) --libs criterion 2>/dev/null)
endif

OPT_CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wvla -Wundef \
	-Wno-missing-field-initializers
HARDEN := -fstack-protector-strong -fstack-clash-protection -fcf-protection \
	-fPIE -D_FORTIFY_SOURCE=2
HARDEN_LD := -pie -Wl,-z,relro,-z,now,-z,noexecstack

ifeq ($(SAN),1)
OPT_CFLAGS := -O1 -g -fno-omit-frame-pointer
HARDEN := -fPIE
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
endif
ifeq ($(WERROR),1)
WARN += -Werror
endif

KST_CPPFLAGS := -D_GNU_SOURCE -I. -I$(BUILD) -MMD -MP
KST_CFLAGS := -std=gnu11 $(OPT_CFLAGS) $(WARN) $(HARDEN) $(SAN_FLAGS) \
	$(PKG_CFLAGS) $(CFLAGS)
KST_LDFLAGS := $(HARDEN_LD) $(SAN_FLAGS) $(LDFLAGS)
KST_LIBS := $(PKG_LIBS) -lpthread

# ---------------------------------------------------------------- daemon
MAIN_SRC  := daemon/control/main.c
LIB_SRCS  := $(filter-out $(MAIN_SRC),$(sort $(wildcard daemon/*/*.c ktls/*.c)))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
KST_LIB   := $(BUILD)/libkst.a
KSTAPLED  := $(BUILD)/kstapled

# Generated headers (BPF skeletons) every object may include; mk/bpf.mk
# appends to it.
GENERATED :=

$(BUILD)/%.o: %.c | $(BUILD)/.dirs generated
	@mkdir -p $(@D)
	$(if $(Q),@echo "  CC      $<")
	$(Q)$(CC) $(KST_CPPFLAGS) $(KST_CFLAGS) -c $< -o $@

$(KST_LIB): $(LIB_OBJS)
	$(if $(Q),@echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(KSTAPLED): $(BUILD)/daemon/control/main.o $(KST_LIB)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(KST_LDFLAGS) -o $@ $^ $(KST_LIBS)

# ---------------------------------------------------------------- tools
# Test and demo tools: each tests/tools/NAME.c is one program; they may use
# the test library (tests/lib) and the daemon's library.
TESTLIB_SRCS := $(sort $(wildcard tests/lib/*.c))
TESTLIB_OBJS := $(TESTLIB_SRCS:%.c=$(BUILD)/%.o)
TESTLIB      := $(BUILD)/libkst-test.a
TOOL_SRCS    := $(sort $(wildcard tests/tools/*.c))
TOOLS        := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)

$(TESTLIB): $(TESTLIB_OBJS)
	$(if $(Q),@echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(TESTLIB) $(KST_LIB)
	@mkdir -p $(@D)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(KST_LDFLAGS) -o $@ $^ $(KST_LIBS)

# ---------------------------------------------------------------- tests
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
INTEG_SRCS := $(sort $(wildcard tests/integration/test_*.c))
INTEG_BINS := $(INTEG_SRCS:tests/integration/%.c=$(BUILD)/tests/integration/%)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(TESTLIB) $(KST_LIB)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(KST_LDFLAGS) -o $@ $^ $(CRIT_LIBS) $(KST_LIBS)

$(BUILD)/tests/integration/%: $(BUILD)/tests/integration/%.o $(TESTLIB) $(KST_LIB)
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(KST_LDFLAGS) -o $@ $^ $(CRIT_LIBS) $(KST_LIBS)

# The test PKI (scripts/pki.sh), minted once per build directory. Tests
# find it through KST_TEST_PKI; the sources through KST_SRCDIR.
TEST_PKI := $(BUILD)/pki/.stamp
$(TEST_PKI): scripts/pki.sh
	$(if $(Q),@echo "  PKI     $(@D)")
	$(Q)rm -rf $(@D) && scripts/pki.sh -s $(@D) && touch $@
TEST_ENV := KST_TEST_PKI=$(abspath $(BUILD)/pki) KST_SRCDIR=$(CURDIR) \
	KST_BUILD=$(abspath $(BUILD))

# ---------------------------------------------------------------- areas
-include $(sort $(wildcard mk/*.mk))

# ---------------------------------------------------------------- goals
.PHONY: all generated unit integration check san-unit demo deps clean

all: $(KSTAPLED) $(TOOLS)

generated: $(GENERATED)

$(BUILD)/.dirs:
	@mkdir -p $(BUILD)
	@touch $@

unit: $(UNIT_BINS) $(TEST_PKI)
	$(Q)$(TEST_ENV) tests/run.sh unit $(UNIT_BINS)

integration: $(KSTAPLED) $(TOOLS) $(INTEG_BINS) $(TEST_PKI)
	$(Q)$(TEST_ENV) tests/run.sh integration $(INTEG_BINS)

# Unit tests again under ASan+UBSan, in their own build directory.
san-unit:
	$(Q)$(MAKE) --no-print-directory SAN=1 BUILD=$(BUILD)/san unit

check: unit san-unit integration $(CHECK_EXTRA)

demo: all
	$(Q)scripts/demo.sh

deps:
	$(Q)scripts/deps.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -type f -name '*.d' 2>/dev/null)
