#include "collector/storage/storage.h"

#include <utility>

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
