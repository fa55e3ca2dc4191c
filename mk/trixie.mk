# SPDX-License-Identifier: MIT
#
# The userland matrix: kstapled built and tested on Debian 13 (trixie) as
# well as on the host (scripts/trixie-root.sh):
#   make trixie-check   debootstrap a trixie root (cached under
#                       ~/.cache/kstapled/roots/trixie, upgraded at most
#                       daily, scripts/deps.sh run inside it), then build
#                       there with WERROR=1 in $(BUILD)/userland-trixie and
#                       run `make unit integration` (-k: both run), then
#                       boot trixie's kernel with the kTLS suite, the
#                       trixie-built daemon, tests and libraries
#                       (KST_TRIXIE_VM_KERNELS, default trixie:ktls; empty
#                       skips the boot). No root cached and none can be made
#                       (mirror unreachable, not root): SKIP with the reason,
#                       a failure under KST_TEST_STRICT=1. Part of `make
#                       check`: about 9 min with the root cached (4.5 for the
#                       tests, 4.5 for the boot), under 1 min more to make it.
#   make trixie-hwtest  `make hwtest` in that root: every VM kernel boots
#                       with the trixie-built daemon (KST_VM_KERNELS
#                       selects, as for hwtest). The whole row; by hand.
#   make trixie-shell   a shell in that root, mounts in place

TRIXIE_BUILD := $(BUILD)/userland-trixie

.PHONY: trixie-check trixie-hwtest trixie-shell
KST_TRIXIE_VM_KERNELS ?= trixie:ktls

# Both steps run (as make -k would); a SKIP (77) of either is not a failure.
trixie-check:
	$(Q)rc=0; scripts/trixie-root.sh $(TRIXIE_BUILD) unit integration || \
		rc=$$?; [ $$rc = 77 ] && rc=0; hw=0; \
	if [ -n '$(KST_TRIXIE_VM_KERNELS)' ]; then \
		KST_VM_KERNELS='$(KST_TRIXIE_VM_KERNELS)' scripts/trixie-root.sh \
			$(TRIXIE_BUILD) hwtest || hw=$$?; \
		[ $$hw = 77 ] && hw=0; \
	fi; [ $$rc = 0 ] && [ $$hw = 0 ]

trixie-hwtest:
	$(Q)rc=0; scripts/trixie-root.sh $(TRIXIE_BUILD) hwtest || \
		rc=$$?; [ $$rc = 77 ] && rc=0; exit $$rc

trixie-shell:
	$(Q)scripts/trixie-root.sh --shell

CHECK_EXTRA += trixie-check
