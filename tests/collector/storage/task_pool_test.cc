// TaskPool: tasks run on the pool's threads, the queue is bounded (a full
// queue refuses instead of blocking), and queued tasks run before the pool
// is destroyed.
#include "collector/storage/task_pool.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace aims::collector {
namespace {

TEST(TaskPoolTest, RunsTasksAndRefusesBeyondItsBound) {
  std::atomic<int> ran{0};
  absl::Notification release, started;
  {
    TaskPool pool(/*threads=*/1, /*max_queued=*/2);
    EXPECT_EQ(pool.threads(), 1u);
    // The one thread blocks in the first task, so the next two wait.
    ASSERT_TRUE(pool.TrySchedule([&] {
      started.Notify();
      release.WaitForNotification();
      ++ran;
    }));
    started.WaitForNotification();
    ASSERT_TRUE(pool.TrySchedule([&] { ++ran; }));
    ASSERT_TRUE(pool.TrySchedule([&] { ++ran; }));
    EXPECT_EQ(pool.depth(), 2u);
    EXPECT_FALSE(pool.TrySchedule([&] { ran += 100; }));  // full
    release.Notify();
  }  // the destructor runs what is queued, then joins
  EXPECT_EQ(ran.load(), 3);
}

TEST(TaskPoolTest, WithoutThreadsEverythingIsRefused) {
  TaskPool pool(/*threads=*/0, /*max_queued=*/8);
  EXPECT_FALSE(pool.TrySchedule([] {}));
  EXPECT_EQ(pool.depth(), 0u);
}

}  // namespace
}  // namespace aims::collector
