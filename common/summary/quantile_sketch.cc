#include "common/summary/quantile_sketch.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"

namespace aims {
QuantileSketch::QuantileSketch(double relative_accuracy, int max_buckets)
    : relative_accuracy_(relative_accuracy),
      gamma_((1 + relative_accuracy) / (1 - relative_accuracy)),
      log_gamma_(std::log(gamma_)),
      max_buckets_(std::max(16, max_buckets)) {}

double QuantileSketch::Value(int32_t index) const {
  // Midpoint (in relative terms) of bucket (gamma^(i-1), gamma^i].
  return 2.0 * std::pow(gamma_, index) / (gamma_ + 1.0);
}

void QuantileSketch::Store::AddOutside(int32_t index, uint64_t weight,
                                       int max_buckets) {
  if (counts.empty()) {
    offset = index;
    counts.assign(1, 0);
  }
  if (index < offset) {
    // Below a collapsed floor: fold into the lowest bucket.
    if (static_cast<int64_t>(counts.size()) >= max_buckets) {
      counts[0] += weight;
      return;
    }
    const int32_t grow = offset - index;
    counts.insert(counts.begin(), grow, 0);
    offset = index;
  } else if (index >= offset + static_cast<int32_t>(counts.size())) {
    counts.resize(index - offset + 1, 0);
  }
  counts[index - offset] += weight;
  if (static_cast<int64_t>(counts.size()) > max_buckets) {
    // Collapse the lowest buckets so that the highest max_buckets remain.
    const size_t excess = counts.size() - max_buckets;
    uint64_t folded = 0;
    for (size_t i = 0; i <= excess; ++i) folded += counts[i];
    counts.erase(counts.begin(), counts.begin() + excess);
    counts[0] = folded;
    offset += static_cast<int32_t>(excess);
  }
}

uint64_t QuantileSketch::Store::Total() const {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  return total;
}

absl::Status QuantileSketch::Merge(const QuantileSketch& other) {
  if (other.count_ == 0) return absl::OkStatus();
  if (other.relative_accuracy_ != relative_accuracy_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "quantile sketch relative_accuracy differs: ", relative_accuracy_,
        " vs ", other.relative_accuracy_));
  }
  if (count_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  count_ += other.count_;
  sum_ += other.sum_;
  zero_count_ += other.zero_count_;
  for (size_t i = 0; i < other.positive_.counts.size(); ++i) {
    if (other.positive_.counts[i] == 0) continue;
    positive_.Add(other.positive_.offset + static_cast<int32_t>(i),
                  other.positive_.counts[i], max_buckets_);
  }
  for (size_t i = 0; i < other.negative_.counts.size(); ++i) {
    if (other.negative_.counts[i] == 0) continue;
    negative_.Add(other.negative_.offset + static_cast<int32_t>(i),
                  other.negative_.counts[i], max_buckets_);
  }
  return absl::OkStatus();
}

