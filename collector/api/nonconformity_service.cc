#include "collector/api/nonconformity_service.h"

#include "absl/strings/str_cat.h"

namespace aims::collector {
namespace {

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 const absl::Status& s) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpc(s));
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
    v1::ListNonconformitiesResponse* response) const {
  response->set_collector_id(collector_id_);
  for (v1::Nonconformity& nc : nonconformities_->List(request)) {
    *response->add_nonconformities() = std::move(nc);
  }
  return absl::OkStatus();
}

absl::Status NonconformityService::Get(
    const v1::GetNonconformityRequest& request,
    v1::Nonconformity* response) const {
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
  return Finish(context, List(*request, response));
}

grpc::ServerUnaryReactor* NonconformityService::GetNonconformity(
    grpc::CallbackServerContext* context,
    const v1::GetNonconformityRequest* request, v1::Nonconformity* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kRead);
  if (!principal.ok()) return Finish(context, principal.status());
  return Finish(context, Get(*request, response));
}

grpc::ServerUnaryReactor* NonconformityService::TransitionNonconformity(
    grpc::CallbackServerContext* context, const v1::TransitionRequest* request,
    v1::Nonconformity* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kWorkNonconformities);
  if (!principal.ok()) return Finish(context, principal.status());
  v1::TransitionRequest step = *request;
  // An authenticated caller is the actor; naming someone else is refused,
  // so the audit trail cannot be written in another person's name.
  if (principal->authenticated) {
    if (!step.actor().empty() && step.actor() != principal->name) {
      return Finish(context, absl::PermissionDeniedError(absl::StrCat(
                                 "actor: '", step.actor(),
                                 "' is not the authenticated identity '",
                                 principal->name, "' (omit --actor)")));
    }
    step.set_actor(principal->name);
  }
  absl::StatusOr<v1::Nonconformity> nc = evaluator_->Transition(step);
  if (nc.ok()) *response = std::move(*nc);
  return Finish(context, nc.status());
}

grpc::ServerUnaryReactor* NonconformityService::ListAudit(
    grpc::CallbackServerContext* context, const v1::ListAuditRequest* request,
    v1::ListAuditResponse* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kRead);
  if (!principal.ok()) return Finish(context, principal.status());
  for (v1::AuditRecord& r :
       audit_->List(request->from_index(), request->limit())) {
    *response->add_records() = std::move(r);
  }
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* NonconformityService::VerifyAudit(
    grpc::CallbackServerContext* context, const v1::VerifyAuditRequest*,
    v1::VerifyAuditResponse* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kRead);
  if (!principal.ok()) return Finish(context, principal.status());
  *response = audit_->Verify();
  return Finish(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* NonconformityService::ListObjectiveStates(
    grpc::CallbackServerContext* context,
    const v1::ListObjectiveStatesRequest* request,
    v1::ListObjectiveStatesResponse* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kRead);
  if (!principal.ok()) return Finish(context, principal.status());
  response->set_plan_version(evaluator_->plan_info().version());
  for (v1::ObjectiveStatus& s : evaluator_->States(*request)) {
    *response->add_states() = std::move(s);
  }
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
