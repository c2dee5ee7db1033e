// CollectorMetrics: the collector's own Prometheus series (aims_collector_*).
// Families are created once and the series kept, as prometheus-cpp wants.
//
// Thread-safety: prometheus-cpp counters and gauges are thread-safe.
#ifndef AIMS_COLLECTOR_COLLECTOR_METRICS_H_
#define AIMS_COLLECTOR_COLLECTOR_METRICS_H_

#include <memory>

#include "collector/ingest/ingest_metrics.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace aims::collector {

struct CollectorMetrics {
  explicit CollectorMetrics(std::shared_ptr<prometheus::Registry> registry);

  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Counter& reports_stored;
  prometheus::Counter& reports_duplicate;
  prometheus::Counter& reports_expired;
  prometheus::Counter& reports_rejected;
  prometheus::Counter& reports_failed;
  prometheus::Counter& windows_missing;
  prometheus::Counter& report_parts;
  prometheus::Counter& streams_total;
  prometheus::Counter& streams_refused_busy;
  prometheus::Gauge& streams_open;
  prometheus::Gauge& ingest_queue_depth;
  prometheus::Gauge& ingest_queue_capacity;
  prometheus::Gauge& storage_bytes;
  prometheus::Gauge& storage_healthy;
  // Evaluation side.
  prometheus::Family<prometheus::Gauge>& objective_series;  // {state}
  prometheus::Family<prometheus::Gauge>& nonconformities;   // {severity, stage}
  prometheus::Gauge& outbox_depth;
  prometheus::Gauge& outbox_capacity;
  prometheus::Family<prometheus::Counter>& notifications;  // {result}
  prometheus::Counter& evaluations;
  prometheus::Counter& evaluation_errors;
  prometheus::Gauge& audit_records;
  prometheus::Gauge& plan_objectives;
  prometheus::Family<prometheus::Counter>& rollups;
  prometheus::Counter& retention_deleted_reports;
  prometheus::Counter& maintenance_errors;
  prometheus::Family<prometheus::Counter>& report_rejections;
  prometheus::Family<prometheus::Counter>& limit_rejections;  // {limit}
  prometheus::Gauge& storage_write_stopped;
  prometheus::Gauge& storage_delayed_write_rate;
  prometheus::Gauge& storage_background_errors;
  prometheus::Gauge& ingest_queue_bytes;
  prometheus::Gauge& ingest_queue_max_bytes;
  prometheus::Gauge& storage_pending_compaction_bytes;
  prometheus::Gauge& storage_running_background_jobs;
  prometheus::Gauge& query_merge_queue_depth;
  prometheus::Family<prometheus::Counter>& auth_failures;  // {reason}
  // The ingest service's view of the series above.
  IngestMetrics ingest;
};

// Raises `counter` to `total` (totals counted elsewhere as atomics).
inline void CatchUp(prometheus::Counter& counter, double total) {
  if (total > counter.Value()) counter.Increment(total - counter.Value());
}

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_COLLECTOR_METRICS_H_
