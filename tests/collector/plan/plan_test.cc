#include "collector/plan/plan.h"

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

}  // namespace
}  // namespace aims::collector
