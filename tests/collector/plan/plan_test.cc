#include "collector/plan/plan.h"

#include <map>

#include "collector/plan/metric_catalog.h"
#include "gtest/gtest.h"

namespace aims::collector {
namespace {

std::string Error(const std::string& yaml) {
  return std::string(ParsePlan(yaml, "plan.yaml").status().message());
}

TEST(PlanTest, ParsesObjectivesDefaultsAndCoverage) {
  absl::StatusOr<Plan> plan = ParsePlan(R"(apiVersion: aims/v1
defaults:
  model: {name: credit}
  window: 15m
  owner: risk@example.com
objectives:
  - id: income-drift
    metric: psi
    feature: income
    comparator: "<="
    threshold: 0.2
    for: 5m
    iso: ["9.1", "A.6.2.6"]
  - id: parity
    metric: demographic_parity_ratio
    attribute: gender
    comparator: ">="
    threshold: 0.8
    window: 1d
    severity: critical
)",
                                        "plan.yaml");
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->objectives.size(), 6u);  // 2 + 4 built-in coverage objectives
  const Objective& drift = plan->objectives[0];
  EXPECT_EQ(drift.model.name(), "credit");
  EXPECT_EQ(drift.window, absl::Minutes(15));
  EXPECT_EQ(drift.for_duration, absl::Minutes(5));
  EXPECT_EQ(drift.owner, "risk@example.com");
  EXPECT_TRUE(drift.Holds(0.2));
  EXPECT_FALSE(drift.Holds(0.21));
  // The 9.1 answers are filled in from the definition.
  EXPECT_EQ(drift.what, "psi of feature income of model credit");
  EXPECT_NE(drift.method.find("population stability index"), std::string::npos);
  EXPECT_NE(drift.when_analysed.find("every 30s"), std::string::npos);
  EXPECT_EQ(plan->objectives[1].window, absl::Hours(24));
  EXPECT_EQ(plan->objectives[1].severity, v1::SEVERITY_CRITICAL);
  EXPECT_EQ(plan->objectives[2].id, "coverage.model-silent");
  EXPECT_EQ(plan->version.size(), 64u);
  // The same objective text gives the same hash; a change gives another.
  absl::StatusOr<Plan> again = ParsePlan(
      "objectives:\n  - {id: a, metric: accuracy, comparator: '>=', threshold: "
      "0.9}\n",
      "p");
  absl::StatusOr<Plan> changed = ParsePlan(
      "objectives:\n  - {id: a, metric: accuracy, comparator: '>=', threshold: "
      "0.8}\n",
      "p");
  absl::StatusOr<Plan> same = ParsePlan(
      "# comment\nobjectives:\n  - {id: a, metric: accuracy, comparator: '>=', "
      "threshold: 0.9}\n",
      "p");
  ASSERT_TRUE(again.ok() && changed.ok() && same.ok());
  EXPECT_NE(again->objectives[0].hash, changed->objectives[0].hash);
  EXPECT_EQ(again->objectives[0].hash, same->objectives[0].hash);
  EXPECT_NE(again->version, same->version);  // the file differs
}

