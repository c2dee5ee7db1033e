#!/usr/bin/env bash
# The aims demo: a collector, two agents (replicas of one model) and a
# synthetic credit-scoring model whose traffic drifts and turns biased.
# The collector evaluates deploy/demo/plan.yaml and notifies a local
# Alertmanager (started when prometheus-alertmanager is installed). Ends by
# showing the metrics, objective states, the nonconformities raised for drift
# and bias, and the audit trail's verification, with aimsctl.
#   AIMS_SKIP_DEPS=1        skip the apt-get step
#   AIMS_SKIP_BUILD=1       no cmake: use the binaries already in AIMS_BIN_DIR
#   AIMS_BIN_DIR=build      the build tree (or one directory holding
#                           aims-collector, aims-agent and aimsctl)
#   AIMS_DEMO_SECONDS=60    how long the model sends traffic
#   AIMS_DEMO_DIR=var/demo  data, logs and reports of the run (emptied first)
#   AIMS_KEEP_UP=1 or --keep-up: after the tour keep everything running, the
#                           model's traffic too, print what to try next, and
#                           stop on Ctrl-C. The default when the output is a
#                           terminal; AIMS_KEEP_UP=0 ends after the tour.
# Ends by printing the address of the browser console (docs/console.md).
# Stops the model, then the agents (SIGTERM: each closes its last window and
# drains its spool), then the collector and Alertmanager.
set -euo pipefail

keep_up="${AIMS_KEEP_UP:-}"
if [ -z "$keep_up" ]; then
  if [ -t 1 ]; then keep_up=1; else keep_up=0; fi
fi
for arg in "$@"; do
  case "$arg" in
    --keep-up) keep_up=1 ;;
    *) echo "demo: unknown argument '$arg' (--keep-up is the only one)" >&2; exit 2 ;;
  esac
done
# Relative directories are relative to where the demo was started.
bin_dir=$(realpath -m "${AIMS_BIN_DIR:-$(dirname "$0")/../build}")
run=$(realpath -m "${AIMS_DEMO_DIR:-$(dirname "$0")/../var/demo}")
cd "$(dirname "$0")/.."

if [ "${AIMS_SKIP_DEPS:-0}" != "1" ]; then
  bash scripts/install-deps.sh
fi
if [ "${AIMS_SKIP_BUILD:-0}" != "1" ]; then
  # A build tree configured for another checkout (a copied tree) cannot be
  # reused by cmake; say so rather than fail inside cmake.
  cache="$bin_dir/CMakeCache.txt"
  if [ -f "$cache" ]; then
    home=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$cache")
    if [ -n "$home" ] && [ "$(realpath -m "$home")" != "$PWD" ]; then
      echo "demo: $bin_dir was configured for $home, not $PWD; remove it," \
        "set AIMS_BIN_DIR to another directory, or AIMS_SKIP_BUILD=1 to use its binaries" >&2
      exit 1
    fi
  fi
  cmake -S . -B "$bin_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$bin_dir" --target aims-collector aims-agent aimsctl
fi
binary() {  # name subdirectory of the build tree
  local p
  for p in "$bin_dir/$2/$1" "$bin_dir/$1"; do
    if [ -x "$p" ]; then echo "$p"; return 0; fi
  done
  echo "demo: no $1 in $bin_dir (looked for $bin_dir/$2/$1 and $bin_dir/$1);" \
    "build it or point AIMS_BIN_DIR at the build tree" >&2
  return 1
}
collector_bin=$(binary aims-collector collector)
agent_bin=$(binary aims-agent agent)
ctl_bin=$(binary aimsctl ctl)

