// QueryService in fleet mode: two services over real gRPC on loopback, each
// on its own RocksDB, with routers that name the other as the owner of a
// model. A query about the model, and labels posted for it, go to its
// owner, once; a listing merges.
#include "collector/api/fleet_router.h"

#include "collector/api/label_service.h"
#include "collector/api/nonconformity_service.h"
#include "collector/api/query_service.h"
#include "collector/auth/authorizer.h"
#include "collector/labels/label_join.h"
#include "collector/storage/rocks_storage.h"
#include "common/base/clock.h"
#include "common/base/time_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

// One collector's query service: storage, service, server, router.
struct Node {
  std::unique_ptr<RocksStorage> storage;
  std::unique_ptr<QueryService> service;
  std::unique_ptr<LabelJoin> join;
  std::unique_ptr<LabelService> labels;
  // What the label service passed on for copying to the peer.
  std::vector<std::string> stored_labels;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<FleetRouter> router;
  std::string address;
};

class FleetRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) {
      Node& n = nodes_[i];
      RocksStorageOptions options;
      options.path = dir_.File(absl::StrCat("n", i));
      options.sync_writes = false;
      auto opened = RocksStorage::Open(options);
      ASSERT_TRUE(opened.ok()) << opened.status();
      n.storage = std::move(*opened);
      n.service = std::make_unique<QueryService>(
          absl::StrCat("n", i), n.storage.get(), &RealClock::Get(),
          [](const std::string&) { return false; }, &authorizer_);
      int port = 0;
      grpc::ServerBuilder builder;
      builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                               &port);
      auto join = LabelJoin::Open(n.storage.get(), &RealClock::Get(),
                                  LabelJoinOptions(), nullptr);
      ASSERT_TRUE(join.ok()) << join.status();
      n.join = std::move(*join);
      n.labels = std::make_unique<LabelService>(n.join.get(), &authorizer_,
                                                &RealClock::Get(), 1000);
      builder.RegisterService(n.service.get());
      builder.RegisterService(n.labels.get());
      n.server = builder.BuildAndStart();
      ASSERT_NE(port, 0);
      n.address = absl::StrCat("127.0.0.1:", port);
    }
    // Each names the other the owner of every model: without the scope
    // marker a forwarded call would bounce between them.
    for (int i = 0; i < 2; ++i) {
      FleetRouter::Options options;
      options.self = nodes_[i].address;
      options.credentials = grpc::InsecureChannelCredentials();
      options.timeout = absl::Seconds(5);
      const std::string other = nodes_[1 - i].address;
      std::vector<std::string> members = {nodes_[0].address, nodes_[1].address};
      nodes_[i].router = std::make_unique<FleetRouter>(
          options, [other](const std::string&) { return other; },
          [members] { return members; });
      nodes_[i].service->SetRouter(nodes_[i].router.get());
      nodes_[i].labels->SetRouter(
          nodes_[i].router.get(),
          [n = &nodes_[i]](const v1::ModelRef&,
                           const std::vector<LabelEvent>& labels, absl::Time) {
            for (const LabelEvent& l : labels)
              n->stored_labels.push_back(l.prediction_id);
          });
    }
  }

  void TearDown() override {
    for (Node& n : nodes_) n.server->Shutdown();
  }

  // Stores `count` one-second windows of agent `agent` of `model` on node i.
  void Store(int i, const std::string& agent, const std::string& model,
             int count) {
    v1::Hello hello;
    hello.mutable_agent()->set_agent_id(agent);
    hello.mutable_model()->set_name(model);
    hello.mutable_model()->set_version("v1");
    hello.mutable_model()->set_environment("prod");
    hello.set_protocol_version(1);
    ASSERT_TRUE(nodes_[i].storage->RegisterAgent(hello, absl::Now()).ok());
    std::vector<v1::WindowReport> reports(count);
    std::vector<const v1::WindowReport*> pointers;
    for (int s = 0; s < count; ++s) {
      v1::WindowReport& r = reports[s];
      r.set_agent_id(agent);
      r.set_sequence(s + 1);
      *r.mutable_window_start() = ToProto(kStart + absl::Seconds(s));
      *r.mutable_window_end() = ToProto(kStart + absl::Seconds(s + 1));
      r.mutable_summary()->mutable_operational()->set_event_count(10);
      pointers.push_back(&r);
    }
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE(
        nodes_[i].storage->WriteReports(pointers, absl::Now(), &outcomes).ok());
  }

  v1::GetSummariesRequest Range(const std::string& model) const {
    v1::GetSummariesRequest request;
    request.mutable_model()->set_name(model);
    request.mutable_model()->set_version("v1");
    request.mutable_model()->set_environment("prod");
    *request.mutable_from() = ToProto(kStart);
    *request.mutable_to() = ToProto(kStart + absl::Hours(1));
    return request;
  }

  const absl::Time kStart = absl::Now() - absl::Hours(2);
  testing::TempDir dir_;
  Authorizer authorizer_;  // open
  Node nodes_[2];
};

