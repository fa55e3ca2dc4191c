#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Side-by-side benchmark of kstapled, hitch, HAProxy (mode tcp) and nginx
# (HTTP proxy): same certificates and staples, same TLS settings, same
# backend, same worker count, peers interleaved and repeated, medians
# reported as ratios to the best peer. Method and caveats: bench/README.md.
#
#   bench/run.sh [--build DIR] [--out DIR] [--quick] [--reps N]
#                [--peers LIST] [--measure LIST] [--duration SECS]
#                [--rate-ecdsa R] [--rate-rsa R] [--bulk-bytes N]
#                [--idle-conns K] [--tickets N] [--workers N]
#                [--client-cpu N] [--server-cpu N] [--no-pin] [--keep]
#                [--wait-idle SECS] [--alt-kstapled BIN] [--mixed-bytes N]
#
#   --peers    comma list of hitch,haproxy,nginx,kstapled (default: all)
#   --measure  comma list of speed,idle,rate,bulk,mixed (default: all
#              but mixed; mixed = TLS 1.3 ECDSA handshakes at the fixed
#              rate while a bulk download runs through the same server)
#   --alt-kstapled  a second kstapled binary, run as peer kstapled-alt
#              with the same configuration (before/after a change)
#   --quick    smoke of the whole pipeline in seconds (tiny counts, 1 rep)
#   --wait-idle  wait up to SECS for the machine to be idle before starting
#
# Needs: $BUILD/bench/kst-load, $BUILD/tools/kst-backend, the test PKI in
# $BUILD/pki (made with -s), the peers' Debian packages, jq, taskset;
# kstapled ($BUILD/kstapled) is benchmarked when `kstapled -t` accepts the
# generated config, and marked "not available" otherwise. Run as root (the
# peers bind as root, RLIMIT_NOFILE is raised). Every process started is
# stopped by PID, with all the processes of its session.
#
# Output: a markdown table on stdout and in OUT/latest.md, raw results in
# OUT/latest.jsonl (one JSON object per run) and OUT/latest.csv.

# The configuration templates' @NAME@ fields are read indirectly (subst).
# shellcheck disable=SC2034
set -euo pipefail
# Without job control a background child is not a process group leader,
# so setsid(1) makes it a session leader in place (no fork): $! is then the
# session id by which all its processes are found and stopped.
set +m

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CMDLINE="bench/run.sh $*"
BUILD=build
OUT=
QUICK=0
REPS=3
PEERS=hitch,haproxy,nginx,kstapled
MEASURE=speed,idle,rate,bulk
DURATION=8
RATE_ECDSA=500
RATE_RSA=300
BULK=1G
IDLE_CONNS=5000
TICKETS=0
WORKERS=2
CLIENT_CPU=0
SERVER_CPU=1
PIN=1
KEEP=0
WAIT_IDLE=0
SPEED_SECS=2
ALT_KSTAPLED=
MIXED_BYTES=64G

CIPHERS12=ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305
CIPHERS13=TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
TLS_GROUPS=X25519:P-256

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

