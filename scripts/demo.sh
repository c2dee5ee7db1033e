#!/usr/bin/env bash
# The aims demo: a collector, two agents (replicas of one model) and a
# synthetic credit-scoring model whose traffic drifts and turns biased.
# Ends by showing what the collector stored with aimsctl.
#   AIMS_SKIP_DEPS=1        skip the apt-get step
#   AIMS_DEMO_SECONDS=60    how long the model sends traffic
# The evaluation engine (monitoring plan, nonconformities) is a later
# milestone: once it lands the demo ends with the nonconformities it raised.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${AIMS_SKIP_DEPS:-0}" != "1" ]; then
  bash scripts/install-deps.sh
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target aims-collector aims-agent aimsctl

seconds="${AIMS_DEMO_SECONDS:-60}"
run=var/demo
rm -rf "$run"
mkdir -p "$run"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

wait_port() {  # file name
  for _ in $(seq 1 200); do
    if [ -f "$1" ] && grep -q "^$2 " "$1"; then
      awk -v n="$2" '$1 == n {print $2}' "$1"
      return 0
    fi
    sleep 0.05
  done
  echo "demo: $1 never listed a $2 port; see $run/*.log" >&2
  return 1
}

echo "== starting aims-collector (RocksDB in $run/collector, log $run/collector.log)"
build/collector/aims-collector --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --data_dir="$run/collector" --ports_file="$run/collector.ports" 2>"$run/collector.log" &
pids+=($!)
grpc=$(wait_port "$run/collector.ports" grpc)
metrics=$(wait_port "$run/collector.ports" http)
echo "   gRPC 127.0.0.1:$grpc, metrics http://127.0.0.1:$metrics/metrics"

urls=()
for n in 1 2; do
  build/agent/aims-agent --model_name=credit-scoring --model_version=v1 \
    --environment=demo --collector="127.0.0.1:$grpc" --http_listen=127.0.0.1:0 \
    --grpc_listen=127.0.0.1:0 --window=5s --pod="credit-scoring-$n" \
    --data_dir="$run/agent-$n" --ports_file="$run/agent-$n.ports" 2>"$run/agent-$n.log" &
  pids+=($!)
  port=$(wait_port "$run/agent-$n.ports" http)
  urls+=("http://127.0.0.1:$port")
  echo "== agent $n (replica credit-scoring-$n) intake http://127.0.0.1:$port/v1/events"
done

drift=$((seconds / 3))
bias=$((seconds / 2))
echo "== synthetic model: ${seconds}s of traffic; input drift from ${drift}s, bias against women from ${bias}s"
python3 deploy/demo/synthetic_model.py --agents "$(IFS=,; echo "${urls[*]}")" \
  --duration "$seconds" --drift-at "$drift" --bias-at "$bias" --rate 200

echo "== stopping the agents (each closes its last window and drains its spool)"
for i in 1 2; do kill -TERM "${pids[$i]}"; done
for i in 1 2; do wait "${pids[$i]}" || true; done

ctl() { build/collector/ctl/aimsctl --collector="127.0.0.1:$grpc" "$@"; }
echo
echo "== aimsctl models"
ctl models
echo
echo "== aimsctl agents"
ctl agents
echo
echo "== aimsctl windows (both replicas merged, per 10 s)"
ctl windows --model=credit-scoring --version=v1 --environment=demo --since=15m --step=10s
echo
echo "Logs: $run/*.log. The collector's data stays in $run/collector."
