#include "agent/windower.h"

#include "gtest/gtest.h"

namespace aims::agent {
namespace {

std::vector<Event> Events(int n) {
  std::vector<Event> out(n);
  for (auto& e : out) e.latency_seconds = 0.01;
  return out;
}

TEST(WindowerTest, WindowsAreAlignedAndCloseOnTime) {
  FakeClock clock(absl::FromUnixSeconds(1000) + absl::Milliseconds(3500));
  Windower windower(std::make_shared<SummaryConfig>(), absl::Seconds(10),
                    &clock);
  EXPECT_EQ(windower.current_end(), absl::FromUnixSeconds(1010));
  windower.Add(Events(3));
  EXPECT_FALSE(windower.CloseIfDue().has_value());
  clock.Advance(absl::Seconds(6));  // 1009.5
  EXPECT_FALSE(windower.CloseIfDue().has_value());
  clock.Advance(absl::Milliseconds(500));  // 1010.0: the window ends
  auto closed = windower.CloseIfDue();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->start, absl::FromUnixSeconds(1000));
  EXPECT_EQ(closed->end, absl::FromUnixSeconds(1010));
  EXPECT_EQ(closed->summary.operational().event_count(), 3u);
  EXPECT_FALSE(windower.CloseIfDue().has_value());
}

TEST(WindowerTest, EmptyWindowsAreSkippedAndLateTicksKeepEveryWindow) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  Windower windower(std::make_shared<SummaryConfig>(), absl::Seconds(10),
                    &clock);
  clock.Advance(absl::Seconds(35));  // three empty windows pass
  EXPECT_FALSE(windower.CloseIfDue().has_value());
  windower.Add(Events(2));  // window [1030, 1040)
  clock.Advance(absl::Seconds(10));
  windower.Add(Events(5));  // rolls [1030,1040) first, then [1040, 1050)
  auto first = windower.CloseIfDue();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->start, absl::FromUnixSeconds(1030));
  EXPECT_EQ(first->summary.operational().event_count(), 2u);
  clock.Advance(absl::Seconds(10));
  auto second = windower.CloseIfDue();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->start, absl::FromUnixSeconds(1040));
  EXPECT_EQ(second->summary.operational().event_count(), 5u);
}

TEST(WindowerTest, CloseNowCutsThePartialWindow) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  Windower windower(std::make_shared<SummaryConfig>(), absl::Seconds(10),
                    &clock);
  windower.Add(Events(4));
  windower.CountRejected("malformed", 2);
  clock.Advance(absl::Seconds(4));
  auto closed = windower.CloseNow();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->end, absl::FromUnixSeconds(1004));
  EXPECT_EQ(closed->summary.operational().event_count(), 4u);
  EXPECT_EQ(closed->summary.operational().rejected_by_reason().at("malformed"),
            2u);
  EXPECT_FALSE(windower.CloseNow().has_value());
}

// A checkpoint takes the open window's summary so far out of memory; the
// window closes with it merged back, as if nothing had been taken.
TEST(WindowerTest, CheckpointsMergeBackWhenTheWindowCloses) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  Windower windower(std::make_shared<SummaryConfig>(), absl::Seconds(10),
                    &clock);
  const absl::Time start = windower.Add(Events(3));
  EXPECT_EQ(start, absl::FromUnixSeconds(1000));
  auto first = windower.Checkpoint(start);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->summary().operational().event_count(), 3u);
  // Nothing new: no checkpoint; another window: none either.
  auto none = windower.Checkpoint(start);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  none = windower.Checkpoint(start + absl::Seconds(10));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  windower.Add(Events(4));
  auto second = windower.Checkpoint(start);
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->summary().operational().event_count(), 7u);
  windower.Add(Events(5));
  clock.Advance(absl::Seconds(10));
  auto closed = windower.CloseIfDue();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->start, start);
  EXPECT_EQ(closed->summary.operational().event_count(), 12u);

  // A window restored from a checkpoint (replay) closes with it too, even
  // when nothing else arrives.
  Windower restarted(std::make_shared<SummaryConfig>(), absl::Seconds(10),
                     &clock);
  restarted.RestoreCheckpoint(**second);
  clock.Advance(absl::Seconds(10));
  auto replayed = restarted.CloseIfDue();
  ASSERT_TRUE(replayed.has_value());
  EXPECT_EQ(replayed->summary.operational().event_count(), 7u);
}

