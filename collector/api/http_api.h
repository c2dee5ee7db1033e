// HTTP/JSON query API of the collector, for scripts and dashboards: the same
// queries as aims.v1.QueryService, answered as proto3 JSON (field names as
// in the .proto files).
//
//   GET /v1/models?name=&version=&environment=
//   GET /v1/agents?name=&version=&environment=
//   GET /v1/summaries?name=&version=&environment=&from=&to=&step=
//       from/to: RFC 3339 or Unix seconds (default: the last hour);
//       step: a duration such as 10s, 5m (default: one bucket)
//   GET /v1/metrics?name=&version=&environment=&from=&to=&step=&metric=a,b
//   GET /v1/profile?name=&version=
//       These five take &scope=collector to answer from this collector's
//       storage only; in fleet mode they are otherwise answered by the
//       model's owner, or merged from every member (fleet_router.h).
//   GET /v1/nonconformities?name=&version=&environment=&objective=&stage=
//       &severity=&owner=&from=&to=   (http_params.h)
//   GET /v1/nonconformities/<id>
//       In fleet mode the list merges every collector's records (unless
//       &scope=collector); a record, its steps and updates are worked on
//       the collector that holds it, its model's owner (unless
//       &scope=collector: this collector's copy; nonconformity_service.h).
//   POST /v1/nonconformities/<id>/transition   TransitionRequest as JSON
//   POST /v1/nonconformities/<id>/update       UpdateNonconformityRequest
//   GET /v1/objectives?name=&version=&environment=&objective=&scope=
//       in fleet mode every collector's series, unless scope=collector
//   GET /v1/audit?from_index=&limit=&collector=&scope=
//       this collector's trail; in fleet mode the member `collector` names
//   GET /v1/audit/verify?scope=
//       in fleet mode every member's trail too, unless scope=collector
//   GET /v1/plans    every plan version loaded, newest first, with its text
//   GET /v1/report?name=&version=&environment=&from=&to=&bucket=&format=
//       the compliance report; from/to as above (default: the last 30
//       days), bucket a duration (default: automatic); format json (the
//       default: aims.v1.ComplianceReport), html (one page with charts),
//       markdown or csv (&table=results|objectives|trend|open|
//       nonconformities|plan|summary, sent as an attachment)
//
// Authorization: every route needs a token with role viewer or above
// (/v1/report: compliance or above; the POST actions: work nonconformities,
// and a risk acceptance also accept risk) in "Authorization: Bearer
// <token>", or the console's session cookie, when the collector has a
// tokens file (collector/auth/authorizer.h, collector/auth/sessions.h;
// `sessions` may be null: bearer tokens only). The actor of an action is the
// token's name; without a tokens file the body's `actor`, else "anonymous".
//
// Errors: 400 with {"error": "<field>: <reason>"}, 401 without a valid
// token, 403 when its role may not, 404 when a profile or record is
// missing, 409 when the record's order does not allow the action, 500/503
// for storage failures. docs/wire-api.md has the table.
//
// Thread-safety: handlers run on the HTTP server's workers; QueryService is
// thread-safe.
#ifndef AIMS_COLLECTOR_API_HTTP_API_H_
#define AIMS_COLLECTOR_API_HTTP_API_H_

#include "collector/api/compliance_report_service.h"
#include "collector/api/nonconformity_service.h"
#include "collector/api/query_service.h"
#include "collector/auth/authorizer.h"
#include "collector/auth/sessions.h"
#include "common/net/http_server.h"

namespace aims::collector {

void RegisterHttpApi(HttpServer& server, QueryService* queries,
                     NonconformityService* nonconformities,
                     ComplianceReportService* reports,
                     const Authorizer* authorizer,
                     SessionStore* sessions = nullptr);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_API_HTTP_API_H_
