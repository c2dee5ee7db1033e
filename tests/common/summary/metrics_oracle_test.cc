// Golden test of the metric engines against scikit-learn, SciPy and NumPy:
// tests/common/summary/oracle/metrics_oracle.py (run by ctest just before this
// test, with Debian's python3) writes seeded data sets and the oracle's values;
// this test folds the same rows into window summaries with the production
// accumulator, computes aims' metrics and compares. Metrics defined on counts
// must agree to 1e-9; ROC AUC is computed on score bins and is compared with
// the oracle's AUC on the same bins (exact) and on raw scores (bound 0.005
// with 100 bins); the drift distances' intervals with the inversion of
// SciPy's noncentral chi-squared (relative 1e-4); the binned Wasserstein
// distance with SciPy's on the raw values, which it must not exceed. The
// table of max abs errors is printed.
#include <cmath>
#include <cstdlib>
#include <map>

#include "common/summary/metric_engine.h"
#include "common/summary/profile_builder.h"
#include "common/summary/statistics.h"
#include "common/summary/window_accumulator.h"
#include "gtest/gtest.h"
#include "simdjson.h"

namespace aims {
namespace {

using simdjson::dom::element;

class Errors {
 public:
  // Records |a - b| (relative for p-values) and checks it against `bound`.
  void Check(const std::string& name, double aims, double oracle, double bound,
             bool relative = false) {
    double err = std::fabs(aims - oracle);
    if (relative && oracle != 0) err /= std::fabs(oracle);
    double& worst = max_[name + (relative ? " (relative)" : "")];
    worst = std::max(worst, err);
    EXPECT_LE(err, bound) << name << ": aims " << aims << " oracle " << oracle;
  }
  ~Errors() {
    std::printf("%-44s %s\n", "metric", "max abs error vs scipy/sklearn");
    for (const auto& [name, err] : max_)
      std::printf("%-44s %.3g\n", name.c_str(), err);
  }

 private:
  std::map<std::string, double> max_;
};

Errors& Table() {
  static Errors* errors = new Errors();
  return *errors;
}

class OracleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* path = std::getenv("AIMS_ORACLE_JSON");
    ASSERT_NE(path, nullptr)
        << "AIMS_ORACLE_JSON is not set (run through ctest)";
    parser_ = new simdjson::dom::parser();
    auto loaded = simdjson::padded_string::load(path);
    ASSERT_EQ(loaded.error(), simdjson::SUCCESS) << "cannot read " << path;
    json_ = new simdjson::padded_string(std::move(loaded.value()));
    ASSERT_EQ(parser_->parse(*json_).get(root_), simdjson::SUCCESS);
  }
  static void TearDownTestSuite() { std::fflush(stdout); }

  static double Expected(const char* set, const char* name) {
    return double(root_[set]["expected"][name]);
  }

  static std::map<std::string, v1::MetricValue> ByName(
      const std::vector<v1::MetricValue>& values) {
    std::map<std::string, v1::MetricValue> out;
    for (const auto& v : values) {
      std::string key = v.metric();
      if (!v.attribute().empty()) key += "/" + v.attribute();
      if (!v.group().empty() && v.metric() != "demographic_parity_difference" &&
          v.metric() != "demographic_parity_ratio" &&
          v.metric().find("_difference") == std::string::npos) {
        key += "/" + v.group();
      }
      out[key] = v;
    }
    return out;
  }

  // The psi, js_distance and hellinger intervals against SciPy's.
  static void CheckIntervals(const char* set, const std::string& prefix,
                             std::map<std::string, v1::MetricValue>& drift) {
    for (const char* name : {"psi", "js_distance", "hellinger"}) {
      element ci = root_[set]["expected"][std::string(name) + "_ci"];
      const v1::MetricValue& v = drift[name];
      Table().Check(prefix + name + " ci (vs scipy ncx2 inversion)", v.ci_low(),
                    double(ci.at(0)), 1e-4, /*relative=*/true);
      Table().Check(prefix + name + " ci (vs scipy ncx2 inversion)",
                    v.ci_high(), double(ci.at(1)), 1e-4, /*relative=*/true);
    }
  }

