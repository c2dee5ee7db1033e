#include "collector/collector_metrics.h"

#include <string>

namespace aims::collector {
namespace {

prometheus::Family<prometheus::Counter>& CounterFamily(
    prometheus::Registry& r, const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

prometheus::Family<prometheus::Gauge>& GaugeFamily(prometheus::Registry& r,
                                                   const std::string& name,
                                                   const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

// A family with one series and no labels.
prometheus::Counter& Counter(prometheus::Registry& r, const std::string& name,
                             const std::string& help) {
  return CounterFamily(r, name, help).Add({});
}

prometheus::Gauge& Gauge(prometheus::Registry& r, const std::string& name,
                         const std::string& help) {
  return GaugeFamily(r, name, help).Add({});
}

prometheus::Counter& Reports(prometheus::Registry& r, const char* outcome) {
  return CounterFamily(
             r, "aims_collector_reports_total",
             "Window reports received from agents, by outcome: stored, "
             "duplicate (already stored, ignored), rejected (invalid), failed "
             "(storage error, not acknowledged).")
      .Add({{"outcome", outcome}});
}

}  // namespace

CollectorMetrics::Ingest::Ingest(prometheus::Registry& r)
    : reports_stored(Reports(r, "stored")),
      reports_duplicate(Reports(r, "duplicate")),
      reports_expired(Reports(r, "expired")),
      reports_rejected(Reports(r, "rejected")),
      reports_failed(Reports(r, "failed")),
      windows_missing(Counter(r, "aims_collector_windows_missing_total",
                              "Windows agents declared lost (spool full, "
                              "rejected) that the collector does not hold: "
                              "monitoring gaps on record.")),
      report_parts(Counter(r, "aims_collector_report_parts_total",
                           "Parts of split reports received (reports larger "
                           "than the agent's part size travel in parts).")),
      report_rejections(CounterFamily(
          r, "aims_collector_report_rejections_total",
          "Reports rejected by validation, by the field that failed "
          "(indices removed, e.g. report.summary.features[].sketch).")),
      limit_rejections(CounterFamily(
          r, "aims_collector_limit_rejections_total",
          "Inputs refused because they exceed a configured limit, "
          "by limit (its flag without --max_): report_* (a report, "
          "also counted in aims_collector_report_rejections_total), "
          "objectives_per_plan (a plan load), labels_per_batch and the "
          "label checks' limits (posted labels).")),
      streams_total(Counter(r, "aims_collector_ingest_streams_total",
                            "Ingest streams opened by agents.")),
      streams_refused_busy(
          Counter(r, "aims_collector_ingest_busy_total",
                  "Ingest streams ended with RESOURCE_EXHAUSTED because the "
                  "write queue was full.")),
      streams_open(Gauge(r, "aims_collector_ingest_streams_open",
                         "Ingest streams open now.")),
      agents_refused(
          Counter(r, "aims_collector_agents_refused_total",
                  "Agent hellos refused with PERMISSION_DENIED because the "
                  "agent id belongs to another model (audited as "
                  "agent_refused).")),
      agents_deregistered(
          Counter(r, "aims_collector_agents_deregistered_total",
                  "Agents that left cleanly (Goodbye after their last "
                  "report; audited as agent_deregistered).")),
      queue_depth(Gauge(r, "aims_collector_ingest_queue_depth",
                        "Items waiting for the durable writer.")),
      queue_capacity(Gauge(r, "aims_collector_ingest_queue_capacity",
                           "Bound of the durable writer's queue.")),
      queue_bytes(Gauge(r, "aims_collector_ingest_queue_bytes",
                        "Bytes of serialized reports waiting for the durable "
                        "writer.")),
      queue_max_bytes(
          Gauge(r, "aims_collector_ingest_queue_max_bytes",
                "Bound of the durable writer's queue in report bytes.")) {
  for (const char* limit :
       {"report_features", "report_attributes", "report_groups_per_attribute",
        "report_classes", "report_bins", "report_name_bytes",
        "report_value_bytes", "report_window", "objectives_per_plan",
        "labels_per_batch"}) {
    limit_rejections.Add({{"limit", limit}});
  }
}

CollectorMetrics::Storage::Storage(prometheus::Registry& r)
    : bytes(Gauge(r, "aims_collector_storage_bytes",
                  "Bytes of RocksDB table (SST) and blob files in all column "
                  "families; the write-ahead log is not counted.")),
      healthy(Gauge(r, "aims_collector_storage_healthy",
                    "1 while storage accepts writes; 0 after a failed "
                    "write (e.g. disk full) until it recovers.")),
      write_stopped(
          Gauge(r, "aims_collector_storage_write_stopped",
                "1 while RocksDB stops writes (too many pending flushes "
                "or compactions).")),
      delayed_write_rate(
          Gauge(r, "aims_collector_storage_delayed_write_rate_bytes_per_second",
                "Write rate RocksDB slows writes to while compactions "
                "lag, in bytes/s; 0 when writes are not slowed.")),
      background_errors(
          Counter(r, "aims_collector_storage_background_errors_total",
                  "RocksDB background errors (flush, compaction) since the "
                  "collector started.")),
      pending_compaction_bytes(
          Gauge(r, "aims_collector_storage_pending_compaction_bytes",
                "Bytes RocksDB estimates it must compact (reports and "
                "rollups).")),
      running_background_jobs(
          Gauge(r, "aims_collector_storage_running_background_jobs",
                "RocksDB flushes and compactions running now (they share "
                "the CPU and disk with ingest and queries).")),
      rollups(CounterFamily(
          r, "aims_collector_rollups_total",
          "Rollup buckets (10s, 1m, 10m, 1h, 1d) by result: built, "
          "rebuilt (after a late window), failed (reports "
          "that do not merge; queries read finer data), deleted (past their "
          "retention).")),
      retention_deleted_reports(
          Counter(r, "aims_collector_retention_deleted_reports_total",
                  "Raw window reports deleted by retention (their 1-minute "
                  "rollups stay).")),
      maintenance_errors(
          Counter(r, "aims_collector_maintenance_errors_total",
                  "Storage maintenance passes (rollups, retention, "
                  "recovery) that failed; retried.")),
      query_merge_queue_depth(
          Gauge(r, "aims_collector_query_merge_queue_depth",
                "Query merge tasks waiting for a --query_threads pool "
                "thread (bound 64; beyond it a query merges alone).")) {
  healthy.Set(1);
}

CollectorMetrics::Evaluation::Evaluation(prometheus::Registry& r)
    : objective_series(GaugeFamily(
          r, "aims_objective_series",
          "Objective series by evaluation state (inactive, pending, "
          "firing, resolved, insufficient_evidence, possible_breach).")),
      nonconformities(
          GaugeFamily(r, "aims_nonconformities",
                      "Nonconformities by severity and lifecycle stage.")),
      nonconformities_overdue(GaugeFamily(
          r, "aims_collector_nonconformities_overdue",
          "Nonconformities past their due date without a corrective action "
          "recorded, by model name and severity.")),
      evaluations(Counter(r, "aims_collector_evaluations_total",
                          "Objective series evaluations.")),
      evaluation_errors(Counter(
          r, "aims_collector_evaluation_errors_total",
          "Evaluations that failed (storage or merge error); retried.")),
      audit_records(Gauge(r, "aims_collector_audit_records",
                          "Records in the hash-chained audit trail.")),
      plan_objectives(
          Gauge(r, "aims_collector_plan_objectives",
                "Objectives in the monitoring plan in force (incl. built-in "
                "coverage objectives).")),
      outbox_depth(Gauge(r, "aims_collector_outbox_depth",
                         "Notifications waiting in the durable outbox.")),
      outbox_capacity(
          Gauge(r, "aims_collector_outbox_capacity",
                "Bound of the outbox; beyond it the oldest entry is dropped.")),
      notifications(CounterFamily(
          r, "aims_collector_notifications_total",
          "Notification deliveries by result: delivered, "
          "failed_attempt "
          "(retried), rejected (4xx, dropped), dropped (outbox full), "
          "superseded (an undelivered alert replaced by a newer "
          "message about it).")) {}

CollectorMetrics::CollectorMetrics(std::shared_ptr<prometheus::Registry> reg)
    : registry(reg),
      ingest(*reg),
      storage(*reg),
      evaluation(*reg),
      auth_failures(CounterFamily(
          *reg, "aims_collector_auth_failures_total",
          "Calls refused by authentication (reason=unauthenticated: "
          "no, malformed or unknown token) or authorization "
          "(reason=denied: role or model not allowed).")),
      ingest_service{ingest.reports_stored,
                     ingest.reports_duplicate,
                     ingest.reports_expired,
                     ingest.reports_rejected,
                     ingest.reports_failed,
                     ingest.windows_missing,
                     ingest.report_parts,
                     ingest.streams_total,
                     ingest.streams_refused_busy,
                     ingest.streams_open,
                     storage.healthy,
                     ingest.agents_refused,
                     ingest.report_rejections,
                     ingest.limit_rejections,
                     ingest.agents_deregistered} {}

}  // namespace aims::collector
