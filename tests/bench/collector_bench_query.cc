#include "tests/bench/collector_bench.h"

namespace aims::bench {

int Query(const std::string& dir) {
  const int replicas = absl::GetFlag(FLAGS_replicas);
  size_t summary_bytes = 0;
  const std::vector<v1::WindowSummary> pool = SummaryPool(16, &summary_bytes);
  const absl::Time now =
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) / 10 * 10);
  const absl::Time fine_from = now - absl::Hours(2);
  const absl::Time from = now - absl::Hours(24 * 30);
  uint64_t reports = 0;
  const absl::Time load_start = absl::Now();
  {
    collector::RocksStorageOptions options;
    options.path = dir;
    options.sync_writes = false;  // loading only; queries read the result
    auto storage = collector::RocksStorage::Open(options);
    if (!storage.ok()) {
      absl::FPrintF(stderr, "%s\n", storage.status().ToString());
      return 1;
    }
    for (int r = 0; r < replicas; ++r) {
      v1::Hello hello;
      hello.mutable_agent()->set_agent_id(absl::StrCat("replica-", r));
      *hello.mutable_model() = Model();
      (void)(*storage)->RegisterAgent(hello, now);
    }
    std::vector<v1::WindowReport> batch;
    std::vector<uint64_t> seq(replicas, 0);
    auto flush = [&] {
      std::vector<const v1::WindowReport*> ptrs;
      for (const auto& r : batch) ptrs.push_back(&r);
      std::vector<collector::WriteOutcome> outcomes;
      if (absl::Status s = (*storage)->WriteReports(ptrs, now, &outcomes);
          !s.ok()) {
        absl::FPrintF(stderr, "%s\n", s.ToString());
        std::abort();
      }
      reports += batch.size();
      batch.clear();
    };
    for (absl::Time t = from; t < now;) {
      const absl::Duration len =
          t < fine_from ? absl::Minutes(30) : absl::Seconds(10);
      for (int r = 0; r < replicas; ++r) {
        v1::WindowReport& w = batch.emplace_back();
        w.set_agent_id(absl::StrCat("replica-", r));
        w.set_sequence(++seq[r]);
        *w.mutable_window_start() = ToProto(t);
        *w.mutable_window_end() = ToProto(t + len);
        *w.mutable_summary() = pool[(seq[r] + r) % pool.size()];
      }
      if (batch.size() >= 250) flush();
      t += len;
    }
    if (!batch.empty()) flush();
    const absl::Time rollup_start = absl::Now();
    collector::MaintenanceStats total;
    for (;;) {
      auto stats = (*storage)->Maintain(now);
      if (!stats.ok()) {
        absl::FPrintF(stderr, "%s\n", stats.status().ToString());
        return 1;
      }
      total.rollups_built += stats->rollups_built;
      if (!stats->budget_exhausted) break;
    }
    // A bulk load of 30 days in seconds leaves a compaction backlog that a
    // collector fed at the pace of its agents never has: let it settle (at
    // most 2 minutes) so that the queries measure the steady state.
    const absl::Time settle_start = absl::Now();
    while (absl::Now() - settle_start < absl::Minutes(2)) {
      const auto engine = (*storage)->engine_state();
      if (engine.pending_compaction_bytes == 0 &&
          engine.running_flushes_and_compactions == 0) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    const double settle_seconds =
        absl::ToDoubleSeconds(absl::Now() - settle_start);
    PrintJson(
        "collector_query_load",
        {{"reports", static_cast<double>(reports)},
         {"report_bytes", static_cast<double>(summary_bytes)},
         {"load_seconds", absl::ToDoubleSeconds(rollup_start - load_start)},
         {"rollups_built", static_cast<double>(total.rollups_built)},
         {"settle_seconds", settle_seconds},
         {"rollup_seconds",
          absl::ToDoubleSeconds(settle_start - rollup_start)}});
  }
  collector::CollectorOptions options;
  options.grpc_listen = "127.0.0.1:0";
  options.http_listen = "127.0.0.1:0";
  options.data_dir = dir;
  options.maintenance_interval = absl::ZeroDuration();
  options.query_threads =
      static_cast<size_t>(absl::GetFlag(FLAGS_query_threads));
  collector::Collector collector(options);
  if (absl::Status s = collector.Start(); !s.ok()) {
    absl::FPrintF(stderr, "collector: %s\n", s.ToString());
    return 1;
  }
  auto stub = v1::QueryService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", collector.grpc_port()),
                          grpc::InsecureChannelCredentials()));
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> back(0, 3599);
  const std::vector<std::pair<const char*, absl::Duration>> spans = {
      {"1h", absl::Hours(1)},
      {"24h", absl::Hours(24)},
      {"30d", absl::Hours(24 * 30) - absl::Hours(1)}};
  // One query of `span` ending at a random second of the last hour (ragged
  // edges); its time in ms, or -1 on failure.
  size_t metric_values = 0;
  auto query = [&](absl::Duration span) -> double {
    const absl::Time to = now - absl::Seconds(back(rng));
    v1::QueryMetricsRequest request;
    *request.mutable_model() = Model();
    *request.mutable_from() = ToProto(to - span);
    *request.mutable_to() = ToProto(to);
    v1::QueryMetricsResponse response;
    grpc::ClientContext ctx;
    const absl::Time start = absl::Now();
    grpc::Status status = stub->QueryMetrics(&ctx, request, &response);
    const double elapsed = absl::ToDoubleMilliseconds(absl::Now() - start);
    if (!status.ok() || response.points_size() != 1) {
      absl::FPrintF(stderr, "query failed: %s\n", status.error_message());
      return -1;
    }
    metric_values = response.points(0).values_size();
    return elapsed;
  };
  // Five queries of each span warm the caches. Releasing their snapshots
  // lets RocksDB rewrite the bulk load's bottommost files (compactions seen
  // in its LOG), work a collector fed at its agents' pace did long ago:
  // wait until the collector reports no flush or compaction running or
  // pending for 2 s in a row (at most 3 minutes).
  for (const auto& [name, span] : spans) {
    for (int q = 0; q < 5; ++q) {
      if (query(span) < 0) return 1;
    }
  }
  const absl::Time open_settle_start = absl::Now();
  {
    httplib::Client http("127.0.0.1", collector.http_port());
    absl::Time idle_since = absl::InfiniteFuture();
    while (absl::Now() - open_settle_start < absl::Minutes(3)) {
      auto res = http.Get("/metrics");
      const bool idle =
          res && res->status == 200 &&
          testing::MetricValue(
              res->body, "aims_collector_storage_running_background_jobs") ==
              0 &&
          testing::MetricValue(
              res->body, "aims_collector_storage_pending_compaction_bytes") ==
              0;
      if (!idle) {
        idle_since = absl::InfiniteFuture();
      } else if (idle_since == absl::InfiniteFuture()) {
        idle_since = absl::Now();
      } else if (absl::Now() - idle_since >= absl::Seconds(2)) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  PrintJson("collector_query_open",
            {{"settle_seconds",
              absl::ToDoubleSeconds(absl::Now() - open_settle_start)}});
  for (const auto& [name, span] : spans) {
    std::vector<double> ms;
    for (int q = 0; q < absl::GetFlag(FLAGS_queries); ++q) {
      const double elapsed = query(span);
      if (elapsed < 0) return 1;
      ms.push_back(elapsed);
    }
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) {
      return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))];
    };
    PrintJson(absl::StrCat("collector_query_", name),
              {{"replicas", replicas},
               {"query_threads",
                static_cast<double>(absl::GetFlag(FLAGS_query_threads))},
               {"queries", static_cast<double>(ms.size())},
               {"p50_ms", pct(0.50)},
               {"p99_ms", pct(0.99)},
               {"max_ms", ms.back()},
               {"metric_values", static_cast<double>(metric_values)}});
  }
  collector.Stop();
  return 0;
}

}  // namespace aims::bench
