#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Session resumption benchmark: handshakes per second of server CPU with
# resumption (a session ticket offered each time) and without (a full
# handshake each time), for kstapled, HAProxy and nginx, each given the
# same ticket keys (one key file, `kstapled ticket-key new` x 3), TLS 1.2
# and 1.3, ECDSA P-256.
#
#   bench/tickets.sh [--build DIR] [--secs N] [--peers LIST] [--quick]
#                    [--out FILE] [--no-pin]
#
#   --secs   seconds per measurement (default 5; --quick: 1)
#   --peers  comma list of kstapled,haproxy,nginx (default: all installed)
#   --out    also write the markdown table to FILE
#
# The client is `openssl s_time` (-new: a full handshake per connection;
# -reuse: the first connection's session offered on every later one, and
# each connection counted as resumed only when the server took it), each
# connection a `GET /` answered by kst-backend (http) through the server.
# Server CPU is utime+stime of every process of the server's session,
# read from /proc before and after. The client and backend are pinned to
# CPU 0, the server to CPU 1 (unless --no-pin), as in bench/run.sh.
#
# Key files: kstapled and HAProxy read the base64 file itself (80-byte
# keys; kstapled encrypts with the first key, HAProxy with the
# penultimate, and HAProxy wants at least 3 keys); nginx reads raw bytes,
# so it gets the first key's 80 bytes decoded (and orders their parts
# differently: the peers do not read each other's tickets, which is not
# measured here). Needs root (CPU pinning, peers' privileges), openssl,
# taskset, setsid, pgrep; a peer that is not installed is skipped.
set -euo pipefail
set +m

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=build
SECS=5
PEERS=
OUT=
PIN=1
CMDLINE="bench/tickets.sh $*"

say() { printf 'tickets: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$2; shift ;;
	--secs) SECS=$2; shift ;;
	--peers) PEERS=$2; shift ;;
	--out) OUT=$2; shift ;;
	--quick) SECS=1 ;;
	--no-pin) PIN=0 ;;
	*) sed -n '/^#   bench\/tickets.sh/,/^#   --out/p' "$0" |
		sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
	shift
done
case $BUILD in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
KST=$BUILD/kstapled
BACKEND=$BUILD/tools/kst-backend
PKI=$BUILD/pki
for f in "$KST" "$BACKEND" "$PKI/localhost-ecdsa.pem"; do
	[ -e "$f" ] || die "missing $f (make BUILD=... all and the test PKI)"
done
for t in openssl taskset setsid pgrep; do
	command -v "$t" >/dev/null || die "needs $t"
done
if [ -z "$PEERS" ]; then
	PEERS=kstapled
	for p in haproxy nginx; do
		command -v $p >/dev/null && PEERS=$PEERS,$p
	done
fi

WORK=$(mktemp -d /tmp/kst-tickets-bench.XXXXXX)
PEER_PID=
BE_PID=

session_pids() { pgrep -s "$1" 2>/dev/null || true; }

stop_session() {
	local pid=$1 left
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		[ -z "$(session_pids "$pid")" ] && break
		sleep 0.1
	done
	for left in $(session_pids "$pid"); do
		kill -KILL "$left" 2>/dev/null || true
	done
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	stop_session "$PEER_PID"
	stop_session "$BE_PID"
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT INT TERM

# start_detached LOG CPU CMD...: in its own session, pinned; pid in STARTED
start_detached() {
	local log=$1 cpu=$2
	shift 2
	if [ "$PIN" = 1 ]; then
		setsid taskset -c "$cpu" "$@" >"$log" 2>&1 &
	else
		setsid "$@" >"$log" 2>&1 &
	fi
	STARTED=$!
}

wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 10000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo $p; return; }
	done
}

# CPU ticks (utime+stime) of every process of session $1
session_ticks() {
	local sum=0 pid f
	for pid in $(session_pids "$1"); do
		# fields after the ")" of comm: utime is 14th, stime 15th overall
		f=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
		set -- $f
		sum=$((sum + ${12} + ${13}))
	done
	echo "$sum"
}
HZ=$(getconf CLK_TCK)

# ------------------------------------------------------------- setup
umask 077
for _ in 1 2 3; do "$KST" ticket-key new; done >"$WORK/tickets.keys"
head -n 1 "$WORK/tickets.keys" | openssl base64 -d -A >"$WORK/tickets.raw"
[ "$(stat -c %s "$WORK/tickets.raw")" = 80 ] || die "key decode failed"
cp "$PKI/localhost-ecdsa.pem" "$WORK/cert.pem"
BE_PORT=$(free_port)
start_detached "$WORK/backend.log" 0 "$BACKEND" -l "127.0.0.1:$BE_PORT" -m http
BE_PID=$STARTED
wait_port "$BE_PORT" || die "backend did not start: $(cat "$WORK/backend.log")"

