// Fleet mode with real processes on loopback (docs/scale-out.md): a real
// etcd, three collectors and six models of two agents each. Every model has
// exactly one owner and its agents report there, whichever collector they
// were configured with; after SIGKILL of a collector its lease expires, its
// models get owners among the survivors and their agents follow; a fourth
// collector that joins takes over the models it wins, and only those.
// With a plan whose objective every model breaches: after SIGKILL of one
// collector, then of a second, the survivors take over evaluation with the
// replicated history and series state (the breach stays firing on the
// record opened before, none is opened again), every window is stored
// exactly once on the last owner, and the audit trails verify.
// Collector ids are unique in a fleet: a second collector with an id another
// live collector holds does not start, the same collector starting again
// does, and one whose id was taken while its lease was lost stays fenced.
#include "collector/fleet/fleet.h"

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "aims/v1/compliance_report.pb.h"
#include "aims/v1/nonconformity.pb.h"
#include "aims/v1/query.pb.h"
#include "collector/fleet/etcd_client.h"
#include "collector/fleet/rendezvous.h"
#include "etcd/rpc.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "prometheus/registry.h"
#include "tests/testing/test_util.h"

namespace aims {
namespace {

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

class FleetProcessesTest : public ::testing::Test {
 protected:
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

  void StartEtcd() {
    etcd_address_ = absl::StrCat("127.0.0.1:", testing::FreePort());
    const std::string peer =
        absl::StrCat("http://127.0.0.1:", testing::FreePort());
    etcd_ = std::make_unique<Subprocess>(
        std::vector<std::string>{
            AIMS_ETCD_BIN, "--name=fleet-test",
            "--data-dir=" + dir_.File("etcd"),
            "--listen-client-urls=http://" + etcd_address_,
            "--advertise-client-urls=http://" + etcd_address_,
            "--listen-peer-urls=" + peer,
            "--initial-advertise-peer-urls=" + peer,
            "--initial-cluster=fleet-test=" + peer},
        dir_.File("etcd.log"));
    collector::fleet::EtcdClient etcd(etcd_address_, absl::Seconds(1));
    ASSERT_TRUE(WaitFor([&] { return etcd.List("/").ok(); }, absl::Seconds(20)))
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

  // Six models, two owned by each of `members` (the test picks names so
  // that every case is covered whatever the ports; the collectors place
  // them on their own).
  // Two models owned by each of `members`.
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

  bool AuditVerifies(int i) {
    v1::VerifyAuditResponse verify;
    return GetJson(i, "/v1/audit/verify", &verify) && verify.intact() &&
           verify.records_checked() > 0;
  }

  testing::TempDir dir_;
  std::string etcd_address_;
  std::unique_ptr<Subprocess> etcd_;
  Collector collectors_[4];
  std::vector<Agent> agents_;
  std::atomic<bool> posting_{true};
  std::thread traffic_;
};

TEST_F(FleetProcessesTest, ModelsHaveOneOwnerAndMoveWhenCollectorsDieOrJoin) {
  StartEtcd();
  for (int i = 0; i < 3; ++i) StartCollector(i);
  std::vector<std::string> all;
  for (int i = 0; i < 3; ++i) all.push_back(collectors_[i].address);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(WaitFor([&] { return Metric(i, "aims_fleet_members") == 3; },
                        absl::Seconds(10)))
        << "c" << i << " sees " << Metric(i, "aims_fleet_members");
  }
  const std::vector<std::string> models = TwoModelsEach(all);
  StartAgentsAndTraffic(models);
  ASSERT_EQ(agents_.size(), 12u);

  // Every agent reports to its model's owner, and nowhere else.
  std::map<std::string, uint64_t> reports;
  ASSERT_TRUE(WaitFor(
      [&] {
        return AllAtOwners({0, 1, 2}, &reports);
      },
      absl::Seconds(20)));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Metric(i, "aims_fleet_ownership_moves_total"), 0) << i;
  }
  // c0 and c1 each saw all six models (one agent of each was configured
  // with them) and own two.
  EXPECT_EQ(Metric(0, "aims_fleet_models_owned"), 2);
  EXPECT_EQ(Metric(1, "aims_fleet_models_owned"), 2);
  EXPECT_GE(Metric(0, "aims_fleet_redirects_total"), 4);

