// IngestService: the collector's end of aims.v1.IngestService.Report (see
// proto/aims/v1/ingest.proto for the protocol).
//
// Each stream is a callback reactor that never blocks: a valid Hello is
// registered and answered with Welcome; each valid report goes to the
// DurableWriter and is acknowledged (cumulative Ack) only once durable; an
// invalid report is answered with a Rejection naming the field and the
// stream stays open. A Hello whose caller may not ingest its model ends the
// stream with UNAUTHENTICATED or PERMISSION_DENIED; an authorized Hello of a
// model another collector owns (fleet mode) is answered with Redirect. At most
// `max_in_flight` reports per stream wait for the writer before the stream
// stops reading (backpressure); a full writer queue ends the stream with
// RESOURCE_EXHAUSTED and the agent retries. A Goodbye marks the agent left
// (DurableWriter:: SubmitGoodbye) and ends the stream once durable; PushProfile
// sends a replaced profile to the connected agents of its model version.
//
// Thread-safety: safe; reactors run on gRPC threads and writer completions.
#ifndef AIMS_COLLECTOR_INGEST_INGEST_SERVICE_H_
#define AIMS_COLLECTOR_INGEST_INGEST_SERVICE_H_

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "collector/auth/authorizer.h"
#include "collector/ingest/durable_writer.h"
#include "collector/ingest/ingest_metrics.h"
#include "common/summary/validation.h"

namespace aims::collector {

// A stored report's window and where it comes from.
struct StoredWindow {
  absl::Time start;
  absl::Time end;
  bool backfill = false;  // a backfill stream's (Hello.backfill)
  bool late = false;      // holds late events or late labels
};

struct IngestOptions {
  std::string collector_id;
  ReportLimits limits;
  // --max_message_bytes: a larger report is rejected (a Rejection and a gap,
  // the stream goes on), a larger hello or gap ends the stream. gRPC's own
  // cap is TransportMessageCap(max_message_bytes) (common/base/limit_error.h).
  size_t max_message_bytes = 4 << 20;
  size_t max_in_flight = 32;
  // Called (on a writer thread) after a new report of `model` is durable;
  // the evaluator uses it to judge fresh data without waiting its interval.
  std::function<void(const v1::ModelRef& model)> on_report_stored;
  // The same with the report's window, for catch-up evaluation of windows
  // that change behind the watermark (collector/evaluation/catch_up.h).
  std::function<void(const v1::ModelRef& model, const StoredWindow& window)>
      on_window_stored;
  // Streams need an agent token for the Hello's model
  // (collector/auth/authorizer.h); null: open.
  const Authorizer* authorizer = nullptr;
  // Fleet mode: the owner's address when another collector owns the Hello's
  // model ("" or unset: serve it here). Such a Hello is answered with
  // Redirect{owner} and the stream ends OK, nothing registered.
  std::function<std::string(const v1::ModelRef& model)> redirect_for;
};

// Registered as the raw (ByteBuffer) form of the method: the stream parses
// each message itself and stores a report's bytes as received.
class IngestService final
    : public v1::IngestService::WithRawCallbackMethod_Report<
          v1::IngestService::Service> {
 public:
  IngestService(IngestOptions options, DurableWriter* writer,
                IngestMetrics* metrics);
  // Waits until every stream is done (after the server's shutdown none is
  // left; the wait makes the order explicit, also to ThreadSanitizer).
  ~IngestService() override;

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Report(
      grpc::CallbackServerContext* context) override;

  // Whether a stream of `agent_id` is open now.
  bool IsConnected(const std::string& agent_id) const;
  // Sends `profile` (ProfileUpdate) to every welcomed stream of its model
  // name and version; returns how many streams were looked at.
  int PushProfile(const v1::ReferenceProfile& profile);
  // Fleet mode: ends each welcomed stream whose model `moved` says now
  // belongs to another collector, with UNAVAILABLE after what it sent is
  // acknowledged; the agent reconnects and is redirected. Returns how many
  // streams were looked at. `moved` runs under stream locks: it must not
  // call back into this service.
  int EndStreamsOfMovedModels(
      const std::function<bool(const v1::ModelRef&)>& moved);

 private:
  class Stream;
  friend class Stream;
  void SetConnected(const std::string& agent_id, bool connected);

  const IngestOptions options_;
  DurableWriter* const writer_;
  IngestMetrics* const metrics_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> connected_ ABSL_GUARDED_BY(mu_);
  int live_streams_ ABSL_GUARDED_BY(mu_) = 0;
  // Welcomed streams, for PushProfile. Taken before a stream's own mutex,
  // never while holding it.
  absl::Mutex streams_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::flat_hash_set<Stream*> streams_ ABSL_GUARDED_BY(streams_mu_);
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_INGEST_INGEST_SERVICE_H_
