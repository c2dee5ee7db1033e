"""Results of the performance harness (scripts/bench.sh) as a table.

  bench_report.py gbench FILE
      Prints Google Benchmark's JSON output (--benchmark_format=json) as
      the harness' JSON lines: one object per benchmark (the median when
      repeated) with ns_per_event and events_per_second (CPU time).
  bench_report.py render RESULTS_DIR [--doc docs/performance.md]
      Reads RESULTS_DIR/*.jsonl, machine.json and commands.txt and prints
      the measured table (markdown) with each target met or missed; with
      --doc, replaces the part of the document between the markers
      "<!-- bench:begin -->" and "<!-- bench:end -->".

Every benchmark of the harness prints JSON objects, one per line, each with
a "benchmark" name and its figures (see docs/performance.md).
"""

import argparse
import glob
import json
import os
import sys

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"


def gbench(args):
    with open(args.file) as f:
        data = json.load(f)
    runs = {}
    for b in data.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        agg = b.get("aggregate_name")
        if agg not in (None, "median"):
            continue
        if agg == "median" or name not in runs:
            runs[name] = b
    for name, b in runs.items():
        scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
        # An iteration folds a batch of events where items are counted.
        events = 1.0
        if "items_per_second" in b:
            events = max(1.0, round(b["items_per_second"] * b["cpu_time"] * scale / 1e9))
        out = {"benchmark": "update_path", "name": name,
               "repetitions": b.get("repetitions", 1),
               "ns_per_event": b["cpu_time"] * scale / events,
               "real_ns_per_event": b["real_time"] * scale / events}
        if "items_per_second" in b:
            out["events_per_second"] = b["items_per_second"]
        if "summary_bytes" in b:
            out["summary_bytes"] = b["summary_bytes"]
        print(json.dumps(out))


def load(results):
    by_name = {}
    for path in sorted(glob.glob(os.path.join(results, "*.jsonl"))):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                name = obj.get("benchmark")
                if name == "update_path":
                    name = "update_path/" + obj.get("name", "")
                by_name[name] = obj
    return by_name


def fmt(v, digits=3):
    """Rates and sizes: 3 significant digits, millions as "M"."""
    if v is None:
        return "-"
    if abs(v) >= 1e6:
        return "%.*g M" % (digits, v / 1e6)
    if abs(v) >= 1e3:
        return "{:,.0f}".format(v)
    return "%.*g" % (digits, v)


def count(v):
    """Counts in full: 1,000,000."""
    return "-" if v is None else "{:,.0f}".format(v)


def status(ok):
    if ok is None:
        return "not run"
    return "**met**" if ok else "**missed**"


