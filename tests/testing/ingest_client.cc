#include "tests/testing/ingest_client.h"

#include "absl/strings/str_cat.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "common/time_util.h"
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

}  // namespace aims::testing
