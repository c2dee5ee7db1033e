// QueryService: read access over gRPC to what the collector stores -
// models, agents and window summaries merged across agents and time.
// Reference profiles are stored and served per model name and version;
// metrics are computed from merged summaries by common/summary/metric_engine.h.
// In fleet mode (SetRouter) a query about one model is answered by the
// model's owner and a listing merges every member's (fleet_router.h),
// unless it is scoped to this collector.
//
// Thread-safety: safe; every RPC reads Storage, which is thread-safe.
#ifndef AIMS_COLLECTOR_API_QUERY_SERVICE_H_
#define AIMS_COLLECTOR_API_QUERY_SERVICE_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "aims/v1/query.grpc.pb.h"
#include "collector/api/fleet_router.h"
#include "collector/auth/authorizer.h"
#include "collector/storage/storage.h"
#include "common/base/clock.h"
#include "common/summary/summary_merge.h"

namespace aims::collector {

class QueryService final : public v1::QueryService::CallbackService {
 public:
  // `is_connected` tells whether an agent has a stream open now.
  // Every RPC is authorized by `authorizer` (collector/auth/authorizer.h):
  // kRead; PutProfile kAdminister, or an agent token proposing (if_absent) the
  // profile of a model it may report.
  // `on_profile_replaced` (optional) receives every profile PutProfile
  // stores (a first one, or one that replaced a different one with
  // PutProfileRequest.replace), to push it to the connected agents.
  // `clock` stamps the profiles PutProfile stores (`stored_at`).
  QueryService(std::string collector_id, Storage* storage, const Clock* clock,
               std::function<bool(const std::string&)> is_connected,
               const Authorizer* authorizer,
               std::function<void(const v1::ReferenceProfile&)>
                   on_profile_replaced = {});

  // Fleet mode: route queries with `router` (not owned; outlives this).
  // Call before serving.
  void SetRouter(FleetRouter* router) { router_ = router; }

  // The queries themselves, shared by gRPC and the HTTP/JSON API.
  absl::Status ListModels(const v1::ListModelsRequest& request,
                          v1::ListModelsResponse* response,
                          CallScope scope = CallScope::kFleet) const;
  absl::Status ListAgents(const v1::ListAgentsRequest& request,
                          v1::ListAgentsResponse* response,
                          CallScope scope = CallScope::kFleet) const;
  absl::Status GetSummaries(const v1::GetSummariesRequest& request,
                            v1::GetSummariesResponse* response,
                            CallScope scope = CallScope::kFleet) const;
  // Metrics per step, from the merged summaries: performance and fairness
  // always, drift when the model version has a reference profile.
  absl::Status QueryMetrics(const v1::QueryMetricsRequest& request,
                            v1::QueryMetricsResponse* response,
                            CallScope scope = CallScope::kFleet) const;
  absl::Status GetProfile(const v1::GetProfileRequest& request,
                          v1::ReferenceProfile* response,
                          CallScope scope = CallScope::kFleet) const;
  absl::Status PutProfile(const v1::PutProfileRequest& request,
                          v1::PutProfileResponse* response,
                          CallScope scope = CallScope::kFleet);

  grpc::ServerUnaryReactor* ListModels(
      grpc::CallbackServerContext* context,
      const v1::ListModelsRequest* request,
      v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* ListAgents(
      grpc::CallbackServerContext* context,
      const v1::ListAgentsRequest* request,
      v1::ListAgentsResponse* response) override;
  grpc::ServerUnaryReactor* GetSummaries(
      grpc::CallbackServerContext* context,
      const v1::GetSummariesRequest* request,
      v1::GetSummariesResponse* response) override;
  grpc::ServerUnaryReactor* QueryMetrics(
      grpc::CallbackServerContext* context,
      const v1::QueryMetricsRequest* request,
      v1::QueryMetricsResponse* response) override;
  grpc::ServerUnaryReactor* GetProfile(grpc::CallbackServerContext* context,
                                       const v1::GetProfileRequest* request,
                                       v1::ReferenceProfile* response) override;
  grpc::ServerUnaryReactor* PutProfile(
      grpc::CallbackServerContext* context,
      const v1::PutProfileRequest* request,
      v1::PutProfileResponse* response) override;

 private:
  // GetSummaries, with or without the per-feature quantile sketches (which
  // metrics do not use, and which are most of the time a query takes);
  // from this collector's storage.
  absl::Status MergeSummaries(const v1::GetSummariesRequest& request,
                              SummaryMerger::FeatureSketches sketches,
                              v1::GetSummariesResponse* response) const;
  // The owner's address when `scope` and the router send a query about
  // `model` elsewhere; "" to answer here.
  std::string RouteTo(const v1::ModelRef& model, CallScope scope) const;
  // Asks the owner `address` by `call` (fleet_router.h).
  template <typename Request, typename Response>
  absl::Status Forward(const std::string& address,
                       grpc::Status (v1::QueryService::Stub::*call)(
                           grpc::ClientContext*, const Request&, Response*),
                       const Request& request, Response* response) const;
  // Adds the other members' listings to `local`'s (fleet_router.h).
  template <typename Request, typename Response, typename Entry>
  void MergeMembers(
      grpc::Status (v1::QueryService::Stub::*call)(grpc::ClientContext*,
                                                   const Request&, Response*),
      const Request& request,
      google::protobuf::RepeatedPtrField<Entry>* (Response::*entries)(),
      std::string (*key)(const Entry&), Response* response) const;

  const std::string collector_id_;
  Storage* const storage_;
  const Clock* const clock_;
  const std::function<bool(const std::string&)> is_connected_;
  const Authorizer* const authorizer_;
  const std::function<void(const v1::ReferenceProfile&)> on_profile_replaced_;
  FleetRouter* router_ = nullptr;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_API_QUERY_SERVICE_H_