  // SIGKILL c2: no clean leave, its lease (3 s) has to expire.
  const absl::Time killed = absl::Now();
  collectors_[2].process->Signal(SIGKILL);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(WaitFor([&] { return Metric(i, "aims_fleet_members") == 2; },
                        absl::Seconds(15)))
        << "c" << i;
  }
  // Its two models moved, and only they: c0 and c1 each saw all six, so
  // each counts the same two moves.
  EXPECT_EQ(Metric(0, "aims_fleet_ownership_moves_total"), 2);
  EXPECT_EQ(Metric(1, "aims_fleet_ownership_moves_total"), 2);
  EXPECT_EQ(Metric(0, "aims_fleet_models_owned") +
                Metric(1, "aims_fleet_models_owned"),
            6);
  // Their agents followed the redirects and report to the new owners.
  ASSERT_TRUE(WaitFor(
      [&] {
        return AllAtOwners({0, 1}, &reports);
      },
      absl::Seconds(30)));
  std::cout << "agents of the lost collector's models report to new owners "
            << absl::FormatDuration(absl::Now() - killed) << " after SIGKILL\n";

  // A fourth collector joins, on an address that wins some of the models
  // (found by the test, placed by the collectors): those models, and only
  // they, move to it; the agents connected to their old owners are sent on.
  std::string fourth;
  int moving = 0;
  for (int tries = 0; moving == 0 && tries < 100; ++tries) {
    fourth = absl::StrCat("127.0.0.1:", testing::FreePort());
    for (const std::string& model : models) {
      moving += RendezvousOwner(model, {all[0], all[1], fourth}) == fourth;
    }
  }
  ASSERT_GT(moving, 0);
  // What the owners hold of the models that will move, up to a point all
  // their windows before it were sent.
  const absl::Time history_to = absl::Now() - absl::Seconds(3);
  const absl::Time history_from = history_to - absl::Minutes(5);
  std::map<std::string, std::pair<uint64_t, uint64_t>> history;
  for (const std::string& model : models) {
    if (RendezvousOwner(model, {all[0], all[1], fourth}) != fourth) continue;
    const int owner =
        RendezvousOwner(model, {all[0], all[1]}) == all[0] ? 0 : 1;
    history[model] = History(owner, model, history_from, history_to);
    EXPECT_GT(history[model].second, 0u) << model;
  }
  const absl::Time joined = absl::Now();
  StartCollector(3, fourth);
  for (int i : {0, 1, 3}) {
    ASSERT_TRUE(WaitFor([&] { return Metric(i, "aims_fleet_members") == 3; },
                        absl::Seconds(10)))
        << "c" << i;
  }
  EXPECT_EQ(Metric(0, "aims_fleet_ownership_moves_total"), 2 + moving);
  EXPECT_EQ(Metric(1, "aims_fleet_ownership_moves_total"), 2 + moving);
  ASSERT_TRUE(WaitFor(
      [&] {
        return AllAtOwners({0, 1, 3}, &reports);
      },
      absl::Seconds(30)));
  EXPECT_EQ(Metric(3, "aims_fleet_models_owned"), moving);
  // The models' history moved with them: the new owner answers the same
  // reports and events for the time before it joined.
  for (const auto& entry : history) {
    const std::string& model = entry.first;
    const std::pair<uint64_t, uint64_t>& before = entry.second;
    ASSERT_TRUE(WaitFor(
        [&] {
          return History(3, model, history_from, history_to, "collector") ==
                 before;
        },
        absl::Seconds(30)))
        << model << ": c3 holds "
        << History(3, model, history_from, history_to, "collector").first
        << " of " << before.first << " reports";
  }
  std::cout << "the moved models' history is whole on the new owner "
            << absl::FormatDuration(absl::Now() - joined)
            << " after it started\n";
  // Windows since the join are on the new owner and its peer (the old
  // owner) only. The third collector, asked for the whole range, answers
  // what the owner holds; its own storage lacks them.
  const absl::Time recent_to = absl::Now() + absl::Seconds(4);
  ASSERT_TRUE(
      WaitFor([&] { return absl::Now() > recent_to + absl::Seconds(3); },
              absl::Seconds(10)));
  for (const auto& [model, before] : history) {
    const int third =
        RendezvousOwner(model, {all[0], all[1]}) == all[0] ? 1 : 0;
    const auto at_owner =
        History(3, model, history_from, recent_to, "collector");
    EXPECT_GT(at_owner.first, before.first) << model;
    EXPECT_EQ(History(third, model, history_from, recent_to), at_owner)
        << model << " asked at c" << third;
    EXPECT_LT(History(third, model, history_from, recent_to, "collector").first,
              at_owner.first)
        << model << " held by c" << third;
  }
  // Labels posted to the collector that neither owns nor holds a moved
  // model go to its owner, and from there to its peer: they wait for
  // their predictions on both, and nowhere else.
  {
    const std::string& model = history.begin()->first;
    const int peer = RendezvousOwner(model, {all[0], all[1]}) == all[0] ? 0 : 1;
    const int third = 1 - peer;
    auto posted = httplib::Client("127.0.0.1", collectors_[third].http_port)
                      .Post("/v1/labels?model=" + model + "&environment=it",
                            R"([{"prediction_id":"late-1","label":1},)"
                            R"({"prediction_id":"late-2","label":0},)"
                            R"({"prediction_id":"late-3","label":1}])",
                            "application/json");
    ASSERT_TRUE(posted);
    EXPECT_EQ(posted->status, 200) << posted->body;
    EXPECT_NE(posted->body.find(R"("accepted":3)"), std::string::npos)
        << posted->body;
    EXPECT_EQ(Metric(3, "aims_collector_label_pending"), 3);
    EXPECT_TRUE(WaitFor(
        [&] { return Metric(peer, "aims_collector_label_pending") == 3; },
        absl::Seconds(10)))
        << Metric(peer, "aims_collector_label_pending");
    EXPECT_EQ(Metric(third, "aims_collector_label_pending"), 0);
  }
  // Listings merge every member's: each collector lists all six models,
  // and all twelve agents, connected.
  for (int i : {0, 1, 3}) {
    v1::ListModelsResponse listed;
    ASSERT_TRUE(GetJson(i, "/v1/models", &listed));
    std::set<std::string> names;
    for (const v1::ModelInfo& m : listed.models())
      names.insert(m.model().name());
    EXPECT_EQ(names, std::set<std::string>(models.begin(), models.end())) << i;
    v1::ListAgentsResponse agents;
    ASSERT_TRUE(GetJson(i, "/v1/agents", &agents));
    int connected = 0;
    for (const v1::AgentInfo& a : agents.agents()) connected += a.connected();
    EXPECT_EQ(agents.agents_size(), 12) << i;
    EXPECT_EQ(connected, 12) << i;
  }
}

