#!/usr/bin/env bash
# The backfill rate: generates ROWS JSON-lines events (a day of a binary
# model, 6 features), starts a collector on a free loopback port and times
# `aimsctl backfill` from start to the last window durable (parse, fold into
# 1 min windows, send, fsync'd ingest). Prints one JSON line {"benchmark":
# "backfill" or "backfill_delayed", "events", "seconds", "events_per_second"}.
#   backfill_bench.sh BUILD_DIR DATA_DIR [ROWS] [LABELS]
# LABELS: inline (default; every row carries its label, a day of 2026-11-03)
# or delayed (no label: every row leaves a join record for a later label,
# so its day is yesterday, within the collector's --label_ttl).
set -euo pipefail
bin="$1" data="$2" rows="${3:-1000000}" labels="${4:-inline}"
case "$labels" in
  inline) file="$data/backfill-$rows.jsonl" name=backfill ;;
  delayed)
    day=$(date -u -d yesterday +%F)
    file="$data/backfill-delayed-$day-$rows.jsonl" name=backfill_delayed ;;
  *) echo "backfill_bench.sh: LABELS must be inline or delayed, got '$labels'" >&2; exit 2 ;;
esac
if [ ! -f "$file" ]; then
  mkdir -p "$data"
  /usr/bin/python3 - "$file" "$rows" "$labels" <<'PY'
import datetime, random, sys
random.seed(1)
path, rows, labels = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if labels == "inline":
    day = datetime.datetime(2026, 11, 3, tzinfo=datetime.timezone.utc)
else:
    today = datetime.datetime.now(datetime.timezone.utc).date()
    day = datetime.datetime.combine(today - datetime.timedelta(days=1),
                                    datetime.time(), datetime.timezone.utc)
t0 = day.timestamp()
with open(path, "w") as f:
    for i in range(rows):
        ts = datetime.datetime.fromtimestamp(t0 + i * 86400 / rows, datetime.timezone.utc)
        p = i % 2
        l = p if i % 10 else 1 - p
        label = '"label":%d,' % l if labels == "inline" else ""
        f.write('{"prediction_id":"p%d","timestamp":"%s","prediction":%d,"score":%.3f,'
                '%s"features":{"age":%d,"income":%.1f,"tenure":%d,'
                '"balance":%.2f,"region":"%s","channel":"%s"}}\n'
                % (i, ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), p, random.random(), label,
                   20 + i % 50, random.random() * 1e5, i % 30, random.random() * 1e4,
                   "abc"[i % 3], "xy"[i % 2]))
PY
fi
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
"$bin/collector/aims-collector" --grpc_listen=127.0.0.1:0 --http_listen=127.0.0.1:0 \
  --data_dir="$dir/collector" --ports_file="$dir/ports" > "$dir/collector.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$dir/ports" ] && grep -q grpc "$dir/ports" && break; sleep 0.1; done
port=$(grep grpc "$dir/ports" | grep -o '[0-9]*$')
start=$(date +%s.%N)
"$bin/ctl/aimsctl" --collector="127.0.0.1:$port" backfill --model=bench --version=v1 \
  --input="$file" --window=1m >&2
end=$(date +%s.%N)
/usr/bin/python3 -c 'import json,sys; n=int(sys.argv[1]); s=float(sys.argv[3])-float(sys.argv[2]);
print(json.dumps({"benchmark": sys.argv[4], "events": n, "seconds": round(s, 3), "events_per_second": round(n / s)}))' \
  "$rows" "$start" "$end" "$name"
