// Compliance report (aims.v1.ComplianceReport): the evidence for one period,
// built from the plan in force, the objective states, the nonconformity
// records and the audit trail.
//
// - 9.1 results per objective series come from the audit trail's
//   "objective_state" records (every state change, including a series'
//   first evaluation): time held, pending, firing, with insufficient
//   evidence and not yet evaluated, in seconds that add up to the period;
//   firings; the value at the last change.
// - 9.3 trends bucket the nonconformities' lifecycle steps (opened,
//   recurred, acknowledged, action recorded, closed, auto-resolved) and count
//   those still open at each bucket's end.
// - Open items are the nonconformities not ended (closed, invalid or risk
//   accepted) at the end of the period, with their stage and history as of
//   then. Invalid ones count as false alarms.
// - Each series carries its metric's values over the period (for charts)
//   when the caller supplies them, and the report lists the agents its
//   series and evidence name, so renderings show pod and host names.
//
// A period that reaches past `now` is accounted up to `now`.
//
// Thread-safety: a pure function of its inputs.
#ifndef AIMS_COLLECTOR_COMPLIANCE_COMPLIANCE_REPORT_H_
#define AIMS_COLLECTOR_COMPLIANCE_COMPLIANCE_REPORT_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "aims/v1/compliance_report.pb.h"
#include "aims/v1/nonconformity.pb.h"
#include "collector/plan/plan.h"

namespace aims::collector {

struct ComplianceReportSources {
  std::string collector_id;
  std::shared_ptr<const Plan> plan;  // may be null (no plan loaded)
  std::vector<v1::ObjectiveStatus> states;
  std::vector<v1::Nonconformity> nonconformities;
  // The whole audit trail in index order.
  std::vector<v1::AuditRecord> audit;
  v1::VerifyAuditResponse verify;
  // Every agent known (for the names of those the report mentions).
  std::vector<v1::AgentInfo> agents;
  // (objective id, series) -> its metric over the period, oldest first.
  std::map<std::pair<std::string, std::string>, std::vector<v1::MetricPoint>>
      values;
};

// INVALID_ARGUMENT names the field: `from` not before `to`, a bucket under
// a minute, or more than kMaxComplianceReportBuckets buckets.
absl::StatusOr<v1::ComplianceReport> BuildComplianceReport(
    const v1::ComplianceReportRequest& request,
    const ComplianceReportSources& sources, absl::Time now);

inline constexpr int kMaxComplianceReportBuckets = 1000;

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_COMPLIANCE_COMPLIANCE_REPORT_H_
