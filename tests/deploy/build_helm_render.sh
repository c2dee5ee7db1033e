#!/usr/bin/env bash
# Builds helm_render/ (the suite's Helm template renderer) offline into OUT
# with Debian's Go and Go libraries (scripts/install-deps.sh: golang-go,
# golang-github-masterminds-sprig-dev, golang-k8s-sigs-yaml-dev), in GOPATH
# mode: Debian installs them under /usr/share/gocode/src without the /v3 of
# their import paths, so OUT/gopath adds those as symlinks.
# Usage: build_helm_render.sh OUT (writes OUT/helm-render)
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)/helm_render
out=$1
gocode=/usr/share/gocode/src
command -v go >/dev/null || { echo "go not found: run scripts/install-deps.sh (golang-go)" >&2; exit 1; }
for pkg in github.com/Masterminds/sprig github.com/Masterminds/semver sigs.k8s.io/yaml; do
  [ -d "$gocode/$pkg" ] || { echo "$gocode/$pkg missing: run scripts/install-deps.sh" >&2; exit 1; }
done
mkdir -p "$out/gopath/src/github.com/Masterminds/sprig" "$out/gopath/src/github.com/Masterminds/semver"
ln -sfn "$gocode/github.com/Masterminds/sprig" "$out/gopath/src/github.com/Masterminds/sprig/v3"
ln -sfn "$gocode/github.com/Masterminds/semver" "$out/gopath/src/github.com/Masterminds/semver/v3"
cd "$src"
GO111MODULE=off GOPATH="$out/gopath:/usr/share/gocode" GOCACHE="$out/go-cache" GOFLAGS= \
  go build -o "$out/helm-render" .
echo "built $out/helm-render ($(go version))"
