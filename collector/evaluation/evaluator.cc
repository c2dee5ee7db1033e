#include "collector/evaluation/evaluator.h"

#include <cmath>
#include <limits>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "collector/evaluation/window_metrics.h"
#include "common/base/log.h"
#include "common/base/time_util.h"

namespace aims::collector {

struct Evaluator::PassCache {
  // By model name and window length.
  std::map<std::string, absl::StatusOr<WindowMetrics>> windows;
  // By selector (name, version, environment): ListModels reads every
  // model's profile, once per pass instead of once per objective.
  std::map<std::tuple<std::string, std::string, std::string>,
           std::vector<v1::ModelInfo>>
      models;
};

namespace {

constexpr char kSep = '\x1f';
constexpr absl::Duration kResendInterval = absl::Minutes(1);

std::string ModelName(const v1::ModelRef& m) {
  return absl::StrCat(m.name(), "/", m.version(), "/", m.environment());
}

v1::ModelSelector Exactly(const v1::ModelRef& m) {
  v1::ModelSelector s;
  s.set_name(m.name());
  s.set_version(m.version());
  s.set_environment(m.environment());
  return s;
}

MetricScope ScopeOf(const Objective& o) {
  if (o.metric == "precision" && !o.attribute.empty())
    return MetricScope::kGroup;
  absl::StatusOr<MetricScope> scope = ScopeOfMetric(o.metric);
  return scope.ok() ? *scope : MetricScope::kModel;
}

bool Matches(const Objective& o, MetricScope scope, const v1::MetricValue& v) {
  if (v.metric() != o.metric) return false;
  auto filter = [](const std::string& want, const std::string& have) {
    return want.empty() || want == have;
  };
  switch (scope) {
    case MetricScope::kModel:
      return v.feature().empty() && v.attribute().empty();
    case MetricScope::kFeature:
      return !v.feature().empty() && filter(o.feature, v.feature());
    case MetricScope::kGroup:
      return !v.attribute().empty() && !v.group().empty() &&
             filter(o.attribute, v.attribute()) && filter(o.group, v.group());
    case MetricScope::kAttribute:
      return !v.attribute().empty() && filter(o.attribute, v.attribute());
    case MetricScope::kAgent:
      return filter(o.group, v.group());
  }
  return false;
}

std::string SeriesName(const v1::ModelRef& m, MetricScope scope,
                       const v1::MetricValue& v) {
  std::string s = ModelName(m);
  if (!v.feature().empty()) absl::StrAppend(&s, " feature=", v.feature());
  if (scope == MetricScope::kAgent) {
    absl::StrAppend(&s, " agent=", v.group());
  } else if (!v.attribute().empty()) {
    absl::StrAppend(&s, " attribute=", v.attribute());
    if (scope == MetricScope::kGroup) absl::StrAppend(&s, " group=", v.group());
  }
  return s;
}

v1::MetricValue Coverage(const std::string& name, double value, uint64_t n) {
  v1::MetricValue v;
  v.set_metric(name);
  v.set_value(value);
  v.set_sample_size(n);
  v.set_ci_low(std::numeric_limits<double>::quiet_NaN());
  v.set_ci_high(std::numeric_limits<double>::quiet_NaN());
  v.set_state(v1::EVIDENCE_STATE_OK);
  return v;
}

}  // namespace

Evaluator::Evaluator(Storage* storage, AuditTrail* audit,
                     Nonconformities* nonconformities, Notifier* notifier,
                     const Clock* clock)
    : storage_(storage),
      audit_(audit),
      nonconformities_(nonconformities),
      notifier_(notifier),
      clock_(clock) {}

Evaluator::~Evaluator() { Stop(); }

absl::Status Evaluator::Load() {
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
  absl::MutexLock lock(&mu_);
  series_ = std::move(loaded);
  return absl::OkStatus();
}

absl::StatusOr<int> Evaluator::SetPlan(Plan plan, const std::string& actor) {
  auto next = std::make_shared<const Plan>(std::move(plan));
  std::map<std::string, const Objective*> by_id;
  for (const Objective& o : next->objectives) by_id[o.id] = &o;
  absl::MutexLock eval(&eval_mu_);
  absl::MutexLock lock(&mu_);
  std::vector<Mutation> mutations;
  std::vector<AuditEntry> audit;
  std::vector<std::string> dropped;
  std::map<std::string, bool> kept_objectives;
  // Earlier plan versions, by version: the one in force, or (at start-up)
  // those stored that the persisted series were evaluated under.
  std::map<std::string, std::shared_ptr<const Plan>> old_plans;
  if (plan_ != nullptr) old_plans[plan_->version] = plan_;
  for (const auto& [key, s] : series_) {
    auto it = by_id.find(s.status.objective_id());
    if (it == by_id.end() || it->second->hash != s.status.objective_hash()) {
      dropped.push_back(key);
      mutations.push_back({Table::kEvaluation, key, std::nullopt});
      // The series is no longer evaluated from now on: on record, so that
      // reports stop accounting its last state.
      audit.push_back(
          {"objective_state",
           actor,
           {{"objective", s.status.objective_id()},
            {"series", s.status.series()},
            {"from", ObjectiveStateName(s.status.state())},
            {"to", ObjectiveStateName(v1::OBJECTIVE_STATE_UNSPECIFIED)},
            {"reason", it == by_id.end() ? "objective removed by a new plan"
                                         : "objective changed by a new plan"},
            {"plan_version", next->version}}});
      // A firing series of a changed or removed objective: resolve its alert
      // now rather than let the lease run out. Its nonconformity stays open
      // for a person to work through.
      if (s.status.state() != v1::OBJECTIVE_STATE_FIRING) continue;
      const std::string& version = s.status.plan_version();
      if (!old_plans.count(version)) {
        absl::StatusOr<std::string> text =
            storage_->Get(Table::kPlans, version);
        absl::StatusOr<Plan> parsed =
            text.ok() ? ParsePlan(*text, "stored plan " + version.substr(0, 12),
                                  // Accepted once; not limited again.
                                  std::numeric_limits<size_t>::max())
                      : absl::StatusOr<Plan>(text.status());
        old_plans[version] =
            parsed.ok() ? std::make_shared<const Plan>(std::move(*parsed))
                        : nullptr;
      }
      absl::StatusOr<v1::Nonconformity> nc =
          nonconformities_->Get(s.status.nonconformity_id());
      if (old_plans[version] == nullptr || !nc.ok()) continue;
      for (const Objective& old : old_plans[version]->objectives) {
        if (old.id != s.status.objective_id()) continue;
        for (Mutation& m :
             notifier_->AlertMutations(*nc, old, s.status, true, clock_->Now()))
          mutations.push_back(std::move(m));
      }
    } else {
      kept_objectives[s.status.objective_id()] = true;
    }
  }
  int unchanged = 0;
  if (plan_ != nullptr) {
    for (const Objective& o : next->objectives) {
      for (const Objective& old : plan_->objectives) {
        if (old.id == o.id && old.hash == o.hash) ++unchanged;
      }
    }
  } else {
    unchanged = static_cast<int>(kept_objectives.size());
  }
  mutations.push_back({Table::kPlans, next->version, next->text});
  audit.insert(audit.begin(),
               {"plan_version",
                actor,
                {{"version", next->version},
                 {"source", next->source},
                 {"objectives", absl::StrCat(next->objectives.size())},
                 {"unchanged", absl::StrCat(unchanged)},
                 {"series_reset", absl::StrCat(dropped.size())}}});
  if (absl::Status s = audit_->Commit(std::move(mutations), audit); !s.ok())
    return s;
  for (const std::string& key : dropped) series_.erase(key);
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
  notifier_->Wake();
  LogInfo("monitoring plan loaded",
          {{"version", next->version.substr(0, 12)},
           {"source", next->source},
           {"objectives", static_cast<int64_t>(next->objectives.size())},
           {"unchanged", unchanged}});
  return unchanged;
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

int Evaluator::EvaluateDue() {
  absl::MutexLock eval(&eval_mu_);
  std::shared_ptr<const Plan> plan;
  {
    absl::MutexLock lock(&mu_);
    plan = plan_;
  }
  if (plan == nullptr) return 0;
  const absl::Time now = clock_->Now();
  PassCache cache;
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
    EvaluateObjective(o, now, &cache);
  }
  FlushPending();
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
          now - series.last_sent >= kResendInterval) {
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

void Evaluator::EvaluateObjective(const Objective& o, absl::Time now,
                                  PassCache* cache) {
  const MetricScope scope = ScopeOf(o);
  const absl::Time from = now - o.window;
  auto models = cache->models.find(
      {o.model.name(), o.model.version(), o.model.environment()});
  if (models == cache->models.end()) {
    models = cache->models
                 .emplace(std::tuple{o.model.name(), o.model.version(),
                                     o.model.environment()},
                          storage_->ListModels(o.model))
                 .first;
  }
  for (const v1::ModelInfo& info : models->second) {
    const v1::ModelRef& model = info.model();
    // Coverage metrics are computed here; the others are read from the
    // pass's window cache (not copied per objective).
    std::vector<v1::MetricValue> values;
    std::vector<std::string> report_ids;
    const std::vector<v1::MetricValue>* values_in = &values;
    const std::vector<std::string>* ids_in = &report_ids;
    if (o.metric == "model_silence_seconds" ||
        o.metric == "agent_silence_seconds") {
      absl::Time latest = absl::InfinitePast();
      const std::vector<v1::AgentInfo> agents =
          storage_->ListAgents(Exactly(model));
      for (const v1::AgentInfo& a : agents) {
        const absl::Time seen = FromProto(a.last_seen());
        latest = std::max(latest, seen);
        if (o.metric == "agent_silence_seconds" && seen >= from) {
          v1::MetricValue v =
              Coverage(o.metric, absl::ToDoubleSeconds(now - seen), 1);
          v.set_attribute("agent");
          v.set_group(a.agent().agent_id());
          values.push_back(v);
        }
      }
      if (o.metric == "model_silence_seconds" &&
          latest != absl::InfinitePast()) {
        values.push_back(Coverage(o.metric, absl::ToDoubleSeconds(now - latest),
                                  agents.size()));
      }
    } else if (o.metric == "missing_windows") {
      uint64_t missing = 0;
      for (const v1::GapNotice& gap : storage_->ListGaps(Exactly(model))) {
        if (!gap.has_window_end() || FromProto(gap.window_end()) >= from) {
          missing += gap.last_sequence() - gap.first_sequence() + 1;
          report_ids.push_back(
              absl::StrCat(gap.agent_id(), "/", gap.first_sequence(), "-",
                           gap.last_sequence(), " (lost: ", gap.reason(), ")"));
        }
      }
      values.push_back(Coverage(o.metric, static_cast<double>(missing), 1));
    } else if (o.metric == "profile_present") {
      values.push_back(
          Coverage(o.metric, storage_->GetProfile(model).ok() ? 1 : 0, 1));
    } else {
      const std::string key =
          absl::StrCat(ModelName(model), std::string(1, kSep),
                       absl::ToInt64Seconds(o.window));
      auto it = cache->windows.find(key);
      if (it == cache->windows.end()) {
        it =
            cache->windows
                .emplace(key, ComputeWindowMetrics(*storage_, model, from, now))
                .first;
      }
      if (!it->second.ok()) {
        counters_.errors.fetch_add(1);
        LogWarn("evaluation failed",
                {{"objective", o.id},
                 {"model", ModelName(model)},
                 {"error", it->second.status().message()}});
        continue;
      }
      values_in = &it->second->values;
      ids_in = &it->second->report_ids;
    }
    std::map<std::string, bool> seen;
    for (const v1::MetricValue& v : *values_in) {
      if (!Matches(o, scope, v)) continue;
      v1::MetricValue scoped = v;
      if (scope == MetricScope::kAttribute) scoped.clear_group();
      seen[SeriesName(model, scope, scoped)] = true;
      Step(o, model, scoped, *ids_in, from, now);
    }
    // Series that reported before but have no value now lack evidence.
    std::vector<std::pair<std::string, v1::MetricValue>> missing;
    {
      absl::MutexLock lock(&mu_);
      const std::string prefix =
          absl::StrCat(o.id, std::string(1, kSep), ModelName(model));
      for (auto it = series_.lower_bound(prefix);
           it != series_.end() &&
           it->first.compare(0, prefix.size(), prefix) == 0;
           ++it) {
        const v1::ObjectiveStatus& st = it->second.status;
        if (seen.count(st.series()) ||
            !(st.model().name() == model.name() &&
              st.model().version() == model.version() &&
              st.model().environment() == model.environment())) {
          continue;
        }
        v1::MetricValue v =
            Coverage(o.metric, std::numeric_limits<double>::quiet_NaN(), 0);
        v.set_state(v1::EVIDENCE_STATE_INSUFFICIENT);
        v.set_feature(st.feature());
        v.set_attribute(st.attribute());
        v.set_group(st.group());
        missing.emplace_back(st.series(), v);
      }
    }
    for (const auto& [name, v] : missing) Step(o, model, v, {}, from, now);
    // An objective that names its feature / attribute / group (or a model
    // metric) but finds no value has a series with insufficient evidence:
    // a misspelt name or absent data never passes silently.
    const bool named =
        scope == MetricScope::kModel ||
        (scope == MetricScope::kFeature && !o.feature.empty()) ||
        (scope == MetricScope::kAttribute && !o.attribute.empty()) ||
        (scope == MetricScope::kGroup && !o.attribute.empty() &&
         !o.group.empty());
    if (named && seen.empty() && missing.empty()) {
      v1::MetricValue v =
          Coverage(o.metric, std::numeric_limits<double>::quiet_NaN(), 0);
      v.set_state(v1::EVIDENCE_STATE_INSUFFICIENT);
      if (scope == MetricScope::kFeature) v.set_feature(o.feature);
      if (scope == MetricScope::kAttribute || scope == MetricScope::kGroup)
        v.set_attribute(o.attribute);
      if (scope == MetricScope::kGroup) v.set_group(o.group);
      Step(o, model, v, {}, from, now);
    }
  }
}

void Evaluator::Step(const Objective& o, const v1::ModelRef& model,
                     const v1::MetricValue& value,
                     const std::vector<std::string>& report_ids,
                     absl::Time window_start, absl::Time now) {
  counters_.evaluations.fetch_add(1);
  const MetricScope scope = ScopeOf(o);
  const std::string series_name = SeriesName(model, scope, value);
  const std::string key = absl::StrCat(o.id, std::string(1, kSep), series_name);
  // A series is stepped once per pass; should it come again, its pending
  // change must be in force first.
  if (pending_keys_.contains(key)) FlushPending();
  std::shared_ptr<const Plan> plan;
  Series series;
  {
    absl::MutexLock lock(&mu_);
    plan = plan_;
    auto it = series_.find(key);
    if (it != series_.end()) {
      series = it->second;
    } else {
      v1::ObjectiveStatus& st = series.status;
      st.set_objective_id(o.id);
      st.set_series(series_name);
      *st.mutable_model() = model;
      st.set_feature(value.feature());
      st.set_attribute(value.attribute());
      if (scope == MetricScope::kGroup || scope == MetricScope::kAgent) {
        st.set_group(value.group());
      }
      // Unspecified until its first evaluation, which is recorded, so the
      // audit trail tells when each series began to be watched.
      st.set_state(v1::OBJECTIVE_STATE_UNSPECIFIED);
      st.set_objective_hash(o.hash);
    }
  }
  v1::ObjectiveStatus& st = series.status;
  st.set_plan_version(plan->version);
  const v1::ObjectiveState prev = st.state();
  const bool insufficient = value.state() != v1::EVIDENCE_STATE_OK ||
                            !std::isfinite(value.value()) ||
                            value.sample_size() < o.min_samples;
  const bool breach = !insufficient && !o.Holds(value.value());
  *st.mutable_last_evaluated() = ToProto(now);
  *st.mutable_last_value() = value;
  v1::ObjectiveState next = prev;
  if (insufficient) {
    if (prev != v1::OBJECTIVE_STATE_FIRING) {
      next = v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE;
      st.clear_active_since();
    }
  } else if (breach) {
    *st.mutable_last_breach() = ToProto(now);
    if (prev != v1::OBJECTIVE_STATE_PENDING &&
        prev != v1::OBJECTIVE_STATE_FIRING) {
      next = v1::OBJECTIVE_STATE_PENDING;
      *st.mutable_active_since() = ToProto(now);
    }
    if (next == v1::OBJECTIVE_STATE_PENDING &&
        now - FromProto(st.active_since()) >= o.for_duration) {
      next = v1::OBJECTIVE_STATE_FIRING;
      *st.mutable_fired_at() = ToProto(now);
      st.clear_resolved_at();
    }
  } else {
    if (prev == v1::OBJECTIVE_STATE_PENDING ||
        prev == v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE ||
        prev == v1::OBJECTIVE_STATE_UNSPECIFIED) {
      next = v1::OBJECTIVE_STATE_INACTIVE;
      st.clear_active_since();
    } else if (prev == v1::OBJECTIVE_STATE_FIRING &&
               now - FromProto(st.last_breach()) >= o.keep_firing_for) {
      next = v1::OBJECTIVE_STATE_RESOLVED;
      *st.mutable_resolved_at() = ToProto(now);
      st.clear_active_since();
    }
  }
  st.set_state(next);
  const bool changed = next != prev;
  std::vector<AuditEntry> audit;
  if (changed) {
    audit.push_back({"objective_state",
                     kSystemActor,
                     {{"objective", o.id},
                      {"series", series_name},
                      {"from", ObjectiveStateName(prev)},
                      {"to", ObjectiveStateName(next)},
                      {"value", absl::StrCat(value.value())},
                      {"sample_size", absl::StrCat(value.sample_size())},
                      {"threshold", absl::StrCat(ComparatorText(o.comparator),
                                                 " ", o.threshold)},
                      {"plan_version", plan->version}}});
  }
  absl::Status result = absl::OkStatus();
  const bool fired =
      next == v1::OBJECTIVE_STATE_FIRING && prev != v1::OBJECTIVE_STATE_FIRING;
  const bool resolved = next == v1::OBJECTIVE_STATE_RESOLVED &&
                        prev == v1::OBJECTIVE_STATE_FIRING;
  if (changed && !fired && !(resolved && !st.nonconformity_id().empty())) {
    // Written with the pass's other state changes (FlushPending).
    pending_keys_.insert(key);
    pending_.push_back({key, std::move(series), std::move(audit)});
    if (pending_.size() >= kMaxPending) FlushPending();
    return;
  }
  // A nonconformity step commits now: earlier changes first, so that the
  // audit trail keeps the order of evaluation.
  if (fired || resolved) FlushPending();
  if (fired) {
    v1::Evidence evidence;
    *evidence.mutable_value() = value;
    evidence.set_comparator(ComparatorText(o.comparator));
    evidence.set_threshold(o.threshold);
    *evidence.mutable_window_start() = ToProto(window_start);
    *evidence.mutable_window_end() = ToProto(now);
    for (const std::string& id : report_ids) evidence.add_report_ids(id);
    absl::StatusOr<v1::Nonconformity> nc = nonconformities_->OnFiring(
        o, *plan, st, evidence, now, {}, std::move(audit),
        [&](const v1::Nonconformity& nc) {
          st.set_nonconformity_id(nc.id());
          std::vector<Mutation> m = {
              {Table::kEvaluation, key, st.SerializeAsString()}};
          for (auto& x : notifier_->AlertMutations(nc, o, st, false, now))
            m.push_back(x);
          for (auto& x : notifier_->WebhookMutations(
                   nc.occurrences() > 1 ? "nonconformity.recurred"
                                        : "nonconformity.opened",
                   nc, now)) {
            m.push_back(x);
          }
          return m;
        });
    result = nc.status();
    if (nc.ok()) {
      series.last_sent = now;
      if (nc->occurrences() == 1) counters_.nonconformities_opened.fetch_add(1);
      LogInfo("nonconformity",
              {{"id", nc->id()},
               {"objective", o.id},
               {"series", series_name},
               {"value", value.value()},
               {"occurrences", static_cast<int64_t>(nc->occurrences())}});
    }
  } else if (resolved && !st.nonconformity_id().empty()) {
    absl::StatusOr<v1::Nonconformity> nc = nonconformities_->OnResolved(
        st.nonconformity_id(), now, {}, std::move(audit),
        [&](const v1::Nonconformity& nc) {
          std::vector<Mutation> m = {
              {Table::kEvaluation, key, st.SerializeAsString()}};
          for (auto& x : notifier_->AlertMutations(nc, o, st, true, now))
            m.push_back(x);
          for (auto& x :
               notifier_->WebhookMutations("nonconformity.resolved", nc, now)) {
            m.push_back(x);
          }
          return m;
        });
    result = nc.status();
  }
  if (!result.ok()) {
    counters_.errors.fetch_add(1);
    LogWarn("evaluation not recorded; will retry",
            {{"objective", o.id},
             {"series", series_name},
             {"error", result.message()}});
    return;  // in-memory state unchanged, so the next evaluation retries
  }
  if (fired || resolved) notifier_->Wake();
  absl::MutexLock lock(&mu_);
  series_[key] = std::move(series);
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
    if (!collector::Matches(request.selector(), s.status.model())) continue;
    out.push_back(s.status);
  }
  return out;
}

absl::StatusOr<v1::Nonconformity> Evaluator::Transition(
    const v1::TransitionRequest& request) {
  // No evaluation may change the series between the check and the step
  // (e.g. a recurrence just before a closure).
  absl::MutexLock eval(&eval_mu_);
  absl::StatusOr<v1::Nonconformity> nc = nonconformities_->Get(request.id());
  if (!nc.ok()) return nc.status();
  std::optional<v1::ObjectiveStatus> series;
  absl::Duration period = absl::Hours(1);
  {
    absl::MutexLock lock(&mu_);
    auto it = series_.find(
        absl::StrCat(nc->objective_id(), std::string(1, kSep), nc->series()));
    if (it != series_.end()) series = it->second.status;
    if (plan_ != nullptr) {
      for (const Objective& o : plan_->objectives) {
        if (o.id == nc->objective_id()) period = o.effectiveness_period;
      }
    }
  }
  const absl::Time now = clock_->Now();
  absl::StatusOr<v1::Nonconformity> out = nonconformities_->Transition(
      request, now, series ? &*series : nullptr, period,
      [&](const v1::Nonconformity& nc) {
        return notifier_->WebhookMutations(
            absl::StrCat("nonconformity.", StageName(nc.stage())), nc, now);
      });
  if (out.ok()) notifier_->Wake();
  return out;
}

void Evaluator::Start(absl::Duration tick) {
  if (thread_.joinable()) return;
  thread_ = std::thread([this, tick] {
    for (;;) {
      EvaluateDue();
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
