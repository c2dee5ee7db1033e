// The collector binary under hostile conditions for its storage: kill -9
// during sustained ingest, and a full disk (a size-limited tmpfs). In both,
// every report the collector acknowledged must be stored, exactly once, and
// the agents' unacknowledged reports must get in after recovery.
#include <signal.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "aims/v1/query.grpc.pb.h"
#include "common/base/time_util.h"
#include "common/summary/window_accumulator.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/ingest_client.h"
#include "tests/testing/small_filesystem.h"
#include "tests/testing/test_util.h"

namespace aims {
namespace {

using testing::SimulatedAgent;
using testing::Subprocess;
using testing::WaitFor;
using testing::WaitForPort;

// Windows start three hours ago (well inside the raw retention) on a minute.
const absl::Time kT0 =
    absl::FromUnixSeconds((absl::ToUnixSeconds(absl::Now()) / 60 - 180) * 60);

v1::ModelRef Model() {
  v1::ModelRef m;
  m.set_name("credit");
  m.set_version("v1");
  m.set_environment("prod");
  return m;
}

v1::WindowSummary Events(uint64_t n) {
  v1::WindowSummary s;
  s.mutable_operational()->set_event_count(n);
  return s;
}

// A window of 100 events with 100 numeric features: tens of kilobytes of
// sketches, to fill a disk quickly.
const v1::WindowSummary& LargeWindow() {
  static const v1::WindowSummary summary = [] {
    std::mt19937 rng(7);
    std::normal_distribution<double> normal(0, 1);
    WindowAccumulator acc(std::make_shared<SummaryConfig>());
    for (int i = 0; i < 100; ++i) {
      Event e;
      for (int f = 0; f < 100; ++f) {
        e.features.emplace_back(
            absl::StrCat("feature_", f),
            FeatureValue{FeatureValue::Kind::kNumber, normal(rng), ""});
      }
      e.prediction.kind = Outcome::Kind::kNumber;
      e.prediction.number = 1;
      acc.Add(e);
    }
    return acc.Build();
  }();
  return summary;
}

// Reports and events the collector holds for Model(), by a merged query.
std::pair<uint64_t, uint64_t> Stored(int grpc_port) {
  auto stub = v1::QueryService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port),
                          grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  v1::GetSummariesRequest request;
  *request.mutable_model() = Model();
  *request.mutable_from() = ToProto(kT0 - absl::Hours(1));
  *request.mutable_to() = ToProto(kT0 + absl::Hours(24 * 3));
  v1::GetSummariesResponse response;
  grpc::Status status = stub->GetSummaries(&ctx, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  uint64_t reports = 0, events = 0;
  for (const auto& b : response.buckets()) {
    reports += b.report_count();
    events += b.summary().operational().event_count();
  }
  return {reports, events};
}

std::unique_ptr<Subprocess> StartCollector(
    const testing::TempDir& dir, const std::string& data_dir,
    const std::string& grpc_listen, const std::string& log,
    std::vector<std::string> extra = {}) {
  std::remove(dir.File("ports").c_str());
  std::vector<std::string> argv = {AIMS_COLLECTOR_BIN,
                                   "--grpc_listen=" + grpc_listen,
                                   "--http_listen=127.0.0.1:0",
                                   "--data_dir=" + data_dir,
                                   "--sync_writes=true",
                                   "--maintenance_interval=1s",
                                   "--ports_file=" + dir.File("ports")};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<Subprocess>(argv, dir.File(log));
}

TEST(StorageCrashTest, KillDuringSustainedIngestLosesNoAcknowledgedReport) {
  testing::TempDir dir;
  const std::string data = dir.File("data");
  // Generous deadlines: a loaded CI machine (or a sanitizer build) is slow,
  // and the restart replays the write-ahead log.
  constexpr absl::Duration kDeadline = absl::Seconds(180);
  auto collector = StartCollector(dir, data, "127.0.0.1:0", "c1.log");
  const int port = WaitForPort(dir.File("ports"), "grpc", kDeadline);
  ASSERT_NE(port, 0) << testing::ReadFile(dir.File("c1.log"));

  // Four agents stream 10 s windows as fast as they are acknowledged.
  constexpr int kAgents = 4;
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<SimulatedAgent>> agents;
  std::vector<uint64_t> events_sent(kAgents, 0);
  for (int i = 0; i < kAgents; ++i) {
    agents.push_back(std::make_unique<SimulatedAgent>(
        port, Model(), absl::StrCat("agent-", i)));
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < kAgents; ++i) {
    threads.emplace_back([&, i] {
      SimulatedAgent& agent = *agents[i];
      while (!stop.load()) {
        // A few windows per stream, as an agent's spool drains.
        for (int k = 0; k < 5; ++k) {
          const uint64_t seq = agent.last_sequence() + 1;
          const uint64_t n = 1 + (seq * 7 + i) % 13;
          agent.Enqueue(kT0 + absl::Seconds(10 * seq), absl::Seconds(10),
                        Events(n));
          events_sent[i] += n;
        }
        agent.Flush(absl::Seconds(1));
      }
    });
  }
  // Stop and join the agents however the test ends.
  struct Joiner {
    std::atomic<bool>* stop;
    std::vector<std::thread>* threads;
    ~Joiner() {
      stop->store(true);
      for (auto& t : *threads)
        if (t.joinable()) t.join();
    }
  } joiner{&stop, &threads};
  auto total_acked = [&] {
    uint64_t total = 0;
    for (const auto& a : agents) total += a->acked();
    return total;
  };
  ASSERT_TRUE(WaitFor([&] { return total_acked() >= 300; }, kDeadline));
  ASSERT_EQ(collector->Signal(SIGKILL), 128 + SIGKILL);
  std::vector<uint64_t> acked_at_kill;
  for (const auto& a : agents) acked_at_kill.push_back(a->acked());

  // Same port: the agents reconnect by themselves and resend.
  collector =
      StartCollector(dir, data, absl::StrCat("127.0.0.1:", port), "c2.log");
  ASSERT_EQ(WaitForPort(dir.File("ports"), "grpc", kDeadline), port)
      << testing::ReadFile(dir.File("c2.log"));
  const uint64_t acked_before_restart = total_acked();
  ASSERT_TRUE(WaitFor(
      [&] { return total_acked() >= acked_before_restart + 100; }, kDeadline));
  stop.store(true);
  for (auto& t : threads) t.join();
  uint64_t reports_sent = 0, events_total = 0;
  for (int i = 0; i < kAgents; ++i) {
    ASSERT_TRUE(agents[i]->Flush(absl::Seconds(60))) << agents[i]->last_error();
    // The collector's own record after the restart covers every
    // acknowledgement given before the kill.
    EXPECT_GE(agents[i]->last_welcome(), acked_at_kill[i]);
    reports_sent += agents[i]->last_sequence();
    events_total += events_sent[i];
  }
  // Every report once: none lost, no duplicate stored.
  const auto [reports, events] = Stored(port);
  EXPECT_EQ(reports, reports_sent);
  EXPECT_EQ(events, events_total);
  EXPECT_EQ(collector->Signal(SIGTERM, absl::Seconds(60)), 0);
}

// A tmpfs of a few MiB; unmounted on destruction.
std::string HttpGet(int port, const std::string& path, int* status) {
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get(path);
  *status = res ? res->status : 0;
  return res ? res->body : "";
}

TEST(StorageCrashTest, DiskFullStopsAcknowledgingAndRecoversByItself) {
  testing::TempDir dir;
  testing::SmallFilesystem fs(dir.File("small"), 256);
  if (!fs.mounted()) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << fs.error()
                 << "); the test needs root or CAP_SYS_ADMIN";
  }
  auto collector = StartCollector(dir, dir.File("small/data"), "127.0.0.1:0",
                                  "collector.log", {"--min_free_disk_mib=64"});
  const int port = WaitForPort(dir.File("ports"), "grpc");
  ASSERT_NE(port, 0) << testing::ReadFile(dir.File("collector.log"));
  const int http = testing::ReadPortsFile(dir.File("ports"))["http"];

