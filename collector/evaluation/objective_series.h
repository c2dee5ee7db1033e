// The series of an objective: which metric values it judges, the series
// each value belongs to (what a value says about it is decision.h), and the
// values of the built-in coverage metrics (model and agent silence, lost
// windows, reference profile), which come from the registry rather than from
// stored windows.
//
// A series is one matching model, and one feature / attribute / group /
// agent replica slot where the metric has them. Its name reads model, then
// scope: "credit/v1/prod feature=income", "credit/v1/prod attribute=gender
// group=f", "credit/v1/prod slot=1" (slots: Storage::RegisterAgentInSlot).
// An objective with a slice has one series per slice value, named after the
// rest: "credit/v1/prod slice=region=eu" (MetricValue.slice).
//
// Thread-safety: stateless functions over a thread-safe Storage.
#ifndef AIMS_COLLECTOR_EVALUATION_OBJECTIVE_SERIES_H_
#define AIMS_COLLECTOR_EVALUATION_OBJECTIVE_SERIES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "aims/v1/query.pb.h"
#include "collector/evaluation/decision.h"
#include "collector/evaluation/transition.h"
#include "collector/plan/plan.h"
#include "collector/storage/storage.h"

namespace aims::collector {

// "name/version/environment".
std::string ModelName(const v1::ModelRef& model);

// What `objective`'s series are per model: its metric's scope, except that
// precision is per group when the objective names an attribute.
MetricScope SeriesScope(const Objective& objective);

// True when `value` is of `objective`'s metric and passes its feature /
// attribute / group filters (`scope` = SeriesScope(objective)).
bool JudgedBy(const Objective& objective, MetricScope scope,
              const v1::MetricValue& value);

std::string SeriesName(const v1::ModelRef& model, MetricScope scope,
                       const v1::MetricValue& value);

// A drift objective over every feature raises one nonconformity per breach
// episode, listing the features, instead of one per feature: the series of
// that record, the model's name ("credit/v1/prod"); "" for any other
// objective (one record per series).
std::string EpisodeSeries(const Objective& objective,
                          const v1::ModelRef& model);

// The key of a series in the evaluator's state and Table::kEvaluation:
// objective id, 0x1f, series name.
std::string SeriesKey(absl::string_view objective_id, absl::string_view series);

// A value of `metric` with insufficient evidence, for a series that has no
// value now (set its feature / attribute / group).
v1::MetricValue NoEvidence(const std::string& metric);

// The one series `objective` names outright (its feature, attribute and
// group, or a model-level metric), with insufficient evidence: for a model
// where it finds no value at all, so that a misspelt name or absent data
// never passes silently. nullopt when the objective names no single series.
std::optional<v1::MetricValue> NamedSeriesWithoutValue(
    const Objective& objective, MetricScope scope);

// True when `objective` has a min_label_coverage that the window's
// label_coverage (model-wide, among `window_values`) shows is not reached
// yet: its values are withheld (waiting for labels).
bool WaitsForLabels(const Objective& objective,
                    const std::vector<v1::MetricValue>& window_values);

// `value` not judged yet: insufficient evidence, no value or interval (its
// scope and sample size kept).
v1::MetricValue Withheld(const v1::MetricValue& value);

// model_silence_seconds, agent_silence_seconds, missing_windows and
// profile_present: computed by CoverageValues, not by the metric engines.
bool IsCoverageMetric(absl::string_view metric);

// The values of `objective`'s coverage metric for `model` at `now`, over
// [from, now) where the metric has a window. `report_ids` receives the lost
// windows counted by missing_windows ("agent/first-last (lost: reason)").
std::vector<v1::MetricValue> CoverageValues(
    const Objective& objective, const Storage& storage,
    const v1::ModelRef& model, absl::Time from, absl::Time now,
    std::vector<std::string>* report_ids);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_EVALUATION_OBJECTIVE_SERIES_H_