peer_start() {
	local peer=$1 port=$2 dir=$WORK/$1
	mkdir -p "$dir/state"
	case $peer in
	kstapled)
		cat >"$dir/kstapled.conf" <<-EOF
		[global]
		workers = 2
		state-dir = $dir/state
		bpf-pin-dir =
		allow-root = on
		log-level = warn
		ticket-keys = $WORK/tickets.keys
		[ocsp]
		fetch = off
		[listener:bench]
		bind = 127.0.0.1:$port
		backend = 127.0.0.1:$BE_PORT
		cert = $WORK/cert.pem
		EOF
		set -- "$KST" -c "$dir/kstapled.conf" ;;
	haproxy)
		cat >"$dir/haproxy.cfg" <<-EOF
		global
			nbthread 2
			tune.ssl.cachesize 0
		defaults
			mode tcp
			timeout connect 5s
			timeout client 1m
			timeout server 1m
		frontend tls
			bind 127.0.0.1:$port ssl crt $WORK/cert.pem tls-ticket-keys $WORK/tickets.keys
			default_backend app
		backend app
			server app 127.0.0.1:$BE_PORT
		EOF
		set -- haproxy -db -f "$dir/haproxy.cfg" ;;
	nginx)
		mkdir -p "$dir/logs"
		cat >"$dir/nginx.conf" <<-EOF
		daemon off;
		master_process on;
		worker_processes 2;
		pid $dir/nginx.pid;
		error_log $dir/error.log warn;
		user root;
		events { worker_connections 1024; }
		http {
			access_log off;
			client_body_temp_path $dir/body;
			proxy_temp_path $dir/proxy;
			fastcgi_temp_path $dir/fastcgi;
			uwsgi_temp_path $dir/uwsgi;
			scgi_temp_path $dir/scgi;
			ssl_protocols TLSv1.2 TLSv1.3;
			ssl_session_cache off;
			ssl_session_tickets on;
			ssl_session_ticket_key $WORK/tickets.raw;
			upstream app { server 127.0.0.1:$BE_PORT; }
			server {
				listen 127.0.0.1:$port ssl;
				ssl_certificate $WORK/cert.pem;
				ssl_certificate_key $WORK/cert.pem;
				location / { proxy_pass http://app; }
			}
		}
		EOF
		set -- nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" ;;
	esac
	start_detached "$dir/log" 1 "$@"
	PEER_PID=$STARTED
	wait_port "$port" || die "$peer did not start: $(cat "$dir/log")"
}

# measure PEER PORT TLS MODE: prints "hs resumed hs_per_cpu_s"
measure() {
	local port=$2 tls=$3 mode=$4 t0 t1 out n r cpu
	local client=(openssl s_time -connect "127.0.0.1:$port" "-$mode"
		-time "$SECS" -www / "-tls${tls/./_}")
	[ "$PIN" = 1 ] && client=(taskset -c 0 "${client[@]}")
	t0=$(session_ticks "$PEER_PID")
	out=$("${client[@]}" 2>&1 </dev/null) || true
	t1=$(session_ticks "$PEER_PID")
	n=$(printf '%s\n' "$out" | sed -n 's/^\([0-9]*\) connections in [0-9.]* real.*/\1/p' | tail -n 1)
	# -reuse prints one character per connection: r when resumed
	r=$(printf '%s\n' "$out" | grep -E '^[rt3*]+$' | tr -cd 'r' | wc -c)
	[ "$mode" = new ] && r=0
	cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')
	awk -v n="${n:-0}" -v r="$r" -v c="$cpu" 'BEGIN {
		printf "%d %d %s %.0f\n", n, r, c, (c > 0 ? n / c : 0) }'
}

# ------------------------------------------------------------- run
ROWS=()
for peer in ${PEERS//,/ }; do
	case $peer in kstapled | haproxy | nginx) ;; *) die "unknown peer $peer" ;; esac
	command -v "$peer" >/dev/null || [ "$peer" = kstapled ] ||
		{ say "$peer not installed: skipped"; continue; }
	port=$(free_port)
	peer_start "$peer" "$port"
	for tls in 1.2 1.3; do
		read -r n_full _ cpu_full rate_full < <(measure "$peer" "$port" "$tls" new)
		read -r n_res r_res cpu_res rate_res < <(measure "$peer" "$port" "$tls" reuse)
		ratio=$(awk -v a="$rate_res" -v b="$rate_full" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
		ROWS+=("| $peer | TLS $tls | $n_full | $cpu_full | $rate_full | $n_res ($r_res resumed) | $cpu_res | $rate_res | ${ratio}x |")
		say "$peer TLS $tls: full $rate_full/CPU-s, resumed $rate_res/CPU-s ($r_res of $n_res resumed)"
	done
	stop_session "$PEER_PID"
	PEER_PID=
done

{
	echo "Handshakes per server CPU second, full vs resumed (session ticket),"
	echo "ECDSA P-256, \`GET /\` per connection, ${SECS} s each, client openssl s_time."
	echo "\`$CMDLINE\` on $(date -u +%Y-%m-%d), $(uname -r), $(nproc) CPUs,"
	echo "$(openssl version | cut -d' ' -f1-2), $(command -v haproxy >/dev/null && haproxy -v | head -n 1 | cut -d' ' -f1-3), $(command -v nginx >/dev/null && nginx -v 2>&1 | sed 's/^nginx version: //')."
	echo
	echo "| server | version | full: conns | server CPU s | full/CPU-s | resumed: conns | server CPU s | resumed/CPU-s | gain |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${ROWS[@]}"
} | tee ${OUT:+"$OUT"}
