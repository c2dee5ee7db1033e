#include "collector/collector_metrics.h"

namespace aims::collector {
namespace {

prometheus::Family<prometheus::Counter>& Reports(prometheus::Registry& r) {
  return prometheus::BuildCounter()
      .Name("aims_collector_reports_total")
      .Help("Window reports received from agents, by outcome: stored, "
            "duplicate (already stored, ignored), rejected (invalid), failed "
            "(storage error, not acknowledged).")
      .Register(r);
}

}  // namespace

CollectorMetrics::CollectorMetrics(std::shared_ptr<prometheus::Registry> reg)
    : registry(reg),
      reports_stored(Reports(*reg).Add({{"outcome", "stored"}})),
      reports_duplicate(Reports(*reg).Add({{"outcome", "duplicate"}})),
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
      storage_sst_bytes(prometheus::BuildGauge()
                            .Name("aims_collector_storage_sst_bytes")
                            .Help("Bytes of RocksDB SST files.")
                            .Register(*reg)
                            .Add({})),
      storage_healthy(prometheus::BuildGauge()
                          .Name("aims_collector_storage_healthy")
                          .Help("1 while the last storage write succeeded.")
                          .Register(*reg)
                          .Add({})) {
  storage_healthy.Set(1);
}

}  // namespace aims::collector
