# SPDX-License-Identifier: MIT
#
# The sanitizer soak (README.md, "Tests"): the daemon built with SAN=1
# (in $(BUILD)/san, as san-unit builds it), kst-ocspd and kst-backend as
# its peers, and $(BUILD)/tools/kst-soak driving a randomized traffic mix
# with reloads, staple swaps and responder flaps; every transfer checked
# byte for byte, then the daemon's log for sanitizer reports and its fd
# count against the baseline.
#
#   make soak                     part of `make check`: 90 s of traffic,
#                                 about 2 minutes in all on a 2-core box
#   make soak SOAK_SECONDS=1800   a longer run
#   make soak SOAK_SEED=N         rerun the transfer sequence of seed N
#   SOAK_ARGS=...                 extra kst-soak options (--threads N,
#                                 --max-size SIZE, --chaos reload,swap,flap)
# Logs (the daemon's, the peers') stay in $(BUILD)/soak-run/.
# The kTLS + splice variant runs in the VM: hwtest/guest/soak.sh.

SOAK_SECONDS ?= 90
SOAK_SAN_BUILD := $(BUILD)/san
SOAK_KSTAPLED := $(SOAK_SAN_BUILD)/kstapled
SOAK_TOOL := $(BUILD)/tools/kst-soak

.PHONY: soak soak-san-daemon
# Under `make check`, san-unit builds in the same directory: after it,
# never beside it (two makes writing one object would garble it).
ifneq ($(filter check,$(MAKECMDGOALS)),)
soak-san-daemon: san-unit
endif
soak-san-daemon:
	$(Q)$(MAKE) --no-print-directory SAN=1 BUILD=$(SOAK_SAN_BUILD) \
		$(SOAK_KSTAPLED)

soak: $(SOAK_TOOL) $(TOOLS) $(TEST_PKI) soak-san-daemon
	$(Q)rm -rf $(BUILD)/soak-run
	$(Q)$(TEST_ENV) SOAK_SECONDS=$(SOAK_SECONDS) \
		$(if $(SOAK_SEED),SOAK_SEED=$(SOAK_SEED)) \
		tests/soak/run.sh --kstapled $(abspath $(SOAK_KSTAPLED)) \
		--dir $(abspath $(BUILD))/soak-run $(SOAK_ARGS)

CHECK_EXTRA += soak

# `make hwtest` soaks the SAN=1 daemon in the kTLS guest too
# (hwtest/guest/soak.sh; hwtest/suite.sh carries $(BUILD)/san/kstapled).
hwtest: soak-san-daemon
