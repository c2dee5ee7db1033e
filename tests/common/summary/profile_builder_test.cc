#include "common/summary/profile_builder.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include "common/base/time_util.h"
#include "gtest/gtest.h"

namespace aims {
namespace {

Event Row(double income, const std::string& region, int label, double score,
          const std::string& gender) {
  Event e;
  e.features.emplace_back(
      "income", FeatureValue{FeatureValue::Kind::kNumber, income, ""});
  e.features.emplace_back(
      "region", FeatureValue{FeatureValue::Kind::kCategory, 0, region});
  e.label.kind = Outcome::Kind::kNumber;
  e.label.number = label;
  e.score = score;
  e.attributes.emplace_back("gender", gender);
  return e;
}

v1::ModelRef Model() {
  v1::ModelRef m;
  m.set_name("credit");
  m.set_version("v1");
  m.set_environment("any");
  return m;
}

const v1::FeatureProfile& Feature(const v1::ReferenceProfile& p,
                                  const std::string& name) {
  for (const auto& f : p.features()) {
    if (f.name() == name) return f;
  }
  static v1::FeatureProfile none;
  return none;
}

TEST(ProfileBuilderTest, QuantileEdgesTopKAndBaseRates) {
  ProfileBuildOptions options;
  options.numeric_bins = 4;
  options.top_k = 2;
  options.score_bins = 10;
  ProfileBuilder builder(options);
  const char* regions[] = {"north", "north", "north", "south", "south", "east"};
  for (int i = 0; i < 100; ++i) {
    builder.Add(Row(i, regions[i % 6], i % 4 == 0, (i % 10) / 10.0,
                    i < 30 ? "f" : "m"));
  }
  auto profile =
      builder.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "test");
  ASSERT_TRUE(profile.ok()) << profile.status();
  EXPECT_EQ(profile->row_count(), 100u);
  const v1::FeatureProfile& income = Feature(*profile, "income");
  ASSERT_EQ(income.kind(), v1::FeatureProfile::KIND_NUMERIC);
  // Quantiles 0, .25, .5, .75 of 0..99 (lower rank), then just above 99.
  ASSERT_EQ(income.edges_size(), 5);
  EXPECT_EQ(income.edges(0), 0);
  EXPECT_EQ(income.edges(1), 24);
  EXPECT_EQ(income.edges(2), 49);
  EXPECT_EQ(income.edges(3), 74);
  EXPECT_GT(income.edges(4), 99);
  EXPECT_LT(income.edges(4), 99.000001);
  // Under- and overflow empty; the reference fills the inner bins.
  std::vector<uint64_t> counts(income.reference_counts().counts().begin(),
                               income.reference_counts().counts().end());
  EXPECT_EQ(counts, (std::vector<uint64_t>{0, 24, 25, 25, 26, 0}));
  EXPECT_DOUBLE_EQ(income.mean(), 49.5);
  EXPECT_NEAR(income.stddev(), 29.011, 1e-3);
  const v1::FeatureProfile& region = Feature(*profile, "region");
  ASSERT_EQ(region.kind(), v1::FeatureProfile::KIND_CATEGORICAL);
  ASSERT_EQ(region.categories_size(), 2);
  EXPECT_EQ(region.categories(0), "north");
  EXPECT_EQ(region.categories(1), "south");
  EXPECT_EQ(region.reference_counts().counts(2), 16u);  // "east" in other
  EXPECT_EQ(profile->score_edges_size(), 9);
  const v1::FeatureProfile& prediction = Feature(*profile, "__prediction__");
  EXPECT_EQ(prediction.kind(), v1::FeatureProfile::KIND_NUMERIC);
  ASSERT_EQ(profile->groups_size(), 2);
  EXPECT_EQ(profile->groups(0).group(), "f");
  EXPECT_EQ(profile->groups(0).n(), 30u);
  EXPECT_DOUBLE_EQ(profile->groups(0).base_rate(), 8.0 / 30);
  EXPECT_EQ(profile->profile_id().size(), 64u);
  EXPECT_EQ(profile->profile_id(), ComputeProfileId(*profile));
  EXPECT_TRUE(ValidateProfile(*profile).ok());
}

TEST(ProfileBuilderTest, CategoriesBeyondTheLimitCountAsOther) {
  ProfileBuildOptions options;
  options.max_categories_per_feature = 3;
  options.top_k = 2;
  ProfileBuilder builder(options);
  // a x4, b x3, c x2, then d, e, f once each and "a" again: d, e, f are
  // beyond the three counted categories.
  for (const char* region :
       {"a", "a", "a", "a", "b", "b", "b", "c", "c", "d", "e", "f", "a"}) {
    builder.Add(Row(1, region, 0, 0.5, "f"));
  }
  EXPECT_EQ(builder.categories_overflowed(), 3u);
  auto profile = builder.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "");
  ASSERT_TRUE(profile.ok()) << profile.status();
  const v1::FeatureProfile& region = Feature(*profile, "region");
  ASSERT_EQ(region.categories_size(), 2);
  EXPECT_EQ(region.categories(0), "a");
  EXPECT_EQ(region.categories(1), "b");
  // a, b, then other = c (2) + d, e, f (3).
  ASSERT_EQ(region.reference_counts().counts_size(), 3);
  EXPECT_EQ(region.reference_counts().counts(0), 5u);
  EXPECT_EQ(region.reference_counts().counts(1), 3u);
  EXPECT_EQ(region.reference_counts().counts(2), 5u);
}

