// Monitoring plan: the objectives aims evaluates (ISO/IEC 42001 clause 9.1),
// parsed from YAML and validated with errors that name file, line, column
// and field. The format is documented in docs/monitoring-plan.md; the
// metrics an objective may name are in collector/plan/metric_catalog.h, and
// the YAML parser in plan_parser.cc.
//
// An objective states what must hold: `metric comparator threshold`, e.g.
// `psi <= 0.2` for one feature of one model. It is evaluated per series (a
// matching model, and a feature / attribute / group where the metric has
// them). Built-in coverage objectives (silent agents or models, windows
// reported missing, missing reference profile) are added unless disabled.
//
// How a breach is decided is the objective's `decision` (docs/metrics.md,
// "Decisions"): on the point value, on its interval, or sequentially (a
// CUSUM over consecutive windows within a false-alarm budget). Defaults
// depend on the metric (metric_catalog.h: DefaultDecision,
// DefaultMinSamples).
//
// Thread-safety: plain values.
#ifndef AIMS_COLLECTOR_PLAN_PLAN_H_
#define AIMS_COLLECTOR_PLAN_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "aims/v1/nonconformity.pb.h"
#include "aims/v1/query.pb.h"
#include "collector/plan/names.h"

namespace aims::collector {

// What a metric is computed over, which decides the series of an objective.
enum class MetricScope {
  kModel,      // one value per model (accuracy, latency_p99, ...)
  kFeature,    // per feature (psi, ks_statistic, ...)
  kGroup,      // per attribute and group (selection_rate, ...)
  kAttribute,  // per attribute, across its groups (demographic_parity_ratio)
  kAgent,      // per agent of the model (agent_silence_seconds)
};

// Scope of `metric`, or NOT_FOUND for a name no engine computes.
absl::StatusOr<MetricScope> ScopeOfMetric(absl::string_view metric);

struct Objective {
  std::string id;
  std::string title;
  v1::ModelSelector model;  // empty fields match any
  std::string metric;
  // Scope filters; empty (or "*") means every one the metric reports.
  std::string feature;
  std::string attribute;
  std::string group;
  // Slice scope (performance and data-quality metrics): "region" judges
  // one series per value of slice key region ("region=eu", ...);
  // "region=eu" that value only; empty: the whole model.
  std::string slice;
  Comparator comparator = Comparator::kLessEqual;
  double threshold = 0;
  // Data the metric is computed over: the last `window` of reports, or for
  // a sequential decision each step of `window`.
  absl::Duration window = absl::Minutes(10);
  // Evidence needed besides the engine's own minimum (0: the engine's).
  uint64_t min_samples = 0;
  // Performance metrics: a window whose label_coverage (labelled / labelable)
  // is below it is not judged yet (insufficient evidence, waiting for
  // labels); catch-up judges it once its labels arrive. 0: no wait.
  double min_label_coverage = 0;
  Decision decision = Decision::kPoint;
  // Sequential decisions: at most one false alarm by chance per this period
  // (`false_alarm_budget: 1/30d`), across the objective's series of a model.
  absl::Duration false_alarm_period = absl::Hours(24 * 30);
  absl::Duration for_duration = absl::ZeroDuration();
  absl::Duration keep_firing_for = absl::ZeroDuration();
  absl::Duration evaluation_interval = absl::Seconds(30);
  // How long the objective must hold after a corrective action before its
  // effectiveness can be reviewed (10.2 d).
  absl::Duration effectiveness_period = absl::Hours(1);
  v1::Severity severity = v1::SEVERITY_WARNING;
  std::string owner;
  std::vector<std::string> iso_references;
  // 9.1 answers; derived from the fields above when not given.
  std::string what;
  std::string method;
  std::string when_measured;
  std::string when_analysed;
  bool builtin = false;  // a coverage objective added by aims
  // SHA-256 of the canonical definition: state survives reloads while it
  // is unchanged.
  std::string hash;

  // True when `value comparator threshold` holds.
  bool Holds(double value) const;
  // "1/30d": the false-alarm budget as written in a plan.
  std::string FalseAlarmBudgetText() const;
};

struct Plan {
  std::string source;   // file name, for messages
  std::string version;  // hex SHA-256 of the file's bytes
  std::string text;     // the file's bytes, kept with the version
  // A recurrence within this period of the earlier nonconformity's
  // resolution reopens (or, if closed, links to) it instead of a new one.
  absl::Duration recurrence_period = absl::Hours(24 * 7);
  // The agents' window (their --window): objective windows must be
  // multiples of it, or they could never be filled.
  absl::Duration agent_window = absl::Seconds(10);
  // coverage.silent_after: an agent silent longer no longer holds back the
  // evaluation of its model's windows (the coverage objectives report it).
  absl::Duration silent_after = absl::Minutes(5);
  // catch_up_horizon: how far back (event time, from now) a window that
  // changed behind the watermark - backfilled, late events, late labels -
  // is still judged (docs/monitoring-plan.md, "Catch-up"); 0 disables
  // catch-up.
  absl::Duration catch_up_horizon = absl::Hours(24 * 30);
  // nonconformity_due: how long after its opening the corrective action of
  // a nonconformity is due, by severity (Nonconformity.due_at).
  absl::Duration due_critical = absl::Hours(24 * 3);
  absl::Duration due_warning = absl::Hours(24 * 14);
  absl::Duration due_info = absl::Hours(24 * 30);
  std::vector<Objective> objectives;

  // The due period of `severity` (warning's for an unspecified one).
  absl::Duration DueAfter(v1::Severity severity) const;
};

// The collector's --max_objectives_per_plan default.
inline constexpr size_t kDefaultMaxObjectives = 10000;

// Parses and validates a plan. Errors read
// "<file>:<line>:<column>: <field path>: <what is wrong>"; more than
// `max_objectives` objectives is a LimitError (common/base/limit_error.h)
// naming
// --max_objectives_per_plan.
absl::StatusOr<Plan> ParsePlan(absl::string_view yaml,
                               absl::string_view file_name,
                               size_t max_objectives = kDefaultMaxObjectives);
absl::StatusOr<Plan> LoadPlanFile(
    const std::string& path, size_t max_objectives = kDefaultMaxObjectives);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_PLAN_PLAN_H_
