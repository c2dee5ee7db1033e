#include "collector/api/nonconformity_service.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/grpc_status.h"
#include "common/base/log.h"
#include "common/base/time_util.h"

namespace aims::collector {
namespace {

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 const absl::Status& s) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

}  // namespace

NonconformityService::NonconformityService(
    std::string collector_id, Nonconformities* nonconformities,
    Evaluator* evaluator, AuditTrail* audit,
    std::function<absl::StatusOr<v1::PlanInfo>(const std::string&)> reload,
    const Authorizer* authorizer)
    : collector_id_(std::move(collector_id)),
      nonconformities_(nonconformities),
      evaluator_(evaluator),
      audit_(audit),
      reload_(std::move(reload)),
      authorizer_(authorizer) {}

absl::Status NonconformityService::List(
    const v1::ListNonconformitiesRequest& request,
    v1::ListNonconformitiesResponse* response, CallScope scope) const {
  response->set_collector_id(collector_id_);
  for (v1::Nonconformity& nc : nonconformities_->List(request)) {
    *response->add_nonconformities() = std::move(nc);
  }
  if (router_ == nullptr || scope == CallScope::kCollector) {
    return absl::OkStatus();
  }
  // A record's former holder may keep a copy; its holder's is the latest.
  std::map<std::string, v1::Nonconformity> merged;
  auto merge = [&](v1::Nonconformity& nc) {
    auto [it, added] = merged.try_emplace(nc.id(), nc);
    if (!added && IsLaterVersion(nc, it->second)) it->second = std::move(nc);
  };
  for (v1::Nonconformity& nc : *response->mutable_nonconformities()) merge(nc);
  for (auto& [member, theirs] :
       router_->AskOthers(&FleetRouter::NcStub,
                          &v1::NonconformityService::Stub::ListNonconformities,
                          request, response->mutable_unanswered_collectors())) {
    for (v1::Nonconformity& nc : *theirs.mutable_nonconformities()) merge(nc);
  }
  std::vector<v1::Nonconformity> all;
  all.reserve(merged.size());
  for (auto& [id, nc] : merged) all.push_back(std::move(nc));
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return FromProto(a.opened_at()) < FromProto(b.opened_at());
  });
  response->clear_nonconformities();
  for (v1::Nonconformity& nc : all)
    *response->add_nonconformities() = std::move(nc);
  return absl::OkStatus();
}

std::string NonconformityService::HolderElsewhere(const std::string& id,
                                                  CallScope scope) const {
  if (router_ == nullptr || scope == CallScope::kCollector) return "";
  absl::StatusOr<v1::Nonconformity> here = nonconformities_->Get(id);
  if (here.ok()) return router_->OwnerElsewhere(here->model().name());
  v1::GetNonconformityRequest request;
  request.set_id(id);
  for (const std::string& member : router_->Others()) {
    v1::Nonconformity nc;
    grpc::ClientContext context;
    router_->Prepare(&context);
    if (router_->NcStub(member)
            ->GetNonconformity(&context, request, &nc)
            .ok()) {
      const std::string owner = router_->OwnerElsewhere(nc.model().name());
      return owner.empty() ? member : owner;
    }
  }
  return "";
}

absl::Status NonconformityService::CheckNotTakingOver(
    const std::string& id) const {
  if (!taking_over_) return absl::OkStatus();
  absl::StatusOr<v1::Nonconformity> here = nonconformities_->Get(id);
  if (!here.ok() || !taking_over_(here->model().name()))
    return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("this collector is taking over model ", here->model().name(),
                   " and its records (", id,
                   " among them) from another; retry in a few seconds"));
}

