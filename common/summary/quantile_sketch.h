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
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aims/v1/sketch.pb.h"

namespace aims {

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
      return;
    }
    // A select, not a branch: feature values' signs are often random, and
    // a mispredicted branch per value cost 3 ns of 12 (a loop of Add over
    // normal values).
    Store& store = v > 0 ? positive_ : negative_;
    store.Add(Index(magnitude), weight, max_buckets_);
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

  // The bucket of a finite magnitude >= kMinIndexable, ceil(log(magnitude) /
  // log_gamma) as an int32: a table logarithm (7 bits of the mantissa, then
  // log1p(r) ~ r - r^2 / 2 for |r| < 2^-8, error below 2.1e-8) decides the
  // bucket unless the quotient is within that error of an integer, where
  // ExactIndex decides (a few values in a million). Equal to ExactIndex for
  // every input (quantile_sketch_test).
  int32_t Index(double magnitude) const {
    const uint64_t bits = std::bit_cast<uint64_t>(magnitude);
    const int exponent = static_cast<int>(bits >> 52) - 1023;
    const size_t i = (bits >> (52 - kLogTableBits)) & (kLogTableSize - 1);
    // magnitude = 2^exponent * f, f in [1, 2), within 2^-8 of 1 / inverse.
    const double f =
        std::bit_cast<double>((bits & 0x000fffffffffffffULL) | kOneBits);
    const double r = f * kLogTableInverse[i] - 1;
    const double x = (exponent * kLn2 + kLogTableLog[i] + r * (1 - 0.5 * r)) *
                     inverse_log_gamma_;
    // Round to nearest by the 1.5 * 2^52 trick (no SSE4.1 round on the
    // baseline x86-64 target).
    const double nearest = (x + 0x1.8p52) - 0x1.8p52;
    if (std::fabs(x - nearest) < index_margin_) return ExactIndex(magnitude);
    return static_cast<int32_t>(nearest) + (x > nearest);
  }
  // The definition: truncation and a correction instead of std::ceil, whose
  // SSE2 expansion costs more than the division.
  int32_t ExactIndex(double magnitude) const {
    const double x = std::log(magnitude) / log_gamma_;
    const int32_t truncated = static_cast<int32_t>(x);
    return truncated + (x > truncated);
  }

 private:
  static constexpr int kLogTableBits = 7;
  static constexpr size_t kLogTableSize = size_t{1} << kLogTableBits;
  static constexpr uint64_t kOneBits = 0x3ff0000000000000ULL;  // 1.0
  static constexpr double kLn2 = 0.6931471805599453;
  // Bound of Index's logarithm error (r^3 / 3 and rounding), doubled.
  static constexpr double kLogError = 4.2e-8;
  // For c_i = 1 + (i + 0.5) / 128: 1 / c_i rounded, and -log of that double.
  static const double kLogTableInverse[kLogTableSize];
  static const double kLogTableLog[kLogTableSize];

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

  double Value(int32_t index) const;

  double relative_accuracy_;
  double gamma_;
  double log_gamma_;
  double inverse_log_gamma_;
  double index_margin_;  // kLogError / log_gamma_, plus x's rounding
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
