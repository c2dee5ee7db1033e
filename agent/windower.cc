#include "agent/windower.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace aims::agent {

Windower::Windower(std::shared_ptr<const SummaryConfig> config,
                   WindowerOptions options, const Clock* clock)
    : options_(std::move(options)), clock_(clock) {
  absl::MutexLock lock(&mu_);
  config_ = std::move(config);
}

Windower::Windower(std::shared_ptr<const SummaryConfig> config,
                   absl::Duration window, const Clock* clock,
                   absl::Time not_before, JoinLimits limits)
    : Windower(std::move(config),
               WindowerOptions{
                   .window = window, .join = limits, .not_before = not_before},
               clock) {}

absl::Time Windower::AlignedStart(absl::Time t) const {
  return absl::UnixEpoch() +
         absl::Floor(t - absl::UnixEpoch(), options_.window);
}

Windower::Kind Windower::KindOf(absl::Time key, absl::Time aligned) {
  const absl::Duration offset = key - aligned;
  if (offset <= absl::ZeroDuration()) return Kind::kOnTime;
  return offset < absl::Milliseconds(500) ? Kind::kStraggler : Kind::kLate;
}

Windower::Open& Windower::InstanceLocked(absl::Time key) {
  auto it = open_.find(key);
  if (it != open_.end()) return it->second;
  const absl::Time aligned = AlignedStart(key);
  Open& open = open_[key];
  open.kind = KindOf(key, aligned);
  open.start = aligned;
  open.end = aligned + options_.window;
  // The window the last run cut short at its stop goes on from its cut.
  if (open.kind == Kind::kOnTime && options_.not_before > aligned &&
      options_.not_before < open.end) {
    open.start = options_.not_before;
  }
  open.state = std::make_unique<WindowState>(config_, &options_.join);
  return open;
}

std::optional<absl::Time> Windower::KeyForLocked(absl::Time aligned,
                                                 absl::Time arrival) {
  const absl::Time end = aligned + options_.window;
  Kind kind = Kind::kOnTime;
  if (arrival >= end + options_.lateness) {
    kind = Kind::kLate;
  } else if (arrival >= end) {
    kind = Kind::kStraggler;
  }
  if (kind == Kind::kOnTime) {
    if (open_.contains(aligned)) return aligned;
    if (open_.size() >= options_.max_open_windows) return std::nullopt;
    return aligned;
  }
  const int first = kind == Kind::kStraggler ? 1 : 500;
  const int count = kind == Kind::kStraggler ? 499 : 500;
  // The instance of this kind open now, if any.
  for (auto it = open_.lower_bound(aligned + absl::Milliseconds(first));
       it != open_.end() &&
       it->first < aligned + absl::Milliseconds(first + count);
       ++it) {
    if (it->second.kind == kind) return it->first;
  }
  if (open_.size() >= options_.max_open_windows) return std::nullopt;
  for (int tries = 0; tries < count; ++tries) {
    const absl::Time key =
        aligned + absl::Milliseconds(first + extra_opened_++ % count);
    if (!open_.contains(key)) return key;
  }
  return std::nullopt;
}

void Windower::CloseLocked(std::map<absl::Time, Open>::iterator it,
                           absl::Time end) {
  Open& open = it->second;
  overflows_ += open.state->TakeOverflows();
  unjoinable_ += open.state->TakeUnjoinable();
  if (!open.state->empty()) {
    v1::WindowReport report = open.state->Take();
    v1::OperationalSummary* op =
        report.mutable_summary()->mutable_operational();
    if (open.kind == Kind::kLate) op->set_late_events(op->event_count());
    ready_.push_back(
        ClosedWindow{open.start, end, std::move(*report.mutable_summary()),
                     std::move(*report.mutable_predictions()),
                     std::move(*report.mutable_labels()), it->first});
  }
  open_.erase(it);
}

void Windower::RollLocked(absl::Time now, bool tick) {
  if (replaying_) return;
  for (auto it = open_.begin(); it != open_.end();) {
    auto next = std::next(it);
    const Open& open = it->second;
    const bool due = open.kind == Kind::kOnTime ? now >= open.end
                     : open.kind == Kind::kStraggler
                         ? now >= open.end + options_.lateness
                         : tick;
    if (due) CloseLocked(it, open.end);
    it = next;
  }
}

