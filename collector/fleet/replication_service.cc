#include "collector/fleet/replication_service.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/fleet/rendezvous.h"
#include "common/base/grpc_status.h"
#include "common/base/log.h"
#include "common/net/bearer_token.h"
#include "common/summary/profile_builder.h"

namespace aims::collector::fleet {

ReplicationService::ReplicationService(
    Storage* storage, const Authorizer* authorizer, const Clock* clock,
    std::function<bool(const std::string&)> owns, ReportWriter write,
    LabelWriter write_labels)
    : storage_(storage),
      authorizer_(authorizer),
      clock_(clock),
      owns_(std::move(owns)),
      write_(std::move(write)),
      write_labels_(std::move(write_labels)) {}

grpc::Status ReplicationService::Authorize(
    const grpc::ServerContext& context) const {
  if (authorizer_ == nullptr) return grpc::Status::OK;
  absl::Status s =
      authorizer_->Authorize(AuthorizationOf(context), Permission::kAdminister)
          .status();
  return ToGrpcStatus(s);
}

grpc::Status ReplicationService::Position(
    grpc::ServerContext* context,
    const aims::fleet::v1::PositionRequest* request,
    aims::fleet::v1::PositionResponse* response) {
  if (grpc::Status s = Authorize(*context); !s.ok()) return s;
  v1::ModelSelector selector;
  selector.set_name(request->model_name());
  for (const v1::AgentInfo& a : storage_->ListAgents(selector)) {
    aims::fleet::v1::AgentPosition* p = response->add_agents();
    p->set_agent_id(a.agent().agent_id());
    p->set_durable_sequence(a.durable_sequence());
    p->set_report_count(a.report_count());
  }
  return grpc::Status::OK;
}

grpc::Status ReplicationService::Replicate(
    grpc::ServerContext* context,
    const aims::fleet::v1::ReplicateRequest* request,
    aims::fleet::v1::ReplicateResponse* response) {
  if (grpc::Status s = Authorize(*context); !s.ok()) return s;
  const absl::Time now = clock_->Now();
  std::vector<EncodedReport> encoded;
  encoded.reserve(request->reports_size());
  for (const aims::fleet::v1::ReplicatedReport& r : request->reports()) {
    v1::WindowReport report;
    if (!report.ParseFromString(r.report()) ||
        report.agent_id() != r.hello().agent().agent_id()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "replicated report does not parse or names "
                          "another agent than its hello");
    }
    const std::string& agent = report.agent_id();
    bool known = false;
    {
      absl::MutexLock lock(&mu_);
      known = registered_.contains(agent);
    }
    if (!known) {
      absl::StatusOr<uint64_t> registered =
          storage_->RegisterAgent(r.hello(), now);
      if (!registered.ok()) {
        return ToGrpcStatus(registered.status());
      }
      absl::MutexLock lock(&mu_);
      registered_.insert(agent);
    }
    encoded.push_back(EncodeReport(report, r.report()));
  }
  if (!encoded.empty()) {
    std::vector<WriteOutcome> outcomes;
    absl::Status s;
    if (write_) {
      std::vector<EncodedReport*> batch;
      for (EncodedReport& e : encoded) batch.push_back(&e);
      s = write_(batch, now, &outcomes);
    } else {
      std::vector<const EncodedReport*> batch;
      for (const EncodedReport& e : encoded) batch.push_back(&e);
      s = storage_->WriteEncodedReports(batch, now, &outcomes);
    }
    if (!s.ok()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          std::string(s.message()));
    }
    for (WriteOutcome o : outcomes) {
      if (o == WriteOutcome::kStored)
        response->set_stored(response->stored() + 1);
      if (o == WriteOutcome::kDuplicate)
        response->set_duplicates(response->duplicates() + 1);
    }
  }
  std::vector<Mutation> state;
  for (const aims::fleet::v1::StateRow& row : request->state()) {
    v1::ObjectiveStatus status;
    if (!status.ParseFromString(row.value()) || owns_(status.model().name())) {
      response->set_state_refused(response->state_refused() + 1);
      continue;
    }
    state.push_back({Table::kEvaluation, row.key(), row.value()});
  }
  for (const v1::Nonconformity& nc : request->nonconformities()) {
    if (owns_(nc.model().name())) {
      response->set_nonconformities_refused(
          response->nonconformities_refused() + 1);
      continue;
    }
    state.push_back(
        {Table::kNonconformityCopies, nc.id(), nc.SerializeAsString()});
    response->set_nonconformities_stored(response->nonconformities_stored() +
                                         1);
  }
  if (!state.empty()) {
    if (absl::Status s = storage_->Apply(state); !s.ok()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          std::string(s.message()));
    }
  }
  // Labels are facts about predictions: kept whoever owns the model now
  // (the join keeps the one in force by its timestamp).
  for (const aims::fleet::v1::LabelCopy& copy : request->labels()) {
    if (!write_labels_) {
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          "this collector keeps no label join");
    }
    absl::StatusOr<size_t> stored =
        write_labels_(copy.model(), copy.labels(), now);
    if (!stored.ok()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          std::string(stored.status().message()));
    }
    response->set_labels_stored(response->labels_stored() + *stored);
  }
  for (const v1::ReferenceProfile& profile : request->profiles()) {
    if (owns_(profile.model().name())) {
      response->set_profiles_refused(response->profiles_refused() + 1);
      continue;
    }
    // A copy from an owner that returned with an older profile (its
    // handover missed the newer one stored here) does not replace it.
    if (absl::StatusOr<v1::ReferenceProfile> held =
            storage_->GetProfile(profile.model());
        held.ok() && held->profile_id() != profile.profile_id() &&
        StoredLater(*held, profile)) {
      response->set_profiles_refused(response->profiles_refused() + 1);
      continue;
    }
    bool created = false;
    absl::StatusOr<v1::ReferenceProfile> stored =
        storage_->PutProfile(profile, /*if_absent=*/false, &created);
    if (!stored.ok()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          std::string(stored.status().message()));
    }
    response->set_profiles_stored(response->profiles_stored() + 1);
  }
  return grpc::Status::OK;
}

