#include "tests/bench/collector_bench.h"

namespace aims::bench {

LoadResult DriveAgents(int agents, int in_flight,
                       const std::function<std::string(int)>& target,
                       const std::vector<std::string>& encoded_pool,
                       absl::Time base) {
  auto channel_for = [&](int i) {
    grpc::ChannelArguments args;
    args.SetInt("aims_channel", i % 8);  // 8 connections, like 8 hosts
    return grpc::CreateCustomChannel(target(i),
                                     grpc::InsecureChannelCredentials(), args);
  };
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> acked{0};
  std::atomic<int> flowing{0};  // agents with at least one acknowledgement
  constexpr int kThreads = 16;
  std::vector<std::thread> threads;
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
        v1::IngestRequest hello;
        hello.mutable_hello()->mutable_agent()->set_agent_id(a.id);
        *hello.mutable_hello()->mutable_model() = Model(i / 10);
        hello.mutable_hello()->set_protocol_version(1);
        grpc::Slice hello_bytes(hello.SerializeAsString());
        // A collector busy with a membership change may refuse a stream
        // for a moment; a real agent reconnects with backoff.
        constexpr int kAttempts = 5;
        for (int attempt = 1;; ++attempt) {
          a.ctx = std::make_unique<grpc::ClientContext>();
          a.stream.reset(grpc::internal::ClientReaderWriterFactory<
                         grpc::ByteBuffer,
                         v1::IngestResponse>::Create(channels.back().get(),
                                                     method, a.ctx.get()));
          v1::IngestResponse resp;
          if (a.stream->Write(grpc::ByteBuffer(&hello_bytes, 1)) &&
              a.stream->Read(&resp)) {
            break;
          }
          const grpc::Status status = a.stream->Finish();
          absl::FPrintF(stderr, "agent %s: no welcome (%s), attempt %d of %d\n",
                        a.id, status.error_message(), attempt, kAttempts);
          if (attempt == kAttempts) std::abort();
          absl::SleepFor(absl::Seconds(1));
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
  LoadResult result;
  result.reports = acked.load() - start_acked;
  result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.process_cpu = ProcessCpuSeconds() - start_cpu;
  result.client_cpu = ThreadsCpuSeconds(threads) - start_client_cpu;
  result.rss_mib = RssMiB();
  stop.store(true);
  for (auto& t : threads) t.join();
  result.acked_total = acked.load();
  return result;
}

bool StoredOnce(const std::string& address, uint64_t acked) {
  auto stub = v1::QueryService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  v1::ListAgentsResponse resp;
  if (grpc::Status s = stub->ListAgents(&ctx, v1::ListAgentsRequest(), &resp);
      !s.ok()) {
    absl::FPrintF(stderr, "ListAgents: %s\n", s.error_message());
    return false;
  }
  uint64_t stored = 0, duplicates = 0;
  for (const v1::AgentInfo& a : resp.agents()) {
    stored += a.report_count();
    duplicates += a.duplicate_count();
  }
  if (stored < acked || duplicates > 0) {
    absl::FPrintF(stderr, "%d reports acknowledged, %d stored, %d duplicates\n",
                  acked, stored, duplicates);
    return false;
  }
  return true;
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
  const std::string address = absl::StrCat("127.0.0.1:", collector.grpc_port());
  // Windows from now on: live traffic, no rollup is rebuilt for them.
  const absl::Time base = absl::Now();
  const LoadResult load = DriveAgents(
      agents, in_flight, [&](int) { return address; }, encoded_pool, base);
  const uint64_t end_acked = load.reports, start_acked = 0;
  const double elapsed = load.seconds;
  const double cpu = load.process_cpu;
  const double client_cpu = load.client_cpu;
  const double rss = load.rss_mib;
  if (!StoredOnce(address, load.acked_total)) std::abort();
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

}  // namespace aims::bench