def render_table(r):
    rows = []

    def row(area, what, result, target, ok):
        state = "measured" if target == "-" and result != "-" else status(ok)
        rows.append("| %s | %s | %s | %s | %s |" % (area, what, result, target, state))

    # Agent update path (issue 27: 5 M events/s per core on a profile).
    for name, label, target in (
            ("BM_WindowAccumulatorAdd", "batches of 500 as columns, no profile", None),
            ("BM_WindowAccumulatorAddWithProfile/0/0",
             "batches of 500 as columns, on a reference profile", 5e6),
            ("BM_WindowAccumulatorAddWithProfile/0/1",
             "batches of 500 as columns, on a reference profile, --feature_sketches=all", None),
            ("BM_WindowAccumulatorAddOneEvent", "one event a call, on a reference profile",
             None)):
        b = r.get("update_path/" + name)
        eps = b.get("events_per_second") if b else None
        row("agent", "update path, events/s per core (25 features, 2 attributes, %s)" % label,
            "%s (%.0f ns/event)" % (fmt(eps), b["ns_per_event"]) if b else "-",
            ">= 5,000,000" if target else "-",
            None if eps is None or not target else eps >= target)
    # The JSON intake without the network (tests/bench/intake_bench.cc).
    for name, label in (("BM_JsonParserAlone", "simdjson's DOM parse alone (the floor)"),
                        ("BM_ParseEventBatch", "JSON parse"),
                        ("BM_ParseAndFold", "JSON parse and fold")):
        b = r.get("update_path/" + name)
        eps = b.get("events_per_second") if b else None
        row("agent", "%s of a batch of 500 (25 features), no network, events per CPU-second"
            % label, "%s (%.0f ns/event)" % (fmt(eps), b["ns_per_event"]) if b else "-",
            "-", None)
    for key, label, target in (("agent_http_throughput", "HTTP/JSON intake, batches of 500", 1e6),
                               ("agent_grpc_throughput", "gRPC intake, batches of 500", None)):
        b = r.get(key)
        if b:
            result = ("%s events/s, %s events per agent CPU-second (agent %.2f cores, "
                      "%.0f %% of it in the kernel; client %.2f cores)" % (
                          fmt(b["events_per_second"]), fmt(b["agent_events_per_cpu_second"]),
                          b["agent_cpu_cores"], 100 * b.get("agent_system_cpu_share", 0),
                          b["client_cpu_cores"]))
        row("agent", label + ", 2 cores shared with the client", result if b else "-",
            ">= 1,000,000 events per agent CPU-second" if target else "-",
            None if not b or not target else b["agent_events_per_cpu_second"] >= target)
    for rate in (1000, 10000, 100000):
        b = r.get("agent_rate_%d" % rate)
        if b:
            asked = "" if b["events_per_second"] > 0.95 * rate else " (of %s asked)" % count(rate)
            result = ("%s events/s%s: CPU %.1f %% of a core (%.0f %% of it in the kernel), "
                      "RSS %.1f MiB (peak %.1f MiB = %.1f MB)") % (
                count(b["events_per_second"]), asked, 100 * b["agent_cpu_cores"],
                100 * b.get("agent_system_cpu_share", 0), b["agent_rss_mib"],
                b["agent_peak_rss_mib"], b["agent_peak_rss_mib"] * 1.048576)
        rss_ok = None if not b else b["agent_peak_rss_mib"] * 1.048576 <= 40
        cpu_ok = None if not b or rate != 1000 else b["agent_cpu_cores"] <= 0.01
        row("agent", "%s events/s, 100 features, HTTP batches of %d" % (
            count(rate), b["batch"] if b else 100),
            result if b else "-",
            "CPU <= 1 % of a core, peak RSS <= 40 MB" if rate == 1000 else "peak RSS <= 40 MB",
            rss_ok if rate != 1000 or not b else rss_ok and cpu_ok)

    # Metrics.
    c, a, p = r.get("metrics_compare"), r.get("metrics_aims"), r.get("metrics_python")
    par = r.get("metrics_aims_parallel")
    if a and p:
        result = ("aims %.2f s CPU (profile %.2f, fold %.2f, metrics %.3f) vs Python %.2f s CPU "
                  "(performance %.2f, drift %.2f, fairness %.2f): **%.1fx**; wall %.2f s vs %.2f s"
                  % (a["compute_cpu_seconds"], a["profile_cpu_seconds"], a["fold_cpu_seconds"],
                     a["metrics_cpu_seconds"], p["compute_cpu_seconds"],
                     p["performance_cpu_seconds"], p["drift_cpu_seconds"],
                     p["fairness_cpu_seconds"],
                     p["compute_cpu_seconds"] / a["compute_cpu_seconds"],
                     a["compute_seconds"], p["compute_seconds"]))
        if par:
            result += "; aims on %d threads %.2f s wall (%.1fx)" % (
                par["threads"], par["compute_seconds"],
                p["compute_seconds"] / par["compute_seconds"])
        result += "; reading %.2f s vs %.2f s" % (a["read_seconds"], p["read_seconds"])
    row("metrics", "%s rows (reference %s), 25 features, 2 attributes: compute time, "
        "one thread" % (count(a["rows"]) if a else "1,000,000",
                        count(a["reference_rows"]) if a else "100,000"),
        result if a and p else "-", "-", None)
    cp = r.get("metrics_compare_parallel")
    if c:
        worst = c.get("max_error", {})
        big = max((v for k, v in worst.items() if not k.startswith("roc_auc")), default=0)
        result = "%d values compared: %s; largest error %.2g (ROC AUC on 100 bins vs raw: %.2g)" % (
            c["values_compared"], "all agree" if c["agree"] else "DISAGREE: " + "; ".join(
                c["failures"][:3]), big, worst.get("roc_auc", 0))
        if cp:
            result += "; 2-thread fold and merge: %s" % (
                "all agree" if cp["agree"] else "DISAGREE: " + "; ".join(cp["failures"][:3]))
    row("metrics", "results equal to numpy/scipy/sklearn", result if c else "-",
        "equal within tolerance",
        None if not c else c["agree"] and (cp is None or cp["agree"]))
    n, cn = r.get("metrics_python_numpy"), r.get("metrics_compare_numpy")
    if a and n:
        result = ("aims %.2f s CPU vs %.2f s CPU (performance %.2f, drift %.2f, fairness %.2f): "
                  "%.1fx; values %s" % (
                      a["compute_cpu_seconds"], n["compute_cpu_seconds"],
                      n["performance_cpu_seconds"], n["drift_cpu_seconds"],
                      n["fairness_cpu_seconds"],
                      n["compute_cpu_seconds"] / a["compute_cpu_seconds"],
                      "agree" if cn and cn["agree"] else "DISAGREE"))
    row("metrics", "the same metrics hand-vectorized with NumPy (one confusion matrix, "
        "AUC from ranks), one thread", result if a and n else "-",
        ">= 10x the NumPy baseline",
        None if not (a and n) else n["compute_cpu_seconds"] / a["compute_cpu_seconds"] >= 10)

    # Collector.
    b = r.get("collector_ingest")
    row("collector", "ingest with durable acks (%s agents, reports of %s bytes)" % (
        count(b["agents"]) if b else "1,000", count(b["report_bytes"]) if b else "71,000"),
        "%s reports/s (%.1f MB/s, %s samples-equivalent/s; collector %.2f cores, the simulated "
        "agents' threads %.2f: %s reports per collector CPU-second; RSS %s MiB)" % (
            fmt(b["reports_per_second"]), b["mb_per_second"],
            fmt(b["samples_equivalent_per_second"]), b.get("collector_cpu_cores", 0),
            b.get("client_threads_cpu_cores", 0),
            fmt(b.get("reports_per_collector_cpu_second", 0)),
            count(b["process_rss_mib"])) if b else "-",
        ">= 5,000 reports/s", None if not b else b["reports_per_second"] >= 5000)
    ac, pr = r.get("collector_ingest_compare"), r.get("prometheus_remote_write")
    if ac and pr:
        result = ("aims %s samples-equivalent/s (%s reports of %s numbers, %.1f s) vs Prometheus "
                  "%s samples/s (%s samples, %.1f s, %s series): **%.1fx**" % (
                      fmt(ac["samples_equivalent_per_second"]), count(ac["reports"]),
                      count(ac["numbers_per_report"]), ac["seconds"],
                      fmt(pr["samples_per_second"]), fmt(pr["samples"]), pr["seconds"],
                      count(pr["series"]),
                      ac["samples_equivalent_per_second"] / pr["samples_per_second"]))
    row("collector", "samples-equivalent/s vs Prometheus remote write, same samples",
        result if ac and pr else "-", ">= Prometheus",
        None if not (ac and pr) else ac["samples_equivalent_per_second"] >= pr["samples_per_second"])
    for span, target in (("1h", 20), ("24h", 50), ("30d", 100)):
        b = r.get("collector_query_" + span)
        row("collector", "QueryMetrics %s (10 replicas, 30 days stored)" % span,
            "p50 %.1f ms, p99 %.1f ms" % (b["p50_ms"], b["p99_ms"]) if b else "-",
            "p99 <= %d ms" % target, None if not b else b["p99_ms"] <= target)
    b = r.get("collector_evaluate")
    if b:
        result = ("first pass %.2f s CPU (%.1f s wall, %s series new), steady pass %.2f s CPU "
                  "(%.2f s wall)" % (b["first_cpu_seconds"], b["first_wall_seconds"],
                                     count(b["first_series_evaluated"]), b["steady_cpu_seconds"],
                                     b["steady_wall_seconds"]))
    row("collector", "evaluation of %s objectives (%s models)" % (
        count(b["objectives"]) if b else "10,000", count(b["models"]) if b else "100"),
        result if b else "-", "< 1 s CPU per pass",
        None if not b else max(b["first_cpu_seconds"], b["steady_cpu_seconds"]) < 1)
    b = r.get("collector_breach_to_alert")
    row("collector", "breach to alert in Alertmanager (1 s evaluation tick, for 0s)",
        "p50 %.0f ms, max %.0f ms (%d trials)" % (b["p50_ms"], b["max_ms"], b["trials"])
        if b else "-", "< 2 s + for", None if not b else b["max_ms"] < 2000)
    # aimsctl backfill (issue 24: at least 200,000 events/s on this machine).
    b = r.get("backfill")
    row("collector", "aimsctl backfill of %s JSON-lines events into 1 min windows of a fresh "
        "collector" % (count(b["events"]) if b else "1,000,000"),
        "%s events/s (%.1f s)" % (fmt(b["events_per_second"]), b["seconds"]) if b else "-",
        ">= 200,000 events/s", None if not b else b["events_per_second"] >= 200000)
    b = r.get("backfill_delayed")
    row("collector", "the same without labels, dated yesterday: each row a join record "
        "for a later label",
        "%s events/s (%.1f s)" % (fmt(b["events_per_second"]), b["seconds"]) if b else "-",
        ">= 200,000 events/s", None if not b else b["events_per_second"] >= 200000)
    # Fleet mode (issue 28): the same agents against 1, 2 and 3 collector
    # processes sharing this machine's 2 cores, each report also copied to its
    # model's peer; then the takeover after SIGKILL of one.
    for n in (1, 2, 3):
        b = r.get("collector_fleet_%d" % n)
        row("fleet", "ingest with durable acks, %d collector%s and etcd on this machine%s" % (
            n, "s" if n > 1 else "", ", every report copied to its model's peer" if n > 1 else ""),
            "%s reports/s (collectors %.2f cores: %s reports per collector CPU-second)" % (
                fmt(b["reports_per_second"]), b["collectors_cpu_cores"],
                fmt(b["reports_per_collector_cpu_second"])) if b else "-", "-", None)
    for n in (1, 2, 3):
        b = r.get("collector_fleet_%d" % n)
        if b and "series" not in b:
            b = None  # from before the evaluation phase
        row("fleet", "evaluation, %d collector%s: 15 performance and fairness objectives "
            "over 100 models (1 h of 10 s windows from 10 agents each)" % (
                n, "s" if n > 1 else ""),
            "first pass over %s series in %.2f s (collectors %.2f CPU-seconds, %s series "
            "per collector CPU-second); then %s evaluations/s" % (
                count(b["series"]), b["first_pass_seconds"],
                b["first_pass_collectors_cpu_seconds"],
                fmt(b["series"] / max(b["first_pass_collectors_cpu_seconds"], 1e-9)),
                fmt(b["evaluations_per_second"])) if b else "-", "-", None)
    for n in (2, 3):
        b = r.get("collector_fleet_%d" % n)
        row("fleet", "takeover after SIGKILL of the collector owning the most models "
            "(%d collectors, lease TTL %s s)" % (
                n, "%g" % b["lease_ttl_seconds"] if b else "10"),
            "%s models taken over %.1f s after the kill" % (
                count(b["models_moved"]), b["takeover_seconds"]) if b else "-",
            "<= 60 s", None if not b else b["takeover_seconds"] <= 60)
    return rows


