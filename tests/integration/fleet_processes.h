// The fleet's process tests (tests/integration/fleet_*_test.cc): a real
// etcd and real collector and agent processes on free loopback ports
// (docs/scale-out.md), the collectors' data in a temp dir.
//
// Thread-safety: one test thread; StartAgentsAndTraffic posts from a
// second one until TearDown.
#ifndef AIMS_TESTS_INTEGRATION_FLEET_PROCESSES_H_
#define AIMS_TESTS_INTEGRATION_FLEET_PROCESSES_H_

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "aims/v1/compliance_report.pb.h"
#include "aims/v1/nonconformity.pb.h"
#include "aims/v1/query.grpc.pb.h"
#include "collector/fleet/etcd_client.h"
#include "collector/fleet/rendezvous.h"
#include "common/base/time_util.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

// One fixture type for the tests of every file (gtest requires it of a
// test suite), so it lives in a named namespace.
namespace aims::fleet_processes {

using collector::fleet::RendezvousOwner;
using testing::MetricValue;
using testing::Subprocess;
using testing::WaitFor;
using testing::WaitForPort;

struct Collector {
  std::string address;  // gRPC, advertised
  int http_port = 0;
  std::unique_ptr<Subprocess> process;
};

struct Agent {
  std::string id, model, collector;  // configured collector
  int http_port = 0;
  std::unique_ptr<Subprocess> process;
};

// Public members: the tests' helpers (e.g. fleet_takeover_test.cc's
// Takeover) drive the same processes.
class FleetProcessesTest : public ::testing::Test {
 public:
  void TearDown() override {
    posting_ = false;
    if (traffic_.joinable()) traffic_.join();
    if (!HasFailure()) return;
    for (int i = 0; i < 4; ++i) {  // what each collector saw of the fleet
      std::istringstream log(
          testing::ReadFile(dir_.File(absl::StrCat("c", i, ".log"))));
      for (std::string line; std::getline(log, line);) {
        if (line.find("fleet") != std::string::npos)
          std::cout << "c" << i << ": " << line << "\n";
      }
    }
  }

  // A real etcd on free loopback ports. A port chosen free can be taken
  // by a test running beside this one before etcd binds it: then etcd
  // exits, and it starts again on other ports.
  void StartEtcd() {
    for (int attempt = 0; attempt < 3; ++attempt) {
      etcd_address_ = absl::StrCat("127.0.0.1:", testing::FreePort());
      const std::string peer =
          absl::StrCat("http://127.0.0.1:", testing::FreePort());
      etcd_ = std::make_unique<Subprocess>(
          std::vector<std::string>{
              AIMS_ETCD_BIN, "--name=fleet-test",
              "--data-dir=" + dir_.File(absl::StrCat("etcd", attempt)),
              "--listen-client-urls=http://" + etcd_address_,
              "--advertise-client-urls=http://" + etcd_address_,
              "--listen-peer-urls=" + peer,
              "--initial-advertise-peer-urls=" + peer,
              "--initial-cluster=fleet-test=" + peer},
          dir_.File("etcd.log"));
      collector::fleet::EtcdClient etcd(etcd_address_, absl::Seconds(1));
      WaitFor([&] { return !etcd_->running() || etcd.List("/").ok(); },
              absl::Seconds(20));
      if (etcd_->running() && etcd.List("/").ok()) return;
    }
    FAIL() << "etcd does not start: "
           << testing::ReadFile(dir_.File("etcd.log"));
  }

