#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Where a handshake's server work goes, counted rather than timed, so that
# it holds on a shared or noisy machine: per peer and test, the server's
# userspace instructions per full handshake (valgrind's callgrind, every
# process and thread of the server's session), split by object (libcrypto,
# libssl, the C library, the server's own binary), and its system calls
# per handshake (strace -c -f, same load, by name). bench/run.sh gives the
# timings (CPU per handshake, user vs system time, latency); this gives
# the counts behind them. Method: bench/README.md, "Counting a handshake".
#
#   bench/hs-profile.sh [--build DIR] [--out DIR] [--peers LIST]
#                       [--tests LIST] [--hs N] [--alt-kstapled BIN]
#                       [--keep]
#
#   --peers  comma list of haproxy,nginx,kstapled,kstapled-alt (default:
#            haproxy,nginx,kstapled; hitch drops privileges to a user
#            that cannot write callgrind's files)
#   --tests  comma list of tls13-ecdsa,tls13-rsa,tls12-ecdsa,tls12-rsa
#            (default: the first three)
#   --hs N   handshakes counted per test (default 150; after 20 of warm-up)
#   --keep   keep the work directory: PEER-cg/cg.PID.DUMP-THREAD are the
#            callgrind dumps, for callgrind_annotate per function
#
# Needs: valgrind, strace, and what bench/run.sh needs. Output: a markdown
# table on stdout and in OUT/hs-profile.md, the records in
# OUT/hs-profile.jsonl. About 40 s per peer and test.

set -euo pipefail
set +m

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# bench/run.sh's functions (processes, templates, kst-load), without its
# last line (the call of main)
# shellcheck source=bench/run.sh
source <(sed '$d' "$SRC/bench/run.sh")
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

HP_PEERS=haproxy,nginx,kstapled
HP_TESTS=tls13-ecdsa,tls13-rsa,tls12-ecdsa
HP_N=150
HP_ARGS=()
while [ $# -gt 0 ]; do
	case $1 in
	--peers) HP_PEERS=$2; shift ;;
	--tests) HP_TESTS=$2; shift ;;
	--hs) HP_N=$2; shift ;;
	--alt-kstapled) HP_ARGS+=(--alt-kstapled "$2"); shift ;;
	--build | --out) HP_ARGS+=("$1" "$2"); shift ;;
	--keep) HP_ARGS+=(--keep) ;;
	-h | --help) sed -n '/^#   bench\/hs-profile.sh/,/callgrind_annotate per function/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	*) die "unknown option: $1" ;;
	esac
	shift
done
parse_args "${HP_ARGS[@]}"
for t in valgrind callgrind_control callgrind_annotate strace; do
	command -v "$t" >/dev/null || die "missing $t"
done
preflight

# Instructions per object from one callgrind dump: "object count" lines.
# Self cost per function, objects by base name. The functions that were on
# the stack when the dump was taken (main, the event loop, clone and
# start_thread of a thread) are listed with about the whole dump's cost
# (each thread has its own dump, --separate-threads): rows above 90% of
# the total are those, and skipped. Functions without an
# object are glibc's (malloc arenas, pthread).
cg_objects() {
	callgrind_annotate --auto=no --threshold=100 "$1" 2>/dev/null | awk '
		/^ *[0-9,]+ +\(/ {
			n = $1; gsub(",", "", n); n += 0
			if (/PROGRAM TOTALS/) { total = n; next }
			if (total > 0 && n > 0.9 * total) next
			ob = "libc.so.6"
			if (match($0, /\[[^]]*\]$/)) ob = substr($0, RSTART + 1, RLENGTH - 2)
			sub(".*/", "", ob)
			s[ob] += n
		}
		END { for (o in s) print o, s[o] }'
}

