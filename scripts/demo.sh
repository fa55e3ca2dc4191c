#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The demo: kstapled's main job on a self-contained setup, on loopback.
#
#   scripts/demo.sh            (as root; installs what it needs)
#
# It builds, mints a demo PKI (root, intermediate, ECDSA and RSA leaves for
# localhost whose AIA points at a local OCSP responder), starts that
# responder (the real `openssl ocsp`, behind kst-ocspd on 127.0.0.1), a demo
# HTTP backend and kstapled, then shows real clients going through it with
# the staple kstapled fetched, and the pinned metrics. With a terminal it
# keeps running until Ctrl-C; without one (CI) it stops after the showing.
# Everything it started is stopped by PID on exit.
#
# Ports (loopback): TLS 8443, backend 8081, OCSP 8888. Override with
# KST_DEMO_TLS_PORT, KST_DEMO_BACKEND_PORT, KST_DEMO_OCSP_PORT; BUILD
# names the build directory (default build), KST_DEMO_DIR the demo's.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tls_port=${KST_DEMO_TLS_PORT:-8443}
be_port=${KST_DEMO_BACKEND_PORT:-8081}
ocsp_port=${KST_DEMO_OCSP_PORT:-8888}
build=${BUILD:-build}
demo=${KST_DEMO_DIR:-$top/$build/demo}
pins=/sys/fs/bpf/kstapled-demo
pids=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 0' INT TERM

port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start NAME LOG CMD...: background process, remembered for cleanup
start() {
	local name=$1 log=$2
	shift 2
	"$@" >"$log" 2>&1 &
	pids+=($!)
	echo "started $name (pid $!), log: $log"
}

wait_for() { # wait_for LOG TEXT SECONDS
	for _ in $(seq $(($3 * 10))); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "demo: '$2' did not appear in $1:" >&2
	cat "$1" >&2
	exit 1
}

say "dependencies and build"
scripts/deps.sh
make -s BUILD="$build" all

for p in "$tls_port" "$be_port" "$ocsp_port"; do
	port_free "$p" || { echo "demo: port $p is in use (set KST_DEMO_*_PORT)" >&2; exit 1; }
done

say "demo PKI (AIA OCSP URL http://127.0.0.1:$ocsp_port/) in $demo"
rm -rf "$demo"
mkdir -p "$demo/state"
scripts/pki.sh -u "http://127.0.0.1:$ocsp_port/" "$demo/pki" >/dev/null
openssl x509 -in "$demo/pki/localhost-ecdsa.crt" -noout -subject -ext authorityInfoAccess

say "OCSP responder (openssl ocsp, index $demo/pki/index.txt)"
start kst-ocspd "$demo/ocspd.log" "$build"/tools/kst-ocspd -l "127.0.0.1:$ocsp_port" \
	--index "$demo/pki/index.txt" --ca "$demo/pki/int.crt" \
	--rsigner "$demo/pki/int.crt" --rkey "$demo/pki/int.key" --ndays 1 \
	--log "$demo/ocsp-requests.log"
wait_for "$demo/ocspd.log" ready 10

say "demo backend (HTTP on 127.0.0.1:$be_port)"
start kst-backend "$demo/backend.log" "$build"/tools/kst-backend -m http \
	-l "127.0.0.1:$be_port"
wait_for "$demo/backend.log" ready 10

pin_dir=""
if mountpoint -q /sys/fs/bpf 2>/dev/null || mount -t bpf bpf /sys/fs/bpf 2>/dev/null; then
	pin_dir=$pins
fi
cat >"$demo/kstapled.conf" <<EOF
# kstapled demo configuration
[global]
state-dir = $demo/state
bpf-pin-dir = $pin_dir
allow-root = on        # the demo runs as root; deployments set user =

[ocsp]
fetch = on
policy = lenient

[listener:demo]
bind = 127.0.0.1:$tls_port
backend = 127.0.0.1:$be_port
proxy-protocol = off
alpn = http/1.1
cert = $demo/pki/localhost-ecdsa.pem
cert = $demo/pki/localhost-rsa.pem
EOF

say "kstapled -t (check)"
"$build"/kstapled -t -c "$demo/kstapled.conf"

say "kstapled"
start kstapled "$demo/kstapled.log" "$build"/kstapled -c "$demo/kstapled.conf"
wait_for "$demo/kstapled.log" "notice: started" 30
grep -E "notice|warn|stapling" "$demo/kstapled.log" | sed 's/^/  /'

say "curl --cert-status https://localhost:$tls_port/ (ECDSA certificate)"
curl -sS --cert-status --cacert "$demo/pki/root.crt" \
	"https://localhost:$tls_port/" | sed 's/^/  /'

say "openssl s_client -status, RSA-only client"
echo Q | openssl s_client -connect "127.0.0.1:$tls_port" -servername localhost \
	-status -sigalgs RSA-PSS+SHA256 -CAfile "$demo/pki/root.crt" 2>/dev/null |
	grep -E "OCSP Response Status|Cert Status|This Update|Next Update|Server public key|Verification:|Protocol" |
	sed 's/^ */  /'

say "fetched staples persisted in state-dir"
ls -l "$demo/state" | sed 's/^/  /'

if [ -n "$pin_dir" ]; then
	sleep 1.2 # the control thread flushes the maps once a second
	say "kstapled status --pin-dir $pin_dir"
	"$build"/kstapled status --pin-dir "$pin_dir" || true
	say "the same data with standard tools"
	echo "  bpftool map dump pinned $pin_dir/kst_certs_v2"
	echo "  bpftool map dump pinned $pin_dir/kst_global_v2"
else
	say "bpffs unavailable: no pinned maps in this demo"
fi

if [ -t 0 ] && [ -z "${CI:-}" ]; then
	say "running; try: curl --cert-status --cacert $demo/pki/root.crt https://localhost:$tls_port/"
	echo "Ctrl-C stops everything."
	while kill -0 "${pids[2]}" 2>/dev/null; do sleep 1; done
fi
