#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Runs criterion test binaries one after another and prints one summary:
# how many tests ran, passed, failed, and which were skipped and why. A
# skipped test is never counted as passed. Exit status 1 if any failed.
#
#   tests/run.sh SUITE BINARY...
# Extra criterion arguments can be given in KST_TEST_ARGS (e.g. --filter).
set -u
suite=$1
shift
tested=0 passing=0 failing=0 crashing=0 skipped=0
failed_bins=()
skips=()
logdir=${KST_TEST_LOGDIR:-${KST_BUILD:-build}/test-logs}
mkdir -p "$logdir"

for bin in "$@"; do
	name=$(basename "$bin")
	log="$logdir/$suite-$name.log"
	start=$(date +%s)
	# shellcheck disable=SC2086
	# --verbose: criterion prints [SKIP] lines (with their reason) only then
	"$bin" --verbose --short-filename ${KST_TEST_ARGS:-} >"$log" 2>&1
	rc=$?
	# a sanitizer report in a test's child does not fail the test by itself
	if grep -aq 'Sanitizer' "$log"; then
		rc=1
	fi
	secs=$(($(date +%s) - start))
	syn=$(grep -a 'Synthesis:' "$log" | tail -n 1)
	t=$(sed -n 's/.*Tested: \([0-9]*\).*/\1/p' <<<"$syn")
	p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$syn")
	f=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$syn")
	c=$(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$syn")
	s=$(grep -ac '\[SKIP\]' "$log")
	tested=$((tested + ${t:-0})) passing=$((passing + ${p:-0}))
	failing=$((failing + ${f:-0})) crashing=$((crashing + ${c:-0}))
	skipped=$((skipped + s))
	while IFS= read -r line; do
		skips+=("$name: ${line#*\[SKIP\] }")
	done < <(grep -a '\[SKIP\]' "$log")
	if [ "$rc" -ne 0 ] || [ -z "$syn" ]; then
		failed_bins+=("$name")
		printf '%-32s FAIL (%ss, exit %s) log: %s\n' "$name" "$secs" "$rc" "$log"
		grep -aE '\[FAIL\]|\[----\]|CRASH|ERROR|runtime error|Sanitizer' "$log" | head -n 60
	else
		printf '%-32s ok   %s passed, %s skipped (%ss)\n' "$name" "${p:-0}" "$s" "$secs"
	fi
done

echo "== $suite: tested $tested, passed $passing, failed $failing, crashed $crashing, skipped $skipped"
for s in "${skips[@]}"; do
	echo "   skipped: $s"
done
if [ ${#failed_bins[@]} -ne 0 ]; then
	echo "== $suite FAILED: ${failed_bins[*]}"
	exit 1
fi
exit 0
