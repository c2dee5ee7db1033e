// The collector's ingest protocol over real gRPC on loopback, against a real
// Collector (RocksDB in a temp dir).
#include "collector/ingest/ingest_service.h"

#include "aims/v1/ingest.grpc.pb.h"
#include "aims/v1/query.grpc.pb.h"
#include "collector/collector.h"
#include "common/base/time_util.h"
#include "common/summary/quantile_sketch.h"
#include "google/protobuf/io/coded_stream.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "rocksdb/db.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

using Stream = grpc::ClientReaderWriter<v1::IngestRequest, v1::IngestResponse>;

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CollectorOptions options;
    options.grpc_listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    options.data_dir = dir_.File("data");
    options.collector_id = "c-test";
    options.sync_writes = false;
    // Windows of 1970: a maintenance pass (the first runs as the collector
    // starts, maybe after the first hello) would expire them as past the raw
    // retention, and they would be acknowledged without being counted.
    options.maintenance_interval = absl::ZeroDuration();
    collector_ = std::make_unique<Collector>(options);
    ASSERT_TRUE(collector_->Start().ok());
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", collector_->grpc_port()),
                            grpc::InsecureChannelCredentials());
    ingest_ = v1::IngestService::NewStub(channel_);
    query_ = v1::QueryService::NewStub(channel_);
  }

  static v1::IngestRequest Hello(const std::string& agent) {
    v1::IngestRequest req;
    v1::Hello* h = req.mutable_hello();
    h->mutable_agent()->set_agent_id(agent);
    h->mutable_model()->set_name("credit");
    h->mutable_model()->set_version("v1");
    h->mutable_model()->set_environment("test");
    h->set_protocol_version(1);
    return req;
  }

  static v1::IngestRequest Report(const std::string& agent, uint64_t seq,
                                  uint64_t events) {
    v1::IngestRequest req;
    v1::WindowReport* r = req.mutable_report();
    r->set_agent_id(agent);
    r->set_sequence(seq);
    *r->mutable_window_start() =
        ToProto(absl::FromUnixSeconds(1000 + 10 * seq));
    *r->mutable_window_end() = ToProto(absl::FromUnixSeconds(1010 + 10 * seq));
    r->mutable_summary()->mutable_operational()->set_event_count(events);
    return req;
  }

  // Reads until an Ack for `seq` (returning any rejections seen on the way).
  template <typename AnyStream>  // typed or raw (ByteBuffer) requests
  static bool ReadUntilAck(AnyStream* stream, uint64_t seq,
                           std::vector<v1::Rejection>* rejections = nullptr) {
    v1::IngestResponse resp;
    while (stream->Read(&resp)) {
      if (resp.has_rejection() && rejections)
        rejections->push_back(resp.rejection());
      if (resp.has_ack() && resp.ack().durable_sequence() >= seq) return true;
    }
    return false;
  }

  // Half-closes and reads what the collector still sends (a client must
  // drain its reads before Finish), then returns the final status.
  static grpc::Status Close(Stream* stream) {
    stream->WritesDone();
    v1::IngestResponse ignored;
    while (stream->Read(&ignored)) {
    }
    return stream->Finish();
  }

  // The model's summaries over [from, to) seconds, in buckets of `step`
  // (zero: one bucket).
  static v1::GetSummariesRequest SummariesRequest(int64_t from, int64_t to,
                                                  absl::Duration step) {
    v1::GetSummariesRequest req;
    req.mutable_model()->set_name("credit");
    req.mutable_model()->set_version("v1");
    req.mutable_model()->set_environment("test");
    *req.mutable_from() = ToProto(absl::FromUnixSeconds(from));
    *req.mutable_to() = ToProto(absl::FromUnixSeconds(to));
    if (step != absl::ZeroDuration()) {
      *req.mutable_step() = ToProtoDuration(step);
    }
    return req;
  }

  // SummariesRequest's answer; a failed query fails the test.
  v1::GetSummariesResponse Summaries(int64_t from, int64_t to,
                                     absl::Duration step) {
    grpc::ClientContext ctx;
    v1::GetSummariesResponse resp;
    const grpc::Status status =
        query_->GetSummaries(&ctx, SummariesRequest(from, to, step), &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return resp;
  }

  std::vector<v1::AgentInfo> Agents() {
    grpc::ClientContext ctx;
    v1::ListAgentsResponse resp;
    EXPECT_TRUE(query_->ListAgents(&ctx, v1::ListAgentsRequest(), &resp).ok());
    return {resp.agents().begin(), resp.agents().end()};
  }

  testing::TempDir dir_;
  std::unique_ptr<Collector> collector_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::IngestService::Stub> ingest_;
  std::unique_ptr<v1::QueryService::Stub> query_;
};

