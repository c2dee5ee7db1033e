#include "ctl/profile_csv.h"

#include <sstream>
#include <string>

#include "common/summary/window_accumulator.h"
#include "gtest/gtest.h"

namespace aims::ctl {
namespace {

v1::ModelRef Model() {
  v1::ModelRef m;
  m.set_name("credit");
  m.set_version("v1");
  m.set_environment("any");
  return m;
}

TEST(ProfileCsvTest, ColumnsBecomeFeaturesAttributesAndOutcomes) {
  std::istringstream in(
      "id,age,city,gender,score,prediction,label\n"
      "1,30,Paris,f,0.9,1,1\n"
      "2,40,Lyon,m,0.2,0,1\n"
      "3,,Paris,,0.6,1,0\n");
  ProfileCsvColumns columns;
  columns.sensitive = {"gender"};
  columns.ignore = {"id"};
  ProfileBuilder builder(ProfileBuildOptions{});
  std::vector<std::string> header;
  ASSERT_TRUE(AddCsvRows(in, columns, &builder, &header).ok());
  EXPECT_EQ(header.size(), 7u);
  EXPECT_EQ(builder.rows(), 3u);
  absl::StatusOr<v1::ReferenceProfile> profile =
      builder.Build(Model(), v1::PROFILE_SOURCE_TRAINING_DATA, "test");
  ASSERT_TRUE(profile.ok()) << profile.status();
  // The columns plus the predictions' pseudo-feature; id, gender, score,
  // prediction and label are none.
  ASSERT_EQ(profile->features_size(), 3);
  EXPECT_EQ(profile->features(0).name(), kPredictionFeature);
  EXPECT_EQ(profile->features(1).name(), "age");
  EXPECT_EQ(profile->features(1).kind(), v1::FeatureProfile::KIND_NUMERIC);
  EXPECT_EQ(profile->features(2).name(), "city");
  EXPECT_EQ(profile->features(2).kind(), v1::FeatureProfile::KIND_CATEGORICAL);
  ASSERT_EQ(profile->groups_size(), 2);
  EXPECT_EQ(profile->groups(0).attribute(), "gender");
  EXPECT_TRUE(ValidateProfile(*profile).ok());
}

TEST(ProfileCsvTest, ScoreOutsideZeroToOneNamesLineAndColumn) {
  std::istringstream in("x,score\n1,0.5\n2,1.5\n");
  ProfileBuilder builder(ProfileBuildOptions{});
  std::vector<std::string> header;
  EXPECT_EQ(AddCsvRows(in, ProfileCsvColumns(), &builder, &header).message(),
            "line 3: column score: score must be a number in [0, 1], got "
            "'1.5'");
}

// Found by tests/fuzz/profile_csv_fuzz.cc: such a column made a profile the
// collector refuses ("profile.features[0].name: must be 1..128 bytes").
TEST(ProfileCsvTest, FeatureAndAttributeNamesAreLimited) {
  const std::string long_name(129, 'n');
  ProfileBuilder builder(ProfileBuildOptions{});
  std::vector<std::string> header;
  std::istringstream too_long("a," + long_name + "\n1,2\n");
  EXPECT_EQ(
      AddCsvRows(too_long, ProfileCsvColumns(), &builder, &header).message(),
      "line 1: column 2: the name is 129 bytes; feature and attribute "
      "names are 1..128 bytes (or --ignore the column)");
  std::istringstream empty("a,,label\n1,2,1\n");
  EXPECT_EQ(
      AddCsvRows(empty, ProfileCsvColumns(), &builder, &header).message(),
      "line 1: column 2: the name is 0 bytes; feature and attribute names are "
      "1..128 bytes (or --ignore the column)");
  ProfileCsvColumns sensitive;
  sensitive.sensitive = {long_name};
  std::istringstream attribute(long_name + "\nf\n");
  EXPECT_FALSE(AddCsvRows(attribute, sensitive, &builder, &header).ok());
  ProfileCsvColumns ignore;
  ignore.ignore = {long_name};
  std::istringstream ignored("a," + long_name + "\n1,2\n");
  EXPECT_TRUE(AddCsvRows(ignored, ignore, &builder, &header).ok());
}

}  // namespace
}  // namespace aims::ctl