TEST_F(FleetRouterTest, AModelsQueriesAreAnsweredByItsOwnerOnce) {
  Store(1, "owner-agent", "credit", 5);  // node 1 owns "credit"
  Store(0, "old-agent", "credit", 2);    // node 0 holds an older copy

  v1::GetSummariesResponse routed;
  ASSERT_TRUE(nodes_[0].service->GetSummaries(Range("credit"), &routed).ok());
  ASSERT_EQ(routed.buckets_size(), 1);
  EXPECT_EQ(routed.collector_id(), "n1");  // answered by the owner
  EXPECT_EQ(routed.buckets(0).report_count(), 5u);
  EXPECT_EQ(routed.buckets(0).summary().operational().event_count(), 50u);

  v1::GetSummariesResponse own;
  ASSERT_TRUE(
      nodes_[0]
          .service->GetSummaries(Range("credit"), &own, CallScope::kCollector)
          .ok());
  EXPECT_EQ(own.collector_id(), "n0");
  ASSERT_EQ(own.buckets_size(), 1);
  EXPECT_EQ(own.buckets(0).report_count(), 2u);

  // Metrics too, from the owner's summaries.
  v1::QueryMetricsRequest metrics;
  *metrics.mutable_model() = Range("credit").model();
  *metrics.mutable_from() = Range("credit").from();
  *metrics.mutable_to() = Range("credit").to();
  v1::QueryMetricsResponse points;
  ASSERT_TRUE(nodes_[0].service->QueryMetrics(metrics, &points).ok());
  EXPECT_EQ(points.collector_id(), "n1");
  ASSERT_EQ(points.points_size(), 1);
  EXPECT_EQ(points.points(0).event_count(), 50u);
}

TEST_F(FleetRouterTest, ListingsMergeEveryMemberPreferringTheOwner) {
  Store(1, "owner-agent", "credit", 5);
  Store(0, "old-agent", "credit", 2);
  Store(0, "fraud-agent", "fraud", 3);

  v1::ListModelsResponse models;
  ASSERT_TRUE(nodes_[0].service->ListModels({}, &models).ok());
  ASSERT_EQ(models.models_size(), 2);
  // Sorted by name; "credit" is the owner's entry (node 1: 5 reports), not
  // node 0's copy (2 reports). "fraud" only node 0 holds.
  EXPECT_EQ(models.models(0).model().name(), "credit");
  EXPECT_EQ(models.models(0).report_count(), 5u);
  EXPECT_EQ(models.models(1).model().name(), "fraud");
  EXPECT_EQ(models.models(1).report_count(), 3u);

  v1::ListAgentsResponse agents;
  ASSERT_TRUE(nodes_[0].service->ListAgents({}, &agents).ok());
  EXPECT_EQ(agents.agents_size(), 3);
  v1::ListAgentsResponse own;
  ASSERT_TRUE(
      nodes_[0].service->ListAgents({}, &own, CallScope::kCollector).ok());
  EXPECT_EQ(own.agents_size(), 2);
}

// A member that does not answer is named in a listing, which keeps the
// others' entries.
TEST_F(FleetRouterTest, AListingNamesTheMembersThatDidNotAnswer) {
  Store(0, "a", "credit", 1);
  nodes_[1].server->Shutdown();
  v1::ListModelsResponse models;
  ASSERT_TRUE(nodes_[0].service->ListModels({}, &models).ok());
  EXPECT_EQ(models.models_size(), 1);
  ASSERT_EQ(models.unanswered_collectors_size(), 1);
  EXPECT_EQ(models.unanswered_collectors(0), nodes_[1].address);
  v1::ListAgentsResponse agents;
  ASSERT_TRUE(nodes_[0].service->ListAgents({}, &agents).ok());
  EXPECT_EQ(agents.agents_size(), 1);
  EXPECT_EQ(agents.unanswered_collectors_size(), 1);
}

TEST_F(FleetRouterTest, AProposedProfileIsStoredByTheOwner) {
  v1::PutProfileRequest put;
  v1::ReferenceProfile* profile = put.mutable_profile();
  profile->mutable_model()->set_name("credit");
  profile->mutable_model()->set_version("v1");
  profile->set_row_count(100);
  put.set_if_absent(true);
  v1::PutProfileResponse stored;
  absl::Status s = nodes_[0].service->PutProfile(put, &stored);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(stored.created());
  v1::GetProfileRequest get;
  *get.mutable_model() = profile->model();
  EXPECT_TRUE(nodes_[1].storage->GetProfile(get.model()).ok());
  EXPECT_FALSE(nodes_[0].storage->GetProfile(get.model()).ok());
  v1::ReferenceProfile read;
  EXPECT_TRUE(nodes_[0].service->GetProfile(get, &read).ok());
  EXPECT_EQ(read.profile_id(), stored.profile_id());
}

