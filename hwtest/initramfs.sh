#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Builds the guest's initramfs (cpio newc, gzip): busybox-static and its
# applets, hwtest/guest/init as /init, the kernel modules kTLS tests need
# (depmod'ed here: Debian's package ships no modules.dep), a minimal /etc,
# and whatever the caller carries, each at the same absolute path as on the
# host so tests find them through the same variables (KST_TEST_PKI, ...).
#
# Debian's busybox-static prefers its own applets to PATH wherever it runs
# a command (its sh, timeout, env, xargs...), so a carried iproute2 `ip`
# would lose to busybox's inside any busybox shell. The guest's sh is
# therefore the host's dash, and coreutils' timeout and env are carried:
# busybox only provides the commands nobody carries.
#
#   hwtest/initramfs.sh -o OUT -k KVER -m MODROOT [CARRY...]
#
# CARRY is a program name looked up in PATH, a file or a directory (copied
# whole). Every ELF program or library carried brings each library ldd names
# and the dynamic loader. A carried program shadows the busybox applet of
# the same name (iproute2's ip over busybox's). OUT is rebuilt only when its
# inputs changed (names, sizes, mtimes of every file; OUT.key records them);
# prints "built" or "reused".
#
# Environment: KST_VM_COMPRESS  gzip (default), zstd or none.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out='' kver='' modroot=''
compress=${KST_VM_COMPRESS:-gzip}
root=
# Files to carry, by absolute path (the same in the guest).
declare -A files=()
declare -A progs=()

die() {
	echo "initramfs.sh: $*" >&2
	exit 1
}

cleanup() {
	[ -n "$root" ] && rm -rf "$root"
	return 0
}

is_elf() {
	local magic
	LC_ALL=C IFS= read -r -N 4 magic <"$1" 2>/dev/null || true
	[ "$magic" = $'\x7fELF' ]
}

# The libraries and loader a dynamic ELF needs, one path per line.
elf_deps() {
	local out
	out=$(LC_ALL=C ldd "$1" 2>&1) || return 0 # static, or not a program
	if grep -q 'not found' <<<"$out"; then
		die "$1: $(grep 'not found' <<<"$out" | head -n 1 | xargs)"
	fi
	awk '$2 == "=>" && $3 ~ /^\// { print $3 }
	     $1 ~ /^\// { print $1 }' <<<"$out"
}

# add_file SRC: carries SRC and, if it is a program or library, what ldd
# says it needs (ldd lists the whole closure: libraries need no ldd of their
# own).
add_file() {
	local src=$1 deps lib
	[ -n "${files[$src]:-}" ] && return 0
	files[$src]=$src
	case $src in *.o | *.a | *.ko | *.d) return 0 ;; esac
	if { [ -x "$src" ] || [[ $src == *.so* ]]; } && is_elf "$src"; then
		deps=$(elf_deps "$src") || exit 1
		while IFS= read -r lib; do
			[ -n "$lib" ] && files[$lib]=$lib
		done <<<"$deps"
	fi
	return 0
}

