// The lifecycle of agents and profiles with the real binaries on loopback
// (docs/profiles.md): a rollout with clean stops raises no silence breach; a
// crashed agent's breach resolves once its replacement reports in its slot,
// or once it expires; a stored profile is replaced only with --replace and
// reaches connected agents without a reconnect.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims {
namespace {

using testing::MetricValue;
using testing::RunCommand;
using testing::Subprocess;
using testing::WaitFor;
using testing::WaitForPort;

constexpr char kSilent[] = "OBJECTIVE_STATE_";

// One agent process and the traffic that keeps it reporting.
struct Agent {
  std::unique_ptr<Subprocess> process;
  int http_port = 0;
  std::atomic<bool> posting{true};
  std::thread traffic;

  void StopTraffic() {
    posting = false;
    if (traffic.joinable()) traffic.join();
  }
  ~Agent() { StopTraffic(); }
};

class AgentLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc_port_ = testing::FreePort();
    std::ofstream(dir_.File("plan.yaml"))
        << "agent_window: 1s\n"
           "defaults: {evaluation_interval: 1s, keep_firing_for: 0s,\n"
           "           effectiveness_period: 0s}\n"
           "coverage: {silent_after: 5s}\n";
  }

  void StartCollector(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        AIMS_COLLECTOR_BIN,
        absl::StrCat("--grpc_listen=127.0.0.1:", grpc_port_),
        "--http_listen=127.0.0.1:0",
        "--data_dir=" + dir_.File("collector"),
        "--plan=" + dir_.File("plan.yaml"),
        "--ports_file=" + dir_.File("collector.ports")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    collector_ = std::make_unique<Subprocess>(argv, dir_.File("collector.log"));
    ASSERT_NE(WaitForPort(dir_.File("collector.ports"), "grpc"), 0)
        << testing::ReadFile(dir_.File("collector.log"));
  }

  // Starts agent `id` (its own data directory) posting an event every
  // 100 ms, so that it reports every window.
  Agent* StartAgent(const std::string& id, bool traffic = true) {
    auto agent = std::make_unique<Agent>();
    const std::string ports = dir_.File(id + ".ports");
    agent->process = std::make_unique<Subprocess>(
        std::vector<std::string>{
            AIMS_AGENT_BIN, "--model_name=credit", "--model_version=v1",
            "--environment=it", "--agent_id=" + id,
            absl::StrCat("--collector=127.0.0.1:", grpc_port_),
            "--http_listen=127.0.0.1:0", "--grpc_listen=127.0.0.1:0",
            "--window=1s", "--reference_events=0",
            "--data_dir=" + dir_.File(id), "--ports_file=" + ports},
        dir_.File(id + ".log"));
    agent->http_port = WaitForPort(ports, "http");
    EXPECT_NE(agent->http_port, 0) << testing::ReadFile(dir_.File(id + ".log"));
    if (traffic) {
      Agent* a = agent.get();
      agent->traffic = std::thread([a] {
        httplib::Client http("127.0.0.1", a->http_port);
        for (int i = 0; a->posting; ++i) {
          (void)http.Post(
              "/v1/events",
              absl::StrCat(R"({"prediction":1,"score":0.7,"features":{"x":)",
                           i % 50, "}}"),
              "application/json");
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      });
    }
    agents_[id] = std::move(agent);
    return agents_[id].get();
  }

  std::string Ctl(std::vector<std::string> args, int* code = nullptr) {
    std::vector<std::string> argv = {
        AIMS_CTL_BIN, absl::StrCat("--collector=127.0.0.1:", grpc_port_),
        "--timeout=3s"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string out, err;
    const int rc = RunCommand(argv, &out, &err);
    if (code != nullptr) *code = rc;
    return out + err;
  }

  // coverage.agent-silent's series and their states ("FIRING", ...).
  std::map<std::string, std::string> Silent() {
    const std::string json =
        Ctl({"--json", "objectives", "--objective=coverage.agent-silent"});
    std::map<std::string, std::string> out;
    for (size_t at = json.find("\"series\":\""); at != std::string::npos;
         at = json.find("\"series\":\"", at + 1)) {
      const size_t begin = at + 10;
      const std::string series =
          json.substr(begin, json.find('"', begin) - begin);
      const size_t state = json.find(std::string("\"state\":\"") + kSilent, at);
      if (state == std::string::npos) continue;
      const size_t value = state + 9 + std::string(kSilent).size();
      out[series] = json.substr(value, json.find('"', value) - value);
    }
    return out;
  }

  // The agent's entry in `aimsctl agents --json` holds `text`.
  bool AgentHas(const std::string& id, const std::string& text) {
    const std::string json = Ctl({"--json", "agents"});
    const size_t begin = json.find("\"agent_id\":\"" + id + "\"");
    if (begin == std::string::npos) return false;
    const size_t end = json.find("\"agent_id\":", begin + 1);
    return absl::StrContains(json.substr(begin, end - begin), text);
  }

  bool SlotIs(const std::string& series, const std::string& state,
              absl::Duration timeout) {
    return WaitFor([&] { return Silent()[series] == state; }, timeout);
  }

  testing::TempDir dir_;
  int grpc_port_ = 0;
  std::unique_ptr<Subprocess> collector_;
  std::map<std::string, std::unique_ptr<Agent>> agents_;
};

constexpr char kSlot1[] = "credit/v1/it slot=1";
constexpr char kSlot2[] = "credit/v1/it slot=2";

// A rolling update: the new pod starts, the old one is stopped (SIGTERM),
// delivers its last windows and deregisters. No silence breach, ever; the
// series are per slot, not per pod.
TEST_F(AgentLifecycleTest, RolloutWithCleanStopsRaisesNoSilenceBreach) {
  StartCollector();
  Agent* a = StartAgent("pod-a");
  ASSERT_TRUE(SlotIs(kSlot1, "INACTIVE", absl::Seconds(20)))
      << testing::ReadFile(dir_.File("collector.log"));
  StartAgent("pod-b");
  ASSERT_TRUE(SlotIs(kSlot2, "INACTIVE", absl::Seconds(20)));
  a->StopTraffic();
  ASSERT_EQ(a->process->Signal(SIGTERM), 0);
  EXPECT_TRUE(absl::StrContains(testing::ReadFile(dir_.File("pod-a.log")),
                                "deregistered from collector"));
  EXPECT_TRUE(AgentHas("pod-a", "\"left_reason\":\"deregistered\""));
  // Over two silent_after periods, no slot breaches.
  const absl::Time until = absl::Now() + absl::Seconds(12);
  while (absl::Now() < until) {
    const std::map<std::string, std::string> states = Silent();
    for (const auto& [series, state] : states) {
      EXPECT_TRUE(state == "INACTIVE") << series << " " << state;
      EXPECT_FALSE(absl::StrContains(series, "agent=")) << series;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  // The next pod takes the free slot 1: still two series.
  StartAgent("pod-c");
  ASSERT_TRUE(WaitFor([&] { return AgentHas("pod-c", "\"slot\":1"); },
                      absl::Seconds(10)));
  EXPECT_EQ(Silent().size(), 2u);
  EXPECT_TRUE(absl::StrContains(Ctl({"audit", "list", "--limit=1000"}),
                                "agent_deregistered"));
}

// A crashed pod (SIGKILL, no goodbye): its slot breaches; the replacement
// takes over the slot and the breach resolves once it reports.
TEST_F(AgentLifecycleTest, CrashedAgentsBreachResolvesWhenReplaced) {
  StartCollector();
  Agent* a = StartAgent("pod-a");
  ASSERT_TRUE(SlotIs(kSlot1, "INACTIVE", absl::Seconds(20)))
      << testing::ReadFile(dir_.File("collector.log"));
  a->StopTraffic();
  a->process->Signal(SIGKILL);
  ASSERT_TRUE(SlotIs(kSlot1, "FIRING", absl::Seconds(20)));
  StartAgent("pod-b");
  ASSERT_TRUE(SlotIs(kSlot1, "RESOLVED", absl::Seconds(20)))
      << testing::ReadFile(dir_.File("collector.log"));
  EXPECT_TRUE(AgentHas("pod-a", "\"left_reason\":\"replaced\""));
  EXPECT_TRUE(AgentHas("pod-b", "\"slot\":1"));
  EXPECT_EQ(Silent().count(kSlot2), 0u);
  EXPECT_TRUE(absl::StrContains(Ctl({"audit", "list", "--limit=1000"}),
                                "agent_replaced"));
}

// A crashed pod that is never replaced: after --agent_expiry it is
// forgotten (on record) and its breach resolves.
TEST_F(AgentLifecycleTest, CrashedAgentNeverReplacedExpires) {
  StartCollector({"--agent_expiry=10s", "--maintenance_interval=1s"});
  Agent* a = StartAgent("pod-a");
  ASSERT_TRUE(SlotIs(kSlot1, "INACTIVE", absl::Seconds(20)))
      << testing::ReadFile(dir_.File("collector.log"));
  a->StopTraffic();
  a->process->Signal(SIGKILL);
  ASSERT_TRUE(SlotIs(kSlot1, "FIRING", absl::Seconds(20)));
  ASSERT_TRUE(SlotIs(kSlot1, "RESOLVED", absl::Seconds(20)))
      << testing::ReadFile(dir_.File("collector.log"));
  EXPECT_TRUE(AgentHas("pod-a", "\"left_reason\":\"expired\""));
  EXPECT_TRUE(absl::StrContains(Ctl({"audit", "list", "--limit=1000"}),
                                "agent_expired"));
  // Its nonconformity can be worked through to closed (close is refused
  // while the objective fails).
  const std::string list =
      Ctl({"--json", "nc", "list", "--objective=coverage.agent-silent"});
  const size_t at = list.find("\"id\":\"NC-");
  ASSERT_NE(at, std::string::npos) << list;
  const std::string id = list.substr(at + 6, 9);
  for (const char* step : {"ack", "analyse", "act", "review", "close"}) {
    int code = -1;
    const std::string out = Ctl({"nc", step, id, "--actor=sre",
                                 "--comment=pod-a crashed, never replaced"},
                                &code);
    EXPECT_EQ(code, 0) << step << ": " << out;
  }
  EXPECT_TRUE(absl::StrContains(Ctl({"--json", "nc", "show", id}),
                                "NONCONFORMITY_STAGE_CLOSED"));
}

// A stored profile is replaced only with --replace; a stored profile
// reaches the connected agent at once (no reconnect).
TEST_F(AgentLifecycleTest, ProfileReplacedOnlyWithReplaceAndPushed) {
  StartCollector();
  Agent* a = StartAgent("pod-a", /*traffic=*/false);
  auto readyz = [&] {
    httplib::Client http("127.0.0.1", a->http_port);
    auto res = http.Get("/readyz");
    return res ? res->body : std::string();
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        httplib::Client http("127.0.0.1", a->http_port);
        auto res = http.Get("/metrics");
        return res && MetricValue(res->body, "aims_agent_connected") == 1;
      },
      absl::Seconds(20)));
  auto write_csv = [&](const std::string& name, int shift) {
    std::ofstream csv(dir_.File(name));
    csv << "x,label\n";
    for (int i = 0; i < 200; ++i) csv << (i + shift) << "," << i % 2 << "\n";
  };
  write_csv("one.csv", 0);
  write_csv("two.csv", 1000);
  auto build = [&](const std::string& csv, std::vector<std::string> extra) {
    std::vector<std::string> args = {"profile", "build",
                                     "--input=" + dir_.File(csv),
                                     "--model=credit", "--version=v1"};
    args.insert(args.end(), extra.begin(), extra.end());
    int code = -1;
    const std::string out = Ctl(args, &code);
    EXPECT_EQ(code, 0) << out;
  };
  auto show = [&] {
    return Ctl({"--json", "profile", "show", "--model=credit", "--version=v1"});
  };
  build("one.csv", {"--output=" + dir_.File("one.json")});
  build("two.csv", {"--output=" + dir_.File("two.json")});
  int code = -1;
  std::string out = Ctl({"profile", "put", dir_.File("one.json")}, &code);
  ASSERT_EQ(code, 0) << out;
  const std::string first = show();
  // The agent waiting for a profile gets it without reconnecting.
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(readyz(), "profile "); },
                      absl::Seconds(10)))
      << readyz();
  const std::string first_state = readyz();
  // The same profile again is fine; another one needs --replace, whether
  // put from a file or built and put at once.
  out = Ctl({"profile", "put", dir_.File("one.json")}, &code);
  EXPECT_EQ(code, 0) << out;
  out = Ctl({"profile", "put", dir_.File("two.json")}, &code);
  EXPECT_NE(code, 0);
  EXPECT_TRUE(absl::StrContains(out, "--replace")) << out;
  out = Ctl({"profile", "build", "--input=" + dir_.File("two.csv"),
             "--model=credit", "--version=v1", "--put"},
            &code);
  EXPECT_NE(code, 0);
  EXPECT_TRUE(absl::StrContains(out, "--replace")) << out;
  EXPECT_EQ(show(), first);
  EXPECT_EQ(readyz(), first_state);
  out = Ctl({"profile", "put", "--replace", dir_.File("two.json")}, &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(show(), first);
  ASSERT_TRUE(
      WaitFor([&] { return readyz() != first_state; }, absl::Seconds(10)))
      << readyz();
  EXPECT_TRUE(absl::StrContains(
      show(), readyz().substr(readyz().find("profile ") + 8, 64)))
      << readyz();
  httplib::Client http("127.0.0.1", a->http_port);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(MetricValue(metrics->body, "aims_agent_reconnects_total"), 0);
}

}  // namespace
}  // namespace aims
