#include "collector/api/query_service.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/evaluation/window_metrics.h"
#include "collector/plan/metric_catalog.h"
#include "common/base/grpc_status.h"
#include "common/base/log.h"
#include "common/base/time_util.h"
#include "common/base/utf8.h"
#include "common/summary/profile_builder.h"
#include "common/summary/summary_merge.h"
#include "common/summary/validation.h"
#include "grpcpp/grpcpp.h"

namespace aims::collector {
namespace {

// Longest range one GetSummaries call may cover, and most buckets it returns.
constexpr absl::Duration kMaxRange = absl::Hours(24 * 400);
constexpr int64_t kMaxBuckets = 10000;

std::string ModelKey(const v1::ModelInfo& m) {
  return absl::StrCat(m.model().name(), "\x1f", m.model().version(), "\x1f",
                      m.model().environment());
}
std::string AgentKey(const v1::AgentInfo& a) { return a.agent().agent_id(); }

// An agent is connected when it is connected to any collector.
bool MergeConnected(const v1::ModelInfo&, const v1::ModelInfo&) {
  return false;
}
bool MergeConnected(const v1::AgentInfo& a, const v1::AgentInfo& b) {
  return a.connected() || b.connected();
}
void SetConnected(v1::ModelInfo*, bool) {}
void SetConnected(v1::AgentInfo* a, bool connected) {
  a->set_connected(connected);
}

}  // namespace

QueryService::QueryService(
    std::string collector_id, Storage* storage, const Clock* clock,
    std::function<bool(const std::string&)> is_connected,
    const Authorizer* authorizer,
    std::function<void(const v1::ReferenceProfile&)> on_profile_replaced)
    : collector_id_(std::move(collector_id)),
      storage_(storage),
      clock_(clock),
      is_connected_(std::move(is_connected)),
      authorizer_(authorizer),
      on_profile_replaced_(std::move(on_profile_replaced)) {}

std::string QueryService::RouteTo(const v1::ModelRef& model,
                                  CallScope scope) const {
  if (router_ == nullptr || scope == CallScope::kCollector) return "";
  return router_->OwnerElsewhere(model.name());
}

template <typename Request, typename Response>
absl::Status QueryService::Forward(
    const std::string& address,
    grpc::Status (v1::QueryService::Stub::*call)(grpc::ClientContext*,
                                                 const Request&, Response*),
    const Request& request, Response* response) const {
  grpc::ClientContext context;
  router_->Prepare(&context);
  return FleetRouter::Answer(
      (router_->Stub(address)->*call)(&context, request, response),
      "the model's owner", address);
}

template <typename Request, typename Response, typename Entry>
void QueryService::MergeMembers(
    grpc::Status (v1::QueryService::Stub::*call)(grpc::ClientContext*,
                                                 const Request&, Response*),
    const Request& request,
    google::protobuf::RepeatedPtrField<Entry>* (Response::*entries)(),
    std::string (*key)(const Entry&), Response* response) const {
  if (router_ == nullptr) return;
  // key -> entry; an entry from its model's owner replaces any other.
  std::map<std::string, Entry> merged;
  for (Entry& e : *(response->*entries)()) merged[key(e)] = std::move(e);
  for (auto& [member, theirs] :
       router_->AskOthers(&FleetRouter::Stub, call, request,
                          response->mutable_unanswered_collectors())) {
    for (Entry& e : *(theirs.*entries)()) {
      auto [it, inserted] = merged.try_emplace(key(e), e);
      if (inserted) continue;
      const bool connected = MergeConnected(it->second, e);
      if (router_->OwnerElsewhere(e.model().name()) == member) {
        it->second = std::move(e);
      }
      SetConnected(&it->second, connected);
    }
  }
  (response->*entries)()->Clear();
  for (auto& [k, e] : merged) *(response->*entries)()->Add() = std::move(e);
}

absl::Status QueryService::ListModels(const v1::ListModelsRequest& request,
                                      v1::ListModelsResponse* response,
                                      CallScope scope) const {
  response->set_collector_id(collector_id_);
  for (v1::ModelInfo& m : storage_->ListModels(request.selector())) {
    *response->add_models() = std::move(m);
  }
  if (scope == CallScope::kFleet) {
    MergeMembers(&v1::QueryService::Stub::ListModels, request,
                 &v1::ListModelsResponse::mutable_models, &ModelKey, response);
  }
  return absl::OkStatus();
}

absl::Status QueryService::ListAgents(const v1::ListAgentsRequest& request,
                                      v1::ListAgentsResponse* response,
                                      CallScope scope) const {
  response->set_collector_id(collector_id_);
  for (v1::AgentInfo& a : storage_->ListAgents(request.selector())) {
    a.set_connected(is_connected_(a.agent().agent_id()));
    *response->add_agents() = std::move(a);
  }
  if (scope == CallScope::kFleet) {
    MergeMembers(&v1::QueryService::Stub::ListAgents, request,
                 &v1::ListAgentsResponse::mutable_agents, &AgentKey, response);
  }
  return absl::OkStatus();
}

absl::Status QueryService::GetSummaries(const v1::GetSummariesRequest& request,
                                        v1::GetSummariesResponse* response,
                                        CallScope scope) const {
  if (const std::string owner = RouteTo(request.model(), scope);
      !owner.empty()) {
    return Forward(owner, &v1::QueryService::Stub::GetSummaries, request,
                   response);
  }
  return MergeSummaries(request, SummaryMerger::FeatureSketches::kKeep,
                        response);
}

absl::Status QueryService::MergeSummaries(
    const v1::GetSummariesRequest& request,
    SummaryMerger::FeatureSketches sketches,
    v1::GetSummariesResponse* response) const {
  if (absl::Status s = ValidateModelRef(request.model()); !s.ok()) return s;
  const absl::Time from = FromProto(request.from());
  const absl::Time to = FromProto(request.to());
  if (!(to > from)) return absl::InvalidArgumentError("to: must be after from");
  if (to - from > kMaxRange) {
    return absl::InvalidArgumentError(absl::StrCat(
        "to: range exceeds the limit of ", absl::FormatDuration(kMaxRange)));
  }
  const absl::Duration step = request.has_step()
                                  ? FromProtoDuration(request.step())
                                  : absl::ZeroDuration();
  if (step < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("step: must not be negative");
  }
  if (step > absl::ZeroDuration() && (to - from) / step > kMaxBuckets) {
    return absl::InvalidArgumentError(absl::StrCat(
        "step: more than ", kMaxBuckets, " buckets; use a larger step"));
  }
  // Buckets are aligned to multiples of `step` since the Unix epoch (so the
  // same data gives the same buckets whatever `from` is); a report belongs
  // to the bucket holding its window start. Storage merges each bucket from
  // its rollups where whole rollup buckets fit.
  auto aligned = [&](absl::Time t) {
    return absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), step);
  };
  response->set_collector_id(collector_id_);
  absl::Time bucket_start = from;
  while (bucket_start < to) {
    const absl::Time bucket_end =
        step > absl::ZeroDuration() ? std::min(aligned(bucket_start) + step, to)
                                    : to;
    SummaryMerger merger(sketches);
    if (absl::Status s = storage_->MergeReports(request.model(), bucket_start,
                                                bucket_end, &merger, nullptr);
        !s.ok()) {
      return s;
    }
    if (merger.count() > 0) {
      v1::SummaryBucket* b = response->add_buckets();
      *b->mutable_start() = ToProto(bucket_start);
      *b->mutable_end() = ToProto(bucket_end);
      b->set_report_count(merger.count());
      *b->mutable_summary() = merger.result();
    }
    bucket_start = bucket_end;
  }
  return absl::OkStatus();
}

