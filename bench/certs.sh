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
#   idle      then the daemon's CPU over 60 s with nothing to do, in % of
#             a core (BPF export on when possible): one whole period of
#             the once-a-minute stat of every staple file, which a 20 s
#             window either missed or counted three times
#
#   bench/certs.sh [--build DIR] [--work DIR] [--bin KSTAPLED] [--no-haproxy]
#                  [--no-bpf] N...
#
# Cold fetch (issue 13: 50,000 cold staples within 60 s, one request per
# certificate, first handshakes never delayed beyond startup-wait; a warm
# restart as fast as the static case):
#
#   bench/certs.sh [--build DIR] [--work DIR] [--bin KSTAPLED] [--no-bpf]
#                  [--startup-wait SECS] [--concurrency C] [--samples S]
#                  [--no-restart] coldfetch N...
#
#   N leaves whose OCSP URL is a local responder (bench/certs/ocspd.c:
#   responses signed in advance by gen-certs -r, looked up by serial, one
#   thread, 127.0.0.1 only), no staple file beside them, kstapled with
#   fetch on and an empty state-dir. Measured: exec to "started" (workers
#   accept) and to the last fetched staple in state-dir (polled every
#   0.25 s: a file there is a staple served), the daemon's and the
#   responder's CPU, the responder's requests and distinct serials (both
#   must be N), and S first handshakes (bench/certs/hs-sample.py: S
#   different names at random, started evenly over the expected fetch
#   time from when the daemon's socket first accepts, each timed from
#   connect to handshake done) against startup-wait
#   (default: the daemon's, 10 s). Then a restart with that state-dir
#   (warm: exec to the last certificate served stapled, requests it caused)
#   against the static case (the same N with staple files beside the
#   certificates and fetch off), and the ratio. --concurrency sets
#   [ocsp] fetch-concurrency (default: the daemon's, 8).
#
# Default N: 1000 10000 (coldfetch: 5000). Certificates are cached in
# WORK/certs-N (coldfetch: WORK/cold-N, with the URL's port) (default
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
mode=scale
swait=""
conc=""
samples=200
restart=1
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	--bin) bin=$2; shift 2 ;;
	--no-haproxy) haproxy=0; shift ;;
	--no-bpf) bpf=0; shift ;;
	--startup-wait) swait=$2; shift 2 ;;
	--concurrency) conc=$2; shift 2 ;;
	--samples) samples=$2; shift 2 ;;
	--no-restart) restart=0; shift ;;
	coldfetch) mode=coldfetch; shift ;;
	-h | --help) sed -n '3,56p' "$0"; exit 0 ;;
	-*) echo "certs: unknown option $1" >&2; exit 2 ;;
	*) counts+=("$1"); shift ;;
	esac
