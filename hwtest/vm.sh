#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Runs one command in a QEMU guest booted from Debian's kernel, where kTLS
# is real (this host's kernel has none), and returns its verdict:
#
#   hwtest/vm.sh [OPTIONS] -- CMD [ARGS...]
#   hwtest/vm.sh [--suite SUITE] --prepare
#
#   --notls          boot with tls.ko made unavailable (userspace fallback)
#   --suite SUITE    boot the kernel of Debian SUITE: bookworm (default),
#                    trixie or sid (sets KST_VM_SUITE for kernel.sh)
#   --timeout SECS   bound for CMD in the guest (default 300, 3600 with
#                    --interactive); QEMU itself is killed SECS+60 s after
#                    it starts
#   --carry PATH     program (name in PATH, or path), file or directory to
#                    put in the guest at the same path, with the libraries
#                    its programs need (repeatable)
#   --env K=V        set in CMD's environment (repeatable)
#   --name NAME      name on the marker lines (default: CMD's basename)
#   --log FILE       console log (default WORKDIR/console.log)
#   --workdir DIR    initramfs images and logs (default $KST_VM_WORKDIR, else
#                    $KST_BUILD/hwtest, else /tmp/kst-hwtest-UID)
#   --mem MB         guest memory (default: 1024, more for big images)
#   --interactive    console on this terminal, CMD gets stdin (e.g.
#                    -- busybox sh, or --carry bash -- bash); Ctrl-A x
#                    quits QEMU
#   --quiet          print only the verdict, not the guest's output
#   --prepare        fetch the kernel and check QEMU; run nothing, print
#                    the kernel as KST_VM_KERNEL takes it
#
# CMD runs as root in the guest with cwd = this repository's path; a CMD
# given as a path is carried automatically. The guest always has busybox,
# dash as sh, coreutils' timeout and env, hwtest/guest/, and (when the host
# has them) openssl, ss, ip, ethtool and bpftool; /etc/ktls/openssl-ktls.cnf (exported as KST_VM_KTLS_CONF) turns
# kTLS on in the openssl CLI; KST_VM=1 is set. KST_TEST_STRICT is passed on
# when set.
#
# Exit status: CMD's own (0 pass, 77 skip, 124 timed out, other: fail);
# 1 when the guest gives no verdict (crash, QEMU killed: the console log
# says what happened); 77 with the reason on stderr when the VM cannot run
# here (no QEMU, no kernel). KST_TEST_STRICT=1 turns every skip into 1.
#
# Environment: KST_CACHE (kernel cache, see kernel.sh), KST_VM_SUITE,
# KST_VM_KERNEL
# ("KVER VMLINUX MODROOT", as kernel.sh prints: skips the apt lookup),
# KST_VM_ACCEL (kvm or tcg; default kvm only with kvm_intel/kvm_amd loaded),
# KST_VM_APPEND (more kernel command line), KST_VM_COMPRESS, KST_VM_MODULES
# (see initramfs.sh, kernel.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

notls=0 timeout='' name='' log='' mem='' interactive=0 quiet=0 prepare=0
workdir=${KST_VM_WORKDIR:-}
carries=()
envs=()
cmd=()
# Files of this run, removed on exit; QEMU and the log follower by PID.
tmpfiles=()
qemu_pid='' follow_pid=''

usage() {
	sed -n '/^#   hwtest/,/^# CMD runs/{/^# CMD runs/d;s/^# \{0,1\}//;p}' \
		"${BASH_SOURCE[0]}" >&2
	exit 2
}

skip() {
	echo "vm.sh: SKIP: $*" >&2
	[ "${KST_TEST_STRICT:-0}" = 1 ] && exit 1
	exit 77
}

