#include "common/summary/quantile_sketch.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"

namespace aims {

// Generated with Python: 1 / c_i as a double, then -log of that double's exact
// value with the decimal module at 50 digits, printed to round-trip.
const double QuantileSketch::kLogTableInverse[kLogTableSize] = {
    0.9961089494163424, 0.9884169884169884, 0.9808429118773946,
    0.973384030418251,  0.9660377358490566, 0.9588014981273408,
    0.9516728624535316, 0.9446494464944649, 0.9377289377289377,
    0.9309090909090909, 0.924187725631769,  0.9175627240143369,
    0.9110320284697508, 0.9045936395759717, 0.8982456140350877,
    0.89198606271777,   0.8858131487889274, 0.8797250859106529,
    0.8737201365187713, 0.8677966101694915, 0.8619528619528619,
    0.8561872909698997, 0.8504983388704319, 0.8448844884488449,
    0.839344262295082,  0.8338762214983714, 0.8284789644012945,
    0.8231511254019293, 0.8178913738019169, 0.8126984126984127,
    0.807570977917981,  0.8025078369905956, 0.7975077881619937,
    0.7925696594427245, 0.7876923076923077, 0.7828746177370031,
    0.7781155015197568, 0.7734138972809668, 0.7687687687687688,
    0.764179104477612,  0.7596439169139466, 0.7551622418879056,
    0.750733137829912,  0.7463556851311953, 0.7420289855072464,
    0.7377521613832853, 0.7335243553008596, 0.7293447293447294,
    0.7252124645892352, 0.7211267605633803, 0.7170868347338936,
    0.713091922005571,  0.7091412742382271, 0.7052341597796143,
    0.7013698630136986, 0.6975476839237057, 0.6937669376693767,
    0.6900269541778976, 0.6863270777479893, 0.6826666666666666,
    0.6790450928381963, 0.6754617414248021, 0.6719160104986877,
    0.6684073107049608, 0.6649350649350649, 0.661498708010336,
    0.6580976863753213, 0.6547314578005116, 0.6513994910941476,
    0.6481012658227848, 0.6448362720403022, 0.6416040100250626,
    0.6384039900249376, 0.6352357320099256, 0.6320987654320988,
    0.628992628992629,  0.6259168704156479, 0.6228710462287105,
    0.6198547215496368, 0.6168674698795181, 0.6139088729016786,
    0.6109785202863962, 0.6080760095011877, 0.6052009456264775,
    0.6023529411764705, 0.5995316159250585, 0.5967365967365967,
    0.5939675174013921, 0.5912240184757506, 0.5885057471264368,
    0.585812356979405,  0.5831435079726651, 0.5804988662131519,
    0.5778781038374717, 0.5752808988764045, 0.5727069351230425,
    0.5701559020044543, 0.5676274944567627, 0.565121412803532,
    0.5626373626373626, 0.5601750547045952, 0.5577342047930284,
    0.5553145336225597, 0.5529157667386609, 0.5505376344086022,
    0.5481798715203426, 0.5458422174840085, 0.5435244161358811,
    0.5412262156448203, 0.5389473684210526, 0.5366876310272537,
    0.534446764091858,  0.5322245322245323, 0.5300207039337475,
    0.5278350515463918, 0.5256673511293635, 0.523517382413088,
    0.5213849287169042, 0.5192697768762677, 0.5171717171717172,
    0.5150905432595574, 0.5130260521042084, 0.5109780439121756,
    0.5089463220675944, 0.5069306930693069, 0.504930966469428,
    0.5029469548133595, 0.5009784735812133,
};
const double QuantileSketch::kLogTableLog[kLogTableSize] = {
    0.003898640415657309, 0.01165061721997525, 0.019342962843130987,
    0.026976587698202083, 0.03455238150665973, 0.042071213920687044,
    0.049533935122276676, 0.05694137640013845, 0.06429435070539725,
    0.07159365318700882,  0.078840061707776,   0.08603433734180316,
    0.09317722485418334,  0.10026945316367517, 0.10731173578908804,
    0.11430477128005863,  0.12124924363286965, 0.12814582269193006,
    0.13499516453750482,  0.1417979118602574,  0.1485546943231372,
    0.15526612891112396,  0.16193282026931324, 0.16855536102980664,
    0.17513433212784915,  0.18167030310763463, 0.18816383241818294,
    0.19461546769967167,  0.2010257460605908,  0.2073951943460706,
    0.21372432939771818,  0.22001365830528213, 0.2262636786504534,
    0.232474878743094,    0.238647737850175,   0.24478272641769092,
    0.25088030628580943,  0.2569409308975004,  0.26296504550088134,
    0.26895308734550394,  0.2749054858727992,  0.2808226629008878,
    0.2867050328039543,   0.29255300268637746, 0.2983669725517973,
    0.3041473354672968,   0.3098944777228647,  0.3156087789863033,
    0.32129061245373425,  0.3269403449958533,  0.3325583373000766,
    0.3381449440087164,   0.34370051385331846, 0.3492253897852883,
    0.354719909102929,    0.3601844035750078,  0.3656191995609647,
    0.37102461812787263,  0.376400975164253,   0.3817485814908484,
    0.3870677429684483,   0.3923587606028639,  0.3976219306471385,
    0.4028575447010835,   0.4080658898082217,  0.41324724855021927,
    0.41840189913888387,  0.4235301155058032,  0.42863216738969867,
    0.4337083204215594,   0.43875883620762796, 0.44378397241030104,
    0.4487839828270067,   0.4537591174671205,  0.4587096226269767,
    0.46363574096303256,  0.46853771156323926, 0.4734157700166721,
    0.47827014848147026,  0.48310107575113576, 0.48790877731923904,
    0.4926934754425752,   0.4974553892028189,  0.5021947345667155,
    0.5069117244448544,   0.5116065687490621,  0.5162794744484545,
    0.5209306456241853,   0.5255602835229274,  0.5301685866091216,
    0.5347557506160276,   0.5393219685956089,  0.5438674309672835,
    0.5483923255655733,   0.5528968376866776,  0.5573811501340064,
    0.5618454432626918,   0.5662898950231159,  0.5707146810034716,
    0.575119974471388,    0.5795059464146423,  0.5838727655809826,
    0.588220598517086,    0.5925496096066716,  0.5968599611077938,
    0.6011518131893347,   0.6054253239667169,  0.6096806495368553,
    0.6139179440123704,   0.6181373595550788,  0.6223390464087787,
    0.6265231529313529,   0.6306898256261987,  0.6348392091730102,
    0.6389714464579207,   0.6430866786030273,  0.6471850449953095,
    0.6512666833149582,   0.6553317295631277,  0.6593803180891278,
    0.6634125816170662,   0.6674286512719563,  0.6714286566053024,
    0.6754127256201768,   0.6793809847957973,  0.6833335591116206,
    0.6872705720709603,   0.691192145724142,
};

QuantileSketch::QuantileSketch(double relative_accuracy, int max_buckets)
    : relative_accuracy_(relative_accuracy),
      gamma_((1 + relative_accuracy) / (1 - relative_accuracy)),
      log_gamma_(std::log(gamma_)),
      inverse_log_gamma_(1 / log_gamma_),
      index_margin_(kLogError * inverse_log_gamma_ + 1e-9),
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