TEST_F(FleetRouterTest, LabelsPostedAnywhereAreStoredByTheOwner) {
  v1::ModelRef model;
  model.set_name("credit");
  model.set_environment("prod");
  LabelBatch batch;
  for (const char* id : {"p-1", "p-2"}) {
    LabelEvent label;
    label.prediction_id = id;
    label.label.kind = Outcome::Kind::kClass;
    label.label.class_label = "1";
    batch.labels.push_back(label);
    batch.indices.push_back(batch.indices.size());
  }
  EventError refused;  // found by this collector's parsing, at position 2
  refused.index = 2;
  refused.field = "label";
  refused.reason = "required";
  batch.errors.push_back(refused);
  v1::SubmitResponse response;
  const absl::Status s = nodes_[0].labels->Submit(model, &batch, &response);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(response.accepted(), 2u);
  EXPECT_EQ(response.rejected(), 1u);
  ASSERT_EQ(response.errors_size(), 1);
  EXPECT_EQ(response.errors(0).index(), 2u);
  // Waiting on the owner for their predictions, and passed on for its
  // peer there; nothing here.
  EXPECT_EQ(nodes_[1].join->counts().pending, 2u);
  EXPECT_EQ(nodes_[0].join->counts().pending, 0u);
  EXPECT_EQ(nodes_[1].stored_labels, (std::vector<std::string>{"p-1", "p-2"}));
  EXPECT_TRUE(nodes_[0].stored_labels.empty());

  nodes_[1].server->Shutdown();
  LabelBatch again;
  again.labels.push_back(batch.labels[0]);
  again.indices.push_back(0);
  const absl::Status down = nodes_[0].labels->Submit(model, &again, &response);
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  EXPECT_NE(
      down.message().find("the model's owner, collector " + nodes_[1].address),
      std::string::npos)
      << down;
}

TEST_F(FleetRouterTest, AnOwnerThatDoesNotAnswerIsNamed) {
  nodes_[1].server->Shutdown();
  v1::GetSummariesResponse response;
  const absl::Status s =
      nodes_[0].service->GetSummaries(Range("credit"), &response);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(
      s.message().find("the model's owner, collector " + nodes_[1].address),
      std::string::npos)
      << s;
  // A listing goes on without it.
  Store(0, "fraud-agent", "fraud", 1);
  v1::ListModelsResponse models;
  ASSERT_TRUE(nodes_[0].service->ListModels({}, &models).ok());
  EXPECT_EQ(models.models_size(), 1);
}

TEST(FleetRouterAnswerTest,
     AnOwnerOutOfReachOrRefusingTheFleetTokenIsUnavailable) {
  const absl::Status refused = FleetRouter::Answer(
      grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid token"),
      "the model's owner", "10.0.0.2:4317");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(refused.message(),
            "the model's owner, collector 10.0.0.2:4317, refused this "
            "collector's fleet token (--fleet_token_file): invalid token");
  EXPECT_EQ(FleetRouter::Answer(
                grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "late"),
                "the record's holder", "10.0.0.3:4317")
                .code(),
            absl::StatusCode::kUnavailable);
  const absl::Status bad =
      FleetRouter::Answer(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                       "to: must be after from"),
                          "the model's owner", "10.0.0.2:4317");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      bad.message(),
      "the model's owner, collector 10.0.0.2:4317: to: must be after from");
}

// Only the fleet's own token, on a forwarded call, writes a step in another
// person's name; an admin's token does not.
TEST(FleetRouterAnswerTest, OnlyTheFleetTokenForwardsAPersonsStep) {
  Principal fleet{"fleet", Role::kAdmin, {}, true};
  Principal adam{"adam", Role::kAdmin, {}, true};
  Principal open{"anonymous", Role::kAdmin, {}, false};
  EXPECT_TRUE(NonconformityService::ForwardedByFleet(
      fleet, CallScope::kCollector, "fleet"));
  EXPECT_FALSE(NonconformityService::ForwardedByFleet(
      adam, CallScope::kCollector, "fleet"));
  EXPECT_FALSE(NonconformityService::ForwardedByFleet(fleet, CallScope::kFleet,
                                                      "fleet"));
  EXPECT_FALSE(NonconformityService::ForwardedByFleet(
      open, CallScope::kCollector, "anonymous"));
  EXPECT_FALSE(
      NonconformityService::ForwardedByFleet(fleet, CallScope::kCollector, ""));
}

}  // namespace
}  // namespace aims::collector
