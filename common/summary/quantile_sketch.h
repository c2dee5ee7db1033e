// QuantileSketch: a mergeable, bounded-memory quantile summary with relative
// error guarantees (the DDSketch construction, see aims.v1.QuantileSketch).
//
// Every quantile it answers is within `relative_accuracy` (relative error) of
// a value of the input at that rank, as long as no bucket has been collapsed;
// memory is at most 2 * max_buckets counters whatever the input size. Merge
// adds bucket counts, so it is exact, associative and commutative.
//
// Thread-safety: not thread-safe; callers serialise access.
#ifndef AIMS_COMMON_SUMMARY_QUANTILE_SKETCH_H_
#define AIMS_COMMON_SUMMARY_QUANTILE_SKETCH_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aims/v1/sketch.pb.h"

namespace aims {

// The bucket of `magnitude` (finite, >= QuantileSketch::kMinIndexable):
// exactly ceil(std::log(magnitude) / log_gamma), the DDSketch index, at a
// fraction of std::log's cost. A polynomial logarithm (absolute error
// below 2e-11) decides unless log(magnitude) lies within 1e-9 of a bucket
// boundary, where both computations could round to different sides; there
// the exact formula is evaluated. Inline: it runs for every numeric value
// of every event.
inline int32_t SketchIndex(double magnitude, double log_gamma,
                           double inv_log_gamma) {
  uint64_t bits;
  std::memcpy(&bits, &magnitude, sizeof bits);
  int64_t exponent = static_cast<int64_t>((bits >> 52) & 0x7ff) - 1023;
  bits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
  double f;  // mantissa in [1, 2), then [sqrt(1/2), sqrt(2))
  std::memcpy(&f, &bits, sizeof f);
  if (f > 1.4142135623730951) {
    f *= 0.5;
    ++exponent;
  }
  // ln f = 2 atanh(s), s = (f - 1) / (f + 1), |s| <= 0.172: the series to
  // s^11 leaves an error below 4e-11.
  const double s = (f - 1) / (f + 1);
  const double s2 = s * s;
  const double ln_f =
      2 * s *
      (1 + s2 * (1.0 / 3 +
                 s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 + s2 / 11)))));
  const double x = (static_cast<double>(exponent) * 0.6931471805599453 + ln_f) *
                   inv_log_gamma;
  const double up = std::ceil(x);
  const double margin = 1e-9 * inv_log_gamma;
  if (up - x > margin && x - (up - 1) > margin) {
    return static_cast<int32_t>(up);
  }
  return static_cast<int32_t>(std::ceil(std::log(magnitude) / log_gamma));
}

class QuantileSketch {
 public:
  static constexpr double kDefaultRelativeAccuracy = 0.01;
  static constexpr int kDefaultMaxBuckets = 2048;
  // Magnitudes below this count as zero; far below any latency or feature
  // value aims sees, and keeps bucket indices in int32 range.
  static constexpr double kMinIndexable = 1e-9;

  explicit QuantileSketch(double relative_accuracy = kDefaultRelativeAccuracy,
                          int max_buckets = kDefaultMaxBuckets);

  // Counts `v`; non-finite values are ignored (callers count them apart).
  // Inline: it runs for every numeric value of every event.
  void Add(double v, uint64_t weight = 1) {
    if (!std::isfinite(v) || weight == 0) return;
    if (count_ == 0) {
      min_ = max_ = v;
    } else {
      min_ = std::min(min_, v);
      max_ = std::max(max_, v);
    }
    count_ += weight;
    sum_ += v * static_cast<double>(weight);
    const double magnitude = std::fabs(v);
    if (magnitude < kMinIndexable) {
      zero_count_ += weight;
    } else if (v > 0) {
      positive_.Add(Index(magnitude), weight, max_buckets_);
    } else {
      negative_.Add(Index(magnitude), weight, max_buckets_);
    }
  }
  // Adds every value of `other`. Fails when the accuracies differ.
  absl::Status Merge(const QuantileSketch& other);

  // The q-quantile, q in [0, 1] (lower nearest rank); NaN when empty.
  double Quantile(double q) const;

  uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  double min() const { return min_; }
  double max() const { return max_; }
  double relative_accuracy() const { return relative_accuracy_; }
  bool empty() const { return count_ == 0; }
  // Bytes held by the bucket stores.
  size_t MemoryBytes() const;

  // Writes each bucket store in the smaller of its two wire forms, dense
  // counts or sparse index deltas (see aims.v1.QuantileSketch).
  void ToProto(v1::QuantileSketch* out) const;
  // Reads either form; fails as Validate does.
  static absl::StatusOr<QuantileSketch> FromProto(
      const v1::QuantileSketch& proto);
  // The checks FromProto makes, without building the sketch: accuracy in
  // (0, 1), each store within kDefaultMaxBuckets buckets and in one form,
  // and count equal to the values the stores and zero_count hold.
  static absl::Status Validate(const v1::QuantileSketch& proto);

 private:
  // Dense counters for bucket indices [offset, offset + counts.size()).
  struct Store {
    int32_t offset = 0;
    std::vector<uint64_t> counts;
    // Inline for the common case, an index inside the range already held:
    // this runs for every numeric feature value of every event.
    void Add(int32_t index, uint64_t weight, int max_buckets) {
      const uint64_t i = static_cast<uint64_t>(static_cast<int64_t>(index) -
                                               static_cast<int64_t>(offset));
      if (i < counts.size()) {
        counts[i] += weight;
        return;
      }
      AddOutside(index, weight, max_buckets);
    }
    void AddOutside(int32_t index, uint64_t weight, int max_buckets);
    uint64_t Total() const;
  };

  int32_t Index(double magnitude) const {
    return SketchIndex(magnitude, log_gamma_, inv_log_gamma_);
  }
  double Value(int32_t index) const;

  double relative_accuracy_;
  double gamma_;
  double log_gamma_;
  double inv_log_gamma_;
  int max_buckets_;
  uint64_t count_ = 0;
  uint64_t zero_count_ = 0;
  double sum_ = 0;
  double min_ = 0;
  double max_ = 0;
  Store positive_;
  Store negative_;
};

// Merges `from` into `into` (both wire sketches, each already checked by
// QuantileSketch::Validate: a sparse store is expanded to the span its
// deltas claim). An empty `into` takes `from`'s accuracy. Fails when
// accuracies differ.
absl::Status MergeSketchProto(v1::QuantileSketch* into,
                              const v1::QuantileSketch& from);

}  // namespace aims

#endif  // AIMS_COMMON_SUMMARY_QUANTILE_SKETCH_H_
