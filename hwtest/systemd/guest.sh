#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The tests of kstapled under a real systemd, run in the Debian 12 guest
# that hwtest/systemd/run.sh boots (systemd 252 as PID 1) by the unit
# kst-systemd-test.service, as root, after multi-user.target. kstapled
# was installed with `make install PREFIX=/usr`; systemd-sysusers,
# systemd-tmpfiles and systemd-modules-load ran at boot from its files.
# What an operator does next (configuration, certificates) is done here,
# then each test drives the service through systemctl and checks what a
# user would check: systemctl's answers, /proc, the journal, a real TLS
# client. Marker lines (hwtest/guest/lib.sh) go to stdout, the second
# serial port, which the host reads; the last line is
#   KST-SD-RESULT: PASS|FAIL|SKIP exit=N
#
#   guest.sh            every test, in order (they build on each other)
#   guest.sh NAME       one test (t_NAME), as the full run calls it
set -u

T=/opt/kst-test
CONF=/etc/kstapled/kstapled.conf
PINS=/sys/fs/bpf/kstapled
PORT=8443
BACKEND=127.0.0.1:8080
SCRATCH=/run/kst-test
CLIENT=$T/bin/kst-client
# stdout is a serial tty: no colours, no pager
SYSTEMD_COLORS=0 SYSTEMD_PAGER=cat
export SYSTEMD_COLORS SYSTEMD_PAGER
# shellcheck source=/dev/null
[ -f "$T/env" ] && . "$T/env"

fail() {
	echo "FAIL: $*"
	exit 1
}

note() {
	echo "  $*"
}

main_pid() {
	systemctl show -p MainPID --value kstapled
}

# STATE: the unit's ActiveState is STATE
expect_state() {
	s=$(systemctl is-active kstapled)
	[ "$s" = "$1" ] || fail "kstapled is $s, expected $1"
}

# SECS WHAT CMD...: runs CMD until it succeeds, for up to SECS seconds (by
# the clock: under TCG a single ss takes a good part of a second).
wait_until() {
	wu_end=$(($(date +%s) + $1)) wu_what=$2
	shift 2
	until "$@"; do
		[ "$(date +%s)" -lt "$wu_end" ] || fail "$wu_what"
		sleep 0.2
	done
}

listening() {
	[ -n "$(ss -Htln "sport = :$1")" ]
}

connected() {
	[ -n "$(ss -Htn state established "dport = :$1")" ]
}

# The unit's journal since the cursor file has PATTERN.
logged_since() {
	journal_since "$1" | grep -q "$2"
}

# Waits up to 20 s until something listens on PORT.
wait_port() {
	wait_until 20 "nothing listens on port $1 after 20 s" listening "$1"
}

# Bytes the backend has queued towards the daemon (set in bq), if any.
backend_queued() {
	bq=$(ss -Htn state established "sport = :${BACKEND##*:}" |
		awk '{ n += $2 } END { print n + 0 }')
	[ "$bq" -gt 0 ]
}

# Later tests need the daemon serving configuration "two".
ensure_serving() {
	write_conf two
	systemctl is-active -q kstapled && return 0
	timeout 120 systemctl start kstapled || fail "cannot start kstapled"
	wait_port $PORT
}

# PORT [SNI]: a verified TLS handshake with openssl s_client, asking for a
# staple; its output is left in $SCRATCH/s_client.out.
handshake() {
	timeout 60 openssl s_client -connect "127.0.0.1:$1" \
		-servername "${2:-localhost}" -CAfile "$T/pki/root.crt" \
		-verify_return_error -status </dev/null \
		>"$SCRATCH/s_client.out" 2>&1 ||
		fail "s_client to port $1 (SNI ${2:-localhost}) failed:
$(tail -n 5 "$SCRATCH/s_client.out")"
	grep -q 'Verify return code: 0 (ok)' "$SCRATCH/s_client.out" ||
		fail "the chain did not verify on port $1"
}