usage() {
	sed -n '/^#   bench\/run.sh/,/^#   --quick/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

parse_args() {
	local quick_set=()
	while [ $# -gt 0 ]; do
		case $1 in
		--build) BUILD=$2; shift ;;
		--out) OUT=$2; shift ;;
		--quick) QUICK=1 ;;
		--reps) REPS=$2; quick_set+=(REPS); shift ;;
		--peers) PEERS=$2; shift ;;
		--measure) MEASURE=$2; shift ;;
		--duration) DURATION=$2; quick_set+=(DURATION); shift ;;
		--rate-ecdsa) RATE_ECDSA=$2; quick_set+=(RATE_ECDSA); shift ;;
		--rate-rsa) RATE_RSA=$2; quick_set+=(RATE_RSA); shift ;;
		--bulk-bytes) BULK=$2; quick_set+=(BULK); shift ;;
		--idle-conns) IDLE_CONNS=$2; quick_set+=(IDLE_CONNS); shift ;;
		--tickets) TICKETS=$2; shift ;;
		--workers) WORKERS=$2; shift ;;
		--client-cpu) CLIENT_CPU=$2; shift ;;
		--server-cpu) SERVER_CPU=$2; shift ;;
		--no-pin) PIN=0 ;;
		--keep) KEEP=1 ;;
		--wait-idle) WAIT_IDLE=$2; shift ;;
		--alt-kstapled) ALT_KSTAPLED=$2; shift ;;
		--mixed-bytes) MIXED_BYTES=$2; shift ;;
		-h | --help) usage ;;
		*) say "unknown option: $1"; usage ;;
		esac
		shift
	done
	if [ "$QUICK" = 1 ]; then
		# explicit options win over the quick defaults
		local v
		declare -A q=([REPS]=1 [DURATION]=0.5 [RATE_ECDSA]=100
			[RATE_RSA]=50 [BULK]=16M [IDLE_CONNS]=200)
		for v in "${!q[@]}"; do
			[[ " ${quick_set[*]} " == *" $v "* ]] || printf -v "$v" '%s' "${q[$v]}"
		done
		SPEED_SECS=1
	fi
	[ -n "$OUT" ] || OUT=$SRC/bench/results
	if [ -n "$ALT_KSTAPLED" ]; then
		case $ALT_KSTAPLED in /*) ;; *) ALT_KSTAPLED=$PWD/$ALT_KSTAPLED ;; esac
		[[ ",$PEERS," == *",kstapled-alt,"* ]] || PEERS=$PEERS,kstapled-alt
	fi
	case $BUILD in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
}

# ------------------------------------------------------------ processes
# The peer, the backend and the held load client of the current session:
# the EXIT trap stops whatever is still running, by PID.
PEER_PID=
BE_PID=
WORK=

session_pids() { pgrep -s "$1" 2>/dev/null || true; }

# Stops a process started with setsid and every process of its session.
stop_session() {
	local pid=$1 i left
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 50); do
		[ -z "$(session_pids "$pid")" ] && break
		sleep 0.1
	done
	for left in $(session_pids "$pid"); do
		say "killing leftover pid $left (session $pid)"
		kill -KILL "$left" 2>/dev/null || true
	done
	wait "$pid" 2>/dev/null || true
	for i in $(seq 20); do
		[ -z "$(session_pids "$pid")" ] && return 0
		sleep 0.1
	done
	say "processes of session $pid still running: $(session_pids "$pid" | tr '\n' ' ')"
	return 1
}

cleanup() {
	local rc=$?
	stop_session "$PEER_PID" || true
	stop_session "$BE_PID" || true
	if [ -n "$WORK" ] && [ "$KEEP" = 0 ]; then
		rm -rf "$WORK"
	elif [ -n "$WORK" ]; then
		say "work directory kept: $WORK"
	fi
	exit "$rc"
}

# Starts "$@" in its own session (so that all its processes can be found
# and stopped), pinned when asked; the PID is in STARTED_PID.
start_detached() {
	local log=$1 cpu=$2
	shift 2
	if [ "$PIN" = 1 ]; then
		setsid taskset -c "$cpu" "$@" >"$log" 2>&1 &
	else
		setsid "$@" >"$log" 2>&1 &
	fi
	STARTED_PID=$!
	local sid
	for _ in $(seq 40); do
		sid=$(ps -o sid= -p "$STARTED_PID" 2>/dev/null | tr -d ' ')
		# gone already (its failure shows later) or leading its session
		[ -z "$sid" ] || [ "$sid" = "$STARTED_PID" ] && return 0
		sleep 0.05
	done
	die "$1: pid $STARTED_PID is not a session leader (sid $sid)"
}

# Waits until something accepts on 127.0.0.1:port, while pid lives.
wait_port() {
	local port=$1 pid=$2
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 1
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

start_backend() {
	local dir=$1
	start_detached "$dir/backend.log" "$CLIENT_CPU" \
		"$BE_BIN" -m http -l 127.0.0.1:0 --count-only
	BE_PID=$STARTED_PID
	BE_PORT=
	for _ in $(seq 50); do
		BE_PORT=$(awk '/^ready /{print $2; exit}' "$dir/backend.log" 2>/dev/null)
		[ -n "$BE_PORT" ] && return 0
		kill -0 "$BE_PID" 2>/dev/null || break
		sleep 0.1
	done
	say "backend did not start: $(tail -n 3 "$dir/backend.log")"
	return 1
}

# ------------------------------------------------------------ peers
# Fills a template's @NAME@ fields from the variables of the same name.
subst() {
	local in=$1 out=$2 args=() v
	for v in CIPHERS12 CIPHERS13 TLS_GROUPS TICKETS WORKERS DIR BACKEND PORT \
		PORT_ECDSA PORT_RSA CERT_ECDSA CERT_RSA STAPLE_ECDSA STAPLE_RSA \
		HITCH_USER NGINX_USER KST_ROOT NOFILE MAXCONN; do
		args+=(-e "s|@$v@|${!v-}|g")
	done
	sed "${args[@]}" "$in" >"$out"
}

# Sets the template variables of one session, and PEER_CMD / PEER_PORTS.
peer_setup() {
	local peer=$1
	DIR=$2
	BACKEND=$BE_PORT
	read -r PORT_ECDSA PORT_RSA < <("$KST_LOAD" ports 2)
	PORT=$PORT_ECDSA
	# as root: hitch insists on dropping privileges, the others serve as
	# root like HAProxy does by default
	HITCH_USER='' NGINX_USER='' KST_ROOT=''
	if [ "$(id -u)" = 0 ]; then
		HITCH_USER='user = "nobody"'
		NGINX_USER='user root;'
		KST_ROOT='allow-root = on'
	fi
	case $peer in
	hitch)
		subst "$SRC/bench/peers/hitch.conf.in" "$DIR/hitch.conf"
		PEER_CMD=(hitch "--config=$DIR/hitch.conf")
		PEER_PORTS=("$PORT_ECDSA" "$PORT_RSA") ;;
	haproxy)
		subst "$SRC/bench/peers/haproxy.cfg.in" "$DIR/haproxy.cfg"
		PEER_CMD=(haproxy -db -f "$DIR/haproxy.cfg")
		PEER_PORTS=("$PORT" "$PORT") ;;
	nginx)
		mkdir -p "$DIR"/{body,proxy,fastcgi,uwsgi,scgi}
		subst "$SRC/bench/peers/nginx.conf.in" "$DIR/nginx.conf"
		PEER_CMD=(nginx -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/error.log")
		PEER_PORTS=("$PORT_ECDSA" "$PORT_RSA") ;;
	kstapled | kstapled-alt)
		local bin=$KSTAPLED
		[ "$peer" = kstapled-alt ] && bin=$ALT_KSTAPLED
		mkdir -p "$DIR/state"
		subst "$SRC/bench/peers/kstapled.conf.in" "$DIR/kstapled.conf"
		PEER_CMD=("$bin" -c "$DIR/kstapled.conf")
		PEER_PORTS=("$PORT" "$PORT") ;;
	esac
}

start_peer() {
	local peer=$1 port
	start_detached "$DIR/peer.log" "$SERVER_CPU" \
		env OPENSSL_CONF="$WORK/openssl.cnf" "${PEER_CMD[@]}"
	PEER_PID=$STARTED_PID
	for port in "${PEER_PORTS[@]}"; do
		if ! wait_port "$port" "$PEER_PID"; then
			say "$peer did not start: $(tail -n 5 "$DIR/peer.log" | tr '\n' ' ')"
			return 1
		fi
	done
}

# Ports are free when picked but someone may take one before the peer
# binds it: one more try with fresh ports.
start_peer_retry() {
	local peer=$1
	for _ in 1 2; do
		peer_setup "$peer" "$DIR"
		start_peer "$peer" && return 0
		stop_session "$PEER_PID" || true
		PEER_PID=
	done
	return 1
}

# kstapled joins when it exists and `kstapled -t` accepts its config.
kstapled_available() {
	local dir=$WORK/kstapled-check out
	KST_REASON=
	if [ ! -x "$KSTAPLED" ]; then
		KST_REASON="not built ($KSTAPLED)"
		return 1
	fi
	mkdir -p "$dir"
	BE_PORT=1
	peer_setup kstapled "$dir"
	if ! out=$(timeout 20 "$KSTAPLED" -t -c "$dir/kstapled.conf" 2>&1); then
		KST_REASON="kstapled -t -c refused the config: $(head -n 3 <<<"$out" | tr '\n' ' ')"
		return 1
	fi
}

# ------------------------------------------------------------ measuring
RAW=

record() { printf '%s\n' "$1" >>"$RAW"; }

# Runs kst-load on the client CPU; appends its JSON, tagged, to RAW.
kload() {
	local peer=$1 rep=$2 test=$3 json
	shift 3
	local cmd=("$KST_LOAD" "$@" --server-sid "$PEER_PID" --aux-pid "$BE_PID"
		--label "$peer/$test/$rep")
	[ "$PIN" = 1 ] && cmd=(taskset -c "$CLIENT_CPU" "${cmd[@]}")
	if ! json=$("${cmd[@]}" 2>>"$DIR/load.log"); then
		say "$peer $test: kst-load failed: $(tail -n 2 "$DIR/load.log" | tr '\n' ' ')"
		return 1
	fi
	json=$(jq -c --arg peer "$peer" --argjson rep "$rep" --arg test "$test" \
		'{type: "run", peer: $peer, rep: $rep, test: $test} + .' <<<"$json")
	record "$json"
	jq -r '"bench:   \(.peer) \(.test): " +
		(if .mode == "rate" then
			"\(.completed)/\(.scheduled) done, \(.server_cpu_us_per_hs // 0 | floor) us CPU/hs, " +
			"p99 \(.hs_p99_ms * 100 | round / 100) ms, stapled \(.staple_share // 0)"
		elif .mode == "bulk" then
			"\(.mb_per_s // 0 | floor) MB/s, \(.server_ns_per_byte // 0 | . * 100 | round / 100) ns/B"
		else
			"\(.completed)/\(.conns) held, \(.rss_bytes_per_conn // 0 | floor) B/conn, backend conns \(.backend_conns)"
		end) + (if .failed > 0 then ", FAILED \(.failed): \(.first_error)" else "" end)' \
		<<<"$json" >&2
	LAST_JSON=$json
}

port_for() { [ "$1" = rsa ] && echo "${PEER_PORTS[1]}" || echo "${PEER_PORTS[0]}"; }

staple_for() { echo "$WORK/certs/localhost-$1.pem.ocsp"; }

# A few handshakes per key type: the peer serves, staples, and is warm.
probe() {
	local peer=$1 rep=$2 key
	for key in ecdsa rsa; do
		kload "$peer" "$rep" "probe-$key" rate -c "127.0.0.1:$(port_for $key)" \
			--key "$key" --rate 50 --duration 0.4 \
			--expect-staple "$(staple_for $key)" || return 1
		if [ "$(jq -r '.completed > 0 and .failed == 0' <<<"$LAST_JSON")" != true ]; then
			say "$peer: probe with $key failed: $(jq -r .first_error <<<"$LAST_JSON")"
			return 1
		fi
	done
}

measure_idle() {
	local peer=$1 rep=$2
	kload "$peer" "$rep" idle idle -c "127.0.0.1:$(port_for ecdsa)" \
		--key ecdsa --conns "$IDLE_CONNS" --parallel 50 --settle 1 \
		--hold 1 --timeout 30 --backend-port "$BE_PORT" \
		--expect-staple "$(staple_for ecdsa)" || true
	# let the server finish closing before anything is timed
	sleep 2
}

measure_rate() {
	local peer=$1 rep=$2 tls key rate
	for tls in 1.3 1.2; do
		for key in ecdsa rsa; do
			rate=$RATE_ECDSA
			[ "$key" = rsa ] && rate=$RATE_RSA
			kload "$peer" "$rep" "hs-tls${tls/./}-$key" rate \
				-c "127.0.0.1:$(port_for $key)" --tls "$tls" \
				--key "$key" --rate "$rate" --duration "$DURATION" \
				--expect-staple "$(staple_for $key)" || true
		done
	done
}

# Handshakes at the fixed rate (TLS 1.3, ECDSA) while one bulk download
# runs through the same server: the handshakes' latency next to the same
# test alone (measure_rate) says how well the server keeps a busy
# connection from delaying new ones. The download runs on the client CPU
# at a lower priority (the rate client's timing comes first) and is
# stopped by PID once the handshakes are done.
measure_mixed() {
	local peer=$1 rep=$2 bpid cmd
	cmd=(nice -n 10 "$KST_LOAD" bulk -c "127.0.0.1:$(port_for ecdsa)" --key ecdsa
		--down "$MIXED_BYTES" --timeout 600 --label "$peer/mixed-bulk/$rep")
	[ "$PIN" = 1 ] && cmd=(taskset -c "$CLIENT_CPU" "${cmd[@]}")
	"${cmd[@]}" >/dev/null 2>>"$DIR/load.log" &
	bpid=$!
	sleep 1 # the transfer is under way
	kload "$peer" "$rep" "mixed-tls13-ecdsa" rate \
		-c "127.0.0.1:$(port_for ecdsa)" --tls 1.3 --key ecdsa \
		--rate "$RATE_ECDSA" --duration "$DURATION" \
		--expect-staple "$(staple_for ecdsa)" || true
	kill -TERM "$bpid" 2>/dev/null || true
	wait "$bpid" 2>/dev/null || true
	sleep 1
}

measure_bulk() {
	local peer=$1 rep=$2 dir
	for dir in down up; do
		kload "$peer" "$rep" "bulk-$dir" bulk -c "127.0.0.1:$(port_for ecdsa)" \
			--key ecdsa "--$dir" "$BULK" --timeout 300 \
			--expect-staple "$(staple_for ecdsa)" || true
	done
}

wants() { [[ ",$MEASURE," == *",$1,"* ]]; }

# One peer, one repetition: backend, peer, measurements, stop, check.
run_session() {
	local peer=$1 rep=$2 ok=1 left
	DIR=$WORK/$peer-$rep
	mkdir -p "$DIR"
	say "[rep $rep/$REPS] $peer"
	start_backend "$DIR" || ok=0
	[ "$ok" = 1 ] && { start_peer_retry "$peer" || ok=0; }
	[ "$ok" = 1 ] && { probe "$peer" "$rep" || ok=0; }
	if [ "$ok" = 1 ]; then
		wants idle && measure_idle "$peer" "$rep"
		wants rate && measure_rate "$peer" "$rep"
		wants bulk && measure_bulk "$peer" "$rep"
		wants mixed && measure_mixed "$peer" "$rep"
	fi
	stop_session "$PEER_PID" || ok=0
	PEER_PID=
	stop_session "$BE_PID" || ok=0
	BE_PID=
	[ "$ok" = 1 ] || record "$(jq -cn --arg peer "$peer" --argjson rep "$rep" \
		--arg log "$(tail -n 5 "$DIR/peer.log" 2>/dev/null)" \
		'{type: "session_failed", peer: $peer, rep: $rep, log: $log}')"
}

# ------------------------------------------------------------ ceiling
speed_record() {
	record "$(jq -cn --arg op "$1" --argjson v "$2" --arg unit "$3" \
		'{type: "speed", op: $op, value: $v, unit: $unit}')"
}

measure_speed() {
	local pin=() out c
	[ "$PIN" = 1 ] && pin=(taskset -c "$SERVER_CPU")
	say "openssl speed ($SPEED_SECS s per test, on CPU $SERVER_CPU)"
	out=$("${pin[@]}" openssl speed -seconds "$SPEED_SECS" -mr ecdsap256 \
		rsa2048 ecdhx25519 2>/dev/null | grep '^+F')
	speed_record ecdsa_p256_sign "$(awk -F: '/^\+F4:/{print $4}' <<<"$out")" ops
	speed_record rsa2048_sign "$(awk -F: '/^\+F2:/{print $4}' <<<"$out")" ops
	speed_record x25519_derive "$(awk -F: '/^\+F5:/{print $4}' <<<"$out")" ops
	for c in aes-128-gcm aes-256-gcm chacha20-poly1305; do
		out=$("${pin[@]}" openssl speed -seconds "$SPEED_SECS" -mr \
			-bytes 16384 -evp "$c" 2>/dev/null | grep '^+F:')
		speed_record "$c" "$(awk -F: '{print $4}' <<<"$out")" bytes
	done
}

# ------------------------------------------------------------ setup
prepare_certs() {
	local key
	mkdir -p "$WORK/certs"
	for key in ecdsa rsa; do
		cp "$PKI/localhost-$key.pem" "$WORK/certs/localhost-$key.pem"
		cp "$PKI/ocsp/localhost-$key.der" "$WORK/certs/localhost-$key.pem.ocsp"
	done
	# keys stay private (kstapled insists); staples are public
	chmod 600 "$WORK/certs"/*.pem
	chmod 644 "$WORK/certs"/*.ocsp
	CERT_ECDSA=$WORK/certs/localhost-ecdsa.pem
	CERT_RSA=$WORK/certs/localhost-rsa.pem
	STAPLE_ECDSA=$CERT_ECDSA.ocsp
	STAPLE_RSA=$CERT_RSA.ocsp
	subst "$SRC/bench/peers/openssl.cnf.in" "$WORK/openssl.cnf"
}

version_of() {
	case $1 in
	hitch | haproxy | nginx) command -v "$1" >/dev/null || return 0 ;;
	esac
	case $1 in
	hitch) hitch --version 2>&1 | head -n 1 ;;
	haproxy) haproxy -v 2>&1 | head -n 1 | cut -d' ' -f1-3 ;;
	nginx) nginx -v 2>&1 | head -n 1 | sed 's/^nginx version: //' ;;
	kstapled) echo "kstapled $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo '?')" ;;
	kstapled-alt) echo "kstapled $ALT_KSTAPLED" ;;
	esac
}

# record_peer PEER AVAILABLE REASON VERSION: adds PEER to RUN_PEERS when
# AVAILABLE is true, else says why not; records it either way.
record_peer() {
	local peer=$1 avail=$2 reason=$3 version=$4

	if [ "$avail" = true ]; then
		RUN_PEERS+=("$peer")
	else
		say "$peer: not available: $reason"
	fi
	record "$(jq -cn --arg peer "$peer" --argjson avail "$avail" \
		--arg reason "$reason" --arg version "$version" \
		'{type: "peer", peer: $peer, available: $avail, reason: $reason, version: $version}')"
}

# Decides which peers run; records each one's status and version.
select_peers() {
	local peer avail reason
	RUN_PEERS=()
	for peer in ${PEERS//,/ }; do
		avail=true reason=
		case $peer in
		hitch | haproxy | nginx)
			command -v "$peer" >/dev/null || { avail=false; reason="$peer not installed"; } ;;
		kstapled)
			kstapled_available || { avail=false; reason=$KST_REASON; } ;;
		kstapled-alt)
			[ -x "$ALT_KSTAPLED" ] || { avail=false; reason="--alt-kstapled not given or not executable"; } ;;
		*) die "unknown peer: $peer" ;;
		esac
		record_peer "$peer" "$avail" "$reason" "$(version_of "$peer")"
	done
}

record_meta() {
	local pinning="none (--no-pin)"
	[ "$PIN" = 1 ] && pinning="load client + backend on CPU $CLIENT_CPU, server under test on CPU $SERVER_CPU"
	record "$(jq -cn --arg cmd "$CMDLINE" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		--arg kernel "$(uname -r)" \
		--arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
		--arg nproc "$(nproc)" --arg openssl "$(openssl version)" \
		--arg pinning "$pinning" --arg quick "$QUICK" --arg reps "$REPS" \
		--arg duration "$DURATION" --arg rate_ecdsa "$RATE_ECDSA" \
		--arg rate_rsa "$RATE_RSA" --arg bulk "$BULK" --arg idle "$IDLE_CONNS" \
		--arg tickets "$TICKETS" --arg workers "$WORKERS" \
		--arg nofile "$NOFILE" --arg busy "$IDLE_BUSY" \
		--arg ciphers12 "$CIPHERS12" --arg ciphers13 "$CIPHERS13" \
		--arg groups "$TLS_GROUPS" \
		'{type: "meta", command: $cmd, date: $date, kernel: $kernel, cpu: $cpu,
		  nproc: $nproc, openssl: $openssl, pinning: $pinning, quick: $quick,
		  reps: $reps, duration: $duration, rate_ecdsa: $rate_ecdsa,
		  rate_rsa: $rate_rsa, bulk: $bulk, idle_conns: $idle,
		  tickets: $tickets, workers: $workers, nofile: $nofile,
		  busy_at_start: $busy, ciphers12: $ciphers12,
		  ciphers13: $ciphers13, groups: $groups}')"
}

preflight() {
	local t
	KST_LOAD=$BUILD/bench/kst-load
	BE_BIN=$BUILD/tools/kst-backend
	KSTAPLED=$BUILD/kstapled
	PKI=$BUILD/pki
	for t in "$KST_LOAD" "$BE_BIN"; do
		[ -x "$t" ] || die "missing $t (make BUILD=... bench builds it)"
	done
	[ -f "$PKI/ocsp/localhost-ecdsa.der" ] || die "missing test PKI with staples in $PKI"
	for t in jq taskset setsid pgrep openssl; do
		command -v "$t" >/dev/null || die "missing $t"
	done
	[ "$(id -u)" = 0 ] || say "not root: RLIMIT_NOFILE may stay low, peers may refuse"
	ulimit -Hn 1048576 2>/dev/null || ulimit -Hn 65536 2>/dev/null || true
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	NOFILE=$(ulimit -n)
	[ "$NOFILE" = unlimited ] && NOFILE=1048576
	# a proxy needs two descriptors per connection
	MAXCONN=$(((NOFILE - 200) / 2))
	[ "$MAXCONN" -gt 50000 ] && MAXCONN=50000
	[ "$MAXCONN" -ge $((IDLE_CONNS + 100)) ] ||
		say "RLIMIT_NOFILE $NOFILE is too low for $IDLE_CONNS idle connections"
	if [ "$(nproc)" -lt 2 ] && [ "$PIN" = 1 ]; then
		say "fewer than 2 CPUs: not pinning"
		PIN=0
	fi
}

main() {
	local rep peer
	parse_args "$@"
	preflight
	# shellcheck source=bench/idle.sh
	. "$SRC/bench/idle.sh"
	mkdir -p "$OUT"
	WORK=$(mktemp -d /tmp/kst-bench.XXXXXX)
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	RAW=$WORK/results.jsonl
	: >"$RAW"
	wait_idle
	record_meta
	prepare_certs
	select_peers
	[ ${#RUN_PEERS[@]} -gt 0 ] || die "no peer available"
	say "peers: ${RUN_PEERS[*]}; $REPS repetition(s); measurements: $MEASURE"
	wants speed && measure_speed
	for rep in $(seq "$REPS"); do
		for peer in "${RUN_PEERS[@]}"; do
			run_session "$peer" "$rep"
		done
	done
	cp "$RAW" "$OUT/latest.jsonl"
	jq -rn -f "$SRC/bench/csv.jq" "$RAW" >"$OUT/latest.csv"
	jq -r -s -f "$SRC/bench/report.jq" "$RAW" >"$OUT/latest.md"
	cat "$OUT/latest.md"
	say "results: $OUT/latest.md, latest.jsonl, latest.csv"
}

main "$@"
