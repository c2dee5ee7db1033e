// The collector's label endpoints (POST /v1/labels, LabelService) against a
// real Collector with a tokens file: who may post, per-item errors, the
// per-call limit, and that accepted labels are in the join.
#include "collector/api/label_service.h"

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "aims/v1/labels.grpc.pb.h"
#include "collector/collector.h"
#include "common/net/bearer_token.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

class LabelServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream out(dir_.File("tokens.yaml"));
    out << "tokens:\n"
        << "  - {name: pods, role: agent, models: [credit], sha256: "
        << TokenSha256(agent_) << "}\n"
        << "  - {name: val, role: viewer, sha256: " << TokenSha256(viewer_)
        << "}\n"
        << "  - {name: root, role: admin, sha256: " << TokenSha256(admin_)
        << "}\n";
    out.close();
    CollectorOptions options;
    options.grpc_listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    options.data_dir = dir_.File("data");
    options.sync_writes = false;
    options.evaluate_in_background = false;
    options.auth_tokens_file = dir_.File("tokens.yaml");
    collector_ = std::make_unique<Collector>(options);
    ASSERT_TRUE(collector_->Start().ok());
  }

  httplib::Result Post(const std::string& token, const std::string& query,
                       const std::string& body) {
    httplib::Client http("127.0.0.1", collector_->http_port());
    return http.Post("/v1/labels" + query,
                     {{"Authorization", "Bearer " + token}}, body,
                     "application/json");
  }

  double Metric(const std::string& series) {
    httplib::Client http("127.0.0.1", collector_->http_port());
    auto page = http.Get("/metrics");
    return page ? testing::MetricValue(page->body, series) : -1;
  }

  testing::TempDir dir_;
  std::string agent_ = NewToken(), viewer_ = NewToken(), admin_ = NewToken();
  std::unique_ptr<Collector> collector_;
};

TEST_F(LabelServiceTest, HttpNamesRefusedItemsAndStoresTheRest) {
  auto res = Post(agent_, "?model=credit&environment=prod",
                  R"([{"prediction_id":"p1","label":1},
                      {"label":0},
                      {"prediction_id":"p2","label":"yes"},
                      {"prediction_id":"p1","label":0}])");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_TRUE(absl::StrContains(res->body, R"("accepted":2)")) << res->body;
  EXPECT_TRUE(absl::StrContains(res->body, R"("rejected":2)")) << res->body;
  // Item 1 lacks its prediction_id; item 3 repeats p1 within the request.
  EXPECT_TRUE(
      absl::StrContains(res->body, R"("index":1,"field":"prediction_id")"))
      << res->body;
  EXPECT_TRUE(absl::StrContains(res->body, R"("index":3)")) << res->body;
  // No prediction is known yet: both wait in the join.
  EXPECT_EQ(Metric("aims_collector_label_pending"), 2);
}

TEST_F(LabelServiceTest, WhoMayPostLabels) {
  const std::string body = R"({"prediction_id":"p9","label":1})";
  auto viewer = Post(viewer_, "?model=credit", body);
  ASSERT_TRUE(viewer);
  EXPECT_EQ(viewer->status, 403) << viewer->body;
  auto other_model = Post(agent_, "?model=fraud", body);
  ASSERT_TRUE(other_model);
  EXPECT_EQ(other_model->status, 403) << other_model->body;
  auto nobody = Post("", "?model=credit", body);
  ASSERT_TRUE(nobody);
  EXPECT_EQ(nobody->status, 401);
  auto admin = Post(admin_, "?model=fraud", body);
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->status, 200) << admin->body;
  auto no_model = Post(admin_, "", body);
  ASSERT_TRUE(no_model);
  EXPECT_EQ(no_model->status, 400);
  EXPECT_TRUE(absl::StrContains(no_model->body, "model: required"));
  EXPECT_EQ(Metric("aims_collector_label_pending"), 1);
}

TEST_F(LabelServiceTest, GrpcLimitsACallToTenThousandLabels) {
  auto stub = v1::LabelService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", collector_->grpc_port()),
                          grpc::InsecureChannelCredentials()));
  v1::SubmitModelLabelsRequest request;
  request.set_model("credit");
  for (int i = 0; i <= 10000; ++i) {
    v1::LabelEvent* l = request.add_labels();
    l->set_prediction_id(absl::StrCat("p", i));
    l->mutable_label()->set_class_label("1");
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + agent_);
    v1::SubmitResponse response;
    grpc::Status status = stub->SubmitLabels(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(),
              "labels: 10001 items, limit 10000 (--max_labels_per_batch)");
  }
  request.mutable_labels()->RemoveLast();
  request.mutable_labels(5)->clear_label();
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + agent_);
  v1::SubmitResponse response;
  ASSERT_TRUE(stub->SubmitLabels(&context, request, &response).ok());
  EXPECT_EQ(response.accepted(), 9999u);
  ASSERT_EQ(response.errors_size(), 1);
  EXPECT_EQ(response.errors(0).index(), 5u);
  EXPECT_EQ(response.errors(0).field(), "label");
  EXPECT_EQ(Metric("aims_collector_label_pending"), 9999);
}

}  // namespace
}  // namespace aims::collector