# Lines of the unit's journal since the cursor file CURSOR was written.
journal_since() {
	journalctl -u kstapled --no-pager -o cat --after-cursor="$(cat "$1")"
}

save_cursor() {
	journalctl -u kstapled -n 0 --show-cursor --no-pager |
		sed -n 's/^-- cursor: //p' >"$1"
}

# The configuration the operator writes: VARIANT one (localhost), two (and
# other.test), bad (an unknown key), socket (bind [::]:443, served through
# kstapled.socket's "web" socket).
write_conf() {
	bind="127.0.0.1:$PORT" extra=''
	case $1 in
	two) extra="cert = /etc/kstapled/other-ecdsa.pem" ;;
	bad) extra="cert = /etc/kstapled/other-ecdsa.pem
certs-typo = /etc/kstapled/other-ecdsa.pem" ;;
	socket) bind='[::]:443' ;;
	esac
	cat >"$CONF.tmp" <<-EOF
		[global]
		workers = 2
		state-dir = /var/lib/kstapled
		bpf-pin-dir = $PINS
		ktls = auto
		user = kstapled
		log-level = info
		drain-timeout = 40s

		[ocsp]
		# no responder in the guest: the staples are the files beside the PEMs
		fetch = off

		[listener:web]
		bind = $bind
		backend = $BACKEND
		cert = /etc/kstapled/localhost-ecdsa.pem
		$extra
	EOF
	chown root:kstapled "$CONF.tmp" && chmod 0640 "$CONF.tmp" &&
		mv "$CONF.tmp" "$CONF"
}

# ---------------------------------------------------------------- tests

# systemd-sysusers ran at boot from /usr/lib/sysusers.d/kstapled.conf.
t_sysusers_made_the_user() {
	pw=$(getent passwd kstapled) || fail "no user kstapled (sysusers.d)"
	getent group kstapled >/dev/null || fail "no group kstapled"
	note "$pw"
	uid=$(id -u kstapled)
	[ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] || fail "uid $uid is not a system uid"
	[ "$(id -gn kstapled)" = kstapled ] || fail "primary group is not kstapled"
}

# systemd-tmpfiles-setup ran at boot from /usr/lib/tmpfiles.d/kstapled.conf.
t_tmpfiles_made_the_dirs() {
	for d in "/var/lib/kstapled kstapled:kstapled 750" \
		"/etc/kstapled root:kstapled 750" "$PINS root:kstapled 750"; do
		set -- $d
		got=$(stat -c '%U:%G %a' "$1") || fail "$1 is missing"
		note "$1 $got"
		[ "$got" = "$2 $3" ] || fail "$1 is $got, expected $2 $3"
	done
	[ "$(stat -f -c %T $PINS)" = bpf_fs ] || fail "$PINS is not on bpffs"
}

# The tls module from /usr/lib/modules-load.d/kstapled.conf.
t_modules_load_loaded_tls() {
	[ -d /sys/module/tls ] || fail "tls is not loaded (modules-load.d)"
	[ -f /proc/net/tls_stat ] || fail "no /proc/net/tls_stat"
}

# What the README's next steps do: configuration and certificates in
# /etc/kstapled (keys owned by kstapled, 0600), plus a backend.
t_setup() {
	mkdir -p "$SCRATCH"
	for c in localhost-ecdsa other-ecdsa; do
		install -m 0600 -o kstapled -g kstapled "$T/pki/$c.pem" \
			/etc/kstapled/ || fail "cannot install $c.pem"
		install -m 0640 -o kstapled -g kstapled "$T/pki/ocsp/$c.der" \
			"/etc/kstapled/$c.pem.ocsp" || fail "cannot install $c's staple"
	done
	write_conf one
	systemd-run --quiet --unit=kst-test-backend -p DynamicUser=yes \
		"$T/bin/kst-backend" -l "$BACKEND" -m http ||
		fail "cannot start the backend"
	wait_port 8080
	kstapled -t -c "$CONF" || fail "kstapled -t refuses the configuration"
}

