// report: the compliance evidence of a period (9.1 results, 9.3 trend, open
// items) as Markdown, HTML, one CSV table (all three rendered by the
// collector) or JSON.
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "aims/v1/compliance_report.grpc.pb.h"
#include "common/base/time_util.h"
#include "ctl/arguments.h"
#include "ctl/call.h"
#include "ctl/commands.h"

namespace aims::ctl {
namespace {

struct ReportOptions {
  ModelOptions filter;
  RangeOptions period;
  absl::Duration bucket = absl::ZeroDuration();  // 0: the collector picks
  std::string format = "markdown";
  std::string table = "results";  // for --format=csv
  std::string output;             // empty: standard output
};

absl::StatusOr<v1::ComplianceReportRequest> ReportRequest(
    const ReportOptions& options) {
  v1::ComplianceReportRequest request;
  *request.mutable_selector() = SelectorOf(options.filter);
  absl::StatusOr<Range> period = ResolveRange(options.period, absl::Now());
  if (!period.ok()) return period.status();
  // Unset ends are the collector's defaults: the last 30 days up to now.
  if (period->from.has_value())
    *request.mutable_from() = ToProto(*period->from);
  if (period->to.has_value()) *request.mutable_to() = ToProto(*period->to);
  if (options.bucket != absl::ZeroDuration()) {
    *request.mutable_bucket() = ToProtoDuration(options.bucket);
  }
  return request;
}

// The report's text: JSON from the data, the other formats rendered by the
// collector (collector/compliance/report_render.h), byte for byte as
// GET /v1/report?format= serves them. Sets `objectives` and
// `nonconformities` for the summary line.
absl::StatusOr<std::string> Fetch(const CallOptions& call,
                                  const ReportOptions& options,
                                  const v1::ComplianceReportRequest& request,
                                  uint32_t* objectives,
                                  uint32_t* nonconformities) {
  if (call.json) {
    absl::StatusOr<v1::ComplianceReport> report = Call(
        call, &v1::ComplianceReportService::Stub::GetComplianceReport, request);
    if (!report.ok()) return report.status();
    *objectives = report->objectives_size();
    *nonconformities = report->nonconformities_size();
    return ProtoToJson(*report) + "\n";
  }
  v1::RenderComplianceReportRequest render;
  *render.mutable_report() = request;
  render.set_format(options.format);
  render.set_table(options.table);
  absl::StatusOr<v1::RenderedComplianceReport> rendered = Call(
      call, &v1::ComplianceReportService::Stub::RenderComplianceReport, render);
  if (!rendered.ok()) {
    // A wrong --table: the collector names the tables it has.
    const absl::string_view message = rendered.status().message();
    const size_t table = message.find(": table: '");
    if (absl::IsInvalidArgument(rendered.status()) &&
        table != absl::string_view::npos) {
      return UsageError(absl::StrCat("--", message.substr(table + 2)));
    }
    return rendered.status();
  }
  *objectives = rendered->objectives();
  *nonconformities = rendered->nonconformities();
  return std::move(*rendered->mutable_body());
}

absl::Status Report(const CallOptions& call, const ReportOptions& options,
                    std::ostream& out) {
  absl::StatusOr<v1::ComplianceReportRequest> request = ReportRequest(options);
  if (!request.ok()) return request.status();
  uint32_t objectives = 0, nonconformities = 0;
  absl::StatusOr<std::string> text =
      Fetch(call, options, *request, &objectives, &nonconformities);
  if (!text.ok()) return text.status();
  if (options.output.empty()) {
    out << *text;
    return absl::OkStatus();
  }
  std::ofstream file(options.output, std::ios::binary | std::ios::trunc);
  file << *text;
  file.close();
  if (!file) {
    return absl::UnavailableError(
        absl::StrCat("--output: cannot write ", options.output));
  }
  out << "wrote " << options.output << " (" << text->size() << " bytes, "
      << objectives << " objectives, " << nonconformities
      << " nonconformities)\n";
  return absl::OkStatus();
}

}  // namespace

void AddReportCommand(CLI::App* app, CommandTable* table) {
  auto options = std::make_shared<ReportOptions>();
  CLI::App* sub = table->Add(
      app, "report",
      "Compliance evidence for a period: 9.1 results per objective, 9.3 "
      "nonconformity and corrective-action trend, open items.",
      [options](const CallOptions& call, std::ostream& out, std::ostream&) {
        return Report(call, *options, out);
      });
  AddModelOptions(sub, &options->filter, ModelUse::kFilter);
  AddRangeOptions(sub, &options->period, "the period",
                  "Default: the 30 days up to --to, or up to now.");
  AddDurationOption(sub, "--bucket", &options->bucket,
                    "Width of a trend bucket, e.g. 24h (default: 1h up to a "
                    "2-day period, 24h up to 62 days, 168h beyond).");
  sub->add_option("--format", options->format,
                  "markdown, html or csv (one table, see --table).")
      ->check(OneOf({"markdown", "html", "csv"}, "markdown, html or csv"))
      ->capture_default_str();
  sub->add_option("--table", options->table,
                  "With --format=csv: results, objectives, trend, open, "
                  "nonconformities, plan, summary or (from a fleet) fleet.")
      ->capture_default_str();
  sub->add_option("--output", options->output,
                  "Write the report here instead of standard output.")
      ->type_name("FILE");
}

}  // namespace aims::ctl
