#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The sanitizer soak's runner (`make soak`, and hwtest/guest/soak.sh in the
# kTLS guest): runs $KST_BUILD/tools/kst-soak with the daemon given by
# --kstapled, the peers from $KST_BUILD/tools and the test PKI, and the
# sanitizer options the daemon needs when it is a SAN=1 build. POSIX sh,
# so it also runs under the guest's dash.
#
#   tests/soak/run.sh --kstapled PATH --dir DIR [kst-soak options]
#
# Environment: KST_BUILD, KST_TEST_PKI (as the Makefile sets them);
# SOAK_SECONDS (traffic time, default 90) and SOAK_SEED (rerun a seed) are
# read by kst-soak itself. Exit status: kst-soak's (0 pass, 1 fail, 77
# skip).
set -eu

build=${KST_BUILD:-build}
soak=$build/tools/kst-soak
if [ ! -x "$soak" ]; then
	echo "soak: SKIP: $soak is not built" >&2
	exit 77
fi
if [ -z "${KST_TEST_PKI:-}" ] || [ ! -d "$KST_TEST_PKI" ]; then
	echo "soak: SKIP: no test PKI (KST_TEST_PKI)" >&2
	exit 77
fi
# halt_on_error: the first report ends the daemon, which the soak sees;
# exitcode 23 tells a sanitizer exit from the daemon's own statuses.
: "${ASAN_OPTIONS:=detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=23}"
: "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1}"
export ASAN_OPTIONS UBSAN_OPTIONS
exec "$soak" --tools "$build/tools" --pki "$KST_TEST_PKI" "$@"
