// ReplicationService: the receiving side of replication (replicator.h), on
// the collector's gRPC port in fleet mode. Position answers what this
// collector's storage holds of a model's agents; Replicate registers each
// report's agent if needed and stores the reports exactly once by
// (agent_id, sequence), then applies the series state rows of models this
// collector does not own (an owner's own state is never overwritten; a
// new owner reloads the rows it received before, collector.cc). A report's
// join records and forwarded labels (those copied with it) go through
// `write`, the collector's label join, as on the owner; labels posted to
// the owner (LabelCopy) go through `write_labels` into the same join.
// Nonconformity records of models this collector does not own are kept as
// copies (storage table kNonconformityCopies), not as records of its own;
// the collector adopts them when it takes the model over.
//
// Handover answers a collector that gains models: the series state rows,
// records (its own, and the copies, both when both are held) and reference
// profiles of the models the caller owns under the caller's member list, once
// this collector's list (`members`, SetMembers) is the same (or it evaluates
// nothing), so that it no longer evaluates them, and after any evaluation
// pass under way has ended.
//
// With tokens configured (Authorizer), callers need the admin permission.
//
// Thread-safety: safe (gRPC calls it from its threads).
#ifndef AIMS_COLLECTOR_FLEET_REPLICATION_SERVICE_H_
#define AIMS_COLLECTOR_FLEET_REPLICATION_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "aims/fleet/replication.grpc.pb.h"
#include "aims/v1/nonconformity.pb.h"
#include "collector/auth/authorizer.h"
#include "collector/storage/storage.h"
#include "common/base/clock.h"

namespace aims::collector::fleet {

class ReplicationService final : public aims::fleet::v1::Replication::Service {
 public:
  // Stores reports as Storage::WriteEncodedReports does (the label join's
  // WriteReports, so that their join records and labels are kept).
  using ReportWriter = std::function<absl::Status(
      absl::Span<EncodedReport* const> reports, absl::Time now,
      std::vector<WriteOutcome>* outcomes)>;

  // Stores labels posted for `model` (the label join's Submit); an
  // invalid label is skipped, counted in the answer's labels_stored no more.
  using LabelWriter = std::function<absl::StatusOr<size_t>(
      const v1::ModelRef& model,
      const google::protobuf::RepeatedPtrField<v1::LabelEvent>& labels,
      absl::Time now)>;

  // `owns(model name)`: whether this collector owns the model now. Without
  // `write`, reports go to `storage` and their join records are dropped;
  // without `write_labels`, label copies are refused.
  ReplicationService(Storage* storage, const Authorizer* authorizer,
                     const Clock* clock,
                     std::function<bool(const std::string&)> owns,
                     ReportWriter write = nullptr,
                     LabelWriter write_labels = nullptr);

  grpc::Status Position(grpc::ServerContext* context,
                        const aims::fleet::v1::PositionRequest* request,
                        aims::fleet::v1::PositionResponse* response) override;
  grpc::Status Replicate(grpc::ServerContext* context,
                         const aims::fleet::v1::ReplicateRequest* request,
                         aims::fleet::v1::ReplicateResponse* response) override;
  grpc::Status Handover(grpc::ServerContext* context,
                        const aims::fleet::v1::HandoverRequest* request,
                        aims::fleet::v1::HandoverResponse* response) override;

  // This collector's member list (sorted), which a Handover's must equal;
  // an empty list when this collector evaluates nothing (fenced, leaving).
  // `await_pass` returns once an evaluation pass under way has ended, so
  // that the answer holds what it wrote. Without them, Handover answers
  // whatever the list. Call before serving.
  void SetMembers(std::function<std::vector<std::string>()> members,
                  std::function<void()> await_pass) {
    members_ = std::move(members);
    await_pass_ = std::move(await_pass);
  }

 private:
  grpc::Status Authorize(const grpc::ServerContext& context) const;

  Storage* const storage_;
  const Authorizer* const authorizer_;
  const Clock* const clock_;
  const std::function<bool(const std::string&)> owns_;
  const ReportWriter write_;
  const LabelWriter write_labels_;
  std::function<std::vector<std::string>()> members_;
  std::function<void()> await_pass_;
  absl::Mutex mu_;
  // Agents registered here (by a Hello or by replication).
  absl::flat_hash_set<std::string> registered_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aims::collector::fleet

#endif  // AIMS_COLLECTOR_FLEET_REPLICATION_SERVICE_H_
