// The compliance report document (report_document.h) as Markdown (every
// table) and as RFC 4180 CSV (one table, for spreadsheets).
//
// Thread-safety: stateless.
#ifndef AIMS_COLLECTOR_COMPLIANCE_REPORT_TEXT_H_
#define AIMS_COLLECTOR_COMPLIANCE_REPORT_TEXT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "collector/compliance/report_document.h"

namespace aims::collector {

std::string RenderMarkdown(const ReportDocument& doc);

// One table; a cell a spreadsheet would run as a formula is prefixed with
// '. INVALID_ARGUMENT lists the table names when `table` is none of them.
absl::StatusOr<std::string> RenderCsv(const ReportDocument& doc,
                                      absl::string_view table);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_COMPLIANCE_REPORT_TEXT_H_
