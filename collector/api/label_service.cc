#include "collector/api/label_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/grpc_status.h"
#include "common/base/limit_error.h"
#include "common/base/proto_json.h"
#include "common/intake/event_json.h"
#include "common/intake/proto_intake.h"
#include "common/net/bearer_token.h"

namespace aims::collector {
namespace {

// An agent token labels only the models it may report.
absl::Status Allowed(const Authorizer& authorizer,
                     const absl::StatusOr<Principal>& principal,
                     const v1::ModelRef& model) {
  if (!principal.ok()) return principal.status();
  if (principal->authenticated && principal->role == Role::kAgent) {
    return authorizer.CheckModel(*principal, model);
  }
  return absl::OkStatus();
}

constexpr absl::string_view kMaxLabelsFlag = "--max_labels_per_batch";

// The collector checks labels against the agent's default limits, which no
// collector flag changes: its errors name no flag.
EventLimits CollectorLimits() {
  EventLimits limits;
  limits.owner = EventLimits::Owner::kCollector;
  return limits;
}

}  // namespace

LabelService::LabelService(LabelJoin* join, const Authorizer* authorizer,
                           const Clock* clock, size_t max_labels_per_batch,
                           OnLimit on_limit)
    : join_(join),
      authorizer_(authorizer),
      clock_(clock),
      max_labels_per_batch_(max_labels_per_batch),
      on_limit_(std::move(on_limit)) {}

absl::Status LabelService::Counted(absl::Status s) const {
  if (const std::string limit = LimitOf(s); !limit.empty() && on_limit_) {
    on_limit_(limit);
  }
  return s;
}

absl::Status LabelService::Forward(const std::string& owner,
                                   const v1::ModelRef& model,
                                   const LabelBatch& batch, absl::Time now,
                                   v1::SubmitResponse* response) const {
  v1::SubmitModelLabelsRequest request;
  request.set_model(model.name());
  request.set_environment(model.environment());
  for (const LabelEvent& label : batch.labels) {
    *request.add_labels() = LabelToProto(label, now);
  }
  v1::SubmitResponse theirs;
  grpc::ClientContext context;
  router_->Prepare(&context);
  if (absl::Status s = FleetRouter::Answer(
          router_->LabelStub(owner)->SubmitLabels(&context, request, &theirs),
          "the model's owner", owner);
      !s.ok()) {
    return s;
  }
  // The owner's refusals name positions in what was sent.
  std::vector<EventError> errors = batch.errors;
  for (const v1::ItemError& e : theirs.errors()) {
    EventError error;
    error.index =
        e.index() < batch.indices.size() ? batch.indices[e.index()] : e.index();
    error.field = e.field();
    error.reason = e.reason();
    errors.push_back(std::move(error));
  }
  FillSubmitResponse(theirs.accepted(), errors, batch.warnings, response);
  return absl::OkStatus();
}

absl::Status LabelService::Submit(const v1::ModelRef& model, LabelBatch* batch,
                                  v1::SubmitResponse* response,
                                  CallScope scope) {
  if (model.name().empty()) {
    return absl::InvalidArgumentError(
        "model: required (the model name the labels' predictions belong "
        "to)");
  }
  const absl::Time now = clock_->Now();
  ScreenLabels(batch, now, CollectorLimits());
  if (on_limit_) {
    for (const EventError& e : batch->errors) {
      if (!e.limit.empty()) on_limit_(e.limit);
    }
  }
  if (router_ != nullptr && scope == CallScope::kFleet &&
      !batch->labels.empty()) {
    if (const std::string owner = router_->OwnerElsewhere(model.name());
        !owner.empty()) {
      return Forward(owner, model, *batch, now, response);
    }
  }
  if (!batch->labels.empty()) {
    if (absl::Status s = join_->Submit(model, batch->labels, now); !s.ok()) {
      return s;
    }
    if (on_stored_) on_stored_(model, batch->labels, now);
  }
  FillSubmitResponse(batch->labels.size(), batch->errors, batch->warnings,
                     response);
  return absl::OkStatus();
}

absl::StatusOr<size_t> LabelService::StoreCopies(
    const v1::ModelRef& model,
    const google::protobuf::RepeatedPtrField<v1::LabelEvent>& labels,
    absl::Time now) {
  LabelBatch batch = LabelBatchFromProto(labels, CollectorLimits());
  if (batch.labels.empty()) return 0;
  if (absl::Status s = join_->Submit(model, batch.labels, now); !s.ok()) {
    return s;
  }
  return batch.labels.size();
}

grpc::ServerUnaryReactor* LabelService::SubmitLabels(
    grpc::CallbackServerContext* context,
    const v1::SubmitModelLabelsRequest* request, v1::SubmitResponse* response) {
  auto* reactor = context->DefaultReactor();
  v1::ModelRef model;
  model.set_name(request->model());
  model.set_environment(
      request->environment().empty() ? "default" : request->environment());
  absl::Status s =
      Allowed(*authorizer_,
              AuthorizeCall(*authorizer_, *context, Permission::kLabel), model);
  if (s.ok()) {
    s = Counted(CheckBatchSize("labels",
                               static_cast<size_t>(request->labels_size()),
                               max_labels_per_batch_, kMaxLabelsFlag));
  }
  if (s.ok()) {
    LabelBatch batch =
        LabelBatchFromProto(request->labels(), CollectorLimits());
    s = Submit(model, &batch, response, FleetRouter::ScopeOf(*context));
  }
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

void LabelService::RegisterHttp(HttpServer& server, SessionStore* sessions) {
  server.Handle(
      "POST", "/v1/labels", RouteBudget::kWork,
      [this, sessions](const HttpRequest& req, HttpResponse& res) {
        v1::ModelRef model;
        model.set_name(req.Param("model"));
        const std::string env = req.Param("environment");
        model.set_environment(env.empty() ? "default" : env);
        absl::Status s = Allowed(
            *authorizer_,
            AuthorizeHttp(*authorizer_, sessions, req, Permission::kLabel),
            model);
        LabelBatch batch;
        if (s.ok()) {
          JsonIntakeLimits limits;
          limits.event = CollectorLimits();
          limits.max_events_per_batch = max_labels_per_batch_;
          limits.max_batch_flag = kMaxLabelsFlag;
          s = Counted(ParseLabelBatch(req.body, limits, &batch));
        }
        v1::SubmitResponse response;
        if (s.ok()) s = Submit(model, &batch, &response);
        if (!s.ok()) {
          res.SetError(s);
          if (res.status == 401) res.SetHeader("WWW-Authenticate", "Bearer");
          // Storage busy or failing: the client retries, as at the agent.
          if (res.status == 503) res.SetHeader("Retry-After", "1");
          return;
        }
        res.status =
            response.accepted() == 0 && response.rejected() > 0 ? 400 : 200;
        res.SetContent(ProtoToJson(response) + "\n", "application/json");
      });
}

}  // namespace aims::collector
