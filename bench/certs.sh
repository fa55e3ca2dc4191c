#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Many certificates (issue 13): kstapled serving N ECDSA P-256 leaves, each
# with its own key, chain and DER staple file (bench/certs/gen-certs.c,
# minted in process), and HAProxy with the same files (crt-list, .ocsp
# beside each PEM) side by side when `haproxy` is installed. For each N:
#
#   load      exec to the first handshake that gets the last certificate
#             (SNI c<N-1>) with its staple (openssl s_client -status);
#             cpu: the server's CPU time (all threads) by then, which a
#             busy machine disturbs less than the wall time
#   rss/cert  VmRSS then, minus the same daemon's with 1 certificate, / N
#   check     `kstapled -t` (HAProxy: -c) wall time
#   hup0      SIGHUP with nothing changed: wall time to "reloaded", CPU
#             of the daemon meanwhile, RSS 2.5 s after (the old
#             generation freed) / RSS before
#   hup1%     the same with 1% of the certificates re-minted (new keys),
#             and that a changed one is served with its new staple
#   idle      then the daemon's CPU over 20 s with nothing to do, in % of
#             a core (BPF export on when possible)
#
#   bench/certs.sh [--build DIR] [--work DIR] [--bin KSTAPLED] [--no-haproxy]
#                  [--no-bpf] N...
#
# Default N: 1000 10000. Certificates are cached in WORK/certs-N (default
# WORK: $BUILD/bench/certs); the 1% re-mint changes them (a later run
# reuses them as they are). The BPF export is on (bpf-pin-dir) when
# /sys/fs/bpf is mounted and we are root, unless --no-bpf. Every daemon is
# stopped by PID. One line per N and daemon, and the ratio to HAProxy.
set -euo pipefail

cd "$(dirname "$0")/.."
build=build
work=""
bin=""
haproxy=1
bpf=1
counts=()
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--bin) bin=$2; shift 2 ;;
	--no-haproxy) haproxy=0; shift ;;
	--no-bpf) bpf=0; shift ;;
	-h | --help) sed -n '3,30p' "$0"; exit 0 ;;
	-*) echo "certs: unknown option $1" >&2; exit 2 ;;
	*) counts+=("$1"); shift ;;
	esac
