#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Fetches Debian's kernel (the package linux-image-amd64 depends on) and
# prepares what the QEMU guest boots: the ELF vmlinux pulled out of the
# bzImage (QEMU boots it directly through PVH, skipping the decompressor,
# which costs ~2.5 s per boot under TCG) and the subset of modules kTLS tests
# need, with their dependencies.
#
#   hwtest/kernel.sh
#
# On success prints one line "KVER VMLINUX MODROOT": MODROOT holds
# lib/modules/KVER/ (no modules.dep: the initramfs builder runs depmod on
# what it copies). Exit 77 with the reason on stderr when no kernel can be
# had (no apt lists, no network, nothing cached); 1 on any other error.
#
# Everything is cached under ${KST_CACHE:-$HOME/.cache/kstapled}/kernel,
# keyed by package and version: the .deb in debs/, the extracted kernel in
# PKG_VERSION/. A new kernel ABI in the archive is fetched once; when the
# archive cannot be reached the newest cached kernel is used.
#
# Environment:
#   KST_CACHE            cache root (default $HOME/.cache/kstapled)
#   KST_VM_KERNEL_PKG    kernel package (default: what linux-image-amd64
#                        depends on)
#   KST_VM_MODULES       extra module names to carry (with their deps)
set -euo pipefail

# Module directories carried whole (tls.ko has no static dependencies: it
# request_module()s its AEADs, so all of the crypto trees go in), and single
# modules (ss needs the diag pair; veth and dummy for link tests).
MOD_DIRS=(kernel/net/tls kernel/crypto kernel/arch/x86/crypto kernel/lib/crypto)
read -ra MOD_NAMES <<<"inet_diag tcp_diag veth dummy ${KST_VM_MODULES:-}"

cache=${KST_CACHE:-${HOME:-/root}/.cache/kstapled}/kernel
tmp=

skip() {
	echo "kernel.sh: $*" >&2
	exit 77
}

die() {
	echo "kernel.sh: $*" >&2
	exit 1
}

cleanup() {
	[ -n "$tmp" ] && rm -rf "$tmp"
	return 0
}

# Newest complete cache entry, for when apt cannot tell or fetch.
newest_cached() {
	local d
	# shellcheck disable=SC2012
	d=$(ls -1dt "$cache"/linux-image-*/.complete 2>/dev/null | head -n 1)
	[ -n "$d" ] && dirname "$d"
}

resolve_pkg() {
	if [ -n "${KST_VM_KERNEL_PKG:-}" ]; then
		echo "$KST_VM_KERNEL_PKG"
		return
	fi
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}

candidate_version() {
	apt-cache policy "$1" 2>/dev/null |
		awk '$1 == "Candidate:" && $2 != "(none)" { print $2; exit }'
}

# "PKG VERSION" to use, from apt; remembered until apt's lists or
# configuration change (apt-cache takes 1-2 s without a pkgcache.bin).
resolve() {
	local stamp=$cache/resolved key=${KST_VM_KERNEL_PKG:-linux-image-amd64}
	local k pkg ver
	if [ -f "$stamp" ] && [ -z "$(find /var/lib/apt/lists /etc/apt \
		-newer "$stamp" -print -quit 2>/dev/null)" ]; then
		read -r k pkg ver <"$stamp"
		if [ "$k" = "$key" ] && [ -n "$ver" ]; then
			echo "$pkg $ver"
			return 0
		fi
	fi
	pkg=$(resolve_pkg || true)
	[ -n "$pkg" ] || return 0
	ver=$(candidate_version "$pkg" || true)
	[ -n "$ver" ] || return 0
	echo "$key $pkg $ver" >"$stamp.tmp" && mv "$stamp.tmp" "$stamp"
	echo "$pkg $ver"
}

