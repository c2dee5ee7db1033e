// The metrics an objective may name (docs/metrics.md): each one's scope,
// which decides an objective's series, and how it is measured, the 9.1
// "method" answer when a plan gives none.
//
// Thread-safety: constant data.
#ifndef AIMS_COLLECTOR_PLAN_METRIC_CATALOG_H_
#define AIMS_COLLECTOR_PLAN_METRIC_CATALOG_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "collector/plan/plan.h"

namespace aims::collector {

struct MetricInfo {
  const char* name;
  MetricScope scope;
  const char* method;
};

// Null for a name no engine computes.
const MetricInfo* FindMetric(absl::string_view name);

// Every metric's name, in catalogue order.
std::vector<std::string> MetricNames();

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_PLAN_METRIC_CATALOG_H_