// A replay that outlasts its window (a slow start) keeps every replayed
// event in that window: it closes with all of them at the first tick after.
// Rolling over halfway put the rest in the next window, which no intake-log
// segment held, and a kill then lost them (seen in
// DeliveryTest.AgentKilledDuringTrafficKeepsWhatItAccepted under load).
TEST(WindowerTest, ReplayingKeepsTheOpenWindowOpen) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  Windower windower(std::make_shared<SummaryConfig>(), absl::Seconds(10),
                    &clock);
  windower.SetReplaying(true);
  const absl::Time segment = absl::FromUnixSeconds(1000);
  windower.AddTo(segment, Events(4), clock.Now());
  clock.Advance(absl::Seconds(12));  // past the window's end
  windower.AddTo(segment, Events(6), clock.Now());
  EXPECT_FALSE(windower.CloseIfDue().has_value());
  windower.SetReplaying(false);
  auto closed = windower.CloseIfDue();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->start, absl::FromUnixSeconds(1000));
  EXPECT_EQ(closed->end, absl::FromUnixSeconds(1010));
  EXPECT_EQ(closed->summary.operational().event_count(), 10u);
  // Events after the replay go to the window open now.
  EXPECT_EQ(windower.Add(Events(1)), absl::FromUnixSeconds(1010));
}

Event Prediction(const std::string& id, const std::string& cls) {
  Event e;
  e.prediction_id = id;
  e.prediction.kind = Outcome::Kind::kClass;
  e.prediction.class_label = cls;
  return e;
}

LabelEvent Label(const std::string& id, const std::string& cls) {
  LabelEvent l;
  l.prediction_id = id;
  l.label.kind = Outcome::Kind::kClass;
  l.label.class_label = cls;
  return l;
}

// The agent joins no label: one for a prediction waiting in an open window
// is forwarded in that window's report, beside the prediction's join record
// (the collector joins them); once the window closed, its prediction has
// travelled as a join record and a label is forwarded in the next window's
// report.
TEST(WindowerTest, LabelsGoBesideTheirPendingPredictionOrAfter) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  Windower windower(std::make_shared<SummaryConfig>(), absl::Seconds(10),
                    &clock);
  windower.Add({Prediction("a", "1"), Prediction("b", "0")});
  clock.Advance(absl::Seconds(3));
  std::vector<LabelOutcome> outcomes;
  EXPECT_EQ(windower.AddLabels({Label("a", "1"), Label("a", "0")}, clock.Now(),
                               &outcomes),
            absl::FromUnixSeconds(1000));
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[0].fate, LabelFate::kForwarded);
  EXPECT_EQ(outcomes[0].key, absl::FromUnixSeconds(1000));
  // A second label (a correction) is forwarded too, not refused.
  EXPECT_EQ(outcomes[1].fate, LabelFate::kForwarded);
  EXPECT_EQ(windower.pending_predictions(), 2u);
  clock.Advance(absl::Seconds(7));
  // "b" is labelled after its window closed: forwarded in the next report.
  windower.AddLabels({Label("b", "1")}, clock.Now(), &outcomes);
  EXPECT_EQ(outcomes[0].fate, LabelFate::kForwarded);
  EXPECT_EQ(outcomes[0].key, absl::FromUnixSeconds(1010));
  auto first = windower.CloseIfDue();
  ASSERT_TRUE(first.has_value());
  const v1::OperationalSummary& op = first->summary.operational();
  EXPECT_EQ(op.event_count(), 2u);
  EXPECT_EQ(op.labels_matched(), 0u);
  EXPECT_EQ(op.labels_awaited(), 2u);
  EXPECT_EQ(op.label_delay_seconds().count(), 0u);
  EXPECT_EQ(first->summary.performance().labelled_count(), 0u);
  ASSERT_EQ(first->predictions.size(), 2u);
  EXPECT_EQ(first->predictions[0].prediction_id(), "a");
  EXPECT_EQ(first->predictions[1].prediction_id(), "b");
  EXPECT_EQ(first->predictions[1].prediction().class_label(), "0");
  EXPECT_EQ(first->predictions[1].predicted_at().seconds(), 1000);
  ASSERT_EQ(first->labels.size(), 2u);
  EXPECT_EQ(first->labels[0].prediction_id(), "a");
  EXPECT_EQ(first->labels[0].label().class_label(), "1");
  EXPECT_EQ(first->labels[0].timestamp().seconds(), 1003);
  EXPECT_EQ(first->labels[1].label().class_label(), "0");
  clock.Advance(absl::Seconds(10));
  auto second = windower.CloseIfDue();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->summary.operational().event_count(), 0u);
  EXPECT_TRUE(second->predictions.empty());
  ASSERT_EQ(second->labels.size(), 1u);
  EXPECT_EQ(second->labels[0].prediction_id(), "b");
  EXPECT_EQ(second->labels[0].label().class_label(), "1");
  EXPECT_EQ(second->labels[0].timestamp().seconds(), 1010);
}