grpc::Status ReplicationService::Handover(
    grpc::ServerContext* context,
    const aims::fleet::v1::HandoverRequest* request,
    aims::fleet::v1::HandoverResponse* response) {
  if (grpc::Status s = Authorize(*context); !s.ok()) return s;
  std::vector<std::string> members(request->members().begin(),
                                   request->members().end());
  std::sort(members.begin(), members.end());
  if (members_) {
    const std::vector<std::string> here = members_();
    if (!here.empty() && here != members) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("the member list here differs from ",
                                       request->from(), "'s; ask again"));
    }
  }
  // It no longer evaluates the asker's models; a pass that began before
  // may still write.
  if (await_pass_) await_pass_();
  auto theirs = [&](const v1::ModelRef& model) {
    return RendezvousOwner(model.name(), members) == request->from();
  };
  absl::Status scan =
      storage_->Scan(Table::kEvaluation, "",
                     [&](absl::string_view key, absl::string_view value) {
                       v1::ObjectiveStatus status;
                       if (status.ParseFromArray(
                               value.data(), static_cast<int>(value.size())) &&
                           theirs(status.model())) {
                         aims::fleet::v1::StateRow* row = response->add_state();
                         row->set_key(std::string(key));
                         row->set_value(std::string(value));
                       }
                       return true;
                     });
  for (Table table : {Table::kNonconformities, Table::kNonconformityCopies}) {
    if (!scan.ok()) break;
    scan = storage_->Scan(
        table, "", [&](absl::string_view, absl::string_view value) {
          v1::Nonconformity nc;
          if (nc.ParseFromArray(value.data(), static_cast<int>(value.size())) &&
              theirs(nc.model())) {
            *response->add_nonconformities() = std::move(nc);
          }
          return true;
        });
  }
  if (!scan.ok()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        std::string(scan.message()));
  }
  // One profile serves every environment of a version.
  std::set<std::pair<std::string, std::string>> versions;
  for (const v1::ModelInfo& m : storage_->ListModels({})) {
    if (m.profile_id().empty() || !theirs(m.model()) ||
        !versions.insert({m.model().name(), m.model().version()}).second) {
      continue;
    }
    absl::StatusOr<v1::ReferenceProfile> profile =
        storage_->GetProfile(m.model());
    if (profile.ok()) *response->add_profiles() = std::move(*profile);
  }
  return grpc::Status::OK;
}

}  // namespace aims::collector::fleet
