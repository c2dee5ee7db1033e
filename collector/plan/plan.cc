#include "collector/plan/plan.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "collector/plan/metric_catalog.h"

namespace aims::collector {

absl::StatusOr<MetricScope> ScopeOfMetric(absl::string_view metric) {
  const MetricInfo* info = FindMetric(metric);
  if (info == nullptr)
    return absl::NotFoundError(absl::StrCat("unknown metric ", metric));
  return info->scope;
}

bool Objective::Holds(double value) const {
  switch (comparator) {
    case Comparator::kLess:
      return value < threshold;
    case Comparator::kLessEqual:
      return value <= threshold;
    case Comparator::kGreater:
      return value > threshold;
    case Comparator::kGreaterEqual:
      return value >= threshold;
    case Comparator::kEqual:
      return value == threshold;
    case Comparator::kNotEqual:
      return value != threshold;
  }
  return false;
}

std::string Objective::FalseAlarmBudgetText() const {
  const absl::Duration day = absl::Hours(24);
  if (false_alarm_period >= day &&
      false_alarm_period % day == absl::ZeroDuration())
    return absl::StrCat("1/", false_alarm_period / day, "d");
  return absl::StrCat("1/", absl::FormatDuration(false_alarm_period));
}

absl::Duration Plan::DueAfter(v1::Severity severity) const {
  switch (severity) {
    case v1::SEVERITY_CRITICAL:
      return due_critical;
    case v1::SEVERITY_INFO:
      return due_info;
    default:
      return due_warning;
  }
}

absl::StatusOr<Plan> LoadPlanFile(const std::string& path,
                                  size_t max_objectives) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read the plan file"));
  std::ostringstream text;
  text << in.rdbuf();
  constexpr size_t kMaxBytes = 8 << 20;
  if (text.str().size() > kMaxBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": plan file larger than ", kMaxBytes, " bytes"));
  }
  return ParsePlan(text.str(), path, max_objectives);
}

}  // namespace aims::collector
