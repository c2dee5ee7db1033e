#include "agent/intake_log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

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

std::vector<std::string> Payloads(IntakeLog& log, absl::Time window) {
  std::vector<std::string> out;
  auto records = log.Read(window);
  EXPECT_TRUE(records.ok()) << records.status();
  if (!records.ok()) return out;
  for (const IntakeRecord& r : *records) out.push_back(r.payload);
  return out;
}

// A checkpoint replaces a window's records by one, in a new generation of
// its segment; at every point of a checkpoint cut by a crash, what Read()
// gives holds each record exactly once.
TEST(IntakeLogTest, ACheckpointReplacesTheRecordsBeforeIt) {
  testing::TempDir dir;
  const std::string gen0 =
      dir.File(absl::StrCat("intake/", absl::ToUnixMillis(kW0), ".log"));
  const std::string gen1 =
      dir.File(absl::StrCat("intake/", absl::ToUnixMillis(kW0), ".1.log"));
  auto log = IntakeLog::Open(dir.File("intake"), 1 << 20);
  ASSERT_TRUE(log.ok());
  for (const char* body : {"a", "b"}) {
    ASSERT_TRUE(
        (*log)->Append(kW0, IntakeRecord::Kind::kJsonEvents, kW0, body).ok());
  }
  ASSERT_TRUE(
      (*log)->Append(kW1, IntakeRecord::Kind::kJsonEvents, kW1, "other").ok());
  const uint64_t before = (*log)->SegmentBytes(kW0);
  std::string saved_gen0;
  {
    std::ifstream in(gen0, std::ios::binary);
    saved_gen0.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_TRUE((*log)->Checkpoint(kW0, kW0, "a+b").ok());
  ASSERT_TRUE(
      (*log)->Append(kW0, IntakeRecord::Kind::kJsonEvents, kW0, "c").ok());
  EXPECT_EQ(Payloads(**log, kW0), (std::vector<std::string>{"a+b", "c"}));
  EXPECT_EQ(access(gen0.c_str(), F_OK), -1) << "older generation deleted";
  EXPECT_LT((*log)->SegmentBytes(kW0), before + 20);
  EXPECT_EQ(Payloads(**log, kW1), (std::vector<std::string>{"other"}));
  log->reset();

  // As a restarted agent finds it.
  auto reopened = IntakeLog::Open(dir.File("intake"), 1 << 20);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(Payloads(**reopened, kW0), (std::vector<std::string>{"a+b", "c"}));
  reopened->reset();

  // Killed after writing the checkpoint, before deleting the older
  // generation: the checkpoint still holds "a" and "b".
  {
    std::ofstream out(gen0, std::ios::binary);
    out << saved_gen0;
  }
  auto after_kill = IntakeLog::Open(dir.File("intake"), 1 << 20);
  ASSERT_TRUE(after_kill.ok());
  EXPECT_EQ(Payloads(**after_kill, kW0),
            (std::vector<std::string>{"a+b", "c"}));
  after_kill->reset();

  // Killed while writing the checkpoint: a torn first record of the new
  // generation leaves the older one in force.
  {
    struct stat st;
    ASSERT_EQ(stat(gen1.c_str(), &st), 0);
    ASSERT_EQ(truncate(gen1.c_str(), 10), 0);
  }
  auto torn = IntakeLog::Open(dir.File("intake"), 1 << 20);
  ASSERT_TRUE(torn.ok());
  EXPECT_EQ(Payloads(**torn, kW0), (std::vector<std::string>{"a", "b"}));
  (*torn)->Trim(absl::InfiniteFuture());
  EXPECT_EQ((*torn)->bytes(), 0u);
  EXPECT_EQ(access(gen0.c_str(), F_OK), -1);
  EXPECT_EQ(access(gen1.c_str(), F_OK), -1);
}

}  // namespace
}  // namespace aims::agent