TEST(PlanTest, ErrorsNameFileLineColumnAndField) {
  EXPECT_EQ(Error("objectives:\n  - id: a\n    metric: psi\n    feature: x\n"
                  "    comparator: '<'\n    treshold: 1\n")

                .substr(0, 43),
            "plan.yaml:6:5: objectives[0].treshold: unkn");
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: accuracy, comparator: "
                  "'=<', threshold: 1}\n"),
            "plan.yaml:2:43: objectives[0].comparator: '=<' is not one of <, "
            "<=, >, >=, ==, !=");
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: accuracy, comparator: '<', "
                  "threshold: high}\n"),
            "plan.yaml:2:59: objectives[0].threshold: must be a finite number, "
            "got 'high'");
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: accuracy, feature: x, "
                  "comparator: '<', "
                  "threshold: 1}\n"),
            "plan.yaml:2:40: objectives[0].feature: metric accuracy is not "
            "computed per feature");
  EXPECT_NE(Error("objectives:\n  - {id: a, metric: acuracy, comparator: '<', "
                  "threshold: 1}\n")

                .find("objectives[0].metric: unknown metric 'acuracy'; known: "
                      "accuracy,"),
            std::string::npos);
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: accuracy, comparator: '<', "
                  "threshold: 1}\n"
                  "  - {id: a, metric: f1, comparator: '<', threshold: 1}\n"),
            "plan.yaml:3:10: objectives[1].id: duplicate id 'a'");
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: accuracy, threshold: 1}\n"),
            "plan.yaml:2:5: objectives[0].comparator: required");
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: accuracy, comparator: '<', "
                  "threshold: 1, "
                  "window: soon}\n"),
            "plan.yaml:2:70: objectives[0].window: 'soon' is not a duration "
            "such as 30s, 10m, "
            "2h or 7d");
  // Found by tests/fuzz/plan_yaml_fuzz.cc: the defaults reached the built-in
  // coverage objectives without these checks.
  EXPECT_EQ(Error("defaults:\n  evaluation_interval: 0s\n"),
            "plan.yaml:2:3: defaults.evaluation_interval: must be at least 1s");
  EXPECT_EQ(Error("defaults: {window: 0s}\n"),
            "plan.yaml:1:11: defaults.window: must be more than 0 and at most "
            "31d");
  // YAML syntax errors keep their position too.
  EXPECT_EQ(Error("objectives:\n  - {id: a\n").substr(0, 10), "plan.yaml:");
  EXPECT_TRUE(
      absl::IsNotFound(LoadPlanFile("/nonexistent/plan.yaml").status()));
}

// nonconformity_due: documented defaults, each period replaceable, and
// errors naming file, line, column and field.
TEST(PlanTest, NonconformityDuePeriods) {
  absl::StatusOr<Plan> defaults = ParsePlan(
      "objectives:\n  - {id: a, metric: accuracy, comparator: '>', "
      "threshold: 0.9}\n",
      "plan.yaml");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->DueAfter(v1::SEVERITY_CRITICAL), absl::Hours(24 * 3));
  EXPECT_EQ(defaults->DueAfter(v1::SEVERITY_WARNING), absl::Hours(24 * 14));
  EXPECT_EQ(defaults->DueAfter(v1::SEVERITY_INFO), absl::Hours(24 * 30));
  absl::StatusOr<Plan> set = ParsePlan(
      "nonconformity_due: {critical: 12h, info: 60d}\n"
      "objectives:\n  - {id: a, metric: accuracy, comparator: '>', "
      "threshold: 0.9}\n",
      "plan.yaml");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->DueAfter(v1::SEVERITY_CRITICAL), absl::Hours(12));
  EXPECT_EQ(set->DueAfter(v1::SEVERITY_WARNING), absl::Hours(24 * 14));
  EXPECT_EQ(set->DueAfter(v1::SEVERITY_INFO), absl::Hours(24 * 60));
  EXPECT_EQ(Error("nonconformity_due:\n  critical: soon\n"),
            "plan.yaml:2:13: nonconformity_due.critical: 'soon' is not a "
            "duration such as 30s, 10m, 2h or 7d");
  EXPECT_EQ(Error("nonconformity_due: {warning: 10m}\n"),
            "plan.yaml:1:30: nonconformity_due.warning: must be from 1h to "
            "366d");
  EXPECT_EQ(Error("nonconformity_due: {major: 1d}\n").substr(0, 52),
            "plan.yaml:1:21: nonconformity_due.major: unknown fie");
  EXPECT_EQ(Error("nonconformity_due: 3d\n"),
            "plan.yaml:1:20: nonconformity_due: must be a mapping");
}