TEST_F(IngestTest, WelcomeAckAndDuplicates) {
  grpc::ClientContext ctx;
  auto stream = ingest_->Report(&ctx);
  ASSERT_TRUE(stream->Write(Hello("a1")));
  v1::IngestResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_TRUE(resp.has_welcome());
  EXPECT_EQ(resp.welcome().collector_id(), "c-test");
  EXPECT_EQ(resp.welcome().durable_sequence(), 0u);
  for (uint64_t seq = 1; seq <= 3; ++seq)
    ASSERT_TRUE(stream->Write(Report("a1", seq, 10)));
  ASSERT_TRUE(ReadUntilAck(stream.get(), 3));
  ASSERT_TRUE(stream->Write(Report("a1", 2, 10)));  // a resend
  ASSERT_TRUE(ReadUntilAck(stream.get(), 3));
  EXPECT_TRUE(Close(stream.get()).ok());

  auto agents = Agents();
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_EQ(agents[0].report_count(), 3u);
  EXPECT_EQ(agents[0].duplicate_count(), 1u);
  EXPECT_EQ(agents[0].event_count(), 30u);
  EXPECT_FALSE(agents[0].connected());

  // A new stream learns what is durable.
  grpc::ClientContext ctx2;
  auto again = ingest_->Report(&ctx2);
  ASSERT_TRUE(again->Write(Hello("a1")));
  ASSERT_TRUE(again->Read(&resp));
  EXPECT_EQ(resp.welcome().durable_sequence(), 3u);
  EXPECT_TRUE(Agents()[0].connected());
  EXPECT_TRUE(Close(again.get()).ok());
}

TEST_F(IngestTest, InvalidReportIsRejectedAndTheStreamGoesOn) {
  grpc::ClientContext ctx;
  auto stream = ingest_->Report(&ctx);
  ASSERT_TRUE(stream->Write(Hello("a1")));
  v1::IngestResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  v1::IngestRequest bad = Report("a1", 1, 5);
  *bad.mutable_report()->mutable_window_end() = bad.report().window_start();
  ASSERT_TRUE(stream->Write(bad));
  ASSERT_TRUE(stream->Write(Report("a1", 2, 5)));
  std::vector<v1::Rejection> rejections;
  ASSERT_TRUE(ReadUntilAck(stream.get(), 2, &rejections));
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].sequence(), 1u);
  EXPECT_EQ(rejections[0].field(), "report.window_end");
  EXPECT_EQ(rejections[0].reason(), "must be after window_start");
  EXPECT_TRUE(Close(stream.get()).ok());
  EXPECT_EQ(Agents()[0].report_count(), 1u);
  // Counted by the field that failed.
  httplib::Client http("127.0.0.1", collector_->http_port());
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("aims_collector_report_rejections_total{field="
                               "\"report.window_end\"} 1"),
            std::string::npos)
      << metrics->body;
}

TEST_F(IngestTest, GapsAreRecordedAckedAndNeverDoubleCounted) {
  grpc::ClientContext ctx;
  auto stream = ingest_->Report(&ctx);
  ASSERT_TRUE(stream->Write(Hello("a1")));
  v1::IngestResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_TRUE(stream->Write(Report("a1", 1, 5)));
  ASSERT_TRUE(stream->Write(Report("a1", 2, 5)));
  auto gap = [](uint64_t first, uint64_t last) {
    v1::IngestRequest req;
    req.mutable_gap()->set_agent_id("a1");
    req.mutable_gap()->set_first_sequence(first);
    req.mutable_gap()->set_last_sequence(last);
    req.mutable_gap()->set_reason("spool_full");
    return req;
  };
  ASSERT_TRUE(stream->Write(gap(3, 5)));
  ASSERT_TRUE(ReadUntilAck(stream.get(), 5));  // the gap is acknowledged
  ASSERT_TRUE(stream->Write(Report("a1", 6, 5)));
  ASSERT_TRUE(ReadUntilAck(stream.get(), 6));
  EXPECT_EQ(Agents()[0].gap_count(), 3u);
  ASSERT_TRUE(stream->Write(gap(3, 5)));  // resent after a reconnect
  ASSERT_TRUE(ReadUntilAck(stream.get(), 6));
  EXPECT_EQ(Agents()[0].gap_count(), 3u);
  // Widened: 6 is stored, so only 7 is new.
  ASSERT_TRUE(stream->Write(gap(3, 7)));
  ASSERT_TRUE(ReadUntilAck(stream.get(), 7));
  EXPECT_EQ(Agents()[0].gap_count(), 4u);
  EXPECT_EQ(Agents()[0].durable_sequence(), 7u);
  // A malformed gap ends the stream with the field named.
  ASSERT_TRUE(stream->Write(gap(9, 8)));
  grpc::Status s = Close(stream.get());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "gap.last_sequence: must be >= first_sequence");
}

