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
# of 77 under KST_TEST_STRICT=1). Console logs: KST_HWTEST_DIR/{ktls,notls}.log.
#
# Environment: KST_BUILD (default build), KST_TEST_PKI, KST_SRCDIR (as the
# Makefile sets them); KST_HWTEST_TESTS, criterion binaries (names in
# $KST_BUILD/tests/unit or /integration, or paths) for the kTLS boot,
# default every test_ktls* there; KST_HWTEST_TIMEOUT, seconds per boot
# (default 900); KST_HWTEST_BOOTS, the boots to run (default "ktls
# notls"); KST_HWTEST_DIR, images and console logs (default
# $KST_BUILD/hwtest); and what hwtest/vm.sh reads (KST_VM_SUITE: the
# Debian suite whose kernel boots; hwtest/matrix.sh runs this script once
# per kernel).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
build=$(cd "${KST_BUILD:-$repo/build}" && pwd)
timeout=${KST_HWTEST_TIMEOUT:-900}
strict=${KST_TEST_STRICT:-0}

failed() {
	[ "$1" != 0 ] && [ "$1" != 77 ] && [ "$1" != - ]
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
	# the soak's SAN=1 daemon (mk/soak.mk), with its sanitizer runtimes
	[ -x "$build/san/kstapled" ] && echo "$build/san/kstapled"
	for f in "$build"/tools/* "$build/hwtest/kst-ulp-check"; do
		[ -f "$f" ] && [ -x "$f" ] && echo "$f"
	done
	[ -n "${KST_TEST_PKI:-}" ] && [ -d "$KST_TEST_PKI" ] &&
		realpath -s "$KST_TEST_PKI"
	echo bash
	command -v systemd-socket-activate || true
	echo "$repo/tests/run.sh"
	test_bins
	# the notls boot's criterion binary, whatever KST_HWTEST_TESTS says
	echo "$build/tests/integration/test_ktls_daemon"
}

main() {
	local kernel rc=0 rc_ktls=0 rc_notls=0 t0 secs tests=() args=() env=()
	local item err exits dir boots b
	# Whether the guest can run here at all: without KST_TEST_STRICT, so
	# that the reason is ours to print.
	dir=${KST_HWTEST_DIR:-$build/hwtest}
	boots=${KST_HWTEST_BOOTS:-ktls notls}
	for b in $boots; do
		case $b in ktls | notls) ;; *)
			echo "hwtest: FAIL: KST_HWTEST_BOOTS: unknown boot $b"
			return 1 ;;
		esac
	done
	mkdir -p "$dir"
	err=$dir/prepare.err
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
	# the soak's knobs (hwtest/guest/soak.sh)
	for item in SOAK_VM_SECONDS SOAK_SEED SOAK_VM_ARGS; do
		[ -n "${!item:-}" ] && env+=(--env "$item=${!item}")
	done
	t0=$(date +%s)
	# the boots KST_HWTEST_BOOTS names; "-" marks one not run
	[[ " $boots " == *" ktls "* ]] || rc_ktls=-
	[[ " $boots " == *" notls "* ]] || rc_notls=-
	if [ "$rc_ktls" != - ]; then
		echo "hwtest: kTLS boot on ${kernel%% *}" \
			"(console log: $dir/ktls.log)"
		"$here/vm.sh" --workdir "$dir" --log "$dir/ktls.log" \
			--timeout "$timeout" --name suite-ktls "${args[@]}" \
			"${env[@]}" -- sh hwtest/guest/suite-ktls.sh || rc_ktls=$?
	fi
	if [ "$rc_notls" != - ]; then
		echo "hwtest: notls boot on ${kernel%% *}" \
			"(console log: $dir/notls.log)"
		"$here/vm.sh" --workdir "$dir" --log "$dir/notls.log" \
			--timeout "$timeout" --name suite-notls --notls "${args[@]}" \
			"${env[@]}" -- sh hwtest/guest/suite-notls.sh || rc_notls=$?
	fi
	secs=$(($(date +%s) - t0))
	if failed "$rc_ktls" || failed "$rc_notls"; then
		rc=1
	elif [ "$rc_ktls" != 0 ] && [ "$rc_notls" != 0 ]; then
		rc=77
	fi
	exits="kTLS boot exit $rc_ktls, notls boot exit $rc_notls"
	exits=${exits//exit -/not run}
	case $rc in
	0) echo "hwtest: PASS on ${kernel%% *} in ${secs}s ($exits)" ;;
	77) echo "hwtest: SKIPPED: every guest test skipped on ${kernel%% *} (${secs}s)" ;;
	*) echo "hwtest: FAIL on ${kernel%% *} in ${secs}s ($exits)" ;;
	esac
	[ "$rc" = 77 ] && [ "$strict" = 1 ] && return 1
	return "$rc"
}

main "$@"
