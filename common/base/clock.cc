#include "common/base/clock.h"

namespace aims {

RealClock& RealClock::Get() {
  static RealClock* clock = new RealClock();
  return *clock;
}

bool FakeClock::AwaitWithDeadline(absl::Mutex* mu,
                                  const absl::Condition& condition,
                                  absl::Time deadline) const {
  // Advance() cannot wake waiters on another mutex: look at the time again
  // every millisecond (of real time) until the condition holds.
  while (!mu->AwaitWithTimeout(condition, absl::Milliseconds(1))) {
    if (Now() >= deadline) return false;
  }
  return true;
}

}  // namespace aims
