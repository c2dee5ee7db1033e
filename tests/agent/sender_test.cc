// The sender's reconnect backoff on a FakeClock (no sleeps): exponential
// with full jitter from 200 ms to 30 s, reset by a stream that lasted; and
// a sender whose backoff fake time never ends still stops.
#include "agent/sender.h"

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/agent_metrics.h"
#include "agent/spool.h"
#include "common/base/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace aims::agent {
namespace {

constexpr absl::Duration kInitial = absl::Milliseconds(200);
constexpr absl::Duration kMax = absl::Seconds(30);

TEST(ReconnectBackoffTest, DoublesFrom200msTo30sWithFullJitter) {
  FakeClock clock;
  ReconnectBackoff backoff(kInitial, kMax, &clock, /*seed=*/1);
  const std::vector<absl::Duration> ceilings = {
      absl::Milliseconds(200),   absl::Milliseconds(400),
      absl::Milliseconds(800),   absl::Milliseconds(1600),
      absl::Milliseconds(3200),  absl::Milliseconds(6400),
      absl::Milliseconds(12800), absl::Milliseconds(25600),
      absl::Seconds(30),         absl::Seconds(30),
      absl::Seconds(30)};
  for (absl::Duration ceiling : ceilings) {
    EXPECT_EQ(backoff.ceiling(), ceiling);
    backoff.StreamStarted();
    clock.Advance(absl::Seconds(1));  // a short stream: a failure
    const absl::Duration wait = backoff.StreamEnded();
    EXPECT_GE(wait, absl::ZeroDuration());
    EXPECT_LE(wait, ceiling);
  }
}

TEST(ReconnectBackoffTest, JitterSpreadsOverTheWholeRange) {
  FakeClock clock;
  ReconnectBackoff backoff(kInitial, kMax, &clock, /*seed=*/7);
  for (int i = 0; i < 20; ++i) backoff.StreamEnded();  // at the cap
  absl::Duration lowest = kMax, highest, sum;
  constexpr int kDraws = 2000;
  for (int i = 0; i < kDraws; ++i) {
    ASSERT_EQ(backoff.ceiling(), kMax);
    const absl::Duration wait = backoff.StreamEnded();
    ASSERT_GE(wait, absl::ZeroDuration());
    ASSERT_LE(wait, kMax);
    lowest = std::min(lowest, wait);
    highest = std::max(highest, wait);
    sum += wait;
  }
  // Full jitter: anywhere in [0, 30 s], about 15 s on average.
  EXPECT_LT(lowest, absl::Seconds(1));
  EXPECT_GT(highest, absl::Seconds(29));
  EXPECT_GT(sum / kDraws, absl::Seconds(13));
  EXPECT_LT(sum / kDraws, absl::Seconds(17));
}

TEST(ReconnectBackoffTest, AStreamThatLastedStartsOver) {
  FakeClock clock;
  ReconnectBackoff backoff(kInitial, kMax, &clock, /*seed=*/3);
  for (int i = 0; i < 6; ++i) {
    backoff.StreamStarted();
    backoff.StreamEnded();  // fails at once
  }
  EXPECT_EQ(backoff.ceiling(), absl::Milliseconds(12800));
  // Just short of kResetAfter: still a failure.
  backoff.StreamStarted();
  clock.Advance(ReconnectBackoff::kResetAfter - absl::Milliseconds(1));
  EXPECT_LE(backoff.StreamEnded(), absl::Milliseconds(12800));
  EXPECT_EQ(backoff.ceiling(), absl::Milliseconds(25600));
  // A stream that lasted: the next wait is at most 200 ms again, and the
  // failures after it double from there.
  backoff.StreamStarted();
  clock.Advance(ReconnectBackoff::kResetAfter);
  EXPECT_LE(backoff.StreamEnded(), kInitial);
  EXPECT_EQ(backoff.ceiling(), absl::Milliseconds(400));
  backoff.StreamStarted();
  EXPECT_LE(backoff.StreamEnded(), absl::Milliseconds(400));
  EXPECT_EQ(backoff.ceiling(), absl::Milliseconds(800));
}

TEST(ReconnectBackoffTest, TheWaitEndsWhenFakeTimeReachesIt) {
  FakeClock clock;
  absl::Mutex mu;
  bool stopping = false;
  bool woken_by_condition = true;
  const absl::Time wake = clock.Now() + kMax;
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    woken_by_condition =
        clock.AwaitWithDeadline(&mu, absl::Condition(&stopping), wake);
  });
  clock.Advance(kMax);
  waiter.join();
  EXPECT_FALSE(woken_by_condition);
}

TEST(SenderTest, StopsDuringABackoffThatFakeTimeNeverEnds) {
  testing::TempDir dir;
  SpoolOptions spool_options;
  spool_options.dir = dir.path();
  absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(spool_options);
  ASSERT_TRUE(spool.ok()) << spool.status();
  AgentMetrics metrics(std::make_shared<prometheus::Registry>());
  FakeClock clock;
  SenderOptions options;
  // Nothing listens there: every stream fails and the sender backs off.
  options.collector = absl::StrCat("127.0.0.1:", testing::FreePort());
  Sender sender(options, spool->get(), &metrics, &clock);
  sender.Start();
  sender.Stop();  // returns although the fake clock never moves
  EXPECT_FALSE(sender.connected());
  // No reconnect: fake time never reached the end of a backoff.
  EXPECT_EQ(metrics.reconnects.Value(), 0);
}

}  // namespace
}  // namespace aims::agent
