# SPDX-License-Identifier: MIT
#
# kTLS in a QEMU guest booted from Debian's kernel (hwtest/README.md):
#   make hwtest        the guest suite (hwtest/suite.sh): a kTLS boot and a
#                      notls boot. When this machine cannot run the guest
#                      (no QEMU, no kernel to be had) it prints
#                      "hwtest: SKIPPED: <reason>" and succeeds, unless
#                      KST_TEST_STRICT=1. Part of `make check`.
#   make hwtest-shell  an interactive shell (bash) in the kTLS guest, with
#                      what the suite carries (leave with `exit`)
# kst-ulp-check is the harness's own probe (hwtest/ulp-check.c).

HWTEST_ULP := $(BUILD)/hwtest/kst-ulp-check
HWTEST_DEPS := $(KSTAPLED) $(TOOLS) $(UNIT_BINS) $(INTEG_BINS) $(TEST_PKI) \
	$(HWTEST_ULP)

$(HWTEST_ULP): $(BUILD)/hwtest/ulp-check.o
	$(if $(Q),@echo "  LD      $@")
	$(Q)$(CC) $(KST_LDFLAGS) -o $@ $^

.PHONY: hwtest hwtest-shell
hwtest: $(HWTEST_DEPS)
	$(Q)rc=0; $(TEST_ENV) hwtest/suite.sh || rc=$$?; \
		[ $$rc = 77 ] && rc=0; exit $$rc

hwtest-shell: $(KSTAPLED) $(TOOLS) $(TEST_PKI) $(HWTEST_ULP)
	$(Q)$(TEST_ENV) hwtest/vm.sh --interactive --workdir $(BUILD)/hwtest \
		$(addprefix --carry ,$(KSTAPLED) $(TOOLS) $(HWTEST_ULP)) \
		--carry $(abspath $(BUILD)/pki) --carry bash \
		--env KST_BUILD=$(abspath $(BUILD)) --env KST_SRCDIR=$(CURDIR) \
		--env KST_TEST_PKI=$(abspath $(BUILD)/pki) -- bash || true

CHECK_EXTRA += hwtest
