#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Idle CPU of kstapled with N certificates (issue 13): the daemon serves N
# ECDSA leaves (bench/idle-certs/gen-certs.c, one issuer, no OCSP URL,
# fetch off), nothing connects, and its CPU time is read from
# /proc/PID/stat (utime + stime) over SECS seconds. Daemons compared run
# side by side in the same window, so the ratio holds on a busy machine
# even when the absolute numbers do not:
#
#   after   $BUILD/kstapled, BPF export on (bpf-pin-dir set)
#   nobpf   $BUILD/kstapled, bpf-pin-dir empty (what the rest of the
#           one-second tick costs, without the export)
#   before  --before BIN (e.g. a build of an older commit), BPF export on
#
#   bench/idle-certs.sh [--build DIR] [--before BIN] [--secs S]
#                       [--work DIR] [--keep] [--flush-cost] N...
#
#   --flush-cost  instead of daemons, the flush alone in process
#           (bench/idle-certs/flush-cost.c against $BUILD/libkst.a, real
#           map): CPU of a full and an idle flush, and the share of a core,
#           for each N; seconds even at 100,000 (no certificates to load)
#
# Default N: 1000 10000. Certificates are cached in WORK/certs-N (default
# WORK: $BUILD/bench/idle-certs). Needs root (bpffs pins), a bpf filesystem
# on /sys/fs/bpf, cc and OpenSSL's headers. Every daemon is stopped by PID.
# Output: one line per N and daemon, then the ratio before/after.
set -euo pipefail

cd "$(dirname "$0")/.."
build=build
before=""
secs=10
work=""
keep=0
flush_cost=0
counts=()
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--before) before=$2; shift 2 ;;
	--secs) secs=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--flush-cost) flush_cost=1; shift ;;
	-h | --help) sed -n '3,29p' "$0"; exit 0 ;;
	-*) echo "idle-certs: unknown option $1" >&2; exit 2 ;;
	*) counts+=("$1"); shift ;;
	esac
