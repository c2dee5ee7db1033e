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
    // The join keeps them; the stored report need not. Split on the wire:
    // copying and serializing the records was a tenth of a backfill's
    // collector CPU. `e.bytes` parsed as `report`, so it splits.
    std::string kept;
    e.label_bytes.clear();
    if (SplitFields(e.bytes,
                    {v1::WindowReport::kPredictionsFieldNumber,
                     v1::WindowReport::kLabelsFieldNumber},
                    &kept, &e.label_bytes)) {
      e.bytes = std::move(kept);
    } else {
      v1::WindowReport labels;
      *labels.mutable_predictions() = report.predictions();
      *labels.mutable_labels() = report.labels();
      e.label_bytes = labels.SerializeAsString();
    }
  }
  return e;
}

absl::StatusOr<std::vector<std::optional<std::string>>> Storage::GetMany(
    Table table, absl::Span<const std::string> keys) const {
  std::vector<std::optional<std::string>> values(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    absl::StatusOr<std::string> value = Get(table, keys[i]);
    if (value.ok()) {
      values[i] = std::move(*value);
    } else if (!absl::IsNotFound(value.status())) {
      return value.status();
    }
  }
  return values;
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
