// coverage.agent-silent per replica slot (docs/profiles.md): a replacement
// takes over a crashed agent's slot and its breach resolves; a deregistered
// or expired agent leaves its slot at 0; series names carry the slot, never
// an agent id.
#include <set>

#include "collector/evaluation/evaluator.h"
#include "common/base/time_util.h"
#include "gtest/gtest.h"
#include "tests/collector/evaluation/evaluation_stack.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

constexpr char kPlan[] =
    "agent_window: 10s\n"
    "defaults: {evaluation_interval: 1s, keep_firing_for: 0s}\n"
    "coverage: {silent_after: 1m}\n";

v1::Hello HelloOf(const std::string& agent_id) {
  v1::Hello hello;
  hello.mutable_agent()->set_agent_id(agent_id);
  *hello.mutable_model() = Model();
  return hello;
}

// The agent-silent series in force: name -> state.
std::map<std::string, v1::ObjectiveState> SilentSeries(Stack& s) {
  v1::ListObjectiveStatesRequest request;
  request.set_objective_id("coverage.agent-silent");
  std::map<std::string, v1::ObjectiveState> out;
  for (const v1::ObjectiveStatus& st : s.evaluator->States(request))
    out[st.series()] = st.state();
  return out;
}

TEST(AgentSlotsTest, ReplacementTakesOverACrashedAgentsSlot) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kPlan);  // registers pod-a
  s.Report(&clock, 0.6);
  s.evaluator->EvaluateDue();
  EXPECT_EQ(SilentSeries(s),
            (std::map<std::string, v1::ObjectiveState>{
                {"credit/v1/prod slot=1", v1::OBJECTIVE_STATE_INACTIVE}}));

  // pod-a crashes: silent past silent_after, its slot fires.
  clock.Advance(absl::Seconds(70));
  s.evaluator->EvaluateDue();
  ASSERT_EQ(SilentSeries(s)["credit/v1/prod slot=1"],
            v1::OBJECTIVE_STATE_FIRING);

  // Its replacement connects; pod-a is not connected, so the lowest free
  // slot is pod-a's.
  uint32_t slot = 0;
  std::vector<std::string> replaced;
  ASSERT_TRUE(s.storage
                  ->RegisterAgentInSlot(
                      HelloOf("pod-b"), clock.Now(),
                      [](const std::string&) { return false; }, &slot,
                      &replaced)
                  .ok());
  EXPECT_EQ(slot, 1u);
  EXPECT_EQ(replaced, std::vector<std::string>{"pod-a"});
  clock.Advance(absl::Seconds(1));
  s.evaluator->EvaluateDue();
  EXPECT_EQ(SilentSeries(s),
            (std::map<std::string, v1::ObjectiveState>{
                {"credit/v1/prod slot=1", v1::OBJECTIVE_STATE_RESOLVED}}));
  // Its nonconformity is auto-resolved (the others: model silence, no
  // profile).
  int silent = 0;
  for (const v1::Nonconformity& nc : s.ncs->List({})) {
    if (nc.objective_id() != "coverage.agent-silent") continue;
    ++silent;
    EXPECT_EQ(nc.series(), "credit/v1/prod slot=1");
    EXPECT_TRUE(nc.auto_resolved());
  }
  EXPECT_EQ(silent, 1);
}

