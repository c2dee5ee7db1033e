// NonconformityService in fleet mode, on the evaluation side of a collector
// (real RocksDB in a temp dir, FakeClock): while this collector takes a
// model over, a step on one of its records waits (UNAVAILABLE), since the
// version being taken over would replace it.
#include "collector/api/nonconformity_service.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "tests/collector/evaluation/evaluation_stack.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

TEST(NonconformityServiceTest, AStepWaitsWhileItsModelIsTakenOver) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kParityPlan);
  for (int i = 0; i < 6 && s.ncs->List({}).empty(); ++i) {
    clock.Advance(absl::Seconds(10));
    s.Report(&clock, 0.3);
    s.evaluator->EvaluateDue();
  }
  ASSERT_EQ(s.ncs->List({}).size(), 1u);
  const std::string id = s.ncs->List({})[0].id();
  Authorizer open;
  NonconformityService service(
      "c1", s.ncs.get(), s.evaluator.get(), s.audit.get(),
      [](const std::string&) { return v1::PlanInfo(); }, &open);
  bool taking_over = true;
  service.SetTakingOver([&](const std::string& model) {
    return taking_over && model == Model().name();
  });
  v1::TransitionRequest ack;
  ack.set_id(id);
  ack.set_to(v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
  ack.set_comment("seen");
  ack.set_actor("alice");
  Principal alice{"alice"};
  v1::Nonconformity out;
  absl::Status s1 = service.Transition(alice, ack, &out);
  EXPECT_TRUE(absl::IsUnavailable(s1)) << s1;
  EXPECT_NE(s1.message().find(id), std::string::npos) << s1;
  v1::UpdateNonconformityRequest update;
  update.set_id(id);
  update.set_owner("bo");
  EXPECT_TRUE(absl::IsUnavailable(service.Update(alice, update, &out)));
  EXPECT_EQ(s.ncs->Get(id)->stage(), v1::NONCONFORMITY_STAGE_OPEN);
  // Taken over: the step is made.
  taking_over = false;
  absl::Status made = service.Transition(alice, ack, &out);
  ASSERT_TRUE(made.ok()) << made.ToString();
  EXPECT_EQ(out.stage(), v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
}

}  // namespace
}  // namespace aims::collector
