#!/usr/bin/env bash
# The README's test command and what CI runs (.ci/run). Installs the
# dependencies, then:
#   release   Release build (gcc) with tests; the whole ctest suite.
#   sanitize  one clang build (DIR-san) with ASan+UBSan, -Werror=thread-safety
#             (clang checks the ABSL_GUARDED_BY annotations) and the libFuzzer
#             targets; the whole ctest suite again under ASan+UBSan (but
#             the tests listed in asan_skip below, which run no C++ of ours
#             or only statistics over code tested under ASan already). Any
#             sanitizer report fails the run, also one written by a binary an
#             integration test started (reports go to DIR-san/sanitizer-logs).
#   fuzz      every target of tests/fuzz for AIMS_FUZZ_SECONDS on a copy of
#             its corpus (tests/fuzz/corpus/<target>), nproc at a time. A crash,
#             leak, timeout or sanitizer report fails the run; the input is
#             left in DIR-san/fuzz/<target>-artifacts/ (add it to the corpus
#             once fixed).
# Every step prints its time and a summary closes the run.
#
# Switches (environment):
#   AIMS_SKIP_DEPS=1      skip the apt-get step (dependencies already there)
#   AIMS_BUILD_DIR=DIR    Release build directory (default: build); the clang
#                         build is DIR-san, the optional TSan build DIR-tsan
#   AIMS_SKIP_RELEASE=1   skip the Release build and its suite
#   AIMS_SKIP_SANITIZE=1  skip the suite under ASan+UBSan
#   AIMS_SKIP_TSA=1       build DIR-san without -Werror=thread-safety
#   AIMS_SKIP_FUZZ=1      skip fuzzing
#   AIMS_FUZZ_SECONDS=N   fuzzing time per target (default 25)
#   AIMS_TSAN=1           also build with TSan (DIR-tsan) and run the suite
#                         under it, with tests/tsan.supp (not in CI: slow)
#   AIMS_JOBS=N           parallel tests and fuzzers (default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

jobs="${AIMS_JOBS:-$(nproc)}"
build_dir="${AIMS_BUILD_DIR:-build}"
san_dir="$build_dir-san"
tsan_dir="$build_dir-tsan"
fuzz_seconds="${AIMS_FUZZ_SECONDS:-25}"
skip() { [ "${!1:-0}" = "1" ]; }

summary=()
step_start=0
begin() { step_start=$(date +%s); echo "=== $1"; }
end() {
  local took=$(($(date +%s) - step_start))
  summary+=("$(printf '%-34s %5d s' "$1" "$took")")
  echo "=== $1 took $took s"
}
print_summary() {
  echo "=== summary"
  printf '%s\n' "${summary[@]}"
}
trap print_summary EXIT

if ! skip AIMS_SKIP_DEPS; then
  begin "dependencies"
  bash scripts/install-deps.sh
  end "dependencies (apt)"
fi

if ! skip AIMS_SKIP_RELEASE; then
  begin "Release build"
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DAIMS_BUILD_TESTS=ON
  cmake --build "$build_dir"
  end "Release build (gcc)"
  begin "Release suite"
  ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 300
  end "Release suite"
fi

