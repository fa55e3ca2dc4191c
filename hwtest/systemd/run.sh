#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# kstapled under a real systemd: boots a Debian 12 root with systemd 252 as
# PID 1 on bookworm's 6.1 kernel in QEMU, with kstapled installed by
# `make install PREFIX=/usr DESTDIR=ROOT`, and runs hwtest/systemd/guest.sh
# there as a systemd unit (kst-systemd-test.service): start with
# Type=notify, the unit's sandbox, the privilege drop to the sysusers user,
# the tmpfiles directories, reloads good and bad, socket activation, the
# pinned maps for the service group, stop draining a transfer, priorities
# in the journal.
#
#   KST_BUILD=DIR hwtest/systemd/run.sh
#
# DIR is a build of this tree (kstapled, tools/kst-backend, tools/
# kst-client, pki/, man/: what `make systemd-vm-check BUILD=DIR` builds
# first).
#
# Pieces, all cached, none made here twice:
#   - the kernel: hwtest/vm.sh --prepare (hwtest/kernel.sh), with virtio_pci,
#     virtio_blk and ext4 added to its module subset (Debian builds them as
#     modules);
#   - the root: hwtest/systemd/root.sh (debootstrap, cached by package list);
#   - the initramfs: hwtest/initramfs.sh's busybox image plus
#     hwtest/systemd/init (rdinit=), which mounts the root and switch_roots
#     to systemd.
# Per run, in a directory under ${TMPDIR:-/var/tmp} (not under DIR: the
# Makefile includes every *.d file there): a copy of the root with the
# project installed,
# the test files in /opt/kst-test and the kernel's modules, made into an ext4
# image (mke2fs -d: no loop mount, no root privileges for the image itself)
# that the guest boots read-write (all thrown away afterwards). In
# DIR/systemd-vm/: the console in console.log, the tests' output (second
# serial port) in results.log, printed here as it arrives.
#
# Bounds: the guest gets KST_SD_TIMEOUT seconds (default 300) from QEMU's
# start to its power-off; the test unit times out at 270 s in the guest and
# each test at 150 s.
# Exit: 0 pass, 1 fail (or no verdict), 77 skip with the reason on stderr
# (no QEMU, no mke2fs, no kernel, no root: see root.sh); KST_TEST_STRICT=1
# makes a skip a failure. Environment: KST_CACHE, KST_VM_ACCEL (kvm|tcg, as
# for vm.sh), KST_VM_APPEND (more kernel command line), KST_SD_KEEP=1 (keep
# the image and the staged root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
timeout=${KST_SD_TIMEOUT:-300}
build='' work='' stage='' qemu_pid='' follow_pid=''

say() { echo "systemd-vm: $*" >&2; }

skip() {
	say "SKIPPED: $*"
	[ "${KST_TEST_STRICT:-0}" = 1 ] && exit 1
	exit 77
}

die() {
	say "$*"
	exit 1
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid"
	[ -n "$follow_pid" ] && kill "$follow_pid" 2>/dev/null
	if [ -n "$stage" ] && [ "${KST_SD_KEEP:-0}" != 1 ]; then
		rm -rf "$stage"
	fi
	return 0
}

# Sets kver, vmlinux, modroot: bookworm's kernel with what mounting the
# root image needs.
find_kernel() {
	local line err=$work/prepare.err rc=0
	line=$(KST_TEST_STRICT='' \
		KST_VM_MODULES="${KST_VM_MODULES:-} virtio_pci virtio_blk ext4" \
		"$src/hwtest/vm.sh" --suite bookworm --prepare 2>"$err") || rc=$?
	[ "$rc" = 77 ] && skip "$(sed 's/^vm.sh: SKIP: //' "$err" | head -n 1)"
	[ "$rc" = 0 ] || die "vm.sh --prepare failed: $(tail -n 3 "$err")"
	read -r kver vmlinux modroot <<<"$line"
}

