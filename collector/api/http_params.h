// Query parameters of the collector's HTTP API (collector/api/http_api.h)
// turned into the fields of the gRPC request messages. Kept apart from the
// handlers so that they can be fuzzed without a server
// (tests/fuzz/http_params_fuzz.cc).
//
// Times (`from`, `to`): Unix seconds (a decimal number, fractions allowed)
// or RFC 3339. Durations (`step`, `bucket`): absl::ParseDuration, e.g. 10s,
// 5m, 1h30m. Errors are INVALID_ARGUMENT and name the parameter, e.g.
// "from: 'x' is neither RFC 3339 nor Unix seconds".
//
// Thread-safety: stateless.
#ifndef AIMS_COLLECTOR_API_HTTP_PARAMS_H_
#define AIMS_COLLECTOR_API_HTTP_PARAMS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "aims/v1/compliance_report.pb.h"
#include "aims/v1/identity.pb.h"
#include "aims/v1/nonconformity.pb.h"
#include "collector/api/fleet_router.h"
#include "common/net/http_message.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace aims::collector {

// The time in parameter `name`, or `fallback` when it is absent. Unix
// seconds must lie in years 1 to 9999 (google.protobuf.Timestamp's range).
absl::Status ParseTimeParam(const HttpRequest& req, const std::string& name,
                            absl::Time fallback, absl::Time* out);

// The model (name, version, environment - default "default") and time range
// [from, to] (default: the last hour) with an optional step, shared by the
// range queries (/v1/summaries, /v1/metrics). `step_out` is set only when
// the request has `step`.
// `scope`: absent or "fleet" (routed in fleet mode), or "collector" (this
// collector's storage only; fleet_router.h).
absl::Status ParseScope(const HttpRequest& req, CallScope* scope);

absl::Status ParseRange(const HttpRequest& req, v1::ModelRef* model,
                        google::protobuf::Timestamp* from_out,
                        google::protobuf::Timestamp* to_out,
                        google::protobuf::Duration* step_out);

// /v1/report: `from`, `to` and `bucket` into `request` (each only when the
// request has it; the selector is the caller's).
absl::Status ParseReportParams(const HttpRequest& req,
                               v1::ComplianceReportRequest* request);

// /v1/nonconformities: `stage` (names, comma-separated: open,
// acknowledged, ...), `severity` (this and above: info, warning,
// critical), `owner`, `objective`, and `from` / `to` (the opening time)
// into `request` (the selector is the caller's).
absl::Status ParseNonconformityFilters(const HttpRequest& req,
                                       v1::ListNonconformitiesRequest* request);

// /v1/audit: `from_index`, `limit` (at most 10000; default 1000) and
// `collector` (a fleet member's address).
absl::Status ParseAuditParams(const HttpRequest& req,
                              v1::ListAuditRequest* request);

// A request body as proto3 JSON into `message` (JSON or proto field names;
// enums by name, e.g. "NONCONFORMITY_STAGE_ACKNOWLEDGED"); unknown fields
// are refused: "body: ...".
absl::Status ParseJsonBody(const HttpRequest& req,
                           google::protobuf::Message* message);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_API_HTTP_PARAMS_H_
