#!/bin/sh
# SPDX-License-Identifier: MIT
#
# openssl s_client sending KeyUpdates mid-transfer through a TLS echo
# (kstapled in front of kst-backend's echo), checked byte for byte:
#
#   sclient-keyupdate.sh HOST:PORT SUITE "k K k ..."
#
# s_client reads its commands from stdin when it does not ignore EOF
# (-quiet -no_ign_eof): a read that starts with `k` is a KeyUpdate,
# `K` one with update_requested. Hex chunks (which never start with a
# command letter) go out between the commands, through a FIFO on
# s_client's stdin; before each command the feeder waits (bounded, and no
# longer than s_client lives) until the echo of everything sent so far is
# back, so that the command is a read of its own, then sends the next
# chunk. At the end it closes the FIFO: s_client says DONE and ends with
# close_notify. Exit 0 when the echo equals what was sent and s_client
# printed one KEYUPDATE per command; 1 otherwise (a server that closes
# early: the echo stops short, and the line says how much came back).
set -u
trap '' PIPE # a write to a gone s_client fails instead of killing us
addr=$1 suite=$2 cmds=$3
dir=$(mktemp -d /tmp/kst-sclient.XXXXXX)
trap 'rm -rf "$dir"' EXIT
chunk=16384 # random bytes per chunk: 32 KiB + 1 of hex
n=0

# Waits up to 60 s until the echo holds $1 bytes; fails at once when
# s_client is gone (the server closed).
wait_echo() {
	w=0
	while [ $w -lt 600 ]; do
		[ "$(wc -c <"$dir/out")" -ge "$1" ] && return 0
		kill -0 "$spid" 2>/dev/null || return 1
		sleep 0.1
		w=$((w + 1))
	done
	echo "sclient: the echo stopped at $(wc -c <"$dir/out") of $1" >&2
	return 1
}

for c in $cmds x; do
	n=$((n + 1))
	openssl rand -hex $chunk >"$dir/in.$n" || exit 1
	cat "$dir/in.$n" >>"$dir/want"
done
: >"$dir/out"
mkfifo "$dir/fifo" || exit 1
# ECDSA: the certificate whose counters the tests read (without it,
# OpenSSL 3.5 s_client can end up on the RSA one)
openssl s_client -connect "$addr" -tls1_3 -ciphersuites "$suite" \
	-sigalgs ECDSA+SHA256 -quiet -no_ign_eof <"$dir/fifo" >"$dir/out" \
	2>"$dir/err" &
spid=$!
trap 'kill "$spid" 2>/dev/null; rm -rf "$dir"' EXIT
exec 3>"$dir/fifo"
sent=0
i=0
for c in $cmds x; do
	i=$((i + 1))
	cat "$dir/in.$i" >&3 2>/dev/null || break
	sent=$((sent + $(wc -c <"$dir/in.$i")))
	wait_echo $sent || break
	[ "$c" = x ] && break
	printf '%s\n' "$c" >&3 2>/dev/null || break
	sleep 0.3 # the command alone in one read
done
exec 3>&- # EOF: s_client says DONE and sends close_notify
wait "$spid"
rc=$?
updates=$(grep -c '^KEYUPDATE' "$dir/err")
want=$(echo $cmds | wc -w)
echo "sclient: $suite: exit $rc, $(wc -c <"$dir/out") of" \
	"$(wc -c <"$dir/want") bytes back, $updates KeyUpdates of $want"
if [ $rc != 0 ] || [ "$updates" != "$want" ] ||
	! cmp -s "$dir/want" "$dir/out"; then
	sed 's/^/  s_client: /' "$dir/err" | head -n 20
	cmp "$dir/want" "$dir/out" | head -n 2
	exit 1
fi
exit 0