// A checkpoint carries the pending predictions and the labels to forward,
// so a window restored from it (replay) forwards as before.
TEST(WindowerTest, CheckpointsKeepPendingPredictionsAndForwardedLabels) {
  FakeClock clock(absl::FromUnixSeconds(1000));
  Windower windower(std::make_shared<SummaryConfig>(), absl::Seconds(10),
                    &clock);
  const absl::Time start =
      windower.Add({Prediction("a", "1"), Prediction("b", "0")});
  std::vector<LabelOutcome> outcomes;
  windower.AddLabels({Label("elsewhere", "1")}, clock.Now(), &outcomes);
  auto checkpoint = windower.Checkpoint(start);
  ASSERT_TRUE(checkpoint.ok() && checkpoint->has_value());
  EXPECT_EQ((*checkpoint)->predictions_size(), 2);
  EXPECT_EQ((*checkpoint)->labels_size(), 1);

  Windower restarted(std::make_shared<SummaryConfig>(), absl::Seconds(10),
                     &clock);
  restarted.RestoreCheckpoint(**checkpoint);
  EXPECT_EQ(restarted.pending_predictions(), 2u);
  // A resend of a waiting prediction is still refused after the restore.
  std::vector<size_t> duplicates;
  restarted.Add({Prediction("a", "1")}, &duplicates);
  EXPECT_EQ(duplicates, std::vector<size_t>{0});
  restarted.AddLabels({Label("a", "0")}, clock.Now(), &outcomes);
  EXPECT_EQ(outcomes[0].fate, LabelFate::kForwarded);
  EXPECT_EQ(outcomes[0].key, start);
  clock.Advance(absl::Seconds(10));
  auto closed = restarted.CloseIfDue();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->summary.operational().event_count(), 2u);
  EXPECT_EQ(closed->summary.operational().labels_matched(), 0u);
  EXPECT_EQ(closed->summary.operational().labels_awaited(), 2u);
  ASSERT_EQ(closed->predictions.size(), 2u);
  EXPECT_EQ(closed->predictions[0].prediction_id(), "a");
  EXPECT_EQ(closed->predictions[1].prediction_id(), "b");
  ASSERT_EQ(closed->labels.size(), 2u);
  EXPECT_EQ(closed->labels[0].prediction_id(), "elsewhere");
  EXPECT_EQ(closed->labels[1].prediction_id(), "a");
}

}  // namespace
}  // namespace aims::agent

