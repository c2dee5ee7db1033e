#include "collector/evaluation/evaluator.h"

#include <cmath>
#include <limits>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "collector/evaluation/decision.h"
#include "collector/evaluation/evaluator_pass.h"
#include "collector/evaluation/objective_series.h"
#include "collector/evaluation/transition.h"
#include "collector/evaluation/window_metrics.h"
#include "common/base/log.h"
#include "common/base/time_util.h"

namespace aims::collector {

// What installing a plan changes in the series in force.
struct Evaluator::PlanChange {
  std::vector<Mutation> mutations;
  std::vector<AuditEntry> audit;
  // Keys of the series that start over: their objective changed or left.
  std::vector<std::string> dropped;
  // Objectives whose series keep their state.
  std::set<std::string> kept_objectives;
};

namespace {

constexpr absl::Duration kResendInterval = absl::Minutes(1);

// A plan version kept in storage, or null when it cannot be read.
std::shared_ptr<const Plan> StoredPlan(const Storage& storage,
                                       const std::string& version) {
  absl::StatusOr<std::string> text = storage.Get(Table::kPlans, version);
  if (!text.ok()) return nullptr;
  absl::StatusOr<Plan> parsed =
      ParsePlan(*text, "stored plan " + version.substr(0, 12),
                // Accepted once; not limited again.
                std::numeric_limits<size_t>::max());
  if (!parsed.ok()) return nullptr;
  return std::make_shared<const Plan>(std::move(*parsed));
}

// How many objectives of `next` are in `old` with the same definition.
int UnchangedObjectives(const Plan& old, const Plan& next) {
  int unchanged = 0;
  for (const Objective& o : next.objectives) {
    for (const Objective& before : old.objectives) {
      if (before.id == o.id && before.hash == o.hash) ++unchanged;
    }
  }
  return unchanged;
}

AuditEntry PlanVersionRecord(const Plan& plan, const std::string& actor,
                             int unchanged, size_t series_reset) {
  return {"plan_version",
          actor,
          {{"version", plan.version},
           {"source", plan.source},
           {"objectives", absl::StrCat(plan.objectives.size())},
           {"unchanged", absl::StrCat(unchanged)},
           {"series_reset", absl::StrCat(series_reset)}}};
}

AuditEntry StateChangeRecord(const Objective& o, const std::string& series,
                             v1::ObjectiveState from, v1::ObjectiveState to,
                             const v1::MetricValue& value,
                             const std::string& plan_version) {
  return {"objective_state",
          kSystemActor,
          {{"objective", o.id},
           {"series", series},
           {"from", ObjectiveStateName(from)},
           {"to", ObjectiveStateName(to)},
           {"value", absl::StrCat(value.value())},
           {"sample_size", absl::StrCat(value.sample_size())},
           {"threshold",
            absl::StrCat(ComparatorText(o.comparator), " ", o.threshold)},
           {"plan_version", plan_version}}};
}

// The decision behind a state change, for its audit record: the interval
// read, or the sequential statistic and its threshold.
void AddDecision(const Objective& o, const v1::ObjectiveStatus& st,
                 AuditEntry* entry) {
  entry->fields["decision"] = DecisionName(o.decision);
  const v1::MetricValue& v = st.last_value();
  if (o.decision == Decision::kInterval && std::isfinite(v.ci_low()) &&
      std::isfinite(v.ci_high())) {
    entry->fields["interval"] =
        absl::StrCat("[", v.ci_low(), ", ", v.ci_high(), "]");
    entry->fields["confidence"] = absl::StrCat(kIntervalConfidence);
  }
  if (o.decision == Decision::kSequential) {
    entry->fields["statistic"] = absl::StrCat(st.cusum());
    entry->fields["statistic_threshold"] = absl::StrCat(st.cusum_threshold());
    entry->fields["false_alarm_budget"] = o.FalseAlarmBudgetText();
  }
}

}  // namespace

Evaluator::Evaluator(Storage* storage, AuditTrail* audit,
                     Nonconformities* nonconformities, Notifier* notifier,
                     const Clock* clock)
    : storage_(storage),
      audit_(audit),
      nonconformities_(nonconformities),
      notifier_(notifier),
      clock_(clock),
      watermarks_(storage),
      catch_up_(storage) {}

Evaluator::~Evaluator() { Stop(); }

absl::Status Evaluator::Load() {
  // Between passes, so that no pass' write lands after the scan.
  absl::MutexLock eval(&eval_mu_);
  absl::Status bad;
  std::map<std::string, Series> loaded;
  absl::Status s = storage_->Scan(
      Table::kEvaluation, "",
      [&](absl::string_view key, absl::string_view value) {
        Series series;
        if (!series.status.ParseFromArray(value.data(),
                                          static_cast<int>(value.size()))) {
          bad = absl::DataLossError("evaluation state cannot be parsed");
          return false;
        }
        loaded[std::string(key)] = std::move(series);
        return true;
      });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  if (absl::Status q = catch_up_.Load(); !q.ok()) return q;
  absl::MutexLock lock(&mu_);
  series_ = std::move(loaded);
  return absl::OkStatus();
}

absl::StatusOr<int> Evaluator::SetPlan(Plan plan, const std::string& actor) {
  auto next = std::make_shared<const Plan>(std::move(plan));
  absl::MutexLock eval(&eval_mu_);
  absl::MutexLock lock(&mu_);
  PlanChange change = RetireChangedSeries(*next, actor);
  const int unchanged = plan_ != nullptr
                            ? UnchangedObjectives(*plan_, *next)
                            : static_cast<int>(change.kept_objectives.size());
  change.mutations.push_back({Table::kPlans, next->version, next->text});
  change.audit.insert(
      change.audit.begin(),
      PlanVersionRecord(*next, actor, unchanged, change.dropped.size()));
  if (absl::Status s =
          audit_->Commit(std::move(change.mutations), change.audit);
      !s.ok()) {
    return s;
  }
  PutPlanInForce(next, change.dropped, unchanged);
  notifier_->Wake();
  LogInfo("monitoring plan loaded",
          {{"version", next->version.substr(0, 12)},
           {"source", next->source},
           {"objectives", static_cast<int64_t>(next->objectives.size())},
           {"unchanged", unchanged}});
  return unchanged;
}

Evaluator::PlanChange Evaluator::RetireChangedSeries(const Plan& next,
                                                     const std::string& actor) {
  std::map<std::string, const Objective*> by_id;
  for (const Objective& o : next.objectives) by_id[o.id] = &o;
  // Earlier plan versions, by version: the one in force, or (at start-up)
  // those stored that the persisted series were evaluated under.
  std::map<std::string, std::shared_ptr<const Plan>> old_plans;
  if (plan_ != nullptr) old_plans[plan_->version] = plan_;
  PlanChange change;
  for (const auto& [key, s] : series_) {
    auto it = by_id.find(s.status.objective_id());
    const bool removed = it == by_id.end();
    if (!removed && it->second->hash == s.status.objective_hash()) {
      change.kept_objectives.insert(s.status.objective_id());
      continue;
    }
    change.dropped.push_back(key);
    change.mutations.push_back({Table::kEvaluation, key, std::nullopt});
    // The series is no longer evaluated from now on: on record, so that
    // reports stop accounting its last state.
    change.audit.push_back(
        {"objective_state",
         actor,
         {{"objective", s.status.objective_id()},
          {"series", s.status.series()},
          {"from", ObjectiveStateName(s.status.state())},
          {"to", ObjectiveStateName(v1::OBJECTIVE_STATE_UNSPECIFIED)},
          {"reason", removed ? "objective removed by a new plan"
                             : "objective changed by a new plan"},
          {"plan_version", next.version}}});
    // A firing series of a changed or removed objective: resolve its alert
    // now rather than let the lease run out. Its nonconformity stays open
    // for a person to work through.
    if (s.status.state() == v1::OBJECTIVE_STATE_FIRING)
      ResolveRetiredAlert(s.status, &old_plans, &change.mutations);
  }
  return change;
}

void Evaluator::ResolveRetiredAlert(
    const v1::ObjectiveStatus& status,
    std::map<std::string, std::shared_ptr<const Plan>>* old_plans,
    std::vector<Mutation>* mutations) {
  const std::string& version = status.plan_version();
  if (!old_plans->count(version))
    (*old_plans)[version] = StoredPlan(*storage_, version);
  absl::StatusOr<v1::Nonconformity> nc =
      nonconformities_->Get(status.nonconformity_id());
  const std::shared_ptr<const Plan>& old = (*old_plans)[version];
  if (old == nullptr || !nc.ok()) return;
  for (const Objective& o : old->objectives) {
    if (o.id != status.objective_id()) continue;
    for (Mutation& m :
         notifier_->AlertMutations(*nc, o, status, true, clock_->Now()))
      mutations->push_back(std::move(m));
  }
}

void Evaluator::PutPlanInForce(const std::shared_ptr<const Plan>& next,
                               const std::vector<std::string>& dropped,
                               int unchanged) {
  for (const std::string& key : dropped) series_.erase(key);
  // Changed objectives are due at once.
  for (const Objective& o : next->objectives) {
    if (plan_ != nullptr) {
      bool same = false;
      for (const Objective& old : plan_->objectives)
        same |= old.id == o.id && old.hash == o.hash;
      if (!same) last_evaluated_.erase(o.id);
    }
  }
  plan_ = next;
  plan_loaded_at_ = clock_->Now();
  plan_unchanged_ = unchanged;
}

bool Evaluator::has_plan() const {
  absl::MutexLock lock(&mu_);
  return plan_ != nullptr;
}

std::shared_ptr<const Plan> Evaluator::plan() const {
  absl::MutexLock lock(&mu_);
  return plan_;
}

v1::PlanInfo Evaluator::plan_info() const {
  absl::MutexLock lock(&mu_);
  v1::PlanInfo info;
  if (plan_ == nullptr) return info;
  info.set_version(plan_->version);
  info.set_source(plan_->source);
  *info.mutable_loaded_at() = ToProto(plan_loaded_at_);
  info.set_objectives(plan_->objectives.size());
  info.set_unchanged(plan_unchanged_);
  return info;
}

void Evaluator::AwaitPass() { absl::MutexLock eval(&eval_mu_); }

int Evaluator::EvaluateDue() {
  absl::MutexLock eval(&eval_mu_);
  std::shared_ptr<const Plan> plan;
  {
    absl::MutexLock lock(&mu_);
    plan = plan_;
  }
  if (plan == nullptr) return 0;
  const absl::Time now = clock_->Now();
  ReopenExpiredRiskAcceptances(now);
  PassCache cache;
  cache.now = now;
  const uint64_t before = counters_.evaluations.load();
  std::vector<v1::ModelRef> fresh;
  {
    absl::MutexLock lock(&mu_);
    fresh.swap(fresh_models_);
  }
  std::vector<v1::ModelRef> deferred;  // fresh, but evaluated too recently
  for (const Objective& o : plan->objectives) {
    bool has_fresh_data = false;
    for (const v1::ModelRef& m : fresh) has_fresh_data |= Matches(o.model, m);
    {
      absl::MutexLock lock(&mu_);
      auto it = last_evaluated_.find(o.id);
      if (it != last_evaluated_.end()) {
        const absl::Duration since = now - it->second;
        const bool interval_due = since >= o.evaluation_interval;
        const bool data_due =
            has_fresh_data && since >= kMinDataTriggeredInterval;
        if (has_fresh_data && !interval_due && !data_due) {
          for (const v1::ModelRef& m : fresh)
            if (Matches(o.model, m)) deferred.push_back(m);
        }
        if (!interval_due && !data_due) continue;
      }
      last_evaluated_[o.id] = now;
    }
    EvaluateObjective(*plan, o, now, &cache);
  }
  FlushPending();
  CatchUp(*plan, &cache);
  NoteProfileMismatches(cache);
  if (!deferred.empty()) {
    absl::MutexLock lock(&mu_);
    for (const v1::ModelRef& m : deferred) AddFreshLocked(m);
  }
  RenewLeases(*plan, now);
  return static_cast<int>(counters_.evaluations.load() - before);
}

void Evaluator::OnNewData(const v1::ModelRef& model) {
  absl::MutexLock lock(&mu_);
  AddFreshLocked(model);
}

void Evaluator::OnWindowStored(const v1::ModelRef& model, absl::Time start,
                               absl::Time end, WindowOrigin origin) {
  if (origin != WindowOrigin::kLive || end <= watermarks_.Current(model))
    catch_up_.Note(model, start, end, origin);
  OnNewData(model);
}

void Evaluator::AddFreshLocked(const v1::ModelRef& model) {
  for (const v1::ModelRef& m : fresh_models_) {
    if (m.name() == model.name() && m.version() == model.version() &&
        m.environment() == model.environment())
      return;
  }
  fresh_models_.push_back(model);
}

void Evaluator::RenewLeases(const Plan& plan, absl::Time now) {
  if (!notifier_->enabled()) return;
  std::vector<std::pair<std::string, v1::ObjectiveStatus>> due;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, series] : series_) {
      if (series.status.state() == v1::OBJECTIVE_STATE_FIRING &&
          now - series.last_sent >= kResendInterval &&
          (!evaluates_ || evaluates_(series.status.model()))) {
        due.emplace_back(key, series.status);
      }
    }
  }
  bool sent = false;
  for (const auto& [key, status] : due) {
    const Objective* objective = nullptr;
    for (const Objective& o : plan.objectives) {
      if (o.id == status.objective_id()) objective = &o;
    }
    absl::StatusOr<v1::Nonconformity> nc =
        nonconformities_->Get(status.nonconformity_id());
    if (objective == nullptr || !nc.ok()) continue;
    absl::Status s = storage_->Apply(
        notifier_->AlertMutations(*nc, *objective, status, false, now));
    if (!s.ok()) {
      counters_.errors.fetch_add(1);
      LogWarn("alert lease not renewed; will retry",
              {{"objective", objective->id},
               {"series", status.series()},
               {"error", s.message()}});
      continue;
    }
    sent = true;
    absl::MutexLock lock(&mu_);
    auto it = series_.find(key);
    if (it != series_.end()) it->second.last_sent = now;
  }
  if (sent) notifier_->Wake();
}

