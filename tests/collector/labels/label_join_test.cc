#include "collector/labels/label_join.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/storage/rocks_storage.h"
#include "common/base/time_util.h"
#include "common/summary/quantile_sketch.h"
#include "common/summary/summary_merge.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

v1::ModelRef Model() {
  v1::ModelRef m;
  m.set_name("credit");
  m.set_version("v1");
  m.set_environment("prod");
  return m;
}

LabelEvent Label(const std::string& id, const std::string& cls,
                 absl::Time at = absl::InfinitePast()) {
  LabelEvent l;
  l.prediction_id = id;
  l.label.kind = Outcome::Kind::kClass;
  l.label.class_label = cls;
  l.timestamp = at;
  return l;
}

// A report of agent a1 for [start, start + 60 s) with one join record per
// (prediction_id, predicted class).
v1::WindowReport Report(uint64_t seq, absl::Time start,
                        std::vector<std::pair<std::string, std::string>> preds,
                        std::vector<LabelEvent> forwarded = {}) {
  v1::WindowReport r;
  r.set_agent_id("a1");
  r.set_sequence(seq);
  *r.mutable_window_start() = ToProto(start);
  *r.mutable_window_end() = ToProto(start + absl::Seconds(60));
  r.mutable_summary()->mutable_operational()->set_event_count(preds.size());
  r.mutable_summary()->mutable_operational()->set_labels_awaited(preds.size());
  for (const auto& [id, cls] : preds) {
    v1::PendingPrediction* p = r.add_predictions();
    p->set_prediction_id(id);
    *p->mutable_predicted_at() = ToProto(start + absl::Seconds(1));
    p->mutable_prediction()->set_class_label(cls);
    (*p->mutable_groups())["gender"] = "f";
  }
  for (const LabelEvent& l : forwarded) {
    v1::LabelEvent* e = r.add_labels();
    e->set_prediction_id(l.prediction_id);
    e->mutable_label()->set_class_label(l.label.class_label);
    if (l.timestamp != absl::InfinitePast()) {
      *e->mutable_timestamp() = ToProto(l.timestamp);
    }
  }
  return r;
}

class LabelJoinTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    RocksStorageOptions options;
    options.path = dir_.path();
    options.sync_writes = false;
    auto storage = RocksStorage::Open(options);
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_ = std::move(*storage);
    v1::Hello hello;
    hello.mutable_agent()->set_agent_id("a1");
    *hello.mutable_model() = Model();
    hello.set_protocol_version(1);
    ASSERT_TRUE(storage_->RegisterAgent(hello, clock_.Now()).ok());
    // A registry per join: a reopened join registers its families anew.
    join_.reset();
    registry_ = std::make_shared<prometheus::Registry>();
    auto join =
        LabelJoin::Open(storage_.get(), &clock_, options_, registry_.get());
    ASSERT_TRUE(join.ok()) << join.status();
    join_ = std::move(*join);
  }

  void Reopen() {
    join_.reset();
    storage_.reset();
    Open();
  }

  std::vector<WriteOutcome> Write(const v1::WindowReport& report) {
    EncodedReport encoded = EncodeReport(report);
    std::vector<EncodedReport*> reports = {&encoded};
    std::vector<WriteOutcome> outcomes;
    EXPECT_TRUE(join_->WriteReports(reports, clock_.Now(), &outcomes).ok());
    return outcomes;
  }

  void Submit(std::vector<LabelEvent> labels) {
    v1::ModelRef model = Model();
    model.clear_version();  // a label names a prediction, not a version
    ASSERT_TRUE(join_->Submit(model, labels, clock_.Now()).ok());
  }

  // The label report of the window starting at `start`, if any.
  std::optional<v1::WindowReport> LabelReport(absl::Time start) {
    std::optional<v1::WindowReport> found;
    EXPECT_TRUE(storage_
                    ->ScanReports(Model(), start, start + absl::Seconds(1),
                                  [&](const StoredReport& s) {
                                    if (s.report.agent_id() ==
                                        kLabelReportAgent) {
                                      found = s.report;
                                    }
                                    return true;
                                  })
                    .ok());
    return found;
  }

  // A series of the join's metrics, as /metrics exposes it.
  double Metric(const std::string& series) {
    return testing::MetricValue(
        prometheus::TextSerializer().Serialize(registry_->Collect()), series);
  }

  // Correct predictions of a confusion matrix.
  static uint64_t Correct(const v1::WindowSummary& s) {
    const auto& c = s.performance().confusion();
    const int n = c.classes_size();
    uint64_t correct = 0;
    for (int i = 0; i < n; ++i) correct += c.counts(i * n + i);
    return correct;
  }

  testing::TempDir dir_;
  FakeClock clock_{kT0 + absl::Minutes(5)};
  LabelJoinOptions options_;
  std::unique_ptr<RocksStorage> storage_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<LabelJoin> join_;
};

