// Collector benchmarks for docs/performance.md (not part of the suite).
//
//   collector_bench --mode=ingest [--agents=1000] [--seconds=20]
//       An in-process aims-collector (real gRPC on loopback, RocksDB in a
//       temporary directory, fsync before every acknowledgement) and
//       `agents` simulated agents streaming window reports of 100 numeric
//       features on a 20-bin reference profile, each keeping up to
//       `--in_flight` reports unacknowledged, from 16 client threads in the
//       same process (both share the machine's cores).
//   collector_bench --mode=query [--replicas=10] [--queries=200]
//       One model with `replicas` agents over 30 days: the last 2 h as 10 s
//       windows, the time before as 30 min windows (a rollup is the same
//       size whatever the windows it merges, and a query reads raw windows
//       only at its edges and the live minute), rolled up as the running
//       collector would, then
//       QueryMetrics over gRPC for ranges of 1 h, 24 h and 30 d ending at
//       random (unaligned) times within the last hour.
//
// Prints one JSON object per result line on stdout.
#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "aims/v1/query.grpc.pb.h"
#include "collector/collector.h"
#include "collector/rocks_storage.h"
#include "common/profile_builder.h"
#include "common/time_util.h"
#include "common/window_accumulator.h"
#include "grpcpp/grpcpp.h"
#include "tests/testing/test_util.h"

ABSL_FLAG(std::string, mode, "ingest", "ingest or query");
ABSL_FLAG(int, agents, 1000, "ingest: simulated agents");
ABSL_FLAG(int, in_flight, 4, "ingest: unacknowledged reports per agent");
ABSL_FLAG(int, seconds, 20, "ingest: measured duration");
ABSL_FLAG(int, replicas, 10, "query: agents of the model");
ABSL_FLAG(int, queries, 200, "query: queries per range");
ABSL_FLAG(std::string, dir, "", "data directory (default: a temporary one)");

