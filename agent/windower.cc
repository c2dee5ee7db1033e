#include "agent/windower.h"

#include <algorithm>

#include "absl/strings/string_view.h"
#include "common/summary/summary_merge.h"

namespace aims::agent {

Windower::Windower(std::shared_ptr<const SummaryConfig> config,
                   absl::Duration window, const Clock* clock,
                   absl::Time not_before)
    : window_(window), clock_(clock) {
  absl::MutexLock lock(&mu_);
  config_ = std::move(config);
  const absl::Time now = clock_->Now();
  open_.start = std::max(AlignedStart(now), std::min(not_before, now));
  open_.end = AlignedStart(now) + window_;
  NewAccumulatorLocked(config_);
}

void Windower::NewAccumulatorLocked(
    std::shared_ptr<const SummaryConfig> config) {
  open_.config = config;
  open_.acc = std::make_unique<WindowAccumulator>(std::move(config));
}

absl::Time Windower::AlignedStart(absl::Time now) const {
  return absl::UnixEpoch() + absl::Floor(now - absl::UnixEpoch(), window_);
}

std::optional<ClosedWindow> Windower::TakeLocked(absl::Time end) {
  std::optional<ClosedWindow> out;
  if (open_.acc->event_count() > 0 || open_.other_activity > 0 ||
      open_.checkpoint.has_value()) {
    v1::WindowSummary summary;
    if (!open_.checkpoint.has_value()) {
      summary = open_.acc->Build();
    } else {
      summary = std::move(*open_.checkpoint);
      if (open_.acc->event_count() > 0 || open_.other_activity > 0) {
        // Both parts come from this agent's accumulators of one config, so
        // they merge (a failure would leave the checkpoint whole).
        (void)MergeSummaries(&summary, open_.acc->Build());
      }
    }
    out = ClosedWindow{open_.start, end, std::move(summary)};
  }
  NewAccumulatorLocked(config_);
  open_.checkpoint.reset();
  open_.other_activity = 0;
  return out;
}

absl::StatusOr<std::optional<v1::WindowSummary>> Windower::Checkpoint(
    absl::Time window_start) {
  absl::MutexLock lock(&mu_);
  if (open_.start != window_start ||
      (open_.acc->event_count() == 0 && open_.other_activity == 0)) {
    return std::nullopt;
  }
  if (!open_.checkpoint.has_value()) {
    open_.checkpoint = open_.acc->Build();
  } else if (absl::Status s =
                 MergeSummaries(&*open_.checkpoint, open_.acc->Build());
             !s.ok()) {
    return s;
  }
  NewAccumulatorLocked(open_.config);
  open_.other_activity = 0;
  return *open_.checkpoint;
}

void Windower::RestoreCheckpoint(v1::WindowSummary summary) {
  absl::MutexLock lock(&mu_);
  open_.checkpoint = std::move(summary);
}

void Windower::RollLocked(absl::Time now) {
  if (replaying_ || now < open_.end) return;
  if (auto closed = TakeLocked(open_.end)) ready_.push_back(std::move(*closed));
  open_.start = AlignedStart(now);
  open_.end = open_.start + window_;
}

void Windower::SetReplaying(bool replaying) {
  absl::MutexLock lock(&mu_);
  replaying_ = replaying;
}

absl::Time Windower::Add(const std::vector<Event>& events) {
  absl::MutexLock lock(&mu_);
  RollLocked(clock_->Now());
  const LimitOverflows before = open_.acc->overflows();
  for (const Event& e : events) open_.acc->Add(e);
  overflows_ += open_.acc->overflows() - before;
  return open_.start;
}

LimitOverflows Windower::TakeOverflows() {
  absl::MutexLock lock(&mu_);
  LimitOverflows out = overflows_;
  overflows_ = LimitOverflows();
  return out;
}

void Windower::CountRejected(absl::string_view reason, uint64_t n) {
  absl::MutexLock lock(&mu_);
  RollLocked(clock_->Now());
  open_.acc->CountRejected(reason, n);
  open_.other_activity += n;
}

size_t Windower::AddJoinedLabels(const std::vector<JoinedLabel>& labels,
                                 absl::Time* window_start) {
  absl::MutexLock lock(&mu_);
  RollLocked(clock_->Now());
  if (window_start != nullptr) *window_start = open_.start;
  size_t late = 0;
  const LimitOverflows before = open_.acc->overflows();
  for (const JoinedLabel& j : labels) {
    const bool is_late = j.predicted_at < open_.start;
    late += is_late;
    open_.acc->AddJoinedLabel(j.event, j.labelled_at - j.predicted_at, is_late);
  }
  overflows_ += open_.acc->overflows() - before;
  open_.other_activity += labels.size();
  return late;
}

void Windower::CountLabelMisses(uint64_t unmatched, uint64_t evicted) {
  if (unmatched + evicted == 0) return;
  absl::MutexLock lock(&mu_);
  RollLocked(clock_->Now());
  open_.acc->CountLabelMisses(unmatched, evicted);
  open_.other_activity += unmatched + evicted;
}

std::optional<ClosedWindow> Windower::CloseIfDue() {
  absl::MutexLock lock(&mu_);
  RollLocked(clock_->Now());
  if (ready_.empty()) return std::nullopt;
  ClosedWindow w = std::move(ready_.front());
  ready_.erase(ready_.begin());
  return w;
}

std::optional<ClosedWindow> Windower::CloseNow() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  RollLocked(now);
  if (!ready_.empty()) {
    ClosedWindow w = std::move(ready_.front());
    ready_.erase(ready_.begin());
    return w;
  }
  if (now <= open_.start) return std::nullopt;
  auto closed = TakeLocked(now);
  open_.start = now;
  return closed;
}

void Windower::SetConfig(std::shared_ptr<const SummaryConfig> config) {
  absl::MutexLock lock(&mu_);
  config_ = std::move(config);
  // A window that holds nothing yet can start over with the new config.
  if (open_.acc->event_count() == 0 && open_.other_activity == 0 &&
      !open_.checkpoint.has_value()) {
    NewAccumulatorLocked(config_);
  }
}

absl::Time Windower::current_start() const {
  absl::MutexLock lock(&mu_);
  return open_.start;
}

absl::Time Windower::current_end() const {
  absl::MutexLock lock(&mu_);
  return open_.end;
}

}  // namespace aims::agent