absl::Status NonconformityService::Get(
    const v1::GetNonconformityRequest& request, v1::Nonconformity* response,
    CallScope scope) const {
  if (const std::string holder = HolderElsewhere(request.id(), scope);
      !holder.empty()) {
    grpc::ClientContext context;
    router_->Prepare(&context);
    return FleetRouter::Answer(
        router_->NcStub(holder)->GetNonconformity(&context, request, response),
        "the record's holder", holder);
  }
  absl::StatusOr<v1::Nonconformity> nc = nonconformities_->Get(request.id());
  if (!nc.ok()) return nc.status();
  *response = std::move(*nc);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* NonconformityService::ListNonconformities(
    grpc::CallbackServerContext* context,
    const v1::ListNonconformitiesRequest* request,
    v1::ListNonconformitiesResponse* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kRead);
  if (!principal.ok()) return Finish(context, principal.status());
  return Finish(context,
                List(*request, response, FleetRouter::ScopeOf(*context)));
}

grpc::ServerUnaryReactor* NonconformityService::GetNonconformity(
    grpc::CallbackServerContext* context,
    const v1::GetNonconformityRequest* request, v1::Nonconformity* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kRead);
  if (!principal.ok()) return Finish(context, principal.status());
  return Finish(context,
                Get(*request, response, FleetRouter::ScopeOf(*context)));
}

namespace {

// The actor of `principal`'s action: its name when it authenticated (naming
// someone else is refused, so the audit trail cannot be written in another
// person's name), else the one the request names.
absl::StatusOr<std::string> ActorOf(const Principal& principal,
                                    const std::string& requested) {
  if (!principal.authenticated) return requested;
  if (!requested.empty() && requested != principal.name) {
    return absl::PermissionDeniedError(absl::StrCat(
        "actor: '", requested, "' is not the authenticated identity '",
        principal.name, "' (omit --actor)"));
  }
  return principal.name;
}

}  // namespace

bool NonconformityService::ForwardedByFleet(
    const Principal& principal, CallScope scope,
    const std::string& fleet_principal) {
  return scope == CallScope::kCollector && principal.authenticated &&
         !fleet_principal.empty() && principal.name == fleet_principal;
}

absl::StatusOr<std::string> NonconformityService::Actor(
    const Principal& principal, const std::string& requested,
    CallScope scope) const {
  if (router_ != nullptr && !requested.empty() &&
      ForwardedByFleet(principal, scope, fleet_principal_)) {
    return requested;
  }
  return ActorOf(principal, requested);
}

absl::Status NonconformityService::Transition(const Principal& principal,
                                              v1::TransitionRequest request,
                                              v1::Nonconformity* response,
                                              CallScope scope) {
  absl::StatusOr<std::string> actor = Actor(principal, request.actor(), scope);
  if (!actor.ok()) return actor.status();
  request.set_actor(*actor);
  if (request.to() == v1::NONCONFORMITY_STAGE_RISK_ACCEPTED &&
      principal.authenticated &&
      !RoleHas(principal.role, Permission::kAcceptRisk)) {
    return absl::PermissionDeniedError(
        absl::StrCat("'", principal.name, "' (role ", RoleName(principal.role),
                     ") may not accept risk: ending ", request.id(),
                     " as risk accepted needs the role risk_owner or admin"));
  }
  if (const std::string holder = HolderElsewhere(request.id(), scope);
      !holder.empty()) {
    grpc::ClientContext context;
    router_->Prepare(&context);
    return FleetRouter::Answer(router_->NcStub(holder)->TransitionNonconformity(
                                   &context, request, response),
                               "the record's holder", holder);
  }
  if (absl::Status s = CheckNotTakingOver(request.id()); !s.ok()) return s;
  absl::StatusOr<v1::Nonconformity> nc = evaluator_->Transition(request);
  if (!nc.ok()) return nc.status();
  *response = std::move(*nc);
  return absl::OkStatus();
}

