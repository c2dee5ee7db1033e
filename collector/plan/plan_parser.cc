// The YAML side of ParsePlan (collector/plan/plan.h): yaml-cpp throws, and
// so do the checks here (PlanError, PlanLimitError); ParsePlan turns every
// exception into a Status, so none leaves this file.
#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/plan/metric_catalog.h"
#include "collector/plan/objective_text.h"
#include "collector/plan/plan.h"
#include "common/base/hash.h"
#include "common/base/limit_error.h"
#include "yaml-cpp/yaml.h"

namespace aims::collector {
namespace {

// Errors thrown inside this file only; ParsePlan turns them into a Status.
struct PlanError {
  YAML::Mark mark;
  std::string field;
  std::string what;
};

// A limit exceeded: what was found, the limit and its flag.
struct PlanLimitError {
  YAML::Mark mark;
  std::string field;
  std::string found;
  std::string limit;
  std::string flag;
};

[[noreturn]] void Fail(const YAML::Node& node, std::string field,
                       std::string what) {
  throw PlanError{node.Mark(), std::move(field), std::move(what)};
}

std::string Scalar(const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar()) Fail(node, field, "must be a single value");
  return node.Scalar();
}

absl::Duration ParseDurationText(const YAML::Node& node,
                                 const std::string& field) {
  const std::string text = Scalar(node, field);
  absl::Duration d;
  double days = 0;
  if (text.size() > 1 && text.back() == 'd' &&
      absl::SimpleAtod(absl::string_view(text).substr(0, text.size() - 1),
                       &days)) {
    d = absl::Hours(24) * days;
  } else if (!absl::ParseDuration(text, &d)) {
    Fail(node, field,
         absl::StrCat("'", text,
                      "' is not a duration such as 30s, 10m, 2h or 7d"));
  }
  if (d < absl::ZeroDuration()) Fail(node, field, "must not be negative");
  return d;
}

double ParseNumber(const YAML::Node& node, const std::string& field) {
  const std::string text = Scalar(node, field);
  double v = 0;
  if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
    Fail(node, field,
         absl::StrCat("must be a finite number, got '", text, "'"));
  }
  return v;
}

void CheckKeys(const YAML::Node& map, const std::string& field,
               std::initializer_list<const char*> allowed) {
  if (!map.IsMap()) Fail(map, field, "must be a mapping");
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    bool ok = false;
    for (const char* a : allowed) ok |= key == a;
    if (!ok) {
      Fail(kv.first, field.empty() ? key : absl::StrCat(field, ".", key),
           absl::StrCat("unknown field; allowed: ",
                        absl::StrJoin(allowed, ", ")));
    }
  }
}

Comparator ParseComparator(const YAML::Node& node, const std::string& field) {
  const std::string t = Scalar(node, field);
  if (std::optional<Comparator> c = ComparatorFromText(t)) return *c;
  Fail(node, field,
       absl::StrCat("'", t, "' is not one of <, <=, >, >=, ==, !="));
}

v1::Severity ParseSeverity(const YAML::Node& node, const std::string& field) {
  const std::string t = absl::AsciiStrToLower(Scalar(node, field));
  if (std::optional<v1::Severity> s = SeverityFromText(t)) return *s;
  Fail(node, field,
       absl::StrCat("'", t, "' is not one of info, warning, critical"));
}

Decision ParseDecision(const YAML::Node& node, const std::string& field) {
  const std::string t = Scalar(node, field);
  if (std::optional<Decision> d = DecisionFromName(t)) return *d;
  Fail(node, field,
       absl::StrCat("'", t, "' is not one of point, interval, sequential"));
}