TEST_F(IngestTest, RejectedReportIsOnRecordAsAGap) {
  grpc::ClientContext ctx;
  auto stream = ingest_->Report(&ctx);
  ASSERT_TRUE(stream->Write(Hello("a1")));
  v1::IngestResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  v1::IngestRequest bad = Report("a1", 1, 5);
  bad.mutable_report()->mutable_summary()->add_features()->set_name("");
  ASSERT_TRUE(stream->Write(bad));
  std::vector<v1::Rejection> rejections;
  ASSERT_TRUE(ReadUntilAck(stream.get(), 1, &rejections));
  ASSERT_EQ(rejections.size(), 1u);
  EXPECT_EQ(rejections[0].field(), "report.summary.features[0].name");
  EXPECT_TRUE(Close(stream.get()).ok());
  EXPECT_EQ(Agents()[0].gap_count(), 1u);
  EXPECT_EQ(Agents()[0].report_count(), 0u);
}

TEST_F(IngestTest, SplitReportIsReassembledAndStoredOnce) {
  grpc::ClientContext ctx;
  auto stream = ingest_->Report(&ctx);
  ASSERT_TRUE(stream->Write(Hello("a1")));
  v1::IngestResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  const char* names[3][2] = {{"a", "b"}, {"c", "d"}, {"e", "f"}};
  for (uint32_t part = 0; part < 3; ++part) {
    v1::IngestRequest req = Report("a1", 1, part == 0 ? 9 : 0);
    v1::WindowReport* r = req.mutable_report();
    if (part > 0) r->mutable_summary()->clear_operational();
    for (const char* name : names[part]) {
      v1::FeatureSummary* f = r->mutable_summary()->add_features();
      f->set_name(name);
      f->set_n(part + 1);
    }
    r->set_part_index(part);
    r->set_part_count(3);
    // Parts arrive out of order: 2, 0, 1.
    if (part == 0) continue;
    ASSERT_TRUE(stream->Write(req));
    if (part == 2) {
      v1::IngestRequest first = Report("a1", 1, 9);
      for (const char* name : names[0]) {
        v1::FeatureSummary* f =
            first.mutable_report()->mutable_summary()->add_features();
        f->set_name(name);
        f->set_n(1);
      }
      first.mutable_report()->set_part_index(0);
      first.mutable_report()->set_part_count(3);
      ASSERT_TRUE(stream->Write(first));
    }
  }
  ASSERT_TRUE(ReadUntilAck(stream.get(), 1));
  EXPECT_TRUE(Close(stream.get()).ok());
  const v1::GetSummariesResponse summaries =
      Summaries(0, 5000, absl::ZeroDuration());
  ASSERT_EQ(summaries.buckets_size(), 1);
  EXPECT_EQ(summaries.buckets(0).report_count(), 1u);
  const v1::WindowSummary& w = summaries.buckets(0).summary();
  EXPECT_EQ(w.operational().event_count(), 9u);
  ASSERT_EQ(w.features_size(), 6);
  EXPECT_EQ(w.features(5).name(), "f");
  EXPECT_EQ(w.features(5).n(), 3u);
}

TEST_F(IngestTest, StreamWithoutHelloFailsWithInvalidArgument) {
  grpc::ClientContext ctx;
  auto stream = ingest_->Report(&ctx);
  ASSERT_TRUE(stream->Write(Report("a1", 1, 5)));
  grpc::Status s = Close(stream.get());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "first message must be hello");
}

TEST_F(IngestTest, BadHelloNamesTheField) {
  grpc::ClientContext ctx;
  auto stream = ingest_->Report(&ctx);
  v1::IngestRequest hello = Hello("a1");
  hello.mutable_hello()->mutable_model()->set_name("bad name");
  ASSERT_TRUE(stream->Write(hello));
  grpc::Status s = Close(stream.get());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("hello.model.name"), std::string::npos);
}

