#include "agent/window_state.h"

#include "gtest/gtest.h"

namespace aims::agent {
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
  absl::Duration delay;
  EventError ignored;
  return w.AddLabel(l, now, &delay, error ? error : &ignored);
}

// Was LabelStoreTest.JoinsOnceAndSurvivesRestart: the join now lives in the
// window (its survival across restarts is the intake log's, see
// AgentTest.KilledAgentKeepsPendingPredictionsAndForwardedLabels).
TEST(WindowStateTest, JoinsOnceInItsWindowAndForwardsTheRest) {
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
  absl::Duration delay;
  EventError error;
  EXPECT_EQ(w.AddLabel(Label("a", "0"), t0 + absl::Minutes(5), &delay, &error),
            LabelFate::kJoined);
  EXPECT_EQ(delay, absl::Minutes(5));
  EXPECT_EQ(Fate(w, Label("zzz", "1"), t0), LabelFate::kForwarded);
  EXPECT_EQ(Fate(w, Label("inline", "1"), t0), LabelFate::kForwarded);
  EXPECT_EQ(Fate(w, Label("a", "1"), t0, &error), LabelFate::kDuplicate);
  EXPECT_TRUE(error.duplicate);
  EXPECT_EQ(error.reason,
            "'a' was labelled before in this window; counted once");

  v1::WindowReport report = w.Take();
  const v1::OperationalSummary& op = report.summary().operational();
  EXPECT_EQ(op.event_count(), 4u);
  EXPECT_EQ(op.labels_matched(), 1u);
  EXPECT_EQ(op.labels_late(), 0u);
  EXPECT_EQ(op.labels_unmatched(), 0u);  // the collector's to decide
  EXPECT_EQ(op.labels_awaited(), 1u);
  // Inline label of "inline" and the joined label of "a" (actual 0,
  // predicted 1).
  EXPECT_EQ(report.summary().performance().labelled_count(), 2u);
  const v1::AttributeSummary& gender = report.summary().attributes(0);
  EXPECT_EQ(gender.groups(0).labelled(), 2u);
  EXPECT_EQ(gender.groups(0).false_positive(), 1u);
  ASSERT_EQ(report.predictions_size(), 1);
  const v1::PendingPrediction& b = report.predictions(0);
  EXPECT_EQ(b.prediction_id(), "b");
  EXPECT_EQ(b.prediction().class_label(), "0");
  EXPECT_DOUBLE_EQ(b.score(), 0.2);
  EXPECT_EQ(b.groups().at("gender"), "f");
  EXPECT_EQ(b.predicted_at().seconds(), 1000);
  ASSERT_EQ(report.labels_size(), 2);
  EXPECT_EQ(report.labels(0).prediction_id(), "zzz");
  EXPECT_EQ(report.labels(0).timestamp().seconds(), 1000);
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
  EXPECT_EQ(Fate(w, Label("dup", "1"), t0), LabelFate::kJoined);
  // Once labelled the id is free again: a new prediction may use it.
  EXPECT_TRUE(w.Add({Predicted("dup", "1", 0.7)}, t0).empty());
  v1::WindowReport report = w.Take();
  EXPECT_EQ(report.summary().operational().event_count(), 3u);
  // The first copy joined: predicted 0, actual 1.
  const v1::ConfusionMatrix& m = report.summary().performance().confusion();
  auto index = [&](const std::string& c) {
    for (int i = 0; i < m.classes_size(); ++i) {
      if (m.classes(i) == c) return i;
    }
    return -1;
  };
  ASSERT_GE(index("0"), 0);
  ASSERT_GE(index("1"), 0);
  EXPECT_EQ(m.counts(index("1") * m.classes_size() + index("0")), 1u);
  EXPECT_EQ(report.summary().performance().labelled_count(), 1u);
  EXPECT_EQ(report.predictions_size(), 2);  // "dup" (again) and "new"
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
  EXPECT_EQ(Fate(w, Label("p0", "1"), t0), LabelFate::kJoined);
  // p9 was not kept: its label is forwarded (the collector counts it
  // unmatched), as is one for another agent's prediction.
  EXPECT_EQ(Fate(w, Label("p9", "1"), t0), LabelFate::kForwarded);
  EXPECT_EQ(Fate(w, Label("other", "1"), t0), LabelFate::kForwarded);
  EventError error;
  EXPECT_EQ(Fate(w, Label("third", "1"), t0, &error), LabelFate::kFull);
  EXPECT_EQ(error.limit, "forwarded_labels");
  EXPECT_EQ(error.reason,
            "2 labels to forward in this window, limit 2 "
            "(--max_forwarded_labels)");
  v1::WindowReport report = w.Take();
  EXPECT_EQ(report.summary().operational().event_count(), 10u);
  EXPECT_EQ(report.summary().operational().labels_evicted(), 7u);
  EXPECT_EQ(report.summary().operational().labels_awaited(), 2u);
  EXPECT_EQ(report.labels_size(), 2);

  limits.max_forwarded_labels = 100;
  limits.max_forwarded_bytes = 20;
  EXPECT_EQ(Fate(w, Label("x", "1"), t0), LabelFate::kForwarded);
  EXPECT_EQ(Fate(w, Label("y", "1"), t0, &error), LabelFate::kFull);
  EXPECT_EQ(error.limit, "forwarded_label_bytes");
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
  // A label joined here lands in its folded slice too.
  EXPECT_EQ(Fate(w, Label("p2", "1"), t0), LabelFate::kJoined);
  v1::WindowReport report = w.Take();
  ASSERT_EQ(report.predictions_size(), 3);
  EXPECT_EQ(report.predictions(0).groups().at("gender"), "f");
  EXPECT_EQ(report.predictions(0).slices().at("region"), "eu");
  EXPECT_EQ(report.predictions(1).groups().at("gender"), "m");
  EXPECT_EQ(report.predictions(1).slices().at("region"), "__other__");
  EXPECT_EQ(report.predictions(2).groups().at("gender"), "__other__");
  EXPECT_EQ(report.predictions(2).slices().at("region"), "eu");
  const v1::SliceKeySummary& region = report.summary().slices(0);
  ASSERT_EQ(region.values_size(), 2);
  EXPECT_EQ(region.values(0).value(), "__other__");
  EXPECT_EQ(region.values(0).summary().performance().labelled_count(), 1u);
}

}  // namespace
}  // namespace aims::agent
