#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `make hwtest`: the project's tests that need a real kTLS kernel, in QEMU
# guests booted from Debian's kernel (hwtest/vm.sh). Two boots of one image:
#   1. kTLS:  hwtest/guest/suite-ktls.sh  (smoke checks, kst-ktls-check,
#             criterion binaries that need kTLS)
#   2. notls: hwtest/guest/suite-notls.sh (tls.ko gone: userspace fallback)
# Both carry kstapled, every $KST_BUILD/tools program, kst-ulp-check, the
# test PKI, bash and tests/run.sh, and the criterion binaries to run.
#
#   hwtest/suite.sh
#
# Ends with "hwtest: PASS ...", "hwtest: FAIL ..." or "hwtest: SKIPPED:
# <reason>" (this machine cannot run the guest); exit 0, 1 or 77 (1 instead
# of 77 under KST_TEST_STRICT=1). Console logs: $KST_BUILD/hwtest/*.log.
#
# Environment: KST_BUILD (default build), KST_TEST_PKI, KST_SRCDIR (as the
# Makefile sets them); KST_HWTEST_TESTS, criterion binaries (names in
# $KST_BUILD/tests/unit or /integration, or paths) for the kTLS boot,
# default every test_ktls* there; KST_HWTEST_TIMEOUT, seconds per boot
# (default 600); and what hwtest/vm.sh reads.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
build=$(cd "${KST_BUILD:-$repo/build}" && pwd)
timeout=${KST_HWTEST_TIMEOUT:-600}
strict=${KST_TEST_STRICT:-0}

failed() {
	[ "$1" != 0 ] && [ "$1" != 77 ]
}

# Criterion binaries for the kTLS boot, as absolute paths.
test_bins() {
	local t
	if [ -z "${KST_HWTEST_TESTS+set}" ]; then
		# kTLS itself, sock_diag on kTLS sockets, and the privilege
		# drop on this kernel (which may need CAP_BPF kept)
		find "$build/tests/unit" "$build/tests/integration" -maxdepth 1 \
			-type f \( -name 'test_ktls*' -o -name test_sockdiag_live \
			-o -name test_systemd \) -perm -u+x 2>/dev/null | sort
		return 0
	fi
	for t in $KST_HWTEST_TESTS; do
		case $t in
		*/*) realpath -s "$t" ;;
		*) find "$build/tests/unit" "$build/tests/integration" \
			-maxdepth 1 -type f -name "$t" 2>/dev/null ;;
		esac
	done
}

carry_args() {
	local f
	[ -x "$build/kstapled" ] && echo "$build/kstapled"
	for f in "$build"/tools/* "$build/hwtest/kst-ulp-check"; do
		[ -f "$f" ] && [ -x "$f" ] && echo "$f"
	done
	[ -n "${KST_TEST_PKI:-}" ] && [ -d "$KST_TEST_PKI" ] &&
		realpath -s "$KST_TEST_PKI"
	echo bash
	command -v systemd-socket-activate || true
	echo "$repo/tests/run.sh"
	test_bins
}

main() {
	local kernel rc=0 rc_ktls=0 rc_notls=0 t0 secs tests=() args=() env=()
	local item err exits
	# Whether the guest can run here at all: without KST_TEST_STRICT, so
	# that the reason is ours to print.
	mkdir -p "$build/hwtest"
	err=$build/hwtest/prepare.err
	kernel=$(env -u KST_TEST_STRICT "$here/vm.sh" --prepare 2>"$err") ||
		rc=$?
	if [ "$rc" = 77 ]; then
		echo "hwtest: SKIPPED: $(sed -n 's/^vm.sh: SKIP: //p' "$err")"
		[ "$strict" = 1 ] && return 1
		return 77
	fi
	cat "$err" >&2
	if [ "$rc" != 0 ]; then
		echo "hwtest: FAIL: the guest cannot be prepared"
		return 1
	fi
	export KST_VM_KERNEL=$kernel
	mapfile -t tests < <(test_bins)
	while IFS= read -r item; do
		args+=(--carry "$item")
	done < <(carry_args)
	env=(--env "KST_BUILD=$build" --env "KST_SRCDIR=$repo"
		--env "KST_HWTEST_TESTS=${tests[*]}"
		--env "KST_HWTEST_NOTLS_TESTS=$build/tests/integration/test_ktls_daemon")
	[ -n "${KST_TEST_PKI:-}" ] &&
		env+=(--env "KST_TEST_PKI=$(realpath -s "$KST_TEST_PKI")")
	t0=$(date +%s)
	echo "hwtest: kTLS boot (console log: $build/hwtest/ktls.log)"
	"$here/vm.sh" --workdir "$build/hwtest" --log "$build/hwtest/ktls.log" \
		--timeout "$timeout" --name suite-ktls "${args[@]}" "${env[@]}" \
		-- sh hwtest/guest/suite-ktls.sh || rc_ktls=$?
	echo "hwtest: notls boot (console log: $build/hwtest/notls.log)"
	"$here/vm.sh" --workdir "$build/hwtest" --log "$build/hwtest/notls.log" \
		--timeout "$timeout" --name suite-notls --notls "${args[@]}" \
		"${env[@]}" -- sh hwtest/guest/suite-notls.sh || rc_notls=$?
	secs=$(($(date +%s) - t0))
	if failed "$rc_ktls" || failed "$rc_notls"; then
		rc=1
	elif [ "$rc_ktls" = 77 ] && [ "$rc_notls" = 77 ]; then
		rc=77
	fi
	exits="kTLS boot exit $rc_ktls, notls boot exit $rc_notls"
	case $rc in
	0) echo "hwtest: PASS in ${secs}s ($exits)" ;;
	77) echo "hwtest: SKIPPED: every guest test skipped (${secs}s)" ;;
	*) echo "hwtest: FAIL in ${secs}s ($exits)" ;;
	esac
	[ "$rc" = 77 ] && [ "$strict" = 1 ] && return 1
	return "$rc"
}

main "$@"
