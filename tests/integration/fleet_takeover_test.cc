// Takeover with real processes on loopback (docs/scale-out.md), with a
// plan whose objective every model breaches. After SIGKILL of one
// collector, then of a second, the survivors take over evaluation with the
// replicated history, series state and records (the breach stays firing on
// the record opened before, none is opened again), every window is stored
// exactly once on the last owner, and the audit trails verify. A collector
// that returns takes its models back with the records its stand-in kept.
#include "tests/integration/fleet_processes.h"

namespace aims::fleet_processes {
namespace {

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

// The takeover tests' steps, on the fixture's collectors.
class Takeover {
 public:
  explicit Takeover(FleetProcessesTest* t) : t_(t) {}

  // Starts etcd and `n` collectors with the breaching plan; their
  // addresses once each lists all `n`.
  std::vector<std::string> StartFleet(int n) {
    t_->StartEtcd();
    {
      std::ofstream plan(t_->dir_.File("plan.yaml"));
      plan << kBreachingPlan;
    }
    std::vector<std::string> all;
    for (int i = 0; i < n; ++i) {
      t_->StartCollector(i, "", t_->dir_.File("plan.yaml"));
      all.push_back(t_->collectors_[i].address);
    }
    for (int i = 0; i < n; ++i) {
      EXPECT_TRUE(
          WaitFor([&] { return t_->Metric(i, "aims_fleet_members") == n; },
                  absl::Seconds(10)));
    }
    return all;
  }

  int IndexOf(const std::string& address) const {
    for (int i = 0; i < 4; ++i)
      if (t_->collectors_[i].address == address) return i;
    return -1;
  }

  // Model -> the record its owner under `all` fires on, once every model
  // fires (empty if they do not within 40 s).
  std::map<std::string, std::string> FiringRecords(
      const std::vector<std::string>& models,
      const std::vector<std::string>& all) {
    std::map<std::string, std::string> record;
    const bool firing = WaitFor(
        [&] {
          for (const std::string& model : models) {
            const v1::ObjectiveStatus s =
                t_->Series(IndexOf(RendezvousOwner(model, all)))[model];
            if (s.state() != v1::OBJECTIVE_STATE_FIRING ||
                s.nonconformity_id().empty()) {
              return false;
            }
            record[model] = s.nonconformity_id();
          }
          return true;
        },
        absl::Seconds(40));
    return firing ? record : std::map<std::string, std::string>();
  }

  // What collector i answers for the fleet: every record (ids naming the
  // collector that opened them, `opener` by model), every series firing,
  // and a compliance report naming the records and the three collectors,
  // each audit trail intact.
  void ExpectFleetWideViews(int i, const std::map<std::string, int>& opener) {
    v1::ListNonconformitiesResponse list;
    ASSERT_TRUE(t_->GetJson(i, "/v1/nonconformities", &list));
    std::set<std::string> ids;
    for (const v1::Nonconformity& nc : list.nonconformities()) {
      ids.insert(nc.id());
      EXPECT_EQ(nc.id().rfind(
                    absl::StrCat("NC-c", opener.at(nc.model().name()), "-"), 0),
                0u)
          << nc.id();
    }
    EXPECT_EQ(ids.size(), 6u) << "listed at c" << i;
    v1::ComplianceReport report;
    ASSERT_TRUE(t_->GetJson(i, "/v1/report", &report)) << "c" << i;
    EXPECT_EQ(report.nonconformities_size(), 6) << "report of c" << i;
    ASSERT_EQ(report.fleet_size(), 3) << "report of c" << i;
    EXPECT_EQ(report.fleet(0).address(), t_->collectors_[i].address);
    for (const v1::FleetCollector& c : report.fleet()) {
      EXPECT_TRUE(c.answered()) << c.address();
      EXPECT_TRUE(c.audit().intact()) << c.address();
      EXPECT_GT(c.audit().records_checked(), 0u) << c.address();
    }
    v1::ListObjectiveStatesResponse states;
    ASSERT_TRUE(t_->GetJson(i, "/v1/objectives", &states));
    std::set<std::string> firing;
    for (const v1::ObjectiveStatus& st : states.states()) {
      if (st.state() == v1::OBJECTIVE_STATE_FIRING)
        firing.insert(st.model().name());
    }
    EXPECT_EQ(firing.size(), 6u) << "series listed at c" << i;
    // Another member's audit trail, read through this one.
    const Collector& other = t_->collectors_[(i + 1) % 3];
    v1::ListAuditResponse theirs, direct;
    ASSERT_TRUE(t_->GetJson(i, "/v1/audit?limit=5&collector=" + other.address,
                            &theirs));
    ASSERT_TRUE(t_->GetJson((i + 1) % 3, "/v1/audit?limit=5", &direct));
    EXPECT_EQ(theirs.collector(), other.address);
    EXPECT_EQ(theirs.collectors_size(), 3);
    ASSERT_GT(theirs.records_size(), 0);
    ASSERT_GT(direct.records_size(), 0);
    EXPECT_EQ(theirs.records(0).hash(), direct.records(0).hash());
  }

