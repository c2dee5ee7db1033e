// The cache of one evaluation pass (Evaluator::PassCache, evaluator.h): what
// the pass reads once and shares between objectives - the models matching a
// selector, each model's watermark, and the metrics of a model over a span.
// Internal to evaluator.cc and evaluator_steps.cc.
//
// Thread-safety: used by the pass' thread only.
#ifndef AIMS_COLLECTOR_EVALUATION_EVALUATOR_PASS_H_
#define AIMS_COLLECTOR_EVALUATION_EVALUATOR_PASS_H_

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "collector/evaluation/evaluator.h"
#include "collector/evaluation/objective_series.h"
#include "collector/evaluation/watermark.h"
#include "collector/evaluation/window_metrics.h"

namespace aims::collector {

// What one evaluation pass reads once and shares between objectives.
struct Evaluator::PassCache {
  // ListModels reads every model's profile: once per selector and pass
  // instead of once per objective.
  const std::vector<v1::ModelInfo>& Models(const v1::ModelSelector& selector,
                                           const Storage& storage) {
    auto it = models.find(
        {selector.name(), selector.version(), selector.environment()});
    if (it == models.end()) {
      it = models
               .emplace(std::tuple{selector.name(), selector.version(),
                                   selector.environment()},
                        storage.ListModels(selector))
               .first;
    }
    return it->second;
  }
  // The metrics of `model`'s reports whose window started in [from, to):
  // once per model and span.
  const absl::StatusOr<WindowMetrics>& Window(const Storage& storage,
                                              const v1::ModelRef& model,
                                              absl::Time from, absl::Time to) {
    const std::string key =
        absl::StrCat(ModelName(model), "\x1f", absl::ToUnixMillis(from), "\x1f",
                     absl::ToUnixMillis(to));
    auto it = windows.find(key);
    if (it == windows.end()) {
      // A sequential catch-up reads many steps: keep the pass' memory
      // bounded.
      if (windows.size() >= kMaxWindows) windows.clear();
      it = windows.emplace(key, ComputeWindowMetrics(storage, model, from, to))
               .first;
      if (it->second.ok() && it->second->profile_mismatch)
        mismatches[ModelName(model)] = {model, *it->second};
    }
    return it->second;
  }
  // The watermark of `model`: once per model and pass.
  const absl::StatusOr<Watermarks::Mark>& Mark(Watermarks* watermarks,
                                               const v1::ModelRef& model,
                                               absl::Duration silent_after) {
    const std::string key = ModelName(model);
    auto it = marks.find(key);
    if (it == marks.end())
      it = marks.emplace(key, watermarks->Advance(model, now, silent_after))
               .first;
    return it->second;
  }

  // Models whose windows were binned on another profile than the stored
  // one (drift not applicable), by model name: noted once per pass.
  struct Mismatch {
    v1::ModelRef model;
    WindowMetrics window;
  };
  std::map<std::string, Mismatch> mismatches;

  static constexpr size_t kMaxWindows = 1000;
  absl::Time now;
  // By model name and span.
  std::map<std::string, absl::StatusOr<WindowMetrics>> windows;
  // By model name.
  std::map<std::string, absl::StatusOr<Watermarks::Mark>> marks;
  // By selector (name, version, environment).
  std::map<std::tuple<std::string, std::string, std::string>,
           std::vector<v1::ModelInfo>>
      models;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_EVALUATION_EVALUATOR_PASS_H_