absl::Status QueryService::QueryMetrics(const v1::QueryMetricsRequest& request,
                                        v1::QueryMetricsResponse* response,
                                        CallScope scope) const {
  if (const std::string owner = RouteTo(request.model(), scope);
      !owner.empty()) {
    return Forward(owner, &v1::QueryService::Stub::QueryMetrics, request,
                   response);
  }
  for (const std::string& metric : request.metrics()) {
    if (FindMetric(metric) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics: unknown metric '", CutUtf8(metric, 64),
                       "'; known: ", absl::StrJoin(MetricNames(), ", ")));
    }
  }
  v1::GetSummariesRequest summaries_request;
  *summaries_request.mutable_model() = request.model();
  *summaries_request.mutable_from() = request.from();
  *summaries_request.mutable_to() = request.to();
  if (request.has_step()) *summaries_request.mutable_step() = request.step();
  v1::GetSummariesResponse summaries;
  if (absl::Status s = MergeSummaries(
          summaries_request, SummaryMerger::FeatureSketches::kDrop, &summaries);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<v1::ReferenceProfile> profile =
      storage_->GetProfile(request.model());
  const bool has_profile = profile.ok();
  response->set_collector_id(collector_id_);
  for (const v1::SummaryBucket& bucket : summaries.buckets()) {
    std::vector<v1::MetricValue> values =
        MetricsOf(bucket.summary(), has_profile ? &*profile : nullptr,
                  FromProto(bucket.end()) - FromProto(bucket.start()));
    v1::MetricPoint* point = response->add_points();
    *point->mutable_start() = bucket.start();
    *point->mutable_end() = bucket.end();
    const v1::OperationalSummary& op = bucket.summary().operational();
    point->set_event_count(op.event_count());
    point->set_backfilled_events(op.backfilled_events());
    for (v1::MetricValue& v : values) {
      if (request.metrics_size() > 0 &&
          std::find(request.metrics().begin(), request.metrics().end(),
                    v.metric()) == request.metrics().end()) {
        continue;
      }
      *point->add_values() = std::move(v);
    }
  }
  return absl::OkStatus();
}

