#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The harness's own checks, run in the guest (POSIX sh): they prove that
# the guest kernel does kTLS the way hwtest/README.md says (and, booted
# with kst.notls, that it does not), before any kstapled test relies on it.
# One check per call, exit 0 pass, 1 fail, 77 skip:
#
#   smoke.sh tls_stat               /proc/net/tls_stat is there
#   smoke.sh no_tls                 it is not, and tls.ko cannot be loaded
#   smoke.sh ulp attached|refused   TCP_ULP "tls" on a loopback socket
#   smoke.sh transfer 1.2|1.3 ktls|userspace
#                                   openssl s_server -WWW -sendfile and
#                                   s_client with kTLS turned on: while the
#                                   connection is open, ss -tnie shows
#                                   tcp-ulp-tls on both ends with software
#                                   TX/RX and TlsCurr* count them; then a
#                                   payload arrives intact and tls_stat has
#                                   moved as it should (TLS 1.2: TX and RX in
#                                   the kernel at both ends; 1.3: TX only
#                                   with OpenSSL 3.0, which never offloads
#                                   1.3 RX, TX and RX with OpenSSL >= 3.2,
#                                   which does). With
#                                   userspace: the same transfer, no ULP,
#                                   no kTLS anywhere
#   smoke.sh bpf                    bpffs is mounted; bpftool creates, pins,
#                                   updates and reads a map
#   smoke.sh exits N CMD [ARGS...]  CMD exits N (KST_TEST_STRICT unset for
#                                   it: e.g. a kTLS test must skip, 77, on
#                                   the notls boot)
#
# Every wait is bounded; every process started is stopped by its PID.
# Environment: KST_SMOKE_SIZE payload bytes (default 262144),
# KST_VM_KTLS_CONF (set by the guest), KST_BUILD (for kst-ulp-check).

set -u
dir=/tmp/kst-smoke.$$
size=${KST_SMOKE_SIZE:-262144}
conf=${KST_VM_KTLS_CONF:-/etc/ktls/openssl-ktls.cnf}
pids=

fail() {
	echo "FAIL: $*"
	for f in "$dir"/*.err "$dir/srv.out" "$dir/ss.out"; do
		[ -s "$f" ] && sed "s|^|  ${f##*/}: |" "$f" | head -n 40
	done
	exit 1
}

skip() {
	echo "SKIP: $*"
	exit 77
}

need() {
	command -v "$1" >/dev/null || skip "$1 is not in the guest (carry it)"
}

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	rm -rf "$dir"
}

tls_stat() {
	awk -v n="$1" '$1 == n { print $2 }' /proc/net/tls_stat
}