done
[ ${#counts[@]} -gt 0 ] || counts=(1000 10000)
work=${work:-$build/bench/certs}
kst=${bin:-$build/kstapled}
[ -x "$kst" ] || { echo "certs: no $kst (make BUILD=$build)" >&2; exit 2; }
command -v haproxy >/dev/null || haproxy=0
{ [ "$(id -u)" = 0 ] && mountpoint -q /sys/fs/bpf; } || bpf=0
mkdir -p "$work"
work=$(cd "$work" && pwd)
gen=$work/gen-certs
if [ ! -x "$gen" ] || [ bench/certs/gen-certs.c -nt "$gen" ]; then
	cc -O2 -Wall -Wextra -o "$gen" bench/certs/gen-certs.c -lcrypto
fi
hz=$(getconf CLK_TCK)
pids=()
pins=()

cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do
		for _ in $(seq 1 300); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
	done
	pids=()
	for p in "${pins[@]}"; do rm -rf "$p"; done
	pins=()
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
now_ms() { date +%s%3N; }
cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat")
	stat=${stat##*) }
	read -r -a f <<<"$stat"
	echo $((f[11] + f[12]))
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# stapled PORT NAME: does NAME's handshake carry a good staple?
stapled() {
	timeout 5 openssl s_client -connect "127.0.0.1:$1" -servername "$2" \
		-status </dev/null 2>/dev/null |
		grep -q "OCSP Response Status: successful"
}
# serial PORT NAME: the certificate served for NAME
serial() {
	timeout 5 openssl s_client -connect "127.0.0.1:$1" -servername "$2" \
		</dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null
}

# wait_stapled PORT NAME PID TIMEOUT_S: ms until NAME is served stapled
wait_stapled() {
	local deadline=$(($(now_ms) + $4 * 1000))
	until stapled "$1" "$2"; do
		if ! kill -0 "$3" 2>/dev/null || [ "$(now_ms)" -ge $deadline ]; then
			echo "certs: $2 never stapled on port $1" >&2
			return 1
		fi
		sleep 0.05
	done
}

kst_conf() { # DIR CERTS PORT
	local pin=""
	if [ "$bpf" = 1 ]; then
		pin=/sys/fs/bpf/kst-certs-$$-$RANDOM
		pins+=("$pin")
	fi
	mkdir -p "$1/state"
	cat >"$1/kstapled.conf" <<EOF
[global]
state-dir = $1/state
bpf-pin-dir = $pin
allow-root = on

[ocsp]
fetch = off

[listener:bench]
bind = 127.0.0.1:$3
backend = 127.0.0.1:$(free_port)
EOF
	cat "$2" >>"$1/kstapled.conf"
}

# kst_run N CERTS_DIR TAG: start kstapled; sets r_load (ms), r_rss (KB),
# r_pid, r_port (not in a subshell: pids and pins must reach cleanup)
kst_run() {
	local dir=$work/run-$3-$1 port t0 pid
	rm -rf "$dir"
	mkdir -p "$dir"
	port=$(free_port)
	if [ "$1" = 1 ]; then
		head -1 "$2/certs.conf" >"$dir/certs.conf"
	else
		cp "$2/certs.conf" "$dir/certs.conf"
	fi
	kst_conf "$dir" "$dir/certs.conf" "$port"
	t0=$(now_ms)
	setsid "$kst" -c "$dir/kstapled.conf" >"$dir/log" 2>&1 &
	pid=$!
	pids+=("$pid")
	wait_stapled "$port" "c$(($1 - 1)).bench.test" "$pid" $((60 + $1 / 200))
	r_load=$(($(now_ms) - t0))
	r_cpu=$(($(cpu_ticks "$pid") * 1000 / hz))
	r_rss=$(rss_kb "$pid")
	r_pid=$pid
	r_port=$port
}

# wait_log FILE PATTERN COUNT TIMEOUT_S
wait_log() {
	local deadline=$(($(now_ms) + $4 * 1000))
	until [ "$(grep -c "$2" "$1" || true)" -ge "$3" ]; do
		[ "$(now_ms)" -lt $deadline ] || return 1
		sleep 0.02
	done
}

# hup PID LOG GEN: "wall_ms cpu_ms rss_kb" of a reload to generation GEN
hup() {
	local t0 c0
	c0=$(cpu_ticks "$1")
	t0=$(now_ms)
	kill -HUP "$1"
	wait_log "$2" "reloaded: generation $3" 1 600 ||
		{ echo "certs: reload $3 did not finish, see $2" >&2; return 1; }
	local wall=$(($(now_ms) - t0)) cpu=$((($(cpu_ticks "$1") - c0) * 1000 / hz))
	sleep 2.5 # the old generation is freed at the next tick
	echo "$wall $cpu $(rss_kb "$1")"
}

hap_run() { # N CERTS_DIR: sets r_load, r_rss, r_pid, r_port
	local dir=$work/run-haproxy-$1 port t0 pid
	rm -rf "$dir"
	mkdir -p "$dir"
	port=$(free_port)
	head -"$1" "$2/crt-list" >"$dir/crt-list"
	cat >"$dir/haproxy.cfg" <<EOF
global
	nbthread 2
	tune.ssl.default-dh-param 2048
defaults
	mode tcp
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend fe
	bind 127.0.0.1:$port ssl crt-list $dir/crt-list
	default_backend be
backend be
	server s1 127.0.0.1:$(free_port)
EOF
	t0=$(now_ms)
	setsid haproxy -db -f "$dir/haproxy.cfg" >"$dir/log" 2>&1 &
	pid=$!
	pids+=("$pid")
	wait_stapled "$port" "c$(($1 - 1)).bench.test" "$pid" $((120 + $1 / 100))
	r_load=$(($(now_ms) - t0))
	r_cpu=$(($(cpu_ticks "$pid") * 1000 / hz))
	r_rss=$(rss_kb "$pid")
	r_pid=$pid
	r_port=$port
}

ms_of() { # command...: wall ms
	local t0
	t0=$(now_ms)
	"$@" >/dev/null 2>&1 || true
	echo $(($(now_ms) - t0))
}

for n in "${counts[@]}"; do
	certs=$work/certs-$n
	if [ ! -s "$certs/crt-list" ]; then
		rm -rf "$certs"
		mkdir -p "$certs"
		t0=$(now_ms)
		"$gen" "$certs" "$n"
		echo "# $n certificates minted in $(($(now_ms) - t0)) ms"
	fi
	kst_run 1 "$certs" base
	base=$r_rss
	cleanup
	kst_run "$n" "$certs" kst
	load=$r_load lcpu=$r_cpu rss=$r_rss pid=$r_pid port=$r_port
	log=$work/run-kst-$n/log
	check=$(ms_of "$kst" -t -c "$work/run-kst-$n/kstapled.conf")
	read -r h0 h0cpu h0rss <<<"$(hup "$pid" "$log" 2)"
	k=$((n / 100 > 0 ? n / 100 : 1))
	"$gen" "$certs" "$k" 0 # re-mint c0..c<k-1>
	want=$(openssl x509 -noout -serial -in "$certs/c0.pem")
	read -r h1 h1cpu h1rss <<<"$(hup "$pid" "$log" 3)"
	got=$(serial "$port" c0.bench.test)
	swapped=no
	[ "$got" = "$want" ] && stapled "$port" c0.bench.test && swapped=yes
	i0=$(cpu_ticks "$pid")
	sleep 20
	idle=$(awk -v d="$(($(cpu_ticks "$pid") - i0))" -v hz="$hz" \
		'BEGIN { printf "%.2f", d * 100 / hz / 20 }')
	printf 'N=%-7s kstapled load=%6d ms cpu=%6d ms  rss/cert=%5.1f KB (%d MB)  check=%6d ms  hup0=%5d ms cpu=%5d ms rss x%.2f  hup1%%=%5d ms cpu=%5d ms rss x%.2f swapped=%s  idle=%s%%\n' \
		"$n" "$load" "$lcpu" "$(awk -v r="$rss" -v b="$base" -v n="$n" 'BEGIN { print (r - b) / n }')" \
		$((rss / 1024)) "$check" "$h0" "$h0cpu" \
		"$(awk -v a="$h0rss" -v b="$rss" 'BEGIN { print a / b }')" \
		"$h1" "$h1cpu" "$(awk -v a="$h1rss" -v b="$h0rss" 'BEGIN { print a / b }')" \
		"$swapped" "$idle"
	cleanup
	if [ "$haproxy" = 1 ]; then
		hap_run 1 "$certs"
		hbase=$r_rss
		cleanup
		hap_run "$n" "$certs"
		hload=$r_load hcpu=$r_cpu hrss=$r_rss
		cleanup
		hcheck=$(ms_of haproxy -c -f "$work/run-haproxy-$n/haproxy.cfg")
		printf 'N=%-7s haproxy  load=%6d ms cpu=%6d ms  rss/cert=%5.1f KB (%d MB)  check=%6d ms\n' \
			"$n" "$hload" "$hcpu" "$(awk -v r="$hrss" -v b="$hbase" -v n="$n" 'BEGIN { print (r - b) / n }')" \
			$((hrss / 1024)) "$hcheck"
		printf 'N=%-7s ratio kstapled/haproxy: load %.2f (cpu %.2f), rss/cert %.2f, check %.2f\n' \
			"$n" "$(awk -v a="$load" -v b="$hload" 'BEGIN { print a / b }')" \
			"$(awk -v a="$lcpu" -v b="$hcpu" 'BEGIN { print a / b }')" \
			"$(awk -v a="$rss" -v b="$base" -v c="$hrss" -v d="$hbase" 'BEGIN { print (a - b) / (c - d) }')" \
			"$(awk -v a="$check" -v b="$hcheck" 'BEGIN { print a / b }')"
	fi
done