done
[ ${#counts[@]} -gt 0 ] || [ "$mode" = coldfetch ] || counts=(1000 10000)
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
ocspd=$work/ocspd
if [ "$mode" = coldfetch ] &&
	{ [ ! -x "$ocspd" ] || [ bench/certs/ocspd.c -nt "$ocspd" ]; }; then
	cc -O2 -Wall -Wextra -o "$ocspd" bench/certs/ocspd.c -lcrypto
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
${ocsp_conf:-fetch = off}

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

# ------------------------------------------------------------ coldfetch

# statecount DIR: fetched staples in a state-dir
statecount() {
	find "$1" -maxdepth 1 -name '*.ocsp' -printf . 2>/dev/null | wc -c
}

# cold_certs N: the leaves with a responder URL, minted once per N (the
# URL's port with them); sets c_dir, c_port
cold_certs() {
	c_dir=$work/cold-$1
	if [ ! -s "$c_dir/certs/certs.conf" ] || [ ! -s "$c_dir/port" ]; then
		rm -rf "$c_dir"
		mkdir -p "$c_dir/certs" "$c_dir/resp"
		free_port >"$c_dir/port"
		local t0
		t0=$(now_ms)
		"$gen" -u "http://127.0.0.1:$(cat "$c_dir/port")" \
			-r "$c_dir/resp" "$c_dir/certs" "$1"
		echo "# $1 certificates with an OCSP URL minted in $(($(now_ms) - t0)) ms"
	fi
	c_port=$(cat "$c_dir/port")
}

# responder_start DIR: sets r_ocspd (pid); 1 when its port is taken
responder_start() {
	: >"$1/ocspd.log"
	setsid "$ocspd" "$c_port" "$c_dir/resp" "$1/ocspd.log" \
		>"$1/ocspd.out" 2>&1 &
	r_ocspd=$!
	pids+=("$r_ocspd")
	for _ in $(seq 1 100); do
		grep -q '^listening' "$1/ocspd.out" && return 0
		kill -0 "$r_ocspd" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# stop_pid PID: SIGTERM, then wait for it (bounded), SIGKILL; reaped and
# off the list, so that cleanup never signals a PID that was reused
stop_pid() {
	local p keep=()
	kill -TERM "$1" 2>/dev/null || true
	for _ in $(seq 1 300); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	pids=("${keep[@]}")
}

pct() { # FILE P: the P-th percentile of FILE's numbers (one a line)
	sort -n "$1" | awk -v p="$2" '{ a[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; if (i > NR) i = NR
		print a[i] }'
}

coldfetch_one() {
	local n=$1 dir=$work/cold-run-$1 port t0 pid sampler tstart=-1 tlast=-1
	local tstart_abs=0 ctl0=-1 tfirst=-1
	local have=0 deadline sw_ms window before after
	cold_certs "$n"
	rm -rf "$dir"
	mkdir -p "$dir"
	if ! responder_start "$dir"; then
		echo "# responder port $c_port taken: minting again" >&2
		stop_pid "$r_ocspd"
		rm -rf "$c_dir"
		cold_certs "$n"
		responder_start "$dir" ||
			{ echo "certs: responder: $(cat "$dir/ocspd.out")" >&2; return 1; }
	fi
	port=$(free_port)
	ocsp_conf="fetch = on
${swait:+startup-wait = ${swait}s}
${conc:+fetch-concurrency = $conc}"
	kst_conf "$dir" "$c_dir/certs/certs.conf" "$port"
	ocsp_conf=""
	sw_ms=$((${swait:-10} * 1000))
	# samples spread over the time the fetch is expected to take, from
	# when the daemon's socket exists
	window=$(awk -v n="$n" -v s="${swait:-10}" 'BEGIN { w = n / 1000; print (w < s + 5 ? s + 5 : w) }')
	t0=$(now_ms)
	setsid "$kst" -c "$dir/kstapled.conf" >"$dir/log" 2>&1 &
	pid=$!
	pids+=("$pid")
	python3 bench/certs/hs-sample.py "$port" "$n" "$samples" "$window" 60 \
		>"$dir/samples" 2>"$dir/samples.err" &
	sampler=$!
	pids+=("$sampler")
	deadline=$(($(now_ms) + (120 + n / 100) * 1000))
	while :; do
		if [ "$tstart" -lt 0 ] && grep -q 'started: ' "$dir/log"; then
			tstart_abs=$(now_ms)
			tstart=$((tstart_abs - t0))
		fi
		have=$(statecount "$dir/state")
		if [ "$ctl0" -lt 0 ] && [ "$have" -gt 0 ]; then
			ctl0=$(cpu_ticks "$pid/task/$pid")
			tfirst=$(($(now_ms) - t0))
		fi
		if [ "$have" -ge "$n" ]; then
			tlast=$(($(now_ms) - t0))
			break
		fi
		kill -0 "$pid" 2>/dev/null || { echo "certs: kstapled died, see $dir/log" >&2; break; }
		[ "$(now_ms)" -lt "$deadline" ] || { echo "certs: $have/$n fetched by the deadline" >&2; break; }
		sleep 0.25
	done
	local kcpu=$(($(cpu_ticks "$pid") * 1000 / hz)) krss ctl
	ctl=$((($(cpu_ticks "$pid/task/$pid") - ctl0) * 1000 / hz))
	krss=$(rss_kb "$pid")
	local ocpu=$(($(cpu_ticks "$r_ocspd") * 1000 / hz))
	local laststapled=no
	stapled "$port" "c$((n - 1)).bench.test" && laststapled=yes
	# the sampler ends by itself (its window and deadlines are bounded)
	for _ in $(seq 1 $((${window%.*} * 10 + 700))); do
		kill -0 "$sampler" 2>/dev/null || break
		sleep 0.1
	done
	stop_pid "$sampler"
	local reqs distinct
	reqs=$(wc -l <"$dir/ocspd.log")
	distinct=$(sort -u "$dir/ocspd.log" | wc -l)

	# first handshakes: before the workers accepted, and after
	# (by when they started: before "started" was seen, which is up to
	# 0.25 s late, or after)
	awk -v ts="$tstart_abs" '$2 >= 0 && $1 + 0 < ts { print $2 }' "$dir/samples" >"$dir/lat-before"
	awk -v ts="$tstart_abs" '$2 >= 0 && $1 + 0 >= ts { print $2 }' "$dir/samples" >"$dir/lat-after"
	local nerr nbefore nafter
	nerr=$(awk '$2 < 0' "$dir/samples" | wc -l)
	nbefore=$(wc -l <"$dir/lat-before")
	nafter=$(wc -l <"$dir/lat-after")
	printf 'N=%-7s cold    started=%6d ms  first-stapled=%6d ms  last-stapled=%6d ms (%d/%d in state-dir, c%d served stapled: %s)  kstapled cpu=%6d ms (control thread from the first to the last staple: %d ms) rss=%d MB  responder: requests=%d distinct=%d cpu=%d ms\n' \
		"$n" "$tstart" "$tfirst" "$tlast" "$have" "$n" $((n - 1)) "$laststapled" \
		"$kcpu" "$ctl" $((krss / 1024)) "$reqs" "$distinct" "$ocpu"
	printf 'N=%-7s first handshakes (startup-wait %d ms): %d before start p50=%s max=%s ms; %d after p50=%s p99=%s max=%s ms; %d failed\n' \
		"$n" "$sw_ms" "$nbefore" "$(pct "$dir/lat-before" 50)" \
		"$(pct "$dir/lat-before" 100)" "$nafter" "$(pct "$dir/lat-after" 50)" \
		"$(pct "$dir/lat-after" 99)" "$(pct "$dir/lat-after" 100)" "$nerr"
	grep 'startup-wait over' "$dir/log" | head -1 | sed "s/^/N=$n log: /" || true

	# warm restart: the same daemon, the state-dir as the run left it
	stop_pid "$pid"
	if [ "$restart" = 0 ]; then
		stop_pid "$r_ocspd"
		cleanup
		return 0
	fi
	local r0 wload wcpu wreqs
	r0=$(wc -l <"$dir/ocspd.log")
	cp "$dir/log" "$dir/log.cold"
	t0=$(now_ms)
	setsid "$kst" -c "$dir/kstapled.conf" >"$dir/log" 2>&1 &
	pid=$!
	pids+=("$pid")
	wait_stapled "$port" "c$((n - 1)).bench.test" "$pid" $((60 + n / 200))
	wload=$(($(now_ms) - t0))
	wcpu=$(($(cpu_ticks "$pid") * 1000 / hz))
	sleep 2
	wreqs=$(($(wc -l <"$dir/ocspd.log") - r0))
	stop_pid "$pid"
	stop_pid "$r_ocspd"
	cat "$dir/ocspd.out" | sed "s/^/N=$n responder: /"

	# the static case: staple files beside the certificates, fetch off
	local certs=$work/certs-$n
	if [ ! -s "$certs/crt-list" ]; then
		rm -rf "$certs"
		mkdir -p "$certs"
		"$gen" "$certs" "$n"
	fi
	kst_run "$n" "$certs" static
	stop_pid "$r_pid"
	printf 'N=%-7s restart warm state-dir=%6d ms cpu=%6d ms (requests %d)  static=%6d ms cpu=%6d ms  ratio warm/static %.2f (cpu %.2f)\n' \
		"$n" "$wload" "$wcpu" "$wreqs" "$r_load" "$r_cpu" \
		"$(awk -v a="$wload" -v b="$r_load" 'BEGIN { print a / b }')" \
		"$(awk -v a="$wcpu" -v b="$r_cpu" 'BEGIN { print a / b }')"
	cleanup
}

if [ "$mode" = coldfetch ]; then
	[ ${#counts[@]} -gt 0 ] || counts=(5000)
	for n in "${counts[@]}"; do coldfetch_one "$n"; done
	exit 0
fi

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
	sleep 60
	idle=$(awk -v d="$(($(cpu_ticks "$pid") - i0))" -v hz="$hz" \
		'BEGIN { printf "%.2f", d * 100 / hz / 60 }')
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
