#include "agent/intake_service.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace aims::agent {

IntakeService::IntakeService(AgentMetrics* metrics, EventLimits limits,
                             size_t max_events_per_call, size_t max_in_flight,
                             const std::atomic<bool>* accepting,
                             AcceptEvents accept_events,
                             AcceptLabels accept_labels)
    : metrics_(metrics),
      limits_(limits),
      max_events_per_call_(max_events_per_call),
      max_in_flight_(max_in_flight),
      accepting_(accepting),
      accept_events_(std::move(accept_events)),
      accept_labels_(std::move(accept_labels)) {}

grpc::ServerUnaryReactor* IntakeService::Refuse(
    grpc::CallbackServerContext* context, int items) {
  // DefaultReactor() only when refusing: an admitted call takes it once
  // more to finish, and a second DefaultReactor() is an error (an assert in
  // builds without NDEBUG).
  if (!accepting_->load()) {
    auto* reactor = context->DefaultReactor();
    metrics_->requests_shutting_down.Increment();
    reactor->Finish(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "agent is shutting down"));
    return reactor;
  }
  if (static_cast<size_t>(items) > max_events_per_call_) {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                     absl::StrCat("items: ", items, " in one call, limit ",
                                  max_events_per_call_)));
    return reactor;
  }
  if (in_flight_.fetch_add(1) >= max_in_flight_) {
    in_flight_.fetch_sub(1);
    metrics_->requests_overloaded.Increment();
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("agent intake busy (", max_in_flight_,
                     " calls in flight); retry after a short pause")));
    return reactor;
  }
  return nullptr;
}

namespace {

void AddError(v1::SubmitResponse* response, int index, const std::string& field,
              const std::string& reason) {
  v1::ItemError* e = response->add_errors();
  e->set_index(static_cast<uint32_t>(index));
  e->set_field(field);
  e->set_reason(reason);
}

}  // namespace

grpc::ServerUnaryReactor* IntakeService::SubmitEvents(
    grpc::CallbackServerContext* context,
    const v1::SubmitEventsRequest* request, v1::SubmitResponse* response) {
  if (auto* refused = Refuse(context, request->events_size())) return refused;
  std::vector<Event> events;
  events.reserve(request->events_size());
  for (int i = 0; i < request->events_size(); ++i) {
    Event event;
    EventError error;
    if (EventFromProto(request->events(i), limits_, &event, &error)) {
      events.push_back(std::move(event));
    } else {
      AddError(response, i, error.field, error.reason);
    }
  }
  accept_events_(events, response->errors_size());
  response->set_accepted(static_cast<uint32_t>(events.size()));
  response->set_rejected(static_cast<uint32_t>(response->errors_size()));
  Release();
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* IntakeService::SubmitLabels(
    grpc::CallbackServerContext* context,
    const v1::SubmitLabelsRequest* request, v1::SubmitResponse* response) {
  if (auto* refused = Refuse(context, request->labels_size())) return refused;
  std::vector<LabelEvent> labels;
  for (int i = 0; i < request->labels_size(); ++i) {
    const v1::LabelEvent& in = request->labels(i);
    LabelEvent label;
    label.prediction_id = in.prediction_id();
    if (in.label().value_case() == v1::Outcome::kClassLabel) {
      label.label.kind = Outcome::Kind::kClass;
      label.label.class_label = in.label().class_label();
    } else if (in.label().value_case() == v1::Outcome::kNumber) {
      label.label.kind = Outcome::Kind::kNumber;
      label.label.number = in.label().number();
    }
    if (label.prediction_id.empty()) {
      AddError(response, i, "prediction_id", "required");
    } else if (label.prediction_id.size() > limits_.max_prediction_id_bytes) {
      AddError(response, i, "prediction_id",
               absl::StrCat("is ", label.prediction_id.size(), " bytes, limit ",
                            limits_.max_prediction_id_bytes));
    } else if (!label.label.present()) {
      AddError(response, i, "label", "required");
    } else if (label.label.kind == Outcome::Kind::kNumber &&
               !std::isfinite(label.label.number)) {
      AddError(response, i, "label", "must be finite");
    } else {
      labels.push_back(std::move(label));
    }
  }
  accept_labels_(labels, response->errors_size());
  response->set_accepted(static_cast<uint32_t>(labels.size()));
  response->set_rejected(static_cast<uint32_t>(response->errors_size()));
  Release();
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace aims::agent
