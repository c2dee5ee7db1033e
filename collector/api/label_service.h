// LabelService: delayed labels posted to the collector's central label join
// (aims.v1.LabelService.SubmitLabels over gRPC, and
// POST /v1/labels?model=<name>&environment=<env> on the HTTP listener with
// the body of the agent's POST /v1/labels: a JSON array, one object, or
// JSON lines of {"prediction_id", "label", optional "timestamp"}).
//
// Each label is checked as at the agent (common/intake, common/summary/
// event.h: prediction_id 1..128 bytes, a finite label, a timestamp at most
// 5 minutes ahead, a prediction_id repeated in one request refused); the
// valid ones are durable in the join before the answer, which names each
// refused item by index, field and reason (SubmitResponse; HTTP 400 when
// none was accepted). At most 10,000 labels per call. Needs the "label"
// permission (agent tokens for their own models, admin).
//
// Thread-safety: safe; LabelJoin serialises the writes.
#ifndef AIMS_COLLECTOR_API_LABEL_SERVICE_H_
#define AIMS_COLLECTOR_API_LABEL_SERVICE_H_

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
  static constexpr size_t kMaxLabelsPerCall = 10000;

  LabelService(LabelJoin* join, const Authorizer* authorizer,
               const Clock* clock);

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
  LabelJoin* const join_;
  const Authorizer* const authorizer_;
  const Clock* const clock_;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_API_LABEL_SERVICE_H_
