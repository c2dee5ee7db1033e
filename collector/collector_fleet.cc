// The collector's fleet mode (docs/scale-out.md): replication wiring, and
// what happens when the member list changes - models taken over with their
// series state and nonconformity records, streams of models that moved
// away ended.
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/api/compliance_report_service.h"
#include "collector/api/fleet_router.h"
#include "collector/api/label_service.h"
#include "collector/api/nonconformity_service.h"
#include "collector/api/query_service.h"
#include "collector/auth/authorizer.h"
#include "collector/collector.h"
#include "collector/collector_metrics.h"
#include "collector/compliance/audit_trail.h"
#include "collector/compliance/nonconformities.h"
#include "collector/evaluation/evaluator.h"
#include "collector/fleet/fleet.h"
#include "collector/fleet/rendezvous.h"
#include "collector/fleet/replication_service.h"
#include "collector/fleet/replicator.h"
#include "collector/ingest/durable_writer.h"
#include "collector/ingest/ingest_service.h"
#include "collector/labels/label_join.h"
#include "collector/storage/rocks_storage.h"
#include "common/base/log.h"
#include "common/base/time_util.h"
#include "common/net/bearer_token.h"
#include "common/summary/event.h"
#include "common/summary/profile_builder.h"
#include "grpcpp/grpcpp.h"