TEST_F(LabelJoinTest, RecordThenLabelCreditsThePredictionsWindow) {
  ASSERT_EQ(Write(Report(1, kT0, {{"p1", "1"}, {"p2", "0"}}))[0],
            WriteOutcome::kStored);
  EXPECT_EQ(join_->counts().records, 2u);
  // The stored report keeps no join records.
  storage_->ScanReports(
      Model(), kT0, kT0 + absl::Seconds(1), [](const StoredReport& s) {
        EXPECT_EQ(s.report.predictions_size(), 0);
        EXPECT_EQ(s.report.summary().operational().labels_awaited(), 2u);
        return true;
      });
  clock_.Advance(absl::Hours(3));
  Submit({Label("p1", "1")});
  EXPECT_EQ(join_->counts().joins, 1u);
  EXPECT_FALSE(LabelReport(kT0).has_value());  // not before the flush
  ASSERT_EQ(*join_->Flush(), 1);
  std::optional<v1::WindowReport> r = LabelReport(kT0);
  ASSERT_TRUE(r.has_value());
  const v1::WindowSummary& s = r->summary();
  EXPECT_EQ(s.performance().labelled_count(), 1u);
  EXPECT_EQ(Correct(s), 1u);
  EXPECT_EQ(s.operational().labels_matched(), 1u);
  EXPECT_EQ(s.operational().labels_late(), 1u);
  EXPECT_EQ(s.operational().event_count(), 0u);
  // The delay is measured from the prediction (t0 + 1 s) to the label.
  EXPECT_NEAR(QuantileSketch::FromProto(s.operational().label_delay_seconds())
                  ->Quantile(0.5),
              absl::ToDoubleSeconds(absl::Hours(3) + absl::Minutes(5) -
                                    absl::Seconds(1)),
              0.02 * 3 * 3600);
  ASSERT_EQ(s.attributes_size(), 1);
  EXPECT_EQ(s.attributes(0).groups(0).labelled(), 1u);
  // A merge of the window (as queries read it) includes it.
  SummaryMerger merger;
  ASSERT_TRUE(
      storage_
          ->MergeReports(Model(), kT0, kT0 + absl::Minutes(1), &merger, nullptr)
          .ok());
  EXPECT_EQ(merger.result().performance().labelled_count(), 1u);
  EXPECT_EQ(merger.result().operational().event_count(), 2u);
}

TEST_F(LabelJoinTest, PendingLabelJoinsWhenItsRecordArrives) {
  Submit({Label("p1", "0")});
  EXPECT_EQ(join_->counts().pending, 1u);
  EXPECT_EQ(join_->counts().joins, 0u);
  Write(Report(1, kT0, {{"p1", "1"}}));
  EXPECT_EQ(join_->counts().pending, 0u);
  EXPECT_EQ(join_->counts().joins, 1u);
  ASSERT_EQ(*join_->Flush(), 1);
  std::optional<v1::WindowReport> r = LabelReport(kT0);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->summary().performance().labelled_count(), 1u);
  EXPECT_EQ(Correct(r->summary()), 0u);  // predicted 1, truly 0
}

TEST_F(LabelJoinTest, ForwardedLabelsJoinLikePostedOnes) {
  Write(Report(1, kT0, {{"p1", "1"}}));
  // The other replica forwards the label in its next report.
  Write(Report(2, kT0 + absl::Minutes(1), {}, {Label("p1", "1")}));
  ASSERT_EQ(*join_->Flush(), 1);
  ASSERT_TRUE(LabelReport(kT0).has_value());
  EXPECT_EQ(LabelReport(kT0)->summary().performance().labelled_count(), 1u);
  EXPECT_FALSE(LabelReport(kT0 + absl::Minutes(1)).has_value());
}