  // `address`: its gRPC address; empty: a free port. `plan`: the monitoring
  // plan's file, if any.
  void StartCollector(int i, std::string address = "",
                      const std::string& plan = "") {
    Collector& c = collectors_[i];
    c.address = address.empty()
                    ? absl::StrCat("127.0.0.1:", testing::FreePort())
                    : std::move(address);
    const std::string name = absl::StrCat("c", i);
    std::vector<std::string> args = {
        AIMS_COLLECTOR_BIN,
        "--grpc_listen=" + c.address,
        "--http_listen=127.0.0.1:0",
        "--collector_id=" + name,
        "--data_dir=" + dir_.File(name),
        "--ports_file=" + dir_.File(name + ".ports"),
        "--fleet_etcd=" + etcd_address_,
        "--fleet_advertise=" + c.address,
        "--fleet_lease_ttl=3s"};
    if (!plan.empty()) args.push_back("--plan=" + plan);
    c.process =
        std::make_unique<Subprocess>(std::move(args), dir_.File(name + ".log"));
    c.http_port = WaitForPort(dir_.File(name + ".ports"), "http");
    ASSERT_NE(c.http_port, 0) << testing::ReadFile(dir_.File(name + ".log"));
  }

  double Metric(int i, const std::string& series) {
    auto page =
        httplib::Client("127.0.0.1", collectors_[i].http_port).Get("/metrics");
    return page && page->status == 200 ? MetricValue(page->body, series) : -1;
  }

  // The agents a collector lists, by id.
  std::map<std::string, v1::AgentInfo> Agents(int i) {
    std::map<std::string, v1::AgentInfo> out;
    auto res = httplib::Client("127.0.0.1", collectors_[i].http_port)
                   .Get("/v1/agents?scope=collector");
    if (!res || res->status != 200) return out;
    v1::ListAgentsResponse response;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    if (!google::protobuf::util::JsonStringToMessage(res->body, &response,
                                                     options)
             .ok()) {
      return out;
    }
    for (const v1::AgentInfo& a : response.agents()) {
      out[a.agent().agent_id()] = a;
    }
    return out;
  }

  // Whether every agent is connected to exactly one of the `live`
  // collectors, its model's owner among them, which stored more of its
  // reports than `reports` (by agent id) holds; then updates `reports`.
  bool AllAtOwners(const std::vector<int>& live,
                   std::map<std::string, uint64_t>* reports) {
    std::vector<std::string> members;
    for (int i : live) members.push_back(collectors_[i].address);
    std::map<std::string, std::vector<int>> connected_at;
    std::map<std::string, v1::AgentInfo> at_owner;
    for (int i : live) {
      for (auto& [id, info] : Agents(i)) {
        if (!info.connected()) continue;
        connected_at[id].push_back(i);
        if (RendezvousOwner(info.model().name(), members) ==
            collectors_[i].address) {
          at_owner[id] = info;
        }
      }
    }
    for (const Agent& a : agents_) {
      if (connected_at[a.id].size() != 1 || at_owner.count(a.id) == 0) {
        return false;
      }
      if (at_owner[a.id].report_count() <= (*reports)[a.id]) return false;
    }
    for (auto& [id, info] : at_owner) (*reports)[id] = info.report_count();
    return true;
  }

  // Two models owned by each of `members` (the test picks names so that
  // every case is covered whatever the ports; the collectors place them on
  // their own).
  static std::vector<std::string> TwoModelsEach(
      const std::vector<std::string>& members) {
    std::vector<std::string> models;
    std::map<std::string, int> per_owner;
    for (int n = 0; models.size() < 2 * members.size(); ++n) {
      const std::string model = absl::StrCat("model-", n);
      if (per_owner[RendezvousOwner(model, members)] < 2) {
        ++per_owner[RendezvousOwner(model, members)];
        models.push_back(model);
      }
    }
    return models;
  }

