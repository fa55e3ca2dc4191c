#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The project's own apt configuration for one Debian suite (bookworm, trixie,
# sid), so that hwtest can fetch those suites' kernel packages without
# touching the system's apt: its own sources list, package lists, cache and
# (empty) dpkg status under ${KST_CACHE:-$HOME/.cache/kstapled}/apt/SUITE/.
# The mirror is the one this machine's apt already uses (the first
# ".../debian" URI in /etc/apt/sources.list and sources.list.d/, or
# $KST_APT_MIRROR), and every suite is checked against the Debian archive
# keyring (/usr/share/keyrings/debian-archive-keyring.gpg, package
# debian-archive-keyring). The system's sources, pinning and lists are not
# read; its apt.conf (proxies) still applies.
#
#   scripts/apt-suite.sh SUITE update         refresh the lists now
#   scripts/apt-suite.sh SUITE refresh        refresh them when older than
#                                             KST_APT_MAX_AGE seconds
#                                             (default 86400) or missing;
#                                             keep the old ones if the
#                                             mirror cannot be reached
#   scripts/apt-suite.sh SUITE apt-get ARGS   e.g. apt-get download PKG=VER
#   scripts/apt-suite.sh SUITE apt-cache ARGS e.g. apt-cache depends PKG
#   scripts/apt-suite.sh SUITE dir            print the suite's directory
#   scripts/apt-suite.sh SUITE mirror         print the mirror's URI
#
# Stable suites (bookworm, trixie) read SUITE, SUITE-updates and
# SUITE-security (the last from the same host's debian-security); sid
# reads sid only. Exit 1 with the reason on stderr on failure (no mirror
# found in the system's sources, keyring missing, update failed with no
# lists to fall back on); apt's own status otherwise.
set -euo pipefail

keyring=/usr/share/keyrings/debian-archive-keyring.gpg

die() {
	echo "apt-suite.sh: $*" >&2
	exit 1
}

# The URIs of the system's Debian sources, one per line: deb822 "URIs:"
# fields and one-line "deb URI SUITE..." entries.
system_uris() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk '$1 == "deb" { for (i = 2; i <= NF; i++)
			if ($i !~ /^\[/ && $i !~ /\]$/ && $i !~ /=/) { print $i; break } }' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f"
	done
}

# The Debian archive URI (.../debian) the machine already uses.
mirror() {
	local m
	if [ -n "${KST_APT_MIRROR:-}" ]; then
		echo "${KST_APT_MIRROR%/}"
		return 0
	fi
	m=$(system_uris | sed 's:/*$::' | grep -E '^https?://[^/]+(/.*)?/debian$' |
		head -n 1) || true
	[ -n "$m" ] || die "no Debian mirror (.../debian) in /etc/apt/sources.list*" \
		"(set KST_APT_MIRROR)"
	echo "$m"
}

# The security archive: the system's own debian-security URI, else the
# mirror's host with /debian-security.
security() {
	local m=$1 s
	s=$(system_uris | sed 's:/*$::' | grep -E '/debian-security$' |
		head -n 1) || true
	echo "${s:-${m%/debian}/debian-security}"
}

write_sources() {
	local suite=$1 m s
	m=$(mirror)
	case $suite in
	sid | unstable)
		printf 'Types: deb\nURIs: %s\nSuites: sid\nComponents: main\nSigned-By: %s\n' \
			"$m" "$keyring"
		;;
	*)
		s=$(security "$m")
		printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: %s\n\n' \
			"$m" "$suite" "$suite" "$keyring"
		printf 'Types: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: %s\n' \
			"$s" "$suite" "$keyring"
		;;
	esac
}

main() {
	local suite=${1:-} cmd=${2:-} dir new age max=${KST_APT_MAX_AGE:-86400}
	case $suite in
	bookworm | trixie | forky | sid | unstable) ;;
	*) die "usage: apt-suite.sh bookworm|trixie|sid update|refresh|apt-get|apt-cache|dir [ARGS]" ;;
	esac
	[ -n "$cmd" ] || die "usage: apt-suite.sh SUITE update|refresh|apt-get|apt-cache|dir [ARGS]"
	shift 2
	[ -r "$keyring" ] || die "$keyring missing (package debian-archive-keyring)"
	dir=${KST_CACHE:-${HOME:-/root}/.cache/kstapled}/apt/$suite
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/parts" \
		"$dir/prefs"
	[ -f "$dir/status" ] || : >"$dir/status"
	# The sources follow the system's mirror: rewritten when it changes.
	new=$(write_sources "$suite")
	if [ "$(cat "$dir/sources.sources" 2>/dev/null)" != "$new" ]; then
		printf '%s\n' "$new" >"$dir/sources.sources.tmp"
		mv "$dir/sources.sources.tmp" "$dir/sources.sources"
	fi
	local -a opts=(
		-o "Dir::Etc::SourceList=$dir/sources.sources"
		-o "Dir::Etc::SourceParts=$dir/parts"
		-o "Dir::Etc::Preferences=$dir/prefs/none"
		-o "Dir::Etc::PreferencesParts=$dir/prefs"
		-o "Dir::State=$dir"
		-o "Dir::State::Lists=$dir/lists"
		-o "Dir::State::status=$dir/status"
		-o "Dir::Cache=$dir/cache"
		-o "Dir::Cache::pkgcache=$dir/cache/pkgcache.bin"
		-o "Dir::Cache::srcpkgcache=$dir/cache/srcpkgcache.bin"
		-o "APT::Architecture=amd64"
		-o "APT::Architectures=amd64"
		-o "Acquire::Languages=none"
		-o "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false"
		-o "Acquire::Retries=1"
		-o "Acquire::http::Timeout=20"
		-o "Acquire::https::Timeout=20"
	)
	# apt's _apt sandbox cannot enter a cache under root's home
	[ "$(id -u)" != 0 ] || opts+=(-o "APT::Sandbox::User=root")
	case $cmd in
	dir) echo "$dir" ;;
	mirror) mirror ;;
	update)
		apt-get -q "${opts[@]}" update
		touch "$dir/lists/.updated"
		;;
	refresh)
		if [ -f "$dir/lists/.updated" ]; then
			age=$(($(date +%s) - $(stat -c %Y "$dir/lists/.updated")))
			[ "$age" -ge "$max" ] || return 0
		fi
		local log=$dir/update.log
		if apt-get -q "${opts[@]}" update >"$log" 2>&1 &&
			! grep -q '^[EW]:' "$log"; then
			touch "$dir/lists/.updated"
		elif [ -f "$dir/lists/.updated" ]; then
			echo "apt-suite.sh: cannot refresh $suite ($(grep -E '^[EW]:' "$log" |
				head -n 1 | cut -c1-200)); using the lists of" \
				"$(date -ur "$dir/lists/.updated" '+%F %R') UTC" >&2
		else
			die "cannot fetch the $suite lists: $(grep -E '^[EW]:' "$log" |
				head -n 1 | cut -c1-200) (log: $log)"
		fi
		;;
	apt-get | apt-cache) "$cmd" "${opts[@]}" "$@" ;;
	*) die "unknown command $cmd" ;;
	esac
}

main "$@"
