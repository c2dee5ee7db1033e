// Sender: delivers the spool to the collector over one IngestService.Report
// stream at a time, and deletes reports from the spool only when the
// collector's Ack says they are durable.
//
// On any stream failure it reconnects with exponential backoff and full
// jitter (ReconnectBackoff: initial 200 ms, doubling to 30 s) and resends
// everything not yet acknowledged; the collector ignores duplicates, so
// nothing is counted twice. At most `max_in_flight` reports are sent and
// unacknowledged at once. The backoff follows the injected Clock (tests use
// a FakeClock); acknowledgement latency and WaitUntilDrained's deadline are
// real time.
//
// Redirect (fleet mode, docs/scale-out.md): a collector that does not own
// the model answers the Hello with Redirect{target}; the sender reconnects
// to the target at once (after three redirects in a row, with backoff) and
// stays with it across broken streams while it is reachable. When the target
// cannot be reached or does not welcome, the next attempt goes back to the
// configured collector, which redirects to the model's current owner.
//
// Thread-safety: Start/Stop from the owner; Notify() from any thread.
#ifndef AIMS_AGENT_SENDER_H_
#define AIMS_AGENT_SENDER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/agent_metrics.h"
#include "agent/reconnect_backoff.h"
#include "agent/spool.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "common/base/clock.h"
#include "grpcpp/security/credentials.h"

namespace aims::agent {

struct SenderOptions {
  std::string collector = "127.0.0.1:4317";
  // Null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string tls_server_name;  // TLS name override; empty: the host
  std::string token;            // bearer token for the collector; "": none
  v1::Hello hello;
  size_t max_in_flight = 64;
  // Reports larger than this are sent in parts (WindowReport.part_index),
  // well under gRPC's default 4 MiB message limit.
  size_t max_part_bytes = 1 << 20;
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(30);
  // Called (on a sender thread) with the profile a Welcome or a
  // ProfileUpdate carries.
  std::function<void(const v1::ReferenceProfile&)> on_profile;
};

class Sender {
 public:
  Sender(SenderOptions options, Spool* spool, AgentMetrics* metrics,
         const Clock* clock = &RealClock::Get());
  ~Sender();

  void Start();
  // Tells the sender that the spool has a new report.
  void Notify();
  // Waits until the spool is empty or `deadline` passes; true when empty.
  bool WaitUntilDrained(absl::Time deadline);
  // Ends the stream (WritesDone, then up to 2 s for the collector to close
  // it) and stops the thread.
  void Stop();
  // Makes Stop() deregister (v1::Goodbye) when the spool is empty: for a
  // clean stop after the final flush. deregistered() tells whether the
  // collector confirmed it.
  void Leave();
  bool deregistered() const;

  bool connected() const { return connected_.load(); }
  // Why the collector refused this agent's last hello (PERMISSION_DENIED or
  // UNAUTHENTICATED: a wrong token or an agent id of another model); empty
  // once a hello is welcomed. Such a refusal does not pass by retrying.
  std::string refusal() const;
  // The address the next stream goes to: the redirect target, if any, else
  // the configured collector.
  std::string target() const;

 private:
  using Stream =
      grpc::ClientReaderWriter<v1::IngestRequest, v1::IngestResponse>;

  enum class Outcome { kWelcomed, kRedirected, kFailed };

  std::shared_ptr<grpc::Channel> NewChannel(const std::string& address) const;
  void Run();
  // One stream's life; returns when it breaks or the sender stops.
  Outcome RunStream();
  // Hello -> Welcome (or Redirect: the stream is finished and the target
  // kept for the next stream); kFailed: the stream finished otherwise.
  Outcome Handshake(grpc::ClientContext* ctx, Stream* stream,
                    v1::Welcome* welcome);
  // Takes the Welcome's profile and acknowledgement; the stream is up.
  void Welcomed(const v1::Welcome& welcome);
  // Reader thread: applies acks and rejections until the stream ends.
  void ReadResponses(Stream* stream);
  // Sends spooled items after `durable` in sequence order, at most
  // max_in_flight beyond the last ack, until the stream breaks or the
  // sender stops.
  void WriteSpool(Stream* stream, uint64_t durable);
  // Says we are done (unless broken) and gives the collector up to 2 s to
  // close the stream before cancelling it.
  void EndStream(grpc::ClientContext* ctx, Stream* stream);
  // Writes one spool item (splitting large reports); false if the stream
  // broke.
  bool SendItem(Stream* stream, const v1::IngestRequest& item);
  // Records acknowledgement latency of everything sent up to `sequence`.
  void ObserveAcked(uint64_t sequence);

  const SenderOptions options_;
  Spool* const spool_;
  AgentMetrics* const metrics_;
  const Clock* const clock_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::IngestService::Stub> stub_;
  // The redirect target's stub; used by the sender thread only.
  std::unique_ptr<v1::IngestService::Stub> redirect_stub_;
  int redirects_in_a_row_ = 0;  // sender thread only
  std::thread thread_;
  std::atomic<bool> connected_{false};

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool leaving_ ABSL_GUARDED_BY(mu_) = false;
  bool goodbye_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool deregistered_ ABSL_GUARDED_BY(mu_) = false;
  std::string refusal_ ABSL_GUARDED_BY(mu_);
  // Where the last Redirect sent us; empty: the configured collector.
  std::string redirect_target_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped by Notify
  uint64_t acked_ ABSL_GUARDED_BY(mu_) = 0;
  bool stream_broken_ ABSL_GUARDED_BY(mu_) = false;
  // The stream was welcomed: Stop() lets it end gracefully (WritesDone).
  bool streaming_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;
  // Send time of each unacknowledged sequence on the current stream.
  std::map<uint64_t, absl::Time> sent_at_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aims::agent

#endif  // AIMS_AGENT_SENDER_H_
