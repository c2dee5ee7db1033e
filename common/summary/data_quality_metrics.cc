// DataQualityMetrics (common/summary/metric_engine.h): four rates per input
// feature from the window's DataQuality counts, each over the count it can
// happen to, and the worst of each over the features.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/summary/metric_engine.h"
#include "common/summary/metric_value.h"
#include "common/summary/window_accumulator.h"

namespace aims {
namespace {

using metric_internal::ProportionOf;

// The four rates of one feature. `fp` is the feature's profile entry or
// null; out_of_range and unseen_category need one.
void AddFeatureRates(const std::string& name, const v1::DataQuality& q,
                     uint64_t finite_numeric, uint64_t event_count,
                     const v1::FeatureProfile* fp, const MetricOptions& options,
                     std::vector<v1::MetricValue>* out) {
  const uint64_t min = options.min_quality_samples;
  // A summary merged from bad input may carry more problems than events:
  // clamp so that every rate stays a proportion.
  const uint64_t missing = std::min(q.missing(), event_count);
  const uint64_t present = event_count - missing;
  auto add = [&](v1::MetricValue v) {
    v.set_feature(name);
    out->push_back(std::move(v));
  };
  add(ProportionOf("missing_rate", missing, event_count, min));
  add(ProportionOf("type_mismatch_rate", std::min(q.wrong_type(), present),
                   present, min));
  if (fp == nullptr) return;
  if (fp->kind() == v1::FeatureProfile::KIND_NUMERIC) {
    add(ProportionOf("out_of_range_rate",
                     std::min(q.out_of_range(), finite_numeric), finite_numeric,
                     min));
  } else if (fp->kind() == v1::FeatureProfile::KIND_CATEGORICAL) {
    const uint64_t of_kind = present - std::min(q.wrong_type(), present);
    add(ProportionOf("unseen_category_rate",
                     std::min(q.unseen_category(), of_kind), of_kind, min));
  }
}

// worst_<rate>: the per-feature value with the highest rate among those with
// evidence (its interval and sample size), model-level; not applicable
// when no feature has evidence.
void AddWorst(const char* rate, std::vector<v1::MetricValue>* out) {
  const v1::MetricValue* worst = nullptr;
  for (const v1::MetricValue& v : *out) {
    if (v.metric() != rate || v.state() != v1::EVIDENCE_STATE_OK) continue;
    if (worst == nullptr || v.value() > worst->value()) worst = &v;
  }
  v1::MetricValue w;
  if (worst != nullptr) {
    w = *worst;
  } else {
    w.set_value(metric_internal::kNaN);
    w.set_ci_low(metric_internal::kNaN);
    w.set_ci_high(metric_internal::kNaN);
    w.set_state(v1::EVIDENCE_STATE_NOT_APPLICABLE);
  }
  w.set_metric(std::string("worst_") + rate);
  w.clear_feature();
  out->push_back(std::move(w));
}

}  // namespace

std::vector<v1::MetricValue> DataQualityMetrics(
    const v1::WindowSummary& summary, const v1::ReferenceProfile* profile,
    const MetricOptions& options) {
  absl::flat_hash_map<std::string, const v1::FeatureProfile*> profiled;
  if (profile != nullptr) {
    for (const v1::FeatureProfile& fp : profile->features()) {
      profiled[fp.name()] = &fp;
    }
  }
  std::vector<v1::MetricValue> out;
  const uint64_t events = summary.operational().event_count();
  absl::flat_hash_set<std::string> seen;
  for (const v1::FeatureSummary& fs : summary.features()) {
    if (fs.name() == kPredictionFeature) continue;
    seen.insert(fs.name());
    auto it = profiled.find(fs.name());
    AddFeatureRates(fs.name(), fs.quality(), fs.n(), events,
                    it == profiled.end() ? nullptr : it->second, options, &out);
  }
  // A profile feature no event of the window carried is missing from all.
  if (profile != nullptr) {
    for (const v1::FeatureProfile& fp : profile->features()) {
      if (seen.contains(fp.name())) continue;
      v1::DataQuality q;
      q.set_missing(events);
      AddFeatureRates(fp.name(), q, 0, events, &fp, options, &out);
    }
  }
  for (const char* rate : {"missing_rate", "type_mismatch_rate",
                           "out_of_range_rate", "unseen_category_rate"}) {
    AddWorst(rate, &out);
  }
  return out;
}

}  // namespace aims
