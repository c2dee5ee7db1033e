// The agent's Sender follows Redirect (fleet mode, docs/scale-out.md): to
// the target at once, and back to its configured collector when the target
// is gone, which then names the model's new owner. The collectors here are
// small gRPC servers on loopback that speak the ingest protocol's opening;
// the Sender and its Spool are the real ones.
#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/agent_metrics.h"
#include "agent/sender.h"
#include "agent/spool.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace aims {
namespace {

using testing::WaitFor;

// Answers every Hello with Welcome (owner) or Redirect{target} (not owner).
class FakeCollector final : public v1::IngestService::Service {
 public:
  grpc::Status Report(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::IngestResponse, v1::IngestRequest>* stream)
      override {
    v1::IngestRequest request;
    if (!stream->Read(&request) || !request.has_hello()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no hello");
    }
    ++hellos;
    v1::IngestResponse response;
    const std::string target = redirect_to();
    if (!target.empty()) {
      response.mutable_redirect()->set_target(target);
      stream->Write(response);
      return grpc::Status::OK;
    }
    response.mutable_welcome()->set_collector_id("owner");
    stream->Write(response);
    while (stream->Read(&request)) {
    }
    return grpc::Status::OK;
  }

  std::string redirect_to() {
    absl::MutexLock lock(&mu_);
    return redirect_to_;
  }
  void set_redirect_to(std::string target) {
    absl::MutexLock lock(&mu_);
    redirect_to_ = std::move(target);
  }

  std::atomic<int> hellos{0};

 private:
  absl::Mutex mu_;
  std::string redirect_to_ ABSL_GUARDED_BY(mu_);
};

struct Server {
  FakeCollector service;
  std::unique_ptr<grpc::Server> server;
  std::string address;

  Server() {
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    address = absl::StrCat("127.0.0.1:", port);
  }
  void Stop() {
    server->Shutdown(std::chrono::system_clock::now());
    server->Wait();
  }
};

TEST(SenderRedirectTest, FollowsRedirectAndFallsBackWhenTheOwnerIsGone) {
  Server configured, owner, next_owner;
  configured.service.set_redirect_to(owner.address);

  testing::TempDir dir;
  agent::SpoolOptions spool_options;
  spool_options.dir = dir.path();
  auto spool = agent::Spool::Open(spool_options);
  ASSERT_TRUE(spool.ok()) << spool.status();
  agent::AgentMetrics metrics(std::make_shared<prometheus::Registry>());
  agent::SenderOptions options;
  options.collector = configured.address;
  options.initial_backoff = absl::Milliseconds(10);
  options.max_backoff = absl::Milliseconds(50);
  agent::Sender sender(options, spool->get(), &metrics);
  sender.Start();

  ASSERT_TRUE(WaitFor([&] { return sender.connected(); }, absl::Seconds(10)));
  EXPECT_EQ(sender.target(), owner.address);
  EXPECT_EQ(configured.service.hellos, 1);
  EXPECT_EQ(owner.service.hellos, 1);

  // The owner dies and the configured collector learns the new owner: the
  // sender cannot reach the old one, asks the configured collector again
  // and is sent on to the new owner.
  owner.Stop();
  configured.service.set_redirect_to(next_owner.address);
  ASSERT_TRUE(WaitFor(
      [&] { return sender.connected() && next_owner.service.hellos == 1; },
      absl::Seconds(10)));
  EXPECT_EQ(sender.target(), next_owner.address);
  EXPECT_EQ(configured.service.hellos, 2);
  sender.Stop();
  configured.Stop();
  next_owner.Stop();
}

}  // namespace
}  // namespace aims
