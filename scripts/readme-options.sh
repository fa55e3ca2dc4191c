#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Rewrites the option table of README.md (between the options markers)
# from `kstapled --options markdown`: scripts/readme-options.sh [KSTAPLED]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/kstapled}
table=$("$bin" --options markdown)
awk -v table="$table" '
	/<!-- options:begin -->/ { print; print table; skip = 1; next }
	/<!-- options:end -->/ { skip = 0 }
	!skip { print }
' README.md >README.md.tmp
mv README.md.tmp README.md