# kst-load for one test at RATE for N handshakes, on the client CPU.
hp_load() {
	local test=$1 rate=$2 n=$3 tls key port
	tls=${test#tls}; tls=${tls%%-*}; tls=${tls:0:1}.${tls:1}
	key=${test##*-}
	port=$(port_for "$key")
	local cmd=("$KST_LOAD" rate -c "127.0.0.1:$port" --tls "$tls" --key "$key"
		--rate "$rate" --duration "$(awk -v n="$n" -v r="$rate" 'BEGIN{print n / r}')"
		--timeout 60 --expect-staple "$(staple_for "$key")")
	[ "$PIN" = 1 ] && cmd=(taskset -c "$CLIENT_CPU" "${cmd[@]}")
	"${cmd[@]}" 2>>"$DIR/load.log"
}

# One session of PEER under callgrind: Ir per handshake per test.
hp_callgrind() {
	local peer=$1 test pid f json n
	DIR=$WORK/$peer-cg
	mkdir -p "$DIR"
	start_backend "$DIR" || return 1
	peer_setup "$peer" "$DIR"
	PEER_CMD=(valgrind -q --tool=callgrind --trace-children=yes
		--dump-instr=no --separate-threads=yes
		"--callgrind-out-file=$DIR/cg.%p" "${PEER_CMD[@]}")
	if ! start_peer "$peer"; then
		stop_session "$PEER_PID" || true
		stop_session "$BE_PID" || true
		return 1
	fi
	for test in ${HP_TESTS//,/ }; do
		hp_load "$test" 20 20 >/dev/null || true # warm-up
		for pid in $(session_pids "$PEER_PID"); do
			callgrind_control -z "$pid" >/dev/null 2>&1 || true
		done
		json=$(hp_load "$test" 25 "$HP_N") || json='{}'
		for pid in $(session_pids "$PEER_PID"); do
			callgrind_control -d "$pid" >/dev/null 2>&1 || true
		done
		n=$(jq -r '.completed // 0' <<<"$json")
		# the newest dump of every process of the session, one file
		# per thread (cg.PID.DUMP-THREAD)
		{
			for pid in $(session_pids "$PEER_PID"); do
				for f in $(find "$DIR" -name "cg.$pid.*" -printf '%f\n' |
					awk -F'[.-]' '{d[$0] = $3 + 0; if ($3 + 0 > m) m = $3 + 0}
						END {for (f in d) if (d[f] == m) print f}'); do
					cg_objects "$DIR/$f"
				done
			done
		} | jq -Rn --arg peer "$peer" --arg test "$test" --argjson n "$n" \
			--argjson failed "$(jq -r '.failed // 0' <<<"$json")" '
			[inputs | split(" ") | {(.[0]): (.[1] | tonumber)}]
			| reduce .[] as $o ({}; reduce ($o | keys[]) as $k (.; .[$k] += $o[$k]))
			| {type: "callgrind", peer: $peer, test: $test, hs: $n,
			   failed: $failed, ir_by_object: .}' >>"$RAW"
		say "  $peer $test: $n handshakes counted"
	done
	stop_session "$PEER_PID" || true
	PEER_PID=
	stop_session "$BE_PID" || true
	BE_PID=
}

# One session of PEER under strace -c -f: system calls per handshake.
hp_strace() {
	local peer=$1 test spid json tasks
	DIR=$WORK/$peer-st
	mkdir -p "$DIR"
	start_backend "$DIR" || return 1
	if ! start_peer_retry "$peer"; then
		stop_session "$BE_PID" || true
		return 1
	fi
	for test in ${HP_TESTS//,/ }; do
		hp_load "$test" 20 20 >/dev/null || true
		tasks=()
		for pid in $(session_pids "$PEER_PID"); do tasks+=(-p "$pid"); done
		strace -c -f -o "$DIR/strace-$test.txt" "${tasks[@]}" 2>/dev/null &
		spid=$!
		sleep 1
		json=$(hp_load "$test" 100 300) || json='{}'
		kill -INT "$spid" 2>/dev/null || true
		wait "$spid" 2>/dev/null || true
		# "calls errors name" per system call, from strace's summary
		awk '/^-+ /{sep++; next} sep == 1 && NF >= 5 {
			if (NF == 6) print $4, $5, $6; else print $4, 0, $5 }' \
			"$DIR/strace-$test.txt" |
			jq -Rn --arg peer "$peer" --arg test "$test" \
				--argjson n "$(jq -r '.completed // 0' <<<"$json")" '
				[inputs | split(" ") | {(.[2]): {calls: (.[0] | tonumber), errors: (.[1] | tonumber)}}]
				| add // {} | {type: "syscalls", peer: $peer, test: $test, hs: $n, by_name: .}' >>"$RAW"
	done
	stop_session "$PEER_PID" || true
	PEER_PID=
	stop_session "$BE_PID" || true
	BE_PID=
}

hp_main() {
	local peer
	[ -z "$OUT" ] || mkdir -p "$OUT"
	. "$SRC/bench/idle.sh"
	WORK=$(mktemp -d /tmp/kst-hsprof.XXXXXX)
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	RAW=$WORK/hs-profile.jsonl
	: >"$RAW"
	IDLE_BUSY=$(machine_busy_pct)
	record_meta
	prepare_certs
	PEERS=$HP_PEERS
	[ -n "$ALT_KSTAPLED" ] && [[ ",$PEERS," != *",kstapled-alt,"* ]] && PEERS=$PEERS,kstapled-alt
	select_peers
	for peer in "${RUN_PEERS[@]}"; do
		say "$peer: callgrind"
		hp_callgrind "$peer" || say "$peer: callgrind session failed"
		say "$peer: strace"
		hp_strace "$peer" || say "$peer: strace session failed"
	done
	cp "$RAW" "$OUT/hs-profile.jsonl"
	jq -r -s -f "$SRC/bench/hs-profile.jq" "$RAW" | tee "$OUT/hs-profile.md"
}

hp_main