// `1/<duration>`: at most one false alarm by chance per that period.
absl::Duration ParseBudget(const YAML::Node& node, const std::string& field) {
  const std::string text = Scalar(node, field);
  if (text.size() < 3 || text.substr(0, 2) != "1/") {
    Fail(node, field,
         absl::StrCat("'", text,
                      "' is not a budget such as 1/30d (at most one false "
                      "alarm per 30 days)"));
  }
  YAML::Node period(text.substr(2));
  absl::Duration d;
  try {
    d = ParseDurationText(period, field);
  } catch (const PlanError&) {
    Fail(node, field,
         absl::StrCat("'", text,
                      "' is not a budget such as 1/30d: the period after "
                      "'1/' must be a duration such as 7d, 30d or 12h"));
  }
  if (d <= absl::ZeroDuration())
    Fail(node, field, absl::StrCat("'", text, "': the period must be > 0"));
  return d;
}

constexpr std::initializer_list<const char*> kObjectiveFields = {
    "id",
    "title",
    "model",
    "metric",
    "feature",
    "attribute",
    "group",
    "slice",
    "comparator",
    "threshold",
    "window",
    "min_samples",
    "min_label_coverage",
    "decision",
    "false_alarm_budget",
    "for",
    "keep_firing_for",
    "evaluation_interval",
    "effectiveness_period",
    "severity",
    "owner",
    "iso",
    "what",
    "method",
    "when_measured",
    "when_analysed"};

// Applies the fields present in `node` to `o` (defaults first, then the
// objective's own).
void ApplyFields(const YAML::Node& node, const std::string& field,
                 Objective* o) {
  CheckKeys(node, field, kObjectiveFields);
  auto f = [&](const char* key) {
    return absl::StrCat(field, field.empty() ? "" : ".", key);
  };
  if (node["id"]) o->id = Scalar(node["id"], f("id"));
  if (node["title"]) o->title = Scalar(node["title"], f("title"));
  if (const YAML::Node m = node["model"]) {
    CheckKeys(m, f("model"), {"name", "version", "environment"});
    v1::ModelSelector sel;
    if (m["name"]) sel.set_name(Scalar(m["name"], f("model.name")));
    if (m["version"]) sel.set_version(Scalar(m["version"], f("model.version")));
    if (m["environment"])
      sel.set_environment(Scalar(m["environment"], f("model.environment")));
    o->model = sel;
  }
  if (node["metric"]) o->metric = Scalar(node["metric"], f("metric"));
  if (node["feature"]) o->feature = Scalar(node["feature"], f("feature"));
  if (node["attribute"])
    o->attribute = Scalar(node["attribute"], f("attribute"));
  if (node["group"]) o->group = Scalar(node["group"], f("group"));
  if (node["slice"]) o->slice = Scalar(node["slice"], f("slice"));
  if (node["comparator"])
    o->comparator = ParseComparator(node["comparator"], f("comparator"));
  if (node["threshold"])
    o->threshold = ParseNumber(node["threshold"], f("threshold"));
  if (node["window"])
    o->window = ParseDurationText(node["window"], f("window"));
  if (node["min_samples"]) {
    const double n = ParseNumber(node["min_samples"], f("min_samples"));
    if (n < 0 || n > 1e12 || n != std::floor(n)) {
      Fail(node["min_samples"], f("min_samples"),
           "must be a whole number in 0..1e12");
    }
    o->min_samples = static_cast<uint64_t>(n);
  }
  if (node["min_label_coverage"]) {
    const double c =
        ParseNumber(node["min_label_coverage"], f("min_label_coverage"));
    if (!(c >= 0 && c <= 1)) {
      Fail(node["min_label_coverage"], f("min_label_coverage"),
           absl::StrCat(c, " is not a share: must be in 0..1"));
    }
    o->min_label_coverage = c;
  }
  if (node["decision"])
    o->decision = ParseDecision(node["decision"], f("decision"));
  if (node["false_alarm_budget"]) {
    o->false_alarm_period =
        ParseBudget(node["false_alarm_budget"], f("false_alarm_budget"));
  }
  if (node["for"]) o->for_duration = ParseDurationText(node["for"], f("for"));
  if (node["keep_firing_for"]) {
    o->keep_firing_for =
        ParseDurationText(node["keep_firing_for"], f("keep_firing_for"));
  }
  if (node["evaluation_interval"]) {
    o->evaluation_interval = ParseDurationText(node["evaluation_interval"],
                                               f("evaluation_interval"));
  }
  if (node["effectiveness_period"]) {
    o->effectiveness_period = ParseDurationText(node["effectiveness_period"],
                                                f("effectiveness_period"));
  }
  if (node["severity"])
    o->severity = ParseSeverity(node["severity"], f("severity"));
  if (node["owner"]) o->owner = Scalar(node["owner"], f("owner"));
  if (const YAML::Node iso = node["iso"]) {
    o->iso_references.clear();
    if (iso.IsScalar()) {
      o->iso_references.push_back(iso.Scalar());
    } else if (iso.IsSequence()) {
      for (size_t i = 0; i < iso.size(); ++i) {
        o->iso_references.push_back(
            Scalar(iso[i], absl::StrCat(f("iso"), "[", i, "]")));
      }
    } else {
      Fail(iso, f("iso"),
           "must be a reference such as \"9.1\" or a list of them");
    }
  }
  for (auto [key, out] :
       {std::pair{"what", &o->what}, std::pair{"method", &o->method},
        std::pair{"when_measured", &o->when_measured},
        std::pair{"when_analysed", &o->when_analysed}}) {
    if (node[key]) *out = Scalar(node[key], f(key));
  }
}