// An agent forwards a label that came while its prediction's window was open
// in the window's report, beside the prediction's join record (and a
// correction in the window beside it): the join pairs them in the same
// batch, whatever their order, counts each prediction once with its latest
// label, not late; a correction after the window replaces it.
TEST_F(LabelJoinTest, ReportCarriesRecordsAndTheirInWindowLabels) {
  Write(Report(1, kT0, {{"p1", "1"}, {"p2", "0"}},
               {Label("p1", "0", kT0 + absl::Seconds(10)),
                Label("p2", "0", kT0 + absl::Seconds(15)),
                Label("p1", "1", kT0 + absl::Seconds(20))}));
  LabelJoinCounts c = join_->counts();
  EXPECT_EQ(c.records, 2u);
  EXPECT_EQ(c.pending, 0u);
  EXPECT_EQ(c.joins, 2u);
  EXPECT_EQ(c.corrections, 1u);
  ASSERT_EQ(*join_->Flush(), 1);
  v1::WindowSummary s = LabelReport(kT0)->summary();
  EXPECT_EQ(s.performance().labelled_count(), 2u);
  EXPECT_EQ(Correct(s), 2u);  // p1 with its corrected label
  EXPECT_EQ(s.operational().labels_matched(), 2u);
  EXPECT_EQ(s.operational().labels_late(), 0u);  // known in the window
  // Merged as queries read it: two predictions, both awaited, both
  // labelled once (coverage 1).
  SummaryMerger merger;
  ASSERT_TRUE(
      storage_
          ->MergeReports(Model(), kT0, kT0 + absl::Minutes(1), &merger, nullptr)
          .ok());
  EXPECT_EQ(merger.result().operational().event_count(), 2u);
  EXPECT_EQ(merger.result().operational().labels_awaited(), 2u);
  EXPECT_EQ(merger.result().performance().labelled_count(), 2u);

  // A correction posted after the window (the clock is at t0 + 5 min).
  Submit({Label("p2", "1")});
  EXPECT_EQ(join_->counts().corrections, 2u);
  ASSERT_EQ(*join_->Flush(), 1);
  s = LabelReport(kT0)->summary();
  EXPECT_EQ(s.performance().labelled_count(), 2u);
  EXPECT_EQ(Correct(s), 1u);
  EXPECT_EQ(s.operational().labels_matched(), 2u);
  EXPECT_EQ(s.operational().labels_late(), 1u);
}

// A correction posted to the collector while the window is open reaches the
// join before the agent's report with the earlier label: the earlier label
// (by timestamp) does not replace it, pending or joined.
TEST_F(LabelJoinTest, OlderLabelDoesNotReplaceANewerOne) {
  Submit({Label("p1", "0", kT0 + absl::Seconds(40))});
  Write(Report(1, kT0, {{"p1", "1"}},
               {Label("p1", "1", kT0 + absl::Seconds(10))}));
  EXPECT_EQ(join_->counts().stale, 1u);
  const absl::Time w1 = kT0 + absl::Minutes(1);
  Write(Report(2, w1, {{"p2", "1"}}));
  Submit({Label("p2", "0", w1 + absl::Seconds(50))});
  Write(Report(3, kT0 + absl::Minutes(2), {},
               {Label("p2", "1", w1 + absl::Seconds(20))}));
  EXPECT_EQ(join_->counts().stale, 2u);
  EXPECT_EQ(join_->counts().corrections, 0u);
  ASSERT_EQ(*join_->Flush(), 2);
  for (absl::Time start : {kT0, w1}) {
    const v1::WindowSummary s = LabelReport(start)->summary();
    EXPECT_EQ(s.performance().labelled_count(), 1u);
    EXPECT_EQ(Correct(s), 0u);  // predicted 1, truly 0 (the newer label)
  }
}

