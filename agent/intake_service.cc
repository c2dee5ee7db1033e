#include "agent/intake_service.h"

#include "absl/strings/str_cat.h"

namespace aims::agent {

IntakeService::IntakeService(Windower* windower, AgentMetrics* metrics,
                             EventLimits limits, size_t max_events_per_call,
                             size_t max_in_flight,
                             const std::atomic<bool>* accepting)
    : windower_(windower),
      metrics_(metrics),
      limits_(limits),
      max_events_per_call_(max_events_per_call),
      max_in_flight_(max_in_flight),
      accepting_(accepting) {}

grpc::ServerUnaryReactor* IntakeService::SubmitEvents(
    grpc::CallbackServerContext* context,
    const v1::SubmitEventsRequest* request, v1::SubmitResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (!accepting_->load()) {
    metrics_->requests_shutting_down.Increment();
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                 "agent is shutting down"));
    return reactor;
  }
  if (in_flight_.fetch_add(1) >= max_in_flight_) {
    in_flight_.fetch_sub(1);
    metrics_->requests_overloaded.Increment();
    reactor->Finish(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("agent intake busy (", max_in_flight_,
                     " calls in flight); retry after a short pause")));
    return reactor;
  }
  if (static_cast<size_t>(request->events_size()) > max_events_per_call_) {
    in_flight_.fetch_sub(1);
    reactor->Finish(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("events: ", request->events_size(), " events, limit ",
                     max_events_per_call_, " per call")));
    return reactor;
  }
  std::vector<Event> events;
  events.reserve(request->events_size());
  for (int i = 0; i < request->events_size(); ++i) {
    Event event;
    EventError error;
    if (EventFromProto(request->events(i), limits_, &event, &error)) {
      events.push_back(std::move(event));
    } else {
      v1::ItemError* e = response->add_errors();
      e->set_index(static_cast<uint32_t>(i));
      e->set_field(error.field);
      e->set_reason(error.reason);
    }
  }
  windower_->Add(events);
  if (response->errors_size() > 0) {
    windower_->CountRejected("malformed", response->errors_size());
  }
  response->set_accepted(static_cast<uint32_t>(events.size()));
  response->set_rejected(static_cast<uint32_t>(response->errors_size()));
  metrics_->events_accepted.Increment(static_cast<double>(events.size()));
  metrics_->events_rejected.Increment(response->errors_size());
  in_flight_.fetch_sub(1);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace aims::agent
