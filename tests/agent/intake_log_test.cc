#include "agent/intake_log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace aims::agent {
namespace {

const absl::Time kW0 = absl::FromUnixSeconds(1'764'979'200);
const absl::Time kW1 = kW0 + absl::Seconds(10);

TEST(IntakeLogTest, RecordsComeBackPerWindowInOrderAcrossReopen) {
  testing::TempDir dir;
  {
    auto log = IntakeLog::Open(dir.File("intake"), 1 << 20);
    ASSERT_TRUE(log.ok()) << log.status();
    ASSERT_TRUE((*log)
                    ->Append(kW0, IntakeRecord::Kind::kJsonEvents,
                             kW0 + absl::Milliseconds(1), "[{\"a\":1}]")
                    .ok());
    ASSERT_TRUE((*log)
                    ->Append(kW1, IntakeRecord::Kind::kJoinedLabels,
                             kW1 + absl::Microseconds(7), std::string(3, '\0'))
                    .ok());
    ASSERT_TRUE((*log)
                    ->Append(kW0, IntakeRecord::Kind::kProtoEvents,
                             kW0 + absl::Seconds(2), "")
                    .ok());
  }
  // As a restarted agent finds it.
  auto log = IntakeLog::Open(dir.File("intake"), 1 << 20);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ((*log)->Segments(), (std::vector<absl::Time>{kW0, kW1}));
  auto w0 = (*log)->Read(kW0);
  ASSERT_TRUE(w0.ok()) << w0.status();
  ASSERT_EQ(w0->size(), 2u);
  EXPECT_EQ((*w0)[0].kind, IntakeRecord::Kind::kJsonEvents);
  EXPECT_EQ((*w0)[0].arrival, kW0 + absl::Milliseconds(1));
  EXPECT_EQ((*w0)[0].payload, "[{\"a\":1}]");
  EXPECT_EQ((*w0)[1].kind, IntakeRecord::Kind::kProtoEvents);
  EXPECT_EQ((*w0)[1].payload, "");
  auto w1 = (*log)->Read(kW1);
  ASSERT_TRUE(w1.ok());
  ASSERT_EQ(w1->size(), 1u);
  EXPECT_EQ((*w1)[0].arrival, kW1 + absl::Microseconds(7));
  EXPECT_EQ((*w1)[0].payload, std::string(3, '\0'));
  EXPECT_GT((*log)->bytes(), 0u);

  // Spooled windows go.
  (*log)->Trim(kW1);
  EXPECT_EQ((*log)->Segments(), (std::vector<absl::Time>{kW1}));
  EXPECT_NE(
      access(dir.File(absl::StrCat("intake/", absl::ToUnixMillis(kW1), ".log"))
                 .c_str(),
             F_OK),
      -1);
  EXPECT_EQ(
      access(dir.File(absl::StrCat("intake/", absl::ToUnixMillis(kW0), ".log"))
                 .c_str(),
             F_OK),
      -1);
  (*log)->Trim(absl::InfiniteFuture());
  EXPECT_TRUE((*log)->Segments().empty());
  EXPECT_EQ((*log)->bytes(), 0u);
}

// A record cut short by a crash was never answered: it ends its segment,
// and so does a record whose bytes were changed.
TEST(IntakeLogTest, ATornOrDamagedRecordEndsItsSegment) {
  testing::TempDir dir;
  const std::string segment =
      dir.File(absl::StrCat("intake/", absl::ToUnixMillis(kW0), ".log"));
  for (int damage : {0, 1}) {
    {
      auto log = IntakeLog::Open(dir.File("intake"), 1 << 20);
      ASSERT_TRUE(log.ok());
      (*log)->Trim(absl::InfiniteFuture());
      for (const char* body : {"first", "second", "third"}) {
        ASSERT_TRUE(
            (*log)
                ->Append(kW0, IntakeRecord::Kind::kJsonEvents, kW0, body)
                .ok());
      }
    }
    struct stat st;
    ASSERT_EQ(stat(segment.c_str(), &st), 0);
    if (damage == 0) {
      ASSERT_EQ(truncate(segment.c_str(), st.st_size - 2), 0);
    } else {
      FILE* f = fopen(segment.c_str(), "r+b");
      ASSERT_NE(f, nullptr);
      fseek(f, st.st_size - 1, SEEK_SET);  // the last byte of "third"
      fputc('X', f);
      fclose(f);
    }
    auto log = IntakeLog::Open(dir.File("intake"), 1 << 20);
    ASSERT_TRUE(log.ok());
    auto records = (*log)->Read(kW0);
    ASSERT_TRUE(records.ok());
    ASSERT_EQ(records->size(), 2u) << "damage " << damage;
    EXPECT_EQ((*records)[1].payload, "second");
  }
}

TEST(IntakeLogTest, BoundedNamingTheFlag) {
  testing::TempDir dir;
  auto log = IntakeLog::Open(dir.File("intake"), 100);
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE((*log)->CheckRoom(50).ok());
  ASSERT_TRUE((*log)
                  ->Append(kW0, IntakeRecord::Kind::kJsonEvents, kW0,
                           std::string(50, 'x'))
                  .ok());
  const absl::Status full = (*log)->Append(kW0, IntakeRecord::Kind::kJsonEvents,
                                           kW0, std::string(50, 'x'));
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.message().find("limit 100 (--intake_log_max_bytes)"),
            std::string::npos)
      << full;
  EXPECT_EQ((*log)->CheckRoom(50).code(), absl::StatusCode::kResourceExhausted);
  (*log)->Trim(absl::InfiniteFuture());
  EXPECT_TRUE((*log)->CheckRoom(50).ok());
}

}  // namespace
}  // namespace aims::agent
