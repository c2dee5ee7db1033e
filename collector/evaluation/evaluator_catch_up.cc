// The Evaluator's catch-up (evaluator.h, docs/monitoring-plan.md
// "Catch-up"): past windows whose data changed behind the watermark, judged
// again as if their data had arrived live.
#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "collector/evaluation/decision.h"
#include "collector/evaluation/evaluator.h"
#include "collector/evaluation/evaluator_pass.h"
#include "collector/evaluation/objective_series.h"
#include "collector/evaluation/window_metrics.h"
#include "common/base/log.h"
#include "common/base/time_util.h"

namespace aims::collector {
namespace {

// The start of the window of `length` (aligned to multiples of it since the
// Unix epoch) that holds `t`.
absl::Time AlignedStart(absl::Time t, absl::Duration length) {
  return absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), length);
}

std::string FoundBy(bool backfilled) {
  return backfilled ? "catch-up: backfilled data" : "catch-up: late data";
}

}  // namespace

void Evaluator::CatchUp(const Plan& plan, PassCache* cache) {
  for (const v1::ModelRef& model : catch_up_.Models()) {
    // Fleet mode: another collector owns it (the queue waits; a takeover
    // finds it there).
    if (evaluates_ && !evaluates_(model)) continue;
    std::vector<const Objective*> objectives;
    absl::Duration shortest = absl::InfiniteDuration();
    absl::Duration longest = absl::ZeroDuration();
    for (const Objective& o : plan.objectives) {
      if (IsCoverageMetric(o.metric) || !Matches(o.model, model)) continue;
      objectives.push_back(&o);
      shortest = std::min(shortest, o.window);
      longest = std::max(longest, o.window);
    }
    if (objectives.empty() || plan.catch_up_horizon <= absl::ZeroDuration()) {
      catch_up_.Clear(model);  // nothing judges it
      continue;
    }
    const absl::StatusOr<Watermarks::Mark>& mark =
        cache->Mark(&watermarks_, model, plan.silent_after);
    if (!mark.ok()) continue;  // EvaluateOnData logs it
    int dropped = 0;
    const std::optional<CatchUpQueue::Span> span = catch_up_.Next(
        model, cache->now - plan.catch_up_horizon, mark->end,
        std::max(longest, shortest * kMaxCatchUpWindows), &dropped);
    if (dropped > 0) {
      LogWarn("changed windows older than catch_up_horizon not judged",
              {{"model", ModelName(model)},
               {"spans", dropped},
               {"horizon", absl::FormatDuration(plan.catch_up_horizon)}});
    }
    if (!span) continue;
    bool judged = true;
    for (const Objective* o : objectives)
      judged &= CatchUpObjective(plan, *o, model, *span, mark->end, cache);
    if (judged) catch_up_.Done(model, *span);
  }
  // What was noted since the last pass, and what this one judged.
  if (absl::Status s = catch_up_.Persist(); !s.ok()) {
    counters_.errors.fetch_add(1);
    LogWarn("catch-up queue not written; will retry", {{"error", s.message()}});
  }
}

bool Evaluator::CatchUpObjective(const Plan& plan, const Objective& o,
                                 const v1::ModelRef& model,
                                 const CatchUpQueue::Span& span,
                                 absl::Time mark, PassCache* cache) {
  const MetricScope scope = SeriesScope(o);
  // By series: the end of the first window of the current run of breaching
  // windows, and whether the run's breach is on record already.
  struct Run {
    absl::Time since;
    bool recorded = false;
  };
  std::map<std::string, Run> runs;
  for (absl::Time start = AlignedStart(span.from, o.window); start < span.to;
       start += o.window) {
    const absl::Time end = start + o.window;
    // A window not complete yet is the live evaluation's.
    if (end > mark) break;
    const absl::StatusOr<WindowMetrics>& window =
        cache->Window(*storage_, model, start, end);
    if (!window.ok()) {
      counters_.errors.fetch_add(1);
      LogWarn("catch-up evaluation failed",
              {{"objective", o.id},
               {"model", ModelName(model)},
               {"error", window.status().message()}});
      return false;
    }
    // Waiting for labels: judged when they arrive (they queue it again).
    if (WaitsForLabels(o, window->values)) {
      runs.clear();
      continue;
    }
    for (const v1::MetricValue& v : window->values) {
      if (!JudgedBy(o, scope, v)) continue;
      v1::MetricValue scoped = v;
      if (scope == MetricScope::kAttribute) scoped.clear_group();
      const std::string series = SeriesName(model, scope, scoped);
      counters_.evaluations.fetch_add(1);
      // Each window on its own: a sequential objective's past window is
      // decided on its interval (its statistic belongs to the live steps).
      if (VerdictOf(o, scoped) != Verdict::kBreached) {
        runs.erase(series);
        continue;
      }
      Run& run = runs.try_emplace(series, Run{end}).first->second;
      // `for` as live: breached for that long, counted from the end of the
      // run's first window.
      if (run.recorded || end - run.since < o.for_duration) continue;
      run.recorded = true;
      RecordPastBreach(plan, o, model, scoped, start, end, window->report_ids,
                       span.backfilled);
    }
  }
  return true;
}