  static inline simdjson::dom::parser* parser_ = nullptr;
  static inline simdjson::padded_string* json_ = nullptr;
  static inline element root_;
};

TEST_F(OracleTest, BinaryClassificationAndFairness) {
  auto profile = std::make_shared<v1::ReferenceProfile>();
  profile->set_profile_id("oracle");
  for (double e : root_["binary"]["score_edges"].get_array())
    profile->add_score_edges(e);
  auto config = std::make_shared<SummaryConfig>();
  config->profile = profile;
  WindowAccumulator acc(config);
  for (element row : root_["binary"]["rows"].get_array()) {
    Event e;
    e.score = double(row.at(0));
    e.prediction.kind = Outcome::Kind::kNumber;
    e.prediction.number = *e.score >= 0.5 ? 1 : 0;
    e.label.kind = Outcome::Kind::kNumber;
    e.label.number = double(int64_t(row.at(1)));
    e.attributes.emplace_back("gender",
                              std::string(std::string_view(row.at(2))));
    acc.Add(e);
  }
  const v1::WindowSummary summary = acc.Build();
  MetricOptions options;
  auto perf = ByName(PerformanceMetrics(summary, options, absl::Seconds(60)));
  for (const char* name :
       {"accuracy", "precision", "recall", "f1", "precision_macro",
        "recall_macro", "f1_macro", "f1_micro", "precision_weighted",
        "recall_weighted", "f1_weighted", "log_loss", "brier"}) {
    ASSERT_TRUE(perf.count(name)) << name;
    EXPECT_EQ(perf[name].state(), v1::EVIDENCE_STATE_OK) << name;
    Table().Check(std::string("binary.") + name, perf[name].value(),
                  Expected("binary", name), 1e-9);
  }
  Table().Check("binary.roc_auc (same bins)", perf["roc_auc"].value(),
                Expected("binary", "roc_auc_binned"), 1e-9);
  Table().Check("binary.roc_auc (vs raw scores, 100 bins)",
                perf["roc_auc"].value(), Expected("binary", "roc_auc_raw"),
                0.005);

  options.min_group_size = 30;
  auto fair = ByName(FairnessMetrics(summary, options));
  for (const char* name :
       {"demographic_parity_difference", "demographic_parity_ratio",
        "equal_opportunity_difference", "equalized_odds_difference",
        "predictive_parity_difference"}) {
    const std::string key = std::string(name) + "/gender";
    ASSERT_TRUE(fair.count(key)) << key;
    EXPECT_EQ(fair[key].state(), v1::EVIDENCE_STATE_OK);
    Table().Check(std::string("fairness.") + name, fair[key].value(),
                  Expected("binary", name), 1e-9);
  }
  for (const char* g : {"f", "m"}) {
    const v1::MetricValue& sel =
        fair[std::string("selection_rate/gender/") + g];
    element oracle = root_["binary"]["groups"][g];
    Table().Check("fairness.selection_rate", sel.value(),
                  double(oracle["selection_rate"]), 1e-9);
    Table().Check("fairness.selection_rate wilson ci", sel.ci_low(),
                  double(oracle["selection_ci"].at(0)), 1e-9);
    Table().Check("fairness.selection_rate wilson ci", sel.ci_high(),
                  double(oracle["selection_ci"].at(1)), 1e-9);
  }
  // The 12-event group is below the minimum: explicit, not a number.
  const v1::MetricValue& tiny = fair["selection_rate/gender/x"];
  EXPECT_EQ(tiny.state(), v1::EVIDENCE_STATE_INSUFFICIENT);
  EXPECT_TRUE(std::isnan(tiny.value()));
  EXPECT_EQ(tiny.sample_size(), 12u);
}

