// Fleet membership with real processes on loopback (docs/scale-out.md): a
// real etcd, three collectors and six models of two agents each. Every
// model has exactly one owner and its agents report there, whichever
// collector they were configured with; after SIGKILL of a collector its
// lease expires, its models get owners among the survivors and their agents
// follow; a fourth collector that joins takes over the models it wins, and
// only those, with their history. Member changes arrive through etcd's
// watch.
#include "collector/fleet/fleet.h"

#include "prometheus/registry.h"
#include "tests/integration/fleet_processes.h"

namespace aims::fleet_processes {
namespace {

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

}  // namespace
}  // namespace aims::fleet_processes
