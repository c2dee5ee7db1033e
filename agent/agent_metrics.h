// AgentMetrics: the agent's own Prometheus series (aims_agent_*).
//
// Thread-safety: prometheus-cpp counters and gauges are thread-safe.
#ifndef AIMS_AGENT_AGENT_METRICS_H_
#define AIMS_AGENT_AGENT_METRICS_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace aims::agent {

// The series of the intake log (agent/intake_log.h).
struct IntakeLogMetrics {
  explicit IntakeLogMetrics(prometheus::Registry& registry);

  prometheus::Gauge& bytes;
  prometheus::Gauge& capacity_bytes;
  prometheus::Counter& errors;
  prometheus::Counter& events_replayed;
  prometheus::Counter& checkpoints;
};

struct AgentMetrics {
  explicit AgentMetrics(std::shared_ptr<prometheus::Registry> registry);

  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Counter& events_accepted;
  prometheus::Counter& events_rejected;
  prometheus::Counter& requests_bad;
  prometheus::Counter& windows_closed;
  prometheus::Counter& reports_sent;
  prometheus::Counter& reports_acked;
  prometheus::Counter& reports_rejected;
  prometheus::Counter& gaps_sent;
  prometheus::Counter& windows_dropped;
  prometheus::Gauge& windows_unspooled;
  prometheus::Counter& windows_lost;
  prometheus::Counter& requests_overloaded;
  prometheus::Counter& requests_shutting_down;
  prometheus::Counter& requests_unauthenticated;
  prometheus::Counter& requests_log_full;
  prometheus::Histogram& ack_latency;
  prometheus::Gauge& intake_queue_depth;
  prometheus::Gauge& intake_queue_capacity;
  prometheus::Gauge& spool_capacity_bytes;
  prometheus::Gauge& spool_gaps;
  prometheus::Counter& labels_forwarded;
  prometheus::Counter& labels_evicted;
  prometheus::Counter& labels_rejected;
  prometheus::Counter& predictions_unlabelled;
  prometheus::Counter& predictions_awaiting;
  prometheus::Gauge& pending_predictions;
  prometheus::Gauge& open_windows;
  prometheus::Counter& late_events;
  prometheus::Gauge& pending_prediction_bytes;
  prometheus::Gauge& pending_prediction_capacity_bytes;
  prometheus::Gauge& profile_loaded;
  prometheus::Counter& reconnects;
  prometheus::Gauge& connected;
  prometheus::Gauge& spool_reports;
  prometheus::Gauge& spool_bytes;
  // Hostile and broken input (docs/events.md#limits).
  prometheus::Family<prometheus::Counter>& limit_rejections;  // {limit}
  prometheus::Family<prometheus::Counter>& limit_overflows;   // {limit}
  prometheus::Counter& unknown_fields;
  prometheus::Counter& duplicate_events;
  prometheus::Counter& duplicate_labels;

  IntakeLogMetrics intake_log;

  // Counts `n` items (events, labels or whole requests) refused by `limit`
  // (common/base/limit_error.h).
  void LimitRejected(absl::string_view limit, double n = 1);
  // Counts `n` values handled by the overflow policy of `limit`.
  void LimitOverflowed(const std::string& limit, double n);
};

// The limits whose series exist from the start (at 0).
inline constexpr const char* kRejectingLimits[] = {"body_bytes",
                                                   "events_per_batch",
                                                   "features_per_event",
                                                   "attributes_per_event",
                                                   "probabilities_per_event",
                                                   "name_bytes",
                                                   "string_bytes",
                                                   "prediction_id_bytes",
                                                   "clock_skew",
                                                   "event_age",
                                                   "forwarded_labels",
                                                   "open_windows",
                                                   "forwarded_label_bytes"};
inline constexpr const char* kOverflowLimits[] = {
    "features_per_window", "attributes_per_window",  "groups_per_attribute",
    "classes_per_window",  "categories_per_feature", "pending_prediction_bytes",
    "slice_values"};

}  // namespace aims::agent

#endif  // AIMS_AGENT_AGENT_METRICS_H_
