// Replicator: keeps a copy of each model's window reports and objective
// series state on a second collector, the model's peer in rendezvous order
// (Fleet::PeerFor), so that the next owner by the same hash already holds
// the history when the owner is lost (docs/scale-out.md).
//
// Two paths feed the peer:
//  - The queue: OnStored() (the durable writer's hook, after a report is
//    durable here) copies the report into a bounded queue; a thread sends it
//    in batches (ReplicationService on the peer stores it exactly once by
//    agent_id and sequence). A full queue drops the copy and a failed send
//    loses the batch; both mark the model for catch-up.
//  - Catch-up, from persisted positions: the peer reports what its own
//    storage holds of each agent (highest sequence, count), and the reports
//    beyond it (all of an agent whose count shows holes) are read back
//    from storage here and sent. It runs for every model at start and on
//    member changes (CatchUpAll), and for the models of a dropped copy or a
//    failed send, so nothing depends on memory surviving a crash. It reads
//    the model's raw reports (one pass, two when a peer has holes).
// The series state of the models this collector owns (storage table
// kEvaluation) is sent each round when it changed since last sent.
//
// Metrics: aims_fleet_replication_queue (reports waiting),
// aims_fleet_replication_lag_seconds (since when something is waiting to
// be sent; 0 when caught up), aims_fleet_replication_failures_total (failed
// sends), aims_fleet_replication_dropped_total (copies dropped by a full
// queue), aims_fleet_replicated_reports_total (reports the peer stored).
//
// Thread-safety: safe. OnStored never blocks; RunOnce is for tests (do not
// mix with Start).
#ifndef AIMS_COLLECTOR_FLEET_REPLICATOR_H_
#define AIMS_COLLECTOR_FLEET_REPLICATOR_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

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
// tests). Thread-safety: called from the replicator's thread only.
class ReplicationPeers {
 public:
  virtual ~ReplicationPeers() = default;
  virtual absl::StatusOr<aims::fleet::v1::PositionResponse> Position(
      const std::string& peer,
      const aims::fleet::v1::PositionRequest& request) = 0;
  virtual absl::StatusOr<aims::fleet::v1::ReplicateResponse> Replicate(
      const std::string& peer,
      const aims::fleet::v1::ReplicateRequest& request) = 0;
};

// Over gRPC, with the collector's channel credentials and token.
std::unique_ptr<ReplicationPeers> GrpcReplicationPeers(
    std::shared_ptr<grpc::ChannelCredentials> credentials, std::string token,
    absl::Duration timeout = absl::Seconds(5));

struct ReplicatorOptions {
  std::string self;  // this collector's advertised address
  size_t max_queue = 10000;
  size_t max_queue_bytes = size_t{64} << 20;
  size_t max_batch = 256;
  absl::Duration tick = absl::Seconds(1);
};

class Replicator {
 public:
  // `peer_for(model name)`: the address to copy the model to, "" for none.
  // `owns(model name)`: whether this collector owns it (sends its state).
  Replicator(ReplicatorOptions options, Storage* storage,
             ReplicationPeers* peers,
             std::function<std::string(const std::string&)> peer_for,
             std::function<bool(const std::string&)> owns,
             prometheus::Registry& registry);
  ~Replicator();  // Stop()

  void Start();
  void Stop();

  // A report is durable here. Never blocks.
  void OnStored(const EncodedReport& report);
  // Every model held here is caught up with its peer at the next round.
  void CatchUpAll();
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
  absl::Status CatchUp(const std::string& model);
  absl::Status SendState();
  // Sends `out` to `peer` when it holds max_batch reports (or `flush`);
  // on failure its models are marked for catch-up.
  absl::Status Flush(const std::string& peer, Outgoing* out, bool flush);
  // The Hello (agent and model) of `agent_id`, from storage; null when
  // unknown.
  const v1::Hello* HelloOf(const std::string& agent_id);
  void MarkForCatchUp(const std::set<std::string>& models);

  const ReplicatorOptions options_;
  Storage* const storage_;
  ReplicationPeers* const peers_;
  const std::function<std::string(const std::string&)> peer_for_;
  const std::function<bool(const std::string&)> owns_;
  prometheus::Gauge& queue_gauge_;
  prometheus::Gauge& lag_gauge_;
  prometheus::Counter& failures_;
  prometheus::Counter& dropped_;
  prometheus::Counter& replicated_;

  mutable absl::Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> overflow_agents_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> catch_up_ ABSL_GUARDED_BY(mu_);
  bool catch_up_all_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Since when something has been waiting; InfiniteFuture when caught up.
  absl::Time behind_since_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();

  // The replicator's thread only.
  absl::flat_hash_map<std::string, v1::Hello> hellos_;
  // State row key -> (peer, fingerprint of the value) last sent.
  std::map<std::string, std::pair<std::string, uint64_t>> sent_state_;
  std::thread thread_;
};

}  // namespace aims::collector::fleet

#endif  // AIMS_COLLECTOR_FLEET_REPLICATOR_H_
