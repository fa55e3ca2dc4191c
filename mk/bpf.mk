# SPDX-License-Identifier: MIT
#
# BPF objects and their skeletons:
#   bpf/NAME.bpf.c -> clang -target bpf -> $(BUILD)/bpf/NAME.bpf.o
#                  -> bpftool gen skeleton -> $(BUILD)/bpf/NAME.skel.h
# Objects include the skeleton as "bpf/NAME.skel.h" ($(BUILD) is on the
# include path); it is in GENERATED, so it exists before any object compiles.
# Generated files are never committed.

BPF_SRCS  := $(sort $(wildcard bpf/*.bpf.c))
BPF_OBJS  := $(BPF_SRCS:%.c=$(BUILD)/%.o)
BPF_SKELS := $(BPF_SRCS:%.bpf.c=$(BUILD)/%.skel.h)

# -target bpf has no system include directories of its own: borrow the host
# compiler's (for linux/types.h under the multiarch directory), after ours.
BPF_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 | \
	sed -n '/<...> search starts here:/,/End of search list./s| \(/.*\)|-idirafter \1|p')
BPF_CFLAGS := -g -O2 -target bpf -Wall $(if $(filter 1,$(WERROR)),-Werror) \
	-I. -I$(BUILD) $(BPF_SYS_INCLUDES)

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c | $(BUILD)/.dirs
	@mkdir -p $(@D)
	$(if $(Q),@echo "  BPF     $<")
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(if $(Q),@echo "  GEN     $@")
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .,_,$(notdir $(basename $<))) >$@.tmp
	$(Q)mv $@.tmp $@

GENERATED += $(BPF_SKELS)

# Keep the objects: make would delete them as intermediates of the skeleton.
.SECONDARY: $(BPF_OBJS)
