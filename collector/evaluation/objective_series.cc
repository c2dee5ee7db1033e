#include "collector/evaluation/objective_series.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "collector/plan/metric_catalog.h"
#include "common/base/time_util.h"

namespace aims::collector {
namespace {

v1::ModelSelector Exactly(const v1::ModelRef& m) {
  v1::ModelSelector s;
  s.set_name(m.name());
  s.set_version(m.version());
  s.set_environment(m.environment());
  return s;
}

// Coverage metrics count what happened; they have no interval.
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

// Seconds since the model's last report (model_silence_seconds), or per
// replica slot (agent_silence_seconds) since the report of the agent that
// holds it. A slot's holder is expected to report until it leaves
// (deregistered, replaced, expired): its silence counts whatever the window,
// so a crashed agent breaches until it is replaced or expires. A slot whose
// agents all left has 0 (no report is expected), so a breach of it resolves
// and stays resolved with evidence (a nonconformity's review needs it);
// agents without a slot (registered before slots) count while seen within
// the window, under their id. Likewise the model's silence is 0 once every
// agent it had has left: a model stopped cleanly (a demo, a decommission) is
// not silent.
std::vector<v1::MetricValue> SilenceValues(const Objective& o,
                                           const Storage& storage,
                                           const v1::ModelRef& model,
                                           absl::Time from, absl::Time now) {
  std::vector<v1::MetricValue> values;
  absl::Time latest = absl::InfinitePast();
  bool all_left = true;
  const std::vector<v1::AgentInfo> agents = storage.ListAgents(Exactly(model));
  // Per slot: the silence of its holder, or 0 once its agents left.
  std::map<uint32_t, double> slots;
  for (const v1::AgentInfo& a : agents) {
    const absl::Time seen = FromProto(a.last_seen());
    latest = std::max(latest, seen);
    all_left = all_left && a.has_left_at();
    if (o.metric != "agent_silence_seconds") continue;
    if (a.slot() == 0) {
      if (seen < from || a.has_left_at()) continue;
      v1::MetricValue v =
          Coverage(o.metric, absl::ToDoubleSeconds(now - seen), 1);
      v.set_attribute("agent");
      v.set_group(a.agent().agent_id());
      values.push_back(v);
    } else if (!a.has_left_at()) {
      slots[a.slot()] = absl::ToDoubleSeconds(now - seen);
    } else {
      slots.try_emplace(a.slot(), 0.0);
    }
  }
  for (const auto& [slot, silence] : slots) {
    v1::MetricValue v = Coverage(o.metric, silence, 1);
    v.set_attribute("slot");
    v.set_group(absl::StrCat(slot));
    values.push_back(v);
  }
  if (o.metric == "model_silence_seconds" && latest != absl::InfinitePast()) {
    values.push_back(
        Coverage(o.metric, all_left ? 0.0 : absl::ToDoubleSeconds(now - latest),
                 agents.size()));
  }
  return values;
}

// Windows declared lost that ended within the window (or have no end).
v1::MetricValue MissingWindows(const Objective& o, const Storage& storage,
                               const v1::ModelRef& model, absl::Time from,
                               std::vector<std::string>* report_ids) {
  uint64_t missing = 0;
  for (const v1::GapNotice& gap : storage.ListGaps(Exactly(model))) {
    if (!gap.has_window_end() || FromProto(gap.window_end()) >= from) {
      missing += gap.last_sequence() - gap.first_sequence() + 1;
      report_ids->push_back(
          absl::StrCat(gap.agent_id(), "/", gap.first_sequence(), "-",
                       gap.last_sequence(), " (lost: ", gap.reason(), ")"));
    }
  }
  return Coverage(o.metric, static_cast<double>(missing), 1);
}

}  // namespace

std::string ModelName(const v1::ModelRef& m) {
  return absl::StrCat(m.name(), "/", m.version(), "/", m.environment());
}

MetricScope SeriesScope(const Objective& o) {
  if (o.metric == "precision" && !o.attribute.empty())
    return MetricScope::kGroup;
  absl::StatusOr<MetricScope> scope = ScopeOfMetric(o.metric);
  return scope.ok() ? *scope : MetricScope::kModel;
}

bool JudgedBy(const Objective& o, MetricScope scope, const v1::MetricValue& v) {
  if (v.metric() != o.metric) return false;
  // "region" takes every value of the key, "region=eu" that one.
  if (o.slice.empty() ? !v.slice().empty()
                      : !(v.slice() == o.slice ||
                          (o.slice.find('=') == std::string::npos &&
                           absl::StartsWith(v.slice(), o.slice + "=")))) {
    return false;
  }
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
    // "slot=2"; "agent=<id>" for an agent registered before slots.
    absl::StrAppend(&s, " ", v.attribute() == "agent" ? "agent" : "slot", "=",
                    v.group());
  } else if (!v.attribute().empty()) {
    absl::StrAppend(&s, " attribute=", v.attribute());
    if (scope == MetricScope::kGroup) absl::StrAppend(&s, " group=", v.group());
  }
  if (!v.slice().empty()) absl::StrAppend(&s, " slice=", v.slice());
  return s;
}