namespace aims::agent {
namespace {

Event At(absl::Time t) {
  Event e;
  e.timestamp = t;
  return e;
}

WindowerOptions EventTime(absl::Duration lateness) {
  WindowerOptions o;
  o.window = absl::Seconds(10);
  o.event_time = true;
  o.lateness = lateness;
  return o;
}

// Event time: each event goes to the window of its timestamp; the window is
// reported at its end, its stragglers (within the lateness) in a second
// report at end + lateness, and later events in a late report at the next
// tick, counted in late_events.
TEST(WindowerEventTimeTest, EventsGoToTheirWindowLateOnesAreCounted) {
  FakeClock clock(absl::FromUnixSeconds(1005));
  Windower windower(std::make_shared<SummaryConfig>(),
                    EventTime(absl::Seconds(30)), &clock);
  const absl::Time t = absl::FromUnixSeconds(1000);
  Windower::Routes routes = windower.AddEvents(
      {At(t + absl::Seconds(1)), At(t - absl::Seconds(3)), Event()});
  // [1000, 1010) gets the first and the one without a timestamp (arrival
  // 1005); [990, 1000) has ended: a straggler within the lateness.
  ASSERT_EQ(routes.folded.size(), 2u);
  EXPECT_EQ(routes.folded.at(t), (std::vector<size_t>{0, 2}));
  EXPECT_EQ(routes.folded.begin()->first,
            absl::FromUnixSeconds(990) + absl::Milliseconds(1));
  EXPECT_EQ(windower.open_windows(), 2u);
  EXPECT_FALSE(windower.CloseIfDue().has_value());
  clock.Advance(absl::Seconds(5));  // 1010: [1000, 1010) ends
  auto on_time = windower.CloseIfDue();
  ASSERT_TRUE(on_time.has_value());
  EXPECT_EQ(on_time->start, t);
  EXPECT_EQ(on_time->summary.operational().event_count(), 2u);
  EXPECT_EQ(on_time->summary.operational().late_events(), 0u);
  EXPECT_EQ(on_time->key, t);
  EXPECT_FALSE(windower.CloseIfDue().has_value());
  clock.Advance(absl::Seconds(20));  // 1030: [990, 1000) + 30 s passed
  auto straggler = windower.CloseIfDue();
  ASSERT_TRUE(straggler.has_value());
  EXPECT_EQ(straggler->start, absl::FromUnixSeconds(990));
  EXPECT_EQ(straggler->end, t);
  EXPECT_EQ(straggler->summary.operational().event_count(), 1u);
  EXPECT_EQ(straggler->summary.operational().late_events(), 0u);
  // Past [1000, 1010)'s lateness at 1040: late, in an extra report.
  clock.Advance(absl::Seconds(15));
  routes = windower.AddEvents(
      {At(t + absl::Seconds(2)), At(t + absl::Seconds(3)), At(clock.Now())});
  ASSERT_EQ(routes.folded.size(), 2u);
  const absl::Time late_key = routes.folded.begin()->first;
  EXPECT_GE(late_key - t, absl::Milliseconds(500));
  EXPECT_EQ(routes.folded.begin()->second, (std::vector<size_t>{0, 1}));
  auto late = windower.CloseIfDue();  // the next tick
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->start, t);
  EXPECT_EQ(late->end, t + absl::Seconds(10));
  EXPECT_EQ(late->summary.operational().event_count(), 2u);
  EXPECT_EQ(late->summary.operational().late_events(), 2u);
  EXPECT_EQ(late->key, late_key);
}

// The windows held open are bounded: an event that would open one more is
// refused (the caller names --max_open_windows), the others are taken.
TEST(WindowerEventTimeTest, OpenWindowsAreBounded) {
  FakeClock clock(absl::FromUnixSeconds(1005));
  WindowerOptions o = EventTime(absl::Minutes(2));
  o.max_open_windows = 3;
  Windower windower(std::make_shared<SummaryConfig>(), o, &clock);
  const absl::Time t = absl::FromUnixSeconds(1000);
  Windower::Routes routes = windower.AddEvents(
      {At(t), At(t - absl::Seconds(10)), At(t - absl::Seconds(20)),
       At(t - absl::Seconds(30)), At(t - absl::Seconds(15))});
  EXPECT_EQ(routes.folded.size(), 3u);
  EXPECT_EQ(routes.refused, (std::vector<size_t>{3}));
  EXPECT_EQ(windower.open_windows(), 3u);
}

// Replay puts each record back into the instance of its segment, several
// open at once, and none closes before the replay ends.
TEST(WindowerEventTimeTest, ReplayRestoresSeveralInstances) {
  FakeClock clock(absl::FromUnixSeconds(1100));
  Windower windower(std::make_shared<SummaryConfig>(),
                    EventTime(absl::Seconds(30)), &clock);
  const absl::Time straggler =
      absl::FromUnixSeconds(1080) + absl::Milliseconds(3);
  const absl::Time late = absl::FromUnixSeconds(1000) + absl::Milliseconds(700);
  windower.SetReplaying(true);
  windower.AddTo(absl::FromUnixSeconds(1090), {Event(), Event()}, clock.Now());
  windower.AddTo(straggler, {Event()}, clock.Now());
  windower.AddTo(late, {Event(), Event(), Event()}, clock.Now());
  EXPECT_FALSE(windower.CloseIfDue().has_value());
  windower.SetReplaying(false);
  clock.Advance(absl::Seconds(30));  // 1130: all three are due
  std::map<absl::Time, ClosedWindow> closed;
  while (auto w = windower.CloseIfDue()) closed.emplace(w->key, *w);
  ASSERT_EQ(closed.size(), 3u);
  EXPECT_EQ(closed.at(late).summary.operational().late_events(), 3u);
  EXPECT_EQ(closed.at(late).start, absl::FromUnixSeconds(1000));
  EXPECT_EQ(closed.at(straggler).summary.operational().late_events(), 0u);
  EXPECT_EQ(closed.at(straggler).start, absl::FromUnixSeconds(1080));
  EXPECT_EQ(closed.at(absl::FromUnixSeconds(1090))
                .summary.operational()
                .event_count(),
            2u);
}

}  // namespace
}  // namespace aims::agent
