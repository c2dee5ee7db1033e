#include "common/summary/quantile_sketch.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>
#include <vector>

#include "aims/v1/sketch.pb.h"
#include "gtest/gtest.h"

namespace aims {
namespace {

// Exact lower nearest-rank quantile, the definition the sketch follows.
double ExactQuantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * (v.size() - 1))];
}

// The sketch a wire sketch holds, in the form ToProto writes: two wire
// sketches are the same sketch when these bytes are equal.
std::string Canonical(const v1::QuantileSketch& proto) {
  absl::StatusOr<QuantileSketch> sketch = QuantileSketch::FromProto(proto);
  if (!sketch.ok()) return "invalid: " + std::string(sketch.status().message());
  v1::QuantileSketch out;
  sketch->ToProto(&out);
  return out.SerializeAsString();
}

TEST(QuantileSketchTest, QuantilesWithinRelativeAccuracy) {
  std::mt19937 rng(7);
  std::lognormal_distribution<double> dist(-3.5, 1.0);
  std::vector<double> values;
  QuantileSketch sketch(0.01);
  for (int i = 0; i < 20000; ++i) {
    const double v = dist(rng);
    values.push_back(v);
    sketch.Add(v);
  }
  for (double q : {0.01, 0.1, 0.5, 0.9, 0.99, 0.999}) {
    const double exact = ExactQuantile(values, q);
    EXPECT_NEAR(sketch.Quantile(q), exact, exact * 0.01 + 1e-12) << "q=" << q;
  }
  EXPECT_EQ(sketch.count(), 20000u);
  EXPECT_DOUBLE_EQ(sketch.Quantile(0),
                   *std::min_element(values.begin(), values.end()));
  EXPECT_DOUBLE_EQ(sketch.Quantile(1),
                   *std::max_element(values.begin(), values.end()));
}

// A value lands in bucket ceil(log(|v|) / log(gamma)) (sketch.proto), for
// magnitudes on both sides of 1, near bucket boundaries and of both signs.
TEST(QuantileSketchTest, BucketIsCeilOfLogOverLogGamma) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> log10(-9, 12);
  for (double accuracy : {0.01, 0.001, 0.2}) {
    const double gamma = (1 + accuracy) / (1 - accuracy);
    const double log_gamma = std::log(gamma);
    std::vector<double> values = {1.0, 0.999, 1.001, 1e-9, 1e300};
    for (int k = -50; k <= 50; ++k) {
      const double boundary = std::pow(gamma, k);
      values.push_back(boundary);
      values.push_back(std::nextafter(boundary, 0.0));
      values.push_back(std::nextafter(boundary, 1e308));
    }
    for (int i = 0; i < 2000; ++i) values.push_back(std::pow(10, log10(rng)));
    for (double v : values) {
      const int32_t expected =
          static_cast<int32_t>(std::ceil(std::log(v) / log_gamma));
      for (double sign : {1.0, -1.0}) {
        QuantileSketch sketch(accuracy);
        sketch.Add(sign * v);
        v1::QuantileSketch proto;
        sketch.ToProto(&proto);
        EXPECT_EQ(sign > 0 ? proto.positive_offset() : proto.negative_offset(),
                  expected)
            << sign * v;
      }
    }
  }
}

// The table logarithm must pick the bucket the definition picks for every
// magnitude: random bit patterns over the whole indexable range, and the
// doubles on and next to every bucket boundary from 1e-9 to 1e300.
TEST(QuantileSketchTest, FastIndexEqualsExactIndex) {
  std::mt19937_64 rng(11);
  const uint64_t lo = std::bit_cast<uint64_t>(QuantileSketch::kMinIndexable);
  const uint64_t hi = std::bit_cast<uint64_t>(1e308);
  std::uniform_int_distribution<uint64_t> bits(lo, hi);
  for (double accuracy : {0.01, 0.001, 0.05, 0.2}) {
    const QuantileSketch sketch(accuracy);
    const double gamma = (1 + accuracy) / (1 - accuracy);
    for (int i = 0; i < 300000; ++i) {
      const double v = std::bit_cast<double>(bits(rng));
      ASSERT_EQ(sketch.Index(v), sketch.ExactIndex(v)) << v;
    }
    const int first = static_cast<int>(std::log(1e-9) / std::log(gamma));
    const int last = static_cast<int>(std::log(1e300) / std::log(gamma));
    for (int k = first; k <= last; ++k) {
      double v = std::pow(gamma, k);
      for (int step = 0; step < 3; ++step) v = std::nextafter(v, 0.0);
      for (int step = 0; step < 7; ++step, v = std::nextafter(v, 1e308)) {
        ASSERT_EQ(sketch.Index(v), sketch.ExactIndex(v)) << v << " k " << k;
      }
    }
  }
}
TEST(QuantileSketchTest, HandlesNegativeZeroAndNonFinite) {
  QuantileSketch sketch;
  for (double v : {-5.0, -1.0, 0.0, 0.0, 2.0, 10.0}) sketch.Add(v);
  sketch.Add(std::nan(""));
  sketch.Add(INFINITY);
  EXPECT_EQ(sketch.count(), 6u);
  EXPECT_NEAR(sketch.Quantile(0.2), -1.0, 0.01);
  EXPECT_EQ(sketch.Quantile(0.5), 0.0);
  EXPECT_NEAR(sketch.Quantile(0.8), 2.0, 0.02);
}