seconds="${AIMS_DEMO_SECONDS:-60}"
rm -rf "$run"
mkdir -p "$run"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)  # the report covers the demo's run
am_pid="" collector_pid="" model_pid=""
agent_pids=()
stop() {  # pid...: SIGTERM, then wait for each
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}
cleanup() {
  trap - EXIT INT TERM
  # Traffic and agents before the collector, so that the agents deliver
  # their last windows to it.
  [ -n "$model_pid" ] && stop "$model_pid"
  [ ${#agent_pids[@]} -gt 0 ] && stop "${agent_pids[@]}"
  [ -n "$collector_pid" ] && stop "$collector_pid"
  [ -n "$am_pid" ] && stop "$am_pid"
  model_pid="" collector_pid="" am_pid=""
  agent_pids=()
}
trap cleanup EXIT
trap 'cleanup; exit 0' INT TERM

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
  am_pid=$!
  am="http://127.0.0.1:$am_port"
  am_flag=(--alertmanager_url="$am")
  echo "== Alertmanager $am (log $run/alertmanager.log)"
fi

echo "== starting aims-collector (RocksDB in $run/collector, plan deploy/demo/plan.yaml, log $run/collector.log)"
"$collector_bin" --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --data_dir="$run/collector" --ports_file="$run/collector.ports" \
  --plan=deploy/demo/plan.yaml "${am_flag[@]}" 2>"$run/collector.log" &
collector_pid=$!
grpc=$(wait_port "$run/collector.ports" grpc)
metrics=$(wait_port "$run/collector.ports" http)
echo "   gRPC 127.0.0.1:$grpc, metrics http://127.0.0.1:$metrics/metrics"

urls=()
for n in 1 2; do
  "$agent_bin" --model_name=credit-scoring --model_version=v1 \
    --environment=demo --collector="127.0.0.1:$grpc" --http_listen=127.0.0.1:0 \
    --grpc_listen=127.0.0.1:0 --window=5s --pod="credit-scoring-$n" \
    --data_dir="$run/agent-$n" --ports_file="$run/agent-$n.ports" 2>"$run/agent-$n.log" &
  agent_pids+=($!)
  port=$(wait_port "$run/agent-$n.ports" http)
  urls+=("http://127.0.0.1:$port")
  echo "== agent $n (replica credit-scoring-$n) intake http://127.0.0.1:$port/v1/events"
done
agents=$(IFS=,; echo "${urls[*]}")

drift=$((seconds / 3))
bias=$((seconds / 2))
echo "== synthetic model: ${seconds}s of traffic; input drift from ${drift}s, bias against women from ${bias}s"
echo "   half the events carry their label; the labels of 40 % more come later"
python3 deploy/demo/synthetic_model.py --agents "$agents" \
  --duration "$seconds" --drift-at "$drift" --bias-at "$bias" --rate 200 \
  --late-label-fraction 0.4 --late-labels "$run/late-labels.jsonl"

if [ "$keep_up" = "1" ]; then
  echo "== the model keeps sending (drifted and biased) traffic, 50 events/s (log $run/model.log)"
  python3 deploy/demo/synthetic_model.py --agents "$agents" --duration 31536000 \
    --drift-at 0 --bias-at 0 --rate 50 --seed 8 2>"$run/model.log" &
  model_pid=$!
else
  echo "== stopping the agents (each closes its last window and drains its spool)"
  stop "${agent_pids[@]}"
  agent_pids=()
fi
echo "== waiting one evaluation interval for the last windows"
sleep 6

ctl() { "$ctl_bin" --collector="127.0.0.1:$grpc" "$@"; }
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
echo "== aimsctl metrics: accuracy and label coverage per 20 s, before the late labels"
labels_table() {
  ctl metrics --model=credit-scoring --version=v1 --environment=demo --since=15m --step=20s \
    --metric=accuracy,label_coverage | grep -v "slice" || true
}
labels_table
echo
echo "== the late labels arrive at the collector's label join (POST /v1/labels),"
echo "   each credited to the window of its prediction, not to the window now"
python3 deploy/demo/synthetic_model.py --send-labels "$run/late-labels.jsonl" \
  --collector-http "http://127.0.0.1:$metrics" --model credit-scoring --environment demo
# The labels are durable in the join when it answers; their windows are
# recomputed about once a second: wait (at most 15 s) until none is left.
for _ in $(seq 1 60); do
  dirty=$(curl -s "http://127.0.0.1:$metrics/metrics" |
    awk '$1 ~ /^aims_collector_label_windows_dirty/ {print $2 + 0}' || true)
  [ "$dirty" = "0" ] && break
  sleep 0.25
done
[ "$dirty" = "0" ] || echo "   (windows still being recomputed: $dirty)"
echo "== the same windows now: more of them labelled, accuracy on all their labels"
labels_table
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
console="http://127.0.0.1:$metrics/"
echo
echo "== The console: $console"
echo "   (an open collector, no tokens file: no sign-in; type your name at the top"
echo "   right and it is written to the audit trail with each action)"
if [ "$keep_up" != "1" ]; then
  exit 0
fi

echo
echo "== The stack is up; try next (Ctrl-C stops the model, the agents, then the collector):"
echo "  export AIMS_COLLECTOR=127.0.0.1:$grpc"
echo "  $ctl_bin objectives"
echo "  $ctl_bin nc list"
if [ -n "$first" ]; then
  echo "  $ctl_bin nc show $first"
  echo "  $ctl_bin nc analyse $first --comment=\"income fell after a campaign\""
fi
cat <<EOF
  $ctl_bin metrics --model=credit-scoring --version=v1 --environment=demo --since=10m --step=1m --metric=latency_p99,psi
  $ctl_bin windows --model=credit-scoring --version=v1 --environment=demo --since=10m --step=1m
  $ctl_bin audit verify
  Console (browser): $console
  Collector metrics: http://127.0.0.1:$metrics/metrics
  Agents: ${urls[0]}/metrics, ${urls[1]}/metrics (intake: POST /v1/events)
EOF
if [ -n "$am" ]; then echo "  Alertmanager: $am/#/alerts"; fi
echo "  Logs: $run/*.log"
# Until Ctrl-C (or SIGTERM), or until a process of the stack exits.
wait -n "$collector_pid" "${agent_pids[@]}" "$model_pid" || true
echo "demo: a process of the stack exited; see $run/*.log" >&2
exit 1
