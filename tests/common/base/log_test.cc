#include "common/base/log.h"

#include "gtest/gtest.h"

namespace aims {
namespace {

TEST(LogTest, FormatsLogfmtAndQuotesWhatNeedsIt) {
  EXPECT_EQ(FormatLogRecord(
                LogLevel::kWarn, "disk full",
                {{"path", "/var/aims"}, {"free", 0}, {"why", "said \"no\""}}),
            "level=warn msg=\"disk full\" path=/var/aims free=0 "
            "why=\"said \\\"no\\\"\"");
  EXPECT_EQ(
      FormatLogRecord(LogLevel::kInfo, "x", {{"multi", "a\nb"}, {"ok", true}}),
      "level=info msg=x multi=\"a\\nb\" ok=true");
}

TEST(LogTest, ParsesLevels) {
  LogLevel level;
  EXPECT_TRUE(ParseLogLevel("debug", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
  EXPECT_FALSE(ParseLogLevel("loud", &level));
}

}  // namespace
}  // namespace aims
