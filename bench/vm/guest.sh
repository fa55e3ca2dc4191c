#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The kTLS benchmark's guest side: bench/vm/run.sh boots Debian's kernel
# (real kTLS) under QEMU and runs this script in it. It measures, peer
# after peer and repeatedly, what one TLS edge costs when its kernel can
# do TLS: kstapled with kTLS + splice (ktls = auto), kstapled's userspace
# relay (ktls = off), HAProxy 2.6 (mode tcp) and nginx 1.22 (HTTP proxy,
# kTLS turned on: ssl_conf_command Options KTLS, sendfile on).
#
#   bench/vm/guest.sh --build DIR [--reps N] [--peers LIST]
#                     [--bulk-bytes N] [--parallel N] [--idle-conns K]
#                     [--workers N] [--client-cpu N] [--server-cpu N]
#
#   --peers       comma list of kstapled-ktls, kstapled-user, haproxy,
#                 nginx, nginx-noktls (default: the first four)
#   --bulk-bytes  bytes per bulk run, each way (default 64M); the
#                 parallel runs split them over --parallel connections (8)
#
# Per peer and repetition (fresh backend, fresh peer): a probe (staples,
# serves), K idle connections held (RSS growth of the server's processes
# per connection, and the guest kernel's slab growth), then bulk down and
# up over one connection and over P connections at once (MB/s, server
# CPU seconds per GB). Around the session, /proc/net/tls_stat and, for
# kstapled, `kstapled status --json` say which connections really ran in
# the kernel.
#
# It reuses bench/run.sh's functions (processes, templates, kst-load),
# sourced without its last line (the call of main), with the same
# pinning: load client + backend on one CPU, the server on the other.
#
# Output: one line "KST-BENCH-JSON: {...}" per record on stdout, which
# the host reads from the console; progress on stderr. Runs on any Linux
# as root too (on a kernel without kTLS every peer stays in userspace,
# and the records say so).
set -euo pipefail

VM_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VM_CMDLINE="bench/vm/guest.sh $*"

# bench/run.sh, every function and default, without its last line, the
# call of main (or a guard around it).
vm_source_run_sh() {
	local f=$VM_SRC/bench/run.sh
	[[ $(tail -n 1 "$f") == *'main "$@"'* ]] ||
		{ echo "guest.sh: $f does not end with main \"\$@\"" >&2; exit 1; }
	# shellcheck disable=SC1090
	source <(sed '$d' "$f")
}
vm_source_run_sh
SRC=$VM_SRC

VM_PEERS=kstapled-ktls,kstapled-user,haproxy,nginx
PARALLEL=8
BULK=64M
IDLE_CONNS=1000
REPS=3
CLOCK_TICK_NS=10000000 # USER_HZ is 100 on Linux x86

vm_usage() {
	sed -n '/^#   bench\/vm\/guest.sh/,/^#                 parallel runs/p' \
		"${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

vm_parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--build) BUILD=$2; shift ;;
		--reps) REPS=$2; shift ;;
		--peers) VM_PEERS=$2; shift ;;
		--bulk-bytes) BULK=$2; shift ;;
		--parallel) PARALLEL=$2; shift ;;
		--idle-conns) IDLE_CONNS=$2; shift ;;
		--workers) WORKERS=$2; shift ;;
		--client-cpu) CLIENT_CPU=$2; shift ;;
		--server-cpu) SERVER_CPU=$2; shift ;;
		-h | --help) vm_usage ;;
		*) say "unknown option: $1"; vm_usage ;;
		esac
		shift
	done
	case $BUILD in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
}

# Records go to RAW and, prefixed, to the console for the host.
record() {
	printf '%s\n' "$1" >>"$RAW"
	printf 'KST-BENCH-JSON: %s\n' "$1"
}

# ------------------------------------------------------------ /proc
# CPU ticks (utime+stime, all threads) of every process of session $1.
vm_session_ticks() {
	local sid=$1 f s a sum=0
	for f in /proc/[0-9]*/stat; do
		read -r s 2>/dev/null <"$f" || continue
		read -r -a a <<<"${s##*) }"
		[ "${a[3]}" = "$sid" ] && sum=$((sum + a[11] + a[12]))
	done
	echo "$sum"
}

vm_pid_ticks() {
	local s a
	read -r s 2>/dev/null <"/proc/$1/stat" || { echo 0; return; }
	read -r -a a <<<"${s##*) }"
	echo $((a[11] + a[12]))
}