void Evaluator::EvaluateObjective(const Plan& plan, const Objective& o,
                                  absl::Time now, PassCache* cache) {
  for (const v1::ModelInfo& info : cache->Models(o.model, *storage_)) {
    const v1::ModelRef& model = info.model();
    if (evaluates_ && !evaluates_(model)) continue;  // another's (fleet)
    if (!IsCoverageMetric(o.metric)) {
      EvaluateOnData(plan, o, model, now, cache);
      continue;
    }
    // Coverage metrics come from the registry, up to now.
    const absl::Time from = now - o.window;
    std::vector<std::string> report_ids;
    const std::vector<v1::MetricValue> values =
        CoverageValues(o, *storage_, model, from, now, &report_ids);
    JudgeSeries(plan, o, model, values,
                {.from = from,
                 .to = now,
                 .at = now,
                 .now = now,
                 .report_ids = &report_ids});
  }
}

void Evaluator::EvaluateOnData(const Plan& plan, const Objective& o,
                               const v1::ModelRef& model, absl::Time now,
                               PassCache* cache) {
  const absl::StatusOr<Watermarks::Mark>& mark =
      cache->Mark(&watermarks_, model, plan.silent_after);
  if (!mark.ok()) {
    counters_.errors.fetch_add(1);
    LogWarn("evaluation failed", {{"objective", o.id},
                                  {"model", ModelName(model)},
                                  {"error", mark.status().message()}});
    return;
  }
  // Agent windows longer than the objective's: no window of it is whole.
  const bool usable = mark->agent_window <= o.window;
  if (!usable) {
    WarnOnce(o, model,
             absl::StrCat("the agents' window (",
                          absl::FormatDuration(mark->agent_window),
                          ") is longer than the objective's window (",
                          absl::FormatDuration(o.window),
                          "): its series have insufficient evidence"));
  }
  if (o.decision == Decision::kSequential) {
    JudgeSteps(plan, o, model, mark->end, usable, cache);
    return;
  }
  const absl::Time from = mark->end - o.window;
  const absl::StatusOr<WindowMetrics>& window =
      cache->Window(*storage_, model, from, mark->end);
  if (!window.ok()) {
    counters_.errors.fetch_add(1);
    LogWarn("evaluation failed", {{"objective", o.id},
                                  {"model", ModelName(model)},
                                  {"error", window.status().message()}});
    return;
  }
  static const std::vector<v1::MetricValue> kNone;
  JudgeSeries(plan, o, model, usable ? window->values : kNone,
              {.from = from,
               .to = mark->end,
               .at = now,
               .now = now,
               .report_ids = &window->report_ids});
}

