// Oracle test of the central label join against scikit-learn:
// tests/collector/labels/oracle/late_labels_oracle.py (run by ctest just
// before this test) writes windows of predictions, a stream of delayed label
// deliveries over two days (some before their prediction's report, some
// repeated, some corrected) and sklearn's accuracy of each window over its
// predictions with their last label. This test plays the stream through the
// real join and storage on a FakeClock, flushing in batches as the
// collector's loop does, and checks that each window's accuracy, from the
// merged summary of the window as queries read it, equals sklearn's.
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/labels/label_join.h"
#include "collector/storage/rocks_storage.h"
#include "common/base/time_util.h"
#include "common/summary/metric_engine.h"
#include "common/summary/summary_merge.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'040);

TEST(LateLabelsOracleTest, PerWindowAccuracyEqualsSklearnAtPredictionTime) {
  const char* path = std::getenv("AIMS_LATE_LABELS_ORACLE_JSON");
  ASSERT_NE(path, nullptr)
      << "AIMS_LATE_LABELS_ORACLE_JSON is not set (run through ctest)";
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto loaded = simdjson::padded_string::load(path);
  ASSERT_EQ(loaded.error(), simdjson::SUCCESS) << "cannot read " << path;
  simdjson::padded_string json = std::move(loaded.value());
  ASSERT_EQ(parser.parse(json).get(root), simdjson::SUCCESS);

  testing::TempDir dir;
  FakeClock clock(kT0);
  RocksStorageOptions storage_options;
  storage_options.path = dir.path();
  storage_options.sync_writes = false;
  auto storage = RocksStorage::Open(storage_options);
  ASSERT_TRUE(storage.ok()) << storage.status();
  v1::ModelRef model;
  model.set_name("triage");
  model.set_version("v2");
  model.set_environment("prod");
  v1::Hello hello;
  hello.mutable_agent()->set_agent_id("a1");
  *hello.mutable_model() = model;
  hello.set_protocol_version(1);
  ASSERT_TRUE((*storage)->RegisterAgent(hello, clock.Now()).ok());
  auto join =
      LabelJoin::Open(storage->get(), &clock, LabelJoinOptions(), nullptr);
  ASSERT_TRUE(join.ok()) << join.status();

  // The reports, in order of their arrival time.
  simdjson::dom::array windows = root["windows"];
  simdjson::dom::array reports_at = root["reports_at"];
  std::vector<v1::WindowReport> reports;
  int w = 0;
  for (simdjson::dom::array preds : windows) {
    v1::WindowReport r;
    r.set_agent_id("a1");
    r.set_sequence(w + 1);
    const absl::Time start = kT0 + absl::Minutes(w);
    *r.mutable_window_start() = ToProto(start);
    *r.mutable_window_end() = ToProto(start + absl::Minutes(1));
    uint64_t n = 0;
    for (simdjson::dom::object p : preds) {
      v1::PendingPrediction* pp = r.add_predictions();
      pp->set_prediction_id(std::string(std::string_view(p["id"])));
      *pp->mutable_predicted_at() = ToProto(start + absl::Milliseconds(n));
      pp->mutable_prediction()->set_class_label(
          std::string(std::string_view(p["prediction"])));
      ++n;
    }
    r.mutable_summary()->mutable_operational()->set_event_count(n);
    reports.push_back(std::move(r));
    ++w;
  }
  size_t next_report = 0;
  auto send_reports_until = [&](double t) {
    while (next_report < reports.size() &&
           double(reports_at.at(next_report)) <= t) {
      clock.Set(kT0 + absl::Seconds(double(reports_at.at(next_report))));
      EncodedReport encoded = EncodeReport(reports[next_report]);
      std::vector<EncodedReport*> batch = {&encoded};
      std::vector<WriteOutcome> outcomes;
      ASSERT_TRUE((*join)->WriteReports(batch, clock.Now(), &outcomes).ok());
      ASSERT_EQ(outcomes[0], WriteOutcome::kStored);
      ++next_report;
    }
  };
  int delivered = 0;
  for (simdjson::dom::array d : simdjson::dom::array(root["deliveries"])) {
    const double t = double(d.at(0));
    send_reports_until(t);
    clock.Set(kT0 + absl::Seconds(t));
    LabelEvent label;
    label.prediction_id = std::string(std::string_view(d.at(1)));
    label.label.kind = Outcome::Kind::kClass;
    label.label.class_label = std::string(std::string_view(d.at(2)));
    ASSERT_TRUE((*join)->Submit(model, {label}, clock.Now()).ok());
    // The collector's loop flushes about once a second; here every 37
    // labels, so windows are recomputed while their labels still arrive.
    if (++delivered % 37 == 0) ASSERT_TRUE((*join)->Flush().ok());
  }
  send_reports_until(1e18);
  ASSERT_TRUE((*join)->Flush().ok());
  EXPECT_EQ((*join)->counts().pending, 0u);

  MetricOptions options;
  options.task = v1::TASK_TYPE_MULTICLASS;
  options.min_labelled = 1;
  simdjson::dom::array expected = root["expected"];
  for (size_t i = 0; i < reports.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("window ", i));
    const absl::Time start = kT0 + absl::Minutes(static_cast<int64_t>(i));
    SummaryMerger merger;
    ASSERT_TRUE((*storage)
                    ->MergeReports(model, start, start + absl::Minutes(1),
                                   &merger, nullptr)
                    .ok());
    const v1::WindowSummary& s = merger.result();
    EXPECT_EQ(s.performance().labelled_count(),
              uint64_t(expected.at(i)["labelled"]));
    double accuracy = -1;
    for (const v1::MetricValue& v :
         PerformanceMetrics(s, options, absl::Minutes(1))) {
      if (v.metric() == "accuracy") accuracy = v.value();
    }
    EXPECT_NEAR(accuracy, double(expected.at(i)["accuracy"]), 1e-12);
  }
}

}  // namespace
}  // namespace aims::collector
