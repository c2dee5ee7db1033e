// NonconformityService in fleet mode, on the evaluation side of a collector
// (real RocksDB in a temp dir, FakeClock): while this collector takes a
// model over, a step on one of its records waits (UNAVAILABLE), since the
// version being taken over would replace it. Each collector keeps its own
// audit trail: two services over real gRPC on loopback verify each
// other's and list the one asked for.
#include "collector/api/nonconformity_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/collector/compliance/audit_tamper.h"
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

// One collector's evaluation side, its service on a loopback port and its
// router over `members`.
struct Member {
  Member(const std::string& dir, FakeClock* clock, const Authorizer* open)
      : stack(dir, clock, kParityPlan),
        service(
            "c", stack.ncs.get(), stack.evaluator.get(), stack.audit.get(),
            [](const std::string&) { return v1::PlanInfo(); }, open) {
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    address = absl::StrCat("127.0.0.1:", port);
  }
  ~Member() { server->Shutdown(); }
  void Join(const std::vector<std::string>& members) {
    FleetRouter::Options options;
    options.self = address;
    options.credentials = grpc::InsecureChannelCredentials();
    options.timeout = absl::Seconds(5);
    router = std::make_unique<FleetRouter>(
        options, [](const std::string&) { return std::string(); },
        [members] { return members; });
    service.SetRouter(router.get(), "");
  }
  Stack stack;
  NonconformityService service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<FleetRouter> router;
  std::string address;
};

TEST(NonconformityServiceTest, EveryMembersAuditTrailIsVerifiedAndListed) {
  testing::TempDir dir;
  FakeClock clock;
  Authorizer open;
  {
    // The second collector's first record is edited while it is stopped.
    Stack before(dir.File("c2"), &clock, kParityPlan);
    clock.Advance(absl::Seconds(1));
    ASSERT_TRUE(
        before.audit->Append({"note", "bo", {{"text", "checked"}}}).ok());
  }
  const absl::Status tampered =
      TamperWithAuditRecord(dir.File("c2"), 1, "mallory");
  ASSERT_TRUE(tampered.ok()) << tampered;
  Member a(dir.File("c1"), &clock, &open);
  Member b(dir.File("c2"), &clock, &open);
  const std::vector<std::string> members = {a.address, b.address};
  a.Join(members);
  b.Join(members);

  v1::VerifyAuditResponse verify;
  a.service.Verify(&verify);
  EXPECT_TRUE(verify.intact());  // the asked collector's own trail
  ASSERT_EQ(verify.fleet_size(), 2);
  EXPECT_EQ(verify.fleet(0).address(), a.address);
  EXPECT_TRUE(verify.fleet(0).self());
  EXPECT_TRUE(verify.fleet(0).audit().intact());
  EXPECT_EQ(verify.fleet(0).audit().records_checked(),
            a.stack.audit->Verify().records_checked());
  EXPECT_EQ(verify.fleet(1).address(), b.address);
  EXPECT_TRUE(verify.fleet(1).answered());
  EXPECT_FALSE(verify.fleet(1).audit().intact());
  EXPECT_EQ(verify.fleet(1).audit().first_broken_index(), 1u);
  EXPECT_EQ(verify.fleet(1).audit().fleet_size(), 0);  // asked for its own
  // Scoped to one collector: its own only.
  v1::VerifyAuditResponse own;
  b.service.Verify(&own, CallScope::kCollector);
  EXPECT_FALSE(own.intact());
  EXPECT_EQ(own.fleet_size(), 0);

  // The second's trail listed through the first: the records it holds.
  v1::ListAuditRequest list;
  list.set_limit(100);
  list.set_collector(b.address);
  v1::ListAuditResponse theirs;
  ASSERT_TRUE(a.service.Audit(list, &theirs).ok());
  const std::vector<v1::AuditRecord> held = b.stack.audit->List(0, 100);
  ASSERT_EQ(theirs.records_size(), static_cast<int>(held.size()));
  ASSERT_GE(held.size(), 2u);
  for (size_t i = 0; i < held.size(); ++i)
    EXPECT_EQ(theirs.records(i).hash(), held[i].hash()) << i;
  EXPECT_EQ(theirs.records(0).actor(), "mallory");
  EXPECT_EQ(theirs.collector(), b.address);
  EXPECT_EQ(std::vector<std::string>(theirs.collectors().begin(),
                                     theirs.collectors().end()),
            members);
  // Without a member: the asked collector's own.
  list.clear_collector();
  v1::ListAuditResponse mine;
  ASSERT_TRUE(a.service.Audit(list, &mine).ok());
  EXPECT_EQ(mine.collector(), a.address);
  ASSERT_GE(mine.records_size(), 1);
  EXPECT_EQ(mine.records(0).hash(), a.stack.audit->List(0, 1)[0].hash());
  // A name that is no member is refused, naming the field and the members.
  list.set_collector("127.0.0.1:1");
  v1::ListAuditResponse none;
  absl::Status refused = a.service.Audit(list, &none);
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
  EXPECT_NE(refused.message().find("collector: '127.0.0.1:1'"),
            std::string::npos)
      << refused;
  EXPECT_NE(refused.message().find(b.address), std::string::npos) << refused;

  // A member that does not answer is named, not verified.
  b.server->Shutdown();
  v1::VerifyAuditResponse partial;
  a.service.Verify(&partial);
  ASSERT_EQ(partial.fleet_size(), 2);
  EXPECT_FALSE(partial.fleet(1).answered());
  EXPECT_FALSE(partial.fleet(1).error().empty());
  list.set_collector(b.address);
  absl::Status silent = a.service.Audit(list, &none);
  EXPECT_TRUE(absl::IsUnavailable(silent)) << silent;
}

TEST(NonconformityServiceTest, ACollectorAloneListsItsOwnTrailOnly) {
  testing::TempDir dir;
  FakeClock clock;
  Stack s(dir.path(), &clock, kParityPlan);
  Authorizer open;
  NonconformityService service(
      "c1", s.ncs.get(), s.evaluator.get(), s.audit.get(),
      [](const std::string&) { return v1::PlanInfo(); }, &open);
  v1::VerifyAuditResponse verify;
  service.Verify(&verify);
  EXPECT_TRUE(verify.intact());
  EXPECT_EQ(verify.fleet_size(), 0);
  v1::ListAuditRequest list;
  list.set_limit(10);
  v1::ListAuditResponse records;
  ASSERT_TRUE(service.Audit(list, &records).ok());
  EXPECT_EQ(records.records_size(), 1);
  EXPECT_TRUE(records.collector().empty());
  list.set_collector("127.0.0.1:4317");
  absl::Status refused = service.Audit(list, &records);
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
  EXPECT_NE(refused.message().find("collector:"), std::string::npos);
}

}  // namespace
}  // namespace aims::collector
