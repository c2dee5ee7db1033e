// The agent's gRPC intake in-process over real gRPC (loopback): admitted
// calls hand valid items to the callbacks and explain invalid ones; refused
// calls get their status.
#include "agent/intake_service.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace aims::agent {
namespace {

class IntakeServiceTest : public ::testing::Test {
 protected:
  void Start(size_t max_events_per_call) {
    service_ = std::make_unique<IntakeService>(
        &metrics_, EventLimits(), max_events_per_call,
        /*max_message_bytes=*/1 << 20, /*max_in_flight=*/4, &accepting_,
        /*token_sha256=*/"",
        [this](EventBatch* batch, absl::string_view) {
          absl::MutexLock lock(&mu_);
          events_ += batch->events.size();
          rejected_ += batch->errors.size();
          return absl::OkStatus();
        },
        [this](LabelBatch* batch) {
          absl::MutexLock lock(&mu_);
          labels_ += batch->labels.size();
          rejected_ += batch->errors.size();
          return absl::OkStatus();
        });
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    stub_ = v1::AgentIntakeService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  AgentMetrics metrics_{std::make_shared<prometheus::Registry>()};
  std::atomic<bool> accepting_{true};
  std::unique_ptr<IntakeService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::AgentIntakeService::Stub> stub_;
  absl::Mutex mu_;
  size_t events_ ABSL_GUARDED_BY(mu_) = 0;
  size_t labels_ ABSL_GUARDED_BY(mu_) = 0;
  size_t rejected_ ABSL_GUARDED_BY(mu_) = 0;
};

// Admitted calls finish with the one default reactor of their context (a
// second DefaultReactor() aborted the agent in builds with assertions).
TEST_F(IntakeServiceTest, AdmittedCallsAcceptValidAndExplainInvalidItems) {
  Start(/*max_events_per_call=*/10);
  v1::SubmitEventsRequest events;
  events.add_events()->mutable_prediction()->set_number(1);
  events.add_events()->set_prediction_id(std::string(200, 'x'));
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    v1::SubmitResponse response;
    const grpc::Status s = stub_->SubmitEvents(&ctx, events, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.accepted(), 1u);
    EXPECT_EQ(response.rejected(), 1u);
    ASSERT_EQ(response.errors_size(), 1);
    EXPECT_EQ(response.errors(0).index(), 1u);
    EXPECT_EQ(response.errors(0).field(), "prediction_id");
  }
  v1::SubmitLabelsRequest labels;
  v1::LabelEvent* label = labels.add_labels();
  label->set_prediction_id("p1");
  label->mutable_label()->set_number(1);
  labels.add_labels()->set_prediction_id("p2");  // no label
  grpc::ClientContext ctx;
  v1::SubmitResponse response;
  const grpc::Status s = stub_->SubmitLabels(&ctx, labels, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.accepted(), 1u);
  ASSERT_EQ(response.errors_size(), 1);
  EXPECT_EQ(response.errors(0).field(), "label");
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(events_, 3u);
  EXPECT_EQ(labels_, 1u);
  EXPECT_EQ(rejected_, 4u);
}

TEST_F(IntakeServiceTest, RefusedCallsGetTheirStatus) {
  Start(/*max_events_per_call=*/2);
  v1::SubmitEventsRequest events;
  for (int i = 0; i < 3; ++i) events.add_events();
  {
    grpc::ClientContext ctx;
    v1::SubmitResponse response;
    const grpc::Status s = stub_->SubmitEvents(&ctx, events, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(),
              "events: 3 items, limit 2 (--max_events_per_batch)");
  }
  accepting_ = false;
  grpc::ClientContext ctx;
  v1::SubmitResponse response;
  const grpc::Status s =
      stub_->SubmitLabels(&ctx, v1::SubmitLabelsRequest(), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(events_ + labels_ + rejected_, 0u);
}

}  // namespace
}  // namespace aims::agent
