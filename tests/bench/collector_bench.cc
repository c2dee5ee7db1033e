// Collector benchmarks for docs/performance.md (not part of the suite).
//
//   collector_bench --mode=ingest [--agents=1000] [--seconds=20 | --reports=N]
//       An in-process aims-collector (real gRPC on loopback, RocksDB in a
//       temporary directory, fsync before every acknowledgement) and
//       `agents` simulated agents streaming window reports of 100 numeric
//       features on a 20-bin reference profile, each keeping up to
//       `--in_flight` reports unacknowledged, from 16 client threads in the
//       same process (both share the machine's cores); each report is sent
//       as bytes around a summary encoded once (EncodedIngestRequest), so
//       the client threads, which stand in for agents on other hosts, take
//       little of the 2 cores. Aborts if a report is rejected or if fewer
//       reports are stored than acknowledged. Measures for
//       `--seconds`, or until `--reports` more reports are acknowledged.
//       Also reports the samples-equivalent of a report: every number it
//       carries (see CountNumbers), i.e. the samples Prometheus would
//       store for the same information.
//   collector_bench --mode=query [--replicas=10] [--queries=200]
//       One model with `replicas` agents over 30 days: the last 2 h as 10 s
//       windows, the time before as 30 min windows (a rollup is the same
//       size whatever the windows it merges, and a query reads raw windows
//       only at its edges and the live minute), rolled up as the running
//       collector would, then
//       QueryMetrics over gRPC for ranges of 1 h, 24 h and 30 d ending at
//       random (unaligned) times within the last hour.
//   collector_bench --mode=evaluate [--models=100] [--objectives=10000]
//       A plan of `objectives` objectives over `models` models (each
//       naming its model and, where the metric has one, its feature,
//       attribute or group: one series each), 10 minutes of 10 s windows
//       per model (rolled up), and the collector's Evaluator on RocksDB
//       with fsync; reports the CPU time (getrusage, the whole process) and
//       wall time of the first evaluation pass (every series new: a state
//       record and an audit entry each) and of a steady pass 30 s later.
//   collector_bench --mode=fleet [--collectors=3] [--agents=1000]
//       [--seconds=20] [--lease_ttl=10s] --collector_bin=PATH
//       A real etcd (--etcd_bin) and `collectors` aims-collector processes
//       in fleet mode (fsync before every acknowledgement), the simulated
//       agents of --mode=ingest (100 models of 10 agents), each streaming
//       to its model's owner (where a Redirect would send it), windows from
//       an hour ago on (the collectors roll them up meanwhile, as they do
//       for agents that report in real time). Measures the acknowledged
//       reports per second and the collectors' CPU (/proc): with two or
//       more, each report is also copied to its model's peer before it is
//       acknowledged. All processes share this machine's cores. Then waits
//       for the rollups, loads a plan of 19 performance and fairness
//       series per model over the last hour into every collector (SIGHUP),
//       and measures the first pass over all of them (each series on its
//       model's owner) and the evaluations of `--seconds` steady seconds.
//       Then, with two or more, SIGKILLs the collector that owns the most
//       models and measures the time until the survivors have taken all
//       of them over (aims_fleet_takeovers_total), which the lease TTL
//       bounds from below.
//   collector_bench --mode=alert [--trials=5]
//       The collector with its background loops (default 1 s evaluation
//       tick) and the real Alertmanager (Debian's prometheus-alertmanager):
//       time from the durable acknowledgement of a breaching window to the
//       alert listed by Alertmanager's GET /api/v2/alerts (polled every
//       5 ms); objective with a 5 min interval and `for: 0s`.
//
#include "tests/bench/collector_bench.h"

#include "common/base/cli.h"

int main(int argc, char** argv) {
  aims::ParseCommandLine(
      argc, argv,
      "collector benchmarks for "
      "docs/performance.md.\n\nUsage: collector_bench "
      "--mode=ingest|query|evaluate|alert|fleet [--flag=value ...]");
  std::string dir = absl::GetFlag(FLAGS_dir);
  std::unique_ptr<aims::testing::TempDir> temp;
  if (dir.empty()) {
    temp = std::make_unique<aims::testing::TempDir>();
    dir = temp->path() + "/data";
  }
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "ingest") return aims::bench::Ingest(dir);
  if (mode == "query") return aims::bench::Query(dir);
  if (mode == "evaluate") return aims::bench::Evaluate(dir);
  if (mode == "alert") return aims::bench::Alert(dir);
  if (mode == "fleet") return aims::bench::Fleet(dir);
  absl::FPrintF(stderr, "--mode: ingest, query, evaluate, alert or fleet\n");
  return 2;
}