// Member changes reach a collector through etcd's Watch: with the periodic
// read of the list a minute apart, a member joining and one leaving are
// seen within seconds.
TEST_F(FleetProcessesTest, MemberChangesArriveThroughTheWatch) {
  StartEtcd();
  auto options = [&](const std::string& advertise) {
    collector::fleet::FleetOptions o;
    o.etcd = etcd_address_;
    o.advertise = advertise;
    o.lease_ttl = absl::Minutes(5);
    o.refresh = absl::Minutes(1);
    return o;
  };
  prometheus::Registry registry_a, registry_b;
  collector::fleet::Fleet a(options("10.0.0.1:4317"), registry_a);
  collector::fleet::Fleet b(options("10.0.0.2:4317"), registry_b);
  ASSERT_TRUE(a.Start().ok());
  ASSERT_EQ(a.members().size(), 1u);
  const absl::Time joined = absl::Now();
  ASSERT_TRUE(b.Start().ok());
  ASSERT_TRUE(
      WaitFor([&] { return a.members().size() == 2; }, absl::Seconds(10)));
  std::cout << "a member that joined was seen "
            << absl::FormatDuration(absl::Now() - joined) << " later\n";
  const absl::Time left = absl::Now();
  b.Stop();
  ASSERT_TRUE(
      WaitFor([&] { return a.members().size() == 1; }, absl::Seconds(10)));
  std::cout << "a member that left was seen "
            << absl::FormatDuration(absl::Now() - left) << " later\n";
  a.Stop();
}

// The keys under `prefix` (key -> value); empty when etcd fails.
std::map<std::string, std::string> Keys(const std::string& etcd,
                                        const std::string& prefix) {
  auto listed =
      collector::fleet::EtcdClient(etcd, absl::Seconds(2)).List(prefix);
  if (!listed.ok()) return {};
  return {listed->begin(), listed->end()};
}

