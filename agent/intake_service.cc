#include "agent/intake_service.h"

#include "absl/strings/str_cat.h"
#include "common/base/limit_error.h"
#include "common/net/bearer_token.h"

namespace aims::agent {

namespace {

class ArenaHolder final
    : public grpc::MessageHolder<v1::SubmitEventsRequest, v1::SubmitResponse> {
 public:
  ArenaHolder() : arena_(Options()) {
    set_request(google::protobuf::Arena::CreateMessage<v1::SubmitEventsRequest>(
        &arena_));
    set_response(
        google::protobuf::Arena::CreateMessage<v1::SubmitResponse>(&arena_));
  }
  void Release() override { delete this; }

 private:
  static google::protobuf::ArenaOptions Options() {
    google::protobuf::ArenaOptions options;
    options.start_block_size = 4096;
    options.max_block_size = 256 << 10;
    return options;
  }
  google::protobuf::Arena arena_;
};

}  // namespace

grpc::MessageHolder<v1::SubmitEventsRequest, v1::SubmitResponse>*
IntakeService::ArenaAllocator::AllocateMessages() {
  return new ArenaHolder();
}

IntakeService::IntakeService(AgentMetrics* metrics, EventLimits limits,
                             size_t max_events_per_call,
                             size_t max_message_bytes, size_t max_in_flight,
                             const std::atomic<bool>* accepting,
                             std::string token_sha256,
                             AcceptEvents accept_events,
                             AcceptLabels accept_labels)
    : metrics_(metrics),
      limits_(limits),
      max_events_per_call_(max_events_per_call),
      max_message_bytes_(max_message_bytes),
      max_in_flight_(max_in_flight),
      accepting_(accepting),
      token_sha256_(std::move(token_sha256)),
      accept_events_(std::move(accept_events)),
      accept_labels_(std::move(accept_labels)) {
  SetMessageAllocatorFor_SubmitEvents(&allocator_);
}

grpc::ServerUnaryReactor* IntakeService::Refuse(
    grpc::CallbackServerContext* context, const char* what, int items,
    size_t bytes) {
  // DefaultReactor() only when refusing: an admitted call takes it once
  // more to finish, and a second DefaultReactor() is an error (an assert in
  // builds without NDEBUG).
  if (absl::Status s =
          CheckBearerToken(AuthorizationOf(*context), token_sha256_);
      !s.ok()) {
    auto* reactor = context->DefaultReactor();
    metrics_->requests_unauthenticated.Increment();
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                 std::string(s.message())));
    return reactor;
  }
  if (!accepting_->load()) {
    auto* reactor = context->DefaultReactor();
    metrics_->requests_shutting_down.Increment();
    reactor->Finish(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "agent is shutting down"));
    return reactor;
  }
  if (bytes > max_message_bytes_) {
    const absl::Status refused =
        LimitError("message", absl::StrCat(bytes, " bytes"),
                   absl::StrCat(max_message_bytes_), "--max_body_bytes");
    metrics_->LimitRejected(LimitOf(refused));
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 std::string(refused.message())));
    return reactor;
  }
  if (absl::Status refused =
          CheckBatchSize(what, static_cast<size_t>(items), max_events_per_call_,
                         "--max_events_per_batch");
      !refused.ok()) {
    if (const std::string limit = LimitOf(refused); !limit.empty()) {
      metrics_->LimitRejected(limit);
    } else {
      metrics_->requests_bad.Increment();
    }
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 std::string(refused.message())));
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

template <typename Batch>
void Respond(const Batch& batch, size_t accepted,
             v1::SubmitResponse* response) {
  FillSubmitResponse(accepted, batch.errors, batch.warnings, response);
}

}  // namespace

EventBatch EventBatchFromProto(const v1::SubmitEventsRequest& request,
                               const EventLimits& limits) {
  EventBatch batch;
  batch.events.reserve(request.events_size());
  for (int i = 0; i < request.events_size(); ++i) {
    Event event;
    EventError error;
    if (EventFromProto(request.events(i), limits, &event, &error)) {
      batch.events.push_back(std::move(event));
      batch.indices.push_back(i);
    } else {
      error.index = i;
      batch.errors.push_back(std::move(error));
    }
    NoteUnknownFields(request.events(i), i, &batch.warnings,
                      &batch.unknown_fields);
  }
  return batch;
}

grpc::ServerUnaryReactor* IntakeService::SubmitEvents(
    grpc::CallbackServerContext* context,
    const v1::SubmitEventsRequest* request, v1::SubmitResponse* response) {
  if (auto* refused = Refuse(context, "events", request->events_size(),
                             request->ByteSizeLong())) {
    return refused;
  }
  EventBatch batch = EventBatchFromProto(*request, limits_);
  const absl::Status kept =
      accept_events_(&batch, request->SerializeAsString());
  if (kept.ok()) Respond(batch, batch.events.size(), response);
  Release();
  auto* reactor = context->DefaultReactor();
  reactor->Finish(kept.ok() ? grpc::Status::OK
                            : grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                           std::string(kept.message())));
  return reactor;
}

grpc::ServerUnaryReactor* IntakeService::SubmitLabels(
    grpc::CallbackServerContext* context,
    const v1::SubmitLabelsRequest* request, v1::SubmitResponse* response) {
  if (auto* refused = Refuse(context, "labels", request->labels_size(),
                             request->ByteSizeLong())) {
    return refused;
  }
  LabelBatch batch = LabelBatchFromProto(request->labels(), limits_);
  const absl::Status kept = accept_labels_(&batch);
  if (kept.ok()) Respond(batch, batch.labels.size(), response);
  Release();
  auto* reactor = context->DefaultReactor();
  reactor->Finish(kept.ok() ? grpc::Status::OK
                            : grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                           std::string(kept.message())));
  return reactor;
}

}  // namespace aims::agent