# Busy ticks of the whole machine (user nice system irq softirq steal).
vm_machine_ticks() {
	local a
	read -r -a a </proc/stat
	echo $((a[1] + a[2] + a[3] + a[6] + a[7] + a[8]))
}

vm_slab_kb() { awk '$1 == "Slab:" { print $2 }' /proc/meminfo; }

# /proc/net/tls_stat as one JSON object ({} without kTLS).
vm_tls_stat() {
	if [ -r /proc/net/tls_stat ]; then
		awk 'BEGIN { printf "{" }
		     { printf "%s\"%s\":%s", (NR > 1 ? "," : ""), $1, $2 }
		     END { print "}" }' /proc/net/tls_stat
	else
		echo '{}'
	fi
}

vm_now() { echo "$EPOCHREALTIME"; }

# BYTES with kst-load's binary K, M, G suffixes, as a number.
vm_bytes() {
	local n=${1%[KMG]} mul=1
	case $1 in
	*K) mul=1024 ;;
	*M) mul=$((1024 * 1024)) ;;
	*G) mul=$((1024 * 1024 * 1024)) ;;
	esac
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "bad byte count: $1"
	echo $((n * mul))
}

# ------------------------------------------------------------ peers
vm_base_peer() { echo "${1%%-*}"; }

# The variant's changes to the template bench/run.sh filled in.
vm_tweak_config() {
	local peer=$1 f
	case $peer in
	kstapled-*)
		f=$DIR/kstapled.conf
		sed -i "s|^bpf-pin-dir =.*|bpf-pin-dir = $PINS|" "$f"
		grep -q "^bpf-pin-dir = $PINS" "$f" || die "$f: no bpf-pin-dir line"
		if [ "$peer" = kstapled-user ]; then
			sed -i 's|^ktls = .*|ktls = off|' "$f"
			grep -q '^ktls = off' "$f" || die "$f: no ktls line"
		fi ;;
	nginx)
		# kTLS as nginx 1.22 offers it: OpenSSL's SSL_OP_ENABLE_KTLS
		# on every connection (SSL_sendfile for files; proxied data
		# goes through SSL_write, which then writes to a kTLS socket)
		f=$DIR/nginx.conf
		awk '{ print }
		     /^[ \t]*ssl_conf_command NumTickets/ {
			match($0, /^[ \t]*/); i = substr($0, 1, RLENGTH)
			print i "ssl_conf_command Options KTLS;"
			print i "sendfile on;" }' "$f" >"$f.new"
		mv "$f.new" "$f"
		grep -q 'ssl_conf_command Options KTLS;' "$f" ||
			die "$f: could not turn kTLS on" ;;
	esac
}

vm_start_peer() {
	local peer=$1 base
	base=$(vm_base_peer "$peer")
	for _ in 1 2; do
		peer_setup "$base" "$DIR"
		vm_tweak_config "$peer"
		start_peer "$peer" && return 0
		stop_session "$PEER_PID" || true
		PEER_PID=
	done
	return 1
}

# kstapled's own account of its connections, summed over certificates.
vm_kst_status() {
	local json
	sleep 1.5 # the control thread flushes the map once a second
	json=$("$KSTAPLED" status --json --pin-dir "$PINS" 2>/dev/null) || true
	jq -c '{conns_ktls_tx: ([.certs[].conns_ktls_tx] | add),
		conns_ktls_rx: ([.certs[].conns_ktls_rx] | add),
		conns_userspace: ([.certs[].conns_userspace] | add),
		keyupdate_closes: ([.certs[].keyupdate_closes] | add),
		handshakes: ([.certs[].handshakes] | add),
		conns_accepted: .global.conns_accepted,
		bytes_ktls: .global.bytes_ktls,
		bytes_userspace: .global.bytes_userspace}' <<<"$json" 2>/dev/null ||
		echo null
}