TEST(AgentSlotsTest, ConnectedAgentsKeepTheirSlotsAndNewOnesTakeTheLowest) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kPlan);  // pod-a: slot 1
  std::set<std::string> connected = {"pod-a"};
  auto is_connected = [&](const std::string& id) {
    return connected.count(id) > 0;
  };
  uint32_t slot = 0;
  ASSERT_TRUE(s.storage
                  ->RegisterAgentInSlot(HelloOf("pod-b"), clock.Now(),
                                        is_connected, &slot, nullptr)
                  .ok());
  EXPECT_EQ(slot, 2u);
  connected.insert("pod-b");
  // pod-a reconnects: its own slot again.
  ASSERT_TRUE(s.storage
                  ->RegisterAgentInSlot(HelloOf("pod-a"), clock.Now(),
                                        is_connected, &slot, nullptr)
                  .ok());
  EXPECT_EQ(slot, 1u);
  // pod-a leaves cleanly: its slot is free for the next agent.
  ASSERT_TRUE(
      s.storage->MarkAgentLeft("pod-a", "deregistered", clock.Now()).ok());
  connected.erase("pod-a");
  std::vector<std::string> replaced;
  ASSERT_TRUE(s.storage
                  ->RegisterAgentInSlot(HelloOf("pod-c"), clock.Now(),
                                        is_connected, &slot, &replaced)
                  .ok());
  EXPECT_EQ(slot, 1u);
  EXPECT_TRUE(replaced.empty());  // pod-a had left: nothing to replace
  EXPECT_EQ(s.storage->MarkAgentLeft("pod-x", "expired", clock.Now()).code(),
            absl::StatusCode::kNotFound);
}

// A deregistered (or expired) agent's slot has nothing to wait for: the
// series holds at 0, a breach of it resolves, and it keeps holding with
// evidence after the window (a nonconformity's review needs that).
TEST(AgentSlotsTest, LeftAgentsSlotHoldsAndABreachOfItResolves) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kPlan);
  s.Report(&clock, 0.6);
  clock.Advance(absl::Seconds(70));
  s.evaluator->EvaluateDue();
  ASSERT_EQ(SilentSeries(s)["credit/v1/prod slot=1"],
            v1::OBJECTIVE_STATE_FIRING);
  ASSERT_TRUE(s.storage->MarkAgentLeft("pod-a", "expired", clock.Now()).ok());
  clock.Advance(absl::Seconds(1));
  s.evaluator->EvaluateDue();
  v1::ObjectiveStatus st = s.State("coverage.agent-silent");
  EXPECT_EQ(st.state(), v1::OBJECTIVE_STATE_RESOLVED);
  EXPECT_EQ(st.last_value().value(), 0);
  clock.Advance(absl::Hours(1));
  s.evaluator->EvaluateDue();
  st = s.State("coverage.agent-silent");
  EXPECT_EQ(st.state(), v1::OBJECTIVE_STATE_RESOLVED);
  EXPECT_EQ(st.last_value().state(), v1::EVIDENCE_STATE_OK);
  // Its only agent left: the model is not silent either (a model stopped
  // cleanly, as at the end of the demo, breaches nothing when looked at
  // later).
  st = s.State("coverage.model-silent");
  EXPECT_EQ(st.last_value().value(), 0);
  EXPECT_NE(st.state(), v1::OBJECTIVE_STATE_FIRING);
}

// Slots and departures are in the registry on disk: a restarted collector
// neither expects a departed agent nor forgets who holds which slot.
TEST(AgentSlotsTest, SlotsAndDeparturesSurviveARestart) {
  testing::TempDir dir;
  FakeClock clock;
  {
    Stack s(dir.path(), &clock, kPlan);  // pod-a: slot 1
    uint32_t slot = 0;
    ASSERT_TRUE(s.storage
                    ->RegisterAgentInSlot(HelloOf("pod-b"), clock.Now(),
                                          nullptr, &slot, nullptr)
                    .ok());
    ASSERT_EQ(slot, 2u);
    ASSERT_TRUE(
        s.storage->MarkAgentLeft("pod-a", "deregistered", clock.Now()).ok());
  }
  RocksStorageOptions options;
  options.path = dir.path();
  absl::StatusOr<std::unique_ptr<RocksStorage>> storage =
      RocksStorage::Open(options);
  ASSERT_TRUE(storage.ok()) << storage.status();
  std::map<std::string, std::pair<uint32_t, std::string>> registry;
  for (const v1::AgentInfo& a : (*storage)->ListAgents({}))
    registry[a.agent().agent_id()] = {a.slot(), a.left_reason()};
  EXPECT_EQ(registry, (std::map<std::string, std::pair<uint32_t, std::string>>{
                          {"pod-a", {1, "deregistered"}}, {"pod-b", {2, ""}}}));
}

}  // namespace
}  // namespace aims::collector
