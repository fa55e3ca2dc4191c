#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Guest half of `make hwtest`, notls boot (tls.ko deleted before anything
# ran): the guest must look like a kernel without kTLS, and TLS must still
# work in userspace. This is where the daemon's fallback tests go.
#
# Environment (from hwtest/suite.sh): KST_BUILD, KST_TEST_PKI, KST_SRCDIR.
. hwtest/guest/lib.sh

smoke=hwtest/guest/smoke.sh
kst_vm_test no_tls_in_kernel sh $smoke no_tls
kst_vm_test tcp_ulp_tls_refused sh $smoke ulp refused
kst_vm_test openssl_tls12_in_userspace sh $smoke transfer 1.2 userspace
kst_vm_test openssl_tls13_in_userspace sh $smoke transfer 1.3 userspace

check=${KST_BUILD:-build}/tools/kst-ktls-check
if [ -x "$check" ]; then
	# A kTLS test must skip, not fail, where the kernel has no kTLS.
	kst_vm_test kst_ktls_check_skips -t 300 sh $smoke exits 77 "$check"
else
	kst_vm_note "$check not built: not run"
fi

# The daemon without kTLS in the kernel: every connection falls back to
# userspace byte-exact, and `ktls = require` refuses with the reason.
if [ -n "${KST_HWTEST_NOTLS_TESTS:-}" ]; then
	export KST_TEST_ARGS="${KST_TEST_ARGS:--j1}"
	# shellcheck disable=SC2086
	kst_vm_test criterion_tests -t 600 bash tests/run.sh hwtest-notls \
		$KST_HWTEST_NOTLS_TESTS
fi

kst_vm_summary
