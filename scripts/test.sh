#!/usr/bin/env bash
# Installs dependencies, builds aims (Release, with tests) and runs the whole
# suite with ctest. This is the README's test command and what CI runs.
#   AIMS_SKIP_DEPS=1   skip the apt-get step (dependencies already there)
#   AIMS_BUILD_DIR=DIR build directory (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${AIMS_SKIP_DEPS:-0}" != "1" ]; then
  bash scripts/install-deps.sh
fi

build_dir="${AIMS_BUILD_DIR:-build}"
start=$(date +%s)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DAIMS_BUILD_TESTS=ON
cmake --build "$build_dir"
built=$(date +%s)
echo "build took $((built - start)) s"

ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" --timeout 300
echo "tests took $(( $(date +%s) - built )) s"
