#!/usr/bin/env bash
# Prepares the Node.js side of the deploy checks in a build directory (never
# in the source tree): copies package.json, package-lock.json and the .mjs
# checks to OUT and runs `npm ci` there when the lock file changed since the
# last install. Usage: prepare_node.sh OUT
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
out=$1
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "$tool not found: run scripts/install-deps.sh" >&2; exit 1; }
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "node $(node --version) is too old: the checks need 18 or newer" >&2
  exit 1
fi
mkdir -p "$out"
cp "$src/package.json" "$src/package-lock.json" "$src"/*.mjs "$out/"
stamp="$out/node_modules/.aims-lock.sha256"
sum=$(sha256sum "$src/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
  echo "node_modules in $out matches package-lock.json"
  exit 0
fi
cd "$out"
npm ci --no-audit --no-fund --loglevel=error
echo "$sum" >"$stamp"
echo "installed node_modules in $out (node $(node --version))"
