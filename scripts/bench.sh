#!/usr/bin/env bash
# The performance harness (docs/performance.md): builds the benchmarks,
# runs every one of them, each writing JSON lines to a results directory,
# and renders the measured table of docs/performance.md from them.
#
#   bash scripts/bench.sh            full run (about 10-15 min on 2 cores)
#   bash scripts/bench.sh --quick    short durations, to smoke-test the harness
#
# Options:
#   --quick             short runs and small data (not figures to quote)
#   --only a,b          run only these groups: update, agent, rate, metrics,
#                       ingest, prometheus, query, evaluate, alert, backfill,
#                       fleet, verdicts
#                       (every group but verdicts by default: verdicts
#                       simulates 30 days of traffic through the evaluator,
#                       tests/bench/verdict_simulator.h, and takes longer than
#                       all the others together)
#   --build DIR         build directory (default build-bench)
#   --results DIR       results directory (default DIR/bench-results/<UTC time>)
#   --no-docs           do not rewrite docs/performance.md
#   --skip-build        use the binaries already built
#
# Benchmark-only packages (libsnappy-dev, the Prometheus server and
# Alertmanager, NumPy/SciPy/scikit-learn for /usr/bin/python3) are installed
# with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
only=""
build_dir="build-bench"
results=""
docs=1
skip_build=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --only) only="$2"; shift ;;
    --build) build_dir="$2"; shift ;;
    --results) results="$2"; shift ;;
    --no-docs) docs=0 ;;
    --skip-build) skip_build=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

want() {
  if [ -z "$only" ]; then [ "$1" != verdicts ]; else [[ ",$only," == *",$1,"* ]]; fi
}

# Benchmark-only Debian packages.
missing=()
for p in libsnappy-dev prometheus prometheus-alertmanager python3-numpy python3-scipy \
         python3-sklearn libbenchmark-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

targets=(aims-agent aims-collector aimsctl window_accumulator_bench intake_bench collector_bench
         metrics_bench agent_load remote_write_bench verdict_simulator)
