#!/usr/bin/env bash
# Prepares the browser tests' Node.js side in a build directory (never in
# the source tree), as tests/deploy/prepare_node.sh does: copies
# package.json, package-lock.json and the .mjs walk to OUT and runs `npm ci`
# there when the lock file changed. Usage: prepare_node.sh OUT
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
out=$1
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "$tool not found: run scripts/install-deps.sh" >&2; exit 1; }
done
mkdir -p "$out"
cp "$src/package.json" "$src/package-lock.json" "$src"/*.mjs "$out/"
stamp="$out/node_modules/.aims-lock.sha256"
sum=$(sha256sum "$src/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then exit 0; fi
cd "$out"
npm ci --no-audit --no-fund --loglevel=error
echo "$sum" >"$stamp"
