#include "collector/compliance/report_render.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "collector/compliance/report_document.h"
#include "collector/compliance/report_html.h"
#include "collector/compliance/report_text.h"

namespace aims::collector {

absl::StatusOr<v1::RenderedComplianceReport> RenderComplianceReport(
    const v1::ComplianceReport& report, absl::string_view format,
    absl::string_view table) {
  v1::RenderedComplianceReport out;
  out.set_objectives(report.objectives_size());
  out.set_nonconformities(report.nonconformities_size());
  if (format.empty() || format == "html") {
    out.set_content_type("text/html; charset=utf-8");
    out.set_body(RenderHtml(report));
  } else if (format == "markdown") {
    out.set_content_type("text/markdown; charset=utf-8");
    out.set_body(RenderMarkdown(BuildReportDocument(report)));
  } else if (format == "csv") {
    absl::StatusOr<std::string> csv = RenderCsv(
        BuildReportDocument(report), table.empty() ? "results" : table);
    if (!csv.ok()) return csv.status();
    out.set_content_type("text/csv; charset=utf-8");
    out.set_body(std::move(*csv));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("format: '", format, "' is not html, markdown or csv"));
  }
  return out;
}

}  // namespace aims::collector
