// Collector: the whole aims-collector process as an object - storage,
// durable writer, gRPC services (ingest, query) and the HTTP endpoint for
// /metrics, /healthz and /readyz. main.cc only parses flags, validates them
// (CollectorOptions::Validate) and waits for a signal; tests start a real
// Collector on port 0.
//
// Thread-safety: Start() and Stop() from one owner thread.
#ifndef AIMS_COLLECTOR_COLLECTOR_H_
#define AIMS_COLLECTOR_COLLECTOR_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aims/fleet/replication.pb.h"
#include "aims/v1/nonconformity.pb.h"
#include "collector/collector_options.h"
#include "common/base/clock.h"
#include "common/net/http_server.h"
#include "prometheus/counter.h"
#include "prometheus/metric_family.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace aims::collector {

struct CollectorMetrics;
class AuditTrail;
class Authorizer;
class DurableWriter;
class LabelJoin;
class LabelService;
class FleetRouter;
class Evaluator;
class NonconformityService;
class Nonconformities;
class Notifier;
class IngestService;
class QueryService;
class ComplianceReportService;
class RocksStorage;
class SessionStore;
namespace fleet {
class Fleet;
class ReplicationPeers;
class ReplicationService;
class Replicator;
}  // namespace fleet

class Collector {
 public:
  explicit Collector(CollectorOptions options,
                     const Clock* clock = &RealClock::Get());
  ~Collector();