// The binary rows sliced by gender (an attribute as slice key): each slice
// value's metrics against scikit-learn on that value's rows alone; the
// 12-row value is below its own minimum.
TEST_F(OracleTest, PerSliceMetrics) {
  auto profile = std::make_shared<v1::ReferenceProfile>();
  profile->set_profile_id("oracle");
  for (double e : root_["binary"]["score_edges"].get_array())
    profile->add_score_edges(e);
  auto config = std::make_shared<SummaryConfig>();
  config->profile = profile;
  config->slice_keys = {"gender"};
  WindowAccumulator acc(config);
  for (element row : root_["binary"]["rows"].get_array()) {
    Event e;
    e.score = double(row.at(0));
    e.prediction.kind = Outcome::Kind::kNumber;
    e.prediction.number = *e.score >= 0.5 ? 1 : 0;
    e.label.kind = Outcome::Kind::kNumber;
    e.label.number = double(int64_t(row.at(1)));
    e.attributes.emplace_back("gender",
                              std::string(std::string_view(row.at(2))));
    acc.Add(e);
  }
  const v1::WindowSummary summary = acc.Build();
  MetricOptions options;
  std::map<std::string, v1::MetricValue> values;
  for (const v1::MetricValue& v : SliceMetrics(summary, profile.get(), options))
    values[v.slice() + "/" + v.metric()] = v;
  for (const char* g : {"f", "m"}) {
    element oracle = root_["binary"]["slices"][g];
    for (const char* name :
         {"accuracy", "f1", "recall", "log_loss", "brier", "roc_auc"}) {
      const std::string key = std::string("gender=") + g + "/" + name;
      ASSERT_TRUE(values.count(key)) << key;
      EXPECT_EQ(values[key].state(), v1::EVIDENCE_STATE_OK) << key;
      Table().Check(std::string("slice.") + name, values[key].value(),
                    double(oracle[name]), 1e-9);
    }
    EXPECT_EQ(values[std::string("gender=") + g + "/accuracy"].sample_size(),
              uint64_t(int64_t(oracle["n"])));
  }
  const v1::MetricValue& tiny = values["gender=x/accuracy"];
  EXPECT_EQ(tiny.state(), v1::EVIDENCE_STATE_INSUFFICIENT);
  EXPECT_EQ(tiny.sample_size(), 12u);
}

TEST_F(OracleTest, MultiClass) {
  auto config = std::make_shared<SummaryConfig>();
  config->task = v1::TASK_TYPE_MULTICLASS;
  WindowAccumulator acc(config);
  std::vector<std::string> classes;
  for (std::string_view c : root_["multiclass"]["classes"].get_array())
    classes.emplace_back(c);
  for (element row : root_["multiclass"]["rows"].get_array()) {
    Event e;
    e.prediction.kind = Outcome::Kind::kClass;
    e.prediction.class_label = std::string(std::string_view(row.at(0)));
    e.label.kind = Outcome::Kind::kClass;
    e.label.class_label = std::string(std::string_view(row.at(1)));
    for (size_t c = 0; c < classes.size(); ++c) {
      e.probabilities.emplace_back(classes[c], double(row.at(2 + c)));
    }
    acc.Add(e);
  }
  MetricOptions options;
  options.task = v1::TASK_TYPE_MULTICLASS;
  auto perf =
      ByName(PerformanceMetrics(acc.Build(), options, absl::Seconds(60)));
  for (const char* name :
       {"accuracy", "precision_macro", "recall_macro", "f1_macro", "f1_micro",
        "precision_weighted", "recall_weighted", "f1_weighted", "log_loss",
        "brier"}) {
    ASSERT_TRUE(perf.count(name)) << name;
    Table().Check(std::string("multiclass.") + name, perf[name].value(),
                  Expected("multiclass", name), 1e-9);
  }
}

TEST_F(OracleTest, Regression) {
  auto config = std::make_shared<SummaryConfig>();
  config->task = v1::TASK_TYPE_REGRESSION;
  WindowAccumulator acc(config);
  for (element row : root_["regression"]["rows"].get_array()) {
    Event e;
    e.prediction.kind = Outcome::Kind::kNumber;
    e.prediction.number = double(row.at(0));
    e.label.kind = Outcome::Kind::kNumber;
    e.label.number = double(row.at(1));
    acc.Add(e);
  }
  MetricOptions options;
  options.task = v1::TASK_TYPE_REGRESSION;
  auto perf =
      ByName(PerformanceMetrics(acc.Build(), options, absl::Seconds(60)));
  for (const char* name : {"mae", "rmse", "r2", "mape"}) {
    Table().Check(std::string("regression.") + name, perf[name].value(),
                  Expected("regression", name), 1e-9);
  }
}