TEST_F(IngestTest, ManyConcurrentAgentsAreEachCountedOnce) {
  constexpr int kAgents = 8;
  constexpr uint64_t kReports = 25;
  std::vector<std::thread> threads;
  for (int a = 0; a < kAgents; ++a) {
    threads.emplace_back([&, a] {
      const std::string id = absl::StrCat("agent-", a);
      grpc::ClientContext ctx;
      auto stream = ingest_->Report(&ctx);
      ASSERT_TRUE(stream->Write(Hello(id)));
      v1::IngestResponse resp;
      ASSERT_TRUE(stream->Read(&resp));
      for (uint64_t seq = 1; seq <= kReports; ++seq) {
        ASSERT_TRUE(stream->Write(Report(id, seq, seq)));
        if (seq % 5 == 0) {
          ASSERT_TRUE(stream->Write(Report(id, seq - 1, seq - 1)));
        }
      }
      ASSERT_TRUE(ReadUntilAck(stream.get(), kReports));
      ASSERT_TRUE(Close(stream.get()).ok());
    });
  }
  for (auto& t : threads) t.join();
  grpc::ClientContext ctx;
  v1::ListModelsResponse models;
  ASSERT_TRUE(query_->ListModels(&ctx, v1::ListModelsRequest(), &models).ok());
  ASSERT_EQ(models.models_size(), 1);
  EXPECT_EQ(models.models(0).agent_count(), static_cast<uint32_t>(kAgents));
  EXPECT_EQ(models.models(0).report_count(), kAgents * kReports);
  EXPECT_EQ(models.models(0).event_count(),
            kAgents * kReports * (kReports + 1) / 2);
}

TEST_F(IngestTest, GetSummariesMergesAgentsPerStep) {
  for (const char* id : {"a1", "a2"}) {
    grpc::ClientContext ctx;
    auto stream = ingest_->Report(&ctx);
    ASSERT_TRUE(stream->Write(Hello(id)));
    v1::IngestResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    for (uint64_t seq = 1; seq <= 6; ++seq)
      ASSERT_TRUE(stream->Write(Report(id, seq, seq)));
    ASSERT_TRUE(ReadUntilAck(stream.get(), 6));
    ASSERT_TRUE(Close(stream.get()).ok());
  }
  const v1::GetSummariesResponse resp =
      Summaries(1000, 1100, absl::Seconds(30));
  // Window starts 1010..1060; 30 s buckets from the epoch: [990,1020) is
  // clamped to start at 1000, then [1020,1050), [1050,1080).
  ASSERT_EQ(resp.buckets_size(), 3);
  EXPECT_EQ(resp.buckets(0).start().seconds(), 1000);
  EXPECT_EQ(resp.buckets(0).report_count(), 2u);  // seq 1 of both agents
  EXPECT_EQ(resp.buckets(0).summary().operational().event_count(), 2u);
  EXPECT_EQ(resp.buckets(1).report_count(), 6u);  // seq 2,3,4
  EXPECT_EQ(resp.buckets(1).summary().operational().event_count(),
            2u * (2 + 3 + 4));
  EXPECT_EQ(resp.buckets(2).summary().operational().event_count(),
            2u * (5 + 6));

  grpc::ClientContext bad_ctx;
  v1::GetSummariesResponse bad_resp;
  grpc::Status bad = query_->GetSummaries(
      &bad_ctx, SummariesRequest(1000, 1000, absl::Seconds(30)), &bad_resp);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad.error_message(), "to: must be after from");
}