namespace aims::collector {
namespace {

// How long a member change waits for the others' handover answers.
constexpr absl::Duration kHandoverCall = absl::Seconds(2);
constexpr absl::Duration kHandoverPatience = absl::Seconds(5);
// Member lists kept between two runs of the worker; past it every owned
// model counts as gained.
constexpr size_t kMaxFleetViews = 64;

// Whether state row `a` was judged later than `b`.
bool LaterState(const v1::ObjectiveStatus& a, const v1::ObjectiveStatus& b) {
  return FromProto(a.last_evaluated()) > FromProto(b.last_evaluated());
}

}  // namespace

absl::Status Collector::CreateReplication() {
  std::string token;
  if (!options_.fleet_token_file.empty()) {
    absl::StatusOr<std::string> read =
        ReadTokenFile(options_.fleet_token_file, "--fleet_token_file");
    if (!read.ok()) return read.status();
    token = std::move(*read);
  }
  // Peers listen like this collector: TLS when it serves TLS (verified
  // against the default roots, GRPC_DEFAULT_SSL_ROOTS_FILE_PATH).
  const std::shared_ptr<grpc::ChannelCredentials> credentials =
      options_.tls.enabled() ? grpc::SslCredentials({})
                             : grpc::InsecureChannelCredentials();
  peers_ = fleet::GrpcReplicationPeers(credentials, token);
  fleet::Fleet* f = fleet_.get();
  // Queries about a model are answered by its owner; listings merge every
  // member's.
  // The fleet token's name: forwarded steps on records made with it carry
  // the person's name (nonconformity_service.h).
  std::string fleet_principal;
  if (!token.empty()) {
    absl::StatusOr<Principal> p =
        authorizer_->Authenticate(absl::StrCat("Bearer ", token));
    if (p.ok() && p->authenticated) fleet_principal = p->name;
  }
  FleetRouter::Options router_options;
  router_options.self = options_.fleet_advertise;
  router_options.credentials = credentials;
  router_options.token = std::move(token);
  fleet_router_ = std::make_unique<FleetRouter>(
      std::move(router_options),
      [f](const std::string& model) { return f->RouteFor(model); },
      [f] { return f->members(); });
  query_->SetRouter(fleet_router_.get());
  // Records are kept where they were opened, under fleet-unique ids.
  nonconformities_->SetIdPrefix(options_.collector_id);
  nc_service_->SetRouter(fleet_router_.get(), fleet_principal);
  report_service_->SetRouter(fleet_router_.get());
  auto owns = [f](const std::string& model) { return f->Owns(model); };
  fleet::ReplicatorOptions replicator_options;
  replicator_options.self = options_.fleet_advertise;
  replicator_options.tick = absl::Milliseconds(500);
  replicator_ = std::make_unique<fleet::Replicator>(
      replicator_options, storage_.get(), peers_.get(),
      [f](const std::string& model) { return f->PeerFor(model); },
      // State and records only once a model's handover is done: a
      // returning owner's are stale until then.
      [this](const std::string& model) { return EvaluatesHere(model); },
      *metrics_->registry);
  replicator_->HoldLabelsWhile([f] { return f->fenced(); });
  replicator_->SetLabelHolders(
      [f](const std::string& model) { return f->LabelHoldersFor(model); });
  replicator_->SetJoinRecords(
      [join = label_join_.get()](const v1::ModelRef& model, absl::Time start) {
        return join->CarriedBytes(model, start);
      });
  writer_->OnStored(
      [r = replicator_.get()](const std::vector<const EncodedReport*>& batch) {
        r->OnStoredBatch(batch);
      });
  // Copies go through the label join, so that their join records and
  // labels are kept here as on the owner.
  replication_service_ = std::make_unique<fleet::ReplicationService>(
      storage_.get(), authorizer_.get(), clock_, owns,
      [join = label_join_.get()](absl::Span<EncodedReport* const> reports,
                                 absl::Time now,
                                 std::vector<WriteOutcome>* outcomes) {
        return join->WriteReports(reports, now, outcomes);
      },
      [labels = label_service_.get()](
          const v1::ModelRef& model,
          const google::protobuf::RepeatedPtrField<v1::LabelEvent>& copies,
          absl::Time now) { return labels->StoreCopies(model, copies, now); });
  replication_service_->SetMembers([this] { return MembersForHandover(); },
                                   [e = evaluator_.get()] { e->AwaitPass(); });
  nc_service_->SetTakingOver(
      [this](const std::string& model) { return TakingOver(model); });
  // Labels posted for a model go to its owner, which copies them to the
  // model's peer.
  label_service_->SetRouter(
      fleet_router_.get(),
      [r = replicator_.get()](const v1::ModelRef& model,
                              const std::vector<LabelEvent>& labels,
                              absl::Time now) {
        std::vector<v1::LabelEvent> copies;
        copies.reserve(labels.size());
        for (const LabelEvent& l : labels)
          copies.push_back(LabelToProto(l, now));
        r->OnLabels(model, std::move(copies));
      });
  // The series state a pass changed goes to the peers at once, so that a
  // breach that fired is not opened again by a successor.
  evaluator_->OnPassDone([r = replicator_.get()] { r->Wake(); });
  // Only the owner evaluates a model and renews its alerts; a fenced
  // collector owns nothing.
  evaluator_->EvaluateOnly(
      [this](const v1::ModelRef& m) { return EvaluatesHere(m.name()); });
  takeovers_ = &prometheus::BuildCounter()
                    .Name("aims_fleet_takeovers_total")
                    .Help(
                        "Models with data here that this collector took "
                        "over from another owner.")
                    .Register(*metrics_->registry)
                    .Add({});
  adopted_ = &prometheus::BuildCounter()
                  .Name("aims_fleet_adopted_nonconformities_total")
                  .Help(
                      "Nonconformity records this collector took over with "
                      "their models (or a later version of one held).")
                  .Register(*metrics_->registry)
                  .Add({});
  return absl::OkStatus();
}

bool Collector::EvaluatesHere(const std::string& model) {
  if (fleet_ == nullptr) return true;
  if (!fleet_->Owns(model)) return false;
  // Owned under the list the last handover completed for too: a model just
  // won waits for its state and records.
  absl::MutexLock lock(&fleet_mu_);
  return !fleet_fenced_ && !fleet_leaving_ &&
         fleet::RendezvousOwner(model, fleet_members_) ==
             options_.fleet_advertise;
}

bool Collector::TakingOver(const std::string& model) {
  return fleet_->Owns(model) && !EvaluatesHere(model);
}

std::vector<std::string> Collector::MembersForHandover() {
  {
    absl::MutexLock lock(&fleet_mu_);
    if (fleet_leaving_) return {};
  }
  if (fleet_->fenced()) return {};
  return fleet_->members();
}

void Collector::NoteFleetChanged() {
  // Every list seen, not only the last: a model lost and won back between
  // two runs of the worker was another's meanwhile.
  FleetView seen{fleet_->members(), fleet_->fenced()};
  absl::MutexLock lock(&fleet_mu_);
  if (fleet_seen_.size() < kMaxFleetViews) {
    fleet_seen_.push_back(std::move(seen));
  } else {
    fleet_seen_overflow_ = true;
  }
  fleet_change_pending_ = true;
}

void Collector::LeaveFleetEvaluation() {
  {
    absl::MutexLock lock(&fleet_mu_);
    fleet_leaving_ = true;
  }
  // No pass writes once the others may own this collector's models.
  if (evaluator_) evaluator_->Stop();
}

void Collector::RunFleetChanges() {
  while (true) {
    {
      absl::MutexLock lock(&fleet_mu_);
      fleet_mu_.Await(absl::Condition(this, &Collector::FleetWorkDue));
      if (fleet_stopping_) return;
      fleet_change_pending_ = false;
    }
    OnFleetChanged();
  }
}

bool Collector::FleetWorkDue() const {
  return fleet_change_pending_ || fleet_stopping_;
}

void Collector::StopFleetChanges() {
  {
    absl::MutexLock lock(&fleet_mu_);
    fleet_stopping_ = true;
  }
  if (fleet_worker_.joinable()) fleet_worker_.join();
}

absl::StatusOr<std::vector<aims::fleet::v1::HandoverResponse>>
Collector::AskHandover(const std::vector<std::string>& members) {
  aims::fleet::v1::HandoverRequest request;
  request.set_from(options_.fleet_advertise);
  for (const std::string& m : members) request.add_members(m);
  std::vector<aims::fleet::v1::HandoverResponse> answers;
  for (const std::string& member : members) {
    if (member == options_.fleet_advertise) continue;
    const absl::Time give_up = absl::Now() + kHandoverPatience;
    while (true) {
      {
        absl::MutexLock lock(&fleet_mu_);
        if (fleet_stopping_) return absl::CancelledError("stopping");
      }
      absl::StatusOr<aims::fleet::v1::HandoverResponse> answer =
          peers_->Handover(member, request, kHandoverCall);
      if (answer.ok()) {
        answers.push_back(std::move(*answer));
        break;
      }
      // A member that has not read the same list yet may still evaluate
      // the models: ask again shortly. When this collector's list moved on
      // meanwhile, the run is redone for the new one.
      if (absl::IsFailedPrecondition(answer.status())) {
        if (fleet_->members() != members) {
          return absl::AbortedError("the member list changed");
        }
        if (absl::Now() < give_up) {
          absl::SleepFor(absl::Milliseconds(100));
          continue;
        }
      }
      LogWarn(
          "no handover from a fleet member; its state and records of "
          "the models gained here are not taken",
          {{"member", member}, {"error", answer.status().message()}});
      break;
    }
  }
  return answers;
}

absl::StatusOr<int> Collector::TakeOverGained(
    const std::vector<std::string>& members,
    const std::function<bool(const std::string&)>& gained) {
  absl::StatusOr<std::vector<aims::fleet::v1::HandoverResponse>> asked =
      AskHandover(members);
  if (!asked.ok()) return asked.status();
  const std::vector<aims::fleet::v1::HandoverResponse>& answers = *asked;
  // The newest state row of each series of a gained model.
  std::map<std::string, std::pair<v1::ObjectiveStatus, std::string>> rows;
  for (const aims::fleet::v1::HandoverResponse& answer : answers) {
    for (const aims::fleet::v1::StateRow& row : answer.state()) {
      v1::ObjectiveStatus status;
      if (!status.ParseFromString(row.value()) ||
          !gained(status.model().name())) {
        continue;
      }
      auto it = rows.find(row.key());
      if (it == rows.end() || LaterState(status, it->second.first))
        rows[row.key()] = {std::move(status), row.value()};
    }
  }
  std::vector<Mutation> state;
  for (auto& [key, row] : rows) {
    absl::StatusOr<std::string> held = storage_->Get(Table::kEvaluation, key);
    v1::ObjectiveStatus here;
    if (held.ok() && here.ParseFromString(*held) &&
        !LaterState(row.first, here)) {
      continue;
    }
    state.push_back({Table::kEvaluation, key, row.second});
  }
  if (!state.empty()) {
    if (absl::Status s = storage_->Apply(state); !s.ok()) {
      LogError("cannot store the handed over series state",
               {{"error", s.message()}});
    }
  }
  // Records: the copies kept here as the replica, then the others' (the
  // latest version of each wins).
  std::vector<std::pair<v1::Nonconformity, std::string>> records;
  (void)storage_->Scan(
      Table::kNonconformityCopies, "",
      [&](absl::string_view, absl::string_view value) {
        v1::Nonconformity nc;
        if (nc.ParseFromArray(value.data(), static_cast<int>(value.size())) &&
            gained(nc.model().name())) {
          records.emplace_back(std::move(nc), "replica copy");
        }
        return true;
      });
  // A copy is dropped once its record is held here (adopted, or as recent).
  std::vector<Mutation> used_copies;
  for (const aims::fleet::v1::HandoverResponse& answer : answers) {
    for (const v1::Nonconformity& nc : answer.nonconformities()) {
      if (gained(nc.model().name())) records.emplace_back(nc, "handover");
    }
  }
  int adopted = 0;
  for (const auto& [nc, from] : records) {
    absl::StatusOr<bool> took = nonconformities_->Adopt(nc, from);
    if (!took.ok()) {
      LogError("cannot take over a nonconformity record",
               {{"id", nc.id()}, {"error", took.status().message()}});
      continue;
    }
    if (from == "replica copy") {
      used_copies.push_back(
          {Table::kNonconformityCopies, nc.id(), std::nullopt});
    }
    if (*took) {
      ++adopted;
      adopted_->Increment();
    }
  }
  if (!used_copies.empty()) (void)storage_->Apply(used_copies);
  return static_cast<int>(state.size()) + adopted +
         TakeProfiles(answers, gained);
}

int Collector::TakeProfiles(
    const std::vector<aims::fleet::v1::HandoverResponse>& answers,
    const std::function<bool(const std::string&)>& gained) {
  int taken = 0;
  for (const aims::fleet::v1::HandoverResponse& answer : answers) {
    for (const v1::ReferenceProfile& profile : answer.profiles()) {
      if (!gained(profile.model().name())) continue;
      // Only a later one (replaced while this collector did not own the
      // model).
      absl::StatusOr<v1::ReferenceProfile> here =
          storage_->GetProfile(profile.model());
      if (here.ok() && (here->profile_id() == profile.profile_id() ||
                        !StoredLater(profile, *here))) {
        continue;
      }
      bool created = false;
      absl::StatusOr<v1::ReferenceProfile> stored =
          storage_->PutProfile(profile, /*if_absent=*/false, &created);
      if (!stored.ok()) {
        LogError("cannot store a handed over reference profile",
                 {{"model", profile.model().name()},
                  {"error", stored.status().message()}});
        continue;
      }
      ++taken;
      ingest_->PushProfile(*stored);
      LogInfo("reference profile handed over",
              {{"model", profile.model().name()},
               {"version", profile.model().version()},
               {"profile_id", profile.profile_id()}});
    }
  }
  return taken;
}

void Collector::OnFleetChanged() {
  const std::vector<std::string> members = fleet_->members();
  const bool fenced = fleet_->fenced();
  std::vector<std::string> before;
  bool was_fenced = false;
  std::vector<FleetView> seen;
  bool lost_track = false;
  {
    absl::MutexLock lock(&fleet_mu_);
    before = fleet_members_;
    was_fenced = fleet_fenced_;
    seen.swap(fleet_seen_);
    std::swap(lost_track, fleet_seen_overflow_);
  }
  // Agents of a model that moved away reconnect and are redirected.
  ingest_->EndStreamsOfMovedModels(
      [f = fleet_.get()](const v1::ModelRef& m) { return !f->Owns(m.name()); });
  const std::string& self = options_.fleet_advertise;
  // Gained: ours now, and not under the list handled before or a list
  // seen since (at start, or after a fence, every model is).
  auto gained = [&](const std::string& model) {
    if (fenced || fleet::RendezvousOwner(model, members) != self) return false;
    if (before.empty() || was_fenced || lost_track ||
        fleet::RendezvousOwner(model, before) != self) {
      return true;
    }
    for (const FleetView& view : seen) {
      if (view.fenced || fleet::RendezvousOwner(model, view.members) != self)
        return true;
    }
    return false;
  };
  const bool changed = !fenced && !members.empty() &&
                       (members != before || was_fenced || seen.size() > 1);
  int handed = 0;
  if (changed) {
    absl::StatusOr<int> taken = TakeOverGained(members, gained);
    if (!taken.ok()) {
      // Redone for the newer list (or stopping): what was seen counts then.
      LogInfo("fleet handover not finished; done again",
              {{"reason", taken.status().message()}});
      absl::MutexLock lock(&fleet_mu_);
      seen.insert(seen.end(), std::make_move_iterator(fleet_seen_.begin()),
                  std::make_move_iterator(fleet_seen_.end()));
      fleet_seen_.swap(seen);
      fleet_seen_overflow_ = fleet_seen_overflow_ || lost_track;
      fleet_change_pending_ = true;
      return;
    }
    handed = *taken;
  }
  // Taken over: a model with data here that is ours now and was another's
  // under the previous list (or ours while fenced). The first list read at
  // start takes nothing over.
  std::vector<std::string> taken;
  std::map<std::string, std::vector<v1::ModelRef>> refs;
  if (!before.empty()) {
    for (const v1::ModelInfo& m : storage_->ListModels({})) {
      const std::string& name = m.model().name();
      if (!gained(name)) continue;
      if (refs[name].empty()) taken.push_back(name);
      refs[name].push_back(m.model());
    }
  }
  if (handed > 0 || !taken.empty()) {
    // The series state replicated or handed over here takes effect.
    if (absl::Status s = evaluator_->Load(); !s.ok()) {
      LogError("cannot reload evaluation state for a takeover",
               {{"error", s.message()}});
    }
  }
  const std::string listed = absl::StrJoin(members, ",");
  for (const std::string& model : taken) {
    if (absl::Status s =
            audit_->Append({"fleet_takeover",
                            "fleet",
                            {{"model", model}, {"members", listed}}});
        !s.ok()) {
      LogWarn("cannot record takeover",
              {{"model", model}, {"error", s.message()}});
    }
    takeovers_->Increment();
    LogInfo("fleet takeover", {{"model", model}, {"members", listed}});
    for (const v1::ModelRef& ref : refs[model]) evaluator_->OnNewData(ref);
  }
  {
    // From now on the evaluator judges the models gained (EvaluatesHere).
    absl::MutexLock lock(&fleet_mu_);
    fleet_members_ = members;
    fleet_fenced_ = fenced;
  }
  if (replicator_ != nullptr) replicator_->CatchUpAll();
}

}  // namespace aims::collector
