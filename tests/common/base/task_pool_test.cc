// TaskPool: tasks run on the pool's threads, the queue is bounded (a full
// queue refuses instead of blocking), and queued tasks run before the pool
// is destroyed, or dropped by Shutdown(kDrop).
#include "common/base/task_pool.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace aims {
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

TEST(TaskPoolTest, ShutdownDropsOrRunsWhatIsQueuedThenRefuses) {
  for (TaskPool::Queued queued :
       {TaskPool::Queued::kDrop, TaskPool::Queued::kRun}) {
    std::atomic<int> ran{0};
    absl::Notification release, started;
    TaskPool pool(/*threads=*/1, /*max_queued=*/4);
    ASSERT_TRUE(pool.TrySchedule([&] {
      started.Notify();
      release.WaitForNotification();
      ++ran;
    }));
    started.WaitForNotification();
    ASSERT_TRUE(pool.TrySchedule([&] { ++ran; }));
    ASSERT_TRUE(pool.TrySchedule([&] { ++ran; }));
    std::thread stopper([&] { pool.Shutdown(queued); });
    // With kDrop the queue empties at once (the first task still runs);
    // release it only then, or its thread could take a queued task first.
    if (queued == TaskPool::Queued::kDrop) {
      while (pool.depth() != 0) std::this_thread::yield();
    }
    release.Notify();
    stopper.join();
    EXPECT_EQ(ran.load(), queued == TaskPool::Queued::kRun ? 3 : 1);
    EXPECT_EQ(pool.depth(), 0u);
    EXPECT_FALSE(pool.TrySchedule([&] { ran += 100; }));
    pool.Shutdown(queued);  // a second call changes nothing
  }
}

}  // namespace
}  // namespace aims
