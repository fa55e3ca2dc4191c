#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Runs libFuzzer targets, one after the other: each first replays its
# committed corpus (fuzz/corpus/NAME) and its saved reproducers
# (fuzz/regressions/NAME), then mutates for SECONDS (with the dictionary
# fuzz/NAME.dict when there is one). New inputs go to a
# scratch directory under BINDIR, never into the committed corpus; a crash,
# leak, timeout or broken invariant leaves its input in
# BINDIR/artifacts/NAME/ and fails the target. Prints one line per target
# with libFuzzer's final counts (executions, coverage, features) and a
# closing "N passed, N failed".
#
#   fuzz/run.sh BINDIR SECONDS NAME...
#
# FUZZ_SEED=N fixes libFuzzer's random seed (make fuzz-check sets it, so
# a CI run mutates the same way each time and what it finds it finds
# again); unset, every run explores anew (make fuzz-long).
set -u

bindir=$1
seconds=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0
failed_names=()

for name in "$@"; do
	bin=$bindir/fuzz_$name
	work=$bindir/work/$name
	art=$bindir/artifacts/$name
	log=$bindir/logs/$name.log
	rm -rf "$work"
	mkdir -p "$work" "$art" "$(dirname "$log")"
	dirs=("$work")
	for d in "$src/corpus/$name" "$src/regressions/$name"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	opts=()
	[ -f "$src/$name.dict" ] && opts=(-dict="$src/$name.dict")
	[ -n "${FUZZ_SEED:-}" ] && opts+=(-seed="$FUZZ_SEED")
	start=$(date +%s)
	# -timeout: one input may take at most 10 s (a hang is a finding);
	# -rss_limit_mb: a leak that grows without bound is one too.
	nice "$bin" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/" "${opts[@]}" "${dirs[@]}" >"$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
	corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' \
		<<<"$done_line")
	seeds=0
	for d in "${dirs[@]:1}"; do
		seeds=$((seeds + $(find "$d" -type f | wc -l)))
	done
	if [ "$rc" -eq 0 ] && [ -n "$done_line" ]; then
		passed=$((passed + 1))
		printf 'fuzz %-10s PASS %9s execs in %3ss, cov %s ft %s corp %s (%s seeds)\n' \
			"$name" "${execs:-?}" "$took" "${cov:-?}" "${ft:-?}" \
			"${corp:-?}" "$seeds"
	else
		failed=$((failed + 1))
		failed_names+=("$name")
		printf 'fuzz %-10s FAIL (exit %s after %ss); log %s\n' \
			"$name" "$rc" "$took" "$log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|kst-fuzz:|.*runtime error:)' \
			"$log" | head -n 5 | sed 's/^/    /'
		ls "$art" | sed "s|^|    artifact: $art/|"
	fi
done

echo "fuzz: $passed passed, $failed failed${failed_names[*]:+ (${failed_names[*]})}"
[ "$failed" -eq 0 ]
