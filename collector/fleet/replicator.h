// Replicator: keeps a copy of each model's window reports and objective
// series state on a second collector, the model's peer in rendezvous order
// (Fleet::PeerFor), so that the next owner by the same hash already holds
// the history when the owner is lost (docs/scale-out.md).
//
// Copies reach the peer three ways:
//  - Semi-synchronously: OnStoredBatch() (the durable writer's hook, after a
//    batch is durable here and before it is acknowledged) sends the batch's
//    new reports to their peers and waits up to `sync_timeout`, so that an
//    acknowledged window is normally on two collectors. A failed or slow
//    send puts the batch on the queue instead and sends to that peer
//    asynchronously for `sync_pause` (the owner keeps accepting while its
//    peer is down; copies to other peers stay synchronous).
//  - The queue: a bounded queue a thread sends in batches. A full queue
//    drops the copy and a failed send loses the batch; both mark the model
//    for catch-up.
//  - Labels posted to this collector (the owner) are queued by OnLabels and
//    sent each round through the peer's label join, so a label still
//    waiting for its prediction is waiting on the peer too. A failed send,
//    or a fence (HoldLabelsWhile), keeps them queued; labels of a model
//    that has moved away from this collector for good go to both of its
//    holders (SetLabelHolders); past
//    `max_label_queue_bytes` a copy is dropped (counted): catch-up does not
//    resend labels.
//  - Catch-up, from persisted positions: the peer reports what its own
//    storage holds of each agent (highest sequence, count), and the reports
//    beyond it (all of an agent whose count shows holes) are read back
//    from storage here and sent. It runs for every model at start and on
//    member changes (CatchUpAll), and for the models of a dropped copy or a
//    failed send, so nothing depends on memory surviving a crash. It reads
//    the model's raw reports (one pass, two when a peer has holes).
// The peer stores each report exactly once by (agent_id, sequence).
// The series state of the models this collector owns (storage table
// kEvaluation), their nonconformity records (kNonconformities) and their
// reference profiles are sent each round when they changed since last
// sent.
//
// Metrics: aims_fleet_replication_queue (reports waiting),
// aims_fleet_replication_lag_seconds (since when something is waiting to
// be sent; 0 when caught up), aims_fleet_replication_failures_total (failed
// sends), aims_fleet_replication_dropped_total (copies dropped by a full
// queue), aims_fleet_replicated_reports_total (reports the peer stored),
// aims_fleet_replicated_state_rows_total (series state rows and records
// sent),
// aims_fleet_replication_label_queue (posted labels waiting),
// aims_fleet_replicated_labels_total (labels the peer stored),
// aims_fleet_replication_state_synced_timestamp_seconds (the start of the
// last round after which every owned series' state was on its peer).
//
// Thread-safety: safe. OnStored never blocks; RunOnce is for tests (do not
// mix with Start).
#ifndef AIMS_COLLECTOR_FLEET_REPLICATOR_H_
#define AIMS_COLLECTOR_FLEET_REPLICATOR_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aims/fleet/replication.grpc.pb.h"
#include "aims/v1/nonconformity.pb.h"
#include "collector/storage/storage.h"
#include "grpcpp/security/credentials.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace aims::collector::fleet {

// The calls to a peer, by its address (gRPC in the collector, a fake in
// tests). Thread-safety: safe (the replicator's thread, and the collector's
// handover at member changes).
class ReplicationPeers {
 public:
  virtual ~ReplicationPeers() = default;
  virtual absl::StatusOr<aims::fleet::v1::PositionResponse> Position(
      const std::string& peer,
      const aims::fleet::v1::PositionRequest& request) = 0;
  virtual absl::StatusOr<aims::fleet::v1::ReplicateResponse> Replicate(
      const std::string& peer, const aims::fleet::v1::ReplicateRequest& request,
      absl::Duration timeout) = 0;
  virtual absl::StatusOr<aims::fleet::v1::HandoverResponse> Handover(
      const std::string& peer, const aims::fleet::v1::HandoverRequest& request,
      absl::Duration timeout) = 0;
};

// Over gRPC, with the collector's channel credentials and token.
std::unique_ptr<ReplicationPeers> GrpcReplicationPeers(
    std::shared_ptr<grpc::ChannelCredentials> credentials, std::string token);

struct ReplicatorOptions {
  std::string self;  // this collector's advertised address
  size_t max_queue = 10000;
  size_t max_queue_bytes = size_t{64} << 20;
  size_t max_batch = 256;
  absl::Duration tick = absl::Seconds(1);
  absl::Duration timeout = absl::Seconds(5);  // queue and catch-up calls
  // Semi-synchronous copies (0: asynchronous only).
  absl::Duration sync_timeout = absl::Milliseconds(500);
  absl::Duration sync_pause = absl::Seconds(5);
  // Posted labels waiting to be copied (their wire size).
  size_t max_label_queue_bytes = size_t{16} << 20;
};

class Replicator {
 public:
  // `peer_for(model name)`: the address to copy the model to, "" for none.
  // `owns(model name)`: whether this collector owns it and has taken it
  // over (sends its state and records).
  Replicator(ReplicatorOptions options, Storage* storage,
             ReplicationPeers* peers,
             std::function<std::string(const std::string&)> peer_for,
             std::function<bool(const std::string&)> owns,
             prometheus::Registry& registry);
  ~Replicator();  // Stop()

