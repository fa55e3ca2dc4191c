#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest half of `make hwtest`, kTLS boot: the harness's smoke checks, then
# the project's programs that need a kTLS kernel. hwtest/suite.sh boots the
# guest with this script; add the daemon's kTLS integration tests at the
# end, one kst_vm_test line each (see lib.sh).
#
# Environment (from hwtest/suite.sh): KST_BUILD, KST_TEST_PKI, KST_SRCDIR;
# KST_HWTEST_TESTS, criterion binaries to run through tests/run.sh (one test
# at a time unless KST_TEST_ARGS says otherwise).
. hwtest/guest/lib.sh

smoke=hwtest/guest/smoke.sh
kst_vm_test tls_stat_present sh $smoke tls_stat
kst_vm_test tcp_ulp_tls_attaches sh $smoke ulp attached
kst_vm_test openssl_tls12_through_ktls sh $smoke transfer 1.2 ktls
kst_vm_test openssl_tls13_through_ktls sh $smoke transfer 1.3 ktls
kst_vm_test bpffs_and_bpftool_work sh $smoke bpf

check=${KST_BUILD:-build}/tools/kst-ktls-check
if [ -x "$check" ]; then
	kst_vm_test kst_ktls_check -t 300 "$check"
else
	kst_vm_note "$check not built: not run"
fi

# The sanitizer soak over kTLS + splice (hwtest/guest/soak.sh)
kst_vm_test sanitizer_soak -t 300 sh hwtest/guest/soak.sh

if [ -n "${KST_HWTEST_TESTS:-}" ]; then
	# One test at a time: tests assert deltas of kernel-wide counters
	# (/proc/net/tls_stat), which tests running in parallel would move.
	export KST_TEST_ARGS="${KST_TEST_ARGS:--j1}"
	# shellcheck disable=SC2086
	kst_vm_test criterion_tests -t 600 bash tests/run.sh hwtest \
		$KST_HWTEST_TESTS
fi

kst_vm_summary
