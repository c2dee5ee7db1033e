#!/usr/bin/env bash
# The console in a real browser: a collector with a tokens file (a viewer,
# a compliance officer, a risk owner, the agents), a copy of the demo's plan,
# two agents and the demo's synthetic model until nonconformities are open;
# then a changed plan is loaded (SIGHUP) and walk.mjs drives Debian's
# chromium or firefox-esr (headless, puppeteer-core) through the console and
# keeps a PNG of each page in OUT (laptop and tablet viewports).
#   browser_test.sh SOURCE_DIR BUILD_DIR OUT [chromium|firefox]
set -uo pipefail
source_dir="$1" build_dir="$2" out="$3" browser="${4:-chromium}"
case "$browser" in
  chromium) command -v chromium >/dev/null || { echo "chromium not found: run scripts/install-deps.sh"; exit 1; } ;;
  firefox) command -v firefox-esr >/dev/null || { echo "firefox-esr not found: run scripts/install-deps.sh"; exit 1; } ;;
  *) echo "unknown browser '$browser'"; exit 2 ;;
esac
bash "$source_dir/tests/console/prepare_node.sh" "$build_dir/tests/console/node" || exit 1
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$out"
rm -f "$out"/*.png

token() { /usr/bin/python3 -c 'import secrets; print("aims_" + secrets.token_urlsafe(32))'; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
viewer=$(token) officer=$(token) risk=$(token) agents=$(token)
cat >"$dir/tokens.yaml" <<YAML
tokens:
  - {name: vera-viewer, role: viewer, sha256: $(sha "$viewer")}
  - {name: carla-compliance, role: compliance, sha256: $(sha "$officer")}
  - {name: rita-risk, role: risk_owner, sha256: $(sha "$risk")}
  - {name: demo-agents, role: agent, models: [credit-scoring], sha256: $(sha "$agents")}
YAML
printf '%s\n' "$agents" >"$dir/agent.token"
chmod 600 "$dir/agent.token"

# A copy of the demo's plan: the walk diffs it with a changed version.
cp "$source_dir/deploy/demo/plan.yaml" "$dir/plan.yaml"

wait_port() {  # file name
  for _ in $(seq 1 200); do
    if [ -f "$1" ] && grep -q "^$2 " "$1"; then awk -v n="$2" '$1 == n {print $2}' "$1"; return 0; fi
    sleep 0.05
  done
  echo "no $2 port in $1" >&2
  return 1
}

"$build_dir/collector/aims-collector" --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --data_dir="$dir/collector" --ports_file="$dir/collector.ports" \
  --plan="$dir/plan.yaml" --auth_tokens_file="$dir/tokens.yaml" \
  2>"$dir/collector.log" &
pids+=($!)
grpc=$(wait_port "$dir/collector.ports" grpc) || exit 1
http=$(wait_port "$dir/collector.ports" http) || exit 1
urls=()
for n in 1 2; do
  "$build_dir/agent/aims-agent" --model_name=credit-scoring --model_version=v1 --environment=demo \
    --collector="127.0.0.1:$grpc" --collector_token_file="$dir/agent.token" \
    --http_listen=127.0.0.1:0 --grpc_listen=127.0.0.1:0 --window=5s --pod="credit-scoring-$n" \
    --data_dir="$dir/agent-$n" --ports_file="$dir/agent-$n.ports" 2>"$dir/agent-$n.log" &
  pids+=($!)
  port=$(wait_port "$dir/agent-$n.ports" http) || exit 1
  urls+=("http://127.0.0.1:$port")
done
/usr/bin/python3 "$source_dir/deploy/demo/synthetic_model.py" --agents "$(IFS=,; echo "${urls[*]}")" \
  --duration 600 --drift-at 10 --bias-at 12 --rate 200 >"$dir/model.log" 2>&1 &
pids+=($!)

# Until two nonconformities are open (the walk needs one to work and one to
# mark invalid).
count=0
for _ in $(seq 1 120); do
  count=$(curl -s -H "Authorization: Bearer $officer" "http://127.0.0.1:$http/v1/nonconformities" |
    /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("nonconformities", [])))' 2>/dev/null)
  [ "${count:-0}" -ge 2 ] && break
  sleep 1
done
if [ "${count:-0}" -lt 2 ]; then
  echo "FAIL: fewer than two nonconformities after 120 s"; tail -20 "$dir/collector.log"; exit 1
fi

# A second plan version (the coverage owner changed; no objective changes,
# so no series is reset): SIGHUP makes the collector re-read --plan.
sed -i 's/owner: sre@example.com/owner: sre-oncall@example.com/' "$dir/plan.yaml"
kill -HUP "${pids[0]}"
versions=0
for _ in $(seq 1 100); do
  versions=$(curl -s -H "Authorization: Bearer $officer" "http://127.0.0.1:$http/v1/plans" |
    /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("versions", [])))' 2>/dev/null)
  [ "${versions:-0}" -ge 2 ] && break
  sleep 0.1
done
[ "${versions:-0}" -ge 2 ] || { echo "FAIL: the changed plan was not loaded on SIGHUP"; tail -20 "$dir/collector.log"; exit 1; }

cd "$build_dir/tests/console/node" || exit 1
AIMS_URL="http://127.0.0.1:$http" AIMS_VIEWER_TOKEN="$viewer" AIMS_OFFICER_TOKEN="$officer" AIMS_RISK_TOKEN="$risk" \
  AIMS_SHOTS="$out" AIMS_BROWSER="$browser" node walk.mjs
code=$?
[ "$code" = 0 ] || tail -20 "$dir/collector.log"
exit "$code"
