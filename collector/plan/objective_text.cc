#include "collector/plan/objective_text.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/plan/metric_catalog.h"
#include "common/base/hash.h"

namespace aims::collector {
namespace {

std::string Canonical(const Objective& o) {
  std::string canonical = absl::StrJoin(
      {o.id,
       o.title,
       o.model.name(),
       o.model.version(),
       o.model.environment(),
       o.metric,
       o.feature,
       o.attribute,
       o.group,
       ComparatorText(o.comparator),
       absl::StrCat(o.threshold),
       absl::FormatDuration(o.window),
       absl::StrCat(o.min_samples),
       DecisionName(o.decision),
       o.decision == Decision::kSequential ? o.FalseAlarmBudgetText()
                                           : std::string(),
       absl::FormatDuration(o.for_duration),
       absl::FormatDuration(o.keep_firing_for),
       absl::FormatDuration(o.evaluation_interval),
       absl::FormatDuration(o.effectiveness_period),
       SeverityText(o.severity),
       o.owner,
       absl::StrJoin(o.iso_references, ","),
       o.what,
       o.method,
       o.when_measured,
       o.when_analysed},
      std::string(1, '\x1f'));
  // Appended only when set: objectives without a slice keep their hash.
  if (!o.slice.empty()) absl::StrAppend(&canonical, "\x1fslice=", o.slice);
  if (o.min_label_coverage > 0) {
    absl::StrAppend(&canonical,
                    "\x1fmin_label_coverage=", o.min_label_coverage);
  }
  return canonical;
}

// How a breach is decided, for the 9.1 method answer.
std::string DecisionText(const Objective& o) {
  switch (o.decision) {
    case Decision::kPoint:
      return "breached when the value is beyond the threshold";
    case Decision::kInterval:
      return "breached when the value's 95% interval lies wholly beyond the "
             "threshold (possible breach when only the value is)";
    case Decision::kSequential:
      return absl::StrCat(
          "breached when a CUSUM of the standardized excess over the "
          "threshold, step after step, crosses the threshold set by a "
          "false-alarm budget of ",
          o.FalseAlarmBudgetText(), " across the model's series");
  }
  return "";
}

// Fills in the 9.1 answers the plan left out.
void Describe(Objective* o) {
  const MetricInfo* info = FindMetric(o->metric);
  if (o->what.empty()) {
    std::string scope;
    if (!o->feature.empty()) scope = absl::StrCat(" of feature ", o->feature);
    if (!o->attribute.empty()) {
      scope = absl::StrCat(" per ", o->attribute, o->group.empty() ? "" : "=",
                           o->group);
    }
    if (!o->slice.empty()) absl::StrAppend(&scope, " per slice ", o->slice);
    o->what =
        absl::StrCat(o->metric, scope, " of model ",
                     o->model.name().empty() ? "*" : o->model.name(),
                     o->model.version().empty() ? "" : "/", o->model.version());
  }
  if (o->method.empty() && info != nullptr) {
    o->method = absl::StrCat(
        info->method, "; must hold ", o->metric, " ",
        ComparatorText(o->comparator), " ", o->threshold,
        o->min_samples > 0
            ? absl::StrCat(" with at least ", o->min_samples, " samples")
            : "",
        o->min_label_coverage > 0
            ? absl::StrCat(", judged once label_coverage >= ",
                           o->min_label_coverage)
            : "",
        "; ", DecisionText(*o));
  }
  const bool sequential = o->decision == Decision::kSequential;
  const bool coverage = info != nullptr && info->kind == MetricKind::kCoverage;
  if (o->when_measured.empty() && coverage) {
    o->when_measured =
        absl::StrCat("continuously, from the agent registry over the last ",
                     absl::FormatDuration(o->window));
  }
  if (o->when_measured.empty()) {
    o->when_measured =
        sequential ? absl::StrCat(
                         "continuously, in agent windows merged into "
                         "consecutive steps of ",
                         absl::FormatDuration(o->window))
                   : absl::StrCat(
                         "continuously, in agent windows merged over the last ",
                         absl::FormatDuration(o->window),
                         " that every agent has delivered");
  }
  if (o->when_analysed.empty()) {
    o->when_analysed =
        absl::StrCat("every ", absl::FormatDuration(o->evaluation_interval),
                     sequential ? ", each complete step once" : "",
                     "; nonconformity after breaching for ",
                     absl::FormatDuration(o->for_duration));
  }
}

// Computes what an objective's fields leave to aims: the 9.1 answers and
// the hash of its definition.
}  // namespace

void CompleteObjective(Objective* o) {
  Describe(o);
  o->hash = Sha256Hex(Canonical(*o));
}

}  // namespace aims::collector