TEST(QuantileSketchTest, EmptyIsNaN) {
  QuantileSketch sketch;
  EXPECT_TRUE(std::isnan(sketch.Quantile(0.5)));
}

TEST(QuantileSketchTest, MergeEqualsSketchOfUnionInAnyOrder) {
  std::mt19937 rng(11);
  std::exponential_distribution<double> dist(3.0);
  QuantileSketch a, b, c, all;
  for (int i = 0; i < 3000; ++i) {
    const double v = dist(rng);
    all.Add(v);
    (i % 3 == 0 ? a : i % 3 == 1 ? b : c).Add(v);
  }
  QuantileSketch ab_c = a;
  ASSERT_TRUE(ab_c.Merge(b).ok());
  ASSERT_TRUE(ab_c.Merge(c).ok());
  QuantileSketch c_ba = c;
  ASSERT_TRUE(c_ba.Merge(b).ok());
  ASSERT_TRUE(c_ba.Merge(a).ok());
  v1::QuantileSketch p1, p2, p3;
  ab_c.ToProto(&p1);
  c_ba.ToProto(&p2);
  all.ToProto(&p3);
  // Buckets are exact integers: identical whatever the order.
  EXPECT_EQ(p1.positive_counts().size(), p3.positive_counts().size());
  for (double q : {0.1, 0.5, 0.9, 0.99}) {
    EXPECT_EQ(ab_c.Quantile(q), all.Quantile(q));
    EXPECT_EQ(c_ba.Quantile(q), all.Quantile(q));
  }
  EXPECT_EQ(p1.positive_offset(), p2.positive_offset());
  EXPECT_TRUE(std::equal(p1.positive_counts().begin(),
                         p1.positive_counts().end(),
                         p2.positive_counts().begin()));
}

TEST(QuantileSketchTest, MemoryIsBoundedByMaxBuckets) {
  QuantileSketch sketch(0.01, 64);
  for (int i = -300; i < 300; ++i) sketch.Add(std::pow(10.0, i / 10.0));
  v1::QuantileSketch proto;
  sketch.ToProto(&proto);
  EXPECT_LE(proto.positive_counts_size(), 64);
  EXPECT_EQ(sketch.count(), 600u);
  // The top of the distribution keeps its accuracy.
  EXPECT_NEAR(sketch.Quantile(1.0), std::pow(10.0, 29.9), 1e27);
}

TEST(QuantileSketchTest, MergeRefusesDifferentAccuracy) {
  QuantileSketch a(0.01), b(0.02);
  b.Add(1.0);
  absl::Status s = a.Merge(b);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("relative_accuracy"), absl::string_view::npos);
}

TEST(QuantileSketchTest, ProtoRoundTripAndValidation) {
  QuantileSketch sketch;
  for (int i = 1; i <= 100; ++i) sketch.Add(i);
  v1::QuantileSketch proto;
  sketch.ToProto(&proto);
  absl::StatusOr<QuantileSketch> back = QuantileSketch::FromProto(proto);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->Quantile(0.5), sketch.Quantile(0.5));
  proto.set_count(proto.count() + 1);
  EXPECT_FALSE(QuantileSketch::FromProto(proto).ok());
  proto.set_relative_accuracy(2);
  EXPECT_FALSE(QuantileSketch::FromProto(proto).ok());
}

// MergeSketchProto merges on the wire form when no bucket collapses; the
// result must be the proto of QuantileSketch::Merge, for disjoint,
// overlapping, nested, one-sided and collapsing ranges.
TEST(QuantileSketchTest, WireMergeEqualsObjectMerge) {
  std::mt19937 rng(9);
  for (int trial = 0; trial < 200; ++trial) {
    auto make = [&](double center, double spread, int n, bool negatives) {
      std::lognormal_distribution<double> mag(center, spread);
      QuantileSketch s;
      for (int i = 0; i < n; ++i) {
        const double v = mag(rng);
        s.Add(negatives && i % 3 == 0 ? -v : v);
        if (i % 17 == 0) s.Add(0);
      }
      return s;
    };
    std::uniform_real_distribution<double> u(-8, 8);
    // Wide spreads make ranges that exceed the bucket bound (collapse).
    const double spread_a = trial % 10 == 0 ? 40 : 2, spread_b = 2;
    // Few values give sparse stores, many dense ones: every pairing.
    const int n_a = trial % 4 == 0 ? 5000 : 1 + trial % 50;
    const int n_b = trial % 3 == 0 ? 3000 : 1 + trial % 37;
    QuantileSketch a = make(u(rng), spread_a, n_a, trial % 2);
    QuantileSketch b = make(u(rng), spread_b, n_b, trial % 3);
    v1::QuantileSketch pa, pb;
    a.ToProto(&pa);
    b.ToProto(&pb);
    ASSERT_TRUE(MergeSketchProto(&pa, pb).ok());
    ASSERT_TRUE(a.Merge(b).ok());
    v1::QuantileSketch expected;
    a.ToProto(&expected);
    // The merge keeps dense counts; ToProto may write the sparse form.
    EXPECT_EQ(Canonical(pa), Canonical(expected))
        << "trial " << trial << "\n"
        << pa.DebugString() << "\nvs\n"
        << expected.DebugString();
  }
}

