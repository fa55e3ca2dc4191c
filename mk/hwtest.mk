# SPDX-License-Identifier: MIT
#
# kTLS in QEMU guests booted from Debian's kernels (hwtest/README.md):
#   make hwtest        the guest suite (hwtest/suite.sh) on each kernel
#                      (hwtest/matrix.sh): kTLS and notls boots on
#                      bookworm's 6.1 and trixie's 6.12, the kTLS boot on
#                      sid's newest. KST_VM_KERNELS="bookworm trixie sid"
#                      selects (also SUITE:ktls, SUITE:ktls+notls). A kernel
#                      that cannot be had (mirror unreachable, nothing
#                      cached) or a machine without QEMU SKIPs with the
#                      reason and succeeds, unless KST_TEST_STRICT=1. Part
#                      of `make check`.
#   make hwtest-shell  an interactive shell (bash) in the kTLS guest, with
#                      what the suite carries (leave with `exit`);
#                      KST_VM_SUITE=trixie|sid boots that suite's kernel
# kst-ulp-check is the harness's own probe (hwtest/ulp-check.c).

HWTEST_ULP := $(BUILD)/hwtest/kst-ulp-check
HWTEST_DEPS := $(KSTAPLED) $(TOOLS) $(UNIT_BINS) $(INTEG_BINS) $(TEST_PKI) \
	$(HWTEST_ULP)

$(HWTEST_ULP): $(BUILD)/hwtest/ulp-check.o
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(KST_LDFLAGS) -o $@ $^

.PHONY: hwtest hwtest-shell
hwtest: $(HWTEST_DEPS)
	$(Q)rc=0; $(TEST_ENV) hwtest/matrix.sh || rc=$$?; \
		[ $$rc = 77 ] && rc=0; exit $$rc

hwtest-shell: $(KSTAPLED) $(TOOLS) $(TEST_PKI) $(HWTEST_ULP)
	$(Q)$(TEST_ENV) hwtest/vm.sh --interactive --workdir $(BUILD)/hwtest \
		$(addprefix --carry ,$(KSTAPLED) $(TOOLS) $(HWTEST_ULP)) \
		--carry $(abspath $(BUILD)/pki) --carry bash \
		--env KST_BUILD=$(abspath $(BUILD)) --env KST_SRCDIR=$(CURDIR) \
		--env KST_TEST_PKI=$(abspath $(BUILD)/pki) -- bash || true

CHECK_EXTRA += hwtest
