// AgentOptions: everything an aims-agent sidecar is configured with, as the
// flags of agent/main.cc set it, and Validate(): every check of it in one
// place.
//
// Contract:
//  - Validate() refuses what no deployment should run with, as
//    INVALID_ARGUMENT naming the flag, the value and the limit ("--window:
//    0s, must be 1s..1h"); the binary exits 2 with it.
//  - Agent::Start() expects options that passed it and does not repeat it;
//    it checks only the identity it completes itself (the agent id kept in
//    the spool, the host name).
//
// Thread-safety: a plain value.
#ifndef AIMS_AGENT_AGENT_OPTIONS_H_
#define AIMS_AGENT_AGENT_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "aims/v1/identity.pb.h"
#include "common/intake/event_json.h"
#include "common/net/http_server.h"
#include "common/net/tls.h"
#include "common/summary/window_accumulator.h"
#include "common/summary/window_state.h"

namespace aims::agent {

struct AgentOptions {
  std::string http_listen = "127.0.0.1:9465";
  // Connection bounds and deadlines of the HTTP listener (--http_*); its
  // body limit, threads and queue come from the intake's options below.
  HttpServerOptions http;
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
  // Windows by the event's timestamp (--window_time=event) or by arrival;
  // how long a window stays open past its end; the instances open at once
  // (agent/windower.h).
  bool event_time = true;
  absl::Duration allowed_lateness = absl::Minutes(2);
  size_t max_open_windows = 256;
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
  // Bound of the intake log (agent/intake_log.h): accepted events of windows
  // not yet spooled; beyond it intake answers 503.
  uint64_t intake_log_max_bytes = 256ull << 20;
  bool spool_drop_newest = false;
  size_t max_part_bytes = 1 << 20;
  // Bounds of the pending predictions and forwarded labels of a window
  // (common/summary/window_state.h). A byte bound of 0 is
  // --intake_log_max_bytes / 16 (Start() resolves it): both go into the log's
  // checkpoints.
  JoinLimits join = {.max_pending_bytes = 0,
                     .max_forwarded_labels = 100'000,
                     .max_forwarded_bytes = 0};
  // Without a reference profile, the first this-many events become the
  // reference (proposed to the collector, which keeps the first one it
  // gets for the model version). 0: wait for a profile from the collector.
  size_t reference_events = 1000;
  // /readyz answers 503 until a reference profile is in force.
  bool require_profile = false;

  // See the file comment.
  absl::Status Validate() const;
};

}  // namespace aims::agent

#endif  // AIMS_AGENT_AGENT_OPTIONS_H_