std::string EpisodeSeries(const Objective& objective,
                          const v1::ModelRef& model) {
  const MetricInfo* info = FindMetric(objective.metric);
  if (info == nullptr || info->kind != MetricKind::kDrift ||
      SeriesScope(objective) != MetricScope::kFeature ||
      !objective.feature.empty()) {
    return "";
  }
  return ModelName(model);
}

std::string SeriesKey(absl::string_view objective_id,
                      absl::string_view series) {
  return absl::StrCat(objective_id, "\x1f", series);
}

bool WaitsForLabels(const Objective& o,
                    const std::vector<v1::MetricValue>& window_values) {
  if (o.min_label_coverage <= 0) return false;
  for (const v1::MetricValue& v : window_values) {
    if (v.metric() != "label_coverage" || !v.slice().empty()) continue;
    // No events: nothing to wait for (the value has no evidence anyway).
    return v.state() == v1::EVIDENCE_STATE_OK &&
           v.value() < o.min_label_coverage;
  }
  return false;
}

v1::MetricValue Withheld(const v1::MetricValue& value) {
  v1::MetricValue v = value;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  v.set_value(nan);
  v.set_ci_low(nan);
  v.set_ci_high(nan);
  v.clear_p_value();
  v.set_state(v1::EVIDENCE_STATE_INSUFFICIENT);
  return v;
}

v1::MetricValue NoEvidence(const std::string& metric) {
  v1::MetricValue v =
      Coverage(metric, std::numeric_limits<double>::quiet_NaN(), 0);
  v.set_state(v1::EVIDENCE_STATE_INSUFFICIENT);
  return v;
}

std::optional<v1::MetricValue> NamedSeriesWithoutValue(const Objective& o,
                                                       MetricScope scope) {
  const bool named =
      scope == MetricScope::kModel ||
      (scope == MetricScope::kFeature && !o.feature.empty()) ||
      (scope == MetricScope::kAttribute && !o.attribute.empty()) ||
      (scope == MetricScope::kGroup && !o.attribute.empty() &&
       !o.group.empty());
  if (!named) return std::nullopt;
  v1::MetricValue v = NoEvidence(o.metric);
  if (scope == MetricScope::kFeature) v.set_feature(o.feature);
  if (scope == MetricScope::kAttribute || scope == MetricScope::kGroup)
    v.set_attribute(o.attribute);
  if (scope == MetricScope::kGroup) v.set_group(o.group);
  // A slice key without values (none reported, or a misspelt key) is one
  // series "slice=region" without evidence.
  v.set_slice(o.slice);
  return v;
}

bool IsCoverageMetric(absl::string_view metric) {
  return metric == "model_silence_seconds" ||
         metric == "agent_silence_seconds" || metric == "missing_windows" ||
         metric == "profile_present";
}

std::vector<v1::MetricValue> CoverageValues(
    const Objective& o, const Storage& storage, const v1::ModelRef& model,
    absl::Time from, absl::Time now, std::vector<std::string>* report_ids) {
  if (o.metric == "model_silence_seconds" ||
      o.metric == "agent_silence_seconds") {
    return SilenceValues(o, storage, model, from, now);
  }
  if (o.metric == "missing_windows") {
    return {MissingWindows(o, storage, model, from, report_ids)};
  }
  if (o.metric == "profile_present") {
    return {Coverage(o.metric, storage.GetProfile(model).ok() ? 1 : 0, 1)};
  }
  return {};
}

}  // namespace aims::collector
