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

  // ceil(log(magnitude) / log_gamma) as an int32: truncation and a
  // correction instead of std::ceil, whose SSE2 expansion costs more than
  // the division (7.5 against 10.4 ns per index in a loop of normal values).
  int32_t Index(double magnitude) const {
    const double x = std::log(magnitude) / log_gamma_;
    const int32_t truncated = static_cast<int32_t>(x);
    return truncated + (x > truncated);
  }
  double Value(int32_t index) const;

  double relative_accuracy_;
  double gamma_;
  double log_gamma_;
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