void Windower::SetReplaying(bool replaying) {
  absl::MutexLock lock(&mu_);
  replaying_ = replaying;
}

Windower::Routes Windower::AddEvents(const std::vector<Event>& events,
                                     absl::Time arrival) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  if (arrival == absl::InfinitePast()) arrival = now;
  RollLocked(now, /*tick=*/false);
  Routes routes;
  absl::flat_hash_map<absl::Time, std::optional<absl::Time>> keys;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    if (!e.prediction_id.empty()) {
      bool waiting = false;
      for (const auto& [key, open] : open_) {
        waiting = waiting || open.state->Waiting(e.prediction_id);
      }
      if (waiting) {
        routes.duplicates.push_back(i);
        continue;
      }
    }
    const absl::Time at =
        options_.event_time && e.timestamp != absl::InfinitePast() ? e.timestamp
                                                                   : arrival;
    const absl::Time aligned = AlignedStart(at);
    auto [it, inserted] = keys.try_emplace(aligned);
    if (inserted) {
      it->second = KeyForLocked(aligned, arrival);
      // Opened now, so that the bound counts it for the next window.
      if (it->second.has_value()) InstanceLocked(*it->second);
    }
    if (!it->second.has_value()) {
      routes.refused.push_back(i);
      continue;
    }
    routes.folded[*it->second].push_back(i);
  }
  for (auto& [key, positions] : routes.folded) {
    Open& open = open_.at(key);
    open.changed = true;
    std::vector<size_t> resent;
    if (positions.size() == events.size()) {
      resent = open.state->Add(events, arrival);  // the usual case: no copy
    } else {
      std::vector<Event> share;
      share.reserve(positions.size());
      for (size_t i : positions) share.push_back(events[i]);
      resent = open.state->Add(share, arrival);
      for (size_t& r : resent) r = positions[r];
    }
    // Not expected (the open instances were checked above); kept exact.
    for (size_t r : resent) {
      positions.erase(std::find(positions.begin(), positions.end(), r));
      routes.duplicates.push_back(r);
    }
  }
  std::sort(routes.duplicates.begin(), routes.duplicates.end());
  return routes;
}

absl::Time Windower::Add(const std::vector<Event>& events,
                         std::vector<size_t>* duplicates, absl::Time arrival) {
  Routes routes = AddEvents(events, arrival);
  if (duplicates != nullptr) *duplicates = std::move(routes.duplicates);
  if (!routes.folded.empty()) return routes.folded.begin()->first;
  return AlignedStart(arrival == absl::InfinitePast() ? clock_->Now()
                                                      : arrival);
}

void Windower::AddTo(absl::Time key, const std::vector<Event>& events,
                     absl::Time arrival) {
  absl::MutexLock lock(&mu_);
  Open& open = InstanceLocked(key);
  open.state->Add(events, arrival);
  open.changed = true;
}

LimitOverflows Windower::TakeOverflows() {
  absl::MutexLock lock(&mu_);
  LimitOverflows out = overflows_;
  for (auto& [key, open] : open_) out += open.state->TakeOverflows();
  overflows_ = LimitOverflows();
  return out;
}

uint64_t Windower::TakeUnjoinable() {
  absl::MutexLock lock(&mu_);
  uint64_t out = unjoinable_;
  for (auto& [key, open] : open_) out += open.state->TakeUnjoinable();
  unjoinable_ = 0;
  return out;
}

size_t Windower::pending_predictions() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [key, open] : open_) n += open.state->pending_count();
  return n;
}

uint64_t Windower::pending_bytes() const {
  absl::MutexLock lock(&mu_);
  uint64_t n = 0;
  for (const auto& [key, open] : open_) n += open.state->pending_bytes();
  return n;
}

size_t Windower::open_windows() const {
  absl::MutexLock lock(&mu_);
  return open_.size();
}

