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

// The endings: closed after an effective action, invalid (a false alarm)
// and risk accepted (which reopens when its date passes).
bool Ended(v1::NonconformityStage stage) {
  return stage == v1::NONCONFORMITY_STAGE_CLOSED ||
         stage == v1::NONCONFORMITY_STAGE_INVALID ||
         stage == v1::NONCONFORMITY_STAGE_RISK_ACCEPTED;
}

// When `nc` reached the ending it is in now; never if it is in none.
absl::Time EndedAt(const v1::Nonconformity& nc) {
  absl::Time at = absl::InfiniteFuture();
  for (const v1::Transition& step : nc.history()) {
    if (step.from() == step.to()) continue;  // an update, not a step
    at = Ended(step.to()) ? FromProto(step.at()) : absl::InfiniteFuture();
  }
  return at;
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
    case v1::OBJECTIVE_STATE_POSSIBLE_BREACH:
      result->set_possible_breach_seconds(result->possible_breach_seconds() +
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

// The period a report accounts for and its trend buckets.
struct ReportPeriod {
  absl::Time from;
  absl::Time to;
  // min(to, now): a period that reaches past now is accounted up to now.
  absl::Time end;
  absl::Duration bucket;
  int64_t buckets = 0;
};

absl::StatusOr<ReportPeriod> PeriodOf(
    const v1::ComplianceReportRequest& request, absl::Time now) {
  ReportPeriod p;
  p.to = request.has_to() ? FromProto(request.to()) : now;
  p.from = request.has_from() ? FromProto(request.from())
                              : p.to - absl::Hours(24 * 30);
  if (p.from >= p.to) {
    return absl::InvalidArgumentError(
        absl::StrCat("from: ", FormatRfc3339(p.from),
                     " is not before to: ", FormatRfc3339(p.to)));
  }
  p.bucket = FromProtoDuration(request.bucket());
  if (!request.has_bucket()) {
    const absl::Duration period = p.to - p.from;
    p.bucket = period <= absl::Hours(48)        ? absl::Hours(1)
               : period <= absl::Hours(24 * 62) ? absl::Hours(24)
                                                : absl::Hours(24 * 7);
  }
  if (p.bucket < absl::Minutes(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bucket: ", absl::FormatDuration(p.bucket),
                     " is shorter than the minimum of 1m"));
  }
  absl::Duration remainder;
  p.buckets = absl::IDivDuration(p.to - p.from, p.bucket, &remainder) +
              (remainder > absl::ZeroDuration() ? 1 : 0);
  if (p.buckets > kMaxComplianceReportBuckets) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bucket: ", absl::FormatDuration(p.bucket), " makes ", p.buckets,
        " buckets of the period; the limit is ", kMaxComplianceReportBuckets));
  }
  p.end = std::min(p.to, now);
  return p;
}

// Header and `plan` section: the plan in force at `from`, then each version
// loaded in the period.
void AddPlanVersions(const std::vector<v1::PlanVersionUse>& plans,
                     const ReportPeriod& period, v1::ComplianceReport* report) {
  const v1::PlanVersionUse* in_force = nullptr;
  for (const v1::PlanVersionUse& use : plans) {
    if (FromProto(use.loaded_at()) < period.from) in_force = &use;
  }
  if (in_force != nullptr) *report->add_plan_versions() = *in_force;
  for (const v1::PlanVersionUse& use : plans) {
    const absl::Time at = FromProto(use.loaded_at());
    if (at >= period.from && at < period.end)
      *report->add_plan_versions() = use;
  }
}

// Nonconformities of matching models that matter in the period: opened
// before its end and not ended before its start.
std::vector<const v1::Nonconformity*> RelevantNonconformities(
    const std::vector<v1::Nonconformity>& all,
    const v1::ModelSelector& selector, const ReportPeriod& period) {
  std::vector<const v1::Nonconformity*> relevant;
  for (const v1::Nonconformity& nc : all) {
    if (!Matches(selector, nc.model())) continue;
    if (FromProto(nc.opened_at()) >= period.end) continue;
    if (EndedAt(nc) < period.from) continue;
    relevant.push_back(&nc);
  }
  return relevant;
}

using SeriesKey = std::pair<std::string, std::string>;  // objective, series

// What the `results` section of every objective is built from.
struct ResultsSources {
  const ComplianceReportSources& sources;
  const AuditFacts& facts;
  const v1::ModelSelector& selector;
  const ReportPeriod& period;
  absl::Time now;
  // The series' states now.
  std::map<SeriesKey, const v1::ObjectiveStatus*> current;
  std::map<SeriesKey, std::vector<std::string>> nc_ids_by_series;
};