  // Starts with options that passed Validate() (see collector_options.h).
  absl::Status Start();
  // Stops accepting, finishes streams, drains the writer, closes storage.
  void Stop();

  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_port_; }
  const std::string& collector_id() const { return options_.collector_id; }

  // Re-reads the plan file (SIGHUP, the ReloadPlan RPC); the plan in force
  // stays when the new one does not validate.
  absl::StatusOr<v1::PlanInfo> ReloadPlan(const std::string& actor);
  // One evaluation pass and one delivery pass now (tests with a FakeClock).
  int EvaluateNow();
  int DeliverNow();
  // One storage maintenance pass now (until no budget is left).
  absl::Status MaintainNow();
  // Forgets agents silent and disconnected for --agent_expiry (left
  // "expired", audited); returns how many. The maintenance loop runs it.
  int ExpireAgents();
  // aims_collector_profile_mismatch_total{model,version}.
  prometheus::MetricFamily ProfileMismatchFamily() const;
  // Re-reads --auth_tokens_file if it changed (also every maintenance
  // interval and on SIGHUP); a file that does not validate keeps the
  // tokens in force.
  absl::Status ReloadTokens();

 private:
  // OK while the process makes progress or can wait for it (storage is
  // healthy, or the disk is still full); an error when storage has failed
  // for --storage_restart_after with room on the disk again (/healthz).
  absl::Status Liveness() const;

  // The parts of Start(), in order.
  // The authorizer, from --auth_tokens_file.
  absl::Status LoadTokens();
  // Storage, the self-metrics, the audit trail and the nonconformities.
  absl::Status OpenStorage();
  // The notifier's outbox, the evaluator and the plan.
  absl::Status LoadEvaluation();
  // The durable writer and the services on it.
  void CreateServices();
  absl::Status StartGrpc();
  absl::Status StartHttp();
  // The evaluation, delivery and maintenance threads.
  void StartLoops();

  // Fleet mode: the replication of owned models to their peer collectors.
  absl::Status CreateReplication();
  // Fleet mode, after the member list or the fence changed (on the fleet
  // worker): ends the streams of models that moved away; takes over the
  // models this collector owns now and did not before (TakeOverGained; an
  // audit record for those with data here, series state reloaded, evaluated
  // now); catches up the peers.
  void OnFleetChanged();
  // The fleet's callback: OnFleetChanged runs on the worker (it asks the
  // other members, which must not hold the fleet's lease renewal up).
  void NoteFleetChanged();
  void RunFleetChanges();
  bool FleetWorkDue() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(fleet_mu_);
  void StopFleetChanges();
  // Asks every other member of `members` for its state and records of the
  // models this collector owns under `members` (a member that has not read
  // the same list yet is asked again, for up to 5 s). ABORTED when this
  // collector's own list moved on meanwhile, CANCELLED when stopping: the
  // run is redone (or dropped).
  absl::StatusOr<std::vector<aims::fleet::v1::HandoverResponse>> AskHandover(
      const std::vector<std::string>& members);
  // For the models `gained`: keeps the latest state row of each series
  // (this collector's, the replica's or another member's), adopts the
  // latest version of each record (the copies kept here as the replica,
  // then the others') and takes later profiles (TakeProfiles). Returns how
  // many rows, records and profiles it wrote.
  absl::StatusOr<int> TakeOverGained(
      const std::vector<std::string>& members,
      const std::function<bool(const std::string&)>& gained);
  // Stores the reference profiles of `answers` for the models `gained` that
  // were stored later (StoredLater) than the one held, pushing each to the
  // model's connected agents; returns how many.
  int TakeProfiles(
      const std::vector<aims::fleet::v1::HandoverResponse>& answers,
      const std::function<bool(const std::string&)>& gained);
  // Fleet mode: whether this collector evaluates `model` now - it owns it,
  // and did under the member list OnFleetChanged last completed (so a model
  // just gained waits for its state and records). Always true outside
  // fleet mode.
  bool EvaluatesHere(const std::string& model);
  // Fleet mode: owned, but its handover not done yet.
  bool TakingOver(const std::string& model);
  // The member list a Handover's must equal; empty while this collector
  // evaluates nothing (fenced, or leaving), when it answers any.
  std::vector<std::string> MembersForHandover();
  // Stop(): evaluates nothing more before the lease is revoked, so that the
  // next owners find the last state and records.
  void LeaveFleetEvaluation();

  // Gauges that are read rather than counted, before each /metrics scrape.
  void RefreshGauges();
  void RefreshEvaluationMetrics();
  void MaintenanceLoop();

  CollectorOptions options_;
  const Clock* clock_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<SessionStore> sessions_;  // null without the console
  std::unique_ptr<RocksStorage> storage_;
  std::unique_ptr<CollectorMetrics> metrics_;
  std::unique_ptr<LabelJoin> label_join_;
  std::unique_ptr<LabelService> label_service_;
  std::unique_ptr<DurableWriter> writer_;
  std::unique_ptr<IngestService> ingest_;
  std::unique_ptr<QueryService> query_;
  std::unique_ptr<AuditTrail> audit_;
  std::unique_ptr<Nonconformities> nonconformities_;
  std::unique_ptr<Notifier> notifier_;
  std::unique_ptr<Evaluator> evaluator_;
  std::unique_ptr<NonconformityService> nc_service_;
  std::unique_ptr<ComplianceReportService> report_service_;
  std::unique_ptr<fleet::Fleet> fleet_;  // fleet mode only
  std::unique_ptr<fleet::ReplicationPeers> peers_;
  std::unique_ptr<fleet::Replicator> replicator_;
  std::unique_ptr<fleet::ReplicationService> replication_service_;
  std::unique_ptr<FleetRouter> fleet_router_;  // fleet mode only
  prometheus::Counter* takeovers_ = nullptr;
  prometheus::Counter* adopted_ = nullptr;
  mutable absl::Mutex fleet_mu_;
  // The member list and fence OnFleetChanged last completed.
  std::vector<std::string> fleet_members_ ABSL_GUARDED_BY(fleet_mu_);
  bool fleet_fenced_ ABSL_GUARDED_BY(fleet_mu_) = false;
  bool fleet_change_pending_ ABSL_GUARDED_BY(fleet_mu_) = false;
  bool fleet_leaving_ ABSL_GUARDED_BY(fleet_mu_) = false;
  // The member lists (and fences) the fleet reported since the worker last
  // ran; overflow: more than it keeps.
  struct FleetView {
    std::vector<std::string> members;
    bool fenced = false;
  };
  std::vector<FleetView> fleet_seen_ ABSL_GUARDED_BY(fleet_mu_);
  bool fleet_seen_overflow_ ABSL_GUARDED_BY(fleet_mu_) = false;
  bool fleet_stopping_ ABSL_GUARDED_BY(fleet_mu_) = false;
  std::thread fleet_worker_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HttpServer> http_;
  std::thread maintenance_thread_;
  absl::Mutex maintenance_mu_;
  bool stopping_ ABSL_GUARDED_BY(maintenance_mu_) = false;
  int grpc_port_ = 0;
  int http_port_ = 0;
  bool started_ = false;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_COLLECTOR_H_
