#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The kTLS benchmark, host side: this machine's kernel may have no kTLS,
# so the benchmark runs inside a QEMU guest booted from Debian's kernel
# (hwtest/vm.sh), which has it. This script carries kstapled, the load
# generator, the backend, the test PKI, HAProxy, nginx and the tools the
# guest script needs into the guest, runs bench/vm/guest.sh there, reads
# its JSON records from the console log, and writes the report. Method
# and caveats: bench/README.md, "kTLS in a QEMU guest".
#
#   bench/vm/run.sh [--build DIR] [--out DIR] [--quick] [--timeout SECS]
#                   [--mem MB] [--wait-idle SECS] [GUEST OPTIONS...]
#
#   --quick    smoke of the whole pipeline (1 repetition, 16 MiB, 100 idle
#              connections), results in BUILD/bench/vm-quick/
#   --timeout  bound for the guest script (default 1800 s)
#   --wait-idle  wait up to SECS for the host to be idle before booting:
#              under TCG every vCPU is a host thread, and the guest's CPU
#              times include the time those threads waited for a host CPU
#   GUEST OPTIONS  passed to bench/vm/guest.sh: --reps N, --peers LIST,
#              --bulk-bytes N, --parallel N, --idle-conns K, --workers N
#
# Needs: BUILD/kstapled, BUILD/bench/kst-load, BUILD/tools/kst-backend, the
# test PKI in BUILD/pki (made with -s), jq, and what hwtest/vm.sh needs
# (qemu-system-x86, busybox-static, ...); haproxy and nginx are carried
# when installed (a missing one is reported "not available").
#
# Output: the markdown table on stdout and in OUT/vm-latest.md, the raw
# records in OUT/vm-latest.jsonl. Exit status: 0 when the guest finished,
# 77 when the VM cannot run here (vm.sh's reason on stderr), 1 otherwise.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CMDLINE="bench/vm/run.sh $*"
BUILD=$SRC/build
OUT=
QUICK=0
TIMEOUT=1800
MEM=3072
WAIT_IDLE=0
GUEST_ARGS=()

say() { printf 'bench-vm: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
# shellcheck source=bench/idle.sh
. "$SRC/bench/idle.sh"

usage() {
	sed -n '/^#   bench\/vm\/run.sh/,/^#              --bulk-bytes/p' "$0" |
		sed 's/^# \{0,1\}//' >&2
	exit 2
}

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--build) BUILD=$2; shift ;;
		--out) OUT=$2; shift ;;
		--quick) QUICK=1 ;;
		--timeout) TIMEOUT=$2; shift ;;
		--mem) MEM=$2; shift ;;
		--wait-idle) WAIT_IDLE=$2; shift ;;
		--reps | --peers | --bulk-bytes | --parallel | --idle-conns | --workers)
			GUEST_ARGS+=("$1" "$2"); shift ;;
		-h | --help) usage ;;
		*) say "unknown option: $1"; usage ;;
		esac
		shift
	done
	case $BUILD in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
	BUILD=$(cd "$BUILD" && pwd) || die "no build directory $BUILD"
	if [ "$QUICK" = 1 ]; then
		# explicit options come later and win
		GUEST_ARGS=(--reps 1 --bulk-bytes 16M --parallel 4
			--idle-conns 100 "${GUEST_ARGS[@]}")
		OUT=${OUT:-$BUILD/bench/vm-quick}
	fi
	OUT=${OUT:-$SRC/bench/results}
}

# What the guest needs, each at its host path.
carries() {
	local t
	CARRY=()
	for t in "$BUILD/kstapled" "$BUILD/bench/kst-load" \
		"$BUILD/tools/kst-backend"; do
		[ -x "$t" ] || die "missing $t (make BUILD=... bench-vm builds it)"
		CARRY+=(--carry "$t")
	done
	[ -f "$BUILD/pki/ocsp/localhost-ecdsa.der" ] ||
		die "missing test PKI with staples in $BUILD/pki"
	# directories: hwtest/initramfs.sh carries a plain file only when it
	# is executable
	CARRY+=(--carry "$BUILD/pki" --carry "$SRC/bench/peers"
		--carry "$SRC/bench/vm" --carry "$SRC/bench/run.sh")
	for t in bash jq ps pgrep taskset setsid; do
		command -v "$t" >/dev/null || die "missing $t"
		CARRY+=(--carry "$t")
	done
	for t in haproxy nginx; do
		if command -v "$t" >/dev/null; then
			CARRY+=(--carry "$t")
		else
			say "$t is not installed: the guest will mark it not available"
		fi
	done
}

# ------------------------------------------------------------ host load
# Busy ticks of the whole host (user nice system irq softirq steal).
host_busy_ticks() {
	local a
	read -r -a a </proc/stat
	echo $((a[1] + a[2] + a[3] + a[6] + a[7] + a[8]))
}

# CPU ticks of this shell's waited-for children: vm.sh, and the QEMU it
# waited for.
children_ticks() {
	local s a
	read -r s </proc/$$/stat
	read -r -a a <<<"${s##*) }"
	echo $((a[13] + a[14]))
}