std::map<SeriesKey, const v1::ObjectiveStatus*> CurrentStates(
    const std::vector<v1::ObjectiveStatus>& states) {
  std::map<SeriesKey, const v1::ObjectiveStatus*> current;
  for (const v1::ObjectiveStatus& s : states)
    current[{s.objective_id(), s.series()}] = &s;
  return current;
}

std::map<SeriesKey, std::vector<std::string>> NonconformityIdsBySeries(
    const std::vector<const v1::Nonconformity*>& relevant) {
  std::map<SeriesKey, std::vector<std::string>> ids;
  for (const v1::Nonconformity* nc : relevant)
    ids[{nc->objective_id(), nc->series()}].push_back(nc->id());
  return ids;
}

// `results` of objective `id`: every series of a matching model that
// changed state on record or has a state now; counted in `totals`.
void AddSeriesResults(const ResultsSources& in, const std::string& id,
                      const std::string& metric, v1::ObjectiveResults* out,
                      v1::ComplianceTotals* totals) {
  std::set<std::string> names;
  auto it = in.facts.changes.find(id);
  if (it != in.facts.changes.end()) {
    for (const auto& [series, changes] : it->second) names.insert(series);
  }
  for (const v1::ObjectiveStatus& s : in.sources.states) {
    if (s.objective_id() == id) names.insert(s.series());
  }
  static const std::vector<StateChange> kNone;
  for (const std::string& series : names) {
    if (!Matches(in.selector, ModelOfSeries(series))) continue;
    const std::vector<StateChange>& changes =
        it != in.facts.changes.end() && it->second.count(series)
            ? it->second.at(series)
            : kNone;
    v1::SeriesResult result = SeriesOverPeriod(metric, series, changes,
                                               in.period.from, in.period.end);
    auto state = in.current.find({id, series});
    if (in.period.end == in.now && state != in.current.end() &&
        state->second->has_last_value()) {
      *result.mutable_last_value() = state->second->last_value();
    }
    auto values = in.sources.values.find({id, series});
    if (values != in.sources.values.end()) {
      for (const v1::MetricPoint& p : values->second) *result.add_values() = p;
    }
    auto ids = in.nc_ids_by_series.find({id, series});
    if (ids != in.nc_ids_by_series.end()) {
      for (const std::string& nc_id : ids->second)
        result.add_nonconformity_ids(nc_id);
    }
    totals->set_series(totals->series() + 1);
    const double evaluated = result.held_seconds() + result.pending_seconds() +
                             result.firing_seconds() +
                             result.insufficient_seconds() +
                             result.possible_breach_seconds();
    if (evaluated > 0 && result.firings() == 0 &&
        result.firing_seconds() == 0) {
      totals->set_series_held(totals->series_held() + 1);
    }
    *out->add_series() = std::move(result);
  }
}

// The "when analysed" text the plan parser writes for an objective that
// gives none (collector/plan/plan_parser.cc, Describe): engineer's
// shorthand ("nonconformity after breaching for 0") that the report words
// for its readers; a text the plan's author wrote is kept as written.
std::string GeneratedWhenAnalysed(const Objective& o) {
  return absl::StrCat(
      "every ", absl::FormatDuration(o.evaluation_interval),
      o.decision == Decision::kSequential ? ", each complete step once" : "",
      "; nonconformity after breaching for ",
      absl::FormatDuration(o.for_duration));
}

std::string PlainWhenAnalysed(const Objective& o) {
  return absl::StrCat(
      "Judged every ", absl::FormatDuration(o.evaluation_interval),
      o.decision == Decision::kSequential ? ", each complete step of data once"
                                          : "",
      "; a nonconformity is opened ",
      o.for_duration <= absl::ZeroDuration()
          ? "as soon as a breach is shown."
          : absl::StrCat("once the breach has lasted ",
                         absl::FormatDuration(o.for_duration), "."));
}

// `objectives` section: an objective of the plan in force as defined.
v1::ObjectiveResults ObjectiveDefinition(const Objective& o) {
  v1::ObjectiveResults out;
  out.set_objective_id(o.id);
  out.set_title(o.title);
  out.set_metric(o.metric);
  out.set_scope(ScopeText(o));
  out.set_comparator(ComparatorText(o.comparator));
  out.set_threshold(o.threshold);
  *out.mutable_window() = ToProtoDuration(o.window);
  *out.mutable_evaluation_interval() = ToProtoDuration(o.evaluation_interval);
  *out.mutable_for_duration() = ToProtoDuration(o.for_duration);
  out.set_min_samples(o.min_samples);
  out.set_severity(o.severity);
  out.set_owner(o.owner);
  for (const std::string& r : o.iso_references) out.add_iso_references(r);
  out.set_what(o.what);
  out.set_method(o.method);
  out.set_when_measured(o.when_measured);
  out.set_when_analysed(o.when_analysed == GeneratedWhenAnalysed(o)
                            ? PlainWhenAnalysed(o)
                            : o.when_analysed);
  out.set_builtin(o.builtin);
  out.set_in_current_plan(true);
  return out;
}