double QuantileSketch::Quantile(double q) const {
  if (count_ == 0 || !(q >= 0 && q <= 1)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (q == 0) return min_;
  if (q == 1) return max_;
  const uint64_t rank = static_cast<uint64_t>(q * (count_ - 1));
  uint64_t seen = 0;
  // Most negative first: negative buckets by decreasing magnitude.
  for (size_t i = negative_.counts.size(); i-- > 0;) {
    seen += negative_.counts[i];
    if (seen > rank) {
      return std::clamp(-Value(negative_.offset + static_cast<int32_t>(i)),
                        min_, max_);
    }
  }
  seen += zero_count_;
  if (seen > rank) return 0.0;
  for (size_t i = 0; i < positive_.counts.size(); ++i) {
    seen += positive_.counts[i];
    if (seen > rank) {
      return std::clamp(Value(positive_.offset + static_cast<int32_t>(i)), min_,
                        max_);
    }
  }
  return max_;
}

size_t QuantileSketch::MemoryBytes() const {
  return (positive_.counts.capacity() + negative_.counts.capacity()) *
         sizeof(uint64_t);
}

namespace {

using Counts = google::protobuf::RepeatedField<uint64_t>;
using Deltas = google::protobuf::RepeatedField<uint32_t>;

using google::protobuf::io::CodedOutputStream;

// Writes a dense store (`counts` from bucket `offset`) in the smaller wire
// form: dense counts, or the index deltas of every value counted.
void StoreToProto(int32_t offset, const std::vector<uint64_t>& counts,
                  int32_t* out_offset, Counts* out_counts, Deltas* out_deltas) {
  size_t first = 0, last = counts.size();
  while (first < last && counts[first] == 0) ++first;
  while (last > first && counts[last - 1] == 0) --last;
  *out_offset = offset;
  if (first == last) return;  // empty
  size_t dense_bytes = 0;
  for (size_t i = first; i < last; ++i)
    dense_bytes += CodedOutputStream::VarintSize64(counts[i]);
  size_t sparse_bytes = 0, values = 0;
  size_t previous = first;
  for (size_t i = first; i < last && sparse_bytes < dense_bytes; ++i) {
    if (counts[i] == 0) continue;
    if (counts[i] >= dense_bytes) {
      sparse_bytes = dense_bytes;  // one bucket alone costs more
      break;
    }
    sparse_bytes +=
        CodedOutputStream::VarintSize64(i - previous) + (counts[i] - 1);
    values += counts[i];
    previous = i;
  }
  if (sparse_bytes >= dense_bytes) {
    out_counts->Add(counts.begin() + first, counts.begin() + last);
    *out_offset = offset + static_cast<int32_t>(first);
    return;
  }
  out_deltas->Reserve(static_cast<int>(values));
  previous = first;
  for (size_t i = first; i < last; ++i) {
    for (uint64_t n = 0; n < counts[i]; ++n) {
      out_deltas->AddAlreadyReserved(static_cast<uint32_t>(i - previous));
      previous = i;
    }
  }
  *out_offset = offset + static_cast<int32_t>(first);
}

// Checks one store's wire form; adds the values it holds to `*total`.
absl::Status CheckStore(absl::string_view name, int32_t offset,
                        const Counts& counts, const Deltas& deltas,
                        int max_buckets, uint64_t* total) {
  if (!counts.empty() && !deltas.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, " store has both counts and index_deltas; send one form"));
  }
  if (counts.size() > max_buckets) {
    return absl::InvalidArgumentError(
        absl::StrCat("bucket count exceeds the limit of ", max_buckets));
  }
  for (uint64_t c : counts) {
    if (__builtin_add_overflow(*total, c, total)) {
      return absl::InvalidArgumentError("bucket counts overflow 64 bits");
    }
  }
  uint64_t span = 0;
  for (uint32_t d : deltas) span += d;  // at most 2^32 * 2^31: no overflow
  if (!deltas.empty() && span >= static_cast<uint64_t>(max_buckets)) {
    return absl::InvalidArgumentError(
        absl::StrCat("index_deltas span ", span + 1,
                     " buckets, more than the limit of ", max_buckets));
  }
  if (int64_t{offset} + static_cast<int64_t>(span) >
      std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError("bucket index out of int32 range");
  }
  if (__builtin_add_overflow(*total, static_cast<uint64_t>(deltas.size()),
                             total)) {
    return absl::InvalidArgumentError("bucket counts overflow 64 bits");
  }
  return absl::OkStatus();
}

// Buckets a store given as index deltas (validated) spans.
size_t DeltaSpan(const Deltas& deltas) {
  if (deltas.empty()) return 0;
  uint64_t span = 1;
  for (uint32_t d : deltas) span += d;
  return span;
}

// Counts the values of `deltas` into `counts`, DeltaSpan(deltas) zeros.
void DeltasToCounts(const Deltas& deltas, uint64_t* counts) {
  size_t index = 0;
  for (uint32_t d : deltas) {
    index += d;
    ++counts[index];
  }
}

// Rewrites a store of a wire sketch from index deltas to dense counts.
void DensifyStore(Deltas* deltas, Counts* counts) {
  if (deltas->empty()) return;
  counts->Resize(static_cast<int>(DeltaSpan(*deltas)), 0);
  DeltasToCounts(*deltas, counts->mutable_data());
  deltas->Clear();
}

