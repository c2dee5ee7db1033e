// Validation of identities and window reports as they cross a trust
// boundary. Every error is INVALID_ARGUMENT and names the field and, for a
// limit, the limit and its flag, e.g. "report.summary.features[3].name: 300
// bytes, limit 128 (--max_report_name_bytes)". Sums and sketches must be
// finite.
//
// Thread-safety: stateless.
#ifndef AIMS_COMMON_SUMMARY_VALIDATION_H_
#define AIMS_COMMON_SUMMARY_VALIDATION_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "aims/v1/identity.pb.h"
#include "aims/v1/ingest.pb.h"

namespace aims {

// The collector's limits on one report; each refusal is a LimitError
// (common/base/limit_error.h) naming the collector flag that sets it.
struct ReportLimits {
  size_t max_features = 2000;              // --max_report_features
  size_t max_attributes = 64;              // --max_report_attributes
  size_t max_groups_per_attribute = 1000;  // --max_report_groups_per_attribute
  size_t max_classes = 1000;               // --max_report_classes
  // Slice keys: at most max_attributes; values per key besides __other__.
  size_t max_slice_values = 1000;  // --max_report_slice_values
  size_t max_bins = 10000;         // --max_report_bins
  size_t max_name_bytes = 128;     // --max_report_name_bytes
  // Longest group (attribute value): --max_report_value_bytes.
  size_t max_value_bytes = 1024;
  // Longest window a report may cover: --max_report_window.
  int64_t max_window_seconds = 86400;
};

absl::Status ValidateModelRef(const v1::ModelRef& model,
                              absl::string_view field = "model");
absl::Status ValidateAgentRef(const v1::AgentRef& agent,
                              absl::string_view field = "agent");
absl::Status ValidateHello(const v1::Hello& hello);
// `agent_id` is the id the stream's Hello named.
// Reasons in a report's rejected_by_reason (the agent uses a dozen).
inline constexpr size_t kMaxRejectionReasons = 64;

absl::Status ValidateReport(const v1::WindowReport& report,
                            absl::string_view agent_id,
                            const ReportLimits& limits);

// A gap notice of the stream's agent: 1 <= first <= last, at most
// kMaxGapSequences sequences.
inline constexpr uint64_t kMaxGapSequences = 1'000'000;
absl::Status ValidateGap(const v1::GapNotice& gap, absl::string_view agent_id);

}  // namespace aims

#endif  // AIMS_COMMON_SUMMARY_VALIDATION_H_
