// Rendering of a compliance report (aims.v1.ComplianceReport) for
// `aimsctl report`: Markdown, HTML (one self-contained page) or CSV (one
// table). All three come from one document model, so they say the same.
//
// Tables, by name (CSV `--table`):
//   plan             plan versions in force during the period
//   summary          totals: objectives, series, nonconformities, mean times
//   objectives       9.1 answers per objective: what, method, when measured,
//                    when analysed, severity, owner, ISO references
//   results          9.1 results per objective series: share of the period
//                    held / pending / firing / insufficient / unevaluated,
//                    firings, state at the end, last value, nonconformities
//   trend            9.3 nonconformity and corrective-action trend per bucket
//   open             open items at the end of the period and their next step
//   nonconformities  every nonconformity of the period with its evidence and
//                    corrective action
//
// Thread-safety: stateless.
#ifndef AIMS_CTL_REPORT_RENDER_H_
#define AIMS_CTL_REPORT_RENDER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "aims/v1/compliance_report.pb.h"

namespace aims::ctl {

struct ReportTable {
  std::string name;   // for CSV --table
  std::string title;  // section heading
  std::string intro;  // one sentence on what the table shows
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

struct ReportDocument {
  std::string title;
  // Heading facts: period, generation time, collector, audit trail state.
  std::vector<std::pair<std::string, std::string>> facts;
  std::vector<ReportTable> tables;
};

ReportDocument BuildReportDocument(const v1::ComplianceReport& report);

std::string RenderMarkdown(const ReportDocument& doc);
std::string RenderHtml(const ReportDocument& doc);
// RFC 4180 CSV of one table; NOT_FOUND lists the table names.
absl::StatusOr<std::string> RenderCsv(const ReportDocument& doc,
                                      absl::string_view table);

}  // namespace aims::ctl

#endif  // AIMS_CTL_REPORT_RENDER_H_