TEST_F(LabelJoinTest, LabelPostedTwiceCountsOnce) {
  Write(Report(1, kT0, {{"p1", "1"}}));
  Submit({Label("p1", "1")});
  ASSERT_EQ(*join_->Flush(), 1);
  Submit({Label("p1", "1")});
  EXPECT_EQ(join_->counts().repeated, 1u);
  EXPECT_EQ(*join_->Flush(), 0);  // nothing changed
  EXPECT_EQ(LabelReport(kT0)->summary().performance().labelled_count(), 1u);
  EXPECT_EQ(LabelReport(kT0)->summary().operational().labels_matched(), 1u);
}

TEST_F(LabelJoinTest, CorrectionReplacesTheEarlierLabel) {
  Write(Report(1, kT0, {{"p1", "1"}, {"p2", "1"}}));
  Submit({Label("p1", "1"), Label("p2", "1")});
  ASSERT_EQ(*join_->Flush(), 1);
  EXPECT_EQ(Correct(LabelReport(kT0)->summary()), 2u);
  Submit({Label("p2", "0")});
  EXPECT_EQ(join_->counts().corrections, 1u);
  ASSERT_EQ(*join_->Flush(), 1);
  const v1::WindowSummary s = LabelReport(kT0)->summary();
  EXPECT_EQ(s.performance().labelled_count(), 2u);
  EXPECT_EQ(Correct(s), 1u);
  EXPECT_EQ(s.operational().labels_matched(), 2u);
  SummaryMerger merger;
  ASSERT_TRUE(
      storage_
          ->MergeReports(Model(), kT0, kT0 + absl::Minutes(1), &merger, nullptr)
          .ok());
  EXPECT_EQ(merger.result().performance().labelled_count(), 2u);
}

TEST_F(LabelJoinTest, DuplicateReportAddsNoRecords) {
  const v1::WindowReport report = Report(1, kT0, {{"p1", "1"}, {"p2", "0"}});
  EXPECT_EQ(Write(report)[0], WriteOutcome::kStored);
  const LabelJoinCounts before = join_->counts();
  EXPECT_EQ(Write(report)[0], WriteOutcome::kDuplicate);
  EXPECT_EQ(join_->counts().records, before.records);
  EXPECT_EQ(join_->counts().bytes, before.bytes);
}

TEST_F(LabelJoinTest, TtlEvictsAWindowAndCountsItsUnlabelledPredictions) {
  Write(Report(1, kT0, {{"p1", "1"}, {"p2", "0"}, {"p3", "0"}}));
  Submit({Label("p1", "1"), Label("unknown", "1")});
  ASSERT_EQ(*join_->Flush(), 1);
  clock_.Advance(options_.ttl - absl::Minutes(10));
  EXPECT_EQ(*join_->Expire(clock_.Now()), 0);  // not yet
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(*join_->Expire(clock_.Now()), 1);
  const LabelJoinCounts c = join_->counts();
  EXPECT_EQ(c.records, 0u);
  EXPECT_EQ(c.evicted, 2u);
  EXPECT_EQ(c.pending, 0u);
  EXPECT_EQ(c.unmatched, 1u);
  EXPECT_EQ(c.bytes, 0u);
  const v1::WindowSummary s = LabelReport(kT0)->summary();
  EXPECT_EQ(s.operational().labels_evicted(), 2u);
  EXPECT_EQ(s.performance().labelled_count(), 1u);  // the credit stays
  // A label for an evicted prediction waits, and never joins.
  Submit({Label("p2", "0")});
  EXPECT_EQ(join_->counts().pending, 1u);
  EXPECT_EQ(*join_->Flush(), 0);
}

TEST_F(LabelJoinTest, ByteBoundEvictsTheOldestWindowFirst) {
  options_.max_bytes = 1;  // anything is too much
  Reopen();
  Write(Report(1, kT0, {{"old", "1"}}));
  Write(Report(2, kT0 + absl::Minutes(1), {{"new", "1"}}));
  EXPECT_EQ(*join_->Expire(clock_.Now()), 2);
  EXPECT_EQ(join_->counts().evicted, 2u);
  EXPECT_EQ(LabelReport(kT0)->summary().operational().labels_evicted(), 1u);
  options_.max_bytes = uint64_t{1} << 30;
  Reopen();
  Write(Report(3, kT0 + absl::Minutes(2), {{"a", "1"}}));
  Write(Report(4, kT0 + absl::Minutes(3), {{"b", "1"}}));
  const uint64_t per_window = join_->counts().bytes / 2;
  options_.max_bytes = per_window + per_window / 2;
  Reopen();
  EXPECT_EQ(*join_->Expire(clock_.Now()), 1);
  ASSERT_TRUE(LabelReport(kT0 + absl::Minutes(2)).has_value());
  EXPECT_FALSE(LabelReport(kT0 + absl::Minutes(3)).has_value());
  EXPECT_EQ(join_->counts().records, 1u);
}