void Evaluator::JudgeSeries(const Plan& plan, const Objective& o,
                            const v1::ModelRef& model,
                            const std::vector<v1::MetricValue>& values,
                            const Judged& judged) {
  const MetricScope scope = SeriesScope(o);
  std::set<std::string> seen;
  Judged gated = judged;
  gated.waiting_for_labels = WaitsForLabels(o, values);
  for (const v1::MetricValue& v : values) {
    if (!JudgedBy(o, scope, v)) continue;
    v1::MetricValue scoped = gated.waiting_for_labels ? Withheld(v) : v;
    if (scope == MetricScope::kAttribute) scoped.clear_group();
    seen.insert(SeriesName(model, scope, scoped));
    Step(plan, o, model, scoped, gated);
  }
  // Series that reported before but have no value now lack evidence.
  Judged without = judged;
  static const std::vector<std::string> kNoReports;
  without.report_ids = &kNoReports;
  const std::vector<v1::MetricValue> missing =
      SeriesWithoutValue(o, model, seen);
  for (const v1::MetricValue& v : missing) Step(plan, o, model, v, without);
  // A misspelt name or absent data never passes silently.
  if (seen.empty() && missing.empty()) {
    if (std::optional<v1::MetricValue> named =
            NamedSeriesWithoutValue(o, scope)) {
      Step(plan, o, model, *named, without);
    }
  }
}

