// The Evaluator's sequential steps (evaluator.h): each step of a sequential
// objective judged once, in order, up to the model's watermark.
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "collector/evaluation/evaluator.h"
#include "collector/evaluation/evaluator_pass.h"
#include "collector/evaluation/objective_series.h"
#include "collector/evaluation/sequential_test.h"
#include "collector/evaluation/window_metrics.h"
#include "common/base/log.h"
#include "common/base/time_util.h"

namespace aims::collector {
namespace {

// Steps judged per objective, model and pass: a catch-up after downtime
// goes on in the next passes.
constexpr int kMaxStepsPerPass = 360;
// Steps ending longer ago than this before the latest complete one are not
// caught up (the statistic continues from the first step judged).
constexpr absl::Duration kMaxCatchUp = absl::Hours(24);

// The end of the latest step of `window` (aligned to multiples of it since
// the Unix epoch) that ends at or before `t`.
absl::Time StepEndAtOrBefore(absl::Time t, absl::Duration window) {
  return absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), window);
}

bool SameModel(const v1::ModelRef& a, const v1::ModelRef& b) {
  return a.name() == b.name() && a.version() == b.version() &&
         a.environment() == b.environment();
}

}  // namespace

void Evaluator::JudgeSteps(const Plan& plan, const Objective& o,
                           const v1::ModelRef& model, absl::Time mark,
                           bool usable, PassCache* cache) {
  const absl::Time last = StepEndAtOrBefore(mark, o.window);
  absl::Time end = FirstUnjudgedStep(o, model, last);
  const absl::Time oldest = last - std::max(kMaxCatchUp, o.window);
  if (end < oldest) {
    LogWarn("sequential steps too old to catch up; skipped",
            {{"objective", o.id},
             {"model", ModelName(model)},
             {"steps", (oldest - end) / o.window},
             {"from", FormatRfc3339(end - o.window)}});
    end = oldest;
  }
  static const std::vector<v1::MetricValue> kNone;
  for (int n = 0; end <= last && n < kMaxStepsPerPass; end += o.window, ++n) {
    const absl::Time start = end - o.window;
    const absl::StatusOr<WindowMetrics>& window =
        cache->Window(*storage_, model, start, end);
    if (!window.ok()) {
      counters_.errors.fetch_add(1);
      LogWarn("evaluation failed", {{"objective", o.id},
                                    {"model", ModelName(model)},
                                    {"error", window.status().message()}});
      return;  // this step again next time
    }
    const std::vector<v1::MetricValue>& values =
        usable ? window->values : kNone;
    const int series = SeriesCount(o, model, values);
    const double h =
        CusumThreshold(BudgetRunLength(o.false_alarm_period, o.window, series));
    JudgeSeries(plan, o, model, values,
                {.from = start,
                 .to = end,
                 .at = end,
                 .now = cache->now,
                 .report_ids = &window->report_ids,
                 .sequential = true,
                 .h = h,
                 .series = series});
  }
}

absl::Time Evaluator::FirstUnjudgedStep(const Objective& o,
                                        const v1::ModelRef& model,
                                        absl::Time last) const {
  absl::Time first = absl::InfiniteFuture();
  const std::string prefix = SeriesKey(o.id, ModelName(model));
  absl::MutexLock lock(&mu_);
  for (auto it = series_.lower_bound(prefix);
       it != series_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
       ++it) {
    const v1::ObjectiveStatus& st = it->second.status;
    if (!SameModel(st.model(), model) || !st.has_last_step_end()) continue;
    first = std::min(first, FromProto(st.last_step_end()) + o.window);
  }
  // A series not judged yet starts at the latest complete step.
  return std::min(first, last);
}

int Evaluator::SeriesCount(const Objective& o, const v1::ModelRef& model,
                           const std::vector<v1::MetricValue>& values) const {
  const MetricScope scope = SeriesScope(o);
  std::set<std::string> names;
  for (const v1::MetricValue& v : values) {
    if (!JudgedBy(o, scope, v)) continue;
    v1::MetricValue scoped = v;
    if (scope == MetricScope::kAttribute) scoped.clear_group();
    names.insert(SeriesName(model, scope, scoped));
  }
  const std::string prefix = SeriesKey(o.id, ModelName(model));
  absl::MutexLock lock(&mu_);
  for (auto it = series_.lower_bound(prefix);
       it != series_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
       ++it) {
    if (SameModel(it->second.status.model(), model))
      names.insert(it->second.status.series());
  }
  return std::max<int>(1, static_cast<int>(names.size()));
}

void Evaluator::WarnOnce(const Objective& o, const v1::ModelRef& model,
                         const std::string& why) {
  if (!warned_.insert(SeriesKey(o.id, ModelName(model))).second) return;
  LogWarn("objective cannot be judged on its model's data",
          {{"objective", o.id}, {"model", ModelName(model)}, {"why", why}});
}

void Evaluator::NoteProfileMismatches(const PassCache& cache) {
  for (const auto& [name, m] : cache.mismatches) {
    {
      absl::MutexLock lock(&mu_);
      ++profile_mismatches_[{m.model.name(), m.model.version()}];
    }
    const std::string key =
        absl::StrCat("profile\x1f", name, "\x1f", m.window.windows_profile_id,
                     "\x1f", m.window.stored_profile_id);
    if (!warned_.insert(key).second) continue;
    LogWarn("profile mismatch: drift not applicable",
            {{"model", name},
             {"windows_profile", m.window.windows_profile_id.empty()
                                     ? "none"
                                     : m.window.windows_profile_id},
             {"stored_profile", m.window.stored_profile_id},
             {"why",
              "the agents bin with another profile than the stored one; they "
              "take the stored one when they reconnect or when it is replaced "
              "with aimsctl profile put --replace"}});
  }
}

std::map<std::pair<std::string, std::string>, uint64_t>
Evaluator::ProfileMismatches() const {
  absl::MutexLock lock(&mu_);
  return profile_mismatches_;
}

}  // namespace aims::collector
