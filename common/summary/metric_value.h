// Building blocks of the metric engines (common/summary/metric_engine.h):
// one MetricValue with its sample size and evidence state. Internal to
// aims_summary.
//
// A value below its minimum count is EVIDENCE_STATE_INSUFFICIENT with value
// NaN; a NaN value (nothing to compute it from) is
// EVIDENCE_STATE_NOT_APPLICABLE; intervals are NaN unless set.
//
// Thread-safety: stateless functions.
#ifndef AIMS_COMMON_SUMMARY_METRIC_VALUE_H_
#define AIMS_COMMON_SUMMARY_METRIC_VALUE_H_

#include <cstdint>
#include <limits>
#include <string>

#include "aims/v1/query.pb.h"

namespace aims::metric_internal {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A count summed as a double, as an integer: sums of valid uint64 counts
// can pass 2^64, where converting back would be undefined.
uint64_t SaturatedCount(double sum);

// `value` computed from `n` samples: OK when finite, else not applicable.
v1::MetricValue Value(std::string name, double value, uint64_t n);

// Too few samples (`n` of them) for the value: NaN, insufficient.
v1::MetricValue Insufficient(std::string name, uint64_t n);

// k / n with its Wilson interval (z: kZ95 unless stated); not applicable
// when n is 0.
v1::MetricValue Proportion(std::string name, uint64_t k, uint64_t n);

// Proportion() when n is 0 (not applicable: a zero denominator) or reaches
// `min`, else Insufficient().
v1::MetricValue ProportionOf(std::string name, uint64_t k, uint64_t n,
                             uint64_t min);

}  // namespace aims::metric_internal

#endif  // AIMS_COMMON_SUMMARY_METRIC_VALUE_H_