  // alice acknowledges record `id` through collector `via`; `holder`'s
  // record shows her step and its audit trail verifies.
  void AcknowledgeThrough(int via, const std::string& id, int holder) {
    v1::Nonconformity remote;
    ASSERT_TRUE(t_->GetJson(via, "/v1/nonconformities/" + id, &remote));
    auto stepped = httplib::Client("127.0.0.1", t_->collectors_[via].http_port)
                       .Post("/v1/nonconformities/" + id + "/transition",
                             R"({"to":"NONCONFORMITY_STAGE_ACKNOWLEDGED",)"
                             R"("comment":"seen","actor":"alice"})",
                             "application/json");
    ASSERT_TRUE(stepped);
    ASSERT_EQ(stepped->status, 200) << stepped->body;
    v1::Nonconformity held;
    ASSERT_TRUE(t_->GetJson(holder, "/v1/nonconformities/" + id, &held));
    EXPECT_EQ(held.stage(), v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
    ASSERT_GT(held.history_size(), 0);
    EXPECT_EQ(held.history(held.history_size() - 1).actor(), "alice");
    EXPECT_TRUE(t_->AuditVerifies(holder));
  }

  // Waits for a state round of each of `live` that began after now: a
  // breach that fired since the last round may be opened again by a new
  // owner (a cost docs/scale-out.md names).
  void WaitForStateRound(const std::vector<int>& live) {
    const double now = absl::ToUnixMillis(absl::Now()) / 1000.0;
    for (int i : live) {
      EXPECT_TRUE(WaitFor(
          [&] {
            return t_->Metric(i,
                              "aims_fleet_replication_state_synced_"
                              "timestamp_seconds") > now;
          },
          absl::Seconds(10)));
    }
  }

  // The record collector i holds of `model` (an empty one if none).
  v1::Nonconformity HeldRecord(int i, const std::string& model) {
    v1::Nonconformity held;
    v1::ListNonconformitiesResponse mine;
    EXPECT_TRUE(t_->GetJson(i, "/v1/nonconformities?scope=collector", &mine));
    for (const v1::Nonconformity& nc : mine.nonconformities())
      if (nc.model().name() == model) held = nc;
    return held;
  }

  // Kills `victim` and waits until the owner of each of its models among
  // `survivors` evaluates it (after the kill), still firing on its record
  // (`record`), which it now holds, with its history, none opened again.
  // `*all` becomes the survivors' addresses. Returns the takeover time.
  absl::Duration KillAndTakeOver(
      int victim, const std::vector<int>& survivors,
      const std::map<std::string, std::string>& record,
      std::vector<std::string>* all) {
    std::vector<std::string> left;
    for (int i : survivors) left.push_back(t_->collectors_[i].address);
    std::vector<std::string> moved;
    for (const auto& [model, id] : record) {
      if (RendezvousOwner(model, *all) == t_->collectors_[victim].address)
        moved.push_back(model);
    }
    const absl::Time killed = absl::Now();
    t_->collectors_[victim].process->Signal(SIGKILL);
    const bool resumed = WaitFor(
        [&] {
          for (const std::string& model : moved) {
            const v1::ObjectiveStatus s =
                t_->Series(IndexOf(RendezvousOwner(model, left)))[model];
            if (s.state() != v1::OBJECTIVE_STATE_FIRING ||
                absl::FromUnixSeconds(s.last_evaluated().seconds()) <= killed) {
              return false;
            }
            EXPECT_EQ(s.nonconformity_id(), record.at(model)) << model;
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
    for (const std::string& model : moved) {
      const int owner = IndexOf(RendezvousOwner(model, left));
      EXPECT_EQ(t_->Nonconformities(owner)[model], 1)
          << model << ": c" << owner << " holds one record";
      EXPECT_EQ(HeldRecord(owner, model).id(), record.at(model)) << model;
    }
    *all = left;
    return took;
  }

  // Every window an agent's collectors acknowledged is stored exactly once
  // on collector i: its count of reports equals its highest sequence, with
  // no gap declared (a window lost with a collector would be a hole).
  void ExpectEveryWindowOnceOn(int i) {
    std::map<std::string, v1::AgentInfo> at;
    const bool whole = WaitFor(
        [&] {
          at = t_->Agents(i);
          for (const Agent& a : t_->agents_) {
            const v1::AgentInfo& info = at[a.id];
            if (info.durable_sequence() == 0 ||
                info.report_count() != info.durable_sequence()) {
              return false;
            }
          }
          return true;
        },
        absl::Seconds(20));
    for (const Agent& a : t_->agents_) {
      const v1::AgentInfo& info = at[a.id];
      EXPECT_EQ(info.report_count(), info.durable_sequence()) << a.id;
      EXPECT_EQ(info.gap_count(), 0u) << a.id;
    }
    EXPECT_TRUE(whole);
  }

 private:
  FleetProcessesTest* const t_;
};

TEST_F(FleetProcessesTest, SurvivorsTakeOverEvaluationWithHistoryAndState) {
  Takeover steps(this);
  std::vector<std::string> all = steps.StartFleet(3);
  if (HasFailure()) return;
  const std::vector<std::string> models = TwoModelsEach(all);
  StartAgentsAndTraffic(models);
  // Every model's breach fires on its owner, on a record opened there.
  const std::map<std::string, std::string> record =
      steps.FiringRecords(models, all);
  ASSERT_EQ(record.size(), models.size());
  std::map<std::string, int> opener;
  for (const std::string& model : models)
    opener[model] = steps.IndexOf(RendezvousOwner(model, all));
  for (int i = 0; i < 3; ++i) {
    for (auto [model, n] : Nonconformities(i))
      EXPECT_EQ(n, 1) << model << " on c" << i;
  }
  // Any collector answers for the fleet, and works a record another holds:
  // the step is made on the holder, in the person's name.
  for (int i = 0; i < 3; ++i) steps.ExpectFleetWideViews(i, opener);
  const std::string& acknowledged = models.front();
  steps.AcknowledgeThrough((opener[acknowledged] + 1) % 3,
                           record.at(acknowledged), opener[acknowledged]);
  steps.WaitForStateRound({0, 1, 2});

  // The first loss: c2, whose agents were never configured with it.
  EXPECT_LT(steps.KillAndTakeOver(2, {0, 1}, record, &all), absl::Seconds(60));
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

  // The second loss: c1. c0 holds every model's history, state and record;
  // the acknowledged record keeps alice's step.
  EXPECT_LT(steps.KillAndTakeOver(1, {0}, record, &all), absl::Seconds(60));
  EXPECT_TRUE(AuditVerifies(0));
  EXPECT_EQ(steps.HeldRecord(0, acknowledged).stage(),
            v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
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
  steps.ExpectEveryWindowOnceOn(0);
  // Six breaches, six records, all on c0 now: the ones it opened and the
  // ones it took over with their models, none opened again.
  std::map<std::string, std::string> held;
  for (const std::string& model : models)
    held[model] = steps.HeldRecord(0, model).id();
  EXPECT_EQ(Nonconformities(0).size(), 6u);
  EXPECT_EQ(held, record);
  EXPECT_EQ(Metric(0, "aims_fleet_adopted_nonconformities_total"), 4);
}

// Puts (replacing) a reference profile of `model` v1 of `rows` rows built
// at `built` on the collector at `address`.
bool PutProfile(const std::string& address, const std::string& model, int rows,
                absl::Time built, v1::PutProfileResponse* out) {
  v1::PutProfileRequest put;
  put.mutable_profile()->mutable_model()->set_name(model);
  put.mutable_profile()->mutable_model()->set_version("v1");
  put.mutable_profile()->set_row_count(rows);
  *put.mutable_profile()->mutable_created_at() = ToProto(built);
  put.set_replace(true);
  grpc::ClientContext context;
  const grpc::Status s =
      v1::QueryService::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))
          ->PutProfile(&context, put, out);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return s.ok();
}

// A collector that returns after a loss takes its models back with the
// records, series state and profiles its stand-in kept meanwhile, not its
// own older ones, and opens nothing again.
TEST_F(FleetProcessesTest, AReturningOwnerTakesBackTheLatestRecords) {
  Takeover steps(this);
  std::vector<std::string> all = steps.StartFleet(2);
  if (HasFailure()) return;
  const std::vector<std::string> models = TwoModelsEach(all);
  StartAgentsAndTraffic(models);
  // Every model fires on a record its owner opened.
  const std::map<std::string, std::string> record =
      steps.FiringRecords(models, all);
  ASSERT_EQ(record.size(), models.size());
  std::vector<std::string> of_c1;
  for (const std::string& model : models)
    if (RendezvousOwner(model, all) == all[1]) of_c1.push_back(model);
  // c1 holds a reference profile of one of its models.
  v1::PutProfileResponse first_profile;
  ASSERT_TRUE(PutProfile(collectors_[1].address, of_c1[1], 50, absl::Now(),
                         &first_profile));
  // c1 is lost: c0 takes its models over with their records, and a person
  // acknowledges one of them there.
  steps.WaitForStateRound({1});
  const std::string address = all[1];
  EXPECT_LT(steps.KillAndTakeOver(1, {0}, record, &all), absl::Seconds(60));
  const std::string acknowledged = record.at(of_c1[0]);
  steps.AcknowledgeThrough(0, acknowledged, 0);
  // And a reference profile replaces c1's there for one of them: built a
  // year before c1's, stored after it.
  v1::PutProfileResponse profile;
  ASSERT_TRUE(PutProfile(collectors_[0].address, of_c1[1], 100,
                         absl::Now() - absl::Hours(24 * 365), &profile));
  ASSERT_NE(profile.profile_id(), first_profile.profile_id());
  if (HasFailure()) return;

  // c1 returns at the same address: it evaluates its models again, on the
  // same records, and holds the acknowledged version made on c0.
  std::filesystem::remove(dir_.File("c1.ports"));
  const absl::Time back = absl::Now();
  StartCollector(1, address, dir_.File("plan.yaml"));
  if (HasFatalFailure()) return;
  EXPECT_TRUE(WaitFor(
      [&] {
        for (const std::string& model : of_c1) {
          const v1::ObjectiveStatus s = Series(1)[model];
          if (s.state() != v1::OBJECTIVE_STATE_FIRING ||
              absl::FromUnixSeconds(s.last_evaluated().seconds()) <= back) {
            return false;
          }
          EXPECT_EQ(s.nonconformity_id(), record.at(model)) << model;
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
  // The profile stored on c0 meanwhile is c1's now, though built earlier
  // than c1's own.
  v1::ReferenceProfile handed;
  EXPECT_TRUE(GetJson(
      1, "/v1/profile?scope=collector&version=v1&name=" + of_c1[1], &handed));
  EXPECT_EQ(handed.profile_id(), profile.profile_id());
  // Four breaches, four records across the fleet; both trails verify.
  v1::ListNonconformitiesResponse list;
  ASSERT_TRUE(GetJson(0, "/v1/nonconformities", &list));
  std::map<std::string, std::string> listed;
  for (const v1::Nonconformity& nc : list.nonconformities())
    listed[nc.model().name()] = nc.id();
  EXPECT_EQ(list.nonconformities_size(), 4);
  EXPECT_EQ(listed, record);
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(AuditVerifies(i)) << "c" << i;
  // aimsctl verifies both trails through one collector, and lists the
  // other's.
  std::string out, err;
  EXPECT_EQ(testing::RunCommand(
                {AIMS_CTL_BIN, "--collector=" + address, "audit", "verify"},
                &out, &err),
            0)
      << out << err;
  for (const std::string& member : {collectors_[0].address, address}) {
    EXPECT_NE(out.find("audit trail of " + member + " intact: "),
              std::string::npos)
        << out;
  }
  out.clear();
  EXPECT_EQ(testing::RunCommand(
                {AIMS_CTL_BIN, "--collector=" + address, "audit", "list",
                 "--limit=10000", "--member=" + collectors_[0].address},
                &out, &err),
            0)
      << out << err;
  EXPECT_NE(
      out.find("audit trail of " + collectors_[0].address + " (members: "),
      std::string::npos)
      << out;
  EXPECT_NE(out.find("nc_adopted"), std::string::npos) << out;
}

}  // namespace
}  // namespace aims::fleet_processes
