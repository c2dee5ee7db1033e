#include "collector/api/label_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/grpc_status.h"
#include "common/base/proto_json.h"
#include "common/intake/event_json.h"
#include "common/net/bearer_token.h"

namespace aims::collector {
namespace {

void AddItems(const std::vector<EventError>& from,
              google::protobuf::RepeatedPtrField<v1::ItemError>* to) {
  for (const EventError& e : from) {
    if (to->size() >= static_cast<int>(kMaxWarnings)) break;
    v1::ItemError* item = to->Add();
    item->set_index(static_cast<uint32_t>(e.index));
    item->set_field(e.field);
    item->set_reason(e.reason);
  }
}

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

}  // namespace

LabelService::LabelService(LabelJoin* join, const Authorizer* authorizer,
                           const Clock* clock)
    : join_(join), authorizer_(authorizer), clock_(clock) {}

absl::Status LabelService::Submit(const v1::ModelRef& model, LabelBatch* batch,
                                  v1::SubmitResponse* response) {
  if (model.name().empty()) {
    return absl::InvalidArgumentError(
        "model: required (the model name the labels' predictions belong "
        "to)");
  }
  const absl::Time now = clock_->Now();
  ScreenLabels(batch, now, EventLimits());
  if (!batch->labels.empty()) {
    if (absl::Status s = join_->Submit(model, batch->labels, now); !s.ok()) {
      return s;
    }
  }
  response->set_accepted(static_cast<uint32_t>(batch->labels.size()));
  response->set_rejected(static_cast<uint32_t>(batch->errors.size()));
  AddItems(batch->errors, response->mutable_errors());
  AddItems(batch->warnings, response->mutable_warnings());
  return absl::OkStatus();
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
  if (s.ok() &&
      static_cast<size_t>(request->labels_size()) > kMaxLabelsPerCall) {
    s = absl::InvalidArgumentError(
        absl::StrCat("labels: ", request->labels_size(), " labels, limit ",
                     kMaxLabelsPerCall, " per call"));
  }
  if (s.ok()) {
    LabelBatch batch;
    const EventLimits limits;
    for (int i = 0; i < request->labels_size(); ++i) {
      LabelEvent label;
      EventError error;
      if (LabelFromProto(request->labels(i), limits, &label, &error)) {
        batch.labels.push_back(std::move(label));
        batch.indices.push_back(static_cast<size_t>(i));
      } else {
        error.index = static_cast<size_t>(i);
        batch.errors.push_back(std::move(error));
      }
    }
    s = Submit(model, &batch, response);
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
          limits.max_events_per_batch = kMaxLabelsPerCall;
          s = ParseLabelBatch(req.body, limits, &batch);
        }
        v1::SubmitResponse response;
        if (s.ok()) s = Submit(model, &batch, &response);
        if (!s.ok()) {
          res.SetError(s);
          if (res.status == 401) res.SetHeader("WWW-Authenticate", "Bearer");
          return;
        }
        res.status =
            response.accepted() == 0 && response.rejected() > 0 ? 400 : 200;
        res.SetContent(ProtoToJson(response) + "\n", "application/json");
      });
}

}  // namespace aims::collector