# Waits up to 10 s for a regular expression in a file.
wait_for() {
	i=0
	while [ $i -lt 100 ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# A throwaway ECDSA certificate, made once per boot: the smoke checks need
# no test PKI.
make_cert() {
	c=/tmp/kst-smoke-cert
	if [ ! -f $c/cert.pem ]; then
		mkdir -p $c.$$
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
			-nodes -subj /CN=localhost -days 2 \
			-keyout $c.$$/key.pem -out $c.$$/cert.pem \
			2>"$dir/req.err" || fail "openssl req"
		mv $c.$$ $c
	fi
	cp $c/cert.pem $c/key.pem "$dir/"
}

# start_server VERSION [ARGS...]: s_server with kTLS on, on a free port;
# sets srv_pid and port.
start_server() {
	v=$1
	shift
	(cd "$dir" && OPENSSL_CONF=$conf exec openssl s_server \
		-accept 127.0.0.1:0 -naccept 1 -cert cert.pem -key key.pem \
		"-tls1_${v#1.}" "$@" >"$dir/srv.out" 2>&1) &
	srv_pid=$!
	pids="$pids $srv_pid"
	wait_for "$dir/srv.out" '^ACCEPT' ||
		fail "s_server did not start: $(cat "$dir/srv.out")"
	port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$dir/srv.out")
}

check_tls_stat() {
	[ -r /proc/net/tls_stat ] || fail "no /proc/net/tls_stat"
	cat /proc/net/tls_stat
	[ -n "$(tls_stat TlsTxSw)" ] || fail "tls_stat has no TlsTxSw"
}

check_no_tls() {
	[ -e /proc/net/tls_stat ] && fail "/proc/net/tls_stat exists"
	modprobe tls 2>/dev/null && fail "modprobe tls succeeded"
	grep -q '^tls ' /proc/modules && fail "tls is loaded"
	echo "no /proc/net/tls_stat, tls.ko cannot be loaded"
}

check_ulp() {
	bin=${KST_VM_ULP_CHECK:-${KST_BUILD:-/nonexistent}/hwtest/kst-ulp-check}
	[ -x "$bin" ] || skip "$bin not built (make hwtest builds it)"
	"$bin"
	rc=$?
	case $1:$rc in
	attached:0 | refused:2) return 0 ;;
	esac
	fail "expected TCP_ULP tls to be $1, kst-ulp-check exited $rc"
}

# delta NAME BEFORE EXPECTED...: the counter moved by one of EXPECTED.
delta() {
	d=$(($(tls_stat "$1") - $2))
	shift 2
	for want in "$@"; do
		[ "$d" = "$want" ] && return 0
	done
	fail "tls_stat $1 moved by $d, expected $*"
}

# Waits (10 s at most) for both ends of the connection to $port to show in
# ss as established and matching PATTERN; n: how many did.
ss_wait() {
	i=0 n=0
	while [ $i -lt 100 ]; do
		ss -tnieO state established >"$dir/ss.out" 2>&1
		n=$(grep -c "$1" "$dir/ss.out")
		[ "$n" -ge 2 ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# While the connection is open: sock_diag and tls_stat agree on what runs
# in the kernel (software TX and RX for 1.2, TX only for 1.3 with OpenSSL
# 3.0), or that nothing does.
check_open() {
	v=$1 mode=$2 rx=sw
	if ! command -v ss >/dev/null; then
		echo "no ss in the guest: socket state not checked"
		return 0
	fi
	[ "$v" = 1.3 ] && ! openssl_rx13 && rx=none
	pat="127\.0\.0\.1:$port "
	[ "$mode" = ktls ] &&
		pat="$pat.*tcp-ulp-tls version: $v .*rxconf: $rx txconf: sw"
	ss_wait "$pat"
	ok=$?
	awk -v p="127.0.0.1:$port" 'index($0, p) {
		u = index($0, "tcp-ulp-tls")
		print "  " $3, $4, (u ? substr($0, u) : "(no ulp)") }' \
		"$dir/ss.out"
	[ "$ok" = 0 ] || fail "ss shows $n of the 2 sockets as expected"
	if [ "$mode" = userspace ]; then
		grep "127\.0\.0\.1:$port " "$dir/ss.out" | grep -q tcp-ulp &&
			fail "a ULP on a kernel without kTLS"
		return 0
	fi
	ctx=$(tls_stat TlsCurrTxSw) crx=$(tls_stat TlsCurrRxSw)
	echo "while open: TlsCurrTxSw $ctx, TlsCurrRxSw $crx"
	[ "$ctx" = 2 ] || fail "TlsCurrTxSw is $ctx, want 2"
	case $v:$crx:$rx in
	1.2:2:sw | 1.3:0:none | 1.3:2:sw) ;;
	*) fail "TlsCurrRxSw is $crx" ;;
	esac
}

# The openssl CLI puts TLS 1.3 RX in the kernel itself (OpenSSL >= 3.2).
openssl_rx13() {
	# "OpenSSL 3.5.1 1 Jul 2025"
	case $(openssl version | awk '{ print $2 }') in
	0.* | 1.* | 3.0.* | 3.1.*) return 1 ;;
	esac
	return 0
}

