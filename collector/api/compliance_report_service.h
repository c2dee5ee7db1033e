// ComplianceReportService: serves compliance reports
// (collector/compliance/compliance_report.h) over gRPC, and as GET /v1/report
// on the HTTP/JSON API. It reads the whole audit trail for each report, which
// is O(records); reports are rare, human-driven calls.
//
// Thread-safety: safe; it reads thread-safe components.
#ifndef AIMS_COLLECTOR_API_COMPLIANCE_REPORT_SERVICE_H_
#define AIMS_COLLECTOR_API_COMPLIANCE_REPORT_SERVICE_H_

#include <string>

#include "absl/status/status.h"
#include "aims/v1/compliance_report.grpc.pb.h"
#include "collector/auth/authorizer.h"
#include "collector/compliance/audit_trail.h"
#include "collector/compliance/nonconformities.h"
#include "collector/evaluation/evaluator.h"
#include "common/base/clock.h"

namespace aims::collector {

class ComplianceReportService final
    : public v1::ComplianceReportService::CallbackService {
 public:
  ComplianceReportService(std::string collector_id, Evaluator* evaluator,
                          Nonconformities* nonconformities, AuditTrail* audit,
                          const Clock* clock, const Authorizer* authorizer);

  absl::Status Report(const v1::ComplianceReportRequest& request,
                      v1::ComplianceReport* response) const;

  grpc::ServerUnaryReactor* GetComplianceReport(
      grpc::CallbackServerContext* context,
      const v1::ComplianceReportRequest* request,
      v1::ComplianceReport* response) override;

 private:
  const std::string collector_id_;
  Evaluator* const evaluator_;
  Nonconformities* const nonconformities_;
  AuditTrail* const audit_;
  const Clock* const clock_;
  const Authorizer* const authorizer_;  // GetComplianceReport needs kReport
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_API_COMPLIANCE_REPORT_SERVICE_H_