  SimulatedAgent agent(port, Model(), "agent-0");
  uint64_t events = 0;
  auto enqueue = [&](int n) {
    for (int i = 0; i < n; ++i) {
      const uint64_t seq = agent.last_sequence() + 1;
      agent.Enqueue(kT0 + absl::Seconds(10 * seq), absl::Seconds(10),
                    Events(seq));
      events += seq;
    }
  };
  enqueue(5);
  ASSERT_TRUE(agent.Flush(absl::Seconds(10))) << agent.last_error();
  int status = 0;
  HttpGet(http, "/readyz", &status);
  EXPECT_EQ(status, 200);

  // Fill the disk to below the collector's reserve (64 MiB): from then on
  // nothing is acknowledged and the agent keeps its reports.
  ASSERT_TRUE(testing::FillUp(dir.File("small/ballast"), uint64_t{32} << 20));
  enqueue(5);
  EXPECT_FALSE(agent.Flush(absl::Seconds(3)));
  const uint64_t acked_while_full = agent.acked();
  EXPECT_LT(acked_while_full, agent.last_sequence());
  EXPECT_TRUE(absl::StrContains(agent.last_error(), "below the reserve"))
      << agent.last_error();
  HttpGet(http, "/readyz", &status);
  EXPECT_EQ(status, 503) << testing::ReadFile(dir.File("collector.log"));
  EXPECT_TRUE(absl::StrContains(HttpGet(http, "/metrics", &status),
                                "aims_collector_storage_healthy 0"));
  EXPECT_FALSE(agent.Flush(absl::Seconds(2)));  // still full: still refused
  EXPECT_EQ(agent.acked(), acked_while_full);