// Window and evaluation interval of an objective (or of the defaults).
void CheckTiming(const YAML::Node& node, const std::string& field,
                 const Objective& o) {
  if (o.window <= absl::ZeroDuration() || o.window > absl::Hours(24 * 31)) {
    Fail(node, field + ".window", "must be more than 0 and at most 31d");
  }
  if (o.evaluation_interval < absl::Seconds(1)) {
    Fail(node, field + ".evaluation_interval", "must be at least 1s");
  }
}

bool ValidId(absl::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

YAML::Node LoadYaml(absl::string_view yaml) {
  try {
    return YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    throw PlanError{e.mark, "", e.msg};
  }
}

// The top level's shape, apiVersion and recurrence_period.
void ParseTopLevel(const YAML::Node& root, Plan* plan) {
  if (!root.IsMap())
    Fail(root, "", "a plan is a mapping with an 'objectives' list");
  CheckKeys(
      root, "",
      {"apiVersion", "defaults", "recurrence_period", "agent_window",
       "catch_up_horizon", "coverage", "nonconformity_due", "objectives"});
  if (root["apiVersion"] &&
      Scalar(root["apiVersion"], "apiVersion") != "aims/v1") {
    Fail(root["apiVersion"], "apiVersion", "must be aims/v1");
  }
  if (root["recurrence_period"]) {
    plan->recurrence_period =
        ParseDurationText(root["recurrence_period"], "recurrence_period");
  }
  if (root["agent_window"]) {
    plan->agent_window =
        ParseDurationText(root["agent_window"], "agent_window");
    // The agent's --window range.
    if (plan->agent_window < absl::Seconds(1) ||
        plan->agent_window > absl::Hours(1) ||
        plan->agent_window % absl::Seconds(1) != absl::ZeroDuration()) {
      Fail(root["agent_window"], "agent_window",
           "must be whole seconds in 1s..1h, as the agents' --window");
    }
  }
  if (root["catch_up_horizon"]) {
    plan->catch_up_horizon =
        ParseDurationText(root["catch_up_horizon"], "catch_up_horizon");
    if (plan->catch_up_horizon < absl::ZeroDuration() ||
        plan->catch_up_horizon > absl::Hours(24 * 366)) {
      Fail(root["catch_up_horizon"], "catch_up_horizon",
           "must be from 0 (no catch-up) to 366d");
    }
  }
}

// `nonconformity_due: {critical: 3d, warning: 14d, info: 30d}`: each given
// period replaces its default.
void ParseDue(const YAML::Node& root, Plan* plan) {
  const YAML::Node due = root["nonconformity_due"];
  if (!due) return;
  CheckKeys(due, "nonconformity_due", {"critical", "warning", "info"});
  for (auto [key, out] : {std::pair{"critical", &plan->due_critical},
                          std::pair{"warning", &plan->due_warning},
                          std::pair{"info", &plan->due_info}}) {
    if (!due[key]) continue;
    const std::string field = absl::StrCat("nonconformity_due.", key);
    *out = ParseDurationText(due[key], field);
    if (*out < absl::Hours(1) || *out > absl::Hours(24 * 366))
      Fail(due[key], field, "must be from 1h to 366d");
  }
}

// `defaults:`, and which of the fields whose default depends on the metric
// they set.
struct Defaults {
  Objective objective;
  bool decision = false;
  bool min_samples = false;
};

Defaults ParseDefaults(const YAML::Node& root) {
  Defaults defaults;
  if (const YAML::Node d = root["defaults"]) {
    ApplyFields(d, "defaults", &defaults.objective);
    // The built-in coverage objectives take them without further checks.
    CheckTiming(d, "defaults", defaults.objective);
    defaults.decision = static_cast<bool>(d["decision"]);
    defaults.min_samples = static_cast<bool>(d["min_samples"]);
  }
  return defaults;
}

// `coverage:`, the settings of the built-in coverage objectives.
struct CoverageSettings {
  bool enabled = true;
  absl::Duration silent_after = absl::Minutes(5);
  // What every coverage objective starts from.
  Objective base;
};

CoverageSettings ParseCoverage(const YAML::Node& root,
                               const Objective& defaults) {
  CoverageSettings coverage;
  coverage.base = defaults;
  coverage.base.severity = v1::SEVERITY_CRITICAL;
  coverage.base.iso_references = {"9.1", "A.6.2.6", "A.6.2.8"};
  coverage.base.for_duration = absl::ZeroDuration();
  const YAML::Node c = root["coverage"];
  if (!c) return coverage;
  CheckKeys(c, "coverage",
            {"enabled", "silent_after", "severity", "owner", "model"});
  if (c["enabled"]) {
    const std::string e = Scalar(c["enabled"], "coverage.enabled");
    if (e != "true" && e != "false")
      Fail(c["enabled"], "coverage.enabled", "must be true or false");
    coverage.enabled = e == "true";
  }
  if (c["silent_after"]) {
    coverage.silent_after =
        ParseDurationText(c["silent_after"], "coverage.silent_after");
  }
  if (c["severity"])
    coverage.base.severity = ParseSeverity(c["severity"], "coverage.severity");
  if (c["owner"]) coverage.base.owner = Scalar(c["owner"], "coverage.owner");
  if (const YAML::Node m = c["model"]) {
    YAML::Node wrapper;
    wrapper["model"] = m;
    ApplyFields(wrapper, "coverage", &coverage.base);
  }
  return coverage;
}

// The objective's metric: required and known.
const MetricInfo& CheckMetric(const YAML::Node& node, const std::string& field,
                              const Objective& o) {
  if (o.metric.empty()) Fail(node, field + ".metric", "required");
  const MetricInfo* info = FindMetric(o.metric);
  if (info == nullptr) {
    Fail(node["metric"], field + ".metric",
         absl::StrCat("unknown metric '", o.metric,
                      "'; known: ", absl::StrJoin(MetricNames(), ", ")));
  }
  return *info;
}

// Feature, attribute and group only where the metric has them.
void CheckScope(const YAML::Node& node, const std::string& field,
                const Objective& o, const MetricInfo& info) {
  MetricScope scope = info.scope;
  if (o.metric == "precision" && !o.attribute.empty())
    scope = MetricScope::kGroup;
  if (scope != MetricScope::kFeature && !o.feature.empty()) {
    Fail(node["feature"], field + ".feature",
         absl::StrCat("metric ", o.metric, " is not computed per feature"));
  }
  if ((scope == MetricScope::kModel || scope == MetricScope::kFeature ||
       scope == MetricScope::kAgent) &&
      !o.attribute.empty()) {
    Fail(node["attribute"], field + ".attribute",
         absl::StrCat("metric ", o.metric,
                      " is not computed per sensitive attribute"));
  }
  if (scope != MetricScope::kGroup && scope != MetricScope::kAgent &&
      !o.group.empty()) {
    Fail(node["group"], field + ".group",
         absl::StrCat("metric ", o.metric, " is not computed per group"));
  }
  if (o.slice.empty()) return;
  if ((info.kind != MetricKind::kPerformance &&
       info.kind != MetricKind::kDataQuality) ||
      o.metric == "throughput" || absl::StartsWith(o.metric, "latency_") ||
      o.metric == "labels_matched") {
    Fail(node["slice"], field + ".slice",
         absl::StrCat("metric ", o.metric,
                      " is not computed per slice (performance and "
                      "data-quality metrics are)"));
  }
  const size_t eq = o.slice.find('=');
  const absl::string_view key = absl::string_view(o.slice).substr(0, eq);
  if (key.empty() || key.size() > 128 ||
      (eq != std::string::npos && eq + 1 == o.slice.size())) {
    Fail(node["slice"], field + ".slice",
         absl::StrCat("'", o.slice,
                      "': must be a slice key (1..128 bytes), optionally "
                      "with =value"));
  }
}

// The decision and min_samples the plan left to the metric, and the
// combinations that cannot be decided.
void ResolveDecision(const YAML::Node& node, const std::string& field,
                     const Defaults& defaults, const MetricInfo& info,
                     Objective* o) {
  const bool given = node["decision"] || defaults.decision;
  if (!given) o->decision = DefaultDecision(info);
  // A threshold where the estimate cannot vary (a proportion at 0 or 1)
  // leaves nothing to standardize by, and == / != no direction to
  // accumulate in: by default, such objectives decide on the interval.
  const bool judgeable = SamplingErrorAt(o->metric, o->threshold) > 0;
  const bool directed = o->comparator != Comparator::kEqual &&
                        o->comparator != Comparator::kNotEqual;
  if (!given && o->decision == Decision::kSequential &&
      (!judgeable || !directed)) {
    o->decision = Decision::kInterval;
  }
  if (!node["min_samples"] && !defaults.min_samples)
    o->min_samples = DefaultMinSamples(info);
  const YAML::Node at = node["decision"] ? node["decision"] : node;
  const std::string from =
      node["decision"] ? "" : " (from defaults; set decision on the objective)";
  if (o->decision == Decision::kSequential && !HasSamplingModel(o->metric)) {
    Fail(at, field + ".decision",
         absl::StrCat("sequential needs a sampling model, which ", o->metric,
                      " has not", from, "; metrics that support it: ",
                      absl::StrJoin(SequentialMetricNames(), ", ")));
  }
  if (o->decision == Decision::kSequential && !judgeable) {
    Fail(at, field + ".decision",
         absl::StrCat("sequential cannot judge ", o->metric, " ",
                      ComparatorText(o->comparator), " ", o->threshold,
                      ": the sampling error at the threshold is 0; use a "
                      "threshold inside the metric's range, or decision: "
                      "interval",
                      from));
  }
  if (o->decision == Decision::kSequential && !directed) {
    Fail(at, field + ".decision",
         absl::StrCat("sequential needs one of <, <=, >, >=, not ",
                      ComparatorText(o->comparator), from));
  }
  if (node["false_alarm_budget"] && o->decision != Decision::kSequential) {
    Fail(node["false_alarm_budget"], field + ".false_alarm_budget",
         absl::StrCat("applies to decision: sequential only; this objective "
                      "decides by ",
                      DecisionName(o->decision)));
  }
  if (o->decision == Decision::kSequential &&
      o->false_alarm_period < o->window) {
    Fail(node["false_alarm_budget"] ? node["false_alarm_budget"] : node,
         field + ".false_alarm_budget",
         absl::StrCat("1/", absl::FormatDuration(o->false_alarm_period),
                      " is shorter than the objective's window (",
                      absl::FormatDuration(o->window),
                      "): at most one false alarm per step is no budget"));
  }
}

// min_label_coverage applies to performance metrics: named on another
// objective it is an error, from the defaults it is left out.
void CheckLabelCoverage(const YAML::Node& node, const std::string& field,
                        const MetricInfo& info, Objective* o) {
  if (info.kind == MetricKind::kPerformance) return;
  if (node["min_label_coverage"]) {
    Fail(node["min_label_coverage"], field + ".min_label_coverage",
         absl::StrCat("applies to performance metrics (computed from "
                      "labels) only, not ",
                      o->metric));
  }
  o->min_label_coverage = 0;
}

// A window the agents' windows can fill: as long as one of them, and made of
// whole ones (Plan::agent_window).
void CheckFillable(const YAML::Node& node, const std::string& field,
                   const Objective& o, absl::Duration agent_window) {
  const YAML::Node at = node["window"] ? node["window"] : node;
  if (o.window < agent_window ||
      o.window % agent_window != absl::ZeroDuration()) {
    Fail(at, field + ".window",
         absl::StrCat(absl::FormatDuration(o.window),
                      " is not a multiple of the agents' window (",
                      absl::FormatDuration(agent_window),
                      ", `agent_window`): it could never hold whole agent "
                      "windows; use a multiple, or set agent_window to the "
                      "agents' --window"));
  }
}

// objectives[i]: the defaults, then its own fields; `ids` are those of the
// objectives before it.
Objective ParseObjective(const YAML::Node& node, const std::string& field,
                         const Defaults& defaults, absl::Duration agent_window,
                         std::set<std::string>* ids) {
  Objective o = defaults.objective;
  o.id.clear();
  o.title.clear();
  o.metric.clear();
  ApplyFields(node, field, &o);
  if (o.id.empty()) Fail(node, field + ".id", "required");
  if (!ValidId(o.id)) {
    Fail(node["id"], field + ".id",
         "must be 1-128 characters of letters, digits, '-', '_' or '.'");
  }
  if (!ids->insert(o.id).second)
    Fail(node["id"], field + ".id", "duplicate id '" + o.id + "'");
  const MetricInfo& info = CheckMetric(node, field, o);
  if (!node["comparator"]) Fail(node, field + ".comparator", "required");
  if (!node["threshold"]) Fail(node, field + ".threshold", "required");
  CheckScope(node, field, o, info);
  CheckTiming(node, field, o);
  ResolveDecision(node, field, defaults, info, &o);
  CheckLabelCoverage(node, field, info, &o);
  if (info.kind != MetricKind::kCoverage)
    CheckFillable(node, field, o, agent_window);
  if (o.title.empty()) o.title = o.id;
  if (o.feature == "*") o.feature.clear();
  if (o.attribute == "*") o.attribute.clear();
  if (o.group == "*") o.group.clear();
  CompleteObjective(&o);
  return o;
}

// `objectives:`, appended to `plan`; their ids go to `ids`.
void ParseObjectives(const YAML::Node& root, const Defaults& defaults,
                     bool coverage, size_t max_objectives, Plan* plan,
                     std::set<std::string>* ids) {
  const YAML::Node objectives = root["objectives"];
  if (!objectives && !coverage)
    Fail(root, "objectives", "missing; a plan needs objectives");
  if (!objectives) return;
  if (!objectives.IsSequence())
    Fail(objectives, "objectives", "must be a list");
  if (objectives.size() > max_objectives) {
    throw PlanLimitError{objectives.Mark(), "objectives",
                         absl::StrCat(objectives.size(), " objectives"),
                         absl::StrCat(max_objectives),
                         "--max_objectives_per_plan"};
  }
  for (size_t i = 0; i < objectives.size(); ++i) {
    plan->objectives.push_back(
        ParseObjective(objectives[i], absl::StrCat("objectives[", i, "]"),
                       defaults, plan->agent_window, ids));
  }
}

// The built-in coverage objectives the plan does not override (by id).
void AddCoverageObjectives(const CoverageSettings& coverage,
                           const std::set<std::string>& ids, Plan* plan) {
  struct Builtin {
    const char* id;
    const char* title;
    const char* metric;
    Comparator comparator;
    double threshold;
  };
  const double silent = absl::ToDoubleSeconds(coverage.silent_after);
  const Builtin builtins[] = {
      {"coverage.model-silent", "Every monitored model keeps reporting",
       "model_silence_seconds", Comparator::kLessEqual, silent},
      {"coverage.agent-silent", "Every agent keeps reporting",
       "agent_silence_seconds", Comparator::kLessEqual, silent},
      {"coverage.missing-windows", "No monitoring windows are lost",
       "missing_windows", Comparator::kEqual, 0},
      {"coverage.profile-missing",
       "Every model version has a reference profile", "profile_present",
       Comparator::kEqual, 1},
  };
  for (const Builtin& b : builtins) {
    if (ids.count(b.id)) continue;  // the plan overrides it
    Objective o = coverage.base;
    o.id = b.id;
    o.title = b.title;
    o.metric = b.metric;
    o.feature.clear();
    o.attribute.clear();
    o.group.clear();
    o.slice.clear();
    o.comparator = b.comparator;
    o.threshold = b.threshold;
    o.min_samples = 0;
    o.min_label_coverage = 0;
    o.decision = Decision::kPoint;
    o.window = std::max(o.window, coverage.silent_after * 2);
    o.what.clear();
    o.method.clear();
    o.when_measured.clear();
    o.when_analysed.clear();
    o.builtin = true;
    // A first-events reference needs time to form after a deploy.
    if (o.metric == "profile_present") o.for_duration = coverage.silent_after;
    CompleteObjective(&o);
    plan->objectives.push_back(std::move(o));
  }
}

Plan ParseOrThrow(absl::string_view yaml, absl::string_view file_name,
                  size_t max_objectives) {
  const YAML::Node root = LoadYaml(yaml);
  Plan plan;
  plan.source = std::string(file_name);
  plan.version = Sha256Hex(yaml);
  plan.text = std::string(yaml);
  ParseTopLevel(root, &plan);
  ParseDue(root, &plan);
  const Defaults defaults = ParseDefaults(root);
  const CoverageSettings coverage = ParseCoverage(root, defaults.objective);
  plan.silent_after = coverage.silent_after;
  std::set<std::string> ids;
  ParseObjectives(root, defaults, coverage.enabled, max_objectives, &plan,
                  &ids);
  if (coverage.enabled) AddCoverageObjectives(coverage, ids, &plan);
  return plan;
}

}  // namespace

absl::StatusOr<Plan> ParsePlan(absl::string_view yaml,
                               absl::string_view file_name,
                               size_t max_objectives) {
  try {
    return ParseOrThrow(yaml, file_name, max_objectives);
  } catch (const PlanLimitError& e) {
    return LimitError(absl::StrCat(file_name, ":", e.mark.line + 1, ":",
                                   e.mark.column + 1, ": ", e.field),
                      e.found, e.limit, e.flag);
  } catch (const PlanError& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name, ":", e.mark.line + 1, ":", e.mark.column + 1,
                     ": ", e.field.empty() ? "" : e.field + ": ", e.what));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        file_name, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
}

}  // namespace aims::collector