# Downloads PKG=VER into debs/; prints the .deb path.
fetch_deb() {
	local pkg=$1 ver=$2 deb log
	deb=$cache/debs/${pkg}_${ver//:/%3a}_amd64.deb
	if [ -f "$deb" ]; then
		echo "$deb"
		return 0
	fi
	mkdir -p "$cache/debs"
	log=$tmp/apt.log
	if ! (cd "$tmp" && apt-get download -q "$pkg=$ver") >"$log" 2>&1; then
		return 1
	fi
	mv "$tmp/$(basename "$deb")" "$deb" || return 1
	echo "$deb"
}

# apt's last error about the download, on one line.
apt_error() {
	grep -E '^(E|W):' "$tmp/apt.log" 2>/dev/null | tail -n 1 |
		sed 's/^[EW]: //; s/  */ /g'
}

# The bzImage carries the kernel as one xz stream; QEMU boots the ELF inside
# it directly when the kernel has CONFIG_PVH (Debian's has).
extract_vmlinux() {
	local bzimage=$1 out=$2 off
	off=$(LC_ALL=C grep -m 1 -obUaP '\xfd7zXZ\x00' "$bzimage" |
		awk -F: 'NR == 1 { print $1 }')
	[ -n "$off" ] || die "no xz stream in $bzimage"
	# xz stops at the end of the stream: tail may die of SIGPIPE.
	xz -dc --single-stream <(tail -c +$((off + 1)) "$bzimage") >"$out" ||
		die "cannot decompress the kernel in $bzimage"
	[ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
		die "$bzimage did not yield an ELF vmlinux"
}

# Copies MOD_DIRS and MOD_NAMES, and what they depend on, from the full
# tree FROM (depmod'ed) to the tree TO.
copy_modules() {
	local to=$2 kver=$3 m f dir=$1/lib/modules/$3
	local -A want=()
	for m in "${MOD_DIRS[@]}"; do
		[ -d "$dir/$m" ] || die "$kver has no $m"
		while IFS= read -r f; do
			want[${f#"$dir"/}]=1
		done < <(find "$dir/$m" -name '*.ko*')
	done
	for m in "${MOD_NAMES[@]}"; do
		f=$(find "$dir/kernel" -name "$m.ko*" | head -n 1)
		[ -n "$f" ] || die "$kver has no module $m"
		want[${f#"$dir"/}]=1
	done
	# modules.dep lists the full dependency chain of each module.
	for m in "${!want[@]}"; do
		while read -r f; do
			want[$f]=1
		done < <(awk -v m="$m:" '$1 == m { for (i = 2; i <= NF; i++)
			print $i }' "$dir/modules.dep")
	done
	for m in "${!want[@]}"; do
		mkdir -p "$to/lib/modules/$kver/$(dirname "$m")"
		cp "$dir/$m" "$to/lib/modules/$kver/$m"
	done
	cp "$dir"/modules.order "$dir"/modules.builtin* "$to/lib/modules/$kver/"
}

extract() {
	local deb=$1 entry=$2 modkey=$3 x=$tmp/x kver
	dpkg-deb -x "$deb" "$x"
	kver=$(find "$x/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n')
	[ -f "$x/boot/vmlinuz-$kver" ] || die "$deb has no vmlinuz-$kver"
	if [ ! -s "$entry/vmlinux" ]; then
		mkdir -p "$entry"
		extract_vmlinux "$x/boot/vmlinuz-$kver" "$tmp/vmlinux"
		cp "$x/boot/config-$kver" "$entry/config"
		echo "$kver" >"$entry/kver"
		mv "$tmp/vmlinux" "$entry/vmlinux"
	fi
	depmod -b "$x" "$kver"
	mkdir -p "$tmp/mods"
	copy_modules "$x" "$tmp/mods" "$kver"
	rm -rf "${entry:?}/modules-$modkey"
	mv "$tmp/mods" "$entry/modules-$modkey"
}

main() {
	local pkg='' ver='' entry deb modkey
	mkdir -p "$cache"
	exec 9>"$cache/.lock"
	flock 9
	trap cleanup EXIT
	tmp=$(mktemp -d "$cache/tmp.XXXXXX")
	modkey=$(printf '%s\n' "${MOD_DIRS[@]}" "${MOD_NAMES[@]}" |
		sha256sum | cut -c1-12)

	read -r pkg ver < <(resolve) || true
	if [ -z "$ver" ]; then
		entry=$(newest_cached) ||
			skip "cannot resolve the kernel package" \
				"(linux-image-amd64 is unknown to apt: run" \
				"apt-get update) and no kernel is cached in $cache"
		echo "kernel.sh: apt cannot resolve the kernel package;" \
			"using the cached ${entry##*/}" >&2
	else
		entry=$cache/${pkg}_${ver//:/%3a}
		if [ ! -f "$entry/.complete" ]; then
			if deb=$(fetch_deb "$pkg" "$ver"); then
				extract "$deb" "$entry" "$modkey"
				echo "$deb" >"$entry/deb"
				touch "$entry/.complete"
			else
				entry=$(newest_cached) ||
					skip "cannot download $pkg=$ver" \
						"($(apt_error)) and no kernel is" \
						"cached in $cache"
				echo "kernel.sh: cannot download $pkg=$ver;" \
					"using the cached ${entry##*/}" >&2
			fi
		fi
	fi
	# A changed module list needs the (cached) .deb once more.
	if [ ! -d "$entry/modules-$modkey" ]; then
		deb=$(cat "$entry/deb")
		[ -f "$deb" ] || die "$deb is gone: remove $entry to refetch"
		extract "$deb" "$entry" "$modkey"
	fi
	echo "$(cat "$entry/kver") $entry/vmlinux $entry/modules-$modkey"
}

main "$@"
