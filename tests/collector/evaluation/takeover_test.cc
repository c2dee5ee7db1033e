// A nonconformity taken over with its model (fleet mode, docs/scale-out.md):
// the new owner adopts the record and the series state its former owner
// held, then renews and resolves it as if it had opened it. Two evaluation
// stacks on real RocksDB in temp dirs stand for two collectors; FakeClock.
#include <string>

#include "collector/compliance/nonconformities.h"
#include "collector/evaluation/evaluator.h"
#include "collector/evaluation/objective_series.h"
#include "common/base/time_util.h"
#include "gtest/gtest.h"
#include "tests/collector/evaluation/evaluation_stack.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

// Reports `f_rate` and evaluates every 10 s until `state` (1 to 12 times).
void RunUntil(Stack& s, FakeClock& clock, double f_rate,
              v1::ObjectiveState state) {
  for (int i = 0; i < 12; ++i) {
    clock.Advance(absl::Seconds(10));
    s.Report(&clock, f_rate);
    s.evaluator->EvaluateDue();
    if (s.State("parity").state() == state) break;
  }
  ASSERT_EQ(s.State("parity").state(), state);
}

TEST(TakeoverTest, TheNewOwnerResolvesTheRecordItAdopted) {
  testing::TempDir dir;
  FakeClock clock;
  Stack first(dir.File("c1"), &clock, kParityPlan);
  first.ncs->SetIdPrefix("c1");
  RunUntil(first, clock, 0.3, v1::OBJECTIVE_STATE_FIRING);
  const std::string id = first.State("parity").nonconformity_id();
  ASSERT_EQ(id, "NC-c1-000001");

  // What replication carried to the peer: the series state and the record.
  Stack second(dir.File("c2"), &clock, kParityPlan);
  second.ncs->SetIdPrefix("c2");
  const std::string key = SeriesKey("parity", first.State("parity").series());
  ASSERT_TRUE(second.storage
                  ->Apply({{Table::kEvaluation, key,
                            first.State("parity").SerializeAsString()}})
                  .ok());
  absl::StatusOr<bool> adopted = second.ncs->Adopt(*first.ncs->Get(id), "c1");
  ASSERT_TRUE(adopted.ok()) << adopted.status();
  EXPECT_TRUE(*adopted);
  ASSERT_TRUE(second.evaluator->Load().ok());

  // Still breached: the same record, nothing opened again.
  clock.Advance(absl::Seconds(10));
  second.Report(&clock, 0.3);
  second.evaluator->EvaluateDue();
  EXPECT_EQ(second.State("parity").state(), v1::OBJECTIVE_STATE_FIRING);
  EXPECT_EQ(second.State("parity").nonconformity_id(), id);
  // Fair again: the new owner auto-resolves the record it adopted.
  RunUntil(second, clock, 0.6, v1::OBJECTIVE_STATE_RESOLVED);
  absl::StatusOr<v1::Nonconformity> nc = second.ncs->Get(id);
  ASSERT_TRUE(nc.ok());
  EXPECT_TRUE(nc->auto_resolved());
  EXPECT_EQ(second.ncs->List({}).size(), 1u);
  // Its audit trail names the adoption and verifies.
  bool named = false;
  for (const v1::AuditRecord& r : second.audit->List(0, 1000)) {
    if (r.kind() == "nc_adopted") named = true;
  }
  EXPECT_TRUE(named);
  const v1::VerifyAuditResponse verify = second.audit->Verify();
  EXPECT_TRUE(verify.intact()) << verify.detail();
  // The former owner's copy is as it was; the later version is adopted
  // back, the older one is not.
  absl::StatusOr<bool> back = first.ncs->Adopt(*nc, "c2");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back);
  EXPECT_TRUE(first.ncs->Get(id)->auto_resolved());
  back = second.ncs->Adopt(*first.ncs->Get(id), "c1");
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(*back);
}

// A collector that lost its storage numbers new records beyond the ones of
// its own it takes back.
TEST(TakeoverTest, NewRecordsAreNumberedBeyondAnAdoptedOwnRecord) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.File("c1"), &clock, kParityPlan);
  s.ncs->SetIdPrefix("c1");
  v1::Nonconformity earlier;
  earlier.set_id("NC-c1-000007");
  earlier.set_objective_id("retired");
  *earlier.mutable_model() = Model();
  *earlier.mutable_opened_at() = ToProto(clock.Now());
  earlier.add_history()->set_to(v1::NONCONFORMITY_STAGE_OPEN);
  ASSERT_TRUE(s.ncs->Adopt(earlier, "c2").ok());
  RunUntil(s, clock, 0.3, v1::OBJECTIVE_STATE_FIRING);
  EXPECT_EQ(s.State("parity").nonconformity_id(), "NC-c1-000008");
  EXPECT_EQ(s.ncs->List({}).size(), 2u);
}

TEST(TakeoverTest, AdoptRefusesAnotherRecordUnderTheSameId) {
  testing::TempDir dir;
  FakeClock clock;
  Stack first(dir.File("c1"), &clock, kParityPlan);
  Stack second(dir.File("c2"), &clock, kParityPlan);
  // Both opened NC-000001 (no fleet prefix: their ids clash).
  RunUntil(first, clock, 0.3, v1::OBJECTIVE_STATE_FIRING);
  clock.Advance(absl::Seconds(5));
  RunUntil(second, clock, 0.3, v1::OBJECTIVE_STATE_FIRING);
  absl::StatusOr<bool> adopted =
      second.ncs->Adopt(*first.ncs->Get("NC-000001"), "c1");
  EXPECT_TRUE(absl::IsFailedPrecondition(adopted.status())) << adopted.status();
  EXPECT_NE(adopted.status().message().find("--collector_id"),
            std::string::npos);
}

}  // namespace
}  // namespace aims::collector