  // Space returns: the collector resumes by itself and takes the spool.
  std::remove(dir.File("small/ballast").c_str());
  ASSERT_TRUE(agent.Flush(absl::Seconds(60))) << agent.last_error();
  EXPECT_EQ(agent.acked(), agent.last_sequence());
  EXPECT_TRUE(WaitFor(
      [&] {
        HttpGet(http, "/readyz", &status);
        return status == 200;
      },
      absl::Seconds(10)));
  EXPECT_TRUE(absl::StrContains(HttpGet(http, "/metrics", &status),
                                "aims_collector_storage_healthy 1"));
  const auto [reports, stored_events] = Stored(port);
  EXPECT_EQ(reports, agent.last_sequence());
  EXPECT_EQ(stored_events, events);
  EXPECT_EQ(collector->Signal(SIGTERM), 0);
}

// Sends windows of LargeWindow() until the collector answers /readyz with
// 503 (RocksDB failed a write for lack of space); false if it never does.
bool WriteUntilUnready(SimulatedAgent& agent, int http, uint64_t* events) {
  int status = 0;
  for (int round = 0; round < 400 && status != 503; ++round) {
    for (int i = 0; i < 20; ++i) {
      const uint64_t seq = agent.last_sequence() + 1;
      agent.Enqueue(kT0 + absl::Seconds(10 * seq), absl::Seconds(10),
                    LargeWindow());
      *events += LargeWindow().operational().event_count();
    }
    agent.Flush(absl::Seconds(1));
    HttpGet(http, "/readyz", &status);
  }
  return status == 503;
}

// RocksDB itself runs out of space in a write (no free-disk reserve to stop
// it first): the collector stops acknowledging, says so on /readyz, stays
// alive while the disk is full, and once space returns it resumes by itself,
// nothing acknowledged lost, nothing counted twice, no person or restart.
TEST(StorageCrashTest, DiskFullInsideAWriteRecoversByItself) {
  testing::TempDir dir;
  testing::SmallFilesystem fs(dir.File("small"), 160);
  if (!fs.mounted()) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << fs.error()
                 << "); the test needs root or CAP_SYS_ADMIN";
  }
  auto collector = StartCollector(dir, dir.File("small/data"), "127.0.0.1:0",
                                  "collector.log", {"--min_free_disk_mib=0"});
  const int port = WaitForPort(dir.File("ports"), "grpc");
  ASSERT_NE(port, 0) << testing::ReadFile(dir.File("collector.log"));
  const int http = testing::ReadPortsFile(dir.File("ports"))["http"];
  SimulatedAgent agent(port, Model(), "agent-0");
  uint64_t events = 0;

  ASSERT_TRUE(testing::FillUp(dir.File("small/ballast"), 0));
  ASSERT_TRUE(WriteUntilUnready(agent, http, &events))
      << testing::ReadFile(dir.File("collector.log"));
  EXPECT_LT(agent.acked(), agent.last_sequence());
  int status = 0;
  EXPECT_TRUE(absl::StrContains(HttpGet(http, "/metrics", &status),
                                "aims_collector_storage_healthy 0"));
  // Still alive: the disk is full, a restart would not help.
  HttpGet(http, "/healthz", &status);
  EXPECT_EQ(status, 200);

