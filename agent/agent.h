// Agent: the whole aims-agent sidecar as an object - the localhost HTTP
// intake (POST /v1/events, /healthz, /readyz, /metrics), the windower, the
// durable spool and the sender that streams reports to the collector.
// main.cc only parses flags, validates them (AgentOptions::Validate) and
// waits for a signal; tests run a real Agent.
//
// Shutdown (Stop): stop accepting events, close the open window into the
// spool, wait up to `grace_period` for the collector to acknowledge the
// spool, then close the stream. Whatever is unacknowledged stays in the
// spool for the next start.
//
// Thread-safety: Start() and Stop() from one owner thread.
#ifndef AIMS_AGENT_AGENT_H_
#define AIMS_AGENT_AGENT_H_

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/agent_options.h"
#include "agent/intake_log.h"
#include "agent/windower.h"
#include "aims/v1/identity.pb.h"
#include "common/base/clock.h"
#include "common/intake/event_json.h"
#include "common/net/http_server.h"
#include "common/summary/event.h"
#include "common/summary/profile_builder.h"

namespace grpc {
class ChannelCredentials;
class Server;
}  // namespace grpc

namespace aims::agent {

struct AgentMetrics;
class IntakeService;
class Sender;
class Spool;

class Agent {
 public:
  explicit Agent(AgentOptions options, const Clock* clock = &RealClock::Get());
  ~Agent();

  // Starts with options that passed Validate() (see agent_options.h).
  absl::Status Start();
  // See the file comment. Returns true when the spool was fully drained.
  bool Stop();

  int http_port() const { return http_port_; }
  int grpc_port() const { return grpc_port_; }
  const std::string& agent_id() const { return options_.agent.agent_id(); }

 private:
  // The parts of Start(), in order.
  // The spool (and the agent's identity kept in it) and the intake log.
  absl::Status OpenStores();
  // The self-metrics, the windower and the reference profile in force (or
  // the builder of the first-events one).
  void CreateWindower();
  absl::Status CreateSender();
  absl::Status StartHttpIntake();
  absl::Status StartGrpcIntake();

  void HandleReadyz(HttpResponse& res);
  void HandleEvents(const HttpRequest& req, HttpResponse& res);
  void HandleLabels(const HttpRequest& req, HttpResponse& res);
  // Returns false (and fills `res`) when the intake must refuse the request.
  bool Admit(const HttpRequest& req, HttpResponse& res);
  // Shared by the HTTP and gRPC intakes: screens the parsed batch
  // (timestamps, duplicate prediction ids; refused items move to its
  // errors), takes what is left and counts everything. Delayed labels
  // are forwarded in a window's report to the collector's central join
  // (common/summary/window_state.h).
  // Both fold the batch into the open window and write it to the intake log
  // (`record` of `kind`) as one step, so that what is answered "accepted"
  // survives a crash; a full intake log refuses the batch whole.
  absl::Status AcceptEvents(EventBatch* batch, IntakeRecord::Kind kind,
                            absl::string_view record);
  absl::Status AcceptLabels(LabelBatch* batch);
  // Folds the intake log left by an earlier run into its windows: those
  // past are spooled now, the current one stays open (and does not roll
  // over while the replay runs: Windower::SetReplaying).
  absl::Status ReplayIntakeLog();
  absl::Status ReplaySegments();
  // Once the open window's segment of the intake log holds
  // --intake_log_max_bytes / 8, replaces it by the window's summary so far
  // (IntakeLog::Checkpoint), so a busy window never fills the log.
  void CheckpointIfLarge(absl::Time window, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(intake_mu_);
  // The events of a logged batch, screened as when they were taken.
  absl::StatusOr<std::vector<Event>> ReplayedEvents(
      const IntakeRecord& record) const;
  // Writes a closed window to the spool and drops its intake log; false
  // (and the window untouched) when the spool write failed.
  bool SpoolWindow(ClosedWindow& closed);
  // Spools `closed` after the windows the spool could not take earlier, in
  // window order; what still fails waits in unspooled_ for the next tick
  // (a full disk), so the agent recovers by itself when space returns.
  void SpoolInOrder(std::optional<ClosedWindow> closed);
  // Answers 400 for a body that cannot be read, counted by limit or as bad.
  void BadBody(const absl::Status& status, HttpResponse& res);
  void CountRefused(const std::vector<EventError>& errors, bool labels);
  // Moves the windower's overflow counts to the metrics.
  void CountOverflows();
  void TickLoop();
  // Puts `profile` in force: windows opened from now on bin with it.
  void InstallProfile(const v1::ReferenceProfile& profile,
                      absl::string_view from);
  // Offers the first-events reference to the collector once connected.
  void ProposeReference();
  void FeedReference(const std::vector<Event>& events);
  void RefreshGauges();
  // Spools every closed window; returns false if a spool write failed.
  void SpoolClosed(bool close_open_window);

  AgentOptions options_;
  const Clock* clock_;
  std::unique_ptr<AgentMetrics> metrics_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<Windower> windower_;
  std::unique_ptr<IntakeLog> intake_log_;
  // Held while a batch is folded and logged, and while windows are taken
  // out of the windower: no record of a window can follow its spooling.
  absl::Mutex intake_mu_;
  // Closed windows the spool could not take yet (its disk full), oldest
  // first; their intake log segments stay. Bounded by
  // kMaxUnspooledBytes of summaries: beyond, the oldest is lost, counted.
  absl::Mutex unspooled_mu_;
  std::deque<ClosedWindow> unspooled_ ABSL_GUARDED_BY(unspooled_mu_);
  uint64_t unspooled_bytes_ ABSL_GUARDED_BY(unspooled_mu_) = 0;
  static constexpr uint64_t kMaxUnspooledBytes = 32ull << 20;
  std::unique_ptr<Sender> sender_;
  std::shared_ptr<grpc::ChannelCredentials> collector_credentials_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<IntakeService> intake_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::thread ticker_;
  std::atomic<bool> accepting_{false};
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex profile_mu_;
  std::shared_ptr<const v1::ReferenceProfile> profile_
      ABSL_GUARDED_BY(profile_mu_);
  std::unique_ptr<ProfileBuilder> reference_ ABSL_GUARDED_BY(profile_mu_);
  std::optional<v1::ReferenceProfile> proposal_ ABSL_GUARDED_BY(profile_mu_);
  int http_port_ = 0;
  int grpc_port_ = 0;
  bool started_ = false;
};

}  // namespace aims::agent

#endif  // AIMS_AGENT_AGENT_H_
