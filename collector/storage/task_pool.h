// TaskPool: a fixed set of threads that run tasks handed to TrySchedule().
//
// Contract:
//  - At most `max_queued` tasks wait; TrySchedule() refuses (returns false)
//    beyond that, so a caller never blocks on a full queue: it does the work
//    itself. Callers that wait for a task should be able to run it
//    themselves when it has not started (see RocksStorage::MergeRecords), so
//    that a busy pool only costs parallelism, never latency.
//  - The destructor runs the tasks still queued, then joins the threads.
//
// Thread-safety: safe for concurrent use.
#ifndef AIMS_COLLECTOR_STORAGE_TASK_POOL_H_
#define AIMS_COLLECTOR_STORAGE_TASK_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace aims::collector {

class TaskPool {
 public:
  TaskPool(size_t threads, size_t max_queued);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  size_t threads() const { return threads_.size(); }

  // Queues `task`; false (and `task` dropped) when the queue is full or the
  // pool has no threads.
  bool TrySchedule(std::function<void()> task);

  // Tasks waiting to start.
  size_t depth() const;

 private:
  void Run();
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_queued_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_STORAGE_TASK_POOL_H_
