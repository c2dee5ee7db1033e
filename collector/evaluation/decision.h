// Decisions: what a series' value says about its objective, by the
// objective's `decision` (docs/metrics.md, "Decisions").
//
//  - point: breached when the value is beyond the threshold.
//  - interval: breached when the value's 95 % interval lies wholly beyond
//    the threshold (for `<=`: ci_low > t; for `>=`: ci_high < t; for `==`:
//    the interval excludes t); a possible breach when the value is beyond
//    but the interval is not. A value without an interval (NaN bounds, or
//    ci_low == ci_high) and `!=` are decided on the point.
//  - sequential: each step's value gives the standardized excess over the
//    threshold z = (x - NullBias(x) - t) / StandardErrorAt(x, t) (mirrored
//    for `>=` and `>`), which a CUSUM accumulates (sequential_test.h); the
//    statistic's signal is the verdict. A step without evidence leaves the
//    statistic as it was.
//
// Every decision first asks for evidence: a value that is missing, not
// applicable, not finite or rests on fewer than min_samples is insufficient.
//
// Thread-safety: pure functions.
#ifndef AIMS_COLLECTOR_EVALUATION_DECISION_H_
#define AIMS_COLLECTOR_EVALUATION_DECISION_H_

#include <optional>

#include "absl/time/time.h"
#include "aims/v1/nonconformity.pb.h"
#include "aims/v1/query.pb.h"
#include "collector/evaluation/transition.h"
#include "collector/plan/plan.h"

namespace aims::collector {

// The confidence of the intervals the interval decision reads (the metric
// engines' intervals are 95 %).
inline constexpr double kIntervalConfidence = 0.95;

// True when `value` can show anything about `objective`.
bool HasEvidence(const Objective& objective, const v1::MetricValue& value);

// The verdict of a point or interval objective on one window's value (a
// sequential objective's value is judged by JudgeStep instead; here it is
// decided on the interval).
Verdict VerdictOf(const Objective& objective, const v1::MetricValue& value);

// The standardized excess of a step's value over the threshold, or nullopt
// when the value has no evidence or no sampling model (e.g. a drift value
// without reference_size and bins).
std::optional<double> StepExcess(const Objective& objective,
                                 const v1::MetricValue& value);

// One sequential step of a series: advances `status`' statistic (cusum,
// cusum_threshold = `h`, steps_judged, last_step_end = `step_end`) with
// `value`, the series' value over the step, and returns the verdict. A
// step without evidence leaves the statistic unchanged and is
// insufficient evidence.
Verdict JudgeStep(const Objective& objective, const v1::MetricValue& value,
                  double h, absl::Time step_end, v1::ObjectiveStatus* status);

// The nonconformity evidence's decision fields (decision, confidence, or
// the sequential statistic, threshold and budget) for a series in `status`
// that fired, judged with `series` series of its model.
void DescribeDecision(const Objective& objective,
                      const v1::ObjectiveStatus& status, int series,
                      v1::Evidence* evidence);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_EVALUATION_DECISION_H_
