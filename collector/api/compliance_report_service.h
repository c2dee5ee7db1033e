// ComplianceReportService: serves compliance reports
// (collector/compliance/compliance_report.h) over gRPC, as data
// (GetComplianceReport) and rendered by the collector's one renderer
// (RenderComplianceReport: HTML with charts, Markdown, CSV;
// collector/compliance/report_render.h), and as GET /v1/report on the
// HTTP/JSON API. For each report it reads the whole audit trail, which is
// O(records), and each objective's metric over the period for its charts
// (one QueryMetrics per objective and model, at most about 120 steps);
// reports are rare, human-driven calls.
//
// Thread-safety: safe; it reads thread-safe components.
#ifndef AIMS_COLLECTOR_API_COMPLIANCE_REPORT_SERVICE_H_
#define AIMS_COLLECTOR_API_COMPLIANCE_REPORT_SERVICE_H_

#include <string>

#include "absl/status/status.h"
#include "aims/v1/compliance_report.grpc.pb.h"
#include "collector/api/fleet_router.h"
#include "collector/api/nonconformity_service.h"
#include "collector/api/query_service.h"
#include "collector/auth/authorizer.h"
#include "collector/compliance/audit_trail.h"
#include "collector/evaluation/evaluator.h"
#include "common/base/clock.h"

namespace aims::collector {

class ComplianceReportService final
    : public v1::ComplianceReportService::CallbackService {
 public:
  // `queries` supplies the agents' names and the objectives' values over
  // the period (for charts), `records` the series' states and the
  // nonconformities; in fleet mode both answer for the whole fleet, while
  // the audit trail is this collector's chain, and the report lists every
  // member (SetRouter) with its audit trail's integrity, naming those that
  // did not answer (the report lacks their entries).
  ComplianceReportService(std::string collector_id, Evaluator* evaluator,
                          const NonconformityService* records,
                          AuditTrail* audit, const QueryService* queries,
                          const Clock* clock, const Authorizer* authorizer);

  // Fleet mode. Call before serving.
  void SetRouter(FleetRouter* router) { router_ = router; }

  absl::Status Report(const v1::ComplianceReportRequest& request,
                      v1::ComplianceReport* response) const;
  // The report rendered; INVALID_ARGUMENT names an unknown format or table.
  absl::Status Render(const v1::RenderComplianceReportRequest& request,
                      v1::RenderedComplianceReport* response) const;

  grpc::ServerUnaryReactor* GetComplianceReport(
      grpc::CallbackServerContext* context,
      const v1::ComplianceReportRequest* request,
      v1::ComplianceReport* response) override;
  grpc::ServerUnaryReactor* RenderComplianceReport(
      grpc::CallbackServerContext* context,
      const v1::RenderComplianceReportRequest* request,
      v1::RenderedComplianceReport* response) override;

 private:
  const std::string collector_id_;
  Evaluator* const evaluator_;
  const NonconformityService* const records_;
  AuditTrail* const audit_;
  const QueryService* const queries_;
  const Clock* const clock_;
  const Authorizer* const authorizer_;  // both RPCs need kReport
  FleetRouter* router_ = nullptr;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_API_COMPLIANCE_REPORT_SERVICE_H_
