# SPDX-License-Identifier: MIT
#
# libFuzzer targets (fuzz/fuzz_NAME.c -> $(BUILD)/fuzz/fuzz_NAME), built by
# clang with ASan+UBSan against the daemon's sources compiled again, with
# coverage instrumentation, into $(BUILD)/fuzz/obj (the daemon's own build
# is untouched). fuzz/run.sh runs them.
#
#   make fuzz                       build every target
#   make fuzz-check                 every target on its corpus (fuzz/corpus
#                                   and fuzz/regressions), then mutating for
#                                   FUZZ_CHECK_SECONDS each; part of `check`
#   make fuzz-long FUZZ_SECONDS=600 the same, longer (FUZZ_TARGETS=ocsp to
#                                   pick targets)
#   make fuzz-seeds                 rewrite fuzz/corpus/ from the targets'
#                                   seed writers (KST_FUZZ_SEEDS mode)

FUZZ_CC            ?= $(CLANG)
FUZZ_DIR           := $(BUILD)/fuzz
FUZZ_CHECK_SECONDS ?= 20
FUZZ_SECONDS       ?= 600
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CPPFLAGS := -D_GNU_SOURCE -I. -I$(BUILD) -MMD -MP
# The daemon's warnings gate is the gcc build; clang here warns on what gcc
# accepts (the v*printf wrappers, NLMSG_OK's signedness), so the daemon's
# sources get clang's warnings without -Werror, fuzz/ gets them all.
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(FUZZ_SAN) $(PKG_CFLAGS) $(CFLAGS)
FUZZ_LIB_WARN := $(filter-out -Werror,$(WARN)) -Wno-format-nonliteral \
	-Wno-sign-compare

FUZZ_SRCS    := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_COMMON  := fuzz/fuzz_common.c
FUZZ_TSRCS   := $(filter-out $(FUZZ_COMMON),$(FUZZ_SRCS))
FUZZ_NAMES   := $(FUZZ_TSRCS:fuzz/fuzz_%.c=%)
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_TARGETS ?= $(FUZZ_NAMES)

FUZZ_LIB_OBJS  := $(LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_TEST_OBJS := $(TESTLIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_LIB       := $(FUZZ_DIR)/libkst.a
FUZZ_TESTLIB   := $(FUZZ_DIR)/libkst-test.a

# The daemon and test library: coverage for libFuzzer, no main.
$(FUZZ_DIR)/obj/%.o: %.c | $(BUILD)/.dirs generated
	@mkdir -p $(@D)
	$(if $(Q),@echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_LIB_WARN) $(FUZZ_CFLAGS) \
		-fsanitize=fuzzer-no-link -c $< -o $@

# The targets themselves: every warning, an error under WERROR=1.
$(FUZZ_DIR)/obj/fuzz/%.o: fuzz/%.c | $(BUILD)/.dirs generated
	@mkdir -p $(@D)
	$(if $(Q),@echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(WARN) $(FUZZ_CFLAGS) \
		-fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	$(if $(Q),@echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_TESTLIB): $(FUZZ_TEST_OBJS)
	$(if $(Q),@echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/fuzz/fuzz_%.o \
		$(FUZZ_DIR)/obj/fuzz/fuzz_common.o $(FUZZ_TESTLIB) $(FUZZ_LIB)
	$(if $(Q),@echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(KST_LIBS)

.PHONY: fuzz fuzz-check fuzz-long fuzz-seeds
fuzz: $(FUZZ_BINS)

# a fixed seed: CI mutates the same way every run (FUZZ_CHECK_SEED=)
FUZZ_CHECK_SEED ?= 1
fuzz-check: $(FUZZ_BINS)
	$(Q)FUZZ_SEED=$(FUZZ_CHECK_SEED) fuzz/run.sh $(FUZZ_DIR) $(FUZZ_CHECK_SECONDS) $(FUZZ_NAMES)

fuzz-long: $(FUZZ_BINS)
	$(Q)fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-seeds: $(FUZZ_BINS)
	$(Q)for t in $(FUZZ_TARGETS); do \
		rm -rf fuzz/corpus/$$t && mkdir -p fuzz/corpus && \
		KST_FUZZ_SEEDS=fuzz/corpus/$$t $(FUZZ_DIR)/fuzz_$$t || exit 1; \
		echo "  SEEDS   fuzz/corpus/$$t: $$(ls fuzz/corpus/$$t | wc -l) files"; \
	done

.SECONDARY: $(FUZZ_LIB_OBJS) $(FUZZ_TEST_OBJS) \
	$(FUZZ_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)

CHECK_EXTRA += fuzz-check
