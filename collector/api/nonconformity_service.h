// NonconformityService: gRPC access to nonconformities (list, show, the
// 10.2 lifecycle steps and the endings beside closure, owner / due date /
// ticket updates), objective states, the audit trail, plan versions and
// plan reload. The plain methods are shared with the HTTP/JSON API.
//
// Fleet mode (SetRouter): a record (id "NC-<id of the collector that
// opened it>-N") is held by its model's owner, which adopts it when it
// takes the model over (a copy may stay on its former holder). A listing
// merges every member's (of each record its latest version, sorted by
// opening time; objective states each from its model's owner, which
// evaluates it); a record is read on its holder, and a step or update on it
// is forwarded there with the person's name as actor, after this collector
// authorized the person. Each collector keeps its own audit trail: a
// verification checks every member's, and a listing reads the member it
// names. A forwarded call
// (`aims-scope: collector`, fleet_router.h) is answered from this
// collector's records; made with the fleet's own token (--fleet_token_file,
// whose name SetRouter is given), its request's actor is taken as given
// (the forwarding collector authorized that person). No other token, an
// admin's neither, acts in another's name.
//
// Thread-safety: safe; it forwards to thread-safe components.
#ifndef AIMS_COLLECTOR_API_NONCONFORMITY_SERVICE_H_
#define AIMS_COLLECTOR_API_NONCONFORMITY_SERVICE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "aims/v1/nonconformity.grpc.pb.h"
#include "collector/api/fleet_router.h"
#include "collector/auth/authorizer.h"
#include "collector/compliance/audit_trail.h"
#include "collector/compliance/nonconformities.h"
#include "collector/evaluation/evaluator.h"

