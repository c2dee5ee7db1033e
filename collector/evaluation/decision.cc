#include "collector/evaluation/decision.h"

#include <cmath>

#include "collector/evaluation/sequential_test.h"
#include "common/base/time_util.h"
#include "common/summary/sampling_error.h"

namespace aims::collector {
namespace {

// A usable interval: finite, ordered and not a single point.
bool HasInterval(const v1::MetricValue& v) {
  return std::isfinite(v.ci_low()) && std::isfinite(v.ci_high()) &&
         v.ci_low() < v.ci_high();
}

// True when every value of [low, high] fails the objective.
bool IntervalBeyond(const Objective& o, double low, double high) {
  switch (o.comparator) {
    case Comparator::kLess:
    case Comparator::kLessEqual:
      return !o.Holds(low);
    case Comparator::kGreater:
    case Comparator::kGreaterEqual:
      return !o.Holds(high);
    case Comparator::kEqual:
      return low > o.threshold || high < o.threshold;
    case Comparator::kNotEqual:
      return low == o.threshold && high == o.threshold;
  }
  return false;
}

// Breach means "too high" for < and <=, "too low" for > and >=.
bool BreachIsHigh(Comparator c) {
  return c == Comparator::kLess || c == Comparator::kLessEqual;
}

}  // namespace

bool HasEvidence(const Objective& o, const v1::MetricValue& value) {
  return value.state() == v1::EVIDENCE_STATE_OK &&
         std::isfinite(value.value()) && value.sample_size() >= o.min_samples;
}

Verdict VerdictOf(const Objective& o, const v1::MetricValue& value) {
  if (!HasEvidence(o, value)) return Verdict::kInsufficientEvidence;
  if (o.Holds(value.value())) return Verdict::kHolds;
  if (o.decision == Decision::kPoint || !HasInterval(value) ||
      o.comparator == Comparator::kNotEqual) {
    return Verdict::kBreached;
  }
  return IntervalBeyond(o, value.ci_low(), value.ci_high())
             ? Verdict::kBreached
             : Verdict::kPossibleBreach;
}

std::optional<double> StepExcess(const Objective& o,
                                 const v1::MetricValue& value) {
  if (!HasEvidence(o, value)) return std::nullopt;
  const double se = StandardErrorAt(value, o.threshold);
  if (!std::isfinite(se) || se <= 0) return std::nullopt;
  // The estimate with its bias when nothing changed taken off.
  const double x = value.value() - NullBias(value);
  return BreachIsHigh(o.comparator) ? (x - o.threshold) / se
                                    : (o.threshold - x) / se;
}

Verdict JudgeStep(const Objective& o, const v1::MetricValue& value, double h,
                  absl::Time step_end, v1::ObjectiveStatus* status) {
  status->set_decision(DecisionName(Decision::kSequential));
  status->set_cusum_threshold(h);
  *status->mutable_last_step_end() = ToProto(step_end);
  const std::optional<double> z = StepExcess(o, value);
  if (!z.has_value()) return Verdict::kInsufficientEvidence;
  const double s = CusumStep(status->cusum(), *z, h);
  status->set_cusum(s);
  status->set_steps_judged(status->steps_judged() + 1);
  switch (CusumSignalOf(s, h)) {
    case CusumSignal::kBreach:
      return Verdict::kBreached;
    case CusumSignal::kPossible:
      return Verdict::kPossibleBreach;
    case CusumSignal::kNone:
      return Verdict::kHolds;
  }
  return Verdict::kHolds;
}

void DescribeDecision(const Objective& o, const v1::ObjectiveStatus& status,
                      int series, v1::Evidence* evidence) {
  evidence->set_decision(DecisionName(o.decision));
  switch (o.decision) {
    case Decision::kPoint:
      break;
    case Decision::kInterval:
      // Decided on the interval only where the value had one.
      if (HasInterval(evidence->value()) &&
          o.comparator != Comparator::kNotEqual) {
        evidence->set_confidence(kIntervalConfidence);
      }
      break;
    case Decision::kSequential:
      evidence->set_statistic(status.cusum());
      evidence->set_statistic_threshold(status.cusum_threshold());
      evidence->set_false_alarm_budget(o.FalseAlarmBudgetText());
      evidence->set_steps(status.steps_judged());
      evidence->set_series_compared(series);
      break;
  }
}

}  // namespace aims::collector
