#include "collector/compliance/compliance_report.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "collector/compliance/nonconformities.h"
#include "collector/storage/storage.h"
#include "common/base/time_util.h"
#include "simdjson.h"

namespace aims::collector {
namespace {

struct StateChange {
  absl::Time at;
  v1::ObjectiveState to;
  std::string value;
  std::string sample_size;
};

struct AuditFacts {
  // objective id -> series -> changes in time order
  std::map<std::string, std::map<std::string, std::vector<StateChange>>>
      changes;
  std::vector<v1::PlanVersionUse> plans;
};

AuditFacts ReadAudit(const std::vector<v1::AuditRecord>& records) {
  AuditFacts facts;
  simdjson::dom::parser parser;
  for (const v1::AuditRecord& r : records) {
    if (r.kind() != "objective_state" && r.kind() != "plan_version") continue;
    simdjson::dom::element doc;
    if (parser.parse(r.body()).get(doc) != simdjson::SUCCESS) continue;
    auto text = [&](const char* key) {
      std::string_view v;
      return doc[key].get(v) == simdjson::SUCCESS ? std::string(v)
                                                  : std::string();
    };
    if (r.kind() == "plan_version") {
      v1::PlanVersionUse use;
      use.set_version(text("version"));
      *use.mutable_loaded_at() = r.at();
      use.set_actor(r.actor());
      uint32_t n = 0;
      if (absl::SimpleAtoi(text("objectives"), &n)) use.set_objectives(n);
      facts.plans.push_back(std::move(use));
      continue;
    }
    facts.changes[text("objective")][text("series")].push_back(
        {FromProto(r.at()), ObjectiveStateFromName(text("to")), text("value"),
         text("sample_size")});
  }
  return facts;
}

// "credit/v1/prod feature=income" -> model credit, v1, prod.
v1::ModelRef ModelOfSeries(absl::string_view series) {
  std::vector<std::string> parts = absl::StrSplit(
      series.substr(0, series.find(' ')), absl::MaxSplits('/', 2));
  v1::ModelRef m;
  if (parts.size() > 0) m.set_name(parts[0]);
  if (parts.size() > 1) m.set_version(parts[1]);
  if (parts.size() > 2) m.set_environment(parts[2]);
  return m;
}

bool Compatible(const v1::ModelSelector& a, const v1::ModelSelector& b) {
  auto same = [](const std::string& x, const std::string& y) {
    return x.empty() || y.empty() || x == y;
  };
  return same(a.name(), b.name()) && same(a.version(), b.version()) &&
         same(a.environment(), b.environment());
}

std::string ScopeText(const Objective& o) {
  std::vector<std::string> parts;
  if (!o.feature.empty()) parts.push_back(absl::StrCat("feature=", o.feature));
  if (!o.attribute.empty())
    parts.push_back(absl::StrCat("attribute=", o.attribute));
  if (!o.group.empty()) parts.push_back(absl::StrCat("group=", o.group));
  return absl::StrJoin(parts, " ");
}

// Stage of `nc` just before `t`, from its history.
v1::NonconformityStage StageBefore(const v1::Nonconformity& nc, absl::Time t) {
  v1::NonconformityStage stage = v1::NONCONFORMITY_STAGE_UNSPECIFIED;
  for (const v1::Transition& step : nc.history()) {
    if (FromProto(step.at()) >= t) break;
    stage = step.to();
  }
  return stage;
}

absl::Time ClosedAt(const v1::Nonconformity& nc) {
  for (const v1::Transition& step : nc.history()) {
    if (step.to() == v1::NONCONFORMITY_STAGE_CLOSED &&
        step.from() != v1::NONCONFORMITY_STAGE_CLOSED) {
      return FromProto(step.at());
    }
  }
  return absl::InfiniteFuture();
}

// `nc` as it stood just before `t`: later history dropped.
v1::Nonconformity AsOf(const v1::Nonconformity& nc, absl::Time t) {
  v1::Nonconformity copy = nc;
  copy.clear_history();
  for (const v1::Transition& step : nc.history()) {
    if (FromProto(step.at()) >= t) break;
    *copy.add_history() = step;
  }
  copy.set_stage(StageBefore(nc, t));
  // Occurrences and auto-resolution as of then, from the automatic entries.
  uint32_t occurrences = 1;
  bool auto_resolved = false;
  for (const v1::Transition& step : copy.history()) {
    if (step.actor() != kSystemActor) continue;
    if (absl::StartsWith(step.comment(), kRecurredComment)) {
      ++occurrences;
      auto_resolved = false;
    } else if (absl::StartsWith(step.comment(), kAutoResolvedComment)) {
      auto_resolved = true;
    }
  }
  copy.set_occurrences(occurrences);
  copy.set_auto_resolved(auto_resolved);
  if (!auto_resolved) copy.clear_resolved_at();
  return copy;
}

void Account(v1::SeriesResult* result, v1::ObjectiveState state,
             absl::Time begin, absl::Time end) {
  if (end <= begin) return;
  const double seconds = absl::ToDoubleSeconds(end - begin);
  switch (state) {
    case v1::OBJECTIVE_STATE_INACTIVE:
    case v1::OBJECTIVE_STATE_RESOLVED:
      result->set_held_seconds(result->held_seconds() + seconds);
      break;
    case v1::OBJECTIVE_STATE_PENDING:
      result->set_pending_seconds(result->pending_seconds() + seconds);
      break;
    case v1::OBJECTIVE_STATE_FIRING:
      result->set_firing_seconds(result->firing_seconds() + seconds);
      break;
    case v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE:
      result->set_insufficient_seconds(result->insufficient_seconds() +
                                       seconds);
      break;
    default:
      result->set_unevaluated_seconds(result->unevaluated_seconds() + seconds);
  }
}

v1::SeriesResult SeriesOverPeriod(const std::string& metric,
                                  const std::string& series,
                                  const std::vector<StateChange>& changes,
                                  absl::Time from, absl::Time end) {
  v1::SeriesResult result;
  result.set_series(series);
  v1::ObjectiveState state = v1::OBJECTIVE_STATE_UNSPECIFIED;
  absl::Time since = absl::InfinitePast();
  const StateChange* last = nullptr;
  for (const StateChange& c : changes) {
    if (c.at >= end) break;
    Account(&result, state, std::max(since, from), std::min(c.at, end));
    state = c.to;
    since = c.at;
    last = &c;
    if (c.at >= from && c.to == v1::OBJECTIVE_STATE_FIRING)
      result.set_firings(result.firings() + 1);
  }
  Account(&result, state, std::max(since, from), end);
  result.set_state_at_end(state);
  if (last != nullptr) {
    *result.mutable_last_change() = ToProto(last->at);
    v1::MetricValue* v = result.mutable_last_value();
    v->set_metric(metric);
    double value = 0;
    uint64_t n = 0;
    if (absl::SimpleAtod(last->value, &value)) v->set_value(value);
    if (absl::SimpleAtoi(last->sample_size, &n)) v->set_sample_size(n);
  }
  return result;
}

}  // namespace

absl::StatusOr<v1::ComplianceReport> BuildComplianceReport(
    const v1::ComplianceReportRequest& request,
    const ComplianceReportSources& sources, absl::Time now) {
  const absl::Time to = request.has_to() ? FromProto(request.to()) : now;
  const absl::Time from = request.has_from() ? FromProto(request.from())
                                             : to - absl::Hours(24 * 30);
  if (from >= to) {
    return absl::InvalidArgumentError(
        absl::StrCat("from: ", FormatRfc3339(from),
                     " is not before to: ", FormatRfc3339(to)));
  }
  absl::Duration bucket = FromProtoDuration(request.bucket());
  if (!request.has_bucket()) {
    const absl::Duration period = to - from;
    bucket = period <= absl::Hours(48)        ? absl::Hours(1)
             : period <= absl::Hours(24 * 62) ? absl::Hours(24)
                                              : absl::Hours(24 * 7);
  }
  if (bucket < absl::Minutes(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bucket: ", absl::FormatDuration(bucket),
                     " is shorter than the minimum of 1m"));
  }
  absl::Duration remainder;
  const int64_t buckets = absl::IDivDuration(to - from, bucket, &remainder) +
                          (remainder > absl::ZeroDuration() ? 1 : 0);
  if (buckets > kMaxComplianceReportBuckets) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bucket: ", absl::FormatDuration(bucket), " makes ", buckets,
        " buckets of the period; the limit is ", kMaxComplianceReportBuckets));
  }
  const absl::Time end = std::min(to, now);
  const v1::ModelSelector& selector = request.selector();

  v1::ComplianceReport report;
  *report.mutable_from() = ToProto(from);
  *report.mutable_to() = ToProto(to);
  *report.mutable_generated_at() = ToProto(now);
  report.set_collector_id(sources.collector_id);
  *report.mutable_bucket() = ToProtoDuration(bucket);
  *report.mutable_audit() = sources.verify;

  AuditFacts facts = ReadAudit(sources.audit);
  // The plan in force at `from`, then each version loaded in the period.
  const v1::PlanVersionUse* in_force = nullptr;
  for (const v1::PlanVersionUse& use : facts.plans) {
    if (FromProto(use.loaded_at()) < from) in_force = &use;
  }
  if (in_force != nullptr) *report.add_plan_versions() = *in_force;
  for (const v1::PlanVersionUse& use : facts.plans) {
    const absl::Time at = FromProto(use.loaded_at());
    if (at >= from && at < end) *report.add_plan_versions() = use;
  }

  // Nonconformities of matching models that matter in the period.
  std::vector<const v1::Nonconformity*> relevant;
  for (const v1::Nonconformity& nc : sources.nonconformities) {
    if (!Matches(selector, nc.model())) continue;
    if (FromProto(nc.opened_at()) >= end) continue;
    if (ClosedAt(nc) < from) continue;
    relevant.push_back(&nc);
  }
  std::map<std::pair<std::string, std::string>, std::vector<std::string>>
      nc_ids_by_series;
  for (const v1::Nonconformity* nc : relevant) {
    nc_ids_by_series[{nc->objective_id(), nc->series()}].push_back(nc->id());
  }

  std::map<std::pair<std::string, std::string>, const v1::ObjectiveStatus*>
      current;
  for (const v1::ObjectiveStatus& s : sources.states)
    current[{s.objective_id(), s.series()}] = &s;

  v1::ComplianceTotals* totals = report.mutable_totals();
  auto add_series = [&](v1::ObjectiveResults* out, const std::string& id,
                        const std::string& metric) {
    std::set<std::string> names;
    auto it = facts.changes.find(id);
    if (it != facts.changes.end()) {
      for (const auto& [series, changes] : it->second) names.insert(series);
    }
    for (const v1::ObjectiveStatus& s : sources.states) {
      if (s.objective_id() == id) names.insert(s.series());
    }
    static const std::vector<StateChange> kNone;
    for (const std::string& series : names) {
      if (!Matches(selector, ModelOfSeries(series))) continue;
      const std::vector<StateChange>& changes =
          it != facts.changes.end() && it->second.count(series)
              ? it->second.at(series)
              : kNone;
      v1::SeriesResult result =
          SeriesOverPeriod(metric, series, changes, from, end);
      auto state = current.find({id, series});
      if (end == now && state != current.end() &&
          state->second->has_last_value()) {
        *result.mutable_last_value() = state->second->last_value();
      }
      auto ids = nc_ids_by_series.find({id, series});
      if (ids != nc_ids_by_series.end()) {
        for (const std::string& nc_id : ids->second)
          result.add_nonconformity_ids(nc_id);
      }
      totals->set_series(totals->series() + 1);
      const double evaluated =
          result.held_seconds() + result.pending_seconds() +
          result.firing_seconds() + result.insufficient_seconds();
      if (evaluated > 0 && result.firings() == 0 &&
          result.firing_seconds() == 0) {
        totals->set_series_held(totals->series_held() + 1);
      }
      *out->add_series() = std::move(result);
    }
  };

  std::set<std::string> in_plan;
  if (sources.plan != nullptr) {
    for (const Objective& o : sources.plan->objectives) {
      in_plan.insert(o.id);
      v1::ObjectiveResults out;
      out.set_objective_id(o.id);
      out.set_title(o.title);
      out.set_metric(o.metric);
      out.set_scope(ScopeText(o));
      out.set_comparator(ComparatorText(o.comparator));
      out.set_threshold(o.threshold);
      *out.mutable_window() = ToProtoDuration(o.window);
      *out.mutable_evaluation_interval() =
          ToProtoDuration(o.evaluation_interval);
      *out.mutable_for_duration() = ToProtoDuration(o.for_duration);
      out.set_min_samples(o.min_samples);
      out.set_severity(o.severity);
      out.set_owner(o.owner);
      for (const std::string& r : o.iso_references) out.add_iso_references(r);
      out.set_what(o.what);
      out.set_method(o.method);
      out.set_when_measured(o.when_measured);
      out.set_when_analysed(o.when_analysed);
      out.set_builtin(o.builtin);
      out.set_in_current_plan(true);
      add_series(&out, o.id, o.metric);
      if (out.series_size() == 0 && !Compatible(selector, o.model)) continue;
      *report.add_objectives() = std::move(out);
    }
  }
  // Objectives a later plan removed, while they changed state in the period.
  for (const auto& [id, by_series] : facts.changes) {
    if (in_plan.count(id)) continue;
    bool active = false;
    for (const auto& [series, changes] : by_series) {
      for (const StateChange& c : changes) active |= c.at >= from && c.at < end;
    }
    if (!active) continue;
    v1::ObjectiveResults out;
    out.set_objective_id(id);
    out.set_in_current_plan(false);
    add_series(&out, id, "");
    if (out.series_size() > 0) *report.add_objectives() = std::move(out);
  }
  totals->set_objectives(report.objectives_size());

  // 9.3 trends and totals.
  double to_ack = 0, to_close = 0;
  for (int64_t k = 0; k < buckets; ++k) {
    const absl::Time b_start = from + k * bucket;
    if (b_start >= end) break;
    const absl::Time b_end = std::min(b_start + bucket, end);
    v1::TrendBucket* b = report.add_trend();
    *b->mutable_start() = ToProto(b_start);
    for (const v1::Nonconformity* nc : relevant) {
      const absl::Time opened = FromProto(nc->opened_at());
      if (opened >= b_start && opened < b_end) b->set_opened(b->opened() + 1);
      for (const v1::Transition& step : nc->history()) {
        const absl::Time at = FromProto(step.at());
        if (at < b_start || at >= b_end) continue;
        // Automatic entries: recurrences (which may reopen the record to
        // acknowledged) and auto-resolutions; the rest are people's steps.
        if (step.actor() == kSystemActor || step.from() >= step.to()) {
          if (absl::StartsWith(step.comment(), kRecurredComment))
            b->set_recurred(b->recurred() + 1);
          if (absl::StartsWith(step.comment(), kAutoResolvedComment))
            b->set_auto_resolved(b->auto_resolved() + 1);
          continue;
        }
        switch (step.to()) {
          case v1::NONCONFORMITY_STAGE_ACKNOWLEDGED:
            b->set_acknowledged(b->acknowledged() + 1);
            to_ack += absl::ToDoubleSeconds(at - opened);
            break;
          case v1::NONCONFORMITY_STAGE_ACTION_RECORDED:
            b->set_actions_recorded(b->actions_recorded() + 1);
            break;
          case v1::NONCONFORMITY_STAGE_CLOSED:
            b->set_closed(b->closed() + 1);
            to_close += absl::ToDoubleSeconds(at - opened);
            break;
          default:
            break;
        }
      }
      if (opened < b_end &&
          StageBefore(*nc, b_end) != v1::NONCONFORMITY_STAGE_CLOSED) {
        b->set_open_at_end(b->open_at_end() + 1);
      }
    }
    totals->set_opened(totals->opened() + b->opened());
    totals->set_acknowledged(totals->acknowledged() + b->acknowledged());
    totals->set_closed(totals->closed() + b->closed());
  }
  if (totals->acknowledged() > 0)
    totals->set_mean_seconds_to_acknowledge(to_ack / totals->acknowledged());
  if (totals->closed() > 0)
    totals->set_mean_seconds_to_close(to_close / totals->closed());

  std::vector<v1::Nonconformity> open;
  for (const v1::Nonconformity* nc : relevant) {
    *report.add_nonconformities() = AsOf(*nc, end);
    if (StageBefore(*nc, end) != v1::NONCONFORMITY_STAGE_CLOSED)
      open.push_back(AsOf(*nc, end));
  }
  std::stable_sort(open.begin(), open.end(),
                   [](const v1::Nonconformity& a, const v1::Nonconformity& b) {
                     return FromProto(a.opened_at()) < FromProto(b.opened_at());
                   });
  for (v1::Nonconformity& nc : open) *report.add_open_items() = std::move(nc);
  totals->set_open_at_end(report.open_items_size());
  return report;
}

}  // namespace aims::collector
