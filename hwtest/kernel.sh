#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Fetches one Debian suite's kernel (the package linux-image-amd64 depends
# on, in bookworm, trixie or sid) and prepares what the QEMU guest boots:
# the ELF vmlinux pulled out of the bzImage (QEMU boots it directly through
# PVH, skipping the decompressor, which costs ~2.5 s per boot under TCG) and
# the subset of modules kTLS tests need, with their dependencies.
#
#   hwtest/kernel.sh [SUITE]        SUITE: bookworm (default), trixie, sid
#
# The suites' package lists come from the project's own apt configuration
# (scripts/apt-suite.sh: own sources, lists and cache under the kstapled
# cache, the machine's Debian mirror, the Debian archive keyring); the
# system's apt is neither changed nor read. It handles the three layouts
# Debian has shipped:
#   - bookworm: one linux-image-ABI package, /boot/vmlinuz-KVER, modules in
#     /lib/modules, the bzImage payload xz-compressed;
#   - trixie: the same with modules in /usr/lib/modules;
#   - sid (7.x): linux-image-ABI is a meta package depending on
#     linux-binary-ABI (/usr/lib/modules/KVER/vmlinuz), linux-modules-ABI and
#     linux-base-ABI (config, modules.builtin): every dependency named after
#     the ABI is fetched and unpacked together.
# The payload may be xz or zstd (read from the bzImage's setup header).
#
# On success prints one line "KVER VMLINUX MODROOT": MODROOT holds
# lib/modules/KVER/ (no modules.dep: the initramfs builder runs depmod on
# what it copies). Exit 77 with the reason on stderr when no kernel can be
# had (mirror unreachable and nothing cached); 1 with the reason on any
# other error.
#
# Everything is cached under ${KST_CACHE:-$HOME/.cache/kstapled}/kernel,
# keyed by package and version: the .debs in debs/, the extracted kernel in
# PKG_VERSION/ (with a file "suite"). A new kernel in a suite is fetched
# once; when the mirror cannot be reached the newest cached kernel of that
# suite is used. The suites' lists are refreshed at most once a day
# (KST_APT_MAX_AGE, see scripts/apt-suite.sh).
#
# Environment:
#   KST_CACHE            cache root (default $HOME/.cache/kstapled)
#   KST_VM_SUITE         SUITE when no argument is given
#   KST_VM_KERNEL_PKG    kernel package (default: what linux-image-amd64
#                        depends on in SUITE)
#   KST_VM_MODULES       extra module names to carry (with their deps)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
apt_suite=$(dirname "$here")/scripts/apt-suite.sh

# Module directories carried whole (tls.ko has no static dependencies: it
# request_module()s its AEADs, so all of the crypto trees go in), and single
# modules (ss needs the diag pair; veth and dummy for link tests).
MOD_DIRS=(kernel/net/tls kernel/crypto kernel/arch/x86/crypto kernel/lib/crypto)
read -ra MOD_NAMES <<<"inet_diag tcp_diag veth dummy ${KST_VM_MODULES:-}"

suite=${1:-${KST_VM_SUITE:-bookworm}}
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

apt_s() {
	"$apt_suite" "$suite" "$@"
}

# Newest complete cache entry of this suite, for when apt cannot tell or
# fetch. Entries made before suites were recorded are bookworm's.
newest_cached() {
	local d e s
	# shellcheck disable=SC2012 # cache paths have no blanks
	ls -1dt "$cache"/linux-image-*/.complete 2>/dev/null | while read -r d; do
		e=$(dirname "$d")
		s=$(cat "$e/suite" 2>/dev/null || echo bookworm)
		if [ "$s" = "$suite" ]; then
			echo "$e"
			return 0
		fi
	done | head -n 1 | grep .
}

