#include "common/base/task_pool.h"

#include <utility>

namespace aims {

TaskPool::TaskPool(size_t threads, size_t max_queued)
    : max_queued_(max_queued) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

TaskPool::~TaskPool() { Shutdown(Queued::kRun); }

void TaskPool::Shutdown(Queued queued) {
  std::deque<std::function<void()>> dropped;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (queued == Queued::kDrop) dropped.swap(queue_);
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  // `dropped` is destroyed here, outside the lock: its tasks' captures may
  // take locks of their own.
}

bool TaskPool::TrySchedule(std::function<void()> task) {
  if (threads_.empty()) return false;
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= max_queued_) return false;
  queue_.push_back(std::move(task));
  return true;
}

size_t TaskPool::depth() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

bool TaskPool::HasWorkOrStopping() const {
  return stopping_ || !queue_.empty();
}

void TaskPool::Run() {
  for (;;) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &TaskPool::HasWorkOrStopping));
      if (queue_.empty()) return;  // stopping, nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace aims
