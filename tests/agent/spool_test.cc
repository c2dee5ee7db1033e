#include "agent/spool.h"

#include "common/base/time_util.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace aims::agent {
namespace {

v1::WindowReport Report(uint64_t events, size_t padding = 0) {
  v1::WindowReport r;
  r.set_agent_id("a1");
  *r.mutable_window_start() =
      ToProto(absl::FromUnixSeconds(1000 + 10 * events));
  *r.mutable_window_end() = ToProto(absl::FromUnixSeconds(1010 + 10 * events));
  r.mutable_summary()->mutable_operational()->set_event_count(events);
  // Padding gives reports a known size for the byte bound.
  r.mutable_summary()->set_profile_id(std::string(padding, 'x'));
  return r;
}

SpoolOptions At(const testing::TempDir& dir) {
  SpoolOptions options;
  options.dir = dir.path();
  return options;
}

uint64_t Seq(const v1::IngestRequest& item) {
  return item.has_gap() ? item.gap().first_sequence()
                        : item.report().sequence();
}

TEST(SpoolTest, SequencesAndIdentitySurviveReopen) {
  testing::TempDir dir;
  std::string id;
  {
    auto spool = Spool::Open(At(dir));
    ASSERT_TRUE(spool.ok()) << spool.status();
    auto got = (*spool)->AgentId("");
    ASSERT_TRUE(got.ok());
    id = *got;
    EXPECT_EQ(id.size(), 36u);  // a UUID
    for (uint64_t i = 1; i <= 5; ++i) {
      auto appended = (*spool)->Append(Report(i));
      ASSERT_TRUE(appended.ok());
      EXPECT_EQ(appended->sequence, i);
      EXPECT_EQ(appended->dropped_windows, 0u);
    }
    ASSERT_TRUE((*spool)->AckThrough(3).ok());
    EXPECT_EQ((*spool)->pending_reports(), 2u);
  }
  auto spool = Spool::Open(At(dir));
  ASSERT_TRUE(spool.ok());
  EXPECT_EQ(*(*spool)->AgentId(""), id);
  EXPECT_EQ((*spool)->pending_reports(), 2u);
  EXPECT_GT((*spool)->pending_bytes(), 0u);
  auto pending = (*spool)->ReadAfter(0, 10);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].report().sequence(), 4u);
  EXPECT_EQ((*pending)[1].report().summary().operational().event_count(), 5u);
  // Numbering continues; it never reuses a sequence.
  EXPECT_EQ((*spool)->Append(Report(6))->sequence, 6u);
}

TEST(SpoolTest, RemoveAndAckKeepCountsExact) {
  testing::TempDir dir;
  auto spool = Spool::Open(At(dir));
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
  auto spool = Spool::Open(At(dir));
  ASSERT_TRUE(spool.ok());
  EXPECT_EQ(*(*spool)->AgentId("pod-7"), "pod-7");
  EXPECT_EQ(*(*spool)->AgentId(""), "pod-7");
}

TEST(SpoolTest, FullSpoolDropsOldestIntoOneGapRecord) {
  testing::TempDir dir;
  SpoolOptions options = At(dir);
  options.max_bytes = 3500;  // room for three ~1 KB reports
  auto spool = Spool::Open(options);
  ASSERT_TRUE(spool.ok());
  uint64_t dropped = 0;
  for (uint64_t i = 1; i <= 8; ++i) {
    auto appended = (*spool)->Append(Report(i, 1000));
    ASSERT_TRUE(appended.ok());
    dropped += appended->dropped_windows;
    EXPECT_LE((*spool)->pending_bytes(), options.max_bytes);
  }
  EXPECT_EQ(dropped, 5u);
  EXPECT_EQ((*spool)->dropped_windows(), 5u);
  EXPECT_EQ((*spool)->pending_reports(), 3u);
  EXPECT_EQ((*spool)->pending_gaps(), 1u);
  auto items = (*spool)->ReadAfter(0, 100);
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 4u);
  // One gap for windows 1..5, in sequence order before the kept reports.
  ASSERT_TRUE((*items)[0].has_gap());
  const v1::GapNotice& gap = (*items)[0].gap();
  EXPECT_EQ(gap.first_sequence(), 1u);
  EXPECT_EQ(gap.last_sequence(), 5u);
  EXPECT_EQ(gap.event_count(), 1u + 2 + 3 + 4 + 5);
  EXPECT_EQ(gap.reason(), "spool_full");
  EXPECT_EQ(gap.window_start().seconds(), 1010);
  EXPECT_EQ(gap.window_end().seconds(), 1060);
  EXPECT_EQ(Seq((*items)[1]), 6u);
  EXPECT_EQ(Seq((*items)[3]), 8u);
  // Reading after the gap's first sequence skips it.
  EXPECT_EQ(Seq((*spool)->ReadAfter(5, 1)->at(0)), 6u);
  // The gap survives a restart with its counts.
  spool->reset();
  auto reopened = Spool::Open(options);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->pending_gaps(), 1u);
  EXPECT_EQ((*reopened)->pending_reports(), 3u);
  ASSERT_TRUE((*reopened)->AckThrough(8).ok());
  EXPECT_EQ((*reopened)->pending_gaps(), 0u);
  EXPECT_EQ((*reopened)->pending_bytes(), 0u);
}

TEST(SpoolTest, DropNewestKeepsTheOldWindows) {
  testing::TempDir dir;
  SpoolOptions options = At(dir);
  options.max_bytes = 2500;
  options.policy = SpoolOptions::FullPolicy::kDropNewest;
  auto spool = Spool::Open(options);
  ASSERT_TRUE(spool.ok());
  for (uint64_t i = 1; i <= 4; ++i)
    ASSERT_TRUE((*spool)->Append(Report(i, 1000)).ok());
  auto items = (*spool)->ReadAfter(0, 100);
  ASSERT_EQ(items->size(), 4u);
  EXPECT_TRUE((*items)[0].has_report());
  EXPECT_TRUE((*items)[1].has_report());
  EXPECT_TRUE((*items)[2].has_gap());
  EXPECT_TRUE((*items)[3].has_gap());
  EXPECT_EQ((*items)[3].gap().event_count(), 4u);
  EXPECT_EQ((*spool)->dropped_windows(), 2u);
}

}  // namespace
}  // namespace aims::agent
