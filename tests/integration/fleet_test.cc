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

// The steps of ModelsHaveOneOwnerAndMoveWhenCollectorsDieOrJoin.
class Membership {
 public:
  // A model's reports and events held over a period.
  using Held = std::pair<uint64_t, uint64_t>;

  explicit Membership(FleetProcessesTest* t) : t_(t) {}

  // Starts etcd and three collectors; their addresses once each lists all.
  std::vector<std::string> StartThree() {
    t_->StartEtcd();
    std::vector<std::string> all;
    for (int i = 0; i < 3; ++i) {
      t_->StartCollector(i);
      all.push_back(t_->collectors_[i].address);
    }
    for (int i = 0; i < 3; ++i) {
      EXPECT_TRUE(
          WaitFor([&] { return t_->Metric(i, "aims_fleet_members") == 3; },
                  absl::Seconds(10)))
          << "c" << i << " sees " << t_->Metric(i, "aims_fleet_members");
    }
    return all;
  }

  // Waits until every agent reports to its model's owner among `live`.
  bool AllAtOwners(const std::vector<int>& live, absl::Duration timeout) {
    return WaitFor([&] { return t_->AllAtOwners(live, &reports_); }, timeout);
  }

  // SIGKILL of c2 (no clean leave: its lease, 3 s, has to expire): its two
  // models move, and only they, and their agents follow.
  void KillThird() {
    const absl::Time killed = absl::Now();
    t_->collectors_[2].process->Signal(SIGKILL);
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(
          WaitFor([&] { return t_->Metric(i, "aims_fleet_members") == 2; },
                  absl::Seconds(15)))
          << "c" << i;
    }
    // c0 and c1 each saw all six, so each counts the same two moves.
    EXPECT_EQ(t_->Metric(0, "aims_fleet_ownership_moves_total"), 2);
    EXPECT_EQ(t_->Metric(1, "aims_fleet_ownership_moves_total"), 2);
    EXPECT_EQ(t_->Metric(0, "aims_fleet_models_owned") +
                  t_->Metric(1, "aims_fleet_models_owned"),
              6);
    ASSERT_TRUE(AllAtOwners({0, 1}, absl::Seconds(30)));
    std::cout << "agents of the lost collector's models report to new owners "
              << absl::FormatDuration(absl::Now() - killed)
              << " after SIGKILL\n";
  }

  // A free address on which a fourth collector wins some of `models` next
  // to `two` (found by the test, placed by the collectors); how many.
  static std::string FourthThatWins(const std::vector<std::string>& two,
                                    const std::vector<std::string>& models,
                                    int* moving) {
    std::string fourth;
    *moving = 0;
    for (int tries = 0; *moving == 0 && tries < 100; ++tries) {
      fourth = absl::StrCat("127.0.0.1:", testing::FreePort());
      for (const std::string& model : models)
        *moving += RendezvousOwner(model, {two[0], two[1], fourth}) == fourth;
    }
    return fourth;
  }

  // Of the owner among c0 and c1 (`two`): what it holds of each model that
  // will move to `fourth`, over [from, to).
  std::map<std::string, Held> HistoryOfMoving(
      const std::vector<std::string>& two, const std::string& fourth,
      const std::vector<std::string>& models, absl::Time from, absl::Time to) {
    std::map<std::string, Held> history;
    for (const std::string& model : models) {
      if (RendezvousOwner(model, {two[0], two[1], fourth}) != fourth) continue;
      history[model] = t_->History(OwnerAmong(two, model), model, from, to);
      EXPECT_GT(history[model].second, 0u) << model;
    }
    return history;
  }

  // c3 joins at `fourth`: the `moving` models, and only they, move to it,
  // their agents follow, and their history is whole there.
  void JoinFourth(const std::string& fourth, int moving,
                  const std::map<std::string, Held>& history, absl::Time from,
                  absl::Time to) {
    const absl::Time joined = absl::Now();
    t_->StartCollector(3, fourth);
    for (int i : {0, 1, 3}) {
      ASSERT_TRUE(
          WaitFor([&] { return t_->Metric(i, "aims_fleet_members") == 3; },
                  absl::Seconds(10)))
          << "c" << i;
    }
    EXPECT_EQ(t_->Metric(0, "aims_fleet_ownership_moves_total"), 2 + moving);
    EXPECT_EQ(t_->Metric(1, "aims_fleet_ownership_moves_total"), 2 + moving);
    ASSERT_TRUE(AllAtOwners({0, 1, 3}, absl::Seconds(30)));
    EXPECT_EQ(t_->Metric(3, "aims_fleet_models_owned"), moving);
    // The new owner answers the same reports and events for the time
    // before it joined.
    for (const auto& entry : history) {
      // Named copies: a lambda cannot capture a structured binding (C++17).
      const std::string& model = entry.first;
      const Held& before = entry.second;
      ASSERT_TRUE(WaitFor(
          [&] {
            return t_->History(3, model, from, to, "collector") == before;
          },
          absl::Seconds(30)))
          << model << ": c3 holds "
          << t_->History(3, model, from, to, "collector").first << " of "
          << before.first << " reports";
    }
    std::cout << "the moved models' history is whole on the new owner "
              << absl::FormatDuration(absl::Now() - joined)
              << " after it started\n";
  }

  // Windows since the join are on the new owner and its peer (the old
  // owner) only: the third collector, asked for the whole range, answers
  // what the owner holds; its own storage lacks them.
  void ExpectRecentOnOwnerAndPeer(const std::vector<std::string>& two,
                                  const std::map<std::string, Held>& history,
                                  absl::Time from) {
    const absl::Time recent_to = absl::Now() + absl::Seconds(4);
    ASSERT_TRUE(
        WaitFor([&] { return absl::Now() > recent_to + absl::Seconds(3); },
                absl::Seconds(10)));
    for (const auto& [model, before] : history) {
      const int third = 1 - OwnerAmong(two, model);
      const Held at_owner = t_->History(3, model, from, recent_to, "collector");
      EXPECT_GT(at_owner.first, before.first) << model;
      EXPECT_EQ(t_->History(third, model, from, recent_to), at_owner)
          << model << " asked at c" << third;
      EXPECT_LT(t_->History(third, model, from, recent_to, "collector").first,
                at_owner.first)
          << model << " held by c" << third;
    }
  }

  // Labels posted to the collector that neither owns nor holds `model` (a
  // moved one) go to its owner, c3, and from there to its peer: they wait
  // for their predictions on both, and nowhere else.
  void ExpectLabelsOnOwnerAndPeer(const std::vector<std::string>& two,
                                  const std::string& model) {
    const int peer = OwnerAmong(two, model);
    const int third = 1 - peer;
    auto posted = httplib::Client("127.0.0.1", t_->collectors_[third].http_port)
                      .Post("/v1/labels?model=" + model + "&environment=it",
                            R"([{"prediction_id":"late-1","label":1},)"
                            R"({"prediction_id":"late-2","label":0},)"
                            R"({"prediction_id":"late-3","label":1}])",
                            "application/json");
    ASSERT_TRUE(posted);
    EXPECT_EQ(posted->status, 200) << posted->body;
    EXPECT_NE(posted->body.find(R"("accepted":3)"), std::string::npos)
        << posted->body;
    EXPECT_EQ(t_->Metric(3, "aims_collector_label_pending"), 3);
    EXPECT_TRUE(WaitFor(
        [&] { return t_->Metric(peer, "aims_collector_label_pending") == 3; },
        absl::Seconds(10)))
        << t_->Metric(peer, "aims_collector_label_pending");
    EXPECT_EQ(t_->Metric(third, "aims_collector_label_pending"), 0);
  }

  // Listings merge every member's: collector i lists all `models`, and all
  // twelve agents, connected.
  void ExpectWholeListings(int i, const std::vector<std::string>& models) {
    v1::ListModelsResponse listed;
    ASSERT_TRUE(t_->GetJson(i, "/v1/models", &listed));
    std::set<std::string> names;
    for (const v1::ModelInfo& m : listed.models())
      names.insert(m.model().name());
    EXPECT_EQ(names, std::set<std::string>(models.begin(), models.end())) << i;
    v1::ListAgentsResponse agents;
    ASSERT_TRUE(t_->GetJson(i, "/v1/agents", &agents));
    int connected = 0;
    for (const v1::AgentInfo& a : agents.agents()) connected += a.connected();
    EXPECT_EQ(agents.agents_size(), 12) << i;
    EXPECT_EQ(connected, 12) << i;
  }

 private:
  // 0 or 1: which of c0 and c1 (`two`) owns `model` between them.
  static int OwnerAmong(const std::vector<std::string>& two,
                        const std::string& model) {
    return RendezvousOwner(model, {two[0], two[1]}) == two[0] ? 0 : 1;
  }

  FleetProcessesTest* t_;
  std::map<std::string, uint64_t> reports_;  // AllAtOwners' memory
};

