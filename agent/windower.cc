#include "agent/windower.h"

#include <algorithm>

#include "absl/strings/string_view.h"
#include "common/summary/summary_merge.h"

namespace aims::agent {

Windower::Windower(std::shared_ptr<const SummaryConfig> config,
                   absl::Duration window, const Clock* clock,
                   absl::Time not_before, JoinLimits limits)
    : window_(window), clock_(clock), limits_(limits) {
  absl::MutexLock lock(&mu_);
  config_ = std::move(config);
  const absl::Time now = clock_->Now();
  open_.start = std::max(AlignedStart(now), std::min(not_before, now));
  open_.end = AlignedStart(now) + window_;
  open_.state = std::make_unique<WindowState>(config_, &limits_);
}

absl::Time Windower::AlignedStart(absl::Time now) const {
  return absl::UnixEpoch() + absl::Floor(now - absl::UnixEpoch(), window_);
}

std::optional<ClosedWindow> Windower::TakeLocked(absl::Time end) {
  std::optional<ClosedWindow> out;
  overflows_ += open_.state->TakeOverflows();
  unjoinable_ += open_.state->TakeUnjoinable();
  if (!open_.state->empty()) {
    v1::WindowReport report = open_.state->Take();
    out = ClosedWindow{open_.start, end, std::move(*report.mutable_summary()),
                       std::move(*report.mutable_predictions()),
                       std::move(*report.mutable_labels())};
  }
  open_.state = std::make_unique<WindowState>(config_, &limits_);
  open_.changed = false;
  return out;
}

absl::StatusOr<std::optional<v1::WindowReport>> Windower::Checkpoint(
    absl::Time window_start) {
  absl::MutexLock lock(&mu_);
  if (open_.start != window_start || !open_.changed) return std::nullopt;
  absl::StatusOr<v1::WindowReport> report = open_.state->Checkpoint();
  if (!report.ok()) return report.status();
  open_.changed = false;
  return std::move(*report);
}

void Windower::RestoreCheckpoint(v1::WindowReport checkpoint) {
  absl::MutexLock lock(&mu_);
  open_.state->Restore(std::move(checkpoint));
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

absl::Time Windower::Add(const std::vector<Event>& events,
                         std::vector<size_t>* duplicates, absl::Time arrival) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  RollLocked(now);
  std::vector<size_t> resent =
      open_.state->Add(events, arrival == absl::InfinitePast() ? now : arrival);
  if (duplicates != nullptr) *duplicates = std::move(resent);
  open_.changed = true;
  return open_.start;
}

LimitOverflows Windower::TakeOverflows() {
  absl::MutexLock lock(&mu_);
  LimitOverflows out = overflows_;
  out += open_.state->TakeOverflows();
  overflows_ = LimitOverflows();
  return out;
}

uint64_t Windower::TakeUnjoinable() {
  absl::MutexLock lock(&mu_);
  const uint64_t out = unjoinable_ + open_.state->TakeUnjoinable();
  unjoinable_ = 0;
  return out;
}

size_t Windower::pending_predictions() const {
  absl::MutexLock lock(&mu_);
  return open_.state->pending_count();
}

uint64_t Windower::pending_bytes() const {
  absl::MutexLock lock(&mu_);
  return open_.state->pending_bytes();
}

void Windower::CountRejected(absl::string_view reason, uint64_t n) {
  absl::MutexLock lock(&mu_);
  RollLocked(clock_->Now());
  open_.state->CountRejected(reason, n);
  open_.changed = true;
}

absl::Time Windower::AddLabels(const std::vector<LabelEvent>& labels,
                               absl::Time arrival,
                               std::vector<LabelOutcome>* outcomes) {
  absl::MutexLock lock(&mu_);
  RollLocked(clock_->Now());
  outcomes->clear();
  outcomes->reserve(labels.size());
  for (const LabelEvent& label : labels) {
    LabelOutcome o;
    o.fate = open_.state->AddLabel(label, arrival, &o.delay, &o.error);
    outcomes->push_back(std::move(o));
  }
  open_.changed = true;
  return open_.start;
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
  open_.state->SetConfigIfEmpty(config_);
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
