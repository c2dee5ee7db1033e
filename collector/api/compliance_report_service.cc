#include "collector/api/compliance_report_service.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "collector/compliance/compliance_report.h"

namespace aims::collector {

ComplianceReportService::ComplianceReportService(
    std::string collector_id, Evaluator* evaluator,
    Nonconformities* nonconformities, AuditTrail* audit, const Clock* clock,
    const Authorizer* authorizer)
    : collector_id_(std::move(collector_id)),
      evaluator_(evaluator),
      nonconformities_(nonconformities),
      audit_(audit),
      clock_(clock),
      authorizer_(authorizer) {}

absl::Status ComplianceReportService::Report(
    const v1::ComplianceReportRequest& request,
    v1::ComplianceReport* response) const {
  ComplianceReportSources sources;
  sources.collector_id = collector_id_;
  // Verify first: records appended after it are still reported, and the
  // verification covers what an auditor can re-check.
  sources.verify = audit_->Verify();
  sources.plan = evaluator_->plan();
  sources.states = evaluator_->States({});
  sources.nonconformities = nonconformities_->List({});
  // Exactly the records verified above when the chain is intact (records
  // appended since are left to the next report); all of them when it is
  // broken, with the report's header saying where.
  const uint64_t limit = sources.verify.intact()
                             ? sources.verify.records_checked()
                             : std::numeric_limits<uint32_t>::max();
  if (limit > 0) {
    sources.audit =
        audit_->List(0, static_cast<uint32_t>(std::min<uint64_t>(
                            limit, std::numeric_limits<uint32_t>::max())));
  }
  absl::StatusOr<v1::ComplianceReport> report =
      BuildComplianceReport(request, sources, clock_->Now());
  if (!report.ok()) return report.status();
  *response = std::move(*report);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ComplianceReportService::GetComplianceReport(
    grpc::CallbackServerContext* context,
    const v1::ComplianceReportRequest* request,
    v1::ComplianceReport* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kReport);
  const absl::Status s =
      principal.ok() ? Report(*request, response) : principal.status();
  auto* reactor = context->DefaultReactor();
  reactor->Finish(s.ok() ? grpc::Status::OK
                         : grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                                        std::string(s.message())));
  return reactor;
}

}  // namespace aims::collector
