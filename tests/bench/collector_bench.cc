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
//   collector_bench --mode=alert [--trials=5]
//       The collector with its background loops (default 1 s evaluation
//       tick) and the real Alertmanager (Debian's prometheus-alertmanager):
//       time from the durable acknowledgement of a breaching window to the
//       alert listed by Alertmanager's GET /api/v2/alerts (polled every
//       5 ms); objective with a 5 min interval and `for: 0s`.
//
// Prints one JSON object per result line on stdout.
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>
#include <tuple>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "aims/v1/query.grpc.pb.h"
#include "collector/collector.h"
#include "collector/compliance/audit_trail.h"
#include "collector/compliance/nonconformities.h"
#include "collector/evaluation/evaluator.h"
#include "collector/notify/notifier.h"
#include "collector/storage/rocks_storage.h"
#include "common/base/clock.h"
#include "common/base/time_util.h"
#include "common/summary/profile_builder.h"
#include "common/summary/window_accumulator.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/client_unary_call.h"
#include "httplib.h"
#include "tests/testing/ingest_client.h"
#include "tests/testing/test_util.h"

ABSL_FLAG(std::string, mode, "ingest", "ingest, query, evaluate or alert");
ABSL_FLAG(int, agents, 1000, "ingest: simulated agents");
ABSL_FLAG(int, in_flight, 4, "ingest: unacknowledged reports per agent");
ABSL_FLAG(int, seconds, 20, "ingest: measured duration");
ABSL_FLAG(int64_t, reports, 0,
          "ingest: measure until this many reports are acknowledged instead "
          "of --seconds (0: use --seconds)");
ABSL_FLAG(std::string, name, "", "ingest: benchmark name in the output");
ABSL_FLAG(int, models, 100, "evaluate: models");
ABSL_FLAG(int, objectives, 10000, "evaluate: objectives");
ABSL_FLAG(int, trials, 5, "alert: breaches measured");
ABSL_FLAG(std::string, alertmanager_bin, "/usr/bin/prometheus-alertmanager",
          "alert: Alertmanager binary");
ABSL_FLAG(int, replicas, 10, "query: agents of the model");
ABSL_FLAG(int, queries, 200, "query: queries per range");
ABSL_FLAG(int, query_threads, 2,
          "query: the collector's --query_threads (threads per query)");
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

// Samples-equivalent of a message: every number it carries - each integer
// or floating-point field of every message present (zeros included, as a
// Prometheus series would carry a zero sample) and each element of repeated
// numeric fields (histogram bins, sketch bucket counters, confusion
// counts). Strings, bools and enums are not counted.
uint64_t CountNumbers(const google::protobuf::Message& m) {
  using FD = google::protobuf::FieldDescriptor;
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  const google::protobuf::Reflection* r = m.GetReflection();
  uint64_t n = 0;
  for (int i = 0; i < d->field_count(); ++i) {
    const FD* f = d->field(i);
    switch (f->cpp_type()) {
      case FD::CPPTYPE_MESSAGE:
        if (f->is_repeated()) {
          for (int j = 0; j < r->FieldSize(m, f); ++j)
            n += CountNumbers(r->GetRepeatedMessage(m, f, j));
        } else if (r->HasField(m, f)) {
          n += CountNumbers(r->GetMessage(m, f));
        }
        break;
      case FD::CPPTYPE_INT32:
      case FD::CPPTYPE_INT64:
      case FD::CPPTYPE_UINT32:
      case FD::CPPTYPE_UINT64:
      case FD::CPPTYPE_DOUBLE:
      case FD::CPPTYPE_FLOAT:
        if (f->is_repeated()) {
          n += r->FieldSize(m, f);
        } else if (f->containing_oneof() == nullptr || r->HasField(m, f)) {
          ++n;
        }
        break;
      default:
        break;
    }
  }
  return n;
}

double ProcessCpuSeconds();

// CPU seconds the client threads (the simulated agents: building each
// message around its encoded summary and writing it to gRPC) have used so
// far. gRPC's own threads, which also do client work, count as collector.
double ThreadsCpuSeconds(std::vector<std::thread>& threads) {
  double total = 0;
  for (std::thread& t : threads) {
    clockid_t clock;
    timespec ts;
    if (pthread_getcpuclockid(t.native_handle(), &clock) == 0 &&
        clock_gettime(clock, &ts) == 0) {
      total += ts.tv_sec + ts.tv_nsec * 1e-9;
    }
  }
  return total;
}