// Few values over many buckets (a short window of one feature) are written
// as index deltas, which cost a byte a value instead of a byte a bucket;
// many values as dense counts. Either form reads back as the same sketch.
TEST(QuantileSketchTest, WritesTheSmallerFormAndReadsBoth) {
  std::mt19937 rng(5);
  std::normal_distribution<double> normal(0, 1);
  for (int n : {1, 200, 100000}) {
    QuantileSketch sketch;
    std::vector<double> values;
    for (int i = 0; i < n; ++i) {
      values.push_back(normal(rng));
      sketch.Add(values.back());
    }
    v1::QuantileSketch proto;
    sketch.ToProto(&proto);
    if (n == 200) {
      EXPECT_EQ(proto.positive_counts_size() + proto.negative_counts_size(), 0)
          << n;
      EXPECT_EQ(proto.positive_index_deltas_size() +
                    proto.negative_index_deltas_size(),
                n);
    } else if (n == 100000) {
      EXPECT_EQ(proto.positive_index_deltas_size() +
                    proto.negative_index_deltas_size(),
                0);
      EXPECT_GT(proto.positive_counts_size(), 0);
    }
    ASSERT_TRUE(QuantileSketch::Validate(proto).ok()) << n;
    absl::StatusOr<QuantileSketch> back = QuantileSketch::FromProto(proto);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->count(), sketch.count());
    EXPECT_EQ(back->sum(), sketch.sum());
    for (double q = 0; q <= 1.0; q += 0.01) {
      EXPECT_EQ(back->Quantile(q), sketch.Quantile(q)) << n << " q=" << q;
    }
  }
  // 200 values: the sparse form is well under half the dense one.
  QuantileSketch sketch;
  for (int i = 0; i < 200; ++i) sketch.Add(normal(rng));
  v1::QuantileSketch sparse;
  sketch.ToProto(&sparse);
  v1::QuantileSketch dense = sparse;  // made dense by merging a single zero
  v1::QuantileSketch empty_but_dense;
  empty_but_dense.set_relative_accuracy(sparse.relative_accuracy());
  empty_but_dense.set_count(1);
  empty_but_dense.set_zero_count(1);
  ASSERT_TRUE(MergeSketchProto(&dense, empty_but_dense).ok());
  EXPECT_EQ(dense.positive_index_deltas_size(), 0);
  EXPECT_LT(sparse.ByteSizeLong() * 2, dense.ByteSizeLong());
}

TEST(QuantileSketchTest, ValidateNamesWhatIsWrongWithASparseStore) {
  QuantileSketch sketch;
  for (int i = 1; i <= 20; ++i) sketch.Add(i);
  v1::QuantileSketch proto;
  sketch.ToProto(&proto);
  ASSERT_GT(proto.positive_index_deltas_size(), 0);
  ASSERT_TRUE(QuantileSketch::Validate(proto).ok());

  v1::QuantileSketch both = proto;
  both.add_positive_counts(0);
  EXPECT_NE(QuantileSketch::Validate(both).message().find(
                "positive store has both counts and index_deltas"),
            std::string::npos);

  v1::QuantileSketch wide = proto;
  wide.add_positive_index_deltas(QuantileSketch::kDefaultMaxBuckets);
  wide.set_count(wide.count() + 1);
  EXPECT_NE(QuantileSketch::Validate(wide).message().find(
                "buckets, more than the limit of 2048"),
            std::string::npos)
      << QuantileSketch::Validate(wide);

  v1::QuantileSketch miscounted = proto;
  miscounted.add_negative_index_deltas(0);  // one value more than `count`
  EXPECT_NE(QuantileSketch::Validate(miscounted)
                .message()
                .find("count 20 differs from the bucket total 21"),
            std::string::npos)
      << QuantileSketch::Validate(miscounted);

  v1::QuantileSketch overflowing = proto;
  overflowing.clear_positive_index_deltas();
  overflowing.add_positive_counts(~uint64_t{0});
  overflowing.add_positive_counts(2);
  EXPECT_NE(
      QuantileSketch::Validate(overflowing).message().find("overflow 64 bits"),
      std::string::npos)
      << QuantileSketch::Validate(overflowing);
  EXPECT_FALSE(QuantileSketch::FromProto(both).ok());
}

}  // namespace
}  // namespace aims