std::vector<v1::MetricValue> Evaluator::SeriesWithoutValue(
    const Objective& o, const v1::ModelRef& model,
    const std::set<std::string>& judged) const {
  std::vector<v1::MetricValue> missing;
  absl::MutexLock lock(&mu_);
  const std::string prefix = SeriesKey(o.id, ModelName(model));
  for (auto it = series_.lower_bound(prefix);
       it != series_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
       ++it) {
    const v1::ObjectiveStatus& st = it->second.status;
    if (judged.count(st.series()) ||
        !(st.model().name() == model.name() &&
          st.model().version() == model.version() &&
          st.model().environment() == model.environment())) {
      continue;
    }
    v1::MetricValue v = NoEvidence(o.metric);
    v.set_feature(st.feature());
    v.set_attribute(st.attribute());
    v.set_group(st.group());
    v.set_slice(st.last_value().slice());
    missing.push_back(std::move(v));
  }
  return missing;
}

void Evaluator::Step(const Plan& plan, const Objective& o,
                     const v1::ModelRef& model, const v1::MetricValue& value,
                     const Judged& judged) {
  const std::string series_name = SeriesName(model, SeriesScope(o), value);
  const std::string key = SeriesKey(o.id, series_name);
  Series series = SeriesInForce(o, model, value, key, series_name);
  v1::ObjectiveStatus& st = series.status;
  if (judged.sequential && st.has_last_step_end() &&
      FromProto(st.last_step_end()) >= judged.to) {
    return;  // judged once already
  }
  counters_.evaluations.fetch_add(1);
  const v1::ObjectiveState previous = st.state();
  st.set_decision(DecisionName(o.decision));
  const Verdict verdict = judged.sequential
                              ? JudgeStep(o, value, judged.h, judged.to, &st)
                              : VerdictOf(o, value);
  const SeriesTransition step =
      NextSeriesState(SeriesStateOf(st), verdict,
                      {o.for_duration, o.keep_firing_for}, judged.at);
  st.set_plan_version(plan.version);
  st.set_waiting_for(judged.waiting_for_labels ? "labels" : "");
  *st.mutable_last_evaluated() = ToProto(judged.now);
  *st.mutable_last_value() = value;
  SetSeriesState(step.next, &st);
  std::vector<AuditEntry> audit;
  if (step.effect != TransitionEffect::kNone) {
    audit.push_back(StateChangeRecord(o, series_name, previous, step.next.state,
                                      value, plan.version));
    AddDecision(o, st, &audit.back());
  }
  const bool opens = step.effect == TransitionEffect::kFired;
  // A firing series without a nonconformity on record resolves as a plain
  // state change.
  const bool resolves = step.effect == TransitionEffect::kResolved &&
                        !st.nonconformity_id().empty();
  // A sequential step always changes what is stored (its statistic).
  if ((step.effect != TransitionEffect::kNone || judged.sequential) && !opens &&
      !resolves) {
    QueueChange(key, std::move(series), std::move(audit));
    return;
  }
  absl::Status recorded = absl::OkStatus();
  if (opens || resolves) {
    // A nonconformity step commits now: earlier changes first, so that the
    // audit trail keeps the order of evaluation.
    FlushPending();
    recorded = opens ? OpenNonconformity(plan, o, key, value, judged,
                                         std::move(audit), &series)
                     : ResolveNonconformity(o, key, judged.now,
                                            std::move(audit), &series);
  }
  if (!recorded.ok()) {
    counters_.errors.fetch_add(1);
    LogWarn("evaluation not recorded; will retry",
            {{"objective", o.id},
             {"series", series_name},
             {"error", recorded.message()}});
    return;  // in-memory state unchanged, so the next evaluation retries
  }
  if (opens || resolves) notifier_->Wake();
  absl::MutexLock lock(&mu_);
  series_[key] = std::move(series);
}

