// The real binaries on loopback against what an attacker or an unlucky
// operator does: slow clients flooding the HTTP listeners, an agent token
// speaking for another model's agent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/net/bearer_token.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims {
namespace {

using testing::MetricValue;
using testing::ReadFile;
using testing::RunCommand;
using testing::Subprocess;
using testing::WaitFor;
using testing::WaitForPort;

// A TCP connection to 127.0.0.1:`port` from the loopback address `source`,
// or -1.
int ConnectFrom(int port, const std::string& source) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

class HostileWorldTest : public ::testing::Test {
 protected:
  void SetUp() override { grpc_port_ = testing::FreePort(); }

  void StartCollector(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        AIMS_COLLECTOR_BIN,
        absl::StrCat("--grpc_listen=127.0.0.1:", grpc_port_),
        "--http_listen=127.0.0.1:0", "--data_dir=" + dir_.File("collector"),
        "--ports_file=" + dir_.File("collector.ports")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    collector_ = std::make_unique<Subprocess>(argv, dir_.File("collector.log"));
    collector_http_ = WaitForPort(dir_.File("collector.ports"), "http");
    ASSERT_NE(collector_http_, 0) << ReadFile(dir_.File("collector.log"));
  }

  // An agent process named `name`; returns its HTTP port.
  int StartAgent(const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> argv = {
        AIMS_AGENT_BIN,
        absl::StrCat("--collector=127.0.0.1:", grpc_port_),
        "--http_listen=127.0.0.1:0",
        "--grpc_listen=",
        "--window=1s",
        "--data_dir=" + dir_.File(name),
        "--ports_file=" + dir_.File(name + ".ports")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    agents_.push_back(
        std::make_unique<Subprocess>(argv, dir_.File(name + ".log")));
    const int port = WaitForPort(dir_.File(name + ".ports"), "http");
    EXPECT_NE(port, 0) << ReadFile(dir_.File(name + ".log"));
    return port;
  }

  // The token of an agent token entry `name` for `model`, written to a file
  // for --collector_token_file; the entry goes to tokens_yaml_.
  std::string AgentToken(const std::string& name, const std::string& model) {
    const std::string token = NewToken();
    absl::StrAppend(&tokens_yaml_, "  - {name: ", name,
                    ", role: agent, models: [", model,
                    "], sha256: ", TokenSha256(token), "}\n");
    const std::string path = dir_.File(name + ".token");
    std::ofstream(path) << token << "\n";
    return path;
  }

  std::string WriteTokens() {
    const std::string path = dir_.File("tokens.yaml");
    std::ofstream(path) << "tokens:\n" << tokens_yaml_;
    return path;
  }

  static int Post(int port, int n) {
    httplib::Client http("127.0.0.1", port);
    std::string body = "[";
    for (int i = 0; i < n; ++i) {
      absl::StrAppend(&body, i ? "," : "", R"({"prediction":1,"score":0.5})");
    }
    body += "]";
    auto res = http.Post("/v1/events", body, "application/json");
    return res && res->status == 200 ? n : 0;
  }

  static std::string Get(int port, const std::string& path, int* status) {
    httplib::Client http("127.0.0.1", port);
    http.set_read_timeout(5);
    auto res = http.Get(path);
    *status = res ? res->status : 0;
    return res ? res->body : "";
  }

  // Events the collector holds for `model`, by `aimsctl models --json`.
  uint64_t StoredEvents(const std::string& model) {
    std::string out;
    if (RunCommand(
            {AIMS_CTL_BIN, absl::StrCat("--collector=127.0.0.1:", grpc_port_),
             "--token_file=" + admin_token_, "--json", "models"},
            &out) != 0) {
      return 0;
    }
    const size_t at = out.find(absl::StrCat("\"name\":\"", model, "\""));
    if (at == std::string::npos) return 0;
    const std::string key = "\"event_count\":\"";
    const size_t count = out.find(key, at);
    if (count == std::string::npos) return 0;
    return std::stoull(out.substr(count + key.size()));
  }

  testing::TempDir dir_;
  int grpc_port_ = 0;
  int collector_http_ = 0;
  std::string tokens_yaml_;
  std::string admin_token_;
  std::unique_ptr<Subprocess> collector_;
  std::vector<std::unique_ptr<Subprocess>> agents_;
};

// 200 connections trickling request heads at each listener, from 200
// addresses: the probes, scrapes and intake of others answer within a second
// all along, and the trickling heads are cut off at the header deadline.
TEST_F(HostileWorldTest, SlowHeaderFloodLeavesProbesScrapesAndIntakeAnswering) {
  StartCollector({"--http_header_timeout=4s"});
  const int agent =
      StartAgent("agent", {"--model_name=credit", "--model_version=v1",
                           "--agent_id=replica-1", "--http_header_timeout=4s"});
  std::vector<int> slow;
  for (int port : {agent, collector_http_}) {
    for (int i = 0; i < 200; ++i) {
      slow.push_back(ConnectFrom(
          port, absl::StrCat("127.0.", 10 + i / 200, ".", 1 + i % 200)));
    }
  }
  for (int fd : slow) {
    ASSERT_GE(fd, 0);
    send(fd, "GET /metr", 9, MSG_NOSIGNAL);
  }
  absl::Duration slowest = absl::ZeroDuration();
  int accepted = 0;
  for (int round = 0; round < 10; ++round) {
    for (int fd : slow) send(fd, "i", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    for (int port : {agent, collector_http_}) {
      for (const char* path : {"/healthz", "/metrics"}) {
        const absl::Time start = absl::Now();
        int status = 0;
        Get(port, path, &status);
        slowest = std::max(slowest, absl::Now() - start);
        EXPECT_EQ(status, 200) << port << path;
      }
    }
    const absl::Time start = absl::Now();
    accepted += Post(agent, 10);
    slowest = std::max(slowest, absl::Now() - start);
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_LT(slowest, absl::Seconds(1));
  EXPECT_EQ(accepted, 100);
  // Cut off at the deadline, each one counted, on both listeners.
  int status = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        return MetricValue(
                   Get(agent, "/metrics", &status),
                   "aims_agent_http_timeouts_total{phase=\"header\"}") == 200 &&
               MetricValue(
                   Get(collector_http_, "/metrics", &status),
                   "aims_collector_http_timeouts_total{phase=\"header\"}") ==
                   200;
      },
      absl::Seconds(15)))
      << Get(agent, "/metrics", &status);
  for (int fd : slow) close(fd);
}

// An agent token of model A cannot take over the agent id of model B: the
// hello is refused with PERMISSION_DENIED naming the conflict, counted and
// audited; the refused agent logs the reason and its /readyz says it (still
// 200: as for a collector outage, the model keeps its traffic); B's
// windows keep being stored, none dropped.
TEST_F(HostileWorldTest, AgentIdOfAnotherModelCannotBeTakenOver) {
  const std::string token_a = AgentToken("agents-a", "model-a");
  const std::string token_b = AgentToken("agents-b", "model-b");
  const std::string admin = NewToken();
  absl::StrAppend(&tokens_yaml_,
                  "  - {name: admin, role: admin, sha256: ", TokenSha256(admin),
                  "}\n");
  admin_token_ = dir_.File("admin.token");
  std::ofstream(admin_token_) << admin << "\n";
  StartCollector({"--auth_tokens_file=" + WriteTokens()});

  const int b = StartAgent(
      "agent-b",
      {"--model_name=model-b", "--model_version=v1", "--agent_id=shared-1",
       "--collector_token_file=" + token_b, "--grace_period=10s"});
  int posted_b = Post(b, 50);
  ASSERT_TRUE(
      WaitFor([&] { return StoredEvents("model-b") == 50; }, absl::Seconds(15)))
      << ReadFile(dir_.File("collector.log"));

  // Model A's agent claims B's id with A's (valid) token.
  const int a = StartAgent(
      "agent-a", {"--model_name=model-a", "--model_version=v1",
                  "--agent_id=shared-1", "--collector_token_file=" + token_a});
  const std::string reason =
      "agent shared-1 belongs to model model-b/v1/default; a hello for "
      "model-a/v1/default is refused";
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(ReadFile(dir_.File("agent-a.log")), reason);
      },
      absl::Seconds(15)))
      << ReadFile(dir_.File("agent-a.log"));
  EXPECT_TRUE(absl::StrContains(ReadFile(dir_.File("agent-a.log")),
                                "collector refused this agent"));
  EXPECT_TRUE(
      absl::StrContains(ReadFile(dir_.File("collector.log")), "agent refused"));
  int status = 0;
  // Said on /readyz, without taking the model out of its Service.
  const std::string ready = Get(a, "/readyz", &status);
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(
      absl::StrContains(ready, "the collector refused this agent: " + reason))
      << ready;
  EXPECT_GE(MetricValue(Get(collector_http_, "/metrics", &status),
                        "aims_collector_agents_refused_total"),
            1);
  std::string audit;
  ASSERT_EQ(
      RunCommand(
          {AIMS_CTL_BIN, absl::StrCat("--collector=127.0.0.1:", grpc_port_),
           "--token_file=" + admin_token_, "--json", "audit", "list"},
          &audit),
      0);
  EXPECT_TRUE(absl::StrContains(audit, "agent_refused")) << audit;

  // B keeps reporting under its id and model; everything it took is stored.
  posted_b += Post(b, 70);
  EXPECT_EQ(posted_b, 120);
  EXPECT_TRUE(WaitFor([&] { return StoredEvents("model-b") == 120; },
                      absl::Seconds(15)))
      << StoredEvents("model-b");
  EXPECT_EQ(StoredEvents("model-a"), 0u);
}

}  // namespace
}  // namespace aims
