// The one renderer of compliance reports: the collector renders, and
// aimsctl (RenderComplianceReport), GET /v1/report?format= and the console
// pass its bytes on, so every reader gets the same report.
//
// Formats: "html" (report_html.h; the default for an empty format),
// "markdown" and "csv" (one table; report_text.h).
//
// Thread-safety: stateless.
#ifndef AIMS_COLLECTOR_COMPLIANCE_REPORT_RENDER_H_
#define AIMS_COLLECTOR_COMPLIANCE_REPORT_RENDER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "aims/v1/compliance_report.pb.h"

namespace aims::collector {

// INVALID_ARGUMENT names `format` or `table` and what they may be.
absl::StatusOr<v1::RenderedComplianceReport> RenderComplianceReport(
    const v1::ComplianceReport& report, absl::string_view format,
    absl::string_view table);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_COMPLIANCE_REPORT_RENDER_H_
