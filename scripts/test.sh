#!/usr/bin/env bash
# Installs dependencies, builds aims (Release, with tests) and runs the whole
# suite with ctest. This is the README's test command and what CI runs.
#   AIMS_SKIP_DEPS=1   skip the apt-get step (dependencies already there)
#   AIMS_BUILD_DIR=DIR build directory (default: build)
#   AIMS_SKIP_TSA=1    skip clang's -Wthread-safety build of the binaries
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
tested=$(date +%s)
echo "tests took $((tested - built)) s"

# Lock annotations (ABSL_GUARDED_BY, ...) are only checked by clang: compile
# the binaries once more with -Werror=thread-safety (unoptimised: analysis only).
if [ "${AIMS_SKIP_TSA:-0}" != "1" ]; then
  CXX=clang++ cmake -S . -B "$build_dir-tsa" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DAIMS_BUILD_TESTS=OFF -DAIMS_THREAD_SAFETY=ON
  cmake --build "$build_dir-tsa" --target aims-collector aims-agent aimsctl
  echo "thread-safety build took $(( $(date +%s) - tested )) s"
fi
