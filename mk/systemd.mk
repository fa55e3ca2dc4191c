# SPDX-License-Identifier: MIT
#
# kstapled under a real systemd (hwtest/systemd/, hwtest/README.md):
#   make systemd-vm-check  boots a Debian 12 root (debootstrap, cached under
#                          ~/.cache/kstapled/roots) with systemd 252 as PID 1
#                          on bookworm's 6.1 kernel in QEMU, with kstapled
#                          installed by `make install PREFIX=/usr DESTDIR=`,
#                          and tests the shipped unit, socket, sysusers.d,
#                          tmpfiles.d and modules-load.d files there through
#                          systemctl and journalctl. About 2 to 3 minutes
#                          under TCG (1 more to make the root the first
#                          time); QEMU is killed after 300 s
#                          (KST_SD_TIMEOUT). No QEMU, mke2fs, kernel or root
#                          (no debootstrap, mirror unreachable, not root):
#                          SKIP with the reason, a failure under
#                          KST_TEST_STRICT=1. Part of `make check`.

SYSTEMD_VM_DEPS := $(KSTAPLED) $(BUILD)/tools/kst-backend \
	$(BUILD)/tools/kst-client $(TEST_PKI) $(MAN_PAGES)

.PHONY: systemd-vm-check
systemd-vm-check: $(SYSTEMD_VM_DEPS)
	$(Q)rc=0; KST_BUILD=$(abspath $(BUILD)) hwtest/systemd/run.sh || \
		rc=$$?; [ $$rc = 77 ] && rc=0; exit $$rc

CHECK_EXTRA += systemd-vm-check
