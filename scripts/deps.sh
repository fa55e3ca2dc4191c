#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Installs, with apt-get, every Debian bookworm package that the build, the
# demo, the tests, the VM harness and the benchmark need. Idempotent: when
# everything is present it prints nothing and changes nothing. Re-runs itself
# through sudo when not root. Services that packages ship (nginx, haproxy,
# hitch) are kept from starting: the benchmark runs its own copies.
set -eu

pkgs=(
	# build
	build-essential pkg-config git
	libssl-dev openssl
	libbpf-dev bpftool clang llvm
	# fuzz targets: libFuzzer and the sanitizer runtimes for the suite's
	# default clang (14 on bookworm, 19 on trixie)
	libclang-rt-dev
	# make lint (.clang-tidy) and make format (.clang-format)
	clang-tidy clang-format
	libnl-3-dev libnl-genl-3-dev
	libsystemd-dev libcap-dev
	libc-ares-dev
	libcriterion-dev
	# demo and tests: real clients, netns, systemd tools, man pages
	curl gnutls-bin iproute2 ethtool procps psmisc systemd man-db
	# VM harness: QEMU guest booted from Debian's kernel packages (xz and
	# zstd kernels; the archive keyring checks the project's own apt
	# configuration for trixie and sid, scripts/apt-suite.sh)
	qemu-system-x86 busybox-static cpio kmod xz-utils zstd debian-archive-keyring
	# the trixie userland root (scripts/trixie-root.sh, make trixie-check)
	debootstrap
	# benchmark peers and tools
	hitch haproxy nginx jq util-linux
)

missing=()
for p in "${pkgs[@]}"; do
	case "$p" in \#*) continue ;; esac
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	exec sudo "$0" "$@"
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep package services from starting (they would take ports 80/443).
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	made_policy=1
fi
trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT

install() {
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/kstapled-deps.log 2>&1
}
if ! install; then
	apt-get update -q >/tmp/kstapled-deps-update.log 2>&1 || true
	if ! install; then
		tail -n 30 /tmp/kstapled-deps.log >&2
		echo "deps: apt-get install failed (log: /tmp/kstapled-deps.log)" >&2
		exit 1
	fi
fi
echo "deps: done"