TEST(ProfileBuilderTest, IdChangesWithContent) {
  ProfileBuilder a((ProfileBuildOptions())), b((ProfileBuildOptions()));
  a.Add(Row(1, "x", 1, 0.5, "f"));
  b.Add(Row(2, "x", 1, 0.5, "f"));
  auto pa = a.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "");
  auto pb = b.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "");
  ASSERT_TRUE(pa.ok() && pb.ok());
  EXPECT_NE(pa->profile_id(), pb->profile_id());
}

// The collector's stamp is not content: the id stays, and the later stamp
// wins over an earlier client's `created_at`.
TEST(ProfileBuilderTest, StoredAtIsNotContentAndOrdersProfiles) {
  ProfileBuilder a((ProfileBuildOptions())), b((ProfileBuildOptions()));
  a.Add(Row(1, "x", 1, 0.5, "f"));
  b.Add(Row(2, "x", 1, 0.5, "f"));
  auto older = a.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "");
  auto newer = b.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "");
  ASSERT_TRUE(older.ok() && newer.ok());
  const absl::Time t = absl::FromUnixSeconds(1'800'000'000);
  // Built later, stored first.
  *older->mutable_created_at() = ToProto(t + absl::Hours(24));
  *newer->mutable_created_at() = ToProto(t);
  EXPECT_TRUE(StoredLater(*older, *newer));  // neither stamped: created_at
  *older->mutable_stored_at() = ToProto(t + absl::Hours(25));
  EXPECT_TRUE(StoredLater(*older, *newer));  // one stamped: created_at
  const std::string id = ComputeProfileId(*newer);
  *newer->mutable_stored_at() = ToProto(t + absl::Hours(26));
  EXPECT_EQ(ComputeProfileId(*newer), id);
  EXPECT_TRUE(StoredLater(*newer, *older));
  EXPECT_FALSE(StoredLater(*older, *newer));
  EXPECT_FALSE(StoredLater(*newer, *newer));
}

// Rows whose features come in another order, or without a feature,
// profile the same as rows always in one layout (the builder remembers the
// last row's layout and must notice when it changes).
TEST(ProfileBuilderTest, FeatureOrderDoesNotMatter) {
  ProfileBuilder ordered((ProfileBuildOptions())),
      shuffled((ProfileBuildOptions()));
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(0, 100);
  for (int i = 0; i < 500; ++i) {
    Event e = Row(u(rng), i % 3 ? "north" : "south", i % 4 == 0, 0.5,
                  i % 2 ? "f" : "m");
    e.features.emplace_back(
        "age", FeatureValue{FeatureValue::Kind::kNumber, u(rng), ""});
    e.attributes.emplace_back("band", i % 5 ? "young" : "old");
    // No income in some rows: explicitly missing for the builder that
    // always sees one layout, absent for the other.
    if (i % 11 == 0) {
      Event missing = e;
      missing.features[0].second = FeatureValue{};
      ordered.Add(missing);
      e.features.erase(e.features.begin());
    } else {
      ordered.Add(e);
    }
    if (i % 7 == 0) {
      std::reverse(e.features.begin(), e.features.end());
      std::reverse(e.attributes.begin(), e.attributes.end());
    }
    shuffled.Add(e);
  }
  auto a = ordered.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "");
  auto b = shuffled.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "");
  ASSERT_TRUE(a.ok() && b.ok());
  v1::ReferenceProfile pa = *a, pb = *b;
  pa.clear_created_at();
  pb.clear_created_at();
  pa.clear_profile_id();
  pb.clear_profile_id();
  EXPECT_EQ(pa.SerializeAsString(), pb.SerializeAsString())
      << pa.DebugString() << "\nvs\n"
      << pb.DebugString();
}

