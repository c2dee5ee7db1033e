#include "agent/spool.h"

#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace aims::agent {
namespace {

v1::WindowReport Report(uint64_t events) {
  v1::WindowReport r;
  r.mutable_summary()->mutable_operational()->set_event_count(events);
  return r;
}

TEST(SpoolTest, SequencesAndIdentitySurviveReopen) {
  testing::TempDir dir;
  std::string id;
  {
    auto spool = Spool::Open(dir.path());
    ASSERT_TRUE(spool.ok()) << spool.status();
    auto got = (*spool)->AgentId("");
    ASSERT_TRUE(got.ok());
    id = *got;
    EXPECT_EQ(id.size(), 36u);  // a UUID
    for (uint64_t i = 1; i <= 5; ++i) {
      auto seq = (*spool)->Append(Report(i));
      ASSERT_TRUE(seq.ok());
      EXPECT_EQ(*seq, i);
    }
    ASSERT_TRUE((*spool)->AckThrough(3).ok());
    EXPECT_EQ((*spool)->pending_reports(), 2u);
  }
  auto spool = Spool::Open(dir.path());
  ASSERT_TRUE(spool.ok());
  EXPECT_EQ(*(*spool)->AgentId(""), id);
  EXPECT_EQ((*spool)->pending_reports(), 2u);
  EXPECT_GT((*spool)->pending_bytes(), 0u);
  auto pending = (*spool)->ReadAfter(0, 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].sequence(), 4u);
  EXPECT_EQ((*pending)[1].summary().operational().event_count(), 5u);
  // Numbering continues; it never reuses a sequence.
  EXPECT_EQ(*(*spool)->Append(Report(6)), 6u);
}

TEST(SpoolTest, RemoveAndAckKeepCountsExact) {
  testing::TempDir dir;
  auto spool = Spool::Open(dir.path());
  ASSERT_TRUE(spool.ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*spool)->Append(Report(1)).ok());
  ASSERT_TRUE((*spool)->Remove(2).ok());
  ASSERT_TRUE((*spool)->Remove(2).ok());  // idempotent
  EXPECT_EQ((*spool)->pending_reports(), 3u);
  ASSERT_TRUE((*spool)->AckThrough(3).ok());
  EXPECT_EQ((*spool)->pending_reports(), 1u);
  ASSERT_TRUE((*spool)->AckThrough(1).ok());  // stale ack: no change
  EXPECT_EQ((*spool)->pending_reports(), 1u);
  ASSERT_TRUE((*spool)->AckThrough(4).ok());
  EXPECT_EQ((*spool)->pending_reports(), 0u);
  EXPECT_EQ((*spool)->pending_bytes(), 0u);
}

TEST(SpoolTest, ConfiguredIdWins) {
  testing::TempDir dir;
  auto spool = Spool::Open(dir.path());
  ASSERT_TRUE(spool.ok());
  EXPECT_EQ(*(*spool)->AgentId("pod-7"), "pod-7");
  EXPECT_EQ(*(*spool)->AgentId(""), "pod-7");
}

}  // namespace
}  // namespace aims::agent