# CPU ticks of the live processes descending from pid $1 (vm.sh, QEMU).
tree_ticks() {
	local root=$1 f s a pid changed sum=0
	local -A ppid=() ticks=() mine=([$root]=1)
	for f in /proc/[0-9]*/stat; do
		read -r s 2>/dev/null <"$f" || continue
		pid=${f#/proc/} pid=${pid%/stat}
		read -r -a a <<<"${s##*) }"
		ppid[$pid]=${a[1]} ticks[$pid]=$((a[11] + a[12]))
	done
	changed=1
	while [ "$changed" = 1 ]; do
		changed=0
		for pid in "${!ppid[@]}"; do
			if [ -z "${mine[$pid]:-}" ] && [ -n "${mine[${ppid[$pid]}]:-}" ]; then
				mine[$pid]=1 changed=1
			fi
		done
	done
	for pid in "${!mine[@]}"; do
		sum=$((sum + ${ticks[$pid]:-0}))
	done
	echo "$sum"
}

# Every 2 s: the host's busy ticks and this run's, as records, so that the
# report can tell which sessions shared the host with something else.
host_sampler() {
	local root=$1
	while :; do
		printf '{"type":"host_sample","t":%s,"busy":%s,"ours":%s}\n' \
			"$EPOCHREALTIME" "$(host_busy_ticks)" "$(tree_ticks "$root")"
		sleep 2
	done
}

# The share of the host's CPUs that something else than this run used.
other_share() {
	awk -v b="$1" -v c="$2" -v w="$3" -v n="$(nproc)" \
		'BEGIN { o = (b - c) / (w * 100 * n); printf "%.4f", o < 0 ? 0 : o }'
}

# ------------------------------------------------------------ results
kstapled_version() {
	git -C "$SRC" describe --always --dirty 2>/dev/null || echo '?'
}

# The host's side of the record: what ran the guest, and how long.
host_meta() {
	local secs=$1 rc=$2 other=$3 accel
	accel=tcg
	case ${KST_VM_ACCEL:-} in
	kvm) accel=kvm ;;
	tcg) ;;
	*) { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; } &&
		[ -w /dev/kvm ] && accel=kvm ;;
	esac
	jq -cn --arg cmd "$CMDLINE" --arg kernel "$(uname -r)" \
		--arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
		--arg nproc "$(nproc)" --arg accel "$accel" --arg mem "$MEM" \
		--arg qemu "$(qemu-system-x86_64 --version | head -n 1)" \
		--arg kst "$(kstapled_version)" \
		--argjson secs "$secs" --argjson rc "$rc" --argjson other "$other" \
		'{type: "host", command: $cmd, kernel: $kernel, cpu: $cpu,
		  nproc: $nproc, accel: $accel, guest_mem_mb: $mem, qemu: $qemu,
		  kstapled: $kst, secs: $secs, vm_exit: $rc,
		  host_other_share: $other}'
}

SAMPLER_PID=
stop_sampler() {
	[ -n "$SAMPLER_PID" ] || return 0
	kill "$SAMPLER_PID" 2>/dev/null || true
	wait "$SAMPLER_PID" 2>/dev/null || true
	SAMPLER_PID=
}

main() {
	local rc=0 t0 secs log raw b0 c0 other
	parse_args "$@"
	trap stop_sampler EXIT
	command -v jq >/dev/null || die "missing jq"
	carries
	mkdir -p "$OUT" "$BUILD/bench/vm"
	log=$BUILD/bench/vm/console.log
	raw=$BUILD/bench/vm/records.jsonl
	[ "$WAIT_IDLE" -gt 0 ] && wait_idle
	t0=$EPOCHREALTIME b0=$(host_busy_ticks) c0=$(children_ticks)
	say "booting the guest (TCG: expect 10-15 minutes for the default run)"
	host_sampler $$ >"$raw.samples" &
	SAMPLER_PID=$!
	# the records are read from the log afterwards: keep them off the
	# terminal
	set +e
	"$SRC/hwtest/vm.sh" --workdir "$BUILD/bench/vm" --log "$log" \
		--timeout "$TIMEOUT" --mem "$MEM" --name kst-vmbench \
		--env "KST_BENCH_KSTAPLED_VERSION=$(kstapled_version)" \
		"${CARRY[@]}" -- bash bench/vm/guest.sh --build "$BUILD" \
		"${GUEST_ARGS[@]}" 2>&1 |
		grep --line-buffered -v '^KST-BENCH-JSON: ' >&2
	rc=${PIPESTATUS[0]}
	set -e
	stop_sampler
	secs=$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%d", a - b }')
	other=$(other_share $(($(host_busy_ticks) - b0)) \
		$(($(children_ticks) - c0)) "$secs")
	[ "$rc" = 77 ] && exit 77
	# one record per line; a line the console garbled is dropped, loudly
	tr -d '\r' <"$log" | sed -n 's/^KST-BENCH-JSON: //p' |
		while IFS= read -r line; do
			jq -ce . <<<"$line" 2>/dev/null ||
				say "dropped a garbled record: ${line:0:80}..."
		done >"$raw"
	host_meta "$secs" "$rc" "$other" >>"$raw"
	jq -c . "$raw.samples" >>"$raw" 2>/dev/null || true
	[ "$(jq -s 'map(select(.type == "run")) | length' "$raw")" -gt 0 ] ||
		die "no results from the guest (exit $rc; console log: $log)"
	cp "$raw" "$OUT/vm-latest.jsonl"
	jq -r -s -f "$SRC/bench/vm/report.jq" "$raw" >"$OUT/vm-latest.md"
	cat "$OUT/vm-latest.md"
	say "results: $OUT/vm-latest.md, vm-latest.jsonl ($secs s)"
	[ "$rc" = 0 ] || die "the guest script failed (exit $rc; console log: $log)"
}

main "$@"
