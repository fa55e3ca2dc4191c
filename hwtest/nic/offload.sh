#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Proves kTLS NIC offload through kstapled on a host with a TLS-offload NIC
# and a peer (hwtest/nic/README.md has the kernel, driver and peer setup).
# No virtual device offloads TLS, so this runs only on real hardware; on
# any other machine it says why and exits 77.
#
#   hwtest/nic/offload.sh
#
# What it does: picks the NIC (IFACE, or the first whose tls-hw-tx-offload
# is changeable), saves its TLS feature settings and restores them on exit
# (trap), switches tls-hw-tx-offload and tls-hw-rx-offload on, starts a
# backend and `$KSTAPLED -c <generated config>` listening on the NIC's
# address, has the peer run TLS clients that upload and download SIZE bytes
# each, and compares counters before and after:
#   /proc/net/tls_stat  TlsTxDevice, TlsRxDevice (connections the kernel put
#                       on the device), TlsTxSw/TlsRxSw (fallbacks),
#                       TlsDecryptError
#   ethtool -S IFACE    the driver's TLS counters (mlx5: tx_tls_encrypted_*,
#                       rx_tls_decrypted_*; nfp: hw_tls_tx, hw_tls_rx)
#   ss -tnie            txconf/rxconf "hw" on a live connection (sock_diag,
#                       the data kstapled's ktls/sockdiag.c reads)
# Offload is proven when TlsTxDevice grew by at least one per connection,
# the driver's TX counter moved (if it has one), every byte arrived, and
# TlsDecryptError did not move; RX likewise when the device accepted RX.
#
# Environment:
#   KSTAPLED      the daemon (default: $KST_BUILD/kstapled or build/kstapled)
#   IFACE         the offload NIC (default: the first with a changeable
#                 tls-hw-tx-offload)
#   ADDR          its address the peer connects to (default: its first IPv4)
#   PORT          listener port on ADDR (default 8443)
#   PEER          ssh destination of the client host (needs openssl), or
#   PEER_NETNS    a local network namespace holding the peer's port (two
#                 ports cabled back to back; README.md)
#   SIZE          bytes each way per connection (default 67108864)
#   CONNS         connections per TLS version (default 4)
#   TLS_VERSIONS  default "1.2 1.3"
#   CIPHERS       TLS 1.2 cipher (default ECDHE-ECDSA-AES128-GCM-SHA256)
#   SUITES        TLS 1.3 suite (default TLS_AES_128_GCM_SHA256)
#
# Exit: 0 offload proven, 1 not proven (counters printed), 2 setup error,
# 77 skipped: not root, no ethtool, no TLS-offload NIC, no kTLS device
# support in the kernel.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
PORT=${PORT:-8443}
SIZE=${SIZE:-67108864}
CONNS=${CONNS:-4}
TLS_VERSIONS=${TLS_VERSIONS:-1.2 1.3}
CIPHERS=${CIPHERS:-ECDHE-ECDSA-AES128-GCM-SHA256}
SUITES=${SUITES:-TLS_AES_128_GCM_SHA256}

work=
daemon_pid=
backend_pid=
saved_tx=
saved_rx=

skip() {
	echo "offload: SKIPPED: $*"
	exit 77
}

die() {
	echo "offload: ERROR: $*" >&2
	exit 2
}

# "on" or "off" for one feature of IFACE, from ethtool -k.
feature() {
	ethtool -k "$1" 2>/dev/null | sed -n "s/^$2: \([a-z]*\).*/\1/p"
}

# Interfaces whose tls-hw-tx-offload is not [fixed]: the device can do it.
offload_nics() {
	local dev line
	for dev in /sys/class/net/*; do
		dev=${dev##*/}
		line=$(ethtool -k "$dev" 2>/dev/null |
			grep '^tls-hw-tx-offload:' || true)
		case "$line" in
		'' | *'[fixed]'*) ;;
		*) echo "$dev" ;;
		esac
	done
	return 0
}

kernel_config() {
	if [ -r "/boot/config-$(uname -r)" ]; then
		grep -h "^$1=" "/boot/config-$(uname -r)" || true
	elif [ -r /proc/config.gz ]; then
		zcat /proc/config.gz | grep "^$1=" || true
	fi
}