// Decision, min_samples and false_alarm_budget defaults follow the metric.
TEST(PlanTest, DecisionDefaultsFollowTheMetric) {
  absl::StatusOr<Plan> plan = ParsePlan(R"(
coverage: {enabled: false}
objectives:
  - {id: drift, metric: psi, comparator: "<=", threshold: 0.02, window: 10s}
  - {id: js, metric: js_distance, comparator: "<=", threshold: 0.1}
  - {id: acc, metric: accuracy, comparator: ">=", threshold: 0.8}
  - {id: tpr, metric: true_positive_rate, attribute: gender,
     comparator: ">=", threshold: 0.5}
  - {id: parity, metric: demographic_parity_ratio, comparator: ">=",
     threshold: 0.8}
  - {id: f1, metric: f1, comparator: ">=", threshold: 0.8}
  - {id: ks, metric: ks_statistic, comparator: "<=", threshold: 0.1}
  - {id: latency, metric: latency_p99, comparator: "<=", threshold: 0.5}
  - {id: errors, metric: error_rate, comparator: "<=", threshold: 0.05}
  - {id: pinned, metric: accuracy, comparator: ">=", threshold: 0.8,
     decision: point, min_samples: 0}
  - {id: budget, metric: psi, comparator: "<=", threshold: 0.02,
     false_alarm_budget: 1/7d}
)",
                                        "plan.yaml");
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::map<std::string, const Objective*> by_id;
  for (const Objective& o : plan->objectives) by_id[o.id] = &o;
  struct Want {
    std::string id;
    Decision decision;
    uint64_t min_samples;
  };
  for (const Want& want : std::vector<Want>{
           {"drift", Decision::kSequential, 0},
           {"js", Decision::kSequential, 0},
           {"acc", Decision::kSequential, kDefaultMinSamples},
           {"tpr", Decision::kSequential, kDefaultMinSamples},
           {"parity", Decision::kInterval, kDefaultMinSamples},
           {"f1", Decision::kInterval, kDefaultMinSamples},
           {"ks", Decision::kSequential, 0},
           {"latency", Decision::kPoint, 0},
           {"errors", Decision::kSequential, 0},
           {"pinned", Decision::kPoint, 0},
       }) {
    ASSERT_TRUE(by_id.count(want.id)) << want.id;
    EXPECT_EQ(DecisionName(by_id[want.id]->decision),
              DecisionName(want.decision))
        << want.id;
    EXPECT_EQ(by_id[want.id]->min_samples, want.min_samples) << want.id;
  }
  EXPECT_EQ(by_id["drift"]->false_alarm_period, absl::Hours(24 * 30));
  EXPECT_EQ(by_id["drift"]->FalseAlarmBudgetText(), "1/30d");
  EXPECT_EQ(by_id["budget"]->false_alarm_period, absl::Hours(24 * 7));
  EXPECT_NE(by_id["drift"]->method.find("false-alarm budget of 1/30d"),
            std::string::npos)
      << by_id["drift"]->method;
  EXPECT_NE(by_id["parity"]->method.find("95% interval"), std::string::npos);
  // The decision is part of the definition: changing it starts over.
  EXPECT_NE(by_id["acc"]->hash, by_id["pinned"]->hash);
  // Coverage objectives decide on the point value.
  absl::StatusOr<Plan> coverage =
      ParsePlan("defaults: {decision: point}\n", "plan.yaml");
  ASSERT_TRUE(coverage.ok()) << coverage.status();
  for (const Objective& o : coverage->objectives)
    EXPECT_EQ(o.decision, Decision::kPoint) << o.id;
}

