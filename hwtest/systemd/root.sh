#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The Debian 12 (bookworm) root that the systemd guest boots
# (hwtest/systemd/run.sh): debootstrap --variant=minbase with systemd as
# init (systemd, systemd-sysv), dbus, kmod (the kernel's module autoload
# runs /sbin/modprobe: without it kTLS finds no gcm(aes); every Debian
# system has it), openssl and bpftool for the tests,
# and the runtime libraries kstapled and its test tools link (scripts/
# deps.sh lists their -dev packages; here only the libraries). Nothing of
# the project is in it: run.sh copies the root and installs into the copy.
#
#   hwtest/systemd/root.sh      prints the root's path
#
# The root is cached under ${KST_CACHE:-~/.cache/kstapled}/roots/
# bookworm-systemd-KEY, KEY a hash of the package list (and of this
# script's debootstrap line): a changed list makes a new root, and roots
# of other lists are then removed. A cached root is used as it is (delete
# it to refresh). The mirror is the one scripts/apt-suite.sh reads (the
# system's, or KST_APT_MIRROR), checked against the Debian archive
# keyring; the host's apt is not touched. A lock serialises concurrent
# builds. Exit 77 with the reason on stderr when no root is cached and
# none can be made (not root, no debootstrap, no keyring, mirror
# unreachable); 1 on other errors.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
cache=${KST_CACHE:-${HOME:-/root}/.cache/kstapled}/roots
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

# systemd as PID 1 and what the guest tests run; then kstapled's runtime
# libraries (libssl-dev, libbpf-dev, libnl-*-dev, libsystemd-dev,
# libcap-dev, libc-ares-dev in scripts/deps.sh).
PKGS=(
	systemd systemd-sysv dbus kmod openssl bpftool procps iproute2
	libssl3 libbpf1 libelf1 zlib1g libnl-3-200 libnl-genl-3-200
	libsystemd0 libcap2 libc-ares2
)

skip() {
	echo "root.sh: $*" >&2
	exit 77
}

die() {
	echo "root.sh: $*" >&2
	exit 1
}

main() {
	local key root log mirror inc old
	inc=$(
		IFS=,
		echo "${PKGS[*]}"
	)
	key=$(echo "bookworm minbase $inc" | sha256sum | cut -c1-16)
	root=$cache/bookworm-systemd-$key
	if [ -f "$root/.complete" ]; then
		echo "$root"
		return 0
	fi
	[ "$(id -u)" = 0 ] || skip "no systemd root cached and debootstrap needs root"
	command -v debootstrap >/dev/null ||
		skip "no systemd root cached and debootstrap is missing (scripts/deps.sh)"
	[ -r "$keyring" ] || skip "no systemd root cached and $keyring is missing"
	mirror=$("$src/scripts/apt-suite.sh" bookworm mirror) ||
		skip "no systemd root cached and no Debian mirror known"
	mkdir -p "$cache"
	exec 9>"$cache/.bookworm-systemd.lock"
	flock 9
	if [ -f "$root/.complete" ]; then # made while we waited
		echo "$root"
		return 0
	fi
	log=$root.debootstrap.log
	rm -rf "$root.partial"
	echo "root.sh: creating $root from $mirror (log: $log)" >&2
	if ! timeout 600 debootstrap --variant=minbase --keyring="$keyring" \
		--include="$inc" bookworm "$root.partial" "$mirror" >"$log" 2>&1; then
		rm -rf "$root.partial"
		skip "no systemd root cached and debootstrap failed: $(grep -E \
			'^[EW]:' "$log" | tail -n 1 | cut -c1-200)"
	fi
	# apt's downloads are not needed in the guest image
	rm -rf "$root.partial"/var/cache/apt/archives/*.deb \
		"$root.partial"/var/lib/apt/lists/*_Packages
	touch "$root.partial/.complete"
	rm -rf "$root"
	mv "$root.partial" "$root"
	for old in "$cache"/bookworm-systemd-*; do
		[ "$old" = "$root" ] || [ "$old" = "$log" ] || rm -rf "$old"
	done
	echo "$root"
}

main "$@"
