#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The sanitizer soak in the kTLS guest (kTLS + splice; the host's `make
# soak` covers the userspace relay): $KST_BUILD/tools/kst-soak against the
# SAN=1 daemon ($KST_BUILD/san/kstapled, carried by hwtest/suite.sh with
# the ASan and UBSan runtimes ldd names), shorter than on the host since
# the guest is emulated. Without a SAN build it soaks the release daemon
# and says so. It also asserts that kTLS carried the traffic: the
# kernel's TlsTxSw and TlsRxSw counters (TLS 1.2 puts both directions in
# the kernel, where the daemon splices) must have moved. The soak's TLS 1.3
# KeyUpdates are rekeyed in the kernel where it can (TlsRxRekeyOk, shown)
# and end cleanly where it cannot (kst-soak checks either).
#
#   sh hwtest/guest/soak.sh        (in the guest; see suite-ktls.sh)
#
# Environment: KST_BUILD, KST_TEST_PKI; SOAK_KSTAPLED (another daemon
# binary, carried); SOAK_VM_SECONDS (default 45),
# SOAK_SEED (rerun a seed), SOAK_VM_ARGS (extra kst-soak options).
set -u

build=${KST_BUILD:-build}
soak=$build/tools/kst-soak
daemon=${SOAK_KSTAPLED:-$build/san/kstapled}
if [ ! -x "$soak" ] || [ -z "${KST_TEST_PKI:-}" ]; then
	echo "soak: SKIP: kst-soak or the test PKI is missing"
	exit 77
fi
if [ ! -x "$daemon" ]; then
	daemon=$build/kstapled
	echo "KST-VM-NOTE: no SAN=1 daemon carried ($build/san/kstapled):" \
		"soaking the release build, without sanitizers"
fi
if [ ! -e /proc/net/tls_stat ]; then
	echo "soak: SKIP: no kTLS in this kernel"
	exit 77
fi

stat() {
	awk -v k="$1" '$1 == k { print $2 }' /proc/net/tls_stat
}

tx0=$(stat TlsTxSw) rx0=$(stat TlsRxSw) rk0=$(stat TlsRxRekeyOk)
: "${ASAN_OPTIONS:=detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=23}"
: "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1}"
export ASAN_OPTIONS UBSAN_OPTIONS
rc=0
# shellcheck disable=SC2086
"$soak" --kstapled "$daemon" --tools "$build/tools" --pki "$KST_TEST_PKI" \
	--dir /tmp/kst-soak --seconds "${SOAK_VM_SECONDS:-45}" --threads 3 \
	--max-size 4M ${SOAK_VM_ARGS:-} || rc=$?
tx=$(($(stat TlsTxSw) - tx0)) rx=$(($(stat TlsRxSw) - rx0))
echo "soak: kTLS sockets during the soak: TlsTxSw +$tx, TlsRxSw +$rx"
# kernels that rekey (6.14 and later) count the soak's KeyUpdates
[ -z "$rk0" ] ||
	echo "soak: kernel RX rekeys during the soak: TlsRxRekeyOk +$(($(stat TlsRxRekeyOk) - rk0))"
if [ "$rc" = 0 ] && { [ "$tx" -le 0 ] || [ "$rx" -le 0 ]; }; then
	echo "soak: FAIL: the soak did not go through kTLS"
	rc=1
fi
if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -f /tmp/kst-soak/kstapled.log ]; then
	echo "soak: the daemon's log, last lines:"
	tail -n 40 /tmp/kst-soak/kstapled.log
fi
exit "$rc"
