// Slice objectives in the evaluator: a model fine overall but failing for
// one region raises a nonconformity for that region only, a region with
// too few events for its own minimum sample size has insufficient evidence
// whatever its accuracy, and data-quality objectives are scoped per slice
// too. Real RocksDB in a temp dir, FakeClock, windows folded by the real
// WindowAccumulator.
#include <random>

#include "collector/evaluation/evaluator.h"
#include "collector/evaluation/objective_metrics.h"
#include "gtest/gtest.h"
#include "tests/collector/evaluation/evaluation_stack.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

constexpr char kPlan[] = R"(
coverage: {enabled: false}
defaults: {window: 10s, evaluation_interval: 10s}
objectives:
  - {id: accuracy, metric: accuracy, comparator: ">=", threshold: 0.8}
  - {id: accuracy-per-region, metric: accuracy, slice: region,
     comparator: ">=", threshold: 0.8}
  - {id: age-present-per-region, metric: missing_rate, feature: age,
     slice: region, comparator: "<=", threshold: 0.05}
)";

// `n` labelled events of `region`, each right with probability `accuracy`,
// "age" missing with probability `missing`.
void Fold(WindowAccumulator* acc, const std::string& region, int n,
          double accuracy, double missing, std::mt19937_64* rng) {
  std::bernoulli_distribution right(accuracy), absent(missing);
  for (int i = 0; i < n; ++i) {
    Event e;
    e.prediction.kind = Outcome::Kind::kClass;
    e.prediction.class_label = i % 2 ? "1" : "0";
    e.label.kind = Outcome::Kind::kClass;
    e.label.class_label = right(*rng) == (i % 2 == 1) ? "1" : "0";
    e.attributes = {{"region", region}};
    if (!absent(*rng)) {
      e.features.emplace_back(
          "age", FeatureValue{FeatureValue::Kind::kNumber, 40.0 + i % 9, ""});
    }
    acc->Add(e);
  }
}

// A 10 s window: eu 900 events at 95 % right; us 100 at `us_accuracy`,
// "age" missing from `us_missing` of them; asia 10 events, all wrong.
void Window(Stack& s, FakeClock& clock, double us_accuracy, double us_missing,
            std::mt19937_64* rng) {
  clock.Advance(absl::Seconds(10));
  auto config = std::make_shared<SummaryConfig>();
  config->slice_keys = {"region"};
  WindowAccumulator acc(config);
  Fold(&acc, "eu", 900, 0.95, 0, rng);
  Fold(&acc, "us", 100, us_accuracy, us_missing, rng);
  Fold(&acc, "asia", 10, 0, 0, rng);
  s.Store(clock, "pod-a", ++s.sequence, clock.Now() - absl::Seconds(10),
          clock.Now(), acc.Build());
  s.evaluator->EvaluateDue();
}

std::vector<v1::ObjectiveStatus> Series(Stack& s, const std::string& id) {
  v1::ListObjectiveStatesRequest request;
  request.set_objective_id(id);
  return s.evaluator->States(request);
}

TEST(EvaluatorSliceTest, FailingSliceRaisesItsOwnNonconformity) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kPlan);
  std::mt19937_64 rng(7);
  // An hour of every region (but asia) fine: nothing raised.
  for (int i = 0; i < 360; ++i) Window(s, clock, 0.95, 0, &rng);
  EXPECT_TRUE(s.ncs->List({}).empty());
  // us fails: 40 % right, age missing from a fifth; overall accuracy stays
  // about 0.9.
  int steps = 0;
  while (s.ncs->List({}).size() < 2 && steps < 30) {
    Window(s, clock, 0.4, 0.2, &rng);
    ++steps;
  }
  EXPECT_LE(steps, 5);
  const std::vector<v1::Nonconformity> ncs = s.ncs->List({});
  ASSERT_EQ(ncs.size(), 2u);
  for (const v1::Nonconformity& nc : ncs) {
    SCOPED_TRACE(nc.series());
    EXPECT_EQ(nc.evidence().value().slice(), "region=us");
    EXPECT_EQ(nc.evidence().value().sample_size(), 100u);
    if (nc.objective_id() == "accuracy-per-region") {
      EXPECT_EQ(nc.series(), "credit/v1/prod slice=region=us");
      EXPECT_LT(nc.evidence().value().value(), 0.8);
    } else {
      EXPECT_EQ(nc.objective_id(), "age-present-per-region");
      EXPECT_EQ(nc.series(), "credit/v1/prod feature=age slice=region=us");
      EXPECT_GT(nc.evidence().value().value(), 0.05);
    }
  }
  // The model overall holds.
  EXPECT_EQ(s.State("accuracy").series(), "credit/v1/prod");
  EXPECT_NE(s.State("accuracy").state(), v1::OBJECTIVE_STATE_FIRING);
  EXPECT_GT(s.State("accuracy").last_value().value(), 0.8);
  // One series per region; asia, always wrong, lacks its own 30 samples.
  std::map<std::string, v1::ObjectiveStatus> by_slice;
  for (const v1::ObjectiveStatus& st : Series(s, "accuracy-per-region"))
    by_slice[st.last_value().slice()] = st;
  ASSERT_EQ(by_slice.size(), 3u);
  EXPECT_EQ(by_slice["region=eu"].state(), v1::OBJECTIVE_STATE_INACTIVE);
  EXPECT_EQ(by_slice["region=us"].state(), v1::OBJECTIVE_STATE_FIRING);
  EXPECT_EQ(by_slice["region=asia"].state(),
            v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE);
  EXPECT_EQ(by_slice["region=asia"].last_value().sample_size(), 10u);

  // Prometheus: the slice is a label of each series.
  const std::vector<prometheus::MetricFamily> families =
      ObjectiveMetricFamilies(Series(s, "accuracy-per-region"), nullptr, 100);
  std::set<std::string> slices;
  for (const prometheus::MetricFamily& f : families) {
    if (f.name != "aims_objective_sample_size") continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      for (const auto& label : m.label) {
        if (label.name == "slice") slices.insert(label.value);
      }
    }
  }
  EXPECT_EQ(slices,
            (std::set<std::string>{"region=asia", "region=eu", "region=us"}));
}

// A slice key no window carries (misspelt, or not in the agent's
// --slice_keys) is one series without evidence, never a silent pass.
TEST(EvaluatorSliceTest, UnknownSliceKeyHasInsufficientEvidence) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, R"(
coverage: {enabled: false}
defaults: {window: 10s, evaluation_interval: 10s}
objectives:
  - {id: per-regon, metric: accuracy, slice: regon, comparator: ">=",
     threshold: 0.8}
)");
  std::mt19937_64 rng(1);
  Window(s, clock, 0.95, 0, &rng);
  const v1::ObjectiveStatus st = s.State("per-regon");
  EXPECT_EQ(st.series(), "credit/v1/prod slice=regon");
  EXPECT_EQ(st.state(), v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE);
}

}  // namespace
}  // namespace aims::collector