// `objectives` and `results` sections: the plan's objectives for matching
// models, then those a later plan removed that changed state in the period.
void AddObjectiveResults(const ResultsSources& in,
                         v1::ComplianceReport* report) {
  v1::ComplianceTotals* totals = report->mutable_totals();
  std::set<std::string> in_plan;
  if (in.sources.plan != nullptr) {
    for (const Objective& o : in.sources.plan->objectives) {
      in_plan.insert(o.id);
      v1::ObjectiveResults out = ObjectiveDefinition(o);
      AddSeriesResults(in, o.id, o.metric, &out, totals);
      if (out.series_size() == 0 && !Compatible(in.selector, o.model)) continue;
      *report->add_objectives() = std::move(out);
    }
  }
  for (const auto& [id, by_series] : in.facts.changes) {
    if (in_plan.count(id)) continue;
    bool active = false;
    for (const auto& [series, changes] : by_series) {
      for (const StateChange& c : changes)
        active |= c.at >= in.period.from && c.at < in.period.end;
    }
    if (!active) continue;
    v1::ObjectiveResults out;
    out.set_objective_id(id);
    out.set_in_current_plan(false);
    AddSeriesResults(in, id, "", &out, totals);
    if (out.series_size() > 0) *report->add_objectives() = std::move(out);
  }
  totals->set_objectives(report->objectives_size());
}

// Seconds from opening to each acknowledgement and closure, summed.
struct LifecycleSeconds {
  double to_acknowledge = 0;
  double to_close = 0;
};

// One `trend` bucket [start, end): the lifecycle steps in it and the
// nonconformities open at its end.
v1::TrendBucket TrendOf(const std::vector<const v1::Nonconformity*>& relevant,
                        absl::Time start, absl::Time end,
                        LifecycleSeconds* seconds) {
  v1::TrendBucket b;
  *b.mutable_start() = ToProto(start);
  for (const v1::Nonconformity* nc : relevant) {
    const absl::Time opened = FromProto(nc->opened_at());
    if (opened >= start && opened < end) b.set_opened(b.opened() + 1);
    for (const v1::Transition& step : nc->history()) {
      const absl::Time at = FromProto(step.at());
      if (at < start || at >= end) continue;
      // Automatic entries: recurrences (which may reopen the record to
      // acknowledged) and auto-resolutions; the rest are people's steps.
      if (step.actor() == kSystemActor || step.from() >= step.to()) {
        if (absl::StartsWith(step.comment(), kRecurredComment))
          b.set_recurred(b.recurred() + 1);
        if (absl::StartsWith(step.comment(), kAutoResolvedComment))
          b.set_auto_resolved(b.auto_resolved() + 1);
        continue;
      }
      switch (step.to()) {
        case v1::NONCONFORMITY_STAGE_ACKNOWLEDGED:
          b.set_acknowledged(b.acknowledged() + 1);
          seconds->to_acknowledge += absl::ToDoubleSeconds(at - opened);
          break;
        case v1::NONCONFORMITY_STAGE_ACTION_RECORDED:
          b.set_actions_recorded(b.actions_recorded() + 1);
          break;
        case v1::NONCONFORMITY_STAGE_CLOSED:
          b.set_closed(b.closed() + 1);
          seconds->to_close += absl::ToDoubleSeconds(at - opened);
          break;
        case v1::NONCONFORMITY_STAGE_INVALID:
          b.set_invalid(b.invalid() + 1);
          break;
        case v1::NONCONFORMITY_STAGE_RISK_ACCEPTED:
          b.set_risk_accepted(b.risk_accepted() + 1);
          break;
        default:
          break;
      }
    }
    if (opened < end && !Ended(StageBefore(*nc, end))) {
      b.set_open_at_end(b.open_at_end() + 1);
    }
  }
  return b;
}

// `trend` section (9.3) and the lifecycle totals of `summary`.
void AddTrend(const std::vector<const v1::Nonconformity*>& relevant,
              const ReportPeriod& period, v1::ComplianceReport* report) {
  v1::ComplianceTotals* totals = report->mutable_totals();
  LifecycleSeconds seconds;
  for (int64_t k = 0; k < period.buckets; ++k) {
    const absl::Time start = period.from + k * period.bucket;
    if (start >= period.end) break;
    const absl::Time end = std::min(start + period.bucket, period.end);
    v1::TrendBucket* b = report->add_trend();
    *b = TrendOf(relevant, start, end, &seconds);
    totals->set_opened(totals->opened() + b->opened());
    totals->set_acknowledged(totals->acknowledged() + b->acknowledged());
    totals->set_closed(totals->closed() + b->closed());
    totals->set_false_alarms(totals->false_alarms() + b->invalid());
    totals->set_risk_accepted(totals->risk_accepted() + b->risk_accepted());
  }
  if (totals->acknowledged() > 0) {
    totals->set_mean_seconds_to_acknowledge(seconds.to_acknowledge /
                                            totals->acknowledged());
  }
  if (totals->closed() > 0)
    totals->set_mean_seconds_to_close(seconds.to_close / totals->closed());
}

