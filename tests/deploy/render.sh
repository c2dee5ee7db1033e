#!/usr/bin/env bash
# Renders a kustomization to a file: render.sh DIR OUT. Uses $KUBECTL, or
# kubectl from PATH (scripts/install-deps.sh installs Debian's
# kubernetes-client when there is none).
set -euo pipefail
kubectl=${KUBECTL:-$(command -v kubectl || true)}
if [ -z "$kubectl" ] || [ ! -x "$kubectl" ]; then
  echo "kubectl not found: run scripts/install-deps.sh" >&2
  exit 1
fi
"$kubectl" version --client 2>/dev/null | head -2 || true
mkdir -p "$(dirname "$2")"
"$kubectl" kustomize "$1" >"$2.tmp"
mv "$2.tmp" "$2"
echo "rendered $1 -> $2: $(grep -c '^kind:' "$2") objects"