// The lease `key` is under; 0 when absent (or etcd fails).
int64_t LeaseOf(const std::string& etcd, const std::string& key) {
  auto kv = etcdserverpb::KV::NewStub(
      grpc::CreateChannel(etcd, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  etcdserverpb::RangeRequest request;
  request.set_key(key);
  etcdserverpb::RangeResponse response;
  if (!kv->Range(&ctx, request, &response).ok() || response.kvs_size() != 1)
    return 0;
  return response.kvs(0).lease();
}

collector::fleet::FleetOptions IdOptions(const std::string& etcd,
                                         const std::string& id,
                                         const std::string& advertise) {
  collector::fleet::FleetOptions o;
  o.etcd = etcd;
  o.collector_id = id;
  o.advertise = advertise;
  o.lease_ttl = absl::Seconds(3);
  return o;
}

// A second collector with the id of a live one does not start, naming the
// id, the holder and the flag; it leaves no member key. The id is free
// again once the holder stops.
TEST_F(FleetProcessesTest, SecondCollectorWithATakenIdDoesNotStart) {
  StartEtcd();
  prometheus::Registry ra, rb, rc;
  collector::fleet::Fleet a(IdOptions(etcd_address_, "c0", "10.0.0.1:4317"),
                            ra);
  ASSERT_TRUE(a.Start().ok());
  collector::fleet::Fleet b(IdOptions(etcd_address_, "c0", "10.0.0.2:4317"),
                            rb);
  const absl::Status s = b.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_NE(s.message().find("\"c0\""), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("10.0.0.1:4317"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("--collector_id"), absl::string_view::npos) << s;
  EXPECT_EQ(Keys(etcd_address_, "/aims/fleet/"),
            (std::map<std::string, std::string>{
                {"/aims/fleet/ids/c0", "10.0.0.1:4317"},
                {"/aims/fleet/members/10.0.0.1:4317", "10.0.0.1:4317"}}));
  b.Stop();
  a.Stop();  // revokes the lease: the id is free
  EXPECT_TRUE(Keys(etcd_address_, "/aims/fleet/").empty());
  collector::fleet::Fleet c(IdOptions(etcd_address_, "c0", "10.0.0.2:4317"),
                            rc);
  ASSERT_TRUE(c.Start().ok());
  EXPECT_EQ(Keys(etcd_address_, "/aims/fleet/ids/"),
            (std::map<std::string, std::string>{
                {"/aims/fleet/ids/c0", "10.0.0.2:4317"}}));
  c.Stop();
}

// The same id at the same address starts again: after a clean stop, with
// its id key still there from its previous life (the key moves to the new
// lease), and after its previous lease expired.
TEST_F(FleetProcessesTest, SameCollectorStartsAgain) {
  StartEtcd();
  const std::string me = "10.0.0.1:4317";
  {
    prometheus::Registry r, r_again;
    collector::fleet::Fleet a(IdOptions(etcd_address_, "c0", me), r);
    ASSERT_TRUE(a.Start().ok());
    a.Stop();
    collector::fleet::Fleet again(IdOptions(etcd_address_, "c0", me), r_again);
    ASSERT_TRUE(again.Start().ok());
    EXPECT_EQ(Keys(etcd_address_, "/aims/fleet/ids/")["/aims/fleet/ids/c0"],
              me);
    again.Stop();
  }
  // A previous life killed before its lease ended: its keys are still there.
  collector::fleet::EtcdClient etcd(etcd_address_);
  absl::StatusOr<int64_t> old = etcd.GrantLease(absl::Minutes(1));
  ASSERT_TRUE(old.ok()) << old.status();
  ASSERT_TRUE(etcd.Put("/aims/fleet/ids/c1", me, *old).ok());
  ASSERT_TRUE(etcd.Put("/aims/fleet/members/" + me, me, *old).ok());
  {
    prometheus::Registry r;
    collector::fleet::Fleet a(IdOptions(etcd_address_, "c1", me), r);
    ASSERT_TRUE(a.Start().ok());
    const int64_t lease = LeaseOf(etcd_address_, "/aims/fleet/ids/c1");
    EXPECT_NE(lease, 0);
    EXPECT_NE(lease, *old);
    // The old lease ending takes nothing of the new life.
    ASSERT_TRUE(etcd.RevokeLease(*old).ok());
    EXPECT_EQ(LeaseOf(etcd_address_, "/aims/fleet/ids/c1"), lease);
    EXPECT_EQ(LeaseOf(etcd_address_, "/aims/fleet/members/" + me), lease);
    EXPECT_EQ(a.members(), std::vector<std::string>{me});
    a.Stop();
  }
  // A previous life whose lease expired (etcd's shortest, 2 s).
  absl::StatusOr<int64_t> expiring = etcd.GrantLease(absl::Seconds(2));
  ASSERT_TRUE(expiring.ok()) << expiring.status();
  ASSERT_TRUE(etcd.Put("/aims/fleet/ids/c2", me, *expiring).ok());
  ASSERT_TRUE(
      WaitFor([&] { return Keys(etcd_address_, "/aims/fleet/ids/").empty(); },
              absl::Seconds(10)));
  prometheus::Registry r;
  collector::fleet::Fleet a(IdOptions(etcd_address_, "c2", me), r);
  ASSERT_TRUE(a.Start().ok());
  EXPECT_EQ(Keys(etcd_address_, "/aims/fleet/ids/")["/aims/fleet/ids/c2"], me);
  a.Stop();
}

TEST_F(FleetProcessesTest, CollectorsWithDifferentIdsBothStart) {
  StartEtcd();
  prometheus::Registry ra, rb;
  collector::fleet::Fleet a(IdOptions(etcd_address_, "c0", "10.0.0.1:4317"),
                            ra);
  collector::fleet::Fleet b(IdOptions(etcd_address_, "c1", "10.0.0.2:4317"),
                            rb);
  ASSERT_TRUE(a.Start().ok());
  ASSERT_TRUE(b.Start().ok());
  EXPECT_EQ(Keys(etcd_address_, "/aims/fleet/ids/"),
            (std::map<std::string, std::string>{
                {"/aims/fleet/ids/c0", "10.0.0.1:4317"},
                {"/aims/fleet/ids/c1", "10.0.0.2:4317"}}));
  EXPECT_EQ(b.members(),
            (std::vector<std::string>{"10.0.0.1:4317", "10.0.0.2:4317"}));
  b.Stop();
  a.Stop();
}

// A collector whose lease was lost while another took its id: retaking the
// lease fails, so it stays fenced and out of the member list; once the id
// is free it claims it again and the fence lifts.
TEST_F(FleetProcessesTest, IdTakenWhileTheLeaseWasLostKeepsTheCollectorFenced) {
  StartEtcd();
  const std::string me = "10.0.0.1:4317", other = "10.0.0.9:4317";
  prometheus::Registry r;
  collector::fleet::FleetOptions options = IdOptions(etcd_address_, "c0", me);
  options.refresh = absl::Milliseconds(500);
  collector::fleet::Fleet a(options, r);
  ASSERT_TRUE(a.Start().ok());
  ASSERT_FALSE(a.fenced());
  const int64_t lease = LeaseOf(etcd_address_, "/aims/fleet/ids/c0");
  ASSERT_NE(lease, 0);
  // Another collector holds the id (moved to its lease), then a's lease
  // ends.
  collector::fleet::EtcdClient etcd(etcd_address_);
  absl::StatusOr<int64_t> theirs = etcd.GrantLease(absl::Minutes(1));
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  ASSERT_TRUE(etcd.Put("/aims/fleet/ids/c0", other, *theirs).ok());
  ASSERT_TRUE(etcd.RevokeLease(lease).ok());
  ASSERT_TRUE(WaitFor([&] { return a.fenced(); }, absl::Seconds(10)));
  // Still fenced a lease later: every retry fails, and a is no member.
  absl::SleepFor(absl::Seconds(3));
  EXPECT_TRUE(a.fenced());
  EXPECT_FALSE(a.Owns("model-1"));
  EXPECT_EQ(
      Keys(etcd_address_, "/aims/fleet/"),
      (std::map<std::string, std::string>{{"/aims/fleet/ids/c0", other}}));
  EXPECT_TRUE(a.members().empty());
  // The other collector leaves: a claims the id again, the fence lifts.
  ASSERT_TRUE(etcd.RevokeLease(*theirs).ok());
  ASSERT_TRUE(WaitFor([&] { return !a.fenced(); }, absl::Seconds(10)));
  EXPECT_EQ(
      Keys(etcd_address_, "/aims/fleet/"),
      (std::map<std::string, std::string>{{"/aims/fleet/ids/c0", me},
                                          {"/aims/fleet/members/" + me, me}}));
  EXPECT_TRUE(
      WaitFor([&] { return a.members() == std::vector<std::string>{me}; },
              absl::Seconds(5)));
  a.Stop();
}

// Every model breaches: its agents never serve 1000 events a second.
constexpr char kBreachingPlan[] = R"(
agent_window: 1s
coverage: {enabled: false}
objectives:
  - id: busy
    title: Each model serves a thousand events a second
    metric: throughput
    comparator: ">="
    threshold: 1000
    window: 3s
    evaluation_interval: 1s
    for: 2s
    decision: point
    severity: warning
)";

TEST_F(FleetProcessesTest, SurvivorsTakeOverEvaluationWithHistoryAndState) {
  StartEtcd();
  {
    std::ofstream plan(dir_.File("plan.yaml"));
    plan << kBreachingPlan;
  }
  for (int i = 0; i < 3; ++i) StartCollector(i, "", dir_.File("plan.yaml"));
  if (HasFatalFailure()) return;
  std::vector<std::string> all;
  for (int i = 0; i < 3; ++i) all.push_back(collectors_[i].address);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(WaitFor([&] { return Metric(i, "aims_fleet_members") == 3; },
                        absl::Seconds(10)));
  }
  const std::vector<std::string> models = TwoModelsEach(all);
  StartAgentsAndTraffic(models);
  auto index_of = [&](const std::string& address) {
    for (int i = 0; i < 4; ++i)
      if (collectors_[i].address == address) return i;
    return -1;
  };

  // Every model's breach fires on its owner, on a record opened there.
  std::map<std::string, std::string> record;  // model -> nonconformity id
  std::map<std::string, std::string> first_owner;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const std::string& model : models) {
          const int owner = index_of(RendezvousOwner(model, all));
          const v1::ObjectiveStatus s = Series(owner)[model];
          if (s.state() != v1::OBJECTIVE_STATE_FIRING ||
              s.nonconformity_id().empty()) {
            return false;
          }
          record[model] = s.nonconformity_id();
          first_owner[model] = RendezvousOwner(model, all);
        }
        return true;
      },
      absl::Seconds(40)));
  for (int i = 0; i < 3; ++i) {
    for (auto [model, n] : Nonconformities(i))
      EXPECT_EQ(n, 1) << model << " on c" << i;
  }
  // Any collector lists the fleet's six records, each under an id naming
  // the collector that opened it, and works a record another holds: the
  // step is made on the holder, in the person's name.
  for (int i = 0; i < 3; ++i) {
    v1::ListNonconformitiesResponse list;
    ASSERT_TRUE(GetJson(i, "/v1/nonconformities", &list));
    std::set<std::string> ids;
    for (const v1::Nonconformity& nc : list.nonconformities()) {
      ids.insert(nc.id());
      const int opener = index_of(first_owner[nc.model().name()]);
      EXPECT_EQ(nc.id().rfind(absl::StrCat("NC-c", opener, "-"), 0), 0u)
          << nc.id();
    }
    EXPECT_EQ(ids.size(), 6u) << "listed at c" << i;
    // The compliance report of any collector covers the fleet's records
    // and every model's series.
    v1::ComplianceReport report;
    ASSERT_TRUE(GetJson(i, "/v1/report", &report)) << "c" << i;
    EXPECT_EQ(report.nonconformities_size(), 6) << "report of c" << i;
    // It names the three collectors, each audit trail verified.
    ASSERT_EQ(report.fleet_size(), 3) << "report of c" << i;
    EXPECT_EQ(report.fleet(0).address(), collectors_[i].address);
    for (const v1::FleetCollector& c : report.fleet()) {
      EXPECT_TRUE(c.answered()) << c.address();
      EXPECT_TRUE(c.audit().intact()) << c.address();
      EXPECT_GT(c.audit().records_checked(), 0u) << c.address();
    }
    v1::ListObjectiveStatesResponse states;
    ASSERT_TRUE(GetJson(i, "/v1/objectives", &states));
    std::set<std::string> firing;
    for (const v1::ObjectiveStatus& st : states.states()) {
      if (st.state() == v1::OBJECTIVE_STATE_FIRING)
        firing.insert(st.model().name());
    }
    EXPECT_EQ(firing.size(), 6u) << "series listed at c" << i;
  }
  {
    const std::string& model = models.front();
    const int holder = index_of(first_owner[model]);
    const int other = (holder + 1) % 3;
    v1::Nonconformity remote;
    ASSERT_TRUE(
        GetJson(other, "/v1/nonconformities/" + record[model], &remote));
    EXPECT_EQ(remote.model().name(), model);
    auto stepped =
        httplib::Client("127.0.0.1", collectors_[other].http_port)
            .Post("/v1/nonconformities/" + record[model] + "/transition",
                  R"({"to":"NONCONFORMITY_STAGE_ACKNOWLEDGED",)"
                  R"("comment":"seen","actor":"alice"})",
                  "application/json");
    ASSERT_TRUE(stepped);
    EXPECT_EQ(stepped->status, 200) << stepped->body;
    v1::Nonconformity held;
    ASSERT_TRUE(GetJson(holder, "/v1/nonconformities/" + record[model], &held));
    EXPECT_EQ(held.stage(), v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
    ASSERT_GT(held.history_size(), 0);
    EXPECT_EQ(held.history(held.history_size() - 1).actor(), "alice");
    EXPECT_TRUE(AuditVerifies(holder));
  }
  // The state is copied to the peers every round (0.5 s); a breach that
  // fired since the last round may be opened again by a new owner (a cost
  // docs/scale-out.md names). Wait for a round that began after now.
  const double fired = absl::ToUnixMillis(absl::Now()) / 1000.0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(WaitFor(
        [&] {
          return Metric(i,
                        "aims_fleet_replication_state_synced_timestamp_"
                        "seconds") > fired;
        },
        absl::Seconds(10)));
  }

  // Kills `victim` and waits until the owner of each of its models among
  // `survivors` evaluates it (after the kill), still firing on the record
  // opened before, with none opened there. Returns the takeover time.
  auto kill_and_take_over = [&](int victim, const std::vector<int>& survivors) {
    std::vector<std::string> left;
    for (int i : survivors) left.push_back(collectors_[i].address);
    std::vector<std::string> moved;
    for (const std::string& model : models) {
      if (RendezvousOwner(model, all) == collectors_[victim].address)
        moved.push_back(model);
    }
    const absl::Time killed = absl::Now();
    collectors_[victim].process->Signal(SIGKILL);
    bool resumed = WaitFor(
        [&] {
          for (const std::string& model : moved) {
            const int owner = index_of(RendezvousOwner(model, left));
            const v1::ObjectiveStatus s = Series(owner)[model];
            if (s.state() != v1::OBJECTIVE_STATE_FIRING ||
                absl::FromUnixSeconds(s.last_evaluated().seconds()) <= killed) {
              return false;
            }
            // The record opened before, taken over with the model.
            EXPECT_EQ(s.nonconformity_id(), record[model]) << model;
          }
          return true;
        },
        absl::Seconds(60));
    const absl::Duration took = absl::Now() - killed;
    EXPECT_TRUE(resumed) << "evaluation of c" << victim
                         << "'s models did not resume";
    std::cout << "evaluation of c" << victim << "'s " << moved.size()
              << " models resumed on a survivor " << absl::FormatDuration(took)
              << " after SIGKILL (lease 3 s)\n";
    // The new owner holds the record (none opened again), with its
    // history, and its audit trail names the record it adopted.
    for (const std::string& model : moved) {
      const int owner = index_of(RendezvousOwner(model, left));
      EXPECT_EQ(Nonconformities(owner)[model], 1)
          << model << ": c" << owner << " holds one record";
      v1::Nonconformity held;
      v1::ListNonconformitiesResponse mine;
      EXPECT_TRUE(GetJson(owner, "/v1/nonconformities?scope=collector", &mine));
      for (const v1::Nonconformity& nc : mine.nonconformities())
        if (nc.model().name() == model) held = nc;
      EXPECT_EQ(held.id(), record[model]) << model;
      if (model == models.front())
        EXPECT_EQ(held.stage(), v1::NONCONFORMITY_STAGE_ACKNOWLEDGED) << model;
    }
    all = left;
    return took;
  };

  // The first loss: c2, whose agents were never configured with it.
  EXPECT_LT(kill_and_take_over(2, {0, 1}), absl::Seconds(60));
  EXPECT_EQ(Metric(0, "aims_fleet_takeovers_total") +
                Metric(1, "aims_fleet_takeovers_total"),
            2);
  for (int i : {0, 1}) EXPECT_TRUE(AuditVerifies(i)) << "c" << i;
  // Recovery: every agent reports to its model's owner among c0 and c1.
  std::map<std::string, uint64_t> reports;
  ASSERT_TRUE(WaitFor(
      [&] {
        return AllAtOwners({0, 1}, &reports);
      },
      absl::Seconds(30)));

  // The second loss: c1. c0 holds every model's history and state.
  EXPECT_LT(kill_and_take_over(1, {0}), absl::Seconds(60));
  EXPECT_TRUE(AuditVerifies(0));
  // The agents configured with c0 report there. (Those configured with c1
  // whose redirect target is gone too know no other collector: they spool.)
  // One that reached c0 before c0 saw c1 gone was sent back to c1 and is in
  // its reconnect backoff, hence the longer wait.
  std::string missing;
  EXPECT_TRUE(WaitFor(
      [&] {
        const std::map<std::string, v1::AgentInfo> at = Agents(0);
        for (const Agent& a : agents_) {
          if (a.collector != collectors_[0].address) continue;
          auto it = at.find(a.id);
          if (it == at.end() || !it->second.connected() ||
              it->second.report_count() <= reports[a.id]) {
            missing = a.id;
            return false;
          }
        }
        return true;
      },
      absl::Seconds(60)))
      << missing << " does not report to c0";
  // Every window an agent's collectors acknowledged is stored exactly once
  // on c0: its count of reports equals its highest sequence, with no gap
  // declared (a window lost with a collector would be a hole).
  std::map<std::string, v1::AgentInfo> at_c0;
  const bool whole = WaitFor(
      [&] {
        at_c0 = Agents(0);
        for (const Agent& a : agents_) {
          const v1::AgentInfo& info = at_c0[a.id];
          if (info.durable_sequence() == 0 ||
              info.report_count() != info.durable_sequence()) {
            return false;
          }
        }
        return true;
      },
      absl::Seconds(20));
  for (const Agent& a : agents_) {
    const v1::AgentInfo& info = at_c0[a.id];
    EXPECT_EQ(info.report_count(), info.durable_sequence()) << a.id;
    EXPECT_EQ(info.gap_count(), 0u) << a.id;
  }
  EXPECT_TRUE(whole);
  // Six breaches, six records, all on c0 now: the ones it opened and the
  // ones it took over with their models, none opened again.
  v1::ListNonconformitiesResponse held;
  ASSERT_TRUE(GetJson(0, "/v1/nonconformities?scope=collector", &held));
  std::map<std::string, std::string> held_ids;
  for (const v1::Nonconformity& nc : held.nonconformities())
    held_ids[nc.model().name()] = nc.id();
  EXPECT_EQ(held.nonconformities_size(), 6);
  EXPECT_EQ(held_ids, record);
  EXPECT_EQ(Metric(0, "aims_fleet_adopted_nonconformities_total"), 4);
}