Evaluator::Series Evaluator::SeriesInForce(
    const Objective& o, const v1::ModelRef& model, const v1::MetricValue& value,
    const std::string& key, const std::string& series_name) const {
  // A series stepped again in the same pass (sequential steps) continues
  // from its queued change.
  if (pending_keys_.contains(key)) {
    for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
      if (it->key == key) return it->series;
    }
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = series_.find(key);
    if (it != series_.end()) return it->second;
  }
  Series series;
  v1::ObjectiveStatus& st = series.status;
  st.set_objective_id(o.id);
  st.set_series(series_name);
  *st.mutable_model() = model;
  st.set_feature(value.feature());
  st.set_attribute(value.attribute());
  const MetricScope scope = SeriesScope(o);
  if (scope == MetricScope::kGroup || scope == MetricScope::kAgent) {
    st.set_group(value.group());
  }
  // Unspecified until its first evaluation, which is recorded, so the
  // audit trail tells when each series began to be watched.
  st.set_state(v1::OBJECTIVE_STATE_UNSPECIFIED);
  st.set_objective_hash(o.hash);
  return series;
}

void Evaluator::QueueChange(const std::string& key, Series series,
                            std::vector<AuditEntry> audit) {
  pending_keys_.insert(key);
  pending_.push_back({key, std::move(series), std::move(audit)});
  if (pending_.size() >= kMaxPending) FlushPending();
}

