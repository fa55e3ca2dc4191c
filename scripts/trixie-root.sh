#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Builds and tests kstapled on Debian 13 (trixie) userland: OpenSSL 3.5,
# gcc 14, clang 19, libbpf 1.5, on this machine's kernel. A minbase root
# made by debootstrap is cached under ${KST_CACHE:-~/.cache/kstapled}/
# roots/trixie; scripts/deps.sh runs inside it unchanged, so the root has
# exactly the project's dependency list. The root is upgraded at most once
# every KST_ROOT_MAX_AGE seconds (default 86400); when the mirror cannot be
# reached the cached root is used as it is. The mirror is the one
# scripts/apt-suite.sh reads (the system's, or KST_APT_MIRROR); the host's
# own apt configuration is never touched.
#
#   scripts/trixie-root.sh BUILD [TARGET...]    make -C SRC BUILD=BUILD
#                                               WERROR=1 TARGET... (default:
#                                               unit integration) in the root
#   scripts/trixie-root.sh --shell              a shell in the root
#
# e.g. `scripts/trixie-root.sh build/x hwtest` boots the VM kernels with
# the trixie-built daemon and tests: vm.sh runs in the root, so what it
# carries (ldd) are trixie's libraries; the kernel and apt caches are the
# host's (bound in). KST_APT_MIRROR and KST_VM_* are passed on.
# Everything runs in a private mount namespace: the root bound onto itself
# (unshare(2) in the tests wants a mount point), proc, sysfs, a fresh bpffs,
# /dev, /dev/pts, /dev/shm, tmpfs /tmp and /run, and the source tree at its
# own path. All of it is unmounted on exit (and goes with the namespace
# whatever happens). minbase has no /etc/hosts: one is written.
# Exit: make's status; 77 (SKIP, reason on stderr) when no root is cached
# and none can be made (mirror unreachable, no debootstrap, not root);
# 1 instead of 77 under KST_TEST_STRICT=1.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
cache=${KST_CACHE:-${HOME:-/root}/.cache/kstapled}
root=$cache/roots/trixie
max=${KST_ROOT_MAX_AGE:-86400}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
stamp=var/lib/kstapled-root.updated
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "trixie-root: $*" >&2; }
skip() {
	say "SKIP: $*"
	[ "${KST_TEST_STRICT:-0}" = 1 ] && exit 1
	exit 77
}
die() {
	say "$*"
	exit 1
}

# Inside the root, with a clean environment (and the harness's knobs).
in_root() {
	local -a pass=()
	local v
	for v in KST_APT_MIRROR KST_VM_KERNELS KST_VM_ACCEL KST_VM_SUITE \
		KST_HWTEST_TESTS KST_HWTEST_TIMEOUT; do
		[ -z "${!v:-}" ] || pass+=("$v=${!v}")
	done
	chroot "$root" /usr/bin/env -i PATH="$path" HOME=/root LANG=C.UTF-8 \
		TERM="${TERM:-dumb}" DEBIAN_FRONTEND=noninteractive \
		"${pass[@]}" "$@"
}

create() {
	local mirror log=$cache/roots/trixie.debootstrap.log
	command -v debootstrap >/dev/null ||
		skip "no trixie root cached and debootstrap is missing (scripts/deps.sh)"
	[ -r "$keyring" ] || skip "no trixie root cached and $keyring is missing"
	mirror=$("$src/scripts/apt-suite.sh" trixie mirror) ||
		skip "no trixie root cached and no mirror known"
	rm -rf "$root.partial"
	say "creating $root from $mirror (log: $log)"
	if ! debootstrap --variant=minbase --keyring="$keyring" trixie \
		"$root.partial" "$mirror" >"$log" 2>&1; then
		rm -rf "$root.partial"
		skip "no trixie root cached and debootstrap failed: $(grep -E '^[EW]:' \
			"$log" | tail -n 1 | cut -c1-200)"
	fi
	mv "$root.partial" "$root"
	rm -f "$root/$stamp"
}

