#include "agent/reconnect_backoff.h"

#include <algorithm>

namespace aims::agent {

ReconnectBackoff::ReconnectBackoff(absl::Duration initial, absl::Duration max,
                                   const Clock* clock, uint64_t seed)
    : initial_(initial),
      max_(max),
      clock_(clock),
      rng_(seed),
      ceiling_(initial),
      started_(clock->Now()) {}

void ReconnectBackoff::StreamStarted() { started_ = clock_->Now(); }

absl::Duration ReconnectBackoff::StreamEnded() {
  if (clock_->Now() - started_ >= kResetAfter) ceiling_ = initial_;
  std::uniform_int_distribution<int64_t> jitter(
      0, absl::ToInt64Microseconds(ceiling_));
  const absl::Duration wait = absl::Microseconds(jitter(rng_));
  ceiling_ = std::min(ceiling_ * 2, max_);
  return wait;
}

}  // namespace aims::agent