// Rewrites a wire sketch's sparse stores as dense counts.
void Densify(v1::QuantileSketch* sketch) {
  DensifyStore(sketch->mutable_positive_index_deltas(),
               sketch->mutable_positive_counts());
  DensifyStore(sketch->mutable_negative_index_deltas(),
               sketch->mutable_negative_counts());
}

// A store of a QuantileSketch from its wire form, dense or sparse.
std::vector<uint64_t> StoreCounts(const Counts& counts, const Deltas& deltas) {
  if (deltas.empty()) return {counts.begin(), counts.end()};
  std::vector<uint64_t> dense(DeltaSpan(deltas), 0);
  DeltasToCounts(deltas, dense.data());
  return dense;
}

bool IsSparse(const v1::QuantileSketch& sketch) {
  return !sketch.positive_index_deltas().empty() ||
         !sketch.negative_index_deltas().empty();
}

}  // namespace

void QuantileSketch::ToProto(v1::QuantileSketch* out) const {
  out->Clear();
  out->set_relative_accuracy(relative_accuracy_);
  out->set_count(count_);
  out->set_sum(sum_);
  out->set_min(min_);
  out->set_max(max_);
  out->set_zero_count(zero_count_);
  int32_t offset = 0;
  StoreToProto(positive_.offset, positive_.counts, &offset,
               out->mutable_positive_counts(),
               out->mutable_positive_index_deltas());
  out->set_positive_offset(offset);
  StoreToProto(negative_.offset, negative_.counts, &offset,
               out->mutable_negative_counts(),
               out->mutable_negative_index_deltas());
  out->set_negative_offset(offset);
}

absl::Status QuantileSketch::Validate(const v1::QuantileSketch& proto) {
  const double alpha = proto.relative_accuracy();
  if (proto.count() == 0 && alpha == 0) return absl::OkStatus();
  if (!(alpha > 0 && alpha < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("relative_accuracy must be in (0, 1), got ", alpha));
  }
  uint64_t bucketed = proto.zero_count();
  if (absl::Status s = CheckStore(
          "positive", proto.positive_offset(), proto.positive_counts(),
          proto.positive_index_deltas(), kDefaultMaxBuckets, &bucketed);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckStore(
          "negative", proto.negative_offset(), proto.negative_counts(),
          proto.negative_index_deltas(), kDefaultMaxBuckets, &bucketed);
      !s.ok()) {
    return s;
  }
  if (bucketed != proto.count()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "count ", proto.count(), " differs from the bucket total ", bucketed));
  }
  return absl::OkStatus();
}

absl::StatusOr<QuantileSketch> QuantileSketch::FromProto(
    const v1::QuantileSketch& proto) {
  if (proto.count() == 0 && proto.relative_accuracy() == 0) {
    return QuantileSketch();
  }
  if (absl::Status s = Validate(proto); !s.ok()) return s;
  QuantileSketch sketch(proto.relative_accuracy(), kDefaultMaxBuckets);
  sketch.count_ = proto.count();
  sketch.sum_ = proto.sum();
  sketch.min_ = proto.min();
  sketch.max_ = proto.max();
  sketch.zero_count_ = proto.zero_count();
  sketch.positive_.offset = proto.positive_offset();
  sketch.positive_.counts =
      StoreCounts(proto.positive_counts(), proto.positive_index_deltas());
  sketch.negative_.offset = proto.negative_offset();
  sketch.negative_.counts =
      StoreCounts(proto.negative_counts(), proto.negative_index_deltas());
  return sketch;
}