TEST(PlanTest, DecisionErrorsNameWhatIsSupported) {
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: f1, comparator: '>=', "
                  "threshold: 0.8, decision: sequential}\n"),
            "plan.yaml:2:69: objectives[0].decision: sequential needs a "
            "sampling model, which f1 has not; metrics that support it: "
            "accuracy, precision, recall, error_rate, psi, js_distance, "
            "hellinger, ks_statistic, missing_rate, type_mismatch_rate, "
            "out_of_range_rate, unseen_category_rate, worst_missing_rate, "
            "worst_type_mismatch_rate, worst_out_of_range_rate, "
            "worst_unseen_category_rate, selection_rate, true_positive_rate, "
            "false_positive_rate");
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: f1, comparator: '>=', "
                  "threshold: 0.8, decision: bayes}\n"),
            "plan.yaml:2:69: objectives[0].decision: 'bayes' is not one of "
            "point, interval, sequential");
  EXPECT_NE(Error("defaults: {decision: sequential}\nobjectives:\n"
                  "  - {id: a, metric: f1, comparator: '>=', threshold: 0.8}\n")
                .find("objectives[0].decision: sequential needs a sampling "
                      "model, which f1 has not (from defaults; set decision "
                      "on the objective)"),
            std::string::npos);
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: accuracy, comparator: "
                  "'==', threshold: 0.8, decision: sequential}\n"),
            "plan.yaml:2:75: objectives[0].decision: sequential needs one of "
            "<, <=, >, >=, not ==");
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: psi, comparator: '<=', "
                  "threshold: 0.02, false_alarm_budget: often}\n"),
            "plan.yaml:2:81: objectives[0].false_alarm_budget: 'often' is not "
            "a budget such as 1/30d (at most one false alarm per 30 days)");
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: psi, comparator: '<=', "
                  "threshold: 0.02, false_alarm_budget: 1/month}\n"),
            "plan.yaml:2:81: objectives[0].false_alarm_budget: '1/month' is "
            "not a budget such as 1/30d: the period after '1/' must be a "
            "duration such as 7d, 30d or 12h");
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: psi, comparator: '<=', "
                  "threshold: 0.02, window: 1h, false_alarm_budget: 1/30m}\n"),
            "plan.yaml:2:93: objectives[0].false_alarm_budget: 1/30m is "
            "shorter than the objective's window (1h): at most one false "
            "alarm per step is no budget");
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: wasserstein_norm, "
                  "comparator: '<=', threshold: 0.1, false_alarm_budget: "
                  "1/30d}\n"),
            "plan.yaml:2:93: objectives[0].false_alarm_budget: applies to "
            "decision: sequential only; this objective decides by interval");
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: accuracy, comparator: "
                  "'>=', threshold: 1, decision: sequential}\n"),
            "plan.yaml:2:73: objectives[0].decision: sequential cannot judge "
            "accuracy >= 1: the sampling error at the threshold is 0; use a "
            "threshold inside the metric's range, or decision: interval");
  // Left to the default, such an objective decides on the interval.
  absl::StatusOr<Plan> edge = ParsePlan(
      "objectives:\n  - {id: a, metric: accuracy, comparator: '>=', "
      "threshold: 1}\n",
      "plan.yaml");
  ASSERT_TRUE(edge.ok()) << edge.status();
  EXPECT_EQ(edge->objectives[0].decision, Decision::kInterval);
}

// A window the agents cannot fill is refused: shorter than their window, or
// not made of whole ones.
TEST(PlanTest, WindowsTheAgentsCannotFillAreRefused) {
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: psi, comparator: '<=', "
                  "threshold: 0.02, window: 5s}\n"),
            "plan.yaml:2:69: objectives[0].window: 5s is not a multiple of "
            "the agents' window (10s, `agent_window`): it could never hold "
            "whole agent windows; use a multiple, or set agent_window to the "
            "agents' --window");
  EXPECT_NE(
      Error("defaults: {window: 25s}\nobjectives:\n"
            "  - {id: a, metric: psi, comparator: '<=', threshold: 0.2}\n")
          .find("objectives[0].window: 25s is not a multiple of the "
                "agents' window (10s"),
      std::string::npos);
  // With the agents' window stated, 5 s windows are fine.
  absl::StatusOr<Plan> plan = ParsePlan(
      "agent_window: 5s\nobjectives:\n"
      "  - {id: a, metric: psi, comparator: '<=', threshold: 0.02, "
      "window: 5s}\n",
      "plan.yaml");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->agent_window, absl::Seconds(5));
  EXPECT_EQ(Error("agent_window: 2h\nobjectives: []\n"),
            "plan.yaml:1:15: agent_window: must be whole seconds in 1s..1h, as "
            "the agents' --window");
}

}  // namespace
}  // namespace aims::collector