  // Each model's agent "a" is configured with c0, "b" with c1: every model
  // reaches both survivors-to-be, and none is configured with c2. Then
  // posts events to every agent until TearDown.
  void StartAgentsAndTraffic(const std::vector<std::string>& models) {
    for (const std::string& model : models) {
      for (int k = 0; k < 2; ++k) {
        Agent a;
        a.id = model + (k == 0 ? "-a" : "-b");
        a.model = model;
        a.collector = collectors_[k].address;
        const std::string ports = dir_.File(a.id + ".ports");
        a.process = std::make_unique<Subprocess>(
            std::vector<std::string>{
                AIMS_AGENT_BIN, "--model_name=" + model, "--model_version=v1",
                "--environment=it", "--agent_id=" + a.id,
                "--collector=" + a.collector, "--http_listen=127.0.0.1:0",
                "--grpc_listen=127.0.0.1:0", "--window=1s",
                "--reference_events=0", "--data_dir=" + dir_.File(a.id),
                "--ports_file=" + ports},
            dir_.File(a.id + ".log"));
        a.http_port = WaitForPort(ports, "http");
        ASSERT_NE(a.http_port, 0)
            << testing::ReadFile(dir_.File(a.id + ".log"));
        agents_.push_back(std::move(a));
      }
    }
    std::vector<int> ports;
    for (const Agent& a : agents_) ports.push_back(a.http_port);
    traffic_ = std::thread([this, ports] {
      for (int i = 0; posting_; ++i) {
        for (int port : ports) {
          (void)httplib::Client("127.0.0.1", port)
              .Post("/v1/events",
                    absl::StrCat(
                        R"({"prediction":1,"score":0.7,"features":{"x":)",
                        i % 50, "}}"),
                    "application/json");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
  }

  // GET `path` from collector i, parsed into `out`.
  bool GetJson(int i, const std::string& path, google::protobuf::Message* out) {
    auto res = httplib::Client("127.0.0.1", collectors_[i].http_port).Get(path);
    if (!res || res->status != 200) return false;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    return google::protobuf::util::JsonStringToMessage(res->body, out, options)
        .ok();
  }

  // The series of the plan's objective that collector i evaluates, by
  // model name.
  std::map<std::string, v1::ObjectiveStatus> Series(int i) {
    std::map<std::string, v1::ObjectiveStatus> out;
    v1::ListObjectiveStatesResponse states;
    if (!GetJson(i, "/v1/objectives?scope=collector", &states)) return out;
    for (const v1::ObjectiveStatus& s : states.states())
      out[s.model().name()] = s;
    return out;
  }

  // Nonconformities collector i holds, counted by model name.
  std::map<std::string, int> Nonconformities(int i) {
    std::map<std::string, int> out;
    v1::ListNonconformitiesResponse list;
    if (!GetJson(i, "/v1/nonconformities?scope=collector", &list)) return out;
    for (const v1::Nonconformity& nc : list.nonconformities())
      ++out[nc.model().name()];
    return out;
  }

  // The whole-range summary (report and event counts) collector i answers
  // for `model` over [from, to].
  // `scope`: "fleet" (asked of the owner) or "collector" (its own).
  std::pair<uint64_t, uint64_t> History(int i, const std::string& model,
                                        absl::Time from, absl::Time to,
                                        const std::string& scope = "fleet") {
    v1::GetSummariesResponse response;
    const std::string path = absl::StrCat(
        "/v1/summaries?scope=", scope, "&name=", model,
        "&version=v1&environment=it&from=",
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", from, absl::UTCTimeZone()),
        "&to=",
        absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", to, absl::UTCTimeZone()));
    if (!GetJson(i, path, &response) || response.buckets_size() != 1) {
      return {0, 0};
    }
    return {response.buckets(0).report_count(),
            response.buckets(0).summary().operational().event_count()};
  }

  // Every member's audit trail, verified through collector i (the first
  // listed is i's own): each answered, intact and not empty.
  bool AuditVerifies(int i) {
    v1::VerifyAuditResponse verify;
    if (!GetJson(i, "/v1/audit/verify", &verify) || verify.fleet().empty() ||
        verify.fleet(0).address() != collectors_[i].address) {
      return false;
    }
    for (const v1::FleetCollector& c : verify.fleet()) {
      if (!c.answered() || !c.audit().intact() ||
          c.audit().records_checked() == 0) {
        return false;
      }
    }
    return true;
  }

  testing::TempDir dir_;
  std::string etcd_address_;
  std::unique_ptr<Subprocess> etcd_;
  Collector collectors_[4];
  std::vector<Agent> agents_;
  std::atomic<bool> posting_{true};
  std::thread traffic_;
};

}  // namespace aims::fleet_processes

#endif  // AIMS_TESTS_INTEGRATION_FLEET_PROCESSES_H_
