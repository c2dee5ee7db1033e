// CollectorMetrics: the collector's own Prometheus series (aims_collector_*
// and the plan's aims_objective_series, aims_nonconformities), in groups by
// what they watch. Families are created once and the series kept, as
// prometheus-cpp wants.
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

  // Reports and streams from agents, and the durable writer's queue.
  struct Ingest {
    explicit Ingest(prometheus::Registry& registry);
    prometheus::Counter& reports_stored;
    prometheus::Counter& reports_duplicate;
    prometheus::Counter& reports_expired;
    prometheus::Counter& reports_rejected;
    prometheus::Counter& reports_failed;
    prometheus::Counter& windows_missing;
    prometheus::Counter& report_parts;
    prometheus::Family<prometheus::Counter>& report_rejections;  // {field}
    prometheus::Family<prometheus::Counter>& limit_rejections;   // {limit}
    prometheus::Counter& streams_total;
    prometheus::Counter& streams_refused_busy;
    prometheus::Gauge& streams_open;
    prometheus::Counter& agents_refused;
    prometheus::Counter& agents_deregistered;
    prometheus::Gauge& queue_depth;
    prometheus::Gauge& queue_capacity;
    prometheus::Gauge& queue_bytes;
    prometheus::Gauge& queue_max_bytes;
  };
  // RocksDB, rollups, retention and the query merge pool.
  struct Storage {
    explicit Storage(prometheus::Registry& registry);
    prometheus::Gauge& bytes;
    prometheus::Gauge& healthy;
    prometheus::Gauge& write_stopped;
    prometheus::Gauge& delayed_write_rate;
    prometheus::Counter& background_errors;
    prometheus::Gauge& pending_compaction_bytes;
    prometheus::Gauge& running_background_jobs;
    prometheus::Family<prometheus::Counter>& rollups;  // {result}
    prometheus::Counter& retention_deleted_reports;
    prometheus::Counter& maintenance_errors;
    prometheus::Gauge& query_merge_queue_depth;
  };
  // The plan's evaluation, its nonconformities and audit trail, and the
  // notifications about them.
  struct Evaluation {
    explicit Evaluation(prometheus::Registry& registry);
    prometheus::Family<prometheus::Gauge>& objective_series;  // {state}
    prometheus::Family<prometheus::Gauge>&
        nonconformities;  // {severity, stage}
    prometheus::Family<prometheus::Gauge>&
        nonconformities_overdue;  // {model, severity}
    prometheus::Counter& evaluations;
    prometheus::Counter& evaluation_errors;
    prometheus::Gauge& audit_records;
    prometheus::Gauge& plan_objectives;
    prometheus::Gauge& outbox_depth;
    prometheus::Gauge& outbox_capacity;
    prometheus::Family<prometheus::Counter>& notifications;  // {result}
  };

  std::shared_ptr<prometheus::Registry> registry;
  Ingest ingest;
  Storage storage;
  Evaluation evaluation;
  prometheus::Family<prometheus::Counter>& auth_failures;  // {reason}
  // The ingest service's view of the series above.
  IngestMetrics ingest_service;
};

// Raises `counter` to `total` (totals counted elsewhere as atomics).
inline void CatchUp(prometheus::Counter& counter, double total) {
  if (total > counter.Value()) counter.Increment(total - counter.Value());
}

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_COLLECTOR_METRICS_H_