TEST_F(OracleTest, NumericDrift) {
  element set = root_["drift_numeric"];
  auto profile = std::make_shared<v1::ReferenceProfile>();
  profile->set_profile_id("oracle");
  v1::FeatureProfile* x = profile->add_features();
  x->set_name("x");
  x->set_kind(v1::FeatureProfile::KIND_NUMERIC);
  for (double e : set["edges"].get_array()) x->add_edges(e);
  for (int64_t c : set["reference_counts"].get_array()) {
    x->mutable_reference_counts()->add_counts(c);
  }
  x->set_stddev(double(set["stddev"]));
  x->set_mean(double(set["mean"]));
  x->set_min(double(set["min"]));
  x->set_max(double(set["max"]));
  auto config = std::make_shared<SummaryConfig>();
  config->profile = profile;
  WindowAccumulator acc(config);
  for (double v : set["current"].get_array()) {
    Event e;
    e.features.emplace_back("x",
                            FeatureValue{FeatureValue::Kind::kNumber, v, ""});
    acc.Add(e);
  }
  auto drift = ByName(DriftMetrics(acc.Build(), *profile, MetricOptions()));
  for (const char* name : {"psi", "js_distance", "hellinger", "chi_squared",
                           "ks_statistic", "wasserstein_norm"}) {
    ASSERT_TRUE(drift.count(name)) << name;
    Table().Check(std::string("drift.numeric.") + name, drift[name].value(),
                  Expected("drift_numeric", name), 1e-9);
  }
  Table().Check("drift.numeric.chi_squared p", drift["chi_squared"].p_value(),
                Expected("drift_numeric", "chi_squared_p"), 1e-6,
                /*relative=*/true);
  Table().Check("drift.numeric.ks p", drift["ks_statistic"].p_value(),
                Expected("drift_numeric", "ks_p"), 1e-6, /*relative=*/true);
  CheckIntervals("drift_numeric", "drift.numeric.", drift);
  // What binning costs against the raw-value statistics (documented bounds).
  Table().Check("drift.numeric.ks_statistic (vs raw values, 11 bins)",
                drift["ks_statistic"].value(),
                double(set["raw"]["ks_statistic_raw"]), 0.02);
  Table().Check("drift.numeric.wasserstein_norm (vs raw values, 11 bins)",
                drift["wasserstein_norm"].value(),
                double(set["raw"]["wasserstein_norm_raw"]), 0.05);
  EXPECT_LE(drift["wasserstein_norm"].value(),
            double(set["raw"]["wasserstein_norm_raw"]));
  // PSI 0.118 from 3000 values: its low end (0.084) does not show an effect
  // above the 0.1 minimum.
  EXPECT_EQ(drift["drifted_feature_share"].value(), 0.0);
  EXPECT_EQ(drift["drifted_feature_share"].sample_size(), 1u);
}

TEST_F(OracleTest, CategoricalDrift) {
  element set = root_["drift_categorical"];
  auto profile = std::make_shared<v1::ReferenceProfile>();
  profile->set_profile_id("oracle");
  v1::FeatureProfile* region = profile->add_features();
  region->set_name("region");
  region->set_kind(v1::FeatureProfile::KIND_CATEGORICAL);
  for (std::string_view c : set["categories"].get_array())
    region->add_categories(std::string(c));
  for (int64_t c : set["reference_counts"].get_array()) {
    region->mutable_reference_counts()->add_counts(c);
  }
  auto config = std::make_shared<SummaryConfig>();
  config->profile = profile;
  WindowAccumulator acc(config);
  for (std::string_view v : set["current"].get_array()) {
    Event e;
    e.features.emplace_back(
        "region",
        FeatureValue{FeatureValue::Kind::kCategory, 0, std::string(v)});
    acc.Add(e);
  }
  auto drift = ByName(DriftMetrics(acc.Build(), *profile, MetricOptions()));
  for (const char* name : {"psi", "js_distance", "hellinger", "chi_squared"}) {
    Table().Check(std::string("drift.categorical.") + name, drift[name].value(),
                  Expected("drift_categorical", name), 1e-9);
  }
  Table().Check(
      "drift.categorical.chi_squared p", drift["chi_squared"].p_value(),
      Expected("drift_categorical", "chi_squared_p"), 1e-6, /*relative=*/true);
  CheckIntervals("drift_categorical", "drift.categorical.", drift);
  EXPECT_EQ(drift.count("ks_statistic"), 0u);
}

