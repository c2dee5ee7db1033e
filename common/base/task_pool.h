// TaskPool: a fixed set of threads that run tasks handed to TrySchedule().
//
// Contract:
//  - At most `max_queued` tasks wait; TrySchedule() refuses (returns false)
//    beyond that, so a caller never blocks on a full queue: it does the work
//    itself or answers "overloaded". Callers that wait for a task should be
//    able to run it themselves when it has not started (see
//    RocksStorage::MergeRecords), so that a busy pool only costs
//    parallelism, never latency.
//  - Shutdown(kDrop) discards the tasks still queued and joins the threads
//    (a server after its drain: nobody waits for them); Shutdown(kRun) and
//    the destructor run them first. After a shutdown everything is refused.
//
// Thread-safety: safe for concurrent use; Shutdown() may be called more than
// once, but not from one of the pool's own tasks.
#ifndef AIMS_COMMON_BASE_TASK_POOL_H_
#define AIMS_COMMON_BASE_TASK_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace aims {

class TaskPool {
 public:
  TaskPool(size_t threads, size_t max_queued);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  size_t threads() const { return threads_.size(); }

  // Queues `task`; false (and `task` dropped) when the queue is full, the
  // pool has no threads or it was shut down.
  bool TrySchedule(std::function<void()> task);

  // Tasks waiting to start.
  size_t depth() const;

  enum class Queued { kRun, kDrop };
  // Stops taking tasks, runs or drops the queued ones, joins the threads.
  void Shutdown(Queued queued);

 private:
  void Run();
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_queued_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace aims

#endif  // AIMS_COMMON_BASE_TASK_POOL_H_
