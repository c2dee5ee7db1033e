#include "agent/windower.h"

#include "gtest/gtest.h"

namespace aims::agent {
namespace {

std::vector<Event> Events(int n) {
  std::vector<Event> out(n);
  for (auto& e : out) e.latency_seconds = 0.01;
  return out;
}

TEST(WindowerTest, WindowsAreAlignedAndCloseOnTime) {
  FakeClock clock(absl::FromUnixSeconds(1000) + absl::Milliseconds(3500));
  Windower windower(std::make_shared<SummaryConfig>(), absl::Seconds(10),
                    &clock);
  EXPECT_EQ(windower.current_end(), absl::FromUnixSeconds(1010));
  windower.Add(Events(3));
  EXPECT_FALSE(windower.CloseIfDue().has_value());
  clock.Advance(absl::Seconds(6));  // 1009.5
  EXPECT_FALSE(windower.CloseIfDue().has_value());
  clock.Advance(absl::Milliseconds(500));  // 1010.0: the window ends
  auto closed = windower.CloseIfDue();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->start, absl::FromUnixSeconds(1000));
  EXPECT_EQ(closed->end, absl::FromUnixSeconds(1010));
  EXPECT_EQ(closed->summary.operational().event_count(), 3u);
  EXPECT_FALSE(windower.CloseIfDue().has_value());
}

TEST(WindowerTest, EmptyWindowsAreSkippedAndLateTicksKeepEveryWindow) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  Windower windower(std::make_shared<SummaryConfig>(), absl::Seconds(10),
                    &clock);
  clock.Advance(absl::Seconds(35));  // three empty windows pass
  EXPECT_FALSE(windower.CloseIfDue().has_value());
  windower.Add(Events(2));  // window [1030, 1040)
  clock.Advance(absl::Seconds(10));
  windower.Add(Events(5));  // rolls [1030,1040) first, then [1040, 1050)
  auto first = windower.CloseIfDue();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->start, absl::FromUnixSeconds(1030));
  EXPECT_EQ(first->summary.operational().event_count(), 2u);
  clock.Advance(absl::Seconds(10));
  auto second = windower.CloseIfDue();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->start, absl::FromUnixSeconds(1040));
  EXPECT_EQ(second->summary.operational().event_count(), 5u);
}

TEST(WindowerTest, CloseNowCutsThePartialWindow) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  Windower windower(std::make_shared<SummaryConfig>(), absl::Seconds(10),
                    &clock);
  windower.Add(Events(4));
  windower.CountRejected("malformed", 2);
  clock.Advance(absl::Seconds(4));
  auto closed = windower.CloseNow();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->end, absl::FromUnixSeconds(1004));
  EXPECT_EQ(closed->summary.operational().event_count(), 4u);
  EXPECT_EQ(closed->summary.operational().rejected_by_reason().at("malformed"),
            2u);
  EXPECT_FALSE(windower.CloseNow().has_value());
}

// A checkpoint takes the open window's summary so far out of memory; the
// window closes with it merged back, as if nothing had been taken.
TEST(WindowerTest, CheckpointsMergeBackWhenTheWindowCloses) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  Windower windower(std::make_shared<SummaryConfig>(), absl::Seconds(10),
                    &clock);
  const absl::Time start = windower.Add(Events(3));
  EXPECT_EQ(start, absl::FromUnixSeconds(1000));
  auto first = windower.Checkpoint(start);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->operational().event_count(), 3u);
  // Nothing new: no checkpoint; another window: none either.
  auto none = windower.Checkpoint(start);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  none = windower.Checkpoint(start + absl::Seconds(10));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  windower.Add(Events(4));
  auto second = windower.Checkpoint(start);
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->operational().event_count(), 7u);
  windower.Add(Events(5));
  clock.Advance(absl::Seconds(10));
  auto closed = windower.CloseIfDue();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->start, start);
  EXPECT_EQ(closed->summary.operational().event_count(), 12u);

  // A window restored from a checkpoint (replay) closes with it too, even
  // when nothing else arrives.
  Windower restarted(std::make_shared<SummaryConfig>(), absl::Seconds(10),
                     &clock);
  restarted.RestoreCheckpoint(**second);
  clock.Advance(absl::Seconds(10));
  auto replayed = restarted.CloseIfDue();
  ASSERT_TRUE(replayed.has_value());
  EXPECT_EQ(replayed->summary.operational().event_count(), 7u);
}

// A replay that outlasts its window (a slow start) keeps every replayed
// event in that window: it closes with all of them at the first tick after.
// Rolling over halfway put the rest in the next window, which no intake-log
// segment held, and a kill then lost them (seen in
// DeliveryTest.AgentKilledDuringTrafficKeepsWhatItAccepted under load).
TEST(WindowerTest, ReplayingKeepsTheOpenWindowOpen) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  Windower windower(std::make_shared<SummaryConfig>(), absl::Seconds(10),
                    &clock);
  windower.SetReplaying(true);
  windower.Add(Events(4));
  clock.Advance(absl::Seconds(12));  // past the window's end
  EXPECT_EQ(windower.Add(Events(6)), absl::FromUnixSeconds(1000));
  EXPECT_FALSE(windower.CloseIfDue().has_value());
  windower.SetReplaying(false);
  auto closed = windower.CloseIfDue();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->start, absl::FromUnixSeconds(1000));
  EXPECT_EQ(closed->end, absl::FromUnixSeconds(1010));
  EXPECT_EQ(closed->summary.operational().event_count(), 10u);
  // Events after the replay go to the window open now.
  EXPECT_EQ(windower.Add(Events(1)), absl::FromUnixSeconds(1010));
}

}  // namespace
}  // namespace aims::agent
