# SPDX-License-Identifier: MIT
#
# Helpers for guest test scripts (POSIX sh, dash in the guest; sourced). A guest
# script runs several tests in one boot and reports each on its own marker
# line, which the host and a reader of the console log can grep:
#
#   . hwtest/guest/lib.sh
#   kst_vm_test NAME [-t SECS] CMD [ARGS...]   run one test (default 120 s)
#   kst_vm_note TEXT                           a line that is not a verdict
#   kst_vm_summary                             tally; its status ends the
#                                              script: exit $?
#
# A test passes on exit 0, is skipped on 77 (it says why), fails otherwise
# (124: it ran out of time; its whole process group is then killed).
# kst_vm_summary returns 1 if any test failed (or, under KST_TEST_STRICT=1,
# was skipped), 77 if every test was skipped, 0 otherwise. Markers:
#   KST-VM-TEST: NAME PASS|FAIL|SKIP (exit N, S.Ss)
#   KST-VM-SUMMARY: P passed, F failed, S skipped[; failed: ...][; skipped: ...]

kst_vm_passed=0
kst_vm_failed=0
kst_vm_skipped=0
kst_vm_failed_names=
kst_vm_skipped_names=

# Milliseconds since boot (the guest clock may be stepped at boot).
kst_vm_ms() {
	read -r kst_up _ </proc/uptime
	echo $((${kst_up%.*} * 1000 + 1${kst_up#*.}0 - 1000))
}

kst_vm_note() {
	echo "KST-VM-NOTE: $*"
}

kst_vm_test() {
	kst_name=$1 kst_t=120
	shift
	if [ "$1" = -t ]; then
		kst_t=$2
		shift 2
	fi
	echo "--- $kst_name"
	kst_t0=$(kst_vm_ms)
	timeout -k 5 "$kst_t" "$@" </dev/null 2>&1
	kst_rc=$?
	kst_ms=$(($(kst_vm_ms) - kst_t0))
	case $kst_rc in
	0)
		kst_word=PASS
		kst_vm_passed=$((kst_vm_passed + 1))
		;;
	77)
		kst_word=SKIP
		kst_vm_skipped=$((kst_vm_skipped + 1))
		kst_vm_skipped_names="$kst_vm_skipped_names $kst_name"
		;;
	*)
		kst_word=FAIL
		kst_vm_failed=$((kst_vm_failed + 1))
		kst_vm_failed_names="$kst_vm_failed_names $kst_name"
		;;
	esac
	echo "KST-VM-TEST: $kst_name $kst_word (exit $kst_rc," \
		"$((kst_ms / 1000)).$((kst_ms % 1000 / 100))s)"
	return 0
}

kst_vm_summary() {
	kst_line="$kst_vm_passed passed, $kst_vm_failed failed"
	kst_line="$kst_line, $kst_vm_skipped skipped"
	[ -n "$kst_vm_failed_names" ] &&
		kst_line="$kst_line; failed:$kst_vm_failed_names"
	[ -n "$kst_vm_skipped_names" ] &&
		kst_line="$kst_line; skipped:$kst_vm_skipped_names"
	echo "KST-VM-SUMMARY: $kst_line"
	[ "$kst_vm_failed" -gt 0 ] && return 1
	if [ "$kst_vm_skipped" -gt 0 ] && [ "${KST_TEST_STRICT:-0}" = 1 ]; then
		return 1
	fi
	[ "$kst_vm_passed" -eq 0 ] && return 77
	return 0
}
