#!/usr/bin/env bash
# The aims demo: a collector, two agents (replicas of one model) and a
# synthetic credit-scoring model whose traffic drifts and turns biased.
# The collector evaluates deploy/demo/plan.yaml and notifies a local
# Alertmanager (started when prometheus-alertmanager is installed). Ends by
# showing the metrics, objective states, the nonconformities raised for drift
# and bias, and the audit trail's verification, with aimsctl.
#   AIMS_SKIP_DEPS=1        skip the apt-get step
#   AIMS_DEMO_SECONDS=60    how long the model sends traffic
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
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)  # the report covers the demo's run
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

am_flag=()
am=""
if command -v prometheus-alertmanager >/dev/null; then
  am_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'route:\n  receiver: compliance\nreceivers:\n  - name: compliance\n' >"$run/alertmanager.yml"
  prometheus-alertmanager --config.file="$run/alertmanager.yml" --storage.path="$run/alertmanager" \
    --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= \
    2>"$run/alertmanager.log" &
  pids+=($!)
  am="http://127.0.0.1:$am_port"
  am_flag=(--alertmanager_url="$am")
  echo "== Alertmanager $am (log $run/alertmanager.log)"
fi

echo "== starting aims-collector (RocksDB in $run/collector, plan deploy/demo/plan.yaml, log $run/collector.log)"
build/collector/aims-collector --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --data_dir="$run/collector" --ports_file="$run/collector.ports" \
  --plan=deploy/demo/plan.yaml "${am_flag[@]}" 2>"$run/collector.log" &
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
n=${#pids[@]}
for i in $((n - 2)) $((n - 1)); do kill -TERM "${pids[$i]}"; done
for i in $((n - 2)) $((n - 1)); do wait "${pids[$i]}" || true; done
echo "== waiting one evaluation interval for the last windows"
sleep 6

ctl() { build/ctl/aimsctl --collector="127.0.0.1:$grpc" "$@"; }
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
echo "== aimsctl metrics: drift of income and parity by gender, per 20 s"
ctl metrics --model=credit-scoring --version=v1 --environment=demo --since=15m --step=20s \
  --metric=accuracy,psi,drifted_feature_share,demographic_parity_ratio | grep -v "feature=" || true
ctl metrics --model=credit-scoring --version=v1 --environment=demo --since=15m --step=20s \
  --metric=psi | grep -E "START|income" || true
echo
echo "== aimsctl objectives"
ctl objectives
echo
echo "== aimsctl nc list"
ctl nc list
first=$(ctl nc list --json | /usr/bin/python3 -c 'import json,sys; n=json.load(sys.stdin).get("nonconformities", []); print(n[0]["id"] if n else "")')
if [ -n "$first" ]; then
  echo
  echo "== aimsctl nc show $first"
  ctl nc show "$first"
  echo
  echo "== aimsctl nc ack $first (the compliance officer reacts)"
  ctl nc ack "$first" --actor=compliance-officer --comment="contained: manual review of approvals"
fi
echo
echo "== aimsctl audit verify"
ctl audit verify
echo
echo "== aimsctl report (9.1 results, 9.3 trend, open items) -> $run/report.md, $run/report.html"
ctl report --from="$started" --bucket=1m --output="$run/report.md"
ctl report --from="$started" --bucket=1m --format=html --output="$run/report.html"
sed -n '/^## 9.1 Monitoring results/,/^## 9.3/p' "$run/report.md" | grep '^| ' | head -12
if [ -n "$am" ]; then
  echo
  echo "== alerts in Alertmanager ($am/api/v2/alerts)"
  curl -s "$am/api/v2/alerts" | /usr/bin/python3 -c 'import json,sys
for a in json.load(sys.stdin):
    l = a["labels"]
    print(" ", l["alertname"], l["objective"], l.get("feature", l.get("attribute", "")), l["severity"], a["status"]["state"])'
fi
echo
echo "Logs: $run/*.log. The collector's data stays in $run/collector."