void Evaluator::FlushPending() {
  if (pending_.empty()) return;
  std::vector<Mutation> mutations;
  std::vector<AuditEntry> audit;
  mutations.reserve(pending_.size());
  for (PendingChange& change : pending_) {
    mutations.push_back({Table::kEvaluation, change.key,
                         change.series.status.SerializeAsString()});
    for (AuditEntry& e : change.audit) audit.push_back(std::move(e));
  }
  absl::Status s = audit_->Commit(std::move(mutations), audit);
  if (s.ok()) {
    absl::MutexLock lock(&mu_);
    for (PendingChange& change : pending_) {
      series_[change.key] = std::move(change.series);
    }
  } else {
    // In-memory state unchanged, so the next evaluation retries.
    counters_.errors.fetch_add(pending_.size());
    LogWarn("evaluation not recorded; will retry",
            {{"series", static_cast<int64_t>(pending_.size())},
             {"first", pending_.front().series.status.series()},
             {"error", s.message()}});
  }
  pending_.clear();
  pending_keys_.clear();
}

std::vector<v1::ObjectiveStatus> Evaluator::States(
    const v1::ListObjectiveStatesRequest& request) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::ObjectiveStatus> out;
  for (const auto& [key, s] : series_) {
    if (!request.objective_id().empty() &&
        s.status.objective_id() != request.objective_id()) {
      continue;
    }
    if (!Matches(request.selector(), s.status.model())) continue;
    out.push_back(s.status);
  }
  return out;
}

void Evaluator::Start(absl::Duration tick) {
  if (thread_.joinable()) return;
  thread_ = std::thread([this, tick] {
    for (;;) {
      if (EvaluateDue() > 0 && on_pass_done_) on_pass_done_();
      absl::MutexLock lock(&run_mu_);
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_) {
        return stop_;
      };
      if (run_mu_.AwaitWithTimeout(absl::Condition(&stopping), tick)) return;
    }
  });
}

void Evaluator::Stop() {
  {
    absl::MutexLock lock(&run_mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace aims::collector
