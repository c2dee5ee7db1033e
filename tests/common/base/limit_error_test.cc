#include "common/base/limit_error.h"

#include <limits>

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

TEST(LimitErrorTest, TransportCapIsTwiceTheLimitWithinInt) {
  EXPECT_EQ(TransportMessageCap(4 << 20), 8 << 20);
  EXPECT_EQ(TransportMessageCap(1 << 30), std::numeric_limits<int>::max());
  EXPECT_EQ(TransportMessageCap(size_t{1} << 40),
            std::numeric_limits<int>::max());
}

}  // namespace
}  // namespace aims
