// IntakeService: the agent's localhost gRPC intake (aims.v1.AgentIntakeService)
// for high-rate model servers. Each request is converted into a batch that
// goes to the same place as the HTTP intake's (the callbacks, which may
// refuse more items); each refused item gets an ItemError (index, field,
// reason) and each unknown field a warning.
//
// Size: a request over `max_message_bytes` (--max_body_bytes) is refused
// with RESOURCE_EXHAUSTED naming the flag and counted; gRPC's transport cap
// is twice that (TransportMessageCap in common/base/limit_error.h).
//
// Backpressure: at most `max_in_flight` calls are processed at once; beyond
// that a call is answered RESOURCE_EXHAUSTED at once (retry after a pause),
// so a flood never blocks the model server or grows memory.
//
// Thread-safety: safe; calls run on gRPC threads.
#ifndef AIMS_AGENT_INTAKE_SERVICE_H_
#define AIMS_AGENT_INTAKE_SERVICE_H_

#include <atomic>
#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "agent/agent_metrics.h"
#include "aims/v1/event.grpc.pb.h"
#include "common/intake/proto_intake.h"
#include "common/summary/event.h"
#include "grpcpp/support/message_allocator.h"

namespace aims::agent {

class IntakeService final : public v1::AgentIntakeService::CallbackService {
 public:
  // Take a parsed batch; `request` is the call's message serialized (for
  // the agent's intake log). A refusal of the whole batch is the call's
  // status.
  using AcceptEvents =
      std::function<absl::Status(EventBatch*, absl::string_view request)>;
  using AcceptLabels = std::function<absl::Status(LabelBatch*)>;

  IntakeService(AgentMetrics* metrics, EventLimits limits,
                size_t max_events_per_call, size_t max_message_bytes,
                size_t max_in_flight, const std::atomic<bool>* accepting,
                std::string token_sha256, AcceptEvents accept_events,
                AcceptLabels accept_labels);

  grpc::ServerUnaryReactor* SubmitEvents(grpc::CallbackServerContext* context,
                                         const v1::SubmitEventsRequest* request,
                                         v1::SubmitResponse* response) override;
  grpc::ServerUnaryReactor* SubmitLabels(grpc::CallbackServerContext* context,
                                         const v1::SubmitLabelsRequest* request,
                                         v1::SubmitResponse* response) override;

 private:
  // Admission: unauthenticated, shutting down, `bytes` too large, too many
  // `what` items, or busy; nullptr when admitted (the caller must call
  // Release()).
  grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* context,
                                   const char* what, int items, size_t bytes);
  void Release() { in_flight_.fetch_sub(1); }

  // Each SubmitEvents call's request and response live on an arena of
  // their own: a batch's hundreds of map entries (features, attributes)
  // are allocated in a few blocks and freed at once, not one by one.
  class ArenaAllocator final
      : public grpc::MessageAllocator<v1::SubmitEventsRequest,
                                      v1::SubmitResponse> {
   public:
    grpc::MessageHolder<v1::SubmitEventsRequest, v1::SubmitResponse>*
    AllocateMessages() override;
  };

  ArenaAllocator allocator_;
  AgentMetrics* const metrics_;
  const EventLimits limits_;
  const size_t max_events_per_call_;
  const size_t max_message_bytes_;
  const size_t max_in_flight_;
  const std::atomic<bool>* const accepting_;
  const std::string token_sha256_;  // empty: no token required
  const AcceptEvents accept_events_;
  const AcceptLabels accept_labels_;
  std::atomic<size_t> in_flight_{0};
};

// The events of `request` converted and validated as the gRPC intake does
// (refused ones in errors, unknown fields in warnings).
EventBatch EventBatchFromProto(const v1::SubmitEventsRequest& request,
                               const EventLimits& limits);

}  // namespace aims::agent

#endif  // AIMS_AGENT_INTAKE_SERVICE_H_