absl::Status QueryService::GetProfile(const v1::GetProfileRequest& request,
                                      v1::ReferenceProfile* response,
                                      CallScope scope) const {
  if (const std::string owner = RouteTo(request.model(), scope);
      !owner.empty()) {
    return Forward(owner, &v1::QueryService::Stub::GetProfile, request,
                   response);
  }
  absl::StatusOr<v1::ReferenceProfile> profile =
      storage_->GetProfile(request.model());
  if (!profile.ok()) return profile.status();
  *response = std::move(*profile);
  return absl::OkStatus();
}

absl::Status QueryService::PutProfile(const v1::PutProfileRequest& request,
                                      v1::PutProfileResponse* response,
                                      CallScope scope) {
  // The owner stores it (and copies it to its peer) and pushes it to the
  // model's agents, which report there.
  if (const std::string owner = RouteTo(request.profile().model(), scope);
      !owner.empty()) {
    return Forward(owner, &v1::QueryService::Stub::PutProfile, request,
                   response);
  }
  v1::ReferenceProfile profile = request.profile();
  // One profile per version serves every environment.
  if (profile.model().environment().empty()) {
    profile.mutable_model()->set_environment("any");
  }
  if (absl::Status s = ValidateProfile(profile); !s.ok()) return s;
  profile.set_profile_id(ComputeProfileId(profile));
  *profile.mutable_stored_at() = ToProto(clock_->Now());
  // A stored profile is kept unless replacing is asked for: agents bin
  // with it, and drift is judged against it.
  bool created = false;
  absl::StatusOr<v1::ReferenceProfile> stored =
      storage_->PutProfile(profile, /*if_absent=*/true, &created);
  if (!stored.ok()) return stored.status();
  const bool differs = stored->profile_id() != profile.profile_id();
  if (!created && differs && !request.if_absent()) {
    if (!request.replace()) {
      return absl::AlreadyExistsError(
          absl::StrCat("model ", profile.model().name(), " version ",
                       profile.model().version(), " already has profile ",
                       stored->profile_id(),
                       "; pass --replace (PutProfileRequest.replace) "
                       "to replace it with ",
                       profile.profile_id(),
                       " (connected agents then bin with the new one)"));
    }
    stored = storage_->PutProfile(profile, /*if_absent=*/false, &created);
    if (!stored.ok()) return stored.status();
    LogInfo("reference profile replaced",
            {{"model", profile.model().name()},
             {"version", profile.model().version()},
             {"profile_id", profile.profile_id()}});
  }
  // Agents already connected bin with it from now on, not only after
  // their next reconnect.
  if (created && on_profile_replaced_) on_profile_replaced_(*stored);
  response->set_profile_id(stored->profile_id());
  *response->mutable_profile() = std::move(*stored);
  response->set_created(created);
  return absl::OkStatus();
}

// gRPC: each RPC runs the query inline (reads are short) and finishes.
#define AIMS_UNARY(Method, Request, Response, Needs)                     \
  grpc::ServerUnaryReactor* QueryService::Method(                        \
      grpc::CallbackServerContext* context, const v1::Request* request,  \
      v1::Response* response) {                                          \
    auto* reactor = context->DefaultReactor();                           \
    absl::StatusOr<Principal> principal =                                \
        AuthorizeCall(*authorizer_, *context, Permission::Needs);        \
    reactor->Finish(ToGrpcStatus(                                        \
        principal.ok()                                                   \
            ? Method(*request, response, FleetRouter::ScopeOf(*context)) \
            : principal.status()));                                      \
    return reactor;                                                      \
  }

AIMS_UNARY(ListModels, ListModelsRequest, ListModelsResponse, kRead)
AIMS_UNARY(ListAgents, ListAgentsRequest, ListAgentsResponse, kRead)
AIMS_UNARY(GetSummaries, GetSummariesRequest, GetSummariesResponse, kRead)
AIMS_UNARY(QueryMetrics, QueryMetricsRequest, QueryMetricsResponse, kRead)
AIMS_UNARY(GetProfile, GetProfileRequest, ReferenceProfile, kRead)

#undef AIMS_UNARY

// Admins store profiles; an agent may propose its first-events reference
// for a model it reports (if_absent: it never replaces a profile).
grpc::ServerUnaryReactor* QueryService::PutProfile(
    grpc::CallbackServerContext* context, const v1::PutProfileRequest* request,
    v1::PutProfileResponse* response) {
  auto* reactor = context->DefaultReactor();
  const std::string authorization = AuthorizationOf(*context);
  absl::StatusOr<Principal> principal =
      authorizer_->Authenticate(authorization);
  absl::Status allowed = principal.status();
  if (principal.ok() && principal->authenticated &&
      principal->role == Role::kAgent && request->if_absent()) {
    allowed = authorizer_->CheckModel(*principal, request->profile().model());
  } else {
    allowed =
        authorizer_->Authorize(authorization, Permission::kAdminister).status();
  }
  reactor->Finish(ToGrpcStatus(
      allowed.ok()
          ? PutProfile(*request, response, FleetRouter::ScopeOf(*context))
          : allowed));
  return reactor;
}

}  // namespace aims::collector