# ------------------------------------------------------------ measuring
# K connections held idle; RSS from kst-load, slab read while they are
# held (kst-load writes its ready file after reading RSS, then holds until
# SIGUSR1).
vm_idle() {
	local peer=$1 rep=$2 ready=$DIR/idle.ready pid slab0 slab1 json
	rm -f "$ready"
	slab0=$(vm_slab_kb)
	taskset -c "$CLIENT_CPU" "$KST_LOAD" idle -c "127.0.0.1:$(port_for ecdsa)" \
		--key ecdsa --conns "$IDLE_CONNS" --parallel 50 --settle 2 \
		--hold 300 --timeout 60 --backend-port "$BE_PORT" \
		--expect-staple "$(staple_for ecdsa)" --ready-file "$ready" \
		--server-sid "$PEER_PID" --aux-pid "$BE_PID" \
		--label "$peer/idle/$rep" >"$DIR/idle.json" 2>>"$DIR/load.log" &
	pid=$!
	for _ in $(seq 3000); do
		[ -s "$ready" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	slab1=$(vm_slab_kb)
	kill -USR1 "$pid" 2>/dev/null || true
	wait "$pid" || { say "$peer idle: kst-load failed: $(tail -n 2 "$DIR/load.log")"; return 0; }
	json=$(jq -c --arg peer "$peer" --argjson rep "$rep" \
		--argjson s0 "$slab0" --argjson s1 "$slab1" \
		'{type: "run", peer: $peer, rep: $rep, test: "idle"} + . +
		 {slab_kb_before: $s0, slab_kb_after: $s1,
		  slab_bytes_per_conn: (if .completed > 0
			then ($s1 - $s0) * 1024 / .completed else null end)}' \
		"$DIR/idle.json")
	record "$json"
	jq -r '"bench:   \(.peer) idle: \(.completed)/\(.conns) held, " +
		"\(.rss_bytes_per_conn // 0 | floor) B/conn RSS, " +
		"\(.slab_bytes_per_conn // 0 | floor) B/conn slab, " +
		"backend conns \(.backend_conns)"' <<<"$json" >&2
	sleep 2 # closing K connections must not overlap what follows
}

vm_bulk_one() {
	local peer=$1 rep=$2 dir
	for dir in down up; do
		kload "$peer" "$rep" "bulk-$dir-1" bulk \
			-c "127.0.0.1:$(port_for ecdsa)" --key ecdsa \
			"--$dir" "$BULK" --timeout 900 \
			--expect-staple "$(staple_for ecdsa)" || true
	done
}

# P kst-load processes at once, BULK/P bytes each. Server CPU is read from
# /proc around the whole batch (the P handshakes included); MB/s is all
# bytes over the span of the data phases (first data byte of any
# connection to the last byte of all: each process's exit time minus its
# data time), so that P process start-ups do not count. "overlap" =
# sum of data times / span: near P, the connections really ran together.
vm_bulk_par() {
	local peer=$1 rep=$2 dir=$3 per i pid t0 t1 s0 s1 b0 b1 m0 m1 json
	local -A idx=()
	per=$(($(vm_bytes "$BULK") / PARALLEL))
	: >"$DIR/par-$dir.ends"
	s0=$(vm_session_ticks "$PEER_PID") b0=$(vm_pid_ticks "$BE_PID")
	m0=$(vm_machine_ticks) t0=$(vm_now)
	for i in $(seq "$PARALLEL"); do
		taskset -c "$CLIENT_CPU" "$KST_LOAD" bulk \
			-c "127.0.0.1:$(port_for ecdsa)" --key ecdsa \
			"--$dir" "$per" --timeout 900 \
			--expect-staple "$(staple_for ecdsa)" \
			--label "$peer/bulk-$dir-$PARALLEL/$rep/$i" \
			>"$DIR/par-$dir-$i.json" 2>>"$DIR/load.log" &
		idx[$!]=$i
	done
	for _ in $(seq "$PARALLEL"); do
		pid=
		wait -n -p pid || say "$peer bulk-$dir-$PARALLEL: a kst-load failed"
		[ -n "$pid" ] && echo "${idx[$pid]} $EPOCHREALTIME" \
			>>"$DIR/par-$dir.ends"
	done
	t1=$(vm_now) m1=$(vm_machine_ticks)
	s1=$(vm_session_ticks "$PEER_PID") b1=$(vm_pid_ticks "$BE_PID")
	json=$(for i in $(seq "$PARALLEL"); do
		jq -c --argjson fin "$(awk -v i="$i" -v t0="$t0" \
			'$1 == i { printf "%.6f", $2 - t0 }' "$DIR/par-$dir.ends")" \
			'. + {end_s: $fin}' "$DIR/par-$dir-$i.json" || true
	done | jq -cs --arg peer "$peer" --argjson rep "$rep" \
		--arg test "bulk-$dir-$PARALLEL" --arg dir "$dir" \
		--argjson n "$PARALLEL" --argjson wall "$(bc_sub "$t1" "$t0")" \
		--argjson srv "$(((s1 - s0) * CLOCK_TICK_NS))" \
		--argjson be "$(((b1 - b0) * CLOCK_TICK_NS))" \
		--argjson busy "$(((m1 - m0) * CLOCK_TICK_NS))" '
		def ok: map(select(.data_s != null and .data_s > 0));
		(map(.bytes) | add // 0) as $bytes |
		(map(.client_cpu_s) | add // 0) as $cli |
		(ok | map(.end_s) | max) as $last |
		(ok | map(.end_s - .data_s) | min) as $first |
		(if $last == null then null else $last - $first end) as $span |
		{type: "run", peer: $peer, rep: $rep, test: $test,
		 mode: "bulk", direction: $dir, conns: $n,
		 completed: (map(.completed) | add // 0),
		 failed: ($n - (map(.completed) | add // 0)),
		 first_error: (map(.first_error) | map(select(. != "")) | first // ""),
		 version: .[0].version, cipher: .[0].cipher,
		 bytes: $bytes, wall_s: $wall, data_s: $span,
		 overlap: (if $span > 0 then (ok | map(.data_s) | add) / $span else null end),
		 mb_per_s: (if $span > 0 then $bytes / 1e6 / $span else null end),
		 server_cpu_s: ($srv / 1e9),
		 server_cpu_s_per_gb: (if $bytes > 0 then $srv / $bytes else null end),
		 client_cpu_s: $cli, aux_cpu_s: ($be / 1e9),
		 load_side_busy: (if $wall > 0 then ($cli + $be / 1e9) / $wall else null end),
		 machine_busy_s: ($busy / 1e9)}')
	record "$json"
	jq -r '"bench:   \(.peer) \(.test): \(.mb_per_s // 0 | floor) MB/s, " +
		"\(.server_cpu_s_per_gb // 0 | . * 1000 | round / 1000) CPU s/GB, " +
		"overlap \(.overlap // 0 | . * 10 | round / 10)" +
		(if .failed > 0 then ", FAILED \(.failed): \(.first_error)" else "" end)' \
		<<<"$json" >&2
}

bc_sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a - b }'; }

# One peer, one repetition: backend, peer, measurements, kTLS account.
vm_session() {
	local peer=$1 rep=$2 ok=1 tls0 tls1 status=null started
	DIR=$WORK/$peer-$rep
	PINS=/sys/fs/bpf/kst-vmbench-$peer-$rep
	mkdir -p "$DIR"
	rm -rf "$PINS"
	say "[rep $rep/$REPS] $peer"
	started=$(vm_now)
	tls0=$(vm_tls_stat)
	start_backend "$DIR" || ok=0
	[ "$ok" = 1 ] && { vm_start_peer "$peer" || ok=0; }
	[ "$ok" = 1 ] && { probe "$peer" "$rep" || ok=0; }
	if [ "$ok" = 1 ]; then
		vm_idle "$peer" "$rep"
		vm_bulk_one "$peer" "$rep"
		vm_bulk_par "$peer" "$rep" down
		vm_bulk_par "$peer" "$rep" up
		[[ $peer == kstapled-* ]] && status=$(vm_kst_status)
	fi
	tls1=$(vm_tls_stat)
	stop_session "$PEER_PID" || ok=0
	PEER_PID=
	stop_session "$BE_PID" || ok=0
	BE_PID=
	rm -rf "$PINS"
	record "$(jq -cn --arg peer "$peer" --argjson rep "$rep" \
		--argjson ok "$([ "$ok" = 1 ] && echo true || echo false)" \
		--argjson t0 "$tls0" --argjson t1 "$tls1" --argjson st "$status" \
		--argjson secs "$(bc_sub "$(vm_now)" "$started")" \
		--arg log "$(tail -n 5 "$DIR/peer.log" 2>/dev/null)" \
		--argjson t_start "$started" --argjson t_end "$(vm_now)" \
		'{type: "session", peer: $peer, rep: $rep, ok: $ok, secs: $secs,
		  t_start: $t_start, t_end: $t_end,
		  tls_stat_delta: ($t1 | with_entries(.value -= ($t0[.key] // 0))),
		  kstapled_status: $st}
		 + (if $ok then {} else {log: $log} end)')"
}

# ------------------------------------------------------------ setup
vm_record_meta() {
	local aead
	aead=$(awk '/^name/ { n = $3 } /^driver/ && n == "gcm(aes)" { print $3; exit }' \
		/proc/crypto 2>/dev/null)
	record "$(jq -cn --arg cmd "$VM_CMDLINE" --arg kernel "$(uname -r)" \
		--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		--arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
		--arg nproc "$(nproc)" --arg openssl "$(openssl version)" \
		--arg ktls "$([ -r /proc/net/tls_stat ] && echo yes || echo no)" \
		--arg aead "${aead:-none loaded}" --arg vm "${KST_VM:-0}" \
		--arg reps "$REPS" --arg bulk "$BULK" --arg par "$PARALLEL" \
		--arg idle "$IDLE_CONNS" --arg workers "$WORKERS" \
		--arg client_cpu "$CLIENT_CPU" --arg server_cpu "$SERVER_CPU" \
		--arg nofile "$NOFILE" \
		--arg mem "$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)" \
		'{type: "meta", command: $cmd, kernel: $kernel, date: $date,
		  cpu: $cpu, nproc: $nproc, openssl: $openssl,
		  kernel_tls: $ktls, kernel_gcm_aes: $aead, vm: $vm,
		  reps: $reps, bulk: $bulk, parallel: $par, idle_conns: $idle,
		  workers: $workers, client_cpu: $client_cpu,
		  server_cpu: $server_cpu, nofile: $nofile, mem_kb: $mem}')"
}

# The crypto ceiling of one guest vCPU: what an AES-128-GCM relay could
# not exceed even with nothing else to do.
vm_speed() {
	local out
	out=$(taskset -c "$SERVER_CPU" openssl speed -seconds 2 -mr \
		-bytes 16384 -evp aes-128-gcm 2>/dev/null | grep '^+F:') || true
	record "$(jq -cn --arg v "$(awk -F: '{ print $4 }' <<<"$out")" \
		'{type: "speed", aes_128_gcm_mb_s: (($v | tonumber? // null) |
			if . == null then null else . / 1e6 end)}')"
}

# The guest has no git: the host says which kstapled it carried.
vm_version_of() {
	if [ "$1" = kstapled ] && [ -n "${KST_BENCH_KSTAPLED_VERSION:-}" ]; then
		echo "kstapled $KST_BENCH_KSTAPLED_VERSION"
	else
		version_of "$1"
	fi
}

vm_select_peers() {
	local peer base avail reason
	RUN_PEERS=()
	for peer in ${VM_PEERS//,/ }; do
		base=$(vm_base_peer "$peer") avail=true reason=
		case $peer in
		haproxy | nginx | nginx-noktls)
			command -v "$base" >/dev/null ||
				{ avail=false; reason="$base not installed"; } ;;
		kstapled-ktls | kstapled-user)
			kstapled_available || { avail=false; reason=$KST_REASON; } ;;
		*) die "unknown peer: $peer" ;;
		esac
		record_peer "$peer" "$avail" "$reason" "$(vm_version_of "$base")"
	done
}

vm_cleanup() {
	local rc=$?
	stop_session "$PEER_PID" || true
	stop_session "$BE_PID" || true
	[ -n "${PINS:-}" ] && rm -rf "$PINS"
	[ -n "$WORK" ] && rm -rf "$WORK"
	exit "$rc"
}

vm_main() {
	local rep peer
	vm_parse_args "$@"
	preflight
	vm_bytes "$BULK" >/dev/null
	WORK=$(mktemp -d /tmp/kst-vmbench.XXXXXX)
	trap vm_cleanup EXIT
	trap 'exit 130' INT TERM
	RAW=$WORK/results.jsonl
	: >"$RAW"
	vm_record_meta
	vm_speed
	prepare_certs
	vm_select_peers
	[ ${#RUN_PEERS[@]} -gt 0 ] || die "no peer available"
	say "peers: ${RUN_PEERS[*]}; $REPS repetition(s); bulk $BULK" \
		"(x1, and /$PARALLEL over $PARALLEL connections); idle $IDLE_CONNS"
	for rep in $(seq "$REPS"); do
		for peer in "${RUN_PEERS[@]}"; do
			vm_session "$peer" "$rep"
		done
	done
	say "done"
}

vm_main "$@"