# Sanitizer reports of every process (tests and the binaries they start) go
# to files in $1; prints them and fails when there are any.
sanitizer_env() {
  local logs=$1
  rm -rf "$logs" && mkdir -p "$logs"
  export ASAN_OPTIONS="log_path=$logs/asan:detect_leaks=1"
  export UBSAN_OPTIONS="log_path=$logs/ubsan:print_stacktrace=1:halt_on_error=1"
  export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
}
check_sanitizer_logs() {
  local logs=$1
  if compgen -G "$logs/*" >/dev/null; then
    echo "sanitizer reports in $logs:"
    for f in "$logs"/*; do
      echo "--- $f"
      cat "$f"
    done
    return 1
  fi
}

if ! skip AIMS_SKIP_SANITIZE || ! skip AIMS_SKIP_FUZZ || ! skip AIMS_SKIP_TSA; then
  tsa=ON
  skip AIMS_SKIP_TSA && tsa=OFF
  # -O1 and line tables: fast enough, readable stacks, assertions kept.
  targets=()
  if skip AIMS_SKIP_SANITIZE; then
    skip AIMS_SKIP_FUZZ || for d in tests/fuzz/corpus/*/; do
      targets+=("$(basename "$d")_fuzz")
    done
    [ "$tsa" = OFF ] || targets+=(aims-collector aims-agent aimsctl)
  fi
  begin "clang build"
  CXX=clang++ cmake -S . -B "$san_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
    -DAIMS_BUILD_TESTS=ON -DAIMS_BUILD_FUZZERS=ON -DAIMS_SANITIZE=address \
    -DAIMS_THREAD_SAFETY=$tsa
  if [ ${#targets[@]} -eq 0 ]; then
    cmake --build "$san_dir"
  else
    cmake --build "$san_dir" --target "${targets[@]}"
  fi
  end "clang build (ASan+UBSan, TSA=$tsa, fuzzers)"
fi

asan_skip='^(deploy|promtool|amtool|layout|help)\.|^console\.(browser_walk_firefox|text_helpers)$'
asan_skip+='|^python\.typecheck$|^VerdictSimulationTest\.'
if ! skip AIMS_SKIP_SANITIZE; then
  begin "suite under ASan+UBSan"
  (
    sanitizer_env "$root/$san_dir/sanitizer-logs"
    # Left to the Release suite: tests that run none of our C++ (deploy
    # manifests, Prometheus rules, Alertmanager routes, layout and help
    # checks, Python type checks), the Firefox walk (a second browser; the
    # server paths it drives are the Chromium walk's) and the verdict
    # simulations (statistics over simulated days; the evaluator code they
    # run is the evaluator tests', which do run under ASan).
    ctest --test-dir "$san_dir" --output-on-failure -j "$jobs" --timeout 600 \
      -E "$asan_skip"
  ) || { check_sanitizer_logs "$san_dir/sanitizer-logs" || true; exit 1; }
  check_sanitizer_logs "$san_dir/sanitizer-logs"
  end "suite under ASan+UBSan"
fi

if ! skip AIMS_SKIP_FUZZ; then
  begin "fuzzing, ${fuzz_seconds} s per target"
  fuzz="$root/$san_dir/fuzz"
  rm -rf "$fuzz" && mkdir -p "$fuzz"
  # Runs one target on a copy of its corpus; its log is $fuzz/<target>.log.
  fuzz_one() {
    local t=$1
    cp -r "tests/fuzz/corpus/$t" "$fuzz/$t-corpus"
    mkdir -p "$fuzz/$t-artifacts"
    if "$san_dir/tests/${t}_fuzz" -max_total_time="$fuzz_seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$fuzz/$t-artifacts/" "$fuzz/$t-corpus" \
      >"$fuzz/$t.log" 2>&1; then
      echo ok >"$fuzz/$t.status"
    else
      echo "failed (exit $?)" >"$fuzz/$t.status"
    fi
  }
  fuzz_targets=()
  for d in tests/fuzz/corpus/*/; do fuzz_targets+=("$(basename "$d")"); done
  for t in "${fuzz_targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    fuzz_one "$t" &
  done
  wait
  failed=0
  for t in "${fuzz_targets[@]}"; do
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$fuzz/$t.log")
    added=$(sed -n 's/^stat::new_units_added: *//p' "$fuzz/$t.log")
    status=$(cat "$fuzz/$t.status")
    printf 'fuzz %-12s %-16s %10s runs, %5s new inputs\n' "$t" "$status" \
      "${runs:-?}" "${added:-?}"
    if [ "$status" != ok ]; then
      failed=1
      tail -n 60 "$fuzz/$t.log"
      for a in "$fuzz/$t-artifacts"/*; do
        [ -f "$a" ] || continue
        echo "--- input $a (hex):"
        od -A d -t x1 "$a" | head -n 40
      done
    fi
  done
  [ "$failed" = 0 ] || exit 1
  end "fuzzing (${#fuzz_targets[@]} targets x ${fuzz_seconds} s)"
fi

if [ "${AIMS_TSAN:-0}" = "1" ]; then
  begin "TSan build"
  CXX=clang++ cmake -S . -B "$tsan_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
    -DAIMS_BUILD_TESTS=ON -DAIMS_SANITIZE=thread
  cmake --build "$tsan_dir"
  end "TSan build"
  begin "suite under TSan"
  logs="$root/$tsan_dir/sanitizer-logs"
  rm -rf "$logs" && mkdir -p "$logs"
  TSAN_OPTIONS="log_path=$logs/tsan:suppressions=$root/tests/tsan.supp:second_deadlock_stack=1" \
    ctest --test-dir "$tsan_dir" --output-on-failure -j "$jobs" --timeout 900 ||
    { check_sanitizer_logs "$logs" || true; exit 1; }
  check_sanitizer_logs "$logs"
  end "suite under TSan"
fi
