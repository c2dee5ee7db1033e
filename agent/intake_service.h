// IntakeService: the agent's localhost gRPC intake (aims.v1.AgentIntakeService)
// for high-rate model servers. Each valid event goes to the same windower as
// the HTTP intake; each invalid one gets an ItemError (index, field, reason).
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

#include "aims/v1/event.grpc.pb.h"
#include "agent/agent_metrics.h"
#include "agent/windower.h"
#include "common/event.h"

namespace aims::agent {

class IntakeService final : public v1::AgentIntakeService::CallbackService {
 public:
  IntakeService(Windower* windower, AgentMetrics* metrics, EventLimits limits,
                size_t max_events_per_call, size_t max_in_flight,
                const std::atomic<bool>* accepting);

  grpc::ServerUnaryReactor* SubmitEvents(
      grpc::CallbackServerContext* context,
      const v1::SubmitEventsRequest* request,
      v1::SubmitResponse* response) override;

 private:
  Windower* const windower_;
  AgentMetrics* const metrics_;
  const EventLimits limits_;
  const size_t max_events_per_call_;
  const size_t max_in_flight_;
  const std::atomic<bool>* const accepting_;
  std::atomic<size_t> in_flight_{0};
};

}  // namespace aims::agent

#endif  // AIMS_AGENT_INTAKE_SERVICE_H_