resolve_pkg() {
	if [ -n "${KST_VM_KERNEL_PKG:-}" ]; then
		echo "$KST_VM_KERNEL_PKG"
		return
	fi
	apt_s apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

candidate_version() {
	apt_s apt-cache policy "$1" 2>/dev/null |
		awk '$1 == "Candidate:" && $2 != "(none)" { print $2; exit }'
}

# The packages that make up the kernel PKG (linux-image-ABI): itself and,
# recursively, each plain dependency named after the same ABI (sid:
# linux-binary-ABI, linux-modules-ABI, linux-base-ABI).
kernel_pkgs() {
	local abi=${1#linux-image-} p d
	local -a todo=("$1")
	local -A seen=()
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		[ -n "${seen[$p]:-}" ] && continue
		seen[$p]=1
		echo "$p"
		for d in $(apt_s apt-cache depends "$p" 2>/dev/null |
			awk -v abi="$abi" '$1 == "Depends:" && $2 ~ /^linux-/ &&
				substr($2, length($2) - length(abi) + 1) == abi &&
				$2 !~ /^</ { print $2 }'); do
			todo+=("$d")
		done
	done
}

# "PKG VERSION PKG..." to use (the image package, its version, and every
# package to unpack), from apt; remembered until the suite's lists change.
resolve() {
	local stamp=$cache/resolved-$suite key=${KST_VM_KERNEL_PKG:-linux-image-amd64}
	local k pkg ver pkgs err lists
	# a failure's reason is the skip's (main), a warning goes out now
	err=$(apt_s refresh 2>&1) || {
		err=${err#apt-suite.sh: }
		echo "${err//$'\n'/ }" >"$tmp/refresh.err"
		return 0
	}
	[ -z "$err" ] || echo "$err" >&2
	lists=$(apt_s dir)/lists/.updated
	if [ -f "$stamp" ] && [ "$stamp" -nt "$lists" ]; then
		read -r k pkg ver pkgs <"$stamp"
		if [ "$k" = "$key" ] && [ -n "$pkgs" ]; then
			echo "$pkg $ver $pkgs"
			return 0
		fi
	fi
	pkg=$(resolve_pkg || true)
	[ -n "$pkg" ] || return 0
	ver=$(candidate_version "$pkg" || true)
	[ -n "$ver" ] || return 0
	pkgs=$(kernel_pkgs "$pkg" | xargs)
	echo "$key $pkg $ver $pkgs" >"$stamp.tmp" && mv "$stamp.tmp" "$stamp"
	echo "$pkg $ver $pkgs"
}

# Downloads each PKG (its candidate version) into debs/; prints the paths.
fetch_debs() {
	local p v deb log=$tmp/apt.log
	mkdir -p "$cache/debs"
	for p in "$@"; do
		v=$(candidate_version "$p")
		[ -n "$v" ] || { echo "E: $p has no candidate in $suite" >>"$log"; return 1; }
		deb=$cache/debs/${p}_${v//:/%3a}_amd64.deb
		if [ ! -f "$deb" ]; then
			(cd "$tmp" && apt_s apt-get download -q "$p=$v") >>"$log" 2>&1 ||
				return 1
			mv "$tmp/$(basename "$deb")" "$deb" || return 1
		fi
		echo "$deb"
	done
}

# apt's last error about the download, on one line.
apt_error() {
	grep -E '^(E|W):' "$tmp/apt.log" 2>/dev/null | tail -n 1 |
		sed 's/^[EW]: //; s/  */ /g'
}

# Little-endian unsigned integer of LEN bytes at OFF in FILE.
le() {
	local v
	v=$(od -An -tu"$3" -j "$2" -N "$3" --endian=little "$1" | tr -d ' ')
	[ -n "$v" ] || die "$1: cannot read $3 bytes at offset $2"
	echo "$v"
}

# The bzImage carries the kernel as one compressed payload, located by its
# setup header (Documentation/arch/x86/boot.rst: setup_sects at 0x1f1,
# payload_offset at 0x248 and payload_length at 0x24c, from the start of
# the protected-mode code); QEMU boots the ELF inside it directly when the
# kernel has CONFIG_PVH (Debian's has). The payload ends with the 4-byte
# uncompressed size, which is not part of the compressed stream.
extract_vmlinux() {
	local bzimage=$1 out=$2 sects off len magic
	[ "$(od -An -c -j 514 -N 4 "$bzimage" | tr -d ' ')" = HdrS ] ||
		die "$bzimage is not a bzImage (no HdrS setup header)"
	sects=$(le "$bzimage" 497 1)
	[ "$sects" != 0 ] || sects=4
	off=$(((sects + 1) * 512 + $(le "$bzimage" 584 4)))
	len=$(le "$bzimage" 588 4)
	[ "$len" -gt 4 ] || die "$bzimage: empty payload (payload_length $len)"
	magic=$(od -An -tx1 -j "$off" -N 6 "$bzimage" | tr -d ' ')
	# exactly the stream (one reader: no SIGPIPE under pipefail)
	payload() {
		dd if="$bzimage" iflag=skip_bytes,count_bytes skip="$off" \
			count=$((len - 4)) bs=1M status=none
	}
	case $magic in
	fd377a585a00)
		payload | xz -dc --single-stream >"$out" ||
			die "cannot decompress the xz kernel in $bzimage"
		;;
	28b52ffd*)
		command -v zstd >/dev/null ||
			die "$bzimage is zstd-compressed: install zstd"
		payload | zstd -dcq >"$out" ||
			die "cannot decompress the zstd kernel in $bzimage"
		;;
	*)
		die "$bzimage: payload at $off starts with $magic," \
			"neither xz (fd377a585a00) nor zstd (28b52ffd)"
		;;
	esac
	[ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
		die "$bzimage did not yield an ELF vmlinux"
}

# Copies MOD_DIRS and MOD_NAMES, and what they depend on, from the full
# depmod'ed tree FROM (its lib/modules/KVER) to the tree TO. A directory or
# module the kernel has built in (modules.builtin) is not needed.
copy_modules() {
	local to=$2 kver=$3 m f dir=$1/lib/modules/$3
	local -A want=()
	for m in "${MOD_DIRS[@]}"; do
		if [ ! -d "$dir/$m" ]; then
			[ "$m" = kernel/net/tls ] &&
				grep -q '^kernel/net/tls/tls\.ko' "$dir/modules.builtin" &&
				continue
			[ "$m" = kernel/lib/crypto ] && continue
			die "$kver has no $m"
		fi
		while IFS= read -r f; do
			want[${f#"$dir"/}]=1
		done < <(find "$dir/$m" -name '*.ko*')
	done
	for m in "${MOD_NAMES[@]}"; do
		f=$(find "$dir/kernel" -name "$m.ko*" | head -n 1)
		if [ -z "$f" ]; then
			grep -qE "/$m\.ko\$" "$dir/modules.builtin" && continue
			die "$kver has no module $m"
		fi
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
		# busybox modprobe reads .ko, .ko.gz and .ko.xz, not zstd
		if [[ $m == *.ko.zst ]]; then
			zstd -dq --rm "$to/lib/modules/$kver/$m" ||
				die "cannot decompress $m"
		fi
	done
	cp "$dir"/modules.order "$dir"/modules.builtin* "$to/lib/modules/$kver/"
}

# The first existing file among the arguments.
first_file() {
	local f
	for f in "$@"; do
		[ -f "$f" ] && echo "$f" && return 0
	done
	return 1
}

extract() {
	local entry=$1 modkey=$2 x=$tmp/x kver deb vmlinuz config
	shift 2
	rm -rf "$x"
	mkdir -p "$x"
	for deb in "$@"; do
		dpkg-deb -x "$deb" "$x" || die "cannot unpack $deb"
	done
	# bookworm: /lib/modules; trixie and later: /usr/lib/modules. depmod
	# (kmod 30) looks in BASE/lib/modules.
	if [ ! -d "$x/lib/modules" ]; then
		[ -d "$x/usr/lib/modules" ] ||
			die "no lib/modules or usr/lib/modules in $*"
		mkdir -p "$x/lib"
		ln -s ../usr/lib/modules "$x/lib/modules"
	fi
	kver=$(find "$x/lib/modules/" -mindepth 1 -maxdepth 1 -type d -printf '%f\n')
	if [ -z "$kver" ] || [ "$(wc -l <<<"$kver")" != 1 ]; then
		die "expected one kernel version in $*, found: ${kver:-none}"
	fi
	vmlinuz=$(first_file "$x/boot/vmlinuz-$kver" \
		"$x/lib/modules/$kver/vmlinuz") ||
		die "no vmlinuz for $kver in $*"
	config=$(first_file "$x/boot/config-$kver" "$x/lib/modules/$kver/config") ||
		die "no config for $kver in $*"
	if [ ! -s "$entry/vmlinux" ]; then
		mkdir -p "$entry"
		extract_vmlinux "$vmlinuz" "$tmp/vmlinux"
		cp "$config" "$entry/config"
		echo "$kver" >"$entry/kver"
		mv "$tmp/vmlinux" "$entry/vmlinux"
	fi
	depmod -b "$x" "$kver" || die "depmod failed on $kver"
	rm -rf "$tmp/mods"
	mkdir -p "$tmp/mods"
	copy_modules "$x" "$tmp/mods" "$kver"
	rm -rf "${entry:?}/modules-$modkey"
	mv "$tmp/mods" "$entry/modules-$modkey"
}

main() {
	local pkg='' ver='' pkgs='' entry modkey
	local -a debs=()
	case $suite in
	bookworm | trixie | sid) ;;
	*) die "unknown suite $suite (bookworm, trixie or sid)" ;;
	esac
	mkdir -p "$cache"
	exec 9>"$cache/.lock"
	flock 9
	trap cleanup EXIT
	tmp=$(mktemp -d "$cache/tmp.XXXXXX")
	modkey=$(printf '%s\n' "${MOD_DIRS[@]}" "${MOD_NAMES[@]}" |
		sha256sum | cut -c1-12)

	read -r pkg ver pkgs < <(resolve) || true
	if [ -z "$pkgs" ]; then
		entry=$(newest_cached) ||
			skip "cannot resolve $suite's kernel package" \
				"($(cat "$tmp/refresh.err" 2>/dev/null ||
					echo "${KST_VM_KERNEL_PKG:-linux-image-amd64}" \
						"is unknown to apt"))" \
				"and no $suite kernel is cached in $cache"
		echo "kernel.sh: apt cannot resolve $suite's kernel package;" \
			"using the cached ${entry##*/}" >&2
	else
		entry=$cache/${pkg}_${ver//:/%3a}
		if [ ! -f "$entry/.complete" ]; then
			# shellcheck disable=SC2086 # a list of package names
			if mapfile -t debs < <(fetch_debs $pkgs) &&
				[ ${#debs[@]} = "$(wc -w <<<"$pkgs")" ]; then
				extract "$entry" "$modkey" "${debs[@]}"
				printf '%s\n' "${debs[@]}" >"$entry/deb"
				echo "$suite" >"$entry/suite"
				touch "$entry/.complete"
			else
				entry=$(newest_cached) ||
					skip "cannot download $pkgs ($ver)" \
						"($(apt_error)) and no $suite kernel" \
						"is cached in $cache"
				echo "kernel.sh: cannot download $pkg=$ver;" \
					"using the cached ${entry##*/}" >&2
			fi
		fi
	fi
	# A changed module list needs the (cached) .debs once more.
	if [ ! -d "$entry/modules-$modkey" ]; then
		mapfile -t debs <"$entry/deb"
		for deb in "${debs[@]}"; do
			[ -f "$deb" ] || die "$deb is gone: remove $entry to refetch"
		done
		extract "$entry" "$modkey" "${debs[@]}"
	fi
	echo "$(cat "$entry/kver") $entry/vmlinux $entry/modules-$modkey"
}

main "$@"