// A collector that returns after a loss takes its models back with the
// records (and series state) its stand-in kept meanwhile, not its own
// older ones, and opens nothing again.
TEST_F(FleetProcessesTest, AReturningOwnerTakesBackTheLatestRecords) {
  StartEtcd();
  {
    std::ofstream plan(dir_.File("plan.yaml"));
    plan << kBreachingPlan;
  }
  for (int i = 0; i < 2; ++i) StartCollector(i, "", dir_.File("plan.yaml"));
  if (HasFatalFailure()) return;
  const std::vector<std::string> all = {collectors_[0].address,
                                        collectors_[1].address};
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(WaitFor([&] { return Metric(i, "aims_fleet_members") == 2; },
                        absl::Seconds(10)));
  }
  const std::vector<std::string> models = TwoModelsEach(all);
  StartAgentsAndTraffic(models);
  // Every model fires on a record its owner opened.
  std::map<std::string, std::string> record;  // model -> nonconformity id
  std::vector<std::string> of_c1;
  for (const std::string& model : models)
    if (RendezvousOwner(model, all) == all[1]) of_c1.push_back(model);
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const std::string& model : models) {
          const int owner = RendezvousOwner(model, all) == all[0] ? 0 : 1;
          const v1::ObjectiveStatus s = Series(owner)[model];
          if (s.state() != v1::OBJECTIVE_STATE_FIRING ||
              s.nonconformity_id().empty()) {
            return false;
          }
          record[model] = s.nonconformity_id();
        }
        return true;
      },
      absl::Seconds(40)));
  // c1 is lost: c0 takes its models over with their records, and a person
  // acknowledges one of them there.
  const double synced = absl::ToUnixMillis(absl::Now()) / 1000.0;
  ASSERT_TRUE(WaitFor(
      [&] {
        return Metric(1,
                      "aims_fleet_replication_state_synced_timestamp_"
                      "seconds") > synced;
      },
      absl::Seconds(10)));
  collectors_[1].process->Signal(SIGKILL);
  ASSERT_TRUE(WaitFor(
      [&] {
        return Nonconformities(0)[of_c1[0]] == 1 &&
               Nonconformities(0)[of_c1[1]] == 1;
      },
      absl::Seconds(30)));
  const std::string acknowledged = record[of_c1[0]];
  auto stepped =
      httplib::Client("127.0.0.1", collectors_[0].http_port)
          .Post("/v1/nonconformities/" + acknowledged + "/transition",
                R"({"to":"NONCONFORMITY_STAGE_ACKNOWLEDGED",)"
                R"("comment":"seen","actor":"alice"})",
                "application/json");
  ASSERT_TRUE(stepped);
  ASSERT_EQ(stepped->status, 200) << stepped->body;

  // c1 returns at the same address: it evaluates its models again, on the
  // same records, and holds the acknowledged version made on c0.
  std::filesystem::remove(dir_.File("c1.ports"));
  const absl::Time back = absl::Now();
  StartCollector(1, all[1], dir_.File("plan.yaml"));
  if (HasFatalFailure()) return;
  EXPECT_TRUE(WaitFor(
      [&] {
        for (const std::string& model : of_c1) {
          const v1::ObjectiveStatus s = Series(1)[model];
          if (s.state() != v1::OBJECTIVE_STATE_FIRING ||
              absl::FromUnixSeconds(s.last_evaluated().seconds()) <= back) {
            return false;
          }
          EXPECT_EQ(s.nonconformity_id(), record[model]) << model;
        }
        return true;
      },
      absl::Seconds(30)))
      << "c1 does not evaluate its models again";
  v1::Nonconformity held;
  ASSERT_TRUE(GetJson(
      1, "/v1/nonconformities/" + acknowledged + "?scope=collector", &held));
  EXPECT_EQ(held.stage(), v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
  ASSERT_GT(held.history_size(), 0);
  EXPECT_EQ(held.history(held.history_size() - 1).actor(), "alice");
  EXPECT_GE(Metric(1, "aims_fleet_adopted_nonconformities_total"), 1);
  // Four breaches, four records across the fleet; both trails verify.
  v1::ListNonconformitiesResponse list;
  ASSERT_TRUE(GetJson(0, "/v1/nonconformities", &list));
  std::map<std::string, std::string> listed;
  for (const v1::Nonconformity& nc : list.nonconformities())
    listed[nc.model().name()] = nc.id();
  EXPECT_EQ(list.nonconformities_size(), 4);
  EXPECT_EQ(listed, record);
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(AuditVerifies(i)) << "c" << i;
}

}  // namespace
}  // namespace aims
