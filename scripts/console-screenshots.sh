#!/usr/bin/env bash
# Copies the browser test's screenshots (ctest -R console.browser_walk) into
# docs/console/, the pictures of docs/console.md. Screenshots of failed steps
# are left out.
#   scripts/console-screenshots.sh [BUILD_DIR]   (default: build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shots="${1:-$root/build}/tests/console/screenshots"
[ -d "$shots" ] || { echo "no $shots: run ctest -R console.browser_walk first" >&2; exit 1; }
mkdir -p "$root/docs/console"
n=0
for f in "$shots"/*.png; do
  case "$(basename "$f")" in failed-*) continue ;; esac
  cp "$f" "$root/docs/console/"
  n=$((n + 1))
done
echo "copied $n screenshots to docs/console/"