// `nonconformities` and `open` sections: each as it stood at `end`; the
// open (not ended) ones oldest first.
void AddNonconformities(const std::vector<const v1::Nonconformity*>& relevant,
                        absl::Time end, v1::ComplianceReport* report) {
  std::vector<v1::Nonconformity> open;
  for (const v1::Nonconformity* nc : relevant) {
    *report->add_nonconformities() = AsOf(*nc, end);
    if (!Ended(StageBefore(*nc, end))) open.push_back(AsOf(*nc, end));
  }
  std::stable_sort(open.begin(), open.end(),
                   [](const v1::Nonconformity& a, const v1::Nonconformity& b) {
                     return FromProto(a.opened_at()) < FromProto(b.opened_at());
                   });
  for (v1::Nonconformity& nc : open) *report->add_open_items() = std::move(nc);
  report->mutable_totals()->set_open_at_end(report->open_items_size());
}

std::string ModelText(const v1::ModelRef& m) {
  return absl::StrCat(m.name(), "/", m.version(), "/", m.environment());
}

// The value of `key` ("agent=", "slot=") in a series name; empty if none.
std::string SeriesPart(const std::string& series, absl::string_view key) {
  const size_t at = series.find(absl::StrCat(" ", key));
  if (at == std::string::npos) return "";
  const size_t begin = at + 1 + key.size();
  return series.substr(begin, series.find(' ', begin) - begin);
}

// `agents`: the known agents whose ids the report's series ("agent=<id>")
// or evidence report ids ("<id>/<sequence>") name, and for each replica slot
// a series names ("slot=<n>") the agent last seen in it.
void AddAgents(const std::vector<v1::AgentInfo>& known,
               v1::ComplianceReport* report) {
  std::set<std::string> named;
  std::set<std::pair<std::string, uint32_t>> slots;  // model, slot
  for (const v1::ObjectiveResults& o : report->objectives()) {
    for (const v1::SeriesResult& s : o.series()) {
      const std::string id = SeriesPart(s.series(), "agent=");
      if (!id.empty()) named.insert(id);
      uint32_t slot = 0;
      if (absl::SimpleAtoi(SeriesPart(s.series(), "slot="), &slot))
        slots.insert({s.series().substr(0, s.series().find(' ')), slot});
    }
  }
  for (const v1::Nonconformity& nc : report->nonconformities()) {
    for (const std::string& id : nc.evidence().report_ids())
      named.insert(id.substr(0, id.rfind('/')));
  }
  for (const auto& [model, slot] : slots) {
    const v1::AgentInfo* last = nullptr;
    for (const v1::AgentInfo& a : known) {
      if (a.slot() != slot || ModelText(a.model()) != model) continue;
      if (last == nullptr ||
          FromProto(a.last_seen()) > FromProto(last->last_seen())) {
        last = &a;
      }
    }
    if (last != nullptr) named.insert(last->agent().agent_id());
  }
  for (const v1::AgentInfo& a : known) {
    if (named.count(a.agent().agent_id())) *report->add_agents() = a;
  }
}

}  // namespace

absl::StatusOr<v1::ComplianceReport> BuildComplianceReport(
    const v1::ComplianceReportRequest& request,
    const ComplianceReportSources& sources, absl::Time now) {
  absl::StatusOr<ReportPeriod> period = PeriodOf(request, now);
  if (!period.ok()) return period.status();

  v1::ComplianceReport report;
  *report.mutable_from() = ToProto(period->from);
  *report.mutable_to() = ToProto(period->to);
  *report.mutable_generated_at() = ToProto(now);
  report.set_collector_id(sources.collector_id);
  *report.mutable_bucket() = ToProtoDuration(period->bucket);
  *report.mutable_audit() = sources.verify;

  const AuditFacts facts = ReadAudit(sources.audit);
  AddPlanVersions(facts.plans, *period, &report);

  const std::vector<const v1::Nonconformity*> relevant =
      RelevantNonconformities(sources.nonconformities, request.selector(),
                              *period);
  const ResultsSources results{sources,
                               facts,
                               request.selector(),
                               *period,
                               now,
                               CurrentStates(sources.states),
                               NonconformityIdsBySeries(relevant)};
  AddObjectiveResults(results, &report);

  AddTrend(relevant, *period, &report);
  AddNonconformities(relevant, period->end, &report);
  AddAgents(sources.agents, &report);
  return report;
}

}  // namespace aims::collector
