#include "common/base/clock.h"

namespace aims {

RealClock& RealClock::Get() {
  static RealClock* clock = new RealClock();
  return *clock;
}

}  // namespace aims