double RssMiB() {
  std::string status = testing::ReadFile("/proc/self/status");
  size_t at = status.find("VmRSS:");
  return at == std::string::npos ? 0
                                 : std::atof(status.c_str() + at + 6) / 1024;
}

// An IngestRequest carrying a report of `summary` (already serialized),
// encoded by hand around it: the few header fields are serialized per
// report, the summary's bytes are referenced, not copied. The simulated
// agents stand in for agents on other hosts: encoding each summary once
// keeps their share of this machine's cores small (the real agent
// serializes each report it sends).
grpc::ByteBuffer EncodedIngestRequest(const std::string& agent_id,
                                      uint64_t sequence, absl::Time start,
                                      const std::string& summary) {
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  v1::WindowReport head;
  head.set_agent_id(agent_id);
  head.set_sequence(sequence);
  *head.mutable_window_start() = ToProto(start);
  *head.mutable_window_end() = ToProto(start + absl::Seconds(10));
  std::string report_head = head.SerializeAsString();
  auto put_varint = [](std::string* out, uint64_t v) {
    uint8_t buf[10];
    uint8_t* end = CodedOutputStream::WriteVarint64ToArray(v, buf);
    out->append(reinterpret_cast<const char*>(buf), end - buf);
  };
  put_varint(&report_head, WireFormatLite::MakeTag(
                               v1::WindowReport::kSummaryFieldNumber,
                               WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  put_varint(&report_head, summary.size());
  std::string prefix;
  put_varint(&prefix, WireFormatLite::MakeTag(
                          v1::IngestRequest::kReportFieldNumber,
                          WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  put_varint(&prefix, report_head.size() + summary.size());
  prefix += report_head;
  grpc::Slice slices[2] = {
      grpc::Slice(prefix),
      grpc::Slice(summary.data(), summary.size(), grpc::Slice::STATIC_SLICE)};
  return grpc::ByteBuffer(slices, 2);
}

int Ingest(const std::string& dir) {
  const int agents = absl::GetFlag(FLAGS_agents);
  const int in_flight = absl::GetFlag(FLAGS_in_flight);
  size_t summary_bytes = 0;
  const std::vector<v1::WindowSummary> pool = SummaryPool(16, &summary_bytes);
  std::vector<std::string> encoded_pool;
  for (const v1::WindowSummary& s : pool)
    encoded_pool.push_back(s.SerializeAsString());
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
  std::atomic<int> flowing{0};  // agents with at least one acknowledgement
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
            grpc::ClientReaderWriter<grpc::ByteBuffer, v1::IngestResponse>>
            stream;
        uint64_t sent = 0, durable = 0;
      };
      std::vector<Agent> mine;
      std::vector<std::shared_ptr<grpc::Channel>> channels;
      for (int i = t; i < agents; i += kThreads) {
        // The generated stub's method, with requests written as bytes.
        channels.push_back(channel_for(i));
        const grpc::internal::RpcMethod method(
            "/aims.v1.IngestService/Report",
            grpc::internal::RpcMethod::BIDI_STREAMING, channels.back());
        Agent a;
        a.id = absl::StrCat("agent-", i);
        a.ctx = std::make_unique<grpc::ClientContext>();
        a.stream.reset(grpc::internal::ClientReaderWriterFactory<
                       grpc::ByteBuffer,
                       v1::IngestResponse>::Create(channels.back().get(),
                                                   method, a.ctx.get()));
        v1::IngestRequest hello;
        hello.mutable_hello()->mutable_agent()->set_agent_id(a.id);
        *hello.mutable_hello()->mutable_model() = Model(i / 10);
        hello.mutable_hello()->set_protocol_version(1);
        grpc::Slice hello_bytes(hello.SerializeAsString());
        v1::IngestResponse resp;
        if (!a.stream->Write(grpc::ByteBuffer(&hello_bytes, 1)) ||
            !a.stream->Read(&resp)) {
          absl::FPrintF(stderr, "agent %s: no welcome\n", a.id);
          std::abort();
        }
        mine.push_back(std::move(a));
      }
      while (!stop.load()) {
        // Top every agent up to `in_flight` unacknowledged reports, then
        // wait for each agent's acknowledgement of its latest.
        for (Agent& a : mine) {
          while (a.sent - a.durable < static_cast<uint64_t>(in_flight)) {
            const uint64_t seq = ++a.sent;
            a.stream->Write(EncodedIngestRequest(
                a.id, seq, base + absl::Seconds(10 * static_cast<int64_t>(seq)),
                encoded_pool[seq % encoded_pool.size()]));
          }
        }
        for (Agent& a : mine) {
          v1::IngestResponse resp;
          while (a.durable < a.sent && a.stream->Read(&resp)) {
            if (resp.has_rejection()) {
              // A rejected report is acknowledged too (as a gap): the
              // figure would count reports never stored.
              absl::FPrintF(stderr, "agent %s: report rejected: %s\n", a.id,
                            resp.rejection().reason());
              std::abort();
            }
            if (!resp.has_ack()) continue;
            const uint64_t d = resp.ack().durable_sequence();
            if (a.durable == 0 && d > 0) flowing.fetch_add(1);
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
  // Warm up until every agent's reports are acknowledged (at most a
  // minute), and 2 s more, then measure.
  const absl::Time warmup_start = absl::Now();
  while (flowing.load() < agents &&
         absl::Now() - warmup_start < absl::Minutes(1)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  absl::SleepFor(absl::Seconds(2));
  const uint64_t start_acked = acked.load();
  const absl::Time start = absl::Now();
  const double start_cpu = ProcessCpuSeconds();
  const double start_client_cpu = ThreadsCpuSeconds(threads);
  const int64_t want = absl::GetFlag(FLAGS_reports);
  if (want > 0) {
    while (acked.load() - start_acked < static_cast<uint64_t>(want) &&
           absl::Now() - start < absl::Minutes(10)) {
      absl::SleepFor(absl::Milliseconds(2));
    }
  } else {
    absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_seconds)));
  }
  const uint64_t end_acked = acked.load();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  const double cpu = ProcessCpuSeconds() - start_cpu;
  const double client_cpu = ThreadsCpuSeconds(threads) - start_client_cpu;
  const double rss = RssMiB();
  stop.store(true);
  for (auto& t : threads) t.join();
  // Every acknowledged report must be stored, once: the collector's own
  // count (duplicates and expired windows are acknowledged too).
  {
    auto stub = v1::QueryService::NewStub(channel_for(0));
    grpc::ClientContext ctx;
    v1::ListAgentsResponse resp;
    if (grpc::Status s = stub->ListAgents(&ctx, v1::ListAgentsRequest(), &resp);
        !s.ok()) {
      absl::FPrintF(stderr, "ListAgents: %s\n", s.error_message());
      std::abort();
    }
    uint64_t stored = 0, duplicates = 0;
    for (const v1::AgentInfo& a : resp.agents()) {
      stored += a.report_count();
      duplicates += a.duplicate_count();
    }
    if (stored < acked.load() || duplicates > 0) {
      absl::FPrintF(stderr,
                    "%d reports acknowledged, %d stored, %d duplicates\n",
                    acked.load(), stored, duplicates);
      std::abort();
    }
  }
  collector.Stop();
  const double rate = (end_acked - start_acked) / elapsed;
  // A report as stored: the summary plus its window and sequence.
  v1::WindowReport sample;
  sample.set_agent_id("agent-0");
  sample.set_sequence(1);
  *sample.mutable_window_start() = ToProto(base);
  *sample.mutable_window_end() = ToProto(base + absl::Seconds(10));
  *sample.mutable_summary() = pool[0];
  const double numbers = static_cast<double>(CountNumbers(sample));
  std::string name = absl::GetFlag(FLAGS_name);
  if (name.empty()) name = "collector_ingest";
  PrintJson(name, {{"agents", agents},
                   {"in_flight_per_agent", in_flight},
                   {"report_bytes", static_cast<double>(summary_bytes)},
                   {"reports", static_cast<double>(end_acked - start_acked)},
                   {"reports_per_second", rate},
                   {"mb_per_second", rate * summary_bytes / 1e6},
                   {"numbers_per_report", numbers},
                   {"samples_equivalent", numbers * (end_acked - start_acked)},
                   {"samples_equivalent_per_second", rate * numbers},
                   {"seconds", elapsed},
                   {"process_cpu_cores", cpu / elapsed},
                   // The simulated agents' own threads; the rest of the
                   // process is the collector (gRPC, ingest, RocksDB).
                   {"client_threads_cpu_cores", client_cpu / elapsed},
                   {"collector_cpu_cores", (cpu - client_cpu) / elapsed},
                   {"reports_per_collector_cpu_second",
                    (end_acked - start_acked) / (cpu - client_cpu)},
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

double ProcessCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec * 1e-6;
}

// An event of the evaluation models: 20 numeric and 5 categorical features,
// gender and age band, score, class and label, latency.
Event EvalEvent(std::mt19937& rng) {
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> u(0, 1);
  const char* bands[] = {"18-29", "30-44", "45-64", "65+"};
  Event e;
  for (int f = 0; f < 20; ++f) {
    e.features.emplace_back(
        absl::StrCat("num_", f),
        FeatureValue{FeatureValue::Kind::kNumber, normal(rng), ""});
  }
  for (int f = 0; f < 5; ++f) {
    e.features.emplace_back(
        absl::StrCat("cat_", f),
        FeatureValue{FeatureValue::Kind::kCategory, 0,
                     absl::StrCat("v", static_cast<int>(u(rng) * 8))});
  }
  e.score = u(rng);
  e.prediction.kind = Outcome::Kind::kNumber;
  e.prediction.number = *e.score >= 0.5;
  e.label.kind = Outcome::Kind::kNumber;
  e.label.number = u(rng) < *e.score;
  e.attributes.emplace_back("gender", u(rng) < 0.5 ? "female" : "male");
  e.attributes.emplace_back("age_band", bands[static_cast<int>(u(rng) * 4)]);
  e.latency_seconds = 0.01 + u(rng) / 50;
  return e;
}

// The objectives of one model: 100 specs (metric, feature, attribute,
// group, comparator, threshold), each one series.
struct Spec {
  std::string metric, feature, attribute, group, comparator;
  double threshold;
};
std::vector<Spec> ModelSpecs() {
  std::vector<Spec> specs;
  for (int f = 0; f < 20; ++f) {
    const std::string name = absl::StrCat("num_", f);
    specs.push_back({"psi", name, "", "", "<=", 0.2});
    specs.push_back({"ks_statistic", name, "", "", "<=", 0.1});
    specs.push_back({"wasserstein_norm", name, "", "", "<=", 0.1});
  }
  for (int f = 0; f < 5; ++f) {
    const std::string name = absl::StrCat("cat_", f);
    specs.push_back({"psi", name, "", "", "<=", 0.2});
    specs.push_back({"js_distance", name, "", "", "<=", 0.1});
  }
  specs.push_back({"psi", std::string(kPredictionFeature), "", "", "<=", 0.2});
  specs.push_back({"hellinger", "num_0", "", "", "<=", 0.1});
  specs.push_back({"hellinger", "num_1", "", "", "<=", 0.1});
  for (auto [metric, cmp, t] : {std::tuple{"accuracy", ">=", 0.6},
                                {"precision", ">=", 0.5},
                                {"recall", ">=", 0.5},
                                {"f1", ">=", 0.5},
                                {"f1_macro", ">=", 0.5},
                                {"log_loss", "<=", 0.7},
                                {"brier", "<=", 0.25},
                                {"roc_auc", ">=", 0.7},
                                {"latency_p99", "<=", 0.05},
                                {"error_rate", "<=", 0.01},
                                {"drifted_feature_share", "<=", 0.2}}) {
    specs.push_back({metric, "", "", "", cmp, t});
  }
  for (const char* attribute : {"gender", "age_band"}) {
    specs.push_back({"demographic_parity_ratio", "", attribute, "", ">=", 0.8});
    specs.push_back(
        {"equal_opportunity_difference", "", attribute, "", "<=", 0.1});
    specs.push_back(
        {"equalized_odds_difference", "", attribute, "", "<=", 0.1});
    specs.push_back(
        {"predictive_parity_difference", "", attribute, "", "<=", 0.1});
  }
  for (const char* g : {"female", "male"}) {
    specs.push_back({"selection_rate", "", "gender", g, ">=", 0.1});
    specs.push_back({"true_positive_rate", "", "gender", g, ">=", 0.5});
  }
  for (const char* g : {"18-29", "30-44", "45-64", "65+"}) {
    specs.push_back({"selection_rate", "", "age_band", g, ">=", 0.1});
  }
  return specs;
}

int Evaluate(const std::string& dir) {
  const int models = absl::GetFlag(FLAGS_models);
  const int objectives = absl::GetFlag(FLAGS_objectives);
  const std::vector<Spec> specs = ModelSpecs();
  if (models < 1 || objectives < models ||
      objectives > models * static_cast<int>(specs.size())) {
    absl::FPrintF(stderr, "--objectives: %d..%d for %d models\n", models,
                  models * specs.size(), models);
    return 2;
  }
  auto model_ref = [](int m) {
    v1::ModelRef ref;
    ref.set_name(absl::StrFormat("eval-%03d", m));
    ref.set_version("v1");
    ref.set_environment("prod");
    return ref;
  };
  // A reference profile and a pool of window summaries binned on it.
  std::mt19937 rng(11);
  ProfileBuilder builder{ProfileBuildOptions()};
  for (int i = 0; i < 2000; ++i) builder.Add(EvalEvent(rng));
  const v1::ReferenceProfile base_profile =
      *builder.Build(model_ref(0), v1::PROFILE_SOURCE_TRAINING_DATA, "bench");
  auto config = std::make_shared<SummaryConfig>();
  config->profile = std::make_shared<v1::ReferenceProfile>(base_profile);
  std::vector<v1::WindowSummary> pool;
  for (int s = 0; s < 8; ++s) {
    WindowAccumulator acc(config);
    for (int i = 0; i < 200; ++i) acc.Add(EvalEvent(rng));
    pool.push_back(acc.Build());
  }

  FakeClock clock(
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) / 60 * 60));
  const absl::Time now = clock.Now();
  collector::RocksStorageOptions storage_options;
  storage_options.path = dir;
  storage_options.sync_writes = true;  // as the collector runs
  auto opened = collector::RocksStorage::Open(storage_options);
  if (!opened.ok()) {
    absl::FPrintF(stderr, "%s\n", opened.status().ToString());
    return 1;
  }
  collector::RocksStorage& storage = **opened;
  const absl::Time load_start = absl::Now();
  constexpr int kWindows = 60;  // 10 minutes of 10 s windows
  for (int m = 0; m < models; ++m) {
    v1::Hello hello;
    hello.mutable_agent()->set_agent_id(absl::StrCat("eval-agent-", m));
    *hello.mutable_model() = model_ref(m);
    (void)storage.RegisterAgent(hello, now);
    v1::ReferenceProfile profile = base_profile;
    *profile.mutable_model() = model_ref(m);
    profile.set_profile_id(ComputeProfileId(profile));
    bool created = false;
    if (auto put = storage.PutProfile(profile, false, &created); !put.ok()) {
      absl::FPrintF(stderr, "%s\n", put.status().ToString());
      return 1;
    }
    std::vector<v1::WindowReport> batch(kWindows);
    std::vector<const v1::WindowReport*> ptrs;
    for (int w = 0; w < kWindows; ++w) {
      v1::WindowReport& r = batch[w];
      r.set_agent_id(hello.agent().agent_id());
      r.set_sequence(w + 1);
      const absl::Time start = now - absl::Seconds(10 * (kWindows - w));
      *r.mutable_window_start() = ToProto(start);
      *r.mutable_window_end() = ToProto(start + absl::Seconds(10));
      *r.mutable_summary() = pool[(m + w) % pool.size()];
      r.mutable_summary()->set_profile_id(profile.profile_id());
      ptrs.push_back(&r);
    }
    std::vector<collector::WriteOutcome> outcomes;
    if (absl::Status s = storage.WriteReports(ptrs, now, &outcomes); !s.ok()) {
      absl::FPrintF(stderr, "%s\n", s.ToString());
      return 1;
    }
  }
  for (;;) {
    auto stats = storage.Maintain(now);
    if (!stats.ok() || !stats->budget_exhausted) break;
  }
  const double load_seconds = absl::ToDoubleSeconds(absl::Now() - load_start);

  std::string yaml =
      "coverage: {enabled: false}\n"
      "defaults: {window: 10m, evaluation_interval: 30s}\n"
      "objectives:\n";
  const int per_model = objectives / models;
  for (int m = 0; m < models; ++m) {
    const int here = per_model + (m < objectives % models ? 1 : 0);
    for (int i = 0; i < here; ++i) {
      const Spec& spec = specs[i];
      absl::StrAppendFormat(&yaml,
                            "  - id: m%03d-%03d\n"
                            "    model: {name: %s}\n"
                            "    metric: %s\n",
                            m, i, model_ref(m).name(), spec.metric);
      if (!spec.feature.empty())
        absl::StrAppend(&yaml, "    feature: \"", spec.feature, "\"\n");
      if (!spec.attribute.empty())
        absl::StrAppend(&yaml, "    attribute: ", spec.attribute, "\n");
      if (!spec.group.empty())
        absl::StrAppend(&yaml, "    group: \"", spec.group, "\"\n");
      absl::StrAppend(&yaml, "    comparator: \"", spec.comparator,
                      "\"\n    threshold: ", spec.threshold, "\n");
    }
  }
  double cpu = ProcessCpuSeconds();
  absl::Time wall = absl::Now();
  absl::StatusOr<collector::Plan> plan =
      collector::ParsePlan(yaml, "bench-plan.yaml");
  if (!plan.ok()) {
    absl::FPrintF(stderr, "%s\n", plan.status().ToString());
    return 1;
  }
  const double parse_cpu = ProcessCpuSeconds() - cpu;
  const size_t plan_objectives = plan->objectives.size();

  collector::AuditTrail audit(&storage, &clock);
  collector::Nonconformities ncs(&storage, &audit);
  collector::Notifier notifier(&storage, &clock, collector::NotifierOptions{});
  collector::Evaluator evaluator(&storage, &audit, &ncs, &notifier, &clock);
  if (!audit.Load().ok() || !ncs.Load().ok() || !evaluator.Load().ok()) {
    absl::FPrintF(stderr, "cannot load evaluation state\n");
    return 1;
  }
  cpu = ProcessCpuSeconds();
  if (auto set = evaluator.SetPlan(std::move(*plan), "bench"); !set.ok()) {
    absl::FPrintF(stderr, "%s\n", set.status().ToString());
    return 1;
  }
  const double set_plan_cpu = ProcessCpuSeconds() - cpu;

  std::vector<std::pair<std::string, double>> out = {
      {"models", models},
      {"objectives", static_cast<double>(plan_objectives)},
      {"reports_per_model", kWindows},
      {"load_seconds", load_seconds},
      {"plan_bytes", static_cast<double>(yaml.size())},
      {"parse_plan_cpu_seconds", parse_cpu},
      {"set_plan_cpu_seconds", set_plan_cpu}};
  for (const char* pass : {"first", "steady"}) {
    cpu = ProcessCpuSeconds();
    wall = absl::Now();
    const int evaluated = evaluator.EvaluateDue();
    const double pass_cpu = ProcessCpuSeconds() - cpu;
    const double pass_wall = absl::ToDoubleSeconds(absl::Now() - wall);
    out.push_back({absl::StrCat(pass, "_series_evaluated"), evaluated});
    out.push_back({absl::StrCat(pass, "_cpu_seconds"), pass_cpu});
    out.push_back({absl::StrCat(pass, "_wall_seconds"), pass_wall});
    clock.Advance(absl::Seconds(30));  // every objective due again
  }
  std::map<v1::ObjectiveState, int> states;
  for (const v1::ObjectiveStatus& st :
       evaluator.States(v1::ListObjectiveStatesRequest()))
    ++states[st.state()];
  double series = 0;
  for (const auto& [state, n] : states) series += n;
  out.push_back({"series", series});
  for (const auto& [state, n] : states) {
    out.push_back(
        {absl::StrCat("series_", collector::ObjectiveStateName(state)), n});
  }
  out.push_back(
      {"errors", static_cast<double>(evaluator.counters().errors.load())});
  PrintJson("collector_evaluate", out);
  return evaluator.counters().errors.load() == 0 ? 0 : 1;
}

// One window of 400 events for `model`: group f selected at `f_rate`, m at
// 0.6 (demographic parity ratio f_rate / 0.6).
v1::WindowSummary ParitySummary(double f_rate) {
  WindowAccumulator acc(std::make_shared<SummaryConfig>());
  for (int i = 0; i < 400; ++i) {
    Event e;
    const bool f = i % 2 == 0;
    const int k = (i / 2) % 100;
    e.prediction.kind = Outcome::Kind::kClass;
    e.prediction.class_label = k < (f ? f_rate : 0.6) * 100 ? "1" : "0";
    e.attributes = {{"gender", f ? "f" : "m"}};
    acc.Add(e);
  }
  return acc.Build();
}

int Alert(const std::string& dir) {
  std::filesystem::create_directories(dir);
  const std::string am_bin = absl::GetFlag(FLAGS_alertmanager_bin);
  const int am_port = testing::FreePort();
  {
    std::ofstream config(dir + "/alertmanager.yml");
    config << "route:\n  receiver: compliance\n  group_wait: 1s\n"
              "receivers:\n  - name: compliance\n";
    std::ofstream plan(dir + "/plan.yaml");
    plan << "coverage: {enabled: false}\n"
            "objectives:\n"
            "  - id: parity\n"
            "    metric: demographic_parity_ratio\n"
            "    attribute: gender\n"
            "    comparator: \">=\"\n"
            "    threshold: 0.8\n"
            "    window: 30s\n"
            "    evaluation_interval: 5m\n"
            "    for: 0s\n";
  }
  testing::Subprocess am(
      {am_bin, "--config.file=" + dir + "/alertmanager.yml",
       "--storage.path=" + dir + "/am-data",
       absl::StrCat("--web.listen-address=127.0.0.1:", am_port),
       "--cluster.listen-address="},
      dir + "/alertmanager.log");
  httplib::Client am_client("127.0.0.1", am_port);
  if (!testing::WaitFor(
          [&] {
            auto r = am_client.Get("/-/ready");
            return r && r->status == 200;
          },
          absl::Seconds(30))) {
    absl::FPrintF(stderr, "alertmanager not ready\n");
    return 1;
  }
  collector::CollectorOptions options;
  options.grpc_listen = "127.0.0.1:0";
  options.http_listen = "127.0.0.1:0";
  options.data_dir = dir + "/data";
  options.plan_file = dir + "/plan.yaml";
  options.alertmanager_urls = {absl::StrCat("http://127.0.0.1:", am_port)};
  collector::Collector collector(options);  // default 1 s evaluation tick
  if (absl::Status s = collector.Start(); !s.ok()) {
    absl::FPrintF(stderr, "collector: %s\n", s.ToString());
    return 1;
  }
  const v1::WindowSummary breach = ParitySummary(0.3);  // ratio 0.5
  std::vector<double> ms;
  for (int trial = 0; trial < absl::GetFlag(FLAGS_trials); ++trial) {
    // As in a running collector, the objective's last evaluation is more
    // than a second old when the breach arrives.
    absl::SleepFor(absl::Milliseconds(1500));
    v1::ModelRef model;
    model.set_name(absl::StrCat("alert-", trial));
    model.set_version("v1");
    model.set_environment("prod");
    testing::SimulatedAgent agent(collector.grpc_port(), model,
                                  absl::StrCat("alert-agent-", trial));
    agent.Enqueue(absl::Now() - absl::Seconds(10), absl::Seconds(10), breach);
    if (!agent.Flush(absl::Seconds(30))) {
      absl::FPrintF(stderr, "report not acknowledged: %s\n",
                    agent.last_error());
      return 1;
    }
    const absl::Time acked = absl::Now();
    const std::string label = absl::StrCat("\"model\":\"", model.name(), "\"");
    const bool seen = testing::WaitFor(
        [&] {
          for (;;) {
            auto r = am_client.Get("/api/v2/alerts?active=true");
            if (r && r->status == 200 &&
                r->body.find(label) != std::string::npos)
              return true;
            if (absl::Now() - acked > absl::Seconds(30)) return false;
            absl::SleepFor(absl::Milliseconds(5));
          }
        },
        absl::Seconds(31));
    if (!seen) {
      absl::FPrintF(stderr, "no alert for %s\n", model.name());
      return 1;
    }
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - acked));
  }
  collector.Stop();
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  PrintJson("collector_breach_to_alert",
            {{"trials", static_cast<double>(ms.size())},
             {"evaluation_tick_seconds", 1},
             {"p50_ms", sorted[sorted.size() / 2]},
             {"min_ms", sorted.front()},
             {"max_ms", sorted.back()}});
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
  if (mode == "evaluate") return aims::Evaluate(dir);
  if (mode == "alert") return aims::Alert(dir);
  absl::FPrintF(stderr, "--mode: ingest, query, evaluate or alert\n");
  return 2;
}
