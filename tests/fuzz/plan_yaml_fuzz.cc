// Fuzz target: the collector's monitoring plan parser (YAML). Any input must
// give a plan or an error naming file, line and field - never a crash, an
// escaping exception or a sanitizer report. A plan that parses holds what
// the evaluator relies on: unique valid ids, known metrics, a finite
// threshold, a positive window, an evaluation interval of at least 1 s and
// no negative duration.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "collector/plan/plan.h"

namespace {

void Fail(const std::string& id, const char* what) {
  std::fprintf(stderr, "plan_yaml_fuzz: objective '%s': %s\n", id.c_str(),
               what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using aims::collector::Objective;
  const absl::string_view yaml(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<aims::collector::Plan> plan =
      aims::collector::ParsePlan(yaml, "fuzz.yaml");
  if (!plan.ok()) return 0;
  std::set<std::string> ids;
  for (const Objective& o : plan->objectives) {
    if (o.id.empty() || !ids.insert(o.id).second) Fail(o.id, "id");
    if (!aims::collector::ScopeOfMetric(o.metric).ok()) Fail(o.id, "metric");
    if (!std::isfinite(o.threshold)) Fail(o.id, "threshold");
    if (o.window <= absl::ZeroDuration()) Fail(o.id, "window");
    if (o.evaluation_interval < absl::Seconds(1)) Fail(o.id, "interval");
    if (o.for_duration < absl::ZeroDuration() ||
        o.keep_firing_for < absl::ZeroDuration() ||
        o.effectiveness_period < absl::ZeroDuration()) {
      Fail(o.id, "negative duration");
    }
    if (o.hash.empty()) Fail(o.id, "hash");
  }
  return 0;
}