check_transfer() {
	v=$1 mode=$2
	need openssl
	make_cert
	head -c "$size" /dev/urandom >"$dir/payload"
	if [ "$mode" = ktls ]; then
		tx0=$(tls_stat TlsTxSw) rx0=$(tls_stat TlsRxSw)
	fi
	start_server "$v" -WWW -sendfile
	# The client holds the connection open (stdin is a FIFO) until ss has
	# seen it, then asks for the payload; the server closes after it.
	mkfifo "$dir/in"
	OPENSSL_CONF=$conf openssl s_client -quiet -connect "127.0.0.1:$port" \
		"-tls1_${v#1.}" <"$dir/in" >"$dir/cli.out" 2>"$dir/cli.err" &
	cli_pid=$!
	pids="$pids $cli_pid"
	exec 3>"$dir/in"
	check_open "$v" "$mode"
	printf 'GET /payload HTTP/1.0\r\n\r\n' >&3
	exec 3>&-
	wait "$cli_pid"
	wait "$srv_pid"
	grep -a 'Kernel TLS' "$dir/cli.err" | sed 's/^/  client: /'
	grep -a 'Kernel TLS' "$dir/srv.out" | sed 's/^/  server: /'
	head -n 1 "$dir/cli.out" | grep -q '^HTTP/1.0 200 ok' ||
		fail "no HTTP 200 from s_server -WWW"
	want=$(sha256sum <"$dir/payload")
	got=$(tail -c "$size" "$dir/cli.out" | sha256sum)
	[ "$got" = "$want" ] || fail "payload differs (sha256)"
	echo "TLS $v: $size bytes intact"
	if [ "$mode" = userspace ]; then
		grep -q 'Kernel TLS' "$dir/cli.err" "$dir/srv.out" &&
			fail "kTLS used where the kernel has none"
		[ -e /proc/net/tls_stat ] && fail "/proc/net/tls_stat exists"
		return 0
	fi
	grep -q 'Using Kernel TLS for sending' "$dir/cli.err" ||
		fail "s_client did not send through kTLS"
	# Both ends are in this guest: each installs its own TX (and RX).
	delta TlsTxSw "$tx0" 2
	if [ "$v" = 1.2 ] || openssl_rx13; then
		grep -q 'Using Kernel TLS for receiving' "$dir/cli.err" ||
			fail "s_client did not receive through kTLS"
		delta TlsRxSw "$rx0" 2
	else
		# OpenSSL 3.0 never installs TLS 1.3 RX
		delta TlsRxSw "$rx0" 0
	fi
	echo "tls_stat: TlsTxSw +$(($(tls_stat TlsTxSw) - tx0))," \
		"TlsRxSw +$(($(tls_stat TlsRxSw) - rx0))"
}

check_bpf() {
	pin=/sys/fs/bpf/kst_smoke
	grep -q ' /sys/fs/bpf bpf ' /proc/mounts || fail "bpffs not mounted"
	need bpftool
	rm -f "$pin"
	bpftool map create "$pin" type hash key 4 value 8 entries 4 \
		name kst_smoke || fail "bpftool map create"
	bpftool map update pinned "$pin" key hex 01 00 00 00 \
		value hex 2a 00 00 00 00 00 00 00 || fail "bpftool map update"
	out=$(bpftool -j map lookup pinned "$pin" key hex 01 00 00 00)
	rm -f "$pin"
	echo "$out"
	echo "$out" | grep -q '"0x2a"' || fail "map value did not round-trip"
}

mkdir -p "$dir"
trap cleanup EXIT
trap 'exit 1' INT TERM
check=${1:-}
[ $# -gt 0 ] && shift
case $check in
tls_stat) check_tls_stat ;;
no_tls) check_no_tls ;;
ulp) check_ulp "${1:?attached or refused}" ;;
transfer) check_transfer "${1:?version}" "${2:-ktls}" ;;
bpf) check_bpf ;;
exits)
	want=${1:?status}
	shift
	env -u KST_TEST_STRICT "$@"
	rc=$?
	[ "$rc" = "$want" ] || fail "$1 exited $rc, expected $want"
	;;
*)
	echo "usage: smoke.sh tls_stat|no_tls|ulp|transfer|bpf|exits [ARGS]"
	exit 2
	;;
esac