# The root copy with the project, the tests and the kernel's modules.
stage_root() {
	local base=$1 r=$stage/root t
	rm -rf "$r"
	cp -a "$base" "$r"
	rm -f "$r/.complete"
	"${MAKE:-make}" -C "$src" --no-print-directory -s BUILD="$build" \
		PREFIX=/usr DESTDIR="$r" install >/dev/null ||
		die "make install DESTDIR=$r failed"
	t=$r/opt/kst-test
	install -d "$t/bin" "$t/pki/ocsp"
	install -m 0755 "$here/guest.sh" "$t/guest.sh"
	install -m 0644 "$src/hwtest/guest/lib.sh" "$t/lib.sh"
	install -m 0755 "$build/tools/kst-backend" "$build/tools/kst-client" "$t/bin/"
	install -m 0644 "$build/pki/root.crt" "$t/pki/"
	for c in localhost-ecdsa other-ecdsa; do
		install -m 0600 "$build/pki/$c.pem" "$t/pki/"
		install -m 0644 "$build/pki/ocsp/$c.der" "$t/pki/ocsp/"
	done
	echo "KST_TEST_STRICT=${KST_TEST_STRICT:-}" >"$t/env"
	install -m 0644 "$here/kst-systemd-test.service" "$r/etc/systemd/system/"
	mkdir -p "$r/etc/systemd/system/multi-user.target.wants"
	ln -sf ../kst-systemd-test.service \
		"$r/etc/systemd/system/multi-user.target.wants/"
	# nobody logs in: no getty on the console
	ln -sf /dev/null "$r/etc/systemd/system/getty.target"
	echo kst-systemd >"$r/etc/hostname"
	printf '127.0.0.1\tlocalhost kst-systemd\n::1\tlocalhost ip6-localhost\n' \
		>"$r/etc/hosts"
	# the initramfs mounts the root read-write; nothing else to mount
	echo '# root: /dev/vda, mounted by the initramfs' >"$r/etc/fstab"
	mkdir -p "$r/usr/lib/modules"
	cp -a "$modroot/lib/modules/$kver" "$r/usr/lib/modules/"
	depmod -b "$r" "$kver" || die "depmod failed in the root"
	if chroot "$r" ldd /usr/sbin/kstapled "/opt/kst-test/bin/kst-client" |
		grep 'not found'; then
		die "the root lacks libraries kstapled needs (root.sh PKGS)"
	fi
}

make_image() {
	local mb
	mb=$(($(du -sm "$stage/root" | cut -f1) + 256))
	mke2fs -q -F -t ext4 -L kstroot -d "$stage/root" "$stage/root.img" "${mb}M" ||
		die "mke2fs -d failed"
}