namespace aims {
namespace {

v1::ModelRef Model(int i = 0) {
  v1::ModelRef m;
  m.set_name(absl::StrCat("bench-", i));
  m.set_version("v1");
  m.set_environment("prod");
  return m;
}

// 100 numeric features on an 18-quantile profile (20 bins with under- and
// overflow), binary scores and labels, one sensitive attribute.
std::vector<v1::WindowSummary> SummaryPool(int n, size_t* bytes) {
  std::mt19937 rng(3);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  auto event = [&] {
    Event e;
    for (int f = 0; f < 100; ++f) {
      e.features.emplace_back(
          absl::StrCat("feature_", f),
          FeatureValue{FeatureValue::Kind::kNumber, normal(rng), ""});
    }
    e.score = u(rng);
    e.prediction.kind = Outcome::Kind::kNumber;
    e.prediction.number = *e.score >= 0.5;
    e.label.kind = Outcome::Kind::kNumber;
    e.label.number = u(rng) < *e.score;
    e.attributes.emplace_back("gender", u(rng) < 0.5 ? "f" : "m");
    e.latency_seconds = 0.01 + u(rng) / 50;
    return e;
  };
  ProfileBuildOptions options;
  options.numeric_bins = 18;
  ProfileBuilder builder(options);
  for (int i = 0; i < 2000; ++i) builder.Add(event());
  auto profile = builder.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "b");
  auto config = std::make_shared<SummaryConfig>();
  config->profile = std::make_shared<v1::ReferenceProfile>(*profile);
  std::vector<v1::WindowSummary> pool;
  for (int s = 0; s < n; ++s) {
    WindowAccumulator acc(config);
    for (int i = 0; i < 200; ++i) acc.Add(event());
    pool.push_back(acc.Build());
  }
  *bytes = pool[0].ByteSizeLong();
  return pool;
}

void PrintJson(const std::string& name,
               const std::vector<std::pair<std::string, double>>& values) {
  std::string line = absl::StrCat("{\"benchmark\":\"", name, "\"");
  for (const auto& [k, v] : values) {
    absl::StrAppend(&line, ",\"", k, "\":", absl::StrFormat("%.6g", v));
  }
  absl::PrintF("%s}\n", line);
  fflush(stdout);
}

double RssMiB() {
  std::string status = testing::ReadFile("/proc/self/status");
  size_t at = status.find("VmRSS:");
  return at == std::string::npos ? 0
                                 : std::atof(status.c_str() + at + 6) / 1024;
}

int Ingest(const std::string& dir) {
  const int agents = absl::GetFlag(FLAGS_agents);
  const int in_flight = absl::GetFlag(FLAGS_in_flight);
  size_t summary_bytes = 0;
  const std::vector<v1::WindowSummary> pool = SummaryPool(16, &summary_bytes);
  collector::CollectorOptions options;
  options.grpc_listen = "127.0.0.1:0";
  options.http_listen = "127.0.0.1:0";
  options.data_dir = dir;
  options.sync_writes = true;
  collector::Collector collector(options);
  if (absl::Status s = collector.Start(); !s.ok()) {
    absl::FPrintF(stderr, "collector: %s\n", s.ToString());
    return 1;
  }
  auto channel_for = [&](int i) {
    grpc::ChannelArguments args;
    args.SetInt("aims_channel", i % 8);  // 8 connections, like 8 hosts
    return grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", collector.grpc_port()),
        grpc::InsecureChannelCredentials(), args);
  };
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> acked{0};
  constexpr int kThreads = 16;
  std::vector<std::thread> threads;
  // Windows from now on: live traffic, no rollup is rebuilt for them.
  const absl::Time base = absl::Now();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      struct Agent {
        std::string id;
        std::unique_ptr<grpc::ClientContext> ctx;
        std::unique_ptr<
            grpc::ClientReaderWriter<v1::IngestRequest, v1::IngestResponse>>
            stream;
        uint64_t sent = 0, durable = 0;
      };
      std::vector<Agent> mine;
      std::vector<std::unique_ptr<v1::IngestService::Stub>> stubs;
      for (int i = t; i < agents; i += kThreads) {
        stubs.push_back(v1::IngestService::NewStub(channel_for(i)));
        Agent a;
        a.id = absl::StrCat("agent-", i);
        a.ctx = std::make_unique<grpc::ClientContext>();
        a.stream = stubs.back()->Report(a.ctx.get());
        v1::IngestRequest hello;
        hello.mutable_hello()->mutable_agent()->set_agent_id(a.id);
        *hello.mutable_hello()->mutable_model() = Model(i / 10);
        hello.mutable_hello()->set_protocol_version(1);
        v1::IngestResponse resp;
        if (!a.stream->Write(hello) || !a.stream->Read(&resp)) {
          absl::FPrintF(stderr, "agent %s: no welcome\n", a.id);
          std::abort();
        }
        mine.push_back(std::move(a));
      }
      v1::IngestRequest request;
      while (!stop.load()) {
        // Top every agent up to `in_flight` unacknowledged reports, then
        // wait for each agent's acknowledgement of its latest.
        for (Agent& a : mine) {
          while (a.sent - a.durable < static_cast<uint64_t>(in_flight)) {
            const uint64_t seq = ++a.sent;
            v1::WindowReport* r = request.mutable_report();
            r->set_agent_id(a.id);
            r->set_sequence(seq);
            *r->mutable_window_start() =
                ToProto(base + absl::Seconds(10 * static_cast<int64_t>(seq)));
            *r->mutable_window_end() = ToProto(
                base + absl::Seconds(10 * static_cast<int64_t>(seq) + 10));
            *r->mutable_summary() = pool[seq % pool.size()];
            a.stream->Write(request);
          }
        }
        for (Agent& a : mine) {
          v1::IngestResponse resp;
          while (a.durable < a.sent && a.stream->Read(&resp)) {
            if (!resp.has_ack()) continue;
            const uint64_t d = resp.ack().durable_sequence();
            acked.fetch_add(d - a.durable);
            a.durable = d;
          }
        }
      }
      for (Agent& a : mine) {
        a.stream->WritesDone();
        a.ctx->TryCancel();
        a.stream->Finish();
      }
    });
  }
  // Warm up until every agent is connected and acks flow, then measure.
  absl::SleepFor(absl::Seconds(3));
  const uint64_t start_acked = acked.load();
  const absl::Time start = absl::Now();
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_seconds)));
  const uint64_t end_acked = acked.load();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  const double rss = RssMiB();
  stop.store(true);
  for (auto& t : threads) t.join();
  collector.Stop();
  const double rate = (end_acked - start_acked) / elapsed;
  PrintJson("collector_ingest",
            {{"agents", agents},
             {"in_flight_per_agent", in_flight},
             {"report_bytes", static_cast<double>(summary_bytes)},
             {"reports_per_second", rate},
             {"mb_per_second", rate * summary_bytes / 1e6},
             {"seconds", elapsed},
             {"process_rss_mib", rss}});
  return 0;
}

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
    PrintJson(
        "collector_query_load",
        {{"reports", static_cast<double>(reports)},
         {"report_bytes", static_cast<double>(summary_bytes)},
         {"load_seconds", absl::ToDoubleSeconds(rollup_start - load_start)},
         {"rollups_built", static_cast<double>(total.rollups_built)},
         {"rollup_seconds",
          absl::ToDoubleSeconds(absl::Now() - rollup_start)}});
  }
  collector::CollectorOptions options;
  options.grpc_listen = "127.0.0.1:0";
  options.http_listen = "127.0.0.1:0";
  options.data_dir = dir;
  options.maintenance_interval = absl::ZeroDuration();
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
  for (auto [name, span] :
       {std::pair{"1h", absl::Hours(1)}, std::pair{"24h", absl::Hours(24)},
        std::pair{"30d", absl::Hours(24 * 30) - absl::Hours(1)}}) {
    std::vector<double> ms;
    uint64_t merged = 0;
    for (int q = 0; q < absl::GetFlag(FLAGS_queries) + 5; ++q) {
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
        return 1;
      }
      if (q >= 5) ms.push_back(elapsed);  // first five warm caches
      merged = response.points(0).values_size();
    }
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double p) {
      return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))];
    };
    PrintJson(absl::StrCat("collector_query_", name),
              {{"replicas", replicas},
               {"queries", static_cast<double>(ms.size())},
               {"p50_ms", pct(0.50)},
               {"p99_ms", pct(0.99)},
               {"max_ms", ms.back()},
               {"metric_values", static_cast<double>(merged)}});
  }
  collector.Stop();
  return 0;
}

}  // namespace
}  // namespace aims

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::string dir = absl::GetFlag(FLAGS_dir);
  std::unique_ptr<aims::testing::TempDir> temp;
  if (dir.empty()) {
    temp = std::make_unique<aims::testing::TempDir>();
    dir = temp->path() + "/data";
  }
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "ingest") return aims::Ingest(dir);
  if (mode == "query") return aims::Query(dir);
  absl::FPrintF(stderr, "--mode: ingest or query\n");
  return 2;
}