  // Space returns: the collector resumes by itself and takes the backlog.
  std::remove(dir.File("small/ballast").c_str());
  ASSERT_TRUE(agent.Flush(absl::Seconds(60)))
      << agent.last_error() << testing::ReadFile(dir.File("collector.log"));
  EXPECT_EQ(agent.acked(), agent.last_sequence());
  EXPECT_TRUE(WaitFor(
      [&] {
        HttpGet(http, "/readyz", &status);
        return status == 200;
      },
      absl::Seconds(10)));
  const auto [reports, stored_events] = Stored(port);
  EXPECT_EQ(reports, agent.last_sequence());
  EXPECT_EQ(stored_events, events);
  EXPECT_TRUE(absl::StrContains(testing::ReadFile(dir.File("collector.log")),
                                "No space left on device"));
  EXPECT_EQ(collector->Signal(SIGTERM), 0);
}

// A disk too small for RocksDB to resume by itself once space returns (it
// wants room for its write buffers): /healthz then fails after
// --storage_restart_after, so that Kubernetes restarts the collector; the
// restarted collector takes the backlog with nothing acknowledged lost.
TEST(StorageCrashTest, DiskFullThatRocksDbCannotLeaveFailsHealthzForARestart) {
  testing::TempDir dir;
  testing::SmallFilesystem fs(dir.File("small"), 64);
  if (!fs.mounted()) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << fs.error()
                 << "); the test needs root or CAP_SYS_ADMIN";
  }
  const std::string grpc = absl::StrCat("127.0.0.1:", testing::FreePort());
  const std::vector<std::string> flags = {"--min_free_disk_mib=0",
                                          "--storage_restart_after=3s"};
  auto collector =
      StartCollector(dir, dir.File("small/data"), grpc, "collector.log", flags);
  const int port = WaitForPort(dir.File("ports"), "grpc");
  ASSERT_NE(port, 0) << testing::ReadFile(dir.File("collector.log"));
  int http = testing::ReadPortsFile(dir.File("ports"))["http"];
  SimulatedAgent agent(port, Model(), "agent-0");
  uint64_t events = 0;

  ASSERT_TRUE(testing::FillUp(dir.File("small/ballast"), 0));
  ASSERT_TRUE(WriteUntilUnready(agent, http, &events))
      << testing::ReadFile(dir.File("collector.log"));
  const uint64_t acked = agent.acked();
  std::remove(dir.File("small/ballast").c_str());
  int status = 0;
  std::string liveness;
  ASSERT_TRUE(WaitFor(
      [&] {
        liveness = HttpGet(http, "/healthz", &status);
        return status == 503;
      },
      absl::Seconds(30)))
      << testing::ReadFile(dir.File("collector.log"));
  EXPECT_TRUE(absl::StrContains(liveness, "restart to reopen the database"))
      << liveness;

  // What Kubernetes does on a failing liveness probe.
  if (collector->Signal(SIGTERM, absl::Seconds(30)) < 0) {
    collector->Signal(SIGKILL);
  }
  collector = StartCollector(dir, dir.File("small/data"), grpc,
                             "collector2.log", flags);
  ASSERT_NE(WaitForPort(dir.File("ports"), "grpc"), 0)
      << testing::ReadFile(dir.File("collector2.log"));
  http = testing::ReadPortsFile(dir.File("ports"))["http"];
  ASSERT_TRUE(agent.Flush(absl::Seconds(60)))
      << agent.last_error() << testing::ReadFile(dir.File("collector2.log"));
  EXPECT_GE(agent.acked(), acked);
  EXPECT_EQ(agent.acked(), agent.last_sequence());
  HttpGet(http, "/healthz", &status);
  EXPECT_EQ(status, 200);
  const auto [reports, stored_events] = Stored(port);
  EXPECT_EQ(reports, agent.last_sequence());
  EXPECT_EQ(stored_events, events);
  EXPECT_EQ(collector->Signal(SIGTERM), 0);
}

}  // namespace
}  // namespace aims