// The stream stores a report's bytes as received when the report is its
// message's only field (shown with fields out of protobuf's order, which a
// second serialization would change), and the parsed report otherwise
// (protobuf merges a field sent twice); either way GetSummaries returns
// what was sent. Bytes that do not parse end the stream, named and sized.
TEST_F(IngestTest, ReportsAreStoredAsTheirBytesOrAsParsed) {
  using RawStream =
      grpc::ClientReaderWriter<grpc::ByteBuffer, v1::IngestResponse>;
  const grpc::internal::RpcMethod method(
      "/aims.v1.IngestService/Report",
      grpc::internal::RpcMethod::BIDI_STREAMING, channel_);
  auto bytes = [](const std::string& wire) {
    grpc::Slice slice(wire);
    return grpc::ByteBuffer(&slice, 1);
  };
  grpc::ClientContext ctx;
  std::unique_ptr<RawStream> stream(
      grpc::internal::ClientReaderWriterFactory<
          grpc::ByteBuffer, v1::IngestResponse>::Create(channel_.get(), method,
                                                        &ctx));
  ASSERT_TRUE(stream->Write(bytes(Hello("a1").SerializeAsString())));
  v1::IngestResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_TRUE(resp.has_welcome());

  // A feature with a sketch of a few values: written in its sparse form.
  auto with_feature = [](v1::IngestRequest req, double scale) {
    QuantileSketch sketch;
    for (int i = 1; i <= 30; ++i) sketch.Add(scale * i);
    v1::FeatureSummary* f =
        req.mutable_report()->mutable_summary()->add_features();
    f->set_name("income");
    sketch.ToProto(f->mutable_sketch());
    return req;
  };
  const v1::IngestRequest whole = with_feature(Report("a1", 1, 30), 1.0);
  ASSERT_GT(whole.report()
                .summary()
                .features(0)
                .sketch()
                .positive_index_deltas_size(),
            0);
  // Report 1's fields out of order: the summary before the header.
  v1::WindowReport whole_head = whole.report();
  whole_head.clear_summary();
  v1::WindowReport whole_body;
  *whole_body.mutable_summary() = whole.report().summary();
  const std::string whole_bytes =
      whole_body.SerializeAsString() + whole_head.SerializeAsString();
  ASSERT_NE(whole_bytes, whole.report().SerializeAsString());
  std::string whole_wire = "\x12";  // IngestRequest.report, length-delimited
  uint8_t length[5];
  whole_wire.append(
      reinterpret_cast<const char*>(length),
      google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
          static_cast<uint32_t>(whole_bytes.size()), length) -
          length);
  whole_wire += whole_bytes;
  ASSERT_TRUE(stream->Write(bytes(whole_wire)));
  // Report 2 as two `report` fields: the header, then the summary.
  const v1::IngestRequest second = with_feature(Report("a1", 2, 30), 100.0);
  v1::IngestRequest head = second;
  head.mutable_report()->clear_summary();
  v1::IngestRequest body;
  *body.mutable_report()->mutable_summary() = second.report().summary();
  ASSERT_TRUE(stream->Write(
      bytes(head.SerializeAsString() + body.SerializeAsString())));
  ASSERT_TRUE(ReadUntilAck(stream.get(), 2));

  const v1::GetSummariesResponse summaries =
      Summaries(1010, 1030, absl::Seconds(10));
  ASSERT_EQ(summaries.buckets_size(), 2);
  for (int i = 0; i < 2; ++i) {
    const v1::WindowSummary& sent =
        (i == 0 ? whole : second).report().summary();
    const v1::WindowSummary& stored = summaries.buckets(i).summary();
    EXPECT_EQ(summaries.buckets(i).report_count(), 1u);
    EXPECT_EQ(stored.operational().event_count(), 30u);
    ASSERT_EQ(stored.features_size(), 1);
    EXPECT_EQ(stored.features(0).sketch().SerializeAsString(),
              sent.features(0).sketch().SerializeAsString())
        << "window " << i;
  }

  // Not an IngestRequest: a length-delimited field cut short.
  ASSERT_TRUE(
      stream->Write(bytes(std::string("\x12\x05"
                                      "ab",
                                      4))));
  stream->WritesDone();
  while (stream->Read(&resp)) {
  }
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "message: 4 bytes that are not an aims.v1.IngestRequest");
  EXPECT_EQ(Agents()[0].report_count(), 2u);

  // What RocksDB holds: report 1 as its bytes were sent, report 2 as
  // protobuf serializes the parsed (merged) report.
  collector_->Stop();
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(),
                                              dir_.File("data"), &names)
                  .ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) {
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(),
                                           dir_.File("data"), families,
                                           &handles, &raw)
                  .ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::vector<std::string> stored_reports;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] != "reports") continue;
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(rocksdb::ReadOptions(), handles[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      stored_reports.push_back(it->value().ToString());
    }
  }
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    db->DestroyColumnFamilyHandle(h);
  }
  EXPECT_EQ(stored_reports,
            (std::vector<std::string>{whole_bytes,
                                      second.report().SerializeAsString()}));
}

}  // namespace
}  // namespace aims::collector
