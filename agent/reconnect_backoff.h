// ReconnectBackoff: how long the agent's sender waits before its next stream
// to the collector - exponential backoff with full jitter, timed by the
// injected Clock so that tests need no real time.
#ifndef AIMS_AGENT_RECONNECT_BACKOFF_H_
#define AIMS_AGENT_RECONNECT_BACKOFF_H_

#include <cstdint>
#include <random>

#include "absl/time/time.h"
#include "common/base/clock.h"

namespace aims::agent {

// The wait before the sender's next stream. After the n-th stream in a row
// that ended within kResetAfter of its start (by `clock`), the wait is
// drawn uniformly from [0, min(initial * 2^(n-1), max)] (full jitter); a
// stream that lasted longer counts as a success and starts over at
// `initial`.
//
// Thread-safety: one thread (the sender's).
class ReconnectBackoff {
 public:
  static constexpr absl::Duration kResetAfter = absl::Seconds(10);

  ReconnectBackoff(absl::Duration initial, absl::Duration max,
                   const Clock* clock, uint64_t seed);

  // A stream starts now.
  void StreamStarted();
  // The stream ended now; returns how long to wait before the next one.
  absl::Duration StreamEnded();
  // The most the next StreamEnded() returns if the stream is short.
  absl::Duration ceiling() const { return ceiling_; }

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  const Clock* const clock_;
  std::mt19937_64 rng_;
  absl::Duration ceiling_;
  absl::Time started_;
};

}  // namespace aims::agent

#endif  // AIMS_AGENT_RECONNECT_BACKOFF_H_