  void Start();
  // Stops the thread, then sends the labels still queued. Idempotent.
  void Stop();

  // Reports newly durable here: copied to their peers before this returns
  // (at most about sync_timeout), else queued.
  void OnStoredBatch(const std::vector<const EncodedReport*>& reports);
  // A report is durable here: queued. Never blocks.
  void OnStored(const EncodedReport& report);
  // Labels for `model` stored here (posted to this collector): queued for
  // the model's peer. Never blocks.
  void OnLabels(const v1::ModelRef& model, std::vector<v1::LabelEvent> labels);
  // Starts a round now rather than at the next tick (an evaluation pass
  // changed series state). Never blocks.
  void Wake();
  // Every model held here is caught up with its peer at the next round.
  void CatchUpAll();
  // Catch-up copies read reports back from storage, which keeps a report's
  // join records apart: `carried(model, window start)` gives the window's
  // (LabelJoin::CarriedBytes), sent with the first copy of each window.
  // Call before Start().
  void SetJoinRecords(std::function<absl::StatusOr<std::string>(
                          const v1::ModelRef& model, absl::Time start)>
                          carried) {
    carried_ = std::move(carried);
  }
  // While `held()` (this collector is fenced: it has no peer until the
  // fence lifts), posted labels stay queued instead of being left uncopied
  // for want of a peer. Call before Start().
  void HoldLabelsWhile(std::function<bool()> held) {
    labels_held_ = std::move(held);
  }
  // `holders(model name)`: where queued labels go (Fleet::LabelHoldersFor:
  // the peer, or both holders of a model that moved away for good); empty
  // for nowhere (a fleet of one; while fenced they wait). Without it, the
  // peer (`peer_for`). A holder that fails gets the labels at the next
  // round, and so does the other (a label sent again with the same value
  // changes nothing). Call before Start().
  void SetLabelHolders(
      std::function<std::vector<std::string>(const std::string&)> holders) {
    label_holders_ = std::move(holders);
  }
  // One round now: the queue, the catch-ups, the state. OK when all sent.
  absl::Status RunOnce();

  size_t queued() const;

 private:
  struct Queued {
    std::string agent_id;
    uint64_t sequence = 0;
    std::string bytes;
  };
  // Per peer, a request being filled, and the models it carries.
  struct Outgoing {
    aims::fleet::v1::ReplicateRequest request;
    std::set<std::string> models;
  };

  void Run();
  absl::Status SendQueue();
  absl::Status SendLabels();
  absl::Status CatchUp(const std::string& model);
  absl::Status SendState();
  // Sends `out` to `peer` when it holds max_batch reports (or `flush`);
  // on failure its models are marked for catch-up.
  absl::Status Flush(const std::string& peer, Outgoing* out, bool flush);
  // The Hello (agent and model) of `agent_id`, from storage; nullopt when
  // unknown.
  std::optional<v1::Hello> HelloOf(const std::string& agent_id);
  void MarkForCatchUp(const std::set<std::string>& models);

  const ReplicatorOptions options_;
  Storage* const storage_;
  ReplicationPeers* const peers_;
  const std::function<std::string(const std::string&)> peer_for_;
  const std::function<bool(const std::string&)> owns_;
  std::function<absl::StatusOr<std::string>(const v1::ModelRef&, absl::Time)>
      carried_;
  std::function<bool()> labels_held_;
  std::function<std::vector<std::string>(const std::string&)> label_holders_;
  prometheus::Gauge& queue_gauge_;
  prometheus::Gauge& lag_gauge_;
  prometheus::Counter& failures_;
  prometheus::Counter& dropped_;
  prometheus::Counter& replicated_;
  prometheus::Counter& state_rows_;
  prometheus::Gauge& state_synced_;
  prometheus::Gauge& label_queue_gauge_;
  prometheus::Counter& replicated_labels_;

  mutable absl::Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<aims::fleet::v1::LabelCopy> label_queue_ ABSL_GUARDED_BY(mu_);
  size_t label_queue_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t label_queue_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> overflow_agents_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> catch_up_ ABSL_GUARDED_BY(mu_);
  bool catch_up_all_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  // Since when something has been waiting; InfiniteFuture when caught up.
  absl::Time behind_since_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();

  // Peer -> until when its copies are asynchronous (it failed a copy). Per
  // peer: the loss of one collector must not make the copies to the others
  // asynchronous, or a second loss soon after loses acknowledged windows.
  absl::flat_hash_map<std::string, absl::Time> sync_paused_until_
      ABSL_GUARDED_BY(mu_);

  absl::Mutex hello_mu_;
  absl::flat_hash_map<std::string, v1::Hello> hellos_
      ABSL_GUARDED_BY(hello_mu_);
  // The replicator's thread only.
  // State row key (or "profile/<name>/<version>", "nc/<id>") -> (peer,
  // fingerprint of the value or profile id) last sent.
  std::map<std::string, std::pair<std::string, uint64_t>> sent_state_;
  std::thread thread_;
};

}  // namespace aims::collector::fleet

#endif  // AIMS_COLLECTOR_FLEET_REPLICATOR_H_