namespace aims::collector {

class NonconformityService final
    : public v1::NonconformityService::CallbackService {
 public:
  // `reload` re-reads the plan file; it fails with FAILED_PRECONDITION when
  // the collector runs without --plan. Every RPC is authorized: reads need
  // kRead, transitions and updates kWorkNonconformities (the actor written
  // to the audit trail is the token's name when callers authenticate), a
  // risk acceptance kAcceptRisk too, plan reload kAdminister.
  NonconformityService(
      std::string collector_id, Nonconformities* nonconformities,
      Evaluator* evaluator, AuditTrail* audit,
      std::function<absl::StatusOr<v1::PlanInfo>(const std::string&)> reload,
      const Authorizer* authorizer);

  // Fleet mode: `taking_over(model name)` is true while this collector
  // owns the model but has not taken over its records yet; a step or
  // update on one of them is refused (UNAVAILABLE, retry) meanwhile. Call
  // before serving.
  void SetTakingOver(std::function<bool(const std::string&)> taking_over) {
    taking_over_ = std::move(taking_over);
  }
  // Fleet mode: `router` (not owned; outlives this). Call before serving.
  // `fleet_principal`: the name of the fleet's token in the tokens file
  // ("" when tokens are not required).
  void SetRouter(FleetRouter* router, std::string fleet_principal) {
    router_ = router;
    fleet_principal_ = std::move(fleet_principal);
  }
  // Whether a step's requested actor is taken as given: `principal` is the
  // fleet's token, `fleet_principal`, on a forwarded call.
  static bool ForwardedByFleet(const Principal& principal, CallScope scope,
                               const std::string& fleet_principal);

  absl::Status List(const v1::ListNonconformitiesRequest& request,
                    v1::ListNonconformitiesResponse* response,
                    CallScope scope = CallScope::kFleet) const;
  absl::Status Get(const v1::GetNonconformityRequest& request,
                   v1::Nonconformity* response,
                   CallScope scope = CallScope::kFleet) const;
  // `principal` is authorized for kWorkNonconformities already; the
  // request's actor must be empty or its name when it authenticated.
  absl::Status Transition(const Principal& principal,
                          v1::TransitionRequest request,
                          v1::Nonconformity* response,
                          CallScope scope = CallScope::kFleet);
  absl::Status Update(const Principal& principal,
                      v1::UpdateNonconformityRequest request,
                      v1::Nonconformity* response,
                      CallScope scope = CallScope::kFleet);
  // This collector's audit records, or in fleet `scope` those of the member
  // `request.collector()` names (asked for them); INVALID_ARGUMENT when it
  // names no member (or outside fleet mode), UNAVAILABLE when it does not
  // answer. In fleet mode the response names the trail's collector and
  // every member.
  absl::Status Audit(const v1::ListAuditRequest& request,
                     v1::ListAuditResponse* response,
                     CallScope scope = CallScope::kFleet) const;
  // This collector's trail verified; in fleet `scope` also every member's
  // (`fleet`, see VerifyFleet).
  void Verify(v1::VerifyAuditResponse* response,
              CallScope scope = CallScope::kFleet) const;
  // Fleet mode: `own` (this collector's verification) and every other
  // member's, asked now at once, into `fleet`, this collector first; a
  // member that did not answer is listed with `answered` false.
  void VerifyFleet(
      const v1::VerifyAuditResponse& own,
      google::protobuf::RepeatedPtrField<v1::FleetCollector>* fleet) const;
  // Fleet mode: every member's series, each from its model's owner.
  void ObjectiveStates(const v1::ListObjectiveStatesRequest& request,
                       v1::ListObjectiveStatesResponse* response,
                       CallScope scope = CallScope::kFleet) const;
  void PlanVersions(v1::ListPlanVersionsResponse* response) const;

  grpc::ServerUnaryReactor* ListNonconformities(
      grpc::CallbackServerContext* context,
      const v1::ListNonconformitiesRequest* request,
      v1::ListNonconformitiesResponse* response) override;
  grpc::ServerUnaryReactor* GetNonconformity(
      grpc::CallbackServerContext* context,
      const v1::GetNonconformityRequest* request,
      v1::Nonconformity* response) override;
  grpc::ServerUnaryReactor* TransitionNonconformity(
      grpc::CallbackServerContext* context,
      const v1::TransitionRequest* request,
      v1::Nonconformity* response) override;
  grpc::ServerUnaryReactor* UpdateNonconformity(
      grpc::CallbackServerContext* context,
      const v1::UpdateNonconformityRequest* request,
      v1::Nonconformity* response) override;
  grpc::ServerUnaryReactor* ListPlanVersions(
      grpc::CallbackServerContext* context,
      const v1::ListPlanVersionsRequest* request,
      v1::ListPlanVersionsResponse* response) override;
  grpc::ServerUnaryReactor* ListAudit(grpc::CallbackServerContext* context,
                                      const v1::ListAuditRequest* request,
                                      v1::ListAuditResponse* response) override;
  grpc::ServerUnaryReactor* VerifyAudit(
      grpc::CallbackServerContext* context,
      const v1::VerifyAuditRequest* request,
      v1::VerifyAuditResponse* response) override;
  grpc::ServerUnaryReactor* ListObjectiveStates(
      grpc::CallbackServerContext* context,
      const v1::ListObjectiveStatesRequest* request,
      v1::ListObjectiveStatesResponse* response) override;
  grpc::ServerUnaryReactor* ReloadPlan(grpc::CallbackServerContext* context,
                                       const v1::ReloadPlanRequest* request,
                                       v1::PlanInfo* response) override;

 private:
  // UNAVAILABLE while this collector takes over the model of record `id`
  // (SetTakingOver): a step made now on the copy it holds would be
  // replaced by the version it is taking over.
  absl::Status CheckNotTakingOver(const std::string& id) const;
  // In fleet `scope`: the other member that holds record `id` (its model's
  // owner; when this collector has no copy, the member that has one if the
  // owner is this one); "" to answer here.
  std::string HolderElsewhere(const std::string& id, CallScope scope) const;
  // Fleet mode: every member's address into `response->collectors()`.
  void AddMembers(v1::ListAuditResponse* response) const;
  // The actor of `principal`'s action on `requested`'s behalf (see above;
  // outside fleet mode a call's scope changes nothing).
  absl::StatusOr<std::string> Actor(const Principal& principal,
                                    const std::string& requested,
                                    CallScope scope) const;

  const std::string collector_id_;
  Nonconformities* const nonconformities_;
  Evaluator* const evaluator_;
  AuditTrail* const audit_;
  const std::function<absl::StatusOr<v1::PlanInfo>(const std::string&)> reload_;
  const Authorizer* const authorizer_;
  FleetRouter* router_ = nullptr;
  std::string fleet_principal_;
  std::function<bool(const std::string&)> taking_over_;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_API_NONCONFORMITY_SERVICE_H_
