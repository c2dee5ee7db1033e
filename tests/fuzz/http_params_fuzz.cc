// Fuzz target: the query parameters of the collector's HTTP API. The input
// is a query string (what follows '?'), split and URL-decoded as the HTTP
// server does (common/net/http_message.h), then parsed as /v1/summaries,
// /v1/metrics, /v1/report, /v1/nonconformities and /v1/audit parse it. Never a
// crash or a sanitizer report, and what parses is a valid google.protobuf
// Timestamp / Duration.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "collector/api/http_params.h"

namespace {

void CheckTimestamp(const google::protobuf::Timestamp& t, const char* name) {
  // 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z
  if (t.seconds() < -62135596800 || t.seconds() > 253402300799 ||
      t.nanos() < 0 || t.nanos() > 999999999) {
    std::fprintf(stderr, "http_params_fuzz: %s out of range: %s\n", name,
                 t.ShortDebugString().c_str());
    std::abort();
  }
}

void CheckDuration(const google::protobuf::Duration& d, const char* name) {
  const bool sign_ok = (d.seconds() >= 0 && d.nanos() >= 0) ||
                       (d.seconds() <= 0 && d.nanos() <= 0);
  if (d.seconds() < -315576000000 || d.seconds() > 315576000000 ||
      d.nanos() < -999999999 || d.nanos() > 999999999 || !sign_ok) {
    std::fprintf(stderr, "http_params_fuzz: %s out of range: %s\n", name,
                 d.ShortDebugString().c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string query(reinterpret_cast<const char*>(data), size);
  aims::HttpRequest req;
  req.query = aims::ParseQuery(query);

  aims::v1::ModelRef model;
  google::protobuf::Timestamp from, to;
  google::protobuf::Duration step;
  if (aims::collector::ParseRange(req, &model, &from, &to, &step).ok()) {
    CheckTimestamp(from, "from");
    CheckTimestamp(to, "to");
    CheckDuration(step, "step");
  }
  aims::v1::ComplianceReportRequest report;
  if (aims::collector::ParseReportParams(req, &report).ok()) {
    CheckTimestamp(report.from(), "from");
    CheckTimestamp(report.to(), "to");
    CheckDuration(report.bucket(), "bucket");
  }
  aims::v1::ListNonconformitiesRequest list;
  if (aims::collector::ParseNonconformityFilters(req, &list).ok()) {
    if (list.has_opened_after()) CheckTimestamp(list.opened_after(), "from");
    if (list.has_opened_before()) CheckTimestamp(list.opened_before(), "to");
  }
  aims::v1::ListAuditRequest audit;
  if (aims::collector::ParseAuditParams(req, &audit).ok() &&
      (audit.limit() == 0 || audit.limit() > 10000)) {
    std::fprintf(stderr, "http_params_fuzz: limit %u accepted\n",
                 audit.limit());
    std::abort();
  }
  return 0;
}
