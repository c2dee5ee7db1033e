// IngestMetrics: the series an IngestService updates. They are registered by
// the process (collector/collector_metrics.h); the service only counts.
//
// Thread-safety: prometheus-cpp counters and gauges are thread-safe.
#ifndef AIMS_COLLECTOR_INGEST_INGEST_METRICS_H_
#define AIMS_COLLECTOR_INGEST_INGEST_METRICS_H_

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"

namespace aims::collector {

struct IngestMetrics {
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
  prometheus::Gauge& storage_healthy;
  // Hellos refused because the agent id belongs to another model.
  prometheus::Counter& agents_refused;
  prometheus::Family<prometheus::Counter>& report_rejections;  // {field}
  prometheus::Family<prometheus::Counter>& limit_rejections;   // {limit}
  // Agents that left cleanly (v1::Goodbye).
  prometheus::Counter& agents_deregistered;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_INGEST_INGEST_METRICS_H_