TEST_F(LabelJoinTest, ByteBoundDropsTheOldestPendingLabelsBeforeRecords) {
  Write(Report(1, kT0, {{"p1", "1"}, {"p2", "0"}}));
  const uint64_t record_bytes = join_->counts().bytes;
  ASSERT_GT(record_bytes, 0u);
  // A flood of labels for predictions that never come, well over a bound
  // that the records alone fit in.
  std::vector<LabelEvent> flood;
  for (int i = 0; i < 200; ++i)
    flood.push_back(Label(absl::StrCat("x", i), "1"));
  Submit(flood);
  clock_.Advance(absl::Seconds(1));
  Submit({Label("newest", "0")});
  ASSERT_EQ(join_->counts().pending, 201u);
  options_.max_bytes = record_bytes + join_->counts().bytes / 201 * 20;
  Reopen();
  EXPECT_EQ(*join_->Expire(clock_.Now()), 0);  // no window evicted
  const LabelJoinCounts c = join_->counts();
  EXPECT_EQ(c.records, 2u);
  EXPECT_EQ(c.evicted, 0u);
  EXPECT_LE(c.bytes, options_.max_bytes);
  EXPECT_GT(c.pending, 0u);
  EXPECT_LT(c.pending, 201u);
  EXPECT_EQ(c.pending_evicted, 201u - c.pending);
  EXPECT_EQ(c.unmatched, c.pending_evicted);
  EXPECT_EQ(Metric("aims_collector_label_unmatched_total{reason=\"bytes\"}"),
            static_cast<double>(c.pending_evicted));
  EXPECT_EQ(Metric("aims_collector_label_unmatched_total{reason=\"ttl\"}"), 0);
  EXPECT_EQ(Metric("aims_collector_label_evictions_total{reason=\"bytes\"}"),
            0);
  EXPECT_EQ(Metric("aims_collector_label_bytes"), static_cast<double>(c.bytes));
  EXPECT_EQ(Metric("aims_collector_label_pending"),
            static_cast<double>(c.pending));
  // The newest pending label stayed (the oldest went first), and the
  // records still join their labels.
  Write(Report(2, kT0 + absl::Minutes(1), {{"newest", "0"}}));
  Submit({Label("p1", "1")});
  EXPECT_EQ(join_->counts().joins, 2u);
  ASSERT_EQ(*join_->Flush(), 2);
  EXPECT_EQ(LabelReport(kT0)->summary().performance().labelled_count(), 1u);
}

TEST_F(LabelJoinTest, RestartKeepsRecordsPendingLabelsAndUnflushedWindows) {
  Write(Report(1, kT0, {{"p1", "1"}, {"p2", "1"}}));
  Submit({Label("p1", "1"), Label("later", "0")});
  const LabelJoinCounts before = join_->counts();
  Reopen();  // the window was never flushed
  const LabelJoinCounts after = join_->counts();
  EXPECT_EQ(after.records, before.records);
  EXPECT_EQ(after.pending, 1u);
  EXPECT_EQ(after.bytes, before.bytes);
  EXPECT_EQ(after.dirty_windows, 1u);
  ASSERT_EQ(*join_->Flush(), 1);
  EXPECT_EQ(LabelReport(kT0)->summary().performance().labelled_count(), 1u);
  Write(Report(2, kT0 + absl::Minutes(1), {{"later", "0"}}));
  ASSERT_EQ(*join_->Flush(), 1);
  EXPECT_EQ(LabelReport(kT0 + absl::Minutes(1))
                ->summary()
                .performance()
                .labelled_count(),
            1u);
  // The first window is unchanged by the second's flush.
  EXPECT_EQ(LabelReport(kT0)->summary().performance().labelled_count(), 1u);
}

}  // namespace
}  // namespace aims::collector
