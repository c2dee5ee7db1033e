// LabelService: delayed labels posted to the collector's central label join
// (aims.v1.LabelService.SubmitLabels over gRPC, and
// POST /v1/labels?model=<name>&environment=<env> on the HTTP listener with
// the body of the agent's POST /v1/labels: a JSON array, one object, or
// JSON lines of {"prediction_id", "label", optional "timestamp"}).
//
// A batch is answered as the agent answers it, by the same code
// (common/intake/proto_intake.h, event_json.h): an empty batch is refused
// ("labels: an empty batch"), more than --max_labels_per_batch labels is a
// LimitError naming that flag; each label is checked as at the agent
// (prediction_id 1..128 bytes, a finite label, a timestamp at most 5
// minutes ahead, a prediction_id repeated in one request refused) and
// unknown fields are warnings. The valid labels are durable in the join
// before the answer, which names each refused item by index, field and
// reason (SubmitResponse; HTTP 400 when none was accepted). A storage
// failure is UNAVAILABLE (HTTP 503 with Retry-After: 1). Refusals by a
// limit are counted by name (OnLimit). Needs the "label" permission (agent
// tokens for their own models, admin).
//
// Thread-safety: safe; LabelJoin serialises the writes.
#ifndef AIMS_COLLECTOR_API_LABEL_SERVICE_H_
#define AIMS_COLLECTOR_API_LABEL_SERVICE_H_

#include <functional>
#include <string>

#include "aims/v1/labels.grpc.pb.h"
#include "collector/auth/authorizer.h"
#include "collector/auth/sessions.h"
#include "collector/labels/label_join.h"
#include "common/base/clock.h"
#include "common/net/http_server.h"
#include "common/summary/event.h"

namespace aims::collector {

class LabelService final : public v1::LabelService::CallbackService {
 public:
  // Called with a limit's name (LimitName) for each refusal by a limit:
  // aims_collector_limit_rejections_total{limit}.
  using OnLimit = std::function<void(const std::string& limit)>;

  // `max_labels_per_batch`: --max_labels_per_batch.
  LabelService(LabelJoin* join, const Authorizer* authorizer,
               const Clock* clock, size_t max_labels_per_batch,
               OnLimit on_limit = nullptr);

  grpc::ServerUnaryReactor* SubmitLabels(
      grpc::CallbackServerContext* context,
      const v1::SubmitModelLabelsRequest* request,
      v1::SubmitResponse* response) override;

  // Both transports: screens `batch` (parsed labels, with the errors found
  // so far), stores the valid labels for `model` and fills `response`.
  // INVALID_ARGUMENT without a model name; storage errors as they are.
  absl::Status Submit(const v1::ModelRef& model, LabelBatch* batch,
                      v1::SubmitResponse* response);

  // POST /v1/labels.
  void RegisterHttp(HttpServer& server, SessionStore* sessions);

 private:
  // `s`, its limit (if any) counted.
  absl::Status Counted(absl::Status s) const;

  LabelJoin* const join_;
  const Authorizer* const authorizer_;
  const Clock* const clock_;
  const size_t max_labels_per_batch_;
  const OnLimit on_limit_;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_API_LABEL_SERVICE_H_