// A plain 0.5 sigma shift of a normal feature, the profile built by aims'
// ProfileBuilder from 20,000 reference rows: the binned Wasserstein distance
// against SciPy's on the raw values (the midpoint estimate it replaces
// overstated it by a fifth).
TEST_F(OracleTest, ShiftedNormalWasserstein) {
  element set = root_["drift_shift"];
  ProfileBuilder builder((ProfileBuildOptions()));
  for (double v : set["reference"].get_array()) {
    Event e;
    e.features.emplace_back("x",
                            FeatureValue{FeatureValue::Kind::kNumber, v, ""});
    builder.Add(e);
  }
  absl::StatusOr<v1::ReferenceProfile> built =
      builder.Build(v1::ModelRef(), v1::PROFILE_SOURCE_TRAINING_DATA, "");
  ASSERT_TRUE(built.ok()) << built.status();
  auto profile = std::make_shared<v1::ReferenceProfile>(*std::move(built));
  auto config = std::make_shared<SummaryConfig>();
  config->profile = profile;
  WindowAccumulator acc(config);
  for (double v : set["current"].get_array()) {
    Event e;
    e.features.emplace_back("x",
                            FeatureValue{FeatureValue::Kind::kNumber, v, ""});
    acc.Add(e);
  }
  auto drift = ByName(DriftMetrics(acc.Build(), *profile, MetricOptions()));
  for (const char* name : {"psi", "js_distance", "hellinger", "ks_statistic",
                           "wasserstein_norm"}) {
    ASSERT_TRUE(drift.count(name)) << name;
    Table().Check(std::string("drift.shift.") + name, drift[name].value(),
                  Expected("drift_shift", name), 1e-9);
  }
  CheckIntervals("drift_shift", "drift.shift.", drift);
  const double raw = double(set["raw"]["wasserstein_norm_raw"]);
  const v1::MetricValue& w = drift["wasserstein_norm"];
  Table().Check("drift.shift.wasserstein_norm (vs raw values, 11 bins)",
                w.value(), raw, 0.01);
  std::printf(
      "0.5 sigma shift, wasserstein_norm: aims %.4f [%.4f, %.4f], "
      "scipy on raw values %.4f, bin midpoints (before) %.4f\n",
      w.value(), w.ci_low(), w.ci_high(), raw,
      double(set["raw"]["wasserstein_norm_midpoints"]));
  EXPECT_LE(w.ci_low(), raw);
  EXPECT_GE(w.ci_high(), raw);
  EXPECT_EQ(drift["drifted_feature_share"].value(), 1.0);
}

TEST_F(OracleTest, MultipleTestingCorrections) {
  std::vector<double> p;
  for (double v : root_["multiple_testing"]["p"].get_array()) p.push_back(v);
  const std::vector<double> bh = BenjaminiHochbergAdjust(p);
  const std::vector<double> bonferroni = BonferroniAdjust(p);
  size_t i = 0;
  for (double v : root_["multiple_testing"]["bh"].get_array()) {
    Table().Check("benjamini_hochberg", bh[i++], v, 1e-12);
  }
  i = 0;
  for (double v : root_["multiple_testing"]["bonferroni"].get_array()) {
    Table().Check("bonferroni", bonferroni[i++], v, 1e-12);
  }
}

}  // namespace
}  // namespace aims

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const int result = RUN_ALL_TESTS();
  aims::Table().~Errors();  // print the table
  return result;
}