// Quantile edges of unsorted values with ties are the lower-rank quantiles
// of the sorted values.
TEST(ProfileBuilderTest, EdgesAreLowerRankQuantiles) {
  ProfileBuildOptions options;
  options.numeric_bins = 10;
  ProfileBuilder builder(options);
  std::mt19937 rng(9);
  std::poisson_distribution<int> poisson(4);
  std::vector<double> values;
  for (int i = 0; i < 9999; ++i) {
    values.push_back(poisson(rng) + (i % 3 ? 0.0 : 0.5));
    builder.Add(Row(values.back(), "x", 1, 0.5, "f"));
  }
  auto profile = builder.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "");
  ASSERT_TRUE(profile.ok());
  std::sort(values.begin(), values.end());
  std::vector<double> expected;
  for (int i = 0; i < 10; ++i) {
    const double edge =
        values[static_cast<size_t>(i / 10.0 * (values.size() - 1))];
    if (expected.empty() || edge > expected.back()) expected.push_back(edge);
  }
  expected.push_back(std::nextafter(values.back(), 1e300));
  const v1::FeatureProfile& income = Feature(*profile, "income");
  EXPECT_EQ(std::vector<double>(income.edges().begin(), income.edges().end()),
            expected);
  uint64_t total = 0;
  for (uint64_t c : income.reference_counts().counts()) total += c;
  EXPECT_EQ(total, values.size());
  // Each count is the number of values in [edge_i, edge_{i+1}).
  for (size_t b = 1; b < expected.size(); ++b) {
    const auto in_bin = std::count_if(
        values.begin(), values.end(),
        [&](double v) { return v >= expected[b - 1] && v < expected[b]; });
    EXPECT_EQ(income.reference_counts().counts(b),
              static_cast<uint64_t>(in_bin))
        << "bin " << b;
  }
}

// The edges are the sorted values' lower-rank quantiles whatever the
// shape: values crowded into one bucket of the range by an outlier, ties,
// a constant, magnitudes whose range overflows a double, few values, and
// bin counts up to the limit.
TEST(ProfileBuilderTest, EdgesAreExactForAnyDistribution) {
  std::mt19937_64 rng(31);
  std::normal_distribution<double> normal(0, 1);
  std::lognormal_distribution<double> heavy(0, 3);
  std::uniform_int_distribution<int> small(0, 5);
  using Draw = std::function<double(int)>;
  const std::vector<std::pair<const char*, Draw>> shapes = {
      {"normal", [&](int) { return normal(rng); }},
      {"heavy tail", [&](int) { return heavy(rng); }},
      {"one outlier", [&](int i) { return i == 7 ? 1e300 : normal(rng); }},
      {"ties", [&](int) { return static_cast<double>(small(rng)); }},
      {"constant", [&](int) { return 42.0; }},
      {"range overflows", [&](int i) { return i % 2 ? 1e308 : -1e308; }},
      {"subnormal and huge",
       [&](int i) { return i % 3 ? 4e-320 * small(rng) : -1e200; }}};
  for (const auto& [shape, draw] : shapes) {
    for (int rows : {1, 2, 3, 17, 5000}) {
      for (int bins : {2, 10, 1000}) {
        ProfileBuildOptions options;
        options.numeric_bins = bins;
        ProfileBuilder builder(options);
        std::vector<double> values;
        for (int i = 0; i < rows; ++i) {
          values.push_back(draw(i));
          builder.Add(Row(values.back(), "x", 1, 0.5, "f"));
        }
        auto profile =
            builder.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "");
        ASSERT_TRUE(profile.ok()) << profile.status();
        std::sort(values.begin(), values.end());
        std::vector<double> expected;
        for (int i = 0; i < bins; ++i) {
          const double edge = values[static_cast<size_t>(
              static_cast<double>(i) / bins * (values.size() - 1))];
          if (expected.empty() || edge > expected.back())
            expected.push_back(edge);
        }
        const double above = std::nextafter(values.back(), HUGE_VAL);
        if (above > expected.back()) expected.push_back(above);
        const v1::FeatureProfile& income = Feature(*profile, "income");
        EXPECT_EQ(
            std::vector<double>(income.edges().begin(), income.edges().end()),
            expected)
            << shape << ", " << rows << " rows, " << bins << " bins";
      }
    }
  }
}

TEST(ProfileBuilderTest, RefusesNothingAndBadOptions) {
  ProfileBuilder empty((ProfileBuildOptions()));
  EXPECT_FALSE(empty.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "").ok());
  ProfileBuildOptions options;
  options.numeric_bins = 1;
  ProfileBuilder bad(options);
  bad.Add(Row(1, "x", 1, 0.5, "f"));
  EXPECT_EQ(bad.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "")
                .status()
                .message(),
            "bins: must be 2..1000");
}

TEST(ProfileBuilderTest, ValidationNamesTheField) {
  ProfileBuilder builder((ProfileBuildOptions()));
  for (int i = 0; i < 20; ++i) builder.Add(Row(i, "x", 1, 0.5, "f"));
  auto profile = builder.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "");
  ASSERT_TRUE(profile.ok());
  v1::ReferenceProfile broken = *profile;
  broken.mutable_features(0)->set_edges(1, broken.features(0).edges(0));
  absl::Status s = ValidateProfile(broken);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("profile.features[0].edges"),
            absl::string_view::npos)
      << s;
  broken = *profile;
  broken.mutable_features(1)->mutable_reference_counts()->add_counts(1);
  EXPECT_NE(ValidateProfile(broken).message().find("reference_counts"),
            absl::string_view::npos);
}

}  // namespace
}  // namespace aims
