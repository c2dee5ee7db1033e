// Fuzz target: the agent's JSON label intake (POST /v1/labels). Any input
// must give either a whole-body error or per-label results, never a crash or
// a sanitizer report; what is accepted is within the limits and every
// rejection says why.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "common/intake/event_json.h"

namespace {

void Fail(const char* what) {
  std::fprintf(stderr, "label_json_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  aims::JsonIntakeLimits limits;
  limits.max_events_per_batch = 100;  // small, so the limit is reached
  aims::LabelBatch batch;
  const absl::Status status = aims::ParseLabelBatch(
      absl::string_view(reinterpret_cast<const char*>(data), size), limits,
      &batch);
  if (!status.ok()) return 0;
  if (batch.labels.size() + batch.errors.size() > limits.max_events_per_batch)
    Fail("more items than max_events_per_batch");
  for (const aims::LabelEvent& label : batch.labels) {
    if (label.prediction_id.empty() ||
        label.prediction_id.size() > limits.event.max_prediction_id_bytes) {
      Fail("accepted a label with an empty or too long prediction_id");
    }
  }
  for (const aims::EventError& error : batch.errors) {
    if (error.reason.empty()) Fail("a rejection without a reason");
  }
  return 0;
}
