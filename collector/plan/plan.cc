#include "collector/plan/plan.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/hash.h"
#include "common/base/limit_error.h"
#include "common/summary/validation.h"
#include "yaml-cpp/yaml.h"

namespace aims::collector {
namespace {

struct MetricInfo {
  const char* name;
  MetricScope scope;
  const char* method;
};

// Every metric an objective may name, with how it is measured (the 9.1
// "method" answer when the plan gives none).
constexpr MetricInfo kMetrics[] = {
    {"accuracy", MetricScope::kModel,
     "share of labelled predictions that are correct"},
    {"precision", MetricScope::kModel, "TP/(TP+FP) of the positive class"},
    {"recall", MetricScope::kModel, "TP/(TP+FN) of the positive class"},
    {"f1", MetricScope::kModel, "F1 of the positive class"},
    {"precision_macro", MetricScope::kModel,
     "unweighted mean precision over classes"},
    {"recall_macro", MetricScope::kModel,
     "unweighted mean recall over classes"},
    {"f1_macro", MetricScope::kModel, "unweighted mean F1 over classes"},
    {"precision_weighted", MetricScope::kModel, "support-weighted precision"},
    {"recall_weighted", MetricScope::kModel, "support-weighted recall"},
    {"f1_weighted", MetricScope::kModel, "support-weighted F1"},
    {"f1_micro", MetricScope::kModel, "micro-averaged F1"},
    {"roc_auc", MetricScope::kModel, "ROC AUC on score histograms by label"},
    {"log_loss", MetricScope::kModel,
     "mean negative log-likelihood of the true class"},
    {"brier", MetricScope::kModel,
     "mean squared error of predicted probabilities"},
    {"mae", MetricScope::kModel, "mean absolute error"},
    {"rmse", MetricScope::kModel, "root mean squared error"},
    {"mape", MetricScope::kModel, "mean absolute percentage error"},
    {"r2", MetricScope::kModel, "coefficient of determination"},
    {"error_rate", MetricScope::kModel, "share of events flagged as errors"},
    {"throughput", MetricScope::kModel, "events per second"},
    {"latency_p50", MetricScope::kModel,
     "median latency (DDSketch, 1% relative error)"},
    {"latency_p90", MetricScope::kModel, "90th percentile latency (DDSketch)"},
    {"latency_p99", MetricScope::kModel, "99th percentile latency (DDSketch)"},
    {"labels_matched", MetricScope::kModel,
     "delayed labels joined to predictions"},
    {"drifted_feature_share", MetricScope::kModel,
     "share of features whose KS / chi-squared test rejects at alpha 0.05 "
     "after "
     "Benjamini-Hochberg correction"},
    {"psi", MetricScope::kFeature,
     "population stability index on reference bins"},
    {"js_distance", MetricScope::kFeature,
     "Jensen-Shannon distance (base 2) on reference bins"},
    {"hellinger", MetricScope::kFeature,
     "Hellinger distance on reference bins"},
    {"chi_squared", MetricScope::kFeature,
     "Pearson chi-squared statistic on reference bins"},
    {"ks_statistic", MetricScope::kFeature,
     "Kolmogorov-Smirnov statistic on reference bins"},
    {"wasserstein_norm", MetricScope::kFeature,
     "Wasserstein-1 distance on reference bins divided by the reference "
     "standard deviation"},
    {"selection_rate", MetricScope::kGroup,
     "predicted positive / events in the group, Wilson CI"},
    {"true_positive_rate", MetricScope::kGroup,
     "TP/(TP+FN) in the group, Wilson CI"},
    {"false_positive_rate", MetricScope::kGroup,
     "FP/(FP+TN) in the group, Wilson CI"},
    {"demographic_parity_difference", MetricScope::kAttribute,
     "max - min selection rate over groups with enough events, Newcombe CI"},
    {"demographic_parity_ratio", MetricScope::kAttribute,
     "min / max selection rate over groups with enough events (disparate "
     "impact)"},
    {"equal_opportunity_difference", MetricScope::kAttribute,
     "max - min true positive rate over groups, Newcombe CI"},
    {"equalized_odds_difference", MetricScope::kAttribute,
     "larger of the TPR and FPR gaps over groups"},
    {"predictive_parity_difference", MetricScope::kAttribute,
     "max - min precision over groups, Newcombe CI"},
    {"model_silence_seconds", MetricScope::kModel,
     "seconds since any agent of the model last reported"},
    {"agent_silence_seconds", MetricScope::kAgent,
     "seconds since the agent last reported (agents seen within the window)"},
    {"missing_windows", MetricScope::kModel,
     "windows agents declared lost (spool full) that ended within the window"},
    {"profile_present", MetricScope::kModel,
     "1 when the model version has a reference profile, else 0"},
};

const MetricInfo* FindMetric(absl::string_view name) {
  for (const MetricInfo& m : kMetrics) {
    if (name == m.name) return &m;
  }
  return nullptr;
}

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

constexpr std::initializer_list<const char*> kObjectiveFields = {
    "id",
    "title",
    "model",
    "metric",
    "feature",
    "attribute",
    "group",
    "comparator",
    "threshold",
    "window",
    "min_samples",
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

std::string Canonical(const Objective& o) {
  return absl::StrJoin({o.id,
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
            : "");
  }
  if (o->when_measured.empty()) {
    o->when_measured =
        absl::StrCat("continuously, in agent windows merged over the last ",
                     absl::FormatDuration(o->window));
  }
  if (o->when_analysed.empty()) {
    o->when_analysed =
        absl::StrCat("every ", absl::FormatDuration(o->evaluation_interval),
                     "; nonconformity after breaching for ",
                     absl::FormatDuration(o->for_duration));
  }
}

Plan ParseOrThrow(absl::string_view yaml, absl::string_view file_name,
                  size_t max_objectives) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    throw PlanError{e.mark, "", e.msg};
  }
  Plan plan;
  plan.source = std::string(file_name);
  plan.version = Sha256Hex(yaml);
  plan.text = std::string(yaml);
  if (!root.IsMap())
    Fail(root, "", "a plan is a mapping with an 'objectives' list");
  CheckKeys(root, "",
            {"apiVersion", "defaults", "recurrence_period", "coverage",
             "objectives"});
  if (root["apiVersion"] &&
      Scalar(root["apiVersion"], "apiVersion") != "aims/v1") {
    Fail(root["apiVersion"], "apiVersion", "must be aims/v1");
  }
  if (root["recurrence_period"]) {
    plan.recurrence_period =
        ParseDurationText(root["recurrence_period"], "recurrence_period");
  }
  Objective defaults;
  if (const YAML::Node d = root["defaults"]) {
    ApplyFields(d, "defaults", &defaults);
    // The built-in coverage objectives take them without further checks.
    CheckTiming(d, "defaults", defaults);
  }

