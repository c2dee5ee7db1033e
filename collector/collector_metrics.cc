#include "collector/collector_metrics.h"

namespace aims::collector {
namespace {

prometheus::Family<prometheus::Counter>& Reports(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("aims_collector_reports_total")
      .Help(
          "Window reports received from agents, by outcome: stored, "
          "duplicate (already stored, ignored), rejected (invalid), failed "
          "(storage error, not acknowledged).")
      .Register(r);
}

}  // namespace

CollectorMetrics::CollectorMetrics(std::shared_ptr<prometheus::Registry> reg)
    : registry(reg),
      reports_stored(Reports(*reg).Add({{"outcome", "stored"}})),
      reports_duplicate(Reports(*reg).Add({{"outcome", "duplicate"}})),
      reports_expired(Reports(*reg).Add({{"outcome", "expired"}})),
      reports_rejected(Reports(*reg).Add({{"outcome", "rejected"}})),
      reports_failed(Reports(*reg).Add({{"outcome", "failed"}})),
      windows_missing(prometheus::BuildCounter()
                          .Name("aims_collector_windows_missing_total")
                          .Help("Windows agents declared lost (spool full, "
                                "rejected) that the collector does not hold: "
                                "monitoring gaps on record.")
                          .Register(*reg)
                          .Add({})),
      report_parts(prometheus::BuildCounter()
                       .Name("aims_collector_report_parts_total")
                       .Help("Parts of split reports received (reports larger "
                             "than the agent's part size travel in parts).")
                       .Register(*reg)
                       .Add({})),
      streams_total(prometheus::BuildCounter()
                        .Name("aims_collector_ingest_streams_total")
                        .Help("Ingest streams opened by agents.")
                        .Register(*reg)
                        .Add({})),
      streams_refused_busy(
          prometheus::BuildCounter()
              .Name("aims_collector_ingest_busy_total")
              .Help("Ingest streams ended with RESOURCE_EXHAUSTED because the "
                    "write queue was full.")
              .Register(*reg)
              .Add({})),
      streams_open(prometheus::BuildGauge()
                       .Name("aims_collector_ingest_streams_open")
                       .Help("Ingest streams open now.")
                       .Register(*reg)
                       .Add({})),
      ingest_queue_depth(prometheus::BuildGauge()
                             .Name("aims_collector_ingest_queue_depth")
                             .Help("Items waiting for the durable writer.")
                             .Register(*reg)
                             .Add({})),
      ingest_queue_capacity(prometheus::BuildGauge()
                                .Name("aims_collector_ingest_queue_capacity")
                                .Help("Bound of the durable writer's queue.")
                                .Register(*reg)
                                .Add({})),
      storage_bytes(
          prometheus::BuildGauge()
              .Name("aims_collector_storage_bytes")
              .Help("Bytes of RocksDB table (SST) and blob files in all column "
                    "families; the write-ahead log is not counted.")
              .Register(*reg)
              .Add({})),
      storage_healthy(
          prometheus::BuildGauge()
              .Name("aims_collector_storage_healthy")
              .Help("1 while storage accepts writes; 0 after a failed "
                    "write (e.g. disk full) until it recovers.")
              .Register(*reg)
              .Add({})),
      objective_series(
          prometheus::BuildGauge()
              .Name("aims_objective_series")
              .Help("Objective series by evaluation state (inactive, pending, "
                    "firing, resolved, insufficient_evidence).")
              .Register(*reg)),
      nonconformities(
          prometheus::BuildGauge()
              .Name("aims_nonconformities")
              .Help("Nonconformities by severity and lifecycle stage.")
              .Register(*reg)),
      outbox_depth(prometheus::BuildGauge()
                       .Name("aims_collector_outbox_depth")
                       .Help("Notifications waiting in the durable outbox.")
                       .Register(*reg)
                       .Add({})),
      outbox_capacity(
          prometheus::BuildGauge()
              .Name("aims_collector_outbox_capacity")
              .Help(
                  "Bound of the outbox; beyond it the oldest entry is dropped.")
              .Register(*reg)
              .Add({})),
      notifications(
          prometheus::BuildCounter()
              .Name("aims_collector_notifications_total")
              .Help(
                  "Notification deliveries by result: delivered, "
                  "failed_attempt "
                  "(retried), rejected (4xx, dropped), dropped (outbox full), "
                  "superseded (an undelivered alert replaced by a newer "
                  "message about it).")
              .Register(*reg)),
      evaluations(prometheus::BuildCounter()
                      .Name("aims_collector_evaluations_total")
                      .Help("Objective series evaluations.")
                      .Register(*reg)
                      .Add({})),
      evaluation_errors(
          prometheus::BuildCounter()
              .Name("aims_collector_evaluation_errors_total")
              .Help(
                  "Evaluations that failed (storage or merge error); retried.")
              .Register(*reg)
              .Add({})),
      audit_records(prometheus::BuildGauge()
                        .Name("aims_collector_audit_records")
                        .Help("Records in the hash-chained audit trail.")
                        .Register(*reg)
                        .Add({})),
      plan_objectives(
          prometheus::BuildGauge()
              .Name("aims_collector_plan_objectives")
              .Help(
                  "Objectives in the monitoring plan in force (incl. built-in "
                  "coverage objectives).")
              .Register(*reg)
              .Add({})),
      rollups(
          prometheus::BuildCounter()
              .Name("aims_collector_rollups_total")
              .Help("Rollup buckets (10s, 1m, 10m, 1h, 1d) by result: built, "
                    "rebuilt (after a late window), failed (reports "
                    "that do not merge; queries read finer data).")
              .Register(*reg)),
      retention_deleted_reports(
          prometheus::BuildCounter()
              .Name("aims_collector_retention_deleted_reports_total")
              .Help("Raw window reports deleted by retention (their 1-minute "
                    "rollups stay).")
              .Register(*reg)
              .Add({})),
      maintenance_errors(
          prometheus::BuildCounter()
              .Name("aims_collector_maintenance_errors_total")
              .Help("Storage maintenance passes (rollups, retention, "
                    "recovery) that failed; retried.")
              .Register(*reg)
              .Add({})),
      report_rejections(
          prometheus::BuildCounter()
              .Name("aims_collector_report_rejections_total")
              .Help("Reports rejected by validation, by the field that failed "
                    "(indices removed, e.g. report.summary.features[].sketch).")
              .Register(*reg)),
      limit_rejections(
          prometheus::BuildCounter()
              .Name("aims_collector_limit_rejections_total")
              .Help("Inputs refused because they exceed a configured limit, "
                    "by limit (its flag without --max_): report_* (a report, "
                    "also counted in aims_collector_report_rejections_total), "
                    "objectives_per_plan (a plan load).")
              .Register(*reg)),
      storage_write_stopped(
          prometheus::BuildGauge()
              .Name("aims_collector_storage_write_stopped")
              .Help("1 while RocksDB stops writes (too many pending flushes "
                    "or compactions).")
              .Register(*reg)
              .Add({})),
      storage_delayed_write_rate(
          prometheus::BuildGauge()
              .Name("aims_collector_storage_delayed_write_rate_bytes")
              .Help("Write rate RocksDB slows writes to while compactions "
                    "lag, in bytes/s; 0 when writes are not slowed.")
              .Register(*reg)
              .Add({})),
      storage_background_errors(
          prometheus::BuildGauge()
              .Name("aims_collector_storage_background_errors")
              .Help("RocksDB background errors (flush, compaction) since the "
                    "collector started.")
              .Register(*reg)
              .Add({})),
      ingest_queue_bytes(
          prometheus::BuildGauge()
              .Name("aims_collector_ingest_queue_bytes")
              .Help("Bytes of serialized reports waiting for the durable "
                    "writer.")
              .Register(*reg)
              .Add({})),
      ingest_queue_max_bytes(
          prometheus::BuildGauge()
              .Name("aims_collector_ingest_queue_max_bytes")
              .Help("Bound of the durable writer's queue in report bytes.")
              .Register(*reg)
              .Add({})),
      storage_pending_compaction_bytes(
          prometheus::BuildGauge()
              .Name("aims_collector_storage_pending_compaction_bytes")
              .Help("Bytes RocksDB estimates it must compact (reports and "
                    "rollups).")
              .Register(*reg)
              .Add({})),
      storage_running_background_jobs(
          prometheus::BuildGauge()
              .Name("aims_collector_storage_running_background_jobs")
              .Help("RocksDB flushes and compactions running now (they share "
                    "the CPU and disk with ingest and queries).")
              .Register(*reg)
              .Add({})),
      query_merge_queue_depth(
          prometheus::BuildGauge()
              .Name("aims_collector_query_merge_queue_depth")
              .Help("Query merge tasks waiting for a --query_threads pool "
                    "thread (bound 64; beyond it a query merges alone).")
              .Register(*reg)
              .Add({})),
      auth_failures(
          prometheus::BuildCounter()
              .Name("aims_collector_auth_failures_total")
              .Help("Calls refused by authentication (reason=unauthenticated: "
                    "no, malformed or unknown token) or authorization "
                    "(reason=denied: role or model not allowed).")
              .Register(*reg)),
      ingest{reports_stored,   reports_duplicate, reports_expired,
             reports_rejected, reports_failed,    windows_missing,
             report_parts,     streams_total,     streams_refused_busy,
             streams_open,     storage_healthy,   report_rejections,
             limit_rejections} {
  storage_healthy.Set(1);
  for (const char* limit :
       {"report_features", "report_attributes", "report_groups_per_attribute",
        "report_classes", "report_bins", "report_name_bytes",
        "report_value_bytes", "report_window", "objectives_per_plan"}) {
    limit_rejections.Add({{"limit", limit}});
  }
}

}  // namespace aims::collector