die() {
	echo "vm.sh: $*" >&2
	exit 1
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid"
	[ -n "$follow_pid" ] && kill "$follow_pid" 2>/dev/null
	[ ${#tmpfiles[@]} -gt 0 ] && rm -rf "${tmpfiles[@]}"
	return 0
}

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--notls) notls=1 ;;
		--suite) export KST_VM_SUITE=${2:?}; shift ;;
		--timeout) timeout=${2:?}; shift ;;
		--carry) carries+=("${2:?}"); shift ;;
		--env) envs+=("${2:?}"); shift ;;
		--name) name=${2:?}; shift ;;
		--log) log=${2:?}; shift ;;
		--workdir) workdir=${2:?}; shift ;;
		--mem) mem=${2:?}; shift ;;
		--interactive) interactive=1 ;;
		--quiet) quiet=1 ;;
		--prepare) prepare=1 ;;
		--) shift; cmd=("$@"); break ;;
		*) usage ;;
		esac
		shift
	done
	# A shell on the console gets an hour.
	[ "$interactive" = 1 ] && timeout=${timeout:-3600}
	timeout=${timeout:-300}
	[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "--timeout wants seconds"
	[ -z "$mem" ] || [[ $mem =~ ^[1-9][0-9]*$ ]] || die "--mem wants MiB"
	[ "$prepare" = 1 ] || [ ${#cmd[@]} -gt 0 ] || usage
	local e
	for e in "${envs[@]}"; do
		[[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants K=V: $e"
	done
	return 0
}

# Sets kver, vmlinux, modroot.
find_kernel() {
	local line err rc=0
	if [ -n "${KST_VM_KERNEL:-}" ]; then
		line=$KST_VM_KERNEL
	else
		err=$(mktemp)
		tmpfiles+=("$err")
		line=$("$here/kernel.sh" 2>"$err") || rc=$?
		if [ "$rc" = 77 ]; then
			skip "kernel unobtainable: $(sed 's/^kernel.sh: //' "$err")"
		fi
		cat "$err" >&2
		[ "$rc" = 0 ] || die "kernel.sh failed"
	fi
	read -r kver vmlinux modroot <<<"$line"
	if [ ! -f "$vmlinux" ] || [ ! -d "$modroot" ]; then
		die "bad kernel: $line"
	fi
}

# Single-quoted for sh.
shquote() {
	printf "'%s'" "${1//\'/\'\\\'\'}"
}

# The per-run part of the initramfs: the command, its environment and cwd.
# It is appended to the cached image as a second cpio archive (the kernel
# unpacks them in turn), so a new command does not rebuild the image.
make_overlay() {
	local dir=$1 e a
	mkdir -p "$dir/kst" "$dir$repo"
	{
		echo "cd $(shquote "$repo") || exit 1"
		echo "export KST_VM=1 KST_VM_KTLS_CONF=/etc/ktls/openssl-ktls.cnf"
		[ -n "${KST_TEST_STRICT:-}" ] &&
			echo "export KST_TEST_STRICT=$(shquote "$KST_TEST_STRICT")"
		for e in "${envs[@]}"; do
			echo "export ${e%%=*}=$(shquote "${e#*=}")"
		done
		printf 'exec'
		for a in "${cmd[@]}"; do
			printf ' %s' "$(shquote "$a")"
		done
		echo
	} >"$dir/kst/run.sh"
	echo "${name:-$(basename "${cmd[0]}")}" >"$dir/kst/name"
	(cd "$dir" && find . | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$dir.cpio.gz"
}

build_image() {
	local base=$workdir/initramfs.img item c
	local -a items=("$here/guest")
	for c in openssl ss ip ethtool bpftool; do
		command -v "$c" >/dev/null && items+=("$c")
	done
	if [[ ${cmd[0]} == */* ]] && [ -e "${cmd[0]}" ]; then
		items+=("${cmd[0]}")
	fi
	for item in "${carries[@]}"; do
		items+=("$item")
	done
	exec 8>"$workdir/.lock"
	flock 8
	"$here/initramfs.sh" -o "$base" -k "$kver" -m "$modroot" "${items[@]}" \
		>/dev/null
	image=$(mktemp "$workdir/run.XXXXXX")
	tmpfiles+=("$image" "$image.ov" "$image.ov.cpio.gz")
	make_overlay "$image.ov"
	cat "$base" "$image.ov.cpio.gz" >"$image"
	flock -u 8
}

# KVM only where it can boot a stock kernel: /dev/kvm here may be a PVM
# that needs PVM-aware guests (it spins forever on Debian's kernel).
pick_accel() {
	case ${KST_VM_ACCEL:-} in
	kvm) echo "-accel kvm -cpu host" ;;
	tcg) echo "-accel tcg,thread=multi -cpu max" ;;
	*)
		if { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; } &&
			[ -w /dev/kvm ]; then
			echo "-accel kvm -cpu host"
		else
			echo "-accel tcg,thread=multi -cpu max"
		fi
		;;
	esac
}

qemu_args() {
	local append size_mb
	append="console=ttyS0 panic=-1 quiet loglevel=3 kst.timeout=$timeout"
	append+=" kst.epoch=$(date +%s) ${KST_VM_APPEND:-}"
	[ "$notls" = 1 ] && append+=" kst.notls"
	[ "$interactive" = 1 ] && append+=" kst.shell"
	size_mb=$(($(stat -c %s "$image") >> 20))
	# The image is unpacked into RAM (about 3x its gzip size) while the
	# compressed copy is still held: leave the tests their 1 GiB.
	[ -n "$mem" ] || mem=$((1024 + (size_mb > 32 ? 4 * size_mb : 0)))
	read -ra qargs <<<"$(pick_accel)"
	qargs+=(-smp 2 -M pc -m "$mem" -nodefaults -no-user-config
		-no-reboot -display none -vga none -nic none
		-kernel "$vmlinux" -initrd "$image" -append "$append")
	if [ -f /usr/share/qemu/qboot.rom ]; then
		qargs+=(-bios /usr/share/qemu/qboot.rom)
	fi
	if [ "$interactive" = 1 ]; then
		qargs+=(-chardev "stdio,id=con,mux=on,signal=off,logfile=$log"
			-serial chardev:con -mon chardev=con)
	else
		qargs+=(-chardev "file,id=con,path=$log" -serial chardev:con
			-monitor none)
	fi
}

# Prints the guest's part of the console as it comes: from /init's first
# marker on, kernel boot chatter stays in the log. (Not awk: Debian's mawk
# reads a pipe in blocks, which held the output back until the end.)
follow() {
	local on=0 line
	tail -n +1 -s 0.2 -F --pid="$qemu_pid" "$log" 2>/dev/null |
		while IFS= read -r line; do
			line=${line%$'\r'}
			[[ $line == KST-VM-BOOT:* ]] && on=1
			[ "$on" = 1 ] && printf '%s\n' "$line"
			[[ $line == KST-VM-RESULT:* ]] && on=0
		done
}

run_qemu() {
	local rc=0
	: >"$log"
	if [ "$interactive" = 1 ]; then
		timeout --foreground -k 5 $((timeout + 60)) \
			qemu-system-x86_64 "${qargs[@]}" || true
		return 0
	fi
	timeout -k 5 $((timeout + 60)) qemu-system-x86_64 "${qargs[@]}" \
		</dev/null 2>"$log.qemu" &
	qemu_pid=$!
	if [ "$quiet" = 0 ]; then
		follow &
		follow_pid=$!
	fi
	wait "$qemu_pid" || rc=$?
	qemu_pid=''
	if [ -n "$follow_pid" ]; then
		wait "$follow_pid" || true
		follow_pid=''
	fi
	if [ "$rc" = 124 ]; then
		echo "vm.sh: QEMU killed after $((timeout + 60))s" >&2
	elif [ "$rc" != 0 ]; then
		echo "vm.sh: QEMU exited with $rc:" >&2
		tail -n 5 "$log.qemu" >&2
	fi
	return 0
}

# The guest's verdict from the console log.
verdict() {
	local line
	line=$(tr -d '\r' <"$log" | grep -a '^KST-VM-RESULT:' | tail -n 1 || true)
	if [[ $line =~ exit=([0-9]+) ]]; then
		echo "${BASH_REMATCH[1]}"
		return
	fi
	{
		echo "vm.sh: no verdict from the guest; console log: $log"
		tr -d '\r' <"$log" | tail -n 20 | sed 's/^/  | /'
	} >&2
	echo 1
}

main() {
	local t0 rc secs word
	parse_args "$@"
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	command -v qemu-system-x86_64 >/dev/null ||
		skip "qemu-system-x86_64 is not installed (package qemu-system-x86)"
	find_kernel
	if [ "$prepare" = 1 ]; then
		echo "$kver $vmlinux $modroot"
		exit 0
	fi
	workdir=${workdir:-${KST_BUILD:+$KST_BUILD/hwtest}}
	workdir=${workdir:-/tmp/kst-hwtest-$(id -u)}
	mkdir -p "$workdir"
	workdir=$(cd "$workdir" && pwd)
	log=${log:-$workdir/console.log}
	t0=$(date +%s%N)
	build_image
	qemu_args
	run_qemu
	rc=$(verdict)
	secs=$((($(date +%s%N) - t0) / 1000000))
	secs=$((secs / 1000)).$((secs % 1000 / 100))
	case $rc in
	0) word=PASS ;;
	77) word=SKIP ;;
	*) word=FAIL ;;
	esac
	echo "vm.sh: $word on $kver in ${secs}s (console log: $log)" >&2
	if [ "$rc" = 77 ] && [ "${KST_TEST_STRICT:-0}" = 1 ]; then
		exit 1
	fi
	exit "$rc"
}

main "$@"