# hwtest/initramfs.sh's image (busybox, modules; cached by its inputs) plus
# a second cpio archive with this harness's init.
make_initrd() {
	local base=$work/initramfs.img ov=$stage/ov
	"$src/hwtest/initramfs.sh" -o "$base" -k "$kver" -m "$modroot" >/dev/null
	rm -rf "$ov"
	mkdir -p "$ov/kst-systemd"
	install -m 0755 "$here/init" "$ov/kst-systemd/init"
	(cd "$ov" && find . | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$ov.cpio.gz"
	cat "$base" "$ov.cpio.gz" >"$stage/initrd.img"
}

# As hwtest/vm.sh: KVM only where it boots a stock kernel.
accel() {
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

# Prints the results as they come (not awk: mawk holds a pipe back).
follow() {
	local line
	tail -n +1 -s 0.2 -F --pid="$qemu_pid" "$work/results.log" 2>/dev/null |
		while IFS= read -r line; do
			printf '%s\n' "${line%$'\r'}"
		done
}

run_qemu() {
	local -a q
	local append rc=0
	read -ra q <<<"$(accel)"
	append="console=ttyS0 rdinit=/kst-systemd/init panic=-1 quiet loglevel=3"
	append+=" systemd.show_status=error net.ifnames=0 ${KST_VM_APPEND:-}"
	q+=(-smp 2 -M pc -m 1024 -nodefaults -no-user-config -no-reboot
		-display none -vga none -nic none
		-kernel "$vmlinux" -initrd "$stage/initrd.img" -append "$append"
		-drive "file=$stage/root.img,if=virtio,format=raw,cache=unsafe"
		-chardev "file,id=con,path=$work/console.log" -serial chardev:con
		-chardev "file,id=res,path=$work/results.log" -serial chardev:res
		-monitor none)
	[ -f /usr/share/qemu/qboot.rom ] && q+=(-bios /usr/share/qemu/qboot.rom)
	: >"$work/console.log"
	: >"$work/results.log"
	timeout -k 5 "$timeout" qemu-system-x86_64 "${q[@]}" </dev/null \
		2>"$work/qemu.err" &
	qemu_pid=$!
	follow &
	follow_pid=$!
	wait "$qemu_pid" || rc=$?
	qemu_pid=''
	wait "$follow_pid" || true
	follow_pid=''
	[ "$rc" = 124 ] && say "QEMU killed after ${timeout}s"
	[ "$rc" = 0 ] || [ "$rc" = 124 ] ||
		say "QEMU exited with $rc: $(tail -n 3 "$work/qemu.err")"
	return 0
}

# The verdict: the guest's last KST-SD-RESULT line (results or console).
verdict() {
	local line
	line=$(cat "$work/results.log" "$work/console.log" | tr -d '\r' |
		grep -a '^KST-SD-RESULT:' | tail -n 1 || true)
	if [[ $line =~ exit=([0-9]+) ]]; then
		[ "${BASH_REMATCH[1]}" = 0 ] || echo "$line" >&2
		echo "${BASH_REMATCH[1]}"
		return
	fi
	{
		say "no verdict from the guest; console log: $work/console.log"
		tr -d '\r' <"$work/console.log" | tail -n 25 | sed 's/^/  | /'
	} >&2
	echo 1
}

main() {
	local t0 base rc secs word
	build=${KST_BUILD:?KST_BUILD: a build directory of this tree}
	build=$(cd "$build" && pwd)
	[ "$(id -u)" = 0 ] || skip "needs root (the root copy keeps its owners)"
	command -v qemu-system-x86_64 >/dev/null ||
		skip "qemu-system-x86_64 is not installed (package qemu-system-x86)"
	command -v mke2fs >/dev/null || skip "mke2fs is not installed (e2fsprogs)"
	work=$build/systemd-vm
	mkdir -p "$work"
	exec 8>"$work/.lock"
	flock 8
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	# not under BUILD: the Makefile includes every *.d file there
	stage=$(mktemp -d "${TMPDIR:-/var/tmp}/kst-systemd-vm.XXXXXX")
	t0=$(date +%s%N)
	find_kernel
	rc=0
	base=$("$here/root.sh") || rc=$?
	[ "$rc" = 77 ] && skip "no Debian root with systemd (see root.sh above)"
	[ "$rc" = 0 ] || die "root.sh failed"
	say "booting $kver with systemd (console: $work/console.log," \
		"results: $work/results.log)"
	stage_root "$base"
	make_image
	make_initrd
	say "image ready in $((($(date +%s%N) - t0) / 1000000000))s"
	run_qemu
	rc=$(verdict)
	secs=$((($(date +%s%N) - t0) / 100000000))
	case $rc in
	0) word=PASS ;;
	77) word=SKIP ;;
	*) word=FAIL ;;
	esac
	say "$word on $kver in $((secs / 10)).$((secs % 10))s"
	if [ "$rc" = 77 ] && [ "${KST_TEST_STRICT:-0}" = 1 ]; then
		exit 1
	fi
	exit "$rc"
}

main "$@"