void Windower::CountRejected(absl::string_view reason, uint64_t n) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  RollLocked(now, /*tick=*/false);
  Open& open = InstanceLocked(AlignedStart(now));
  open.state->CountRejected(reason, n);
  open.changed = true;
}

absl::Time Windower::AddLabels(const std::vector<LabelEvent>& labels,
                               absl::Time arrival,
                               std::vector<LabelOutcome>* outcomes) {
  absl::MutexLock lock(&mu_);
  RollLocked(clock_->Now(), /*tick=*/false);
  const absl::Time here = AlignedStart(arrival);
  InstanceLocked(here);
  outcomes->clear();
  outcomes->reserve(labels.size());
  for (const LabelEvent& label : labels) {
    LabelOutcome o;
    o.key = here;
    for (const auto& [key, open] : open_) {
      if (open.state->Waiting(label.prediction_id)) {
        o.key = key;
        break;
      }
    }
    Open& open = open_.at(o.key);
    o.fate = open.state->AddLabel(label, arrival, &o.error);
    open.changed = true;
    outcomes->push_back(std::move(o));
  }
  return here;
}

void Windower::AddLabelsTo(absl::Time key,
                           const std::vector<LabelEvent>& labels,
                           absl::Time arrival) {
  absl::MutexLock lock(&mu_);
  Open& open = InstanceLocked(key);
  for (const LabelEvent& label : labels) {
    open.state->RestoreLabel(label, arrival);
  }
  open.changed = true;
}

std::optional<ClosedWindow> Windower::CloseIfDue() {
  absl::MutexLock lock(&mu_);
  RollLocked(clock_->Now(), /*tick=*/true);
  if (ready_.empty()) return std::nullopt;
  ClosedWindow w = std::move(ready_.front());
  ready_.erase(ready_.begin());
  return w;
}

std::optional<ClosedWindow> Windower::CloseNow() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  RollLocked(now, /*tick=*/true);
  while (ready_.empty() && !open_.empty()) {
    auto it = open_.begin();
    // An on-time window ends now; one ahead of the clock (event time) is
    // reported whole.
    const absl::Time end =
        it->second.start < now ? std::min(it->second.end, now) : it->second.end;
    CloseLocked(it, end);
  }
  if (ready_.empty()) return std::nullopt;
  ClosedWindow w = std::move(ready_.front());
  ready_.erase(ready_.begin());
  return w;
}

absl::StatusOr<std::optional<v1::WindowReport>> Windower::Checkpoint(
    absl::Time key) {
  absl::MutexLock lock(&mu_);
  auto it = open_.find(key);
  if (it == open_.end() || !it->second.changed) return std::nullopt;
  absl::StatusOr<v1::WindowReport> report = it->second.state->Checkpoint();
  if (!report.ok()) return report.status();
  it->second.changed = false;
  return std::move(*report);
}

void Windower::RestoreCheckpoint(absl::Time key, v1::WindowReport checkpoint) {
  absl::MutexLock lock(&mu_);
  InstanceLocked(key).state->Restore(std::move(checkpoint));
}

void Windower::RestoreCheckpoint(v1::WindowReport checkpoint) {
  RestoreCheckpoint(AlignedStart(clock_->Now()), std::move(checkpoint));
}

void Windower::SetConfig(std::shared_ptr<const SummaryConfig> config) {
  absl::MutexLock lock(&mu_);
  config_ = std::move(config);
  // A window that holds nothing yet can start over with the new config.
  for (auto& [key, open] : open_) open.state->SetConfigIfEmpty(config_);
}

absl::Time Windower::current_start() const {
  absl::MutexLock lock(&mu_);
  const absl::Time aligned = AlignedStart(clock_->Now());
  auto it = open_.find(aligned);
  if (it != open_.end()) return it->second.start;
  if (options_.not_before > aligned &&
      options_.not_before < aligned + options_.window) {
    return options_.not_before;
  }
  return aligned;
}

absl::Time Windower::current_end() const {
  absl::MutexLock lock(&mu_);
  return AlignedStart(clock_->Now()) + options_.window;
}

}  // namespace aims::agent
