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
// Fleet mode (SetRouter): labels posted for a model another collector
// owns are forwarded to the owner, which holds the model's join records
// (fleet_router.h); the answer is the owner's, with this collector's
// refusals. An owner that does not answer is UNAVAILABLE naming it (the
// client retries). Labels stored here are passed to `on_stored`, which
// copies them to the model's peer collector.
//
// Thread-safety: safe; LabelJoin serialises the writes.
#ifndef AIMS_COLLECTOR_API_LABEL_SERVICE_H_
#define AIMS_COLLECTOR_API_LABEL_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "aims/v1/labels.grpc.pb.h"
#include "collector/api/fleet_router.h"
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

  // Fleet mode: `router` (not owned) sends labels to their model's owner;
  // `on_stored` receives the labels stored here. Call before serving.
  using OnStored = std::function<void(const v1::ModelRef& model,
                                      const std::vector<LabelEvent>& labels,
                                      absl::Time now)>;
  void SetRouter(FleetRouter* router, OnStored on_stored) {
    router_ = router;
    on_stored_ = std::move(on_stored);
  }

  grpc::ServerUnaryReactor* SubmitLabels(
      grpc::CallbackServerContext* context,
      const v1::SubmitModelLabelsRequest* request,
      v1::SubmitResponse* response) override;

  // Both transports: screens `batch` (parsed labels, with the errors found
  // so far), stores the valid labels for `model` and fills `response`.
  // INVALID_ARGUMENT without a model name; storage errors as they are.
  absl::Status Submit(const v1::ModelRef& model, LabelBatch* batch,
                      v1::SubmitResponse* response,
                      CallScope scope = CallScope::kFleet);

  // Labels the model's owner stored, copied here (its peer): converted and
  // stored in the join as they are, without the clock's screening and not
  // copied on. Returns how many were valid and stored.
  absl::StatusOr<size_t> StoreCopies(
      const v1::ModelRef& model,
      const google::protobuf::RepeatedPtrField<v1::LabelEvent>& labels,
      absl::Time now);

  // POST /v1/labels.
  void RegisterHttp(HttpServer& server, SessionStore* sessions);

 private:
  // `s`, its limit (if any) counted.
  absl::Status Counted(absl::Status s) const;
  // Sends the screened `batch` to `owner`; its answer, with the refusals
  // made here, in `response`.
  absl::Status Forward(const std::string& owner, const v1::ModelRef& model,
                       const LabelBatch& batch, absl::Time now,
                       v1::SubmitResponse* response) const;

  LabelJoin* const join_;
  const Authorizer* const authorizer_;
  const Clock* const clock_;
  const size_t max_labels_per_batch_;
  const OnLimit on_limit_;
  FleetRouter* router_ = nullptr;
  OnStored on_stored_;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_API_LABEL_SERVICE_H_
