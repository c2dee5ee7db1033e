// Fuzz target: the agent's JSON intake parser. Any input must give either a
// whole-body error or per-event results, never a crash or a sanitizer report.
#include <cstddef>
#include <cstdint>

#include "common/intake/event_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  aims::EventBatch batch;
  (void)aims::ParseEventBatch(
      absl::string_view(reinterpret_cast<const char*>(data), size),
      aims::JsonIntakeLimits(), &batch);
  return 0;
}
