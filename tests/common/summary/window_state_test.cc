#include "common/summary/window_state.h"

#include "gtest/gtest.h"

namespace aims {
namespace {

Event Predicted(const std::string& id, const std::string& cls, double score) {
  Event e;
  e.prediction_id = id;
  e.prediction.kind = Outcome::Kind::kClass;
  e.prediction.class_label = cls;
  e.score = score;
  e.attributes = {{"gender", "f"}};
  return e;
}

LabelEvent Label(const std::string& id, const std::string& cls) {
  LabelEvent l;
  l.prediction_id = id;
  l.label.kind = Outcome::Kind::kClass;
  l.label.class_label = cls;
  return l;
}

const absl::Time t0 = absl::FromUnixSeconds(1000);

LabelFate Fate(WindowState& w, const LabelEvent& l, absl::Time now,
               EventError* error = nullptr) {
  EventError ignored;
  return w.AddLabel(l, now, error ? error : &ignored);
}

// The agent joins no delayed label (the collector's central join does): a
// label for a prediction pending here is forwarded and the prediction stays
// pending, so its join record and the label go in the same report; a second
// label for it (a correction) is forwarded too.
TEST(WindowStateTest, ForwardsEveryLabelAndKeepsItsPredictionPending) {
  JoinLimits limits;
  WindowState w(std::make_shared<SummaryConfig>(), &limits);
  Event labelled = Predicted("inline", "1", 0.9);
  labelled.label = labelled.prediction;  // has its label: not pending
  Event anonymous = Predicted("", "1", 0.9);
  EXPECT_TRUE(w.Add({Predicted("a", "1", 0.8), Predicted("b", "0", 0.2),
                     labelled, anonymous},
                    t0)
                  .empty());
  EXPECT_EQ(w.pending_count(), 2u);
  EventError error;
  EXPECT_EQ(w.AddLabel(Label("a", "0"), t0 + absl::Minutes(5), &error),
            LabelFate::kForwarded);
  EXPECT_EQ(w.pending_count(), 2u);
  EXPECT_EQ(Fate(w, Label("zzz", "1"), t0), LabelFate::kForwarded);
  EXPECT_EQ(Fate(w, Label("inline", "1"), t0), LabelFate::kForwarded);
  EXPECT_EQ(Fate(w, Label("a", "1"), t0 + absl::Minutes(6), &error),
            LabelFate::kForwarded);
  EXPECT_EQ(w.forwarded_count(), 4u);

  v1::WindowReport report = w.Take();
  const v1::OperationalSummary& op = report.summary().operational();
  EXPECT_EQ(op.event_count(), 4u);
  EXPECT_EQ(op.labels_matched(), 0u);  // the collector credits them
  EXPECT_EQ(op.labels_late(), 0u);
  EXPECT_EQ(op.labels_unmatched(), 0u);
  EXPECT_EQ(op.labels_awaited(), 2u);
  EXPECT_FALSE(op.has_label_delay_seconds());
  // Only the inline label of "inline".
  EXPECT_EQ(report.summary().performance().labelled_count(), 1u);
  const v1::AttributeSummary& gender = report.summary().attributes(0);
  EXPECT_EQ(gender.groups(0).labelled(), 1u);
  EXPECT_EQ(gender.groups(0).false_positive(), 0u);
  ASSERT_EQ(report.predictions_size(), 2);
  const v1::PendingPrediction& a = report.predictions(0);
  EXPECT_EQ(a.prediction_id(), "a");
  EXPECT_EQ(a.prediction().class_label(), "1");
  EXPECT_DOUBLE_EQ(a.score(), 0.8);
  const v1::PendingPrediction& b = report.predictions(1);
  EXPECT_EQ(b.prediction_id(), "b");
  EXPECT_EQ(b.prediction().class_label(), "0");
  EXPECT_DOUBLE_EQ(b.score(), 0.2);
  EXPECT_EQ(b.groups().at("gender"), "f");
  EXPECT_EQ(b.predicted_at().seconds(), 1000);
  // In arrival order, each with the time its truth became known.
  ASSERT_EQ(report.labels_size(), 4);
  EXPECT_EQ(report.labels(0).prediction_id(), "a");
  EXPECT_EQ(report.labels(0).label().class_label(), "0");
  EXPECT_EQ(report.labels(0).timestamp().seconds(), 1000 + 300);
  EXPECT_EQ(report.labels(1).prediction_id(), "zzz");
  EXPECT_EQ(report.labels(1).timestamp().seconds(), 1000);
  EXPECT_EQ(report.labels(2).prediction_id(), "inline");
  EXPECT_EQ(report.labels(3).prediction_id(), "a");
  EXPECT_EQ(report.labels(3).label().class_label(), "1");
  EXPECT_EQ(report.labels(3).timestamp().seconds(), 1000 + 360);
  EXPECT_TRUE(w.empty());
}

TEST(WindowStateTest, DuplicatePredictionIsRefusedAndTheFirstWaits) {
  JoinLimits limits;
  WindowState w(std::make_shared<SummaryConfig>(), &limits);
  EXPECT_TRUE(w.Add({Predicted("dup", "0", 0.1)}, t0).empty());
  // Across calls and with an inline label: refused, not folded.
  Event labelled = Predicted("dup", "1", 0.9);
  labelled.label = labelled.prediction;
  EXPECT_EQ(
      w.Add({Predicted("new", "1", 0.9), Predicted("dup", "1", 0.9), labelled},
            t0 + absl::Seconds(1)),
      (std::vector<size_t>{1, 2}));
  EXPECT_EQ(w.pending_count(), 2u);
  EXPECT_EQ(Fate(w, Label("dup", "1"), t0), LabelFate::kForwarded);
  // Labelled, it still waits here (for its record to go out): a resend is
  // refused still.
  EXPECT_EQ(w.Add({Predicted("dup", "1", 0.7)}, t0), (std::vector<size_t>{0}));
  v1::WindowReport report = w.Take();
  EXPECT_EQ(report.summary().operational().event_count(), 2u);
  EXPECT_EQ(report.summary().performance().labelled_count(), 0u);
  // The first copy's record, with its label beside it.
  ASSERT_EQ(report.predictions_size(), 2);
  EXPECT_EQ(report.predictions(0).prediction_id(), "dup");
  EXPECT_EQ(report.predictions(0).prediction().class_label(), "0");
  EXPECT_EQ(report.predictions(1).prediction_id(), "new");
  ASSERT_EQ(report.labels_size(), 1);
  EXPECT_EQ(report.labels(0).prediction_id(), "dup");
}

// A checkpoint keeps the pending predictions and the forwarded labels (a
// prediction with a label among them), so that a restored window reports
// both once.
TEST(WindowStateTest, CheckpointKeepsLabelledPredictionsPending) {
  JoinLimits limits;
  WindowState w(std::make_shared<SummaryConfig>(), &limits);
  w.Add({Predicted("a", "1", 0.8)}, t0);
  EXPECT_EQ(Fate(w, Label("a", "0"), t0), LabelFate::kForwarded);
  absl::StatusOr<v1::WindowReport> checkpoint = w.Checkpoint();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  ASSERT_EQ(checkpoint->predictions_size(), 1);
  ASSERT_EQ(checkpoint->labels_size(), 1);

  WindowState restored(std::make_shared<SummaryConfig>(), &limits);
  restored.Restore(*checkpoint);
  EXPECT_TRUE(restored.Waiting("a"));
  EXPECT_EQ(restored.pending_bytes(), w.pending_bytes());
  // A correction after the restart goes beside the first label.
  EXPECT_EQ(Fate(restored, Label("a", "1"), t0), LabelFate::kForwarded);
  v1::WindowReport report = restored.Take();
  EXPECT_EQ(report.summary().operational().event_count(), 1u);
  EXPECT_EQ(report.summary().operational().labels_awaited(), 1u);
  ASSERT_EQ(report.predictions_size(), 1);
  EXPECT_EQ(report.predictions(0).prediction_id(), "a");
  ASSERT_EQ(report.labels_size(), 2);
  EXPECT_EQ(report.labels(0).label().class_label(), "0");
  EXPECT_EQ(report.labels(1).label().class_label(), "1");
}

// Beyond --max_pending_prediction_bytes a prediction is counted but no
// label can join it here (labels_evicted); beyond the forwarding bounds a
// label is refused with a limit error naming the flag.
TEST(WindowStateTest, PendingAndForwardedAreBounded) {
  JoinLimits limits;
  limits.max_pending_bytes = 300;  // about three predictions
  limits.max_forwarded_labels = 2;
  WindowState w(std::make_shared<SummaryConfig>(), &limits);
  std::vector<Event> events;
  for (int i = 0; i < 10; ++i) {
    events.push_back(Predicted("p" + std::to_string(i), "1", 0.5));
  }
  w.Add(events, t0);
  EXPECT_EQ(w.pending_count(), 3u);
  EXPECT_LE(w.pending_bytes(), 300u);
  EXPECT_EQ(w.TakeUnjoinable(), 7u);
  EXPECT_EQ(w.TakeUnjoinable(), 0u);
  // p0 is pending (its record goes beside the label), p9 was not kept (the
  // collector counts its label unmatched): both labels are forwarded.
  EXPECT_EQ(Fate(w, Label("p0", "1"), t0), LabelFate::kForwarded);
  EXPECT_EQ(Fate(w, Label("p9", "1"), t0), LabelFate::kForwarded);
  EventError error;
  EXPECT_EQ(Fate(w, Label("third", "1"), t0, &error), LabelFate::kFull);
  EXPECT_EQ(error.limit, "forwarded_labels");
  EXPECT_EQ(error.reason,
            "2 labels to forward in this window, limit 2 "
            "(--max_forwarded_labels)");
  v1::WindowReport report = w.Take();
  EXPECT_EQ(report.summary().operational().event_count(), 10u);
  EXPECT_EQ(report.summary().operational().labels_evicted(), 7u);
  EXPECT_EQ(report.summary().operational().labels_awaited(), 3u);
  EXPECT_EQ(report.predictions_size(), 3);
  ASSERT_EQ(report.labels_size(), 2);
  EXPECT_EQ(report.labels(0).prediction_id(), "p0");
  EXPECT_EQ(report.labels(1).prediction_id(), "p9");

  limits.max_forwarded_labels = 100;
  limits.max_forwarded_bytes = 20;
  EXPECT_EQ(Fate(w, Label("x", "1"), t0), LabelFate::kForwarded);
  EXPECT_EQ(Fate(w, Label("y", "1"), t0, &error), LabelFate::kFull);
  EXPECT_EQ(error.limit, "forwarded_label_bytes");
}

// The intake log's replay restores labels the window had accepted (or an
// agent of before the central join had joined) beyond today's bounds: none
// is lost.
TEST(WindowStateTest, RestoredLabelsAreKeptBeyondTheBounds) {
  JoinLimits limits;
  limits.max_forwarded_labels = 2;
  WindowState w(std::make_shared<SummaryConfig>(), &limits);
  for (int i = 0; i < 5; ++i) {
    w.RestoreLabel(Label("r" + std::to_string(i), "1"), t0);
  }
  EXPECT_EQ(w.forwarded_count(), 5u);
  // New labels still meet the bound.
  EXPECT_EQ(Fate(w, Label("new", "1"), t0), LabelFate::kFull);
  const v1::WindowReport report = w.Take();
  ASSERT_EQ(report.labels_size(), 5);
  EXPECT_EQ(report.labels(4).prediction_id(), "r4");
  EXPECT_EQ(report.labels(4).timestamp().seconds(), 1000);
}

// Join records carry groups and slice values as the summary folded them, so
// that the collector credits a label to the same group and slice.
TEST(WindowStateTest, JoinRecordsCarryFoldedGroupsAndSlices) {
  auto config = std::make_shared<SummaryConfig>();
  config->max_groups_per_attribute = 3;  // two and "__other__"
  config->slice_keys = {"region"};
  config->max_slice_values = 1;
  JoinLimits limits;
  WindowState w(config, &limits);
  std::vector<Event> events;
  const char* genders[] = {"f", "m", "x", "y"};
  const char* regions[] = {"eu", "us", "us", "eu"};
  for (int i = 0; i < 4; ++i) {
    Event e = Predicted("p" + std::to_string(i), "1", 0.5);
    e.attributes = {{"gender", genders[i]}};
    FeatureValue region;
    region.kind = FeatureValue::Kind::kCategory;
    region.category = regions[i];
    e.features.emplace_back("region", region);
    events.push_back(std::move(e));
  }
  w.Add(events, t0);
  // A label in the window leaves its prediction's record in the report, in
  // its folded group and slice, for the collector to credit there.
  EXPECT_EQ(Fate(w, Label("p2", "1"), t0), LabelFate::kForwarded);
  v1::WindowReport report = w.Take();
  ASSERT_EQ(report.predictions_size(), 4);
  EXPECT_EQ(report.predictions(0).groups().at("gender"), "f");
  EXPECT_EQ(report.predictions(0).slices().at("region"), "eu");
  EXPECT_EQ(report.predictions(1).groups().at("gender"), "m");
  EXPECT_EQ(report.predictions(1).slices().at("region"), "__other__");
  EXPECT_EQ(report.predictions(2).prediction_id(), "p2");
  EXPECT_EQ(report.predictions(2).groups().at("gender"), "__other__");
  EXPECT_EQ(report.predictions(2).slices().at("region"), "__other__");
  EXPECT_EQ(report.predictions(3).groups().at("gender"), "__other__");
  EXPECT_EQ(report.predictions(3).slices().at("region"), "eu");
  ASSERT_EQ(report.labels_size(), 1);
  EXPECT_EQ(report.labels(0).prediction_id(), "p2");
  const v1::SliceKeySummary& region = report.summary().slices(0);
  ASSERT_EQ(region.values_size(), 2);
  EXPECT_EQ(region.values(0).value(), "__other__");
  EXPECT_EQ(region.values(0).summary().performance().labelled_count(), 0u);
}

}  // namespace
}  // namespace aims