carry() {
	local item=$1 path f
	if [[ $item != */* ]]; then
		path=$(command -v "$item") || die "cannot carry $item: not in PATH"
		progs[$(basename "$path")]=1
	else
		path=$(realpath -s "$item")
	fi
	if [ -d "$path" ]; then
		while IFS= read -r -d '' f; do
			add_file "$f"
		done < <(find -L "$path" -type f -print0)
	elif [ -f "$path" ]; then
		add_file "$path"
		# a plain data file is carried too, without failing set -e
		if [ -x "$path" ]; then
			progs[$(basename "$path")]=1
		fi
	else
		die "cannot carry $item: no such file or directory"
	fi
}

# What identifies the image: every file's guest path, source, size and
# mtime, the kernel, the compressor and this script itself.
inputs_key() {
	{
		echo "$kver $modroot $compress"
		stat -L -c '%n %s %Y' "${BASH_SOURCE[0]}" "$here/guest/init" \
			"$here/guest/openssl-ktls.cnf" "$(command -v busybox)"
		printf '%s\0' "${!files[@]}" | LC_ALL=C sort -z |
			xargs -0 stat -L -c '%n %s %Y'
	} | sha256sum | cut -c1-32
}

# Debian is merged-/usr: /lib, /bin, /sbin are links into /usr, as ldd
# paths (/lib/x86_64-linux-gnu/libc.so.6) expect.
# Commands that run other commands, from the host (Debian: all Essential),
# so that PATH decides what they run.
BASE_PROGS=(dash timeout env)

make_skeleton() {
	local d a bb
	for d in usr/bin usr/sbin usr/lib usr/lib64 proc sys dev tmp run root \
		etc/ktls etc/ssl usr/lib/ssl var/tmp kst; do
		mkdir -p "$root/$d"
	done
	for d in bin sbin lib lib64; do
		ln -s "usr/$d" "$root/$d"
	done
	bb=$(command -v busybox) || die "busybox not found"
	cp "$bb" "$root/usr/bin/busybox"
	for a in $(busybox --list-full); do
		[ -e "$root/$a" ] || [ -L "$root/$a" ] ||
			ln -s /usr/bin/busybox "$root/$a"
	done
	cp "$here/guest/init" "$root/init"
	chmod 755 "$root/init"
}

make_etc() {
	local e=$root/etc
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		'kstapled:x:998:998:kstapled:/nonexistent:/usr/sbin/nologin' \
		'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' \
		>"$e/passwd"
	printf '%s\n' 'root:x:0:' 'tty:x:5:' 'kstapled:x:998:' \
		'nogroup:x:65534:' >"$e/group"
	printf '%s\n' '127.0.0.1 localhost kst-vm' '::1 localhost' >"$e/hosts"
	printf '%s\n' 'passwd: files' 'group: files' 'hosts: files' \
		'services: files' >"$e/nsswitch.conf"
	[ -f /etc/services ] && cp /etc/services "$e/services"
	[ -f /etc/ssl/openssl.cnf ] && cp /etc/ssl/openssl.cnf "$e/ssl/"
	ln -sf /etc/ssl/openssl.cnf "$root/usr/lib/ssl/openssl.cnf"
	cp "$here/guest/openssl-ktls.cnf" "$e/ktls/openssl-ktls.cnf"
}

make_modules() {
	cp -a "$modroot/lib/modules" "$root/usr/lib/"
	depmod -b "$root" "$kver" || die "depmod failed for $kver"
}

copy_files() {
	local f a d
	for f in "${!files[@]}"; do
		mkdir -p "$root$(dirname "$f")"
		rm -f "$root$f"
		cp -L --preserve=mode,timestamps "$f" "$root$f"
	done
	# A carried program wins over the busybox applet of the same name.
	for a in "${!progs[@]}"; do
		for d in usr/bin usr/sbin; do
			[ "$(readlink "$root/$d/$a")" = /usr/bin/busybox ] &&
				rm -f "$root/$d/$a"
		done
	done
	if [ -n "${progs[dash]:-}" ]; then
		ln -sf dash "$root/usr/bin/sh"
	fi
	return 0
}

pack() {
	local tmp=$out.tmp.$$
	(
		cd "$root"
		find . -print0 | LC_ALL=C sort -z |
			cpio --null -o -H newc -R 0:0 --quiet
	) | case $compress in
	gzip) gzip -1 ;;
	zstd) zstd -q -T0 -3 ;;
	none) cat ;;
	*) die "unknown KST_VM_COMPRESS=$compress" ;;
	esac >"$tmp"
	mv "$tmp" "$out"
}

main() {
	local opt key
	while getopts "o:k:m:" opt; do
		case $opt in
		o) out=$OPTARG ;;
		k) kver=$OPTARG ;;
		m) modroot=$OPTARG ;;
		*) die "usage: initramfs.sh -o OUT -k KVER -m MODROOT [CARRY...]" ;;
		esac
	done
	shift $((OPTIND - 1))
	if [ -z "$out" ] || [ ! -d "$modroot/lib/modules/$kver" ]; then
		die "usage: initramfs.sh -o OUT -k KVER -m MODROOT [CARRY...]"
	fi
	for item in "${BASE_PROGS[@]}"; do
		command -v "$item" >/dev/null && carry "$item"
	done
	for item in "$@"; do
		carry "$item"
	done
	key=$(inputs_key)
	if [ -f "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then
		echo reused
		return 0
	fi
	trap cleanup EXIT
	mkdir -p "$(dirname "$out")"
	root=$(mktemp -d "$out.root.XXXXXX")
	make_skeleton
	make_etc
	make_modules
	copy_files
	pack
	echo "$key" >"$out.key"
	echo built
}

main "$@"
