#include "common/limit_error.h"

#include "gtest/gtest.h"

namespace aims {
namespace {

TEST(LimitErrorTest, NamesFieldLimitAndFlagAndCarriesTheLimitName) {
  absl::Status s = LimitError("events[3].features", "1200 entries", "1000",
                              "--max_features_per_event");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "events[3].features: 1200 entries, limit 1000 "
            "(--max_features_per_event)");
  EXPECT_EQ(LimitOf(s), "features_per_event");
  EXPECT_EQ(LimitOf(absl::InvalidArgumentError("x: bad")), "");
  EXPECT_EQ(LimitOf(absl::OkStatus()), "");
  EXPECT_EQ(LimitName("--label_store_max_entries"), "label_store_max_entries");
  EXPECT_EQ(LimitName("--max_clock_skew"), "clock_skew");
}

}  // namespace
}  // namespace aims