TEST_F(FleetProcessesTest, ModelsHaveOneOwnerAndMoveWhenCollectorsDieOrJoin) {
  Membership steps(this);
  const std::vector<std::string> all = steps.StartThree();
  if (HasFailure()) return;
  const std::vector<std::string> models = TwoModelsEach(all);
  StartAgentsAndTraffic(models);
  ASSERT_EQ(agents_.size(), 12u);

  // Every agent reports to its model's owner, and nowhere else.
  ASSERT_TRUE(steps.AllAtOwners({0, 1, 2}, absl::Seconds(20)));
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(Metric(i, "aims_fleet_ownership_moves_total"), 0) << i;
  // c0 and c1 each saw all six models (one agent of each was configured
  // with them) and own two.
  EXPECT_EQ(Metric(0, "aims_fleet_models_owned"), 2);
  EXPECT_EQ(Metric(1, "aims_fleet_models_owned"), 2);
  EXPECT_GE(Metric(0, "aims_fleet_redirects_total"), 4);

  steps.KillThird();
  if (HasFatalFailure()) return;
  const std::vector<std::string> two = {all[0], all[1]};

  // A fourth collector joins on an address that wins some of the models;
  // what their owners hold, up to a point all windows before it were sent.
  int moving = 0;
  const std::string fourth = Membership::FourthThatWins(two, models, &moving);
  ASSERT_GT(moving, 0);
  const absl::Time history_to = absl::Now() - absl::Seconds(3);
  const absl::Time history_from = history_to - absl::Minutes(5);
  const std::map<std::string, Membership::Held> history =
      steps.HistoryOfMoving(two, fourth, models, history_from, history_to);
  steps.JoinFourth(fourth, moving, history, history_from, history_to);
  if (HasFatalFailure()) return;
  steps.ExpectRecentOnOwnerAndPeer(two, history, history_from);
  if (HasFatalFailure()) return;
  steps.ExpectLabelsOnOwnerAndPeer(two, history.begin()->first);
  if (HasFatalFailure()) return;
  for (int i : {0, 1, 3}) steps.ExpectWholeListings(i, models);
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