absl::Status NonconformityService::Update(
    const Principal& principal, v1::UpdateNonconformityRequest request,
    v1::Nonconformity* response, CallScope scope) {
  absl::StatusOr<std::string> actor = Actor(principal, request.actor(), scope);
  if (!actor.ok()) return actor.status();
  request.set_actor(*actor);
  if (const std::string holder = HolderElsewhere(request.id(), scope);
      !holder.empty()) {
    grpc::ClientContext context;
    router_->Prepare(&context);
    return FleetRouter::Answer(router_->NcStub(holder)->UpdateNonconformity(
                                   &context, request, response),
                               "the record's holder", holder);
  }
  if (absl::Status s = CheckNotTakingOver(request.id()); !s.ok()) return s;
  absl::StatusOr<v1::Nonconformity> nc = evaluator_->Update(request);
  if (!nc.ok()) return nc.status();
  *response = std::move(*nc);
  return absl::OkStatus();
}

absl::Status NonconformityService::Audit(const v1::ListAuditRequest& request,
                                         v1::ListAuditResponse* response,
                                         CallScope scope) const {
  const std::string& member = request.collector();
  if (router_ == nullptr || scope == CallScope::kCollector) {
    if (!member.empty() && (router_ == nullptr || member != router_->self())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "collector: '", member, "' is not this collector",
          router_ == nullptr ? " (it runs alone: list its trail without "
                               "naming a collector)"
                             : ""));
    }
  } else if (!member.empty() && member != router_->self()) {
    std::vector<std::string> members = router_->Others();
    if (std::find(members.begin(), members.end(), member) == members.end()) {
      members.insert(members.begin(), router_->self());
      return absl::InvalidArgumentError(absl::StrCat(
          "collector: '", member, "' is not a member of the fleet (members: ",
          absl::StrJoin(members, ", "), ")"));
    }
    grpc::ClientContext context;
    router_->Prepare(&context);
    v1::ListAuditRequest theirs = request;
    theirs.clear_collector();
    absl::Status s = FleetRouter::Answer(
        router_->NcStub(member)->ListAudit(&context, theirs, response),
        "the member asked for its audit trail", member);
    if (!s.ok()) return s;
    AddMembers(response);
    return absl::OkStatus();
  }
  for (v1::AuditRecord& r : audit_->List(request.from_index(), request.limit()))
    *response->add_records() = std::move(r);
  if (router_ != nullptr) {
    response->set_collector(router_->self());
    AddMembers(response);
  }
  return absl::OkStatus();
}

void NonconformityService::AddMembers(v1::ListAuditResponse* response) const {
  response->clear_collectors();
  response->add_collectors(router_->self());
  for (std::string& m : router_->Others())
    response->add_collectors(std::move(m));
}

void NonconformityService::Verify(v1::VerifyAuditResponse* response,
                                  CallScope scope) const {
  *response = audit_->Verify();
  if (router_ == nullptr || scope == CallScope::kCollector) return;
  const v1::VerifyAuditResponse own = *response;
  VerifyFleet(own, response->mutable_fleet());
}

void NonconformityService::VerifyFleet(
    const v1::VerifyAuditResponse& own,
    google::protobuf::RepeatedPtrField<v1::FleetCollector>* fleet) const {
  if (router_ == nullptr) return;
  v1::FleetCollector* self = fleet->Add();
  self->set_address(router_->self());
  self->set_self(true);
  self->set_answered(true);
  *self->mutable_audit() = own;
  self->mutable_audit()->clear_fleet();
  const std::vector<std::string> others = router_->Others();
  std::map<std::string, v1::VerifyAuditResponse> answered;
  for (auto& [member, audit] : router_->AskOthers(
           &FleetRouter::NcStub, &v1::NonconformityService::Stub::VerifyAudit,
           v1::VerifyAuditRequest())) {
    answered[member] = std::move(audit);
  }
  for (const std::string& member : others) {
    v1::FleetCollector* c = fleet->Add();
    c->set_address(member);
    auto it = answered.find(member);
    c->set_answered(it != answered.end());
    if (it != answered.end()) {
      *c->mutable_audit() = std::move(it->second);
    } else {
      c->set_error("did not answer (see this collector's log)");
    }
  }
}

