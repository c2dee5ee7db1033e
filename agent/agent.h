// Agent: the whole aims-agent sidecar as an object - the localhost HTTP
// intake (POST /v1/events, /healthz, /readyz, /metrics), the windower, the
// durable spool and the sender that streams reports to the collector.
// main.cc only parses flags and waits for a signal; tests run a real Agent.
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
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/event_json.h"
#include "aims/v1/identity.pb.h"
#include "common/base/clock.h"
#include "common/net/http_server.h"
#include "common/net/tls.h"
#include "common/summary/event.h"
#include "common/summary/profile_builder.h"
#include "common/summary/window_accumulator.h"

namespace grpc {
class ChannelCredentials;
class Server;
}  // namespace grpc

namespace aims::agent {

struct AgentMetrics;
class IntakeService;
class LabelStore;
class Sender;
class Spool;
class Windower;

struct AgentOptions {
  std::string http_listen = "127.0.0.1:9465";
  // gRPC intake (AgentIntakeService); empty: disabled.
  std::string grpc_listen = "127.0.0.1:9466";
  std::string collector = "127.0.0.1:4317";
  // TLS (and mTLS) to the collector; plaintext when no CA file is given.
  TlsClientFiles collector_tls;
  // Bearer token presented to the collector (its agent role); empty: none.
  std::string collector_token;
  // SHA-256 (hex) of the token intake callers must present
  // ("Authorization: Bearer <token>"); empty: intake is open.
  std::string intake_token_sha256;
  std::string data_dir = "./var/aims-agent";
  v1::ModelRef model;
  v1::AgentRef agent;  // agent_id empty: generated once and kept
  absl::Duration window = absl::Seconds(10);
  absl::Duration grace_period = absl::Seconds(10);
  // Per-window limits (max_features, max_attributes, max_classes,
  // max_groups_per_attribute) are SummaryConfig's.
  SummaryConfig summary;
  // Per-request and per-event limits (docs/events.md#limits).
  JsonIntakeLimits intake;
  // HTTP bodies (413 beyond) and gRPC intake messages.
  size_t max_body_bytes = 16 << 20;
  // Distinct categories per feature counted for the first-events reference.
  size_t max_categories_per_feature = 1000;
  int intake_threads = 4;
  // HTTP requests waiting for a worker beyond which the agent answers 429.
  size_t intake_queue_capacity = 256;
  // gRPC intake calls processed at once beyond which it answers
  // RESOURCE_EXHAUSTED.
  size_t grpc_max_in_flight = 64;
  uint64_t spool_max_bytes = 64ull << 20;
  bool spool_drop_newest = false;
  size_t max_part_bytes = 1 << 20;
  size_t label_store_max_entries = 1'000'000;
  absl::Duration label_ttl = absl::Hours(24);
  // Without a reference profile, the first this-many events become the
  // reference (proposed to the collector, which keeps the first one it
  // gets for the model version). 0: wait for a profile from the collector.
  size_t reference_events = 1000;
  // /readyz answers 503 until a reference profile is in force.
  bool require_profile = false;
};

class Agent {
 public:
  explicit Agent(AgentOptions options, const Clock* clock = &RealClock::Get());
  ~Agent();

  absl::Status Start();
  // See the file comment. Returns true when the spool was fully drained.
  bool Stop();

  int http_port() const { return http_port_; }
  int grpc_port() const { return grpc_port_; }
  const std::string& agent_id() const { return options_.agent.agent_id(); }

 private:
  void HandleEvents(const httplib::Request& req, httplib::Response& res);
  void HandleLabels(const httplib::Request& req, httplib::Response& res);
  // Returns false (and fills `res`) when the intake must refuse the request.
  bool Admit(const httplib::Request& req, httplib::Response& res);
  // Shared by the HTTP and gRPC intakes: screens the parsed batch
  // (timestamps, duplicate prediction ids; refused items move to its
  // errors), takes what is left and counts everything.
  void AcceptEvents(EventBatch* batch);
  size_t AcceptLabels(LabelBatch* batch);
  // Answers 400 for a body that cannot be read, counted by limit or as bad.
  void BadBody(const absl::Status& status, httplib::Response& res);
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
  std::unique_ptr<LabelStore> labels_;
  std::unique_ptr<Windower> windower_;
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
