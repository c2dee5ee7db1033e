#!/usr/bin/env bash
# Installs every build and test dependency of aims from Debian's packages.
# Idempotent; runs as root without prompts. Nothing is downloaded outside apt.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang clang-format libclang-rt-dev lld
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev librocksdb-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsimdjson-dev libcpp-httplib-dev libyaml-cpp-dev libssl-dev libcli11-dev
  libboost-dev
  prometheus prometheus-alertmanager
  python3-numpy python3-scipy python3-sklearn
  python3-venv python3-pandas mypy  # tests/python: pip install into a venv, DataFrames, types
  curl procps openssl
  chromium  # tests/console drives it headless through the browser console
  etcd-server  # tests/integration/fleet_*_test.cc: the fleet mode's engine
  firefox-esr  # tests/console: the same walk in Firefox (WebDriver BiDi)
  # tests/deploy renders the Helm chart with Go's text/template and sprig.
  golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# For tests/deploy: kubectl (for `kubectl kustomize`) and Node.js with npm.
# Installed only when the command is missing: a newer kubectl or node already
# on the machine is kept. Debian's kubernetes-client is kubectl 1.20 with
# kustomize v2.0.3; deploy/k8s uses only what that version understands.
command -v kubectl >/dev/null || missing+=(kubernetes-client)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
