#include "common/summary/metric_value.h"

#include <cmath>

#include "common/summary/statistics.h"

namespace aims::metric_internal {

uint64_t SaturatedCount(double sum) {
  constexpr double kMax = 18446744073709551615.0;  // rounds to 2^64
  return sum >= kMax ? std::numeric_limits<uint64_t>::max()
                     : static_cast<uint64_t>(sum);
}

v1::MetricValue Value(std::string name, double value, uint64_t n) {
  v1::MetricValue m;
  m.set_metric(std::move(name));
  m.set_value(value);
  m.set_ci_low(kNaN);
  m.set_ci_high(kNaN);
  m.set_sample_size(n);
  m.set_state(std::isfinite(value) ? v1::EVIDENCE_STATE_OK
                                   : v1::EVIDENCE_STATE_NOT_APPLICABLE);
  return m;
}

v1::MetricValue Insufficient(std::string name, uint64_t n) {
  v1::MetricValue m = Value(std::move(name), kNaN, n);
  m.set_state(v1::EVIDENCE_STATE_INSUFFICIENT);
  return m;
}

v1::MetricValue Proportion(std::string name, uint64_t k, uint64_t n) {
  if (n == 0) return Value(std::move(name), kNaN, 0);
  v1::MetricValue m = Value(std::move(name), static_cast<double>(k) / n, n);
  const Interval ci = WilsonInterval(k, n);
  m.set_ci_low(ci.low);
  m.set_ci_high(ci.high);
  return m;
}

v1::MetricValue ProportionOf(std::string name, uint64_t k, uint64_t n,
                             uint64_t min) {
  if (n > 0 && n < min) return Insufficient(std::move(name), n);
  return Proportion(std::move(name), k, n);
}

}  // namespace aims::metric_internal