done
[ ${#counts[@]} -gt 0 ] || counts=(1000 10000)
work=${work:-$build/bench/idle-certs}
kst=$build/kstapled
[ -x "$kst" ] || { echo "idle-certs: no $kst (make BUILD=$build)" >&2; exit 2; }
[ -z "$before" ] || [ -x "$before" ] || { echo "idle-certs: no $before" >&2; exit 2; }
mountpoint -q /sys/fs/bpf || { echo "idle-certs: no bpffs on /sys/fs/bpf" >&2; exit 2; }
mkdir -p "$work"
work=$(cd "$work" && pwd)
gen=$work/gen-certs
if [ ! -x "$gen" ] || [ bench/idle-certs/gen-certs.c -nt "$gen" ]; then
	cc -O2 -Wall -Wextra -o "$gen" bench/idle-certs/gen-certs.c -lcrypto
fi
hz=$(getconf CLK_TCK)
pids=()
pins=()

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 1 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$p" 2>/dev/null || true
	done
	pids=()
	[ "$keep" = 1 ] || for p in "${pins[@]}"; do rm -rf "$p"; done
	pins=()
}
trap cleanup EXIT

if [ "$flush_cost" = 1 ]; then
	[ -f "$build/libkst.a" ] || { echo "idle-certs: no $build/libkst.a" >&2; exit 2; }
	# shellcheck disable=SC2046 # word splitting of pkg-config output
	cc -D_GNU_SOURCE -I. -I"$build" -std=gnu11 -O2 -Wall -Wextra \
		$(pkg-config --cflags libnl-genl-3.0) -o "$work/flush-cost" \
		bench/idle-certs/flush-cost.c "$build/libkst.a" -lssl -lcrypto \
		-lbpf -lnl-genl-3 -lnl-3 -lsystemd -lcap -lcares -lpthread
	for n in "${counts[@]}"; do
		pin=/sys/fs/bpf/kst-flush-cost-$$
		pins+=("$pin") # removed by cleanup, also on failure
		"$work/flush-cost" "$n" "$pin" 2>/dev/null
	done
	exit 0
fi

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# utime + stime of PID, in clock ticks
cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat")
	stat=${stat##*) }
	# after "pid (comm) ": field 3 is state, utime/stime are fields 14/15
	read -r -a f <<<"$stat"
	echo $((f[11] + f[12]))
}

# start TAG BIN N PIN_DIR: a daemon serving certs-N; sets $started_pid
start() {
	local bin=$2 n=$3 pin=$4 dir=$work/run-$1-$3
	rm -rf "$dir"
	mkdir -p "$dir/state"
	cat >"$dir/kstapled.conf" <<EOF
[global]
state-dir = $dir/state
bpf-pin-dir = $pin
allow-root = on

[ocsp]
fetch = off

[listener:bench]
bind = 127.0.0.1:$(free_port)
backend = 127.0.0.1:$(free_port)
EOF
	cat "$work/certs-$n/certs.conf" >>"$dir/kstapled.conf"
	[ -z "$pin" ] || pins+=("$pin")
	setsid "$bin" -c "$dir/kstapled.conf" >"$dir/log" 2>&1 &
	started_pid=$!
	pids+=("$started_pid")
}

wait_started() { # LOG PID TIMEOUT
	local deadline=$((SECONDS + $3))
	until grep -q "notice: started" "$1"; do
		if ! kill -0 "$2" 2>/dev/null || [ $SECONDS -ge "$deadline" ]; then
			echo "idle-certs: daemon $2 did not start, see $1" >&2
			tail -5 "$1" >&2
			exit 1
		fi
		sleep 0.5
	done
}

for n in "${counts[@]}"; do
	if [ ! -s "$work/certs-$n/certs.conf" ]; then
		rm -rf "$work/certs-$n"
		mkdir -p "$work/certs-$n"
		t0=$SECONDS
		"$gen" "$work/certs-$n" "$n"
		echo "# $n certificates minted in $((SECONDS - t0)) s"
	fi
	tags=(after nobpf)
	bins=("$kst" "$kst")
	pdirs=("/sys/fs/bpf/kst-idle-after-$$" "")
	if [ -n "$before" ]; then
		tags+=(before)
		bins+=("$before")
		pdirs+=("/sys/fs/bpf/kst-idle-before-$$")
	fi
	run_pids=()
	for i in "${!tags[@]}"; do
		start "${tags[$i]}" "${bins[$i]}" "$n" "${pdirs[$i]}"
		run_pids+=("$started_pid")
	done
	t0=$SECONDS
	for i in "${!tags[@]}"; do
		wait_started "$work/run-${tags[$i]}-$n/log" "${run_pids[$i]}" \
			$((60 + n / 100))
	done
	echo "# N=$n: all started after $((SECONDS - t0)) s; settling 5 s"
	sleep 5 # past the first (full) flush
	a=()
	for p in "${run_pids[@]}"; do a+=("$(cpu_ticks "$p")"); done
	sleep "$secs"
	declare -A pct=()
	for i in "${!tags[@]}"; do
		b=$(cpu_ticks "${run_pids[$i]}")
		d=$((b - a[i]))
		# percent of one core, 2 decimals
		pct[${tags[$i]}]=$(awk -v d="$d" -v hz="$hz" -v s="$secs" \
			'BEGIN { printf "%.2f", d * 100 / hz / s }')
		entries=""
		if [ -n "${pdirs[$i]}" ]; then
			entries=$("$kst" status --json --pin-dir "${pdirs[$i]}" |
				python3 -c 'import json,sys; print(len(json.load(sys.stdin)["certs"]))' ||
				echo "?")
			entries=" map_entries=$entries"
		fi
		rss=$(awk '/^VmRSS/ { print $2 }' "/proc/${run_pids[$i]}/status")
		printf 'N=%-7s %-7s cpu=%6s%% of a core over %ss (%s ticks)  rss=%s MB%s\n' \
			"$n" "${tags[$i]}" "${pct[${tags[$i]}]}" "$secs" "$d" \
			"$((rss / 1024))" "$entries"
	done
	if [ -n "$before" ]; then
		# a reading of 0 ticks is below one tick: bound the ratio by it
		awk -v b="${pct[before]}" -v a="${pct[after]}" -v n="$n" \
			-v tick="$(awk -v hz="$hz" -v s="$secs" 'BEGIN { print 100 / hz / s }')" 'BEGIN {
			if (a > 0) printf "N=%-7s before/after = %.1fx\n", n, b / a;
			else printf "N=%-7s before/after > %.0fx (after: under one tick)\n", n, b / tick;
		}'
	fi
	unset pct
	cleanup
done