# Runs on every exit: stop what we started (by PID), restore the NIC.
cleanup() {
	local rc=$?
	set +e
	if [ -n "$daemon_pid" ]; then
		kill "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
	fi
	if [ -n "$backend_pid" ]; then
		kill "$backend_pid" 2>/dev/null
		wait "$backend_pid" 2>/dev/null
	fi
	if [ -n "$saved_tx" ]; then
		ethtool -K "$IFACE" tls-hw-tx-offload "$saved_tx" 2>/dev/null ||
			echo "offload: could not restore tls-hw-tx-offload $saved_tx on $IFACE" >&2
	fi
	if [ -n "$saved_rx" ]; then
		ethtool -K "$IFACE" tls-hw-rx-offload "$saved_rx" 2>/dev/null ||
			echo "offload: could not restore tls-hw-rx-offload $saved_rx on $IFACE" >&2
	fi
	[ -n "$work" ] && rm -rf "$work"
	exit "$rc"
}

peer_run() {
	if [ -n "${PEER_NETNS:-}" ]; then
		ip netns exec "$PEER_NETNS" sh -c "$1"
	else
		ssh -o BatchMode=yes "$PEER" "$1"
	fi
}

# name value, one per line: tls_stat and the driver's TLS counters.
counters() {
	awk '{ print "tls_stat." $1, $2 }' /proc/net/tls_stat
	ethtool -S "$IFACE" 2>/dev/null |
		awk -F: 'tolower($1) ~ /tls/ { gsub(/ /, "", $1); gsub(/ /, "", $2); print "nic." $1, $2 }'
}

delta() {
	awk -v k="$1" '
		FNR == NR { if ($1 == k) b = $2; next }
		$1 == k { a = $2 }
		END { printf "%.0f\n", (a == "" ? 0 : a) - (b == "" ? 0 : b) }' \
		"$work/before" "$work/after"
}

# Sum of deltas over counters whose name matches an ERE.
delta_sum() {
	local k sum=0
	for k in $(awk '{ print $1 }' "$work/after" | grep -E "$1" || true); do
		sum=$((sum + $(delta "$k")))
	done
	echo "$sum"
}

preflight() {
	local dev
	[ "$(id -u)" = 0 ] || skip "needs root (ethtool -K, modprobe)"
	command -v ethtool >/dev/null || skip "no ethtool(8)"
	if [ -z "${IFACE:-}" ]; then
		IFACE=$(offload_nics | head -n 1)
		if [ -z "$IFACE" ]; then
			for dev in /sys/class/net/*; do
				printf '  %s: %s\n' "${dev##*/}" \
					"$(ethtool -k "${dev##*/}" 2>/dev/null |
						grep '^tls-hw-tx-offload' || echo '?')"
			done
			skip "no TLS-offload NIC: every interface reports" \
				"tls-hw-tx-offload [fixed]"
		fi
	fi
	[ -e "/sys/class/net/$IFACE" ] || die "no interface $IFACE"
	modprobe tls 2>/dev/null || true
	[ -r /proc/net/tls_stat ] || skip "kernel without kTLS (CONFIG_TLS, tls.ko)"
	case "$(kernel_config CONFIG_TLS_DEVICE)" in
	*=y | "") ;;
	*) skip "kernel without CONFIG_TLS_DEVICE" ;;
	esac
	[ -n "${PEER:-}${PEER_NETNS:-}" ] ||
		die "no peer: set PEER=ssh-host or PEER_NETNS=netns (README.md)"
	KSTAPLED=${KSTAPLED:-${KST_BUILD:-$repo/build}/kstapled}
	[ -x "$KSTAPLED" ] || die "no daemon at $KSTAPLED (make, or set KSTAPLED)"
	command -v python3 >/dev/null || die "the backend needs python3"
	command -v openssl >/dev/null || die "needs openssl(1) for the cert"
	ADDR=${ADDR:-$(ip -4 -o addr show dev "$IFACE" |
		awk '{ sub(/\/.*/, "", $4); print $4; exit }')}
	[ -n "$ADDR" ] || die "$IFACE has no IPv4 address; set ADDR"
	peer_run 'command -v openssl' >/dev/null ||
		die "the peer has no openssl(1)"
}