# apt sources of the root: the project's own (scripts/apt-suite.sh), so the
# root follows the mirror the machine uses.
write_sources() {
	local dir
	dir=$("$src/scripts/apt-suite.sh" trixie dir)
	install -m 644 "$dir/sources.sources" \
		"$root/etc/apt/sources.list.d/debian.sources"
	: >"$root/etc/apt/sources.list"
}

mount_all() {
	mount --bind "$root" "$root"
	mount -t proc proc "$root/proc"
	mount -t sysfs sysfs "$root/sys"
	if [ -d "$root/sys/fs/bpf" ]; then
		mount -t bpf bpf "$root/sys/fs/bpf" 2>/dev/null ||
			say "no bpffs: BPF tests will skip"
	fi
	mount --bind /dev "$root/dev"
	mount --bind /dev/pts "$root/dev/pts"
	[ -d /dev/shm ] && mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
	mount -t tmpfs -o mode=1777 tmp "$root/tmp"
	mount -t tmpfs -o mode=755 run "$root/run"
	mkdir -p "$root$src"
	mount --bind "$src" "$root$src"
	# the VM harness's kernel and apt caches (hwtest/kernel.sh), shared
	local d
	for d in apt kernel; do
		mkdir -p "$cache/$d" "$root/root/.cache/kstapled/$d"
		mount --bind "$cache/$d" "$root/root/.cache/kstapled/$d"
	done
}

umount_all() {
	# deepest first; the namespace drops whatever is left
	grep -F " $root" /proc/self/mountinfo | awk '{ print $5 }' | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# Upgrade at most daily; a mirror that cannot be reached keeps the root.
update() {
	local age=$max
	[ -f "$root/$stamp" ] &&
		age=$(($(date +%s) - $(stat -c %Y "$root/$stamp")))
	[ "$age" -ge "$max" ] || return 0
	say "updating the root (apt-get update, dist-upgrade)"
	if in_root apt-get -q update >"$root/tmp/update.log" 2>&1 &&
		! grep -q '^[EW]:' "$root/tmp/update.log" &&
		in_root apt-get -q -y dist-upgrade >>"$root/tmp/update.log" 2>&1; then
		touch "$root/$stamp"
	else
		say "cannot update ($(grep -E '^[EW]:' "$root/tmp/update.log" |
			head -n 1 | cut -c1-200)); using the root as it is"
	fi
}

inside_ns() {
	trap umount_all EXIT
	mount --make-rprivate / 2>/dev/null || true
	mount_all
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
		>"$root/etc/hosts"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
	write_sources
	update
	# the project's dependency list, unchanged (prints nothing when complete)
	in_root "$src/scripts/deps.sh" || die "scripts/deps.sh failed in the root"
	if [ "$1" = --shell ]; then
		in_root bash -c "cd '$src' && exec bash -i" || true
		return 0
	fi
	local build=$1
	shift
	[ $# -gt 0 ] || set -- unit integration
	say "$(in_root openssl version), $(in_root gcc --version | head -n 1)"
	in_root nice make -k -C "$src" --no-print-directory BUILD="$build" \
		WERROR=1 -j"$(nproc)" CI="${CI:-}" \
		KST_TEST_STRICT="${KST_TEST_STRICT:-}" "$@"
}

main() {
	[ $# -ge 1 ] || die "usage: trixie-root.sh BUILD [TARGET...] | --shell"
	if [ "${KST_TRIXIE_NS:-}" = 1 ]; then
		inside_ns "$@"
		return
	fi
	[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, chroot, mounts)"
	command -v unshare >/dev/null || skip "unshare missing (util-linux)"
	mkdir -p "$cache/roots"
	[ -x "$root/usr/bin/apt-get" ] || create
	KST_TRIXIE_NS=1 exec unshare --mount --propagation private "$0" "$@"
}

main "$@"