void Evaluator::RecordPastBreach(const Plan& plan, const Objective& o,
                                 const v1::ModelRef& model,
                                 const v1::MetricValue& value, absl::Time from,
                                 absl::Time to,
                                 const std::vector<std::string>& report_ids,
                                 bool backfilled) {
  const std::string series_name = SeriesName(model, SeriesScope(o), value);
  const std::string key = SeriesKey(o.id, series_name);
  const std::string episode = EpisodeSeries(o, model);
  const absl::Time now = clock_->Now();
  // Earlier changes first, so that the audit trail keeps their order.
  FlushPending();
  AuditEntry found{"catch_up_breach",
                   kSystemActor,
                   {{"objective", o.id},
                    {"series", series_name},
                    {"found_by", FoundBy(backfilled)},
                    {"window_start", FormatRfc3339(from)},
                    {"window_end", FormatRfc3339(to)},
                    {"value", absl::StrCat(value.value())},
                    {"sample_size", absl::StrCat(value.sample_size())},
                    {"threshold", absl::StrCat(ComparatorText(o.comparator),
                                               " ", o.threshold)},
                    {"plan_version", plan.version}}};
  const std::string open = nonconformities_->OpenRecordOf(
      o.id, episode.empty() ? series_name : episode);
  if (!open.empty()) {
    // The breach is on an open record already: said once, no second one.
    found.fields["nonconformity"] = open;
    if (absl::Status s = audit_->Commit({}, {found}); !s.ok()) {
      counters_.errors.fetch_add(1);
      LogWarn("catch-up breach not recorded",
              {{"objective", o.id}, {"error", s.message()}});
    }
    return;
  }
  // The live series' state and value stay as they are: only its identity
  // (and the plan version) go to the record.
  v1::ObjectiveStatus st =
      SeriesInForce(o, model, value, key, series_name).status;
  st.set_plan_version(plan.version);
  *st.mutable_last_value() = value;
  Objective decided = o;
  if (decided.decision == Decision::kSequential)
    decided.decision = Decision::kInterval;
  v1::Evidence evidence;
  *evidence.mutable_value() = value;
  evidence.set_comparator(ComparatorText(o.comparator));
  evidence.set_threshold(o.threshold);
  *evidence.mutable_window_start() = ToProto(from);
  *evidence.mutable_window_end() = ToProto(to);
  for (const std::string& id : report_ids) evidence.add_report_ids(id);
  DescribeDecision(decided, st, 1, &evidence);
  evidence.set_found_by(FoundBy(backfilled));
  absl::StatusOr<v1::Nonconformity> nc = nonconformities_->OnFiring(
      o, plan, st, evidence, now, {}, {found},
      // No alert: nothing fires now. The webhook tells of the record.
      [&](const v1::Nonconformity& nc) {
        return notifier_->WebhookMutations("nonconformity.opened", nc, now);
      },
      episode);
  if (!nc.ok()) {
    counters_.errors.fetch_add(1);
    LogWarn("catch-up nonconformity not recorded",
            {{"objective", o.id},
             {"series", series_name},
             {"error", nc.status().message()}});
    return;
  }
  counters_.nonconformities_opened.fetch_add(1);
  notifier_->Wake();
  LogInfo("nonconformity", {{"id", nc->id()},
                            {"objective", o.id},
                            {"series", series_name},
                            {"value", value.value()},
                            {"found_by", FoundBy(backfilled)},
                            {"window_start", FormatRfc3339(from)}});
}

}  // namespace aims::collector