namespace aims::collector {
namespace {

// slice: performance and data-quality objectives per slice value ("region")
// or for one value ("region=eu"); errors name file, line, column and field.
TEST(PlanTest, SliceScopesPerformanceAndDataQuality) {
  absl::StatusOr<Plan> plan = ParsePlan(R"(coverage: {enabled: false}
objectives:
  - {id: a, metric: accuracy, slice: region, comparator: ">=", threshold: 0.8}
  - {id: b, metric: missing_rate, feature: age, slice: region=eu,
     comparator: "<=", threshold: 0.05}
  - {id: c, metric: accuracy, comparator: ">=", threshold: 0.8}
)",
                                        "plan.yaml");
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->objectives.size(), 3u);
  EXPECT_EQ(plan->objectives[0].slice, "region");
  EXPECT_EQ(plan->objectives[0].what, "accuracy per slice region of model *");
  EXPECT_EQ(plan->objectives[1].slice, "region=eu");
  EXPECT_EQ(plan->objectives[2].slice, "");
  // The slice is part of the definition: changing it starts the state over.
  EXPECT_NE(plan->objectives[0].hash, plan->objectives[2].hash);

  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: selection_rate, "
                  "attribute: g, slice: region,\n     comparator: '<', "
                  "threshold: 1}\n"),
            "plan.yaml:2:58: objectives[0].slice: metric selection_rate is not "
            "computed per slice (performance and data-quality metrics are)");
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: latency_p99, slice: r,\n"
                  "     comparator: '<', threshold: 1}\n"),
            "plan.yaml:2:41: objectives[0].slice: metric latency_p99 is not "
            "computed per slice (performance and data-quality metrics are)");
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: accuracy, slice: "
                  "'region=',\n     comparator: '<', threshold: 1}\n"),
            "plan.yaml:2:38: objectives[0].slice: 'region=': must be a slice "
            "key (1..128 bytes), optionally with =value");
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: accuracy, slice: "
                  "'=eu',\n     comparator: '<', threshold: 1}\n"),
            "plan.yaml:2:38: objectives[0].slice: '=eu': must be a slice "
            "key (1..128 bytes), optionally with =value");
}

TEST(PlanTest, MinLabelCoverageAndCatchUpHorizon) {
  absl::StatusOr<Plan> plan = ParsePlan(R"(
catch_up_horizon: 7d
defaults: {min_label_coverage: 0.8}
objectives:
  - {id: acc, metric: accuracy, comparator: '>=', threshold: 0.9}
  - {id: acc-now, metric: accuracy, comparator: '>=', threshold: 0.9,
     min_label_coverage: 0}
  - {id: psi, metric: psi, feature: x, comparator: '<=', threshold: 0.2}
)",
                                        "plan.yaml");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->catch_up_horizon, absl::Hours(24 * 7));
  EXPECT_DOUBLE_EQ(plan->objectives[0].min_label_coverage, 0.8);
  EXPECT_NE(plan->objectives[0].method.find("judged once label_coverage >= "
                                            "0.8"),
            std::string::npos)
      << plan->objectives[0].method;
  EXPECT_DOUBLE_EQ(plan->objectives[1].min_label_coverage, 0);
  // From the defaults, it is left out where it does not apply.
  EXPECT_DOUBLE_EQ(plan->objectives[2].min_label_coverage, 0);
  // Part of the definition: a different coverage starts the state over.
  EXPECT_NE(plan->objectives[0].hash, plan->objectives[1].hash);

  absl::StatusOr<Plan> defaults = ParsePlan(
      "objectives:\n  - {id: a, metric: accuracy, comparator: "
      "'>=', threshold: 0.9}\n",
      "plan.yaml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->catch_up_horizon, absl::Hours(24 * 30));

  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: accuracy, "
                  "min_label_coverage: 1.5,\n     comparator: '<', "
                  "threshold: 1}\n"),
            "plan.yaml:2:51: objectives[0].min_label_coverage: 1.5 is not a "
            "share: must be in 0..1");
  EXPECT_EQ(Error("objectives:\n  - {id: a, metric: psi, feature: x, "
                  "min_label_coverage: 0.5,\n     comparator: '<', "
                  "threshold: 1}\n"),
            "plan.yaml:2:58: objectives[0].min_label_coverage: applies to "
            "performance metrics (computed from labels) only, not psi");
  EXPECT_EQ(Error("catch_up_horizon: 400d\nobjectives:\n  - {id: a, "
                  "metric: accuracy, comparator: '<', threshold: 1}\n"),
            "plan.yaml:1:19: catch_up_horizon: must be from 0 (no catch-up) "
            "to 366d");
}

}  // namespace
}  // namespace aims::collector