namespace {

// Bucket range [lo, hi) of a dense store after adding `from`'s non-zero
// buckets, as Store::Add would grow it; false when `from` has none.
struct Span {
  int64_t lo = 0, hi = 0;
  int first = 0, last = -1;  // non-zero range of `from`
};
Span DenseSpan(int32_t offset, const Counts& counts, int32_t from_offset,
               const Counts& from) {
  Span span;
  const uint64_t* f = from.data();
  span.first = 0;
  span.last = from.size() - 1;
  while (span.first <= span.last && f[span.first] == 0) ++span.first;
  while (span.last >= span.first && f[span.last] == 0) --span.last;
  if (span.first > span.last) {
    span.lo = offset;
    span.hi = offset + counts.size();
    return span;
  }
  span.lo = int64_t{from_offset} + span.first;
  span.hi = int64_t{from_offset} + span.last + 1;
  if (counts.size() > 0) {
    span.lo = std::min<int64_t>(span.lo, offset);
    span.hi = std::max<int64_t>(span.hi, int64_t{offset} + counts.size());
  }
  return span;
}

// Adds `from` into `counts` element by element through raw pointers, so the
// compiler vectorizes it (merging sketches is most of a query's time).
void AddDense(const Span& span, int32_t* offset, Counts* counts,
              int32_t from_offset, const Counts& from) {
  if (span.first > span.last) return;
  if (counts->size() == 0 || span.lo < *offset ||
      span.hi > int64_t{*offset} + counts->size()) {
    Counts grown;
    grown.Resize(static_cast<int>(span.hi - span.lo), 0);
    if (counts->size() > 0) {
      std::copy(counts->data(), counts->data() + counts->size(),
                grown.mutable_data() + (*offset - span.lo));
    }
    *counts = std::move(grown);
    *offset = static_cast<int32_t>(span.lo);
  }
  uint64_t* __restrict into =
      counts->mutable_data() + (int64_t{from_offset} + span.first - *offset);
  const uint64_t* __restrict add = from.data() + span.first;
  const int n = span.last - span.first + 1;
  for (int i = 0; i < n; ++i) into[i] += add[i];
}

// MergeSketchProto on dense wire sketches.
absl::Status MergeDenseSketchProto(v1::QuantileSketch* into,
                                   const v1::QuantileSketch& from) {
  // Fast path on the wire form (both validated where they entered): the
  // result QuantileSketch::Merge gives when no bucket has to collapse.
  if (into->relative_accuracy() == from.relative_accuracy()) {
    const Span pos = DenseSpan(into->positive_offset(), into->positive_counts(),
                               from.positive_offset(), from.positive_counts());
    const Span neg = DenseSpan(into->negative_offset(), into->negative_counts(),
                               from.negative_offset(), from.negative_counts());
    const int max_buckets = QuantileSketch::kDefaultMaxBuckets;
    if (pos.hi - pos.lo <= max_buckets && neg.hi - neg.lo <= max_buckets) {
      int32_t offset = into->positive_offset();
      AddDense(pos, &offset, into->mutable_positive_counts(),
               from.positive_offset(), from.positive_counts());
      into->set_positive_offset(offset);
      offset = into->negative_offset();
      AddDense(neg, &offset, into->mutable_negative_counts(),
               from.negative_offset(), from.negative_counts());
      into->set_negative_offset(offset);
      into->set_min(std::min(into->min(), from.min()));
      into->set_max(std::max(into->max(), from.max()));
      into->set_count(into->count() + from.count());
      into->set_sum(into->sum() + from.sum());
      into->set_zero_count(into->zero_count() + from.zero_count());
      return absl::OkStatus();
    }
  }
  absl::StatusOr<QuantileSketch> a = QuantileSketch::FromProto(*into);
  if (!a.ok()) return a.status();
  absl::StatusOr<QuantileSketch> b = QuantileSketch::FromProto(from);
  if (!b.ok()) return b.status();
  if (absl::Status s = a->Merge(*b); !s.ok()) return s;
  a->ToProto(into);
  return absl::OkStatus();
}

}  // namespace

absl::Status MergeSketchProto(v1::QuantileSketch* into,
                              const v1::QuantileSketch& from) {
  if (from.count() == 0) return absl::OkStatus();
  if (into->count() == 0) {
    *into = from;
    return absl::OkStatus();
  }
  // The merge adds dense counts: a sparse sketch (a short window's) is made
  // dense first.
  Densify(into);
  v1::QuantileSketch dense_from;
  const v1::QuantileSketch* source = &from;
  if (IsSparse(from)) {
    dense_from = from;
    Densify(&dense_from);
    source = &dense_from;
  }
  return MergeDenseSketchProto(into, *source);
}

}  // namespace aims
