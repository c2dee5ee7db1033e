#include "collector/storage/storage.h"

#include <utility>

#include "collector/storage/wire_filter.h"

namespace aims::collector {

bool Matches(const v1::ModelSelector& selector, const v1::ModelRef& model) {
  return (selector.name().empty() || selector.name() == model.name()) &&
         (selector.version().empty() ||
          selector.version() == model.version()) &&
         (selector.environment().empty() ||
          selector.environment() == model.environment());
}

EncodedReport EncodeReport(const v1::WindowReport& report,
                           std::string serialized) {
  EncodedReport e;
  e.agent_id = report.agent_id();
  e.sequence = report.sequence();
  e.window_start = report.window_start();
  e.window_end = report.window_end();
  e.event_count = report.summary().operational().event_count();
  e.bytes =
      serialized.empty() ? report.SerializeAsString() : std::move(serialized);
  if (report.predictions_size() > 0 || report.labels_size() > 0) {
    // The join keeps them; the stored report need not.
    v1::WindowReport labels;
    *labels.mutable_predictions() = report.predictions();
    *labels.mutable_labels() = report.labels();
    labels.SerializeToString(&e.label_bytes);
    std::string without_predictions, without_both;
    if (CopyWithoutField(e.bytes, {v1::WindowReport::kPredictionsFieldNumber},
                         &without_predictions) &&
        CopyWithoutField(without_predictions,
                         {v1::WindowReport::kLabelsFieldNumber},
                         &without_both)) {
      e.bytes = std::move(without_both);
    }
  }
  return e;
}

absl::Status Storage::WriteReports(
    absl::Span<const v1::WindowReport* const> reports, absl::Time now,
    std::vector<WriteOutcome>* outcomes) {
  std::vector<EncodedReport> encoded;
  encoded.reserve(reports.size());
  std::vector<const EncodedReport*> ptrs;
  ptrs.reserve(reports.size());
  for (const v1::WindowReport* r : reports) {
    encoded.push_back(EncodeReport(*r));
  }
  for (const EncodedReport& e : encoded) ptrs.push_back(&e);
  return WriteEncodedReports(ptrs, now, outcomes);
}

absl::Status Storage::MergeReports(const v1::ModelRef& model, absl::Time from,
                                   absl::Time to, SummaryMerger* merger,
                                   MergeStats* stats) const {
  absl::Status merge_error;
  absl::Status scan = ScanReports(model, from, to, [&](const StoredReport& r) {
    merge_error = merger->Add(r.report.summary());
    if (stats != nullptr) {
      ++stats->raw_reports_read;
      if (stats->report_ids != nullptr) {
        stats->report_ids->emplace_back(r.report.agent_id(),
                                        r.report.sequence());
      }
    }
    return merge_error.ok();
  });
  return scan.ok() ? merge_error : scan;
}

}  // namespace aims::collector