  // Built-in coverage objectives.
  bool coverage = true;
  absl::Duration silent_after = absl::Minutes(5);
  Objective coverage_base = defaults;
  coverage_base.severity = v1::SEVERITY_CRITICAL;
  coverage_base.iso_references = {"9.1", "A.6.2.6", "A.6.2.8"};
  coverage_base.for_duration = absl::ZeroDuration();
  if (const YAML::Node c = root["coverage"]) {
    CheckKeys(c, "coverage",
              {"enabled", "silent_after", "severity", "owner", "model"});
    if (c["enabled"]) {
      const std::string e = Scalar(c["enabled"], "coverage.enabled");
      if (e != "true" && e != "false")
        Fail(c["enabled"], "coverage.enabled", "must be true or false");
      coverage = e == "true";
    }
    if (c["silent_after"])
      silent_after =
          ParseDurationText(c["silent_after"], "coverage.silent_after");
    if (c["severity"])
      coverage_base.severity =
          ParseSeverity(c["severity"], "coverage.severity");
    if (c["owner"]) coverage_base.owner = Scalar(c["owner"], "coverage.owner");
    if (const YAML::Node m = c["model"]) {
      YAML::Node wrapper;
      wrapper["model"] = m;
      ApplyFields(wrapper, "coverage", &coverage_base);
    }
  }

  const YAML::Node objectives = root["objectives"];
  if (!objectives && !coverage)
    Fail(root, "objectives", "missing; a plan needs objectives");
  if (objectives && !objectives.IsSequence())
    Fail(objectives, "objectives", "must be a list");
  std::set<std::string> ids;
  if (objectives && objectives.size() > max_objectives) {
    throw PlanLimitError{objectives.Mark(), "objectives",
                         absl::StrCat(objectives.size(), " objectives"),
                         absl::StrCat(max_objectives),
                         "--max_objectives_per_plan"};
  }
  for (size_t i = 0; objectives && i < objectives.size(); ++i) {
    const YAML::Node node = objectives[i];
    const std::string field = absl::StrCat("objectives[", i, "]");
    Objective o = defaults;
    o.id.clear();
    o.title.clear();
    o.metric.clear();
    ApplyFields(node, field, &o);
    if (o.id.empty()) Fail(node, field + ".id", "required");
    if (!ValidId(o.id)) {
      Fail(node["id"], field + ".id",
           "must be 1-128 characters of letters, digits, '-', '_' or '.'");
    }
    if (!ids.insert(o.id).second)
      Fail(node["id"], field + ".id", "duplicate id '" + o.id + "'");
    if (o.metric.empty()) Fail(node, field + ".metric", "required");
    const MetricInfo* info = FindMetric(o.metric);
    if (info == nullptr) {
      std::vector<std::string> names;
      for (const MetricInfo& m : kMetrics) names.push_back(m.name);
      Fail(node["metric"], field + ".metric",
           absl::StrCat("unknown metric '", o.metric,
                        "'; known: ", absl::StrJoin(names, ", ")));
    }
    if (!node["comparator"]) Fail(node, field + ".comparator", "required");
    if (!node["threshold"]) Fail(node, field + ".threshold", "required");
    MetricScope scope = info->scope;
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
    CheckTiming(node, field, o);
    if (o.title.empty()) o.title = o.id;
    if (o.feature == "*") o.feature.clear();
    if (o.attribute == "*") o.attribute.clear();
    if (o.group == "*") o.group.clear();
    Describe(&o);
    o.hash = Sha256Hex(Canonical(o));
    plan.objectives.push_back(std::move(o));
  }
  if (coverage) {
    struct Builtin {
      const char* id;
      const char* title;
      const char* metric;
      Comparator comparator;
      double threshold;
    };
    const double silent = absl::ToDoubleSeconds(silent_after);
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
      Objective o = coverage_base;
      o.id = b.id;
      o.title = b.title;
      o.metric = b.metric;
      o.feature.clear();
      o.attribute.clear();
      o.group.clear();
      o.comparator = b.comparator;
      o.threshold = b.threshold;
      o.min_samples = 0;
      o.window = std::max(o.window, silent_after * 2);
      o.what.clear();
      o.method.clear();
      o.when_measured.clear();
      o.when_analysed.clear();
      o.builtin = true;
      // A first-events reference needs time to form after a deploy.
      if (o.metric == "profile_present") o.for_duration = silent_after;
      Describe(&o);
      o.hash = Sha256Hex(Canonical(o));
      plan.objectives.push_back(std::move(o));
    }
  }
  return plan;
}

}  // namespace

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