void NonconformityService::ObjectiveStates(
    const v1::ListObjectiveStatesRequest& request,
    v1::ListObjectiveStatesResponse* response, CallScope scope) const {
  response->set_plan_version(evaluator_->plan_info().version());
  for (v1::ObjectiveStatus& s : evaluator_->States(request))
    *response->add_states() = std::move(s);
  if (router_ == nullptr || scope == CallScope::kCollector) return;
  // Series key -> status; the owner's replaces a replica's.
  auto key = [](const v1::ObjectiveStatus& s) {
    return absl::StrCat(s.objective_id(), "\x1f", s.series());
  };
  std::map<std::string, v1::ObjectiveStatus> merged;
  for (v1::ObjectiveStatus& s : *response->mutable_states())
    merged.emplace(key(s), std::move(s));
  for (auto& [member, theirs] :
       router_->AskOthers(&FleetRouter::NcStub,
                          &v1::NonconformityService::Stub::ListObjectiveStates,
                          request, response->mutable_unanswered_collectors())) {
    for (v1::ObjectiveStatus& s : *theirs.mutable_states()) {
      auto [it, inserted] = merged.try_emplace(key(s), s);
      if (!inserted && router_->OwnerElsewhere(s.model().name()) == member)
        it->second = std::move(s);
    }
  }
  response->clear_states();
  for (auto& [k, s] : merged) *response->add_states() = std::move(s);
}

void NonconformityService::PlanVersions(
    v1::ListPlanVersionsResponse* response) const {
  *response = evaluator_->PlanVersions();
}

grpc::ServerUnaryReactor* NonconformityService::TransitionNonconformity(
    grpc::CallbackServerContext* context, const v1::TransitionRequest* request,
    v1::Nonconformity* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kWorkNonconformities);
  if (!principal.ok()) return Finish(context, principal.status());
  return Finish(context, Transition(*principal, *request, response,
                                    FleetRouter::ScopeOf(*context)));
}

grpc::ServerUnaryReactor* NonconformityService::UpdateNonconformity(
    grpc::CallbackServerContext* context,
    const v1::UpdateNonconformityRequest* request,
    v1::Nonconformity* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kWorkNonconformities);
  if (!principal.ok()) return Finish(context, principal.status());
  return Finish(context, Update(*principal, *request, response,
                                FleetRouter::ScopeOf(*context)));
}

grpc::ServerUnaryReactor* NonconformityService::ListPlanVersions(
    grpc::CallbackServerContext* context, const v1::ListPlanVersionsRequest*,
    v1::ListPlanVersionsResponse* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kRead);
  if (!principal.ok()) return Finish(context, principal.status());
  PlanVersions(response);
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* NonconformityService::ListAudit(
    grpc::CallbackServerContext* context, const v1::ListAuditRequest* request,
    v1::ListAuditResponse* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kRead);
  if (!principal.ok()) return Finish(context, principal.status());
  return Finish(context,
                Audit(*request, response, FleetRouter::ScopeOf(*context)));
}

grpc::ServerUnaryReactor* NonconformityService::VerifyAudit(
    grpc::CallbackServerContext* context, const v1::VerifyAuditRequest*,
    v1::VerifyAuditResponse* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kRead);
  if (!principal.ok()) return Finish(context, principal.status());
  Verify(response, FleetRouter::ScopeOf(*context));
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* NonconformityService::ListObjectiveStates(
    grpc::CallbackServerContext* context,
    const v1::ListObjectiveStatesRequest* request,
    v1::ListObjectiveStatesResponse* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kRead);
  if (!principal.ok()) return Finish(context, principal.status());
  ObjectiveStates(*request, response, FleetRouter::ScopeOf(*context));
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* NonconformityService::ReloadPlan(
    grpc::CallbackServerContext* context, const v1::ReloadPlanRequest*,
    v1::PlanInfo* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kAdminister);
  if (!principal.ok()) return Finish(context, principal.status());
  absl::StatusOr<v1::PlanInfo> info =
      reload_(principal->authenticated ? principal->name : "api");
  if (info.ok()) *response = std::move(*info);
  return Finish(context, info.status());
}

}  // namespace aims::collector
