#!/usr/bin/env bash
# scripts/demo.sh on the suite's binaries (AIMS_SKIP_BUILD=1, a short run in
# a temporary directory): missing binaries are named; a normal run tours the
# stack, credits late labels to earlier windows (their label coverage rises),
# prints the console's address and stops the agents before the collector; --keep-up leaves the stack (and the console) serving until
# SIGTERM, then stops the model, the agents and the collector in that order.
#   demo_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
source_dir="$1" build_dir="$2"
dir=$(mktemp -d)
demo=""
trap '[ -n "$demo" ] && kill -TERM "$demo" 2>/dev/null; wait; rm -rf "$dir"' EXIT
failed=0
fail() { echo "FAIL $*"; failed=1; }
demo_env=(env AIMS_SKIP_DEPS=1 AIMS_SKIP_BUILD=1 AIMS_DEMO_SECONDS=6)
ctl="$build_dir/ctl/aimsctl"

# The agents' "agent stopped" lines come before the collector's.
stopped_in_order() {  # run directory
  local c a
  c=$(grep -h 'msg="collector stopped"' "$1/collector.log" | cut -d' ' -f1)
  [ -n "$c" ] || { fail "$1: the collector did not stop cleanly"; return; }
  for n in 1 2; do
    a=$(grep -h 'msg="agent stopped" drained=true' "$1/agent-$n.log" | cut -d' ' -f1)
    [ -n "$a" ] || { fail "$1: agent $n did not stop cleanly"; continue; }
    [[ "$a" < "$c" || "$a" == "$c" ]] || fail "$1: agent $n stopped ($a) after the collector ($c)"
  done
}

# 1. No binaries where AIMS_BIN_DIR says: a message naming it, no cmake.
out=$("${demo_env[@]}" AIMS_BIN_DIR="$dir/none" AIMS_DEMO_DIR="$dir/run0" \
  bash "$source_dir/scripts/demo.sh" 2>&1) && fail "missing binaries: exit 0"
grep -qF "no aims-collector in $dir/none" <<<"$out" || fail "missing binaries: $out"

# 2. A normal run.
"${demo_env[@]}" AIMS_BIN_DIR="$build_dir" AIMS_DEMO_DIR="$dir/run1" \
  bash "$source_dir/scripts/demo.sh" >"$dir/run1.out" 2>&1 || fail "run: exit $?"
grep -q "audit trail intact" "$dir/run1.out" || fail "run: no audit verification"
[ -s "$dir/run1/report.md" ] || fail "run: no report"
grep -q "try next" "$dir/run1.out" && fail "run: printed the keep-up hints"
http1=$(awk '$1 == "http" {print $2}' "$dir/run1/collector.ports")
grep -qF "== The console: http://127.0.0.1:$http1/" "$dir/run1.out" || fail "run: no console address"
stopped_in_order "$dir/run1"
# The late labels are credited to earlier windows: a window listed before
# them has a higher label coverage after them.
rose=$(awk '
  /before the late labels/ {part = 1; next}
  /== the same windows now/ {part = 2; next}
  /^== / {part = 0}
  part && $2 == "label_coverage" && $4 != "-" {
    if (part == 1) before[$1] = $4
    else if (($1 in before) && $4 + 0 > before[$1] + 0) rose++
  }
  END {print rose + 0}' "$dir/run1.out")
[ "$rose" -gt 0 ] || fail "run: no earlier window's label coverage rose with the late labels"

# 3. --keep-up: serving after the tour, until SIGTERM.
"${demo_env[@]}" AIMS_BIN_DIR="$build_dir" AIMS_DEMO_DIR="$dir/run2" \
  bash "$source_dir/scripts/demo.sh" --keep-up >"$dir/run2.out" 2>&1 &
demo=$!
for _ in $(seq 1 120); do
  grep -q "try next" "$dir/run2.out" && break
  kill -0 "$demo" 2>/dev/null || break
  sleep 1
done
grep -q "try next" "$dir/run2.out" || fail "keep-up: no hints"
grpc=$(awk '$1 == "grpc" {print $2}' "$dir/run2/collector.ports")
grep -qF "export AIMS_COLLECTOR=127.0.0.1:$grpc" "$dir/run2.out" || fail "keep-up: no collector address"
agents=$("$ctl" --collector="127.0.0.1:$grpc" agents) || fail "keep-up: collector down"
[ "$(grep -c ' yes ' <<<"$agents")" = 2 ] || fail "keep-up: agents not connected: $agents"
http=$(awk '$1 == "http" {print $2}' "$dir/run2/collector.ports")
grep -qF "Console (browser): http://127.0.0.1:$http/" "$dir/run2.out" || fail "keep-up: no console address"
page=$(curl -s -i "http://127.0.0.1:$http/") || fail "keep-up: the console does not answer"
grep -q "^Content-Security-Policy: default-src 'none'" <<<"$page" || fail "keep-up: console without its CSP"
grep -q '<script type="module" src="/console/app.js">' <<<"$page" || fail "keep-up: not the console page"
kill -TERM "$demo"
wait "$demo"
code=$?
demo=""
[ "$code" = 0 ] || fail "keep-up: exit $code after SIGTERM"
"$ctl" --collector="127.0.0.1:$grpc" --timeout=2s models >/dev/null 2>&1 &&
  fail "keep-up: the collector still answers after SIGTERM"
stopped_in_order "$dir/run2"
if [ "$failed" != 0 ]; then
  for f in "$dir"/run*.out; do echo "== $f"; tail -40 "$f"; done
fi
exit "$failed"
