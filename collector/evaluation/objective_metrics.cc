#include "collector/evaluation/objective_metrics.h"

#include <cmath>
#include <map>
#include <string>

#include "absl/time/time.h"
#include "collector/evaluation/evaluator.h"
#include "common/base/time_util.h"

namespace aims::collector {
namespace {

prometheus::MetricFamily Gauge(const std::string& name,
                               const std::string& help) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = prometheus::MetricType::Gauge;
  return f;
}

void Add(prometheus::MetricFamily* family,
         const std::vector<prometheus::ClientMetric::Label>& labels,
         double value) {
  prometheus::ClientMetric m;
  m.label = labels;
  m.gauge.value = value;
  family->metric.push_back(std::move(m));
}

}  // namespace

std::vector<prometheus::MetricFamily> ObjectiveMetricFamilies(
    const std::vector<v1::ObjectiveStatus>& states, const Plan* plan,
    size_t max_series) {
  std::map<std::string, const Objective*> objectives;
  if (plan != nullptr) {
    for (const Objective& o : plan->objectives) objectives[o.id] = &o;
  }
  prometheus::MetricFamily value =
      Gauge("aims_objective_value",
            "Last value of the objective's metric for the series (absent while "
            "evidence is insufficient).");
  prometheus::MetricFamily threshold =
      Gauge("aims_objective_threshold",
            "Threshold the objective's metric is compared with.");
  prometheus::MetricFamily ci_lower =
      Gauge("aims_objective_ci_lower",
            "Lower bound of the value's 95% confidence interval.");
  prometheus::MetricFamily ci_upper =
      Gauge("aims_objective_ci_upper",
            "Upper bound of the value's 95% confidence interval.");
  prometheus::MetricFamily p_value =
      Gauge("aims_objective_p_value", "p-value of the metric's test.");
  prometheus::MetricFamily sample_size = Gauge(
      "aims_objective_sample_size", "Samples the last value was computed on.");
  prometheus::MetricFamily state =
      Gauge("aims_objective_state",
            "1 for the series' evaluation state (inactive, pending, firing, "
            "resolved, insufficient_evidence, possible_breach).");
  prometheus::MetricFamily evaluated =
      Gauge("aims_objective_last_evaluation_timestamp_seconds",
            "Unix time of the series' last evaluation.");
  prometheus::MetricFamily left_out =
      Gauge("aims_collector_objective_series_not_exported",
            "Objective series left out of this exposition by the "
            "--max_exported_series bound.");
  size_t exported = 0;
  size_t skipped = 0;
  for (const v1::ObjectiveStatus& s : states) {
    if (exported >= max_series) {
      ++skipped;
      continue;
    }
    ++exported;
    const v1::MetricValue& v = s.last_value();
    std::vector<prometheus::ClientMetric::Label> labels = {
        {"objective", s.objective_id()},
        {"model", s.model().name()},
        {"model_version", s.model().version()},
        {"environment", s.model().environment()},
        {"metric", v.metric()},
    };
    if (!s.feature().empty()) labels.push_back({"feature", s.feature()});
    // Per-slot coverage objectives: slot="2" (a bounded set: the slots
    // agents lease are reused across rollouts); agent= only for agents
    // registered before slots.
    if (s.attribute() == "slot" || s.attribute() == "agent") {
      labels.push_back({s.attribute(), s.group()});
    } else {
      if (!s.attribute().empty())
        labels.push_back({"attribute", s.attribute()});
      if (!s.group().empty()) labels.push_back({"group", s.group()});
    }
    // Bounded: at most --max_slice_values values and "__other__" per key.
    if (!v.slice().empty()) labels.push_back({"slice", v.slice()});
    const bool valid = v.state() == v1::EVIDENCE_STATE_OK &&
                       std::isfinite(v.value()) &&
                       s.state() != v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE;
    if (valid) {
      Add(&value, labels, v.value());
      if (std::isfinite(v.ci_low()) && std::isfinite(v.ci_high()) &&
          v.ci_low() <= v.ci_high() && (v.ci_low() != 0 || v.ci_high() != 0)) {
        Add(&ci_lower, labels, v.ci_low());
        Add(&ci_upper, labels, v.ci_high());
      }
      if (v.has_p_value()) Add(&p_value, labels, v.p_value());
    }
    Add(&sample_size, labels, static_cast<double>(v.sample_size()));
    auto o = objectives.find(s.objective_id());
    if (o != objectives.end()) Add(&threshold, labels, o->second->threshold);
    if (s.has_last_evaluated()) {
      Add(&evaluated, labels,
          absl::ToDoubleSeconds(FromProto(s.last_evaluated()) -
                                absl::UnixEpoch()));
    }
    std::vector<prometheus::ClientMetric::Label> with_state = labels;
    with_state.push_back({"state", ObjectiveStateName(s.state())});
    Add(&state, with_state, 1);
  }
  Add(&left_out, {}, static_cast<double>(skipped));
  std::vector<prometheus::MetricFamily> out;
  for (prometheus::MetricFamily* f :
       {&value, &threshold, &ci_lower, &ci_upper, &p_value, &sample_size,
        &state, &evaluated, &left_out}) {
    if (!f->metric.empty()) out.push_back(std::move(*f));
  }
  return out;
}

}  // namespace aims::collector
