#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `make hwtest`: hwtest/suite.sh once per Debian kernel. By default the kTLS
# and notls boots on bookworm's 6.1 and trixie's 6.12, and the kTLS boot on
# sid's newest kernel (7.x): the kernels the daemon runs on today, and the
# newest one, whose kTLS can do more (rekeying).
#
#   hwtest/matrix.sh
#
# KST_VM_KERNELS selects and orders the kernels: words SUITE or
# SUITE:BOOTS, SUITE one of bookworm, trixie, sid and BOOTS ktls, notls or
# ktls+notls (default "bookworm trixie sid", i.e. bookworm:ktls+notls
# trixie:ktls+notls sid:ktls). Each kernel's images and console logs go to
# $KST_BUILD/hwtest/SUITE/ ({ktls,notls}.log).
#
# A kernel that cannot be fetched (mirror unreachable, nothing cached)
# SKIPs with the reason; KST_TEST_STRICT=1 makes that a failure. Prints one
# line per boot (kernel version, verdict, guest checks and criterion tests
# passed/total, seconds) and a last line "hwtest: PASS|FAIL|SKIPPED ...";
# exit 0, 1, or 77 when every kernel skipped (1 under KST_TEST_STRICT=1).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
build=$(cd "${KST_BUILD:-$repo/build}" && pwd)
strict=${KST_TEST_STRICT:-0}

# Default boots of a suite: the notls boot proves the fallback, which does
# not depend on the kernel's age; the newest kernel gets the kTLS boot.
default_boots() {
	case $1 in
	sid) echo ktls ;;
	*) echo "ktls notls" ;;
	esac
}

# "checks P/T, criterion P/T" from a console log, as far as it got.
counts() {
	local log=$1 sum crit p f s t out=''
	[ -f "$log" ] || return 0
	sum=$(tr -d '\r' <"$log" | grep -a '^KST-VM-SUMMARY:' | tail -n 1) || true
	if [[ $sum =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[3]}
		out="checks $p/$((p + f + s))"
		[ "$s" = 0 ] || out+=" ($s skipped)"
	fi
	crit=$(tr -d '\r' <"$log" | grep -a '^== hwtest[a-z-]*: tested' |
		tail -n 1) || true
	if [[ $crit =~ tested\ ([0-9]+),\ passed\ ([0-9]+),.*skipped\ ([0-9]+) ]]; then
		t=${BASH_REMATCH[1]} p=${BASH_REMATCH[2]} s=${BASH_REMATCH[3]}
		out+="${out:+, }criterion $p/$t"
		[ "$s" = 0 ] || out+=" ($s skipped)"
	fi
	echo "$out"
}

# The verdict and time vm.sh printed for a boot, from suite.sh's output.
boot_line() {
	local out=$1 log=$2 v
	v=$(grep -a "^vm.sh: [A-Z]* on .*(console log: $log)" "$out" |
		tail -n 1 | sed 's/^vm.sh: //; s/ (console log.*//') || true
	echo "${v:-no verdict}"
}

main() {
	local spec suite boots dir out rc kver t0 secs any_fail=0 any_run=0
	local -a report=()
	local kernels=${KST_VM_KERNELS:-bookworm trixie sid}
	[ -n "${kernels// /}" ] || { echo "hwtest: KST_VM_KERNELS is empty"; return 1; }
	t0=$(date +%s)
	mkdir -p "$build/hwtest"
	for spec in $kernels; do
		suite=${spec%%:*}
		case $suite in
		bookworm | trixie | sid) ;;
		*)
			echo "hwtest: FAIL: KST_VM_KERNELS: unknown suite $suite" \
				"(bookworm, trixie or sid)"
			return 1
			;;
		esac
		if [[ $spec == *:* ]]; then
			boots=${spec#*:}
			boots=${boots//+/ }
		else
			boots=$(default_boots "$suite")
		fi
		dir=$build/hwtest/$suite
		mkdir -p "$dir"
		out=$dir/suite.out
		echo "hwtest: == $suite ($boots)"
		rc=0
		KST_VM_SUITE=$suite KST_HWTEST_BOOTS=$boots KST_HWTEST_DIR=$dir \
			"$here/suite.sh" 2>&1 | tee "$out" || rc=${PIPESTATUS[0]}
		kver=$(sed -n 's/^hwtest: [A-Za-z]* boot on \([^ ]*\) .*/\1/p' \
			"$out" | head -n 1)
		case $rc in
		0 | 77) ;;
		*) any_fail=1 ;;
		esac
		if grep -q '^hwtest: SKIPPED: ' "$out" && [ -z "$kver" ]; then
			report+=("$suite: SKIP: $(sed -n 's/^hwtest: SKIPPED: //p' \
				"$out" | tail -n 1)")
			continue
		fi
		[ "$rc" = 77 ] || any_run=1
		for b in $boots; do
			report+=("$suite $b boot: $(boot_line "$out" "$dir/$b.log"); $(
				counts "$dir/$b.log")")
		done
	done
	secs=$(($(date +%s) - t0))
	echo "hwtest: summary (${secs}s)"
	printf '  %s\n' "${report[@]}"
	if [ "$any_fail" = 1 ]; then
		echo "hwtest: FAIL in ${secs}s"
		return 1
	elif [ "$any_run" = 0 ]; then
		echo "hwtest: SKIPPED: no kernel could be booted (${secs}s)"
		[ "$strict" = 1 ] && return 1
		return 77
	fi
	echo "hwtest: PASS in ${secs}s"
}

main "$@"
