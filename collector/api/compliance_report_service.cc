#include "collector/api/compliance_report_service.h"

#include <algorithm>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "collector/compliance/compliance_report.h"
#include "collector/compliance/report_render.h"
#include "collector/evaluation/objective_series.h"
#include "common/base/grpc_status.h"
#include "common/base/time_util.h"

namespace aims::collector {
namespace {

// Charts draw at most about this many points per series.
constexpr int64_t kChartPoints = 120;

// (objective, series) -> the objective's metric over the requested period,
// in steps of its window or longer, for the report's charts. Coverage
// objectives are computed from the registry, not from windows, and have no
// chart; a period the report will refuse gets no values.
void AddValues(const Plan& plan, const v1::ComplianceReportRequest& request,
               absl::Time now, const QueryService& queries,
               ComplianceReportSources* sources) {
  const absl::Time to = request.has_to() ? FromProto(request.to()) : now;
  const absl::Time from = request.has_from() ? FromProto(request.from())
                                             : to - absl::Hours(24 * 30);
  const absl::Time end = std::min(to, now);
  if (from >= end) return;
  for (const Objective& o : plan.objectives) {
    if (IsCoverageMetric(o.metric)) continue;
    const MetricScope scope = SeriesScope(o);
    const absl::Duration step = absl::Ceil(
        std::max(o.window, (end - from) / kChartPoints), absl::Seconds(1));
    v1::ListModelsRequest models_request;
    *models_request.mutable_selector() = o.model;
    v1::ListModelsResponse models;
    if (!queries.ListModels(models_request, &models).ok()) continue;
    for (const v1::ModelInfo& m : models.models()) {
      if (!Matches(request.selector(), m.model())) continue;
      v1::QueryMetricsRequest q;
      *q.mutable_model() = m.model();
      *q.mutable_from() = ToProto(from);
      *q.mutable_to() = ToProto(end);
      *q.mutable_step() = ToProtoDuration(step);
      q.add_metrics(o.metric);
      v1::QueryMetricsResponse r;
      if (!queries.QueryMetrics(q, &r).ok()) continue;
      for (const v1::MetricPoint& p : r.points()) {
        for (const v1::MetricValue& v : p.values()) {
          if (!JudgedBy(o, scope, v)) continue;
          v1::MetricPoint one;
          *one.mutable_start() = p.start();
          *one.mutable_end() = p.end();
          one.set_backfilled_events(p.backfilled_events());
          one.set_event_count(p.event_count());
          *one.add_values() = v;
          sources->values[{o.id, SeriesName(m.model(), scope, v)}].push_back(
              std::move(one));
        }
      }
    }
  }
}

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 const absl::Status& s) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

}  // namespace

ComplianceReportService::ComplianceReportService(
    std::string collector_id, Evaluator* evaluator,
    const NonconformityService* records, AuditTrail* audit,
    const QueryService* queries, const Clock* clock,
    const Authorizer* authorizer)
    : collector_id_(std::move(collector_id)),
      evaluator_(evaluator),
      records_(records),
      audit_(audit),
      queries_(queries),
      clock_(clock),
      authorizer_(authorizer) {}

absl::Status ComplianceReportService::Report(
    const v1::ComplianceReportRequest& request,
    v1::ComplianceReport* response) const {
  const absl::Time now = clock_->Now();
  ComplianceReportSources sources;
  sources.collector_id = collector_id_;
  // Verify first: records appended after it are still reported, and the
  // verification covers what an auditor can re-check.
  sources.verify = audit_->Verify();
  sources.plan = evaluator_->plan();
  v1::ListObjectiveStatesResponse states;
  records_->ObjectiveStates({}, &states);
  sources.states.assign(states.states().begin(), states.states().end());
  v1::ListNonconformitiesResponse records;
  if (absl::Status s = records_->List({}, &records); !s.ok()) return s;
  sources.nonconformities.assign(records.nonconformities().begin(),
                                 records.nonconformities().end());
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
  v1::ListAgentsResponse agents;
  if (queries_->ListAgents({}, &agents).ok()) {
    sources.agents.assign(agents.agents().begin(), agents.agents().end());
  }
  if (sources.plan != nullptr)
    AddValues(*sources.plan, request, now, *queries_, &sources);
  absl::StatusOr<v1::ComplianceReport> report =
      BuildComplianceReport(request, sources, now);
  if (!report.ok()) return report.status();
  *response = std::move(*report);
  if (router_ != nullptr)
    records_->VerifyFleet(sources.verify, response->mutable_fleet());
  return absl::OkStatus();
}

absl::Status ComplianceReportService::Render(
    const v1::RenderComplianceReportRequest& request,
    v1::RenderedComplianceReport* response) const {
  // A wrong format is refused before the report is built (the fleet's
  // table exists in fleet mode only).
  v1::ComplianceReport probe;
  if (router_ != nullptr) probe.add_fleet();
  if (absl::StatusOr<v1::RenderedComplianceReport> check =
          collector::RenderComplianceReport(probe, request.format(),
                                            request.table());
      !check.ok()) {
    return check.status();
  }
  v1::ComplianceReport report;
  if (absl::Status s = Report(request.report(), &report); !s.ok()) return s;
  absl::StatusOr<v1::RenderedComplianceReport> rendered =
      collector::RenderComplianceReport(report, request.format(),
                                        request.table());
  if (!rendered.ok()) return rendered.status();
  *response = std::move(*rendered);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ComplianceReportService::GetComplianceReport(
    grpc::CallbackServerContext* context,
    const v1::ComplianceReportRequest* request,
    v1::ComplianceReport* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kReport);
  return Finish(context, principal.ok() ? Report(*request, response)
                                        : principal.status());
}

grpc::ServerUnaryReactor* ComplianceReportService::RenderComplianceReport(
    grpc::CallbackServerContext* context,
    const v1::RenderComplianceReportRequest* request,
    v1::RenderedComplianceReport* response) {
  absl::StatusOr<Principal> principal =
      AuthorizeCall(*authorizer_, *context, Permission::kReport);
  return Finish(context, principal.ok() ? Render(*request, response)
                                        : principal.status());
}

}  // namespace aims::collector