def render(args):
    r = load(args.results)
    machine = {}
    path = os.path.join(args.results, "machine.json")
    if os.path.exists(path):
        with open(path) as f:
            machine = json.load(f)
    commands = []
    path = os.path.join(args.results, "commands.txt")
    if os.path.exists(path):
        with open(path) as f:
            commands = [line.rstrip("\n") for line in f]
    out = [BEGIN, "",
           "Generated by `bash scripts/bench.sh%s` (tests/bench/bench_report.py) on %s, "
           "commit %s." % (" --quick" if machine.get("quick") else "",
                           machine.get("started", "?"), machine.get("commit", "?")),
           "Machine: %s cores (%s), %s GiB RAM, %s, kernel %s, %s; load average at start %s, "
           "at end %s." % (machine.get("nproc", "?"), machine.get("cpu", "?"),
                           machine.get("mem_gib", "?"), machine.get("os", "?"),
                           machine.get("kernel", "?"), machine.get("compiler", "?"),
                           machine.get("loadavg_start", "?"),
                           next((c.split(" ", 1)[1] for c in commands
                                 if c.startswith("loadavg_end")), "?")),
           ""]
    if machine.get("quick"):
        out += ["**Quick run** (short durations, small data): a smoke test of the harness, "
                "not figures to quote.", ""]
    out += ["| area | measure | result | target | status |",
            "| --- | --- | --- | --- | --- |"]
    out += render_table(r)
    out += ["", "<details><summary>Commands and raw results</summary>", "", "```"]
    out += [c for c in commands if not c.startswith("loadavg_end")]
    out += ["```", "", "```"]
    for path in sorted(glob.glob(os.path.join(args.results, "*.jsonl"))):
        with open(path) as f:
            out += [line.rstrip("\n") for line in f if line.startswith("{")]
    out += ["```", "", "</details>", "", END]
    text = "\n".join(out)
    if not args.doc:
        print(text)
        return 0
    with open(args.doc) as f:
        doc = f.read()
    if BEGIN not in doc or END not in doc:
        print("%s: markers %s ... %s not found" % (args.doc, BEGIN, END), file=sys.stderr)
        return 1
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(args.doc, "w") as f:
        f.write(head + text + tail)
    print("\n".join(out[:out.index("<details><summary>Commands and raw results</summary>")]))
    print("rewrote the measured table of %s" % args.doc)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gbench")
    g.add_argument("file")
    r = sub.add_parser("render")
    r.add_argument("results")
    r.add_argument("--doc")
    args = parser.parse_args()
    return {"gbench": gbench, "render": render}[args.command](args) or 0


if __name__ == "__main__":
    sys.exit(main())
