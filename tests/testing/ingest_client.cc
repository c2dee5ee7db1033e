#include "tests/testing/ingest_client.h"

#include "absl/strings/str_cat.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "common/base/time_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace aims::testing {

bool SendWindowReport(int grpc_port, const v1::ModelRef& model,
                      const std::string& agent_id, uint64_t sequence,
                      absl::Time end, const v1::WindowSummary& summary,
                      const std::string& pod) {
  auto stub = v1::IngestService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port),
                          grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  auto stream = stub->Report(&ctx);
  v1::IngestRequest hello;
  hello.mutable_hello()->mutable_agent()->set_agent_id(agent_id);
  hello.mutable_hello()->mutable_agent()->set_pod(pod);
  *hello.mutable_hello()->mutable_model() = model;
  hello.mutable_hello()->set_protocol_version(1);
  v1::IngestResponse resp;
  if (!stream->Write(hello) || !stream->Read(&resp)) {
    ADD_FAILURE() << "no welcome from the collector";
    return false;
  }
  v1::IngestRequest report;
  report.mutable_report()->set_agent_id(agent_id);
  report.mutable_report()->set_sequence(sequence);
  *report.mutable_report()->mutable_window_start() =
      ToProto(end - absl::Seconds(10));
  *report.mutable_report()->mutable_window_end() = ToProto(end);
  *report.mutable_report()->mutable_summary() = summary;
  if (!stream->Write(report)) {
    ADD_FAILURE() << "report not sent";
    return false;
  }
  bool acked = false;
  while (!acked && stream->Read(&resp)) {
    acked = resp.has_ack() && resp.ack().durable_sequence() >= sequence;
  }
  stream->WritesDone();
  while (stream->Read(&resp)) {
  }
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(acked) << "report " << sequence << " not acknowledged";
  EXPECT_TRUE(status.ok()) << status.error_message();
  return acked && status.ok();
}

SimulatedAgent::SimulatedAgent(int grpc_port, v1::ModelRef model,
                               std::string agent_id)
    : grpc_port_(grpc_port),
      model_(std::move(model)),
      agent_id_(std::move(agent_id)),
      channel_(grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port),
                                   grpc::InsecureChannelCredentials())) {}

SimulatedAgent::~SimulatedAgent() = default;

uint64_t SimulatedAgent::Enqueue(absl::Time start, absl::Duration length,
                                 const v1::WindowSummary& summary) {
  const uint64_t sequence = next_sequence_++;
  v1::IngestRequest& request = spool_[sequence];
  v1::WindowReport* r = request.mutable_report();
  r->set_agent_id(agent_id_);
  r->set_sequence(sequence);
  *r->mutable_window_start() = ToProto(start);
  *r->mutable_window_end() = ToProto(start + length);
  *r->mutable_summary() = summary;
  return sequence;
}

bool SimulatedAgent::Flush(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  auto stub = v1::IngestService::NewStub(channel_);
  while (!spool_.empty() && absl::Now() < deadline) {
    // One stream per attempt, bounded by the deadline.
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(deadline));
    auto stream = stub->Report(&ctx);
    v1::IngestRequest hello;
    hello.mutable_hello()->mutable_agent()->set_agent_id(agent_id_);
    *hello.mutable_hello()->mutable_model() = model_;
    hello.mutable_hello()->set_protocol_version(1);
    v1::IngestResponse resp;
    bool ok = stream->Write(hello) && stream->Read(&resp) && resp.has_welcome();
    if (ok) {
      last_welcome_ = resp.welcome().durable_sequence();
      // What the collector holds is done, acknowledged or not.
      spool_.erase(spool_.begin(), spool_.upper_bound(last_welcome_));
      acked_.store(std::max(acked_.load(), last_welcome_));
      for (const auto& [sequence, request] : spool_) {
        if (!(ok = stream->Write(request))) break;
      }
    }
    while (ok && !spool_.empty() && stream->Read(&resp)) {
      if (!resp.has_ack()) continue;
      const uint64_t durable = resp.ack().durable_sequence();
      spool_.erase(spool_.begin(), spool_.upper_bound(durable));
      acked_.store(std::max(acked_.load(), durable));
    }
    if (spool_.empty()) {
      stream->WritesDone();
      while (stream->Read(&resp)) {
      }
    }
    const grpc::Status status = stream->Finish();
    // A deadline says only that time ran out; keep the collector's reason.
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED &&
        status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      last_error_ =
          absl::StrCat(status.error_code(), ": ", status.error_message());
    }
    if (!spool_.empty()) absl::SleepFor(absl::Milliseconds(50));
  }
  return spool_.empty();
}

}  // namespace aims::testing