# Type=notify: start returns once READY=1 came; the daemon's STATUS= shows.
t_start_reaches_active() {
	timeout 120 systemctl start kstapled || {
		journalctl -u kstapled --no-pager -n 20
		fail "systemctl start kstapled failed"
	}
	expect_state active
	[ "$(systemctl show -p Type --value kstapled)" = notify ] ||
		fail "not Type=notify"
	[ "$(systemctl show -p SubState --value kstapled)" = running ] ||
		fail "SubState is not running"
	st=$(systemctl show -p StatusText --value kstapled)
	note "StatusText=$st"
	[ -n "$st" ] || fail "no STATUS= from the daemon"
	wait_port $PORT
}

# The sandbox as the running daemon sees it.
t_hardening_in_effect() {
	pid=$(main_pid)
	[ "$pid" -gt 0 ] || fail "no main PID"
	st=/proc/$pid/status
	grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" || fail "NoNewPrivileges is off"
	grep -q '^Seccomp:[[:space:]]*2$' "$st" || fail "no seccomp filter"
	# CAP_CHOWN 0, DAC_READ_SEARCH 2, FOWNER 3, SETGID 6, SETUID 7,
	# NET_BIND_SERVICE 10, NET_ADMIN 12, BPF 39: the unit's bounding set
	allowed=$((0x80000014cd))
	bnd=$((0x$(awk '$1 == "CapBnd:" { print $2 }' "$st")))
	note "CapBnd $(printf '%x' $bnd), CapEff $(awk '$1 == "CapEff:" { print $2 }' "$st")"
	[ $((bnd & ~allowed)) = 0 ] || fail "bounding set wider than the unit's"
	[ "$(readlink /proc/$pid/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] ||
		fail "no mount namespace of its own"
	# ProtectSystem=strict with two read-write paths, PrivateTmp: the
	# options of the mount each path is on, in the daemon's namespace
	for m in "/ ro" "/usr ro" "/etc/kstapled ro" "/var/lib/kstapled rw" \
		"$PINS rw" "/tmp rw"; do
		set -- $m
		opt=$(findmnt -N "$pid" -n -o OPTIONS -T "$1" | tail -n 1)
		case ",$opt," in
		*",$2,"*) ;;
		*) fail "$1 is on a mount with '$opt' in the sandbox, expected $2" ;;
		esac
	done
	mi=/proc/$pid/mountinfo
	tmpsrc=$(awk '$5 == "/tmp" { print $4 }' "$mi" | tail -n 1)
	case $tmpsrc in
	*systemd-private-*) ;;
	*) fail "/tmp is not private ($tmpsrc)" ;;
	esac
	note "$(systemd-analyze security kstapled --no-pager 2>/dev/null | tail -n 1)"
}

# After start-up the daemon runs as the sysusers user, no capability left.
t_privileges_dropped() {
	pid=$(main_pid)
	uid=$(id -u kstapled) gid=$(id -g kstapled)
	st=/proc/$pid/status
	[ "$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "$st")" = \
		"$uid $uid $uid $uid" ] || fail "uids: $(grep '^Uid:' "$st")"
	[ "$(awk '$1 == "Gid:" { print $2, $3, $4, $5 }' "$st")" = \
		"$gid $gid $gid $gid" ] || fail "gids: $(grep '^Gid:' "$st")"
	for c in CapEff CapPrm CapAmb; do
		v=$(awk -v c="$c:" '$1 == c { print $2 }' "$st")
		[ $((0x$v)) = 0 ] || fail "$c is $v"
	done
	# every thread, not only the main one
	for t in /proc/$pid/task/*; do
		[ "$(awk '$1 == "Uid:" { print $2 }' "$t/status")" = "$uid" ] ||
			fail "thread ${t##*/} is not uid $uid"
	done
	journalctl -u kstapled --no-pager -o cat | grep 'running as' | tail -n 1
}

