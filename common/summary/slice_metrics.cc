// SliceMetrics (common/summary/metric_engine.h): the performance and
// data-quality metrics of each slice value, from its own counts, so that
// each value has its own sample size and evidence state.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/summary/metric_engine.h"

namespace aims {
namespace {

// Operational values a slice summary does not carry (latency, label
// matches and delays) or
// that say nothing of a slice (throughput).
bool SliceHasMetric(const std::string& metric) {
  return metric != "throughput" && metric != "latency_p50" &&
         metric != "latency_p90" && metric != "latency_p99" &&
         metric != "labels_matched" && metric != "label_delay_p50_seconds" &&
         metric != "label_delay_p90_seconds";
}

}  // namespace

std::vector<v1::MetricValue> SliceMetrics(const v1::WindowSummary& summary,
                                          const v1::ReferenceProfile* profile,
                                          const MetricOptions& options) {
  std::vector<v1::MetricValue> out;
  for (const v1::SliceKeySummary& key : summary.slices()) {
    for (const v1::SliceValueSummary& value : key.values()) {
      const std::string slice = absl::StrCat(key.key(), "=", value.value());
      for (v1::MetricValue& v :
           PerformanceMetrics(value.summary(), options, absl::ZeroDuration())) {
        if (!SliceHasMetric(v.metric())) continue;
        v.set_slice(slice);
        out.push_back(std::move(v));
      }
      for (v1::MetricValue& v :
           DataQualityMetrics(value.summary(), profile, options)) {
        v.set_slice(slice);
        out.push_back(std::move(v));
      }
    }
  }
  return out;
}

}  // namespace aims