if [ "$skip_build" = 0 ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DAIMS_BUILD_TESTS=OFF -DAIMS_BUILD_BENCHMARKS=ON > /dev/null
  cmake --build "$build_dir" --target "${targets[@]}" -- -j2
fi
bin="$(cd "$build_dir" && pwd)"

if [ -z "$results" ]; then
  results="$build_dir/bench-results/$(date -u +%Y%m%dT%H%M%SZ)"
fi
mkdir -p "$results"
results="$(cd "$results" && pwd)"
data_dir="$build_dir/bench-data"
mkdir -p "$data_dir"

if [ "$quick" = 1 ]; then
  gb_min_time=0.2; gb_reps=1
  agent_seconds=3; rate_seconds=5
  metrics_rows=100000; metrics_ref_rows=20000; metrics_repeat=1
  ingest_seconds=5; compare_reports=50; backfill_rows=100000
  queries=20; trials=2
  verdict_days=1; verdict_shift_runs=1; verdict_shift_horizon=2h
else
  gb_min_time=2; gb_reps=5
  agent_seconds=15; rate_seconds=30
  metrics_rows=1000000; metrics_ref_rows=100000; metrics_repeat=3
  ingest_seconds=20; compare_reports=1000; backfill_rows=1000000
  queries=100; trials=5
  verdict_days=30; verdict_shift_runs=3; verdict_shift_horizon=22h
fi

failed=()
# run NAME COMMAND...: runs one benchmark, its stdout (JSON lines) to
# $results/NAME.jsonl, the command to commands.txt.
run() {
  local name="$1"
  shift
  echo "== $name: $*"
  echo "$name: $*" | sed "s|$bin|\$BUILD|g" >> "$results/commands.txt"
  local start=$(date +%s)
  if "$@" > "$results/$name.jsonl" 2> "$results/$name.log"; then
    cat "$results/$name.jsonl"
  else
    echo "!! $name failed (exit $?); see $results/$name.log" >&2
    tail -5 "$results/$name.log" >&2 || true
    failed+=("$name")
  fi
  echo "   ($(( $(date +%s) - start )) s)"
}

py=/usr/bin/python3
report="$py tests/bench/bench_report.py"
{
  echo "{\"quick\": $quick, \"started\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo " \"commit\": \"$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!docs/performance.md' || echo '+changes')\","
  echo " \"nproc\": $(nproc), \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')\","
  echo " \"mem_gib\": $(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo),"
  echo " \"kernel\": \"$(uname -r)\", \"os\": \"$(. /etc/os-release; echo "$PRETTY_NAME")\","
  echo " \"loadavg_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
  echo " \"compiler\": \"$(c++ --version | head -1)\"}"
} > "$results/machine.json"

if want update; then
  run update_path "$bin/tests/window_accumulator_bench" --benchmark_min_time="$gb_min_time" \
    --benchmark_repetitions="$gb_reps" --benchmark_report_aggregates_only=true \
    --benchmark_format=json
  # The JSON intake's parse and fold without the network, CPU per event.
  run intake_parse "$bin/tests/intake_bench" --benchmark_min_time="$gb_min_time" \
    --benchmark_repetitions="$gb_reps" --benchmark_report_aggregates_only=true \
    --benchmark_format=json
  for g in update_path intake_parse; do
    if [ -s "$results/$g.jsonl" ]; then
      $report gbench "$results/$g.jsonl" > "$results/$g.tmp" &&
        mv "$results/$g.tmp" "$results/$g.jsonl"
    fi
  done
fi

load=("$bin/tests/agent_load" --agent_bin="$bin/agent/aims-agent"
      --collector_bin="$bin/collector/aims-collector")
if want agent; then
  run agent_http "${load[@]}" --mode=throughput --intake=http --batch=500 --connections=4 \
    --seconds="$agent_seconds"
  run agent_grpc "${load[@]}" --mode=throughput --intake=grpc --batch=500 --connections=4 \
    --seconds="$agent_seconds"
fi
if want rate; then
  # 100 features (90 numeric, 10 categorical), batches of 100.
  for r in 1000 10000 100000; do
    run "agent_rate_$r" "${load[@]}" --mode=rate --intake=http --rate="$r" --batch=100 \
      --connections=4 --numeric=90 --categorical=10 --seconds="$rate_seconds" \
      --name="agent_rate_$r"
  done
fi

if want metrics; then
  ds="$data_dir/metrics-$metrics_rows-$metrics_ref_rows"
  if [ ! -f "$ds/dataset.json" ]; then
    echo "== generating the metrics data set in $ds"
    $py tests/bench/metrics_baseline.py generate "$ds" --rows "$metrics_rows" \
      --reference-rows "$metrics_ref_rows" > /dev/null
  fi
  run metrics_python $py tests/bench/metrics_baseline.py baseline "$ds" \
    "$results/metrics_python_values.json" --repeat "$metrics_repeat"
  run metrics_python_numpy $py tests/bench/metrics_baseline.py baseline "$ds" \
    "$results/metrics_python_numpy_values.json" --repeat "$metrics_repeat" --style numpy
  run metrics_aims "$bin/tests/metrics_bench" --data="$ds" \
    --out="$results/metrics_aims_values.json" \
    --out_parallel="$results/metrics_aims_parallel_values.json" \
    --repeat="$metrics_repeat" --threads=2
  for pair in aims:python aims:python_numpy aims_parallel:python; do
    a="$results/metrics_${pair%%:*}_values.json"
    p="$results/metrics_${pair##*:}_values.json"
    if [ -f "$a" ] && [ -f "$p" ]; then
      run "metrics_compare_${pair/:/_vs_}" $py tests/bench/metrics_baseline.py compare "$a" "$p"
    fi
  done
fi

if want backfill; then
  # aimsctl backfill of a day of events (JSON lines) into a fresh collector,
  # labels inline.
  run backfill bash tests/bench/backfill_bench.sh "$bin" "$data_dir" "$backfill_rows"
  # The same without labels: every row leaves a join record.
  run backfill_delayed bash tests/bench/backfill_bench.sh "$bin" "$data_dir" \
    "$backfill_rows" delayed
fi
if want ingest; then
  run collector_ingest "$bin/tests/collector_bench" --mode=ingest --agents=1000 --in_flight=4 \
    --seconds="$ingest_seconds"
fi
if want prometheus; then
  # The same number of samples through aims (as reports) and Prometheus.
  run collector_ingest_compare "$bin/tests/collector_bench" --mode=ingest --agents=100 \
    --in_flight=4 --reports="$compare_reports" --name=collector_ingest_compare
  samples=$($py -c 'import json,sys; print(int(json.loads(open(sys.argv[1]).readline())["samples_equivalent"]))' \
    "$results/collector_ingest_compare.jsonl" 2>/dev/null || echo 0)
  if [ "$samples" -gt 0 ]; then
    run prometheus_remote_write "$bin/tests/remote_write_bench" --samples="$samples" \
      --series=100000 --samples_per_request=2000 --connections=4
  fi
fi
if want query; then
  run collector_query "$bin/tests/collector_bench" --mode=query --replicas=10 --queries="$queries"
fi
if want evaluate; then
  run collector_evaluate "$bin/tests/collector_bench" --mode=evaluate --models=100 --objectives=10000
fi
if want alert; then
  run collector_alert "$bin/tests/collector_bench" --mode=alert --trials="$trials"
fi

if want fleet; then
  # etcd and 1, 2 and 3 collector processes in fleet mode (all on this
  # machine's cores): ingest, then SIGKILL of one and the takeover time.
  for n in 1 2 3; do
    run "collector_fleet_$n" "$bin/tests/collector_bench" --mode=fleet --collectors="$n" \
      --agents=1000 --in_flight=4 --seconds="$ingest_seconds" \
      --collector_bin="$bin/collector/aims-collector"
  done
fi

if want verdicts; then
  # False drift nonconformities per 30 days and detection delays of the
  # production plan's drift objectives (deploy/k8s/base/plan.yaml) and a
  # point-decision psi/drifted_feature_share plan; a markdown table and
  # JSON lines (about 35 min on 2 busy cores).
  run verdicts "$bin/tests/verdict_simulator" --days="$verdict_days" --scenario=all \
    --shift_repetitions="$verdict_shift_runs" --shift_horizon="$verdict_shift_horizon" \
    --plan="$PWD/deploy/k8s/base/plan.yaml,builtin:psi-point" --drift_only --json
fi

echo "loadavg_end $(cut -d' ' -f1-3 /proc/loadavg)" >> "$results/commands.txt"
args=(render "$results")
if [ "$docs" = 1 ]; then
  args+=(--doc docs/performance.md)
fi
$report "${args[@]}"
echo "results: $results"
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