# Saves the two features (restored by cleanup), then asks for both.
enable_offload() {
	saved_tx=$(feature "$IFACE" tls-hw-tx-offload)
	saved_rx=$(feature "$IFACE" tls-hw-rx-offload)
	echo "offload: $IFACE was tls-hw-tx-offload $saved_tx, tls-hw-rx-offload $saved_rx"
	ethtool -K "$IFACE" tls-hw-tx-offload on ||
		die "$IFACE refused tls-hw-tx-offload on"
	ethtool -K "$IFACE" tls-hw-rx-offload on 2>/dev/null ||
		echo "offload: $IFACE refused tls-hw-rx-offload on (TX only)"
	ethtool -k "$IFACE" | grep '^tls-hw-'
	[ "$(feature "$IFACE" tls-hw-tx-offload)" = on ] ||
		die "tls-hw-tx-offload did not switch on"
	rx_on=$([ "$(feature "$IFACE" tls-hw-rx-offload)" = on ] && echo 1 || echo 0)
}

make_config() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj /CN=kst-hwtest -addext "subjectAltName=IP:$ADDR" \
		-days 2 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
	cat "$work/cert.pem" "$work/key.pem" >"$work/site.pem"
	chmod 600 "$work/site.pem"
	mkdir -p "$work/state"
	cat >"$work/kstapled.conf" <<-EOF
		[global]
		workers = 2
		state-dir = $work/state
		bpf-pin-dir =
		ktls = require
		allow-root = on
		nic-offload = $IFACE

		[ocsp]
		fetch = off
		startup-wait = 0s

		[listener:hwtest]
		bind = $ADDR:$PORT
		backend = 127.0.0.1:$((PORT + 1))
		cert = $work/site.pem
		ciphers = $CIPHERS
		ciphersuites = $SUITES
	EOF
}

# Reads SIZE bytes from each client (the RX direction), then sends SIZE.
start_backend() {
	python3 - "$((PORT + 1))" "$SIZE" <<-'EOF' &
		import socket, sys, threading
		port, size = int(sys.argv[1]), int(sys.argv[2])
		chunk = b"\0" * 65536
		def serve(c):
		    with c:
		        left = size
		        while left > 0:
		            b = c.recv(min(left, 1 << 20))
		            if not b:
		                return
		            left -= len(b)
		        left = size
		        while left > 0:
		            left -= c.send(chunk[:min(left, len(chunk))])
		s = socket.socket()
		s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		s.bind(("127.0.0.1", port))
		s.listen(64)
		while True:
		    c, _ = s.accept()
		    threading.Thread(target=serve, args=(c,), daemon=True).start()
	EOF
	backend_pid=$!
}

# Both the backend and kstapled, bounded at 10 s.
wait_listening() {
	for _ in $(seq 1 100); do
		if ss -ltn "( sport = :$PORT )" | grep -q LISTEN &&
			ss -ltn "( sport = :$((PORT + 1)) )" | grep -q LISTEN; then
			return 0
		fi
		kill -0 "$daemon_pid" 2>/dev/null || die "kstapled exited (log: $work/kstapled.log)"
		kill -0 "$backend_pid" 2>/dev/null || die "the backend exited"
		sleep 0.1
	done
	die "no listener on $ADDR:$PORT and 127.0.0.1:$((PORT + 1)) after 10 s"
}

# One client on the peer: uploads SIZE, prints the byte count it received.
client() {
	peer_run "head -c $SIZE /dev/zero | timeout 300 openssl s_client \
		-connect $ADDR:$PORT -tls${1/./_} -quiet 2>/dev/null | wc -c"
}