t_handshake_with_staple() {
	handshake $PORT
	grep -q 'OCSP Response Status: successful' "$SCRATCH/s_client.out" ||
		fail "no staple"
	grep -q 'Cert Status: good' "$SCRATCH/s_client.out" ||
		fail "the staple does not say good"
}

# The daemon hands connections to the kernel (tls loaded at boot) from
# inside the sandbox, after the privilege drop.
t_ktls_in_the_sandbox() {
	before=$(awk '$1 == "TlsTxSw" { print $2 }' /proc/net/tls_stat)
	"$CLIENT" -c 127.0.0.1:$PORT --download 256k --timeout 30 ||
		fail "a download through the daemon failed"
	after=$(awk '$1 == "TlsTxSw" { print $2 }' /proc/net/tls_stat)
	note "TlsTxSw $before -> $after"
	[ "$after" -gt "$before" ] || fail "no kTLS TX socket was set up"
}

# The pins belong to the service group; `kstapled status` works for a
# member of it (and not for others), bpftool dumps them as root.
t_maps_readable_by_group() {
	gid=$(getent group kstapled | cut -d: -f3)
	n=0
	for p in "$PINS"/*; do
		[ -e "$p" ] || fail "nothing is pinned in $PINS"
		n=$((n + 1))
		note "$(stat -c '%n %U:%G %a' "$p")"
		[ "$(stat -c %g "$p")" = "$gid" ] || fail "$p is not group kstapled"
		[ $((0$(stat -c %a "$p") & 040)) != 0 ] || fail "$p is not group-readable"
		bpftool map dump pinned "$p" >"$SCRATCH/dump" 2>&1 ||
			fail "bpftool map dump pinned $p: $(head -n 3 "$SCRATCH/dump")"
	done
	note "$n pins, each dumped by bpftool"
	as_member="setpriv --reuid=nobody --regid=nogroup --groups=$gid"
	as_other="setpriv --reuid=nobody --regid=nogroup --clear-groups"
	# 6.1 lets anyone open a pin the file modes allow (since 5.19,
	# kernel.unprivileged_bpf_disabled only stops map and program creation)
	note "kernel.unprivileged_bpf_disabled=$(cat /proc/sys/kernel/unprivileged_bpf_disabled)"
	$as_member kstapled status --pin-dir "$PINS" >"$SCRATCH/st" 2>&1 ||
		fail "status as a member of kstapled: exit $?:
$(head -n 5 "$SCRATCH/st")"
	grep -q localhost "$SCRATCH/st" || fail "status does not list localhost:
$(head -n 10 "$SCRATCH/st")"
	$as_other kstapled status --pin-dir "$PINS" >"$SCRATCH/st-other" 2>&1 &&
		fail "status worked for a user outside the group"
	note "status as a member: $(sed -n 1p "$SCRATCH/st")"
}

# A good configuration: systemctl reload runs -t, then SIGHUP; the same
# process serves the new certificate.
t_reload_good() {
	write_conf one
	systemctl is-active -q kstapled || fail "kstapled is not running"
	pid=$(main_pid)
	write_conf two
	save_cursor "$SCRATCH/cur"
	timeout 60 systemctl reload kstapled || fail "systemctl reload failed"
	expect_state active
	[ "$(main_pid)" = "$pid" ] || fail "the main PID changed"
	# the daemon brackets the reload with RELOADING=1 and READY=1: wait
	# for its log line (bounded) before asserting what it serves
	wait_until 20 "no 'reloaded' line after 20 s" \
		logged_since "$SCRATCH/cur" 'reloaded: generation'
	handshake $PORT other.test
	grep -q 'CN *= *other.test' "$SCRATCH/s_client.out" ||
		fail "other.test is not served after the reload"
	handshake $PORT localhost
}

# A bad configuration: ExecReload's `kstapled -t` fails, systemctl reload
# says so, and the daemon keeps serving the old one.
t_reload_bad_keeps_serving() {
	ensure_serving
	write_conf bad
	save_cursor "$SCRATCH/cur"
	timeout 60 systemctl reload kstapled
	rc=$?
	write_conf two
	[ "$rc" != 0 ] || fail "systemctl reload succeeded"
	expect_state active
	handshake $PORT other.test
	grep -q 'CN *= *other.test' "$SCRATCH/s_client.out" ||
		fail "the old configuration is no longer served"
	logged_since "$SCRATCH/cur" "$CONF:[0-9]*:.*certs-typo" ||
		fail "no FILE:LINE error in the journal"
}

# The same bad file, sent past the check (SIGHUP alone): the daemon itself
# refuses it, logs why at err, and keeps serving.
t_sighup_bad_keeps_serving() {
	ensure_serving
	write_conf bad
	save_cursor "$SCRATCH/cur"
	systemctl kill -s HUP --kill-who=main kstapled
	rc=$?
	wait_until 20 "no 'reload failed' line after 20 s" \
		logged_since "$SCRATCH/cur" 'reload failed'
	write_conf two
	[ "$rc" = 0 ] || fail "systemctl kill -s HUP failed"
	expect_state active
	handshake $PORT other.test
}

# systemctl stop: SIGTERM while a download is in flight (32 MiB, read by
# a reader that starts only 8 s later: the backend still has bytes to
# send when stop is issued); it completes within drain-timeout (40 s:
# under TCG the transfer takes 10 to 20 s), the daemon exits 0, and stop
# returns once it is gone.
t_stop_drains() {
	ensure_serving
	n=33554432
	rm -f "$SCRATCH/drain.count"
	printf 'GET /bytes/%s HTTP/1.0\r\nHost: localhost\r\n\r\n' $n |
		timeout 120 openssl s_client -quiet -connect 127.0.0.1:$PORT \
			-servername localhost -CAfile "$T/pki/root.crt" \
			-verify_return_error 2>"$SCRATCH/drain.err" |
		(sleep 8 && wc -c >"$SCRATCH/drain.count") &
	cpid=$!
	wait_until 20 "the client did not connect in 20 s" connected $PORT
	# the backend's socket to the daemon: bytes not yet taken (Send-Q)
	wait_until 10 "the backend's Send-Q stayed empty" backend_queued
	[ -e "$SCRATCH/drain.count" ] && fail "the reader started too early"
	note "backend Send-Q at stop: $(backend_queued && echo "$bq")"
	save_cursor "$SCRATCH/cur"
	timeout 60 systemctl stop kstapled || fail "systemctl stop failed"
	wait $cpid
	got=$(cat "$SCRATCH/drain.count" 2>/dev/null || echo 0)
	note "received $got bytes (body $n)"
	[ "$got" -ge $n ] && [ "$got" -lt $((n + 1024)) ] ||
		fail "the download in flight did not complete: $got bytes;
$(tail -n 3 "$SCRATCH/drain.err")"
	expect_state inactive
	[ "$(systemctl show -p Result --value kstapled)" = success ] ||
		fail "Result=$(systemctl show -p Result --value kstapled)"
	[ "$(systemctl show -p ExecMainStatus --value kstapled)" = 0 ] ||
		fail "exit status $(systemctl show -p ExecMainStatus --value kstapled)"
	logged_since "$SCRATCH/cur" stopping || fail "no 'stopping' line"
}

# kstapled.socket holds [::]:443 ("web"); the first client starts the
# service, which takes the socket and serves it; a restart keeps it.
t_socket_activation() {
	timeout 60 systemctl stop kstapled
	systemctl reset-failed kstapled 2>/dev/null
	write_conf socket
	timeout 60 systemctl start kstapled.socket || fail "cannot start kstapled.socket"
	expect_state inactive
	wait_port 443
	handshake 443
	expect_state active
	systemctl show -p TriggeredBy --value kstapled | grep -q kstapled.socket ||
		fail "kstapled was not triggered by kstapled.socket"
	journalctl -u kstapled --no-pager -o cat | grep -q 'listening sockets passed' ||
		fail "the daemon did not take the passed socket"
	journalctl -u kstapled --no-pager -o cat | grep 'matches no bind line' &&
		fail "the passed socket was not matched"
	pid=$(main_pid)
	timeout 120 systemctl restart kstapled || fail "restart failed"
	[ "$(main_pid)" != "$pid" ] || fail "not restarted"
	handshake 443
	grep -q 'OCSP Response Status: successful' "$SCRATCH/s_client.out" ||
		fail "no staple through the socket"
	timeout 60 systemctl stop kstapled.socket kstapled || fail "stop failed"
	expect_state inactive
	write_conf two
}

# journald got the daemon's levels as priorities (the <N> prefixes were
# parsed, not shown), including the err of the refused SIGHUP.
t_journal_priorities() {
	journalctl -u kstapled -o json --no-pager >"$SCRATCH/j.json"
	grep -q '"SYSLOG_IDENTIFIER":"kstapled"' "$SCRATCH/j.json" ||
		fail "no entry from kstapled"
	for pm in '5:running as' '3:reload failed'; do
		grep -F "\"PRIORITY\":\"${pm%%:*}\"" "$SCRATCH/j.json" |
			grep -qF "${pm#*:}" || fail "no '${pm#*:}' at priority ${pm%%:*}"
	done
	grep -F '"SYSLOG_IDENTIFIER":"kstapled"' "$SCRATCH/j.json" |
		grep -q '"MESSAGE":"<[0-7]>' && fail "a <N> prefix reached the journal"
	journalctl -u kstapled -p err --no-pager -o cat | grep -q 'reload failed' ||
		fail "journalctl -p err does not show the refused reload"
	note "$(grep -o '"PRIORITY":"[0-7]"' "$SCRATCH/j.json" | sort | uniq -c | tr -s ' \n' ' ')"
}

# Over a minute under WatchdogSec=30s: no watchdog kill, no restart.
t_no_watchdog_restart() {
	n=$(systemctl show -p NRestarts --value kstapled)
	[ "$n" = 0 ] || fail "NRestarts=$n"
	journalctl -u kstapled --no-pager -o cat | grep -i 'watchdog timeout' &&
		fail "the watchdog fired"
	return 0
}

# ---------------------------------------------------------------- main

TESTS="sysusers_made_the_user tmpfiles_made_the_dirs modules_load_loaded_tls
setup start_reaches_active hardening_in_effect privileges_dropped
handshake_with_staple ktls_in_the_sandbox maps_readable_by_group reload_good
reload_bad_keeps_serving sighup_bad_keeps_serving stop_drains
socket_activation journal_priorities no_watchdog_restart"

if [ $# -gt 0 ]; then
	"t_$1"
	exit $?
fi

# shellcheck source=/dev/null
. "$T/lib.sh"
mkdir -p "$SCRATCH"
kst_vm_note "kernel $(uname -r), $(systemctl --version | head -n 1)," \
	"tests start $(cut -d' ' -f1 /proc/uptime) s after boot"
for t in $TESTS; do
	kst_vm_test "$t" -t 150 "$0" "$t"
done
kst_vm_summary
rc=$?
if [ "$rc" != 0 ]; then
	echo "--- journalctl -u kstapled (last 80 lines)"
	journalctl -u kstapled --no-pager -n 80
fi
case $rc in
0) word=PASS ;;
77) word=SKIP ;;
*) word=FAIL ;;
esac
echo "KST-SD-RESULT: $word exit=$rc"
exit 0