run_traffic() {
	local v got
	bad_bytes=0
	for v in $TLS_VERSIONS; do
		# One client in the background, to catch a live socket in ss.
		client "$v" >"$work/bg.$v" &
		local bg=$!
		for _ in $(seq 1 50); do
			ss -tnie state established "( sport = :$PORT )" 2>/dev/null |
				grep -o 'tcp-ulp-tls.*' >>"$work/ss.$v" && break
			sleep 0.1
		done
		wait "$bg" || true
		[ "$(cat "$work/bg.$v")" = "$SIZE" ] || bad_bytes=$((bad_bytes + 1))
		for _ in $(seq 2 "$CONNS"); do
			got=$(client "$v" || true)
			[ "$got" = "$SIZE" ] || bad_bytes=$((bad_bytes + 1))
		done
		if [ -s "$work/ss.$v" ]; then
			echo "offload: TLS $v: live socket: $(head -n 1 "$work/ss.$v")"
		else
			echo "offload: TLS $v: no live socket with the tls ULP seen by ss"
		fi
	done
}

verdict() {
	local nconn tx rx sw err nic_tx nic_rx ok=1
	nconn=$(($(wc -w <<<"$TLS_VERSIONS") * CONNS))
	tx=$(delta tls_stat.TlsTxDevice)
	rx=$(delta tls_stat.TlsRxDevice)
	sw=$(($(delta tls_stat.TlsTxSw) + $(delta tls_stat.TlsRxSw)))
	err=$(delta tls_stat.TlsDecryptError)
	nic_tx=$(delta_sum '^nic\.(tx_tls_encrypted_packets|hw_tls_tx)$')
	nic_rx=$(delta_sum '^nic\.(rx_tls_decrypted_packets|hw_tls_rx)$')
	echo "offload: counter deltas ($nconn connections):"
	awk '{ print $1 }' "$work/after" | while read -r k; do
		d=$(delta "$k")
		[ "$d" != 0 ] && printf '  %-40s %+d\n' "$k" "$d"
	done
	[ "$bad_bytes" = 0 ] || { echo "offload: FAIL: $bad_bytes transfers short"; ok=0; }
	[ "$tx" -ge "$nconn" ] || { echo "offload: FAIL: TlsTxDevice +$tx < $nconn (software fallbacks: +$sw)"; ok=0; }
	[ "$err" = 0 ] || { echo "offload: FAIL: TlsDecryptError +$err"; ok=0; }
	if grep -qE '^nic\.(tx_tls_encrypted_packets|hw_tls_tx) ' "$work/after"; then
		[ "$nic_tx" -gt 0 ] || { echo "offload: FAIL: driver TLS TX counter did not move"; ok=0; }
	else
		echo "offload: note: the driver exposes no TLS TX packet counter; tls_stat only"
	fi
	if [ "$rx_on" = 1 ]; then
		[ "$rx" -ge "$nconn" ] || { echo "offload: FAIL: TlsRxDevice +$rx < $nconn"; ok=0; }
		if grep -qE '^nic\.(rx_tls_decrypted_packets|hw_tls_rx) ' "$work/after"; then
			[ "$nic_rx" -gt 0 ] || { echo "offload: FAIL: driver TLS RX counter did not move"; ok=0; }
		fi
	fi
	if [ "$ok" = 1 ]; then
		echo "offload: PASS: $IFACE: TX on the device for $tx connections, RX for $rx; driver TX +$nic_tx RX +$nic_rx packets"
		return 0
	fi
	return 1
}

main() {
	preflight
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	work=$(mktemp -d /tmp/kst-nic-offload.XXXXXX)
	echo "offload: $IFACE $ADDR:$PORT, peer ${PEER:-netns $PEER_NETNS}, kernel $(uname -r)"
	enable_offload
	make_config
	start_backend
	"$KSTAPLED" -c "$work/kstapled.conf" >"$work/kstapled.log" 2>&1 &
	daemon_pid=$!
	wait_listening
	counters >"$work/before"
	run_traffic
	counters >"$work/after"
	if verdict; then
		return 0
	fi
	# keep the evidence: cleanup removes $work
	cp "$work/kstapled.log" "/tmp/kst-nic-offload.log" 2>/dev/null || true
	echo "offload: kstapled log copied to /tmp/kst-nic-offload.log"
	return 1
}

main "$@"
